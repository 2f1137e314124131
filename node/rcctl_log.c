/* rcctl_log.c — reading the node and its log: status (asks the running node), heads, export,
 * verify-log and backup (read the LMDB log directly, so they work on a stopped node too).
 *
 * export prints exactly the signed bytes and signature of each entry, so that anyone can
 * re-verify the log from DESIGN.md §3 alone, with no rcn code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcctl.h"
#include "rcn/audit.h"
#include "rcn/codec.h"
#include "rcn/fileio.h"
#include "rcn/kind.h"
#include "rcn/region.h"
#include "rcn.pb-c.h"

/* `rcctl status|peers [--json]`: asks the running node op argv[0]; *resp is the answer. */
static int
ask_node (rcctl_t *c, int argc, char **argv, json_t **resp)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--json") == 0)
            c->json = true;
        else
            return rcctl_fail (RC_USAGE, "%s: unknown argument \"%s\"", argv[0], argv[i]);
    }
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    int code = rcctl_open (c, &conf, &roster, false, NULL);
    json_t *req = json_pack ("{s:s}", "op", argv[0]);
    if (code == RC_OK)
        code = rcctl_call (c, &conf, req, resp);
    json_decref (req);
    rcn_roster_destroy (&roster);
    return code;
}

int
rcctl_status (rcctl_t *c, int argc, char **argv)
{
    json_t *resp = NULL;
    int code = ask_node (c, argc, argv, &resp);
    if (code != RC_OK)
        return code;
    json_object_del (resp, "ok");
    if (c->json)
        rcctl_print_json (resp);
    else {
#define S(k) json_string_value (json_object_get (resp, k))
#define I(k) (long long) json_integer_value (json_object_get (resp, k))
        printf ("region      %s (%s)\n", S ("region"), S ("name"));
        printf ("origin      %s\n", S ("origin"));
        printf ("roster      %s (%lld members)\n", S ("roster_hash"), I ("members"));
        printf ("rcnode      pid %lld, up %lld s, libzmq %s\n", I ("pid"), I ("uptime_s"), S ("libzmq"));
        printf ("own log     seq %lld; high-water mark: committed %lld, signed %lld%s\n",
                I ("own_seq"), I ("hwm_committed"), I ("hwm_signed"),
                json_is_true (json_object_get (resp, "blocked"))
                ? "  BLOCKED: own entries missing, authoring nothing" : "");
        printf ("log         %lld entries from %lld origins, %lld invalid, %lld fork records\n",
                I ("entries"), I ("origins"), I ("invalid"), I ("forks"));
        printf ("peers       %lld of %lld up\n", I ("peers_up"), I ("peers"));
        size_t fi;
        const json_t *f;
        json_array_foreach (json_object_get (resp, "forked"), fi, f)
            printf ("FORKED      %s signed two entries at seq %lld: both kept as evidence, "
                    "nothing of it applied from there on\n",
                    json_string_value (json_object_get (f, "region")),
                    (long long) json_integer_value (json_object_get (f, "fork_seq")));
        const json_t *miss = json_object_get (resp, "missing_own"), *nowhere =
            json_object_get (resp, "missing_nowhere");
        if (json_array_size (miss))
            printf ("rejoin      own seqs %lld..%lld missing; %zu of them held by no peer that "
                    "has answered%s\n", (long long) json_integer_value (json_array_get (miss, 0)),
                    (long long) json_integer_value (json_array_get (miss, json_array_size (miss) - 1)),
                    json_array_size (nowhere), json_array_size (nowhere)
                    ? " (nowhere: an operator may declare them lost)" : "");
        const json_t *dl = json_object_get (resp, "declare_lost");
        if (dl)
            printf ("recover     %s: %s\n", json_is_true (json_object_get (dl, "possible"))
                    ? "rcctl recover --declare-lost is possible"
                    : "not yet", json_string_value (json_object_get (dl, "why")));
        const json_t *sl = json_object_get (resp, "sealing");
        if (json_is_object (sl)) {
            const json_t *cur = json_object_get (sl, "own_current"), *nx = json_object_get (sl, "own_next"),
                         *late = json_object_get (sl, "late");
            printf ("sealing     key from %s%s, next from %s%s; period %lld d, retention %lld d",
                    json_is_object (cur) ? json_string_value (json_object_get (cur, "from")) : "(none)",
                    json_is_false (json_object_get (cur, "published")) ? " (not yet published)" : "",
                    json_is_object (nx) ? json_string_value (json_object_get (nx, "from")) : "(none)",
                    json_is_false (json_object_get (nx, "published")) ? " (not yet published)" : "",
                    (long long) json_integer_value (json_object_get (sl, "period_days")),
                    (long long) json_integer_value (json_object_get (sl, "retention_days")));
            size_t li;
            const json_t *l;
            json_array_foreach (late, li, l)
                printf ("%s%s", li ? ", " : "; LATE with their next key: ", json_string_value (l));
            printf ("\n");
        }
#undef S
#undef I
    }
    json_decref (resp);
    return RC_OK;
}

