/* audit.h — the local record of every opening of sealed details (DESIGN.md §7: "opening sealed
 * details is logged locally: which operator, what, when"), and why.
 *
 * File DIR/audit.log (DIR the node dir), mode 0600, append-only, one line per opening:
 *
 *   {"seq":1,"time_ms":T,"time":"2026-11-22T01:30:00.000Z","operator":"wang","kind":"case",
 *    "entry":"<64 hex>","region":"310000","reason":"…","prev":"<64 hex>","hash":"<64 hex>"}\n
 *
 * written on one line, the fields in exactly this order, no spaces, strings escaped only where
 * JSON requires it for the characters allowed in them (`"` and `\`: names and reasons hold no
 * control characters). That is what Python's json.dumps(separators=(",", ":"),
 * ensure_ascii=False) writes too. "time" is time_ms formatted; "region" is the region of the
 * entry's origin ("000000" when the roster does not list it). The lines form a hash chain:
 * prev is the hash of the line before (32 zero bytes for seq 1), and
 *     hash = BLAKE2b-256(prev[32] | the line's bytes up to, not including, ",\"hash\":")
 * A reader re-makes every line from its parsed fields and compares bytes, so an edited byte,
 * a removed, inserted or reordered line, and a torn last line (no newline: a crash during an
 * append) are each found and named by line number. Removing the LAST lines whole cannot be
 * seen from the file alone: compare its head (count and hash, as verify-log prints them) with
 * one noted earlier.
 *
 * The record holds hashes, ids, region codes, operator names and the reason text, never
 * personal details. The node appends and fsyncs the record BEFORE it answers with the opened
 * details; an opening that cannot be recorded is refused. */
#ifndef RCN_AUDIT_H
#define RCN_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rcn/err.h"
#include "rcn/roster.h"

#define RCN_AUDIT_FILE "audit.log"
#define RCN_AUDIT_REASON_MAX 200          /* bytes */
#define RCN_AUDIT_KIND_MAX 31
#define RCN_AUDIT_LINE_MAX 4096           /* a longer line is malformed */

typedef struct {
    uint64_t seq;                          /* 1, 2, 3, … without gaps */
    uint64_t time_ms;                      /* the node's clock when it opened */
    char operator_name[RCN_NAME_MAX + 1];
    char kind[RCN_AUDIT_KIND_MAX + 1];     /* the entry's kind ("case", "transfer") */
    uint8_t entry[32];                     /* the opened entry's hash */
    uint32_t region;                       /* its origin's region; 0 when not in the roster */
    char reason[RCN_AUDIT_REASON_MAX + 1];
    uint8_t prev[32];
    uint8_t hash[32];
} rcn_audit_rec_t;

typedef struct rcn_audit rcn_audit_t;

/* Checks a reason: 1..RCN_AUDIT_REASON_MAX bytes of UTF-8 without control characters (no
 * newline either: one record is one line). RCN_EINVAL with `why` naming "reason". */
int rcn_audit_check_reason (const char *reason, char *why, size_t whylen) RCN_MUST;

/* Opens DIR/audit.log for appending, creating it (0600; the file and DIR fsynced, so that its
 * name lasts) when absent. Reads and verifies the whole file first: a file that does not
 * verify is not appended to (the errors of rcn_audit_read, `why` naming the line). Caller
 * owns *out, free with rcn_audit_destroy. One writer per file: the node (one per dir). */
int rcn_audit_open (const char *dir, rcn_audit_t **out, char *why, size_t whylen) RCN_MUST;

/* Closes the file; accepts NULL and an already destroyed handle, nulls *a. */
void rcn_audit_destroy (rcn_audit_t **a);

/* Appends one record: checks operator (rcn_name_check), kind, reason, then writes the line
 * and fsyncs the file. On RCN_OK the record is durable and *out (may be NULL) holds it. On
 * any error nothing was recorded (a partly written line is cut off again; if even that fails
 * the next open reports the torn line): RCN_EINVAL (a field, named), RCN_EIO. */
int rcn_audit_append (rcn_audit_t *a, const char *operator_name, const char *kind,
                      const uint8_t entry[32], uint32_t region, const char *reason,
                      uint64_t time_ms, rcn_audit_rec_t *out, char *why, size_t whylen) RCN_MUST;

/* Called for each sound record; a non-zero return stops the reading and is returned. */
typedef int (*rcn_audit_fn) (const rcn_audit_rec_t *r, void *ctx);

/* Reads DIR/audit.log from the first line, verifying the chain as it goes, and calls fn (may
 * be NULL) for each record whose time_ms >= since_ms. *count (may be NULL) is the number of
 * sound records read, *head (may be NULL) the last one's hash (zeros when none). Errors, with
 * `why` naming the file and the first bad line ("audit.log:7: …"), fn having been called for
 * the records before it: RCN_ENOTFOUND (no file; `why` untouched), RCN_EIO, RCN_ETRUNC (a
 * torn last line), RCN_EINVAL (a line that is not a record in the exact format), RCN_ECHAIN
 * (seq, prev or hash do not follow). *bad_line (may be NULL) is that line's number, else 0. */
int rcn_audit_read (const char *dir, uint64_t since_ms, rcn_audit_fn fn, void *ctx,
                    uint64_t *count, uint8_t head[32], uint64_t *bad_line,
                    char *why, size_t whylen) RCN_MUST;

/* The record as a JSON object with the file's fields. Caller owns the reference. */
json_t *rcn_audit_rec_json (const rcn_audit_rec_t *r);

#endif
