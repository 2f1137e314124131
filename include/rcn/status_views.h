/* status_views.h — what `rcctl status` shows of the record kinds' views (issue #6, DESIGN §4):
 * the answers this member owes and is owed, transfer orders past a deadline, alerts in force,
 * and the seq spans members declared lost.
 *
 * Each is read from the kind's own `list` output, in one read transaction per kind, against a
 * given now: the kinds decide what "owed", "overdue" and "in force" mean, this module only
 * counts and picks. It is local view state computed when asked, never entries. Cost: each call
 * is linear in what the kind's view holds (every notice, order or alert ever stored), since the
 * kinds have no index by state; see the functions. */
#ifndef RCN_STATUS_VIEWS_H
#define RCN_STATUS_VIEWS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rcn/kind.h"
#include "rcn/store.h"

/* What is owed, as status's "owed" object (env->region is this member; env->roster's policy
 * gives the response SLA):
 *   "response_sla_s": n,
 *   "to_me": notices addressed to this member that it has not yet taken over or redirected:
 *       {"owed": n, "undelivered": n (of them not yet received), "overdue": n (past the SLA),
 *        "drill": n (exercise or test), "oldest": {"hash", "case_id", "region" (the notifying
 *        region), "state", "status", "since_ms", "age_ms"} | null},
 *   "by_me": the same over the (notice, addressee) pairs of this member's own notices that
 *       their addressees still owe, plus "notices": n (distinct notices) and "by_region":
 *       {"320000": n, …}; its "oldest" names the addressee as "to" instead of "region",
 *   "transfers_overdue": [{"hash", "order_id", "from", "to", "state", "status", "why" (the
 *       order's overdue reasons, "; "-joined), "act" (the region that must act next),
 *       "late_ms" (past the earliest missed deadline)}, …] — open orders from or to this
 *       member past accept_by or eta, newest first.
 * Reads the case and transfer views (a kind not built in counts nothing). Cost: the case
 * kind's list resolves every notice held, with its acks; the transfer kind's every order with
 * its steps. Caller owns the result; NULL with `why` when a view cannot be read. */
json_t *rcn_status_owed (rcn_store_t *s, const rcn_kind_env_t *env, uint64_t now_ms, char *why,
                         size_t whylen);

/* Alerts in force now (the alert kind's default list: neither cancelled nor expired), as
 * {"in_force": n, "list": [{"hash", "region", "severity", "text", "regions", "status",
 * "issued_ms", "updated_ms", "expires_ms" (absent: no expiry)}, …]}, the most severe first,
 * real before drill, then newest. Cost: every alert thread held. Caller owns; NULL with `why`. */
json_t *rcn_status_alerts (rcn_store_t *s, const rcn_kind_env_t *env, uint64_t now_ms, char *why,
                           size_t whylen);

/* The seq spans each member declared lost (Recovery entries, DESIGN §5), as an object keyed by
 * region: {"330000": [[first, last], …]}; empty when none. Caller owns; NULL with `why`. */
json_t *rcn_status_lost (rcn_store_t *s, const rcn_kind_env_t *env, char *why, size_t whylen);

/* The latest notification round that has come (the rounds kind's `rounds --last`), as
 * {"date", "slot" "HH:MM", "slot_ms", "tally": {"on_time": n, "late": n, "missing": n,
 * "pending": n, "due": n}, "split_view": n, "late": [regions], "missing": [regions], "own":
 * {"state", "acks", "of"}}; JSON null when the roster schedules no rounds or no slot has come
 * yet. Cost: one lookup per member and its acks. Caller owns; NULL with `why`. */
json_t *rcn_status_round (rcn_store_t *s, const rcn_kind_env_t *env, uint64_t now_ms, char *why,
                          size_t whylen);

#endif
