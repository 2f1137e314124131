/* rcctl — the operator's command-line client (see `rcctl help`).
 *
 * Commands that write (authoring an entry) ask the running node over its control socket;
 * commands that read open the node's LMDB read-only, so they also work on a stopped node.
 * Record kinds bring their own verbs (kind.h: cli, list, print): this file dispatches to them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "rcctl.h"
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/control.h"
#include "rcn/kind.h"
#include "rcn/log.h"
#include "rcn/qr.h"

int
rcctl_fail (int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fputs ("rcctl: ", stderr);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
    va_end (ap);
    return code;
}

bool
rcctl_join (char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf (buf, len, "%s/%s", a, b);
    if (n < 0 || (size_t) n >= len) {
        buf[0] = '\0';
        return false;
    }
    return true;
}

void
rcctl_print_json (const json_t *j)
{
    json_dumpf (j, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
    fputc ('\n', stdout);
}

void
rcctl_region_of (const rcn_roster_t *r, const uint8_t origin[32], char *buf, size_t len)
{
    const rcn_member_t *m = r ? rcn_roster_by_origin (r, origin) : NULL;
    char hex[65];
    if (m)
        snprintf (buf, len, "%06u", m->region);
    else
        snprintf (buf, len, "?%.12s", rcn_hex (origin, 32, hex));
}

int
rcctl_open (const rcctl_t *c, rcn_conf_t *conf, rcn_roster_t **roster, bool want_roster,
            rcn_store_t **store)
{
    char why[1024] = "";
    int rc = rcn_conf_load (c->dir, conf, why, sizeof why);
    if (rc != RCN_OK)
        return rcctl_fail (RC_FAIL, "%s is not a node dir: %s", c->dir, why);
    *roster = NULL;
    rc = rcn_roster_load (conf->roster_path, roster, why, sizeof why);
    if (rc != RCN_OK && want_roster)
        return rcctl_fail (RC_FAIL, "%s", why);
    if (!store)
        return RC_OK;
    rcn_store_opts_t opts = { .readonly = true, .kinds = rcn_kinds };
    rc = rcn_store_open (conf->data_path, &opts, store, why, sizeof why);
    if (rc != RCN_OK) {
        rcn_roster_destroy (roster);
        return rcctl_fail (RC_FAIL, "cannot open the log in %s: %s (has this node run yet?)",
                           conf->data_path, why);
    }
    return RC_OK;
}

int
rcctl_call (const rcctl_t *c, const rcn_conf_t *conf, const json_t *req, json_t **resp)
{
    char sock[4200], why[1024] = "";
    rcn_conf_path (conf, "control", sock, sizeof sock);
    int rc = rcn_ctl_call (sock, req, c->timeout_ms, resp, why, sizeof why);
    if (rc == RCN_ENOTFOUND || rc == RCN_ETIMEOUT)
        return rcctl_fail (RC_DOWN, "%s", why);
    if (rc != RCN_OK)
        return rcctl_fail (RC_FAIL, "%s", why);
    if (!json_is_true (json_object_get (*resp, "ok"))) {
        int code = RC_FAIL;
        rcctl_fail (code, "%s: %s", json_string_value (json_object_get (*resp, "code")),
                    json_string_value (json_object_get (*resp, "error")));
        json_decref (*resp);
        *resp = NULL;
        return code;
    }
    return RC_OK;
}

/* Takes flags every kind shares out of argv (compacting it): --status, --wait, --json. A
 * --status whose value is no traffic status (actual, exercise, test) is left to the kind: a
 * case answer is `case ack HASH --status taken_over`. */
static int
common_flags (rcctl_t *c, int *argc, char **argv, const char **status, const char **wait)
{
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp (argv[i], "--json") == 0)
            c->json = true;
        else if (strcmp (argv[i], "--status") == 0 && i + 1 < *argc
                 && rcn_status_parse (argv[i + 1]) < 0) {
            argv[out++] = argv[i];
            argv[out++] = argv[i + 1];
            i++;
        }
        else if (strcmp (argv[i], "--status") == 0 || strcmp (argv[i], "--wait") == 0) {
            if (i + 1 >= *argc)
                return rcctl_fail (RC_USAGE, "%s needs a value", argv[i]);
            *(argv[i][2] == 's' ? status : wait) = argv[i + 1];
            i++;
        }
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    if (*wait && strcmp (*wait, "local") != 0 && strcmp (*wait, "peer") != 0)
        return rcctl_fail (RC_USAGE, "--wait \"%s\": must be peer (held by a peer, the default) "
                           "or local (durable on this member)", *wait);
    return RC_OK;
}

