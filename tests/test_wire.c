/* test_wire.c — the replication messages (wire.h) and catch-up chunks (rcn_ingest_chunk).
 *
 * Messages: every one round-trips; every malformed field is refused with its name in `why`;
 * oversized input is refused by its size before protobuf-c sees it, and input that would
 * unpack to far more than its size by the allocation budget; honest messages of the largest
 * size and count still decode. PullReplies come from a real store (byte budget, at least one
 * entry, roster mismatch, nothing held, a start in the middle) and are ingested by a second.
 *
 * Chunks: one signature check per honest chunk (rcn_entry_verify_calls); a tampered entry,
 * a forged newest signature or a relay's fabricated tail costs only what lies above it, in
 * O(log n) checks; a gap, held entries and foreign entries cost no crypto.
 *
 * `test_wire --corpus DIR` writes the seed corpus of tests/fuzz/fuzz_wire.c into DIR instead
 * (fixed keys, so it is reproducible). */
#include "testutil.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "rcn/ingest.h"
#include "rcn/wire.h"
#include "rcn.pb-c.h"

typedef struct {
    uint8_t pk[32], sk[64];
} member_t;

static member_t s_a, s_b, s_stranger;
static uint8_t s_roster[32], s_other_roster[32];

static bool
a_or_b (const uint8_t origin[32], void *ctx)
{
    (void) ctx;
    return memcmp (origin, s_a.pk, 32) == 0 || memcmp (origin, s_b.pk, 32) == 0;
}

static rcn_store_t *
store_new (char **dir)
{
    *dir = rcn_test_tmpdir ("wire");
    rcn_store_opts_t o = { .is_member = a_or_b };
    rcn_store_t *s = NULL;
    char why[256];
    REQUIRE (rcn_store_open (*dir, &o, &s, why, sizeof why) == RCN_OK);
    return s;
}

static void
store_free (rcn_store_t **s, char **dir)
{
    rcn_store_destroy (s);
    rcn_test_rmtree (*dir);
    free (*dir);
    *dir = NULL;
}

/* m's seqs first..first+n-1 on top of prev (NULL below seq 1), bodies of body_len bytes. */
static void
chain (const member_t *m, uint64_t first, const uint8_t *prev, size_t n, size_t body_len,
       rcn_entry_t **out)
{
    uint8_t *body = malloc (body_len + 1);
    REQUIRE (body);
    for (size_t i = 0; i < n; i++) {
        memset (body, (int) (first + i), body_len);
        REQUIRE (rcn_entry_sign (m->sk, first + i, i ? out[i - 1]->hash : prev,
                                 1795311000000ULL + first + i, 1, 0, body, body_len,
                                 &out[i]) == RCN_OK);
    }
    free (body);
}

static uint8_t *
wire_of (const rcn_entry_t *e, size_t *len)
{
    uint8_t *w = NULL;
    REQUIRE (rcn_entry_encode (e, &w, len) == RCN_OK);
    return w;
}

/* The envelopes of n entries, as a PullReply hands them on. */
typedef struct {
    size_t n;
    uint8_t **w;
    size_t *len;
    int *res;
} chunk_t;

static chunk_t
chunk_of (rcn_entry_t *const *e, size_t n)
{
    chunk_t c = { n, calloc (n, sizeof (uint8_t *)), calloc (n, sizeof (size_t)),
                  calloc (n, sizeof (int)) };
    REQUIRE (c.w && c.len && c.res);
    for (size_t i = 0; i < n; i++)
        c.w[i] = wire_of (e[i], &c.len[i]);
    return c;
}

static void
chunk_free (chunk_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free (c->w[i]);
    free (c->w);
    free (c->len);
    free (c->res);
}

static int
ingest (rcn_store_t *s, const member_t *m, chunk_t *c, rcn_ingest_stats_t *st)
{
    return rcn_ingest_chunk (s, m->pk, (const uint8_t *const *) c->w, c->len, c->n, c->res, st);
}

static uint64_t
head_of (rcn_store_t *s, const member_t *m)
{
    uint64_t seq = 0;
    REQUIRE (rcn_store_head (s, m->pk, &seq, NULL) == RCN_OK);
    return seq;
}

static void
entries_free (rcn_entry_t **e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rcn_entry_destroy (&e[i]);
}

/* Entry e with one byte of its signed bytes (at `at`, counted from the end when negative) or
 * of its signature flipped; the copy is unverified. */
static rcn_entry_t *
tampered (const rcn_entry_t *e, long at, bool in_sig)
{
    uint8_t sb[RCN_ENTRY_MAX], sig[64];
    memcpy (sb, e->signed_bytes, e->signed_len);
    memcpy (sig, e->sig, 64);
    if (in_sig)
        sig[at] ^= 1;
    else
        sb[at < 0 ? (long) e->signed_len + at : at] ^= 1;
    rcn_entry_t *t = NULL;
    REQUIRE (rcn_entry_from_parts (sb, e->signed_len, sig, 64, &t) == RCN_OK);
    return t;
}

/* What a relay can make without the key: m's header, linked on prev, any signature. */
static rcn_entry_t *
fabricated (const member_t *m, uint64_t seq, const uint8_t *prev)
{
    uint8_t sb[RCN_HEADER_SIZE + 4] = { 'R', 'C', 'N', '1' }, sig[64];
    memcpy (sb + 4, m->pk, 32);
    for (int i = 0; i < 8; i++)
        sb[36 + i] = (uint8_t) (seq >> (56 - 8 * i));
    memcpy (sb + 44, prev, 32);
    sb[87] = 1;                                             /* kind 1 */
    memset (sb + RCN_HEADER_SIZE, 0xee, 4);
    randombytes_buf (sig, sizeof sig);
    rcn_entry_t *e = NULL;
    REQUIRE (rcn_entry_from_parts (sb, sizeof sb, sig, 64, &e) == RCN_OK);
    (void) rcn_entry_hash (e);
    return e;
}

static uint8_t *
pack (const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size (m);
    uint8_t *buf = malloc (*len + 1);
    REQUIRE (buf);
    protobuf_c_message_pack (m, buf);
    return buf;
}

