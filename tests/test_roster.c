/* test_roster.c — the roster: build → parse round trip, the hash of the exact bytes, and
 * refusal of every malformed field with a message naming the member and the field. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "rcn/codec.h"
#include "rcn/roster.h"
#include "testutil.h"

#define N_CARDS 3
static const uint32_t regions[N_CARDS] = { 330000, 310000, 320000 };   /* not sorted */
static const char *const names[N_CARDS] = { "Zhejiang", "上海", "Jiangsu" };
static uint8_t sign_pk[N_CARDS][32], curve_pk[N_CARDS][32];
static json_t *cards[N_CARDS];
static char *base_text;                      /* built from cards with the default policy */

static json_t *
make_card (int i)
{
    uint8_t seed[32], sk[64], csk[32];
    memset (seed, 0x40 + i, sizeof seed);
    crypto_sign_seed_keypair (sign_pk[i], sk, seed);
    memset (seed, 0x60 + i, sizeof seed);
    crypto_box_seed_keypair (curve_pk[i], csk, seed);
    rcn_member_t m;
    memset (&m, 0, sizeof m);
    m.region = regions[i];
    snprintf (m.name, sizeof m.name, "%s", names[i]);
    memcpy (m.sign_key, sign_pk[i], 32);
    memcpy (m.curve_key, curve_pk[i], 32);
    snprintf (m.pub, sizeof m.pub, "tcp://node%d.example.cn:%d", i, 7000 + 2 * i);
    snprintf (m.sync, sizeof m.sync, "tcp://node%d.example.cn:%d", i, 7001 + 2 * i);
    return rcn_member_to_json (&m);
}

static void
setup (void)
{
    REQUIRE (sodium_init () >= 0);
    for (int i = 0; i < N_CARDS; i++)
        REQUIRE ((cards[i] = make_card (i)) != NULL);
    rcn_policy_t p;
    rcn_policy_default (&p);
    char why[512] = "";
    int rc = rcn_roster_build ((const json_t *const *) cards, N_CARDS, &p, &base_text,
                               why, sizeof why);
    if (rc != RCN_OK)
        fprintf (stderr, "    why: %s\n", why);
    REQUIRE (rc == RCN_OK);
}

static int
index_of (uint32_t region)
{
    for (int i = 0; i < N_CARDS; i++)
        if (regions[i] == region)
            return i;
    return -1;
}

static void
test_card_order (void)
{
    const char *want[] = { "region", "name", "sign_key", "curve_key", "pub", "sync" };
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach (cards[1], key, v) {
        REQUIRE (k < 6);
        CHECK (strcmp (key, want[k]) == 0);
        k++;
    }
    CHECK_EQ (k, 6);
    CHECK (json_is_string (json_object_get (cards[1], "region")));
    CHECK (strcmp (json_string_value (json_object_get (cards[1], "region")), "310000") == 0);
    char hex[65];
    CHECK (strcmp (json_string_value (json_object_get (cards[1], "sign_key")),
                   rcn_hex (sign_pk[1], 32, hex)) == 0);

    rcn_member_t m;
    char why[256];
    CHECK_EQ (rcn_member_from_json (cards[1], &m, why, sizeof why), RCN_OK);
    CHECK_EQ (m.region, 310000);
    CHECK (strcmp (m.name, "上海") == 0);
    CHECK (memcmp (m.sign_key, sign_pk[1], 32) == 0);
    CHECK (memcmp (m.curve_key, curve_pk[1], 32) == 0);

    json_t *bad = json_deep_copy (cards[1]);
    json_object_set_new (bad, "sign_key", json_string ("00"));
    CHECK_EQ (rcn_member_from_json (bad, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "310000") && strstr (why, "sign_key"));
    json_decref (bad);
    bad = json_array ();
    CHECK_EQ (rcn_member_from_json (bad, &m, why, sizeof why), RCN_EINVAL);
    json_decref (bad);
}

