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

/* ---- status: the node and the alliance at a glance (issue #6) -------------------------------
 * The table fits 100 columns: a label column of 12, then at most 88. Whatever comes from the
 * log (names, alert text, order ids) goes through cell(), which cuts it by display width. */

#define W_LINE 100
#define W_LABEL 12

static const char *
jstr (const json_t *o, const char *key)
{
    const char *s = json_string_value (json_object_get (o, key));
    return s ? s : "";
}

static long long
jint (const json_t *o, const char *key)
{
    return (long long) json_integer_value (json_object_get (o, key));
}

/* "35s", "12m05s", "1h12m", "3d04h": a duration for people (negative: 0s). */
static const char *
dur (long long ms, char *buf, size_t len)
{
    long long s = ms > 0 ? ms / 1000 : 0;
    if (s < 60)
        snprintf (buf, len, "%llds", s);
    else if (s < 3600)
        snprintf (buf, len, s % 60 ? "%lldm%02llds" : "%lldm", s / 60, s % 60);
    else if (s < 86400)
        snprintf (buf, len, s / 60 % 60 ? "%lldh%02lldm" : "%lldh", s / 3600, s / 60 % 60);
    else
        snprintf (buf, len, s / 3600 % 24 ? "%lldd%02lldh" : "%lldd", s / 86400, s / 3600 % 24);
    return buf;
}

/* Columns a code point takes on a terminal: two for the East Asian wide ranges, else one. */
static int
cp_width (unsigned cp)
{
    return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf)
        || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff)
        || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60)
        || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff)
        || (cp >= 0x20000 && cp <= 0x3fffd) ? 2 : 1;
}

/* The code point at p (UTF-8, not at its end) into *cp; returns its length in bytes, never
 * past a NUL even in a sequence cut short. */
static int
utf8_next (const unsigned char *p, unsigned *cp)
{
    int n = p[0] < 0x80 ? 1 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4, k;
    *cp = n == 1 ? p[0] : p[0] & (0x7fu >> n);
    for (k = 1; k < n && p[k]; k++)
        *cp = *cp << 6 | (p[k] & 0x3fu);
    return k;
}

/* s (UTF-8, as jansson holds every string) into out, at most `width` columns: cut with "…"
 * when longer, padded with spaces when pad; control characters (a newline in an alert's text)
 * become spaces. out must hold 4 * width + 4 bytes. */
static const char *
cell (char *out, const char *s, int width, bool pad)
{
    size_t o = 0;
    int used = 0, total = 0;
    const unsigned char *p = (const unsigned char *) s;
    unsigned cp;
    for (size_t i = 0; p[i];) {
        i += utf8_next (p + i, &cp);
        total += cp_width (cp);
    }
    for (size_t i = 0; p[i];) {
        int n = utf8_next (p + i, &cp);
        int w = cp_width (cp);
        if (used + w > (total > width ? width - 1 : width))
            break;
        if (cp < 0x20 || cp == 0x7f)
            out[o++] = ' ';
        else
            for (int k = 0; k < n; k++)
                out[o++] = (char) p[i + k];
        used += w;
        i += n;
    }
    if (total > width) {
        memcpy (out + o, "\xe2\x80\xa6", 3);
        o += 3;
        used++;
    }
    while (pad && used++ < width)
        out[o++] = ' ';
    out[o] = '\0';
    return out;
}

static void
print_heads (const json_t *heads)
{
    char name[4 * 16 + 4], note[256];
    size_t i, j;
    const json_t *h, *span;
    printf ("%-*s%-6s  %-16s  %8s  %s\n", W_LABEL, "heads", "REGION", "NAME", "SEQ", "HEAD");
    json_array_foreach (heads, i, h) {
        size_t off = 0;
        note[0] = '\0';
        if (json_object_get (h, "forked_at"))
            off += (size_t) snprintf (note, sizeof note, "FORKED at %lld", jint (h, "forked_at"));
        json_array_foreach (json_object_get (h, "lost"), j, span) {
            long long first = (long long) json_integer_value (json_array_get (span, 0)),
                      last = (long long) json_integer_value (json_array_get (span, 1));
            if (off < sizeof note)
                off += (size_t) snprintf (note + off, sizeof note - off, "%s%lld..%lld",
                                          j ? ", " : off ? "; lost " : "lost ", first, last);
        }
        const char *hash = json_is_string (json_object_get (h, "hash")) ? jstr (h, "hash") : "-";
        printf ("%-*s%-6s  %s  %8lld  ", W_LABEL, "", jstr (h, "region"),
                cell (name, jstr (h, "name"), 16, true), jint (h, "seq"));
        if (note[0])
            printf ("%-16.16s  %s\n", hash, note);
        else
            printf ("%.16s\n", hash);
    }
}

