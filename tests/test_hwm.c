/* test_hwm.c — the own-seq high-water mark {signed_seq, committed_seq}: absent reads {0, 0};
 * the exact file format (3: two checksummed slots, decoded here independently of hwm.c) and
 * mode; write/read round trip; slots written in turn, in place (same inode, no hwm.tmp);
 * a torn or corrupted slot passed over for the other, both bad refused; format 2 text marks
 * read and converted on the first write; committed never above signed (on write and on read);
 * committed never lowered, signed lowered only down to committed; tied to one origin; strict
 * about its format (format 1 refused by name); a file replaced or edited behind the kept
 * descriptor is seen; a failed write (whole or torn) leaves the old mark and no hwm.tmp
 * behind. Prints the time per write (not asserted).
 *
 * Each case is written so that it fails when the check it is about is taken out of hwm.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rcn/codec.h"
#include "rcn/hwm.h"
#include "testutil.h"

static char *dir;
static uint8_t origin[32], other[32];
static char hex[65];

static void
file_path (char *buf, size_t len, const char *name)
{
    snprintf (buf, len, "%s/%s", dir, name);
}

static void
put_file (const char *name, const char *text, size_t len, mode_t mode)
{
    char p[512];
    file_path (p, sizeof p, name);
    unlink (p);
    int fd = open (p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    REQUIRE (fd >= 0);
    REQUIRE (fchmod (fd, mode) == 0);
    REQUIRE (write (fd, text, len) == (ssize_t) len);
    close (fd);
}

static void
put (const char *text, size_t len)
{
    put_file ("hwm", text, len, 0600);
}

/* The file's bytes, NUL-terminated (a binary format 3 file has NULs inside: compare with
 * same()). len 0 when absent. */
typedef struct {
    char b[4096];
    size_t len;
} bytes_t;

