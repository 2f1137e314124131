/* round.c — RoundReport and RoundAck (DESIGN.md §4): the daily notification rounds as signed
 * checkpoints that every peer co-signs.
 *
 * At each slot of the roster's schedule (schedule.h) a member writes a RoundReport by itself:
 * the report entry is its head at that moment, and the body says which slot it is for, how
 * many entries of each kind it wrote since its previous report and what it owes. Every peer
 * that holds the report acknowledges it by itself (RoundAck), quoting the head it holds for the
 * reporter. `rcctl rounds` shows region x slot: on time, late or missing, acknowledged by k of
 * n; `rounds proof` bundles one slot's reports, their acks, the reporter's chain up to the
 * highest quoted head and the roster, and `rounds verify` checks such a bundle offline.
 *
 * What apply can judge from one origin's chain it judges (a report after its previous one,
 * chained to it, signed at or after its slot; an ack of someone else's report, once). What
 * needs the roster (the slot's time in the alliance's zone) or another origin's entries (an
 * ack's quote against the reporter's chain) is judged when listed, the same on every member.
 *
 * View:  round.report  be64(slot_ms) | origin[32] -> hash[32] | be64(time_ms) | be64(seq)
 *        round.last    origin[32] -> be64(slot_ms) | hash[32] | be64(seq)   (newest report)
 *        round.ack     report[32] | acker[32] -> hash[32] | be64(time_ms) | be64(seq) | quoted[32]
 *                      | reporter[32] */
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/fileio.h"
#include "rcn/kind.h"
#include "rcn/region.h"
#include "rcn/schedule.h"
#include "rcn/status_views.h"
#include "rcn/store.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn.pb-c.h"

enum { DB_REPORT = 0, DB_LAST = 1, DB_ACK = 2 };
static const char *const s_dbs[] = { "round.report", "round.last", "round.ack", NULL };
static const uint32_t s_also[] = { RCN__KIND__KIND_ROUND_ACK, 0 };

#define REPORT_KEY (8 + 32)
#define REPORT_VAL (32 + 8 + 8)
#define LAST_VAL (8 + 32 + 8)
#define ACK_KEY (32 + 32)
#define ACK_VAL (32 + 8 + 8 + 32 + 32)
#define ACK_WINDOW_MS (48ull * 3600 * 1000)  /* reports a member still acknowledges on its own */
#define AUTO_ACKS_MAX 64                     /* acks proposed per pass */
#define SKEW_MS 60000                        /* a report this far ahead of its acks: clock ahead */
#define PROOF_CHAIN_MAX 1000                 /* chain entries a proof carries past a report */
#define PROOF_FILE_MAX (64u << 20)

/* ---- view records ---------------------------------------------------------------------- */

typedef struct {
    uint8_t hash[32];
    uint64_t time_ms, seq;
} report_rec_t;

typedef struct {
    uint64_t slot_ms, seq;
    uint8_t hash[32];
} last_rec_t;

typedef struct {
    uint8_t acker[32], hash[32], quoted[32], reporter[32];
    uint64_t time_ms, seq;
} ack_rec_t;

static int
mdb_fail (int mrc, const char *what, char *why, size_t whylen)
{
    rcn_errf (why, whylen, "round view: %s: %s", what, mdb_strerror (mrc));
    return RCN_EDB;
}

static int
get_last (const rcn_view_t *v, const uint8_t origin[32], last_rec_t *out, bool *found)
{
    MDB_val k = { 32, (void *) origin }, d;
    int mrc = mdb_get (v->txn, v->dbi[DB_LAST], &k, &d);
    *found = mrc == 0;
    if (mrc == MDB_NOTFOUND)
        return RCN_OK;
    if (mrc || d.mv_size != LAST_VAL)
        return RCN_EDB;
    const uint8_t *p = d.mv_data;
    out->slot_ms = rcn_be_get (p, 8);
    memcpy (out->hash, p + 8, 32);
    out->seq = rcn_be_get (p + 40, 8);
    return RCN_OK;
}

static int
get_report (const rcn_view_t *v, uint64_t slot_ms, const uint8_t origin[32], report_rec_t *out,
            bool *found)
{
    uint8_t key[REPORT_KEY];
    rcn_be_put (key, slot_ms, 8);
    memcpy (key + 8, origin, 32);
    MDB_val k = { sizeof key, key }, d;
    int mrc = mdb_get (v->txn, v->dbi[DB_REPORT], &k, &d);
    *found = mrc == 0;
    if (mrc == MDB_NOTFOUND)
        return RCN_OK;
    if (mrc || d.mv_size != REPORT_VAL)
        return RCN_EDB;
    const uint8_t *p = d.mv_data;
    memcpy (out->hash, p, 32);
    out->time_ms = rcn_be_get (p + 32, 8);
    out->seq = rcn_be_get (p + 40, 8);
    return RCN_OK;
}

static void
ack_unpack (const MDB_val *k, const MDB_val *d, ack_rec_t *a)
{
    const uint8_t *p = d->mv_data;
    memcpy (a->acker, (uint8_t *) k->mv_data + 32, 32);
    memcpy (a->hash, p, 32);
    a->time_ms = rcn_be_get (p + 32, 8);
    a->seq = rcn_be_get (p + 40, 8);
    memcpy (a->quoted, p + 48, 32);
    memcpy (a->reporter, p + 80, 32);
}

/* Whether an ack of the report (reporter's seq report_seq) counts as its co-signature: by a
 * roster member other than the reporter, naming that reporter, quoting a head at or above the
 * report. apply cannot judge the last two (they need the report); list, proof and verify judge
 * them alike. NULL when it counts, else why not. */
static const char *
ack_fault (const ack_rec_t *a, const uint8_t reporter[32], uint64_t report_seq, const rcn_roster_t *r)
{
    if (memcmp (a->acker, reporter, 32) == 0 || !rcn_roster_by_origin (r, a->acker))
        return "not by a peer of the reporter in the roster";
    if (memcmp (a->reporter, reporter, 32) != 0)
        return "names another reporter than the report's";
    if (a->seq < report_seq)
        return "quotes a head below the report";
    return NULL;
}

/* Calls fn for every ack of `report` held, in acker order. */
typedef int (*ack_fn) (const ack_rec_t *a, void *ctx);
static int
each_ack (const rcn_view_t *v, const uint8_t report[32], ack_fn fn, void *ctx)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (v->txn, v->dbi[DB_ACK], &cur) != 0)
        return RCN_EDB;
    uint8_t key[ACK_KEY] = { 0 };
    memcpy (key, report, 32);
    MDB_val k = { sizeof key, key }, d;
    int rc = RCN_OK, mrc;
    for (mrc = mdb_cursor_get (cur, &k, &d, MDB_SET_RANGE); mrc == 0 && rc == RCN_OK;
         mrc = mdb_cursor_get (cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != ACK_KEY || memcmp (k.mv_data, report, 32) != 0)
            break;
        if (d.mv_size != ACK_VAL) {
            rc = RCN_EDB;
            break;
        }
        ack_rec_t a;
        ack_unpack (&k, &d, &a);
        rc = fn (&a, ctx);
    }
    if (rc == RCN_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = RCN_EDB;
    mdb_cursor_close (cur);
    return rc;
}

static int
has_ack (const rcn_view_t *v, const uint8_t report[32], const uint8_t acker[32], bool *found)
{
    uint8_t key[ACK_KEY];
    memcpy (key, report, 32);
    memcpy (key + 32, acker, 32);
    MDB_val k = { sizeof key, key }, d;
    int mrc = mdb_get (v->txn, v->dbi[DB_ACK], &k, &d);
    *found = mrc == 0;
    return mrc == 0 || mrc == MDB_NOTFOUND ? RCN_OK : RCN_EDB;
}

/* ---- bodies ------------------------------------------------------------------------------ */

