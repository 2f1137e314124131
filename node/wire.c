/* wire.c — replication messages to and from the wire (see wire.h).
 *
 * The one design decision: protobuf-c unpacks under an allocator with a budget. The size caps
 * keep the input small, but unpacking allocates a struct per repeated element and per field it
 * scans, so a capped input of empty elements would still cost tens of times its size; the
 * budget (a small multiple of the input, see UNPACK_BUDGET) refuses such input as RCN_ETOOBIG
 * while every honest message fits with room. Fields are checked only after unpacking, against
 * the protobuf struct, and copied into the caller's plain struct only once all are sound. */
#include "rcn/wire.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcn.pb-c.h"

_Static_assert (RCN_HEARTBEAT_WIRE_MAX <= RCN_HEARTBEAT_MAX, "a full heartbeat fits its cap");
_Static_assert (RCN_PULL_MAX_BYTES >= RCN_WIRE_MAX + 4, "one entry of any size fits a chunk");
_Static_assert (RCN_PULL_MAX_BYTES <= UINT32_MAX, "max_bytes is a uint32");
_Static_assert ((int) RCN_PULL_OK == (int) RCN__PULL_REPLY__ERROR__ERROR_NONE
                && (int) RCN_PULL_ROSTER == (int) RCN__PULL_REPLY__ERROR__ERROR_ROSTER
                && (int) RCN_PULL_BAD_REQUEST == (int) RCN__PULL_REPLY__ERROR__ERROR_BAD_REQUEST
                && (int) RCN_PULL_NOT_HELD == (int) RCN__PULL_REPLY__ERROR__ERROR_NOT_HELD,
                "rcn_pull_error_t mirrors PullReply.Error");

/* What protobuf-c may allocate to unpack `len` bytes. Honest messages need far less (measured
 * with protobuf-c 1.4.1): a reply of 1608 smallest entries 1.6 times its size, one of
 * largest entries 1.0, a heartbeat of 64 full heads 2.1; 64 heads that hold nothing, 4.4 times
 * their 2.4 KB, fit within the constant. Two-byte empty elements cost some 40 times. */
#define UNPACK_BUDGET(len) (4 * (size_t) (len) + 65536)

typedef struct {
    size_t left;
    bool exceeded;                  /* refused past the budget */
    bool nomem;                     /* malloc failed within it */
} budget_t;

static void *
budget_alloc (void *data, size_t size)
{
    budget_t *b = data;
    if (size > b->left) {
        b->exceeded = true;
        return NULL;
    }
    b->left -= size;
    void *p = malloc (size ? size : 1);
    b->nomem |= !p;
    return p;
}

static void
budget_free (void *data, void *p)
{
    (void) data;
    free (p);
}

/* Unpacks `len` bytes as message `d`: the size cap first, then protobuf-c under the budget.
 * *msg is freed with wire_free. */
static int
wire_unpack (const ProtobufCMessageDescriptor *d, const uint8_t *wire, size_t len, size_t cap,
             ProtobufCMessage **msg, char *why, size_t whylen)
{
    *msg = NULL;
    if (len > cap) {
        rcn_errf (why, whylen, "%s: %zu bytes, at most %zu", d->short_name, len, cap);
        return RCN_ETOOBIG;
    }
    budget_t b = { UNPACK_BUDGET (len), false, false };
    ProtobufCAllocator a = { budget_alloc, budget_free, &b };
    *msg = protobuf_c_message_unpack (d, &a, len, wire);
    if (*msg)
        return RCN_OK;
    if (b.exceeded) {
        rcn_errf (why, whylen, "%s: %zu bytes that unpack to more than %zu", d->short_name,
                  len, UNPACK_BUDGET (len));
        return RCN_ETOOBIG;
    }
    if (b.nomem) {
        rcn_errf (why, whylen, "%s: out of memory", d->short_name);
        return RCN_ENOMEM;
    }
    rcn_errf (why, whylen, "%s: does not parse", d->short_name);
    return RCN_EINVAL;
}

