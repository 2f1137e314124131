/* test_store.c — the LMDB entry log (store.h): appends and their per-entry results, lookups,
 * scans, group commit, a kind's view, map growth under readers, stale reader slots, backup
 * while writing, the offline check, readonly opens from another process. The log's
 * invariants each have their own test in test_invariants.c. */
#include "rcn/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "storetest.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static rcn_store_t *
open_readonly (const char *dir, int *rc_out)
{
    rcn_store_opts_t o = { .readonly = true, .kinds = g_kinds };
    rcn_store_t *s = NULL;
    char why[256] = "";
    *rc_out = rcn_store_open (dir, &o, &s, why, sizeof why);
    return s;
}

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Appends n "count" entries of a's, one call each, each CHECKed to go in. */
static void
append_counts (rcn_store_t *s, author_t *a, int n)
{
    for (int i = 0; i < n; i++) {
        rcn_entry_t *e = author_text (a, "count");
        CHECK_EQ (append1 (s, e), RCN_OK);
        rcn_entry_destroy (&e);
    }
}

/* The store's LMDB environment opened behind its back (flags 0 or MDB_RDONLY), one transaction
 * begun: for tests that plant or read what only a crash or an older build would leave. */
static void
raw_begin (const char *dir, unsigned flags, MDB_env **env, MDB_txn **txn)
{
    REQUIRE (mdb_env_create (env) == 0 && mdb_env_set_maxdbs (*env, 32) == 0);
    REQUIRE (mdb_env_open (*env, dir, flags, 0600) == 0);
    REQUIRE (mdb_txn_begin (*env, NULL, flags, txn) == 0);
}

/* ---- tests ---------------------------------------------------------------------------------- */

typedef struct {
    uint8_t origin[8][RCN_KEY_SIZE];
    uint64_t seq[8];
    int n;
} heads_list_t;

static int
heads_cb (const uint8_t origin[RCN_KEY_SIZE], uint64_t seq, const uint8_t hash[RCN_HASH_SIZE],
          void *ctx)
{
    (void) hash;
    heads_list_t *l = ctx;
    if (l->n < 8) {
        memcpy (l->origin[l->n], origin, RCN_KEY_SIZE);
        l->seq[l->n] = seq;
    }
    l->n++;
    return 0;
}

static void
test_append_read (void)
{
    char *dir = rcn_test_tmpdir ("store-rw");
    rcn_store_t *s = open_store (dir, 0);
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    rcn_entry_t *e[3], *f[2];
    for (int i = 0; i < 3; i++) {
        e[i] = author_text (&a, "count");
        CHECK_EQ (append1 (s, e[i]), RCN_OK);
    }
    for (int i = 0; i < 2; i++)
        f[i] = author_text (&b, "count");
    int res[2];
    CHECK_EQ (rcn_store_append (s, f, 2, res), RCN_OK);
    CHECK_EQ (res[0], RCN_OK);
    CHECK_EQ (res[1], RCN_OK);

    rcn_entry_t *got = NULL;
    CHECK_EQ (rcn_store_get (s, a.pk, 2, &got), RCN_OK);
    CHECK (got && rcn_entry_same (got, e[1]) && got->verified);
    CHECK (got && got->h.seq == 2 && memcmp (got->h.origin, a.pk, RCN_KEY_SIZE) == 0);
    rcn_entry_destroy (&got);
    CHECK_EQ (rcn_store_get_by_hash (s, e[2]->hash, &got), RCN_OK);
    CHECK (got && rcn_entry_same (got, e[2]));
    CHECK (got && memcmp (rcn_entry_hash (got), e[2]->hash, RCN_HASH_SIZE) == 0);
    rcn_entry_destroy (&got);
    CHECK_EQ (rcn_store_get (s, a.pk, 4, &got), RCN_ENOTFOUND);
    CHECK (got == NULL);
    uint8_t nohash[RCN_HASH_SIZE] = { 7 };
    CHECK_EQ (rcn_store_get_by_hash (s, nohash, &got), RCN_ENOTFOUND);

    uint64_t seq;
    uint8_t hash[RCN_HASH_SIZE];
    CHECK_EQ (rcn_store_head (s, a.pk, &seq, hash), RCN_OK);
    CHECK_EQ (seq, 3);
    CHECK (memcmp (hash, e[2]->hash, RCN_HASH_SIZE) == 0);
    author_t x;
    author_init (&x, 3, false);
    memset (hash, 0xee, sizeof hash);
    CHECK_EQ (rcn_store_head (s, x.pk, &seq, hash), RCN_OK);
    CHECK_EQ (seq, 0);
    CHECK (sodium_is_zero (hash, sizeof hash));

    heads_list_t l = { .n = 0 };
    CHECK_EQ (rcn_store_heads (s, heads_cb, &l), RCN_OK);
    CHECK_EQ (l.n, 2);
    CHECK (memcmp (l.origin[0], l.origin[1], RCN_KEY_SIZE) < 0);
    bool a_first = memcmp (a.pk, b.pk, RCN_KEY_SIZE) < 0;
    CHECK_EQ (l.seq[0], a_first ? 3 : 2);
    CHECK_EQ (l.seq[1], a_first ? 2 : 3);

    bool held = false;
    CHECK_EQ (rcn_store_holds (s, e[1], &held), RCN_OK);
    CHECK (held);
    rcn_entry_t *next = author_text (&a, "count");
    CHECK_EQ (rcn_store_holds (s, next, &held), RCN_OK);
    CHECK (!held);

    /* Durable across close and open. */
    rcn_store_destroy (&s);
    s = open_store (dir, 0);
    CHECK_EQ (head_of (s, a.pk), 3);
    CHECK_EQ (head_of (s, b.pk), 2);
    CHECK_EQ (view_count (s, a.pk), 3);
    rcn_store_stats_t st = stats_of (s);
    CHECK_EQ (st.entries, 5);
    CHECK_EQ (st.origins, 2);
    CHECK_EQ (st.invalid, 0);
    CHECK_EQ (st.forks, 0);

    rcn_entry_destroy (&next);
    free_entries (e, 3);
    free_entries (f, 2);
    close_and_remove (&s, dir);
}

typedef struct {
    uint8_t origin[64][RCN_KEY_SIZE];
    uint64_t seq[64];
    int n, stop_after;
} scan_list_t;

static int
scan_cb (rcn_entry_t *e, void *ctx)
{
    scan_list_t *l = ctx;
    if (l->n < 64) {
        memcpy (l->origin[l->n], e->h.origin, RCN_KEY_SIZE);
        l->seq[l->n] = e->h.seq;
    }
    l->n++;
    return l->stop_after && l->n == l->stop_after ? 7 : 0;
}

