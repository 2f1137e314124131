/* test_schedule.c — the round schedule: local dates and slots in the roster's zone, checked
 * against Unix times computed independently (GNU date, e.g. `date -d '2026-11-22 10:00 +0800'
 * +%s` = 1795312800): each slot reached exactly at its time, day, month, year and leap-day
 * boundaries, slots at 00:00 and 23:59, a zone with daylight saving, UTC, and refusals. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcn/schedule.h"
#include "testutil.h"

#define S 1000ULL                            /* ms per second */
#define MIN (60 * S)
#define HOUR (60 * MIN)

static rcn_policy_t
policy (const char *tz, const char *rounds)
{
    rcn_policy_t p;
    rcn_policy_default (&p);
    snprintf (p.timezone, sizeof p.timezone, "%s", tz);
    char why[256] = "";
    int rc = rcn_policy_parse_rounds (rounds, &p, why, sizeof why);
    if (rc != RCN_OK)
        fprintf (stderr, "    rounds \"%s\": %s\n", rounds, why);
    REQUIRE (rc == RCN_OK);
    return p;
}

static bool
have_zone (const char *tz)
{
    char why[256];
    if (rcn_tz_check (tz, why, sizeof why) == RCN_OK)
        return true;
    fprintf (stderr, "    skipped: %s\n", why);
    return false;
}

/* Checks one slot against its expected local date, minute and Unix seconds. */
#define CHECK_SLOT(s, d, m, secs) do { \
        CHECK (strcmp ((s).date, (d)) == 0); \
        CHECK_EQ ((s).minute, (m)); \
        CHECK_EQ ((s).slot_ms, (secs) * S); \
        if (strcmp ((s).date, (d)) != 0) fprintf (stderr, "    date %s, want %s\n", (s).date, (d)); \
    } while (0)

/* Latest and next at now_ms, both expected. */
#define CHECK_AROUND(p, now_ms, ld, lm, ls, nd, nm, ns) do { \
        rcn_slot_t _l, _n; \
        memset (&_l, 0x55, sizeof _l); memset (&_n, 0x55, sizeof _n); \
        CHECK_EQ (rcn_slot_latest (&(p), (now_ms), &_l), RCN_OK); \
        CHECK_SLOT (_l, ld, lm, ls); \
        CHECK_EQ (rcn_slot_next (&(p), (now_ms), &_n), RCN_OK); \
        CHECK_SLOT (_n, nd, nm, ns); \
    } while (0)

static void
test_parse_name (void)
{
    int m = -1;
    CHECK (rcn_slot_parse ("00:00", &m) == RCN_OK && m == 0);
    CHECK (rcn_slot_parse ("10:00", &m) == RCN_OK && m == 600);
    CHECK (rcn_slot_parse ("17:05", &m) == RCN_OK && m == 17 * 60 + 5);
    CHECK (rcn_slot_parse ("23:59", &m) == RCN_OK && m == 1439);
    const char *bad[] = { "24:00", "12:60", "1:00", "10:0", "10:000", "10-00", "", " 10:00",
                          "10:00 ", "ab:cd", "+1:00", "-0:00", "10:0a", "99:99", "10:00,", NULL };
    for (int i = 0; bad[i]; i++) {
        m = -7;
        CHECK_EQ (rcn_slot_parse (bad[i], &m), RCN_EINVAL);
        CHECK_EQ (m, -7);                  /* untouched */
    }
    char buf[6];
    CHECK (strcmp (rcn_slot_name (0, buf, sizeof buf), "00:00") == 0);
    CHECK (strcmp (rcn_slot_name (615, buf, sizeof buf), "10:15") == 0);
    CHECK (strcmp (rcn_slot_name (1439, buf, sizeof buf), "23:59") == 0);
    for (int i = 0; i < 1440; i++) {        /* name and parse are inverses */
        CHECK_EQ (rcn_slot_parse (rcn_slot_name (i, buf, sizeof buf), &m), RCN_OK);
        if (m != i)
            CHECK_EQ (m, i);
    }
}

