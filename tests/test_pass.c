/* test_pass.c — passes (DESIGN §4) over a real store: Base45 (RFC 9285 vectors), the masked
 * name, what author refuses, the token and its offline verification at a checkpoint (window,
 * clock skew, roster, tampering, the holder's ID number, revocation through a log), invariant 8
 * and 9 for passes, idempotent re-issue, rcctl's flags, and a QR code read back by zbarimg. */
#include "testutil.h"

#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/pass.h"
#include "rcn/qr.h"
#include "rcn/roster.h"
#include "rcn/store.h"
#include "rcn.pb-c.h"

extern const rcn_kind_t rcn_kind_pass;
static const rcn_kind_t *const s_kinds[] = { &rcn_kind_pass, NULL };

#define T0 1795311000000ULL          /* 2026-11-22T01:30:00Z */
#define DAY 86400000ULL
#define MIN 60000ULL
#define ID_A "11010519491231002X"
#define ID_B "310101199001011234"

typedef struct {
    uint8_t pk[32], sk[64];
    uint64_t seq;
    uint8_t head[32];
} author_t;

static author_t A, B, C;              /* 310000, 320000 in the roster; C in none */
static rcn_roster_t *s_roster;        /* A and B */
static char *s_roster_path, *s_tmp;

static bool
any_member (const uint8_t origin[32], void *ctx)
{
    (void) origin; (void) ctx;
    return true;
}

static void
author_init (author_t *a, uint8_t seed)
{
    uint8_t sd[32];
    memset (sd, seed, 32);
    crypto_sign_seed_keypair (a->pk, a->sk, sd);
    a->seq = 0;
    memset (a->head, 0, 32);
}

/* A fresh store, and every author's chain starting again at seq 1. */
static rcn_store_t *
open_store (char **dir)
{
    author_init (&A, 1);
    author_init (&B, 2);
    author_init (&C, 3);
    *dir = rcn_test_tmpdir ("pass");
    rcn_store_opts_t o = { .is_member = any_member, .kinds = s_kinds };
    rcn_store_t *s = NULL;
    char why[256];
    REQUIRE (rcn_store_open (*dir, &o, &s, why, sizeof why) == RCN_OK);
    return s;
}

static void
close_store (rcn_store_t **s, char *dir)
{
    rcn_store_destroy (s);
    rcn_test_rmtree (dir);
    free (dir);
}

static json_t *
card (const author_t *a, uint32_t region, const char *name, int port)
{
    rcn_member_t m;
    memset (&m, 0, sizeof m);
    m.region = region;
    snprintf (m.name, sizeof m.name, "%s", name);
    memcpy (m.sign_key, a->pk, 32);
    memset (m.curve_key, 0x40 + port % 64, 32);
    snprintf (m.pub, sizeof m.pub, "tcp://127.0.0.1:%d", port);
    snprintf (m.sync, sizeof m.sync, "tcp://127.0.0.1:%d", port + 1);
    return rcn_member_to_json (&m);
}

static void
setup (void)
{
    author_init (&A, 1);
    author_init (&B, 2);
    author_init (&C, 3);
    json_t *cards[2] = { card (&A, 310000, "Shanghai", 7101), card (&B, 320000, "Jiangsu", 7111) };
    rcn_policy_t p;
    rcn_policy_default (&p);
    p.n_rounds = 0;                 /* no scheduled rounds: entry counts stay put */
    char *text = NULL, why[512];
    REQUIRE (rcn_roster_build ((const json_t *const *) cards, 2, &p, &text, why, sizeof why) == RCN_OK);
    REQUIRE (rcn_roster_parse ((const uint8_t *) text, strlen (text), &s_roster, why, sizeof why) == RCN_OK);
    s_tmp = rcn_test_tmpdir ("pass-files");
    s_roster_path = malloc (strlen (s_tmp) + 16);
    sprintf (s_roster_path, "%s/roster.json", s_tmp);
    FILE *f = fopen (s_roster_path, "w");
    REQUIRE (f != NULL);
    fputs (text, f);
    fclose (f);
    free (text);
    json_decref (cards[0]);
    json_decref (cards[1]);
}

static rcn_entry_t *
sign_next (author_t *a, uint32_t kind, uint32_t status, const uint8_t *body, size_t len, uint64_t t)
{
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (a->sk, a->seq + 1, a->seq ? a->head : NULL, t, kind, status, body,
                             len, &e) == RCN_OK);
    a->seq++;
    memcpy (a->head, e->hash, 32);
    return e;
}

typedef struct {
    const author_t *a;
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
    rcn_kind_env_t env = { .origin = c->a->pk, .region = c->a == &A ? 310000 : 320000,
                           .roster = s_roster };
    c->kind = rcn_kind_pass.kind;
    c->rc = rcn_kind_pass.author (v, &env, c->req, c->now, &c->kind, &c->body, &c->len, c->why,
                                  sizeof c->why);
    return RCN_OK;
}

/* author() on a JSON body; on success signs and appends it (hash_out, entry kept in *kept when
 * asked). Returns author's rc; why gets its message. */
static int
submit (rcn_store_t *s, author_t *a, uint32_t status, const char *body_json, uint64_t now,
        uint8_t hash_out[32], char *why)
{
    json_error_t jerr;
    json_t *body = json_loads (body_json, 0, &jerr);
    if (!body)
        fprintf (stderr, "    bad test JSON: %s\n", jerr.text);
    REQUIRE (body != NULL);
    author_ctx_t c = { .a = a, .now = now };
    c.req = json_pack ("{s:o, s:i}", "body", body, "status", (int) status);
    REQUIRE (rcn_store_read (s, &rcn_kind_pass, author_cb, &c) == RCN_OK);
    json_decref (c.req);
    if (why)
        strcpy (why, c.why);
    /* Never the ID number, whatever the answer. */
    CHECK (strstr (c.why, ID_A) == NULL && strstr (c.why, ID_B) == NULL);
    if (c.rc != RCN_OK)
        return c.rc;
    CHECK (memmem (c.body, c.len, ID_A, 18) == NULL && memmem (c.body, c.len, ID_B, 18) == NULL);
    rcn_entry_t *e = sign_next (a, c.kind, status, c.body, c.len, now);
    free (c.body);
    int res = -1;
    REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
    CHECK_EQ (res, RCN_OK);
    char reason[256];
    CHECK_EQ (rcn_store_invalid_reason (s, e->hash, reason, sizeof reason), RCN_ENOTFOUND);
    if (hash_out)
        memcpy (hash_out, e->hash, 32);
    rcn_entry_destroy (&e);
    return RCN_OK;
}

