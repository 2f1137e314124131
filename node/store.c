/* store.c — the append-only entry log in LMDB (store.h; DESIGN.md §3).
 *
 * Entries are kept in their storage form (sig | signed) under origin | be64(seq), with a hash
 * index, one head per origin, fork evidence and the views of the record kinds beside them in
 * one LMDB environment.
 *
 * The one decision: ONE write transaction per batch holds the entries, their origins' heads
 * and every kind's view (invariant 4). A batch is all there or not at all, so a view is never
 * ahead of or behind the log. Everything else is redoing that one transaction: a full map is
 * grown and the batch run again; a fork found in a batch rebuilds the views from the stored
 * entries inside the same transaction. The hash index is the one thing kept apart: a batch's
 * hashes go to the hash tail in memory, which every open rebuilds from the entries, and reach
 * `hashes` in large sorted merges (store_tail.c says why).
 *
 * Every transaction of this process holds the read side of `grow_lock` for its lifetime;
 * mdb_env_set_mapsize (which remaps) runs only under its write side.
 *
 * The offline check of the whole log (rcn_store_check) is in store_check.c; what both files
 * share is in store_impl.h. */
#include "rcn/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <lmdb.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/fileio.h"
#include "rcn/log.h"
#include "rcn/recovery.h"
#include "store_impl.h"

#define HEAD_SIZE      (8 + RCN_HASH_SIZE)           /* be64(seq) | hash */
#define FORMAT         "rcn-store-2"
#define FORMAT_V1      "rcn-store-1"     /* before hashes.mark: every hash in `hashes` */
#define DEFAULT_MAP    ((size_t) 64 << 20)
#define CORE_DBS       8                 /* hashes.mark apart: it may be missing */
#define LOST_SIZE      16                            /* be64(last) | be64(recovery seq) */
#define MAYBE_GROWS    8     /* growths tried for a kind's failure inside LMDB, per batch */
#define MERGE_SLICE_PAGES 2048   /* leaf pages of `hashes` a merge transaction dirties, about */

/* Internal outcomes of a transaction body, positive so they never meet an RCN_E… code:
 * the map is full (grow and run again), or a kind failed inside LMDB, most likely on a full
 * map (grow and run again, a bounded number of times). */
enum { S_GROW = 1, S_GROW_MAYBE = 2 };

/* ---- encoding (be64_get, be64_put, key_make and val are in store_impl.h) ------------------ */

bool
store_raw_equal (const MDB_val *v, const rcn_entry_t *e)
{
    const uint8_t *p = v->mv_data;
    return v->mv_size == rcn_entry_raw_len (e)
        && memcmp (p, e->sig, RCN_SIG_SIZE) == 0
        && memcmp (p + RCN_SIG_SIZE, e->signed_bytes, e->signed_len) == 0;
}

const char *
store_origin_short (const uint8_t *origin, char out[20])
{
    char hex[2 * RCN_KEY_SIZE + 1];
    rcn_hex (origin, RCN_KEY_SIZE, hex);
    snprintf (out, 20, "%.16s\xe2\x80\xa6", hex);
    return out;
}

/* ---- LMDB errors, transactions, map growth ------------------------------------------------ */

int
store_db_fail (const char *what, int mrc)
{
    rcn_warn ("store: %s: %s", what, mdb_strerror (mrc));
    switch (mrc) {
    case ENOMEM: return RCN_ENOMEM;
    case EIO: case ENOSPC: case EACCES: case EROFS: case EDQUOT: return RCN_EIO;
    default: return RCN_EDB;
    }
}

/* For writes: MDB_MAP_FULL asks for growth; anything else fails. */
static int
db_rc (const char *what, int mrc)
{
    if (mrc == MDB_SUCCESS)
        return RCN_OK;
    if (mrc == MDB_MAP_FULL)
        return S_GROW;
    return store_db_fail (what, mrc);
}

/* Another process grew the map: take its size (MDB_MAP_RESIZED). */
static int
adopt_map_size (rcn_store_t *s)
{
    pthread_rwlock_wrlock (&s->grow_lock);
    int mrc = mdb_env_set_mapsize (s->env, 0);
    pthread_rwlock_unlock (&s->grow_lock);
    if (mrc)
        return store_db_fail ("adopting the grown map size", mrc);
    rcn_info ("store: map grown by another process, adopted");
    return RCN_OK;
}

/* Doubles the map. Waits until no transaction of this process is open. */
static int
grow (rcn_store_t *s)
{
    pthread_rwlock_wrlock (&s->grow_lock);
    MDB_envinfo info;
    int mrc = mdb_env_info (s->env, &info);
    size_t size = info.me_mapsize;
    if (mrc == MDB_SUCCESS && size > SIZE_MAX / 2)
        mrc = ENOMEM;
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_mapsize (s->env, size * 2);
    if (mrc == MDB_SUCCESS)
        s->map_grows++;
    pthread_rwlock_unlock (&s->grow_lock);
    if (mrc)
        return store_db_fail ("growing the map", mrc);
    rcn_info ("store: map full, grown from %zu to %zu bytes", size, size * 2);
    return RCN_OK;
}

/* Begins a transaction holding the read side of grow_lock; end it with txn_release. */
static int
txn_begin (rcn_store_t *s, unsigned flags, MDB_txn **txn)
{
    for (;;) {
        pthread_rwlock_rdlock (&s->grow_lock);
        int mrc = mdb_txn_begin (s->env, NULL, flags, txn);
        if (mrc == MDB_SUCCESS)
            return RCN_OK;
        pthread_rwlock_unlock (&s->grow_lock);
        if (mrc != MDB_MAP_RESIZED)
            return store_db_fail ("beginning a transaction", mrc);
        int rc = adopt_map_size (s);
        if (rc)
            return rc;
    }
}

/* Aborts txn (NULL when already committed) and releases grow_lock. */
static void
txn_release (rcn_store_t *s, MDB_txn *txn)
{
    if (txn)
        mdb_txn_abort (txn);
    pthread_rwlock_unlock (&s->grow_lock);
}

/* The read transaction this thread has open on a store, if any. A store call made from inside
 * a callback (a scan's, a view's) joins it: it reads the same snapshot and never begins a
 * second transaction — which could meet MDB_MAP_RESIZED and wait for growth on a lock its own
 * thread holds. */
typedef struct {
    rcn_store_t *s;
    MDB_txn *txn;
} read_slot_t;
static _Thread_local read_slot_t t_read;

