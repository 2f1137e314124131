/* feed.c — rcbench_feed: the feeder of the network ingest figure. It stands in for member B
 * of an alliance whose member A runs: it publishes B's entries on B's PUB as fast as A
 * commits them, and measures A's rate.
 *
 *   rcbench_feed --as DIR --trace FILE --entries N [--window W] [--timeout S]
 *
 * DIR is B's node dir, whose rcnode must NOT run: its conf, roster, keys and its log (opened
 * read-only, for B's head to chain from and B's heartbeat). FILE is A's commit trace
 * (RCN_COMMIT_TRACE, trace.h): how the feeder learns, cheaply and without asking A anything,
 * which of B's entries A has committed and when.
 *
 * What it does, in order: signs a chain of N entries (RCB_BODY-byte alerts of B, from B's
 * head on) BEFORE anything is timed; binds B's PUB endpoint as a CURVE server behind a ZAP
 * allowlist of the roster (as rcnode does); waits for A's SUB to connect and sends B's
 * heartbeats (every second, naming as B's head the one before the chain, which A holds, so
 * A never pulls from B: the feeder serves no pulls); then publishes the chain, at most W entries ahead of
 * A's committed head (the PUB's HWM is above W: nothing is dropped). The rate is measured on
 * A's side, from A's trace: entries committed after A's first commit of the chain, over the
 * time from that commit to the last. A's trace must end with B's head at head0 + N, or
 * the run failed (exit 1). Prints one JSON object:
 *   {"ingest_per_s", "entries", "window", "seconds", "commits", "mean_group", "first_commit",
 *    "idle_polls", "wall_per_s" (N over the whole publishing run), "head"} */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "bench.h"
#include "rcn/clock.h"
#include "rcn/conf.h"
#include "rcn/keys.h"
#include "rcn/roster.h"
#include "rcn/store.h"
#include "rcn/trace.h"
#include "rcn/transport.h"
#include "rcn/wire.h"

static void
usage (void)
{
    fprintf (stderr, "usage: rcbench_feed --as DIR --trace FILE --entries N [--window W] "
                     "[--timeout S]\n  N 1..10000000, W 1..100000 (default 4096), S seconds "
                     "(default 300)\n");
    exit (2);
}

static void
sleep_us (long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };
    nanosleep (&ts, NULL);
}

static uint64_t
get_le (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- A's commit trace, read as it grows ---------------------------------------------------- */

typedef struct {
    int fd;
    uint8_t buf[64 * RCN_TRACE_RECORD_SIZE];
    size_t have;                      /* bytes of a partial record kept from the last read */
    size_t rec_size;
    uint8_t origin[RCN_KEY_SIZE];     /* whose entries we count (B's) */
    uint64_t from;                    /* the chain's first seq */
    uint64_t head;                    /* B's highest seq A committed */
    uint64_t first_ns, first_count;   /* A's first commit of the chain, and how many it held */
    uint64_t last_ns, commits;        /* the latest such commit, and how many commits */
} trace_t;

static void
trace_open (trace_t *t, const char *path, uint64_t timeout_ms)
{
    uint64_t end = rcn_mono_ms () + timeout_ms;
    uint8_t h[RCN_TRACE_HEADER_SIZE];
    for (;;) {
        t->fd = open (path, O_RDONLY | O_CLOEXEC);
        if (t->fd >= 0 && pread (t->fd, h, sizeof h, 0) == (ssize_t) sizeof h)
            break;
        if (t->fd >= 0)
            close (t->fd);
        if (rcn_mono_ms () > end)
            rcb_die ("--trace", "no readable commit trace there (is A running with "
                     "RCN_COMMIT_TRACE?)");
        sleep_us (50000);
    }
    if (memcmp (h, RCN_TRACE_MAGIC, 8) != 0)
        rcb_die ("--trace", "not a commit trace (magic)");
    t->rec_size = get_le (h + 8, 4);
    if (t->rec_size < RCN_TRACE_RECORD_SIZE || t->rec_size > RCN_TRACE_RECORD_SIZE * 4)
        rcb_die ("--trace", "unknown record size");
    if (lseek (t->fd, RCN_TRACE_HEADER_SIZE, SEEK_SET) < 0)
        rcb_die ("--trace", strerror (errno));
}

/* Reads what A appended since the last call; counts B's entries of the chain. */
static void
trace_poll (trace_t *t)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        ssize_t got = read (t->fd, t->buf + t->have, sizeof t->buf - t->have);
        if (got <= 0)
            return;
        t->have += (size_t) got;
        size_t at = 0;
        for (; t->have - at >= t->rec_size; at += t->rec_size) {
            const uint8_t *r = t->buf + at;
            uint64_t seq = get_le (r + 32, 8), ns = get_le (r + 40, 8);
            if (memcmp (r, t->origin, RCN_KEY_SIZE) != 0 || seq < t->from)
                continue;
            if (seq > t->head)
                t->head = seq;
            if (!t->first_ns) {
                t->first_ns = ns;
                t->commits = 1;
            }
            if (ns == t->first_ns)
                t->first_count++;
            else if (ns != t->last_ns)
                t->commits++;
            t->last_ns = ns;
        }
        memmove (t->buf, t->buf + at, t->have - at);
        t->have -= at;
    }
}

