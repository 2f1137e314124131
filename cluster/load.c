/* load.c — rcload, the drill's load generator (cluster/drill): one process per member, writing
 * drill traffic (status exercise) to that member's node at a steady rate and recording every
 * answer, so that the drill can later check each acknowledged entry against every member.
 *
 *   rcload DIR --out FILE [--rate R] [--duration S] [--seed N] [--slots N] [--wait-ms MS]
 *              [--pass-every S] [--scan-ms MS] [--state FILE]
 *
 * The one design decision: requests go straight to the node's control socket (control.h),
 * many at once — one DEALER socket per slot, one request in flight per slot — because a write
 * waits up to a heartbeat (about a second) for a peer to hold it, and an rcctl process per
 * write could not keep 50 writes/s on two cores. Each request is built by the record kind's
 * own `cli` (kind.h), from the same words an operator would type, so rcload sends exactly what
 * rcctl would. A slot whose answer is late (--wait-ms plus 3 s) gives up: its socket is closed
 * (a late answer must not be taken for the next request's) and the write recorded unanswered.
 * While the node is down, connecting sockets refuse at once (ZMQ_IMMEDIATE): such writes are
 * recorded as "down", so the rate stays the rate of attempts whatever the node does.
 *
 * Mix (of the writes that are due): case acks (taken_over) of exercise notices this member
 * owes, transfer steps that are this member's move (accept, depart, handover), transfer
 * orders, alert updates and cancels of its own alerts, case notices to one or two other
 * members, alerts; and, on a timer of its own, a pass (each costs the node ~95 ms of Argon2id).
 * What this member owes is read every --scan-ms from its log, opened read-only as rcctl's
 * `case list --to-me --owed` and `transfer list --open` do.
 *
 * Output: one JSON object per line, per write, when it is settled:
 *   {"t": SENT_MS, "done": MS, "kind": "case", "verb": "notify", "ok": true, "hash": HEX,
 *    "seq": N, "ack": "peer"|"local", "held_by": "320000", "existing": false}
 *   {"t": …, "done": …, "kind": …, "verb": …, "ok": false, "err": "down"|"timeout"|"busy"|CODE,
 *    "why": TEXT}
 * Times are wall-clock Unix ms. With --state FILE, the writes in flight (sent, not yet answered)
 * are kept in FILE as one decimal number, rewritten in place when it changes: the drill reads it
 * to strike while writes are in flight. SIGTERM or SIGINT stops new writes; answers in flight are
 * awaited (bounded) and recorded; a summary goes to stderr. Exit 0, or 2 on a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/conf.h"
#include "rcn/control.h"
#include "rcn/kind.h"
#include "rcn/log.h"
#include "rcn/roster.h"
#include "rcn/store.h"

#define SLOTS_MAX 512
#define QUEUE_MAX 4096
#define SEEN_MAX 65536
#define OWN_ALERTS_MAX 256

typedef struct {
    void *sock;
    bool busy;
    uint64_t sent_wall, deadline;     /* wall ms; mono ms */
    char kind[16], verb[16];
    char ref[65];                     /* the notice or order it acts on ("" none) */
} slot_t;

typedef struct {
    char hash[65];
    char verb[16];                    /* ack: "taken_over"; transfer: accept|depart|handover */
    int count;                        /* handover: persons */
} job_t;

typedef struct {
    job_t q[QUEUE_MAX];
    size_t head, n;
} queue_t;

