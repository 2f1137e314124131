/* test_conf.c — node.conf: write → load round trip, defaults, path resolution, and every kind
 * of refusal with the right line number. */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcn/conf.h"
#include "testutil.h"

static char *root;
static char real_root[1024];

static void
sample (rcn_conf_t *c)
{
    memset (c, 0, sizeof *c);
    c->region = 310000;
    snprintf (c->name, sizeof c->name, "上海");
    snprintf (c->pub, sizeof c->pub, "tcp://sh.example.cn:7000");
    snprintf (c->sync, sizeof c->sync, "tcp://sh.example.cn:7001");
    snprintf (c->roster_path, sizeof c->roster_path, "alliance/roster.json");
    snprintf (c->keys_path, sizeof c->keys_path, "keys");
    snprintf (c->data_path, sizeof c->data_path, "/var/lib/rcn-test/data");
    snprintf (c->log_level, sizeof c->log_level, "debug");
    c->map_size_mb = 2048;
    snprintf (c->operator_name, sizeof c->operator_name, "Li Wei");
    c->pub_hwm = 50;
    snprintf (c->source_address, sizeof c->source_address, "10.0.0.7");
}

static char *
node_dir (const char *name)
{
    char *p = malloc (PATH_MAX);
    REQUIRE (p);
    snprintf (p, PATH_MAX, "%s/%s", root, name);
    REQUIRE (mkdir (p, 0700) == 0);
    return p;
}

