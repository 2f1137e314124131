/* ingest.c — entries from outside into the log (see ingest.h).
 *
 * The one decision: cheap checks strictly before expensive ones. A relayed duplicate — the
 * common case under anti-entropy, where every peer offers what it has — costs a byte
 * comparison with the stored copy, never a signature check; a forged or oversized message is
 * refused by its size and header before anything is unpacked or verified. A catch-up chunk
 * goes further: its hash links are checked first (a hash costs a fraction of a signature
 * check), and one signature then stands for the whole linked run. The checks that remain
 * are made for the whole group at once, so that a pool (vpool.h) can spread them over cores. */
#include "rcn/ingest.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "rcn/entry.h"
#include "rcn/recovery.h"

void
rcn_ingest_stats_add (rcn_ingest_stats_t *to, const rcn_ingest_stats_t *d)
{
    if (!to)
        return;
    to->received += d->received;
    to->malformed += d->malformed;
    to->duplicates += d->duplicates;
    to->bad_sig += d->bad_sig;
    to->stored += d->stored;
    to->refused += d->refused;
    to->chunk_sig_checks += d->chunk_sig_checks;
    to->chained += d->chained;
}

/* Appends the checked batch as one group and maps the store's per-entry outcome back to the
 * caller's positions (batch_of), counting them. by_chain (may be NULL) marks entries stored on
 * a signature further up their chain. */
static int
commit (rcn_store_t *s, rcn_entry_t **batch, const size_t *batch_of, const bool *by_chain,
        size_t nb, int *batch_rc, int *results, rcn_ingest_stats_t *local)
{
    int rc = nb ? rcn_store_append (s, batch, nb, batch_rc) : RCN_OK;
    if (rc != RCN_OK)
        return rc;
    for (size_t j = 0; j < nb; j++) {
        results[batch_of[j]] = batch_rc[j];
        if (batch_rc[j] == RCN_OK) {
            local->stored++;
            local->chained += by_chain && by_chain[j];
        }
        else if (batch_rc[j] == RCN_EDUP)
            local->duplicates++;
        else
            local->refused++;
    }
    return RCN_OK;
}

int
rcn_ingest (rcn_store_t *s, const uint8_t *const *wire, const size_t *len, size_t n,
            int *results, rcn_ingest_stats_t *stats)
{
    return rcn_ingest_pooled (s, NULL, wire, len, n, results, stats);
}

int
rcn_ingest_pooled (rcn_store_t *s, rcn_vpool_t *pool, const uint8_t *const *wire,
                   const size_t *len, size_t n, int *results, rcn_ingest_stats_t *stats)
{
    assert (s && (n == 0 || (wire && len && results)));
    rcn_ingest_stats_t local = { 0 };
    size_t m = n ? n : 1;
    rcn_entry_t **entries = calloc (m, sizeof *entries);
    rcn_entry_t **cand = calloc (m, sizeof *cand);  /* new to us: to be checked */
    size_t *cand_of = calloc (m, sizeof *cand_of);
    int *cand_rc = calloc (m, sizeof *cand_rc);
    size_t *twin = calloc (m, sizeof *twin);        /* 1 + the candidate entry i copies; 0: none */
    rcn_entry_t **batch = calloc (m, sizeof *batch);
    int *batch_rc = calloc (m, sizeof *batch_rc);
    size_t *batch_of = calloc (m, sizeof *batch_of);
    int rc = RCN_ENOMEM;
    if (!entries || !cand || !cand_of || !cand_rc || !twin || !batch || !batch_rc || !batch_of)
        goto done;
    /* No crypto here: size, header, held already (in the log, or earlier in this group). */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        local.received++;
        results[i] = rcn_entry_decode (wire[i], len[i], &entries[i]);
        if (results[i] != RCN_OK) {
            local.malformed++;
            continue;
        }
        bool held = false;
        if ((rc = rcn_store_holds (s, entries[i], &held)) != RCN_OK)
            goto done;
        if (held) {
            results[i] = RCN_EDUP;
            local.duplicates++;
            continue;
        }
        /* The same entry twice in one group: judged as its first copy, with no crypto. */
        for (size_t j = 0; !twin[i] && j < nc; j++)
            if (cand[j]->h.seq == entries[i]->h.seq && rcn_entry_same (cand[j], entries[i]))
                twin[i] = j + 1;
        if (twin[i])
            continue;
        cand_of[nc] = i;
        cand[nc++] = entries[i];
    }
    /* The signatures, on every thread the pool has; then the survivors in arrival order. */
    rcn_vpool_verify (pool, cand, nc, cand_rc);
    for (size_t i = 0; i < n; i++) {
        if (!twin[i])
            continue;
        if ((results[i] = cand_rc[twin[i] - 1]) == RCN_OK) {
            results[i] = RCN_EDUP;
            local.duplicates++;
        }
        else
            local.bad_sig++;
    }
    size_t nb = 0;
    for (size_t j = 0; j < nc; j++) {
        if ((results[cand_of[j]] = cand_rc[j]) != RCN_OK) {
            local.bad_sig++;
            continue;
        }
        batch_of[nb] = cand_of[j];
        batch[nb++] = cand[j];
    }
    rc = commit (s, batch, batch_of, NULL, nb, batch_rc, results, &local);
    if (rc != RCN_OK)
        goto done;
    rcn_ingest_stats_add (stats, &local);