int
store_with_read_txn (rcn_store_t *s, txn_fn fn, void *ctx)
{
    if (t_read.s == s)
        return fn (s, t_read.txn, ctx);
    MDB_txn *txn;
    int rc = txn_begin (s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    read_slot_t outer = t_read;
    t_read.s = s;
    t_read.txn = txn;
    rc = fn (s, txn, ctx);
    t_read = outer;
    txn_release (s, txn);
    return rc;
}

static void tail_merge (rcn_store_t *s);

/* Runs fn in a write transaction and commits, growing the map and running fn again as often
 * as a full map asks. fn must be safe to run again from scratch: what a failed attempt put in
 * the hash tail is taken back. A commit that leaves the tail tail_merge_at long merges it. */
static int
with_write_txn (rcn_store_t *s, txn_fn fn, void *ctx)
{
    if (s->readonly)
        return RCN_ESTATE;
    assert (t_read.s != s);     /* a write from inside a read callback would wait on itself */
    int maybe = 0;
    for (;;) {
        MDB_txn *txn;
        int rc = txn_begin (s, 0, &txn);
        if (rc)
            return rc;
        pthread_mutex_lock (&s->tail_lock);
        rc = store_tail_begin (&s->tail);
        pthread_mutex_unlock (&s->tail_lock);
        if (rc == RCN_OK)
            rc = fn (s, txn, ctx);
        if (rc == RCN_OK) {
            rc = db_rc ("committing", mdb_txn_commit (txn));
            txn = NULL;
        }
        txn_release (s, txn);
        if (rc != RCN_OK) {             /* what this attempt put in the tail is not stored */
            pthread_mutex_lock (&s->tail_lock);
            store_tail_rollback (&s->tail);
            pthread_mutex_unlock (&s->tail_lock);
        } else if (s->tail.n >= s->tail_merge_at && !s->merging)
            tail_merge (s);
        if (rc == S_GROW_MAYBE && ++maybe > MAYBE_GROWS) {
            rcn_warn ("store: a kind's view update keeps failing inside LMDB; batch abandoned");
            return RCN_EDB;
        }
        if (rc != S_GROW && rc != S_GROW_MAYBE)
            return rc;
        rc = grow (s);
        if (rc)
            return rc;
    }
}

/* ---- small lookups inside a transaction ---------------------------------------------------- */

int
store_head_get (rcn_store_t *s, MDB_txn *txn, const uint8_t *origin, uint64_t *seq, uint8_t *hash)
{
    MDB_val k = val (origin, RCN_KEY_SIZE), v;
    int mrc = mdb_get (txn, s->heads, &k, &v);
    *seq = 0;
    if (hash)
        memset (hash, 0, RCN_HASH_SIZE);
    if (mrc == MDB_NOTFOUND)
        return RCN_OK;
    if (mrc)
        return store_db_fail ("reading a head", mrc);
    if (v.mv_size != HEAD_SIZE)
        return store_db_fail ("reading a head", MDB_CORRUPTED);
    *seq = be64_get (v.mv_data);
    if (hash)
        memcpy (hash, (uint8_t *) v.mv_data + 8, RCN_HASH_SIZE);
    return RCN_OK;
}

int
store_fork_seq_get (rcn_store_t *s, MDB_txn *txn, const uint8_t *origin, uint64_t *fork_seq)
{
    MDB_val k = val (origin, RCN_KEY_SIZE), v;
    int mrc = mdb_get (txn, s->forked, &k, &v);
    *fork_seq = 0;
    if (mrc == MDB_NOTFOUND)
        return RCN_OK;
    if (mrc)
        return store_db_fail ("reading fork state", mrc);
    if (v.mv_size != 8)
        return store_db_fail ("reading fork state", MDB_CORRUPTED);
    *fork_seq = be64_get (v.mv_data);
    return RCN_OK;
}

/* Whether e is held as fork evidence (identical bytes under origin | seq | *). */
static int
fork_held (rcn_store_t *s, MDB_txn *txn, const rcn_entry_t *e, bool *held)
{
    uint8_t key[KEY_SIZE];
    key_make (key, e->h.origin, e->h.seq);
    MDB_cursor *cur = NULL;
    *held = false;
    int mrc = mdb_cursor_open (txn, s->forks, &cur);
    if (mrc)
        return store_db_fail ("opening a cursor on forks", mrc);
    MDB_val k = val (key, KEY_SIZE), v;
    for (mrc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
         mrc == MDB_SUCCESS && k.mv_size == FORK_KEY_SIZE && memcmp (k.mv_data, key, KEY_SIZE) == 0;
         mrc = mdb_cursor_get (cur, &k, &v, MDB_NEXT))
        if (store_raw_equal (&v, e)) {
            *held = true;
            break;
        }
    mdb_cursor_close (cur);
    return RCN_OK;
}

int
store_lost_covers (rcn_store_t *s, MDB_txn *txn, const uint8_t *origin, uint64_t seq, bool *covered)
{
    uint8_t key[KEY_SIZE];
    MDB_cursor *cur = NULL;
    *covered = false;
    int mrc = mdb_cursor_open (txn, s->lost, &cur);
    if (mrc)
        return store_db_fail ("opening a cursor on lost spans", mrc);
    /* The span with the greatest first <= seq: the key after (origin, seq), then one back. */
    key_make (key, origin, seq + 1);
    MDB_val k = val (key, KEY_SIZE), v;
    mrc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    mrc = mdb_cursor_get (cur, &k, &v, mrc == MDB_SUCCESS ? MDB_PREV : MDB_LAST);
    int rc = RCN_OK;
    if (mrc == MDB_SUCCESS) {
        if (k.mv_size != KEY_SIZE || v.mv_size != LOST_SIZE)
            rc = store_db_fail ("a lost span has the wrong size", MDB_CORRUPTED);
        else if (memcmp (k.mv_data, origin, RCN_KEY_SIZE) == 0
                 && be64_get ((uint8_t *) k.mv_data + RCN_KEY_SIZE) <= seq
                 && be64_get (v.mv_data) >= seq)
            *covered = true;
    } else if (mrc != MDB_NOTFOUND)
        rc = store_db_fail ("reading lost spans", mrc);
    mdb_cursor_close (cur);
    return rc;
}

/* Stored raw value -> trusted entry with its hash computed (kinds read e->hash). */
static int
entry_from_stored (const MDB_val *v, rcn_entry_t **out)
{
    int rc = rcn_entry_from_raw (v->mv_data, v->mv_size, true, out);
    if (rc)
        return store_db_fail ("a stored entry does not parse", MDB_CORRUPTED);
    (void) rcn_entry_hash (*out);
    return RCN_OK;
}

/* The hash tail's key for hash, when it holds one and txn's snapshot holds that entry. */
static int
get_from_tail (rcn_store_t *s, MDB_txn *txn, const uint8_t *hash, rcn_entry_t **out)
{
    uint8_t key[KEY_SIZE];
    pthread_mutex_lock (&s->tail_lock);
    const uint8_t *found = store_tail_find (&s->tail, hash);
    if (found)
        memcpy (key, found, KEY_SIZE);
    pthread_mutex_unlock (&s->tail_lock);
    if (!found)
        return RCN_ENOTFOUND;
    MDB_val k = val (key, KEY_SIZE), v;
    int mrc = mdb_get (txn, s->entries, &k, &v);
    if (mrc == MDB_NOTFOUND)        /* committed after this snapshot, or never */
        return RCN_ENOTFOUND;
    if (mrc)
        return store_db_fail ("reading an entry", mrc);
    int rc = entry_from_stored (&v, out);
    if (rc == RCN_OK && memcmp ((*out)->hash, hash, RCN_HASH_SIZE) != 0) {
        rcn_entry_destroy (out);    /* another entry took that seq since: not this hash's */
        rc = RCN_ENOTFOUND;
    }
    return rc;
}

static int tail_catch_up (rcn_store_t *s, MDB_txn *txn);

/* Looks in the tail, then in `hashes`. A readonly store (another process writes) brings its
 * tail up to txn's snapshot only when both miss, so that readers that never look up a hash
 * (a head watcher, a scan) pay nothing for it. */
static int
get_by_hash_in (rcn_store_t *s, MDB_txn *txn, const uint8_t *hash, rcn_entry_t **out)
{
    *out = NULL;
    int rc = get_from_tail (s, txn, hash, out);
    if (rc != RCN_ENOTFOUND)
        return rc;
    MDB_val k = val (hash, RCN_HASH_SIZE), v;
    int mrc = mdb_get (txn, s->hashes, &k, &v);
    if (mrc == MDB_NOTFOUND && s->readonly) {
        if ((rc = tail_catch_up (s, txn)) != RCN_OK)
            return rc;
        return get_from_tail (s, txn, hash, out);
    }
    if (mrc == MDB_NOTFOUND)
        return RCN_ENOTFOUND;
    if (mrc)
        return store_db_fail ("reading the hash index", mrc);
    k = v;
    mrc = mdb_get (txn, s->entries, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return store_db_fail ("hash index points to no entry", MDB_CORRUPTED);
    if (mrc)
        return store_db_fail ("reading an entry", mrc);
    return entry_from_stored (&v, out);
}

static const kind_slot_t *
kind_find (rcn_store_t *s, uint32_t kind)
{
    for (size_t i = 0; i < s->nkinds; i++)
        if (rcn_kind_handles (s->kinds[i].kind, kind))
            return &s->kinds[i];
    return NULL;
}

static void
view_make (rcn_store_t *s, const kind_slot_t *ks, MDB_txn *txn, rcn_view_t *v)
{
    memset (v, 0, sizeof *v);
    v->txn = txn;
    v->store = s;
    if (ks)
        memcpy (v->dbi, ks->dbi, sizeof v->dbi);
}

/* ---- views --------------------------------------------------------------------------------- */

/* A kind's apply failed with a code other than RCN_EBODY. If its own mdb_put hit a full map,
 * the error reaches us in the kind's words; the transaction is then broken, and a probe
 * write tells (the batch is aborted anyway, so the probe costs nothing). */
static int
kind_failure (rcn_store_t *s, MDB_txn *txn, const rcn_kind_t *k, int rc)
{
    static const char probe[] = "probe";
    MDB_val pk = val (probe, sizeof probe - 1), pv = val ("", 0);
    int mrc = mdb_put (txn, s->meta, &pk, &pv, 0);
    if (mrc == MDB_MAP_FULL || mrc == MDB_BAD_TXN)
        return S_GROW_MAYBE;
    rcn_warn ("store: kind %s failed (%s); batch abandoned", k->name, rcn_strerror (rc));
    return rc;
}

/* Applies stored entry e to its kind's view, or records it invalid (invariant 9). */
static int
apply_entry (rcn_store_t *s, MDB_txn *txn, rcn_entry_t *e)
{
    char why[WHY_MAX] = "";
    const kind_slot_t *ks = kind_find (s, e->h.kind);
    if (!ks) {
        snprintf (why, sizeof why, "unknown kind %" PRIu32, e->h.kind);
    } else {
        if (!ks->kind->apply)
            return RCN_OK;
        rcn_view_t v;
        view_make (s, ks, txn, &v);
        int rc = ks->kind->apply (&v, e, why, sizeof why);
        if (rc == RCN_OK)
            return RCN_OK;
        if (rc != RCN_EBODY)
            return kind_failure (s, txn, ks->kind, rc);
        if (!why[0])
            snprintf (why, sizeof why, "rejected by kind %s", ks->kind->name);
    }
    MDB_val k = val (rcn_entry_hash (e), RCN_HASH_SIZE), v = val (why, strlen (why));
    return db_rc ("recording an invalid entry", mdb_put (txn, s->invalid, &k, &v, 0));
}

/* Empties every view (and the invalid records, which are view state) and applies every
 * stored entry again in origin, then seq order, skipping forked ranges (invariant 7) and
 * spans declared lost (recovery.h). */
static int
rebuild_in (rcn_store_t *s, MDB_txn *txn)
{
    MDB_cursor *cur = NULL;
    rcn_entry_t *e = NULL;
    int rc = RCN_OK, mrc;
    for (size_t i = 0; i < s->nkinds; i++)
        for (size_t j = 0; s->kinds[i].kind->dbs && s->kinds[i].kind->dbs[j]; j++)
            if ((mrc = mdb_drop (txn, s->kinds[i].dbi[j], 0)) != 0) {
                rc = db_rc ("emptying a view", mrc);
                goto done;
            }
    if ((mrc = mdb_drop (txn, s->invalid, 0)) != 0) {
        rc = db_rc ("emptying invalid records", mrc);
        goto done;
    }
    if ((mrc = mdb_cursor_open (txn, s->entries, &cur)) != 0) {
        rc = store_db_fail ("opening a cursor on entries", mrc);
        goto done;
    }
    uint8_t origin[RCN_KEY_SIZE];
    uint64_t fork_seq = 0;
    bool have = false;
    MDB_val k, v;
    for (mrc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != KEY_SIZE) {
            rc = store_db_fail ("an entries key has the wrong size", MDB_CORRUPTED);
            goto done;
        }
        if (!have || memcmp (origin, k.mv_data, RCN_KEY_SIZE) != 0) {
            memcpy (origin, k.mv_data, RCN_KEY_SIZE);
            have = true;
            if ((rc = store_fork_seq_get (s, txn, origin, &fork_seq)) != RCN_OK)
                goto done;
        }
        uint64_t seq = be64_get ((uint8_t *) k.mv_data + RCN_KEY_SIZE);
        if (fork_seq && seq >= fork_seq)
            continue;
        bool lost;
        if ((rc = store_lost_covers (s, txn, origin, seq, &lost)) != RCN_OK)
            goto done;
        if (lost)
            continue;                   /* declared lost by its origin: no view holds it */
        if ((rc = entry_from_stored (&v, &e)) != RCN_OK)
            goto done;
        rc = apply_entry (s, txn, e);
        rcn_entry_destroy (&e);
        if (rc)
            goto done;
    }
    if (mrc != MDB_NOTFOUND)
        rc = store_db_fail ("walking entries", mrc);
done:
    rcn_entry_destroy (&e);
    if (cur)
        mdb_cursor_close (cur);
    return rc;
}

/* ---- append -------------------------------------------------------------------------------- */

typedef struct {
    rcn_entry_t *const *entries;
    size_t n;
    int *results;
} append_ctx_t;

/* Keeps e, a different entry at a held (origin, seq), as fork evidence. */
static int
record_fork (rcn_store_t *s, MDB_txn *txn, rcn_entry_t *e, bool *rebuild)
{
    uint8_t key[FORK_KEY_SIZE], seq_be[8];
    key_make (key, e->h.origin, e->h.seq);
    memcpy (key + KEY_SIZE, rcn_entry_hash (e), RCN_HASH_SIZE);
    MDB_val k = val (key, FORK_KEY_SIZE), v = val (NULL, rcn_entry_raw_len (e));
    int mrc = mdb_put (txn, s->forks, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
    if (mrc)
        return db_rc ("storing fork evidence", mrc);
    rcn_entry_raw_write (e, v.mv_data);
    uint64_t fork_seq;
    int rc = store_fork_seq_get (s, txn, e->h.origin, &fork_seq);
    if (rc || (fork_seq && fork_seq <= e->h.seq))
        return rc;
    be64_put (seq_be, e->h.seq);
    k = val (e->h.origin, RCN_KEY_SIZE);
    v = val (seq_be, 8);
    *rebuild = true;
    return db_rc ("marking an origin forked", mdb_put (txn, s->forked, &k, &v, 0));
}

/* Writes e, judged storable: the entry, its hash index, its origin's head, and its
 * view unless its origin is forked at that seq. */
static int
store_new (rcn_store_t *s, MDB_txn *txn, rcn_entry_t *e, int *result)
{
    uint8_t key[KEY_SIZE], head_val[HEAD_SIZE];
    uint64_t fork_seq;
    int rc;
    key_make (key, e->h.origin, e->h.seq);
    const uint8_t *hash = rcn_entry_hash (e);
    MDB_val k = val (key, KEY_SIZE), v = val (NULL, rcn_entry_raw_len (e));
    if ((rc = db_rc ("storing an entry",
                     mdb_put (txn, s->entries, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE))) != RCN_OK)
        return rc;
    rcn_entry_raw_write (e, v.mv_data);
    pthread_mutex_lock (&s->tail_lock);          /* its hash: into the tail (store_tail.c) */
    rc = store_tail_add (&s->tail, hash, key);
    if (rc == RCN_OK)
        rc = store_tail_set_scanned (&s->tail, e->h.origin, e->h.seq);
    pthread_mutex_unlock (&s->tail_lock);
    if (rc != RCN_OK)
        return rc;
    be64_put (head_val, e->h.seq);
    memcpy (head_val + 8, hash, RCN_HASH_SIZE);
    MDB_val ok = val (e->h.origin, RCN_KEY_SIZE), hv = val (head_val, HEAD_SIZE);
    if ((rc = db_rc ("moving a head", mdb_put (txn, s->heads, &ok, &hv, 0))) != RCN_OK)
        return rc;
    *result = RCN_OK;

    if ((rc = store_fork_seq_get (s, txn, e->h.origin, &fork_seq)) != RCN_OK)
        return rc;
    if (fork_seq && e->h.seq >= fork_seq)
        return RCN_OK;
    return apply_entry (s, txn, e);
}

/* e is a Recovery of seq above our head that does not simply follow it. *judged = false when
 * its body declares no span (the ordinary checks then refuse or store it); else *result says
 * whether it links below (recovery.h) and, when it does, it is stored with its span. */
static int
append_recovery (rcn_store_t *s, MDB_txn *txn, rcn_entry_t *e, uint64_t head,
                 const uint8_t *head_hash, int *result, bool *rebuild, bool *judged)
{
    uint64_t first, last;
    *judged = false;
    if (rcn_recovery_span (e, &first, &last, NULL, 0) != RCN_OK)
        return RCN_OK;
    *judged = true;
    if (first - 1 > head) {
        *result = RCN_EGAP;
        return RCN_OK;
    }
    uint8_t below[RCN_HASH_SIZE] = { 0 };
    if (first - 1 == head)
        memcpy (below, head_hash, RCN_HASH_SIZE);
    else if (first > 1) {
        uint8_t key[KEY_SIZE];
        key_make (key, e->h.origin, first - 1);
        MDB_val k = val (key, KEY_SIZE), v;
        int mrc = mdb_get (txn, s->entries, &k, &v);
        if (mrc == MDB_NOTFOUND) {
            *result = RCN_ECHAIN;   /* first-1 lies in an earlier lost span: links to nothing */
            return RCN_OK;
        }
        if (mrc)
            return store_db_fail ("reading an entry", mrc);
        rcn_entry_t *b = NULL;
        int rc = entry_from_stored (&v, &b);
        if (rc)
            return rc;
        memcpy (below, rcn_entry_hash (b), RCN_HASH_SIZE);
        rcn_entry_destroy (&b);
    }
    if (memcmp (e->h.prev, below, RCN_HASH_SIZE) != 0) {
        *result = RCN_ECHAIN;
        return RCN_OK;
    }
    uint8_t key[KEY_SIZE], span[LOST_SIZE];
    key_make (key, e->h.origin, first);
    be64_put (span, last);
    be64_put (span + 8, e->h.seq);
    MDB_val k = val (key, KEY_SIZE), v = val (span, LOST_SIZE);
    int rc = db_rc ("recording a lost span", mdb_put (txn, s->lost, &k, &v, 0));
    if (rc)
        return rc;
    if (first <= head) {
        char o[20];
        rcn_info ("store: origin %s declared seqs %" PRIu64 "..%" PRIu64 " lost; the %" PRIu64
                  " of them held here leave the views", store_origin_short (e->h.origin, o),
                  first, last, head - first + 1);
        *rebuild = true;
    }
    return store_new (s, txn, e, result);
}

/* Judges e against the log as this transaction sees it (earlier entries of the batch
 * included) and stores it. *result gets the per-entry outcome; the return is a hard error. */
static int
append_one (rcn_store_t *s, MDB_txn *txn, rcn_entry_t *e, int *result, bool *rebuild)
{
    uint8_t key[KEY_SIZE], head_hash[RCN_HASH_SIZE];
    uint64_t head;
    key_make (key, e->h.origin, e->h.seq);
    MDB_val k = val (key, KEY_SIZE), v;
    int rc, mrc = mdb_get (txn, s->entries, &k, &v);
    if (mrc && mrc != MDB_NOTFOUND)
        return store_db_fail ("reading an entry", mrc);
    bool taken = mrc == MDB_SUCCESS;

    /* Duplicates go before any check that costs crypto upstream. */
    if (taken && store_raw_equal (&v, e)) {
        *result = RCN_EDUP;
        return RCN_OK;
    }
    if (taken) {
        bool held;
        if ((rc = fork_held (s, txn, e, &held)) != RCN_OK)
            return rc;
        if (held) {
            *result = RCN_EDUP;
            return RCN_OK;
        }
    }
    if (!e->verified) {
        *result = RCN_EUNVERIFIED;
        return RCN_OK;
    }
    if (!s->is_member (e->h.origin, s->member_ctx)) {
        *result = RCN_EORIGIN;
        return RCN_OK;
    }
    if (taken) {
        *result = RCN_EFORK;
        return record_fork (s, txn, e, rebuild);
    }
    if ((rc = store_head_get (s, txn, e->h.origin, &head, head_hash)) != RCN_OK)
        return rc;
    if (e->h.kind == rcn_recovery_kind && e->h.seq > head
        && (e->h.seq != head + 1 || memcmp (e->h.prev, head_hash, RCN_HASH_SIZE) != 0)) {
        bool judged;
        if ((rc = append_recovery (s, txn, e, head, head_hash, result, rebuild, &judged)) != RCN_OK
            || judged)
            return rc;
    }
    if (e->h.seq > head + 1) {
        *result = RCN_EGAP;
        return RCN_OK;
    }
    if (e->h.seq <= head) {
        bool lost;
        if ((rc = store_lost_covers (s, txn, e->h.origin, e->h.seq, &lost)) != RCN_OK)
            return rc;
        if (lost) {                 /* found again after its origin declared it lost */
            *result = RCN_ELOST;
            return RCN_OK;
        }
        char o[20];                 /* below the head yet not held: the store lost an entry */
        rcn_warn ("store: origin %s holds head %" PRIu64 " but no seq %" PRIu64,
                  store_origin_short (e->h.origin, o), head, e->h.seq);
        return RCN_EDB;
    }
    if (memcmp (e->h.prev, head_hash, RCN_HASH_SIZE) != 0) {
        *result = RCN_ECHAIN;
        return RCN_OK;
    }
    return store_new (s, txn, e, result);
}

static int
append_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    append_ctx_t *a = ctx;
    bool rebuild = false;
    for (size_t i = 0; i < a->n; i++) {
        a->results[i] = RCN_OK;
        int rc = append_one (s, txn, a->entries[i], &a->results[i], &rebuild);
        if (rc)
            return rc;
    }
    return rebuild ? rebuild_in (s, txn) : RCN_OK;
}

int
rcn_store_append (rcn_store_t *s, rcn_entry_t *const *entries, size_t n, int *results)
{
    assert (s && (entries || n == 0) && (results || n == 0));
    if (n == 0)
        return RCN_OK;
    append_ctx_t a = { entries, n, results };
    int rc = with_write_txn (s, append_txn, &a);
    if (rc)
        return rc;
    if (s->commit_hook)
        s->commit_hook (s->commit_hook_ctx, entries, results, n);
    for (size_t i = 0; i < n; i++)
        if (results[i] == RCN_EFORK) {
            char o[20];
            rcn_warn ("store: origin %s signed two entries at seq %" PRIu64 ": forked",
                      store_origin_short (entries[i]->h.origin, o), entries[i]->h.seq);
        }
    return RCN_OK;
}

void
rcn_store_set_commit_hook (rcn_store_t *s, rcn_commit_hook_fn fn, void *ctx)
{
    assert (s);
    s->commit_hook = fn;
    s->commit_hook_ctx = ctx;
}

static int
rebuild_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    (void) ctx;
    return rebuild_in (s, txn);
}

