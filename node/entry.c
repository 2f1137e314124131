/* entry.c — entries: building, signing, parsing, checking and (de)serialising (DESIGN.md §3).
 *
 * The one design decision: an entry is the signed bytes and nothing else. Every constructor
 * copies those bytes once and parses the header out of them; nothing here ever re-encodes a
 * header from parsed fields, so what is hashed, stored and relayed is always what the author
 * signed. The struct and its signed bytes live in one allocation: the header's `body` pointer
 * stays valid for the entry's lifetime and destroy is a single free. */
#include "rcn/entry.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "rcn.pb-c.h"

/* Offsets of the header fields in the signed bytes. */
enum {
    OFF_MAGIC = 0,
    OFF_ORIGIN = 4,
    OFF_SEQ = OFF_ORIGIN + RCN_KEY_SIZE,        /* 36 */
    OFF_PREV = OFF_SEQ + 8,                     /* 44 */
    OFF_TIME = OFF_PREV + RCN_HASH_SIZE,        /* 76 */
    OFF_KIND = OFF_TIME + 8,                    /* 84 */
    OFF_STATUS = OFF_KIND + 4,                  /* 88 */
    OFF_BODY = OFF_STATUS + 4                   /* 92 */
};
_Static_assert (OFF_BODY == RCN_HEADER_SIZE, "header layout");
_Static_assert (crypto_sign_BYTES == RCN_SIG_SIZE, "signature size");
_Static_assert (crypto_sign_PUBLICKEYBYTES == RCN_KEY_SIZE, "key size");
_Static_assert (crypto_sign_SECRETKEYBYTES == RCN_SECRET_SIZE, "secret key size");

#define SIGNED_MAX (RCN_ENTRY_MAX - RCN_SIG_SIZE)

static pthread_once_t s_sodium_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t s_verify_calls;     /* signature checks made, for tests and bench */

uint64_t
rcn_entry_verify_calls (void)
{
    return atomic_load_explicit (&s_verify_calls, memory_order_relaxed);
}

static void
s_sodium_init (void)
{
    if (sodium_init () < 0)
        abort ();               /* libsodium cannot run here: nothing can be signed or checked */
}

static void
s_ready (void)
{
    pthread_once (&s_sodium_once, s_sodium_init);
}

static uint64_t
s_get64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void
s_put64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

static void
s_put32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static bool
s_all_zero (const uint8_t *p, size_t len)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

int
rcn_header_parse (const uint8_t *signed_bytes, size_t len, rcn_header_t *out)
{
    assert (out);
    assert (signed_bytes || len == 0);
    if (len < RCN_HEADER_SIZE)
        return RCN_ETRUNC;
    if (len > SIGNED_MAX)
        return RCN_ETOOBIG;
    if (memcmp (signed_bytes + OFF_MAGIC, RCN_MAGIC, 4) != 0)
        return RCN_EMAGIC;

    rcn_header_t h;
    memcpy (h.origin, signed_bytes + OFF_ORIGIN, RCN_KEY_SIZE);
    h.seq = s_get64 (signed_bytes + OFF_SEQ);
    memcpy (h.prev, signed_bytes + OFF_PREV, RCN_HASH_SIZE);
    h.time_ms = s_get64 (signed_bytes + OFF_TIME);
    h.kind = s_get32 (signed_bytes + OFF_KIND);
    h.status = s_get32 (signed_bytes + OFF_STATUS);
    h.body = signed_bytes + OFF_BODY;
    h.body_len = len - OFF_BODY;

    if (h.seq == 0)
        return RCN_EINVAL;
    if (h.seq == 1 && !s_all_zero (h.prev, RCN_HASH_SIZE))
        return RCN_EINVAL;
    if (h.status > RCN_STATUS_TEST)
        return RCN_EINVAL;
    *out = h;
    return RCN_OK;
}

/* A zeroed entry with room for `signed_len` signed bytes right behind the struct. */
static rcn_entry_t *
s_entry_new (size_t signed_len)
{
    assert (signed_len <= SIGNED_MAX);
    rcn_entry_t *e = calloc (1, sizeof *e + signed_len);
    if (!e)
        return NULL;
    e->signed_bytes = (uint8_t *) (e + 1);
    e->signed_len = signed_len;
    return e;
}