/* `rcctl recover [--declare-lost [--reason TEXT] [--force] [--wait peer|local]] [--json]`:
 * without --declare-lost, what a blocked member lacks and whether it may declare it lost;
 * with it, the node signs the Recovery (DESIGN §5) and says which seqs it declared lost. */
int
rcctl_recover (rcctl_t *c, int argc, char **argv)
{
    bool declare = false, force = false;
    const char *reason = NULL, *wait = "peer";
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--json") == 0)
            c->json = true;
        else if (strcmp (argv[i], "--declare-lost") == 0)
            declare = true;
        else if (strcmp (argv[i], "--force") == 0)
            force = true;
        else if ((strcmp (argv[i], "--reason") == 0 || strcmp (argv[i], "--wait") == 0)
                 && i + 1 < argc) {
            *(argv[i][2] == 'r' ? &reason : &wait) = argv[i + 1];
            i++;
        }
        else
            return rcctl_fail (RC_USAGE, "recover: unknown or incomplete argument \"%s\" (recover "
                               "[--declare-lost [--reason TEXT] [--force] [--wait peer|local]])",
                               argv[i]);
    }
    if (strcmp (wait, "peer") != 0 && strcmp (wait, "local") != 0)
        return rcctl_fail (RC_USAGE, "--wait \"%s\": must be peer or local", wait);
    if ((force || reason) && !declare)
        return rcctl_fail (RC_USAGE, "recover: --force and --reason go with --declare-lost");
    json_t *req = declare
        ? json_pack ("{s:s, s:b, s:s, s:s, s:I}", "op", "recover", "force", force,
                     "reason", reason ? reason : "", "wait", wait,
                     "wait_ms", (json_int_t) (c->timeout_ms > 1000 ? c->timeout_ms - 500
                                                                  : c->timeout_ms / 2))
        : json_pack ("{s:s}", "op", "status");
    if (!req)
        return rcctl_fail (RC_USAGE, "recover: --reason must be UTF-8 text");
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    json_t *resp = NULL;
    int code = rcctl_open (c, &conf, &roster, false, NULL);
    if (code == RC_OK)
        code = rcctl_call (c, &conf, req, &resp);
    json_decref (req);
    rcn_roster_destroy (&roster);
    if (code != RC_OK)
        return code;
    json_object_del (resp, "ok");