int
rcn_store_rebuild_views (rcn_store_t *s)
{
    assert (s);
    return with_write_txn (s, rebuild_txn, NULL);
}

/* ---- the hash tail (store_tail.c; store_impl.h says what it is) ---------------------------- */

int
store_mark_get (rcn_store_t *s, MDB_txn *txn, const uint8_t *origin, uint64_t head, uint64_t *mark)
{
    if (!s->has_marks) {
        *mark = head;
        return RCN_OK;
    }
    MDB_val k = val (origin, RCN_KEY_SIZE), v;
    int mrc = mdb_get (txn, s->marks, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        *mark = 0;
        return RCN_OK;
    }
    if (mrc)
        return store_db_fail ("reading a hash mark", mrc);
    if (v.mv_size != 8)
        return store_db_fail ("a hash mark is not 8 bytes", MDB_CORRUPTED);
    *mark = be64_get (v.mv_data);
    return RCN_OK;
}

/* Puts into the tail the hash of every entry txn holds above its origin's mark that the tail
 * has not seen: all of them when a writer opens the store, then (readonly stores, on a
 * lookup that missed) what the writer has committed since. A reader's tail keeps what the
 * writer has merged since; past twice tail_merge_at it starts again from the marks. */
static int
tail_catch_up (rcn_store_t *s, MDB_txn *txn)
{
    MDB_cursor *hc = NULL, *ec = NULL;
    MDB_val hk, hv;
    int rc = RCN_OK, mrc;
    pthread_mutex_lock (&s->tail_lock);
    if (s->readonly && s->tail.n > 2 * s->tail_merge_at) {
        store_tail_clear (&s->tail);
        s->tail.norigins = 0;
    }
    if ((mrc = mdb_cursor_open (txn, s->heads, &hc)) != 0
        || (mrc = mdb_cursor_open (txn, s->entries, &ec)) != 0) {
        rc = store_db_fail ("walking heads for the hash tail", mrc);
        goto done;
    }
    for (mrc = mdb_cursor_get (hc, &hk, &hv, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get (hc, &hk, &hv, MDB_NEXT)) {
        if (hk.mv_size != RCN_KEY_SIZE || hv.mv_size != HEAD_SIZE) {
            rc = store_db_fail ("a head is malformed", MDB_CORRUPTED);
            goto done;
        }
        uint64_t head = be64_get (hv.mv_data), mark = 0, from;
        from = store_tail_scanned (&s->tail, hk.mv_data);
        if (from >= head)
            continue;
        if ((rc = store_mark_get (s, txn, hk.mv_data, head, &mark)) != RCN_OK)
            goto done;
        if (mark > from)
            from = mark;
        uint8_t key[KEY_SIZE];
        key_make (key, hk.mv_data, from + 1);
        MDB_val ek = val (key, KEY_SIZE), ev;
        int erc;
        for (erc = mdb_cursor_get (ec, &ek, &ev, MDB_SET_RANGE);
             erc == 0 && ek.mv_size == KEY_SIZE
             && memcmp (ek.mv_data, hk.mv_data, RCN_KEY_SIZE) == 0
             && be64_get ((const uint8_t *) ek.mv_data + RCN_KEY_SIZE) <= head;
             erc = mdb_cursor_get (ec, &ek, &ev, MDB_NEXT)) {
            rcn_entry_t *e = NULL;
            if ((rc = entry_from_stored (&ev, &e)) != RCN_OK)
                goto done;
            rc = store_tail_add (&s->tail, e->hash, ek.mv_data);
            rcn_entry_destroy (&e);
            if (rc != RCN_OK)
                goto done;
        }
        if (erc != 0 && erc != MDB_NOTFOUND) {
            rc = store_db_fail ("reading entries for the hash tail", erc);
            goto done;
        }
        if ((rc = store_tail_set_scanned (&s->tail, hk.mv_data, head)) != RCN_OK)
            goto done;
    }
    if (mrc != MDB_NOTFOUND)
        rc = store_db_fail ("walking heads for the hash tail", mrc);
done:
    if (ec)
        mdb_cursor_close (ec);
    if (hc)
        mdb_cursor_close (hc);
    pthread_mutex_unlock (&s->tail_lock);
    return rc;
}

/* One slice of a merge: items order[from..to) (a run of the tail in hash order) into `hashes`;
 * with `marks`, also every origin's mark up to what the tail holds of it. Only the writer's
 * thread changes the tail, so it is read here unlocked. */
typedef struct {
    const uint32_t *order;
    size_t from, to;
    bool marks;
} merge_ctx_t;

static int
merge_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    const merge_ctx_t *m = ctx;
    const store_tail_t *t = &s->tail;
    for (size_t i = m->from; i < m->to; i++) {
        const store_tail_item_t *it = &t->items[m->order[i]];
        MDB_val k = val (it->hash, RCN_HASH_SIZE), v = val (it->key, KEY_SIZE);
        int mrc = mdb_put (txn, s->hashes, &k, &v, MDB_NOOVERWRITE);
        if (mrc == MDB_KEYEXIST && v.mv_size == KEY_SIZE
            && memcmp (v.mv_data, it->key, KEY_SIZE) == 0)
            continue;               /* already there: an earlier merge stopped after this slice */
        if (mrc == MDB_KEYEXIST)
            return store_db_fail ("merging the hash tail: a hash already points elsewhere",
                                  MDB_CORRUPTED);
        int rc = db_rc ("merging the hash tail", mrc);
        if (rc)
            return rc;
    }
    for (size_t i = 0; m->marks && i < t->norigins; i++) {
        uint8_t seq_be[8];
        be64_put (seq_be, t->origins[i].scanned);
        MDB_val k = val (t->origins[i].origin, RCN_KEY_SIZE), v = val (seq_be, 8);
        int rc = db_rc ("moving a hash mark", mdb_put (txn, s->marks, &k, &v, 0));
        if (rc)
            return rc;
    }
    return RCN_OK;
}

