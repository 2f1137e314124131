/* powerloss.c — an LD_PRELOAD shim that simulates losing power, for files under one directory.
 *
 * kill -9 proves atomicity only: the page cache survives the process, so a program that forgot
 * an fsync passes anyway. This shim makes the missing fsync visible. Every write to a tracked
 * file really happens (reads, and LMDB's read-only mmap, stay coherent), but first the shim
 * saves the bytes it overwrites in an UNDO log, keyed by inode. fsync/fdatasync of the file
 * (through any descriptor), a write through an O_DSYNC/O_SYNC descriptor or with RWF_DSYNC,
 * msync(MS_SYNC) of a shared mapping, sync() and syncfs() make data durable and drop the
 * corresponding undo records. At the crash point the shim applies the undo log backwards —
 * overwritten bytes come back, bytes past the old end read as a hole, each file is cut to the
 * size it had at its last sync, renames not followed by an fsync of the target's directory
 * are reversed (a file they replaced comes back) — prints what it discarded and _exit(137)s.
 * The one design decision: undo, not redo. The process sees the real file all along, so the
 * shim needs no model of reads or of mmap; only the crash itself rewrites the disk.
 *
 * Environment:
 *   RCN_PL_DIR=DIR        track files and directories at or below DIR (resolved path; may be
 *                         created after start). Unset: the shim passes everything through.
 *   RCN_PL_CRASH_AT=N     crash just before the Nth counted call (1-based). Counted calls are
 *                         the mutating calls and syncs on tracked files: write, pwrite, writev,
 *                         pwritev(2), ftruncate, open with O_TRUNC, fsync, fdatasync,
 *                         sync_file_range, msync of a tracked mapping, rename; and sync/syncfs.
 *   RCN_PL_TRACE=1        print each counted call on stderr.
 *   RCN_PL_COUNT=1        print "powerloss: N calls" on stderr at exit (to pick crash points).
 *   RCN_PL_STRICT=1       POSIX-strict names: also lose files and directories created (open
 *                         with O_CREAT, mkdir) whose parent directory was not fsynced since;
 *                         these creations then count as calls too. Off by default: ext4 and
 *                         XFS persist a new file's name with the file's own fsync.
 * On the crash it prints "powerloss: discarded X bytes of PATH" per file, a line per rename
 * or creation it rolls back, the totals ("powerloss: discarded X bytes in Y ranges, reverted
 * Z renames and creations") and "powerloss: crashed at call N".
 *
 * What it simulates: lost page-cache data and file sizes since the last sync (whole ranges,
 * as a disk that acknowledged nothing); O_DSYNC and RWF_DSYNC writes kept even when the fd's
 * other writes are lost; renames lost unless the target directory was fsynced.
 * What it does not (the pessimistic cases real hardware adds): a torn write inside one sector
 * or page, or a partially applied write (every unsynced range is lost whole, none half);
 * reordering that keeps a later unsynced write and drops an earlier one; metadata other than
 * renames and (RCN_PL_STRICT) creations — unlink, chmod, link survive; writes through a
 * writable shared mmap (not seen — LMDB without MDB_WRITEMAP, as rcn opens it, writes its
 * pages with pwrite/writev on one descriptor, fdatasyncs it, then writes the meta page with
 * pwrite on a second descriptor opened O_DSYNC, all of which this shim sees); stdio writes
 * (glibc calls its internal write, not the interposable one); fallocate, truncate(path),
 * mremap, copy_file_range and splice. The state on disk when the process starts is taken as
 * durable.
 * Under ASan the shim (built without it) goes ahead of the sanitizer runtime in the library
 * list: run with ASAN_OPTIONS=verify_asan_link_order=0. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ftw.h>
#include <sys/uio.h>
#include <unistd.h>

_Static_assert (sizeof (off_t) == 8, "the shim assumes 64-bit off_t (off_t == off64_t)");

#define PL_EXIT 137

/* ---- the real functions -------------------------------------------------------------- */

static struct {
    int (*openat) (int, const char *, int, ...);
    ssize_t (*write) (int, const void *, size_t);
    ssize_t (*pwrite) (int, const void *, size_t, off_t);
    ssize_t (*writev) (int, const struct iovec *, int);
    ssize_t (*pwritev) (int, const struct iovec *, int, off_t);
    ssize_t (*pwritev2) (int, const struct iovec *, int, off_t, int);
    int (*ftruncate) (int, off_t);
    int (*fsync) (int);
    int (*fdatasync) (int);
    int (*msync) (void *, size_t, int);
    int (*sync_file_range) (int, off64_t, off64_t, unsigned int);
    void (*sync) (void);
    int (*syncfs) (int);
    int (*rename) (const char *, const char *);
    int (*renameat) (int, const char *, int, const char *);
    int (*renameat2) (int, const char *, int, const char *, unsigned int);
    int (*mkdirat) (int, const char *, mode_t);
    int (*close) (int);
    int (*dup) (int);
    int (*dup2) (int, int);
    int (*dup3) (int, int, int);
    void *(*mmap) (void *, size_t, int, int, int, off_t);
    int (*munmap) (void *, size_t);
} real;

/* ---- state --------------------------------------------------------------------------- */

typedef struct {
    bool live;
    dev_t dev;
    ino_t ino;
    int fd;                 /* the shim's own descriptor: O_RDWR when possible; never closed
                               while the program has one open (closing any descriptor of a
                               file drops the process's fcntl locks on it) */
    bool writable;
    off_t durable_size;     /* size at the last sync (or when first seen) */
    int app_fds;            /* program descriptors referring to it */
    int records;            /* undo records of its bytes */
    int pins;               /* rename records that would restore it */
    int maps;               /* tracked shared mappings */
    char *name;             /* path when first seen, for messages */
} pl_inode_t;

