/* hwm.c — the own-seq high-water mark (DESIGN.md §5, invariant 6): two numbers, signed_seq
 * and committed_seq (hwm.h says what each promises).
 *
 * The one design decision: the mark is replaced, never edited in place — write hwm.tmp, fsync
 * it, rename it over hwm, fsync the directory — so that at every instant, power loss included,
 * the file holds either the old mark or the new one, never a torn mix that could read lower.
 * Reading is strict: a mark we cannot parse, one of another format version, or one written for
 * another origin stops the node rather than being taken as "no mark" (which would allow
 * signing a seq twice). Writing reads the stored mark first and refuses to lower its
 * committed_seq: a caller's bug must not be able to forget what may have been published. */
#include "rcn/hwm.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcn/codec.h"
#include "rcn/fileio.h"

#define HWM_FILE "hwm"
#define HWM_TMP "hwm.tmp"
#define HWM_MAGIC "rcn-hwm 2 "
#define HWM_MAGIC_V1 "rcn-hwm 1 "
#define HWM_MAX 160    /* magic + 64 hex + 2 x (space + 20 digits) + newline, with room */
#define HEX_LEN (2 * RCN_KEY_SIZE)

/* One decimal seq at *s (*len bytes left): digits only, no leading zero, no overflow. Advances
 * past it. `name` is the field's name for the message. */
static int
parse_seq (const char **s, size_t *len, const char *name, uint64_t *out, const char *path,
           char *why, size_t whylen)
{
    const char *p = *s;
    size_t nd = 0;
    uint64_t v = 0;
    while (nd < *len && p[nd] >= '0' && p[nd] <= '9') {
        unsigned d = (unsigned) (p[nd] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            rcn_errf (why, whylen, "%s: malformed: %s overflows 64 bits", path, name);
            return RCN_EINVAL;
        }
        v = v * 10 + d;
        nd++;
    }
    if (nd == 0 || (nd > 1 && p[0] == '0')) {
        rcn_errf (why, whylen, "%s: malformed: %s is not a decimal number without leading "
                  "zeros", path, name);
        return RCN_EINVAL;
    }
    *out = v;
    *s += nd;
    *len -= nd;
    return RCN_OK;
}

/* Parses "rcn-hwm 2 <64 lowercase hex> <signed> <committed>\n" exactly: one space between
 * fields, the newline last, nothing after it (a torn or appended-to file is not a mark). */
static int
hwm_parse (const char *s, size_t len, const char *want_hex, rcn_hwm_t *m, const char *path,
           char *why, size_t whylen)
{
    size_t ml = strlen (HWM_MAGIC);
    if (len >= ml && memcmp (s, HWM_MAGIC_V1, ml) == 0) {
        rcn_errf (why, whylen, "%s: format 1 (one seq, written by an older rcn), which this "
                  "version does not read: its number is the highest seq signed; to keep its "
                  "meaning, rewrite the line as \"rcn-hwm 2 <origin> N N\"", path);
        return RCN_EINVAL;
    }
    if (len < ml || memcmp (s, HWM_MAGIC, ml) != 0) {
        rcn_errf (why, whylen, "%s: malformed: does not start with \"%s\"", path, HWM_MAGIC);
        return RCN_EINVAL;
    }
    s += ml;
    len -= ml;
    if (len < HEX_LEN + 1 || s[HEX_LEN] != ' ') {
        rcn_errf (why, whylen, "%s: malformed: origin is not 64 hex digits", path);
        return RCN_EINVAL;
    }
    for (size_t i = 0; i < HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            rcn_errf (why, whylen, "%s: malformed: origin is not 64 lowercase hex digits",
                      path);
            return RCN_EINVAL;
        }
    if (memcmp (s, want_hex, HEX_LEN) != 0) {
        rcn_errf (why, whylen, "%s: the mark belongs to origin %.16s..., not to this member "
                  "(%.16s...): is this another member's key dir?", path, s, want_hex);
        return RCN_EINVAL;
    }
    s += HEX_LEN + 1;
    len -= HEX_LEN + 1;
    rcn_hwm_t v;
    int rc = parse_seq (&s, &len, "signed_seq", &v.signed_seq, path, why, whylen);
    if (rc != RCN_OK)
        return rc;
    if (len < 1 || s[0] != ' ') {
        rcn_errf (why, whylen, "%s: malformed: expected one space and committed_seq after "
                  "signed_seq", path);
        return RCN_EINVAL;
    }
    s++;
    len--;
    if ((rc = parse_seq (&s, &len, "committed_seq", &v.committed_seq, path, why, whylen))
        != RCN_OK)
        return rc;
    if (len != 1 || s[0] != '\n') {
        rcn_errf (why, whylen, "%s: malformed: expected a newline right after committed_seq "
                  "and nothing more", path);
        return RCN_EINVAL;
    }
    if (v.committed_seq > v.signed_seq) {
        rcn_errf (why, whylen, "%s: committed_seq %" PRIu64 " is above signed_seq %" PRIu64
                  ": a seq cannot be committed before it is signed", path, v.committed_seq,
                  v.signed_seq);
        return RCN_EINVAL;
    }
    *m = v;
    return RCN_OK;
}

static int
hwm_path (const char *keydir, const char *name, char *buf, size_t len, char *why,
          size_t whylen)
{
    int n = snprintf (buf, len, "%s/%s", keydir, name);
    if (n < 0 || (size_t) n >= len) {
        rcn_errf (why, whylen, "%.200s...: key dir path too long", keydir);
        return RCN_EINVAL;
    }
    return RCN_OK;
}

