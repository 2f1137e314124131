/* repl.c — replication's decisions (see repl.h). No sockets, no threads of its own: the node's
 * loop owns this object and calls it with what arrived and the time. Live entries come in
 * batches and go to the store as one group (its signatures checked on the verification pool's
 * threads, one synced commit); what the store cannot take yet for a gap waits in `held`. */
#include "rcn/repl.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/codec.h"
#include "rcn/log.h"
#include "rcn/recovery.h"

typedef struct {
    uint64_t seq;
    uint8_t hash[RCN_HASH_SIZE];
    uint64_t fork_seq;
} peer_head_t;

typedef struct {
    rcn_peer_info_t info;
    peer_head_t heads[RCN_MAX_MEMBERS];  /* by origin's roster index */
    uint64_t stall_until[RCN_MAX_MEMBERS];   /* mono ms: no pulls of that origin from it */
    uint64_t stall_seq[RCN_MAX_MEMBERS];     /* its head for that origin when it stalled */
    uint64_t bad_hb_logged;                  /* mono ms of the last warning about it */
    uint64_t refused_logged;                 /* … and about entries of it we refused */
    uint64_t doubt_until[RCN_MAX_MEMBERS];   /* its claim of that origin is not believed */
    uint64_t doubt_seq[RCN_MAX_MEMBERS];
} peer_t;

typedef struct {
    bool active;
    bool ahead;                           /* sent before the reply it follows was ingested */
    size_t peer;
    uint64_t from_seq;
    uint64_t request_id;
    uint64_t sent_at;
} inflight_t;

typedef struct {
    uint64_t seq;
    uint8_t *wire;
    size_t len;
    uint64_t lost_first;                  /* a Recovery's first lost seq; 0 for any other */
} held_t;

typedef struct {
    held_t *items;                        /* sorted by seq */
    size_t n, cap;
    size_t want_peer;                     /* who has what fills the gap before them */
    bool want;
} held_list_t;

/* A seq at which a peer's chain seems to differ from ours: pulled once, to get the evidence. */
typedef struct {
    bool active;
    size_t peer;
    uint64_t seq;
} probe_t;

struct rcn_repl {
    rcn_store_t *store;
    const rcn_roster_t *roster;
    size_t self, n;
    peer_t peers[RCN_MAX_MEMBERS];
    inflight_t pulls[RCN_MAX_MEMBERS];    /* by origin */
    inflight_t ahead[RCN_MAX_MEMBERS];    /* by origin: the follow-up of pulls[o], same peer */
    held_list_t held[RCN_MAX_MEMBERS];    /* by origin */
    probe_t probes[RCN_MAX_MEMBERS];      /* by origin */
    size_t held_total;
    size_t held_bytes;
    uint64_t next_id;
    size_t rr;                            /* round-robin start for fairness among origins */
    rcn_vpool_t *pool;                    /* borrowed; NULL: checks on the caller's thread */
    rcn_repl_stats_t stats;
};

int
rcn_repl_new (rcn_store_t *store, const rcn_roster_t *roster, size_t self, rcn_repl_t **out)
{
    assert (store && roster && out && self < rcn_roster_count (roster));
    rcn_repl_t *r = calloc (1, sizeof *r);
    if (!r)
        return RCN_ENOMEM;
    r->store = store;
    r->roster = roster;
    r->self = self;
    r->n = rcn_roster_count (roster);
    r->next_id = 1;
    *out = r;
    return RCN_OK;
}

void
rcn_repl_destroy (rcn_repl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_repl_t *r = *self_p;
    for (size_t o = 0; o < r->n; o++) {
        for (size_t i = 0; i < r->held[o].n; i++)
            free (r->held[o].items[i].wire);
        free (r->held[o].items);
    }
    free (r);
    *self_p = NULL;
}

void
rcn_repl_set_pool (rcn_repl_t *r, rcn_vpool_t *pool)
{
    assert (r);
    r->pool = pool;
}

