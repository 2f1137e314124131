/* rcctl_retention.c — `rcctl retention run [--at TIME] [--json]` (DESIGN §7): destroys this
 * member's sealing secrets whose period ended more than the roster's retention_days before
 * TIME (default now), so that what was sealed under them can be opened by nobody, from any copy
 * of the log.
 *
 * The one decision: the secrets of a running node are in its memory too, so while a node runs
 * (it holds the dir's lock) rcctl asks it (control op "retention") and never touches the key
 * dir itself; on a stopped node it takes the lock and works on the key dir directly. Either
 * way the answer names periods, never key material. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "rcctl.h"
#include "rcn/clock.h"
#include "rcn/seal.h"

int rcctl_retention (rcctl_t *c, int argc, char **argv);

/* Works on the key dir of a stopped node; *running when its node holds the lock. */
static int
retention_offline (const rcn_conf_t *conf, const rcn_roster_t *roster, uint64_t at_ms,
                   bool *running, json_t **rep)
{
    char lock[4200], why[1024] = "";
    rcn_conf_path (conf, "lock", lock, sizeof lock);
    *running = false;
    int fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return rcctl_fail (RC_FAIL, "retention: cannot open %s: %s", lock, strerror (errno));
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        close (fd);
        *running = true;
        return RC_OK;
    }
    rcn_seal_t *s = NULL;
    int code = RC_OK;
    int rc = rcn_seal_load (conf->keys_path, false, at_ms, &s, why, sizeof why);
    if (rc == RCN_OK)
        rc = rcn_seal_retention_run (s, conf->keys_path, at_ms,
                                     rcn_roster_policy (roster)->retention_days, rep, why,
                                     sizeof why);
    if (rc != RCN_OK)
        code = rcctl_fail (RC_FAIL, "retention: %s", why[0] ? why : rcn_strerror (rc));
    if (code == RC_OK)
        json_object_set_new (*rep, "by", json_string ("key dir"));
    rcn_seal_destroy (&s);
    close (fd);                       /* releases the lock */
    return code;
}

static void
print_period (const char *what, const json_t *p)
{
    printf ("%-10s period %s .. %s (expired %s)\n", what,
            json_string_value (json_object_get (p, "from")),
            json_string_value (json_object_get (p, "until")),
            json_string_value (json_object_get (p, "expires")));
}

static void
print_report (const json_t *rep)
{
    const json_t *destroyed = json_object_get (rep, "destroyed"), *next = json_object_get (rep, "next");
    printf ("retention at %s: sealing secrets are destroyed %lld days after their period ends "
            "(done by the %s)\n", json_string_value (json_object_get (rep, "at")),
            (long long) json_integer_value (json_object_get (rep, "retention_days")),
            json_string_value (json_object_get (rep, "by")));
    size_t i;
    const json_t *p;
    json_array_foreach (destroyed, i, p)
        print_period ("destroyed", p);
    if (json_array_size (destroyed) == 0)
        printf ("destroyed  nothing: no period has expired\n");
    else
        printf ("           what was sealed under %s can no longer be opened, here or from any "
                "backup\n", json_array_size (destroyed) == 1 ? "it" : "them");
    printf ("kept       %zu sealing key(s)\n", json_array_size (json_object_get (rep, "kept")));
    if (json_is_object (next))
        printf ("next       period %s .. %s, destroyed from %s\n",
                json_string_value (json_object_get (next, "from")),
                json_string_value (json_object_get (next, "until")),
                json_string_value (json_object_get (next, "expires")));
    else
        printf ("next       none: only the newest key is held, and it never expires\n");
}

int
rcctl_retention (rcctl_t *c, int argc, char **argv)
{
    const char *at = NULL;
    int i = 1;
    if (argc < 2 || strcmp (argv[1], "run") != 0)
        return rcctl_fail (RC_USAGE, "retention: the verb is \"run\" (retention run [--at TIME] "
                           "[--json])");
    for (i = 2; i < argc; i++) {
        if (strcmp (argv[i], "--json") == 0)
            c->json = true;
        else if (strcmp (argv[i], "--at") == 0 && i + 1 < argc)
            at = argv[++i];
        else
            return rcctl_fail (RC_USAGE, "retention run: unknown or incomplete argument \"%s\" "
                               "(retention run [--at TIME] [--json])", argv[i]);
    }
    char why[512] = "";
    uint64_t at_ms = rcn_now_ms ();
    if (at && rcn_time_parse (at, at_ms, &at_ms, why, sizeof why) != RCN_OK)
        return rcctl_fail (RC_USAGE, "retention run --at: %s", why);
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    json_t *rep = NULL, *req = NULL;
    bool running = false;
    int code = rcctl_open (c, &conf, &roster, true, NULL);
    if (code == RC_OK)
        code = retention_offline (&conf, roster, at_ms, &running, &rep);
    if (code == RC_OK && running) {
        /* The node's own clock is "now" unless --at was given. */
        req = at ? json_pack ("{s:s, s:I}", "op", "retention", "at_ms", (json_int_t) at_ms)
                 : json_pack ("{s:s}", "op", "retention");
        code = rcctl_call (c, &conf, req, &rep);
        if (code == RC_DOWN)
            rcctl_fail (code, "retention: the node holds the lock on %s but does not answer: "
                        "nothing was destroyed (its secrets are in its memory too)", conf.dir);
    }
    if (code == RC_OK) {
        json_object_del (rep, "ok");
        if (c->json)
            rcctl_print_json (rep);
        else
            print_report (rep);
    }
    json_decref (req);
    json_decref (rep);
    rcn_roster_destroy (&roster);
    return code;
}