static size_t
varint_len (size_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

/* ---- Heartbeat ----------------------------------------------------------------------------- */

static void
head_random (rcn_head_t *h, uint64_t seq, uint64_t fork_seq)
{
    randombytes_buf (h->origin, 32);
    h->seq = seq;
    memset (h->hash, 0, 32);
    if (seq)
        randombytes_buf (h->hash, 32);
    h->fork_seq = fork_seq;
}

static int
head_cmp (const void *a, const void *b)
{
    return memcmp (a, b, 32);
}

static void
test_heartbeat_roundtrip (void)
{
    rcn_heartbeat_t hb = { .time_ms = UINT64_MAX }, back;
    char why[256];
    memcpy (hb.roster_hash, s_roster, 32);
    memcpy (hb.member, s_a.pk, 32);
    uint8_t *w = NULL;
    size_t len = 0;

    /* No heads at all. */
    REQUIRE (rcn_heartbeat_encode (&hb, &w, &len) == RCN_OK);
    CHECK_EQ (rcn_heartbeat_decode (w, len, &back, why, sizeof why), RCN_OK);
    CHECK (memcmp (&hb, &back, sizeof hb) == 0);
    CHECK_EQ (why[0], 0);
    free (w);

    /* RCN_MAX_MEMBERS heads with every field at its longest: the derived size holds. */
    hb.n_heads = RCN_MAX_MEMBERS;
    for (size_t i = 0; i < hb.n_heads; i++)
        head_random (&hb.heads[i], UINT64_MAX, UINT64_MAX);
    REQUIRE (rcn_heartbeat_encode (&hb, &w, &len) == RCN_OK);
    CHECK_EQ (len, RCN_HEARTBEAT_WIRE_MAX);
    CHECK (len <= RCN_HEARTBEAT_MAX);
    CHECK_EQ (rcn_heartbeat_decode (w, len, &back, why, sizeof why), RCN_OK);
    qsort (hb.heads, hb.n_heads, sizeof hb.heads[0], head_cmp);    /* decoded: by origin */
    CHECK (memcmp (&hb, &back, sizeof hb) == 0);
    free (w);

    /* Mixed: nothing held, forked, ordinary — decoded sorted by origin. */
    hb.n_heads = 3;
    head_random (&hb.heads[0], 0, 0);
    head_random (&hb.heads[1], 42, 17);
    head_random (&hb.heads[2], 7, 0);
    hb.heads[0].origin[0] = 0xff;
    hb.heads[1].origin[0] = 0x00;
    hb.heads[2].origin[0] = 0x80;
    REQUIRE (rcn_heartbeat_encode (&hb, &w, &len) == RCN_OK);
    CHECK_EQ (rcn_heartbeat_decode (w, len, &back, why, sizeof why), RCN_OK);
    CHECK_EQ (back.n_heads, 3);
    CHECK (memcmp (&back.heads[0], &hb.heads[1], sizeof back.heads[0]) == 0);
    CHECK (memcmp (&back.heads[1], &hb.heads[2], sizeof back.heads[0]) == 0);
    CHECK (memcmp (&back.heads[2], &hb.heads[0], sizeof back.heads[0]) == 0);
    CHECK_EQ (back.heads[2].seq, 0);
    CHECK_EQ (back.heads[0].fork_seq, 17);
    free (w);
}

/* A valid Heartbeat as protobuf-c structs, for the malformed cases to spoil one field each. */
typedef struct {
    Rcn__Heartbeat m;
    Rcn__Head heads[RCN_MAX_MEMBERS + 1];
    Rcn__Head *ptrs[RCN_MAX_MEMBERS + 1];
    uint8_t keys[RCN_MAX_MEMBERS + 1][32];
    uint8_t hash[33];
} hb_pb_t;

static void
hb_pb (hb_pb_t *p, size_t n_heads)
{
    rcn__heartbeat__init (&p->m);
    p->m.roster_hash = (ProtobufCBinaryData) { 32, s_roster };
    p->m.member = (ProtobufCBinaryData) { 32, s_a.pk };
    p->m.time_ms = 1795311000000ULL;
    memset (p->hash, 0x5a, sizeof p->hash);
    for (size_t i = 0; i < n_heads; i++) {
        memset (p->keys[i], 0xc3, 32);          /* fixed, so that the corpus is reproducible */
        p->keys[i][0] = (uint8_t) i;
        rcn__head__init (&p->heads[i]);
        p->heads[i].origin = (ProtobufCBinaryData) { 32, p->keys[i] };
        p->heads[i].seq = i + 1;
        p->heads[i].hash = (ProtobufCBinaryData) { 32, p->hash };
        p->ptrs[i] = &p->heads[i];
    }
    p->m.n_heads = n_heads;
    p->m.heads = p->ptrs;
}

static bool
all_zero (const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Packs p and expects `expect` with `field` named in why and *out left zero. */
static void
hb_refused (hb_pb_t *p, int expect, const char *field)
{
    size_t len;
    uint8_t *w = pack (&p->m.base, &len);
    rcn_heartbeat_t out;
    char why[256];
    int rc = rcn_heartbeat_decode (w, len, &out, why, sizeof why);
    CHECK_EQ (rc, expect);
    CHECK (strstr (why, field) != NULL);
    if (!strstr (why, field))
        fprintf (stderr, "    why: \"%s\", expected \"%s\"\n", why, field);
    CHECK (all_zero (&out, sizeof out));
    free (w);
}

static void
test_heartbeat_malformed (void)
{
    hb_pb_t p;
    rcn_heartbeat_t out;
    char why[256];
    size_t len;

    hb_pb (&p, 3);
    uint8_t *w = pack (&p.m.base, &len);
    CHECK_EQ (rcn_heartbeat_decode (w, len, &out, why, sizeof why), RCN_OK);    /* the base */
    free (w);

    hb_pb (&p, 3);
    p.m.roster_hash.len = 31;
    hb_refused (&p, RCN_EINVAL, "roster_hash");
    hb_pb (&p, 3);
    p.m.roster_hash.len = 0;
    hb_refused (&p, RCN_EINVAL, "roster_hash");
    hb_pb (&p, 3);
    p.m.member.len = 0;
    hb_refused (&p, RCN_EINVAL, "member");
    hb_pb (&p, 3);
    p.heads[2].origin.len = 31;
    hb_refused (&p, RCN_EINVAL, "heads[2].origin");
    hb_pb (&p, 3);
    p.heads[1].hash.len = 33;
    hb_refused (&p, RCN_EINVAL, "heads[1].hash");
    hb_pb (&p, 3);
    p.heads[1].hash.len = 0;                       /* seq 2 without its hash */
    hb_refused (&p, RCN_EINVAL, "heads[1].hash");
    hb_pb (&p, 3);
    p.heads[0].seq = 0;                            /* nothing held, yet a hash */
    hb_refused (&p, RCN_EINVAL, "heads[0].hash");
    hb_pb (&p, 3);
    p.heads[2].fork_seq = 4;                       /* evidence above the head */
    hb_refused (&p, RCN_EINVAL, "heads[2].fork_seq");
    hb_pb (&p, 3);
    memcpy (p.keys[2], p.keys[0], 32);
    hb_refused (&p, RCN_EINVAL, "heads[2].origin: the same as heads[0]");
    hb_pb (&p, RCN_MAX_MEMBERS + 1);
    hb_refused (&p, RCN_EINVAL, "heads: 65, at most 64");

    /* Not a Heartbeat at all: a length prefix running past the end, a wrong wire type. */
    static const uint8_t runs_off[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2 };
    CHECK_EQ (rcn_heartbeat_decode (runs_off, sizeof runs_off, &out, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "Heartbeat: does not parse") != NULL);
    static const uint8_t wrong_type[] = { 0x0d, 1, 2, 3, 4 };   /* field 1 as fixed32 */
    CHECK_EQ (rcn_heartbeat_decode (wrong_type, sizeof wrong_type, &out, why, sizeof why),
              RCN_EINVAL);
    CHECK (all_zero (&out, sizeof out));
}

static void
test_heartbeat_oversized (void)
{
    rcn_heartbeat_t out;
    char why[256];
    size_t len;

    /* A heartbeat declaring 200 heads: a real protobuf, refused by its size alone. */
    static hb_pb_t big;
    hb_pb (&big, RCN_MAX_MEMBERS);
    Rcn__Head *many[200];
    for (size_t i = 0; i < 200; i++)
        many[i] = &big.heads[i % RCN_MAX_MEMBERS];
    big.m.n_heads = 200;
    big.m.heads = many;
    uint8_t *w = pack (&big.m.base, &len);
    CHECK (len > RCN_HEARTBEAT_MAX);
    CHECK_EQ (rcn_heartbeat_decode (w, len, &out, why, sizeof why), RCN_ETOOBIG);
    CHECK (strstr (why, "Heartbeat:") && strstr (why, "at most 8192"));
    free (w);

    /* Garbage one byte over the cap: too big, not "does not parse" — the size came first. */
    uint8_t junk[RCN_HEARTBEAT_MAX + 1];
    memset (junk, 0xff, sizeof junk);
    CHECK_EQ (rcn_heartbeat_decode (junk, sizeof junk, &out, why, sizeof why), RCN_ETOOBIG);
    CHECK_EQ (rcn_heartbeat_decode (junk, RCN_HEARTBEAT_MAX, &out, why, sizeof why), RCN_EINVAL);

    /* Within the cap, 4096 empty heads: two bytes each on the wire, a struct each unpacked.
     * The allocation budget refuses it before the count check ever sees it. */
    uint8_t empties[RCN_HEARTBEAT_MAX];
    for (size_t i = 0; i < sizeof empties; i += 2) {
        empties[i] = 0x22;                          /* field 4, length-delimited */
        empties[i + 1] = 0;
    }
    CHECK_EQ (rcn_heartbeat_decode (empties, sizeof empties, &out, why, sizeof why), RCN_ETOOBIG);
    CHECK (strstr (why, "unpack to more than") != NULL);
    CHECK (all_zero (&out, sizeof out));

    /* The same flood of unknown fields. */
    for (size_t i = 0; i < sizeof empties; i += 2) {
        empties[i] = 0x78;                          /* field 15, varint */
        empties[i + 1] = 0;
    }
    CHECK_EQ (rcn_heartbeat_decode (empties, sizeof empties, &out, why, sizeof why), RCN_ETOOBIG);

    /* A few unknown fields (a later version's) are fine. */
    hb_pb_t p;
    hb_pb (&p, 2);
    uint8_t *base = pack (&p.m.base, &len);
    uint8_t ext[512];
    memcpy (ext, base, len);
    ext[len] = 0x78;                                /* field 15 = 1 */
    ext[len + 1] = 1;
    CHECK_EQ (rcn_heartbeat_decode (ext, len + 2, &out, why, sizeof why), RCN_OK);
    CHECK_EQ (out.n_heads, 2);
    free (base);
}

/* ---- PullRequest --------------------------------------------------------------------------- */

static void
test_request (void)
{
    rcn_pull_request_t req = { .request_id = UINT64_MAX, .from_seq = UINT64_MAX,
                               .max_bytes = RCN_PULL_MAX_BYTES }, back;
    memcpy (req.roster_hash, s_roster, 32);
    memcpy (req.origin, s_a.pk, 32);
    char why[256];
    uint8_t *w;
    size_t len;
    REQUIRE (rcn_pull_request_encode (&req, &w, &len) == RCN_OK);
    CHECK (len <= 96);                              /* the size derived in wire.h */
    CHECK_EQ (rcn_pull_request_decode (w, len, &back, why, sizeof why), RCN_OK);
    CHECK (memcmp (&req, &back, sizeof req) == 0);
    free (w);
    req.max_bytes = RCN_ENTRY_MAX;                  /* both ends of the range */
    req.from_seq = 1;
    req.request_id = 0;
    REQUIRE (rcn_pull_request_encode (&req, &w, &len) == RCN_OK);
    CHECK_EQ (rcn_pull_request_decode (w, len, &back, why, sizeof why), RCN_OK);
    CHECK (memcmp (&req, &back, sizeof req) == 0);
    free (w);

    struct {
        uint64_t from_seq;
        uint32_t max_bytes;
        size_t roster_len, origin_len;
        const char *field;
    } bad[] = {
        { 0, RCN_ENTRY_MAX, 32, 32, "from_seq" },
        { 1, RCN_ENTRY_MAX - 1, 32, 32, "max_bytes" },
        { 1, RCN_PULL_MAX_BYTES + 1, 32, 32, "max_bytes" },
        { 1, 0, 32, 32, "max_bytes" },
        { 1, RCN_ENTRY_MAX, 0, 32, "roster_hash" },
        { 1, RCN_ENTRY_MAX, 33, 32, "roster_hash" },
        { 1, RCN_ENTRY_MAX, 32, 31, "origin" },
        { 1, RCN_ENTRY_MAX, 32, 0, "origin" },
    };
    uint8_t key[64] = { 0 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Rcn__PullRequest m = RCN__PULL_REQUEST__INIT;
        m.request_id = 9;
        m.roster_hash = (ProtobufCBinaryData) { bad[i].roster_len, key };
        m.origin = (ProtobufCBinaryData) { bad[i].origin_len, key };
        m.from_seq = bad[i].from_seq;
        m.max_bytes = bad[i].max_bytes;
        w = pack (&m.base, &len);
        CHECK_EQ (rcn_pull_request_decode (w, len, &back, why, sizeof why), RCN_EINVAL);
        CHECK (strstr (why, bad[i].field) == why);
        CHECK (all_zero (&back, sizeof back));
        free (w);
    }

    /* Over the cap: a request whose origin field declares 300 bytes (and has them). */
    uint8_t origin[300] = { 0 };
    Rcn__PullRequest m = RCN__PULL_REQUEST__INIT;
    m.roster_hash = (ProtobufCBinaryData) { 32, key };
    m.origin = (ProtobufCBinaryData) { sizeof origin, origin };
    m.from_seq = 1;
    m.max_bytes = RCN_ENTRY_MAX;
    w = pack (&m.base, &len);
    CHECK_EQ (rcn_pull_request_decode (w, len, &back, why, sizeof why), RCN_ETOOBIG);
    CHECK (strstr (why, "PullRequest:") && strstr (why, "at most 256"));
    free (w);
    uint8_t junk[RCN_PULL_REQUEST_MAX + 1];
    memset (junk, 0xff, sizeof junk);
    CHECK_EQ (rcn_pull_request_decode (junk, sizeof junk, &back, why, sizeof why), RCN_ETOOBIG);
    CHECK_EQ (rcn_pull_request_decode (junk, 10, &back, why, sizeof why), RCN_EINVAL);
}

/* ---- PullReply from a store ---------------------------------------------------------------- */

static rcn_pull_reply_t *
serve (rcn_store_t *s, const member_t *m, uint64_t from_seq, uint32_t max_bytes,
       const uint8_t *roster, uint64_t request_id)
{
    rcn_pull_request_t req = { .request_id = request_id, .from_seq = from_seq,
                               .max_bytes = max_bytes };
    memcpy (req.roster_hash, roster, 32);
    memcpy (req.origin, m->pk, 32);
    uint8_t *w = NULL;
    size_t len = 0;
    REQUIRE (rcn_pull_serve (s, &req, s_roster, &w, &len) == RCN_OK);
    CHECK (len <= RCN_PULL_REPLY_MAX);
    rcn_pull_reply_t *r = NULL;
    char why[256];
    int rc = rcn_pull_reply_decode (w, len, &r, why, sizeof why);
    CHECK_EQ (rc, RCN_OK);
    if (rc)
        fprintf (stderr, "    why: %s\n", why);
    REQUIRE (r);
    CHECK_EQ (r->request_id, request_id);
    free (w);
    return r;
}

/* Bytes the reply's entries occupy, as the budget counts them; and that they are m's
 * consecutive seqs from `first`. */
static size_t
reply_check (const rcn_pull_reply_t *r, const member_t *m, uint64_t first)
{
    size_t used = 0;
    CHECK (memcmp (r->origin, m->pk, 32) == 0);
    for (size_t i = 0; i < r->n_entries; i++) {
        rcn_entry_t *e = NULL;
        REQUIRE (rcn_entry_decode (r->entries[i], r->entry_lens[i], &e) == RCN_OK);
        CHECK_EQ (e->h.seq, first + i);
        CHECK (memcmp (e->h.origin, m->pk, 32) == 0);
        rcn_entry_destroy (&e);
        used += 1 + varint_len (r->entry_lens[i]) + r->entry_lens[i];
    }
    return used;
}

static void
test_pull_serve (void)
{
    char *dir, *dir2;
    rcn_store_t *s = store_new (&dir);
    enum { NA = 300, NB = 3 };
    rcn_entry_t *ea[NA], *eb[NB];
    int res[NA];
    chain (&s_a, 1, NULL, NA, 2000, ea);
    chain (&s_b, 1, NULL, NB, RCN_BODY_MAX, eb);    /* entries of the largest size */
    REQUIRE (rcn_store_append (s, ea, NA, res) == RCN_OK);
    REQUIRE (rcn_store_append (s, eb, NB, res) == RCN_OK);
    size_t cost = 1 + varint_len (rcn_entry_raw_len (ea[0]) + 5)
                  + rcn_entry_raw_len (ea[0]) + 5;  /* envelope: two tags, two lengths */

    /* The byte budget: as many as fit, not one more. */
    rcn_pull_reply_t *r = serve (s, &s_a, 1, RCN_ENTRY_MAX, s_roster, 1);
    CHECK_EQ (r->error, RCN_PULL_OK);
    CHECK_EQ (r->head_seq, NA);
    size_t used = reply_check (r, &s_a, 1);
    CHECK_EQ (used, r->n_entries * cost);
    CHECK (used <= RCN_ENTRY_MAX);
    CHECK (used + cost > RCN_ENTRY_MAX);
    CHECK_EQ (r->n_entries, RCN_ENTRY_MAX / cost);
    rcn_pull_reply_destroy (&r);
    rcn_pull_reply_destroy (&r);                    /* safe twice */

    /* From the middle, with the largest budget: the rest, all of it. */
    r = serve (s, &s_a, 151, RCN_PULL_MAX_BYTES, s_roster, 2);
    CHECK_EQ (r->n_entries, RCN_PULL_MAX_BYTES / cost < NA - 150 ? RCN_PULL_MAX_BYTES / cost
                                                                    : NA - 150);
    used = reply_check (r, &s_a, 151);
    CHECK (used <= RCN_PULL_MAX_BYTES);
    rcn_pull_reply_destroy (&r);
    r = serve (s, &s_a, NA - 10, RCN_PULL_MAX_BYTES, s_roster, 3);
    CHECK_EQ (r->n_entries, 11);
    (void) reply_check (r, &s_a, NA - 10);
    rcn_pull_reply_destroy (&r);

    /* An entry bigger than max_bytes still goes, alone: always at least one. */
    r = serve (s, &s_b, 1, RCN_ENTRY_MAX, s_roster, 4);
    CHECK_EQ (r->n_entries, 1);
    CHECK (reply_check (r, &s_b, 1) > RCN_ENTRY_MAX);
    rcn_pull_reply_destroy (&r);
    r = serve (s, &s_b, 1, RCN_PULL_MAX_BYTES, s_roster, 5);
    CHECK_EQ (r->n_entries, NB);
    rcn_pull_reply_destroy (&r);

    /* Roster mismatch: no entries, no head. */
    r = serve (s, &s_a, 1, RCN_ENTRY_MAX, s_other_roster, 6);
    CHECK_EQ (r->error, RCN_PULL_ROSTER);
    CHECK_EQ (r->n_entries, 0);
    CHECK_EQ (r->head_seq, 0);
    rcn_pull_reply_destroy (&r);

    /* Nothing from from_seq on: our head says how far we are. */
    r = serve (s, &s_a, NA + 1, RCN_ENTRY_MAX, s_roster, 7);
    CHECK_EQ (r->error, RCN_PULL_NOT_HELD);
    CHECK_EQ (r->n_entries, 0);
    CHECK_EQ (r->head_seq, NA);
    rcn_pull_reply_destroy (&r);
    r = serve (s, &s_stranger, 1, RCN_ENTRY_MAX, s_roster, 8);
    CHECK_EQ (r->error, RCN_PULL_NOT_HELD);
    CHECK_EQ (r->head_seq, 0);
    rcn_pull_reply_destroy (&r);

    /* A bad request served directly, and a request frame answered whole. */
    rcn_pull_request_t req = { .request_id = 77, .from_seq = 0, .max_bytes = RCN_ENTRY_MAX };
    memcpy (req.roster_hash, s_roster, 32);
    memcpy (req.origin, s_a.pk, 32);
    uint8_t *w = NULL, *ans = NULL;
    size_t len, ans_len;
    char why[256];
    REQUIRE (rcn_pull_serve (s, &req, s_roster, &w, &len) == RCN_OK);
    CHECK_EQ (rcn_pull_reply_decode (w, len, &r, why, sizeof why), RCN_OK);
    CHECK_EQ (r->error, RCN_PULL_BAD_REQUEST);
    CHECK_EQ (r->request_id, 77);
    rcn_pull_reply_destroy (&r);
    free (w);

    req.from_seq = 1;
    req.max_bytes = RCN_PULL_MAX_BYTES + 1;         /* a newer peer's budget, say */
    REQUIRE (rcn_pull_request_encode (&req, &w, &len) == RCN_OK);
    CHECK_EQ (rcn_pull_answer (s, s_roster, w, len, &ans, &ans_len, why, sizeof why), RCN_OK);
    CHECK (strstr (why, "max_bytes") == why);
    CHECK_EQ (rcn_pull_reply_decode (ans, ans_len, &r, why, sizeof why), RCN_OK);
    CHECK_EQ (r->error, RCN_PULL_BAD_REQUEST);
    CHECK_EQ (r->request_id, 77);
    CHECK (memcmp (r->origin, s_a.pk, 32) == 0);
    rcn_pull_reply_destroy (&r);
    free (ans);
    free (w);
    req.max_bytes = RCN_ENTRY_MAX;
    REQUIRE (rcn_pull_request_encode (&req, &w, &len) == RCN_OK);
    CHECK_EQ (rcn_pull_answer (s, s_roster, w, len, &ans, &ans_len, why, sizeof why), RCN_OK);
    CHECK_EQ (why[0], 0);
    CHECK_EQ (rcn_pull_reply_decode (ans, ans_len, &r, why, sizeof why), RCN_OK);
    CHECK_EQ (r->error, RCN_PULL_OK);
    CHECK_EQ (r->n_entries, RCN_ENTRY_MAX / cost);
    free (ans);
    free (w);
    static const uint8_t junk[] = { 0xff, 0xff, 0xff };
    CHECK_EQ (rcn_pull_answer (s, s_roster, junk, sizeof junk, &ans, &ans_len, why, sizeof why),
              RCN_EINVAL);
    CHECK (ans == NULL && strstr (why, "PullRequest") == why);

    /* Replication end to end: the served chunk into a second store, on one signature. */
    rcn_store_t *s2 = store_new (&dir2);
    int res2[RCN_PULL_MAX_ENTRIES];
    rcn_ingest_stats_t st = { 0 };
    uint64_t v0 = rcn_entry_verify_calls ();
    CHECK_EQ (rcn_ingest_chunk (s2, r->origin, r->entries, r->entry_lens, r->n_entries, res2, &st),
              RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 1);
    CHECK_EQ (st.stored, r->n_entries);
    CHECK_EQ (head_of (s2, &s_a), r->n_entries);
    rcn_pull_reply_destroy (&r);

    /* Heartbeat from the store: heads of both origins, one of them forked. */
    rcn_entry_t *fork = NULL;
    REQUIRE (rcn_entry_sign (s_b.sk, 2, eb[0]->hash, 1, 1, 0, (const uint8_t *) "x", 1,
                             &fork) == RCN_OK);
    REQUIRE (rcn_store_append (s, &fork, 1, res) == RCN_OK);
    CHECK_EQ (res[0], RCN_EFORK);
    rcn_entry_destroy (&fork);
    REQUIRE (rcn_heartbeat_build (s, s_roster, s_a.pk, 1795311000123ULL, &w, &len) == RCN_OK);
    rcn_heartbeat_t hb;
    CHECK_EQ (rcn_heartbeat_decode (w, len, &hb, why, sizeof why), RCN_OK);
    free (w);
    CHECK_EQ (hb.n_heads, 2);
    CHECK_EQ (hb.time_ms, 1795311000123ULL);
    CHECK (memcmp (hb.member, s_a.pk, 32) == 0 && memcmp (hb.roster_hash, s_roster, 32) == 0);
    for (size_t i = 0; i < hb.n_heads; i++) {
        bool is_a = memcmp (hb.heads[i].origin, s_a.pk, 32) == 0;
        rcn_entry_t *const *e = is_a ? ea : eb;
        size_t n = is_a ? NA : NB;
        CHECK_EQ (hb.heads[i].seq, n);
        CHECK (memcmp (hb.heads[i].hash, e[n - 1]->hash, 32) == 0);
        CHECK_EQ (hb.heads[i].fork_seq, is_a ? 0 : 2);
    }
    /* And from an empty store. */
    REQUIRE (rcn_heartbeat_build (s2, s_roster, s_b.pk, 5, &w, &len) == RCN_OK);
    CHECK_EQ (rcn_heartbeat_decode (w, len, &hb, why, sizeof why), RCN_OK);
    CHECK_EQ (hb.n_heads, 1);
    free (w);

    entries_free (ea, NA);
    entries_free (eb, NB);
    store_free (&s2, &dir2);
    store_free (&s, &dir);
}

/* The most entries a chunk can hold (empty bodies) still decode under the budget; one more
 * than the cap allows is refused by the count. */
static void
test_reply_limits (void)
{
    char *dir;
    rcn_store_t *s = store_new (&dir);
    enum { N = RCN_PULL_MAX_ENTRIES + 10 };
    rcn_entry_t **e = calloc (N, sizeof *e);
    int *res = calloc (N, sizeof *res);
    REQUIRE (e && res);
    chain (&s_a, 1, NULL, N, 0, e);
    REQUIRE (rcn_store_append (s, e, N, res) == RCN_OK);
    rcn_pull_reply_t *r = serve (s, &s_a, 1, RCN_PULL_MAX_BYTES, s_roster, 1);
    CHECK_EQ (r->n_entries, RCN_PULL_MAX_BYTES / RCN_PULL_ENTRY_MIN);
    CHECK (reply_check (r, &s_a, 1) <= RCN_PULL_MAX_BYTES);
    rcn_pull_reply_destroy (&r);

    /* RCN_PULL_MAX_ENTRIES + 1 small envelopes (not entries: 40 bytes of anything). */
    size_t n = RCN_PULL_MAX_ENTRIES + 1;
    Rcn__Entry *em = calloc (n, sizeof *em);
    Rcn__Entry **ep = calloc (n, sizeof *ep);
    REQUIRE (em && ep);
    uint8_t junk[40] = { 0 };
    for (size_t i = 0; i < n; i++) {
        rcn__entry__init (&em[i]);
        em[i].signed_ = (ProtobufCBinaryData) { sizeof junk, junk };
        ep[i] = &em[i];
    }
    Rcn__PullReply m = RCN__PULL_REPLY__INIT;
    m.origin = (ProtobufCBinaryData) { 32, s_a.pk };
    m.n_entries = n;
    m.entries = ep;
    m.head_seq = n;
    size_t len;
    char why[256];
    uint8_t *w = pack (&m.base, &len);
    CHECK (len <= RCN_PULL_REPLY_MAX);
    CHECK_EQ (rcn_pull_reply_decode (w, len, &r, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "entries:") == why);
    CHECK (r == NULL);
    free (w);
    m.n_entries = n - 1;                            /* at the limit: decodes */
    m.head_seq = n - 1;
    w = pack (&m.base, &len);
    CHECK_EQ (rcn_pull_reply_decode (w, len, &r, why, sizeof why), RCN_OK);
    CHECK_EQ (r->n_entries, n - 1);
    CHECK_EQ (r->entry_lens[0], 2 + sizeof junk);
    rcn_pull_reply_destroy (&r);
    free (w);
    free (em);
    free (ep);
    entries_free (e, N);
    free (e);
    free (res);
    store_free (&s, &dir);
}

static void
reply_refused (Rcn__PullReply *m, int expect, const char *field)
{
    size_t len;
    uint8_t *w = pack (&m->base, &len);
    rcn_pull_reply_t *r = NULL;
    char why[256];
    CHECK_EQ (rcn_pull_reply_decode (w, len, &r, why, sizeof why), expect);
    CHECK (strstr (why, field) != NULL);
    if (!strstr (why, field))
        fprintf (stderr, "    why: \"%s\", expected \"%s\"\n", why, field);
    CHECK (r == NULL);
    free (w);
}

static void
test_reply_malformed (void)
{
    rcn_entry_t *e[2];
    chain (&s_a, 1, NULL, 2, 10, e);
    Rcn__Entry em[2];
    Rcn__Entry *ep[2] = { &em[0], &em[1] };
    for (int i = 0; i < 2; i++) {
        rcn__entry__init (&em[i]);
        em[i].signed_ = (ProtobufCBinaryData) { e[i]->signed_len, e[i]->signed_bytes };
        em[i].sig = (ProtobufCBinaryData) { 64, e[i]->sig };
    }
#define BASE(m) \
    Rcn__PullReply m = RCN__PULL_REPLY__INIT; \
    m.request_id = 5; m.origin = (ProtobufCBinaryData) { 32, s_a.pk }; \
    m.n_entries = 2; m.entries = ep; m.head_seq = 2

    BASE (ok);
    size_t len;
    char why[256];
    uint8_t *w = pack (&ok.base, &len);
    rcn_pull_reply_t *r = NULL;
    CHECK_EQ (rcn_pull_reply_decode (w, len, &r, why, sizeof why), RCN_OK);
    REQUIRE (r);
    CHECK_EQ (r->request_id, 5);
    CHECK_EQ (r->n_entries, 2);
    for (int i = 0; i < 2; i++) {                   /* the envelopes as rcn_entry_encode makes */
        size_t el;
        uint8_t *ew = wire_of (e[i], &el);
        CHECK (r->entry_lens[i] == el && memcmp (r->entries[i], ew, el) == 0);
        free (ew);
    }
    rcn_pull_reply_destroy (&r);
    free (w);

    BASE (m1);
    m1.error = 7;
    reply_refused (&m1, RCN_EINVAL, "error: 7");
    BASE (m2);
    m2.error = -1;
    reply_refused (&m2, RCN_EINVAL, "error: -1");
    BASE (m3);
    m3.origin.len = 31;
    reply_refused (&m3, RCN_EINVAL, "origin: 31 bytes");
    BASE (m4);
    m4.origin.len = 0;                              /* only error replies may leave it out */
    reply_refused (&m4, RCN_EINVAL, "origin: 0 bytes");
    BASE (m5);
    m5.n_entries = 0;
    reply_refused (&m5, RCN_EINVAL, "entries: none");
    BASE (m6);
    m6.error = RCN__PULL_REPLY__ERROR__ERROR_NOT_HELD;
    reply_refused (&m6, RCN_EINVAL, "entries: 2, expected none");
    BASE (m7);
    m7.head_seq = 1;
    reply_refused (&m7, RCN_EINVAL, "head_seq: 1");

    /* Error replies may leave origin out. */
    BASE (m8);
    m8.error = RCN__PULL_REPLY__ERROR__ERROR_ROSTER;
    m8.n_entries = 0;
    m8.origin.len = 0;
    w = pack (&m8.base, &len);
    CHECK_EQ (rcn_pull_reply_decode (w, len, &r, why, sizeof why), RCN_OK);
    CHECK (r && r->error == RCN_PULL_ROSTER && all_zero (r->origin, 32));
    rcn_pull_reply_destroy (&r);
    free (w);
#undef BASE

    /* Over the cap, and a length prefix claiming 2 GiB inside a small message. */
    size_t big_len = RCN_PULL_REPLY_MAX + 1;
    uint8_t *big = calloc (1, big_len);
    REQUIRE (big);
    CHECK_EQ (rcn_pull_reply_decode (big, big_len, &r, why, sizeof why), RCN_ETOOBIG);
    CHECK (strstr (why, "PullReply:") == why);
    free (big);
    static const uint8_t claims[] = { 0x22, 0x80, 0x80, 0x80, 0x80, 0x08, 0x0a, 0x01, 'R' };
    CHECK_EQ (rcn_pull_reply_decode (claims, sizeof claims, &r, why, sizeof why), RCN_EINVAL);
    CHECK (r == NULL);
    entries_free (e, 2);
}

/* ---- Chunks -------------------------------------------------------------------------------- */

enum { CN = 200 };

static void
test_chunk_honest (void)
{
    char *dir;
    rcn_store_t *s = store_new (&dir);
    rcn_entry_t *e[CN + 50];
    chain (&s_a, 1, NULL, CN + 50, 100, e);
    chunk_t c = chunk_of (e, CN);

    /* 200 entries, one signature. */
    rcn_ingest_stats_t st = { 0 };
    uint64_t v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, &st), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 1);
    CHECK_EQ (st.chunk_sig_checks, 1);
    CHECK_EQ (st.stored, CN);
    CHECK_EQ (st.chained, CN - 1);
    CHECK_EQ (st.received, CN);
    for (int i = 0; i < CN; i++)
        CHECK_EQ (c.res[i], RCN_OK);
    CHECK_EQ (head_of (s, &s_a), CN);
    char why[256];
    uint64_t checked = 0;
    CHECK_EQ (rcn_store_check (s, a_or_b, NULL, &checked, why, sizeof why), RCN_OK);
    CHECK_EQ (checked, CN);

    /* The same again: held, no crypto. */
    rcn_ingest_stats_t st2 = { 0 };
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, &st2), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 0);
    CHECK_EQ (st2.duplicates, CN);
    for (int i = 0; i < CN; i++)
        CHECK_EQ (c.res[i], RCN_EDUP);
    chunk_free (&c);

    /* Held ones, then new ones, then one of them again: one signature for the new ones. */
    rcn_entry_t *mixed[101];
    for (int i = 0; i < 50; i++)
        mixed[i] = e[150 + i];                      /* held */
    for (int i = 0; i < 50; i++)
        mixed[50 + i] = e[200 + i];                 /* new: 201..250 */
    mixed[100] = e[210];
    c = chunk_of (mixed, 101);
    rcn_ingest_stats_t st3 = { 0 };
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, &st3), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 1);
    CHECK_EQ (st3.stored, 50);
    CHECK_EQ (st3.duplicates, 51);
    CHECK_EQ (c.res[100], RCN_EDUP);
    CHECK_EQ (head_of (s, &s_a), CN + 50);
    chunk_free (&c);
    entries_free (e, CN + 50);
    store_free (&s, &dir);
}

