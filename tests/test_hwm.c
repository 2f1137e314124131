/* test_hwm.c — the own-seq high-water mark: absent reads 0, raise/read, never lowered, tied
 * to one origin, strict about its format, and no temporary file left behind. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcn/codec.h"
#include "rcn/hwm.h"
#include "testutil.h"

static char *dir;
static uint8_t origin[32], other[32];

static void
file_path (char *buf, size_t len, const char *name)
{
    snprintf (buf, len, "%s/%s", dir, name);
}

static void
put (const char *text, size_t len)
{
    char p[512];
    file_path (p, sizeof p, "hwm");
    int fd = open (p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE (fd >= 0);
    REQUIRE (write (fd, text, len) == (ssize_t) len);
    close (fd);
}

static void
test_absent_raise_read (void)
{
    uint64_t seq = 99;
    char why[512] = "", p[512];
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK_EQ (seq, 0);

    CHECK_EQ (rcn_hwm_raise (dir, origin, 5, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK_EQ (seq, 5);

    /* The exact format of hwm.h. */
    char hex[65], want[128], got[256] = "";
    snprintf (want, sizeof want, "rcn-hwm 1 %s 5\n", rcn_hex (origin, 32, hex));
    file_path (p, sizeof p, "hwm");
    int fd = open (p, O_RDONLY);
    REQUIRE (fd >= 0);
    ssize_t n = read (fd, got, sizeof got - 1);
    close (fd);
    CHECK (n > 0 && strcmp (got, want) == 0);
    struct stat st;
    REQUIRE (stat (p, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);

    file_path (p, sizeof p, "hwm.tmp");
    CHECK (access (p, F_OK) != 0);

    CHECK_EQ (rcn_hwm_raise (dir, origin, 5, why, sizeof why), RCN_OK);      /* same: fine */
    CHECK_EQ (rcn_hwm_raise (dir, origin, 1000000, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK_EQ (seq, 1000000);
    CHECK (access (p, F_OK) != 0);
    CHECK_EQ (rcn_hwm_raise (dir, origin, UINT64_MAX, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK (seq == UINT64_MAX);
    CHECK (access (p, F_OK) != 0);
    /* A stale hwm.tmp from a crash is simply replaced. */
    char h2[65];
    snprintf (want, sizeof want, "rcn-hwm 1 %s 7\n", rcn_hex (origin, 32, h2));
    put (want, strlen (want));
    fd = open (p, O_WRONLY | O_CREAT, 0600);
    REQUIRE (fd >= 0);
    REQUIRE (write (fd, "junk", 4) == 4);
    close (fd);
    CHECK_EQ (rcn_hwm_raise (dir, origin, 8, why, sizeof why), RCN_OK);
    CHECK (access (p, F_OK) != 0);
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK_EQ (seq, 8);
}

static void
test_never_lowered (void)
{
    char why[512] = "";
    uint64_t seq;
    CHECK_EQ (rcn_hwm_raise (dir, origin, 100, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_hwm_raise (dir, origin, 99, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "lower") && strstr (why, "100") && strstr (why, "99"));
    CHECK_EQ (rcn_hwm_raise (dir, origin, 0, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK_EQ (seq, 100);
}

static void
test_other_origin (void)
{
    char why[512] = "";
    uint64_t seq = 7;
    CHECK_EQ (rcn_hwm_raise (dir, origin, 100, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_hwm_read (dir, other, &seq, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "another member") != NULL);
    CHECK_EQ (rcn_hwm_raise (dir, other, 200, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK_EQ (seq, 100);
}

static void
test_garbage (void)
{
    char hex[65], upper[65];
    rcn_hex (origin, 32, hex);
    memcpy (upper, hex, 65);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char) (*c - 32);
    char bad[16][200];
    int n = 0;
    snprintf (bad[n++], 200, "%s", "");
    snprintf (bad[n++], 200, "garbage\n");
    snprintf (bad[n++], 200, "rcn-hwm 2 %s 5\n", hex);
    snprintf (bad[n++], 200, "rcn-hwm 1 %s 5", hex);             /* no newline: torn */
    snprintf (bad[n++], 200, "rcn-hwm 1 %s 5\n\n", hex);
    snprintf (bad[n++], 200, "rcn-hwm 1 %s\n", hex);
    snprintf (bad[n++], 200, "rcn-hwm 1 %s -5\n", hex);
    snprintf (bad[n++], 200, "rcn-hwm 1 %s 05\n", hex);
    snprintf (bad[n++], 200, "rcn-hwm 1 %s 5x\n", hex);
    snprintf (bad[n++], 200, "rcn-hwm 1 %s 18446744073709551616\n", hex);   /* 2^64 */
    snprintf (bad[n++], 200, "rcn-hwm 1 %s  5\n", hex);
    snprintf (bad[n++], 200, "rcn-hwm 1 %.63s 5\n", hex);
    snprintf (bad[n++], 200, "rcn-hwm 1 %s 5\n", upper);
    snprintf (bad[n++], 200, "rcn-hwm  1 %s 5\n", hex);
    for (int i = 0; i < n; i++) {
        put (bad[i], strlen (bad[i]));
        char why[512] = "";
        uint64_t seq = 1234;
        CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, "hwm") != NULL);
        CHECK_EQ (seq, 0);
        /* Nor can a raise paper over it. */
        CHECK_EQ (rcn_hwm_raise (dir, origin, 1u << 30, why, sizeof why), RCN_EINVAL);
    }
    char big[400];
    memset (big, '9', sizeof big);
    put (big, sizeof big);
    uint64_t seq;
    char why[512];
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_EINVAL);
    put ("rcn-hwm 1 \0", 11);
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_EINVAL);

    char good[200];
    snprintf (good, sizeof good, "rcn-hwm 1 %s 0\n", hex);
    put (good, strlen (good));
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK_EQ (seq, 0);
    snprintf (good, sizeof good, "rcn-hwm 1 %s 18446744073709551615\n", hex);
    put (good, strlen (good));
    CHECK_EQ (rcn_hwm_read (dir, origin, &seq, why, sizeof why), RCN_OK);
    CHECK (seq == UINT64_MAX);
}

static void
test_no_dir (void)
{
    char why[512] = "", p[512];
    uint64_t seq;
    file_path (p, sizeof p, "missing");
    CHECK_EQ (rcn_hwm_read (p, origin, &seq, why, sizeof why), RCN_OK);      /* no mark yet */
    CHECK_EQ (seq, 0);
    CHECK_EQ (rcn_hwm_raise (p, origin, 1, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, p) != NULL);
}

static void
fresh (void)
{
    char p[512];
    file_path (p, sizeof p, "hwm");
    unlink (p);
}

int
main (void)
{
    dir = rcn_test_tmpdir ("hwm");
    for (int i = 0; i < 32; i++) {
        origin[i] = (uint8_t) (i * 7 + 1);
        other[i] = (uint8_t) (i * 7 + 2);
    }
    RUN (test_absent_raise_read);
    fresh ();
    RUN (test_never_lowered);
    fresh ();
    RUN (test_other_origin);
    RUN (test_garbage);
    RUN (test_no_dir);
    rcn_test_rmtree (dir);
    free (dir);
    return rcn_test_done ();
}
