/* test_round.c — the rounds kind (RoundReport / RoundAck) over real stores with every kind
 * registered (a report's author reads the case and transfer views):
 *   - authoring a report: refused before its slot, for a slot the roster lacks, twice or for an
 *     earlier slot; the body's date, slot, slot_ms, from_seq, previous and per-kind counts of
 *     the author's own entries since its previous report;
 *   - apply (invariant 9): a valid chain of reports; reports signed before their slot, not after
 *     the previous one, naming the wrong previous, with the wrong from_seq, with counts out of
 *     order / zero / more than the seqs between, or owed figures that disagree, and acks of one's
 *     own report or a second ack of one report: stored, recorded invalid, the view untouched;
 *   - auto_author: one report per slot reached by a member born before it, none after; an ack
 *     for each other member's report of the last 48 h, once;
 *   - list: on_time / late / missing / pending / due against a given now and the grace, acks
 *     counted from other roster members only, clock_ahead_s, split_view, "last", the proof;
 *   - invariant 8: the same entries in 10 arrival orders give identical list and proof JSON;
 *   - the proof round trip through `local` verify: 0 valid, 1 tampered or split, 2 not a proof;
 *   - acks apply cannot judge (naming another reporter, quoting a head below the report, by a
 *     key outside the roster): not counted, listed in the cell's ignored_acks with the reason,
 *     left out of the proof, which verifies; put back in by hand, verify refuses the proof.
 *
 * The alliance: A 310000, B 320000, C 330000 in the roster (rounds 10:00 and 15:00 in
 * Asia/Shanghai, grace 600 s), and X, a key the store admits but the roster does not list (as
 * after a member left), whose acks must not count. */
#include "testutil.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "rcn/codec.h"
#include "rcn/kind.h"
#include "rcn/roster.h"
#include "rcn/schedule.h"
#include "rcn/store.h"
#include "rcn.pb-c.h"

#define SEC 1000ULL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAYMS (24 * HOUR)
#define DAY "2026-11-22"
#define T0 1795311000000ULL                /* 2026-11-22T01:30:00Z, 09:30 in Shanghai */
#define SLOT10 (T0 + 30 * MIN)             /* 2026-11-22 10:00 +08:00 */
#define SLOT15 (SLOT10 + 5 * HOUR)         /* 2026-11-22 15:00 +08:00 */
#define GRACE (600 * SEC)
#define REPORT RCN__KIND__KIND_ROUND_REPORT
#define ACK RCN__KIND__KIND_ROUND_ACK
#define ALERT RCN__KIND__KIND_ALERT
#define SEALKEY RCN__KIND__KIND_SEAL_KEY

static const rcn_kind_t *K;                /* "rounds" */

/* ---- the alliance -------------------------------------------------------------------------- */

typedef struct {
    uint32_t region;
    const char *name;
    uint8_t pk[32], sk[64];
    uint64_t seq;
    uint8_t head[32];
} member_t;

static member_t M[4] = {
    { .region = 310000, .name = "Shanghai" }, { .region = 320000, .name = "Jiangsu" },
    { .region = 330000, .name = "Zhejiang" }, { .region = 340000, .name = "Anhui (left)" },
};
#define MA (&M[0])
#define MB (&M[1])
#define MC (&M[2])
#define MX (&M[3])                         /* not in the roster */
static rcn_roster_t *g_roster;

static json_t *
card (const member_t *m, int i)
{
    uint8_t seed[32], cpk[32], csk[32];
    memset (seed, 0x60 + i, 32);
    crypto_box_seed_keypair (cpk, csk, seed);
    char hex[65], z85[41], code[16], pub[64], sync[64];
    rcn_z85_key (cpk, z85);
    snprintf (code, sizeof code, "%06u", m->region);
    snprintf (pub, sizeof pub, "tcp://127.0.0.1:%d", 7301 + 10 * i);
    snprintf (sync, sizeof sync, "tcp://127.0.0.1:%d", 7302 + 10 * i);
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "region", code, "name", m->name,
                      "sign_key", rcn_hex (m->pk, 32, hex), "curve_key", z85, "pub", pub,
                      "sync", sync);
}

/* A roster of A, B and C with rounds 10:00 and 15:00 and the given grace. Caller owns it. */
static rcn_roster_t *
roster_make (int64_t grace_s)
{
    json_t *cards[3];
    for (int i = 0; i < 3; i++)
        cards[i] = card (&M[i], i);
    rcn_policy_t p;
    rcn_policy_default (&p);
    char why[256], *text = NULL;
    REQUIRE (rcn_policy_parse_rounds ("10:00,15:00", &p, why, sizeof why) == RCN_OK);
    p.grace_s = grace_s;
    REQUIRE (rcn_roster_build ((const json_t *const *) cards, 3, &p, &text, why, sizeof why) == RCN_OK);
    rcn_roster_t *r = NULL;
    REQUIRE (rcn_roster_parse ((const uint8_t *) text, strlen (text), &r, why, sizeof why) == RCN_OK);
    free (text);
    for (int i = 0; i < 3; i++)
        json_decref (cards[i]);
    return r;
}

static void
alliance_init (void)
{
    for (int i = 0; i < 4; i++) {
        uint8_t seed[32];
        memset (seed, 0x50 + i, 32);
        crypto_sign_seed_keypair (M[i].pk, M[i].sk, seed);
    }
    g_roster = roster_make (600);
    K = rcn_kind_by_name ("rounds");
    REQUIRE (K && K->author && K->apply && K->list && K->auto_author && K->local);
}

/* The store admits the roster's members and X. */
static bool
admitted (const uint8_t origin[32], void *ctx)
{
    (void) ctx;
    return rcn_roster_is_member (origin, g_roster) || memcmp (origin, MX->pk, 32) == 0;
}

static const char *
hexof (const uint8_t *h)
{
    static char buf[4][65];
    static int i;
    i = (i + 1) % 4;
    return rcn_hex (h, 32, buf[i]);
}

/* ---- a world: one store and every entry signed for it, in signing order -------------------- */

#define LOG_MAX 256

typedef struct {
    char *dir;
    rcn_store_t *s;
    rcn_entry_t *log[LOG_MAX];
    size_t n;
} world_t;

static rcn_store_t *
store_open (char **dir)
{
    *dir = rcn_test_tmpdir ("round");
    rcn_store_opts_t o = { .is_member = admitted, .kinds = rcn_kinds };
    rcn_store_t *s = NULL;
    char why[256];
    REQUIRE (rcn_store_open (*dir, &o, &s, why, sizeof why) == RCN_OK);
    return s;
}

static void
store_close (rcn_store_t **s, char *dir)
{
    rcn_store_destroy (s);
    rcn_test_rmtree (dir);
    free (dir);
}

static void
world_open (world_t *w)
{
    memset (w, 0, sizeof *w);
    w->s = store_open (&w->dir);
    for (int i = 0; i < 4; i++) {
        M[i].seq = 0;
        memset (M[i].head, 0, 32);
    }
}

static void
world_close (world_t *w)
{
    store_close (&w->s, w->dir);
    for (size_t i = 0; i < w->n; i++)
        rcn_entry_destroy (&w->log[i]);
}

/* Signs as m's next entry and records it in the world's log (not appended). Borrowed. */
static rcn_entry_t *
sign (world_t *w, member_t *m, uint32_t kind, const uint8_t *body, size_t len, uint64_t t)
{
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (m->sk, m->seq + 1, m->seq ? m->head : NULL, t, kind, 0, body, len,
                             &e) == RCN_OK);
    m->seq++;
    memcpy (m->head, e->hash, 32);
    REQUIRE (w->n < LOG_MAX);
    w->log[w->n++] = e;
    return e;
}

/* Appends e to s; true when it was applied, false when recorded invalid (reason in `reason`,
 * which may be NULL). */
static bool
append_to (rcn_store_t *s, rcn_entry_t *e, char reason[256])
{
    int res = -1;
    char buf[256];
    REQUIRE (rcn_store_append (s, &e, 1, &res) == RCN_OK);
    CHECK_EQ (res, RCN_OK);
    bool invalid = rcn_store_invalid_reason (s, e->hash, buf, sizeof buf) == RCN_OK;
    if (reason)
        snprintf (reason, 256, "%s", invalid ? buf : "");
    return !invalid;
}

/* Signs and appends; the entry (borrowed) and whether it was applied. */
static rcn_entry_t *
put (world_t *w, member_t *m, uint32_t kind, const uint8_t *body, size_t len, uint64_t t,
     bool *valid, char reason[256])
{
    rcn_entry_t *e = sign (w, m, kind, body, len, t);
    bool ok = append_to (w->s, e, reason);
    if (valid)
        *valid = ok;
    return e;
}

static uint64_t
invalid_count (rcn_store_t *s)
{
    rcn_store_stats_t st;
    REQUIRE (rcn_store_stats (s, &st) == RCN_OK);
    return st.invalid;
}

