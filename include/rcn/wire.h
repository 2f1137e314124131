/* wire.h — the replication messages of DESIGN.md §5 (Heartbeat, PullRequest, PullReply in
 * proto/rcn.proto), decoded from hostile bytes into plain C structs and encoded back.
 *
 * The one design decision: nothing reaches protobuf-c that could make it allocate more than a
 * small multiple of a capped input. Each message has a size cap checked before unpacking
 * (derived below from RCN_MAX_MEMBERS and the chunk byte budget), and unpacking runs under an
 * allocation budget, so that a message of many empty repeated elements — a few input bytes,
 * a struct each — is refused instead of allocated. After unpacking every field is checked and
 * the caller gets plain structs, never protobuf objects. Every refusal is an RCN_E… code with
 * `why` naming the field ("heads[3].hash: 31 bytes, expected 32").
 *
 * Entries inside a PullReply are not judged here: each is handed on as its Entry envelope, and
 * rcn_ingest_chunk (ingest.h) judges them one by one, so that a bad entry costs only itself
 * and the ones after it. */
#ifndef RCN_WIRE_H
#define RCN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/entry.h"
#include "rcn/err.h"
#include "rcn/roster.h"
#include "rcn/store.h"

/* The chunk byte budget: a PullReply carries entries worth at most this many bytes (each
 * entry counted as it sits in the reply: envelope plus its field tag and length), except that
 * a reply always carries at least one entry when any is held. Requests ask for max_bytes in
 * [RCN_ENTRY_MAX, RCN_PULL_MAX_BYTES]. A catch-up chunk is one group commit: the larger, the
 * fewer index pages LMDB writes per entry (random-key indexes: 19 KB written per entry at
 * 256 KiB chunks, 9 KB at 2 MiB, measured with 1M entries held), but LMDB keeps every page a
 * commit dirtied in its malloc'd page cache for reuse (RssAnon ~ 12 KB per entry of the
 * largest commit). Just under 1 MiB, so that the sockets' cap (reply cap + 1 KiB) stays below
 * 1 MiB frames. */
#define RCN_PULL_MAX_BYTES (1024 * 1024 - 2048)

/* A Head is at most 90 bytes: origin 2+32, seq 1+10, hash 2+32, fork_seq 1+10; 92 with its
 * tag and one-byte length inside a Heartbeat. A Heartbeat of RCN_MAX_MEMBERS heads is then at
 * most 79 + 64 * 92 = 5967 bytes (roster_hash 34, member 34, time_ms 11). The cap leaves a
 * third again for fields a later version may add. */
#define RCN_HEAD_WIRE_MAX      92
#define RCN_HEARTBEAT_WIRE_MAX (79 + RCN_MAX_MEMBERS * RCN_HEAD_WIRE_MAX)
#define RCN_HEARTBEAT_MAX      8192

/* A PullRequest is at most 96 bytes: request_id 11, roster_hash 34, origin 34, from_seq 11,
 * max_bytes 6. */
#define RCN_PULL_REQUEST_MAX   256

/* A PullReply is its entries (at most RCN_PULL_MAX_BYTES, see above; one entry alone is at
 * most RCN_WIRE_MAX + 4) plus request_id 11, error 11, origin 34 and head_seq 11. */
#define RCN_PULL_REPLY_MAX     (RCN_PULL_MAX_BYTES + 256)

/* The least an entry that can verify occupies in a reply: 92-byte header, no body, 64-byte
 * signature, envelope 160 bytes, plus tag and a two-byte length. Bounds the count. */
#define RCN_PULL_ENTRY_MIN     163
#define RCN_PULL_MAX_ENTRIES   (RCN_PULL_MAX_BYTES / RCN_PULL_ENTRY_MIN + 1)

/* What a member holds of one origin. */
typedef struct {
    uint8_t origin[RCN_KEY_SIZE];
    uint64_t seq;                   /* highest contiguous seq held; 0: none */
    uint8_t hash[RCN_HASH_SIZE];    /* hash of entry seq; zero when seq is 0 */
    uint64_t fork_seq;              /* 0, or the lowest seq of fork evidence held (<= seq) */
} rcn_head_t;

typedef struct {
    uint8_t roster_hash[RCN_HASH_SIZE];
    uint8_t member[RCN_KEY_SIZE];   /* the sender's signing key, as it says */
    uint64_t time_ms;               /* the sender's clock */
    size_t n_heads;
    rcn_head_t heads[RCN_MAX_MEMBERS];  /* sorted by origin, no origin twice; rest zero */
} rcn_heartbeat_t;

typedef struct {
    uint64_t request_id;            /* the requester's, echoed in the reply */
    uint8_t roster_hash[RCN_HASH_SIZE];
    uint8_t origin[RCN_KEY_SIZE];
    uint64_t from_seq;              /* >= 1 */
    uint32_t max_bytes;             /* in [RCN_ENTRY_MAX, RCN_PULL_MAX_BYTES] */
} rcn_pull_request_t;

/* The values of PullReply.Error. */
typedef enum {
    RCN_PULL_OK = 0,
    RCN_PULL_ROSTER = 1,            /* roster hashes differ: the replier will not sync */
    RCN_PULL_BAD_REQUEST = 2,
    RCN_PULL_NOT_HELD = 3,          /* the replier holds nothing from from_seq on */
} rcn_pull_error_t;

/* A decoded PullReply: one allocation, freed with rcn_pull_reply_destroy. entries[i]
 * (entry_lens[i] bytes) is the i-th entry's Entry envelope, ready for rcn_ingest_chunk; owned
 * by the reply. */