/* One count of entries for the peers table: "-" when not known. */
static const char *
count_or_dash (const json_t *v, char *buf, size_t len)
{
    if (!json_is_integer (v))
        return "-";
    snprintf (buf, len, "%lld", (long long) json_integer_value (v));
    return buf;
}

static void
print_peers (const json_t *resp)
{
    const json_t *list = json_object_get (resp, "peer_list");
    printf ("%-*s%lld of %lld up\n", W_LABEL, "peers", jint (resp, "peers_up"),
            jint (resp, "peers"));
    if (!json_array_size (list))
        return;
    printf ("%-*s%-6s  %-16s  %-15s  %-11s  %7s  %7s\n", W_LABEL, "", "REGION", "NAME", "STATE",
            "HEARD", "LAG", "BEHIND");
    char name[4 * 16 + 4], heard[32], d[32], lag[32], behind[32];
    size_t i;
    const json_t *p;
    json_array_foreach (list, i, p) {
        const json_t *ms = json_object_get (p, "last_heard_ms");
        if (!json_is_integer (ms))
            snprintf (heard, sizeof heard, "never");
        else if (json_integer_value (ms) < 60000)
            snprintf (heard, sizeof heard, "%.1fs ago", (double) json_integer_value (ms) / 1000.0);
        else
            snprintf (heard, sizeof heard, "%s ago", dur (json_integer_value (ms), d, sizeof d));
        printf ("%-*s%-6s  %s  %-15s  %-11s  %7s  %7s\n", W_LABEL, "", jstr (p, "region"),
                cell (name, jstr (p, "name"), 16, true), jstr (p, "state"), heard,
                count_or_dash (json_object_get (p, "lag"), lag, sizeof lag),
                count_or_dash (json_object_get (p, "behind"), behind, sizeof behind));
    }
}

/* "we owe" (to_me) or "owed to us" (by_me): the count, then the oldest on its own line. */
static void
print_owed_line (const char *label, const json_t *t, long long sla_s, bool by_me)
{
    long long owed = jint (t, "owed");
    if (owed == 0) {
        printf ("%-*snothing\n", W_LABEL, label);
        return;
    }
    char sla[32], age[32];
    dur (sla_s * 1000, sla, sizeof sla);
    if (by_me)
        printf ("%-*s%lld answer%s to %lld notice%s: %lld past the %s SLA", W_LABEL, label, owed,
                owed == 1 ? "" : "s", jint (t, "notices"), jint (t, "notices") == 1 ? "" : "s",
                jint (t, "overdue"), sla);
    else
        printf ("%-*s%lld notice%s an answer: %lld past the %s SLA", W_LABEL, label, owed,
                owed == 1 ? "" : "s", jint (t, "overdue"), sla);
    if (jint (t, "undelivered"))
        printf (", %lld undelivered", jint (t, "undelivered"));
    if (jint (t, "drill"))
        printf (", %lld drill", jint (t, "drill"));
    printf ("\n");
    const json_t *old = json_object_get (t, "oldest");
    if (json_is_object (old))
        printf ("%-*soldest %s, %s %s (notice %.16s, %s%s)\n", W_LABEL, "",
                dur (jint (old, "age_ms"), age, sizeof age), by_me ? "by" : "from",
                jstr (old, by_me ? "to" : "region"), jstr (old, "hash"), jstr (old, "state"),
                strcmp (jstr (old, "status"), "actual") ? ", drill" : "");
}

#define SHOWN_MAX 5

static void
print_owed (const json_t *owed)
{
    if (!json_is_object (owed) || json_object_get (owed, "error")) {
        printf ("%-*s(not known: %s)\n", W_LABEL, "owed", jstr (owed, "error"));
        return;
    }
    long long sla = jint (owed, "response_sla_s");
    print_owed_line ("we owe", json_object_get (owed, "to_me"), sla, false);
    print_owed_line ("owed to us", json_object_get (owed, "by_me"), sla, true);
    const json_t *tr = json_object_get (owed, "transfers_overdue"), *t;
    size_t n = json_array_size (tr), i;
    if (n == 0) {
        printf ("%-*snone overdue\n", W_LABEL, "transfers");
        return;
    }
    printf ("%-*s%zu overdue%s\n", W_LABEL, "transfers", n,
            n > SHOWN_MAX ? " (the first 5; all: rcctl transfer list --open --overdue)" : "");
    char id[4 * 20 + 4], what[4 * W_LINE + 4], line[512], late[32];
    json_array_foreach (tr, i, t) {
        if (i == SHOWN_MAX)
            break;
        snprintf (line, sizeof line, "%s to act, %s late: %s%s", jstr (t, "act"),
                  dur (jint (t, "late_ms"), late, sizeof late), jstr (t, "why"),
                  strcmp (jstr (t, "status"), "actual") ? " (drill)" : "");
        printf ("%-*s%s  %s->%s  %s\n", W_LABEL, "", cell (id, jstr (t, "order_id"), 20, true),
                jstr (t, "from"), jstr (t, "to"),
                cell (what, line, W_LINE - W_LABEL - 20 - 2 - 14 - 2, false));
    }
}

