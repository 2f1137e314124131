/* node.c — one member's node: everything rcnode does, behind one event loop.
 *
 * The design decision a reader must know: the node authors entries in GROUPS. It drains every
 * authoring request queued on the control socket, makes sure the signed half of its high-water
 * mark covers the group's last seq (fsynced, before any signature exists: invariant 6; it is
 * raised RCN_NODE_SIGN_AHEAD seqs beyond, so that one fsynced write serves many groups),
 * signs the group with one timestamp, commits it as one synced LMDB transaction (invariants
 * 4, 5), raises the committed half of the mark, and only then tells anyone that the entries
 * exist. Each request is checked against the log as committed, so a request whose check
 * reads state that an earlier request of the same group could change (an update or cancel:
 * rcn_kind_t.depends) waits to open the next group. A group whose commit fails is retried
 * byte for byte for a few seconds; then the node exits, and the mark lets the next start
 * sign those never-published seqs anew. */
#include "rcn/node.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "rcn/audit.h"
#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/conf.h"
#include "rcn/control.h"
#include "rcn/hwm.h"
#include "rcn/keys.h"
#include "rcn/kind.h"
#include "rcn/log.h"
#include "rcn/recovery.h"
#include "rcn/roster.h"
#include "rcn/schedule.h"
#include "rcn/seal.h"
#include "rcn/sealkey.h"
#include "rcn/status_views.h"
#include "rcn/store.h"
#include "rcn/sync.h"
#include "rcn/trace.h"

/* A committed own entry whose author waits until a peer holds it (DESIGN §5). */
typedef struct {
    rcn_ctl_req_t req;
    json_t *resp;                    /* the answer, with "acknowledged" still to fill in */
    uint64_t seq;
    uint64_t deadline;               /* mono ms */
} waiter_t;

#define RCN_NODE_WAITERS_MAX 4096
/* After a start, a node signs nothing until it has heard every peer, or this long: a peer may
 * hold own seqs this log lacks (a whole-dir snapshot rolled the mark back too), and signing
 * them again would fork our own chain (invariant 6). */
#define RCN_NODE_LISTEN_MS 3000
#define RCN_NODE_EARLY_MAX 256
/* How far beyond a group's last seq the signed half of the mark is raised: seqs that may be
 * signed without another write of the mark. Reserved seqs never signed are harmless: the mark
 * only has to cover every seq signed (hwm.h); a start lowers it to the log's head. Each raise
 * is a file replaced and two fsyncs, on the path of every group to its commit. */
#define RCN_NODE_SIGN_AHEAD 4096
#define RCN_NODE_WAIT_MAX_MS 60000
#define RCN_NODE_DRILL_MAX_MS (7 * 24 * 3600 * 1000ULL)   /* longest drill isolate --for */
#define ISOLATED_NOTE "isolated (drill): held locally only; peers get it once the isolation " \
                      "ends (rcctl drill rejoin)"

typedef struct {
    rcn_ctl_req_t req;
    const rcn_kind_t *kind;
    uint32_t entry_kind;             /* the rcn.Kind value signed (a kind may handle several) */
    uint32_t status;
    uint8_t *body;
    size_t body_len;
    rcn_entry_t *entry;              /* signed, once the group is signed */
} pending_t;

struct rcn_node {
    rcn_conf_t conf;
    rcn_roster_t *roster;
    rcn_keys_t *keys;
    rcn_seal_t *seal;                /* sealing key pairs from the key dir (seal.h) */
    rcn_store_t *store;
    const rcn_member_t *self;
    int lock_fd;
    void *zctx;
    void *ctl;
    char sock_path[4200];
    uint64_t started_mono;
    rcn_hwm_t hwm;                   /* own seqs signed / committed (hwm.h) */
    bool blocked;                    /* log lacks committed own seqs: author nothing */
    volatile sig_atomic_t stopping;
    pending_t group[RCN_NODE_GROUP_MAX];
    size_t n_group;
    uint64_t group_now;              /* the group's one timestamp: checked and signed with */
    bool group_signed;               /* group holds signed entries awaiting a commit */
    uint64_t failing_since;          /* mono ms of the first failed commit of this group */
    rcn_ctl_req_t deferred;          /* a request that must open the next group */
    bool has_deferred;
    rcn_sync_t *sync;                /* replication sockets (sync.h) */
    rcn_trace_t *trace;              /* RCN_COMMIT_TRACE (trace.h); NULL: none */
    rcn_ctl_req_t early[RCN_NODE_EARLY_MAX];  /* authoring requests held until peers are heard */
    size_t n_early;
    bool claims_settled;             /* no peer claims own seqs beyond our log (checked once) */
    uint64_t auto_entries;           /* log size when the kinds were last asked (auto_author) */
    uint64_t auto_next;              /* mono ms: ask them again by then anyway */
    uint64_t round_due;              /* wall ms: the roster's next slot (ask them then) */
    uint64_t seal_next;              /* mono ms: next look for missing sealing keys (seal_upkeep) */
    uint64_t retention_next;         /* mono ms: next retention run (daily; 0: at start) */
    waiter_t waiters[RCN_NODE_WAITERS_MAX];
    size_t n_waiters;
    /* Drill isolation (rcctl drill isolate): not persisted, a restart ends it. */
    uint64_t isolated_since;         /* wall ms; 0: not isolated */
    uint64_t isolated_until;         /* wall ms, for status; 0: until rcctl drill rejoin */
    uint64_t isolated_end;           /* mono ms when --for runs out; 0: none */
    uint64_t isolated_mono;          /* mono ms it began (how long it lasted) */
};

/* How long a failing commit is retried before the node gives up and exits. */
#define COMMIT_RETRY_MS 5000

int
rcn_node_zmq_version_ok (int major, int minor, int patch, char *why, size_t whylen)
{
    long have = major * 10000L + minor * 100L + patch;
    long need = RCN_ZMQ_MIN_MAJOR * 10000L + RCN_ZMQ_MIN_MINOR * 100L + RCN_ZMQ_MIN_PATCH;
    if (have < need) {
        rcn_errf (why, whylen, "libzmq %d.%d.%d is older than %d.%d.%d and has known "
                  "vulnerabilities (CVE-2019-13132, CVE-2020-15166): upgrade libzmq",
                  major, minor, patch, RCN_ZMQ_MIN_MAJOR, RCN_ZMQ_MIN_MINOR, RCN_ZMQ_MIN_PATCH);
        return RCN_EVERSION;
    }
    return RCN_OK;
}

int
rcn_node_check_zmq (char *why, size_t whylen)
{
    int major, minor, patch;
    zmq_version (&major, &minor, &patch);
    return rcn_node_zmq_version_ok (major, minor, patch, why, whylen);
}

/* One rcnode per dir: an exclusive flock on DIR/rcnode.lock, holding our pid for the message
 * the next one gets. The lock dies with the process, so a kill -9 leaves nothing stale. */
static int
take_lock (rcn_node_t *n, char *why, size_t whylen)
{
    char path[4200];
    rcn_conf_path (&n->conf, "lock", path, sizeof path);
    n->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (n->lock_fd < 0) {
        rcn_errf (why, whylen, "cannot open %s: %s", path, strerror (errno));
        return RCN_EIO;
    }
    if (flock (n->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t r = pread (n->lock_fd, pid, sizeof pid - 1, 0);
        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn (pid, "\n")] = '\0';
        rcn_errf (why, whylen, "another rcnode (pid %s) is running on %s", pid[0] ? pid : "?",
                  n->conf.dir);
        return RCN_EBUSY;
    }
    char pid[32];
    int len = snprintf (pid, sizeof pid, "%ld\n", (long) getpid ());
    if (ftruncate (n->lock_fd, 0) != 0 || pwrite (n->lock_fd, pid, (size_t) len, 0) != len) {
        rcn_errf (why, whylen, "cannot write %s: %s", path, strerror (errno));
        return RCN_EIO;
    }
    return RCN_OK;
}

/* This member must be in the roster with exactly these keys and this region. */
static int
find_self (rcn_node_t *n, char *why, size_t whylen)
{
    const uint8_t *origin = rcn_keys_sign_public (n->keys);
    n->self = rcn_roster_by_origin (n->roster, origin);
    char hex[65];
    if (!n->self) {
        rcn_errf (why, whylen, "this member's signing key %.16s… is not in the roster %s",
                  rcn_hex (origin, 32, hex), n->conf.roster_path);
        return RCN_EROSTER;
    }
    if (n->self->region != n->conf.region) {
        rcn_errf (why, whylen, "node.conf says region %06u but the roster lists this key as %06u",
                  n->conf.region, n->self->region);
        return RCN_EROSTER;
    }
    if (memcmp (n->self->curve_key, rcn_keys_curve_public (n->keys), RCN_KEY_SIZE) != 0) {
        rcn_errf (why, whylen, "the roster's CURVE key for %06u is not this member's", n->self->region);
        return RCN_EROSTER;
    }
    return RCN_OK;
}