int
rcn_entry_sign (const uint8_t sk[RCN_SECRET_SIZE], uint64_t seq, const uint8_t *prev,
                uint64_t time_ms, uint32_t kind, uint32_t status,
                const uint8_t *body, size_t body_len, rcn_entry_t **out)
{
    assert (sk && out);
    assert (body || body_len == 0);
    int rc = RCN_OK;
    rcn_entry_t *e = NULL;
    *out = NULL;
    s_ready ();

    if (body_len > RCN_BODY_MAX) {
        rc = RCN_ETOOBIG;
        goto fail;
    }
    if (seq == 0 || status > RCN_STATUS_TEST
    ||  (seq == 1 && prev && !s_all_zero (prev, RCN_HASH_SIZE))) {
        rc = RCN_EINVAL;
        goto fail;
    }
    e = s_entry_new (RCN_HEADER_SIZE + body_len);
    if (!e) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    uint8_t *p = e->signed_bytes;
    memcpy (p + OFF_MAGIC, RCN_MAGIC, 4);
    memcpy (p + OFF_ORIGIN, sk + 32, RCN_KEY_SIZE);     /* libsodium: sk = seed | public */
    s_put64 (p + OFF_SEQ, seq);
    if (prev)
        memcpy (p + OFF_PREV, prev, RCN_HASH_SIZE);     /* else left zero by calloc */
    s_put64 (p + OFF_TIME, time_ms);
    s_put32 (p + OFF_KIND, kind);
    s_put32 (p + OFF_STATUS, status);
    if (body_len)
        memcpy (p + OFF_BODY, body, body_len);

    /* Parse our own bytes rather than copy the arguments: one path fills every header. */
    rc = rcn_header_parse (e->signed_bytes, e->signed_len, &e->h);
    if (rc != RCN_OK)
        goto fail;
    if (crypto_sign_detached (e->sig, NULL, e->signed_bytes, e->signed_len, sk) != 0) {
        rc = RCN_ESIG;
        goto fail;
    }
    e->verified = true;
    (void) rcn_entry_hash (e);
    *out = e;
    return RCN_OK;
fail:
    rcn_entry_destroy (&e);
    return rc;
}

int
rcn_entry_from_parts (const uint8_t *signed_bytes, size_t signed_len,
                      const uint8_t *sig, size_t sig_len, rcn_entry_t **out)
{
    assert (out);
    assert (signed_bytes || signed_len == 0);
    assert (sig || sig_len == 0);
    int rc = RCN_OK;
    rcn_entry_t *e = NULL;
    rcn_header_t h;
    *out = NULL;

    if (sig_len != RCN_SIG_SIZE) {
        rc = RCN_EINVAL;
        goto fail;
    }
    /* Judge the input where it lies: nothing is allocated for bytes that will be refused. */
    rc = rcn_header_parse (signed_bytes, signed_len, &h);
    if (rc != RCN_OK)
        goto fail;
    e = s_entry_new (signed_len);
    if (!e) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    memcpy (e->signed_bytes, signed_bytes, signed_len);
    memcpy (e->sig, sig, RCN_SIG_SIZE);
    e->h = h;
    e->h.body = e->signed_bytes + RCN_HEADER_SIZE;
    *out = e;
    return RCN_OK;
fail:
    rcn_entry_destroy (&e);
    return rc;
}

/* Whether wire is exactly: tag 1 (bytes), a minimal varint length L, L bytes, tag 2 (bytes),
 * length 64, 64 bytes — the one encoding rcn_entry_encode makes. *at: where the L bytes start. */
static bool
s_envelope_plain (const uint8_t *wire, size_t len, size_t *signed_len, size_t *at)
{
    if (len < 2 + RCN_SIG_SIZE + 2 || wire[0] != 0x0a)
        return false;
    uint64_t l = 0;
    size_t i = 1;
    for (int shift = 0;; shift += 7) {
        if (i >= len || shift > 14)
            return false;           /* unterminated, or longer than 3 bytes (> 2^21) */
        uint8_t b = wire[i++];
        l |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift > 0)
                return false;       /* not minimal */
            break;
        }
    }
    if (l > len || i + l + 2 + RCN_SIG_SIZE != len)
        return false;
    if (wire[i + l] != 0x12 || wire[i + l + 1] != RCN_SIG_SIZE)
        return false;
    *signed_len = (size_t) l;
    *at = i;
    return true;
}

int
rcn_entry_decode (const uint8_t *wire, size_t len, rcn_entry_t **out)
{
    assert (out);
    assert (wire || len == 0);
    int rc = RCN_OK;
    Rcn__Entry *msg = NULL;
    *out = NULL;

    /* The cap comes before protobuf-c sees a byte: unpack allocates as the input says. */
    if (len > RCN_WIRE_MAX) {
        rc = RCN_ETOOBIG;
        goto fail;
    }
    /* The envelope as rcn_entry_encode writes it (field 1 signed, then field 2 sig, nothing
     * else) is read in place; any other form goes through protobuf-c, which judges it. */
    size_t signed_len, at;
    if (s_envelope_plain (wire, len, &signed_len, &at))
        return rcn_entry_from_parts (wire + at, signed_len, wire + len - RCN_SIG_SIZE,
                                     RCN_SIG_SIZE, out);
    msg = rcn__entry__unpack (NULL, len, wire);
    if (!msg) {
        rc = RCN_EINVAL;
        goto fail;
    }
    rc = rcn_entry_from_parts (msg->signed_.data, msg->signed_.len,
                               msg->sig.data, msg->sig.len, out);
fail:
    if (msg)
        rcn__entry__free_unpacked (msg, NULL);
    return rc;
}