static void
test_scan (void)
{
    char *dir = rcn_test_tmpdir ("store-scan");
    rcn_store_t *s = open_store (dir, 0);
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    rcn_entry_t *es[10];
    for (int i = 0; i < 5; i++) {
        es[2 * i] = author_text (&a, "count");
        es[2 * i + 1] = author_text (&b, "count");
    }
    int res[10];
    CHECK_EQ (rcn_store_append (s, es, 10, res), RCN_OK);
    const uint8_t *lo = memcmp (a.pk, b.pk, RCN_KEY_SIZE) < 0 ? a.pk : b.pk;
    const uint8_t *hi = lo == a.pk ? b.pk : a.pk;

    scan_list_t l = { .n = 0 };
    CHECK_EQ (rcn_store_scan (s, a.pk, 3, scan_cb, &l), RCN_OK);
    CHECK_EQ (l.n, 3);
    for (int i = 0; i < 3 && i < l.n; i++) {
        CHECK_EQ (l.seq[i], 3 + i);
        CHECK (memcmp (l.origin[i], a.pk, RCN_KEY_SIZE) == 0);
    }

    memset (&l, 0, sizeof l);
    CHECK_EQ (rcn_store_scan (s, NULL, 0, scan_cb, &l), RCN_OK);
    CHECK_EQ (l.n, 10);
    for (int i = 0; i < 10 && i < l.n; i++) {
        CHECK (memcmp (l.origin[i], i < 5 ? lo : hi, RCN_KEY_SIZE) == 0);
        CHECK_EQ (l.seq[i], i % 5 + 1);
    }

    memset (&l, 0, sizeof l);       /* every origin, each from seq 4 on */
    CHECK_EQ (rcn_store_scan (s, NULL, 4, scan_cb, &l), RCN_OK);
    CHECK_EQ (l.n, 4);
    if (l.n == 4) {
        CHECK (memcmp (l.origin[0], lo, RCN_KEY_SIZE) == 0 && l.seq[0] == 4);
        CHECK (memcmp (l.origin[1], lo, RCN_KEY_SIZE) == 0 && l.seq[1] == 5);
        CHECK (memcmp (l.origin[2], hi, RCN_KEY_SIZE) == 0 && l.seq[2] == 4);
        CHECK (memcmp (l.origin[3], hi, RCN_KEY_SIZE) == 0 && l.seq[3] == 5);
    }

    memset (&l, 0, sizeof l);
    CHECK_EQ (rcn_store_scan (s, NULL, 6, scan_cb, &l), RCN_OK);
    CHECK_EQ (l.n, 0);

    memset (&l, 0, sizeof l);
    l.stop_after = 2;
    CHECK_EQ (rcn_store_scan (s, NULL, 1, scan_cb, &l), 7);
    CHECK_EQ (l.n, 2);

    author_t x;
    author_init (&x, 9, false);
    memset (&l, 0, sizeof l);
    CHECK_EQ (rcn_store_scan (s, x.pk, 1, scan_cb, &l), RCN_OK);
    CHECK_EQ (l.n, 0);

    free_entries (es, 10);
    close_and_remove (&s, dir);
}

static void
test_group_commit (void)
{
    char *dir = rcn_test_tmpdir ("store-group");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    enum { N = 1000 };
    rcn_entry_t **es = calloc (N, sizeof *es);
    int *res = calloc (N, sizeof *res);
    REQUIRE (es && res);
    for (int i = 0; i < N; i++)
        es[i] = author_text (&a, "count");
    double t0 = now_s ();
    CHECK_EQ (rcn_store_append (s, es, N, res), RCN_OK);
    fprintf (stderr, "    1000 entries in one synced commit: %.1f ms\n", (now_s () - t0) * 1e3);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += res[i] == RCN_OK;
    CHECK_EQ (ok, N);
    CHECK_EQ (head_of (s, a.pk), N);
    CHECK_EQ (stats_of (s).entries, N);
    CHECK_EQ (view_count (s, a.pk), N);
    rcn_entry_t *got = NULL;
    CHECK_EQ (rcn_store_get (s, a.pk, 500, &got), RCN_OK);
    CHECK (got && rcn_entry_same (got, es[499]));
    rcn_entry_destroy (&got);
    free_entries (es, N);
    free (es);
    free (res);
    close_and_remove (&s, dir);
}

/* Entries build on each other within a batch, in the order given. */
static void
test_batch_order (void)
{
    char *dir = rcn_test_tmpdir ("store-batch");
    rcn_store_t *s = open_store (dir, 0);
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    rcn_entry_t *a1 = author_text (&a, "count"), *a2 = author_text (&a, "count");
    rcn_entry_t *a3 = author_text (&a, "count"), *b1 = author_text (&b, "count");
    rcn_entry_t *batch[] = { a2, a1, b1, a3, a3, a2 };
    int res[6];
    CHECK_EQ (rcn_store_append (s, batch, 6, res), RCN_OK);
    CHECK_EQ (res[0], RCN_EGAP);        /* a2 before a1 */
    CHECK_EQ (res[1], RCN_OK);
    CHECK_EQ (res[2], RCN_OK);
    CHECK_EQ (res[3], RCN_EGAP);        /* a3 needs a2, refused earlier in this batch */
    CHECK_EQ (res[4], RCN_EGAP);
    CHECK_EQ (res[5], RCN_OK);          /* a2 on a1 of this same batch */
    rcn_entry_t *again[] = { a3, a3 };
    CHECK_EQ (rcn_store_append (s, again, 2, res), RCN_OK);
    CHECK_EQ (res[0], RCN_OK);
    CHECK_EQ (res[1], RCN_EDUP);        /* a duplicate within one batch */
    CHECK_EQ (head_of (s, a.pk), 3);
    CHECK_EQ (view_count (s, a.pk), 3);
    CHECK_EQ (rcn_store_append (s, NULL, 0, NULL), RCN_OK);
    rcn_entry_destroy (&a1);
    rcn_entry_destroy (&a2);
    rcn_entry_destroy (&a3);
    rcn_entry_destroy (&b1);
    close_and_remove (&s, dir);
}

static void
test_dup (void)
{
    char *dir = rcn_test_tmpdir ("store-dup");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    rcn_entry_t *e1 = author_text (&a, "count"), *e2 = author_text (&a, "count");
    CHECK_EQ (append1 (s, e1), RCN_OK);
    CHECK_EQ (append1 (s, e2), RCN_OK);
    rcn_store_stats_t before = stats_of (s);
    CHECK_EQ (append1 (s, e1), RCN_EDUP);
    CHECK_EQ (append1 (s, e2), RCN_EDUP);
    /* A duplicate is known before any crypto: an unverified copy is still just a duplicate. */
    rcn_entry_t *copy = NULL;
    REQUIRE (rcn_entry_from_parts (e2->signed_bytes, e2->signed_len, e2->sig, RCN_SIG_SIZE,
                                   &copy) == RCN_OK);
    CHECK (!copy->verified);
    CHECK_EQ (append1 (s, copy), RCN_EDUP);
    rcn_store_stats_t after = stats_of (s);
    CHECK_EQ (after.entries, before.entries);
    CHECK_EQ (after.forks, 0);
    CHECK_EQ (head_of (s, a.pk), 2);
    CHECK_EQ (view_count (s, a.pk), 2);     /* not applied twice */
    rcn_entry_destroy (&copy);
    rcn_entry_destroy (&e1);
    rcn_entry_destroy (&e2);
    close_and_remove (&s, dir);
}

static void
test_gap (void)
{
    char *dir = rcn_test_tmpdir ("store-gap");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    rcn_entry_t *e1 = author_text (&a, "count"), *e2 = author_text (&a, "count");
    rcn_entry_t *e3 = author_text (&a, "count");
    CHECK_EQ (append1 (s, e3), RCN_EGAP);           /* nothing held yet */
    CHECK_EQ (append1 (s, e1), RCN_OK);
    CHECK_EQ (append1 (s, e3), RCN_EGAP);
    CHECK_EQ (head_of (s, a.pk), 1);
    rcn_entry_t *got = NULL;
    CHECK_EQ (rcn_store_get (s, a.pk, 3, &got), RCN_ENOTFOUND);
    CHECK_EQ (rcn_store_get_by_hash (s, e3->hash, &got), RCN_ENOTFOUND);
    CHECK_EQ (append1 (s, e2), RCN_OK);
    CHECK_EQ (append1 (s, e3), RCN_OK);
    CHECK_EQ (head_of (s, a.pk), 3);
    rcn_entry_destroy (&e1);
    rcn_entry_destroy (&e2);
    rcn_entry_destroy (&e3);
    close_and_remove (&s, dir);
}

