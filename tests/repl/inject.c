/* inject.c — rcn_inject: a compromised but listed member that sends hostile frames to real
 * members (issue #3 item 10; run by tests/repl_hostile.sh).
 *
 * It borrows a member's node dir whose rcnode is NOT running (--as DIR): that member's keys,
 * its roster, and its log opened READ-ONLY (its own head, entries to replay). It never
 * writes to DIR. Two modes:
 *
 *   rcn_inject --as DIR --serve-pub [--valid K] [--mismatch-ms MS] [--absurd-ms MS]
 *       binds the member's PUB endpoint as a CURVE server behind a ZAP allowlist of the roster
 *       (so the real members' SUBs connect to it, as they would to the member's rcnode) and
 *       publishes, phase by phase, garbage and malformed frames, bad entries and lying
 *       heartbeats, and finally K VALID entries of the member's own (signed with its key,
 *       chained from its real head; with K >= 3 the middle one's body is no Alert: validly
 *       signed nonsense, which must be stored as invalid without stalling the origin). Honest heartbeats (its real heads) go out every second
 *       in between. Each phase is announced on stderr as "phase NAME" (so a test can watch
 *       the target while it runs).
 *
 *   rcn_inject --as DIR --serve-pub --fork-only
 *       the same PUB, but once the members have subscribed it publishes only a second,
 *       validly signed entry at the member's own head seq: fork evidence (invariant 7).
 *
 *   rcn_inject --as DIR --hit-sync ENDPOINT --server-key Z85 [--flood N]
 *       connects a DEALER as a CURVE client (the member's keys) to a real member's sync
 *       ROUTER and sends malformed and out-of-range pull requests, then a flood of N valid
 *       ones. After each class it sends a valid "probe" request and waits for its answer:
 *       the ROUTER serves one connection in order, so every answer to the class has come
 *       back by then, and what has not, will not.
 *
 * Both print one JSON summary on stdout: what was sent (by kind) and what came back. The
 * test judges it; this tool exits non-zero only when it could not do its job at all (keys,
 * bind, no subscriber, no connection). Every wait is bounded. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/conf.h"
#include "rcn/entry.h"
#include "rcn/keys.h"
#include "rcn/log.h"
#include "rcn/roster.h"
#include "rcn/store.h"
#include "rcn/transport.h"
#include "rcn/wire.h"

#include "rcn.pb-c.h"

static void
die (const char *what, const char *why)
{
    fprintf (stderr, "rcn_inject: %s: %s\n", what, why);
    exit (2);
}

static void
sleep_ms (uint64_t ms)
{
    struct timespec ts = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000L };
    nanosleep (&ts, NULL);
}

static void
phase (const char *name)
{
    fprintf (stderr, "phase %s\n", name);
    fflush (stderr);
}

/* ---- The borrowed member ------------------------------------------------------------------ */

static rcn_conf_t conf;
static rcn_roster_t *roster;
static rcn_keys_t *keys;
static rcn_store_t *store;               /* read-only */
static const rcn_member_t *me;
static void *zctx;

static void
load_member (const char *dir)
{
    char why[512] = "";
    if (rcn_conf_load (dir, &conf, why, sizeof why) != RCN_OK)
        die ("node.conf", why);
    if (rcn_roster_load (conf.roster_path, &roster, why, sizeof why) != RCN_OK)
        die ("roster", why);
    if (rcn_keys_load (conf.keys_path, &keys, why, sizeof why) != RCN_OK)
        die ("keys", why);
    me = rcn_roster_by_origin (roster, rcn_keys_sign_public (keys));
    if (!me)
        die ("roster", "these keys are not a member of this roster");
    rcn_store_opts_t o = { .readonly = true };
    if (rcn_store_open (conf.data_path, &o, &store, why, sizeof why) != RCN_OK)
        die ("store", why);
    zctx = zmq_ctx_new ();
    if (!zctx)
        die ("zmq", zmq_strerror (errno));
}

/* ---- Entries ------------------------------------------------------------------------------ */

/* A valid Alert body (severity minor, the given text), as rcctl would author it. */
static uint8_t *
alert_body (const char *text, size_t *len)
{
    Rcn__Alert a = RCN__ALERT__INIT;
    a.severity = RCN__ALERT__SEVERITY__SEVERITY_MINOR;
    a.text = (char *) text;
    *len = rcn__alert__get_packed_size (&a);
    uint8_t *b = malloc (*len ? *len : 1);
    if (!b)
        die ("alert", "out of memory");
    rcn__alert__pack (&a, b);
    return b;
}

static rcn_entry_t *
sign_alert (const uint8_t sk[RCN_SECRET_SIZE], uint64_t seq, const uint8_t *prev, const char *text)
{
    size_t blen;
    uint8_t *body = alert_body (text, &blen);
    rcn_entry_t *e = NULL;
    if (rcn_entry_sign (sk, seq, prev, rcn_now_ms (), RCN__KIND__KIND_ALERT, RCN_STATUS_TEST,
                        body, blen, &e) != RCN_OK)
        die ("sign", "rcn_entry_sign failed");
    free (body);
    return e;
}

/* An entry signed by a throw-away key whose signed bytes then claim `origin` and `seq`: its
 * signature verifies under no member's key. prev is zero (seq 1) or random. */