static void
test_chunk_tampered (void)
{
    char *dir;
    rcn_entry_t *e[CN];
    chain (&s_a, 1, NULL, CN, 100, e);
    rcn_ingest_stats_t st;
    uint64_t v0;

    /* The middle entry's body altered: its signature fails and the next prev no longer
     * matches. The 100 below it are stored, nothing from it on. */
    rcn_store_t *s = store_new (&dir);
    rcn_entry_t *orig = e[100];
    e[100] = tampered (orig, -1, false);
    chunk_t c = chunk_of (e, CN);
    st = (rcn_ingest_stats_t) { 0 };
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, &st), RCN_OK);
    uint64_t spent = rcn_entry_verify_calls () - v0;
    CHECK (spent >= 2 && spent <= 9);               /* 1 + log2(101), not 100 */
    CHECK_EQ (st.chunk_sig_checks, spent);
    for (int i = 0; i < 100; i++)
        CHECK_EQ (c.res[i], RCN_OK);
    CHECK_EQ (c.res[100], RCN_ESIG);
    CHECK_EQ (c.res[101], RCN_ECHAIN);
    for (int i = 102; i < CN; i++)
        CHECK_EQ (c.res[i], RCN_EGAP);
    CHECK_EQ (st.stored, 100);
    CHECK_EQ (st.bad_sig, 1);
    CHECK_EQ (st.refused, CN - 101);
    CHECK_EQ (head_of (s, &s_a), 100);
    rcn_entry_destroy (&e[100]);
    e[100] = orig;
    chunk_free (&c);

    /* The genuine rest still goes in afterwards, on one signature. */
    c = chunk_of (e + 100, CN - 100);
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, NULL), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 1);
    CHECK_EQ (head_of (s, &s_a), CN);
    chunk_free (&c);
    store_free (&s, &dir);

    /* The newest signature forged: the validly signed 199 below it are stored. */
    s = store_new (&dir);
    orig = e[CN - 1];
    e[CN - 1] = tampered (orig, 10, true);
    c = chunk_of (e, CN);
    st = (rcn_ingest_stats_t) { 0 };
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, &st), RCN_OK);
    spent = rcn_entry_verify_calls () - v0;
    CHECK (spent >= 2 && spent <= 10);
    for (int i = 0; i < CN - 1; i++)
        CHECK_EQ (c.res[i], RCN_OK);
    CHECK_EQ (c.res[CN - 1], RCN_ESIG);
    CHECK_EQ (st.stored, CN - 1);
    CHECK_EQ (head_of (s, &s_a), CN - 1);
    rcn_entry_destroy (&e[CN - 1]);
    e[CN - 1] = orig;
    chunk_free (&c);
    store_free (&s, &dir);

    /* A relay's tail: 50 genuine entries, then 50 it made up, hash-linked on top of them with
     * signatures of its own. Exactly the genuine ones are stored. */
    s = store_new (&dir);
    rcn_entry_t *mixed[100];
    for (int i = 0; i < 50; i++)
        mixed[i] = e[i];
    for (int i = 50; i < 100; i++)
        mixed[i] = fabricated (&s_a, (uint64_t) i + 1, mixed[i - 1]->hash);
    c = chunk_of (mixed, 100);
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, NULL), RCN_OK);
    CHECK (rcn_entry_verify_calls () - v0 <= 9);
    CHECK_EQ (head_of (s, &s_a), 50);
    CHECK_EQ (c.res[50], RCN_ESIG);
    for (int i = 51; i < 100; i++)
        CHECK (c.res[i] == RCN_EGAP || c.res[i] == RCN_ESIG);
    chunk_free (&c);
    store_free (&s, &dir);

    /* All made up, every link right: nothing stored, whatever the links say. */
    s = store_new (&dir);
    for (int i = 0; i < 50; i++)
        rcn_entry_destroy (&mixed[50 + i]);
    for (int i = 0; i < 100; i++)
        mixed[i] = fabricated (&s_a, (uint64_t) i + 1, i ? mixed[i - 1]->hash
                                                         : (const uint8_t[32]) { 0 });
    c = chunk_of (mixed, 100);
    st = (rcn_ingest_stats_t) { 0 };
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, &st), RCN_OK);
    CHECK (rcn_entry_verify_calls () - v0 <= 8);
    CHECK_EQ (st.stored, 0);
    CHECK_EQ (head_of (s, &s_a), 0);
    chunk_free (&c);
    entries_free (mixed, 100);
    store_free (&s, &dir);
    entries_free (e, CN);
}

