/* schedule.c — the alliance's notification rounds in its time zone (DESIGN.md §4).
 *
 * The one design decision: local time is the C library's, read from the system's tz database
 * through TZ, not a zone parser of our own. TZ is process-wide state, so every use of it here
 * sits behind one mutex, and setenv runs only when the zone changes (schedule.h says why that
 * keeps a threaded node safe). Calendar arithmetic on dates (the day before, the day after) is
 * done on day numbers, which need no zone; only "this local date and minute" ↔ Unix time goes
 * through the zone, by localtime_r (not mktime: see local_to_unix). */
#include "rcn/schedule.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define ZONE_MAX 63                          /* as rcn_policy_t.timezone */
#define MINUTES_PER_DAY (24 * 60)
#define YEAR_MIN 1970
#define YEAR_MAX 9999
/* 9999-12-31T23:59:59.999Z: local dates past the year 9999 do not fit "YYYY-MM-DD". */
#define MS_MAX 253402300799999ULL
/* Days either side of now's local date among which latest and next are sought: one would do
 * on any ordinary day; two more cover a zone that skips a whole day or a slot that a
 * daylight-saving change pushes across midnight. */
#define SCAN_DAYS 2

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_zone[ZONE_MAX + 1];            /* the zone TZ was last set to; "" before the first */

/* ---- calendar on day numbers (days since 1970-01-01; H. Hinnant's civil algorithms) ------ */

