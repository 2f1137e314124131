/* test_hwm.c — the own-seq high-water mark {signed_seq, committed_seq}: absent reads {0, 0};
 * the exact file format and mode; write/read round trip; committed never above signed (on
 * write and on read); committed never lowered, signed lowered only down to committed; tied
 * to one origin; strict about its format (format 1 refused by name); a failed write leaves
 * the old mark and no hwm.tmp behind.
 *
 * Each case is written so that it fails when the check it is about is taken out of hwm.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcn/codec.h"
#include "rcn/hwm.h"
#include "testutil.h"

static char *dir;
static uint8_t origin[32], other[32];
static char hex[65];

static void
file_path (char *buf, size_t len, const char *name)
{
    snprintf (buf, len, "%s/%s", dir, name);
}

static void
put_file (const char *name, const char *text, size_t len, mode_t mode)
{
    char p[512];
    file_path (p, sizeof p, name);
    unlink (p);
    int fd = open (p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    REQUIRE (fd >= 0);
    REQUIRE (fchmod (fd, mode) == 0);
    REQUIRE (write (fd, text, len) == (ssize_t) len);
    close (fd);
}

static void
put (const char *text, size_t len)
{
    put_file ("hwm", text, len, 0600);
}

/* The file's bytes (NUL-terminated; "" when absent). */
static void
slurp (char *buf, size_t len)
{
    char p[512];
    file_path (p, sizeof p, "hwm");
    buf[0] = '\0';
    int fd = open (p, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t n = read (fd, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
    close (fd);
}

static bool
tmp_exists (void)
{
    char p[512];
    file_path (p, sizeof p, "hwm.tmp");
    return access (p, F_OK) == 0;
}

static void
fresh (void)
{
    char p[512];
    file_path (p, sizeof p, "hwm");
    unlink (p);
    file_path (p, sizeof p, "hwm.tmp");
    unlink (p);
}

static int
wr (uint64_t s, uint64_t c, char *why, size_t whylen)
{
    rcn_hwm_t m = { .signed_seq = s, .committed_seq = c };
    return rcn_hwm_write (dir, origin, &m, why, whylen);
}

/* Reads and CHECKs the stored mark against {s, c}. */
#define CHECK_MARK(s, c) do { \
        rcn_hwm_t _m = { 777, 777 }; char _w[512] = ""; \
        CHECK_EQ (rcn_hwm_read (dir, origin, &_m, _w, sizeof _w), RCN_OK); \
        CHECK (_m.signed_seq == (uint64_t) (s)); \
        CHECK (_m.committed_seq == (uint64_t) (c)); } while (0)

static void
test_absent_write_read (void)
{
    char why[512] = "", p[512], want[200], got[256];
    rcn_hwm_t m = { 99, 98 };
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_OK);
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);

    /* Created 0600 whatever the umask lets through. */
    mode_t old = umask (0);
    CHECK_EQ (wr (5, 3, why, sizeof why), RCN_OK);
    umask (old);
    CHECK_MARK (5, 3);
    snprintf (want, sizeof want, "rcn-hwm 2 %s 5 3\n", hex);
    slurp (got, sizeof got);
    CHECK (strcmp (got, want) == 0);
    file_path (p, sizeof p, "hwm");
    struct stat st;
    REQUIRE (stat (p, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);
    CHECK (!tmp_exists ());

    CHECK_EQ (wr (1000000, 1000000, why, sizeof why), RCN_OK);
    CHECK_MARK (1000000, 1000000);
    CHECK_EQ (wr (UINT64_MAX, UINT64_MAX, why, sizeof why), RCN_OK);
    CHECK_MARK (UINT64_MAX, UINT64_MAX);
    snprintf (want, sizeof want, "rcn-hwm 2 %s 18446744073709551615 18446744073709551615\n",
              hex);
    slurp (got, sizeof got);
    CHECK (strcmp (got, want) == 0);
    CHECK (!tmp_exists ());

    /* Writing the stored value again only syncs it: the file is not replaced (same inode). */
    REQUIRE (stat (p, &st) == 0);
    ino_t ino = st.st_ino;
    CHECK_EQ (wr (UINT64_MAX, UINT64_MAX, why, sizeof why), RCN_OK);
    REQUIRE (stat (p, &st) == 0);
    CHECK (st.st_ino == ino);

    /* A stale hwm.tmp from a crash, world-readable, is simply replaced, and the mark that
     * results is 0600 all the same. */
    fresh ();
    snprintf (want, sizeof want, "rcn-hwm 2 %s 7 7\n", hex);
    put (want, strlen (want));
    put_file ("hwm.tmp", "junk that is longer than a mark would be, to see it truncated\n",
              62, 0644);
    CHECK_EQ (wr (8, 7, why, sizeof why), RCN_OK);
    CHECK (!tmp_exists ());
    CHECK_MARK (8, 7);
    REQUIRE (stat (p, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);
    snprintf (want, sizeof want, "rcn-hwm 2 %s 8 7\n", hex);
    slurp (got, sizeof got);
    CHECK (strcmp (got, want) == 0);
}

static void
test_committed_above_signed (void)
{
    char why[512] = "", before[256], after[256];
    CHECK_EQ (wr (10, 4, why, sizeof why), RCN_OK);
    slurp (before, sizeof before);
    why[0] = '\0';
    CHECK_EQ (wr (3, 4, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "hwm") && strstr (why, "committed_seq 4") && strstr (why, "signed_seq 3"));
    CHECK_EQ (wr (10, 11, why, sizeof why), RCN_EINVAL);
    slurp (after, sizeof after);
    CHECK (strcmp (before, after) == 0);
    CHECK_MARK (10, 4);
    CHECK (!tmp_exists ());
    /* Even on a fresh key dir, where nothing stored would refuse it. */
    fresh ();
    CHECK_EQ (wr (0, 1, why, sizeof why), RCN_EINVAL);
    slurp (after, sizeof after);
    CHECK (after[0] == '\0');

    /* A file that claims it is refused on read, and a write cannot paper over it. */
    char bad[200];
    snprintf (bad, sizeof bad, "rcn-hwm 2 %s 4 5\n", hex);
    put (bad, strlen (bad));
    rcn_hwm_t m = { 1, 1 };
    why[0] = '\0';
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "hwm") && strstr (why, "committed_seq 5 is above signed_seq 4"));
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);
    CHECK_EQ (wr (100, 100, why, sizeof why), RCN_EINVAL);
    slurp (after, sizeof after);
    CHECK (strcmp (after, bad) == 0);
}

