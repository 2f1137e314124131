/* rcctl_setup.c — setting a member up: init (node dir, keys, node.conf, card), card, and the
 * roster (build from cards, hash).
 *
 * init builds the whole node dir under a temporary name beside DIR and renames it into place
 * at the end, so a refused or failed init leaves nothing half-made. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "rcctl.h"
#include "rcn/codec.h"
#include "rcn/fileio.h"
#include "rcn/keys.h"
#include "rcn/region.h"

static void
rmtree_shallow (const char *dir)
{
    /* Only what init itself creates: keys/ with its files, node.conf, then the dir. */
    const char *files[] = { "keys/sign.key", "keys/curve.key", "keys/hwm", "keys/hwm.tmp",
                            "keys", "node.conf", NULL };
    char path[PATH_MAX];
    for (int i = 0; files[i]; i++) {
        if (rcctl_join (path, sizeof path, dir, files[i]) && remove (path) != 0 && errno != ENOENT)
            fprintf (stderr, "rcctl: could not remove %s: %s\n", path, strerror (errno));
    }
    rmdir (dir);
}

/* abs = the absolute path DIR will have (its parent resolved, its own name appended). */
static bool
realpath_parent (const char *dir, char *abs, size_t len)
{
    char copy[PATH_MAX], parent[PATH_MAX];
    snprintf (copy, sizeof copy, "%s", dir);
    char *slash = strrchr (copy, '/');
    const char *name = slash ? slash + 1 : copy;
    if (slash == copy)
        snprintf (parent, sizeof parent, "/");
    else if (slash) {
        *slash = '\0';
        if (!realpath (copy, parent))
            return false;
    }
    else if (!realpath (".", parent))
        return false;
    int n = snprintf (abs, len, "%s/%s", strcmp (parent, "/") == 0 ? "" : parent, name);
    return n > 0 && (size_t) n < len;
}

static bool
empty_or_absent (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    int n = 0;
    while ((e = readdir (d)))
        if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
            n++;
    closedir (d);
    return n == 0;
}

static json_t *
card_json (const rcn_conf_t *conf, const rcn_keys_t *keys)
{
    rcn_member_t m;
    memset (&m, 0, sizeof m);
    m.region = conf->region;
    snprintf (m.name, sizeof m.name, "%s", conf->name);
    memcpy (m.sign_key, rcn_keys_sign_public (keys), 32);
    memcpy (m.curve_key, rcn_keys_curve_public (keys), 32);
    snprintf (m.pub, sizeof m.pub, "%s", conf->pub);
    snprintf (m.sync, sizeof m.sync, "%s", conf->sync);
    return rcn_member_to_json (&m);
}