static void
wire_free (ProtobufCMessage *msg)
{
    ProtobufCAllocator a = { budget_alloc, budget_free, NULL };
    if (msg)
        protobuf_c_message_free_unpacked (msg, &a);
}

/* Packs msg into a new buffer (caller frees). */
static int
wire_pack (const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t n = protobuf_c_message_get_packed_size (msg);
    uint8_t *buf = malloc (n ? n : 1);
    if (!buf)
        return RCN_ENOMEM;
    size_t done = protobuf_c_message_pack (msg, buf);
    assert (done == n);
    *out = buf;
    *len = done;
    return RCN_OK;
}

/* A bytes field that must be exactly 32 bytes (or, when may_be_empty, empty). */
static int
check_32 (const ProtobufCBinaryData *f, bool may_be_empty, const char *name, char *why,
          size_t whylen)
{
    if (f->len == 32 || (may_be_empty && f->len == 0))
        return RCN_OK;
    rcn_errf (why, whylen, "%s: %zu bytes, expected 32", name, f->len);
    return RCN_EINVAL;
}

static ProtobufCBinaryData
bin (const uint8_t *p, size_t len)
{
    return (ProtobufCBinaryData) { len, (uint8_t *) p };
}

/* ---- Heartbeat ----------------------------------------------------------------------------- */

static int
head_cmp (const void *a, const void *b)
{
    return memcmp (((const rcn_head_t *) a)->origin, ((const rcn_head_t *) b)->origin,
                   RCN_KEY_SIZE);
}

static int
heartbeat_check (const Rcn__Heartbeat *m, char *why, size_t whylen)
{
    int rc;
    char name[48];
    if ((rc = check_32 (&m->roster_hash, false, "roster_hash", why, whylen))
    ||  (rc = check_32 (&m->member, false, "member", why, whylen)))
        return rc;
    if (m->n_heads > RCN_MAX_MEMBERS) {
        rcn_errf (why, whylen, "heads: %zu, at most %d", m->n_heads, RCN_MAX_MEMBERS);
        return RCN_EINVAL;
    }
    for (size_t i = 0; i < m->n_heads; i++) {
        const Rcn__Head *h = m->heads[i];
        snprintf (name, sizeof name, "heads[%zu].origin", i);
        if ((rc = check_32 (&h->origin, false, name, why, whylen)))
            return rc;
        if (h->seq == 0 && h->hash.len != 0) {
            rcn_errf (why, whylen, "heads[%zu].hash: %zu bytes, expected none for seq 0", i,
                      h->hash.len);
            return RCN_EINVAL;
        }
        snprintf (name, sizeof name, "heads[%zu].hash", i);
        if (h->seq != 0 && (rc = check_32 (&h->hash, false, name, why, whylen)))
            return rc;
        if (h->fork_seq > h->seq) {
            rcn_errf (why, whylen, "heads[%zu].fork_seq: %llu, above seq %llu", i,
                      (unsigned long long) h->fork_seq, (unsigned long long) h->seq);
            return RCN_EINVAL;
        }
        for (size_t j = 0; j < i; j++)      /* at most 64 heads: quadratic is cheapest */
            if (memcmp (m->heads[j]->origin.data, h->origin.data, RCN_KEY_SIZE) == 0) {
                rcn_errf (why, whylen, "heads[%zu].origin: the same as heads[%zu].origin", i, j);
                return RCN_EINVAL;
            }
    }
    return RCN_OK;
}

