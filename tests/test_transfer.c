/* test_transfer.c — the transfer kind over real stores: every refusal of rcctl's author; the
 * full loop A -> B; wrong parties and out-of-order steps (refused when authored; stored and
 * ignored, or recorded invalid where the entry's own chain shows it, when signed anyway); the
 * concurrency rule (the issuer's cancel beats the receiver's step, else the lower hash wins) in
 * every arrival order; handover discrepancies; steps before their order or parent (pending,
 * never invalid) and identical views in 20 random arrival orders; the sealed manifest (both
 * ends open it, a third member cannot, no store holds it in the clear); idempotent
 * re-submission; rcctl's parsing. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/roster.h"
#include "rcn/seal.h"
#include "rcn/store.h"
#include "rcn.pb-c.h"

extern const rcn_kind_t rcn_kind_transfer;
extern const rcn_kind_t rcn_kind_sealkey;
static const rcn_kind_t *const s_kinds[] = { &rcn_kind_sealkey, &rcn_kind_transfer, NULL };
static const rcn_kind_t *K = &rcn_kind_transfer;

#define T0 1795311000000ULL          /* 2026-11-22T01:30:00Z */
#define HOUR 3600000ULL
#define ORDER RCN__KIND__KIND_TRANSFER_ORDER
#define STEP RCN__KIND__KIND_TRANSFER_STEP
#define PLANTED_NAME "Ouyang Planted-Name"

/* ---- the alliance: A issues, B receives, C looks on, D never published a sealing key ------- */

typedef struct {
    uint32_t region;
    const char *name;
    uint8_t pk[32], sk[64];
    uint64_t seq;
    uint8_t head[32];
    char *keydir;
    rcn_seal_t *seal;
} member_t;

static member_t M[4] = {
    { .region = 310000, .name = "Shanghai" }, { .region = 320000, .name = "Jiangsu" },
    { .region = 330000, .name = "Zhejiang" }, { .region = 340000, .name = "Anhui" },
};
#define MA (&M[0])
#define MB (&M[1])
#define MC (&M[2])
#define MD (&M[3])
static rcn_roster_t *g_roster;
static char g_ids[8][19];          /* valid GB 11643 numbers */

static void
make_id (char out[19], const char *first17)
{
    static const int weight[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (first17[i] - '0') * weight[i];
    memcpy (out, first17, 17);
    out[17] = "10X98765432"[sum % 11];
    out[18] = '\0';
}

static void
alliance_init (void)
{
    json_t *cards[4];
    for (int i = 0; i < 4; i++) {
        uint8_t seed[32], cpk[32], csk[32];
        memset (seed, 0x40 + i, 32);
        crypto_sign_seed_keypair (M[i].pk, M[i].sk, seed);
        crypto_box_seed_keypair (cpk, csk, seed);
        char hex[65], z85[41], code[16], pub[64], sync[64];
        rcn_hex (M[i].pk, 32, hex);
        rcn_z85_key (cpk, z85);
        snprintf (code, sizeof code, "%06u", M[i].region);
        snprintf (pub, sizeof pub, "tcp://127.0.0.1:%d", 7101 + 10 * i);
        snprintf (sync, sizeof sync, "tcp://127.0.0.1:%d", 7102 + 10 * i);
        cards[i] = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "region", code, "name", M[i].name,
                              "sign_key", hex, "curve_key", z85, "pub", pub, "sync", sync);
        M[i].keydir = rcn_test_tmpdir ("transfer-keys");
        char why[256];
        REQUIRE (rcn_seal_load (M[i].keydir, true, T0 - 24 * HOUR, &M[i].seal, why, sizeof why)
                 == RCN_OK);
    }
    rcn_policy_t p;
    rcn_policy_default (&p);
    p.n_rounds = 0;                 /* no scheduled rounds: entry counts stay put */
    char *text = NULL, why[256];
    REQUIRE (rcn_roster_build ((const json_t *const *) cards, 4, &p, &text, why, sizeof why) == RCN_OK);
    REQUIRE (rcn_roster_parse ((const uint8_t *) text, strlen (text), &g_roster, why, sizeof why)
             == RCN_OK);
    free (text);
    for (int i = 0; i < 4; i++)
        json_decref (cards[i]);
    static const char *const first17[] = {
        "11010119900307123", "31011519851212004", "32050219770101551", "33010620010815666",
        "44040219600229777", "11010519491231002", "82000019990909888", "65010219800101999",
    };
    for (int i = 0; i < 8; i++)
        make_id (g_ids[i], first17[i]);
}

static void
alliance_free (void)
{
    for (int i = 0; i < 4; i++) {
        rcn_seal_destroy (&M[i].seal);
        rcn_test_rmtree (M[i].keydir);
        free (M[i].keydir);
    }
    rcn_roster_destroy (&g_roster);
}

/* ---- a world: one store and every entry signed in it, in signing order ---------------------- */

#define LOG_MAX 256

typedef struct {
    char *dir;
    rcn_store_t *s;
    rcn_entry_t *log[LOG_MAX];
    size_t n;
} world_t;

static rcn_store_t *
store_open (char **dir)
{
    *dir = rcn_test_tmpdir ("transfer");
    rcn_store_opts_t o = { .is_member = rcn_roster_is_member, .member_ctx = g_roster,
                           .kinds = s_kinds };
    rcn_store_t *s = NULL;
    char why[256];
    REQUIRE (rcn_store_open (*dir, &o, &s, why, sizeof why) == RCN_OK);
    return s;
}

static void
store_close (rcn_store_t **s, char *dir)
{
    rcn_store_destroy (s);
    rcn_test_rmtree (dir);
    free (dir);
}

/* Signs as m's next entry and records it in the world's log (not appended). */
static rcn_entry_t *
sign (world_t *w, member_t *m, uint32_t kind, uint32_t status, const uint8_t *body, size_t len,
      uint64_t t)
{
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (m->sk, m->seq + 1, m->seq ? m->head : NULL, t, kind, status, body,
                             len, &e) == RCN_OK);
    m->seq++;
    memcpy (m->head, e->hash, 32);
    REQUIRE (w->n < LOG_MAX);
    w->log[w->n++] = e;
    return e;
}

/* Takes back m's last signed entry (the last in the log), as if it had never been signed. */
static void
unsign (world_t *w, member_t *m)
{
    REQUIRE (w->n > 0 && memcmp (w->log[w->n - 1]->h.origin, m->pk, 32) == 0);
    rcn_entry_t *e = w->log[--w->n];
    m->seq--;
    memcpy (m->head, e->h.prev, 32);
    rcn_entry_destroy (&e);
}

/* Appends e; returns the invalid reason ("" when valid) in reason (may be NULL). */
static void
append (rcn_store_t *s, rcn_entry_t *e, char *reason)
{
    int res = -1;
    REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
    CHECK_EQ (res, RCN_OK);
    if (reason && rcn_store_invalid_reason (s, e->hash, reason, 256) != RCN_OK)
        reason[0] = '\0';
}

/* A fresh world: chains reset; A, B and C publish their sealing keys (D does not). */
static void
world_open (world_t *w)
{
    memset (w, 0, sizeof *w);
    w->s = store_open (&w->dir);
    for (int i = 0; i < 4; i++) {
        M[i].seq = 0;
        memset (M[i].head, 0, 32);
    }
    for (int i = 0; i < 3; i++) {
        uint8_t pk[32];
        uint64_t from;
        REQUIRE (rcn_seal_current (M[i].seal, T0, pk, &from) == RCN_OK);
        Rcn__SealKey k = RCN__SEAL_KEY__INIT;
        k.public_key.data = pk;
        k.public_key.len = 32;
        k.from_ms = from;
        uint8_t buf[64];
        size_t len = rcn__seal_key__pack (&k, buf);
        append (w->s, sign (w, &M[i], RCN__KIND__KIND_SEAL_KEY, 0, buf, len, from), NULL);
    }
}

static void
world_close (world_t *w)
{
    store_close (&w->s, w->dir);
    for (size_t i = 0; i < w->n; i++)
        rcn_entry_destroy (&w->log[i]);
}

/* ---- the kind's callbacks, run as the node and rcctl run them ------------------------------ */

typedef struct {
    member_t *m;
    json_t *req;
    uint64_t now;
    uint32_t kind;
    uint8_t *body;
    size_t len;
    int rc;
    char why[512];
} author_ctx_t;