static char *
issue_json (const char *pass_id, const char *name, const char *id, const char *extra)
{
    static char buf[1024];
    snprintf (buf, sizeof buf, "{\"action\":\"issue\",\"pass_id\":\"%s\",\"kind\":\"commuter\","
              "\"holder\":{\"name\":\"%s\",\"id_number\":\"%s\"},\"valid_from_ms\":%llu,"
              "\"valid_until_ms\":%llu%s%s}", pass_id, name, id, T0,
              T0 + 30 * DAY, extra && *extra ? "," : "", extra ? extra : "");
    return buf;
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
    rcn_kind_env_t env = { .roster = s_roster };
    l->out = rcn_kind_pass.list (v, &env, l->query, l->now, l->why, sizeof l->why);
    return RCN_OK;
}

static json_t *
list_q (rcn_store_t *s, json_t *query, uint64_t now)
{
    list_ctx_t l = { .query = query, .now = now };
    REQUIRE (rcn_store_read (s, &rcn_kind_pass, list_cb, &l) == RCN_OK);
    json_decref (query);
    return l.out;
}

static json_t *
list (rcn_store_t *s, uint64_t now)
{
    return list_q (s, json_object (), now);
}

/* The token of pass h, from the list query rcctl uses after `pass issue`. Caller frees. */
static char *
token (rcn_store_t *s, const uint8_t h[32])
{
    char hex[65];
    json_t *o = list_q (s, json_pack ("{s:s, s:b}", "hash", rcn_hex (h, 32, hex), "token", 1), T0);
    REQUIRE (o != NULL);
    CHECK (strcmp (json_string_value (json_object_get (o, "hash")), hex) == 0);
    char *t = strdup (json_string_value (json_object_get (o, "token")));
    json_decref (o);
    return t;
}

static const char *
field (const json_t *list, size_t i, const char *key)
{
    return json_string_value (json_object_get (json_array_get (list, i), key));
}

/* ---- Base45 ------------------------------------------------------------------------------- */

