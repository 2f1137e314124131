/* test_recovery.c — an origin's declaration that seqs of its own were lost (recovery.h): the
 * body's span rules; the store's exception to invariant 3 (where a Recovery may stand, what it
 * refuses, entries of the span found again, held ones leaving the views); the offline check
 * over a Recovery and against a tampered span record; catch-up chunks that carry one. */
#include "rcn/recovery.h"

#include <string.h>

#include <lmdb.h>

#include "rcn/ingest.h"
#include "storetest.h"

/* A Recovery of a's at seq last+1 declaring first..last lost, prev the given hash. */
static rcn_entry_t *
recovery_at (const author_t *a, uint64_t first, uint64_t last, const uint8_t *prev,
             const char *reason)
{
    uint8_t *body = NULL;
    size_t len = 0;
    char why[256];
    REQUIRE (rcn_recovery_body (first, last, reason, &body, &len, why, sizeof why) == RCN_OK);
    rcn_entry_t *e = author_sign_at (a, last + 1, prev, rcn_recovery_kind, body, len);
    free (body);
    REQUIRE (e);
    return e;
}

/* Signs a's next n entries and keeps them (the caller decides who gets them). */
static void
sign_n (author_t *a, rcn_entry_t **out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = author_text (a, "count");
}

static int
append_all (rcn_store_t *s, rcn_entry_t **es, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += append1 (s, es[i]) != RCN_OK;
    return bad;
}

