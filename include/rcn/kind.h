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

typedef struct rcn_kind {
    uint32_t kind;                    /* enum rcn.Kind value */
    const char *name;                 /* "alert": command word and export name */
    const char *const *dbs;           /* NULL-terminated database names of its view (<= 8) */

    /* Updates the view for verified, stored entry e inside v->txn. Returns RCN_OK; or
     * RCN_EBODY with `why` when the body is malformed or a step its author may not make — it
     * must then have written nothing (validate first, write after); the store records it
     * invalid and goes on. Any other code aborts the whole batch. */
    int (*apply) (const rcn_view_t *v, const rcn_entry_t *e, char *why, size_t whylen);

    /* Author side: builds a body from a JSON request, refusing (RCN_EINVAL, `why` naming the
     * field) anything apply would reject. `origin` is the author's key; v is a read view for
     * checks against the log (e.g. that a referenced alert exists). Caller owns *body (free()). */
    int (*author) (const rcn_view_t *v, const uint8_t origin[RCN_KEY_SIZE], const json_t *req,
                   uint64_t now_ms, uint8_t **body, size_t *body_len, char *why, size_t whylen);

    /* True when checking this request reads state that an earlier request of the same group
     * could change (an update or cancel of something): the node then checks it only once
     * the group before it is committed. NULL: never. */
    bool (*depends) (const json_t *req);

    /* Clear fields of a body as JSON, for export and log tail — never personal details.
     * NULL when the body does not parse. Caller owns the reference. */
    json_t *(*show) (const uint8_t *body, size_t body_len);

    /* The kind's view as JSON for `rcctl KIND list` (query: the options `cli` parsed); origins
     * are shown by region through the roster r (may be NULL: origin hex only). Time-dependent
     * state is computed against now_ms. Caller owns the reference; NULL with `why` on error. */
    json_t *(*list) (const rcn_view_t *v, const rcn_roster_t *r, const json_t *query,
                     uint64_t now_ms, char *why, size_t whylen);

    /* rcctl's side: parses the words after `rcctl -d DIR NAME` into *req, a new object:
     *   {"verb": "send"|…, "op": "author", "body": {…}}  for a verb that writes an entry;
     *   {"verb": "list", "op": "list", "query": {…}}     for one that reads the view.
     * Flags common to every kind (--status, --wait, --json, --timeout) are taken out by
     * rcctl first. RCN_EINVAL with `why` naming the flag. */
    int (*cli) (int argc, char **argv, uint64_t now_ms, json_t **req, char *why, size_t whylen);

    /* Prints a `list` result for people (a table) to stdout. */
    void (*print) (const json_t *list);

    const char *usage;                /* its lines of `rcctl help` */
} rcn_kind_t;

/* The table of every kind built in, NULL-terminated (generated). */
extern const rcn_kind_t *const rcn_kinds[];

/* Lookup in rcn_kinds by number or name; NULL when unknown. */
const rcn_kind_t *rcn_kind_by_id (uint32_t kind);
const rcn_kind_t *rcn_kind_by_name (const char *name);

#endif
