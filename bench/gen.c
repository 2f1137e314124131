/* gen.c — rcbench_gen: fills a stopped member's log with a long chain of alerts, for the
 * catch-up and memory figures (bench/catchup).
 *
 *   rcbench_gen --node DIR --entries N               DIR's own member signs N alerts more
 *   rcbench_gen --node DIR --from SRC [--entries N]  DIR takes SRC's own entries from SRC's log
 *   rcbench_gen --node DIR --watch REGION --until SEQ [--timeout S]
 *                                                    waits (DIR's node running) until its log
 *                                                    holds REGION's entries up to SEQ
 *
 * The one decision: the entries go into the store the way a member's own authored entries
 * do — signed here (rcn_entry_sign makes them verified), appended in group commits of
 * CHUNK — and never through a million signature checks. The first form is the member
 * authoring: its high-water mark (hwm.h, DESIGN invariant 6) is raised to the last seq before
 * anything is signed and its committed half after the last commit, as the node does, so the
 * member starts on the result without a warning and never signs those seqs again. The second
 * copies entries already judged by SRC's store (read back trusted, as the store's readers
 * are) into DIR's: a second member holding the same chain costs no signing at all. Both nodes
 * must be stopped (their lock is not taken here; rcnode's lock file would refuse a second
 * process only at its own start). Memory stays bounded: CHUNK entries at a time. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "rcn/clock.h"
#include "rcn/conf.h"
#include "rcn/hwm.h"
#include "rcn/keys.h"
#include "rcn/kind.h"
#include "rcn/roster.h"
#include "rcn/store.h"

#include "rcn.pb-c.h"

#define CHUNK 10000                     /* entries per group commit */
#define ENTRIES_MAX 100000000ull

typedef struct {
    rcn_conf_t conf;
    rcn_roster_t *roster;
    rcn_store_t *store;
} member_t;

static void
usage (const char *why)
{
    fprintf (stderr, "rcbench_gen: %s\n"
             "usage: rcbench_gen --node DIR --entries N\n"
             "       rcbench_gen --node DIR --from SRC_DIR [--entries N]\n", why);
    exit (2);
}

static void
member_open (const char *dir, bool readonly, member_t *m)
{
    char why[512];
    if (rcn_conf_load (dir, &m->conf, why, sizeof why) != RCN_OK)
        rcb_die (dir, why);
    if (rcn_roster_load (m->conf.roster_path, &m->roster, why, sizeof why) != RCN_OK)
        rcb_die (m->conf.roster_path, why);
    rcn_store_opts_t opts = {
        .map_size = (size_t) m->conf.map_size_mb << 20,
        .readonly = readonly,
        .is_member = rcn_roster_is_member,
        .member_ctx = m->roster,
        .kinds = rcn_kinds,
    };
    if (rcn_store_open (m->conf.data_path, &opts, &m->store, why, sizeof why) != RCN_OK)
        rcb_die (m->conf.data_path, why);
}

static void
member_close (member_t *m)
{
    rcn_store_destroy (&m->store);
    rcn_roster_destroy (&m->roster);
}

/* Appends n entries as one group; every one must be stored. */
static void
append_all (rcn_store_t *s, rcn_entry_t **batch, size_t n)
{
    int *res = calloc (n, sizeof *res);
    if (!res)
        rcb_die ("append", "out of memory");
    int rc = rcn_store_append (s, batch, n, res);
    if (rc != RCN_OK)
        rcb_die ("append", rcn_strerror (rc));
    for (size_t i = 0; i < n; i++)
        if (res[i] != RCN_OK) {
            char why[128];
            snprintf (why, sizeof why, "seq %" PRIu64 " refused: %s", batch[i]->h.seq,
                      rcn_strerror (res[i]));
            rcb_die ("append", why);
        }
    free (res);
}

static void
progress (uint64_t done, uint64_t total, uint64_t t0)
{
    double s = (double) (rcb_mono_ns () - t0) / 1e9;
    fprintf (stderr, "rcbench_gen: %" PRIu64 "/%" PRIu64 " (%.1f s, %.0f/s)\n", done, total, s,
             s > 0 ? (double) done / s : 0);
}

