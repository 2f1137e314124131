/* rcnode — runs one member's node in the foreground: `rcnode DIR`.
 *
 * Logs go to stderr, one line per event. SIGTERM and SIGINT stop it cleanly between two
 * groups of entries (a group being signed and committed is finished first; one whose commit
 * keeps failing is answered as unconfirmed). Core dumps are off: the process holds signing
 * keys. Exit status: 0 clean stop, 1 failure, 3 another rcnode holds the dir. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

#include "rcn/log.h"
#include "rcn/node.h"

static rcn_node_t *s_node;

static void
on_signal (int sig)
{
    (void) sig;
    if (s_node)
        rcn_node_stop (s_node);
}

static void
usage (FILE *f)
{
    fprintf (f, "usage: rcnode DIR\n"
                "  Runs the rcn node whose node.conf, roster.json and keys are in DIR\n"
                "  (made by `rcctl init`). Stop it with SIGTERM or Ctrl-C.\n");
}

int
main (int argc, char **argv)
{
    if (argc == 2 && (strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "--help") == 0)) {
        usage (stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        usage (stderr);
        return 2;
    }
    struct rlimit none = { 0, 0 };
    setrlimit (RLIMIT_CORE, &none);
    prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (sodium_init () < 0) {
        fprintf (stderr, "rcnode: libsodium failed to initialise\n");
        return 1;
    }
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);

    char why[1024] = "";
    int rc = rcn_node_open (argv[1], &s_node, why, sizeof why);
    if (rc != 0) {
        rcn_error ("cannot start: %s", why[0] ? why : rcn_strerror (rc));
        return rc == RCN_EBUSY ? 3 : 1;
    }
    rc = rcn_node_run (s_node);
    rcn_node_destroy (&s_node);
    rcn_info ("stopped");
    return rc == 0 ? 0 : 1;
}
