/* seal.h — sealed personal details (DESIGN.md §7).
 *
 * A member's sealing key pairs (X25519) live in its key dir, one file per period
 * (keys/seal-<from_ms>.key, 0600, secret | public), never in LMDB nor in backups. Their public
 * halves are published as SealKey entries (node/kinds/sealkey.c), so that any member can seal
 * details for any other.
 *
 * Sealing: a random content key encrypts the details (crypto_secretbox_easy); the content key
 * is wrapped (crypto_box_seal) to each reader's sealing public key. Opening: this member finds
 * a wrap to one of its own public keys, unwraps the content key with that secret, and decrypts.
 * Whoever holds neither the secret nor the content key learns nothing but the length.
 *
 * The one decision: the content key never leaves this module except re-wrapped (a redirect
 * passes a notice on by wrapping the same key for the new reader, rcn_seal_rewrap), so nothing
 * else can leak it or log it. */
#ifndef RCN_SEAL_H
#define RCN_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rcn/entry.h"
#include "rcn/err.h"
#include "rcn.pb-c.h"

#define RCN_SEAL_KEY_SIZE 32          /* X25519 public and secret halves */
#define RCN_SEAL_PLAIN_MAX 16384      /* sealed details, bytes of JSON */

typedef struct rcn_seal rcn_seal_t;

/* One reader: its member signing key and the sealing public key to wrap to. */
typedef struct {
    uint8_t member[RCN_KEY_SIZE];
    uint8_t seal_pk[RCN_SEAL_KEY_SIZE];
} rcn_seal_reader_t;

/* Loads every sealing key pair in keys_dir (files seal-<from_ms>.key, secrets in sodium-guarded
 * memory). With create and none there, makes the first one (period from now_ms) and fsyncs it.
 * A key file readable by others is refused (RCN_EPERM), as keys.c does; one of 64 zero bytes
 * (a destroyed key, rcn_seal_retire, cut short) is skipped, and with create removed.
 * Caller owns *out. */
int rcn_seal_load (const char *keys_dir, bool create, uint64_t now_ms, rcn_seal_t **out,
                   char *why, size_t whylen) RCN_MUST;
void rcn_seal_destroy (rcn_seal_t **self_p);

/* The newest pair whose period has begun at now_ms: its public half and period start, to be
 * published (SealKey). RCN_ENOTFOUND when none. */
int rcn_seal_current (const rcn_seal_t *s, uint64_t now_ms, uint8_t pk[RCN_SEAL_KEY_SIZE],
                      uint64_t *from_ms) RCN_MUST;

/* ---- rotation and retention (DESIGN §7) ------------------------------------------------------
 * A pair covers [from_ms, the next pair's from_ms); the newest covers on. The node keeps a pair
 * for the current period AND the next (rcn_seal_ensure), publishes both (SealKey), and
 * destroys a pair once its period's end plus the roster's retention has passed
 * (rcn_seal_retire): what was sealed under it can then be opened by nobody, from any copy of
 * the log, since no backup holds keys. */

#define RCN_SEAL_DAY_MS 86400000ULL

/* One period this member holds the secret for. */
typedef struct {
    uint64_t from_ms;
    uint64_t until_ms;                /* the next pair's from_ms; UINT64_MAX for the newest */
    uint8_t pk[RCN_SEAL_KEY_SIZE];
} rcn_seal_period_t;

/* How many pairs s holds, and the i-th of them, oldest first (i < count). */
size_t rcn_seal_count (const rcn_seal_t *s);
void rcn_seal_period (const rcn_seal_t *s, size_t i, rcn_seal_period_t *out);

/* The public half of the pair that starts exactly at from_ms. RCN_ENOTFOUND when none. */
int rcn_seal_at (const rcn_seal_t *s, uint64_t from_ms, uint8_t pk[RCN_SEAL_KEY_SIZE]) RCN_MUST;

/* Makes, in keys_dir (0600, fsynced with the dir), what is missing of: a pair covering now_ms
 * (one whose period began at most period_ms ago) and a pair starting after now_ms. New pairs
 * lie on one grid: with no pair at all the current starts at now_ms, else on the newest pair's
 * grid (from + k * period_ms); the next starts one period after the current. Cheap when
 * nothing is missing (no I/O). *created (may be NULL): how many it made. RCN_EIO with `why`;
 * RCN_ETOOBIG when s would hold too many pairs. */