static bool
date_shaped (const char *s)
{
    if (!s || strlen (s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    return true;
}

/* A report's own fields and its place after the origin's previous report (`last`, or none). */
static int
report_check (const Rcn__RoundReport *m, const rcn_header_t *h, const last_rec_t *last,
              bool has_last, char *why, size_t whylen)
{
    if (!date_shaped (m->date)) {
        rcn_errf (why, whylen, "round report: date must be YYYY-MM-DD");
        return RCN_EBODY;
    }
    if (m->slot >= 24 * 60 || m->slot_ms == 0) {
        rcn_errf (why, whylen, "round report: slot out of range");
        return RCN_EBODY;
    }
    if (h->time_ms < m->slot_ms) {
        rcn_errf (why, whylen, "round report: signed before its slot");
        return RCN_EBODY;
    }
    if (has_last && m->slot_ms <= last->slot_ms) {
        rcn_errf (why, whylen, "round report: not after the reporter's previous report");
        return RCN_EBODY;
    }
    if (has_last ? m->previous.len != 32 || memcmp (m->previous.data, last->hash, 32) != 0
                 : m->previous.len != 0) {
        rcn_errf (why, whylen, "round report: previous does not name the reporter's last report");
        return RCN_EBODY;
    }
    uint64_t from = has_last ? last->seq + 1 : 1;
    if (m->from_seq != from || m->from_seq > h->seq) {
        rcn_errf (why, whylen, "round report: counts must start at seq %llu", (unsigned long long) from);
        return RCN_EBODY;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < m->n_counts; i++) {
        const Rcn__RoundReport__Count *c = m->counts[i];
        if (c->count == 0 || (i > 0 && c->kind <= m->counts[i - 1]->kind)) {
            rcn_errf (why, whylen, "round report: counts must be by ascending kind, none zero");
            return RCN_EBODY;
        }
        sum += c->count;
    }
    if (sum > h->seq - m->from_seq) {
        rcn_errf (why, whylen, "round report: counts more entries than seqs %llu..%llu",
                  (unsigned long long) m->from_seq, (unsigned long long) h->seq - 1);
        return RCN_EBODY;
    }
    if (m->owed_overdue > m->owed || (m->owed == 0) != (m->oldest_owed_ms == 0)) {
        rcn_errf (why, whylen, "round report: owed figures disagree");
        return RCN_EBODY;
    }
    return RCN_OK;
}

static int
ack_check (const Rcn__RoundAck *m, const rcn_header_t *h, char *why, size_t whylen)
{
    if (m->report.len != 32 || m->reporter.len != 32 || m->hash.len != 32 || m->seq == 0) {
        rcn_errf (why, whylen, "round ack: report, reporter and hash are 32 bytes, seq >= 1");
        return RCN_EBODY;
    }
    if (memcmp (m->reporter.data, h->origin, 32) == 0) {
        rcn_errf (why, whylen, "round ack: a member does not acknowledge its own report");
        return RCN_EBODY;
    }
    return RCN_OK;
}

static int
report_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__RoundReport *m = rcn__round_report__unpack (NULL, e->h.body_len, e->h.body);
    if (!m) {
        rcn_errf (why, whylen, "round report: body does not parse");
        return RCN_EBODY;
    }
    last_rec_t last;
    bool has_last;
    int rc = rcn_kind_canonical (&m->base, e->h.body, e->h.body_len);
    if (rc == RCN_EBODY)
        rcn_errf (why, whylen, "round report: body is not canonical");
    if (rc == RCN_OK && get_last (v, e->h.origin, &last, &has_last) != RCN_OK)
        rc = mdb_fail (MDB_CORRUPTED, "round.last", why, whylen);
    if (rc == RCN_OK)
        rc = report_check (m, &e->h, &last, has_last, why, whylen);
    if (rc != RCN_OK) {
        rcn__round_report__free_unpacked (m, NULL);
        return rc;
    }
    uint8_t key[REPORT_KEY], val[REPORT_VAL], lv[LAST_VAL];
    rcn_be_put (key, m->slot_ms, 8);
    memcpy (key + 8, e->h.origin, 32);
    memcpy (val, e->hash, 32);
    rcn_be_put (val + 32, e->h.time_ms, 8);
    rcn_be_put (val + 40, e->h.seq, 8);
    rcn_be_put (lv, m->slot_ms, 8);
    memcpy (lv + 8, e->hash, 32);
    rcn_be_put (lv + 40, e->h.seq, 8);
    rcn__round_report__free_unpacked (m, NULL);
    MDB_val k = { sizeof key, key }, d = { sizeof val, val };
    MDB_val lk = { 32, (void *) e->h.origin }, ld = { sizeof lv, lv };
    int mrc = mdb_put (v->txn, v->dbi[DB_REPORT], &k, &d, 0);
    if (!mrc)
        mrc = mdb_put (v->txn, v->dbi[DB_LAST], &lk, &ld, 0);
    return mrc ? mdb_fail (mrc, "put", why, whylen) : RCN_OK;
}

static int
ack_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__RoundAck *m = rcn__round_ack__unpack (NULL, e->h.body_len, e->h.body);
    if (!m) {
        rcn_errf (why, whylen, "round ack: body does not parse");
        return RCN_EBODY;
    }
    int rc = rcn_kind_canonical (&m->base, e->h.body, e->h.body_len);
    if (rc == RCN_EBODY)
        rcn_errf (why, whylen, "round ack: body is not canonical");
    if (rc == RCN_OK)
        rc = ack_check (m, &e->h, why, whylen);
    bool dup = false;
    if (rc == RCN_OK && has_ack (v, m->report.data, e->h.origin, &dup) != RCN_OK)
        rc = mdb_fail (MDB_CORRUPTED, "round.ack", why, whylen);
    if (rc == RCN_OK && dup) {
        rcn_errf (why, whylen, "round ack: this member already acknowledged that report");
        rc = RCN_EBODY;
    }
    if (rc != RCN_OK) {
        rcn__round_ack__free_unpacked (m, NULL);
        return rc;
    }
    uint8_t key[ACK_KEY], val[ACK_VAL];
    memcpy (key, m->report.data, 32);
    memcpy (key + 32, e->h.origin, 32);
    memcpy (val, e->hash, 32);
    rcn_be_put (val + 32, e->h.time_ms, 8);
    rcn_be_put (val + 40, m->seq, 8);
    memcpy (val + 48, m->hash.data, 32);
    memcpy (val + 80, m->reporter.data, 32);
    rcn__round_ack__free_unpacked (m, NULL);
    MDB_val k = { sizeof key, key }, d = { sizeof val, val };
    int mrc = mdb_put (v->txn, v->dbi[DB_ACK], &k, &d, 0);
    return mrc ? mdb_fail (mrc, "put", why, whylen) : RCN_OK;
}

static int
round_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    return e->h.kind == RCN__KIND__KIND_ROUND_ACK ? ack_apply (v, e, why, whylen)
                                                  : report_apply (v, e, why, whylen);
}

/* ---- authoring ---------------------------------------------------------------------------- */

typedef struct {
    uint32_t kinds[32];
    uint32_t counts[32];
    size_t n;
} counts_t;

static int
count_one (rcn_entry_t *e, void *ctx)
{
    counts_t *c = ctx;
    size_t i = 0;
    while (i < c->n && c->kinds[i] < e->h.kind)
        i++;
    if (i < c->n && c->kinds[i] == e->h.kind) {
        c->counts[i]++;
        return RCN_OK;
    }
    if (c->n == sizeof c->kinds / sizeof *c->kinds)
        return RCN_OK;                     /* more kinds than any proto has: not counted */
    memmove (c->kinds + i + 1, c->kinds + i, (c->n - i) * sizeof *c->kinds);
    memmove (c->counts + i + 1, c->counts + i, (c->n - i) * sizeof *c->counts);
    c->kinds[i] = e->h.kind;
    c->counts[i] = 1;
    c->n++;
    return RCN_OK;
}

static const char *
str_field (const json_t *o, const char *k)
{
    return json_string_value (json_object_get (o, k));
}

/* A slot named by date and "HH:MM" that the roster schedules: its minute and Unix ms.
 * RCN_EINVAL with `why` ("<what>: …") otherwise. */
static int
roster_slot (const rcn_policy_t *p, const char *date, const char *slot, const char *what,
             int *minute, uint64_t *slot_ms, char *why, size_t whylen)
{
    if (!date || !slot || rcn_slot_parse (slot, minute) != RCN_OK) {
        rcn_errf (why, whylen, "%s: needs a date YYYY-MM-DD and a slot HH:MM", what);
        return RCN_EINVAL;
    }
    bool in_roster = false;
    for (int i = 0; i < p->n_rounds; i++)
        in_roster |= p->rounds[i] == *minute;
    if (!in_roster) {
        rcn_errf (why, whylen, "%s: %s is not a slot of the roster", what, slot);
        return RCN_EINVAL;
    }
    char w[256];
    if (rcn_slot_ms (p, date, *minute, slot_ms, w, sizeof w) != RCN_OK) {
        rcn_errf (why, whylen, "%s: %s", what, w);
        return RCN_EINVAL;
    }
    return RCN_OK;
}