static rcn_entry_t *
forge (const uint8_t origin[RCN_KEY_SIZE], uint64_t seq, const char *text)
{
    uint8_t pk[32], sk[64], prev[32];
    crypto_sign_keypair (pk, sk);
    randombytes_buf (prev, sizeof prev);
    rcn_entry_t *e = sign_alert (sk, 1, NULL, text);
    memcpy (e->signed_bytes + 4, origin, RCN_KEY_SIZE);
    for (int i = 0; i < 8; i++)
        e->signed_bytes[36 + i] = (uint8_t) (seq >> (56 - 8 * i));
    if (seq > 1)
        memcpy (e->signed_bytes + 44, prev, 32);
    rcn_entry_t *f = NULL;
    if (rcn_entry_from_parts (e->signed_bytes, e->signed_len, e->sig, RCN_SIG_SIZE, &f) != RCN_OK)
        die ("forge", "rcn_entry_from_parts refused the forged header");
    rcn_entry_destroy (&e);
    return f;
}

static uint8_t *
encode (const rcn_entry_t *e, size_t *len)
{
    uint8_t *w = NULL;
    if (rcn_entry_encode (e, &w, len) != RCN_OK)
        die ("encode", "rcn_entry_encode failed");
    return w;
}

/* ---- --serve-pub -------------------------------------------------------------------------- */

static void *pub, *pub_mon;
static rcn_transport_counts_t pub_counts;
static size_t n_peers;
static uint8_t *honest_hb;               /* our real heartbeat (heads as the log holds them) */
static size_t honest_hb_len;
static bool honest_on = true;            /* off while a lying heartbeat stands in for it */
static uint64_t next_hb;
static json_t *sent;                     /* kind -> frames sent */
static uint64_t link_malformed;          /* frames the target's SUB cannot use at all */

static void
count (const char *kind, uint64_t n)
{
    json_t *v = json_object_get (sent, kind);
    json_object_set_new (sent, kind, json_integer ((v ? json_integer_value (v) : 0) + (json_int_t) n));
}

/* Sends one message of nf frames (frames[i], lens[i]). PUB never blocks: past the HWM it drops. */
static void
pub_send (int nf, const void *const *frames, const size_t *lens)
{
    for (int i = 0; i < nf; i++)
        (void) zmq_send (pub, frames[i], lens[i], i + 1 < nf ? ZMQ_SNDMORE : 0);
}

static void
pub2 (const char *topic, size_t tlen, const void *data, size_t len)
{
    const void *f[2] = { topic, data };
    size_t l[2] = { tlen, len };
    pub_send (2, f, l);
}

/* Sleeps ms in 10 ms slices, sending our honest heartbeat every second (unless a phase has
 * turned it off) and draining the PUB monitor. */
static void
pace (uint64_t ms)
{
    uint64_t end = rcn_mono_ms () + ms;
    do {
        uint64_t now = rcn_mono_ms ();
        if (honest_on && now >= next_hb) {
            pub2 ("H", 1, honest_hb, honest_hb_len);
            count ("heartbeat_honest", 1);
            next_hb = now + 1000;
        }
        rcn_transport_monitor_drain (pub_mon, &pub_counts);
        sleep_ms (ms < 10 ? ms : 10);
    } while (rcn_mono_ms () < end);
}

/* Until `want` handshakes have succeeded on PUB, at most ms; true when they did. */
static bool
wait_handshakes (uint64_t want, uint64_t ms)
{
    uint64_t end = rcn_mono_ms () + ms;
    while (rcn_mono_ms () < end) {
        pace (50);
        if (pub_counts.handshake_succeeded >= want)
            return true;
    }
    return false;
}

static void
set_honest_heartbeat (const rcn_heartbeat_t *hb)
{
    free (honest_hb);
    if (rcn_heartbeat_encode (hb, &honest_hb, &honest_hb_len) != RCN_OK)
        die ("heartbeat", "encode failed");
}

static int
cmp_head (const void *a, const void *b)
{
    return memcmp (((const rcn_head_t *) a)->origin, ((const rcn_head_t *) b)->origin, RCN_KEY_SIZE);
}

/* hb with our own head set to seq/hash (inserted in origin order when absent). */
static void
set_own_head (rcn_heartbeat_t *hb, uint64_t seq, const uint8_t hash[32])
{
    const uint8_t *origin = rcn_keys_sign_public (keys);
    size_t i = 0;
    while (i < hb->n_heads && memcmp (hb->heads[i].origin, origin, 32) != 0)
        i++;
    if (i == hb->n_heads) {
        memset (&hb->heads[i], 0, sizeof hb->heads[i]);
        memcpy (hb->heads[i].origin, origin, 32);
        hb->n_heads++;
    }
    hb->heads[i].seq = seq;
    memcpy (hb->heads[i].hash, hash, 32);
    qsort (hb->heads, hb->n_heads, sizeof hb->heads[0], cmp_head);
}

/* A second, validly signed entry at our head's seq, published a few times: every member that
 * holds both keeps it as evidence and marks us forked from that seq (invariant 7). */
static void
publish_fork (uint64_t head, json_t *summary)
{
    phase ("fork");
    const uint8_t *origin = rcn_keys_sign_public (keys);
    uint8_t below[32] = { 0 };
    if (head == 0)
        die ("fork", "no own entry to contradict");
    if (head > 1) {
        rcn_entry_t *b = NULL;
        if (rcn_store_get (store, origin, head - 1, &b) != RCN_OK)
            die ("fork", "cannot read the entry below our head");
        memcpy (below, rcn_entry_hash (b), 32);
        rcn_entry_destroy (&b);
    }
    rcn_entry_t *twin = sign_alert (rcn_keys_sign_secret (keys), head, head > 1 ? below : NULL,
                                    "fork: a second entry at a seq the members hold");
    for (int round = 0; round < 4; round++) {
        size_t len;
        uint8_t *w = encode (twin, &len);
        pub2 ("E", 1, w, len);
        free (w);
        pace (700);
    }
    count ("fork", 1);
    char hex[65];
    json_object_set_new (summary, "fork_seq", json_integer ((json_int_t) head));
    json_object_set_new (summary, "fork_hash", json_string (rcn_hex (rcn_entry_hash (twin), 32, hex)));
    rcn_entry_destroy (&twin);
}