static int
leaf_pages_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    MDB_stat st;
    int mrc = mdb_stat (txn, s->hashes, &st);
    if (mrc)
        return store_db_fail ("reading statistics", mrc);
    *(size_t *) ctx = st.ms_leaf_pages;
    return RCN_OK;
}

/* Merges the tail into `hashes` (after a commit that left it tail_merge_at long), in slices
 * of the hash order, one transaction each: a slice covers 1/k of the hash space, so it dirties
 * about 1/k of the index's leaf pages, and k is chosen for at most merge_slice_pages of them
 * (MERGE_SLICE_PAGES unless the store was opened with another). LMDB keeps a transaction's
 * dirty pages in malloc'd memory, and keeps that memory for later transactions: one
 * transaction over a 1,000,000-entry index left the node 125 MiB of RssAnon. The last
 * slice moves the marks. A merge that fails part way leaves some rows above the marks (the
 * next merge finds them there, and rcn_store_check allows them) and is tried again after the
 * next commit. The tail is emptied only once no transaction of this process still reads from
 * before the merge (grow_lock). */
static void
tail_merge (rcn_store_t *s)
{
    uint64_t t0 = rcn_mono_ms ();
    size_t n = s->tail.n, leaves = 0;
    uint32_t *order = store_tail_sorted (&s->tail);
    if (!order) {
        rcn_warn ("store: no memory to sort the hash tail (%zu hashes); merge put off", n);
        return;
    }
    int rc = store_with_read_txn (s, leaf_pages_txn, &leaves);
    size_t k = rc == RCN_OK ? leaves / s->merge_slice_pages + 1 : 1;
    if (k > n)
        k = n ? n : 1;
    s->merging = true;
    for (size_t i = 0; rc == RCN_OK && i < k; i++) {
        merge_ctx_t m = { order, n * i / k, n * (i + 1) / k, i + 1 == k };
        rc = with_write_txn (s, merge_txn, &m);
    }
    s->merging = false;
    free (order);
    if (rc != RCN_OK) {
        rcn_warn ("store: merging %zu hashes into the hash index failed (%s); tried again "
                  "after the next commit", n, rcn_strerror (rc));
        return;
    }
    pthread_rwlock_wrlock (&s->grow_lock);
    pthread_mutex_lock (&s->tail_lock);
    store_tail_clear (&s->tail);
    pthread_mutex_unlock (&s->tail_lock);
    pthread_rwlock_unlock (&s->grow_lock);
    s->tail_merges++;
    rcn_info ("store: %zu hashes merged into the hash index in %zu transaction%s, %llu ms", n,
              k, k == 1 ? "" : "s", (unsigned long long) (rcn_mono_ms () - t0));
}

