/* test_entry.c — the entry module against DESIGN.md §3: layout, known answers, refusals. */
#include <string.h>

#include <sodium.h>

#include "rcn/entry.h"
#include "rcn.pb-c.h"
#include "testutil.h"

static uint8_t s_pk[RCN_KEY_SIZE], s_sk[RCN_SECRET_SIZE];

static void
s_keys (void)
{
    uint8_t seed[32];
    memset (seed, 7, sizeof seed);
    REQUIRE (crypto_sign_seed_keypair (s_pk, s_sk, seed) == 0);
}

static void
s_unhex (const char *hex, uint8_t *bin, size_t len)
{
    size_t got = 0;
    REQUIRE (sodium_hex2bin (bin, len, hex, strlen (hex), NULL, &got, NULL) == 0);
    REQUIRE (got == len);
}

/* A small signed entry: seq 1, 4-byte body. */
static rcn_entry_t *
s_small (void)
{
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (s_sk, 1, NULL, 1763775000000ULL, 1, RCN_STATUS_EXERCISE,
                             (const uint8_t *) "abcd", 4, &e) == RCN_OK);
    return e;
}

/* Fixed seed and fields; the expected signature and hash were computed by
 * tests/verify_export.py's own RFC 8032 code, independent of libsodium. */
static void
test_known_answer (void)
{
    uint8_t seed[32], pk[32], sk[64], prev[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t) i;
        prev[i] = (uint8_t) (0xa0 + i);
    }
    REQUIRE (crypto_sign_seed_keypair (pk, sk, seed) == 0);
    uint8_t want_pk[32], want_sig[64], want_hash[32];
    s_unhex ("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8", want_pk, 32);
    s_unhex ("8458baad9f6bf6c802a6596f4d561ca8d1c318ff6ff9bd08f07237e1cea9bf0f"
             "92be50af929c694f61de12ecd438cb78a7ca22a4d1ecf5b7ce341ccc65afab0d", want_sig, 64);
    s_unhex ("69ca2768c234e0b3a88e16dbe205e57700425c182f4b310cad30721b7bcb4c9a", want_hash, 32);
    CHECK (memcmp (pk, want_pk, 32) == 0);

    static const uint8_t body[] = { 'K', 'A', 'T', ' ', 'b', 'o', 'd', 'y', 0x00, 0xff };
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_sign (sk, 0x0102030405060708ULL, prev, 0x1122334455667788ULL,
                             0xA1B2C3D4u, RCN_STATUS_TEST, body, sizeof body, &e) == RCN_OK);
    REQUIRE (e->signed_len == 92 + sizeof body);

    uint8_t want[92 + sizeof body];
    memcpy (want, "RCN1", 4);
    memcpy (want + 4, pk, 32);
    static const uint8_t seq_be[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    memcpy (want + 36, seq_be, 8);
    memcpy (want + 44, prev, 32);
    static const uint8_t time_be[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
    memcpy (want + 76, time_be, 8);
    static const uint8_t kind_be[4] = { 0xa1, 0xb2, 0xc3, 0xd4 };
    memcpy (want + 84, kind_be, 4);
    static const uint8_t status_be[4] = { 0, 0, 0, 2 };
    memcpy (want + 88, status_be, 4);
    memcpy (want + 92, body, sizeof body);
    for (size_t i = 0; i < sizeof want; i++)
        if (e->signed_bytes[i] != want[i]) {
            fprintf (stderr, "    signed byte %zu: %02x, want %02x\n", i,
                     e->signed_bytes[i], want[i]);
            CHECK (e->signed_bytes[i] == want[i]);
        }
    CHECK (memcmp (e->signed_bytes, want, sizeof want) == 0);
    CHECK (memcmp (e->sig, want_sig, 64) == 0);

    /* The hash, computed here over the concatenation in one buffer. */
    uint8_t cat[sizeof want + 64], hash[32];
    memcpy (cat, want, sizeof want);
    memcpy (cat + sizeof want, want_sig, 64);
    REQUIRE (crypto_generichash (hash, 32, cat, sizeof cat, NULL, 0) == 0);
    CHECK (memcmp (hash, want_hash, 32) == 0);
    CHECK (e->has_hash);
    CHECK (memcmp (e->hash, want_hash, 32) == 0);
    CHECK (memcmp (rcn_entry_hash (e), want_hash, 32) == 0);
    CHECK (e->verified);
    rcn_entry_destroy (&e);
}

static void
test_sign_verify_hash (void)
{
    rcn_entry_t *e1 = s_small ();
    CHECK (e1->verified);
    CHECK (e1->has_hash);
    CHECK_EQ (e1->h.seq, 1);
    CHECK (memcmp (e1->h.origin, s_pk, 32) == 0);
    CHECK_EQ (e1->h.body_len, 4);
    CHECK (memcmp (e1->h.body, "abcd", 4) == 0);
    CHECK (e1->h.body == e1->signed_bytes + RCN_HEADER_SIZE);

    uint8_t zero[32] = { 0 };
    CHECK (memcmp (e1->h.prev, zero, 32) == 0);

    rcn_entry_t *e2 = NULL;
    REQUIRE (rcn_entry_sign (s_sk, 2, rcn_entry_hash (e1), 1763775000001ULL, 2,
                             RCN_STATUS_ACTUAL, NULL, 0, &e2) == RCN_OK);
    CHECK_EQ (e2->h.seq, 2);
    CHECK (memcmp (e2->h.prev, e1->hash, 32) == 0);
    CHECK_EQ (e2->h.body_len, 0);
    CHECK_EQ (e2->signed_len, RCN_HEADER_SIZE);

    /* A received copy is unverified until checked; then its hash equals the author's. */
    rcn_entry_t *r = NULL;
    REQUIRE (rcn_entry_from_parts (e2->signed_bytes, e2->signed_len, e2->sig, 64, &r) == RCN_OK);
    CHECK (!r->verified);
    CHECK (!r->has_hash);
    CHECK_EQ (rcn_entry_verify (r), RCN_OK);
    CHECK (r->verified);
    CHECK (r->has_hash);
    CHECK (memcmp (r->hash, e2->hash, 32) == 0);
    CHECK (rcn_entry_same (r, e2));
    CHECK (!rcn_entry_same (e1, e2));

    /* An unverified entry's hash is computed on demand and only once. */
    rcn_entry_t *u = NULL;
    REQUIRE (rcn_entry_from_parts (e1->signed_bytes, e1->signed_len, e1->sig, 64, &u) == RCN_OK);
    const uint8_t *h = rcn_entry_hash (u);
    CHECK (memcmp (h, e1->hash, 32) == 0);
    CHECK (rcn_entry_hash (u) == h);
    CHECK (!u->verified);

    /* A signature by another key over the same bytes does not verify under origin. */
    uint8_t pk2[32], sk2[64];
    crypto_sign_keypair (pk2, sk2);
    REQUIRE (crypto_sign_detached (u->sig, NULL, u->signed_bytes, u->signed_len, sk2) == 0);
    u->has_hash = false;
    CHECK_EQ (rcn_entry_verify (u), RCN_ESIG);
    CHECK (!u->verified);

    /* A trusted entry whose signature is then found bad is left unverified. */
    rcn_entry_t *t = NULL;
    uint8_t raw[RCN_SIG_SIZE + RCN_HEADER_SIZE + 4];
    REQUIRE (rcn_entry_raw_len (e1) == sizeof raw);
    rcn_entry_raw_write (e1, raw);
    raw[0] ^= 1;
    REQUIRE (rcn_entry_from_raw (raw, sizeof raw, true, &t) == RCN_OK);
    CHECK (t->verified);
    CHECK_EQ (rcn_entry_verify (t), RCN_ESIG);
    CHECK (!t->verified);

    /* Same seq, different content: both verify, not the same (what a fork looks like). */
    rcn_entry_t *f = NULL;
    REQUIRE (rcn_entry_sign (s_sk, 1, NULL, 1763775000000ULL, 1, RCN_STATUS_EXERCISE,
                             (const uint8_t *) "abce", 4, &f) == RCN_OK);
    CHECK (!rcn_entry_same (e1, f));
    CHECK (memcmp (e1->hash, f->hash, 32) != 0);

    rcn_entry_destroy (&f);
    rcn_entry_destroy (&t);
    rcn_entry_destroy (&u);
    rcn_entry_destroy (&r);
    rcn_entry_destroy (&e2);
    rcn_entry_destroy (&e1);
}

/* Signing is deterministic (no randomness): the same input gives the same entry. */
static void
test_deterministic (void)
{
    rcn_entry_t *a = s_small (), *b = s_small ();
    CHECK (rcn_entry_same (a, b));
    CHECK (memcmp (a->hash, b->hash, 32) == 0);
    rcn_entry_destroy (&a);
    rcn_entry_destroy (&b);
}

static void
test_header_offsets (void)
{
    uint8_t buf[100];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t) (0x40 + i);
    memcpy (buf, "RCN1", 4);
    memcpy (buf + 36, "\x00\x00\x00\x00\x00\x00\x00\x09", 8);             /* seq 9 */
    memcpy (buf + 76, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);             /* time */
    memcpy (buf + 84, "\x80\x00\x00\x0b", 4);                             /* kind */
    memcpy (buf + 88, "\x00\x00\x00\x01", 4);                             /* status */
    rcn_header_t h;
    REQUIRE (rcn_header_parse (buf, sizeof buf, &h) == RCN_OK);
    for (int i = 0; i < 32; i++) {
        CHECK_EQ (h.origin[i], 0x40 + 4 + i);
        CHECK_EQ (h.prev[i], 0x40 + 44 + i);
    }
    CHECK_EQ (h.seq, 9);
    CHECK (h.time_ms == 0xfedcba9876543210ULL);
    CHECK (h.kind == 0x8000000bu);
    CHECK_EQ (h.status, 1);
    CHECK (h.body == buf + 92);
    CHECK_EQ (h.body_len, 8);
    CHECK_EQ (h.body[0], 0x40 + 92);

    /* Exactly a header: empty body. */
    REQUIRE (rcn_header_parse (buf, 92, &h) == RCN_OK);
    CHECK_EQ (h.body_len, 0);
    CHECK (h.body == buf + 92);

    /* The largest seq and time are carried as they are. */
    memset (buf + 36, 0xff, 8);
    memset (buf + 76, 0xff, 8);
    REQUIRE (rcn_header_parse (buf, sizeof buf, &h) == RCN_OK);
    CHECK (h.seq == UINT64_MAX);
    CHECK (h.time_ms == UINT64_MAX);
}