typedef struct {
    bool used;
    bool is_dir;
    int ino;                /* index into inodes (files) */
    dev_t dev;              /* identity, to notice a descriptor reused behind our back */
    ino_t inum;
    char *dirpath;          /* resolved path (directories) */
} pl_fd_t;

enum { U_BYTES, U_RENAME, U_CREATE };

typedef struct {
    int type;
    int ino;                /* U_BYTES: inode index */
    off_t off;
    size_t len;
    uint8_t *old;           /* U_BYTES: saved bytes; NULL: the range did not exist (a hole) */
    char *from, *to;        /* U_RENAME: resolved paths; U_CREATE: `to` was created */
    char *parent;           /* directory of `to`; its fsync commits the rename or creation */
    bool created_dir;       /* U_CREATE: by mkdir */
    int replaced;           /* U_RENAME: inode index of the file `to` replaced, or -1 */
    bool replaced_dir;      /* U_RENAME: `to` was an empty directory */
    mode_t replaced_mode;
} pl_undo_t;

typedef struct {
    uintptr_t addr;
    size_t len;
    int ino;
    off_t off;
} pl_map_t;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool active;                 /* RCN_PL_DIR set */
static char *root_env;              /* RCN_PL_DIR as given */
static char root[PATH_MAX];         /* resolved, once it exists */
static size_t root_len;
static unsigned long crash_at, calls;
static bool trace, count_report, strict;

static pl_inode_t *inodes;
static int ninodes, capinodes;
static pl_fd_t *fds;
static int capfds;
static pl_undo_t *undo;
static size_t nundo, capundo;
static pl_map_t *maps;
static size_t nmaps, capmaps;

static void
die (const char *what)
{
    fprintf (stderr, "powerloss: %s: %s\n", what, strerror (errno));
    _exit (PL_EXIT + 1);
}

static void *
xrealloc (void *p, size_t n)
{
    void *q = realloc (p, n ? n : 1);
    if (!q)
        die ("out of memory");
    return q;
}

static char *
xstrdup (const char *s)
{
    char *d = strdup (s);
    if (!d)
        die ("out of memory");
    return d;
}

static void *
must_sym (const char *name)
{
    void *p = dlsym (RTLD_NEXT, name);
    if (!p) {
        fprintf (stderr, "powerloss: dlsym %s: %s\n", name, dlerror ());
        _exit (PL_EXIT + 1);
    }
    return p;
}

static void
pl_init_once (void)
{
    real.openat = must_sym ("openat");
    real.write = must_sym ("write");
    real.pwrite = must_sym ("pwrite");
    real.writev = must_sym ("writev");
    real.pwritev = must_sym ("pwritev");
    real.pwritev2 = must_sym ("pwritev2");
    real.ftruncate = must_sym ("ftruncate");
    real.fsync = must_sym ("fsync");
    real.fdatasync = must_sym ("fdatasync");
    real.msync = must_sym ("msync");
    real.sync_file_range = must_sym ("sync_file_range");
    real.sync = must_sym ("sync");
    real.syncfs = must_sym ("syncfs");
    real.rename = must_sym ("rename");
    real.renameat = must_sym ("renameat");
    real.renameat2 = must_sym ("renameat2");
    real.mkdirat = must_sym ("mkdirat");
    real.close = must_sym ("close");
    real.dup = must_sym ("dup");
    real.dup2 = must_sym ("dup2");
    real.dup3 = must_sym ("dup3");
    real.mmap = must_sym ("mmap");
    real.munmap = must_sym ("munmap");
}

static inline void
pl_init (void)
{
    pthread_once (&once, pl_init_once);
}

/* The settings are read here, not in pl_init_once: a sanitizer runtime loaded after the shim
 * calls interposed functions during its own start, before getenv can see the environment. */
__attribute__((constructor)) static void
pl_ctor (void)
{
    pl_init ();
    const char *d = getenv ("RCN_PL_DIR");
    if (d && *d) {
        active = true;
        root_env = xstrdup (d);
    }
    const char *c = getenv ("RCN_PL_CRASH_AT");
    if (c && *c)
        crash_at = strtoul (c, NULL, 10);
    const char *t = getenv ("RCN_PL_TRACE");
    trace = t && *t && strcmp (t, "0") != 0;
    const char *r = getenv ("RCN_PL_COUNT");
    count_report = r && *r && strcmp (r, "0") != 0;
    const char *x = getenv ("RCN_PL_STRICT");
    strict = x && *x && strcmp (x, "0") != 0;
}

__attribute__((destructor)) static void
pl_fini (void)
{
    if (count_report)
        fprintf (stderr, "powerloss: %lu calls\n", calls);
}

/* ---- paths --------------------------------------------------------------------------- */

/* The tracked root, resolved; false while RCN_PL_DIR does not exist yet. */
static bool
root_ready (void)
{
    if (root_len)
        return true;
    if (!realpath (root_env, root))
        return false;
    root_len = strlen (root);
    while (root_len > 1 && root[root_len - 1] == '/')
        root[--root_len] = '\0';
    return true;
}

static bool
under_root (const char *path)
{
    if (!root_ready ())
        return false;
    if (strncmp (path, root, root_len) != 0)
        return false;
    return path[root_len] == '\0' || path[root_len] == '/' || root_len == 1;
}

static bool
fd_path (int fd, char *out)
{
    char link[64];
    snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink (link, out, PATH_MAX - 1);
    if (n <= 0)
        return false;
    out[n] = '\0';
    return true;
}

