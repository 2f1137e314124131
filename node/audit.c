/* audit.c — the local, append-only, hash-chained record of openings of sealed details
 * (audit.h says what a line holds and how it is chained).
 *
 * The one design decision: a line is canonical — the writer and every reader make it with the
 * same function from the record's fields, and a reader takes a line only when its bytes are
 * exactly what that function makes of what it parsed. So there is one byte string per record
 * to hash, any edit shows, and nothing but the fields we chose (no personal details, no
 * stray keys) can ever be in the file. The writer verifies the whole file before its first
 * append: a record is never chained onto a broken or torn file. */
#include "rcn/audit.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/fileio.h"

struct rcn_audit {
    int fd;
    char path[4200];
    uint64_t seq;                    /* of the last record; 0 for an empty file */
    uint8_t head[32];                /* its hash; zeros for an empty file */
};

#define HASH_MARK ",\"hash\":\""

int
rcn_audit_check_reason (const char *reason, char *why, size_t whylen)
{
    size_t len = reason ? strlen (reason) : 0;
    if (len == 0 || len > RCN_AUDIT_REASON_MAX) {
        rcn_errf (why, whylen, "reason: give 1..%d bytes saying why the details are opened",
                  RCN_AUDIT_REASON_MAX);
        return RCN_EINVAL;
    }
    if (!rcn_utf8_text_ok (reason, len, false)) {
        rcn_errf (why, whylen, "reason: must be UTF-8 text without control characters "
                  "(one line)");
        return RCN_EINVAL;
    }
    return RCN_OK;
}

static bool
kind_ok (const char *k)
{
    size_t len = strlen (k);
    if (len == 0 || len > RCN_AUDIT_KIND_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_'))
            return false;
    return true;
}

/* Appends s to buf at *at as a JSON string body; only `"` and `\` need escaping in the text
 * the checks let through. false when it does not fit. */
static bool
put_str (char *buf, size_t len, size_t *at, const char *s)
{
    for (; *s; s++) {
        bool esc = *s == '"' || *s == '\\';
        if (*at + 2 >= len)
            return false;
        if (esc)
            buf[(*at)++] = '\\';
        buf[(*at)++] = *s;
    }
    buf[*at] = '\0';
    return true;
}

static bool
put_fmt (char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format (printf, 4, 5)));

static bool
put_fmt (char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (buf + *at, len - *at, fmt, ap);
    va_end (ap);
    if (n < 0 || (size_t) n >= len - *at)
        return false;
    *at += (size_t) n;
    return true;
}

/* The canonical line of r into buf (with the newline, NUL-terminated); *body_len is the
 * length of the part the hash covers. r->hash is written as it is. false when too long. */
static bool
format_line (const rcn_audit_rec_t *r, char *buf, size_t len, size_t *body_len, size_t *line_len)
{
    char when[40], entry[65], prev[65], hash[65];
    rcn_time_format (r->time_ms, when, sizeof when);
    size_t at = 0;
    bool ok = put_fmt (buf, len, &at, "{\"seq\":%" PRIu64 ",\"time_ms\":%" PRIu64
                       ",\"time\":\"%s\",\"operator\":\"", r->seq, r->time_ms, when)
              && put_str (buf, len, &at, r->operator_name)
              && put_fmt (buf, len, &at, "\",\"kind\":\"%s\",\"entry\":\"%s\",\"region\":\"%06"
                          PRIu32 "\",\"reason\":\"", r->kind, rcn_hex (r->entry, 32, entry),
                          r->region)
              && put_str (buf, len, &at, r->reason)
              && put_fmt (buf, len, &at, "\",\"prev\":\"%s\"", rcn_hex (r->prev, 32, prev));
    if (!ok)
        return false;
    *body_len = at;
    if (!put_fmt (buf, len, &at, HASH_MARK "%s\"}\n", rcn_hex (r->hash, 32, hash)))
        return false;
    *line_len = at;
    return true;
}

static void
chain_hash (const uint8_t prev[32], const char *body, size_t len, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, prev, 32);
    crypto_generichash_update (&st, (const unsigned char *) body, len);
    crypto_generichash_final (&st, out, 32);
}