static void
test_header_refusals (void)
{
    rcn_entry_t *e = s_small ();
    rcn_header_t h;
    uint8_t buf[RCN_HEADER_SIZE + 4];
    memcpy (buf, e->signed_bytes, sizeof buf);
    REQUIRE (rcn_header_parse (buf, sizeof buf, &h) == RCN_OK);

    /* Every truncation short of a header. */
    for (size_t len = 0; len < RCN_HEADER_SIZE; len++) {
        CHECK_EQ (rcn_header_parse (buf, len, &h), RCN_ETRUNC);
        rcn_entry_t *x = NULL;
        CHECK_EQ (rcn_entry_from_parts (buf, len, e->sig, 64, &x), RCN_ETRUNC);
        CHECK (x == NULL);
    }
    CHECK_EQ (rcn_header_parse (NULL, 0, &h), RCN_ETRUNC);

    /* Wrong magic, in each of its bytes. */
    for (int i = 0; i < 4; i++) {
        uint8_t m[sizeof buf];
        memcpy (m, buf, sizeof m);
        m[i] ^= 0x20;
        CHECK_EQ (rcn_header_parse (m, sizeof m, &h), RCN_EMAGIC);
    }

    uint8_t m[sizeof buf];
    memcpy (m, buf, sizeof m);
    memset (m + 36, 0, 8);                                      /* seq 0 */
    CHECK_EQ (rcn_header_parse (m, sizeof m, &h), RCN_EINVAL);

    memcpy (m, buf, sizeof m);
    m[44 + 31] = 1;                                             /* seq 1, prev not zero */
    CHECK_EQ (rcn_header_parse (m, sizeof m, &h), RCN_EINVAL);

    memcpy (m, buf, sizeof m);
    m[91] = 3;                                                  /* status 3 */
    CHECK_EQ (rcn_header_parse (m, sizeof m, &h), RCN_EINVAL);
    m[91] = 0;
    m[88] = 1;                                                  /* status 2^24 */
    CHECK_EQ (rcn_header_parse (m, sizeof m, &h), RCN_EINVAL);

    for (uint8_t s = 0; s <= 2; s++) {
        memcpy (m, buf, sizeof m);
        m[91] = s;
        CHECK_EQ (rcn_header_parse (m, sizeof m, &h), RCN_OK);
        CHECK_EQ (h.status, s);
    }

    /* seq > 1 with an all-zero prev parses: the store, not the parser, checks chains. */
    memcpy (m, buf, sizeof m);
    m[43] = 2;
    CHECK_EQ (rcn_header_parse (m, sizeof m, &h), RCN_OK);
    CHECK_EQ (h.seq, 2);

    /* Signing refuses what parsing would. */
    rcn_entry_t *x = NULL;
    CHECK_EQ (rcn_entry_sign (s_sk, 0, NULL, 0, 1, 0, NULL, 0, &x), RCN_EINVAL);
    CHECK (x == NULL);
    uint8_t one[32] = { 1 };
    CHECK_EQ (rcn_entry_sign (s_sk, 1, one, 0, 1, 0, NULL, 0, &x), RCN_EINVAL);
    CHECK_EQ (rcn_entry_sign (s_sk, 1, NULL, 0, 1, 3, NULL, 0, &x), RCN_EINVAL);
    CHECK (x == NULL);
    uint8_t zero[32] = { 0 };
    CHECK_EQ (rcn_entry_sign (s_sk, 1, zero, 0, 1, 0, NULL, 0, &x), RCN_OK);
    rcn_entry_destroy (&x);

    /* The raw form: shorter than a signature, and shorter than signature plus header. */
    uint8_t raw[RCN_SIG_SIZE + RCN_HEADER_SIZE + 4];
    REQUIRE (rcn_entry_raw_len (e) == sizeof raw);
    rcn_entry_raw_write (e, raw);
    for (size_t len = 0; len < RCN_SIG_SIZE + RCN_HEADER_SIZE; len++) {
        CHECK_EQ (rcn_entry_from_raw (raw, len, false, &x), RCN_ETRUNC);
        CHECK (x == NULL);
    }
    CHECK_EQ (rcn_entry_from_raw (raw, sizeof raw, false, &x), RCN_OK);
    rcn_entry_destroy (&x);
    rcn_entry_destroy (&e);
}