static void
test_chain (void)
{
    char *dir = rcn_test_tmpdir ("store-chain");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    rcn_entry_t *e1 = author_text (&a, "count");
    CHECK_EQ (append1 (s, e1), RCN_OK);
    uint8_t wrong[RCN_HASH_SIZE];
    memcpy (wrong, e1->hash, sizeof wrong);
    wrong[31] ^= 1;
    rcn_entry_t *bad = NULL;
    REQUIRE (rcn_entry_sign (a.sk, 2, wrong, 1, TEST_KIND, 0, (const uint8_t *) "count", 5,
                             &bad) == RCN_OK);
    CHECK_EQ (append1 (s, bad), RCN_ECHAIN);
    CHECK_EQ (head_of (s, a.pk), 1);
    CHECK_EQ (stats_of (s).entries, 1);
    CHECK_EQ (view_count (s, a.pk), 1);
    rcn_entry_t *e2 = author_text (&a, "count");    /* the right prev still goes in */
    CHECK_EQ (append1 (s, e2), RCN_OK);
    rcn_entry_destroy (&bad);
    rcn_entry_destroy (&e1);
    rcn_entry_destroy (&e2);
    close_and_remove (&s, dir);
}

static void
test_unverified_and_non_member (void)
{
    char *dir = rcn_test_tmpdir ("store-auth");
    rcn_store_t *s = open_store (dir, 0);
    author_t a, x;
    author_init (&a, 1, true);
    author_init (&x, 3, false);
    rcn_entry_t *e1 = author_text (&a, "count"), *copy = NULL;
    REQUIRE (rcn_entry_from_parts (e1->signed_bytes, e1->signed_len, e1->sig, RCN_SIG_SIZE,
                                   &copy) == RCN_OK);
    CHECK_EQ (append1 (s, copy), RCN_EUNVERIFIED);
    CHECK_EQ (head_of (s, a.pk), 0);
    rcn_entry_t *xe = author_text (&x, "count");
    CHECK (xe->verified);
    CHECK_EQ (append1 (s, xe), RCN_EORIGIN);
    CHECK_EQ (head_of (s, x.pk), 0);
    rcn_store_stats_t st = stats_of (s);
    CHECK_EQ (st.entries, 0);
    CHECK_EQ (st.origins, 0);
    CHECK_EQ (rcn_entry_verify (copy), RCN_OK);     /* once checked, it goes in */
    CHECK_EQ (append1 (s, copy), RCN_OK);
    rcn_entry_destroy (&copy);
    rcn_entry_destroy (&e1);
    rcn_entry_destroy (&xe);
    close_and_remove (&s, dir);
}

typedef struct {
    const uint8_t *hash;
    int invalid;
    rcn_entry_t *found;
} view_probe_t;

static int
view_probe_fn (const rcn_view_t *v, void *ctx)
{
    view_probe_t *p = ctx;
    int rc = rcn_view_is_invalid (v, p->hash, &p->invalid);
    if (rc)
        return rc;
    rc = rcn_view_get_by_hash (v, p->hash, &p->found);
    return rc == RCN_ENOTFOUND ? RCN_OK : rc;
}

static void
test_invalid_recorded (void)
{
    char *dir = rcn_test_tmpdir ("store-invalid");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    rcn_entry_t *es[4];
    es[0] = author_text (&a, "count");
    es[1] = author_next (&a, 77, "x", 1);
    es[2] = author_text (&a, "malformed body");
    es[3] = author_text (&a, "count");
    int res[4];
    CHECK_EQ (rcn_store_append (s, es, 4, res), RCN_OK);
    for (int i = 0; i < 4; i++)
        CHECK_EQ (res[i], RCN_OK);
    char why[128];
    CHECK_EQ (rcn_store_invalid_reason (s, es[1]->hash, why, sizeof why), RCN_OK);
    CHECK (strcmp (why, "unknown kind 77") == 0);
    CHECK_EQ (rcn_store_invalid_reason (s, es[2]->hash, why, sizeof why), RCN_OK);
    CHECK (strcmp (why, "test: body does not parse") == 0);
    CHECK_EQ (rcn_store_invalid_reason (s, es[0]->hash, why, sizeof why), RCN_ENOTFOUND);
    CHECK_EQ (rcn_store_invalid_reason (s, es[2]->hash, why, 5), RCN_OK);    /* truncated */
    CHECK (strcmp (why, "test") == 0);
    CHECK_EQ (stats_of (s).invalid, 2);
    CHECK_EQ (view_count (s, a.pk), 2);

    view_probe_t p = { es[1]->hash, -1, NULL };
    CHECK_EQ (rcn_store_read (s, &g_test_kind, view_probe_fn, &p), RCN_OK);
    CHECK_EQ (p.invalid, 1);
    CHECK (p.found && rcn_entry_same (p.found, es[1]));
    rcn_entry_destroy (&p.found);
    p = (view_probe_t) { es[3]->hash, -1, NULL };
    CHECK_EQ (rcn_store_read (s, NULL, view_probe_fn, &p), RCN_OK);
    CHECK_EQ (p.invalid, 0);
    CHECK (p.found && rcn_entry_same (p.found, es[3]));
    rcn_entry_destroy (&p.found);

    /* A rebuild judges the same entries the same way. */
    CHECK_EQ (rcn_store_rebuild_views (s), RCN_OK);
    CHECK_EQ (stats_of (s).invalid, 2);
    CHECK_EQ (view_count (s, a.pk), 2);
    CHECK_EQ (rcn_store_invalid_reason (s, es[1]->hash, why, sizeof why), RCN_OK);
    free_entries (es, 4);
    close_and_remove (&s, dir);
}

/* The view moves with the log, in the same transaction; an unregistered kind has no view. */
static void
test_kind_view (void)
{
    char *dir = rcn_test_tmpdir ("store-view");
    rcn_store_t *s = open_store (dir, 0);
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    for (int round = 1; round <= 3; round++) {
        rcn_entry_t *es[5];
        for (int i = 0; i < 5; i++)
            es[i] = author_text (i % 2 ? &b : &a, "count");
        int res[5];
        CHECK_EQ (rcn_store_append (s, es, 5, res), RCN_OK);
        CHECK_EQ (view_count (s, a.pk), 3 * round);
        CHECK_EQ (view_count (s, b.pk), 2 * round);
        CHECK_EQ (view_count (s, a.pk), head_of (s, a.pk));
        free_entries (es, 5);
    }
    static const rcn_kind_t other = { .kind = 4242, .name = "other" };
    count_ctx_t c = { a.pk, 0 };
    CHECK_EQ (rcn_store_read (s, &other, count_fn, &c), RCN_ENOTFOUND);
    close_and_remove (&s, dir);
}

/* Appends batches of `per` entries with bodies of `body` bytes until the map grew `grows`
 * times. Returns the number of entries appended. */
static int
append_until_grown (rcn_store_t *s, author_t *a, int per, size_t body, uint64_t grows)
{
    char *text = malloc (body + 1);
    REQUIRE (text);
    int total = 0;
    for (int round = 0; round < 400 && stats_of (s).map_grows < grows; round++) {
        rcn_entry_t *es[64];
        int res[64];
        REQUIRE (per <= 64);
        for (int i = 0; i < per; i++) {
            memset (text, 'a' + (total + i) % 26, body);
            memcpy (text, "count", 5);
            es[i] = author_next (a, TEST_KIND, text, body);
        }
        CHECK_EQ (rcn_store_append (s, es, per, res), RCN_OK);
        for (int i = 0; i < per; i++)
            CHECK_EQ (res[i], RCN_OK);
        total += per;
        free_entries (es, per);
    }
    free (text);
    return total;
}