static int
author_report (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *b, uint64_t now_ms,
               uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    const rcn_policy_t *p = rcn_roster_policy (env->roster);
    const char *date = str_field (b, "date"), *slot = str_field (b, "slot");
    int minute = -1;
    uint64_t slot_ms;
    if (roster_slot (p, date, slot, "round report", &minute, &slot_ms, why, whylen) != RCN_OK)
        return RCN_EINVAL;
    if (slot_ms > now_ms) {
        rcn_errf (why, whylen, "round report: the %s %s slot has not come yet", date, slot);
        return RCN_EINVAL;
    }
    last_rec_t last;
    bool has_last;
    uint64_t head = 0;
    if (get_last (v, env->origin, &last, &has_last) != RCN_OK
        || rcn_store_head (v->store, env->origin, &head, NULL) != RCN_OK) {
        rcn_errf (why, whylen, "round report: the view cannot be read");
        return RCN_EDB;
    }
    if (has_last && slot_ms <= last.slot_ms) {
        rcn_errf (why, whylen, "round report: this member already reported for this slot or a "
                  "later one");
        return RCN_EINVAL;
    }
    Rcn__RoundReport m = RCN__ROUND_REPORT__INIT;
    m.date = (char *) date;
    m.slot = (uint32_t) minute;
    m.slot_ms = slot_ms;
    if (has_last) {
        m.previous.data = last.hash;
        m.previous.len = 32;
    }
    m.from_seq = has_last ? last.seq + 1 : 1;
    counts_t c = { .n = 0 };
    if (m.from_seq <= head && rcn_store_scan (v->store, env->origin, m.from_seq, count_one, &c) != RCN_OK) {
        rcn_errf (why, whylen, "round report: the log cannot be read");
        return RCN_EDB;
    }
    Rcn__RoundReport__Count cs[32], *cp[32];
    for (size_t i = 0; i < c.n; i++) {
        rcn__round_report__count__init (&cs[i]);
        cs[i].kind = c.kinds[i];
        cs[i].count = c.counts[i];
        cp[i] = &cs[i];
    }
    m.counts = cp;
    m.n_counts = c.n;
    /* What it owes, as `status` shows it (read in this same transaction). */
    json_t *owed = rcn_status_owed (v->store, env, now_ms, why, whylen);
    if (!owed)
        return RCN_EDB;
    const json_t *to_me = json_object_get (owed, "to_me"), *by_me = json_object_get (owed, "by_me");
    m.owed = (uint32_t) json_integer_value (json_object_get (to_me, "owed"));
    m.owed_overdue = (uint32_t) json_integer_value (json_object_get (to_me, "overdue"));
    m.undelivered = (uint32_t) json_integer_value (json_object_get (to_me, "undelivered"));
    m.sent_undelivered = (uint32_t) json_integer_value (json_object_get (by_me, "undelivered"));
    m.transfers_overdue = (uint32_t) json_array_size (json_object_get (owed, "transfers_overdue"));
    uint64_t since = (uint64_t) json_integer_value (json_object_get (json_object_get (to_me, "oldest"),
                                                                     "since_ms"));
    m.oldest_owed_ms = m.owed ? (since ? since : 1) : 0;
    json_decref (owed);
    *body_len = rcn__round_report__get_packed_size (&m);
    if (!(*body = malloc (*body_len ? *body_len : 1)))
        return RCN_ENOMEM;
    rcn__round_report__pack (&m, *body);
    return RCN_OK;
}

static int
author_ack (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *b, uint8_t **body,
            size_t *body_len, char *why, size_t whylen)
{
    uint8_t report[32], held[32];
    const char *hex = str_field (b, "report");
    if (!hex || rcn_unhex (hex, report, 32) != RCN_OK) {
        rcn_errf (why, whylen, "round ack: \"report\" must be 64 hex digits");
        return RCN_EINVAL;
    }
    rcn_entry_t *e = NULL;
    int invalid = 0;
    if (rcn_view_get_by_hash (v, report, &e) != RCN_OK || e->h.kind != RCN__KIND__KIND_ROUND_REPORT
        || rcn_view_is_invalid (v, report, &invalid) != RCN_OK || invalid) {
        rcn_entry_destroy (&e);
        rcn_errf (why, whylen, "round ack: this log holds no valid report %.16s…", hex);
        return RCN_EINVAL;
    }
    bool dup = false;
    uint64_t seq = 0;
    int rc = RCN_OK;
    if (memcmp (e->h.origin, env->origin, 32) == 0) {
        rcn_errf (why, whylen, "round ack: a member does not acknowledge its own report");
        rc = RCN_EINVAL;
    }
    else if (has_ack (v, report, env->origin, &dup) != RCN_OK
             || rcn_store_head (v->store, e->h.origin, &seq, held) != RCN_OK) {
        rcn_errf (why, whylen, "round ack: the view cannot be read");
        rc = RCN_EDB;
    }
    else if (dup) {
        rcn_errf (why, whylen, "round ack: already acknowledged");
        rc = RCN_EINVAL;
    }
    else if (seq < e->h.seq) {
        rcn_errf (why, whylen, "round ack: the reporter's chain is not held up to the report");
        rc = RCN_EINVAL;
    }
    if (rc != RCN_OK) {
        rcn_entry_destroy (&e);
        return rc;
    }
    Rcn__RoundAck m = RCN__ROUND_ACK__INIT;
    m.report.data = report;
    m.report.len = 32;
    m.reporter.data = e->h.origin;
    m.reporter.len = 32;
    m.seq = seq;
    m.hash.data = held;
    m.hash.len = 32;
    *body_len = rcn__round_ack__get_packed_size (&m);
    if ((*body = malloc (*body_len)))
        rcn__round_ack__pack (&m, *body);
    rcn_entry_destroy (&e);
    return *body ? RCN_OK : RCN_ENOMEM;
}

static int
round_author (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req, uint64_t now_ms,
              uint32_t *kind, uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    const char *verb = str_field (req, "verb");
    const json_t *b = json_object_get (req, "body");
    if (!env->roster || !json_is_object (b)) {
        rcn_errf (why, whylen, "rounds: nothing to write");
        return RCN_EINVAL;
    }
    if (verb && strcmp (verb, "ack") == 0) {
        *kind = RCN__KIND__KIND_ROUND_ACK;
        return author_ack (v, env, b, body, body_len, why, whylen);
    }
    if (verb && strcmp (verb, "report") == 0) {
        *kind = RCN__KIND__KIND_ROUND_REPORT;
        return author_report (v, env, b, now_ms, body, body_len, why, whylen);
    }
    rcn_errf (why, whylen, "rounds: reports and acknowledgements are written by the node itself");
    return RCN_EINVAL;
}

/* A report's counts and head are those of the log just below it: it must be the first of its
 * group, after what came before is committed. */
static bool
round_depends (const json_t *req)
{
    const char *verb = str_field (req, "verb");
    return verb && strcmp (verb, "report") == 0;
}

static int
own_birth (const rcn_view_t *v, const uint8_t origin[32], uint64_t *ms)
{
    rcn_entry_t *first = NULL;
    int rc = rcn_store_get (v->store, origin, 1, &first);
    *ms = rc == RCN_OK ? first->h.time_ms : 0;
    rcn_entry_destroy (&first);
    return rc == RCN_ENOTFOUND ? RCN_OK : rc;
}

/* At or after a slot, this member's report for it (once; only for a slot it was there before:
 * a member first started at 14:00 does not report 10:00). Reports of the last two days that
 * others wrote and this member has not acknowledged: an ack each. */
