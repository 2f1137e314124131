/* clock.c — the one source of wall time and randomness (DESIGN.md §6).
 *
 * Everything that reads "now" or draws random bytes goes through here, so that a test or a
 * drill can fix the clock, run it fast or slow by an offset, and replay a seed. Settings come
 * from the API or, once per process, from RCN_CLOCK and RCN_SEED. */
#include "rcn/clock.h"
#include "rcn/err.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t s_fixed_ms;          /* 0: not fixed */
static int64_t s_offset_ms;
static bool s_seeded;
static uint8_t s_seed[randombytes_SEEDBYTES];
static uint64_t s_counter;           /* blocks drawn from the seeded stream */

static void
init_from_env (void)
{
    if (sodium_init () < 0)
        abort ();
    const char *c = getenv ("RCN_CLOCK");
    if (c && strncmp (c, "fixed:", 6) == 0)
        s_fixed_ms = strtoull (c + 6, NULL, 10);
    else if (c && strncmp (c, "offset:", 7) == 0)
        s_offset_ms = strtoll (c + 7, NULL, 10);
    const char *seed = getenv ("RCN_SEED");
    if (seed && *seed) {
        uint64_t v = strtoull (seed, NULL, 10);
        crypto_generichash (s_seed, sizeof s_seed, (const uint8_t *) &v, sizeof v, NULL, 0);
        s_seeded = true;
    }
}

uint64_t
rcn_now_ms (void)
{
    pthread_once (&s_once, init_from_env);
    pthread_mutex_lock (&s_lock);
    uint64_t fixed = s_fixed_ms;
    int64_t offset = s_offset_ms;
    pthread_mutex_unlock (&s_lock);
    if (fixed)
        return fixed;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
    return ms < 0 ? 0 : (uint64_t) ms;
}

uint64_t
rcn_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

void
rcn_clock_set_fixed (uint64_t ms)
{
    pthread_once (&s_once, init_from_env);
    pthread_mutex_lock (&s_lock);
    s_fixed_ms = ms;
    pthread_mutex_unlock (&s_lock);
}

void
rcn_clock_set_offset (int64_t offset_ms)
{
    pthread_once (&s_once, init_from_env);
    pthread_mutex_lock (&s_lock);
    s_offset_ms = offset_ms;
    pthread_mutex_unlock (&s_lock);
}

void
rcn_random_seed (uint64_t seed)
{
    pthread_once (&s_once, init_from_env);
    pthread_mutex_lock (&s_lock);
    crypto_generichash (s_seed, sizeof s_seed, (const uint8_t *) &seed, sizeof seed, NULL, 0);
    s_seeded = true;
    s_counter = 0;
    pthread_mutex_unlock (&s_lock);
}

void
rcn_random_buf (void *buf, size_t len)
{
    pthread_once (&s_once, init_from_env);
    pthread_mutex_lock (&s_lock);
    if (!s_seeded) {
        pthread_mutex_unlock (&s_lock);
        randombytes_buf (buf, len);
        return;
    }
    /* Each call draws from its own sub-seed = H(seed | counter): replayable call by call. */
    uint8_t sub[randombytes_SEEDBYTES];
    uint8_t input[randombytes_SEEDBYTES + 8];
    memcpy (input, s_seed, sizeof s_seed);
    memcpy (input + sizeof s_seed, &s_counter, 8);
    s_counter++;
    crypto_generichash (sub, sizeof sub, input, sizeof input, NULL, 0);
    pthread_mutex_unlock (&s_lock);
    randombytes_buf_deterministic (buf, len, sub);
    sodium_memzero (sub, sizeof sub);
}

/* Reads exactly `n` digits at *p into *v. */
static bool
digits (const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) (*p)[i]))
            return false;
        x = x * 10 + ((*p)[i] - '0');
    }
    *v = x;
    *p += n;
    return true;
}

