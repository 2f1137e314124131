/* test_alert.c — the Alert kind over a real store: authoring checks, the view (issue, update,
 * cancel, expiry), invariant 9 for alerts (bad steps stored, shown invalid, view untouched),
 * order-independence of the view, and rcctl's flag parsing. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/store.h"
#include "rcn.pb-c.h"

extern const rcn_kind_t rcn_kind_alert;
static const rcn_kind_t *const s_kinds[] = { &rcn_kind_alert, NULL };

#define T0 1795311000000ULL          /* 2026-11-22T01:30:00Z */

typedef struct {
    uint8_t pk[32], sk[64];
    uint64_t seq;
    uint8_t head[32];
} author_t;

static bool
any_member (const uint8_t origin[32], void *ctx)
{
    (void) origin; (void) ctx;
    return true;
}

static rcn_store_t *
open_store (char **dir)
{
    *dir = rcn_test_tmpdir ("alert");
    rcn_store_opts_t o = { .is_member = any_member, .kinds = s_kinds };
    rcn_store_t *s = NULL;
    char why[256];
    REQUIRE (rcn_store_open (*dir, &o, &s, why, sizeof why) == RCN_OK);
    return s;
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

/* Signs body as the author's next entry (no store involved). */
static rcn_entry_t *
sign_next (author_t *a, uint32_t status, const uint8_t *body, size_t len, uint64_t t)
{
    rcn_entry_t *e = NULL;
    int rc = rcn_entry_sign (a->sk, a->seq + 1, a->seq ? a->head : NULL, t, RCN__KIND__KIND_ALERT,
                             status, body, len, &e);
    REQUIRE (rc == RCN_OK);
    a->seq++;
    memcpy (a->head, e->hash, 32);
    return e;
}

typedef struct {
    const uint8_t *origin;
    json_t *req;
    uint64_t now;
    uint8_t *body;
    size_t len;
    int rc;
    char why[512];
} author_ctx_t;

static int
author_cb (const rcn_view_t *v, void *ctx)
{
    author_ctx_t *c = ctx;
    rcn_kind_env_t env = { .origin = c->origin };
    uint32_t kind = rcn_kind_alert.kind;
    c->rc = rcn_kind_alert.author (v, &env, c->req, c->now, &kind, &c->body, &c->len, c->why,
                                   sizeof c->why);
    return RCN_OK;
}

/* Runs author() for a JSON body; on success signs and appends it. Returns author's rc. */
static int
submit (rcn_store_t *s, author_t *a, uint32_t status, const char *body_json, uint64_t now,
        uint8_t hash_out[32], char *why)
{
    json_error_t jerr;
    json_t *body = json_loads (body_json, 0, &jerr);
    REQUIRE (body != NULL);
    author_ctx_t c = { .origin = a->pk, .now = now };
    c.req = json_pack ("{s:o, s:i}", "body", body, "status", (int) status);
    REQUIRE (rcn_store_read (s, &rcn_kind_alert, author_cb, &c) == RCN_OK);
    json_decref (c.req);
    if (why)
        strcpy (why, c.why);
    if (c.rc != RCN_OK)
        return c.rc;
    rcn_entry_t *e = sign_next (a, status, c.body, c.len, now);
    free (c.body);
    int res = -1;
    REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
    CHECK_EQ (res, RCN_OK);
    if (hash_out)
        memcpy (hash_out, e->hash, 32);
    rcn_entry_destroy (&e);
    return RCN_OK;
}

typedef struct {
    json_t *query;
    uint64_t now;
    json_t *out;
} list_ctx_t;

static int
list_cb (const rcn_view_t *v, void *ctx)
{
    list_ctx_t *l = ctx;
    char why[256];
    l->out = rcn_kind_alert.list (v, NULL, l->query, l->now, why, sizeof why);
    return l->out ? RCN_OK : RCN_EDB;
}

static json_t *
list (rcn_store_t *s, bool all, uint64_t now)
{
    list_ctx_t l = { .query = json_pack ("{s:b}", "all", all), .now = now };
    REQUIRE (rcn_store_read (s, &rcn_kind_alert, list_cb, &l) == RCN_OK);
    json_decref (l.query);
    return l.out;
}

static const char *
field (const json_t *list, size_t i, const char *key)
{
    return json_string_value (json_object_get (json_array_get (list, i), key));
}

static void
test_issue_update_cancel (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    author_t a;
    author_init (&a, 1);
    uint8_t h1[32], h2[32];
    char why[512], hex[65], body[512];
    CHECK_EQ (submit (s, &a, 0, "{\"action\":\"issue\",\"severity\":\"severe\",\"text\":\"cluster\","
                      "\"regions\":[\"320000\",\"330000\"],\"expires_ms\":1795321800000}", T0, h1, why), RCN_OK);
    json_t *l = list (s, false, T0 + 1000);
    CHECK_EQ (json_array_size (l), 1);
    CHECK (strcmp (field (l, 0, "state"), "in_force") == 0);
    CHECK (strcmp (field (l, 0, "severity"), "severe") == 0);
    CHECK (strcmp (field (l, 0, "hash"), rcn_hex (h1, 32, hex)) == 0);
    json_decref (l);
    /* Expiry is computed against now, not stored. */
    l = list (s, false, 1795321800000ULL);
    CHECK_EQ (json_array_size (l), 0);
    json_decref (l);
    l = list (s, true, 1795321800000ULL);
    CHECK (strcmp (field (l, 0, "state"), "expired") == 0);
    json_decref (l);

    /* An update keeps what it does not say and changes what it does. */
    snprintf (body, sizeof body, "{\"action\":\"update\",\"references\":\"%s\",\"text\":\"cluster: 14 confirmed\"}",
              rcn_hex (h1, 32, hex));
    CHECK_EQ (submit (s, &a, 0, body, T0 + 2000, h2, why), RCN_OK);
    l = list (s, false, T0 + 3000);
    CHECK_EQ (json_array_size (l), 1);
    CHECK (strcmp (field (l, 0, "text"), "cluster: 14 confirmed") == 0);
    CHECK (strcmp (field (l, 0, "severity"), "severe") == 0);
    CHECK_EQ (json_array_size (json_object_get (json_array_get (l, 0), "regions")), 2);
    CHECK_EQ (json_integer_value (json_object_get (json_array_get (l, 0), "updates")), 1);
    json_decref (l);

    /* Cancel by referencing the update (any hash of the thread works). */
    snprintf (body, sizeof body, "{\"action\":\"cancel\",\"references\":\"%s\"}", rcn_hex (h2, 32, hex));
    CHECK_EQ (submit (s, &a, 0, body, T0 + 4000, NULL, why), RCN_OK);
    l = list (s, false, T0 + 5000);
    CHECK_EQ (json_array_size (l), 0);
    json_decref (l);
    l = list (s, true, T0 + 5000);
    CHECK (strcmp (field (l, 0, "state"), "cancelled") == 0);
    json_decref (l);
    /* A cancelled alert cannot be cancelled or updated again. */
    CHECK_EQ (submit (s, &a, 0, body, T0 + 6000, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "already cancelled") != NULL);
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);
}