done:
    for (size_t i = 0; entries && i < n; i++)
        rcn_entry_destroy (&entries[i]);
    free (entries);
    free (cand);
    free (cand_of);
    free (cand_rc);
    free (twin);
    free (batch);
    free (batch_rc);
    free (batch_of);
    return rc;
}

bool
rcn_ingest_prefetch (rcn_store_t *s, rcn_vpool_t *pool, const uint8_t *wire, size_t len,
                     rcn_member_fn is_member, void *ctx)
{
    assert (s && is_member && (wire || len == 0));
    if (rcn_vpool_threads (pool) < 2)
        return false;
    rcn_entry_t *e = NULL;
    bool held = true;
    if (rcn_entry_decode (wire, len, &e) != RCN_OK || !is_member (e->h.origin, ctx)
        || rcn_store_holds (s, e, &held) != RCN_OK || held) {
        rcn_entry_destroy (&e);
        return false;
    }
    bool queued = rcn_vpool_prefetch (pool, &e);
    rcn_entry_destroy (&e);
    return queued;
}

/* Replaces *e by a copy that the entry module marks verified: *e is covered by a signature
 * checked further up its linked run (DESIGN.md §3). Going through rcn_entry_from_raw keeps
 * `verified` written by entry.c alone. */
static int
chunk_trust (rcn_entry_t **e)
{
    size_t n = rcn_entry_raw_len (*e);
    uint8_t *raw = malloc (n);
    if (!raw)
        return RCN_ENOMEM;
    rcn_entry_raw_write (*e, raw);
    rcn_entry_t *t = NULL;
    int rc = rcn_entry_from_raw (raw, n, true, &t);
    free (raw);
    if (rc == RCN_OK) {
        rcn_entry_destroy (e);
        *e = t;
    }
    return rc;
}

int
rcn_ingest_chunk (rcn_store_t *s, const uint8_t origin[RCN_KEY_SIZE], const uint8_t *const *wire,
                  const size_t *len, size_t n, int *results, rcn_ingest_stats_t *stats)
{
    return rcn_ingest_chunk_pooled (s, NULL, origin, wire, len, n, results, stats);
}

