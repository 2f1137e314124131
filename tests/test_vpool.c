/* test_vpool.c — signature checks on worker threads: the same results whatever the thread
 * count (good and forged entries mixed, small groups and a group of 1000), exactly one check
 * per entry (rcn_entry_verify_calls), threads reused across many small groups, and a pool
 * destroyed with no work, twice, or never given any; entries checked ahead (prefetched) give
 * the same outcomes with still one check each. Timing is no test's business here. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "rcn/vpool.h"

enum { NMAX = 1000 };

/* The parts of NMAX entries of two signers; every 7th forged (a signature bit, or a body
 * byte after signing), so a good and a bad one sit next to each other everywhere. */
static struct {
    uint8_t *signed_bytes;
    size_t signed_len;
    uint8_t sig[RCN_SIG_SIZE];
    uint8_t hash[RCN_HASH_SIZE];      /* of the genuine entry */
    bool good;
} s_parts[NMAX];

static void
make_parts (void)
{
    uint8_t pk[2][32], sk[2][64];
    for (int k = 0; k < 2; k++)
        crypto_sign_keypair (pk[k], sk[k]);
    uint8_t prev[2][32];
    for (int i = 0; i < NMAX; i++) {
        int k = i % 2;
        uint64_t seq = (uint64_t) i / 2 + 1;
        uint8_t body[100];
        memset (body, i & 0xff, sizeof body);
        rcn_entry_t *e = NULL;
        REQUIRE (rcn_entry_sign (sk[k], seq, seq > 1 ? prev[k] : NULL, 1795311000000ULL + seq, 1,
                                 0, body, sizeof body, &e) == RCN_OK);
        memcpy (prev[k], e->hash, 32);
        memcpy (s_parts[i].hash, e->hash, 32);
        s_parts[i].signed_len = e->signed_len;
        s_parts[i].signed_bytes = malloc (e->signed_len);
        REQUIRE (s_parts[i].signed_bytes);
        memcpy (s_parts[i].signed_bytes, e->signed_bytes, e->signed_len);
        memcpy (s_parts[i].sig, e->sig, RCN_SIG_SIZE);
        s_parts[i].good = i % 7 != 3;
        if (!s_parts[i].good) {
            if (i % 2)
                s_parts[i].sig[i % RCN_SIG_SIZE] ^= 0x01;
            else
                s_parts[i].signed_bytes[e->signed_len - 1] ^= 0x80;
        }
        rcn_entry_destroy (&e);
    }
}

/* Fresh, unverified entries from the parts [from, from + n). */
static rcn_entry_t **
entries_of (size_t from, size_t n)
{
    rcn_entry_t **es = calloc (n ? n : 1, sizeof *es);
    REQUIRE (es);
    for (size_t i = 0; i < n; i++) {
        REQUIRE (rcn_entry_from_parts (s_parts[from + i].signed_bytes, s_parts[from + i].signed_len,
                                       s_parts[from + i].sig, RCN_SIG_SIZE, &es[i]) == RCN_OK);
        REQUIRE (!es[i]->verified);
    }
    return es;
}

static void
free_entries (rcn_entry_t **es, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rcn_entry_destroy (&es[i]);
    free (es);
}

/* Checks parts [from, from + n) on pool (may be NULL); every result, flag and hash as
 * expected, and exactly one signature check per entry. */
static void
check_group (rcn_vpool_t *pool, size_t from, size_t n, int *out)
{
    rcn_entry_t **es = entries_of (from, n);
    int res[NMAX];
    memset (res, 0x55, sizeof res);
    uint64_t v0 = rcn_entry_verify_calls ();
    rcn_vpool_verify (pool, es, n, res);
    CHECK_EQ (rcn_entry_verify_calls () - v0, n);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        const bool good = s_parts[from + i].good;
        if (res[i] != (good ? RCN_OK : RCN_ESIG) || es[i]->verified != good
            || (good && (!es[i]->has_hash || memcmp (es[i]->hash, s_parts[from + i].hash, 32) != 0)))
            wrong++;
        if (out)
            out[i] = res[i];
    }
    CHECK_EQ (wrong, 0);
    free_entries (es, n);
}

/* Parts [0, 64) judged on pool, whatever it prefetched before: results right. */
static void
check_group_ahead_ok (rcn_vpool_t *pool)
{
    rcn_entry_t **es = entries_of (0, 64);
    int res[64];
    rcn_vpool_verify (pool, es, 64, res);
    size_t wrong = 0;
    for (size_t i = 0; i < 64; i++)
        wrong += res[i] != (s_parts[i].good ? RCN_OK : RCN_ESIG) || es[i]->verified != s_parts[i].good;
    CHECK_EQ (wrong, 0);
    free_entries (es, 64);
}

static void
test_same_results_any_thread_count (void)
{
    static int inline_res[NMAX], res[NMAX];
    check_group (NULL, 0, NMAX, inline_res);
    size_t counts[] = { 0, 1, 2, 4 };
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        rcn_vpool_t *pool = NULL;
        REQUIRE (rcn_vpool_new (counts[c], &pool) == RCN_OK);
        CHECK_EQ (rcn_vpool_threads (pool), counts[c] > 1 ? counts[c] : 1);
        check_group (pool, 0, NMAX, res);
        CHECK (memcmp (res, inline_res, sizeof res) == 0);
        /* Groups around the inline threshold, and one of every size up to 40. */
        for (size_t n = 0; n <= 40; n++)
            check_group (pool, n * 7 % 500, n, NULL);
        rcn_vpool_destroy (&pool);
        CHECK (pool == NULL);
    }
}

/* The threads are started once and serve group after group: 3000 small groups (sizes 0..11,
 * so most go to the workers) on one pool, every one judged right. */