static void
test_author_refusals (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    author_t a, b;
    author_init (&a, 1);
    author_init (&b, 2);
    char why[512], hex[65], body[512];
    uint8_t h[32];
    static const struct { const char *json; const char *needle; } bad[] = {
        { "{\"text\":\"x\"}", "severity" },
        { "{\"severity\":\"loud\",\"text\":\"x\"}", "severity" },
        { "{\"severity\":\"minor\",\"text\":\"\"}", "text is empty" },
        { "{\"severity\":\"minor\",\"text\":\"x\",\"regions\":[\"990000\"]}", "regions[0]" },
        { "{\"severity\":\"minor\",\"text\":\"x\",\"regions\":[\"310000\",\"310000\"]}", "twice" },
        { "{\"severity\":\"minor\",\"text\":\"x\",\"expires_ms\":1000}", "expires" },
        { "{\"severity\":\"minor\",\"text\":\"bell\\u0007\"}", "control" },
        { "{\"action\":\"shout\",\"severity\":\"minor\",\"text\":\"x\"}", "action" },
        { "{\"action\":\"update\",\"severity\":\"minor\",\"text\":\"x\"}", "references" },
        { "{\"action\":\"cancel\",\"references\":\"00\"}", "references" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = 0;
        CHECK_EQ (submit (s, &a, 0, bad[i].json, T0, NULL, why), RCN_EINVAL);
        if (!strstr (why, bad[i].needle))
            fprintf (stderr, "    case %zu: why \"%s\" lacks \"%s\"\n", i, why, bad[i].needle);
        CHECK (strstr (why, bad[i].needle) != NULL);
    }
    char longtext[2100];
    memset (longtext, 'a', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    char big[2300];
    snprintf (big, sizeof big, "{\"severity\":\"minor\",\"text\":\"%s\"}", longtext);
    CHECK_EQ (submit (s, &a, 0, big, T0, NULL, why), RCN_EINVAL);
    CHECK_EQ (a.seq, 0);                          /* nothing was signed for any refusal */

    CHECK_EQ (submit (s, &a, 0, "{\"severity\":\"minor\",\"text\":\"real\"}", T0, h, why), RCN_OK);
    /* Another region may not change it; a drill entry may not change a real alert. */
    snprintf (body, sizeof body, "{\"action\":\"cancel\",\"references\":\"%s\"}", rcn_hex (h, 32, hex));
    CHECK_EQ (submit (s, &b, 0, body, T0 + 1, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "only the region that issued") != NULL);
    CHECK_EQ (submit (s, &a, RCN_STATUS_EXERCISE, body, T0 + 1, NULL, why), RCN_EINVAL);
    CHECK (strstr (why, "status") != NULL);
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);
}

/* Invariant 9 for alerts: steps rcctl would refuse, signed anyway by a misbehaving member,
 * are stored and the chain goes on; the view ignores them and the store shows them invalid. */
static void
test_bad_steps_stored_not_applied (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    author_t a, b;
    author_init (&a, 1);
    author_init (&b, 2);
    uint8_t h[32];
    char why[512], reason[256];
    CHECK_EQ (submit (s, &a, 0, "{\"severity\":\"minor\",\"text\":\"real\"}", T0, h, why), RCN_OK);

    Rcn__Alert forged = RCN__ALERT__INIT;
    forged.action = RCN__ALERT__ACTION__ACTION_CANCEL;
    forged.references.data = h;
    forged.references.len = 32;
    uint8_t buf[128];
    size_t len = rcn__alert__pack (&forged, buf);
    const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x01 };
    Rcn__Alert empty = RCN__ALERT__INIT;          /* issue without severity or text */
    uint8_t ebuf[16];
    size_t elen = rcn__alert__pack (&empty, ebuf);
    rcn_entry_t *e[4] = {
        sign_next (&b, 0, buf, len, T0 + 1),      /* b cancels a's alert */
        sign_next (&b, 0, garbage, sizeof garbage, T0 + 2),
        sign_next (&b, 0, ebuf, elen, T0 + 3),
        sign_next (&b, 0, (const uint8_t *) "", 0, T0 + 4),
    };
    int res[4];
    REQUIRE (rcn_store_append (s, e, 4, res) == RCN_OK);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ (res[i], RCN_OK);
        CHECK_EQ (rcn_store_invalid_reason (s, e[i]->hash, reason, sizeof reason), RCN_OK);
        rcn_entry_destroy (&e[i]);
    }
    uint64_t head = 0;
    CHECK_EQ (rcn_store_head (s, b.pk, &head, NULL), RCN_OK);
    CHECK_EQ (head, 4);                           /* the chain did not stall */
    json_t *l = list (s, true, T0 + 10);
    CHECK_EQ (json_array_size (l), 1);
    CHECK (strcmp (field (l, 0, "state"), "in_force") == 0);
    json_decref (l);
    CHECK_EQ (rcn_store_invalid_reason (s, h, reason, sizeof reason), RCN_ENOTFOUND);
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);
}

