/* hwm.c — the own-seq high-water mark (DESIGN.md §5, invariant 6): two numbers, signed_seq
 * and committed_seq (hwm.h says what each promises).
 *
 * The one design decision: two slots, written in turn. The file (format 3, hwm.h) holds two
 * 512-byte slots, each a whole copy of the mark with a generation and a BLAKE2b checksum. A
 * write goes to the slot that does NOT hold the newest valid copy, with pwrite and fdatasync
 * on a descriptor kept open between writes: at every instant, power loss and a torn write
 * included, the other slot still holds the previous mark, and a read takes the valid slot of
 * the highest generation — never a torn mix that could read lower. Steady-state writes thus
 * cost one fdatasync of an already allocated block, no rename and no directory fsync (those
 * force an ext4 journal commit, several ms under load, and this write sits on the replication
 * path: node.c raises committed_seq after every group commit). Creating the file, or
 * converting a format 2 text mark, still goes the old way, once: write hwm.tmp with both slots,
 * fsync it, rename it over hwm, fsync the directory.
 * Reading is strict: a mark we cannot parse, one of another format version, or one written for
 * another origin stops the node rather than being taken as "no mark" (which would allow
 * signing a seq twice); only a slot whose checksum fails (a torn write) is passed over, and
 * only while the other slot is valid. Writing re-reads the stored mark first (a pread through
 * the kept descriptor, after checking the name still leads to it) and refuses to lower its
 * committed_seq: a caller's bug must not be able to forget what may have been published. */
#include "rcn/hwm.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <pthread.h>
#include <sodium.h>
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

/* Format 3: two slots of SLOT_SIZE bytes, little-endian fields at these offsets. */
#define SLOT_SIZE 512
#define FILE_SIZE (2 * SLOT_SIZE)
#define SLOT_MAGIC "rcn-hwm3"        /* 8 bytes, no NUL */
#define SLOT_VERSION 3
#define OFF_VERSION 8                /* u32 */
#define OFF_INDEX 12                 /* u32: the slot's own index, 0 or 1 */
#define OFF_ORIGIN 16                /* 32 bytes */
#define OFF_SIGNED 48                /* u64 */
#define OFF_COMMITTED 56             /* u64 */
#define OFF_GEN 64                   /* u64 */
#define OFF_SUM (SLOT_SIZE - 32)     /* BLAKE2b-256 of bytes 0..OFF_SUM-1; bytes 72.. are 0 */
#define CACHE_SLOTS 4

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

/* Fills slot `index` (SLOT_SIZE bytes at out) with the mark and its generation. */
static void
slot_encode (uint8_t *out, int index, const uint8_t origin[RCN_KEY_SIZE], const rcn_hwm_t *m,
             uint64_t gen)
{
    memset (out, 0, SLOT_SIZE);
    memcpy (out, SLOT_MAGIC, 8);
    rcn_le32_put (out + OFF_VERSION, SLOT_VERSION);
    rcn_le32_put (out + OFF_INDEX, (uint32_t) index);
    memcpy (out + OFF_ORIGIN, origin, RCN_KEY_SIZE);
    rcn_le64_put (out + OFF_SIGNED, m->signed_seq);
    rcn_le64_put (out + OFF_COMMITTED, m->committed_seq);
    rcn_le64_put (out + OFF_GEN, gen);
    crypto_generichash (out + OFF_SUM, 32, out, OFF_SUM, NULL, 0);
}

/* The stored format 3 mark: the newest valid slot's copy. */
typedef struct {
    rcn_hwm_t m;
    uint64_t gen;
    int slot;                        /* which slot holds it; the next write goes to the other */
} hwm_v3_t;

/* Parses the FILE_SIZE bytes of a format 3 file. A slot whose checksum fails was torn by a
 * write cut short and is passed over; one whose checksum holds was written whole by us, so
 * anything wrong in it (version, index, padding, origin, committed > signed) is refused. */
