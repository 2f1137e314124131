/* test_ingest.c — entries from outside enter in the order DESIGN §3 fixes: the size cap
 * before unpacking, duplicates dropped before any crypto (counted with
 * rcn_entry_verify_calls), the signature before any body is unpacked, one group commit. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "rcn/ingest.h"

static int s_applied;                 /* bodies the test kind was shown */

static int
count_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    (void) v; (void) why; (void) whylen;
    REQUIRE (e->verified);            /* a body is never seen before its signature checks */
    s_applied++;
    return RCN_OK;
}

static const rcn_kind_t s_kind = { .kind = 1, .name = "counted", .apply = count_apply };
static const rcn_kind_t *const s_kinds[] = { &s_kind, NULL };

typedef struct {
    uint8_t pk[32], sk[64];
} member_t;

static member_t s_a, s_stranger;

static bool
only_a (const uint8_t origin[32], void *ctx)
{
    (void) ctx;
    return memcmp (origin, s_a.pk, 32) == 0;
}

/* The envelope of m's seq `seq` in a chain whose prev is `prev`, its body filled with `fill`. */
static uint8_t *
wire_fill (const member_t *m, uint64_t seq, const uint8_t *prev, int fill, uint8_t hash_out[32],
           size_t *len)
{
    uint8_t body[40];
    memset (body, fill, sizeof body);
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (m->sk, seq, prev, 1795311000000ULL + seq, 1, 0, body, sizeof body,
                             &e) == RCN_OK);
    memcpy (hash_out, e->hash, 32);
    uint8_t *w = NULL;
    REQUIRE (rcn_entry_encode (e, &w, len) == RCN_OK);
    rcn_entry_destroy (&e);
    return w;
}

/* The envelope of a's (or another signer's) seq `seq` in a chain whose prev is `prev`. */
static uint8_t *
wire_of (const member_t *m, uint64_t seq, const uint8_t *prev, uint8_t hash_out[32], size_t *len)
{
    return wire_fill (m, seq, prev, (int) seq, hash_out, len);
}

/* A copy of envelope w with one bit of its signature (the envelope's last field) flipped. */
static uint8_t *
forge (const uint8_t *w, size_t len)
{
    uint8_t *f = malloc (len);
    REQUIRE (f);
    memcpy (f, w, len);
    f[len - 5] ^= 1;
    return f;
}