/* " (330000 340000)" of a list of region codes into buf; "" when empty; cut at len. */
static void
in_parens (const json_t *codes, char *buf, size_t len)
{
    size_t i, off = 0;
    const json_t *x;
    buf[0] = '\0';
    json_array_foreach (codes, i, x)
        if (off < len)
            off += (size_t) snprintf (buf + off, len - off, "%s%s", i ? " " : " (",
                                      json_string_value (x));
    if (off && off < len - 1)
        strcat (buf, ")");
}

/* "last round  2026-11-22 15:00: 3 on time, 1 late (330000), 0 missing; ours on time, 3/3 acks" */
static void
print_round (const json_t *r)
{
    if (json_is_null (r) || !r)
        return;
    if (json_object_get (r, "error")) {
        printf ("%-*s(not known: %s)\n", W_LABEL, "last round", jstr (r, "error"));
        return;
    }
    const json_t *t = json_object_get (r, "tally"), *own = json_object_get (r, "own");
    char late[128], missing[128];
    in_parens (json_object_get (r, "late"), late, sizeof late);
    in_parens (json_object_get (r, "missing"), missing, sizeof missing);
    printf ("%-*s%s %s: %lld on time, %lld late%s, %lld missing%s, %lld pending\n", W_LABEL,
            "last round", jstr (r, "date"), jstr (r, "slot"), jint (t, "on_time"), jint (t, "late"),
            late, jint (t, "missing"), missing, jint (t, "pending"));
    if (json_is_object (own))
        printf ("%-*sours %s, acknowledged by %lld of %lld%s\n", W_LABEL, "",
                strcmp (jstr (own, "state"), "on_time") == 0 ? "on time" : jstr (own, "state"),
                jint (own, "acks"), jint (own, "of"),
                jint (r, "split_view") ? "; SPLIT VIEW evidence: see rcctl rounds" : "");
}

static void
print_alerts (const json_t *alerts, long long now_ms)
{
    if (!json_is_object (alerts) || json_object_get (alerts, "error")) {
        printf ("%-*s(not known: %s)\n", W_LABEL, "alerts", jstr (alerts, "error"));
        return;
    }
    const json_t *list = json_object_get (alerts, "list"), *a;
    long long n = jint (alerts, "in_force");
    if (n == 0) {
        printf ("%-*snone in force\n", W_LABEL, "alerts");
        return;
    }
    printf ("%-*s%lld in force%s\n", W_LABEL, "alerts", n,
            n > SHOWN_MAX ? " (the 5 most severe; all: rcctl alert list)" : "");
    char text[4 * W_LINE + 4], exp[48], d[32];
    size_t i;
    json_array_foreach (list, i, a) {
        if (i == SHOWN_MAX)
            break;
        if (json_is_integer (json_object_get (a, "expires_ms")))
            snprintf (exp, sizeof exp, "%s left",
                      dur (jint (a, "expires_ms") - now_ms, d, sizeof d));
        else
            snprintf (exp, sizeof exp, "no expiry");
        bool drill = strcmp (jstr (a, "status"), "actual") != 0;
        printf ("%-*s%-8s  %-6s  %-13s  %s%s\n", W_LABEL, "", jstr (a, "severity"),
                jstr (a, "region"), exp, drill ? "[drill] " : "",
                cell (text, jstr (a, "text"), W_LINE - W_LABEL - 8 - 2 - 6 - 2 - 13 - 2
                      - (drill ? 8 : 0), false));
    }
}

/* label, then text wrapped at spaces to the table's width, continued under the text. */
static void
print_wrapped (const char *label, const char *text)
{
    const int room = W_LINE - W_LABEL;
    printf ("%-*s", W_LABEL, label);
    while ((int) strlen (text) > room) {
        int cut = room;
        while (cut > 0 && text[cut] != ' ')
            cut--;
        if (cut == 0)
            cut = room;                  /* one word longer than the line: cut it */
        printf ("%.*s\n%-*s", cut, text, W_LABEL, "");
        text += cut;
        while (*text == ' ')
            text++;
    }
    printf ("%s\n", text);
}