static bool
verb_in (const char *const *verbs, const char *verb)
{
    for (size_t i = 0; verbs && verbs[i]; i++)
        if (strcmp (verbs[i], verb) == 0)
            return true;
    return false;
}

/* The JSON object on stdin, for a verb the kind reads from it (--json, stdin not a terminal).
 * *input stays NULL otherwise. */
static int
read_input (const rcctl_t *c, const rcn_kind_t *k, int argc, char **argv, json_t **input)
{
    *input = NULL;
    if (!c->json || argc < 2 || isatty (STDIN_FILENO)
        || !(verb_in (k->json_verbs, argv[1]) || verb_in (k->json_flag_verbs, argv[1])))
        return RC_OK;
    /* Empty stdin (cron, </dev/null): the verb takes its fields from flags. */
    int ch = fgetc (stdin);
    while (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r')
        ch = fgetc (stdin);
    if (ch == EOF)
        return RC_OK;
    ungetc (ch, stdin);
    json_error_t err;
    *input = json_loadf (stdin, JSON_REJECT_DUPLICATES, &err);
    if (!*input)
        return rcctl_fail (RC_USAGE, "%s %s --json: stdin is not one JSON object: line %d: %s",
                           k->name, argv[1], err.line, err.text);
    if (!json_is_object (*input)) {
        json_decref (*input);
        *input = NULL;
        return rcctl_fail (RC_USAGE, "%s %s --json: stdin must be a JSON object", k->name, argv[1]);
    }
    return RC_OK;
}

/* `list` and `show`: the view, read from the log (the node need not run). */
static int
kind_list (rcctl_t *c, const rcn_kind_t *k, const json_t *req, json_t **out)
{
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_store_t *store = NULL;
    int code = rcctl_open (c, &conf, &roster, false, &store);
    if (code != RC_OK)
        return code;
    /* The view is the same on every member; "me" is this dir's region (e.g. --to-me). */
    json_t *query = json_deep_copy (json_object_get (req, "query"));
    if (!json_is_object (query)) {
        json_decref (query);
        query = json_object ();
    }
    char region[16];
    snprintf (region, sizeof region, "%06u", conf.region);
    json_object_set_new (query, "self_region", json_string (region));
    rcn_kind_env_t env = { .roster = roster, .region = conf.region };
    char why[512];
    if (!(*out = rcn_kind_list (store, k, &env, query, rcn_now_ms (), why, sizeof why)))
        code = rcctl_fail (RC_FAIL, "%s %s: %s", k->name,
                           json_string_value (json_object_get (req, "verb")), why);
    json_decref (query);
    rcn_store_destroy (&store);
    rcn_roster_destroy (&roster);
    return code;
}

/* `show`'s own flags, taken out of argv (compacting it) before the kind's cli sees them:
 * --reason TEXT and --operator NAME, which the node records in its audit when it opens. Only
 * for the `show` of a kind that seals (a `pass revoke --reason` is the kind's own). */
static int
open_flags (const rcn_kind_t *k, int *argc, char **argv, const char **reason,
            const char **operator_name)
{
    if (!k->open || *argc < 2 || strcmp (argv[1], "show") != 0)
        return RC_OK;
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp (argv[i], "--reason") == 0 || strcmp (argv[i], "--operator") == 0) {
            if (i + 1 >= *argc)
                return rcctl_fail (RC_USAGE, "%s show: %s needs a value", k->name, argv[i]);
            *(argv[i][2] == 'r' ? reason : operator_name) = argv[i + 1];
            i++;
        }
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return RC_OK;
}

/* `show`: the clear part from the log, then what the node can open of it ("opened"), or why
 * not ("sealed"). The node opens only for a reason (and an operator: --operator, else
 * node.conf's), which it records in its audit first; without --reason rcctl does not ask. */
