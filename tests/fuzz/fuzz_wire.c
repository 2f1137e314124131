/* fuzz_wire.c — the three replication decoders of wire.h on arbitrary bytes (every input goes
 * through all three). What a decoder accepts must obey its contract and survive a round trip:
 * a Heartbeat or PullRequest re-encodes to one that decodes to the identical struct (and fits
 * the derived size); a PullReply's fields are in range and its entries lie within the input.
 * A refusal must leave the output zeroed (or NULL). abort() on any disagreement. Built as a
 * libFuzzer target (RCN_FUZZ) and, with replay.c, as a ctest replay of corpus/wire. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/wire.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static bool
all_zero (const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void
fuzz_heartbeat (const uint8_t *data, size_t size)
{
    static rcn_heartbeat_t hb, again;
    char why[256];
    uint8_t *wire = NULL;
    size_t len = 0;
    if (rcn_heartbeat_decode (data, size, &hb, why, sizeof why) != RCN_OK) {
        if (!all_zero (&hb, sizeof hb) || !why[0])
            abort ();
        return;
    }
    if (size > RCN_HEARTBEAT_MAX || hb.n_heads > RCN_MAX_MEMBERS)
        abort ();
    for (size_t i = 0; i < hb.n_heads; i++) {
        const rcn_head_t *h = &hb.heads[i];
        if (h->fork_seq > h->seq || (h->seq == 0 && !all_zero (h->hash, RCN_HASH_SIZE)))
            abort ();
        if (i && memcmp (hb.heads[i - 1].origin, h->origin, RCN_KEY_SIZE) >= 0)
            abort ();               /* sorted, no origin twice */
    }
    if (!all_zero (&hb.heads[hb.n_heads], (RCN_MAX_MEMBERS - hb.n_heads) * sizeof hb.heads[0]))
        abort ();
    if (rcn_heartbeat_encode (&hb, &wire, &len) != RCN_OK)
        return;
    if (len > RCN_HEARTBEAT_WIRE_MAX
    ||  rcn_heartbeat_decode (wire, len, &again, why, sizeof why) != RCN_OK
    ||  memcmp (&hb, &again, sizeof hb) != 0)
        abort ();
    free (wire);
}

static void
fuzz_request (const uint8_t *data, size_t size)
{
    rcn_pull_request_t req, again;
    char why[256];
    uint8_t *wire = NULL;
    size_t len = 0;
    if (rcn_pull_request_decode (data, size, &req, why, sizeof why) != RCN_OK) {
        if (!all_zero (&req, sizeof req) || !why[0])
            abort ();
        return;
    }
    if (size > RCN_PULL_REQUEST_MAX || req.from_seq == 0 || req.max_bytes < RCN_ENTRY_MAX
    ||  req.max_bytes > RCN_PULL_MAX_BYTES)
        abort ();
    if (rcn_pull_request_encode (&req, &wire, &len) != RCN_OK)
        return;
    if (len > 96
    ||  rcn_pull_request_decode (wire, len, &again, why, sizeof why) != RCN_OK
    ||  memcmp (&req, &again, sizeof req) != 0)
        abort ();
    free (wire);
}

static void
fuzz_reply (const uint8_t *data, size_t size)
{
    rcn_pull_reply_t *r = NULL;
    char why[256];
    if (rcn_pull_reply_decode (data, size, &r, why, sizeof why) != RCN_OK) {
        if (r || !why[0])
            abort ();
        return;
    }
    if (!r || size > RCN_PULL_REPLY_MAX || (int) r->error < RCN_PULL_OK
    ||  r->error > RCN_PULL_NOT_HELD)
        abort ();
    if (r->error != RCN_PULL_OK && r->n_entries != 0)
        abort ();
    if (r->error == RCN_PULL_OK
    &&  (r->n_entries == 0 || r->n_entries > RCN_PULL_MAX_ENTRIES || r->head_seq < r->n_entries))
        abort ();
    size_t total = 0;
    for (size_t i = 0; i < r->n_entries; i++) {
        total += r->entry_lens[i];
        rcn_entry_t *e = NULL;      /* what rcn_ingest_chunk will do first */
        if (rcn_entry_decode (r->entries[i], r->entry_lens[i], &e) == RCN_OK && !e)
            abort ();
        rcn_entry_destroy (&e);
    }
    if (total > size)
        abort ();
    rcn_pull_reply_destroy (&r);
    if (r)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    /* A private copy of exactly `size` bytes, so that ASan sees any read past the end. */
    uint8_t *buf = malloc (size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy (buf, data, size);
    fuzz_heartbeat (buf, size);
    fuzz_request (buf, size);
    fuzz_reply (buf, size);
    free (buf);
    return 0;
}