/* A writer's first open of a store from before hashes.mark: every entry's hash is in `hashes`,
 * so each origin's mark is its head. */
static int
marks_from_heads (rcn_store_t *s, MDB_txn *txn)
{
    MDB_cursor *hc = NULL;
    MDB_val hk, hv;
    int mrc = mdb_cursor_open (txn, s->heads, &hc), rc = RCN_OK;
    if (mrc)
        return store_db_fail ("walking heads", mrc);
    for (mrc = mdb_cursor_get (hc, &hk, &hv, MDB_FIRST); mrc == 0 && rc == RCN_OK;
         mrc = mdb_cursor_get (hc, &hk, &hv, MDB_NEXT)) {
        if (hv.mv_size != HEAD_SIZE) {
            rc = store_db_fail ("a head is malformed", MDB_CORRUPTED);
            break;
        }
        MDB_val k = val (hk.mv_data, RCN_KEY_SIZE), v = val (hv.mv_data, 8);   /* be64 seq */
        rc = db_rc ("setting a hash mark", mdb_put (txn, s->marks, &k, &v, 0));
    }
    if (rc == RCN_OK && mrc != MDB_NOTFOUND)
        rc = store_db_fail ("walking heads", mrc);
    mdb_cursor_close (hc);
    return rc;
}

/* ---- open and close ------------------------------------------------------------------------ */

static int
dbi_open (MDB_txn *txn, const char *name, bool create, MDB_dbi *dbi)
{
    return mdb_dbi_open (txn, name, create ? MDB_CREATE : 0, dbi);
}