/* Resolves (dirfd, path) to an absolute path whose directory part is resolved; the last
 * component is kept as is (it may not exist, or be the thing being renamed). */
static bool
canon (int dirfd, const char *path, char *out)
{
    char full[2 * PATH_MAX];
    if (path[0] == '/') {
        snprintf (full, sizeof full, "%s", path);
    } else {
        char base[PATH_MAX];
        if (dirfd == AT_FDCWD) {
            if (!getcwd (base, sizeof base))
                return false;
        } else if (!fd_path (dirfd, base)) {
            return false;
        }
        snprintf (full, sizeof full, "%s/%s", base, path);
    }
    size_t n = strlen (full);
    while (n > 1 && full[n - 1] == '/')
        full[--n] = '\0';
    char *slash = strrchr (full, '/');
    char dir[PATH_MAX];
    const char *name = slash + 1;
    if (slash == full) {
        snprintf (dir, sizeof dir, "/");
    } else {
        *slash = '\0';
        if (!realpath (full, dir))
            return false;
    }
    if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0 || !*name)
        return false;
    int w = snprintf (out, PATH_MAX, "%s%s%s", dir, strcmp (dir, "/") ? "/" : "", name);
    return w > 0 && w < PATH_MAX;
}

static void
dirname_of (const char *path, char *out)
{
    snprintf (out, PATH_MAX, "%s", path);
    char *slash = strrchr (out, '/');
    if (slash == out)
        out[1] = '\0';
    else if (slash)
        *slash = '\0';
}

/* ---- counting and the crash ---------------------------------------------------------- */

static void crash (void);

/* Counts one call on tracked state; crashes before performing it when it is the chosen one. */
static void
tick (const char *what, const char *name, off_t off, size_t len)
{
    calls++;
    if (trace)
        fprintf (stderr, "powerloss: #%lu %s %s off=%lld len=%zu\n", calls, what,
                 name ? name : "-", (long long) off, len);
    if (crash_at && calls == crash_at)
        crash ();
}

static bool
pwrite_all (int fd, const uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t w = real.pwrite (fd, buf, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        len -= (size_t) w;
        off += w;
    }
    return true;
}

static bool
pread_all (int fd, uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t r = pread (fd, buf, len, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return false;
        if (r == 0) {               /* shorter than fstat said: the rest reads as zeros */
            memset (buf, 0, len);
            return true;
        }
        buf += r;
        len -= (size_t) r;
        off += r;
    }
    return true;
}

static void
restore_bytes (const pl_undo_t *u)
{
    pl_inode_t *in = &inodes[u->ino];
    if (!in->writable) {
        fprintf (stderr, "powerloss: cannot restore %s (no write access)\n", in->name);
        return;
    }
    if (u->old) {
        if (!pwrite_all (in->fd, u->old, u->len, u->off))
            fprintf (stderr, "powerloss: restore %s: %s\n", in->name, strerror (errno));
        return;
    }
    static const uint8_t zeros[4096];
    for (size_t done = 0; done < u->len;) {
        size_t n = u->len - done < sizeof zeros ? u->len - done : sizeof zeros;
        if (!pwrite_all (in->fd, zeros, n, u->off + (off_t) done)) {
            fprintf (stderr, "powerloss: restore %s: %s\n", in->name, strerror (errno));
            return;
        }
        done += n;
    }
}

/* Puts back at `to` the file (or empty directory) a reverted rename had replaced; its
 * content was already rolled back to its durable state through the shim's descriptor. */
