/* store.h — the append-only entry log in LMDB (DESIGN.md §3, invariants 1–5, 7, 9).
 *
 * The one design decision: the store knows entries, not kinds. It checks what makes an entry
 * storable (verified signature, origin a member, seq = head+1, prev = hash of head) and writes
 * the entry, its origin's head, its hash index and every registered kind's view in ONE write
 * transaction per batch (group commit), synced before rcn_store_append returns. Kinds register
 * their view updates through rcn_kind_t (kind.h); a body a kind rejects is still stored
 * (invariant 9) and recorded as invalid. The one kind the store itself reads is the Recovery
 * (recovery.h): it is the only entry allowed to skip seqs (invariant 3), so the log cannot be
 * judged without it. Entries of a declared-lost span that this member holds stay stored and
 * are applied to no view (every member then shows the same state, invariant 8).
 *
 * Layout (named LMDB databases in one environment directory):
 *   entries  origin[32] | be64(seq)        -> sig[64] | signed          (storage form)
 *   hashes   hash[32]                      -> origin[32] | be64(seq)   (up to the marks)
 *   hashes.mark  origin[32]                -> be64(seq): every entry of origin up to seq has
 *                                             its row in `hashes`
 *   heads    origin[32]                    -> be64(seq) | hash[32]
 *   forks    origin[32] | be64(seq) | hash -> sig | signed  (second, conflicting entries)
 *   forked   origin[32]                    -> be64(lowest fork seq)
 *   invalid  hash[32]                      -> reason (UTF-8 text, no personal details)
 *   lost     origin[32] | be64(first)      -> be64(last) | be64(seq of the Recovery)
 *   meta     "format"                      -> "rcn-store-2" ("rcn-store-1", without
 *                                             hashes.mark, is converted at a writer's open)
 *
 * The hash tail: an entry's `hashes` row is not written with it. The hashes of the entries
 * above their origin's mark are kept in memory (every open rebuilds them from those entries;
 * a readonly store adds what the writer has committed since at each read) and merged into
 * `hashes`, sorted, with the marks moved up, in one transaction once there are tail_merge_at
 * of them. A row per entry in a hash-keyed B-tree dirtied a page per entry in every group
 * commit; a merge dirties each page at most once. Lookups by hash look in both.
 *   <kind views>                           as each kind declares in rcn_kind_t.dbs
 *
 * Threads: one writer at a time (rcn_store_append is not reentrant); readers may run on other
 * threads. The map grows on MDB_MAP_FULL only while no transaction of this process is open
 * (an internal rwlock: readers hold it shared, growth takes it exclusive). */
#ifndef RCN_STORE_H
#define RCN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcn/entry.h"
#include "rcn/err.h"
#include "rcn/kind.h"

typedef struct rcn_store rcn_store_t;

/* Membership test for invariant 1: true when `origin` is a roster member. */
typedef bool (*rcn_member_fn) (const uint8_t origin[RCN_KEY_SIZE], void *ctx);

typedef struct {
    size_t map_size;                  /* least map size in bytes; 0 = 64 MiB. A map that
                                         grew keeps its size; readonly opens ignore this */
    bool readonly;                    /* open for reading only (rcctl, verify-log) */
    bool unsafe_nosync;               /* MDB_NOSYNC — breaks invariant 5; benchmarks only */
    rcn_member_fn is_member;          /* required unless readonly */
    void *member_ctx;
    const rcn_kind_t *const *kinds;   /* NULL-terminated; may be NULL (no views) */
    size_t tail_merge_at;             /* hashes kept in the hash tail before a merge into
                                         `hashes` (below); 0 = 131072 */
    size_t merge_slice_pages;         /* leaf pages of `hashes` one merge transaction may
                                         dirty, about; 0 = 2048 (tests set fewer) */
} rcn_store_opts_t;

/* Opens (creating when absent, unless readonly) the LMDB environment in directory `path`
 * (created 0700 when absent), clears stale reader slots, opens every database and each
 * kind's. Caller owns *out (rcn_store_destroy). RCN_EDB / RCN_EIO with `why`; RCN_EVERSION
 * when the format marker is not ours. */