static void
slurp (bytes_t *f)
{
    char p[512];
    file_path (p, sizeof p, "hwm");
    f->b[0] = '\0';
    f->len = 0;
    int fd = open (p, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t n = read (fd, f->b, sizeof f->b - 1);
    f->len = n > 0 ? (size_t) n : 0;
    f->b[f->len] = '\0';
    close (fd);
}

static bool
same (const bytes_t *a, const bytes_t *b)
{
    return a->len == b->len && memcmp (a->b, b->b, a->len) == 0;
}

static bool
same_text (const bytes_t *a, const char *text)
{
    return a->len == strlen (text) && memcmp (a->b, text, a->len) == 0;
}

/* ---- format 3, written and read here from hwm.h's description, not from hwm.c ---------- */

typedef struct {
    bool valid;                      /* magic and checksum hold */
    uint32_t version, index;
    uint8_t origin[32];
    uint64_t s, c, gen;
} slot_t;

static void
le_put (uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
le_get (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A slot with a good checksum (version, index and origin as given). */
static void
mk_slot (uint8_t *out, uint32_t version, uint32_t index, const uint8_t *org, uint64_t s,
         uint64_t c, uint64_t gen)
{
    memset (out, 0, 512);
    memcpy (out, "rcn-hwm3", 8);
    le_put (out + 8, version, 4);
    le_put (out + 12, index, 4);
    memcpy (out + 16, org, 32);
    le_put (out + 48, s, 8);
    le_put (out + 56, c, 8);
    le_put (out + 64, gen, 8);
    crypto_generichash (out + 480, 32, out, 480, NULL, 0);
}

static slot_t
rd_slot (const bytes_t *f, int i)
{
    slot_t r;
    memset (&r, 0, sizeof r);
    if (f->len != 1024)
        return r;
    const uint8_t *p = (const uint8_t *) f->b + 512 * i;
    uint8_t sum[32];
    crypto_generichash (sum, 32, p, 480, NULL, 0);
    r.valid = memcmp (p, "rcn-hwm3", 8) == 0 && memcmp (sum, p + 480, 32) == 0;
    r.version = (uint32_t) le_get (p + 8, 4);
    r.index = (uint32_t) le_get (p + 12, 4);
    memcpy (r.origin, p + 16, 32);
    r.s = le_get (p + 48, 8);
    r.c = le_get (p + 56, 8);
    r.gen = le_get (p + 64, 8);
    return r;
}

/* The slot holding the newest valid generation (-1: none). */
static int
newest (const bytes_t *f)
{
    slot_t a = rd_slot (f, 0), b = rd_slot (f, 1);
    if (!a.valid && !b.valid)
        return -1;
    return !a.valid ? 1 : !b.valid ? 0 : b.gen > a.gen ? 1 : 0;
}

/* Overwrites `len` bytes of the file at `off` in place (same inode). */
static void
poke (off_t off, const void *data, size_t len)
{
    char p[512];
    file_path (p, sizeof p, "hwm");
    int fd = open (p, O_WRONLY);
    REQUIRE (fd >= 0);
    REQUIRE (pwrite (fd, data, len, off) == (ssize_t) len);
    close (fd);
}

static bool
tmp_exists (void)
{
    char p[512];
    file_path (p, sizeof p, "hwm.tmp");
    return access (p, F_OK) == 0;
}

static void
fresh (void)
{
    char p[512];
    file_path (p, sizeof p, "hwm");
    unlink (p);
    file_path (p, sizeof p, "hwm.tmp");
    unlink (p);
}

static int
wr (uint64_t s, uint64_t c, char *why, size_t whylen)
{
    rcn_hwm_t m = { .signed_seq = s, .committed_seq = c };
    return rcn_hwm_write (dir, origin, &m, why, whylen);
}

/* Reads and CHECKs the stored mark against {s, c}. */
#define CHECK_MARK(s, c) do { \
        rcn_hwm_t _m = { 777, 777 }; char _w[512] = ""; \
        CHECK_EQ (rcn_hwm_read (dir, origin, &_m, _w, sizeof _w), RCN_OK); \
        CHECK (_m.signed_seq == (uint64_t) (s)); \
        CHECK (_m.committed_seq == (uint64_t) (c)); } while (0)

static void
test_absent_write_read (void)
{
    char why[512] = "", p[512];
    bytes_t f;
    rcn_hwm_t m = { 99, 98 };
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_OK);
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);

    /* Created 0600 whatever the umask lets through, format 3, the mark in both slots. */
    mode_t old = umask (0);
    CHECK_EQ (wr (5, 3, why, sizeof why), RCN_OK);
    umask (old);
    CHECK_MARK (5, 3);
    slurp (&f);
    CHECK_EQ (f.len, 1024);
    for (int i = 0; i < 2; i++) {
        slot_t sl = rd_slot (&f, i);
        CHECK (sl.valid && sl.version == 3 && sl.index == (uint32_t) i);
        CHECK (memcmp (sl.origin, origin, 32) == 0);
        CHECK (sl.s == 5 && sl.c == 3);
        CHECK_EQ (sl.gen, i == 0 ? 1 : 0);
    }
    file_path (p, sizeof p, "hwm");
    struct stat st;
    REQUIRE (stat (p, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);
    CHECK (!tmp_exists ());
    ino_t ino = st.st_ino;

    /* Steady state: in place (same inode, no hwm.tmp), the slots in turn, generation + 1. */
    CHECK_EQ (wr (1000000, 1000000, why, sizeof why), RCN_OK);
    CHECK_MARK (1000000, 1000000);
    slurp (&f);
    CHECK_EQ (newest (&f), 1);
    CHECK (rd_slot (&f, 1).gen == 2 && rd_slot (&f, 0).s == 5);     /* the old one is kept */
    CHECK_EQ (wr (UINT64_MAX, UINT64_MAX, why, sizeof why), RCN_OK);
    CHECK_MARK (UINT64_MAX, UINT64_MAX);
    slurp (&f);
    CHECK_EQ (newest (&f), 0);
    CHECK (rd_slot (&f, 0).gen == 3 && rd_slot (&f, 0).s == UINT64_MAX
           && rd_slot (&f, 0).c == UINT64_MAX && rd_slot (&f, 1).s == 1000000);
    CHECK (!tmp_exists ());
    REQUIRE (stat (p, &st) == 0);
    CHECK (st.st_ino == ino);
    CHECK_EQ (st.st_size, 1024);

    /* Writing the stored value again only syncs it: no slot is written. */
    bytes_t before;
    slurp (&before);
    CHECK_EQ (wr (UINT64_MAX, UINT64_MAX, why, sizeof why), RCN_OK);
    slurp (&f);
    CHECK (same (&before, &f));
    REQUIRE (stat (p, &st) == 0);
    CHECK (st.st_ino == ino);

    /* Many writes: the generation counts them, the slots alternate. */
    fresh ();
    CHECK_EQ (wr (1, 1, why, sizeof why), RCN_OK);
    for (uint64_t i = 2; i <= 40; i++) {
        CHECK_EQ (wr (i + 1, i, why, sizeof why), RCN_OK);
        slurp (&f);
        int n = newest (&f);
        CHECK_EQ (n, (int) (i % 2 == 0 ? 1 : 0));
        CHECK_EQ (rd_slot (&f, n).gen, i);
        CHECK (rd_slot (&f, 1 - n).c == i - 1);                    /* the previous mark */
    }
    CHECK_MARK (41, 40);

    /* A stale hwm.tmp from a crash, world-readable, is simply replaced when the file is
     * created or converted, and the mark that results is 0600 all the same. */
    fresh ();
    char want[200];
    snprintf (want, sizeof want, "rcn-hwm 2 %s 7 7\n", hex);
    put (want, strlen (want));
    put_file ("hwm.tmp", "junk that is longer than a mark would be, to see it truncated\n",
              62, 0644);
    CHECK_EQ (wr (8, 7, why, sizeof why), RCN_OK);
    CHECK (!tmp_exists ());
    CHECK_MARK (8, 7);
    REQUIRE (stat (p, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);
    slurp (&f);
    CHECK (f.len == 1024 && rd_slot (&f, 0).valid && rd_slot (&f, 0).s == 8);
}

/* Format 2 text marks (older node dirs, tests/durability) are read, kept as they are by
 * refused writes, and converted to format 3 by the first accepted one. */
static void
test_v2_migration (void)
{
    char why[512] = "", text[200], p[512];
    bytes_t f;
    snprintf (text, sizeof text, "rcn-hwm 2 %s 7 5\n", hex);
    put (text, strlen (text));
    CHECK_MARK (7, 5);
    CHECK_EQ (wr (9, 4, why, sizeof why), RCN_EINVAL);                /* lowers committed */
    CHECK (strstr (why, "from 5 to 4") != NULL);
    slurp (&f);
    CHECK (same_text (&f, text));
    CHECK_EQ (wr (7, 5, why, sizeof why), RCN_OK);                    /* same value: converted */
    slurp (&f);
    CHECK_EQ (f.len, 1024);
    CHECK_MARK (7, 5);
    CHECK_EQ (wr (8, 6, why, sizeof why), RCN_OK);
    CHECK_MARK (8, 6);
    CHECK (!tmp_exists ());
    struct stat st;
    file_path (p, sizeof p, "hwm");
    REQUIRE (stat (p, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);
    CHECK_EQ (st.st_size, 1024);
}

/* A slot torn by a write cut short (or corrupted) is passed over: the other, older mark is
 * read, and the next write goes into the damaged slot. Both bad: refused, naming the file. */
static void
test_torn_slot (void)
{
    char why[512] = "";
    bytes_t f;
    CHECK_EQ (wr (10, 10, why, sizeof why), RCN_OK);                  /* slot 0, gen 1 */
    CHECK_EQ (wr (12, 11, why, sizeof why), RCN_OK);                  /* slot 1, gen 2 */
    CHECK_EQ (wr (13, 12, why, sizeof why), RCN_OK);                  /* slot 0, gen 3 */
    slurp (&f);
    REQUIRE (newest (&f) == 0);
    /* Half of slot 0 rewritten with other bytes: its checksum fails. */
    uint8_t junk[200];
    memset (junk, 0x5a, sizeof junk);
    poke (100, junk, sizeof junk);
    CHECK_MARK (12, 11);
    /* Only its checksum torn (the fields intact): passed over all the same. */
    CHECK_EQ (wr (14, 13, why, sizeof why), RCN_OK);                  /* into slot 0, gen 3 */
    slurp (&f);
    CHECK (newest (&f) == 0 && rd_slot (&f, 0).gen == 3);
    CHECK_MARK (14, 13);
    uint8_t flip = (uint8_t) (f.b[500] ^ 1);
    poke (500, &flip, 1);
    CHECK_MARK (12, 11);
    /* And the refusals judge against what reads, the older mark. */
    CHECK_EQ (wr (11, 11, why, sizeof why), RCN_OK);
    CHECK_MARK (11, 11);
    slurp (&f);
    CHECK (newest (&f) == 0 && rd_slot (&f, 0).gen == 3 && rd_slot (&f, 1).gen == 2);

    /* Both slots bad: no mark can be trusted, and a write cannot paper over it. */
    poke (600, junk, sizeof junk);
    poke (100, junk, sizeof junk);
    rcn_hwm_t m = { 5, 5 };
    why[0] = '\0';
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "/hwm") && strstr (why, "neither of its two slots"));
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);
    bytes_t before;
    slurp (&before);
    why[0] = '\0';
    CHECK_EQ (wr (100, 100, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "neither") != NULL);
    slurp (&f);
    CHECK (same (&before, &f));
    CHECK (!tmp_exists ());
}

