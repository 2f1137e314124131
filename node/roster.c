/* roster.c — the alliance roster (DESIGN.md §2).
 *
 * The one design decision: the roster is identified by the hash of its exact bytes, never of
 * a re-encoding, so parse keeps the bytes and hashes them as they are; the parsed members are
 * only a view of them. Validation is strict and total — an unknown field, a duplicate key, a
 * key that is not a point — is refused with a message naming the member and the field, since
 * a typo in one member's copy would otherwise split the alliance silently. rcn_roster_build is
 * the one writer of canonical text, and it checks its own output by parsing it back. */
#include "rcn/roster.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sodium.h>

#include "rcn/codec.h"
#include "rcn/fileio.h"
#include "rcn/region.h"
#include "rcn/schedule.h"

#define ROSTER_MAX_BYTES (1024 * 1024)
#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define WHY_MAX 512

struct rcn_roster {
    uint8_t *bytes;                          /* the exact file bytes */
    size_t len;
    uint8_t hash[crypto_generichash_BYTES];
    rcn_policy_t policy;
    size_t n;
    rcn_member_t members[RCN_MAX_MEMBERS];   /* sorted by region */
};

static const char *const member_fields[] = {
    "region", "name", "sign_key", "curve_key", "pub", "sync", NULL
};
static const char *const policy_fields[] = {
    "rounds", "timezone", "grace_s", "response_sla_s", "retention_days", "seal_period_days", NULL
};
static const char *const top_fields[] = { "rcn_roster", "policy", "members", NULL };

static bool
in_list (const char *key, const char *const *list)
{
    for (; *list; list++)
        if (strcmp (key, *list) == 0)
            return true;
    return false;
}

void
rcn_policy_default (rcn_policy_t *p)
{
    assert (p);
    memset (p, 0, sizeof *p);
    p->rounds[0] = 10 * 60;
    p->rounds[1] = 15 * 60;
    p->rounds[2] = 17 * 60;
    p->n_rounds = 3;
    snprintf (p->timezone, sizeof p->timezone, "%s", "Asia/Shanghai");
    p->grace_s = 600;
    p->response_sla_s = 3600;
    p->retention_days = 180;
    p->seal_period_days = 30;
}

/* ---- field checks ------------------------------------------------------------------------ */

int
rcn_name_check (const char *s, char *why, size_t whylen)
{
    assert (s);
    size_t len = strlen (s);
    if (len < 1 || len > RCN_NAME_MAX) {
        rcn_errf (why, whylen, "must be 1..%d bytes", RCN_NAME_MAX);
        return RCN_EINVAL;
    }
    if (!rcn_utf8_text_ok (s, len, false)) {
        rcn_errf (why, whylen, "must be UTF-8 text without control characters");
        return RCN_EINVAL;
    }
    return RCN_OK;
}

/* "tcp://HOST:PORT" where HOST is a name or IPv4 address (letters, digits, '.', '-', '_') or a
 * bracketed IPv6 address, and PORT is 1..65535. A wildcard host is refused: peers connect to
 * these endpoints. */
