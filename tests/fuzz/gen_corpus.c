/* gen_corpus.c — writes the seed corpus of the fuzz targets (tests/fuzz/corpus/{header,entry}):
 * valid entries, and the ways they go wrong on the wire — truncations, flipped bits, bad
 * lengths and sizes, protobuf oddities. Signing is deterministic (fixed seed), so running it
 * again reproduces the same files. Run once by hand:  gen_corpus tests/fuzz/corpus */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "rcn/entry.h"
#include "rcn.pb-c.h"

static const char *s_root;
static uint8_t s_sk[RCN_SECRET_SIZE], s_pk[RCN_KEY_SIZE];

static void
s_write (const char *sub, const char *name, const uint8_t *data, size_t len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s/%s", s_root, sub, name);
    FILE *f = fopen (path, "wb");
    if (!f || (len && fwrite (data, 1, len, f) != len) || fclose (f) != 0) {
        perror (path);
        exit (1);
    }
}

static uint8_t *
s_pack (const uint8_t *signed_bytes, size_t signed_len, const uint8_t *sig, size_t sig_len,
        size_t *len)
{
    Rcn__Entry msg = RCN__ENTRY__INIT;
    msg.signed_.data = (uint8_t *) signed_bytes;
    msg.signed_.len = signed_len;
    msg.sig.data = (uint8_t *) sig;
    msg.sig.len = sig_len;
    *len = rcn__entry__get_packed_size (&msg);
    uint8_t *buf = malloc (*len + 1);
    if (!buf)
        abort ();
    rcn__entry__pack (&msg, buf);
    return buf;
}

/* An entry as both corpora want it: signed bytes for header/, the envelope for entry/. */
static void
s_emit (const char *name, const uint8_t *signed_bytes, size_t signed_len, const uint8_t *sig)
{
    size_t len;
    uint8_t *wire = s_pack (signed_bytes, signed_len, sig, RCN_SIG_SIZE, &len);
    s_write ("header", name, signed_bytes, signed_len);
    s_write ("entry", name, wire, len);
    free (wire);
}

static void
s_emit_entry (const char *name, const rcn_entry_t *e)
{
    s_emit (name, e->signed_bytes, e->signed_len, e->sig);
}

