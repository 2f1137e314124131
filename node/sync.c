/* sync.c — a member's replication sockets (see sync.h).
 *
 * The one decision: who a message is from is decided by the connection it came on, never by
 * what it says. A SUB or DEALER socket is connected to exactly one peer, authenticated by
 * that peer's CURVE key; the ROUTER learns each client's key from ZAP (User-Id). A heartbeat
 * that names another member than its connection's is refused; entries need no such care,
 * since each carries its origin's signature and anyone may relay them. */
#include "rcn/sync.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/log.h"
#include "rcn/repl.h"
#include "rcn/transport.h"
#include "rcn/vpool.h"
#include "rcn/wire.h"

#define HEARTBEAT_MS 1000
#define MISMATCH_LOG_MS 60000
#define LIVE_BATCH RCN_INGEST_LIVE_GROUP /* live entries ingested as one group, at most */
#define SUB_BUDGET (2 * LIVE_BATCH) /* messages taken from one SUB socket per rcn_sync_handle */
#define SUB_SLICE 32                 /* … in turns of this many, so no peer starves the others */

/* A connection that ended, to be checked for having come back. */
typedef struct {
    uint64_t disconnects;            /* monitor's count when last looked at */
    uint64_t ok_before;              /* handshakes succeeded at that moment */
    uint64_t check_at;               /* mono ms; 0: nothing to check */
} recheck_t;

typedef struct {
    void *sub;                       /* to the peer's PUB */
    void *dealer;                    /* to the peer's ROUTER (sync) */
    char ep_sub[RCN_TRANSPORT_ENDPOINT_MAX];     /* what each dials (source form with a */
    char ep_dealer[RCN_TRANSPORT_ENDPOINT_MAX];  /* source address: disconnect with it) */
    void *mon_sub, *mon_dealer;
    rcn_transport_counts_t counts_sub, counts_dealer;
    recheck_t re_sub, re_dealer;
    uint64_t reconnects;
    uint64_t malformed;              /* frames from it we could not use */
    uint64_t mismatch_logged;        /* mono ms of the last roster-mismatch warning */
} link_t;

/* After a refused handshake libzmq 4.3 gives the endpoint up for good: we try again this
 * much later (the peer may have fixed its roster meanwhile). */
#define RECONNECT_MS 5000
#define REBIND_MS 1000               /* after a drill isolation, a bind that failed is retried */
#define REBIND_LOG_MS 10000

struct rcn_sync {
    const rcn_roster_t *roster;
    const rcn_keys_t *keys;
    rcn_store_t *store;
    size_t self, n;
    rcn_zap_t *zap;
    void *pub, *router;
    void *mon_pub, *mon_router;
    rcn_transport_counts_t counts_pub, counts_router;
    link_t links[RCN_MAX_MEMBERS];
    rcn_repl_t *repl;
    rcn_vpool_t *pool;               /* signature checks of live batches and pull replies */
    /* Live entries drained from the SUB sockets, ingested in groups of LIVE_BATCH (flush_live):
     * the frames are kept until then, the entries point into them. With checking threads, a
     * group is held back until the next one is drained behind it, its checks handed to the
     * pool ahead (rcn_ingest_prefetch): the workers check one group while the loop commits
     * the other. */
    zmq_msg_t live_msg[2 * LIVE_BATCH];
    const uint8_t *live_wire[2 * LIVE_BATCH];
    size_t live_len[2 * LIVE_BATCH], live_peer[2 * LIVE_BATCH];
    size_t nlive;
    uint64_t next_heartbeat;
    uint64_t served, serve_refused, router_malformed, published, publish_dropped;
    /* What a drill's isolation needs to open the sockets again (rcn_sync_isolate). */
    void *zctx;
    rcn_transport_opts_t opts, pub_opts;
    char source[RCN_TRANSPORT_ENDPOINT_MAX];   /* node.conf source_address; "" none */
    bool isolated;
    uint64_t rebind_at, rebind_logged;  /* mono ms; rebind_at 0: nothing to bind again */
    /* poll bookkeeping: which socket each returned item is */
    void *polled[2 + 2 * RCN_MAX_MEMBERS];
};

static const char *
region_of (const rcn_sync_t *s, size_t i, char buf[16])
{
    snprintf (buf, 16, "%06u", rcn_roster_member (s->roster, i)->region);
    return buf;
}

/* Binds PUB and ROUTER at this member's roster endpoints, each with its monitor, whichever is
 * not open (at the start, and again after a drill's isolation). */