/* Invariant 8 for alerts: two members' alert threads, interleaved differently, same view. */
static void
test_view_order_independent (void)
{
    author_t a, b;
    author_init (&a, 1);
    author_init (&b, 2);
    rcn_entry_t *ea[3], *eb[3];
    /* Build the chains once with a scratch store so that author() resolves references. */
    char *dir;
    rcn_store_t *s = open_store (&dir);
    uint8_t ha[32], hb[32];
    char why[512], hex[65], body[256];
    submit (s, &a, 0, "{\"severity\":\"minor\",\"text\":\"a1\"}", T0, ha, why);
    submit (s, &b, 0, "{\"severity\":\"severe\",\"text\":\"b1\"}", T0, hb, why);
    snprintf (body, sizeof body, "{\"action\":\"update\",\"references\":\"%s\",\"text\":\"a2\"}", rcn_hex (ha, 32, hex));
    submit (s, &a, 0, body, T0 + 5, NULL, why);
    snprintf (body, sizeof body, "{\"action\":\"cancel\",\"references\":\"%s\"}", rcn_hex (hb, 32, hex));
    submit (s, &b, 0, body, T0 + 6, NULL, why);
    submit (s, &a, 0, "{\"severity\":\"extreme\",\"text\":\"a3\"}", T0 + 7, NULL, why);
    submit (s, &b, 0, "{\"severity\":\"moderate\",\"text\":\"b3\"}", T0 + 7, NULL, why);
    for (uint64_t i = 0; i < 3; i++) {
        REQUIRE (rcn_store_get (s, a.pk, i + 1, &ea[i]) == RCN_OK);
        REQUIRE (rcn_store_get (s, b.pk, i + 1, &eb[i]) == RCN_OK);
    }
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);

    static const char *orders[] = { "aaabbb", "bbbaaa", "ababab", "babab a", "abbaab" };
    char *first = NULL;
    for (size_t o = 0; o < sizeof orders / sizeof *orders; o++) {
        s = open_store (&dir);
        size_t ia = 0, ib = 0;
        for (const char *p = orders[o]; *p; p++) {
            if (*p == ' ')
                continue;
            rcn_entry_t *e = *p == 'a' ? ea[ia++] : eb[ib++];
            int res;
            REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
            CHECK_EQ (res, RCN_OK);
        }
        json_t *l = list (s, true, T0 + 100);
        char *text = json_dumps (l, JSON_COMPACT);
        CHECK_EQ (json_array_size (l), 4);
        if (!first)
            first = text;
        else {
            CHECK (strcmp (first, text) == 0);
            free (text);
        }
        json_decref (l);
        rcn_store_destroy (&s);
        rcn_test_rmtree (dir);
        free (dir);
    }
    free (first);
    for (int i = 0; i < 3; i++) {
        rcn_entry_destroy (&ea[i]);
        rcn_entry_destroy (&eb[i]);
    }
}