static void
test_base45 (void)
{
    static const struct { const char *bin, *b45; } rfc[] = {   /* RFC 9285 §4.3, §4.4 */
        { "AB", "BB8" }, { "Hello!!", "%69 VD92EX0" }, { "base-45", "UJCLQE7W581" },
        { "ietf!", "QED8WEX0" }, { "", "" },
    };
    for (size_t i = 0; i < sizeof rfc / sizeof *rfc; i++) {
        char *enc = rcn_base45 ((const uint8_t *) rfc[i].bin, strlen (rfc[i].bin));
        REQUIRE (enc != NULL);
        CHECK (strcmp (enc, rfc[i].b45) == 0);
        free (enc);
        uint8_t *dec = NULL;
        size_t len = 99;
        CHECK_EQ (rcn_unbase45 (rfc[i].b45, &dec, &len), RCN_OK);
        CHECK_EQ (len, strlen (rfc[i].bin));
        CHECK (memcmp (dec, rfc[i].bin, len) == 0);
        free (dec);
    }
    /* Edges of the value ranges: "FGW" is 65535, "U5" 255. */
    uint8_t *dec = NULL;
    size_t len = 0;
    CHECK_EQ (rcn_unbase45 ("FGW", &dec, &len), RCN_OK);
    CHECK (len == 2 && dec[0] == 0xff && dec[1] == 0xff);
    free (dec);
    CHECK_EQ (rcn_unbase45 ("U5", &dec, &len), RCN_OK);
    CHECK (len == 1 && dec[0] == 0xff);
    free (dec);
    static const char *bad[] = {
        "GGW",          /* 65536: RFC 9285 §6's example of an invalid group */
        ":::",          /* 91124 */
        "V5",           /* 256 in a trailing pair */
        "A", "BB8A",    /* length 3n+1 */
        "bb8",          /* lower case is not in the alphabet */
        "BB8\n", "BB_", "B\xc3\xa9", "BB8=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dec = NULL;
        int rc = rcn_unbase45 (bad[i], &dec, &len);
        if (rc != RCN_EINVAL)
            fprintf (stderr, "    \"%s\" decoded\n", bad[i]);
        CHECK_EQ (rc, RCN_EINVAL);
        CHECK (dec == NULL);
    }
    /* Round trips of every length up to 300, seeded. */
    rcn_random_seed (45);
    for (size_t n = 0; n <= 300; n++) {
        uint8_t buf[300];
        rcn_random_buf (buf, n);
        char *enc = rcn_base45 (buf, n);
        REQUIRE (enc != NULL);
        CHECK_EQ (strlen (enc), n / 2 * 3 + (n % 2) * 2);
        CHECK_EQ (strspn (enc, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"), strlen (enc));
        CHECK_EQ (rcn_unbase45 (enc, &dec, &len), RCN_OK);
        CHECK (len == n && memcmp (dec, buf, n) == 0);
        free (dec);
        free (enc);
    }
    rcn_random_seed (0);
}

/* ---- issuing -------------------------------------------------------------------------------- */

static void
test_issue_and_mask (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    uint8_t h[32];
    char why[512];
    static const struct { const char *name, *masked; } names[] = {
        { "Li Wei", "L*****" },
        { "\xe5\xbc\xa0\xe4\xb8\x89\xe4\xb8\xb0", "\xe5\xbc\xa0**" },             /* 张三丰 -> 张** */
        { "\xe6\xac\xa7\xe9\x98\xb3\xe5\xa8\x9c\xe5\xa8\x9c", "\xe6\xac\xa7***" }, /* 欧阳娜娜 */
        { "X", "X" },
        { "\xc3\x89mile", "\xc3\x89****" },                                         /* Émile */
        { "\xf0\xa0\x80\x80\xe5\x85\xb0", "\xf0\xa0\x80\x80*" },                   /* U+20000 兰 */
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char id[16];
        snprintf (id, sizeof id, "M-%zu", i);
        CHECK_EQ (submit (s, &A, 0, issue_json (id, names[i].name, ID_A, "\"regions\":[\"320000\",\"310000\"]"),
                          T0, h, why), RCN_OK);
        char hex[65];
        json_t *o = list_q (s, json_pack ("{s:s}", "hash", rcn_hex (h, 32, hex)), T0 + 1);
        REQUIRE (o != NULL);
        const char *m = json_string_value (json_object_get (o, "holder_masked"));
        if (strcmp (m, names[i].masked) != 0)
            fprintf (stderr, "    name %zu masked as \"%s\"\n", i, m);
        CHECK (strcmp (m, names[i].masked) == 0);
        CHECK (strncmp (json_string_value (json_object_get (o, "token")), "RCN1:", 5) == 0);
        /* Sorted regions; no salt or hash in a list. */
        CHECK (strcmp (json_string_value (json_array_get (json_object_get (o, "regions"), 0)), "310000") == 0);
        CHECK (json_object_get (o, "id_hash") == NULL);
        json_decref (o);
    }
    /* show: every body field, the salt and the ID hash as hex and the limits recorded. */
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_store_get_by_hash (s, h, &e) == RCN_OK);
    json_t *sh = rcn_kind_pass.show (e->h.kind, e->h.body, e->h.body_len);
    REQUIRE (sh != NULL);
    CHECK_EQ (strlen (json_string_value (json_object_get (sh, "id_salt"))), 32);
    CHECK_EQ (strlen (json_string_value (json_object_get (sh, "id_hash"))), 64);
    CHECK_EQ (json_integer_value (json_object_get (sh, "id_ops")), crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
    CHECK_EQ (json_integer_value (json_object_get (sh, "id_mem_kib")), crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE / 1024);
    CHECK (strcmp (json_string_value (json_object_get (sh, "kind")), "commuter") == 0);
    CHECK_EQ (json_array_size (json_object_get (sh, "regions")), 2);
    char *dump = json_dumps (sh, 0);
    CHECK (strstr (dump, ID_A) == NULL);
    free (dump);
    json_decref (sh);
    rcn_entry_destroy (&e);

    json_t *l = list (s, T0 + 1);
    CHECK_EQ (json_array_size (l), sizeof names / sizeof *names);
    CHECK (strcmp (field (l, 0, "state"), "valid") == 0);
    CHECK (strcmp (field (l, 0, "region"), "310000") == 0);
    CHECK (strcmp (field (l, 0, "status"), "actual") == 0);
    json_decref (l);
    l = list (s, T0 + 30 * DAY);
    CHECK (strcmp (field (l, 0, "state"), "expired") == 0);
    json_decref (l);
    l = list (s, T0 - 1);
    CHECK (strcmp (field (l, 0, "state"), "not_yet_valid") == 0);
    json_decref (l);
    close_store (&s, dir);
}

static void
test_author_refusals (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    char why[512], body[1024];
    const char *from_until = "\"valid_from_ms\":1795311000000,\"valid_until_ms\":1797903000000";
    static const struct { const char *body, *needle; } bad[] = {
        { "{\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s}", "pass_id is required" },
        { "{\"pass_id\":\"\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s}", "pass_id" },
        { "{\"pass_id\":\" P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s}", "pass_id" },
        { "{\"pass_id\":\"P\",\"kind\":\"tourist\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s}", "kind" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"id_number\":\"" ID_A "\"},%s}", "holder.name" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"\",\"id_number\":\"" ID_A "\"},%s}", "holder.name" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\\u0007\",\"id_number\":\"" ID_A "\"},%s}", "holder.name" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li \",\"id_number\":\"" ID_A "\"},%s}", "holder.name" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"110105194912310021\"},%s}", "check character" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"11010519491231002x\"},%s}", "holder.id_number" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\"},%s}", "holder.id_number is required" },
        { "{\"pass_id\":\"P\",\"kind\":\"freight\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s}", "plate" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s,\"regions\":[\"990000\"]}", "regions[0]" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s,\"regions\":[\"330000\"]}", "not a member" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s,\"regions\":[\"310000\",\"310000\"]}", "twice" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},%s,\"colour\":\"red\"}", "unknown field" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},\"valid_until_ms\":1000}", "valid_until" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},\"valid_from_ms\":1795311000000}", "valid_until_ms is required" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},\"valid_from_ms\":1795311000000,\"valid_until_ms\":1795311000000}", "after valid_from" },
        { "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},\"valid_from_ms\":1795311000000,\"valid_until_ms\":1900000000000}", "366 days" },
        { "{\"action\":\"stamp\",%s}", "action" },
        { "{\"action\":\"revoke\",\"pass\":\"00\",\"reason\":\"x\"}", "64-hex-digit" },
        { "{\"action\":\"revoke\",\"pass\":\"%s\",\"reason\":\"x\"}", "holds no pass" },
        { "{\"action\":\"revoke\",\"pass\":\"0000000000000000000000000000000000000000000000000000000000000000\"}", "reason" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf (body, sizeof body, bad[i].body, strstr (bad[i].body, "\"pass\":\"%s\"")
                  ? "1111111111111111111111111111111111111111111111111111111111111111" : from_until);
        why[0] = 0;
        CHECK_EQ (submit (s, &A, 0, body, T0, NULL, why), RCN_EINVAL);
        if (!strstr (why, bad[i].needle))
            fprintf (stderr, "    case %zu: why \"%s\" lacks \"%s\"\n", i, why, bad[i].needle);
        CHECK (strstr (why, bad[i].needle) != NULL);
    }
    CHECK_EQ (A.seq, 0);                          /* nothing was signed for any refusal */

    /* Revokes: only the issuer, once, and never across statuses. */
    uint8_t h[32], hd[32];
    char hex[65];
    CHECK_EQ (submit (s, &A, 0, issue_json ("R-1", "Li", ID_A, NULL), T0, h, why), RCN_OK);
    CHECK_EQ (submit (s, &A, RCN_STATUS_EXERCISE, issue_json ("D-1", "Li", ID_A, NULL), T0, hd, why), RCN_OK);
    snprintf (body, sizeof body, "{\"action\":\"revoke\",\"pass\":\"%s\",\"reason\":\"lost\"}", rcn_hex (h, 32, hex));
    CHECK_EQ (submit (s, &B, 0, body, T0 + 1, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "only the region that issued") != NULL && strstr (why, "310000") != NULL);
    CHECK_EQ (submit (s, &A, RCN_STATUS_EXERCISE, body, T0 + 1, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "drill revoke never touches a real pass") != NULL);
    snprintf (body, sizeof body, "{\"action\":\"revoke\",\"pass\":\"%s\",\"reason\":\"lost\",\"x\":1}", hex);
    CHECK_EQ (submit (s, &A, 0, body, T0 + 1, NULL, why), RCN_EINVAL);
    snprintf (body, sizeof body, "{\"action\":\"revoke\",\"pass\":\"%s\",\"reason\":\"lost\"}", hex);
    CHECK_EQ (submit (s, &A, 0, body, T0 + 1, NULL, why), RCN_OK);
    CHECK_EQ (submit (s, &A, 0, body, T0 + 2, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "already revoked") != NULL);
    snprintf (body, sizeof body, "{\"action\":\"revoke\",\"pass\":\"%s\",\"reason\":\"drill over\"}", rcn_hex (hd, 32, hex));
    CHECK_EQ (submit (s, &A, RCN_STATUS_EXERCISE, body, T0 + 3, NULL, why), RCN_OK);
    json_t *l = list (s, T0 + 4);
    CHECK_EQ (json_array_size (l), 2);
    for (size_t i = 0; i < 2; i++) {
        CHECK (strcmp (field (l, i, "state"), "revoked") == 0);
        CHECK (json_object_get (json_array_get (l, i), "revoke_reason") != NULL);
    }
    json_decref (l);
    close_store (&s, dir);
}

