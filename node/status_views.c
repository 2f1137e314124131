/* status_views.c — status's digest of the kinds' views (see status_views.h).
 *
 * The one decision: nothing here knows when a notice is owed, an order overdue or an alert in
 * force. Each answer comes from the kind's own `list` callback, run with the query its rcctl
 * verb would send, and is only counted, filtered by region and sorted here, so status can
 * never disagree with `case list --owed`, `transfer list --open --overdue` or `alert list`. */
#include "rcn/status_views.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/roster.h"
#include "rcn/schedule.h"

/* Kind `name`'s list for query (borrowed), in the caller's read transaction when called inside
 * one, into *out (owned); an empty array when the kind is not built in. As for rcctl's lists,
 * the kind gets no sealing keys. */
static int
kind_list (rcn_store_t *s, const char *name, const rcn_kind_env_t *env, const json_t *query,
           uint64_t now_ms, json_t **out, char *why, size_t whylen)
{
    const rcn_kind_t *k = rcn_kind_by_name (name);
    if (!k || !k->list) {
        *out = json_array ();
        return *out ? RCN_OK : RCN_ENOMEM;
    }
    rcn_kind_env_t clear = *env;
    clear.seal = NULL;
    char w[512];
    if ((*out = rcn_kind_list (s, k, &clear, query, now_ms, w, sizeof w)))
        return RCN_OK;
    rcn_errf (why, whylen, "%s view: %s", name, w);
    return RCN_EDB;
}

static const char *
str (const json_t *o, const char *key)
{
    const char *s = json_string_value (json_object_get (o, key));
    return s ? s : "";
}

static json_int_t
num (const json_t *o, const char *key)
{
    return json_integer_value (json_object_get (o, key));
}

/* ---- owed answers to case notices ----------------------------------------------------------- */

typedef struct {
    json_int_t owed, undelivered, overdue, drill, notices;
    json_int_t oldest_age;
    json_t *oldest;                  /* owned; NULL while nothing is owed */
    json_t *by_region;               /* owned, by_me only */
} tally_t;

/* One owed (notice n, addressee a) pair; who_key/who name the other side ("region" = the
 * notifying region for to_me, "to" = the addressee for by_me). */
static void
tally_add (tally_t *t, const json_t *n, const json_t *a, const char *who_key, const char *who)
{
    json_int_t age = num (a, "owed_ms");
    t->owed++;
    t->undelivered += strcmp (str (a, "state"), "undelivered") == 0;
    t->overdue += json_is_true (json_object_get (a, "overdue"));
    t->drill += strcmp (str (n, "status"), "actual") != 0;
    if (t->oldest && age <= t->oldest_age)
        return;
    json_decref (t->oldest);
    t->oldest_age = age;
    t->oldest = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "hash", str (n, "hash"),
                           "case_id", str (n, "case_id"), who_key, who, "state", str (a, "state"),
                           "status", str (n, "status"), "since_ms", num (a, "since_ms"),
                           "age_ms", age);
}

static json_t *
tally_json (tally_t *t, bool by_me)
{
    json_t *o = json_pack ("{s:I, s:I, s:I, s:I}", "owed", t->owed, "undelivered", t->undelivered,
                           "overdue", t->overdue, "drill", t->drill);
    if (o && by_me) {
        json_object_set_new (o, "notices", json_integer (t->notices));
        json_object_set (o, "by_region", t->by_region);
    }
    if (o)
        json_object_set (o, "oldest", t->oldest ? t->oldest : json_null ());
    return o;
}

/* to_me and by_me from the case kind's `case list --owed` (every notice some addressee owes). */
static int
owed_cases (rcn_store_t *s, const rcn_kind_env_t *env, uint64_t now_ms, json_t *out, char *why,
            size_t whylen)
{
    char self[16];
    snprintf (self, sizeof self, "%06u", env->region);
    json_t *query = json_pack ("{s:b}", "owed", 1), *items = NULL;
    int rc = query ? kind_list (s, "case", env, query, now_ms, &items, why, whylen) : RCN_ENOMEM;
    json_decref (query);
    if (rc != RCN_OK)
        return rc;
    tally_t to_me = { 0 }, by_me = { .by_region = json_object () };
    size_t i, j;
    const json_t *n, *a;
    json_array_foreach (items, i, n) {
        bool mine = strcmp (str (n, "region"), self) == 0, counted = false;
        json_array_foreach (json_object_get (n, "addressees"), j, a) {
            if (!json_is_true (json_object_get (a, "owed")))
                continue;
            const char *to = str (a, "region");
            if (strcmp (to, self) == 0)
                tally_add (&to_me, n, a, "region", str (n, "region"));
            if (!mine)
                continue;
            tally_add (&by_me, n, a, "to", to);
            json_object_set_new (by_me.by_region, to,
                                 json_integer (num (by_me.by_region, to) + 1));
            counted = true;
        }
        by_me.notices += counted;
    }
    json_decref (items);
    json_t *tj = tally_json (&to_me, false), *bj = tally_json (&by_me, true);
    json_decref (to_me.oldest);
    json_decref (by_me.oldest);
    json_decref (by_me.by_region);
    if (!tj || !bj) {
        json_decref (tj);
        json_decref (bj);
        rcn_errf (why, whylen, "status: out of memory");
        return RCN_ENOMEM;
    }
    json_object_set_new (out, "to_me", tj);
    json_object_set_new (out, "by_me", bj);
    return RCN_OK;
}

