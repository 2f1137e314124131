/* transfer.c — cross-region transfer orders (DESIGN.md §4): people moved point to point
 * ("点对点、手递手") from the issuing region A to a receiving region B.
 *
 * A TransferOrder carries the clear facts (how many, vehicle, times, handover point) and the
 * manifest of names and ID numbers, sealed to both ends (seal.h). TransferSteps move it on:
 * accept, reject and handover (B), depart and cancel (A). Each step names its parent: the step
 * it follows, or the order itself for the first.
 *
 * The one decision: the view keeps the steps as a SET, filed under the order they name whether
 * or not that order is held yet, and an order's state is worked out when it is read. Reading
 * walks from the order down the parent links and settles each contested parent by DESIGN §4's
 * rule: the issuer's cancel beats any step of the receiver's; otherwise the lower hash wins, and
 * the loser shows as superseded. Members hear origins in different orders, so a step may come
 * before its order or its parent. apply therefore judges a step invalid (RCN_EBODY) only by
 * what its own origin's chain guarantees to be held already: its own fields, and for the
 * issuer's steps, its own earlier order. Everything else is judged at read time, from the same
 * set of entries on every member, so views agree in any arrival order (invariant 8):
 *   - whether the receiver's step comes from the receiving region;
 *   - whether a step follows from the state;
 *   - whether its parent has arrived (until then it is pending, never invalid).
 *
 * View:  transfer.order  order hash -> origin[32] | be32 status
 *        transfer.id     origin[32] | order_id -> order hash        (order ids unique per origin)
 *        transfer.step   order hash | step hash -> origin[32] | parent[32] | action[1] |
 *                        be32 count | be32 status | be64 time_ms | note */
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/region.h"
#include "rcn/seal.h"
#include "rcn/sealkey.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "rcn.pb-c.h"

#define PERSONS_MAX 500
#define ORDER_ID_MAX 64
#define VEHICLE_MAX 64
#define POINT_MAX 200
#define NOTE_MAX 500
#define PERSON_NAME_MAX 64
#define COUNT_MAX 100000

enum { DB_ORDER = 0, DB_ID = 1, DB_STEP = 2 };
static const char *const s_dbs[] = { "transfer.order", "transfer.id", "transfer.step", NULL };

#define ORDER_REC_SIZE (32 + 4)
#define STEP_REC_FIXED (32 + 32 + 1 + 4 + 4 + 8)

enum { A_ACCEPT = 1, A_REJECT = 2, A_DEPART = 3, A_CANCEL = 4, A_HANDOVER = 5 };
static const char *const s_action[] = { "unspecified", "accept", "reject", "depart", "cancel",
                                        "handover" };

enum { ST_CREATED, ST_ACCEPTED, ST_REJECTED, ST_DEPARTED, ST_HANDED_OVER, ST_CANCELLED,
       ST_INVALID };
static const char *const s_state[] = { "created", "accepted", "rejected", "departed",
                                       "handed_over", "cancelled", "invalid" };

/* How reading classifies each step of an order. */
enum { C_NONE, C_APPLIED, C_SUPERSEDED, C_IGNORED, C_PENDING };
static const char *const s_cls[] = { "none", "applied", "superseded", "ignored", "pending" };

static bool
issuer_action (int a)
{
    return a == A_DEPART || a == A_CANCEL;
}

/* The state a step leads to from `state`, or -1 when it does not follow from it. */
static int
next_state (int state, int action)
{
    switch (state) {
    case ST_CREATED:
        return action == A_ACCEPT ? ST_ACCEPTED : action == A_REJECT ? ST_REJECTED
             : action == A_CANCEL ? ST_CANCELLED : -1;
    case ST_ACCEPTED:
        return action == A_DEPART ? ST_DEPARTED : action == A_CANCEL ? ST_CANCELLED : -1;
    case ST_DEPARTED:
        return action == A_HANDOVER ? ST_HANDED_OVER : -1;
    default:
        return -1;
    }
}

static bool
state_open (int state)
{
    return state == ST_CREATED || state == ST_ACCEPTED || state == ST_DEPARTED;
}

static bool
text_ok (const char *s, size_t max, bool empty_ok)
{
    size_t len = s ? strlen (s) : 0;
    return (empty_ok || len > 0) && len <= max && rcn_utf8_text_ok (s ? s : "", len, false);
}

/* ---- validation of bodies (apply and author share it) --------------------------------------- */

/* An order's own fields; origin is its author (the manifest must be sealed to it too). */
static int
validate_order (const Rcn__TransferOrder *o, const uint8_t origin[32], char *why, size_t whylen)
{
    char rwhy[128];
    if (!text_ok (o->order_id, ORDER_ID_MAX, false)) {
        rcn_errf (why, whylen, "transfer: order_id must be 1..%d bytes of UTF-8 text without "
                  "control characters", ORDER_ID_MAX);
        return RCN_EBODY;
    }
    if (rcn_region_check (o->to, rwhy, sizeof rwhy) != RCN_OK) {
        rcn_errf (why, whylen, "transfer: to: %s", rwhy);
        return RCN_EBODY;
    }
    if (o->persons < 1 || o->persons > PERSONS_MAX) {
        rcn_errf (why, whylen, "transfer: persons must be 1..%d", PERSONS_MAX);
        return RCN_EBODY;
    }
    if (!text_ok (o->vehicle, VEHICLE_MAX, false) || !text_ok (o->handover_point, POINT_MAX, false)) {
        rcn_errf (why, whylen, "transfer: %s must be 1..%d bytes of UTF-8 text without control "
                  "characters", text_ok (o->vehicle, VEHICLE_MAX, false) ? "handover_point"
                  : "vehicle", text_ok (o->vehicle, VEHICLE_MAX, false) ? POINT_MAX : VEHICLE_MAX);
        return RCN_EBODY;
    }
    if (o->depart_at_ms == 0 || o->eta_ms <= o->depart_at_ms) {
        rcn_errf (why, whylen, "transfer: eta must be after depart_at");
        return RCN_EBODY;
    }
    if (o->accept_by_ms == 0 || o->accept_by_ms >= o->depart_at_ms) {
        rcn_errf (why, whylen, "transfer: accept_by must be before depart_at");
        return RCN_EBODY;
    }
    if (rcn_seal_check (o->manifest, rwhy, sizeof rwhy) != RCN_OK) {
        rcn_errf (why, whylen, "transfer: manifest: %s", rwhy);
        return RCN_EBODY;
    }
    bool own = false, other = false;
    for (size_t i = 0; i < o->manifest->n_wraps; i++) {
        bool is_origin = memcmp (o->manifest->wraps[i]->member.data, origin, 32) == 0;
        own = own || is_origin;
        other = other || !is_origin;
        for (size_t j = 0; j < i; j++)
            if (memcmp (o->manifest->wraps[j]->member.data, o->manifest->wraps[i]->member.data,
                        32) == 0) {
                rcn_errf (why, whylen, "transfer: manifest: a member is wrapped to twice");
                return RCN_EBODY;
            }
    }
    if (!own || !other) {
        rcn_errf (why, whylen, "transfer: manifest: must be sealed to both ends (the issuing "
                  "region and the receiving one)");
        return RCN_EBODY;
    }
    return RCN_OK;
}

static int
validate_step (const Rcn__TransferStep *s, const uint8_t self[32], char *why, size_t whylen)
{
    if ((int) s->action < A_ACCEPT || (int) s->action > A_HANDOVER) {
        rcn_errf (why, whylen, "transfer step: unknown action %d", (int) s->action);
        return RCN_EBODY;
    }
    if (s->order.len != 32 || s->parent.len != 32) {
        rcn_errf (why, whylen, "transfer step: order and parent must be 32-byte entry hashes");
        return RCN_EBODY;
    }
    if (self && memcmp (s->parent.data, self, 32) == 0) {
        rcn_errf (why, whylen, "transfer step: names itself as parent");
        return RCN_EBODY;
    }
    if ((int) s->action != A_HANDOVER && s->count != 0) {
        rcn_errf (why, whylen, "transfer step: only a handover carries a count");
        return RCN_EBODY;
    }
    if (s->count > COUNT_MAX) {
        rcn_errf (why, whylen, "transfer step: count must be 0..%d", COUNT_MAX);
        return RCN_EBODY;
    }
    if (!text_ok (s->note, NOTE_MAX, true)) {
        rcn_errf (why, whylen, "transfer step: note must be UTF-8 text without control "
                  "characters, at most %d bytes", NOTE_MAX);
        return RCN_EBODY;
    }
    return RCN_OK;
}

/* The order record of `hash` in the view: RCN_OK with origin and status, RCN_ENOTFOUND. */
static int
order_rec (const rcn_view_t *v, const uint8_t hash[32], uint8_t origin[32], uint32_t *status)
{
    MDB_val k = { 32, (void *) hash }, d;
    int mrc = mdb_get (v->txn, v->dbi[DB_ORDER], &k, &d);
    if (mrc == MDB_NOTFOUND)
        return RCN_ENOTFOUND;
    if (mrc != 0 || d.mv_size != ORDER_REC_SIZE)
        return RCN_EDB;
    memcpy (origin, d.mv_data, 32);
    *status = (uint32_t) rcn_be_get ((uint8_t *) d.mv_data + 32, 4);
    return RCN_OK;
}

