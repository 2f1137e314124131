/* test_case.c — the case kind over a real store with real sealing keys: rcctl's parsing, every
 * refusal of author and apply, sealing (origin and addressee open, others cannot, a redirect
 * target can after the rewrap), idempotent re-submission, order-independence of the view
 * (20 interleavings of three origins' entries), no personal detail in the LMDB file, and the
 * automatic receipts. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/roster.h"
#include "rcn/seal.h"
#include "rcn/sealkey.h"
#include "rcn/store.h"
#include "rcn.pb-c.h"

extern const rcn_kind_t rcn_kind_case;
static const rcn_kind_t *const s_kinds[] = { &rcn_kind_case, &rcn_kind_sealkey, NULL };

#define T0 1795311000000ULL          /* 2026-11-22T01:30:00Z */
#define NM 5                         /* A B C D E; D is never addressed, E has no sealing key */
enum { A, B, C, D, E };
static const uint32_t s_region[NM] = { 310000, 320000, 330000, 340000, 350000 };
static const char *const s_rname[NM] = { "Shanghai", "Jiangsu", "Zhejiang", "Anhui", "Fujian" };

#define NAME "Planted-Zhangsanfeng"
#define IDNO "32058319900307451X"
#define PHONE "+86 139 0000 1111"

typedef struct {
    uint8_t pk[32], sk[64];
    uint64_t seq;
    uint8_t head[32];
    char *keydir;
    rcn_seal_t *seal;
    rcn_kind_env_t env;
    rcn_entry_t *log[128];
    size_t n_log;
} member_t;

static member_t M[NM];
static rcn_roster_t *R;
static uint64_t g_now = T0;

static void
world_init (void)
{
    json_t *members = json_array ();
    for (int i = 0; i < NM; i++) {
        uint8_t seed[32], curve[32];
        memset (seed, 0x40 + i, 32);
        memset (curve, 0x70 + i, 32);
        crypto_sign_seed_keypair (M[i].pk, M[i].sk, seed);
        char hex[65], z85[41], ep[64], ep2[64];
        rcn_z85_key (curve, z85);
        snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", 7100 + 10 * i);
        snprintf (ep2, sizeof ep2, "tcp://127.0.0.1:%d", 7101 + 10 * i);
        char code[16];
        snprintf (code, sizeof code, "%06u", s_region[i]);
        json_array_append_new (members, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "region", code,
                                                   "name", s_rname[i], "sign_key",
                                                   rcn_hex (M[i].pk, 32, hex), "curve_key", z85,
                                                   "pub", ep, "sync", ep2));
        M[i].keydir = rcn_test_tmpdir ("casekeys");
        char why[256];
        REQUIRE (rcn_seal_load (M[i].keydir, true, T0 - 60000, &M[i].seal, why, sizeof why) == RCN_OK);
    }
    json_t *root = json_pack ("{s:i, s:{s:i}, s:o}", "rcn_roster", 1, "policy", "response_sla_s",
                              3600, "members", members);
    char *text = json_dumps (root, JSON_COMPACT);
    char why[256];
    REQUIRE (rcn_roster_parse ((const uint8_t *) text, strlen (text), &R, why, sizeof why) == RCN_OK);
    free (text);
    json_decref (root);
    for (int i = 0; i < NM; i++)
        M[i].env = (rcn_kind_env_t) { .origin = M[i].pk, .region = s_region[i], .roster = R,
                                      .seal = M[i].seal };
}

static void
world_free (void)
{
    for (int i = 0; i < NM; i++) {
        for (size_t j = 0; j < M[i].n_log; j++)
            rcn_entry_destroy (&M[i].log[j]);
        rcn_seal_destroy (&M[i].seal);
        rcn_test_rmtree (M[i].keydir);
        free (M[i].keydir);
    }
    rcn_roster_destroy (&R);
}

/* Every member starts a new chain (a test's fresh store). */
static void
chains_reset (void)
{
    for (int i = 0; i < NM; i++) {
        for (size_t j = 0; j < M[i].n_log; j++)
            rcn_entry_destroy (&M[i].log[j]);
        M[i].n_log = 0;
        M[i].seq = 0;
        memset (M[i].head, 0, 32);
    }
    g_now = T0;
}

static rcn_store_t *
store_open (char **dir)
{
    *dir = rcn_test_tmpdir ("case");
    rcn_store_opts_t o = { .is_member = rcn_roster_is_member, .member_ctx = R, .kinds = s_kinds };
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

/* Signs body as member i's next entry (kept in its log for replays) and appends it; returns
 * the entry (borrowed from the log) and its invalid reason ("" when valid). */
static rcn_entry_t *
sign_append (rcn_store_t *s, int i, uint32_t kind, uint32_t status, const uint8_t *body,
             size_t len, char *reason, size_t rlen)
{
    member_t *m = &M[i];
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (m->sk, m->seq + 1, m->seq ? m->head : NULL, g_now, kind, status,
                             body, len, &e) == RCN_OK);
    g_now += 1000;
    m->seq++;
    memcpy (m->head, e->hash, 32);
    REQUIRE (m->n_log < sizeof m->log / sizeof *m->log);
    m->log[m->n_log++] = e;
    int res = -1;
    REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
    CHECK_EQ (res, RCN_OK);
    char buf[256];
    if (rcn_store_invalid_reason (s, e->hash, buf, sizeof buf) != RCN_OK)
        buf[0] = '\0';
    if (reason)
        snprintf (reason, rlen, "%s", buf);
    return e;
}

static void
publish_keys (rcn_store_t *s)
{
    for (int i = 0; i < NM; i++) {
        if (i == E)
            continue;
        uint8_t pk[32], buf[64];
        uint64_t from;
        REQUIRE (rcn_seal_current (M[i].seal, T0, pk, &from) == RCN_OK);
        Rcn__SealKey k = RCN__SEAL_KEY__INIT;
        k.public_key.data = pk;
        k.public_key.len = 32;
        k.from_ms = from;
        size_t len = rcn__seal_key__pack (&k, buf);
        char reason[256];
        sign_append (s, i, RCN__KIND__KIND_SEAL_KEY, 0, buf, len, reason, sizeof reason);
        CHECK (reason[0] == '\0');
    }
}

typedef struct {
    const rcn_kind_env_t *env;
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
    c->kind = rcn_kind_case.kind;
    c->rc = rcn_kind_case.author (v, c->env, c->req, c->now, &c->kind, &c->body, &c->len, c->why,
                                  sizeof c->why);
    return RCN_OK;
}

/* author() for member i (env may be overridden), then signs and appends what it made; every
 * authored entry must be one apply accepts. Returns author's rc; why gets its message. */
static int
submit_env (rcn_store_t *s, int i, const rcn_kind_env_t *env, const char *verb, uint32_t status,
            const char *body_json, uint8_t hash[32], char *why)
{
    json_error_t jerr;
    json_t *body = json_loads (body_json, 0, &jerr);
    if (!body)
        fprintf (stderr, "    bad test JSON: %s: %s\n", body_json, jerr.text);
    REQUIRE (body != NULL);
    author_ctx_t c = { .env = env ? env : &M[i].env, .now = g_now };
    c.req = json_pack ("{s:s, s:o, s:i}", "verb", verb, "body", body, "status", (int) status);
    REQUIRE (rcn_store_read (s, &rcn_kind_case, author_cb, &c) == RCN_OK);
    json_decref (c.req);
    if (why)
        strcpy (why, c.why);
    if (c.rc != RCN_OK)
        return c.rc;
    char reason[256];
    rcn_entry_t *e = sign_append (s, i, c.kind, status, c.body, c.len, reason, sizeof reason);
    free (c.body);
    if (reason[0])
        fprintf (stderr, "    authored entry judged invalid: %s\n", reason);
    CHECK (reason[0] == '\0');
    if (hash)
        memcpy (hash, e->hash, 32);
    return RCN_OK;
}

