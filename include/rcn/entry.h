/* entry.h — the unit of replication (DESIGN.md §3).
 *
 *   signed = "RCN1" | origin[32] | be64(seq) | prev[32] | be64(time_ms) | be32(kind) | be32(status) | body
 *   sig    = Ed25519(signed)          hash = BLAKE2b-256(signed | sig)
 *
 * The one design decision: an entry is kept as exactly the bytes that were signed. Header
 * fields are parsed out of those bytes and never re-encoded; the body is unpacked by its kind
 * only after the signature has been checked (rcn_entry_verify sets `verified`).
 *
 * rcn_entry_t is a plain struct so that the store and the kinds can read the parsed header
 * without accessor noise; only this module writes its fields. */
#ifndef RCN_ENTRY_H
#define RCN_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcn/err.h"

#define RCN_MAGIC        "RCN1"
#define RCN_HEADER_SIZE  92
#define RCN_SIG_SIZE     64
#define RCN_HASH_SIZE    32
#define RCN_KEY_SIZE     32
#define RCN_SECRET_SIZE  64                 /* libsodium Ed25519 secret key: seed | public */
#define RCN_ENTRY_MAX    65536              /* signed + sig, in bytes */
#define RCN_BODY_MAX     (RCN_ENTRY_MAX - RCN_HEADER_SIZE - RCN_SIG_SIZE)
#define RCN_WIRE_MAX     (RCN_ENTRY_MAX + 16)   /* protobuf Entry envelope: fields plus tags */

enum { RCN_STATUS_ACTUAL = 0, RCN_STATUS_EXERCISE = 1, RCN_STATUS_TEST = 2 };

typedef struct {
    uint8_t origin[RCN_KEY_SIZE];
    uint64_t seq;                  /* >= 1 */
    uint8_t prev[RCN_HASH_SIZE];   /* zero for seq 1 */
    uint64_t time_ms;
    uint32_t kind;
    uint32_t status;
    const uint8_t *body;           /* borrowed: points into the signed bytes */
    size_t body_len;
} rcn_header_t;

typedef struct {
    uint8_t *signed_bytes;         /* owned */
    size_t signed_len;
    uint8_t sig[RCN_SIG_SIZE];
    rcn_header_t h;                /* parsed from signed_bytes; h.body points into it */
    uint8_t hash[RCN_HASH_SIZE];   /* valid once has_hash */
    bool has_hash;
    bool verified;                 /* signature checked (or chained below a checked one) */
} rcn_entry_t;

/* Parses the 92-byte header of `signed_bytes` with bounds checks. `out->body` borrows from
 * the input. RCN_ETRUNC (shorter than 92), RCN_ETOOBIG (over RCN_ENTRY_MAX - 64),
 * RCN_EMAGIC (not "RCN1"), RCN_EINVAL (seq 0, seq 1 with non-zero prev, status > 2). No crypto. */
int rcn_header_parse (const uint8_t *signed_bytes, size_t len, rcn_header_t *out) RCN_MUST;

/* Builds and signs a new entry with secret key `sk` (64 bytes; the origin is its public half).
 * `prev` may be NULL for seq 1. The result is verified and hashed. Caller owns *out
 * (rcn_entry_destroy). RCN_ETOOBIG when the body is over RCN_BODY_MAX; RCN_EINVAL on seq 0. */
int rcn_entry_sign (const uint8_t sk[RCN_SECRET_SIZE], uint64_t seq, const uint8_t *prev,
                    uint64_t time_ms, uint32_t kind, uint32_t status,
                    const uint8_t *body, size_t body_len, rcn_entry_t **out) RCN_MUST;

/* Copies received parts into a new, unverified entry and parses its header. No crypto.
 * RCN_EINVAL when sig_len != 64; errors of rcn_header_parse. Caller owns *out. */
int rcn_entry_from_parts (const uint8_t *signed_bytes, size_t signed_len,
                          const uint8_t *sig, size_t sig_len, rcn_entry_t **out) RCN_MUST;

/* Decodes a protobuf Entry envelope (from the network), refusing over RCN_WIRE_MAX before
 * unpacking. Unverified. Caller owns *out. RCN_ETOOBIG, RCN_EINVAL (not an Entry), header errors. */
int rcn_entry_decode (const uint8_t *wire, size_t len, rcn_entry_t **out) RCN_MUST;

/* Encodes the protobuf Entry envelope. Caller owns *out (free()). */
int rcn_entry_encode (const rcn_entry_t *e, uint8_t **out, size_t *out_len) RCN_MUST;

/* Storage form: sig[64] | signed. Fixed offsets, no parsing needed to reach the signature. */
size_t rcn_entry_raw_len (const rcn_entry_t *e);
void rcn_entry_raw_write (const rcn_entry_t *e, uint8_t *dst);     /* dst has raw_len bytes */
/* From storage: unverified unless the caller says the store checked it at ingest. */
int rcn_entry_from_raw (const uint8_t *raw, size_t len, bool trusted, rcn_entry_t **out) RCN_MUST;

/* Checks the signature against h.origin; on success sets verified and computes the hash.
 * RCN_ESIG otherwise (the entry is left unverified). */
int rcn_entry_verify (rcn_entry_t *e) RCN_MUST;

/* Marks e verified without a check of its own when `checked` holds the same bytes (signed
 * and sig) and was verified (by rcn_entry_verify, on another thread maybe): the same bytes
 * verify the same way. Sets the hash too. RCN_ESIG (e untouched) when the bytes differ or
 * `checked` is not verified. Counts no check. */
int rcn_entry_adopt_check (rcn_entry_t *e, const rcn_entry_t *checked) RCN_MUST;

/* How many signature checks (rcn_entry_verify) this process has made: lets a test show that
 * a path did no crypto, and the benchmark count checks per entry. */
uint64_t rcn_entry_verify_calls (void);

/* Computes (once) and returns the entry hash, BLAKE2b-256(signed | sig). Borrowed from e. */
const uint8_t *rcn_entry_hash (rcn_entry_t *e);

/* Same entry: equal signed bytes and equal signature (what "duplicate" means; no crypto). */
bool rcn_entry_same (const rcn_entry_t *a, const rcn_entry_t *b);

/* Deep copy, keeping flags. Caller owns. NULL on ENOMEM. */
rcn_entry_t *rcn_entry_dup (const rcn_entry_t *e);

/* Frees the entry and nulls *self_p; accepts NULL and *self_p == NULL. */
void rcn_entry_destroy (rcn_entry_t **self_p);

/* Name of a status value ("actual", "exercise", "test") or NULL; and back (-1 when unknown). */
const char *rcn_status_name (uint32_t status);
int rcn_status_parse (const char *s);

#endif
