/* rcctl_tail.c — `rcctl -d DIR log tail [--lines N] [--follow] [--json]`: the log's newest
 * entries, one line each — time, region, seq, kind, status and a summary of its clear fields —
 * never personal details: a kind's `show` gives clear fields only, and a sealed part only as
 * its size and readers. With --follow it goes on printing entries as they are stored (the log
 * is read, read-only, every 500 ms) until interrupted.
 *
 * The log keeps no arrival order across origins; entries are listed by their signed time, then
 * region and seq, which is the same on every member. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rcctl.h"
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/kind.h"

#define TAIL_MAX 100000
#define SUMMARY_MAX 160
#define ORIGINS_MAX 256

typedef struct {
    uint64_t time_ms;
    char region[32];
    uint64_t seq;
    json_t *line;                    /* what is printed for it */
} item_t;

typedef struct {
    uint8_t origin[RCN_KEY_SIZE];
    uint64_t printed;                /* highest seq printed (or skipped as older) */
} seen_t;

typedef struct {
    const rcn_roster_t *roster;
    rcn_store_t *store;
    item_t *items;
    size_t n, cap;
} collect_t;

static volatile sig_atomic_t s_stop;

static void
on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

/* One entry as a line: clear fields only. */
static json_t *
line_of (collect_t *c, rcn_entry_t *e, const char *region)
{
    char kname[64], hex[65], when[40];
    const rcn_kind_t *k = rcn_kind_by_id (e->h.kind);
    rcn_time_format (e->h.time_ms, when, sizeof when);
    const char *status = rcn_status_name (e->h.status);
    json_t *o = json_pack ("{s:s, s:s, s:I}", "time", when, "region", region,
                           "seq", (json_int_t) e->h.seq);
    json_object_set_new (o, "kind", rcn_kind_entry_name (e->h.kind, kname, sizeof kname)
                                    ? json_string (kname) : json_integer (e->h.kind));
    json_object_set_new (o, "status", json_string (status ? status : "?"));
    json_object_set_new (o, "hash", json_string (rcn_hex (rcn_entry_hash (e), 32, hex)));
    char reason[256];
    if (rcn_store_invalid_reason (c->store, e->hash, reason, sizeof reason) == RCN_OK)
        json_object_set_new (o, "invalid", json_string (reason));
    else if (k && k->show) {
        json_t *body = k->show (e->h.kind, e->h.body, e->h.body_len);
        if (body)
            json_object_set_new (o, "summary", body);
    }
    return o;
}

static int
collect_one (rcn_entry_t *e, void *ctx)
{
    collect_t *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        item_t *grown = realloc (c->items, cap * sizeof *grown);
        if (!grown)
            return RCN_ENOMEM;
        c->items = grown;
        c->cap = cap;
    }
    item_t *it = &c->items[c->n];
    rcctl_region_of (c->roster, e->h.origin, it->region, sizeof it->region);
    it->time_ms = e->h.time_ms;
    it->seq = e->h.seq;
    if (!(it->line = line_of (c, e, it->region)))
        return RCN_ENOMEM;
    c->n++;
    return RCN_OK;
}