static int
submit (rcn_store_t *s, int i, const char *verb, uint32_t status, const char *body_json,
        uint8_t hash[32], char *why)
{
    return submit_env (s, i, NULL, verb, status, body_json, hash, why);
}

/* A notice body from the parts that vary. */
static char *
notice_json (const char *case_id, const char *cls, const char *to, const char *extra)
{
    static char buf[2048];
    snprintf (buf, sizeof buf, "{\"case_id\":\"%s\",\"classification\":\"%s\",\"to\":[%s],"
              "\"residence\":\"320583\",\"reported_at_ms\":%llu,\"personal\":{\"name\":\"" NAME
              "\",\"id_number\":\"" IDNO "\",\"phone\":\"" PHONE "\"}%s%s}", case_id, cls, to,
              (unsigned long long) (T0 - 3600000), extra ? "," : "", extra ? extra : "");
    return buf;
}

static char *
ack_json (const uint8_t h[32], const char *answer, const char *extra)
{
    static char buf[512];
    char hex[65];
    snprintf (buf, sizeof buf, "{\"notice\":\"%s\",\"status\":\"%s\"%s%s}", rcn_hex (h, 32, hex),
              answer, extra ? "," : "", extra ? extra : "");
    return buf;
}

typedef struct {
    const rcn_kind_env_t *env;
    const json_t *query;
    json_t *out;
    char why[512];
} list_ctx_t;

static int
list_cb (const rcn_view_t *v, void *ctx)
{
    list_ctx_t *l = ctx;
    l->out = rcn_kind_case.list (v, l->env, l->query, g_now, l->why, sizeof l->why);
    return RCN_OK;
}

static json_t *
list_q (rcn_store_t *s, int i, const char *query, char *why)
{
    json_t *q = json_loads (query ? query : "{}", 0, NULL);
    (void) i;
    rcn_kind_env_t env = { .roster = R };            /* rcctl's: roster only */
    list_ctx_t l = { .env = &env, .query = q };
    REQUIRE (rcn_store_read (s, &rcn_kind_case, list_cb, &l) == RCN_OK);
    json_decref (q);
    if (why)
        strcpy (why, l.why);
    return l.out;
}

static json_t *
show (rcn_store_t *s, const uint8_t h[32])
{
    char q[128], hex[65];
    snprintf (q, sizeof q, "{\"hash\":\"%s\"}", rcn_hex (h, 32, hex));
    return list_q (s, -1, q, NULL);
}

static const json_t *
addressee (const json_t *notice, uint32_t region)
{
    size_t i;
    const json_t *a;
    char code[16];
    snprintf (code, sizeof code, "%06u", region);
    json_array_foreach (json_object_get (notice, "addressees"), i, a)
        if (strcmp (json_string_value (json_object_get (a, "region")), code) == 0)
            return a;
    return NULL;
}

static const char *
state_of (const json_t *notice, uint32_t region)
{
    const json_t *a = addressee (notice, region);
    return a ? json_string_value (json_object_get (a, "state")) : "(none)";
}

static const char *
str (const json_t *o, const char *key)
{
    const char *s = json_string_value (json_object_get (o, key));
    return s ? s : "";
}

typedef struct {
    const rcn_kind_env_t *env;
    rcn_entry_t *e;
    json_t *out;
    char why[512];
} open_ctx_t;

static int
open_cb (const rcn_view_t *v, void *ctx)
{
    open_ctx_t *o = ctx;
    o->out = rcn_kind_case.open (v, o->env, o->e, o->why, sizeof o->why);
    return RCN_OK;
}

static json_t *
open_as (rcn_store_t *s, int i, const uint8_t h[32], char *why)
{
    open_ctx_t o = { .env = &M[i].env };
    REQUIRE (rcn_store_get_by_hash (s, h, &o.e) == RCN_OK);
    REQUIRE (rcn_store_read (s, &rcn_kind_case, open_cb, &o) == RCN_OK);
    rcn_entry_destroy (&o.e);
    if (why)
        strcpy (why, o.why);
    return o.out;
}

typedef struct {
    const rcn_kind_env_t *env;
    json_t *reqs;
    int rc;
} auto_ctx_t;

static int
auto_cb (const rcn_view_t *v, void *ctx)
{
    auto_ctx_t *a = ctx;
    char why[256];
    a->rc = rcn_kind_case.auto_author (v, a->env, g_now, a->reqs, why, sizeof why);
    return RCN_OK;
}

static json_t *
auto_props (rcn_store_t *s, int i)
{
    auto_ctx_t a = { .env = &M[i].env, .reqs = json_array () };
    REQUIRE (rcn_store_read (s, &rcn_kind_case, auto_cb, &a) == RCN_OK);
    CHECK_EQ (a.rc, RCN_OK);
    return a.reqs;
}

/* Submits each proposal as the node would (status from the proposal). Returns how many. */
static size_t
run_auto (rcn_store_t *s, int i)
{
    json_t *reqs = auto_props (s, i);
    size_t k;
    json_t *q;
    json_array_foreach (reqs, k, q) {
        char *body = json_dumps (json_object_get (q, "body"), JSON_COMPACT);
        char why[512];
        int st = rcn_status_parse (str (q, "status"));
        CHECK (strcmp (str (q, "kind"), "case") == 0 && strcmp (str (q, "verb"), "ack") == 0);
        CHECK_EQ (submit (s, i, "ack", (uint32_t) st, body, NULL, why), RCN_OK);
        free (body);
    }
    size_t n = json_array_size (reqs);
    json_decref (reqs);
    return n;
}

/* ---- rcctl ------------------------------------------------------------------------------------- */

