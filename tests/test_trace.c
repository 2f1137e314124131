/* test_trace.c — the commit trace (trace.h): "%r" expands to the region; the header and the
 * records are laid out byte for byte as trace.h says; installed as a real store's commit hook,
 * it records the entries each synced commit stored (one time per commit, rising) and not the
 * duplicates or gaps; a second writer of the same file is refused before the file is touched;
 * an empty or uncreatable path is a clear error; the cost of a commit's record and flush. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "rcn/trace.h"
#include "storetest.h"
#include "testutil.h"

static uint64_t
get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t
get_u32 (const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t
wall_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Reads the whole file at path into buf (cap bytes); returns its length. */
static size_t
slurp (const char *path, uint8_t *buf, size_t cap)
{
    int fd = open (path, O_RDONLY);
    REQUIRE (fd >= 0);
    ssize_t r = read (fd, buf, cap);
    close (fd);
    REQUIRE (r >= 0);
    return (size_t) r;
}

static void
records_of_a_store (void)
{
    char *dir = rcn_test_tmpdir ("trace");
    char tmpl[512], path[600], expect[600], why[512] = "";
    snprintf (tmpl, sizeof tmpl, "%s/trace-%%r.bin", dir);
    snprintf (expect, sizeof expect, "%s/trace-320000.bin", dir);
    author_t a, b;
    author_init (&a, 0xA1, true);
    author_init (&b, 0xB2, true);
    char sdir[600];
    snprintf (sdir, sizeof sdir, "%s/store", dir);
    REQUIRE (mkdir (sdir, 0700) == 0);
    rcn_store_t *s = open_store (sdir, 0);
    rcn_trace_t *t = NULL;
    uint64_t before = wall_ns ();
    REQUIRE (rcn_trace_open (tmpl, 320000, a.pk, &t, path, sizeof path, why, sizeof why) == RCN_OK);
    CHECK (strcmp (path, expect) == 0);
    struct stat st;
    REQUIRE (stat (expect, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);
    CHECK_EQ (st.st_size, RCN_TRACE_HEADER_SIZE);   /* the header is flushed at open */
    rcn_store_set_commit_hook (s, rcn_trace_hook, t);

    /* Commit 1: a1, a2, b1 stored. Commit 2: a2 again (dup), a4 (gap), a3 stored. */
    rcn_entry_t *a1 = author_text (&a, "one"), *a2 = author_text (&a, "two"),
                *b1 = author_text (&b, "bee"), *a3 = author_text (&a, "three"),
                *a4 = author_text (&a, "four");
    rcn_entry_t *c1[] = { a1, a2, b1 }, *c2[] = { a2, a4, a3 };
    int res[3];
    REQUIRE (rcn_store_append (s, c1, 3, res) == RCN_OK);
    CHECK (res[0] == RCN_OK && res[1] == RCN_OK && res[2] == RCN_OK);
    REQUIRE (rcn_store_append (s, c2, 3, res) == RCN_OK);
    CHECK (res[0] == RCN_EDUP && res[1] == RCN_EGAP && res[2] == RCN_OK);
    CHECK_EQ (rcn_trace_records (t), 4);
    /* Flushed per commit: readable while the trace is open. */
    REQUIRE (stat (expect, &st) == 0);
    CHECK_EQ (st.st_size, RCN_TRACE_HEADER_SIZE + 4 * RCN_TRACE_RECORD_SIZE);
    rcn_store_set_commit_hook (s, NULL, NULL);
    rcn_trace_destroy (&t);
    CHECK (t == NULL);
    rcn_trace_destroy (&t);                          /* twice: harmless */
    uint64_t after = wall_ns ();

    uint8_t buf[4096];
    size_t len = slurp (expect, buf, sizeof buf);
    REQUIRE (len == RCN_TRACE_HEADER_SIZE + 4 * RCN_TRACE_RECORD_SIZE);
    CHECK (memcmp (buf, "RCNTRC1\0", 8) == 0);
    CHECK_EQ (get_u32 (buf + 8), RCN_TRACE_RECORD_SIZE);
    CHECK_EQ (get_u32 (buf + 12), 320000);
    CHECK (memcmp (buf + 16, a.pk, 32) == 0);
    uint64_t opened = get_u64 (buf + 48);
    CHECK (opened >= before && opened <= after);
    for (int i = 56; i < 64; i++)
        CHECK_EQ (buf[i], 0);
    const rcn_entry_t *want[] = { a1, a2, b1, a3 };
    uint64_t t_prev = opened;
    for (int i = 0; i < 4; i++) {
        const uint8_t *r = buf + RCN_TRACE_HEADER_SIZE + i * RCN_TRACE_RECORD_SIZE;
        CHECK (memcmp (r, want[i]->h.origin, 32) == 0);
        CHECK_EQ (get_u64 (r + 32), want[i]->h.seq);
        uint64_t ct = get_u64 (r + 40);
        CHECK (ct >= t_prev && ct <= after);
        if (i == 1 || i == 2)
            CHECK_EQ (ct, get_u64 (r - RCN_TRACE_RECORD_SIZE + 40));  /* one commit, one time */
        t_prev = ct;
        CHECK_EQ (get_u32 (r + 48), TEST_KIND);
        CHECK_EQ (get_u32 (r + 52), want[i]->h.body_len);
    }
    rcn_entry_destroy (&a1);
    rcn_entry_destroy (&a2);
    rcn_entry_destroy (&a3);
    rcn_entry_destroy (&a4);
    rcn_entry_destroy (&b1);
    rcn_store_destroy (&s);
    rcn_test_rmtree (dir);
    free (dir);
}

static void
refusals (void)
{
    char *dir = rcn_test_tmpdir ("trace");
    char path[600], why[512] = "";
    uint8_t origin[32] = { 7 };
    rcn_trace_t *t = NULL, *t2 = NULL;
    /* Empty. */
    CHECK_EQ (rcn_trace_open ("", 310000, origin, &t, NULL, 0, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "RCN_COMMIT_TRACE") != NULL);
    CHECK (t == NULL);
    /* A directory that does not exist. */
    snprintf (path, sizeof path, "%s/no/such/dir/trace.bin", dir);
    why[0] = '\0';
    CHECK_EQ (rcn_trace_open (path, 310000, origin, &t, NULL, 0, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, path) != NULL && strstr (why, strerror (ENOENT)) != NULL);
    /* A second writer: refused, and the first one's records are intact. */
    snprintf (path, sizeof path, "%s/shared.bin", dir);
    REQUIRE (rcn_trace_open (path, 310000, origin, &t, NULL, 0, why, sizeof why) == RCN_OK);
    author_t a;
    author_init (&a, 0xC3, true);
    rcn_entry_t *e = author_text (&a, "kept");
    int ok = RCN_OK;
    rcn_trace_hook (t, &e, &ok, 1);
    why[0] = '\0';
    CHECK_EQ (rcn_trace_open (path, 320000, origin, &t2, NULL, 0, why, sizeof why), RCN_EBUSY);
    CHECK (strstr (why, "%r") != NULL);
    CHECK (t2 == NULL);
    struct stat st;
    REQUIRE (stat (path, &st) == 0);
    CHECK_EQ (st.st_size, RCN_TRACE_HEADER_SIZE + RCN_TRACE_RECORD_SIZE);
    /* Cost: one record and a flush per commit, as the node pays it after each commit. */
    enum { N = 20000 };
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++)
        rcn_trace_hook (t, &e, &ok, 1);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    double us = ((double) (t1.tv_sec - t0.tv_sec) * 1e9 + (double) (t1.tv_nsec - t0.tv_nsec))
              / N / 1e3;
    fprintf (stderr, "    one commit's record + flush: %.2f µs\n", us);
    CHECK (us < 50);                 /* a few µs here; generous for sanitizers and load */
    CHECK_EQ (rcn_trace_records (t), N + 1);
    rcn_trace_destroy (&t);
    /* Reopened once the writer is gone: truncated, a fresh header. */
    REQUIRE (rcn_trace_open (path, 320000, origin, &t2, NULL, 0, why, sizeof why) == RCN_OK);
    REQUIRE (stat (path, &st) == 0);
    CHECK_EQ (st.st_size, RCN_TRACE_HEADER_SIZE);
    rcn_trace_destroy (&t2);
    rcn_entry_destroy (&e);
    rcn_test_rmtree (dir);
    free (dir);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    RUN (records_of_a_store);
    RUN (refusals);
    return rcn_test_done ();
}
