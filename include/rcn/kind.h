/* kind.h — how a record kind plugs into the store (DESIGN.md §6).
 *
 * Each kind lives in one file, node/kinds/NAME.c, defining `const rcn_kind_t rcn_kind_NAME`.
 * The build collects them into the NULL-terminated table rcn_kinds[] (kinds_table.c, made
 * by CMake from the file names): a new kind is a new file, not edits across the tree.
 *
 * The store calls `apply` inside its append transaction for every stored entry of that kind
 * whose origin is not forked at that seq, in seq order per origin. Views must depend only on
 * the entries (invariant 8): never on arrival order across origins, the local clock or which
 * member computes them. Anything time-dependent ("in force", "overdue") is computed at read
 * time against a given now. */
#ifndef RCN_KIND_H
#define RCN_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>

#include "rcn/entry.h"
#include "rcn/err.h"
#include "rcn/roster.h"

#define RCN_KIND_MAX_DBS 8

typedef struct rcn_store rcn_store_t;

/* A transaction with one kind's databases open; borrowed for the duration of a callback. */
typedef struct {
    MDB_txn *txn;
    MDB_dbi dbi[RCN_KIND_MAX_DBS];    /* in the order of rcn_kind_t.dbs */
    rcn_store_t *store;
} rcn_view_t;

/* Lookup of any stored entry by hash inside the view's transaction (e.g. what an update
 * references). Caller owns *out. RCN_ENOTFOUND when not held. */
int rcn_view_get_by_hash (const rcn_view_t *v, const uint8_t hash[RCN_HASH_SIZE],
                          rcn_entry_t **out) RCN_MUST;

/* Whether the entry with this hash was recorded invalid (see invariant 9). */
int rcn_view_is_invalid (const rcn_view_t *v, const uint8_t hash[RCN_HASH_SIZE], int *invalid) RCN_MUST;

typedef struct rcn_seal rcn_seal_t;
typedef struct rcn_kind rcn_kind_t;

/* Who is asking, for the callbacks that author, open or act on their own (all borrowed). */
typedef struct {
    const uint8_t *origin;            /* this member's signing key (32 bytes) */
    uint32_t region;                  /* this member's region */
    const rcn_roster_t *roster;
    const rcn_seal_t *seal;           /* this member's sealing secrets (seal.h); NULL where the
                                         caller holds none (rcctl reading the log) */
} rcn_kind_env_t;

/* Another kind's databases in the same transaction as v (e.g. the sealing keys' view, read
 * while authoring a case). RCN_ENOTFOUND when the store does not hold that kind. */
int rcn_view_of_kind (const rcn_view_t *v, const rcn_kind_t *k, rcn_view_t *out) RCN_MUST;

struct rcn_kind {
    uint32_t kind;                    /* enum rcn.Kind value: the first the file handles */
    const uint32_t *also;             /* 0-terminated further rcn.Kind values it handles (a
                                         notice and its acks share one view); may be NULL */
    const char *name;                 /* "alert": command word and export name */
    const char *const *dbs;           /* NULL-terminated database names of its view (<= 8) */

    /* Updates the view for verified, stored entry e (of any kind it handles) inside v->txn.
     * Returns RCN_OK; or RCN_EBODY with `why` when the body is malformed or a step its author
     * may not make — it must then have written nothing (validate first, write after); the
     * store records it invalid and goes on. Any other code aborts the whole batch. */
    int (*apply) (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen);

    /* Author side: builds a body from a JSON request (req["body"] is what cli put there),
     * refusing (RCN_EINVAL, `why` naming the field) anything apply would reject. *kind is
     * preset to the kind's first value; set it for another it handles. v is a read view for
     * checks against the log. Caller owns *body (free()). NULL: nothing is authored through
     * the generic path. */
    int (*author) (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *req,
                   uint64_t now_ms, uint32_t *kind, uint8_t **body, size_t *body_len,
                   char *why, size_t whylen);