static int
cli_in (const char *words, const char *input, json_t **req, char *why)
{
    char buf[1024];
    snprintf (buf, sizeof buf, "%s", words);
    char *argv[40];
    int argc = 0;
    for (char *t = strtok (buf, " "); t && argc < 39; t = strtok (NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    json_t *in = input ? json_loads (input, 0, NULL) : NULL;
    if (input)
        REQUIRE (in != NULL);
    *req = NULL;
    int rc = rcn_kind_case.cli (argc, argv, in, T0, req, why, 512);
    json_decref (in);
    return rc;
}

static int
cli (const char *words, json_t **req, char *why)
{
    return cli_in (words, NULL, req, why);
}

#define HASH64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void
test_cli (void)
{
    json_t *req = NULL;
    char why[512];
    CHECK_EQ (cli ("notify --case-id SH-2026-0001 --classification close_contact --to 320000,330000 "
                   "--residence 320583 --reported-at 2026-11-22T09:30:00+08:00 --onset -2d "
                   "--name Zhang --id-number " IDNO " --phone 13900001111", &req, why), RCN_OK);
    const json_t *b = json_object_get (req, "body");
    CHECK (strcmp (str (req, "op"), "author") == 0 && strcmp (str (req, "verb"), "notify") == 0);
    CHECK_EQ (json_array_size (json_object_get (b, "to")), 2);
    CHECK_EQ (json_integer_value (json_object_get (b, "reported_at_ms")), (json_int_t) T0);
    CHECK_EQ (json_integer_value (json_object_get (b, "onset_ms")), (json_int_t) (T0 - 2 * 86400000ULL));
    CHECK (strcmp (str (json_object_get (b, "personal"), "id_number"), IDNO) == 0);
    json_decref (req);

    /* The example on stdin; flags may add to it. */
    const char *in = "{\"case_id\":\"SH-2026-0001\",\"classification\":\"close_contact\","
                     "\"to\":[\"320000\"],\"residence\":\"320583\","
                     "\"reported_at\":\"2026-11-22T09:30:00+08:00\",\"onset\":\"2026-11-20T08:00:00+08:00\","
                     "\"personal\":{\"name\":\"Zhang\",\"id_number\":\"" IDNO "\",\"phone\":\"139\","
                     "\"address\":\"Kunshan\",\"notes\":\"n\"}}";
    CHECK_EQ (cli_in ("notify --notes later", in, &req, why), RCN_OK);
    b = json_object_get (req, "body");
    CHECK_EQ (json_integer_value (json_object_get (b, "reported_at_ms")), (json_int_t) T0);
    CHECK (strcmp (str (json_object_get (b, "personal"), "address"), "Kunshan") == 0);
    CHECK (strcmp (str (json_object_get (b, "personal"), "notes"), "later") == 0);
    json_decref (req);

    CHECK_EQ (cli ("ack " HASH64 " taken_over --note ok", &req, why), RCN_OK);
    b = json_object_get (req, "body");
    CHECK (strcmp (str (b, "status"), "taken_over") == 0 && strcmp (str (b, "notice"), HASH64) == 0);
    json_decref (req);
    CHECK_EQ (cli ("ack " HASH64 " not_ours --redirect 330000", &req, why), RCN_OK);
    CHECK (strcmp (str (json_object_get (req, "body"), "redirect"), "330000") == 0);
    json_decref (req);
    CHECK_EQ (cli ("ack " HASH64 " --redirect 330000", &req, why), RCN_OK);   /* not_ours implied */
    CHECK (strcmp (str (json_object_get (req, "body"), "status"), "not_ours") == 0);
    json_decref (req);
    CHECK_EQ (cli ("list --owed --to-me --from 310000", &req, why), RCN_OK);
    CHECK (strcmp (str (req, "op"), "list") == 0);
    CHECK (json_is_true (json_object_get (json_object_get (req, "query"), "to_me")));
    CHECK (strcmp (str (json_object_get (req, "query"), "from"), "310000") == 0);
    json_decref (req);
    CHECK_EQ (cli ("show " HASH64, &req, why), RCN_OK);
    CHECK (strcmp (str (req, "op"), "open") == 0 && strcmp (str (req, "hash"), HASH64) == 0);
    CHECK (strcmp (str (json_object_get (req, "query"), "hash"), HASH64) == 0);
    json_decref (req);

    static const struct { const char *words, *input, *needle; } bad[] = {
        { "", NULL, "say notify" },
        { "shout", NULL, "unknown verb" },
        { "notify --classification confirmed --to 320000 --residence 320583 --reported-at +0s "
          "--name Z", NULL, "--case-id is required" },
        { "notify --case-id X --classification confirmed --to 320000 --residence 320583 "
          "--reported-at +0s", NULL, "--name is required" },
        { "notify --case-id X --classification confirmed --to 32x --residence 320583 "
          "--reported-at +0s --name Z", NULL, "--to" },
        { "notify --case-id X --classification confirmed --to 320000 --residence 320583 "
          "--reported-at yesterday --name Z", NULL, "reported-at" },
        { "notify --case-id X --classification confirmed --to 320000 --residence 320583 "
          "--reported-at +0s --name Z --id-number 320583199003074511", NULL, "id number" },
        { "notify --colour red", NULL, "--colour" },
        { "notify --redirect 330000", NULL, "misplaced" },
        { "notify --case-id X --withdraw", NULL, "--withdraw needs --supersedes" },
        { "notify --case-id X --classification confirmed --to 320000 --residence 320583 "
          "--reported-at +0s --name Zhang San", NULL, "unexpected argument" },
        { "notify", "{\"colour\":\"red\"}", "unknown field \"colour\"" },
        { "notify", "{\"personal\":\"Zhang\"}", "personal: must be an object" },
        { "notify", "{\"withdraw\":\"yes\"}", "withdraw" },
        { "notify", "{\"reported_at\":\"2026-11-22 09:30\"}", "reported_at" },
        { "ack " HASH64 " not_ours", NULL, "--redirect" },
        { "ack abcd taken_over", NULL, "64 hex" },
        { "ack " HASH64 " maybe", NULL, "--status taken_over | --status not_ours" },
        { "ack " HASH64 " --status maybe", NULL, "--status taken_over | --status not_ours" },
        { "ack " HASH64 " taken_over --redirect 99", NULL, "redirect" },
        { "ack " HASH64 " taken_over --owed", NULL, "misplaced" },
        { "list --from 99", NULL, "--from" },
        { "list --name x", NULL, "misplaced" },
        { "show", NULL, "64 hex" },
        { "show " HASH64 " " HASH64, NULL, "one hash" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = 0;
        int rc = cli_in (bad[i].words, bad[i].input, &req, why);
        if (rc != RCN_EINVAL || !strstr (why, bad[i].needle))
            fprintf (stderr, "    cli case %zu (%s): rc %d why \"%s\" lacks \"%s\"\n", i,
                     bad[i].words, rc, why, bad[i].needle);
        CHECK_EQ (rc, RCN_EINVAL);
        CHECK (strstr (why, bad[i].needle) != NULL);
        CHECK (strstr (why, "San") == NULL);     /* a stray word of a name is never echoed */
        CHECK (strstr (why, "320583199003074511") == NULL);
        if (rc == RCN_OK)
            json_decref (req);
    }
}

/* ---- author ------------------------------------------------------------------------------------ */

static void
expect_refusal (rcn_store_t *s, int i, const char *verb, uint32_t status, const char *body,
                const char *needle)
{
    char why[512] = "";
    uint64_t seq = M[i].seq;
    int rc = submit (s, i, verb, status, body, NULL, why);
    if (rc != RCN_EINVAL || !strstr (why, needle))
        fprintf (stderr, "    refusal of %s by %06u: rc %d why \"%s\" lacks \"%s\"\n", body,
                 s_region[i], rc, why, needle);
    CHECK_EQ (rc, RCN_EINVAL);
    CHECK (strstr (why, needle) != NULL);
    CHECK (strstr (why, NAME) == NULL && strstr (why, IDNO) == NULL);
    CHECK_EQ (M[i].seq, seq);                    /* nothing signed */
}

static void
test_author_refusals (void)
{
    chains_reset ();
    char *dir;
    rcn_store_t *s = store_open (&dir);
    publish_keys (s);
    char why[512], extra[256], hex[65];
    uint8_t n1[32], n2[32], n3[32], n3c[32], n3w[32], nb[32];
    static const struct { const char *json, *needle; } bad[] = {
        { "{\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\","
          "\"reported_at_ms\":1795300000000,\"personal\":{\"name\":\"x\"}}", "case_id is required" },
        { "{\"case_id\":\"SH 1\",\"classification\":\"confirmed\",\"to\":[\"320000\"]}", "case_id must be" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"sick\",\"to\":[\"320000\"]}", "classification" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"990000\"]}", "to[0]" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"360000\"],"
          "\"residence\":\"320583\",\"reported_at_ms\":1795300000000,\"personal\":{\"name\":\"x\"}}",
          "360000 is not a member" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"310000\"]}", "this region itself" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\",\"320000\"]}", "listed twice" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[]}", "to:" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"]}", "residence is required" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"99\"}", "residence" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\"}",
          "reported_at is required" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\","
          "\"reported_at_ms\":1795400000000,\"personal\":{\"name\":\"x\"}}", "future" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\","
          "\"reported_at\":\"2026-11-22 09:30\",\"personal\":{\"name\":\"x\"}}", "reported_at" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\","
          "\"reported_at_ms\":1795300000000,\"personal\":{\"phone\":\"1\"}}", "personal.name: required" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\","
          "\"reported_at_ms\":1795300000000,\"personal\":{\"name\":\"" NAME "\",\"id_number\":\"320583199003074511\"}}",
          "personal.id_number" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\","
          "\"reported_at_ms\":1795300000000,\"personal\":{\"name\":\"x\",\"phone\":\"call me\"}}", "personal.phone" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\","
          "\"reported_at_ms\":1795300000000,\"personal\":{\"name\":\"x\",\"blood\":\"A\"}}", "unknown field \"blood\"" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"320000\"],\"residence\":\"320583\","
          "\"reported_at_ms\":1795300000000,\"personal\":{\"name\":\"x\\ny\"}}", "personal.name" },
        { "{\"case_id\":\"SH-1\",\"classification\":\"confirmed\",\"to\":[\"350000\"],\"residence\":\"320583\","
          "\"reported_at_ms\":1795300000000,\"personal\":{\"name\":\"x\"}}", "350000 has published no sealing key" },
        { "{\"supersedes\":\"" HASH64 "\",\"case_id\":\"SH-1\"}", "holds no notice" },
        { "{\"supersedes\":\"abc\"}", "supersedes" },
        { "{\"case_id\":\"SH-1\",\"withdraw\":true}", "--withdraw needs --supersedes" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_refusal (s, A, "notify", 0, bad[i].json, bad[i].needle);

    CHECK_EQ (submit (s, A, "notify", 0, notice_json ("SH-1", "close_contact", "\"320000\"", NULL), n1, why), RCN_OK);
    CHECK_EQ (submit (s, A, "notify", 1, notice_json ("SH-2", "close_contact", "\"320000\"", NULL), n2, why), RCN_OK);
    CHECK_EQ (submit (s, B, "notify", 0, notice_json ("JS-1", "confirmed", "\"310000\"", NULL), nb, why), RCN_OK);
    {   /* a name in Chinese, an address on one line */
        uint8_t hz[32];
        CHECK_EQ (submit (s, B, "notify", 0, "{\"case_id\":\"JS-2\",\"classification\":\"suspected\","
                          "\"to\":[\"330000\"],\"residence\":\"330106\",\"reported_at_ms\":1795300000000,"
                          "\"personal\":{\"name\":\"\u5f20\u4e09\u4e30\",\"address\":\"\u676d\u5dde\"}}",
                          hz, why), RCN_OK);
        json_t *p = open_as (s, C, hz, why);
        CHECK (p && strcmp (str (p, "name"), "\xe5\xbc\xa0\xe4\xb8\x89\xe4\xb8\xb0") == 0);
        json_decref (p);
    }

    /* Acks. */
    expect_refusal (s, B, "ack", 0, "{\"notice\":\"" HASH64 "\",\"status\":\"received\"}", "holds no notice");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "seen", NULL), "status: must be");
    expect_refusal (s, B, "ack", 0, "{\"notice\":\"12\",\"status\":\"received\"}", "64-hex");
    expect_refusal (s, A, "ack", 0, ack_json (n1, "received", NULL), "its own notice");
    expect_refusal (s, C, "ack", 0, ack_json (n1, "received", NULL), "not addressed to 330000");
    expect_refusal (s, B, "ack", 0, ack_json (n2, "received", NULL), "exercise traffic");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "not_ours", NULL), "needs --redirect");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"360000\""), "not a member");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"310000\""), "notifying region");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"320000\""), "this region itself");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"99\""), "redirect");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "taken_over", "\"redirect\":\"330000\""), "only not_ours");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"350000\""), "no sealing key");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "taken_over", "\"note\":\"bell\\u0007\""), "note");
    {
        rcn_kind_env_t noseal = M[B].env;
        noseal.seal = NULL;                      /* rcctl's env: it cannot re-wrap */
        uint64_t seq = M[B].seq;
        CHECK_EQ (submit_env (s, B, &noseal, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"330000\""),
                              NULL, why), RCN_EINVAL);
        CHECK (strstr (why, "only the node") != NULL);
        CHECK_EQ (M[B].seq, seq);
    }
    CHECK_EQ (submit (s, B, "ack", 0, ack_json (n1, "received", NULL), NULL, why), RCN_OK);
    expect_refusal (s, B, "ack", 0, ack_json (n1, "received", NULL), "already acknowledged");
    CHECK_EQ (submit (s, B, "ack", 0, ack_json (n1, "taken_over", NULL), NULL, why), RCN_OK);
    expect_refusal (s, B, "ack", 0, ack_json (n1, "taken_over", NULL), "already answered");
    expect_refusal (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"330000\""), "already answered");

    /* Corrections and withdrawals. */
    CHECK_EQ (submit (s, A, "notify", 0, notice_json ("SH-3", "suspected", "\"320000\",\"330000\"", NULL), n3, why), RCN_OK);
    expect_refusal (s, B, "ack", 0, ack_json (n3, "not_ours", "\"redirect\":\"330000\""), "already addressed");
    snprintf (extra, sizeof extra, "\"supersedes\":\"%s\"", rcn_hex (nb, 32, hex));
    expect_refusal (s, A, "notify", 0, notice_json ("JS-1", "confirmed", "\"320000\"", extra), "only the region that notified");
    snprintf (extra, sizeof extra, "\"supersedes\":\"%s\"", rcn_hex (n3, 32, hex));
    expect_refusal (s, A, "notify", 0, notice_json ("SH-4", "confirmed", "\"320000\"", extra), "keeps the case id");
    expect_refusal (s, A, "notify", 1, notice_json ("SH-3", "confirmed", "\"320000\"", extra), "same --status");
    snprintf (extra, sizeof extra, "{\"supersedes\":\"%s\",\"classification\":\"confirmed\"}", rcn_hex (n3, 32, hex));
    CHECK_EQ (submit (s, A, "notify", 0, extra, n3c, why), RCN_OK);
    snprintf (extra, sizeof extra, "{\"supersedes\":\"%s\",\"classification\":\"asymptomatic\"}", rcn_hex (n3, 32, hex));
    expect_refusal (s, A, "notify", 0, extra, "already superseded");
    expect_refusal (s, B, "ack", 0, ack_json (n3, "taken_over", NULL), "superseded by");
    CHECK_EQ (submit (s, B, "ack", 0, ack_json (n3, "received", NULL), NULL, why), RCN_OK);   /* receipt: fine */
    snprintf (extra, sizeof extra, "{\"supersedes\":\"%s\",\"withdraw\":true,\"personal\":{\"name\":\"x\"}}",
              rcn_hex (n3c, 32, hex));
    expect_refusal (s, A, "notify", 0, extra, "carries no personal");
    snprintf (extra, sizeof extra, "{\"supersedes\":\"%s\",\"withdraw\":true}", rcn_hex (n3c, 32, hex));
    CHECK_EQ (submit (s, A, "notify", 0, extra, n3w, why), RCN_OK);
    expect_refusal (s, B, "ack", 0, ack_json (n3c, "taken_over", NULL), "withdrawn by");
    expect_refusal (s, B, "ack", 0, ack_json (n3w, "taken_over", NULL), "needs no answer");
    snprintf (extra, sizeof extra, "{\"supersedes\":\"%s\"}", rcn_hex (n3w, 32, hex));
    expect_refusal (s, A, "notify", 0, extra, "is a withdrawal");
    json_t *o = show (s, n3w);
    CHECK (strcmp (str (o, "state"), "withdrawal") == 0);
    CHECK (!json_object_get (o, "personal"));
    json_decref (o);
    o = show (s, n3c);
    CHECK (strcmp (str (o, "state"), "withdrawn") == 0);
    CHECK (strcmp (str (o, "withdrawn_by"), rcn_hex (n3w, 32, hex)) == 0);
    CHECK (strcmp (str (o, "classification"), "confirmed") == 0);   /* the correction's */
    CHECK (!json_is_true (json_object_get (o, "owed")));
    json_decref (o);
    o = show (s, n3);
    CHECK (strcmp (str (o, "state"), "superseded") == 0);
    json_decref (o);
    store_close (&s, dir);
}