static int
kind_show (rcctl_t *c, const rcn_kind_t *k, const json_t *req, const char *reason,
           const char *operator_name)
{
    json_t *out = NULL, *resp = NULL;
    int code = kind_list (c, k, req, &out);
    if (code != RC_OK)
        return code;
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    json_t *ask = json_pack ("{s:s, s:s, s:O}", "op", "open", "kind", k->name,
                             "hash", json_object_get (req, "hash"));
    if (reason)
        json_object_set_new (ask, "reason", json_string (reason));
    if (operator_name)
        json_object_set_new (ask, "operator", json_string (operator_name));
    char sock[4200], why[1024] = "";
    if (!reason)
        json_object_set_new (out, "sealed", json_string ("sealed details are opened only with "
                             "--reason \"why\" (each opening is recorded in this member's audit)"));
    else if (rcctl_open (c, &conf, &roster, false, NULL) == RC_OK) {
        rcn_conf_path (&conf, "control", sock, sizeof sock);
        int rc = rcn_ctl_call (sock, ask, c->timeout_ms, &resp, why, sizeof why);
        if (rc != RCN_OK)
            json_object_set_new (out, "sealed", json_string (why));
        else if (!json_is_true (json_object_get (resp, "ok")))
            json_object_set (out, "sealed", json_object_get (resp, "error"));
        else
            json_object_set (out, "opened", json_object_get (resp, "opened"));
    }
    json_decref (ask);
    json_decref (resp);
    rcn_roster_destroy (&roster);
    if (c->json)
        rcctl_print_json (out);
    else
        k->print (out);
    json_decref (out);
    return RC_OK;
}

/* A verb done without a node (e.g. `pass verify` at a checkpoint): the node dir is optional. */
static int
kind_local (rcctl_t *c, const rcn_kind_t *k, const json_t *req)
{
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_store_t *store = NULL;
    char why[1024] = "";
    if (c->dir_given && rcn_conf_load (c->dir, &conf, why, sizeof why) == RCN_OK) {
        /* A member's checkpoint: its own region is "here" (unless the verb was told). */
        if (!json_object_get (req, "here"))
            json_object_set_new ((json_t *) req, "here", json_integer (conf.region));
        if (rcn_roster_load (conf.roster_path, &roster, why, sizeof why) != RCN_OK)
            roster = NULL;
        rcn_store_opts_t opts = { .readonly = true, .kinds = rcn_kinds };
        if (rcn_store_open (conf.data_path, &opts, &store, why, sizeof why) != RCN_OK)
            store = NULL;
    } else if (c->dir_given)
        return rcctl_fail (RC_FAIL, "%s is not a node dir: %s", c->dir, why);
    int code = k->local (req, roster, store, c->json);
    rcn_store_destroy (&store);
    rcn_roster_destroy (&roster);
    return code;
}

/* A written entry's "after" (kind.h): fields read back from the log into the answer, and the
 * QR code of its token when --qr FILE was given. */
static int
after_author (rcctl_t *c, const rcn_kind_t *k, const json_t *req, json_t *resp)
{
    const json_t *after = json_object_get (req, "after");
    if (!json_is_object (after))
        return RC_OK;
    json_t *q = json_pack ("{s:O, s:O}", "verb", json_object_get (req, "verb"), "query", after);
    json_t *out = NULL;
    int code = q ? RC_OK : RC_FAIL;
    if (q) {
        json_object_set (json_object_get (q, "query"), "hash", json_object_get (resp, "hash"));
        code = kind_list (c, k, q, &out);
    }
    if (code == RC_OK && json_is_object (out))
        json_object_update (resp, out);
    const char *token = json_string_value (json_object_get (resp, "token"));
    const char *qr = json_string_value (json_object_get (req, "qr"));
    char why[512] = "";
    if (code == RC_OK && qr) {
        if (!token || rcn_qr_write_png (token, qr, why, sizeof why) != RCN_OK)
            code = rcctl_fail (RC_FAIL, "%s %s: the entry is written (%s) but not its QR code: %s",
                               k->name, json_string_value (json_object_get (req, "verb")),
                               json_string_value (json_object_get (resp, "hash")),
                               token ? why : "no token to encode");
        else
            json_object_set_new (resp, "qr", json_string (qr));
    }
    json_decref (out);
    json_decref (q);
    return code;
}