int
rcn_endpoint_check (const char *s, char *why, size_t whylen)
{
    assert (s);
    size_t len = strlen (s);
    if (len > RCN_ENDPOINT_MAX) {
        rcn_errf (why, whylen, "longer than %d characters", RCN_ENDPOINT_MAX);
        return RCN_EINVAL;
    }
    if (strncmp (s, "tcp://", 6) != 0) {
        rcn_errf (why, whylen, "\"%s\": must be tcp://HOST:PORT", s);
        return RCN_EINVAL;
    }
    const char *host = s + 6;
    const char *colon = strrchr (host, ':');
    if (!colon) {
        rcn_errf (why, whylen, "\"%s\": must be tcp://HOST:PORT (no port)", s);
        return RCN_EINVAL;
    }
    size_t hlen = (size_t) (colon - host);
    if (hlen == 0) {
        rcn_errf (why, whylen, "\"%s\": empty host", s);
        return RCN_EINVAL;
    }
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']') {
            rcn_errf (why, whylen, "\"%s\": unterminated [IPv6] host", s);
            return RCN_EINVAL;
        }
        for (size_t i = 1; i + 1 < hlen; i++)
            if (!strchr ("0123456789abcdefABCDEF:.", host[i])) {
                rcn_errf (why, whylen, "\"%s\": bad character in IPv6 host", s);
                return RCN_EINVAL;
            }
    }
    else {
        for (size_t i = 0; i < hlen; i++) {
            char c = host[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '.' || c == '-' || c == '_')) {
                rcn_errf (why, whylen, "\"%s\": bad character in host", s);
                return RCN_EINVAL;
            }
        }
    }
    const char *port = colon + 1;
    size_t plen = strlen (port);
    unsigned long v = 0;
    bool digits = plen >= 1 && plen <= 5;
    for (size_t i = 0; digits && i < plen; i++) {
        if (port[i] < '0' || port[i] > '9')
            digits = false;
        else
            v = v * 10 + (unsigned long) (port[i] - '0');
    }
    if (!digits || v < 1 || v > 65535) {
        rcn_errf (why, whylen, "\"%s\": port must be 1..65535", s);
        return RCN_EINVAL;
    }
    return RCN_OK;
}

static int
hex32_parse (const char *s, uint8_t out[RCN_KEY_SIZE])
{
    if (strlen (s) != 2 * RCN_KEY_SIZE)
        return RCN_EINVAL;
    char lower[2 * RCN_KEY_SIZE + 1];
    for (size_t i = 0; i < 2 * RCN_KEY_SIZE; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char) (c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return RCN_EINVAL;
        lower[i] = c;
    }
    lower[2 * RCN_KEY_SIZE] = '\0';
    return rcn_unhex (lower, out, RCN_KEY_SIZE);
}

static int
rounds_add (rcn_policy_t *p, const char *s, char *why, size_t whylen)
{
    int m;
    if (rcn_slot_parse (s, &m) != RCN_OK) {
        rcn_errf (why, whylen, "rounds: \"%.16s\" is not HH:MM (00:00..23:59)", s);
        return RCN_EINVAL;
    }
    if (p->n_rounds >= RCN_MAX_ROUNDS) {
        rcn_errf (why, whylen, "rounds: more than %d", RCN_MAX_ROUNDS);
        return RCN_EINVAL;
    }
    if (p->n_rounds > 0 && m <= p->rounds[p->n_rounds - 1]) {
        rcn_errf (why, whylen, "rounds: \"%s\" must come after %02d:%02d (ascending, distinct)",
                  s, p->rounds[p->n_rounds - 1] / 60, p->rounds[p->n_rounds - 1] % 60);
        return RCN_EINVAL;
    }
    p->rounds[p->n_rounds++] = m;
    return RCN_OK;
}

int
rcn_policy_parse_rounds (const char *s, rcn_policy_t *p, char *why, size_t whylen)
{
    assert (s && p);
    rcn_policy_t tmp = *p;
    tmp.n_rounds = 0;
    size_t len = strlen (s);
    size_t start = 0;
    if (len == 0)
        goto done;      /* an alliance may run without scheduled rounds */
    while (start <= len) {
        size_t end = start;
        while (end < len && s[end] != ',')
            end++;
        size_t b = start, e = end;          /* "10:00, 15:00" reads as well */
        while (b < e && s[b] == ' ')
            b++;
        while (e > b && s[e - 1] == ' ')
            e--;
        size_t n = e - b;
        if (n != 5) {
            rcn_errf (why, whylen, "rounds: \"%.*s\" is not HH:MM (00:00..23:59)",
                      (int) (n < 16 ? n : 16), s + b);
            return RCN_EINVAL;
        }
        char one[6];
        memcpy (one, s + b, 5);
        one[5] = '\0';
        int rc = rounds_add (&tmp, one, why, whylen);
        if (rc != RCN_OK)
            return rc;
        start = end + 1;
    }
done:
    *p = tmp;
    return RCN_OK;
}