static int
round_auto (const rcn_view_t *v, const rcn_kind_env_t *env, uint64_t now_ms, json_t *reqs,
            char *why, size_t whylen)
{
    if (!env->roster)
        return RCN_OK;
    const rcn_policy_t *p = rcn_roster_policy (env->roster);
    rcn_slot_t s;
    last_rec_t last;
    bool has_last;
    uint64_t birth = 0;
    if (p->n_rounds > 0 && rcn_slot_latest (p, now_ms, &s) == RCN_OK) {
        if (get_last (v, env->origin, &last, &has_last) != RCN_OK
            || own_birth (v, env->origin, &birth) != RCN_OK) {
            rcn_errf (why, whylen, "rounds: the view cannot be read");
            return RCN_EDB;
        }
        char slot[8];
        if (birth && birth <= s.slot_ms && (!has_last || last.slot_ms < s.slot_ms))
            json_array_append_new (reqs, json_pack ("{s:s, s:s, s:{s:s, s:s}}", "kind", "rounds",
                                                    "verb", "report", "body", "date", s.date,
                                                    "slot", rcn_slot_name (s.minute, slot, sizeof slot)));
    }
    MDB_cursor *cur;
    if (mdb_cursor_open (v->txn, v->dbi[DB_REPORT], &cur) != 0)
        return mdb_fail (MDB_CORRUPTED, "cursor", why, whylen);
    uint8_t from[REPORT_KEY] = { 0 };
    rcn_be_put (from, now_ms > ACK_WINDOW_MS ? now_ms - ACK_WINDOW_MS : 0, 8);
    MDB_val k = { sizeof from, from }, d;
    size_t proposed = 0;
    int rc = RCN_OK;
    for (int mrc = mdb_cursor_get (cur, &k, &d, MDB_SET_RANGE); mrc == 0 && proposed < AUTO_ACKS_MAX;
         mrc = mdb_cursor_get (cur, &k, &d, MDB_NEXT)) {
        const uint8_t *origin = (uint8_t *) k.mv_data + 8;
        if (k.mv_size != REPORT_KEY || d.mv_size != REPORT_VAL || memcmp (origin, env->origin, 32) == 0
            || !rcn_roster_by_origin (env->roster, origin))
            continue;
        bool done = false;
        if ((rc = has_ack (v, d.mv_data, env->origin, &done)) != RCN_OK)
            break;
        if (done)
            continue;
        char hex[65];
        json_array_append_new (reqs, json_pack ("{s:s, s:s, s:{s:s}}", "kind", "rounds", "verb", "ack",
                                                "body", "report", rcn_hex (d.mv_data, 32, hex)));
        proposed++;
    }
    mdb_cursor_close (cur);
    if (rc != RCN_OK)
        rcn_errf (why, whylen, "rounds: the view cannot be read");
    return rc;
}

/* ---- showing ------------------------------------------------------------------------------- */

static json_t *
round_show (uint32_t kind, const uint8_t *body, size_t body_len)
{
    char hex[65], slot[8];
    if (kind == RCN__KIND__KIND_ROUND_ACK) {
        Rcn__RoundAck *m = rcn__round_ack__unpack (NULL, body_len, body);
        if (!m)
            return NULL;
        json_t *o = json_object ();
        if (m->report.len == 32)
            json_object_set_new (o, "report", json_string (rcn_hex (m->report.data, 32, hex)));
        if (m->reporter.len == 32)
            json_object_set_new (o, "reporter", json_string (rcn_hex (m->reporter.data, 32, hex)));
        json_object_set_new (o, "seq", json_integer ((json_int_t) m->seq));
        if (m->hash.len == 32)
            json_object_set_new (o, "hash", json_string (rcn_hex (m->hash.data, 32, hex)));
        rcn__round_ack__free_unpacked (m, NULL);
        return o;
    }
    Rcn__RoundReport *m = rcn__round_report__unpack (NULL, body_len, body);
    if (!m)
        return NULL;
    json_t *o = json_pack ("{s:s, s:s, s:I, s:I}", "date", m->date ? m->date : "",
                           "slot", rcn_slot_name ((int) (m->slot % 1440), slot, sizeof slot),
                           "slot_ms", (json_int_t) m->slot_ms, "from_seq", (json_int_t) m->from_seq);
    if (m->previous.len == 32)
        json_object_set_new (o, "previous", json_string (rcn_hex (m->previous.data, 32, hex)));
    json_t *counts = json_object ();
    for (size_t i = 0; i < m->n_counts; i++) {
        char name[32];
        if (!rcn_kind_entry_name (m->counts[i]->kind, name, sizeof name))
            snprintf (name, sizeof name, "%u", m->counts[i]->kind);
        json_object_set_new (counts, name, json_integer (m->counts[i]->count));
    }
    json_object_set_new (o, "counts", counts);
    json_object_set_new (o, "owed", json_pack ("{s:i, s:i, s:I, s:i, s:i, s:i}", "owed", m->owed,
                                               "overdue", m->owed_overdue, "oldest_ms",
                                               (json_int_t) m->oldest_owed_ms, "undelivered",
                                               m->undelivered, "sent_undelivered", m->sent_undelivered,
                                               "transfers_overdue", m->transfers_overdue));
    rcn__round_report__free_unpacked (m, NULL);
    return o;
}

/* ---- rcctl rounds: region x slot ----------------------------------------------------------- */

typedef struct {
    const rcn_view_t *v;
    const rcn_roster_t *roster;
    const uint8_t *reporter;
    uint64_t report_seq;
    const uint8_t *report_hash;
    json_t *by, *conflicts, *ignored;
    uint64_t times[RCN_MAX_MEMBERS];
    size_t n_times;
} acks_ctx_t;

static int
code_of (const rcn_roster_t *r, const uint8_t origin[32], char code[16])
{
    const rcn_member_t *m = rcn_roster_by_origin (r, origin);
    if (!m)
        return RCN_ENOTFOUND;
    snprintf (code, 16, "%06u", m->region);
    return RCN_OK;
}

/* One ack of a report: counted when a member other than the reporter wrote it; its quote is
 * checked against the reporter's chain as held here. */
static int
ack_one (const ack_rec_t *a, void *ctx)
{
    acks_ctx_t *c = ctx;
    char code[16] = "?", hex[65], qhex[65];
    const char *fault = ack_fault (a, c->reporter, c->report_seq, c->roster);
    code_of (c->roster, a->acker, code);
    if (fault) {
        json_array_append_new (c->ignored, json_pack ("{s:s, s:s, s:s}", "region", code, "ack",
                                                      rcn_hex (a->hash, 32, hex), "reason", fault));
        return RCN_OK;
    }
    if (c->n_times < RCN_MAX_MEMBERS)
        c->times[c->n_times++] = a->time_ms;
    json_array_append_new (c->by, json_pack ("{s:s, s:I, s:I, s:s}", "region", code, "seq",
                                             (json_int_t) a->seq, "time_ms", (json_int_t) a->time_ms,
                                             "ack", rcn_hex (a->hash, 32, hex)));
    rcn_entry_t *e = NULL;
    const uint8_t *held = NULL;
    if (a->seq == c->report_seq)
        held = c->report_hash;
    else if (rcn_store_get (c->v->store, c->reporter, a->seq, &e) == RCN_OK)
        held = rcn_entry_hash (e);
    if (held && memcmp (held, a->quoted, 32) != 0)
        json_array_append_new (c->conflicts, json_pack ("{s:s, s:I, s:s, s:s, s:s}", "region", code,
                                                        "seq", (json_int_t) a->seq,
                                                        "quoted", rcn_hex (a->quoted, 32, qhex),
                                                        "held", rcn_hex (held, 32, hex),
                                                        "ack", rcn_hex (a->hash, 32, hex)));
    rcn_entry_destroy (&e);
    return RCN_OK;
}

static int
cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* One member at one slot, against now. */
static int
cell_json (const rcn_view_t *v, const rcn_roster_t *roster, const rcn_member_t *m, int minute,
           uint64_t slot_ms, const char *date, uint64_t now_ms, json_t **out)
{
    const rcn_policy_t *p = rcn_roster_policy (roster);
    uint64_t grace = (uint64_t) p->grace_s * 1000;
    char slot[8], hex[65];
    json_t *o = json_pack ("{s:s, s:I, s:I}", "slot", rcn_slot_name (minute, slot, sizeof slot),
                           "slot_ms", (json_int_t) slot_ms, "of",
                           (json_int_t) rcn_roster_count (roster) - 1);
    report_rec_t r;
    bool found;
    int rc = get_report (v, slot_ms, m->sign_key, &r, &found);
    rcn_entry_t *e = NULL;
    if (rc == RCN_OK && found && (rc = rcn_view_get_by_hash (v, r.hash, &e)) != RCN_OK)
        rc = RCN_EDB;
    Rcn__RoundReport *body = e ? rcn__round_report__unpack (NULL, e->h.body_len, e->h.body) : NULL;
    if (rc != RCN_OK || (e && !body)) {
        rcn_entry_destroy (&e);
        json_decref (o);
        return rc != RCN_OK ? rc : RCN_EDB;
    }
    if (body && (body->slot != (uint32_t) minute || strcmp (body->date, date) != 0)) {
        /* Its slot_ms is this slot's, its date or slot another's: not in the roster's zone. */
        json_object_set_new (o, "ignored", json_pack ("{s:s, s:s}", "report", rcn_hex (r.hash, 32, hex),
                                                      "reason", "its date and slot do not give its "
                                                      "slot_ms in the roster's time zone"));
        rcn__round_report__free_unpacked (body, NULL);
        body = NULL;
    }
    if (!body) {
        const char *state = now_ms < slot_ms ? "due" : now_ms <= slot_ms + grace ? "pending" : "missing";
        json_object_set_new (o, "state", json_string (state));
        json_object_set_new (o, "acks", json_integer (0));
        rcn_entry_destroy (&e);
        *out = o;
        return RCN_OK;
    }
    json_object_set_new (o, "state", json_string (r.time_ms <= slot_ms + grace ? "on_time" : "late"));
    json_object_set_new (o, "report", json_string (rcn_hex (r.hash, 32, hex)));
    json_object_set_new (o, "seq", json_integer ((json_int_t) r.seq));
    json_object_set_new (o, "time_ms", json_integer ((json_int_t) r.time_ms));
    json_object_set_new (o, "status", json_string (rcn_status_name (e->h.status)));
    json_t *shown = round_show (e->h.kind, e->h.body, e->h.body_len);
    json_object_set (o, "counts", json_object_get (shown, "counts"));
    json_object_set (o, "owed", json_object_get (shown, "owed"));
    json_decref (shown);
    acks_ctx_t c = { .v = v, .roster = roster, .reporter = m->sign_key, .report_seq = r.seq,
                     .report_hash = r.hash, .by = json_array (), .conflicts = json_array (),
                     .ignored = json_array () };
    rc = each_ack (v, r.hash, ack_one, &c);
    json_object_set_new (o, "acks", json_integer ((json_int_t) json_array_size (c.by)));
    json_object_set_new (o, "acked_by", c.by);
    if (json_array_size (c.conflicts))
        json_object_set_new (o, "split_view", c.conflicts);
    else
        json_decref (c.conflicts);
    if (json_array_size (c.ignored))
        json_object_set_new (o, "ignored_acks", c.ignored);
    else
        json_decref (c.ignored);
    if (c.n_times) {
        qsort (c.times, c.n_times, sizeof *c.times, cmp_u64);
        uint64_t median = c.times[(c.n_times - 1) / 2];
        if (r.time_ms > median + SKEW_MS)
            json_object_set_new (o, "clock_ahead_s", json_integer ((json_int_t) (r.time_ms - median) / 1000));
    }
    rcn__round_report__free_unpacked (body, NULL);
    rcn_entry_destroy (&e);
    if (rc != RCN_OK) {
        json_decref (o);
        return rc;
    }
    *out = o;
    return RCN_OK;
}