/* A flat JSON object as flags (kind.h json_flag_verbs), appended to argv (room for 64). The
 * strings made live in *keep until the command is done. */
static int
input_as_flags (const rcn_kind_t *k, const json_t *input, int *argc, char **argv, json_t *keep)
{
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *) input, key, v) {
        if (*argc > 60)
            return rcctl_fail (RC_USAGE, "%s: too many fields in the JSON on stdin", k->name);
        char flag[64], val[4096] = "";
        bool positional = strcmp (key, "hash") == 0;
        snprintf (flag, sizeof flag, "--%s", key);
        for (char *p = flag; *p; p++)
            *p = *p == '_' ? '-' : *p;
        if (json_is_true (v) && !positional) {
            json_array_append_new (keep, json_string (flag));
            argv[(*argc)++] = (char *) json_string_value (json_array_get (keep, json_array_size (keep) - 1));
            continue;
        }
        if (json_is_string (v))
            snprintf (val, sizeof val, "%s", json_string_value (v));
        else if (json_is_integer (v))
            snprintf (val, sizeof val, "%lld", (long long) json_integer_value (v));
        else if (json_is_array (v)) {
            size_t i, off = 0;
            json_t *x;
            json_array_foreach (v, i, x) {
                char one[256];
                if (json_is_string (x))
                    snprintf (one, sizeof one, "%s", json_string_value (x));
                else if (json_is_integer (x))
                    snprintf (one, sizeof one, "%lld", (long long) json_integer_value (x));
                else
                    return rcctl_fail (RC_USAGE, "%s: \"%s\" on stdin: a list of texts or numbers",
                                       k->name, key);
                off += (size_t) snprintf (val + off, sizeof val - off, "%s%s", i ? "," : "", one);
                if (off >= sizeof val)
                    return rcctl_fail (RC_USAGE, "%s: \"%s\" on stdin is too long", k->name, key);
            }
        }
        else
            return rcctl_fail (RC_USAGE, "%s: \"%s\" on stdin must be text, a number, true or a "
                               "list", k->name, key);
        if (!positional)
            json_array_append_new (keep, json_string (flag));
        json_array_append_new (keep, json_string (val));
        size_t n = json_array_size (keep);
        if (!positional)
            argv[(*argc)++] = (char *) json_string_value (json_array_get (keep, n - 2));
        argv[(*argc)++] = (char *) json_string_value (json_array_get (keep, n - 1));
    }
    argv[*argc] = NULL;
    return RC_OK;
}