static int
timezone_check (const char *tz, char *why, size_t whylen)
{
    size_t len = strlen (tz);
    if (len == 0 || len >= sizeof ((rcn_policy_t *) 0)->timezone) {
        rcn_errf (why, whylen, "timezone: must be 1..63 characters");
        return RCN_EINVAL;
    }
    if (tz[0] == '/' || tz[len - 1] == '/' || strstr (tz, "//") || strstr (tz, "..")) {
        rcn_errf (why, whylen, "timezone \"%s\": not an IANA name like Asia/Shanghai", tz);
        return RCN_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        char c = tz[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '/' || c == '_' || c == '-' || c == '+')) {
            rcn_errf (why, whylen, "timezone \"%s\": not an IANA name like Asia/Shanghai", tz);
            return RCN_EINVAL;
        }
    }
    struct stat st;
    if (stat (ZONEINFO_DIR, &st) == 0 && S_ISDIR (st.st_mode)) {
        char path[sizeof ZONEINFO_DIR + 80];
        snprintf (path, sizeof path, "%s/%s", ZONEINFO_DIR, tz);
        if (stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
            rcn_errf (why, whylen, "timezone \"%s\": unknown (not in %s)", tz, ZONEINFO_DIR);
            return RCN_EINVAL;
        }
    }
    return RCN_OK;
}

static int
policy_check (const rcn_policy_t *p, char *why, size_t whylen)
{
    if (p->n_rounds < 0 || p->n_rounds > RCN_MAX_ROUNDS) {
        rcn_errf (why, whylen, "rounds: 0..%d slots", RCN_MAX_ROUNDS);
        return RCN_EINVAL;
    }
    for (int i = 0; i < p->n_rounds; i++) {
        if (p->rounds[i] < 0 || p->rounds[i] >= 24 * 60
            || (i > 0 && p->rounds[i] <= p->rounds[i - 1])) {
            rcn_errf (why, whylen, "rounds: must be ascending, distinct, 00:00..23:59");
            return RCN_EINVAL;
        }
    }
    if (memchr (p->timezone, '\0', sizeof p->timezone) == NULL) {
        rcn_errf (why, whylen, "timezone: too long");
        return RCN_EINVAL;
    }
    int rc = timezone_check (p->timezone, why, whylen);
    if (rc != RCN_OK)
        return rc;
    static const struct { const char *name; size_t off; int64_t lo, hi; } ranges[] = {
        { "grace_s", offsetof (rcn_policy_t, grace_s), 0, 86400 },
        { "response_sla_s", offsetof (rcn_policy_t, response_sla_s), 60, 7 * 86400 },
        { "retention_days", offsetof (rcn_policy_t, retention_days), 1, 3650 },
        { "seal_period_days", offsetof (rcn_policy_t, seal_period_days), 1, 366 },
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        int64_t v;
        memcpy (&v, (const char *) p + ranges[i].off, sizeof v);
        if (v < ranges[i].lo || v > ranges[i].hi) {
            rcn_errf (why, whylen, "%s: %lld is out of range %lld..%lld", ranges[i].name,
                      (long long) v, (long long) ranges[i].lo, (long long) ranges[i].hi);
            return RCN_EINVAL;
        }
    }
    return RCN_OK;
}