static int
author_cb (const rcn_view_t *v, void *ctx)
{
    author_ctx_t *c = ctx;
    rcn_kind_env_t env = { .origin = c->m->pk, .region = c->m->region, .roster = g_roster,
                           .seal = c->m->seal };
    c->kind = K->kind;
    c->rc = K->author (v, &env, c->req, c->now, &c->kind, &c->body, &c->len, c->why, sizeof c->why);
    return RCN_OK;
}

/* Runs author() for body (stolen) as m; on success signs the entry (*out, not appended). */
static int
author (world_t *w, member_t *m, uint32_t status, json_t *body, uint64_t now, rcn_entry_t **out,
        char *why)
{
    author_ctx_t c = { .m = m, .now = now };
    c.req = json_pack ("{s:o, s:i}", "body", body, "status", (int) status);
    REQUIRE (rcn_store_read (w->s, K, author_cb, &c) == RCN_OK);
    json_decref (c.req);
    if (why)
        snprintf (why, 512, "%s", c.why);
    if (out)
        *out = NULL;
    if (c.rc != RCN_OK)
        return c.rc;
    CHECK (c.kind == ORDER || c.kind == STEP);
    rcn_entry_t *e = sign (w, m, c.kind, status, c.body, c.len, now);
    free (c.body);
    if (out)
        *out = e;
    return RCN_OK;
}

/* author() and append: the hash of the new entry in hash (may be NULL). */
static int
submit (world_t *w, member_t *m, uint32_t status, json_t *body, uint64_t now, uint8_t *hash,
        char *why)
{
    rcn_entry_t *e = NULL;
    int rc = author (w, m, status, body, now, &e, why);
    if (rc != RCN_OK)
        return rc;
    char reason[256];
    append (w->s, e, reason);
    CHECK_EQ (strlen (reason), 0);
    if (reason[0])
        fprintf (stderr, "    authored entry recorded invalid: %s\n", reason);
    if (hash)
        memcpy (hash, e->hash, 32);
    return RCN_OK;
}

typedef struct {
    json_t *query;
    uint64_t now;
    json_t *out;
    char why[256];
} list_ctx_t;

static int
list_cb (const rcn_view_t *v, void *ctx)
{
    list_ctx_t *l = ctx;
    rcn_kind_env_t env = { .roster = g_roster };
    l->out = K->list (v, &env, l->query, l->now, l->why, sizeof l->why);
    return RCN_OK;
}

/* The list for query (stolen); NULL with why when the kind refuses. */
static json_t *
list_q (rcn_store_t *s, json_t *query, uint64_t now, char *why)
{
    list_ctx_t l = { .query = query, .now = now };
    REQUIRE (rcn_store_read (s, K, list_cb, &l) == RCN_OK);
    json_decref (query);
    if (why)
        snprintf (why, 256, "%s", l.why);
    return l.out;
}

static json_t *
show (rcn_store_t *s, const uint8_t hash[32], uint64_t now)
{
    char hex[65], why[256];
    json_t *o = list_q (s, json_pack ("{s:s}", "hash", rcn_hex (hash, 32, hex)), now, why);
    if (!o)
        fprintf (stderr, "    show: %s\n", why);
    return o;
}

static const char *
state_of (rcn_store_t *s, const uint8_t hash[32], uint64_t now)
{
    static char state[32];
    json_t *o = show (s, hash, now);
    snprintf (state, sizeof state, "%s", o ? json_string_value (json_object_get (o, "state")) : "?");
    json_decref (o);
    return state;
}

/* The step `hash` as the order's show lists it (a new reference), NULL when absent. */
static json_t *
step_in (const json_t *order, const uint8_t hash[32])
{
    char hex[65];
    rcn_hex (hash, 32, hex);
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get (order, "steps"), i, s)
        if (strcmp (json_string_value (json_object_get (s, "hash")), hex) == 0)
            return json_incref (s);
    return NULL;
}

static const char *
step_state (rcn_store_t *s, const uint8_t order[32], const uint8_t step[32], uint64_t now)
{
    static char state[32];
    json_t *o = show (s, order, now), *st = o ? step_in (o, step) : NULL;
    snprintf (state, sizeof state, "%s", st ? json_string_value (json_object_get (st, "state")) : "?");
    json_decref (st);
    json_decref (o);
    return state;
}

typedef struct {
    member_t *m;
    const rcn_entry_t *e;
    json_t *out;
    char why[256];
} open_ctx_t;

static int
open_cb (const rcn_view_t *v, void *ctx)
{
    open_ctx_t *o = ctx;
    rcn_kind_env_t env = { .origin = o->m->pk, .region = o->m->region, .roster = g_roster,
                           .seal = o->m->seal };
    o->out = K->open (v, &env, o->e, o->why, sizeof o->why);
    return RCN_OK;
}

static json_t *
open_as (rcn_store_t *s, member_t *m, const uint8_t hash[32], char *why)
{
    open_ctx_t o = { .m = m };
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_store_get_by_hash (s, hash, &e) == RCN_OK);
    o.e = e;
    REQUIRE (rcn_store_read (s, K, open_cb, &o) == RCN_OK);
    rcn_entry_destroy (&e);
    if (why)
        snprintf (why, 256, "%s", o.why);
    return o.out;
}

/* ---- bodies ------------------------------------------------------------------------------ */

static json_t *
manifest (int n)
{
    static const char *const names[] = { PLANTED_NAME, "张三", "李四", "王五", "赵六", "钱七",
                                         "孙八", "周九" };
    json_t *m = json_array ();
    for (int i = 0; i < n; i++)
        json_array_append_new (m, json_pack ("{s:s, s:s}", "name", names[i], "id_number", g_ids[i]));
    return m;
}

/* A's order to B for 3 persons, id as given. */
static json_t *
order_body (const char *id)
{
    return json_pack ("{s:s, s:s, s:s, s:i, s:o, s:s, s:I, s:I, s:s, s:I}", "action", "create",
                      "order_id", id, "to", "320000", "persons", 3, "manifest", manifest (3),
                      "vehicle", "沪A·12345 (bus)", "depart_at_ms", (json_int_t) (T0 + 2 * HOUR),
                      "eta_ms", (json_int_t) (T0 + 6 * HOUR), "handover_point",
                      "G60 Fengjing toll gate", "accept_by_ms", (json_int_t) (T0 + HOUR));
}

static json_t *
step_body (const char *action, const uint8_t order[32], int count)
{
    char hex[65];
    json_t *b = json_pack ("{s:s, s:s}", "action", action, "order", rcn_hex (order, 32, hex));
    if (count >= 0)
        json_object_set_new (b, "count", json_integer (count));
    return b;
}