int
rcn_heartbeat_decode (const uint8_t *wire, size_t len, rcn_heartbeat_t *out, char *why,
                      size_t whylen)
{
    assert (out && (wire || len == 0));
    memset (out, 0, sizeof *out);
    rcn_errf (why, whylen, "%s", "");
    ProtobufCMessage *pm = NULL;
    int rc = wire_unpack (&rcn__heartbeat__descriptor, wire, len, RCN_HEARTBEAT_MAX, &pm,
                          why, whylen);
    if (rc)
        goto done;
    const Rcn__Heartbeat *m = (const Rcn__Heartbeat *) pm;
    if ((rc = heartbeat_check (m, why, whylen)))
        goto done;
    memcpy (out->roster_hash, m->roster_hash.data, RCN_HASH_SIZE);
    memcpy (out->member, m->member.data, RCN_KEY_SIZE);
    out->time_ms = m->time_ms;
    out->n_heads = m->n_heads;
    for (size_t i = 0; i < m->n_heads; i++) {
        rcn_head_t *h = &out->heads[i];
        memcpy (h->origin, m->heads[i]->origin.data, RCN_KEY_SIZE);
        h->seq = m->heads[i]->seq;
        if (h->seq)
            memcpy (h->hash, m->heads[i]->hash.data, RCN_HASH_SIZE);
        h->fork_seq = m->heads[i]->fork_seq;
    }
    qsort (out->heads, out->n_heads, sizeof out->heads[0], head_cmp);
done:
    wire_free (pm);
    return rc;
}

int
rcn_heartbeat_encode (const rcn_heartbeat_t *hb, uint8_t **out, size_t *len)
{
    assert (hb && out && len);
    assert (hb->n_heads <= RCN_MAX_MEMBERS);
    Rcn__Head heads[RCN_MAX_MEMBERS];
    Rcn__Head *ptrs[RCN_MAX_MEMBERS];
    Rcn__Heartbeat m = RCN__HEARTBEAT__INIT;
    m.roster_hash = bin (hb->roster_hash, RCN_HASH_SIZE);
    m.member = bin (hb->member, RCN_KEY_SIZE);
    m.time_ms = hb->time_ms;
    m.n_heads = hb->n_heads;
    m.heads = ptrs;
    for (size_t i = 0; i < hb->n_heads; i++) {
        const rcn_head_t *h = &hb->heads[i];
        rcn__head__init (&heads[i]);
        heads[i].origin = bin (h->origin, RCN_KEY_SIZE);
        heads[i].seq = h->seq;
        heads[i].hash = bin (h->hash, h->seq ? RCN_HASH_SIZE : 0);
        heads[i].fork_seq = h->fork_seq;
        ptrs[i] = &heads[i];
    }
    return wire_pack (&m.base, out, len);
}

typedef struct {
    rcn_store_t *s;
    rcn_heartbeat_t *hb;
} build_ctx_t;

static int
build_head (const uint8_t origin[RCN_KEY_SIZE], uint64_t seq, const uint8_t hash[RCN_HASH_SIZE],
            void *ctx)
{
    build_ctx_t *c = ctx;
    if (c->hb->n_heads == RCN_MAX_MEMBERS)
        return RCN_ETOOBIG;
    rcn_head_t *h = &c->hb->heads[c->hb->n_heads++];
    memcpy (h->origin, origin, RCN_KEY_SIZE);
    h->seq = seq;
    memcpy (h->hash, hash, RCN_HASH_SIZE);
    return rcn_store_forked (c->s, origin, &h->fork_seq);    /* same snapshot as the heads */
}

int
rcn_heartbeat_build (rcn_store_t *s, const uint8_t roster_hash[RCN_HASH_SIZE],
                     const uint8_t member[RCN_KEY_SIZE], uint64_t now_ms, uint8_t **out,
                     size_t *len)
{
    assert (s && roster_hash && member && out && len);
    *out = NULL;
    *len = 0;
    rcn_heartbeat_t *hb = calloc (1, sizeof *hb);
    if (!hb)
        return RCN_ENOMEM;
    memcpy (hb->roster_hash, roster_hash, RCN_HASH_SIZE);
    memcpy (hb->member, member, RCN_KEY_SIZE);
    hb->time_ms = now_ms;
    build_ctx_t c = { s, hb };
    int rc = rcn_store_heads (s, build_head, &c);
    if (rc == RCN_OK)
        rc = rcn_heartbeat_encode (hb, out, len);
    free (hb);
    return rc;
}

