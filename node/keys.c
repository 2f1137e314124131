/* keys.c — a member's secret keys on disk and in memory.
 *
 * The one design decision: secrets only ever live in sodium_malloc memory (guard pages,
 * mlock, wiped on free) — including while they are generated or read — and loading trusts
 * nothing about the files: a key dir or file that anyone but its owner (the node's user) can
 * touch is refused rather than used, and the public half stored in sign.key must match the one
 * derived again from its seed. Files are created with O_EXCL|O_NOFOLLOW and fsynced, together
 * with their directory, so a crash right after `rcctl init` cannot leave a member without
 * the identity it already handed out. */
#include "rcn/keys.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "rcn/clock.h"
#include "rcn/fileio.h"

#define SIGN_FILE "sign.key"
#define CURVE_FILE "curve.key"

/* One guarded block: sign secret (seed | public) | curve secret | curve public. */
enum {
    OFF_SIGN = 0,
    OFF_CURVE = RCN_SECRET_SIZE,
    OFF_CURVE_PUB = RCN_SECRET_SIZE + RCN_KEY_SIZE,
    BLOCK_SIZE = RCN_SECRET_SIZE + 2 * RCN_KEY_SIZE,
};

struct rcn_keys {
    uint8_t *block;                          /* sodium_malloc, read-only once loaded */
};

static int
read_all (int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read (fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t) r;
    }
    return got == len ? 0 : 1;
}

/* Writes a new 0600 file in dirfd; the caller removes it on any later failure. */
static int
key_write (int dirfd, const char *keydir, const char *name, const uint8_t *key, size_t len,
           char *why, size_t whylen)
{
    int fd = openat (dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rcn_errf (why, whylen, "%s/%s: %s", keydir, name, strerror (errno));
        return RCN_EIO;
    }
    /* The umask may only narrow the mode; make it exactly 0600 so load accepts it. */
    if (fchmod (fd, 0600) != 0 || rcn_write_all (fd, key, len) != 0 || fsync (fd) != 0) {
        rcn_errf (why, whylen, "%s/%s: %s", keydir, name, strerror (errno));
        close (fd);
        return RCN_EIO;
    }
    if (close (fd) != 0) {
        rcn_errf (why, whylen, "%s/%s: %s", keydir, name, strerror (errno));
        return RCN_EIO;
    }
    return RCN_OK;
}

int
rcn_keys_create (const char *keydir, char *why, size_t whylen)
{
    assert (keydir);
    int rc = RCN_EIO;
    int dirfd = -1;
    bool made_dir = false, made_sign = false, made_curve = false;
    uint8_t *s = NULL;
    /* Work area: sign seed | sign secret | sign public | curve seed | curve secret | public */
    enum { SEED = 0, SK = 32, PK = 96, CSEED = 128, CSK = 160, CPK = 192, WORK = 224 };

    if (sodium_init () < 0) {
        rcn_errf (why, whylen, "libsodium failed to initialise");
        goto fail;
    }
    if (mkdir (keydir, 0700) != 0) {
        if (errno == EEXIST) {
            rc = RCN_EBUSY;
            rcn_errf (why, whylen, "%s: already exists; refusing to replace keys", keydir);
        }
        else
            rcn_errf (why, whylen, "%s: %s", keydir, strerror (errno));
        goto fail;
    }
    made_dir = true;
    if (chmod (keydir, 0700) != 0) {
        rcn_errf (why, whylen, "%s: chmod: %s", keydir, strerror (errno));
        goto fail;
    }
    dirfd = open (keydir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0) {
        rcn_errf (why, whylen, "%s: %s", keydir, strerror (errno));
        goto fail;
    }
    s = sodium_malloc (WORK);
    if (!s) {
        rc = RCN_ENOMEM;
        rcn_errf (why, whylen, "out of secure memory");
        goto fail;
    }
    rcn_random_buf (s + SEED, 32);
    crypto_sign_seed_keypair (s + PK, s + SK, s + SEED);
    rcn_random_buf (s + CSEED, 32);
    crypto_box_seed_keypair (s + CPK, s + CSK, s + CSEED);

    if ((rc = key_write (dirfd, keydir, SIGN_FILE, s + SK, RCN_SECRET_SIZE, why, whylen)))
        goto fail;
    made_sign = true;
    if ((rc = key_write (dirfd, keydir, CURVE_FILE, s + CSK, RCN_KEY_SIZE, why, whylen)))
        goto fail;
    made_curve = true;
    rc = RCN_EIO;
    if (fsync (dirfd) != 0) {
        rcn_errf (why, whylen, "%s: fsync: %s", keydir, strerror (errno));
        goto fail;
    }
    /* The new directory's own entry lives in its parent. */
    if (rcn_fsync_parent (keydir) != 0) {
        rcn_errf (why, whylen, "%s: fsync of its parent directory: %s", keydir, strerror (errno));
        goto fail;
    }
    sodium_free (s);
    close (dirfd);
    return RCN_OK;

fail:
    /* Leave nothing half-made; best effort, the error already in `why` matters more. */
    sodium_free (s);         /* wipes; accepts NULL */
    if (made_curve)
        (void) unlinkat (dirfd, CURVE_FILE, 0);
    if (made_sign)
        (void) unlinkat (dirfd, SIGN_FILE, 0);
    if (dirfd >= 0)
        close (dirfd);
    if (made_dir)
        (void) rmdir (keydir);
    return rc;
}