int
rcn_entry_encode (const rcn_entry_t *e, uint8_t **out, size_t *out_len)
{
    assert (e && out && out_len);
    int rc = RCN_OK;
    uint8_t *buf = NULL;
    *out = NULL;
    *out_len = 0;

    Rcn__Entry msg = RCN__ENTRY__INIT;
    msg.signed_.data = e->signed_bytes;
    msg.signed_.len = e->signed_len;
    msg.sig.data = (uint8_t *) e->sig;
    msg.sig.len = RCN_SIG_SIZE;
    size_t len = rcn__entry__get_packed_size (&msg);
    assert (len <= RCN_WIRE_MAX);
    buf = malloc (len);
    if (!buf) {
        rc = RCN_ENOMEM;
        goto fail;
    }
    size_t packed = rcn__entry__pack (&msg, buf);
    assert (packed == len);
    (void) packed;
    *out = buf;
    *out_len = len;
    return RCN_OK;
fail:
    free (buf);
    return rc;
}

size_t
rcn_entry_raw_len (const rcn_entry_t *e)
{
    assert (e);
    return RCN_SIG_SIZE + e->signed_len;
}

void
rcn_entry_raw_write (const rcn_entry_t *e, uint8_t *dst)
{
    assert (e && dst);
    memcpy (dst, e->sig, RCN_SIG_SIZE);
    memcpy (dst + RCN_SIG_SIZE, e->signed_bytes, e->signed_len);
}

int
rcn_entry_from_raw (const uint8_t *raw, size_t len, bool trusted, rcn_entry_t **out)
{
    assert (out);
    assert (raw || len == 0);
    *out = NULL;
    if (len < RCN_SIG_SIZE)
        return RCN_ETRUNC;
    int rc = rcn_entry_from_parts (raw + RCN_SIG_SIZE, len - RCN_SIG_SIZE,
                                   raw, RCN_SIG_SIZE, out);
    if (rc == RCN_OK)
        (*out)->verified = trusted;
    return rc;
}

int
rcn_entry_verify (rcn_entry_t *e)
{
    assert (e);
    s_ready ();
    atomic_fetch_add_explicit (&s_verify_calls, 1, memory_order_relaxed);
    if (crypto_sign_verify_detached (e->sig, e->signed_bytes, e->signed_len,
                                     e->h.origin) != 0) {
        e->verified = false;
        return RCN_ESIG;
    }
    e->verified = true;
    (void) rcn_entry_hash (e);
    return RCN_OK;
}

int
rcn_entry_adopt_check (rcn_entry_t *e, const rcn_entry_t *checked)
{
    assert (e && checked);
    if (!checked->verified || !rcn_entry_same (e, checked))
        return RCN_ESIG;
    e->verified = true;
    if (checked->has_hash) {
        memcpy (e->hash, checked->hash, RCN_HASH_SIZE);
        e->has_hash = true;
    }
    (void) rcn_entry_hash (e);
    return RCN_OK;
}

const uint8_t *
rcn_entry_hash (rcn_entry_t *e)
{
    assert (e);
    if (!e->has_hash) {
        s_ready ();
        crypto_generichash_state st;
        int rc = crypto_generichash_init (&st, NULL, 0, RCN_HASH_SIZE);
        rc |= crypto_generichash_update (&st, e->signed_bytes, e->signed_len);
        rc |= crypto_generichash_update (&st, e->sig, RCN_SIG_SIZE);
        rc |= crypto_generichash_final (&st, e->hash, RCN_HASH_SIZE);
        assert (rc == 0);       /* fails only on bad lengths, which are constants here */
        (void) rc;
        e->has_hash = true;
    }
    return e->hash;
}

bool
rcn_entry_same (const rcn_entry_t *a, const rcn_entry_t *b)
{
    assert (a && b);
    return a->signed_len == b->signed_len
        && memcmp (a->sig, b->sig, RCN_SIG_SIZE) == 0
        && memcmp (a->signed_bytes, b->signed_bytes, a->signed_len) == 0;
}

rcn_entry_t *
rcn_entry_dup (const rcn_entry_t *e)
{
    assert (e);
    rcn_entry_t *copy = s_entry_new (e->signed_len);
    if (!copy)
        return NULL;
    memcpy (copy->signed_bytes, e->signed_bytes, e->signed_len);
    memcpy (copy->sig, e->sig, RCN_SIG_SIZE);
    copy->h = e->h;
    copy->h.body = copy->signed_bytes + RCN_HEADER_SIZE;
    memcpy (copy->hash, e->hash, RCN_HASH_SIZE);
    copy->has_hash = e->has_hash;
    copy->verified = e->verified;
    return copy;
}

void
rcn_entry_destroy (rcn_entry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);             /* the signed bytes live in the same block */
    *self_p = NULL;
}

static const char *const s_status_names[] = { "actual", "exercise", "test" };

const char *
rcn_status_name (uint32_t status)
{
    if (status >= sizeof s_status_names / sizeof s_status_names[0])
        return NULL;
    return s_status_names[status];
}

int
rcn_status_parse (const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < sizeof s_status_names / sizeof s_status_names[0]; i++)
        if (strcmp (s, s_status_names[i]) == 0)
            return (int) i;
    return -1;
}