static int
open_servers (rcn_sync_t *s, char *why, size_t whylen)
{
    const rcn_member_t *me = rcn_roster_member (s->roster, s->self);
    int rc = RCN_OK;
    if (!s->pub
        && ((rc = rcn_transport_bind (s->zctx, ZMQ_PUB, me->pub, rcn_keys_curve_secret (s->keys),
                                      &s->pub_opts, &s->pub, why, whylen)) != RCN_OK
            || (rc = rcn_transport_monitor (s->zctx, s->pub, "pub", &s->mon_pub)) != RCN_OK))
        return rc;
    if (!s->router
        && ((rc = rcn_transport_bind (s->zctx, ZMQ_ROUTER, me->sync,
                                      rcn_keys_curve_secret (s->keys), &s->opts, &s->router, why,
                                      whylen)) != RCN_OK
            || (rc = rcn_transport_monitor (s->zctx, s->router, "sync", &s->mon_router)) != RCN_OK))
        return rc;
    return RCN_OK;
}

/* Connects SUB and DEALER to peer i, each with its monitor, from the source address if any. */
static int
open_link (rcn_sync_t *s, size_t i, char *why, size_t whylen)
{
    const rcn_member_t *m = rcn_roster_member (s->roster, i);
    link_t *l = &s->links[i];
    assert (!l->sub && !l->dealer && !l->mon_sub && !l->mon_dealer);
    rcn_transport_opts_t o = s->opts;
    o.source = s->source;
    char label[32];
    int rc;
    if ((rc = rcn_transport_dial_endpoint (m->pub, s->source, l->ep_sub, sizeof l->ep_sub, why,
                                           whylen)) != RCN_OK
        || (rc = rcn_transport_dial_endpoint (m->sync, s->source, l->ep_dealer,
                                              sizeof l->ep_dealer, why, whylen)) != RCN_OK
        || (rc = rcn_transport_connect (s->zctx, ZMQ_SUB, m->pub, m->curve_key,
                                        rcn_keys_curve_public (s->keys),
                                        rcn_keys_curve_secret (s->keys), &o, &l->sub, why,
                                        whylen)) != RCN_OK
        || (rc = rcn_transport_connect (s->zctx, ZMQ_DEALER, m->sync, m->curve_key,
                                        rcn_keys_curve_public (s->keys),
                                        rcn_keys_curve_secret (s->keys), &o, &l->dealer, why,
                                        whylen)) != RCN_OK)
        return rc;
    snprintf (label, sizeof label, "sub %06u", m->region);
    if ((rc = rcn_transport_monitor (s->zctx, l->sub, label, &l->mon_sub)) != RCN_OK)
        return rc;
    snprintf (label, sizeof label, "dealer %06u", m->region);
    return rcn_transport_monitor (s->zctx, l->dealer, label, &l->mon_dealer);
}

int
rcn_sync_open (void *zctx, const rcn_roster_t *roster, const rcn_keys_t *keys, rcn_store_t *store,
               const rcn_sync_opts_t *opts, rcn_sync_t **out, char *why, size_t whylen)
{
    rcn_sync_t *s = calloc (1, sizeof *s);
    if (!s)
        return RCN_ENOMEM;
    s->roster = roster;
    s->keys = keys;
    s->store = store;
    s->n = rcn_roster_count (roster);
    const rcn_member_t *me = rcn_roster_by_origin (roster, rcn_keys_sign_public (keys));
    assert (me);
    for (size_t i = 0; i < s->n; i++)
        if (rcn_roster_member (roster, i) == me)
            s->self = i;
    int rc = rcn_repl_new (store, roster, s->self, &s->repl);
    if (rc != RCN_OK)
        goto fail;
    if ((rc = rcn_vpool_new (rcn_vpool_default_threads (), &s->pool)) != RCN_OK) {
        rcn_errf (why, whylen, "cannot start the signature checking threads");
        goto fail;
    }
    rcn_repl_set_pool (s->repl, s->pool);
    /* ZAP first: a CURVE server bound before its ZAP handler runs admits any key. */
    uint8_t allow[RCN_MAX_MEMBERS][32];
    size_t na = 0;
    for (size_t i = 0; i < s->n; i++)
        if (i != s->self)
            memcpy (allow[na++], rcn_roster_member (roster, i)->curve_key, 32);
    if ((rc = rcn_zap_start (zctx, (const uint8_t (*)[32]) allow, na, &s->zap, why, whylen)) != RCN_OK)
        goto fail;
    rcn_transport_opts_default (&s->opts);
    s->opts.max_msg = RCN_PULL_REPLY_MAX + 1024;
    s->pub_opts = s->opts;                         /* PUB: the back-pressure knob */
    if (opts && opts->pub_hwm > 0)
        s->pub_opts.sndhwm = opts->pub_hwm;
    if (opts && opts->source_address && *opts->source_address) {
        char inner[512];
        snprintf (s->source, sizeof s->source, "%s", opts->source_address);
        if ((rc = rcn_transport_source_check (s->source, inner, sizeof inner)) != RCN_OK) {
            rcn_errf (why, whylen, "source_address: %s", inner);
            goto fail;
        }
    }
    s->zctx = zctx;
    if ((rc = open_servers (s, why, whylen)) != RCN_OK)
        goto fail;
    for (size_t i = 0; i < s->n; i++)
        if (i != s->self && (rc = open_link (s, i, why, whylen)) != RCN_OK)
            goto fail;
    rcn_info ("sync: pub %s and sync %s bound behind the roster's %zu CURVE keys; %zu peers%s%s; "
              "signatures checked on %zu threads", me->pub, me->sync, na, s->n - 1,
              s->source[0] ? ", dialled from " : "", s->source, rcn_vpool_threads (s->pool));
    *out = s;
    return RCN_OK;
fail:
    rcn_sync_destroy (&s);
    return rc;
}