/* ---- apply ------------------------------------------------------------------------------------- */

/* A valid notice body authored for member i, unpacked for the test to spoil. */
static Rcn__CaseNotice *
notice_body (rcn_store_t *s, int i, const char *json, uint32_t status)
{
    json_t *body = json_loads (json, 0, NULL);
    REQUIRE (body != NULL);
    author_ctx_t c = { .env = &M[i].env, .now = g_now };
    c.req = json_pack ("{s:s, s:o, s:i}", "verb", "notify", "body", body, "status", (int) status);
    REQUIRE (rcn_store_read (s, &rcn_kind_case, author_cb, &c) == RCN_OK);
    json_decref (c.req);
    if (c.rc != RCN_OK)
        fprintf (stderr, "    notice_body: %s\n", c.why);
    REQUIRE (c.rc == RCN_OK);
    Rcn__CaseNotice *n = rcn__case_notice__unpack (NULL, c.len, c.body);
    free (c.body);
    REQUIRE (n != NULL);
    return n;
}

static void
raw_notice (rcn_store_t *s, int i, uint32_t status, const Rcn__CaseNotice *n, const char *needle,
            uint8_t hash[32])
{
    uint8_t buf[8192];
    size_t len = rcn__case_notice__pack (n, buf);
    char reason[256];
    rcn_entry_t *e = sign_append (s, i, RCN__KIND__KIND_CASE_NOTICE, status, buf, len, reason,
                                  sizeof reason);
    if (needle && !strstr (reason, needle))
        fprintf (stderr, "    raw notice: reason \"%s\" lacks \"%s\"\n", reason, needle);
    CHECK (needle ? strstr (reason, needle) != NULL : reason[0] == '\0');
    if (hash)
        memcpy (hash, e->hash, 32);
}

