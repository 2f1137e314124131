/* checker.c — pl_check DIR WRITTEN_FILE: after a crash, is everything that pl_writer reported
 * written still there, whole, with its chain intact?
 *
 * The one design decision: the checker trusts nothing the store says about itself. It runs
 * the store's full offline check (every signature, every chain link, the indexes), and then
 * looks up every "written SEQ HASH" line by seq and compares the hash it computes from the
 * stored bytes with the one the writer printed before the crash. Then the high-water mark
 * (hwm.h), which the writer keeps as the node does:
 *   every reported seq <= committed_seq   (recorded as committed before it was reported)
 *   committed_seq <= head                 (else the log lost a commit: the node would block)
 *   head <= signed_seq                    (else a seq was signed before the mark covered it)
 * After a crash, signed_seq ahead of the head (crash between marking a group signed and its
 * commit) and the head ahead of committed_seq (between the commit and recording it) are both
 * expected; the summary line says which it saw.
 *
 * Prints one line per fault and "pl_check: N passed, N failed"; exits 1 on any fault, 2 on
 * a usage error. The store is opened read-only (read-write, as the node would, when a crash
 * before its first commit left an environment a read-only open refuses). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rcn/codec.h"
#include "rcn/entry.h"
#include "rcn/err.h"
#include "rcn/hwm.h"
#include "rcn/keys.h"
#include "rcn/store.h"

typedef struct {
    uint64_t seq;
    uint8_t hash[RCN_HASH_SIZE];
} written_t;

static int passed, failed;

static void
ok (void)
{
    passed++;
}

static void
fault (const char *fmt, ...) __attribute__((format (printf, 1, 2)));

static void
fault (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fputs ("pl_check: FAULT: ", stdout);
    vprintf (fmt, ap);
    fputc ('\n', stdout);
    va_end (ap);
    failed++;
}

static bool
is_self (const uint8_t origin[RCN_KEY_SIZE], void *ctx)
{
    return memcmp (origin, ctx, RCN_KEY_SIZE) == 0;
}

static int
by_seq (const void *a, const void *b)
{
    uint64_t x = ((const written_t *) a)->seq, y = ((const written_t *) b)->seq;
    return x < y ? -1 : x > y;
}

static bool
exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

/* Reads the "written SEQ HASH" lines; other lines are ignored. Caller frees *out. */
static int
read_written (const char *path, written_t **out, size_t *count)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        fprintf (stderr, "pl_check: %s: %s\n", path, strerror (errno));
        return -1;
    }
    written_t *w = NULL;
    size_t n = 0, cap = 0;
    char line[256];
    int rc = 0;
    while (fgets (line, sizeof line, f)) {
        char hex[2 * RCN_HASH_SIZE + 8];
        uint64_t seq;
        if (sscanf (line, "written %" SCNu64 " %70s", &seq, hex) != 2)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            written_t *m = realloc (w, cap * sizeof *w);
            if (!m) {
                rc = -1;
                break;
            }
            w = m;
        }
        if (strlen (hex) != 2 * RCN_HASH_SIZE || rcn_unhex (hex, w[n].hash, RCN_HASH_SIZE)) {
            fprintf (stderr, "pl_check: %s: bad line: %s", path, line);
            rc = -1;
            break;
        }
        w[n++].seq = seq;
    }
    fclose (f);
    if (rc != 0) {
        free (w);
        return rc;
    }
    *out = w;
    *count = n;
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: pl_check DIR WRITTEN_FILE\n");
        return 2;
    }
    const char *dir = argv[1];
    char keydir[4096], datadir[4096], why[512] = "";
    snprintf (keydir, sizeof keydir, "%s/keys", dir);
    snprintf (datadir, sizeof datadir, "%s/data", dir);

    written_t *w = NULL;
    size_t nw = 0;
    if (read_written (argv[2], &w, &nw) != 0)
        return 2;

    rcn_keys_t *keys = NULL;
    rcn_store_t *store = NULL;
    int rc;
    uint64_t head = 0, checked = 0;
    rcn_hwm_t mark = { 0, 0 };
    uint8_t origin[RCN_KEY_SIZE];

    /* The same seq reported twice must carry the same entry: otherwise one was lost. */
    if (nw > 1)
        qsort (w, nw, sizeof *w, by_seq);
    for (size_t i = 1; i < nw; i++)
        if (w[i].seq == w[i - 1].seq && memcmp (w[i].hash, w[i - 1].hash, RCN_HASH_SIZE) != 0)
            fault ("seq %" PRIu64 " was reported written twice, with different entries: "
                   "the first was lost and re-signed", w[i].seq);

    if (!exists (keydir) || !exists (datadir)) {
        /* A crash before the first commit: fine as long as nothing was reported. */
        if (nw > 0)
            fault ("%zu entries were reported written but %s is missing", nw,
                   exists (keydir) ? datadir : keydir);
        else
            ok ();
        goto report;
    }
    if ((rc = rcn_keys_load (keydir, &keys, why, sizeof why)) != RCN_OK) {
        fault ("keys: %s: %s", rcn_strerror (rc), why);
        goto report;
    }
    memcpy (origin, rcn_keys_sign_public (keys), RCN_KEY_SIZE);

    /* A crash before the store's first commit leaves an environment that a read-only open
     * refuses (an empty data.mdb, or LMDB's initial meta pages without rcn's format marker)
     * and a read-write open, as the node does at start, initialises: go on with that. */
    rcn_store_opts_t opts = { .readonly = true };
    if ((rc = rcn_store_open (datadir, &opts, &store, why, sizeof why)) != RCN_OK) {
        printf ("pl_check: read-only open refused (%s: %s); opening read-write, as the node "
                "would\n", rcn_strerror (rc), why);
        opts = (rcn_store_opts_t) { .is_member = is_self, .member_ctx = origin };
        if ((rc = rcn_store_open (datadir, &opts, &store, why, sizeof why)) != RCN_OK) {
            fault ("store does not open: %s: %s", rcn_strerror (rc), why);
            goto report;
        }
    }
    ok ();
    if ((rc = rcn_store_check (store, is_self, origin, &checked, why, sizeof why)) != RCN_OK)
        fault ("rcn_store_check after %" PRIu64 " entries: %s: %s", checked, rcn_strerror (rc),
               why);
    else
        ok ();
    if ((rc = rcn_store_head (store, origin, &head, NULL)) != RCN_OK) {
        fault ("rcn_store_head: %s", rcn_strerror (rc));
        goto report;
    }
    if (checked != head)
        fault ("the check saw %" PRIu64 " entries but the head is %" PRIu64, checked, head);
    else
        ok ();

    size_t present = 0;
    for (size_t i = 0; i < nw; i++) {
        char hex[2 * RCN_HASH_SIZE + 1];
        rcn_hex (w[i].hash, RCN_HASH_SIZE, hex);
        rcn_entry_t *e = NULL;
        rc = rcn_store_get (store, origin, w[i].seq, &e);
        if (rc == RCN_ENOTFOUND) {
            fault ("seq %" PRIu64 " (%.16s...) was reported written and is gone (head %" PRIu64
                   ")", w[i].seq, hex, head);
        } else if (rc != RCN_OK) {
            fault ("seq %" PRIu64 ": rcn_store_get: %s", w[i].seq, rcn_strerror (rc));
        } else if (memcmp (rcn_entry_hash (e), w[i].hash, RCN_HASH_SIZE) != 0) {
            fault ("seq %" PRIu64 " holds another entry than the one reported (%.16s...)",
                   w[i].seq, hex);
        } else {
            present++;
            ok ();
        }
        rcn_entry_destroy (&e);
    }

    /* rcn_hwm_read itself refuses committed_seq > signed_seq. */
    if ((rc = rcn_hwm_read (keydir, origin, &mark, why, sizeof why)) != RCN_OK) {
        fault ("high-water mark unreadable: %s: %s", rcn_strerror (rc), why);
        goto report;
    }
    ok ();
    if (nw > 0 && w[nw - 1].seq > mark.committed_seq)
        fault ("seq %" PRIu64 " was reported written but the mark's committed_seq is %" PRIu64
               ": it was reported before its commit was recorded", w[nw - 1].seq,
               mark.committed_seq);
    else
        ok ();
    if (mark.committed_seq > head)
        fault ("the mark's committed_seq %" PRIu64 " is above the log's head %" PRIu64 ": the "
               "log lost a commit (the node would start blocked)", mark.committed_seq, head);
    else
        ok ();
    if (head > mark.signed_seq)
        fault ("the log's head %" PRIu64 " is above the mark's signed_seq %" PRIu64 ": a seq "
               "was signed that the mark did not durably cover", head, mark.signed_seq);
    else
        ok ();
    /* "head H, mark C" first: test_kill9.sh shows that much of this line. */
    printf ("pl_check: head %" PRIu64 ", mark %" PRIu64 " committed, %" PRIu64 " signed%s%s, "
            "%zu of %zu reported entries present, %" PRIu64 " entries checked\n", head,
            mark.committed_seq, mark.signed_seq,
            mark.signed_seq > head ? " (signed ahead: crash between marking a group signed "
            "and its commit)" : "",
            head > mark.committed_seq ? " (committed behind: crash between a commit and "
            "recording it)" : "", present, nw, checked);

report:
    printf ("pl_check: %d passed, %d failed\n", passed, failed);
    rcn_store_destroy (&store);
    rcn_keys_destroy (&keys);
    free (w);
    return failed ? 1 : 0;
}