/* Reconciles the high-water mark with the log (hwm.h). Own seqs the log lacks up to the
 * committed half may be held by peers: author nothing until they are back (DESIGN §5).
 * Seqs above it were reserved for signing (RCN_NODE_SIGN_AHEAD), some perhaps signed, but
 * never committed, so none left this process: the mark comes down to the log's head and they
 * will be signed anew. */
static int
check_hwm (rcn_node_t *n, char *why, size_t whylen)
{
    const uint8_t *origin = rcn_keys_sign_public (n->keys);
    uint64_t head = 0;
    int rc = rcn_hwm_read (n->conf.keys_path, origin, &n->hwm, why, whylen);
    if (rc == RCN_OK)
        rc = rcn_store_head (n->store, origin, &head, NULL);
    if (rc != RCN_OK)
        return rc;
    if (head < n->hwm.committed_seq) {
        n->blocked = true;
        rcn_warn ("own log holds seq 1..%llu but this member committed up to %llu: authoring "
                  "is blocked until seqs %llu..%llu are taken back from peers",
                  (unsigned long long) head, (unsigned long long) n->hwm.committed_seq,
                  (unsigned long long) head + 1, (unsigned long long) n->hwm.committed_seq);
        return RCN_OK;
    }
    if (head < n->hwm.signed_seq)
        rcn_info ("own seqs %llu..%llu were reserved for signing but never committed (some "
                  "perhaps signed, if the node stopped between signing and commit); nobody saw "
                  "them: they will be signed anew", (unsigned long long) head + 1,
                  (unsigned long long) n->hwm.signed_seq);
    else if (head > n->hwm.signed_seq)
        rcn_warn ("high-water mark %llu is below the log's own head %llu (a key dir without "
                  "its mark?): raising it", (unsigned long long) n->hwm.signed_seq,
                  (unsigned long long) head);
    if (n->hwm.signed_seq != head || n->hwm.committed_seq != head) {
        rcn_hwm_t m = { head, head };
        rc = rcn_hwm_write (n->conf.keys_path, origin, &m, why, whylen);
        if (rc == RCN_OK)
            n->hwm = m;
    }
    return rc;
}

/* The roster's rounds need its time zone from the system's tz database. Checking it also
 * makes it the process's zone before any thread starts (schedule.h), rounds or not. */
static int
check_zone (rcn_node_t *n, char *why, size_t whylen)
{
    const rcn_policy_t *p = rcn_roster_policy (n->roster);
    char w[256];
    if (rcn_tz_check (p->timezone, w, sizeof w) == RCN_OK || p->n_rounds == 0)
        return RCN_OK;
    rcn_errf (why, whylen, "the roster's rounds cannot be scheduled: %s (install tzdata)", w);
    return RCN_EROSTER;
}

/* With RCN_COMMIT_TRACE set, every commit's stored entries are recorded (trace.h): for the
 * benchmark's replication latency. A trace that cannot be written stops the start. */
static int
open_trace (rcn_node_t *n, char *why, size_t whylen)
{
    const char *tmpl = getenv (RCN_TRACE_ENV);
    if (!tmpl)
        return RCN_OK;
    char path[4096];
    int rc = rcn_trace_open (tmpl, n->self->region, rcn_keys_sign_public (n->keys), &n->trace,
                             path, sizeof path, why, whylen);
    if (rc != RCN_OK)
        return rc;
    rcn_store_set_commit_hook (n->store, rcn_trace_hook, n->trace);
    rcn_info ("commit trace: recording every stored entry in %s (%s)", path, RCN_TRACE_ENV);
    return RCN_OK;
}

int
rcn_node_open (const char *dir, rcn_node_t **out, char *why, size_t whylen)
{
    rcn_node_t *n = calloc (1, sizeof *n);
    if (!n)
        return RCN_ENOMEM;
    n->lock_fd = -1;
    n->started_mono = rcn_mono_ms ();
    int rc = rcn_node_check_zmq (why, whylen);
    if (rc == RCN_OK)
        rc = rcn_conf_load (dir, &n->conf, why, whylen);
    if (rc != RCN_OK)
        goto fail;
    char tag[16];
    snprintf (tag, sizeof tag, "%06u", n->conf.region);
    rcn_log_set_tag (tag);
    int level = rcn_log_level_parse (n->conf.log_level);
    rcn_log_set_level (level < 0 ? RCN_LOG_INFO : (rcn_log_level_t) level);
    if ((rc = take_lock (n, why, whylen)) != RCN_OK
        || (rc = rcn_roster_load (n->conf.roster_path, &n->roster, why, whylen)) != RCN_OK
        || (rc = rcn_keys_load (n->conf.keys_path, &n->keys, why, whylen)) != RCN_OK
        || (rc = rcn_seal_load (n->conf.keys_path, true, rcn_now_ms (), &n->seal, why,
                                whylen)) != RCN_OK
        || (rc = find_self (n, why, whylen)) != RCN_OK
        || (rc = check_zone (n, why, whylen)) != RCN_OK)
        goto fail;
    rcn_store_opts_t opts = {
        .map_size = (size_t) n->conf.map_size_mb << 20,
        .is_member = rcn_roster_is_member,
        .member_ctx = n->roster,
        .kinds = rcn_kinds,
    };
    if ((rc = rcn_store_open (n->conf.data_path, &opts, &n->store, why, whylen)) != RCN_OK
        || (rc = check_hwm (n, why, whylen)) != RCN_OK
        || (rc = open_trace (n, why, whylen)) != RCN_OK)
        goto fail;
    n->zctx = zmq_ctx_new ();
    if (!n->zctx) {
        rc = RCN_EIO;
        rcn_errf (why, whylen, "zmq_ctx_new failed");
        goto fail;
    }
    rcn_conf_path (&n->conf, "control", n->sock_path, sizeof n->sock_path);
    rcn_sync_opts_t sync_opts = { .pub_hwm = (int) n->conf.pub_hwm,
                                  .source_address = n->conf.source_address };
    if ((rc = rcn_control_bind (n->zctx, n->sock_path, &n->ctl, why, whylen)) != RCN_OK
        || (rc = rcn_sync_open (n->zctx, n->roster, n->keys, n->store, &sync_opts, &n->sync,
                                why, whylen)) != RCN_OK)
        goto fail;
    char hex[65], rhex[65];
    uint64_t head = 0;
    if (rcn_store_head (n->store, rcn_keys_sign_public (n->keys), &head, NULL) != RCN_OK)
        head = 0;
    rcn_info ("started pid=%ld origin=%.16s roster=%.16s own_head=%llu committed=%llu%s",
              (long) getpid (), rcn_hex (rcn_keys_sign_public (n->keys), 32, hex),
              rcn_hex (rcn_roster_hash (n->roster), 32, rhex), (unsigned long long) head,
              (unsigned long long) n->hwm.committed_seq, n->blocked ? " BLOCKED" : "");
    *out = n;
    return RCN_OK;
fail:
    rcn_node_destroy (&n);
    return rc;
}

void
rcn_node_stop (rcn_node_t *n)
{
    n->stopping = 1;
}

static int recover_check (rcn_node_t *n, uint64_t head, bool force, char *why, size_t whylen);

typedef struct {
    rcn_node_t *n;
    json_t *forked;                  /* [{"region", "origin", "fork_seq"}] */
    json_t *by_member[RCN_MAX_MEMBERS];  /* heads of the roster's members, by roster index */
} heads_ctx_t;

/* One origin's head for status, and its fork evidence if any (invariant 7): region and the
 * fork's seq. Origins outside the roster are counted in "origins" only. */
static int
head_one (const uint8_t origin[RCN_KEY_SIZE], uint64_t seq, const uint8_t hash[RCN_HASH_SIZE],
          void *ctx)
{
    heads_ctx_t *h = ctx;
    uint64_t fork_seq = 0;
    int rc = rcn_store_forked (h->n->store, origin, &fork_seq);
    if (rc != RCN_OK)
        return rc;
    const rcn_member_t *m = rcn_roster_by_origin (h->n->roster, origin);
    char region[16] = "", hex[65];
    if (m)
        snprintf (region, sizeof region, "%06u", m->region);
    if (fork_seq)
        json_array_append_new (h->forked, json_pack ("{s:s, s:s, s:I}", "region", region,
                                                     "origin", rcn_hex (origin, 32, hex),
                                                     "fork_seq", (json_int_t) fork_seq));
    for (size_t i = 0; m && i < rcn_roster_count (h->n->roster); i++)
        if (rcn_roster_member (h->n->roster, i) == m) {
            json_t *o = json_pack ("{s:s, s:s, s:I, s:s}", "region", region, "name", m->name,
                                   "seq", (json_int_t) seq, "hash", rcn_hex (hash, 32, hex));
            if (o && fork_seq)
                json_object_set_new (o, "forked_at", json_integer ((json_int_t) fork_seq));
            h->by_member[i] = o;
        }
    return RCN_OK;
}

