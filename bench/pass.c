/* pass.c — rcbench_pass: offline pass verifications per second, as a checkpoint does them with
 * nothing but the roster (`rcctl pass verify TOKEN --roster FILE`): Base45, the entry, its
 * Ed25519 signature, the issuer in the roster, the PassIssue body, drill status, validity
 * window and region — rcn_pass_check_token (pass.h), the same function rcctl calls. Not timed:
 * the holder's ID-number comparison (Argon2id, deliberately ~0.1 s) and revocation (a log
 * lookup a checkpoint without a node cannot make).
 *
 *   rcbench_pass --node DIR [--seconds S] [--passes K]
 *
 * DIR is a member's node dir (its keys and roster; its node need not run, its log is not
 * touched). K passes (default 16) are issued the way the node issues them — the pass kind's
 * own cli and author, then signed with the member's key — against a scratch store in
 * DIR/bench-pass-store (the pass kind reads its view to author; left for the caller to
 * remove with DIR); their tokens are then checked round-robin on this thread for S seconds
 * (default 3), in 6 turns interleaved with as many turns of the limit (rcb_verify_for: raw
 * Ed25519 checks of 512-byte messages), so that the ratio compares the two on the same machine
 * at the same moments. Every check must say valid (a refusal exits 1). Prints one JSON object:
 *   {"pass_verify_per_s": N, "verify_per_s": N (the limit, interleaved), "pass_verify_ratio":
 *    R, "checks": N, "seconds": S, "passes": K, "token_chars": N} */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"
#include "rcn/clock.h"
#include "rcn/conf.h"
#include "rcn/keys.h"
#include "rcn/kind.h"
#include "rcn/pass.h"
#include "rcn/roster.h"
#include "rcn/store.h"

#define ROUNDS 6

typedef struct {
    const rcn_roster_t *roster;
    const rcn_keys_t *keys;
    uint32_t region;
    const json_t *req;
    uint64_t now;
    uint32_t kind;
    uint8_t *body;
    size_t body_len;
    int rc;
    char why[512];
} author_t;

static int
author_in_view (const rcn_view_t *v, void *ctx)
{
    author_t *a = ctx;
    rcn_kind_env_t env = { .origin = rcn_keys_sign_public (a->keys), .region = a->region,
                           .roster = a->roster };
    a->kind = rcn_kind_pass.kind;
    a->rc = rcn_kind_pass.author (v, &env, a->req, a->now, &a->kind, &a->body, &a->body_len,
                                  a->why, sizeof a->why);
    return RCN_OK;
}

static bool
is_member (const uint8_t origin[RCN_KEY_SIZE], void *ctx)
{
    return rcn_roster_by_origin (ctx, origin) != NULL;
}

