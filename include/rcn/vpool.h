/* vpool.h — signature checks spread over threads (DESIGN.md §6: "signature checks run on
 * worker threads; one event loop owns the sockets").
 *
 * Ingest is bound by Ed25519 verification (§8: one core checks ~13 000 a second, LMDB commits
 * ten times that), so a group of entries is checked on every core before its one commit. The
 * one decision: the threads are started once and wait on a condition variable; the caller's
 * thread works through the group with them and returns when every entry is judged. Nothing
 * else crosses threads: no queue, no callback, no entry owned by a worker after the call.
 *
 * Threads: one caller at a time per pool (the node's loop). Each entry is checked by exactly
 * one thread, so its `verified` flag and hash are written by one thread, and read by the
 * caller after the call returns (the pool's mutex orders them). */
#ifndef RCN_VPOOL_H
#define RCN_VPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcn/entry.h"
#include "rcn/err.h"

/* Entries checked ahead (rcn_vpool_prefetch) and not yet claimed by a group, at most. */
#define RCN_VPOOL_AHEAD 2048

/* Below this many entries a group is checked on the caller's thread alone: waking a worker
 * costs more than it saves. */
#define RCN_VPOOL_MIN_BATCH 4
#define RCN_VPOOL_MAX_THREADS 8

typedef struct rcn_vpool rcn_vpool_t;

/* How many threads to check with by default: the CPUs this process may run on (its affinity
 * mask: a member pinned to one core by taskset checks on one thread, not two fighting for it),
 * at most RCN_VPOOL_MAX_THREADS (the online CPUs when the mask cannot be read; 1 when neither). */
size_t rcn_vpool_default_threads (void);

/* A pool checking with `threads` threads, the caller's included: threads - 1 workers are
 * started (0 or 1: none, every check runs on the caller's thread). More than
 * RCN_VPOOL_MAX_THREADS are capped. Workers block every signal, so signals reach the process's
 * other threads. Caller owns *out (rcn_vpool_destroy). RCN_ENOMEM when memory or a thread
 * cannot be had (nothing left running). */
int rcn_vpool_new (size_t threads, rcn_vpool_t **out) RCN_MUST;

/* Stops and joins the workers, frees, nulls *self_p; accepts NULL; safe to call twice. Not
 * while a rcn_vpool_verify runs. */
void rcn_vpool_destroy (rcn_vpool_t **self_p);

/* Threads that check (the caller's included); 1 for a NULL pool. */
size_t rcn_vpool_threads (const rcn_vpool_t *pool);

/* Checks the signatures of entries[0..n) (rcn_entry_verify: sets verified and the hash on
 * success), in parallel when pool has workers and n >= RCN_VPOOL_MIN_BATCH; pool NULL: on
 * the caller's thread. results[i] (caller-allocated) gets RCN_OK or RCN_ESIG, the same
 * whatever the thread count. An entry whose bytes were prefetched takes that check's outcome
 * (waiting for it when a worker has it in hand). Entries are borrowed; the caller must not
 * touch them from another thread during the call. One caller at a time per pool (the same
 * thread as rcn_vpool_prefetch's). */
void rcn_vpool_verify (rcn_vpool_t *pool, rcn_entry_t *const *entries, size_t n, int *results);

/* Hands *e (decoded, unverified; the pool takes it and nulls *e) to the workers, to be
 * checked ahead of its group while the caller does other work (receives, commits); a later
 * rcn_vpool_verify given an entry with the same bytes takes that outcome instead of checking
 * again. The caller makes the cheap checks first (size, header, held already): this spends
 * crypto. Returns false (*e left to the caller) when the pool has no workers or
 * RCN_VPOOL_AHEAD entries are pending; outcomes nobody claimed are dropped oldest first. */
bool rcn_vpool_prefetch (rcn_vpool_t *pool, rcn_entry_t **e);

/* Entries checked ahead so far (prefetched and checked by a worker or the caller), and of
 * those, how many a group took. */
void rcn_vpool_prefetch_counts (const rcn_vpool_t *pool, uint64_t *checked, uint64_t *taken);

#endif