typedef struct {
    uint64_t request_id;
    rcn_pull_error_t error;
    uint8_t origin[RCN_KEY_SIZE];   /* zero when an error reply left it out */
    uint64_t head_seq;              /* the replier's head for origin */
    size_t n_entries;               /* >= 1 when error is RCN_PULL_OK, else 0 */
    const uint8_t *const *entries;
    const size_t *entry_lens;
} rcn_pull_reply_t;

/* ---- Heartbeat ----------------------------------------------------------------------------- */

/* Decodes a Heartbeat into *out (caller's struct; zeroed first, left zeroed on refusal).
 * RCN_ETOOBIG: over RCN_HEARTBEAT_MAX, or unpacking would allocate past the budget.
 * RCN_EINVAL: not a Heartbeat, or a field is wrong — roster_hash, member, heads[i].origin or
 * heads[i].hash not 32 bytes (hash empty exactly when seq is 0), fork_seq above seq, an origin
 * twice, more than RCN_MAX_MEMBERS heads. `why` (may be NULL) names the field. Unknown fields
 * are ignored. Whether `member` is the peer the connection authenticated is the caller's check. */
int rcn_heartbeat_decode (const uint8_t *wire, size_t len, rcn_heartbeat_t *out,
                          char *why, size_t whylen) RCN_MUST;

/* Encodes *hb (n_heads <= RCN_MAX_MEMBERS, asserted). Caller owns *out (free()). RCN_ENOMEM. */
int rcn_heartbeat_encode (const rcn_heartbeat_t *hb, uint8_t **out, size_t *len) RCN_MUST;

/* Builds and encodes this member's Heartbeat from the store's heads and fork state, read in
 * one snapshot. Caller owns *out (free()). RCN_ETOOBIG when the store holds more than
 * RCN_MAX_MEMBERS origins (former members' keys count too); RCN_EDB / RCN_ENOMEM. */
int rcn_heartbeat_build (rcn_store_t *s, const uint8_t roster_hash[RCN_HASH_SIZE],
                         const uint8_t member[RCN_KEY_SIZE], uint64_t now_ms,
                         uint8_t **out, size_t *len) RCN_MUST;

/* ---- PullRequest --------------------------------------------------------------------------- */

/* Decodes a PullRequest into *out (zeroed first, left zeroed on refusal). RCN_ETOOBIG over
 * RCN_PULL_REQUEST_MAX; RCN_EINVAL: not a PullRequest, roster_hash or origin not 32 bytes,
 * from_seq 0, max_bytes outside [RCN_ENTRY_MAX, RCN_PULL_MAX_BYTES]; `why` names the field. */
int rcn_pull_request_decode (const uint8_t *wire, size_t len, rcn_pull_request_t *out,
                             char *why, size_t whylen) RCN_MUST;

/* Encodes *req as it is (a request the decoder would refuse is encoded too: the replier
 * answers it RCN_PULL_BAD_REQUEST). Caller owns *out (free()). RCN_ENOMEM. */
int rcn_pull_request_encode (const rcn_pull_request_t *req, uint8_t **out, size_t *len) RCN_MUST;

/* ---- PullReply ----------------------------------------------------------------------------- */

/* Answers *req from the store with an encoded PullReply (caller owns *out, free()), echoing
 * request_id and origin: RCN_PULL_BAD_REQUEST when a field of *req is out of range (as the
 * decoder judges); RCN_PULL_ROSTER when req->roster_hash differs from ours (no entries, no
 * head); else origin's entries from from_seq on, in seq order, stopping before their bytes
 * would pass max_bytes but always at least one, with head_seq = our head read in the same
 * snapshot; RCN_PULL_NOT_HELD with our head when nothing from from_seq on is held. Returns
 * RCN_OK whenever *out holds an answer; RCN_EDB / RCN_ENOMEM (no answer) otherwise. */
int rcn_pull_serve (rcn_store_t *s, const rcn_pull_request_t *req,
                    const uint8_t roster_hash[RCN_HASH_SIZE], uint8_t **out, size_t *len) RCN_MUST;

/* The sync socket's whole job for one request frame: decodes it and serves it. A request that
 * unpacks but has a bad field is answered RCN_PULL_BAD_REQUEST (with its request_id) and `why`
 * says which field; otherwise why is "". RCN_OK whenever *out holds an answer to send (caller
 * owns, free()). A frame that is over RCN_PULL_REQUEST_MAX (RCN_ETOOBIG) or not a PullRequest
 * at all (RCN_EINVAL) has no request_id to answer: *out is NULL, `why` says why, drop it.
 * RCN_EDB / RCN_ENOMEM from the store. */
int rcn_pull_answer (rcn_store_t *s, const uint8_t roster_hash[RCN_HASH_SIZE],
                     const uint8_t *wire, size_t len, uint8_t **out, size_t *outlen,
                     char *why, size_t whylen) RCN_MUST;

/* Decodes a PullReply. Caller owns *out (rcn_pull_reply_destroy); NULL on refusal.
 * RCN_ETOOBIG: over RCN_PULL_REPLY_MAX, or unpacking would allocate past the budget.
 * RCN_EINVAL: not a PullReply; error not one of rcn_pull_error_t; origin not 32 bytes (it may
 * be empty on an error reply); RCN_PULL_OK with no entries, more than RCN_PULL_MAX_ENTRIES, or
 * head_seq below their count; an error reply carrying entries. RCN_ENOMEM. The entries
 * themselves are not parsed: that the reply answers the request in flight (request_id,
 * origin) is the caller's check, each entry's is rcn_ingest_chunk's. */
int rcn_pull_reply_decode (const uint8_t *wire, size_t len, rcn_pull_reply_t **out,
                           char *why, size_t whylen) RCN_MUST;

/* Frees the reply and nulls *self_p; accepts NULL and *self_p == NULL. */
void rcn_pull_reply_destroy (rcn_pull_reply_t **self_p);

#endif