/* A step signed by hand (what a misbehaving member could sign): not appended. */
static rcn_entry_t *
raw_step (world_t *w, member_t *m, uint32_t status, const uint8_t order[32],
          const uint8_t parent[32], int action, uint32_t count, uint64_t t)
{
    Rcn__TransferStep s = RCN__TRANSFER_STEP__INIT;
    s.order.data = (uint8_t *) order;
    s.order.len = 32;
    s.parent.data = (uint8_t *) parent;
    s.parent.len = 32;
    s.action = (Rcn__TransferStep__Action) action;
    s.count = count;
    uint8_t buf[256];
    size_t len = rcn__transfer_step__pack (&s, buf);
    return sign (w, m, STEP, status, buf, len, t);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void
test_full_loop (void)
{
    world_t w;
    world_open (&w);
    uint8_t o[32], acc[32], dep[32], hand[32];
    char why[512];
    CHECK_EQ (submit (&w, MA, 0, order_body ("SH-2026-001"), T0, o, why), RCN_OK);
    CHECK (strcmp (state_of (w.s, o, T0 + 1), "created") == 0);
    /* Overdue is worked out against now: past accept_by without an accept. */
    json_t *l = show (w.s, o, T0 + HOUR + 1);
    CHECK_EQ (json_array_size (json_object_get (l, "overdue")), 1);
    CHECK_EQ (json_integer_value (json_object_get (l, "persons")), 3);
    CHECK (strcmp (json_string_value (json_object_get (l, "to")), "320000") == 0);
    CHECK (strcmp (json_string_value (json_object_get (l, "region")), "310000") == 0);
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b}", "overdue", 1), T0 + 1, NULL);
    CHECK_EQ (json_array_size (l), 0);
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b}", "overdue", 1), T0 + HOUR + 1, NULL);
    CHECK_EQ (json_array_size (l), 1);
    json_decref (l);

    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o, -1), T0 + 10, acc, why), RCN_OK);
    CHECK (strcmp (state_of (w.s, o, T0 + 11), "accepted") == 0);
    l = show (w.s, o, T0 + HOUR + 1);
    CHECK_EQ (json_array_size (json_object_get (l, "overdue")), 0);   /* accepted in time */
    json_decref (l);
    /* A handover before the departure: refused when authored, ignored when signed anyway. */
    CHECK_EQ (submit (&w, MB, 0, step_body ("handover", o, 3), T0 + 20, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "\"accepted\" (it has not departed yet)") != NULL);
    rcn_entry_t *early = raw_step (&w, MB, 0, o, acc, 5, 3, T0 + 21);
    append (w.s, early, NULL);
    CHECK (strcmp (step_state (w.s, o, early->hash, T0 + 22), "ignored") == 0);
    CHECK (strcmp (state_of (w.s, o, T0 + 22), "accepted") == 0);
    CHECK_EQ (submit (&w, MA, 0, step_body ("depart", o, -1), T0 + 2 * HOUR, dep, why), RCN_OK);
    CHECK (strcmp (state_of (w.s, o, T0 + 2 * HOUR), "departed") == 0);
    l = show (w.s, o, T0 + 7 * HOUR);
    CHECK_EQ (json_array_size (json_object_get (l, "overdue")), 1);   /* not handed over by eta */
    json_decref (l);
    json_t *hb = step_body ("handover", o, 3);
    json_object_set_new (hb, "note", json_string ("all three received at the toll gate"));
    CHECK_EQ (submit (&w, MB, 0, hb, T0 + 5 * HOUR, hand, why), RCN_OK);
    l = show (w.s, o, T0 + 7 * HOUR);
    CHECK (strcmp (json_string_value (json_object_get (l, "state")), "handed_over") == 0);
    CHECK_EQ (json_array_size (json_object_get (l, "overdue")), 0);
    CHECK (json_object_get (l, "discrepancy") == NULL);
    CHECK_EQ (json_integer_value (json_object_get (l, "received")), 3);
    CHECK_EQ (json_array_size (json_object_get (l, "steps")), 4);
    CHECK_EQ (json_array_size (json_object_get (l, "superseded")), 0);
    char hex[65];
    CHECK (strcmp (json_string_value (json_object_get (l, "head")), rcn_hex (hand, 32, hex)) == 0);
    /* Each step names its parent: the order, then the step before. */
    json_t *st = step_in (l, dep);
    CHECK (strcmp (json_string_value (json_object_get (st, "parent")), rcn_hex (acc, 32, hex)) == 0);
    CHECK (strcmp (json_string_value (json_object_get (st, "state")), "applied") == 0);
    json_decref (st);
    st = step_in (l, acc);
    CHECK (strcmp (json_string_value (json_object_get (st, "parent")), rcn_hex (o, 32, hex)) == 0);
    json_decref (st);
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b}", "open", 1), T0 + 7 * HOUR, NULL);
    CHECK_EQ (json_array_size (l), 0);                          /* closed */
    json_decref (l);
    l = list_q (w.s, json_object (), T0 + 7 * HOUR, NULL);
    CHECK_EQ (json_array_size (l), 1);
    json_decref (l);
    /* Nothing after the handover. */
    CHECK_EQ (submit (&w, MA, 0, step_body ("cancel", o, -1), T0 + 8 * HOUR, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "handed_over") != NULL);
    world_close (&w);
}