static int
serve_pub (int n_valid, int mismatch_ms, int absurd_ms, bool fork_only)
{
    char why[512] = "";
    const uint8_t *sk = rcn_keys_sign_secret (keys);
    const uint8_t *origin = rcn_keys_sign_public (keys);
    sent = json_object ();

    /* What our log holds: our head, and entries to replay (ours and a peer's). */
    uint64_t head = 0;
    uint8_t head_hash[32] = { 0 };
    if (rcn_store_head (store, origin, &head, head_hash) != RCN_OK)
        die ("store", "cannot read our head");
    const rcn_member_t *other = NULL;          /* the first other member (a roster origin) */
    for (size_t i = 0; i < rcn_roster_count (roster) && !other; i++)
        if (rcn_roster_member (roster, i) != me)
            other = rcn_roster_member (roster, i);
    if (!other)
        die ("roster", "no other member to forge or replay entries of");
    rcn_entry_t *replay = NULL;
    if (rcn_store_get (store, other->sign_key, 1, &replay) != RCN_OK
        && rcn_store_get (store, origin, 1, &replay) != RCN_OK)
        die ("store", "no entry of ours or of another member to replay");
    size_t replay_len;
    uint8_t *replay_wire = encode (replay, &replay_len);

    uint8_t *hb = NULL;
    size_t hb_len = 0;
    if (rcn_heartbeat_build (store, rcn_roster_hash (roster), origin, rcn_now_ms (), &hb, &hb_len) != RCN_OK)
        die ("heartbeat", "cannot build ours from the log");
    rcn_heartbeat_t *honest = calloc (1, sizeof *honest);
    if (!honest || rcn_heartbeat_decode (hb, hb_len, honest, why, sizeof why) != RCN_OK)
        die ("heartbeat", why);
    free (hb);
    set_honest_heartbeat (honest);

    /* ZAP first, then PUB at our roster endpoint (the rcnode just left it: retry a while). */
    uint8_t allow[RCN_MAX_MEMBERS][32];
    for (size_t i = 0; i < rcn_roster_count (roster); i++)
        if (rcn_roster_member (roster, i) != me)
            memcpy (allow[n_peers++], rcn_roster_member (roster, i)->curve_key, 32);
    rcn_zap_t *zap = NULL;
    if (rcn_zap_start (zctx, (const uint8_t (*)[32]) allow, n_peers, &zap, why, sizeof why) != RCN_OK)
        die ("zap", why);
    rcn_transport_opts_t o;
    rcn_transport_opts_default (&o);
    int rc = RCN_EBUSY;
    for (int i = 0; i < 50 && rc != RCN_OK; i++) {
        rc = rcn_transport_bind (zctx, ZMQ_PUB, me->pub, rcn_keys_curve_secret (keys), &o, &pub,
                                 why, sizeof why);
        if (rc != RCN_OK)
            sleep_ms (100);
    }
    if (rc != RCN_OK)
        die ("bind", why);
    if (rcn_transport_monitor (zctx, pub, "inject pub", &pub_mon) != RCN_OK)
        die ("monitor", "cannot monitor PUB");

    phase ("wait_subscribers");
    bool subscribed = wait_handshakes (n_peers, 15000);
    json_t *summary = json_object ();
    json_object_set_new (summary, "subscribers", json_integer ((json_int_t) pub_counts.handshake_succeeded));
    if (!subscribed) {
        fprintf (stderr, "rcn_inject: only %llu of %zu members subscribed in 15 s\n",
                 (unsigned long long) pub_counts.handshake_succeeded, n_peers);
        rc = 3;
        goto out;
    }
    pace (1500);                               /* honest heartbeats: we are up, same roster */
    if (fork_only) {
        publish_fork (head, summary);
        phase ("done");
        rc = 0;
        goto out;
    }

    /* 1. Frames the SUB cannot use at all: counted per link as "malformed". */
    phase ("malformed_frames");
    uint8_t junk[512];
    for (int i = 0; i < 20; i++) {                             /* garbage: one frame */
        size_t len = 1 + randombytes_uniform (sizeof junk);
        randombytes_buf (junk, len);
        const void *f[1] = { junk };
        pub_send (1, f, &len);
        pace (2);
    }
    count ("garbage_1frame", 20);
    for (int i = 0; i < 10; i++) {                             /* a topic alone */
        const void *f[1] = { i % 2 ? "E" : "H" };
        size_t l[1] = { 1 };
        pub_send (1, f, l);
        pace (2);
    }
    count ("topic_only_1frame", 10);
    for (int i = 0; i < 10; i++) {                             /* three frames */
        const void *f[3] = { "E", replay_wire, "x" };
        size_t l[3] = { 1, replay_len, 1 };
        pub_send (3, f, l);
        pace (2);
    }
    count ("three_frames", 10);
    static const char *topics[] = { "X", "EE", "", "e", "Heartbeat" };
    for (int i = 0; i < 10; i++) {                             /* unknown topics */
        const char *t = topics[i % 5];
        pub2 (t, strlen (t), replay_wire, replay_len);
        pace (2);
    }
    count ("unknown_topic", 10);
    for (int i = 0; i < 10; i++) {                             /* heartbeats that do not decode */
        size_t len = i == 0 ? 0 : 1 + randombytes_uniform (64);
        randombytes_buf (junk, len);
        junk[0] = 0xff;                                        /* never a valid first tag */
        pub2 ("H", 1, junk, len);
        pace (2);
    }
    count ("heartbeat_garbage", 10);
    link_malformed = 20 + 10 + 10 + 10 + 10;
    pace (300);

    /* 2. Entries that decode to nothing: truncated envelopes, garbage under topic E. */
    phase ("bad_entries");
    for (int i = 0; i < 20; i++) {
        size_t cut = 1 + randombytes_uniform ((uint32_t) replay_len - 1);   /* 1..len-1 bytes */
        pub2 ("E", 1, replay_wire, cut);
        pace (2);
    }
    count ("entry_truncated", 20);
    for (int i = 0; i < 10; i++) {
        size_t len = 1 + randombytes_uniform (sizeof junk);
        randombytes_buf (junk, len);
        pub2 ("E", 1, junk, len);
        pace (2);
    }
    count ("entry_garbage", 10);

    /* 3. Forged: our own next seq, properly chained, one signature bit flipped (were it stored,
     * our valid entries at the end would be a fork); and another member's seqs 1..10 signed by
     * a stranger (were they taken, they would be fork evidence against that member). */
    char text[96];
    for (int i = 0; i < 10; i++) {
        snprintf (text, sizeof text, "forged %d", i);
        rcn_entry_t *e = sign_alert (sk, head + 1, head ? head_hash : NULL, text);
        e->sig[i % RCN_SIG_SIZE] ^= 0x01;
        size_t len;
        uint8_t *w = encode (e, &len);
        pub2 ("E", 1, w, len);
        free (w);
        rcn_entry_destroy (&e);
        pace (2);
    }
    count ("forged_own_next", 10);
    for (uint64_t s = 1; s <= 10; s++) {
        rcn_entry_t *e = forge (other->sign_key, s, "forged in another's name");
        size_t len;
        uint8_t *w = encode (e, &len);
        pub2 ("E", 1, w, len);
        free (w);
        rcn_entry_destroy (&e);
        pace (2);
    }
    count ("forged_other_member", 10);
    /* 4. Not a member: validly signed by a key outside the roster. */
    for (int i = 0; i < 10; i++) {
        uint8_t pk[32], osk[64];
        crypto_sign_keypair (pk, osk);
        rcn_entry_t *e = sign_alert (osk, 1, NULL, "from outside the roster");
        size_t len;
        uint8_t *w = encode (e, &len);
        pub2 ("E", 1, w, len);
        free (w);
        rcn_entry_destroy (&e);
        pace (2);
    }
    count ("non_member_origin", 10);
    /* 5. A valid entry the target holds, replayed many times: duplicates, no crypto. */
    for (int i = 0; i < 200; i++) {
        pub2 ("E", 1, replay_wire, replay_len);
        if (i % 10 == 9)
            pace (2);
    }
    count ("replayed_valid", 200);
    /* 6. Forged entries far ahead of another member's head: held (bounded), never stored. */
    for (uint64_t k = 0; k < 1100; k++) {
        rcn_entry_t *e = forge (other->sign_key, ((uint64_t) 1 << 40) + k, "far ahead");
        size_t len;
        uint8_t *w = encode (e, &len);
        pub2 ("E", 1, w, len);
        free (w);
        rcn_entry_destroy (&e);
        if (k % 20 == 19)
            pace (2);
    }
    count ("forged_far_ahead", 1100);
    pace (500);

    /* 7. Lying heartbeats: naming another member, with another roster, with absurd heads. */
    phase ("heartbeat_other_member");
    rcn_heartbeat_t *lie = malloc (sizeof *lie);
    if (!lie)
        die ("heartbeat", "out of memory");
    *lie = *honest;
    memcpy (lie->member, other->sign_key, 32);
    for (int i = 0; i < 3; i++) {
        uint8_t *w;
        size_t len;
        lie->time_ms = rcn_now_ms ();
        if (rcn_heartbeat_encode (lie, &w, &len) == RCN_OK)
            pub2 ("H", 1, w, len);
        free (w);
        pace (100);
    }
    count ("heartbeat_other_member", 3);
    pace (500);

    phase ("heartbeat_roster_mismatch");
    honest_on = false;
    *lie = *honest;
    randombytes_buf (lie->roster_hash, 32);
    uint64_t end = rcn_mono_ms () + (uint64_t) mismatch_ms;
    int n_mis = 0;
    while (rcn_mono_ms () < end) {
        uint8_t *w;
        size_t len;
        lie->time_ms = rcn_now_ms ();
        if (rcn_heartbeat_encode (lie, &w, &len) == RCN_OK)
            pub2 ("H", 1, w, len);
        free (w);
        n_mis++;
        pace (250);
    }
    count ("heartbeat_roster_mismatch", (uint64_t) n_mis);
    honest_on = true;
    next_hb = 0;
    phase ("heartbeat_honest_again");
    pace (1500);

    phase ("heartbeat_absurd_heads");
    honest_on = false;
    *lie = *honest;
    for (size_t i = 0; i < lie->n_heads; i++) {
        lie->heads[i].seq = (uint64_t) 1 << 63;
        randombytes_buf (lie->heads[i].hash, 32);
        lie->heads[i].fork_seq = 0;
    }
    end = rcn_mono_ms () + (uint64_t) absurd_ms;
    int n_absurd = 0;
    while (rcn_mono_ms () < end) {
        uint8_t *w;
        size_t len;
        lie->time_ms = rcn_now_ms ();
        if (rcn_heartbeat_encode (lie, &w, &len) == RCN_OK)
            pub2 ("H", 1, w, len);
        free (w);
        n_absurd++;
        pace (500);
    }
    count ("heartbeat_absurd_heads", (uint64_t) n_absurd);
    free (lie);
    honest_on = true;
    next_hb = 0;                               /* and the truth right after */
    phase ("heartbeat_honest_after_absurd");
    pace (1500);

    /* 8. Valid entries of our own, chained from our real head, each published a few
     * times (PUB may drop; duplicates are harmless), with heartbeats showing the new head. */
    phase ("valid");
    rcn_entry_t **valid = calloc ((size_t) n_valid, sizeof *valid);
    uint8_t prev[32];
    memcpy (prev, head_hash, 32);
    uint64_t nonsense_seq = 0;
    for (int i = 0; i < n_valid; i++) {
        snprintf (text, sizeof text, "valid entry %d from the injector", i + 1);
        uint64_t seq = head + 1 + (uint64_t) i;
        if (n_valid >= 3 && i == n_valid / 2) {
            /* Validly signed, but its body is no Alert: stored, recorded invalid, and the
             * entries after it must not stall (invariant 9). */
            static const uint8_t junk[] = "\xff\xfe not a protobuf Alert";
            if (rcn_entry_sign (sk, seq, head + i ? prev : NULL, rcn_now_ms (), RCN__KIND__KIND_ALERT,
                                RCN_STATUS_TEST, junk, sizeof junk - 1, &valid[i]) != RCN_OK)
                die ("sign", "rcn_entry_sign failed");
            nonsense_seq = seq;
        } else
            valid[i] = sign_alert (sk, seq, head + i ? prev : NULL, text);
        memcpy (prev, rcn_entry_hash (valid[i]), 32);
    }
    if (n_valid > 0) {
        set_own_head (honest, head + (uint64_t) n_valid, prev);
        set_honest_heartbeat (honest);
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < n_valid; i++) {
            size_t len;
            uint8_t *w = encode (valid[i], &len);
            pub2 ("E", 1, w, len);
            free (w);
            pace (5);
        }
        pace (700);
    }
    count ("valid_own", (uint64_t) n_valid);             /* each published 4 times */
    char hex[65];
    json_object_set_new (summary, "valid_from", json_integer ((json_int_t) head + 1));
    json_object_set_new (summary, "valid_to", json_integer ((json_int_t) (head + (uint64_t) n_valid)));
    json_object_set_new (summary, "valid_last_hash", json_string (rcn_hex (prev, 32, hex)));
    json_object_set_new (summary, "nonsense_seq", json_integer ((json_int_t) nonsense_seq));
    for (int i = 0; i < n_valid; i++)
        rcn_entry_destroy (&valid[i]);
    free (valid);
    /* 9. Over the SUB's message cap: the connection drops, and the SUB should connect again.
     * Last, since everything after it would be lost if it does not. */
    phase ("oversized");
    uint64_t hs_before = pub_counts.handshake_succeeded, dis_before = pub_counts.disconnected;
    size_t big_len = 1u << 20;
    uint8_t *big = calloc (1, big_len);
    if (!big)
        die ("oversized", "out of memory");
    uint64_t t0 = rcn_mono_ms ();
    pub2 ("E", 1, big, big_len);
    free (big);
    count ("oversized_1MiB", 1);
    bool again = wait_handshakes (hs_before + n_peers, 6000);
    json_object_set_new (summary, "oversized_reconnected", json_boolean (again));
    json_object_set_new (summary, "oversized_reconnect_ms", json_integer ((json_int_t) (rcn_mono_ms () - t0)));
    json_object_set_new (summary, "oversized_disconnects",
                         json_integer ((json_int_t) (pub_counts.disconnected - dis_before)));
    phase ("done");
    rc = 0;