static void
restore_replaced (const pl_undo_t *u)
{
    if (u->replaced_dir) {
        if (real.mkdirat (AT_FDCWD, u->to, u->replaced_mode & 07777) != 0)
            fprintf (stderr, "powerloss: restore %s: %s\n", u->to, strerror (errno));
        return;
    }
    if (u->replaced < 0)
        return;
    pl_inode_t *in = &inodes[u->replaced];
    int out = real.openat (AT_FDCWD, u->to, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
                           u->replaced_mode & 07777);
    if (out < 0) {
        fprintf (stderr, "powerloss: restore %s: %s\n", u->to, strerror (errno));
        return;
    }
    uint8_t buf[8192];
    off_t off = 0;
    for (;;) {
        ssize_t r = pread (in->fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (!pwrite_all (out, buf, (size_t) r, off))
            break;
        off += r;
    }
    (void) fchmod (out, u->replaced_mode & 07777);
    real.close (out);
}

static int
rm_one (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb; (void) flag; (void) ftw;
    return remove (path);
}

/* The power goes: everything not yet durable is rolled back, newest first. */
static void
crash (void)
{
    size_t bytes = 0, ranges = 0, renames = 0;
    for (int i = 0; i < ninodes; i++) {
        size_t lost = 0;
        for (size_t k = 0; k < nundo; k++)
            if (undo[k].type == U_BYTES && undo[k].ino == i)
                lost += undo[k].len;
        if (lost)
            fprintf (stderr, "powerloss: discarded %zu bytes of %s\n", lost, inodes[i].name);
    }
    for (size_t i = nundo; i-- > 0;) {
        const pl_undo_t *u = &undo[i];
        if (u->type != U_BYTES)
            continue;
        restore_bytes (u);
        bytes += u->len;
        ranges++;
    }
    for (int i = 0; i < ninodes; i++) {
        pl_inode_t *in = &inodes[i];
        struct stat st;
        if (!in->live || !in->writable || fstat (in->fd, &st) != 0)
            continue;
        if (st.st_size != in->durable_size && real.ftruncate (in->fd, in->durable_size) != 0)
            fprintf (stderr, "powerloss: truncate %s: %s\n", in->name, strerror (errno));
    }
    for (size_t i = nundo; i-- > 0;) {
        const pl_undo_t *u = &undo[i];
        if (u->type == U_CREATE) {
            fprintf (stderr, "powerloss: removed %s %s (its directory was not synced)\n",
                     u->created_dir ? "directory" : "file", u->to);
            if (nftw (u->to, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
                fprintf (stderr, "powerloss: remove %s: %s\n", u->to, strerror (errno));
            renames++;
            continue;
        }
        if (u->type != U_RENAME)
            continue;
        fprintf (stderr, "powerloss: reverted rename of %s to %s\n", u->from, u->to);
        if (real.rename (u->to, u->from) != 0)
            fprintf (stderr, "powerloss: revert rename %s: %s\n", u->to, strerror (errno));
        restore_replaced (u);
        renames++;
    }
    fprintf (stderr, "powerloss: discarded %zu bytes in %zu ranges, reverted %zu renames "
             "and creations\n", bytes, ranges, renames);
    fprintf (stderr, "powerloss: crashed at call %lu\n", calls);
    _exit (PL_EXIT);
}

/* ---- inodes and descriptors ---------------------------------------------------------- */

static int
inode_find (dev_t dev, ino_t ino)
{
    for (int i = 0; i < ninodes; i++)
        if (inodes[i].live && inodes[i].dev == dev && inodes[i].ino == ino)
            return i;
    return -1;
}

/* Starts tracking a regular file; `src` is a path that opens it (or /proc/self/fd/N). */
static int
inode_add (const char *src, const struct stat *st, const char *name)
{
    int fd = real.openat (AT_FDCWD, src, O_RDWR | O_CLOEXEC);
    bool writable = fd >= 0;
    if (fd < 0)
        fd = real.openat (AT_FDCWD, src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf (stderr, "powerloss: cannot track %s: %s\n", name, strerror (errno));
        return -1;
    }
    int i;
    for (i = 0; i < ninodes; i++)
        if (!inodes[i].live)
            break;
    if (i == ninodes) {
        if (ninodes == capinodes) {
            capinodes = capinodes ? 2 * capinodes : 32;
            inodes = xrealloc (inodes, (size_t) capinodes * sizeof *inodes);
        }
        ninodes++;
    }
    inodes[i] = (pl_inode_t) {
        .live = true, .dev = st->st_dev, .ino = st->st_ino, .fd = fd, .writable = writable,
        .durable_size = st->st_size, .name = xstrdup (name),
    };
    return i;
}

/* Stops tracking an inode nothing refers to any more: nothing left to undo. */
static void
inode_maybe_release (int i)
{
    pl_inode_t *in = &inodes[i];
    if (!in->live || in->app_fds || in->records || in->pins || in->maps)
        return;
    real.close (in->fd);
    free (in->name);
    in->live = false;
    in->name = NULL;
}

static void
fd_untrack (int fd)
{
    if (fd < 0 || fd >= capfds || !fds[fd].used)
        return;
    pl_fd_t *f = &fds[fd];
    if (f->is_dir) {
        free (f->dirpath);
    } else {
        inodes[f->ino].app_fds--;
        inode_maybe_release (f->ino);
    }
    *f = (pl_fd_t) { 0 };
}

static void
fd_slot (int fd)
{
    if (fd < capfds)
        return;
    int n = capfds ? capfds : 64;
    while (n <= fd)
        n *= 2;
    fds = xrealloc (fds, (size_t) n * sizeof *fds);
    memset (fds + capfds, 0, (size_t) (n - capfds) * sizeof *fds);
    capfds = n;
}

/* Tracks program descriptor fd when it is a regular file or directory under the root. */
static pl_fd_t *
fd_track (int fd)
{
    char path[PATH_MAX];
    struct stat st;
    if (fd < 0 || !fd_path (fd, path) || !under_root (path) || fstat (fd, &st) != 0)
        return NULL;
    if (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode))
        return NULL;
    fd_untrack (fd);
    fd_slot (fd);
    pl_fd_t *f = &fds[fd];
    if (S_ISDIR (st.st_mode)) {
        *f = (pl_fd_t) { .used = true, .is_dir = true, .dev = st.st_dev, .inum = st.st_ino,
                         .dirpath = xstrdup (path) };
        return f;
    }
    int i = inode_find (st.st_dev, st.st_ino);
    if (i < 0) {
        char src[64];
        snprintf (src, sizeof src, "/proc/self/fd/%d", fd);
        i = inode_add (src, &st, path);
        if (i < 0)
            return NULL;
    }
    inodes[i].app_fds++;
    *f = (pl_fd_t) { .used = true, .ino = i, .dev = st.st_dev, .inum = st.st_ino };
    return f;
}

/* The tracking entry of fd, checked against what fd now refers to (a descriptor may have
 * been closed and reused by calls the shim does not see, such as fclose). */
static pl_fd_t *
fd_lookup (int fd)
{
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0) {
        fd_untrack (fd);
        return NULL;
    }
    if (fd < capfds && fds[fd].used) {
        if (fds[fd].dev == st.st_dev && fds[fd].inum == st.st_ino)
            return &fds[fd];
        fd_untrack (fd);
    }
    if (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode))
        return NULL;
    return fd_track (fd);
}

/* ---- the undo log -------------------------------------------------------------------- */

static pl_undo_t *
undo_push (void)
{
    if (nundo == capundo) {
        capundo = capundo ? 2 * capundo : 256;
        undo = xrealloc (undo, capundo * sizeof *undo);
    }
    pl_undo_t *u = &undo[nundo++];
    *u = (pl_undo_t) { .replaced = -1 };
    return u;
}

