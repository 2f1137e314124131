/* conf.c — node.conf, the node's one configuration file.
 *
 * The one design decision: the reader is strict and the writer proves it. Every line must be
 * blank, a whole-line `#` comment or a known `key = value`; anything else (a typo'd key, a
 * duplicate, a missing `=`) stops the node with the line number, because a silently ignored
 * line in an epidemic-response node is a misconfiguration nobody notices until a drill.
 * rcn_conf_write renders the commented template and parses its own text back before it
 * writes a byte, so whatever it writes loads. */
#include "rcn/conf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "rcn/fileio.h"
#include "rcn/log.h"
#include "rcn/region.h"

#define CONF_FILE "node.conf"
#define CONF_MAX (64 * 1024)
#define MAP_SIZE_MB_MAX (16u * 1024 * 1024)   /* 16 TiB: far above any real map */
#define WHY_MAX 512

enum { K_REGION, K_NAME, K_PUB, K_SYNC, K_ROSTER, K_KEYS, K_DATA, K_LOG_LEVEL, K_MAP_SIZE,
       K_OPERATOR, K_PUB_HWM, K_SOURCE, K_COUNT };

static const struct {
    const char *name;
    bool required;
} keys[K_COUNT] = {
    [K_REGION] = { "region", true },     [K_NAME] = { "name", true },
    [K_PUB] = { "pub", true },           [K_SYNC] = { "sync", true },
    [K_ROSTER] = { "roster", false },    [K_KEYS] = { "keys", false },
    [K_DATA] = { "data", false },        [K_LOG_LEVEL] = { "log_level", false },
    [K_MAP_SIZE] = { "map_size_mb", false }, [K_OPERATOR] = { "operator", false },
    [K_PUB_HWM] = { "pub_hwm", false },  [K_SOURCE] = { "source_address", false },
};

/* dst = value when absolute, else dir/value. */
static int
resolve (const char *dir, const char *value, char *dst, size_t len)
{
    int n = value[0] == '/' ? snprintf (dst, len, "%s", value)
                            : snprintf (dst, len, "%s/%s", dir, value);
    return n > 0 && (size_t) n < len ? RCN_OK : RCN_EINVAL;
}

/* A whole number 1..max in plain decimal digits (no sign, no unit) into *out. */
static bool
parse_count (const char *v, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;
    size_t i = 0;
    for (; v[i] >= '0' && v[i] <= '9' && n <= max; i++)
        n = n * 10 + (uint64_t) (v[i] - '0');
    if (i == 0 || v[i] != '\0' || n < 1 || n > max)
        return false;
    *out = n;
    return true;
}

