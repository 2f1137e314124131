/* test_keys.c — key dir creation and loading: round trip, signatures verify under the loaded
 * public key, unsafe modes and wrong sizes refused, seeded keys replayable. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "rcn/clock.h"
#include "rcn/keys.h"
#include "testutil.h"

static char *root;

static void
path_in (char *buf, size_t len, const char *a, const char *b)
{
    if (b)
        snprintf (buf, len, "%s/%s/%s", root, a, b);
    else
        snprintf (buf, len, "%s/%s", root, a);
}

static mode_t
mode_of (const char *path)
{
    struct stat st;
    REQUIRE (stat (path, &st) == 0);
    return st.st_mode & 07777;
}

static off_t
size_of (const char *path)
{
    struct stat st;
    REQUIRE (stat (path, &st) == 0);
    return st.st_size;
}

static void
test_round_trip (void)
{
    char kd[512], p[600], why[512] = "";
    path_in (kd, sizeof kd, "k1", NULL);
    /* A strict umask must not matter: create sets the modes itself. */
    mode_t old = umask (0277);
    int rc = rcn_keys_create (kd, why, sizeof why);
    umask (old);
    if (rc)
        fprintf (stderr, "    why: %s\n", why);
    REQUIRE (rc == RCN_OK);
    CHECK_EQ (mode_of (kd), 0700);
    path_in (p, sizeof p, "k1", "sign.key");
    CHECK_EQ (mode_of (p), 0600);
    CHECK_EQ (size_of (p), 64);
    path_in (p, sizeof p, "k1", "curve.key");
    CHECK_EQ (mode_of (p), 0600);
    CHECK_EQ (size_of (p), 32);

    rcn_keys_t *k = NULL;
    rc = rcn_keys_load (kd, &k, why, sizeof why);
    if (rc)
        fprintf (stderr, "    why: %s\n", why);
    REQUIRE (rc == RCN_OK && k);

    /* Sign with the loaded secret, verify under the loaded public key. */
    const uint8_t msg[] = "case notice 310000-0001";
    uint8_t sig[64];
    CHECK_EQ (crypto_sign_detached (sig, NULL, msg, sizeof msg, rcn_keys_sign_secret (k)), 0);
    CHECK_EQ (crypto_sign_verify_detached (sig, msg, sizeof msg, rcn_keys_sign_public (k)), 0);
    sig[0] ^= 1;
    CHECK (crypto_sign_verify_detached (sig, msg, sizeof msg, rcn_keys_sign_public (k)) != 0);
    CHECK (memcmp (rcn_keys_sign_public (k), rcn_keys_sign_secret (k) + 32, 32) == 0);

    /* The CURVE public key is the secret's: both sides of a box agree. */
    uint8_t pk2[32], sk2[32], n[crypto_box_NONCEBYTES] = { 0 };
    crypto_box_keypair (pk2, sk2);
    uint8_t c[sizeof msg + crypto_box_MACBYTES], back[sizeof msg];
    CHECK_EQ (crypto_box_easy (c, msg, sizeof msg, n, rcn_keys_curve_public (k), sk2), 0);
    CHECK_EQ (crypto_box_open_easy (back, c, sizeof c, n, pk2, rcn_keys_curve_secret (k)), 0);
    CHECK (memcmp (back, msg, sizeof msg) == 0);
    uint8_t cpk[32];
    CHECK_EQ (crypto_scalarmult_base (cpk, rcn_keys_curve_secret (k)), 0);
    CHECK (memcmp (cpk, rcn_keys_curve_public (k), 32) == 0);

    /* The file holds exactly the loaded secret. */
    uint8_t file[64];
    path_in (p, sizeof p, "k1", "sign.key");
    int fd = open (p, O_RDONLY);
    REQUIRE (fd >= 0);
    CHECK_EQ (read (fd, file, 64), 64);
    close (fd);
    CHECK (memcmp (file, rcn_keys_sign_secret (k), 64) == 0);

    rcn_keys_destroy (&k);
    CHECK (k == NULL);
    rcn_keys_destroy (&k);
    rcn_keys_destroy (NULL);

    /* Twice: the second create refuses, and leaves the first keys alone. */
    CHECK_EQ (rcn_keys_create (kd, why, sizeof why), RCN_EBUSY);
    CHECK (strstr (why, kd) != NULL);
    fd = open (p, O_RDONLY);
    REQUIRE (fd >= 0);
    uint8_t again[64];
    CHECK_EQ (read (fd, again, 64), 64);
    close (fd);
    CHECK (memcmp (file, again, 64) == 0);

    /* A missing parent is an I/O error, and nothing is left behind. */
    path_in (p, sizeof p, "no-such-parent", "keys");
    CHECK_EQ (rcn_keys_create (p, why, sizeof why), RCN_EIO);
    CHECK (access (p, F_OK) != 0);
    path_in (p, sizeof p, "nothing-here", NULL);
    CHECK_EQ (rcn_keys_load (p, &k, why, sizeof why), RCN_EIO);
    CHECK (k == NULL);
}