static int
apply_order (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__TransferOrder *o = rcn__transfer_order__unpack (NULL, e->h.body_len, e->h.body);
    if (!o) {
        rcn_errf (why, whylen, "transfer: body is not a TransferOrder message");
        return RCN_EBODY;
    }
    int rc = rcn_kind_canonical (&o->base, e->h.body, e->h.body_len);
    if (rc == RCN_EBODY)
        rcn_errf (why, whylen, "transfer: body is not in canonical form (unknown fields, a NUL "
                  "inside text, or a non-minimal encoding)");
    if (rc == RCN_OK)
        rc = validate_order (o, e->h.origin, why, whylen);
    size_t idlen = o->order_id ? strlen (o->order_id) : 0;
    uint8_t idkey[32 + ORDER_ID_MAX];
    MDB_val ik = { 32 + idlen, idkey }, d;
    if (rc == RCN_OK) {
        /* Order ids are unique per origin: the earlier order is in the same chain, so every
         * member finds it, whatever else it has heard. */
        memcpy (idkey, e->h.origin, 32);
        memcpy (idkey + 32, o->order_id, idlen);
        int mrc = mdb_get (v->txn, v->dbi[DB_ID], &ik, &d);
        if (mrc == 0) {
            rcn_errf (why, whylen, "transfer: order_id is already used by an earlier order of "
                      "the same region");
            rc = RCN_EBODY;
        }
        else if (mrc != MDB_NOTFOUND)
            rc = RCN_EDB;
    }
    if (rc == RCN_OK) {
        uint8_t rec[ORDER_REC_SIZE];
        memcpy (rec, e->h.origin, 32);
        rcn_be_put (rec + 32, e->h.status, 4);
        MDB_val k = { 32, (void *) e->hash }, rv = { sizeof rec, rec };
        MDB_val iv = { 32, (void *) e->hash };
        if (mdb_put (v->txn, v->dbi[DB_ORDER], &k, &rv, 0) != 0
            || mdb_put (v->txn, v->dbi[DB_ID], &ik, &iv, 0) != 0)
            rc = RCN_EDB;
    }
    rcn__transfer_order__free_unpacked (o, NULL);
    return rc;
}

static int
apply_step (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__TransferStep *s = rcn__transfer_step__unpack (NULL, e->h.body_len, e->h.body);
    if (!s) {
        rcn_errf (why, whylen, "transfer step: body is not a TransferStep message");
        return RCN_EBODY;
    }
    int rc = rcn_kind_canonical (&s->base, e->h.body, e->h.body_len);
    if (rc == RCN_EBODY)
        rcn_errf (why, whylen, "transfer step: body is not in canonical form (unknown fields, a "
                  "NUL inside text, or a non-minimal encoding)");
    if (rc == RCN_OK)
        rc = validate_step (s, e->hash, why, whylen);
    if (rc == RCN_OK) {
        uint8_t origin[32];
        uint32_t status;
        int orc = order_rec (v, s->order.data, origin, &status);
        if (orc != RCN_OK && orc != RCN_ENOTFOUND)
            rc = orc;
        else if (issuer_action (s->action)) {
            /* The issuer's own order precedes its steps in its own chain: "not held" and
             * "another region's" are the same fault, judged alike on every member. */
            if (orc == RCN_ENOTFOUND || memcmp (origin, e->h.origin, 32) != 0) {
                rcn_errf (why, whylen, "transfer step: %s names no earlier order of the same "
                          "region", s_action[s->action]);
                rc = RCN_EBODY;
            }
            else if (status != e->h.status) {
                rcn_errf (why, whylen, "transfer step: a step must carry its order's status "
                          "(actual/exercise/test)");
                rc = RCN_EBODY;
            }
        }
        else if (orc == RCN_OK && memcmp (origin, e->h.origin, 32) == 0) {
            /* Only the issuer's own orders are sure to be held here; another region's may
             * come later, so whether this is the receiving region is judged when read. */
            rcn_errf (why, whylen, "transfer step: the region that issued an order cannot %s it",
                      s_action[s->action]);
            rc = RCN_EBODY;
        }
    }
    if (rc == RCN_OK) {
        size_t nlen = s->note ? strlen (s->note) : 0;
        uint8_t key[64], rec[STEP_REC_FIXED + NOTE_MAX];
        memcpy (key, s->order.data, 32);
        memcpy (key + 32, e->hash, 32);
        memcpy (rec, e->h.origin, 32);
        memcpy (rec + 32, s->parent.data, 32);
        rec[64] = (uint8_t) s->action;
        rcn_be_put (rec + 65, s->count, 4);
        rcn_be_put (rec + 69, e->h.status, 4);
        rcn_be_put (rec + 73, e->h.time_ms, 8);
        memcpy (rec + STEP_REC_FIXED, s->note ? s->note : "", nlen);
        MDB_val k = { sizeof key, key }, d = { STEP_REC_FIXED + nlen, rec };
        if (mdb_put (v->txn, v->dbi[DB_STEP], &k, &d, 0) != 0)
            rc = RCN_EDB;
    }
    rcn__transfer_step__free_unpacked (s, NULL);
    return rc;
}

static int
transfer_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    if (e->h.kind == RCN__KIND__KIND_TRANSFER_ORDER)
        return apply_order (v, e, why, whylen);
    return apply_step (v, e, why, whylen);
}

/* ---- reading: an order and its steps, settled ------------------------------------------------ */

typedef struct {
    uint8_t hash[32], origin[32], parent[32];
    int action;
    uint32_t count, status;
    uint64_t time_ms;
    char note[NOTE_MAX + 1];
    int cls;
    char why[200];
} step_t;

typedef struct {
    uint8_t hash[32];
    rcn_entry_t *entry;              /* the order; NULL when not held */
    Rcn__TransferOrder *o;
    step_t *steps;
    size_t n;
    int state;
    uint8_t head[32];                /* the newest applied step, or the order's hash */
    int handover;                    /* index of the applied handover, -1 */
    char problem[200];               /* an order the roster shows to be wrong ("" when fine) */
} order_t;

static void
order_free (order_t *t)
{
    rcn_entry_destroy (&t->entry);
    if (t->o)
        rcn__transfer_order__free_unpacked (t->o, NULL);
    free (t->steps);
    memset (t, 0, sizeof *t);
}