/* The rounds of one local date (all its slots, or only `only_minute` when >= 0). */
static json_t *
day_json (const rcn_view_t *v, const rcn_roster_t *roster, const char *date, int only_minute,
          uint64_t now_ms, char *why, size_t whylen)
{
    const rcn_policy_t *p = rcn_roster_policy (roster);
    json_t *o = json_pack ("{s:s, s:s, s:I, s:I, s:I}", "date", date, "timezone", p->timezone,
                           "grace_s", (json_int_t) p->grace_s, "now_ms", (json_int_t) now_ms,
                           "members_n", (json_int_t) rcn_roster_count (roster));
    json_t *slots = json_array (), *members = json_array (), *split = json_array ();
    json_t *tally = json_pack ("{s:i, s:i, s:i, s:i, s:i}", "on_time", 0, "late", 0, "missing", 0,
                               "pending", 0, "due", 0);
    json_object_set_new (o, "slots", slots);
    json_object_set_new (o, "members", members);
    json_object_set_new (o, "split_view", split);
    json_object_set_new (o, "tally", tally);
    uint64_t slot_ms[RCN_MAX_ROUNDS];
    char name[8];
    for (int i = 0; i < p->n_rounds; i++) {
        if (only_minute >= 0 && p->rounds[i] != only_minute)
            continue;
        if (rcn_slot_ms (p, date, p->rounds[i], &slot_ms[i], why, whylen) != RCN_OK) {
            json_decref (o);
            return NULL;
        }
        json_array_append_new (slots, json_string (rcn_slot_name (p->rounds[i], name, sizeof name)));
    }
    for (size_t mi = 0; mi < rcn_roster_count (roster); mi++) {
        const rcn_member_t *m = rcn_roster_member (roster, mi);
        char code[16];
        snprintf (code, sizeof code, "%06u", m->region);
        json_t *cells = json_array ();
        json_array_append_new (members, json_pack ("{s:s, s:s, s:o}", "region", code, "name", m->name,
                                                   "cells", cells));
        for (int i = 0; i < p->n_rounds; i++) {
            if (only_minute >= 0 && p->rounds[i] != only_minute)
                continue;
            json_t *cell = NULL;
            int rc = cell_json (v, roster, m, p->rounds[i], slot_ms[i], date, now_ms, &cell);
            if (rc != RCN_OK) {
                rcn_errf (why, whylen, "rounds: the view could not be read (%s)", rcn_strerror (rc));
                json_decref (o);
                return NULL;
            }
            const char *state = json_string_value (json_object_get (cell, "state"));
            json_object_set_new (tally, state, json_integer (json_integer_value (json_object_get (tally, state)) + 1));
            size_t j;
            json_t *s;
            json_array_foreach (json_object_get (cell, "split_view"), j, s)
                json_array_append_new (split, json_pack ("{s:s, s:s, s:O}", "reporter", code, "slot",
                                                         json_string_value (json_object_get (cell, "slot")),
                                                         "ack", s));
            json_array_append_new (cells, cell);
        }
    }
    return o;
}

/* ---- rounds proof: one slot's reports, acks and chains, with the roster ----------------- */

static json_t *
entry_json (const rcn_entry_t *e)
{
    char *sb = rcn_base64 (e->signed_bytes, e->signed_len), *sg = rcn_base64 (e->sig, RCN_SIG_SIZE);
    json_t *o = sb && sg ? json_pack ("{s:s, s:s}", "signed", sb, "sig", sg) : NULL;
    free (sb);
    free (sg);
    return o;
}

typedef struct {
    const rcn_view_t *v;
    const rcn_roster_t *roster;
    const uint8_t *reporter;
    uint64_t report_seq;
    json_t *acks;
    uint64_t max_seq;
} proof_ctx_t;

static int
proof_ack (const ack_rec_t *a, void *ctx)
{
    proof_ctx_t *c = ctx;
    rcn_entry_t *e = NULL;
    if (ack_fault (a, c->reporter, c->report_seq, c->roster))
        return RCN_OK;                     /* what list does not count, the proof leaves out */
    if (rcn_view_get_by_hash (c->v, a->hash, &e) != RCN_OK)
        return RCN_EDB;
    json_t *j = entry_json (e);
    rcn_entry_destroy (&e);
    if (!j)
        return RCN_ENOMEM;
    json_array_append_new (c->acks, j);
    if (a->seq > c->max_seq)
        c->max_seq = a->seq;
    return RCN_OK;
}

static json_t *
proof_json (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query, uint64_t now_ms,
            char *why, size_t whylen)
{
    const rcn_roster_t *roster = env->roster;
    const rcn_policy_t *p = rcn_roster_policy (roster);
    const char *date = str_field (query, "date"), *slot = str_field (query, "slot");
    const char *region = str_field (query, "region");
    int minute;
    uint64_t slot_ms;
    uint32_t only = 0;
    char w[256];
    if (roster_slot (p, date, slot, "rounds proof", &minute, &slot_ms, why, whylen) != RCN_OK)
        return NULL;
    if (region && rcn_region_parse (region, &only, w, sizeof w) != RCN_OK) {
        rcn_errf (why, whylen, "rounds proof: --region: %s", w);
        return NULL;
    }
    size_t rlen;
    const uint8_t *rbytes = rcn_roster_bytes (roster, &rlen);
    char *rb = rcn_base64 (rbytes, rlen), hex[65];
    json_t *reports = json_array ();
    json_t *o = json_pack ("{s:i, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "rcn_round_proof", 1,
                           "date", date, "slot", slot, "slot_ms", (json_int_t) slot_ms,
                           "roster_hash", rcn_hex (rcn_roster_hash (roster), 32, hex),
                           "roster", rb ? rb : "", "made_ms", (json_int_t) now_ms, "reports", reports);
    bool ok = o && rb;
    free (rb);
    if (!ok)
        goto oom;
    for (size_t mi = 0; mi < rcn_roster_count (roster); mi++) {
        const rcn_member_t *m = rcn_roster_member (roster, mi);
        report_rec_t r;
        bool found;
        if ((only && m->region != only) || get_report (v, slot_ms, m->sign_key, &r, &found) != RCN_OK
            || !found)
            continue;
        rcn_entry_t *e = NULL;
        if (rcn_view_get_by_hash (v, r.hash, &e) != RCN_OK)
            goto fail;
        char code[16];
        snprintf (code, sizeof code, "%06u", m->region);
        proof_ctx_t c = { .v = v, .roster = roster, .reporter = m->sign_key, .report_seq = r.seq,
                          .acks = json_array (), .max_seq = r.seq };
        json_t *one = json_pack ("{s:s, s:o, s:o, s:[]}", "region", code, "entry", entry_json (e),
                                 "acks", c.acks, "chain");
        rcn_entry_destroy (&e);
        if (!one)
            goto oom;
        json_array_append_new (reports, one);
        if (each_ack (v, r.hash, proof_ack, &c) != RCN_OK)
            goto fail;
        /* The reporter's chain from the report up to the highest head an ack quotes, so that
         * every quote can be checked offline. */
        json_t *chain = json_object_get (one, "chain");
        for (uint64_t s = r.seq + 1; s <= c.max_seq && s <= r.seq + PROOF_CHAIN_MAX; s++) {
            if (rcn_store_get (v->store, m->sign_key, s, &e) != RCN_OK)
                break;                     /* not held (yet) here: those quotes stay unchecked */
            json_array_append_new (chain, entry_json (e));
            rcn_entry_destroy (&e);
        }
    }
    if (json_array_size (reports) == 0) {
        rcn_errf (why, whylen, "rounds proof: this log holds no report for %s %s%s%s", date, slot,
                  region ? " from " : "", region ? region : "");
        json_decref (o);
        return NULL;
    }
    return o;
oom:
    json_decref (o);
    rcn_errf (why, whylen, "rounds proof: out of memory");
    return NULL;
fail:
    json_decref (o);
    rcn_errf (why, whylen, "rounds proof: the view could not be read");
    return NULL;
}