static void
test_chunk_refused (void)
{
    char *dir;
    rcn_store_t *s = store_new (&dir);
    rcn_entry_t *e[CN], *eb[5], *ex[3];
    chain (&s_a, 1, NULL, CN, 100, e);
    chain (&s_b, 1, NULL, 5, 100, eb);
    chain (&s_stranger, 1, NULL, 3, 100, ex);
    rcn_ingest_stats_t st;
    uint64_t v0;

    /* Not starting at head+1 (head 0, chunk from 5): a gap, no crypto. */
    chunk_t c = chunk_of (e + 4, 20);
    st = (rcn_ingest_stats_t) { 0 };
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, &st), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 0);
    for (int i = 0; i < 20; i++)
        CHECK_EQ (c.res[i], RCN_EGAP);
    CHECK_EQ (st.refused, 20);
    CHECK_EQ (head_of (s, &s_a), 0);
    chunk_free (&c);

    /* Seqs out of order: what runs from head+1 is stored, the rest waits. */
    rcn_entry_t *shuffled[6] = { e[0], e[1], e[3], e[2], e[4], e[5] };
    c = chunk_of (shuffled, 6);
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, NULL), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 1);
    CHECK (c.res[0] == RCN_OK && c.res[1] == RCN_OK);
    for (int i = 2; i < 6; i++)
        CHECK_EQ (c.res[i], RCN_EGAP);
    CHECK_EQ (head_of (s, &s_a), 2);
    chunk_free (&c);

    /* Another origin's entries mixed in: refused, and a's run goes on around them. */
    rcn_entry_t *mixed[10] = { e[2], e[3], eb[0], e[4], e[5], ex[0], e[6], e[7], eb[1], e[8] };
    c = chunk_of (mixed, 10);
    st = (rcn_ingest_stats_t) { 0 };
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, &st), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 1);
    CHECK_EQ (c.res[2], RCN_EINVAL);
    CHECK_EQ (c.res[5], RCN_EINVAL);
    CHECK_EQ (c.res[8], RCN_EINVAL);
    CHECK_EQ (st.malformed, 3);
    CHECK_EQ (st.stored, 7);
    CHECK_EQ (head_of (s, &s_a), 9);
    CHECK_EQ (head_of (s, &s_b), 0);
    chunk_free (&c);

    /* A chunk whose first prev is not our head's hash: ECHAIN, no crypto. */
    rcn_entry_t *other[3];
    chain (&s_a, 10, e[0]->hash, 3, 7, other);      /* seq 10 on the wrong prev */
    c = chunk_of (other, 3);
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, NULL), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 0);
    CHECK (c.res[0] == RCN_ECHAIN && c.res[1] == RCN_EGAP && c.res[2] == RCN_EGAP);
    chunk_free (&c);

    /* Fork evidence in a chunk: a different, validly signed seq 5 is checked on its own
     * signature and kept by the store as evidence. */
    rcn_entry_t *f5 = NULL;
    REQUIRE (rcn_entry_sign (s_a.sk, 5, e[3]->hash, 1, 1, 0, (const uint8_t *) "other", 5,
                             &f5) == RCN_OK);
    c = chunk_of (&f5, 1);
    v0 = rcn_entry_verify_calls ();
    CHECK_EQ (ingest (s, &s_a, &c, NULL), RCN_OK);
    CHECK_EQ (rcn_entry_verify_calls () - v0, 1);
    CHECK_EQ (c.res[0], RCN_EFORK);
    uint64_t fork_seq = 0;
    CHECK_EQ (rcn_store_forked (s, s_a.pk, &fork_seq), RCN_OK);
    CHECK_EQ (fork_seq, 5);
    chunk_free (&c);
    /* Its forged twin is refused on its signature. */
    rcn_entry_t *f5x = tampered (f5, 3, true);
    c = chunk_of (&f5x, 1);
    CHECK_EQ (ingest (s, &s_a, &c, NULL), RCN_OK);
    CHECK_EQ (c.res[0], RCN_ESIG);
    chunk_free (&c);
    rcn_entry_destroy (&f5x);
    rcn_entry_destroy (&f5);

    /* A stranger's chunk, offered as the stranger's: the store refuses the origin. */
    c = chunk_of (ex, 3);
    CHECK_EQ (rcn_ingest_chunk (s, s_stranger.pk, (const uint8_t *const *) c.w, c.len, 3, c.res,
                                NULL), RCN_OK);
    for (int i = 0; i < 3; i++)
        CHECK_EQ (c.res[i], RCN_EORIGIN);
    CHECK_EQ (head_of (s, &s_stranger), 0);
    chunk_free (&c);

    /* Malformed envelopes in a chunk: refused by their size and form, the run goes on. */
    uint8_t big[RCN_WIRE_MAX + 1];
    memset (big, 0x0a, sizeof big);
    static const uint8_t garbage[] = { 0xff, 0xff, 0xff };
    size_t l9, l10;
    uint8_t *w9 = wire_of (e[9], &l9), *w10 = wire_of (e[10], &l10);
    const uint8_t *bad[] = { big, w9, garbage, w10 };
    size_t bad_len[] = { sizeof big, l9, sizeof garbage, l10 };
    int res[4];
    st = (rcn_ingest_stats_t) { 0 };
    CHECK_EQ (rcn_ingest_chunk (s, s_a.pk, bad, bad_len, 4, res, &st), RCN_OK);
    CHECK_EQ (res[0], RCN_ETOOBIG);
    CHECK (res[2] != RCN_OK);
    CHECK (res[1] == RCN_OK && res[3] == RCN_OK);
    CHECK_EQ (st.malformed, 2);
    CHECK_EQ (head_of (s, &s_a), 11);
    free (w9);
    free (w10);

    /* Nothing at all. */
    CHECK_EQ (rcn_ingest_chunk (s, s_a.pk, NULL, NULL, 0, NULL, NULL), RCN_OK);

    entries_free (other, 3);
    entries_free (e, CN);
    entries_free (eb, 5);
    entries_free (ex, 3);
    store_free (&s, &dir);
}