/* Reads the "policy" object over the defaults. Errors name the field, without a prefix. */
static int
policy_from_json (const json_t *obj, rcn_policy_t *p, char *why, size_t whylen)
{
    rcn_policy_default (p);
    if (!obj)
        return RCN_OK;
    if (!json_is_object (obj)) {
        rcn_errf (why, whylen, "must be an object");
        return RCN_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *) obj, key, v) {
        if (!in_list (key, policy_fields)) {
            rcn_errf (why, whylen, "unknown field \"%.40s\"", key);
            return RCN_EINVAL;
        }
    }
    json_t *rounds = json_object_get (obj, "rounds");
    if (rounds) {
        if (!json_is_array (rounds)) {
            rcn_errf (why, whylen, "rounds: must be an array of \"HH:MM\"");
            return RCN_EINVAL;
        }
        p->n_rounds = 0;
        size_t i;
        json_array_foreach (rounds, i, v) {
            if (!json_is_string (v)) {
                rcn_errf (why, whylen, "rounds[%zu]: must be a string \"HH:MM\"", i);
                return RCN_EINVAL;
            }
            int rc = rounds_add (p, json_string_value (v), why, whylen);
            if (rc != RCN_OK)
                return rc;
        }
    }
    json_t *tz = json_object_get (obj, "timezone");
    if (tz) {
        if (!json_is_string (tz) || json_string_length (tz) >= sizeof p->timezone
            || strlen (json_string_value (tz)) != json_string_length (tz)) {
            rcn_errf (why, whylen, "timezone: must be an IANA name like Asia/Shanghai");
            return RCN_EINVAL;
        }
        snprintf (p->timezone, sizeof p->timezone, "%s", json_string_value (tz));
    }
    static const struct { const char *name; size_t off; } ints[] = {
        { "grace_s", offsetof (rcn_policy_t, grace_s) },
        { "response_sla_s", offsetof (rcn_policy_t, response_sla_s) },
        { "retention_days", offsetof (rcn_policy_t, retention_days) },
        { "seal_period_days", offsetof (rcn_policy_t, seal_period_days) },
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        json_t *n = json_object_get (obj, ints[i].name);
        if (!n)
            continue;
        if (!json_is_integer (n)) {
            rcn_errf (why, whylen, "%s: must be an integer", ints[i].name);
            return RCN_EINVAL;
        }
        int64_t val = (int64_t) json_integer_value (n);
        memcpy ((char *) p + ints[i].off, &val, sizeof val);
    }
    return policy_check (p, why, whylen);
}

/* ---- members ----------------------------------------------------------------------------- */

static const char *
string_field (const json_t *card, const char *field, char *why, size_t whylen)
{
    json_t *v = json_object_get (card, field);
    if (!v) {
        rcn_errf (why, whylen, "%s: missing", field);
        return NULL;
    }
    if (!json_is_string (v)) {
        rcn_errf (why, whylen, "%s: must be a string", field);
        return NULL;
    }
    /* A string with an embedded NUL is not what it seems. */
    if (strlen (json_string_value (v)) != json_string_length (v)) {
        rcn_errf (why, whylen, "%s: contains a NUL character", field);
        return NULL;
    }
    return json_string_value (v);
}

/* Checks a card; on failure `why` is "FIELD: reason", and *region_out is the region when it
 * was read before the failure (0 otherwise), so the caller can name the member. */