static int
kind_command (rcctl_t *c, const rcn_kind_t *k, int argc, char **argv)
{
    const char *status = NULL, *wait = NULL;
    const char *reason = NULL, *operator_name = NULL;
    int code = common_flags (c, &argc, argv, &status, &wait);
    if (code == RC_OK)
        code = open_flags (k, &argc, argv, &reason, &operator_name);
    if (code != RC_OK)
        return code;
    json_t *req = NULL, *resp = NULL, *input = NULL;
    char why[1024] = "";
    if ((code = read_input (c, k, argc, argv, &input)) != RC_OK)
        return code;
    char *av[128];
    json_t *keep = json_array ();
    if (input && !verb_in (k->json_verbs, argv[1])) {
        if (argc > 64) {
            json_decref (input);
            json_decref (keep);
            return rcctl_fail (RC_USAGE, "%s: too many arguments", k->name);
        }
        memcpy (av, argv, (size_t) argc * sizeof *av);
        code = input_as_flags (k, input, &argc, av, keep);
        json_decref (input);
        input = NULL;
        argv = av;
        if (code != RC_OK) {
            json_decref (keep);
            return code;
        }
    }
    int rc = k->cli (argc - 1, argv + 1, input, rcn_now_ms (), &req, why, sizeof why);
    json_decref (input);
    if (rc != RCN_OK) {
        json_decref (keep);
        return rcctl_fail (RC_USAGE, "%s", why);
    }
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    const char *op = json_string_value (json_object_get (req, "op"));
    if (strcmp (op, "list") == 0) {
        json_t *out = NULL;
        code = kind_list (c, k, req, &out);
        if (code == RC_OK && c->json)
            rcctl_print_json (out);
        else if (code == RC_OK)
            k->print (out);
        json_decref (out);
    }
    else if (strcmp (op, "open") == 0)
        code = kind_show (c, k, req, reason, operator_name);
    else if (strcmp (op, "local") == 0)
        code = k->local ? kind_local (c, k, req) : rcctl_fail (RC_USAGE, "%s: no local verbs", k->name);
    else {
        json_object_set_new (req, "kind", json_string (k->name));
        json_object_set_new (req, "status", json_string (status ? status : "actual"));
        /* The node answers "local" itself before our own timeout runs out. */
        json_object_set_new (req, "wait", json_string (wait ? wait : "peer"));
        json_object_set_new (req, "wait_ms", json_integer (c->timeout_ms > 1000
                                                           ? c->timeout_ms - 500 : c->timeout_ms / 2));
        code = rcctl_open (c, &conf, &roster, false, NULL);
        if (code == RC_OK)
            code = rcctl_call (c, &conf, req, &resp);
        if (code == RC_OK)
            code = after_author (c, k, req, resp);
        if (code == RC_OK) {
            json_object_del (resp, "ok");
            if (c->json)
                rcctl_print_json (resp);
            else if (json_is_true (json_object_get (resp, "existing")))
                printf ("%s %s: the same request was written before as entry %s; nothing new "
                        "was written\n", k->name, json_string_value (json_object_get (req, "verb")),
                        json_string_value (json_object_get (resp, "hash")));
            else {
                bool peer = strcmp (json_string_value (json_object_get (resp, "acknowledged")),
                                    "peer") == 0;
                printf ("%s %s: entry %s (seq %lld, %s), durable on this member", k->name,
                        json_string_value (json_object_get (req, "verb")),
                        json_string_value (json_object_get (resp, "hash")),
                        (long long) json_integer_value (json_object_get (resp, "seq")),
                        json_string_value (json_object_get (resp, "status")));
                if (peer)
                    printf (" and held by a peer (%s)\n",
                            json_string_value (json_object_get (resp, "held_by")));
                else if ((wait && strcmp (wait, "local") == 0)
                         || json_is_true (json_object_get (resp, "alone")))
                    printf ("\n");
                else
                    printf ("; no peer has confirmed it yet (it will be replicated when one is up)\n");
                const char *note = json_string_value (json_object_get (resp, "note"));
                if (note)
                    printf ("%s\n", note);
            }
            if (!c->json) {
                if (json_object_get (resp, "token"))
                    printf ("token %s\n", json_string_value (json_object_get (resp, "token")));
                if (json_object_get (resp, "qr"))
                    printf ("QR code written to %s\n", json_string_value (json_object_get (resp, "qr")));
            }
        }
    }
    json_decref (req);
    json_decref (resp);
    json_decref (keep);
    rcn_roster_destroy (&roster);
    return code;
}

static void
usage (FILE *f)
{
    fprintf (f,
        "usage: rcctl [-d DIR] [--timeout MS] [--json] COMMAND …\n"
        "  -d DIR        the node dir (default $RCN_DIR, else .)\n"
        "  --timeout MS  how long to wait for the node (default %d)\n"
        "  --json        answers as JSON, for machines\n"
        "\n"
        "setting up\n"
        "  init --dir DIR --region CODE --name NAME --pub tcp://H:P --sync tcp://H:P [--operator NAME]\n"
        "  card                                 this member's card (JSON) again\n"
        "  roster build CARD.json… [--rounds 10:00,15:00,17:00] [--timezone Asia/Shanghai]\n"
        "               [--grace S] [--sla S] [--retention-days N] [--seal-period-days N]\n"
        "  roster hash FILE                     BLAKE2b-256 of the roster file\n"
        "the node and its log\n"
        "  status [--json]                      the running node's state\n"
        "  peers [--json]                       each peer: up/down, last heard, lag, refusals\n"
        "  heads                                per origin: region, seq, hash (JSON)\n"
        "  export [--origin CODE] [--from SEQ]  entries, one JSON object per line\n"
        "  log tail [--lines N] [--follow]      the newest entries, one line each (no personal details)\n"
        "  verify-log DIR                       check every signature and chain offline\n"
        "  backup DEST                          consistent copy of the log (no keys)\n"
        "  retention run [--at TIME] [--json]   destroy sealing secrets past the roster's retention\n"
        "  audit [--since TIME] [--json]        openings of sealed details on this member\n"
        "  recover [--declare-lost [--reason T] [--force]]  a blocked member's missing own seqs;\n"
        "                                       with --declare-lost, sign them lost (Recovery)\n"
        "  drill isolate [--for T]              act out this member's outage: send and receive\n"
        "                                       nothing (T: 90s, 2m, 1h); not kept across a restart\n"
        "  drill rejoin                         end it now: talk to peers again and catch up\n"
        "records (flags for writes: --status actual|exercise|test, --wait peer|local, --json)\n"
        "  --reason TEXT [--operator NAME]      with case show / transfer show: open the sealed\n"
        "                                       details, recorded in this member's audit\n",
        RCN_CONTROL_TIMEOUT_MS);
    for (size_t i = 0; rcn_kinds[i]; i++)
        fputs (rcn_kinds[i]->usage, f);
}

