/* roster.h — the alliance roster (DESIGN.md §2): one JSON file every member holds byte for
 * byte; its hash is BLAKE2b-256 of the file's exact bytes.
 *
 *   {
 *     "rcn_roster": 1,
 *     "policy": { "rounds": ["10:00","15:00","17:00"], "timezone": "Asia/Shanghai",
 *                 "grace_s": 600, "response_sla_s": 3600, "retention_days": 180,
 *                 "seal_period_days": 30 },
 *     "members": [ { "region": "310000", "name": "Shanghai", "sign_key": "<64 hex>",
 *                    "curve_key": "<40 Z85>", "pub": "tcp://h:p", "sync": "tcp://h:p" }, … ]
 *   }
 *
 * A member card (printed by `rcctl init`) is one element of "members" on its own. */
#ifndef RCN_ROSTER_H
#define RCN_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rcn/entry.h"
#include "rcn/err.h"

#define RCN_ROSTER_VERSION 1
#define RCN_MAX_MEMBERS 64
#define RCN_MAX_ROUNDS 24
#define RCN_NAME_MAX 64
#define RCN_ENDPOINT_MAX 128

typedef struct {
    uint32_t region;
    char name[RCN_NAME_MAX + 1];
    uint8_t sign_key[RCN_KEY_SIZE];          /* Ed25519 public: entries' origin */
    uint8_t curve_key[RCN_KEY_SIZE];         /* X25519 public for CURVE */
    char pub[RCN_ENDPOINT_MAX + 1];          /* tcp://host:port */
    char sync[RCN_ENDPOINT_MAX + 1];
} rcn_member_t;

typedef struct {
    int rounds[RCN_MAX_ROUNDS];              /* minutes after local midnight, ascending */
    int n_rounds;
    char timezone[64];                       /* IANA name */
    int64_t grace_s;
    int64_t response_sla_s;
    int64_t retention_days;
    int64_t seal_period_days;
} rcn_policy_t;

typedef struct rcn_roster rcn_roster_t;

/* The defaults: rounds 10:00,15:00,17:00, Asia/Shanghai, grace 600 s, SLA 3600 s,
 * retention 180 days, sealing period 30 days. */
void rcn_policy_default (rcn_policy_t *p);

/* Parses roster bytes (kept for the hash). Every member and policy field is checked: region
 * codes (region.h), unique regions and keys, key encodings, endpoints "tcp://host:port".
 * RCN_EROSTER with `why` naming the member and field. Caller owns *out. */
int rcn_roster_parse (const uint8_t *bytes, size_t len, rcn_roster_t **out,
                      char *why, size_t whylen) RCN_MUST;

/* Reads and parses a file. RCN_EIO / RCN_EROSTER with `why` (which names the path). */
int rcn_roster_load (const char *path, rcn_roster_t **out, char *why, size_t whylen) RCN_MUST;

void rcn_roster_destroy (rcn_roster_t **self_p);

/* BLAKE2b-256 of the exact bytes; borrowed, valid while the roster lives. */
const uint8_t *rcn_roster_hash (const rcn_roster_t *r);
/* The exact file bytes the roster was parsed from (what its hash covers); borrowed. */
const uint8_t *rcn_roster_bytes (const rcn_roster_t *r, size_t *len);
const rcn_policy_t *rcn_roster_policy (const rcn_roster_t *r);
size_t rcn_roster_count (const rcn_roster_t *r);
const rcn_member_t *rcn_roster_member (const rcn_roster_t *r, size_t i);   /* sorted by region */
const rcn_member_t *rcn_roster_by_origin (const rcn_roster_t *r, const uint8_t origin[RCN_KEY_SIZE]);
const rcn_member_t *rcn_roster_by_region (const rcn_roster_t *r, uint32_t region);

/* rcn_member_fn for the store: ctx is an rcn_roster_t*. */
bool rcn_roster_is_member (const uint8_t origin[RCN_KEY_SIZE], void *ctx);

/* Checks one member card (JSON object as above) into *m. RCN_EINVAL with `why`. */
int rcn_member_from_json (const json_t *card, rcn_member_t *m, char *why, size_t whylen) RCN_MUST;
/* The card of m. Caller owns the reference. */
json_t *rcn_member_to_json (const rcn_member_t *m);

/* Checks a member or operator name: 1..RCN_NAME_MAX bytes of UTF-8 without control
 * characters. RCN_EINVAL with `why` (the reason; the caller adds the field name). */
int rcn_name_check (const char *s, char *why, size_t whylen) RCN_MUST;

/* Checks a peer-facing endpoint "tcp://HOST:PORT": HOST a name, IPv4 or [IPv6] address (no
 * wildcard), PORT 1..65535, at most RCN_ENDPOINT_MAX characters. RCN_EINVAL with `why`
 * (the reason, quoting the value; the caller adds the field name). */
int rcn_endpoint_check (const char *s, char *why, size_t whylen) RCN_MUST;

/* Parses "10:00,15:00,17:00" into p->rounds (ascending, distinct, 00:00..23:59). */
int rcn_policy_parse_rounds (const char *s, rcn_policy_t *p, char *why, size_t whylen) RCN_MUST;

/* Builds roster text from member cards and a policy: members sorted by region, duplicate
 * regions or keys refused, 2-space indented, ending in a newline. The text parses back with
 * rcn_roster_parse. Caller owns *text (free()). */
int rcn_roster_build (const json_t *const *cards, size_t n, const rcn_policy_t *p,
                      char **text, char *why, size_t whylen) RCN_MUST;

#endif
