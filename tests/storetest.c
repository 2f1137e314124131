/* storetest.c — see storetest.h. */
#include "storetest.h"

#include <string.h>

#include <lmdb.h>
#include <sodium.h>

/* ---- authors and roster -------------------------------------------------------------------- */

#define MAX_MEMBERS 8

static uint8_t s_members[MAX_MEMBERS][RCN_KEY_SIZE];
static int s_nmembers;

bool
is_member (const uint8_t origin[RCN_KEY_SIZE], void *ctx)
{
    if (ctx)
        return memcmp (ctx, origin, RCN_KEY_SIZE) == 0;
    for (int i = 0; i < s_nmembers; i++)
        if (memcmp (s_members[i], origin, RCN_KEY_SIZE) == 0)
            return true;
    return false;
}

void
author_init (author_t *a, uint8_t tag, bool member)
{
    uint8_t seed[32];
    memset (seed, tag, sizeof seed);
    crypto_sign_seed_keypair (a->pk, a->sk, seed);
    a->seq = 0;
    memset (a->head, 0, sizeof a->head);
    if (member && !is_member (a->pk, NULL)) {
        REQUIRE (s_nmembers < MAX_MEMBERS);
        memcpy (s_members[s_nmembers++], a->pk, RCN_KEY_SIZE);
    }
}

rcn_entry_t *
author_sign_at (const author_t *a, uint64_t seq, const uint8_t *prev, uint32_t kind,
                const void *body, size_t len)
{
    rcn_entry_t *e = NULL;
    if (rcn_entry_sign (a->sk, seq, prev, 1763775000000ULL + seq, kind, RCN_STATUS_TEST, body,
                        len, &e) != RCN_OK)
        return NULL;
    return e;
}

rcn_entry_t *
author_sign (author_t *a, uint32_t kind, const void *body, size_t len)
{
    rcn_entry_t *e = author_sign_at (a, a->seq + 1, a->seq ? a->head : NULL, kind, body, len);
    if (!e)
        return NULL;
    a->seq++;
    memcpy (a->head, e->hash, RCN_HASH_SIZE);
    return e;
}

rcn_entry_t *
author_next (author_t *a, uint32_t kind, const void *body, size_t len)
{
    rcn_entry_t *e = author_sign (a, kind, body, len);
    REQUIRE (e);
    return e;
}

rcn_entry_t *
author_text (author_t *a, const char *text)
{
    return author_next (a, TEST_KIND, text, strlen (text));
}

/* ---- the test kind ------------------------------------------------------------------------- */

int g_apply_calls, g_fail_at;

static const char *const s_test_dbs[] = { "test.count", NULL };

static int
test_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    if (g_fail_at && ++g_apply_calls == g_fail_at)
        return RCN_EIO;
    if (e->h.body_len >= 9 && memcmp (e->h.body, "malformed", 9) == 0) {
        rcn_errf (why, whylen, "test: body does not parse");
        return RCN_EBODY;
    }
    if (e->h.body_len >= 6 && memcmp (e->h.body, "reject", 6) == 0) {
        rcn_errf (why, whylen, "test: step not allowed");
        return RCN_EBODY;
    }
    MDB_val k = { RCN_KEY_SIZE, (void *) e->h.origin }, d;
    uint64_t n = 0;
    int mrc = mdb_get (v->txn, v->dbi[0], &k, &d);
    if (mrc == MDB_SUCCESS)
        memcpy (&n, d.mv_data, sizeof n);
    else if (mrc != MDB_NOTFOUND)
        return RCN_EDB;
    n++;
    d.mv_size = sizeof n;
    d.mv_data = &n;
    return mdb_put (v->txn, v->dbi[0], &k, &d, 0) ? RCN_EDB : RCN_OK;
}

const rcn_kind_t g_test_kind = {
    .kind = TEST_KIND, .name = "test", .dbs = s_test_dbs, .apply = test_apply,
};
const rcn_kind_t *const g_kinds[] = { &g_test_kind, NULL };

/* ---- store helpers ------------------------------------------------------------------------- */

rcn_store_t *
open_store (const char *dir, size_t map_size)
{
    return open_store_with (dir, (rcn_store_opts_t) { .map_size = map_size });
}

rcn_store_t *
open_store_with (const char *dir, rcn_store_opts_t o)
{
    o.is_member = is_member;
    o.kinds = g_kinds;
    rcn_store_t *s = NULL;
    char why[256] = "";
    int rc = rcn_store_open (dir, &o, &s, why, sizeof why);
    if (rc)
        fprintf (stderr, "    open %s: %s: %s\n", dir, rcn_strerror (rc), why);
    REQUIRE (rc == RCN_OK && s);
    return s;
}

void
close_and_remove (rcn_store_t **s, char *dir)
{
    rcn_store_destroy (s);
    rcn_test_rmtree (dir);
    free (dir);
}

int
append1 (rcn_store_t *s, rcn_entry_t *e)
{
    int result = 1;
    CHECK_EQ (rcn_store_append (s, &e, 1, &result), RCN_OK);
    return result;
}

void
free_entries (rcn_entry_t **es, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rcn_entry_destroy (&es[i]);
}

uint64_t
head_of (rcn_store_t *s, const uint8_t *origin)
{
    uint64_t seq = 99999;
    CHECK_EQ (rcn_store_head (s, origin, &seq, NULL), RCN_OK);
    return seq;
}

rcn_store_stats_t
stats_of (rcn_store_t *s)
{
    rcn_store_stats_t st;
    CHECK_EQ (rcn_store_stats (s, &st), RCN_OK);
    return st;
}

int
count_fn (const rcn_view_t *v, void *ctx)
{
    count_ctx_t *c = ctx;
    MDB_val k = { RCN_KEY_SIZE, (void *) c->origin }, d;
    c->n = 0;
    if (mdb_get (v->txn, v->dbi[0], &k, &d) == MDB_SUCCESS)
        memcpy (&c->n, d.mv_data, sizeof c->n);
    return RCN_OK;
}

uint64_t
view_count (rcn_store_t *s, const uint8_t *origin)
{
    count_ctx_t c = { origin, 0 };
    CHECK_EQ (rcn_store_read (s, &g_test_kind, count_fn, &c), RCN_OK);
    return c.n;
}
