/* sync.h — a member's replication sockets (DESIGN.md §5), owned by the node's event loop.
 *
 * It binds PUB and ROUTER (sync) at this member's roster endpoints as CURVE servers behind the
 * ZAP allowlist (started before either bind), connects one SUB and one DEALER to every peer
 * as a CURVE client, publishes this member's entries once durable and a heartbeat every
 * second, serves pulls, and feeds what arrives to the repl decisions (repl.h), which ingest
 * it into the store. The node adds sync's sockets to its poll set and calls in on readiness
 * and on every tick; sync never blocks. */
#ifndef RCN_SYNC_H
#define RCN_SYNC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "rcn/entry.h"
#include "rcn/err.h"
#include "rcn/keys.h"
#include "rcn/roster.h"
#include "rcn/store.h"

typedef struct rcn_sync rcn_sync_t;

/* Back-pressure (node.conf pub_hwm): ZMQ_SNDHWM of the PUB socket, in messages per
 * subscriber; 0: the transport's default. A subscriber that lags further behind misses live
 * entries (PUB drops them for it); anti-entropy repairs that. */
typedef struct {
    int pub_hwm;
    const char *source_address;      /* node.conf source_address: connections to peers leave
                                        from this IPv4 address; NULL or "": any */
} rcn_sync_opts_t;

/* Starts ZAP, binds, connects to every peer. Borrowed: zctx, roster, keys, store outlive it;
 * opts (NULL: defaults) is read here only. RCN_EIO with `why` naming the endpoint when a bind
 * fails, or the source address when this machine lacks it. Caller owns *out. */
int rcn_sync_open (void *zctx, const rcn_roster_t *roster, const rcn_keys_t *keys,
                   rcn_store_t *store, const rcn_sync_opts_t *opts, rcn_sync_t **out,
                   char *why, size_t whylen) RCN_MUST;
void rcn_sync_destroy (rcn_sync_t **self_p);

/* Fills up to max poll items with its sockets (POLLIN); returns how many. */
size_t rcn_sync_poll_items (rcn_sync_t *s, zmq_pollitem_t *items, size_t max);

/* Handles whatever is readable on its sockets (items as returned by zmq_poll). */
void rcn_sync_handle (rcn_sync_t *s, const zmq_pollitem_t *items, size_t n, uint64_t now);

/* Heartbeat when due, peers up/down, pulls to send, socket monitors. now: mono ms. */
void rcn_sync_tick (rcn_sync_t *s, uint64_t now);

/* Publishes one of this member's entries, durable already (nothing while isolated). */
void rcn_sync_publish (rcn_sync_t *s, const rcn_entry_t *e);

/* Drill isolation (rcctl drill isolate / rejoin): the member acts out its own outage without
 * being stopped. On: its PUB, ROUTER, SUBs and DEALERs are closed — every connection ends at
 * once and new ones are refused, as for a stopped node; what they had queued is dropped and
 * pulls in flight are given up — so nothing is sent or taken: no entry, heartbeat or pull, none
 * served. Repl still ticks, so each side sees the other down after RCN_REPL_DOWN_MS. ZAP keeps
 * running. Off: binds and dials again, as at the start (a bind that fails, the port not yet
 * released, is retried every second, logged); heartbeats resume at once and anti-entropy
 * catches up both ways. Idempotent. */
void rcn_sync_isolate (rcn_sync_t *s, bool on, uint64_t now);
bool rcn_sync_isolated (const rcn_sync_t *s);

/* Whether an up peer holds origin's seq (its heartbeat shows it); *region gets the peer's. */
bool rcn_sync_peer_holds (const rcn_sync_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
                          uint32_t *region);

/* Rejoin facts for status: the highest seq of origin any peer announced, and whether every
 * peer has been heard since start. */
uint64_t rcn_sync_best_known (const rcn_sync_t *s, const uint8_t origin[RCN_KEY_SIZE]);
bool rcn_sync_heard_all (const rcn_sync_t *s);

/* Whether an up peer claims own seqs beyond `head` that have not yet been fetched or proven
 * empty (a fruitless pull settles a claim): signing now could fork our chain. *claimed gets
 * the highest such claim. */
bool rcn_sync_own_claim (rcn_sync_t *s, uint64_t head, uint64_t now, uint64_t *claimed);

/* The peers view (rcctl peers) and counters for status. New references. */
json_t *rcn_sync_peers_json (const rcn_sync_t *s, uint64_t now);
json_t *rcn_sync_stats_json (const rcn_sync_t *s);

#endif