static void
close_sock (void **sock)
{
    if (*sock) {
        zmq_close (*sock);
        *sock = NULL;
    }
}

void
rcn_sync_destroy (rcn_sync_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_sync_t *s = *self_p;
    for (size_t i = 0; i < s->n; i++) {
        close_sock (&s->links[i].mon_sub);
        close_sock (&s->links[i].mon_dealer);
        close_sock (&s->links[i].sub);
        close_sock (&s->links[i].dealer);
    }
    close_sock (&s->mon_pub);
    close_sock (&s->mon_router);
    close_sock (&s->pub);
    close_sock (&s->router);
    rcn_zap_destroy (&s->zap);
    rcn_repl_destroy (&s->repl);
    rcn_vpool_destroy (&s->pool);
    for (size_t i = 0; i < s->nlive; i++)
        zmq_msg_close (&s->live_msg[i]);
    free (s);
    *self_p = NULL;
}

size_t
rcn_sync_poll_items (rcn_sync_t *s, zmq_pollitem_t *items, size_t max)
{
    size_t k = 0;
    if (s->isolated)
        return 0;                     /* drill: nothing is taken from peers */
    if (k < max && s->router) {        /* NULL while a drill's rebind is pending */
        s->polled[k] = s->router;
        items[k++] = (zmq_pollitem_t) { s->router, 0, ZMQ_POLLIN, 0 };
    }
    for (size_t i = 0; i < s->n && k + 2 <= max; i++) {
        if (i == s->self || !s->links[i].sub || !s->links[i].dealer)
            continue;
        s->polled[k] = s->links[i].sub;
        items[k++] = (zmq_pollitem_t) { s->links[i].sub, 0, ZMQ_POLLIN, 0 };
        s->polled[k] = s->links[i].dealer;
        items[k++] = (zmq_pollitem_t) { s->links[i].dealer, 0, ZMQ_POLLIN, 0 };
    }
    return k;
}

/* Receives one message of up to `max` frames without waiting; returns the frame count
 * (0: nothing, -1: more frames than max, all drained). */
static int
recv_frames (void *sock, zmq_msg_t *frames, int max)
{
    int n = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close (&m);
            return n;
        }
        bool more = zmq_msg_more (&m);
        if (n < max)
            frames[n] = m;
        else
            zmq_msg_close (&m);
        n++;
        if (!more)
            break;
    }
    if (n > max) {
        for (int i = 0; i < max; i++)
            zmq_msg_close (&frames[i]);
        return -1;
    }
    return n;
}

static void
close_frames (zmq_msg_t *frames, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close (&frames[i]);
}

/* Hands the first k live entries to replication as one group, lets their frames go and moves
 * the rest to the front. */
static void
flush_first (rcn_sync_t *s, size_t k, uint64_t now)
{
    assert (k <= s->nlive && k <= LIVE_BATCH);
    if (k == 0)
        return;
    rcn_repl_on_live_batch (s->repl, s->live_peer, s->live_wire, s->live_len, k, now);
    for (size_t i = 0; i < k; i++)
        zmq_msg_close (&s->live_msg[i]);
    for (size_t i = k; i < s->nlive; i++) {
        zmq_msg_t *m = &s->live_msg[i - k];
        zmq_msg_init (m);
        zmq_msg_move (m, &s->live_msg[i]);   /* a small message's data moves with it */
        zmq_msg_close (&s->live_msg[i]);
        s->live_wire[i - k] = zmq_msg_data (m);
        s->live_len[i - k] = zmq_msg_size (m);
        s->live_peer[i - k] = s->live_peer[i];
    }
    s->nlive -= k;
}