static bool
origin_index (const rcn_repl_t *r, const uint8_t origin[RCN_KEY_SIZE], size_t *idx)
{
    for (size_t i = 0; i < r->n; i++)
        if (memcmp (rcn_roster_member (r->roster, i)->sign_key, origin, RCN_KEY_SIZE) == 0) {
            *idx = i;
            return true;
        }
    return false;
}

static const uint8_t *
origin_key (const rcn_repl_t *r, size_t o)
{
    return rcn_roster_member (r->roster, o)->sign_key;
}

static uint64_t
our_head (rcn_repl_t *r, size_t o)
{
    uint64_t seq = 0;
    if (rcn_store_head (r->store, origin_key (r, o), &seq, NULL) != RCN_OK)
        return UINT64_MAX;                /* unreadable: plan nothing for it */
    return seq;
}

static bool
forked (rcn_repl_t *r, size_t o)
{
    uint64_t fork_seq = 0;
    return rcn_store_forked (r->store, origin_key (r, o), &fork_seq) == RCN_OK && fork_seq > 0;
}

static bool forked (rcn_repl_t *r, size_t o);

/* Gives up origin o's follow-up pull: a reply to it will be stale. */
static void
drop_ahead (rcn_repl_t *r, size_t o)
{
    r->ahead[o].active = false;
}

static void stall (rcn_repl_t *r, size_t peer, size_t o, uint64_t now);
static void doubt (rcn_repl_t *r, size_t peer, size_t o, uint64_t now);

/* The peer announces, for a seq we hold, another hash than ours: two validly signed chains
 * of one origin exist somewhere. Pull that seq from it once; the store keeps the other entry
 * as evidence and marks the origin forked (invariant 7). */
static void
check_divergence (rcn_repl_t *r, size_t peer, size_t o)
{
    const peer_head_t *h = &r->peers[peer].heads[o];
    if (h->seq == 0 || r->probes[o].active || forked (r, o))
        return;
    uint64_t ours = our_head (r, o);
    if (ours == UINT64_MAX || h->seq > ours)
        return;
    rcn_entry_t *e = NULL;
    if (rcn_store_get (r->store, origin_key (r, o), h->seq, &e) != RCN_OK)
        return;
    if (memcmp (rcn_entry_hash (e), h->hash, RCN_HASH_SIZE) != 0) {
        r->probes[o] = (probe_t) { true, peer, h->seq };
        rcn_warn ("repl: peer %06u holds another entry than ours at seq %llu of %06u: fetching "
                  "it as fork evidence", rcn_roster_member (r->roster, peer)->region,
                  (unsigned long long) h->seq, rcn_roster_member (r->roster, o)->region);
    }
    rcn_entry_destroy (&e);
}

void
rcn_repl_on_heartbeat (rcn_repl_t *r, size_t peer, const rcn_heartbeat_t *hb, uint64_t now)
{
    assert (peer < r->n && peer != r->self);
    peer_t *p = &r->peers[peer];
    if (memcmp (hb->member, rcn_roster_member (r->roster, peer)->sign_key, RCN_KEY_SIZE) != 0) {
        r->stats.bad_heartbeats++;
        if (!p->bad_hb_logged || now - p->bad_hb_logged > 60000) {
            rcn_warn ("repl: a heartbeat on %06u's connection names another member: ignored "
                      "(%llu so far)", rcn_roster_member (r->roster, peer)->region,
                      (unsigned long long) r->stats.bad_heartbeats);
            p->bad_hb_logged = now;
        }
        return;
    }
    p->info.last_heard = now;
    p->info.heard = true;
    p->info.heartbeats++;
    if (!p->info.up)
        rcn_info ("repl: peer %06u is up", rcn_roster_member (r->roster, peer)->region);
    p->info.up = true;
    for (size_t i = 0; i < hb->n_heads; i++) {
        size_t o;
        if (!origin_index (r, hb->heads[i].origin, &o))
            continue;                     /* not a member: nothing of it would be stored */
        p->heads[o].seq = hb->heads[i].seq;
        memcpy (p->heads[o].hash, hb->heads[i].hash, RCN_HASH_SIZE);
        p->heads[o].fork_seq = hb->heads[i].fork_seq;
        check_divergence (r, peer, o);
    }
}