/* Signs and appends a raw body as a's next entry; returns the invalid reason ("" if valid). */
static void
append_raw (rcn_store_t *s, author_t *a, const uint8_t *body, size_t len, char *reason, size_t rlen)
{
    rcn_entry_t *e = sign_next (a, 0, body, len, T0 + a->seq + 1);
    int res;
    REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
    CHECK_EQ (res, RCN_OK);
    if (rcn_store_invalid_reason (s, e->hash, reason, rlen) != RCN_OK)
        reason[0] = '\0';
    rcn_entry_destroy (&e);
}

static size_t
pack_text (const char *text, size_t tlen, uint8_t *buf)
{
    /* field 2 severity = 1, field 3 text (length-delimited), written by hand so that any
     * bytes can be put in the text. */
    size_t n = 0;
    buf[n++] = 0x10;
    buf[n++] = 0x01;
    buf[n++] = 0x1a;
    buf[n++] = (uint8_t) tlen;
    memcpy (buf + n, text, tlen);
    return n + tlen;
}

/* Text that is not well-formed UTF-8, and bodies that are not the canonical encoding, are
 * invalid — the same verdict on every member, whatever its C library does with them. */
static void
test_malformed_bodies (void)
{
    char *dir;
    rcn_store_t *s = open_store (&dir);
    author_t a;
    author_init (&a, 3);
    char reason[256];
    uint8_t buf[64];
    static const struct { const char *bytes; size_t len; bool ok; } texts[] = {
        { "plain", 5, true },
        { "\xe4\xb8\xad\xe6\x96\x87", 6, true },        /* 中文 */
        { "\xf0\x9f\x98\xb7", 4, true },                  /* U+1F637 */
        { "\xed\xa0\x80", 3, false },                      /* surrogate U+D800 */
        { "\xe0\x80\xaf", 3, false },                      /* overlong '/' */
        { "\xc0\xaf", 2, false },                          /* overlong '/' */
        { "\xf4\x90\x80\x80", 4, false },                  /* above U+10FFFF */
        { "\xc2\x85", 2, false },                          /* C1 control NEL */
        { "\xe4\xb8", 2, false },                          /* truncated */
        { "a\0b", 3, false },                              /* NUL inside text */
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        size_t len = pack_text (texts[i].bytes, texts[i].len, buf);
        append_raw (s, &a, buf, len, reason, sizeof reason);
        if ((reason[0] == '\0') != texts[i].ok)
            fprintf (stderr, "    text case %zu: reason \"%s\"\n", i, reason);
        CHECK ((reason[0] == '\0') == texts[i].ok);
    }
    /* The same alert with an unknown field 15 appended, and with a non-minimal varint. */
    size_t len = pack_text ("ok", 2, buf);
    buf[len++] = 0x78;
    buf[len++] = 0x01;
    append_raw (s, &a, buf, len, reason, sizeof reason);
    CHECK (strstr (reason, "canonical") != NULL);
    const uint8_t overlong[] = { 0x10, 0x81, 0x00, 0x1a, 0x02, 'o', 'k' };
    append_raw (s, &a, overlong, sizeof overlong, reason, sizeof reason);
    CHECK (strstr (reason, "canonical") != NULL);
    json_t *l = list (s, true, T0 + 100);
    CHECK_EQ (json_array_size (l), 3);            /* only the three valid texts */
    json_decref (l);
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);
}

