/* writer.c — pl_writer DIR SEED COUNT BATCH: the durability tests' author. It appends COUNT
 * signed entries of its own origin to the store in DIR/data, BATCH per transaction, and
 * reports each one on stdout ("written SEQ HASHHEX") only after rcn_store_append has returned
 * RCN_OK for its group — the moment a node may publish or acknowledge it (DESIGN.md §3,
 * invariant 5). Whatever it reported must survive kill -9 and power loss (pl_check).
 *
 * The one design decision: it follows the node's order exactly (node/node.c, hwm.h). Per
 * group of seqs head+1..last: write the high-water mark (DIR/keys/hwm) {signed last, committed
 * as before}, sign, append (one synced transaction), write {last, last}, and only then report.
 * At start, with H the log's own head and m the mark: H < m.committed_seq is the node's
 * "blocked" case (the log lost seqs that may have been reported) — it must never happen after
 * a crash, so the writer says so and exits 3; otherwise the mark becomes {H, H} (seqs H+1..
 * m.signed_seq were signed but never committed, so never reported, and are signed anew).
 *
 * Keys are made in DIR/keys.new and renamed into place with DIR fsynced, so a crash during
 * key creation leaves no half key dir. The store's map starts at 256 KiB so that map growth
 * also happens under the crash points. Exit 0 when done, 2 on any error (named on stderr),
 * 3 when blocked as above.
 * RCN_PL_WRITER_NOSYNC=1 opens the store unsafe_nosync: the control run with which
 * test_powerloss.sh shows that it catches a store that does not sync. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/entry.h"
#include "rcn/err.h"
#include "rcn/hwm.h"
#include "rcn/keys.h"
#include "rcn/store.h"

#define MAP_SIZE (256 * 1024)
#define BODY_MIN 200
#define BODY_MAX 2000
#define BATCH_MAX 1000

static bool
is_self (const uint8_t origin[RCN_KEY_SIZE], void *ctx)
{
    return memcmp (origin, ctx, RCN_KEY_SIZE) == 0;
}

/* splitmix64: body sizes and bytes, reproducible from the seed and the head. */
static uint64_t
next_rand (uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int
rm_one (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb; (void) flag; (void) ftw;
    return remove (path);
}

static int
fsync_dir (const char *path)
{
    int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc;
}

/* DIR/keys, made atomically when absent. */
static int
ensure_keys (const char *dir, const char *keydir, uint64_t seed)
{
    struct stat st;
    if (stat (keydir, &st) == 0)
        return 0;
    char tmp[4096], why[256] = "";
    snprintf (tmp, sizeof tmp, "%s/keys.new", dir);
    if (stat (tmp, &st) == 0 && nftw (tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf (stderr, "pl_writer: removing %s: %s\n", tmp, strerror (errno));
        return -1;
    }
    rcn_random_seed (seed);
    int rc = rcn_keys_create (tmp, why, sizeof why);
    if (rc != RCN_OK) {
        fprintf (stderr, "pl_writer: rcn_keys_create: %s: %s\n", rcn_strerror (rc), why);
        return -1;
    }
    if (rename (tmp, keydir) != 0 || fsync_dir (dir) != 0) {
        fprintf (stderr, "pl_writer: %s: %s\n", keydir, strerror (errno));
        return -1;
    }
    return 0;
}

static int
parse_u64 (const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int
main (int argc, char **argv)
{
    uint64_t seed, count, batch;
    if (argc != 5 || parse_u64 (argv[2], &seed) || parse_u64 (argv[3], &count)
        || parse_u64 (argv[4], &batch) || batch == 0 || batch > BATCH_MAX) {
        fprintf (stderr, "usage: pl_writer DIR SEED COUNT BATCH (1 <= BATCH <= %d)\n", BATCH_MAX);
        return 2;
    }
    const char *dir = argv[1];
    char keydir[4096], datadir[4096], why[512] = "";
    snprintf (keydir, sizeof keydir, "%s/keys", dir);
    snprintf (datadir, sizeof datadir, "%s/data", dir);

    int status = 2, rc;
    rcn_keys_t *keys = NULL;
    rcn_store_t *store = NULL;
    rcn_entry_t *group[BATCH_MAX] = { NULL };
    int results[BATCH_MAX];
    size_t n = 0;

    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        fprintf (stderr, "pl_writer: %s: %s\n", dir, strerror (errno));
        goto done;
    }
    if (ensure_keys (dir, keydir, seed) != 0)
        goto done;
    if ((rc = rcn_keys_load (keydir, &keys, why, sizeof why)) != RCN_OK) {
        fprintf (stderr, "pl_writer: rcn_keys_load: %s: %s\n", rcn_strerror (rc), why);
        goto done;
    }
    const uint8_t *sk = rcn_keys_sign_secret (keys);
    uint8_t origin[RCN_KEY_SIZE];
    memcpy (origin, rcn_keys_sign_public (keys), RCN_KEY_SIZE);

    rcn_store_opts_t opts = { .map_size = MAP_SIZE, .is_member = is_self, .member_ctx = origin };
    const char *nosync = getenv ("RCN_PL_WRITER_NOSYNC");
    if (nosync && strcmp (nosync, "1") == 0) {
        /* The control experiment: the power-loss test must catch a store that skips fsync. */
        fprintf (stderr, "pl_writer: RCN_PL_WRITER_NOSYNC=1: store opened unsafe_nosync\n");
        opts.unsafe_nosync = true;
    }
    if ((rc = rcn_store_open (datadir, &opts, &store, why, sizeof why)) != RCN_OK) {
        fprintf (stderr, "pl_writer: rcn_store_open: %s: %s\n", rcn_strerror (rc), why);
        goto done;
    }
    uint64_t head;
    rcn_hwm_t mark;
    uint8_t prev[RCN_HASH_SIZE];
    if ((rc = rcn_store_head (store, origin, &head, prev)) != RCN_OK) {
        fprintf (stderr, "pl_writer: rcn_store_head: %s\n", rcn_strerror (rc));
        goto done;
    }
    if ((rc = rcn_hwm_read (keydir, origin, &mark, why, sizeof why)) != RCN_OK) {
        fprintf (stderr, "pl_writer: rcn_hwm_read: %s: %s\n", rcn_strerror (rc), why);
        goto done;
    }
    if (head < mark.committed_seq) {
        fprintf (stderr, "pl_writer: BLOCKED: the log's own head is %" PRIu64 " but the mark "
                 "says seqs up to %" PRIu64 " were committed (and may have been reported): the "
                 "log lost a commit; a node would author nothing here\n", head,
                 mark.committed_seq);
        status = 3;
        goto done;
    }
    if (head > mark.signed_seq) {
        /* A node would raise the mark with a warning (a key dir without its mark); here the
         * key dir is the writer's own, so the mark was not durable when it had to be. */
        fprintf (stderr, "pl_writer: the log's own head %" PRIu64 " is above the mark's "
                 "signed_seq %" PRIu64 ": a seq was signed before the mark covered it\n", head,
                 mark.signed_seq);
        goto done;
    }
    mark = (rcn_hwm_t) { head, head };
    if ((rc = rcn_hwm_write (keydir, origin, &mark, why, sizeof why)) != RCN_OK) {
        fprintf (stderr, "pl_writer: rcn_hwm_write {%" PRIu64 ", %" PRIu64 "} at start: %s: "
                 "%s\n", head, head, rcn_strerror (rc), why);
        goto done;
    }

    uint64_t rng = (seed * 0x2545f4914f6cdd1dULL) ^ head;
    uint64_t seq = head + 1, left = count;
    while (left > 0) {
        n = left < batch ? (size_t) left : (size_t) batch;
        uint64_t last = seq + n - 1;
        mark.signed_seq = last;
        if ((rc = rcn_hwm_write (keydir, origin, &mark, why, sizeof why)) != RCN_OK) {
            fprintf (stderr, "pl_writer: rcn_hwm_write signed %" PRIu64 ": %s: %s\n", last,
                     rcn_strerror (rc), why);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t body[BODY_MAX];
            size_t len = BODY_MIN + (size_t) (next_rand (&rng) % (BODY_MAX - BODY_MIN + 1));
            for (size_t j = 0; j < len; j += 8) {
                uint64_t r = next_rand (&rng);
                memcpy (body + j, &r, len - j < 8 ? len - j : 8);
            }
            rc = rcn_entry_sign (sk, seq + i, seq + i == 1 ? NULL : prev, rcn_now_ms (), 0,
                                 RCN_STATUS_TEST, body, len, &group[i]);
            if (rc != RCN_OK) {
                fprintf (stderr, "pl_writer: rcn_entry_sign %" PRIu64 ": %s\n", seq + i,
                         rcn_strerror (rc));
                goto done;
            }
            memcpy (prev, rcn_entry_hash (group[i]), RCN_HASH_SIZE);
        }
        if ((rc = rcn_store_append (store, group, n, results)) != RCN_OK) {
            fprintf (stderr, "pl_writer: rcn_store_append %" PRIu64 "..%" PRIu64 ": %s\n",
                     seq, last, rcn_strerror (rc));
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            if (results[i] != RCN_OK) {
                fprintf (stderr, "pl_writer: entry %" PRIu64 " refused: %s\n", seq + i,
                         rcn_strerror (results[i]));
                goto done;
            }
        /* Committed and synced; recorded as committed: only now may anyone hear of them. */
        mark.committed_seq = last;
        if ((rc = rcn_hwm_write (keydir, origin, &mark, why, sizeof why)) != RCN_OK) {
            fprintf (stderr, "pl_writer: rcn_hwm_write committed %" PRIu64 ": %s: %s\n", last,
                     rcn_strerror (rc), why);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            char hex[2 * RCN_HASH_SIZE + 1];
            printf ("written %" PRIu64 " %s\n", seq + i,
                    rcn_hex (rcn_entry_hash (group[i]), RCN_HASH_SIZE, hex));
            rcn_entry_destroy (&group[i]);
        }
        if (fflush (stdout) != 0 || ferror (stdout)) {
            fprintf (stderr, "pl_writer: stdout: %s\n", strerror (errno));
            goto done;
        }
        seq += n;
        left -= n;
        n = 0;
    }
    rcn_store_stats_t stats;
    if ((rc = rcn_store_stats (store, &stats)) != RCN_OK) {
        fprintf (stderr, "pl_writer: rcn_store_stats: %s\n", rcn_strerror (rc));
        goto done;
    }
    fprintf (stderr, "pl_writer: head %" PRIu64 ", map %zu bytes, grown %" PRIu64 " times\n",
             seq - 1, stats.map_size, stats.map_grows);
    status = 0;

done:
    for (size_t i = 0; i < BATCH_MAX; i++)
        rcn_entry_destroy (&group[i]);
    rcn_store_destroy (&store);
    rcn_keys_destroy (&keys);
    return status;
}
