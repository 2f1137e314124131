/* ingest.c — rcbench_ingest: a member's ingest path in process, with no network: receive →
 * size cap, decode, duplicate check → signature checks on a verification pool → one synced
 * group commit per group (rcn_ingest_pooled, what the node's live path calls).
 *
 *   rcbench_ingest --dir D --threads T --entries N [--group G]
 *
 * A chain of N entries (RCB_BODY-byte alerts, status exercise) of one member origin is signed
 * BEFORE the clock starts; then the wire envelopes are fed in groups of G (default: the node's
 * live group, RCN_INGEST_LIVE_GROUP) into a real synced store opened in D as the node opens
 * it (every kind's view, fsync on commit), with a pool of T checking threads. Only the
 * ingest is timed. As on the node's live path, each group's checks are handed to the pool's
 * workers (rcn_ingest_prefetch) before the group ahead of it is judged and committed, so the
 * workers check while the caller commits (--no-ahead: not, for comparison). Every entry must be stored (the origin's head ends at N, every result
 * RCN_OK): a wrong result exits 1. D must hold no store yet (a fresh directory, or absent).
 * Two diagnostics, never the benchmark's figures, show where the time goes: --nosync opens the
 * store without fsync (MDB_NOSYNC: what durability costs) and --no-views without the kinds'
 * views (what the alert view's index writes cost).
 * Prints one JSON object:
 *   {"ingest_per_s", "threads", "entries", "group", "seconds", "checks_per_entry",
 *    "checked_ahead" (entries whose check was done ahead and taken by their group)} */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "bench.h"
#include "rcn/ingest.h"
#include "rcn/kind.h"
#include "rcn/store.h"
#include "rcn/vpool.h"

/* The roster of this benchmark: the one member whose chain is fed. */
static bool
only_origin (const uint8_t origin[RCN_KEY_SIZE], void *ctx)
{
    return memcmp (origin, ctx, RCN_KEY_SIZE) == 0;
}

static void
usage (void)
{
    fprintf (stderr, "usage: rcbench_ingest --dir D --threads T --entries N [--group G] "
                     "[--no-ahead] [--nosync] [--no-views]\n"
                     "  T 1..%d, N 1..10000000, G 1..100000 (default %d)\n",
             RCN_VPOOL_MAX_THREADS, RCN_INGEST_LIVE_GROUP);
    exit (2);
}