/* Invariant 8 reaches the reasons too: B's forged cancel of A's alert is judged the same
 * whether A's alert arrived before it or after. */
static void
test_invalid_reason_order_independent (void)
{
    author_t a, b;
    author_init (&a, 1);
    author_init (&b, 2);
    Rcn__Alert issue = RCN__ALERT__INIT;
    issue.severity = RCN__ALERT__SEVERITY__SEVERITY_MINOR;
    issue.text = "a's";
    uint8_t ib[64], cb[64];
    size_t ilen = rcn__alert__pack (&issue, ib);
    rcn_entry_t *ea = sign_next (&a, 0, ib, ilen, T0);
    Rcn__Alert cancel = RCN__ALERT__INIT;
    cancel.action = RCN__ALERT__ACTION__ACTION_CANCEL;
    cancel.references.data = ea->hash;
    cancel.references.len = 32;
    size_t clen = rcn__alert__pack (&cancel, cb);
    rcn_entry_t *eb = sign_next (&b, 0, cb, clen, T0 + 1);
    char reasons[2][256];
    for (int order = 0; order < 2; order++) {
        char *dir;
        rcn_store_t *s = open_store (&dir);
        rcn_entry_t *seq[2] = { order ? eb : ea, order ? ea : eb };
        for (int i = 0; i < 2; i++) {
            int res;
            REQUIRE (rcn_store_append (s, &seq[i], 1, &res) == RCN_OK);
            CHECK_EQ (res, RCN_OK);
        }
        CHECK_EQ (rcn_store_invalid_reason (s, eb->hash, reasons[order], 256), RCN_OK);
        json_t *l = list (s, false, T0 + 10);
        CHECK_EQ (json_array_size (l), 1);        /* a's alert stands either way */
        json_decref (l);
        rcn_store_destroy (&s);
        rcn_test_rmtree (dir);
        free (dir);
    }
    CHECK (strcmp (reasons[0], reasons[1]) == 0);
    rcn_entry_destroy (&ea);
    rcn_entry_destroy (&eb);
}