int
rcn_ingest_chunk_pooled (rcn_store_t *s, rcn_vpool_t *pool, const uint8_t origin[RCN_KEY_SIZE],
                         const uint8_t *const *wire, const size_t *len, size_t n, int *results,
                         rcn_ingest_stats_t *stats)
{
    assert (s && origin && (n == 0 || (wire && len && results)));
    rcn_ingest_stats_t local = { 0 };
    size_t m = n ? n : 1;
    rcn_entry_t **entries = calloc (m, sizeof *entries);
    size_t *run = calloc (m, sizeof *run);          /* new entries above our head, in order */
    rcn_entry_t **batch = calloc (m, sizeof *batch);
    int *batch_rc = calloc (m, sizeof *batch_rc);
    size_t *batch_of = calloc (m, sizeof *batch_of);
    bool *by_chain = calloc (m, sizeof *by_chain);  /* batch[j] stands on a signature above it */
    rcn_entry_t **fk = calloc (m, sizeof *fk);      /* fork evidence, checked on its own */
    size_t *fk_of = calloc (m, sizeof *fk_of);
    int *fk_rc = calloc (m, sizeof *fk_rc);
    uint64_t head = 0;
    uint8_t head_hash[RCN_HASH_SIZE];
    int rc = RCN_ENOMEM;
    if (!entries || !run || !batch || !batch_rc || !batch_of || !by_chain || !fk || !fk_of
        || !fk_rc)
        goto done;
    if ((rc = rcn_store_head (s, origin, &head, head_hash)) != RCN_OK)
        goto done;

    /* Cheap judgements first: size, header, origin, held already. */
    size_t nr = 0, nb = 0, nf = 0;
    for (size_t i = 0; i < n; i++) {
        local.received++;
        results[i] = rcn_entry_decode (wire[i], len[i], &entries[i]);
        if (results[i] == RCN_OK && memcmp (entries[i]->h.origin, origin, RCN_KEY_SIZE) != 0)
            results[i] = RCN_EINVAL;
        if (results[i] != RCN_OK) {
            local.malformed++;
            continue;
        }
        bool held = false;
        if ((rc = rcn_store_holds (s, entries[i], &held)) != RCN_OK)
            goto done;
        if (held) {
            results[i] = RCN_EDUP;
            local.duplicates++;
            continue;
        }
        if (entries[i]->h.seq > head) {
            run[nr++] = i;
            continue;
        }
        /* At or below our head yet not held: a different entry for a seq we hold, fork
         * evidence. Nothing links it to what we hold, so it stands on its own signature. */
        fk_of[nf] = i;
        fk[nf++] = entries[i];
    }
    rcn_vpool_verify (pool, fk, nf, fk_rc);
    for (size_t j = 0; j < nf; j++) {
        local.chunk_sig_checks++;
        if ((results[fk_of[j]] = fk_rc[j]) != RCN_OK) {
            local.bad_sig++;
            continue;
        }
        batch_of[nb] = fk_of[j];
        batch[nb++] = fk[j];
    }

    /* The linked run, by hashes alone: seqs head+1, head+2, …, each prev the hash of the one
     * before. run[] is compacted in place to the linked entries; an entry sent twice is a
     * duplicate, anything after a break can build on nothing we will store. A Recovery that
     * skips a lost span (recovery.h) starts a new segment: nothing below links up to it, so it
     * needs a signature of its own, and the store judges its span. */
    size_t nl = 0, nseg = 0;
    size_t *seg = calloc (m, sizeof *seg);          /* where each segment starts in run[] */
    if (!seg) {
        rc = RCN_ENOMEM;
        goto done;
    }
    uint64_t next = head + 1;
    const uint8_t *prev = head_hash;
    bool broken = false;
    for (size_t j = 0; j < nr; j++) {
        size_t i = run[j];
        rcn_entry_t *e = entries[i];
        if (!broken && e->h.seq < next) {
            size_t at = nl;
            while (at > 0 && entries[run[at - 1]]->h.seq > e->h.seq)
                at--;
            if (at > 0 && rcn_entry_same (e, entries[run[at - 1]])) {
                results[i] = RCN_EDUP;
                local.duplicates++;
                continue;
            }
        }
        bool links = e->h.seq == next && memcmp (e->h.prev, prev, RCN_HASH_SIZE) == 0;
        bool skips = !links && e->h.seq > next && e->h.kind == rcn_recovery_kind;
        if (broken || (!links && !skips)) {
            results[i] = broken || e->h.seq != next ? RCN_EGAP : RCN_ECHAIN;
            local.refused++;
            broken = true;
            continue;
        }
        if (nl == 0 || skips)
            seg[nseg++] = nl;
        run[nl++] = i;
        prev = rcn_entry_hash (e);
        next = e->h.seq + 1;
    }

    /* One signature per segment, its newest entry's. When it fails, bisect for the highest
     * entry whose own signature verifies: run[base..lo) are covered, run[hi] failed, and
     * nothing above it (later segments included) is stored. */
    size_t covered = 0;
    for (size_t g = 0; g < nseg && covered == seg[g]; g++) {
        size_t base = seg[g], top = (g + 1 < nseg ? seg[g + 1] : nl) - 1;
        local.chunk_sig_checks++;
        if (rcn_entry_verify (entries[run[top]]) == RCN_OK) {
            covered = top + 1;
            continue;
        }
        results[run[top]] = RCN_ESIG;
        local.bad_sig++;
        size_t lo = base, hi = top;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            local.chunk_sig_checks++;
            if (rcn_entry_verify (entries[run[mid]]) == RCN_OK)
                lo = mid + 1;
            else {
                results[run[mid]] = RCN_ESIG;
                local.bad_sig++;
                hi = mid;
            }
        }
        covered = lo;
        for (size_t j = covered + 1; j < nl; j++)
            if (results[run[j]] != RCN_ESIG) {
                results[run[j]] = RCN_EGAP;     /* run[covered] below it is refused */
                local.refused++;
            }
    }
    free (seg);
    for (size_t j = 0; j < covered; j++) {
        size_t i = run[j];
        by_chain[nb] = !entries[i]->verified;
        if (by_chain[nb] && (rc = chunk_trust (&entries[i])) != RCN_OK)
            goto done;
        batch_of[nb] = i;
        batch[nb++] = entries[i];
    }

    rc = commit (s, batch, batch_of, by_chain, nb, batch_rc, results, &local);
    if (rc != RCN_OK)
        goto done;
    rcn_ingest_stats_add (stats, &local);
done:
    for (size_t i = 0; entries && i < n; i++)
        rcn_entry_destroy (&entries[i]);
    free (entries);
    free (run);
    free (batch);
    free (batch_rc);
    free (batch_of);
    free (by_chain);
    free (fk);
    free (fk_of);
    free (fk_rc);
    return rc;
}
