/* bench.h — what the benchmark's programs share (bench/run drives them; README "Performance").
 *
 * Every figure is measured on the same kind of record: an Alert entry (status exercise) whose
 * body is exactly RCB_BODY bytes, a real body the alert kind applies, so that ingest pays for
 * decoding, verification, the store's checks, the view update and the synced commit. */
#ifndef RCN_BENCH_H
#define RCN_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcn/conf.h"
#include "rcn/entry.h"
#include "rcn/keys.h"
#include "rcn/roster.h"

#define RCB_BODY 512

/* Clocks, in nanoseconds: monotonic, and wall (comparable across processes on one machine). */
uint64_t rcb_mono_ns (void);
uint64_t rcb_wall_ns (void);

/* Writes the protobuf Alert body number i (its text names i, padded) of exactly RCB_BODY bytes
 * into buf (RCB_BODY bytes). */
void rcb_alert_body (uint64_t i, uint8_t buf[RCB_BODY]);

/* The same alert as an author request's "text" (what `rcctl alert send --text` takes): a body
 * authored from it is RCB_BODY bytes. buf holds RCB_BODY bytes; NUL-terminated. */
void rcb_alert_text (uint64_t i, char *buf, size_t len);

/* A chain of n entries of origin sk (seq first .. first+n-1, the first's prev `prev`, NULL for
 * seq 1), each an RCB_BODY-byte alert, signed and encoded as Entry envelopes (wire[i], len[i],
 * caller frees each and the arrays with rcb_chain_free). last_hash (may be NULL) gets the hash
 * of the newest. Exits with a message on failure. */
typedef struct {
    uint8_t **wire;
    size_t *len;
    size_t n;
} rcb_chain_t;
void rcb_chain_make (const uint8_t sk[RCN_SECRET_SIZE], uint64_t first, const uint8_t *prev,
                     size_t n, rcb_chain_t *out, uint8_t last_hash[RCN_HASH_SIZE]);
void rcb_chain_free (rcb_chain_t *c);

/* The limit (DESIGN §8): Ed25519 signature checks on this thread, libsodium
 * crypto_sign_verify_detached of RCB_BODY-byte messages (64 distinct ones, round robin), for
 * `seconds`. Adds the checks made to *checks and the time taken (s) to *elapsed. Exits 1 if a
 * valid signature does not verify. */
void rcb_verify_for (double seconds, uint64_t *checks, double *elapsed);

/* The q-quantile (0..1) of v[0..n) (sorted in place), nearest-rank; 0 when n is 0. */
double rcb_quantile (double *v, size_t n, double q);

/* This process's (pid 0) or pid's RssAnon in KiB from /proc; 0 when unreadable. */
uint64_t rcb_rss_anon_kib (long pid);

/* A count option's value: a decimal in 1..max. Anything else prints "rcbench: --OPT: …"
 * naming the option and the range, and exits 2. */
unsigned long rcb_count_arg (const char *opt, const char *s, unsigned long max);

/* A member's node dir as the benchmark's programs borrow it (its rcnode need not run): its
 * node.conf into *conf, its roster and keys (caller owns both: rcn_roster_destroy,
 * rcn_keys_destroy). Returns the member the keys are in the roster; exits 2 naming what
 * failed (node.conf, roster, keys, not a member). */
const rcn_member_t *rcb_member_load (const char *dir, rcn_conf_t *conf, rcn_roster_t **roster,
                                     rcn_keys_t **keys);

/* Prints "rcbench: WHAT: WHY" to stderr and exits 2. */
void rcb_die (const char *what, const char *why) __attribute__((noreturn));

#endif