/* The kept descriptor never hides the file: one replaced (another inode) or edited in place
 * behind it is what the next write judges against. */
static void
test_behind_the_cache (void)
{
    char why[512] = "", text[200];
    CHECK_EQ (wr (10, 10, why, sizeof why), RCN_OK);
    CHECK_EQ (wr (11, 11, why, sizeof why), RCN_OK);                  /* descriptor kept */
    snprintf (text, sizeof text, "rcn-hwm 2 %s 50 50\n", hex);
    put (text, strlen (text));                                        /* a new inode */
    CHECK_EQ (wr (12, 12, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "from 50 to 12") != NULL);
    CHECK_EQ (wr (51, 50, why, sizeof why), RCN_OK);
    CHECK_MARK (51, 50);
    /* In place: a slot of a higher generation, written by someone else. */
    uint8_t s[512];
    mk_slot (s, 3, 1, origin, 70, 70, 1000);
    poke (512, s, sizeof s);
    CHECK_EQ (wr (60, 60, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "from 70 to 60") != NULL);
    CHECK_EQ (wr (71, 71, why, sizeof why), RCN_OK);
    bytes_t f;
    slurp (&f);
    CHECK (newest (&f) == 0 && rd_slot (&f, 0).gen == 1001);
    CHECK_MARK (71, 71);
    /* Removed behind it: created afresh, nothing refused. */
    fresh ();
    CHECK_EQ (wr (3, 3, why, sizeof why), RCN_OK);
    CHECK_MARK (3, 3);
}