/* ---- entries of other kinds, to be counted ------------------------------------------------- */

static void
sealkey (world_t *w, member_t *m, uint64_t t)
{
    uint8_t pk[32], buf[64];
    randombytes_buf (pk, sizeof pk);
    Rcn__SealKey k = RCN__SEAL_KEY__INIT;
    k.public_key.data = pk;
    k.public_key.len = 32;
    k.from_ms = t;
    size_t len = rcn__seal_key__pack (&k, buf);
    bool valid;
    put (w, m, SEALKEY, buf, len, t, &valid, NULL);
    CHECK (valid);
}

/* ---- the kinds' author callbacks, as the node runs them ----------------------------------- */

typedef struct {
    const rcn_kind_t *k;
    member_t *m;
    const json_t *req;
    uint64_t now;
    uint32_t kind;
    uint8_t *body;
    size_t len;
    int rc;
    char why[512];
} author_ctx_t;

static int
author_cb (const rcn_view_t *v, void *ctx)
{
    author_ctx_t *c = ctx;
    rcn_kind_env_t env = { .origin = c->m->pk, .region = c->m->region, .roster = g_roster };
    c->kind = c->k->kind;
    c->rc = c->k->author (v, &env, c->req, c->now, &c->kind, &c->body, &c->len, c->why,
                          sizeof c->why);
    return RCN_OK;
}

/* Runs kind k's author for req as m at now; on success signs (not appends) the entry into
 * *out (borrowed). why (512 bytes) may be NULL. */
static int
author_with (world_t *w, const rcn_kind_t *k, member_t *m, const json_t *req, uint64_t now,
             rcn_entry_t **out, char *why)
{
    author_ctx_t c = { .k = k, .m = m, .req = req, .now = now };
    REQUIRE (rcn_store_read (w->s, k, author_cb, &c) == RCN_OK);
    if (why)
        snprintf (why, 512, "%s", c.why);
    *out = NULL;
    if (c.rc != RCN_OK)
        return c.rc;
    *out = sign (w, m, c.kind, c.body, c.len, now);
    free (c.body);
    return RCN_OK;
}

/* A rounds request {"verb": verb, "body": body (stolen)} authored as m, signed and appended;
 * the new entry (borrowed) in *out, which may be NULL. */
static int
submit (world_t *w, member_t *m, const char *verb, json_t *body, uint64_t now, rcn_entry_t **out,
        char *why)
{
    json_t *req = json_pack ("{s:s, s:o}", "verb", verb, "body", body);
    rcn_entry_t *e = NULL;
    int rc = author_with (w, K, m, req, now, &e, why);
    json_decref (req);
    if (out)
        *out = e;
    if (rc != RCN_OK)
        return rc;
    char reason[256];
    CHECK (append_to (w->s, e, reason));
    if (reason[0])
        fprintf (stderr, "    authored entry recorded invalid: %s\n", reason);
    return RCN_OK;
}

static json_t *
slot_req (const char *date, const char *slot)
{
    return json_pack ("{s:s, s:s}", "date", date, "slot", slot);
}

static int
report (world_t *w, member_t *m, const char *date, const char *slot, uint64_t now,
        rcn_entry_t **out, char *why)
{
    return submit (w, m, "report", slot_req (date, slot), now, out, why);
}

static int
ack (world_t *w, member_t *m, const rcn_entry_t *rep, uint64_t now, rcn_entry_t **out, char *why)
{
    return submit (w, m, "ack", json_pack ("{s:s}", "report", hexof (rep->hash)), now, out, why);
}

/* An alert issued by m through the alert kind's own author. */
static void
alert (world_t *w, member_t *m, uint64_t t)
{
    const rcn_kind_t *ak = rcn_kind_by_name ("alert");
    REQUIRE (ak);
    json_t *req = json_pack ("{s:{s:s, s:s, s:s, s:I}, s:i}", "body", "action", "issue", "severity",
                             "moderate", "text", "cluster in the east district", "expires_ms",
                             (json_int_t) (t + DAYMS), "status", 0);
    rcn_entry_t *e = NULL;
    char why[512];
    int rc = author_with (w, ak, m, req, t, &e, why);
    json_decref (req);
    REQUIRE (rc == RCN_OK);
    CHECK (append_to (w->s, e, NULL));
}

/* ---- raw bodies, for what rcctl would never write ----------------------------------------- */

typedef struct {
    uint32_t kind, count;
} cnt_t;

typedef struct {
    const char *date;
    int minute;
    uint64_t slot_ms;
    const uint8_t *previous;               /* NULL: none */
    uint64_t from_seq;
    cnt_t counts[4];
    size_t n_counts;
    uint32_t owed, owed_overdue;
    uint64_t oldest_owed_ms;
} raw_report_t;

static size_t
pack_report (const raw_report_t *r, uint8_t buf[512])
{
    Rcn__RoundReport m = RCN__ROUND_REPORT__INIT;
    Rcn__RoundReport__Count cs[4], *cp[4];
    m.date = (char *) r->date;
    m.slot = (uint32_t) r->minute;
    m.slot_ms = r->slot_ms;
    if (r->previous) {
        m.previous.data = (uint8_t *) r->previous;
        m.previous.len = 32;
    }
    m.from_seq = r->from_seq;
    for (size_t i = 0; i < r->n_counts; i++) {
        rcn__round_report__count__init (&cs[i]);
        cs[i].kind = r->counts[i].kind;
        cs[i].count = r->counts[i].count;
        cp[i] = &cs[i];
    }
    m.counts = cp;
    m.n_counts = r->n_counts;
    m.owed = r->owed;
    m.owed_overdue = r->owed_overdue;
    m.oldest_owed_ms = r->oldest_owed_ms;
    REQUIRE (rcn__round_report__get_packed_size (&m) <= 512);
    return rcn__round_report__pack (&m, buf);
}

/* Signs r as m's next entry at t and appends it; whether it was applied, reason if not. */
static rcn_entry_t *
raw_report (world_t *w, member_t *m, const raw_report_t *r, uint64_t t, bool *valid, char *reason)
{
    uint8_t buf[512];
    size_t len = pack_report (r, buf);
    return put (w, m, REPORT, buf, len, t, valid, reason);
}

/* An ack of report `rep` naming `reporter`, quoting (seq, hash), signed by m at t (appended). */
static rcn_entry_t *
raw_ack (world_t *w, member_t *m, const uint8_t rep[32], const uint8_t reporter[32], uint64_t seq,
         const uint8_t hash[32], uint64_t t, bool *valid, char *reason)
{
    Rcn__RoundAck a = RCN__ROUND_ACK__INIT;
    a.report.data = (uint8_t *) rep;
    a.report.len = 32;
    a.reporter.data = (uint8_t *) reporter;
    a.reporter.len = 32;
    a.seq = seq;
    a.hash.data = (uint8_t *) hash;
    a.hash.len = 32;
    uint8_t buf[256];
    size_t len = rcn__round_ack__pack (&a, buf);
    return put (w, m, ACK, buf, len, t, valid, reason);
}

/* ---- list and auto_author ----------------------------------------------------------------- */

typedef struct {
    const json_t *query;
    const rcn_roster_t *roster;
    member_t *m;
    uint64_t now;
    json_t *out;
    int rc;
    char why[256];
} view_ctx_t;

static int
list_cb (const rcn_view_t *v, void *ctx)
{
    view_ctx_t *l = ctx;
    rcn_kind_env_t env = { .roster = l->roster };
    l->out = K->list (v, &env, l->query, l->now, l->why, sizeof l->why);
    return RCN_OK;
}

/* The kind's list for query (stolen) at now; NULL (why, 256 bytes, may be NULL) when refused. */
static json_t *
list_q (rcn_store_t *s, json_t *query, uint64_t now, char *why)
{
    view_ctx_t l = { .query = query, .roster = g_roster, .now = now };
    REQUIRE (rcn_store_read (s, K, list_cb, &l) == RCN_OK);
    json_decref (query);
    if (why)
        snprintf (why, 256, "%s", l.why);
    return l.out;
}

static json_t *
day (rcn_store_t *s, const char *date, uint64_t now)
{
    json_t *l = list_q (s, json_pack ("{s:s}", "date", date), now, NULL);
    REQUIRE (l);
    return l;
}

static int
auto_cb (const rcn_view_t *v, void *ctx)
{
    view_ctx_t *a = ctx;
    rcn_kind_env_t env = { .origin = a->m->pk, .region = a->m->region, .roster = g_roster };
    a->rc = K->auto_author (v, &env, a->now, a->out, a->why, sizeof a->why);
    return RCN_OK;
}

/* What m's node would author on its own at now (a new array). */
static json_t *
auto_of (rcn_store_t *s, member_t *m, uint64_t now)
{
    view_ctx_t a = { .m = m, .now = now, .out = json_array () };
    REQUIRE (rcn_store_read (s, K, auto_cb, &a) == RCN_OK);
    CHECK_EQ (a.rc, RCN_OK);
    return a.out;
}