    /* True when checking this request reads state that an earlier request of the same group
     * could change (an update or cancel of something): the node then checks it only once
     * the group before it is committed. NULL: never. */
    bool (*depends) (const json_t *req);

    /* Clear fields of a body of entry kind `kind` as JSON, for export and log tail — never
     * personal details. NULL when the body does not parse. Caller owns the reference. */
    json_t *(*show) (uint32_t kind, const uint8_t *body, size_t body_len);

    /* The kind's view as JSON for `rcctl KIND list|show` (query: what `cli` parsed; env->seal
     * is NULL); origins shown by region through env->roster (may be NULL). Time-dependent
     * state is computed against now_ms. Caller owns the reference; NULL with `why` on error. */
    json_t *(*list) (const rcn_view_t *v, const rcn_kind_env_t *env, const json_t *query,
                     uint64_t now_ms, char *why, size_t whylen);

    /* Opens what entry e sealed for this member (env->seal), as JSON: the node runs it for
     * rcctl's "open" request (e.g. `case show`). RCN_EPERM-like refusals return NULL with
     * `why` ("not addressed to 320000"). NULL: the kind seals nothing. Caller owns. */
    json_t *(*open) (const rcn_view_t *v, const rcn_kind_env_t *env, const rcn_entry_t *e,
                     char *why, size_t whylen);

    /* What the node authors on its own, looked at after every commit and ingest while it may
     * author (e.g. a `received` ack for each new notice addressed to it, once; its SealKey).
     * Appends author requests {"kind": NAME, "body": {…}} to reqs; each then goes through
     * `author` like an operator's. Must propose nothing the view already shows done. NULL:
     * nothing. */
    int (*auto_author) (const rcn_view_t *v, const rcn_kind_env_t *env, uint64_t now_ms,
                        json_t *reqs, char *why, size_t whylen);

    /* rcctl's side: parses the words after `rcctl -d DIR NAME` into *req, a new object:
     *   {"verb": "send"|…, "op": "author", "body": {…}}  for a verb that writes an entry;
     *   {"verb": "list", "op": "list", "query": {…}}     for one that reads the view;
     *   {"verb": "show", "op": "open", "hash": HEX, "query": {…}}  reads the view (list with
     *        the query) and asks the node to open what is sealed for it;
     *   {"verb": …, "op": "local", …}                    for one `local` does without a node.
     * An "author" request may carry "after": {…}: once the node has answered, rcctl runs
     * `list` with that query plus "hash" (the new entry's) and adds the fields of the object it
     * returns to the answer (e.g. a pass's token); with "qr": FILE too, it writes the
     * answer's "token" as a PNG QR code there (qr.h).
     * input: the JSON object read from stdin when rcctl got --json and stdin is not a
     * terminal (NULL otherwise): a verb may take its fields from it instead of flags.
     * Flags common to every kind (--status, --wait, --json, --timeout) are taken out by
     * rcctl first. RCN_EINVAL with `why` naming the flag. */
    int (*cli) (int argc, char **argv, const json_t *input, uint64_t now_ms, json_t **req,
                char *why, size_t whylen);

    /* Prints a `list` result (or a `show`'s, with "opened" added when the node opened it) for
     * people to stdout. */
    void (*print) (const json_t *list);

    /* rcctl's "local" verbs, which need no running node (e.g. `pass verify TOKEN` at a
     * checkpoint): roster and store may be NULL (no -d DIR, or no log yet). Prints its own
     * answer (JSON when json). Returns rcctl's exit code (0 ok, 1 refused or invalid, 2 usage). */
    int (*local) (const json_t *req, const rcn_roster_t *roster, rcn_store_t *store, bool json);

    /* Verbs that take their fields as one JSON object on stdin when rcctl gets --json (e.g.
     * "notify", "issue", "create"); NULL-terminated, may be NULL. rcctl reads stdin only for
     * these, and only when it is not a terminal. */
    const char *const *json_verbs;