/* ---- transfer orders past a deadline -------------------------------------------------------- */

/* Who moves an overdue order on (DESIGN §4): B accepts or rejects a created order and hands
 * over a departed one; A departs (or cancels) an accepted one. */
static const char *
must_act (const json_t *o)
{
    return strcmp (str (o, "state"), "accepted") == 0 ? str (o, "region") : str (o, "to");
}

/* How long past the first deadline it missed: accept_by for a created order, else the eta. */
static json_int_t
late_ms (const json_t *o, uint64_t now_ms)
{
    bool created = strcmp (str (o, "state"), "created") == 0;
    json_int_t due = num (o, created ? "accept_by_ms" : "eta_ms");
    return (json_int_t) now_ms > due ? (json_int_t) now_ms - due : 0;
}

static int
overdue_transfers (rcn_store_t *s, const rcn_kind_env_t *env, uint64_t now_ms, json_t *out,
                   char *why, size_t whylen)
{
    char self[16];
    snprintf (self, sizeof self, "%06u", env->region);
    json_t *query = json_pack ("{s:b, s:b}", "open", 1, "overdue", 1), *items = NULL;
    int rc = query ? kind_list (s, "transfer", env, query, now_ms, &items, why, whylen)
                   : RCN_ENOMEM;
    json_decref (query);
    if (rc != RCN_OK)
        return rc;
    json_t *arr = json_array ();
    size_t i, j;
    const json_t *o, *w;
    json_array_foreach (items, i, o) {
        if (strcmp (str (o, "region"), self) != 0 && strcmp (str (o, "to"), self) != 0)
            continue;
        char reasons[256] = "";
        size_t off = 0;
        json_array_foreach (json_object_get (o, "overdue"), j, w)
            if (off < sizeof reasons)
                off += (size_t) snprintf (reasons + off, sizeof reasons - off, "%s%s",
                                          off ? "; " : "", json_string_value (w));
        json_array_append_new (arr, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}",
                                               "hash", str (o, "hash"),
                                               "order_id", str (o, "order_id"),
                                               "from", str (o, "region"), "to", str (o, "to"),
                                               "state", str (o, "state"),
                                               "status", str (o, "status"), "why", reasons,
                                               "act", must_act (o),
                                               "late_ms", late_ms (o, now_ms)));
    }
    json_decref (items);
    json_object_set_new (out, "transfers_overdue", arr);
    return RCN_OK;
}

json_t *
rcn_status_owed (rcn_store_t *s, const rcn_kind_env_t *env, uint64_t now_ms, char *why,
                 size_t whylen)
{
    json_t *out = json_object ();
    if (!out)
        return NULL;
    json_object_set_new (out, "response_sla_s",
                         json_integer ((json_int_t) rcn_roster_policy (env->roster)->response_sla_s));
    if (owed_cases (s, env, now_ms, out, why, whylen) != RCN_OK
        || overdue_transfers (s, env, now_ms, out, why, whylen) != RCN_OK) {
        json_decref (out);
        return NULL;
    }
    return out;
}

/* ---- alerts in force ------------------------------------------------------------------------ */

static int
severity_rank (const char *sev)
{
    static const char *const order[] = { "minor", "moderate", "severe", "extreme" };
    for (int i = 0; i < 4; i++)
        if (strcmp (sev, order[i]) == 0)
            return i + 1;
    return 0;
}

typedef struct {
    json_t *item;
    int rank;                        /* severity, real traffic above drill */
    size_t pos;                      /* in the kind's list: newest first */
} ranked_t;

