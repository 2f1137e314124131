/* transport.c — CURVE sockets behind our own ZAP allowlist, and their monitors (transport.h).
 *
 * The one design decision: CURVE without ZAP admits anyone, so admission is made impossible to
 * forget rather than documented. The ZAP handler is bound before rcn_zap_start returns, it
 * fails closed (only CURVE, only our domain, only listed keys), and rcn_transport_bind refuses
 * to bind in a context where it is not running. What is left to the caller is the order at
 * the end: close the servers, then stop ZAP. */
#include "rcn/transport.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <zmq.h>

#include <sodium.h>

#include "rcn/clock.h"
#include "rcn/codec.h"
#include "rcn/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_SEEN 64                      /* keys remembered for log rate limiting */
#define ZAP_LOG_EVERY_MS 60000
#define MON_LOG_EVERY_MS 10000
#define MON_PREFIX "inproc://rcn-monitor-"
#define LABEL_MAX 48
/* libzmq checks ZMQ_MAXMSGSIZE against the encrypted CURVE MESSAGE command, not the message:
 * "\x07MESSAGE" (8), nonce (8), MAC (16), flags (1). Measured on 4.3.4; the test pins it. */
#define CURVE_OVERHEAD 33

/* One refusal source and when it was last logged; used by the ZAP thread only. */
typedef struct {
    uint8_t id[32];                      /* the CURVE key, or a hash of mechanism and address */
    uint64_t logged_at;
    uint64_t quiet;                      /* refusals not logged since */
    bool used;
} zap_seen_t;

struct rcn_zap {
    void *zctx;
    void *rep;                           /* the thread's once started */
    void *stop_thr, *stop_main;          /* a PAIR pipe: one message means "stop" */
    pthread_t thread;
    uint8_t (*keys)[32];
    size_t n;
    _Atomic uint64_t admitted, refused;
    zap_seen_t seen[ZAP_SEEN];
    rcn_zap_t *next;                     /* in the registry */
};

/* Contexts with a running handler, so that bind can refuse the others. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static rcn_zap_t *registry;
static atomic_ulong serial;              /* names private inproc endpoints */

/* ---- ZAP --------------------------------------------------------------------------------- */

/* Copies frame m into buf (size len) as a NUL-terminated string with anything unprintable
 * replaced, for logging and comparing text frames. */
static void
frame_text (zmq_msg_t *m, char *buf, size_t len)
{
    size_t n = zmq_msg_size (m);
    const unsigned char *p = zmq_msg_data (m);
    if (n > len - 1)
        n = len - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char) p[i] : '?';
    buf[n] = '\0';
}

static bool
key_listed (const rcn_zap_t *z, const uint8_t *key)
{
    for (size_t i = 0; i < z->n; i++)
        if (memcmp (z->keys[i], key, 32) == 0)
            return true;
    return false;
}

/* Whether to log a refusal from `id` now; *quiet gets the refusals held back since the last
 * line. Remembers the ZAP_SEEN most recent sources, forgetting the longest quiet first. */
static bool
zap_should_log (rcn_zap_t *z, const uint8_t id[32], uint64_t *quiet)
{
    uint64_t now = rcn_mono_ms ();
    zap_seen_t *slot = NULL, *oldest = &z->seen[0];
    for (size_t i = 0; i < ZAP_SEEN; i++) {
        zap_seen_t *s = &z->seen[i];
        if (s->used && memcmp (s->id, id, 32) == 0) {
            slot = s;
            break;
        }
        if (!s->used || (oldest->used && s->logged_at < oldest->logged_at))
            oldest = s;
    }
    if (slot && now - slot->logged_at < ZAP_LOG_EVERY_MS) {
        slot->quiet++;
        return false;
    }
    if (!slot) {
        slot = oldest;
        memcpy (slot->id, id, 32);
        slot->used = true;
        slot->quiet = 0;
    }
    *quiet = slot->quiet;
    slot->quiet = 0;
    slot->logged_at = now;
    return true;
}