static json_t *
round_list (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query, uint64_t now_ms,
            char *why, size_t whylen)
{
    if (!env || !env->roster) {
        rcn_errf (why, whylen, "rounds: needs the roster");
        return NULL;
    }
    const rcn_policy_t *p = rcn_roster_policy (env->roster);
    if (p->n_rounds == 0) {
        rcn_errf (why, whylen, "rounds: the roster schedules no rounds (roster build --rounds)");
        return NULL;
    }
    if (json_is_true (json_object_get (query, "proof")))
        return proof_json (v, env, query, now_ms, why, whylen);
    if (json_is_true (json_object_get (query, "last"))) {
        rcn_slot_t s;
        if (rcn_slot_latest (p, now_ms, &s) != RCN_OK) {
            rcn_errf (why, whylen, "rounds: no slot has come yet");
            return NULL;
        }
        return day_json (v, env->roster, s.date, s.minute, now_ms, why, whylen);
    }
    char today[11];
    const char *date = str_field (query, "date");
    uint64_t probe;
    if (!date) {
        if (rcn_local_date (p, now_ms, today) != RCN_OK) {
            rcn_errf (why, whylen, "rounds: the time zone %s cannot be used", p->timezone);
            return NULL;
        }
        date = today;
    }
    else if (rcn_slot_ms (p, date, 0, &probe, why, whylen) != RCN_OK)
        return NULL;
    return day_json (v, env->roster, date, -1, now_ms, why, whylen);
}

/* ---- rounds verify: a proof checked offline ---------------------------------------------- */

typedef struct {
    json_t *problems;        /* what makes the proof fail, as sentences */
} verdict_t;

static void
problem (verdict_t *vd, json_t *where, const char *fmt, ...) __attribute__((format (printf, 3, 4)));
static void
problem (verdict_t *vd, json_t *where, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    json_array_append_new (vd->problems, json_string (buf));
    if (where)
        json_array_append_new (json_object_get (where, "problems"), json_string (buf));
}

/* Decodes and checks one {"signed","sig"} of the proof: a valid signature by a roster member. */
static rcn_entry_t *
proof_entry (const json_t *j, const rcn_roster_t *roster, verdict_t *vd, json_t *where,
             const char *what)
{
    uint8_t *sb = NULL, *sg = NULL;
    size_t sl = 0, gl = 0;
    rcn_entry_t *e = NULL;
    const char *s1 = str_field (j, "signed"), *s2 = str_field (j, "sig");
    if (!s1 || !s2 || rcn_unbase64 (s1, &sb, &sl) != RCN_OK || rcn_unbase64 (s2, &sg, &gl) != RCN_OK
        || rcn_entry_from_parts (sb, sl, sg, gl, &e) != RCN_OK)
        problem (vd, where, "%s: not an entry (signed and sig, base64)", what);
    else if (rcn_entry_verify (e) != RCN_OK) {
        problem (vd, where, "%s: the signature does not verify", what);
        rcn_entry_destroy (&e);
    }
    else if (!rcn_roster_by_origin (roster, e->h.origin)) {
        problem (vd, where, "%s: signed by a key that is not in the roster", what);
        rcn_entry_destroy (&e);
    }
    free (sb);
    free (sg);
    return e;
}

/* One report of the proof with its chain and acks. */
static void
verify_report (const json_t *rj, const rcn_roster_t *roster, const char *date, int minute,
               uint64_t slot_ms, verdict_t *vd, json_t *out)
{
    const rcn_policy_t *p = rcn_roster_policy (roster);
    char code[16] = "?", hex[65], what[96];
    json_t *o = json_pack ("{s:[]}", "problems");
    json_array_append_new (out, o);
    rcn_entry_t *e = proof_entry (json_object_get (rj, "entry"), roster, vd, o, "report");
    if (!e)
        return;
    code_of (roster, e->h.origin, code);
    json_object_set_new (o, "region", json_string (code));
    json_object_set_new (o, "seq", json_integer ((json_int_t) e->h.seq));
    json_object_set_new (o, "hash", json_string (rcn_hex (rcn_entry_hash (e), 32, hex)));
    json_object_set_new (o, "time_ms", json_integer ((json_int_t) e->h.time_ms));
    Rcn__RoundReport *m = e->h.kind == RCN__KIND__KIND_ROUND_REPORT
                        ? rcn__round_report__unpack (NULL, e->h.body_len, e->h.body) : NULL;
    if (!m)
        problem (vd, o, "%s: the entry is not a round report", code);
    else if (strcmp (m->date, date) != 0 || m->slot != (uint32_t) minute || m->slot_ms != slot_ms)
        problem (vd, o, "%s: the report is for another slot than the proof's", code);
    else if (e->h.time_ms < slot_ms)
        problem (vd, o, "%s: the report was signed before its slot", code);
    else
        json_object_set_new (o, "state", json_string (e->h.time_ms <= slot_ms + (uint64_t) p->grace_s * 1000
                                                      ? "on_time" : "late"));
    if (m)
        rcn__round_report__free_unpacked (m, NULL);
    /* The reporter's chain above the report: hash-linked, each signed. */
    size_t n_chain = json_array_size (json_object_get (rj, "chain"));
    uint8_t (*hashes)[32] = calloc (n_chain + 1, 32);
    size_t held = 0;
    if (hashes) {
        memcpy (hashes[0], rcn_entry_hash (e), 32);
        held = 1;
    }
    for (size_t i = 0; hashes && i < n_chain; i++) {
        snprintf (what, sizeof what, "%s: chain entry %zu", code, i + 1);
        rcn_entry_t *c = proof_entry (json_array_get (json_object_get (rj, "chain"), i), roster, vd, o, what);
        if (!c)
            break;
        if (memcmp (c->h.origin, e->h.origin, 32) != 0 || c->h.seq != e->h.seq + 1 + i
            || memcmp (c->h.prev, hashes[i], 32) != 0) {
            problem (vd, o, "%s: does not follow the report in the reporter's chain", what);
            rcn_entry_destroy (&c);
            break;
        }
        memcpy (hashes[i + 1], rcn_entry_hash (c), 32);
        held = i + 2;
        rcn_entry_destroy (&c);
    }
    json_t *by = json_array (), *unchecked = json_array ();
    json_object_set_new (o, "cosigned_by", by);
    size_t n_acks = json_array_size (json_object_get (rj, "acks"));
    uint8_t seen[RCN_MAX_MEMBERS][32];
    size_t n_seen = 0;
    for (size_t i = 0; i < n_acks; i++) {
        snprintf (what, sizeof what, "%s: acknowledgement %zu", code, i + 1);
        rcn_entry_t *a = proof_entry (json_array_get (json_object_get (rj, "acks"), i), roster, vd, o, what);
        if (!a)
            continue;
        char acode[16] = "?";
        code_of (roster, a->h.origin, acode);
        Rcn__RoundAck *k = a->h.kind == RCN__KIND__KIND_ROUND_ACK
                         ? rcn__round_ack__unpack (NULL, a->h.body_len, a->h.body) : NULL;
        bool dup = false;
        for (size_t s = 0; s < n_seen; s++)
            dup |= memcmp (seen[s], a->h.origin, 32) == 0;
        ack_rec_t rec = { .seq = k ? k->seq : 0 };
        const char *fault = NULL;
        if (k && k->reporter.len == 32) {
            memcpy (rec.acker, a->h.origin, 32);
            memcpy (rec.reporter, k->reporter.data, 32);
            fault = ack_fault (&rec, e->h.origin, e->h.seq, roster);
        }
        if (!k || k->report.len != 32 || k->hash.len != 32 || k->reporter.len != 32)
            problem (vd, o, "%s (%s): not a round acknowledgement", what, acode);
        else if (memcmp (k->report.data, rcn_entry_hash (e), 32) != 0)
            problem (vd, o, "%s (%s): acknowledges another report", what, acode);
        else if (dup)
            problem (vd, o, "%s (%s): a second acknowledgement by the same member", what, acode);
        else if (fault)
            problem (vd, o, "%s (%s): %s", what, acode, fault);
        else if (k->seq - e->h.seq >= held)
            json_array_append_new (unchecked, json_pack ("{s:s, s:I}", "region", acode,
                                                         "seq", (json_int_t) k->seq));
        else if (memcmp (hashes[k->seq - e->h.seq], k->hash.data, 32) != 0)
            problem (vd, o, "SPLIT VIEW: %s holds another entry at %s's seq %llu than the chain "
                     "here", acode, code, (unsigned long long) k->seq);
        else {
            if (n_seen < RCN_MAX_MEMBERS)
                memcpy (seen[n_seen++], a->h.origin, 32);
            json_array_append_new (by, json_pack ("{s:s, s:I, s:I}", "region", acode, "seq",
                                                  (json_int_t) k->seq, "time_ms",
                                                  (json_int_t) a->h.time_ms));
        }
        if (k)
            rcn__round_ack__free_unpacked (k, NULL);
        rcn_entry_destroy (&a);
    }
    /* Quotes past the chain the proof carries prove the report was held, not the later head. */
    for (size_t i = 0; i < json_array_size (unchecked); i++)
        json_array_append (by, json_array_get (unchecked, i));
    if (json_array_size (unchecked))
        json_object_set_new (o, "quotes_unchecked", unchecked);
    else
        json_decref (unchecked);
    json_object_set_new (o, "of", json_integer ((json_int_t) rcn_roster_count (roster) - 1));
    free (hashes);
    rcn_entry_destroy (&e);
}