/* The member of `dir` signs n alerts after its head. */
static void
author (const char *dir, uint64_t n)
{
    member_t m = { 0 };
    member_open (dir, false, &m);
    char why[512];
    rcn_keys_t *keys = NULL;
    if (rcn_keys_load (m.conf.keys_path, &keys, why, sizeof why) != RCN_OK)
        rcb_die (m.conf.keys_path, why);
    const uint8_t *origin = rcn_keys_sign_public (keys);
    uint64_t head = 0;
    uint8_t prev[RCN_HASH_SIZE];
    rcn_hwm_t hwm;
    if (rcn_store_head (m.store, origin, &head, prev) != RCN_OK)
        rcb_die ("head", "unreadable");
    if (rcn_hwm_read (m.conf.keys_path, origin, &hwm, why, sizeof why) != RCN_OK)
        rcb_die ("high-water mark", why);
    if (hwm.committed_seq > head)
        rcb_die ("high-water mark", "the member's log lacks own seqs it committed: start it "
                 "first so that it takes them back");
    /* Invariant 6: the mark covers every seq before it is signed. */
    rcn_hwm_t raised = { head + n, head };
    if (rcn_hwm_write (m.conf.keys_path, origin, &raised, why, sizeof why) != RCN_OK)
        rcb_die ("high-water mark", why);
    rcn_entry_t **batch = calloc (CHUNK, sizeof *batch);
    if (!batch)
        rcb_die ("author", "out of memory");
    uint64_t t0 = rcb_mono_ns ();
    for (uint64_t done = 0; done < n;) {
        size_t k = n - done < CHUNK ? (size_t) (n - done) : CHUNK;
        uint64_t t = rcn_now_ms ();
        for (size_t i = 0; i < k; i++) {
            uint64_t seq = head + done + i + 1;
            uint8_t body[RCB_BODY];
            rcb_alert_body (seq, body);
            int rc = rcn_entry_sign (rcn_keys_sign_secret (keys), seq, seq == 1 ? NULL : prev,
                                     t, RCN__KIND__KIND_ALERT, RCN_STATUS_EXERCISE, body,
                                     sizeof body, &batch[i]);
            if (rc != RCN_OK)
                rcb_die ("sign", rcn_strerror (rc));
            memcpy (prev, rcn_entry_hash (batch[i]), RCN_HASH_SIZE);
        }
        append_all (m.store, batch, k);
        for (size_t i = 0; i < k; i++)
            rcn_entry_destroy (&batch[i]);
        done += k;
        if (done % (100 * CHUNK) == 0 || done == n)
            progress (done, n, t0);
    }
    raised.committed_seq = head + n;
    if (rcn_hwm_write (m.conf.keys_path, origin, &raised, why, sizeof why) != RCN_OK)
        rcb_die ("high-water mark", why);
    printf ("{\"origin_region\": %u, \"first_seq\": %" PRIu64 ", \"head\": %" PRIu64
            ", \"seconds\": %.1f}\n", m.conf.region, head + 1, head + n,
            (double) (rcb_mono_ns () - t0) / 1e9);
    free (batch);
    rcn_keys_destroy (&keys);
    member_close (&m);
}

typedef struct {
    rcn_entry_t **batch;
    size_t n;
} copy_ctx_t;

/* Scan callback: a copy of each entry, up to CHUNK (then stops the scan: 1). */
static int
take (rcn_entry_t *e, void *ctx)
{
    copy_ctx_t *c = ctx;
    rcn_entry_t *d = rcn_entry_dup (e);
    if (!d)
        rcb_die ("copy", "out of memory");
    c->batch[c->n++] = d;
    return c->n == CHUNK;
}

/* dir takes src's own entries above dir's head, up to `limit` of them (0: all). */
static void
copy_from (const char *dir, const char *src, uint64_t limit)
{
    member_t d = { 0 }, s = { 0 };
    member_open (dir, false, &d);
    member_open (src, true, &s);
    const rcn_member_t *sm = rcn_roster_by_region (s.roster, s.conf.region);
    if (!sm || !rcn_roster_is_member (sm->sign_key, d.roster))
        rcb_die (src, "its member is not in the roster of --node");
    uint64_t head = 0, top = 0;
    if (rcn_store_head (d.store, sm->sign_key, &head, NULL) != RCN_OK
        || rcn_store_head (s.store, sm->sign_key, &top, NULL) != RCN_OK)
        rcb_die ("head", "unreadable");
    if (limit && top > head + limit)
        top = head + limit;
    copy_ctx_t c = { calloc (CHUNK, sizeof (rcn_entry_t *)), 0 };
    if (!c.batch)
        rcb_die ("copy", "out of memory");
    uint64_t t0 = rcb_mono_ns (), first = head + 1;
    while (head < top) {
        c.n = 0;
        int rc = rcn_store_scan (s.store, sm->sign_key, head + 1, take, &c);
        if (rc != RCN_OK && rc != 1)
            rcb_die ("scan", rcn_strerror (rc));
        size_t k = c.n;
        while (k > 0 && c.batch[k - 1]->h.seq > top)
            rcn_entry_destroy (&c.batch[--k]);
        if (k == 0)
            rcb_die ("copy", "the source's log ends before its head");
        append_all (d.store, c.batch, k);
        head = c.batch[k - 1]->h.seq;
        for (size_t i = 0; i < k; i++)
            rcn_entry_destroy (&c.batch[i]);
        if ((head - first + 1) % (100 * CHUNK) == 0 || head == top)
            progress (head - first + 1, top - first + 1, t0);
    }
    printf ("{\"origin_region\": %u, \"first_seq\": %" PRIu64 ", \"head\": %" PRIu64
            ", \"seconds\": %.1f}\n", s.conf.region, first, top,
            (double) (rcb_mono_ns () - t0) / 1e9);
    free (c.batch);
    member_close (&s);
    member_close (&d);
}