/* How many of reqs are of verb. */
static size_t
n_verb (const json_t *reqs, const char *verb)
{
    size_t i, n = 0;
    json_t *r;
    json_array_foreach (reqs, i, r)
        n += strcmp (json_string_value (json_object_get (r, "verb")), verb) == 0;
    return n;
}

/* Whether reqs proposes an ack of rep. */
static bool
proposes_ack (const json_t *reqs, const rcn_entry_t *rep)
{
    size_t i;
    json_t *r;
    json_array_foreach (reqs, i, r) {
        const char *h = json_string_value (json_object_get (json_object_get (r, "body"), "report"));
        if (strcmp (json_string_value (json_object_get (r, "verb")), "ack") == 0 && h
            && strcmp (h, hexof (rep->hash)) == 0)
            return true;
    }
    return false;
}

/* Whether body is {"date": date, "slot": slot}. */
static bool
is_slot (const json_t *body, const char *date, const char *slot)
{
    json_t *want = slot_req (date, slot);
    bool same = json_equal (body, want);
    json_decref (want);
    return same;
}

/* Runs every proposal of reqs through the author, as the node does. */
static void
submit_all (world_t *w, member_t *m, const json_t *reqs, uint64_t now)
{
    size_t i;
    json_t *r;
    json_array_foreach (reqs, i, r) {
        char why[512];
        CHECK (strcmp (json_string_value (json_object_get (r, "kind")), "rounds") == 0);
        int rc = submit (w, m, json_string_value (json_object_get (r, "verb")),
                         json_incref (json_object_get (r, "body")), now, NULL, why);
        CHECK_EQ (rc, RCN_OK);
        if (rc != RCN_OK)
            fprintf (stderr, "    proposal refused: %s\n", why);
    }
}

/* The cell of region `code` at `slot` in a day's list (borrowed), or NULL. */
static const json_t *
cell (const json_t *l, const char *code, const char *slot)
{
    size_t i, j;
    json_t *m, *c;
    json_array_foreach (json_object_get (l, "members"), i, m) {
        if (strcmp (json_string_value (json_object_get (m, "region")), code) != 0)
            continue;
        json_array_foreach (json_object_get (m, "cells"), j, c)
            if (strcmp (json_string_value (json_object_get (c, "slot")), slot) == 0)
                return c;
    }
    return NULL;
}

static const char *
state (const json_t *l, const char *code, const char *slot)
{
    const json_t *c = cell (l, code, slot);
    const char *s = c ? json_string_value (json_object_get (c, "state")) : NULL;
    return s ? s : "?";
}

static long long
cell_int (const json_t *l, const char *code, const char *slot, const char *field)
{
    const json_t *c = cell (l, code, slot), *f = c ? json_object_get (c, field) : NULL;
    return json_is_integer (f) ? json_integer_value (f) : -1;
}

static const char *
cell_str (const json_t *l, const char *code, const char *slot, const char *field)
{
    const json_t *c = cell (l, code, slot);
    const char *s = c ? json_string_value (json_object_get (c, field)) : NULL;
    return s ? s : "";
}

static long long
tally (const json_t *l, const char *state)
{
    return json_integer_value (json_object_get (json_object_get (l, "tally"), state));
}

/* ---- 1. authoring a report ----------------------------------------------------------------- */

static void
test_author (void)
{
    world_t w;
    world_open (&w);
    char why[512];
    rcn_entry_t *e = NULL, *r10 = NULL, *r15 = NULL;
    uint64_t ms = 0;
    REQUIRE (rcn_slot_ms (rcn_roster_policy (g_roster), DAY, 600, &ms, why, sizeof why) == RCN_OK);
    CHECK_EQ (ms, SLOT10);
    REQUIRE (rcn_slot_ms (rcn_roster_policy (g_roster), DAY, 900, &ms, why, sizeof why) == RCN_OK);
    CHECK_EQ (ms, SLOT15);
    /* A's own entries of two other kinds, and B's, which A's counts must not include. */
    sealkey (&w, MA, T0 - 2 * HOUR);
    alert (&w, MA, T0 - 90 * MIN);
    alert (&w, MA, T0 - 60 * MIN);
    sealkey (&w, MB, T0 - 2 * HOUR);
    alert (&w, MB, T0 - 30 * MIN);
    CHECK_EQ (report (&w, MA, DAY, "10:00", SLOT10 - 1, &e, why), RCN_EINVAL);
    CHECK (strstr (why, "not come yet") != NULL);
    CHECK_EQ (report (&w, MA, DAY, "11:00", SLOT10 + HOUR, &e, why), RCN_EINVAL);
    CHECK (strstr (why, "not a slot") != NULL);
    CHECK_EQ (report (&w, MA, "2026-13-01", "10:00", SLOT10 + HOUR, &e, why), RCN_EINVAL);
    CHECK_EQ (report (&w, MA, DAY, "10:60", SLOT10 + HOUR, &e, why), RCN_EINVAL);
    CHECK_EQ (submit (&w, MA, "teleport", slot_req (DAY, "10:00"), SLOT10, &e, why), RCN_EINVAL);
    CHECK_EQ (MA->seq, 3);                 /* nothing was signed by the refusals */
    /* At the slot itself: accepted, and the entry applies (signed at its slot_ms). */
    CHECK_EQ (report (&w, MA, DAY, "10:00", SLOT10, &r10, why), RCN_OK);
    REQUIRE (r10);
    CHECK_EQ (r10->h.kind, REPORT);
    CHECK_EQ (r10->h.seq, 4);
    Rcn__RoundReport *m = rcn__round_report__unpack (NULL, r10->h.body_len, r10->h.body);
    REQUIRE (m);
    CHECK (strcmp (m->date, DAY) == 0);
    CHECK_EQ (m->slot, 600);
    CHECK_EQ (m->slot_ms, SLOT10);
    CHECK_EQ (m->previous.len, 0);
    CHECK_EQ (m->from_seq, 1);
    REQUIRE (m->n_counts == 2);
    CHECK_EQ (m->counts[0]->kind, ALERT);
    CHECK_EQ (m->counts[0]->count, 2);
    CHECK_EQ (m->counts[1]->kind, SEALKEY);
    CHECK_EQ (m->counts[1]->count, 1);
    CHECK_EQ (m->owed, 0);
    CHECK_EQ (m->oldest_owed_ms, 0);
    CHECK_EQ (m->sent_undelivered, 0);
    CHECK_EQ (m->transfers_overdue, 0);
    rcn__round_report__free_unpacked (m, NULL);
    /* The same slot again, and an earlier one: refused. */
    CHECK_EQ (report (&w, MA, DAY, "10:00", SLOT10 + 5 * MIN, &e, why), RCN_EINVAL);
    CHECK (strstr (why, "already reported") != NULL);
    CHECK_EQ (report (&w, MA, "2026-11-21", "15:00", SLOT10 + 5 * MIN, &e, why), RCN_EINVAL);
    CHECK_EQ (MA->seq, 4);
    /* One alert later, the 15:00 report (after its slot) chains to the 10:00 one. */
    alert (&w, MA, SLOT10 + HOUR);
    CHECK_EQ (report (&w, MA, DAY, "15:00", SLOT15 - 1, &e, why), RCN_EINVAL);
    CHECK_EQ (report (&w, MA, DAY, "15:00", SLOT15 + 30 * SEC, &r15, why), RCN_OK);
    REQUIRE (r15);
    m = rcn__round_report__unpack (NULL, r15->h.body_len, r15->h.body);
    REQUIRE (m);
    CHECK_EQ (m->slot, 900);
    CHECK_EQ (m->slot_ms, SLOT15);
    CHECK (m->previous.len == 32 && memcmp (m->previous.data, r10->hash, 32) == 0);
    CHECK_EQ (m->from_seq, 5);
    CHECK (m->n_counts == 1 && m->counts[0]->kind == ALERT && m->counts[0]->count == 1);
    rcn__round_report__free_unpacked (m, NULL);
    /* The next day's 10:00, with nothing written since: no counts at all. */
    CHECK_EQ (report (&w, MA, "2026-11-23", "10:00", SLOT10 + DAYMS + MIN, &e, why), RCN_OK);
    REQUIRE (e);
    m = rcn__round_report__unpack (NULL, e->h.body_len, e->h.body);
    REQUIRE (m);
    CHECK (m->previous.len == 32 && memcmp (m->previous.data, r15->hash, 32) == 0);
    CHECK_EQ (m->from_seq, r15->h.seq + 1);
    CHECK_EQ (m->n_counts, 0);
    rcn__round_report__free_unpacked (m, NULL);
    /* A cannot acknowledge its own report; B can, once. */
    CHECK_EQ (ack (&w, MA, r10, SLOT15 + HOUR, &e, why), RCN_EINVAL);
    CHECK (strstr (why, "own report") != NULL);
    CHECK_EQ (ack (&w, MB, r10, SLOT15 + HOUR, &e, why), RCN_OK);
    CHECK_EQ (ack (&w, MB, r10, SLOT15 + HOUR, &e, why), RCN_EINVAL);
    CHECK (strstr (why, "already") != NULL);
    CHECK_EQ (invalid_count (w.s), 0);
    world_close (&w);
}

