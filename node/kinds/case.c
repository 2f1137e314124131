/* case.c — case notifications (DESIGN.md §4, §7): a CaseNotice from the region that found a
 * case or contact to the regions it concerns, and the addressees' CaseAcks (received,
 * taken_over, not_ours with a redirect). Personal details travel sealed (seal.h) to the
 * addressees and the origin; a redirect re-wraps the content key for the new region.
 *
 * The one decision: the view stores facts, and the verdicts that need another origin's
 * entries are reached when the view is READ. A notice and its acks come from different
 * origins and reach a member in any order (invariant 8), and a rebuild re-applies them in
 * origin order. So apply refuses (RCN_EBODY) only what the entry itself and its own origin's
 * earlier entries show wrong: a malformed body, a case id used twice, a correction of
 * another region's notice, a second receipt or answer, an ack of one's own notice. Whether an
 * ack comes from an addressee, whether a redirect goes to a member, whether its status matches
 * the notice's, is judged from all the facts at once, with the roster, by list, open, author
 * and auto_author (resolve below); such acks show as "ignored" with the reason, the same on
 * every member and in every arrival order. (Refusing them in apply would make the store's
 * invalid marks, and so `export`, depend on arrival order.)
 *
 * View:
 *   case.notice  notice hash -> record (origin, time, status, superseded_by, withdrawn)
 *   case.id      origin | case_id | 0 | notice hash -> ""   (case ids per origin)
 *   case.ack     notice hash | acker | be64(seq) -> ack record   (acks, pending or not)
 *   case.to      be32(region) | notice hash -> ""   (addressed or redirected to region) */
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/region.h"
#include "rcn/seal.h"
#include "rcn/sealkey.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "rcn.pb-c.h"

#define CASE_ID_MAX 64
#define TO_MAX 32
#define NOTE_MAX 500
#define SKEW_MS (10 * 60 * 1000ULL)   /* a report may be dated this far past its entry */
#define NAME_MAX_B 128
#define PHONE_MAX 32
#define ADDRESS_MAX 512
#define NOTES_MAX 2000

enum { DB_NOTICE = 0, DB_ID = 1, DB_ACK = 2, DB_TO = 3 };
static const char *const s_dbs[] = { "case.notice", "case.id", "case.ack", "case.to", NULL };
static const uint32_t s_also[] = { RCN__KIND__KIND_CASE_ACK, 0 };

static const char *const s_class[] = { NULL, "confirmed", "suspected", "asymptomatic",
                                       "close_contact", "secondary_contact", "cleared" };
static const char *const s_answer[] = { NULL, "received", "taken_over", "not_ours" };
static const char *const s_personal_keys[] = { "name", "id_number", "phone", "address", "notes",
                                               NULL };

#define HX(h) rcn_hex ((h), 32, (char[65]) { 0 })

/* ---- view records ---------------------------------------------------------------------------- */

typedef struct {
    uint8_t origin[32];
    uint64_t time_ms;
    uint8_t status;                /* the entry's: actual, exercise, test */
    uint8_t withdrawal;            /* this notice withdraws the one it supersedes */
    uint8_t superseded_by[32];     /* zero while current */
    uint8_t withdrawn;             /* superseded by a withdrawal */
} rec_t;
#define REC_SIZE (32 + 8 + 1 + 1 + 32 + 1)

#define ACK_KEY (32 + 32 + 8)
#define ACK_VAL (1 + 1 + 4 + 8 + 32)

static const uint8_t s_zero[32];

static void
rec_pack (const rec_t *r, uint8_t out[REC_SIZE])
{
    memcpy (out, r->origin, 32);
    rcn_be_put (out + 32, r->time_ms, 8);
    out[40] = r->status;
    out[41] = r->withdrawal;
    memcpy (out + 42, r->superseded_by, 32);
    out[74] = r->withdrawn;
}

static int
rec_get (const rcn_view_t *v, const uint8_t hash[32], rec_t *r)
{
    MDB_val k = { 32, (void *) hash }, val;
    int mrc = mdb_get (v->txn, v->dbi[DB_NOTICE], &k, &val);
    if (mrc == MDB_NOTFOUND)
        return RCN_ENOTFOUND;
    if (mrc || val.mv_size != REC_SIZE)
        return RCN_EDB;
    const uint8_t *p = val.mv_data;
    memcpy (r->origin, p, 32);
    r->time_ms = rcn_be_get (p + 32, 8);
    r->status = p[40];
    r->withdrawal = p[41];
    memcpy (r->superseded_by, p + 42, 32);
    r->withdrawn = p[74];
    return RCN_OK;
}

static int
rec_put (const rcn_view_t *v, const uint8_t hash[32], const rec_t *r)
{
    uint8_t buf[REC_SIZE];
    rec_pack (r, buf);
    MDB_val k = { 32, (void *) hash }, val = { REC_SIZE, buf };
    return mdb_put (v->txn, v->dbi[DB_NOTICE], &k, &val, 0) ? RCN_EDB : RCN_OK;
}

static bool
superseded (const rec_t *r)
{
    return memcmp (r->superseded_by, s_zero, 32) != 0;
}

/* One ack as the view holds it. */
typedef struct {
    uint8_t acker[32];
    uint64_t seq;
    uint8_t hash[32];
    uint64_t time_ms;
    uint32_t redirect;
    uint8_t answer;                /* CaseAck.Status */
    uint8_t status;                /* the entry's */
    uint32_t region;               /* the acker's (roster), 0 when unknown */
    const char *ignored;           /* why the view does not count it; NULL when it counts */
} ack_t;

/* Calls fn for every key of db beginning with prefix[0..plen); stops on non-zero. */
typedef int (*scan_fn) (const MDB_val *k, const MDB_val *v, void *ctx);

static int
scan_prefix (const rcn_view_t *v, int db, const uint8_t *prefix, size_t plen, scan_fn fn,
             void *ctx)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (v->txn, v->dbi[db], &cur) != 0)
        return RCN_EDB;
    MDB_val k = { plen, (void *) prefix }, val;
    int rc = RCN_OK, mrc;
    for (mrc = mdb_cursor_get (cur, &k, &val, plen ? MDB_SET_RANGE : MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get (cur, &k, &val, MDB_NEXT)) {
        if (k.mv_size < plen || (plen && memcmp (k.mv_data, prefix, plen) != 0))
            break;
        if ((rc = fn (&k, &val, ctx)) != RCN_OK)
            break;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        rc = RCN_EDB;
    mdb_cursor_close (cur);
    return rc;
}

typedef struct {
    ack_t *a;
    size_t n, cap;
} acks_t;

static int
ack_collect (const MDB_val *k, const MDB_val *val, void *ctx)
{
    acks_t *l = ctx;
    if (k->mv_size != ACK_KEY || val->mv_size != ACK_VAL)
        return RCN_EDB;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        ack_t *a = realloc (l->a, cap * sizeof *a);
        if (!a)
            return RCN_ENOMEM;
        l->a = a;
        l->cap = cap;
    }
    ack_t *a = &l->a[l->n++];
    memset (a, 0, sizeof *a);
    const uint8_t *kp = k->mv_data, *p = val->mv_data;
    memcpy (a->acker, kp + 32, 32);
    a->seq = rcn_be_get (kp + 64, 8);
    a->answer = p[0];
    a->status = p[1];
    a->redirect = (uint32_t) rcn_be_get (p + 2, 4);
    a->time_ms = rcn_be_get (p + 6, 8);
    memcpy (a->hash, p + 14, 32);
    return RCN_OK;
}

/* Every ack the view holds for notice (or, with acker, that acker's), in key order. */
static int
acks_load (const rcn_view_t *v, const uint8_t notice[32], const uint8_t *acker, acks_t *out)
{
    uint8_t prefix[64];
    memcpy (prefix, notice, 32);
    if (acker)
        memcpy (prefix + 32, acker, 32);
    memset (out, 0, sizeof *out);
    int rc = scan_prefix (v, DB_ACK, prefix, acker ? 64 : 32, ack_collect, out);
    if (rc != RCN_OK) {
        free (out->a);
        memset (out, 0, sizeof *out);
    }
    return rc;
}

static int
found_any (const MDB_val *k, const MDB_val *v, void *ctx)
{
    (void) k;
    (void) v;
    *(bool *) ctx = true;
    return 1;                      /* stop */
}

/* ---- checks shared by apply and author ------------------------------------------------------- */

static int
check_case_id (const char *id, char *why, size_t whylen)
{
    size_t len = id ? strlen (id) : 0;
    if (len == 0 || len > CASE_ID_MAX || strspn (id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                                "qrstuvwxyz0123456789-_.:/") != len) {
        rcn_errf (why, whylen, "case: case_id must be 1..%d characters of A-Z a-z 0-9 - _ . : /",
                  CASE_ID_MAX);
        return RCN_EBODY;
    }
    return RCN_OK;
}

static bool
text_ok (const char *s, size_t max, bool newline)
{
    size_t len = s ? strlen (s) : 0;
    return len <= max && rcn_utf8_text_ok (s ? s : "", len, newline);
}

/* A notice's own fields; time_ms is the entry's signed time (apply) or now (author). */
static int
check_notice (const Rcn__CaseNotice *n, uint64_t time_ms, char *why, size_t whylen)
{
    char w[256];
    if (check_case_id (n->case_id, why, whylen) != RCN_OK)
        return RCN_EBODY;
    if ((int) n->classification < 1 || n->classification > 6) {
        rcn_errf (why, whylen, "case: classification must be confirmed, suspected, asymptomatic, "
                  "close_contact, secondary_contact or cleared");
        return RCN_EBODY;
    }
    if (n->n_to == 0 || n->n_to > TO_MAX) {
        rcn_errf (why, whylen, "case: to: 1..%d addressee regions", TO_MAX);
        return RCN_EBODY;
    }
    for (size_t i = 0; i < n->n_to; i++) {
        if (rcn_region_check (n->to[i], w, sizeof w) != RCN_OK) {
            rcn_errf (why, whylen, "case: to[%zu]: %s", i, w);
            return RCN_EBODY;
        }
        if (i > 0 && n->to[i] <= n->to[i - 1]) {
            rcn_errf (why, whylen, "case: to: codes must be ascending, each once");
            return RCN_EBODY;
        }
    }
    if (rcn_region_check (n->residence, w, sizeof w) != RCN_OK) {
        rcn_errf (why, whylen, "case: residence: %s", w);
        return RCN_EBODY;
    }
    if (n->reported_at_ms == 0) {
        rcn_errf (why, whylen, "case: reported_at is missing");
        return RCN_EBODY;
    }
    if (n->reported_at_ms > time_ms + SKEW_MS || n->onset_ms > time_ms + SKEW_MS) {
        rcn_errf (why, whylen, "case: %s is in the future (after the notice's own time)",
                  n->reported_at_ms > time_ms + SKEW_MS ? "reported_at" : "onset");
        return RCN_EBODY;
    }
    if (n->supersedes.len != 0 && n->supersedes.len != 32) {
        rcn_errf (why, whylen, "case: supersedes must be a 32-byte notice hash");
        return RCN_EBODY;
    }
    if (n->withdrawn && n->supersedes.len == 0) {
        rcn_errf (why, whylen, "case: a withdrawal must name the notice it withdraws (supersedes)");
        return RCN_EBODY;
    }
    if (n->withdrawn && n->personal) {
        rcn_errf (why, whylen, "case: a withdrawal carries no personal details");
        return RCN_EBODY;
    }
    if (!n->withdrawn && rcn_seal_check (n->personal, w, sizeof w) != RCN_OK) {
        rcn_errf (why, whylen, "case: personal: %s", w);
        return RCN_EBODY;
    }
    return RCN_OK;
}