static bool
is_leap (int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days (int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap (y) ? 29 : days[m - 1];
}

static long
days_from_civil (int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days (long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = (int) (yoe + era * 400 + (*m <= 2));
}

/* "YYYY-MM-DD" without snprintf: the ranges are known, the buffer exactly fits. */
static void
date_format (int y, int m, int d, char date[11])
{
    assert (y >= 0 && y <= YEAR_MAX && m >= 1 && m <= 12 && d >= 1 && d <= 31);
    date[0] = (char) ('0' + y / 1000);
    date[1] = (char) ('0' + y / 100 % 10);
    date[2] = (char) ('0' + y / 10 % 10);
    date[3] = (char) ('0' + y % 10);
    date[4] = '-';
    date[5] = (char) ('0' + m / 10);
    date[6] = (char) ('0' + m % 10);
    date[7] = '-';
    date[8] = (char) ('0' + d / 10);
    date[9] = (char) ('0' + d % 10);
    date[10] = '\0';
}

static int
digits (const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int
date_parse (const char *date, int *y, int *m, int *d, char *why, size_t whylen)
{
    if (strlen (date) != 10 || date[4] != '-' || date[7] != '-'
        || (*y = digits (date, 4)) < 0 || (*m = digits (date + 5, 2)) < 0
        || (*d = digits (date + 8, 2)) < 0) {
        rcn_errf (why, whylen, "date \"%.16s\": not YYYY-MM-DD", date);
        return RCN_EINVAL;
    }
    if (*y < YEAR_MIN || *y > YEAR_MAX) {
        rcn_errf (why, whylen, "date \"%s\": year %04d is not %d..%d", date, *y, YEAR_MIN,
                  YEAR_MAX);
        return RCN_EINVAL;
    }
    if (*m < 1 || *m > 12) {
        rcn_errf (why, whylen, "date \"%s\": month %02d is not 01..12", date, *m);
        return RCN_EINVAL;
    }
    if (*d < 1 || *d > month_days (*y, *m)) {
        rcn_errf (why, whylen, "date \"%s\": day %02d is not 01..%02d", date, *d,
                  month_days (*y, *m));
        return RCN_EINVAL;
    }
    return RCN_OK;
}

/* ---- the zone ------------------------------------------------------------------------------ */

/* With s_lock held (TZDIR is read from the environment that zone_use writes). */
static int
tz_check_locked (const char *tz, char *why, size_t whylen)
{
    /* glibc reads TZDIR the same way: ignored in a set-user-ID program. */
    const char *dir = secure_getenv ("TZDIR");
    if (!dir || !*dir)
        dir = ZONEINFO_DIR;
    size_t len = strlen (tz);
    if (len == 0 || len > ZONE_MAX) {
        rcn_errf (why, whylen, "timezone \"%.64s\": must be 1..%d characters", tz, ZONE_MAX);
        return RCN_EINVAL;
    }
    bool name_ok = tz[0] != '/' && tz[len - 1] != '/' && !strstr (tz, "..");
    for (size_t i = 0; name_ok && i < len; i++) {
        char c = tz[i];
        name_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '/' || c == '_' || c == '-' || c == '+';
    }
    if (!name_ok) {
        rcn_errf (why, whylen, "timezone \"%s\": not an IANA name like Asia/Shanghai", tz);
        return RCN_EINVAL;
    }
    char path[4096];
    int n = snprintf (path, sizeof path, "%s/%s", dir, tz);
    if (n < 0 || (size_t) n >= sizeof path) {
        rcn_errf (why, whylen, "timezone \"%s\": path under %s too long", tz, dir);
        return RCN_EINVAL;
    }
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
        rcn_errf (why, whylen, "timezone \"%s\" is not in the tz database (%s)", tz, dir);
        return RCN_EINVAL;
    }
    /* zone.tab and friends are regular files too; glibc would fall back to UTC on them. */
    char magic[4];
    ssize_t got = -1;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        got = read (fd, magic, sizeof magic);
        close (fd);
    }
    if (got != (ssize_t) sizeof magic || memcmp (magic, "TZif", 4) != 0) {
        rcn_errf (why, whylen, "timezone \"%s\": %s is not a tz database file", tz, path);
        return RCN_EINVAL;
    }
    return RCN_OK;
}

/* With s_lock held: makes tz the C library's local zone, checking it first when it changes
 * (glibc would silently use UTC for a name it cannot load). */
static int
zone_use (const char *tz, char *why, size_t whylen)
{
    if (s_zone[0] && strcmp (s_zone, tz) == 0)
        return RCN_OK;
    int rc = tz_check_locked (tz, why, whylen);
    if (rc != RCN_OK)
        return rc;
    char env[ZONE_MAX + 2];
    snprintf (env, sizeof env, ":%s", tz);
    if (setenv ("TZ", env, 1) != 0) {
        rcn_errf (why, whylen, "timezone \"%s\": setenv TZ: %s", tz, strerror (errno));
        s_zone[0] = '\0';
        return RCN_ENOMEM;
    }
    tzset ();
    snprintf (s_zone, sizeof s_zone, "%s", tz);
    return RCN_OK;
}

int
rcn_tz_check (const char *tz, char *why, size_t whylen)
{
    assert (tz);
    pthread_mutex_lock (&s_lock);
    int rc = zone_use (tz, why, whylen);
    pthread_mutex_unlock (&s_lock);
    return rc;
}

/* With s_lock held and the zone in use: the UTC offset (seconds east) in force at t, or
 * false when localtime_r cannot say. */
static bool
offset_at (time_t t, long *off)
{
    struct tm tm;
    if (!localtime_r (&t, &tm))
        return false;
    *off = tm.tm_gmtoff;
    return true;
}

/* With s_lock held and the zone in use: Unix seconds of local y-m-d at minute, or -1 when the
 * zone cannot say or the time is before 1970 (Unix ms are unsigned here).
 *
 * Not mktime: for a local time that occurs twice, glibc's mktime (tm_isdst = -1) returns one
 * or the other depending on the time it converted before, and a slot's time must be a function
 * of the date, minute and zone alone, the same on every node. So: a wall time w is the instant
 * w - off for each offset off in force at that instant; the offsets in question are those in
 * force from two days before to two days after. Of several such instants the first is taken;
 * when there is none (skipped by a change), w is read with the offset in force before it. */
static int64_t
local_to_unix (int y, int m, int d, int minute)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d,
        .tm_hour = minute / 60, .tm_min = minute % 60, .tm_sec = 0,
    };
    time_t wall = timegm (&tm);             /* the wall time read as if it were UTC */
    if (wall == (time_t) -1)
        return -1;
    long offs[2 * SCAN_DAYS + 1];
    int n = 0;
    long max_off = LONG_MIN;
    for (int k = -SCAN_DAYS; k <= SCAN_DAYS; k++) {
        long off;
        if (!offset_at (wall + (time_t) k * 86400, &off))
            return -1;
        bool seen = false;
        for (int i = 0; i < n; i++)
            seen = seen || offs[i] == off;
        if (!seen)
            offs[n++] = off;
        if (off > max_off)
            max_off = off;
    }
    bool found = false;
    time_t best = 0;
    for (int i = 0; i < n; i++) {
        time_t t = wall - (time_t) offs[i];
        long off;
        if (!offset_at (t, &off))
            return -1;
        if (off == offs[i] && (!found || t < best)) {
            found = true;
            best = t;
        }
    }
    if (!found) {
        /* In a gap the largest offset is the one after the change, so wall - max_off lies
         * before it, where the offset in force is the one before. */
        long before;
        if (!offset_at (wall - (time_t) max_off, &before))
            return -1;
        best = wall - (time_t) before;
    }
    return best < 0 ? -1 : (int64_t) best;
}

/* ---- slots --------------------------------------------------------------------------------- */