static void
test_seeded (void)
{
    char a[512], b[512], c[512], why[512];
    path_in (a, sizeof a, "seed-a", NULL);
    path_in (b, sizeof b, "seed-b", NULL);
    path_in (c, sizeof c, "seed-c", NULL);
    rcn_random_seed (42);
    REQUIRE (rcn_keys_create (a, why, sizeof why) == RCN_OK);
    rcn_random_seed (42);
    REQUIRE (rcn_keys_create (b, why, sizeof why) == RCN_OK);
    rcn_random_seed (43);
    REQUIRE (rcn_keys_create (c, why, sizeof why) == RCN_OK);
    rcn_keys_t *ka = NULL, *kb = NULL, *kc = NULL;
    REQUIRE (rcn_keys_load (a, &ka, why, sizeof why) == RCN_OK);
    REQUIRE (rcn_keys_load (b, &kb, why, sizeof why) == RCN_OK);
    REQUIRE (rcn_keys_load (c, &kc, why, sizeof why) == RCN_OK);
    CHECK (memcmp (rcn_keys_sign_secret (ka), rcn_keys_sign_secret (kb), 64) == 0);
    CHECK (memcmp (rcn_keys_curve_secret (ka), rcn_keys_curve_secret (kb), 32) == 0);
    CHECK (memcmp (rcn_keys_sign_public (ka), rcn_keys_sign_public (kc), 32) != 0);
    CHECK (memcmp (rcn_keys_curve_public (ka), rcn_keys_curve_public (kc), 32) != 0);
    /* The two keys of one member are independent. */
    CHECK (memcmp (rcn_keys_sign_secret (ka), rcn_keys_curve_secret (ka), 32) != 0);
    rcn_keys_destroy (&ka);
    rcn_keys_destroy (&kb);
    rcn_keys_destroy (&kc);
}

/* Loading must fail with rc and a message containing `want`. */
static void
expect_load (int line, const char *kd, int rc_want, const char *want)
{
    rcn_keys_t *k = NULL;
    char why[512] = "";
    int rc = rcn_keys_load (kd, &k, why, sizeof why);
    if (rc == rc_want && k == NULL && strstr (why, want))
        rcn_test_passed++;
    else {
        rcn_test_fail (__FILE__, line, "load refused");
        fprintf (stderr, "    rc %d (want %d), why \"%s\", wanted \"%s\"\n", rc, rc_want, why,
                 want);
    }
    rcn_keys_destroy (&k);
}

static void
test_unsafe_modes (void)
{
    char kd[512], sign[600], curve[600], why[512];
    path_in (kd, sizeof kd, "modes", NULL);
    path_in (sign, sizeof sign, "modes", "sign.key");
    path_in (curve, sizeof curve, "modes", "curve.key");
    REQUIRE (rcn_keys_create (kd, why, sizeof why) == RCN_OK);

    static const mode_t file_modes[] = { 0644, 0640, 0604, 0602, 0620, 0610, 0601 };
    for (size_t i = 0; i < sizeof file_modes / sizeof file_modes[0]; i++) {
        REQUIRE (chmod (sign, file_modes[i]) == 0);
        char want[700];
        snprintf (want, sizeof want, "%s: mode %04o", sign, (unsigned) file_modes[i]);
        expect_load (__LINE__, kd, RCN_EPERM, want);
    }
    REQUIRE (chmod (sign, 0600) == 0);
    REQUIRE (chmod (curve, 0644) == 0);
    expect_load (__LINE__, kd, RCN_EPERM, "curve.key: mode 0644");
    REQUIRE (chmod (curve, 0400) == 0);            /* read-only for the owner is fine */
    rcn_keys_t *k = NULL;
    CHECK_EQ (rcn_keys_load (kd, &k, why, sizeof why), RCN_OK);
    rcn_keys_destroy (&k);
    REQUIRE (chmod (curve, 0600) == 0);

    static const mode_t dir_modes[] = { 0755, 0750, 0705, 0701, 0710, 0770 };
    for (size_t i = 0; i < sizeof dir_modes / sizeof dir_modes[0]; i++) {
        REQUIRE (chmod (kd, dir_modes[i]) == 0);
        char want[700];
        snprintf (want, sizeof want, "%s: mode %04o", kd, (unsigned) dir_modes[i]);
        expect_load (__LINE__, kd, RCN_EPERM, want);
    }
    REQUIRE (chmod (kd, 0700) == 0);
    CHECK_EQ (rcn_keys_load (kd, &k, why, sizeof why), RCN_OK);
    rcn_keys_destroy (&k);

    /* Another user's file (only root can arrange that here). */
    if (geteuid () == 0) {
        REQUIRE (chown (curve, 4242, (gid_t) -1) == 0);
        expect_load (__LINE__, kd, RCN_EPERM, "curve.key: owned by uid 4242");
        REQUIRE (chown (curve, 0, (gid_t) -1) == 0);
        REQUIRE (chown (kd, 4242, (gid_t) -1) == 0);
        expect_load (__LINE__, kd, RCN_EPERM, "owned by uid 4242");
        REQUIRE (chown (kd, 0, (gid_t) -1) == 0);
    }

    /* A symlink in place of a key file is not followed. */
    char moved[700];
    snprintf (moved, sizeof moved, "%s/sign.moved", kd);
    REQUIRE (rename (sign, moved) == 0);
    REQUIRE (symlink ("sign.moved", sign) == 0);
    expect_load (__LINE__, kd, RCN_EIO, "sign.key");
    REQUIRE (unlink (sign) == 0);
    expect_load (__LINE__, kd, RCN_EIO, "sign.key");     /* missing */
    REQUIRE (rename (moved, sign) == 0);
    CHECK_EQ (rcn_keys_load (kd, &k, why, sizeof why), RCN_OK);
    rcn_keys_destroy (&k);
}

