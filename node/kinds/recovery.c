/* recovery.c — the Recovery kind (DESIGN.md §4, §5): an origin's signed declaration that seqs
 * of its own were lost.
 *
 * The store itself judges where a Recovery may stand (recovery.h: it is the one entry allowed
 * to skip seqs); this file is what an operator sees of it. No node authors one through the
 * generic path (`author` is NULL): only `rcctl recover --declare-lost`, which asks the node to
 * check that the seqs are nowhere first, signs one.
 *
 * View:  recovery  origin[32] | be64(seq) -> be64(first) | be64(last) | be64(time_ms) | hash[32] */
#include "rcn/kind.h"
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/recovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn.pb-c.h"

#define REC_SIZE (8 + 8 + 8 + RCN_HASH_SIZE)

static const char *const s_dbs[] = { "recovery", NULL };

/* A Recovery that reaches apply linked into its origin's chain one way or the other; its span
 * must still be one the body can declare (a malformed one is recorded invalid, invariant 9). */
static int
recovery_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    uint64_t first, last;
    if (rcn_recovery_span (e, &first, &last, why, whylen) != RCN_OK)
        return RCN_EBODY;
    uint8_t key[RCN_KEY_SIZE + 8], rec[REC_SIZE];
    memcpy (key, e->h.origin, RCN_KEY_SIZE);
    rcn_be_put (key + RCN_KEY_SIZE, e->h.seq, 8);
    rcn_be_put (rec, first, 8);
    rcn_be_put (rec + 8, last, 8);
    rcn_be_put (rec + 16, e->h.time_ms, 8);
    memcpy (rec + 24, e->hash, RCN_HASH_SIZE);
    MDB_val k = { sizeof key, key }, d = { sizeof rec, rec };
    int mrc = mdb_put (v->txn, v->dbi[0], &k, &d, 0);
    if (mrc) {
        rcn_errf (why, whylen, "recovery view: %s", mdb_strerror (mrc));
        return RCN_EDB;
    }
    return RCN_OK;
}

static json_t *
recovery_show (uint32_t kind, const uint8_t *body, size_t body_len)
{
    (void) kind;
    Rcn__Recovery *m = rcn__recovery__unpack (NULL, body_len, body);
    if (!m)
        return NULL;
    json_t *o = json_pack ("{s:I, s:I, s:s?}", "first_lost", (json_int_t) m->first_lost,
                           "last_lost", (json_int_t) m->last_lost, "reason", m->reason);
    rcn__recovery__free_unpacked (m, NULL);
    return o;
}

static json_t *
recovery_list (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query,
               uint64_t now_ms, char *why, size_t whylen)
{
    const rcn_roster_t *r = env ? env->roster : NULL;
    (void) query;
    (void) now_ms;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (v->txn, v->dbi[0], &cur);
    if (mrc) {
        rcn_errf (why, whylen, "recovery view: %s", mdb_strerror (mrc));
        return NULL;
    }
    json_t *out = json_array ();
    MDB_val k, d;
    for (mrc = mdb_cursor_get (cur, &k, &d, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get (cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != RCN_KEY_SIZE + 8 || d.mv_size != REC_SIZE)
            continue;
        const uint8_t *key = k.mv_data, *rec = d.mv_data;
        char hex[65], region[16] = "", when[40];
        const rcn_member_t *m = r ? rcn_roster_by_origin (r, key) : NULL;
        if (m)
            snprintf (region, sizeof region, "%06u", m->region);
        rcn_time_format (rcn_be_get (rec + 16, 8), when, sizeof when);
        json_t *o = json_pack ("{s:s, s:s, s:I, s:I, s:I, s:s, s:s}",
                               "hash", rcn_hex (rec + 24, RCN_HASH_SIZE, hex), "region", region,
                               "seq", (json_int_t) rcn_be_get (key + RCN_KEY_SIZE, 8),
                               "first_lost", (json_int_t) rcn_be_get (rec, 8),
                               "last_lost", (json_int_t) rcn_be_get (rec + 8, 8), "time", when,
                               "origin", rcn_hex (key, RCN_KEY_SIZE, hex));
        rcn_entry_t *e = NULL;
        if (rcn_view_get_by_hash (v, rec + 24, &e) == RCN_OK) {
            json_t *body = recovery_show (e->h.kind, e->h.body, e->h.body_len);
            json_object_set (o, "reason", json_object_get (body, "reason"));
            json_decref (body);
        }
        rcn_entry_destroy (&e);
        json_array_append_new (out, o);
    }
    mdb_cursor_close (cur);
    return out;
}

static int
recovery_cli (int argc, char **argv, const json_t *input, uint64_t now_ms, json_t **req,
              char *why, size_t whylen)
{
    (void) input;
    (void) now_ms;
    if (argc != 1 || strcmp (argv[0], "list") != 0) {
        rcn_errf (why, whylen, "recovery: the only verb is \"list\" (to declare own seqs lost: "
                  "rcctl recover --declare-lost)");
        return RCN_EINVAL;
    }
    *req = json_pack ("{s:s, s:s, s:{}}", "verb", "list", "op", "list", "query");
    return *req ? RCN_OK : RCN_ENOMEM;
}

static void
recovery_print (const json_t *list)
{
    if (json_array_size (list) == 0) {
        printf ("no seqs were ever declared lost\n");
        return;
    }
    printf ("%-6s  %-8s  %-17s  %-24s  %s\n", "REGION", "SEQ", "LOST SEQS", "SIGNED (UTC)", "REASON");
    size_t i;
    const json_t *o;
    json_array_foreach (list, i, o) {
        char span[48];
        snprintf (span, sizeof span, "%lld..%lld",
                  (long long) json_integer_value (json_object_get (o, "first_lost")),
                  (long long) json_integer_value (json_object_get (o, "last_lost")));
        const char *reason = json_string_value (json_object_get (o, "reason"));
        printf ("%-6s  %-8lld  %-17s  %-24s  %s\n",
                json_string_value (json_object_get (o, "region")),
                (long long) json_integer_value (json_object_get (o, "seq")), span,
                json_string_value (json_object_get (o, "time")), reason ? reason : "");
    }
}

const rcn_kind_t rcn_kind_recovery = {
    .kind = RCN__KIND__KIND_RECOVERY,
    .name = "recovery",
    .dbs = s_dbs,
    .apply = recovery_apply,
    .show = recovery_show,
    .list = recovery_list,
    .cli = recovery_cli,
    .print = recovery_print,
    .usage = "  recovery list [--json]                 seqs members declared lost (recover)\n",
};
