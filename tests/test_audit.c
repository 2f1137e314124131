/* test_audit.c — the local audit of openings (audit.h): created 0600; append, read back and
 * verify; the exact line and hash formula (so that a third party can check the file); each
 * kind of tampering (a changed byte, a removed line, two lines swapped, a non-canonical
 * re-encoding, an added field) found and named by line; a torn last line reported, never
 * taken; the writer refusing to chain onto a broken file; reasons and operators that are not
 * one line of text refused with nothing written; --since filtering; a failed write leaving
 * the file as it was.
 *
 * Each case is written so that it fails when the check it is about is taken out of audit.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "rcn/audit.h"
#include "rcn/codec.h"
#include "testutil.h"

static char *dir;
static char path[512];
static uint8_t e1[32], e2[32], e3[32];

static size_t
slurp (char *buf, size_t len)
{
    buf[0] = '\0';
    int fd = open (path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read (fd, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
    close (fd);
    return n > 0 ? (size_t) n : 0;
}

static void
put (const char *text, size_t len)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE (fd >= 0);
    REQUIRE (write (fd, text, len) == (ssize_t) len);
    close (fd);
}

static int
append (const char *who, const uint8_t *entry, const char *reason, uint64_t t, char *why,
        size_t whylen)
{
    rcn_audit_t *a = NULL;
    int rc = rcn_audit_open (dir, &a, why, whylen);
    if (rc == RCN_OK)
        rc = rcn_audit_append (a, who, "case", entry, 310000, reason, t, NULL, why, whylen);
    rcn_audit_destroy (&a);
    rcn_audit_destroy (&a);        /* safe twice */
    return rc;
}

/* Three records at times 1000, 2000, 3000 in a fresh file. */
static void
three (void)
{
    char why[512];
    unlink (path);
    REQUIRE (append ("wang", e1, "close contact follow-up", 1000, why, sizeof why) == RCN_OK);
    REQUIRE (append ("li", e2, "hotel \"A\" \\ room list", 2000, why, sizeof why) == RCN_OK);
    REQUIRE (append ("王医生", e3, "核对身份", 3000, why, sizeof why) == RCN_OK);
}

static int
verify (uint64_t *count, uint64_t *bad, char *why, size_t whylen)
{
    uint8_t head[32];
    return rcn_audit_read (dir, 0, NULL, NULL, count, head, bad, why, whylen);
}

typedef struct {
    rcn_audit_rec_t r[8];
    int n;
} seen_t;

static int
collect (const rcn_audit_rec_t *r, void *ctx)
{
    seen_t *s = ctx;
    if (s->n < 8)
        s->r[s->n++] = *r;
    return 0;
}