/* Format 3 files whose checksums hold but which say something wrong are refused by name. */
static void
test_v3_garbage (void)
{
    struct { uint32_t version, index; const uint8_t *org; uint64_t s, c; const char *needle; }
    bad[] = {
        { 4, 0, origin, 5, 5, "format 4" },
        { 3, 1, origin, 5, 5, "another slot" },
        { 3, 0, other, 5, 5, "another member" },
        { 3, 0, origin, 5, 6, "committed_seq 6 is above signed_seq 5" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t f[1024];
        mk_slot (f, bad[i].version, bad[i].index, bad[i].org, bad[i].s, bad[i].c, 9);
        mk_slot (f + 512, 3, 1, origin, 4, 4, 8);
        put ((const char *) f, sizeof f);
        char why[512] = "";
        rcn_hwm_t m = { 1, 1 };
        CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
        if (!strstr (why, "/hwm") || !strstr (why, bad[i].needle)) {
            CHECK (!"the message names the file and what is wrong");
            fprintf (stderr, "    case %zu: %s\n", i, why);
        }
        CHECK (m.signed_seq == 0 && m.committed_seq == 0);
        CHECK_EQ (wr (100, 100, why, sizeof why), RCN_EINVAL);
    }
    /* Non-zero padding (checksum recomputed over it). */
    uint8_t f[1024];
    mk_slot (f, 3, 0, origin, 5, 5, 2);
    f[300] = 1;
    crypto_generichash (f + 480, 32, f, 480, NULL, 0);
    mk_slot (f + 512, 3, 1, origin, 4, 4, 1);
    put ((const char *) f, sizeof f);
    char why[512] = "";
    rcn_hwm_t m;
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "padding") != NULL);
    /* Equal generations, different marks. */
    mk_slot (f, 3, 0, origin, 5, 5, 2);
    mk_slot (f + 512, 3, 1, origin, 6, 6, 2);
    put ((const char *) f, sizeof f);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "both slots are generation 2") != NULL);
    /* One good slot alone, the other all zeros: read. */
    memset (f, 0, 512);
    put ((const char *) f, sizeof f);
    CHECK_MARK (6, 6);
    /* 1024 bytes of anything: neither slot. Longer than 1024: too long. */
    memset (f, 'x', sizeof f);
    put ((const char *) f, sizeof f);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "neither") != NULL);
    char big[1100];
    memset (big, 'x', sizeof big);
    put (big, sizeof big);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "longer than 1024") != NULL);
    fresh ();
}