static void
write_file (const char *path, const uint8_t *data, size_t len)
{
    int fd = open (path, O_WRONLY | O_TRUNC | O_CREAT, 0600);
    REQUIRE (fd >= 0);
    REQUIRE (write (fd, data, len) == (ssize_t) len);
    close (fd);
}

static void
test_bad_contents (void)
{
    char kd[512], sign[600], curve[600], why[512];
    path_in (kd, sizeof kd, "sizes", NULL);
    path_in (sign, sizeof sign, "sizes", "sign.key");
    path_in (curve, sizeof curve, "sizes", "curve.key");
    REQUIRE (rcn_keys_create (kd, why, sizeof why) == RCN_OK);
    uint8_t good_sign[64], good_curve[32];
    int fd = open (sign, O_RDONLY);
    REQUIRE (fd >= 0 && read (fd, good_sign, 64) == 64);
    close (fd);
    fd = open (curve, O_RDONLY);
    REQUIRE (fd >= 0 && read (fd, good_curve, 32) == 32);
    close (fd);

    write_file (sign, good_sign, 63);
    expect_load (__LINE__, kd, RCN_EINVAL, "sign.key: 63 bytes, expected 64");
    uint8_t big[65];
    memcpy (big, good_sign, 64);
    big[64] = 0;
    write_file (sign, big, 65);
    expect_load (__LINE__, kd, RCN_EINVAL, "sign.key: 65 bytes, expected 64");
    write_file (sign, good_sign, 0);
    expect_load (__LINE__, kd, RCN_EINVAL, "sign.key: 0 bytes");
    write_file (sign, good_sign, 64);
    write_file (curve, good_curve, 31);
    expect_load (__LINE__, kd, RCN_EINVAL, "curve.key: 31 bytes, expected 32");
    write_file (curve, good_curve, 32);

    /* A stored public half that is not the seed's: corrupt or spliced. */
    uint8_t bad[64];
    memcpy (bad, good_sign, 64);
    bad[40] ^= 0x01;
    write_file (sign, bad, 64);
    expect_load (__LINE__, kd, RCN_EINVAL, "public half does not match");
    memcpy (bad, good_sign, 64);
    bad[3] ^= 0x80;                                  /* seed changed, public kept */
    write_file (sign, bad, 64);
    expect_load (__LINE__, kd, RCN_EINVAL, "public half does not match");

    write_file (sign, good_sign, 64);
    rcn_keys_t *k = NULL;
    CHECK_EQ (rcn_keys_load (kd, &k, why, sizeof why), RCN_OK);
    CHECK (k && memcmp (rcn_keys_sign_secret (k), good_sign, 64) == 0);
    rcn_keys_destroy (&k);

    /* A directory where a key file should be. */
    REQUIRE (unlink (curve) == 0);
    REQUIRE (mkdir (curve, 0700) == 0);
    expect_load (__LINE__, kd, RCN_EINVAL, "curve.key: not a regular file");
    REQUIRE (rmdir (curve) == 0);
}

int
main (void)
{
    REQUIRE (sodium_init () >= 0);
    root = rcn_test_tmpdir ("keys");
    RUN (test_round_trip);
    RUN (test_seeded);
    RUN (test_unsafe_modes);
    RUN (test_bad_contents);
    rcn_test_rmtree (root);
    free (root);
    return rcn_test_done ();
}