int rcn_store_open (const char *path, const rcn_store_opts_t *opts, rcn_store_t **out,
                    char *why, size_t whylen) RCN_MUST;

/* Closes and nulls *self_p; accepts NULL; safe to call twice. */
void rcn_store_destroy (rcn_store_t **self_p);

/* Called by rcn_store_append once a batch is committed and synced, with the batch and its
 * per-entry results (RCN_OK: stored by this commit), on the appending thread. For
 * measurement (the node's RCN_COMMIT_TRACE, bench/); it must not touch the store. */
typedef void (*rcn_commit_hook_fn) (void *ctx, rcn_entry_t *const *entries, const int *results,
                                    size_t n);

/* Sets (fn NULL: clears) the commit hook. */
void rcn_store_set_commit_hook (rcn_store_t *s, rcn_commit_hook_fn fn, void *ctx);

/* Appends a batch in one synced write transaction. Entries may build on each other within
 * the batch (seq n then n+1 of one origin). Per entry, results[i] (caller-allocated, n ints):
 *   RCN_OK        stored (and its views updated, or it was recorded invalid)
 *   RCN_EDUP      already held: identical bytes at (origin, seq); nothing written
 *   RCN_EUNVERIFIED  entry->verified is false
 *   RCN_EORIGIN   origin not a member
 *   RCN_EGAP      seq > head+1
 *   RCN_ECHAIN    seq == head+1 but prev != hash of head
 *   RCN_ELOST     below the head, not held, in a span its origin declared lost: not stored
 * A Recovery of seq s declaring first..s-1 lost is stored when first-1 <= head < s and its
 * prev is the hash of the entry first-1 (RCN_EGAP when first-1 > head, RCN_ECHAIN when prev
 * differs); held entries of the span then leave the views, which are rebuilt.
 *   RCN_EFORK     a different entry holds (origin, seq): this one is kept in `forks` as
 *                 evidence and the origin is marked forked from that seq; views stop
 *                 applying its entries from that seq on and are rebuilt without them.
 * Returns RCN_OK once the transaction is committed and synced (whatever the per-entry
 * outcomes); on RCN_EDB / RCN_EIO / RCN_ENOMEM (or a kind's hard error) nothing of the batch
 * was written; RCN_ESTATE on a readonly store. A full map is grown and the batch run again.
 * Entries are borrowed. The hash of each stored entry is computed. */
int rcn_store_append (rcn_store_t *s, rcn_entry_t *const *entries, size_t n, int *results) RCN_MUST;

/* Empties every kind's view and the `invalid` records (which are view state: only entries that
 * are applied are judged) and applies every stored entry again, in origin then seq order,
 * skipping each forked origin from its fork seq on — in one synced write transaction. The
 * append does this itself when a batch marks an origin forked; call it after a kind's apply
 * changed meaning. Not from inside a read callback. RCN_EDB / RCN_EIO / a kind's hard error
 * (nothing changed); RCN_ESTATE on a readonly store. */
int rcn_store_rebuild_views (rcn_store_t *s) RCN_MUST;

/* Before any crypto: *held = true when identical bytes are stored at the entry's (origin, seq),
 * in the log or as fork evidence (either way rcn_store_append would answer RCN_EDUP). */
int rcn_store_holds (rcn_store_t *s, const rcn_entry_t *e, bool *held) RCN_MUST;

/* Head of `origin`: *seq = 0 (hash zeroed) when nothing is held. hash may be NULL. */
int rcn_store_head (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t *seq,
                    uint8_t *hash) RCN_MUST;

/* Calls cb for every origin held, in origin byte order; a non-zero return stops and is returned.
 * Callbacks of heads, scan and read run inside a read transaction. Store reads called from
 * them on the same thread read that same snapshot; they must not call rcn_store_append or
 * rcn_store_rebuild_views (asserted: a map growth would wait for them forever). */