static int
member_check (const json_t *card, rcn_member_t *m, uint32_t *region_out, char *why, size_t whylen)
{
    *region_out = 0;
    memset (m, 0, sizeof *m);
    if (sodium_init () < 0) {
        rcn_errf (why, whylen, "libsodium failed to initialise");
        return RCN_EINVAL;
    }
    if (!json_is_object (card)) {
        rcn_errf (why, whylen, "must be an object");
        return RCN_EINVAL;
    }
    const char *s = string_field (card, "region", why, whylen);
    if (!s)
        return RCN_EINVAL;
    char inner[WHY_MAX];
    if (rcn_region_parse (s, &m->region, inner, sizeof inner) != RCN_OK) {
        rcn_errf (why, whylen, "region: %s", inner);
        return RCN_EINVAL;
    }
    *region_out = m->region;

    const char *key;
    json_t *v;
    json_object_foreach ((json_t *) card, key, v) {
        if (!in_list (key, member_fields)) {
            rcn_errf (why, whylen, "unknown field \"%.40s\"", key);
            return RCN_EINVAL;
        }
    }

    if (!(s = string_field (card, "name", why, whylen)))
        return RCN_EINVAL;
    if (rcn_name_check (s, inner, sizeof inner) != RCN_OK) {
        rcn_errf (why, whylen, "name: %s", inner);
        return RCN_EINVAL;
    }
    memcpy (m->name, s, strlen (s) + 1);

    if (!(s = string_field (card, "sign_key", why, whylen)))
        return RCN_EINVAL;
    if (hex32_parse (s, m->sign_key) != RCN_OK) {
        rcn_errf (why, whylen, "sign_key: must be 64 hex digits");
        return RCN_EINVAL;
    }
    if (!crypto_core_ed25519_is_valid_point (m->sign_key)) {
        rcn_errf (why, whylen, "sign_key: not a valid Ed25519 public key");
        return RCN_EINVAL;
    }

    if (!(s = string_field (card, "curve_key", why, whylen)))
        return RCN_EINVAL;
    if (strlen (s) != 40 || rcn_unz85_key (s, m->curve_key) != RCN_OK) {
        rcn_errf (why, whylen, "curve_key: must be 40 Z85 characters");
        return RCN_EINVAL;
    }
    if (sodium_is_zero (m->curve_key, sizeof m->curve_key)) {
        rcn_errf (why, whylen, "curve_key: all zero, not a usable X25519 public key");
        return RCN_EINVAL;
    }

    static const char *const eps[] = { "pub", "sync" };
    for (int i = 0; i < 2; i++) {
        if (!(s = string_field (card, eps[i], why, whylen)))
            return RCN_EINVAL;
        if (rcn_endpoint_check (s, inner, sizeof inner) != RCN_OK) {
            rcn_errf (why, whylen, "%s: %s", eps[i], inner);
            return RCN_EINVAL;
        }
        snprintf (i == 0 ? m->pub : m->sync, RCN_ENDPOINT_MAX + 1, "%s", s);
    }
    if (strcasecmp (m->pub, m->sync) == 0) {
        rcn_errf (why, whylen, "sync: same endpoint as pub");
        return RCN_EINVAL;
    }
    return RCN_OK;
}

int
rcn_member_from_json (const json_t *card, rcn_member_t *m, char *why, size_t whylen)
{
    assert (m);
    uint32_t region;
    char inner[WHY_MAX];
    int rc = member_check (card, m, &region, inner, sizeof inner);
    if (rc == RCN_OK)
        return RCN_OK;
    if (region)
        rcn_errf (why, whylen, "member %06u: %s", (unsigned) region, inner);
    else
        rcn_errf (why, whylen, "member: %s", inner);
    return RCN_EINVAL;
}

json_t *
rcn_member_to_json (const rcn_member_t *m)
{
    assert (m);
    char region[16], hex[2 * RCN_KEY_SIZE + 1], z85[41];
    snprintf (region, sizeof region, "%06u", (unsigned) m->region);
    rcn_hex (m->sign_key, RCN_KEY_SIZE, hex);
    rcn_z85_key (m->curve_key, z85);
    json_t *card = json_object ();
    if (!card)
        return NULL;
    if (json_object_set_new (card, "region", json_string (region))
        || json_object_set_new (card, "name", json_string (m->name))
        || json_object_set_new (card, "sign_key", json_string (hex))
        || json_object_set_new (card, "curve_key", json_string (z85))
        || json_object_set_new (card, "pub", json_string (m->pub))
        || json_object_set_new (card, "sync", json_string (m->sync))) {
        json_decref (card);
        return NULL;
    }
    return card;
}