/* Any single changed byte, of the signed bytes or of the signature, is refused: either by the
 * parser or by the signature check. */
static void
test_flip_every_byte (void)
{
    rcn_entry_t *e = s_small ();
    size_t raw_len = rcn_entry_raw_len (e);
    uint8_t raw[RCN_SIG_SIZE + RCN_HEADER_SIZE + 4];
    REQUIRE (raw_len == sizeof raw);
    static const uint8_t masks[] = { 0x01, 0x80, 0xff };
    int refused = 0, tried = 0;
    for (size_t i = 0; i < raw_len; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            rcn_entry_raw_write (e, raw);
            raw[i] ^= masks[m];
            rcn_entry_t *x = NULL;
            int rc = rcn_entry_from_raw (raw, raw_len, false, &x);
            if (rc == RCN_OK)
                rc = rcn_entry_verify (x);
            tried++;
            if (rc != RCN_OK)
                refused++;
            else
                fprintf (stderr, "    byte %zu ^ %02x accepted\n", i, masks[m]);
            rcn_entry_destroy (&x);
        }
    CHECK_EQ (refused, tried);
    CHECK_EQ (tried, 3 * (64 + 96));

    /* The malleated twin (S + L) of a valid signature is refused too: otherwise one signed
     * message would have two hashes. */
    static const uint8_t L[32] = {
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
        0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
    uint8_t sig[64];
    memcpy (sig, e->sig, 64);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = sig[32 + i] + L[i] + carry;
        sig[32 + i] = (uint8_t) v;
        carry = v >> 8;
    }
    rcn_entry_t *x = NULL;
    REQUIRE (rcn_entry_from_parts (e->signed_bytes, e->signed_len, sig, 64, &x) == RCN_OK);
    CHECK_EQ (rcn_entry_verify (x), RCN_ESIG);
    rcn_entry_destroy (&x);
    rcn_entry_destroy (&e);
}