/* status's "heads": every roster member by region, with what this log holds of it (seq 0 and
 * hash null when nothing), where it forked and the spans it declared lost. Takes the heads
 * collected and lost ({"region": [[first, last], …]}, borrowed). */
static json_t *
heads_json (rcn_node_t *n, heads_ctx_t *h, const json_t *lost)
{
    json_t *arr = json_array ();
    for (size_t i = 0; i < rcn_roster_count (n->roster); i++) {
        const rcn_member_t *m = rcn_roster_member (n->roster, i);
        char region[16];
        snprintf (region, sizeof region, "%06u", m->region);
        json_t *o = h->by_member[i];
        h->by_member[i] = NULL;
        if (!o)
            o = json_pack ("{s:s, s:s, s:i, s:n}", "region", region, "name", m->name, "seq", 0,
                           "hash");
        if (json_object_get (lost, region))
            json_object_set (o, "lost", json_object_get (lost, region));
        json_array_append_new (arr, o);
    }
    return arr;
}

/* status's "peer_list": per peer its state, ms since last heard, and how many entries we hold
 * that it does not ("lag", summed over origins from its last heartbeat) and it holds that we
 * do not yet ("behind", from sync's "ahead"). Both are null for a peer never heard (nothing
 * known of it). */
static json_t *
peer_list_json (const json_t *peers)
{
    json_t *arr = json_array ();
    size_t i;
    const json_t *p;
    json_array_foreach (peers, i, p) {
        const char *state = json_string_value (json_object_get (p, "state"));
        bool heard = strcmp (state, "never_heard") != 0;
        json_t *o = json_pack ("{s:O, s:O, s:s}", "region", json_object_get (p, "region"),
                               "name", json_object_get (p, "name"), "state", state);
        const json_t *ms = json_object_get (p, "last_heard_ms");
        json_object_set_new (o, "last_heard_ms", ms ? json_integer (json_integer_value (ms))
                                                    : json_null ());
        const char *sums[] = { "lag", "ahead" }, *keys[] = { "lag", "behind" };
        for (int k = 0; k < 2; k++) {
            const json_t *per = json_object_get (p, sums[k]), *v;
            const char *origin;
            json_int_t sum = 0;       /* saturating: a hostile heartbeat may announce 2^63 */
            json_object_foreach ((json_t *) per, origin, v) {
                json_int_t x = json_integer_value (v);
                sum = x > 0 && sum > INT64_MAX - x ? INT64_MAX : sum + (x > 0 ? x : 0);
            }
            json_object_set_new (o, keys[k], heard && per ? json_integer (sum) : json_null ());
        }
        json_array_append_new (arr, o);
    }
    return arr;
}

static json_t *sealing_json (rcn_node_t *n);
static rcn_kind_env_t node_env (const rcn_node_t *n);

/* status's "isolated": {"since_ms", "until_ms" (null: until rcctl drill rejoin)}, or null. */
static json_t *
isolated_json (const rcn_node_t *n)
{
    if (!n->isolated_since)
        return json_null ();
    return json_pack ("{s:I, s:o}", "since_ms", (json_int_t) n->isolated_since, "until_ms",
                      n->isolated_until ? json_integer ((json_int_t) n->isolated_until)
                                        : json_null ());
}

static json_t *
status_json (rcn_node_t *n)
{
    char hex[65];
    uint64_t head = 0;
    rcn_store_stats_t st = { 0 };
    const uint8_t *origin = rcn_keys_sign_public (n->keys);
    if (rcn_store_head (n->store, origin, &head, NULL) != RCN_OK
        || rcn_store_stats (n->store, &st) != RCN_OK)
        return rcn_control_error (RCN_EDB, "status: the store could not be read");
    int major, minor, patch;
    zmq_version (&major, &minor, &patch);
    char zv[32], region[16];
    snprintf (zv, sizeof zv, "%d.%d.%d", major, minor, patch);
    snprintf (region, sizeof region, "%06u", n->self->region);
    json_t *o = json_object ();
    json_object_set_new (o, "ok", json_true ());
    json_object_set_new (o, "region", json_string (region));
    json_object_set_new (o, "name", json_string (n->self->name));
    json_object_set_new (o, "origin", json_string (rcn_hex (origin, 32, hex)));
    json_object_set_new (o, "roster_hash", json_string (rcn_hex (rcn_roster_hash (n->roster), 32, hex)));
    json_object_set_new (o, "members", json_integer ((json_int_t) rcn_roster_count (n->roster)));
    json_object_set_new (o, "pid", json_integer ((json_int_t) getpid ()));
    json_object_set_new (o, "uptime_s", json_integer ((json_int_t) ((rcn_mono_ms () - n->started_mono) / 1000)));
    json_object_set_new (o, "own_seq", json_integer ((json_int_t) head));
    json_object_set_new (o, "hwm_signed", json_integer ((json_int_t) n->hwm.signed_seq));
    json_object_set_new (o, "hwm_committed", json_integer ((json_int_t) n->hwm.committed_seq));
    json_object_set_new (o, "blocked", json_boolean (n->blocked));
    json_object_set_new (o, "isolated", isolated_json (n));
    json_object_set_new (o, "entries", json_integer ((json_int_t) st.entries));
    json_object_set_new (o, "origins", json_integer ((json_int_t) st.origins));
    json_object_set_new (o, "invalid", json_integer ((json_int_t) st.invalid));
    json_object_set_new (o, "forks", json_integer ((json_int_t) st.forks));
    heads_ctx_t hc = { .n = n, .forked = json_array () };
    if (rcn_store_heads (n->store, head_one, &hc) != RCN_OK) {
        for (size_t m = 0; m < RCN_MAX_MEMBERS; m++)
            json_decref (hc.by_member[m]);
        json_decref (hc.forked);
        json_decref (o);
        return rcn_control_error (RCN_EDB, "status: the store could not be read");
    }
    json_object_set_new (o, "forked", hc.forked);
    /* What the kinds' views say, against now: one read transaction per kind (status_views.h). */
    uint64_t now = rcn_now_ms ();
    rcn_kind_env_t env = node_env (n);
    char vwhy[512] = "";
    json_t *lost = rcn_status_lost (n->store, &env, vwhy, sizeof vwhy);
    if (!lost)
        rcn_warn ("status: %s", vwhy);
    json_object_set_new (o, "heads", heads_json (n, &hc, lost));
    json_decref (lost);
    json_object_set_new (o, "map_size", json_integer ((json_int_t) st.map_size));
    json_object_set_new (o, "libzmq", json_string (zv));
    json_t *missing = json_array (), *nowhere = json_array ();
    uint64_t best = rcn_sync_best_known (n->sync, origin);
    for (uint64_t q = head + 1; n->blocked && q <= n->hwm.committed_seq && q <= head + 1000; q++) {
        json_array_append_new (missing, json_integer ((json_int_t) q));
        if (rcn_sync_heard_all (n->sync) && q > best)
            json_array_append_new (nowhere, json_integer ((json_int_t) q));
    }
    json_object_set_new (o, "missing_own", missing);
    json_object_set_new (o, "missing_nowhere", nowhere);
    if (n->blocked) {
        char why[512] = "";
        bool can = recover_check (n, head, false, why, sizeof why) == RCN_OK;
        json_object_set_new (o, "declare_lost", json_pack ("{s:b, s:s}", "possible", can,
                                                           "why", can ? "every peer has answered "
                                                           "and none holds them" : why));
    }
    json_t *peers = rcn_sync_peers_json (n->sync, rcn_mono_ms ());
    size_t up = 0, i;
    json_t *pj;
    json_array_foreach (peers, i, pj)
        up += strcmp (json_string_value (json_object_get (pj, "state")), "up") == 0;
    json_object_set_new (o, "peers", json_integer ((json_int_t) json_array_size (peers)));
    json_object_set_new (o, "peers_up", json_integer ((json_int_t) up));
    json_object_set_new (o, "peer_list", peer_list_json (peers));
    json_decref (peers);
    json_object_set_new (o, "now_ms", json_integer ((json_int_t) now));
    json_t *owed = rcn_status_owed (n->store, &env, now, vwhy, sizeof vwhy);
    json_object_set_new (o, "owed", owed ? owed : json_pack ("{s:s}", "error", vwhy));
    json_t *alerts = rcn_status_alerts (n->store, &env, now, vwhy, sizeof vwhy);
    json_object_set_new (o, "alerts", alerts ? alerts : json_pack ("{s:s}", "error", vwhy));
    json_t *round = rcn_status_round (n->store, &env, now, vwhy, sizeof vwhy);
    json_object_set_new (o, "round", round ? round : json_pack ("{s:s}", "error", vwhy));
    json_object_set_new (o, "sync", rcn_sync_stats_json (n->sync));
    json_object_set_new (o, "sealing", sealing_json (n));
    return o;
}

