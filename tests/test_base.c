/* test_base.c — err, log, clock (settable time, replayable randomness, time parsing), codec,
 * fileio. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/err.h"
#include "rcn/fileio.h"
#include "rcn/log.h"

static void
test_strerror (void)
{
    for (int rc = 0; rc >= RCN_ELOST; rc--)
        CHECK (strcmp (rcn_strerror (rc), "unknown error") != 0);
    CHECK (strcmp (rcn_strerror (-999), "unknown error") == 0);
    char buf[8];
    rcn_errf (buf, sizeof buf, "%s", "a long message");
    CHECK (strlen (buf) == 7);
    rcn_errf (NULL, 0, "ignored %d", 1);
}

static void
test_clock (void)
{
    rcn_clock_set_fixed (1795311000000ULL);
    CHECK_EQ (rcn_now_ms (), 1795311000000ULL);
    rcn_clock_set_fixed (0);
    uint64_t real = rcn_now_ms ();
    CHECK (real > 1700000000000ULL);
    rcn_clock_set_offset (600000);            /* a member whose clock runs 10 minutes fast */
    uint64_t fast = rcn_now_ms ();
    CHECK (fast >= real + 600000 && fast < real + 600000 + 5000);
    rcn_clock_set_offset (0);
    uint64_t a = rcn_mono_ms (), b = rcn_mono_ms ();
    CHECK (b >= a);
}

static void
test_random (void)
{
    uint8_t x[64], y[64], z[64];
    rcn_random_seed (42);
    rcn_random_buf (x, sizeof x);
    rcn_random_buf (z, sizeof z);
    rcn_random_seed (42);
    rcn_random_buf (y, sizeof y);
    CHECK (memcmp (x, y, sizeof x) == 0);     /* replayable */
    CHECK (memcmp (x, z, sizeof x) != 0);     /* but not repeating */
    rcn_random_seed (43);
    rcn_random_buf (y, sizeof y);
    CHECK (memcmp (x, y, sizeof x) != 0);
}

