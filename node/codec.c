/* codec.c — hex, base64 and Z85 at the edges (JSON, cards, export), and the one check of UTF-8
 * text. libsodium does hex and base64 in constant time; libzmq does Z85, the encoding ZeroMQ
 * CURVE keys travel in; Base45 (RFC 9285) is ours, for pass tokens in QR codes. */
#include "rcn/codec.h"
#include "rcn/err.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

char *
rcn_hex (const uint8_t *bin, size_t len, char *out)
{
    return sodium_bin2hex (out, len * 2 + 1, bin, len);
}

int
rcn_unhex (const char *s, uint8_t *bin, size_t len)
{
    size_t got = 0;
    const char *end = NULL;
    if (!s || strlen (s) != len * 2)
        return RCN_EINVAL;
    if (sodium_hex2bin (bin, len, s, len * 2, NULL, &got, &end) != 0 || got != len || *end)
        return RCN_EINVAL;
    return RCN_OK;
}

char *
rcn_base64 (const uint8_t *bin, size_t len)
{
    const int variant = sodium_base64_VARIANT_ORIGINAL;
    size_t n = sodium_base64_ENCODED_LEN (len, variant);
    char *out = malloc (n);
    if (!out)
        return NULL;
    return sodium_bin2base64 (out, n, bin, len, variant);
}

int
rcn_unbase64 (const char *s, uint8_t **out, size_t *out_len)
{
    size_t slen = s ? strlen (s) : 0;
    size_t cap = slen / 4 * 3 + 3;
    uint8_t *buf = malloc (cap ? cap : 1);
    if (!buf)
        return RCN_ENOMEM;
    size_t got = 0;
    const char *end = NULL;
    if (!s || sodium_base642bin (buf, cap, s, slen, NULL, &got, &end,
                                 sodium_base64_VARIANT_ORIGINAL) != 0 || *end) {
        free (buf);
        return RCN_EINVAL;
    }
    *out = buf;
    *out_len = got;
    return RCN_OK;
}

void
rcn_z85_key (const uint8_t key[32], char out[41])
{
    zmq_z85_encode (out, key, 32);
}

int
rcn_unz85_key (const char *s, uint8_t key[32])
{
    static const char alphabet[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    if (!s || strlen (s) != 40 || strspn (s, alphabet) != 40)
        return RCN_EINVAL;
    if (!zmq_z85_decode (key, s))
        return RCN_EINVAL;
    return RCN_OK;
}

static const char s_b45[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

char *
rcn_base45 (const uint8_t *bin, size_t len)
{
    /* Two bytes become three characters, a trailing byte two (RFC 9285 §4). */
    if (len > (SIZE_MAX - 3) / 3 * 2)
        return NULL;
    char *out = malloc (len / 2 * 3 + (len % 2) * 2 + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i + 1 < len; i += 2) {
        unsigned n = (unsigned) bin[i] << 8 | bin[i + 1];
        *p++ = s_b45[n % 45];
        *p++ = s_b45[n / 45 % 45];
        *p++ = s_b45[n / 2025];
    }
    if (len % 2) {
        unsigned n = bin[len - 1];
        *p++ = s_b45[n % 45];
        *p++ = s_b45[n / 45];
    }
    *p = '\0';
    return out;
}

static int
b45_digit (char c)
{
    const char *p = c ? strchr (s_b45, c) : NULL;
    return p ? (int) (p - s_b45) : -1;
}

int
rcn_unbase45 (const char *s, uint8_t **out, size_t *out_len)
{
    size_t slen = s ? strlen (s) : 0;
    if (!s || slen % 3 == 1)
        return RCN_EINVAL;
    uint8_t *buf = malloc (slen / 3 * 2 + 2), *p = buf;
    if (!buf)
        return RCN_ENOMEM;
    for (size_t i = 0; i < slen; i += 3) {
        size_t n = slen - i >= 3 ? 3 : 2;
        unsigned v = 0, f = 1;
        for (size_t k = 0; k < n; k++, f *= 45) {
            int d = b45_digit (s[i + k]);
            if (d < 0)
                goto fail;
            v += (unsigned) d * f;
        }
        if (n == 3) {
            if (v > 0xffff)
                goto fail;
            *p++ = (uint8_t) (v >> 8);
        }
        else if (v > 0xff)
            goto fail;
        *p++ = (uint8_t) v;
    }
    *out = buf;
    *out_len = (size_t) (p - buf);
    return RCN_OK;
fail:
    free (buf);
    return RCN_EINVAL;
}

bool
rcn_utf8_text_ok (const char *s, size_t len, bool newline_tab)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && !(newline_tab && (c == '\n' || c == '\t'))) || c == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf)      { n = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
        else
            return false;
        if (i + n >= len)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return false;
        i += n + 1;
    }
    return true;
}

bool
rcn_parse_number (const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod (s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}
