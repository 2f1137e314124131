/* alert.c — the Alert kind (DESIGN.md §4): the alliance's health alert network.
 *
 * An alert is issued, then updated or cancelled by later entries of the SAME origin that name
 * it in `references`. Keeping the thread within one origin's hash chain is the decision that
 * makes the view order-independent (invariant 8): an update always arrives after what it
 * updates, whatever the interleaving with other origins. Whether an alert is "in force" (not
 * expired) depends on now, so it is computed when listed, never stored.
 *
 * View:  alert.thread  origin | be64(seq of the issue) -> record (below, with the issue's hash)
 *        alert.step    update/cancel hash -> the thread's key
 * Threads are keyed by where their issue sits in its origin's chain, not by its hash: an
 * origin's alerts arrive in seq order, so a group of them lands on the same few pages, where
 * hash keys put every alert on a page of its own (ingest writes every page a commit touches:
 * the benchmark measured ~16 µs an entry for the hash-keyed view). A reference to an issue is
 * found through the store's hash index (rcn_view_get_by_hash), and must be that thread's own
 * issue (a forked seq's other entry is not). */
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/region.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn.pb-c.h"

#define TEXT_MAX 2000
#define REGIONS_MAX 64

enum { DB_THREAD = 0, DB_STEP = 1 };
static const char *const s_dbs[] = { "alert.thread", "alert.step", NULL };
#define THREAD_KEY (32 + 8)

static const char *const s_severity[] = { NULL, "minor", "moderate", "severe", "extreme" };
static const char *const s_action[] = { "issue", "update", "cancel" };

/* The view's record for one alert thread, stored packed (big-endian). */
typedef struct {
    uint8_t origin[32];
    uint8_t root[32];          /* the issue: the alert's identity */
    uint8_t last[32];          /* newest issue/update: its content is the alert's */
    uint8_t cancel[32];        /* the cancelling entry, zero when active */
    uint64_t updated_ms;
    uint32_t updates;
    uint8_t cancelled;
} record_t;
#define RECORD_SIZE (32 + 32 + 32 + 32 + 8 + 4 + 1)

static void
record_pack (const record_t *r, uint8_t out[RECORD_SIZE])
{
    memcpy (out, r->origin, 32);
    memcpy (out + 32, r->last, 32);
    memcpy (out + 64, r->cancel, 32);
    rcn_be_put (out + 96, r->updated_ms, 8);
    rcn_be_put (out + 104, r->updates, 4);
    out[108] = r->cancelled;
    memcpy (out + 109, r->root, 32);
}

static int
record_unpack (const MDB_val *v, record_t *r)
{
    if (v->mv_size != RECORD_SIZE)
        return RCN_EDB;
    const uint8_t *p = v->mv_data;
    memcpy (r->origin, p, 32);
    memcpy (r->last, p + 32, 32);
    memcpy (r->cancel, p + 64, 32);
    r->updated_ms = rcn_be_get (p + 96, 8);
    r->updates = (uint32_t) rcn_be_get (p + 104, 4);
    r->cancelled = p[108];
    memcpy (r->root, p + 109, 32);
    return RCN_OK;
}

