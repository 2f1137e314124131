/* sealkey.c — the SealKey kind (DESIGN.md §4, §7): each member's sealing public keys, so that
 * any member can seal personal details for any other (sealkey.h).
 *
 * A node publishes its keys by itself (auto_author) as soon as it may author: the current
 * period's and the next's, which the node makes a period ahead (rcn_seal_ensure), so that
 * senders always hold the key for the time they seal at, and a new member is readable by the
 * others within a heartbeat or two of its first start.
 *
 * View:  sealkey  origin[32] | be64(from_ms) -> public key[32] */
#include "rcn/sealkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn.pb-c.h"

#define VKEY_SIZE (RCN_KEY_SIZE + 8)

static const char *const s_dbs[] = { "sealkey", NULL };

static void
vkey (uint8_t out[VKEY_SIZE], const uint8_t origin[RCN_KEY_SIZE], uint64_t from_ms)
{
    memcpy (out, origin, RCN_KEY_SIZE);
    rcn_be_put (out + RCN_KEY_SIZE, from_ms, 8);
}

static int
sealkey_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__SealKey *m = rcn__seal_key__unpack (NULL, e->h.body_len, e->h.body);
    if (!m) {
        rcn_errf (why, whylen, "sealkey: body does not parse");
        return RCN_EBODY;
    }
    int rc = RCN_OK;
    if (m->public_key.len != RCN_SEAL_KEY_SIZE || m->from_ms == 0) {
        rcn_errf (why, whylen, "sealkey: needs a 32-byte public_key and a from_ms");
        rc = RCN_EBODY;
    } else {
        uint8_t k[VKEY_SIZE];
        vkey (k, e->h.origin, m->from_ms);
        MDB_val key = { VKEY_SIZE, k }, val = { RCN_SEAL_KEY_SIZE, m->public_key.data };
        int mrc = mdb_put (v->txn, v->dbi[0], &key, &val, 0);
        if (mrc) {
            rcn_errf (why, whylen, "sealkey view: %s", mdb_strerror (mrc));
            rc = RCN_EDB;
        }
    }
    rcn__seal_key__free_unpacked (m, NULL);
    return rc;
}

int
rcn_sealkey_lookup (const rcn_view_t *any, const uint8_t member[RCN_KEY_SIZE], uint64_t at_ms,
                    uint8_t pk[RCN_SEAL_KEY_SIZE])
{
    rcn_view_t v;
    int rc = rcn_view_of_kind (any, &rcn_kind_sealkey, &v);
    if (rc != RCN_OK)
        return rc;
    MDB_cursor *cur;
    if (mdb_cursor_open (v.txn, v.dbi[0], &cur) != 0)
        return RCN_EDB;
    uint8_t k[VKEY_SIZE];
    vkey (k, member, at_ms == UINT64_MAX ? at_ms : at_ms + 1);
    MDB_val key = { VKEY_SIZE, k }, val;
    int mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    mrc = mdb_cursor_get (cur, &key, &val, mrc == MDB_SUCCESS ? MDB_PREV : MDB_LAST);
    rc = RCN_ENOTFOUND;
    if (mrc == MDB_SUCCESS && key.mv_size == VKEY_SIZE && val.mv_size == RCN_SEAL_KEY_SIZE
        && memcmp (key.mv_data, member, RCN_KEY_SIZE) == 0
        && rcn_be_get ((uint8_t *) key.mv_data + RCN_KEY_SIZE, 8) <= at_ms) {
        memcpy (pk, val.mv_data, RCN_SEAL_KEY_SIZE);
        rc = RCN_OK;
    }
    mdb_cursor_close (cur);
    return rc;
}

