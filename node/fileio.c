/* fileio.c — write a whole buffer, read a whole small file, fsync a directory (fileio.h).
 *
 * The one design decision: nothing here retries what failed or guesses past an error — a
 * write that makes no progress is an error, a file that grows while read is refused, not
 * cut — and errno survives the cleanup (close) so the caller's strerror names the real cause. */
#include "rcn/fileio.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
rcn_write_all (int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = write (fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {                /* no progress on a regular file: do not spin */
            errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t) w;
    }
    return 0;
}

int
rcn_read_file (const char *path, int flags, size_t max, uint8_t **out, size_t *len,
               char *why, size_t whylen)
{
    assert (path && out && len && max < SIZE_MAX / 2);
    *out = NULL;
    *len = 0;
    uint8_t *buf = NULL;
    int rc = RCN_EIO;
    int fd = open (path, O_RDONLY | O_CLOEXEC | (flags & RCN_READ_NOFOLLOW ? O_NOFOLLOW : 0));
    if (fd < 0) {
        if (errno == ENOENT && (flags & RCN_READ_NOTFOUND))
            return RCN_ENOTFOUND;
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        return RCN_EIO;
    }
    struct stat st;
    if (fstat (fd, &st) != 0) {
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        goto fail;
    }
    if (!S_ISREG (st.st_mode)) {
        rcn_errf (why, whylen, "%s: not a regular file", path);
        goto fail;
    }
    if ((uintmax_t) st.st_size > max) {
        rc = RCN_ETOOBIG;
        rcn_errf (why, whylen, "%s: %lld bytes, at most %zu", path, (long long) st.st_size, max);
        goto fail;
    }
    /* Room for one byte more than the file had, so that growth shows, and for the NUL. The
     * buffer grows (up to max + 1 bytes read) only when the file did. */
    size_t cap = (size_t) st.st_size + 1, got = 0;
    if (!(buf = malloc (cap + 1))) {
        rc = RCN_ENOMEM;
        rcn_errf (why, whylen, "%s: out of memory", path);
        goto fail;
    }
    for (;;) {
        if (got == cap) {
            if (cap > max)
                break;                                   /* max + 1 bytes read: too big */
            size_t ncap = cap <= max / 2 ? 2 * cap : max + 1;
            uint8_t *nbuf = realloc (buf, ncap + 1);
            if (!nbuf) {
                rc = RCN_ENOMEM;
                rcn_errf (why, whylen, "%s: out of memory", path);
                goto fail;
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t r = read (fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t) r;
    }
    if (got > max) {
        rc = RCN_ETOOBIG;
        rcn_errf (why, whylen, "%s: grew past %zu bytes while being read", path, max);
        goto fail;
    }
    buf[got] = '\0';
    close (fd);
    *out = buf;
    *len = got;
    return RCN_OK;

fail:
    free (buf);
    close (fd);
    return rc;
}

int
rcn_fsync_dir (const char *dir)
{
    assert (dir);
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    int saved = errno;
    close (fd);
    errno = saved;
    return rc;
}

int
rcn_fsync_parent (const char *path)
{
    assert (path);
    char parent[PATH_MAX];
    int n = snprintf (parent, sizeof parent, "%s", path);
    if (n < 0 || (size_t) n >= sizeof parent) {
        errno = ENAMETOOLONG;
        return -1;
    }
    while (n > 1 && parent[n - 1] == '/')      /* "data/" names data, whose parent is "." */
        parent[--n] = '\0';
    char *slash = strrchr (parent, '/');
    if (!slash)
        snprintf (parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    return rcn_fsync_dir (parent);
}