/* Checks an alert's own fields; `time_ms` is the entry's signed time (apply) or now (author). */
static int
validate (const Rcn__Alert *a, uint64_t time_ms, char *why, size_t whylen)
{
    if ((int) a->action < 0 || a->action > RCN__ALERT__ACTION__ACTION_CANCEL) {
        rcn_errf (why, whylen, "alert: unknown action %d", (int) a->action);
        return RCN_EBODY;
    }
    bool cancel = a->action == RCN__ALERT__ACTION__ACTION_CANCEL;
    if (!cancel && (a->severity < 1 || a->severity > 4)) {
        rcn_errf (why, whylen, "alert: severity must be minor, moderate, severe or extreme");
        return RCN_EBODY;
    }
    size_t tlen = a->text ? strlen (a->text) : 0;
    if (!cancel && tlen == 0) {
        rcn_errf (why, whylen, "alert: text is empty");
        return RCN_EBODY;
    }
    if (tlen > TEXT_MAX || !rcn_utf8_text_ok (a->text ? a->text : "", tlen, true)) {
        rcn_errf (why, whylen, "alert: text must be UTF-8 without control characters, "
                  "at most %d bytes", TEXT_MAX);
        return RCN_EBODY;
    }
    if (a->n_regions > REGIONS_MAX) {
        rcn_errf (why, whylen, "alert: regions: at most %d", REGIONS_MAX);
        return RCN_EBODY;
    }
    for (size_t i = 0; i < a->n_regions; i++) {
        char rwhy[128];
        if (rcn_region_check (a->regions[i], rwhy, sizeof rwhy) != RCN_OK) {
            rcn_errf (why, whylen, "alert: regions[%zu]: %s", i, rwhy);
            return RCN_EBODY;
        }
        for (size_t j = 0; j < i; j++)
            if (a->regions[j] == a->regions[i]) {
                rcn_errf (why, whylen, "alert: regions: %06u listed twice", a->regions[i]);
                return RCN_EBODY;
            }
    }
    if (a->expires_ms && a->expires_ms <= time_ms) {
        rcn_errf (why, whylen, "alert: expires is not after the alert's time");
        return RCN_EBODY;
    }
    bool refs = a->references.len > 0;
    if (a->action == RCN__ALERT__ACTION__ACTION_ISSUE && refs) {
        rcn_errf (why, whylen, "alert: a new alert references nothing");
        return RCN_EBODY;
    }
    if (a->action != RCN__ALERT__ACTION__ACTION_ISSUE && a->references.len != 32) {
        rcn_errf (why, whylen, "alert: %s needs the 32-byte hash of the alert in references",
                  s_action[a->action]);
        return RCN_EBODY;
    }
    return RCN_OK;
}

/* Finds the thread an update/cancel names; it must be the same origin's, active, and of the
 * same status (drill traffic never changes a real alert). */
static int
resolve (const rcn_view_t *v, const Rcn__Alert *a, const uint8_t origin[32], uint32_t status,
         bool author, uint8_t root[32], uint8_t tkey[THREAD_KEY], record_t *rec, char *why,
         size_t whylen)
{
    /* An origin's alerts precede its updates in its own chain, so "not held" and "another
     * origin's" are the same fault when applying; one reason keeps the view free of arrival
     * order (invariant 8). The author gets the more helpful of the two. */
    static const char *not_own = "alert: references no earlier alert of the same region";
    const char *not_held = author ? "alert: references an alert this log does not hold" : not_own;
    MDB_val k = { 32, a->references.data }, val;
    uint8_t key[THREAD_KEY];
    int rc = mdb_get (v->txn, v->dbi[DB_STEP], &k, &val);
    bool step = rc == 0;                 /* it names an update or a cancel of the thread */
    if (rc == 0 && val.mv_size == THREAD_KEY)
        memcpy (key, val.mv_data, THREAD_KEY);
    else if (rc == 0)
        return RCN_EDB;
    else if (rc == MDB_NOTFOUND) {
        /* An issue: its thread is where it sits in its origin's chain. */
        rcn_entry_t *e = NULL;
        rc = rcn_view_get_by_hash (v, a->references.data, &e);
        if (rc == RCN_ENOTFOUND) {
            rcn_errf (why, whylen, "%s", not_held);
            return RCN_EBODY;
        }
        if (rc != RCN_OK)
            return rc;
        memcpy (key, e->h.origin, 32);
        rcn_be_put (key + 32, e->h.seq, 8);
        rcn_entry_destroy (&e);
    }
    else
        return RCN_EDB;
    k = (MDB_val) { THREAD_KEY, key };
    rc = mdb_get (v->txn, v->dbi[DB_THREAD], &k, &val);
    if (rc == MDB_NOTFOUND) {
        rcn_errf (why, whylen, "%s", not_held);
        return RCN_EBODY;
    }
    if (rc != 0 || record_unpack (&val, rec) != RCN_OK)
        return RCN_EDB;
    /* An entry that is not this thread's issue (another kind's at that seq cannot be, but a
     * forked seq's other entry can) has no thread here. */
    if (!step && memcmp (rec->root, a->references.data, 32) != 0) {
        rcn_errf (why, whylen, "%s", not_held);
        return RCN_EBODY;
    }
    memcpy (root, rec->root, 32);
    memcpy (tkey, key, THREAD_KEY);
    if (memcmp (rec->origin, origin, 32) != 0) {
        rcn_errf (why, whylen, "%s", author ? "alert: only the region that issued an alert may "
                                              "change it" : not_own);
        return RCN_EBODY;
    }
    if (rec->cancelled) {
        rcn_errf (why, whylen, "alert: already cancelled");
        return RCN_EBODY;
    }
    rcn_entry_t *first = NULL;
    rc = rcn_view_get_by_hash (v, root, &first);
    if (rc != RCN_OK)
        return rc == RCN_ENOTFOUND ? RCN_EDB : rc;
    bool same = first->h.status == status;
    rcn_entry_destroy (&first);
    if (!same) {
        rcn_errf (why, whylen, "alert: an entry of another status (actual/exercise/test) "
                  "cannot change this alert");
        return RCN_EBODY;
    }
    return RCN_OK;
}