static void
verify_print (const json_t *r)
{
    const json_t *reps = json_object_get (r, "reports"), *probs = json_object_get (r, "problems");
    printf ("round %s %s (%s), roster %.16s…\n", str_field (r, "date") ? str_field (r, "date") : "?",
            str_field (r, "slot") ? str_field (r, "slot") : "?",
            str_field (r, "timezone") ? str_field (r, "timezone") : "?",
            str_field (r, "roster_hash") ? str_field (r, "roster_hash") : "?");
    size_t i, j;
    const json_t *o, *b;
    json_array_foreach (reps, i, o) {
        if (!str_field (o, "region"))
            continue;
        char when[40];
        rcn_time_format ((uint64_t) json_integer_value (json_object_get (o, "time_ms")), when, sizeof when);
        printf ("  %s had published up to seq %lld (report %.16s…, signed %s, %s); co-signed by",
                str_field (o, "region"), (long long) json_integer_value (json_object_get (o, "seq")),
                str_field (o, "hash"), when, str_field (o, "state") ? str_field (o, "state") : "?");
        json_array_foreach (json_object_get (o, "cosigned_by"), j, b)
            printf ("%s %s (holding seq %lld)", j ? "," : "", str_field (b, "region"),
                    (long long) json_integer_value (json_object_get (b, "seq")));
        printf ("%s: %zu of %lld peers\n", json_array_size (json_object_get (o, "cosigned_by")) ? ""
                                           : " nobody", json_array_size (json_object_get (o, "cosigned_by")),
                (long long) json_integer_value (json_object_get (o, "of")));
    }
    json_array_foreach (probs, i, o)
        printf ("  PROBLEM: %s\n", json_string_value (o));
    printf ("%s\n", json_is_true (json_object_get (r, "valid")) ? "VALID: every signature, chain "
            "and quote checks against the roster" : "INVALID");
}

static int
round_local (const json_t *req, const rcn_roster_t *local_roster, rcn_store_t *store, bool json)
{
    (void) store;
    const char *path = str_field (req, "file");
    uint8_t *text = NULL, *rbytes = NULL;
    size_t len = 0, rlen = 0;
    char why[512] = "", hex[65];
    if (rcn_read_file (path, 0, PROOF_FILE_MAX, &text, &len, why, sizeof why) != RCN_OK) {
        fprintf (stderr, "rcctl: rounds verify: %s\n", why);
        return 2;
    }
    json_error_t jerr;
    json_t *proof = json_loadb ((const char *) text, len, 0, &jerr);
    free (text);
    if (!json_is_object (proof) || json_integer_value (json_object_get (proof, "rcn_round_proof")) != 1) {
        fprintf (stderr, "rcctl: rounds verify: %s is not a round proof (%s)\n", path,
                 proof ? "no \"rcn_round_proof\": 1" : jerr.text);
        json_decref (proof);
        return 2;
    }
    verdict_t vd = { .problems = json_array () };
    json_t *out = json_pack ("{s:O?, s:O?, s:[], s:o}", "date", json_object_get (proof, "date"),
                             "slot", json_object_get (proof, "slot"), "reports", "problems", vd.problems);
    rcn_roster_t *roster = NULL;
    const char *date = str_field (proof, "date"), *slot = str_field (proof, "slot");
    int minute = -1;
    uint64_t slot_ms = 0;
    if (!str_field (proof, "roster") || rcn_unbase64 (str_field (proof, "roster"), &rbytes, &rlen) != RCN_OK
        || rcn_roster_parse (rbytes, rlen, &roster, why, sizeof why) != RCN_OK)
        problem (&vd, NULL, "the proof's roster does not parse%s%s", why[0] ? ": " : "", why);
    else {
        rcn_hex (rcn_roster_hash (roster), 32, hex);
        json_object_set_new (out, "roster_hash", json_string (hex));
        json_object_set_new (out, "timezone", json_string (rcn_roster_policy (roster)->timezone));
        if (!str_field (proof, "roster_hash") || strcmp (str_field (proof, "roster_hash"), hex) != 0)
            problem (&vd, NULL, "the roster's hash is not the one the proof names");
        if (local_roster && memcmp (rcn_roster_hash (local_roster), rcn_roster_hash (roster), 32) != 0)
            problem (&vd, NULL, "the proof's roster is not this member's roster (%.16s…)",
                     rcn_hex (rcn_roster_hash (local_roster), 32, hex));
        if (!date || !slot || rcn_slot_parse (slot, &minute) != RCN_OK
            || rcn_slot_ms (rcn_roster_policy (roster), date, minute, &slot_ms, why, sizeof why) != RCN_OK)
            problem (&vd, NULL, "the proof's date and slot cannot be placed in the roster's zone%s%s",
                     why[0] ? ": " : "", why);
        else if ((uint64_t) json_integer_value (json_object_get (proof, "slot_ms")) != slot_ms)
            problem (&vd, NULL, "the proof's slot_ms is not %s %s in %s", date, slot,
                     rcn_roster_policy (roster)->timezone);
        else {
            size_t i;
            json_t *rj;
            json_array_foreach (json_object_get (proof, "reports"), i, rj)
                verify_report (rj, roster, date, minute, slot_ms, &vd, json_object_get (out, "reports"));
            if (json_array_size (json_object_get (out, "reports")) == 0)
                problem (&vd, NULL, "the proof holds no report");
        }
    }
    bool valid = json_array_size (vd.problems) == 0;
    json_object_set_new (out, "valid", json_boolean (valid));
    if (json)
        json_dumpf (out, stdout, JSON_INDENT (2) | JSON_SORT_KEYS), printf ("\n");
    else
        verify_print (out);
    json_decref (out);
    json_decref (proof);
    free (rbytes);
    rcn_roster_destroy (&roster);
    return valid ? 0 : 1;
}

/* ---- rcctl's words ------------------------------------------------------------------------- */