/* DESIGN §4: the same pass id with identical content returns the existing entry; anything else
 * under that id is refused. The ID number is compared through the earlier pass's salt. */
static void
test_idempotent (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    uint8_t h[32];
    char why[512], hex[65];
    const char *extra = "\"plate\":\"\xe6\xb2\xaa" "A12345\",\"regions\":[\"320000\"]";
    CHECK_EQ (submit (s, &A, 0, issue_json ("I-1", "Li Wei", ID_A, extra), T0, h, why), RCN_OK);
    rcn_hex (h, 32, hex);
    CHECK_EQ (submit (s, &A, 0, issue_json ("I-1", "Li Wei", ID_A, extra), T0 + 5000, NULL, why), RCN_EDUP);
    CHECK (strcmp (why, hex) == 0);
    /* A pass holds the name only masked: another name with the same first character is the
     * same content (the ID number tells people apart). Another ID number, plate, region set
     * or status is not. */
    CHECK_EQ (submit (s, &A, 0, issue_json ("I-1", "Lu Wen", ID_A, extra), T0, NULL, why), RCN_EDUP);
    CHECK_EQ (submit (s, &A, 0, issue_json ("I-1", "Li Wei", ID_B, extra), T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "holder.id_number") != NULL && strstr (why, hex) != NULL);
    CHECK_EQ (submit (s, &A, 0, issue_json ("I-1", "Li Wei", ID_A, "\"plate\":\"B\",\"regions\":[\"320000\"]"), T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "plate") != NULL);
    CHECK_EQ (submit (s, &A, 0, issue_json ("I-1", "Li Wei", ID_A, "\"plate\":\"\xe6\xb2\xaa" "A12345\""), T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "regions") != NULL);
    CHECK_EQ (submit (s, &A, RCN_STATUS_EXERCISE, issue_json ("I-1", "Li Wei", ID_A, extra), T0, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "status") != NULL);
    /* Left out, valid_from is the node's now: a retry without it is the same pass. */
    char body[1024];
    snprintf (body, sizeof body, "{\"pass_id\":\"I-1\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li Wei\","
              "\"id_number\":\"" ID_A "\"},\"valid_until_ms\":%llu,%s}", T0 + 30 * DAY, extra);
    CHECK_EQ (submit (s, &A, 0, body, T0 + 9000, NULL, why), RCN_EDUP);
    /* Another region may use the same pass id. */
    CHECK_EQ (submit (s, &B, 0, issue_json ("I-1", "Li Wei", ID_A, extra), T0, NULL, why), RCN_OK);
    CHECK_EQ (A.seq, 1);
    close_store (&s, dir);
}

/* ---- offline verification ------------------------------------------------------------------ */

/* Runs `pass verify` (the kind's local verb) with stdout captured; returns its exit code and
 * the JSON it printed (caller decrefs). */
static int
verify (const char *tok, const char *opts_json, rcn_store_t *store, const rcn_roster_t *roster,
        json_t **out)
{
    json_error_t jerr;
    json_t *req = json_loads (opts_json ? opts_json : "{}", 0, &jerr);
    REQUIRE (req != NULL);
    json_object_set_new (req, "verb", json_string ("verify"));
    json_object_set_new (req, "op", json_string ("local"));
    json_object_set_new (req, "token", json_string (tok));
    if (!roster && !json_object_get (req, "roster"))
        json_object_set_new (req, "roster", json_string (s_roster_path));
    char path[256];
    snprintf (path, sizeof path, "%s/verify.out", s_tmp);
    fflush (stdout);
    int saved = dup (STDOUT_FILENO), fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE (saved >= 0 && fd >= 0);
    dup2 (fd, STDOUT_FILENO);
    close (fd);
    int code = rcn_kind_pass.local (req, roster, store, true);
    fflush (stdout);
    dup2 (saved, STDOUT_FILENO);
    close (saved);
    json_decref (req);
    *out = json_load_file (path, 0, &jerr);
    if (!*out)
        fprintf (stderr, "    verify printed no JSON: %s\n", jerr.text);
    REQUIRE (*out != NULL);
    CHECK_EQ (json_is_true (json_object_get (*out, "valid")), code == 0);
    return code;
}

static const char *
reason_of (const json_t *o)
{
    const char *r = json_string_value (json_object_get (o, "reason"));
    return r ? r : "";
}

/* verify at time `at` (Unix ms); returns the exit code and keeps the reason in r. */
static int
verify_at (const char *tok, uint64_t at, const char *extra, char *r, size_t rlen)
{
    char opts[512];
    snprintf (opts, sizeof opts, "{\"at_ms\":%llu%s%s}", (unsigned long long) at,
              extra ? "," : "", extra ? extra : "");
    json_t *o;
    int code = verify (tok, opts, NULL, NULL, &o);
    snprintf (r, rlen, "%s", reason_of (o));
    json_decref (o);
    return code;
}