static void
test_span_rules (void)
{
    author_t a;
    author_init (&a, 1, true);
    uint8_t zero[RCN_HASH_SIZE] = { 0 };
    uint8_t *body = NULL;
    size_t len = 0;
    uint64_t first, last;
    char why[256] = "";

    rcn_entry_t *e = recovery_at (&a, 4, 9, zero, "disk lost in the drill");
    CHECK_EQ (rcn_recovery_span (e, &first, &last, why, sizeof why), RCN_OK);
    CHECK_EQ (first, 4);
    CHECK_EQ (last, 9);
    rcn_entry_destroy (&e);

    /* The span must end just below the Recovery's own seq. */
    REQUIRE (rcn_recovery_body (4, 9, "", &body, &len, why, sizeof why) == RCN_OK);
    e = author_sign_at (&a, 12, zero, rcn_recovery_kind, body, len);
    REQUIRE (e);
    CHECK_EQ (rcn_recovery_span (e, &first, &last, why, sizeof why), RCN_EBODY);
    CHECK (strstr (why, "last_lost 9 is not the seq below") != NULL);
    rcn_entry_destroy (&e);
    /* Not a Recovery at all, and a body that does not parse. */
    e = author_sign_at (&a, 10, zero, TEST_KIND, body, len);
    CHECK_EQ (rcn_recovery_span (e, &first, &last, why, sizeof why), RCN_EBODY);
    rcn_entry_destroy (&e);
    free (body);
    e = author_sign_at (&a, 10, zero, rcn_recovery_kind, "\xff\xff\xff", 3);
    CHECK_EQ (rcn_recovery_span (e, &first, &last, why, sizeof why), RCN_EBODY);
    CHECK (strstr (why, "does not parse") != NULL);
    rcn_entry_destroy (&e);

    /* The author side refuses empty spans and reasons that are not short text. */
    CHECK_EQ (rcn_recovery_body (0, 3, "", &body, &len, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (rcn_recovery_body (5, 4, "", &body, &len, why, sizeof why), RCN_EINVAL);
    char big[RCN_RECOVERY_REASON_MAX + 2];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ (rcn_recovery_body (1, 3, big, &body, &len, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (rcn_recovery_body (1, 3, "bad \x01 control", &body, &len, why, sizeof why), RCN_EINVAL);
    CHECK (body == NULL);
}

/* The common case: the member lost 4..5, its peers hold 1..3; the Recovery at 6 links to 3. */
static void
test_store_accepts_and_refuses (void)
{
    char *dir = rcn_test_tmpdir ("recovery-store");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    rcn_entry_t *es[5];
    sign_n (&a, es, 5);
    CHECK_EQ (append_all (s, es, 3), 0);
    const uint8_t *h2 = rcn_entry_hash (es[1]), *h3 = rcn_entry_hash (es[2]);

    /* Wrong prev (the hash of 2, not 3) and a span that starts beyond our head are refused. */
    rcn_entry_t *bad_prev = recovery_at (&a, 4, 5, h2, "");
    CHECK_EQ (append1 (s, bad_prev), RCN_ECHAIN);
    rcn_entry_t *beyond = recovery_at (&a, 5, 5, rcn_entry_hash (es[3]), "");
    CHECK_EQ (append1 (s, beyond), RCN_EGAP);
    CHECK_EQ (head_of (s, a.pk), 3);

    rcn_entry_t *rec = recovery_at (&a, 4, 5, h3, "wiped");
    CHECK_EQ (append1 (s, rec), RCN_OK);
    CHECK_EQ (head_of (s, a.pk), 6);
    bool lost = false;
    CHECK_EQ (rcn_store_lost (s, a.pk, 4, &lost), RCN_OK);
    CHECK (lost);
    CHECK_EQ (rcn_store_lost (s, a.pk, 5, &lost), RCN_OK);
    CHECK (lost);
    CHECK_EQ (rcn_store_lost (s, a.pk, 3, &lost), RCN_OK);
    CHECK (!lost);
    CHECK_EQ (rcn_store_lost (s, a.pk, 6, &lost), RCN_OK);
    CHECK (!lost);

    /* The chain goes on from the Recovery. */
    a.seq = 6;
    memcpy (a.head, rcn_entry_hash (rec), RCN_HASH_SIZE);
    rcn_entry_t *next = author_text (&a, "count");
    CHECK_EQ (append1 (s, next), RCN_OK);
    CHECK_EQ (head_of (s, a.pk), 7);
    CHECK_EQ (view_count (s, a.pk), 4);     /* 1..3 and 7; the Recovery is no test-kind entry */

    /* The lost entries turning up later are refused, not stored, and break nothing. */
    CHECK_EQ (append1 (s, es[3]), RCN_ELOST);
    CHECK_EQ (append1 (s, es[4]), RCN_ELOST);
    CHECK_EQ (append1 (s, rec), RCN_EDUP);
    CHECK_EQ (stats_of (s).entries, 5);
    char why[256] = "";
    uint64_t checked = 0;
    CHECK_EQ (rcn_store_check (s, is_member, NULL, &checked, why, sizeof why), RCN_OK);
    CHECK_EQ (checked, 5);
    if (why[0])
        fprintf (stderr, "    check: %s\n", why);

    rcn_entry_destroy (&bad_prev);
    rcn_entry_destroy (&beyond);
    rcn_entry_destroy (&rec);
    rcn_entry_destroy (&next);
    free_entries (es, 5);
    close_and_remove (&s, dir);
}

/* A member that holds some of the declared span keeps them (append-only) but applies them to
 * no view, so that every member shows the same state (invariant 8); one that lacks what comes
 * before the span must first take that. Everything lost (first = 1) links to the zero hash. */
static void
test_held_span_leaves_views (void)
{
    char *dir = rcn_test_tmpdir ("recovery-held");
    rcn_store_t *s = open_store (dir, 0);
    author_t a, b;
    author_init (&a, 1, true);
    author_init (&b, 2, true);
    rcn_entry_t *es[5];
    sign_n (&a, es, 5);
    CHECK_EQ (append_all (s, es, 5), 0);
    CHECK_EQ (view_count (s, a.pk), 5);
    rcn_entry_t *rec = recovery_at (&a, 4, 5, rcn_entry_hash (es[2]), "");
    CHECK_EQ (append1 (s, rec), RCN_OK);
    CHECK_EQ (head_of (s, a.pk), 6);
    CHECK_EQ (view_count (s, a.pk), 3);
    CHECK_EQ (stats_of (s).entries, 6);
    char why[256] = "";
    CHECK_EQ (rcn_store_check (s, is_member, NULL, NULL, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_store_rebuild_views (s), RCN_OK);
    CHECK_EQ (view_count (s, a.pk), 3);

    /* b lost everything it ever signed (1..2): its Recovery at 3 links to nothing. */
    uint8_t zero[RCN_HASH_SIZE] = { 0 };
    rcn_entry_t *brec = recovery_at (&b, 1, 2, zero, "");
    CHECK_EQ (append1 (s, brec), RCN_OK);
    CHECK_EQ (head_of (s, b.pk), 3);
    CHECK_EQ (rcn_store_check (s, is_member, NULL, NULL, why, sizeof why), RCN_OK);

    rcn_entry_destroy (&rec);
    rcn_entry_destroy (&brec);
    free_entries (es, 5);
    close_and_remove (&s, dir);
}

/* Deletes the `lost` record of (origin, first) behind the store's back. */
static void
drop_lost_record (const char *dir, const uint8_t *origin, uint64_t first)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[RCN_KEY_SIZE + 8];
    memcpy (key, origin, RCN_KEY_SIZE);
    for (int i = 0; i < 8; i++)
        key[RCN_KEY_SIZE + i] = (uint8_t) (first >> (56 - 8 * i));
    MDB_val k = { sizeof key, key };
    REQUIRE (mdb_env_create (&env) == 0);
    REQUIRE (mdb_env_set_maxdbs (env, 32) == 0);
    REQUIRE (mdb_env_open (env, dir, 0, 0600) == 0);
    REQUIRE (mdb_txn_begin (env, NULL, 0, &txn) == 0);
    REQUIRE (mdb_dbi_open (txn, "lost", 0, &dbi) == 0);
    REQUIRE (mdb_del (txn, dbi, &k, NULL) == 0);
    REQUIRE (mdb_txn_commit (txn) == 0);
    mdb_env_close (env);
}

static void
test_check_names_a_bad_span (void)
{
    char *dir = rcn_test_tmpdir ("recovery-check");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    rcn_entry_t *es[4];
    sign_n (&a, es, 4);
    CHECK_EQ (append_all (s, es, 2), 0);
    rcn_entry_t *rec = recovery_at (&a, 3, 4, rcn_entry_hash (es[1]), "");
    CHECK_EQ (append1 (s, rec), RCN_OK);
    rcn_store_destroy (&s);

    drop_lost_record (dir, a.pk, 3);
    rcn_store_opts_t o = { .readonly = true, .kinds = g_kinds };
    char why[256] = "";
    REQUIRE (rcn_store_open (dir, &o, &s, why, sizeof why) == RCN_OK);
    int rc = rcn_store_check (s, is_member, NULL, NULL, why, sizeof why);
    fprintf (stderr, "    span record gone: %s\n", why);
    CHECK_EQ (rc, RCN_EDB);
    CHECK (strstr (why, "seq 5: the lost span 3..4 is not recorded") != NULL);

    rcn_entry_destroy (&rec);
    free_entries (es, 4);
    close_and_remove (&s, dir);
}

/* Encodes entries as a PullReply's envelopes. */
static void
encode_all (rcn_entry_t **es, size_t n, uint8_t **wire, size_t *len)
{
    for (size_t i = 0; i < n; i++)
        REQUIRE (rcn_entry_encode (es[i], &wire[i], &len[i]) == RCN_OK);
}

/* A chunk served across a lost span: what precedes the span, the Recovery, what follows it.
 * The Recovery starts a second linked run with a signature of its own; a tampered Recovery
 * takes nothing above it in. */
static void
test_chunk_across_a_span (void)
{
    char *dir = rcn_test_tmpdir ("recovery-chunk");
    rcn_store_t *s = open_store (dir, 0);
    author_t a;
    author_init (&a, 1, true);
    rcn_entry_t *es[5];
    sign_n (&a, es, 5);                    /* 4 and 5 are lost at the origin */
    CHECK_EQ (append_all (s, es, 1), 0);
    rcn_entry_t *rec = recovery_at (&a, 4, 5, rcn_entry_hash (es[2]), "");
    a.seq = 6;
    memcpy (a.head, rcn_entry_hash (rec), RCN_HASH_SIZE);
    rcn_entry_t *after[2];
    sign_n (&a, after, 2);                 /* 7, 8 */

    rcn_entry_t *chunk[5] = { es[1], es[2], rec, after[0], after[1] };
    uint8_t *wire[5];
    size_t len[5];
    int res[5];
    encode_all (chunk, 5, wire, len);

    /* The Recovery's bytes changed in transit: 2..3 go in, nothing of the Recovery's run. */
    uint8_t *forged = malloc (len[2]);
    REQUIRE (forged);
    memcpy (forged, wire[2], len[2]);
    forged[len[2] - 70] ^= 0x01;           /* a byte of the body, ahead of the signature */
    const uint8_t *fw[5] = { wire[0], wire[1], forged, wire[3], wire[4] };
    rcn_ingest_stats_t st = { 0 };
    CHECK_EQ (rcn_ingest_chunk (s, a.pk, fw, len, 5, res, &st), RCN_OK);
    CHECK_EQ (res[0], RCN_OK);
    CHECK_EQ (res[1], RCN_OK);
    CHECK (res[2] != RCN_OK);
    CHECK (res[3] != RCN_OK && res[4] != RCN_OK);
    CHECK_EQ (head_of (s, a.pk), 3);
    free (forged);

    /* The real chunk: two runs, two signatures, everything stored. */
    memset (&st, 0, sizeof st);
    CHECK_EQ (rcn_ingest_chunk (s, a.pk, (const uint8_t *const *) wire, len, 5, res, &st), RCN_OK);
    CHECK_EQ (res[0], RCN_EDUP);
    CHECK_EQ (res[1], RCN_EDUP);
    CHECK_EQ (res[2], RCN_OK);
    CHECK_EQ (res[3], RCN_OK);
    CHECK_EQ (res[4], RCN_OK);
    CHECK_EQ (st.chunk_sig_checks, 1);     /* one run: the Recovery and what links up to it */
    CHECK_EQ (head_of (s, a.pk), 8);
    char why[256] = "";
    CHECK_EQ (rcn_store_check (s, is_member, NULL, NULL, why, sizeof why), RCN_OK);
    for (int i = 0; i < 5; i++)
        free (wire[i]);
    close_and_remove (&s, dir);

    /* A member at 1 gets 2, 3, the Recovery and 7, 8 in one chunk: two runs, two checks. */
    dir = rcn_test_tmpdir ("recovery-chunk2");
    s = open_store (dir, 0);
    CHECK_EQ (append_all (s, es, 1), 0);
    encode_all (chunk, 5, wire, len);
    memset (&st, 0, sizeof st);
    CHECK_EQ (rcn_ingest_chunk (s, a.pk, (const uint8_t *const *) wire, len, 5, res, &st), RCN_OK);
    for (int i = 0; i < 5; i++)
        CHECK_EQ (res[i], RCN_OK);
    CHECK_EQ (st.chunk_sig_checks, 2);
    CHECK_EQ (st.chained, 3);              /* 2, the Recovery and 7 stood on a signature above */
    CHECK_EQ (head_of (s, a.pk), 8);
    for (int i = 0; i < 5; i++)
        free (wire[i]);

    rcn_entry_destroy (&rec);
    free_entries (after, 2);
    free_entries (es, 5);
    close_and_remove (&s, dir);
}

int
main (void)
{
    RUN (test_span_rules);
    RUN (test_store_accepts_and_refuses);
    RUN (test_held_span_leaves_views);
    RUN (test_check_names_a_bad_span);
    RUN (test_chunk_across_a_span);
    return rcn_test_done ();
}