typedef struct {
    rcn_node_t *n;
    pending_t *p;
    int rc;
    char why[512];
} author_ctx_t;

/* What the kinds' callbacks get to know of this member. */
static rcn_kind_env_t
node_env (const rcn_node_t *n)
{
    return (rcn_kind_env_t) { .origin = rcn_keys_sign_public (n->keys), .region = n->self->region,
                              .roster = n->roster, .seal = n->seal };
}

static int
author_in_view (const rcn_view_t *v, void *ctx)
{
    author_ctx_t *a = ctx;
    rcn_kind_env_t env = node_env (a->n);
    a->p->entry_kind = a->p->kind->kind;
    a->rc = a->p->kind->author (v, &env, a->p->req.req, a->n->group_now, &a->p->entry_kind,
                                &a->p->body, &a->p->body_len, a->why, sizeof a->why);
    if (a->rc == RCN_OK && !rcn_kind_handles (a->p->kind, a->p->entry_kind)) {
        rcn_errf (a->why, sizeof a->why, "kind %s authored an entry of kind %u it does not handle",
                  a->p->kind->name, a->p->entry_kind);
        free (a->p->body);
        a->p->body = NULL;
        a->rc = RCN_ESTATE;
    }
    return RCN_OK;
}

/* Answers a request; one the node made itself (auto_author: no client) is only logged. */
static void
reply (rcn_node_t *n, rcn_ctl_req_t *r, json_t *resp)
{
    if (r->id_len == 0) {
        const char *kind = json_string_value (json_object_get (r->req, "kind"));
        const char *verb = json_string_value (json_object_get (r->req, "verb"));
        if (!json_is_true (json_object_get (resp, "ok")))
            rcn_warn ("could not write %s %s by itself: %s", kind ? kind : "?", verb ? verb : "?",
                      json_string_value (json_object_get (resp, "error")));
        json_decref (resp);
        json_decref (r->req);
        r->req = NULL;
        return;
    }
    if (rcn_control_reply (n->ctl, r, resp) != RCN_OK)
        rcn_debug ("control: a client left before its answer");
}

/* Which kind and status an authoring request asks for; RCN_EINVAL with why otherwise. */
static int
request_kind (const json_t *req, const rcn_kind_t **kind, int *status, char *why, size_t whylen)
{
    const json_t *kj = json_object_get (req, "kind"), *sj = json_object_get (req, "status");
    const char *kname = json_string_value (kj);
    *kind = rcn_kind_by_name (kname);
    *status = RCN_STATUS_ACTUAL;
    if (!*kind || !(*kind)->author) {
        rcn_errf (why, whylen, "kind \"%s\" is not one this node can author", kname ? kname : "");
        return RCN_EINVAL;
    }
    if (sj && (!json_is_string (sj) || (*status = rcn_status_parse (json_string_value (sj))) < 0)) {
        rcn_errf (why, whylen, "status: must be \"actual\", \"exercise\" or \"test\"");
        return RCN_EINVAL;
    }
    return RCN_OK;
}

/* When the requester stops waiting (mono ms): its "wait_ms" counted from its arrival, so that
 * whatever the node holds it for (the start-up listen, a peer's acknowledgement) it answers
 * within rcctl's own timeout. */
static uint64_t
request_deadline (const rcn_ctl_req_t *r)
{
    json_int_t ms = json_integer_value (json_object_get (r->req, "wait_ms"));
    if (ms <= 0 || ms > RCN_NODE_WAIT_MAX_MS)
        ms = RCN_CONTROL_TIMEOUT_MS - 500;
    return r->arrived + (uint64_t) ms;
}

static bool
ready_to_author (rcn_node_t *n)
{
    return rcn_sync_heard_all (n->sync) || rcn_mono_ms () - n->started_mono >= RCN_NODE_LISTEN_MS;
}

/* Checks an authoring request against the log and turns it into a body for the group; the
 * reply on refusal is sent here. */
static void
add_to_group (rcn_node_t *n, rcn_ctl_req_t *r)
{
    char why[512] = "";
    const rcn_kind_t *kind = NULL;
    int status;
    int rc = request_kind (r->req, &kind, &status, why, sizeof why);
    if (rc == RCN_OK && n->blocked) {
        rc = RCN_EBLOCKED;
        rcn_errf (why, sizeof why, "this member's log lacks own entries it committed before "
                  "(up to seq %llu): it authors nothing until they are back",
                  (unsigned long long) n->hwm.committed_seq);
    }
    if (rc != RCN_OK) {
        reply (n, r, rcn_control_error (rc, why));
        return;
    }
    if (!ready_to_author (n)) {
        if (n->n_early == RCN_NODE_EARLY_MAX) {
            reply (n, r, rcn_control_error (RCN_EBUSY, "the node has just started and is still "
                                            "listening to its peers; try again in a few seconds"));
            return;
        }
        n->early[n->n_early++] = *r;      /* signed once the peers are heard */
        r->req = NULL;
        return;
    }
    /* Own seqs beyond our log can exist only if this log was rolled back while the node was
     * stopped: ask once, after the start, and settle it before the first signature. (In
     * steady state our own head is authoritative; a peer cannot block us by lying.) */
    uint64_t head = 0, best = 0;
    if (!n->claims_settled
        && rcn_store_head (n->store, rcn_keys_sign_public (n->keys), &head, NULL) == RCN_OK
        && rcn_sync_own_claim (n->sync, head, rcn_mono_ms (), &best)) {
        rcn_errf (why, sizeof why, "peers hold this member's own entries up to seq %llu but its "
                  "log ends at %llu (restored or rolled back?): it takes them back before it "
                  "signs again", (unsigned long long) best, (unsigned long long) head);
        reply (n, r, rcn_control_error (RCN_EBLOCKED, why));
        return;
    }
    n->claims_settled = true;
    if (n->n_group > 0 && kind->depends && kind->depends (r->req)) {
        n->deferred = *r;               /* checked once the group before it is committed */
        n->has_deferred = true;
        r->req = NULL;
        return;
    }
    if (n->n_group == 0)
        n->group_now = rcn_now_ms ();
    pending_t *p = &n->group[n->n_group];
    memset (p, 0, sizeof *p);
    p->req = *r;
    r->req = NULL;
    p->kind = kind;
    p->status = (uint32_t) status;
    json_object_set_new (p->req.req, "status", json_integer (status));
    author_ctx_t a = { .n = n, .p = p, .rc = RCN_OK };
    rc = rcn_store_read (n->store, kind, author_in_view, &a);
    if (rc == RCN_OK)
        rc = a.rc;
    if (rc == RCN_OK) {
        n->n_group++;
        return;
    }
    free (p->body);
    p->body = NULL;
    if (rc == RCN_EDUP) {            /* an idempotent re-submission: a.why holds the hash */
        char region[16];
        snprintf (region, sizeof region, "%06u", n->self->region);
        reply (n, &p->req, json_pack ("{s:b, s:s, s:s, s:b, s:s, s:s}", "ok", 1, "hash", a.why,
                                      "kind", kind->name, "existing", 1, "region", region,
                                      "acknowledged", "local"));
        return;
    }
    reply (n, &p->req, rcn_control_error (rc, a.why[0] ? a.why : rcn_strerror (rc)));
}

static void
free_group (rcn_node_t *n)
{
    for (size_t i = 0; i < n->n_group; i++) {
        free (n->group[i].body);
        rcn_entry_destroy (&n->group[i].entry);
        json_decref (n->group[i].req.req);
    }
    memset (n->group, 0, sizeof n->group[0] * n->n_group);
    n->n_group = 0;
    n->group_signed = false;
    n->failing_since = 0;
}

static void
reply_group_error (rcn_node_t *n, int rc, const char *why)
{
    for (size_t i = 0; i < n->n_group; i++)
        reply (n, &n->group[i].req, rcn_control_error (rc, why));
    free_group (n);
}

/* Makes sure the signed half of the mark covers the group (raising it RCN_NODE_SIGN_AHEAD
 * beyond when it does not), then signs seq head+1.. for the group. */