static void
test_ingest (void)
{
    char *dir = rcn_test_tmpdir ("ingest");
    rcn_store_opts_t o = { .is_member = only_a, .kinds = s_kinds };
    rcn_store_t *s = NULL;
    char why[256];
    REQUIRE (rcn_store_open (dir, &o, &s, why, sizeof why) == RCN_OK);

    enum { N = 10 };
    uint8_t *w[N + 8];
    size_t len[N + 8];
    int res[N + 8];
    uint8_t hash[N + 1][32];
    memset (hash[0], 0, 32);
    for (int i = 0; i < N; i++)
        w[i] = wire_of (&s_a, (uint64_t) i + 1, i ? hash[i] : NULL, hash[i + 1], &len[i]);

    /* A chain in one group: one commit, every body applied once. */
    rcn_ingest_stats_t st = { 0 };
    uint64_t v0 = rcn_entry_verify_calls ();
    CHECK_EQ (rcn_ingest (s, (const uint8_t *const *) w, len, 6, res, &st), RCN_OK);
    for (int i = 0; i < 6; i++)
        CHECK_EQ (res[i], RCN_OK);
    CHECK_EQ (st.stored, 6);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 6);
    CHECK_EQ (s_applied, 6);

    /* Everything again, plus the rest, plus one entry twice in the group: the duplicates
     * cost no signature check. */
    const uint8_t *again[N + 1];
    size_t again_len[N + 1];
    for (int i = 0; i < N; i++) {
        again[i] = w[i];
        again_len[i] = len[i];
    }
    again[N] = w[8];
    again_len[N] = len[8];
    uint64_t v1 = rcn_entry_verify_calls ();
    rcn_ingest_stats_t st2 = { 0 };
    CHECK_EQ (rcn_ingest (s, again, again_len, N + 1, res, &st2), RCN_OK);
    for (int i = 0; i < 6; i++)
        CHECK_EQ (res[i], RCN_EDUP);
    for (int i = 6; i < N; i++)
        CHECK_EQ (res[i], RCN_OK);
    CHECK_EQ (res[N], RCN_EDUP);
    CHECK_EQ (st2.duplicates, 7);
    CHECK_EQ (rcn_entry_verify_calls () - v1, N - 6);     /* only the four new ones */
    CHECK_EQ (s_applied, N);

    /* Bad input: each refused with its reason, none costs a signature check but the forged
     * signature, and none reaches a kind. */
    uint8_t big[RCN_WIRE_MAX + 1];
    memset (big, 0x0a, sizeof big);
    const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
    uint8_t h11[32], hx[32];
    size_t l11, lx, lf;
    uint8_t *next = wire_of (&s_a, 11, hash[N], h11, &l11);
    uint8_t *forged = malloc (l11);
    memcpy (forged, next, l11);
    forged[l11 - 5] ^= 1;                       /* inside the signature, the envelope's last field */
    uint8_t *gap = wire_of (&s_a, 13, h11, hx, &lx);
    uint8_t *stranger = wire_of (&s_stranger, 1, NULL, hx, &lf);
    /* An envelope whose signed bytes are shorter than a header. */
    uint8_t tiny_env[] = { 0x0a, 0x04, 'R', 'C', 'N', '1', 0x12, 0x40 };
    uint8_t tiny[sizeof tiny_env + 64];
    memcpy (tiny, tiny_env, sizeof tiny_env);
    memset (tiny + sizeof tiny_env, 7, 64);
    const uint8_t *bad[] = { big, garbage, tiny, forged, gap, stranger };
    size_t bad_len[] = { sizeof big, sizeof garbage, sizeof tiny, l11, lx, lf };
    uint64_t v2 = rcn_entry_verify_calls ();
    int applied = s_applied;
    rcn_ingest_stats_t st3 = { 0 };
    CHECK_EQ (rcn_ingest (s, bad, bad_len, 6, res, &st3), RCN_OK);
    CHECK_EQ (res[0], RCN_ETOOBIG);
    CHECK (res[1] != RCN_OK && res[1] != RCN_ESIG);
    CHECK_EQ (res[2], RCN_ETRUNC);
    CHECK_EQ (res[3], RCN_ESIG);
    CHECK_EQ (res[4], RCN_EGAP);
    CHECK_EQ (res[5], RCN_EORIGIN);
    CHECK_EQ (st3.malformed, 3);
    CHECK_EQ (st3.bad_sig, 1);
    CHECK_EQ (st3.refused, 2);
    CHECK_EQ (rcn_entry_verify_calls () - v2, 3);          /* forged, gap, stranger */
    CHECK_EQ (s_applied, applied);
    uint64_t head = 0;
    CHECK_EQ (rcn_store_head (s, s_a.pk, &head, NULL), RCN_OK);
    CHECK_EQ (head, N);

    /* And the genuine seq 11 still goes in after all that. */
    const uint8_t *ok1[] = { next };
    CHECK_EQ (rcn_ingest (s, ok1, &l11, 1, res, NULL), RCN_OK);
    CHECK_EQ (res[0], RCN_OK);

    free (next);
    free (forged);
    free (gap);
    free (stranger);
    for (int i = 0; i < N; i++)
        free (w[i]);
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);
}

/* Two stores fed the same groups, one checking on the caller's thread (rcn_ingest), the
 * other on a pool of 4 threads: the same per-entry results, the same stats, the same number of
 * signature checks, the same log. The group mixes everything a group can hold: a chain, a
 * forged copy just before its genuine entry, duplicates in the log and in the group, a gap,
 * a stranger, garbage; then a catch-up chunk with fork evidence, one good and one forged. */