int
main (int argc, char **argv)
{
    const char *dir = NULL;
    size_t threads = 0, n = 0, group = RCN_INGEST_LIVE_GROUP;
    bool ahead = true, nosync = false, views = true;
    static const struct option opts[] = { { "dir", required_argument, NULL, 'd' },
                                          { "threads", required_argument, NULL, 't' },
                                          { "entries", required_argument, NULL, 'n' },
                                          { "group", required_argument, NULL, 'g' },
                                          { "no-ahead", no_argument, NULL, 'a' },
                                          { "nosync", no_argument, NULL, 's' },
                                          { "no-views", no_argument, NULL, 'v' },
                                          { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 't': threads = rcb_count_arg ("threads", optarg, RCN_VPOOL_MAX_THREADS); break;
        case 'n': n = rcb_count_arg ("entries", optarg, 10000000); break;
        case 'g': group = rcb_count_arg ("group", optarg, 100000); break;
        case 'a': ahead = false; break;
        case 's': nosync = true; break;
        case 'v': views = false; break;
        default: usage ();
        }
    }
    if (optind != argc || !dir || !threads || !n)
        usage ();
    if (sodium_init () < 0)
        rcb_die ("libsodium", "cannot initialise");
    char path[4096];
    struct stat st;
    if (snprintf (path, sizeof path, "%s/data.mdb", dir) >= (int) sizeof path)
        rcb_die ("--dir", "path too long");
    if (stat (path, &st) == 0)
        rcb_die ("--dir", "holds a store already: give a fresh directory");

    /* Signed before the clock starts: the feeder costs nothing. */
    uint8_t pk[RCN_KEY_SIZE], sk[RCN_SECRET_SIZE];
    crypto_sign_keypair (pk, sk);
    rcb_chain_t chain;
    fprintf (stderr, "rcbench_ingest: signing %zu entries\n", n);
    rcb_chain_make (sk, 1, NULL, n, &chain, NULL);
    sodium_memzero (sk, sizeof sk);

    rcn_store_opts_t so = { .map_size = (size_t) 64 << 20, .is_member = only_origin,
                            .member_ctx = pk, .kinds = views ? rcn_kinds : NULL,
                            .unsafe_nosync = nosync };
    rcn_store_t *store = NULL;
    rcn_vpool_t *pool = NULL;
    char why[256];
    if (rcn_store_open (dir, &so, &store, why, sizeof why) != RCN_OK)
        rcb_die ("opening the store", why);
    if (rcn_vpool_new (threads, &pool) != RCN_OK)
        rcb_die ("verification pool", "cannot start its threads");
    int *res = calloc (group, sizeof *res);
    if (!res)
        rcb_die ("results", "out of memory");

    rcn_ingest_stats_t stats = { 0 };
    uint64_t checks0 = rcn_entry_verify_calls ();
    uint64_t t0 = rcb_mono_ns ();
    /* As the node's live path does (sync.c): group k+1 is received, and its checks handed to
     * the pool's workers, before group k is judged and committed. */
    for (size_t i = 0; ahead && i < group && i < n; i++)
        (void) rcn_ingest_prefetch (store, pool, chain.wire[i], chain.len[i], only_origin, pk);
    for (size_t at = 0; at < n; at += group) {
        size_t g = n - at < group ? n - at : group;
        for (size_t i = at + group; ahead && i < at + 2 * group && i < n; i++)
            (void) rcn_ingest_prefetch (store, pool, chain.wire[i], chain.len[i], only_origin, pk);
        int rc = rcn_ingest_pooled (store, pool, (const uint8_t *const *) chain.wire + at,
                                    chain.len + at, g, res, &stats);
        if (rc != RCN_OK) {
            fprintf (stderr, "rcbench_ingest: group at %zu failed: %s\n", at, rcn_strerror (rc));
            return 1;
        }
        for (size_t i = 0; i < g; i++)
            if (res[i] != RCN_OK) {
                fprintf (stderr, "rcbench_ingest: entry %zu not stored: %s\n", at + i + 1,
                         rcn_strerror (res[i]));
                return 1;
            }
    }
    uint64_t el = rcb_mono_ns () - t0;
    uint64_t checks = rcn_entry_verify_calls () - checks0;

    uint64_t head = 0;
    if (rcn_store_head (store, pk, &head, NULL) != RCN_OK || head != n || stats.stored != n) {
        fprintf (stderr, "rcbench_ingest: head %llu, stored %llu after %zu entries\n",
                 (unsigned long long) head, (unsigned long long) stats.stored, n);
        return 1;
    }
    double s = (double) el / 1e9;
    uint64_t ahead_checked, ahead_taken;
    rcn_vpool_prefetch_counts (pool, &ahead_checked, &ahead_taken);
    printf ("{\"ingest_per_s\": %.0f, \"threads\": %zu, \"entries\": %zu, \"group\": %zu, "
            "\"seconds\": %.3f, \"checks_per_entry\": %.3f, \"checked_ahead\": %llu, "
            "\"synced\": %s, \"views\": %s}\n",
            (double) n / s, rcn_vpool_threads (pool), n, group, s,
            (double) checks / (double) n, (unsigned long long) ahead_taken,
            nosync ? "false" : "true", views ? "true" : "false");
    free (res);
    rcn_vpool_destroy (&pool);
    rcn_store_destroy (&store);
    rcb_chain_free (&chain);
    return 0;
}