/* Packs an Entry envelope with arbitrary parts (the test's own protobuf-c use). */
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
    uint8_t *buf = malloc (*len ? *len : 1);
    REQUIRE (buf);
    REQUIRE (rcn__entry__pack (&msg, buf) == *len);
    return buf;
}

static void
test_sizes (void)
{
    size_t big = RCN_BODY_MAX + 1;
    uint8_t *body = malloc (RCN_WIRE_MAX + 1);
    REQUIRE (body);
    for (size_t i = 0; i < (size_t) RCN_WIRE_MAX + 1; i++)
        body[i] = (uint8_t) (i * 31 + 7);

    /* Over by one byte: refused when signing. */
    rcn_entry_t *e = NULL;
    CHECK_EQ (rcn_entry_sign (s_sk, 1, NULL, 0, 1, 0, body, big, &e), RCN_ETOOBIG);
    CHECK (e == NULL);

    /* The largest body: accepted, and the entry is exactly RCN_ENTRY_MAX bytes. */
    REQUIRE (rcn_entry_sign (s_sk, 1, NULL, 0, 1, 0, body, RCN_BODY_MAX, &e) == RCN_OK);
    CHECK_EQ (e->h.body_len, RCN_BODY_MAX);
    CHECK_EQ (e->signed_len + RCN_SIG_SIZE, RCN_ENTRY_MAX);
    CHECK_EQ (rcn_entry_raw_len (e), RCN_ENTRY_MAX);
    uint8_t *wire = NULL;
    size_t wire_len = 0;
    REQUIRE (rcn_entry_encode (e, &wire, &wire_len) == RCN_OK);
    CHECK (wire_len <= RCN_WIRE_MAX);
    rcn_entry_t *d = NULL;
    CHECK_EQ (rcn_entry_decode (wire, wire_len, &d), RCN_OK);
    REQUIRE (d);
    CHECK (rcn_entry_same (d, e));
    CHECK_EQ (rcn_entry_verify (d), RCN_OK);
    rcn_entry_destroy (&d);
    free (wire);

    /* Signed bytes one over the cap, in an envelope still under RCN_WIRE_MAX: unpacked, then
     * refused by the header parser; and directly. */
    size_t over = RCN_ENTRY_MAX - RCN_SIG_SIZE + 1;
    uint8_t *sb = malloc (over);
    REQUIRE (sb);
    memcpy (sb, e->signed_bytes, e->signed_len);
    sb[over - 1] = 0;
    rcn_header_t h;
    CHECK_EQ (rcn_header_parse (sb, over, &h), RCN_ETOOBIG);
    CHECK_EQ (rcn_header_parse (sb, over - 1, &h), RCN_OK);
    CHECK_EQ (rcn_entry_from_parts (sb, over, e->sig, 64, &d), RCN_ETOOBIG);
    wire = s_pack (sb, over, e->sig, 64, &wire_len);
    CHECK (wire_len <= RCN_WIRE_MAX);
    CHECK_EQ (rcn_entry_decode (wire, wire_len, &d), RCN_ETOOBIG);
    CHECK (d == NULL);
    free (wire);

    /* A wire message over RCN_WIRE_MAX is refused before unpacking: these bytes are not a
     * protobuf message at all (unpack would say RCN_EINVAL), yet the answer is the size. */
    memset (body, 0xff, RCN_WIRE_MAX + 1);
    CHECK_EQ (rcn_entry_decode (body, RCN_WIRE_MAX, &d), RCN_EINVAL);
    CHECK_EQ (rcn_entry_decode (body, RCN_WIRE_MAX + 1, &d), RCN_ETOOBIG);
    CHECK (d == NULL);
    /* And a valid envelope padded past the cap with an unknown field. */
    size_t pad = RCN_WIRE_MAX + 1 - 4;
    uint8_t *padded = malloc (RCN_WIRE_MAX + 1);
    REQUIRE (padded);
    padded[0] = (3 << 3) | 2;                               /* field 3, length-delimited */
    padded[1] = (uint8_t) (0x80 | (pad & 0x7f));
    padded[2] = (uint8_t) (0x80 | ((pad >> 7) & 0x7f));
    padded[3] = (uint8_t) (pad >> 14);
    memset (padded + 4, 0, pad);
    CHECK_EQ (rcn_entry_decode (padded, RCN_WIRE_MAX + 1, &d), RCN_ETOOBIG);
    free (padded);

    free (sb);
    free (body);
    rcn_entry_destroy (&e);
}

