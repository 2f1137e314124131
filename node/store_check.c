/* store_check.c — the offline check of the whole log (rcn_store_check, `rcctl verify-log`).
 *
 * It answers one question for an operator or an auditor: is what this store holds a sound log?
 * Every entry parses, sits under its own (origin, seq), verifies and (when the caller names the
 * members) comes from a member; each origin's seqs run from 1 without a gap and chain by prev,
 * except over a span its origin declared lost in a Recovery (recovery.h); the hash index, the
 * heads, the lost spans and the fork records agree with the entries.
 *
 * The one decision: it re-derives everything from the raw stored entries and trusts no index.
 * Heads, the hash index and fork marks are what it checks, never what it reads to find its
 * way: it walks the entries database itself in key order, hashes and verifies each entry
 * again (the signature included, though ingest checked it), and only then compares the
 * indexes with what it computed. It runs in one read transaction, so it sees one snapshot. */
#include "rcn/store.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "rcn/recovery.h"
#include "store_impl.h"

typedef struct {
    rcn_member_fn is_member;
    void *member_ctx;
    uint64_t *checked;
    uint64_t recoveries;
    char *why;
    size_t whylen;
} check_ctx_t;

/* Names a fault: "origin 3f2a5b…(16 hex) seq 42: <what>". Returns rc. */
static int
fault (check_ctx_t *c, int rc, const uint8_t *origin, uint64_t seq, const char *fmt, ...)
    __attribute__((format (printf, 5, 6)));

static int
fault (check_ctx_t *c, int rc, const uint8_t *origin, uint64_t seq, const char *fmt, ...)
{
    char what[WHY_MAX], o[20];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (what, sizeof what, fmt, ap);
    va_end (ap);
    if (origin)
        rcn_errf (c->why, c->whylen, "origin %s seq %" PRIu64 ": %s",
                  store_origin_short (origin, o), seq, what);
    else
        rcn_errf (c->why, c->whylen, "%s", what);
    return rc;
}

static int
check_head (rcn_store_t *s, MDB_txn *txn, check_ctx_t *c, const uint8_t *origin,
            uint64_t seq, const uint8_t *hash)
{
    uint64_t head;
    uint8_t head_hash[RCN_HASH_SIZE];
    int rc = store_head_get (s, txn, origin, &head, head_hash);
    if (rc)
        return fault (c, rc, origin, seq, "head unreadable");
    if (head != seq)
        return fault (c, RCN_EDB, origin, seq, "log ends here but the head says seq %" PRIu64, head);
    if (memcmp (head_hash, hash, RCN_HASH_SIZE) != 0)
        return fault (c, RCN_EDB, origin, seq, "head's hash is not this entry's");
    return RCN_OK;
}

/* Parses and verifies a stored value, which must sit under (origin, seq). */
static int
check_entry (check_ctx_t *c, const MDB_val *v, const uint8_t *origin, uint64_t seq,
             const char *what, rcn_entry_t **out)
{
    int rc = rcn_entry_from_raw (v->mv_data, v->mv_size, false, out);
    if (rc)
        return fault (c, rc, origin, seq, "%sdoes not parse: %s", what, rcn_strerror (rc));
    if (memcmp ((*out)->h.origin, origin, RCN_KEY_SIZE) != 0 || (*out)->h.seq != seq)
        return fault (c, RCN_EDB, origin, seq, "%sstored under another origin or seq "
                      "(its header says seq %" PRIu64 ")", what, (*out)->h.seq);
    if (rcn_entry_verify (*out) != RCN_OK)
        return fault (c, RCN_ESIG, origin, seq, "%ssignature does not verify", what);
    if (c->is_member && !c->is_member (origin, c->member_ctx))
        return fault (c, RCN_EORIGIN, origin, seq, "%sorigin is not a member", what);
    return RCN_OK;
}