static void
test_round_trip (void)
{
    char *d = node_dir ("rt");
    rcn_conf_t c, got;
    sample (&c);
    char why[1024] = "";
    int rc = rcn_conf_write (d, &c, why, sizeof why);
    if (rc)
        fprintf (stderr, "    why: %s\n", why);
    REQUIRE (rc == RCN_OK);
    char p[PATH_MAX + 32];
    snprintf (p, sizeof p, "%s/node.conf", d);
    struct stat st;
    REQUIRE (stat (p, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);

    memset (&got, 0x5a, sizeof got);
    rc = rcn_conf_load (d, &got, why, sizeof why);
    if (rc)
        fprintf (stderr, "    why: %s\n", why);
    REQUIRE (rc == RCN_OK);
    char want[PATH_MAX + 64];
    snprintf (want, sizeof want, "%s/rt", real_root);
    CHECK (strcmp (got.dir, want) == 0);
    CHECK_EQ (got.region, 310000);
    CHECK (strcmp (got.name, "上海") == 0);
    CHECK (strcmp (got.pub, c.pub) == 0);
    CHECK (strcmp (got.sync, c.sync) == 0);
    snprintf (want, sizeof want, "%s/rt/alliance/roster.json", real_root);
    CHECK (strcmp (got.roster_path, want) == 0);
    snprintf (want, sizeof want, "%s/rt/keys", real_root);
    CHECK (strcmp (got.keys_path, want) == 0);
    CHECK (strcmp (got.data_path, "/var/lib/rcn-test/data") == 0);
    CHECK (strcmp (got.log_level, "debug") == 0);
    CHECK_EQ (got.map_size_mb, 2048);
    CHECK (strcmp (got.operator_name, "Li Wei") == 0);
    CHECK_EQ (got.pub_hwm, 50);
    CHECK (strcmp (got.source_address, "10.0.0.7") == 0);

    /* The file explains itself: every key has a comment before it. */
    FILE *f = fopen (p, "r");
    REQUIRE (f);
    char line[512], prev[512] = "";
    int keys = 0, commented = 0;
    while (fgets (line, sizeof line, f)) {
        if (line[0] != '#' && line[0] != '\n' && strchr (line, '=')) {
            keys++;
            commented += prev[0] == '#';
        }
        snprintf (prev, sizeof prev, "%s", line);
    }
    fclose (f);
    CHECK_EQ (keys, 12);
    CHECK_EQ (commented, keys);

    /* Loaded paths are absolute; writing the loaded conf elsewhere keeps them working. */
    char *d2 = node_dir ("rt2");
    CHECK_EQ (rcn_conf_write (d2, &got, why, sizeof why), RCN_OK);
    rcn_conf_t got2;
    CHECK_EQ (rcn_conf_load (d2, &got2, why, sizeof why), RCN_OK);
    CHECK (strcmp (got2.roster_path, got.roster_path) == 0);
    CHECK (strcmp (got2.keys_path, got.keys_path) == 0);
    /* ... and into its own dir they are written relative again. */
    char *d3 = node_dir ("rt3");
    snprintf (got.dir, sizeof got.dir, "%s/rt3", real_root);
    snprintf (got.keys_path, sizeof got.keys_path, "%s/rt3/k", real_root);
    CHECK_EQ (rcn_conf_write (d3, &got, why, sizeof why), RCN_OK);
    snprintf (p, sizeof p, "%s/node.conf", d3);
    f = fopen (p, "r");
    REQUIRE (f);
    bool relative = false;
    while (fgets (line, sizeof line, f))
        relative |= strcmp (line, "keys = k\n") == 0;
    fclose (f);
    CHECK (relative);

    /* No overwrite. */
    CHECK_EQ (rcn_conf_write (d, &c, why, sizeof why), RCN_EBUSY);
    CHECK (strstr (why, "node.conf") != NULL);

    /* rcn_conf_path */
    char buf[PATH_MAX + 64];
    rcn_conf_path (&got2, "control", buf, sizeof buf);
    snprintf (want, sizeof want, "%s/rt2/control.sock", real_root);
    CHECK (strcmp (buf, want) == 0);
    rcn_conf_path (&got2, "lock", buf, sizeof buf);
    snprintf (want, sizeof want, "%s/rt2/rcnode.lock", real_root);
    CHECK (strcmp (buf, want) == 0);
    rcn_conf_path (&got2, "roster", buf, sizeof buf);
    CHECK (strcmp (buf, got2.roster_path) == 0);
    free (d);
    free (d2);
    free (d3);
}

static void
test_defaults (void)
{
    char *d = node_dir ("defaults");
    rcn_conf_t c, got;
    sample (&c);
    c.roster_path[0] = c.keys_path[0] = c.data_path[0] = c.log_level[0] = '\0';
    c.map_size_mb = 0;
    c.operator_name[0] = '\0';
    c.pub_hwm = 0;
    c.source_address[0] = '\0';
    char why[1024] = "";
    REQUIRE (rcn_conf_write (d, &c, why, sizeof why) == RCN_OK);
    REQUIRE (rcn_conf_load (d, &got, why, sizeof why) == RCN_OK);
    char want[PATH_MAX + 64];
    snprintf (want, sizeof want, "%s/defaults/roster.json", real_root);
    CHECK (strcmp (got.roster_path, want) == 0);
    snprintf (want, sizeof want, "%s/defaults/keys", real_root);
    CHECK (strcmp (got.keys_path, want) == 0);
    snprintf (want, sizeof want, "%s/defaults/data", real_root);
    CHECK (strcmp (got.data_path, want) == 0);
    CHECK (strcmp (got.log_level, "info") == 0);
    CHECK_EQ (got.map_size_mb, 64);
    CHECK (strcmp (got.operator_name, "") == 0);
    CHECK_EQ (got.pub_hwm, RCN_CONF_HWM_DEFAULT);
    CHECK_EQ (got.pub_hwm, 1000);              /* libzmq's, what the transport used before */
    CHECK (strcmp (got.source_address, "") == 0);  /* none: the system picks */
    /* A default is written commented out, with its value, for the operator to see. */
    char p0[PATH_MAX + 32], line[512];
    snprintf (p0, sizeof p0, "%s/node.conf", d);
    FILE *f0 = fopen (p0, "r");
    REQUIRE (f0);
    bool shown = false, source_shown = false;
    while (fgets (line, sizeof line, f0)) {
        shown |= strcmp (line, "# pub_hwm = 1000\n") == 0;
        source_shown |= strcmp (line, "# source_address = 127.0.0.3\n") == 0;
    }
    fclose (f0);
    CHECK (shown);
    CHECK (source_shown);                      /* documented, commented out, with an example */
    free (d);

    /* Minimal hand-written file: spaces optional, tabs, CRLF, comments and blank lines. */
    d = node_dir ("minimal");
    char p[PATH_MAX + 32];
    snprintf (p, sizeof p, "%s/node.conf", d);
    FILE *f = fopen (p, "w");
    REQUIRE (f);
    fputs ("# comment\n\n   # indented comment\nregion=440400\r\n\tname =Zhuhai  \n"
           "pub= tcp://10.0.0.1:7000\nsync   =   tcp://10.0.0.1:7001\n", f);
    fputs ("operator = Wang # not a comment: the whole value\n", f);
    fclose (f);
    REQUIRE (rcn_conf_load (d, &got, why, sizeof why) == RCN_OK);
    CHECK_EQ (got.region, 440400);
    CHECK (strcmp (got.name, "Zhuhai") == 0);
    CHECK (strcmp (got.pub, "tcp://10.0.0.1:7000") == 0);
    CHECK (strcmp (got.sync, "tcp://10.0.0.1:7001") == 0);
    CHECK (strcmp (got.operator_name, "Wang # not a comment: the whole value") == 0);
    CHECK_EQ (got.pub_hwm, RCN_CONF_HWM_DEFAULT);
    CHECK (strcmp (got.source_address, "") == 0);

        /* The node dir reached through a symlink is stored resolved. */
    char link[PATH_MAX + 32];
    snprintf (link, sizeof link, "%s/via-link", root);
    REQUIRE (symlink (d, link) == 0);
    REQUIRE (rcn_conf_load (link, &got, why, sizeof why) == RCN_OK);
    snprintf (want, sizeof want, "%s/minimal", real_root);
    CHECK (strcmp (got.dir, want) == 0);
    free (d);
}

static int n_bad;

/* Loads `text` as node.conf of a fresh dir; expects RCN_EINVAL and `want` in why. */
static void
expect_bad (int line, const char *text, const char *want)
{
    char name[32];
    snprintf (name, sizeof name, "bad%d", n_bad++);
    char *d = node_dir (name);
    char p[PATH_MAX + 32];
    snprintf (p, sizeof p, "%s/node.conf", d);
    FILE *f = fopen (p, "w");
    REQUIRE (f);
    fputs (text, f);
    fclose (f);
    rcn_conf_t c;
    char why[1024] = "";
    int rc = rcn_conf_load (d, &c, why, sizeof why);
    if (rc == RCN_EINVAL && strstr (why, want))
        rcn_test_passed++;
    else {
        rcn_test_fail (__FILE__, line, "node.conf refused with the line number");
        fprintf (stderr, "    rc %d, why \"%s\", wanted \"%s\"\n", rc, why, want);
    }
    free (d);
}
#define BAD(text, want) expect_bad (__LINE__, text, want)

#define L1 "region = 310000\n"
#define L2 "name = Shanghai\n"
#define L3 "pub = tcp://sh:7000\n"
#define L4 "sync = tcp://sh:7001\n"

/* Loads a node dir `name` whose node.conf is the four lines above plus `line` (the reason goes
 * to stderr when it is refused). */
static int
load_with (const char *name, const char *line, rcn_conf_t *got)
{
    char *d = node_dir (name);
    char p[PATH_MAX + 32];
    snprintf (p, sizeof p, "%s/node.conf", d);
    FILE *f = fopen (p, "w");
    REQUIRE (f);
    fputs (L1 L2 L3 L4, f);
    fputs (line, f);
    fclose (f);
    char why[1024] = "";
    int rc = rcn_conf_load (d, got, why, sizeof why);
    if (rc)
        fprintf (stderr, "    %s: why: %s\n", line, why);
    free (d);
    return rc;
}

/* pub_hwm: taken at both ends of its range and in between (the default when absent is checked
 * in test_defaults, the refusals in test_errors). */
static void
test_pub_hwm (void)
{
    static const struct {
        const char *line;
        uint32_t want;
    } cases[] = {
        { "pub_hwm = 1\n", 1 },
        { "pub_hwm=1000000\n", 1000000 },
        { "\tpub_hwm =  50 \r\n", 50 },
        { "# pub_hwm = 7\n", RCN_CONF_HWM_DEFAULT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf (name, sizeof name, "hwm%zu", i);
        rcn_conf_t got;
        int rc = load_with (name, cases[i].line, &got);
        CHECK_EQ (rc, RCN_OK);
        CHECK_EQ (got.pub_hwm, cases[i].want);
    }
}

/* source_address: IPv4 dotted quads are taken as written (the refusals are in test_errors). */
static void
test_source_address (void)
{
    static const struct {
        const char *line;
        const char *want;
    } cases[] = {
        { "source_address = 127.0.0.3\n", "127.0.0.3" },
        { "source_address=10.20.30.40\r\n", "10.20.30.40" },
        { "\tsource_address =  255.255.255.255 \n", "255.255.255.255" },
        { "# source_address = 127.0.0.9\n", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf (name, sizeof name, "src%zu", i);
        rcn_conf_t got;
        int rc = load_with (name, cases[i].line, &got);
        CHECK_EQ (rc, RCN_OK);
        CHECK (rc != RCN_OK || strcmp (got.source_address, cases[i].want) == 0);
    }
}

static void
test_errors (void)
{
    BAD (L1 L2 L3 L4 "pbu = tcp://sh:7002\n", "node.conf:5: unknown key 'pbu'");
    BAD ("# header\n\n" L1 L2 "\n# endpoints\n" L3 L4 "Region = 310000\n",
         "node.conf:9: unknown key 'Region'");
    BAD (L1 L2 L3 L4 "name = Again\n", "node.conf:5: duplicate key 'name' (first set on line 2)");
    BAD (L1 "# x\n" L1, "node.conf:3: duplicate key 'region' (first set on line 1)");
    BAD (L1 L2 "pub tcp://sh:7000\n" L4, "node.conf:3: expected 'key = value', found no '='");
    BAD (L1 L2 L3 L4 "log_level\n", "node.conf:5: expected 'key = value'");
    BAD (L1 L2 L3 L4 " = value\n", "node.conf:5: expected 'key = value', found no key");
    BAD (L1 L2 L3, "node.conf: missing required key 'sync'");
    BAD (L2 L3 L4, "node.conf: missing required key 'region'");
    BAD (L1 L3 L4, "node.conf: missing required key 'name'");
    BAD (L1 L2 L4, "node.conf: missing required key 'pub'");
    BAD ("", "node.conf: missing required key");
    BAD ("region = 99000\n" L2 L3 L4, "node.conf:1: region: region \"99000\": must be six digits");
    BAD (L2 "\nregion = 990000\n" L3 L4, "node.conf:3: region: region \"990000\": 99 is not");
    BAD (L1 L2 L3 "sync = tcp://sh\n", "node.conf:4: sync: ");
    BAD (L1 L2 "pub = http://sh:7000\n" L4, "node.conf:3: pub: ");
    BAD (L1 L2 "pub = tcp://sh:0\n" L4, "node.conf:3: pub: ");
    BAD (L1 L2 "pub = tcp://*:7000\n" L4, "node.conf:3: pub: ");
    BAD (L1 L2 "pub =\n" L4, "node.conf:3: pub: ");
    BAD (L1 L2 L3 "sync = tcp://sh:7000\n", "node.conf:4: sync: same endpoint as pub");
    BAD (L1 "name =\n" L3 L4, "node.conf:2: name: must be 1..64 bytes");
    BAD (L1 "name = a\x01b\n" L3 L4, "node.conf:2: name: must be UTF-8");
    BAD (L1 "name = \xff\xfe\n" L3 L4, "node.conf:2: name: must be UTF-8");
    BAD (L1 L2 L3 L4 "log_level = loud\n", "node.conf:5: log_level: 'loud' is not one of");
    BAD (L1 L2 L3 L4 "map_size_mb = 0\n", "node.conf:5: map_size_mb:");
    BAD (L1 L2 L3 L4 "map_size_mb = 64MB\n", "node.conf:5: map_size_mb:");
    BAD (L1 L2 L3 L4 "map_size_mb = -1\n", "node.conf:5: map_size_mb:");
    BAD (L1 L2 L3 L4 "map_size_mb = 99999999999999999999999\n", "node.conf:5: map_size_mb:");
    BAD (L1 L2 L3 L4 "pub_hwm = 0\n",
         "node.conf:5: pub_hwm: '0' is not a whole number of messages 1..1000000");
    BAD (L1 L2 L3 L4 "pub_hwm = 1000001\n", "node.conf:5: pub_hwm: '1000001' is not a whole");
    BAD (L1 L2 L3 L4 "pub_hwm = 99999999999999999999999\n", "node.conf:5: pub_hwm:");
    BAD (L1 L2 L3 L4 "pub_hwm = -1\n", "node.conf:5: pub_hwm: '-1'");
    BAD (L1 L2 L3 L4 "pub_hwm = 1k\n", "node.conf:5: pub_hwm: '1k'");
    BAD (L1 L2 L3 L4 "pub_hwm = 1e3\n", "node.conf:5: pub_hwm: '1e3'");
    BAD (L1 L2 L3 L4 "pub_hwm = 0x10\n", "node.conf:5: pub_hwm: '0x10'");
    BAD (L1 L2 L3 L4 "pub_hwm = 10 00\n", "node.conf:5: pub_hwm: '10 00'");
    BAD (L1 L2 L3 L4 "pub_hwm = many\n", "node.conf:5: pub_hwm: 'many'");
    BAD (L1 L2 L3 L4 "pub_hwm =\n", "node.conf:5: pub_hwm: ''");
    BAD (L1 L2 "pub_hwm = 1\n" L3 L4 "pub_hwm = 2\n",
         "node.conf:6: duplicate key 'pub_hwm' (first set on line 3)");
    BAD (L1 L2 L3 L4 "PUB_HWM = 1\n", "node.conf:5: unknown key 'PUB_HWM'");
    BAD (L1 L2 L3 L4 "source_address = 127.0.0.300\n",
         "node.conf:5: source_address: '127.0.0.300' is not an IPv4 address in dotted quad form");
    BAD (L1 L2 L3 L4 "source_address = 127.0.0\n", "node.conf:5: source_address: '127.0.0' is not");
    BAD (L1 L2 L3 L4 "source_address = 127.000.0.3\n", "node.conf:5: source_address: '127.000.0.3'");
    BAD (L1 L2 L3 L4 "source_address = ::1\n", "node.conf:5: source_address: '::1' is not an IPv4");
    BAD (L1 L2 L3 L4 "source_address = localhost\n", "node.conf:5: source_address: 'localhost'");
    BAD (L1 L2 L3 L4 "source_address = tcp://127.0.0.3:0\n", "node.conf:5: source_address:");
    BAD (L1 L2 L3 L4 "source_address = 127.0.0.3:0\n", "node.conf:5: source_address:");
    BAD (L1 L2 L3 L4 "source_address = 127.0.0.3 \t x\n", "node.conf:5: source_address:");
    BAD (L1 L2 L3 L4 "source_address =\n", "node.conf:5: source_address: '' is not");
    BAD (L1 L2 L3 L4 "source_address = 0.0.0.0\n",
         "node.conf:5: source_address: 0.0.0.0 means any address: leave the key out instead");
    BAD (L1 L2 "source_address = 127.0.0.2\n" L3 L4 "source_address = 127.0.0.3\n",
         "node.conf:6: duplicate key 'source_address' (first set on line 3)");
    BAD (L1 L2 L3 L4 "roster =\n", "node.conf:5: roster: empty path");
    BAD (L1 L2 L3 L4 "\n\n\nkeys =   \n", "node.conf:8: keys: empty path");
    BAD (L1 L2 L3 L4 "operator = \x7f\n", "node.conf:5: operator:");

    /* Nothing to read. */
    char *d = node_dir ("empty");
    rcn_conf_t c;
    char why[1024];
    CHECK_EQ (rcn_conf_load (d, &c, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, "node.conf") != NULL);
    char p[PATH_MAX + 32];
    snprintf (p, sizeof p, "%s/nowhere", root);
    CHECK_EQ (rcn_conf_load (p, &c, why, sizeof why), RCN_EIO);
    CHECK (strstr (why, p) != NULL);

    /* A NUL byte is refused, not read as the end of a line. */
    snprintf (p, sizeof p, "%s/node.conf", d);
    int fd = open (p, O_WRONLY | O_CREAT, 0600);
    REQUIRE (fd >= 0);
    static const char nul[] = L1 "name = a\0b\n" L3 L4;
    REQUIRE (write (fd, nul, sizeof nul - 1) == (ssize_t) (sizeof nul - 1));
    close (fd);
    CHECK_EQ (rcn_conf_load (d, &c, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "NUL") != NULL);
    free (d);
}

static void
test_write_refuses (void)
{
    char *d = node_dir ("wbad");
    char why[1024] = "", p[PATH_MAX + 32];
    snprintf (p, sizeof p, "%s/node.conf", d);
    rcn_conf_t c;

    sample (&c);
    c.region = 990000;
    CHECK_EQ (rcn_conf_write (d, &c, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "region") != NULL);
    CHECK (access (p, F_OK) != 0);

    sample (&c);
    snprintf (c.pub, sizeof c.pub, "tcp://*:7000");
    CHECK_EQ (rcn_conf_write (d, &c, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "pub") != NULL);
    CHECK (access (p, F_OK) != 0);

    sample (&c);
    snprintf (c.name, sizeof c.name, "two\nlines");
    CHECK_EQ (rcn_conf_write (d, &c, why, sizeof why), RCN_EINVAL);
    CHECK (access (p, F_OK) != 0);

    sample (&c);
    snprintf (c.log_level, sizeof c.log_level, "verbose");
    CHECK_EQ (rcn_conf_write (d, &c, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "log_level") != NULL);
    CHECK (access (p, F_OK) != 0);

    sample (&c);
    c.pub_hwm = 2000000;
    CHECK_EQ (rcn_conf_write (d, &c, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "pub_hwm") != NULL);
    CHECK (access (p, F_OK) != 0);

    sample (&c);
    snprintf (c.source_address, sizeof c.source_address, "10.0.0.256");
    CHECK_EQ (rcn_conf_write (d, &c, why, sizeof why), RCN_EINVAL);
    CHECK (strstr (why, "source_address") != NULL);
    CHECK (access (p, F_OK) != 0);

    snprintf (p, sizeof p, "%s/missing", root);
    sample (&c);
    CHECK_EQ (rcn_conf_write (p, &c, why, sizeof why), RCN_EIO);
    free (d);
}

int
main (void)
{
    root = rcn_test_tmpdir ("conf");
    char *rp = realpath (root, NULL);
    REQUIRE (rp && strlen (rp) < sizeof real_root);
    snprintf (real_root, sizeof real_root, "%s", rp);
    free (rp);
    RUN (test_round_trip);
    RUN (test_defaults);
    RUN (test_pub_hwm);
    RUN (test_source_address);
    RUN (test_errors);
    RUN (test_write_refuses);
    rcn_test_rmtree (root);
    free (root);
    return rcn_test_done ();
}
