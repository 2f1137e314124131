/* pass.c — mutual-recognition passes (DESIGN.md §4): PassIssue and PassRevoke.
 *
 * A region issues a pass (commuter, freight vehicle, observation release, quarantine
 * completion); the others honour it at checkpoints, offline if need be. The pass IS its entry:
 * its token is "RCN1:" + Base45 (RFC 9285) of the entry's signed bytes and signature, so a
 * checkpoint holding only the roster checks the issuer's signature, the validity window and
 * the regions with no node at all (`rcctl pass verify`, this file's `local`), and, when it has
 * a member's log at hand, the revocations too.
 *
 * The decision a reader must know: a pass carries no personal detail a scanner could read off.
 * The holder's name is masked to its first character; the ID number is there only as a salted
 * Argon2id hash (crypto_pwhash, limits recorded in the body), which a checkpoint recomputes
 * from the ID card presented. The hash is made in `author`, on the node, so the number never
 * reaches the log, and a refusal never quotes it.
 *
 * A revoke is by the issuer only, so it always follows its pass in one origin's chain and the
 * view is the same in any arrival order (invariant 8); a drill revoke cannot revoke a real pass.
 *
 * View:  pass.issue  pass hash -> origin[32] | status | revoked | revoke hash[32]
 *        pass.id     origin[32] | pass_id -> pass hash        (pass ids are unique per origin) */
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/pass.h"
#include "rcn/qr.h"
#include "rcn/region.h"
#include "rcn/store.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn.pb-c.h"

#define PASS_ID_MAX 64              /* bytes */
#define NAME_MAX_BYTES 256
#define NAME_MAX_CHARS 64
#define PLATE_MAX 32                /* bytes: "沪A·12345D" is 13 */
#define REASON_MAX 512
#define REGIONS_MAX 64
#define SPAN_MAX_MS (366ULL * 86400000ULL)   /* longest validity window */
#define SKEW_MS (5ULL * 60000ULL)            /* a checkpoint's clock may be this far off */
#define SALT_SIZE crypto_pwhash_argon2id_SALTBYTES
#define ID_HASH_SIZE 32
/* What a checkpoint recomputes: never weaker than libsodium's INTERACTIVE, never more memory
 * than a handheld scanner can spare (a hostile issuer cannot make verification exhaust it). */
#define OPS_MIN crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define OPS_MAX crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE
#define MEM_KIB_MIN (crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE / 1024)
#define MEM_KIB_MAX (crypto_pwhash_argon2id_MEMLIMIT_MODERATE / 1024)
#define TOKEN_PREFIX "RCN1:"

enum { DB_ISSUE = 0, DB_ID = 1 };
static const char *const s_dbs[] = { "pass.issue", "pass.id", NULL };
static const uint32_t s_also[] = { RCN__KIND__KIND_PASS_REVOKE, 0 };
static const char *const s_pkind[] = { NULL, "commuter", "freight", "observation_release",
                                       "quarantine_completion" };

extern const rcn_kind_t rcn_kind_pass;

/* The view's record for one pass. */
typedef struct {
    uint8_t origin[32];
    uint8_t status;
    uint8_t revoked;
    uint8_t revoke[32];        /* the revoking entry, zero while not revoked */
} record_t;
#define RECORD_SIZE (32 + 1 + 1 + 32)

static void
record_pack (const record_t *r, uint8_t out[RECORD_SIZE])
{
    memcpy (out, r->origin, 32);
    out[32] = r->status;
    out[33] = r->revoked;
    memcpy (out + 34, r->revoke, 32);
}

static int
record_unpack (const MDB_val *v, record_t *r)
{
    if (v->mv_size != RECORD_SIZE)
        return RCN_EDB;
    const uint8_t *p = v->mv_data;
    memcpy (r->origin, p, 32);
    r->status = p[32];
    r->revoked = p[33];
    memcpy (r->revoke, p + 34, 32);
    return RCN_OK;
}

/* The record of pass `hash`: RCN_OK, RCN_ENOTFOUND (not a pass this view holds), RCN_EDB. */
static int
record_get (const rcn_view_t *v, const uint8_t hash[32], record_t *r)
{
    MDB_val k = { 32, (void *) hash }, val;
    int mrc = mdb_get (v->txn, v->dbi[DB_ISSUE], &k, &val);
    if (mrc == MDB_NOTFOUND)
        return RCN_ENOTFOUND;
    if (mrc != 0 || record_unpack (&val, r) != RCN_OK)
        return RCN_EDB;
    return RCN_OK;
}

static int
pkind_parse (const char *s)
{
    for (int i = 1; i <= 4; i++)
        if (s && strcmp (s, s_pkind[i]) == 0)
            return i;
    return -1;
}

static const char *
pkind_name (int k)
{
    return k >= 1 && k <= 4 ? s_pkind[k] : "unknown";
}

/* Number of UTF-8 code points in well-formed s[0..len). */
static size_t
utf8_chars (const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char) s[i] & 0xc0) != 0x80;
    return n;
}

