/* test_seal.c — sealing key pairs in the key dir and sealed details (seal.h): created once and
 * private; only a reader's secret opens; a non-reader, a tampered ciphertext or wrap, and a
 * secret that is gone all fail closed; a rewrap lets a new reader in without re-encrypting.
 * Rotation: pairs for the current and next period, on one grid, made once. Retention: exactly
 * the pairs whose period ended retention ago are shredded (the newest never), and what was
 * sealed under them opens no more while what the current key sealed still does. */
#include "rcn/seal.h"

#include <dirent.h>
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

#define DAY RCN_SEAL_DAY_MS

/* How many seal-*.key files dir holds. */
static int
key_files (const char *dir)
{
    DIR *d = opendir (dir);
    REQUIRE (d != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir (d)) != NULL)
        n += strncmp (de->d_name, "seal-", 5) == 0;
    closedir (d);
    return n;
}

static void
test_rotation (void)
{
    char *root = rcn_test_tmpdir ("seal-rot"), dir[512], why[256];
    rcn_seal_t *a = member (root, "a", T0, dir, sizeof dir);
    const uint64_t P = 30 * DAY;
    size_t made = 9;
    rcn_seal_period_t p;

    /* First start: the current pair from T0, then ensure adds the next at T0 + P, once. */
    CHECK_EQ (rcn_seal_count (a), 1);
    CHECK_EQ (rcn_seal_ensure (a, dir, T0, P, &made, why, sizeof why), RCN_OK);
    CHECK_EQ (made, 1);
    CHECK_EQ (rcn_seal_count (a), 2);
    rcn_seal_period (a, 0, &p);
    CHECK_EQ (p.from_ms, T0);
    CHECK_EQ (p.until_ms, T0 + P);
    rcn_seal_period (a, 1, &p);
    CHECK_EQ (p.from_ms, T0 + P);
    CHECK_EQ (p.until_ms, UINT64_MAX);
    CHECK_EQ (rcn_seal_ensure (a, dir, T0 + 1000, P, &made, why, sizeof why), RCN_OK);
    CHECK_EQ (made, 0);                                         /* nothing missing: no new pair */
    CHECK_EQ (rcn_seal_ensure (a, dir, T0 + P - 1, P, &made, why, sizeof why), RCN_OK);
    CHECK_EQ (made, 0);
    CHECK_EQ (key_files (dir), 2);

    /* The current key is the newest begun: at T0 + P - 1 the first, at T0 + P the next. */
    uint8_t pk[32], pk1[32];
    uint64_t from = 0;
    CHECK_EQ (rcn_seal_current (a, T0 + P - 1, pk, &from), RCN_OK);
    CHECK_EQ (from, T0);
    CHECK_EQ (rcn_seal_at (a, T0 + P, pk1), RCN_OK);
    CHECK_EQ (rcn_seal_current (a, T0 + P, pk, &from), RCN_OK);
    CHECK_EQ (from, T0 + P);
    CHECK (memcmp (pk, pk1, 32) == 0);

    /* The next period begins: one new pair, aligned at T0 + 2P. */
    CHECK_EQ (rcn_seal_ensure (a, dir, T0 + P, P, &made, why, sizeof why), RCN_OK);
    CHECK_EQ (made, 1);
    rcn_seal_period (a, 2, &p);
    CHECK_EQ (p.from_ms, T0 + 2 * P);

    /* A node stopped for a long while: the current and next periods on the same grid, the
     * skipped periods get no key. */
    CHECK_EQ (rcn_seal_ensure (a, dir, T0 + 5 * P + 7, P, &made, why, sizeof why), RCN_OK);
    CHECK_EQ (made, 2);
    CHECK_EQ (rcn_seal_count (a), 5);
    rcn_seal_period (a, 3, &p);
    CHECK_EQ (p.from_ms, T0 + 5 * P);
    CHECK_EQ (p.until_ms, T0 + 6 * P);
    rcn_seal_period (a, 4, &p);
    CHECK_EQ (p.from_ms, T0 + 6 * P);
    rcn_seal_destroy (&a);

    /* What ensure made is on disk, private, and loads again. */
    CHECK_EQ (key_files (dir), 5);
    CHECK_EQ (rcn_seal_load (dir, false, T0, &a, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_count (a), 5);
    char path[600];
    struct stat st;
    snprintf (path, sizeof path, "%s/seal-%020llu.key", dir, (unsigned long long) (T0 + 6 * P));
    REQUIRE (stat (path, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);
    /* The period shrinks (a new roster): the grid follows the newest pair. */
    CHECK_EQ (rcn_seal_ensure (a, dir, T0 + 6 * P + DAY + 5, DAY, &made, why, sizeof why), RCN_OK);
    CHECK_EQ (made, 2);
    rcn_seal_period (a, rcn_seal_count (a) - 2, &p);
    CHECK_EQ (p.from_ms, T0 + 6 * P + DAY);
    rcn_seal_period (a, rcn_seal_count (a) - 1, &p);
    CHECK_EQ (p.from_ms, T0 + 6 * P + 2 * DAY);
    rcn_seal_destroy (&a);

    /* A fresh dir with no key at all: ensure alone makes the current (from now) and the next. */
    char d2[512];
    snprintf (d2, sizeof d2, "%s/b", root);
    REQUIRE (mkdir (d2, 0700) == 0);
    CHECK_EQ (rcn_seal_load (d2, false, T0, &a, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_ensure (a, d2, T0 + 3, P, &made, why, sizeof why), RCN_OK);
    CHECK_EQ (made, 2);
    rcn_seal_period (a, 0, &p);
    CHECK_EQ (p.from_ms, T0 + 3);
    rcn_seal_period (a, 1, &p);
    CHECK_EQ (p.from_ms, T0 + 3 + P);
    rcn_seal_destroy (&a);
    rcn_test_rmtree (root);
    free (root);
}

static void
test_retention (void)
{
    char *root = rcn_test_tmpdir ("seal-ret"), dir[512], why[256], path[600];
    const uint64_t P = DAY, R = 2 * DAY;
    rcn_seal_t *a = member (root, "a", T0, dir, sizeof dir);
    size_t made = 0, n_gone = 9;
    for (uint64_t k = 0; k < 4; k++)                            /* periods T0 .. T0 + 4P */
        REQUIRE (rcn_seal_ensure (a, dir, T0 + k * P, P, &made, why, sizeof why) == RCN_OK);
    CHECK_EQ (rcn_seal_count (a), 5);
    rcn_seal_period_t gone[8];

    /* Period 0 ends at T0 + P and expires at T0 + P + R: kept one ms before, destroyed at it. */
    CHECK_EQ (rcn_seal_retire (a, dir, T0 + P + R - 1, R, gone, 8, &n_gone, why, sizeof why), RCN_OK);
    CHECK_EQ (n_gone, 0);
    CHECK_EQ (rcn_seal_count (a), 5);
    CHECK_EQ (rcn_seal_retire (a, dir, T0 + P + R, R, gone, 8, &n_gone, why, sizeof why), RCN_OK);
    CHECK_EQ (n_gone, 1);
    CHECK_EQ (gone[0].from_ms, T0);
    CHECK_EQ (gone[0].until_ms, T0 + P);
    CHECK_EQ (rcn_seal_count (a), 4);
    snprintf (path, sizeof path, "%s/seal-%020llu.key", dir, (unsigned long long) T0);
    CHECK (access (path, F_OK) != 0);                           /* the file is gone */
    CHECK_EQ (key_files (dir), 4);
    /* Again at the same time: nothing more. */
    CHECK_EQ (rcn_seal_retire (a, dir, T0 + P + R, R, gone, 8, &n_gone, why, sizeof why), RCN_OK);
    CHECK_EQ (n_gone, 0);

    /* Far in the future: everything but the newest, which never expires. */
    CHECK_EQ (rcn_seal_retire (a, dir, UINT64_MAX - 1, R, gone, 8, &n_gone, why, sizeof why), RCN_OK);
    CHECK_EQ (n_gone, 3);
    CHECK_EQ (gone[0].from_ms, T0 + P);
    CHECK_EQ (gone[2].from_ms, T0 + 3 * P);
    CHECK_EQ (rcn_seal_count (a), 1);
    rcn_seal_period_t p;
    rcn_seal_period (a, 0, &p);
    CHECK_EQ (p.from_ms, T0 + 4 * P);
    CHECK_EQ (key_files (dir), 1);
    rcn_seal_destroy (&a);

    /* A load after retention holds only what is left. */
    CHECK_EQ (rcn_seal_load (dir, false, T0, &a, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_count (a), 1);

    /* A zeroed key file (a destroy cut short before its unlink) is no key: skipped; a node's
     * load (create) removes it. */
    snprintf (path, sizeof path, "%s/seal-%020llu.key", dir, (unsigned long long) (T0 + 9 * P));
    FILE *f = fopen (path, "w");
    REQUIRE (f != NULL);
    static const uint8_t zeros[64];
    REQUIRE (fwrite (zeros, 1, sizeof zeros, f) == sizeof zeros);
    REQUIRE (fclose (f) == 0);
    REQUIRE (chmod (path, 0600) == 0);
    rcn_seal_destroy (&a);
    CHECK_EQ (rcn_seal_load (dir, false, T0, &a, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_count (a), 1);
    CHECK (access (path, F_OK) == 0);
    rcn_seal_destroy (&a);
    CHECK_EQ (rcn_seal_load (dir, true, T0, &a, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_count (a), 1);
    CHECK (access (path, F_OK) != 0);

    /* The JSON report: periods and times, no key material. */
    REQUIRE (rcn_seal_ensure (a, dir, T0 + 4 * P, P, &made, why, sizeof why) == RCN_OK);
    CHECK_EQ (rcn_seal_count (a), 2);                           /* T0 + 4P and T0 + 5P */
    json_t *rep = NULL;
    CHECK_EQ (rcn_seal_retention_run (a, dir, T0 + 5 * P + 2 * DAY, 2, &rep, why, sizeof why),
              RCN_OK);
    REQUIRE (rep != NULL);
    CHECK_EQ (json_array_size (json_object_get (rep, "destroyed")), 1);
    CHECK_EQ (json_integer_value (json_object_get (json_array_get (json_object_get (rep, "destroyed"), 0),
                                                   "from_ms")), (json_int_t) (T0 + 4 * P));
    CHECK_EQ (json_array_size (json_object_get (rep, "kept")), 1);
    CHECK (json_is_null (json_object_get (rep, "next")));
    char *text = json_dumps (rep, 0), hex[65];
    uint8_t pk[32];
    REQUIRE (rcn_seal_current (a, T0 + 5 * P, pk, NULL) == RCN_OK);
    for (int i = 0; i < 32; i++)
        snprintf (hex + 2 * i, 3, "%02x", pk[i]);
    CHECK (strstr (text, hex) == NULL);
    free (text);
    json_decref (rep);
    rcn_seal_destroy (&a);
    rcn_test_rmtree (root);
    free (root);
}

/* After retention, what was sealed under the destroyed key opens for nobody (RCN_EPERM), even
 * from a fresh load of the key dir (a restart, a restored backup of the data), while what the
 * current key sealed still opens. */
static void
test_retention_opens (void)
{
    char *root = rcn_test_tmpdir ("seal-reto"), da[512], db[512], why[256];
    const uint64_t P = DAY, R = DAY;
    rcn_seal_t *a = member (root, "a", T0, da, sizeof da), *b = member (root, "b", T0, db, sizeof db);
    size_t made = 0, n_gone = 0;
    REQUIRE (rcn_seal_ensure (a, da, T0, P, &made, why, sizeof why) == RCN_OK);
    REQUIRE (rcn_seal_ensure (b, db, T0, P, &made, why, sizeof why) == RCN_OK);
    const char *old_text = "{\"name\":\"Old Person\"}", *new_text = "{\"name\":\"New Person\"}";
    rcn_seal_reader_t r[2];
    reader_of (a, 1, T0 + 10, &r[0]);                            /* period 0's keys */
    reader_of (b, 2, T0 + 10, &r[1]);
    Rcn__Sealed *old = NULL, *fresh = NULL;
    REQUIRE (rcn_seal_box ((const uint8_t *) old_text, strlen (old_text), r, 2, &old) == RCN_OK);
    /* Two periods on: the keys of the period then. */
    REQUIRE (rcn_seal_ensure (a, da, T0 + 2 * P, P, &made, why, sizeof why) == RCN_OK);
    REQUIRE (rcn_seal_ensure (b, db, T0 + 2 * P, P, &made, why, sizeof why) == RCN_OK);
    reader_of (a, 1, T0 + 2 * P + 10, &r[0]);
    reader_of (b, 2, T0 + 2 * P + 10, &r[1]);
    REQUIRE (rcn_seal_box ((const uint8_t *) new_text, strlen (new_text), r, 2, &fresh) == RCN_OK);

    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_EQ (rcn_seal_open (b, old, NULL, 0, &out, &len), RCN_OK);   /* before: it opens */
    rcn_seal_plain_free (out, len);
    /* Retention at both ends (period 0 ended at T0 + P, expires at T0 + P + R). */
    CHECK_EQ (rcn_seal_retire (a, da, T0 + P + R, R, NULL, 0, &n_gone, why, sizeof why), RCN_OK);
    CHECK_EQ (n_gone, 1);
    CHECK_EQ (rcn_seal_retire (b, db, T0 + P + R, R, NULL, 0, &n_gone, why, sizeof why), RCN_OK);
    CHECK_EQ (n_gone, 1);
    CHECK_EQ (rcn_seal_open (a, old, NULL, 0, &out, &len), RCN_EPERM);
    CHECK (out == NULL);
    CHECK_EQ (rcn_seal_open (b, old, NULL, 0, &out, &len), RCN_EPERM);
    CHECK_EQ (rcn_seal_open (b, fresh, NULL, 0, &out, &len), RCN_OK);
    CHECK (len == strlen (new_text) && memcmp (out, new_text, len) == 0);
    rcn_seal_plain_free (out, len);
    /* A rewrap cannot bring the old one back either. */
    Rcn__Wrap **w = NULL;
    CHECK_EQ (rcn_seal_rewrap (b, old, NULL, 0, &r[0], 1, &w), RCN_EPERM);
    /* Loaded afresh from the key dir: the same. */
    rcn_seal_destroy (&b);
    CHECK_EQ (rcn_seal_load (db, true, T0 + 2 * P, &b, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_seal_open (b, old, NULL, 0, &out, &len), RCN_EPERM);
    CHECK_EQ (rcn_seal_open (b, fresh, NULL, 0, &out, &len), RCN_OK);
    rcn_seal_plain_free (out, len);

    rcn_seal_free (old);
    rcn_seal_free (fresh);
    rcn_seal_destroy (&a);
    rcn_seal_destroy (&b);
    rcn_test_rmtree (root);
    free (root);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    RUN (test_keys_on_disk);
    RUN (test_box_open_rewrap);
    RUN (test_rotation);
    RUN (test_retention);
    RUN (test_retention_opens);
    return rcn_test_done ();
}
