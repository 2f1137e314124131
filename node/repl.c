/* repl.c — replication's decisions (see repl.h). No sockets, no threads: the node's loop owns
 * this object and calls it with what arrived and the time. */
#include "rcn/repl.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/codec.h"
#include "rcn/log.h"

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
    size_t peer;
    uint64_t from_seq;
    uint64_t request_id;
    uint64_t sent_at;
} inflight_t;

typedef struct {
    uint64_t seq;
    uint8_t *wire;
    size_t len;
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
    held_list_t held[RCN_MAX_MEMBERS];    /* by origin */
    probe_t probes[RCN_MAX_MEMBERS];      /* by origin */
    size_t held_total;
    size_t held_bytes;
    uint64_t next_id;
    size_t rr;                            /* round-robin start for fairness among origins */
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

/* Ingests held entries of origin o that now follow the head. */
static void
held_drain (rcn_repl_t *r, size_t o)
{
    held_list_t *h = &r->held[o];
    for (;;) {
        uint64_t head = our_head (r, o);
        held_drop_upto (r, o, head);
        if (h->n == 0 || h->items[0].seq != head + 1)
            return;
        const uint8_t *w = h->items[0].wire;
        size_t len = h->items[0].len;
        int res;
        if (rcn_ingest (r->store, &w, &len, 1, &res, &r->stats.ingest) != RCN_OK || res != RCN_OK) {
            held_drop_upto (r, o, head + 1);    /* refused: the pull will bring the real one */
            return;
        }
        r->stats.live_stored++;
    }
}

static void
hold (rcn_repl_t *r, size_t peer, size_t o, uint64_t seq, const uint8_t *wire, size_t len)
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
    h->items[at] = (held_t) { seq, copy, len };
    h->n++;
    r->held_total++;
    r->held_bytes += len;
    r->stats.held++;
    h->want = true;
    h->want_peer = peer;
}

void
rcn_repl_on_live (rcn_repl_t *r, size_t peer, const uint8_t *wire, size_t len, uint64_t now)
{
    (void) now;
    rcn_peer_info_t *pi = &r->peers[peer].info;
    pi->live_entries++;
    /* Members whose rosters differ do not sync at all (DESIGN §2), and until a peer's
     * heartbeat shows which roster it holds, what it publishes waits for anti-entropy. */
    if (!pi->heard || pi->roster_mismatch) {
        r->stats.live_refused++;
        return;
    }
    rcn_entry_t *e = NULL;
    size_t o;
    if (rcn_entry_decode (wire, len, &e) != RCN_OK || !origin_index (r, e->h.origin, &o)) {
        r->stats.ingest.malformed++;
        rcn_entry_destroy (&e);
        return;
    }
    uint64_t seq = e->h.seq, head = our_head (r, o);
    if (head == UINT64_MAX) {
        rcn_entry_destroy (&e);
        return;
    }
    if (seq > head + 1) {
        /* Only what its origin signed may take a place in the bounded buffer: a forger must
         * not crowd out real entries waiting for their gap. */
        if (rcn_entry_verify (e) != RCN_OK)
            r->stats.ingest.bad_sig++;
        else
            hold (r, peer, o, seq, wire, len);
        rcn_entry_destroy (&e);
        return;
    }
    rcn_entry_destroy (&e);
    int res;
    if (rcn_ingest (r->store, &wire, &len, 1, &res, &r->stats.ingest) != RCN_OK)
        return;
    if (res == RCN_OK)
        r->stats.live_stored++;
    else if (res == RCN_EDUP)
        r->stats.live_dup++;
    held_drain (r, o);
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

void
rcn_repl_on_pull_reply (rcn_repl_t *r, size_t peer, const rcn_pull_reply_t *rep, uint64_t now)
{
    (void) now;
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
    f->active = false;
    peer_t *p = &r->peers[peer];
    p->info.pulls_answered++;
    if (rep->error != 0 || rep->n_entries == 0) {
        stall (r, peer, o, now);
        return;
    }
    int *res = calloc (rep->n_entries, sizeof *res);
    if (!res)
        return;
    rcn_ingest_stats_t before = r->stats.ingest;
    if (rcn_ingest_chunk (r->store, rep->origin, rep->entries, rep->entry_lens, rep->n_entries,
                          res, &r->stats.ingest) == RCN_OK) {
        uint64_t stored = r->stats.ingest.stored - before.stored;
        p->info.entries_pulled += stored;
        r->stats.chunk_stored += stored;
        r->stats.chunk_refused += r->stats.ingest.refused - before.refused
                                + r->stats.ingest.bad_sig - before.bad_sig;
        if (stored == 0)
            stall (r, peer, o, now);    /* a diverged chain or a tampering relay: not again soon */
        for (size_t i = 0; i < rep->n_entries; i++) {
            if (res[i] != RCN_ESIG && res[i] != RCN_ECHAIN)
                continue;
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
        uint64_t head = our_head (r, o);
        if (stored == 0 && res[0] == RCN_ECHAIN && head != UINT64_MAX && head > 0
            && !r->probes[o].active)
            r->probes[o] = (probe_t) { true, peer, head };
    }
    free (res);
    held_drain (r, o);
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
            r->peers[f->peer].info.pulls_timed_out++;
            doubt (r, f->peer, i, now);   /* unanswered: its claim is not believed for a while */
        }
    }
}

/* The up, roster-matching peer announcing the most of origin o beyond `beyond`, preferring
 * `prefer`; r->n when none. */
static size_t
best_peer (rcn_repl_t *r, size_t o, uint64_t beyond, size_t prefer, uint64_t now)
{
    size_t best = r->n;
    uint64_t best_seq = beyond;
    for (size_t i = 0; i < r->n; i++) {
        const peer_t *p = &r->peers[i];
        if (i == r->self || !p->info.up || p->info.roster_mismatch)
            continue;
        uint64_t s = p->heads[o].seq;
        if (p->stall_until[o] > now && s <= p->stall_seq[o])
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
        inflight += r->pulls[o].active;
    for (size_t k = 0; k < r->n && planned < max && inflight < RCN_REPL_PULLS_MAX; k++) {
        size_t o = (r->rr + k) % r->n;
        if (r->pulls[o].active || forked (r, o))
            continue;                     /* forks are evidence, not something to fetch forever */
        probe_t *pr = &r->probes[o];
        if (pr->active && r->peers[pr->peer].info.up) {
            pr->active = false;
            inflight_t *f = &r->pulls[o];
            *f = (inflight_t) { true, pr->peer, pr->seq, r->next_id++, now };
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
        size_t peer = best_peer (r, o, head, prefer, now);
        if (peer == r->n)
            continue;
        inflight_t *f = &r->pulls[o];
        *f = (inflight_t) { true, peer, head + 1, r->next_id++, now };
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