static void
test_create_refusals (void)
{
    world_t w;
    world_open (&w);
    char why[512];
    static const struct { const char *field; const char *json; const char *needle; } bad[] = {
        { "order_id", NULL, "order_id" },
        { "order_id", "\"\"", "order_id" },
        { "to", "\"340001\"", "340001" },
        { "to", "\"990000\"", "to:" },
        { "to", "\"310000\"", "own region" },
        { "to", "\"350000\"", "not a member" },
        { "persons", "0", "persons" },
        { "persons", "501", "persons" },
        { "persons", "4", "persons is 4 but the manifest lists 3" },
        { "persons", "\"3\"", "persons" },
        { "manifest", "[]", "manifest" },
        { "manifest", "\"x\"", "manifest" },
        { "vehicle", NULL, "vehicle" },
        { "vehicle", "\"bus\\u0007\"", "vehicle" },
        { "handover_point", NULL, "handover_point" },
        { "depart_at_ms", "\"soon\"", "depart_at_ms" },
        { "eta_ms", "1795318200000", "eta must be after depart_at" },          /* = depart */
        { "accept_by_ms", "1795318200000", "accept_by must be before depart_at" },
        { "accept_by_ms", "1795310000000", "not in the future" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *b = order_body ("R-1");
        if (bad[i].json)
            json_object_set_new (b, bad[i].field, json_loads (bad[i].json, JSON_DECODE_ANY, NULL));
        else
            json_object_del (b, bad[i].field);
        why[0] = '\0';
        CHECK_EQ (submit (&w, MA, 0, b, T0, NULL, why), RCN_EINVAL);
        if (!strstr (why, bad[i].needle))
            fprintf (stderr, "    case %zu (%s): why \"%s\" lacks \"%s\"\n", i, bad[i].field, why,
                     bad[i].needle);
        CHECK (strstr (why, bad[i].needle) != NULL);
    }
    /* The manifest's persons: every rule, and no reason ever quotes a name or a number. */
    static const struct { int idx; const char *name; const char *id; const char *needle; } pbad[] = {
        { 1, "", NULL, "manifest[1].name" },
        { 2, "tab\there", NULL, "manifest[2].name" },
        { 0, NULL, "11010119900307124", "manifest[0].id_number" },     /* 17 chars */
        { 1, NULL, "110101199003071230", "check character" },
        { 1, NULL, "99010119900307123X", "GB/T 2260" },
        { 2, NULL, "11010119901332123X", "date of birth" },
        { 2, NULL, "11010119900307123x", "manifest[2].id_number" },
    };
    for (size_t i = 0; i < sizeof pbad / sizeof *pbad; i++) {
        json_t *b = order_body ("R-2"), *p = json_array_get (json_object_get (b, "manifest"),
                                                             (size_t) pbad[i].idx);
        if (pbad[i].name)
            json_object_set_new (p, "name", json_string (pbad[i].name));
        if (pbad[i].id)
            json_object_set_new (p, "id_number", json_string (pbad[i].id));
        CHECK_EQ (submit (&w, MA, 0, b, T0, NULL, why), RCN_EINVAL);
        if (!strstr (why, pbad[i].needle))
            fprintf (stderr, "    person case %zu: why \"%s\" lacks \"%s\"\n", i, why, pbad[i].needle);
        CHECK (strstr (why, pbad[i].needle) != NULL);
        CHECK (!pbad[i].id || strstr (why, pbad[i].id) == NULL);
        CHECK (strstr (why, PLANTED_NAME) == NULL && strstr (why, g_ids[0]) == NULL);
    }
    json_t *b = order_body ("R-3");
    json_object_set_new (json_array_get (json_object_get (b, "manifest"), 2), "id_number",
                         json_string (g_ids[0]));
    CHECK_EQ (submit (&w, MA, 0, b, T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "the same as manifest[0]") != NULL);
    b = order_body ("R-4");
    json_object_set_new (json_array_get (json_object_get (b, "manifest"), 0), "phone",
                         json_string ("13800000000"));
    CHECK_EQ (submit (&w, MA, 0, b, T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "only \"name\" and \"id_number\"") != NULL);
    /* 500 persons fit the count but not the sealing cap: said plainly. */
    b = order_body ("R-5");
    json_t *big = json_array ();
    for (int i = 0; i < 500; i++) {
        char first17[18], id[19];
        snprintf (first17, sizeof first17, "11010119900307%03d", i);
        make_id (id, first17);
        json_array_append_new (big, json_pack ("{s:s, s:s}", "name", "某某某", "id_number", id));
    }
    json_object_set_new (b, "manifest", big);
    json_object_set_new (b, "persons", json_integer (500));
    CHECK_EQ (submit (&w, MA, 0, b, T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "can be sealed") != NULL);
    /* D is a member but has published no sealing key: nothing can be sealed for it yet. */
    b = order_body ("R-6");
    json_object_set_new (b, "to", json_string ("340000"));
    CHECK_EQ (submit (&w, MA, 0, b, T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "340000 has published no sealing key") != NULL);
    /* Nor can a member without a key of its own issue one. */
    CHECK_EQ (submit (&w, MD, 0, order_body ("R-7"), T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "340000 has published no sealing key") != NULL);
    b = order_body ("R-8");
    json_object_set_new (b, "action", json_string ("teleport"));
    CHECK_EQ (submit (&w, MA, 0, b, T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "action") != NULL);
    CHECK_EQ (MA->seq, 1);                           /* nothing signed for any refusal */
    CHECK_EQ (MD->seq, 0);
    json_t *l = list_q (w.s, json_object (), T0, NULL);
    CHECK_EQ (json_array_size (l), 0);
    json_decref (l);
    world_close (&w);
}

static void
test_step_refusals (void)
{
    world_t w;
    world_open (&w);
    uint8_t o[32], ox[32], zero[32] = { 0 };
    char why[512];
    CHECK_EQ (submit (&w, MA, 0, order_body ("S-1"), T0, o, why), RCN_OK);
    CHECK_EQ (submit (&w, MA, RCN_STATUS_EXERCISE, order_body ("S-X"), T0, ox, why), RCN_OK);
    uint64_t a = MA->seq, b = MB->seq, c = MC->seq;
    static const struct { int who; const char *action; int count; const char *needle; } bad[] = {
        { 2, "accept", -1, "only the receiving region (320000)" },     /* C */
        { 0, "accept", -1, "only the receiving region" },              /* the issuer itself */
        { 1, "cancel", -1, "only the issuing region (310000)" },
        { 1, "depart", -1, "only the issuing region" },
        { 0, "depart", -1, "\"created\" (the receiving region has not accepted it yet)" },
        { 1, "handover", 3, "does not follow from the order's state \"created\"" },
        { 1, "handover", -1, "--count" },
        { 1, "accept", 3, "only a handover takes --count" },
        { 1, "handover", 100001, "count" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ (submit (&w, &M[bad[i].who], 0, step_body (bad[i].action, o, bad[i].count), T0 + 5,
                          NULL, why), RCN_EINVAL);
        if (!strstr (why, bad[i].needle))
            fprintf (stderr, "    case %zu: why \"%s\" lacks \"%s\"\n", i, why, bad[i].needle);
        CHECK (strstr (why, bad[i].needle) != NULL);
    }
    /* An order this member does not hold; a malformed hash; a note with a control character. */
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", zero, -1), T0 + 5, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "holds no order") != NULL);
    CHECK_EQ (submit (&w, MB, 0, json_pack ("{s:s, s:s}", "action", "accept", "order", "abcd"),
                      T0 + 5, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "64-hex-digit") != NULL);
    json_t *nb = step_body ("accept", o, -1);
    json_object_set_new (nb, "note", json_string ("bell\a"));
    CHECK_EQ (submit (&w, MB, 0, nb, T0 + 5, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "note") != NULL);
    /* A step carries its order's status: a drill never moves a real order, nor the reverse. */
    CHECK_EQ (submit (&w, MB, RCN_STATUS_EXERCISE, step_body ("accept", o, -1), T0 + 5, NULL, why),
              RCN_EINVAL);
    CHECK (strstr (why, "status") != NULL);
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", ox, -1), T0 + 5, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "the order is exercise") != NULL);
    CHECK_EQ (submit (&w, MB, RCN_STATUS_EXERCISE, step_body ("accept", ox, -1), T0 + 5, NULL, why),
              RCN_OK);
    CHECK_EQ (MA->seq, a);
    CHECK_EQ (MB->seq, b + 1);
    CHECK_EQ (MC->seq, c);
    json_t *l = show (w.s, ox, T0 + 6);
    CHECK (strcmp (json_string_value (json_object_get (l, "status")), "exercise") == 0);
    CHECK (strcmp (json_string_value (json_object_get (l, "state")), "accepted") == 0);
    json_decref (l);
    /* After a reject, nothing more; after a cancel, nothing more. */
    CHECK_EQ (submit (&w, MB, 0, step_body ("reject", o, -1), T0 + 6, NULL, why), RCN_OK);
    static const struct { int who; const char *action; int count; } after[] = {
        { 1, "accept", -1 }, { 0, "cancel", -1 }, { 0, "depart", -1 }, { 1, "handover", 3 },
    };
    for (size_t i = 0; i < sizeof after / sizeof *after; i++) {
        CHECK_EQ (submit (&w, &M[after[i].who], 0, step_body (after[i].action, o, after[i].count),
                          T0 + 7, NULL, why), RCN_EINVAL);
        CHECK (strstr (why, "rejected") != NULL);
    }
    CHECK_EQ (submit (&w, MA, RCN_STATUS_EXERCISE, step_body ("cancel", ox, -1), T0 + 8, NULL, why),
              RCN_OK);
    CHECK_EQ (submit (&w, MA, RCN_STATUS_EXERCISE, step_body ("depart", ox, -1), T0 + 9, NULL, why),
              RCN_EINVAL);
    CHECK (strstr (why, "cancelled") != NULL);
    CHECK_EQ (submit (&w, MB, RCN_STATUS_EXERCISE, step_body ("handover", ox, 3), T0 + 9, NULL, why),
              RCN_EINVAL);
    CHECK (strstr (why, "cancelled") != NULL);
    world_close (&w);
}

/* Steps rcctl refuses, signed anyway: where the entry's own chain shows the fault every member
 * records it invalid; where only another region's entries show it, it is stored, valid, and
 * the view ignores it. */
static void
test_misbehaving_steps (void)
{
    world_t w;
    world_open (&w);
    uint8_t o[32], acc[32];
    char why[512], reason[256];
    CHECK_EQ (submit (&w, MA, 0, order_body ("M-1"), T0, o, why), RCN_OK);
    /* Invalid from the entry and its own chain. */
    append (w.s, raw_step (&w, MB, 0, o, o, 4 /* cancel */, 0, T0 + 1), reason);
    CHECK (strstr (reason, "names no earlier order of the same region") != NULL);
    append (w.s, raw_step (&w, MA, 0, o, o, 1 /* accept */, 0, T0 + 2), reason);
    CHECK (strstr (reason, "issued an order cannot accept") != NULL);
    append (w.s, raw_step (&w, MA, RCN_STATUS_TEST, o, o, 4, 0, T0 + 3), reason);
    CHECK (strstr (reason, "status") != NULL);
    append (w.s, raw_step (&w, MB, 0, o, o, 1, 7, T0 + 4), reason);
    CHECK (strstr (reason, "only a handover carries a count") != NULL);
    append (w.s, raw_step (&w, MB, 0, o, o, 9, 0, T0 + 5), reason);
    CHECK (strstr (reason, "unknown action") != NULL);
    const uint8_t garbage[] = { 0xff, 0xff, 0x01 };
    append (w.s, sign (&w, MB, STEP, 0, garbage, sizeof garbage, T0 + 6), reason);
    CHECK (strstr (reason, "TransferStep") != NULL);
    append (w.s, sign (&w, MB, ORDER, 0, garbage, sizeof garbage, T0 + 6), reason);
    CHECK (strstr (reason, "TransferOrder") != NULL);
    /* A step with a field this version does not know: not canonical. */
    Rcn__TransferStep s = RCN__TRANSFER_STEP__INIT;
    s.order.data = o;
    s.order.len = 32;
    s.parent.data = o;
    s.parent.len = 32;
    s.action = RCN__TRANSFER_STEP__ACTION__ACCEPT;
    uint8_t buf[128];
    size_t len = rcn__transfer_step__pack (&s, buf);
    buf[len++] = 0x78;                 /* field 15, varint 1 */
    buf[len++] = 0x01;
    append (w.s, sign (&w, MB, STEP, 0, buf, len, T0 + 6), reason);
    CHECK (strstr (reason, "canonical") != NULL);
    /* A second order with A's order id: A's own chain shows it used. */
    rcn_entry_t *first = NULL;
    REQUIRE (rcn_store_get_by_hash (w.s, o, &first) == RCN_OK);
    append (w.s, sign (&w, MA, ORDER, 0, first->h.body, first->h.body_len, T0 + 7), reason);
    CHECK (strstr (reason, "order_id is already used") != NULL);
    rcn_entry_destroy (&first);

    /* Valid entries the view ignores: C accepting A's order to B (only the roster and A's
     * order show C is not the receiver, and A's order may reach a member after C's step). */
    rcn_entry_t *ce = raw_step (&w, MC, 0, o, o, 1, 0, T0 + 8);
    append (w.s, ce, reason);
    CHECK_EQ (strlen (reason), 0);
    CHECK (strcmp (state_of (w.s, o, T0 + 9), "created") == 0);
    CHECK (strcmp (step_state (w.s, o, ce->hash, T0 + 9), "ignored") == 0);
    /* B's drill accept of a real order: only A's order shows the statuses differ. */
    rcn_entry_t *xe = raw_step (&w, MB, RCN_STATUS_EXERCISE, o, o, 1, 0, T0 + 9);
    append (w.s, xe, reason);
    CHECK_EQ (strlen (reason), 0);
    json_t *xl = show (w.s, o, T0 + 10), *xs = step_in (xl, xe->hash);
    CHECK (strcmp (json_string_value (json_object_get (xs, "state")), "ignored") == 0);
    CHECK (strstr (json_string_value (json_object_get (xs, "why")),
                   "an exercise step cannot move an actual order") != NULL);
    json_decref (xs);
    json_decref (xl);
    /* Out of order: a handover before any departure, a depart before the accept. */
    rcn_entry_t *he = raw_step (&w, MB, 0, o, o, 5, 3, T0 + 10);
    append (w.s, he, reason);
    CHECK_EQ (strlen (reason), 0);
    CHECK (strcmp (step_state (w.s, o, he->hash, T0 + 11), "ignored") == 0);
    rcn_entry_t *de = raw_step (&w, MA, 0, o, o, 3, 0, T0 + 11);
    append (w.s, de, reason);
    CHECK_EQ (strlen (reason), 0);
    json_t *l = show (w.s, o, T0 + 12);
    json_t *st = step_in (l, de->hash);
    CHECK (strstr (json_string_value (json_object_get (st, "why")), "depart does not follow from created") != NULL);
    json_decref (st);
    CHECK (strcmp (json_string_value (json_object_get (l, "state")), "created") == 0);
    json_decref (l);
    /* The real accept still goes through, and names the order (the ignored steps lead nowhere). */
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o, -1), T0 + 12, acc, why), RCN_OK);
    CHECK (strcmp (state_of (w.s, o, T0 + 13), "accepted") == 0);
    /* A step on an ignored step is ignored too; a step after a terminal state is ignored. */
    rcn_entry_t *after_ignored = raw_step (&w, MB, 0, o, ce->hash, 2, 0, T0 + 14);
    append (w.s, after_ignored, reason);
    CHECK_EQ (strlen (reason), 0);
    CHECK (strcmp (step_state (w.s, o, after_ignored->hash, T0 + 15), "ignored") == 0);
    uint8_t cancel[32];
    CHECK_EQ (submit (&w, MA, 0, step_body ("cancel", o, -1), T0 + 15, cancel, why), RCN_OK);
    rcn_entry_t *late = raw_step (&w, MA, 0, o, cancel, 3, 0, T0 + 16);
    append (w.s, late, reason);
    CHECK (strcmp (step_state (w.s, o, late->hash, T0 + 17), "ignored") == 0);
    CHECK (strcmp (state_of (w.s, o, T0 + 17), "cancelled") == 0);
    /* The chains did not stall. */
    uint64_t head = 0;
    CHECK_EQ (rcn_store_head (w.s, MB->pk, &head, NULL), RCN_OK);
    CHECK_EQ (head, MB->seq);
    world_close (&w);
}