/* ---- B's PUB -------------------------------------------------------------------------------- */

typedef struct {
    void *pub, *mon;
    rcn_transport_counts_t counts;
    rcn_heartbeat_t hb;
    size_t own;                       /* B's slot in hb.heads */
    uint64_t next_hb;
} pub_t;

static void
send2 (void *pub, const char *topic, const void *data, size_t len)
{
    if (zmq_send (pub, topic, 1, ZMQ_SNDMORE) != 1 || zmq_send (pub, data, len, 0) != (int) len)
        rcb_die ("publishing", zmq_strerror (errno));
}

/* B's heartbeat, with B's head as A holds it (never ahead: A would pull from us). */
static void
heartbeat (pub_t *p, uint64_t head, const uint8_t hash[RCN_HASH_SIZE], uint64_t now)
{
    if (now < p->next_hb)
        return;
    p->hb.heads[p->own].seq = head;
    memcpy (p->hb.heads[p->own].hash, hash, RCN_HASH_SIZE);
    p->hb.time_ms = rcn_now_ms ();
    uint8_t *w = NULL;
    size_t len = 0;
    if (rcn_heartbeat_encode (&p->hb, &w, &len) != RCN_OK)
        rcb_die ("heartbeat", "cannot encode");
    send2 (p->pub, "H", w, len);
    free (w);
    p->next_hb = now + 1000;
}

