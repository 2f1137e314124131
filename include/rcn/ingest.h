/* ingest.h — how entries from outside (a peer, a catch-up chunk) enter the log, in the order
 * DESIGN.md §3 fixes: size cap before unpacking the envelope, duplicates dropped before any
 * crypto, signature checked, then one group commit. Bodies are unpacked only by the kinds,
 * inside the commit, after the check. A group's signatures are checked together, after its
 * cheap checks, on a verification pool's threads when one is given (the *_pooled calls).
 *
 * A catch-up chunk (rcn_ingest_chunk) is checked as a chain, not entry by entry: one valid
 * signature on its newest entry authenticates every entry whose hash links up to it (§3). */
#ifndef RCN_INGEST_H
#define RCN_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcn/err.h"
#include "rcn/store.h"
#include "rcn/vpool.h"

/* How many live entries the node ingests as one group at most (one synced commit each). A
 * group is only this large under load (the node hands on what it has drained as soon as its
 * SUB sockets are empty): then its commit's writes are shared by many entries — the hash keyed
 * indexes touch a page per entry, and 1024 entries share pages where 256 seldom do (ingest
 * ran 30-45% faster on one core with 1024 than with 256). bench/ingest feeds this size. */
#define RCN_INGEST_LIVE_GROUP 1024

typedef struct {
    uint64_t received;      /* envelopes offered */
    uint64_t malformed;     /* refused by size cap, envelope or header parse */
    uint64_t duplicates;    /* already held: dropped with no signature check */
    uint64_t bad_sig;       /* signature does not verify */
    uint64_t stored;        /* new entries committed */
    uint64_t refused;       /* refused by the store (gap, chain, origin, fork), or by a chunk's
                               chain check (gap, chain: not stored, no crypto spent) */
    uint64_t chunk_sig_checks;  /* signatures rcn_ingest_chunk checked */
    uint64_t chained;       /* stored by rcn_ingest_chunk on a signature further up the chain */
} rcn_ingest_stats_t;

/* Ingests n Entry envelopes (protobuf wire bytes) as one group: every new, validly signed
 * entry is committed in one synced transaction. results[i] (caller-allocated) gets RCN_OK
 * (stored), RCN_EDUP (held already; no crypto spent), a decode error (RCN_ETOOBIG,
 * RCN_ETRUNC, RCN_EMAGIC, RCN_EINVAL), RCN_ESIG, or the store's per-entry refusal (RCN_EGAP,
 * RCN_ECHAIN, RCN_EORIGIN, RCN_EFORK, RCN_ELOST). stats (may be NULL) is added to. Returns RCN_OK once
 * the group is committed, or the store's error (nothing of the group written). */
int rcn_ingest (rcn_store_t *s, const uint8_t *const *wire, const size_t *len, size_t n,
                int *results, rcn_ingest_stats_t *stats) RCN_MUST;

/* rcn_ingest with the group's signature checks spread over pool's threads (vpool.h; borrowed,
 * NULL: all on the caller's thread). Decoding and the duplicate checks stay on the caller's
 * thread, before any crypto; results, stats and the one commit are the same as rcn_ingest's
 * whatever the pool. */
int rcn_ingest_pooled (rcn_store_t *s, rcn_vpool_t *pool, const uint8_t *const *wire,
                       const size_t *len, size_t n, int *results,
                       rcn_ingest_stats_t *stats) RCN_MUST;

/* Before a live envelope's group is ingested (while the previous group commits, say): the
 * cheap checks of rcn_ingest in the same order — size cap, envelope and header, origin a
 * member (is_member, ctx), not held already — and then its signature check handed to pool's
 * workers (rcn_vpool_prefetch), so that rcn_ingest_pooled later finds it checked. Nothing is
 * stored and no result is given: the envelope must still go through rcn_ingest_pooled, which
 * judges it as ever. Does nothing when the pool has no workers (no core to check ahead on).
 * Returns true when a check was queued. */
bool rcn_ingest_prefetch (rcn_store_t *s, rcn_vpool_t *pool, const uint8_t *wire, size_t len,
                          rcn_member_fn is_member, void *ctx);

/* Ingests a catch-up chunk: the n Entry envelopes of a PullReply for `origin`, in the order
 * sent (consecutive seqs). Every one is decoded (size cap first); one of another origin is
 * refused RCN_EINVAL (counted malformed); held ones are dropped as RCN_EDUP with no crypto.
 * The new ones above our head must run head+1, head+2, … each prev the hash of the one
 * before, the first prev our head's hash: the longest such run is checked with ONE signature,
 * its newest entry's, and stored in one group commit. When that signature fails, the longest
 * validly signed part of the run is found by bisection (a valid signature on entry k covers
 * every entry linked below it), so a bad entry at the end costs O(log n) checks, not the good
 * ones. A Recovery that skips a span its origin declared lost (recovery.h) starts a new run,
 * checked on its own newest signature; the store judges the span. No entry is stored that is
 * not at or below a checked signature in a linked run.
 * Per entry, results[i]: RCN_OK (stored), RCN_EDUP, a decode error, RCN_EINVAL (another
 * origin), RCN_ESIG (its own signature checked and failed), RCN_ECHAIN (the first entry whose
 * prev breaks the run), RCN_EGAP (a seq out of order, or above a refused entry: nothing it
 * builds on was stored), or the store's refusal (RCN_EORIGIN for a non-member origin, …).
 * New entries at or below our head that are not held are fork evidence: each is checked on
 * its own signature and handed to the store, which keeps it and answers RCN_EFORK.
 * stats (may be NULL) is added to. Returns RCN_OK once the group is committed (or there was
 * nothing to commit); RCN_EDB / RCN_EIO / RCN_ENOMEM with nothing of the chunk written. */
int rcn_ingest_chunk (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE],
                      const uint8_t *const *wire, const size_t *len, size_t n,
                      int *results, rcn_ingest_stats_t *stats) RCN_MUST;

/* rcn_ingest_chunk with the fork evidence's own signature checks spread over pool's threads
 * (borrowed, NULL: on the caller's thread); the run's checks are few and stay in order. */
int rcn_ingest_chunk_pooled (rcn_store_t *s, rcn_vpool_t *pool,
                             const uint8_t origin[RCN_KEY_SIZE], const uint8_t *const *wire,
                             const size_t *len, size_t n, int *results,
                             rcn_ingest_stats_t *stats) RCN_MUST;

/* Adds every counter of d to *to (to may be NULL: nothing). */
void rcn_ingest_stats_add (rcn_ingest_stats_t *to, const rcn_ingest_stats_t *d);

#endif
