/* codec.c — hex, base64 and Z85 at the edges (JSON, cards, export). libsodium does hex and
 * base64 in constant time; libzmq does Z85, the encoding ZeroMQ CURVE keys travel in. */
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