static void
test_envelope (void)
{
    rcn_entry_t *e = s_small ();
    uint8_t *wire = NULL;
    size_t len = 0;
    REQUIRE (rcn_entry_encode (e, &wire, &len) == RCN_OK);
    CHECK_EQ (len, 2 + e->signed_len + 2 + 64);
    rcn_entry_t *d = NULL;
    REQUIRE (rcn_entry_decode (wire, len, &d) == RCN_OK);
    CHECK (!d->verified);
    CHECK (rcn_entry_same (d, e));
    CHECK_EQ (d->h.seq, e->h.seq);
    CHECK (d->h.body == d->signed_bytes + RCN_HEADER_SIZE);
    CHECK_EQ (rcn_entry_verify (d), RCN_OK);
    CHECK (memcmp (rcn_entry_hash (d), e->hash, 32) == 0);

    /* Re-encoding a decoded entry gives the same bytes. */
    uint8_t *wire2 = NULL;
    size_t len2 = 0;
    REQUIRE (rcn_entry_encode (d, &wire2, &len2) == RCN_OK);
    CHECK (len2 == len && memcmp (wire, wire2, len) == 0);
    free (wire2);
    rcn_entry_destroy (&d);

    /* The same entry in forms rcn_entry_encode does not make — sig before signed, a
     * non-minimal length varint — is read by protobuf-c instead of in place, to the same
     * entry; a 4-byte varint is not taken for a 3-byte one. */
    {
        uint8_t *alt = malloc (len + 4);
        REQUIRE (alt != NULL);
        size_t k = 0;
        alt[k++] = 0x12, alt[k++] = 64;
        memcpy (alt + k, e->sig, 64), k += 64;
        alt[k++] = 0x0a;
        alt[k++] = (uint8_t) (0x80 | (e->signed_len & 0x7f));
        alt[k++] = (uint8_t) (0x80 | (e->signed_len >> 7));
        alt[k++] = 0x00;                          /* redundant: not minimal */
        memcpy (alt + k, e->signed_bytes, e->signed_len), k += e->signed_len;
        int rc = rcn_entry_decode (alt, k, &d);
        CHECK (rc == RCN_OK && rcn_entry_same (d, e));
        rcn_entry_destroy (&d);
        k = 0;                                    /* field 1 first, its length in 4 bytes */
        alt[k++] = 0x0a;
        alt[k++] = (uint8_t) (0x80 | (e->signed_len & 0x7f));
        alt[k++] = (uint8_t) (0x80 | (e->signed_len >> 7));
        alt[k++] = 0x80;
        alt[k++] = 0x00;
        memcpy (alt + k, e->signed_bytes, e->signed_len), k += e->signed_len;
        alt[k++] = 0x12, alt[k++] = 64;
        memcpy (alt + k, e->sig, 64), k += 64;
        rc = rcn_entry_decode (alt, k, &d);
        CHECK (rc == RCN_OK && rcn_entry_same (d, e));
        rcn_entry_destroy (&d);
        free (alt);
    }

    /* Every truncation of the envelope is refused. */
    for (size_t l = 0; l < len; l++) {
        int rc = rcn_entry_decode (wire, l, &d);
        CHECK (rc != RCN_OK);
        CHECK (d == NULL);
        rcn_entry_destroy (&d);
    }
    free (wire);

    /* Signatures of the wrong length, a missing one, and a non-Entry. */
    size_t sig_lens[] = { 0, 1, 63, 65, 128 };
    uint8_t sig[128] = { 0 };
    memcpy (sig, e->sig, 64);
    for (size_t i = 0; i < sizeof sig_lens / sizeof sig_lens[0]; i++) {
        wire = s_pack (e->signed_bytes, e->signed_len, sig, sig_lens[i], &len);
        CHECK_EQ (rcn_entry_decode (wire, len, &d), RCN_EINVAL);
        CHECK (d == NULL);
        free (wire);
        CHECK_EQ (rcn_entry_from_parts (e->signed_bytes, e->signed_len, sig, sig_lens[i], &d),
                  RCN_EINVAL);
    }
    static const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
    CHECK_EQ (rcn_entry_decode (junk, sizeof junk, &d), RCN_EINVAL);
    CHECK_EQ (rcn_entry_decode (NULL, 0, &d), RCN_EINVAL);       /* empty: no signature */

    /* An envelope with a non-entry inside. */
    uint8_t notrcn[RCN_HEADER_SIZE] = { 'R', 'C', 'N', '2' };
    wire = s_pack (notrcn, sizeof notrcn, e->sig, 64, &len);
    CHECK_EQ (rcn_entry_decode (wire, len, &d), RCN_EMAGIC);
    free (wire);
    rcn_entry_destroy (&e);
}

