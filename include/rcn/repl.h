/* repl.h — what replication decides, without sockets (DESIGN.md §5).
 *
 * The node's event loop feeds it what arrives — heartbeats, live entries, pull replies — and
 * asks it what to send: which pulls, to whom. It keeps each peer's state (up/down, last heard,
 * roster match, what it holds of every origin), the pulls in flight (at most one per origin
 * and its follow-up, at most RCN_REPL_PULLS_MAX overall: back-pressure), and live entries
 * that arrived ahead of a gap (held, bounded, until the gap is pulled). Keeping it free of
 * sockets is the decision that lets every rule here be tested with a clock and two stores in
 * one process.
 *
 * Peers and origins are both indexed by their position in the roster. Times are monotonic ms. */
#ifndef RCN_REPL_H
#define RCN_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcn/err.h"
#include "rcn/ingest.h"
#include "rcn/roster.h"
#include "rcn/store.h"
#include "rcn/vpool.h"
#include "rcn/wire.h"

#define RCN_REPL_DOWN_MS 3500            /* a peer silent this long is down (3.5 heartbeats) */
#define RCN_REPL_PULL_TIMEOUT_MS 5000    /* a pull unanswered this long is given up */
#define RCN_REPL_PULLS_MAX 8             /* pulls in flight, all peers together */
#define RCN_REPL_HELD_MAX 1024           /* live entries held ahead of a gap */
#define RCN_REPL_HELD_BYTES (8u << 20)
#define RCN_REPL_STALL_MS 30000          /* a pull that brought nothing: not from there again */

typedef struct rcn_repl rcn_repl_t;

typedef struct {
    size_t peer;                         /* roster index to send to */
    uint8_t origin[RCN_KEY_SIZE];
    uint64_t from_seq;
    uint64_t request_id;
} rcn_pull_plan_t;

typedef struct {
    bool up;
    bool heard;                          /* ever */
    bool roster_mismatch;                /* its heartbeat carried another roster hash */
    uint64_t last_heard;                 /* mono ms */
    uint64_t heartbeats, live_entries, pulls_sent, pulls_answered, pulls_timed_out;
    uint64_t pulls_cut;                  /* in flight when our connection to it dropped */
    uint64_t entries_pulled;
    uint64_t pulls_fruitless;            /* answered, but nothing of it could be stored */
    uint64_t pull_sig_checks;            /* signatures checked on what its replies brought */
} rcn_peer_info_t;

typedef struct {
    uint64_t held, held_dropped, live_dup, live_stored, live_refused, chunk_stored, chunk_refused;
    uint64_t bad_heartbeats;             /* on a peer's link but naming another member */
    uint64_t stale_replies;              /* pull replies matching no pull in flight */
    uint64_t pulls_ahead;                /* follow-ups sent before the reply was ingested */
    uint64_t ahead_wasted;               /* … whose reply could not follow our head */
    rcn_ingest_stats_t ingest;
} rcn_repl_stats_t;

/* self: this member's roster index. Borrowed: store and roster outlive the repl. */
int rcn_repl_new (rcn_store_t *store, const rcn_roster_t *roster, size_t self, rcn_repl_t **out) RCN_MUST;
void rcn_repl_destroy (rcn_repl_t **self_p);

/* The verification pool (vpool.h) live batches and pull replies are checked on; borrowed: it
 * outlives the repl or is set back to NULL first. NULL (the default): on the caller's thread. */
void rcn_repl_set_pool (rcn_repl_t *r, rcn_vpool_t *pool);

/* A heartbeat from roster member `peer` (who it came from is what the transport says, not
 * what the message claims: a mismatch is refused and counted). */
void rcn_repl_on_heartbeat (rcn_repl_t *r, size_t peer, const rcn_heartbeat_t *hb, uint64_t now);

/* Whether peer's heartbeats carry another roster hash than ours (the node checks; a peer in
 * mismatch is neither pulled from nor counted as holding anything). */
void rcn_repl_roster_mismatch (rcn_repl_t *r, size_t peer, bool mismatch);

/* A live entry (Entry envelope) published by `peer`: rcn_repl_on_live_batch of one. */
void rcn_repl_on_live (rcn_repl_t *r, size_t peer, const uint8_t *wire, size_t len, uint64_t now);