int
rcctl_init (rcctl_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' }, { "region", required_argument, NULL, 'r' },
        { "name", required_argument, NULL, 'n' }, { "pub", required_argument, NULL, 'p' },
        { "sync", required_argument, NULL, 's' }, { "operator", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *region = NULL, *name = NULL, *pub = NULL, *sync = NULL, *op = NULL;
    optind = 0;
    opterr = 0;
    int ch;
    while ((ch = getopt_long (argc, argv, "+", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'r': region = optarg; break;
        case 'n': name = optarg; break;
        case 'p': pub = optarg; break;
        case 's': sync = optarg; break;
        case 'o': op = optarg; break;
        default:
            return rcctl_fail (RC_USAGE, "init: unknown flag or missing value \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return rcctl_fail (RC_USAGE, "init: unexpected argument \"%s\"", argv[optind]);
    if (!dir)
        dir = c->dir && strcmp (c->dir, ".") != 0 ? c->dir : NULL;
    char dirbuf[PATH_MAX];
    if (dir) {                              /* "node/" and "node" are the same dir */
        if (strlen (dir) >= sizeof dirbuf)
            return rcctl_fail (RC_USAGE, "init: --dir: path too long");
        snprintf (dirbuf, sizeof dirbuf, "%s", dir);
        for (size_t l = strlen (dirbuf); l > 1 && dirbuf[l - 1] == '/'; l--)
            dirbuf[l - 1] = '\0';
        dir = dirbuf;
    }
    const char *missing = !dir ? "--dir" : !region ? "--region" : !name ? "--name"
                        : !pub ? "--pub" : !sync ? "--sync" : NULL;
    if (missing)
        return rcctl_fail (RC_USAGE, "init: %s is required", missing);

    /* Check what the operator typed before anything touches the disk. */
    char why[1024] = "";
    rcn_conf_t conf;
    memset (&conf, 0, sizeof conf);
    if (rcn_region_parse (region, &conf.region, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_USAGE, "init: --region: %s", why);
    if (rcn_name_check (name, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_USAGE, "init: --name: %s", why);
    if (op && rcn_name_check (op, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_USAGE, "init: --operator: %s", why);
    if (rcn_endpoint_check (pub, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_USAGE, "init: --pub: %s", why);
    if (rcn_endpoint_check (sync, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_USAGE, "init: --sync: %s", why);
    if (strcmp (pub, sync) == 0)
        return rcctl_fail (RC_USAGE, "init: --pub and --sync must differ");
    snprintf (conf.name, sizeof conf.name, "%s", name);
    snprintf (conf.pub, sizeof conf.pub, "%s", pub);
    snprintf (conf.sync, sizeof conf.sync, "%s", sync);
    snprintf (conf.operator_name, sizeof conf.operator_name, "%s", op ? op : "");
    snprintf (conf.log_level, sizeof conf.log_level, "info");
    conf.map_size_mb = 64;

    /* rcnode binds DIR/control.sock; a Unix socket path has room for 107 bytes. */
    char abs[PATH_MAX];
    if (!realpath_parent (dir, abs, sizeof abs))
        return rcctl_fail (RC_USAGE, "init: --dir %s: its parent directory does not exist", dir);
    if (strlen (abs) + strlen ("/control.sock") > 107)
        return rcctl_fail (RC_USAGE, "init: --dir %s: too deep (%zu bytes) for the node's control "
                           "socket; pick a path under %d bytes", abs, strlen (abs),
                           107 - (int) strlen ("/control.sock"));
    if (!empty_or_absent (dir))            /* rename() below replaces only an empty dir */
        return rcctl_fail (RC_FAIL, "init: %s exists and is not an empty directory", dir);
    char tmp[PATH_MAX];
    int tn = snprintf (tmp, sizeof tmp, "%s.init-%ld", dir, (long) getpid ());
    if (tn < 0 || (size_t) tn >= sizeof tmp)
        return rcctl_fail (RC_USAGE, "init: %s: path too long", dir);
    if (mkdir (tmp, 0700) != 0)
        return rcctl_fail (RC_FAIL, "init: cannot create %s: %s", tmp, strerror (errno));
    chmod (tmp, 0700);
    snprintf (conf.dir, sizeof conf.dir, "%s", tmp);
    char keydir[PATH_MAX];
    if (!rcctl_join (keydir, sizeof keydir, tmp, "keys")) {
        rmdir (tmp);
        return rcctl_fail (RC_USAGE, "init: %s: path too long", dir);
    }
    rcn_keys_t *keys = NULL;
    json_t *card = NULL;
    int code = RC_FAIL;
    if (rcn_keys_create (keydir, why, sizeof why) != RCN_OK
        || rcn_keys_load (keydir, &keys, why, sizeof why) != RCN_OK
        || rcn_conf_write (tmp, &conf, why, sizeof why) != RCN_OK) {
        rcctl_fail (RC_FAIL, "init: %s", why);
        goto fail;
    }
    /* The card must pass the roster's own checks, or the alliance could not use it. */
    card = card_json (&conf, keys);
    rcn_member_t m;
    if (!card || rcn_member_from_json (card, &m, why, sizeof why) != RCN_OK) {
        code = rcctl_fail (RC_USAGE, "init: %s", why);
        goto fail;
    }
    if (rename (tmp, dir) != 0) {
        rcctl_fail (RC_FAIL, "init: cannot move %s to %s: %s", tmp, dir, strerror (errno));
        goto fail;
    }
    /* The card goes out only once the dir's name is durable in its parent. */
    if (rcn_fsync_parent (abs) != 0) {
        code = rcctl_fail (RC_FAIL, "init: syncing the parent of %s: %s (the node dir is there; "
                           "run `rcctl -d %s card` once the disk is well)", dir, strerror (errno), dir);
        json_decref (card);
        rcn_keys_destroy (&keys);
        return code;
    }
    rcctl_print_json (card);
    fprintf (stderr, "rcctl: initialised %s for region %06u (%s). Give the card above to whoever "
             "builds the roster; put the roster in %s/roster.json, then run: rcnode %s\n",
             dir, conf.region, conf.name, dir, dir);
    json_decref (card);
    rcn_keys_destroy (&keys);
    return RC_OK;
fail:
    json_decref (card);
    rcn_keys_destroy (&keys);
    rmtree_shallow (tmp);
    return code;
}

int
rcctl_card (rcctl_t *c, int argc, char **argv)
{
    (void) argv;
    if (argc != 1)
        return rcctl_fail (RC_USAGE, "card takes no arguments");
    char why[1024] = "";
    rcn_conf_t conf;
    rcn_keys_t *keys = NULL;
    if (rcn_conf_load (c->dir, &conf, why, sizeof why) != RCN_OK
        || rcn_keys_load (conf.keys_path, &keys, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_FAIL, "card: %s", why);
    json_t *card = card_json (&conf, keys);
    rcctl_print_json (card);
    json_decref (card);
    rcn_keys_destroy (&keys);
    return RC_OK;
}

static int
parse_long (const char *flag, const char *s, long lo, long hi, int64_t *out)
{
    char *end;
    errno = 0;
    long v = strtol (s, &end, 10);
    if (errno || *end || !*s || v < lo || v > hi)
        return rcctl_fail (RC_USAGE, "roster build: %s \"%s\": a whole number from %ld to %ld",
                           flag, s, lo, hi);
    *out = v;
    return RC_OK;
}

static int
roster_build (int argc, char **argv)
{
    static const struct option opts[] = {
        { "rounds", required_argument, NULL, 'r' }, { "timezone", required_argument, NULL, 'z' },
        { "grace", required_argument, NULL, 'g' }, { "sla", required_argument, NULL, 's' },
        { "retention-days", required_argument, NULL, 't' },
        { "seal-period-days", required_argument, NULL, 'p' },
        { "out", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 },
    };
    rcn_policy_t p;
    rcn_policy_default (&p);
    char why[1024] = "";
    const char *out = NULL;
    optind = 0;
    opterr = 0;
    int ch, code = RC_OK;
    /* GNU getopt permutes: cards and flags may come in any order. */
    while (code == RC_OK && (ch = getopt_long (argc, argv, "o:", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            if (rcn_policy_parse_rounds (optarg, &p, why, sizeof why) != RCN_OK)
                code = rcctl_fail (RC_USAGE, "roster build: --rounds: %s", why);
            break;
        case 'z':
            if (strlen (optarg) >= sizeof p.timezone)
                code = rcctl_fail (RC_USAGE, "roster build: --timezone too long");
            else
                snprintf (p.timezone, sizeof p.timezone, "%s", optarg);
            break;
        case 'g': code = parse_long ("--grace", optarg, 0, 86400, &p.grace_s); break;
        case 's': code = parse_long ("--sla", optarg, 60, 7 * 86400, &p.response_sla_s); break;
        case 't': code = parse_long ("--retention-days", optarg, 1, 3650, &p.retention_days); break;
        case 'p': code = parse_long ("--seal-period-days", optarg, 1, 366, &p.seal_period_days); break;
        case 'o': out = optarg; break;
        default:
            code = rcctl_fail (RC_USAGE, "roster build: unknown flag or missing value \"%s\"",
                               argv[optind - 1]);
        }
    }
    if (code != RC_OK)
        return code;
    size_t n = (size_t) (argc - optind);
    if (n == 0)
        return rcctl_fail (RC_USAGE, "roster build: give the members' card files");
    if (n > RCN_MAX_MEMBERS)
        return rcctl_fail (RC_USAGE, "roster build: at most %d members", RCN_MAX_MEMBERS);
    json_t *cards[RCN_MAX_MEMBERS] = { 0 };
    char *text = NULL;
    for (size_t i = 0; i < n && code == RC_OK; i++) {
        json_error_t jerr;
        cards[i] = json_load_file (argv[optind + (int) i], JSON_REJECT_DUPLICATES, &jerr);
        if (!cards[i])
            code = rcctl_fail (RC_FAIL, "roster build: %s:%d: %s", argv[optind + (int) i],
                               jerr.line, jerr.text);
    }
    if (code == RC_OK
        && rcn_roster_build ((const json_t *const *) cards, n, &p, &text, why, sizeof why) != RCN_OK)
        code = rcctl_fail (RC_FAIL, "roster build: %s", why);
    if (code == RC_OK) {
        /* What we print must be a roster a node accepts. */
        rcn_roster_t *check = NULL;
        if (rcn_roster_parse ((const uint8_t *) text, strlen (text), &check, why, sizeof why) != RCN_OK)
            code = rcctl_fail (RC_FAIL, "roster build: %s", why);
        rcn_roster_destroy (&check);
    }
    if (code == RC_OK) {
        FILE *f = out ? fopen (out, "wx") : stdout;
        if (!f)
            code = rcctl_fail (RC_FAIL, "roster build: cannot create %s: %s", out, strerror (errno));
        else {
            fputs (text, f);
            if ((out && (fflush (f) != 0 || fsync (fileno (f)) != 0)) | (out && fclose (f) != 0))
                code = rcctl_fail (RC_FAIL, "roster build: writing %s failed", out);
        }
    }
    for (size_t i = 0; i < n; i++)
        json_decref (cards[i]);
    free (text);
    return code;
}

int
rcctl_roster (rcctl_t *c, int argc, char **argv)
{
    (void) c;
    if (argc >= 2 && strcmp (argv[1], "build") == 0)
        return roster_build (argc - 1, argv + 1);
    if (argc == 3 && strcmp (argv[1], "hash") == 0) {
        char why[1024] = "", hex[65];
        rcn_roster_t *r = NULL;
        if (rcn_roster_load (argv[2], &r, why, sizeof why) != RCN_OK)
            return rcctl_fail (RC_FAIL, "roster hash: %s", why);
        printf ("%s\n", rcn_hex (rcn_roster_hash (r), 32, hex));
        rcn_roster_destroy (&r);
        return RC_OK;
    }
    return rcctl_fail (RC_USAGE, "roster: say build CARD.json… or hash FILE");
}