static int
alert_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__Alert *a = rcn__alert__unpack (NULL, e->h.body_len, e->h.body);
    if (!a) {
        rcn_errf (why, whylen, "alert: body is not an Alert message");
        return RCN_EBODY;
    }
    uint8_t root[32], tkey[THREAD_KEY];
    record_t rec = { 0 };
    int rc = RCN_EBODY;
    /* Only the canonical encoding counts: no unknown fields, and no NUL inside text (which
     * C strings would cut short, leaving bytes nobody validated or shows). */
    if ((rc = rcn_kind_canonical (&a->base, e->h.body, e->h.body_len)) != RCN_OK) {
        if (rc == RCN_EBODY)
            rcn_errf (why, whylen, "alert: body is not in canonical form (unknown fields, a NUL "
                      "inside text, or a non-minimal encoding)");
        goto done;
    }
    rc = validate (a, e->h.time_ms, why, whylen);
    if (rc == RCN_OK && a->action != RCN__ALERT__ACTION__ACTION_ISSUE)
        rc = resolve (v, a, e->h.origin, e->h.status, false, root, tkey, &rec, why, whylen);
    if (rc != RCN_OK)
        goto done;
    /* Validated: from here on, write. */
    if (a->action == RCN__ALERT__ACTION__ACTION_ISSUE) {
        memcpy (root, e->hash, 32);
        memcpy (rec.origin, e->h.origin, 32);
        memcpy (rec.root, e->hash, 32);
        memcpy (rec.last, e->hash, 32);
        memcpy (tkey, e->h.origin, 32);
        rcn_be_put (tkey + 32, e->h.seq, 8);
    }
    else if (a->action == RCN__ALERT__ACTION__ACTION_UPDATE) {
        memcpy (rec.last, e->hash, 32);
        rec.updates++;
    }
    else {
        memcpy (rec.cancel, e->hash, 32);
        rec.cancelled = 1;
    }
    rec.updated_ms = e->h.time_ms;
    uint8_t packed[RECORD_SIZE];
    record_pack (&rec, packed);
    MDB_val k = { THREAD_KEY, tkey }, val = { RECORD_SIZE, packed };
    MDB_val sk = { 32, (void *) e->hash }, sv = { THREAD_KEY, tkey };
    if (mdb_put (v->txn, v->dbi[DB_THREAD], &k, &val, 0) != 0
        || (a->action != RCN__ALERT__ACTION__ACTION_ISSUE
            && mdb_put (v->txn, v->dbi[DB_STEP], &sk, &sv, 0) != 0))
        rc = RCN_EDB;
done:
    rcn__alert__free_unpacked (a, NULL);
    return rc;
}

static int
severity_parse (const char *s)
{
    for (int i = 1; i <= 4; i++)
        if (s && strcmp (s, s_severity[i]) == 0)
            return i;
    return -1;
}