static int
by_rank (const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank > y->rank ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

json_t *
rcn_status_alerts (rcn_store_t *s, const rcn_kind_env_t *env, uint64_t now_ms, char *why,
                   size_t whylen)
{
    static const char *const keep[] = { "hash", "region", "severity", "text", "regions",
                                        "status", "issued_ms", "updated_ms", "expires_ms", NULL };
    json_t *query = json_object (), *items = NULL;
    int rc = query ? kind_list (s, "alert", env, query, now_ms, &items, why, whylen) : RCN_ENOMEM;
    json_decref (query);
    if (rc != RCN_OK)
        return NULL;
    size_t n = json_array_size (items);
    ranked_t *r = calloc (n ? n : 1, sizeof *r);
    json_t *list = json_array ();
    if (!r || !list) {
        free (r);
        json_decref (list);
        json_decref (items);
        rcn_errf (why, whylen, "status: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get (items, i);
        r[i].item = json_object ();
        for (size_t k = 0; keep[k]; k++)
            if (json_object_get (a, keep[k]))
                json_object_set (r[i].item, keep[k], json_object_get (a, keep[k]));
        r[i].rank = severity_rank (str (a, "severity"))
                  + (strcmp (str (a, "status"), "actual") == 0 ? 8 : 0);
        r[i].pos = i;
    }
    qsort (r, n, sizeof *r, by_rank);
    for (size_t i = 0; i < n; i++)
        json_array_append_new (list, r[i].item);
    free (r);
    json_decref (items);
    return json_pack ("{s:I, s:o}", "in_force", (json_int_t) n, "list", list);
}

/* ---- spans declared lost -------------------------------------------------------------------- */

json_t *
rcn_status_lost (rcn_store_t *s, const rcn_kind_env_t *env, char *why, size_t whylen)
{
    json_t *query = json_object (), *items = NULL;
    int rc = query ? kind_list (s, "recovery", env, query, 0, &items, why, whylen) : RCN_ENOMEM;
    json_decref (query);
    if (rc != RCN_OK)
        return NULL;
    json_t *out = json_object ();
    size_t i;
    const json_t *o;
    json_array_foreach (items, i, o) {
        const char *region = str (o, "region");
        json_t *spans = json_object_get (out, region);
        if (!spans) {
            spans = json_array ();
            json_object_set_new (out, region, spans);
        }
        json_array_append_new (spans, json_pack ("[I, I]", num (o, "first_lost"),
                                                 num (o, "last_lost")));
    }
    json_decref (items);
    return out;
}

/* ---- the latest notification round ------------------------------------------------------- */

json_t *
rcn_status_round (rcn_store_t *s, const rcn_kind_env_t *env, uint64_t now_ms, char *why,
                  size_t whylen)
{
    rcn_slot_t slot;
    if (!env->roster || rcn_roster_policy (env->roster)->n_rounds == 0
        || rcn_slot_latest (rcn_roster_policy (env->roster), now_ms, &slot) != RCN_OK)
        return json_null ();
    json_t *query = json_pack ("{s:b}", "last", 1), *day = NULL;
    int rc = query ? kind_list (s, "rounds", env, query, now_ms, &day, why, whylen) : RCN_ENOMEM;
    json_decref (query);
    if (rc != RCN_OK)
        return NULL;
    char self[16], name[8];
    snprintf (self, sizeof self, "%06u", env->region);
    json_t *out = json_pack ("{s:s, s:s, s:I, s:O, s:I, s:[], s:[], s:n}", "date", slot.date,
                             "slot", rcn_slot_name (slot.minute, name, sizeof name),
                             "slot_ms", (json_int_t) slot.slot_ms, "tally",
                             json_object_get (day, "tally"), "split_view",
                             (json_int_t) json_array_size (json_object_get (day, "split_view")),
                             "late", "missing", "own");
    size_t i;
    const json_t *m;
    json_array_foreach (json_object_get (day, "members"), i, m) {
        const json_t *cell = json_array_get (json_object_get (m, "cells"), 0);
        const char *state = str (cell, "state");
        if (strcmp (state, "late") == 0 || strcmp (state, "missing") == 0)
            json_array_append_new (json_object_get (out, state), json_string (str (m, "region")));
        if (strcmp (str (m, "region"), self) == 0)
            json_object_set_new (out, "own", json_pack ("{s:s, s:I, s:I}", "state", state,
                                                        "acks", num (cell, "acks"),
                                                        "of", num (cell, "of")));
    }
    json_decref (day);
    return out;
}