static bool
copy_str (const json_t *o, const char *key, char *dst, size_t cap)
{
    const char *s = json_string_value (json_object_get (o, key));
    if (!s || strlen (s) >= cap)
        return false;
    memcpy (dst, s, strlen (s) + 1);
    return true;
}

static bool
copy_hex (const json_t *o, const char *key, uint8_t dst[32])
{
    const char *s = json_string_value (json_object_get (o, key));
    return s && strlen (s) == 64 && rcn_unhex (s, dst, 32) == RCN_OK;
}

static bool
copy_u64 (const json_t *o, const char *key, uint64_t *dst)
{
    const json_t *v = json_object_get (o, key);
    if (!json_is_integer (v) || json_integer_value (v) < 0)
        return false;
    *dst = (uint64_t) json_integer_value (v);
    return true;
}

/* Parses one line (without its newline) into *r: a record only when re-making it from its
 * fields gives exactly these bytes; *body_len is the part the hash covers. The chain is the
 * caller's. */
static int
parse_line (const char *line, size_t len, rcn_audit_rec_t *r, size_t *body_len, char *why,
            size_t whylen)
{
    memset (r, 0, sizeof *r);
    json_error_t err;
    json_t *o = json_loadb (line, len, JSON_REJECT_DUPLICATES, &err);
    int rc = RCN_EINVAL;
    char region[16] = "", name_why[128];
    if (!json_is_object (o)) {
        rcn_errf (why, whylen, "not a JSON object");
        goto fail;
    }
    if (!copy_u64 (o, "seq", &r->seq) || !copy_u64 (o, "time_ms", &r->time_ms)
        || !copy_str (o, "operator", r->operator_name, sizeof r->operator_name)
        || !copy_str (o, "kind", r->kind, sizeof r->kind)
        || !copy_hex (o, "entry", r->entry) || !copy_str (o, "region", region, sizeof region)
        || !copy_str (o, "reason", r->reason, sizeof r->reason)
        || !copy_hex (o, "prev", r->prev) || !copy_hex (o, "hash", r->hash)) {
        rcn_errf (why, whylen, "a field is missing or malformed");
        goto fail;
    }
    char *end;
    errno = 0;
    unsigned long reg = strtoul (region, &end, 10);
    if (errno || *end || strlen (region) != 6 || reg > 999999) {
        rcn_errf (why, whylen, "region is not 6 digits");
        goto fail;
    }
    r->region = (uint32_t) reg;
    if (rcn_name_check (r->operator_name, name_why, sizeof name_why) != RCN_OK
        || !kind_ok (r->kind) || rcn_audit_check_reason (r->reason, NULL, 0) != RCN_OK) {
        rcn_errf (why, whylen, "operator, kind or reason is not text this file may hold");
        goto fail;
    }
    char again[RCN_AUDIT_LINE_MAX + 2];
    size_t body, full;
    if (!format_line (r, again, sizeof again, &body, &full) || full != len + 1
        || memcmp (again, line, len) != 0) {
        rcn_errf (why, whylen, "not in the canonical form (a byte was changed, or a field "
                  "added, moved or re-encoded)");
        goto fail;
    }
    *body_len = body;
    rc = RCN_OK;
fail:
    json_decref (o);
    return rc;
}

