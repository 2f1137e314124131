/* store_impl.h — private to the store (store.c, store_check.c): the handle's layout, the key
 * encoding (store.h lists the databases) and the few helpers both files use. Not a module
 * interface: nothing outside the store includes it. */
#ifndef RCN_STORE_IMPL_H
#define RCN_STORE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "rcn/store.h"

#define KEY_SIZE       (RCN_KEY_SIZE + 8)            /* origin | be64(seq) */
#define FORK_KEY_SIZE  (KEY_SIZE + RCN_HASH_SIZE)    /* origin | be64(seq) | hash */
#define WHY_MAX        256

/* ---- The hash tail (store_tail.c) ----------------------------------------------------------
 * `hashes` holds the hash of every entry at or below its origin's mark (`hashes.mark`:
 * origin -> be64 seq); the entries above it are found through this table in memory, which
 * every process rebuilds from the entries above the marks. The writer merges the table into
 * `hashes`, in slices of the hash order, and moves the marks up with the last slice, once it
 * holds tail_merge_at items (TAIL_MERGE_AT unless the store was opened with another). */
#define TAIL_MERGE_AT  131072

typedef struct {
    uint8_t hash[RCN_HASH_SIZE];
    uint8_t key[KEY_SIZE];           /* the entry's key in `entries` */
} store_tail_item_t;

typedef struct {
    uint8_t origin[RCN_KEY_SIZE];
    uint64_t scanned;                /* the tail holds this origin's entries up to here */
} store_tail_origin_t;

typedef struct {
    store_tail_item_t *items;        /* in insertion order */
    size_t n, items_cap;
    uint32_t *table;                 /* open addressing: item number + 1, 0 = empty */
    size_t cap;                      /* a power of two, at least twice n */
    store_tail_origin_t *origins;
    size_t norigins;
    /* What a write transaction began with, for store_tail_rollback. */
    size_t begin_n, begin_norigins, saved_cap;
    store_tail_origin_t *saved;
} store_tail_t;

int store_tail_add (store_tail_t *t, const uint8_t hash[RCN_HASH_SIZE],
                    const uint8_t key[KEY_SIZE]);
/* The key of the entry whose hash this is, or NULL. The entry may be missing from a given
 * snapshot (committed after it, or by a transaction that failed): the caller looks. */
const uint8_t *store_tail_find (const store_tail_t *t, const uint8_t hash[RCN_HASH_SIZE]);
uint64_t store_tail_scanned (const store_tail_t *t, const uint8_t origin[RCN_KEY_SIZE]);
int store_tail_set_scanned (store_tail_t *t, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq);
/* A write transaction begins (remembers the tail) / failed (takes back what it added). */
int store_tail_begin (store_tail_t *t);
void store_tail_rollback (store_tail_t *t);
/* The item numbers 0..n-1 in hash order (malloc'd; NULL: out of memory). */
uint32_t *store_tail_sorted (const store_tail_t *t);
/* After a merge: no items (the scanned seqs stay). */
void store_tail_clear (store_tail_t *t);
void store_tail_free (store_tail_t *t);
/* origin's mark: every entry of it up to there has its row in `hashes` (store.c). A store from
 * before hashes.mark (readonly, not yet opened by a writer of this build) has them all there:
 * the mark is `head`. */
int store_mark_get (rcn_store_t *s, MDB_txn *txn, const uint8_t *origin, uint64_t head,
                    uint64_t *mark);

typedef struct {
    const rcn_kind_t *kind;
    MDB_dbi dbi[RCN_KIND_MAX_DBS];
    bool open;                       /* false: readonly store made before this kind existed */
} kind_slot_t;

struct rcn_store {
    MDB_env *env;
    MDB_dbi entries, hashes, heads, forks, forked, invalid, lost, meta, marks;
    bool has_marks;                  /* false: a readonly store from before hashes.mark */
    store_tail_t tail;               /* under tail_lock */
    pthread_mutex_t tail_lock;
    bool tail_lock_made;
    size_t tail_merge_at;            /* rcn_store_opts_t.tail_merge_at, or TAIL_MERGE_AT */
    size_t merge_slice_pages;        /* rcn_store_opts_t.merge_slice_pages, or store.c's */
    bool merging;                    /* tail_merge's own transaction runs */
    uint64_t tail_merges;            /* merges done, for rcn_store_stats */
    kind_slot_t *kinds;
    size_t nkinds;
    rcn_member_fn is_member;
    void *member_ctx;
    bool readonly;
    pthread_rwlock_t grow_lock;
    bool lock_made;
    uint64_t map_grows;              /* written under grow_lock's write side */
    int stale_readers;
    rcn_commit_hook_fn commit_hook;  /* rcn_store_set_commit_hook; NULL: none */
    void *commit_hook_ctx;
};

/* A transaction body: RCN_OK, an RCN_E… code, or (write bodies only) store.c's S_GROW… */
typedef int (*txn_fn) (rcn_store_t *s, MDB_txn *txn, void *ctx);

static inline uint64_t
be64_get (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void
be64_put (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
}

/* The key of (origin, seq) in `entries`: origin | be64(seq). */
static inline void
key_make (uint8_t key[KEY_SIZE], const uint8_t origin[RCN_KEY_SIZE], uint64_t seq)
{
    memcpy (key, origin, RCN_KEY_SIZE);
    be64_put (key + RCN_KEY_SIZE, seq);
}

static inline MDB_val
val (const void *data, size_t size)
{
    MDB_val v = { size, (void *) data };
    return v;
}

/* Logs an LMDB failure (rcn_warn, naming `what`) and maps its code to an RCN_E… code. */
int store_db_fail (const char *what, int mrc);

/* Runs fn in a read transaction — this thread's open one on s when there is one (a call from
 * inside a scan's or view's callback), else a new one. Returns fn's result. */
int store_with_read_txn (rcn_store_t *s, txn_fn fn, void *ctx);

/* origin's head: *seq (0 when it has none) and, when hash is not NULL, the head's hash. */
int store_head_get (rcn_store_t *s, MDB_txn *txn, const uint8_t *origin, uint64_t *seq,
                    uint8_t *hash);

/* The lowest seq at which origin is marked forked; 0 when it is not. */
int store_fork_seq_get (rcn_store_t *s, MDB_txn *txn, const uint8_t *origin, uint64_t *fork_seq);

/* Whether origin's seq lies in a span its origin declared lost (a Recovery, recovery.h). */
int store_lost_covers (rcn_store_t *s, MDB_txn *txn, const uint8_t *origin, uint64_t seq,
                       bool *covered);

/* Whether stored value v is exactly e, in the storage form sig | signed (entry.h). No crypto. */
bool store_raw_equal (const MDB_val *v, const rcn_entry_t *e);

/* "3f2a5b…" — the first 16 hex digits of an origin, for messages. Returns out. */
const char *store_origin_short (const uint8_t *origin, char out[20]);

#endif