#define S(k) json_string_value (json_object_get (resp, k))
#define I(k) (long long) json_integer_value (json_object_get (resp, k))
    if (declare && c->json)
        rcctl_print_json (resp);
    else if (declare) {
        printf ("declared own seqs %lld..%lld lost: Recovery %s (seq %lld); authoring again",
                I ("first_lost"), I ("last_lost"), S ("hash"), I ("seq"));
        if (strcmp (S ("acknowledged"), "peer") == 0)
            printf ("; held by a peer (%s)\n", S ("held_by"));
        else
            printf ("; durable on this member, no peer has confirmed it yet\n");
    }
    else {
        const json_t *dl = json_object_get (resp, "declare_lost");
        json_t *out = json_pack ("{s:b, s:I, s:I, s:O, s:O}", "blocked",
                                 json_is_true (json_object_get (resp, "blocked")),
                                 "own_seq", I ("own_seq"), "hwm_committed", I ("hwm_committed"),
                                 "missing_own", json_object_get (resp, "missing_own"),
                                 "missing_nowhere", json_object_get (resp, "missing_nowhere"));
        if (dl)
            json_object_set (out, "declare_lost", (json_t *) dl);
        if (c->json)
            rcctl_print_json (out);
        else if (!dl)
            printf ("not blocked: the own log holds every seq this member committed (1..%lld)\n",
                    I ("own_seq"));
        else
            printf ("blocked: own log ends at seq %lld, committed up to %lld; %zu seq(s) held by "
                    "no peer that answered\n%s: %s\n", I ("own_seq"), I ("hwm_committed"),
                    json_array_size (json_object_get (resp, "missing_nowhere")),
                    json_is_true (json_object_get (dl, "possible"))
                    ? "rcctl recover --declare-lost is possible" : "not yet",
                    json_string_value (json_object_get (dl, "why")));
        json_decref (out);
    }
#undef S
#undef I
    json_decref (resp);
    return RC_OK;
}

int
rcctl_peers (rcctl_t *c, int argc, char **argv)
{
    json_t *resp = NULL;
    int code = ask_node (c, argc, argv, &resp);
    if (code != RC_OK)
        return code;
    const json_t *peers = json_object_get (resp, "peers");
    json_int_t outsiders = json_integer_value (json_object_get (resp, "outsiders_refused"));
    if (c->json)
        rcctl_print_json (peers);
    else {
        printf ("%-6s  %-16s  %-15s  %-12s  %-8s  %s\n", "REGION", "NAME", "STATE", "LAST HEARD",
                "REFUSED", "BEHIND US (entries, by origin)");
        size_t i;
        const json_t *p;
        json_array_foreach (peers, i, p) {
            char heard[32] = "never";
            json_int_t ms = json_integer_value (json_object_get (p, "last_heard_ms"));
            if (json_object_get (p, "last_heard_ms"))
                snprintf (heard, sizeof heard, "%.1f s ago", (double) ms / 1000.0);
            char lag[256] = "";
            const char *key;
            const json_t *v;
            size_t off = 0;
            json_object_foreach ((json_t *) json_object_get (p, "lag"), key, v)
                if (json_integer_value (v) != 0 && off < sizeof lag - 32)
                    off += (size_t) snprintf (lag + off, sizeof lag - off, "%s%s:%lld",
                                              off ? " " : "", key, (long long) json_integer_value (v));
            printf ("%-6s  %-16.16s  %-15s  %-12s  %-8lld  %s\n",
                    json_string_value (json_object_get (p, "region")),
                    json_string_value (json_object_get (p, "name")),
                    json_string_value (json_object_get (p, "state")), heard,
                    (long long) json_integer_value (json_object_get (p, "refused")),
                    off ? lag : "-");
        }
        printf ("connections refused from keys outside the roster: %lld\n", (long long) outsiders);
    }
    json_decref (resp);
    return RC_OK;
}

typedef struct {
    const rcn_roster_t *roster;
    json_t *arr;
} heads_ctx_t;

static int
head_one (const uint8_t origin[32], uint64_t seq, const uint8_t hash[32], void *ctx)
{
    heads_ctx_t *h = ctx;
    char region[32], ohex[65], hhex[65];
    rcctl_region_of (h->roster, origin, region, sizeof region);
    json_array_append_new (h->arr, json_pack ("{s:s, s:s, s:I, s:s}", "region", region,
                                              "origin", rcn_hex (origin, 32, ohex),
                                              "seq", (json_int_t) seq,
                                              "hash", rcn_hex (hash, 32, hhex)));
    return 0;
}

