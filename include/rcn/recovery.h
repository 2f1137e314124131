/* recovery.h — an origin's declaration that seqs of its own were lost (DESIGN.md §3
 * invariant 3, §5 rejoin).
 *
 * A member started behind its high-water mark takes its own entries back from its peers. When
 * some are nowhere, an operator signs a Recovery at seq last+1 (above every seq ever signed, so
 * no seq is signed twice) whose prev is the hash of the origin's entry first-1: the chain then
 * skips first..last. This is the one exception to "seqs 1..head with no gap", so the store,
 * its offline check, catch-up chunks and the independent verifier all need to know the span of
 * a Recovery; this module is where its body is read and judged, once, for all of them. */
#ifndef RCN_RECOVERY_H
#define RCN_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/entry.h"
#include "rcn/err.h"

#define RCN_RECOVERY_REASON_MAX 512

/* The enum rcn.Kind value of a Recovery (KIND_RECOVERY). */
extern const uint32_t rcn_recovery_kind;

/* The lost span a Recovery declares. Judges the body against e's own header: first >= 1,
 * first <= last, last == seq - 1, reason valid UTF-8 text of at most 512 bytes. The caller
 * must have checked the signature (or the chain above it) first: this unpacks the body.
 * RCN_EBODY with `why` when e is not a Recovery or its body says anything else. */
int rcn_recovery_span (const rcn_entry_t *e, uint64_t *first, uint64_t *last, char *why,
                       size_t whylen) RCN_MUST;

/* Builds a Recovery body declaring first..last lost. Caller owns *body (free()). RCN_EINVAL
 * with `why` on an empty span or a reason that is not text or is too long. */
int rcn_recovery_body (uint64_t first, uint64_t last, const char *reason, uint8_t **body,
                       size_t *len, char *why, size_t whylen) RCN_MUST;

#endif