static void
test_raw (void)
{
    rcn_entry_t *e = s_small ();
    size_t len = rcn_entry_raw_len (e);
    CHECK_EQ (len, 64 + e->signed_len);
    uint8_t *raw = malloc (len);
    REQUIRE (raw);
    rcn_entry_raw_write (e, raw);
    CHECK (memcmp (raw, e->sig, 64) == 0);
    CHECK (memcmp (raw + 64, e->signed_bytes, e->signed_len) == 0);

    rcn_entry_t *u = NULL, *t = NULL;
    REQUIRE (rcn_entry_from_raw (raw, len, false, &u) == RCN_OK);
    REQUIRE (rcn_entry_from_raw (raw, len, true, &t) == RCN_OK);
    CHECK (!u->verified);
    CHECK (t->verified);
    CHECK (rcn_entry_same (u, e));
    CHECK (rcn_entry_same (t, e));
    CHECK (memcmp (rcn_entry_hash (t), e->hash, 32) == 0);
    CHECK_EQ (rcn_entry_verify (u), RCN_OK);
    /* The entry owns a copy: the input buffer may go. */
    memset (raw, 0, len);
    free (raw);
    CHECK (rcn_entry_same (u, e));
    rcn_entry_destroy (&t);
    rcn_entry_destroy (&u);
    rcn_entry_destroy (&e);
}