static int
sign_group (rcn_node_t *n)
{
    const uint8_t *origin = rcn_keys_sign_public (n->keys);
    uint64_t head = 0;
    uint8_t prev[RCN_HASH_SIZE];
    char why[512] = "";
    int rc = rcn_store_head (n->store, origin, &head, prev);
    rcn_hwm_t m = { head + n->n_group + RCN_NODE_SIGN_AHEAD, n->hwm.committed_seq };
    if (rc == RCN_OK && head + n->n_group > n->hwm.signed_seq) {
        rc = rcn_hwm_write (n->conf.keys_path, origin, &m, why, sizeof why);
        if (rc == RCN_OK)
            n->hwm = m;
    }
    if (rc != RCN_OK) {
        rcn_error ("cannot raise the high-water mark: %s", why[0] ? why : rcn_strerror (rc));
        return rc;
    }
    for (size_t i = 0; i < n->n_group; i++) {
        pending_t *p = &n->group[i];
        rc = rcn_entry_sign (rcn_keys_sign_secret (n->keys), head + 1 + i, prev, n->group_now,
                             p->entry_kind, p->status, p->body, p->body_len, &p->entry);
        if (rc != RCN_OK)
            return rc;             /* only RCN_ETOOBIG/ENOMEM: author() bounds bodies */
        memcpy (prev, rcn_entry_hash (p->entry), RCN_HASH_SIZE);
    }
    n->group_signed = true;
    return RCN_OK;
}

/* Parks the answer to request r, whose entry is own seq `seq`, until a peer holds it, when the
 * request asked for that and there are peers to ask. Takes resp and r's request on success. */
static bool
wait_for_peer (rcn_node_t *n, rcn_ctl_req_t *r, uint64_t seq, json_t *resp)
{
    const char *wait = json_string_value (json_object_get (r->req, "wait"));
    if (!wait || strcmp (wait, "peer") != 0 || rcn_roster_count (n->roster) < 2
        || n->n_waiters == RCN_NODE_WAITERS_MAX)
        return false;
    waiter_t *w = &n->waiters[n->n_waiters++];
    w->deadline = request_deadline (r);
    w->req = *r;
    r->req = NULL;
    w->resp = resp;
    w->seq = seq;
    return true;
}

/* Answers r with resp now ("acknowledged": "local") or once a peer holds own seq `seq`. */
static void
answer_authored (rcn_node_t *n, rcn_ctl_req_t *r, uint64_t seq, json_t *resp)
{
    if (n->isolated_since) {
        /* No peer can hold it while this member talks to none: say so now, not at the timeout. */
        json_object_set_new (resp, "isolated", json_true ());
        json_object_set_new (resp, "note", json_string (ISOLATED_NOTE));
    }
    else if (wait_for_peer (n, r, seq, resp))
        return;
    json_object_set_new (resp, "acknowledged", json_string ("local"));
    if (rcn_roster_count (n->roster) < 2)
        json_object_set_new (resp, "alone", json_true ());   /* no peer to hold it */
    reply (n, r, resp);
}

/* Answers the waiters whose entry a peer now holds, or whose time is up. */
static void
answer_waiters (rcn_node_t *n, bool all)
{
    uint64_t now = rcn_mono_ms ();
    const uint8_t *origin = rcn_keys_sign_public (n->keys);
    size_t keep = 0;
    for (size_t i = 0; i < n->n_waiters; i++) {
        waiter_t *w = &n->waiters[i];
        uint32_t region = 0;
        bool held = rcn_sync_peer_holds (n->sync, origin, w->seq, &region);
        if (!held && !all && now < w->deadline) {
            n->waiters[keep++] = *w;
            continue;
        }
        json_object_set_new (w->resp, "acknowledged", json_string (held ? "peer" : "local"));
        if (!held && n->isolated_since) {
            json_object_set_new (w->resp, "isolated", json_true ());
            json_object_set_new (w->resp, "note", json_string (ISOLATED_NOTE));
        }
        if (held) {
            char code[16];
            snprintf (code, sizeof code, "%06u", region);
            json_object_set_new (w->resp, "held_by", json_string (code));
        }
        reply (n, &w->req, w->resp);
    }
    n->n_waiters = keep;
}

/* Commits the signed group in one synced transaction, records the commit in the mark and
 * answers the requesters. On failure the group is kept for a retry and the error returned. */
static int
commit_group (rcn_node_t *n)
{
    rcn_entry_t *entries[RCN_NODE_GROUP_MAX];
    int results[RCN_NODE_GROUP_MAX];
    for (size_t i = 0; i < n->n_group; i++)
        entries[i] = n->group[i].entry;
    int rc = rcn_store_append (n->store, entries, n->n_group, results);
    if (rc != RCN_OK) {
        rcn_error ("commit of %zu own entries failed: %s", n->n_group, rcn_strerror (rc));
        return rc;
    }
    /* Committed: record it beside the keys before anyone hears of these seqs. A retry after
     * a failure here finds the entries stored (RCN_EDUP) and tries the mark again. */
    char why[512] = "";
    rcn_hwm_t m = { n->hwm.signed_seq, n->group[n->n_group - 1].entry->h.seq };
    rc = rcn_hwm_write (n->conf.keys_path, rcn_keys_sign_public (n->keys), &m, why, sizeof why);
    if (rc != RCN_OK) {
        rcn_error ("cannot record the commit in the high-water mark: %s", why);
        return rc;
    }
    n->hwm = m;
    /* Peers first: the group's log lines and answers below cost a write each. */
    for (size_t i = 0; i < n->n_group; i++)
        if (results[i] == RCN_OK || results[i] == RCN_EDUP)
            rcn_sync_publish (n->sync, n->group[i].entry);
    char hex[65], region[16];
    snprintf (region, sizeof region, "%06u", n->self->region);
    for (size_t i = 0; i < n->n_group; i++) {
        pending_t *p = &n->group[i];
        json_t *resp;
        if (results[i] == RCN_OK || results[i] == RCN_EDUP) {
            rcn_info ("authored %s seq=%llu hash=%.16s%s", p->kind->name,
                      (unsigned long long) p->entry->h.seq, rcn_hex (p->entry->hash, 32, hex),
                      p->status ? " (exercise/test)" : "");
            resp = json_pack ("{s:b, s:s, s:s, s:I, s:s, s:s}", "ok", 1,
                              "hash", rcn_hex (p->entry->hash, 32, hex), "kind", p->kind->name,
                              "seq", (json_int_t) p->entry->h.seq, "region", region,
                              "status", rcn_status_name (p->status));
            answer_authored (n, &p->req, p->entry->h.seq, resp);
            continue;
        }
        else {
            /* Our own fresh entry refused by our own store: a bug, not bad input. */
            rcn_error ("own entry seq=%llu refused by the store: %s",
                       (unsigned long long) p->entry->h.seq, rcn_strerror (results[i]));
            resp = rcn_control_error (results[i], "the store refused this member's own entry");
        }
        reply (n, &p->req, resp);
    }
    rcn_debug ("committed a group of %zu", n->n_group);
    free_group (n);
    return RCN_OK;
}

/* What keeps this member from declaring its missing own seqs lost (DESIGN §5, rejoin);
 * RCN_OK when nothing does. Seqs an up peer holds are being taken back, never lost. Unless
 * forced, every peer must have been heard since the start and none may have announced more of
 * our seqs than we hold: a peer that is down now may hold them. */
static int
recover_check (rcn_node_t *n, uint64_t head, bool force, char *why, size_t whylen)
{
    uint64_t claimed = 0, best = rcn_sync_best_known (n->sync, rcn_keys_sign_public (n->keys));
    if (!n->blocked) {
        rcn_errf (why, whylen, "nothing to recover: this member's log holds every own seq it "
                  "committed (1..%llu)", (unsigned long long) head);
        return RCN_ESTATE;
    }
    if (rcn_sync_own_claim (n->sync, head, rcn_mono_ms (), &claimed)) {
        rcn_errf (why, whylen, "a peer that is up holds this member's seqs up to %llu: they are "
                  "being taken back, not lost (see rcctl status)", (unsigned long long) claimed);
        return RCN_EBLOCKED;
    }
    if (force)
        return RCN_OK;
    if (!rcn_sync_heard_all (n->sync)) {
        rcn_errf (why, whylen, "not every peer has been heard since this node started (see rcctl "
                  "peers): one that is down may hold seqs %llu..%llu; start it, or add --force "
                  "if it is gone for good", (unsigned long long) head + 1,
                  (unsigned long long) n->hwm.committed_seq);
        return RCN_EBLOCKED;
    }
    if (best > head) {
        rcn_errf (why, whylen, "a peer announced this member's seqs up to %llu and is down now: "
                  "start it again so they come back, or add --force if it is gone for good",
                  (unsigned long long) best);
        return RCN_EBLOCKED;
    }
    return RCN_OK;
}

/* rcctl recover --declare-lost: signs a Recovery declaring own seqs head+1..committed lost, at
 * seq committed+1 (no seq is signed twice: invariant 6), commits it and authors again. The
 * mark is raised before the signature and records the commit after it, as for any group. */
