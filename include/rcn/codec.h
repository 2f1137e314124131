/* codec.h — text encodings used at the edges: hex, base64 (standard, padded), Z85, Base45;
 * UTF-8 text. */
#ifndef RCN_CODEC_H
#define RCN_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lower-case hex of `len` bytes into `out` (size >= 2*len+1). Returns out. */
char *rcn_hex (const uint8_t *bin, size_t len, char *out);

/* Decodes exactly `len` bytes from hex `s` (strlen(s) must be 2*len). 0 or RCN_EINVAL. */
int rcn_unhex (const char *s, uint8_t *bin, size_t len) __attribute__((warn_unused_result));

/* Base64 (RFC 4648, padded) of `len` bytes; caller owns the result (free()); NULL on ENOMEM. */
char *rcn_base64 (const uint8_t *bin, size_t len);

/* Decodes base64 `s`; caller owns *out (free()). 0, RCN_EINVAL or RCN_ENOMEM. */
int rcn_unbase64 (const char *s, uint8_t **out, size_t *out_len) __attribute__((warn_unused_result));

/* Z85 of a 32-byte key into out (size >= 41). */
void rcn_z85_key (const uint8_t key[32], char out[41]);

/* Decodes a 40-character Z85 key. 0 or RCN_EINVAL. */
int rcn_unz85_key (const char *s, uint8_t key[32]) __attribute__((warn_unused_result));

/* Base45 (RFC 9285) of `len` bytes: the encoding of pass tokens, whose alphabet is QR code's
 * alphanumeric mode. Caller owns the result (free()); NULL on ENOMEM. */
char *rcn_base45 (const uint8_t *bin, size_t len);

/* Decodes Base45 `s` (exactly: no whitespace, upper case only). Caller owns *out (free()).
 * RCN_EINVAL on a character outside the alphabet, a length of 3n+1, or a group whose value
 * does not fit (over 65535 for three characters, 255 for a trailing two); RCN_ENOMEM. */
int rcn_unbase45 (const char *s, uint8_t **out, size_t *out_len) __attribute__((warn_unused_result));

/* Whether s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF) without control characters: no C0 (but newline and tab when newline_tab),
 * no DEL, no C1. The one test of human-readable text in names and record bodies. */
bool rcn_utf8_text_ok (const char *s, size_t len, bool newline_tab);

/* A command-line number: all of s a decimal (strtod) within [lo, hi]; false (*out untouched)
 * for an empty, partial, out-of-range or non-number string. */
bool rcn_parse_number (const char *s, double lo, double hi, double *out);

/* Little-endian fixed-width fields of our binary files (the high-water mark, the commit
 * trace). */
static inline void
rcn_le32_put (uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static inline void
rcn_le64_put (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static inline uint32_t
rcn_le32_get (const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t
rcn_le64_get (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#endif
