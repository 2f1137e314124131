/* seal.c — sealing key pairs in the key dir, and sealing/opening personal details (seal.h).
 *
 * Secrets, content keys and opened details live only in sodium_malloc memory (guard pages,
 * mlock, wiped on free). A key file is 64 bytes, secret | public, mode 0600, named after the
 * start of its period: seal-<from_ms, 20 digits>.key. A period runs until the next pair's
 * start; pairs are made on one grid (the next starts one period after the current), and a
 * pair is destroyed (zeros written and synced, then unlinked) once its period's end plus the
 * retention time has passed. A file of 64 zero bytes is what a crash between those two steps
 * leaves: it is no key, and is skipped (and removed by a node). */
#include "rcn/seal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "rcn/clock.h"
#include "rcn/fileio.h"

#define PAIRS_MAX 512                              /* 1-day periods, 1 year kept */
#define PAIR_SIZE (2 * RCN_SEAL_KEY_SIZE)          /* secret | public */
#define CONTENT_KEY crypto_secretbox_KEYBYTES
#define WRAPPED_SIZE (CONTENT_KEY + crypto_box_SEALBYTES)
#define WRAPS_MAX 64

typedef struct {
    uint64_t from_ms;
    uint8_t *pair;                                 /* sodium_malloc: secret | public */
} pair_t;

struct rcn_seal {
    pair_t pairs[PAIRS_MAX];                       /* sorted by from_ms */
    size_t n;
};

void
rcn_seal_destroy (rcn_seal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_seal_t *s = *self_p;
    for (size_t i = 0; i < s->n; i++)
        sodium_free (s->pairs[i].pair);
    free (s);
    *self_p = NULL;
}

static void
insert (rcn_seal_t *s, uint64_t from_ms, uint8_t *pair)
{
    size_t at = s->n;
    while (at > 0 && s->pairs[at - 1].from_ms > from_ms) {
        s->pairs[at] = s->pairs[at - 1];
        at--;
    }
    s->pairs[at] = (pair_t) { from_ms, pair };
    s->n++;
}

/* Reads keys_dir/name (64 bytes, private) into a new guarded pair. */
static int
read_pair (int dirfd, const char *dir, const char *name, uint8_t **out, char *why, size_t whylen)
{
    int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0) {
        rcn_errf (why, whylen, "%s/%s: %s", dir, name, strerror (errno));
        if (fd >= 0)
            close (fd);
        return RCN_EIO;
    }
    if (!S_ISREG (st.st_mode) || (st.st_mode & 077) || st.st_size != PAIR_SIZE) {
        rcn_errf (why, whylen, "%s/%s: %s", dir, name, !S_ISREG (st.st_mode) ? "not a file"
                  : st.st_size != PAIR_SIZE ? "not a sealing key (64 bytes)"
                  : "readable by others: keys must be private (chmod 600)");
        close (fd);
        return (st.st_mode & 077) && S_ISREG (st.st_mode) ? RCN_EPERM : RCN_EINVAL;
    }
    uint8_t *pair = sodium_malloc (PAIR_SIZE);
    if (!pair) {
        close (fd);
        return RCN_ENOMEM;
    }
    size_t got = 0;
    while (got < PAIR_SIZE) {
        ssize_t r = read (fd, pair + got, PAIR_SIZE - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t) r;
    }
    close (fd);
    if (got == PAIR_SIZE && sodium_is_zero (pair, PAIR_SIZE)) {
        sodium_free (pair);
        return RCN_ENOTFOUND;                      /* destroyed, not yet unlinked */
    }
    uint8_t pk[RCN_SEAL_KEY_SIZE];
    if (got != PAIR_SIZE || crypto_scalarmult_base (pk, pair) != 0
        || sodium_memcmp (pk, pair + RCN_SEAL_KEY_SIZE, RCN_SEAL_KEY_SIZE) != 0) {
        rcn_errf (why, whylen, "%s/%s: its public half does not match its secret", dir, name);
        sodium_free (pair);
        return RCN_EINVAL;
    }
    *out = pair;
    return RCN_OK;
}