/* All interleavings of per-origin chains: each call picks the next origin at random. Feeds a
 * fresh store; returns the list JSON (compact) and the invalid reasons of every entry. */
static void
replay (world_t *w, unsigned seed, uint64_t now, char **list_out, char **invalid_out,
        const uint8_t *show_hash, char **show_out)
{
    char *dir;
    rcn_store_t *s = store_open (&dir);
    size_t next[4] = { 0 };
    const rcn_entry_t *by[4][LOG_MAX];
    size_t nby[4] = { 0 };
    for (size_t i = 0; i < w->n; i++)
        for (int m = 0; m < 4; m++)
            if (memcmp (w->log[i]->h.origin, M[m].pk, 32) == 0)
                by[m][nby[m]++] = w->log[i];
    size_t left = w->n;
    while (left > 0) {
        int m = (int) (rand_r (&seed) % 4);
        if (next[m] == nby[m])
            continue;
        rcn_entry_t *e = (rcn_entry_t *) by[m][next[m]++];
        append (s, e, NULL);
        left--;
    }
    json_t *l = list_q (s, json_object (), now, NULL);
    *list_out = json_dumps (l, JSON_COMPACT);
    json_decref (l);
    if (show_hash) {
        json_t *o = show (s, show_hash, now);
        *show_out = json_dumps (o, JSON_COMPACT);
        json_decref (o);
    }
    size_t cap = 64 * (w->n + 1), n = 0;
    char *inv = calloc (1, cap), reason[256], hex[65];
    for (size_t i = 0; i < w->n; i++) {
        if (rcn_store_invalid_reason (s, w->log[i]->hash, reason, sizeof reason) != RCN_OK)
            continue;
        n += (size_t) snprintf (inv + n, cap - n, "%.12s:%s;", rcn_hex (w->log[i]->hash, 32, hex),
                                reason);
        if (n >= cap - 1)
            break;
    }
    *invalid_out = inv;
    store_close (&s, dir);
}

/* B accepts and A cancels, both on the order, neither seeing the other: the cancel wins on
 * every member, whatever it heard first; B's handover on its superseded accept stays
 * superseded. */
static void
test_cancel_beats_accept (void)
{
    world_t w;
    world_open (&w);
    uint8_t o[32];
    char why[512], hex[65];
    CHECK_EQ (submit (&w, MA, 0, order_body ("C-1"), T0, o, why), RCN_OK);
    rcn_entry_t *acc = NULL, *can = NULL;
    /* A cancel whose hash is in the upper half, then an accept whose hash is lower than the
     * cancel's, so that only the rule can make the cancel win (the note varies the hash; an
     * entry not wanted is unsigned again). */
    for (int try = 0; try < 64; try++) {
        json_t *b = step_body ("cancel", o, -1);
        char note[32];
        snprintf (note, sizeof note, "try %d", try);
        json_object_set_new (b, "note", json_string (note));
        CHECK_EQ (author (&w, MA, 0, b, T0 + 11, &can, why), RCN_OK);
        REQUIRE (can);
        if (can->hash[0] >= 0x80)
            break;
        unsign (&w, MA);
        can = NULL;
    }
    REQUIRE (can);
    for (int try = 0; try < 64; try++) {
        json_t *b = step_body ("accept", o, -1);
        char note[32];
        snprintf (note, sizeof note, "try %d", try);
        json_object_set_new (b, "note", json_string (note));
        CHECK_EQ (author (&w, MB, 0, b, T0 + 10, &acc, why), RCN_OK);
        REQUIRE (acc);
        if (memcmp (acc->hash, can->hash, 32) < 0)
            break;
        unsign (&w, MB);
        acc = NULL;
    }
    REQUIRE (acc);
    /* Both name the order as parent: they really are concurrent. */
    for (int order = 0; order < 2; order++) {
        char *dir;
        rcn_store_t *s = store_open (&dir);
        for (size_t i = 0; i < w.n; i++)
            if (w.log[i] != acc && w.log[i] != can)
                append (s, w.log[i], NULL);
        append (s, order ? can : acc, NULL);
        append (s, order ? acc : can, NULL);
        json_t *l = show (s, o, T0 + 20);
        CHECK (strcmp (json_string_value (json_object_get (l, "state")), "cancelled") == 0);
        CHECK_EQ (json_array_size (json_object_get (l, "superseded")), 1);
        CHECK (strcmp (json_string_value (json_array_get (json_object_get (l, "superseded"), 0)),
                       rcn_hex (acc->hash, 32, hex)) == 0);
        json_t *st = step_in (l, acc->hash);
        CHECK (strstr (json_string_value (json_object_get (st, "why")), "cancel") != NULL);
        json_decref (st);
        json_decref (l);
        store_close (&s, dir);
    }
    append (w.s, acc, NULL);
    /* B, having seen only its accept, authors nothing more against it (A has not departed);
     * A, having seen only its cancel, departs nothing. A handover B signs anyway on its
     * accept is superseded with it. */
    rcn_entry_t *h = raw_step (&w, MB, 0, o, acc->hash, 5, 3, T0 + 30);
    append (w.s, h, NULL);
    append (w.s, can, NULL);
    CHECK (strcmp (state_of (w.s, o, T0 + 40), "cancelled") == 0);
    CHECK (strcmp (step_state (w.s, o, h->hash, T0 + 40), "superseded") == 0);
    /* Every arrival order of the whole history gives the same view. */
    char *first = NULL, *first_inv = NULL;
    for (unsigned seed = 1; seed <= 20; seed++) {
        char *lj, *inv;
        replay (&w, seed, T0 + 40, &lj, &inv, NULL, NULL);
        if (!first) {
            first = lj;
            first_inv = inv;
            CHECK (strstr (first, "\"cancelled\"") != NULL);
            continue;
        }
        CHECK (strcmp (first, lj) == 0);
        CHECK (strcmp (first_inv, inv) == 0);
        free (lj);
        free (inv);
    }
    free (first);
    free (first_inv);
    world_close (&w);
}

