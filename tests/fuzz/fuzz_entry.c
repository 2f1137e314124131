/* fuzz_entry.c — rcn_entry_decode on arbitrary wire bytes. What decodes must verify or be
 * refused cleanly, and must re-encode to an envelope that decodes to the identical signed
 * bytes and signature (entries are never re-derived from parsed fields); the storage form
 * must round-trip too. abort() on any disagreement. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/entry.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check_same (const rcn_entry_t *a, const rcn_entry_t *b)
{
    if (!rcn_entry_same (a, b)
    ||  a->signed_len != b->signed_len
    ||  memcmp (a->signed_bytes, b->signed_bytes, a->signed_len) != 0
    ||  memcmp (a->sig, b->sig, RCN_SIG_SIZE) != 0
    ||  a->h.seq != b->h.seq || a->h.time_ms != b->h.time_ms
    ||  a->h.kind != b->h.kind || a->h.status != b->h.status
    ||  a->h.body_len != b->h.body_len
    ||  b->h.body != b->signed_bytes + RCN_HEADER_SIZE)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    rcn_entry_t *e = NULL, *again = NULL, *raw_e = NULL, *copy = NULL;
    uint8_t *wire = NULL, *raw = NULL;
    size_t wire_len = 0;

    if (rcn_entry_decode (data, size, &e) != RCN_OK) {
        if (e)
            abort ();                   /* a refusal leaves nothing behind */
        goto done;
    }
    if (size > RCN_WIRE_MAX || e->verified || e->has_hash
    ||  e->signed_len + RCN_SIG_SIZE > RCN_ENTRY_MAX)
        abort ();
    int rc = rcn_entry_verify (e);
    if ((rc == RCN_OK) != e->verified || (rc != RCN_OK && rc != RCN_ESIG))
        abort ();

    if (rcn_entry_encode (e, &wire, &wire_len) != RCN_OK)
        goto done;
    if (wire_len > RCN_WIRE_MAX || wire_len > size)     /* ours is the shortest form */
        abort ();
    if (rcn_entry_decode (wire, wire_len, &again) != RCN_OK)
        abort ();
    s_check_same (e, again);

    size_t raw_len = rcn_entry_raw_len (e);
    raw = malloc (raw_len);
    if (!raw)
        goto done;
    rcn_entry_raw_write (e, raw);
    if (rcn_entry_from_raw (raw, raw_len, false, &raw_e) != RCN_OK)
        abort ();
    s_check_same (e, raw_e);
    if (memcmp (rcn_entry_hash (raw_e), rcn_entry_hash (e), RCN_HASH_SIZE) != 0)
        abort ();

    copy = rcn_entry_dup (e);
    if (copy) {
        s_check_same (e, copy);
        if (copy->verified != e->verified)
            abort ();
    }
done:
    rcn_entry_destroy (&copy);
    rcn_entry_destroy (&raw_e);
    rcn_entry_destroy (&again);
    rcn_entry_destroy (&e);
    free (raw);
    free (wire);
    return 0;
}