static void
raw_ack (rcn_store_t *s, int i, uint32_t status, const uint8_t notice[32], int answer,
         uint32_t redirect, bool wrap, const char *needle, uint8_t hash[32])
{
    Rcn__CaseAck a = RCN__CASE_ACK__INIT;
    Rcn__Wrap w = RCN__WRAP__INIT, *wp = &w;
    uint8_t zero[96] = { 0 };
    a.notice.data = (uint8_t *) notice;
    a.notice.len = notice ? 32 : 0;
    a.status = (Rcn__CaseAck__Status) answer;
    a.redirect = redirect;
    if (wrap) {
        w.member.data = w.seal_key.data = w.wrapped.data = zero;
        w.member.len = w.seal_key.len = 32;
        w.wrapped.len = 80;
        a.rewrap = &wp;
        a.n_rewrap = 1;
    }
    uint8_t buf[1024];
    size_t len = rcn__case_ack__pack (&a, buf);
    char reason[256];
    rcn_entry_t *e = sign_append (s, i, RCN__KIND__KIND_CASE_ACK, status, buf, len, reason,
                                  sizeof reason);
    if (needle ? !strstr (reason, needle) : reason[0] != '\0')
        fprintf (stderr, "    raw ack: reason \"%s\" lacks \"%s\"\n", reason, needle ? needle : "");
    CHECK (needle ? strstr (reason, needle) != NULL : reason[0] == '\0');
    if (hash)
        memcpy (hash, e->hash, 32);
}

static bool
ignored_has (const json_t *notice, uint32_t region, const char *reason)
{
    size_t i;
    const json_t *g;
    char code[16];
    snprintf (code, sizeof code, "%06u", region);
    json_array_foreach (json_object_get (notice, "ignored"), i, g)
        if (strcmp (str (g, "region"), code) == 0 && strstr (str (g, "reason"), reason))
            return true;
    return false;
}

/* Invariant 9: what a misbehaving member signs anyway is stored, judged the same everywhere,
 * and the chain goes on. Verdicts needing another origin's entries are the view's. */
static void
test_apply_refusals (void)
{
    chains_reset ();
    char *dir;
    rcn_store_t *s = store_open (&dir);
    publish_keys (s);
    uint8_t n1[32], n2[32], h[32];
    char why[512], reason[256];
    CHECK_EQ (submit (s, A, "notify", 0, notice_json ("SH-1", "confirmed", "\"320000\"", NULL), n1, why), RCN_OK);
    CHECK_EQ (submit (s, A, "notify", 1, notice_json ("SH-2", "confirmed", "\"320000\"", NULL), n2, why), RCN_OK);

    const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x01 };
    sign_append (s, C, RCN__KIND__KIND_CASE_NOTICE, 0, garbage, sizeof garbage, reason, sizeof reason);
    CHECK (strstr (reason, "not a CaseNotice") != NULL);
    sign_append (s, C, RCN__KIND__KIND_CASE_ACK, 0, garbage, sizeof garbage, reason, sizeof reason);
    CHECK (strstr (reason, "not a CaseAck") != NULL);

    Rcn__CaseNotice *n = notice_body (s, C, notice_json ("ZJ-1", "confirmed", "\"310000\"", NULL), 0);
    {   /* an unknown field appended */
        uint8_t buf[8192];
        size_t len = rcn__case_notice__pack (n, buf);
        buf[len++] = 0x78;
        buf[len++] = 0x01;
        sign_append (s, C, RCN__KIND__KIND_CASE_NOTICE, 0, buf, len, reason, sizeof reason);
        CHECK (strstr (reason, "canonical") != NULL);
    }
    uint32_t unsorted[2] = { 320000, 310000 }, *keep_to = n->to;
    size_t keep_n = n->n_to;
    n->to = unsorted;
    n->n_to = 2;
    raw_notice (s, C, 0, n, "ascending", NULL);
    n->to = keep_to;
    n->n_to = keep_n;
    Rcn__Sealed *keep_p = n->personal;
    n->personal = NULL;
    raw_notice (s, C, 0, n, "personal", NULL);
    n->personal = keep_p;
    n->classification = 9;
    raw_notice (s, C, 0, n, "classification", NULL);
    n->classification = 1;
    n->reported_at_ms = g_now + 3600000;
    raw_notice (s, C, 0, n, "future", NULL);
    n->reported_at_ms = T0;
    n->withdrawn = true;
    raw_notice (s, C, 0, n, "withdrawal must name", NULL);
    n->withdrawn = false;
    raw_notice (s, C, 0, n, NULL, h);                       /* the valid one */
    raw_notice (s, C, 0, n, "already used", NULL);          /* its case id again */
    n->supersedes.data = n1;                                /* another region's notice */
    n->supersedes.len = 32;
    raw_notice (s, C, 0, n, "no earlier notice of the same region", NULL);
    n->supersedes.data = h;
    raw_notice (s, C, 1, n, "another status", NULL);        /* drill correcting real */
    char *cid = n->case_id;
    n->case_id = "ZJ-2";
    raw_notice (s, C, 0, n, "keeps the case id", NULL);
    n->case_id = cid;
    n->supersedes.data = NULL;                              /* borrowed: not to be freed */
    n->supersedes.len = 0;
    rcn__case_notice__free_unpacked (n, NULL);

    raw_ack (s, B, 0, NULL, 1, 0, false, "32-byte notice hash", NULL);
    raw_ack (s, B, 0, n1, 0, 0, false, "status must be", NULL);
    raw_ack (s, B, 0, n1, 1, 330000, false, "only not_ours", NULL);
    raw_ack (s, B, 0, n1, 3, 330000, false, "rewraps", NULL);
    raw_ack (s, B, 0, n1, 3, 0, true, "redirect", NULL);
    raw_ack (s, A, 0, n1, 1, 0, false, "its own notice", NULL);
    raw_ack (s, B, 0, n1, 1, 0, false, NULL, NULL);         /* received */
    raw_ack (s, B, 0, n1, 1, 0, false, "already acknowledged", NULL);
    /* Judged by the view (another origin's entries needed): stored valid, counted nowhere. */
    raw_ack (s, B, 0, n1, 3, 360000, true, NULL, NULL);     /* redirect to no member */
    raw_ack (s, B, 0, n1, 2, 0, false, "already answered", NULL);
    raw_ack (s, D, 0, n1, 1, 0, false, NULL, NULL);         /* D is no addressee */
    raw_ack (s, B, 0, n2, 2, 0, false, NULL, NULL);         /* real answer to a drill */
    json_t *o = show (s, n1);
    CHECK (strcmp (state_of (o, 320000), "received") == 0);   /* still owes */
    CHECK (json_is_true (json_object_get (o, "owed")));
    CHECK (ignored_has (o, 320000, "no member"));
    CHECK (ignored_has (o, 340000, "not from an addressee"));
    CHECK (addressee (o, 340000) == NULL && addressee (o, 360000) == NULL);
    json_decref (o);
    o = show (s, n2);
    CHECK (strcmp (state_of (o, 320000), "undelivered") == 0);
    CHECK (ignored_has (o, 320000, "status"));
    CHECK (strcmp (str (o, "status"), "exercise") == 0);
    json_decref (o);
    CHECK_EQ (M[B].seq, 11);                                /* no chain stalled */
    store_close (&s, dir);
}