/* Opens (or creates) every database and checks the format marker. */
static int
open_dbs (rcn_store_t *s, MDB_txn *txn, const char *path, char *why, size_t whylen)
{
    struct { const char *name; MDB_dbi *dbi; } core[CORE_DBS] = {
        { "meta", &s->meta }, { "entries", &s->entries }, { "hashes", &s->hashes },
        { "heads", &s->heads }, { "forks", &s->forks }, { "forked", &s->forked },
        { "invalid", &s->invalid }, { "lost", &s->lost },
    };
    bool create = !s->readonly;
    for (int i = 0; i < CORE_DBS; i++) {
        int mrc = dbi_open (txn, core[i].name, create, core[i].dbi);
        if (mrc == MDB_NOTFOUND) {
            rcn_errf (why, whylen, "%s: not an rcn store (no %s database)", path, core[i].name);
            return RCN_EVERSION;
        }
        if (mrc) {
            rcn_errf (why, whylen, "%s: opening database %s: %s", path, core[i].name,
                      mdb_strerror (mrc));
            return store_db_fail ("opening a database", mrc);
        }
    }
    static const char fkey[] = "format";
    MDB_val k = val (fkey, sizeof fkey - 1), v;
    int mrc = mdb_get (txn, s->meta, &k, &v);
    bool v1 = mrc == MDB_SUCCESS && v.mv_size == strlen (FORMAT_V1)
           && memcmp (v.mv_data, FORMAT_V1, v.mv_size) == 0;
    if ((mrc == MDB_NOTFOUND || v1) && create) {
        v = val (FORMAT, strlen (FORMAT));      /* new, or converted below */
        mrc = mdb_put (txn, s->meta, &k, &v, 0);
    } else if (mrc == MDB_SUCCESS && !v1
               && (v.mv_size != strlen (FORMAT) || memcmp (v.mv_data, FORMAT, v.mv_size) != 0)) {
        rcn_errf (why, whylen, "%s: store format is \"%.*s\", this build reads \"%s\"", path,
                  (int) (v.mv_size < 64 ? v.mv_size : 64), (const char *) v.mv_data, FORMAT);
        return RCN_EVERSION;
    } else if (mrc == MDB_NOTFOUND) {
        rcn_errf (why, whylen, "%s: not an rcn store (no format marker)", path);
        return RCN_EVERSION;
    }
    if (mrc) {
        rcn_errf (why, whylen, "%s: format marker: %s", path, mdb_strerror (mrc));
        return store_db_fail ("format marker", mrc);
    }
    /* hashes.mark (format 2). A store of format 1 has every hash in `hashes`: a writer gives
     * each origin its head as its mark; a readonly open without the database reads it so. */
    mrc = dbi_open (txn, "hashes.mark", false, &s->marks);
    if (mrc == MDB_NOTFOUND && create
        && (mrc = dbi_open (txn, "hashes.mark", true, &s->marks)) == 0) {
        int rc = marks_from_heads (s, txn);
        if (rc != RCN_OK) {
            rcn_errf (why, whylen, "%s: setting the hash marks: %s", path, rcn_strerror (rc));
            return rc;
        }
        if (v1)
            rcn_info ("store: %s: converted to %s (hash marks at every origin's head)", path,
                      FORMAT);
    }
    s->has_marks = mrc == MDB_SUCCESS;
    if (mrc && mrc != MDB_NOTFOUND) {
        rcn_errf (why, whylen, "%s: opening database hashes.mark: %s", path, mdb_strerror (mrc));
        return store_db_fail ("opening a database", mrc);
    }
    int trc = s->readonly ? RCN_OK : tail_catch_up (s, txn);
    if (trc != RCN_OK) {
        rcn_errf (why, whylen, "%s: reading the newest entries' hashes: %s", path,
                  rcn_strerror (trc));
        return trc;
    }
    bool made = false;                   /* a view database created just now */
    for (size_t i = 0; i < s->nkinds; i++) {
        kind_slot_t *ks = &s->kinds[i];
        ks->open = true;
        for (size_t j = 0; ks->kind->dbs && ks->kind->dbs[j]; j++) {
            mrc = dbi_open (txn, ks->kind->dbs[j], false, &ks->dbi[j]);
            if (mrc == MDB_NOTFOUND && create) {
                mrc = dbi_open (txn, ks->kind->dbs[j], true, &ks->dbi[j]);
                made = true;
            }
            if (mrc == MDB_NOTFOUND) {      /* readonly, written before this kind existed */
                ks->open = false;
                break;
            }
            if (mrc) {
                rcn_errf (why, whylen, "%s: opening database %s: %s", path, ks->kind->dbs[j],
                          mdb_strerror (mrc));
                return store_db_fail ("opening a view database", mrc);
            }
        }
    }
    /* A view database that a store holding entries lacks (a kind new to it, or a kind whose
     * view layout changed under a new name): every view is built again from the log, once. */
    MDB_stat st;
    if (made && (mrc = mdb_stat (txn, s->entries, &st)) == MDB_SUCCESS && st.ms_entries > 0) {
        rcn_info ("store: %s: a view database is new to this store: rebuilding every view from "
                  "its %zu entries", path, (size_t) st.ms_entries);
        int rc = rebuild_in (s, txn);
        if (rc != RCN_OK) {
            rcn_errf (why, whylen, "%s: rebuilding the views: %s", path, rcn_strerror (rc));
            return rc;
        }
    }
    return RCN_OK;
}

/* Creates `path` 0700 when absent (writable stores); it must be a directory. */
static int
dir_ready (const char *path, bool readonly, char *why, size_t whylen)
{
    struct stat st;
    if (!readonly && mkdir (path, 0700) != 0 && errno != EEXIST) {
        rcn_errf (why, whylen, "%s: cannot create directory: %s", path, strerror (errno));
        return RCN_EIO;
    }
    if (stat (path, &st) != 0 || !S_ISDIR (st.st_mode)) {
        rcn_errf (why, whylen, "%s: no store directory here", path);
        return RCN_EIO;
    }
    return RCN_OK;
}

int
rcn_store_open (const char *path, const rcn_store_opts_t *opts, rcn_store_t **out,
                char *why, size_t whylen)
{
    assert (path && opts && out);
    assert (opts->readonly || opts->is_member);
    *out = NULL;
    MDB_txn *txn = NULL;
    int rc = RCN_ENOMEM, mrc;
    rcn_store_t *s = calloc (1, sizeof *s);
    if (!s)
        goto fail;
    s->readonly = opts->readonly;
    s->tail_merge_at = opts->tail_merge_at ? opts->tail_merge_at : TAIL_MERGE_AT;
    s->merge_slice_pages = opts->merge_slice_pages ? opts->merge_slice_pages : MERGE_SLICE_PAGES;
    s->is_member = opts->is_member;
    s->member_ctx = opts->member_ctx;
    if (pthread_rwlock_init (&s->grow_lock, NULL) != 0)
        goto fail;
    s->lock_made = true;
    if (pthread_mutex_init (&s->tail_lock, NULL) != 0)
        goto fail;
    s->tail_lock_made = true;

    size_t ndbs = 0;
    for (size_t i = 0; opts->kinds && opts->kinds[i]; i++)
        s->nkinds++;
    if (s->nkinds && !(s->kinds = calloc (s->nkinds, sizeof *s->kinds)))
        goto fail;
    for (size_t i = 0; i < s->nkinds; i++) {
        s->kinds[i].kind = opts->kinds[i];
        size_t j = 0;
        while (opts->kinds[i]->dbs && opts->kinds[i]->dbs[j])
            j++;
        assert (j <= RCN_KIND_MAX_DBS);
        ndbs += j;
    }

    if ((rc = dir_ready (path, s->readonly, why, whylen)) != RCN_OK)
        goto fail;
    /* An existing environment keeps the map size it grew to (LMDB would shrink it to the
     * configured size, down to what is used); the configured size is a floor. Readonly
     * opens take the writer's size and follow its growth (MDB_MAP_RESIZED). */
    char data[PATH_MAX];
    struct stat st;
    MDB_envinfo info;
    snprintf (data, sizeof data, "%s/data.mdb", path);
    bool existing = stat (data, &st) == 0;
    rc = RCN_EDB;
    if ((mrc = mdb_env_create (&s->env)) != 0) {
        rcn_errf (why, whylen, "%s: %s", path, mdb_strerror (mrc));
        goto fail;
    }
    unsigned flags = MDB_NOTLS | (s->readonly ? MDB_RDONLY : 0)
                   | (opts->unsafe_nosync ? MDB_NOSYNC : 0);
    size_t maxdbs = CORE_DBS + 1 + ndbs + 8 > 32 ? CORE_DBS + 1 + ndbs + 8 : 32;
    size_t map_size = opts->map_size ? opts->map_size : DEFAULT_MAP;
    if ((mrc = mdb_env_set_maxdbs (s->env, (MDB_dbi) maxdbs)) != 0
        || (!s->readonly && !existing && (mrc = mdb_env_set_mapsize (s->env, map_size)) != 0)
        || (mrc = mdb_env_open (s->env, path, flags, 0600)) != 0
        || (mrc = mdb_env_info (s->env, &info)) != 0
        || (!s->readonly && info.me_mapsize < map_size
            && (mrc = mdb_env_set_mapsize (s->env, map_size)) != 0)) {
        rcn_errf (why, whylen, "%s: opening the LMDB environment: %s", path, mdb_strerror (mrc));
        rc = mrc == ENOENT ? RCN_EIO : store_db_fail ("opening the environment", mrc);
        goto fail;
    }
    if (opts->unsafe_nosync)
        rcn_warn ("store: opened with unsafe_nosync: commits are not synced (invariant 5 off)");

    int dead = 0;
    if ((mrc = mdb_reader_check (s->env, &dead)) != 0) {
        rcn_errf (why, whylen, "%s: checking reader slots: %s", path, mdb_strerror (mrc));
        rc = store_db_fail ("checking reader slots", mrc);
        goto fail;
    }
    s->stale_readers = dead;
    if (dead > 0)
        rcn_info ("store: cleared %d stale reader slot(s) left by dead processes", dead);

    if ((rc = txn_begin (s, s->readonly ? MDB_RDONLY : 0, &txn)) != RCN_OK) {
        rcn_errf (why, whylen, "%s: cannot begin a transaction", path);
        goto fail;
    }
    if ((rc = open_dbs (s, txn, path, why, whylen)) != RCN_OK) {
        txn_release (s, txn);
        goto fail;
    }
    mrc = mdb_txn_commit (txn);     /* keeps the database handles, also for a read txn */
    txn_release (s, NULL);
    if (mrc) {
        rcn_errf (why, whylen, "%s: committing the databases: %s", path, mdb_strerror (mrc));
        rc = store_db_fail ("committing the databases", mrc);
        goto fail;
    }
    /* A new store's directory entries (data.mdb, lock.mdb, and the directory itself in its
     * parent) must survive a power loss too: fsync the directory and its parent once. */
    if (!existing && !s->readonly && (rcn_fsync_dir (path) != 0 || rcn_fsync_parent (path) != 0)) {
        rcn_errf (why, whylen, "%s: syncing the new store's directory: %s", path, strerror (errno));
        rc = RCN_EIO;
        goto fail;
    }
    *out = s;
    return RCN_OK;
fail:
    if (rc == RCN_ENOMEM)
        rcn_errf (why, whylen, "%s: out of memory", path);
    rcn_store_destroy (&s);
    return rc;
}