static int
check_ack (const Rcn__CaseAck *a, char *why, size_t whylen)
{
    char w[256];
    if (a->notice.len != 32) {
        rcn_errf (why, whylen, "case ack: notice must be a 32-byte notice hash");
        return RCN_EBODY;
    }
    if ((int) a->status < 1 || a->status > 3) {
        rcn_errf (why, whylen, "case ack: status must be received, taken_over or not_ours");
        return RCN_EBODY;
    }
    bool not_ours = a->status == RCN__CASE_ACK__STATUS__NOT_OURS;
    if (!not_ours && (a->redirect || a->n_rewrap)) {
        rcn_errf (why, whylen, "case ack: only not_ours takes a redirect");
        return RCN_EBODY;
    }
    if (not_ours) {
        if (rcn_region_check (a->redirect, w, sizeof w) != RCN_OK) {
            rcn_errf (why, whylen, "case ack: redirect: %s", w);
            return RCN_EBODY;
        }
        if (a->n_rewrap == 0 || a->n_rewrap > 64) {
            rcn_errf (why, whylen, "case ack: not_ours needs 1..64 rewraps for the redirect region");
            return RCN_EBODY;
        }
        for (size_t i = 0; i < a->n_rewrap; i++)
            if (rcn_seal_check_wrap (a->rewrap[i], w, sizeof w) != RCN_OK) {
                rcn_errf (why, whylen, "case ack: rewrap[%zu]: %s", i, w);
                return RCN_EBODY;
            }
    }
    if (!text_ok (a->note, NOTE_MAX, true)) {
        rcn_errf (why, whylen, "case ack: note must be UTF-8 without control characters, at most "
                  "%d bytes", NOTE_MAX);
        return RCN_EBODY;
    }
    return RCN_OK;
}

/* ---- apply ------------------------------------------------------------------------------------- */

static void
id_key (const uint8_t origin[32], const char *case_id, const uint8_t *hash, uint8_t *out,
        size_t *len)
{
    size_t n = strlen (case_id);
    memcpy (out, origin, 32);
    memcpy (out + 32, case_id, n);
    out[32 + n] = 0;
    *len = 33 + n;
    if (hash) {
        memcpy (out + *len, hash, 32);
        *len += 32;
    }
}

static int
put_empty (const rcn_view_t *v, int db, const uint8_t *key, size_t len)
{
    MDB_val k = { len, (void *) key }, val = { 0, (void *) "" };
    return mdb_put (v->txn, v->dbi[db], &k, &val, 0) ? RCN_EDB : RCN_OK;
}

static int
put_to (const rcn_view_t *v, uint32_t region, const uint8_t notice[32])
{
    uint8_t k[36];
    rcn_be_put (k, region, 4);
    memcpy (k + 4, notice, 32);
    return put_empty (v, DB_TO, k, sizeof k);
}

/* The notice entry with this hash, unpacked; RCN_ENOTFOUND when not held. */
static int
notice_load (const rcn_view_t *v, const uint8_t hash[32], rcn_entry_t **e, Rcn__CaseNotice **n)
{
    *n = NULL;
    int rc = rcn_view_get_by_hash (v, hash, e);
    if (rc != RCN_OK)
        return rc;
    if ((*e)->h.kind != RCN__KIND__KIND_CASE_NOTICE
        || !(*n = rcn__case_notice__unpack (NULL, (*e)->h.body_len, (*e)->h.body))) {
        rcn_entry_destroy (e);
        return RCN_ENOTFOUND;
    }
    return RCN_OK;
}

static int
apply_notice (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__CaseNotice *n = rcn__case_notice__unpack (NULL, e->h.body_len, e->h.body), *old = NULL;
    rcn_entry_t *olde = NULL;
    if (!n) {
        rcn_errf (why, whylen, "case: body is not a CaseNotice message");
        return RCN_EBODY;
    }
    rec_t sup = { 0 };
    int rc = rcn_kind_canonical (&n->base, e->h.body, e->h.body_len);
    if (rc == RCN_EBODY)
        rcn_errf (why, whylen, "case: body is not in canonical form (unknown fields, a NUL inside "
                  "a string, or a non-minimal encoding)");
    if (rc == RCN_OK)
        rc = check_notice (n, e->h.time_ms, why, whylen);
    if (rc != RCN_OK)
        goto done;
    /* A correction names an earlier notice of its own origin, which its chain holds below it:
     * "not held" and "another origin's" are one fault, whatever the arrival order. */
    if (n->supersedes.len == 32) {
        rc = rec_get (v, n->supersedes.data, &sup);
        if (rc == RCN_ENOTFOUND || (rc == RCN_OK && memcmp (sup.origin, e->h.origin, 32) != 0)) {
            rcn_errf (why, whylen, "case: supersedes names no earlier notice of the same region");
            rc = RCN_EBODY;
        }
        else if (rc == RCN_OK && superseded (&sup)) {
            rcn_errf (why, whylen, "case: the notice it supersedes is already %s by %.16s…",
                      sup.withdrawn ? "withdrawn" : "superseded", HX (sup.superseded_by));
            rc = RCN_EBODY;
        }
        else if (rc == RCN_OK && sup.status != e->h.status) {
            rcn_errf (why, whylen, "case: an entry of another status (actual/exercise/test) "
                      "cannot correct this notice");
            rc = RCN_EBODY;
        }
        else if (rc == RCN_OK && (rc = notice_load (v, n->supersedes.data, &olde, &old)) == RCN_OK
                 && strcmp (old->case_id, n->case_id) != 0) {
            rcn_errf (why, whylen, "case: a correction keeps the case id (\"%s\")", old->case_id);
            rc = RCN_EBODY;
        }
        if (rc == RCN_ENOTFOUND)
            rc = RCN_EDB;          /* recorded in the view but not in the log */
    }
    else {
        uint8_t k[32 + CASE_ID_MAX + 1];
        size_t klen;
        bool used = false;
        id_key (e->h.origin, n->case_id, NULL, k, &klen);
        rc = scan_prefix (v, DB_ID, k, klen, found_any, &used);
        if (rc == 1)
            rc = RCN_OK;
        if (rc == RCN_OK && used) {
            rcn_errf (why, whylen, "case: case_id \"%s\" is already used by this region; a "
                      "correction must supersede the current notice", n->case_id);
            rc = RCN_EBODY;
        }
    }
    if (rc != RCN_OK)
        goto done;
    /* Judged: write. */
    rec_t rec = { .time_ms = e->h.time_ms, .status = (uint8_t) e->h.status,
                  .withdrawal = n->withdrawn ? 1 : 0 };
    memcpy (rec.origin, e->h.origin, 32);
    uint8_t k[32 + CASE_ID_MAX + 1 + 32];
    size_t klen;
    id_key (e->h.origin, n->case_id, e->hash, k, &klen);
    rc = rec_put (v, e->hash, &rec);
    if (rc == RCN_OK)
        rc = put_empty (v, DB_ID, k, klen);
    for (size_t i = 0; rc == RCN_OK && i < n->n_to; i++)
        rc = put_to (v, n->to[i], e->hash);
    if (rc == RCN_OK && n->supersedes.len == 32) {
        memcpy (sup.superseded_by, e->hash, 32);
        sup.withdrawn = n->withdrawn ? 1 : 0;
        rc = rec_put (v, n->supersedes.data, &sup);
    }
done:
    if (old)
        rcn__case_notice__free_unpacked (old, NULL);
    rcn_entry_destroy (&olde);
    rcn__case_notice__free_unpacked (n, NULL);
    return rc;
}

static int
apply_ack (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    Rcn__CaseAck *a = rcn__case_ack__unpack (NULL, e->h.body_len, e->h.body);
    if (!a) {
        rcn_errf (why, whylen, "case ack: body is not a CaseAck message");
        return RCN_EBODY;
    }
    acks_t mine = { 0 };
    int rc = rcn_kind_canonical (&a->base, e->h.body, e->h.body_len);
    if (rc == RCN_EBODY)
        rcn_errf (why, whylen, "case ack: body is not in canonical form (unknown fields, a NUL "
                  "inside the note, or a non-minimal encoding)");
    if (rc == RCN_OK)
        rc = check_ack (a, why, whylen);
    if (rc != RCN_OK)
        goto done;
    /* What this origin's own chain shows: an ack of its own notice (which its chain holds
     * below the ack, so this verdict needs no other origin), a second receipt or answer. */
    rec_t rec;
    rc = rec_get (v, a->notice.data, &rec);
    if (rc == RCN_OK && memcmp (rec.origin, e->h.origin, 32) == 0) {
        rcn_errf (why, whylen, "case ack: a region does not acknowledge its own notice");
        rc = RCN_EBODY;
        goto done;
    }
    if (rc != RCN_OK && rc != RCN_ENOTFOUND)
        goto done;
    if ((rc = acks_load (v, a->notice.data, e->h.origin, &mine)) != RCN_OK)
        goto done;
    bool received = a->status == RCN__CASE_ACK__STATUS__RECEIVED;
    for (size_t i = 0; i < mine.n; i++) {
        if (received) {
            rcn_errf (why, whylen, "case ack: this region already acknowledged the notice");
            rc = RCN_EBODY;
            goto done;
        }
        if (mine.a[i].answer != RCN__CASE_ACK__STATUS__RECEIVED) {
            rcn_errf (why, whylen, "case ack: this region already answered the notice (%s)",
                      s_answer[mine.a[i].answer]);
            rc = RCN_EBODY;
            goto done;
        }
    }
    /* Judged: write. */
    uint8_t k[ACK_KEY], val[ACK_VAL];
    memcpy (k, a->notice.data, 32);
    memcpy (k + 32, e->h.origin, 32);
    rcn_be_put (k + 64, e->h.seq, 8);
    val[0] = (uint8_t) a->status;
    val[1] = (uint8_t) e->h.status;
    rcn_be_put (val + 2, a->redirect, 4);
    rcn_be_put (val + 6, e->h.time_ms, 8);
    memcpy (val + 14, e->hash, 32);
    MDB_val mk = { ACK_KEY, k }, mv = { ACK_VAL, val };
    rc = mdb_put (v->txn, v->dbi[DB_ACK], &mk, &mv, 0) ? RCN_EDB : RCN_OK;
    if (rc == RCN_OK && a->redirect)
        rc = put_to (v, a->redirect, a->notice.data);
done:
    free (mine.a);
    rcn__case_ack__free_unpacked (a, NULL);
    return rc;
}

static int
case_apply (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen)
{
    if (e->h.kind == RCN__KIND__KIND_CASE_NOTICE)
        return apply_notice (v, e, why, whylen);
    return apply_ack (v, e, why, whylen);
}

/* ---- resolve: who the notice is addressed to, and where each stands -------------------------- */

typedef struct {
    uint32_t region;
    bool in_to;                    /* addressed by the notice itself (else by a redirect) */
    uint64_t since_ms;             /* the notice's time, or the earliest redirect's */
    const ack_t *via;              /* that redirect */
    const ack_t *received, *response;
} addr_t;

typedef struct {
    uint8_t hash[32];
    rec_t rec;
    rcn_entry_t *e;
    Rcn__CaseNotice *n;
    uint32_t origin_region;
    acks_t acks;
    addr_t addr[RCN_MAX_MEMBERS];
    size_t n_addr;
} res_t;

static void
res_free (res_t *r)
{
    if (r->n)
        rcn__case_notice__free_unpacked (r->n, NULL);
    rcn_entry_destroy (&r->e);
    free (r->acks.a);
    memset (r, 0, sizeof *r);
}

static addr_t *
addr_find (res_t *r, uint32_t region)
{
    for (size_t i = 0; i < r->n_addr; i++)
        if (r->addr[i].region == region)
            return &r->addr[i];
    return NULL;
}

static bool
ack_before (const ack_t *a, const ack_t *b)
{
    return a->time_ms != b->time_ms ? a->time_ms < b->time_ms : memcmp (a->hash, b->hash, 32) < 0;
}

static int
by_region (const void *pa, const void *pb)
{
    const addr_t *a = pa, *b = pb;
    return a->region < b->region ? -1 : a->region > b->region;
}