/* ---- sealing ----------------------------------------------------------------------------------- */

static void
test_sealing (void)
{
    chains_reset ();
    char *dir;
    rcn_store_t *s = store_open (&dir);
    publish_keys (s);
    uint8_t n1[32], ack[32];
    char why[512];
    CHECK_EQ (submit (s, A, "notify", 0, notice_json ("SH-1", "confirmed", "\"320000\"", NULL), n1, why), RCN_OK);
    for (int i = A; i <= B; i++) {
        json_t *p = open_as (s, i, n1, why);
        CHECK (p && strcmp (str (p, "name"), NAME) == 0 && strcmp (str (p, "id_number"), IDNO) == 0);
        CHECK (p && strcmp (str (p, "phone"), PHONE) == 0);
        json_decref (p);
    }
    json_t *p = open_as (s, C, n1, why);
    CHECK (p == NULL && strstr (why, "not addressed to 330000"));
    p = open_as (s, D, n1, why);
    CHECK (p == NULL && strstr (why, "not addressed to 340000"));
    {   /* no keys at all (rcctl) */
        open_ctx_t o = { 0 };
        rcn_kind_env_t env = M[B].env;
        env.seal = NULL;
        o.env = &env;
        REQUIRE (rcn_store_get_by_hash (s, n1, &o.e) == RCN_OK);
        REQUIRE (rcn_store_read (s, &rcn_kind_case, open_cb, &o) == RCN_OK);
        CHECK (o.out == NULL && strstr (o.why, "no sealing keys"));
        rcn_entry_destroy (&o.e);
    }
    /* B passes it on to C; C (a redirect target, with no wrap in the notice) opens it and
     * passes it on to D in turn. */
    CHECK_EQ (submit (s, B, "ack", 0, ack_json (n1, "received", NULL), ack, why), RCN_OK);
    p = open_as (s, B, ack, why);
    CHECK (p == NULL && strstr (why, "acknowledgement"));
    CHECK_EQ (submit (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"330000\",\"note\":\"lives in Hangzhou\""),
                      NULL, why), RCN_OK);
    p = open_as (s, C, n1, why);
    CHECK (p && strcmp (str (p, "name"), NAME) == 0);
    json_decref (p);
    p = open_as (s, D, n1, why);
    CHECK (p == NULL && strstr (why, "not addressed to 340000"));
    CHECK_EQ (submit (s, C, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"340000\""), NULL, why), RCN_OK);
    p = open_as (s, D, n1, why);
    CHECK (p && strcmp (str (p, "id_number"), IDNO) == 0);
    json_decref (p);
    p = open_as (s, B, n1, why);                            /* B still can */
    CHECK (p != NULL);
    json_decref (p);
    json_t *o = show (s, n1);
    CHECK (strcmp (state_of (o, 320000), "not_ours") == 0);
    CHECK (strcmp (str (addressee (o, 320000), "redirect"), "330000") == 0);
    CHECK (strcmp (str (addressee (o, 320000), "note"), "lives in Hangzhou") == 0);
    CHECK (strcmp (state_of (o, 330000), "not_ours") == 0);
    CHECK (strcmp (str (addressee (o, 330000), "redirected_by"), "320000") == 0);
    CHECK (strcmp (state_of (o, 340000), "undelivered") == 0);
    CHECK (json_is_true (json_object_get (addressee (o, 340000), "owed")));
    CHECK (!json_is_true (json_object_get (addressee (o, 320000), "owed")));
    CHECK (strcmp (str (o, "state"), "undelivered") == 0);
    json_t *readers = json_object_get (json_object_get (o, "personal"), "readers");
    char *rs = json_dumps (readers, JSON_COMPACT);
    CHECK (strcmp (rs, "[\"310000\",\"320000\",\"330000\",\"340000\"]") == 0);
    free (rs);
    char *all = json_dumps (o, JSON_COMPACT);
    CHECK (strstr (all, NAME) == NULL && strstr (all, IDNO) == NULL && strstr (all, PHONE) == NULL);
    free (all);
    json_decref (o);
    /* show() for export: sizes and keys, never the details. */
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_store_get_by_hash (s, n1, &e) == RCN_OK);
    o = rcn_kind_case.show (e->h.kind, e->h.body, e->h.body_len);
    CHECK (json_integer_value (json_object_get (json_object_get (o, "personal"), "sealed")) > 0);
    all = json_dumps (o, JSON_COMPACT);
    CHECK (strstr (all, NAME) == NULL && strstr (all, IDNO) == NULL);
    free (all);
    json_decref (o);
    rcn_entry_destroy (&e);
    store_close (&s, dir);
}

/* ---- idempotence ------------------------------------------------------------------------------- */