/* Which earlier member (index < i) m collides with, and on what; -1 if none. Endpoints are
 * unique across the whole alliance: two members on one endpoint means a copy-paste error. */
static int
member_clash (const rcn_member_t *ms, size_t i, const char **field)
{
    const rcn_member_t *m = &ms[i];
    for (size_t j = 0; j < i; j++) {
        const rcn_member_t *o = &ms[j];
        if (o->region == m->region)
            *field = "region";
        else if (memcmp (o->sign_key, m->sign_key, RCN_KEY_SIZE) == 0)
            *field = "sign_key";
        else if (memcmp (o->curve_key, m->curve_key, RCN_KEY_SIZE) == 0)
            *field = "curve_key";
        else if (!strcasecmp (m->pub, o->pub) || !strcasecmp (m->pub, o->sync))
            *field = "pub";
        else if (!strcasecmp (m->sync, o->pub) || !strcasecmp (m->sync, o->sync))
            *field = "sync";
        else
            continue;
        return (int) j;
    }
    return -1;
}

/* Checks cards[0..n) into ms (in the given order). `what` names the list in messages. */
static int
members_read (const json_t *const *cards, size_t n, rcn_member_t *ms, const char *what,
              char *why, size_t whylen)
{
    if (n == 0) {
        rcn_errf (why, whylen, "%s: must list at least one member", what);
        return RCN_EINVAL;
    }
    if (n > RCN_MAX_MEMBERS) {
        rcn_errf (why, whylen, "%s: %zu members, at most %d", what, n, RCN_MAX_MEMBERS);
        return RCN_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t region;
        char inner[WHY_MAX];
        if (member_check (cards[i], &ms[i], &region, inner, sizeof inner) != RCN_OK) {
            if (region)
                rcn_errf (why, whylen, "%s[%zu] (%06u): %s", what, i, (unsigned) region, inner);
            else
                rcn_errf (why, whylen, "%s[%zu]: %s", what, i, inner);
            return RCN_EINVAL;
        }
        const char *field = NULL;
        int j = member_clash (ms, i, &field);
        if (j >= 0) {
            rcn_errf (why, whylen, "%s[%zu] (%06u): %s: same as %s[%d] (%06u)", what, i,
                      (unsigned) ms[i].region, field, what, j, (unsigned) ms[j].region);
            return RCN_EINVAL;
        }
    }
    return RCN_OK;
}

static int
member_cmp (const void *a, const void *b)
{
    uint32_t x = ((const rcn_member_t *) a)->region, y = ((const rcn_member_t *) b)->region;
    return x < y ? -1 : x > y;
}

/* ---- the roster -------------------------------------------------------------------------- */