static void
test_append_read (void)
{
    char why[512] = "";
    unlink (path);
    uint64_t count = 9, bad = 9;
    CHECK_EQ (verify (&count, &bad, why, sizeof why), RCN_ENOTFOUND);
    three ();
    struct stat st;
    REQUIRE (stat (path, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);
    seen_t s = { .n = 0 };
    uint8_t head[32];
    CHECK_EQ (rcn_audit_read (dir, 0, collect, &s, &count, head, &bad, why, sizeof why), RCN_OK);
    CHECK_EQ (count, 3);
    CHECK_EQ (bad, 0);
    REQUIRE (s.n == 3);
    CHECK_EQ (s.r[0].seq, 1);
    CHECK_EQ (s.r[2].seq, 3);
    CHECK (strcmp (s.r[0].operator_name, "wang") == 0);
    CHECK (strcmp (s.r[1].reason, "hotel \"A\" \\ room list") == 0);
    CHECK (strcmp (s.r[2].operator_name, "王医生") == 0);
    CHECK (strcmp (s.r[2].kind, "case") == 0);
    CHECK_EQ (s.r[1].region, 310000);
    CHECK_EQ (s.r[1].time_ms, 2000);
    CHECK (memcmp (s.r[1].entry, e2, 32) == 0);
    uint8_t zero[32] = { 0 };
    CHECK (memcmp (s.r[0].prev, zero, 32) == 0);
    CHECK (memcmp (s.r[1].prev, s.r[0].hash, 32) == 0);
    CHECK (memcmp (s.r[2].prev, s.r[1].hash, 32) == 0);
    CHECK (memcmp (head, s.r[2].hash, 32) == 0);

    /* A reopened writer goes on from the head. */
    rcn_audit_t *a = NULL;
    rcn_audit_rec_t r;
    REQUIRE (rcn_audit_open (dir, &a, why, sizeof why) == RCN_OK);
    CHECK_EQ (rcn_audit_append (a, "wang", "transfer", e1, 320000, "manifest check", 4000, &r,
                                why, sizeof why), RCN_OK);
    CHECK_EQ (r.seq, 4);
    CHECK (memcmp (r.prev, head, 32) == 0);
    rcn_audit_destroy (&a);
    CHECK (a == NULL);
    CHECK_EQ (verify (&count, &bad, why, sizeof why), RCN_OK);
    CHECK_EQ (count, 4);

    json_t *j = rcn_audit_rec_json (&r);
    CHECK (strcmp (json_string_value (json_object_get (j, "region")), "320000") == 0);
    CHECK (strcmp (json_string_value (json_object_get (j, "kind")), "transfer") == 0);
    CHECK_EQ (json_integer_value (json_object_get (j, "seq")), 4);
    json_decref (j);
}

/* The documented line and hash, made here independently of audit.c. */
static void
test_exact_format (void)
{
    char why[512];
    unlink (path);
    REQUIRE (append ("wang", e1, "a \"quoted\" reason", 1763775000000ULL, why, sizeof why)
             == RCN_OK);
    char buf[4096], hex[65];
    size_t n = slurp (buf, sizeof buf);
    char want[4096];
    int w = snprintf (want, sizeof want, "{\"seq\":1,\"time_ms\":1763775000000,\"time\":"
                      "\"2025-11-22T01:30:00.000Z\",\"operator\":\"wang\",\"kind\":\"case\","
                      "\"entry\":\"%s\",\"region\":\"310000\",\"reason\":"
                      "\"a \\\"quoted\\\" reason\",\"prev\":\"%064d\"",
                      rcn_hex (e1, 32, hex), 0);
    uint8_t zero[32] = { 0 }, h[32];
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, zero, 32);
    crypto_generichash_update (&st, (const unsigned char *) want, (size_t) w);
    crypto_generichash_final (&st, h, 32);
    snprintf (want + w, sizeof want - (size_t) w, ",\"hash\":\"%s\"}\n", rcn_hex (h, 32, hex));
    CHECK_EQ (n, strlen (want));
    CHECK (strcmp (buf, want) == 0);
    if (strcmp (buf, want) != 0)
        fprintf (stderr, "    have %s    want %s", buf, want);
}

/* Replaces the file with its lines in a new order (indices into the current lines; -1 ends). */
static void
relines (const int *order)
{
    char buf[8192], out[8192];
    slurp (buf, sizeof buf);
    char *lines[16];
    size_t lens[16];
    int n = 0;
    for (char *p = buf; *p && n < 16; n++) {
        char *nl = strchr (p, '\n');
        REQUIRE (nl);
        lines[n] = p;
        lens[n] = (size_t) (nl - p) + 1;
        p = nl + 1;
    }
    size_t at = 0;
    for (int i = 0; order[i] >= 0; i++) {
        REQUIRE (order[i] < n);
        memcpy (out + at, lines[order[i]], lens[order[i]]);
        at += lens[order[i]];
    }
    put (out, at);
}

static void
expect_fault (int want_rc, uint64_t want_line, uint64_t want_count, const char *what)
{
    char why[512] = "";
    uint64_t count = 99, bad = 99;
    int rc = verify (&count, &bad, why, sizeof why);
    CHECK_EQ (rc, want_rc);
    CHECK_EQ (bad, want_line);
    CHECK_EQ (count, want_count);
    char tag[32];
    snprintf (tag, sizeof tag, "audit.log:%llu:", (unsigned long long) want_line);
    CHECK (strstr (why, tag) != NULL);
    if (what)
        CHECK (strstr (why, what) != NULL);
    if (rc != want_rc || !strstr (why, tag))
        fprintf (stderr, "    why: %s\n", why);
    /* The writer does not chain onto it, and leaves it as it is. */
    char before[8192], after[8192];
    slurp (before, sizeof before);
    rcn_audit_t *a = NULL;
    CHECK (rcn_audit_open (dir, &a, why, sizeof why) == want_rc);
    CHECK (a == NULL);
    slurp (after, sizeof after);
    CHECK (strcmp (before, after) == 0);
}