/* n live entries, entry i published by roster member peers[i] (what the node's loop drained
 * from its SUB sockets at once). Per entry, as one by one: refused (counted, live_refused) from
 * a peer not heard yet or holding another roster; counted malformed when it does not parse or
 * its origin is not a member. The rest go to the store as ONE group — signatures checked on
 * the pool, one synced commit — ordered by origin and seq, so an origin's consecutive entries
 * build on each other whatever order they came in. A Recovery beyond head + 1 is offered too:
 * it may skip a span its origin declared lost. An entry the store refuses for a gap
 * (RCN_EGAP: validly signed, ahead of our head, or a Recovery whose span starts above it) is
 * held, bounded, and the gap pulled from its peer; held entries that then follow the head are
 * ingested after the group, as one group per origin. Borrowed: wire bytes are copied when held. */
void rcn_repl_on_live_batch (rcn_repl_t *r, const size_t *peers, const uint8_t *const *wire,
                             const size_t *len, size_t n, uint64_t now);

/* Pipelining, called with a pull reply BEFORE rcn_repl_on_pull_reply: when the reply answers
 * the pull in flight for its origin, continues our head, its entries run on from the seq
 * asked for and the peer says it holds more, the follow-up pull (from the seq after the
 * reply's last) to send now to the same peer, so that the peer reads and sends the next chunk
 * while this one is ingested. At most one follow-up per origin; it counts against
 * RCN_REPL_PULLS_MAX. When the reply's entries are not all stored, the follow-up's reply
 * cannot continue our head: it is dropped uncounted against the peer (ahead_wasted) and the
 * pull planned again. A timeout or lost link gives up the follow-up with the pull before it. */
bool rcn_repl_pull_ahead (rcn_repl_t *r, size_t peer, const rcn_pull_reply_t *rep, uint64_t now,
                          rcn_pull_plan_t *out);

/* A pull reply from `peer`; unknown or stale request ids are ignored (counted). */
void rcn_repl_on_pull_reply (rcn_repl_t *r, size_t peer, const rcn_pull_reply_t *rep, uint64_t now);

/* Our sync connection to peer dropped: a pull in flight on it was lost with the connection (a
 * peer frozen for a while drops us; what we sent before we noticed is gone). Such pulls are
 * given up at once, with no doubt cast on the peer, so they are planned again now rather than
 * after RCN_REPL_PULL_TIMEOUT_MS. A late reply to one is ignored as stale. */
void rcn_repl_link_lost (rcn_repl_t *r, size_t peer);

/* Marks peers down after silence and gives up stale pulls. Call about every 100 ms. */
void rcn_repl_tick (rcn_repl_t *r, uint64_t now);

/* Up to max pulls to send now (each is then in flight until answered or timed out). */
size_t rcn_repl_plan_pulls (rcn_repl_t *r, uint64_t now, rcn_pull_plan_t *out, size_t max);

/* Whether some up peer's heartbeat shows it holds origin's seq (what "acknowledged" means);
 * *which gets that peer's roster index. */
bool rcn_repl_peer_holds (const rcn_repl_t *r, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
                          size_t *which);

/* Highest seq of origin any heard peer (up or not) has announced; and whether every other
 * member has been heard since start (for the rejoin verdict: "nowhere"). */
uint64_t rcn_repl_best_known (const rcn_repl_t *r, const uint8_t origin[RCN_KEY_SIZE]);
bool rcn_repl_heard_all (const rcn_repl_t *r);

/* An up, roster-matching peer claims seqs of origin beyond head, and no pull has yet shown the
 * claim empty (a fruitless or unanswered pull puts it in doubt for RCN_REPL_STALL_MS: a peer
 * that lies is believed only until it has been asked). *claimed gets the highest such claim. */
bool rcn_repl_unresolved_claim (const rcn_repl_t *r, const uint8_t origin[RCN_KEY_SIZE],
                                uint64_t head, uint64_t now, uint64_t *claimed);

const rcn_peer_info_t *rcn_repl_peer (const rcn_repl_t *r, size_t peer);
/* What peer announced of origin (0 when never heard). */
uint64_t rcn_repl_peer_head (const rcn_repl_t *r, size_t peer, const uint8_t origin[RCN_KEY_SIZE]);
void rcn_repl_stats (const rcn_repl_t *r, rcn_repl_stats_t *out);

#endif
