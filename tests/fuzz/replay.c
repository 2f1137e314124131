/* replay.c — runs saved fuzz inputs through LLVMFuzzerTestOneInput without libFuzzer, so
 * that ctest replays the corpus (and every crash ever found) on every build, sanitizers
 * included. Arguments are directories (every regular file in them) or files. A failing input
 * aborts the process, which ctest reports; the input's name is printed before it runs. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int s_passed, s_failed;

static void
s_run_file (const char *path)
{
    FILE *f = NULL;
    uint8_t *buf = NULL;
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
        goto fail;
    f = fopen (path, "rb");
    if (!f)
        goto fail;
    size_t size = (size_t) st.st_size;
    buf = malloc (size ? size : 1);
    if (!buf || fread (buf, 1, size, f) != size)
        goto fail;
    fprintf (stderr, "%s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput (buf, size);
    s_passed++;
    fclose (f);
    free (buf);
    return;
fail:
    fprintf (stderr, "cannot read %s\n", path);
    s_failed++;
    if (f)
        fclose (f);
    free (buf);
}

static int
s_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
s_run_dir (const char *dir)
{
    DIR *d = opendir (dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (!d) {
        fprintf (stderr, "cannot open %s\n", dir);
        s_failed++;
        return;
    }
    struct dirent *de;
    while ((de = readdir (d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc (names, cap * sizeof *names);
            if (!grown)
                abort ();
            names = grown;
        }
        size_t len = strlen (dir) + strlen (de->d_name) + 2;
        names[n] = malloc (len);
        if (!names[n])
            abort ();
        snprintf (names[n], len, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir (d);
    qsort (names, n, sizeof *names, s_cmp);      /* same order on every run */
    for (size_t i = 0; i < n; i++) {
        s_run_file (names[i]);
        free (names[i]);
    }
    free (names);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv[i], &st) == 0 && S_ISDIR (st.st_mode))
            s_run_dir (argv[i]);
        else
            s_run_file (argv[i]);
    }
    printf ("%d passed, %d failed\n", s_passed, s_failed);
    return s_failed == 0 && s_passed > 0 ? 0 : 1;
}