static void
test_committed_above_signed (void)
{
    char why[512] = "";
    bytes_t before, after;
    CHECK_EQ (wr (10, 4, why, sizeof why), RCN_OK);
    slurp (&before);
    why[0] = '\0';
    CHECK_EQ (wr (3, 4, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "hwm") && strstr (why, "committed_seq 4") && strstr (why, "signed_seq 3"));
    CHECK_EQ (wr (10, 11, why, sizeof why), RCN_EINVAL);
    slurp (&after);
    CHECK (same (&before, &after));
    CHECK_MARK (10, 4);
    CHECK (!tmp_exists ());
    /* Even on a fresh key dir, where nothing stored would refuse it. */
    fresh ();
    CHECK_EQ (wr (0, 1, why, sizeof why), RCN_EINVAL);
    slurp (&after);
    CHECK (after.len == 0);

    /* A file that claims it is refused on read, and a write cannot paper over it. */
    char bad[200];
    snprintf (bad, sizeof bad, "rcn-hwm 2 %s 4 5\n", hex);
    put (bad, strlen (bad));
    rcn_hwm_t m = { 1, 1 };
    why[0] = '\0';
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "hwm") && strstr (why, "committed_seq 5 is above signed_seq 4"));
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);
    CHECK_EQ (wr (100, 100, why, sizeof why), RCN_EINVAL);
    slurp (&after);
    CHECK (same_text (&after, bad));
}