void
rcn_repl_roster_mismatch (rcn_repl_t *r, size_t peer, bool mismatch)
{
    r->peers[peer].info.roster_mismatch = mismatch;
}

static void
held_drop_upto (rcn_repl_t *r, size_t o, uint64_t head)
{
    held_list_t *h = &r->held[o];
    size_t k = 0;
    while (k < h->n && h->items[k].seq <= head) {
        r->held_total--;
        r->held_bytes -= h->items[k].len;
        free (h->items[k].wire);
        k++;
    }
    if (k > 0 && h->n > k)
        memmove (h->items, h->items + k, (h->n - k) * sizeof *h->items);
    h->n -= k;
    if (h->n == 0)
        h->want = false;
}

/* Ingests n live envelopes as one group, checked on the pool. An entry the store cannot take
 * yet for a gap (RCN_EGAP) waits — held, or dropped for anti-entropy — and is counted when it
 * is offered for good: it is neither received nor refused here. */
static int
ingest_live (rcn_repl_t *r, const uint8_t *const *wire, const size_t *len, size_t n, int *res)
{
    rcn_ingest_stats_t local = { 0 };
    int rc = rcn_ingest_pooled (r->store, r->pool, wire, len, n, res, &local);
    if (rc != RCN_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (res[i] == RCN_EGAP) {
            local.received--;
            local.refused--;
        }
    rcn_ingest_stats_add (&r->stats.ingest, &local);
    return RCN_OK;
}

/* Ingests, as one group, the held entries of origin o that now follow the head one after the
 * other (a held Recovery follows once the head reaches the seq before its lost span). The
 * first one the store refuses is dropped (a pull will bring the real one); those above it
 * wait on. */
static void
held_drain (rcn_repl_t *r, size_t o)
{
    held_list_t *h = &r->held[o];
    for (;;) {
        uint64_t head = our_head (r, o);
        if (head == UINT64_MAX)
            return;
        held_drop_upto (r, o, head);
        size_t k = 0;
        for (uint64_t next = head + 1; k < h->n; k++) {
            const held_t *it = &h->items[k];
            if (it->seq != next && !(it->lost_first && it->lost_first <= next && it->seq > next))
                break;
            next = it->seq + 1;
        }
        if (k == 0)
            return;
        const uint8_t **w = malloc (k * sizeof *w);
        size_t *len = malloc (k * sizeof *len);
        int *res = malloc (k * sizeof *res);
        int rc = w && len && res ? RCN_OK : RCN_ENOMEM;
        for (size_t i = 0; rc == RCN_OK && i < k; i++) {
            w[i] = h->items[i].wire;
            len[i] = h->items[i].len;
        }
        if (rc == RCN_OK)
            rc = ingest_live (r, w, len, k, res);
        size_t refused = k;                 /* the first not stored, if any */
        for (size_t i = 0; rc == RCN_OK && i < k; i++) {
            if (res[i] == RCN_OK)
                r->stats.live_stored++;
            else if (refused == k)
                refused = i;
        }
        uint64_t drop = rc != RCN_OK ? h->items[0].seq
                      : refused < k ? h->items[refused].seq : 0;
        free (w);
        free (len);
        free (res);
        if (drop) {
            held_drop_upto (r, o, drop);
            return;
        }
    }
}

static void
hold (rcn_repl_t *r, size_t peer, size_t o, uint64_t seq, uint64_t lost_first,
      const uint8_t *wire, size_t len)
{
    held_list_t *h = &r->held[o];
    if (r->held_total >= RCN_REPL_HELD_MAX || r->held_bytes + len > RCN_REPL_HELD_BYTES) {
        r->stats.held_dropped++;          /* anti-entropy brings it later */
        h->want = true;
        h->want_peer = peer;
        return;
    }
    size_t at = 0;
    while (at < h->n && h->items[at].seq < seq)
        at++;
    if (at < h->n && h->items[at].seq == seq)
        return;                           /* already held */
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        held_t *items = realloc (h->items, cap * sizeof *items);
        if (!items) {
            r->stats.held_dropped++;
            return;
        }
        h->items = items;
        h->cap = cap;
    }
    uint8_t *copy = malloc (len);
    if (!copy) {
        r->stats.held_dropped++;
        return;
    }
    memcpy (copy, wire, len);
    memmove (h->items + at + 1, h->items + at, (h->n - at) * sizeof *h->items);
    h->items[at] = (held_t) { seq, copy, len, lost_first };
    h->n++;
    r->held_total++;
    r->held_bytes += len;
    r->stats.held++;
    h->want = true;
    h->want_peer = peer;
}