static void
test_round_trip (void)
{
    size_t len = strlen (base_text);
    REQUIRE (len > 2);
    CHECK (base_text[len - 1] == '\n' && base_text[len - 2] != '\n');
    CHECK (strncmp (base_text, "{\n  \"rcn_roster\": 1,\n  \"policy\": {\n    \"rounds\": [", 48) == 0);
    CHECK (strstr (base_text, "上海") != NULL);         /* UTF-8 kept, not escaped */

    rcn_roster_t *r = NULL;
    char why[512] = "";
    int rc = rcn_roster_parse ((const uint8_t *) base_text, len, &r, why, sizeof why);
    if (rc)
        fprintf (stderr, "    why: %s\n", why);
    REQUIRE (rc == RCN_OK && r);
    CHECK_EQ (rcn_roster_count (r), N_CARDS);
    uint32_t prev = 0;
    for (size_t i = 0; i < rcn_roster_count (r); i++) {
        const rcn_member_t *m = rcn_roster_member (r, i);
        CHECK (m->region > prev);           /* sorted by region */
        prev = m->region;
        int k = index_of (m->region);
        REQUIRE (k >= 0);
        CHECK (strcmp (m->name, names[k]) == 0);
        CHECK (memcmp (m->sign_key, sign_pk[k], 32) == 0);
        CHECK (memcmp (m->curve_key, curve_pk[k], 32) == 0);
        char ep[64];
        snprintf (ep, sizeof ep, "tcp://node%d.example.cn:%d", k, 7000 + 2 * k);
        CHECK (strcmp (m->pub, ep) == 0);
        snprintf (ep, sizeof ep, "tcp://node%d.example.cn:%d", k, 7001 + 2 * k);
        CHECK (strcmp (m->sync, ep) == 0);
        CHECK (rcn_roster_by_region (r, m->region) == m);
        CHECK (rcn_roster_by_origin (r, m->sign_key) == m);
        CHECK (rcn_roster_is_member (m->sign_key, r));
    }
    CHECK (rcn_roster_member (r, N_CARDS) == NULL);
    CHECK (rcn_roster_by_region (r, 440000) == NULL);
    uint8_t stranger[32] = { 9 };
    CHECK (rcn_roster_by_origin (r, stranger) == NULL);
    CHECK (!rcn_roster_is_member (stranger, r));

    rcn_policy_t def;
    rcn_policy_default (&def);
    const rcn_policy_t *p = rcn_roster_policy (r);
    CHECK_EQ (p->n_rounds, 3);
    CHECK_EQ (p->rounds[0], 600);
    CHECK_EQ (p->rounds[1], 900);
    CHECK_EQ (p->rounds[2], 1020);
    CHECK (strcmp (p->timezone, "Asia/Shanghai") == 0);
    CHECK_EQ (p->grace_s, 600);
    CHECK_EQ (p->response_sla_s, 3600);
    CHECK_EQ (p->retention_days, 180);
    CHECK_EQ (p->seal_period_days, 30);

    /* Rebuilding from the parsed members (in another order) gives the same bytes. */
    json_t *again[N_CARDS];
    for (size_t i = 0; i < N_CARDS; i++)
        again[i] = rcn_member_to_json (rcn_roster_member (r, N_CARDS - 1 - i));
    char *text2 = NULL;
    CHECK_EQ (rcn_roster_build ((const json_t *const *) again, N_CARDS, p, &text2,
                                why, sizeof why), RCN_OK);
    CHECK (text2 && strcmp (text2, base_text) == 0);
    free (text2);
    for (size_t i = 0; i < N_CARDS; i++)
        json_decref (again[i]);
    rcn_roster_destroy (&r);
    CHECK (r == NULL);
    rcn_roster_destroy (&r);               /* twice is fine */
    rcn_roster_destroy (NULL);

    /* A non-default policy survives the trip. */
    rcn_policy_t q;
    rcn_policy_default (&q);
    CHECK_EQ (rcn_policy_parse_rounds ("08:30,12:00, 20:45", &q, why, sizeof why), RCN_OK);
    snprintf (q.timezone, sizeof q.timezone, "Asia/Hong_Kong");
    q.grace_s = 0;
    q.response_sla_s = 7 * 86400;
    q.retention_days = 3650;
    q.seal_period_days = 366;
    CHECK_EQ (rcn_roster_build ((const json_t *const *) cards, N_CARDS, &q, &text2,
                                why, sizeof why), RCN_OK);
    REQUIRE (text2);
    CHECK_EQ (rcn_roster_parse ((const uint8_t *) text2, strlen (text2), &r, why, sizeof why),
              RCN_OK);
    REQUIRE (r);
    p = rcn_roster_policy (r);
    CHECK_EQ (p->n_rounds, 3);
    CHECK_EQ (p->rounds[0], 8 * 60 + 30);
    CHECK_EQ (p->rounds[2], 20 * 60 + 45);
    CHECK (strcmp (p->timezone, "Asia/Hong_Kong") == 0);
    CHECK_EQ (p->grace_s, 0);
    CHECK_EQ (p->response_sla_s, 7 * 86400);
    CHECK_EQ (p->retention_days, 3650);
    CHECK_EQ (p->seal_period_days, 366);
    rcn_roster_destroy (&r);
    free (text2);
}

