/* storetest.h — what the store tests (test_store.c, test_invariants.c) share: signing authors
 * with deterministic keys, a roster of them, a counting test kind with its view, and the small
 * store helpers that CHECK as they go. Each helper CHECKs or REQUIREs exactly what the test
 * bodies did before they were folded here, so the tests' check counts are unchanged. */
#ifndef RCN_STORETEST_H
#define RCN_STORETEST_H

#include "rcn/store.h"

#include "testutil.h"

#define TEST_KIND 1000

/* An author's key pair and the head of its chain (seq 0 and a zero hash before its first). */
typedef struct {
    uint8_t pk[RCN_KEY_SIZE], sk[RCN_SECRET_SIZE];
    uint64_t seq;
    uint8_t head[RCN_HASH_SIZE];
} author_t;

/* Members: the authors made with author_init (..., true); with ctx, only the key ctx
 * points to. */
bool is_member (const uint8_t origin[RCN_KEY_SIZE], void *ctx);

/* Keys from a seed of 32 `tag` bytes; a member joins the roster (at most 8 members). */
void author_init (author_t *a, uint8_t tag, bool member);

/* Signs an entry at an explicit seq and prev (for forks); does not move the author.
 * NULL on failure (no CHECK here). Time-stamped a fixed base + seq. */
rcn_entry_t *author_sign_at (const author_t *a, uint64_t seq, const uint8_t *prev,
                             uint32_t kind, const void *body, size_t len);

/* The author's next entry; NULL on failure (no CHECK here: writer threads and forked
 * children use it). */
rcn_entry_t *author_sign (author_t *a, uint32_t kind, const void *body, size_t len);

/* author_sign that REQUIREs the entry. */
rcn_entry_t *author_next (author_t *a, uint32_t kind, const void *body, size_t len);

/* author_next of the test kind with a text body. */
rcn_entry_t *author_text (author_t *a, const char *text);

/* The test kind: counts applied entries per origin (host-order u64 under the origin, in its
 * one view database). Bodies beginning "malformed" or "reject" are refused as the real kinds
 * refuse bad bodies. With g_fail_at > 0, the g_fail_at-th apply (counted in g_apply_calls)
 * fails hard with RCN_EIO. */
extern const rcn_kind_t g_test_kind;
extern const rcn_kind_t *const g_kinds[];     /* { &g_test_kind, NULL } */
extern int g_apply_calls, g_fail_at;

/* Opens (creating) a writable store with the roster and the test kind; REQUIREs it.
 * map_size 0: the default. */
rcn_store_t *open_store (const char *dir, size_t map_size);
/* The same with the other options of o (is_member and kinds are set here). */
rcn_store_t *open_store_with (const char *dir, rcn_store_opts_t o);

/* Destroys the store, removes its directory and frees the path. */
void close_and_remove (rcn_store_t **s, char *dir);

/* Appends one entry and returns its per-entry result (the call itself is CHECKed). */
int append1 (rcn_store_t *s, rcn_entry_t *e);

void free_entries (rcn_entry_t **es, size_t n);

/* The origin's head seq, the store's counts (each call CHECKed). */
uint64_t head_of (rcn_store_t *s, const uint8_t *origin);
rcn_store_stats_t stats_of (rcn_store_t *s);

/* The test kind's count for an origin: count_fn read with a count_ctx_t. */
typedef struct {
    const uint8_t *origin;
    uint64_t n;
} count_ctx_t;

int count_fn (const rcn_view_t *v, void *ctx);
uint64_t view_count (rcn_store_t *s, const uint8_t *origin);

#endif