/* ---- 2. apply: what the chain shows wrong is recorded invalid ------------------------------ */

/* Signs r as B's next report at t; it must be recorded invalid with a reason naming `expect`. */
static rcn_entry_t *
bad15 (world_t *w, raw_report_t r, uint64_t t, const char *expect)
{
    bool valid = true;
    char reason[256];
    uint64_t before = invalid_count (w->s);
    rcn_entry_t *e = raw_report (w, MB, &r, t, &valid, reason);
    CHECK (!valid);
    CHECK_EQ (invalid_count (w->s), before + 1);
    if (!strstr (reason, expect)) {
        CHECK (!"invalid for the expected reason");
        fprintf (stderr, "    expected \"%s\", got \"%s\"\n", expect, reason);
    }
    return e;
}

static void
test_apply (void)
{
    world_t w;
    world_open (&w);
    sealkey (&w, MA, T0);
    sealkey (&w, MB, T0);                                                   /* B seq 1 */
    sealkey (&w, MC, T0);
    bool valid;
    char reason[256], why[512];
    raw_report_t r10 = { .date = DAY, .minute = 600, .slot_ms = SLOT10, .from_seq = 1,
                         .counts = { { SEALKEY, 1 } }, .n_counts = 1 };
    /* Signed a second before its slot. */
    raw_report (&w, MB, &r10, SLOT10 - 1, &valid, reason);                  /* seq 2 */
    CHECK (!valid);
    CHECK (strstr (reason, "before its slot") != NULL);
    CHECK_EQ (invalid_count (w.s), 1);
    json_t *l = day (w.s, DAY, SLOT10 + HOUR);
    CHECK (strcmp (state (l, "320000", "10:00"), "missing") == 0);
    json_decref (l);
    /* The valid first report: counts cover seqs 1..2, the invalid report included. */
    r10.counts[0] = (cnt_t) { REPORT, 1 };
    r10.counts[1] = (cnt_t) { SEALKEY, 1 };
    r10.n_counts = 2;
    rcn_entry_t *first = raw_report (&w, MB, &r10, SLOT10 + 10 * SEC, &valid, reason);   /* seq 3 */
    CHECK (valid);
    if (!valid)
        fprintf (stderr, "    %s\n", reason);
    l = day (w.s, DAY, SLOT10 + HOUR);
    CHECK (strcmp (state (l, "320000", "10:00"), "on_time") == 0);
    CHECK (strcmp (cell_str (l, "320000", "10:00", "report"), hexof (first->hash)) == 0);
    CHECK_EQ (cell_int (l, "320000", "10:00", "seq"), 3);
    json_decref (l);

    /* Each of these is B's 15:00 report but for one field (the valid one: previous = first,
     * from_seq 4, counts by kind of seqs 4 .. seq-1). */
    raw_report_t ok = { .date = DAY, .minute = 900, .slot_ms = SLOT15, .previous = first->hash,
                        .from_seq = 4 };
    raw_report_t r = r10;                                                   /* seq 4 */
    r.previous = first->hash;
    r.from_seq = 4;
    r.n_counts = 0;
    bad15 (&w, r, SLOT15, "not after");                     /* 10:00 again */
    r.date = "2026-11-21";
    r.minute = 900;
    r.slot_ms = SLOT15 - DAYMS;                                             /* seq 5 */
    bad15 (&w, r, SLOT15, "not after");                     /* an earlier slot */
    uint8_t other[32];
    memset (other, 0xab, 32);
    r = ok;
    r.previous = other;                                                     /* seq 6 */
    bad15 (&w, r, SLOT15 + 1 * SEC, "previous");
    r.previous = NULL;                                                      /* seq 7 */
    bad15 (&w, r, SLOT15 + 2 * SEC, "previous");
    r = ok;
    r.from_seq = 3;                                                         /* seq 8 */
    bad15 (&w, r, SLOT15 + 3 * SEC, "start at seq 4");
    r.from_seq = 5;                                                         /* seq 9 */
    bad15 (&w, r, SLOT15 + 4 * SEC, "start at seq 4");
    r = ok;
    r.counts[0] = (cnt_t) { REPORT, 1 };
    r.counts[1] = (cnt_t) { ALERT, 1 };
    r.n_counts = 2;                                                         /* seq 10 */
    bad15 (&w, r, SLOT15 + 5 * SEC, "ascending");
    r.counts[0] = (cnt_t) { ALERT, 0 };
    r.counts[1] = (cnt_t) { REPORT, 1 };                                    /* seq 11 */
    bad15 (&w, r, SLOT15 + 6 * SEC, "ascending");
    r.counts[0] = (cnt_t) { REPORT, 1 };
    r.counts[1] = (cnt_t) { REPORT, 1 };                                    /* seq 12 */
    bad15 (&w, r, SLOT15 + 7 * SEC, "ascending");          /* a kind twice */
    r = ok;
    r.counts[0] = (cnt_t) { REPORT, 10 };  /* seqs 4..12 are only 9 entries */
    r.n_counts = 1;                                                         /* seq 13 */
    bad15 (&w, r, SLOT15 + 8 * SEC, "more entries");
    r = ok;
    r.owed = 1;
    r.owed_overdue = 2;
    r.oldest_owed_ms = T0;                                                  /* seq 14 */
    bad15 (&w, r, SLOT15 + 9 * SEC, "owed");
    r.owed = 0;
    r.owed_overdue = 0;                                                     /* seq 15 */
    bad15 (&w, r, SLOT15 + 10 * SEC, "owed");                /* oldest without any owed */
    CHECK_EQ (invalid_count (w.s), 13);
    /* The view is untouched: the 15:00 cell is still waiting, 10:00 still names the first. */
    l = day (w.s, DAY, SLOT15 + GRACE);
    CHECK (strcmp (state (l, "320000", "15:00"), "pending") == 0);
    CHECK (strcmp (cell_str (l, "320000", "10:00", "report"), hexof (first->hash)) == 0);
    json_decref (l);
    /* The valid second report: seqs 4..15 are 12 reports; counts may cover less than all. */
    r = ok;
    r.counts[0] = (cnt_t) { REPORT, 12 };
    r.n_counts = 1;
    r.owed = 2;
    r.owed_overdue = 1;
    r.oldest_owed_ms = T0;
    rcn_entry_t *second = raw_report (&w, MB, &r, SLOT15 + 11 * SEC, &valid, reason);  /* seq 16 */
    CHECK (valid);
    if (!valid)
        fprintf (stderr, "    %s\n", reason);
    l = day (w.s, DAY, SLOT15 + GRACE);
    CHECK (strcmp (state (l, "320000", "15:00"), "on_time") == 0);
    CHECK (strcmp (cell_str (l, "320000", "15:00", "report"), hexof (second->hash)) == 0);
    CHECK_EQ (json_integer_value (json_object_get (json_object_get (cell (l, "320000", "15:00"), "owed"),
                                                   "overdue")), 1);
    json_decref (l);
    /* The next report must name the second, not an invalid one after it. */
    raw_report_t r3 = { .date = "2026-11-23", .minute = 600, .slot_ms = SLOT10 + DAYMS,
                        .previous = w.log[w.n - 2]->hash, .from_seq = 17 };
    raw_report (&w, MB, &r3, SLOT10 + DAYMS, &valid, reason);                          /* seq 17 */
    CHECK (!valid);
    CHECK (strstr (reason, "previous") != NULL);
    r3.previous = second->hash;
    r3.counts[0] = (cnt_t) { REPORT, 1 };
    r3.n_counts = 1;
    raw_report (&w, MB, &r3, SLOT10 + DAYMS, &valid, reason);                          /* seq 18 */
    CHECK (valid);
    if (!valid)
        fprintf (stderr, "    %s\n", reason);
    /* A report whose date and slot (11-23 10:00) are not what its slot_ms (11-23 15:00) is in
     * the roster's zone: apply cannot tell without the roster; list ignores it, visibly. */
    raw_report_t r4 = { .date = "2026-11-23", .minute = 600, .slot_ms = SLOT15 + DAYMS,
                        .previous = w.log[w.n - 1]->hash, .from_seq = 19 };
    rcn_entry_t *skewed = raw_report (&w, MB, &r4, SLOT15 + DAYMS + SEC, &valid, reason);  /* seq 19 */
    CHECK (valid);
    l = day (w.s, "2026-11-23", SLOT15 + DAYMS + HOUR);
    CHECK (strcmp (state (l, "320000", "15:00"), "missing") == 0);
    CHECK (strcmp (state (l, "320000", "10:00"), "on_time") == 0);
    const json_t *ig = json_object_get (cell (l, "320000", "15:00"), "ignored");
    CHECK (ig && strcmp (json_string_value (json_object_get (ig, "report")), hexof (skewed->hash)) == 0);
    json_decref (l);

    /* Acks: A's (authored) is applied; A's second and B's of its own are invalid. */
    uint64_t before = invalid_count (w.s);
    rcn_entry_t *a1 = NULL;
    CHECK_EQ (ack (&w, MA, first, SLOT15 + HOUR, &a1, why), RCN_OK);
    uint64_t hb = 0;
    uint8_t hh[32];
    REQUIRE (rcn_store_head (w.s, MB->pk, &hb, hh) == RCN_OK);
    raw_ack (&w, MA, first->hash, MB->pk, hb, hh, SLOT15 + HOUR + 1, &valid, reason);
    CHECK (!valid);
    CHECK (strstr (reason, "already acknowledged") != NULL);
    raw_ack (&w, MB, first->hash, MB->pk, 3, first->hash, SLOT15 + HOUR + 2, &valid, reason);
    CHECK (!valid);
    CHECK (strstr (reason, "own report") != NULL);
    raw_ack (&w, MC, first->hash, MB->pk, 0, first->hash, SLOT15 + HOUR + 3, &valid, reason);
    CHECK (!valid);                        /* seq 0 quotes nothing */
    CHECK_EQ (invalid_count (w.s), before + 3);
    /* C's proper ack after its malformed one still counts: the bad one took no place. */
    raw_ack (&w, MC, first->hash, MB->pk, 3, first->hash, SLOT15 + HOUR + 4, &valid, reason);
    CHECK (valid);
    l = day (w.s, DAY, SLOT15 + 2 * HOUR);
    CHECK_EQ (cell_int (l, "320000", "10:00", "acks"), 2);
    json_decref (l);
    /* The chains did not stall. */
    uint64_t head = 0;
    CHECK_EQ (rcn_store_head (w.s, MB->pk, &head, NULL), RCN_OK);
    CHECK_EQ (head, MB->seq);
    world_close (&w);
}