/* Content of the thread's newest issue/update, to carry over fields an update leaves out. */
static Rcn__Alert *
current_content (const rcn_view_t *v, const record_t *rec)
{
    rcn_entry_t *last = NULL;
    if (rcn_view_get_by_hash (v, rec->last, &last) != RCN_OK)
        return NULL;
    Rcn__Alert *a = rcn__alert__unpack (NULL, last->h.body_len, last->h.body);
    rcn_entry_destroy (&last);
    return a;
}

static int
alert_author (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req, uint64_t now_ms,
              uint32_t *kind, uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    (void) kind;
    const uint8_t *origin = env->origin;
    Rcn__Alert a = RCN__ALERT__INIT;
    uint32_t regions[REGIONS_MAX];
    uint8_t refs[32];
    Rcn__Alert *cur = NULL;
    int rc = RCN_EINVAL;
    const json_t *b = json_object_get (req, "body");
    uint32_t status = (uint32_t) json_integer_value (json_object_get (req, "status"));
    if (!json_is_object (b)) {
        rcn_errf (why, whylen, "alert: request has no body object");
        return RCN_EINVAL;
    }
    const json_t *aj = json_object_get (b, "action"), *rfj = json_object_get (b, "references");
    if ((aj && !json_is_string (aj)) || (rfj && !json_is_string (rfj))) {
        rcn_errf (why, whylen, "alert: %s: must be a string", aj && !json_is_string (aj)
                  ? "action" : "references");
        return RCN_EINVAL;
    }
    const char *action = json_string_value (aj);
    a.action = RCN__ALERT__ACTION__ACTION_ISSUE;
    if (action && strcmp (action, "update") == 0)
        a.action = RCN__ALERT__ACTION__ACTION_UPDATE;
    else if (action && strcmp (action, "cancel") == 0)
        a.action = RCN__ALERT__ACTION__ACTION_CANCEL;
    else if (action && strcmp (action, "issue") != 0) {
        rcn_errf (why, whylen, "alert: action \"%s\": must be issue, update or cancel", action);
        return RCN_EINVAL;
    }
    const char *ref = json_string_value (rfj);
    if (ref) {
        if (rcn_unhex (ref, refs, 32) != RCN_OK) {
            rcn_errf (why, whylen, "alert: references: must be a 64-hex-digit entry hash");
            return RCN_EINVAL;
        }
        a.references.data = refs;
        a.references.len = 32;
    }
    if (a.action != RCN__ALERT__ACTION__ACTION_ISSUE && ref) {
        uint8_t root[32], tkey[THREAD_KEY];
        record_t rec;
        rc = resolve (v, &a, origin, status, true, root, tkey, &rec, why, whylen);
        if (rc != RCN_OK)
            return RCN_EINVAL;
        if (a.action == RCN__ALERT__ACTION__ACTION_UPDATE && !(cur = current_content (v, &rec)))
            return RCN_EDB;
        rc = RCN_EINVAL;
    }
    const json_t *sev = json_object_get (b, "severity");
    if (sev && a.action == RCN__ALERT__ACTION__ACTION_CANCEL) {
        rcn_errf (why, whylen, "alert: a cancel takes only a text (its reason)");
        goto fail;
    }
    if (sev) {
        int s = severity_parse (json_string_value (sev));
        if (s < 0) {
            rcn_errf (why, whylen, "alert: severity: must be minor, moderate, severe or extreme");
            goto fail;
        }
        a.severity = (Rcn__Alert__Severity) s;
    }
    else if (cur)
        a.severity = cur->severity;
    const json_t *text = json_object_get (b, "text");
    if (text && !json_is_string (text)) {
        rcn_errf (why, whylen, "alert: text: must be a string");
        goto fail;
    }
    a.text = text ? (char *) json_string_value (text) : cur ? cur->text : (char *) "";
    const json_t *rj = json_object_get (b, "regions");
    if (rj) {
        if (rcn_kind_regions (rj, "alert", NULL, false, regions, REGIONS_MAX, &a.n_regions, why,
                              whylen) != RCN_OK)
            goto fail;
        a.regions = regions;
    }
    else if (cur) {
        a.n_regions = cur->n_regions;
        a.regions = cur->regions;
    }
    const json_t *exp = json_object_get (b, "expires_ms");
    if (exp && (!json_is_integer (exp) || json_integer_value (exp) < 0)) {
        rcn_errf (why, whylen, "alert: expires_ms: must be Unix milliseconds");
        goto fail;
    }
    a.expires_ms = exp ? (uint64_t) json_integer_value (exp) : cur ? cur->expires_ms : 0;
    if (a.action == RCN__ALERT__ACTION__ACTION_CANCEL) {
        a.severity = 0;
        a.n_regions = 0;
        a.expires_ms = 0;
    }
    if (validate (&a, now_ms, why, whylen) != RCN_OK)
        goto fail;
    *body_len = rcn__alert__get_packed_size (&a);
    *body = malloc (*body_len ? *body_len : 1);
    if (!*body) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    rcn__alert__pack (&a, *body);
    rc = RCN_OK;
fail:
    if (cur)
        rcn__alert__free_unpacked (cur, NULL);
    return rc;
}

