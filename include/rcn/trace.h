/* trace.h — the commit trace: when rcnode runs with RCN_COMMIT_TRACE=FILE, one fixed-size
 * binary record per entry that a synced commit stored, written from the store's commit hook
 * (store.h). It is how the benchmark (bench/repl) measures replication latency: an entry's
 * commit time in its author's trace against its commit times in every peer's trace, all read
 * from CLOCK_REALTIME, which the processes of one machine share.
 *
 * The one decision: the file is written in stdio's buffer and flushed once per commit (one
 * write(2) of a few hundred bytes, a few µs against a commit's milliseconds of fsync), never
 * synced: a trace is a measurement, not state, and a node killed with -9 loses nothing of its
 * log, only its trace's last unflushed commit (none, as each commit's records are flushed).
 *
 * FILE: "%r" anywhere in it stands for the member's six-digit region code, so that one
 * environment serves a whole local cluster (RCN_COMMIT_TRACE=/var/tmp/run/trace-%r.bin). The
 * file is created (0600) or truncated at start; a second process that opens the same file is
 * refused (an exclusive flock), as is a file that cannot be created.
 *
 * Format, every integer little-endian:
 *   header, 64 bytes:
 *      0  magic      8 bytes "RCNTRC1\0"
 *      8  rec_size   u32, 56 (records may grow at the end; readers step by rec_size)
 *     12  region     u32, the writing member's region code
 *     16  origin     32 bytes, the writing member's signing key (its entries' origin)
 *     48  opened_ns  u64, CLOCK_REALTIME ns when the trace was opened
 *     56  reserved   8 zero bytes
 *   then one record per stored entry, rec_size bytes:
 *      0  origin     32 bytes, the entry's origin (== header origin: this member authored it)
 *     32  seq        u64
 *     40  commit_ns  u64, CLOCK_REALTIME ns just after the commit that stored it was synced
 *                    (one reading per commit: the entries of one commit share it)
 *     48  kind       u32, the entry's kind (rcn.Kind)
 *     52  body_len   u32, its body's length in bytes
 * Entries a commit did not store (duplicates, gaps, refusals: results[i] != RCN_OK) are not
 * recorded. Forks and recoveries are recorded like any stored entry. */
#ifndef RCN_TRACE_H
#define RCN_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/entry.h"
#include "rcn/err.h"

#define RCN_TRACE_MAGIC "RCNTRC1"
#define RCN_TRACE_HEADER_SIZE 64
#define RCN_TRACE_RECORD_SIZE 56
#define RCN_TRACE_ENV "RCN_COMMIT_TRACE"

typedef struct rcn_trace rcn_trace_t;

/* Opens the trace at path_template ("%r" replaced by region as six digits), writes its header
 * and flushes it. Caller owns *out (rcn_trace_destroy). *path_out (may be NULL, pathlen bytes)
 * gets the expanded path. Errors, with `why` naming the file: RCN_EINVAL (empty path, or the
 * expansion is too long), RCN_EIO (cannot create or write it), RCN_EBUSY (another process
 * writes it), RCN_ENOMEM. */
int rcn_trace_open (const char *path_template, uint32_t region, const uint8_t origin[RCN_KEY_SIZE],
                    rcn_trace_t **out, char *path_out, size_t pathlen, char *why,
                    size_t whylen) RCN_MUST;

/* The store's commit hook (rcn_commit_hook_fn; ctx is the trace): records every entry with
 * results[i] == RCN_OK, with one CLOCK_REALTIME reading, and flushes. A write error is logged
 * once and stops the trace (the node goes on: a trace never stops a member). */
void rcn_trace_hook (void *ctx, rcn_entry_t *const *entries, const int *results, size_t n);

/* How many records have been written so far. */
uint64_t rcn_trace_records (const rcn_trace_t *t);

/* Flushes and closes the trace (logging an error if its data could not all be written) and
 * nulls *self_p. Accepts NULL and a NULL *self_p. */
void rcn_trace_destroy (rcn_trace_t **self_p);

#endif