/* ---- 3. auto_author ------------------------------------------------------------------------ */

static void
test_auto (void)
{
    world_t w;
    world_open (&w);
    bool valid;
    char reason[256];
    /* A was there four days ago and reported 2026-11-19 10:00: out of the 48 h window now. */
    sealkey (&w, MA, T0 - 4 * DAYMS);
    raw_report_t old = { .date = "2026-11-19", .minute = 600, .slot_ms = SLOT10 - 3 * DAYMS,
                         .from_seq = 1, .counts = { { SEALKEY, 1 } }, .n_counts = 1 };
    rcn_entry_t *old_rep = raw_report (&w, MA, &old, SLOT10 - 3 * DAYMS + MIN, &valid, reason);
    CHECK (valid);
    sealkey (&w, MB, T0);                  /* born before 10:00 */
    sealkey (&w, MC, SLOT10 + 30 * SEC);   /* born after 10:00 */
    uint64_t now = SLOT10 + MIN;
    json_t *ra = auto_of (w.s, MA, now), *rb = auto_of (w.s, MB, now), *rc = auto_of (w.s, MC, now);
    CHECK_EQ (json_array_size (ra), 1);
    CHECK_EQ (n_verb (ra, "report"), 1);
    json_t *b = json_object_get (json_array_get (ra, 0), "body");
    CHECK (is_slot (b, DAY, "10:00"));
    CHECK_EQ (json_array_size (rb), 1);   /* its report; no ack of A's 11-19 report */
    CHECK_EQ (n_verb (rb, "report"), 1);
    CHECK (!proposes_ack (rb, old_rep));
    CHECK_EQ (json_array_size (rc), 0);   /* not born at 10:00; nothing to acknowledge */
    /* The window: at 11-19 10:01 B (not yet born) would have acknowledged A's report. */
    json_t *early = auto_of (w.s, MB, SLOT10 - 3 * DAYMS + 2 * MIN);
    CHECK (proposes_ack (early, old_rep));
    CHECK_EQ (n_verb (early, "report"), 0);
    json_decref (early);
    submit_all (&w, MA, ra, now);
    json_decref (ra);
    json_decref (rc);
    rcn_entry_t *a10 = w.log[w.n - 1];
    CHECK_EQ (a10->h.kind, REPORT);
    /* Once reported, A proposes nothing; B and C each an ack of A's report. */
    now = SLOT10 + 2 * MIN;
    ra = auto_of (w.s, MA, now);
    CHECK_EQ (json_array_size (ra), 0);
    json_decref (ra);
    json_decref (rb);
    rb = auto_of (w.s, MB, now);
    CHECK_EQ (json_array_size (rb), 2);
    CHECK_EQ (n_verb (rb, "report"), 1);
    CHECK (proposes_ack (rb, a10));
    submit_all (&w, MB, rb, now);
    json_decref (rb);
    rcn_entry_t *b10 = NULL;
    for (size_t i = w.n; i-- > 0 && !b10;)
        if (w.log[i]->h.kind == REPORT && memcmp (w.log[i]->h.origin, MB->pk, 32) == 0)
            b10 = w.log[i];
    REQUIRE (b10);
    rb = auto_of (w.s, MB, now);
    CHECK_EQ (json_array_size (rb), 0);
    json_decref (rb);
    rc = auto_of (w.s, MC, now);
    CHECK_EQ (json_array_size (rc), 2);
    CHECK_EQ (n_verb (rc, "report"), 0);
    CHECK (proposes_ack (rc, a10) && proposes_ack (rc, b10));
    submit_all (&w, MC, rc, now);
    json_decref (rc);
    rc = auto_of (w.s, MC, now);
    CHECK_EQ (json_array_size (rc), 0);
    json_decref (rc);
    ra = auto_of (w.s, MA, now);
    CHECK_EQ (json_array_size (ra), 1);
    CHECK (proposes_ack (ra, b10));
    submit_all (&w, MA, ra, now);
    json_decref (ra);
    /* 15:00 reached: C, born at 10:00:30, now reports; A and B too. */
    now = SLOT15 + SEC;
    for (int i = 0; i < 3; i++) {
        json_t *reqs = auto_of (w.s, &M[i], now);
        CHECK_EQ (json_array_size (reqs), 1);
        CHECK (is_slot (json_object_get (json_array_get (reqs, 0), "body"), DAY, "15:00"));
        json_decref (reqs);
    }
    /* X's reports are not the roster's: nobody acknowledges them on its own. */
    sealkey (&w, MX, T0);
    raw_report_t xr = { .date = DAY, .minute = 600, .slot_ms = SLOT10, .from_seq = 1,
                        .counts = { { SEALKEY, 1 } }, .n_counts = 1 };
    rcn_entry_t *xrep = raw_report (&w, MX, &xr, SLOT10 + MIN, &valid, reason);
    CHECK (valid);
    json_t *reqs = auto_of (w.s, MA, now);
    CHECK (!proposes_ack (reqs, xrep));
    json_decref (reqs);
    CHECK_EQ (invalid_count (w.s), 0);
    world_close (&w);
}

/* ---- 4. list ------------------------------------------------------------------------------- */

/* The rounds of DAY, for list, arrival orders and the proof:
 *   10:00  A on time (at slot + grace exactly), acked by B, C and X (outsider), and by itself
 *          (invalid); B late (slot + grace + 1 ms), acked by A and by C quoting another hash
 *          at B's report seq (a split view); C missing.
 *   15:00  A at +10 s, acked at +20 s and +30 s; B at +300 s, acked twice at +60 s (clock
 *          ahead 240 s); C at +100 s, acked twice at +40 s (60 s: not ahead). Equal ack
 *          times make the median the same whichever middle an even count takes. */
typedef struct {
    rcn_entry_t *a10, *b10, *a15, *b15, *c15;
    rcn_entry_t *x_ack, *self_ack;         /* X's ack of A's 10:00 report; A's own (invalid) */
    uint8_t forged[32];
} rounds_t;