static void
test_same_dup_destroy (void)
{
    rcn_entry_t *e = s_small ();
    rcn_entry_t *c = rcn_entry_dup (e);
    REQUIRE (c);
    CHECK (c != e);
    CHECK (c->signed_bytes != e->signed_bytes);
    CHECK (rcn_entry_same (c, e));
    CHECK (c->verified == e->verified);
    CHECK (c->has_hash == e->has_hash);
    CHECK (memcmp (c->hash, e->hash, 32) == 0);
    CHECK (c->h.body == c->signed_bytes + RCN_HEADER_SIZE);
    CHECK (memcmp (&c->h.origin, &e->h.origin, 32) == 0);
    CHECK_EQ (c->h.seq, e->h.seq);

    /* Flags are kept as they are, unverified included. */
    rcn_entry_t *u = NULL;
    REQUIRE (rcn_entry_from_parts (e->signed_bytes, e->signed_len, e->sig, 64, &u) == RCN_OK);
    rcn_entry_t *uc = rcn_entry_dup (u);
    REQUIRE (uc);
    CHECK (!uc->verified);
    CHECK (!uc->has_hash);

    /* Same means both parts: the same signed bytes with another signature are not. */
    uc->sig[5] ^= 1;
    CHECK (!rcn_entry_same (uc, e));
    rcn_entry_destroy (&uc);

    /* The copy outlives its original. */
    rcn_entry_destroy (&e);
    CHECK (e == NULL);
    rcn_entry_destroy (&e);                 /* twice: harmless */
    rcn_entry_destroy (NULL);
    CHECK_EQ (rcn_entry_verify (c), RCN_OK);
    CHECK (memcmp (c->h.body, "abcd", 4) == 0);
    rcn_entry_destroy (&c);
    rcn_entry_destroy (&c);
    CHECK (c == NULL);
    rcn_entry_destroy (&u);
}

static void
test_status_names (void)
{
    CHECK (strcmp (rcn_status_name (RCN_STATUS_ACTUAL), "actual") == 0);
    CHECK (strcmp (rcn_status_name (RCN_STATUS_EXERCISE), "exercise") == 0);
    CHECK (strcmp (rcn_status_name (RCN_STATUS_TEST), "test") == 0);
    CHECK (rcn_status_name (3) == NULL);
    CHECK (rcn_status_name (UINT32_MAX) == NULL);
    CHECK_EQ (rcn_status_parse ("actual"), 0);
    CHECK_EQ (rcn_status_parse ("exercise"), 1);
    CHECK_EQ (rcn_status_parse ("test"), 2);
    CHECK_EQ (rcn_status_parse ("drill"), -1);
    CHECK_EQ (rcn_status_parse (""), -1);
    CHECK_EQ (rcn_status_parse (NULL), -1);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    s_keys ();
    RUN (test_known_answer);
    RUN (test_sign_verify_hash);
    RUN (test_deterministic);
    RUN (test_header_offsets);
    RUN (test_header_refusals);
    RUN (test_flip_every_byte);
    RUN (test_sizes);
    RUN (test_envelope);
    RUN (test_raw);
    RUN (test_same_dup_destroy);
    RUN (test_status_names);
    return rcn_test_done ();
}