static void
test_tampering (void)
{
    char buf[8192];
    /* A changed byte inside the reason of line 2: still canonical, but the hash differs. */
    three ();
    size_t n = slurp (buf, sizeof buf);
    char *p = strstr (buf, "room list");
    REQUIRE (p);
    p[0] = 'R';
    put (buf, n);
    expect_fault (RCN_ECHAIN, 2, 1, "hash does not match");

    /* A changed digit of a time: time and time_ms no longer agree, so not canonical. */
    three ();
    n = slurp (buf, sizeof buf);
    p = strstr (buf, "\"time_ms\":3000");
    REQUIRE (p);
    p[11] = '1';
    put (buf, n);
    expect_fault (RCN_EINVAL, 3, 2, "canonical");

    /* Line 2 removed. */
    three ();
    relines ((int[]) { 0, 2, -1 });
    expect_fault (RCN_ECHAIN, 2, 1, "seq 3 where 2 follows");

    /* Lines 2 and 3 swapped. */
    three ();
    relines ((int[]) { 0, 2, 1, -1 });
    expect_fault (RCN_ECHAIN, 2, 1, NULL);

    /* Line 1 duplicated. */
    three ();
    relines ((int[]) { 0, 0, 1, 2, -1 });
    expect_fault (RCN_ECHAIN, 2, 1, NULL);

    /* A space added: the same JSON, not the same bytes. */
    three ();
    n = slurp (buf, sizeof buf);
    char *nl = strchr (buf, '\n');
    REQUIRE (nl);
    memmove (nl + 1, nl, n - (size_t) (nl - buf) + 1);
    nl[-1] = ' ';
    nl[0] = '}';
    put (buf, n + 1);
    expect_fault (RCN_EINVAL, 1, 0, "canonical");

    /* An escape re-encoded (\u0041 for A) on line 2. */
    three ();
    n = slurp (buf, sizeof buf);
    p = strstr (buf, "\\\"A\\\"");
    REQUIRE (p);
    char fixed[8192];
    size_t pre = (size_t) (p - buf) + 2;
    memcpy (fixed, buf, pre);
    memcpy (fixed + pre, "\\u0041", 6);
    memcpy (fixed + pre + 6, p + 3, n - pre - 1);
    put (fixed, n + 5);
    expect_fault (RCN_EINVAL, 2, 1, NULL);

    /* A fourth line that is not JSON at all. */
    three ();
    n = slurp (buf, sizeof buf);
    memcpy (buf + n, "hello\n", 7);
    put (buf, n + 6);
    expect_fault (RCN_EINVAL, 4, 3, "not a record");
}

static void
test_torn (void)
{
    char buf[8192];
    /* The last line cut short: a crash during an append. */
    three ();
    size_t n = slurp (buf, sizeof buf);
    put (buf, n - 20);
    expect_fault (RCN_ETRUNC, 3, 2, "torn last line");
    /* Only its newline missing: still torn, not taken. */
    three ();
    n = slurp (buf, sizeof buf);
    put (buf, n - 1);
    expect_fault (RCN_ETRUNC, 3, 2, "torn");
}