/* Hand-made signed bytes, validly signed, for headers that rcn_entry_sign would refuse. */
static void
s_emit_raw_header (const char *name, uint64_t seq, uint8_t prev_fill, uint32_t status)
{
    uint8_t sb[RCN_HEADER_SIZE + 3] = { 'R', 'C', 'N', '1' };
    memcpy (sb + 4, s_pk, 32);
    for (int i = 0; i < 8; i++)
        sb[36 + i] = (uint8_t) (seq >> (56 - 8 * i));
    memset (sb + 44, prev_fill, 32);
    sb[91] = (uint8_t) status;
    sb[88] = (uint8_t) (status >> 24);
    memcpy (sb + 92, "xyz", 3);
    uint8_t sig[RCN_SIG_SIZE];
    crypto_sign_detached (sig, NULL, sb, sizeof sb, s_sk);
    s_emit (name, sb, sizeof sb, sig);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    if (sodium_init () < 0)
        return 1;
    s_root = argv[1];
    char path[512];
    const char *subs[] = { "", "/header", "/entry" };
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s%s", s_root, subs[i]);
        if (mkdir (path, 0755) != 0 && errno != EEXIST) {
            perror (path);
            return 1;
        }
    }
    uint8_t seed[32];
    memset (seed, 0x42, sizeof seed);
    crypto_sign_seed_keypair (s_pk, s_sk, seed);

    /* Valid entries. */
    static const uint8_t alert[] = { 0x08, 0x00, 0x10, 0x03, 0x1a, 0x05, 'f', 'l', 'o', 'o', 'd' };
    rcn_entry_t *e1 = NULL, *e2 = NULL, *e3 = NULL, *big = NULL, *mid = NULL;
    if (rcn_entry_sign (s_sk, 1, NULL, 1763775000000ULL, 1, RCN_STATUS_ACTUAL,
                        alert, sizeof alert, &e1)
    ||  rcn_entry_sign (s_sk, 2, rcn_entry_hash (e1), 1763775001000ULL, 2, RCN_STATUS_EXERCISE,
                        NULL, 0, &e2)
    ||  rcn_entry_sign (s_sk, 3, rcn_entry_hash (e2), UINT64_MAX, UINT32_MAX, RCN_STATUS_TEST,
                        (const uint8_t *) "\x00\xff", 2, &e3))
        return 1;
    s_emit_entry ("valid-seq1-alert", e1);
    s_emit_entry ("valid-seq2-empty-body", e2);
    s_emit_entry ("valid-seq3-max-fields", e3);

    uint8_t *body = malloc (RCN_WIRE_MAX + 2);
    if (!body)
        return 1;
    for (size_t i = 0; i < RCN_WIRE_MAX + 2; i++)
        body[i] = (uint8_t) (i * 131 + 17);
    if (rcn_entry_sign (s_sk, 4, rcn_entry_hash (e3), 1, 7, 0, body, 1000, &mid)
    ||  rcn_entry_sign (s_sk, 5, rcn_entry_hash (mid), 2, 7, 0, body, RCN_BODY_MAX, &big))
        return 1;
    s_emit_entry ("valid-body-1000", mid);
    s_emit_entry ("valid-body-max", big);

    /* Headers the parser refuses, each validly signed. */
    s_emit_raw_header ("bad-seq0", 0, 0, 0);
    s_emit_raw_header ("bad-seq1-prev", 1, 0x11, 0);
    s_emit_raw_header ("bad-status3", 7, 0x11, 3);
    s_emit_raw_header ("bad-status-high", 7, 0x11, 0x01000000);
    s_emit_raw_header ("ok-seq2-zero-prev", 2, 0, 1);

    /* Signed bytes one over the cap (parser says too big after unpacking). */
    uint8_t *over = malloc (RCN_ENTRY_MAX - RCN_SIG_SIZE + 1);
    if (!over)
        return 1;
    memcpy (over, big->signed_bytes, big->signed_len);
    over[big->signed_len] = 0;
    s_emit ("bad-signed-over-cap", over, big->signed_len + 1, big->sig);
    free (over);

    /* Truncations and flipped bits of a valid entry. */
    size_t len;
    uint8_t *wire = s_pack (e1->signed_bytes, e1->signed_len, e1->sig, 64, &len);
    size_t cuts[] = { 0, 1, 2, 3, 50, 93, 94, len - 66, len - 65, len - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[64];
        snprintf (name, sizeof name, "trunc-wire-%zu", cuts[i]);
        s_write ("entry", name, wire, cuts[i]);
    }
    size_t hcuts[] = { 0, 1, 4, 36, 44, 76, 91 };
    for (size_t i = 0; i < sizeof hcuts / sizeof hcuts[0]; i++) {
        char name[64];
        snprintf (name, sizeof name, "trunc-signed-%zu", hcuts[i]);
        s_write ("header", name, e1->signed_bytes, hcuts[i]);
    }
    size_t flips[] = { 3, 5, 10, 50, 90, 95, 100, len - 64, len - 1 };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        char name[64];
        snprintf (name, sizeof name, "flip-wire-%zu", flips[i]);
        wire[flips[i]] ^= 0x04;
        s_write ("entry", name, wire, len);
        wire[flips[i]] ^= 0x04;
    }
    uint8_t hb[RCN_HEADER_SIZE + sizeof alert];
    memcpy (hb, e1->signed_bytes, sizeof hb);
    hb[0] = 'X';
    s_write ("header", "bad-magic", hb, sizeof hb);
    hb[0] = 'R';
    hb[43] ^= 0x80;
    s_write ("header", "flip-seq", hb, sizeof hb);
    free (wire);

    /* Wrong signature lengths, missing fields. */
    uint8_t sig[128];
    memset (sig, 0x5a, sizeof sig);
    size_t sig_lens[] = { 0, 63, 65 };
    for (size_t i = 0; i < 3; i++) {
        char name[64];
        snprintf (name, sizeof name, "bad-sig-len-%zu", sig_lens[i]);
        wire = s_pack (e1->signed_bytes, e1->signed_len, sig, sig_lens[i], &len);
        s_write ("entry", name, wire, len);
        free (wire);
    }
    wire = s_pack (NULL, 0, e1->sig, 64, &len);
    s_write ("entry", "bad-no-signed", wire, len);
    free (wire);

    /* Protobuf oddities: length prefixes far beyond the data, duplicate and unknown fields,
     * a field of the wrong wire type, a non-minimal varint. */
    static const uint8_t huge_len[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'R', 'C', 'N', '1' };
    s_write ("entry", "bad-len-prefix-4g", huge_len, sizeof huge_len);
    static const uint8_t cap_len[] = { 0x0a, 0xc1, 0xff, 0x03, 'R', 'C', 'N', '1' };  /* 65473 */
    s_write ("entry", "bad-len-prefix-over-cap", cap_len, sizeof cap_len);
    static const uint8_t varint_len[] = { 0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                          0x80, 0x80, 0x80, 0x01 };
    s_write ("entry", "bad-len-prefix-11-byte-varint", varint_len, sizeof varint_len);
    static const uint8_t wrong_type[] = { 0x08, 0x05, 0x12, 0x00 };
    s_write ("entry", "bad-wire-type", wrong_type, sizeof wrong_type);

    size_t l1, l2;
    uint8_t *w1 = s_pack (e2->signed_bytes, e2->signed_len, e2->sig, 64, &l1);
    uint8_t *w2 = s_pack (e1->signed_bytes, e1->signed_len, e1->sig, 64, &l2);
    uint8_t *dupf = malloc (l1 + l2 + 8);
    if (!dupf)
        return 1;
    memcpy (dupf, w1, l1);
    memcpy (dupf + l1, w2, l2);                       /* every field twice: last one wins */
    s_write ("entry", "odd-fields-twice", dupf, l1 + l2);
    memcpy (dupf, w2, l2);
    memcpy (dupf + l2, "\x1a\x03" "abc" "\x20\x07", 7);   /* unknown fields 3 and 4 */
    s_write ("entry", "odd-unknown-fields", dupf, l2 + 7);
    /* field 1 with a two-byte length where one would do */
    dupf[0] = 0x0a;
    dupf[1] = (uint8_t) (0x80 | e2->signed_len);
    dupf[2] = 0x00;
    memcpy (dupf + 3, e2->signed_bytes, e2->signed_len);
    memcpy (dupf + 3 + e2->signed_len, w1 + 2 + e2->signed_len, 66);
    s_write ("entry", "odd-nonminimal-length", dupf, 3 + e2->signed_len + 66);
    free (dupf);
    free (w1);
    free (w2);

    /* Over RCN_WIRE_MAX: refused before unpacking. */
    s_write ("entry", "bad-over-wire-max", body, RCN_WIRE_MAX + 1);
    free (body);

    rcn_entry_destroy (&big);
    rcn_entry_destroy (&mid);
    rcn_entry_destroy (&e3);
    rcn_entry_destroy (&e2);
    rcn_entry_destroy (&e1);
    return 0;
}