int
main (int argc, char **argv)
{
    const char *dir = NULL, *trace_path = NULL;
    size_t n = 0, window = 4096;
    unsigned long timeout_s = 300;
    static const struct option opts[] = { { "as", required_argument, NULL, 'a' },
                                          { "trace", required_argument, NULL, 't' },
                                          { "entries", required_argument, NULL, 'n' },
                                          { "window", required_argument, NULL, 'w' },
                                          { "timeout", required_argument, NULL, 's' },
                                          { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': dir = optarg; break;
        case 't': trace_path = optarg; break;
        case 'n': n = rcb_count_arg ("entries", optarg, 10000000); break;
        case 'w': window = rcb_count_arg ("window", optarg, 100000); break;
        case 's': timeout_s = rcb_count_arg ("timeout", optarg, 3600); break;
        default: usage ();
        }
    }
    if (optind != argc || !dir || !trace_path || !n)
        usage ();
    if (sodium_init () < 0)
        rcb_die ("libsodium", "cannot initialise");

    /* B: conf, roster, keys, and its log read-only (head to chain from, heartbeat). */
    char why[512] = "";
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_keys_t *keys = NULL;
    rcn_store_t *store = NULL;
    const rcn_member_t *me = rcb_member_load (dir, &conf, &roster, &keys);
    const uint8_t *origin = rcn_keys_sign_public (keys);
    rcn_store_opts_t so = { .readonly = true };
    if (rcn_store_open (conf.data_path, &so, &store, why, sizeof why) != RCN_OK)
        rcb_die ("store", why);
    uint64_t head0 = 0;
    uint8_t hash0[RCN_HASH_SIZE];
    if (rcn_store_head (store, origin, &head0, hash0) != RCN_OK)
        rcb_die ("store", "cannot read B's head");

    pub_t p = { 0 };
    uint8_t *hbw = NULL;
    size_t hbl = 0;
    if (rcn_heartbeat_build (store, rcn_roster_hash (roster), origin, rcn_now_ms (), &hbw, &hbl)
            != RCN_OK
        || rcn_heartbeat_decode (hbw, hbl, &p.hb, why, sizeof why) != RCN_OK)
        rcb_die ("heartbeat", "cannot build B's from its log");
    free (hbw);
    rcn_store_destroy (&store);
    for (p.own = 0; p.own < p.hb.n_heads; p.own++)
        if (memcmp (p.hb.heads[p.own].origin, origin, RCN_KEY_SIZE) == 0)
            break;
    if (p.own == p.hb.n_heads)
        rcb_die ("heartbeat", "B's log holds none of B's entries (run the alliance first)");

    /* Signed before anything is timed. */
    fprintf (stderr, "rcbench_feed: signing %zu entries of %06u from seq %llu\n", n, me->region,
             (unsigned long long) head0 + 1);
    rcb_chain_t chain;
    uint8_t last_hash[RCN_HASH_SIZE];
    rcb_chain_make (rcn_keys_sign_secret (keys), head0 + 1, head0 ? hash0 : NULL, n, &chain,
                    last_hash);
    (void) last_hash;

    trace_t t = { .fd = -1, .from = head0 + 1, .head = head0 };
    memcpy (t.origin, origin, RCN_KEY_SIZE);
    trace_open (&t, trace_path, 10000);
    trace_poll (&t);                  /* what A committed before us: nothing of the chain */

    /* ZAP, then PUB at B's endpoint (B's rcnode just left it: retry a while). */
    void *zctx = zmq_ctx_new ();
    if (!zctx)
        rcb_die ("zmq", zmq_strerror (errno));
    uint8_t allow[RCN_MAX_MEMBERS][32];
    size_t n_peers = 0;
    for (size_t i = 0; i < rcn_roster_count (roster); i++)
        if (rcn_roster_member (roster, i) != me)
            memcpy (allow[n_peers++], rcn_roster_member (roster, i)->curve_key, 32);
    rcn_zap_t *zap = NULL;
    if (rcn_zap_start (zctx, (const uint8_t (*)[32]) allow, n_peers, &zap, why, sizeof why)
        != RCN_OK)
        rcb_die ("zap", why);
    rcn_transport_opts_t o;
    rcn_transport_opts_default (&o);
    o.sndhwm = (int) (window + 1000);    /* above the window: PUB drops nothing */
    int rc = RCN_EBUSY;
    for (int i = 0; i < 50 && rc != RCN_OK; i++)
        if ((rc = rcn_transport_bind (zctx, ZMQ_PUB, me->pub, rcn_keys_curve_secret (keys), &o,
                                      &p.pub, why, sizeof why)) != RCN_OK)
            sleep_us (100000);
    if (rc != RCN_OK)
        rcb_die ("bind", why);
    if (rcn_transport_monitor (zctx, p.pub, "feed pub", &p.mon) != RCN_OK)
        rcb_die ("monitor", "cannot monitor PUB");

    /* A's SUB connects; then a heartbeat or two, so that A takes B as up. */
    uint64_t end = rcn_mono_ms () + 20000;
    while (p.counts.handshake_succeeded < n_peers && rcn_mono_ms () < end) {
        heartbeat (&p, head0, hash0, rcn_mono_ms ());
        rcn_transport_monitor_drain (p.mon, &p.counts);
        sleep_us (10000);
    }
    if (p.counts.handshake_succeeded < n_peers)
        rcb_die ("subscribers", "A's SUB did not connect in 20 s");
    for (int i = 0; i < 150; i++) {
        p.next_hb = i % 50 == 0 ? 0 : p.next_hb;
        heartbeat (&p, head0, hash0, rcn_mono_ms ());
        sleep_us (10000);
    }

    /* The run: up to `window` entries ahead of A's committed head. */
    fprintf (stderr, "rcbench_feed: publishing %zu entries, window %zu\n", n, window);
    uint64_t start = rcb_wall_ns (), deadline = rcn_mono_ms () + timeout_s * 1000;
    uint64_t waits = 0;
    size_t sent = 0;
    while (t.head < head0 + n) {
        uint64_t now = rcn_mono_ms ();
        if (now > deadline) {
            fprintf (stderr, "rcbench_feed: A holds %llu of %zu after %lu s\n",
                     (unsigned long long) (t.head - head0), n, timeout_s);
            return 1;
        }
        size_t done = (size_t) (t.head - head0);
        while (sent < n && sent - done < window) {
            send2 (p.pub, "E", chain.wire[sent], chain.len[sent]);
            sent++;
        }
        /* B's heartbeat keeps naming B's head before the chain: A holds it, so A never
         * sees B ahead of itself and never pulls (the feeder serves no pulls). */
        heartbeat (&p, head0, hash0, now);
        rcn_transport_monitor_drain (p.mon, &p.counts);
        size_t before = (size_t) t.head;
        trace_poll (&t);
        if ((size_t) t.head == before) {
            waits++;
            sleep_us (200);
        }
    }
    uint64_t wall = rcb_wall_ns () - start;
    double s = (double) (t.last_ns - t.first_ns) / 1e9;
    double per_s = s > 0 ? (double) (n - t.first_count) / s : 0;
    printf ("{\"ingest_per_s\": %.0f, \"entries\": %zu, \"window\": %zu, \"seconds\": %.3f, "
            "\"commits\": %llu, \"mean_group\": %.1f, \"first_commit\": %llu, "
            "\"idle_polls\": %llu, \"wall_per_s\": %.0f, \"head\": %llu}\n",
            per_s, n, window, s, (unsigned long long) t.commits,
            t.commits ? (double) n / (double) t.commits : 0, (unsigned long long) t.first_count,
            (unsigned long long) waits, (double) n / ((double) wall / 1e9),
            (unsigned long long) t.head);
    int linger = 0;
    zmq_setsockopt (p.pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (p.mon);
    zmq_close (p.pub);
    rcn_zap_destroy (&zap);
    zmq_ctx_term (zctx);
    close (t.fd);
    rcb_chain_free (&chain);
    rcn_keys_destroy (&keys);
    rcn_roster_destroy (&roster);
    return 0;
}