/* e, a verified Recovery that does not follow last_seq, the highest seq of its origin below
 * it: its span must end just below it, start at most one above last_seq, link by prev to the
 * entry below the span, and be recorded in `lost` (the store's record of it). */
static int
check_recovery (rcn_store_t *s, MDB_txn *txn, check_ctx_t *c, rcn_entry_t *e, uint64_t last_seq)
{
    const uint8_t *origin = e->h.origin;
    uint64_t seq = e->h.seq, first, last;
    char why[WHY_MAX];
    if (rcn_recovery_span (e, &first, &last, why, sizeof why) != RCN_OK)
        return fault (c, RCN_ECHAIN, origin, seq, "a Recovery that does not follow seq %" PRIu64
                      " declares no span: %s", last_seq, why);
    if (first - 1 > last_seq)
        return fault (c, RCN_EGAP, origin, seq, "gap: seq %" PRIu64 " is missing (the Recovery "
                      "declares only %" PRIu64 "..%" PRIu64 " lost)", last_seq + 1, first, last);
    uint8_t below[RCN_HASH_SIZE] = { 0 };
    if (first > 1) {
        uint8_t key[KEY_SIZE];
        key_make (key, origin, first - 1);
        MDB_val bk = val (key, KEY_SIZE), bv;
        rcn_entry_t *b = NULL;
        if (mdb_get (txn, s->entries, &bk, &bv) != MDB_SUCCESS
            || rcn_entry_from_raw (bv.mv_data, bv.mv_size, false, &b) != RCN_OK)
            return fault (c, RCN_ECHAIN, origin, seq, "the Recovery links to seq %" PRIu64
                          ", which is not held", first - 1);
        memcpy (below, rcn_entry_hash (b), RCN_HASH_SIZE);
        rcn_entry_destroy (&b);
    }
    if (memcmp (e->h.prev, below, RCN_HASH_SIZE) != 0)
        return fault (c, RCN_ECHAIN, origin, seq, "the Recovery's prev does not match the hash of "
                      "seq %" PRIu64, first - 1);
    uint8_t key[KEY_SIZE];
    key_make (key, origin, first);
    MDB_val lk = val (key, KEY_SIZE), lv;
    if (mdb_get (txn, s->lost, &lk, &lv) != MDB_SUCCESS || lv.mv_size != 16
        || be64_get (lv.mv_data) != last || be64_get ((uint8_t *) lv.mv_data + 8) != seq)
        return fault (c, RCN_EDB, origin, seq, "the lost span %" PRIu64 "..%" PRIu64 " is not "
                      "recorded as the Recovery declares it", first, last);
    c->recoveries++;
    return RCN_OK;
}

/* Fork evidence: each one verifies, differs from the entry it contradicts, and its origin is
 * marked forked at or below its seq. */
static int
check_forks (rcn_store_t *s, MDB_txn *txn, check_ctx_t *c)
{
    MDB_cursor *cur = NULL;
    rcn_entry_t *e = NULL;
    MDB_val k, v;
    int rc = RCN_OK, mrc = mdb_cursor_open (txn, s->forks, &cur);
    if (mrc)
        return store_db_fail ("opening a cursor on forks", mrc);
    for (mrc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != FORK_KEY_SIZE) {
            rc = fault (c, RCN_EDB, NULL, 0, "forks: a key of %zu bytes", k.mv_size);
            goto done;
        }
        const uint8_t *origin = k.mv_data;
        uint64_t seq = be64_get (origin + RCN_KEY_SIZE), fork_seq;
        if ((rc = check_entry (c, &v, origin, seq, "fork evidence ", &e)) != RCN_OK)
            goto done;
        if (memcmp (rcn_entry_hash (e), origin + KEY_SIZE, RCN_HASH_SIZE) != 0) {
            rc = fault (c, RCN_EDB, origin, seq, "fork evidence stored under another hash");
            goto done;
        }
        MDB_val ek = val (origin, KEY_SIZE), ev;
        mrc = mdb_get (txn, s->entries, &ek, &ev);
        if (mrc != MDB_SUCCESS || store_raw_equal (&ev, e)) {
            rc = fault (c, RCN_EDB, origin, seq, "fork evidence %s", mrc ? "for a seq not held"
                                                       : "is identical to the entry it contradicts");
            goto done;
        }
        rcn_entry_destroy (&e);
        if ((rc = store_fork_seq_get (s, txn, origin, &fork_seq)) != RCN_OK)
            goto done;
        if (fork_seq == 0 || fork_seq > seq) {
            rc = fault (c, RCN_EDB, origin, seq, "fork evidence held but origin not marked "
                        "forked at or below this seq");
            goto done;
        }
    }
    if (mrc != MDB_NOTFOUND)
        rc = store_db_fail ("walking forks", mrc);
