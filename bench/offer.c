/* offer.c — rcbench_offer: offers alert authoring requests to running members' control sockets,
 * as bench/repl's load. Each request makes its member author one Alert (status exercise) whose
 * body is exactly RCB_BODY bytes (checked at start), and asks for the answer at the local
 * synced commit ("wait": "local"), so that the next request of a closed loop does not wait
 * for a heartbeat (a peer's acknowledgement, the default, takes up to a second).
 *
 *   rcbench_offer --rate R --seconds S [--slots N] DIR…      open loop: R requests/s in all,
 *                                                            dealt round robin over the DIRs
 *   rcbench_offer --inflight K --seconds S DIR…              closed loop: K in flight per DIR,
 *                                                            the next sent as an answer comes
 *   [--first I]  number of the first alert (its text says "benchmark alert I"), default 0
 *
 * The one decision (as cluster/load.c): one DEALER socket per slot, one request in flight per
 * slot, so every answer is matched with its request. In the open loop a request that finds
 * every slot of its member waiting is not queued but counted as failed ("busy"): the rate is
 * the rate of attempts whatever the members do. A slot waits at most 5 s for its answer.
 *
 * Output, one JSON object on stdout: mode, rate, seconds, members, sent, ok, failed (by reason:
 * busy, down, timeout, or the node's code, e.g. EBUSY), elapsed_s (first send to last answer),
 * offered_per_s, achieved_per_s (ok / elapsed), answer_ms {p50, p99, max} (request to answer),
 * t_first_ns and t_last_ns (wall clock: the window bench/repl reads from the traces).
 * Progress and errors on stderr. Exit 0; 1 when it could not run; 2 on a usage error. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "bench.h"
#include "rcn/codec.h"
#include "rcn/conf.h"
#include "rcn/control.h"
#include "rcn/log.h"

#include "rcn.pb-c.h"

#define MEMBERS_MAX 16
#define SLOTS_MAX 512
#define ANSWER_MS 5000
#define REASONS_MAX 32

typedef struct {
    void *sock;
    bool busy;
    uint64_t sent_mono;               /* ns */
    uint64_t deadline;                /* mono ns */
} slot_t;

typedef struct {
    char dir[4096];
    char endpoint[4300];
    slot_t *slots;
} member_t;

typedef struct {
    double rate, seconds;
    int inflight, slots_n;
    uint64_t next_alert;
    void *ctx;
    member_t members[MEMBERS_MAX];
    size_t n;
    uint64_t sent, ok;
    char reasons[REASONS_MAX][24];
    uint64_t reason_n[REASONS_MAX];
    size_t n_reasons;
    double *answer_ms;                /* one per ok answer */
    size_t n_answers, cap_answers;
    uint64_t t_first, t_last;         /* wall ns */
} offer_t;

static volatile sig_atomic_t s_stop;

static void
on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

static void
fail_count (offer_t *O, const char *reason)
{
    size_t i = 0;
    while (i < O->n_reasons && strcmp (O->reasons[i], reason) != 0)
        i++;
    if (i == O->n_reasons) {
        if (O->n_reasons == REASONS_MAX)
            i = REASONS_MAX - 1;             /* lumped with the last: never happens */
        else
            snprintf (O->reasons[O->n_reasons++], sizeof O->reasons[0], "%s", reason);
    }
    O->reason_n[i]++;
}

static void
slot_close (slot_t *s)
{
    if (s->sock)
        zmq_close (s->sock);
    s->sock = NULL;
    s->busy = false;
}

static bool
slot_open (offer_t *O, member_t *m, slot_t *s)
{
    s->sock = rcn_ctl_dealer (O->ctx, m->endpoint, RCN_CONTROL_MSG_MAX);
    return s->sock != NULL;
}

/* The request for alert number i, compact JSON; caller frees. */
static char *
request_text (uint64_t i)
{
    char text[RCB_BODY];
    rcb_alert_text (i, text, sizeof text);
    json_t *req = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s}}", "op", "author",
                             "kind", "alert", "verb", "send", "status", "exercise", "wait",
                             "local", "wait_ms", ANSWER_MS - 500, "body", "action", "issue",
                             "severity", "minor", "text", text);
    char *s = req ? json_dumps (req, JSON_COMPACT) : NULL;
    json_decref (req);
    if (!s)
        rcb_die ("offer", "out of memory");
    return s;
}