static void
test_committed_never_lowered (void)
{
    char why[512] = "";
    CHECK_EQ (wr (10, 10, why, sizeof why), RCN_OK);
    why[0] = '\0';
    CHECK_EQ (wr (12, 9, why, sizeof why), RCN_EINVAL);          /* signed up, committed down */
    CHECK (strstr (why, "hwm") && strstr (why, "lower") && strstr (why, "from 10 to 9"));
    CHECK_EQ (wr (9, 9, why, sizeof why), RCN_EINVAL);           /* signed below committed */
    CHECK_EQ (wr (0, 0, why, sizeof why), RCN_EINVAL);
    CHECK_MARK (10, 10);

    /* signed_seq goes up ahead of a group, then may come back down to committed_seq (the node
     * at start, for seqs signed but never committed) — and not one below it. */
    CHECK_EQ (wr (20, 10, why, sizeof why), RCN_OK);
    CHECK_MARK (20, 10);
    CHECK_EQ (wr (10, 10, why, sizeof why), RCN_OK);
    CHECK_MARK (10, 10);
    CHECK_EQ (wr (15, 12, why, sizeof why), RCN_OK);
    CHECK_EQ (wr (13, 12, why, sizeof why), RCN_OK);
    CHECK_MARK (13, 12);
    CHECK_EQ (wr (11, 11, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (wr (11, 10, why, sizeof why), RCN_EINVAL);
    CHECK_MARK (13, 12);
    CHECK_EQ (wr (12, 12, why, sizeof why), RCN_OK);
    CHECK_MARK (12, 12);
    CHECK (!tmp_exists ());
}

static void
test_other_origin (void)
{
    char why[512] = "";
    CHECK_EQ (wr (100, 90, why, sizeof why), RCN_OK);
    rcn_hwm_t m = { 7, 7 }, big = { 200, 200 };
    why[0] = '\0';
    CHECK_EQ (rcn_hwm_read (dir, other, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "hwm") && strstr (why, "another member"));
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);
    CHECK_EQ (rcn_hwm_write (dir, other, &big, why, sizeof why), RCN_EINVAL);
    CHECK_MARK (100, 90);
}

static void
test_garbage (void)
{
    char upper[65];
    memcpy (upper, hex, 65);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char) (*c - 32);
    const char *max = "18446744073709551615", *over = "18446744073709551616";   /* 2^64 */
    struct { char text[240]; const char *needle; } bad[32];
    int n = 0;
#define BAD(needle_, ...) do { snprintf (bad[n].text, sizeof bad[n].text, __VA_ARGS__); \
                               bad[n++].needle = needle_; } while (0)
    BAD ("does not start", "%s", "");
    BAD ("does not start", "garbage\n");
    BAD ("does not start", "rcn-hwm 3 %s 5 5\n", hex);
    BAD ("does not start", "rcn-hwm  2 %s 5 5\n", hex);
    BAD ("format 1", "rcn-hwm 1 %s 5\n", hex);                  /* an older rcn's mark */
    BAD ("newline", "rcn-hwm 2 %s 5 5", hex);                   /* no newline: torn */
    BAD ("newline", "rcn-hwm 2 %s 5 5\n\n", hex);
    BAD ("newline", "rcn-hwm 2 %s 5 5 \n", hex);
    BAD ("newline", "rcn-hwm 2 %s 5 5x\n", hex);
    BAD ("committed_seq after", "rcn-hwm 2 %s 5\n", hex);       /* format 1's shape */
    BAD ("committed_seq after", "rcn-hwm 2 %s 5\t5\n", hex);
    BAD ("committed_seq is not", "rcn-hwm 2 %s 5  5\n", hex);
    BAD ("committed_seq is not", "rcn-hwm 2 %s 5 -5\n", hex);
    BAD ("committed_seq is not", "rcn-hwm 2 %s 5 05\n", hex);
    BAD ("committed_seq is not", "rcn-hwm 2 %s 5 00\n", hex);
    BAD ("signed_seq is not", "rcn-hwm 2 %s 05 5\n", hex);
    BAD ("signed_seq is not", "rcn-hwm 2 %s  5 5\n", hex);
    BAD ("signed_seq is not", "rcn-hwm 2 %s -5 5\n", hex);
    BAD ("signed_seq overflows", "rcn-hwm 2 %s %s 5\n", hex, over);
    BAD ("committed_seq overflows", "rcn-hwm 2 %s %s %s\n", hex, max, over);
    BAD ("64 hex", "rcn-hwm 2 %.63s 5 5\n", hex);
    BAD ("64 lowercase hex", "rcn-hwm 2 %s 5 5\n", upper);
    BAD ("64 lowercase hex", "rcn-hwm 2 %.63sg 5 5\n", hex);
    BAD ("above signed_seq", "rcn-hwm 2 %s 5 6\n", hex);