static void
zap_log_refusal (rcn_zap_t *z, const char *mech, const uint8_t *key, const char *address,
                 const char *reason)
{
    uint8_t id[32];
    if (key)
        memcpy (id, key, 32);
    else {
        crypto_generichash_state st;
        crypto_generichash_init (&st, NULL, 0, sizeof id);
        crypto_generichash_update (&st, (const uint8_t *) mech, strlen (mech) + 1);
        crypto_generichash_update (&st, (const uint8_t *) address, strlen (address));
        crypto_generichash_final (&st, id, sizeof id);
    }
    uint64_t quiet = 0;
    if (!zap_should_log (z, id, &quiet))
        return;
    char z85[41] = "";
    if (key)
        rcn_z85_key (key, z85);
    char more[64] = "";
    if (quiet)
        snprintf (more, sizeof more, " (%llu more not logged)", (unsigned long long) quiet);
    /* A public key's prefix only: enough to match a roster line, and no secret exists here. */
    rcn_warn ("zap: refused %s client%s%.8s from %s: %s%s", mech, key ? " key " : "", z85,
              address, reason, more);
}

/* Answers one request on the REP socket. -1 when the context is terminating. */
static int
zap_serve_one (rcn_zap_t *z)
{
    enum { VERSION, REQUEST_ID, DOMAIN, ADDRESS, IDENTITY, MECHANISM, CREDENTIAL, NFRAMES };
    zmq_msg_t f[NFRAMES];
    size_t got = 0, total = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, z->rep, 0) < 0) {
            zmq_msg_close (&m);
            if (errno == EINTR)
                continue;                /* the same frame again: REP must answer */
            for (size_t i = 0; i < got; i++)
                zmq_msg_close (&f[i]);
            return errno == ETERM ? -1 : 0;
        }
        more = zmq_msg_more (&m);
        total++;
        if (got < NFRAMES)
            f[got++] = m;            /* moved: closed below */
        else
            zmq_msg_close (&m);
    }

    char version[8] = "", domain[64] = "", address[64] = "?", mech[16] = "?";
    if (got > VERSION)
        frame_text (&f[VERSION], version, sizeof version);
    if (got > DOMAIN)
        frame_text (&f[DOMAIN], domain, sizeof domain);
    if (got > ADDRESS)
        frame_text (&f[ADDRESS], address, sizeof address);
    if (got > MECHANISM)
        frame_text (&f[MECHANISM], mech, sizeof mech);

    const uint8_t *key = NULL;
    const char *reason = NULL;
    if (strcmp (version, "1.0") != 0 || got < CREDENTIAL)
        reason = "malformed ZAP request";
    else if (strcmp (mech, "CURVE") != 0)
        reason = "only CURVE is accepted";
    else if (total != NFRAMES || zmq_msg_size (&f[CREDENTIAL]) != 32)
        reason = "malformed CURVE credential";
    else {
        key = zmq_msg_data (&f[CREDENTIAL]);
        if (strcmp (domain, RCN_ZAP_DOMAIN) != 0)
            reason = "the server socket's ZAP domain is not \"" RCN_ZAP_DOMAIN "\"";
        else if (!key_listed (z, key))
            reason = "key not in the roster";
    }

    char user[41] = "";
    if (reason) {
        atomic_fetch_add (&z->refused, 1);
        zap_log_refusal (z, mech, key, address, reason);
    }
    else {
        atomic_fetch_add (&z->admitted, 1);
        rcn_z85_key (key, user);
        rcn_debug ("zap: admitted key %.8s from %s", user, address);
    }

    /* Reply: version, request id (echoed), status code, status text, user id, metadata. */
    const void *rid = got > REQUEST_ID ? zmq_msg_data (&f[REQUEST_ID]) : "";
    size_t rid_len = got > REQUEST_ID ? zmq_msg_size (&f[REQUEST_ID]) : 0;
    const char *code = reason ? "400" : "200";
    const char *text = reason ? "not admitted" : "OK";
    int rc = 0;
    if (zmq_send (z->rep, "1.0", 3, ZMQ_SNDMORE) < 0
        || zmq_send (z->rep, rid, rid_len, ZMQ_SNDMORE) < 0
        || zmq_send (z->rep, code, 3, ZMQ_SNDMORE) < 0
        || zmq_send (z->rep, text, strlen (text), ZMQ_SNDMORE) < 0
        || zmq_send (z->rep, user, strlen (user), ZMQ_SNDMORE) < 0
        || zmq_send (z->rep, "", 0, 0) < 0)
        rc = errno == ETERM ? -1 : 0;
    for (size_t i = 0; i < got; i++)
        zmq_msg_close (&f[i]);
    return rc;
}