static void
recover_lost (rcn_node_t *n, rcn_ctl_req_t *r)
{
    const uint8_t *origin = rcn_keys_sign_public (n->keys);
    bool force = json_is_true (json_object_get (r->req, "force"));
    const char *reason = json_string_value (json_object_get (r->req, "reason"));
    uint64_t head = 0;
    uint8_t prev[RCN_HASH_SIZE];
    uint8_t *body = NULL;
    size_t len = 0;
    rcn_entry_t *e = NULL;
    char why[512] = "", hex[65], region[16];
    int res = RCN_OK, rc = rcn_store_head (n->store, origin, &head, prev);
    if (rc == RCN_OK)
        rc = recover_check (n, head, force, why, sizeof why);
    uint64_t first = head + 1, last = n->hwm.committed_seq, seq = last + 1;
    if (rc == RCN_OK)
        rc = rcn_recovery_body (first, last, reason, &body, &len, why, sizeof why);
    rcn_hwm_t m = { n->hwm.signed_seq > seq ? n->hwm.signed_seq : seq, n->hwm.committed_seq };
    if (rc == RCN_OK && m.signed_seq > n->hwm.signed_seq
        && (rc = rcn_hwm_write (n->conf.keys_path, origin, &m, why, sizeof why)) == RCN_OK)
        n->hwm = m;
    if (rc == RCN_OK)
        rc = rcn_entry_sign (rcn_keys_sign_secret (n->keys), seq, prev, rcn_now_ms (),
                             rcn_recovery_kind, RCN_STATUS_ACTUAL, body, len, &e);
    if (rc == RCN_OK && (rc = rcn_store_append (n->store, &e, 1, &res)) == RCN_OK && res != RCN_OK) {
        rcn_error ("own Recovery seq=%llu refused by the store: %s", (unsigned long long) seq,
                   rcn_strerror (res));
        rc = res;
    }
    m = (rcn_hwm_t) { n->hwm.signed_seq, seq };
    if (rc == RCN_OK && (rc = rcn_hwm_write (n->conf.keys_path, origin, &m, why, sizeof why)) == RCN_OK)
        n->hwm = m;
    free (body);
    if (rc != RCN_OK) {
        reply (n, r, rcn_control_error (rc, why[0] ? why : rcn_strerror (rc)));
        rcn_entry_destroy (&e);
        return;
    }
    n->blocked = false;
    n->claims_settled = true;
    rcn_warn ("declared own seqs %llu..%llu lost: Recovery seq=%llu hash=%.16s; authoring again",
              (unsigned long long) first, (unsigned long long) last, (unsigned long long) seq,
              rcn_hex (rcn_entry_hash (e), 32, hex));
    rcn_sync_publish (n->sync, e);
    snprintf (region, sizeof region, "%06u", n->self->region);
    json_t *resp = json_pack ("{s:b, s:s, s:s, s:I, s:s, s:s, s:I, s:I}", "ok", 1,
                              "hash", rcn_hex (e->hash, 32, hex), "kind", "recovery",
                              "seq", (json_int_t) seq, "region", region, "status", "actual",
                              "first_lost", (json_int_t) first, "last_lost", (json_int_t) last);
    rcn_entry_destroy (&e);
    answer_authored (n, r, seq, resp);
}

typedef struct {
    rcn_node_t *n;
    const rcn_kind_t *k;
    rcn_entry_t *e;
    json_t *out;
    char why[512];
} open_ctx_t;

static int
open_in_view (const rcn_view_t *v, void *ctx)
{
    open_ctx_t *o = ctx;
    rcn_kind_env_t env = node_env (o->n);
    o->out = o->k->open (v, &env, o->e, o->why, sizeof o->why);
    return RCN_OK;
}

/* rcctl's `show`: what an entry sealed for this member, opened by its kind with this member's
 * sealing secrets, for a named operator and a stated reason. The opening is recorded in the
 * local audit (audit.h), fsynced, BEFORE the details leave the node: an opening that cannot be
 * recorded is refused. A refusal (not addressed here) opens nothing and records nothing. The
 * log line names the entry and the operator, never what the entry holds. */
static json_t *
open_sealed (rcn_node_t *n, const json_t *req)
{
    const char *hex = json_string_value (json_object_get (req, "hash"));
    const char *who = json_string_value (json_object_get (req, "operator"));
    const char *reason = json_string_value (json_object_get (req, "reason"));
    uint8_t hash[RCN_HASH_SIZE];
    open_ctx_t o = { .n = n };
    char msg[800], why[512];
    if (!hex || strlen (hex) != 2 * RCN_HASH_SIZE || rcn_unhex (hex, hash, sizeof hash) != RCN_OK)
        return rcn_control_error (RCN_EINVAL, "open: \"hash\" must be 64 hex digits");
    if (!who || !*who)
        who = n->conf.operator_name[0] ? n->conf.operator_name : NULL;
    if (!who)
        return rcn_control_error (RCN_EINVAL, "open: no operator: give --operator NAME, or set "
                                  "operator in node.conf (every opening is recorded by name)");
    if (rcn_name_check (who, why, sizeof why) != RCN_OK) {
        snprintf (msg, sizeof msg, "open: operator: %s", why);
        return rcn_control_error (RCN_EINVAL, msg);
    }
    if (!reason)
        return rcn_control_error (RCN_EINVAL, "open: a reason is required (--reason \"why\"): "
                                  "every opening is recorded in the local audit");
    if (rcn_audit_check_reason (reason, why, sizeof why) != RCN_OK) {
        snprintf (msg, sizeof msg, "open: %s", why);
        return rcn_control_error (RCN_EINVAL, msg);
    }
    int rc = rcn_store_get_by_hash (n->store, hash, &o.e);
    if (rc == RCN_ENOTFOUND)
        return rcn_control_error (rc, "open: this member holds no entry with that hash");
    if (rc != RCN_OK)
        return rcn_control_error (rc, "open: the log could not be read");
    o.k = rcn_kind_by_id (o.e->h.kind);
    json_t *resp;
    if (!o.k || !o.k->open)
        resp = rcn_control_error (RCN_EINVAL, "open: that entry's kind seals nothing");
    else if ((rc = rcn_store_read (n->store, o.k, open_in_view, &o)) != RCN_OK)
        resp = rcn_control_error (rc, "open: the log could not be read");
    else if (!o.out)
        resp = rcn_control_error (RCN_EPERM, o.why[0] ? o.why : "not sealed for this member");
    else {
        const rcn_member_t *m = rcn_roster_by_origin (n->roster, o.e->h.origin);
        rcn_audit_t *a = NULL;
        rcn_audit_rec_t rec;
        rc = rcn_audit_open (n->conf.dir, &a, why, sizeof why);
        if (rc == RCN_OK)
            rc = rcn_audit_append (a, who, o.k->name, hash, m ? m->region : 0, reason,
                                   rcn_now_ms (), &rec, why, sizeof why);
        rcn_audit_destroy (&a);
        if (rc != RCN_OK) {
            rcn_error ("refused to open %s entry %.16s: the opening could not be recorded: %s",
                       o.k->name, hex, why);
            snprintf (msg, sizeof msg, "open: refused, the opening could not be recorded in the "
                      "audit (nothing was opened): %s", why);
            json_decref (o.out);
            resp = rcn_control_error (rc, msg);
        }
        else {
            rcn_info ("opened the sealed details of %s entry %.16s for operator %s (audit seq %llu)",
                      o.k->name, hex, who, (unsigned long long) rec.seq);
            resp = json_pack ("{s:b, s:o, s:I}", "ok", 1, "opened", o.out,
                              "audit_seq", (json_int_t) rec.seq);
        }
    }
    rcn_entry_destroy (&o.e);
    return resp;
}

/* ---- sealing keys: rotation, retention, their status (DESIGN §7) ---------------------------- */

typedef struct {
    rcn_node_t *n;
    json_t *out;
} sealing_ctx_t;

static int
sealing_in_view (const rcn_view_t *v, void *ctx)
{
    sealing_ctx_t *sc = ctx;
    rcn_kind_env_t env = node_env (sc->n);
    sc->out = rcn_sealkey_status (v, &env, rcn_now_ms ());
    return sc->out ? RCN_OK : RCN_ENOMEM;
}

/* status's "sealing": own current and next pair (published?), who is late with its next key. */
static json_t *
sealing_json (rcn_node_t *n)
{
    sealing_ctx_t sc = { .n = n };
    const rcn_policy_t *p = rcn_roster_policy (n->roster);
    if (rcn_store_read (n->store, &rcn_kind_sealkey, sealing_in_view, &sc) != RCN_OK || !sc.out) {
        json_decref (sc.out);
        return json_pack ("{s:s}", "error", "the sealing keys' view could not be read");
    }
    json_object_set_new (sc.out, "period_days", json_integer ((json_int_t) p->seal_period_days));
    json_object_set_new (sc.out, "retention_days", json_integer ((json_int_t) p->retention_days));
    return sc.out;
}