static void
push_bytes (int i, off_t off, size_t len, uint8_t *old)
{
    pl_undo_t *u = undo_push ();
    u->type = U_BYTES;
    u->ino = i;
    u->off = off;
    u->len = len;
    u->old = old;
    inodes[i].records++;
}

/* Saves what a write of [off, off+len) is about to change. */
static void
record_range (int i, off_t off, size_t len)
{
    pl_inode_t *in = &inodes[i];
    struct stat st;
    if (len == 0)
        return;
    if (fstat (in->fd, &st) != 0)
        die ("fstat");
    off_t size = st.st_size, end = off + (off_t) len;
    if (off < size) {
        off_t e = end < size ? end : size;
        size_t n = (size_t) (e - off);
        uint8_t *old = xrealloc (NULL, n);
        if (!pread_all (in->fd, old, n, off))
            die ("pread");
        push_bytes (i, off, n, old);
    }
    if (end > size)                 /* the file grows: from the old end on, restore a hole */
        push_bytes (i, size, (size_t) (end - size), NULL);
}

/* Saves what ftruncate(length) is about to change. */
static void
record_truncate (int i, off_t length)
{
    struct stat st;
    if (fstat (inodes[i].fd, &st) != 0)
        die ("fstat");
    if (length < st.st_size)
        record_range (i, length, (size_t) (st.st_size - length));
    else if (length > st.st_size)
        push_bytes (i, st.st_size, (size_t) (length - st.st_size), NULL);
}

static void
undo_remove (size_t k)
{
    pl_undo_t *u = &undo[k];
    if (u->type == U_BYTES) {
        inodes[u->ino].records--;
        free (u->old);
    } else {
        free (u->from);
        free (u->to);
        free (u->parent);
        if (u->replaced >= 0)
            inodes[u->replaced].pins--;
    }
    memmove (undo + k, undo + k + 1, (nundo - k - 1) * sizeof *undo);
    nundo--;
}

/* Range [a, b) of inode i became durable with its current content. */
static void
make_durable (int i, off_t a, off_t b)
{
    for (size_t k = 0; k < nundo; k++) {
        pl_undo_t *u = &undo[k];
        if (u->type != U_BYTES || u->ino != i)
            continue;
        off_t s = u->off, e = u->off + (off_t) u->len;
        if (e <= a || s >= b)
            continue;
        if (s < a && e > b) {               /* split: keep [s, a) here, [b, e) after it */
            uint8_t *right = NULL;
            if (u->old) {
                right = xrealloc (NULL, (size_t) (e - b));
                memcpy (right, u->old + (b - s), (size_t) (e - b));
            }
            u->len = (size_t) (a - s);
            pl_undo_t *n = undo_push ();    /* may move the array */
            memmove (undo + k + 2, undo + k + 1, (nundo - k - 2) * sizeof *undo);
            undo[k + 1] = (pl_undo_t) { .type = U_BYTES, .ino = i, .off = b,
                                        .len = (size_t) (e - b), .old = right, .replaced = -1 };
            (void) n;
            inodes[i].records++;
            k++;
        } else if (s < a) {
            u->len = (size_t) (a - s);
        } else if (e > b) {
            if (u->old)
                memmove (u->old, u->old + (b - s), (size_t) (e - b));
            u->off = b;
            u->len = (size_t) (e - b);
        } else {
            undo_remove (k);
            k--;
        }
    }
    if (b > inodes[i].durable_size)
        inodes[i].durable_size = b;
}

/* fsync/fdatasync of inode i: all of it is durable now, size included. */
static void
commit_inode (int i)
{
    for (size_t k = nundo; k-- > 0;)
        if (undo[k].type == U_BYTES && undo[k].ino == i)
            undo_remove (k);
    struct stat st;
    if (fstat (inodes[i].fd, &st) == 0)
        inodes[i].durable_size = st.st_size;
}

/* fsync of directory `path`: renames into it and names created in it are durable. */
static void
commit_dir (const char *path)
{
    for (size_t k = nundo; k-- > 0;)
        if (undo[k].type != U_BYTES && strcmp (undo[k].parent, path) == 0) {
            int r = undo[k].replaced;
            undo_remove (k);
            if (r >= 0)
                inode_maybe_release (r);
        }
}

static void
commit_all (void)
{
    for (int i = 0; i < ninodes; i++)
        if (inodes[i].live)
            commit_inode (i);
    for (size_t k = nundo; k-- > 0;) {
        int r = undo[k].replaced;
        undo_remove (k);
        if (r >= 0)
            inode_maybe_release (r);
    }
    for (int i = 0; i < ninodes; i++)
        inode_maybe_release (i);
}

/* ---- interposed: open and mkdir ----------------------------------------------------- */

/* Strict mode: whether (dirfd, path) names nothing yet under the root; *out its path. */
static bool
will_create (int dirfd, const char *path, char *out)
{
    struct stat st;
    return canon (dirfd, path, out) && under_root (out) && lstat (out, &st) != 0
           && errno == ENOENT;
}

static void
push_create (const char *path, bool is_dir)
{
    char parent[PATH_MAX];
    dirname_of (path, parent);
    pl_undo_t *u = undo_push ();
    u->type = U_CREATE;
    u->to = xstrdup (path);
    u->parent = xstrdup (parent);
    u->created_dir = is_dir;
}