static void *
zap_thread (void *arg)
{
    rcn_zap_t *z = arg;
    for (;;) {
        zmq_pollitem_t items[2] = {
            { z->rep, 0, ZMQ_POLLIN, 0 },
            { z->stop_thr, 0, ZMQ_POLLIN, 0 },
        };
        if (zmq_poll (items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;                       /* ETERM: the context is shutting down */
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if ((items[0].revents & ZMQ_POLLIN) && zap_serve_one (z) < 0)
            break;
    }
    /* Unbinding an inproc endpoint is synchronous, closing is not: once destroy has joined
     * this thread, the endpoint is free for a new handler and no new handshake reaches this
     * one (those already waiting for an answer time out after ZMQ_HANDSHAKE_IVL). */
    (void) zmq_unbind (z->rep, ZAP_ENDPOINT);
    zmq_close (z->rep);
    zmq_close (z->stop_thr);
    return NULL;
}

static bool
registered_locked (void *zctx)
{
    for (rcn_zap_t *r = registry; r; r = r->next)
        if (r->zctx == zctx)
            return true;
    return false;
}

bool
rcn_zap_running (void *zctx)
{
    pthread_mutex_lock (&registry_lock);
    bool yes = registered_locked (zctx);
    pthread_mutex_unlock (&registry_lock);
    return yes;
}

int
rcn_zap_start (void *zctx, const uint8_t (*keys)[32], size_t n, rcn_zap_t **out,
               char *why, size_t whylen)
{
    assert (zctx && out && (keys || n == 0));
    *out = NULL;
    int rc = RCN_ENOMEM;
    int linger = 0;
    char stop_ep[64];
    rcn_zap_t *z = calloc (1, sizeof *z);
    if (!z || (n && !(z->keys = malloc (n * sizeof *z->keys)))) {
        rcn_errf (why, whylen, "zap: out of memory");
        goto fail;
    }
    if (n)
        memcpy (z->keys, keys, n * sizeof *z->keys);
    z->n = n;
    z->zctx = zctx;
    atomic_init (&z->admitted, 0);
    atomic_init (&z->refused, 0);

    pthread_mutex_lock (&registry_lock);
    rc = RCN_EIO;
    if (!(z->rep = zmq_socket (zctx, ZMQ_REP))
        || !(z->stop_thr = zmq_socket (zctx, ZMQ_PAIR))
        || !(z->stop_main = zmq_socket (zctx, ZMQ_PAIR))) {
        rcn_errf (why, whylen, "zap: zmq_socket: %s", zmq_strerror (errno));
        goto fail_locked;
    }
    zmq_setsockopt (z->rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (z->stop_thr, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (z->stop_main, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind (z->rep, ZAP_ENDPOINT) != 0) {
        if (errno == EADDRINUSE) {
            rc = RCN_EBUSY;
            rcn_errf (why, whylen, "zap: this context already has a ZAP handler (%s is bound)",
                      ZAP_ENDPOINT);
        }
        else
            rcn_errf (why, whylen, "zap: cannot bind %s: %s", ZAP_ENDPOINT, zmq_strerror (errno));
        goto fail_locked;
    }
    /* A serial, not the address: a freed handler's name may not be released yet. */
    snprintf (stop_ep, sizeof stop_ep, "inproc://rcn-zap-stop-%lu", atomic_fetch_add (&serial, 1));
    if (zmq_bind (z->stop_thr, stop_ep) != 0 || zmq_connect (z->stop_main, stop_ep) != 0) {
        rcn_errf (why, whylen, "zap: %s: %s", stop_ep, zmq_strerror (errno));
        goto fail_locked;
    }
    /* pthread_create is a full barrier: handing the sockets to the thread is allowed. */
    if ((errno = pthread_create (&z->thread, NULL, zap_thread, z)) != 0) {
        rcn_errf (why, whylen, "zap: cannot start its thread: %s", strerror (errno));
        goto fail_locked;
    }
    z->next = registry;
    registry = z;
    pthread_mutex_unlock (&registry_lock);
    *out = z;
    return RCN_OK;

fail_locked:
    pthread_mutex_unlock (&registry_lock);
    if (z->stop_main)
        zmq_close (z->stop_main);
    if (z->stop_thr)
        zmq_close (z->stop_thr);
    if (z->rep)
        zmq_close (z->rep);
fail:
    if (z)
        free (z->keys);
    free (z);
    return rc;
}

void
rcn_zap_destroy (rcn_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rcn_zap_t *z = *self_p;
    pthread_mutex_lock (&registry_lock);
    for (rcn_zap_t **p = &registry; *p; p = &(*p)->next)
        if (*p == z) {
            *p = z->next;
            break;
        }
    pthread_mutex_unlock (&registry_lock);
    /* Fails with ETERM when the context is shutting down: the thread has left already. */
    (void) zmq_send (z->stop_main, "", 0, ZMQ_DONTWAIT);
    pthread_join (z->thread, NULL);
    zmq_close (z->stop_main);
    free (z->keys);
    free (z);
    *self_p = NULL;
}

void
rcn_zap_counts (const rcn_zap_t *z, uint64_t *admitted, uint64_t *refused)
{
    assert (z);
    if (admitted)
        *admitted = atomic_load (&z->admitted);
    if (refused)
        *refused = atomic_load (&z->refused);
}

/* ---- Sockets ----------------------------------------------------------------------------- */

void
rcn_transport_opts_default (rcn_transport_opts_t *o)
{
    assert (o);
    o->max_msg = RCN_TRANSPORT_MSG_MAX;
    o->sndhwm = 1000;
    o->rcvhwm = 1000;
    o->source = NULL;
}

int
rcn_transport_dial_endpoint (const char *endpoint, const char *source, char *buf, size_t len,
                             char *why, size_t whylen)
{
    assert (endpoint && buf);
    int n;
    if (!source || !*source)
        n = snprintf (buf, len, "%s", endpoint);
    else if (strncmp (endpoint, "tcp://", 6) != 0) {
        rcn_errf (why, whylen, "%s: a source address applies to tcp:// endpoints only", endpoint);
        return RCN_EINVAL;
    }
    else
        n = snprintf (buf, len, "tcp://%s:0;%s", source, endpoint + 6);
    if (n < 0 || (size_t) n >= len) {
        rcn_errf (why, whylen, "%s: endpoint too long", endpoint);
        buf[0] = '\0';
        return RCN_EINVAL;
    }
    return RCN_OK;
}

int
rcn_transport_source_check (const char *source, char *why, size_t whylen)
{
    assert (source);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    if (inet_pton (AF_INET, source, &a.sin_addr) != 1) {
        rcn_errf (why, whylen, "source address '%s' is not an IPv4 address", source);
        return RCN_EINVAL;
    }
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rcn_errf (why, whylen, "source address %s: socket: %s", source, strerror (errno));
        return RCN_EIO;
    }
    int rc = RCN_OK;
    if (bind (fd, (const struct sockaddr *) &a, sizeof a) != 0) {
        if (errno == EADDRNOTAVAIL)
            rcn_errf (why, whylen, "%s is not an address of this machine (or of its network "
                      "namespace): %s", source, strerror (errno));
        else
            rcn_errf (why, whylen, "%s: cannot bind a socket to it: %s", source, strerror (errno));
        rc = RCN_EIO;
    }
    close (fd);
    return rc;
}

/* Sets one option; on failure fills `why` with the endpoint and the option's name. */
static int
set_opt (void *s, int opt, const char *name, const void *v, size_t len, const char *ep,
         char *why, size_t whylen)
{
    if (zmq_setsockopt (s, opt, v, len) == 0)
        return RCN_OK;
    rcn_errf (why, whylen, "%s: cannot set %s: %s", ep, name, zmq_strerror (errno));
    return RCN_EIO;
}

#define SET_INT(s, opt, val, ep, why, whylen) \
    set_opt ((s), (opt), #opt, &(int) { (val) }, sizeof (int), (ep), (why), (whylen))

/* What every rcn socket gets, whichever side it is on. */
static int
set_common (void *s, const rcn_transport_opts_t *o, const char *ep, char *why, size_t whylen)
{
    int rc;
    int64_t max = o->max_msg + CURVE_OVERHEAD;
    if ((rc = set_opt (s, ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &max, sizeof max, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_SNDHWM, o->sndhwm, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_RCVHWM, o->rcvhwm, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_LINGER, 0, ep, why, whylen))
        /* A peer that vanishes without a FIN (cable, NAT, power) is noticed in seconds. */
        || (rc = SET_INT (s, ZMQ_TCP_KEEPALIVE, 1, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_TCP_KEEPALIVE_IDLE, 10, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_TCP_KEEPALIVE_INTVL, 2, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_TCP_KEEPALIVE_CNT, 3, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_HEARTBEAT_IVL, 1000, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_HEARTBEAT_TIMEOUT, 3000, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_HEARTBEAT_TTL, 3000, ep, why, whylen))
        /* An unauthenticated connection may not hold a slot for libzmq's default 30 s. */
        || (rc = SET_INT (s, ZMQ_HANDSHAKE_IVL, 5000, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_RECONNECT_IVL, 100, ep, why, whylen))
        || (rc = SET_INT (s, ZMQ_RECONNECT_IVL_MAX, 2000, ep, why, whylen)))
        return rc;
    return RCN_OK;
}

int
rcn_transport_bind (void *zctx, int type, const char *endpoint, const uint8_t curve_secret[32],
                    const rcn_transport_opts_t *o, void **out, char *why, size_t whylen)
{
    assert (zctx && endpoint && curve_secret && out);
    assert (type == ZMQ_PUB || type == ZMQ_ROUTER);
    *out = NULL;
    rcn_transport_opts_t def;
    if (!o) {
        rcn_transport_opts_default (&def);
        o = &def;
    }
    assert (o->max_msg > 0 && o->max_msg <= INT64_MAX - CURVE_OVERHEAD);
    if (!rcn_zap_running (zctx)) {
        rcn_errf (why, whylen, "%s: refusing to bind a CURVE server without a ZAP handler in its "
                  "context (it would admit anyone): start rcn_zap_start first", endpoint);
        return RCN_ESTATE;
    }
    int rc = RCN_EIO;
    void *s = zmq_socket (zctx, type);
    if (!s) {
        rcn_errf (why, whylen, "%s: zmq_socket: %s", endpoint, zmq_strerror (errno));
        return RCN_EIO;
    }
    if ((rc = set_common (s, o, endpoint, why, whylen))
        || (rc = SET_INT (s, ZMQ_CURVE_SERVER, 1, endpoint, why, whylen))
        || (rc = set_opt (s, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", curve_secret, 32,
                          endpoint, why, whylen))
        || (rc = set_opt (s, ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", RCN_ZAP_DOMAIN,
                          strlen (RCN_ZAP_DOMAIN), endpoint, why, whylen)))
        goto fail;
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
    /* Draft in 4.3: fail closed even if the handler were gone. */
    if ((rc = SET_INT (s, ZMQ_ZAP_ENFORCE_DOMAIN, 1, endpoint, why, whylen)))
        goto fail;
#endif
    if (type == ZMQ_ROUTER && (rc = SET_INT (s, ZMQ_ROUTER_MANDATORY, 0, endpoint, why, whylen)))
        goto fail;
    if (zmq_bind (s, endpoint) != 0) {
        int err = errno;
        if (err == EADDRINUSE) {
            rc = RCN_EBUSY;
            rcn_errf (why, whylen, "cannot bind %s: address in use (another node or program "
                      "listens there)", endpoint);
        }
        else if (err == EADDRNOTAVAIL) {
            rc = RCN_EIO;
            rcn_errf (why, whylen, "cannot bind %s: not a local address of this machine",
                      endpoint);
        }
        else if (err == EINVAL || err == EPROTONOSUPPORT || err == ENOCOMPATPROTO) {
            rc = RCN_EINVAL;
            rcn_errf (why, whylen, "cannot bind %s: not a usable endpoint (%s)", endpoint,
                      zmq_strerror (err));
        }
        else {
            rc = RCN_EIO;
            rcn_errf (why, whylen, "cannot bind %s: %s", endpoint, zmq_strerror (err));
        }
        goto fail;
    }
    *out = s;
    return RCN_OK;

fail:
    zmq_close (s);
    return rc;
}

int
rcn_transport_connect (void *zctx, int type, const char *endpoint,
                       const uint8_t server_public[32], const uint8_t my_public[32],
                       const uint8_t my_secret[32], const rcn_transport_opts_t *o,
                       void **out, char *why, size_t whylen)
{
    assert (zctx && endpoint && server_public && my_public && my_secret && out);
    assert (type == ZMQ_SUB || type == ZMQ_DEALER);
    *out = NULL;
    rcn_transport_opts_t def;
    if (!o) {
        rcn_transport_opts_default (&def);
        o = &def;
    }
    assert (o->max_msg > 0 && o->max_msg <= INT64_MAX - CURVE_OVERHEAD);
    char dial[RCN_TRANSPORT_ENDPOINT_MAX];
    int rc = rcn_transport_dial_endpoint (endpoint, o->source, dial, sizeof dial, why, whylen);
    if (rc != RCN_OK)
        return rc;
    endpoint = dial;
    void *s = zmq_socket (zctx, type);
    if (!s) {
        rcn_errf (why, whylen, "%s: zmq_socket: %s", endpoint, zmq_strerror (errno));
        return RCN_EIO;
    }
    /* IMMEDIATE keeps a DEALER from queueing requests for a peer it is not connected to. Not
     * on SUB: with it, libzmq 4.3 ends the pipe at once when the connection drops (a ZMTP
     * heartbeat timeout after a SIGSTOP, say), and a two-frame message whose first frame we
     * had already read then aborts libzmq (fq.cpp: assertion !_more; cluster/drill found it). */
    if ((rc = set_common (s, o, endpoint, why, whylen))
        || (rc = SET_INT (s, ZMQ_IMMEDIATE, type == ZMQ_DEALER, endpoint, why, whylen))
        || (rc = set_opt (s, ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", server_public, 32,
                          endpoint, why, whylen))
        || (rc = set_opt (s, ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", my_public, 32,
                          endpoint, why, whylen))
        || (rc = set_opt (s, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", my_secret, 32,
                          endpoint, why, whylen)))
        goto fail;
    if (type == ZMQ_SUB && (rc = set_opt (s, ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", "", 0,
                                          endpoint, why, whylen)))
        goto fail;
    if (zmq_connect (s, endpoint) != 0) {
        int err = errno;
        rc = err == EINVAL || err == EPROTONOSUPPORT || err == ENOCOMPATPROTO ? RCN_EINVAL : RCN_EIO;
        rcn_errf (why, whylen, "cannot connect to %s: %s", endpoint, zmq_strerror (err));
        goto fail;
    }
    *out = s;
    return RCN_OK;

fail:
    zmq_close (s);
    return rc;
}

/* ---- Monitors ---------------------------------------------------------------------------- */

int
rcn_transport_monitor (void *zctx, void *sock, const char *label, void **mon_out)
{
    assert (zctx && sock && label && mon_out);
    *mon_out = NULL;
    /* The label rides in the endpoint's name, where drain reads it back (ZMQ_LAST_ENDPOINT):
     * the monitor stays a plain socket the event loop can poll and close. */
    char ep[sizeof MON_PREFIX + 24 + LABEL_MAX];
    int len = snprintf (ep, sizeof ep, MON_PREFIX "%lu-", atomic_fetch_add (&serial, 1));
    for (size_t i = 0; label[i] && i < LABEL_MAX; i++) {
        char ch = label[i];
        ep[len++] = ch >= 0x20 && ch < 0x7f ? ch : '_';
    }
    ep[len] = '\0';
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED
                 | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor (sock, ep, events) != 0) {
        rcn_error ("%s: zmq_socket_monitor: %s", label, zmq_strerror (errno));
        return RCN_EIO;
    }
    void *mon = zmq_socket (zctx, ZMQ_PAIR);
    int linger = 0, hwm = 10000;
    if (!mon || zmq_setsockopt (mon, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_setsockopt (mon, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0
        || zmq_connect (mon, ep) != 0) {
        rcn_error ("%s: cannot connect its monitor: %s", label, zmq_strerror (errno));
        if (mon)
            zmq_close (mon);
        (void) zmq_socket_monitor (sock, NULL, 0);
        return RCN_EIO;
    }
    /* A client dialled before it could be monitored: its first handshake may be over, and
     * libzmq never retries a refused one, so a missed refusal would leave the link dead for
     * good. Dial again, now that every event is seen. */
    int type = 0;
    size_t type_len = sizeof type;
    char last[RCN_TRANSPORT_ENDPOINT_MAX] = "";
    size_t last_len = sizeof last;
    if (zmq_getsockopt (sock, ZMQ_TYPE, &type, &type_len) == 0
        && (type == ZMQ_SUB || type == ZMQ_DEALER)
        && zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, last, &last_len) == 0 && last[0]
        && (zmq_disconnect (sock, last) != 0 || zmq_connect (sock, last) != 0)) {
        rcn_error ("%s: cannot dial %s again: %s", label, last, zmq_strerror (errno));
        zmq_close (mon);
        (void) zmq_socket_monitor (sock, NULL, 0);
        return RCN_EIO;
    }
    *mon_out = mon;
    return RCN_OK;
}

enum { LOG_AUTH, LOG_OTHER, LOG_DISC };

/* Whether to log an event of kind k now (at most one line per kind per MON_LOG_EVERY_MS);
 * *quiet gets the number held back since the last line. */
static bool
mon_should_log (rcn_transport_counts_t *c, int k, uint64_t *quiet)
{
    uint64_t now = rcn_mono_ms ();
    if (c->log_at_[k] && now - c->log_at_[k] < MON_LOG_EVERY_MS) {
        c->log_quiet_[k]++;
        return false;
    }
    *quiet = c->log_quiet_[k];
    c->log_quiet_[k] = 0;
    c->log_at_[k] = now ? now : 1;
    return true;
}

static const char *
protocol_error_name (uint32_t v)
{
    switch (v) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: return "security mechanism mismatch";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: return "cryptographic error (wrong keys?)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE: return "key exchange failed";
    default:
        return v >= ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED ? "ZAP handler error" : "ZMTP protocol error";
    }
}

void
rcn_transport_monitor_drain (void *mon, rcn_transport_counts_t *c)
{
    assert (mon && c);
    char label[LABEL_MAX + 1] = "?", last[sizeof MON_PREFIX + 24 + LABEL_MAX + 8];
    size_t last_len = sizeof last;
    if (zmq_getsockopt (mon, ZMQ_LAST_ENDPOINT, last, &last_len) == 0
        && strncmp (last, MON_PREFIX, strlen (MON_PREFIX)) == 0) {
        const char *dash = strchr (last + strlen (MON_PREFIX), '-');
        if (dash)
            snprintf (label, sizeof label, "%s", dash + 1);
    }
    for (;;) {
        zmq_msg_t head, addr;
        zmq_msg_init (&head);
        if (zmq_msg_recv (&head, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&head);
            return;
        }
        bool well_formed = zmq_msg_size (&head) == 6 && zmq_msg_more (&head);
        uint16_t event = 0;
        uint32_t value = 0;
        if (well_formed) {
            memcpy (&event, zmq_msg_data (&head), 2);
            memcpy (&value, (const uint8_t *) zmq_msg_data (&head) + 2, 4);
        }
        /* The endpoint frame travels with the head (one message): it is there already. */
        int more = zmq_msg_more (&head);
        char ep[RCN_TRANSPORT_ENDPOINT_MAX] = "?";
        bool first = true;
        while (more) {
            zmq_msg_init (&addr);
            if (zmq_msg_recv (&addr, mon, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&addr);
                break;
            }
            if (first)
                frame_text (&addr, ep, sizeof ep);
            first = false;
            more = zmq_msg_more (&addr);
            zmq_msg_close (&addr);
        }
        zmq_msg_close (&head);
        if (!well_formed)
            continue;

        uint64_t quiet = 0;
        char more_txt[64] = "";
        switch (event) {
        case ZMQ_EVENT_CONNECTED:
            c->connected++;
            rcn_debug ("%s: connected to %s", label, ep);
            break;
        case ZMQ_EVENT_ACCEPTED:
            c->accepted++;
            rcn_debug ("%s: accepted a connection on %s", label, ep);
            break;
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            c->handshake_succeeded++;
            rcn_debug ("%s: handshake done on %s", label, ep);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            c->disconnected++;
            if (mon_should_log (c, LOG_DISC, &quiet)) {
                if (quiet)
                    snprintf (more_txt, sizeof more_txt, " (%llu more not logged)",
                              (unsigned long long) quiet);
                rcn_info ("%s: connection on %s closed (peer gone, timed out, refused, or sent "
                          "a message over the size cap)%s", label, ep, more_txt);
            }
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            c->handshake_failed_auth++;
            if (mon_should_log (c, LOG_AUTH, &quiet)) {
                if (quiet)
                    snprintf (more_txt, sizeof more_txt, " (%llu more not logged)",
                              (unsigned long long) quiet);
                rcn_warn ("%s: handshake on %s refused by ZAP (status %u)%s", label, ep,
                          (unsigned) value, more_txt);
            }
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            c->handshake_failed_other++;
            if (mon_should_log (c, LOG_OTHER, &quiet)) {
                if (quiet)
                    snprintf (more_txt, sizeof more_txt, " (%llu more not logged)",
                              (unsigned long long) quiet);
                if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
                    rcn_warn ("%s: handshake on %s failed: %s (0x%x)%s", label, ep,
                              protocol_error_name (value), (unsigned) value, more_txt);
                else
                    rcn_warn ("%s: handshake on %s failed: %s%s", label, ep,
                              zmq_strerror ((int) value), more_txt);
            }
            break;
        default:
            break;
        }
    }
}