int
rcn_sealkey_readers (const rcn_view_t *v, const rcn_roster_t *r, const uint8_t origin[RCN_KEY_SIZE],
                     const uint32_t *regions, size_t n, uint64_t at_ms, rcn_seal_reader_t *out,
                     size_t *n_out, char *why, size_t whylen)
{
    size_t k = 0;
    for (size_t i = 0; i <= n; i++) {
        const rcn_member_t *m = i == 0 ? rcn_roster_by_origin (r, origin)
                                       : rcn_roster_by_region (r, regions[i - 1]);
        if (!m) {
            if (i == 0)
                rcn_errf (why, whylen, "this member is not in the roster");
            else
                rcn_errf (why, whylen, "%06u is not a member of the alliance", regions[i - 1]);
            return RCN_EINVAL;
        }
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++)
            seen = memcmp (out[j].member, m->sign_key, RCN_KEY_SIZE) == 0;
        if (seen)
            continue;
        memcpy (out[k].member, m->sign_key, RCN_KEY_SIZE);
        int rc = rcn_sealkey_lookup (v, m->sign_key, at_ms, out[k].seal_pk);
        if (rc == RCN_ENOTFOUND) {
            rcn_errf (why, whylen, "%06u has published no sealing key yet: has its node started "
                      "and reached this member?", m->region);
            return rc;
        }
        if (rc != RCN_OK) {
            rcn_errf (why, whylen, "sealing keys: the log could not be read");
            return rc;
        }
        k++;
    }
    *n_out = k;
    return RCN_OK;
}

static int
sealkey_author (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req,
                uint64_t now_ms, uint32_t *kind, uint8_t **body, size_t *body_len,
                char *why, size_t whylen)
{
    (void) v;
    (void) kind;
    uint8_t pk[RCN_SEAL_KEY_SIZE];
    uint64_t from = 0;
    const json_t *fj = json_object_get (json_object_get (req, "body"), "from_ms");
    if (fj && (!json_is_integer (fj) || json_integer_value (fj) <= 0)) {
        rcn_errf (why, whylen, "sealkey: from_ms must be a positive integer");
        return RCN_EINVAL;
    }
    if (fj) {                                 /* a given period's key (the next, ahead) */
        from = (uint64_t) json_integer_value (fj);
        if (!env->seal || rcn_seal_at (env->seal, from, pk) != RCN_OK) {
            rcn_errf (why, whylen, "sealkey: this member holds no sealing key from %llu",
                      (unsigned long long) from);
            return RCN_ESTATE;
        }
    } else if (!env->seal || rcn_seal_current (env->seal, now_ms, pk, &from) != RCN_OK) {
        rcn_errf (why, whylen, "sealkey: this member holds no sealing key for now");
        return RCN_ESTATE;
    }
    Rcn__SealKey m = RCN__SEAL_KEY__INIT;
    m.public_key.data = pk;
    m.public_key.len = sizeof pk;
    m.from_ms = from;
    *body_len = rcn__seal_key__get_packed_size (&m);
    if (!(*body = malloc (*body_len)))
        return RCN_ENOMEM;
    rcn__seal_key__pack (&m, *body);
    return RCN_OK;
}

/* Publishes each of this member's keys from the current period's on (the current and the
 * next) once: those the view lacks. */
static int
sealkey_auto (const rcn_view_t *v, const rcn_kind_env_t *env, uint64_t now_ms, json_t *reqs,
              char *why, size_t whylen)
{
    (void) why;
    (void) whylen;
    uint64_t cur = 0;
    uint8_t pk[RCN_SEAL_KEY_SIZE], have[RCN_SEAL_KEY_SIZE];
    if (!env->seal || rcn_seal_current (env->seal, now_ms, pk, &cur) != RCN_OK)
        cur = 0;                                  /* none begun yet: the future ones */
    for (size_t i = 0; env->seal && i < rcn_seal_count (env->seal); i++) {
        rcn_seal_period_t p;
        rcn_seal_period (env->seal, i, &p);
        if (p.from_ms < cur)
            continue;
        int rc = rcn_sealkey_lookup (v, env->origin, p.from_ms, have);
        if (rc == RCN_OK && memcmp (have, p.pk, sizeof have) == 0)
            continue;
        if (rc != RCN_OK && rc != RCN_ENOTFOUND)
            return rc;
        json_array_append_new (reqs, json_pack ("{s:s, s:s, s:{s:I}}", "kind", "sealkey",
                                                "verb", "publish", "body",
                                                "from_ms", (json_int_t) p.from_ms));
    }
    return RCN_OK;
}