static void
test_verify_offline (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    uint8_t h[32], hd[32];
    char why[512], r[640];
    CHECK_EQ (submit (s, &A, 0, issue_json ("V-1", "\xe5\xbc\xa0\xe4\xb8\x89", ID_A,
                                            "\"regions\":[\"310000\",\"320000\"]"), T0, h, why), RCN_OK);
    char *tok = token (s, h);
    CHECK (strncmp (tok, "RCN1:", 5) == 0);

    /* The token decodes to exactly the stored entry: signed | sig. */
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    REQUIRE (rcn_unbase45 (tok + 5, &raw, &rawlen) == RCN_OK);
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_store_get_by_hash (s, h, &e) == RCN_OK);
    CHECK_EQ (rawlen, e->signed_len + 64);
    CHECK (memcmp (raw, e->signed_bytes, e->signed_len) == 0);
    CHECK (memcmp (raw + e->signed_len, e->sig, 64) == 0);
    fprintf (stderr, "    token: %zu characters for a %zu-byte entry\n", strlen (tok), rawlen);
    char *tok2 = rcn_pass_token (e);
    CHECK (tok2 && strcmp (tok2, tok) == 0);
    free (tok2);
    rcn_entry_destroy (&e);
    free (raw);

    json_t *o;
    CHECK_EQ (verify (tok, "{\"at_ms\":1795400000000}", NULL, NULL, &o), 0);
    CHECK (strcmp (json_string_value (json_object_get (o, "holder_masked")), "\xe5\xbc\xa0*") == 0);
    CHECK (strcmp (json_string_value (json_object_get (o, "kind")), "commuter") == 0);
    CHECK (strcmp (json_string_value (json_object_get (o, "issuer_region")), "310000") == 0);
    CHECK (strcmp (json_string_value (json_object_get (o, "status")), "actual") == 0);
    CHECK (strstr (json_string_value (json_object_get (o, "revocation")), "not checked") != NULL);
    CHECK_EQ (json_array_size (json_object_get (o, "regions")), 2);
    json_decref (o);

    /* The window, with five minutes' skew either side. */
    uint64_t from = T0, until = T0 + 30 * DAY;
    CHECK_EQ (verify_at (tok, from, NULL, r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, from - 4 * MIN, NULL, r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, from - 5 * MIN, NULL, r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, from - 5 * MIN - 1, NULL, r, sizeof r), 1);
    CHECK (strstr (r, "not yet valid") != NULL);
    CHECK_EQ (verify_at (tok, from - DAY, NULL, r, sizeof r), 1);
    CHECK_EQ (verify_at (tok, until - 1, NULL, r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, until + 4 * MIN, NULL, r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, until + 5 * MIN - 1, NULL, r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, until + 5 * MIN, NULL, r, sizeof r), 1);
    CHECK (strstr (r, "expired") != NULL);
    CHECK_EQ (verify_at (tok, until + DAY, NULL, r, sizeof r), 1);

    /* The checkpoint's function itself (what rcctl and the benchmark call): same verdicts, and
     * the entry and pass handed back once read. */
    Rcn__PassIssue *pi = NULL;
    o = json_object ();
    CHECK (rcn_pass_check_token (tok, s_roster, T0, 320000, false, o, r, sizeof r, &e, &pi));
    CHECK (e && pi && memcmp (e->hash, h, 32) == 0 && strcmp (pi->pass_id, "V-1") == 0);
    CHECK (strcmp (json_string_value (json_object_get (o, "issuer_region")), "310000") == 0);
    json_decref (o);
    rcn_entry_destroy (&e);
    rcn__pass_issue__free_unpacked (pi, NULL);
    o = json_object ();
    CHECK (!rcn_pass_check_token (tok, s_roster, until + DAY, 0, false, o, r, sizeof r, NULL, NULL));
    CHECK (strstr (r, "expired") != NULL);
    json_decref (o);
    o = json_object ();
    CHECK (!rcn_pass_check_token ("RCN1:!!!", s_roster, T0, 0, false, o, r, sizeof r, &e, &pi));
    CHECK (e == NULL && pi == NULL && strstr (r, "Base45") != NULL);
    json_decref (o);

    /* Where it is recognised. */
    CHECK_EQ (verify_at (tok, T0, "\"here\":320000", r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, T0, "\"here\":\"310000\"", r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, T0, "\"here\":330000", r, sizeof r), 1);
    CHECK (strstr (r, "not recognised in 330000") != NULL);

    /* The holder's ID number: right, wrong, malformed. */
    CHECK_EQ (verify_at (tok, T0, "\"id_number\":\"" ID_A "\"", r, sizeof r), 0);
    CHECK_EQ (verify_at (tok, T0, "\"id_number\":\"" ID_B "\"", r, sizeof r), 1);
    CHECK (strstr (r, "not the holder's") != NULL);
    CHECK_EQ (verify_at (tok, T0, "\"id_number\":\"12345\"", r, sizeof r), 1);
    CHECK (strstr (r, "not a valid resident ID number") != NULL);

    /* A scanner's trailing newline is fine. */
    char *nl = malloc (strlen (tok) + 3);
    sprintf (nl, "%s\r\n", tok);
    CHECK_EQ (verify_at (nl, T0, NULL, r, sizeof r), 0);
    free (nl);

    /* Tampering: every character changed to another of the alphabet, at a stride. */
    static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    size_t n = strlen (tok), refused = 0, tried = 0;
    for (size_t i = 5; i < n; i += 7) {
        char *t = strdup (tok);
        const char *p = strchr (alpha, t[i]);
        t[i] = alpha[(p - alpha + 1 + (i % 44)) % 45];
        tried++;
        refused += verify_at (t, T0, NULL, r, sizeof r) == 1;
        free (t);
    }
    CHECK_EQ (refused, tried);
    char *t = strdup (tok);
    t[n - 10] = t[n - 10] == 'A' ? 'B' : 'A';          /* inside the signature */
    CHECK_EQ (verify_at (t, T0, NULL, r, sizeof r), 1);
    CHECK (strstr (r, "signature") != NULL || strstr (r, "damaged") != NULL);
    t[n - 10] = tok[n - 10];
    t[2] = 'X';                                         /* "RCX1:" */
    CHECK_EQ (verify_at (t, T0, NULL, r, sizeof r), 1);
    CHECK (strstr (r, "RCN1:") != NULL);
    free (t);
    CHECK_EQ (verify_at ("RCN1:", T0, NULL, r, sizeof r), 1);
    CHECK_EQ (verify_at ("RCN1:bb8", T0, NULL, r, sizeof r), 1);
    CHECK (strstr (r, "Base45") != NULL);

    /* An issuer the roster does not list: C signs a pass body it got from A's. */
    rcn_entry_t *ea = NULL;
    REQUIRE (rcn_store_get_by_hash (s, h, &ea) == RCN_OK);
    rcn_entry_t *ec = sign_next (&C, RCN__KIND__KIND_PASS_ISSUE, 0, ea->h.body, ea->h.body_len, T0);
    uint8_t *buf = malloc (ec->signed_len + 64);
    memcpy (buf, ec->signed_bytes, ec->signed_len);
    memcpy (buf + ec->signed_len, ec->sig, 64);
    char *b45 = rcn_base45 (buf, ec->signed_len + 64);
    char *tc = malloc (strlen (b45) + 6);
    sprintf (tc, "RCN1:%s", b45);
    CHECK_EQ (verify_at (tc, T0, NULL, r, sizeof r), 1);
    CHECK (strstr (r, "not in this roster") != NULL);
    free (tc);
    free (b45);
    free (buf);
    rcn_entry_destroy (&ec);
    rcn_entry_destroy (&ea);

    /* A drill pass: refused for real use, accepted with --exercise. */
    CHECK_EQ (submit (s, &A, RCN_STATUS_EXERCISE, issue_json ("V-D", "Li", ID_A, NULL), T0, hd, why), RCN_OK);
    char *td = token (s, hd);
    CHECK_EQ (verify_at (td, T0, NULL, r, sizeof r), 1);
    CHECK (strstr (r, "drill pass") != NULL);
    CHECK_EQ (verify_at (td, T0, "\"exercise\":true", r, sizeof r), 0);

    /* A revoke entry's token is no pass. */
    char body[256], hex[65];
    uint8_t hr[32];
    snprintf (body, sizeof body, "{\"action\":\"revoke\",\"pass\":\"%s\",\"reason\":\"lost card\"}", rcn_hex (h, 32, hex));
    CHECK_EQ (submit (s, &A, 0, body, T0 + 2 * DAY, hr, why), RCN_OK);
    rcn_entry_t *er = NULL;
    REQUIRE (rcn_store_get_by_hash (s, hr, &er) == RCN_OK);
    buf = malloc (er->signed_len + 64);
    memcpy (buf, er->signed_bytes, er->signed_len);
    memcpy (buf + er->signed_len, er->sig, 64);
    b45 = rcn_base45 (buf, er->signed_len + 64);
    tc = malloc (strlen (b45) + 6);
    sprintf (tc, "RCN1:%s", b45);
    CHECK_EQ (verify_at (tc, T0, NULL, r, sizeof r), 1);
    CHECK (strstr (r, "not a pass") != NULL);
    free (tc);
    free (b45);
    free (buf);
    rcn_entry_destroy (&er);

    /* Offline the revoke is unknown; with the member's log it is refused, saying by whom,
     * when and why; the roster may then come from the node dir. */
    CHECK_EQ (verify_at (tok, T0 + 3 * DAY, NULL, r, sizeof r), 0);
    CHECK_EQ (verify (tok, "{\"at_ms\":1795600000000}", s, s_roster, &o), 1);
    CHECK (strstr (reason_of (o), "revoked by 310000 at 2026-11-24T01:30:00.000Z: lost card") != NULL);
    CHECK (json_is_true (json_object_get (o, "revoked")));
    json_decref (o);
    /* A log that holds the pass unrevoked says so. */
    CHECK_EQ (verify (td, "{\"at_ms\":1795311000000,\"exercise\":true}", s, s_roster, &o), 0);
    CHECK (strstr (json_string_value (json_object_get (o, "revocation")), "not revoked") != NULL);
    json_decref (o);
    /* No roster at all is a usage error. */
    json_t *req = json_pack ("{s:s, s:s, s:s}", "verb", "verify", "op", "local", "token", tok);
    CHECK_EQ (rcn_kind_pass.local (req, NULL, NULL, true), 2);
    json_decref (req);
    free (td);
    free (tok);
    close_store (&s, dir);
}