static void
test_idempotent (void)
{
    chains_reset ();
    char *dir;
    rcn_store_t *s = store_open (&dir);
    publish_keys (s);
    uint8_t h1[32], h2[32], h3[32];
    char why[512], hex[65], body[2048];
    const char *orig = "{\"case_id\":\"SH-9\",\"classification\":\"close_contact\",\"to\":[\"330000\",\"320000\"],"
                       "\"residence\":\"320583\",\"reported_at_ms\":1795300000000,\"onset_ms\":1795200000000,"
                       "\"personal\":{\"name\":\"" NAME "\",\"id_number\":\"" IDNO "\",\"notes\":\"n\"}}";
    CHECK_EQ (submit (s, A, "notify", 0, orig, h1, why), RCN_OK);
    uint64_t seq = M[A].seq;
    CHECK_EQ (submit (s, A, "notify", 0, orig, NULL, why), RCN_EDUP);
    CHECK (strcmp (why, rcn_hex (h1, 32, hex)) == 0);
    /* The same with the addressees in another order: the same content. */
    CHECK_EQ (submit (s, A, "notify", 0, "{\"case_id\":\"SH-9\",\"classification\":\"close_contact\","
                      "\"to\":[\"320000\",\"330000\"],\"residence\":\"320583\",\"reported_at_ms\":1795300000000,"
                      "\"onset_ms\":1795200000000,\"personal\":{\"notes\":\"n\",\"name\":\"" NAME "\","
                      "\"id_number\":\"" IDNO "\"}}", NULL, why), RCN_EDUP);
    CHECK_EQ (M[A].seq, seq);
    /* Different content under the same id: refused, naming the way to correct it. */
    expect_refusal (s, A, "notify", 0, "{\"case_id\":\"SH-9\",\"classification\":\"close_contact\","
                    "\"to\":[\"330000\",\"320000\"],\"residence\":\"320583\",\"reported_at_ms\":1795300000000,"
                    "\"onset_ms\":1795200000000,\"personal\":{\"name\":\"" NAME "\",\"id_number\":\"" IDNO
                    "\",\"notes\":\"other\"}}", "--supersedes");
    expect_refusal (s, A, "notify", 0, "{\"case_id\":\"SH-9\",\"classification\":\"confirmed\","
                    "\"to\":[\"330000\",\"320000\"],\"residence\":\"320583\",\"reported_at_ms\":1795300000000,"
                    "\"onset_ms\":1795200000000,\"personal\":{\"name\":\"" NAME "\",\"id_number\":\"" IDNO
                    "\",\"notes\":\"n\"}}", rcn_hex (h1, 32, hex));
    expect_refusal (s, A, "notify", 1, orig, "already notified");   /* drill, same id */
    /* A correction: what it leaves out is carried over, the details included. */
    snprintf (body, sizeof body, "{\"supersedes\":\"%s\",\"classification\":\"confirmed\"}", rcn_hex (h1, 32, hex));
    CHECK_EQ (submit (s, A, "notify", 0, body, h2, why), RCN_OK);
    CHECK_EQ (submit (s, A, "notify", 0, body, NULL, why), RCN_EDUP);
    CHECK (strcmp (why, rcn_hex (h2, 32, hex)) == 0);
    CHECK_EQ (submit (s, A, "notify", 0, orig, NULL, why), RCN_EDUP);   /* the original, again */
    CHECK (strcmp (why, rcn_hex (h1, 32, hex)) == 0);
    json_t *p = open_as (s, C, h2, why);
    CHECK (p && strcmp (str (p, "name"), NAME) == 0 && strcmp (str (p, "notes"), "n") == 0);
    json_decref (p);
    json_t *o = show (s, h2);
    CHECK (strcmp (str (o, "classification"), "confirmed") == 0);
    CHECK (strcmp (str (o, "case_id"), "SH-9") == 0);
    CHECK_EQ (json_integer_value (json_object_get (o, "onset_ms")), 1795200000000LL);
    json_decref (o);
    o = show (s, h1);
    CHECK (strcmp (str (o, "state"), "superseded") == 0);
    CHECK (strcmp (str (o, "superseded_by"), rcn_hex (h2, 32, hex)) == 0);
    json_decref (o);
    /* A correction that changes a detail ("" removes one). */
    snprintf (body, sizeof body, "{\"supersedes\":\"%s\",\"personal\":{\"notes\":\"\",\"phone\":\"110\"}}",
              rcn_hex (h2, 32, hex));
    CHECK_EQ (submit (s, A, "notify", 0, body, h3, why), RCN_OK);
    p = open_as (s, B, h3, why);
    CHECK (p && strcmp (str (p, "phone"), "110") == 0 && !json_object_get (p, "notes")
           && strcmp (str (p, "id_number"), IDNO) == 0);
    json_decref (p);
    snprintf (body, sizeof body, "{\"supersedes\":\"%s\",\"withdraw\":true}", rcn_hex (h3, 32, hex));
    uint8_t hw[32];
    CHECK_EQ (submit (s, A, "notify", 0, body, hw, why), RCN_OK);
    CHECK_EQ (submit (s, A, "notify", 0, body, NULL, why), RCN_EDUP);
    CHECK (strcmp (why, rcn_hex (hw, 32, hex)) == 0);
    json_t *l = list_q (s, -1, "{\"owed\":true}", why);
    CHECK_EQ (json_array_size (l), 0);                     /* withdrawn: nobody owes */
    json_decref (l);
    store_close (&s, dir);
}

/* ---- order independence and privacy ------------------------------------------------------------ */

static void
build_world (rcn_store_t *s, uint8_t n1[32], uint8_t n2[32], uint8_t n3[32])
{
    char why[512], extra[128], hex[65];
    publish_keys (s);
    CHECK_EQ (submit (s, A, "notify", 0, notice_json ("SH-1", "close_contact", "\"320000\"", NULL), n1, why), RCN_OK);
    CHECK_EQ (submit (s, A, "notify", 1, notice_json ("SH-2", "suspected", "\"320000\",\"330000\"", NULL), n2, why), RCN_OK);
    CHECK_EQ (run_auto (s, B), 2);
    CHECK_EQ (submit (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"330000\""), NULL, why), RCN_OK);
    CHECK_EQ (run_auto (s, C), 2);
    CHECK_EQ (submit (s, C, "ack", 0, ack_json (n1, "taken_over", "\"note\":\"in isolation\""), NULL, why), RCN_OK);
    CHECK_EQ (submit (s, B, "ack", 1, ack_json (n2, "taken_over", NULL), NULL, why), RCN_OK);
    CHECK_EQ (submit (s, C, "notify", 0, notice_json ("ZJ-1", "confirmed", "\"310000\"", NULL), n3, why), RCN_OK);
    CHECK_EQ (run_auto (s, A), 1);
    CHECK_EQ (submit (s, A, "ack", 0, ack_json (n3, "taken_over", NULL), NULL, why), RCN_OK);
    snprintf (extra, sizeof extra, "{\"supersedes\":\"%s\",\"classification\":\"confirmed\"}", rcn_hex (n2, 32, hex));
    CHECK_EQ (submit (s, A, "notify", 1, extra, NULL, why), RCN_OK);
    raw_ack (s, D, 0, n1, 1, 0, false, NULL, NULL);          /* a non-addressee's receipt */
    raw_ack (s, B, 0, n1, 1, 0, false, "already acknowledged", NULL);
    raw_ack (s, D, 0, n3, 1, 0, false, NULL, NULL);
    CHECK_EQ (run_auto (s, B), 1);                            /* the correction */
    CHECK_EQ (run_auto (s, C), 1);
}

static char *
list_text (rcn_store_t *s)
{
    json_t *l = list_q (s, -1, NULL, NULL);
    REQUIRE (l != NULL);
    char *t = json_dumps (l, JSON_COMPACT);
    json_decref (l);
    return t;
}

static char *
reasons_text (rcn_store_t *s)
{
    size_t cap = 16384, len = 0;
    char *out = calloc (1, cap);
    for (int i = 0; i < NM; i++)
        for (size_t j = 0; j < M[i].n_log; j++) {
            char r[256];
            if (rcn_store_invalid_reason (s, M[i].log[j]->hash, r, sizeof r) != RCN_OK)
                strcpy (r, "-");
            len += (size_t) snprintf (out + len, cap - len, "%d.%zu:%s\n", i, j, r);
        }
    return out;
}

