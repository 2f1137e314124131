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

/* The envelope of a's (or another signer's) seq `seq` in a chain whose prev is `prev`. */
static uint8_t *
wire_of (const member_t *m, uint64_t seq, const uint8_t *prev, uint8_t hash_out[32], size_t *len)
{
    uint8_t body[40];
    memset (body, (int) seq, sizeof body);
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (m->sk, seq, prev, 1795311000000ULL + seq, 1, 0, body, sizeof body,
                             &e) == RCN_OK);
    memcpy (hash_out, e->hash, 32);
    uint8_t *w = NULL;
    REQUIRE (rcn_entry_encode (e, &w, len) == RCN_OK);
    rcn_entry_destroy (&e);
    return w;
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

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    crypto_sign_keypair (s_a.pk, s_a.sk);
    crypto_sign_keypair (s_stranger.pk, s_stranger.sk);
    RUN (test_ingest);
    return rcn_test_done ();
}