out:
    json_object_set_new (summary, "mode", json_string ("serve-pub"));
    json_object_set_new (summary, "member", json_integer (me->region));
    json_object_set_new (summary, "head_before", json_integer ((json_int_t) head));
    json_object_set_new (summary, "link_malformed_sent", json_integer ((json_int_t) link_malformed));
    json_object_set_new (summary, "sent", sent);
    json_dumpf (summary, stdout, JSON_SORT_KEYS);
    putchar ('\n');
    json_decref (summary);
    free (honest);
    free (honest_hb);
    free (replay_wire);
    rcn_entry_destroy (&replay);
    zmq_close (pub_mon);
    zmq_close (pub);
    rcn_zap_destroy (&zap);
    return rc;
}

/* ---- --hit-sync --------------------------------------------------------------------------- */

enum { A_NONE_, A_OK, A_ROSTER, A_BAD, A_NOT_HELD, A_UNDECODABLE, A_N };
static const char *answer_names[A_N] = { "", "ok", "roster", "bad_request", "not_held", "undecodable" };

typedef struct {
    const char *name;
    uint64_t id_base;                /* request ids of this class: id_base + i; 0: none */
    uint64_t sent, send_failed;
    uint64_t answers[A_N];
    uint64_t foreign_ids;            /* answers whose request_id is not one of the class's */
    uint64_t entries;                /* entries in OK answers */
} klass_t;