/* ---- Seed corpus for tests/fuzz/fuzz_wire.c ------------------------------------------------ */

static const char *s_corpus;

static void
emit (const char *name, const uint8_t *data, size_t len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", s_corpus, name);
    FILE *f = fopen (path, "wb");
    if (!f || (len && fwrite (data, 1, len, f) != len) || fclose (f) != 0) {
        perror (path);
        exit (1);
    }
}

/* The message, and truncations and flipped bytes of it. */
static void
emit_mutated (const char *name, const uint8_t *data, size_t len)
{
    char n[128];
    emit (name, data, len);
    size_t cuts[] = { 1, len / 2, len - 1 };
    for (size_t i = 0; i < 3; i++) {
        snprintf (n, sizeof n, "%s-trunc-%zu", name, cuts[i]);
        emit (n, data, cuts[i]);
    }
    uint8_t *copy = malloc (len);
    REQUIRE (copy);
    size_t flips[] = { 0, 1, 2, 35, len / 2, len - 1 };
    for (size_t i = 0; i < 6; i++) {
        if (flips[i] >= len)
            continue;
        memcpy (copy, data, len);
        copy[flips[i]] ^= 0x41;
        snprintf (n, sizeof n, "%s-flip-%zu", name, flips[i]);
        emit (n, copy, len);
    }
    free (copy);
}