void
rcn_store_destroy (rcn_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_store_t *s = *self_p;
    if (s->env)
        mdb_env_close (s->env);
    if (s->lock_made)
        pthread_rwlock_destroy (&s->grow_lock);
    if (s->tail_lock_made)
        pthread_mutex_destroy (&s->tail_lock);
    store_tail_free (&s->tail);
    free (s->kinds);
    free (s);
    *self_p = NULL;
}

/* ---- reads --------------------------------------------------------------------------------- */

typedef struct {
    const rcn_entry_t *e;
    bool *held;
} holds_ctx_t;

static int
holds_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    holds_ctx_t *c = ctx;
    uint8_t key[KEY_SIZE];
    key_make (key, c->e->h.origin, c->e->h.seq);
    MDB_val k = val (key, KEY_SIZE), v;
    int mrc = mdb_get (txn, s->entries, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return RCN_OK;
    if (mrc)
        return store_db_fail ("reading an entry", mrc);
    if (store_raw_equal (&v, c->e)) {
        *c->held = true;
        return RCN_OK;
    }
    return fork_held (s, txn, c->e, c->held);
}

int
rcn_store_holds (rcn_store_t *s, const rcn_entry_t *e, bool *held)
{
    assert (s && e && held);
    *held = false;
    holds_ctx_t c = { e, held };
    return store_with_read_txn (s, holds_txn, &c);
}

typedef struct {
    const uint8_t *origin;
    uint64_t *seq;
    uint8_t *hash;
} head_ctx_t;

static int
head_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    head_ctx_t *c = ctx;
    return store_head_get (s, txn, c->origin, c->seq, c->hash);
}

int
rcn_store_head (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t *seq, uint8_t *hash)
{
    assert (s && origin && seq);
    head_ctx_t c = { origin, seq, hash };
    return store_with_read_txn (s, head_txn, &c);
}

typedef struct {
    rcn_head_fn cb;
    void *ctx;
} heads_ctx_t;

static int
heads_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    heads_ctx_t *c = ctx;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = RCN_OK, mrc = mdb_cursor_open (txn, s->heads, &cur);
    if (mrc)
        return store_db_fail ("opening a cursor on heads", mrc);
    for (mrc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS && rc == RCN_OK;
         mrc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != RCN_KEY_SIZE || v.mv_size != HEAD_SIZE) {
            rc = store_db_fail ("a head has the wrong size", MDB_CORRUPTED);
            break;
        }
        const uint8_t *p = v.mv_data;
        rc = c->cb (k.mv_data, be64_get (p), p + 8, c->ctx);
    }
    if (rc == RCN_OK && mrc != MDB_NOTFOUND)
        rc = store_db_fail ("walking heads", mrc);
    mdb_cursor_close (cur);
    return rc;
}

int
rcn_store_heads (rcn_store_t *s, rcn_head_fn cb, void *ctx)
{
    assert (s && cb);
    heads_ctx_t c = { cb, ctx };
    return store_with_read_txn (s, heads_txn, &c);
}

typedef struct {
    const uint8_t *origin;        /* get: origin and seq; get_by_hash: hash */
    uint64_t seq;
    const uint8_t *hash;
    rcn_entry_t **out;
} get_ctx_t;

static int
get_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    get_ctx_t *c = ctx;
    if (c->hash)
        return get_by_hash_in (s, txn, c->hash, c->out);
    uint8_t key[KEY_SIZE];
    key_make (key, c->origin, c->seq);
    MDB_val k = val (key, KEY_SIZE), v;
    int mrc = mdb_get (txn, s->entries, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return RCN_ENOTFOUND;
    if (mrc)
        return store_db_fail ("reading an entry", mrc);
    return entry_from_stored (&v, c->out);
}

int
rcn_store_get (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq, rcn_entry_t **out)
{
    assert (s && origin && out);
    *out = NULL;
    get_ctx_t c = { origin, seq, NULL, out };
    return store_with_read_txn (s, get_txn, &c);
}

int
rcn_store_get_by_hash (rcn_store_t *s, const uint8_t hash[RCN_HASH_SIZE], rcn_entry_t **out)
{
    assert (s && hash && out);
    *out = NULL;
    get_ctx_t c = { NULL, 0, hash, out };
    return store_with_read_txn (s, get_txn, &c);
}

typedef struct {
    const uint8_t *origin;
    uint64_t from_seq;
    rcn_entry_fn cb;
    void *ctx;
} scan_ctx_t;

static int
scan_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    scan_ctx_t *c = ctx;
    MDB_cursor *cur = NULL;
    rcn_entry_t *e = NULL;
    uint8_t key[KEY_SIZE];
    uint64_t from = c->from_seq ? c->from_seq : 1;
    int rc = RCN_OK, mrc = mdb_cursor_open (txn, s->entries, &cur);
    if (mrc)
        return store_db_fail ("opening a cursor on entries", mrc);
    if (c->origin)
        key_make (key, c->origin, from);
    else
        memset (key, 0, KEY_SIZE);
    MDB_val k = val (key, KEY_SIZE), v;
    for (mrc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != KEY_SIZE) {
            rc = store_db_fail ("an entries key has the wrong size", MDB_CORRUPTED);
            goto done;
        }
        if (c->origin && memcmp (k.mv_data, c->origin, RCN_KEY_SIZE) != 0)
            break;
        uint64_t seq = be64_get ((uint8_t *) k.mv_data + RCN_KEY_SIZE);
        if (seq < from) {           /* every origin: jump to this one's from_seq */
            key_make (key, k.mv_data, from);
            k = val (key, KEY_SIZE);
            if ((mrc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE)) != MDB_SUCCESS)
                break;
            if (k.mv_size != KEY_SIZE) {
                rc = store_db_fail ("an entries key has the wrong size", MDB_CORRUPTED);
                goto done;
            }
            if (be64_get ((uint8_t *) k.mv_data + RCN_KEY_SIZE) < from)
                continue;           /* next origin, still below from: judge it again */
        }
        if ((rc = entry_from_stored (&v, &e)) != RCN_OK)
            goto done;
        rc = c->cb (e, c->ctx);
        rcn_entry_destroy (&e);
        if (rc)
            goto done;
    }
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = store_db_fail ("walking entries", mrc);
done:
    rcn_entry_destroy (&e);
    mdb_cursor_close (cur);
    return rc;
}

int
rcn_store_scan (rcn_store_t *s, const uint8_t *origin, uint64_t from_seq, rcn_entry_fn cb, void *ctx)
{
    assert (s && cb);
    scan_ctx_t c = { origin, from_seq, cb, ctx };
    return store_with_read_txn (s, scan_txn, &c);
}