int
rcn_sealkey_newest (const rcn_view_t *any, const uint8_t member[RCN_KEY_SIZE], uint64_t *from_ms)
{
    rcn_view_t v;
    int rc = rcn_view_of_kind (any, &rcn_kind_sealkey, &v);
    if (rc != RCN_OK)
        return rc;
    MDB_cursor *cur;
    if (mdb_cursor_open (v.txn, v.dbi[0], &cur) != 0)
        return RCN_EDB;
    uint8_t k[VKEY_SIZE];
    vkey (k, member, UINT64_MAX);
    MDB_val key = { VKEY_SIZE, k }, val;
    int mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    mrc = mdb_cursor_get (cur, &key, &val, mrc == MDB_SUCCESS ? MDB_PREV : MDB_LAST);
    rc = RCN_ENOTFOUND;
    if (mrc == MDB_SUCCESS && key.mv_size == VKEY_SIZE
        && memcmp (key.mv_data, member, RCN_KEY_SIZE) == 0) {
        *from_ms = rcn_be_get ((uint8_t *) key.mv_data + RCN_KEY_SIZE, 8);
        rc = RCN_OK;
    }
    mdb_cursor_close (cur);
    return rc;
}

/* {"from", "from_ms", "published"} of this member's pair from from_ms. */
static json_t *
own_json (const rcn_view_t *v, const rcn_kind_env_t *env, uint64_t from_ms, const uint8_t *pk)
{
    char when[40];
    uint8_t have[RCN_SEAL_KEY_SIZE];
    rcn_time_format (from_ms, when, sizeof when);
    bool published = rcn_sealkey_lookup (v, env->origin, from_ms, have) == RCN_OK
                     && memcmp (have, pk, sizeof have) == 0;
    return json_pack ("{s:s, s:I, s:b}", "from", when, "from_ms", (json_int_t) from_ms,
                      "published", published);
}

json_t *
rcn_sealkey_status (const rcn_view_t *v, const rcn_kind_env_t *env, uint64_t now_ms)
{
    json_t *o = json_object (), *late = json_array ();
    json_t *cur = json_null (), *next = json_null ();
    for (size_t i = 0; env->seal && i < rcn_seal_count (env->seal); i++) {
        rcn_seal_period_t p;
        rcn_seal_period (env->seal, i, &p);
        if (p.from_ms <= now_ms && (i + 1 == rcn_seal_count (env->seal) || p.until_ms > now_ms)) {
            json_decref (cur);
            cur = own_json (v, env, p.from_ms, p.pk);
        } else if (p.from_ms > now_ms && json_is_null (next)) {
            json_decref (next);
            next = own_json (v, env, p.from_ms, p.pk);
        }
    }
    json_object_set_new (o, "own_current", cur);
    json_object_set_new (o, "own_next", next);
    json_object_set_new (o, "held", json_integer ((json_int_t) rcn_seal_count (env->seal)));
    /* Late: the newest key a member published has begun (or it published none), so no key
     * of its is out for the next period. */
    for (size_t i = 0; env->roster && i < rcn_roster_count (env->roster); i++) {
        const rcn_member_t *m = rcn_roster_member (env->roster, i);
        uint64_t from = 0;
        int rc = rcn_sealkey_newest (v, m->sign_key, &from);
        if (rc == RCN_ENOTFOUND || (rc == RCN_OK && from < now_ms)) {
            char region[16];
            snprintf (region, sizeof region, "%06u", m->region);
            json_array_append_new (late, json_string (region));
        }
    }
    json_object_set_new (o, "late", late);
    return o;
}

