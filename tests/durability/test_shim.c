/* test_shim.c — proves the power-loss shim (powerloss.c) itself, independent of rcn.
 *
 * The one design decision: the test runs itself as the child. `test_shim SHIM` is the parent;
 * for every scenario and crash point it execs `test_shim --child SCENARIO BASE` with the shim
 * preloaded, RCN_PL_DIR=BASE/pl and RCN_PL_CRASH_AT=N, waits, and compares the files byte for
 * byte with what a disk that lost power at that call holds: exactly the synced content. Every
 * scenario also runs without a crash point, to show the writes really happened — so a shim
 * that discarded nothing, or everything, fails here. The last cases run with RCN_PL_STRICT=1,
 * where a new name lasts only once its directory is fsynced. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../testutil.h"

#define CHILD_OK 0
#define CHILD_ERR 3
#define CRASHED 137

/* ---- the child: plain system calls on files under BASE/pl ----------------------------- */

static const char *base;

static void
fail_child (const char *what, const char *name)
{
    fprintf (stderr, "child: %s %s: %s\n", what, name, strerror (errno));
    exit (CHILD_ERR);
}

static char *
at (const char *rel)
{
    static char bufs[4][4096];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf (b, sizeof bufs[0], "%s/%s", base, rel);
    return b;
}

static int
xopen (const char *rel, int flags)
{
    int fd = open (at (rel), flags | O_CLOEXEC, 0600);
    if (fd < 0)
        fail_child ("open", rel);
    return fd;
}

/* One write call of n bytes of c at off (off < 0: write() at the file position). */
static void
xfill (int fd, char c, size_t n, off_t off)
{
    char *b = malloc (n);
    if (!b)
        fail_child ("malloc", "");
    memset (b, c, n);
    ssize_t w = off < 0 ? write (fd, b, n) : pwrite (fd, b, n, off);
    free (b);
    if (w != (ssize_t) n)
        fail_child ("write", "");
}

static void
xsync (int fd)
{
    if (fsync (fd) != 0)
        fail_child ("fsync", "");
}

static void
xsyncdir (const char *rel)
{
    int fd = open (at (rel), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync (fd) != 0)
        fail_child ("fsync dir", rel);
    close (fd);
}

