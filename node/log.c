/* log.c — one line per event on stderr. Each line is formatted into one buffer and written
 * with a single write(2), so lines from threads never interleave. */
#include "rcn/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static rcn_log_level_t s_level = RCN_LOG_INFO;
static char s_tag[32];
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

void
rcn_log_set_level (rcn_log_level_t level)
{
    s_level = level;
}

int
rcn_log_level_parse (const char *s)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (s && strcmp (s, names[i]) == 0)
            return i;
    return -1;
}

void
rcn_log_set_tag (const char *tag)
{
    pthread_mutex_lock (&s_lock);
    snprintf (s_tag, sizeof s_tag, "%s", tag ? tag : "");
    pthread_mutex_unlock (&s_lock);
}

void
rcn_log (rcn_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    if (level < s_level)
        return;
    /* Log lines show the real time even when a test sets the clock: they are for people. */
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char line[1024];
    pthread_mutex_lock (&s_lock);
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s%s%s",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, ts.tv_nsec / 1000000, names[level],
                      s_tag[0] ? "[" : "", s_tag, s_tag[0] ? "] " : "");
    pthread_mutex_unlock (&s_lock);
    va_list ap;
    va_start (ap, fmt);
    if (n >= 0 && (size_t) n < sizeof line)
        n += vsnprintf (line + n, sizeof line - (size_t) n, fmt, ap);
    va_end (ap);
    if (n < 0)
        return;
    if ((size_t) n >= sizeof line - 1)
        n = (int) sizeof line - 2;        /* truncated: keep it one line */
    for (int i = 0; i < n; i++)           /* one event, one line */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    ssize_t w = write (STDERR_FILENO, line, (size_t) n);
    (void) w;
}