static void
test_time_parse (void)
{
    uint64_t t = 0;
    char why[256];
    CHECK_EQ (rcn_time_parse ("2026-11-22T09:30:00+08:00", 0, &t, why, sizeof why), RCN_OK);
    CHECK_EQ (t, 1795311000000ULL);
    CHECK_EQ (rcn_time_parse ("2026-11-22T01:30:00Z", 0, &t, why, sizeof why), RCN_OK);
    CHECK_EQ (t, 1795311000000ULL);
    CHECK_EQ (rcn_time_parse ("2026-11-22T01:30:00.250Z", 0, &t, why, sizeof why), RCN_OK);
    CHECK_EQ (t, 1795311000250ULL);
    CHECK_EQ (rcn_time_parse ("1795311000000", 0, &t, why, sizeof why), RCN_OK);
    CHECK_EQ (t, 1795311000000ULL);
    CHECK_EQ (rcn_time_parse ("+6h", 1000, &t, why, sizeof why), RCN_OK);
    CHECK_EQ (t, 1000 + 6 * 3600000ULL);
    CHECK_EQ (rcn_time_parse ("-30m", 3600000, &t, why, sizeof why), RCN_OK);
    CHECK_EQ (t, 1800000);
    CHECK_EQ (rcn_time_parse ("2016-12-31T23:59:60Z", 0, &t, why, sizeof why), RCN_OK);
    CHECK_EQ (t, 1483228800000ULL);                    /* the leap second = 2017-01-01T00:00:00Z */
    CHECK_EQ (rcn_time_parse ("2017-01-01T07:59:60+08:00", 0, &t, why, sizeof why), RCN_OK);
    CHECK_EQ (t, 1483228800000ULL);
    CHECK_EQ (rcn_time_parse ("2024-02-29T00:00:00Z", 0, &t, why, sizeof why), RCN_OK);
    const char *bad[] = { "", "tomorrow", "+ 5h", "+-0s", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-22T09:30:00", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "+6x", "+h", "2026-11-22T09:30:00+8", NULL };
    for (int i = 0; bad[i]; i++) {
        why[0] = 0;
        CHECK_EQ (rcn_time_parse (bad[i], 0, &t, why, sizeof why), RCN_EINVAL);
        CHECK (why[0] != 0);
    }
    char buf[40];
    rcn_time_format (1795311000250ULL, buf, sizeof buf);
    CHECK (strcmp (buf, "2026-11-22T01:30:00.250Z") == 0);
}

static void
test_codec (void)
{
    uint8_t bin[32], back[32];
    for (int i = 0; i < 32; i++)
        bin[i] = (uint8_t) (i * 7 + 1);
    char hex[65];
    rcn_hex (bin, 32, hex);
    CHECK (strlen (hex) == 64);
    CHECK_EQ (rcn_unhex (hex, back, 32), RCN_OK);
    CHECK (memcmp (bin, back, 32) == 0);
    CHECK_EQ (rcn_unhex ("zz", back, 1), RCN_EINVAL);
    CHECK_EQ (rcn_unhex ("abc", back, 2), RCN_EINVAL);

    char *b64 = rcn_base64 ((const uint8_t *) "hello", 5);
    CHECK (b64 && strcmp (b64, "aGVsbG8=") == 0);
    uint8_t *dec = NULL;
    size_t dlen = 0;
    CHECK_EQ (rcn_unbase64 (b64, &dec, &dlen), RCN_OK);
    CHECK (dlen == 5 && memcmp (dec, "hello", 5) == 0);
    free (dec);
    free (b64);
    CHECK_EQ (rcn_unbase64 ("a$==", &dec, &dlen), RCN_EINVAL);

    char z85[41];
    rcn_z85_key (bin, z85);
    CHECK (strlen (z85) == 40);
    CHECK_EQ (rcn_unz85_key (z85, back), RCN_OK);
    CHECK (memcmp (bin, back, 32) == 0);
    CHECK_EQ (rcn_unz85_key ("short", back), RCN_EINVAL);
    CHECK_EQ (rcn_unz85_key ("\"123456789012345678901234567890123456789", back), RCN_EINVAL);

    /* UTF-8 text: well-formed, no controls; newline and tab only where asked for. */
    static const struct { const char *s; bool ok; } texts[] = {
        { "", true }, { "Zhuhai \xe7\x8f\xa0\xe6\xb5\xb7", true }, { "\xf0\x9f\x98\x80", true },
        { "\xc2\xa0", true }, { "\xf4\x8f\xbf\xbf", true },
        { "\x01", false }, { "\x7f", false }, { "\xc2\x85", false },          /* C0, DEL, C1 */
        { "\xc0\xaf", false }, { "\xe0\x80\xaf", false },                  /* overlong */
        { "\xed\xa0\x80", false }, { "\xf4\x90\x80\x80", false },          /* surrogate, too high */
        { "\xe2\x82", false }, { "\x80", false }, { "\xff", false },       /* cut, stray */
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        CHECK (rcn_utf8_text_ok (texts[i].s, strlen (texts[i].s), false) == texts[i].ok);
        CHECK (rcn_utf8_text_ok (texts[i].s, strlen (texts[i].s), true) == texts[i].ok);
    }
    CHECK (!rcn_utf8_text_ok ("a\nb\tc", 5, false));
    CHECK (rcn_utf8_text_ok ("a\nb\tc", 5, true));
    CHECK (!rcn_utf8_text_ok ("a\rb", 3, true));
    CHECK (!rcn_utf8_text_ok ("a\0b", 3, true));
}

static void
test_log_level (void)
{
    CHECK_EQ (rcn_log_level_parse ("warn"), RCN_LOG_WARN);
    CHECK_EQ (rcn_log_level_parse ("loud"), -1);
    rcn_log_set_tag ("310000");
    rcn_info ("test line with a\nnewline stays one line");
    rcn_log_set_tag (NULL);
}

static void
test_fileio (void)
{
    char *dir = rcn_test_tmpdir ("fileio");
    char path[PATH_MAX], link[PATH_MAX], why[PATH_MAX + 128] = "";
    snprintf (path, sizeof path, "%s/f", dir);
    snprintf (link, sizeof link, "%s/l", dir);

    /* What rcn_write_all writes, rcn_read_file reads back whole and NUL-terminated. */
    char text[3000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char) ('a' + i % 26);
    int fd = open (path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE (fd >= 0);
    CHECK_EQ (rcn_write_all (fd, text, sizeof text), 0);
    CHECK_EQ (rcn_write_all (fd, text, 0), 0);
    close (fd);
    errno = 0;
    CHECK_EQ (rcn_write_all (fd, text, 1), -1);             /* closed: errno says why */
    CHECK_EQ (errno, EBADF);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_EQ (rcn_read_file (path, 0, sizeof text, &buf, &len, why, sizeof why), RCN_OK);
    CHECK (buf && len == sizeof text && memcmp (buf, text, len) == 0 && buf[len] == '\0');
    free (buf);

    /* One byte over the cap is refused, naming the path; the out-parameters stay empty. */
    CHECK_EQ (rcn_read_file (path, 0, sizeof text - 1, &buf, &len, why, sizeof why),
              RCN_ETOOBIG);
    CHECK (buf == NULL && len == 0 && strstr (why, path) != NULL);

    /* A symbolic link is followed unless the caller says not to. */
    REQUIRE (symlink (path, link) == 0);
    CHECK_EQ (rcn_read_file (link, 0, sizeof text, &buf, &len, why, sizeof why), RCN_OK);
    free (buf);
    CHECK_EQ (rcn_read_file (link, RCN_READ_NOFOLLOW, sizeof text, &buf, &len, why, sizeof why),
              RCN_EIO);
    CHECK (buf == NULL && strstr (why, link) != NULL);

    /* A directory is not a file; a missing path is RCN_EIO unless the caller asks to tell. */
    CHECK_EQ (rcn_read_file (dir, 0, 100, &buf, &len, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, "not a regular file") != NULL);
    snprintf (link, sizeof link, "%s/missing", dir);
    CHECK_EQ (rcn_read_file (link, 0, 100, &buf, &len, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, link) != NULL);
    why[0] = '\0';
    CHECK_EQ (rcn_read_file (link, RCN_READ_NOTFOUND, 100, &buf, &len, why, sizeof why),
              RCN_ENOTFOUND);
    CHECK (buf == NULL && why[0] == '\0');

    /* An empty file reads as "" with the cap at 0. */
    fd = open (link, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE (fd >= 0);
    close (fd);
    CHECK_EQ (rcn_read_file (link, 0, 0, &buf, &len, why, sizeof why), RCN_OK);
    CHECK (buf && len == 0 && buf[0] == '\0');
    free (buf);

    CHECK_EQ (rcn_fsync_dir (dir), 0);
    CHECK_EQ (rcn_fsync_dir (path), -1);                     /* not a directory */
    CHECK_EQ (rcn_fsync_parent (path), 0);
    CHECK_EQ (rcn_fsync_parent ("/"), 0);
    CHECK_EQ (rcn_fsync_parent ("/tmp"), 0);
    CHECK_EQ (rcn_fsync_parent ("no-slash"), 0);              /* the current directory */
    snprintf (link, sizeof link, "%s/nodir/f", dir);
    errno = 0;
    CHECK_EQ (rcn_fsync_parent (link), -1);
    CHECK_EQ (errno, ENOENT);

    rcn_test_rmtree (dir);
    free (dir);
}

static void
test_parse_number (void)
{
    double v = -1;
    CHECK (rcn_parse_number ("1000", 0.1, 1e6, &v) && v == 1000);
    CHECK (rcn_parse_number ("0.5", 0.1, 1, &v) && v == 0.5);
    CHECK (rcn_parse_number ("1e3", 0, 1e3, &v) && v == 1000);
    v = 7;
    const char *bad[] = { "", "abc", "12x", "1 ", " ", "-1", "1e400", "nan", "2000" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK (!rcn_parse_number (bad[i], 0, 1000, &v));
    CHECK (v == 7);                    /* untouched on refusal */
}

int
main (void)
{
    RUN (test_strerror);
    RUN (test_clock);
    RUN (test_random);
    RUN (test_time_parse);
    RUN (test_codec);
    RUN (test_log_level);
    RUN (test_fileio);
    RUN (test_parse_number);
    return rcn_test_done ();
}