/* A Recovery's first lost seq, 0 for any other entry (or a Recovery whose body says nothing
 * valid: the store treats it as any entry). The entry's signature has been checked. */
static uint64_t
lost_first_of (const uint8_t *wire, size_t len)
{
    rcn_entry_t *e = NULL;
    uint64_t first = 0, last = 0;
    if (rcn_entry_decode (wire, len, &e) != RCN_OK
        || e->h.kind != rcn_recovery_kind
        || rcn_recovery_span (e, &first, &last, NULL, 0) != RCN_OK)
        first = 0;
    rcn_entry_destroy (&e);
    return first;
}

typedef struct {
    size_t at;                            /* position in the batch */
    size_t peer, o;
    uint64_t seq;
    uint32_t kind;
} live_t;

static int
live_cmp (const void *a, const void *b)
{
    const live_t *x = a, *y = b;
    if (x->o != y->o)
        return x->o < y->o ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

void
rcn_repl_on_live_batch (rcn_repl_t *r, const size_t *peers, const uint8_t *const *wire,
                        const size_t *len, size_t n, uint64_t now)
{
    (void) now;
    assert (r && (n == 0 || (peers && wire && len)));
    if (n == 0)
        return;
    live_t *c = malloc (n * sizeof *c);
    const uint8_t **cw = malloc (n * sizeof *cw);
    size_t *cl = malloc (n * sizeof *cl);
    int *res = malloc (n * sizeof *res);
    bool touched[RCN_MAX_MEMBERS] = { false };
    if (!c || !cw || !cl || !res)
        goto done;                        /* anti-entropy brings them */
    /* Per entry, no crypto: who sent it, whether it parses and names a member. */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        assert (peers[i] < r->n);
        rcn_peer_info_t *pi = &r->peers[peers[i]].info;
        pi->live_entries++;
        /* Members whose rosters differ do not sync at all (DESIGN §2), and until a peer's
         * heartbeat shows which roster it holds, what it publishes waits for anti-entropy. */
        if (!pi->heard || pi->roster_mismatch) {
            r->stats.live_refused++;
            continue;
        }
        rcn_entry_t *e = NULL;
        size_t o;
        if (rcn_entry_decode (wire[i], len[i], &e) != RCN_OK || !origin_index (r, e->h.origin, &o)) {
            r->stats.ingest.malformed++;
            rcn_entry_destroy (&e);
            continue;
        }
        c[nc++] = (live_t) { i, peers[i], o, e->h.seq, e->h.kind };
        rcn_entry_destroy (&e);
    }
    /* By origin then seq (arrival order among equals): an origin's n, n+1, … arriving out of
     * order in one batch go in together, building on each other in the one commit. */
    qsort (c, nc, sizeof *c, live_cmp);
    for (size_t j = 0; j < nc; j++) {
        cw[j] = wire[c[j].at];
        cl[j] = len[c[j].at];
    }
    if (ingest_live (r, cw, cl, nc, res) != RCN_OK)
        goto done;                        /* nothing written: anti-entropy brings them */
    for (size_t j = 0; j < nc; j++) {
        touched[c[j].o] = true;
        if (res[j] == RCN_OK)
            r->stats.live_stored++;
        else if (res[j] == RCN_EDUP)
            r->stats.live_dup++;
        else if (res[j] == RCN_EGAP)
            /* Ahead of a gap, and validly signed (the store judged it only after its
             * signature checked): only what its origin signed may take a place in the
             * bounded buffer, so that a forger cannot crowd out real entries. A Recovery
             * waits for the seq before the span it declares lost, not for its own seq - 1. */
            hold (r, c[j].peer, c[j].o, c[j].seq,
                  c[j].kind == rcn_recovery_kind ? lost_first_of (cw[j], cl[j]) : 0, cw[j], cl[j]);
    }
    for (size_t o = 0; o < r->n; o++)
        if (touched[o])
            held_drain (r, o);
done:
    free (c);
    free (cw);
    free (cl);
    free (res);
}