/* ---- PullRequest --------------------------------------------------------------------------- */

static int
request_check_range (uint64_t from_seq, uint32_t max_bytes, char *why, size_t whylen)
{
    if (from_seq == 0) {
        rcn_errf (why, whylen, "from_seq: 0, seqs start at 1");
        return RCN_EINVAL;
    }
    if (max_bytes < RCN_ENTRY_MAX || max_bytes > RCN_PULL_MAX_BYTES) {
        rcn_errf (why, whylen, "max_bytes: %u, outside [%d, %d]", (unsigned) max_bytes,
                  RCN_ENTRY_MAX, RCN_PULL_MAX_BYTES);
        return RCN_EINVAL;
    }
    return RCN_OK;
}

static int
request_check (const Rcn__PullRequest *m, char *why, size_t whylen)
{
    int rc;
    if ((rc = check_32 (&m->roster_hash, false, "roster_hash", why, whylen))
    ||  (rc = check_32 (&m->origin, false, "origin", why, whylen)))
        return rc;
    return request_check_range (m->from_seq, m->max_bytes, why, whylen);
}

static void
request_copy (const Rcn__PullRequest *m, rcn_pull_request_t *out)
{
    out->request_id = m->request_id;
    memcpy (out->roster_hash, m->roster_hash.data, RCN_HASH_SIZE);
    memcpy (out->origin, m->origin.data, RCN_KEY_SIZE);
    out->from_seq = m->from_seq;
    out->max_bytes = m->max_bytes;
}

int
rcn_pull_request_decode (const uint8_t *wire, size_t len, rcn_pull_request_t *out, char *why,
                         size_t whylen)
{
    assert (out && (wire || len == 0));
    memset (out, 0, sizeof *out);
    rcn_errf (why, whylen, "%s", "");
    ProtobufCMessage *pm = NULL;
    int rc = wire_unpack (&rcn__pull_request__descriptor, wire, len, RCN_PULL_REQUEST_MAX, &pm,
                          why, whylen);
    if (rc == RCN_OK && (rc = request_check ((const Rcn__PullRequest *) pm, why, whylen)) == RCN_OK)
        request_copy ((const Rcn__PullRequest *) pm, out);
    wire_free (pm);
    return rc;
}

int
rcn_pull_request_encode (const rcn_pull_request_t *req, uint8_t **out, size_t *len)
{
    assert (req && out && len);
    Rcn__PullRequest m = RCN__PULL_REQUEST__INIT;
    m.request_id = req->request_id;
    m.roster_hash = bin (req->roster_hash, RCN_HASH_SIZE);
    m.origin = bin (req->origin, RCN_KEY_SIZE);
    m.from_seq = req->from_seq;
    m.max_bytes = req->max_bytes;
    return wire_pack (&m.base, out, len);
}

/* ---- PullReply ----------------------------------------------------------------------------- */

static size_t
varint_len (size_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

/* Bytes an entry occupies in a PullReply: its envelope with the field's tag and length. */
static size_t
entry_cost (const rcn_entry_t *e)
{
    size_t env = 1 + varint_len (e->signed_len) + e->signed_len + 1 + 1 + RCN_SIG_SIZE;
    return 1 + varint_len (env) + env;
}

enum { SERVE_FULL = 1 };     /* scan callback: the chunk is full (not an RCN_E… code) */

typedef struct {
    rcn_store_t *s;
    const uint8_t *origin;
    size_t budget, used;
    rcn_entry_t **entries;
    size_t n, cap;
    uint64_t head_seq;
} serve_ctx_t;

static int
serve_one (rcn_entry_t *e, void *ctx)
{
    serve_ctx_t *c = ctx;
    int rc;
    if (c->n == 0 && (rc = rcn_store_head (c->s, c->origin, &c->head_seq, NULL)))
        return rc;                  /* in the scan's snapshot: head_seq covers every entry sent */
    size_t cost = entry_cost (e);
    if (c->n > 0 && (c->used + cost > c->budget || c->n == RCN_PULL_MAX_ENTRIES))
        return SERVE_FULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        rcn_entry_t **grown = realloc (c->entries, cap * sizeof *grown);
        if (!grown)
            return RCN_ENOMEM;
        c->entries = grown;
        c->cap = cap;
    }
    if (!(c->entries[c->n] = rcn_entry_dup (e)))
        return RCN_ENOMEM;
    c->n++;
    c->used += cost;
    return RCN_OK;
}