static int
by_time (const void *pa, const void *pb)
{
    const item_t *a = pa, *b = pb;
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    int r = strcmp (a->region, b->region);
    if (r)
        return r;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void
print_line (const json_t *o, bool json)
{
    if (json) {
        json_dumpf (o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc ('\n', stdout);
    } else {
        const json_t *sum = json_object_get (o, "summary");
        char *text = sum ? json_dumps (sum, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        const char *inv = json_string_value (json_object_get (o, "invalid"));
        printf ("%-24s  %-6s  #%-6lld  %-14s  %-8s  %.*s%s%s\n",
                json_string_value (json_object_get (o, "time")),
                json_string_value (json_object_get (o, "region")),
                (long long) json_integer_value (json_object_get (o, "seq")),
                json_is_string (json_object_get (o, "kind"))
                    ? json_string_value (json_object_get (o, "kind")) : "?",
                json_string_value (json_object_get (o, "status")), SUMMARY_MAX,
                inv ? "INVALID: " : text ? text : "", inv ? inv : "",
                text && !inv && strlen (text) > SUMMARY_MAX ? "…" : "");
        free (text);
    }
    fflush (stdout);
}

typedef struct {
    collect_t *c;
    seen_t *seen;
    size_t *nseen;
    uint64_t lines;                  /* first pass: how many of each origin's newest to take */
    int rc;
} heads_pass_t;

static seen_t *
seen_of (seen_t *seen, size_t *n, const uint8_t *origin)
{
    for (size_t i = 0; i < *n; i++)
        if (memcmp (seen[i].origin, origin, RCN_KEY_SIZE) == 0)
            return &seen[i];
    if (*n == ORIGINS_MAX)
        return NULL;
    memcpy (seen[*n].origin, origin, RCN_KEY_SIZE);
    seen[*n].printed = 0;
    return &seen[(*n)++];
}

/* Per origin: what is new since the last pass (or, first, its newest `lines`). */
static int
head_pass (const uint8_t origin[RCN_KEY_SIZE], uint64_t seq, const uint8_t hash[RCN_HASH_SIZE],
           void *ctx)
{
    (void) hash;
    heads_pass_t *h = ctx;
    seen_t *s = seen_of (h->seen, h->nseen, origin);
    if (!s || seq <= s->printed)
        return RCN_OK;
    uint64_t from = s->printed + 1;
    if (h->lines && seq > h->lines && from < seq - h->lines + 1)
        from = seq - h->lines + 1;
    s->printed = seq;
    return rcn_store_scan (h->c->store, origin, from, collect_one, h->c);
}

/* Prints what the pass collected, oldest first (at most `last` of them when not 0). */
static void
flush (collect_t *c, size_t last, bool json)
{
    qsort (c->items, c->n, sizeof *c->items, by_time);
    for (size_t i = 0; i < c->n; i++) {
        if (!last || i + last >= c->n)
            print_line (c->items[i].line, json);
        json_decref (c->items[i].line);
    }
    c->n = 0;
}

int
rcctl_log (rcctl_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "lines", required_argument, NULL, 'n' }, { "follow", no_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
    };
    if (argc < 2 || strcmp (argv[1], "tail") != 0)
        return rcctl_fail (RC_USAGE, "log: the only verb is tail (log tail [--lines N] [--follow] "
                           "[--json])");
    long lines = 20;
    bool follow = false;
    optind = 0;
    opterr = 0;
    int ch;
    while ((ch = getopt_long (argc - 1, argv + 1, "", opts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'n':
            errno = 0;
            lines = strtol (optarg, &end, 10);
            if (errno || *end || lines < 1 || lines > TAIL_MAX)
                return rcctl_fail (RC_USAGE, "log tail --lines \"%s\": 1..%d", optarg, TAIL_MAX);
            break;
        case 'f': follow = true; break;
        case 'j': c->json = true; break;
        default:
            return rcctl_fail (RC_USAGE, "log tail: unknown argument \"%s\"", argv[optind]);
        }
    }
    if (optind + 1 < argc)
        return rcctl_fail (RC_USAGE, "log tail: unexpected argument \"%s\"", argv[optind + 1]);
    rcn_conf_t conf;
    rcn_roster_t *roster = NULL;
    rcn_store_t *store = NULL;
    int code = rcctl_open (c, &conf, &roster, false, &store);
    if (code != RC_OK)
        return code;
    signal (SIGINT, on_signal);
    signal (SIGTERM, on_signal);
    seen_t *seen = calloc (ORIGINS_MAX, sizeof *seen);
    size_t nseen = 0;
    collect_t col = { .roster = roster, .store = store };
    heads_pass_t h = { .c = &col, .seen = seen, .nseen = &nseen, .lines = (uint64_t) lines };
    int rc = seen ? rcn_store_heads (store, head_pass, &h) : RCN_ENOMEM;
    if (rc == RCN_OK)
        flush (&col, (size_t) lines, c->json);
    h.lines = 0;
    while (rc == RCN_OK && follow && !s_stop) {
        struct timespec ts = { 0, 500 * 1000000L };
        nanosleep (&ts, NULL);
        if ((rc = rcn_store_heads (store, head_pass, &h)) == RCN_OK)
            flush (&col, 0, c->json);
    }
    for (size_t i = 0; i < col.n; i++)
        json_decref (col.items[i].line);
    free (col.items);
    free (seen);
    rcn_store_destroy (&store);
    rcn_roster_destroy (&roster);
    if (rc != RCN_OK)
        return rcctl_fail (RC_FAIL, "log tail: the log could not be read (%s)", rcn_strerror (rc));
    return RC_OK;
}