int
rcctl_heads (rcctl_t *c, int argc, char **argv)
{
    (void) argv;
    if (argc != 1)
        return rcctl_fail (RC_USAGE, "heads takes no arguments");
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_store_t *store = NULL;
    int code = rcctl_open (c, &conf, &roster, false, &store);
    if (code != RC_OK)
        return code;
    heads_ctx_t h = { roster, json_array () };
    if (rcn_store_heads (store, head_one, &h) != RCN_OK)
        code = rcctl_fail (RC_FAIL, "heads: the log could not be read");
    else
        rcctl_print_json (h.arr);
    json_decref (h.arr);
    rcn_store_destroy (&store);
    rcn_roster_destroy (&roster);
    return code;
}

bool
rcctl_kind_name (uint32_t kind, char *buf, size_t len)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value (&rcn__kind__descriptor,
                                                                         (int) kind);
    if (!ev || strncmp (ev->name, "KIND_", 5) != 0 || len == 0)
        return false;
    size_t i = 0;
    for (const char *p = ev->name + 5; *p && i + 1 < len; p++)
        buf[i++] = (char) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    buf[i] = '\0';
    return true;
}

typedef struct {
    const rcn_roster_t *roster;
    rcn_store_t *store;
    uint64_t count;
} export_ctx_t;