/* ---- invariants 8 and 9 --------------------------------------------------------------------- */

static size_t
pack_issue (Rcn__PassIssue *p, uint8_t *buf)
{
    return rcn__pass_issue__pack (p, buf);
}

static void
test_bad_entries_stored_not_applied (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    uint8_t h[32], salt[16] = { 1 }, idh[32] = { 2 };
    char why[512], reason[256];
    CHECK_EQ (submit (s, &A, 0, issue_json ("B-1", "Li", ID_A, NULL), T0, h, why), RCN_OK);
    Rcn__PassIssue good = RCN__PASS_ISSUE__INIT;
    good.pass_id = "B-2";
    good.kind = RCN__PASS_ISSUE__KIND__COMMUTER;
    good.holder_masked = "L*";
    good.id_salt = (ProtobufCBinaryData) { 16, salt };
    good.id_hash = (ProtobufCBinaryData) { 32, idh };
    good.id_ops = 2;
    good.id_mem_kib = 65536;
    good.valid_from_ms = T0;
    good.valid_until_ms = T0 + DAY;
    uint32_t unsorted[2] = { 320000, 310000 };
    for (int i = 0; i < 8; i++) {
        Rcn__PassIssue p = good;
        switch (i) {            /* each a rule apply holds an issuer to */
        case 0: p.holder_masked = "Li"; break;
        case 1: p.id_ops = 1; break;
        case 2: p.id_mem_kib = 4u << 20; break;
        case 3: p.kind = RCN__PASS_ISSUE__KIND__FREIGHT; break;
        case 4: p.valid_until_ms = T0 - 1; break;
        case 5: p.pass_id = "B-1"; break;
        case 6: p.regions = unsorted; p.n_regions = 2; break;
        case 7: break;                        /* the one valid body */
        }
        uint8_t buf[512];
        size_t len = pack_issue (&p, buf);
        rcn_entry_t *e = sign_next (&A, RCN__KIND__KIND_PASS_ISSUE, 0, buf, len, T0 + 10 + i);
        int res;
        REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
        CHECK_EQ (res, RCN_OK);
        int rc = rcn_store_invalid_reason (s, e->hash, reason, sizeof reason);
        CHECK_EQ (rc, i == 7 ? RCN_ENOTFOUND : RCN_OK);
        if (i == 5)
            CHECK (strstr (reason, "already used") != NULL);
        rcn_entry_destroy (&e);
    }
    /* Garbage, an unknown field, and B revoking A's pass: stored, invalid, chain goes on. */
    const uint8_t garbage[] = { 0xff, 0xff, 0xff };
    uint8_t buf[512];
    size_t len = pack_issue (&good, buf);
    buf[len++] = 0x78;                       /* field 15, varint 1 */
    buf[len++] = 0x01;
    Rcn__PassRevoke rv = RCN__PASS_REVOKE__INIT;
    rv.pass = (ProtobufCBinaryData) { 32, h };
    rv.reason = "forged";
    uint8_t rb[128];
    size_t rlen = rcn__pass_revoke__pack (&rv, rb);
    rcn_entry_t *e[3] = {
        sign_next (&B, RCN__KIND__KIND_PASS_ISSUE, 0, garbage, sizeof garbage, T0 + 1),
        sign_next (&B, RCN__KIND__KIND_PASS_ISSUE, 0, buf, len, T0 + 2),
        sign_next (&B, RCN__KIND__KIND_PASS_REVOKE, 0, rb, rlen, T0 + 3),
    };
    int res[3];
    REQUIRE (rcn_store_append (s, e, 3, res) == RCN_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ (res[i], RCN_OK);
        CHECK_EQ (rcn_store_invalid_reason (s, e[i]->hash, reason, sizeof reason), RCN_OK);
        rcn_entry_destroy (&e[i]);
    }
    CHECK (strstr (reason, "names no earlier pass of the same region") != NULL);
    json_t *l = list (s, T0 + 100);
    CHECK_EQ (json_array_size (l), 2);       /* B-1 and the valid B-2 */
    for (size_t i = 0; i < 2; i++)
        CHECK (strcmp (field (l, i, "state"), "valid") == 0);
    json_decref (l);
    close_store (&s, dir);
}

/* Invariant 8: the same entries in any order across origins (each origin's in its own order,
 * as the store requires) give the same list, byte for byte, and the same invalid reasons. */