/* Counted calls in [brackets]; RCN_PL_CRASH_AT=N stops before the Nth. */
static int
child (const char *scenario)
{
    if (strcmp (scenario, "basic") == 0) {
        int out = open (at ("outside"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (out < 0)
            fail_child ("open", "outside");
        xfill (out, 'o', 100, 0);                       /* untracked: never counted or lost */
        close (out);
        int fd = xopen ("pl/a", O_CREAT | O_WRONLY);
        xfill (fd, 'A', 4096, -1);                      /* [1] */
        xsync (fd);                                     /* [2] */
        xfill (fd, 'B', 2048, 0);                       /* [3] overwrite */
        xfill (fd, 'C', 4096, -1);                      /* [4] extend */
        xsync (fd);                                     /* [5] */
        xfill (fd, 'D', 10, -1);                        /* [6] */
        close (fd);
    } else if (strcmp (scenario, "writev") == 0) {
        int fd = xopen ("pl/v", O_CREAT | O_RDWR);
        xfill (fd, 'A', 8192, 0);                       /* [1] */
        if (fdatasync (fd) != 0)                        /* [2] */
            fail_child ("fdatasync", "v");
        char x[100], y[5000];
        memset (x, 'X', sizeof x);
        memset (y, 'Y', sizeof y);
        struct iovec iov[2] = { { x, sizeof x }, { y, sizeof y } };
        if (lseek (fd, 4096, SEEK_SET) != 4096 || writev (fd, iov, 2) != 5100)   /* [3] */
            fail_child ("writev", "v");
        if (ftruncate (fd, 20000) != 0)                 /* [4] */
            fail_child ("ftruncate", "v");
        if (fdatasync (fd) != 0)                        /* [5] */
            fail_child ("fdatasync", "v");
        close (fd);
    } else if (strcmp (scenario, "dsync") == 0) {
        /* As LMDB: pages through one descriptor, the meta page through an O_DSYNC one. */
        int fd1 = xopen ("pl/m", O_CREAT | O_RDWR);
        int fd2 = xopen ("pl/m", O_WRONLY | O_DSYNC);
        xfill (fd1, 'Z', 100, 0);                       /* [1] */
        xfill (fd2, 'W', 50, 50);                       /* [2] durable at once */
        xfill (fd1, 'V', 100, 200);                     /* [3] */
        xfill (fd2, 'U', 10, 0);                        /* [4] durable at once */
        xfill (fd1, 'T', 10, 60);                       /* [5] over durable W */
        if (fdatasync (fd1) != 0)                       /* [6] */
            fail_child ("fdatasync", "m");
        close (fd1);
        close (fd2);
    } else if (strcmp (scenario, "trunc") == 0) {
        int fd = xopen ("pl/t", O_CREAT | O_RDWR);
        xfill (fd, 'A', 1000, 0);                       /* [1] */
        xsync (fd);                                     /* [2] */
        if (ftruncate (fd, 5000) != 0)                  /* [3] grow */
            fail_child ("ftruncate", "t");
        if (ftruncate (fd, 10) != 0)                    /* [4] shrink below the synced size */
            fail_child ("ftruncate", "t");
        xfill (fd, 'B', 5, 0);                          /* [5] */
        xsync (fd);                                     /* [6] */
        close (fd);
        fd = xopen ("pl/t", O_WRONLY | O_TRUNC);        /* [7] */
        xfill (fd, 'R', 3, -1);                         /* [8] */
        close (fd);
        xsyncdir ("pl");                                /* [9] syncs no file content */
    } else if (strcmp (scenario, "rename") == 0) {
        int fd = xopen ("pl/new", O_CREAT | O_WRONLY);
        xfill (fd, 'O', 100, 0);                        /* [1] */
        xsync (fd);                                     /* [2] */
        close (fd);
        xsyncdir ("pl");                                /* [3] */
        fd = xopen ("pl/tmp", O_CREAT | O_WRONLY);
        xfill (fd, 'N', 50, 0);                         /* [4] */
        xsync (fd);                                     /* [5] */
        close (fd);
        fd = xopen ("pl/new", O_WRONLY);
        xfill (fd, 'P', 10, 0);                         /* [6] unsynced, on the file replaced */
        close (fd);
        if (rename (at ("pl/tmp"), at ("pl/new")) != 0) /* [7] */
            fail_child ("rename", "tmp");
        xsyncdir ("pl");                                /* [8] */
        fd = xopen ("pl/other", O_CREAT | O_WRONLY);
        xfill (fd, 'x', 1, 0);                          /* [9] */
        close (fd);
    } else if (strcmp (scenario, "dirrename") == 0) {
        if (mkdir (at ("pl/k.new"), 0700) != 0)
            fail_child ("mkdir", "k.new");
        int fd = xopen ("pl/k.new/f", O_CREAT | O_WRONLY);
        xfill (fd, 'K', 10, 0);                         /* [1] */
        xsync (fd);                                     /* [2] */
        close (fd);
        int dfd = open (at ("pl"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || renameat (dfd, "k.new", dfd, "k") != 0)  /* [3] */
            fail_child ("renameat", "k.new");
        if (fsync (dfd) != 0)                           /* [4] */
            fail_child ("fsync", "pl");
        close (dfd);
        fd = xopen ("pl/other", O_CREAT | O_WRONLY);
        xfill (fd, 'x', 1, 0);                          /* [5] */
        close (fd);
    } else if (strcmp (scenario, "create") == 0) {
        /* Calls counted with RCN_PL_STRICT=1 (creations count there); without: {braces}. */
        if (mkdir (at ("pl/d"), 0700) != 0)             /* [1] */
            fail_child ("mkdir", "d");
        int fd = xopen ("pl/d/f", O_CREAT | O_WRONLY);  /* [2] */
        xfill (fd, 'F', 10, 0);                         /* [3] {1} */
        xsync (fd);                                     /* [4] {2} */
        close (fd);
        xsyncdir ("pl/d");                              /* [5] {3} f's name is durable */
        fd = xopen ("pl/g", O_CREAT | O_WRONLY);        /* [6] */
        xfill (fd, 'G', 10, 0);                         /* [7] {4} */
        xsync (fd);                                     /* [8] {5} */
        xsyncdir ("pl");                                /* [9] {6} d's and g's names too */
        xfill (fd, 'h', 1, 0);                          /* [10] {7} */
        close (fd);
    } else {
        fprintf (stderr, "child: unknown scenario %s\n", scenario);
        return CHILD_ERR;
    }
    return CHILD_OK;
}

/* ---- the parent ---------------------------------------------------------------------- */

static const char *self, *shim;
static bool strict;             /* run children with RCN_PL_STRICT=1 */

/* Runs scenario in a fresh BASE (BASE/pl tracked); crash_at 0 = no crash point. Returns
 * the exit status (-1 when it did not exit) and leaves BASE for the checks; *stderr_out
 * (caller frees) holds the child's stderr. */
static int
run (const char *scenario, unsigned crash_at, char **base_out, char **stderr_out)
{
    char *b = rcn_test_tmpdir ("shim");
    char pl[4096], errpath[4096], crash[32];
    snprintf (pl, sizeof pl, "%s/pl", b);
    snprintf (errpath, sizeof errpath, "%s/stderr", b);
    snprintf (crash, sizeof crash, "%u", crash_at);
    if (mkdir (pl, 0700) != 0) {
        perror ("mkdir");
        exit (1);
    }
    fflush (NULL);
    pid_t pid = fork ();
    if (pid < 0) {
        perror ("fork");
        exit (1);
    }
    if (pid == 0) {
        int e = open (errpath, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
        if (e < 0 || dup2 (e, 2) < 0)
            _exit (CHILD_ERR);
        setenv ("LD_PRELOAD", shim, 1);
        setenv ("RCN_PL_DIR", pl, 1);
        setenv ("RCN_PL_COUNT", "1", 1);
        if (strict)
            setenv ("RCN_PL_STRICT", "1", 1);
        else
            unsetenv ("RCN_PL_STRICT");
        if (crash_at)
            setenv ("RCN_PL_CRASH_AT", crash, 1);
        else
            unsetenv ("RCN_PL_CRASH_AT");
        /* Under the sanitizers the uninstrumented shim is preloaded ahead of their runtime. */
        const char *asan = getenv ("ASAN_OPTIONS");
        char opts[1024];
        snprintf (opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "",
                  asan && *asan ? ":" : "");
        setenv ("ASAN_OPTIONS", opts, 1);
        execl (self, self, "--child", scenario, b, (char *) NULL);
        _exit (CHILD_ERR);
    }
    int status;
    while (waitpid (pid, &status, 0) < 0)
        if (errno != EINTR) {
            perror ("waitpid");
            exit (1);
        }
    *stderr_out = NULL;
    FILE *f = fopen (errpath, "r");
    if (f) {
        char *buf = calloc (1, 65536);
        if (buf) {
            size_t n = fread (buf, 1, 65535, f);
            buf[n] = '\0';
            *stderr_out = buf;
        }
        fclose (f);
    }
    *base_out = b;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* Expected content, built from runs of one byte. */
typedef struct {
    char buf[32768];
    size_t len;
} expect_t;

static void
fill (expect_t *x, char c, size_t n)
{
    if (x->len + n > sizeof x->buf)
        abort ();
    memset (x->buf + x->len, c, n);
    x->len += n;
}

static bool
file_is (const char *b, const char *rel, const expect_t *x)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", b, rel);
    FILE *f = fopen (path, "rb");
    if (!f) {
        fprintf (stderr, "    %s: %s\n", rel, strerror (errno));
        return false;
    }
    static char got[65536];
    size_t n = fread (got, 1, sizeof got, f);
    fclose (f);
    if (n == x->len && memcmp (got, x->buf, n) == 0)
        return true;
    size_t i = 0;
    while (i < n && i < x->len && got[i] == x->buf[i])
        i++;
    fprintf (stderr, "    %s: %zu bytes, expected %zu; first difference at %zu\n", rel, n,
             x->len, i);
    return false;
}

static bool
absent (const char *b, const char *rel)
{
    char path[4096];
    struct stat st;
    snprintf (path, sizeof path, "%s/%s", b, rel);
    return lstat (path, &st) != 0 && errno == ENOENT;
}

static bool
said (const char *err, const char *what)
{
    bool ok = err && strstr (err, what);
    if (!ok)
        fprintf (stderr, "    stderr lacks \"%s\"; it was:\n%s\n", what, err ? err : "(none)");
    return ok;
}

/* Runs one case: exit status, the crash message, then the caller's checks on *b. */
static char *
crash_case (const char *scenario, unsigned at_call, int want_status)
{
    char *b, *err;
    fprintf (stderr, "-- %s, crash at %u\n", scenario, at_call);
    int st = run (scenario, at_call, &b, &err);
    CHECK_EQ (st, want_status);
    if (want_status == CRASHED) {
        char msg[64];
        snprintf (msg, sizeof msg, "powerloss: crashed at call %u\n", at_call);
        CHECK (said (err, msg));
    } else if (st != want_status && err) {
        fprintf (stderr, "%s", err);
    }
    free (err);
    return b;
}

static void
done_case (char *b)
{
    rcn_test_rmtree (b);
    free (b);
}

static void
test_basic (void)
{
    expect_t x;
    char *b, *err;

    /* Without a crash point: every write happened, six calls were counted. */
    fprintf (stderr, "-- basic, no crash\n");
    CHECK_EQ (run ("basic", 0, &b, &err), CHILD_OK);
    CHECK (said (err, "powerloss: 6 calls\n"));
    free (err);
    x.len = 0; fill (&x, 'B', 2048); fill (&x, 'A', 2048); fill (&x, 'C', 4096); fill (&x, 'D', 10);
    CHECK (file_is (b, "pl/a", &x));
    done_case (b);

    /* Crash on the second fsync: the overwrite and the extension since the first are gone. */
    b = crash_case ("basic", 5, CRASHED);
    x.len = 0; fill (&x, 'A', 4096);
    CHECK (file_is (b, "pl/a", &x));
    x.len = 0; fill (&x, 'o', 100);
    CHECK (file_is (b, "outside", &x));                 /* outside RCN_PL_DIR: untouched */
    done_case (b);

    /* Crash on the first fsync, before it runs: nothing was ever durable. */
    b = crash_case ("basic", 2, CRASHED);
    x.len = 0;
    CHECK (file_is (b, "pl/a", &x));
    done_case (b);

    /* Crash after the second fsync: only the last write is lost. */
    b = crash_case ("basic", 6, CRASHED);
    x.len = 0; fill (&x, 'B', 2048); fill (&x, 'A', 2048); fill (&x, 'C', 4096);
    CHECK (file_is (b, "pl/a", &x));
    done_case (b);
}

static void
test_writev_ftruncate (void)
{
    expect_t x;
    char *b = crash_case ("writev", 0, CHILD_OK);
    x.len = 0; fill (&x, 'A', 4096); fill (&x, 'X', 100); fill (&x, 'Y', 5000);
    fill (&x, '\0', 20000 - 9196);
    CHECK (file_is (b, "pl/v", &x));
    done_case (b);

    b = crash_case ("writev", 5, CRASHED);              /* writev and the growth are lost */
    x.len = 0; fill (&x, 'A', 8192);
    CHECK (file_is (b, "pl/v", &x));
    done_case (b);
}

static void
test_dsync (void)
{
    expect_t x;
    char *b = crash_case ("dsync", 0, CHILD_OK);
    x.len = 0; fill (&x, 'U', 10); fill (&x, 'Z', 40); fill (&x, 'W', 10); fill (&x, 'T', 10);
    fill (&x, 'W', 30); fill (&x, '\0', 100); fill (&x, 'V', 100);
    CHECK (file_is (b, "pl/m", &x));
    done_case (b);

    /* O_DSYNC writes are kept; the other descriptor's unsynced bytes read as a hole. */
    b = crash_case ("dsync", 6, CRASHED);
    x.len = 0; fill (&x, 'U', 10); fill (&x, '\0', 40); fill (&x, 'W', 50);
    CHECK (file_is (b, "pl/m", &x));
    done_case (b);

    b = crash_case ("dsync", 3, CRASHED);
    x.len = 0; fill (&x, '\0', 50); fill (&x, 'W', 50);
    CHECK (file_is (b, "pl/m", &x));
    done_case (b);
}

static void
test_truncate (void)
{
    expect_t x;
    char *b = crash_case ("trunc", 0, CHILD_OK);
    x.len = 0; fill (&x, 'R', 3);
    CHECK (file_is (b, "pl/t", &x));
    done_case (b);

    /* Growth and shrinking without fsync are both undone: the synced 1000 bytes are back. */
    b = crash_case ("trunc", 5, CRASHED);
    x.len = 0; fill (&x, 'A', 1000);
    CHECK (file_is (b, "pl/t", &x));
    done_case (b);

    /* A synced shrink is kept. */
    b = crash_case ("trunc", 7, CRASHED);
    x.len = 0; fill (&x, 'B', 5); fill (&x, 'A', 5);
    CHECK (file_is (b, "pl/t", &x));
    done_case (b);

    /* open(O_TRUNC) and the write after it, never synced, are undone. */
    b = crash_case ("trunc", 9, CRASHED);
    CHECK (file_is (b, "pl/t", &x));
    done_case (b);
}

static void
test_rename (void)
{
    expect_t n, o;
    n.len = 0; fill (&n, 'N', 50);
    o.len = 0; fill (&o, 'O', 100);

    char *b = crash_case ("rename", 0, CHILD_OK);
    CHECK (file_is (b, "pl/new", &n));
    CHECK (absent (b, "pl/tmp"));
    done_case (b);

    /* Renamed but the directory not fsynced: reverted, and the replaced file is back with
     * its synced content (not the unsynced P's written into it). */
    b = crash_case ("rename", 8, CRASHED);
    CHECK (file_is (b, "pl/new", &o));
    CHECK (file_is (b, "pl/tmp", &n));
    done_case (b);

    /* With the directory fsynced, the rename is kept. */
    b = crash_case ("rename", 9, CRASHED);
    CHECK (file_is (b, "pl/new", &n));
    CHECK (absent (b, "pl/tmp"));
    done_case (b);

    /* A directory renamed into place, likewise. */
    expect_t k;
    k.len = 0; fill (&k, 'K', 10);
    b = crash_case ("dirrename", 4, CRASHED);
    CHECK (file_is (b, "pl/k.new/f", &k));
    CHECK (absent (b, "pl/k"));
    done_case (b);
    b = crash_case ("dirrename", 5, CRASHED);
    CHECK (file_is (b, "pl/k/f", &k));
    CHECK (absent (b, "pl/k.new"));
    done_case (b);
}

/* POSIX-strict mode: a new name is durable only once its directory is fsynced. */
static void
test_strict_create (void)
{
    expect_t f, g, g2;
    f.len = 0; fill (&f, 'F', 10);
    g.len = 0; fill (&g, 'G', 10);
    g2.len = 0; fill (&g2, 'h', 1); fill (&g2, 'G', 9);

    /* By default creations survive: only contents are at stake. */
    char *b = crash_case ("create", 7, CRASHED);
    CHECK (file_is (b, "pl/d/f", &f));
    CHECK (file_is (b, "pl/g", &g));
    done_case (b);

    strict = true;
    b = crash_case ("create", 0, CHILD_OK);
    CHECK (file_is (b, "pl/d/f", &f));
    CHECK (file_is (b, "pl/g", &g2));
    done_case (b);

    /* f and its directory's entry were synced, but d itself is not in pl yet: all gone. */
    b = crash_case ("create", 9, CRASHED);
    CHECK (absent (b, "pl/d"));
    CHECK (absent (b, "pl/g"));
    done_case (b);

    /* After pl was fsynced, everything created is there with its synced content. */
    b = crash_case ("create", 10, CRASHED);
    CHECK (file_is (b, "pl/d/f", &f));
    CHECK (file_is (b, "pl/g", &g));
    done_case (b);
    strict = false;
}

int
main (int argc, char **argv)
{
    if (argc == 4 && strcmp (argv[1], "--child") == 0) {
        base = argv[3];
        return child (argv[2]);
    }
    if (argc != 2) {
        fprintf (stderr, "usage: test_shim PATH/TO/libpowerloss.so\n");
        return 2;
    }
    self = "/proc/self/exe";
    static char exe[4096];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        self = exe;
    }
    shim = argv[1];
    if (access (shim, R_OK) != 0) {
        fprintf (stderr, "test_shim: %s: %s\n", shim, strerror (errno));
        return 2;
    }
    RUN (test_basic);
    RUN (test_writev_ftruncate);
    RUN (test_dsync);
    RUN (test_truncate);
    RUN (test_rename);
    RUN (test_strict_create);
    return rcn_test_done ();
}