/* Two steps of B's on the same parent (its node misbehaving, or two of its operators on two
 * restored copies): the lower hash wins, not the first signed or the first heard. */
static void
test_lower_hash_wins (void)
{
    world_t w;
    world_open (&w);
    uint8_t o[32];
    char why[512];
    CHECK_EQ (submit (&w, MA, 0, order_body ("L-1"), T0, o, why), RCN_OK);
    rcn_entry_t *acc = raw_step (&w, MB, 0, o, o, 1, 0, T0 + 10);
    rcn_entry_t *rej = raw_step (&w, MB, 0, o, o, 2, 0, T0 + 11);
    bool accept_lower = memcmp (acc->hash, rej->hash, 32) < 0;
    append (w.s, acc, NULL);
    append (w.s, rej, NULL);
    CHECK (strcmp (state_of (w.s, o, T0 + 20), accept_lower ? "accepted" : "rejected") == 0);
    CHECK (strcmp (step_state (w.s, o, accept_lower ? rej->hash : acc->hash, T0 + 20),
                   "superseded") == 0);
    /* Whatever each member heard first. */
    char *first = NULL;
    for (unsigned seed = 1; seed <= 20; seed++) {
        char *lj, *inv;
        replay (&w, seed, T0 + 20, &lj, &inv, NULL, NULL);
        free (inv);
        if (!first)
            first = lj;
        else {
            CHECK (strcmp (first, lj) == 0);
            free (lj);
        }
    }
    free (first);
    /* The same with two handovers of different counts after a departure. */
    uint8_t o2[32], a2[32], d2[32];
    CHECK_EQ (submit (&w, MA, 0, order_body ("L-2"), T0, o2, why), RCN_OK);
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o2, -1), T0 + 1, a2, why), RCN_OK);
    CHECK_EQ (submit (&w, MA, 0, step_body ("depart", o2, -1), T0 + 2, d2, why), RCN_OK);
    rcn_entry_t *h3 = raw_step (&w, MB, 0, o2, d2, 5, 3, T0 + 3);
    rcn_entry_t *h2 = raw_step (&w, MB, 0, o2, d2, 5, 2, T0 + 4);
    append (w.s, h3, NULL);
    append (w.s, h2, NULL);
    json_t *l = show (w.s, o2, T0 + 5);
    bool three = memcmp (h3->hash, h2->hash, 32) < 0;
    CHECK_EQ (json_integer_value (json_object_get (l, "received")), three ? 3 : 2);
    CHECK ((json_object_get (l, "discrepancy") != NULL) == !three);
    CHECK_EQ (json_array_size (json_object_get (l, "superseded")), 1);
    json_decref (l);
    world_close (&w);
}

static void
test_discrepancy (void)
{
    world_t w;
    world_open (&w);
    uint8_t o[32];
    char why[512];
    CHECK_EQ (submit (&w, MA, 0, order_body ("D-1"), T0, o, why), RCN_OK);
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o, -1), T0 + 1, NULL, why), RCN_OK);
    CHECK_EQ (submit (&w, MA, 0, step_body ("depart", o, -1), T0 + 2, NULL, why), RCN_OK);
    CHECK_EQ (submit (&w, MB, 0, step_body ("handover", o, 2), T0 + 3, NULL, why), RCN_OK);
    json_t *l = show (w.s, o, T0 + 4);
    CHECK (strcmp (json_string_value (json_object_get (l, "state")), "handed_over") == 0);
    const json_t *d = json_object_get (l, "discrepancy");
    CHECK (d != NULL);
    CHECK_EQ (json_integer_value (json_object_get (d, "persons")), 3);
    CHECK_EQ (json_integer_value (json_object_get (d, "received")), 2);
    CHECK_EQ (json_integer_value (json_object_get (d, "difference")), -1);
    json_decref (l);
    /* A second handover with another count is refused: the receipt stands as signed. */
    CHECK_EQ (submit (&w, MB, 0, step_body ("handover", o, 3), T0 + 5, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "handed_over") != NULL);
    world_close (&w);
}

/* Steps before their order, and before their parent: pending, never invalid; resolved when
 * what they name arrives; 20 random arrival orders of a rich history give byte-identical
 * views and identical invalid records. */
static void
test_arrival_orders (void)
{
    world_t w;
    world_open (&w);
    uint8_t o1[32], o2[32], o3[32], o4[32], a1[32], d1[32], a2[32], x[32];
    char why[512], hex[65];
    /* o1: the full loop with a short count; o2: accepted and departed, in flight; o3: B's
     * accept and A's cancel concurrently; o4: an exercise order, rejected; plus misbehaviour. */
    CHECK_EQ (submit (&w, MA, 0, order_body ("A-1"), T0, o1, why), RCN_OK);
    CHECK_EQ (submit (&w, MA, 0, order_body ("A-2"), T0 + 1, o2, why), RCN_OK);
    CHECK_EQ (submit (&w, MA, 0, order_body ("A-3"), T0 + 2, o3, why), RCN_OK);
    CHECK_EQ (submit (&w, MA, RCN_STATUS_EXERCISE, order_body ("A-4"), T0 + 3, o4, why), RCN_OK);
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o1, -1), T0 + 10, a1, why), RCN_OK);
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o2, -1), T0 + 11, a2, why), RCN_OK);
    rcn_entry_t *acc3 = NULL, *can3 = NULL;
    CHECK_EQ (author (&w, MB, 0, step_body ("accept", o3, -1), T0 + 12, &acc3, why), RCN_OK);
    CHECK_EQ (author (&w, MA, 0, step_body ("cancel", o3, -1), T0 + 12, &can3, why), RCN_OK);
    append (w.s, acc3, NULL);
    append (w.s, can3, NULL);
    CHECK_EQ (submit (&w, MB, RCN_STATUS_EXERCISE, step_body ("reject", o4, -1), T0 + 13, NULL, why),
              RCN_OK);
    CHECK_EQ (submit (&w, MA, 0, step_body ("depart", o1, -1), T0 + 20, d1, why), RCN_OK);
    CHECK_EQ (submit (&w, MA, 0, step_body ("depart", o2, -1), T0 + 21, NULL, why), RCN_OK);
    CHECK_EQ (submit (&w, MB, 0, step_body ("handover", o1, 2), T0 + 30, NULL, why), RCN_OK);
    append (w.s, raw_step (&w, MC, 0, o2, a2, 5, 3, T0 + 31), NULL);      /* not C's to make */
    append (w.s, raw_step (&w, MB, 0, o1, o1, 4, 0, T0 + 32), NULL);      /* invalid: B cancels */
    memset (x, 0x77, 32);
    append (w.s, raw_step (&w, MC, 0, x, x, 1, 0, T0 + 33), NULL);        /* an order nobody holds */
    CHECK (strcmp (state_of (w.s, o1, T0 + 40), "handed_over") == 0);
    CHECK (strcmp (state_of (w.s, o2, T0 + 40), "departed") == 0);
    CHECK (strcmp (state_of (w.s, o3, T0 + 40), "cancelled") == 0);
    CHECK (strcmp (state_of (w.s, o4, T0 + 40), "rejected") == 0);

    /* Step before its order: B's accept alone names an order this store lacks. */
    {
        char *dir;
        rcn_store_t *s = store_open (&dir);
        for (size_t i = 0; i < 3; i++)           /* the SealKeys */
            append (s, w.log[i], NULL);
        rcn_entry_t *ba = NULL;
        REQUIRE (rcn_store_get_by_hash (w.s, a1, &ba) == RCN_OK);
        /* B's chain up to its accept of o1 is just that accept (after its SealKey). */
        char reason[256];
        append (s, ba, reason);
        CHECK_EQ (strlen (reason), 0);              /* not invalid: its order may come */
        json_t *l = list_q (s, json_pack ("{s:s}", "hash", rcn_hex (o1, 32, hex)), T0, why);
        CHECK (l == NULL);
        CHECK (strstr (why, "1 step naming it wait") != NULL);
        /* A's chain: o1, o2, o3, o4 then the cancel of o3, the departs. Feed A's order o1 only:
         * the accept is taken up. */
        rcn_entry_t *e = NULL;
        REQUIRE (rcn_store_get (w.s, MA->pk, 2, &e) == RCN_OK);
        append (s, e, NULL);
        rcn_entry_destroy (&e);
        CHECK (strcmp (state_of (s, o1, T0 + 40), "accepted") == 0);
        rcn_entry_destroy (&ba);
        store_close (&s, dir);
    }
    /* Step before its parent: A's depart of o1 (parent: B's accept) heard before B's accept. */
    {
        char *dir;
        rcn_store_t *s = store_open (&dir);
        for (size_t i = 0; i < 3; i++)
            append (s, w.log[i], NULL);
        for (uint64_t q = 2; q <= MA->seq; q++) {  /* all of A's chain, none of B's steps */
            rcn_entry_t *e = NULL;
            REQUIRE (rcn_store_get (w.s, MA->pk, q, &e) == RCN_OK);
            char reason[256];
            append (s, e, reason);
            CHECK_EQ (strlen (reason), 0);
            rcn_entry_destroy (&e);
        }
        json_t *l = show (s, o1, T0 + 40);
        CHECK (strcmp (json_string_value (json_object_get (l, "state")), "created") == 0);
        json_t *st = step_in (l, d1);
        CHECK (strcmp (json_string_value (json_object_get (st, "state")), "pending") == 0);
        CHECK (strstr (json_string_value (json_object_get (st, "why")), "not held yet") != NULL);
        json_decref (st);
        json_decref (l);
        /* o3: A's cancel alone: cancelled already. */
        CHECK (strcmp (state_of (s, o3, T0 + 40), "cancelled") == 0);
        for (uint64_t q = 2; q <= MB->seq; q++) {
            rcn_entry_t *e = NULL;
            REQUIRE (rcn_store_get (w.s, MB->pk, q, &e) == RCN_OK);
            append (s, e, NULL);
            rcn_entry_destroy (&e);
        }
        CHECK (strcmp (state_of (s, o1, T0 + 40), "handed_over") == 0);
        CHECK (strcmp (state_of (s, o3, T0 + 40), "cancelled") == 0);
        store_close (&s, dir);
    }
    char *first = NULL, *first_inv = NULL, *first_show = NULL;
    json_t *ref = list_q (w.s, json_object (), T0 + 7 * HOUR, NULL);
    char *ref_text = json_dumps (ref, JSON_COMPACT);
    json_decref (ref);
    for (unsigned seed = 100; seed < 120; seed++) {
        char *lj, *inv, *sj;
        replay (&w, seed, T0 + 7 * HOUR, &lj, &inv, o1, &sj);
        if (!first) {
            first = lj;
            first_inv = inv;
            first_show = sj;
            CHECK (strcmp (first, ref_text) == 0);
            CHECK (strstr (first_inv, "names no earlier order") != NULL);
            continue;
        }
        CHECK (strcmp (first, lj) == 0);
        CHECK (strcmp (first_inv, inv) == 0);
        CHECK (strcmp (first_show, sj) == 0);
        free (lj);
        free (inv);
        free (sj);
    }
    /* The view's verdicts, once more on the reference: o2's handover by C ignored, o2 overdue. */
    json_t *l = show (w.s, o2, T0 + 7 * HOUR);
    CHECK_EQ (json_array_size (json_object_get (l, "overdue")), 1);
    CHECK (strstr (first, "only the receiving region may handover") != NULL);
    json_decref (l);
    free (ref_text);
    free (first);
    free (first_inv);
    free (first_show);
    world_close (&w);
}