static void
test_refused_fields (void)
{
    char why[512], before[8192], after[8192];
    three ();
    slurp (before, sizeof before);
    char long_reason[RCN_AUDIT_REASON_MAX + 2];
    memset (long_reason, 'x', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = '\0';
    const char *bad[] = { "", "line one\nline two", "tab\there", "bell\a", "del\x7f",
                          "c1 \xc2\x85", "not utf-8 \xff", "overlong \xc0\xaf", long_reason };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        CHECK_EQ (append ("wang", e1, bad[i], 5000, why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, "reason") != NULL);
        CHECK_EQ (rcn_audit_check_reason (bad[i], NULL, 0), RCN_EINVAL);
    }
    const char *bad_ops[] = { "", "two\nlines", "\x01x" };
    for (size_t i = 0; i < sizeof bad_ops / sizeof *bad_ops; i++) {
        why[0] = '\0';
        CHECK_EQ (append (bad_ops[i], e1, "fine", 5000, why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, "operator") != NULL);
    }
    rcn_audit_t *a = NULL;
    REQUIRE (rcn_audit_open (dir, &a, why, sizeof why) == RCN_OK);
    CHECK_EQ (rcn_audit_append (a, "wang", "Case!", e1, 1, "fine", 1, NULL, why, sizeof why),
              RCN_EINVAL);
    CHECK_EQ (rcn_audit_append (a, "wang", "case", e1, 1000000, "fine", 1, NULL, why,
                                sizeof why), RCN_EINVAL);
    rcn_audit_destroy (&a);
    slurp (after, sizeof after);
    CHECK (strcmp (before, after) == 0);
    /* Exactly the cap is fine. */
    long_reason[RCN_AUDIT_REASON_MAX] = '\0';
    CHECK_EQ (append ("wang", e1, long_reason, 5000, why, sizeof why), RCN_OK);
    uint64_t count, line;
    CHECK_EQ (verify (&count, &line, why, sizeof why), RCN_OK);
    CHECK_EQ (count, 4);
}

static void
test_since (void)
{
    char why[512];
    three ();
    seen_t s = { .n = 0 };
    uint64_t count;
    CHECK_EQ (rcn_audit_read (dir, 2000, collect, &s, &count, NULL, NULL, why, sizeof why),
              RCN_OK);
    CHECK_EQ (s.n, 2);
    CHECK_EQ (s.r[0].seq, 2);
    CHECK_EQ (s.r[1].seq, 3);
    CHECK_EQ (count, 3);          /* the whole chain is still verified */
    s.n = 0;
    CHECK_EQ (rcn_audit_read (dir, 3001, collect, &s, &count, NULL, NULL, why, sizeof why),
              RCN_OK);
    CHECK_EQ (s.n, 0);
}

/* A write that fails half way (the file size limit) records nothing and leaves a file that
 * still verifies and takes the next record. */
static void
test_failed_write (void)
{
    char why[512] = "", before[8192], after[8192];
    three ();
    size_t n = slurp (before, sizeof before);
    rcn_audit_t *a = NULL;
    REQUIRE (rcn_audit_open (dir, &a, why, sizeof why) == RCN_OK);
    struct rlimit old, small;
    REQUIRE (getrlimit (RLIMIT_FSIZE, &old) == 0);
    small = old;
    small.rlim_cur = n + 40;          /* a part of the line fits */
    void (*prev) (int) = signal (SIGXFSZ, SIG_IGN);
    REQUIRE (setrlimit (RLIMIT_FSIZE, &small) == 0);
    int rc = rcn_audit_append (a, "wang", "case", e1, 310000, "will not fit", 9000, NULL, why,
                               sizeof why);
    REQUIRE (setrlimit (RLIMIT_FSIZE, &old) == 0);
    signal (SIGXFSZ, prev);
    CHECK_EQ (rc, RCN_EIO);
    CHECK (strstr (why, "audit.log") != NULL);
    slurp (after, sizeof after);
    CHECK (strcmp (before, after) == 0);
    CHECK_EQ (rcn_audit_append (a, "wang", "case", e1, 310000, "fits now", 9000, NULL, why,
                                sizeof why), RCN_OK);
    rcn_audit_destroy (&a);
    uint64_t count, line;
    CHECK_EQ (verify (&count, &line, why, sizeof why), RCN_OK);
    CHECK_EQ (count, 4);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    dir = rcn_test_tmpdir ("audit");
    snprintf (path, sizeof path, "%s/%s", dir, RCN_AUDIT_FILE);
    memset (e1, 0x11, 32);
    memset (e2, 0x22, 32);
    memset (e3, 0x33, 32);
    RUN (test_append_read);
    RUN (test_exact_format);
    RUN (test_tampering);
    RUN (test_torn);
    RUN (test_refused_fields);
    RUN (test_since);
    RUN (test_failed_write);
    rcn_test_rmtree (dir);
    free (dir);
    return rcn_test_done ();
}