/* Sets one key from its trimmed value; `why` gets the reason without the line prefix. */
static int
set_key (rcn_conf_t *c, int k, const char *v, char *why, size_t whylen)
{
    char inner[WHY_MAX];
    switch (k) {
    case K_REGION:
        if (rcn_region_parse (v, &c->region, inner, sizeof inner) != RCN_OK) {
            rcn_errf (why, whylen, "region: %s", inner);
            return RCN_EINVAL;
        }
        return RCN_OK;
    case K_NAME:
    case K_OPERATOR:
        if (rcn_name_check (v, inner, sizeof inner) != RCN_OK) {
            rcn_errf (why, whylen, "%s: %s", keys[k].name, inner);
            return RCN_EINVAL;
        }
        snprintf (k == K_NAME ? c->name : c->operator_name, RCN_NAME_MAX + 1, "%s", v);
        return RCN_OK;
    case K_PUB:
    case K_SYNC:
        if (rcn_endpoint_check (v, inner, sizeof inner) != RCN_OK) {
            rcn_errf (why, whylen, "%s: %s", keys[k].name, inner);
            return RCN_EINVAL;
        }
        snprintf (k == K_PUB ? c->pub : c->sync, RCN_ENDPOINT_MAX + 1, "%s", v);
        return RCN_OK;
    case K_ROSTER:
    case K_KEYS:
    case K_DATA: {
        char *dst = k == K_ROSTER ? c->roster_path : k == K_KEYS ? c->keys_path : c->data_path;
        if (!*v) {
            rcn_errf (why, whylen, "%s: empty path", keys[k].name);
            return RCN_EINVAL;
        }
        if (resolve (c->dir, v, dst, sizeof c->roster_path) != RCN_OK) {
            rcn_errf (why, whylen, "%s: path too long", keys[k].name);
            return RCN_EINVAL;
        }
        return RCN_OK;
    }
    case K_LOG_LEVEL:
        if (strlen (v) >= sizeof c->log_level || rcn_log_level_parse (v) < 0) {
            rcn_errf (why, whylen, "log_level: '%.20s' is not one of debug, info, warn, error", v);
            return RCN_EINVAL;
        }
        snprintf (c->log_level, sizeof c->log_level, "%s", v);
        return RCN_OK;
    case K_MAP_SIZE:
        if (!parse_count (v, MAP_SIZE_MB_MAX, &c->map_size_mb)) {
            rcn_errf (why, whylen, "map_size_mb: '%.20s' is not a whole number 1..%u", v,
                      MAP_SIZE_MB_MAX);
            return RCN_EINVAL;
        }
        return RCN_OK;
    case K_PUB_HWM: {
        uint64_t n;
        if (!parse_count (v, RCN_CONF_HWM_MAX, &n)) {
            rcn_errf (why, whylen, "pub_hwm: '%.20s' is not a whole number of messages 1..%u", v,
                      RCN_CONF_HWM_MAX);
            return RCN_EINVAL;
        }
        c->pub_hwm = (uint32_t) n;
        return RCN_OK;
    }
    case K_SOURCE: {
        /* inet_pton takes exactly a.b.c.d, each 0..255 in decimal (no leading zeros on glibc). */
        struct in_addr a;
        if (strlen (v) > RCN_CONF_SOURCE_MAX || inet_pton (AF_INET, v, &a) != 1) {
            rcn_errf (why, whylen, "source_address: '%.40s' is not an IPv4 address in dotted "
                      "quad form (like 127.0.0.3)", v);
            return RCN_EINVAL;
        }
        if (a.s_addr == htonl (INADDR_ANY)) {
            rcn_errf (why, whylen, "source_address: 0.0.0.0 means any address: leave the key "
                      "out instead");
            return RCN_EINVAL;
        }
        snprintf (c->source_address, sizeof c->source_address, "%s", v);
        return RCN_OK;
    }
    default:
        assert (!"unknown key index");
        return RCN_EINVAL;
    }
}