/* Length in bytes of the code point starting s (well-formed UTF-8). */
static size_t
utf8_first_len (const char *s)
{
    unsigned c = (unsigned char) s[0];
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Whether the text has leading or trailing white space (ASCII or U+3000, the CJK space). */
static bool
padded (const char *s, size_t len)
{
    if (len == 0)
        return false;
    bool lead = s[0] == ' ' || (len >= 3 && memcmp (s, "\xe3\x80\x80", 3) == 0);
    bool trail = s[len - 1] == ' ' || (len >= 3 && memcmp (s + len - 3, "\xe3\x80\x80", 3) == 0);
    return lead || trail;
}

/* The holder's name with every character after the first masked: "张三丰" -> "张**". The
 * name must be well-formed text. Caller owns the result (free()); NULL on ENOMEM. */
static char *
mask_name (const char *name)
{
    size_t len = strlen (name), first = utf8_first_len (name);
    size_t rest = utf8_chars (name + first, len - first);
    char *out = malloc (first + rest + 1);
    if (!out)
        return NULL;
    memcpy (out, name, first);
    memset (out + first, '*', rest);
    out[first + rest] = '\0';
    return out;
}

/* A masked name as a pass carries it: one visible character, then only '*'. */
static bool
masked_ok (const char *m)
{
    size_t len = m ? strlen (m) : 0;
    if (len == 0 || !rcn_utf8_text_ok (m, len, false) || padded (m, len) || m[0] == '*')
        return false;
    size_t first = utf8_first_len (m);
    if (len - first + 1 > NAME_MAX_CHARS)
        return false;
    for (size_t i = first; i < len; i++)
        if (m[i] != '*')
            return false;
    return true;
}

static bool
text_field_ok (const char *s, size_t max)
{
    size_t len = s ? strlen (s) : 0;
    return len <= max && rcn_utf8_text_ok (s ? s : "", len, false) && !padded (s ? s : "", len);
}

/* Checks a pass's own fields; `time_ms` is the entry's signed time (apply, verify) or now
 * (author). Never quotes the holder's details. */
static int
validate_issue (const Rcn__PassIssue *p, uint64_t time_ms, char *why, size_t whylen)
{
    size_t idlen = p->pass_id ? strlen (p->pass_id) : 0;
    if (idlen == 0 || !text_field_ok (p->pass_id, PASS_ID_MAX)) {
        rcn_errf (why, whylen, "pass: pass_id: 1..%d bytes of UTF-8 without control characters "
                  "or surrounding spaces", PASS_ID_MAX);
        return RCN_EBODY;
    }
    if ((int) p->kind < 1 || p->kind > 4) {
        rcn_errf (why, whylen, "pass: kind must be commuter, freight, observation_release or "
                  "quarantine_completion");
        return RCN_EBODY;
    }
    if (!masked_ok (p->holder_masked)) {
        rcn_errf (why, whylen, "pass: holder_masked must be one character followed only by '*' "
                  "(at most %d characters)", NAME_MAX_CHARS);
        return RCN_EBODY;
    }
    if (p->id_salt.len != SALT_SIZE || p->id_hash.len != ID_HASH_SIZE) {
        rcn_errf (why, whylen, "pass: id_salt must be %d bytes and id_hash %d", SALT_SIZE,
                  ID_HASH_SIZE);
        return RCN_EBODY;
    }
    if (p->id_ops < OPS_MIN || p->id_ops > OPS_MAX || p->id_mem_kib < MEM_KIB_MIN
        || p->id_mem_kib > MEM_KIB_MAX) {
        rcn_errf (why, whylen, "pass: id_ops must be %u..%u and id_mem_kib %u..%u", OPS_MIN,
                  OPS_MAX, MEM_KIB_MIN, MEM_KIB_MAX);
        return RCN_EBODY;
    }
    size_t plen = p->plate ? strlen (p->plate) : 0;
    if (!text_field_ok (p->plate, PLATE_MAX)) {
        rcn_errf (why, whylen, "pass: plate: at most %d bytes of UTF-8 without control characters "
                  "or surrounding spaces", PLATE_MAX);
        return RCN_EBODY;
    }
    if (p->kind == RCN__PASS_ISSUE__KIND__FREIGHT && plen == 0) {
        rcn_errf (why, whylen, "pass: a freight pass needs the vehicle's plate");
        return RCN_EBODY;
    }
    if (p->valid_until_ms <= p->valid_from_ms) {
        rcn_errf (why, whylen, "pass: valid_until must be after valid_from");
        return RCN_EBODY;
    }
    if (p->valid_until_ms - p->valid_from_ms > SPAN_MAX_MS) {
        rcn_errf (why, whylen, "pass: valid for at most 366 days");
        return RCN_EBODY;
    }
    if (p->valid_until_ms <= time_ms) {
        rcn_errf (why, whylen, "pass: valid_until is not after the time of issue");
        return RCN_EBODY;
    }
    if (p->n_regions > REGIONS_MAX) {
        rcn_errf (why, whylen, "pass: regions: at most %d", REGIONS_MAX);
        return RCN_EBODY;
    }
    for (size_t i = 0; i < p->n_regions; i++) {
        char rwhy[128];
        if (rcn_region_check (p->regions[i], rwhy, sizeof rwhy) != RCN_OK) {
            rcn_errf (why, whylen, "pass: regions[%zu]: %s", i, rwhy);
            return RCN_EBODY;
        }
        if (i > 0 && p->regions[i] <= p->regions[i - 1]) {
            rcn_errf (why, whylen, "pass: regions must be ascending, each once");
            return RCN_EBODY;
        }
    }
    return RCN_OK;
}

static int
validate_revoke (const Rcn__PassRevoke *r, char *why, size_t whylen)
{
    if (r->pass.len != 32) {
        rcn_errf (why, whylen, "pass revoke: needs the 32-byte hash of the pass");
        return RCN_EBODY;
    }
    size_t len = r->reason ? strlen (r->reason) : 0;
    if (len == 0 || !text_field_ok (r->reason, REASON_MAX)) {
        rcn_errf (why, whylen, "pass revoke: reason: 1..%d bytes of UTF-8 without control "
                  "characters", REASON_MAX);
        return RCN_EBODY;
    }
    return RCN_OK;
}

/* Unpacks and judges a PassIssue body signed at time_ms. Caller owns *out. */
static int
issue_parse (const uint8_t *body, size_t len, uint64_t time_ms, Rcn__PassIssue **out,
             char *why, size_t whylen)
{
    Rcn__PassIssue *p = rcn__pass_issue__unpack (NULL, len, body);
    if (!p) {
        rcn_errf (why, whylen, "pass: body is not a PassIssue message");
        return RCN_EBODY;
    }
    int rc = rcn_kind_canonical (&p->base, body, len);
    if (rc == RCN_EBODY)
        rcn_errf (why, whylen, "pass: body is not in canonical form (unknown fields, a NUL "
                  "inside text, or a non-minimal encoding)");
    if (rc == RCN_OK)
        rc = validate_issue (p, time_ms, why, whylen);
    if (rc != RCN_OK) {
        rcn__pass_issue__free_unpacked (p, NULL);
        return rc;
    }
    *out = p;
    return RCN_OK;
}

static int
id_key (const uint8_t origin[32], const char *pass_id, uint8_t key[32 + PASS_ID_MAX], MDB_val *k)
{
    size_t n = strlen (pass_id);
    if (n > PASS_ID_MAX)
        return RCN_EINVAL;
    memcpy (key, origin, 32);
    memcpy (key + 32, pass_id, n);
    k->mv_size = 32 + n;
    k->mv_data = key;
    return RCN_OK;
}

static int
apply_issue (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__PassIssue *p = NULL;
    int rc = issue_parse (e->h.body, e->h.body_len, e->h.time_ms, &p, why, whylen);
    if (rc != RCN_OK)
        return rc;
    uint8_t key[32 + PASS_ID_MAX];
    MDB_val k, val;
    if (id_key (e->h.origin, p->pass_id, key, &k) != RCN_OK) {
        rc = RCN_EBODY;
        goto done;
    }
    int mrc = mdb_get (v->txn, v->dbi[DB_ID], &k, &val);
    if (mrc == 0) {
        /* The earlier one is below in the same chain: the same verdict in any arrival order. */
        rcn_errf (why, whylen, "pass: pass_id \"%s\" is already used by an earlier pass of this "
                  "region", p->pass_id);
        rc = RCN_EBODY;
        goto done;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = RCN_EDB;
        goto done;
    }
    /* Validated: from here on, write. */
    record_t r = { .status = (uint8_t) e->h.status };
    memcpy (r.origin, e->h.origin, 32);
    uint8_t packed[RECORD_SIZE];
    record_pack (&r, packed);
    MDB_val hk = { 32, (void *) e->hash }, hv = { RECORD_SIZE, packed };
    MDB_val iv = { 32, (void *) e->hash };
    if (mdb_put (v->txn, v->dbi[DB_ISSUE], &hk, &hv, 0) != 0
        || mdb_put (v->txn, v->dbi[DB_ID], &k, &iv, 0) != 0)
        rc = RCN_EDB;
done:
    rcn__pass_issue__free_unpacked (p, NULL);
    return rc;
}

/* Finds the pass a revoke names: the same origin's, not revoked, of the same status.
 * `author` picks the more helpful message where applying must give one reason for "not held"
 * and "another origin's" (they are the same fault in a chain, invariant 8). */
static int
resolve_revoke (const rcn_view_t *v, const uint8_t pass[32], const uint8_t origin[32],
                uint32_t status, const rcn_roster_t *roster, bool author, record_t *r,
                char *why, size_t whylen)
{
    static const char *not_own = "pass revoke: names no earlier pass of the same region";
    int rc = record_get (v, pass, r);
    if (rc == RCN_ENOTFOUND) {
        rcn_errf (why, whylen, "%s", author ? "pass revoke: this log holds no pass with that hash "
                                              "(see pass list)" : not_own);
        return RCN_EBODY;
    }
    if (rc != RCN_OK)
        return rc;
    if (memcmp (r->origin, origin, 32) != 0) {
        const rcn_member_t *m = roster ? rcn_roster_by_origin (roster, r->origin) : NULL;
        if (author && m)
            rcn_errf (why, whylen, "pass revoke: only the region that issued a pass may revoke "
                      "it (this one was issued by %06u)", m->region);
        else
            rcn_errf (why, whylen, "%s", author ? "pass revoke: only the region that issued a "
                      "pass may revoke it" : not_own);
        return RCN_EBODY;
    }
    if (r->status != status) {
        rcn_errf (why, whylen, "pass revoke: an entry of another status (actual/exercise/test) "
                  "cannot revoke this pass (a drill revoke never touches a real pass)");
        return RCN_EBODY;
    }
    if (r->revoked) {
        rcn_errf (why, whylen, "pass revoke: the pass is already revoked");
        return RCN_EBODY;
    }
    return RCN_OK;
}

static int
apply_revoke (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__PassRevoke *p = rcn__pass_revoke__unpack (NULL, e->h.body_len, e->h.body);
    if (!p) {
        rcn_errf (why, whylen, "pass revoke: body is not a PassRevoke message");
        return RCN_EBODY;
    }
    record_t r;
    int rc = rcn_kind_canonical (&p->base, e->h.body, e->h.body_len);
    if (rc == RCN_EBODY)
        rcn_errf (why, whylen, "pass revoke: body is not in canonical form (unknown fields, a NUL "
                  "inside text, or a non-minimal encoding)");
    if (rc == RCN_OK)
        rc = validate_revoke (p, why, whylen);
    if (rc == RCN_OK)
        rc = resolve_revoke (v, p->pass.data, e->h.origin, e->h.status, NULL, false, &r, why,
                             whylen);
    if (rc == RCN_OK) {
        r.revoked = 1;
        memcpy (r.revoke, e->hash, 32);
        uint8_t packed[RECORD_SIZE];
        record_pack (&r, packed);
        MDB_val k = { 32, p->pass.data }, val = { RECORD_SIZE, packed };
        if (mdb_put (v->txn, v->dbi[DB_ISSUE], &k, &val, 0) != 0)
            rc = RCN_EDB;
    }
    rcn__pass_revoke__free_unpacked (p, NULL);
    return rc;
}

static int
pass_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    if (e->h.kind == RCN__KIND__KIND_PASS_ISSUE)
        return apply_issue (v, e, why, whylen);
    if (e->h.kind == RCN__KIND__KIND_PASS_REVOKE)
        return apply_revoke (v, e, why, whylen);
    rcn_errf (why, whylen, "pass: entry kind %u is not a pass's", e->h.kind);
    return RCN_EBODY;
}

/* ---- authoring ------------------------------------------------------------------------------ */

