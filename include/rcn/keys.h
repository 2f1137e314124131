/* keys.h — a member's secret keys in its key dir (mode 0700, files 0600), held in
 * sodium_malloc memory (guarded, locked, wiped on free).
 *
 *   KEYDIR/sign.key   64 bytes: Ed25519 secret key (seed | public) — identity, signs entries
 *   KEYDIR/curve.key  32 bytes: X25519 secret key for ZeroMQ CURVE transport
 *
 * Loading refuses a key dir or key file that others can read or write (RCN_EPERM): keys
 * exposed to other users are not keys. */
#ifndef RCN_KEYS_H
#define RCN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/entry.h"
#include "rcn/err.h"

typedef struct rcn_keys rcn_keys_t;

/* Creates KEYDIR (must not exist; parent must) with fresh keys, fsynced. Keys come from
 * rcn_random_buf (seeded in tests). RCN_EIO / RCN_EBUSY (exists) with `why`. */
int rcn_keys_create (const char *keydir, char *why, size_t whylen) RCN_MUST;

/* Loads the keys. Caller owns *out (rcn_keys_destroy). RCN_EIO, RCN_EPERM, RCN_EINVAL (wrong
 * size or a public half that does not match) with `why`. */
int rcn_keys_load (const char *keydir, rcn_keys_t **out, char *why, size_t whylen) RCN_MUST;

/* Wipes and frees; nulls *self_p; accepts NULL. */
void rcn_keys_destroy (rcn_keys_t **self_p);

/* Borrowed, valid while the keys live. */
const uint8_t *rcn_keys_sign_secret (const rcn_keys_t *k);   /* 64 bytes */
const uint8_t *rcn_keys_sign_public (const rcn_keys_t *k);   /* 32 bytes: the origin */
const uint8_t *rcn_keys_curve_secret (const rcn_keys_t *k);  /* 32 bytes */
const uint8_t *rcn_keys_curve_public (const rcn_keys_t *k);  /* 32 bytes */

#endif