static int
hash_cb (rcn_entry_t *e, void *ctx)
{
    rcn_store_t *s = ctx;
    rcn_entry_t *got = NULL;
    int rc = rcn_store_get_by_hash (s, rcn_entry_hash (e), &got);
    bool same = rc == RCN_OK && rcn_entry_same (got, e);
    rcn_entry_destroy (&got);
    return same ? 0 : 1;
}

static void
test_map_growth (void)
{
    char *dir = rcn_test_tmpdir ("store-grow");
    rcn_store_t *s = open_store (dir, 64 << 10);
    CHECK_EQ (stats_of (s).map_size, 64 << 10);
    author_t a;
    author_init (&a, 1, true);
    int n = append_until_grown (s, &a, 10, 1500, 4);
    rcn_store_stats_t st = stats_of (s);
    fprintf (stderr, "    %d entries, %" PRIu64 " growths, map %zu bytes\n", n, st.map_grows,
             st.map_size);
    CHECK (st.map_grows >= 4);
    CHECK (st.map_size >= (size_t) (64 << 10) << 4);
    CHECK_EQ (st.entries, n);
    CHECK_EQ (head_of (s, a.pk), n);
    CHECK_EQ (view_count (s, a.pk), n);
    CHECK_EQ (rcn_store_scan (s, a.pk, 1, hash_cb, s), RCN_OK);
    char why[256] = "";
    uint64_t checked = 0;
    CHECK_EQ (rcn_store_check (s, is_member, NULL, &checked, why, sizeof why), RCN_OK);
    CHECK_EQ (checked, n);

    /* One batch far larger than the map grows it several times over, in one call. */
    uint64_t grows = st.map_grows;
    size_t map = st.map_size;
    int big = (int) (map / 30000) + 8;
    n += append_until_grown (s, &a, big > 64 ? 64 : big, 30000, grows + 1);
    CHECK (stats_of (s).map_grows > grows);
    CHECK_EQ (head_of (s, a.pk), n);
    size_t grown = stats_of (s).map_size;
    CHECK (grown > map);
    rcn_store_destroy (&s);

    s = open_store (dir, 64 << 10);         /* reopened small: the grown size is kept */
    CHECK_EQ (stats_of (s).map_size, grown);
    CHECK_EQ (head_of (s, a.pk), n);
    CHECK_EQ (rcn_store_scan (s, NULL, 1, hash_cb, s), RCN_OK);
    close_and_remove (&s, dir);
}

/* A kind whose view is bigger than the entries: 12 KiB per entry, so that its own puts are
 * what fill the map. It reports LMDB failures as RCN_EDB, as kinds do. */
static int
bulk_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    (void) why; (void) whylen;
    MDB_val k = { RCN_HASH_SIZE, (void *) e->hash }, d = { 12 << 10, NULL };
    if (mdb_put (v->txn, v->dbi[0], &k, &d, MDB_RESERVE) != MDB_SUCCESS)
        return RCN_EDB;
    memset (d.mv_data, 'b', d.mv_size);
    return RCN_OK;
}

static const char *const s_bulk_dbs[] = { "bulk.data", NULL };
static const rcn_kind_t s_bulk_kind = {
    .kind = 1001, .name = "bulk", .dbs = s_bulk_dbs, .apply = bulk_apply,
};

static int
bulk_count_fn (const rcn_view_t *v, void *ctx)
{
    MDB_stat st;
    if (mdb_stat (v->txn, v->dbi[0], &st) != MDB_SUCCESS)
        return RCN_EDB;
    *(size_t *) ctx = st.ms_entries;
    return RCN_OK;
}

/* The map also grows when a kind's own mdb_put found it full (the kind only says RCN_EDB). */
static void
test_map_growth_in_a_view (void)
{
    char *dir = rcn_test_tmpdir ("store-grow-view");
    const rcn_kind_t *const kinds[] = { &g_test_kind, &s_bulk_kind, NULL };
    rcn_store_opts_t o = { .map_size = 64 << 10, .is_member = is_member, .kinds = kinds };
    rcn_store_t *s = NULL;
    REQUIRE (rcn_store_open (dir, &o, &s, NULL, 0) == RCN_OK);
    author_t a;
    author_init (&a, 1, true);
    int n = 0;
    for (int round = 0; round < 12; round++) {
        rcn_entry_t *es[8];
        int res[8], per = round < 8 ? 1 : 8;
        for (int i = 0; i < per; i++)
            es[i] = author_next (&a, 1001, "bulk", 4);
        CHECK_EQ (rcn_store_append (s, es, per, res), RCN_OK);
        for (int i = 0; i < per; i++)
            CHECK_EQ (res[i], RCN_OK);
        n += per;
        free_entries (es, per);
    }
    size_t views = 0;
    CHECK_EQ (rcn_store_read (s, &s_bulk_kind, bulk_count_fn, &views), RCN_OK);
    CHECK_EQ (views, n);
    CHECK_EQ (head_of (s, a.pk), n);
    CHECK (stats_of (s).map_grows >= 3);
    close_and_remove (&s, dir);
}

typedef struct {
    rcn_store_t *s;
    const uint8_t *origin;
    sem_t started;
    double fn_end;
    bool stable;
    int rc;
} reader_t;

/* Holds a read transaction for 300 ms, keeping a pointer into the map across it. */
static int
slow_read_fn (const rcn_view_t *v, void *ctx)
{
    reader_t *r = ctx;
    MDB_val k = { RCN_KEY_SIZE, (void *) r->origin }, d;
    if (mdb_get (v->txn, v->dbi[0], &k, &d) != MDB_SUCCESS)
        return RCN_ENOTFOUND;
    uint64_t before;
    memcpy (&before, d.mv_data, sizeof before);
    sem_post (&r->started);
    usleep (300 * 1000);
    uint64_t after;
    memcpy (&after, d.mv_data, sizeof after);       /* unmapped under us would crash here */
    r->stable = before == after;
    r->fn_end = now_s ();
    return RCN_OK;
}

static void *
reader_main (void *arg)
{
    reader_t *r = arg;
    r->rc = rcn_store_read (r->s, &g_test_kind, slow_read_fn, r);
    return NULL;
}

/* Growth waits for a read transaction open on another thread. */
static void
test_growth_waits_for_reader (void)
{
    char *dir = rcn_test_tmpdir ("store-grow-rd");
    rcn_store_t *s = open_store (dir, 64 << 10);
    author_t a;
    author_init (&a, 1, true);
    int n = append_until_grown (s, &a, 4, 200, 1);
    rcn_store_stats_t st = stats_of (s);

    reader_t r = { .s = s, .origin = a.pk };
    sem_init (&r.started, 0, 0);
    pthread_t th;
    REQUIRE (pthread_create (&th, NULL, reader_main, &r) == 0);
    sem_wait (&r.started);
    int big = (int) (st.map_size / 30000) + 4;
    n += append_until_grown (s, &a, big > 64 ? 64 : big, 30000, st.map_grows + 1);
    double appended = now_s ();
    pthread_join (th, NULL);
    CHECK (stats_of (s).map_grows > st.map_grows);
    CHECK_EQ (r.rc, RCN_OK);
    CHECK (r.stable);
    CHECK (appended >= r.fn_end);   /* the growth had to wait for the reader to finish */
    CHECK_EQ (head_of (s, a.pk), n);
    CHECK_EQ (view_count (s, a.pk), n);
    sem_destroy (&r.started);
    close_and_remove (&s, dir);
}