/* Hands every live entry drained so far to replication, in groups of at most LIVE_BATCH. */
static void
flush_live (rcn_sync_t *s, uint64_t now)
{
    while (s->nlive > 0)
        flush_first (s, s->nlive < LIVE_BATCH ? s->nlive : LIVE_BATCH, now);
}

/* Takes up to max messages from peer's SUB without waiting: live entries join the batch (handed
 * on when it is full), heartbeats are handled at once — after the entries before them, so an
 * entry published before a peer's first heartbeat is judged, as ever, as from a peer not heard
 * yet. Returns how many it took; fewer than max: the socket is empty. */
static int
on_sub (rcn_sync_t *s, size_t peer, int max, uint64_t now)
{
    link_t *l = &s->links[peer];
    int taken = 0;
    for (; taken < max; taken++) {
        zmq_msg_t f[2];
        int nf = recv_frames (l->sub, f, 2);
        if (nf == 0)
            return taken;
        if (nf != 2 || zmq_msg_size (&f[0]) != 1) {
            l->malformed++;
            if (nf > 0)
                close_frames (f, nf);
            continue;
        }
        const uint8_t *data = zmq_msg_data (&f[1]);
        size_t len = zmq_msg_size (&f[1]);
        char topic = *(const char *) zmq_msg_data (&f[0]);
        if (topic == 'E') {
            zmq_msg_t *m = &s->live_msg[s->nlive];
            zmq_msg_init (m);
            zmq_msg_move (m, &f[1]);            /* kept until flush_live; data lives in it */
            s->live_wire[s->nlive] = zmq_msg_data (m);
            s->live_len[s->nlive] = zmq_msg_size (m);
            s->live_peer[s->nlive] = peer;
            s->nlive++;
            close_frames (f, nf);
            /* With workers, checked ahead while the group before it commits; with none, the
             * group is handed on as soon as it is full. */
            bool ahead = rcn_vpool_threads (s->pool) > 1;
            if (ahead)
                (void) rcn_ingest_prefetch (s->store, s->pool, s->live_wire[s->nlive - 1],
                                            s->live_len[s->nlive - 1], rcn_roster_is_member,
                                            (void *) s->roster);
            if (s->nlive == (ahead ? 2 : 1) * LIVE_BATCH)
                flush_first (s, LIVE_BATCH, now);
            continue;
        }
        if (topic == 'H') {
            flush_live (s, now);
            rcn_heartbeat_t *hb = malloc (sizeof *hb);
            char why[256];
            if (hb && rcn_heartbeat_decode (data, len, hb, why, sizeof why) == RCN_OK) {
                bool mismatch = memcmp (hb->roster_hash, rcn_roster_hash (s->roster), 32) != 0;
                rcn_repl_roster_mismatch (s->repl, peer, mismatch);
                if (mismatch) {
                    char r[16];
                    if (!l->mismatch_logged || now - l->mismatch_logged > MISMATCH_LOG_MS) {
                        rcn_error ("sync: roster mismatch: peer %s runs ANOTHER ROSTER (hash differs): not synced "
                                   "with until both hold the same roster file", region_of (s, peer, r));
                        l->mismatch_logged = now;
                    }
                }
                else
                    rcn_repl_on_heartbeat (s->repl, peer, hb, now);
            }
            else
                l->malformed++;
            free (hb);
        }
        else
            l->malformed++;
        close_frames (f, nf);
    }
    return taken;
}

/* Every readable SUB socket, in turns of SUB_SLICE messages, up to SUB_BUDGET each: the live
 * entries of all of them go to the store in groups of up to LIVE_BATCH (one commit each, their
 * signatures checked on the pool's threads), not one commit per entry. */