typedef struct {
    /* options */
    const char *dir, *out_path, *state_path;
    double rate, duration_s, pass_every_s;
    uint64_t seed;
    int slots_n, wait_ms, scan_ms;
    /* the member */
    rcn_conf_t conf;
    rcn_roster_t *roster;
    char self[8];
    char others[RCN_MAX_MEMBERS][8];
    size_t n_others;
    char sock_path[4200], endpoint[4300];
    /* state */
    void *ctx;
    slot_t slots[SLOTS_MAX];
    FILE *out;
    int state_fd;
    int inflight_shown;
    uint64_t rng;
    uint64_t serial;                  /* ids made unique per run: case, order and pass ids */
    char run_tag[24];
    queue_t acks, steps;
    char *seen[SEEN_MAX];             /* "verb:hash" already asked for (open addressing) */
    size_t n_seen;
    char own_alerts[OWN_ALERTS_MAX][65];
    size_t n_own_alerts;
    /* counts */
    uint64_t attempted, sent, peer, local, failed, down, timeouts, busy;
} load_t;

static volatile sig_atomic_t s_stop;

static void
on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

static uint64_t
wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static uint64_t
mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* xorshift64*: the load's choices replay from --seed (its timing, of course, does not). */
static uint64_t
rnd (load_t *L)
{
    L->rng ^= L->rng >> 12;
    L->rng ^= L->rng << 25;
    L->rng ^= L->rng >> 27;
    return L->rng * 2685821657736338717ULL;
}

static unsigned
rnd_below (load_t *L, unsigned n)
{
    return n ? (unsigned) (rnd (L) % n) : 0;
}

/* --- what was already asked for -------------------------------------------------------- */

static uint64_t
str_hash (const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 1099511628211ULL;
    return h;
}

/* Adds key; false when it was there already (or the table is full: then nothing is asked). */
static bool
seen_add (load_t *L, const char *verb, const char *hash)
{
    char key[96];
    snprintf (key, sizeof key, "%s:%s", verb, hash);
    if (L->n_seen >= SEEN_MAX * 3 / 4)
        return false;
    size_t i = str_hash (key) % SEEN_MAX;
    for (; L->seen[i]; i = (i + 1) % SEEN_MAX)
        if (strcmp (L->seen[i], key) == 0)
            return false;
    L->seen[i] = strdup (key);
    if (!L->seen[i])
        return false;
    L->n_seen++;
    return true;
}

static void
queue_push (queue_t *q, const char *hash, const char *verb, int count)
{
    if (q->n == QUEUE_MAX)
        return;
    job_t *j = &q->q[(q->head + q->n++) % QUEUE_MAX];
    snprintf (j->hash, sizeof j->hash, "%s", hash);
    snprintf (j->verb, sizeof j->verb, "%s", verb);
    j->count = count;
}

static bool
queue_pop (queue_t *q, job_t *out)
{
    if (q->n == 0)
        return false;
    *out = q->q[q->head];
    q->head = (q->head + 1) % QUEUE_MAX;
    q->n--;
    return true;
}

/* --- reading what this member owes from its log (read-only, as rcctl's list does) ------- */

static json_t *
kind_list (load_t *L, rcn_store_t *store, const char *kind, json_t *query)
{
    const rcn_kind_t *k = rcn_kind_by_name (kind);
    if (!k)
        return NULL;
    json_object_set_new (query, "self_region", json_string (L->self));
    rcn_kind_env_t env = { .roster = L->roster, .region = L->conf.region };
    char why[512];
    return rcn_kind_list (store, k, &env, query, rcn_now_ms (), why, sizeof why);
}

static const char *
jstr (const json_t *o, const char *key)
{
    const char *s = json_string_value (json_object_get (o, key));
    return s ? s : "";
}

/* Queues the answers this member owes: notices to take over, transfer steps that are its move.
 * The log may be missing (a wiped member before its restart): then nothing is queued. */