/* Updates and cancels are checked against the alert they name, which an earlier request of
 * the same group may change. */
static bool
alert_depends (const json_t *req)
{
    const char *action = json_string_value (json_object_get (json_object_get (req, "body"), "action"));
    return action && strcmp (action, "issue") != 0;
}

static json_t *
alert_show (uint32_t kind, const uint8_t *body, size_t body_len)
{
    (void) kind;
    Rcn__Alert *a = rcn__alert__unpack (NULL, body_len, body);
    if (!a)
        return NULL;
    char hex[65];
    json_t *o = json_object ();
    json_object_set_new (o, "action", json_string ((int) a->action >= 0 && a->action <= 2
                                                   ? s_action[a->action] : "unknown"));
    if (a->severity >= 1 && a->severity <= 4)
        json_object_set_new (o, "severity", json_string (s_severity[a->severity]));
    json_object_set_new (o, "text", json_string (a->text ? a->text : ""));
    json_object_set_new (o, "regions", rcn_kind_regions_json (a->regions, a->n_regions));
    if (a->expires_ms)
        json_object_set_new (o, "expires_ms", json_integer ((json_int_t) a->expires_ms));
    if (a->references.len == 32)
        json_object_set_new (o, "references", json_string (rcn_hex (a->references.data, 32, hex)));
    rcn__alert__free_unpacked (a, NULL);
    return o;
}

static void
set_region (json_t *o, const rcn_roster_t *r, const uint8_t origin[32])
{
    char hex[65];
    json_object_set_new (o, "origin", json_string (rcn_hex (origin, 32, hex)));
    rcn_kind_region_json (o, "", r, origin);
}