int
rcn_audit_read (const char *dir, uint64_t since_ms, rcn_audit_fn fn, void *ctx,
                uint64_t *count, uint8_t head[32], uint64_t *bad_line, char *why, size_t whylen)
{
    assert (dir);
    uint64_t n = 0, lineno = 0;
    uint8_t last[32] = { 0 };
    char path[4200];
    int rc = RCN_OK;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    if (count)
        *count = 0;
    if (bad_line)
        *bad_line = 0;
    if (head)
        memset (head, 0, 32);
    int pn = snprintf (path, sizeof path, "%s/%s", dir, RCN_AUDIT_FILE);
    if (pn < 0 || (size_t) pn >= sizeof path) {
        rcn_errf (why, whylen, "%.200s…: node dir path too long", dir);
        return RCN_EINVAL;
    }
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return RCN_ENOTFOUND;
    if (fd < 0 || !(f = fdopen (fd, "r"))) {
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        if (fd >= 0)
            close (fd);
        return RCN_EIO;
    }
    for (;;) {
        errno = 0;
        ssize_t got = getline (&line, &cap, f);
        if (got < 0) {
            if (ferror (f)) {
                rcn_errf (why, whylen, "%s: %s", path, strerror (errno ? errno : EIO));
                rc = RCN_EIO;
            }
            break;
        }
        lineno++;
        size_t len = (size_t) got;
        rcn_audit_rec_t r;
        char what[256];
        if (line[len - 1] != '\n') {
            rcn_errf (why, whylen, "%s:%" PRIu64 ": torn last line (%zu bytes, no newline): "
                      "an append that never finished, or the file was cut", path, lineno, len);
            rc = RCN_ETRUNC;
            break;
        }
        len--;
        if (len > RCN_AUDIT_LINE_MAX || memchr (line, '\0', len)) {
            rcn_errf (why, whylen, "%s:%" PRIu64 ": not a record (too long or holds NUL)",
                      path, lineno);
            rc = RCN_EINVAL;
            break;
        }
        size_t body = 0;
        if (parse_line (line, len, &r, &body, what, sizeof what) != RCN_OK) {
            rcn_errf (why, whylen, "%s:%" PRIu64 ": not a record: %s", path, lineno, what);
            rc = RCN_EINVAL;
            break;
        }
        uint8_t want[32];
        chain_hash (r.prev, line, body, want);
        if (r.seq != n + 1)
            rcn_errf (why, whylen, "%s:%" PRIu64 ": seq %" PRIu64 " where %" PRIu64 " follows "
                      "(a line was removed, inserted or moved)", path, lineno, r.seq, n + 1);
        else if (memcmp (r.prev, last, 32) != 0)
            rcn_errf (why, whylen, "%s:%" PRIu64 ": prev is not the hash of the line before "
                      "(a line was removed, inserted or moved)", path, lineno);
        else if (sodium_memcmp (r.hash, want, 32) != 0)
            rcn_errf (why, whylen, "%s:%" PRIu64 ": hash does not match the line (it was "
                      "changed)", path, lineno);
        if (r.seq != n + 1 || memcmp (r.prev, last, 32) != 0
            || sodium_memcmp (r.hash, want, 32) != 0) {
            rc = RCN_ECHAIN;
            break;
        }
        n++;
        memcpy (last, r.hash, 32);
        if (fn && r.time_ms >= since_ms && (rc = fn (&r, ctx)) != 0)
            break;
    }
    if ((rc == RCN_ETRUNC || rc == RCN_EINVAL || rc == RCN_ECHAIN) && bad_line)
        *bad_line = lineno;
    if (count)
        *count = n;
    if (head)
        memcpy (head, last, 32);
    free (line);
    fclose (f);
    return rc;
}