/* Refuses what is not ours alone: owned by another user, or any group/other bit set. */
static int
mode_check (const char *path, const struct stat *st, char *why, size_t whylen)
{
    if (st->st_uid != geteuid ()) {
        rcn_errf (why, whylen, "%s: owned by uid %u, not by this user (uid %u)", path,
                  (unsigned) st->st_uid, (unsigned) geteuid ());
        return RCN_EPERM;
    }
    if (st->st_mode & 077) {
        rcn_errf (why, whylen, "%s: mode %04o gives group or others access; keys must be "
                  "private (chmod %s %s)", path, (unsigned) (st->st_mode & 07777),
                  S_ISDIR (st->st_mode) ? "700" : "600", path);
        return RCN_EPERM;
    }
    return RCN_OK;
}

static int
key_read (int dirfd, const char *keydir, const char *name, uint8_t *dst, size_t len,
          char *why, size_t whylen)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", keydir, name);
    int rc = RCN_EIO;
    int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        return RCN_EIO;
    }
    struct stat st;
    if (fstat (fd, &st) != 0) {
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        goto fail;
    }
    if (!S_ISREG (st.st_mode)) {
        rc = RCN_EINVAL;
        rcn_errf (why, whylen, "%s: not a regular file", path);
        goto fail;
    }
    if ((rc = mode_check (path, &st, why, whylen)) != RCN_OK)
        goto fail;
    if (st.st_size != (off_t) len) {
        rc = RCN_EINVAL;
        rcn_errf (why, whylen, "%s: %lld bytes, expected %zu", path, (long long) st.st_size, len);
        goto fail;
    }
    int r = read_all (fd, dst, len);
    if (r != 0) {
        rc = r < 0 ? RCN_EIO : RCN_EINVAL;
        rcn_errf (why, whylen, "%s: %s", path, r < 0 ? strerror (errno) : "short read");
        goto fail;
    }
    rc = RCN_OK;
fail:
    close (fd);
    return rc;
}

int
rcn_keys_load (const char *keydir, rcn_keys_t **out, char *why, size_t whylen)
{
    assert (keydir && out);
    *out = NULL;
    int rc = RCN_EIO;
    int dirfd = -1;
    uint8_t *check = NULL;
    rcn_keys_t *self = NULL;

    if (sodium_init () < 0) {
        rcn_errf (why, whylen, "libsodium failed to initialise");
        goto fail;
    }
    dirfd = open (keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        rcn_errf (why, whylen, "%s: %s", keydir, strerror (errno));
        goto fail;
    }
    struct stat st;
    if (fstat (dirfd, &st) != 0) {
        rcn_errf (why, whylen, "%s: %s", keydir, strerror (errno));
        goto fail;
    }
    if ((rc = mode_check (keydir, &st, why, whylen)) != RCN_OK)
        goto fail;

    rc = RCN_ENOMEM;
    self = calloc (1, sizeof *self);
    if (!self || !(self->block = sodium_malloc (BLOCK_SIZE))
        || !(check = sodium_malloc (32 + RCN_KEY_SIZE + RCN_SECRET_SIZE))) {
        rcn_errf (why, whylen, "out of secure memory");
        goto fail;
    }
    uint8_t *b = self->block;
    if ((rc = key_read (dirfd, keydir, SIGN_FILE, b + OFF_SIGN, RCN_SECRET_SIZE, why, whylen)))
        goto fail;
    if ((rc = key_read (dirfd, keydir, CURVE_FILE, b + OFF_CURVE, RCN_KEY_SIZE, why, whylen)))
        goto fail;

    /* sign.key is seed | public. crypto_sign_ed25519_sk_to_pk only copies the stored half,
     * so derive the public key from the seed again and compare. */
    uint8_t *seed = check, *pk = check + 32, *sk = check + 32 + RCN_KEY_SIZE;
    crypto_sign_ed25519_sk_to_seed (seed, b + OFF_SIGN);
    crypto_sign_seed_keypair (pk, sk, seed);
    if (sodium_memcmp (pk, b + OFF_SIGN + 32, RCN_KEY_SIZE) != 0) {
        rc = RCN_EINVAL;
        rcn_errf (why, whylen, "%s/%s: public half does not match its seed (corrupt file?)",
                  keydir, SIGN_FILE);
        goto fail;
    }
    if (crypto_scalarmult_base (b + OFF_CURVE_PUB, b + OFF_CURVE) != 0) {
        rc = RCN_EINVAL;
        rcn_errf (why, whylen, "%s/%s: not a usable X25519 secret key", keydir, CURVE_FILE);
        goto fail;
    }
    sodium_free (check);
    close (dirfd);
    sodium_mprotect_readonly (self->block);
    *out = self;
    return RCN_OK;

fail:
    sodium_free (check);
    rcn_keys_destroy (&self);
    if (dirfd >= 0)
        close (dirfd);
    return rc;
}

void
rcn_keys_destroy (rcn_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_keys_t *self = *self_p;
    sodium_free (self->block);      /* makes it writable, wipes, unmaps; accepts NULL */
    free (self);
    *self_p = NULL;
}

const uint8_t *
rcn_keys_sign_secret (const rcn_keys_t *k)
{
    assert (k);
    return k->block + OFF_SIGN;
}

const uint8_t *
rcn_keys_sign_public (const rcn_keys_t *k)
{
    assert (k);
    return k->block + OFF_SIGN + 32;
}

const uint8_t *
rcn_keys_curve_secret (const rcn_keys_t *k)
{
    assert (k);
    return k->block + OFF_CURVE;
}

const uint8_t *
rcn_keys_curve_public (const rcn_keys_t *k)
{
    assert (k);
    return k->block + OFF_CURVE_PUB;
}