void
rcn_repl_on_live (rcn_repl_t *r, size_t peer, const uint8_t *wire, size_t len, uint64_t now)
{
    rcn_repl_on_live_batch (r, &peer, &wire, &len, 1, now);
}

/* A pull from peer of origin o brought nothing: pull it from there again only after a while,
 * or sooner if the peer announces more. Forks and tampered relays are not fetched forever. */
static void
doubt (rcn_repl_t *r, size_t peer, size_t o, uint64_t now)
{
    peer_t *p = &r->peers[peer];
    p->doubt_until[o] = now + RCN_REPL_STALL_MS;
    p->doubt_seq[o] = p->heads[o].seq;
}

static void
stall (rcn_repl_t *r, size_t peer, size_t o, uint64_t now)
{
    peer_t *p = &r->peers[peer];
    doubt (r, peer, o, now);
    p->stall_until[o] = now + RCN_REPL_STALL_MS;
    p->stall_seq[o] = p->heads[o].seq;
    p->info.pulls_fruitless++;
}

/* Ingests a reply to pull f (no longer in flight) of origin o from peer. Returns false when
 * the reply brought nothing that could be stored (the pull's follow-up, if any, then cannot
 * continue our head either). */
static bool
take_reply (rcn_repl_t *r, size_t peer, size_t o, const inflight_t *f, const rcn_pull_reply_t *rep,
            uint64_t now)
{
    peer_t *p = &r->peers[peer];
    p->info.pulls_answered++;
    if (rep->error != 0 || rep->n_entries == 0) {
        stall (r, peer, o, now);
        return false;
    }
    /* A follow-up sent ahead of the one before it: if that one left our head short of where
     * this one starts, nothing here can be stored yet. No doubt on the peer (it sent what was
     * asked): the pull is planned again. */
    uint64_t head = our_head (r, o);
    if (f->ahead && (head == UINT64_MAX || f->from_seq > head + 1)) {
        r->stats.ahead_wasted++;
        return false;
    }
    int *res = calloc (rep->n_entries, sizeof *res);
    if (!res)
        return false;
    bool ok = true;
    rcn_ingest_stats_t before = r->stats.ingest;
    if (rcn_ingest_chunk_pooled (r->store, r->pool, rep->origin, rep->entries, rep->entry_lens,
                                 rep->n_entries, res, &r->stats.ingest) == RCN_OK) {
        uint64_t stored = r->stats.ingest.stored - before.stored;
        p->info.entries_pulled += stored;
        p->info.pull_sig_checks += r->stats.ingest.chunk_sig_checks - before.chunk_sig_checks;
        r->stats.chunk_stored += stored;
        r->stats.chunk_refused += r->stats.ingest.refused - before.refused
                                + r->stats.ingest.bad_sig - before.bad_sig;
        if (stored == 0) {
            ok = false;
            stall (r, peer, o, now);    /* a diverged chain or a tampering relay: not again soon */
        }
        for (size_t i = 0; i < rep->n_entries; i++) {
            if (res[i] != RCN_ESIG && res[i] != RCN_ECHAIN)
                continue;
            if (res[i] == RCN_ECHAIN && forked (r, o))
                break;                  /* the other branch of a known fork: no news */
            if (!p->refused_logged || now - p->refused_logged > 60000) {
                rcn_warn ("repl: peer %06u sent entries of %06u that were refused (%s, from seq "
                          "%llu on): a tampered or broken relay; taking them from others",
                          rcn_roster_member (r->roster, peer)->region,
                          rcn_roster_member (r->roster, o)->region, rcn_strerror (res[i]),
                          (unsigned long long) (rep->n_entries ? f->from_seq + i : 0));
                p->refused_logged = now;
            }
            break;
        }
        /* Its chain does not continue ours: the entries differ at or below our head. Fetch
         * its entry at our head's seq to see (a fork is evidence worth one more pull). */
        head = our_head (r, o);
        if (stored == 0 && res[0] == RCN_ECHAIN && head != UINT64_MAX && head > 0
            && !r->probes[o].active && !forked (r, o))
            r->probes[o] = (probe_t) { true, peer, head };
    }
    else
        ok = false;
    free (res);
    return ok;
}

