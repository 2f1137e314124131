/* qr.h — a text as a QR code in a PNG file (libqrencode, libpng): how a pass token reaches
 * paper or a phone's screen for a checkpoint's scanner (DESIGN.md §4).
 *
 * The one design decision: the text goes in as given, and libqrencode picks the densest mode
 * for each stretch of it. A token ("RCN1:" + Base45) lies wholly in QR's alphanumeric set, so it
 * is coded at 5.5 bits a character, and any stock scanner reads back exactly the same text. */
#ifndef RCN_QR_H
#define RCN_QR_H

#include <stddef.h>

#include "rcn/err.h"

/* Writes `text` as a QR code (error correction level M, 4 pixels a module, the standard 4-module
 * quiet zone, 8-bit grey) to the PNG file `path`, replacing it. The file is written beside its
 * final name and renamed into place, so `path` holds the old file or the whole new one, never
 * half of one. RCN_EINVAL (empty text, or too long for any QR version: `why` says how long),
 * RCN_EIO (the file, with `why` naming path and reason), RCN_ENOMEM. */
int rcn_qr_write_png (const char *text, const char *path, char *why, size_t whylen) RCN_MUST;

#endif