static void
rounds_build (world_t *w, rounds_t *r)
{
    char why[512];
    bool valid;
    for (int i = 0; i < 4; i++)
        sealkey (w, &M[i], T0 - HOUR);
    CHECK_EQ (report (w, MA, DAY, "10:00", SLOT10 + GRACE, &r->a10, why), RCN_OK);
    CHECK_EQ (report (w, MB, DAY, "10:00", SLOT10 + GRACE + 1, &r->b10, why), RCN_OK);
    REQUIRE (r->a10 && r->b10);
    CHECK_EQ (ack (w, MB, r->a10, SLOT10 + GRACE + 2, NULL, why), RCN_OK);
    CHECK_EQ (ack (w, MC, r->a10, SLOT10 + GRACE + 3, NULL, why), RCN_OK);
    r->x_ack = raw_ack (w, MX, r->a10->hash, MA->pk, r->a10->h.seq, r->a10->hash, SLOT10 + GRACE + 4,
                        &valid, NULL);
    CHECK (valid);
    r->self_ack = raw_ack (w, MA, r->a10->hash, MA->pk, r->a10->h.seq, r->a10->hash,
                           SLOT10 + GRACE + 5, &valid, NULL);
    CHECK (!valid);
    CHECK_EQ (ack (w, MA, r->b10, SLOT10 + GRACE + 6, NULL, why), RCN_OK);
    memset (r->forged, 0x5a, 32);
    raw_ack (w, MC, r->b10->hash, MB->pk, r->b10->h.seq, r->forged, SLOT10 + GRACE + 7, &valid, NULL);
    CHECK (valid);
    CHECK_EQ (report (w, MA, DAY, "15:00", SLOT15 + 10 * SEC, &r->a15, why), RCN_OK);
    CHECK_EQ (report (w, MB, DAY, "15:00", SLOT15 + 300 * SEC, &r->b15, why), RCN_OK);
    CHECK_EQ (report (w, MC, DAY, "15:00", SLOT15 + 100 * SEC, &r->c15, why), RCN_OK);
    REQUIRE (r->a15 && r->b15 && r->c15);
    CHECK_EQ (ack (w, MB, r->a15, SLOT15 + 20 * SEC, NULL, why), RCN_OK);
    CHECK_EQ (ack (w, MC, r->a15, SLOT15 + 30 * SEC, NULL, why), RCN_OK);
    CHECK_EQ (ack (w, MA, r->b15, SLOT15 + 60 * SEC, NULL, why), RCN_OK);
    CHECK_EQ (ack (w, MC, r->b15, SLOT15 + 60 * SEC, NULL, why), RCN_OK);
    CHECK_EQ (ack (w, MA, r->c15, SLOT15 + 40 * SEC, NULL, why), RCN_OK);
    CHECK_EQ (ack (w, MB, r->c15, SLOT15 + 40 * SEC, NULL, why), RCN_OK);
}

/* Whether cell's acked_by lists exactly the regions given (NULL-terminated). */
static bool
acked_by (const json_t *c, ...)
{
    va_list ap;
    va_start (ap, c);
    size_t n = 0;
    bool ok = true;
    for (const char *code; (code = va_arg (ap, const char *)); n++) {
        bool found = false;
        size_t i;
        json_t *a;
        json_array_foreach (json_object_get (c, "acked_by"), i, a)
            found |= strcmp (json_string_value (json_object_get (a, "region")), code) == 0;
        ok &= found;
    }
    va_end (ap);
    return ok && json_array_size (json_object_get (c, "acked_by")) == n;
}

/* Whether cell's ignored_acks lists ack a, by region `code` (NULL: not looked at), for
 * exactly `reason`. */
static bool
ignored (const json_t *c, const char *code, const rcn_entry_t *a, const char *reason)
{
    size_t i;
    json_t *g;
    json_array_foreach (json_object_get (c, "ignored_acks"), i, g) {
        const char *ack = json_string_value (json_object_get (g, "ack"));
        const char *region = json_string_value (json_object_get (g, "region"));
        const char *why = json_string_value (json_object_get (g, "reason"));
        if (ack && strcmp (ack, hexof (a->hash)) == 0)
            return (!code || (region && strcmp (region, code) == 0)) && why && strcmp (why, reason) == 0;
    }
    return false;
}

static void
test_list (void)
{
    world_t w;
    world_open (&w);
    rounds_t r;
    rounds_build (&w, &r);
    json_t *l = day (w.s, DAY, SLOT15 + HOUR);
    CHECK (strcmp (json_string_value (json_object_get (l, "date")), DAY) == 0);
    CHECK_EQ (json_array_size (json_object_get (l, "slots")), 2);
    CHECK_EQ (json_array_size (json_object_get (l, "members")), 3);      /* X is not shown */
    CHECK (strcmp (state (l, "310000", "10:00"), "on_time") == 0);
    CHECK (strcmp (state (l, "320000", "10:00"), "late") == 0);
    CHECK (strcmp (state (l, "330000", "10:00"), "missing") == 0);
    CHECK (strcmp (state (l, "310000", "15:00"), "on_time") == 0);
    CHECK (strcmp (state (l, "320000", "15:00"), "on_time") == 0);
    CHECK (strcmp (state (l, "330000", "15:00"), "on_time") == 0);
    CHECK_EQ (tally (l, "on_time"), 4);
    CHECK_EQ (tally (l, "late"), 1);
    CHECK_EQ (tally (l, "missing"), 1);
    CHECK_EQ (cell_int (l, "310000", "10:00", "time_ms"), (long long) (SLOT10 + GRACE));
    CHECK_EQ (cell_int (l, "310000", "10:00", "seq"), (long long) r.a10->h.seq);
    /* Acks: B and C for A's report — not X, not A itself. */
    const json_t *c = cell (l, "310000", "10:00");
    CHECK_EQ (cell_int (l, "310000", "10:00", "acks"), 2);
    CHECK_EQ (cell_int (l, "310000", "10:00", "of"), 2);
    CHECK (acked_by (c, "320000", "330000", NULL));
    CHECK (json_object_get (c, "split_view") == NULL);
    /* X's ack is shown as ignored, and why (X has no region in the roster to be named by). */
    CHECK_EQ (json_array_size (json_object_get (c, "ignored_acks")), 1);
    CHECK (ignored (c, NULL, r.x_ack, "not by a peer of the reporter in the roster"));
    /* B's report: A's ack and C's conflicting one; C's is the split view. */
    c = cell (l, "320000", "10:00");
    CHECK_EQ (cell_int (l, "320000", "10:00", "acks"), 2);
    CHECK (acked_by (c, "310000", "330000", NULL));
    CHECK (json_object_get (c, "ignored_acks") == NULL);      /* a split view still counts */
    const json_t *sv = json_object_get (c, "split_view");
    CHECK_EQ (json_array_size (sv), 1);
    const json_t *s0 = json_array_get (sv, 0);
    CHECK (s0 && strcmp (json_string_value (json_object_get (s0, "region")), "330000") == 0);
    CHECK (s0 && strcmp (json_string_value (json_object_get (s0, "quoted")), hexof (r.forged)) == 0);
    CHECK (s0 && strcmp (json_string_value (json_object_get (s0, "held")), hexof (r.b10->hash)) == 0);
    CHECK (s0 && json_integer_value (json_object_get (s0, "seq")) == (json_int_t) r.b10->h.seq);
    sv = json_object_get (l, "split_view");
    CHECK_EQ (json_array_size (sv), 1);
    s0 = json_array_get (sv, 0);
    CHECK (s0 && strcmp (json_string_value (json_object_get (s0, "reporter")), "320000") == 0);
    CHECK (s0 && strcmp (json_string_value (json_object_get (s0, "slot")), "10:00") == 0);
    CHECK_EQ (cell_int (l, "330000", "10:00", "acks"), 0);
    /* Clocks: B's 15:00 report 240 s after the median of its acks; C's exactly 60 s: fine. */
    CHECK_EQ (cell_int (l, "320000", "15:00", "clock_ahead_s"), 240);
    CHECK (json_object_get (cell (l, "310000", "15:00"), "clock_ahead_s") == NULL);
    CHECK (json_object_get (cell (l, "330000", "15:00"), "clock_ahead_s") == NULL);
    CHECK_EQ (cell_int (l, "330000", "15:00", "acks"), 2);
    CHECK (json_object_get (cell (l, "330000", "15:00"), "split_view") == NULL);
    CHECK (json_object_get (cell (l, "310000", "15:00"), "ignored_acks") == NULL);
    json_decref (l);

    /* C's missing 10:00 against now: pending through the grace, missing after it. */
    l = day (w.s, DAY, SLOT10 + GRACE);
    CHECK (strcmp (state (l, "330000", "10:00"), "pending") == 0);
    json_decref (l);
    l = day (w.s, DAY, SLOT10 + GRACE + 1);
    CHECK (strcmp (state (l, "330000", "10:00"), "missing") == 0);
    json_decref (l);
    /* The next day, which nobody has reported yet: due, pending, missing. */
    uint64_t next10 = SLOT10 + DAYMS;
    l = day (w.s, "2026-11-23", next10 - 1);
    CHECK_EQ (tally (l, "due"), 6);
    json_decref (l);
    l = day (w.s, "2026-11-23", next10);
    CHECK (strcmp (state (l, "310000", "10:00"), "pending") == 0);
    CHECK (strcmp (state (l, "310000", "15:00"), "due") == 0);
    CHECK_EQ (tally (l, "pending"), 3);
    CHECK_EQ (tally (l, "due"), 3);
    json_decref (l);
    l = day (w.s, "2026-11-23", next10 + GRACE + 1);
    CHECK_EQ (tally (l, "missing"), 3);
    CHECK_EQ (tally (l, "due"), 3);
    json_decref (l);

    /* "last": only the latest slot reached. */
    char why[256];
    l = list_q (w.s, json_pack ("{s:b}", "last", 1), SLOT15 + HOUR, why);
    REQUIRE (l);
    CHECK_EQ (json_array_size (json_object_get (l, "slots")), 1);
    CHECK (strcmp (json_string_value (json_array_get (json_object_get (l, "slots"), 0)), "15:00") == 0);
    CHECK (cell (l, "320000", "15:00") && !cell (l, "320000", "10:00"));
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b}", "last", 1), SLOT10 + HOUR, why);
    REQUIRE (l);
    CHECK (strcmp (json_string_value (json_array_get (json_object_get (l, "slots"), 0)), "10:00") == 0);
    CHECK (strcmp (state (l, "320000", "10:00"), "late") == 0);
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b}", "last", 1), next10 - 1, why);    /* 11-23 09:59:59.999 */
    REQUIRE (l);
    CHECK (strcmp (json_string_value (json_object_get (l, "date")), DAY) == 0);
    CHECK (strcmp (json_string_value (json_array_get (json_object_get (l, "slots"), 0)), "15:00") == 0);
    json_decref (l);

    /* The proof of one slot. */
    l = list_q (w.s, json_pack ("{s:b, s:s, s:s}", "proof", 1, "date", DAY, "slot", "15:00"),
                SLOT15 + HOUR, why);
    REQUIRE (l);
    CHECK_EQ (json_integer_value (json_object_get (l, "rcn_round_proof")), 1);
    CHECK_EQ (json_integer_value (json_object_get (l, "slot_ms")), (json_int_t) SLOT15);
    CHECK_EQ (json_array_size (json_object_get (l, "reports")), 3);
    CHECK_EQ (json_array_size (json_object_get (json_array_get (json_object_get (l, "reports"), 0),
                                                "acks")), 2);
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b, s:s, s:s, s:s}", "proof", 1, "date", DAY, "slot", "10:00",
                                "region", "320000"), SLOT15 + HOUR, why);
    REQUIRE (l);
    CHECK_EQ (json_array_size (json_object_get (l, "reports")), 1);
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b, s:s, s:s}", "proof", 1, "date", "2026-11-23", "slot", "10:00"),
                SLOT15 + HOUR, why);
    CHECK (l == NULL && strstr (why, "no report") != NULL);
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b, s:s, s:s}", "proof", 1, "date", DAY, "slot", "11:00"),
                SLOT15 + HOUR, why);
    CHECK (l == NULL);
    json_decref (l);
    world_close (&w);
}