/* Reads every step filed under `hash` (in hash order). */
static int
load_steps (const rcn_view_t *v, order_t *t)
{
    MDB_cursor *cur = NULL;
    if (mdb_cursor_open (v->txn, v->dbi[DB_STEP], &cur) != 0)
        return RCN_EDB;
    uint8_t start[64];
    memcpy (start, t->hash, 32);
    memset (start + 32, 0, 32);
    MDB_val k = { sizeof start, start }, d;
    size_t cap = 0;
    int rc = RCN_OK;
    for (int mrc = mdb_cursor_get (cur, &k, &d, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get (cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 64 || memcmp (k.mv_data, t->hash, 32) != 0)
            break;
        if (d.mv_size < STEP_REC_FIXED || d.mv_size > STEP_REC_FIXED + NOTE_MAX) {
            rc = RCN_EDB;
            break;
        }
        if (t->n == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            step_t *ns = realloc (t->steps, ncap * sizeof *ns);
            if (!ns) {
                rc = RCN_ENOMEM;
                break;
            }
            t->steps = ns;
            cap = ncap;
        }
        step_t *s = &t->steps[t->n++];
        memset (s, 0, sizeof *s);
        const uint8_t *p = d.mv_data;
        memcpy (s->hash, (uint8_t *) k.mv_data + 32, 32);
        memcpy (s->origin, p, 32);
        memcpy (s->parent, p + 32, 32);
        s->action = p[64];
        s->count = (uint32_t) rcn_be_get (p + 65, 4);
        s->status = (uint32_t) rcn_be_get (p + 69, 4);
        s->time_ms = rcn_be_get (p + 73, 8);
        memcpy (s->note, p + STEP_REC_FIXED, d.mv_size - STEP_REC_FIXED);
    }
    mdb_cursor_close (cur);
    return rc;
}

static int
find_step (const order_t *t, const uint8_t hash[32])
{
    for (size_t i = 0; i < t->n; i++)
        if (memcmp (t->steps[i].hash, hash, 32) == 0)
            return (int) i;
    return -1;
}

static bool
is_receiver (const order_t *t, const uint8_t key[32])
{
    const Rcn__Sealed *m = t->o->manifest;
    if (memcmp (key, t->entry->h.origin, 32) == 0)
        return false;
    for (size_t i = 0; i < m->n_wraps; i++)
        if (memcmp (m->wraps[i]->member.data, key, 32) == 0)
            return true;
    return false;
}

static void
region_of (const rcn_roster_t *r, const uint8_t key[32], char *buf, size_t len)
{
    const rcn_member_t *m = r ? rcn_roster_by_origin (r, key) : NULL;
    char hex[65];
    if (m)
        snprintf (buf, len, "%06u", m->region);
    else
        snprintf (buf, len, "%.16s", rcn_hex (key, 32, hex));
}

/* What the roster says of the order itself: its receiver must be a member other than the
 * issuer, and the manifest sealed to exactly the two ends. */
static void
check_order_roster (order_t *t, const rcn_roster_t *r)
{
    if (!r)
        return;
    const rcn_member_t *to = rcn_roster_by_region (r, t->o->to);
    if (!to) {
        rcn_errf (t->problem, sizeof t->problem, "to: %06u is not a member of the alliance", t->o->to);
        return;
    }
    if (memcmp (to->sign_key, t->entry->h.origin, 32) == 0) {
        rcn_errf (t->problem, sizeof t->problem, "to: the issuing region itself");
        return;
    }
    const Rcn__Sealed *m = t->o->manifest;
    for (size_t i = 0; i < m->n_wraps; i++) {
        const uint8_t *k = m->wraps[i]->member.data;
        if (memcmp (k, to->sign_key, 32) != 0 && memcmp (k, t->entry->h.origin, 32) != 0) {
            rcn_errf (t->problem, sizeof t->problem, "the manifest is sealed to a member outside "
                      "the two ends");
            return;
        }
    }
    if (!is_receiver (t, to->sign_key))
        rcn_errf (t->problem, sizeof t->problem, "the manifest is not sealed to %06u", t->o->to);
}

static void
classify (step_t *s, int cls, const char *fmt, ...) __attribute__((format (printf, 3, 4)));

static void
classify (step_t *s, int cls, const char *fmt, ...)
{
    s->cls = cls;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (s->why, sizeof s->why, fmt, ap);
    va_end (ap);
}

/* Settles the steps: who may make each, which follow from the state, the contest on each
 * parent (the issuer's cancel beats any step of the receiver's, else the lower hash wins), and
 * what is left (steps after a loser, steps waiting for their parent). A function of the set of
 * entries and the roster only. */
static void
resolve (const rcn_view_t *v, order_t *t, const rcn_roster_t *r)
{
    char hex[65], region[40];
    t->state = ST_CREATED;
    t->handover = -1;
    memcpy (t->head, t->hash, 32);
    check_order_roster (t, r);
    for (size_t i = 0; i < t->n; i++) {
        step_t *s = &t->steps[i];
        if (t->problem[0])
            classify (s, C_IGNORED, "the order itself is invalid: %s", t->problem);
        else if (issuer_action (s->action) && memcmp (s->origin, t->entry->h.origin, 32) != 0)
            classify (s, C_IGNORED, "only the issuing region may %s", s_action[s->action]);
        else if (!issuer_action (s->action) && !is_receiver (t, s->origin)) {
            region_of (r, s->origin, region, sizeof region);
            classify (s, C_IGNORED, "only the receiving region may %s (signed by %s)",
                      s_action[s->action], region);
        }
        else if (s->status != t->entry->h.status)
            classify (s, C_IGNORED, "%s %s step cannot move %s %s order",
                      s->status == RCN_STATUS_TEST ? "a" : "an", rcn_status_name (s->status),
                      t->entry->h.status == RCN_STATUS_TEST ? "a" : "an",
                      rcn_status_name (t->entry->h.status));
    }
    if (t->problem[0])
        t->state = ST_INVALID;
    for (;;) {
        int winner = -1;
        bool cancel = false;
        for (size_t i = 0; i < t->n; i++) {
            step_t *s = &t->steps[i];
            if (s->cls != C_NONE || memcmp (s->parent, t->head, 32) != 0)
                continue;
            if (next_state (t->state, s->action) < 0)
                classify (s, C_IGNORED, "%s does not follow from %s", s_action[s->action],
                          s_state[t->state]);
            else
                cancel = cancel || s->action == A_CANCEL;
        }
        for (size_t i = 0; i < t->n; i++) {
            step_t *s = &t->steps[i];
            if (s->cls != C_NONE || memcmp (s->parent, t->head, 32) != 0)
                continue;
            if (cancel && !issuer_action (s->action))
                continue;
            if (winner < 0 || memcmp (s->hash, t->steps[winner].hash, 32) < 0)
                winner = (int) i;
        }
        if (winner < 0)
            break;
        step_t *w = &t->steps[winner];
        for (size_t i = 0; i < t->n; i++) {
            step_t *s = &t->steps[i];
            if ((int) i == winner || s->cls != C_NONE || memcmp (s->parent, t->head, 32) != 0)
                continue;
            if (cancel && !issuer_action (s->action))
                classify (s, C_SUPERSEDED, "the issuer's cancel %.16s beats it",
                          rcn_hex (w->hash, 32, hex));
            else
                classify (s, C_SUPERSEDED, "%s %.16s on the same parent has the lower hash",
                          s_action[w->action], rcn_hex (w->hash, 32, hex));
        }
        w->cls = C_APPLIED;
        w->why[0] = '\0';
        t->state = next_state (t->state, w->action);
        if (w->action == A_HANDOVER)
            t->handover = winner;
        memcpy (t->head, w->hash, 32);
    }
    /* What is left follows a loser or an ignored step, or waits for its parent. */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < t->n; i++) {
            step_t *s = &t->steps[i];
            if (s->cls != C_NONE)
                continue;
            int p = find_step (t, s->parent);
            if (p >= 0 && t->steps[p].cls == C_NONE)
                continue;
            changed = true;
            rcn_hex (s->parent, 32, hex);
            if (p >= 0 && t->steps[p].cls == C_SUPERSEDED)
                classify (s, C_SUPERSEDED, "follows superseded step %.16s", hex);
            else if (p >= 0 && t->steps[p].cls == C_IGNORED)
                classify (s, C_IGNORED, "follows ignored step %.16s", hex);
            else if (p >= 0)
                classify (s, C_PENDING, "waits for its parent %.16s", hex);
            else {
                rcn_entry_t *pe = NULL;
                bool held = rcn_view_get_by_hash (v, s->parent, &pe) == RCN_OK;
                rcn_entry_destroy (&pe);
                if (held)
                    classify (s, C_IGNORED, "its parent %.16s is no step of this order", hex);
                else
                    classify (s, C_PENDING, "waits for its parent %.16s (not held yet)", hex);
            }
        }
    }
    for (size_t i = 0; i < t->n; i++)          /* a cycle cannot be signed; be safe anyway */
        if (t->steps[i].cls == C_NONE)
            classify (&t->steps[i], C_PENDING, "waits for its parent");
}

/* Loads order `hash` with its steps and settles them. RCN_ENOTFOUND when the order is not held
 * (t->n then counts steps waiting for it). Caller frees with order_free. */
static int
order_load (const rcn_view_t *v, const uint8_t hash[32], const rcn_roster_t *r, order_t *t)
{
    memset (t, 0, sizeof *t);
    memcpy (t->hash, hash, 32);
    t->handover = -1;
    int rc = load_steps (v, t);
    if (rc != RCN_OK)
        return rc;
    uint8_t origin[32];
    uint32_t status;
    if ((rc = order_rec (v, hash, origin, &status)) != RCN_OK)
        return rc;
    if ((rc = rcn_view_get_by_hash (v, hash, &t->entry)) != RCN_OK)
        return rc == RCN_ENOTFOUND ? RCN_EDB : rc;
    t->o = rcn__transfer_order__unpack (NULL, t->entry->h.body_len, t->entry->h.body);
    if (!t->o || !t->o->manifest)
        return RCN_EDB;                /* applied, so it parsed once */
    resolve (v, t, r);
    return RCN_OK;
}

/* ---- JSON --------------------------------------------------------------------------------- */

static json_t *
step_json (const step_t *s, const rcn_roster_t *r)
{
    char hex[65], region[40];
    json_t *o = json_object ();
    json_object_set_new (o, "hash", json_string (rcn_hex (s->hash, 32, hex)));
    json_object_set_new (o, "action", json_string (s_action[s->action]));
    region_of (r, s->origin, region, sizeof region);
    json_object_set_new (o, "region", json_string (region));
    json_object_set_new (o, "parent", json_string (rcn_hex (s->parent, 32, hex)));
    json_object_set_new (o, "time_ms", json_integer ((json_int_t) s->time_ms));
    json_object_set_new (o, "status", json_string (rcn_status_name (s->status)));
    if (s->action == A_HANDOVER)
        json_object_set_new (o, "count", json_integer (s->count));
    if (s->note[0])
        json_object_set_new (o, "note", json_string (s->note));
    json_object_set_new (o, "state", json_string (s_cls[s->cls]));
    if (s->why[0])
        json_object_set_new (o, "why", json_string (s->why));
    return o;
}

static int
by_time (const void *pa, const void *pb)
{
    const step_t *a = *(step_t *const *) pa, *b = *(step_t *const *) pb;
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    return memcmp (a->hash, b->hash, 32);
}