void
rcn_repl_on_pull_reply (rcn_repl_t *r, size_t peer, const rcn_pull_reply_t *rep, uint64_t now)
{
    size_t o;
    if (!origin_index (r, rep->origin, &o)) {
        r->stats.stale_replies++;
        return;
    }
    inflight_t *f = &r->pulls[o];
    if (!f->active || f->peer != peer || f->request_id != rep->request_id) {
        r->stats.stale_replies++;         /* stale, or not ours: ignored */
        return;
    }
    inflight_t done = *f;
    f->active = false;
    bool ok = take_reply (r, peer, o, &done, rep, now);
    /* The follow-up, if one was sent, is now the pull in flight — unless this reply left
     * nothing for it to build on: then its reply will be stale. */
    if (r->ahead[o].active && ok)
        *f = r->ahead[o];
    r->ahead[o].active = false;
    held_drain (r, o);
}

bool
rcn_repl_pull_ahead (rcn_repl_t *r, size_t peer, const rcn_pull_reply_t *rep, uint64_t now,
                     rcn_pull_plan_t *out)
{
    assert (r && rep && out && peer < r->n);
    size_t o;
    if (rep->error != RCN_PULL_OK || rep->n_entries == 0 || !origin_index (r, rep->origin, &o))
        return false;
    inflight_t *f = &r->pulls[o];
    if (!f->active || f->peer != peer || f->request_id != rep->request_id || r->ahead[o].active
        || !r->peers[peer].info.up || r->probes[o].active)
        return false;
    size_t inflight = 0;
    for (size_t i = 0; i < r->n; i++)
        inflight += r->pulls[i].active + r->ahead[i].active;
    if (inflight >= RCN_REPL_PULLS_MAX)
        return false;
    /* Only a pull that continues our head (not a probe for fork evidence), whose entries run
     * on from from_seq (its last one's seq is at least from_seq + n - 1: more when a Recovery
     * skips a lost span; nothing else is parsed before ingest, which judges them all), of a
     * peer that says it holds more. */
    uint64_t head = our_head (r, o);
    if (head == UINT64_MAX || f->from_seq != head + 1)
        return false;
    rcn_entry_t *last = NULL;
    size_t k = rep->n_entries - 1;
    uint64_t last_seq = 0;
    if (rcn_entry_decode (rep->entries[k], rep->entry_lens[k], &last) == RCN_OK
        && memcmp (last->h.origin, rep->origin, RCN_KEY_SIZE) == 0)
        last_seq = last->h.seq;
    rcn_entry_destroy (&last);
    if (last_seq < f->from_seq + k || rep->head_seq <= last_seq)
        return false;
    r->ahead[o] = (inflight_t) { .active = true, .ahead = true, .peer = peer,
                                 .from_seq = last_seq + 1, .request_id = r->next_id++,
                                 .sent_at = now };
    r->peers[peer].info.pulls_sent++;
    r->stats.pulls_ahead++;
    *out = (rcn_pull_plan_t) { .peer = peer, .from_seq = last_seq + 1,
                               .request_id = r->ahead[o].request_id };
    memcpy (out->origin, rep->origin, RCN_KEY_SIZE);
    return true;
}