/* A hand-edited roster need not list members in order; the parsed view is sorted anyway. */
static void
test_unsorted_file (void)
{
    json_t *root = json_loads (base_text, 0, NULL);
    REQUIRE (root);
    json_t *members = json_array ();
    for (int i = 0; i < N_CARDS; i++)
        json_array_append (members, cards[i]);     /* 330000, 310000, 320000 */
    json_object_set_new (root, "members", members);
    char *text = json_dumps (root, JSON_INDENT (4));
    REQUIRE (text);
    rcn_roster_t *r = NULL;
    char why[512];
    REQUIRE (rcn_roster_parse ((const uint8_t *) text, strlen (text), &r, why, sizeof why)
             == RCN_OK);
    CHECK_EQ (rcn_roster_member (r, 0)->region, 310000);
    CHECK_EQ (rcn_roster_member (r, 1)->region, 320000);
    CHECK_EQ (rcn_roster_member (r, 2)->region, 330000);
    for (int i = 0; i < N_CARDS; i++) {
        const rcn_member_t *m = rcn_roster_by_region (r, regions[i]);
        CHECK (m && memcmp (m->sign_key, sign_pk[i], 32) == 0);
    }
    rcn_roster_destroy (&r);
    free (text);
    json_decref (root);
}

static void
test_hash (void)
{
    size_t len = strlen (base_text);
    rcn_roster_t *r = NULL;
    char why[512];
    REQUIRE (rcn_roster_parse ((const uint8_t *) base_text, len, &r, why, sizeof why) == RCN_OK);
    uint8_t want[32];
    crypto_generichash (want, 32, (const uint8_t *) base_text, len, NULL, 0);
    CHECK (memcmp (rcn_roster_hash (r), want, 32) == 0);

    /* One more byte of whitespace: same members, different roster. */
    char *ws = malloc (len + 2);
    REQUIRE (ws);
    memcpy (ws, base_text, len);
    ws[len] = '\n';
    rcn_roster_t *r2 = NULL;
    CHECK_EQ (rcn_roster_parse ((const uint8_t *) ws, len + 1, &r2, why, sizeof why), RCN_OK);
    REQUIRE (r2);
    CHECK_EQ (rcn_roster_count (r2), N_CARDS);
    CHECK (memcmp (rcn_roster_hash (r), rcn_roster_hash (r2), 32) != 0);
    crypto_generichash (want, 32, (const uint8_t *) ws, len + 1, NULL, 0);
    CHECK (memcmp (rcn_roster_hash (r2), want, 32) == 0);
    rcn_roster_destroy (&r2);

    /* One changed byte inside a value. */
    memcpy (ws, base_text, len);
    char *g = strstr (ws, "\"grace_s\": 600");
    REQUIRE (g);
    g[strlen ("\"grace_s\": 60")] = '1';
    CHECK_EQ (rcn_roster_parse ((const uint8_t *) ws, len, &r2, why, sizeof why), RCN_OK);
    REQUIRE (r2);
    CHECK_EQ (rcn_roster_policy (r2)->grace_s, 601);
    CHECK (memcmp (rcn_roster_hash (r), rcn_roster_hash (r2), 32) != 0);
    rcn_roster_destroy (&r2);

    /* An indentation space swapped for a tab. */
    memcpy (ws, base_text, len);
    ws[2] = '\t';
    CHECK_EQ (rcn_roster_parse ((const uint8_t *) ws, len, &r2, why, sizeof why), RCN_OK);
    REQUIRE (r2);
    CHECK (memcmp (rcn_roster_hash (r), rcn_roster_hash (r2), 32) != 0);
    rcn_roster_destroy (&r2);
    free (ws);
    rcn_roster_destroy (&r);
}