static json_t *
manifest_json (const Rcn__Sealed *m, const rcn_roster_t *r)
{
    json_t *readers = json_array ();
    for (size_t i = 0; m && i < m->n_wraps; i++) {
        char region[70], hex[65];
        const rcn_member_t *mm = r && m->wraps[i]->member.len == 32
                               ? rcn_roster_by_origin (r, m->wraps[i]->member.data) : NULL;
        if (mm)
            snprintf (region, sizeof region, "%06u", mm->region);
        else if (m->wraps[i]->member.len == 32)
            snprintf (region, sizeof region, "%s", rcn_hex (m->wraps[i]->member.data, 32, hex));
        else
            snprintf (region, sizeof region, "?");
        json_array_append_new (readers, json_string (region));
    }
    return json_pack ("{s:I, s:o}", "sealed", (json_int_t) (m ? m->ciphertext.len : 0),
                      "readers", readers);
}

static void
set_code (json_t *o, const char *key, const char *name_key, uint32_t region,
          const rcn_roster_t *r)
{
    char code[16];
    snprintf (code, sizeof code, "%06u", region);
    json_object_set_new (o, key, json_string (code));
    const rcn_member_t *m = r ? rcn_roster_by_region (r, region) : NULL;
    if (m)
        json_object_set_new (o, name_key, json_string (m->name));
}

/* The order as JSON with its state at now_ms (overdue is computed here, never stored). */
static json_t *
order_json (const order_t *t, const rcn_roster_t *r, uint64_t now_ms)
{
    const Rcn__TransferOrder *o = t->o;
    const rcn_entry_t *e = t->entry;
    char hex[65];
    json_t *j = json_object ();
    json_object_set_new (j, "hash", json_string (rcn_hex (t->hash, 32, hex)));
    json_object_set_new (j, "order_id", json_string (o->order_id));
    const rcn_member_t *from = r ? rcn_roster_by_origin (r, e->h.origin) : NULL;
    json_object_set_new (j, "origin", json_string (rcn_hex (e->h.origin, 32, hex)));
    if (from)
        set_code (j, "region", "region_name", from->region, r);
    set_code (j, "to", "to_name", o->to, r);
    json_object_set_new (j, "seq", json_integer ((json_int_t) e->h.seq));
    json_object_set_new (j, "status", json_string (rcn_status_name (e->h.status)));
    json_object_set_new (j, "issued_ms", json_integer ((json_int_t) e->h.time_ms));
    json_object_set_new (j, "persons", json_integer (o->persons));
    json_object_set_new (j, "vehicle", json_string (o->vehicle));
    json_object_set_new (j, "depart_at_ms", json_integer ((json_int_t) o->depart_at_ms));
    json_object_set_new (j, "eta_ms", json_integer ((json_int_t) o->eta_ms));
    json_object_set_new (j, "accept_by_ms", json_integer ((json_int_t) o->accept_by_ms));
    json_object_set_new (j, "handover_point", json_string (o->handover_point));
    json_object_set_new (j, "manifest", manifest_json (o->manifest, r));
    json_object_set_new (j, "state", json_string (s_state[t->state]));
    if (t->problem[0])
        json_object_set_new (j, "invalid", json_string (t->problem));
    json_object_set_new (j, "head", json_string (rcn_hex (t->head, 32, hex)));
    json_t *overdue = json_array ();
    if (t->state == ST_CREATED && now_ms > o->accept_by_ms)
        json_array_append_new (overdue, json_string ("not accepted by accept_by"));
    if (state_open (t->state) && now_ms > o->eta_ms)
        json_array_append_new (overdue, json_string ("not handed over by eta"));
    json_object_set_new (j, "overdue", overdue);
    if (t->handover >= 0) {
        uint32_t got = t->steps[t->handover].count;
        json_object_set_new (j, "received", json_integer (got));
        if (got != o->persons)
            json_object_set_new (j, "discrepancy", json_pack ("{s:i, s:i, s:i}", "persons",
                                                              (int) o->persons, "received",
                                                              (int) got, "difference",
                                                              (int) got - (int) o->persons));
    }
    /* Steps in signed-time order (hash breaks ties): the same on every member. */
    const step_t **sorted = calloc (t->n ? t->n : 1, sizeof *sorted);
    json_t *steps = json_array (), *superseded = json_array ();
    for (size_t i = 0; sorted && i < t->n; i++)
        sorted[i] = &t->steps[i];
    if (sorted)
        qsort (sorted, t->n, sizeof *sorted, by_time);
    for (size_t i = 0; sorted && i < t->n; i++) {
        json_array_append_new (steps, step_json (sorted[i], r));
        if (sorted[i]->cls == C_SUPERSEDED)
            json_array_append_new (superseded, json_string (rcn_hex (sorted[i]->hash, 32, hex)));
    }
    free (sorted);
    json_object_set_new (j, "steps", steps);
    json_object_set_new (j, "superseded", superseded);
    return j;
}

static json_t *
transfer_list (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query,
               uint64_t now_ms, char *why, size_t whylen)
{
    const rcn_roster_t *r = env ? env->roster : NULL;
    const char *want = json_string_value (json_object_get (query, "hash"));
    order_t t;
    if (want) {
        uint8_t h[32];
        if (strlen (want) != 64 || rcn_unhex (want, h, 32) != RCN_OK) {
            rcn_errf (why, whylen, "transfer show: the hash must be 64 hex digits");
            return NULL;
        }
        int rc = order_load (v, h, r, &t);
        json_t *j = rc == RCN_OK ? order_json (&t, r, now_ms) : NULL;
        if (rc == RCN_ENOTFOUND && t.n)
            rcn_errf (why, whylen, "transfer show: this member holds no order %.16s… yet (%zu "
                      "step%s naming it wait for it)", want, t.n, t.n == 1 ? "" : "s");
        else if (rc == RCN_ENOTFOUND)
            rcn_errf (why, whylen, "transfer show: this member holds no order %.16s…", want);
        else if (rc != RCN_OK)
            rcn_errf (why, whylen, "transfer show: the view could not be read");
        order_free (&t);
        return j;
    }
    bool only_open = json_is_true (json_object_get (query, "open"));
    bool only_overdue = json_is_true (json_object_get (query, "overdue"));
    MDB_cursor *cur = NULL;
    json_t *items = json_array ();
    MDB_val k, d;
    int mrc = -1;
    memset (&t, 0, sizeof t);
    if (mdb_cursor_open (v->txn, v->dbi[DB_ORDER], &cur) == 0)
        for (mrc = mdb_cursor_get (cur, &k, &d, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get (cur, &k, &d, MDB_NEXT)) {
            if (k.mv_size != 32 || order_load (v, k.mv_data, r, &t) != RCN_OK) {
                order_free (&t);
                mrc = -1;
                break;
            }
            json_t *j = order_json (&t, r, now_ms);
            bool keep = (!only_open || state_open (t.state))
                     && (!only_overdue || json_array_size (json_object_get (j, "overdue")) > 0);
            order_free (&t);
            if (keep)
                json_array_append_new (items, j);
            else
                json_decref (j);
        }
    if (cur)
        mdb_cursor_close (cur);
    if (mrc != MDB_NOTFOUND) {
        json_decref (items);
        rcn_errf (why, whylen, "transfer list: the view could not be read");
        return NULL;
    }
    return rcn_kind_newest_first (items, "issued_ms", "transfer list", why, whylen);
}

static json_t *
transfer_show (uint32_t kind, const uint8_t *body, size_t body_len)
{
    char hex[65];
    if (kind == RCN__KIND__KIND_TRANSFER_ORDER) {
        Rcn__TransferOrder *o = rcn__transfer_order__unpack (NULL, body_len, body);
        if (!o)
            return NULL;
        json_t *j = json_object ();
        json_object_set_new (j, "order_id", json_string (o->order_id ? o->order_id : ""));
        char code[16];
        snprintf (code, sizeof code, "%06u", o->to);
        json_object_set_new (j, "to", json_string (code));
        json_object_set_new (j, "persons", json_integer (o->persons));
        json_object_set_new (j, "vehicle", json_string (o->vehicle ? o->vehicle : ""));
        json_object_set_new (j, "depart_at_ms", json_integer ((json_int_t) o->depart_at_ms));
        json_object_set_new (j, "eta_ms", json_integer ((json_int_t) o->eta_ms));
        json_object_set_new (j, "accept_by_ms", json_integer ((json_int_t) o->accept_by_ms));
        json_object_set_new (j, "handover_point",
                             json_string (o->handover_point ? o->handover_point : ""));
        /* Never the manifest itself: its size and who can open it. */
        json_object_set_new (j, "manifest", manifest_json (o->manifest, NULL));
        rcn__transfer_order__free_unpacked (o, NULL);
        return j;
    }
    Rcn__TransferStep *s = rcn__transfer_step__unpack (NULL, body_len, body);
    if (!s)
        return NULL;
    json_t *j = json_object ();
    json_object_set_new (j, "action", json_string ((int) s->action >= A_ACCEPT && (int) s->action <= A_HANDOVER
                                                   ? s_action[s->action] : "unknown"));
    if (s->order.len == 32)
        json_object_set_new (j, "order", json_string (rcn_hex (s->order.data, 32, hex)));
    if (s->parent.len == 32)
        json_object_set_new (j, "parent", json_string (rcn_hex (s->parent.data, 32, hex)));
    if ((int) s->action == A_HANDOVER)
        json_object_set_new (j, "count", json_integer (s->count));
    if (s->note && s->note[0])
        json_object_set_new (j, "note", json_string (s->note));
    rcn__transfer_step__free_unpacked (s, NULL);
    return j;
}

/* ---- opening the manifest ------------------------------------------------------------------ */

/* The manifest of order o opened with this member's secrets: a new JSON array, or NULL with
 * *rc (RCN_EPERM: not sealed for this member). */
static json_t *
manifest_open (const rcn_seal_t *seal, const Rcn__TransferOrder *o, int *rc)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    *rc = o->manifest ? rcn_seal_open (seal, o->manifest, NULL, 0, &plain, &len) : RCN_EBODY;
    if (*rc != RCN_OK)
        return NULL;
    json_t *m = json_loadb ((const char *) plain, len, JSON_REJECT_DUPLICATES, NULL);
    rcn_seal_plain_free (plain, len);
    if (!json_is_array (m)) {
        json_decref (m);
        *rc = RCN_EBODY;
        return NULL;
    }
    return m;
}