static void
test_tz_check (void)
{
    char why[256];
    CHECK_EQ (rcn_tz_check ("Asia/Shanghai", why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_tz_check ("UTC", why, sizeof why), RCN_OK);
    why[0] = '\0';
    CHECK_EQ (rcn_tz_check ("Mars/Olympus", why, sizeof why), RCN_EINVAL);
    CHECK (strcmp (why, "timezone \"Mars/Olympus\" is not in the tz database "
                        "(/usr/share/zoneinfo)") == 0);
    fprintf (stderr, "    why: %s\n", why);
    const char *bad[] = { "", "/usr/share/zoneinfo/UTC", "../zoneinfo/UTC", "Asia/../UTC",
                          "Asia", "Asia/", "Asia/Shanghai ", ":Asia/Shanghai", "Asia\\Shanghai",
                          "asia/shanghai",
                          "A123456789012345678901234567890123456789012345678901234567890123",
                          NULL };
    for (int i = 0; bad[i]; i++) {
        why[0] = '\0';
        CHECK_EQ (rcn_tz_check (bad[i], why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, "timezone") != NULL);
    }
    /* Regular files of the database's directory that are no zones. */
    CHECK_EQ (rcn_tz_check ("zone.tab", why, sizeof why), RCN_EINVAL);
    struct stat st;
    if (stat ("/usr/share/zoneinfo/leapseconds", &st) == 0) {
        why[0] = '\0';
        CHECK_EQ (rcn_tz_check ("leapseconds", why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, "not a tz database file") != NULL);
    }
    CHECK_EQ (rcn_tz_check ("Asia/Shanghai", NULL, 0), RCN_OK);
    CHECK_EQ (rcn_tz_check ("Nowhere/Atlantis", NULL, 0), RCN_EINVAL);
    /* The last zone set stays in force after a refused one. */
    CHECK (strcmp (getenv ("TZ"), ":Asia/Shanghai") == 0);
}

static bool
copy_file (const char *from, const char *to)
{
    FILE *in = fopen (from, "rb"), *out = fopen (to, "wb");
    bool ok = in && out;
    char buf[4096];
    size_t n;
    while (ok && (n = fread (buf, 1, sizeof buf, in)) > 0)
        ok = fwrite (buf, 1, n, out) == n;
    ok = ok && !ferror (in);
    if (in)
        fclose (in);
    if (out && fclose (out) != 0)
        ok = false;
    return ok;
}

/* TZDIR moves the database, for the check and for the C library alike. */
static void
test_tzdir (void)
{
    char *dir = rcn_test_tmpdir ("sched");
    REQUIRE (dir);
    char sub[512], dst[600];
    snprintf (sub, sizeof sub, "%s/Test", dir);
    REQUIRE (mkdir (sub, 0700) == 0);
    snprintf (dst, sizeof dst, "%s/Eight", sub);
    REQUIRE (copy_file ("/usr/share/zoneinfo/Asia/Shanghai", dst));
    char why[512] = "";
    CHECK_EQ (rcn_tz_check ("Test/Eight", why, sizeof why), RCN_EINVAL);
    REQUIRE (setenv ("TZDIR", dir, 1) == 0);
    CHECK_EQ (rcn_tz_check ("Test/Eight", why, sizeof why), RCN_OK);
    rcn_policy_t p = policy ("Test/Eight", "10:00");
    uint64_t ms = 0;
    CHECK_EQ (rcn_slot_ms (&p, "2026-11-22", 600, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1795312800 * S);
    why[0] = '\0';
    CHECK_EQ (rcn_tz_check ("Test/Nine", why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, dir) != NULL);        /* names the directory it looked in */
    REQUIRE (unsetenv ("TZDIR") == 0);
    rcn_test_rmtree (dir);
    free (dir);
}

static void
test_slot_ms (void)
{
    rcn_policy_t p = policy ("Asia/Shanghai", "10:00,15:00,17:00");
    uint64_t ms = 0;
    char why[256] = "";
    int rc = rcn_slot_ms (&p, "2026-11-22", 600, &ms, why, sizeof why);
    if (rc != RCN_OK)
        fprintf (stderr, "    why: %s\n", why);
    CHECK_EQ (rc, RCN_OK);
    CHECK_EQ (ms, 1795312800 * S);            /* 2026-11-22T02:00Z */
    static const struct { const char *date; int minute; uint64_t secs; } ok[] = {
        { "2026-11-22", 0, 1795276800 },       /* midnight belongs to its own date */
        { "2026-11-21", 1439, 1795276740 },
        { "2026-11-22", 900, 1795330800 },
        { "2026-11-22", 1020, 1795338000 },
        { "2026-12-31", 1439, 1798732740 },
        { "2027-01-01", 0, 1798732800 },
        { "2027-01-01", 600, 1798768800 },
        { "2028-02-29", 600, 1835402400 },     /* leap day */
        { "2028-03-01", 600, 1835488800 },
        { "2027-03-01", 600, 1803866400 },
        { "1970-01-01", 480, 0 },              /* the epoch itself, 08:00 in Shanghai */
        { "1970-01-02", 0, 57600 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ms = 1;
        CHECK_EQ (rcn_slot_ms (&p, ok[i].date, ok[i].minute, &ms, why, sizeof why), RCN_OK);
        CHECK_EQ (ms, ok[i].secs * S);
    }
    static const struct { const char *date; int minute; const char *why; } bad[] = {
        { "2027-02-29", 600, "day 29 is not 01..28" },
        { "2026-02-30", 600, "day 30 is not 01..28" },
        { "2026-04-31", 600, "day 31 is not 01..30" },
        { "2100-02-29", 600, "day 29 is not 01..28" },     /* not a leap year */
        { "2026-13-01", 600, "month 13 is not 01..12" },
        { "2026-00-10", 600, "month 00 is not 01..12" },
        { "2026-11-00", 600, "day 00 is not 01..30" },
        { "2026-1-01", 600, "not YYYY-MM-DD" },
        { "20261122", 600, "not YYYY-MM-DD" },
        { "2026-11-22x", 600, "not YYYY-MM-DD" },
        { "2026-11-22 ", 600, "not YYYY-MM-DD" },
        { "2026/11/22", 600, "not YYYY-MM-DD" },
        { "2026-11-2x", 600, "not YYYY-MM-DD" },
        { "+026-11-22", 600, "not YYYY-MM-DD" },
        { "", 600, "not YYYY-MM-DD" },
        { "1969-12-31", 600, "year 1969 is not 1970..9999" },
        { "1970-01-01", 0, "before 1970-01-01T00:00Z" },    /* 1969-12-31T16:00Z */
        { "1970-01-01", 479, "before 1970-01-01T00:00Z" },
        { "2026-11-22", -1, "minute -1: not 0..1439" },
        { "2026-11-22", 1440, "minute 1440: not 0..1439" },
        { "2026-11-22", 100000, "minute 100000" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms = 42;
        why[0] = '\0';
        CHECK_EQ (rcn_slot_ms (&p, bad[i].date, bad[i].minute, &ms, why, sizeof why),
                  RCN_EINVAL);
        CHECK_EQ (ms, 42);
        if (!strstr (why, bad[i].why)) {
            CHECK (strstr (why, bad[i].why) != NULL);
            fprintf (stderr, "    \"%s\" %d: why \"%s\", want \"%s\"\n", bad[i].date,
                     bad[i].minute, why, bad[i].why);
        }
    }
    CHECK_EQ (rcn_slot_ms (&p, "9999-12-31", 1439, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, (253402300740 - 8 * 3600) * S);
}

/* The default schedule, 10:00, 15:00, 17:00 Asia/Shanghai, around 2026-11-22. */
static void
test_latest_next (void)
{
    rcn_policy_t p;
    rcn_policy_default (&p);
    const uint64_t y17 = 1795251600, t00 = 1795276800;          /* 11-21 17:00, 11-22 00:00 */
    const uint64_t t10 = 1795312800, t15 = 1795330800, t17 = 1795338000, m10 = 1795399200;

    /* 09:00 local: yesterday's 17:00 is the latest. */
    CHECK_AROUND (p, t00 * S + 9 * HOUR, "2026-11-21", 1020, y17, "2026-11-22", 600, t10);
    CHECK_AROUND (p, t00 * S, "2026-11-21", 1020, y17, "2026-11-22", 600, t10);
    CHECK_AROUND (p, t00 * S - 1, "2026-11-21", 1020, y17, "2026-11-22", 600, t10);
    /* Exactly at a slot it is reached; a millisecond before it is not. */
    CHECK_AROUND (p, t10 * S - 1, "2026-11-21", 1020, y17, "2026-11-22", 600, t10);
    CHECK_AROUND (p, t10 * S, "2026-11-22", 600, t10, "2026-11-22", 900, t15);
    CHECK_AROUND (p, t10 * S + 1, "2026-11-22", 600, t10, "2026-11-22", 900, t15);
    CHECK_AROUND (p, t10 * S + 2 * HOUR, "2026-11-22", 600, t10, "2026-11-22", 900, t15);
    CHECK_AROUND (p, t15 * S - 1, "2026-11-22", 600, t10, "2026-11-22", 900, t15);
    CHECK_AROUND (p, t15 * S, "2026-11-22", 900, t15, "2026-11-22", 1020, t17);
    CHECK_AROUND (p, t17 * S - 1, "2026-11-22", 900, t15, "2026-11-22", 1020, t17);
    CHECK_AROUND (p, t17 * S, "2026-11-22", 1020, t17, "2026-11-23", 600, m10);
    /* Late evening, then past midnight local (still 11-22 in UTC): the same pair. */
    CHECK_AROUND (p, t17 * S + 6 * HOUR + 59 * MIN, "2026-11-22", 1020, t17, "2026-11-23", 600, m10);
    CHECK_AROUND (p, t00 * S + 24 * HOUR + 30 * MIN, "2026-11-22", 1020, t17, "2026-11-23", 600, m10);

    /* Year end, both directions. */
    const uint64_t d31_17 = 1798707600, j01_10 = 1798768800;
    CHECK_AROUND (p, d31_17 * S + HOUR, "2026-12-31", 1020, d31_17, "2027-01-01", 600, j01_10);
    CHECK_AROUND (p, j01_10 * S - HOUR, "2026-12-31", 1020, d31_17, "2027-01-01", 600, j01_10);
    /* Leap day and the day after; a common year's February has no 29th. */
    const uint64_t f28_17 = 1835341200, f29_10 = 1835402400, m01_10 = 1835488800;
    CHECK_AROUND (p, f28_17 * S + HOUR, "2028-02-28", 1020, f28_17, "2028-02-29", 600, f29_10);
    CHECK_AROUND (p, f29_10 * S + 8 * HOUR, "2028-02-29", 1020, f29_10 + 7 * 3600,
                  "2028-03-01", 600, m01_10);
    CHECK_AROUND (p, m01_10 * S - 1, "2028-02-29", 1020, f29_10 + 7 * 3600,
                  "2028-03-01", 600, m01_10);
    const uint64_t mar1_2027 = 1803866400;
    CHECK_AROUND (p, mar1_2027 * S - 1, "2027-02-28", 1020, mar1_2027 - 17 * 3600,
                  "2027-03-01", 600, mar1_2027);
}

/* Slots at 00:00 and 23:59: midnight starts the new date. */
static void
test_midnight (void)
{
    rcn_policy_t p = policy ("Asia/Shanghai", "00:00,23:59");
    const uint64_t t00 = 1795276800;          /* 2026-11-22 00:00 local */
    const uint64_t y00 = t00 - 86400, y2359 = t00 - 60;
    CHECK_AROUND (p, t00 * S, "2026-11-22", 0, t00, "2026-11-22", 1439, t00 + 86340);
    CHECK_AROUND (p, t00 * S - 1, "2026-11-21", 1439, y2359, "2026-11-22", 0, t00);
    CHECK_AROUND (p, y2359 * S, "2026-11-21", 1439, y2359, "2026-11-22", 0, t00);
    CHECK_AROUND (p, y2359 * S + 30 * S, "2026-11-21", 1439, y2359, "2026-11-22", 0, t00);
    CHECK_AROUND (p, y2359 * S - 1, "2026-11-21", 0, y00, "2026-11-21", 1439, y2359);
    CHECK_AROUND (p, t00 * S + 12 * HOUR, "2026-11-22", 0, t00, "2026-11-22", 1439, t00 + 86340);
    /* Across the year. */
    const uint64_t j00 = 1798732800;          /* 2027-01-01 00:00 local */
    CHECK_AROUND (p, j00 * S - 1, "2026-12-31", 1439, j00 - 60, "2027-01-01", 0, j00);
    CHECK_AROUND (p, j00 * S, "2027-01-01", 0, j00, "2027-01-01", 1439, j00 + 86340);

    /* One round a day: latest is yesterday's until today's is reached. */
    rcn_policy_t one = policy ("Asia/Shanghai", "15:00");
    const uint64_t t15 = 1795330800;
    CHECK_AROUND (one, t15 * S - 1, "2026-11-21", 900, t15 - 86400, "2026-11-22", 900, t15);
    CHECK_AROUND (one, t15 * S, "2026-11-22", 900, t15, "2026-11-23", 900, t15 + 86400);
}

static void
test_local_date (void)
{
    rcn_policy_t p;
    rcn_policy_default (&p);
    char date[11];
    memset (date, 'x', sizeof date);
    CHECK_EQ (rcn_local_date (&p, 1795276800 * S, date), RCN_OK);        /* 11-22 00:00 +08 */
    CHECK (strcmp (date, "2026-11-22") == 0);
    CHECK_EQ (rcn_local_date (&p, 1795276800 * S - 1, date), RCN_OK);
    CHECK (strcmp (date, "2026-11-21") == 0);
    CHECK_EQ (rcn_local_date (&p, 0, date), RCN_OK);
    CHECK (strcmp (date, "1970-01-01") == 0);
    CHECK_EQ (rcn_local_date (&p, 1798732800 * S, date), RCN_OK);
    CHECK (strcmp (date, "2027-01-01") == 0);
    rcn_policy_t u = policy ("UTC", "10:00");
    CHECK_EQ (rcn_local_date (&u, 1795276800 * S, date), RCN_OK);        /* 11-21 16:00Z */
    CHECK (strcmp (date, "2026-11-21") == 0);
    CHECK_EQ (rcn_local_date (&u, 253402300799999ULL, date), RCN_OK);
    CHECK (strcmp (date, "9999-12-31") == 0);
    /* 10000-01-01 local in Shanghai does not fit YYYY-MM-DD. */
    CHECK_EQ (rcn_local_date (&p, 253402300799999ULL, date), RCN_EINVAL);
    CHECK_EQ (rcn_local_date (&u, 253402300800000ULL, date), RCN_EINVAL);
    CHECK_EQ (rcn_local_date (&u, UINT64_MAX, date), RCN_EINVAL);
}

static void
test_utc (void)
{
    rcn_policy_t p = policy ("UTC", "10:00,15:00,17:00");
    uint64_t ms = 0;
    char why[256];
    CHECK_EQ (rcn_slot_ms (&p, "2026-11-22", 600, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1795341600 * S);
    CHECK_EQ (rcn_slot_ms (&p, "1970-01-01", 0, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 0);
    CHECK_EQ (rcn_slot_ms (&p, "9999-12-31", 1439, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 253402300740 * S);
    const uint64_t t10 = 1795341600;
    CHECK_AROUND (p, t10 * S - 1, "2026-11-21", 1020, t10 - 17 * 3600, "2026-11-22", 600, t10);
    CHECK_AROUND (p, t10 * S, "2026-11-22", 600, t10, "2026-11-22", 900, t10 + 5 * 3600);
    /* The edges of Unix time and of the year 9999. */
    rcn_slot_t s;
    CHECK_EQ (rcn_slot_latest (&p, 0, &s), RCN_ENOTFOUND);        /* no slot before 1970 */
    CHECK_EQ (rcn_slot_next (&p, 0, &s), RCN_OK);
    CHECK_SLOT (s, "1970-01-01", 600, 36000);
}

/* A zone with daylight saving: +01:00 in winter, +02:00 in summer (last Sundays of March and
 * October, 01:00Z). */
static void
test_dst (void)
{
    if (!have_zone ("Europe/Berlin"))
        return;
    rcn_policy_t p = policy ("Europe/Berlin", "10:00,15:00,17:00");
    uint64_t ms = 0;
    char why[256];
    CHECK_EQ (rcn_slot_ms (&p, "2026-07-01", 600, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1782892800 * S);                   /* 08:00Z: +02:00 */
    CHECK_EQ (rcn_slot_ms (&p, "2026-01-15", 600, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1768467600 * S);                   /* 09:00Z: +01:00 */
    rcn_policy_t u = policy ("UTC", "10:00");
    uint64_t ums = 0;
    CHECK_EQ (rcn_slot_ms (&u, "2026-07-01", 600, &ums, why, sizeof why), RCN_OK);
    CHECK_EQ (ums - 1782892800 * S, 2 * HOUR);
    CHECK_EQ (rcn_slot_ms (&u, "2026-01-15", 600, &ums, why, sizeof why), RCN_OK);
    CHECK_EQ (ums - 1768467600 * S, 1 * HOUR);

    /* The spring-forward day: 17:00 CET the day before, 10:00 CEST on the day. */
    CHECK_AROUND (p, 1774767600ULL * S, "2026-03-28", 1020, 1774713600, "2026-03-29", 600,
                  1774771200);
    /* The fall-back day: 17:00 CET on 10-25 is 16:00Z; 10:00 CEST on 10-24 was 08:00Z. */
    CHECK_AROUND (p, 1792944000ULL * S, "2026-10-25", 1020, 1792944000, "2026-10-26", 600,
                  1792944000 + 17 * 3600);
    CHECK_AROUND (p, 1792944000ULL * S - 1, "2026-10-25", 900, 1792944000 - 7200,
                  "2026-10-25", 1020, 1792944000);
    /* What schedule.h documents for the times the changes skip and repeat. */
    CHECK_EQ (rcn_slot_ms (&p, "2026-03-29", 150, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1774747800 * S);                   /* 02:30 skipped: 01:30Z = 03:30 CEST */
    CHECK_EQ (rcn_slot_ms (&p, "2026-10-25", 150, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1792888200 * S);                   /* 02:30 twice: the first, 00:30Z */

    /* The same answer whatever was converted before (glibc's mktime would differ). */
    for (int i = 0; i < 4; i++) {
        uint64_t other;
        CHECK_EQ (rcn_slot_ms (&p, i % 2 ? "2026-07-01" : "2026-01-15", 600, &other, why,
                               sizeof why), RCN_OK);
        CHECK_EQ (rcn_slot_ms (&p, "2026-10-25", 150, &ms, why, sizeof why), RCN_OK);
        CHECK_EQ (ms, 1792888200 * S);
        CHECK_EQ (rcn_slot_ms (&p, i % 2 ? "2026-10-25" : "2026-10-24", 180 - 60 * i, &other,
                               why, sizeof why), RCN_OK);
        CHECK_EQ (rcn_slot_ms (&p, "2026-10-25", 120, &ms, why, sizeof why), RCN_OK);
        CHECK_EQ (ms, 1792886400 * S);               /* 02:00 twice: 00:00Z */
        CHECK_EQ (rcn_slot_ms (&p, "2026-10-25", 180, &ms, why, sizeof why), RCN_OK);
        CHECK_EQ (ms, 1792893600 * S);               /* 03:00 once: 02:00Z, CET */
        CHECK_EQ (rcn_slot_ms (&p, "2026-03-29", 120, &ms, why, sizeof why), RCN_OK);
        CHECK_EQ (ms, 1774746000 * S);               /* 02:00 skipped: 01:00Z = 03:00 CEST */
    }

    /* Through the spring-forward night, slots 02:30 and 03:00 swap in Unix time. */
    rcn_policy_t g = policy ("Europe/Berlin", "02:30,03:00");
    const uint64_t s0300 = 1774746000, s0230 = 1774747800;
    CHECK_AROUND (g, s0300 * S - 1, "2026-03-28", 180, s0300 - 86400 + 3600,
                  "2026-03-29", 180, s0300);
    CHECK_AROUND (g, s0300 * S, "2026-03-29", 180, s0300, "2026-03-29", 150, s0230);
    CHECK_AROUND (g, s0230 * S, "2026-03-29", 150, s0230, "2026-03-30", 150,
                  s0230 + 86400 - 3600);
}

/* America/Havana changes at midnight: 2026-03-08 has no 00:00, 2026-11-01 has two. */
static void
test_dst_midnight (void)
{
    if (!have_zone ("America/Havana"))
        return;
    rcn_policy_t p = policy ("America/Havana", "00:00,23:59");
    uint64_t ms = 0;
    char why[256];
    CHECK_EQ (rcn_slot_ms (&p, "2026-03-08", 0, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1772946000 * S);                   /* 05:00Z, shown as 01:00 CDT */
    CHECK_EQ (rcn_slot_ms (&p, "2026-11-01", 0, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1793505600 * S);                   /* the first 00:00, CDT */
    /* 23:59 CST on 03-07 is 04:59Z; the skipped midnight follows it. */
    CHECK_AROUND (p, 1772946000 * S - 1, "2026-03-07", 1439, 1772946000 - 60,
                  "2026-03-08", 0, 1772946000);
    CHECK_AROUND (p, 1772946000 * S, "2026-03-08", 0, 1772946000,
                  "2026-03-08", 1439, 1772946000 + 22 * 3600 + 59 * 60);
    char date[11];
    CHECK_EQ (rcn_local_date (&p, 1772946000 * S, date), RCN_OK);
    CHECK (strcmp (date, "2026-03-08") == 0);
}

/* Every 7 minutes for 10 days (across both 2026 changes in Berlin, and in Shanghai): latest <=
 * now < next, each slot's time is what rcn_slot_ms says, and no slot lies between them. */
static void
sweep (const char *tz, uint64_t from_s)
{
    rcn_policy_t p = policy (tz, "00:00,10:00,15:00,17:00,23:59");
    char why[256];
    int bad = 0;
    for (uint64_t now = from_s * S; now < (from_s + 10 * 86400) * S && bad < 5; now += 7 * MIN + 1) {
        rcn_slot_t l, n, n2;
        uint64_t ms;
        if (rcn_slot_latest (&p, now, &l) != RCN_OK || rcn_slot_next (&p, now, &n) != RCN_OK
            || rcn_slot_next (&p, l.slot_ms, &n2) != RCN_OK) {
            bad++;
            continue;
        }
        bool ok = l.slot_ms <= now && now < n.slot_ms && n2.slot_ms == n.slot_ms
                  && rcn_slot_ms (&p, l.date, l.minute, &ms, why, sizeof why) == RCN_OK
                  && ms == l.slot_ms
                  && rcn_slot_ms (&p, n.date, n.minute, &ms, why, sizeof why) == RCN_OK
                  && ms == n.slot_ms;
        if (!ok) {
            bad++;
            fprintf (stderr, "    %s at %llu: latest %s %d %llu, next %s %d %llu\n", tz,
                     (unsigned long long) now, l.date, l.minute,
                     (unsigned long long) l.slot_ms, n.date, n.minute,
                     (unsigned long long) n.slot_ms);
        }
    }
    CHECK_EQ (bad, 0);
}

static void
test_sweep (void)
{
    sweep ("Asia/Shanghai", 1795000000);
    if (have_zone ("Europe/Berlin")) {
        sweep ("Europe/Berlin", 1774500000);         /* 2026-03-26 */
        sweep ("Europe/Berlin", 1792600000);         /* 2026-10-21 */
    }
    if (have_zone ("America/Havana")) {              /* changes at midnight */
        sweep ("America/Havana", 1772600000);        /* 2026-03-04 */
        sweep ("America/Havana", 1793100000);        /* 2026-10-27 */
    }
}

static void
test_refused (void)
{
    rcn_policy_t p = policy ("Asia/Shanghai", "");
    CHECK_EQ (p.n_rounds, 0);
    rcn_slot_t s;
    memset (&s, 0x55, sizeof s);
    CHECK_EQ (rcn_slot_latest (&p, 1795312800 * S, &s), RCN_ENOTFOUND);
    CHECK_EQ (rcn_slot_next (&p, 1795312800 * S, &s), RCN_ENOTFOUND);
    /* Without rounds a date still has a time. */
    uint64_t ms = 0;
    char why[256] = "";
    CHECK_EQ (rcn_slot_ms (&p, "2026-11-22", 600, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1795312800 * S);

    /* An unknown zone: glibc would quietly use UTC; we refuse. */
    rcn_policy_t m = policy ("Asia/Shanghai", "10:00");
    snprintf (m.timezone, sizeof m.timezone, "Mars/Olympus");
    why[0] = '\0';
    ms = 42;
    CHECK_EQ (rcn_slot_ms (&m, "2026-11-22", 600, &ms, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (ms, 42);
    CHECK (strcmp (why, "timezone \"Mars/Olympus\" is not in the tz database "
                        "(/usr/share/zoneinfo)") == 0);
    CHECK_EQ (rcn_slot_latest (&m, 1795312800 * S, &s), RCN_EINVAL);
    CHECK_EQ (rcn_slot_next (&m, 1795312800 * S, &s), RCN_EINVAL);
    char date[11];
    CHECK_EQ (rcn_local_date (&m, 1795312800 * S, date), RCN_EINVAL);
    /* ... and the zone in force is still the last good one. */
    CHECK_EQ (rcn_slot_ms (&p, "2026-11-22", 600, &ms, why, sizeof why), RCN_OK);
    CHECK_EQ (ms, 1795312800 * S);

    /* Past the year 9999. */
    rcn_policy_t u = policy ("UTC", "10:00");
    CHECK_EQ (rcn_slot_latest (&u, UINT64_MAX, &s), RCN_EINVAL);
    CHECK_EQ (rcn_slot_next (&u, 253402300800000ULL, &s), RCN_EINVAL);
    CHECK_EQ (rcn_slot_next (&u, 253402300740000ULL, &s), RCN_ENOTFOUND);
    CHECK_EQ (rcn_slot_latest (&u, 253402300740000ULL, &s), RCN_OK);
    CHECK_SLOT (s, "9999-12-31", 600, 253402300740ULL - 14 * 3600 + 60);
}

/* Switching zones back and forth gives each zone's own answer (setenv only on a change). */
static void
test_switch (void)
{
    rcn_policy_t sh = policy ("Asia/Shanghai", "10:00"), u = policy ("UTC", "10:00");
    for (int i = 0; i < 3; i++) {
        uint64_t a = 0, b = 0;
        char why[256];
        CHECK_EQ (rcn_slot_ms (&sh, "2026-11-22", 600, &a, why, sizeof why), RCN_OK);
        CHECK_EQ (rcn_slot_ms (&u, "2026-11-22", 600, &b, why, sizeof why), RCN_OK);
        CHECK_EQ (b - a, 8 * HOUR);
    }
    CHECK (strcmp (getenv ("TZ"), ":UTC") == 0);
}

/* Threads asking for one zone (set before they start, as rcnode does) get consistent answers. */
static void *
worker (void *arg)
{
    const rcn_policy_t *p = arg;
    long bad = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t now = (1795276800ULL + (uint64_t) i * 97) * S;
        rcn_slot_t l, n;
        if (rcn_slot_latest (p, now, &l) != RCN_OK || rcn_slot_next (p, now, &n) != RCN_OK
            || !(l.slot_ms <= now && now < n.slot_ms))
            bad++;
    }
    return (void *) bad;
}

static void
test_threads (void)
{
    rcn_policy_t p;
    rcn_policy_default (&p);
    CHECK_EQ (rcn_tz_check (p.timezone, NULL, 0), RCN_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        REQUIRE (pthread_create (&t[i], NULL, worker, &p) == 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        REQUIRE (pthread_join (t[i], &bad) == 0);
        CHECK_EQ ((long) bad, 0);
    }
}

int
main (void)
{
    unsetenv ("TZDIR");                     /* the system's database, as the messages say */
    RUN (test_parse_name);
    RUN (test_tz_check);
    RUN (test_tzdir);
    RUN (test_slot_ms);
    RUN (test_latest_next);
    RUN (test_midnight);
    RUN (test_local_date);
    RUN (test_utc);
    RUN (test_dst);
    RUN (test_dst_midnight);
    RUN (test_sweep);
    RUN (test_refused);
    RUN (test_switch);
    RUN (test_threads);
    return rcn_test_done ();
}
