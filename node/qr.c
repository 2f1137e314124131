/* qr.c — QR codes as PNG files for pass tokens (qr.h).
 *
 * The image is built in memory (libpng writing into a growing buffer), then written to a
 * temporary file beside `path`, synced and renamed: a crash or a full disk never leaves a
 * half-written PNG that a printer or a phone would show as a code that does not scan. */
#include "rcn/qr.h"
#include "rcn/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCALE 4        /* pixels per module: small enough for paper, easy for a camera */
#define MARGIN 4       /* modules of quiet zone, as ISO/IEC 18004 requires */

typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} membuf_t;

static void
membuf_write (png_structp png, png_bytep bytes, png_size_t n)
{
    membuf_t *m = png_get_io_ptr (png);
    if (m->failed)
        return;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n)
            cap *= 2;
        uint8_t *p = realloc (m->data, cap);
        if (!p) {
            m->failed = true;
            return;
        }
        m->data = p;
        m->cap = cap;
    }
    memcpy (m->data + m->len, bytes, n);
    m->len += n;
}

static void
membuf_flush (png_structp png)
{
    (void) png;
}

/* The PNG of code q into *m. Returns RCN_OK or RCN_ENOMEM (libpng reports failures through
 * longjmp; the only one it can meet writing to memory is allocation). */
static int
render (const QRcode *q, membuf_t *m)
{
    size_t side = ((size_t) q->width + 2 * MARGIN) * SCALE;
    /* Everything is allocated before setjmp and not changed after it, so that nothing needs
     * to be volatile for the longjmp by which libpng reports a failure. */
    uint8_t *row = malloc (side);
    png_structp png = row ? png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct (png) : NULL;
    if (!info) {
        png_destroy_write_struct (&png, NULL);
        free (row);
        return RCN_ENOMEM;
    }
    if (setjmp (png_jmpbuf (png))) {
        png_destroy_write_struct (&png, &info);
        free (row);
        return RCN_ENOMEM;
    }
    png_set_write_fn (png, m, membuf_write, membuf_flush);
    png_set_IHDR (png, info, (png_uint_32) side, (png_uint_32) side, 8, PNG_COLOR_TYPE_GRAY,
                  PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info (png, info);
    for (size_t y = 0; y < side; y++) {
        long my = (long) (y / SCALE) - MARGIN;
        for (size_t x = 0; x < side; x++) {
            long mx = (long) (x / SCALE) - MARGIN;
            bool dark = my >= 0 && mx >= 0 && my < q->width && mx < q->width
                        && (q->data[my * q->width + mx] & 1);
            row[x] = dark ? 0x00 : 0xff;
        }
        png_write_row (png, row);
    }
    png_write_end (png, NULL);
    png_destroy_write_struct (&png, &info);
    free (row);
    return m->failed ? RCN_ENOMEM : RCN_OK;
}

static int
write_file (const char *path, const membuf_t *m, char *why, size_t whylen)
{
    size_t plen = strlen (path);
    char *tmp = malloc (plen + 8);
    if (!tmp)
        return RCN_ENOMEM;
    memcpy (tmp, path, plen);
    memcpy (tmp + plen, ".XXXXXX", 8);
    int fd = mkstemp (tmp);
    if (fd < 0) {
        rcn_errf (why, whylen, "%s: cannot create a file beside it: %s", path, strerror (errno));
        free (tmp);
        return RCN_EIO;
    }
    /* mkstemp makes it 0600; a QR code is for handing out, so the usual mode, less the umask. */
    mode_t um = umask (0);
    umask (um);
    if (fchmod (fd, 0644 & ~um) != 0 || rcn_write_all (fd, m->data, m->len) != 0
        || fsync (fd) != 0) {
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        close (fd);
        unlink (tmp);
        free (tmp);
        return RCN_EIO;
    }
    if (close (fd) != 0 || rename (tmp, path) != 0) {
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        unlink (tmp);
        free (tmp);
        return RCN_EIO;
    }
    free (tmp);
    if (rcn_fsync_parent (path) != 0) {
        rcn_errf (why, whylen, "%s: written, but its directory could not be synced: %s", path,
                  strerror (errno));
        return RCN_EIO;
    }
    return RCN_OK;
}

int
rcn_qr_write_png (const char *text, const char *path, char *why, size_t whylen)
{
    if (!text || !*text || !path || !*path) {
        rcn_errf (why, whylen, "qr: %s is empty", !text || !*text ? "the text" : "the file name");
        return RCN_EINVAL;
    }
    errno = 0;
    QRcode *q = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) {
        if (errno == ENOMEM) {
            rcn_errf (why, whylen, "qr: out of memory");
            return RCN_ENOMEM;
        }
        rcn_errf (why, whylen, "qr: %zu characters do not fit in a QR code", strlen (text));
        return RCN_EINVAL;
    }
    membuf_t m = { 0 };
    int rc = render (q, &m);
    QRcode_free (q);
    if (rc != RCN_OK)
        rcn_errf (why, whylen, "qr: out of memory");
    else
        rc = write_file (path, &m, why, whylen);
    free (m.data);
    return rc;
}