static void
emit_pb (const char *name, const ProtobufCMessage *m)
{
    size_t len;
    uint8_t *w = pack (m, &len);
    emit (name, w, len);
    free (w);
}

static int
write_corpus (const char *root)
{
    s_corpus = root;
    if (mkdir (root, 0755) != 0 && errno != EEXIST) {
        perror (root);
        return 1;
    }
    uint8_t seed[32];
    member_t *ms[] = { &s_a, &s_b };
    for (int i = 0; i < 2; i++) {
        memset (seed, 0x51 + i, sizeof seed);
        crypto_sign_seed_keypair (ms[i]->pk, ms[i]->sk, seed);
    }
    memset (s_roster, 0x33, 32);
    uint8_t *w;
    size_t len;

    /* Heartbeats. */
    rcn_heartbeat_t hb = { .time_ms = 1795311000000ULL };
    memcpy (hb.roster_hash, s_roster, 32);
    memcpy (hb.member, s_a.pk, 32);
    REQUIRE (rcn_heartbeat_encode (&hb, &w, &len) == RCN_OK);
    emit ("hb-no-heads", w, len);
    free (w);
    hb.n_heads = 3;
    for (int i = 0; i < 3; i++) {
        memset (hb.heads[i].origin, 0x10 * (i + 1), 32);
        hb.heads[i].seq = i == 0 ? 0 : 1000 * i;
        if (i)
            memset (hb.heads[i].hash, 0xa0 + i, 32);
        hb.heads[i].fork_seq = i == 2 ? 1500 : 0;
    }
    REQUIRE (rcn_heartbeat_encode (&hb, &w, &len) == RCN_OK);
    emit_mutated ("hb-3", w, len);
    free (w);
    hb.n_heads = RCN_MAX_MEMBERS;
    hb.time_ms = UINT64_MAX;
    for (int i = 0; i < RCN_MAX_MEMBERS; i++) {
        memset (hb.heads[i].origin, i, 32);
        hb.heads[i].seq = UINT64_MAX - (uint64_t) i;
        memset (hb.heads[i].hash, 0xff - i, 32);
        hb.heads[i].fork_seq = hb.heads[i].seq;
    }
    REQUIRE (rcn_heartbeat_encode (&hb, &w, &len) == RCN_OK);
    emit ("hb-64-longest", w, len);
    free (w);
    hb_pb_t p;
    hb_pb (&p, 3);
    memcpy (p.keys[2], p.keys[0], 32);
    emit_pb ("hb-bad-dup-origin", &p.m.base);
    hb_pb (&p, RCN_MAX_MEMBERS + 1);
    emit_pb ("hb-bad-65-heads", &p.m.base);
    hb_pb (&p, 3);
    p.heads[0].seq = 0;
    emit_pb ("hb-bad-seq0-hash", &p.m.base);
    hb_pb (&p, 3);
    p.heads[1].fork_seq = 3;
    emit_pb ("hb-bad-fork-above", &p.m.base);
    hb_pb (&p, 3);
    p.heads[1].hash.len = 31;
    emit_pb ("hb-bad-hash-31", &p.m.base);
    uint8_t empties[RCN_HEARTBEAT_MAX];
    for (size_t i = 0; i < sizeof empties; i += 2) {
        empties[i] = 0x22;
        empties[i + 1] = 0;
    }
    emit ("hb-bad-empty-heads-flood", empties, sizeof empties);
    uint8_t over[RCN_HEARTBEAT_MAX + 1];
    memset (over, 0, sizeof over);
    emit ("hb-bad-over-cap", over, sizeof over);

    /* Requests. */
    rcn_pull_request_t req = { .request_id = 1, .from_seq = 1, .max_bytes = RCN_ENTRY_MAX };
    memcpy (req.roster_hash, s_roster, 32);
    memcpy (req.origin, s_b.pk, 32);
    REQUIRE (rcn_pull_request_encode (&req, &w, &len) == RCN_OK);
    emit_mutated ("req", w, len);
    free (w);
    req.from_seq = 0;
    REQUIRE (rcn_pull_request_encode (&req, &w, &len) == RCN_OK);
    emit ("req-bad-from0", w, len);
    free (w);
    req.from_seq = 5;
    req.max_bytes = RCN_PULL_MAX_BYTES + 1;
    REQUIRE (rcn_pull_request_encode (&req, &w, &len) == RCN_OK);
    emit ("req-bad-max-bytes", w, len);
    free (w);
    static const uint8_t req_huge[] = { 0x1a, 0xff, 0xff, 0xff, 0xff, 0x07, 0 };
    emit ("req-bad-origin-2g", req_huge, sizeof req_huge);

    /* Replies, served from a store of b's entries. */
    char *dir;
    rcn_store_t *s = store_new (&dir);
    rcn_entry_t *e[3];
    int res[3];
    chain (&s_b, 1, NULL, 3, 20, e);
    REQUIRE (rcn_store_append (s, e, 3, res) == RCN_OK);
    req.max_bytes = RCN_ENTRY_MAX;
    uint8_t other[32];
    memset (other, 0x34, 32);
    struct { const char *name; uint64_t from; const uint8_t *roster; bool mutate; } rs[] = {
        { "reply-3", 1, s_roster, true }, { "reply-from-3", 3, s_roster, false },
        { "reply-not-held", 4, s_roster, false }, { "reply-roster", 1, other, false },
        { "reply-bad-request", 0, s_roster, false },
    };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        req.from_seq = rs[i].from;
        memcpy (req.roster_hash, rs[i].roster, 32);
        REQUIRE (rcn_pull_serve (s, &req, s_roster, &w, &len) == RCN_OK);
        if (rs[i].mutate)
            emit_mutated (rs[i].name, w, len);
        else
            emit (rs[i].name, w, len);
        free (w);
    }
    store_free (&s, &dir);
    static const uint8_t reply_huge[] = { 0x22, 0x80, 0x80, 0x80, 0x80, 0x08, 0x0a, 0x01, 'R' };
    emit ("reply-bad-entry-2g", reply_huge, sizeof reply_huge);
    static const uint8_t reply_neg[] = { 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0x01 };
    emit ("reply-bad-error-neg", reply_neg, sizeof reply_neg);
    uint8_t empty_entries[4096];
    for (size_t i = 0; i < sizeof empty_entries; i += 2) {
        empty_entries[i] = 0x22;
        empty_entries[i + 1] = 0;
    }
    emit ("reply-bad-empty-entries-flood", empty_entries, sizeof empty_entries);
    entries_free (e, 3);
    emit ("empty", NULL, 0);
    printf ("corpus written to %s\n", root);
    return 0;
}

int
main (int argc, char **argv)
{
    REQUIRE (sodium_init () >= 0);
    if (argc == 3 && strcmp (argv[1], "--corpus") == 0)
        return write_corpus (argv[2]);
    crypto_sign_keypair (s_a.pk, s_a.sk);
    crypto_sign_keypair (s_b.pk, s_b.sk);
    crypto_sign_keypair (s_stranger.pk, s_stranger.sk);
    randombytes_buf (s_roster, 32);
    memcpy (s_other_roster, s_roster, 32);
    s_other_roster[31] ^= 1;
    RUN (test_heartbeat_roundtrip);
    RUN (test_heartbeat_malformed);
    RUN (test_heartbeat_oversized);
    RUN (test_request);
    RUN (test_pull_serve);
    RUN (test_reply_limits);
    RUN (test_reply_malformed);
    RUN (test_chunk_honest);
    RUN (test_chunk_tampered);
    RUN (test_chunk_refused);
    return rcn_test_done ();
}