static json_t *
transfer_open (const rcn_view_t *v, const rcn_kind_env_t *env, const rcn_entry_t *e, char *why,
               size_t whylen)
{
    (void) v;
    uint32_t region = env ? env->region : 0;
    if (e->h.kind != RCN__KIND__KIND_TRANSFER_ORDER) {
        rcn_errf (why, whylen, "a transfer step seals nothing: show its order");
        return NULL;
    }
    Rcn__TransferOrder *o = rcn__transfer_order__unpack (NULL, e->h.body_len, e->h.body);
    if (!o) {
        rcn_errf (why, whylen, "the order's body does not parse");
        return NULL;
    }
    int rc = RCN_EPERM;
    json_t *m = env && env->seal ? manifest_open (env->seal, o, &rc) : NULL;
    rcn__transfer_order__free_unpacked (o, NULL);
    if (!m) {
        if (rc == RCN_EPERM)
            rcn_errf (why, whylen, "not addressed to %06u", region);
        else
            rcn_errf (why, whylen, "the manifest does not open: %s", rcn_strerror (rc));
        return NULL;
    }
    return json_pack ("{s:o}", "manifest", m);
}

/* ---- authoring ----------------------------------------------------------------------------- */

static const char *
str_field (const json_t *b, const char *key)
{
    return json_string_value (json_object_get (b, key));
}

static int
time_field (const json_t *b, const char *key, uint64_t *out, char *why, size_t whylen)
{
    const json_t *j = json_object_get (b, key);
    if (!json_is_integer (j) || json_integer_value (j) <= 0) {
        rcn_errf (why, whylen, "transfer create: %s: must be a time (Unix ms)", key);
        return RCN_EINVAL;
    }
    *out = (uint64_t) json_integer_value (j);
    return RCN_OK;
}

/* The manifest checked and in its one spelling (keys sorted, compact): caller frees *plain
 * with free_plain. Reasons name the field, never the name or number. */