/* Argon2id of an ID number, as a pass records it and a checkpoint recomputes it. */
static int
id_hash (const char *id, const uint8_t *salt, uint32_t ops, uint32_t mem_kib,
         uint8_t out[ID_HASH_SIZE])
{
    if (crypto_pwhash (out, ID_HASH_SIZE, id, strlen (id), salt, ops, (size_t) mem_kib * 1024,
                       crypto_pwhash_ALG_ARGON2ID13) != 0)
        return RCN_ENOMEM;
    return RCN_OK;
}

static const char *
str_field (const json_t *o, const char *key, bool *bad)
{
    const json_t *j = json_object_get (o, key);
    if (j && !json_is_string (j))
        *bad = true;
    return json_string_value (j);
}

static int
time_field (const json_t *b, const char *key, bool required, uint64_t *out, char *why,
            size_t whylen)
{
    const json_t *j = json_object_get (b, key);
    if (!j && !required)
        return RCN_ENOTFOUND;
    if (!json_is_integer (j) || json_integer_value (j) < 0) {
        rcn_errf (why, whylen, "pass: %s%s", key, j ? ": must be Unix milliseconds" : " is required");
        return RCN_EINVAL;
    }
    *out = (uint64_t) json_integer_value (j);
    return RCN_OK;
}

/* The first field in which two passes differ, or NULL (the ID hash apart). */
static const char *
differs (const Rcn__PassIssue *a, const Rcn__PassIssue *b)
{
    if (a->kind != b->kind)
        return "kind";
    if (strcmp (a->holder_masked, b->holder_masked) != 0)
        return "holder.name";
    if (strcmp (a->plate ? a->plate : "", b->plate ? b->plate : "") != 0)
        return "plate";
    if (a->valid_from_ms != b->valid_from_ms)
        return "valid_from";
    if (a->valid_until_ms != b->valid_until_ms)
        return "valid_until";
    if (a->n_regions != b->n_regions
        || (a->n_regions && memcmp (a->regions, b->regions, a->n_regions * sizeof *a->regions)))
        return "regions";
    return NULL;
}

/* The same pass id again (DESIGN §4: submissions are idempotent): identical content is
 * RCN_EDUP with the earlier pass's hash (hex) in `why`; anything else is refused. The ID number
 * is compared by hashing the new one with the earlier pass's salt and limits. *from_given is
 * false when the request left valid_from to the node (then any earlier valid_from matches). */
static int
same_id_again (const rcn_view_t *v, const uint8_t hash[32], Rcn__PassIssue *p, bool from_given,
               uint32_t status, const char *id_number, char *why, size_t whylen)
{
    char hex[65];
    rcn_hex (hash, 32, hex);
    rcn_entry_t *old = NULL;
    int rc = rcn_view_get_by_hash (v, hash, &old);
    if (rc != RCN_OK)
        return rc == RCN_ENOTFOUND ? RCN_EDB : rc;
    Rcn__PassIssue *o = rcn__pass_issue__unpack (NULL, old->h.body_len, old->h.body);
    uint32_t old_status = old->h.status;
    rcn_entry_destroy (&old);
    if (!o)
        return RCN_EDB;
    if (!from_given)
        p->valid_from_ms = o->valid_from_ms;
    const char *field = old_status != status ? "status" : differs (p, o);
    if (!field) {
        uint8_t h[ID_HASH_SIZE];
        rc = id_hash (id_number, o->id_salt.data, o->id_ops, o->id_mem_kib, h);
        if (rc != RCN_OK) {
            rcn__pass_issue__free_unpacked (o, NULL);
            rcn_errf (why, whylen, "pass: crypto_pwhash ran out of memory");
            return rc;
        }
        if (sodium_memcmp (h, o->id_hash.data, ID_HASH_SIZE) != 0)
            field = "holder.id_number";
        sodium_memzero (h, sizeof h);
    }
    rcn__pass_issue__free_unpacked (o, NULL);
    if (!field) {
        rcn_errf (why, whylen, "%s", hex);
        return RCN_EDUP;
    }
    rcn_errf (why, whylen, "pass: pass_id \"%s\" is already used by pass %s with a different %s",
              p->pass_id, hex, field);
    return RCN_EINVAL;
}

static int
author_issue (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *b, uint32_t status,
              uint64_t now_ms, uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    static const char *const known[] = { "action", "pass_id", "kind", "holder", "plate",
                                         "valid_from_ms", "valid_until_ms", "regions", NULL };
    Rcn__PassIssue p = RCN__PASS_ISSUE__INIT;
    uint8_t salt[SALT_SIZE], hash[ID_HASH_SIZE];
    uint32_t regions[REGIONS_MAX];
    char *masked = NULL;
    int rc = RCN_EINVAL;
    const char *key;
    const json_t *val;
    json_object_foreach ((json_t *) b, key, val) {
        size_t i = 0;
        while (known[i] && strcmp (known[i], key) != 0)
            i++;
        if (!known[i]) {
            rcn_errf (why, whylen, "pass: unknown field \"%.40s\"", key);
            return RCN_EINVAL;
        }
    }
    bool bad = false;
    const json_t *holder = json_object_get (b, "holder");
    const char *pass_id = str_field (b, "pass_id", &bad);
    const char *kname = str_field (b, "kind", &bad);
    const char *name = str_field (holder, "name", &bad);
    const char *id = str_field (holder, "id_number", &bad);
    const char *plate = str_field (b, "plate", &bad);
    if (bad || (holder && !json_is_object (holder))) {
        rcn_errf (why, whylen, "pass: pass_id, kind, holder.name, holder.id_number and plate "
                  "must be strings");
        return RCN_EINVAL;
    }
    if (!pass_id || !kname || !name || !id) {
        rcn_errf (why, whylen, "pass: %s is required", !pass_id ? "pass_id" : !kname ? "kind"
                  : !name ? "holder.name" : "holder.id_number");
        return RCN_EINVAL;
    }
    int k = pkind_parse (kname);
    if (k < 0) {
        rcn_errf (why, whylen, "pass: kind \"%.40s\": must be commuter, freight, "
                  "observation_release or quarantine_completion", kname);
        return RCN_EINVAL;
    }
    size_t nlen = strlen (name);
    if (nlen == 0 || nlen > NAME_MAX_BYTES || !rcn_utf8_text_ok (name, nlen, false)
        || padded (name, nlen) || utf8_chars (name, nlen) > NAME_MAX_CHARS || name[0] == '*') {
        rcn_errf (why, whylen, "pass: holder.name: 1..%d characters of UTF-8 without control "
                  "characters or surrounding spaces", NAME_MAX_CHARS);
        return RCN_EINVAL;
    }
    char iwhy[128];
    if (rcn_id_number_check (id, iwhy, sizeof iwhy) != RCN_OK) {
        rcn_errf (why, whylen, "pass: holder.id_number: %s", iwhy);
        return RCN_EINVAL;
    }
    uint64_t until = 0, from = now_ms;
    int frc = time_field (b, "valid_from_ms", false, &from, why, whylen);
    if (frc == RCN_EINVAL || time_field (b, "valid_until_ms", true, &until, why, whylen) != RCN_OK)
        return RCN_EINVAL;
    size_t n_regions;
    if (rcn_kind_regions (json_object_get (b, "regions"), "pass", env->roster, true, regions,
                          REGIONS_MAX, &n_regions, why, whylen) != RCN_OK)
        return RCN_EINVAL;
    if (!(masked = mask_name (name)))
        return RCN_ENOMEM;
    p.pass_id = (char *) pass_id;
    p.kind = (Rcn__PassIssue__Kind) k;
    p.holder_masked = masked;
    p.plate = plate ? (char *) plate : (char *) "";
    p.valid_from_ms = from;
    p.valid_until_ms = until;
    p.regions = regions;
    p.n_regions = n_regions;
    p.id_ops = OPS_MIN;
    p.id_mem_kib = MEM_KIB_MIN;
    memset (hash, 0, sizeof hash);
    p.id_salt.data = salt;
    p.id_salt.len = SALT_SIZE;
    p.id_hash.data = hash;
    p.id_hash.len = ID_HASH_SIZE;
    if (validate_issue (&p, now_ms, why, whylen) != RCN_OK)
        goto fail;
    uint8_t kbuf[32 + PASS_ID_MAX];
    MDB_val kk, kv;
    if (id_key (env->origin, pass_id, kbuf, &kk) != RCN_OK)
        goto fail;
    int mrc = mdb_get (v->txn, v->dbi[DB_ID], &kk, &kv);
    if (mrc == 0 && kv.mv_size == 32) {
        rc = same_id_again (v, kv.mv_data, &p, frc == RCN_OK, status, id, why, whylen);
        goto fail;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = RCN_EDB;
        goto fail;
    }
    rcn_random_buf (salt, sizeof salt);
    if ((rc = id_hash (id, salt, p.id_ops, p.id_mem_kib, hash)) != RCN_OK) {
        rcn_errf (why, whylen, "pass: crypto_pwhash ran out of memory");
        goto fail;
    }
    *body_len = rcn__pass_issue__get_packed_size (&p);
    *body = malloc (*body_len);
    if (!*body) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    rcn__pass_issue__pack (&p, *body);
    rc = RCN_OK;
fail:
    free (masked);
    return rc;
}