/* Makes a new pair for the period from from_ms, written 0600 and fsynced with its dir. */
static int
create_pair (rcn_seal_t *s, int dirfd, const char *dir, uint64_t from_ms, char *why, size_t whylen)
{
    char name[64];
    snprintf (name, sizeof name, "seal-%020" PRIu64 ".key", from_ms);
    uint8_t *pair = sodium_malloc (PAIR_SIZE);
    if (!pair)
        return RCN_ENOMEM;
    crypto_box_keypair (pair + RCN_SEAL_KEY_SIZE, pair);
    int fd = openat (dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod (fd, 0600) != 0 || rcn_write_all (fd, pair, PAIR_SIZE) != 0
        || fsync (fd) != 0 || close (fd) != 0 || fsync (dirfd) != 0) {
        rcn_errf (why, whylen, "%s/%s: %s", dir, name, strerror (errno));
        if (fd >= 0) {
            close (fd);
            unlinkat (dirfd, name, 0);
        }
        sodium_free (pair);
        return RCN_EIO;
    }
    insert (s, from_ms, pair);
    return RCN_OK;
}

int
rcn_seal_load (const char *keys_dir, bool create, uint64_t now_ms, rcn_seal_t **out,
               char *why, size_t whylen)
{
    assert (keys_dir && out);
    *out = NULL;
    if (sodium_init () < 0) {
        rcn_errf (why, whylen, "libsodium failed to initialise");
        return RCN_EIO;
    }
    rcn_seal_t *s = calloc (1, sizeof *s);
    if (!s)
        return RCN_ENOMEM;
    int rc = RCN_OK;
    int dirfd = open (keys_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dirfd >= 0 ? fdopendir (dup (dirfd)) : NULL;
    if (!d) {
        rcn_errf (why, whylen, "%s: %s", keys_dir, strerror (errno));
        rc = RCN_EIO;
        goto done;
    }
    struct dirent *de;
    while (rc == RCN_OK && (de = readdir (d)) != NULL) {
        unsigned long long from;
        char tail[8];
        if (sscanf (de->d_name, "seal-%20llu.%7s", &from, tail) != 2 || strcmp (tail, "key") != 0
            || strlen (de->d_name) != 29)
            continue;
        if (s->n == PAIRS_MAX) {
            rcn_errf (why, whylen, "%s: more than %d sealing keys", keys_dir, PAIRS_MAX);
            rc = RCN_EINVAL;
            break;
        }
        uint8_t *pair = NULL;
        if ((rc = read_pair (dirfd, keys_dir, de->d_name, &pair, why, whylen)) == RCN_OK)
            insert (s, (uint64_t) from, pair);
        else if (rc == RCN_ENOTFOUND) {            /* a destroyed key's zeroed remnant */
            rc = RCN_OK;
            if (create && unlinkat (dirfd, de->d_name, 0) == 0 && fsync (dirfd) != 0)
                rc = RCN_EIO;
        }
    }
    closedir (d);
    if (rc == RCN_OK && s->n == 0 && create)
        rc = create_pair (s, dirfd, keys_dir, now_ms, why, whylen);
done:
    if (dirfd >= 0)
        close (dirfd);
    if (rc != RCN_OK) {
        rcn_seal_destroy (&s);
        return rc;
    }
    *out = s;
    return RCN_OK;
}

int
rcn_seal_current (const rcn_seal_t *s, uint64_t now_ms, uint8_t pk[RCN_SEAL_KEY_SIZE],
                  uint64_t *from_ms)
{
    assert (s && pk);
    for (size_t i = s->n; i > 0; i--)
        if (s->pairs[i - 1].from_ms <= now_ms) {
            memcpy (pk, s->pairs[i - 1].pair + RCN_SEAL_KEY_SIZE, RCN_SEAL_KEY_SIZE);
            if (from_ms)
                *from_ms = s->pairs[i - 1].from_ms;
            return RCN_OK;
        }
    return RCN_ENOTFOUND;
}

static const uint8_t *
pair_for (const rcn_seal_t *s, const uint8_t pk[RCN_SEAL_KEY_SIZE])
{
    for (size_t i = 0; s && i < s->n; i++)
        if (memcmp (s->pairs[i].pair + RCN_SEAL_KEY_SIZE, pk, RCN_SEAL_KEY_SIZE) == 0)
            return s->pairs[i].pair;
    return NULL;
}

bool
rcn_seal_owns (const rcn_seal_t *s, const uint8_t pk[RCN_SEAL_KEY_SIZE])
{
    return pair_for (s, pk) != NULL;
}

/* ---- periods: rotation and retention -------------------------------------------------------- */

size_t
rcn_seal_count (const rcn_seal_t *s)
{
    return s ? s->n : 0;
}

void
rcn_seal_period (const rcn_seal_t *s, size_t i, rcn_seal_period_t *out)
{
    assert (s && i < s->n && out);
    out->from_ms = s->pairs[i].from_ms;
    out->until_ms = i + 1 < s->n ? s->pairs[i + 1].from_ms : UINT64_MAX;
    memcpy (out->pk, s->pairs[i].pair + RCN_SEAL_KEY_SIZE, RCN_SEAL_KEY_SIZE);
}

int
rcn_seal_at (const rcn_seal_t *s, uint64_t from_ms, uint8_t pk[RCN_SEAL_KEY_SIZE])
{
    assert (s && pk);
    for (size_t i = 0; i < s->n; i++)
        if (s->pairs[i].from_ms == from_ms) {
            memcpy (pk, s->pairs[i].pair + RCN_SEAL_KEY_SIZE, RCN_SEAL_KEY_SIZE);
            return RCN_OK;
        }
    return RCN_ENOTFOUND;
}

/* Index of the newest pair with from_ms <= at, or -1. */
static long
covering (const rcn_seal_t *s, uint64_t at)
{
    for (size_t i = s->n; i > 0; i--)
        if (s->pairs[i - 1].from_ms <= at)
            return (long) i - 1;
    return -1;
}

int
rcn_seal_ensure (rcn_seal_t *s, const char *keys_dir, uint64_t now_ms, uint64_t period_ms,
                 size_t *created, char *why, size_t whylen)
{
    assert (s && keys_dir && period_ms > 0);
    if (created)
        *created = 0;
    long c = covering (s, now_ms);
    bool have_cur = c >= 0 && s->pairs[c].from_ms + period_ms > now_ms;
    bool have_next = s->n > 0 && s->pairs[s->n - 1].from_ms > now_ms;
    if (have_cur && have_next)
        return RCN_OK;                             /* the usual case: nothing to do */
    uint64_t cur;
    if (have_cur)
        cur = s->pairs[c].from_ms;
    else if (s->n == 0)
        cur = now_ms;                              /* the first key: the grid starts here */
    else {                                         /* the newest pair's grid, at now */
        uint64_t a = s->pairs[s->n - 1].from_ms;
        cur = a <= now_ms ? a + (now_ms - a) / period_ms * period_ms
                          : a - ((a - now_ms + period_ms - 1) / period_ms) * period_ms;
    }
    uint64_t next = cur + period_ms;
    uint8_t pk[RCN_SEAL_KEY_SIZE];
    size_t need = (have_cur ? 0 : 1) + (rcn_seal_at (s, next, pk) == RCN_OK ? 0 : 1);
    if (s->n + need > PAIRS_MAX) {
        rcn_errf (why, whylen, "%s: more than %d sealing keys (is retention running?)", keys_dir,
                  PAIRS_MAX);
        return RCN_ETOOBIG;
    }
    int dirfd = open (keys_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0) {
        rcn_errf (why, whylen, "%s: %s", keys_dir, strerror (errno));
        return RCN_EIO;
    }
    int rc = RCN_OK;
    if (!have_cur && rcn_seal_at (s, cur, pk) != RCN_OK
        && (rc = create_pair (s, dirfd, keys_dir, cur, why, whylen)) == RCN_OK && created)
        (*created)++;
    if (rc == RCN_OK && rcn_seal_at (s, next, pk) != RCN_OK
        && (rc = create_pair (s, dirfd, keys_dir, next, why, whylen)) == RCN_OK && created)
        (*created)++;
    close (dirfd);
    return rc;
}

/* Overwrites keys_dir/name with zeros and syncs, then unlinks it and syncs the dir. */
static int
shred (int dirfd, const char *dir, const char *name, char *why, size_t whylen)
{
    static const uint8_t zeros[PAIR_SIZE];
    int fd = openat (dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return RCN_OK;                             /* gone already */
    if (fd < 0 || rcn_write_all (fd, zeros, sizeof zeros) != 0 || fsync (fd) != 0) {
        rcn_errf (why, whylen, "%s/%s: %s", dir, name, strerror (errno));
        if (fd >= 0)
            close (fd);
        return RCN_EIO;
    }
    if (close (fd) != 0 || unlinkat (dirfd, name, 0) != 0 || fsync (dirfd) != 0) {
        rcn_errf (why, whylen, "%s/%s: %s", dir, name, strerror (errno));
        return RCN_EIO;
    }
    return RCN_OK;
}

int
rcn_seal_retire (rcn_seal_t *s, const char *keys_dir, uint64_t at_ms, uint64_t retention_ms,
                 rcn_seal_period_t *gone, size_t max, size_t *n_gone, char *why, size_t whylen)
{
    assert (s && keys_dir && n_gone && (gone || max == 0));
    *n_gone = 0;
    int dirfd = -1, rc = RCN_OK;
    /* Pairs are sorted, so ends and expiries rise: the expired ones are a prefix. */
    while (s->n > 1) {
        rcn_seal_period_t p;
        rcn_seal_period (s, 0, &p);
        if (p.until_ms > UINT64_MAX - retention_ms || p.until_ms + retention_ms > at_ms)
            break;
        if (dirfd < 0 && (dirfd = open (keys_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                        | O_CLOEXEC)) < 0) {
            rcn_errf (why, whylen, "%s: %s", keys_dir, strerror (errno));
            return RCN_EIO;
        }
        char name[64];
        snprintf (name, sizeof name, "seal-%020" PRIu64 ".key", p.from_ms);
        if ((rc = shred (dirfd, keys_dir, name, why, whylen)) != RCN_OK)
            break;
        sodium_free (s->pairs[0].pair);            /* wipes the secret in memory too */
        memmove (s->pairs, s->pairs + 1, (s->n - 1) * sizeof *s->pairs);
        s->n--;
        if (*n_gone < max)
            gone[*n_gone] = p;
        (*n_gone)++;
    }
    if (dirfd >= 0)
        close (dirfd);
    return rc;
}

static json_t *
period_json (const rcn_seal_period_t *p, uint64_t retention_ms)
{
    char from[40], until[40] = "", expires[40] = "";
    rcn_time_format (p->from_ms, from, sizeof from);
    json_t *o = json_pack ("{s:s, s:I}", "from", from, "from_ms", (json_int_t) p->from_ms);
    if (p->until_ms != UINT64_MAX) {
        rcn_time_format (p->until_ms, until, sizeof until);
        rcn_time_format (p->until_ms + retention_ms, expires, sizeof expires);
        json_object_set_new (o, "until", json_string (until));
        json_object_set_new (o, "until_ms", json_integer ((json_int_t) p->until_ms));
        json_object_set_new (o, "expires", json_string (expires));
        json_object_set_new (o, "expires_ms", json_integer ((json_int_t) (p->until_ms + retention_ms)));
    } else
        json_object_set_new (o, "newest", json_true ());
    return o;
}

int
rcn_seal_retention_run (rcn_seal_t *s, const char *keys_dir, uint64_t at_ms,
                        int64_t retention_days, json_t **report, char *why, size_t whylen)
{
    assert (s && keys_dir && report && retention_days > 0);
    *report = NULL;
    uint64_t retention_ms = (uint64_t) retention_days * RCN_SEAL_DAY_MS;
    rcn_seal_period_t gone[PAIRS_MAX];
    size_t n_gone = 0;
    int rc = rcn_seal_retire (s, keys_dir, at_ms, retention_ms, gone, PAIRS_MAX, &n_gone, why,
                              whylen);
    char at[40];
    rcn_time_format (at_ms, at, sizeof at);
    json_t *o = json_pack ("{s:s, s:I, s:I, s:[], s:[]}", "at", at, "at_ms", (json_int_t) at_ms,
                           "retention_days", (json_int_t) retention_days, "destroyed", "kept");
    if (!o)
        return RCN_ENOMEM;
    for (size_t i = 0; i < n_gone && i < PAIRS_MAX; i++)
        json_array_append_new (json_object_get (o, "destroyed"), period_json (&gone[i], retention_ms));
    for (size_t i = 0; i < s->n; i++) {
        rcn_seal_period_t p;
        rcn_seal_period (s, i, &p);
        json_array_append_new (json_object_get (o, "kept"), period_json (&p, retention_ms));
        if (i == 0)
            json_object_set_new (o, "next", p.until_ms != UINT64_MAX
                                 ? period_json (&p, retention_ms) : json_null ());
    }
    if (s->n == 0)
        json_object_set_new (o, "next", json_null ());
    *report = o;
    return rc;
}

/* ---- protobuf pieces ------------------------------------------------------------------------ */

static int
bin_dup (ProtobufCBinaryData *b, const uint8_t *data, size_t len)
{
    b->data = malloc (len ? len : 1);
    if (!b->data)
        return RCN_ENOMEM;
    memcpy (b->data, data, len);
    b->len = len;
    return RCN_OK;
}

static void
wrap_free (Rcn__Wrap *w)
{
    if (!w)
        return;
    free (w->member.data);
    free (w->seal_key.data);
    free (w->wrapped.data);
    free (w);
}

void
rcn_seal_wraps_free (Rcn__Wrap **wraps, size_t n)
{
    for (size_t i = 0; wraps && i < n; i++)
        wrap_free (wraps[i]);
    free (wraps);
}

void
rcn_seal_free (Rcn__Sealed *sealed)
{
    if (!sealed)
        return;
    free (sealed->nonce.data);
    free (sealed->ciphertext.data);
    rcn_seal_wraps_free (sealed->wraps, sealed->n_wraps);
    free (sealed);
}

/* Wraps content key ck for each reader into a new array. */
static int
wrap_all (const uint8_t *ck, const rcn_seal_reader_t *readers, size_t n, Rcn__Wrap ***out)
{
    Rcn__Wrap **w = calloc (n ? n : 1, sizeof *w);
    if (!w)
        return RCN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint8_t wrapped[WRAPPED_SIZE];
        if (!(w[i] = malloc (sizeof *w[i]))) {
            rcn_seal_wraps_free (w, i);
            return RCN_ENOMEM;
        }
        rcn__wrap__init (w[i]);
        if (crypto_box_seal (wrapped, ck, CONTENT_KEY, readers[i].seal_pk) != 0
            || bin_dup (&w[i]->member, readers[i].member, RCN_KEY_SIZE) != RCN_OK
            || bin_dup (&w[i]->seal_key, readers[i].seal_pk, RCN_SEAL_KEY_SIZE) != RCN_OK
            || bin_dup (&w[i]->wrapped, wrapped, WRAPPED_SIZE) != RCN_OK) {
            rcn_seal_wraps_free (w, i + 1);
            return RCN_ENOMEM;
        }
    }
    *out = w;
    return RCN_OK;
}

int
rcn_seal_box (const uint8_t *plain, size_t len, const rcn_seal_reader_t *readers, size_t n,
              Rcn__Sealed **out)
{
    assert ((plain || len == 0) && out);
    *out = NULL;
    if (len > RCN_SEAL_PLAIN_MAX)
        return RCN_ETOOBIG;
    if (n == 0 || n > WRAPS_MAX)
        return RCN_EINVAL;
    uint8_t *ck = sodium_malloc (CONTENT_KEY);
    Rcn__Sealed *s = calloc (1, sizeof *s);
    int rc = ck && s ? RCN_OK : RCN_ENOMEM;
    if (rc == RCN_OK) {
        rcn__sealed__init (s);
        crypto_secretbox_keygen (ck);
        uint8_t nonce[crypto_secretbox_NONCEBYTES];
        randombytes_buf (nonce, sizeof nonce);
        rc = bin_dup (&s->nonce, nonce, sizeof nonce);
    }
    if (rc == RCN_OK && !(s->ciphertext.data = malloc (len + crypto_secretbox_MACBYTES)))
        rc = RCN_ENOMEM;
    if (rc == RCN_OK) {
        s->ciphertext.len = len + crypto_secretbox_MACBYTES;
        crypto_secretbox_easy (s->ciphertext.data, plain, len, s->nonce.data, ck);
        rc = wrap_all (ck, readers, n, &s->wraps);
        if (rc == RCN_OK)
            s->n_wraps = n;
    }
    sodium_free (ck);
    if (rc != RCN_OK) {
        rcn_seal_free (s);
        return rc;
    }
    *out = s;
    return RCN_OK;
}

int
rcn_seal_check_wrap (const Rcn__Wrap *w, char *why, size_t whylen)
{
    if (w->member.len != RCN_KEY_SIZE || w->seal_key.len != RCN_SEAL_KEY_SIZE
        || w->wrapped.len != WRAPPED_SIZE) {
        rcn_errf (why, whylen, "sealed: a wrap must hold a 32-byte member, a 32-byte key and "
                  "%d wrapped bytes", WRAPPED_SIZE);
        return RCN_EBODY;
    }
    return RCN_OK;
}

int
rcn_seal_check (const Rcn__Sealed *sealed, char *why, size_t whylen)
{
    if (!sealed) {
        rcn_errf (why, whylen, "sealed: missing");
        return RCN_EBODY;
    }
    if (sealed->nonce.len != crypto_secretbox_NONCEBYTES) {
        rcn_errf (why, whylen, "sealed: nonce must be %d bytes", crypto_secretbox_NONCEBYTES);
        return RCN_EBODY;
    }
    if (sealed->ciphertext.len < crypto_secretbox_MACBYTES
        || sealed->ciphertext.len > RCN_SEAL_PLAIN_MAX + crypto_secretbox_MACBYTES) {
        rcn_errf (why, whylen, "sealed: ciphertext of %zu bytes is outside %d..%d",
                  sealed->ciphertext.len, crypto_secretbox_MACBYTES,
                  RCN_SEAL_PLAIN_MAX + crypto_secretbox_MACBYTES);
        return RCN_EBODY;
    }
    if (sealed->n_wraps == 0 || sealed->n_wraps > WRAPS_MAX) {
        rcn_errf (why, whylen, "sealed: 1..%d wraps, not %zu", WRAPS_MAX, sealed->n_wraps);
        return RCN_EBODY;
    }
    for (size_t i = 0; i < sealed->n_wraps; i++)
        if (rcn_seal_check_wrap (sealed->wraps[i], why, whylen) != RCN_OK)
            return RCN_EBODY;
    return RCN_OK;
}

/* Unwraps the content key into ck (guarded) with the first wrap to one of our keys. */
static int
unwrap (const rcn_seal_t *s, const Rcn__Sealed *sealed, Rcn__Wrap *const *extra, size_t n_extra,
        uint8_t *ck)
{
    if (rcn_seal_check (sealed, NULL, 0) != RCN_OK)
        return RCN_EBODY;
    bool mine = false;
    for (size_t i = 0; i < sealed->n_wraps + n_extra; i++) {
        const Rcn__Wrap *w = i < sealed->n_wraps ? sealed->wraps[i] : extra[i - sealed->n_wraps];
        if (rcn_seal_check_wrap (w, NULL, 0) != RCN_OK)
            continue;
        const uint8_t *pair = pair_for (s, w->seal_key.data);
        if (!pair)
            continue;
        mine = true;
        if (crypto_box_seal_open (ck, w->wrapped.data, WRAPPED_SIZE, pair + RCN_SEAL_KEY_SIZE,
                                  pair) == 0)
            return RCN_OK;
    }
    return mine ? RCN_EBODY : RCN_EPERM;
}

int
rcn_seal_open (const rcn_seal_t *s, const Rcn__Sealed *sealed, Rcn__Wrap *const *extra,
               size_t n_extra, uint8_t **plain, size_t *len)
{
    assert (sealed && plain && len);
    *plain = NULL;
    *len = 0;
    uint8_t *ck = sodium_malloc (CONTENT_KEY);
    if (!ck)
        return RCN_ENOMEM;
    int rc = unwrap (s, sealed, extra, n_extra, ck);
    size_t n = sealed->ciphertext.len - crypto_secretbox_MACBYTES;
    uint8_t *p = rc == RCN_OK ? sodium_malloc (n ? n : 1) : NULL;
    if (rc == RCN_OK && !p)
        rc = RCN_ENOMEM;
    if (rc == RCN_OK && crypto_secretbox_open_easy (p, sealed->ciphertext.data,
                                                    sealed->ciphertext.len, sealed->nonce.data,
                                                    ck) != 0)
        rc = RCN_EBODY;
    sodium_free (ck);
    if (rc != RCN_OK) {
        if (p)
            sodium_free (p);
        return rc;
    }
    *plain = p;
    *len = n;
    return RCN_OK;
}

void
rcn_seal_plain_free (uint8_t *plain, size_t len)
{
    (void) len;
    if (plain)
        sodium_free (plain);
}

int
rcn_seal_rewrap (const rcn_seal_t *s, const Rcn__Sealed *sealed, Rcn__Wrap *const *extra,
                 size_t n_extra, const rcn_seal_reader_t *readers, size_t n, Rcn__Wrap ***wraps)
{
    assert (sealed && wraps);
    *wraps = NULL;
    if (n == 0 || n > WRAPS_MAX)
        return RCN_EINVAL;
    uint8_t *ck = sodium_malloc (CONTENT_KEY);
    if (!ck)
        return RCN_ENOMEM;
    int rc = unwrap (s, sealed, extra, n_extra, ck);
    if (rc == RCN_OK)
        rc = wrap_all (ck, readers, n, wraps);
    sodium_free (ck);
    return rc;
}