static void
test_committed_never_lowered (void)
{
    char why[512] = "";
    CHECK_EQ (wr (10, 10, why, sizeof why), RCN_OK);
    why[0] = '\0';
    CHECK_EQ (wr (12, 9, why, sizeof why), RCN_EINVAL);          /* signed up, committed down */
    CHECK (strstr (why, "hwm") && strstr (why, "lower") && strstr (why, "from 10 to 9"));
    CHECK_EQ (wr (9, 9, why, sizeof why), RCN_EINVAL);           /* signed below committed */
    CHECK_EQ (wr (0, 0, why, sizeof why), RCN_EINVAL);
    CHECK_MARK (10, 10);

    /* signed_seq goes up ahead of a group, then may come back down to committed_seq (the node
     * at start, for seqs signed but never committed) — and not one below it. */
    CHECK_EQ (wr (20, 10, why, sizeof why), RCN_OK);
    CHECK_MARK (20, 10);
    CHECK_EQ (wr (10, 10, why, sizeof why), RCN_OK);
    CHECK_MARK (10, 10);
    CHECK_EQ (wr (15, 12, why, sizeof why), RCN_OK);
    CHECK_EQ (wr (13, 12, why, sizeof why), RCN_OK);
    CHECK_MARK (13, 12);
    CHECK_EQ (wr (11, 11, why, sizeof why), RCN_EINVAL);
    CHECK_EQ (wr (11, 10, why, sizeof why), RCN_EINVAL);
    CHECK_MARK (13, 12);
    CHECK_EQ (wr (12, 12, why, sizeof why), RCN_OK);
    CHECK_MARK (12, 12);
    CHECK (!tmp_exists ());
}

static void
test_other_origin (void)
{
    char why[512] = "";
    CHECK_EQ (wr (100, 90, why, sizeof why), RCN_OK);
    rcn_hwm_t m = { 7, 7 }, big = { 200, 200 };
    why[0] = '\0';
    CHECK_EQ (rcn_hwm_read (dir, other, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "hwm") && strstr (why, "another member"));
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);
    CHECK_EQ (rcn_hwm_write (dir, other, &big, why, sizeof why), RCN_EINVAL);
    CHECK_MARK (100, 90);
}

static void
test_garbage (void)
{
    char upper[65];
    memcpy (upper, hex, 65);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char) (*c - 32);
    const char *max = "18446744073709551615", *over = "18446744073709551616";   /* 2^64 */
    struct { char text[240]; const char *needle; } bad[32];
    int n = 0;
#define BAD(needle_, ...) do { snprintf (bad[n].text, sizeof bad[n].text, __VA_ARGS__); \
                               bad[n++].needle = needle_; } while (0)
    BAD ("does not start", "%s", "");
    BAD ("does not start", "garbage\n");
    BAD ("does not start", "rcn-hwm 3 %s 5 5\n", hex);
    BAD ("does not start", "rcn-hwm  2 %s 5 5\n", hex);
    BAD ("format 1", "rcn-hwm 1 %s 5\n", hex);                  /* an older rcn's mark */
    BAD ("newline", "rcn-hwm 2 %s 5 5", hex);                   /* no newline: torn */
    BAD ("newline", "rcn-hwm 2 %s 5 5\n\n", hex);
    BAD ("newline", "rcn-hwm 2 %s 5 5 \n", hex);
    BAD ("newline", "rcn-hwm 2 %s 5 5x\n", hex);
    BAD ("committed_seq after", "rcn-hwm 2 %s 5\n", hex);       /* format 1's shape */
    BAD ("committed_seq after", "rcn-hwm 2 %s 5\t5\n", hex);
    BAD ("committed_seq is not", "rcn-hwm 2 %s 5  5\n", hex);
    BAD ("committed_seq is not", "rcn-hwm 2 %s 5 -5\n", hex);
    BAD ("committed_seq is not", "rcn-hwm 2 %s 5 05\n", hex);
    BAD ("committed_seq is not", "rcn-hwm 2 %s 5 00\n", hex);
    BAD ("signed_seq is not", "rcn-hwm 2 %s 05 5\n", hex);
    BAD ("signed_seq is not", "rcn-hwm 2 %s  5 5\n", hex);
    BAD ("signed_seq is not", "rcn-hwm 2 %s -5 5\n", hex);
    BAD ("signed_seq overflows", "rcn-hwm 2 %s %s 5\n", hex, over);
    BAD ("committed_seq overflows", "rcn-hwm 2 %s %s %s\n", hex, max, over);
    BAD ("64 hex", "rcn-hwm 2 %.63s 5 5\n", hex);
    BAD ("64 lowercase hex", "rcn-hwm 2 %s 5 5\n", upper);
    BAD ("64 lowercase hex", "rcn-hwm 2 %.63sg 5 5\n", hex);
    BAD ("above signed_seq", "rcn-hwm 2 %s 5 6\n", hex);