static void
test_pool_same_as_inline (void)
{
    char *dir[2] = { rcn_test_tmpdir ("ingest-inline"), rcn_test_tmpdir ("ingest-pool") };
    rcn_store_opts_t o = { .is_member = only_a, .kinds = s_kinds };
    rcn_store_t *s[2] = { NULL, NULL };
    char why[256];
    for (int k = 0; k < 2; k++)
        REQUIRE (rcn_store_open (dir[k], &o, &s[k], why, sizeof why) == RCN_OK);
    rcn_vpool_t *pool = NULL;
    REQUIRE (rcn_vpool_new (4, &pool) == RCN_OK);

    enum { C = 150, G = C + 40 };
    uint8_t hash[C + 1][32], hx[32];
    uint8_t *chain[C + 1];
    size_t clen[C + 1];
    for (int i = 1; i <= C; i++)
        chain[i] = wire_of (&s_a, (uint64_t) i, i > 1 ? hash[i - 1] : NULL, hash[i], &clen[i]);
    const uint8_t *g[G];
    size_t glen[G], n = 0;
    uint8_t *owned[16];
    size_t nowned = 0;
    const uint8_t junk[] = { 0x0a, 0x02, 'R', 'C' };
    for (int i = 1; i <= 120; i++) {
        if (i == 37 || i == 80) {                       /* a forged copy first */
            owned[nowned] = forge (chain[i], clen[i]);
            g[n] = owned[nowned++];
            glen[n++] = clen[i];
            if (i == 80) {                              /* twice: refused as its copy, no check */
                g[n] = g[n - 1];
                glen[n++] = clen[i];
            }
        }
        if (i % 25 == 0) {                              /* garbage and a stranger here and there */
            g[n] = junk;
            glen[n++] = sizeof junk;
            size_t l;
            owned[nowned] = wire_of (&s_stranger, (uint64_t) i, NULL, hx, &l);
            g[n] = owned[nowned++];
            glen[n++] = l;
        }
        g[n] = chain[i];
        glen[n++] = clen[i];
        if (i % 30 == 0) {                              /* the same entry twice in one group */
            g[n] = chain[i - 3];
            glen[n++] = clen[i - 3];
        }
    }
    g[n] = chain[C];                                    /* ahead of a gap */
    glen[n++] = clen[C];
    REQUIRE (n <= G);

    int res[2][G];
    rcn_ingest_stats_t st[2] = { { 0 }, { 0 } };
    uint64_t checks[2];
    for (int k = 0; k < 2; k++) {
        uint64_t v = rcn_entry_verify_calls ();
        if (k == 0)
            CHECK_EQ (rcn_ingest (s[k], g, glen, n, res[k], &st[k]), RCN_OK);
        else
            CHECK_EQ (rcn_ingest_pooled (s[k], pool, g, glen, n, res[k], &st[k]), RCN_OK);
        checks[k] = rcn_entry_verify_calls () - v;
    }
    CHECK (memcmp (res[0], res[1], n * sizeof (int)) == 0);
    CHECK (memcmp (&st[0], &st[1], sizeof st[0]) == 0);
    CHECK_EQ (checks[0], checks[1]);
    CHECK_EQ (st[1].stored, 120);
    CHECK_EQ (st[1].bad_sig, 3);
    CHECK_EQ (st[1].duplicates, 4);
    CHECK_EQ (st[1].malformed, 4);
    CHECK_EQ (st[1].refused, 4 + 1);                    /* the strangers, the gap */
    CHECK_EQ (res[1][n - 1], RCN_EGAP);
    CHECK_EQ (checks[1], n - 4 - 4 - 1);                /* all but garbage and copies */
    uint64_t head[2] = { 0, 0 };
    for (int k = 0; k < 2; k++)
        CHECK_EQ (rcn_store_head (s[k], s_a.pk, &head[k], NULL), RCN_OK);
    CHECK_EQ (head[0], 120);
    CHECK_EQ (head[1], 120);

    /* A catch-up chunk: a different, validly signed seq 5 (fork evidence), a forged seq 6,
     * then 121..150 linked. */
    uint8_t h5[32];
    size_t l5;
    uint8_t *alt5 = wire_fill (&s_a, 5, hash[4], 0x77, h5, &l5);
    uint8_t *alt6 = wire_fill (&s_a, 6, h5, 0x77, hx, &clen[0]);
    uint8_t *bad6 = forge (alt6, clen[0]);
    const uint8_t *c[2 + C - 120];
    size_t cl[2 + C - 120], nc = 0;
    c[nc] = alt5;
    cl[nc++] = l5;
    c[nc] = bad6;
    cl[nc++] = clen[0];
    for (int i = 121; i <= C; i++) {
        c[nc] = chain[i];
        cl[nc++] = clen[i];
    }
    rcn_ingest_stats_t cs[2] = { { 0 }, { 0 } };
    int cres[2][2 + C - 120];
    for (int k = 0; k < 2; k++)
        CHECK_EQ (rcn_ingest_chunk_pooled (s[k], k ? pool : NULL, s_a.pk, c, cl, nc, cres[k], &cs[k]),
                  RCN_OK);
    CHECK (memcmp (cres[0], cres[1], nc * sizeof (int)) == 0);
    CHECK (memcmp (&cs[0], &cs[1], sizeof cs[0]) == 0);
    CHECK_EQ (cres[1][0], RCN_EFORK);
    CHECK_EQ (cres[1][1], RCN_ESIG);
    CHECK_EQ (cs[1].stored, C - 120);
    for (int k = 0; k < 2; k++) {
        CHECK_EQ (rcn_store_head (s[k], s_a.pk, &head[k], NULL), RCN_OK);
        CHECK_EQ (head[k], C);
    }

    free (alt5);
    free (alt6);
    free (bad6);
    for (size_t i = 0; i < nowned; i++)
        free (owned[i]);
    for (int i = 1; i <= C; i++)
        free (chain[i]);
    rcn_vpool_destroy (&pool);
    for (int k = 0; k < 2; k++) {
        rcn_store_destroy (&s[k]);
        rcn_test_rmtree (dir[k]);
        free (dir[k]);
    }
}