static json_t *
alert_list (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query, uint64_t now_ms,
            char *why, size_t whylen)
{
    const rcn_roster_t *r = env ? env->roster : NULL;
    bool all = json_is_true (json_object_get (query, "all"));
    MDB_cursor *cur = NULL;
    json_t *items = json_array ();
    MDB_val k, val;
    if (mdb_cursor_open (v->txn, v->dbi[DB_THREAD], &cur) != 0)
        goto fail;
    int mrc;
    for (mrc = mdb_cursor_get (cur, &k, &val, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get (cur, &k, &val, MDB_NEXT)) {
        record_t rec;
        rcn_entry_t *first = NULL, *last = NULL;
        if (k.mv_size != THREAD_KEY || record_unpack (&val, &rec) != RCN_OK
            || rcn_view_get_by_hash (v, rec.root, &first) != RCN_OK)
            goto fail;
        if (rcn_view_get_by_hash (v, rec.last, &last) != RCN_OK) {
            rcn_entry_destroy (&first);
            goto fail;
        }
        json_t *o = alert_show (last->h.kind, last->h.body, last->h.body_len);
        if (!o) {
            rcn_entry_destroy (&first);
            rcn_entry_destroy (&last);
            goto fail;
        }
        json_object_del (o, "action");
        json_object_del (o, "references");
        uint64_t expires = (uint64_t) json_integer_value (json_object_get (o, "expires_ms"));
        const char *state = rec.cancelled ? "cancelled"
                          : expires && expires <= now_ms ? "expired" : "in_force";
        char hex[65];
        json_object_set_new (o, "hash", json_string (rcn_hex (rec.root, 32, hex)));
        json_object_set_new (o, "last", json_string (rcn_hex (rec.last, 32, hex)));
        set_region (o, r, rec.origin);
        json_object_set_new (o, "seq", json_integer ((json_int_t) first->h.seq));
        json_object_set_new (o, "status", json_string (rcn_status_name (first->h.status)));
        json_object_set_new (o, "issued_ms", json_integer ((json_int_t) first->h.time_ms));
        json_object_set_new (o, "updated_ms", json_integer ((json_int_t) rec.updated_ms));
        json_object_set_new (o, "updates", json_integer (rec.updates));
        json_object_set_new (o, "state", json_string (state));
        if (rec.cancelled)
            json_object_set_new (o, "cancelled_by", json_string (rcn_hex (rec.cancel, 32, hex)));
        rcn_entry_destroy (&first);
        rcn_entry_destroy (&last);
        if (all || strcmp (state, "in_force") == 0)
            json_array_append_new (items, o);
        else
            json_decref (o);
    }
    if (mrc != MDB_NOTFOUND)
        goto fail;
    mdb_cursor_close (cur);
    /* Deterministic order: newest first, hash to break ties. */
    return rcn_kind_newest_first (items, "issued_ms", "alert list", why, whylen);
fail:
    if (cur)
        mdb_cursor_close (cur);
    json_decref (items);
    rcn_errf (why, whylen, "alert list: the view could not be read");
    return NULL;
}

static int
alert_cli (int argc, char **argv, const json_t *input, uint64_t now_ms, json_t **req, char *why,
           size_t whylen)
{
    (void) input;               /* an alert is written from flags only */
    static const struct option opts[] = {
        { "severity", required_argument, NULL, 's' },
        { "text", required_argument, NULL, 't' },
        { "regions", required_argument, NULL, 'r' },
        { "expires", required_argument, NULL, 'e' },
        { "all", no_argument, NULL, 'a' },
        { NULL, 0, NULL, 0 },
    };
    if (argc < 1) {
        rcn_errf (why, whylen, "alert: say send, update HASH, cancel HASH or list");
        return RCN_EINVAL;
    }
    const char *verb = argv[0];
    bool list = strcmp (verb, "list") == 0;
    bool has_ref = strcmp (verb, "update") == 0 || strcmp (verb, "cancel") == 0;
    if (!list && !has_ref && strcmp (verb, "send") != 0) {
        rcn_errf (why, whylen, "alert: unknown verb \"%s\" (send, update, cancel, list)", verb);
        return RCN_EINVAL;
    }
    json_t *r = json_object (), *body = json_object ();
    json_object_set_new (r, "verb", json_string (verb));
    json_object_set_new (r, "op", json_string (list ? "list" : "author"));
    json_object_set_new (body, "action", json_string (list ? "list" : strcmp (verb, "send") == 0
                                                      ? "issue" : verb));
    bool cancel = strcmp (verb, "cancel") == 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        if (list != (c == 'a') || (cancel && c != 't') || c == '?' || c == ':') {
            rcn_errf (why, whylen, "alert %s: unknown or misplaced flag \"%s\"%s", verb,
                      argv[optind - 1], cancel ? " (a cancel takes only --text REASON)" : "");
            goto fail;
        }
        /* json_string refuses text that is not UTF-8 (a GBK terminal, say): say so. */
        json_t *str = c == 's' || c == 't' ? json_string (optarg) : NULL;
        if ((c == 's' || c == 't') && !str) {
            rcn_errf (why, whylen, "alert %s: --%s must be UTF-8 text", verb,
                      c == 's' ? "severity" : "text");
            goto fail;
        }
        switch (c) {
        case 's': json_object_set_new (body, "severity", str); break;
        case 't': json_object_set_new (body, "text", str); break;
        case 'a': json_object_set_new (body, "all", json_true ()); break;
        case 'r': {
            json_t *arr = json_array ();
            char *copy = strdup (optarg), *save = NULL;
            bool ok = copy != NULL;
            for (char *tok = ok ? strtok_r (copy, ", ", &save) : NULL; tok;
                 tok = strtok_r (NULL, ", ", &save)) {
                json_t *code = json_string (tok);
                ok = ok && code && json_array_append_new (arr, code) == 0;
            }
            free (copy);
            json_object_set_new (body, "regions", arr);
            if (!ok) {
                rcn_errf (why, whylen, "alert %s: --regions: six-digit codes separated by commas",
                          verb);
                goto fail;
            }
            break;
        }
        case 'e': {
            uint64_t t;
            if (rcn_time_parse (optarg, now_ms, &t, why, whylen) != RCN_OK)
                goto fail;
            if (t <= now_ms) {
                rcn_errf (why, whylen, "alert %s: --expires \"%s\" is not in the future", verb, optarg);
                goto fail;
            }
            json_object_set_new (body, "expires_ms", json_integer ((json_int_t) t));
            break;
        }
        default: break;
        }
    }
    int rest = argc - optind;
    if (has_ref) {
        if (rest != 1) {
            rcn_errf (why, whylen, "alert %s: give the alert's hash (see alert list)", verb);
            goto fail;
        }
        json_t *ref = json_string (argv[optind]);
        if (!ref) {
            rcn_errf (why, whylen, "alert %s: the hash must be 64 hex digits", verb);
            goto fail;
        }
        json_object_set_new (body, "references", ref);
    }
    else if (rest != 0) {
        rcn_errf (why, whylen, "alert %s: unexpected argument \"%s\"", verb, argv[optind]);
        goto fail;
    }
    if (strcmp (verb, "send") == 0 && (!json_object_get (body, "severity")
                                       || !json_object_get (body, "text"))) {
        rcn_errf (why, whylen, "alert send: --severity and --text are required");
        goto fail;
    }
    if (list) {
        json_object_del (body, "action");
        json_object_set_new (r, "query", body);
    }
    else
        json_object_set_new (r, "body", body);
    *req = r;
    return RCN_OK;
fail:
    json_decref (body);
    json_decref (r);
    return RCN_EINVAL;
}