static void *dealer, *dealer_mon;
static rcn_transport_counts_t dealer_counts;
static uint8_t target_origin[32];
static uint64_t probe_id = 900000000, probes_sent, probes_answered;

/* Sends one frame, retrying while the DEALER has no connection (ZMQ_IMMEDIATE), at most 3 s. */
static bool
dsend (const void *data, size_t len, int flags)
{
    uint64_t end = rcn_mono_ms () + 3000;
    for (;;) {
        if (zmq_send (dealer, data, len, flags | ZMQ_DONTWAIT) >= 0)
            return true;
        if (errno != EAGAIN || rcn_mono_ms () >= end)
            return false;
        rcn_transport_monitor_drain (dealer_mon, &dealer_counts);
        sleep_ms (5);
    }
}

static uint8_t *
request_wire (uint64_t id, const uint8_t *rh, size_t rh_len, const uint8_t *origin, size_t o_len,
              uint64_t from_seq, uint32_t max_bytes, size_t *len)
{
    Rcn__PullRequest m = RCN__PULL_REQUEST__INIT;
    m.request_id = id;
    m.roster_hash = (ProtobufCBinaryData) { rh_len, (uint8_t *) rh };
    m.origin = (ProtobufCBinaryData) { o_len, (uint8_t *) origin };
    m.from_seq = from_seq;
    m.max_bytes = max_bytes;
    *len = rcn__pull_request__get_packed_size (&m);
    uint8_t *w = malloc (*len ? *len : 1);
    if (!w)
        die ("request", "out of memory");
    rcn__pull_request__pack (&m, w);
    return w;
}