/* ---- refusals ---------------------------------------------------------------------------- */

/* Parses base_text with one change applied: in member i (file order, i.e. sorted: 0 = 310000,
 * 1 = 320000, 2 = 330000), in the policy (i == -1), or at the top (i == -2). value NULL
 * deletes the field; the reference to value is taken. */
static int
parse_with (int i, const char *field, json_t *value, char *why, size_t whylen)
{
    json_t *root = json_loads (base_text, 0, NULL);
    REQUIRE (root);
    json_t *obj = i >= 0 ? json_array_get (json_object_get (root, "members"), (size_t) i)
                : i == -1 ? json_object_get (root, "policy") : root;
    REQUIRE (obj);
    if (value)
        json_object_set_new (obj, field, value);
    else
        json_object_del (obj, field);
    char *text = json_dumps (root, JSON_INDENT (2));
    REQUIRE (text);
    rcn_roster_t *r = NULL;
    why[0] = '\0';
    int rc = rcn_roster_parse ((const uint8_t *) text, strlen (text), &r, why, whylen);
    if (rc == RCN_OK)
        REQUIRE (r != NULL);
    else
        REQUIRE (r == NULL);
    rcn_roster_destroy (&r);
    free (text);
    json_decref (root);
    return rc;
}

static void
expect (int line, int rc, const char *why, const char *a, const char *b)
{
    bool ok = rc == RCN_EROSTER && strstr (why, a) && (!b || strstr (why, b));
    if (ok)
        rcn_test_passed++;
    else {
        rcn_test_fail (__FILE__, line, "refused, naming the member and field");
        fprintf (stderr, "    rc %d, why \"%s\", wanted \"%s\"%s%s\n", rc, why, a,
                 b ? " and " : "", b ? b : "");
    }
}
#define BAD_MEMBER(i, field, value, want) do { char w_[512]; \
    int rc_ = parse_with (i, field, value, w_, sizeof w_); \
    expect (__LINE__, rc_, w_, i == 1 ? "members[1] (320000): " : "members[", want); } while (0)
#define BAD_NOREGION(field, value, want) do { char w_[512]; \
    int rc_ = parse_with (1, field, value, w_, sizeof w_); \
    expect (__LINE__, rc_, w_, "members[1]: ", want); } while (0)
#define BAD_POLICY(field, value, want) do { char w_[512]; \
    int rc_ = parse_with (-1, field, value, w_, sizeof w_); \
    expect (__LINE__, rc_, w_, "policy: ", want); } while (0)
#define BAD_TOP(field, value, want) do { char w_[512]; \
    int rc_ = parse_with (-2, field, value, w_, sizeof w_); \
    expect (__LINE__, rc_, w_, want, NULL); } while (0)
#define GOOD(i, field, value) do { char w_[512]; \
    int rc_ = parse_with (i, field, value, w_, sizeof w_); \
    if (rc_) fprintf (stderr, "    why: %s\n", w_); \
    CHECK_EQ (rc_, RCN_OK); } while (0)