/* A child opens the environment and begins a read transaction, then dies without ending it;
 * another child keeps the environment open meanwhile (else LMDB would reset the reader table
 * on the next first open). Our open must clear the dead slot and count it. */
static void
test_stale_reader (void)
{
    char *dir = rcn_test_tmpdir ("store-stale");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    append_counts (s, &a, 1);
    rcn_store_destroy (&s);

    int ready[2], release[2];
    REQUIRE (pipe (ready) == 0 && pipe (release) == 0);
    pid_t holder = fork ();
    REQUIRE (holder >= 0);
    if (holder == 0) {
        close (ready[0]);
        close (release[1]);
        MDB_env *env;
        char c = 'r';
        if (mdb_env_create (&env) || mdb_env_set_maxdbs (env, 32)
            || mdb_env_open (env, dir, MDB_RDONLY, 0600))
            _exit (2);
        if (write (ready[1], &c, 1) != 1)
            _exit (3);
        while (read (release[0], &c, 1) > 0)
            ;
        mdb_env_close (env);
        _exit (0);
    }
    close (ready[1]);
    close (release[0]);
    char c;
    REQUIRE (read (ready[0], &c, 1) == 1);

    pid_t stale = fork ();
    REQUIRE (stale >= 0);
    if (stale == 0) {
        MDB_env *env;
        MDB_txn *txn;
        if (mdb_env_create (&env) || mdb_env_set_maxdbs (env, 32)
            || mdb_env_open (env, dir, MDB_RDONLY, 0600)
            || mdb_txn_begin (env, NULL, MDB_RDONLY, &txn))
            _exit (2);
        _exit (0);          /* the read transaction stays registered in the lock file */
    }
    int status;
    REQUIRE (waitpid (stale, &status, 0) == stale);
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);

    s = open_store (dir, 0);
    rcn_store_stats_t st = stats_of (s);
    CHECK (st.stale_readers >= 1);
    CHECK_EQ (head_of (s, a.pk), 1);
    rcn_store_destroy (&s);

    close (release[1]);
    close (ready[0]);
    REQUIRE (waitpid (holder, &status, 0) == holder);
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    rcn_test_rmtree (dir);
    free (dir);
}

typedef struct {
    rcn_store_t *s;
    author_t *a;
    int batches, per;
    bool ok;
} writer_t;

static void *
writer_main (void *arg)
{
    writer_t *w = arg;
    w->ok = true;
    for (int b = 0; b < w->batches; b++) {
        rcn_entry_t *es[64];
        int res[64];
        for (int i = 0; i < w->per; i++)
            if (!(es[i] = author_sign (w->a, TEST_KIND, "count", 5)))
                abort ();
        if (rcn_store_append (w->s, es, w->per, res) != RCN_OK)
            w->ok = false;
        for (int i = 0; i < w->per; i++)
            w->ok = w->ok && res[i] == RCN_OK;
        free_entries (es, w->per);
    }
    return NULL;
}

static void
test_backup_while_writing (void)
{
    char *dir = rcn_test_tmpdir ("store-bk");
    char *out = rcn_test_tmpdir ("store-bk-out");
    char dest[512], taken[512];
    snprintf (dest, sizeof dest, "%s/backup", out);
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    writer_t w = { s, &a, 40, 25, false };
    pthread_t th;
    REQUIRE (pthread_create (&th, NULL, writer_main, &w) == 0);
    for (int i = 0; i < 10000 && head_of (s, a.pk) < 100; i++)
        usleep (1000);
    char why[256] = "";
    int rc = rcn_store_backup (s, dest, why, sizeof why);
    if (rc)
        fprintf (stderr, "    backup: %s\n", why);
    CHECK_EQ (rc, RCN_OK);
    pthread_join (th, NULL);
    CHECK (w.ok);
    CHECK_EQ (head_of (s, a.pk), 1000);

    struct stat st;
    CHECK (stat (dest, &st) == 0 && (st.st_mode & 0777) == 0700);
    rcn_store_t *b = open_readonly (dest, &rc);
    CHECK_EQ (rc, RCN_OK);
    if (b) {
        uint64_t checked = 0, head = head_of (b, a.pk);
        fprintf (stderr, "    backup holds %" PRIu64 " of 1000\n", head);
        CHECK (head >= 100 && head <= 1000);
        CHECK_EQ (head % 25, 0);                        /* whole batches only */
        CHECK_EQ (rcn_store_check (b, is_member, NULL, &checked, why, sizeof why), RCN_OK);
        CHECK_EQ (checked, head);
        CHECK_EQ (view_count (b, a.pk), head);          /* views consistent with the log */
        rcn_store_destroy (&b);
    }

    /* Refuses a non-empty destination; an existing empty directory is fine. */
    CHECK_EQ (rcn_store_backup (s, dest, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, "not empty") != NULL);
    snprintf (taken, sizeof taken, "%s/empty", out);
    REQUIRE (mkdir (taken, 0700) == 0);
    CHECK_EQ (rcn_store_backup (s, taken, why, sizeof why), RCN_OK);
    b = open_readonly (taken, &rc);
    CHECK (b && head_of (b, a.pk) == 1000);
    rcn_store_destroy (&b);

    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    rcn_test_rmtree (out);
    free (dir);
    free (out);
}

/* Rewrites or deletes the value at (origin, seq) in `entries` with LMDB directly. */
static void
tamper (const char *dir, const uint8_t *origin, uint64_t seq, bool delete)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[RCN_KEY_SIZE + 8];
    memcpy (key, origin, RCN_KEY_SIZE);
    for (int i = 0; i < 8; i++)
        key[RCN_KEY_SIZE + i] = (uint8_t) (seq >> (56 - 8 * i));
    MDB_val k = { sizeof key, key }, v;
    REQUIRE (mdb_env_create (&env) == 0);
    REQUIRE (mdb_env_set_maxdbs (env, 32) == 0);
    REQUIRE (mdb_env_open (env, dir, 0, 0600) == 0);
    REQUIRE (mdb_txn_begin (env, NULL, 0, &txn) == 0);
    REQUIRE (mdb_dbi_open (txn, "entries", 0, &dbi) == 0);
    if (delete) {
        REQUIRE (mdb_del (txn, dbi, &k, NULL) == 0);
    } else {
        REQUIRE (mdb_get (txn, dbi, &k, &v) == 0);
        uint8_t *copy = malloc (v.mv_size);
        REQUIRE (copy);
        memcpy (copy, v.mv_data, v.mv_size);
        copy[v.mv_size - 1] ^= 0x01;          /* one bit of the body */
        v.mv_data = copy;
        REQUIRE (mdb_put (txn, dbi, &k, &v, 0) == 0);
        free (copy);
    }
    REQUIRE (mdb_txn_commit (txn) == 0);
    mdb_env_close (env);
}

