/* store_tail.c — the newest entries' hashes, kept in memory until the store merges them into
 * `hashes` in sorted batches (store_impl.h, "The hash tail"; store.c, tail_merge).
 *
 * The one decision: an entry's hash row is not written with the entry. `hashes` is keyed by
 * hash, so a group of 1024 new entries landed on about 1000 distinct 4 KiB pages of it, each
 * copied and synced: about 4.4 KB written per entry, most of what a catch-up or a single core's
 * ingest spent besides signatures. Here the hash of each entry above its origin's mark
 * (`hashes.mark`) lives in a table in memory; TAIL_MERGE_AT of them are merged at once, which
 * dirties each page of `hashes` at most once per merge. The table is rebuilt from the entries
 * above the marks whenever a writer opens the store, and a readonly store (another process's)
 * adds what the writer has committed when a lookup misses, so every process finds every entry
 * of its snapshot by hash.
 *
 * Items are kept in insertion order (`items`), indexed by an open-addressing table of item
 * numbers; a write transaction that fails takes its own items back, newest first, which linear
 * probing allows without tombstones (a later item never lies on an earlier one's probe path).
 * Everything here runs under the store's tail_lock. */
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

static size_t
home (const uint8_t *hash, size_t mask)
{
    uint64_t h;
    memcpy (&h, hash, sizeof h);         /* a BLAKE2b output: its bytes are already uniform */
    return (size_t) h & mask;
}

/* The table slot of item i (which must be in the table). */
static size_t
slot_of (const store_tail_t *t, uint32_t i)
{
    size_t mask = t->cap - 1, at = home (t->items[i].hash, mask);
    while (t->table[at] != i + 1)
        at = (at + 1) & mask;
    return at;
}

static int
rehash (store_tail_t *t, size_t cap)
{
    uint32_t *table = calloc (cap, sizeof *table);
    if (!table)
        return RCN_ENOMEM;
    size_t mask = cap - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t at = home (t->items[i].hash, mask);
        while (table[at])
            at = (at + 1) & mask;
        table[at] = (uint32_t) i + 1;
    }
    free (t->table);
    t->table = table;
    t->cap = cap;
    return RCN_OK;
}

static store_tail_origin_t *
origin_find (store_tail_t *t, const uint8_t *origin)
{
    for (size_t i = 0; i < t->norigins; i++)
        if (memcmp (t->origins[i].origin, origin, RCN_KEY_SIZE) == 0)
            return &t->origins[i];
    return NULL;
}

int
store_tail_add (store_tail_t *t, const uint8_t hash[RCN_HASH_SIZE], const uint8_t key[KEY_SIZE])
{
    if (t->n == t->items_cap) {
        size_t cap = t->items_cap ? t->items_cap * 2 : 1024;
        store_tail_item_t *items = realloc (t->items, cap * sizeof *items);
        if (!items)
            return RCN_ENOMEM;
        t->items = items;
        t->items_cap = cap;
    }
    if ((t->n + 1) * 2 > t->cap) {
        int rc = rehash (t, t->cap ? t->cap * 2 : 2048);
        if (rc)
            return rc;
    }
    store_tail_item_t *it = &t->items[t->n];
    memcpy (it->hash, hash, RCN_HASH_SIZE);
    memcpy (it->key, key, KEY_SIZE);
    size_t mask = t->cap - 1, at = home (hash, mask);
    while (t->table[at])
        at = (at + 1) & mask;
    t->table[at] = (uint32_t) ++t->n;
    return RCN_OK;
}

const uint8_t *
store_tail_find (const store_tail_t *t, const uint8_t hash[RCN_HASH_SIZE])
{
    if (!t->n)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t at = home (hash, mask); t->table[at]; at = (at + 1) & mask) {
        const store_tail_item_t *it = &t->items[t->table[at] - 1];
        if (memcmp (it->hash, hash, RCN_HASH_SIZE) == 0)
            return it->key;
    }
    return NULL;
}

uint64_t
store_tail_scanned (const store_tail_t *t, const uint8_t origin[RCN_KEY_SIZE])
{
    for (size_t i = 0; i < t->norigins; i++)
        if (memcmp (t->origins[i].origin, origin, RCN_KEY_SIZE) == 0)
            return t->origins[i].scanned;
    return 0;
}

int
store_tail_set_scanned (store_tail_t *t, const uint8_t origin[RCN_KEY_SIZE], uint64_t seq)
{
    store_tail_origin_t *o = origin_find (t, origin);
    if (!o) {
        store_tail_origin_t *more = realloc (t->origins, (t->norigins + 1) * sizeof *more);
        if (!more)
            return RCN_ENOMEM;
        t->origins = more;
        o = &t->origins[t->norigins++];
        memcpy (o->origin, origin, RCN_KEY_SIZE);
    }
    o->scanned = seq;
    return RCN_OK;
}

int
store_tail_begin (store_tail_t *t)
{
    t->begin_n = t->n;
    t->begin_norigins = t->norigins;
    if (t->norigins > t->saved_cap) {
        store_tail_origin_t *s = realloc (t->saved, t->norigins * sizeof *s);
        if (!s)
            return RCN_ENOMEM;
        t->saved = s;
        t->saved_cap = t->norigins;
    }
    if (t->norigins)
        memcpy (t->saved, t->origins, t->norigins * sizeof *t->saved);
    return RCN_OK;
}

void
store_tail_rollback (store_tail_t *t)
{
    while (t->n > t->begin_n) {
        uint32_t i = (uint32_t) t->n - 1;
        t->table[slot_of (t, i)] = 0;
        t->n--;
    }
    t->norigins = t->begin_norigins;
    if (t->norigins)
        memcpy (t->origins, t->saved, t->norigins * sizeof *t->origins);
}

static int
by_hash (const void *a, const void *b, void *ctx)
{
    const store_tail_item_t *items = ctx;
    return memcmp (items[*(const uint32_t *) a].hash, items[*(const uint32_t *) b].hash,
                   RCN_HASH_SIZE);
}

uint32_t *
store_tail_sorted (const store_tail_t *t)
{
    uint32_t *order = malloc ((t->n ? t->n : 1) * sizeof *order);
    if (!order)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        order[i] = (uint32_t) i;
    qsort_r (order, t->n, sizeof *order, by_hash, t->items);
    return order;
}

void
store_tail_clear (store_tail_t *t)
{
    t->n = 0;
    if (t->table)
        memset (t->table, 0, t->cap * sizeof *t->table);
    /* Give the memory of a large tail back; a small one is kept for the next. */
    if (t->items_cap > 4 * 1024) {
        free (t->items);
        free (t->table);
        t->items = NULL;
        t->table = NULL;
        t->items_cap = t->cap = 0;
    }
}

void
store_tail_free (store_tail_t *t)
{
    free (t->items);
    free (t->table);
    free (t->origins);
    free (t->saved);
    memset (t, 0, sizeof *t);
}