static bool
file_has (const char *path, const char *needle)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return false;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc (cap);
    for (size_t r; buf && (r = fread (buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *nb = realloc (buf, cap *= 2);
            if (!nb)
                break;
            buf = nb;
        }
    }
    fclose (f);
    bool found = buf && memmem (buf, n, needle, strlen (needle)) != NULL;
    free (buf);
    return found;
}

/* The manifest: A and B open it, C cannot; clear fields never carry it; no store holds a name
 * or an ID number in the clear. */
static void
test_sealing (void)
{
    world_t w;
    world_open (&w);
    uint8_t o[32];
    char why[512], hex[65];
    CHECK_EQ (submit (&w, MA, 0, order_body ("P-1"), T0, o, why), RCN_OK);
    for (int i = 0; i < 2; i++) {
        json_t *m = open_as (w.s, &M[i], o, why);
        CHECK (m != NULL);
        const json_t *list = json_object_get (m, "manifest");
        CHECK_EQ (json_array_size (list), 3);
        CHECK (strcmp (json_string_value (json_object_get (json_array_get (list, 0), "name")),
                       PLANTED_NAME) == 0);
        CHECK (strcmp (json_string_value (json_object_get (json_array_get (list, 0), "id_number")),
                       g_ids[0]) == 0);
        json_decref (m);
    }
    CHECK (open_as (w.s, MC, o, why) == NULL);
    CHECK (strcmp (why, "not addressed to 330000") == 0);
    /* A step seals nothing. */
    uint8_t acc[32];
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o, -1), T0 + 1, acc, why), RCN_OK);
    CHECK (open_as (w.s, MB, acc, why) == NULL);
    /* What export and log tail show: the size and the readers, never the contents. */
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_store_get_by_hash (w.s, o, &e) == RCN_OK);
    json_t *sh = K->show (e->h.kind, e->h.body, e->h.body_len);
    char *text = json_dumps (sh, 0);
    CHECK (strstr (text, PLANTED_NAME) == NULL && strstr (text, g_ids[0]) == NULL);
    const json_t *mf = json_object_get (sh, "manifest");
    CHECK (json_integer_value (json_object_get (mf, "sealed")) > 0);
    CHECK_EQ (json_array_size (json_object_get (mf, "readers")), 2);
    CHECK (strcmp (json_string_value (json_array_get (json_object_get (mf, "readers"), 0)),
                   rcn_hex (MA->pk, 32, hex)) == 0);
    CHECK_EQ (json_integer_value (json_object_get (sh, "persons")), 3);
    free (text);
    json_decref (sh);
    rcn_entry_destroy (&e);
    REQUIRE (rcn_store_get_by_hash (w.s, acc, &e) == RCN_OK);
    sh = K->show (e->h.kind, e->h.body, e->h.body_len);
    CHECK (strcmp (json_string_value (json_object_get (sh, "action")), "accept") == 0);
    CHECK (strcmp (json_string_value (json_object_get (sh, "parent")), rcn_hex (o, 32, hex)) == 0);
    json_decref (sh);
    rcn_entry_destroy (&e);
    json_t *l = list_q (w.s, json_object (), T0 + 2, NULL);
    text = json_dumps (l, 0);
    CHECK (strstr (text, PLANTED_NAME) == NULL && strstr (text, g_ids[1]) == NULL);
    free (text);
    json_decref (l);
    /* C's copy of the log (every entry, as replication brings it) holds neither. */
    char *dir;
    rcn_store_t *s = store_open (&dir);
    for (size_t i = 0; i < w.n; i++)
        append (s, w.log[i], NULL);
    rcn_store_destroy (&s);
    char path[4200];
    snprintf (path, sizeof path, "%s/data.mdb", dir);
    FILE *f = fopen (path, "rb");
    CHECK (f != NULL);
    if (f)
        fclose (f);
    CHECK (file_has (path, "G60 Fengjing toll gate"));       /* the harness sees clear text */
    CHECK (!file_has (path, PLANTED_NAME));
    for (int i = 0; i < 3; i++)
        CHECK (!file_has (path, g_ids[i]));
    CHECK (!file_has (path, "张三"));
    rcn_test_rmtree (dir);
    free (dir);
    snprintf (path, sizeof path, "%s/data.mdb", w.dir);
    CHECK (!file_has (path, PLANTED_NAME));
    CHECK (!file_has (path, g_ids[0]));
    world_close (&w);
}