static int
author_revoke (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *b, uint32_t status,
               uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    Rcn__PassRevoke r = RCN__PASS_REVOKE__INIT;
    uint8_t pass[32];
    bool bad = false;
    const char *hex = str_field (b, "pass", &bad), *reason = str_field (b, "reason", &bad);
    if (bad || !hex || rcn_unhex (hex, pass, 32) != RCN_OK) {
        rcn_errf (why, whylen, "pass revoke: pass: must be the pass's 64-hex-digit hash");
        return RCN_EINVAL;
    }
    size_t fields = 1 + (json_object_get (b, "action") != NULL) + (reason != NULL);
    if (json_object_size (b) != fields) {
        rcn_errf (why, whylen, "pass revoke: takes only the pass and a reason");
        return RCN_EINVAL;
    }
    r.pass.data = pass;
    r.pass.len = 32;
    r.reason = (char *) (reason ? reason : "");
    if (validate_revoke (&r, why, whylen) != RCN_OK)
        return RCN_EINVAL;
    record_t rec;
    int rc = resolve_revoke (v, pass, env->origin, status, env->roster, true, &rec, why, whylen);
    if (rc != RCN_OK)
        return rc == RCN_EBODY ? RCN_EINVAL : rc;
    *body_len = rcn__pass_revoke__get_packed_size (&r);
    *body = malloc (*body_len);
    if (!*body)
        return RCN_ENOMEM;
    rcn__pass_revoke__pack (&r, *body);
    return RCN_OK;
}

static int
pass_author (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req, uint64_t now_ms,
             uint32_t *kind, uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    const json_t *b = json_object_get (req, "body");
    uint32_t status = (uint32_t) json_integer_value (json_object_get (req, "status"));
    if (!json_is_object (b)) {
        rcn_errf (why, whylen, "pass: request has no body object");
        return RCN_EINVAL;
    }
    const char *action = json_string_value (json_object_get (b, "action"));
    if (!action || strcmp (action, "issue") == 0) {
        *kind = RCN__KIND__KIND_PASS_ISSUE;
        return author_issue (v, env, b, status, now_ms, body, body_len, why, whylen);
    }
    if (strcmp (action, "revoke") == 0) {
        *kind = RCN__KIND__KIND_PASS_REVOKE;
        return author_revoke (v, env, b, status, body, body_len, why, whylen);
    }
    rcn_errf (why, whylen, "pass: action \"%.40s\": must be issue or revoke", action);
    return RCN_EINVAL;
}

/* Every pass request is checked against the view (a pass id's first use, a pass's revocation)
 * which an earlier request of the same group may change. */
static bool
pass_depends (const json_t *req)
{
    (void) req;
    return true;
}

/* ---- showing -------------------------------------------------------------------------------- */

static json_t *
issue_json (const Rcn__PassIssue *p)
{
    char salt[2 * SALT_SIZE + 1] = "", hash[2 * ID_HASH_SIZE + 1] = "";
    if (p->id_salt.len == SALT_SIZE)
        rcn_hex (p->id_salt.data, SALT_SIZE, salt);
    if (p->id_hash.len == ID_HASH_SIZE)
        rcn_hex (p->id_hash.data, ID_HASH_SIZE, hash);
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:o}",
                      "pass_id", p->pass_id ? p->pass_id : "", "kind", pkind_name (p->kind),
                      "holder_masked", p->holder_masked ? p->holder_masked : "",
                      "id_salt", salt, "id_hash", hash, "id_ops", (json_int_t) p->id_ops,
                      "id_mem_kib", (json_int_t) p->id_mem_kib, "plate", p->plate ? p->plate : "",
                      "valid_from_ms", (json_int_t) p->valid_from_ms,
                      "valid_until_ms", (json_int_t) p->valid_until_ms,
                      "regions", rcn_kind_regions_json (p->regions, p->n_regions));
}

/* Everything in the body: the salt and the ID hash as hex (neither is a personal detail by
 * itself), the name only as the pass carries it, masked. */
static json_t *
pass_show (uint32_t kind, const uint8_t *body, size_t body_len)
{
    char hex[65];
    if (kind == RCN__KIND__KIND_PASS_REVOKE) {
        Rcn__PassRevoke *r = rcn__pass_revoke__unpack (NULL, body_len, body);
        if (!r)
            return NULL;
        json_t *o = json_pack ("{s:s, s:s, s:s}", "action", "revoke", "pass",
                               r->pass.len == 32 ? rcn_hex (r->pass.data, 32, hex) : "",
                               "reason", r->reason ? r->reason : "");
        rcn__pass_revoke__free_unpacked (r, NULL);
        return o;
    }
    Rcn__PassIssue *p = rcn__pass_issue__unpack (NULL, body_len, body);
    if (!p)
        return NULL;
    json_t *o = issue_json (p);
    rcn__pass_issue__free_unpacked (p, NULL);
    return o;
}