/* Loads notice `hash` with its acks and works out its addressees: those of `to` that are
 * members other than the origin, then, to a fixed point, the targets of the valid redirects
 * of addressees. The result depends only on the set of entries and the roster. */
static int
resolve (const rcn_view_t *v, const rcn_roster_t *roster, const uint8_t hash[32], res_t *r)
{
    memset (r, 0, sizeof *r);
    memcpy (r->hash, hash, 32);
    int rc = rec_get (v, hash, &r->rec);
    if (rc == RCN_OK)
        rc = notice_load (v, hash, &r->e, &r->n);
    if (rc == RCN_ENOTFOUND && r->rec.time_ms)
        rc = RCN_EDB;
    if (rc == RCN_OK)
        rc = acks_load (v, hash, NULL, &r->acks);
    if (rc != RCN_OK) {
        res_free (r);
        return rc;
    }
    const rcn_member_t *om = rcn_roster_by_origin (roster, r->rec.origin);
    r->origin_region = om ? om->region : 0;
    for (size_t i = 0; i < r->n->n_to; i++) {
        uint32_t t = r->n->to[i];
        if (t != r->origin_region && rcn_roster_by_region (roster, t) && r->n_addr < RCN_MAX_MEMBERS)
            r->addr[r->n_addr++] = (addr_t) { .region = t, .in_to = true, .since_ms = r->rec.time_ms };
    }
    for (size_t i = 0; i < r->acks.n; i++) {
        ack_t *a = &r->acks.a[i];
        const rcn_member_t *m = rcn_roster_by_origin (roster, a->acker);
        a->region = m ? m->region : 0;
        if (!m)
            a->ignored = "not from a member";
        else if (a->status != r->rec.status)
            a->ignored = "its status (actual/exercise/test) differs from the notice's";
    }
    /* Each addressee is looked at once, after it joined: every valid redirect of the final
     * set is seen, so the set and each one's `since` (the earliest redirect) are the same
     * whatever order the loop meets them in. */
    for (size_t j = 0; j < r->n_addr; j++) {
        addr_t *d = &r->addr[j];
        for (size_t i = 0; i < r->acks.n; i++) {
            ack_t *a = &r->acks.a[i];
            if (a->ignored || a->region != d->region)
                continue;
            if (a->answer == RCN__CASE_ACK__STATUS__RECEIVED) {
                if (!d->received)
                    d->received = a;
                continue;
            }
            if (d->response)
                continue;
            if (a->answer == RCN__CASE_ACK__STATUS__NOT_OURS) {
                if (!rcn_roster_by_region (roster, a->redirect)) {
                    a->ignored = "redirect to a region that is no member";
                    continue;
                }
                if (a->redirect == r->origin_region || a->redirect == d->region) {
                    a->ignored = a->redirect == d->region ? "redirect to itself"
                                                          : "redirect to the notifying region";
                    continue;
                }
            }
            d->response = a;
            if (a->answer != RCN__CASE_ACK__STATUS__NOT_OURS)
                continue;
            addr_t *t = addr_find (r, a->redirect);
            if (!t && r->n_addr < RCN_MAX_MEMBERS) {
                r->addr[r->n_addr++] = (addr_t) { .region = a->redirect, .since_ms = a->time_ms,
                                                  .via = a };
                d = &r->addr[j];
            }
            else if (t && !t->in_to && ack_before (a, t->via)) {
                t->since_ms = a->time_ms;
                t->via = a;
            }
        }
    }
    for (size_t i = 0; i < r->acks.n; i++) {
        ack_t *a = &r->acks.a[i];
        if (a->ignored)
            continue;
        addr_t *d = addr_find (r, a->region);
        if (!d)
            a->ignored = "not from an addressee";
        else if (a != d->received && a != d->response)
            a->ignored = "a second receipt or answer";
    }
    qsort (r->addr, r->n_addr, sizeof r->addr[0], by_region);
    return RCN_OK;
}

static bool
addressed (const res_t *r, uint32_t region)
{
    for (size_t i = 0; i < r->n_addr; i++)
        if (r->addr[i].region == region)
            return true;
    return false;
}

static bool
live (const res_t *r)
{
    return !superseded (&r->rec) && !r->rec.withdrawal;
}

static bool
owes (const res_t *r, const addr_t *d)
{
    return live (r) && !d->response;
}

/* The rewraps of the counted redirects, for opening and re-wrapping. Unpacked acks go into
 * *acks (free each with rcn__case_ack__free_unpacked), pointers into them into *wraps. */
static int
redirect_wraps (const rcn_view_t *v, const res_t *r, Rcn__CaseAck ***acks, size_t *n_acks,
                Rcn__Wrap ***wraps, size_t *n_wraps)
{
    *acks = calloc (r->n_addr + 1, sizeof **acks);
    *n_acks = *n_wraps = 0;
    *wraps = NULL;
    if (!*acks)
        return RCN_ENOMEM;
    size_t total = 0;
    for (size_t i = 0; i < r->n_addr; i++) {
        const ack_t *a = r->addr[i].response;
        if (!a || a->answer != RCN__CASE_ACK__STATUS__NOT_OURS)
            continue;
        rcn_entry_t *e = NULL;
        if (rcn_view_get_by_hash (v, a->hash, &e) != RCN_OK)
            return RCN_EDB;
        Rcn__CaseAck *u = rcn__case_ack__unpack (NULL, e->h.body_len, e->h.body);
        rcn_entry_destroy (&e);
        if (!u)
            return RCN_EDB;
        (*acks)[(*n_acks)++] = u;
        total += u->n_rewrap;
    }
    *wraps = calloc (total + 1, sizeof **wraps);
    if (!*wraps)
        return RCN_ENOMEM;
    for (size_t i = 0; i < *n_acks; i++)
        for (size_t j = 0; j < (*acks)[i]->n_rewrap; j++)
            (*wraps)[(*n_wraps)++] = (*acks)[i]->rewrap[j];
    return RCN_OK;
}

static void
redirect_wraps_free (Rcn__CaseAck **acks, size_t n_acks, Rcn__Wrap **wraps)
{
    for (size_t i = 0; acks && i < n_acks; i++)
        rcn__case_ack__free_unpacked (acks[i], NULL);
    free (acks);
    free (wraps);
}

/* Opens what r's notice sealed, with this member's secrets, into sodium memory. */
static int
open_personal (const rcn_view_t *v, const rcn_kind_env_t *env, const res_t *r, uint8_t **plain,
               size_t *len)
{
    Rcn__CaseAck **acks = NULL;
    Rcn__Wrap **wraps = NULL;
    size_t n_acks = 0, n_wraps = 0;
    int rc = redirect_wraps (v, r, &acks, &n_acks, &wraps, &n_wraps);
    if (rc == RCN_OK)
        rc = rcn_seal_open (env->seal, r->n->personal, wraps, n_wraps, plain, len);
    redirect_wraps_free (acks, n_acks, wraps);
    return rc;
}

/* ---- author ------------------------------------------------------------------------------------ */

static int
status_of_req (const json_t *req)
{
    const json_t *s = json_object_get (req, "status");
    if (json_is_integer (s))
        return (int) json_integer_value (s);
    if (json_is_string (s))
        return rcn_status_parse (json_string_value (s));
    return RCN_STATUS_ACTUAL;
}

static int
classification_parse (const char *s)
{
    for (int i = 1; i <= 6; i++)
        if (s && strcmp (s, s_class[i]) == 0)
            return i;
    return -1;
}

static int
cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

/* A time field: "NAME_ms" (Unix ms) or "NAME" (text rcn_time_parse reads). *given = false when
 * neither is there. */
static int
time_field (const json_t *b, const char *name, uint64_t now_ms, uint64_t *out, bool *given,
            char *why, size_t whylen)
{
    char key[64];
    snprintf (key, sizeof key, "%s_ms", name);
    const json_t *ms = json_object_get (b, key), *txt = json_object_get (b, name);
    *given = ms || txt;
    if (ms) {
        if (!json_is_integer (ms) || json_integer_value (ms) < 0) {
            rcn_errf (why, whylen, "case notify: %s: must be Unix milliseconds", key);
            return RCN_EINVAL;
        }
        *out = (uint64_t) json_integer_value (ms);
    }
    else if (txt) {
        char w[256];
        if (!json_is_string (txt)
            || rcn_time_parse (json_string_value (txt), now_ms, out, w, sizeof w) != RCN_OK) {
            rcn_errf (why, whylen, "case notify: %s: %s", name, json_is_string (txt) ? w
                      : "must be an RFC 3339 time with a zone");
            return RCN_EINVAL;
        }
    }
    return RCN_OK;
}

/* Checks the personal details (never naming a value: they are personal) and returns them as
 * one canonical JSON text in sodium memory. */
