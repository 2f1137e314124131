/* hwm.h — the own-seq high-water mark (DESIGN.md §5, invariant 6), kept beside the member's
 * keys, outside LMDB, so that a data dir restored from a backup or wiped cannot make the
 * member sign a seq twice.
 *
 * The mark has two halves, because "signed" and "may have left this process" differ:
 *   signed_seq     at least the highest own seq ever signed; raised BEFORE a group is signed
 *                  (the node raises it a stretch beyond the group, RCN_NODE_SIGN_AHEAD in
 *                  node.c, so that one write serves many groups, and gives back what it did
 *                  not use at a clean stop);
 *   committed_seq  the highest own seq known committed; raised after the group's commit and
 *                  BEFORE anyone (rcctl, a peer) hears of it.
 * Seqs above committed_seq were never published or acknowledged: after a crash between the
 * two raises they can be signed again without any fork being observable. Seqs at or below
 * committed_seq that the log lacks (a restored backup, a wiped data dir) block authoring until
 * they are taken back from peers.
 *
 * File KEYDIR/hwm, format 3: 1024 bytes, two slots of 512, each a whole copy of the mark:
 *   0  "rcn-hwm3" (8 bytes)      8  version u32 = 3          12  the slot's index u32 (0, 1)
 *   16 origin (32 bytes)        48  signed_seq u64          56  committed_seq u64
 *   64 generation u64           72..479  zero               480  BLAKE2b-256 (crypto_generichash,
 *                                                                unkeyed) of bytes 0..479
 * integers little-endian. The mark is the valid slot of the highest generation; a slot whose
 * magic or checksum fails (a torn write) is passed over while the other is valid. A write
 * puts generation + 1 into the other slot with pwrite + fdatasync on a descriptor kept open
 * between writes (one per key dir, process-wide): after rcn_hwm_write returns, a power loss
 * keeps the new value, and a torn write leaves the previous one readable. The file is created,
 * and a format 2 mark converted, by writing KEYDIR/hwm.tmp, fsync, rename over, fsync of the
 * directory. Format 2 — one line "rcn-hwm 2 <origin hex> <signed_seq> <committed_seq>\n" —
 * is still read, and replaced by format 3 on the first write. */
#ifndef RCN_HWM_H
#define RCN_HWM_H

#include <stdint.h>
#include <stddef.h>

#include "rcn/entry.h"
#include "rcn/err.h"

typedef struct {
    uint64_t signed_seq;
    uint64_t committed_seq;          /* <= signed_seq */
} rcn_hwm_t;

/* Reads the mark; {0, 0} when the file does not exist yet. RCN_EINVAL with `why` when it is
 * malformed, has committed > signed, or names another origin (another member's key dir). */
int rcn_hwm_read (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], rcn_hwm_t *out,
                  char *why, size_t whylen) RCN_MUST;

/* Durably replaces the mark with *m (thread-safe; keeps KEYDIR/hwm open between calls).
 * Refuses (RCN_EINVAL) committed > signed and any value
 * that would lower the stored committed_seq; signed_seq may be lowered, never below the
 * stored committed_seq (the node does that at start for seqs signed but never committed). */
int rcn_hwm_write (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], const rcn_hwm_t *m,
                   char *why, size_t whylen) RCN_MUST;

#endif