static uint8_t *
good_request (uint64_t id, uint64_t from_seq, uint32_t max_bytes, size_t *len)
{
    return request_wire (id, rcn_roster_hash (roster), 32, target_origin, 32, from_seq, max_bytes, len);
}

static void
send_request (klass_t *k, const uint8_t *w, size_t len)
{
    k->sent++;
    if (!dsend (w, len, 0))
        k->send_failed++;
}

/* Reads one answer if one is there within wait_ms; files it under k (or counts the probe).
 * Returns the answer's request_id, or 0 when none came (or it did not decode). */
static uint64_t
recv_answer (klass_t *k, int wait_ms)
{
    zmq_pollitem_t it = { dealer, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&it, 1, wait_ms) <= 0)
        return 0;
    zmq_msg_t m;
    zmq_msg_init (&m);
    if (zmq_msg_recv (&m, dealer, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&m);
        return 0;
    }
    rcn_pull_reply_t *rep = NULL;
    char why[256];
    uint64_t id = 0;
    int a = A_UNDECODABLE;
    if (rcn_pull_reply_decode (zmq_msg_data (&m), zmq_msg_size (&m), &rep, why, sizeof why) == RCN_OK) {
        id = rep->request_id;
        a = rep->error == RCN_PULL_OK ? A_OK : rep->error == RCN_PULL_ROSTER ? A_ROSTER
          : rep->error == RCN_PULL_BAD_REQUEST ? A_BAD : A_NOT_HELD;
    }
    while (zmq_msg_more (&m) && zmq_msg_recv (&m, dealer, 0) >= 0)
        ;                                   /* a DEALER answer is one frame; drain any more */
    zmq_msg_close (&m);
    if (id > 900000000 && id <= probe_id)
        probes_answered++;
    else if (k) {
        k->answers[a]++;
        if (a == A_OK)
            k->entries += rep->n_entries;
        if (k->id_base == 0 ? id != 0 : (id < k->id_base || id >= k->id_base + k->sent))
            k->foreign_ids++;
    }
    rcn_pull_reply_destroy (&rep);
    return id ? id : (uint64_t) -1;
}

/* Sends a valid probe and files every answer before the probe's under k; the probe is sent
 * again each second (a dropped connection loses it), at most 8 s. True when answered. */
static bool
settle (klass_t *k)
{
    uint64_t my = ++probe_id, end = rcn_mono_ms () + 8000, resend = 0;
    while (rcn_mono_ms () < end) {
        if (rcn_mono_ms () >= resend) {
            size_t len;
            uint8_t *w = good_request (my, 1, RCN_ENTRY_MAX, &len);
            if (dsend (w, len, 0))
                probes_sent++;
            free (w);
            resend = rcn_mono_ms () + 1000;
        }
        uint64_t id = recv_answer (k, 100);
        if (id == my)
            return true;
        rcn_transport_monitor_drain (dealer_mon, &dealer_counts);
    }
    return false;
}

static json_t *
klass_json (const klass_t *k, bool settled)
{
    json_t *o = json_object (), *a = json_object ();
    uint64_t answered = 0;
    for (int i = A_OK; i < A_N; i++) {
        json_object_set_new (a, answer_names[i], json_integer ((json_int_t) k->answers[i]));
        answered += k->answers[i];
    }
    json_object_set_new (o, "sent", json_integer ((json_int_t) k->sent));
    json_object_set_new (o, "send_failed", json_integer ((json_int_t) k->send_failed));
    json_object_set_new (o, "answered", json_integer ((json_int_t) answered));
    json_object_set_new (o, "answers", a);
    json_object_set_new (o, "foreign_ids", json_integer ((json_int_t) k->foreign_ids));
    json_object_set_new (o, "entries", json_integer ((json_int_t) k->entries));
    json_object_set_new (o, "settled", json_boolean (settled));
    return o;
}