static bool
is_space (char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Parses text into *out; c->dir must already be the absolute node dir. */
static int
conf_parse (const char *text, size_t len, rcn_conf_t *c, char *why, size_t whylen)
{
    int seen[K_COUNT] = { 0 };             /* line where each key was set, 0 = not yet */
    char inner[WHY_MAX];

    if (memchr (text, '\0', len)) {
        rcn_errf (why, whylen, CONF_FILE ": contains a NUL byte; not a text file");
        return RCN_EINVAL;
    }
    /* Defaults, overridden by the file. */
    if (resolve (c->dir, "roster.json", c->roster_path, sizeof c->roster_path) != RCN_OK
        || resolve (c->dir, "keys", c->keys_path, sizeof c->keys_path) != RCN_OK
        || resolve (c->dir, "data", c->data_path, sizeof c->data_path) != RCN_OK) {
        rcn_errf (why, whylen, "%s: node dir path too long", c->dir);
        return RCN_EINVAL;
    }
    snprintf (c->log_level, sizeof c->log_level, "info");
    c->map_size_mb = 64;
    c->operator_name[0] = '\0';
    c->pub_hwm = RCN_CONF_HWM_DEFAULT;
    c->source_address[0] = '\0';

    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr (line, '\n', len - pos);
        size_t n = nl ? (size_t) (nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);

        size_t b = 0, e = n;
        while (b < e && is_space (line[b]))
            b++;
        while (e > b && is_space (line[e - 1]))
            e--;
        if (b == e || line[b] == '#')
            continue;
        const char *eq = memchr (line + b, '=', e - b);
        if (!eq) {
            rcn_errf (why, whylen, CONF_FILE ":%d: expected 'key = value', found no '='", lineno);
            return RCN_EINVAL;
        }
        size_t ke = (size_t) (eq - line);
        while (ke > b && is_space (line[ke - 1]))
            ke--;
        size_t vb = (size_t) (eq - line) + 1;
        while (vb < e && is_space (line[vb]))
            vb++;
        if (ke == b) {
            rcn_errf (why, whylen, CONF_FILE ":%d: expected 'key = value', found no key", lineno);
            return RCN_EINVAL;
        }
        char key[32], value[4096];
        if (ke - b >= sizeof key) {
            rcn_errf (why, whylen, CONF_FILE ":%d: unknown key '%.20s...'", lineno, line + b);
            return RCN_EINVAL;
        }
        memcpy (key, line + b, ke - b);
        key[ke - b] = '\0';
        int k = 0;
        while (k < K_COUNT && strcmp (keys[k].name, key) != 0)
            k++;
        if (k == K_COUNT) {
            rcn_errf (why, whylen, CONF_FILE ":%d: unknown key '%s'", lineno, key);
            return RCN_EINVAL;
        }
        if (seen[k]) {
            rcn_errf (why, whylen, CONF_FILE ":%d: duplicate key '%s' (first set on line %d)",
                      lineno, key, seen[k]);
            return RCN_EINVAL;
        }
        seen[k] = lineno;
        if (e - vb >= sizeof value) {
            rcn_errf (why, whylen, CONF_FILE ":%d: %s: value too long", lineno, key);
            return RCN_EINVAL;
        }
        memcpy (value, line + vb, e - vb);
        value[e - vb] = '\0';
        if (set_key (c, k, value, inner, sizeof inner) != RCN_OK) {
            rcn_errf (why, whylen, CONF_FILE ":%d: %s", lineno, inner);
            return RCN_EINVAL;
        }
    }
    for (int k = 0; k < K_COUNT; k++)
        if (keys[k].required && !seen[k]) {
            rcn_errf (why, whylen, CONF_FILE ": missing required key '%s'", keys[k].name);
            return RCN_EINVAL;
        }
    if (strcmp (c->pub, c->sync) == 0) {
        rcn_errf (why, whylen, CONF_FILE ":%d: sync: same endpoint as pub", seen[K_SYNC]);
        return RCN_EINVAL;
    }
    return RCN_OK;
}

int
rcn_conf_load (const char *dir, rcn_conf_t *out, char *why, size_t whylen)
{
    assert (dir && out);
    int rc = RCN_EIO;
    uint8_t *text = NULL;
    size_t len;
    char path[PATH_MAX + sizeof CONF_FILE + 1];
    rcn_conf_t *c = calloc (1, sizeof *c);
    if (!c) {
        rcn_errf (why, whylen, "out of memory");
        return RCN_ENOMEM;
    }
    if (!realpath (dir, c->dir)) {
        rcn_errf (why, whylen, "%s: %s", dir, strerror (errno));
        goto fail;
    }
    snprintf (path, sizeof path, "%s/%s", c->dir, CONF_FILE);
    rc = rcn_read_file (path, 0, CONF_MAX, &text, &len, why, whylen);
    if (rc == RCN_ETOOBIG) {
        rc = RCN_EINVAL;
        rcn_errf (why, whylen, "%s: larger than %d bytes", path, CONF_MAX);
    }
    if (rc != RCN_OK)
        goto fail;
    rc = conf_parse ((const char *) text, len, c, why, whylen);
    if (rc == RCN_OK)
        *out = *c;

fail:
    free (text);
    free (c);
    return rc;
}

/* Path as written in the file: relative when it lies inside the node dir. */
static const char *
rel (const rcn_conf_t *c, const char *path, const char *dflt)
{
    if (!path[0])
        return dflt;
    size_t n = strlen (c->dir);
    if (n > 0 && strncmp (path, c->dir, n) == 0 && path[n] == '/' && path[n + 1])
        return path + n + 1;
    return path;
}