static void
alert_print (const json_t *list)
{
    if (json_array_size (list) == 0) {
        printf ("no alerts\n");
        return;
    }
    printf ("%-64s  %-6s  %-8s  %-9s  %-19s  %s\n", "ALERT (hash for update/cancel)", "REGION",
            "SEVERITY", "STATE", "EXPIRES (UTC)", "TEXT");
    size_t i;
    const json_t *o;
    json_array_foreach (list, i, o) {
        char exp[40] = "-";
        json_int_t e = json_integer_value (json_object_get (o, "expires_ms"));
        if (e)
            rcn_time_format ((uint64_t) e, exp, sizeof exp);
        exp[19] = exp[0] == '-' ? exp[19] : '\0';
        const char *status = json_string_value (json_object_get (o, "status"));
        const char *region = json_string_value (json_object_get (o, "region"));
        const char *sev = json_string_value (json_object_get (o, "severity"));
        const char *text = json_string_value (json_object_get (o, "text"));
        printf ("%-64s  %-6s  %-8s  %-9s  %-19s  %s%s\n",
                json_string_value (json_object_get (o, "hash")), region ? region : "?",
                sev ? sev : "-", json_string_value (json_object_get (o, "state")), exp,
                status && strcmp (status, "actual") != 0 ? "[EXERCISE/TEST] " : "",
                text ? text : "");
    }
}

const rcn_kind_t rcn_kind_alert = {
    .kind = RCN__KIND__KIND_ALERT,
    .name = "alert",
    .dbs = s_dbs,
    .apply = alert_apply,
    .author = alert_author,
    .depends = alert_depends,
    .show = alert_show,
    .list = alert_list,
    .cli = alert_cli,
    .print = alert_print,
    .usage =
        "  alert send --severity minor|moderate|severe|extreme --text T\n"
        "             [--regions 310000,320000] [--expires TIME|+6h]\n"
        "  alert update HASH [--severity S] [--text T] [--regions CODES] [--expires TIME]\n"
        "  alert cancel HASH [--text REASON]\n"
        "  alert list [--all] [--json]\n",
};