static int
do_mkdir (int dirfd, const char *path, mode_t mode)
{
    pl_init ();
    if (!active || !strict)
        return real.mkdirat (dirfd, path, mode);
    pthread_mutex_lock (&mu);
    char created[PATH_MAX];
    bool creating = will_create (dirfd, path, created);
    if (creating)
        tick ("mkdir", created, 0, 0);
    int r = real.mkdirat (dirfd, path, mode);
    int e = errno;
    if (r == 0 && creating)
        push_create (created, true);
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

int
mkdir (const char *path, mode_t mode)
{
    return do_mkdir (AT_FDCWD, path, mode);
}

int
mkdirat (int dirfd, const char *path, mode_t mode)
{
    return do_mkdir (dirfd, path, mode);
}

static int
do_open (int dirfd, const char *path, int flags, mode_t mode)
{
    pl_init ();
    bool trunc = (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY;
    if (!active)
        return real.openat (dirfd, path, flags, mode);
    pthread_mutex_lock (&mu);
    char created[PATH_MAX];
    bool creating = strict && (flags & O_CREAT) && will_create (dirfd, path, created);
    if (creating)
        tick ("create", created, 0, 0);
    int fd = real.openat (dirfd, path, trunc ? flags & ~O_TRUNC : flags, mode);
    int e = errno;
    if (fd >= 0 && creating)
        push_create (created, false);
    if (fd >= 0) {
        pl_fd_t *f = fd_track (fd);
        if (trunc) {
            if (f && !f->is_dir) {
                tick ("open(O_TRUNC)", inodes[f->ino].name, 0, 0);
                record_truncate (f->ino, 0);
            }
            if (real.ftruncate (fd, 0) != 0) {
                e = errno;
                fd_untrack (fd);
                real.close (fd);
                fd = -1;
            }
        }
    }
    pthread_mutex_unlock (&mu);
    errno = e;
    return fd;
}

static mode_t
open_mode (int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t) va_arg (ap, int) : 0;
}

int
open (const char *path, int flags, ...)
{
    va_list ap;
    va_start (ap, flags);
    mode_t mode = open_mode (flags, ap);
    va_end (ap);
    return do_open (AT_FDCWD, path, flags, mode);
}

int
open64 (const char *path, int flags, ...)
{
    va_list ap;
    va_start (ap, flags);
    mode_t mode = open_mode (flags, ap);
    va_end (ap);
    return do_open (AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

int
openat (int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start (ap, flags);
    mode_t mode = open_mode (flags, ap);
    va_end (ap);
    return do_open (dirfd, path, flags, mode);
}

int
openat64 (int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start (ap, flags);
    mode_t mode = open_mode (flags, ap);
    va_end (ap);
    return do_open (dirfd, path, flags | O_LARGEFILE, mode);
}

int
creat (const char *path, mode_t mode)
{
    return do_open (AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int
creat64 (const char *path, mode_t mode)
{
    return do_open (AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode);
}

/* ---- interposed: writes ------------------------------------------------------------ */

enum { W_WRITE, W_PWRITE, W_WRITEV, W_PWRITEV, W_PWRITEV2 };

typedef struct {
    int op;
    const void *buf;            /* W_WRITE, W_PWRITE */
    size_t n;
    const struct iovec *iov;    /* the vector calls */
    int cnt;
    off_t off;                  /* positional calls; -1 for pwritev2 = current position */
    int flags;                  /* pwritev2 RWF_* */
} pl_write_t;

static ssize_t
write_real (int fd, const pl_write_t *w)
{
    switch (w->op) {
    case W_WRITE: return real.write (fd, w->buf, w->n);
    case W_PWRITE: return real.pwrite (fd, w->buf, w->n, w->off);
    case W_WRITEV: return real.writev (fd, w->iov, w->cnt);
    case W_PWRITEV: return real.pwritev (fd, w->iov, w->cnt, w->off);
    default: return real.pwritev2 (fd, w->iov, w->cnt, w->off, w->flags);
    }
}

static const char *const write_names[] = { "write", "pwrite", "writev", "pwritev", "pwritev2" };

static ssize_t
do_write (int fd, pl_write_t *w)
{
    pl_init ();
    if (!active)
        return write_real (fd, w);
    pthread_mutex_lock (&mu);
    pl_fd_t *f = fd_lookup (fd);
    if (!f || f->is_dir) {
        pthread_mutex_unlock (&mu);
        return write_real (fd, w);
    }
    int i = f->ino;
    if (w->op >= W_WRITEV) {
        w->n = 0;
        for (int k = 0; k < w->cnt; k++)
            w->n += w->iov[k].iov_len;
    }
    int fl = fcntl (fd, F_GETFL);
    bool sync = fl >= 0 && (fl & O_DSYNC);
    bool append = fl >= 0 && (fl & O_APPEND);
    if (w->op == W_PWRITEV2) {
        sync = sync || (w->flags & (RWF_DSYNC | RWF_SYNC));
        append = append || (w->flags & RWF_APPEND);
    }
    off_t off = w->off;
    if (w->op == W_WRITE || w->op == W_WRITEV || (w->op == W_PWRITEV2 && w->off == -1))
        off = lseek (fd, 0, SEEK_CUR);
    if (append) {
        struct stat st;
        if (fstat (fd, &st) == 0)
            off = st.st_size;
    }
    tick (sync ? "write(dsync)" : write_names[w->op], inodes[i].name, off, w->n);
    if (!sync && off >= 0)
        record_range (i, off, w->n);
    ssize_t r = write_real (fd, w);
    int e = errno;
    if (sync && r > 0 && off >= 0)
        make_durable (i, off, off + r);
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

ssize_t
write (int fd, const void *buf, size_t n)
{
    pl_write_t w = { .op = W_WRITE, .buf = buf, .n = n };
    return do_write (fd, &w);
}

ssize_t
pwrite (int fd, const void *buf, size_t n, off_t off)
{
    pl_write_t w = { .op = W_PWRITE, .buf = buf, .n = n, .off = off };
    return do_write (fd, &w);
}

ssize_t
pwrite64 (int fd, const void *buf, size_t n, off64_t off)
{
    pl_write_t w = { .op = W_PWRITE, .buf = buf, .n = n, .off = off };
    return do_write (fd, &w);
}

ssize_t
writev (int fd, const struct iovec *iov, int cnt)
{
    pl_write_t w = { .op = W_WRITEV, .iov = iov, .cnt = cnt };
    return do_write (fd, &w);
}

ssize_t
pwritev (int fd, const struct iovec *iov, int cnt, off_t off)
{
    pl_write_t w = { .op = W_PWRITEV, .iov = iov, .cnt = cnt, .off = off };
    return do_write (fd, &w);
}

ssize_t
pwritev64 (int fd, const struct iovec *iov, int cnt, off64_t off)
{
    pl_write_t w = { .op = W_PWRITEV, .iov = iov, .cnt = cnt, .off = off };
    return do_write (fd, &w);
}

ssize_t
pwritev2 (int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    pl_write_t w = { .op = W_PWRITEV2, .iov = iov, .cnt = cnt, .off = off, .flags = flags };
    return do_write (fd, &w);
}

ssize_t
pwritev64v2 (int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
    pl_write_t w = { .op = W_PWRITEV2, .iov = iov, .cnt = cnt, .off = off, .flags = flags };
    return do_write (fd, &w);
}

static int
do_ftruncate (int fd, off_t length)
{
    pl_init ();
    if (!active)
        return real.ftruncate (fd, length);
    pthread_mutex_lock (&mu);
    pl_fd_t *f = fd_lookup (fd);
    if (f && !f->is_dir && length >= 0) {
        tick ("ftruncate", inodes[f->ino].name, length, 0);
        record_truncate (f->ino, length);
    }
    int r = real.ftruncate (fd, length);
    int e = errno;
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

int
ftruncate (int fd, off_t length)
{
    return do_ftruncate (fd, length);
}

int
ftruncate64 (int fd, off64_t length)
{
    return do_ftruncate (fd, length);
}

/* ---- interposed: syncs --------------------------------------------------------------- */

static int
do_fsync (int fd, bool data_only)
{
    pl_init ();
    int (*fn) (int) = data_only ? real.fdatasync : real.fsync;
    if (!active)
        return fn (fd);
    pthread_mutex_lock (&mu);
    pl_fd_t *f = fd_lookup (fd);
    if (f)
        tick (data_only ? "fdatasync" : "fsync", f->is_dir ? f->dirpath : inodes[f->ino].name,
              0, 0);
    int r = fn (fd);
    int e = errno;
    if (f && r == 0) {
        if (f->is_dir)
            commit_dir (f->dirpath);
        else
            commit_inode (f->ino);
    }
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

int
fsync (int fd)
{
    return do_fsync (fd, false);
}

int
fdatasync (int fd)
{
    return do_fsync (fd, true);
}

/* sync_file_range makes nothing durable (no metadata, no disk cache flush): counted only. */
int
sync_file_range (int fd, off64_t off, off64_t n, unsigned int flags)
{
    pl_init ();
    if (!active)
        return real.sync_file_range (fd, off, n, flags);
    pthread_mutex_lock (&mu);
    pl_fd_t *f = fd_lookup (fd);
    if (f && !f->is_dir)
        tick ("sync_file_range", inodes[f->ino].name, off, (size_t) n);
    int r = real.sync_file_range (fd, off, n, flags);
    int e = errno;
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

void
sync (void)
{
    pl_init ();
    if (!active) {
        real.sync ();
        return;
    }
    pthread_mutex_lock (&mu);
    tick ("sync", NULL, 0, 0);
    real.sync ();
    commit_all ();
    pthread_mutex_unlock (&mu);
}

int
syncfs (int fd)
{
    pl_init ();
    if (!active)
        return real.syncfs (fd);
    pthread_mutex_lock (&mu);
    tick ("syncfs", NULL, 0, 0);
    int r = real.syncfs (fd);
    int e = errno;
    if (r == 0)
        commit_all ();
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

/* ---- interposed: mappings ------------------------------------------------------------ */

static void *
do_mmap (void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    pl_init ();
    if (!active || fd < 0 || !(flags & MAP_SHARED))
        return real.mmap (addr, len, prot, flags, fd, off);
    pthread_mutex_lock (&mu);
    void *p = real.mmap (addr, len, prot, flags, fd, off);
    int e = errno;
    if (p != MAP_FAILED) {
        pl_fd_t *f = fd_lookup (fd);
        if (f && !f->is_dir) {
            if (nmaps == capmaps) {
                capmaps = capmaps ? 2 * capmaps : 16;
                maps = xrealloc (maps, capmaps * sizeof *maps);
            }
            maps[nmaps++] = (pl_map_t) { (uintptr_t) p, len, f->ino, off };
            inodes[f->ino].maps++;
        }
    }
    pthread_mutex_unlock (&mu);
    errno = e;
    return p;
}

void *
mmap (void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return do_mmap (addr, len, prot, flags, fd, off);
}

void *
mmap64 (void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    return do_mmap (addr, len, prot, flags, fd, off);
}

int
munmap (void *addr, size_t len)
{
    pl_init ();
    if (!active)
        return real.munmap (addr, len);
    pthread_mutex_lock (&mu);
    int r = real.munmap (addr, len);
    int e = errno;
    if (r == 0) {
        uintptr_t a = (uintptr_t) addr;
        for (size_t k = nmaps; k-- > 0;) {
            if (maps[k].addr >= a + len || maps[k].addr + maps[k].len <= a)
                continue;       /* a partial unmap forgets the whole mapping */
            int i = maps[k].ino;
            maps[k] = maps[--nmaps];
            inodes[i].maps--;
            inode_maybe_release (i);
        }
    }
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

/* msync(MS_SYNC) of a tracked mapping makes that file range durable (the bytes written
 * through the mapping itself are not seen; see the top of the file). */
int
msync (void *addr, size_t len, int flags)
{
    pl_init ();
    if (!active)
        return real.msync (addr, len, flags);
    pthread_mutex_lock (&mu);
    uintptr_t a = (uintptr_t) addr;
    pl_map_t *m = NULL;
    for (size_t k = 0; k < nmaps; k++)
        if (a >= maps[k].addr && a < maps[k].addr + maps[k].len) {
            m = &maps[k];
            break;
        }
    off_t foff = 0;
    if (m) {
        foff = m->off + (off_t) (a - m->addr);
        tick ((flags & MS_SYNC) ? "msync" : "msync(async)", inodes[m->ino].name, foff, len);
    }
    int r = real.msync (addr, len, flags);
    int e = errno;
    if (m && r == 0 && (flags & MS_SYNC)) {
        off_t durable = inodes[m->ino].durable_size;
        make_durable (m->ino, foff, foff + (off_t) len);
        inodes[m->ino].durable_size = durable;      /* msync does not change the size */
    }
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

/* ---- interposed: rename -------------------------------------------------------------- */

enum { R_RENAME, R_RENAMEAT, R_RENAMEAT2 };

static int
rename_real (int which, int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
    switch (which) {
    case R_RENAME: return real.rename (from, to);
    case R_RENAMEAT: return real.renameat (ofd, from, nfd, to);
    default: return real.renameat2 (ofd, from, nfd, to, flags);
    }
}

static int
do_rename (int which, int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
    pl_init ();
    if (!active || (flags & ~(unsigned) RENAME_NOREPLACE))   /* RENAME_EXCHANGE: not modelled */
        return rename_real (which, ofd, from, nfd, to, flags);
    pthread_mutex_lock (&mu);
    char cfrom[PATH_MAX], cto[PATH_MAX];
    if (!canon (ofd, from, cfrom) || !canon (nfd, to, cto)
        || (!under_root (cfrom) && !under_root (cto))) {
        pthread_mutex_unlock (&mu);
        return rename_real (which, ofd, from, nfd, to, flags);
    }
    tick ("rename", cto, 0, 0);
    int replaced = -1;
    bool replaced_dir = false;
    mode_t mode = 0;
    struct stat st;
    if (lstat (cto, &st) == 0) {
        mode = st.st_mode;
        if (S_ISDIR (st.st_mode)) {
            replaced_dir = true;
        } else if (S_ISREG (st.st_mode)) {
            replaced = inode_find (st.st_dev, st.st_ino);
            if (replaced < 0)
                replaced = inode_add (cto, &st, cto);
            if (replaced >= 0)
                inodes[replaced].pins++;    /* held until the rename is durable or undone */
        }
    }
    int r = rename_real (which, ofd, from, nfd, to, flags);
    int e = errno;
    if (r == 0) {
        char parent[PATH_MAX];
        dirname_of (cto, parent);
        pl_undo_t *u = undo_push ();
        u->type = U_RENAME;
        u->from = xstrdup (cfrom);
        u->to = xstrdup (cto);
        u->parent = xstrdup (parent);
        u->replaced = replaced;
        u->replaced_dir = replaced_dir;
        u->replaced_mode = mode;
    } else if (replaced >= 0) {
        inodes[replaced].pins--;
        inode_maybe_release (replaced);
    }
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

int
rename (const char *from, const char *to)
{
    return do_rename (R_RENAME, AT_FDCWD, from, AT_FDCWD, to, 0);
}

int
renameat (int ofd, const char *from, int nfd, const char *to)
{
    return do_rename (R_RENAMEAT, ofd, from, nfd, to, 0);
}

int
renameat2 (int ofd, const char *from, int nfd, const char *to, unsigned int flags)
{
    return do_rename (R_RENAMEAT2, ofd, from, nfd, to, flags);
}

/* ---- interposed: descriptors --------------------------------------------------------- */

int
close (int fd)
{
    pl_init ();
    if (!active)
        return real.close (fd);
    pthread_mutex_lock (&mu);
    fd_untrack (fd);
    int r = real.close (fd);
    int e = errno;
    pthread_mutex_unlock (&mu);
    errno = e;
    return r;
}

static int
after_dup (int nfd)
{
    int e = errno;
    if (nfd >= 0)
        (void) fd_track (nfd);
    pthread_mutex_unlock (&mu);
    errno = e;
    return nfd;
}

int
dup (int fd)
{
    pl_init ();
    if (!active)
        return real.dup (fd);
    pthread_mutex_lock (&mu);
    return after_dup (real.dup (fd));
}

int
dup2 (int fd, int fd2)
{
    pl_init ();
    if (!active)
        return real.dup2 (fd, fd2);
    pthread_mutex_lock (&mu);
    if (fd != fd2)
        fd_untrack (fd2);
    return after_dup (real.dup2 (fd, fd2));
}

int
dup3 (int fd, int fd2, int flags)
{
    pl_init ();
    if (!active)
        return real.dup3 (fd, fd2, flags);
    pthread_mutex_lock (&mu);
    fd_untrack (fd2);
    return after_dup (real.dup3 (fd, fd2, flags));
}
