/* pass.h — a mutual-recognition pass checked offline, as a checkpoint checks it (`rcctl pass
 * verify`, node/kinds/pass.c; the benchmark's pass figure, bench/pass.c). */
#ifndef RCN_PASS_H
#define RCN_PASS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcn/entry.h"
#include "rcn/kind.h"
#include "rcn/roster.h"

#include "rcn.pb-c.h"

/* The pass kind (node/kinds/pass.c): author, apply, cli … as every kind has. */
extern const rcn_kind_t rcn_kind_pass;

/* A pass's token: "RCN1:" + Base45(signed | sig) of its PassIssue entry. Caller owns; NULL on
 * ENOMEM. */
char *rcn_pass_token (const rcn_entry_t *e);

/* Checks `token` (no line end) offline: Base45, a signed rcn entry, its signature, an issuer in
 * `roster`, a PassIssue body that the pass kind would apply, not a drill pass (unless
 * `exercise`), valid at `at_ms`, recognised in region `here` (0: anywhere). Neither revocation
 * (that needs a member's log) nor the holder's ID number (the deliberately slow Argon2id
 * comparison) is checked here. Adds what an officer sees to `out` (a JSON object: issuer,
 * kind, holder, validity, …). True when valid; false with the first reason in `reason`.
 * *entry_out and *issue_out (either may be NULL) get the entry and its parsed pass when they
 * were read that far (else NULL); the caller frees them. */
bool rcn_pass_check_token (const char *token, const rcn_roster_t *roster, uint64_t at_ms,
                           uint32_t here, bool exercise, json_t *out, char *reason,
                           size_t reason_len, rcn_entry_t **entry_out,
                           Rcn__PassIssue **issue_out);

#endif