static void
test_idempotent (void)
{
    world_t w;
    world_open (&w);
    uint8_t o[32], acc[32];
    char why[512], hex[65];
    CHECK_EQ (submit (&w, MA, 0, order_body ("I-1"), T0, o, why), RCN_OK);
    uint64_t seq = MA->seq;
    /* The same order again (sealed anew: other bytes, same content) is the existing one. */
    CHECK_EQ (submit (&w, MA, 0, order_body ("I-1"), T0 + 5, NULL, why), RCN_EDUP);
    CHECK (strcmp (why, rcn_hex (o, 32, hex)) == 0);
    /* Another name in the manifest, another vehicle, another status: refused. */
    json_t *b = order_body ("I-1");
    json_object_set_new (json_array_get (json_object_get (b, "manifest"), 1), "name",
                         json_string ("张三丰"));
    CHECK_EQ (submit (&w, MA, 0, b, T0 + 5, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "already used by order") != NULL);
    CHECK (strstr (why, "张三丰") == NULL);
    b = order_body ("I-1");
    json_object_set_new (b, "vehicle", json_string ("another bus"));
    CHECK_EQ (submit (&w, MA, 0, b, T0 + 5, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "other content") != NULL);
    CHECK_EQ (submit (&w, MA, RCN_STATUS_EXERCISE, order_body ("I-1"), T0 + 5, NULL, why), RCN_EINVAL);
    CHECK_EQ (MA->seq, seq);
    /* Another region may use the same order id. */
    json_t *bb = order_body ("I-1");
    json_object_set_new (bb, "to", json_string ("310000"));
    CHECK_EQ (submit (&w, MB, 0, bb, T0 + 6, NULL, why), RCN_OK);
    /* Steps: the same step by the same party again is the existing step. */
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o, -1), T0 + 7, acc, why), RCN_OK);
    seq = MB->seq;
    CHECK_EQ (submit (&w, MB, 0, step_body ("accept", o, -1), T0 + 8, NULL, why), RCN_EDUP);
    CHECK (strcmp (why, rcn_hex (acc, 32, hex)) == 0);
    CHECK_EQ (submit (&w, MB, 0, step_body ("reject", o, -1), T0 + 8, NULL, why), RCN_EINVAL);
    CHECK_EQ (MB->seq, seq);
    uint8_t dep[32], hand[32];
    CHECK_EQ (submit (&w, MA, 0, step_body ("depart", o, -1), T0 + 9, dep, why), RCN_OK);
    CHECK_EQ (submit (&w, MA, 0, step_body ("depart", o, -1), T0 + 10, NULL, why), RCN_EDUP);
    CHECK (strcmp (why, rcn_hex (dep, 32, hex)) == 0);
    CHECK_EQ (submit (&w, MB, 0, step_body ("handover", o, 3), T0 + 11, hand, why), RCN_OK);
    CHECK_EQ (submit (&w, MB, 0, step_body ("handover", o, 3), T0 + 12, NULL, why), RCN_EDUP);
    CHECK (strcmp (why, rcn_hex (hand, 32, hex)) == 0);
    CHECK_EQ (submit (&w, MB, 0, step_body ("handover", o, 2), T0 + 12, NULL, why), RCN_EINVAL);
    world_close (&w);
}

static int
cli (const char *words, const char *input, json_t **req, char *why)
{
    char buf[1024];
    snprintf (buf, sizeof buf, "%s", words);
    char *argv[40];
    int argc = 0;
    for (char *t = strtok (buf, " "); t && argc < 39; t = strtok (NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    json_t *in = input ? json_loads (input, 0, NULL) : NULL;
    *req = NULL;
    int rc = K->cli (argc, argv, in, T0, req, why, 256);
    json_decref (in);
    return rc;
}

static void
test_cli (void)
{
    json_t *req = NULL;
    char why[256], words[1024];
    snprintf (words, sizeof words, "create --order-id SH-9 --to 320000 --persons 2 --person "
              "Zhang_San,%s --person Li_Si,%s --vehicle bus --depart-at 2026-11-22T12:00:00+08:00 "
              "--eta +6h --accept-by +30m --handover-point gate", g_ids[0], g_ids[1]);
    CHECK_EQ (cli (words, NULL, &req, why), RCN_OK);
    const json_t *b = json_object_get (req, "body");
    CHECK (strcmp (json_string_value (json_object_get (req, "op")), "author") == 0);
    CHECK (strcmp (json_string_value (json_object_get (b, "action")), "create") == 0);
    CHECK_EQ (json_array_size (json_object_get (b, "manifest")), 2);
    CHECK_EQ (json_integer_value (json_object_get (b, "depart_at_ms")), 1795320000000LL);
    CHECK_EQ (json_integer_value (json_object_get (b, "eta_ms")), (json_int_t) (T0 + 6 * HOUR));
    CHECK_EQ (json_integer_value (json_object_get (b, "accept_by_ms")), (json_int_t) (T0 + HOUR / 2));
    json_decref (req);
    char input[1024];
    snprintf (input, sizeof input, "{\"order_id\":\"SH-10\",\"to\":320000,\"persons\":1,"
              "\"manifest\":[{\"name\":\"王五\",\"id_number\":\"%s\"}],\"vehicle\":\"bus\","
              "\"depart_at\":\"2026-11-22T12:00:00+08:00\",\"eta\":\"2026-11-22T16:00:00+08:00\","
              "\"handover_point\":\"gate\",\"accept_by\":\"2026-11-22T11:00:00+08:00\"}", g_ids[2]);
    CHECK_EQ (cli ("create", input, &req, why), RCN_OK);
    b = json_object_get (req, "body");
    CHECK (strcmp (json_string_value (json_object_get (b, "to")), "320000") == 0);
    CHECK_EQ (json_integer_value (json_object_get (b, "accept_by_ms")), 1795316400000LL);
    json_decref (req);
    CHECK_EQ (cli ("create", "{\"order_id\":\"x\",\"colour\":\"red\"}", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "colour") != NULL);
    CHECK_EQ (cli ("create", "{\"order_id\":\"x\",\"eta\":\"tomorrow\"}", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "eta") != NULL);
    CHECK_EQ (cli ("create --order-id x --to 320000", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "persons is required") != NULL);
    CHECK_EQ (cli ("create --order-id x --person nocomma", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "--person") != NULL);
    static const char h[] = "3f2a000000000000000000000000000000000000000000000000000000000001";
    snprintf (words, sizeof words, "accept %s --note ok", h);
    CHECK_EQ (cli (words, NULL, &req, why), RCN_OK);
    b = json_object_get (req, "body");
    CHECK (strcmp (json_string_value (json_object_get (b, "order")), h) == 0);
    CHECK (strcmp (json_string_value (json_object_get (b, "note")), "ok") == 0);
    CHECK (json_object_get (b, "count") == NULL);
    json_decref (req);
    snprintf (words, sizeof words, "handover %s --count 3", h);
    CHECK_EQ (cli (words, NULL, &req, why), RCN_OK);
    CHECK_EQ (json_integer_value (json_object_get (json_object_get (req, "body"), "count")), 3);
    json_decref (req);
    snprintf (words, sizeof words, "handover %s", h);
    CHECK_EQ (cli (words, NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "--count") != NULL);
    snprintf (words, sizeof words, "accept %s --count 3", h);
    CHECK_EQ (cli (words, NULL, &req, why), RCN_EINVAL);
    snprintf (words, sizeof words, "depart %s --to 330000", h);
    CHECK_EQ (cli (words, NULL, &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("cancel abcd", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "64 hex") != NULL);
    snprintf (words, sizeof words, "show %s", h);
    CHECK_EQ (cli (words, NULL, &req, why), RCN_OK);
    CHECK (strcmp (json_string_value (json_object_get (req, "op")), "open") == 0);
    CHECK (strcmp (json_string_value (json_object_get (req, "hash")), h) == 0);
    CHECK (strcmp (json_string_value (json_object_get (json_object_get (req, "query"), "hash")), h) == 0);
    json_decref (req);
    CHECK_EQ (cli ("list --open --overdue", NULL, &req, why), RCN_OK);
    CHECK (strcmp (json_string_value (json_object_get (req, "op")), "list") == 0);
    CHECK (json_is_true (json_object_get (json_object_get (req, "query"), "open")));
    CHECK (json_is_true (json_object_get (json_object_get (req, "query"), "overdue")));
    json_decref (req);
    CHECK_EQ (cli ("list --note x", NULL, &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("teleport", NULL, &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("", NULL, &req, why), RCN_EINVAL);
    CHECK (K->json_verbs && strcmp (K->json_verbs[0], "create") == 0 && !K->json_verbs[1]);
    CHECK (K->depends && K->depends (NULL));
    CHECK (rcn_kind_handles (K, ORDER) && rcn_kind_handles (K, STEP));
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    alliance_init ();
    RUN (test_full_loop);
    RUN (test_create_refusals);
    RUN (test_step_refusals);
    RUN (test_misbehaving_steps);
    RUN (test_cancel_beats_accept);
    RUN (test_lower_hash_wins);
    RUN (test_discrepancy);
    RUN (test_arrival_orders);
    RUN (test_sealing);
    RUN (test_idempotent);
    RUN (test_cli);
    alliance_free ();
    return rcn_test_done ();
}