int rcn_seal_ensure (rcn_seal_t *s, const char *keys_dir, uint64_t now_ms, uint64_t period_ms,
                     size_t *created, char *why, size_t whylen) RCN_MUST;

/* Destroys every pair but the newest whose until_ms + retention_ms <= at_ms: its file is
 * overwritten with zeros and synced, then unlinked and the dir synced, and its secret wiped
 * from memory. The first max destroyed periods go to gone[] (oldest first); *n_gone counts
 * all. RCN_EIO with `why` (those destroyed before the failure stay destroyed). */
int rcn_seal_retire (rcn_seal_t *s, const char *keys_dir, uint64_t at_ms, uint64_t retention_ms,
                     rcn_seal_period_t *gone, size_t max, size_t *n_gone,
                     char *why, size_t whylen) RCN_MUST;

/* rcn_seal_retire with the roster's retention_days, answered as JSON (periods, never key
 * material): {"at", "at_ms", "retention_days", "destroyed": [PERIOD…], "kept": [PERIOD…],
 * "next": PERIOD|null}, PERIOD = {"from", "from_ms", "until", "until_ms", "expires",
 * "expires_ms"} ({"from", "from_ms", "newest": true} for the newest); "next" is the one
 * that expires first. *report (caller owns) is set even on an error, saying what was done. */
int rcn_seal_retention_run (rcn_seal_t *s, const char *keys_dir, uint64_t at_ms,
                            int64_t retention_days, json_t **report,
                            char *why, size_t whylen) RCN_MUST;

/* Whether pk is one of this member's sealing public keys (whose secret it still holds). */
bool rcn_seal_owns (const rcn_seal_t *s, const uint8_t pk[RCN_SEAL_KEY_SIZE]);

/* Seals plain (at most RCN_SEAL_PLAIN_MAX bytes) for readers[0..n): a new random content key,
 * a new nonce. Caller frees *out with rcn_seal_free. RCN_ETOOBIG, RCN_EINVAL (no reader). */
int rcn_seal_box (const uint8_t *plain, size_t len, const rcn_seal_reader_t *readers, size_t n,
                  Rcn__Sealed **out) RCN_MUST;

/* Opens sealed with one of this member's secrets, looking for a wrap to one of its keys among
 * sealed->wraps and extra[0..n_extra) (wraps that came later, e.g. a redirect's rewrap).
 * Caller owns *plain (sodium_free-d by rcn_seal_plain_free: it held personal details).
 * RCN_EPERM when no wrap is for this member (or its secret is gone: retention); RCN_EBODY
 * when the ciphertext or a wrap is malformed or does not authenticate. */
int rcn_seal_open (const rcn_seal_t *s, const Rcn__Sealed *sealed, Rcn__Wrap *const *extra,
                   size_t n_extra, uint8_t **plain, size_t *len) RCN_MUST;
void rcn_seal_plain_free (uint8_t *plain, size_t len);

/* Wraps sealed's content key (opened as rcn_seal_open does) for further readers. *wraps is an
 * array of n new Rcn__Wrap (free with rcn_seal_wraps_free). RCN_EPERM / RCN_EBODY as open. */
int rcn_seal_rewrap (const rcn_seal_t *s, const Rcn__Sealed *sealed, Rcn__Wrap *const *extra,
                     size_t n_extra, const rcn_seal_reader_t *readers, size_t n,
                     Rcn__Wrap ***wraps) RCN_MUST;
void rcn_seal_wraps_free (Rcn__Wrap **wraps, size_t n);

/* Frees what rcn_seal_box made; accepts NULL. */
void rcn_seal_free (Rcn__Sealed *sealed);

/* Checks a Sealed's shape without opening it (nonce 24 bytes, ciphertext at least the MAC and
 * at most the cap, 1..64 wraps of 32 | 32 | 80 bytes): what apply must judge. RCN_EBODY with
 * `why` naming the field. */
int rcn_seal_check (const Rcn__Sealed *sealed, char *why, size_t whylen) RCN_MUST;
int rcn_seal_check_wrap (const Rcn__Wrap *w, char *why, size_t whylen) RCN_MUST;

#endif