static void
test_view_order_independent (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    uint8_t ha[32], had[32], hb[32], hx[32];
    char why[512], hex[65], body[512];
    submit (s, &A, 0, issue_json ("O-1", "Li", ID_A, NULL), T0, ha, why);
    submit (s, &B, 0, issue_json ("O-1", "Wang", ID_B, "\"regions\":[\"310000\"]"), T0, hb, why);
    submit (s, &A, RCN_STATUS_EXERCISE, issue_json ("O-2", "Li", ID_A, NULL), T0 + 1, had, why);
    snprintf (body, sizeof body, "{\"action\":\"revoke\",\"pass\":\"%s\",\"reason\":\"misprint\"}", rcn_hex (hb, 32, hex));
    submit (s, &B, 0, body, T0 + 2, NULL, why);
    submit (s, &A, 0, issue_json ("O-3", "Zhao", ID_B, NULL), T0 + 3, hx, why);
    snprintf (body, sizeof body, "{\"action\":\"revoke\",\"pass\":\"%s\",\"reason\":\"drill\"}", rcn_hex (had, 32, hex));
    submit (s, &A, RCN_STATUS_EXERCISE, body, T0 + 4, NULL, why);
    /* Signed by hand: B revokes A's pass (B's seq 3); A's drill revoke of its real O-1 (seq 5). */
    Rcn__PassRevoke rv = RCN__PASS_REVOKE__INIT;
    rv.pass = (ProtobufCBinaryData) { 32, ha };
    rv.reason = "not yours";
    uint8_t rb[128];
    size_t rlen = rcn__pass_revoke__pack (&rv, rb);
    rcn_entry_t *fb = sign_next (&B, RCN__KIND__KIND_PASS_REVOKE, 0, rb, rlen, T0 + 5);
    rcn_entry_t *fa = sign_next (&A, RCN__KIND__KIND_PASS_REVOKE, RCN_STATUS_EXERCISE, rb, rlen, T0 + 5);
    int res;
    REQUIRE (rcn_store_append (s, &fb, 1, &res) == RCN_OK);
    REQUIRE (rcn_store_append (s, &fa, 1, &res) == RCN_OK);
    rcn_entry_t *ea[5], *eb[3];
    for (uint64_t i = 0; i < 5; i++)
        REQUIRE (rcn_store_get (s, A.pk, i + 1, &ea[i]) == RCN_OK);
    for (uint64_t i = 0; i < 3; i++)
        REQUIRE (rcn_store_get (s, B.pk, i + 1, &eb[i]) == RCN_OK);
    close_store (&s, dir);

    rcn_random_seed (8);
    char *first = NULL, first_reasons[2][256];
    for (int round = 0; round < 12; round++) {
        s = open_store (&dir);
        size_t ia = 0, ib = 0;
        while (ia < 5 || ib < 3) {
            uint8_t coin;
            rcn_random_buf (&coin, 1);
            bool take_a = ib == 3 || (ia < 5 && (round == 0 || (round == 1 ? false : coin & 1)));
            rcn_entry_t *e = take_a ? ea[ia++] : eb[ib++];
            REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
            CHECK_EQ (res, RCN_OK);
        }
        json_t *l = list (s, T0 + 10);
        CHECK_EQ (json_array_size (l), 4);
        char *text = json_dumps (l, JSON_COMPACT);
        char reasons[2][256];
        CHECK_EQ (rcn_store_invalid_reason (s, eb[2]->hash, reasons[0], 256), RCN_OK);
        CHECK_EQ (rcn_store_invalid_reason (s, ea[4]->hash, reasons[1], 256), RCN_OK);
        if (!first) {
            first = text;
            memcpy (first_reasons, reasons, sizeof reasons);
            /* The drill revoke touched only the drill pass; A's real O-1 stands. */
            for (size_t i = 0; i < 4; i++) {
                const char *id = field (l, i, "pass_id"), *region = field (l, i, "region");
                const char *state = field (l, i, "state"), *status = field (l, i, "status");
                bool revoked = (strcmp (id, "O-2") == 0) || strcmp (region, "320000") == 0;
                CHECK (strcmp (state, revoked ? "revoked" : "valid") == 0);
                CHECK (strcmp (status, strcmp (id, "O-2") == 0 ? "exercise" : "actual") == 0);
            }
            CHECK (strstr (reasons[1], "another status") != NULL);
        }
        else {
            CHECK (strcmp (first, text) == 0);
            CHECK (strcmp (first_reasons[0], reasons[0]) == 0 && strcmp (first_reasons[1], reasons[1]) == 0);
            free (text);
        }
        json_decref (l);
        close_store (&s, dir);
    }
    free (first);
    rcn_random_seed (0);
    for (int i = 0; i < 5; i++)
        rcn_entry_destroy (&ea[i]);
    for (int i = 0; i < 3; i++)
        rcn_entry_destroy (&eb[i]);
    rcn_entry_destroy (&fa);
    rcn_entry_destroy (&fb);
    (void) hx;
}

/* ---- QR ------------------------------------------------------------------------------------- */

static void
test_qr (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    uint8_t h[32];
    char why[512], path[512];
    CHECK_EQ (submit (s, &A, 0, "{\"pass_id\":\"Q-1\",\"kind\":\"freight\",\"plate\":\"\xe6\xb2\xaa" "A12345\","
                      "\"holder\":{\"name\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"id_number\":\"" ID_A "\"},"
                      "\"valid_from_ms\":1795311000000,\"valid_until_ms\":1797903000000,"
                      "\"regions\":[\"310000\",\"320000\"]}", T0, h, why), RCN_OK);
    char *tok = token (s, h);
    snprintf (path, sizeof path, "%s/pass.png", s_tmp);
    CHECK_EQ (rcn_qr_write_png (tok, path, why, sizeof why), RCN_OK);
    struct stat st;
    CHECK (stat (path, &st) == 0 && st.st_size > 100);
    if (system ("command -v zbarimg >/dev/null 2>&1") != 0)
        fprintf (stderr, "    SKIPPED the scan: zbarimg is not installed (tests/deps installs "
                 "zbar-tools)\n");
    else {
        char cmd[640], got[4096] = "";
        snprintf (cmd, sizeof cmd, "zbarimg --raw -q '%s' 2>/dev/null", path);
        FILE *f = popen (cmd, "r");
        REQUIRE (f != NULL);
        size_t n = fread (got, 1, sizeof got - 1, f);
        got[n] = '\0';
        CHECK_EQ (pclose (f), 0);
        while (n > 0 && (got[n - 1] == '\n' || got[n - 1] == '\r'))
            got[--n] = '\0';
        if (strcmp (got, tok) != 0)
            fprintf (stderr, "    zbarimg read \"%s\"\n    wanted     \"%s\"\n", got, tok);
        CHECK (strcmp (got, tok) == 0);
        /* And what the scanner read verifies. */
        char r[640];
        CHECK_EQ (verify_at (got, T0, NULL, r, sizeof r), 0);
    }
    /* Refusals: nothing to encode, too long for any QR version, a directory that is not there
     * (and no file left behind). */
    CHECK_EQ (rcn_qr_write_png ("", path, why, sizeof why), RCN_EINVAL);
    char *big = malloc (8000);
    memset (big, 'A', 7999);
    big[7999] = '\0';
    CHECK_EQ (rcn_qr_write_png (big, path, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "7999") != NULL);
    free (big);
    snprintf (path, sizeof path, "%s/no/such/dir/pass.png", s_tmp);
    CHECK_EQ (rcn_qr_write_png (tok, path, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, path) != NULL);
    free (tok);
    close_store (&s, dir);
}