/* A high-water mark left at its default is written commented out. */
static bool
hwm_unset (uint32_t hwm)
{
    return hwm == 0 || hwm == RCN_CONF_HWM_DEFAULT;
}

static char *
conf_render (const rcn_conf_t *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    if (!f)
        return NULL;
    fprintf (f,
        "# node.conf - configuration of one rcn node (rcnode). Written by `rcctl init`.\n"
        "#\n"
        "# Format: one `key = value` per line; lines starting with # are comments. Unknown keys,\n"
        "# duplicates and malformed lines are refused with their line number. Relative paths\n"
        "# are relative to the directory holding this file.\n"
        "\n"
        "# This member's region: its GB/T 2260 six-digit code (310000 Shanghai, 440400 Zhuhai).\n"
        "# Must match this member's entry in the roster.\n"
        "region = %06u\n"
        "\n"
        "# Display name of this member, as in the roster (1..64 bytes of UTF-8).\n"
        "name = %s\n"
        "\n"
        "# Endpoints this node binds and that its PEERS connect to, exactly as listed in the\n"
        "# roster: tcp://HOST:PORT with an address or host name the other members can reach\n"
        "# (not tcp://*). pub carries live entries and heartbeats:\n"
        "pub = %s\n"
        "# sync serves catch-up (gap repair, anti-entropy) to peers; not the same as pub:\n"
        "sync = %s\n"
        "\n"
        "# The alliance roster; every member holds the same file byte for byte.\n"
        "roster = %s\n"
        "\n"
        "# Key dir (mode 0700) with sign.key, curve.key and the high-water mark. Not in backups\n"
        "# of the data dir; anyone who reads it can sign as this region.\n"
        "keys = %s\n"
        "\n"
        "# The LMDB log (append-only). Back it up; a restored copy catches up from peers.\n"
        "data = %s\n"
        "\n"
        "# Lowest level of log lines written to stderr: debug, info, warn or error.\n"
        "log_level = %s\n"
        "\n"
        "# Initial LMDB map size in MiB. The map doubles by itself when the log fills it,\n"
        "# so this is a starting point, not a limit.\n"
        "map_size_mb = %" PRIu64 "\n"
        "\n"
        "# Operator name recorded in the local audit log (e.g. who opened sealed details) when\n"
        "# rcctl is not given one.%s\n"
        "%soperator = %s\n"
        "\n"
        "# Back-pressure: how many messages may queue on the pub socket for each peer. A peer\n"
        "# that lags further behind misses live entries: that is expected, and anti-entropy\n"
        "# pulls repair it. Lower it to bound memory on a node with many peers. Default %u.\n"
        "%spub_hwm = %u\n"
        "\n"
        "# For drills: the IPv4 address every connection to a peer leaves from (an address of\n"
        "# this machine). With each member on its own address (127.0.0.2, 127.0.0.3, … on one\n"
        "# host, or one per network namespace), a firewall rule between two addresses cuts one\n"
        "# pair of members. Unset: the system picks, as for any program.\n"
        "%ssource_address = %s\n",
        (unsigned) c->region, c->name, c->pub, c->sync,
        rel (c, c->roster_path, "roster.json"), rel (c, c->keys_path, "keys"),
        rel (c, c->data_path, "data"), c->log_level[0] ? c->log_level : "info",
        c->map_size_mb ? c->map_size_mb : 64,
        c->operator_name[0] ? "" : " Unset: uncomment and fill in.",
        c->operator_name[0] ? "" : "# ", c->operator_name[0] ? c->operator_name : "Name",
        RCN_CONF_HWM_DEFAULT, hwm_unset (c->pub_hwm) ? "# " : "",
        hwm_unset (c->pub_hwm) ? RCN_CONF_HWM_DEFAULT : (unsigned) c->pub_hwm,
        c->source_address[0] ? "" : "# ", c->source_address[0] ? c->source_address : "127.0.0.3");
    if (fclose (f) != 0) {
        free (buf);
        return NULL;
    }
    return buf;
}

