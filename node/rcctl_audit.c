/* rcctl_audit.c — `rcctl -d DIR audit [--since TIME] [--json]`: the openings of sealed details
 * recorded on this member (audit.h), oldest first.
 *
 * It reads DIR/audit.log directly, verifying the chain as it goes, so it works on a stopped
 * node too. The records before a broken line are listed, then the break is reported by line
 * number and the command fails: a person sees what the file still proves and where it stops. */
#include <stdio.h>
#include <string.h>

#include "rcctl.h"
#include "rcn/audit.h"
#include "rcn/clock.h"
#include "rcn/codec.h"

int rcctl_audit (rcctl_t *c, int argc, char **argv);

static int
add_json (const rcn_audit_rec_t *r, void *ctx)
{
    json_t *o = rcn_audit_rec_json (r);
    return o && json_array_append_new (ctx, o) == 0 ? 0 : RCN_ENOMEM;
}

static int
print_line (const rcn_audit_rec_t *r, void *ctx)
{
    (void) ctx;
    char when[40], entry[65];
    rcn_time_format (r->time_ms, when, sizeof when);
    printf ("%-6llu %s  %-16s %-9s %.16s…  %06u  %s\n", (unsigned long long) r->seq, when,
            r->operator_name, r->kind, rcn_hex (r->entry, 32, entry), r->region, r->reason);
    return 0;
}

int
rcctl_audit (rcctl_t *c, int argc, char **argv)
{
    const char *since = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--json") == 0)
            c->json = true;
        else if (strcmp (argv[i], "--since") == 0 && i + 1 < argc)
            since = argv[++i];
        else
            return rcctl_fail (RC_USAGE, "audit: unknown argument \"%s\" (audit [--since TIME] "
                               "[--json])", argv[i]);
    }
    char why[1024] = "";
    uint64_t since_ms = 0;
    if (since && rcn_time_parse (since, rcn_now_ms (), &since_ms, why, sizeof why) != 0)
        return rcctl_fail (RC_USAGE, "audit: --since: %s", why);
    rcn_conf_t conf;
    if (rcn_conf_load (c->dir, &conf, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_FAIL, "%s is not a node dir: %s", c->dir, why);

    json_t *list = json_array ();
    uint64_t count = 0, bad = 0;
    uint8_t head[32];
    if (!c->json)
        printf ("%-6s %-24s  %-16s %-9s %-17s  %-6s  %s\n", "seq", "time", "operator", "kind",
                "entry", "origin", "reason");
    int rc = rcn_audit_read (conf.dir, since_ms, c->json ? add_json : print_line, list, &count,
                             head, &bad, why, sizeof why);
    int code = RC_OK;
    char hex[65];
    if (rc == RCN_ENOTFOUND) {
        rc = RCN_OK;
        if (!c->json)
            printf ("(no openings recorded: %s/%s does not exist)\n", conf.dir, RCN_AUDIT_FILE);
    }
    if (c->json) {
        json_t *o = json_pack ("{s:o, s:I, s:s, s:b}", "records", list, "count", (json_int_t) count,
                               "head", rcn_hex (head, 32, hex), "verified", rc == RCN_OK);
        if (rc != RCN_OK)
            json_object_set_new (o, "fault", json_string (why));
        rcctl_print_json (o);
        json_decref (o);
    }
    else {
        json_decref (list);
        if (rc == RCN_OK)
            printf ("%llu openings recorded, chain valid (head %s)\n", (unsigned long long) count,
                    rcn_hex (head, 32, hex));
    }
    if (rc != RCN_OK)
        code = rcctl_fail (RC_FAIL, "audit: FAULT after %llu sound records: %s",
                           (unsigned long long) count, why);
    return code;
}