/* Sends the next request on a free slot of member m. False when none could take it (counted). */
static bool
issue (offer_t *O, member_t *m)
{
    char *text = request_text (O->next_alert++);
    slot_t *s = NULL;
    int free_slots = 0;
    for (int i = 0; i < O->slots_n && !s; i++) {
        slot_t *c = &m->slots[i];
        if (c->busy)
            continue;
        free_slots++;
        if (!c->sock && !slot_open (O, m, c))
            continue;
        if (zmq_send (c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            continue;                        /* not connected (IMMEDIATE): try another */
        if (zmq_send (c->sock, text, strlen (text), ZMQ_DONTWAIT) < 0) {
            slot_close (c);                  /* half a message went: start afresh */
            continue;
        }
        s = c;
    }
    free (text);
    if (!s) {
        fail_count (O, free_slots ? "down" : "busy");
        return false;
    }
    O->sent++;
    s->busy = true;
    s->sent_mono = rcb_mono_ns ();
    s->deadline = s->sent_mono + (uint64_t) ANSWER_MS * 1000000u;
    if (!O->t_first)
        O->t_first = rcb_wall_ns ();
    return true;
}

static void
settle (offer_t *O, slot_t *s, const void *data, size_t len)
{
    json_error_t jerr;
    json_t *resp = json_loadb (data, len, 0, &jerr);
    s->busy = false;
    O->t_last = rcb_wall_ns ();
    if (!json_is_object (resp))
        fail_count (O, "EANSWER");
    else if (!json_is_true (json_object_get (resp, "ok"))) {
        const char *code = json_string_value (json_object_get (resp, "code"));
        fail_count (O, code ? code : "EANSWER");
        static int shown;
        if (shown++ < 3)
            fprintf (stderr, "rcbench_offer: refused: %s\n",
                     json_string_value (json_object_get (resp, "error")));
    }
    else {
        O->ok++;
        if (O->n_answers == O->cap_answers) {
            O->cap_answers = O->cap_answers ? O->cap_answers * 2 : 4096;
            O->answer_ms = realloc (O->answer_ms, O->cap_answers * sizeof *O->answer_ms);
            if (!O->answer_ms)
                rcb_die ("offer", "out of memory");
        }
        O->answer_ms[O->n_answers++] = (double) (rcb_mono_ns () - s->sent_mono) / 1e6;
    }
    json_decref (resp);
}

/* Takes the answers that have come (waiting at most timeout_ms for one); gives up on slots past
 * their deadline. Returns how many slots were freed. */
static size_t
poll_answers (offer_t *O, int timeout_ms)
{
    static zmq_pollitem_t items[MEMBERS_MAX * SLOTS_MAX];
    static slot_t *which[MEMBERS_MAX * SLOTS_MAX];
    size_t n = 0, freed = 0;
    for (size_t m = 0; m < O->n; m++)
        for (int i = 0; i < O->slots_n; i++)
            if (O->members[m].slots[i].busy) {
                items[n] = (zmq_pollitem_t) { .socket = O->members[m].slots[i].sock,
                                              .events = ZMQ_POLLIN };
                which[n++] = &O->members[m].slots[i];
            }
    if (n == 0) {
        if (timeout_ms > 0)
            usleep ((useconds_t) timeout_ms * 1000);
        return 0;
    }
    if (zmq_poll (items, (int) n, timeout_ms) < 0 && errno != EINTR)
        return 0;
    uint64_t now = rcb_mono_ns ();
    for (size_t k = 0; k < n; k++) {
        slot_t *s = which[k];
        if (items[k].revents & ZMQ_POLLIN) {
            zmq_msg_t m;
            zmq_msg_init (&m);
            int got = zmq_msg_recv (&m, s->sock, ZMQ_DONTWAIT);   /* [empty][answer] */
            if (got == 0 && zmq_msg_more (&m)) {
                zmq_msg_close (&m);
                zmq_msg_init (&m);
                if (zmq_msg_recv (&m, s->sock, ZMQ_DONTWAIT) >= 0)
                    settle (O, s, zmq_msg_data (&m), zmq_msg_size (&m));
            }
            zmq_msg_close (&m);
            if (s->busy) {
                fail_count (O, "EANSWER");
                slot_close (s);
            }
        }
        else if (now >= s->deadline) {
            fail_count (O, "timeout");
            slot_close (s);              /* a late answer must not be taken for the next one */
        }
        else
            continue;
        freed++;
    }
    return freed;
}

static size_t
busy_slots (const offer_t *O)
{
    size_t b = 0;
    for (size_t m = 0; m < O->n; m++)
        for (int i = 0; i < O->slots_n; i++)
            b += O->members[m].slots[i].busy;
    return b;
}

static void
run_open (offer_t *O)
{
    uint64_t start = rcb_mono_ns (), end = start + (uint64_t) (O->seconds * 1e9);
    double interval = 1e9 / O->rate, next_due = (double) start;
    uint64_t k = 0;
    while (!s_stop) {
        uint64_t now = rcb_mono_ns ();
        if (now >= end)
            break;
        /* A backlog of more than a second (this process stalled) is counted, not bursted. */
        while ((double) now - next_due > 1e9) {
            fail_count (O, "skipped");
            next_due += interval;
        }
        while ((double) now >= next_due && !s_stop) {
            issue (O, &O->members[k++ % O->n]);
            next_due += interval;
        }
        now = rcb_mono_ns ();
        double wait_ms = next_due > (double) now ? (next_due - (double) now) / 1e6 : 0;
        poll_answers (O, wait_ms > 20 ? 20 : (int) wait_ms);
    }
}

static void
run_closed (offer_t *O)
{
    uint64_t start = rcb_mono_ns (), end = start + (uint64_t) (O->seconds * 1e9);
    for (size_t m = 0; m < O->n; m++)
        for (int i = 0; i < O->inflight; i++)
            issue (O, &O->members[m]);
    while (!s_stop && rcb_mono_ns () < end) {
        poll_answers (O, 20);
        /* Each member back to K in flight; one that takes nothing (down) is tried next turn. */
        for (size_t m = 0; m < O->n; m++) {
            size_t b = 0;
            for (int i = 0; i < O->slots_n; i++)
                b += O->members[m].slots[i].busy;
            for (size_t i = b; i < (size_t) O->inflight && !s_stop; i++)
                if (!issue (O, &O->members[m]))
                    break;
        }
    }
}

static int
usage (void)
{
    fprintf (stderr,
             "usage: rcbench_offer (--rate R | --inflight K) --seconds S [--slots N] [--first I] DIR…\n"
             "  offers 512-byte alert authoring requests to the members in DIR… (see bench/offer.c)\n");
    return 2;
}

/* The body an alert request of ours makes, as the alert kind packs it: exactly RCB_BODY bytes. */
static void
check_body_size (void)
{
    char text[RCB_BODY];
    rcb_alert_text (123456789, text, sizeof text);
    Rcn__Alert a = RCN__ALERT__INIT;
    a.action = RCN__ALERT__ACTION__ACTION_ISSUE;
    a.severity = RCN__ALERT__SEVERITY__SEVERITY_MINOR;
    a.text = text;
    if (rcn__alert__get_packed_size (&a) != RCB_BODY)
        rcb_die ("offer", "an authored alert body would not be RCB_BODY bytes");
}

int
main (int argc, char **argv)
{
    static const struct option opts[] = {
        { "rate", required_argument, NULL, 'r' }, { "inflight", required_argument, NULL, 'k' },
        { "seconds", required_argument, NULL, 's' }, { "slots", required_argument, NULL, 'n' },
        { "first", required_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static offer_t O;
    O.slots_n = 64;
    double v;
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': if (!rcn_parse_number (optarg, 0.1, 1e6, &O.rate)) return usage (); break;
        case 'k': if (!rcn_parse_number (optarg, 1, SLOTS_MAX, &v)) return usage (); O.inflight = (int) v; break;
        case 's': if (!rcn_parse_number (optarg, 0.1, 3600, &O.seconds)) return usage (); break;
        case 'n': if (!rcn_parse_number (optarg, 1, SLOTS_MAX, &v)) return usage (); O.slots_n = (int) v; break;
        case 'f': if (!rcn_parse_number (optarg, 0, 1e15, &v)) return usage (); O.next_alert = (uint64_t) v; break;
        default: return usage ();
        }
    }
    if ((O.rate > 0) == (O.inflight > 0) || O.seconds <= 0 || optind == argc
        || argc - optind > MEMBERS_MAX) {
        fprintf (stderr, "rcbench_offer: give --rate or --inflight (one), --seconds, and 1 to %d "
                 "member dirs\n", MEMBERS_MAX);
        return usage ();
    }
    if (O.inflight)
        O.slots_n = O.inflight;
    if (sodium_init () < 0)
        return 1;
    rcn_log_set_level (RCN_LOG_WARN);
    check_body_size ();
    O.ctx = zmq_ctx_new ();
    if (!O.ctx)
        rcb_die ("offer", "zmq_ctx_new failed");
    zmq_ctx_set (O.ctx, ZMQ_MAX_SOCKETS, MEMBERS_MAX * SLOTS_MAX + 64);
    for (int i = optind; i < argc; i++) {
        member_t *m = &O.members[O.n++];
        rcn_conf_t conf;
        char why[1024] = "", sock[4200];
        if (rcn_conf_load (argv[i], &conf, why, sizeof why) != RCN_OK) {
            fprintf (stderr, "rcbench_offer: %s is not a node dir: %s\n", argv[i], why);
            return 1;
        }
        snprintf (m->dir, sizeof m->dir, "%s", argv[i]);
        rcn_conf_path (&conf, "control", sock, sizeof sock);
        if (access (sock, W_OK) != 0) {
            fprintf (stderr, "rcbench_offer: no rcnode runs on %s (no control socket %s)\n",
                     argv[i], sock);
            return 1;
        }
        snprintf (m->endpoint, sizeof m->endpoint, "ipc://%s", sock);
        m->slots = calloc ((size_t) O.slots_n, sizeof *m->slots);
        if (!m->slots)
            rcb_die ("offer", "out of memory");
        for (int k = 0; k < O.slots_n; k++)
            slot_open (&O, m, &m->slots[k]);   /* connected by the time they are used */
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    usleep (200 * 1000);
    uint64_t t0 = rcb_mono_ns ();
    if (O.rate > 0)
        run_open (&O);
    else
        run_closed (&O);
    /* The answers in flight, each within its deadline. */
    for (int k = 0; busy_slots (&O) && k < (ANSWER_MS + 1000) / 20; k++)
        poll_answers (&O, 20);
    double elapsed = O.t_first && O.t_last > O.t_first ? (double) (O.t_last - O.t_first) / 1e9
                   : (double) (rcb_mono_ns () - t0) / 1e9;
    json_t *failed = json_object ();
    uint64_t nfailed = 0;
    for (size_t i = 0; i < O.n_reasons; i++) {
        json_object_set_new (failed, O.reasons[i], json_integer ((json_int_t) O.reason_n[i]));
        nfailed += O.reason_n[i];
    }
    double p50 = rcb_quantile (O.answer_ms, O.n_answers, 0.5);
    double p99 = rcb_quantile (O.answer_ms, O.n_answers, 0.99);
    double mx = rcb_quantile (O.answer_ms, O.n_answers, 1.0);
    json_t *out = json_pack ("{s:s, s:f, s:f, s:i, s:i, s:I, s:I, s:I, s:o, s:f, s:f, s:f, "
                             "s:{s:f, s:f, s:f}, s:I, s:I}",
                             "mode", O.rate > 0 ? "open" : "closed", "rate", O.rate,
                             "seconds", O.seconds, "inflight", O.inflight,
                             "members", (int) O.n, "sent", (json_int_t) O.sent,
                             "ok", (json_int_t) O.ok, "failed_total", (json_int_t) nfailed,
                             "failed", failed, "elapsed_s", elapsed,
                             "offered_per_s", O.rate > 0 ? O.rate : (double) O.sent / elapsed,
                             "achieved_per_s", (double) O.ok / elapsed,
                             "answer_ms", "p50", p50, "p99", p99, "max", mx,
                             "t_first_ns", (json_int_t) O.t_first, "t_last_ns", (json_int_t) O.t_last);
    char *text = json_dumps (out, JSON_COMPACT);
    printf ("%s\n", text);
    free (text);
    json_decref (out);
    for (size_t m = 0; m < O.n; m++) {
        for (int k = 0; k < O.slots_n; k++)
            slot_close (&O.members[m].slots[k]);
        free (O.members[m].slots);
    }
    free (O.answer_ms);
    zmq_ctx_term (O.ctx);
    return 0;
}