#undef BAD
    for (int i = 0; i < n; i++) {
        put (bad[i].text, strlen (bad[i].text));
        char why[512] = "";
        rcn_hwm_t m = { 1234, 1234 };
        CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
        if (!strstr (why, "/hwm") || !strstr (why, bad[i].needle)) {
            CHECK (!"the message names the file and what is wrong");
            fprintf (stderr, "    case %d \"%s\": %s\n", i, bad[i].text, why);
        }
        CHECK (m.signed_seq == 0 && m.committed_seq == 0);
        /* Nor can a write paper over it: the file stays as it was. */
        char after[256];
        CHECK_EQ (wr (1u << 30, 1u << 30, why, sizeof why), RCN_EINVAL);
        slurp (after, sizeof after);
        CHECK (strcmp (after, bad[i].text) == 0);
    }
    /* The older format is named, with what to do about it. */
    put (bad[4].text, strlen (bad[4].text));
    char why[512] = "";
    rcn_hwm_t m;
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "older rcn") && strstr (why, "rcn-hwm 2 <origin> N N"));

    char big[400];
    memset (big, '9', sizeof big);
    put (big, sizeof big);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "longer than") != NULL);
    put ("rcn-hwm 2 \0", 11);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);

    char good[240];
    snprintf (good, sizeof good, "rcn-hwm 2 %s 0 0\n", hex);
    put (good, strlen (good));
    CHECK_MARK (0, 0);
    snprintf (good, sizeof good, "rcn-hwm 2 %s %s 0\n", hex, max);
    put (good, strlen (good));
    CHECK_MARK (UINT64_MAX, 0);
    snprintf (good, sizeof good, "rcn-hwm 2 %s %s %s\n", hex, max, max);
    put (good, strlen (good));
    CHECK_MARK (UINT64_MAX, UINT64_MAX);

    /* A symlink is not followed: the mark is a file of the key dir's own. */
    fresh ();
    snprintf (good, sizeof good, "rcn-hwm 2 %s 3 3\n", hex);
    put_file ("real", good, strlen (good), 0600);
    char p[512], target[512];
    file_path (p, sizeof p, "hwm");
    file_path (target, sizeof target, "real");
    REQUIRE (symlink (target, p) == 0);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, "/hwm") != NULL);
    unlink (p);
    unlink (target);
}