#undef BAD
    for (int i = 0; i < n; i++) {
        put (bad[i].text, strlen (bad[i].text));
        char why[512] = "";
        rcn_hwm_t m = { 1234, 1234 };
        CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
        if (!strstr (why, "/hwm") || !strstr (why, bad[i].needle)) {
            CHECK (!"the message names the file and what is wrong");
            fprintf (stderr, "    case %d \"%s\": %s\n", i, bad[i].text, why);
        }
        CHECK (m.signed_seq == 0 && m.committed_seq == 0);
        /* Nor can a write paper over it: the file stays as it was. */
        bytes_t after;
        CHECK_EQ (wr (1u << 30, 1u << 30, why, sizeof why), RCN_EINVAL);
        slurp (&after);
        CHECK (same_text (&after, bad[i].text));
    }
    /* The older format is named, with what to do about it. */
    put (bad[4].text, strlen (bad[4].text));
    char why[512] = "";
    rcn_hwm_t m;
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "older rcn") && strstr (why, "rcn-hwm 2 <origin> N N"));

    char big[400];
    memset (big, '9', sizeof big);
    put (big, sizeof big);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "longer than") != NULL);
    put ("rcn-hwm 2 \0", 11);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EINVAL);

    char good[240];
    snprintf (good, sizeof good, "rcn-hwm 2 %s 0 0\n", hex);
    put (good, strlen (good));
    CHECK_MARK (0, 0);
    snprintf (good, sizeof good, "rcn-hwm 2 %s %s 0\n", hex, max);
    put (good, strlen (good));
    CHECK_MARK (UINT64_MAX, 0);
    snprintf (good, sizeof good, "rcn-hwm 2 %s %s %s\n", hex, max, max);
    put (good, strlen (good));
    CHECK_MARK (UINT64_MAX, UINT64_MAX);

    /* A symlink is not followed: the mark is a file of the key dir's own. */
    fresh ();
    snprintf (good, sizeof good, "rcn-hwm 2 %s 3 3\n", hex);
    put_file ("real", good, strlen (good), 0600);
    char p[512], target[512];
    file_path (p, sizeof p, "hwm");
    file_path (target, sizeof target, "real");
    REQUIRE (symlink (target, p) == 0);
    CHECK_EQ (rcn_hwm_read (dir, origin, &m, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, "/hwm") != NULL);
    unlink (p);
    unlink (target);
}

static void
test_no_dir (void)
{
    char why[512] = "", p[512];
    rcn_hwm_t m = { 5, 5 }, one = { 1, 1 };
    file_path (p, sizeof p, "missing");
    CHECK_EQ (rcn_hwm_read (p, origin, &m, why, sizeof why), RCN_OK);      /* no mark yet */
    CHECK (m.signed_seq == 0 && m.committed_seq == 0);
    CHECK_EQ (rcn_hwm_write (p, origin, &one, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, p) != NULL);
}

/* Sets the file size limit to `limit` bytes (SIGXFSZ ignored) around one write. */
static int
wr_limited (rlim_t limit, uint64_t sq, uint64_t c, char *why, size_t whylen)
{
    struct rlimit old, small;
    REQUIRE (getrlimit (RLIMIT_FSIZE, &old) == 0);
    small = old;
    small.rlim_cur = limit;
    void (*prev) (int) = signal (SIGXFSZ, SIG_IGN);
    REQUIRE (setrlimit (RLIMIT_FSIZE, &small) == 0);
    why[0] = '\0';
    int rc = wr (sq, c, why, whylen);
    REQUIRE (setrlimit (RLIMIT_FSIZE, &old) == 0);
    signal (SIGXFSZ, prev);
    return rc;
}