/* Reads the mark; *exists tells an absent file from a stored {0, 0}. *m is {0, 0} unless
 * the file parsed whole. */
static int
hwm_load (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], rcn_hwm_t *m, bool *exists,
          char *why, size_t whylen)
{
    char path[4096];
    *m = (rcn_hwm_t) { 0, 0 };
    *exists = false;
    int rc = hwm_path (keydir, HWM_FILE, path, sizeof path, why, whylen);
    if (rc != RCN_OK)
        return rc;
    uint8_t *buf;
    size_t len;
    rc = rcn_read_file (path, RCN_READ_NOFOLLOW | RCN_READ_NOTFOUND, HWM_MAX, &buf, &len,
                        why, whylen);
    if (rc == RCN_ENOTFOUND)
        return RCN_OK;
    if (rc == RCN_ETOOBIG) {
        rcn_errf (why, whylen, "%s: malformed: longer than %d bytes", path, HWM_MAX);
        return RCN_EINVAL;
    }
    if (rc != RCN_OK)
        return rc;
    char want[HEX_LEN + 1];
    rcn_hex (origin, RCN_KEY_SIZE, want);
    rc = hwm_parse ((const char *) buf, len, want, m, path, why, whylen);
    if (rc == RCN_OK)
        *exists = true;
    free (buf);
    return rc;
}

/* The stored mark already holds the value asked for: rather than replace it, make sure it is
 * durable — a process killed between its rename and the directory's fsync left it written
 * but perhaps not on disk, and rcn_hwm_write promises that a power loss keeps the value. */
static int
hwm_sync (const char *keydir, const char *path, char *why, size_t whylen)
{
    int rc = RCN_EIO;
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fsync (fd) != 0) {
        rcn_errf (why, whylen, "%s: fsync: %s", path, strerror (errno));
        goto fail;
    }
    if (rcn_fsync_dir (keydir) != 0) {
        rcn_errf (why, whylen, "%s: fsync of the directory: %s", keydir, strerror (errno));
        goto fail;
    }
    rc = RCN_OK;
fail:
    if (fd >= 0)
        close (fd);
    return rc;
}

int
rcn_hwm_read (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], rcn_hwm_t *out,
              char *why, size_t whylen)
{
    assert (keydir && origin && out);
    bool exists;
    return hwm_load (keydir, origin, out, &exists, why, whylen);    /* {0, 0} on error too */
}

int
rcn_hwm_write (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], const rcn_hwm_t *m,
               char *why, size_t whylen)
{
    assert (keydir && origin && m);
    char path[4096], tmp[4096];
    int rc = hwm_path (keydir, HWM_FILE, path, sizeof path, why, whylen);
    if (rc == RCN_OK)
        rc = hwm_path (keydir, HWM_TMP, tmp, sizeof tmp, why, whylen);
    if (rc != RCN_OK)
        return rc;
    if (m->committed_seq > m->signed_seq) {
        rcn_errf (why, whylen, "%s: refusing committed_seq %" PRIu64 " above signed_seq %"
                  PRIu64, path, m->committed_seq, m->signed_seq);
        return RCN_EINVAL;
    }
    rcn_hwm_t cur;
    bool exists;
    if ((rc = hwm_load (keydir, origin, &cur, &exists, why, whylen)) != RCN_OK)
        return rc;
    /* With committed <= signed above, this also keeps signed_seq at or above the stored
     * committed_seq: seqs that may have been published stay covered. */
    if (m->committed_seq < cur.committed_seq) {
        rcn_errf (why, whylen, "%s: refusing to lower committed_seq from %" PRIu64 " to %"
                  PRIu64 " (signed_seq %" PRIu64 "): seqs up to %" PRIu64 " may have been "
                  "published", path, cur.committed_seq, m->committed_seq, m->signed_seq,
                  cur.committed_seq);
        return RCN_EINVAL;
    }
    if (exists && cur.signed_seq == m->signed_seq && cur.committed_seq == m->committed_seq)
        return hwm_sync (keydir, path, why, whylen);

    char line[HWM_MAX + 1], hex[HEX_LEN + 1];
    int n = snprintf (line, sizeof line, "%s%s %" PRIu64 " %" PRIu64 "\n", HWM_MAGIC,
                      rcn_hex (origin, RCN_KEY_SIZE, hex), m->signed_seq, m->committed_seq);
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
        rcn_errf (why, whylen, "%s: %s", tmp, strerror (errno));
        goto fail;
    }
    made_tmp = true;
    /* A stale hwm.tmp keeps its old mode through O_TRUNC, and a umask can only narrow ours. */
    if (fchmod (fd, 0600) != 0 || rcn_write_all (fd, line, (size_t) n) != 0 || fsync (fd) != 0) {
        rcn_errf (why, whylen, "%s: %s", tmp, strerror (errno));
        goto fail;
    }
    int c = close (fd);
    fd = -1;
    if (c != 0) {
        rcn_errf (why, whylen, "%s: close: %s", tmp, strerror (errno));
        goto fail;
    }
    if (renameat (dirfd, HWM_TMP, dirfd, HWM_FILE) != 0) {
        rcn_errf (why, whylen, "%s: rename from %s: %s", path, HWM_TMP, strerror (errno));
        goto fail;
    }
    made_tmp = false;
    if (fsync (dirfd) != 0) {
        rcn_errf (why, whylen, "%s: fsync of the directory: %s", keydir, strerror (errno));
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
