/* hwm.c — the own-seq high-water mark (DESIGN.md §5, invariant 6).
 *
 * The one design decision: the mark is replaced, never edited in place — write hwm.tmp, fsync
 * it, rename it over hwm, fsync the directory — so that at every instant, power loss included,
 * the file holds either the old mark or the new one, never a torn mix that could read lower.
 * Reading is strict: a mark we cannot parse, or one written for another origin, stops the
 * node rather than being taken as "no mark" (which would allow signing a seq twice). */
#include "rcn/hwm.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rcn/codec.h"

#define HWM_FILE "hwm"
#define HWM_TMP "hwm.tmp"
#define HWM_MAGIC "rcn-hwm 1 "
#define HWM_MAX 128           /* magic + 64 hex + space + 20 digits + newline, with room */

static int
write_all (int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write (fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t) w;
    }
    return 0;
}

/* Parses "rcn-hwm 1 <64 hex> <seq>\n" exactly: no leading zeros, no trailing bytes. */
static int
hwm_parse (const char *s, size_t len, const char *want_hex, uint64_t *seq, const char *path,
           char *why, size_t whylen)
{
    size_t m = strlen (HWM_MAGIC);
    if (len < m || memcmp (s, HWM_MAGIC, m) != 0) {
        rcn_errf (why, whylen, "%s: malformed: does not start with \"%s\"", path, HWM_MAGIC);
        return RCN_EINVAL;
    }
    s += m;
    len -= m;
    size_t hexlen = 2 * RCN_KEY_SIZE;
    if (len < hexlen + 1 || s[hexlen] != ' ') {
        rcn_errf (why, whylen, "%s: malformed: origin is not 64 hex digits", path);
        return RCN_EINVAL;
    }
    for (size_t i = 0; i < hexlen; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            rcn_errf (why, whylen, "%s: malformed: origin is not 64 hex digits", path);
            return RCN_EINVAL;
        }
    if (memcmp (s, want_hex, hexlen) != 0) {
        rcn_errf (why, whylen, "%s: the mark belongs to origin %.16s..., not to this member "
                  "(%.16s...): is this another member's key dir?", path, s, want_hex);
        return RCN_EINVAL;
    }
    s += hexlen + 1;
    len -= hexlen + 1;
    size_t nd = 0;
    uint64_t v = 0;
    while (nd < len && s[nd] >= '0' && s[nd] <= '9') {
        unsigned d = (unsigned) (s[nd] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            rcn_errf (why, whylen, "%s: malformed: seq overflows", path);
            return RCN_EINVAL;
        }
        v = v * 10 + d;
        nd++;
    }
    if (nd == 0 || (nd > 1 && s[0] == '0') || nd + 1 != len || s[nd] != '\n') {
        rcn_errf (why, whylen, "%s: malformed: expected a decimal seq and a newline at the end",
                  path);
        return RCN_EINVAL;
    }
    *seq = v;
    return RCN_OK;
}

/* Reads the mark; *exists tells an absent file from a mark of 0. */
static int
hwm_load (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], uint64_t *seq, bool *exists,
          char *why, size_t whylen)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", keydir, HWM_FILE);
    *seq = 0;
    *exists = false;
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return RCN_OK;
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        return RCN_EIO;
    }
    char buf[HWM_MAX + 1];
    size_t len = 0;
    int rc = RCN_OK;
    while (len < sizeof buf) {
        ssize_t r = read (fd, buf + len, sizeof buf - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
            rc = RCN_EIO;
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t) r;
    }
    if (len > HWM_MAX) {
        rcn_errf (why, whylen, "%s: malformed: longer than %d bytes", path, HWM_MAX);
        rc = RCN_EINVAL;
        goto fail;
    }
    char want[2 * RCN_KEY_SIZE + 1];
    rcn_hex (origin, RCN_KEY_SIZE, want);
    rc = hwm_parse (buf, len, want, seq, path, why, whylen);
    if (rc == RCN_OK)
        *exists = true;
fail:
    close (fd);
    return rc;
}

int
rcn_hwm_read (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], uint64_t *seq,
              char *why, size_t whylen)
{
    assert (keydir && origin && seq);
    bool exists;
    return hwm_load (keydir, origin, seq, &exists, why, whylen);
}

int
rcn_hwm_raise (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq,
               char *why, size_t whylen)
{
    assert (keydir && origin);
    uint64_t cur;
    bool exists;
    int rc = hwm_load (keydir, origin, &cur, &exists, why, whylen);
    if (rc != RCN_OK)
        return rc;
    if (seq < cur) {
        rcn_errf (why, whylen, "%s/%s: refusing to lower the high-water mark from %" PRIu64
                  " to %" PRIu64, keydir, HWM_FILE, cur, seq);
        return RCN_EINVAL;
    }
    if (exists && seq == cur)
        return RCN_OK;

    char line[HWM_MAX + 1], hex[2 * RCN_KEY_SIZE + 1];
    int n = snprintf (line, sizeof line, "%s%s %" PRIu64 "\n", HWM_MAGIC,
                      rcn_hex (origin, RCN_KEY_SIZE, hex), seq);
    assert (n > 0 && (size_t) n < sizeof line);

    rc = RCN_EIO;
    bool made_tmp = false;
    int fd = -1;
    int dirfd = open (keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        rcn_errf (why, whylen, "%s: %s", keydir, strerror (errno));
        goto fail;
    }
    fd = openat (dirfd, HWM_TMP, O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rcn_errf (why, whylen, "%s/%s: %s", keydir, HWM_TMP, strerror (errno));
        goto fail;
    }
    made_tmp = true;
    if (write_all (fd, line, (size_t) n) != 0 || fsync (fd) != 0) {
        rcn_errf (why, whylen, "%s/%s: %s", keydir, HWM_TMP, strerror (errno));
        goto fail;
    }
    int c = close (fd);
    fd = -1;
    if (c != 0) {
        rcn_errf (why, whylen, "%s/%s: %s", keydir, HWM_TMP, strerror (errno));
        goto fail;
    }
    if (renameat (dirfd, HWM_TMP, dirfd, HWM_FILE) != 0) {
        rcn_errf (why, whylen, "%s/%s: rename: %s", keydir, HWM_FILE, strerror (errno));
        goto fail;
    }
    made_tmp = false;
    if (fsync (dirfd) != 0) {
        rcn_errf (why, whylen, "%s: fsync: %s", keydir, strerror (errno));
        goto fail;
    }
    rc = RCN_OK;

fail:
    if (fd >= 0)
        close (fd);
    if (made_tmp)
        (void) unlinkat (dirfd, HWM_TMP, 0);
    if (dirfd >= 0)
        close (dirfd);
    return rc;
}