int
rcn_conf_write (const char *dir, const rcn_conf_t *c, char *why, size_t whylen)
{
    assert (dir && c);
    int rc = RCN_ENOMEM;
    int fd = -1, dirfd = -1;
    bool made = false;
    char *text = NULL;
    char path[PATH_MAX + sizeof CONF_FILE + 1];
    rcn_conf_t *check = calloc (1, sizeof *check);
    rcn_conf_t *src = malloc (sizeof *src);
    if (!check || !src) {
        rcn_errf (why, whylen, "out of memory");
        goto fail;
    }
    *src = *c;
    rc = RCN_EIO;
    if (!realpath (dir, check->dir)) {
        rcn_errf (why, whylen, "%s: %s", dir, strerror (errno));
        goto fail;
    }
    /* Relative paths in c are relative to c->dir (the target when unset): make them absolute
     * here, and conf_render writes those inside the target dir relative to it again. */
    const char *base = c->dir[0] ? c->dir : check->dir;
    char *paths[] = { src->roster_path, src->keys_path, src->data_path };
    const char *orig[] = { c->roster_path, c->keys_path, c->data_path };
    for (int i = 0; i < 3; i++) {
        if (orig[i][0] && resolve (base, orig[i], paths[i], sizeof src->roster_path) != RCN_OK) {
            rc = RCN_EINVAL;
            rcn_errf (why, whylen, "refusing to write %s: path too long", CONF_FILE);
            goto fail;
        }
    }
    snprintf (src->dir, sizeof src->dir, "%s", check->dir);
    rc = RCN_ENOMEM;
    if (!(text = conf_render (src))) {
        rcn_errf (why, whylen, "out of memory");
        goto fail;
    }
    /* What we write must load: check the rendered text as the reader will see it. */
    char inner[WHY_MAX];
    rc = conf_parse (text, strlen (text), check, inner, sizeof inner);
    if (rc != RCN_OK) {
        rcn_errf (why, whylen, "refusing to write %s: %s", CONF_FILE, inner);
        goto fail;
    }
    rc = RCN_EIO;
    dirfd = open (check->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        rcn_errf (why, whylen, "%s: %s", check->dir, strerror (errno));
        goto fail;
    }
    snprintf (path, sizeof path, "%s/%s", check->dir, CONF_FILE);
    fd = openat (dirfd, CONF_FILE, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = RCN_EBUSY;
        rcn_errf (why, whylen, "%s: %s", path,
                  errno == EEXIST ? "already exists; refusing to overwrite" : strerror (errno));
        goto fail;
    }
    made = true;
    if (fchmod (fd, 0600) != 0 || rcn_write_all (fd, text, strlen (text)) != 0 || fsync (fd) != 0) {
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        goto fail;
    }
    int cl = close (fd);
    fd = -1;
    if (cl != 0 || fsync (dirfd) != 0) {
        rcn_errf (why, whylen, "%s: %s", path, strerror (errno));
        goto fail;
    }
    made = false;
    rc = RCN_OK;

fail:
    if (fd >= 0)
        close (fd);
    if (made)
        (void) unlinkat (dirfd, CONF_FILE, 0);
    if (dirfd >= 0)
        close (dirfd);
    free (text);
    free (src);
    free (check);
    return rc;
}

void
rcn_conf_path (const rcn_conf_t *c, const char *what, char *buf, size_t len)
{
    assert (c && what && buf);
    int n;
    if (strcmp (what, "control") == 0)
        n = snprintf (buf, len, "%s/control.sock", c->dir);
    else if (strcmp (what, "lock") == 0)
        n = snprintf (buf, len, "%s/rcnode.lock", c->dir);
    else if (strcmp (what, "roster") == 0)
        n = snprintf (buf, len, "%s", c->roster_path);
    else {
        assert (!"rcn_conf_path: unknown name");
        n = -1;
    }
    /* A cut path would name another file: a buffer too small is the caller's bug. */
    assert (n >= 0 && (size_t) n < len);
    (void) n;
}