void
rcn_repl_tick (rcn_repl_t *r, uint64_t now)
{
    for (size_t i = 0; i < r->n; i++) {
        peer_t *p = &r->peers[i];
        if (i != r->self && p->info.up && now - p->info.last_heard > RCN_REPL_DOWN_MS) {
            p->info.up = false;
            rcn_warn ("repl: peer %06u is down (silent for %d ms)",
                      rcn_roster_member (r->roster, i)->region, RCN_REPL_DOWN_MS);
        }
        inflight_t *f = &r->pulls[i];
        if (f->active && now - f->sent_at > RCN_REPL_PULL_TIMEOUT_MS) {
            f->active = false;
            drop_ahead (r, i);            /* answered after this one, if at all: stale */
            r->peers[f->peer].info.pulls_timed_out++;
            doubt (r, f->peer, i, now);   /* unanswered: its claim is not believed for a while */
        }
    }
}

void
rcn_repl_link_lost (rcn_repl_t *r, size_t peer)
{
    assert (peer < r->n);
    for (size_t o = 0; o < r->n; o++)
        if (r->pulls[o].active && r->pulls[o].peer == peer) {
            r->pulls[o].active = false;
            drop_ahead (r, o);
            r->peers[peer].info.pulls_cut++;
        }
}

/* The up, roster-matching peer announcing the most of origin o beyond `beyond`, preferring
 * `prefer`; r->n when none. Of a forked origin, a peer whose pull brought nothing is not asked
 * again until it announces more: its chain is likely the other branch, and asking every
 * RCN_REPL_STALL_MS would fetch the fork forever. */
static size_t
best_peer (rcn_repl_t *r, size_t o, uint64_t beyond, size_t prefer, uint64_t now, bool fork)
{
    size_t best = r->n;
    uint64_t best_seq = beyond;
    for (size_t i = 0; i < r->n; i++) {
        const peer_t *p = &r->peers[i];
        if (i == r->self || !p->info.up || p->info.roster_mismatch)
            continue;
        uint64_t s = p->heads[o].seq;
        if ((p->stall_until[o] > now || (fork && p->stall_until[o])) && s <= p->stall_seq[o])
            continue;                     /* its last answer brought nothing */
        if (s > best_seq || (s > beyond && i == prefer && s == best_seq)) {
            best = i;
            best_seq = s;
        }
    }
    return best;
}

