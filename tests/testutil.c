/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rcn_test_passed, rcn_test_failed;

void
rcn_test_fail (const char *file, int line, const char *expr)
{
    rcn_test_failed++;
    fprintf (stderr, "FAIL %s:%d: %s\n", file, line, expr);
}

int
rcn_test_done (void)
{
    printf ("%d passed, %d failed\n", rcn_test_passed, rcn_test_failed);
    fflush (stdout);
    return rcn_test_failed == 0 && rcn_test_passed > 0 ? 0 : 1;
}

char *
rcn_test_tmpdir (const char *tag)
{
    const char *base = getenv ("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t len = strlen (base) + strlen (tag) + 32;
    char *path = malloc (len);
    if (!path)
        abort ();
    snprintf (path, len, "%s/rcn-%s-XXXXXX", base, tag);
    if (!mkdtemp (path)) {
        perror ("mkdtemp");
        abort ();
    }
    return path;
}

static int
rm_one (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb; (void) flag; (void) ftw;
    return remove (path);
}

void
rcn_test_rmtree (const char *path)
{
    if (path)
        nftw (path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