typedef int (*rcn_head_fn) (const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
                            const uint8_t hash[RCN_HASH_SIZE], void *ctx);
int rcn_store_heads (rcn_store_t *s, rcn_head_fn cb, void *ctx) RCN_MUST;

/* Lookups. The entry is trusted (verified at ingest). Caller owns *out. RCN_ENOTFOUND. */
int rcn_store_get (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
                   rcn_entry_t **out) RCN_MUST;
int rcn_store_get_by_hash (rcn_store_t *s, const uint8_t hash[RCN_HASH_SIZE],
                           rcn_entry_t **out) RCN_MUST;

/* Calls cb for entries of `origin` (NULL: every origin, in origin byte order) with seq >=
 * from_seq, in seq order. The entry is borrowed for the call only. Non-zero return stops
 * and is returned. */
typedef int (*rcn_entry_fn) (rcn_entry_t *e, void *ctx);
int rcn_store_scan (rcn_store_t *s, const uint8_t *origin, uint64_t from_seq,
                    rcn_entry_fn cb, void *ctx) RCN_MUST;

/* Why an entry was recorded invalid: RCN_OK and the reason copied into buf, or RCN_ENOTFOUND. */
int rcn_store_invalid_reason (rcn_store_t *s, const uint8_t hash[RCN_HASH_SIZE],
                              char *buf, size_t len) RCN_MUST;

/* Whether origin's seq lies in a span its origin declared lost. */
int rcn_store_lost (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
                    bool *lost) RCN_MUST;

/* Fork state of `origin`: *fork_seq = 0 when not forked. */
int rcn_store_forked (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t *fork_seq) RCN_MUST;

/* Runs fn inside a read transaction with kind k's databases opened (k may be NULL). */
typedef int (*rcn_view_fn) (const rcn_view_t *v, void *ctx);
int rcn_store_read (rcn_store_t *s, const rcn_kind_t *k, rcn_view_fn fn, void *ctx) RCN_MUST;

/* Writes a consistent, compacted copy of the environment into directory `dest` (created;
 * must not exist or be empty) while writers go on; fsyncs it. RCN_EIO / RCN_EDB with `why`. */
int rcn_store_backup (rcn_store_t *s, const char *dest, char *why, size_t whylen) RCN_MUST;

typedef struct {
    uint64_t entries;       /* stored entries (forks' evidence apart) */
    uint64_t origins;
    uint64_t invalid;
    uint64_t forks;
    size_t map_size;        /* current map size, bytes */
    uint64_t map_grows;     /* times the map grew since open */
    int stale_readers;      /* reader slots cleared at open */
    uint64_t hash_tail;     /* entries whose hash is in the hash tail, not yet in `hashes` */
    uint64_t tail_merges;   /* merges of the hash tail into `hashes` since open */
} rcn_store_stats_t;
int rcn_store_stats (rcn_store_t *s, rcn_store_stats_t *out) RCN_MUST;

/* Offline check of the whole log (verify-log): every entry's header parses, its signature
 * verifies, its origin is a member (when is_member is given), seqs run 1..head without gap,
 * each prev matches (a Recovery's span excepted, recovery.h, and every span the `lost` database
 * records is declared by a Recovery in the log), hashes index and heads agree; fork evidence
 * verifies and its origin is marked forked. Stops at the first fault and names it in `why` ("origin 3f2a5b…(16 hex)
 * seq 42: signature does not verify"). *checked (may be NULL) counts entries checked.
 * RCN_OK when all is sound; else the fault's code: RCN_ESIG, RCN_EGAP, RCN_ECHAIN,
 * RCN_EORIGIN, a parse error (RCN_ETRUNC, RCN_EMAGIC, …) or RCN_EDB (index, head or key
 * disagreement). Holds one read transaction throughout (map growth waits for it). */
int rcn_store_check (rcn_store_t *s, rcn_member_fn is_member, void *member_ctx,
                     uint64_t *checked, char *why, size_t whylen) RCN_MUST;

#endif