static int
manifest_plain (const json_t *mj, size_t persons, char **plain, char *why, size_t whylen)
{
    *plain = NULL;
    if (!json_is_array (mj) || json_array_size (mj) == 0) {
        rcn_errf (why, whylen, "transfer create: manifest: must be a list of {\"name\", "
                  "\"id_number\"}, one per person");
        return RCN_EINVAL;
    }
    if (json_array_size (mj) != persons) {
        rcn_errf (why, whylen, "transfer create: persons is %zu but the manifest lists %zu",
                  persons, json_array_size (mj));
        return RCN_EINVAL;
    }
    json_t *out = json_array ();
    size_t i;
    const json_t *p;
    char iwhy[160];
    json_array_foreach (mj, i, p) {
        const char *name = str_field (p, "name"), *id = str_field (p, "id_number");
        size_t known = (size_t) (json_object_get (p, "name") != NULL)
                     + (size_t) (json_object_get (p, "id_number") != NULL);
        if (!json_is_object (p) || json_object_size (p) != known) {
            rcn_errf (why, whylen, "transfer create: manifest[%zu]: an object with only "
                      "\"name\" and \"id_number\"", i);
            goto fail;
        }
        if (!name || !text_ok (name, PERSON_NAME_MAX, false)) {
            rcn_errf (why, whylen, "transfer create: manifest[%zu].name: 1..%d bytes of UTF-8 "
                      "text without control characters", i, PERSON_NAME_MAX);
            goto fail;
        }
        if (!id || rcn_id_number_check (id, iwhy, sizeof iwhy) != RCN_OK) {
            rcn_errf (why, whylen, "transfer create: manifest[%zu].id_number: %s", i,
                      id ? iwhy : "missing (a string)");
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp (str_field (json_array_get (out, j), "id_number"), id) == 0) {
                rcn_errf (why, whylen, "transfer create: manifest[%zu].id_number: the same as "
                          "manifest[%zu]'s", i, j);
                goto fail;
            }
        json_array_append_new (out, json_pack ("{s:s, s:s}", "name", name, "id_number", id));
    }
    *plain = json_dumps (out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (out);
    if (!*plain)
        return RCN_ENOMEM;
    if (strlen (*plain) > RCN_SEAL_PLAIN_MAX) {
        rcn_errf (why, whylen, "transfer create: manifest: %zu bytes, at most %d can be sealed "
                  "(split the transfer into several orders)", strlen (*plain), RCN_SEAL_PLAIN_MAX);
        sodium_memzero (*plain, strlen (*plain));
        free (*plain);
        *plain = NULL;
        return RCN_EINVAL;
    }
    return RCN_OK;
fail:
    json_decref (out);
    return RCN_EINVAL;
}

static void
free_plain (char *plain)
{
    if (plain) {
        sodium_memzero (plain, strlen (plain));
        free (plain);
    }
}

/* Whether the existing order (this member's, same order_id) says what the request says; its
 * manifest is opened with this member's secrets to compare. */
static int
same_order (const rcn_kind_env_t *env, const rcn_entry_t *e, const Rcn__TransferOrder *want,
            uint32_t status, const char *plain, bool *same)
{
    *same = false;
    Rcn__TransferOrder *o = rcn__transfer_order__unpack (NULL, e->h.body_len, e->h.body);
    if (!o)
        return RCN_EDB;
    if (e->h.status == status && o->to == want->to && o->persons == want->persons
        && strcmp (o->vehicle, want->vehicle) == 0
        && strcmp (o->handover_point, want->handover_point) == 0
        && o->depart_at_ms == want->depart_at_ms && o->eta_ms == want->eta_ms
        && o->accept_by_ms == want->accept_by_ms) {
        int rc;
        json_t *m = env->seal ? manifest_open (env->seal, o, &rc) : NULL;
        json_t *w = json_loads (plain, 0, NULL);
        *same = m && w && json_equal (m, w);
        json_decref (m);
        json_decref (w);
    }
    rcn__transfer_order__free_unpacked (o, NULL);
    return RCN_OK;
}

static int
author_order (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req, uint64_t now_ms,
              uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    const json_t *b = json_object_get (req, "body");
    uint32_t status = (uint32_t) json_integer_value (json_object_get (req, "status"));
    Rcn__TransferOrder o = RCN__TRANSFER_ORDER__INIT;
    Rcn__Sealed *sealed = NULL;
    char *plain = NULL, rwhy[160], hex[65];
    int rc = RCN_EINVAL;
    if (!env->roster) {
        rcn_errf (why, whylen, "transfer create: no roster to check the receiving region against");
        return RCN_ESTATE;
    }
    o.order_id = (char *) str_field (b, "order_id");
    if (!o.order_id || !text_ok (o.order_id, ORDER_ID_MAX, false)) {
        rcn_errf (why, whylen, "transfer create: order_id: 1..%d bytes of UTF-8 text without "
                  "control characters", ORDER_ID_MAX);
        return RCN_EINVAL;
    }
    const char *to = str_field (b, "to");
    if (!to || rcn_region_parse (to, &o.to, rwhy, sizeof rwhy) != RCN_OK) {
        rcn_errf (why, whylen, "transfer create: to: %s", to ? rwhy : "missing (a region code)");
        return RCN_EINVAL;
    }
    const rcn_member_t *dest = rcn_roster_by_region (env->roster, o.to);
    if (!dest || o.to == env->region) {
        rcn_errf (why, whylen, "transfer create: to: %06u %s", o.to,
                  dest ? "is this member's own region" : "is not a member of the alliance");
        return RCN_EINVAL;
    }
    const json_t *pj = json_object_get (b, "persons");
    if (!json_is_integer (pj) || json_integer_value (pj) < 1
        || json_integer_value (pj) > PERSONS_MAX) {
        rcn_errf (why, whylen, "transfer create: persons: 1..%d", PERSONS_MAX);
        return RCN_EINVAL;
    }
    o.persons = (uint32_t) json_integer_value (pj);
    if ((rc = manifest_plain (json_object_get (b, "manifest"), o.persons, &plain, why,
                              whylen)) != RCN_OK)
        return rc;
    rc = RCN_EINVAL;
    o.vehicle = (char *) str_field (b, "vehicle");
    o.handover_point = (char *) str_field (b, "handover_point");
    if (!o.vehicle || !text_ok (o.vehicle, VEHICLE_MAX, false)) {
        rcn_errf (why, whylen, "transfer create: vehicle: 1..%d bytes of UTF-8 text without "
                  "control characters", VEHICLE_MAX);
        goto done;
    }
    if (!o.handover_point || !text_ok (o.handover_point, POINT_MAX, false)) {
        rcn_errf (why, whylen, "transfer create: handover_point: 1..%d bytes of UTF-8 text "
                  "without control characters", POINT_MAX);
        goto done;
    }
    if (time_field (b, "depart_at_ms", &o.depart_at_ms, why, whylen) != RCN_OK
        || time_field (b, "eta_ms", &o.eta_ms, why, whylen) != RCN_OK
        || time_field (b, "accept_by_ms", &o.accept_by_ms, why, whylen) != RCN_OK)
        goto done;
    if (o.eta_ms <= o.depart_at_ms) {
        rcn_errf (why, whylen, "transfer create: eta must be after depart_at");
        goto done;
    }
    if (o.accept_by_ms >= o.depart_at_ms) {
        rcn_errf (why, whylen, "transfer create: accept_by must be before depart_at");
        goto done;
    }
    if (o.accept_by_ms <= now_ms) {
        rcn_errf (why, whylen, "transfer create: accept_by is not in the future");
        goto done;
    }
    /* Idempotent: the same order_id again with the same content is the existing order. */
    size_t idlen = strlen (o.order_id);
    uint8_t idkey[32 + ORDER_ID_MAX];
    memcpy (idkey, env->origin, 32);
    memcpy (idkey + 32, o.order_id, idlen);
    MDB_val ik = { 32 + idlen, idkey }, d;
    int mrc = mdb_get (v->txn, v->dbi[DB_ID], &ik, &d);
    if (mrc == 0) {
        rcn_entry_t *prev = NULL;
        bool same = false;
        if (d.mv_size != 32 || rcn_view_get_by_hash (v, d.mv_data, &prev) != RCN_OK
            || same_order (env, prev, &o, status, plain, &same) != RCN_OK) {
            rcn_entry_destroy (&prev);
            rc = RCN_EDB;
            goto done;
        }
        rcn_hex (prev->hash, 32, hex);
        rcn_entry_destroy (&prev);
        if (same) {
            rcn_errf (why, whylen, "%s", hex);
            rc = RCN_EDUP;
        }
        else
            rcn_errf (why, whylen, "transfer create: order_id \"%s\" is already used by order %s "
                      "with other content", o.order_id, hex);
        goto done;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = RCN_EDB;
        goto done;
    }
    rcn_seal_reader_t readers[2];
    size_t n_readers = 0;
    rc = rcn_sealkey_readers (v, env->roster, env->origin, &o.to, 1, now_ms, readers, &n_readers,
                              rwhy, sizeof rwhy);
    if (rc != RCN_OK) {
        rcn_errf (why, whylen, "transfer create: cannot seal the manifest: %s", rwhy);
        rc = rc == RCN_EDB || rc == RCN_ENOMEM ? rc : RCN_EINVAL;
        goto done;
    }
    if ((rc = rcn_seal_box ((const uint8_t *) plain, strlen (plain), readers, n_readers,
                            &sealed)) != RCN_OK) {
        rcn_errf (why, whylen, "transfer create: sealing the manifest failed: %s", rcn_strerror (rc));
        goto done;
    }
    o.manifest = sealed;
    if (validate_order (&o, env->origin, why, whylen) != RCN_OK) {
        rc = RCN_EINVAL;
        goto done;
    }
    *body_len = rcn__transfer_order__get_packed_size (&o);
    if (!(*body = malloc (*body_len))) {
        rc = RCN_ENOMEM;
        goto done;
    }
    rcn__transfer_order__pack (&o, *body);
    rc = RCN_OK;
done:
    rcn_seal_free (sealed);
    free_plain (plain);
    return rc;
}

static int
action_parse (const char *s)
{
    for (int i = A_ACCEPT; s && i <= A_HANDOVER; i++)
        if (strcmp (s, s_action[i]) == 0)
            return i;
    return -1;
}

static int
author_step (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req, int action,
             uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    const json_t *b = json_object_get (req, "body");
    uint32_t status = (uint32_t) json_integer_value (json_object_get (req, "status"));
    const char *oh = str_field (b, "order"), *note = str_field (b, "note");
    const json_t *cj = json_object_get (b, "count");
    const char *an = s_action[action];
    uint8_t hash[32];
    char hex[65], region[40];
    if (!oh || strlen (oh) != 64 || rcn_unhex (oh, hash, 32) != RCN_OK) {
        rcn_errf (why, whylen, "transfer %s: order: must be the order's 64-hex-digit hash", an);
        return RCN_EINVAL;
    }
    if (json_object_get (b, "note") && (!note || !text_ok (note, NOTE_MAX, true))) {
        rcn_errf (why, whylen, "transfer %s: note: UTF-8 text without control characters, at "
                  "most %d bytes", an, NOTE_MAX);
        return RCN_EINVAL;
    }
    if ((action == A_HANDOVER) != (cj != NULL)) {
        rcn_errf (why, whylen, "transfer %s: %s", an, action == A_HANDOVER
                  ? "--count N (persons received) is required" : "only a handover takes --count");
        return RCN_EINVAL;
    }
    if (cj && (!json_is_integer (cj) || json_integer_value (cj) < 0
               || json_integer_value (cj) > COUNT_MAX)) {
        rcn_errf (why, whylen, "transfer %s: count: 0..%d persons received", an, COUNT_MAX);
        return RCN_EINVAL;
    }
    uint32_t count = cj ? (uint32_t) json_integer_value (cj) : 0;
    order_t t;
    int rc = order_load (v, hash, env->roster, &t);
    if (rc == RCN_ENOTFOUND) {
        rcn_errf (why, whylen, "transfer %s: this member holds no order %.16s… (not replicated "
                  "here yet?)", an, oh);
        rc = RCN_EINVAL;
        goto done;
    }
    if (rc != RCN_OK)
        goto done;
    rc = RCN_EINVAL;
    if (t.problem[0]) {
        rcn_errf (why, whylen, "transfer %s: the order is invalid: %s", an, t.problem);
        goto done;
    }
    bool issuer = memcmp (env->origin, t.entry->h.origin, 32) == 0;
    if (issuer_action (action) && !issuer) {
        region_of (env->roster, t.entry->h.origin, region, sizeof region);
        rcn_errf (why, whylen, "transfer %s: only the issuing region (%s) may %s this order",
                  an, region, an);
        goto done;
    }
    if (!issuer_action (action) && !is_receiver (&t, env->origin)) {
        rcn_errf (why, whylen, "transfer %s: only the receiving region (%06u) may %s this order",
                  an, t.o->to, an);
        goto done;
    }
    if (status != t.entry->h.status) {
        rcn_errf (why, whylen, "transfer %s: a step must carry its order's status: the order is "
                  "%s, this step %s", an, rcn_status_name (t.entry->h.status),
                  rcn_status_name (status));
        goto done;
    }
    /* Idempotent: the same step by the same party already stands. */
    for (size_t i = 0; i < t.n; i++) {
        const step_t *s = &t.steps[i];
        if (s->cls == C_APPLIED && s->action == action && memcmp (s->origin, env->origin, 32) == 0
            && (action != A_HANDOVER || s->count == count)) {
            rcn_errf (why, whylen, "%s", rcn_hex (s->hash, 32, hex));
            rc = RCN_EDUP;
            goto done;
        }
    }
    if (next_state (t.state, action) < 0) {
        static const char *const hint[] = {
            [ST_CREATED] = "the receiving region has not accepted it yet",
            [ST_ACCEPTED] = "it has not departed yet",
            [ST_REJECTED] = "it was rejected",
            [ST_DEPARTED] = "it is on its way: only the handover is left",
            [ST_HANDED_OVER] = "it was handed over",
            [ST_CANCELLED] = "it was cancelled",
            [ST_INVALID] = "it is invalid",
        };
        rcn_errf (why, whylen, "transfer %s: does not follow from the order's state \"%s\" (%s)",
                  an, s_state[t.state], hint[t.state]);
        goto done;
    }
    Rcn__TransferStep s = RCN__TRANSFER_STEP__INIT;
    s.order.data = hash;
    s.order.len = 32;
    s.parent.data = t.head;
    s.parent.len = 32;
    s.action = (Rcn__TransferStep__Action) action;
    s.count = count;
    s.note = (char *) (note ? note : "");
    if (validate_step (&s, NULL, why, whylen) != RCN_OK)
        goto done;
    *body_len = rcn__transfer_step__get_packed_size (&s);
    if (!(*body = malloc (*body_len ? *body_len : 1))) {
        rc = RCN_ENOMEM;
        goto done;
    }
    rcn__transfer_step__pack (&s, *body);
    rc = RCN_OK;
done:
    order_free (&t);
    return rc;
}

static int
transfer_author (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req,
                 uint64_t now_ms, uint32_t *kind, uint8_t **body, size_t *body_len, char *why,
                 size_t whylen)
{
    const json_t *b = json_object_get (req, "body");
    if (!json_is_object (b)) {
        rcn_errf (why, whylen, "transfer: request has no body object");
        return RCN_EINVAL;
    }
    const char *action = str_field (b, "action");
    if (action && strcmp (action, "create") == 0) {
        *kind = RCN__KIND__KIND_TRANSFER_ORDER;
        return author_order (v, env, req, now_ms, body, body_len, why, whylen);
    }
    int a = action_parse (action);
    if (a < 0) {
        rcn_errf (why, whylen, "transfer: action must be create, accept, reject, depart, cancel "
                  "or handover");
        return RCN_EINVAL;
    }
    *kind = RCN__KIND__KIND_TRANSFER_STEP;
    return author_step (v, env, req, a, body, body_len, why, whylen);
}

/* Every request reads state an earlier one of the same group could change: a step its parent,
 * an order its order_id. */
static bool
transfer_depends (const json_t *req)
{
    (void) req;
    return true;
}

/* ---- rcctl --------------------------------------------------------------------------------- */

/* A time for the body: RFC 3339, Unix ms or a duration, given as a string or a number. */
static int
cli_time (json_t *body, const char *key, const json_t *val, uint64_t now_ms, char *why,
          size_t whylen)
{
    uint64_t t;
    char twhy[160];
    if (json_is_integer (val) && json_integer_value (val) > 0)
        t = (uint64_t) json_integer_value (val);
    else if (!json_is_string (val)
             || rcn_time_parse (json_string_value (val), now_ms, &t, twhy, sizeof twhy) != RCN_OK) {
        rcn_errf (why, whylen, "transfer create: %s: %s", key, json_is_string (val) ? twhy
                  : "an RFC 3339 time (2026-11-23T10:00:00+08:00), Unix ms or +6h");
        return RCN_EINVAL;
    }
    char k[32];
    snprintf (k, sizeof k, "%s_ms", key);
    json_object_set_new (body, k, json_integer ((json_int_t) t));
    return RCN_OK;
}

/* `create`'s fields from a JSON object on stdin, into body. */
static int
cli_create_input (json_t *body, const json_t *in, uint64_t now_ms, char *why, size_t whylen)
{
    const char *key;
    json_t *val;
    json_object_foreach ((json_t *) in, key, val) {
        if (strcmp (key, "depart_at") == 0 || strcmp (key, "eta") == 0
            || strcmp (key, "accept_by") == 0) {
            if (cli_time (body, key, val, now_ms, why, whylen) != RCN_OK)
                return RCN_EINVAL;
        }
        else if (strcmp (key, "to") == 0 && json_is_integer (val)) {
            char code[24];
            snprintf (code, sizeof code, "%lld", (long long) json_integer_value (val));
            json_object_set_new (body, "to", json_string (code));
        }
        else if (strcmp (key, "order_id") == 0 || strcmp (key, "to") == 0
                 || strcmp (key, "vehicle") == 0 || strcmp (key, "handover_point") == 0) {
            if (!json_is_string (val)) {
                rcn_errf (why, whylen, "transfer create: %s: must be a string", key);
                return RCN_EINVAL;
            }
            json_object_set (body, key, val);
        }
        else if (strcmp (key, "persons") == 0 || strcmp (key, "manifest") == 0)
            json_object_set (body, key, val);
        else {
            rcn_errf (why, whylen, "transfer create: unknown field \"%s\" (order_id, to, persons, "
                      "manifest, vehicle, depart_at, eta, handover_point, accept_by)", key);
            return RCN_EINVAL;
        }
    }
    return RCN_OK;
}

/* --person "NAME,ID_NUMBER": split at the last comma. */
static int
cli_person (json_t *body, const char *arg, char *why, size_t whylen)
{
    const char *comma = strrchr (arg, ',');
    if (!comma || comma == arg || !comma[1]) {
        rcn_errf (why, whylen, "transfer create: --person: \"NAME,ID_NUMBER\"");
        return RCN_EINVAL;
    }
    char *name = strndup (arg, (size_t) (comma - arg));
    json_t *n = name ? json_string (name) : NULL, *id = json_string (comma + 1);
    free (name);
    if (!n || !id) {
        json_decref (n);
        json_decref (id);
        rcn_errf (why, whylen, "transfer create: --person: must be UTF-8 text");
        return RCN_EINVAL;
    }
    json_t *m = json_object_get (body, "manifest");
    if (!json_is_array (m)) {
        m = json_array ();
        json_object_set_new (body, "manifest", m);
    }
    json_array_append_new (m, json_pack ("{s:o, s:o}", "name", n, "id_number", id));
    return RCN_OK;
}

static int
transfer_cli (int argc, char **argv, const json_t *input, uint64_t now_ms, json_t **req,
              char *why, size_t whylen)
{
    static const struct option opts[] = {
        { "order-id", required_argument, NULL, 'i' },
        { "to", required_argument, NULL, 't' },
        { "persons", required_argument, NULL, 'p' },
        { "person", required_argument, NULL, 'P' },
        { "vehicle", required_argument, NULL, 'v' },
        { "depart-at", required_argument, NULL, 'd' },
        { "eta", required_argument, NULL, 'e' },
        { "handover-point", required_argument, NULL, 'h' },
        { "accept-by", required_argument, NULL, 'a' },
        { "count", required_argument, NULL, 'c' },
        { "note", required_argument, NULL, 'n' },
        { "open", no_argument, NULL, 'o' },
        { "overdue", no_argument, NULL, 'O' },
        { NULL, 0, NULL, 0 },
    };
    if (argc < 1) {
        rcn_errf (why, whylen, "transfer: say create, accept, reject, depart, cancel, handover, "
                  "show or list");
        return RCN_EINVAL;
    }
    const char *verb = argv[0];
    bool create = strcmp (verb, "create") == 0, list = strcmp (verb, "list") == 0;
    bool show = strcmp (verb, "show") == 0;
    int action = action_parse (verb);
    if (!create && !list && !show && action < 0) {
        rcn_errf (why, whylen, "transfer: unknown verb \"%s\" (create, accept, reject, depart, "
                  "cancel, handover, show, list)", verb);
        return RCN_EINVAL;
    }
    json_t *r = json_object (), *body = json_object ();
    json_object_set_new (r, "verb", json_string (verb));
    json_object_set_new (body, "action", json_string (verb));
    if (create && input && cli_create_input (body, input, now_ms, why, whylen) != RCN_OK)
        goto fail;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        bool ok = c != '?' && c != ':'
               && (create ? strchr ("itpPvdeha", c) != NULL
                   : list ? (c == 'o' || c == 'O')
                   : show ? false
                   : c == 'n' || (c == 'c' && action == A_HANDOVER));
        if (!ok) {
            rcn_errf (why, whylen, "transfer %s: unknown or misplaced flag \"%s\"", verb,
                      argv[optind - 1]);
            goto fail;
        }
        json_t *str = strchr ("itvhn", c) ? json_string (optarg) : NULL;
        if (strchr ("itvhn", c) && !str) {
            rcn_errf (why, whylen, "transfer %s: %s must be UTF-8 text", verb, argv[optind - 1]);
            goto fail;
        }
        switch (c) {
        case 'i': json_object_set_new (body, "order_id", str); break;
        case 't': json_object_set_new (body, "to", str); break;
        case 'v': json_object_set_new (body, "vehicle", str); break;
        case 'h': json_object_set_new (body, "handover_point", str); break;
        case 'n': json_object_set_new (body, "note", str); break;
        case 'p':
        case 'c': {
            char *end;
            long long n = strtoll (optarg, &end, 10);
            if (!*optarg || *end || n < 0 || n > COUNT_MAX) {
                rcn_errf (why, whylen, "transfer %s: %s \"%s\": a number of persons", verb,
                          argv[optind - 1], optarg);
                goto fail;
            }
            json_object_set_new (body, c == 'p' ? "persons" : "count", json_integer (n));
            break;
        }
        case 'P':
            if (cli_person (body, optarg, why, whylen) != RCN_OK)
                goto fail;
            break;
        case 'd':
        case 'e':
        case 'a': {
            json_t *s = json_string (optarg);
            int rc = cli_time (body, c == 'd' ? "depart_at" : c == 'e' ? "eta" : "accept_by", s,
                               now_ms, why, whylen);
            json_decref (s);
            if (rc != RCN_OK)
                goto fail;
            break;
        }
        case 'o': json_object_set_new (body, "open", json_true ()); break;
        case 'O': json_object_set_new (body, "overdue", json_true ()); break;
        default: break;
        }
    }
    int rest = argc - optind;
    if (create || list) {
        if (rest != 0) {
            rcn_errf (why, whylen, "transfer %s: unexpected argument \"%s\"", verb, argv[optind]);
            goto fail;
        }
    }
    else {
        if (rest != 1 || strlen (argv[optind]) != 64) {
            rcn_errf (why, whylen, "transfer %s: give the order's hash, 64 hex digits (see "
                      "transfer list)", verb);
            goto fail;
        }
        uint8_t h[32];
        if (rcn_unhex (argv[optind], h, 32) != RCN_OK) {
            rcn_errf (why, whylen, "transfer %s: the hash must be 64 hex digits", verb);
            goto fail;
        }
        json_object_set_new (body, show ? "hash" : "order", json_string (argv[optind]));
    }
    if (create) {
        static const char *const need[] = { "order_id", "to", "persons", "manifest", "vehicle",
                                            "depart_at_ms", "eta_ms", "handover_point",
                                            "accept_by_ms" };
        for (size_t i = 0; i < sizeof need / sizeof *need; i++)
            if (!json_object_get (body, need[i])) {
                char flag[32];
                snprintf (flag, sizeof flag, "%s", need[i]);
                char *ms = strstr (flag, "_ms");
                if (ms)
                    *ms = '\0';
                for (char *p = flag; *p; p++)
                    *p = *p == '_' ? '-' : *p;
                rcn_errf (why, whylen, "transfer create: %s is required (--%s%s, or the "
                          "\"%.*s\" field with --json on stdin)", need[i],
                          strcmp (flag, "manifest") == 0 ? "person" : flag,
                          strcmp (flag, "manifest") == 0 ? " NAME,ID_NUMBER, once per person" : "",
                          (int) (ms ? (size_t) (ms - flag) : strlen (flag)), need[i]);
                goto fail;
            }
    }
    if (action == A_HANDOVER && !json_object_get (body, "count")) {
        rcn_errf (why, whylen, "transfer handover: --count N (persons received) is required");
        goto fail;
    }
    if (list || show) {
        json_object_del (body, "action");
        if (show) {
            json_object_set_new (r, "op", json_string ("open"));
            json_object_set (r, "hash", json_object_get (body, "hash"));
        }
        else
            json_object_set_new (r, "op", json_string ("list"));
        json_object_set_new (r, "query", body);
    }
    else {
        json_object_set_new (r, "op", json_string ("author"));
        json_object_set_new (r, "body", body);
    }
    *req = r;
    return RCN_OK;
fail:
    json_decref (body);
    json_decref (r);
    return RCN_EINVAL;
}

