/* hwm.h — the own-seq high-water mark (DESIGN.md §5, invariant 6): the last seq this member
 * signed, kept beside its keys, outside LMDB, so that a data dir restored from a backup or
 * wiped cannot make the member sign a seq twice.
 *
 * File KEYDIR/hwm, text: "rcn-hwm 1 <origin hex> <seq>\n". Raised by writing a temporary file,
 * fsync, rename over, fsync of the directory: after rcn_hwm_raise returns, a power loss keeps
 * the new value. The node raises it BEFORE signing a group of entries. */
#ifndef RCN_HWM_H
#define RCN_HWM_H

#include <stdint.h>
#include <stddef.h>

#include "rcn/entry.h"
#include "rcn/err.h"

/* Reads the mark; *seq = 0 when the file does not exist yet. RCN_EINVAL when it is malformed
 * or names another origin (a key dir mixed up with another member's). */
int rcn_hwm_read (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], uint64_t *seq,
                  char *why, size_t whylen) RCN_MUST;

/* Durably sets the mark to seq; refuses to lower it (RCN_EINVAL). */
int rcn_hwm_raise (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
                   char *why, size_t whylen) RCN_MUST;

#endif