static void
test_bad_members (void)
{
    char hex[65], z85[41];
    GOOD (1, "name", json_string ("江苏省卫健委"));
    BAD_NOREGION ("region", json_string ("99000"), "region: region \"99000\": must be six digits");
    BAD_NOREGION ("region", json_string ("990000"), "99 is not a GB/T 2260 province prefix");
    BAD_NOREGION ("region", json_integer (320000), "region: must be a string");
    BAD_NOREGION ("region", NULL, "region: missing");
    BAD_MEMBER (1, "name", json_string (""), "name: must be 1..64 bytes");
    BAD_MEMBER (1, "name", json_string ("Jiang\x01su"), "name: must be UTF-8 text without control");
    BAD_MEMBER (1, "name", json_string ("Jiang\x7fsu"), "name:");
    BAD_MEMBER (1, "name", json_string ("Jiang\xc2\x85su"), "name:");    /* U+0085, C1 */
    BAD_MEMBER (1, "name", json_string ("Jiangsu\n"), "name:");
    BAD_MEMBER (1, "name", json_string ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                "name: must be 1..64 bytes");
    GOOD (1, "name", json_string ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    /* jansson itself refuses \u0000 in the text; member_from_json sees such strings. */
    BAD_TOP ("x", json_stringn ("a\0b", 3), "not JSON");
    json_t *nul = json_deep_copy (cards[1]);
    json_object_set_new (nul, "name", json_stringn ("Jiang\0su", 8));
    rcn_member_t m;
    char w[256];
    CHECK_EQ (rcn_member_from_json (nul, &m, w, sizeof w), RCN_EINVAL);
    CHECK (strstr (w, "name: contains a NUL") != NULL);
    json_decref (nul);
    BAD_MEMBER (1, "name", json_integer (1), "name: must be a string");
    BAD_MEMBER (1, "name", NULL, "name: missing");

    rcn_hex (sign_pk[2], 32, hex);
    for (char *c = hex; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char) (*c - 'a' + 'A');
    GOOD (1, "sign_key", json_string (hex));     /* upper-case hex is fine */
    hex[63] = '\0';
    BAD_MEMBER (1, "sign_key", json_string (hex), "sign_key: must be 64 hex digits");
    hex[62] = 'g';
    strcat (hex, "0");
    BAD_MEMBER (1, "sign_key", json_string (hex), "sign_key: must be 64 hex digits");
    BAD_MEMBER (1, "sign_key", json_string (
        "0000000000000000000000000000000000000000000000000000000000000000"),
        "sign_key: not a valid Ed25519 public key");
    BAD_MEMBER (1, "sign_key", json_string (          /* the identity: small order */
        "0100000000000000000000000000000000000000000000000000000000000000"),
        "sign_key: not a valid Ed25519 public key");
    BAD_MEMBER (1, "sign_key", json_string (          /* y = 2 is not on the curve */
        "0200000000000000000000000000000000000000000000000000000000000000"),
        "sign_key: not a valid Ed25519 public key");
    BAD_MEMBER (1, "sign_key", NULL, "sign_key: missing");

    rcn_z85_key (curve_pk[1], z85);
    z85[39] = '\0';
    BAD_MEMBER (1, "curve_key", json_string (z85), "curve_key: must be 40 Z85 characters");
    z85[39] = '~';
    BAD_MEMBER (1, "curve_key", json_string (z85), "curve_key: must be 40 Z85 characters");
    uint8_t zero[32] = { 0 };
    rcn_z85_key (zero, z85);
    BAD_MEMBER (1, "curve_key", json_string (z85), "curve_key: all zero");
    rcn_hex (curve_pk[1], 32, hex);
    BAD_MEMBER (1, "curve_key", json_string (hex), "curve_key:");

    static const char *const bad_ep[] = {
        "udp://a.example:7000", "tcp://a.example", "tcp://:7000", "tcp://a.example:0",
        "tcp://a.example:65536", "tcp://a.example:70a", "tcp://*:7000", "tcp://a b:7000",
        "tcp://a.example:", "tcp://[::1:7000", "tcp://a.example:+700", "tcp://a.example:123456",
        "TCP://a.example:7000", "ipc:///tmp/x",
    };
    for (size_t k = 0; k < sizeof bad_ep / sizeof bad_ep[0]; k++) {
        BAD_MEMBER (1, "pub", json_string (bad_ep[k]), "pub: ");
        BAD_MEMBER (1, "sync", json_string (bad_ep[k]), "sync: ");
    }
    char longep[200];
    snprintf (longep, sizeof longep, "tcp://%0120d.example:7000", 0);
    BAD_MEMBER (1, "pub", json_string (longep), "pub: longer than 128");
    GOOD (1, "pub", json_string ("tcp://[::1]:7000"));
    GOOD (1, "pub", json_string ("tcp://10.0.0.2:65535"));
    GOOD (1, "pub", json_string ("tcp://10.0.0.2:1"));
    BAD_MEMBER (1, "sync", json_string ("tcp://node2.example.cn:7004"), "sync: same endpoint as pub");
    BAD_MEMBER (1, "pub", NULL, "pub: missing");
    BAD_MEMBER (1, "sync", NULL, "sync: missing");

    BAD_MEMBER (1, "sgn_key", json_string ("x"), "unknown field \"sgn_key\"");
    BAD_MEMBER (1, "comment", json_string ("x"), "unknown field \"comment\"");

    /* Clashes with another member name both. */
    BAD_MEMBER (2, "region", json_string ("310000"), "region: same as members[0] (310000)");
    rcn_hex (sign_pk[1], 32, hex);     /* 310000's key, in member 1 (320000) */
    BAD_MEMBER (1, "sign_key", json_string (hex), "sign_key: same as members[0] (310000)");
    rcn_z85_key (curve_pk[1], z85);    /* 310000's, member 0 */
    BAD_MEMBER (1, "curve_key", json_string (z85), "curve_key: same as members[0] (310000)");
    BAD_MEMBER (1, "pub", json_string ("tcp://node1.example.cn:7003"), "pub: same as members[0]");
    BAD_MEMBER (2, "sync", json_string ("tcp://node2.example.cn:7004"),
                "members[2] (330000): sync: same as members[1] (320000)");
}

static void
test_bad_policy (void)
{
    json_t *r;
    GOOD (-1, "rounds", json_array ());
    r = json_pack ("[ss]", "15:00", "10:00");
    BAD_POLICY ("rounds", r, "rounds: \"10:00\" must come after 15:00");
    r = json_pack ("[ss]", "10:00", "10:00");
    BAD_POLICY ("rounds", r, "rounds:");
    BAD_POLICY ("rounds", json_pack ("[s]", "24:00"), "rounds: \"24:00\" is not HH:MM");
    BAD_POLICY ("rounds", json_pack ("[s]", "9:00"), "rounds:");
    BAD_POLICY ("rounds", json_pack ("[s]", "10:60"), "rounds:");
    BAD_POLICY ("rounds", json_pack ("[i]", 600), "rounds[0]: must be a string");
    BAD_POLICY ("rounds", json_string ("10:00"), "rounds: must be an array");
    json_t *many = json_array ();
    for (int i = 0; i < RCN_MAX_ROUNDS + 1; i++) {
        char hm[8];
        snprintf (hm, sizeof hm, "%02d:00", i % 24);
        json_array_append_new (many, json_string (i < 24 ? hm : "23:59"));
    }
    BAD_POLICY ("rounds", many, "rounds: more than 24");
    GOOD (-1, "timezone", json_string ("America/Argentina/Buenos_Aires"));
    GOOD (-1, "timezone", json_string ("Etc/GMT+8"));
    GOOD (-1, "timezone", json_string ("UTC"));
    BAD_POLICY ("timezone", json_string ("Mars/Olympus_Mons"), "timezone \"Mars/Olympus_Mons\": unknown");
    BAD_POLICY ("timezone", json_string ("../../etc/passwd"), "timezone");
    BAD_POLICY ("timezone", json_string ("/etc/passwd"), "timezone");
    BAD_POLICY ("timezone", json_string ("Asia/Shang hai"), "timezone");
    BAD_POLICY ("timezone", json_string ("Asia"), "timezone \"Asia\": unknown");   /* a dir */
    BAD_POLICY ("timezone", json_string (""), "timezone");
    BAD_POLICY ("timezone", json_integer (8), "timezone");
    GOOD (-1, "grace_s", json_integer (0));
    GOOD (-1, "grace_s", json_integer (86400));
    BAD_POLICY ("grace_s", json_integer (-1), "grace_s: -1 is out of range 0..86400");
    BAD_POLICY ("grace_s", json_integer (86401), "grace_s:");
    BAD_POLICY ("grace_s", json_string ("600"), "grace_s: must be an integer");
    BAD_POLICY ("grace_s", json_real (600.0), "grace_s: must be an integer");
    BAD_POLICY ("response_sla_s", json_integer (59), "response_sla_s:");
    BAD_POLICY ("response_sla_s", json_integer (7 * 86400 + 1), "response_sla_s:");
    GOOD (-1, "response_sla_s", json_integer (60));
    BAD_POLICY ("retention_days", json_integer (0), "retention_days:");
    BAD_POLICY ("retention_days", json_integer (3651), "retention_days:");
    BAD_POLICY ("seal_period_days", json_integer (0), "seal_period_days:");
    BAD_POLICY ("seal_period_days", json_integer (367), "seal_period_days:");
    BAD_POLICY ("grace", json_integer (5), "unknown field \"grace\"");

    /* Missing fields take the defaults; a missing policy too. */
    char why[512];
    CHECK_EQ (parse_with (-1, "grace_s", NULL, why, sizeof why), RCN_OK);
    CHECK_EQ (parse_with (-2, "policy", NULL, why, sizeof why), RCN_OK);
    BAD_TOP ("policy", json_array (), "policy: must be an object");
}

static void
test_bad_top (void)
{
    BAD_TOP ("polcy", json_object (), "roster: unknown field \"polcy\"");
    BAD_TOP ("rcn_roster", json_integer (2), "rcn_roster: version 2 is not supported");
    BAD_TOP ("rcn_roster", json_string ("1"), "rcn_roster: missing or not an integer");
    BAD_TOP ("rcn_roster", NULL, "rcn_roster: missing");
    BAD_TOP ("members", json_array (), "members: must list at least one member");
    BAD_TOP ("members", NULL, "members: missing");
    BAD_TOP ("members", json_object (), "members: missing or not an array");
    json_t *one = json_array ();
    json_array_append_new (one, json_string ("310000"));
    BAD_TOP ("members", one, "members[0]: must be an object");

    /* More than RCN_MAX_MEMBERS. */
    json_t *many = json_array ();
    for (int i = 0; i < RCN_MAX_MEMBERS + 1; i++)
        json_array_append (many, cards[0]);
    BAD_TOP ("members", many, "at most 64");

    char why[512];
    rcn_roster_t *r = NULL;
    static const char *const junk[] = {
        "", "[]", "{", "not json", "{\"rcn_roster\":1} x", "\"rcn_roster\"",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        CHECK_EQ (rcn_roster_parse ((const uint8_t *) junk[i], strlen (junk[i]), &r,
                                    why, sizeof why), RCN_EROSTER);
        CHECK (r == NULL);
    }
    /* A key given twice is refused, not resolved silently to one of them. */
    size_t len = strlen (base_text);
    char *dup = malloc (len + 64);
    REQUIRE (dup);
    snprintf (dup, len + 64, "{\n  \"rcn_roster\": 1,%s", base_text + 1);
    CHECK_EQ (rcn_roster_parse ((const uint8_t *) dup, strlen (dup), &r, why, sizeof why),
              RCN_EROSTER);
    CHECK (strstr (why, "duplicate") != NULL);
    free (dup);
}

static void
test_build_refuses (void)
{
    rcn_policy_t p;
    rcn_policy_default (&p);
    char *text = (char *) 1;
    char why[512];
    json_t *twice[2] = { cards[0], cards[0] };
    CHECK_EQ (rcn_roster_build ((const json_t *const *) twice, 2, &p, &text, why, sizeof why),
              RCN_EINVAL);
    CHECK (text == NULL);
    CHECK (strstr (why, "cards[1] (330000): region: same as cards[0] (330000)") != NULL);

    json_t *same_key = json_deep_copy (cards[1]);
    json_object_set_new (same_key, "region", json_string ("440400"));
    json_object_set_new (same_key, "pub", json_string ("tcp://other:1"));
    json_object_set_new (same_key, "sync", json_string ("tcp://other:2"));
    json_t *two[2] = { cards[1], same_key };
    CHECK_EQ (rcn_roster_build ((const json_t *const *) two, 2, &p, &text, why, sizeof why),
              RCN_EINVAL);
    CHECK (strstr (why, "cards[1] (440400): sign_key: same as cards[0]") != NULL);
    json_decref (same_key);

    CHECK_EQ (rcn_roster_build (NULL, 0, &p, &text, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "at least one") != NULL);

    json_t *bad = json_deep_copy (cards[1]);
    json_object_set_new (bad, "curve_key", json_string ("short"));
    json_t *withbad[2] = { cards[0], bad };
    CHECK_EQ (rcn_roster_build ((const json_t *const *) withbad, 2, &p, &text, why, sizeof why),
              RCN_EINVAL);
    CHECK (strstr (why, "cards[1] (310000): curve_key") != NULL);
    json_decref (bad);

    p.grace_s = 86401;
    CHECK_EQ (rcn_roster_build ((const json_t *const *) cards, N_CARDS, &p, &text,
                                why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "policy: grace_s") != NULL);
    rcn_policy_default (&p);
    snprintf (p.timezone, sizeof p.timezone, "Nowhere/Atlantis");
    CHECK_EQ (rcn_roster_build ((const json_t *const *) cards, N_CARDS, &p, &text,
                                why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "timezone") != NULL);
    CHECK (text == NULL);
}

static void
test_rounds_text (void)
{
    rcn_policy_t p;
    char why[256];
    rcn_policy_default (&p);
    CHECK_EQ (rcn_policy_parse_rounds ("10:00,15:00,17:00", &p, why, sizeof why), RCN_OK);
    CHECK_EQ (p.n_rounds, 3);
    CHECK_EQ (p.rounds[1], 900);
    CHECK_EQ (rcn_policy_parse_rounds ("00:00,23:59", &p, why, sizeof why), RCN_OK);
    CHECK_EQ (p.n_rounds, 2);
    CHECK_EQ (p.rounds[1], 23 * 60 + 59);
    static const char *const bad[] = {
        "15:00,10:00", "10:00,10:00", "24:00", "10:0", "10:00,", ",10:00", "10-00", "1000",
        "10:00;15:00", "ab:cd", "10:00,,15:00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ (rcn_policy_parse_rounds (bad[i], &p, why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, "rounds") != NULL);
        CHECK_EQ (p.n_rounds, 2);            /* unchanged on failure */
    }
    CHECK_EQ (rcn_policy_parse_rounds ("", &p, why, sizeof why), RCN_OK);
    CHECK_EQ (p.n_rounds, 0);
}

static void
test_load (void)
{
    char *dir = rcn_test_tmpdir ("roster");
    char path[512], why[1024];
    snprintf (path, sizeof path, "%s/roster.json", dir);
    rcn_roster_t *r = NULL;
    CHECK_EQ (rcn_roster_load (path, &r, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, path) != NULL);

    FILE *f = fopen (path, "w");
    REQUIRE (f);
    fputs (base_text, f);
    fclose (f);
    CHECK_EQ (rcn_roster_load (path, &r, why, sizeof why), RCN_OK);
    REQUIRE (r);
    uint8_t want[32];
    crypto_generichash (want, 32, (const uint8_t *) base_text, strlen (base_text), NULL, 0);
    CHECK (memcmp (rcn_roster_hash (r), want, 32) == 0);
    rcn_roster_destroy (&r);

    f = fopen (path, "w");
    REQUIRE (f);
    fputs ("{\"rcn_roster\": 1, \"members\": []}\n", f);
    fclose (f);
    CHECK_EQ (rcn_roster_load (path, &r, why, sizeof why), RCN_EROSTER);
    CHECK (strstr (why, path) && strstr (why, "members"));
    CHECK (r == NULL);
    CHECK_EQ (rcn_roster_load (dir, &r, why, sizeof why), RCN_EIO);    /* a directory */
    rcn_test_rmtree (dir);
    free (dir);
}

int
main (void)
{
    setup ();
    RUN (test_card_order);
    RUN (test_round_trip);
    RUN (test_unsorted_file);
    RUN (test_hash);
    RUN (test_bad_members);
    RUN (test_bad_policy);
    RUN (test_bad_top);
    RUN (test_build_refuses);
    RUN (test_rounds_text);
    RUN (test_load);
    for (int i = 0; i < N_CARDS; i++)
        json_decref (cards[i]);
    free (base_text);
    return rcn_test_done ();
}