static int
parse_v3 (const uint8_t *buf, const char *want_hex, const uint8_t origin[RCN_KEY_SIZE],
          hwm_v3_t *out, const char *path, char *why, size_t whylen)
{
    bool valid[2] = { false, false };
    hwm_v3_t v[2];
    for (int i = 0; i < 2; i++) {
        const uint8_t *s = buf + (size_t) i * SLOT_SIZE;
        uint8_t sum[32];
        crypto_generichash (sum, 32, s, OFF_SUM, NULL, 0);
        if (memcmp (s, SLOT_MAGIC, 8) != 0 || sodium_memcmp (sum, s + OFF_SUM, 32) != 0)
            continue;
        uint32_t version = rcn_le32_get (s + OFF_VERSION), index = rcn_le32_get (s + OFF_INDEX);
        if (version != SLOT_VERSION) {
            rcn_errf (why, whylen, "%s: slot %d is format %" PRIu32 ", which this version "
                      "does not read", path, i, version);
            return RCN_EINVAL;
        }
        bool pad = true;
        for (size_t k = OFF_GEN + 8; k < OFF_SUM; k++)
            pad = pad && s[k] == 0;
        if (index != (uint32_t) i || !pad) {
            rcn_errf (why, whylen, "%s: malformed: slot %d %s", path, i, index != (uint32_t) i
                      ? "says it is another slot (a copied or shifted file?)"
                      : "has non-zero padding");
            return RCN_EINVAL;
        }
        if (memcmp (s + OFF_ORIGIN, origin, RCN_KEY_SIZE) != 0) {
            char got[HEX_LEN + 1];
            rcn_hex (s + OFF_ORIGIN, RCN_KEY_SIZE, got);
            rcn_errf (why, whylen, "%s: the mark belongs to origin %.16s..., not to this member "
                      "(%.16s...): is this another member's key dir?", path, got, want_hex);
            return RCN_EINVAL;
        }
        v[i].m.signed_seq = rcn_le64_get (s + OFF_SIGNED);
        v[i].m.committed_seq = rcn_le64_get (s + OFF_COMMITTED);
        v[i].gen = rcn_le64_get (s + OFF_GEN);
        v[i].slot = i;
        if (v[i].m.committed_seq > v[i].m.signed_seq) {
            rcn_errf (why, whylen, "%s: slot %d: committed_seq %" PRIu64 " is above signed_seq %"
                      PRIu64 ": a seq cannot be committed before it is signed", path, i,
                      v[i].m.committed_seq, v[i].m.signed_seq);
            return RCN_EINVAL;
        }
        valid[i] = true;
    }
    if (!valid[0] && !valid[1]) {
        rcn_errf (why, whylen, "%s: malformed: neither of its two slots holds a valid mark "
                  "(bad magic or checksum in both): the file is damaged, not torn by one write, "
                  "and the highest seq this member signed is unknown", path);
        return RCN_EINVAL;
    }
    if (valid[0] && valid[1] && v[0].gen == v[1].gen
        && (v[0].m.signed_seq != v[1].m.signed_seq
            || v[0].m.committed_seq != v[1].m.committed_seq)) {
        rcn_errf (why, whylen, "%s: malformed: both slots are generation %" PRIu64 " but hold "
                  "different marks", path, v[0].gen);
        return RCN_EINVAL;
    }
    int best = !valid[0] ? 1 : !valid[1] ? 0 : v[1].gen > v[0].gen ? 1 : 0;
    *out = v[best];
    return RCN_OK;
}

/* Reads the mark by name; *format is 0 (no file: *m {0, 0}), 2 or 3. *m is {0, 0} unless the
 * file parsed whole. */
static int
hwm_load (const char *path, const uint8_t origin[RCN_KEY_SIZE], hwm_v3_t *v, int *format,
          char *why, size_t whylen)
{
    *v = (hwm_v3_t) { { 0, 0 }, 0, 0 };
    *format = 0;
    uint8_t *buf;
    size_t len;
    int rc = rcn_read_file (path, RCN_READ_NOFOLLOW | RCN_READ_NOTFOUND, FILE_SIZE, &buf, &len,
                            why, whylen);
    if (rc == RCN_ENOTFOUND)
        return RCN_OK;
    if (rc == RCN_ETOOBIG) {
        rcn_errf (why, whylen, "%s: malformed: longer than %d bytes", path, FILE_SIZE);
        return RCN_EINVAL;
    }
    if (rc != RCN_OK)
        return rc;
    char want[HEX_LEN + 1];
    rcn_hex (origin, RCN_KEY_SIZE, want);
    if (len == FILE_SIZE) {
        hwm_v3_t got;
        if ((rc = parse_v3 (buf, want, origin, &got, path, why, whylen)) == RCN_OK) {
            *v = got;
            *format = 3;
        }
    } else if (len > HWM_MAX) {
        rcn_errf (why, whylen, "%s: malformed: %zu bytes, longer than %d bytes (a format 2 "
                  "line) and not a format 3 mark (%d bytes)", path, len, HWM_MAX, FILE_SIZE);
        rc = RCN_EINVAL;
    } else {
        rcn_hwm_t m;
        if ((rc = hwm_parse ((const char *) buf, len, want, &m, path, why, whylen)) == RCN_OK) {
            v->m = m;
            *format = 2;
        }
    }
    free (buf);
    return rc;
}