static void
scan (load_t *L)
{
    rcn_store_opts_t opts = { .readonly = true, .kinds = rcn_kinds };
    rcn_store_t *store = NULL;
    char why[256];
    if (access (L->conf.data_path, R_OK) != 0
        || rcn_store_open (L->conf.data_path, &opts, &store, why, sizeof why) != RCN_OK)
        return;
    json_t *q = json_pack ("{s:b, s:b}", "to_me", 1, "owed", 1);
    json_t *notices = q ? kind_list (L, store, "case", q) : NULL;
    size_t i;
    json_t *n;
    json_array_foreach (notices, i, n) {
        if (strcmp (jstr (n, "status"), "exercise") != 0)
            continue;                 /* the query kept the notices this member owes */
        if (seen_add (L, "ack", jstr (n, "hash")))
            queue_push (&L->acks, jstr (n, "hash"), "taken_over", 0);
    }
    json_decref (notices);
    json_decref (q);
    q = json_pack ("{s:b}", "open", 1);
    json_t *orders = q ? kind_list (L, store, "transfer", q) : NULL;
    json_array_foreach (orders, i, n) {
        if (strcmp (jstr (n, "status"), "exercise") != 0 || json_object_get (n, "invalid"))
            continue;
        const char *state = jstr (n, "state"), *verb = NULL;
        bool to_me = strcmp (jstr (n, "to"), L->self) == 0;
        bool mine = strcmp (jstr (n, "region"), L->self) == 0;
        if (to_me && strcmp (state, "created") == 0)
            verb = "accept";
        else if (mine && strcmp (state, "accepted") == 0)
            verb = "depart";
        else if (to_me && strcmp (state, "departed") == 0)
            verb = "handover";
        if (verb && seen_add (L, verb, jstr (n, "hash")))
            queue_push (&L->steps, jstr (n, "hash"), verb,
                        (int) json_integer_value (json_object_get (n, "persons")));
    }
    json_decref (orders);
    json_decref (q);
    rcn_store_destroy (&store);
}

/* --- requests ----------------------------------------------------------------------------- */