int
rcn_pull_serve (rcn_store_t *s, const rcn_pull_request_t *req,
                const uint8_t roster_hash[RCN_HASH_SIZE], uint8_t **out, size_t *len)
{
    assert (s && req && roster_hash && out && len);
    *out = NULL;
    *len = 0;
    serve_ctx_t c = { .s = s, .origin = req->origin, .budget = req->max_bytes };
    Rcn__Entry *msgs = NULL;
    Rcn__Entry **ptrs = NULL;
    int rc = RCN_OK;
    Rcn__PullReply m = RCN__PULL_REPLY__INIT;
    m.request_id = req->request_id;
    m.origin = bin (req->origin, RCN_KEY_SIZE);

    if (request_check_range (req->from_seq, req->max_bytes, NULL, 0) != RCN_OK) {
        m.error = RCN__PULL_REPLY__ERROR__ERROR_BAD_REQUEST;
        goto pack;
    }
    if (memcmp (req->roster_hash, roster_hash, RCN_HASH_SIZE) != 0) {
        m.error = RCN__PULL_REPLY__ERROR__ERROR_ROSTER;
        goto pack;
    }
    rc = rcn_store_scan (s, req->origin, req->from_seq, serve_one, &c);
    if (rc != RCN_OK && rc != SERVE_FULL)
        goto done;
    if (c.n == 0) {
        if ((rc = rcn_store_head (s, req->origin, &c.head_seq, NULL)))
            goto done;
        m.error = RCN__PULL_REPLY__ERROR__ERROR_NOT_HELD;
        m.head_seq = c.head_seq;
        goto pack;
    }
    msgs = calloc (c.n, sizeof *msgs);
    ptrs = calloc (c.n, sizeof *ptrs);
    if (!msgs || !ptrs) {
        rc = RCN_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < c.n; i++) {
        rcn__entry__init (&msgs[i]);
        msgs[i].signed_ = bin (c.entries[i]->signed_bytes, c.entries[i]->signed_len);
        msgs[i].sig = bin (c.entries[i]->sig, RCN_SIG_SIZE);
        ptrs[i] = &msgs[i];
    }
    m.n_entries = c.n;
    m.entries = ptrs;
    m.head_seq = c.head_seq;
pack:
    rc = wire_pack (&m.base, out, len);
    assert (rc != RCN_OK || *len <= RCN_PULL_REPLY_MAX);
done:
    for (size_t i = 0; i < c.n; i++)
        rcn_entry_destroy (&c.entries[i]);
    free (c.entries);
    free (msgs);
    free (ptrs);
    return rc;
}

int
rcn_pull_answer (rcn_store_t *s, const uint8_t roster_hash[RCN_HASH_SIZE], const uint8_t *wire,
                 size_t len, uint8_t **out, size_t *outlen, char *why, size_t whylen)
{
    assert (s && roster_hash && out && outlen && (wire || len == 0));
    *out = NULL;
    *outlen = 0;
    rcn_errf (why, whylen, "%s", "");
    rcn_pull_request_t req = { 0 };
    ProtobufCMessage *pm = NULL;
    int rc = wire_unpack (&rcn__pull_request__descriptor, wire, len, RCN_PULL_REQUEST_MAX, &pm,
                          why, whylen);
    if (rc)
        goto done;
    const Rcn__PullRequest *m = (const Rcn__PullRequest *) pm;
    if (request_check (m, why, whylen) == RCN_OK)
        request_copy (m, &req);
    else {
        /* It unpacked, so there is a request_id to answer: the reply says "bad request", the
         * caller's log (`why`) says which field. from_seq 0 makes rcn_pull_serve say it. */
        req.request_id = m->request_id;
        if (m->origin.len == RCN_KEY_SIZE)
            memcpy (req.origin, m->origin.data, RCN_KEY_SIZE);
    }
    rc = rcn_pull_serve (s, &req, roster_hash, out, outlen);
done:
    wire_free (pm);
    return rc;
}