char *
rcn_pass_token (const rcn_entry_t *e)
{
    size_t n = e->signed_len + RCN_SIG_SIZE;
    uint8_t *raw = malloc (n);
    if (!raw)
        return NULL;
    memcpy (raw, e->signed_bytes, e->signed_len);
    memcpy (raw + e->signed_len, e->sig, RCN_SIG_SIZE);
    char *b45 = rcn_base45 (raw, n);
    free (raw);
    char *tok = b45 ? malloc (strlen (b45) + sizeof TOKEN_PREFIX) : NULL;
    if (tok) {
        memcpy (tok, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
        strcpy (tok + sizeof TOKEN_PREFIX - 1, b45);
    }
    free (b45);
    return tok;
}

static const char *
state_at (const Rcn__PassIssue *p, bool revoked, uint64_t now_ms)
{
    return revoked ? "revoked" : now_ms >= p->valid_until_ms ? "expired"
         : now_ms < p->valid_from_ms ? "not_yet_valid" : "valid";
}

/* One pass of the view as JSON: its fields (no salt, no hash: a list has no use for them),
 * issuer, status, and its state at now. NULL when the view is damaged. */
static json_t *
item_json (const rcn_view_t *v, const rcn_roster_t *roster, const uint8_t hash[32],
           const record_t *rec, uint64_t now_ms)
{
    rcn_entry_t *e = NULL, *rv = NULL;
    if (rcn_view_get_by_hash (v, hash, &e) != RCN_OK)
        return NULL;
    Rcn__PassIssue *p = rcn__pass_issue__unpack (NULL, e->h.body_len, e->h.body);
    if (!p) {
        rcn_entry_destroy (&e);
        return NULL;
    }
    char hex[65];
    json_t *o = issue_json (p);
    json_object_del (o, "id_salt");
    json_object_del (o, "id_hash");
    json_object_del (o, "id_ops");
    json_object_del (o, "id_mem_kib");
    json_object_set_new (o, "hash", json_string (rcn_hex (hash, 32, hex)));
    json_object_set_new (o, "origin", json_string (rcn_hex (rec->origin, 32, hex)));
    rcn_kind_region_json (o, "", roster, rec->origin);
    json_object_set_new (o, "seq", json_integer ((json_int_t) e->h.seq));
    json_object_set_new (o, "issued_ms", json_integer ((json_int_t) e->h.time_ms));
    json_object_set_new (o, "status", json_string (rcn_status_name (e->h.status)));
    json_object_set_new (o, "state", json_string (state_at (p, rec->revoked, now_ms)));
    if (rec->revoked && rcn_view_get_by_hash (v, rec->revoke, &rv) == RCN_OK) {
        json_t *r = pass_show (rv->h.kind, rv->h.body, rv->h.body_len);
        json_object_set_new (o, "revoked_by", json_string (rcn_hex (rec->revoke, 32, hex)));
        json_object_set_new (o, "revoked_ms", json_integer ((json_int_t) rv->h.time_ms));
        json_object_set (o, "revoke_reason", json_object_get (r, "reason"));
        json_decref (r);
        rcn_entry_destroy (&rv);
    }
    rcn__pass_issue__free_unpacked (p, NULL);
    rcn_entry_destroy (&e);
    return o;
}

/* {"hash": HEX[, "token": true]}: one pass (with its token), or only its token; {}: every pass,
 * newest first (hash breaking ties, so that every member lists them alike). */
static json_t *
pass_list (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query, uint64_t now_ms,
           char *why, size_t whylen)
{
    const rcn_roster_t *roster = env ? env->roster : NULL;
    const char *want = json_string_value (json_object_get (query, "hash"));
    if (want) {
        uint8_t h[32];
        record_t rec;
        rcn_entry_t *e = NULL;
        int rc = rcn_unhex (want, h, 32) == RCN_OK ? record_get (v, h, &rec) : RCN_EINVAL;
        if (rc == RCN_OK)
            rc = rcn_view_get_by_hash (v, h, &e) == RCN_OK ? RCN_OK : RCN_EDB;
        if (rc != RCN_OK) {
            rcn_errf (why, whylen, "pass: %s", rc == RCN_EINVAL ? "the hash must be 64 hex digits"
                      : rc == RCN_ENOTFOUND ? "this log holds no valid pass with that hash"
                      : "the view could not be read");
            return NULL;
        }
        char *tok = rcn_pass_token (e);
        rcn_entry_destroy (&e);
        json_t *o = !tok ? NULL : json_is_true (json_object_get (query, "token"))
                  ? json_pack ("{s:s}", "hash", want) : item_json (v, roster, h, &rec, now_ms);
        if (o)
            json_object_set_new (o, "token", json_string (tok));
        free (tok);
        if (!o)
            rcn_errf (why, whylen, "pass: the view could not be read");
        return o;
    }
    MDB_cursor *cur = NULL;
    json_t *items = json_array ();
    MDB_val k, val;
    int mrc = mdb_cursor_open (v->txn, v->dbi[DB_ISSUE], &cur);
    for (mrc = mrc ? mrc : mdb_cursor_get (cur, &k, &val, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get (cur, &k, &val, MDB_NEXT)) {
        record_t rec;
        json_t *o = NULL;
        if (k.mv_size != 32 || record_unpack (&val, &rec) != RCN_OK
            || !(o = item_json (v, roster, k.mv_data, &rec, now_ms)))
            break;
        json_array_append_new (items, o);
    }
    if (cur)
        mdb_cursor_close (cur);
    if (mrc != MDB_NOTFOUND) {
        json_decref (items);
        rcn_errf (why, whylen, "pass list: the view could not be read");
        return NULL;
    }
    return rcn_kind_newest_first (items, "issued_ms", "pass list", why, whylen);
}

/* ---- rcctl ---------------------------------------------------------------------------------- */

/* "310000,320000" into a JSON list of strings. */
static json_t *
codes_json (const char *s)
{
    json_t *arr = json_array ();
    char *copy = strdup (s), *save = NULL;
    bool ok = copy != NULL;
    for (char *tok = ok ? strtok_r (copy, ", ", &save) : NULL; tok; tok = strtok_r (NULL, ", ", &save)) {
        json_t *code = json_string (tok);
        ok = ok && code && json_array_append_new (arr, code) == 0;
    }
    free (copy);
    if (!ok) {
        json_decref (arr);
        return NULL;
    }
    return arr;
}

/* A TIME flag or field: RFC 3339, Unix ms or a duration (clock.h); from JSON also an integer. */
static int
time_arg (const json_t *j, const char *what, uint64_t now_ms, json_t *body, const char *key,
          char *why, size_t whylen)
{
    uint64_t t;
    if (json_is_integer (j) && json_integer_value (j) >= 0)
        t = (uint64_t) json_integer_value (j);
    else if (!json_is_string (j)) {
        rcn_errf (why, whylen, "pass issue: %s: a time (RFC 3339, Unix ms or +30d)", what);
        return RCN_EINVAL;
    }
    else {
        char twhy[256];
        if (rcn_time_parse (json_string_value (j), now_ms, &t, twhy, sizeof twhy) != RCN_OK) {
            rcn_errf (why, whylen, "pass issue: %s: %s", what, twhy);
            return RCN_EINVAL;
        }
    }
    json_object_set_new (body, key, json_integer ((json_int_t) t));
    return RCN_OK;
}

/* The pass from stdin's JSON object (kind.h: input) into body. */
static int
issue_from_input (const json_t *in, uint64_t now_ms, json_t *body, char *why, size_t whylen)
{
    const char *key;
    const json_t *val;
    json_object_foreach ((json_t *) in, key, val) {
        if (strcmp (key, "valid_from") == 0 || strcmp (key, "valid_until") == 0) {
            char k2[32];
            snprintf (k2, sizeof k2, "%s_ms", key);
            if (time_arg (val, key, now_ms, body, k2, why, whylen) != RCN_OK)
                return RCN_EINVAL;
        }
        else if (strcmp (key, "regions") == 0 && json_is_array (val)) {
            json_t *arr = json_array ();
            size_t i;
            const json_t *it;
            json_array_foreach (val, i, it) {
                char code[16];
                if (json_is_integer (it)) {
                    snprintf (code, sizeof code, "%06lld", (long long) json_integer_value (it));
                    json_array_append_new (arr, json_string (code));
                }
                else
                    json_array_append (arr, (json_t *) it);
            }
            json_object_set_new (body, key, arr);
        }
        else if (strcmp (key, "pass_id") == 0 || strcmp (key, "kind") == 0
                 || strcmp (key, "holder") == 0 || strcmp (key, "plate") == 0
                 || strcmp (key, "regions") == 0)
            json_object_set (body, key, (json_t *) val);
        else {
            rcn_errf (why, whylen, "pass issue: unknown field \"%.40s\" in the JSON on stdin "
                      "(pass_id, kind, holder, plate, valid_from, valid_until, regions)", key);
            return RCN_EINVAL;
        }
    }
    return RCN_OK;
}

static int
pass_cli (int argc, char **argv, const json_t *input, uint64_t now_ms, json_t **req, char *why,
          size_t whylen)
{
    static const struct option opts[] = {
        { "pass-id", required_argument, NULL, 'p' },
        { "kind", required_argument, NULL, 'k' },
        { "name", required_argument, NULL, 'n' },
        { "id-number", required_argument, NULL, 'i' },
        { "plate", required_argument, NULL, 'l' },
        { "valid-from", required_argument, NULL, 'f' },
        { "valid-until", required_argument, NULL, 'u' },
        { "regions", required_argument, NULL, 'r' },
        { "qr", required_argument, NULL, 'q' },
        { "reason", required_argument, NULL, 'R' },
        { "roster", required_argument, NULL, 'o' },
        { "at", required_argument, NULL, 'a' },
        { "here", required_argument, NULL, 'h' },
        { "exercise", no_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 },
    };
    /* Which flags each verb takes. */
    static const struct { const char *verb, *flags; } allowed[] = {
        { "issue", "pknilfurq" }, { "revoke", "R" }, { "list", "" }, { "show", "q" },
        { "verify", "oaihx" },
    };
    if (argc < 1) {
        rcn_errf (why, whylen, "pass: say issue, revoke HASH, list, show HASH or verify TOKEN");
        return RCN_EINVAL;
    }
    const char *verb = argv[0], *flags = NULL;
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (strcmp (verb, allowed[i].verb) == 0)
            flags = allowed[i].flags;
    if (!flags) {
        rcn_errf (why, whylen, "pass: unknown verb \"%.40s\" (issue, revoke, list, show, verify)",
                  verb);
        return RCN_EINVAL;
    }
    bool issue = strcmp (verb, "issue") == 0;
    json_t *r = json_object (), *body = json_object ();
    json_object_set_new (r, "verb", json_string (verb));
    if (issue && input && issue_from_input (input, now_ms, body, why, whylen) != RCN_OK)
        goto fail;
    bool from_input = issue && input;
    optind = 0;
    opterr = 0;
    int c, li = -1;
    while ((c = getopt_long (argc, argv, "", opts, &li)) != -1) {
        /* A known flag is named by its table entry (argv[optind - 1] is its value). */
        char flag[40];
        snprintf (flag, sizeof flag, "--%s", c != '?' && c != ':' && li >= 0 ? opts[li].name
                  : argv[optind - 1] + strspn (argv[optind - 1], "-"));
        li = -1;
        if (c == '?' || c == ':' || !strchr (flags, c)) {
            rcn_errf (why, whylen, "pass %s: unknown or misplaced flag \"%s\"", verb, flag);
            goto fail;
        }
        if (from_input && c != 'q') {
            rcn_errf (why, whylen, "pass issue: the pass came as JSON on stdin: give %s there",
                      flag);
            goto fail;
        }
        json_t *str = c == 'x' ? json_true () : json_string (optarg);
        if (!str) {
            rcn_errf (why, whylen, "pass %s: %s must be UTF-8 text", verb, flag);
            goto fail;
        }
        switch (c) {
        case 'p': json_object_set_new (body, "pass_id", str); break;
        case 'k': json_object_set_new (body, "kind", str); break;
        case 'l': json_object_set_new (body, "plate", str); break;
        case 'n': case 'i': {
            json_t *h = json_object_get (body, "holder");
            if (!h)
                json_object_set_new (body, "holder", h = json_object ());
            json_object_set_new (h, c == 'n' ? "name" : "id_number", str);
            break;
        }
        case 'f': case 'u':
            if (time_arg (str, c == 'f' ? "--valid-from" : "--valid-until", now_ms, body,
                          c == 'f' ? "valid_from_ms" : "valid_until_ms", why, whylen) != RCN_OK) {
                json_decref (str);
                goto fail;
            }
            json_decref (str);
            break;
        case 'r': {
            json_t *arr = codes_json (optarg);
            json_decref (str);
            if (!arr) {
                rcn_errf (why, whylen, "pass issue: --regions: six-digit codes separated by commas");
                goto fail;
            }
            json_object_set_new (body, "regions", arr);
            break;
        }
        case 'q': json_object_set_new (r, "qr", str); break;
        case 'R': json_object_set_new (body, "reason", str); break;
        case 'o': json_object_set_new (r, "roster", str); break;
        case 'h': {
            uint32_t code;
            char rwhy[128];
            json_decref (str);
            if (rcn_region_parse (optarg, &code, rwhy, sizeof rwhy) != RCN_OK) {
                rcn_errf (why, whylen, "pass verify: --here: %s", rwhy);
                goto fail;
            }
            json_object_set_new (r, "here", json_integer (code));
            break;
        }
        case 'a': {
            uint64_t t;
            json_decref (str);
            if (rcn_time_parse (optarg, now_ms, &t, why, whylen) != RCN_OK)
                goto fail;
            json_object_set_new (r, "at_ms", json_integer ((json_int_t) t));
            break;
        }
        case 'x': json_object_set_new (r, "exercise", str); break;
        default: json_decref (str); break;
        }
    }
    /* verify's --id-number is the checkpoint's, not a holder field. */
    if (strcmp (verb, "verify") == 0) {
        json_t *h = json_object_get (body, "holder");
        if (h)
            json_object_set (r, "id_number", json_object_get (h, "id_number"));
        json_object_clear (body);
    }
    int rest = argc - optind;
    bool takes_arg = !issue && strcmp (verb, "list") != 0;
    if (rest != (takes_arg ? 1 : 0)) {
        if (takes_arg)
            rcn_errf (why, whylen, "pass %s: give the %s", verb, strcmp (verb, "verify") == 0
                      ? "token (RCN1:…, quoted: it may hold spaces; - reads it from stdin)"
                      : "pass's hash (see pass list)");
        else
            rcn_errf (why, whylen, "pass %s: unexpected argument \"%.40s\"", verb, argv[optind]);
        goto fail;
    }
    if (issue) {
        json_object_set_new (r, "op", json_string ("author"));
        /* Once written, rcctl reads the token back from the log (kind.h "after"). */
        json_object_set_new (r, "after", json_pack ("{s:b}", "token", 1));
        json_object_set_new (body, "action", json_string ("issue"));
        const json_t *h = json_object_get (body, "holder");
        const char *missing = !json_object_get (body, "pass_id") ? "--pass-id"
                            : !json_object_get (body, "kind") ? "--kind"
                            : !json_object_get (h, "name") ? "--name"
                            : !json_object_get (h, "id_number") ? "--id-number"
                            : !json_object_get (body, "valid_until_ms") ? "--valid-until" : NULL;
        if (missing) {
            rcn_errf (why, whylen, "pass issue: %s is required%s", missing, from_input
                      ? " (its field in the JSON on stdin)" : "");
            goto fail;
        }
        json_object_set_new (r, "body", body);
    }
    else if (strcmp (verb, "revoke") == 0) {
        if (!json_object_get (body, "reason")) {
            rcn_errf (why, whylen, "pass revoke: --reason is required");
            goto fail;
        }
        json_object_set_new (r, "op", json_string ("author"));
        json_object_set_new (body, "action", json_string ("revoke"));
        json_object_set_new (body, "pass", json_string (argv[optind]));
        json_object_set_new (r, "body", body);
    }
    else if (strcmp (verb, "list") == 0) {
        json_object_set_new (r, "op", json_string ("list"));
        json_object_set_new (r, "query", body);
    }
    else {
        json_object_set_new (r, "op", json_string ("local"));
        json_object_set_new (r, strcmp (verb, "verify") == 0 ? "token" : "hash",
                             json_string (argv[optind]));
        json_decref (body);
    }
    *req = r;
    return RCN_OK;
fail:
    json_decref (body);
    json_decref (r);
    return RCN_EINVAL;
}

static void
day (json_int_t ms, char *buf, size_t len)
{
    rcn_time_format ((uint64_t) ms, buf, len);
    if (strlen (buf) > 16)
        strcpy (buf + 16, "Z");        /* to the minute: 2026-11-22T01:30Z */
}

static void
print_token (const json_t *o)
{
    printf ("pass %s\ntoken %s\n", json_string_value (json_object_get (o, "hash")),
            json_string_value (json_object_get (o, "token")));
}

static void
print_one (const json_t *o)
{
    char from[40], until[40], when[40];
    day (json_integer_value (json_object_get (o, "valid_from_ms")), from, sizeof from);
    day (json_integer_value (json_object_get (o, "valid_until_ms")), until, sizeof until);
    const char *plate = json_string_value (json_object_get (o, "plate"));
    const char *region = json_string_value (json_object_get (o, "region"));
    const char *status = json_string_value (json_object_get (o, "status"));
    printf ("pass        %s\n", json_string_value (json_object_get (o, "hash")));
    printf ("pass id     %s\n", json_string_value (json_object_get (o, "pass_id")));
    printf ("kind        %s%s\n", json_string_value (json_object_get (o, "kind")),
            status && strcmp (status, "actual") != 0 ? "  [EXERCISE/TEST]" : "");
    printf ("holder      %s\n", json_string_value (json_object_get (o, "holder_masked")));
    printf ("plate       %s\n", plate && *plate ? plate : "-");
    printf ("valid       %s .. %s (UTC)\n", from, until);
    const char *rname = json_string_value (json_object_get (o, "region_name"));
    printf ("issued by   %s %s\n", region ? region : "?", rname ? rname : "");
    printf ("recognised  ");
    const json_t *rs = json_object_get (o, "regions");
    size_t i;
    const json_t *it;
    if (json_array_size (rs) == 0)
        printf ("the whole alliance");
    json_array_foreach (rs, i, it)
        printf ("%s%s", i ? ", " : "", json_string_value (it));
    printf ("\nstate       %s\n", json_string_value (json_object_get (o, "state")));
    if (json_object_get (o, "revoked_ms")) {
        day (json_integer_value (json_object_get (o, "revoked_ms")), when, sizeof when);
        const char *reason = json_string_value (json_object_get (o, "revoke_reason"));
        printf ("revoked     %s: %s\n", when, reason ? reason : "");
    }
    if (json_object_get (o, "token"))
        printf ("token       %s\n", json_string_value (json_object_get (o, "token")));
}

static void
pass_print (const json_t *list)
{
    if (json_is_object (list)) {
        if (json_object_get (list, "pass_id"))
            print_one (list);
        else
            print_token (list);
        return;
    }
    if (json_array_size (list) == 0) {
        printf ("no passes\n");
        return;
    }
    printf ("%-64s  %-6s  %-16s  %-21s  %-8s  %-17s  %-13s\n", "PASS (hash for revoke/show)",
            "REGION", "PASS ID", "KIND", "HOLDER", "VALID UNTIL (UTC)", "STATE");
    size_t i;
    const json_t *o;
    json_array_foreach (list, i, o) {
        char until[40];
        day (json_integer_value (json_object_get (o, "valid_until_ms")), until, sizeof until);
        const char *status = json_string_value (json_object_get (o, "status"));
        const char *region = json_string_value (json_object_get (o, "region"));
        printf ("%-64s  %-6s  %-16s  %-21s  %-8s  %-17s  %s%s\n",
                json_string_value (json_object_get (o, "hash")), region ? region : "?",
                json_string_value (json_object_get (o, "pass_id")),
                json_string_value (json_object_get (o, "kind")),
                json_string_value (json_object_get (o, "holder_masked")), until,
                json_string_value (json_object_get (o, "state")),
                status && strcmp (status, "actual") != 0 ? "  [EXERCISE/TEST]" : "");
    }
}

/* ---- local verbs: verify at a checkpoint, show a pass and its token ------------------------- */

typedef struct {
    const uint8_t *hash;
    const rcn_roster_t *roster;
    uint64_t now_ms;
    int found;                  /* 0 not held, 1 in the view, 2 held but not in the view */
    char invalid[256];
    record_t rec;
    json_t *item;               /* show: the pass as `list` shows it */
    char *token;                /* show */
    uint64_t revoked_ms;        /* verify */
    char reason[REASON_MAX + 1];
} lookup_t;

static int
lookup_in_view (const rcn_view_t *v, void *ctx)
{
    lookup_t *l = ctx;
    int rc = record_get (v, l->hash, &l->rec);
    rcn_entry_t *e = NULL;
    if (rc == RCN_ENOTFOUND) {
        int invalid = 0;
        if (rcn_view_get_by_hash (v, l->hash, &e) == RCN_OK) {
            l->found = 2;
            if (rcn_view_is_invalid (v, l->hash, &invalid) == RCN_OK && invalid
                && rcn_store_invalid_reason (v->store, l->hash, l->invalid, sizeof l->invalid) != RCN_OK)
                snprintf (l->invalid, sizeof l->invalid, "recorded invalid");
        }
        rcn_entry_destroy (&e);
        return RCN_OK;
    }
    if (rc != RCN_OK)
        return rc;
    l->found = 1;
    if (l->rec.revoked && rcn_view_get_by_hash (v, l->rec.revoke, &e) == RCN_OK) {
        Rcn__PassRevoke *r = rcn__pass_revoke__unpack (NULL, e->h.body_len, e->h.body);
        l->revoked_ms = e->h.time_ms;
        snprintf (l->reason, sizeof l->reason, "%s", r && r->reason ? r->reason : "");
        if (r)
            rcn__pass_revoke__free_unpacked (r, NULL);
        rcn_entry_destroy (&e);
    }
    if (l->token == NULL && l->item == NULL && l->now_ms) {
        if (!(l->item = item_json (v, l->roster, l->hash, &l->rec, l->now_ms)))
            return RCN_EDB;
        if (rcn_view_get_by_hash (v, l->hash, &e) != RCN_OK)
            return RCN_EDB;
        l->token = rcn_pass_token (e);
        rcn_entry_destroy (&e);
        if (!l->token)
            return RCN_ENOMEM;
    }
    return RCN_OK;
}

/* Reads the token from stdin ("-"), as a scanner pipes it: one line. Caller frees. */
static char *
token_from_stdin (void)
{
    size_t cap = 0;
    char *line = NULL;
    ssize_t n = getline (&line, &cap, stdin);
    if (n < 0) {
        free (line);
        return NULL;
    }
    return line;
}

typedef struct {
    bool valid;
    char reason[640];
    json_t *out;
} verdict_t;

static void
refuse (verdict_t *v, const char *fmt, const char *arg)
{
    if (!v->valid)
        return;                 /* the first reason is the one that counts */
    v->valid = false;
    snprintf (v->reason, sizeof v->reason, fmt, arg);
}

static int
verify_print (verdict_t *vd, bool json)
{
    json_object_set_new (vd->out, "valid", json_boolean (vd->valid));
    json_object_set_new (vd->out, "verdict", json_string (vd->valid ? "valid" : "invalid"));
    if (!vd->valid)
        json_object_set_new (vd->out, "reason", json_string (vd->reason));
    if (json) {
        json_dumpf (vd->out, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        fputc ('\n', stdout);
    }
    else {
        const json_t *o = vd->out;
        if (vd->valid)
            printf ("VALID pass\n");
        else
            printf ("INVALID pass: %s\n", vd->reason);
        static const char *const rows[][2] = {
            { "status", "status" }, { "kind", "kind" }, { "holder", "holder_masked" },
            { "plate", "plate" }, { "valid from", "valid_from" }, { "valid until", "valid_until" },
            { "issued by", "issuer" }, { "recognised", "recognised" }, { "here", "here_text" },
            { "ID number", "id_check" }, { "revocation", "revocation" }, { "pass id", "pass_id" },
            { "pass", "hash" }, { "checked at", "at" },
        };
        for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
            const char *s = json_string_value (json_object_get (o, rows[i][1]));
            if (s)
                printf ("  %-12s %s\n", rows[i][0], *s ? s : "-");
        }
    }
    json_decref (vd->out);
    return vd->valid ? 0 : 1;
}

bool
rcn_pass_check_token (const char *token, const rcn_roster_t *roster, uint64_t at, uint32_t here,
                      bool exercise, json_t *out, char *reason, size_t reason_len,
                      rcn_entry_t **entry_out, Rcn__PassIssue **issue_out)
{
    verdict_t vd = { .valid = true, .out = out };
    rcn_entry_t *e = NULL;
    Rcn__PassIssue *p = NULL;
    uint8_t *raw = NULL;
    char why[512] = "", hex[65], buf[640];
    const char *t = token;
    size_t rawlen = 0;
    int rc;
    if (!t || strncmp (t, TOKEN_PREFIX, strlen (TOKEN_PREFIX)) != 0) {
        refuse (&vd, "not a pass token (it does not start with %s)", TOKEN_PREFIX);
        goto done;
    }
    if ((rc = rcn_unbase45 (t + strlen (TOKEN_PREFIX), &raw, &rawlen)) != RCN_OK) {
        refuse (&vd, "%s", rc == RCN_EINVAL ? "not a pass token (damaged: not Base45)"
                                            : "out of memory");
        goto done;
    }
    if (rawlen < RCN_HEADER_SIZE + RCN_SIG_SIZE
        || rcn_entry_from_parts (raw, rawlen - RCN_SIG_SIZE, raw + rawlen - RCN_SIG_SIZE,
                                 RCN_SIG_SIZE, &e) != RCN_OK) {
        refuse (&vd, "%s", "not a pass token (damaged: not a signed rcn entry)");
        goto done;
    }
    json_object_set_new (vd.out, "hash", json_string (rcn_hex (rcn_entry_hash (e), 32, hex)));
    if (rcn_entry_verify (e) != RCN_OK) {
        refuse (&vd, "%s", "the signature does not verify: the token was altered or damaged");
        goto done;
    }
    const rcn_member_t *issuer = rcn_roster_by_origin (roster, e->h.origin);
    if (!issuer) {
        refuse (&vd, "%s", "issued by a key that is not in this roster");
        goto done;
    }
    snprintf (buf, sizeof buf, "%06u %s", issuer->region, issuer->name);
    json_object_set_new (vd.out, "issuer", json_string (buf));
    snprintf (buf, sizeof buf, "%06u", issuer->region);
    json_object_set_new (vd.out, "issuer_region", json_string (buf));
    if (e->h.kind != RCN__KIND__KIND_PASS_ISSUE) {
        const rcn_kind_t *k = rcn_kind_by_id (e->h.kind);
        refuse (&vd, "not a pass but a signed %s entry", k ? k->name : "unknown");
        goto done;
    }
    if (issue_parse (e->h.body, e->h.body_len, e->h.time_ms, &p, why, sizeof why) != RCN_OK) {
        refuse (&vd, "malformed pass: %s", why);
        goto done;
    }
    /* What the officer needs, whatever the verdict. */
    const char *status = rcn_status_name (e->h.status);
    json_object_set_new (vd.out, "status", json_string (status ? status : "unknown"));
    json_object_set_new (vd.out, "kind", json_string (pkind_name (p->kind)));
    json_object_set_new (vd.out, "holder_masked", json_string (p->holder_masked));
    json_object_set_new (vd.out, "plate", json_string (p->plate ? p->plate : ""));
    rcn_time_format (p->valid_from_ms, buf, sizeof buf);
    json_object_set_new (vd.out, "valid_from", json_string (buf));
    rcn_time_format (p->valid_until_ms, buf, sizeof buf);
    json_object_set_new (vd.out, "valid_until", json_string (buf));
    json_object_set_new (vd.out, "pass_id", json_string (p->pass_id));
    json_object_set_new (vd.out, "regions", rcn_kind_regions_json (p->regions, p->n_regions));
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n_regions && off < sizeof buf - 8; i++)
        off += (size_t) snprintf (buf + off, sizeof buf - off, "%s%06u", i ? ", " : "",
                                  p->regions[i]);
    json_object_set_new (vd.out, "recognised", json_string (p->n_regions ? buf
                                                            : "the whole alliance"));
    if (e->h.status != RCN_STATUS_ACTUAL && !exercise)
        refuse (&vd, "a drill pass (status %s): not valid for real use (verify with --exercise "
                "in a drill)", status ? status : "unknown");
    if (at + SKEW_MS < p->valid_from_ms) {
        rcn_time_format (p->valid_from_ms, buf, sizeof buf);
        refuse (&vd, "not yet valid: valid from %s", buf);
    }
    if (at >= p->valid_until_ms + SKEW_MS) {
        rcn_time_format (p->valid_until_ms, buf, sizeof buf);
        refuse (&vd, "expired at %s", buf);
    }
    if (here) {
        bool ok = p->n_regions == 0;
        for (size_t i = 0; i < p->n_regions; i++)
            ok = ok || p->regions[i] == (uint32_t) here;
        snprintf (buf, sizeof buf, "%06lld", (long long) here);
        json_object_set_new (vd.out, "here", json_string (buf));
        json_object_set_new (vd.out, "recognised_here", json_boolean (ok));
        snprintf (buf, sizeof buf, "%06lld: %s", (long long) here, ok ? "recognised here"
                  : "NOT recognised here");
        json_object_set_new (vd.out, "here_text", json_string (buf));
        if (!ok) {
            snprintf (buf, sizeof buf, "%06lld", (long long) here);
            refuse (&vd, "not recognised in %s", buf);
        }
    }
done:
    free (raw);
    if (!vd.valid)
        snprintf (reason, reason_len, "%s", vd.reason);
    if (entry_out)
        *entry_out = e;
    else
        rcn_entry_destroy (&e);
    if (issue_out)
        *issue_out = p;
    else if (p)
        rcn__pass_issue__free_unpacked (p, NULL);
    return vd.valid;
}

static int
verify_local (const json_t *req, const rcn_roster_t *roster, rcn_store_t *store, bool json)
{
    verdict_t vd = { .valid = true, .out = json_object () };
    rcn_roster_t *own = NULL;
    rcn_entry_t *e = NULL;
    Rcn__PassIssue *p = NULL;
    char *line = NULL, why[512] = "", buf[640];
    int rc;
    const char *tok = json_string_value (json_object_get (req, "token"));
    const char *rpath = json_string_value (json_object_get (req, "roster"));
    const char *idn = json_string_value (json_object_get (req, "id_number"));
    bool exercise = json_is_true (json_object_get (req, "exercise"));
    uint64_t at = json_object_get (req, "at_ms")
                ? (uint64_t) json_integer_value (json_object_get (req, "at_ms")) : rcn_now_ms ();
    /* The checkpoint's own region: --here, or the member's whose dir was given. */
    const json_t *hj = json_object_get (req, "here");
    uint32_t code32 = 0;
    json_int_t here = json_is_string (hj) && rcn_region_parse (json_string_value (hj), &code32,
                                                               NULL, 0) == RCN_OK
                    ? (json_int_t) code32 : json_integer_value (hj);
    int code = 1;
    if (rpath) {
        if (rcn_roster_load (rpath, &own, why, sizeof why) != RCN_OK) {
            fprintf (stderr, "rcctl: pass verify: %s\n", why);
            json_decref (vd.out);
            return 2;
        }
        roster = own;
    }
    if (!roster) {
        fprintf (stderr, "rcctl: pass verify: give --roster FILE (the alliance roster), or -d DIR "
                 "of a member\n");
        json_decref (vd.out);
        return 2;
    }
    if (tok && strcmp (tok, "-") == 0) {
        if (!(line = token_from_stdin ())) {
            fprintf (stderr, "rcctl: pass verify: no token on stdin\n");
            json_decref (vd.out);
            rcn_roster_destroy (&own);
            return 2;
        }
        tok = line;
    }
    /* A scanner ends its line with a newline; spaces are Base45 and stay. */
    size_t tlen = strlen (tok);
    char *t = strndup (tok, tlen);
    while (t && tlen > 0 && (t[tlen - 1] == '\n' || t[tlen - 1] == '\r'))
        t[--tlen] = '\0';
    rcn_time_format (at, buf, sizeof buf);
    json_object_set_new (vd.out, "at", json_string (buf));
    if (!t) {
        refuse (&vd, "%s", "out of memory");
        goto out;
    }
    if (!rcn_pass_check_token (t, roster, at, (uint32_t) here, exercise, vd.out, vd.reason,
                               sizeof vd.reason, &e, &p))
        vd.valid = false;
    if (!e || !p)
        goto out;
    const rcn_member_t *issuer = rcn_roster_by_origin (roster, e->h.origin);
    if (store) {
        lookup_t l = { .hash = e->hash, .roster = roster };
        rc = rcn_store_read (store, &rcn_kind_pass, lookup_in_view, &l);
        if (rc == RCN_ENOTFOUND || (rc == RCN_OK && l.found == 0))
            json_object_set_new (vd.out, "revocation", json_string (
                "unknown: this member's log does not hold the pass"));
        else if (rc != RCN_OK)
            json_object_set_new (vd.out, "revocation", json_string (
                "unknown: this member's log could not be read"));
        else if (l.found == 2) {
            snprintf (buf, sizeof buf, "this member's log does not count the pass%s%s",
                      l.invalid[0] ? ": " : " (its issuer's chain is forked there)", l.invalid);
            json_object_set_new (vd.out, "revocation", json_string (buf));
            refuse (&vd, "%s", buf);
        }
        else if (l.rec.revoked) {
            char when[40];
            rcn_time_format (l.revoked_ms, when, sizeof when);
            snprintf (buf, sizeof buf, "revoked by %06u at %s: %s", issuer->region, when, l.reason);
            json_object_set_new (vd.out, "revocation", json_string (buf));
            json_object_set_new (vd.out, "revoked", json_true ());
            refuse (&vd, "%s", buf);
        }
        else
            json_object_set_new (vd.out, "revocation", json_string (
                "not revoked, as far as this member's log shows"));
    }
    else
        json_object_set_new (vd.out, "revocation", json_string (
            "not checked (offline: give -d DIR of a member to check revocations)"));
    if (idn) {
        char iwhy[128];
        uint8_t h[ID_HASH_SIZE];
        const char *said;
        if (rcn_id_number_check (idn, iwhy, sizeof iwhy) != RCN_OK) {
            said = "the number given is not a valid resident ID number";
            refuse (&vd, "%s", said);
        }
        else if (id_hash (idn, p->id_salt.data, p->id_ops, p->id_mem_kib, h) != RCN_OK) {
            said = "not checked: out of memory";
            refuse (&vd, "%s", "the ID number could not be checked: out of memory");
        }
        else if (sodium_memcmp (h, p->id_hash.data, ID_HASH_SIZE) != 0) {
            said = "does NOT match the holder's";
            refuse (&vd, "%s", "the ID number given is not the holder's");
        }
        else
            said = "matches the holder's";
        json_object_set_new (vd.out, "id_check", json_string (said));
        json_object_set_new (vd.out, "id_match", json_boolean (strncmp (said, "matches", 7) == 0));
        sodium_memzero (h, sizeof h);
    }
out:
    code = verify_print (&vd, json);
    if (p)
        rcn__pass_issue__free_unpacked (p, NULL);
    rcn_entry_destroy (&e);
    free (t);
    free (line);
    rcn_roster_destroy (&own);
    return code;
}

static int
show_local (const json_t *req, const rcn_roster_t *roster, rcn_store_t *store, bool json)
{
    const char *hex = json_string_value (json_object_get (req, "hash"));
    const char *qr = json_string_value (json_object_get (req, "qr"));
    uint8_t h[32];
    char why[512];
    if (rcn_unhex (hex, h, 32) != RCN_OK) {
        fprintf (stderr, "rcctl: pass show: the hash must be 64 hex digits (see pass list)\n");
        return 2;
    }
    if (!store) {
        fprintf (stderr, "rcctl: pass show: needs -d DIR of a member whose log holds the pass\n");
        return 2;
    }
    lookup_t l = { .hash = h, .roster = roster, .now_ms = rcn_now_ms () };
    int rc = rcn_store_read (store, &rcn_kind_pass, lookup_in_view, &l);
    int code = 0;
    if (rc != RCN_OK || l.found != 1) {
        fprintf (stderr, "rcctl: pass show: %s\n", rc != RCN_OK && rc != RCN_ENOTFOUND
                 ? "the log could not be read" : l.found == 2 ? "the log holds that entry but "
                 "counts no pass for it" : "this log holds no pass with that hash");
        code = 1;
        goto done;
    }
    json_object_set_new (l.item, "token", json_string (l.token));
    if (qr) {
        if (rcn_qr_write_png (l.token, qr, why, sizeof why) != RCN_OK) {
            fprintf (stderr, "rcctl: pass show: %s\n", why);
            code = 1;
            goto done;
        }
        json_object_set_new (l.item, "qr", json_string (qr));
    }
    if (json) {
        json_dumpf (l.item, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        fputc ('\n', stdout);
    }
    else {
        print_one (l.item);
        if (qr)
            printf ("QR code     %s\n", qr);
    }
done:
    json_decref (l.item);
    free (l.token);
    return code;
}

static int
pass_local (const json_t *req, const rcn_roster_t *roster, rcn_store_t *store, bool json)
{
    const char *verb = json_string_value (json_object_get (req, "verb"));
    if (verb && strcmp (verb, "verify") == 0)
        return verify_local (req, roster, store, json);
    if (verb && strcmp (verb, "show") == 0)
        return show_local (req, roster, store, json);
    fprintf (stderr, "rcctl: pass: \"%s\" is not a local verb\n", verb ? verb : "");
    return 2;
}

static const char *const s_json_verbs[] = { "issue", NULL };
static const char *const s_json_flag_verbs[] = { "revoke", NULL };

const rcn_kind_t rcn_kind_pass = {
    .kind = RCN__KIND__KIND_PASS_ISSUE,
    .also = s_also,
    .name = "pass",
    .dbs = s_dbs,
    .apply = pass_apply,
    .author = pass_author,
    .depends = pass_depends,
    .show = pass_show,
    .list = pass_list,
    .cli = pass_cli,
    .print = pass_print,
    .local = pass_local,
    .json_verbs = s_json_verbs,
    .json_flag_verbs = s_json_flag_verbs,
    .usage =
        "  pass issue --pass-id ID --kind commuter|freight|observation_release|quarantine_completion\n"
        "             --name NAME --id-number N [--plate P] [--valid-from TIME] --valid-until TIME\n"
        "             [--regions CODES] [--qr FILE.png]      (or --json with the pass on stdin)\n"
        "  pass revoke HASH --reason TEXT\n"
        "  pass list [--json]\n"
        "  pass show HASH [--qr FILE.png] [--json]   one pass and its token (and QR code)\n"
        "  pass verify TOKEN|- [--roster FILE] [--at TIME] [--id-number N] [--here CODE]\n"
        "             [--exercise] [--json]            at a checkpoint: no node needed\n",
};