/* A valid GB 11643 ID number (a Shanghai district code, a random birth date). */
static void
id_number (load_t *L, char out[19])
{
    static const int weight[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
    static const char check[] = "10X98765432";
    snprintf (out, 19, "310101%04u%02u%02u%03u", 1950 + rnd_below (L, 60), 1 + rnd_below (L, 12),
              1 + rnd_below (L, 28), rnd_below (L, 1000));
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * weight[i];
    out[17] = check[sum % 11];
    out[18] = '\0';
}

/* Builds the next write: the kind's own cli parses the words an operator would type. */
static json_t *
next_request (load_t *L, bool pass_due, char kind[16], char verb[16], char ref[65])
{
    char a[20][160];
    const char *av[24];
    int ac = 0;
#define ARG(...) (snprintf (a[ac], sizeof a[ac], __VA_ARGS__), av[ac] = a[ac], ac++)
    ref[0] = '\0';
    unsigned r = rnd_below (L, 100);
    job_t j;
    char id[19];
    uint64_t n = ++L->serial;
    const char *to = L->others[rnd_below (L, (unsigned) L->n_others)];
    if (pass_due) {
        snprintf (kind, 16, "pass");
        id_number (L, id);
        ARG ("issue"); ARG ("--pass-id"); ARG ("DR-%s-P%llu", L->run_tag, (unsigned long long) n);
        ARG ("--kind"); ARG ("commuter"); ARG ("--name"); ARG ("Drill Holder %llu", (unsigned long long) n);
        ARG ("--id-number"); ARG ("%s", id); ARG ("--valid-until"); ARG ("+7d");
    }
    else if (r < 20 && queue_pop (&L->acks, &j)) {
        snprintf (kind, 16, "case");
        snprintf (ref, 65, "%s", j.hash);
        ARG ("ack"); ARG ("%s", j.hash); ARG ("%s", j.verb); ARG ("--note"); ARG ("drill take-over");
    }
    else if (r < 26 && queue_pop (&L->steps, &j)) {
        snprintf (kind, 16, "transfer");
        snprintf (ref, 65, "%s", j.hash);
        ARG ("%s", j.verb); ARG ("%s", j.hash);
        if (strcmp (j.verb, "handover") == 0) {
            ARG ("--count"); ARG ("%d", j.count);
        }
    }
    else if (r < 28) {
        snprintf (kind, 16, "transfer");
        id_number (L, id);
        ARG ("create"); ARG ("--order-id"); ARG ("DR-%s-T%llu", L->run_tag, (unsigned long long) n);
        ARG ("--to"); ARG ("%s", to); ARG ("--persons"); ARG ("1");
        ARG ("--person"); ARG ("Drill Person %llu,%s", (unsigned long long) n, id);
        ARG ("--vehicle"); ARG ("DRILL-%llu", (unsigned long long) n % 1000);
        ARG ("--handover-point"); ARG ("drill gate");
        ARG ("--depart-at=+2h");
        ARG ("--eta=+3h");
        ARG ("--accept-by=+1h");
    }
    else if (r < 32 && L->n_own_alerts > 0) {
        snprintf (kind, 16, "alert");
        size_t k = rnd_below (L, (unsigned) L->n_own_alerts);
        snprintf (ref, 65, "%s", L->own_alerts[k]);
        if (rnd_below (L, 3) == 0) {
            ARG ("cancel"); ARG ("%s", ref); ARG ("--text"); ARG ("drill: stood down");
            memmove (L->own_alerts[k], L->own_alerts[L->n_own_alerts - 1], 65);
            L->n_own_alerts--;
        }
        else {
            ARG ("update"); ARG ("%s", ref); ARG ("--severity"); ARG ("moderate");
            ARG ("--text"); ARG ("drill alert updated #%llu", (unsigned long long) n);
        }
    }
    else if (r < 62) {
        static const char *const cls[] = { "confirmed", "suspected", "asymptomatic",
                                           "close_contact", "secondary_contact" };
        snprintf (kind, 16, "case");
        char tos[20];
        const char *to2 = L->others[rnd_below (L, (unsigned) L->n_others)];
        if (strcmp (to2, to) != 0 && rnd_below (L, 3) == 0)
            snprintf (tos, sizeof tos, "%s,%s", to, to2);
        else
            snprintf (tos, sizeof tos, "%s", to);
        ARG ("notify"); ARG ("--case-id"); ARG ("DR-%s-C%llu", L->run_tag, (unsigned long long) n);
        ARG ("--classification"); ARG ("%s", cls[rnd_below (L, 5)]);
        ARG ("--to"); ARG ("%s", tos); ARG ("--residence"); ARG ("%s", to);
        ARG ("--reported-at=-5m");
        ARG ("--name"); ARG ("Drill Case %llu", (unsigned long long) n);
    }
    else {
        static const char *const sev[] = { "minor", "moderate", "severe" };
        snprintf (kind, 16, "alert");
        ARG ("send"); ARG ("--severity"); ARG ("%s", sev[rnd_below (L, 3)]);
        ARG ("--text"); ARG ("drill alert %s #%llu", L->self, (unsigned long long) n);
        ARG ("--expires"); ARG ("+1h");
    }
#undef ARG
    av[ac] = NULL;
    snprintf (verb, 16, "%s", av[0]);
    const rcn_kind_t *k = rcn_kind_by_name (kind);
    json_t *req = NULL;
    char why[512] = "";
    if (!k || k->cli (ac, (char **) av, NULL, rcn_now_ms (), &req, why, sizeof why) != RCN_OK) {
        fprintf (stderr, "rcload: cannot build %s %s: %s\n", kind, verb, why);
        return NULL;
    }
    /* What rcctl's kind_command adds: kind, status, wait. */
    json_object_set_new (req, "kind", json_string (kind));
    json_object_set_new (req, "status", json_string ("exercise"));
    json_object_set_new (req, "wait", json_string ("peer"));
    json_object_set_new (req, "wait_ms", json_integer (L->wait_ms));
    json_object_del (req, "after");
    return req;
}

/* --- slots -------------------------------------------------------------------------------- */

static void
slot_close (slot_t *s)
{
    if (s->sock)
        zmq_close (s->sock);
    s->sock = NULL;
    s->busy = false;
}

static bool
slot_open (load_t *L, slot_t *s)
{
    s->sock = rcn_ctl_dealer (L->ctx, L->endpoint, RCN_CONTROL_MSG_MAX * 4);
    return s->sock != NULL;
}

static void
record (load_t *L, const char *kind, const char *verb, uint64_t t, json_t *fields)
{
    json_t *o = json_pack ("{s:I, s:I, s:s, s:s}", "t", (json_int_t) t, "done",
                           (json_int_t) wall_ms (), "kind", kind, "verb", verb);
    if (o && fields)
        json_object_update (o, fields);
    char *line = o ? json_dumps (o, JSON_COMPACT) : NULL;
    if (line)
        fprintf (L->out, "%s\n", line);
    free (line);
    json_decref (o);
    json_decref (fields);
}

static void
record_error (load_t *L, const char *kind, const char *verb, uint64_t t, const char *err,
              const char *why)
{
    L->failed++;
    record (L, kind, verb, t, json_pack ("{s:b, s:s, s:s}", "ok", 0, "err", err, "why", why));
}

/* The answer in slot s: recorded; an own alert's hash kept for later updates. */
static void
settle (load_t *L, slot_t *s, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *resp = json_loadb (text, len, 0, &jerr);
    s->busy = false;
    if (!json_is_object (resp)) {
        record_error (L, s->kind, s->verb, s->sent_wall, "EANSWER", "the answer is not JSON");
        json_decref (resp);
        return;
    }
    if (!json_is_true (json_object_get (resp, "ok"))) {
        record_error (L, s->kind, s->verb, s->sent_wall, jstr (resp, "code"), jstr (resp, "error"));
        json_decref (resp);
        return;
    }
    const char *ack = jstr (resp, "acknowledged");
    if (strcmp (ack, "peer") == 0)
        L->peer++;
    else
        L->local++;
    if (strcmp (s->kind, "alert") == 0 && strcmp (s->verb, "send") == 0
        && L->n_own_alerts < OWN_ALERTS_MAX && json_is_string (json_object_get (resp, "hash")))
        snprintf (L->own_alerts[L->n_own_alerts++], 65, "%s", jstr (resp, "hash"));
    json_t *f = json_pack ("{s:b, s:s, s:O*, s:s, s:b}", "ok", 1, "hash", jstr (resp, "hash"),
                           "seq", json_object_get (resp, "seq"), "ack", ack, "existing",
                           json_is_true (json_object_get (resp, "existing")));
    if (f && json_object_get (resp, "held_by"))
        json_object_set (f, "held_by", json_object_get (resp, "held_by"));
    if (f && s->ref[0])
        json_object_set_new (f, "ref", json_string (s->ref));
    record (L, s->kind, s->verb, s->sent_wall, f);
    json_decref (resp);
}

/* Sends one due write on a free slot; records it at once when it cannot go. */
static void
issue (load_t *L, bool pass_due)
{
    char kind[16], verb[16], ref[65];
    json_t *req = next_request (L, pass_due, kind, verb, ref);
    if (!req)
        return;
    L->attempted++;
    uint64_t t = wall_ms ();
    char *text = json_dumps (req, JSON_COMPACT);
    json_decref (req);
    if (!text) {
        record_error (L, kind, verb, t, "ENOMEM", "cannot encode the request");
        return;
    }
    /* The first free slot whose socket takes it: a socket opened a moment ago may not be
     * connected yet (IMMEDIATE refuses it), so a few are tried before the node counts as down. */
    slot_t *s = NULL;
    int free_slots = 0, tries = 0;
    for (int i = 0; i < L->slots_n && tries < 16; i++) {
        slot_t *c = &L->slots[i];
        if (c->busy)
            continue;
        free_slots++;
        if (!c->sock && !slot_open (L, c))
            continue;
        tries++;
        if (zmq_send (c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            continue;
        if (zmq_send (c->sock, text, strlen (text), ZMQ_DONTWAIT) < 0) {
            slot_close (c);          /* half a message went: this socket starts afresh */
            slot_open (L, c);
            continue;
        }
        s = c;
        break;
    }
    if (!s && free_slots == 0) {
        L->busy++;
        record_error (L, kind, verb, t, "busy", "every slot waits for an answer");
        free (text);
        return;
    }
    if (!s) {
        /* No connection (IMMEDIATE): the node is not running. */
        L->down++;
        record_error (L, kind, verb, t, "down", "no connection to the node's control socket");
        free (text);
        return;
    }
    free (text);
    L->sent++;
    s->busy = true;
    s->sent_wall = t;
    s->deadline = mono_ms () + (uint64_t) L->wait_ms + 3000;
    memcpy (s->kind, kind, 16);
    memcpy (s->verb, verb, 16);
    memcpy (s->ref, ref, 65);
}

/* Takes the answers that have come, and gives up on those past their deadline. */
static void
poll_slots (load_t *L, int timeout_ms)
{
    zmq_pollitem_t items[SLOTS_MAX];
    int idx[SLOTS_MAX], n = 0;
    for (int i = 0; i < L->slots_n; i++)
        if (L->slots[i].busy) {
            items[n] = (zmq_pollitem_t) { .socket = L->slots[i].sock, .events = ZMQ_POLLIN };
            idx[n++] = i;
        }
    if (n == 0) {
        if (timeout_ms > 0)
            usleep ((useconds_t) timeout_ms * 1000);
        return;
    }
    if (zmq_poll (items, n, timeout_ms) < 0 && errno != EINTR)
        return;
    uint64_t now = mono_ms ();
    for (int k = 0; k < n; k++) {
        slot_t *s = &L->slots[idx[k]];
        if (items[k].revents & ZMQ_POLLIN) {
            zmq_msg_t m;
            zmq_msg_init (&m);
            /* [empty][answer] */
            int got = zmq_msg_recv (&m, s->sock, ZMQ_DONTWAIT);
            int more = zmq_msg_more (&m);
            if (got == 0 && more) {
                zmq_msg_close (&m);
                zmq_msg_init (&m);
                got = zmq_msg_recv (&m, s->sock, ZMQ_DONTWAIT);
                if (got >= 0)
                    settle (L, s, zmq_msg_data (&m), zmq_msg_size (&m));
            }
            zmq_msg_close (&m);
            if (s->busy) {           /* not an answer we understand: start afresh */
                record_error (L, s->kind, s->verb, s->sent_wall, "EANSWER", "malformed answer");
                slot_close (s);
                slot_open (L, s);
            }
            continue;
        }
        if (now >= s->deadline) {
            L->timeouts++;
            record_error (L, s->kind, s->verb, s->sent_wall, "timeout", "no answer in time");
            slot_close (s);          /* a late answer must not be taken for the next request */
            slot_open (L, s);        /* connecting in the background until it is next used */
        }
    }
}

/* Rewrites the state file when the count of writes in flight has changed. */
static void
show_inflight (load_t *L)
{
    if (L->state_fd < 0)
        return;
    int n = 0;
    for (int i = 0; i < L->slots_n; i++)
        n += L->slots[i].busy;
    if (n == L->inflight_shown)
        return;
    char buf[16];
    snprintf (buf, sizeof buf, "%10d\n", n);
    if (pwrite (L->state_fd, buf, 11, 0) == 11)
        L->inflight_shown = n;
}

/* --- main ----------------------------------------------------------------------------------- */

static int
usage (void)
{
    fprintf (stderr,
             "usage: rcload DIR --out FILE [--rate R] [--duration S] [--seed N] [--slots N]\n"
             "              [--wait-ms MS] [--pass-every S] [--scan-ms MS] [--state FILE]\n"
             "  writes drill traffic (status exercise) to the node in DIR at R writes/s for S s;\n"
             "  one JSON line per write in FILE (see cluster/load.c)\n");
    return 2;
}

static int
setup (load_t *L)
{
    char why[1024] = "";
    if (rcn_conf_load (L->dir, &L->conf, why, sizeof why) != RCN_OK) {
        fprintf (stderr, "rcload: %s is not a node dir: %s\n", L->dir, why);
        return 1;
    }
    if (rcn_roster_load (L->conf.roster_path, &L->roster, why, sizeof why) != RCN_OK) {
        fprintf (stderr, "rcload: %s\n", why);
        return 1;
    }
    snprintf (L->self, sizeof L->self, "%06u", L->conf.region);
    for (size_t i = 0; i < rcn_roster_count (L->roster); i++) {
        const rcn_member_t *m = rcn_roster_member (L->roster, i);
        if (m->region != L->conf.region && L->n_others < RCN_MAX_MEMBERS)
            snprintf (L->others[L->n_others++], 8, "%06u", m->region);
    }
    if (L->n_others == 0) {
        fprintf (stderr, "rcload: the roster lists no member besides %s\n", L->self);
        return 1;
    }
    rcn_conf_path (&L->conf, "control", L->sock_path, sizeof L->sock_path);
    snprintf (L->endpoint, sizeof L->endpoint, "ipc://%s", L->sock_path);
    L->state_fd = -1;
    L->inflight_shown = -1;
    if (L->state_path) {
        L->state_fd = open (L->state_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (L->state_fd < 0) {
            fprintf (stderr, "rcload: %s: %s\n", L->state_path, strerror (errno));
            return 1;
        }
    }
    L->out = fopen (L->out_path, "w");
    if (!L->out) {
        fprintf (stderr, "rcload: %s: %s\n", L->out_path, strerror (errno));
        return 1;
    }
    L->ctx = zmq_ctx_new ();
    if (!L->ctx) {
        fprintf (stderr, "rcload: zmq_ctx_new failed\n");
        return 1;
    }
    int max_sockets = SLOTS_MAX + 64;
    zmq_ctx_set (L->ctx, ZMQ_MAX_SOCKETS, max_sockets);
    L->rng = L->seed * 0x9E3779B97F4A7C15ULL ^ L->conf.region ^ 0x5DEECE66DULL;
    if (L->rng == 0)
        L->rng = 1;
    /* Ids unique across runs on the same dirs (a restart of rcload must not re-use one). */
    snprintf (L->run_tag, sizeof L->run_tag, "%s-%llx", L->self,
              (unsigned long long) (wall_ms () / 1000) & 0xfffffffULL);
    return 0;
}

int
main (int argc, char **argv)
{
    static const struct option opts[] = {
        { "rate", required_argument, NULL, 'r' }, { "duration", required_argument, NULL, 'd' },
        { "seed", required_argument, NULL, 's' }, { "out", required_argument, NULL, 'o' },
        { "slots", required_argument, NULL, 'n' }, { "wait-ms", required_argument, NULL, 'w' },
        { "pass-every", required_argument, NULL, 'p' }, { "scan-ms", required_argument, NULL, 'S' },
        { "state", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    static load_t L;
    L.rate = 50;
    L.duration_s = 60;
    L.slots_n = 192;
    L.wait_ms = 2000;
    L.pass_every_s = 3;
    L.scan_ms = 1500;
    int c;
    double v;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': if (!rcn_parse_number (optarg, 0.1, 5000, &L.rate)) return usage (); break;
        case 'd': if (!rcn_parse_number (optarg, 0.1, 86400, &L.duration_s)) return usage (); break;
        case 's': if (!rcn_parse_number (optarg, 0, 1e15, &v)) return usage (); L.seed = (uint64_t) v; break;
        case 'o': L.out_path = optarg; break;
        case 'f': L.state_path = optarg; break;
        case 'n': if (!rcn_parse_number (optarg, 1, SLOTS_MAX, &v)) return usage (); L.slots_n = (int) v; break;
        case 'w': if (!rcn_parse_number (optarg, 100, 60000, &v)) return usage (); L.wait_ms = (int) v; break;
        case 'p': if (!rcn_parse_number (optarg, 0, 86400, &L.pass_every_s)) return usage (); break;
        case 'S': if (!rcn_parse_number (optarg, 100, 600000, &v)) return usage (); L.scan_ms = (int) v; break;
        default: return usage ();
        }
    }
    if (optind != argc - 1 || !L.out_path)
        return usage ();
    L.dir = argv[optind];
    if (sodium_init () < 0)
        return 1;
    rcn_log_set_level (RCN_LOG_WARN);
    if (setup (&L) != 0)
        return 1;
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);

    for (int i = 0; i < L.slots_n; i++)
        slot_open (&L, &L.slots[i]);  /* connected by the time they are used */
    usleep (300 * 1000);
    uint64_t start = mono_ms (), end = start + (uint64_t) (L.duration_s * 1000);
    double interval = 1000.0 / L.rate, next_due = (double) start;
    double pass_next = L.pass_every_s > 0 ? (double) start + L.pass_every_s * 1000 : -1;
    uint64_t scan_next = start, flush_next = start + 1000;
    while (!s_stop) {
        uint64_t now = mono_ms ();
        if (now >= end)
            break;
        if (now >= scan_next) {
            scan (&L);
            scan_next = mono_ms () + (uint64_t) L.scan_ms;
        }
        /* A backlog of more than a second (a stall of this process) is dropped, not bursted. */
        if ((double) now - next_due > 1000)
            next_due = (double) now - 1000;
        while ((double) now >= next_due && !s_stop) {
            bool pass_due = pass_next >= 0 && (double) now >= pass_next;
            if (pass_due)
                pass_next += L.pass_every_s * 1000;
            issue (&L, pass_due);
            next_due += interval;
        }
        if (now >= flush_next) {
            fflush (L.out);
            flush_next = now + 1000;
        }
        now = mono_ms ();
        int wait = (int) (next_due > (double) now ? next_due - (double) now : 0);
        poll_slots (&L, wait > 20 ? 20 : wait);
        show_inflight (&L);
    }
    /* Stop: await the answers in flight (each slot has its own deadline). */
    uint64_t drain_end = mono_ms () + (uint64_t) L.wait_ms + 4000;
    for (;;) {
        bool any = false;
        for (int i = 0; i < L.slots_n; i++)
            any |= L.slots[i].busy;
        if (!any || mono_ms () >= drain_end)
            break;
        poll_slots (&L, 50);
        show_inflight (&L);
    }
    for (int i = 0; i < L.slots_n; i++) {
        if (L.slots[i].busy)
            record_error (&L, L.slots[i].kind, L.slots[i].verb, L.slots[i].sent_wall, "timeout",
                          "no answer before rcload stopped");
        slot_close (&L.slots[i]);
    }
    fclose (L.out);
    show_inflight (&L);
    if (L.state_fd >= 0)
        close (L.state_fd);
    fprintf (stderr, "rcload %s: %llu attempted, %llu sent, %llu held by a peer, %llu local only, "
             "%llu failed (%llu node down, %llu timed out, %llu no free slot)\n", L.self,
             (unsigned long long) L.attempted, (unsigned long long) L.sent,
             (unsigned long long) L.peer, (unsigned long long) L.local,
             (unsigned long long) L.failed, (unsigned long long) L.down,
             (unsigned long long) L.timeouts, (unsigned long long) L.busy);
    zmq_ctx_term (L.ctx);
    for (size_t i = 0; i < SEEN_MAX; i++)
        free (L.seen[i]);
    rcn_roster_destroy (&L.roster);
    return 0;
}