/* Destroys the sealing secrets expired at at_ms (seal.h), logging each period (never a key). */
static int
retention_do (rcn_node_t *n, uint64_t at_ms, json_t **rep, char *why, size_t whylen)
{
    int rc = rcn_seal_retention_run (n->seal, n->conf.keys_path, at_ms,
                                     rcn_roster_policy (n->roster)->retention_days, rep, why, whylen);
    size_t i;
    const json_t *d;
    json_array_foreach (json_object_get (*rep, "destroyed"), i, d)
        rcn_warn ("retention: destroyed the sealing secret of period %s .. %s (expired %s): what "
                  "was sealed under it can no longer be opened", json_string_value (json_object_get (d, "from")),
                  json_string_value (json_object_get (d, "until")),
                  json_string_value (json_object_get (d, "expires")));
    if (rc != RCN_OK)
        rcn_error ("retention: %s", why);
    return rc;
}

/* rcctl retention run: {"op": "retention", "at_ms": N (optional, default now)}. */
static json_t *
retention_op (rcn_node_t *n, const json_t *req)
{
    const json_t *aj = json_object_get (req, "at_ms");
    if (aj && (!json_is_integer (aj) || json_integer_value (aj) <= 0))
        return rcn_control_error (RCN_EINVAL, "retention: \"at_ms\" must be a positive integer "
                                  "(Unix ms)");
    json_t *rep = NULL;
    char why[512] = "";
    int rc = retention_do (n, aj ? (uint64_t) json_integer_value (aj) : rcn_now_ms (), &rep, why,
                          sizeof why);
    if (rc != RCN_OK) {
        json_decref (rep);
        return rcn_control_error (rc, why);
    }
    json_object_set_new (rep, "ok", json_true ());
    json_object_set_new (rep, "by", json_string ("node"));
    return rep;
}

/* Makes the current and next period's sealing pairs when missing (looked for each second; no
 * I/O when nothing is missing) and asks the kinds at once to publish new ones; runs retention
 * at start and then daily. */
static void
seal_upkeep (rcn_node_t *n)
{
    uint64_t mono = rcn_mono_ms ();
    if (mono < n->seal_next)
        return;
    n->seal_next = mono + 1000;
    const rcn_policy_t *p = rcn_roster_policy (n->roster);
    char why[512] = "";
    size_t made = 0;
    if (rcn_seal_ensure (n->seal, n->conf.keys_path, rcn_now_ms (),
                         (uint64_t) p->seal_period_days * RCN_SEAL_DAY_MS, &made, why,
                         sizeof why) != RCN_OK) {
        rcn_error ("sealing keys: cannot make this or the next period's pair: %s", why);
        n->seal_next = mono + 60000;
    } else if (made) {
        rcn_info ("sealing keys: made %zu new pair(s) for this and the next period", made);
        n->auto_next = 0;                /* publish them now (auto_author) */
    }
    if (mono >= n->retention_next) {
        n->retention_next = mono + RCN_SEAL_DAY_MS;
        json_t *rep = NULL;
        if (retention_do (n, rcn_now_ms (), &rep, why, sizeof why) != RCN_OK)
            n->retention_next = mono + 3600000;
        json_decref (rep);
    }
}

/* ---- drills: a member acts out its own outage (rcctl drill isolate / rejoin) ---------------- */

/* Ends a drill isolation: binds and dials again (sync.h), logs why and how long it lasted. */
static void
drill_end (rcn_node_t *n, const char *why)
{
    uint64_t mono = rcn_mono_ms ();
    rcn_sync_isolate (n->sync, false, mono);
    rcn_info ("drill: isolation ended (%s) after %llu s: talking to peers again; anti-entropy "
              "catches up both ways", why, (unsigned long long) (mono - n->isolated_mono) / 1000);
    n->isolated_since = n->isolated_until = n->isolated_end = 0;
}

/* rcctl drill: {"op": "drill", "verb": "isolate", "for_ms": N (optional)} or {"verb":
 * "rejoin"}. Isolating an isolated member sets its end anew. The state lives in memory only:
 * a restart of rcnode ends it. */
static json_t *
drill_op (rcn_node_t *n, const json_t *req)
{
    const char *verb = json_string_value (json_object_get (req, "verb"));
    const json_t *fj = json_object_get (req, "for_ms");
    uint64_t mono = rcn_mono_ms (), now = rcn_now_ms ();
    if (verb && strcmp (verb, "rejoin") == 0) {
        if (!n->isolated_since)
            return rcn_control_error (RCN_ESTATE, "drill rejoin: this member is not isolated "
                                      "(rcctl drill isolate starts a drill)");
        uint64_t lasted = mono - n->isolated_mono;
        drill_end (n, "rcctl drill rejoin");
        return json_pack ("{s:b, s:n, s:I}", "ok", 1, "isolated", "lasted_ms", (json_int_t) lasted);
    }
    if (!verb || strcmp (verb, "isolate") != 0)
        return rcn_control_error (RCN_EINVAL, "drill: \"verb\" must be \"isolate\" or \"rejoin\"");
    if (fj && (!json_is_integer (fj) || json_integer_value (fj) <= 0
               || (uint64_t) json_integer_value (fj) > RCN_NODE_DRILL_MAX_MS))
        return rcn_control_error (RCN_EINVAL, "drill isolate: \"for_ms\" must be a whole number "
                                  "of ms, 1 ms to 7 days");
    uint64_t for_ms = fj ? (uint64_t) json_integer_value (fj) : 0;
    bool again = n->isolated_since != 0;
    if (!again) {
        n->isolated_since = now;
        n->isolated_mono = mono;
        rcn_sync_isolate (n->sync, true, mono);
    }
    n->isolated_until = for_ms ? now + for_ms : 0;
    n->isolated_end = for_ms ? mono + for_ms : 0;
    char until[128] = "until rcctl drill rejoin";
    if (for_ms) {
        char t[40];
        rcn_time_format (n->isolated_until, t, sizeof t);
        snprintf (until, sizeof until, "for %llu s, until %s",
                  (unsigned long long) (for_ms + 999) / 1000, t);
    }
    if (again)
        rcn_info ("drill: still isolated, now %s", until);
    else {
        rcn_warn ("drill: isolated %s: sending and receiving nothing (no entries, heartbeats or "
                  "pulls, none served); local writes are held here only; rcctl drill rejoin "
                  "ends it", until);
        if (n->n_waiters)
            answer_waiters (n, true);     /* no peer can confirm theirs now */
    }
    return json_pack ("{s:b, s:b, s:o}", "ok", 1, "again", again, "isolated", isolated_json (n));
}

static void
handle_request (rcn_node_t *n, rcn_ctl_req_t *r)
{
    const char *op = json_string_value (json_object_get (r->req, "op"));
    json_t *resp, *stats = NULL;
    if (strcmp (op, "author") == 0 && !n->group_signed) {
        add_to_group (n, r);
        return;
    }
    if (strcmp (op, "author") == 0)
        resp = rcn_control_error (RCN_EBUSY, "the node is retrying a failed commit; nothing was "
                                  "written for this request, try again shortly");
    else if (strcmp (op, "status") == 0)
        resp = status_json (n);
    else if (strcmp (op, "open") == 0)
        resp = open_sealed (n, r->req);
    else if (strcmp (op, "peers") == 0) {
        stats = rcn_sync_stats_json (n->sync);
        resp = json_pack ("{s:b, s:o, s:O}", "ok", 1,
                          "peers", rcn_sync_peers_json (n->sync, rcn_mono_ms ()),
                          "outsiders_refused", json_object_get (stats, "zap_refused"));
    }
    else if (strcmp (op, "retention") == 0)
        resp = retention_op (n, r->req);
    else if (strcmp (op, "drill") == 0)
        resp = drill_op (n, r->req);
    else if (strcmp (op, "recover") == 0) {
        recover_lost (n, r);
        return;
    }
    else if (strcmp (op, "ping") == 0)
        resp = json_pack ("{s:b, s:I}", "ok", 1, "pid", (json_int_t) getpid ());
    else {
        char why[128];
        snprintf (why, sizeof why, "unknown op \"%.40s\" (ping, status, peers, author, recover, "
                  "open, retention, drill)", op);
        resp = rcn_control_error (RCN_EINVAL, why);
    }
    json_decref (stats);
    reply (n, r, resp);
}

/* Takes queued requests until the group is full or a request must wait for the next group. */
static void
drain_control (rcn_node_t *n)
{
    while (n->n_group < RCN_NODE_GROUP_MAX && !n->has_deferred) {
        rcn_ctl_req_t r;
        int rc = rcn_control_recv (n->ctl, &r);
        if (rc == RCN_ETIMEOUT)
            break;
        if (rc == RCN_OK)
            handle_request (n, &r);
    }
}

/* Puts the requests held since the start into groups, in the order they came; answers those
 * whose requester has stopped waiting (nothing was signed for them). */