size_t
rcn_repl_plan_pulls (rcn_repl_t *r, uint64_t now, rcn_pull_plan_t *out, size_t max)
{
    size_t inflight = 0, planned = 0;
    for (size_t o = 0; o < r->n; o++)
        inflight += r->pulls[o].active + r->ahead[o].active;
    for (size_t k = 0; k < r->n && planned < max && inflight < RCN_REPL_PULLS_MAX; k++) {
        size_t o = (r->rr + k) % r->n;
        if (r->pulls[o].active)
            continue;
        /* A forked origin's chain still grows and is still pulled (its entries are kept,
         * though no view applies them): only fruitless pulls of it are not repeated. */
        bool fork = forked (r, o);
        probe_t *pr = &r->probes[o];
        if (pr->active && !fork && r->peers[pr->peer].info.up) {
            pr->active = false;
            inflight_t *f = &r->pulls[o];
            *f = (inflight_t) { .active = true, .peer = pr->peer, .from_seq = pr->seq,
                                .request_id = r->next_id++, .sent_at = now };
            r->peers[pr->peer].info.pulls_sent++;
            out[planned] = (rcn_pull_plan_t) { .peer = pr->peer, .from_seq = pr->seq,
                                               .request_id = f->request_id };
            memcpy (out[planned].origin, origin_key (r, o), RCN_KEY_SIZE);
            planned++;
            inflight++;
            continue;
        }
        uint64_t head = our_head (r, o);
        if (head == UINT64_MAX)
            continue;
        held_list_t *h = &r->held[o];
        size_t prefer = h->want ? h->want_peer : r->n;
        size_t peer = best_peer (r, o, head, prefer, now, fork);
        if (peer == r->n)
            continue;
        inflight_t *f = &r->pulls[o];
        *f = (inflight_t) { .active = true, .peer = peer, .from_seq = head + 1,
                            .request_id = r->next_id++, .sent_at = now };
        r->peers[peer].info.pulls_sent++;
        out[planned] = (rcn_pull_plan_t) { .peer = peer, .from_seq = head + 1,
                                           .request_id = f->request_id };
        memcpy (out[planned].origin, origin_key (r, o), RCN_KEY_SIZE);
        planned++;
        inflight++;
    }
    r->rr = r->n ? (r->rr + 1) % r->n : 0;
    return planned;
}

bool
rcn_repl_peer_holds (const rcn_repl_t *r, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
                     size_t *which)
{
    size_t o;
    if (!origin_index (r, origin, &o))
        return false;
    for (size_t i = 0; i < r->n; i++) {
        const peer_t *p = &r->peers[i];
        if (i != r->self && p->info.up && !p->info.roster_mismatch && p->heads[o].seq >= seq) {
            if (which)
                *which = i;
            return true;
        }
    }
    return false;
}

uint64_t
rcn_repl_best_known (const rcn_repl_t *r, const uint8_t origin[RCN_KEY_SIZE])
{
    size_t o;
    uint64_t best = 0;
    if (!origin_index (r, origin, &o))
        return 0;
    for (size_t i = 0; i < r->n; i++)
        if (i != r->self && r->peers[i].info.heard && r->peers[i].heads[o].seq > best)
            best = r->peers[i].heads[o].seq;
    return best;
}

bool
rcn_repl_unresolved_claim (const rcn_repl_t *r, const uint8_t origin[RCN_KEY_SIZE], uint64_t head,
                           uint64_t now, uint64_t *claimed)
{
    size_t o;
    uint64_t best = 0;
    if (!origin_index (r, origin, &o))
        return false;
    for (size_t i = 0; i < r->n; i++) {
        const peer_t *p = &r->peers[i];
        if (i == r->self || !p->info.up || p->info.roster_mismatch || p->heads[o].seq <= head)
            continue;
        if (p->doubt_until[o] > now && p->heads[o].seq <= p->doubt_seq[o])
            continue;                     /* asked already: it had nothing to show */
        if (p->heads[o].seq > best)
            best = p->heads[o].seq;
    }
    if (claimed)
        *claimed = best;
    return best > 0;
}

bool
rcn_repl_heard_all (const rcn_repl_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (i != r->self && !r->peers[i].info.heard)
            return false;
    return true;
}

const rcn_peer_info_t *
rcn_repl_peer (const rcn_repl_t *r, size_t peer)
{
    assert (peer < r->n);
    return &r->peers[peer].info;
}

uint64_t
rcn_repl_peer_head (const rcn_repl_t *r, size_t peer, const uint8_t origin[RCN_KEY_SIZE])
{
    size_t o;
    if (peer >= r->n || !origin_index (r, origin, &o))
        return 0;
    return r->peers[peer].heads[o].seq;
}

void
rcn_repl_stats (const rcn_repl_t *r, rcn_repl_stats_t *out)
{
    *out = r->stats;
}
