/* ingest.h — how entries from outside (a peer, a catch-up chunk) enter the log, in the order
 * DESIGN.md §3 fixes: size cap before unpacking the envelope, duplicates dropped before any
 * crypto, signature checked, then one group commit. Bodies are unpacked only by the kinds,
 * inside the commit, after the check. */
#ifndef RCN_INGEST_H
#define RCN_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/err.h"
#include "rcn/store.h"

typedef struct {
    uint64_t received;      /* envelopes offered */
    uint64_t malformed;     /* refused by size cap, envelope or header parse */
    uint64_t duplicates;    /* already held: dropped with no signature check */
    uint64_t bad_sig;       /* signature does not verify */
    uint64_t stored;        /* new entries committed */
    uint64_t refused;       /* checked but refused by the store (gap, chain, origin, fork) */
} rcn_ingest_stats_t;

/* Ingests n Entry envelopes (protobuf wire bytes) as one group: every new, validly signed
 * entry is committed in one synced transaction. results[i] (caller-allocated) gets RCN_OK
 * (stored), RCN_EDUP (held already; no crypto spent), a decode error (RCN_ETOOBIG,
 * RCN_ETRUNC, RCN_EMAGIC, RCN_EINVAL), RCN_ESIG, or the store's per-entry refusal (RCN_EGAP,
 * RCN_ECHAIN, RCN_EORIGIN, RCN_EFORK). stats (may be NULL) is added to. Returns RCN_OK once
 * the group is committed, or the store's error (nothing of the group written). */
int rcn_ingest (rcn_store_t *s, const uint8_t *const *wire, const size_t *len, size_t n,
                int *results, rcn_ingest_stats_t *stats) RCN_MUST;

#endif