static void
take_early (rcn_node_t *n)
{
    uint64_t now = rcn_mono_ms ();
    size_t keep = 0;
    for (size_t k = 0; k < n->n_early; k++) {
        if (now < request_deadline (&n->early[k]))
            n->early[keep++] = n->early[k];
        else
            reply (n, &n->early[k], rcn_control_error (RCN_EBUSY, "the node has just started "
                   "and is still listening to its peers; nothing was written, try again"));
    }
    n->n_early = keep;
    if (!ready_to_author (n) || n->group_signed)
        return;
    size_t i = 0;
    while (i < n->n_early && n->n_group < RCN_NODE_GROUP_MAX && !n->has_deferred)
        add_to_group (n, &n->early[i++]);
    memmove (n->early, n->early + i, (n->n_early - i) * sizeof *n->early);
    n->n_early -= i;
}

typedef struct {
    rcn_node_t *n;
    const rcn_kind_t *k;
    json_t *reqs;
    int rc;
    char why[256];
} auto_ctx_t;

static int
auto_in_view (const rcn_view_t *v, void *ctx)
{
    auto_ctx_t *a = ctx;
    rcn_kind_env_t env = node_env (a->n);
    a->rc = a->k->auto_author (v, &env, rcn_now_ms (), a->reqs, a->why, sizeof a->why);
    return RCN_OK;
}

/* What the node writes by itself (kind.h auto_author: its SealKey, a receipt for each notice
 * addressed to it): asked when the log has changed, or every 5 s, while the node may author
 * and no group is open. Each proposal goes through add_to_group like an operator's request;
 * its answer is only logged. Proposals past a full group wait for the next pass, which the
 * group's commit brings about. */
static void
auto_author (rcn_node_t *n)
{
    if (n->blocked || n->group_signed || n->n_group || n->has_deferred || n->n_early
        || !ready_to_author (n))
        return;
    uint64_t now = rcn_mono_ms ();
    rcn_store_stats_t st;
    if (rcn_store_stats (n->store, &st) != RCN_OK
        || (st.entries == n->auto_entries && now < n->auto_next && rcn_now_ms () < n->round_due))
        return;
    n->auto_entries = st.entries;
    n->auto_next = now + 5000;
    rcn_slot_t next;
    n->round_due = rcn_slot_next (rcn_roster_policy (n->roster), rcn_now_ms (), &next) == RCN_OK
                 ? next.slot_ms : UINT64_MAX;
    json_t *reqs = json_array ();
    for (size_t i = 0; rcn_kinds[i]; i++) {
        if (!rcn_kinds[i]->auto_author)
            continue;
        auto_ctx_t a = { .n = n, .k = rcn_kinds[i], .reqs = reqs };
        if (rcn_store_read (n->store, rcn_kinds[i], auto_in_view, &a) != RCN_OK || a.rc != RCN_OK)
            rcn_warn ("%s: could not look for what to write by itself: %s", rcn_kinds[i]->name,
                      a.why[0] ? a.why : rcn_strerror (a.rc));
    }
    size_t i;
    json_t *q;
    json_array_foreach (reqs, i, q) {
        if (n->n_group == RCN_NODE_GROUP_MAX || n->has_deferred || n->blocked)
            break;
        rcn_ctl_req_t r = { .id_len = 0, .arrived = now, .req = json_deep_copy (q) };
        if (!r.req)
            break;
        json_object_set_new (r.req, "op", json_string ("author"));
        if (!json_is_string (json_object_get (r.req, "status")))
            json_object_set_new (r.req, "status", json_string ("actual"));
        json_object_set_new (r.req, "wait", json_string ("local"));
        add_to_group (n, &r);       /* takes r.req, or answers (logs) and frees it */
    }
    json_decref (reqs);
}

/* A blocked member unblocks once its own entries are back up to the committed mark. */
static void
check_rejoin (rcn_node_t *n)
{
    if (!n->blocked)
        return;
    uint64_t head = 0;
    if (rcn_store_head (n->store, rcn_keys_sign_public (n->keys), &head, NULL) != RCN_OK
        || head < n->hwm.committed_seq)
        return;
    n->blocked = false;
    rcn_info ("rejoined: own entries 1..%llu are back from peers; authoring again",
              (unsigned long long) head);
}

int
rcn_node_run (rcn_node_t *n)
{
    while (!n->stopping) {
        if (!n->group_signed && n->n_group == 0 && n->has_deferred) {
            n->has_deferred = false;
            add_to_group (n, &n->deferred);
        }
        if (n->n_early)
            take_early (n);
        int timeout = n->n_group > 0 || (n->has_deferred && !n->group_signed) ? 0 : 100;
        zmq_pollitem_t items[1 + 2 * RCN_MAX_MEMBERS + 2];
        items[0] = (zmq_pollitem_t) { n->ctl, 0, ZMQ_POLLIN, 0 };
        size_t ns = rcn_sync_poll_items (n->sync, items + 1, sizeof items / sizeof *items - 1);
        int rc = zmq_poll (items, (int) (1 + ns), timeout);
        if (rc < 0 && errno != EINTR) {
            rcn_error ("zmq_poll: %s", zmq_strerror (errno));
            return RCN_EIO;
        }
        uint64_t now = rcn_mono_ms ();
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            drain_control (n);
        if (rc > 0)
            rcn_sync_handle (n->sync, items + 1, ns, now);
        rcn_sync_tick (n->sync, now);
        if (n->isolated_end && now >= n->isolated_end)
            drill_end (n, "its --for ran out");
        check_rejoin (n);
        seal_upkeep (n);
        auto_author (n);
        if (n->n_waiters)
            answer_waiters (n, false);
        if (n->n_group > 0 && !n->group_signed) {
            rc = sign_group (n);
            if (rc != RCN_OK)
                reply_group_error (n, rc, "the node could not sign (see its log)");
        }
        if (n->group_signed && commit_group (n) != RCN_OK) {
            uint64_t now = rcn_mono_ms ();
            if (!n->failing_since)
                n->failing_since = now;
            else if (now - n->failing_since > COMMIT_RETRY_MS) {
                rcn_error ("commits have failed for %d s: giving up; the next start signs the "
                           "%zu unpublished seqs anew", COMMIT_RETRY_MS / 1000, n->n_group);
                return RCN_EIO;
            }
        }
    }
    rcn_info ("stopping");
    return RCN_OK;
}

/* At a clean stop, gives back the seqs reserved for signing (RCN_NODE_SIGN_AHEAD) that no
 * commit used: the mark comes down to the log's head, as the next start would bring it (and
 * never below the committed half), so a stopped member's mark reads {head, head}. */
static void
release_reserved (rcn_node_t *n)
{
    uint64_t head = 0;
    if (!n->store || !n->keys
        || rcn_store_head (n->store, rcn_keys_sign_public (n->keys), &head, NULL) != RCN_OK)
        return;
    rcn_hwm_t m = { head > n->hwm.committed_seq ? head : n->hwm.committed_seq,
                    n->hwm.committed_seq };
    if (m.signed_seq >= n->hwm.signed_seq)
        return;
    char why[512] = "";
    if (rcn_hwm_write (n->conf.keys_path, rcn_keys_sign_public (n->keys), &m, why,
                       sizeof why) != RCN_OK)
        rcn_warn ("could not give back the seqs reserved for signing (the next start does): %s",
                  why);
    else
        n->hwm = m;
}

void
rcn_node_destroy (rcn_node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_node_t *n = *self_p;
    if (n->n_group)
        reply_group_error (n, RCN_ESTATE, n->group_signed
                           ? "the node stopped before confirming this entry: it may or may not "
                             "be in the log (look with rcctl before sending it again)"
                           : "the node is stopping: nothing was written for this request");
    if (n->n_waiters)
        answer_waiters (n, true);
    for (size_t i = 0; i < n->n_early; i++)
        reply (n, &n->early[i], rcn_control_error (RCN_ESTATE, "the node is stopping: nothing "
                                                   "was written for this request"));
    n->n_early = 0;
    if (n->has_deferred) {
        reply (n, &n->deferred, rcn_control_error (RCN_ESTATE, "the node is stopping: nothing "
                                                   "was written for this request"));
        n->has_deferred = false;
    }
    release_reserved (n);
    if (n->ctl) {
        zmq_close (n->ctl);
        unlink (n->sock_path);
    }
    rcn_sync_destroy (&n->sync);
    if (n->zctx)
        zmq_ctx_term (n->zctx);
    rcn_store_destroy (&n->store);
    rcn_trace_destroy (&n->trace);
    rcn_keys_destroy (&n->keys);
    rcn_seal_destroy (&n->seal);
    rcn_roster_destroy (&n->roster);
    if (n->lock_fd >= 0)
        close (n->lock_fd);
    free (n);
    *self_p = NULL;
}
