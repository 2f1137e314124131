/* trace.c — the commit trace (see trace.h): records written through stdio, flushed per commit. */
#include "rcn/trace.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "rcn/codec.h"
#include "rcn/log.h"

struct rcn_trace {
    FILE *f;                         /* holds the flock'ed fd */
    char path[4096];
    uint64_t records;
    int failed;                      /* a write failed: nothing more is written */
    char buf[1 << 16];               /* stdio's buffer: a commit of 1000 entries in one write */
};

static uint64_t
wall_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Writes template with every "%r" replaced by the region; false when it does not fit. */
static bool
expand (const char *tmpl, uint32_t region, char *out, size_t len)
{
    size_t k = 0;
    for (const char *p = tmpl; *p; p++) {
        char code[16];
        const char *piece = code;
        if (p[0] == '%' && p[1] == 'r') {
            snprintf (code, sizeof code, "%06u", region);
            p++;
        }
        else {
            code[0] = *p;
            code[1] = '\0';
        }
        size_t pl = strlen (piece);
        if (k + pl >= len)
            return false;
        memcpy (out + k, piece, pl);
        k += pl;
    }
    out[k] = '\0';
    return true;
}

int
rcn_trace_open (const char *path_template, uint32_t region, const uint8_t origin[RCN_KEY_SIZE],
                rcn_trace_t **out, char *path_out, size_t pathlen, char *why, size_t whylen)
{
    assert (path_template && origin && out);
    *out = NULL;
    if (!*path_template) {
        rcn_errf (why, whylen, "%s is set but empty: give the trace file's path", RCN_TRACE_ENV);
        return RCN_EINVAL;
    }
    rcn_trace_t *t = calloc (1, sizeof *t);
    if (!t)
        return RCN_ENOMEM;
    int rc = RCN_EIO, fd = -1;
    if (!expand (path_template, region, t->path, sizeof t->path)) {
        rcn_errf (why, whylen, "%s: the path is too long", RCN_TRACE_ENV);
        rc = RCN_EINVAL;
        goto fail;
    }
    /* Not O_TRUNC: a file another node writes is refused before anything of it is lost. */
    fd = open (t->path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rcn_errf (why, whylen, "%s=%s: cannot create the trace: %s", RCN_TRACE_ENV, t->path,
                  strerror (errno));
        goto fail;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        rcn_errf (why, whylen, "%s=%s: another process writes this trace (in a cluster, put %%r "
                  "in the path: it stands for the region)", RCN_TRACE_ENV, t->path);
        rc = RCN_EBUSY;
        goto fail;
    }
    if (ftruncate (fd, 0) != 0 || !(t->f = fdopen (fd, "w"))) {
        rcn_errf (why, whylen, "%s=%s: cannot write the trace: %s", RCN_TRACE_ENV, t->path,
                  strerror (errno));
        goto fail;
    }
    fd = -1;                                  /* t->f owns it */
    setvbuf (t->f, t->buf, _IOFBF, sizeof t->buf);
    uint8_t h[RCN_TRACE_HEADER_SIZE] = { 0 };
    memcpy (h, RCN_TRACE_MAGIC, sizeof RCN_TRACE_MAGIC);
    rcn_le32_put (h + 8, RCN_TRACE_RECORD_SIZE);
    rcn_le32_put (h + 12, region);
    memcpy (h + 16, origin, RCN_KEY_SIZE);
    rcn_le64_put (h + 48, wall_ns ());
    if (fwrite (h, sizeof h, 1, t->f) != 1 || fflush (t->f) != 0) {
        rcn_errf (why, whylen, "%s=%s: cannot write the trace: %s", RCN_TRACE_ENV, t->path,
                  strerror (errno));
        goto fail;
    }
    if (path_out)
        snprintf (path_out, pathlen, "%s", t->path);
    *out = t;
    return RCN_OK;
fail:
    if (fd >= 0)
        close (fd);
    if (t->f)
        fclose (t->f);
    free (t);
    return rc;
}

void
rcn_trace_hook (void *ctx, rcn_entry_t *const *entries, const int *results, size_t n)
{
    rcn_trace_t *t = ctx;
    if (t->failed)
        return;
    uint64_t now = wall_ns ();
    size_t wrote = 0;
    for (size_t i = 0; i < n; i++) {
        if (results[i] != RCN_OK)
            continue;
        const rcn_header_t *h = &entries[i]->h;
        uint8_t r[RCN_TRACE_RECORD_SIZE];
        memcpy (r, h->origin, RCN_KEY_SIZE);
        rcn_le64_put (r + 32, h->seq);
        rcn_le64_put (r + 40, now);
        rcn_le32_put (r + 48, h->kind);
        rcn_le32_put (r + 52, (uint32_t) h->body_len);
        if (fwrite (r, sizeof r, 1, t->f) != 1)
            break;
        wrote++;
    }
    t->records += wrote;
    if (fflush (t->f) != 0 || ferror (t->f)) {
        rcn_error ("commit trace %s: cannot write (%s): tracing stops here, after %llu records",
                   t->path, strerror (errno), (unsigned long long) t->records);
        t->failed = 1;
    }
}

uint64_t
rcn_trace_records (const rcn_trace_t *t)
{
    return t->records;
}

void
rcn_trace_destroy (rcn_trace_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_trace_t *t = *self_p;
    int err = fflush (t->f) != 0 || ferror (t->f);
    if (fclose (t->f) != 0)
        err = 1;
    if (err && !t->failed)
        rcn_error ("commit trace %s: cannot write its last records (%s)", t->path, strerror (errno));
    else if (!t->failed)
        rcn_info ("commit trace %s: %llu records", t->path, (unsigned long long) t->records);
    free (t);
    *self_p = NULL;
}
