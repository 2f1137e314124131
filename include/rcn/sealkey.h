/* sealkey.h — who may read sealed details: the sealing public keys members published
 * (SealKey entries, node/kinds/sealkey.c), as the kinds that seal (case, transfer) need them.
 *
 * A sender wraps to the key whose period covers the entry's time: the newest SealKey of the
 * reader with from_ms <= that time (DESIGN §7). */
#ifndef RCN_SEALKEY_H
#define RCN_SEALKEY_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/kind.h"
#include "rcn/seal.h"

extern const rcn_kind_t rcn_kind_sealkey;

/* member's sealing public key for at_ms, read in v's transaction (v may be any kind's view).
 * RCN_ENOTFOUND when it has published none that covers at_ms. */
int rcn_sealkey_lookup (const rcn_view_t *v, const uint8_t member[RCN_KEY_SIZE], uint64_t at_ms,
                        uint8_t pk[RCN_SEAL_KEY_SIZE]) RCN_MUST;

/* The start of the newest sealing key member has published (whatever its period), read in v's
 * transaction. RCN_ENOTFOUND when it has published none. */
int rcn_sealkey_newest (const rcn_view_t *v, const uint8_t member[RCN_KEY_SIZE],
                        uint64_t *from_ms) RCN_MUST;

/* The sealing part of `rcctl status` at now_ms, as JSON (caller owns):
 *   {"own_current": OWN|null, "own_next": OWN|null, "held": N, "late": ["330000", …]}
 * OWN = {"from", "from_ms", "published"} for this member's pairs (env->seal); "late" lists every
 * roster member (this one included) whose newest published key began before now_ms, or that
 * published none: no key of its is out ahead for the next period (DESIGN §7). */
json_t *rcn_sealkey_status (const rcn_view_t *v, const rcn_kind_env_t *env, uint64_t now_ms);

/* Readers for `origin` (the author: it can always read what it wrote) and every member of
 * regions[0..n) (duplicates and the origin's own region folded), each with its key for at_ms.
 * out must hold n + 1. RCN_ENOTFOUND with `why` naming the region that has no key yet ("320000
 * has published no sealing key yet: has its node started?"); RCN_EINVAL for a region that is no
 * roster member. */
int rcn_sealkey_readers (const rcn_view_t *v, const rcn_roster_t *r, const uint8_t origin[RCN_KEY_SIZE],
                         const uint32_t *regions, size_t n, uint64_t at_ms,
                         rcn_seal_reader_t *out, size_t *n_out, char *why, size_t whylen) RCN_MUST;

#endif