static int
parse_duration (const char *s, uint64_t now_ms, uint64_t *out_ms, char *why, size_t whylen)
{
    int sign = s[0] == '-' ? -1 : 1;
    char *end = NULL;
    if (!isdigit ((unsigned char) s[1])) {
        rcn_errf (why, whylen, "time \"%s\": a duration is +N or -N with s, m, h or d (e.g. +6h)", s);
        return RCN_EINVAL;
    }
    unsigned long long n = strtoull (s + 1, &end, 10);
    uint64_t unit = 0;
    if (end && end != s + 1 && end[0] && !end[1]) {
        switch (end[0]) {
        case 's': unit = 1000ULL; break;
        case 'm': unit = 60000ULL; break;
        case 'h': unit = 3600000ULL; break;
        case 'd': unit = 86400000ULL; break;
        default: break;
        }
    }
    if (!unit || n > 100000ULL * 86400) {
        rcn_errf (why, whylen, "time \"%s\": a duration is +N or -N with s, m, h or d (e.g. +6h)", s);
        return RCN_EINVAL;
    }
    uint64_t d = (uint64_t) n * unit;
    if (sign < 0 && d > now_ms) {
        rcn_errf (why, whylen, "time \"%s\": before 1970", s);
        return RCN_EINVAL;
    }
    *out_ms = sign < 0 ? now_ms - d : now_ms + d;
    return RCN_OK;
}

int
rcn_time_parse (const char *s, uint64_t now_ms, uint64_t *out_ms, char *why, size_t whylen)
{
    if (!s || !*s) {
        rcn_errf (why, whylen, "time: empty");
        return RCN_EINVAL;
    }
    if (s[0] == '+' || s[0] == '-')
        return parse_duration (s, now_ms, out_ms, why, whylen);
    size_t len = strlen (s);
    if (strspn (s, "0123456789") == len) {
        if (len > 15) {
            rcn_errf (why, whylen, "time \"%s\": Unix milliseconds out of range", s);
            return RCN_EINVAL;
        }
        *out_ms = strtoull (s, NULL, 10);
        return RCN_OK;
    }
    const char *p = s;
    int Y, M, D, h, m, sec, ms = 0, off_min = 0;
    if (!digits (&p, 4, &Y) || *p++ != '-' || !digits (&p, 2, &M) || *p++ != '-'
        || !digits (&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
        goto bad;
    p++;
    if (!digits (&p, 2, &h) || *p++ != ':' || !digits (&p, 2, &m))
        goto bad;
    sec = 0;
    if (*p == ':') {
        p++;
        if (!digits (&p, 2, &sec))
            goto bad;
        if (*p == '.') {
            p++;
            int nd = 0, frac = 0;
            while (isdigit ((unsigned char) *p)) {
                if (nd < 3) {
                    frac = frac * 10 + (*p - '0');
                    nd++;
                }
                p++;
            }
            if (nd == 0)
                goto bad;
            while (nd++ < 3)
                frac *= 10;
            ms = frac;
        }
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!digits (&p, 2, &oh) || *p++ != ':' || !digits (&p, 2, &om) || oh > 23 || om > 59)
            goto bad;
        off_min = sign * (oh * 60 + om);
    }
    else
        goto bad;                     /* a time without a zone is ambiguous: refuse it */
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (*p || Y < 1970 || M < 1 || M > 12 || D < 1
        || D > mdays[M - 1] + (M == 2 && leap) || h > 23 || m > 59 || sec > 60)
        goto bad;
    /* A leap second (:60) is the instant one second after :59, as Unix time counts it. */
    int extra = sec == 60 ? 1000 : 0;
    struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                     .tm_hour = h, .tm_min = m, .tm_sec = sec == 60 ? 59 : sec };
    time_t t = timegm (&tm);
    int64_t total = ((int64_t) t - (int64_t) off_min * 60) * 1000 + ms + extra;
    if (total < 0)
        goto bad;
    *out_ms = (uint64_t) total;
    return RCN_OK;
bad:
    rcn_errf (why, whylen, "time \"%s\": expected RFC 3339 with a zone "
              "(2026-11-22T09:30:00+08:00), Unix ms, or a duration like +6h", s);
    return RCN_EINVAL;
}

void
rcn_time_format (uint64_t ms, char *buf, size_t len)
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&t, &tm);
    snprintf (buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms % 1000));
}