/* RFC 3339 with ms ("2026-11-22T14:53:27.064Z") to the minute ("2026-11-22T14:53Z"). */
static const char *
minute (const json_t *period, char *buf, size_t len)
{
    const char *t = jstr (period, "from");
    if (!json_is_object (period) || strlen (t) < 16)
        return "(none)";
    snprintf (buf, len, "%.16sZ", t);
    return buf;
}

/* Own current and next sealing key and who is late with its next one (DESIGN §7), wrapped to
 * the table's width. */
static void
print_sealing (const json_t *sl)
{
    if (!json_is_object (sl))
        return;
    const json_t *cur = json_object_get (sl, "own_current"), *nx = json_object_get (sl, "own_next");
    char a[32], b[32];
    printf ("%-*skey from %s, next from %s; period %lld d, retention %lld d\n", W_LABEL, "sealing",
            minute (cur, a, sizeof a), minute (nx, b, sizeof b), jint (sl, "period_days"),
            jint (sl, "retention_days"));
    bool cur_unpub = json_is_false (json_object_get (cur, "published")),
         nx_unpub = json_is_false (json_object_get (nx, "published"));
    if (cur_unpub || nx_unpub)
        printf ("%-*sown %s not yet published\n", W_LABEL, "", cur_unpub && nx_unpub
                ? "current and next key" : cur_unpub ? "current key" : "next key");
    size_t i;
    const json_t *l;
    int col = 0;
    json_array_foreach (json_object_get (sl, "late"), i, l) {
        const char *r = json_string_value (l);
        if (i == 0)
            col = printf ("%-*sLATE with their next key: %s", W_LABEL, "", r ? r : "?");
        else if (col + 2 + (int) strlen (r ? r : "?") > W_LINE)
            col = printf (",\n%-*s%s", W_LABEL, "", r ? r : "?") - 2;
        else
            col += printf (", %s", r ? r : "?");
    }
    if (col)
        printf ("\n");
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
        char name[4 * 40 + 4], up[32];
        printf ("region      %s (%s)\n", jstr (resp, "region"),
                cell (name, jstr (resp, "name"), 40, false));
        printf ("origin      %s\n", S ("origin"));
        printf ("roster      %.16s (%lld members)\n", S ("roster_hash"), I ("members"));
        printf ("rcnode      pid %lld, up %s, libzmq %s\n", I ("pid"),
                dur (I ("uptime_s") * 1000, up, sizeof up), S ("libzmq"));
        printf ("own log     seq %lld; high-water mark: committed %lld, signed %lld\n",
                I ("own_seq"), I ("hwm_committed"), I ("hwm_signed"));
        if (json_is_true (json_object_get (resp, "blocked")))
            printf ("BLOCKED     own entries missing, authoring nothing\n");
        rcctl_drill_status_line (resp);
        printf ("log         %lld entries from %lld origins, %lld invalid, %lld fork records\n",
                I ("entries"), I ("origins"), I ("invalid"), I ("forks"));
        size_t fi;
        const json_t *f;
        char text[1024];
        json_array_foreach (json_object_get (resp, "forked"), fi, f) {
            snprintf (text, sizeof text, "%s signed two entries at seq %lld: both kept as "
                      "evidence, nothing of it applied from there on", jstr (f, "region"),
                      jint (f, "fork_seq"));
            print_wrapped ("FORKED", text);
        }
        const json_t *miss = json_object_get (resp, "missing_own"), *nowhere =
            json_object_get (resp, "missing_nowhere");
        size_t nmiss = json_array_size (miss);
        if (nmiss) {
            snprintf (text, sizeof text, "own seqs %lld..%lld missing; %zu of them held by no "
                      "peer that has answered%s",
                      (long long) json_integer_value (json_array_get (miss, 0)),
                      (long long) json_integer_value (json_array_get (miss, nmiss - 1)),
                      json_array_size (nowhere), json_array_size (nowhere)
                      ? " (nowhere: an operator may declare them lost)" : "");
            print_wrapped ("rejoin", text);
        }
        const json_t *dl = json_object_get (resp, "declare_lost");
        if (dl) {
            snprintf (text, sizeof text, "%s: %s", json_is_true (json_object_get (dl, "possible"))
                      ? "rcctl recover --declare-lost is possible" : "not yet", jstr (dl, "why"));
            print_wrapped ("recover", text);
        }
        print_heads (json_object_get (resp, "heads"));
        print_peers (resp);
        print_owed (json_object_get (resp, "owed"));
        print_alerts (json_object_get (resp, "alerts"), I ("now_ms"));
        print_round (json_object_get (resp, "round"));
        print_sealing (json_object_get (resp, "sealing"));
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
    json_object_set_new (o, "kind", rcn_kind_entry_name (e->h.kind, kname, sizeof kname)
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