/* rcctl_audit.c */
int rcctl_audit (rcctl_t *c, int argc, char **argv);
/* rcctl_retention.c */
int rcctl_retention (rcctl_t *c, int argc, char **argv);
/* rcctl_drill.c */
int rcctl_drill (rcctl_t *c, int argc, char **argv);

int
main (int argc, char **argv)
{
    if (sodium_init () < 0)
        return rcctl_fail (RC_FAIL, "libsodium failed to initialise");
    rcn_log_set_level (RCN_LOG_WARN);     /* rcctl speaks through its output, not the log */
    rcctl_t c = { .dir = getenv ("RCN_DIR"), .timeout_ms = RCN_CONTROL_TIMEOUT_MS };
    c.dir_given = c.dir && *c.dir;
    if (!c.dir || !*c.dir)
        c.dir = ".";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0) {
            usage (stdout);
            return RC_OK;
        }
        if (strcmp (argv[i], "--json") == 0) {
            c.json = true;
            continue;
        }
        if (i + 1 >= argc)
            return rcctl_fail (RC_USAGE, "%s needs a value (see rcctl help)", argv[i]);
        if (strcmp (argv[i], "-d") == 0 || strcmp (argv[i], "--dir") == 0) {
            c.dir = argv[++i];
            c.dir_given = true;
        }
        else if (strcmp (argv[i], "--timeout") == 0) {
            char *end;
            errno = 0;
            long t = strtol (argv[++i], &end, 10);
            if (errno || *end || t < 1 || t > 3600000)
                return rcctl_fail (RC_USAGE, "--timeout \"%s\": milliseconds, 1..3600000", argv[i]);
            c.timeout_ms = (int) t;
        }
        else
            return rcctl_fail (RC_USAGE, "unknown option \"%s\" (see rcctl help)", argv[i]);
    }
    if (i >= argc) {
        usage (stderr);
        return RC_USAGE;
    }
    const char *cmd = argv[i];
    int n = argc - i;
    char **av = argv + i;
    static const struct {
        const char *name;
        int (*fn) (rcctl_t *, int, char **);
    } cmds[] = {
        { "init", rcctl_init }, { "card", rcctl_card }, { "roster", rcctl_roster },
        { "status", rcctl_status }, { "peers", rcctl_peers }, { "heads", rcctl_heads }, { "export", rcctl_export },
        { "verify-log", rcctl_verify_log }, { "backup", rcctl_backup }, { "log", rcctl_log }, { "recover", rcctl_recover },
        { "audit", rcctl_audit }, { "retention", rcctl_retention }, { "drill", rcctl_drill },
    };
    if (strcmp (cmd, "help") == 0) {
        usage (stdout);
        return RC_OK;
    }
    for (size_t k = 0; k < sizeof cmds / sizeof *cmds; k++)
        if (strcmp (cmd, cmds[k].name) == 0)
            return cmds[k].fn (&c, n, av);
    const rcn_kind_t *k = rcn_kind_by_name (cmd);
    if (k)
        return kind_command (&c, k, n, av);
    return rcctl_fail (RC_USAGE, "unknown command \"%s\" (see rcctl help)", cmd);
}