/* A valid resident ID number (GB 11643 check digit) for pass i. */
static void
id_number (unsigned i, char out[19])
{
    static const int weight[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
    snprintf (out, 19, "31010119800101%03u", i % 1000);
    int sum = 0;
    for (int k = 0; k < 17; k++)
        sum += (out[k] - '0') * weight[k];
    out[17] = "10X98765432"[sum % 11];
    out[18] = '\0';
}

/* Issues pass i as the node would, and returns its token. */
static char *
issue (rcn_store_t *store, const rcn_roster_t *roster, const rcn_keys_t *keys, uint32_t region,
       unsigned i)
{
    char pid[32], name[32], idn[19], why[512];
    snprintf (pid, sizeof pid, "BENCH-P%u", i);
    snprintf (name, sizeof name, "Bench Holder %u", i);
    id_number (i, idn);
    const char *av[] = { "issue", "--pass-id", pid, "--kind", "commuter", "--name", name,
                         "--id-number", idn, "--valid-until", "+7d" };
    json_t *req = NULL;
    uint64_t now = rcn_now_ms ();
    if (rcn_kind_pass.cli ((int) (sizeof av / sizeof *av), (char **) av, NULL, now, &req, why,
                           sizeof why) != RCN_OK)
        rcb_die ("pass issue words", why);
    author_t a = { .roster = roster, .keys = keys, .region = region,
                   .req = req, .now = now };
    if (rcn_store_read (store, &rcn_kind_pass, author_in_view, &a) != RCN_OK || a.rc != RCN_OK)
        rcb_die ("authoring a pass", a.why[0] ? a.why : "cannot read the scratch store");
    rcn_entry_t *e = NULL;
    if (rcn_entry_sign (rcn_keys_sign_secret (keys), 1 + i, NULL, now, a.kind, RCN_STATUS_ACTUAL,
                        a.body, a.body_len, &e) != RCN_OK)
        rcb_die ("signing a pass", "rcn_entry_sign failed");
    /* Each pass its own seq 1 chain: the token stands alone, as at a checkpoint. */
    char *tok = rcn_pass_token (e);
    if (!tok)
        rcb_die ("pass token", "out of memory");
    rcn_entry_destroy (&e);
    free (a.body);
    json_decref (req);
    return tok;
}

static int
usage (void)
{
    fprintf (stderr, "usage: rcbench_pass --node DIR [--seconds S (0 < S <= 600)] "
             "[--passes K (1..1000)]\n");
    return 2;
}

int
main (int argc, char **argv)
{
    const char *dir = NULL;
    double seconds = 3;
    long passes = 16;
    static const struct option opts[] = {
        { "node", required_argument, NULL, 'n' }, { "seconds", required_argument, NULL, 's' },
        { "passes", required_argument, NULL, 'p' }, { NULL, 0, NULL, 0 } };
    int c;
    char *end;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': dir = optarg; break;
        case 's':
            seconds = strtod (optarg, &end);
            if (*end || seconds <= 0 || seconds > 600)
                return usage ();
            break;
        case 'p':
            passes = strtol (optarg, &end, 10);
            if (*end || passes < 1 || passes > 1000)
                return usage ();
            break;
        default: return usage ();
        }
    }
    if (!dir || optind != argc)
        return usage ();
    if (sodium_init () < 0)
        rcb_die ("libsodium", "sodium_init failed");
    char why[512];
    static rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_keys_t *keys = NULL;
    (void) rcb_member_load (dir, &conf, &roster, &keys);
    char scratch[4200];
    snprintf (scratch, sizeof scratch, "%s/bench-pass-store", conf.dir);
    rcn_store_opts_t so = { .is_member = is_member, .member_ctx = roster, .kinds = rcn_kinds };
    rcn_store_t *store = NULL;
    if (rcn_store_open (scratch, &so, &store, why, sizeof why) != RCN_OK)
        rcb_die (scratch, why);
    char **tok = calloc ((size_t) passes, sizeof *tok);
    if (!tok)
        rcb_die ("tokens", "out of memory");
    for (long i = 0; i < passes; i++)
        tok[i] = issue (store, roster, keys, conf.region, (unsigned) i);
    rcn_store_destroy (&store);

    /* Interleaved with the limit, on this thread, in ROUNDS turns each: both see the same
     * machine (a shared VM's speed moves from minute to minute), so their ratio holds. */
    uint64_t checks = 0, limit_checks = 0, at = rcn_now_ms ();
    double s = 0, limit_s = 0, turn = seconds / ROUNDS;
    for (int round = 0; round < ROUNDS; round++) {
        rcb_verify_for (turn, &limit_checks, &limit_s);
        uint64_t start = rcb_mono_ns (), want = (uint64_t) (turn * 1e9), el;
        do {
            for (long i = 0; i < passes; i++) {
                char reason[640] = "";
                json_t *out = json_object ();
                bool ok = rcn_pass_check_token (tok[i], roster, at, conf.region, false, out,
                                                reason, sizeof reason, NULL, NULL);
                json_decref (out);
                if (!ok) {
                    fprintf (stderr, "rcbench_pass: a pass just issued was refused: %s\n",
                             reason);
                    return 1;
                }
            }
            checks += (uint64_t) passes;
        } while ((el = rcb_mono_ns () - start) < want);
        s += (double) el / 1e9;
    }
    printf ("{\"pass_verify_per_s\": %.0f, \"verify_per_s\": %.0f, \"pass_verify_ratio\": %.3f, "
            "\"checks\": %llu, \"seconds\": %.3f, \"passes\": %ld, \"token_chars\": %zu}\n",
            (double) checks / s, (double) limit_checks / limit_s,
            ((double) checks / s) / ((double) limit_checks / limit_s),
            (unsigned long long) checks, s, passes, strlen (tok[0]));
    for (long i = 0; i < passes; i++)
        free (tok[i]);
    free (tok);
    rcn_keys_destroy (&keys);
    rcn_roster_destroy (&roster);
    return 0;
}