int
rcn_slot_ms (const rcn_policy_t *p, const char *date, int minute, uint64_t *ms,
             char *why, size_t whylen)
{
    assert (p && date && ms);
    int y, m, d;
    int rc = date_parse (date, &y, &m, &d, why, whylen);
    if (rc != RCN_OK)
        return rc;
    if (minute < 0 || minute >= MINUTES_PER_DAY) {
        rcn_errf (why, whylen, "minute %d: not 0..%d (00:00..23:59)", minute,
                  MINUTES_PER_DAY - 1);
        return RCN_EINVAL;
    }
    pthread_mutex_lock (&s_lock);
    int64_t t = -1;
    rc = zone_use (p->timezone, why, whylen);
    if (rc == RCN_OK)
        t = local_to_unix (y, m, d, minute);
    pthread_mutex_unlock (&s_lock);
    if (rc != RCN_OK)
        return rc;
    if (t < 0) {
        rcn_errf (why, whylen, "date \"%s\" %02d:%02d in %s: before 1970-01-01T00:00Z", date,
                  minute / 60, minute % 60, p->timezone);
        return RCN_EINVAL;
    }
    *ms = (uint64_t) t * 1000;
    return RCN_OK;
}

/* The latest slot <= now_ms (after false) or the earliest > now_ms (after true): every slot of
 * the days around now's local date is computed and the best kept, so nothing assumes that
 * slots keep their order in Unix time (a daylight-saving gap can swap two). */
static int
slot_find (const rcn_policy_t *p, uint64_t now_ms, bool after, rcn_slot_t *out)
{
    assert (p && out);
    assert (p->n_rounds >= 0 && p->n_rounds <= RCN_MAX_ROUNDS);
    if (p->n_rounds == 0)
        return RCN_ENOTFOUND;
    if (now_ms > MS_MAX)
        return RCN_EINVAL;

    pthread_mutex_lock (&s_lock);
    int rc = zone_use (p->timezone, NULL, 0);
    if (rc != RCN_OK)
        goto done;
    time_t now_s = (time_t) (now_ms / 1000);
    struct tm tm;
    if (!localtime_r (&now_s, &tm)) {
        rc = RCN_EINVAL;
        goto done;
    }
    long today = days_from_civil (tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    bool found = false;
    uint64_t best = 0;
    for (long day = today - SCAN_DAYS; day <= today + SCAN_DAYS; day++) {
        int y, m, d;
        civil_from_days (day, &y, &m, &d);
        if (y < YEAR_MIN || y > YEAR_MAX)
            continue;
        for (int i = 0; i < p->n_rounds; i++) {
            assert (p->rounds[i] >= 0 && p->rounds[i] < MINUTES_PER_DAY);
            int64_t t = local_to_unix (y, m, d, p->rounds[i]);
            if (t < 0)
                continue;
            uint64_t ms = (uint64_t) t * 1000;
            /* Ties go to the later slot in date and minute order (the one seen last). */
            bool better = after ? ms > now_ms && (!found || ms <= best)
                                : ms <= now_ms && (!found || ms >= best);
            if (!better)
                continue;
            found = true;
            best = ms;
            date_format (y, m, d, out->date);
            out->minute = p->rounds[i];
            out->slot_ms = ms;
        }
    }
    rc = found ? RCN_OK : RCN_ENOTFOUND;
done:
    pthread_mutex_unlock (&s_lock);
    return rc;
}

int
rcn_slot_latest (const rcn_policy_t *p, uint64_t now_ms, rcn_slot_t *out)
{
    return slot_find (p, now_ms, false, out);
}

int
rcn_slot_next (const rcn_policy_t *p, uint64_t now_ms, rcn_slot_t *out)
{
    return slot_find (p, now_ms, true, out);
}

int
rcn_local_date (const rcn_policy_t *p, uint64_t ms, char date[11])
{
    assert (p && date);
    if (ms > MS_MAX)
        return RCN_EINVAL;
    pthread_mutex_lock (&s_lock);
    struct tm tm;
    time_t s = (time_t) (ms / 1000);
    int rc = zone_use (p->timezone, NULL, 0);
    if (rc == RCN_OK && (!localtime_r (&s, &tm) || tm.tm_year + 1900 < 0
                         || tm.tm_year + 1900 > YEAR_MAX))
        rc = RCN_EINVAL;
    pthread_mutex_unlock (&s_lock);
    if (rc != RCN_OK)
        return rc;
    date_format (tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, date);
    return RCN_OK;
}

const char *
rcn_slot_name (int minute, char *buf, size_t len)
{
    assert (minute >= 0 && minute < MINUTES_PER_DAY);
    assert (buf && len >= 6);
    snprintf (buf, len, "%02d:%02d", minute / 60, minute % 60);
    return buf;
}

int
rcn_slot_parse (const char *s, int *minute)
{
    assert (s && minute);
    if (strlen (s) != 5 || s[2] != ':')
        return RCN_EINVAL;
    int h = digits (s, 2), m = digits (s + 3, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59)
        return RCN_EINVAL;
    *minute = h * 60 + m;
    return RCN_OK;
}