typedef struct {
    const uint8_t *key;
    size_t key_len;
    MDB_dbi dbi;
    char *buf;                  /* invalid_reason: text out */
    size_t len;
    uint64_t *seq;              /* forked: be64 value out */
} lookup_ctx_t;

static int
lookup_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    (void) s;
    lookup_ctx_t *c = ctx;
    MDB_val k = val (c->key, c->key_len), v;
    int mrc = mdb_get (txn, c->dbi, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return RCN_ENOTFOUND;
    if (mrc)
        return store_db_fail ("reading", mrc);
    if (c->seq) {
        if (v.mv_size != 8)
            return store_db_fail ("reading fork state", MDB_CORRUPTED);
        *c->seq = be64_get (v.mv_data);
    }
    if (c->buf && c->len) {
        size_t n = v.mv_size < c->len - 1 ? v.mv_size : c->len - 1;
        memcpy (c->buf, v.mv_data, n);
        c->buf[n] = '\0';
    }
    return RCN_OK;
}

int
rcn_store_invalid_reason (rcn_store_t *s, const uint8_t hash[RCN_HASH_SIZE], char *buf, size_t len)
{
    assert (s && hash);
    if (buf && len)
        buf[0] = '\0';
    lookup_ctx_t c = { hash, RCN_HASH_SIZE, s->invalid, buf, len, NULL };
    return store_with_read_txn (s, lookup_txn, &c);
}

typedef struct {
    const uint8_t *origin;
    uint64_t seq;
    bool *lost;
} lost_ctx_t;

static int
lost_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    lost_ctx_t *c = ctx;
    return store_lost_covers (s, txn, c->origin, c->seq, c->lost);
}

int
rcn_store_lost (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq, bool *lost)
{
    assert (s && origin && lost);
    *lost = false;
    lost_ctx_t c = { origin, seq, lost };
    return store_with_read_txn (s, lost_txn, &c);
}

int
rcn_store_forked (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], uint64_t *fork_seq)
{
    assert (s && origin && fork_seq);
    *fork_seq = 0;
    lookup_ctx_t c = { origin, RCN_KEY_SIZE, s->forked, NULL, 0, fork_seq };
    int rc = store_with_read_txn (s, lookup_txn, &c);
    return rc == RCN_ENOTFOUND ? RCN_OK : rc;
}

typedef struct {
    const kind_slot_t *ks;
    rcn_view_fn fn;
    void *ctx;
} read_ctx_t;

static int
read_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    read_ctx_t *c = ctx;
    rcn_view_t v;
    view_make (s, c->ks, txn, &v);
    return c->fn (&v, c->ctx);
}

int
rcn_store_read (rcn_store_t *s, const rcn_kind_t *k, rcn_view_fn fn, void *ctx)
{
    assert (s && fn);
    read_ctx_t c = { NULL, fn, ctx };
    if (k) {
        c.ks = kind_find (s, k->kind);
        if (!c.ks || !c.ks->open)
            return RCN_ENOTFOUND;
    }
    return store_with_read_txn (s, read_txn, &c);
}

int
rcn_view_get_by_hash (const rcn_view_t *v, const uint8_t hash[RCN_HASH_SIZE], rcn_entry_t **out)
{
    assert (v && v->store && v->txn && hash && out);
    return get_by_hash_in (v->store, v->txn, hash, out);
}

int
rcn_view_of_kind (const rcn_view_t *v, const rcn_kind_t *k, rcn_view_t *out)
{
    assert (v && v->store && v->txn && k && out);
    const kind_slot_t *ks = kind_find (v->store, k->kind);
    if (!ks || !ks->open)
        return RCN_ENOTFOUND;
    view_make (v->store, ks, v->txn, out);
    return RCN_OK;
}

int
rcn_view_is_invalid (const rcn_view_t *v, const uint8_t hash[RCN_HASH_SIZE], int *invalid)
{
    assert (v && v->store && v->txn && hash && invalid);
    MDB_val k = val (hash, RCN_HASH_SIZE), d;
    int mrc = mdb_get (v->txn, v->store->invalid, &k, &d);
    *invalid = mrc == MDB_SUCCESS;
    if (mrc && mrc != MDB_NOTFOUND)
        return store_db_fail ("reading invalid records", mrc);
    return RCN_OK;
}

static int
stats_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    rcn_store_stats_t *st = ctx;
    struct { MDB_dbi dbi; uint64_t *count; } dbs[] = {
        { s->entries, &st->entries }, { s->heads, &st->origins },
        { s->invalid, &st->invalid }, { s->forks, &st->forks },
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        MDB_stat ms;
        int mrc = mdb_stat (txn, dbs[i].dbi, &ms);
        if (mrc)
            return store_db_fail ("reading statistics", mrc);
        *dbs[i].count = ms.ms_entries;
    }
    MDB_envinfo info;
    int mrc = mdb_env_info (s->env, &info);
    if (mrc)
        return store_db_fail ("reading environment info", mrc);
    st->map_size = info.me_mapsize;
    st->map_grows = s->map_grows;       /* grow_lock's read side is held */
    st->stale_readers = s->stale_readers;
    pthread_mutex_lock (&s->tail_lock);
    st->hash_tail = s->tail.n;
    pthread_mutex_unlock (&s->tail_lock);
    st->tail_merges = s->tail_merges;
    return RCN_OK;
}

int
rcn_store_stats (rcn_store_t *s, rcn_store_stats_t *out)
{
    assert (s && out);
    memset (out, 0, sizeof *out);
    return store_with_read_txn (s, stats_txn, out);
}

/* ---- backup -------------------------------------------------------------------------------- */

/* fsyncs the regular file at path. 0, or -1 with errno set. */
static int
fsync_file (const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync (fd);
    close (fd);
    return r;
}

/* dest must not exist (it is created 0700; *made) or be an empty directory. */
static int
backup_dest_ready (const char *dest, bool *made, char *why, size_t whylen)
{
    *made = mkdir (dest, 0700) == 0;
    if (*made)
        return RCN_OK;
    if (errno != EEXIST) {
        rcn_errf (why, whylen, "%s: cannot create backup directory: %s", dest, strerror (errno));
        return RCN_EIO;
    }
    DIR *d = opendir (dest);
    if (!d) {
        rcn_errf (why, whylen, "%s: exists and is not a usable directory: %s", dest,
                  strerror (errno));
        return RCN_EIO;
    }
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir (d)) != NULL)
        if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
            empty = false;
    closedir (d);
    if (!empty) {
        rcn_errf (why, whylen, "%s: exists and is not empty; refusing to back up into it", dest);
        return RCN_EIO;
    }
    return RCN_OK;
}

int
rcn_store_backup (rcn_store_t *s, const char *dest, char *why, size_t whylen)
{
    assert (s && dest);
    char data[PATH_MAX];
    bool made = false;
    int rc, mrc;
    if (snprintf (data, sizeof data, "%s/data.mdb", dest) >= (int) sizeof data) {
        rcn_errf (why, whylen, "backup path too long");
        return RCN_EINVAL;
    }
    if ((rc = backup_dest_ready (dest, &made, why, whylen)) != RCN_OK)
        return rc;
    for (;;) {
        pthread_rwlock_rdlock (&s->grow_lock);
        mrc = mdb_env_copy2 (s->env, dest, MDB_CP_COMPACT);
        pthread_rwlock_unlock (&s->grow_lock);
        if (mrc != MDB_MAP_RESIZED)
            break;
        if ((rc = adopt_map_size (s)) != RCN_OK)
            goto fail;
    }
    if (mrc) {
        rcn_errf (why, whylen, "%s: copying the store: %s", dest, mdb_strerror (mrc));
        rc = store_db_fail ("backup copy", mrc);
        goto fail;
    }
    chmod (data, 0600);             /* a backup is as private as the log it copies */
    if (fsync_file (data) != 0 || rcn_fsync_dir (dest) != 0 || rcn_fsync_parent (dest) != 0) {
        rcn_errf (why, whylen, "%s: syncing the backup: %s", dest, strerror (errno));
        rc = RCN_EIO;
        goto fail;
    }
    rcn_info ("store: backup written and synced");
    return RCN_OK;
fail:
    unlink (data);      /* the directory was empty: data.mdb can only be ours */
    if (made)
        rmdir (dest);
    return rc;
}