static int
reply_check (const Rcn__PullReply *m, char *why, size_t whylen)
{
    int rc;
    int err = (int) m->error;
    if (err < RCN_PULL_OK || err > RCN_PULL_NOT_HELD) {
        rcn_errf (why, whylen, "error: %d, not a known value", err);
        return RCN_EINVAL;
    }
    if ((rc = check_32 (&m->origin, err != RCN_PULL_OK, "origin", why, whylen)))
        return rc;
    if (err != RCN_PULL_OK) {
        if (m->n_entries) {
            rcn_errf (why, whylen, "entries: %zu, expected none with error %d", m->n_entries, err);
            return RCN_EINVAL;
        }
        return RCN_OK;
    }
    if (m->n_entries == 0) {
        rcn_errf (why, whylen, "entries: none, expected at least one without an error");
        return RCN_EINVAL;
    }
    if (m->n_entries > RCN_PULL_MAX_ENTRIES) {
        rcn_errf (why, whylen, "entries: %zu, at most %d", m->n_entries, RCN_PULL_MAX_ENTRIES);
        return RCN_EINVAL;
    }
    if (m->head_seq < m->n_entries) {
        rcn_errf (why, whylen, "head_seq: %llu, below the %zu entries sent",
                  (unsigned long long) m->head_seq, m->n_entries);
        return RCN_EINVAL;
    }
    return RCN_OK;
}

int
rcn_pull_reply_decode (const uint8_t *wire, size_t len, rcn_pull_reply_t **out, char *why,
                       size_t whylen)
{
    assert (out && (wire || len == 0));
    *out = NULL;
    rcn_errf (why, whylen, "%s", "");
    ProtobufCMessage *pm = NULL;
    int rc = wire_unpack (&rcn__pull_reply__descriptor, wire, len, RCN_PULL_REPLY_MAX, &pm,
                          why, whylen);
    if (rc)
        goto done;
    const Rcn__PullReply *m = (const Rcn__PullReply *) pm;
    if ((rc = reply_check (m, why, whylen)))
        goto done;

    /* One block: the struct, the pointer and length arrays, then the envelopes. Each is
     * packed again from the unpacked Entry: the envelope is not signed, the bytes inside are
     * copied as they came. */
    size_t n = m->n_entries, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += rcn__entry__get_packed_size (m->entries[i]);   /* at most len */
    size_t head = sizeof (rcn_pull_reply_t) + n * (sizeof (uint8_t *) + sizeof (size_t));
    uint8_t *block = calloc (1, head + bytes);
    if (!block) {
        rc = RCN_ENOMEM;
        goto done;
    }
    rcn_pull_reply_t *r = (rcn_pull_reply_t *) block;
    const uint8_t **entry = (const uint8_t **) (block + sizeof *r);
    size_t *entry_len = (size_t *) (entry + n);
    uint8_t *p = block + head;
    r->request_id = m->request_id;
    r->error = (rcn_pull_error_t) m->error;
    if (m->origin.len == RCN_KEY_SIZE)
        memcpy (r->origin, m->origin.data, RCN_KEY_SIZE);
    r->head_seq = m->head_seq;
    r->n_entries = n;
    r->entries = entry;
    r->entry_lens = entry_len;
    for (size_t i = 0; i < n; i++) {
        entry[i] = p;
        entry_len[i] = rcn__entry__pack (m->entries[i], p);
        p += entry_len[i];
    }
    assert (p == block + head + bytes);
    *out = r;
done:
    wire_free (pm);
    return rc;
}

void
rcn_pull_reply_destroy (rcn_pull_reply_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}