/* ---- 5. invariant 8: arrival order does not matter ---------------------------------------- */

/* Feeds w's entries to a fresh store, each origin's in its own order, origins interleaved at
 * random; returns the day's list and the 10:00 proof (sorted keys) and the invalid count. */
static void
replay (const world_t *w, unsigned seed, uint64_t now, char **list_out, char **proof_out,
        uint64_t *invalid)
{
    char *dir;
    rcn_store_t *s = store_open (&dir);
    const rcn_entry_t *by[4][LOG_MAX];
    size_t nby[4] = { 0 }, next[4] = { 0 };
    for (size_t i = 0; i < w->n; i++)
        for (int m = 0; m < 4; m++)
            if (memcmp (w->log[i]->h.origin, M[m].pk, 32) == 0)
                by[m][nby[m]++] = w->log[i];
    for (size_t left = w->n; left > 0;) {
        int m = (int) (rand_r (&seed) % 4);
        if (next[m] == nby[m])
            continue;
        append_to (s, (rcn_entry_t *) by[m][next[m]++], NULL);
        left--;
    }
    json_t *l = day (s, DAY, now);
    *list_out = json_dumps (l, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (l);
    l = list_q (s, json_pack ("{s:b, s:s, s:s}", "proof", 1, "date", DAY, "slot", "10:00"), now, NULL);
    *proof_out = l ? json_dumps (l, JSON_COMPACT | JSON_SORT_KEYS) : strdup ("null");
    json_decref (l);
    *invalid = invalid_count (s);
    store_close (&s, dir);
}

static void
test_arrival_orders (void)
{
    world_t w;
    world_open (&w);
    rounds_t r;
    rounds_build (&w, &r);
    uint64_t now = SLOT15 + HOUR;
    json_t *l = day (w.s, DAY, now);
    char *want = json_dumps (l, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (l);
    l = list_q (w.s, json_pack ("{s:b, s:s, s:s}", "proof", 1, "date", DAY, "slot", "10:00"), now, NULL);
    REQUIRE (l);
    char *want_proof = json_dumps (l, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (l);
    uint64_t want_invalid = invalid_count (w.s);
    CHECK_EQ (want_invalid, 1);
    int same = 0, same_proof = 0, same_invalid = 0;
    for (unsigned seed = 1; seed <= 10; seed++) {
        char *got, *got_proof;
        uint64_t inv;
        replay (&w, seed, now, &got, &got_proof, &inv);
        same += strcmp (got, want) == 0;
        same_proof += strcmp (got_proof, want_proof) == 0;
        same_invalid += inv == want_invalid;
        if (strcmp (got, want) != 0)
            fprintf (stderr, "    seed %u: list differs\n      %s\n      %s\n", seed, want, got);
        free (got);
        free (got_proof);
    }
    CHECK_EQ (same, 10);
    CHECK_EQ (same_proof, 10);
    CHECK_EQ (same_invalid, 10);
    free (want);
    free (want_proof);
    world_close (&w);
}

/* ---- 6. the proof, verified offline ------------------------------------------------------- */

static int
verify_file (const char *path, const rcn_roster_t *roster)
{
    json_t *req = json_pack ("{s:s, s:s, s:s}", "verb", "verify", "op", "local", "file", path);
    fflush (stdout);
    int rc = K->local (req, roster, NULL, false);
    fflush (stdout);
    json_decref (req);
    return rc;
}

static void
write_json (const char *path, const json_t *j)
{
    REQUIRE (json_dump_file (j, path, JSON_INDENT (2) | JSON_SORT_KEYS) == 0);
}

/* verify_file with the JSON verdict captured from stdout into *out (caller decrefs); the exit
 * code, which must agree with the verdict's "valid". */
static int
verify_json (const char *path, const rcn_roster_t *roster, json_t **out)
{
    char cap[600];
    snprintf (cap, sizeof cap, "%s.out", path);
    json_t *req = json_pack ("{s:s, s:s, s:s}", "verb", "verify", "op", "local", "file", path);
    fflush (stdout);
    int saved = dup (STDOUT_FILENO), fd = open (cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE (saved >= 0 && fd >= 0);
    dup2 (fd, STDOUT_FILENO);
    close (fd);
    int rc = K->local (req, roster, NULL, true);
    fflush (stdout);
    dup2 (saved, STDOUT_FILENO);
    close (saved);
    json_decref (req);
    json_error_t jerr;
    *out = json_load_file (cap, 0, &jerr);
    if (!*out)
        fprintf (stderr, "    verify printed no JSON: %s\n", jerr.text);
    REQUIRE (*out != NULL);
    CHECK_EQ (json_is_true (json_object_get (*out, "valid")), rc == 0);
    return rc;
}

/* Whether one of the verdict's problems contains text; when none does, prints them. */
static bool
has_problem (const json_t *v, const char *text)
{
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get (v, "problems"), i, p)
        if (strstr (json_string_value (p), text))
            return true;
    fprintf (stderr, "    no problem says \"%s\":\n", text);
    json_array_foreach (json_object_get (v, "problems"), i, p)
        fprintf (stderr, "      %s\n", json_string_value (p));
    return false;
}

/* e as a proof carries it: {"signed", "sig"} in base64. Caller owns. */
static json_t *
entry_of (const rcn_entry_t *e)
{
    char *sb = rcn_base64 (e->signed_bytes, e->signed_len), *sg = rcn_base64 (e->sig, RCN_SIG_SIZE);
    REQUIRE (sb && sg);
    json_t *o = json_pack ("{s:s, s:s}", "signed", sb, "sig", sg);
    free (sb);
    free (sg);
    return o;
}

/* `field` ("acks", "cosigned_by") of the proof's or the verdict's report i (borrowed). */
static json_t *
acks_of (const json_t *p, size_t i, const char *field)
{
    return json_object_get (json_array_get (json_object_get (p, "reports"), i), field);
}

/* Whether the proof's report i carries ack a. */
static bool
carries (const json_t *p, size_t i, const rcn_entry_t *a)
{
    json_t *want = entry_of (a), *j;
    size_t k;
    bool found = false;
    json_array_foreach (acks_of (p, i, "acks"), k, j)
        found |= json_equal (j, want);
    json_decref (want);
    return found;
}

/* The proof of `region`'s report at DAY `slot` carries n_acks acks, not `bad`, and verifies
 * with each of them a co-signature; with `bad` put in by hand, verify refuses it for `reason`
 * and still lists the n_acks. Its files go in dir. */
static void
proof_leaves_out (rcn_store_t *s, const char *slot, const char *region, size_t n_acks,
                  const rcn_entry_t *bad, const char *reason, const char *dir)
{
    char path[512], why[256];
    json_t *p = list_q (s, json_pack ("{s:b, s:s, s:s, s:s}", "proof", 1, "date", DAY, "slot", slot,
                                      "region", region), SLOT15 + HOUR, why);
    REQUIRE (p);
    REQUIRE (json_array_size (json_object_get (p, "reports")) == 1);
    CHECK_EQ (json_array_size (acks_of (p, 0, "acks")), n_acks);
    CHECK (!carries (p, 0, bad));
    snprintf (path, sizeof path, "%s/left-out.json", dir);
    write_json (path, p);
    json_t *v = NULL;
    CHECK_EQ (verify_json (path, g_roster, &v), 0);
    CHECK_EQ (json_array_size (acks_of (v, 0, "cosigned_by")), n_acks);
    json_decref (v);
    json_array_append_new (acks_of (p, 0, "acks"), entry_of (bad));
    snprintf (path, sizeof path, "%s/put-back.json", dir);
    write_json (path, p);
    CHECK_EQ (verify_json (path, g_roster, &v), 1);
    CHECK (has_problem (v, reason));
    CHECK_EQ (json_array_size (acks_of (v, 0, "cosigned_by")), n_acks);
    json_decref (v);
    json_decref (p);
}

static void
test_proof (void)
{
    world_t w;
    world_open (&w);
    rounds_t r;
    rounds_build (&w, &r);
    char *dir = rcn_test_tmpdir ("round-proof"), path[512], bad[512], junk[512], why[256];
    snprintf (path, sizeof path, "%s/proof.json", dir);
    snprintf (bad, sizeof bad, "%s/tampered.json", dir);
    snprintf (junk, sizeof junk, "%s/junk.json", dir);
    json_t *p = list_q (w.s, json_pack ("{s:b, s:s, s:s}", "proof", 1, "date", DAY, "slot", "15:00"),
                        SLOT15 + HOUR, why);
    REQUIRE (p);
    write_json (path, p);
    CHECK_EQ (verify_file (path, g_roster), 0);
    CHECK_EQ (verify_file (path, NULL), 0);      /* no local roster: the proof's own */
    /* A's 10:00 proof: B's and C's acks, not X's, and it verifies; X's ack or A's own
     * (refused by apply, but signed) put in by hand: refused. */
    proof_leaves_out (w.s, "10:00", "310000", 2, r.x_ack, "signed by a key that is not in the roster",
                      dir);
    proof_leaves_out (w.s, "10:00", "310000", 2, r.self_ack,
                      "not by a peer of the reporter in the roster", dir);
    /* Another member's roster (another grace, another hash): refused. */
    rcn_roster_t *other = roster_make (601);
    CHECK_EQ (verify_file (path, other), 1);
    rcn_roster_destroy (&other);
    /* One byte of one ack's signature flipped. */
    json_t *t = json_deep_copy (p);
    json_t *a = json_array_get (json_object_get (json_array_get (json_object_get (t, "reports"), 1),
                                                 "acks"), 0);
    REQUIRE (a);
    uint8_t *sig = NULL;
    size_t sl = 0;
    REQUIRE (rcn_unbase64 (json_string_value (json_object_get (a, "sig")), &sig, &sl) == RCN_OK);
    REQUIRE (sl == 64);
    sig[17] ^= 0x01;
    char *b64 = rcn_base64 (sig, sl);
    json_object_set_new (a, "sig", json_string (b64));
    free (b64);
    free (sig);
    write_json (bad, t);
    CHECK_EQ (verify_file (bad, g_roster), 1);
    /* The same on the report's own signature. */
    json_decref (t);
    t = json_deep_copy (p);
    json_t *re = json_object_get (json_array_get (json_object_get (t, "reports"), 0), "entry");
    REQUIRE (rcn_unbase64 (json_string_value (json_object_get (re, "sig")), &sig, &sl) == RCN_OK);
    sig[0] ^= 0x80;
    b64 = rcn_base64 (sig, sl);
    json_object_set_new (re, "sig", json_string (b64));
    free (b64);
    free (sig);
    write_json (bad, t);
    CHECK_EQ (verify_file (bad, g_roster), 1);
    json_decref (t);
    /* The 10:00 proof carries C's split-view quote of B's head: invalid. */
    json_decref (p);
    p = list_q (w.s, json_pack ("{s:b, s:s, s:s, s:s}", "proof", 1, "date", DAY, "slot", "10:00",
                                "region", "320000"), SLOT15 + HOUR, why);
    REQUIRE (p);
    write_json (bad, p);
    CHECK_EQ (verify_file (bad, g_roster), 1);
    json_decref (p);
    /* Not a proof at all, or no file: a usage error. */
    FILE *f = fopen (junk, "w");
    REQUIRE (f);
    fputs ("{\"rcn_roster\": 1}\n", f);
    fclose (f);
    CHECK_EQ (verify_file (junk, g_roster), 2);
    f = fopen (junk, "w");
    REQUIRE (f);
    fputs ("not json at all\n", f);
    fclose (f);
    CHECK_EQ (verify_file (junk, g_roster), 2);
    snprintf (junk, sizeof junk, "%s/absent.json", dir);
    CHECK_EQ (verify_file (junk, g_roster), 2);
    rcn_test_rmtree (dir);
    free (dir);
    world_close (&w);
}

/* ---- 7. acks apply cannot judge ------------------------------------------------------------ */

/* A reports at 10:00 and 15:00 and B acknowledges both as its node would. C acknowledges the
 * 10:00 report naming B as its reporter, and the 15:00 one quoting A's head below the report
 * (seq and hash of the 10:00 report: held, but not this report). apply cannot judge either
 * without the report: both are stored valid, and must not count. */
static void
test_ignored_acks (void)
{
    world_t w;
    world_open (&w);
    char why[512], reason[256];
    bool valid;
    rcn_entry_t *a10 = NULL, *a15 = NULL;
    for (int i = 0; i < 3; i++)
        sealkey (&w, &M[i], T0 - HOUR);
    CHECK_EQ (report (&w, MA, DAY, "10:00", SLOT10 + MIN, &a10, why), RCN_OK);
    REQUIRE (a10);
    CHECK_EQ (ack (&w, MB, a10, SLOT10 + 2 * MIN, NULL, why), RCN_OK);
    rcn_entry_t *other = raw_ack (&w, MC, a10->hash, MB->pk, a10->h.seq, a10->hash,
                                  SLOT10 + 3 * MIN, &valid, reason);
    CHECK (valid);
    CHECK_EQ (report (&w, MA, DAY, "15:00", SLOT15 + MIN, &a15, why), RCN_OK);
    REQUIRE (a15);
    CHECK_EQ (a15->h.seq, a10->h.seq + 1);
    CHECK_EQ (ack (&w, MB, a15, SLOT15 + 2 * MIN, NULL, why), RCN_OK);
    rcn_entry_t *below = raw_ack (&w, MC, a15->hash, MA->pk, a10->h.seq, a10->hash,
                                  SLOT15 + 3 * MIN, &valid, reason);
    CHECK (valid);
    CHECK_EQ (invalid_count (w.s), 0);
    /* list: B's ack counts, C's is shown as ignored, with the reason. */
    json_t *l = day (w.s, DAY, SLOT15 + HOUR);
    const json_t *c = cell (l, "310000", "10:00");
    CHECK_EQ (cell_int (l, "310000", "10:00", "acks"), 1);
    CHECK_EQ (cell_int (l, "310000", "10:00", "of"), 2);
    CHECK (acked_by (c, "320000", NULL));
    CHECK_EQ (json_array_size (json_object_get (c, "ignored_acks")), 1);
    CHECK (ignored (c, "330000", other, "names another reporter than the report's"));
    CHECK (json_object_get (c, "split_view") == NULL);
    c = cell (l, "310000", "15:00");
    CHECK_EQ (cell_int (l, "310000", "15:00", "acks"), 1);
    CHECK (acked_by (c, "320000", NULL));
    CHECK_EQ (json_array_size (json_object_get (c, "ignored_acks")), 1);
    CHECK (ignored (c, "330000", below, "quotes a head below the report"));
    CHECK (json_object_get (c, "split_view") == NULL);
    json_decref (l);
    /* The proofs leave C's acks out and verify; put back in by hand, they are refused. */
    char *dir = rcn_test_tmpdir ("round-ignored");
    proof_leaves_out (w.s, "10:00", "310000", 1, other, "names another reporter than the report's",
                      dir);
    proof_leaves_out (w.s, "15:00", "310000", 1, below, "quotes a head below the report", dir);
    rcn_test_rmtree (dir);
    free (dir);
    world_close (&w);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    alliance_init ();
    RUN (test_author);
    RUN (test_apply);
    RUN (test_auto);
    RUN (test_list);
    RUN (test_arrival_orders);
    RUN (test_proof);
    RUN (test_ignored_acks);
    rcn_roster_destroy (&g_roster);
    return rcn_test_done ();
}