static bool
file_has (const char *path, const char *needle)
{
    FILE *f = fopen (path, "rb");
    REQUIRE (f != NULL);
    fseek (f, 0, SEEK_END);
    long n = ftell (f);
    fseek (f, 0, SEEK_SET);
    char *buf = malloc ((size_t) n + 1);
    REQUIRE (buf && fread (buf, 1, (size_t) n, f) == (size_t) n);
    fclose (f);
    bool found = memmem (buf, (size_t) n, needle, strlen (needle)) != NULL;
    free (buf);
    return found;
}

static void
test_orders_and_privacy (void)
{
    chains_reset ();
    char *dir;
    rcn_store_t *s = store_open (&dir);
    uint8_t n1[32], n2[32], n3[32];
    build_world (s, n1, n2, n3);
    char *want = list_text (s), *want_reasons = reasons_text (s);
    json_t *o = show (s, n1);
    CHECK (strcmp (state_of (o, 320000), "not_ours") == 0 && strcmp (state_of (o, 330000), "taken_over") == 0);
    CHECK (strcmp (str (o, "state"), "closed") == 0);
    CHECK (ignored_has (o, 340000, "not from an addressee"));
    json_decref (o);
    o = show (s, n2);
    CHECK (strcmp (str (o, "state"), "superseded") == 0 && strcmp (str (o, "status"), "exercise") == 0);
    json_decref (o);
    CHECK (rcn_store_rebuild_views (s) == RCN_OK);           /* origin order, one pass */
    char *again = list_text (s);
    CHECK (strcmp (want, again) == 0);
    free (again);
    store_close (&s, dir);

    /* 20 interleavings of the origins' chains; the first puts every ack before its notice. */
    int total = 0;
    for (int i = 0; i < NM; i++)
        total += (int) M[i].n_log;
    srand (4);
    for (int round = 0; round < 20; round++) {
        s = store_open (&dir);
        size_t next[NM] = { 0 };
        for (int k = 0; k < total; k++) {
            int i;
            if (round == 0) {                    /* E D C B A: acks first */
                for (i = NM - 1; next[i] == M[i].n_log; i--)
                    ;
            }
            else
                do
                    i = rand () % NM;
                while (next[i] == M[i].n_log);
            int res = -1;
            REQUIRE (rcn_store_append (s, &M[i].log[next[i]++], 1, &res) == RCN_OK);
            CHECK_EQ (res, RCN_OK);
        }
        char *got = list_text (s), *reasons = reasons_text (s);
        if (strcmp (got, want) != 0)
            fprintf (stderr, "    order %d differs:\n%s\n%s\n", round, want, got);
        CHECK (strcmp (got, want) == 0);
        CHECK (strcmp (reasons, want_reasons) == 0);
        free (got);
        free (reasons);
        if (round == 19) {
            /* Member D's log (it was never addressed) holds everything, sealed: the planted
             * name and ID number are nowhere in its file, while clear fields are. */
            rcn_store_destroy (&s);
            char path[4200];
            snprintf (path, sizeof path, "%s/data.mdb", dir);
            CHECK (file_has (path, "SH-1"));
            CHECK (file_has (path, "ZJ-1"));
            CHECK (!file_has (path, NAME));
            CHECK (!file_has (path, IDNO));
            CHECK (!file_has (path, PHONE));
        }
        store_close (&s, dir);
    }
    free (want);
    free (want_reasons);
}

/* ---- automatic receipts ------------------------------------------------------------------------ */

static void
test_auto_author (void)
{
    chains_reset ();
    char *dir;
    rcn_store_t *s = store_open (&dir);
    publish_keys (s);
    uint8_t n1[32], n2[32];
    char why[512], hex[65];
    CHECK_EQ (submit (s, A, "notify", 0, notice_json ("SH-1", "confirmed", "\"320000\"", NULL), n1, why), RCN_OK);
    CHECK_EQ (submit (s, A, "notify", 1, notice_json ("SH-2", "confirmed", "\"320000\",\"330000\"", NULL), n2, why), RCN_OK);
    json_t *r = auto_props (s, B);
    CHECK_EQ (json_array_size (r), 2);
    size_t i;
    json_t *q;
    int seen = 0;
    json_array_foreach (r, i, q) {
        const json_t *b = json_object_get (q, "body");
        CHECK (strcmp (str (b, "status"), "received") == 0);
        if (strcmp (str (b, "notice"), rcn_hex (n1, 32, hex)) == 0) {
            seen += 1;
            CHECK (strcmp (str (q, "status"), "actual") == 0);
        }
        if (strcmp (str (b, "notice"), rcn_hex (n2, 32, hex)) == 0) {
            seen += 2;
            CHECK (strcmp (str (q, "status"), "exercise") == 0);
        }
        CHECK (!rcn_kind_case.depends (q));      /* receipts may share a group */
    }
    CHECK_EQ (seen, 3);
    json_decref (r);
    r = auto_props (s, A);
    CHECK_EQ (json_array_size (r), 0);           /* its own */
    json_decref (r);
    r = auto_props (s, D);
    CHECK_EQ (json_array_size (r), 0);
    json_decref (r);
    CHECK_EQ (run_auto (s, B), 2);
    CHECK_EQ (run_auto (s, B), 0);               /* once */
    CHECK_EQ (run_auto (s, C), 1);
    CHECK_EQ (run_auto (s, C), 0);
    /* A redirect makes C an addressee of n1: it receives it, once. */
    CHECK_EQ (submit (s, B, "ack", 0, ack_json (n1, "not_ours", "\"redirect\":\"330000\""), NULL, why), RCN_OK);
    r = auto_props (s, C);
    CHECK_EQ (json_array_size (r), 1);
    CHECK (strcmp (str (json_object_get (json_array_get (r, 0), "body"), "notice"), rcn_hex (n1, 32, hex)) == 0);
    json_decref (r);
    CHECK_EQ (run_auto (s, C), 1);
    CHECK_EQ (run_auto (s, C), 0);
    json_t *o = show (s, n1);
    CHECK (strcmp (state_of (o, 330000), "received") == 0);
    CHECK (json_is_true (json_object_get (addressee (o, 330000), "owed")));
    json_decref (o);
    /* Owed at both ends: --owed lists it everywhere, --to-me only at the addressee. */
    json_t *l = list_q (s, -1, "{\"owed\":true}", why);
    CHECK_EQ (json_array_size (l), 2);
    json_decref (l);
    l = list_q (s, -1, "{\"owed\":true,\"to_me\":true,\"self_region\":\"330000\"}", why);
    CHECK_EQ (json_array_size (l), 2);
    json_decref (l);
    CHECK_EQ (submit (s, C, "ack", 0, ack_json (n1, "taken_over", NULL), NULL, why), RCN_OK);
    l = list_q (s, -1, "{\"owed\":true,\"to_me\":true,\"self_region\":\"330000\"}", why);
    CHECK_EQ (json_array_size (l), 1);
    json_decref (l);
    l = list_q (s, -1, "{\"owed\":true,\"to_me\":true,\"self_region\":\"320000\"}", why);
    CHECK_EQ (json_array_size (l), 1);           /* n2 */
    json_decref (l);
    l = list_q (s, -1, "{\"from\":\"330000\"}", why);
    CHECK_EQ (json_array_size (l), 0);
    json_decref (l);
    l = list_q (s, -1, "{\"to_me\":true}", why);
    CHECK (l == NULL && strstr (why, "region is not known"));
    store_close (&s, dir);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    world_init ();
    RUN (test_cli);
    RUN (test_author_refusals);
    RUN (test_apply_refusals);
    RUN (test_sealing);
    RUN (test_idempotent);
    RUN (test_orders_and_privacy);
    RUN (test_auto_author);
    chains_reset ();
    world_free ();
    return rcn_test_done ();
}