static void
on_subs (rcn_sync_t *s, const zmq_pollitem_t *items, size_t n, uint64_t now)
{
    int left[RCN_MAX_MEMBERS] = { 0 };
    bool any = false;
    for (size_t k = 0; k < n; k++) {
        if (!(items[k].revents & ZMQ_POLLIN))
            continue;
        for (size_t i = 0; i < s->n; i++)
            if (i != s->self && s->polled[k] == s->links[i].sub) {
                left[i] = SUB_BUDGET;
                any = true;
            }
    }
    while (any) {
        any = false;
        for (size_t i = 0; i < s->n; i++) {
            if (left[i] == 0)
                continue;
            int want = left[i] < SUB_SLICE ? left[i] : SUB_SLICE;
            int got = on_sub (s, i, want, now);
            left[i] = got < want ? 0 : left[i] - got;
            any = any || left[i] > 0;
        }
    }
    flush_live (s, now);
}

/* Sends one planned pull over its peer's DEALER (dropped when the link is down or full: the
 * pull then times out and is planned again). */
static void
send_pull (rcn_sync_t *s, const rcn_pull_plan_t *plan)
{
    rcn_pull_request_t req = { .request_id = plan->request_id, .from_seq = plan->from_seq,
                               .max_bytes = RCN_PULL_MAX_BYTES };
    memcpy (req.origin, plan->origin, 32);
    memcpy (req.roster_hash, rcn_roster_hash (s->roster), 32);
    uint8_t *out = NULL;
    size_t len = 0;
    void *dealer = s->links[plan->peer].dealer;
    if (dealer && rcn_pull_request_encode (&req, &out, &len) == RCN_OK) {
        zmq_send (dealer, out, len, ZMQ_DONTWAIT);
        free (out);
    }
}

static void
on_dealer (rcn_sync_t *s, size_t peer, uint64_t now)
{
    link_t *l = &s->links[peer];
    for (int budget = 0; budget < 64; budget++) {
        zmq_msg_t f[1];
        int nf = recv_frames (l->dealer, f, 1);
        if (nf == 0)
            return;
        if (nf != 1) {
            l->malformed++;
            continue;
        }
        rcn_pull_reply_t *rep = NULL;
        char why[256];
        if (rcn_pull_reply_decode (zmq_msg_data (&f[0]), zmq_msg_size (&f[0]), &rep, why,
                                   sizeof why) == RCN_OK) {
            /* The next chunk is asked for before this one is ingested: the peer reads and
             * sends it meanwhile (catch-up runs on both members' cores at once). */
            rcn_pull_plan_t next;
            if (rcn_repl_pull_ahead (s->repl, peer, rep, now, &next))
                send_pull (s, &next);
            rcn_repl_on_pull_reply (s->repl, peer, rep, now);
            rcn_pull_reply_destroy (&rep);
        }
        else
            l->malformed++;
        close_frames (f, nf);
    }
}