static void
test_no_dir (void)
{
    char why[512] = "", p[512];
    rcn_hwm_t m = { 5, 5 }, one = { 1, 1 };
    file_path (p, sizeof p, "missing");
    CHECK_EQ (rcn_hwm_read (p, origin, &m, why, sizeof why), RCN_OK);      /* no mark yet */
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);
    CHECK_EQ (rcn_hwm_write (p, origin, &one, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, p) != NULL);
}

/* A write that fails half-way (here: the file size limit stops the write to hwm.tmp) reports
 * it, keeps the old mark and removes hwm.tmp. */
static void
test_failed_write (void)
{
    char why[512] = "", before[256], after[256];
    CHECK_EQ (wr (10, 10, why, sizeof why), RCN_OK);
    slurp (before, sizeof before);
    struct rlimit old, small;
    REQUIRE (getrlimit (RLIMIT_FSIZE, &old) == 0);
    small = old;
    small.rlim_cur = 16;
    void (*prev) (int) = signal (SIGXFSZ, SIG_IGN);
    REQUIRE (setrlimit (RLIMIT_FSIZE, &small) == 0);
    why[0] = '\0';
    int rc = wr (20, 20, why, sizeof why);
    REQUIRE (setrlimit (RLIMIT_FSIZE, &old) == 0);
    signal (SIGXFSZ, prev);
    CHECK_EQ (rc, RCN_EIO);
    CHECK (strstr (why, "hwm.tmp") != NULL);
    CHECK (!tmp_exists ());
    slurp (after, sizeof after);
    CHECK (strcmp (before, after) == 0);
    CHECK_MARK (10, 10);
}

int
main (void)
{
    dir = rcn_test_tmpdir ("hwm");
    for (int i = 0; i < 32; i++) {
        origin[i] = (uint8_t) (i * 7 + 1);
        other[i] = (uint8_t) (i * 7 + 2);
    }
    rcn_hex (origin, 32, hex);
    RUN (test_absent_write_read);
    fresh ();
    RUN (test_committed_above_signed);
    fresh ();
    RUN (test_committed_never_lowered);
    fresh ();
    RUN (test_other_origin);
    RUN (test_garbage);
    fresh ();
    RUN (test_no_dir);
    RUN (test_failed_write);
    rcn_test_rmtree (dir);
    free (dir);
    return rcn_test_done ();
}
