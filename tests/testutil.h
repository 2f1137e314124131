/* testutil.h — the smallest test harness that reports well: CHECK keeps going and counts,
 * REQUIRE stops the test. Every test binary ends with rcn_test_done(), which prints
 * "N passed, N failed" and returns the exit status for ctest. */
#ifndef RCN_TESTUTIL_H
#define RCN_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

extern int rcn_test_passed, rcn_test_failed;

void rcn_test_fail (const char *file, int line, const char *expr);

#define CHECK(expr) \
    do { if (expr) rcn_test_passed++; else rcn_test_fail (__FILE__, __LINE__, #expr); } while (0)
#define REQUIRE(expr) \
    do { if (expr) rcn_test_passed++; else { rcn_test_fail (__FILE__, __LINE__, #expr); \
         rcn_test_done (); exit (1); } } while (0)
/* CHECK that two ints are equal and print both when not. */
#define CHECK_EQ(a, b) \
    do { long long _a = (long long) (a), _b = (long long) (b); \
         if (_a == _b) rcn_test_passed++; \
         else { rcn_test_fail (__FILE__, __LINE__, #a " == " #b); \
                fprintf (stderr, "    %lld != %lld\n", _a, _b); } } while (0)

/* Prints the summary line; returns 0 when nothing failed (use as main's return value). */
int rcn_test_done (void);

/* A fresh empty directory under $TMPDIR (or /tmp), removed by rcn_test_rmtree. Caller frees. */
char *rcn_test_tmpdir (const char *tag);

/* rm -rf path (no shell). */
void rcn_test_rmtree (const char *path);

/* Runs one named sub-test, printing its name. */
#define RUN(fn) do { fprintf (stderr, "-- %s\n", #fn); fn (); } while (0)

#include <stdio.h>

#endif