/* A write that fails half-way (here: the file size limit stops it) reports it and keeps the
 * old mark: while converting (the write to hwm.tmp fails: hwm.tmp removed), and in the steady
 * state, whole (nothing of the slot written) or torn (its first bytes written). */
static void
test_failed_write (void)
{
    char why[512] = "", text[200];
    bytes_t before, after;
    snprintf (text, sizeof text, "rcn-hwm 2 %s 10 10\n", hex);
    put (text, strlen (text));
    slurp (&before);
    CHECK_EQ (wr_limited (16, 20, 20, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, "hwm.tmp") != NULL);
    CHECK (!tmp_exists ());
    slurp (&after);
    CHECK (same (&before, &after));
    CHECK_MARK (10, 10);

    CHECK_EQ (wr (10, 10, why, sizeof why), RCN_OK);                  /* converted: slot 0 */
    CHECK_EQ (wr_limited (16, 20, 20, why, sizeof why), RCN_EIO);     /* slot 1: nothing */
    CHECK (strstr (why, "/hwm") && strstr (why, "slot 1"));
    CHECK_MARK (10, 10);
    CHECK_EQ (wr (11, 11, why, sizeof why), RCN_OK);                  /* slot 1, gen 2 */
    CHECK_EQ (wr_limited (100, 20, 20, why, sizeof why), RCN_EIO);    /* slot 0: 100 bytes */
    CHECK (strstr (why, "slot 0") != NULL);
    slurp (&after);
    CHECK (!rd_slot (&after, 0).valid && rd_slot (&after, 1).valid);  /* torn */
    CHECK_MARK (11, 11);
    CHECK_EQ (wr (12, 12, why, sizeof why), RCN_OK);                  /* into the torn slot */
    CHECK_MARK (12, 12);
    slurp (&after);
    CHECK (newest (&after) == 0 && rd_slot (&after, 0).gen == 3);
    CHECK (!tmp_exists ());
}

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* Time per write, steady state (printed, not asserted: it measures the disk under $TMPDIR). */
static void
time_writes (void)
{
    enum { N = 200 };
    static double us[N];
    char why[512] = "";
    CHECK_EQ (wr (1, 1, why, sizeof why), RCN_OK);
    for (int i = 0; i < N; i++) {
        struct timespec a, b;
        clock_gettime (CLOCK_MONOTONIC, &a);
        int rc = wr ((uint64_t) i + 3, (uint64_t) i + 2, why, sizeof why);
        clock_gettime (CLOCK_MONOTONIC, &b);
        if (rc != RCN_OK) {
            CHECK_EQ (rc, RCN_OK);
            return;
        }
        us[i] = (double) (b.tv_sec - a.tv_sec) * 1e6 + (double) (b.tv_nsec - a.tv_nsec) / 1e3;
    }
    qsort (us, N, sizeof us[0], cmp_double);
    fprintf (stderr, "    rcn_hwm_write in %s: p50 %.0f us, p99 %.0f us, max %.0f us (%d writes)\n",
             dir, us[N / 2], us[N * 99 / 100], us[N - 1], N);
}

int
main (void)
{
    dir = rcn_test_tmpdir ("hwm");
    for (int i = 0; i < 32; i++) {
        origin[i] = (uint8_t) (i * 7 + 1);
        other[i] = (uint8_t) (i * 7 + 2);
    }
    rcn_hex (origin, 32, hex);
    RUN (test_absent_write_read);
    fresh ();
    RUN (test_v2_migration);
    fresh ();
    RUN (test_torn_slot);
    fresh ();
    RUN (test_behind_the_cache);
    fresh ();
    RUN (test_v3_garbage);
    fresh ();
    RUN (test_committed_above_signed);
    fresh ();
    RUN (test_committed_never_lowered);
    fresh ();
    RUN (test_other_origin);
    RUN (test_garbage);
    fresh ();
    RUN (test_no_dir);
    fresh ();
    RUN (test_failed_write);
    fresh ();
    RUN (time_writes);
    rcn_test_rmtree (dir);
    free (dir);
    return rcn_test_done ();
}