    /* Verbs whose flags may come instead as one flat JSON object on stdin (--json, stdin not
     * a terminal): rcctl turns {"hash": H, "redirect": "330000", "count": 2, "force": true}
     * into `H --redirect 330000 --count 2 --force` before `cli` sees them (keys with "_" become
     * "-"; arrays are joined with commas). NULL-terminated, may be NULL. */
    const char *const *json_flag_verbs;

    const char *usage;                /* its lines of `rcctl help` */
};

/* ---- helpers the kind files share --------------------------------------------------------- */

/* Big-endian n-byte integers in view keys and records (n <= 8). */
static inline void
rcn_be_put (uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static inline uint64_t
rcn_be_get (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* RCN_OK when a body unpacked as m packs back to exactly its bytes and neither m nor any
 * message inside it carries a field this version does not know (a NUL inside a string would
 * otherwise hide bytes nobody validated); RCN_EBODY when not; RCN_ENOMEM (which must abort the
 * batch, not judge the entry) when unsure. */
int rcn_kind_canonical (const ProtobufCMessage *m, const uint8_t *body, size_t len) RCN_MUST;

/* A request's list of region codes (JSON strings "310000") into out[0..*n), at most max: each
 * a GB/T 2260 code; with `roster`, each a member of it; with `unique_sorted`, no code twice,
 * sorted (a canonical body). rj NULL: *n = 0. RCN_EINVAL with `why` ("<what>: regions[2]: …"). */
int rcn_kind_regions (const json_t *rj, const char *what, const rcn_roster_t *roster,
                      bool unique_sorted, uint32_t *out, size_t max, size_t *n,
                      char *why, size_t whylen) RCN_MUST;

/* Region codes as a JSON array of six-digit strings ["310000", …]. Caller owns. */
json_t *rcn_kind_regions_json (const uint32_t *codes, size_t n);

/* Sets "<prefix>region" and "<prefix>region_name" of o for the member with signing key origin
 * (nothing when r is NULL or does not list it). */
void rcn_kind_region_json (json_t *o, const char *prefix, const rcn_roster_t *r,
                           const uint8_t origin[RCN_KEY_SIZE]);

/* A list in the order every member shows alike: newest first by the integer field time_field,
 * the "hash" field breaking ties. Takes items; returns a new array, or NULL (items freed, `why`
 * says "<what>: out of memory"). */
json_t *rcn_kind_newest_first (json_t *items, const char *time_field, const char *what,
                               char *why, size_t whylen);

/* Runs k's `list` with query (borrowed) in a read transaction of store s (the caller's, when
 * called inside one) against now_ms, as rcctl's lists do. Caller owns the result; NULL with
 * `why` (the kind's reason, or the store's) on failure. */
json_t *rcn_kind_list (rcn_store_t *s, const rcn_kind_t *k, const rcn_kind_env_t *env,
                       const json_t *query, uint64_t now_ms, char *why, size_t whylen);

/* The proto's name of entry kind `kind` in lower case without "KIND_" ("case_notice",
 * "round_report"), as export names it; false when the proto has no such value. */
bool rcn_kind_entry_name (uint32_t kind, char *buf, size_t len);

/* Whether k handles entries of rcn.Kind value `kind` (its first, or one in `also`). */
static inline bool
rcn_kind_handles (const rcn_kind_t *k, uint32_t kind)
{
    if (k->kind == kind)
        return true;
    for (size_t i = 0; k->also && k->also[i]; i++)
        if (k->also[i] == kind)
            return true;
    return false;
}

/* The table of every kind built in, NULL-terminated (generated). */
extern const rcn_kind_t *const rcn_kinds[];

/* Lookup in rcn_kinds by entry kind (any value a kind handles) or name; NULL when unknown. */
const rcn_kind_t *rcn_kind_by_id (uint32_t kind);
const rcn_kind_t *rcn_kind_by_name (const char *name);

#endif
