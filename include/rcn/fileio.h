/* fileio.h — the few file operations several modules need: write a whole buffer, read a whole
 * small file, fsync a directory so that the names in it last.
 *
 * The one design decision: these keep each caller's error convention. rcn_write_all and the
 * fsync calls return 0 or -1 with errno set, because every caller already puts strerror
 * (errno) into its own message naming its own file; rcn_read_file, which judges a file the
 * caller names, returns an RCN_E… code and fills `why` with the path and the reason. */
#ifndef RCN_FILEIO_H
#define RCN_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/err.h"

/* Writes all `len` bytes of buf to fd, going on after short writes and EINTR. A write that
 * makes no progress fails with errno EIO rather than spinning. 0, or -1 with errno set. */
int rcn_write_all (int fd, const void *buf, size_t len) RCN_MUST;

/* Flags for rcn_read_file. */
enum {
    RCN_READ_NOFOLLOW = 1 << 0,   /* refuse a symbolic link at `path` itself (O_NOFOLLOW) */
    RCN_READ_NOTFOUND = 1 << 1,   /* a path that does not exist is RCN_ENOTFOUND, `why`
                                     untouched, instead of RCN_EIO */
};

/* Reads the whole regular file at `path` (at most `max` bytes, max < SIZE_MAX / 2). Caller owns
 * *out (free()); it is NUL-terminated for convenience, the NUL not counted in *len. *out is
 * NULL and *len 0 on any error. Errors, with `why` naming the path: RCN_EIO (cannot open or
 * read, or not a regular file), RCN_ETOOBIG (more than `max` bytes, also when the file grows
 * past it while being read), RCN_ENOMEM; RCN_ENOTFOUND only with RCN_READ_NOTFOUND. */
int rcn_read_file (const char *path, int flags, size_t max, uint8_t **out, size_t *len,
                   char *why, size_t whylen) RCN_MUST;

/* fsyncs directory `dir`, so that names created, renamed or removed in it survive a power
 * loss. 0, or -1 with errno set. */
int rcn_fsync_dir (const char *dir) RCN_MUST;

/* fsyncs the directory holding `path` (its text up to the last '/'; "/" for "/name"; "." for
 * a name without a slash), so that `path`'s own name survives a power loss. 0, or -1 with
 * errno set. */
int rcn_fsync_parent (const char *path) RCN_MUST;

#endif