static int
personal_text (const json_t *p, uint8_t **out, size_t *len, char *why, size_t whylen)
{
    const char *key;
    const json_t *val;
    json_object_foreach ((json_t *) p, key, val) {
        bool known = false;
        for (size_t i = 0; s_personal_keys[i] && !known; i++)
            known = strcmp (key, s_personal_keys[i]) == 0;
        if (!known) {
            rcn_errf (why, whylen, "case notify: personal: unknown field \"%.40s\" (name, "
                      "id_number, phone, address, notes)", key);
            return RCN_EINVAL;
        }
        if (!json_is_string (val)) {
            rcn_errf (why, whylen, "case notify: personal.%s: must be a string", key);
            return RCN_EINVAL;
        }
    }
    const char *name = json_string_value (json_object_get (p, "name"));
    const char *id = json_string_value (json_object_get (p, "id_number"));
    const char *phone = json_string_value (json_object_get (p, "phone"));
    const char *addr = json_string_value (json_object_get (p, "address"));
    const char *notes = json_string_value (json_object_get (p, "notes"));
    char w[256];
    if (!name || !*name || !text_ok (name, NAME_MAX_B, false)) {
        rcn_errf (why, whylen, "case notify: personal.name: %s", !name || !*name ? "required"
                  : "must be UTF-8 text on one line, at most 128 bytes");
        return RCN_EINVAL;
    }
    if (id && rcn_id_number_check (id, w, sizeof w) != RCN_OK) {
        rcn_errf (why, whylen, "case notify: personal.id_number: %s", w);
        return RCN_EINVAL;
    }
    if (phone && (strlen (phone) == 0 || strlen (phone) > PHONE_MAX
                  || strspn (phone, "0123456789+-() ") != strlen (phone))) {
        rcn_errf (why, whylen, "case notify: personal.phone: digits, spaces and + - ( ), at most %d",
                  PHONE_MAX);
        return RCN_EINVAL;
    }
    if (addr && !text_ok (addr, ADDRESS_MAX, false)) {
        rcn_errf (why, whylen, "case notify: personal.address: UTF-8 text on one line, at most %d "
                  "bytes", ADDRESS_MAX);
        return RCN_EINVAL;
    }
    if (notes && !text_ok (notes, NOTES_MAX, true)) {
        rcn_errf (why, whylen, "case notify: personal.notes: UTF-8 text, at most %d bytes",
                  NOTES_MAX);
        return RCN_EINVAL;
    }
    size_t n = json_dumpb (p, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
    if (n == 0 || n > RCN_SEAL_PLAIN_MAX) {
        rcn_errf (why, whylen, "case notify: personal details: at most %d bytes", RCN_SEAL_PLAIN_MAX);
        return RCN_EINVAL;
    }
    uint8_t *buf = sodium_malloc (n);
    if (!buf)
        return RCN_ENOMEM;
    if (json_dumpb (p, (char *) buf, n, JSON_COMPACT | JSON_SORT_KEYS) != n) {
        sodium_free (buf);
        return RCN_ENOMEM;
    }
    *out = buf;
    *len = n;
    return RCN_OK;
}

/* Whether notice `h` (same origin and case id) already says exactly this: the clear fields,
 * the status, and the sealed details once opened (the sealing randomness aside). */
static bool
same_notice (const rcn_view_t *v, const rcn_kind_env_t *env, const uint8_t h[32],
             const Rcn__CaseNotice *want, uint32_t status, const uint8_t *plain, size_t len)
{
    res_t r;
    if (resolve (v, env->roster, h, &r) != RCN_OK)
        return false;
    const Rcn__CaseNotice *n = r.n;
    bool same = r.rec.status == status && n->classification == want->classification
             && n->n_to == want->n_to && n->n_to && !memcmp (n->to, want->to, n->n_to * sizeof *n->to)
             && n->residence == want->residence && n->reported_at_ms == want->reported_at_ms
             && n->onset_ms == want->onset_ms && n->withdrawn == want->withdrawn
             && n->supersedes.len == want->supersedes.len
             && (!n->supersedes.len
                 || !memcmp (n->supersedes.data, want->supersedes.data, n->supersedes.len))
             && !n->personal == !plain;
    if (same && plain) {
        uint8_t *old = NULL;
        size_t olen = 0;
        same = env->seal && open_personal (v, env, &r, &old, &olen) == RCN_OK && olen == len
            && sodium_memcmp (old, plain, len) == 0;
        rcn_seal_plain_free (old, olen);
    }
    res_free (&r);
    return same;
}

typedef struct {
    uint8_t (*hashes)[32];
    size_t n;
} hashes_t;

static int
hash_collect (const MDB_val *k, const MDB_val *v, void *ctx)
{
    (void) v;
    hashes_t *h = ctx;
    void *p = realloc (h->hashes, (h->n + 1) * 32);
    if (!p)
        return RCN_ENOMEM;
    h->hashes = p;
    memcpy (h->hashes[h->n++], (const uint8_t *) k->mv_data + k->mv_size - 32, 32);
    return RCN_OK;
}

static int
author_notify (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req, uint64_t now_ms,
               uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    const json_t *b = json_object_get (req, "body");
    Rcn__CaseNotice nt = RCN__CASE_NOTICE__INIT;
    res_t old = { 0 };
    json_t *personal = NULL;
    uint8_t *plain = NULL, sup[32];
    size_t plen = 0;
    hashes_t thread = { 0 };
    Rcn__Sealed *sealed = NULL;
    uint32_t to[TO_MAX];
    int status = status_of_req (req), rc = RCN_EINVAL;
    char w[512];
    bool has_old = false;

    const char *sup_hex = json_string_value (json_object_get (b, "supersedes"));
    bool withdraw = json_is_true (json_object_get (b, "withdraw"));
    if (json_object_get (b, "supersedes") && (!sup_hex || rcn_unhex (sup_hex, sup, 32) != RCN_OK)) {
        rcn_errf (why, whylen, "case notify: supersedes: must be a 64-hex-digit notice hash");
        goto fail;
    }
    if (withdraw && !sup_hex) {
        rcn_errf (why, whylen, "case notify: --withdraw needs --supersedes HASH (the notice "
                  "withdrawn)");
        goto fail;
    }
    if (sup_hex) {
        rc = resolve (v, env->roster, sup, &old);
        if (rc == RCN_ENOTFOUND) {
            rcn_errf (why, whylen, "case notify: supersedes: this log holds no notice %.16s…", sup_hex);
            rc = RCN_EINVAL;
        }
        if (rc != RCN_OK)
            goto fail;
        has_old = true;
        rc = RCN_EINVAL;
        if (memcmp (old.rec.origin, env->origin, 32) != 0) {
            rcn_errf (why, whylen, "case notify: only the region that notified a case may correct "
                      "or withdraw it");
            goto fail;
        }
        if (old.rec.status != (uint32_t) status) {
            rcn_errf (why, whylen, "case notify: the notice superseded is %s traffic: a correction "
                      "must have the same --status", rcn_status_name (old.rec.status));
            goto fail;
        }
        if (old.rec.withdrawal) {
            rcn_errf (why, whylen, "case notify: %.16s… is a withdrawal; it cannot be superseded",
                      sup_hex);
            goto fail;
        }
        nt.supersedes.data = sup;
        nt.supersedes.len = 32;
        nt.withdrawn = withdraw;
    }
    /* Clear fields: given, or (a correction) carried over from the notice superseded. */
    const json_t *idj = json_object_get (b, "case_id");
    if (idj && !json_is_string (idj)) {
        rcn_errf (why, whylen, "case notify: case_id: must be a string");
        goto fail;
    }
    nt.case_id = idj ? (char *) json_string_value (idj) : has_old ? old.n->case_id : NULL;
    if (!nt.case_id) {
        rcn_errf (why, whylen, "case notify: case_id is required");
        goto fail;
    }
    if (check_case_id (nt.case_id, why, whylen) != RCN_OK)
        goto fail;
    if (has_old && strcmp (nt.case_id, old.n->case_id) != 0) {
        rcn_errf (why, whylen, "case notify: a correction keeps the case id (\"%s\")", old.n->case_id);
        goto fail;
    }
    const json_t *cj = json_object_get (b, "classification");
    if (cj) {
        int c = classification_parse (json_string_value (cj));
        if (c < 0) {
            rcn_errf (why, whylen, "case notify: classification: must be confirmed, suspected, "
                      "asymptomatic, close_contact, secondary_contact or cleared");
            goto fail;
        }
        nt.classification = (Rcn__CaseNotice__Classification) c;
    }
    else if (has_old)
        nt.classification = old.n->classification;
    else {
        rcn_errf (why, whylen, "case notify: classification is required");
        goto fail;
    }
    const json_t *tj = json_object_get (b, "to");
    if (tj) {
        if (!json_is_array (tj) || json_array_size (tj) == 0 || json_array_size (tj) > TO_MAX) {
            rcn_errf (why, whylen, "case notify: to: a list of 1..%d region codes", TO_MAX);
            goto fail;
        }
        size_t i;
        const json_t *it;
        json_array_foreach (tj, i, it) {
            if (!json_is_string (it)
                || rcn_region_parse (json_string_value (it), &to[i], w, sizeof w) != RCN_OK) {
                rcn_errf (why, whylen, "case notify: to[%zu]: %s", i, json_is_string (it) ? w
                          : "must be a string like \"320000\"");
                goto fail;
            }
        }
        nt.n_to = json_array_size (tj);
    }
    else if (has_old) {
        nt.n_to = old.n->n_to;
        memcpy (to, old.n->to, nt.n_to * sizeof *to);
    }
    else {
        rcn_errf (why, whylen, "case notify: to is required (the regions it concerns)");
        goto fail;
    }
    qsort (to, nt.n_to, sizeof *to, cmp_u32);
    nt.to = to;
    for (size_t i = 0; i < nt.n_to; i++) {
        if (i > 0 && to[i] == to[i - 1]) {
            rcn_errf (why, whylen, "case notify: to: %06u listed twice", to[i]);
            goto fail;
        }
        const rcn_member_t *m = rcn_roster_by_region (env->roster, to[i]);
        if (!m) {
            rcn_errf (why, whylen, "case notify: to: %06u is not a member of the alliance", to[i]);
            goto fail;
        }
        if (memcmp (m->sign_key, env->origin, 32) == 0) {
            rcn_errf (why, whylen, "case notify: to: %06u is this region itself", to[i]);
            goto fail;
        }
    }
    const json_t *rj = json_object_get (b, "residence");
    if (rj) {
        if (!json_is_string (rj)
            || rcn_region_parse (json_string_value (rj), &nt.residence, w, sizeof w) != RCN_OK) {
            rcn_errf (why, whylen, "case notify: residence: %s", json_is_string (rj) ? w
                      : "must be a string like \"320583\"");
            goto fail;
        }
    }
    else if (has_old)
        nt.residence = old.n->residence;
    else {
        rcn_errf (why, whylen, "case notify: residence is required (a GB/T 2260 code)");
        goto fail;
    }
    bool given;
    if (time_field (b, "reported_at", now_ms, &nt.reported_at_ms, &given, why, whylen) != RCN_OK)
        goto fail;
    if (!given && has_old)
        nt.reported_at_ms = old.n->reported_at_ms;
    else if (!given) {
        rcn_errf (why, whylen, "case notify: reported_at is required (RFC 3339 with a zone)");
        goto fail;
    }
    if (time_field (b, "onset", now_ms, &nt.onset_ms, &given, why, whylen) != RCN_OK)
        goto fail;
    if (!given && has_old)
        nt.onset_ms = old.n->onset_ms;
    /* Personal details: given, merged over the superseded notice's (opened with our own key). */
    const json_t *pj = json_object_get (b, "personal");
    if (pj && !json_is_object (pj)) {
        rcn_errf (why, whylen, "case notify: personal: must be an object");
        goto fail;
    }
    if (withdraw && pj && json_object_size (pj)) {
        rcn_errf (why, whylen, "case notify: a withdrawal carries no personal details");
        goto fail;
    }
    if (!withdraw) {
        uint8_t *op = NULL;
        size_t olen = 0;
        int orc = RCN_ENOTFOUND;
        if (has_old && old.n->personal && env->seal
            && (orc = open_personal (v, env, &old, &op, &olen)) == RCN_OK) {
            personal = json_loadb ((const char *) op, olen, 0, NULL);
            rcn_seal_plain_free (op, olen);
        }
        if (has_old && !json_is_object (personal) && !json_object_get (pj, "name")) {
            rcn_errf (why, whylen, "case notify: the superseded notice's personal details "
                      "cannot be opened here (%s): give them again (--name …)",
                      !env->seal ? "no sealing keys" : orc != RCN_OK ? rcn_strerror (orc)
                      : "not a JSON object");
            rc = RCN_EINVAL;
            goto fail;
        }
        if (!json_is_object (personal)) {
            json_decref (personal);
            personal = json_object ();
        }
        const char *key;
        const json_t *val;
        json_object_foreach ((json_t *) pj, key, val) {
            if (json_is_string (val) && json_string_length (val) == 0)
                json_object_del (personal, key);       /* "" removes a carried-over field */
            else
                json_object_set (personal, key, (json_t *) val);
        }
        if ((rc = personal_text (personal, &plain, &plen, why, whylen)) != RCN_OK)
            goto fail;
        rc = RCN_EINVAL;
    }
    /* Idempotence (DESIGN §4): the same case id saying the same returns the existing entry. */
    uint8_t prefix[32 + CASE_ID_MAX + 1];
    size_t plen2;
    id_key (env->origin, nt.case_id, NULL, prefix, &plen2);
    if ((rc = scan_prefix (v, DB_ID, prefix, plen2, hash_collect, &thread)) != RCN_OK)
        goto fail;
    for (size_t i = 0; i < thread.n; i++)
        if (same_notice (v, env, thread.hashes[i], &nt, (uint32_t) status, plain, plen)) {
            rcn_hex (thread.hashes[i], 32, w);
            rcn_errf (why, whylen, "%s", w);
            rc = RCN_EDUP;
            goto fail;
        }
    rc = RCN_EINVAL;
    if (has_old && superseded (&old.rec)) {
        rcn_errf (why, whylen, "case notify: %.16s… is already %s by %s: correct that one",
                  sup_hex, old.rec.withdrawn ? "withdrawn" : "superseded", HX (old.rec.superseded_by));
        goto fail;
    }
    if (!has_old && thread.n > 0) {
        char cur[65] = "";
        for (size_t i = 0; i < thread.n && !cur[0]; i++) {
            rec_t r;
            if (rec_get (v, thread.hashes[i], &r) == RCN_OK && !superseded (&r))
                rcn_hex (thread.hashes[i], 32, cur);
        }
        rcn_errf (why, whylen, "case notify: case_id \"%s\" was already notified with other "
                  "content (%s): to correct it, give --supersedes %s", nt.case_id,
                  cur[0] ? cur : "withdrawn", cur[0] ? cur : "HASH");
        goto fail;
    }
    /* Sealed to every addressee's key for now and to our own. */
    if (!withdraw) {
        rcn_seal_reader_t readers[TO_MAX + 1];
        size_t nr = 0;
        rc = rcn_sealkey_readers (v, env->roster, env->origin, to, nt.n_to, now_ms, readers, &nr,
                                  w, sizeof w);
        if (rc != RCN_OK) {
            rcn_errf (why, whylen, "case notify: cannot seal the personal details: %s", w);
            rc = rc == RCN_ENOTFOUND || rc == RCN_EINVAL ? RCN_EINVAL : rc;
            goto fail;
        }
        if ((rc = rcn_seal_box (plain, plen, readers, nr, &sealed)) != RCN_OK) {
            rcn_errf (why, whylen, "case notify: sealing failed: %s", rcn_strerror (rc));
            goto fail;
        }
        nt.personal = sealed;
    }
    if (check_notice (&nt, now_ms, why, whylen) != RCN_OK) {
        rc = RCN_EINVAL;
        goto fail;
    }
    *body_len = rcn__case_notice__get_packed_size (&nt);
    if (*body_len > RCN_BODY_MAX) {
        rcn_errf (why, whylen, "case notify: the notice is over %d bytes", RCN_BODY_MAX);
        rc = RCN_EINVAL;
        goto fail;
    }
    if (!(*body = malloc (*body_len))) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    rcn__case_notice__pack (&nt, *body);
    rc = RCN_OK;
fail:
    rcn_seal_free (sealed);
    free (thread.hashes);
    if (plain)
        rcn_seal_plain_free (plain, plen);
    json_decref (personal);
    res_free (&old);
    return rc;
}

static int
author_ack (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req, uint64_t now_ms,
            uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    const json_t *b = json_object_get (req, "body");
    Rcn__CaseAck ack = RCN__CASE_ACK__INIT;
    res_t r = { 0 };
    Rcn__CaseAck **racks = NULL;
    Rcn__Wrap **extra = NULL, **wraps = NULL;
    size_t n_racks = 0, n_extra = 0, n_wraps = 0;
    uint8_t h[32];
    int status = status_of_req (req), rc = RCN_EINVAL;
    char w[512];
    const char *hex = json_string_value (json_object_get (b, "notice"));
    if (!hex || rcn_unhex (hex, h, 32) != RCN_OK) {
        rcn_errf (why, whylen, "case ack: notice: must be a 64-hex-digit notice hash");
        return RCN_EINVAL;
    }
    const char *ans = json_string_value (json_object_get (b, "status"));
    for (int i = 1; i <= 3; i++)
        if (ans && strcmp (ans, s_answer[i]) == 0)
            ack.status = (Rcn__CaseAck__Status) i;
    if (!ack.status) {
        rcn_errf (why, whylen, "case ack: status: must be received, taken_over or not_ours");
        return RCN_EINVAL;
    }
    rc = resolve (v, env->roster, h, &r);
    if (rc == RCN_ENOTFOUND) {
        rcn_errf (why, whylen, "case ack: this log holds no notice %.16s…", hex);
        return RCN_EINVAL;
    }
    if (rc != RCN_OK)
        return rc;
    rc = RCN_EINVAL;
    if (memcmp (r.rec.origin, env->origin, 32) == 0) {
        rcn_errf (why, whylen, "case ack: a region does not answer its own notice");
        goto fail;
    }
    if (r.rec.status != (uint32_t) status) {
        rcn_errf (why, whylen, "case ack: the notice is %s traffic: answer it with --status %s",
                  rcn_status_name (r.rec.status), rcn_status_name (r.rec.status));
        goto fail;
    }
    if (!addressed (&r, env->region)) {
        rcn_errf (why, whylen, "case ack: the notice is not addressed to %06u", env->region);
        goto fail;
    }
    acks_t mine;
    if ((rc = acks_load (v, h, env->origin, &mine)) != RCN_OK)
        goto fail;
    rc = RCN_EINVAL;
    const char *done = NULL;
    for (size_t i = 0; i < mine.n; i++)
        if (ack.status == RCN__CASE_ACK__STATUS__RECEIVED || mine.a[i].answer != 1)
            done = s_answer[mine.a[i].answer];
    free (mine.a);
    if (done) {
        rcn_errf (why, whylen, "case ack: this region already %s the notice (%s)",
                  ack.status == RCN__CASE_ACK__STATUS__RECEIVED ? "acknowledged" : "answered", done);
        goto fail;
    }
    bool received = ack.status == RCN__CASE_ACK__STATUS__RECEIVED;
    if (!received && r.rec.withdrawal) {
        rcn_errf (why, whylen, "case ack: a withdrawal needs no answer");
        goto fail;
    }
    if (!received && superseded (&r.rec)) {
        rcn_errf (why, whylen, "case ack: the notice was %s by %s: answer that one",
                  r.rec.withdrawn ? "withdrawn" : "superseded", HX (r.rec.superseded_by));
        goto fail;
    }
    const json_t *rj = json_object_get (b, "redirect");
    if (rj && ack.status != RCN__CASE_ACK__STATUS__NOT_OURS) {
        rcn_errf (why, whylen, "case ack: only not_ours takes --redirect");
        goto fail;
    }
    if (ack.status == RCN__CASE_ACK__STATUS__NOT_OURS) {
        if (!rj) {
            rcn_errf (why, whylen, "case ack: not_ours needs --redirect CODE (the region it "
                      "concerns)");
            goto fail;
        }
        if (!json_is_string (rj)
            || rcn_region_parse (json_string_value (rj), &ack.redirect, w, sizeof w) != RCN_OK) {
            rcn_errf (why, whylen, "case ack: redirect: %s", json_is_string (rj) ? w
                      : "must be a string like \"330000\"");
            goto fail;
        }
        if (!rcn_roster_by_region (env->roster, ack.redirect)) {
            rcn_errf (why, whylen, "case ack: redirect: %06u is not a member of the alliance",
                      ack.redirect);
            goto fail;
        }
        if (ack.redirect == r.origin_region || ack.redirect == env->region) {
            rcn_errf (why, whylen, "case ack: redirect: %06u is %s", ack.redirect,
                      ack.redirect == env->region ? "this region itself" : "the notifying region");
            goto fail;
        }
        if (addressed (&r, ack.redirect)) {
            rcn_errf (why, whylen, "case ack: redirect: %06u is already addressed", ack.redirect);
            goto fail;
        }
        if (!env->seal) {
            rcn_errf (why, whylen, "case ack: passing a notice on re-wraps its details: only the "
                      "node can");
            goto fail;
        }
        rcn_seal_reader_t readers[2];
        size_t nr = 0;
        rc = rcn_sealkey_readers (v, env->roster, env->origin, &ack.redirect, 1, now_ms, readers,
                                  &nr, w, sizeof w);
        if (rc != RCN_OK) {
            rcn_errf (why, whylen, "case ack: cannot pass the details on: %s", w);
            rc = rc == RCN_ENOTFOUND || rc == RCN_EINVAL ? RCN_EINVAL : rc;
            goto fail;
        }
        size_t k = 0;                              /* our own needs no new wrap */
        for (size_t i = 0; i < nr; i++)
            if (memcmp (readers[i].member, env->origin, 32) != 0)
                readers[k++] = readers[i];
        if ((rc = redirect_wraps (v, &r, &racks, &n_racks, &extra, &n_extra)) != RCN_OK)
            goto fail;
        rc = rcn_seal_rewrap (env->seal, r.n->personal, extra, n_extra, readers, k, &wraps);
        if (rc != RCN_OK) {
            rcn_errf (why, whylen, "case ack: cannot re-wrap the details for %06u: %s",
                      ack.redirect, rc == RCN_EPERM ? "this member holds no key that opens them"
                      : rcn_strerror (rc));
            rc = RCN_EINVAL;
            goto fail;
        }
        n_wraps = k;
        ack.rewrap = wraps;
        ack.n_rewrap = k;
        rc = RCN_EINVAL;
    }
    const json_t *nj = json_object_get (b, "note");
    if (nj && (!json_is_string (nj) || !text_ok (json_string_value (nj), NOTE_MAX, true))) {
        rcn_errf (why, whylen, "case ack: note: UTF-8 text without control characters, at most %d "
                  "bytes", NOTE_MAX);
        goto fail;
    }
    ack.note = nj ? (char *) json_string_value (nj) : (char *) "";
    ack.notice.data = h;
    ack.notice.len = 32;
    if (check_ack (&ack, why, whylen) != RCN_OK)
        goto fail;
    *body_len = rcn__case_ack__get_packed_size (&ack);
    if (!(*body = malloc (*body_len ? *body_len : 1))) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    rcn__case_ack__pack (&ack, *body);
    rc = RCN_OK;
fail:
    rcn_seal_wraps_free (wraps, n_wraps);
    redirect_wraps_free (racks, n_racks, extra);
    res_free (&r);
    return rc;
}

static int
case_author (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req, uint64_t now_ms,
             uint32_t *kind, uint8_t **body, size_t *body_len, char *why, size_t whylen)
{
    const char *verb = json_string_value (json_object_get (req, "verb"));
    if (!json_is_object (json_object_get (req, "body"))) {
        rcn_errf (why, whylen, "case: request has no body object");
        return RCN_EINVAL;
    }
    if (!env->roster) {
        rcn_errf (why, whylen, "case: needs the roster");
        return RCN_EINVAL;
    }
    int status = status_of_req (req);
    if (status < 0) {
        rcn_errf (why, whylen, "case: status: must be actual, exercise or test");
        return RCN_EINVAL;
    }
    if (verb && strcmp (verb, "notify") == 0) {
        *kind = RCN__KIND__KIND_CASE_NOTICE;
        return author_notify (v, env, req, now_ms, body, body_len, why, whylen);
    }
    if (verb && strcmp (verb, "ack") == 0) {
        *kind = RCN__KIND__KIND_CASE_ACK;
        return author_ack (v, env, req, now_ms, body, body_len, why, whylen);
    }
    rcn_errf (why, whylen, "case: verb must be notify or ack");
    return RCN_EINVAL;
}

/* Every notice reads the case ids of its origin, every answer its origin's earlier acks; only
 * an automatic receipt (proposed once per notice) can share a group. */
static bool
case_depends (const json_t *req)
{
    const char *verb = json_string_value (json_object_get (req, "verb"));
    const char *st = json_string_value (json_object_get (json_object_get (req, "body"), "status"));
    return !(verb && strcmp (verb, "ack") == 0 && st && strcmp (st, "received") == 0);
}

/* ---- show, list, open, auto_author ------------------------------------------------------------ */

static json_t *
code_json (uint32_t code)
{
    char s[16];
    snprintf (s, sizeof s, "%06u", code);
    return json_string (s);
}

static json_t *
time_json (uint64_t ms)
{
    char s[40];
    rcn_time_format (ms, s, sizeof s);
    return json_string (s);
}

static json_t *
keys_json (Rcn__Wrap *const *w, size_t n)
{
    json_t *arr = json_array ();
    char hex[65];
    for (size_t i = 0; i < n; i++)
        if (w[i]->member.len == 32)
            json_array_append_new (arr, json_string (rcn_hex (w[i]->member.data, 32, hex)));
    return arr;
}

static json_t *
case_show (uint32_t kind, const uint8_t *body, size_t body_len)
{
    char hex[65];
    json_t *o = json_object ();
    if (kind == RCN__KIND__KIND_CASE_NOTICE) {
        Rcn__CaseNotice *n = rcn__case_notice__unpack (NULL, body_len, body);
        if (!n) {
            json_decref (o);
            return NULL;
        }
        json_t *to = json_array ();
        for (size_t i = 0; i < n->n_to; i++)
            json_array_append_new (to, code_json (n->to[i]));
        json_object_set_new (o, "case_id", json_string (n->case_id ? n->case_id : ""));
        json_object_set_new (o, "classification", json_string (
            (int) n->classification >= 1 && n->classification <= 6 ? s_class[n->classification]
                                                                   : "unknown"));
        json_object_set_new (o, "to", to);
        json_object_set_new (o, "residence", code_json (n->residence));
        json_object_set_new (o, "reported_at", time_json (n->reported_at_ms));
        if (n->onset_ms)
            json_object_set_new (o, "onset", time_json (n->onset_ms));
        if (n->supersedes.len == 32)
            json_object_set_new (o, "supersedes", json_string (rcn_hex (n->supersedes.data, 32, hex)));
        if (n->withdrawn)
            json_object_set_new (o, "withdrawn", json_true ());
        /* Never the details: their size and who may open them (signing keys; list names the
         * regions). */
        if (n->personal)
            json_object_set_new (o, "personal", json_pack (
                "{s:I, s:o}", "sealed", (json_int_t) n->personal->ciphertext.len,
                "readers", keys_json (n->personal->wraps, n->personal->n_wraps)));
        rcn__case_notice__free_unpacked (n, NULL);
        return o;
    }
    Rcn__CaseAck *a = rcn__case_ack__unpack (NULL, body_len, body);
    if (!a) {
        json_decref (o);
        return NULL;
    }
    json_object_set_new (o, "notice", json_string (a->notice.len == 32
                                                   ? rcn_hex (a->notice.data, 32, hex) : ""));
    json_object_set_new (o, "answer", json_string ((int) a->status >= 1 && a->status <= 3
                                                   ? s_answer[a->status] : "unknown"));
    if (a->redirect)
        json_object_set_new (o, "redirect", code_json (a->redirect));
    if (a->n_rewrap)
        json_object_set_new (o, "rewrap", json_pack ("{s:o}", "readers",
                                                     keys_json (a->rewrap, a->n_rewrap)));
    if (a->note && *a->note)
        json_object_set_new (o, "note", json_string (a->note));
    rcn__case_ack__free_unpacked (a, NULL);
    return o;
}

static const char *
region_name (const rcn_roster_t *roster, uint32_t region)
{
    const rcn_member_t *m = rcn_roster_by_region (roster, region);
    return m ? m->name : "";
}

/* The clear view of one resolved notice, against now. */
static json_t *
notice_json (const rcn_view_t *v, const rcn_roster_t *roster, const res_t *r, uint64_t now_ms)
{
    char hex[65];
    json_t *o = case_show (RCN__KIND__KIND_CASE_NOTICE, r->e->h.body, r->e->h.body_len);
    if (!o)
        return NULL;
    json_object_del (o, "withdrawn");
    json_object_set_new (o, "hash", json_string (rcn_hex (r->hash, 32, hex)));
    json_object_set_new (o, "origin", json_string (rcn_hex (r->rec.origin, 32, hex)));
    json_object_set_new (o, "region", code_json (r->origin_region));
    json_object_set_new (o, "region_name", json_string (region_name (roster, r->origin_region)));
    json_object_set_new (o, "seq", json_integer ((json_int_t) r->e->h.seq));
    json_object_set_new (o, "status", json_string (rcn_status_name (r->rec.status)));
    json_object_set_new (o, "time_ms", json_integer ((json_int_t) r->rec.time_ms));
    json_object_set_new (o, "reported_at_ms", json_integer ((json_int_t) r->n->reported_at_ms));
    if (r->n->onset_ms)
        json_object_set_new (o, "onset_ms", json_integer ((json_int_t) r->n->onset_ms));
    if (r->rec.withdrawal) {
        json_object_del (o, "supersedes");
        json_object_set_new (o, "withdraws", json_string (rcn_hex (r->n->supersedes.data, 32, hex)));
    }
    if (superseded (&r->rec))
        json_object_set_new (o, r->rec.withdrawn ? "withdrawn_by" : "superseded_by",
                             json_string (rcn_hex (r->rec.superseded_by, 32, hex)));
    int64_t sla = rcn_roster_policy (roster)->response_sla_s * 1000;
    json_t *addrs = json_array ();
    bool any_owed = false, any_undelivered = false;
    for (size_t i = 0; i < r->n_addr; i++) {
        const addr_t *d = &r->addr[i];
        json_t *a = json_object ();
        const char *state = d->response ? s_answer[d->response->answer]
                          : d->received ? "received" : "undelivered";
        json_object_set_new (a, "region", code_json (d->region));
        json_object_set_new (a, "name", json_string (region_name (roster, d->region)));
        json_object_set_new (a, "state", json_string (state));
        json_object_set_new (a, "since_ms", json_integer ((json_int_t) d->since_ms));
        if (d->via) {
            json_object_set_new (a, "redirected_by", code_json (d->via->region));
            json_object_set_new (a, "redirect_ack", json_string (rcn_hex (d->via->hash, 32, hex)));
        }
        const ack_t *rec = d->received ? d->received : d->response;
        if (rec) {
            json_object_set_new (a, "received_ms", json_integer ((json_int_t) rec->time_ms));
            json_object_set_new (a, "time_to_receipt_ms",
                                 json_integer ((json_int_t) rec->time_ms - (json_int_t) d->since_ms));
        }
        if (d->response) {
            json_object_set_new (a, "responded_ms", json_integer ((json_int_t) d->response->time_ms));
            json_object_set_new (a, "time_to_response_ms", json_integer (
                (json_int_t) d->response->time_ms - (json_int_t) d->since_ms));
            json_object_set_new (a, "answer_ack", json_string (rcn_hex (d->response->hash, 32, hex)));
            if (d->response->redirect)
                json_object_set_new (a, "redirect", code_json (d->response->redirect));
            rcn_entry_t *e = NULL;
            if (rcn_view_get_by_hash (v, d->response->hash, &e) == RCN_OK) {
                Rcn__CaseAck *ak = rcn__case_ack__unpack (NULL, e->h.body_len, e->h.body);
                if (ak && ak->note && *ak->note)
                    json_object_set_new (a, "note", json_string (ak->note));
                if (ak)
                    rcn__case_ack__free_unpacked (ak, NULL);
                rcn_entry_destroy (&e);
            }
        }
        bool owed = owes (r, d);
        json_object_set_new (a, "owed", json_boolean (owed));
        if (owed) {
            int64_t age = (int64_t) now_ms - (int64_t) d->since_ms;
            json_object_set_new (a, "owed_ms", json_integer (age));
            json_object_set_new (a, "overdue", json_boolean (sla > 0 && age > sla));
        }
        any_owed |= owed;
        any_undelivered |= !rec && live (r);
        json_array_append_new (addrs, a);
    }
    json_object_set_new (o, "addressees", addrs);
    const char *state = r->rec.withdrawal ? "withdrawal" : r->rec.withdrawn ? "withdrawn"
                      : superseded (&r->rec) ? "superseded" : any_undelivered ? "undelivered"
                      : any_owed ? "owed" : "closed";
    json_object_set_new (o, "state", json_string (state));
    json_object_set_new (o, "owed", json_boolean (any_owed));
    /* Who may open the details: the wraps' members, and the regions a redirect added. */
    json_t *pers = json_object_get (o, "personal");
    if (pers) {
        uint32_t readers[RCN_MAX_MEMBERS * 2];
        size_t nr = 0;
        for (size_t i = 0; i < r->n->personal->n_wraps && nr < RCN_MAX_MEMBERS; i++) {
            const Rcn__Wrap *w = r->n->personal->wraps[i];
            const rcn_member_t *m = w->member.len == 32 ? rcn_roster_by_origin (roster, w->member.data)
                                                        : NULL;
            if (m)
                readers[nr++] = m->region;
        }
        for (size_t i = 0; i < r->n_addr; i++)
            if (r->addr[i].via)
                readers[nr++] = r->addr[i].region;
        qsort (readers, nr, sizeof *readers, cmp_u32);
        json_t *arr = json_array ();
        for (size_t i = 0; i < nr; i++)
            if (i == 0 || readers[i] != readers[i - 1])
                json_array_append_new (arr, code_json (readers[i]));
        json_object_set_new (pers, "readers", arr);
    }
    json_t *ign = json_array ();
    for (size_t i = 0; i < r->acks.n; i++) {
        const ack_t *a = &r->acks.a[i];
        if (!a->ignored)
            continue;
        json_array_append_new (ign, json_pack ("{s:o, s:s, s:s, s:s}", "region", code_json (a->region),
                                               "answer", a->answer <= 3 && a->answer ? s_answer[a->answer]
                                                                                     : "unknown",
                                               "ack", rcn_hex (a->hash, 32, hex),
                                               "reason", a->ignored));
    }
    if (json_array_size (ign))
        json_object_set_new (o, "ignored", ign);
    else
        json_decref (ign);
    return o;
}

typedef struct {
    const rcn_view_t *v;
    const rcn_roster_t *roster;
    uint64_t now;
    bool owed, to_me;
    uint32_t self, from;
    json_t *items;
} list_ctx_t;

static int
list_one (const MDB_val *k, const MDB_val *val, void *ctx)
{
    (void) val;
    list_ctx_t *l = ctx;
    if (k->mv_size != 32)
        return RCN_EDB;
    res_t r;
    int rc = resolve (l->v, l->roster, k->mv_data, &r);
    if (rc != RCN_OK)
        return rc == RCN_ENOTFOUND ? RCN_EDB : rc;
    bool keep = !l->from || r.origin_region == l->from;
    if (keep && l->to_me) {
        const addr_t *d = NULL;
        for (size_t i = 0; i < r.n_addr; i++)
            if (r.addr[i].region == l->self)
                d = &r.addr[i];
        keep = d && (!l->owed || owes (&r, d));
    }
    json_t *o = keep ? notice_json (l->v, l->roster, &r, l->now) : NULL;
    if (o && l->owed && !l->to_me && !json_is_true (json_object_get (o, "owed")))
        keep = false;
    res_free (&r);
    if (keep && !o)
        return RCN_ENOMEM;
    if (keep)
        json_array_append_new (l->items, o);
    else
        json_decref (o);
    return RCN_OK;
}

static json_t *
case_list (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query, uint64_t now_ms,
           char *why, size_t whylen)
{
    const rcn_roster_t *roster = env ? env->roster : NULL;
    if (!roster) {
        rcn_errf (why, whylen, "case list: needs the roster");
        return NULL;
    }
    char w[256];
    const char *hex = json_string_value (json_object_get (query, "hash"));
    if (hex) {
        uint8_t h[32];
        res_t r;
        if (rcn_unhex (hex, h, 32) != RCN_OK) {
            rcn_errf (why, whylen, "case show: the hash must be 64 hex digits");
            return NULL;
        }
        int rc = resolve (v, roster, h, &r);
        if (rc == RCN_ENOTFOUND) {
            rcn_entry_t *e = NULL;
            if (rcn_view_get_by_hash (v, h, &e) == RCN_OK && e->h.kind == RCN__KIND__KIND_CASE_ACK) {
                json_t *a = case_show (e->h.kind, e->h.body, e->h.body_len);
                rcn_errf (why, whylen, "case show: %.16s… is an acknowledgement of notice %s: show "
                          "that", hex, a ? json_string_value (json_object_get (a, "notice")) : "?");
                json_decref (a);
            }
            else
                rcn_errf (why, whylen, "case show: this log holds no valid notice %.16s…", hex);
            rcn_entry_destroy (&e);
            return NULL;
        }
        if (rc != RCN_OK) {
            rcn_errf (why, whylen, "case show: the view could not be read");
            return NULL;
        }
        json_t *o = notice_json (v, roster, &r, now_ms);
        res_free (&r);
        if (!o)
            rcn_errf (why, whylen, "case show: out of memory");
        return o;
    }
    list_ctx_t l = { .v = v, .roster = roster, .now = now_ms,
                     .owed = json_is_true (json_object_get (query, "owed")),
                     .to_me = json_is_true (json_object_get (query, "to_me")),
                     .self = env->region, .items = json_array () };
    const char *self = json_string_value (json_object_get (query, "self_region"));
    if (self && rcn_region_parse (self, &l.self, w, sizeof w) != RCN_OK) {
        rcn_errf (why, whylen, "case list: self_region: %s", w);
        json_decref (l.items);
        return NULL;
    }
    if (l.to_me && !l.self) {
        rcn_errf (why, whylen, "case list --to-me: this member's region is not known here");
        json_decref (l.items);
        return NULL;
    }
    const char *from = json_string_value (json_object_get (query, "from"));
    if (from && rcn_region_parse (from, &l.from, w, sizeof w) != RCN_OK) {
        rcn_errf (why, whylen, "case list --from: %s", w);
        json_decref (l.items);
        return NULL;
    }
    int rc = scan_prefix (v, DB_NOTICE, NULL, 0, list_one, &l);
    if (rc != RCN_OK) {
        rcn_errf (why, whylen, "case list: the view could not be read (%s)", rcn_strerror (rc));
        json_decref (l.items);
        return NULL;
    }
    /* Deterministic order: newest first, hash to break ties. */
    return rcn_kind_newest_first (l.items, "time_ms", "case list", why, whylen);
}

static json_t *
case_open (const rcn_view_t *v, const rcn_kind_env_t *env, const rcn_entry_t *e, char *why,
           size_t whylen)
{
    if (e->h.kind != RCN__KIND__KIND_CASE_NOTICE) {
        rcn_errf (why, whylen, "an acknowledgement seals nothing: open its notice");
        return NULL;
    }
    if (!env->roster || !env->seal) {
        rcn_errf (why, whylen, "this member holds no sealing keys here");
        return NULL;
    }
    res_t r;
    int rc = resolve (v, env->roster, e->hash, &r);
    if (rc != RCN_OK) {
        rcn_errf (why, whylen, rc == RCN_ENOTFOUND ? "not a valid notice in this member's view"
                                                   : "the view could not be read");
        return NULL;
    }
    json_t *out = NULL;
    uint8_t *plain = NULL;
    size_t len = 0;
    if (r.origin_region != env->region && !addressed (&r, env->region))
        rcn_errf (why, whylen, "not addressed to %06u", env->region);
    else if (!r.n->personal)
        rcn_errf (why, whylen, "a withdrawal carries no personal details");
    else if ((rc = open_personal (v, env, &r, &plain, &len)) != RCN_OK)
        rcn_errf (why, whylen, "%s", rc == RCN_EPERM
                  ? "sealed to a key this member no longer holds (retention), or not to it"
                  : rc == RCN_EBODY ? "the sealed details do not authenticate"
                  : rcn_strerror (rc));
    else if (!(out = json_loadb ((const char *) plain, len, 0, NULL)) || !json_is_object (out)) {
        json_decref (out);
        out = NULL;
        rcn_errf (why, whylen, "the opened details are not a JSON object");
    }
    rcn_seal_plain_free (plain, len);
    res_free (&r);
    return out;
}

typedef struct {
    const rcn_view_t *v;
    const rcn_kind_env_t *env;
    json_t *reqs;
} auto_ctx_t;

static int
auto_one (const MDB_val *k, const MDB_val *val, void *ctx)
{
    (void) val;
    auto_ctx_t *a = ctx;
    if (k->mv_size != 36)
        return RCN_EDB;
    const uint8_t *h = (const uint8_t *) k->mv_data + 4;
    rec_t rec;
    int rc = rec_get (a->v, h, &rec);
    if (rc == RCN_ENOTFOUND)
        return RCN_OK;                 /* a redirect whose notice has not arrived yet */
    if (rc != RCN_OK)
        return rc;
    if (memcmp (rec.origin, a->env->origin, 32) == 0 || superseded (&rec))
        return RCN_OK;
    acks_t mine;
    if ((rc = acks_load (a->v, h, a->env->origin, &mine)) != RCN_OK)
        return rc;
    size_t n = mine.n;
    free (mine.a);
    if (n)
        return RCN_OK;                 /* ours is there: received once, whatever came after */
    res_t r;
    if ((rc = resolve (a->v, a->env->roster, h, &r)) != RCN_OK)
        return rc;
    bool to_us = addressed (&r, a->env->region);
    res_free (&r);
    if (!to_us)
        return RCN_OK;
    char hex[65];
    json_array_append_new (a->reqs, json_pack ("{s:s, s:s, s:{s:s, s:s}, s:s}", "kind", "case",
                                               "verb", "ack", "body", "notice", rcn_hex (h, 32, hex),
                                               "status", "received",
                                               "status", rcn_status_name (rec.status)));
    return RCN_OK;
}

static int
case_auto (const rcn_view_t *v, const rcn_kind_env_t *env, uint64_t now_ms, json_t *reqs,
           char *why, size_t whylen)
{
    (void) now_ms;
    if (!env->roster || !env->region)
        return RCN_OK;
    uint8_t prefix[4];
    rcn_be_put (prefix, env->region, 4);
    auto_ctx_t a = { .v = v, .env = env, .reqs = reqs };
    int rc = scan_prefix (v, DB_TO, prefix, 4, auto_one, &a);
    if (rc != RCN_OK)
        rcn_errf (why, whylen, "case: the view could not be read (%s)", rcn_strerror (rc));
    return rc;
}

/* ---- rcctl ------------------------------------------------------------------------------------- */

static int
codes_json (const char *flag, const char *s, json_t **out, char *why, size_t whylen)
{
    json_t *arr = json_array ();
    char *copy = strdup (s), *save = NULL;
    bool ok = copy != NULL;
    for (char *tok = ok ? strtok_r (copy, ", ", &save) : NULL; tok; tok = strtok_r (NULL, ", ", &save)) {
        uint32_t c;
        char w[128];
        if (rcn_region_parse (tok, &c, w, sizeof w) != RCN_OK) {
            rcn_errf (why, whylen, "case: %s: %s", flag, w);
            ok = false;
            break;
        }
        json_array_append_new (arr, json_string (tok));
    }
    free (copy);
    if (!ok || json_array_size (arr) == 0) {
        if (ok)
            rcn_errf (why, whylen, "case: %s: six-digit codes separated by commas", flag);
        json_decref (arr);
        return RCN_EINVAL;
    }
    *out = arr;
    return RCN_OK;
}

static bool
is_hash (const char *s)
{
    uint8_t h[32];
    return s && strlen (s) == 64 && rcn_unhex (s, h, 32) == RCN_OK;
}

/* Fields of `case notify --json` (stdin) and how they map to the request body. */
static const char *const s_input_keys[] = { "case_id", "classification", "to", "residence",
                                            "reported_at", "onset", "personal", "supersedes",
                                            "withdraw", NULL };

static int
notify_input (const json_t *input, json_t *body, json_t *personal, uint64_t now_ms, char *why,
              size_t whylen)
{
    const char *key;
    const json_t *val;
    json_object_foreach ((json_t *) input, key, val) {
        bool known = false;
        for (size_t i = 0; s_input_keys[i] && !known; i++)
            known = strcmp (key, s_input_keys[i]) == 0;
        if (!known) {
            rcn_errf (why, whylen, "case notify --json: unknown field \"%.40s\" (case_id, "
                      "classification, to, residence, reported_at, onset, personal, supersedes, "
                      "withdraw)", key);
            return RCN_EINVAL;
        }
        if (strcmp (key, "personal") == 0) {
            if (!json_is_object (val)) {
                rcn_errf (why, whylen, "case notify --json: personal: must be an object");
                return RCN_EINVAL;
            }
            json_object_update (personal, (json_t *) val);
        }
        else if (strcmp (key, "withdraw") == 0) {
            if (!json_is_boolean (val)) {
                rcn_errf (why, whylen, "case notify --json: withdraw: must be true or false");
                return RCN_EINVAL;
            }
            json_object_set (body, key, (json_t *) val);
        }
        else if (strcmp (key, "to") == 0 && json_is_string (val)) {
            json_t *arr;
            if (codes_json ("to", json_string_value (val), &arr, why, whylen) != RCN_OK)
                return RCN_EINVAL;
            json_object_set_new (body, "to", arr);
        }
        else if (strcmp (key, "to") == 0) {
            if (!json_is_array (val)) {
                rcn_errf (why, whylen, "case notify --json: to: a list of region codes");
                return RCN_EINVAL;
            }
            json_object_set (body, "to", (json_t *) val);
        }
        else if (!json_is_string (val)) {
            rcn_errf (why, whylen, "case notify --json: %s: must be a string", key);
            return RCN_EINVAL;
        }
        else if (strcmp (key, "reported_at") == 0 || strcmp (key, "onset") == 0) {
            uint64_t t;
            char w[256];
            if (rcn_time_parse (json_string_value (val), now_ms, &t, w, sizeof w) != RCN_OK) {
                rcn_errf (why, whylen, "case notify: %s: %s", key, w);
                return RCN_EINVAL;
            }
            char k2[32];
            snprintf (k2, sizeof k2, "%s_ms", key);
            json_object_set_new (body, k2, json_integer ((json_int_t) t));
        }
        else
            json_object_set (body, key, (json_t *) val);
    }
    return RCN_OK;
}

static int
case_cli (int argc, char **argv, const json_t *input, uint64_t now_ms, json_t **req, char *why,
          size_t whylen)
{
    static const struct option opts[] = {
        { "case-id", required_argument, NULL, 'c' },
        { "classification", required_argument, NULL, 'k' },
        { "to", required_argument, NULL, 't' },
        { "residence", required_argument, NULL, 'r' },
        { "reported-at", required_argument, NULL, 'R' },
        { "onset", required_argument, NULL, 'o' },
        { "name", required_argument, NULL, 'n' },
        { "id-number", required_argument, NULL, 'i' },
        { "phone", required_argument, NULL, 'p' },
        { "address", required_argument, NULL, 'a' },
        { "notes", required_argument, NULL, 'N' },
        { "supersedes", required_argument, NULL, 's' },
        { "withdraw", no_argument, NULL, 'w' },
        { "redirect", required_argument, NULL, 'D' },
        { "note", required_argument, NULL, 'T' },
        { "status", required_argument, NULL, 'S' },   /* the answer (rcctl keeps traffic's) */
        { "owed", no_argument, NULL, 'O' },
        { "to-me", no_argument, NULL, 'M' },
        { "from", required_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const allowed[] = {   /* verb: the short codes it takes */
        "notify", "cktrRonipaNsw", "ack", "DTS", "list", "OMF", "show", "",
    };
    if (argc < 1) {
        rcn_errf (why, whylen, "case: say notify, ack HASH, list or show HASH");
        return RCN_EINVAL;
    }
    const char *verb = argv[0], *takes = NULL;
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i += 2)
        if (strcmp (verb, allowed[i]) == 0)
            takes = allowed[i + 1];
    if (!takes) {
        rcn_errf (why, whylen, "case: unknown verb \"%.40s\" (notify, ack, list, show)", verb);
        return RCN_EINVAL;
    }
    bool notify = strcmp (verb, "notify") == 0;
    json_t *r = json_object (), *body = json_object (), *personal = json_object ();
    if (notify && input && notify_input (input, body, personal, now_ms, why, whylen) != RCN_OK)
        goto fail;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        if (c == '?' || c == ':' || !strchr (takes, c)) {
            rcn_errf (why, whylen, "case %s: unknown or misplaced flag \"%.60s\"%s", verb,
                      argv[optind - 1], c == ':' ? " (it needs a value)" : "");
            goto fail;
        }
        json_t *str = optarg ? json_string (optarg) : NULL;
        if (optarg && !str) {
            rcn_errf (why, whylen, "case %s: the value of \"%.60s\" must be UTF-8 text", verb,
                      argv[optind - 1]);
            goto fail;
        }
        switch (c) {
        case 'c': json_object_set_new (body, "case_id", str); break;
        case 'k': json_object_set_new (body, "classification", str); break;
        case 'r': json_object_set_new (body, "residence", str); break;
        case 's': json_object_set_new (body, "supersedes", str); break;
        case 'w': json_object_set_new (body, "withdraw", json_true ()); break;
        case 'n': json_object_set_new (personal, "name", str); break;
        case 'i': json_object_set_new (personal, "id_number", str); break;
        case 'p': json_object_set_new (personal, "phone", str); break;
        case 'a': json_object_set_new (personal, "address", str); break;
        case 'N': json_object_set_new (personal, "notes", str); break;
        case 'D': json_object_set_new (body, "redirect", str); break;
        case 'T': json_object_set_new (body, "note", str); break;
        case 'S': json_object_set_new (body, "answer", str); break;
        case 'O': json_object_set_new (body, "owed", json_true ()); break;
        case 'M': json_object_set_new (body, "to_me", json_true ()); break;
        case 'F': {
            uint32_t code;
            char w[128];
            if (rcn_region_parse (optarg, &code, w, sizeof w) != RCN_OK) {
                json_decref (str);
                rcn_errf (why, whylen, "case list: --from: %s", w);
                goto fail;
            }
            json_object_set_new (body, "from", str);
            break;
        }
        case 't': {
            json_t *arr;
            json_decref (str);
            if (codes_json ("--to", optarg, &arr, why, whylen) != RCN_OK)
                goto fail;
            json_object_set_new (body, "to", arr);
            break;
        }
        case 'R': case 'o': {
            uint64_t t;
            char w[256];
            json_decref (str);
            if (rcn_time_parse (optarg, now_ms, &t, w, sizeof w) != RCN_OK) {
                rcn_errf (why, whylen, "case notify: --%s: %s", c == 'R' ? "reported-at" : "onset", w);
                goto fail;
            }
            json_object_set_new (body, c == 'R' ? "reported_at_ms" : "onset_ms",
                                 json_integer ((json_int_t) t));
            break;
        }
        default: json_decref (str); break;
        }
    }
    /* Positionals: never echoed (a name typed without quotes would land here). */
    int rest = argc - optind;
    char **pos = argv + optind;
    bool want_hash = strcmp (verb, "ack") == 0 || strcmp (verb, "show") == 0;
    if (want_hash && (rest < 1 || !is_hash (pos[0]))) {
        rcn_errf (why, whylen, "case %s: give the notice's hash, 64 hex digits (see case list)", verb);
        goto fail;
    }
    if (strcmp (verb, "ack") == 0) {
        const char *given = json_string_value (json_object_get (body, "answer"));
        const char *ans = rest >= 2 ? pos[1] : given ? given
                        : json_object_get (body, "redirect") ? "not_ours" : NULL;
        if (!ans || (strcmp (ans, "taken_over") && strcmp (ans, "not_ours") && strcmp (ans, "received"))
            || rest > 2) {
            rcn_errf (why, whylen, "case ack HASH --status taken_over | --status not_ours --redirect "
                      "CODE [--note T] (a drill's answer also takes --status exercise)");
            goto fail;
        }
        if (strcmp (ans, "not_ours") == 0 && !json_object_get (body, "redirect")) {
            rcn_errf (why, whylen, "case ack: not_ours needs --redirect CODE (the region it concerns)");
            goto fail;
        }
        if (json_object_get (body, "redirect")) {
            uint32_t code;
            char w[128];
            if (rcn_region_parse (json_string_value (json_object_get (body, "redirect")), &code, w,
                                  sizeof w) != RCN_OK) {
                rcn_errf (why, whylen, "case ack: --redirect: %s", w);
                goto fail;
            }
        }
        json_object_set_new (body, "notice", json_string (pos[0]));
        json_object_set_new (body, "status", json_string (ans));
        json_object_del (body, "answer");
    }
    else if (want_hash && rest != 1) {
        rcn_errf (why, whylen, "case show: one hash only (%d arguments)", rest);
        goto fail;
    }
    else if (!want_hash && rest != 0) {
        rcn_errf (why, whylen, "case %s: unexpected argument #%d (quote values with spaces)", verb,
                  optind + 1);
        goto fail;
    }
    json_object_set_new (r, "verb", json_string (verb));
    if (notify) {
        if (json_object_size (personal))
            json_object_set (body, "personal", personal);
        const json_t *pn = json_object_get (personal, "id_number");
        char w[256];
        if (pn && (!json_is_string (pn) || rcn_id_number_check (json_string_value (pn), w, sizeof w)
                   != RCN_OK)) {
            rcn_errf (why, whylen, "case notify: id number: %s", json_is_string (pn) ? w
                      : "must be a string");
            goto fail;
        }
        bool corr = json_object_get (body, "supersedes") != NULL;
        if (json_is_true (json_object_get (body, "withdraw")) && !corr) {
            rcn_errf (why, whylen, "case notify: --withdraw needs --supersedes HASH");
            goto fail;
        }
        if (!corr) {
            static const struct { const char *key, *flag; } need[] = {
                { "case_id", "--case-id" }, { "classification", "--classification" },
                { "to", "--to" }, { "residence", "--residence" },
                { "reported_at_ms", "--reported-at" },
            };
            for (size_t i = 0; i < sizeof need / sizeof *need; i++)
                if (!json_object_get (body, need[i].key)) {
                    rcn_errf (why, whylen, "case notify: %s is required", need[i].flag);
                    goto fail;
                }
            if (!json_object_get (personal, "name")) {
                rcn_errf (why, whylen, "case notify: --name is required");
                goto fail;
            }
        }
        json_object_set_new (r, "op", json_string ("author"));
        json_object_set_new (r, "body", body);
    }
    else if (strcmp (verb, "ack") == 0) {
        json_object_set_new (r, "op", json_string ("author"));
        json_object_set_new (r, "body", body);
    }
    else if (strcmp (verb, "show") == 0) {
        json_object_set_new (r, "op", json_string ("open"));
        json_object_set_new (r, "hash", json_string (pos[0]));
        json_object_set_new (r, "query", json_pack ("{s:s}", "hash", pos[0]));
        json_decref (body);
    }
    else {
        json_object_set_new (r, "op", json_string ("list"));
        json_object_set_new (r, "query", body);
    }
    json_decref (personal);
    *req = r;
    return RCN_OK;
fail:
    json_decref (personal);
    json_decref (body);
    json_decref (r);
    return RCN_EINVAL;
}

static void
duration (json_int_t ms, char *out, size_t len)
{
    if (ms < 0)
        ms = 0;                    /* clocks of two members may disagree a little */
    long long s = ms / 1000;
    if (ms < 10000)
        snprintf (out, len, "%lld.%llds", s, (long long) (ms % 1000) / 100);
    else if (s < 3600)
        snprintf (out, len, "%lldm%02llds", s / 60, s % 60);
    else
        snprintf (out, len, "%lldh%02lldm", s / 3600, (s / 60) % 60);
}

static void
print_notice (const json_t *o)
{
    const char *st = json_string_value (json_object_get (o, "status"));
    printf ("%s  %-6s  %-16s %-17s %-9s  %-11s%s\n", json_string_value (json_object_get (o, "hash")),
            json_string_value (json_object_get (o, "region")),
            json_string_value (json_object_get (o, "case_id")),
            json_string_value (json_object_get (o, "classification")),
            json_string_value (json_object_get (o, "residence")),
            json_string_value (json_object_get (o, "state")),
            st && strcmp (st, "actual") ? (strcmp (st, "exercise") ? "  [TEST]" : "  [EXERCISE]")
                                        : "");
    size_t i;
    const json_t *a;
    json_array_foreach (json_object_get (o, "addressees"), i, a) {
        char rec[24] = "-", resp[24] = "-", owed[48] = "";
        if (json_object_get (a, "time_to_receipt_ms"))
            duration (json_integer_value (json_object_get (a, "time_to_receipt_ms")), rec, sizeof rec);
        if (json_object_get (a, "time_to_response_ms"))
            duration (json_integer_value (json_object_get (a, "time_to_response_ms")), resp, sizeof resp);
        if (json_is_true (json_object_get (a, "owed"))) {
            char d[24];
            duration (json_integer_value (json_object_get (a, "owed_ms")), d, sizeof d);
            snprintf (owed, sizeof owed, "  OWED for %s%s", d,
                      json_is_true (json_object_get (a, "overdue")) ? " (OVERDUE)" : "");
        }
        const char *redir = json_string_value (json_object_get (a, "redirect"));
        const char *by = json_string_value (json_object_get (a, "redirected_by"));
        char extra[64] = "";
        if (redir)
            snprintf (extra, sizeof extra, "  passed on to %s", redir);
        if (by)
            snprintf (extra + strlen (extra), sizeof extra - strlen (extra), "  (from %s)", by);
        printf ("    to %s  %-12s  receipt %-7s  response %-7s%s%s\n",
                json_string_value (json_object_get (a, "region")),
                json_string_value (json_object_get (a, "state")), rec, resp, owed, extra);
    }
}

static void
case_print (const json_t *list)
{
    if (json_is_object (list)) {
        const json_t *o = list;
        print_notice (o);
        printf ("  reported %s", json_string_value (json_object_get (o, "reported_at")));
        if (json_object_get (o, "onset"))
            printf (", onset %s", json_string_value (json_object_get (o, "onset")));
        printf ("\n");
        const char *sb = json_string_value (json_object_get (o, "superseded_by"));
        const char *wb = json_string_value (json_object_get (o, "withdrawn_by"));
        if (sb || wb)
            printf ("  %s by %s\n", sb ? "superseded" : "withdrawn", sb ? sb : wb);
        size_t i;
        const json_t *g;
        json_array_foreach (json_object_get (o, "ignored"), i, g)
            printf ("  ignored: %s %s (%s)\n", json_string_value (json_object_get (g, "region")),
                    json_string_value (json_object_get (g, "answer")),
                    json_string_value (json_object_get (g, "reason")));
        const json_t *op = json_object_get (o, "opened");
        if (op) {
            printf ("  personal details (opened for this member; handle as confidential):\n");
            for (size_t k = 0; s_personal_keys[k]; k++) {
                const char *val = json_string_value (json_object_get (op, s_personal_keys[k]));
                if (val)
                    printf ("    %-10s %s\n", s_personal_keys[k], val);
            }
        }
        else if (!json_object_get (o, "personal"))
            printf ("  no personal details (a withdrawal)\n");
        else {
            const json_t *p = json_object_get (o, "personal");
            const char *why = json_string_value (json_object_get (o, "sealed"));
            printf ("  personal details sealed (%lld bytes)%s%s\n",
                    (long long) json_integer_value (json_object_get (p, "sealed")),
                    why ? ": " : "", why ? why : "");
        }
        return;
    }
    if (json_array_size (list) == 0) {
        printf ("no case notices\n");
        return;
    }
    printf ("%-64s  %-6s  %-16s %-17s %-9s  %s\n", "NOTICE (hash for ack/show)", "FROM",
            "CASE ID", "CLASSIFICATION", "RESIDENCE", "STATE");
    size_t i;
    const json_t *o;
    json_array_foreach (list, i, o)
        print_notice (o);
}

static const char *const s_json_verbs[] = { "notify", NULL };
static const char *const s_json_flag_verbs[] = { "ack", NULL };

const rcn_kind_t rcn_kind_case = {
    .kind = RCN__KIND__KIND_CASE_NOTICE,
    .also = s_also,
    .name = "case",
    .dbs = s_dbs,
    .apply = case_apply,
    .author = case_author,
    .depends = case_depends,
    .show = case_show,
    .list = case_list,
    .open = case_open,
    .auto_author = case_auto,
    .cli = case_cli,
    .print = case_print,
    .json_verbs = s_json_verbs,
    .json_flag_verbs = s_json_flag_verbs,
    .usage =
        "  case notify --case-id ID --classification confirmed|suspected|asymptomatic|close_contact|\n"
        "              secondary_contact|cleared --to CODES --residence CODE --reported-at TIME\n"
        "              [--onset TIME] --name N [--id-number X] [--phone P] [--address A] [--notes T]\n"
        "              [--supersedes HASH [--withdraw]]     (or: case notify --json < notice.json)\n"
        "  case ack HASH --status taken_over | --status not_ours --redirect CODE [--note T]\n"
        "  case list [--owed] [--to-me] [--from CODE] [--json]\n"
        "  case show HASH [--json]              clear part, and the details if sealed for us\n",
};