static void
test_check_finds_tampering (void)
{
    char *dir = rcn_test_tmpdir ("store-check");
    char *out = rcn_test_tmpdir ("store-check-out");
    char bad[512], gap[512], why[256];
    snprintf (bad, sizeof bad, "%s/bad", out);
    snprintf (gap, sizeof gap, "%s/gap", out);
    rcn_store_t *s = open_store (dir, 0);
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    append_counts (s, &a, 20);
    append_counts (s, &b, 5);
    uint64_t checked = 0;
    CHECK_EQ (rcn_store_check (s, is_member, NULL, &checked, why, sizeof why), RCN_OK);
    CHECK_EQ (checked, 25);
    CHECK_EQ (rcn_store_check (s, NULL, NULL, NULL, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_store_backup (s, bad, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_store_backup (s, gap, why, sizeof why), RCN_OK);
    rcn_store_destroy (&s);

    char hex[2 * RCN_KEY_SIZE + 1], prefix[64];
    sodium_bin2hex (hex, sizeof hex, a.pk, RCN_KEY_SIZE);
    snprintf (prefix, sizeof prefix, "origin %.16s", hex);
    uint64_t before_a = memcmp (a.pk, b.pk, RCN_KEY_SIZE) < 0 ? 0 : 5;

    tamper (bad, a.pk, 7, false);
    int rc;
    s = open_readonly (bad, &rc);
    REQUIRE (s);
    rc = rcn_store_check (s, is_member, NULL, &checked, why, sizeof why);
    fprintf (stderr, "    tampered: %s\n", why);
    CHECK_EQ (rc, RCN_ESIG);
    CHECK (strstr (why, prefix) == why);
    CHECK (strstr (why, " seq 7: signature does not verify") != NULL);
    CHECK_EQ (checked, before_a + 6);
    rcn_store_destroy (&s);

    tamper (gap, a.pk, 5, true);
    s = open_readonly (gap, &rc);
    REQUIRE (s);
    rc = rcn_store_check (s, NULL, NULL, &checked, why, sizeof why);
    fprintf (stderr, "    deleted: %s\n", why);
    CHECK_EQ (rc, RCN_EGAP);
    CHECK (strstr (why, " seq 6: gap: seq 5 is missing") != NULL);
    rcn_store_destroy (&s);

    /* A check with a roster that lacks b names b as no member. */
    s = open_readonly (dir, &rc);
    REQUIRE (s);
    rc = rcn_store_check (s, is_member, a.pk, &checked, why, sizeof why);
    CHECK_EQ (rc, RCN_EORIGIN);
    CHECK (strstr (why, "seq 1: origin is not a member") != NULL);
    rcn_store_destroy (&s);

    rcn_test_rmtree (dir);
    rcn_test_rmtree (out);
    free (dir);
    free (out);
}


/* A readonly open in another process sees what the writer commits, also after the writer
 * grew the map under it (MDB_MAP_RESIZED). */
static void
test_readonly_other_process (void)
{
    char *dir = rcn_test_tmpdir ("store-ro");
    rcn_store_t *s = open_store (dir, 64 << 10);
    author_t a;
    author_init (&a, 1, true);
    append_counts (s, &a, 5);
    int up[2], down[2];
    REQUIRE (pipe (up) == 0 && pipe (down) == 0);
    pid_t pid = fork ();
    REQUIRE (pid >= 0);
    if (pid == 0) {             /* never touches the parent's store */
        close (up[0]);
        close (down[1]);
        int rc;
        rcn_store_t *r = open_readonly (dir, &rc);
        if (!r)
            _exit (2);
        uint64_t seq = 0;
        if (rcn_store_head (r, a.pk, &seq, NULL) || seq != 5)
            _exit (3);
        if (write (up[1], "a", 1) != 1)
            _exit (4);
        uint64_t want;
        if (read (down[0], &want, sizeof want) != sizeof want)
            _exit (9);
        rcn_store_stats_t st;
        if (rcn_store_head (r, a.pk, &seq, NULL) || seq != want)
            _exit (5);
        rcn_entry_t *e = NULL;
        if (rcn_store_get (r, a.pk, seq, &e) || !e)
            _exit (6);
        rcn_entry_destroy (&e);
        if (rcn_store_stats (r, &st) || st.entries != seq || st.map_size <= (64 << 10))
            _exit (7);
        if (rcn_store_append (r, NULL, 0, NULL) != RCN_OK)  /* nothing to write is fine */
            _exit (8);
        rcn_store_destroy (&r);
        _exit (0);
    }
    close (up[1]);
    close (down[0]);
    char c;
    REQUIRE (read (up[0], &c, 1) == 1);
    uint64_t n = 5 + (uint64_t) append_until_grown (s, &a, 20, 1500, 2);
    CHECK (stats_of (s).map_grows >= 2);
    REQUIRE (write (down[1], &n, sizeof n) == sizeof n);
    int status;
    REQUIRE (waitpid (pid, &status, 0) == pid);
    CHECK (WIFEXITED (status));
    CHECK_EQ (WEXITSTATUS (status), 0);
    close (up[0]);
    close (down[1]);
    close_and_remove (&s, dir);
}

typedef struct {
    rcn_store_t *r;
    const char *dir;
    author_t *a;
    int calls, child_status;
    uint64_t head_inside;
    int get_rc, invalid_rc;
} nested_t;

static int
nested_cb (rcn_entry_t *e, void *ctx)
{
    nested_t *n = ctx;
    if (n->calls++ > 0)
        return 0;
    /* Meanwhile another process grows the map well past this process's mapping. */
    pid_t pid = fork ();
    if (pid == 0) {
        rcn_store_opts_t o = { .map_size = 64 << 10, .is_member = is_member, .kinds = g_kinds };
        rcn_store_t *w = NULL;
        static char body[30000];
        if (rcn_store_open (n->dir, &o, &w, NULL, 0) != RCN_OK)
            _exit (2);
        for (int b = 0; b < 4; b++) {
            rcn_entry_t *es[10];
            int res[10];
            for (int i = 0; i < 10; i++)
                if (!(es[i] = author_sign (n->a, TEST_KIND, body, sizeof body)))
                    _exit (3);
            if (rcn_store_append (w, es, 10, res) != RCN_OK || res[9] != RCN_OK)
                _exit (4);
            free_entries (es, 10);
        }
        rcn_store_destroy (&w);
        _exit (0);
    }
    if (pid < 0 || waitpid (pid, &n->child_status, 0) != pid)
        n->child_status = -1;
    /* Reads from inside the callback join its snapshot: no new transaction to meet
     * MDB_MAP_RESIZED, no wait for a growth on the lock this thread holds. */
    if (rcn_store_head (n->r, n->a->pk, &n->head_inside, NULL) != RCN_OK)
        n->head_inside = 0;
    rcn_entry_t *got = NULL;
    n->get_rc = rcn_store_get_by_hash (n->r, rcn_entry_hash (e), &got);
    rcn_entry_destroy (&got);
    char why[64];
    n->invalid_rc = rcn_store_invalid_reason (n->r, rcn_entry_hash (e), why, sizeof why);
    return 0;
}

static void
test_nested_reads_under_growth (void)
{
    char *dir = rcn_test_tmpdir ("store-nested");
    rcn_store_t *s = open_store (dir, 64 << 10);
    author_t a;
    author_init (&a, 1, true);
    append_counts (s, &a, 5);
    rcn_store_destroy (&s);
    int rc;
    rcn_store_t *r = open_readonly (dir, &rc);
    REQUIRE (r);
    nested_t n = { .r = r, .dir = dir, .a = &a };
    alarm (30);                     /* a self-deadlock fails the test instead of hanging it */
    CHECK_EQ (rcn_store_scan (r, a.pk, 1, nested_cb, &n), RCN_OK);
    alarm (0);
    CHECK (WIFEXITED (n.child_status) && WEXITSTATUS (n.child_status) == 0);
    CHECK_EQ (n.calls, 5);
    CHECK_EQ (n.head_inside, 5);    /* the scan's snapshot */
    CHECK_EQ (n.get_rc, RCN_OK);
    CHECK_EQ (n.invalid_rc, RCN_ENOTFOUND);
    CHECK_EQ (head_of (r, a.pk), 45);       /* a new read follows the grown map */
    CHECK (stats_of (r).map_size > (64 << 10) * 8);
    close_and_remove (&r, dir);
}

static void
test_open_errors (void)
{
    char *dir = rcn_test_tmpdir ("store-open");
    char missing[512], why[256] = "";
    snprintf (missing, sizeof missing, "%s/none", dir);
    int rc;
    rcn_store_opts_t ro = { .readonly = true };
    rcn_store_t *s = (rcn_store_t *) 1;
    CHECK_EQ (rcn_store_open (missing, &ro, &s, why, sizeof why), RCN_EIO);
    CHECK (s == NULL && why[0]);
    CHECK_EQ (rcn_store_open (dir, &ro, &s, why, sizeof why), RCN_EIO);   /* empty dir */

    s = open_store (missing, 0);        /* created, 0700 */
    struct stat st;
    CHECK (stat (missing, &st) == 0 && (st.st_mode & 0777) == 0700);
    author_t a;
    author_init (&a, 1, true);
    append_counts (s, &a, 1);
    rcn_store_destroy (&s);
    rcn_store_destroy (&s);             /* twice is safe */
    rcn_store_destroy (NULL);

    /* Readonly stores write nothing. */
    s = open_readonly (missing, &rc);
    REQUIRE (s);
    rcn_entry_t *e2 = author_text (&a, "count");
    int res;
    CHECK_EQ (rcn_store_append (s, &e2, 1, &res), RCN_ESTATE);
    CHECK_EQ (rcn_store_rebuild_views (s), RCN_ESTATE);
    rcn_store_destroy (&s);

    /* A format marker that is not ours. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_begin (missing, 0, &env, &txn);
    REQUIRE (mdb_dbi_open (txn, "meta", 0, &dbi) == 0);
    MDB_val k = { 6, "format" }, v = { 11, "rcn-store-9" };
    REQUIRE (mdb_put (txn, dbi, &k, &v, 0) == 0);
    REQUIRE (mdb_txn_commit (txn) == 0);
    mdb_env_close (env);
    rcn_store_opts_t rw = { .is_member = is_member, .kinds = g_kinds };
    CHECK_EQ (rcn_store_open (missing, &rw, &s, why, sizeof why), RCN_EVERSION);
    CHECK (strstr (why, "rcn-store-9") != NULL);
    CHECK (s == NULL);

    rcn_entry_destroy (&e2);
    rcn_test_rmtree (dir);
    free (dir);
}

/* ---- the hash tail (store.h) ---------------------------------------------------------------- */

static rcn_store_t *
open_sliced (const char *dir, size_t map_size, size_t merge_at, size_t slice_pages)
{
    rcn_store_opts_t o = { .map_size = map_size, .tail_merge_at = merge_at,
                           .merge_slice_pages = slice_pages };
    return open_store_with (dir, o);
}

static rcn_store_t *
open_tail (const char *dir, size_t map_size, size_t merge_at)
{
    return open_sliced (dir, map_size, merge_at, 0);
}

/* The entry s finds by hash is (origin, seq). */
static bool
found_by_hash (rcn_store_t *s, const uint8_t *hash, const uint8_t *origin, uint64_t seq)
{
    rcn_entry_t *e = NULL;
    bool ok = rcn_store_get_by_hash (s, hash, &e) == RCN_OK && e && e->h.seq == seq
           && memcmp (e->h.origin, origin, RCN_KEY_SIZE) == 0
           && memcmp (rcn_entry_hash (e), hash, RCN_HASH_SIZE) == 0;
    rcn_entry_destroy (&e);
    return ok;
}

/* The n entries made so far, all found by hash in s. */
typedef struct {
    uint8_t hash[400][RCN_HASH_SIZE];
    uint8_t origin[400][RCN_KEY_SIZE];
    uint64_t seq[400];
    int n;
} made_t;

static void
made_add (made_t *m, rcn_entry_t *e)
{
    REQUIRE (m->n < 400);
    memcpy (m->hash[m->n], rcn_entry_hash (e), RCN_HASH_SIZE);
    memcpy (m->origin[m->n], e->h.origin, RCN_KEY_SIZE);
    m->seq[m->n++] = e->h.seq;
}

static int
all_found (rcn_store_t *s, const made_t *m)
{
    int n = 0;
    for (int i = 0; i < m->n; i++)
        n += found_by_hash (s, m->hash[i], m->origin[i], m->seq[i]);
    return n;
}

static bool
check_ok (rcn_store_t *s, uint64_t want)
{
    uint64_t checked = 0;
    char why[512] = "";
    int rc = rcn_store_check (s, is_member, NULL, &checked, why, sizeof why);
    if (rc != RCN_OK || checked != want)
        fprintf (stderr, "    check: %s (%" PRIu64 " checked, %" PRIu64 " wanted)\n", why, checked,
                 want);
    return rc == RCN_OK && checked == want;
}

static void
append_made (rcn_store_t *s, author_t *a, made_t *m, int n)
{
    for (int i = 0; i < n; i++) {
        rcn_entry_t *e = author_text (a, "tail");
        made_add (m, e);
        CHECK_EQ (append1 (s, e), RCN_OK);
        rcn_entry_destroy (&e);
    }
}

/* An entry is found by hash while its hash is in the tail, after the merge into `hashes`, and
 * after a reopen (the tail rebuilt from the entries above the marks); a readonly store opened
 * before finds what the writer committed after it, across a merge; the offline check holds
 * at every step. */
static void
test_hash_tail (void)
{
    char *dir = rcn_test_tmpdir ("store-tail");
    rcn_store_t *s = open_tail (dir, 0, 10);
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    made_t m = { .n = 0 };
    append_made (s, &a, &m, 7);
    rcn_store_stats_t st = stats_of (s);
    CHECK_EQ (st.hash_tail, 7u);
    CHECK_EQ (st.tail_merges, 0u);
    CHECK_EQ (all_found (s, &m), 7);
    CHECK (check_ok (s, 7));

    int rc;
    rcn_store_t *r = open_readonly (dir, &rc);
    REQUIRE (r);
    CHECK_EQ (all_found (r, &m), 7);
    append_made (s, &b, &m, 3);                 /* the 10th: merged after its commit */
    st = stats_of (s);
    CHECK_EQ (st.hash_tail, 0u);
    CHECK_EQ (st.tail_merges, 1u);
    append_made (s, &a, &m, 2);
    st = stats_of (s);
    CHECK_EQ (st.hash_tail, 2u);
    CHECK_EQ (all_found (s, &m), 12);
    CHECK (check_ok (s, 12));
    CHECK_EQ (all_found (r, &m), 12);           /* the reader: 7 of its own, the rest since */
    CHECK (check_ok (r, 12));
    rcn_store_destroy (&r);

    rcn_store_destroy (&s);
    s = open_tail (dir, 0, 10);
    CHECK_EQ (stats_of (s).hash_tail, 2u);      /* rebuilt at open: the 2 above the marks */
    CHECK_EQ (all_found (s, &m), 12);
    CHECK (check_ok (s, 12));

    /* One batch of 9: 11 in the tail after its commit, then merged. */
    rcn_entry_t *batch[9];
    int results[9];
    for (int i = 0; i < 9; i++) {
        batch[i] = author_text (i % 2 ? &a : &b, "batch");
        made_add (&m, batch[i]);
    }
    CHECK_EQ (rcn_store_append (s, batch, 9, results), RCN_OK);
    for (int i = 0; i < 9; i++)
        CHECK_EQ (results[i], RCN_OK);
    free_entries (batch, 9);
    st = stats_of (s);
    CHECK_EQ (st.hash_tail, 0u);
    CHECK_EQ (st.tail_merges, 1u);
    CHECK_EQ (all_found (s, &m), 21);
    CHECK (check_ok (s, 21));

    /* Not a hash of the log: found nowhere. */
    uint8_t none[RCN_HASH_SIZE];
    memset (none, 0x5a, sizeof none);
    rcn_entry_t *e = NULL;
    CHECK_EQ (rcn_store_get_by_hash (s, none, &e), RCN_ENOTFOUND);
    CHECK (e == NULL);
    close_and_remove (&s, dir);
}

/* A store of format 1 (before hashes.mark: every hash in `hashes`) is read as it is by a
 * readonly open and converted by a writer's: marks at every head, format 2, the tail from
 * there. */
static void
test_hash_tail_format_1 (void)
{
    char *dir = rcn_test_tmpdir ("store-v1");
    rcn_store_t *s = open_tail (dir, 0, 1);     /* merged after every commit */
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    made_t m = { .n = 0 };
    append_made (s, &a, &m, 4);
    append_made (s, &b, &m, 3);
    CHECK_EQ (stats_of (s).hash_tail, 0u);
    rcn_store_destroy (&s);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi marks, meta;
    raw_begin (dir, 0, &env, &txn);
    REQUIRE (mdb_dbi_open (txn, "hashes.mark", 0, &marks) == 0);
    REQUIRE (mdb_drop (txn, marks, 1) == 0);
    REQUIRE (mdb_dbi_open (txn, "meta", 0, &meta) == 0);
    MDB_val k = { 6, "format" }, v = { 11, "rcn-store-1" };
    REQUIRE (mdb_put (txn, meta, &k, &v, 0) == 0);
    REQUIRE (mdb_txn_commit (txn) == 0);
    mdb_env_close (env);

    int rc;
    rcn_store_t *r = open_readonly (dir, &rc);
    CHECK_EQ (rc, RCN_OK);
    REQUIRE (r);
    CHECK_EQ (stats_of (r).hash_tail, 0u);
    CHECK_EQ (all_found (r, &m), 7);
    CHECK (check_ok (r, 7));
    rcn_store_destroy (&r);

    s = open_tail (dir, 0, 100);
    CHECK_EQ (stats_of (s).hash_tail, 0u);
    CHECK_EQ (all_found (s, &m), 7);
    append_made (s, &a, &m, 2);
    CHECK_EQ (stats_of (s).hash_tail, 2u);
    CHECK_EQ (all_found (s, &m), 9);
    CHECK (check_ok (s, 9));
    rcn_store_destroy (&s);

    raw_begin (dir, MDB_RDONLY, &env, &txn);
    REQUIRE (mdb_dbi_open (txn, "meta", 0, &meta) == 0);
    CHECK (mdb_get (txn, meta, &k, &v) == 0 && v.mv_size == 11
           && memcmp (v.mv_data, "rcn-store-2", 11) == 0);
    CHECK (mdb_dbi_open (txn, "hashes.mark", 0, &marks) == 0);
    mdb_txn_abort (txn);
    mdb_env_close (env);
    rcn_test_rmtree (dir);
    free (dir);
}

/* A merge in slices (one transaction per run of the hash order, here one leaf page each),
 * and a merge that stopped part way: rows above the marks, which the check allows and the
 * next merge finds already there. */
static void
test_hash_tail_slices (void)
{
    char *dir = rcn_test_tmpdir ("store-slices");
    rcn_store_t *s = open_sliced (dir, 0, 100, 1);
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    static made_t m;
    m.n = 0;
    append_made (s, &a, &m, 150);
    append_made (s, &b, &m, 150);               /* merges at 100, 200 and 300 */
    rcn_store_stats_t st = stats_of (s);
    CHECK_EQ (st.tail_merges, 3u);
    CHECK_EQ (st.hash_tail, 0u);
    CHECK_EQ (all_found (s, &m), 300);
    CHECK (check_ok (s, 300));
    append_made (s, &a, &m, 5);
    CHECK_EQ (stats_of (s).hash_tail, 5u);
    rcn_store_destroy (&s);

    /* What a merge stopped after its first slice leaves: a row above a's mark. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi hashes;
    raw_begin (dir, 0, &env, &txn);
    REQUIRE (mdb_dbi_open (txn, "hashes", 0, &hashes) == 0);
    uint8_t key[RCN_KEY_SIZE + 8];
    memcpy (key, m.origin[301], RCN_KEY_SIZE);
    for (int i = 0; i < 8; i++)
        key[RCN_KEY_SIZE + i] = (uint8_t) (m.seq[301] >> (56 - 8 * i));
    MDB_val k = { RCN_HASH_SIZE, m.hash[301] }, v = { sizeof key, key };
    REQUIRE (mdb_put (txn, hashes, &k, &v, 0) == 0);
    REQUIRE (mdb_txn_commit (txn) == 0);
    mdb_env_close (env);

    s = open_sliced (dir, 0, 8, 1);
    CHECK_EQ (stats_of (s).hash_tail, 5u);
    CHECK (check_ok (s, 305));
    CHECK_EQ (all_found (s, &m), 305);
    append_made (s, &b, &m, 3);                 /* 8: merged, the row found already there */
    st = stats_of (s);
    CHECK_EQ (st.tail_merges, 1u);
    CHECK_EQ (st.hash_tail, 0u);
    CHECK_EQ (all_found (s, &m), 308);
    CHECK (check_ok (s, 308));
    close_and_remove (&s, dir);
}

/* A batch run again after the map grew (store.c with_write_txn) leaves each of its hashes in
 * the tail once: what the failed attempt put there was taken back. */
static void
test_hash_tail_rollback (void)
{
    char *dir = rcn_test_tmpdir ("store-tail-grow");
    rcn_store_t *s = open_tail (dir, 64 << 10, 100000);
    author_t a;
    author_init (&a, 1, true);
    enum { N = 400 };
    rcn_entry_t **batch = calloc (N, sizeof *batch);
    int *results = calloc (N, sizeof *results);
    REQUIRE (batch && results);
    char big[300];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < N; i++)
        batch[i] = author_text (&a, big);
    CHECK_EQ (rcn_store_append (s, batch, N, results), RCN_OK);
    rcn_store_stats_t st = stats_of (s);
    CHECK (st.map_grows >= 1);
    CHECK_EQ (st.hash_tail, (uint64_t) N);
    int found = 0;
    for (int i = 0; i < N; i++)
        found += found_by_hash (s, rcn_entry_hash (batch[i]), a.pk, (uint64_t) i + 1);
    CHECK_EQ (found, N);
    CHECK (check_ok (s, N));
    free_entries (batch, N);
    free (batch);
    free (results);
    close_and_remove (&s, dir);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    RUN (test_append_read);
    RUN (test_scan);
    RUN (test_group_commit);
    RUN (test_batch_order);
    RUN (test_dup);
    RUN (test_gap);
    RUN (test_chain);
    RUN (test_unverified_and_non_member);
    RUN (test_invalid_recorded);
    RUN (test_kind_view);
    RUN (test_map_growth);
    RUN (test_map_growth_in_a_view);
    RUN (test_growth_waits_for_reader);
    RUN (test_stale_reader);
    RUN (test_backup_while_writing);
    RUN (test_check_finds_tampering);
    RUN (test_readonly_other_process);
    RUN (test_nested_reads_under_growth);
    RUN (test_open_errors);
    RUN (test_hash_tail);
    RUN (test_hash_tail_format_1);
    RUN (test_hash_tail_slices);
    RUN (test_hash_tail_rollback);
    return rcn_test_done ();
}