static int
round_cli (int argc, char **argv, const json_t *input, uint64_t now_ms, json_t **req, char *why,
           size_t whylen)
{
    (void) input;
    (void) now_ms;
    static const struct option opts[] = {
        { "date", required_argument, NULL, 'd' },
        { "slot", required_argument, NULL, 's' },
        { "region", required_argument, NULL, 'r' },
        { "last", no_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const char *verb = argc > 0 && argv[0][0] != '-' ? argv[0] : "list";
    bool proof = strcmp (verb, "proof") == 0, verify = strcmp (verb, "verify") == 0;
    if (!proof && !verify && strcmp (verb, "list") != 0) {
        rcn_errf (why, whylen, "rounds: unknown verb \"%s\" (rounds [--date D], rounds proof, "
                  "rounds verify FILE)", verb);
        return RCN_EINVAL;
    }
    /* getopt starts at argv[1]: with no verb word, "list" stands in front of the flags. */
    char *av[64];
    int ac = 0;
    av[ac++] = (char *) verb;
    for (int i = argc > 0 && argv[0][0] != '-' ? 1 : 0; i < argc && ac < 63; i++)
        av[ac++] = argv[i];
    av[ac] = NULL;
    json_t *q = json_object ();
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long (ac, av, "", opts, NULL)) != -1) {
        bool fits = c == 'd' ? !verify : c == 's' || c == 'r' ? proof : c == 'l' ? !proof && !verify
                  : false;
        if (!fits) {
            rcn_errf (why, whylen, "rounds %s: unknown or misplaced flag \"%s\"", verb, av[optind - 1]);
            json_decref (q);
            return RCN_EINVAL;
        }
        json_object_set_new (q, c == 'd' ? "date" : c == 's' ? "slot" : c == 'r' ? "region" : "last",
                             c == 'l' ? json_true () : json_string (optarg));
        if (c != 'l' && !json_object_get (q, c == 'd' ? "date" : c == 's' ? "slot" : "region")) {
            rcn_errf (why, whylen, "rounds %s: flags must be UTF-8", verb);
            json_decref (q);
            return RCN_EINVAL;
        }
    }
    int rest = ac - optind;
    if (verify) {
        json_decref (q);
        if (rest != 1) {
            rcn_errf (why, whylen, "rounds verify: give the proof file (rounds proof > FILE)");
            return RCN_EINVAL;
        }
        *req = json_pack ("{s:s, s:s, s:s}", "verb", "verify", "op", "local", "file", av[optind]);
        return *req ? RCN_OK : RCN_ENOMEM;
    }
    if (rest != 0) {
        rcn_errf (why, whylen, "rounds %s: unexpected argument \"%s\"", verb, av[optind]);
        json_decref (q);
        return RCN_EINVAL;
    }
    if (proof && (!json_object_get (q, "date") || !json_object_get (q, "slot"))) {
        rcn_errf (why, whylen, "rounds proof: --date YYYY-MM-DD and --slot HH:MM are required");
        json_decref (q);
        return RCN_EINVAL;
    }
    if (proof)
        json_object_set_new (q, "proof", json_true ());
    *req = json_pack ("{s:s, s:s, s:o}", "verb", verb, "op", "list", "query", q);
    return *req ? RCN_OK : RCN_ENOMEM;
}

static void
duration (int64_t ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;
    if (s < 60)
        snprintf (buf, len, "%llds", (long long) s);
    else if (s < 3600)
        snprintf (buf, len, "%lldm", (long long) (s / 60));
    else
        snprintf (buf, len, "%lldh%02lldm", (long long) (s / 3600), (long long) (s % 3600 / 60));
}

/* One cell of the table: "on time 2/2", "late +12m 2/2", "missing", "SPLIT 1/2". */
static void
cell_text (const json_t *c, char *buf, size_t len)
{
    const char *st = str_field (c, "state");
    long long k = json_integer_value (json_object_get (c, "acks")), n = json_integer_value (json_object_get (c, "of"));
    char d[24] = "";
    if (strcmp (st, "late") == 0)
        duration (json_integer_value (json_object_get (c, "time_ms"))
                  - json_integer_value (json_object_get (c, "slot_ms")), d, sizeof d);
    if (strcmp (st, "on_time") == 0 || strcmp (st, "late") == 0)
        snprintf (buf, len, "%s%s%s %lld/%lld%s", strcmp (st, "late") == 0 ? "late +" : "on time",
                  d, json_object_get (c, "split_view") ? " SPLIT" : "", k, n,
                  json_object_get (c, "clock_ahead_s") ? " clock+" : "");
    else
        snprintf (buf, len, "%s", st);
}

static void
round_print (const json_t *l)
{
    if (json_integer_value (json_object_get (l, "rcn_round_proof")) == 1) {
        json_dumpf (l, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("\n");
        return;
    }
    const json_t *slots = json_object_get (l, "slots"), *members = json_object_get (l, "members");
    printf ("rounds of %s (%s, grace %llds): on time / late / missing, acknowledged by k of n\n",
            str_field (l, "date"), str_field (l, "timezone"),
            (long long) json_integer_value (json_object_get (l, "grace_s")));
    size_t ns = json_array_size (slots), i, j;
    bool grid = ns <= 4, owes = false;      /* 20 + 20 columns a slot: fits 100 */
    const json_t *m, *c;
    if (grid) {
        printf ("%-6s  %-12s", "REGION", "NAME");
        for (i = 0; i < ns; i++)
            printf ("  %-18s", json_string_value (json_array_get (slots, i)));
        printf ("\n");
    }
    json_array_foreach (members, i, m) {
        char name[13];
        snprintf (name, sizeof name, "%s", str_field (m, "name"));
        if (grid)
            printf ("%-6s  %-12s", str_field (m, "region"), name);
        json_array_foreach (json_object_get (m, "cells"), j, c) {
            char t[64];
            cell_text (c, t, sizeof t);
            if (grid)
                printf ("  %-18s", t);
            else
                printf ("%-6s  %-12s  %s  %s\n", str_field (m, "region"), name, str_field (c, "slot"), t);
        }
        if (grid)
            printf ("\n");
    }
    /* What each member owed by its latest report of the day. */
    json_array_foreach (members, i, m) {
        const json_t *owed = NULL;
        json_array_foreach (json_object_get (m, "cells"), j, c)
            if (json_object_get (c, "owed"))
                owed = json_object_get (c, "owed");
        long long ow = json_integer_value (json_object_get (owed, "owed")),
                  od = json_integer_value (json_object_get (owed, "overdue")),
                  ud = json_integer_value (json_object_get (owed, "sent_undelivered")),
                  tr = json_integer_value (json_object_get (owed, "transfers_overdue"));
        if (!ow && !ud && !tr)
            continue;
        owes = true;
        char oldest[24] = "";
        if (ow)
            duration (json_integer_value (json_object_get (l, "now_ms"))
                      - json_integer_value (json_object_get (owed, "oldest_ms")), oldest, sizeof oldest);
        printf ("OWED    %s: %lld notices owed (%lld past the SLA%s%s), %lld sent and undelivered, "
                "%lld transfers overdue\n", str_field (m, "region"), ow, od, ow ? ", oldest " : "",
                oldest, ud, tr);
    }
    if (!owes)
        printf ("owed    nothing, by every member's latest report of the day\n");
    json_array_foreach (members, i, m)
        json_array_foreach (json_object_get (m, "cells"), j, c) {
            if (json_object_get (c, "clock_ahead_s"))
                printf ("CLOCK   %s's %s report was signed %llds ahead of the acks: its clock "
                        "runs fast\n", str_field (m, "region"),
                        str_field (c, "slot"),
                        (long long) json_integer_value (json_object_get (c, "clock_ahead_s")));
            const json_t *ig = json_object_get (c, "ignored");
            if (ig)
                printf ("IGNORED %s's report %.16s… at %s: %s\n", str_field (m, "region"),
                        str_field (ig, "report"), str_field (c, "slot"), str_field (ig, "reason"));
        }
    json_array_foreach (json_object_get (l, "split_view"), i, c) {
        const json_t *a = json_object_get (c, "ack");
        printf ("SPLIT VIEW  %s's acknowledgement of %s's %s report quotes seq %lld as %.16s…, "
                "this log holds %.16s… (kept as evidence)\n", str_field (a, "region"),
                str_field (c, "reporter"), str_field (c, "slot"),
                (long long) json_integer_value (json_object_get (a, "seq")), str_field (a, "quoted"),
                str_field (a, "held"));
    }
}

const rcn_kind_t rcn_kind_round = {
    .kind = RCN__KIND__KIND_ROUND_REPORT,
    .also = s_also,
    .name = "rounds",
    .dbs = s_dbs,
    .apply = round_apply,
    .author = round_author,
    .depends = round_depends,
    .show = round_show,
    .list = round_list,
    .auto_author = round_auto,
    .cli = round_cli,
    .print = round_print,
    .local = round_local,
    .usage =
        "  rounds [--date YYYY-MM-DD | --last] [--json]   region x slot: on time, late, missing\n"
        "  rounds proof --date D --slot HH:MM [--region CODE] > proof.json\n"
        "  rounds verify proof.json             check a round's proof offline (exit 0 valid)\n",
};