static void
test_many_small_groups (void)
{
    rcn_vpool_t *pool = NULL;
    REQUIRE (rcn_vpool_new (4, &pool) == RCN_OK);
    size_t wrong = 0;
    uint64_t checks = 0, v0 = rcn_entry_verify_calls ();
    for (size_t g = 0; g < 3000; g++) {
        size_t n = g % 12, from = g * 13 % (NMAX - 12);
        rcn_entry_t **es = entries_of (from, n);
        int res[12];
        rcn_vpool_verify (pool, es, n, res);
        for (size_t i = 0; i < n; i++)
            wrong += res[i] != (s_parts[from + i].good ? RCN_OK : RCN_ESIG);
        checks += n;
        free_entries (es, n);
    }
    CHECK_EQ (wrong, 0);
    CHECK_EQ (rcn_entry_verify_calls () - v0, checks);
    rcn_vpool_destroy (&pool);
}

static void
test_lifecycle (void)
{
    /* Destroyed with no work ever given, twice; NULL accepted. */
    rcn_vpool_t *pool = NULL;
    REQUIRE (rcn_vpool_new (4, &pool) == RCN_OK);
    rcn_vpool_destroy (&pool);
    CHECK (pool == NULL);
    rcn_vpool_destroy (&pool);
    rcn_vpool_destroy (NULL);
    /* More than the cap is capped; the default is within 1..cap. */
    REQUIRE (rcn_vpool_new (1000, &pool) == RCN_OK);
    CHECK_EQ (rcn_vpool_threads (pool), RCN_VPOOL_MAX_THREADS);
    rcn_vpool_destroy (&pool);
    size_t d = rcn_vpool_default_threads ();
    CHECK (d >= 1 && d <= RCN_VPOOL_MAX_THREADS);
    CHECK_EQ (rcn_vpool_threads (NULL), 1);
    /* An empty group on a NULL pool and on a real one. */
    rcn_vpool_verify (NULL, NULL, 0, NULL);
    REQUIRE (rcn_vpool_new (2, &pool) == RCN_OK);
    rcn_vpool_verify (pool, NULL, 0, NULL);
    rcn_vpool_destroy (&pool);
    /* Pools come and go while others live. */
    rcn_vpool_t *a = NULL, *b = NULL;
    REQUIRE (rcn_vpool_new (3, &a) == RCN_OK && rcn_vpool_new (2, &b) == RCN_OK);
    check_group (a, 0, 64, NULL);
    check_group (b, 64, 64, NULL);
    rcn_vpool_destroy (&a);
    check_group (b, 128, 64, NULL);
    rcn_vpool_destroy (&b);
}

/* Checked ahead: groups whose entries were prefetched (all, some, or none of them; the next
 * group's prefetched while this one is judged, as the node does) get the same results, flags
 * and hashes, and every entry is checked once in all (by a worker ahead, or in its group).
 * A pool with no workers takes nothing; prefetched outcomes no group claims make room. */
static void
test_checked_ahead (void)
{
    rcn_vpool_t *none = NULL, *pool = NULL;
    REQUIRE (rcn_vpool_new (1, &none) == RCN_OK);
    rcn_entry_t **one = entries_of (0, 1);
    CHECK (!rcn_vpool_prefetch (none, &one[0]));
    CHECK (one[0] != NULL);                           /* left to the caller */
    free_entries (one, 1);
    rcn_vpool_destroy (&none);

    REQUIRE (rcn_vpool_new (3, &pool) == RCN_OK);
    enum { G = 100 };
    uint64_t v0 = rcn_entry_verify_calls ();
    size_t wrong = 0;
    for (size_t from = 0; from + G <= NMAX; from += G) {
        /* Group k+1 ahead (all but every 5th entry of it), then group k judged. */
        rcn_entry_t **ahead = entries_of (from, G);
        for (size_t i = 0; i < G; i++)
            if (i % 5 != 4)
                CHECK (rcn_vpool_prefetch (pool, &ahead[i]) && ahead[i] == NULL);
        free_entries (ahead, G);
        rcn_entry_t **es = entries_of (from, G);
        int res[G];
        rcn_vpool_verify (pool, es, G, res);
        for (size_t i = 0; i < G; i++) {
            const bool good = s_parts[from + i].good;
            wrong += res[i] != (good ? RCN_OK : RCN_ESIG) || es[i]->verified != good
                     || (good && (!es[i]->has_hash
                                  || memcmp (es[i]->hash, s_parts[from + i].hash, 32) != 0));
        }
        free_entries (es, G);
    }
    CHECK_EQ (wrong, 0);
    CHECK_EQ (rcn_entry_verify_calls () - v0, NMAX);
    uint64_t checked, taken;
    rcn_vpool_prefetch_counts (pool, &checked, &taken);
    CHECK_EQ (taken, NMAX - NMAX / 5);
    CHECK_EQ (checked, taken);
    /* More prefetched than the ring holds, claimed by nobody: the oldest judged make room,
     * and a later group is still judged right. */
    for (size_t k = 0; k < 3; k++) {
        rcn_entry_t **es = entries_of (0, NMAX);
        for (size_t i = 0; i < NMAX; i++)
            (void) rcn_vpool_prefetch (pool, &es[i]);
        free_entries (es, NMAX);
    }
    check_group_ahead_ok (pool);
    rcn_vpool_destroy (&pool);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    make_parts ();
    RUN (test_same_results_any_thread_count);
    RUN (test_many_small_groups);
    RUN (test_lifecycle);
    RUN (test_checked_ahead);
    for (int i = 0; i < NMAX; i++)
        free (s_parts[i].signed_bytes);
    return rcn_test_done ();
}