static int
hit_sync (const char *endpoint, const char *server_key_z85, int flood)
{
    char why[512] = "";
    uint8_t server_key[32];
    if (rcn_unz85_key (server_key_z85, server_key) != 0)
        die ("--server-key", "not a 40-character Z85 key");
    /* Valid requests ask for the target's own origin (found by its sync endpoint), else ours. */
    memcpy (target_origin, rcn_keys_sign_public (keys), 32);
    for (size_t i = 0; i < rcn_roster_count (roster); i++)
        if (strcmp (rcn_roster_member (roster, i)->sync, endpoint) == 0)
            memcpy (target_origin, rcn_roster_member (roster, i)->sign_key, 32);
    rcn_transport_opts_t o;
    rcn_transport_opts_default (&o);
    o.max_msg = RCN_PULL_REPLY_MAX + 1024;
    if (rcn_transport_connect (zctx, ZMQ_DEALER, endpoint, server_key, rcn_keys_curve_public (keys),
                               rcn_keys_curve_secret (keys), &o, &dealer, why, sizeof why) != RCN_OK)
        die ("connect", why);
    if (rcn_transport_monitor (zctx, dealer, "inject dealer", &dealer_mon) != RCN_OK)
        die ("monitor", "cannot monitor the DEALER");
    uint64_t end = rcn_mono_ms () + 10000;
    while (dealer_counts.handshake_succeeded == 0 && rcn_mono_ms () < end) {
        rcn_transport_monitor_drain (dealer_mon, &dealer_counts);
        sleep_ms (20);
    }
    json_t *summary = json_object (), *classes = json_object ();
    json_object_set_new (summary, "mode", json_string ("hit-sync"));
    json_object_set_new (summary, "endpoint", json_string (endpoint));
    if (dealer_counts.handshake_succeeded == 0) {
        fprintf (stderr, "rcn_inject: no CURVE handshake with %s in 10 s\n", endpoint);
        json_object_set_new (summary, "connected", json_false ());
        json_dumpf (summary, stdout, 0);
        putchar ('\n');
        return 3;
    }
    json_object_set_new (summary, "connected", json_true ());
    klass_t pre = { .name = "before" };
    bool ok = settle (&pre);                    /* the connection serves at all */
    json_object_set_new (classes, "control_valid", klass_json (&pre, ok));

    const uint8_t *rh = rcn_roster_hash (roster);
    uint8_t junk[1024], wrong[32], unknown[32];
    size_t len;
    uint8_t *w;
#define CLASS(NAME, BASE, ...)                                               \
    do {                                                                     \
        klass_t k = { .name = NAME, .id_base = (BASE) };                     \
        __VA_ARGS__;                                                         \
        bool settled = settle (&k);                                          \
        json_object_set_new (classes, NAME, klass_json (&k, settled));       \
    } while (0)

    CLASS ("garbage", 0, {
        for (int i = 0; i < 20; i++) {
            size_t n = 1 + randombytes_uniform (200);
            randombytes_buf (junk, n);
            if (i % 2 == 0)
                memset (junk, 0xff, n);              /* a varint that never ends */
            send_request (&k, junk, n);
        }
    });
    CLASS ("truncated", 0, {
        w = good_request (2000000, 1, RCN_ENTRY_MAX, &len);
        for (size_t cut = 1; cut < len; cut += 3)
            send_request (&k, w, cut);
        free (w);
    });
    CLASS ("empty_frame", 0, { send_request (&k, (const uint8_t *) "", 0); });
    CLASS ("over_request_cap", 0, {        /* over RCN_PULL_REQUEST_MAX, under the socket cap */
        for (size_t n = RCN_PULL_REQUEST_MAX + 1; n <= 8192; n *= 2) {
            randombytes_buf (junk, sizeof junk);
            uint8_t *b = calloc (1, n);
            memcpy (b, junk, n < sizeof junk ? n : sizeof junk);
            send_request (&k, b, n);
            free (b);
        }
    });
    CLASS ("two_frames", 0, {              /* the ROUTER sees three frames */
        for (int i = 0; i < 5; i++) {
            w = good_request (3000000 + (uint64_t) i, 1, RCN_ENTRY_MAX, &len);
            k.sent++;
            if (!dsend (w, len, ZMQ_SNDMORE) || !dsend (w, len, 0))
                k.send_failed++;
            free (w);
        }
    });
    uint64_t hs = dealer_counts.handshake_succeeded;
    CLASS ("oversized_1MiB", 0, {          /* over the socket's cap: the connection drops */
        size_t n = 1u << 20;
        uint8_t *b = calloc (1, n);
        send_request (&k, b, n);
        free (b);
    });
    rcn_transport_monitor_drain (dealer_mon, &dealer_counts);
    json_object_set_new (summary, "oversized_reconnected", json_boolean (dealer_counts.handshake_succeeded > hs));
    CLASS ("wrong_roster", 4000000, {
        for (int i = 0; i < 10; i++) {
            randombytes_buf (wrong, 32);
            w = request_wire (k.id_base + k.sent, wrong, 32, target_origin, 32, 1, RCN_ENTRY_MAX, &len);
            send_request (&k, w, len);
            free (w);
        }
    });
    CLASS ("roster_hash_31_bytes", 5000000, {
        w = request_wire (k.id_base, rh, 31, target_origin, 32, 1, RCN_ENTRY_MAX, &len);
        send_request (&k, w, len);
        free (w);
    });
    CLASS ("from_seq_0", 6000000, {
        w = good_request (k.id_base, 0, RCN_ENTRY_MAX, &len);
        send_request (&k, w, len);
        free (w);
    });
    static const uint32_t bad_max[] = { 0, 1, RCN_ENTRY_MAX - 1, RCN_PULL_MAX_BYTES + 1, UINT32_MAX };
    CLASS ("max_bytes_out_of_range", 7000000, {
        for (size_t i = 0; i < sizeof bad_max / sizeof bad_max[0]; i++) {
            w = good_request (k.id_base + k.sent, 1, bad_max[i], &len);
            send_request (&k, w, len);
            free (w);
        }
    });
    CLASS ("max_bytes_at_bounds", 8000000, {     /* positive control: both ends are valid */
        w = good_request (k.id_base, 1, RCN_ENTRY_MAX, &len);
        send_request (&k, w, len);
        free (w);
        w = good_request (k.id_base + 1, 1, RCN_PULL_MAX_BYTES, &len);
        send_request (&k, w, len);
        free (w);
    });
    CLASS ("origin_31_bytes", 9000000, {
        w = request_wire (k.id_base, rh, 32, target_origin, 31, 1, RCN_ENTRY_MAX, &len);
        send_request (&k, w, len);
        free (w);
    });
    CLASS ("unknown_origin", 10000000, {
        for (int i = 0; i < 5; i++) {
            randombytes_buf (unknown, 32);
            w = request_wire (k.id_base + k.sent, rh, 32, unknown, 32, 1, RCN_ENTRY_MAX, &len);
            send_request (&k, w, len);
            free (w);
        }
    });
    CLASS ("from_seq_beyond_head", 11000000, {
        w = good_request (k.id_base, (uint64_t) 1 << 63, RCN_ENTRY_MAX, &len);
        send_request (&k, w, len);
        free (w);
    });

    /* A flood of valid requests, sent as fast as the socket takes them, answers read as
     * they come; then at most 20 s for the rest. */
    klass_t fl = { .name = "flood_valid", .id_base = 20000000 };
    uint64_t t0 = rcn_mono_ms ();
    for (int i = 0; i < flood; i++) {
        w = good_request (fl.id_base + (uint64_t) i, 1, RCN_ENTRY_MAX, &len);
        send_request (&fl, w, len);
        free (w);
        while (recv_answer (&fl, 0))
            ;
    }
    uint64_t answered = 0;
    end = rcn_mono_ms () + 20000;
    for (;;) {
        answered = 0;
        for (int i = A_OK; i < A_N; i++)
            answered += fl.answers[i];
        if (answered >= fl.sent || rcn_mono_ms () >= end)
            break;
        recv_answer (&fl, 100);
    }
    json_object_set_new (summary, "flood_ms", json_integer ((json_int_t) (rcn_mono_ms () - t0)));
    ok = settle (&fl);
    json_object_set_new (classes, "flood_valid", klass_json (&fl, ok));
    klass_t post = { .name = "after" };
    ok = settle (&post);
    json_object_set_new (classes, "control_valid_after", klass_json (&post, ok));

    rcn_transport_monitor_drain (dealer_mon, &dealer_counts);
    json_object_set_new (summary, "classes", classes);
    json_object_set_new (summary, "probes_sent", json_integer ((json_int_t) probes_sent));
    json_object_set_new (summary, "probes_answered", json_integer ((json_int_t) probes_answered));
    json_object_set_new (summary, "handshakes", json_integer ((json_int_t) dealer_counts.handshake_succeeded));
    json_object_set_new (summary, "disconnects", json_integer ((json_int_t) dealer_counts.disconnected));
    json_dumpf (summary, stdout, JSON_SORT_KEYS);
    putchar ('\n');
    json_decref (summary);
    zmq_close (dealer_mon);
    zmq_close (dealer);
    return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

static void
usage (void)
{
    fputs ("usage: rcn_inject --as DIR --serve-pub [--valid K] [--mismatch-ms MS] [--absurd-ms MS]\n"
           "       rcn_inject --as DIR --serve-pub --fork-only\n"
           "       rcn_inject --as DIR --hit-sync ENDPOINT --server-key Z85 [--flood N]\n"
           "DIR is a member's node dir whose rcnode is NOT running; it is only read.\n", stderr);
    exit (2);
}

int
main (int argc, char **argv)
{
    static const struct option opts[] = {
        { "as", required_argument, NULL, 'a' },
        { "serve-pub", no_argument, NULL, 'p' },
        { "hit-sync", required_argument, NULL, 's' },
        { "server-key", required_argument, NULL, 'k' },
        { "valid", required_argument, NULL, 'v' },
        { "mismatch-ms", required_argument, NULL, 'm' },
        { "absurd-ms", required_argument, NULL, 'b' },
        { "flood", required_argument, NULL, 'f' },
        { "fork-only", no_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *endpoint = NULL, *server_key = NULL;
    bool serve = false, fork_only = false;
    int n_valid = 5, mismatch_ms = 3000, absurd_ms = 3000, flood = 1000, c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': dir = optarg; break;
        case 'p': serve = true; break;
        case 's': endpoint = optarg; break;
        case 'k': server_key = optarg; break;
        case 'v': n_valid = atoi (optarg); break;
        case 'm': mismatch_ms = atoi (optarg); break;
        case 'b': absurd_ms = atoi (optarg); break;
        case 'f': flood = atoi (optarg); break;
        case 'F': fork_only = true; break;
        default: usage ();
        }
    }
    if (!dir || serve == (endpoint != NULL) || (endpoint && !server_key) || n_valid < 0
        || n_valid > 1000 || mismatch_ms < 0 || mismatch_ms > 60000 || absurd_ms < 0 || absurd_ms > 60000
        || flood < 0 || flood > 100000)
        usage ();
    if (sodium_init () < 0)
        die ("libsodium", "sodium_init failed");
    rcn_log_set_tag ("inject");
    load_member (dir);
    int rc = serve ? serve_pub (n_valid, mismatch_ms, absurd_ms, fork_only) : hit_sync (endpoint, server_key, flood);
    fflush (stdout);
    rcn_store_destroy (&store);
    rcn_keys_destroy (&keys);
    rcn_roster_destroy (&roster);
    zmq_ctx_term (zctx);
    return rc;
}