int
rcn_roster_parse (const uint8_t *bytes, size_t len, rcn_roster_t **out, char *why, size_t whylen)
{
    assert (out);
    assert (bytes || len == 0);
    rcn_roster_t *self = NULL;
    json_t *root = NULL;
    const json_t **cards = NULL;
    int rc = RCN_EROSTER;
    *out = NULL;

    if (len > ROSTER_MAX_BYTES) {
        rcn_errf (why, whylen, "roster: %zu bytes, at most %d", len, ROSTER_MAX_BYTES);
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb ((const char *) bytes, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rcn_errf (why, whylen, "roster: not JSON: line %d, column %d: %s",
                  jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    if (!json_is_object (root)) {
        rcn_errf (why, whylen, "roster: must be a JSON object");
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach (root, key, v) {
        if (!in_list (key, top_fields)) {
            rcn_errf (why, whylen, "roster: unknown field \"%.40s\"", key);
            goto fail;
        }
    }
    v = json_object_get (root, "rcn_roster");
    if (!v || !json_is_integer (v)) {
        rcn_errf (why, whylen, "rcn_roster: missing or not an integer (expected %d)",
                  RCN_ROSTER_VERSION);
        goto fail;
    }
    if (json_integer_value (v) != RCN_ROSTER_VERSION) {
        rcn_errf (why, whylen, "rcn_roster: version %lld is not supported (this build reads %d)",
                  (long long) json_integer_value (v), RCN_ROSTER_VERSION);
        goto fail;
    }

    self = calloc (1, sizeof *self);
    if (!self) {
        rc = RCN_ENOMEM;
        rcn_errf (why, whylen, "roster: out of memory");
        goto fail;
    }
    char inner[WHY_MAX];
    if (policy_from_json (json_object_get (root, "policy"), &self->policy,
                          inner, sizeof inner) != RCN_OK) {
        rcn_errf (why, whylen, "policy: %s", inner);
        goto fail;
    }
    json_t *members = json_object_get (root, "members");
    if (!members || !json_is_array (members)) {
        rcn_errf (why, whylen, "members: missing or not an array");
        goto fail;
    }
    size_t n = json_array_size (members);
    if (n > RCN_MAX_MEMBERS) {
        rcn_errf (why, whylen, "members: %zu members, at most %d", n, RCN_MAX_MEMBERS);
        goto fail;
    }
    cards = calloc (n ? n : 1, sizeof *cards);
    if (!cards) {
        rc = RCN_ENOMEM;
        rcn_errf (why, whylen, "roster: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        cards[i] = json_array_get (members, i);
    if (members_read (cards, n, self->members, "members", why, whylen) != RCN_OK)
        goto fail;
    self->n = n;
    qsort (self->members, n, sizeof self->members[0], member_cmp);

    self->bytes = malloc (len ? len : 1);
    if (!self->bytes) {
        rc = RCN_ENOMEM;
        rcn_errf (why, whylen, "roster: out of memory");
        goto fail;
    }
    memcpy (self->bytes, bytes, len);
    self->len = len;
    crypto_generichash (self->hash, sizeof self->hash, bytes, len, NULL, 0);

    free (cards);
    json_decref (root);
    *out = self;
    return RCN_OK;

fail:
    free (cards);
    json_decref (root);
    rcn_roster_destroy (&self);
    return rc;
}

int
rcn_roster_load (const char *path, rcn_roster_t **out, char *why, size_t whylen)
{
    assert (path && out);
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len;
    int rc = rcn_read_file (path, 0, ROSTER_MAX_BYTES, &buf, &len, why, whylen);
    if (rc == RCN_ETOOBIG)
        rc = RCN_EROSTER;
    if (rc != RCN_OK)
        return rc;
    char inner[WHY_MAX];
    rc = rcn_roster_parse (buf, len, out, inner, sizeof inner);
    if (rc != RCN_OK)
        rcn_errf (why, whylen, "%s: %s", path, inner);
    free (buf);
    return rc;
}

void
rcn_roster_destroy (rcn_roster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_roster_t *self = *self_p;
    free (self->bytes);
    free (self);
    *self_p = NULL;
}

const uint8_t *
rcn_roster_hash (const rcn_roster_t *r)
{
    assert (r);
    return r->hash;
}

const uint8_t *
rcn_roster_bytes (const rcn_roster_t *r, size_t *len)
{
    assert (r && len);
    *len = r->len;
    return r->bytes;
}

const rcn_policy_t *
rcn_roster_policy (const rcn_roster_t *r)
{
    assert (r);
    return &r->policy;
}

size_t
rcn_roster_count (const rcn_roster_t *r)
{
    assert (r);
    return r->n;
}

const rcn_member_t *
rcn_roster_member (const rcn_roster_t *r, size_t i)
{
    assert (r);
    return i < r->n ? &r->members[i] : NULL;
}

const rcn_member_t *
rcn_roster_by_origin (const rcn_roster_t *r, const uint8_t origin[RCN_KEY_SIZE])
{
    assert (r && origin);
    for (size_t i = 0; i < r->n; i++)
        if (memcmp (r->members[i].sign_key, origin, RCN_KEY_SIZE) == 0)
            return &r->members[i];
    return NULL;
}

const rcn_member_t *
rcn_roster_by_region (const rcn_roster_t *r, uint32_t region)
{
    assert (r);
    rcn_member_t key = { .region = region };
    return bsearch (&key, r->members, r->n, sizeof r->members[0], member_cmp);
}

bool
rcn_roster_is_member (const uint8_t origin[RCN_KEY_SIZE], void *ctx)
{
    assert (ctx);
    return rcn_roster_by_origin ((const rcn_roster_t *) ctx, origin) != NULL;
}

int
rcn_roster_build (const json_t *const *cards, size_t n, const rcn_policy_t *p,
                  char **text, char *why, size_t whylen)
{
    assert (text && p);
    assert (cards || n == 0);
    *text = NULL;
    rcn_member_t *ms = NULL;
    json_t *root = NULL;
    char *dump = NULL;
    rcn_roster_t *check = NULL;
    int rc = RCN_EINVAL;
    char inner[WHY_MAX];

    if (policy_check (p, inner, sizeof inner) != RCN_OK) {
        rcn_errf (why, whylen, "policy: %s", inner);
        goto fail;
    }
    ms = calloc (n ? n : 1, sizeof *ms);
    if (!ms) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    if (members_read (cards, n, ms, "cards", why, whylen) != RCN_OK)
        goto fail;
    qsort (ms, n, sizeof *ms, member_cmp);

    rc = RCN_ENOMEM;
    root = json_object ();
    json_t *policy = json_object ();
    json_t *rounds = json_array ();
    json_t *members = json_array ();
    if (!root || !policy || !rounds || !members) {
        json_decref (policy);
        json_decref (rounds);
        json_decref (members);
        goto fail;
    }
    /* Fixed key order: objects keep insertion order (JSON_PRESERVE_ORDER). */
    if (json_object_set_new (root, "rcn_roster", json_integer (RCN_ROSTER_VERSION))
        || json_object_set_new (root, "policy", policy)
        || json_object_set_new (root, "members", members)) {
        goto fail;
    }
    for (int i = 0; i < p->n_rounds; i++) {
        char hm[16];
        rcn_slot_name (p->rounds[i], hm, sizeof hm);
        if (json_array_append_new (rounds, json_string (hm))) {
            json_decref (rounds);
            goto fail;
        }
    }
    if (json_object_set_new (policy, "rounds", rounds)
        || json_object_set_new (policy, "timezone", json_string (p->timezone))
        || json_object_set_new (policy, "grace_s", json_integer (p->grace_s))
        || json_object_set_new (policy, "response_sla_s", json_integer (p->response_sla_s))
        || json_object_set_new (policy, "retention_days", json_integer (p->retention_days))
        || json_object_set_new (policy, "seal_period_days", json_integer (p->seal_period_days)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        json_t *card = rcn_member_to_json (&ms[i]);
        if (!card || json_array_append_new (members, card))
            goto fail;
    }
    dump = json_dumps (root, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
    if (!dump)
        goto fail;
    size_t len = strlen (dump);
    char *t = realloc (dump, len + 2);
    if (!t)
        goto fail;
    dump = t;
    dump[len] = '\n';
    dump[len + 1] = '\0';

    /* What we write must read back as the same alliance. */
    rc = rcn_roster_parse ((const uint8_t *) dump, len + 1, &check, inner, sizeof inner);
    if (rc != RCN_OK) {
        rcn_errf (why, whylen, "built roster does not parse back: %s", inner);
        goto fail;
    }
    assert (check->n == n);
    *text = dump;
    dump = NULL;
    rc = RCN_OK;

fail:
    if (rc == RCN_ENOMEM)
        rcn_errf (why, whylen, "roster: out of memory");
    rcn_roster_destroy (&check);
    free (dump);
    json_decref (root);
    free (ms);
    return rc;
}
