/* limit.c — rcbench_limit: the physical limit the benchmark measures everything against
 * (DESIGN.md §8): Ed25519 signature checks per second on ONE core, with libsodium
 * (crypto_sign_verify_detached), of RCB_BODY-byte messages, as ingest checks them.
 *
 *   rcbench_limit [--seconds S]      (default 3)
 *
 * Run it pinned to one core (bench/run uses taskset). 64 distinct signed messages are checked
 * round-robin until S seconds have passed (rcb_verify_for); every check must succeed (a
 * failure exits 1, so a broken libsodium cannot pass for a fast one). Prints one JSON object:
 *   {"verify_per_s": N, "checks": N, "seconds": S, "msg_bytes": 512, "libsodium": "1.0.18"} */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"

int
main (int argc, char **argv)
{
    double seconds = 3;
    static const struct option opts[] = { { "seconds", required_argument, NULL, 's' },
                                          { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        char *end;
        if (c != 's' || (seconds = strtod (optarg, &end), *end != '\0') || seconds <= 0
            || seconds > 600) {
            fprintf (stderr, "usage: rcbench_limit [--seconds S]   (0 < S <= 600)\n");
            return 2;
        }
    }
    if (optind != argc || sodium_init () < 0)
        rcb_die ("usage", "rcbench_limit [--seconds S]");
    uint64_t checks = 0;
    double s = 0;
    rcb_verify_for (seconds, &checks, &s);
    printf ("{\"verify_per_s\": %.0f, \"checks\": %llu, \"seconds\": %.3f, \"msg_bytes\": %d, "
            "\"libsodium\": \"%s\"}\n", (double) checks / s, (unsigned long long) checks, s,
            RCB_BODY, sodium_version_string ());
    return 0;
}