done:
    rcn_entry_destroy (&e);
    mdb_cursor_close (cur);
    return rc;
}

/* Every hash mark is an origin's, at most its head. */
static int
check_marks (rcn_store_t *s, MDB_txn *txn, check_ctx_t *c)
{
    if (!s->has_marks)
        return RCN_OK;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = RCN_OK, mrc = mdb_cursor_open (txn, s->marks, &cur);
    if (mrc)
        return store_db_fail ("opening a cursor on hash marks", mrc);
    for (mrc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        uint64_t head = 0;
        if (k.mv_size != RCN_KEY_SIZE || v.mv_size != 8) {
            rc = fault (c, RCN_EDB, NULL, 0, "hash marks: a record of %zu and %zu bytes",
                        k.mv_size, v.mv_size);
            break;
        }
        if ((rc = store_head_get (s, txn, k.mv_data, &head, NULL)) != RCN_OK)
            break;
        if (be64_get (v.mv_data) > head) {
            rc = fault (c, RCN_EDB, k.mv_data, be64_get (v.mv_data), "hash mark above its "
                        "origin's head (%" PRIu64 ")", head);
            break;
        }
    }
    if (rc == RCN_OK && mrc != MDB_NOTFOUND)
        rc = store_db_fail ("walking hash marks", mrc);
    mdb_cursor_close (cur);
    return rc;
}