/* ---- rcctl's words -------------------------------------------------------------------------- */

static int
cli (const char *words, const char *input, json_t **req, char *why)
{
    char buf[1024];
    snprintf (buf, sizeof buf, "%s", words);
    char *argv[32];
    int argc = 0;
    for (char *t = strtok (buf, " "); t && argc < 31; t = strtok (NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    json_t *in = input ? json_loads (input, 0, NULL) : NULL;
    *req = NULL;
    int rc = rcn_kind_pass.cli (argc, argv, in, T0, req, why, 256);
    json_decref (in);
    return rc;
}

static void
test_cli (void)
{
    json_t *req = NULL;
    char why[256];
    CHECK_EQ (cli ("issue --pass-id P-1 --kind freight --name Li --id-number " ID_A " --plate X1 "
                   "--valid-until +30d --regions 320000,310000 --qr /tmp/x.png", NULL, &req, why), RCN_OK);
    const json_t *b = json_object_get (req, "body");
    CHECK (strcmp (json_string_value (json_object_get (req, "op")), "author") == 0);
    CHECK (strcmp (json_string_value (json_object_get (req, "qr")), "/tmp/x.png") == 0);
    CHECK (strcmp (json_string_value (json_object_get (b, "action")), "issue") == 0);
    CHECK (strcmp (json_string_value (json_object_get (json_object_get (b, "holder"), "id_number")), ID_A) == 0);
    CHECK_EQ (json_integer_value (json_object_get (b, "valid_until_ms")), (json_int_t) (T0 + 30 * DAY));
    CHECK (json_object_get (b, "valid_from_ms") == NULL);      /* the node's now */
    CHECK_EQ (json_array_size (json_object_get (b, "regions")), 2);
    json_decref (req);

    const char *in = "{\"pass_id\":\"P-2\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"},"
                     "\"valid_from\":\"2026-11-22T09:30:00+08:00\",\"valid_until\":1797903000000,\"regions\":[320000]}";
    CHECK_EQ (cli ("issue --qr q.png", in, &req, why), RCN_OK);
    b = json_object_get (req, "body");
    CHECK_EQ (json_integer_value (json_object_get (b, "valid_from_ms")), (json_int_t) T0);
    CHECK_EQ (json_integer_value (json_object_get (b, "valid_until_ms")), 1797903000000LL);
    CHECK (strcmp (json_string_value (json_array_get (json_object_get (b, "regions"), 0)), "320000") == 0);
    json_decref (req);
    CHECK_EQ (cli ("issue --pass-id X", in, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "JSON on stdin") != NULL);
    CHECK_EQ (cli ("issue", "{\"pass_id\":\"P\",\"colour\":\"red\"}", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "colour") != NULL);
    CHECK_EQ (cli ("issue", "{\"pass_id\":\"P\",\"kind\":\"commuter\",\"holder\":{\"name\":\"Li\",\"id_number\":\"" ID_A "\"}}", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "valid-until") != NULL);
    CHECK_EQ (cli ("issue --pass-id P --kind commuter --name Li --valid-until +1d", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "--id-number") != NULL);
    CHECK_EQ (cli ("issue --pass-id P --kind commuter --name Li --id-number " ID_A " --valid-until soon", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "--valid-until") != NULL);
    CHECK_EQ (cli ("issue --pass-id P --reason x", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "--reason") != NULL);

    CHECK_EQ (cli ("revoke abcd --reason lost", NULL, &req, why), RCN_OK);
    b = json_object_get (req, "body");
    CHECK (strcmp (json_string_value (json_object_get (b, "action")), "revoke") == 0);
    CHECK (strcmp (json_string_value (json_object_get (b, "pass")), "abcd") == 0);
    json_decref (req);
    CHECK_EQ (cli ("revoke abcd", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "--reason") != NULL);
    CHECK_EQ (cli ("revoke --reason x", NULL, &req, why), RCN_EINVAL);

    CHECK_EQ (cli ("list", NULL, &req, why), RCN_OK);
    CHECK (strcmp (json_string_value (json_object_get (req, "op")), "list") == 0);
    json_decref (req);
    CHECK_EQ (cli ("list --all", NULL, &req, why), RCN_EINVAL);

    CHECK_EQ (cli ("verify RCN1:ABC --roster r.json --at +1h --id-number " ID_A " --here 320000 --exercise", NULL, &req, why), RCN_OK);
    CHECK (strcmp (json_string_value (json_object_get (req, "op")), "local") == 0);
    CHECK (strcmp (json_string_value (json_object_get (req, "token")), "RCN1:ABC") == 0);
    CHECK (strcmp (json_string_value (json_object_get (req, "roster")), "r.json") == 0);
    CHECK (strcmp (json_string_value (json_object_get (req, "id_number")), ID_A) == 0);
    CHECK_EQ (json_integer_value (json_object_get (req, "at_ms")), (json_int_t) (T0 + 3600000));
    CHECK_EQ (json_integer_value (json_object_get (req, "here")), 320000);
    CHECK (json_is_true (json_object_get (req, "exercise")));
    CHECK (json_object_get (req, "body") == NULL);
    json_decref (req);
    CHECK_EQ (cli ("verify", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "token") != NULL);
    CHECK_EQ (cli ("verify RCN1:A --here 999999", NULL, &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("verify RCN1:A --name Li", NULL, &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("show abcd --qr f.png", NULL, &req, why), RCN_OK);
    CHECK (strcmp (json_string_value (json_object_get (req, "hash")), "abcd") == 0);
    json_decref (req);
    CHECK_EQ (cli ("stamp", NULL, &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("issue --pass-id P --name \xc9\xcf", NULL, &req, why), RCN_EINVAL);
    CHECK (strstr (why, "UTF-8") != NULL);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    setup ();
    RUN (test_base45);
    RUN (test_issue_and_mask);
    RUN (test_author_refusals);
    RUN (test_idempotent);
    RUN (test_verify_offline);
    RUN (test_bad_entries_stored_not_applied);
    RUN (test_view_order_independent);
    RUN (test_qr);
    RUN (test_cli);
    rcn_roster_destroy (&s_roster);
    rcn_test_rmtree (s_tmp);
    free (s_tmp);
    free (s_roster_path);
    return rcn_test_done ();
}