static int
cli (const char *words, json_t **req, char *why)
{
    char buf[512];
    snprintf (buf, sizeof buf, "%s", words);
    char *argv[32];
    int argc = 0;
    for (char *t = strtok (buf, " "); t && argc < 31; t = strtok (NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return rcn_kind_alert.cli (argc, argv, NULL, T0, req, why, 256);
}

static void
test_cli (void)
{
    json_t *req = NULL;
    char why[256];
    CHECK_EQ (cli ("send --severity severe --text hi --regions 320000,330000 --expires +6h", &req, why), RCN_OK);
    const json_t *b = json_object_get (req, "body");
    CHECK (strcmp (json_string_value (json_object_get (req, "op")), "author") == 0);
    CHECK (strcmp (json_string_value (json_object_get (b, "action")), "issue") == 0);
    CHECK_EQ (json_array_size (json_object_get (b, "regions")), 2);
    CHECK_EQ (json_integer_value (json_object_get (b, "expires_ms")), (json_int_t) (T0 + 6 * 3600000ULL));
    json_decref (req);
    CHECK_EQ (cli ("update abcd --text later", &req, why), RCN_OK);
    CHECK (strcmp (json_string_value (json_object_get (json_object_get (req, "body"), "references")), "abcd") == 0);
    json_decref (req);
    CHECK_EQ (cli ("list --all", &req, why), RCN_OK);
    CHECK (json_is_true (json_object_get (json_object_get (req, "query"), "all")));
    json_decref (req);
    CHECK_EQ (cli ("send --text hi", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "--severity") != NULL);
    CHECK_EQ (cli ("send --severity minor --text hi --colour red", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "--colour") != NULL);
    CHECK_EQ (cli ("send --severity minor --text hi --expires tomorrow", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "tomorrow") != NULL);
    CHECK_EQ (cli ("update --text x", &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("list --severity minor", &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("shout", &req, why), RCN_EINVAL);
    CHECK_EQ (cli ("send --severity minor --text hi --expires -1h", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "not in the future") != NULL);
    CHECK_EQ (cli ("cancel abcd --regions 310000", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "only --text") != NULL);
    CHECK_EQ (cli ("send --severity minor --text \xc9\xcf", &req, why), RCN_EINVAL);
    CHECK (strstr (why, "UTF-8") != NULL);
}

/* A store written without the alert view (a kind new to it, or the view's layout renamed)
 * gets the view built from its log at the next writable open; the threads are keyed by the
 * issue's place in its chain, and an update names its thread through the hash index. */
static void
test_view_built_at_open (void)
{
    char *dir = rcn_test_tmpdir ("alert-late");
    rcn_store_opts_t bare = { .is_member = any_member, .kinds = NULL };
    rcn_store_t *s = NULL;
    char why[256];
    REQUIRE (rcn_store_open (dir, &bare, &s, why, sizeof why) == RCN_OK);
    author_t a;
    author_init (&a, 9);
    uint8_t body[256];
    for (int i = 0; i < 3; i++) {
        Rcn__Alert al = RCN__ALERT__INIT;
        char text[32];
        snprintf (text, sizeof text, "late view %d", i);
        al.severity = RCN__ALERT__SEVERITY__SEVERITY_MINOR;
        al.text = text;
        size_t n = rcn__alert__pack (&al, body);
        rcn_entry_t *e = sign_next (&a, RCN_STATUS_ACTUAL, body, n, 1795311000000ULL + (uint64_t) i);
        int res = -1;
        REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
        CHECK_EQ (res, RCN_OK);
        rcn_entry_destroy (&e);
    }
    uint8_t second[32];
    rcn_entry_t *e2 = NULL;
    REQUIRE (rcn_store_get (s, a.pk, 2, &e2) == RCN_OK);
    memcpy (second, rcn_entry_hash (e2), 32);
    rcn_entry_destroy (&e2);
    rcn_store_destroy (&s);

    rcn_store_opts_t o = { .is_member = any_member, .kinds = s_kinds };
    REQUIRE (rcn_store_open (dir, &o, &s, why, sizeof why) == RCN_OK);
    json_t *l = list (s, true, 1795311000000ULL + 10);
    CHECK_EQ (json_array_size (l), 3);
    json_decref (l);
    /* An update of the second alert finds its thread; a reference to no alert does not. */
    char req[256], hex[65];
    snprintf (req, sizeof req, "{\"action\":\"update\",\"references\":\"%s\",\"text\":\"x\"}",
              rcn_hex (second, 32, hex));
    uint8_t h[32];
    char w[512];
    CHECK_EQ (submit (s, &a, RCN_STATUS_ACTUAL, req, 1795311000000ULL + 20, h, w), RCN_OK);
    l = list (s, true, 1795311000000ULL + 30);
    bool updated = false;
    for (size_t i = 0; i < json_array_size (l); i++)
        updated = updated || (strcmp (field (l, i, "hash"), hex) == 0
                              && json_integer_value (json_object_get (json_array_get (l, i),
                                                                      "updates")) == 1);
    CHECK (updated);
    json_decref (l);
    memset (second, 0x5a, 32);
    snprintf (req, sizeof req, "{\"action\":\"cancel\",\"references\":\"%s\"}",
              rcn_hex (second, 32, hex));
    CHECK_EQ (submit (s, &a, RCN_STATUS_ACTUAL, req, 1795311000000ULL + 40, NULL, w), RCN_EINVAL);
    CHECK (strstr (w, "does not hold") != NULL);
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    RUN (test_issue_update_cancel);
    RUN (test_author_refusals);
    RUN (test_bad_steps_stored_not_applied);
    RUN (test_view_order_independent);
    RUN (test_malformed_bodies);
    RUN (test_invalid_reason_order_independent);
    RUN (test_cli);
    RUN (test_view_built_at_open);
    return rcn_test_done ();
}
