/* rcctl_drill.c — `rcctl drill isolate [--for T]` and `rcctl drill rejoin` (issue #7): a
 * member acts out its own outage, for tabletop drills where stopping a node is not allowed.
 *
 * The one decision: the node does the isolating (sync.h, rcn_sync_isolate) and keeps the state
 * in memory only; rcctl just asks, over the control socket, which is the one thing an isolated
 * member still serves. So nothing is written anywhere, and a restart of rcnode ends a drill. */
#include <stdio.h>
#include <string.h>

#include "rcctl.h"
#include "rcn/clock.h"

int rcctl_drill (rcctl_t *c, int argc, char **argv);
void rcctl_drill_status_line (const json_t *status);

#define DRILL_USAGE "drill isolate [--for T] | drill rejoin (T: 90s, 2m, +1h; at most 7d)"
#define DRILL_MAX_MS (7 * 24 * 3600 * 1000ULL)

/* --for T: N with s, m, h or d, optionally after a '+' (rcn_time_parse's durations), 1 s..7 d. */
static int
parse_for (const char *v, uint64_t *ms, char *why, size_t whylen)
{
    char buf[64], inner[256];
    const uint64_t base = 1000000000000ULL;     /* any instant: only the difference counts */
    uint64_t at = 0;
    if (v[0] == '-' || snprintf (buf, sizeof buf, "+%s", v + (v[0] == '+')) >= (int) sizeof buf
        || rcn_time_parse (buf, base, &at, inner, sizeof inner) != RCN_OK) {
        snprintf (why, whylen, "--for \"%s\": a duration like 90s, 2m, 1h or +1h", v);
        return RCN_EINVAL;
    }
    if (at < base + 1000 || at - base > DRILL_MAX_MS) {
        snprintf (why, whylen, "--for \"%s\": from 1s to 7d", v);
        return RCN_EINVAL;
    }
    *ms = at - base;
    return RCN_OK;
}

/* "45s", "1m25s", "2h03m", "1d04h". */
static const char *
span (uint64_t ms, char *buf, size_t len)
{
    uint64_t s = (ms + 999) / 1000;
    if (s < 60)
        snprintf (buf, len, "%llus", (unsigned long long) s);
    else if (s < 3600)
        snprintf (buf, len, "%llum%02llus", (unsigned long long) s / 60,
                  (unsigned long long) s % 60);
    else if (s < 86400)
        snprintf (buf, len, "%lluh%02llum", (unsigned long long) s / 3600,
                  (unsigned long long) s % 3600 / 60);
    else
        snprintf (buf, len, "%llud%02lluh", (unsigned long long) s / 86400,
                  (unsigned long long) s % 86400 / 3600);
    return buf;
}

/* status's line for people, right under the own log (nothing when not isolated):
 * "ISOLATED    drill: not sending or receiving until 1m25s from now (rcctl drill rejoin ends it)".
 * Times are against the node's clock (status's now_ms). */
void
rcctl_drill_status_line (const json_t *status)
{
    const json_t *iso = json_object_get (status, "isolated");
    if (!json_is_object (iso))
        return;
    uint64_t now = (uint64_t) json_integer_value (json_object_get (status, "now_ms"));
    uint64_t since = (uint64_t) json_integer_value (json_object_get (iso, "since_ms"));
    const json_t *until = json_object_get (iso, "until_ms");
    char a[32], b[32];
    if (json_is_integer (until)) {
        uint64_t u = (uint64_t) json_integer_value (until);
        printf ("ISOLATED    drill: not sending or receiving until %s from now (rcctl drill rejoin "
                "ends it)\n", span (u > now ? u - now : 0, a, sizeof a));
    }
    else
        printf ("ISOLATED    drill: not sending or receiving until rcctl drill rejoin ends it "
                "(for %s now)\n", span (now > since ? now - since : 0, b, sizeof b));
}

int
rcctl_drill (rcctl_t *c, int argc, char **argv)
{
    const char *verb = argc >= 2 ? argv[1] : NULL, *for_arg = NULL;
    if (!verb)
        return rcctl_fail (RC_USAGE, "drill: a verb is needed (" DRILL_USAGE ")");
    if (strcmp (verb, "isolate") != 0 && strcmp (verb, "rejoin") != 0)
        return rcctl_fail (RC_USAGE, "drill: unknown verb \"%s\" (" DRILL_USAGE ")", verb);
    for (int i = 2; i < argc; i++) {
        if (strcmp (argv[i], "--json") == 0)
            c->json = true;
        else if (strcmp (argv[i], "--for") == 0 && strcmp (verb, "isolate") == 0 && i + 1 < argc)
            for_arg = argv[++i];
        else
            return rcctl_fail (RC_USAGE, "drill %s: unknown or incomplete argument \"%s\" ("
                               DRILL_USAGE ")", verb, argv[i]);
    }
    uint64_t for_ms = 0;
    char why[512];
    if (for_arg && parse_for (for_arg, &for_ms, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_USAGE, "drill isolate %s", why);
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    json_t *resp = NULL;
    json_t *req = json_pack ("{s:s, s:s}", "op", "drill", "verb", verb);
    if (for_ms)
        json_object_set_new (req, "for_ms", json_integer ((json_int_t) for_ms));
    int code = rcctl_open (c, &conf, &roster, false, NULL);
    if (code == RC_OK)
        code = rcctl_call (c, &conf, req, &resp);
    if (code == RC_OK) {
        json_object_del (resp, "ok");
        const json_t *iso = json_object_get (resp, "isolated");
        const json_t *until = json_object_get (iso, "until_ms");
        char t[40] = "", d[32];
        if (json_is_integer (until))
            rcn_time_format ((uint64_t) json_integer_value (until), t, sizeof t);
        if (c->json)
            rcctl_print_json (resp);
        else if (strcmp (verb, "rejoin") == 0)
            printf ("drill: %06u rejoined after %s: it talks to its peers again, and both sides "
                    "catch up (anti-entropy)\n", conf.region,
                    span ((uint64_t) json_integer_value (json_object_get (resp, "lasted_ms")), d,
                          sizeof d));
        else {
            printf ("drill: %06u is %sisolated %s%s%s: it sends and receives nothing, and its "
                    "peers see it down within seconds\n", conf.region,
                    json_is_true (json_object_get (resp, "again")) ? "still " : "",
                    t[0] ? "until " : "until rcctl drill rejoin", t,
                    t[0] ? " (rcctl drill rejoin ends it sooner)" : "");
            printf ("local writes are durable here and reach the peers after the drill; a restart "
                    "of rcnode ends the drill too\n");
        }
    }
    json_decref (req);
    json_decref (resp);
    rcn_roster_destroy (&roster);
    return code;
}