/* ---- printing ------------------------------------------------------------------------------ */

static const char *
jstr (const json_t *o, const char *key)
{
    const char *s = json_string_value (json_object_get (o, key));
    return s ? s : "-";
}

static void
when (const json_t *o, const char *key, char *buf, size_t len)
{
    json_int_t t = json_integer_value (json_object_get (o, key));
    if (t <= 0) {
        snprintf (buf, len, "-");
        return;
    }
    rcn_time_format ((uint64_t) t, buf, len);
    if (strlen (buf) > 16) {           /* 2026-11-22T01:30 */
        buf[16] = 'Z';
        buf[17] = '\0';
    }
}

static void
flags_of (const json_t *o, char *buf, size_t len)
{
    const char *status = json_string_value (json_object_get (o, "status"));
    size_t n = 0;
    buf[0] = '\0';
    if (status && strcmp (status, "actual") != 0)
        n += (size_t) snprintf (buf + n, len - n, "[%s] ", strcmp (status, "exercise") == 0
                                ? "EXERCISE" : "TEST");
    if (json_array_size (json_object_get (o, "overdue")) && n < len)
        n += (size_t) snprintf (buf + n, len - n, "OVERDUE: %s ",
                                json_string_value (json_array_get (json_object_get (o, "overdue"), 0)));
    const json_t *d = json_object_get (o, "discrepancy");
    if (d && n < len)
        n += (size_t) snprintf (buf + n, len - n, "DISCREPANCY: %lld of %lld received ",
                                (long long) json_integer_value (json_object_get (d, "received")),
                                (long long) json_integer_value (json_object_get (d, "persons")));
    if (json_object_get (o, "invalid") && n < len)
        snprintf (buf + n, len - n, "INVALID: %s", jstr (o, "invalid"));
}