int
rcn_hwm_read (const char *keydir, const uint8_t origin[RCN_KEY_SIZE], rcn_hwm_t *out,
              char *why, size_t whylen)
{
    assert (keydir && origin && out);
    char path[4096];
    int rc = hwm_path (keydir, HWM_FILE, path, sizeof path, why, whylen);
    hwm_v3_t v = { { 0, 0 }, 0, 0 };
    int format;
    if (rc == RCN_OK)
        rc = hwm_load (path, origin, &v, &format, why, whylen);
    *out = v.m;                      /* {0, 0} on error too */
    return rc;
}

/* ---- the kept descriptors ------------------------------------------------------------- */

/* One open format 3 mark per key dir, kept between writes. The API stays stateless: a write
 * checks that the name still leads to the kept file (lstat: same device and inode) and
 * re-reads both slots through it, so a file replaced or edited behind our back is seen. */
typedef struct {
    char path[4096];                 /* KEYDIR/hwm; "" when the entry is free */
    int fd;
    dev_t dev;
    ino_t ino;
} hwm_open_t;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static hwm_open_t cache[CACHE_SLOTS];
static unsigned cache_next;          /* the entry to reuse when all are taken */

static void
cache_drop (hwm_open_t *e)
{
    if (e->path[0] != '\0')
        close (e->fd);
    e->path[0] = '\0';
    e->fd = -1;
}

/* The entry for path with its descriptor still valid for that name, or NULL. */
static hwm_open_t *
cache_find (const char *path)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        hwm_open_t *e = &cache[i];
        if (e->path[0] == '\0' || strcmp (e->path, path) != 0)
            continue;
        struct stat st;
        if (lstat (path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_dev != e->dev
            || st.st_ino != e->ino) {
            cache_drop (e);
            return NULL;
        }
        return e;
    }
    return NULL;
}

static hwm_open_t *
cache_put (const char *path, int fd, const struct stat *st)
{
    hwm_open_t *e = NULL;
    for (int i = 0; i < CACHE_SLOTS && !e; i++)
        if (cache[i].path[0] == '\0')
            e = &cache[i];
    if (!e) {
        e = &cache[cache_next++ % CACHE_SLOTS];
        cache_drop (e);
    }
    snprintf (e->path, sizeof e->path, "%s", path);
    e->fd = fd;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    return e;
}

static int
pread_all (int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    for (int tries = 0; got < len && tries < 1000; tries++) {
        ssize_t n = pread (fd, buf + got, len - got, (off_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;         /* shrunk under us */
            return -1;
        }
        got += (size_t) n;
    }
    return got == len ? 0 : -1;
}

static int
pwrite_all (int fd, const uint8_t *buf, size_t len, off_t off)
{
    size_t done = 0;
    for (int tries = 0; done < len && tries < 1000; tries++) {
        ssize_t n = pwrite (fd, buf + done, len - done, off + (off_t) done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        done += (size_t) n;
    }
    if (done != len)
        errno = EIO;
    return done == len ? 0 : -1;
}

/* Opens a format 3 mark for writing and keeps its descriptor: *e is the entry, or NULL when the
 * file is absent, cannot be opened for writing (*open_errno) or is not format 3 (then hwm_load
 * tells which, or what is wrong). The first open
 * in a process fsyncs the file and the directory: a process killed after its rename but before
 * its directory fsync left a mark written but perhaps not durable. */
static int
cache_open (const char *keydir, const char *path, hwm_open_t **e, int *open_errno, char *why,
            size_t whylen)
{
    *e = NULL;
    *open_errno = 0;
    int fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *open_errno = errno;         /* absent, a symlink, read-only: hwm_load says first */
        return RCN_OK;
    }
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size != FILE_SIZE) {
        close (fd);
        return RCN_OK;
    }
    if (fsync (fd) != 0 || rcn_fsync_dir (keydir) != 0) {
        rcn_errf (why, whylen, "%s: fsync of the file and its directory: %s", path,
                  strerror (errno));
        close (fd);
        return RCN_EIO;
    }
    *e = cache_put (path, fd, &st);
    return RCN_OK;
}

