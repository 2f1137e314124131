/* codec.c — hex, base64 and Z85 at the edges (JSON, cards, export), and the one check of UTF-8
 * text. libsodium does hex and base64 in constant time; libzmq does Z85, the encoding ZeroMQ
 * CURVE keys travel in. */
#include "rcn/codec.h"
#include "rcn/err.h"

#include <sodium.h>
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