static void
print_one (const json_t *o)
{
    char a[40], b[40], c[40], flags[400];
    flags_of (o, flags, sizeof flags);
    printf ("order      %s\n", jstr (o, "hash"));
    printf ("order id   %s\n", jstr (o, "order_id"));
    printf ("from       %s %s  ->  to %s %s\n", jstr (o, "region"), jstr (o, "region_name"),
            jstr (o, "to"), jstr (o, "to_name"));
    printf ("persons    %lld\n", (long long) json_integer_value (json_object_get (o, "persons")));
    printf ("vehicle    %s\n", jstr (o, "vehicle"));
    when (o, "accept_by_ms", a, sizeof a);
    when (o, "depart_at_ms", b, sizeof b);
    when (o, "eta_ms", c, sizeof c);
    printf ("times      accept by %s, depart %s, eta %s (UTC)\n", a, b, c);
    printf ("handover   %s\n", jstr (o, "handover_point"));
    printf ("state      %s%s%s\n", jstr (o, "state"), flags[0] ? "  " : "", flags);
    const json_t *m = json_object_get (o, "manifest");
    printf ("manifest   sealed, %lld bytes, readers",
            (long long) json_integer_value (json_object_get (m, "sealed")));
    size_t i;
    const json_t *x;
    json_array_foreach (json_object_get (m, "readers"), i, x)
        printf (" %s", json_string_value (x));
    printf ("\n");
    const json_t *opened = json_object_get (json_object_get (o, "opened"), "manifest");
    if (opened) {
        json_array_foreach (opened, i, x)
            printf ("  %3zu. %-20s %s\n", i + 1, jstr (x, "name"), jstr (x, "id_number"));
    }
    else if (json_object_get (o, "sealed"))
        printf ("           not opened here: %s\n", json_string_value (json_object_get (o, "sealed"))
                ? json_string_value (json_object_get (o, "sealed")) : "no answer from the node");
    const json_t *steps = json_object_get (o, "steps");
    if (json_array_size (steps) == 0) {
        printf ("steps      none yet\n");
        return;
    }
    printf ("steps\n  %-17s  %-6s  %-8s  %-10s  %-16s  %s\n", "TIME (UTC)", "REGION", "ACTION",
            "STATE", "STEP", "NOTE / WHY");
    json_array_foreach (steps, i, x) {
        char t[40], action[32];
        when (x, "time_ms", t, sizeof t);
        if (json_object_get (x, "count"))
            snprintf (action, sizeof action, "%s %lld", jstr (x, "action"),
                      (long long) json_integer_value (json_object_get (x, "count")));
        else
            snprintf (action, sizeof action, "%s", jstr (x, "action"));
        const char *why = json_string_value (json_object_get (x, "why"));
        const char *note = json_string_value (json_object_get (x, "note"));
        printf ("  %-17s  %-6s  %-8s  %-10s  %.16s  %s%s%s\n", t, jstr (x, "region"), action,
                jstr (x, "state"), jstr (x, "hash"), note ? note : "", note && why ? " / " : "",
                why ? why : "");
    }
}

static void
transfer_print (const json_t *list)
{
    if (json_is_object (list)) {
        print_one (list);
        return;
    }
    if (json_array_size (list) == 0) {
        printf ("no transfer orders\n");
        return;
    }
    printf ("%-64s  %-6s  %-6s  %-7s  %-11s  %-17s  %-17s  %s\n", "ORDER (hash for steps and show)",
            "FROM", "TO", "PERSONS", "STATE", "DEPART (UTC)", "ETA (UTC)", "ORDER ID / FLAGS");
    size_t i;
    const json_t *o;
    json_array_foreach (list, i, o) {
        char d[40], e[40], flags[400];
        when (o, "depart_at_ms", d, sizeof d);
        when (o, "eta_ms", e, sizeof e);
        flags_of (o, flags, sizeof flags);
        printf ("%-64s  %-6s  %-6s  %-7lld  %-11s  %-17s  %-17s  %s %s\n", jstr (o, "hash"),
                jstr (o, "region"), jstr (o, "to"),
                (long long) json_integer_value (json_object_get (o, "persons")), jstr (o, "state"),
                d, e, jstr (o, "order_id"), flags);
    }
}

static const uint32_t s_also[] = { RCN__KIND__KIND_TRANSFER_STEP, 0 };
static const char *const s_json_verbs[] = { "create", NULL };
static const char *const s_json_flag_verbs[] = { "accept", "reject", "depart", "cancel", "handover", NULL };

const rcn_kind_t rcn_kind_transfer = {
    .kind = RCN__KIND__KIND_TRANSFER_ORDER,
    .also = s_also,
    .name = "transfer",
    .dbs = s_dbs,
    .apply = transfer_apply,
    .author = transfer_author,
    .depends = transfer_depends,
    .show = transfer_show,
    .list = transfer_list,
    .open = transfer_open,
    .cli = transfer_cli,
    .print = transfer_print,
    .json_verbs = s_json_verbs,
    .json_flag_verbs = s_json_flag_verbs,
    .usage =
        "  transfer create --order-id ID --to CODE --persons N --person NAME,ID_NUMBER …\n"
        "                  --vehicle PLATE --depart-at TIME --eta TIME --accept-by TIME\n"
        "                  --handover-point TEXT        (or --json with the fields on stdin)\n"
        "  transfer accept|reject HASH [--note T]       (the receiving region)\n"
        "  transfer depart|cancel HASH [--note T]       (the issuing region)\n"
        "  transfer handover HASH --count N [--note T]  (the receiving region: persons received)\n"
        "  transfer show HASH [--json]                  (the manifest, where this member may open it)\n"
        "  transfer list [--open] [--overdue] [--json]\n",
};