/* Creates (or replaces a format 2 mark with) a format 3 file holding *m in both slots, the
 * old safe way: hwm.tmp, fsync, rename over hwm, fsync of the directory. */
static int
hwm_create (const char *keydir, const char *path, const char *tmp,
            const uint8_t origin[RCN_KEY_SIZE], const rcn_hwm_t *m, char *why, size_t whylen)
{
    uint8_t buf[FILE_SIZE];
    slot_encode (buf, 0, origin, m, 1);
    slot_encode (buf + SLOT_SIZE, 1, origin, m, 0);

    int rc = RCN_EIO;
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
    if (fchmod (fd, 0600) != 0 || rcn_write_all (fd, buf, sizeof buf) != 0 || fsync (fd) != 0) {
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

/* The write itself, under cache_lock. */
static int
hwm_write_locked (const char *keydir, const char *path, const char *tmp,
                  const uint8_t origin[RCN_KEY_SIZE], const rcn_hwm_t *m, char *why,
                  size_t whylen)
{
    char want[HEX_LEN + 1];
    rcn_hex (origin, RCN_KEY_SIZE, want);
    hwm_v3_t cur = { { 0, 0 }, 0, 0 };
    int format = 0, open_errno = 0, rc;
    hwm_open_t *e = cache_find (path);
    if (!e && (rc = cache_open (keydir, path, &e, &open_errno, why, whylen)) != RCN_OK)
        return rc;
    if (e) {
        uint8_t buf[FILE_SIZE];
        if (pread_all (e->fd, buf, sizeof buf) != 0) {
            rcn_errf (why, whylen, "%s: read: %s", path, strerror (errno));
            cache_drop (e);
            return RCN_EIO;
        }
        if ((rc = parse_v3 (buf, want, origin, &cur, path, why, whylen)) != RCN_OK)
            return rc;
        format = 3;
    } else if ((rc = hwm_load (path, origin, &cur, &format, why, whylen)) != RCN_OK) {
        return rc;
    }

    /* With committed <= signed (checked by the caller), this also keeps signed_seq at or above
     * the stored committed_seq: seqs that may have been published stay covered. */
    if (m->committed_seq < cur.m.committed_seq) {
        rcn_errf (why, whylen, "%s: refusing to lower committed_seq from %" PRIu64 " to %"
                  PRIu64 " (signed_seq %" PRIu64 "): seqs up to %" PRIu64 " may have been "
                  "published", path, cur.m.committed_seq, m->committed_seq, m->signed_seq,
                  cur.m.committed_seq);
        return RCN_EINVAL;
    }
    if (format == 3 && !e) {
        /* It read as format 3 but would not open for writing (or changed in between). */
        rcn_errf (why, whylen, "%s: cannot open for writing: %s", path,
                  open_errno ? strerror (open_errno) : "it changed while being opened");
        return RCN_EIO;
    }
    if (format != 3 || cur.gen == UINT64_MAX) {
        if (e)
            cache_drop (e);
        return hwm_create (keydir, path, tmp, origin, m, why, whylen);
    }
    if (cur.m.signed_seq == m->signed_seq && cur.m.committed_seq == m->committed_seq) {
        /* Already stored: make sure it is durable (a write of ours that failed after its
         * pwrite may have left it in the page cache only). */
        if (fdatasync (e->fd) != 0) {
            rcn_errf (why, whylen, "%s: fdatasync: %s", path, strerror (errno));
            cache_drop (e);
            return RCN_EIO;
        }
        return RCN_OK;
    }
    int slot = 1 - cur.slot;
    uint8_t s[SLOT_SIZE];
    slot_encode (s, slot, origin, m, cur.gen + 1);
    if (pwrite_all (e->fd, s, sizeof s, (off_t) slot * SLOT_SIZE) != 0
        || fdatasync (e->fd) != 0) {
        /* The slot may be torn or not durable; the other one still holds the previous mark.
         * Drop the descriptor: after a failed fdatasync its page state is unknown. */
        rcn_errf (why, whylen, "%s: writing slot %d: %s", path, slot, strerror (errno));
        cache_drop (e);
        return RCN_EIO;
    }
    return RCN_OK;
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
    pthread_mutex_lock (&cache_lock);
    rc = hwm_write_locked (keydir, path, tmp, origin, m, why, whylen);
    pthread_mutex_unlock (&cache_lock);
    return rc;
}
