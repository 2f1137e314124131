/* bench.c — see bench.h. */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rcn/clock.h"
#include "rcn/err.h"

#include <sodium.h>

#include "rcn.pb-c.h"

static uint64_t
clock_ns (clockid_t id)
{
    struct timespec ts;
    clock_gettime (id, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

uint64_t rcb_mono_ns (void) { return clock_ns (CLOCK_MONOTONIC); }
uint64_t rcb_wall_ns (void) { return clock_ns (CLOCK_REALTIME); }

void
rcb_die (const char *what, const char *why)
{
    fprintf (stderr, "rcbench: %s: %s\n", what, why);
    exit (2);
}

/* Body = severity (2 bytes) + text tag (1) + text length varint (2, as 128 <= len < 16384)
 * + text: the text is RCB_BODY - 5 bytes. */
#define TEXT_LEN (RCB_BODY - 5)

void
rcb_alert_text (uint64_t i, char *buf, size_t len)
{
    if (len < TEXT_LEN + 1)
        rcb_die ("alert text", "buffer too small");
    int k = snprintf (buf, len, "benchmark alert %" PRIu64 " ", i);
    memset (buf + k, 'x', TEXT_LEN - (size_t) k);
    buf[TEXT_LEN] = '\0';
}

void
rcb_alert_body (uint64_t i, uint8_t buf[RCB_BODY])
{
    char text[RCB_BODY];
    rcb_alert_text (i, text, sizeof text);
    Rcn__Alert a = RCN__ALERT__INIT;
    a.severity = RCN__ALERT__SEVERITY__SEVERITY_MINOR;
    a.text = text;
    if (rcn__alert__get_packed_size (&a) != RCB_BODY)
        rcb_die ("alert body", "packed size is not RCB_BODY");
    rcn__alert__pack (&a, buf);
}

void
rcb_chain_make (const uint8_t sk[RCN_SECRET_SIZE], uint64_t first, const uint8_t *prev,
                size_t n, rcb_chain_t *out, uint8_t last_hash[RCN_HASH_SIZE])
{
    out->n = n;
    out->wire = calloc (n ? n : 1, sizeof *out->wire);
    out->len = calloc (n ? n : 1, sizeof *out->len);
    if (!out->wire || !out->len)
        rcb_die ("chain", "out of memory");
    uint8_t h[RCN_HASH_SIZE];
    const uint8_t *p = prev;
    uint64_t t = rcn_now_ms ();
    for (size_t i = 0; i < n; i++) {
        uint8_t body[RCB_BODY];
        rcb_alert_body (first + i, body);
        rcn_entry_t *e = NULL;
        int rc = rcn_entry_sign (sk, first + i, p, t, RCN__KIND__KIND_ALERT, RCN_STATUS_EXERCISE,
                                 body, sizeof body, &e);
        if (rc != RCN_OK || rcn_entry_encode (e, &out->wire[i], &out->len[i]) != RCN_OK)
            rcb_die ("signing the chain", rcn_strerror (rc));
        memcpy (h, rcn_entry_hash (e), sizeof h);
        p = h;
        rcn_entry_destroy (&e);
    }
    if (last_hash && n)
        memcpy (last_hash, h, RCN_HASH_SIZE);
}

void
rcb_chain_free (rcb_chain_t *c)
{
    for (size_t i = 0; c->wire && i < c->n; i++)
        free (c->wire[i]);
    free (c->wire);
    free (c->len);
    memset (c, 0, sizeof *c);
}

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

double
rcb_quantile (double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort (v, n, sizeof *v, cmp_double);
    size_t k = (size_t) (q * (double) n + 0.999999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

uint64_t
rcb_rss_anon_kib (long pid)
{
    char path[64];
    if (pid == 0)
        snprintf (path, sizeof path, "/proc/self/status");
    else
        snprintf (path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t kib = 0;
    while (fgets (line, sizeof line, f))
        if (sscanf (line, "RssAnon: %" SCNu64, &kib) == 1)
            break;
    fclose (f);
    return kib;
}

#define LIMIT_MSGS 64

void
rcb_verify_for (double seconds, uint64_t *checks, double *elapsed)
{
    static uint8_t msg[LIMIT_MSGS][RCB_BODY], sig[LIMIT_MSGS][crypto_sign_BYTES];
    static uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    static int made;
    if (!made) {
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        if (sodium_init () < 0)
            rcb_die ("libsodium", "sodium_init failed");
        crypto_sign_keypair (pk, sk);
        for (size_t i = 0; i < LIMIT_MSGS; i++) {
            rcb_alert_body (i, msg[i]);
            crypto_sign_detached (sig[i], NULL, msg[i], RCB_BODY, sk);
        }
        sodium_memzero (sk, sizeof sk);
        made = 1;
    }
    uint64_t n = 0, start = rcb_mono_ns (), limit = (uint64_t) (seconds * 1e9), el;
    do {
        for (size_t i = 0; i < LIMIT_MSGS; i++)
            if (crypto_sign_verify_detached (sig[i], msg[i], RCB_BODY, pk) != 0) {
                fprintf (stderr, "rcbench: a valid signature did not verify\n");
                exit (1);
            }
        n += LIMIT_MSGS;
    } while ((el = rcb_mono_ns () - start) < limit);
    *checks += n;
    *elapsed += (double) el / 1e9;
}

unsigned long
rcb_count_arg (const char *opt, const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul (s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v == 0 || v > max) {
        fprintf (stderr, "rcbench: --%s: want a whole number from 1 to %lu, got \"%.40s\"\n",
                 opt, max, s);
        exit (2);
    }
    return v;
}

const rcn_member_t *
rcb_member_load (const char *dir, rcn_conf_t *conf, rcn_roster_t **roster, rcn_keys_t **keys)
{
    char why[512] = "";
    if (rcn_conf_load (dir, conf, why, sizeof why) != RCN_OK)
        rcb_die ("node.conf", why);
    if (rcn_roster_load (conf->roster_path, roster, why, sizeof why) != RCN_OK)
        rcb_die ("roster", why);
    if (rcn_keys_load (conf->keys_path, keys, why, sizeof why) != RCN_OK)
        rcb_die ("keys", why);
    const rcn_member_t *me = rcn_roster_by_origin (*roster, rcn_keys_sign_public (*keys));
    if (!me)
        rcb_die (dir, "these keys are not a member of this roster");
    return me;
}