static void
on_router (rcn_sync_t *s)
{
    for (int budget = 0; budget < 64; budget++) {
        zmq_msg_t f[2];
        int nf = recv_frames (s->router, f, 2);
        if (nf == 0)
            return;
        if (nf != 2) {
            s->router_malformed++;
            if (nf > 0)
                close_frames (f, nf);
            continue;
        }
        char why[256];
        uint8_t *out = NULL;
        size_t len = 0;
        int rc = rcn_pull_answer (s->store, rcn_roster_hash (s->roster), zmq_msg_data (&f[1]),
                                  zmq_msg_size (&f[1]), &out, &len, why, sizeof why);
        if (rc == RCN_OK && out) {
            /* Answer to the identity it came from; a vanished client is nobody's problem. */
            if (zmq_send (s->router, zmq_msg_data (&f[0]), zmq_msg_size (&f[0]),
                          ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
                && zmq_send (s->router, out, len, ZMQ_DONTWAIT) >= 0)
                s->served++;
            if (why[0])
                s->serve_refused++;
        }
        else
            s->router_malformed++;
        free (out);
        close_frames (f, nf);
    }
}

void
rcn_sync_handle (rcn_sync_t *s, const zmq_pollitem_t *items, size_t n, uint64_t now)
{
    on_subs (s, items, n, now);
    for (size_t k = 0; k < n; k++) {
        if (!(items[k].revents & ZMQ_POLLIN))
            continue;
        void *sock = s->polled[k];
        if (sock == s->router) {
            on_router (s);
            continue;
        }
        for (size_t i = 0; i < s->n; i++) {
            if (i == s->self)
                continue;
            if (sock == s->links[i].dealer)
                on_dealer (s, i, now);
        }
    }
}

static void
send_heartbeat (rcn_sync_t *s, uint64_t now)
{
    uint8_t *hb = NULL;
    size_t len = 0;
    if (rcn_heartbeat_build (s->store, rcn_roster_hash (s->roster), rcn_keys_sign_public (s->keys),
                             rcn_now_ms (), &hb, &len) != RCN_OK)
        return;
    if (zmq_send (s->pub, "H", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send (s->pub, hb, len, ZMQ_DONTWAIT);
    free (hb);
    s->next_heartbeat = now + HEARTBEAT_MS;
}

static uint64_t
link_refused (const link_t *l)
{
    return l->counts_sub.handshake_failed_auth + l->counts_sub.handshake_failed_other
         + l->counts_dealer.handshake_failed_auth + l->counts_dealer.handshake_failed_other;
}

/* libzmq 4.3 reconnects by itself after a peer goes away, but never after a protocol error
 * (a refused handshake, a message over the size cap): such an endpoint is given up for good.
 * So: a connection that ended and was not followed by a successful handshake within
 * RECONNECT_MS is dialled again. One bad frame costs a peer a few seconds, not forever. */
static void
watch_socket (rcn_sync_t *s, size_t i, void *sock, const char *endpoint, void *mon,
              rcn_transport_counts_t *c, recheck_t *rc, uint64_t now)
{
    if (!sock || !mon)
        return;                       /* a drill's reconnection failed (logged) */
    rcn_transport_monitor_drain (mon, c);
    if (c->disconnected > rc->disconnects) {
        rc->disconnects = c->disconnected;
        rc->check_at = now + RECONNECT_MS;
        rc->ok_before = c->handshake_succeeded;
    }
    if (!rc->check_at || now < rc->check_at)
        return;
    rc->check_at = 0;
    if (c->handshake_succeeded > rc->ok_before)
        return;                           /* it came back by itself */
    char r[16];
    rcn_info ("sync: connection to %s (%s) ended and did not come back: dialling again",
              region_of (s, i, r), endpoint);
    zmq_disconnect (sock, endpoint);
    if (zmq_connect (sock, endpoint) != 0)
        rcn_warn ("sync: reconnecting to %s failed: %s", endpoint, zmq_strerror (errno));
    s->links[i].reconnects++;
}

static void
watch_link (rcn_sync_t *s, size_t i, uint64_t now)
{
    link_t *l = &s->links[i];
    uint64_t refused_before = link_refused (l);
    watch_socket (s, i, l->sub, l->ep_sub, l->mon_sub, &l->counts_sub, &l->re_sub, now);
    uint64_t dealer_drops = l->counts_dealer.disconnected;
    watch_socket (s, i, l->dealer, l->ep_dealer, l->mon_dealer, &l->counts_dealer, &l->re_dealer,
                  now);
    if (l->counts_dealer.disconnected > dealer_drops)
        rcn_repl_link_lost (s->repl, i);      /* what we asked on it is gone: ask again now */
    if (link_refused (l) > refused_before) {
        char r[16];
        rcn_warn ("sync: peer %s refused our handshake (is this member in its roster, with these "
                  "keys?); trying again in %d s", region_of (s, i, r), RECONNECT_MS / 1000);
    }
}

static void rebind (rcn_sync_t *s, uint64_t now);

void
rcn_sync_tick (rcn_sync_t *s, uint64_t now)
{
    if (s->rebind_at && now >= s->rebind_at)
        rebind (s, now);
    if (!s->isolated && s->pub && now >= s->next_heartbeat)
        send_heartbeat (s, now);
    rcn_repl_tick (s->repl, now);
    rcn_pull_plan_t plan[RCN_REPL_PULLS_MAX];
    size_t np = s->isolated ? 0 : rcn_repl_plan_pulls (s->repl, now, plan, RCN_REPL_PULLS_MAX);
    for (size_t i = 0; i < np; i++)
        send_pull (s, &plan[i]);
    if (s->mon_pub)
        rcn_transport_monitor_drain (s->mon_pub, &s->counts_pub);
    if (s->mon_router)
        rcn_transport_monitor_drain (s->mon_router, &s->counts_router);
    for (size_t i = 0; !s->isolated && i < s->n; i++)
        if (i != s->self)
            watch_link (s, i, now);
}

void
rcn_sync_publish (rcn_sync_t *s, const rcn_entry_t *e)
{
    uint8_t *w = NULL;
    size_t len = 0;
    if (s->isolated || !s->pub || rcn_entry_encode (e, &w, &len) != RCN_OK)
        return;                       /* isolated: peers pull it after the drill */
    /* PUB drops when a subscriber lags (HWM): expected; anti-entropy repairs it. */
    if (zmq_send (s->pub, "E", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
        && zmq_send (s->pub, w, len, ZMQ_DONTWAIT) >= 0)
        s->published++;
    else
        s->publish_dropped++;
    free (w);
}

/* Binds the servers a drill closed; what fails is tried again REBIND_MS later. */
static void
rebind (rcn_sync_t *s, uint64_t now)
{
    char why[512] = "";
    s->rebind_at = 0;
    if (open_servers (s, why, sizeof why) == RCN_OK) {
        if (s->rebind_logged)
            rcn_info ("drill: pub and sync are bound again: peers can reach this member");
        s->rebind_logged = 0;
        return;
    }
    if (!s->rebind_logged || now - s->rebind_logged >= REBIND_LOG_MS) {
        rcn_warn ("drill: %s; retrying every %d s (peers cannot reach this member meanwhile)", why,
                  REBIND_MS / 1000);
        s->rebind_logged = now;
    }
    s->rebind_at = now + REBIND_MS;
}

void
rcn_sync_isolate (rcn_sync_t *s, bool on, uint64_t now)
{
    if (on == s->isolated)
        return;
    s->isolated = on;
    if (on) {
        /* Closed, not left unpolled: libzmq would go on answering ZMTP heartbeats and queueing
         * what peers send. Closing ends every connection at once (and drops what was queued),
         * as a stopped node does; what we had asked for is given up with it. */
        s->rebind_at = 0;
        close_sock (&s->mon_pub);
        close_sock (&s->pub);
        close_sock (&s->mon_router);
        close_sock (&s->router);
        for (size_t i = 0; i < s->n; i++) {
            link_t *l = &s->links[i];
            if (i == s->self)
                continue;
            close_sock (&l->mon_sub);
            close_sock (&l->sub);
            close_sock (&l->mon_dealer);
            close_sock (&l->dealer);
            l->re_sub = (recheck_t) { .disconnects = l->counts_sub.disconnected };
            l->re_dealer = (recheck_t) { .disconnects = l->counts_dealer.disconnected };
            rcn_repl_link_lost (s->repl, i);
        }
        return;
    }
    char why[512] = "";
    rebind (s, now);
    for (size_t i = 0; i < s->n; i++)
        if (i != s->self && (open_link (s, i, why, sizeof why)) != RCN_OK)
            rcn_error ("drill: cannot connect to %06u again: %s",
                       rcn_roster_member (s->roster, i)->region, why);
    s->next_heartbeat = now;          /* tell the peers at once what we hold */
}

bool
rcn_sync_isolated (const rcn_sync_t *s)
{
    return s->isolated;
}

bool
rcn_sync_peer_holds (const rcn_sync_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
                     uint32_t *region)
{
    size_t which;
    if (!rcn_repl_peer_holds (s->repl, origin, seq, &which))
        return false;
    if (region)
        *region = rcn_roster_member (s->roster, which)->region;
    return true;
}

uint64_t
rcn_sync_best_known (const rcn_sync_t *s, const uint8_t origin[RCN_KEY_SIZE])
{
    return rcn_repl_best_known (s->repl, origin);
}

bool
rcn_sync_own_claim (rcn_sync_t *s, uint64_t head, uint64_t now, uint64_t *claimed)
{
    return rcn_repl_unresolved_claim (s->repl, rcn_keys_sign_public (s->keys), head, now, claimed);
}

bool
rcn_sync_heard_all (const rcn_sync_t *s)
{
    return rcn_repl_heard_all (s->repl);
}

json_t *
rcn_sync_peers_json (const rcn_sync_t *s, uint64_t now)
{
    json_t *arr = json_array ();
    for (size_t i = 0; i < s->n; i++) {
        if (i == s->self)
            continue;
        const rcn_member_t *m = rcn_roster_member (s->roster, i);
        const rcn_peer_info_t *pi = rcn_repl_peer (s->repl, i);
        char r[16];
        const char *state = pi->roster_mismatch ? "roster_mismatch" : pi->up ? "up"
                          : pi->heard ? "down" : "never_heard";
        json_t *o = json_object ();
        json_object_set_new (o, "region", json_string (region_of (s, i, r)));
        json_object_set_new (o, "name", json_string (m->name));
        json_object_set_new (o, "state", json_string (state));
        if (pi->heard)
            json_object_set_new (o, "last_heard_ms", json_integer ((json_int_t) (now - pi->last_heard)));
        /* How far the peer is behind what we hold, per origin (what it would pull from us),
         * and ahead of it (what we have yet to take from it or another peer). */
        json_t *lag = json_object (), *ahead = json_object ();
        for (size_t o2 = 0; o2 < s->n; o2++) {
            const uint8_t *origin = rcn_roster_member (s->roster, o2)->sign_key;
            uint64_t ours = 0;
            if (rcn_store_head (s->store, origin, &ours, NULL) != RCN_OK)
                continue;
            uint64_t theirs = rcn_repl_peer_head (s->repl, i, origin);
            json_object_set_new (lag, region_of (s, o2, r),
                                 json_integer (ours > theirs ? (json_int_t) (ours - theirs) : 0));
            json_object_set_new (ahead, region_of (s, o2, r),
                                 json_integer (theirs <= ours ? 0 : theirs - ours > INT64_MAX
                                               ? INT64_MAX : (json_int_t) (theirs - ours)));
        }
        json_object_set_new (o, "lag", lag);
        json_object_set_new (o, "ahead", ahead);
        json_object_set_new (o, "heartbeats", json_integer ((json_int_t) pi->heartbeats));
        json_object_set_new (o, "pulls_sent", json_integer ((json_int_t) pi->pulls_sent));
        json_object_set_new (o, "pulls_timed_out", json_integer ((json_int_t) pi->pulls_timed_out));
        json_object_set_new (o, "pulls_cut", json_integer ((json_int_t) pi->pulls_cut));
        json_object_set_new (o, "entries_pulled", json_integer ((json_int_t) pi->entries_pulled));
        json_object_set_new (o, "pull_sig_checks", json_integer ((json_int_t) pi->pull_sig_checks));
        json_object_set_new (o, "malformed", json_integer ((json_int_t) s->links[i].malformed));
        /* Handshakes on our connections to it that failed: it refused us (not in its
         * roster?) or answered with another key. Outsiders refused by OUR ZAP have no roster
         * entry to count against: they are in status (sync.zap_refused). */
        json_object_set_new (o, "refused", json_integer ((json_int_t) link_refused (&s->links[i])));
        json_object_set_new (o, "reconnects", json_integer ((json_int_t) s->links[i].reconnects));
        json_array_append_new (arr, o);
    }
    return arr;
}

json_t *
rcn_sync_stats_json (const rcn_sync_t *s)
{
    uint64_t admitted = 0, refused = 0;
    rcn_zap_counts (s->zap, &admitted, &refused);
    rcn_repl_stats_t st;
    rcn_repl_stats (s->repl, &st);
    json_t *o = json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                      "zap_admitted", (json_int_t) admitted, "zap_refused", (json_int_t) refused,
                      "handshakes_refused", (json_int_t) (s->counts_pub.handshake_failed_auth
                                                          + s->counts_router.handshake_failed_auth),
                      "published", (json_int_t) s->published,
                      "publish_dropped", (json_int_t) s->publish_dropped,
                      "pulls_served", (json_int_t) s->served,
                      "pulls_refused", (json_int_t) s->serve_refused,
                      "sync_malformed", (json_int_t) s->router_malformed,
                      "live_stored", (json_int_t) st.live_stored,
                      "held", (json_int_t) st.held,
                      "held_dropped", (json_int_t) st.held_dropped,
                      "pulled_stored", (json_int_t) st.chunk_stored,
                      "duplicates", (json_int_t) st.ingest.duplicates);
    json_object_set_new (o, "bad_signatures", json_integer ((json_int_t) st.ingest.bad_sig));
    json_object_set_new (o, "malformed_entries", json_integer ((json_int_t) st.ingest.malformed));
    json_object_set_new (o, "entries_refused", json_integer ((json_int_t) (st.ingest.refused
                                                                           + st.chunk_refused)));
    json_object_set_new (o, "live_refused", json_integer ((json_int_t) st.live_refused));
    json_object_set_new (o, "bad_heartbeats", json_integer ((json_int_t) st.bad_heartbeats));
    json_object_set_new (o, "stale_replies", json_integer ((json_int_t) st.stale_replies));
    /* Catch-up's signature checks (one per linked chunk, DESIGN §3) and this process's in all. */
    json_object_set_new (o, "pull_sig_checks", json_integer ((json_int_t) st.ingest.chunk_sig_checks));
    json_object_set_new (o, "signature_checks", json_integer ((json_int_t) rcn_entry_verify_calls ()));
    uint64_t over = 0;
    for (size_t i = 0; i < s->n; i++)
        over += s->links[i].counts_sub.disconnected + s->links[i].counts_dealer.disconnected;
    json_object_set_new (o, "link_disconnects", json_integer ((json_int_t) over));
    return o;
}