static int
export_one (rcn_entry_t *e, void *ctx)
{
    export_ctx_t *x = ctx;
    char region[32], ohex[65], hhex[65], phex[65];
    rcctl_region_of (x->roster, e->h.origin, region, sizeof region);
    const rcn_kind_t *k = rcn_kind_by_id (e->h.kind);
    char *sb = rcn_base64 (e->signed_bytes, e->signed_len);
    char *sg = rcn_base64 (e->sig, RCN_SIG_SIZE);
    const char *status = rcn_status_name (e->h.status);
    json_t *o = json_object ();
    if (!sb || !sg || !o) {
        free (sb);
        free (sg);
        json_decref (o);
        return RCN_ENOMEM;
    }
    json_object_set_new (o, "region", json_string (region));
    json_object_set_new (o, "origin", json_string (rcn_hex (e->h.origin, 32, ohex)));
    json_object_set_new (o, "seq", json_integer ((json_int_t) e->h.seq));
    char kname[64];
    json_object_set_new (o, "kind", rcctl_kind_name (e->h.kind, kname, sizeof kname)
                                    ? json_string (kname) : json_integer (e->h.kind));
    json_object_set_new (o, "kind_id", json_integer (e->h.kind));
    json_object_set_new (o, "status", status ? json_string (status) : json_integer (e->h.status));
    json_object_set_new (o, "time_ms", json_integer ((json_int_t) e->h.time_ms));
    json_object_set_new (o, "hash", json_string (rcn_hex (rcn_entry_hash (e), 32, hhex)));
    json_object_set_new (o, "prev", json_string (rcn_hex (e->h.prev, 32, phex)));
    json_object_set_new (o, "signed", json_string (sb));
    json_object_set_new (o, "sig", json_string (sg));
    char reason[512];
    if (rcn_store_invalid_reason (x->store, e->hash, reason, sizeof reason) == RCN_OK)
        json_object_set_new (o, "invalid", json_string (reason));
    else if (k && k->show) {
        json_t *body = k->show (e->h.kind, e->h.body, e->h.body_len);
        if (body)
            json_object_set_new (o, "body", body);
    }
    json_dumpf (o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc ('\n', stdout);
    json_decref (o);
    free (sb);
    free (sg);
    x->count++;
    return 0;
}

int
rcctl_export (rcctl_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "origin", required_argument, NULL, 'o' }, { "from", required_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    const char *origin_arg = NULL;
    uint64_t from = 1;
    optind = 0;
    opterr = 0;
    int ch;
    while ((ch = getopt_long (argc, argv, "+", opts, NULL)) != -1) {
        if (ch == 'o')
            origin_arg = optarg;
        else if (ch == 'f') {
            char *end;
            errno = 0;
            unsigned long long v = strtoull (optarg, &end, 10);
            if (errno || *end || !*optarg || v < 1 || optarg[0] == '-')
                return rcctl_fail (RC_USAGE, "export: --from \"%s\": a seq, 1 or more", optarg);
            from = v;
        }
        else
            return rcctl_fail (RC_USAGE, "export: unknown flag or missing value \"%s\"", argv[optind - 1]);
    }
    if (optind < argc)
        return rcctl_fail (RC_USAGE, "export: unexpected argument \"%s\"", argv[optind]);
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_store_t *store = NULL;
    int code = rcctl_open (c, &conf, &roster, false, &store);
    if (code != RC_OK)
        return code;
    uint8_t origin[32];
    bool one = false;
    if (origin_arg) {
        uint32_t region;
        char why[256];
        const rcn_member_t *m;
        if (rcn_unhex (origin_arg, origin, 32) == RCN_OK)
            one = true;
        else if (rcn_region_parse (origin_arg, &region, why, sizeof why) != RCN_OK)
            code = rcctl_fail (RC_USAGE, "export: --origin: %s (or give the origin's 64-hex key)", why);
        else if (!roster || !(m = rcn_roster_by_region (roster, region)))
            code = rcctl_fail (RC_USAGE, "export: --origin: %06u is not in the roster", region);
        else {
            memcpy (origin, m->sign_key, 32);
            one = true;
        }
    }
    export_ctx_t x = { roster, store, 0 };
    if (code == RC_OK) {
        int rc = rcn_store_scan (store, one ? origin : NULL, from, export_one, &x);
        if (rc != RCN_OK)
            code = rcctl_fail (RC_FAIL, "export: %s after %llu entries", rcn_strerror (rc),
                               (unsigned long long) x.count);
    }
    if (fflush (stdout) != 0)
        code = rcctl_fail (RC_FAIL, "export: writing stdout: %s", strerror (errno));
    rcn_store_destroy (&store);
    rcn_roster_destroy (&roster);
    return code;
}

int
rcctl_verify_log (rcctl_t *c, int argc, char **argv)
{
    if (argc > 2)
        return rcctl_fail (RC_USAGE, "verify-log: give one node dir");
    rcctl_t local = *c;
    if (argc == 2)
        local.dir = argv[1];
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_store_t *store = NULL;
    int code = rcctl_open (&local, &conf, &roster, true, &store);
    if (code != RC_OK)
        return code;
    uint64_t checked = 0;
    char why[1024] = "";
    rcn_store_stats_t st = { 0 };
    int rc = rcn_store_check (store, rcn_roster_is_member, roster, &checked, why, sizeof why);
    if (rc == RCN_OK)
        rc = rcn_store_stats (store, &st);
    if (rc != RCN_OK)
        code = rcctl_fail (RC_FAIL, "verify-log: FAULT after %llu sound entries: %s",
                           (unsigned long long) checked, why[0] ? why : rcn_strerror (rc));
    else
        printf ("verify-log: %llu entries from %llu origins: every signature and chain is valid "
                "(%llu invalid bodies recorded, %llu fork records)\n",
                (unsigned long long) checked, (unsigned long long) st.origins,
                (unsigned long long) st.invalid, (unsigned long long) st.forks);
    /* The local audit of openings (audit.h), when this member has opened anything. */
    uint64_t opened = 0, bad = 0;
    uint8_t head[32];
    char hex[65];
    rc = rcn_audit_read (conf.dir, 0, NULL, NULL, &opened, head, &bad, why, sizeof why);
    if (rc == RCN_OK)
        printf ("verify-log: audit: %llu openings recorded, chain valid (head %s)\n",
                (unsigned long long) opened, rcn_hex (head, 32, hex));
    else if (rc != RCN_ENOTFOUND)
        code = rcctl_fail (RC_FAIL, "verify-log: audit FAULT after %llu sound records: %s",
                           (unsigned long long) opened, why);
    rcn_store_destroy (&store);
    rcn_roster_destroy (&roster);
    return code;
}

/* Copies src to dst (new, 0600) and fsyncs it. */
static int
copy_file (const char *src, const char *dst, char *why, size_t whylen)
{
    int in = open (src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        rcn_errf (why, whylen, "%s: %s", src, strerror (errno));
        return RCN_EIO;
    }
    int out = open (dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = out < 0 ? RCN_EIO : RCN_OK;
    char buf[65536];
    ssize_t n = 0;
    while (rc == RCN_OK && (n = read (in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = RCN_EIO;
            break;
        }
        if (rcn_write_all (out, buf, (size_t) n) != 0)
            rc = RCN_EIO;
    }
    if (rc == RCN_OK && fsync (out) != 0)
        rc = RCN_EIO;
    if (rc != RCN_OK)
        rcn_errf (why, whylen, "copying %s to %s: %s", src, dst, strerror (errno));
    if (out >= 0)
        close (out);
    close (in);
    return rc;
}

int
rcctl_backup (rcctl_t *c, int argc, char **argv)
{
    if (argc != 2)
        return rcctl_fail (RC_USAGE, "backup: give the destination dir (it must not exist)");
    const char *dest = argv[1];
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_store_t *store = NULL;
    int code = rcctl_open (c, &conf, &roster, false, &store);
    if (code != RC_OK)
        return code;
    char why[1024] = "", path[PATH_MAX], src[PATH_MAX];
    rcn_store_stats_t st = { 0 };
    if (mkdir (dest, 0700) != 0) {
        code = rcctl_fail (RC_FAIL, "backup: cannot create %s: %s", dest, strerror (errno));
        goto done;
    }
    int rc = RCN_EINVAL;
    if (!rcctl_join (path, sizeof path, dest, "data"))
        rcn_errf (why, sizeof why, "path too long");
    else
        rc = rcn_store_backup (store, path, why, sizeof why);
    if (rc == RCN_OK) {
        rc = RCN_EINVAL;
        if (rcctl_join (path, sizeof path, dest, "node.conf")
            && rcctl_join (src, sizeof src, conf.dir, "node.conf"))
            rc = copy_file (src, path, why, sizeof why);
    }
    if (rc == RCN_OK && access (conf.roster_path, F_OK) == 0) {
        rc = RCN_EINVAL;
        if (rcctl_join (path, sizeof path, dest, "roster.json"))
            rc = copy_file (conf.roster_path, path, why, sizeof why);
    }
    if (rc == RCN_OK)
        rc = rcn_store_stats (store, &st);
    if (rc != RCN_OK)
        code = rcctl_fail (RC_FAIL, "backup: %s (the partial copy in %s is not a backup: remove it)",
                           why[0] ? why : rcn_strerror (rc), dest);
    else if (rcn_fsync_dir (dest) != 0 || rcn_fsync_parent (dest) != 0)
        code = rcctl_fail (RC_FAIL, "backup: syncing %s: %s (the copy may not survive a power "
                           "loss: run the backup again)", dest, strerror (errno));
    else {
        printf ("backup: %llu entries from %llu origins in %s/data, with node.conf and "
                "roster.json; keys are NOT included (keep %s safe separately)\n",
                (unsigned long long) st.entries, (unsigned long long) st.origins, dest,
                conf.keys_path);
    }
done:
    rcn_store_destroy (&store);
    rcn_roster_destroy (&roster);
    return code;
}
