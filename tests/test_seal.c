/* test_seal.c — sealing key pairs in the key dir and sealed details (seal.h): created once and
 * private; only a reader's secret opens; a non-reader, a tampered ciphertext or wrap, and a
 * secret that is gone all fail closed; a rewrap lets a new reader in without re-encrypting. */
#include "rcn/seal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "testutil.h"

#define T0 1795311000000ULL

static rcn_seal_t *
member (const char *root, const char *name, uint64_t now, char *dir, size_t len)
{
    snprintf (dir, len, "%s/%s", root, name);
    REQUIRE (mkdir (dir, 0700) == 0);
    rcn_seal_t *s = NULL;
    char why[256] = "";
    REQUIRE (rcn_seal_load (dir, true, now, &s, why, sizeof why) == RCN_OK);
    return s;
}

static void
reader_of (const rcn_seal_t *s, uint8_t tag, uint64_t now, rcn_seal_reader_t *r)
{
    memset (r->member, tag, sizeof r->member);
    REQUIRE (rcn_seal_current (s, now, r->seal_pk, NULL) == RCN_OK);
}

static void
test_keys_on_disk (void)
{
    char *root = rcn_test_tmpdir ("seal-keys"), dir[512], path[600], why[256];
    rcn_seal_t *a = member (root, "a", T0, dir, sizeof dir);
    uint8_t pk[32], pk2[32];
    uint64_t from = 0;
    CHECK_EQ (rcn_seal_current (a, T0, pk, &from), RCN_OK);
    CHECK_EQ (from, T0);
    CHECK_EQ (rcn_seal_current (a, T0 - 1, pk, &from), RCN_ENOTFOUND);
    CHECK (rcn_seal_owns (a, pk));
    rcn_seal_destroy (&a);
    rcn_seal_destroy (&a);                                      /* twice: harmless */

    /* Loaded again: the same key, no new one. */
    CHECK_EQ (rcn_seal_load (dir, true, T0 + 5000, &a, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_current (a, T0 + 5000, pk2, NULL), RCN_OK);
    CHECK (memcmp (pk, pk2, 32) == 0);
    rcn_seal_destroy (&a);

    /* A key file others can read is refused; a truncated one too. */
    snprintf (path, sizeof path, "%s/seal-%020llu.key", dir, (unsigned long long) T0);
    REQUIRE (chmod (path, 0644) == 0);
    CHECK_EQ (rcn_seal_load (dir, true, T0, &a, why, sizeof why), RCN_EPERM);
    CHECK (strstr (why, "chmod 600") != NULL);
    REQUIRE (chmod (path, 0600) == 0);
    REQUIRE (truncate (path, 10) == 0);
    CHECK_EQ (rcn_seal_load (dir, true, T0, &a, why, sizeof why), RCN_EINVAL);
    CHECK (a == NULL);
    /* Without create, an empty dir holds no key. */
    char empty[512];
    snprintf (empty, sizeof empty, "%s/empty", root);
    REQUIRE (mkdir (empty, 0700) == 0);
    CHECK_EQ (rcn_seal_load (empty, false, T0, &a, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_current (a, T0, pk, NULL), RCN_ENOTFOUND);
    rcn_seal_destroy (&a);
    rcn_test_rmtree (root);
    free (root);
}

static void
test_box_open_rewrap (void)
{
    char *root = rcn_test_tmpdir ("seal-box"), da[512], db[512], dc[512];
    rcn_seal_t *a = member (root, "a", T0, da, sizeof da), *b = member (root, "b", T0, db, sizeof db),
               *c = member (root, "c", T0, dc, sizeof dc);
    rcn_seal_reader_t readers[2];
    reader_of (a, 1, T0, &readers[0]);
    reader_of (b, 2, T0, &readers[1]);
    const char *plain = "{\"name\":\"Zhang San\",\"id_number\":\"11010519491231002X\"}";
    Rcn__Sealed *s = NULL;
    REQUIRE (rcn_seal_box ((const uint8_t *) plain, strlen (plain), readers, 2, &s) == RCN_OK);
    char why[256];
    CHECK_EQ (rcn_seal_check (s, why, sizeof why), RCN_OK);
    CHECK (memmem (s->ciphertext.data, s->ciphertext.len, "Zhang", 5) == NULL);

    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_EQ (rcn_seal_open (a, s, NULL, 0, &out, &len), RCN_OK);
    CHECK (len == strlen (plain) && memcmp (out, plain, len) == 0);
    rcn_seal_plain_free (out, len);
    CHECK_EQ (rcn_seal_open (b, s, NULL, 0, &out, &len), RCN_OK);
    rcn_seal_plain_free (out, len);
    CHECK_EQ (rcn_seal_open (c, s, NULL, 0, &out, &len), RCN_EPERM);      /* not a reader */
    CHECK (out == NULL);

    /* b passes it on to c: one new wrap, the same ciphertext. */
    rcn_seal_reader_t rc;
    reader_of (c, 3, T0, &rc);
    Rcn__Wrap **w = NULL;
    CHECK_EQ (rcn_seal_rewrap (c, s, NULL, 0, &rc, 1, &w), RCN_EPERM);     /* c cannot yet */
    REQUIRE (rcn_seal_rewrap (b, s, NULL, 0, &rc, 1, &w) == RCN_OK);
    CHECK_EQ (rcn_seal_check_wrap (w[0], why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_open (c, s, w, 1, &out, &len), RCN_OK);
    CHECK (len == strlen (plain) && memcmp (out, plain, len) == 0);
    rcn_seal_plain_free (out, len);

    /* Tampered ciphertext, tampered wrap: refused, nothing returned. */
    s->ciphertext.data[3] ^= 1;
    CHECK_EQ (rcn_seal_open (a, s, NULL, 0, &out, &len), RCN_EBODY);
    s->ciphertext.data[3] ^= 1;
    w[0]->wrapped.data[5] ^= 1;
    CHECK_EQ (rcn_seal_open (c, s, w, 1, &out, &len), RCN_EBODY);
    rcn_seal_wraps_free (w, 1);

    /* Shapes apply must refuse. */
    s->nonce.len = 23;
    CHECK_EQ (rcn_seal_check (s, why, sizeof why), RCN_EBODY);
    CHECK (strstr (why, "nonce") != NULL);
    s->nonce.len = 24;
    size_t nw = s->n_wraps;
    s->n_wraps = 0;
    CHECK_EQ (rcn_seal_check (s, why, sizeof why), RCN_EBODY);
    s->n_wraps = nw;
    CHECK_EQ (rcn_seal_check (NULL, why, sizeof why), RCN_EBODY);

    /* Caps: no reader, too much text. */
    Rcn__Sealed *none = NULL;
    CHECK_EQ (rcn_seal_box ((const uint8_t *) "x", 1, readers, 0, &none), RCN_EINVAL);
    static uint8_t big[RCN_SEAL_PLAIN_MAX + 1];
    CHECK_EQ (rcn_seal_box (big, sizeof big, readers, 2, &none), RCN_ETOOBIG);
    CHECK (none == NULL);

    /* The secret gone (retention): nobody opens, not even the origin. */
    char path[600];
    rcn_seal_destroy (&a);
    snprintf (path, sizeof path, "%s/seal-%020llu.key", da, (unsigned long long) T0);
    REQUIRE (unlink (path) == 0);
    CHECK_EQ (rcn_seal_load (da, false, T0, &a, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_open (a, s, NULL, 0, &out, &len), RCN_EPERM);

    rcn_seal_free (s);
    rcn_seal_destroy (&a);
    rcn_seal_destroy (&b);
    rcn_seal_destroy (&c);
    rcn_test_rmtree (root);
    free (root);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    RUN (test_keys_on_disk);
    RUN (test_box_open_rewrap);
    return rcn_test_done ();
}