/* Polls (every POLL_MS, from a read-only open beside the running node: no request to it, so
 * nothing of the node's time is spent) the head of `region`'s entries in dir's log until it
 * reaches `until`. Prints the wall-clock ns at which the head was first seen to move and to
 * reach `until`, with the head at each second in between. Exit 1 on timeout. */
#define POLL_MS 5
static int
watch (const char *dir, uint32_t region, uint64_t until, uint64_t timeout_s)
{
    member_t m = { 0 };
    member_open (dir, true, &m);
    const rcn_member_t *o = rcn_roster_by_region (m.roster, region);
    if (!o)
        rcb_die ("--watch", "no such region in the roster");
    uint64_t head0 = 0, head = 0, first_ns = 0, t0 = rcb_wall_ns (), next_report = t0;
    if (rcn_store_head (m.store, o->sign_key, &head0, NULL) != RCN_OK)
        rcb_die ("head", "unreadable");
    printf ("{\"event\": \"ready\", \"wall_ns\": %" PRIu64 ", \"head\": %" PRIu64 "}\n", t0, head0);
    fflush (stdout);
    int rc = 1;
    for (;;) {
        uint64_t now = rcb_wall_ns ();
        if (rcn_store_head (m.store, o->sign_key, &head, NULL) != RCN_OK)
            rcb_die ("head", "unreadable");
        if (!first_ns && head != head0)
            first_ns = now;
        if (head >= until) {
            rc = 0;
            break;
        }
        if (now >= next_report) {
            fprintf (stderr, "rcbench_gen: watch: head %" PRIu64 " of %" PRIu64 "\n", head, until);
            next_report = now + 1000000000ull;
        }
        if (now - t0 > timeout_s * 1000000000ull)
            break;
        struct timespec ts = { 0, POLL_MS * 1000000L };
        nanosleep (&ts, NULL);
    }
    printf ("{\"event\": \"%s\", \"wall_ns\": %" PRIu64 ", \"first_ns\": %" PRIu64
            ", \"head0\": %" PRIu64 ", \"head\": %" PRIu64 "}\n", rc ? "timeout" : "reached",
            rcb_wall_ns (), first_ns, head0, head);
    member_close (&m);
    return rc;
}

int
main (int argc, char **argv)
{
    const char *node = NULL, *from = NULL;
    uint64_t n = 0, until = 0, timeout_s = 600;
    long region = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage ("every option takes a value");
        if (strcmp (argv[i], "--node") == 0)
            node = argv[++i];
        else if (strcmp (argv[i], "--from") == 0)
            from = argv[++i];
        else if (strcmp (argv[i], "--entries") == 0) {
            char *end;
            errno = 0;
            n = strtoull (argv[++i], &end, 10);
            if (errno || *end || n == 0 || n > ENTRIES_MAX)
                usage ("--entries must be a whole number from 1 to 100000000");
        }
        else if (strcmp (argv[i], "--watch") == 0) {
            region = strtol (argv[++i], NULL, 10);
            if (region <= 0 || region > 999999)
                usage ("--watch takes a six-digit region code");
        }
        else if (strcmp (argv[i], "--until") == 0)
            until = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--timeout") == 0)
            timeout_s = strtoull (argv[++i], NULL, 10);
        else
            usage ("unknown option");
    }
    if (node && region) {
        if (!until)
            usage ("--watch needs --until SEQ");
        return watch (node, (uint32_t) region, until, timeout_s ? timeout_s : 600);
    }
    if (!node)
        usage ("--node is required");
    if (from)
        copy_from (node, from, n);
    else if (n)
        author (node, n);
    else
        usage ("--entries is required without --from");
    return 0;
}