/* rcn_ingest_prefetch makes the same cheap checks first (no crypto for garbage, a stranger or
 * a held entry; nothing with a pool of one thread), and a group of prefetched entries is then
 * ingested exactly as ever: stored, with one signature check per new entry in all, a forged
 * one refused. */
static void
test_prefetch (void)
{
    char *dir = rcn_test_tmpdir ("ingest-prefetch");
    rcn_store_opts_t o = { .is_member = only_a, .kinds = s_kinds };
    rcn_store_t *s = NULL;
    char why[256];
    REQUIRE (rcn_store_open (dir, &o, &s, why, sizeof why) == RCN_OK);
    rcn_vpool_t *one = NULL, *pool = NULL;
    REQUIRE (rcn_vpool_new (1, &one) == RCN_OK && rcn_vpool_new (2, &pool) == RCN_OK);

    enum { N = 12 };
    uint8_t *w[N], hash[N][32], *bad, *stranger, junk[40] = { 0x0a, 0x05 };
    size_t len[N], slen;
    for (int i = 0; i < N; i++)
        w[i] = wire_of (&s_a, (uint64_t) i + 1, i ? hash[i - 1] : NULL, hash[i], &len[i]);
    bad = forge (w[N - 1], len[N - 1]);
    uint8_t shash[32];
    stranger = wire_of (&s_stranger, 1, NULL, shash, &slen);

    uint64_t v0 = rcn_entry_verify_calls ();
    CHECK (!rcn_ingest_prefetch (s, one, w[0], len[0], only_a, NULL));
    CHECK (!rcn_ingest_prefetch (s, pool, junk, sizeof junk, only_a, NULL));
    CHECK (!rcn_ingest_prefetch (s, pool, stranger, slen, only_a, NULL));
    int res[N];
    REQUIRE (rcn_ingest_pooled (s, pool, (const uint8_t *const *) w, len, 2, res, NULL) == RCN_OK);
    CHECK (!rcn_ingest_prefetch (s, pool, w[1], len[1], only_a, NULL));     /* held */
    CHECK_EQ (rcn_entry_verify_calls () - v0, 2);

    /* Ahead: 2..N-2 and the forged N-1, then the group 2..N-1 with the genuine N-1. */
    v0 = rcn_entry_verify_calls ();
    for (int i = 2; i < N - 1; i++)
        CHECK (rcn_ingest_prefetch (s, pool, w[i], len[i], only_a, NULL));
    CHECK (rcn_ingest_prefetch (s, pool, bad, len[N - 1], only_a, NULL));
    REQUIRE (rcn_ingest_pooled (s, pool, (const uint8_t *const *) w + 2, len + 2, N - 2, res,
                                NULL) == RCN_OK);
    for (int i = 0; i < N - 2; i++)
        CHECK_EQ (res[i], RCN_OK);
    uint64_t head = 0;
    REQUIRE (rcn_store_head (s, s_a.pk, &head, NULL) == RCN_OK);
    CHECK_EQ (head, N);
    /* The forged copy, judged ahead as bad, is refused when it comes. */
    REQUIRE (rcn_ingest_pooled (s, pool, (const uint8_t *const *) &bad, &len[N - 1], 1, res,
                                NULL) == RCN_OK);
    CHECK_EQ (res[0], RCN_ESIG);
    CHECK_EQ (rcn_entry_verify_calls () - v0, N - 2 + 1);     /* the forged one once, ahead */

    for (int i = 0; i < N; i++)
        free (w[i]);
    free (bad);
    free (stranger);
    rcn_vpool_destroy (&one);
    rcn_vpool_destroy (&pool);
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    crypto_sign_keypair (s_a.pk, s_a.sk);
    crypto_sign_keypair (s_stranger.pk, s_stranger.sk);
    RUN (test_ingest);
    RUN (test_pool_same_as_inline);
    RUN (test_prefetch);
    return rcn_test_done ();
}