int
rcn_audit_open (const char *dir, rcn_audit_t **out, char *why, size_t whylen)
{
    assert (dir && out);
    *out = NULL;
    rcn_audit_t *a = calloc (1, sizeof *a);
    if (!a) {
        rcn_errf (why, whylen, "out of memory");
        return RCN_ENOMEM;
    }
    a->fd = -1;
    int rc = RCN_EINVAL;
    bool created = false;
    int pn = snprintf (a->path, sizeof a->path, "%s/%s", dir, RCN_AUDIT_FILE);
    if (pn < 0 || (size_t) pn >= sizeof a->path) {
        rcn_errf (why, whylen, "%.200s…: node dir path too long", dir);
        goto fail;
    }
    a->fd = open (a->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (a->fd >= 0)
        created = true;
    else if (errno == EEXIST)
        a->fd = open (a->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    rc = RCN_EIO;
    if (a->fd < 0) {
        rcn_errf (why, whylen, "%s: %s", a->path, strerror (errno));
        goto fail;
    }
    /* A new file: its mode whatever the umask, and its name durable before any record. */
    if (created && (fchmod (a->fd, 0600) != 0 || fsync (a->fd) != 0 || rcn_fsync_dir (dir) != 0)) {
        rcn_errf (why, whylen, "%s: creating: %s", a->path, strerror (errno));
        goto fail;
    }
    if ((rc = rcn_audit_read (dir, UINT64_MAX, NULL, NULL, &a->seq, a->head, NULL, why,
                              whylen)) != RCN_OK) {
        if (rc == RCN_ENOTFOUND) {        /* removed between our open and the read */
            rcn_errf (why, whylen, "%s: vanished while being opened", a->path);
            rc = RCN_EIO;
        }
        goto fail;
    }
    *out = a;
    return RCN_OK;
fail:
    if (created && rc != RCN_OK && a->fd >= 0)
        (void) unlink (a->path);
    rcn_audit_destroy (&a);
    return rc;
}

void
rcn_audit_destroy (rcn_audit_t **a)
{
    if (!a || !*a)
        return;
    if ((*a)->fd >= 0)
        close ((*a)->fd);
    free (*a);
    *a = NULL;
}

int
rcn_audit_append (rcn_audit_t *a, const char *operator_name, const char *kind,
                  const uint8_t entry[32], uint32_t region, const char *reason,
                  uint64_t time_ms, rcn_audit_rec_t *out, char *why, size_t whylen)
{
    assert (a && a->fd >= 0 && entry);
    char what[128];
    if (!operator_name || rcn_name_check (operator_name, what, sizeof what) != RCN_OK) {
        rcn_errf (why, whylen, "operator: %s", operator_name ? what : "missing");
        return RCN_EINVAL;
    }
    if (!kind || !kind_ok (kind)) {
        rcn_errf (why, whylen, "kind: 1..%d lowercase letters or '_'", RCN_AUDIT_KIND_MAX);
        return RCN_EINVAL;
    }
    int rc = rcn_audit_check_reason (reason, why, whylen);
    if (rc != RCN_OK)
        return rc;
    if (region > 999999) {
        rcn_errf (why, whylen, "region: %" PRIu32 " is not a 6-digit code", region);
        return RCN_EINVAL;
    }
    rcn_audit_rec_t r = { .seq = a->seq + 1, .time_ms = time_ms, .region = region };
    snprintf (r.operator_name, sizeof r.operator_name, "%s", operator_name);
    snprintf (r.kind, sizeof r.kind, "%s", kind);
    snprintf (r.reason, sizeof r.reason, "%s", reason);
    memcpy (r.entry, entry, 32);
    memcpy (r.prev, a->head, 32);
    char line[RCN_AUDIT_LINE_MAX + 2];
    size_t body, len;
    bool ok = format_line (&r, line, sizeof line, &body, &len);
    assert (ok);                    /* the checked fields fit well within a line */
    chain_hash (r.prev, line, body, r.hash);
    ok = format_line (&r, line, sizeof line, &body, &len);
    assert (ok);
    (void) ok;
    struct stat st;
    if (fstat (a->fd, &st) != 0) {
        rcn_errf (why, whylen, "%s: %s", a->path, strerror (errno));
        return RCN_EIO;
    }
    if (rcn_write_all (a->fd, line, len) != 0 || fsync (a->fd) != 0) {
        int e = errno;
        /* Take back what may be half written, so the file still verifies; if this fails
         * too, the next open names the torn line. Not recorded, either way. */
        if (ftruncate (a->fd, st.st_size) == 0)
            (void) fsync (a->fd);
        rcn_errf (why, whylen, "%s: writing the record: %s", a->path, strerror (e));
        return RCN_EIO;
    }
    a->seq = r.seq;
    memcpy (a->head, r.hash, 32);
    if (out)
        *out = r;
    return RCN_OK;
}

json_t *
rcn_audit_rec_json (const rcn_audit_rec_t *r)
{
    char when[40], entry[65], prev[65], hash[65], region[16];
    rcn_time_format (r->time_ms, when, sizeof when);
    snprintf (region, sizeof region, "%06" PRIu32, r->region);
    return json_pack ("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                      "seq", (json_int_t) r->seq, "time_ms", (json_int_t) r->time_ms,
                      "time", when, "operator", r->operator_name, "kind", r->kind,
                      "entry", rcn_hex (r->entry, 32, entry), "region", region,
                      "reason", r->reason, "prev", rcn_hex (r->prev, 32, prev),
                      "hash", rcn_hex (r->hash, 32, hash));
}