static int
check_txn (rcn_store_t *s, MDB_txn *txn, void *ctx)
{
    check_ctx_t *c = ctx;
    MDB_cursor *cur = NULL;
    rcn_entry_t *e = NULL;
    uint8_t origin[RCN_KEY_SIZE], last_hash[RCN_HASH_SIZE] = { 0 };
    uint64_t last_seq = 0, origins = 0, mark = 0, indexed = 0;
    bool have = false;
    MDB_val k, v;
    int rc = RCN_OK, mrc = mdb_cursor_open (txn, s->entries, &cur);
    if (mrc)
        return store_db_fail ("opening a cursor on entries", mrc);
    for (mrc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != KEY_SIZE) {
            rc = fault (c, RCN_EDB, NULL, 0, "entries: a key of %zu bytes", k.mv_size);
            goto done;
        }
        if (!have || memcmp (origin, k.mv_data, RCN_KEY_SIZE) != 0) {
            if (have && (rc = check_head (s, txn, c, origin, last_seq, last_hash)) != RCN_OK)
                goto done;
            memcpy (origin, k.mv_data, RCN_KEY_SIZE);
            memset (last_hash, 0, RCN_HASH_SIZE);
            last_seq = 0;
            have = true;
            origins++;
            if ((rc = store_mark_get (s, txn, origin, UINT64_MAX, &mark)) != RCN_OK)
                goto done;
        }
        uint64_t seq = be64_get ((uint8_t *) k.mv_data + RCN_KEY_SIZE);
        if (seq <= last_seq) {
            rc = fault (c, RCN_EDB, origin, seq, "out of order after seq %" PRIu64, last_seq);
            goto done;
        }
        if ((rc = check_entry (c, &v, origin, seq, "", &e)) != RCN_OK)
            goto done;
        bool links = seq == last_seq + 1 && memcmp (e->h.prev, last_hash, RCN_HASH_SIZE) == 0;
        if (!links && e->h.kind == rcn_recovery_kind) {
            if ((rc = check_recovery (s, txn, c, e, last_seq)) != RCN_OK)
                goto done;
        } else if (seq != last_seq + 1) {
            rc = fault (c, RCN_EGAP, origin, seq, "gap: seq %" PRIu64 " is missing", last_seq + 1);
            goto done;
        } else if (!links) {
            rc = fault (c, RCN_ECHAIN, origin, seq, "prev does not match the hash of seq %" PRIu64,
                        last_seq);
            goto done;
        }
        /* At or below its origin's mark an entry's hash is in `hashes`; above it, in the hash
         * tail (store_tail.c), which every open rebuilds from these entries, and in `hashes`
         * too when a merge stopped part way (store.c tail_merge). */
        MDB_val hk = val (e->hash, RCN_HASH_SIZE), hv;
        mrc = mdb_get (txn, s->hashes, &hk, &hv);
        if ((seq <= mark && mrc != MDB_SUCCESS) || (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
            || (mrc == MDB_SUCCESS && (hv.mv_size != KEY_SIZE
                                       || memcmp (hv.mv_data, k.mv_data, KEY_SIZE) != 0))) {
            rc = fault (c, RCN_EDB, origin, seq, "hash index %s", mrc ? "lacks this entry"
                                                                      : "points elsewhere");
            goto done;
        }
        indexed += mrc == MDB_SUCCESS;  /* above the mark only after a merge that stopped */
        memcpy (last_hash, e->hash, RCN_HASH_SIZE);
        last_seq = seq;
        rcn_entry_destroy (&e);
        (*c->checked)++;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = store_db_fail ("walking entries", mrc);
        goto done;
    }
    if (have && (rc = check_head (s, txn, c, origin, last_seq, last_hash)) != RCN_OK)
        goto done;

    MDB_stat hs, hh;
    if ((mrc = mdb_stat (txn, s->heads, &hh)) != 0 || (mrc = mdb_stat (txn, s->hashes, &hs)) != 0) {
        rc = store_db_fail ("reading statistics", mrc);
        goto done;
    }
    if (hh.ms_entries != origins) {
        rc = fault (c, RCN_EDB, NULL, 0, "heads hold %zu origins, entries %" PRIu64,
                    hh.ms_entries, origins);
        goto done;
    }
    MDB_stat ls;
    if ((mrc = mdb_stat (txn, s->lost, &ls)) != 0) {
        rc = store_db_fail ("reading statistics", mrc);
        goto done;
    }
    if (ls.ms_entries != c->recoveries) {
        rc = fault (c, RCN_EDB, NULL, 0, "%zu lost spans recorded for %" PRIu64 " Recovery "
                    "entries", ls.ms_entries, c->recoveries);
        goto done;
    }
    if (hs.ms_entries != indexed) {
        rc = fault (c, RCN_EDB, NULL, 0, "hash index holds %zu hashes for %" PRIu64 " entries",
                    hs.ms_entries, indexed);
        goto done;
    }
    if ((rc = check_marks (s, txn, c)) != RCN_OK)
        goto done;
    rc = check_forks (s, txn, c);
done:
    rcn_entry_destroy (&e);
    mdb_cursor_close (cur);
    return rc;
}

int
rcn_store_check (rcn_store_t *s, rcn_member_fn is_member, void *member_ctx,
                 uint64_t *checked, char *why, size_t whylen)
{
    assert (s);
    uint64_t count = 0;
    if (why && whylen)
        why[0] = '\0';
    check_ctx_t c = { is_member, member_ctx, checked ? checked : &count, 0, why, whylen };
    *c.checked = 0;
    return store_with_read_txn (s, check_txn, &c);
}