static json_t *
sealkey_show (uint32_t kind, const uint8_t *body, size_t body_len)
{
    (void) kind;
    Rcn__SealKey *m = rcn__seal_key__unpack (NULL, body_len, body);
    if (!m)
        return NULL;
    char hex[2 * RCN_SEAL_KEY_SIZE + 1] = "", when[40];
    if (m->public_key.len == RCN_SEAL_KEY_SIZE)
        rcn_hex (m->public_key.data, RCN_SEAL_KEY_SIZE, hex);
    rcn_time_format (m->from_ms, when, sizeof when);
    json_t *o = json_pack ("{s:s, s:s}", "public_key", hex, "from", when);
    rcn__seal_key__free_unpacked (m, NULL);
    return o;
}

static json_t *
sealkey_list (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query,
              uint64_t now_ms, char *why, size_t whylen)
{
    (void) query;
    (void) now_ms;
    MDB_cursor *cur;
    if (mdb_cursor_open (v->txn, v->dbi[0], &cur) != 0) {
        rcn_errf (why, whylen, "sealkey view: cannot be read");
        return NULL;
    }
    json_t *out = json_array ();
    MDB_val key, val;
    for (int mrc = mdb_cursor_get (cur, &key, &val, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size != VKEY_SIZE || val.mv_size != RCN_SEAL_KEY_SIZE)
            continue;
        const rcn_member_t *m = env && env->roster ? rcn_roster_by_origin (env->roster, key.mv_data)
                                                   : NULL;
        char region[16] = "", hex[65], when[40];
        if (m)
            snprintf (region, sizeof region, "%06u", m->region);
        rcn_time_format (rcn_be_get ((uint8_t *) key.mv_data + RCN_KEY_SIZE, 8), when, sizeof when);
        json_array_append_new (out, json_pack ("{s:s, s:s, s:s}", "region", region, "from", when,
                                               "public_key", rcn_hex (val.mv_data, 32, hex)));
    }
    mdb_cursor_close (cur);
    return out;
}

static int
sealkey_cli (int argc, char **argv, const json_t *input, uint64_t now_ms, json_t **req,
             char *why, size_t whylen)
{
    (void) input;
    (void) now_ms;
    if (argc != 1 || strcmp (argv[0], "list") != 0) {
        rcn_errf (why, whylen, "sealkey: the only verb is \"list\" (each node publishes its own "
                  "key by itself)");
        return RCN_EINVAL;
    }
    *req = json_pack ("{s:s, s:s, s:{}}", "verb", "list", "op", "list", "query");
    return *req ? RCN_OK : RCN_ENOMEM;
}

static void
sealkey_print (const json_t *list)
{
    if (json_array_size (list) == 0) {
        printf ("no member has published a sealing key yet\n");
        return;
    }
    printf ("%-6s  %-24s  %s\n", "REGION", "FROM (UTC)", "SEALING PUBLIC KEY");
    size_t i;
    const json_t *o;
    json_array_foreach (list, i, o)
        printf ("%-6s  %-24s  %s\n", json_string_value (json_object_get (o, "region")),
                json_string_value (json_object_get (o, "from")),
                json_string_value (json_object_get (o, "public_key")));
}

const rcn_kind_t rcn_kind_sealkey = {
    .kind = RCN__KIND__KIND_SEAL_KEY,
    .name = "sealkey",
    .dbs = s_dbs,
    .apply = sealkey_apply,
    .author = sealkey_author,
    .show = sealkey_show,
    .list = sealkey_list,
    .auto_author = sealkey_auto,
    .cli = sealkey_cli,
    .print = sealkey_print,
    .usage = "  sealkey list [--json]                  every member's sealing public keys\n",
};
