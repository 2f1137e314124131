/* transport.h — ZeroMQ sockets between members (DESIGN.md §5): CURVE on every TCP socket, a
 * ZAP handler that admits only the roster's CURVE keys, keepalives and heartbeats, size caps,
 * and socket monitors that count what happened to connections.
 *
 * CURVE alone authenticates the SERVER to its clients, not the other way round: libzmq 4.3
 * admits ANY client with a valid CURVE keypair unless a ZAP handler answers at
 * inproc://zeromq.zap.01 in the server's context (ZMQ_ZAP_ENFORCE_DOMAIN, which would fail
 * closed, is declared by zmq.h only under ZMQ_BUILD_DRAFT_API; used when it is). So, per zmq
 * context:
 *
 *   1. rcn_zap_start         before the first rcn_transport_bind (bind refuses otherwise);
 *   2. rcn_transport_bind / rcn_transport_connect, rcn_transport_monitor;
 *   3. zmq_close every socket bound here, THEN rcn_zap_destroy: a server that outlives its
 *      ZAP handler admits anyone again;
 *   4. zmq_ctx_term.
 *
 * Sockets and monitors are plain libzmq sockets: one thread uses each (the event loop). */
#ifndef RCN_TRANSPORT_H
#define RCN_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcn/entry.h"
#include "rcn/err.h"

#define RCN_ZAP_DOMAIN "rcn"

/* Default cap on one inbound message part (ZMQ_MAXMSGSIZE applies per frame): room for a
 * chunk of entries in one gap-repair reply. A peer that sends more is disconnected. */
#define RCN_TRANSPORT_MSG_MAX ((int64_t) 16 * RCN_ENTRY_MAX)

/* ---- ZAP (RFC 27) ------------------------------------------------------------------------ */

typedef struct rcn_zap rcn_zap_t;

/* Binds a ZAP handler at inproc://zeromq.zap.01 in zctx and serves it from a thread of its
 * own. The endpoint is bound when this returns, so every CURVE server bound afterwards in
 * zctx consults it. A request is admitted ("200", User-Id = the client's key in Z85, readable
 * with zmq_msg_gets (msg, "User-Id")) only when its mechanism is CURVE, its ZAP domain is
 * RCN_ZAP_DOMAIN and the client's key is one of keys[0..n); anything else gets "400" — a
 * socket that forgot its domain fails closed. Refusals are logged (warn) at most once a
 * minute per key (or per mechanism and address), with the key's Z85 prefix and the address.
 * The keys are copied. RCN_EBUSY when zctx already has a ZAP handler, RCN_ENOMEM, RCN_EIO,
 * with `why`. Caller owns *out (rcn_zap_destroy). */
int rcn_zap_start (void *zctx, const uint8_t (*keys)[32], size_t n, rcn_zap_t **out,
                   char *why, size_t whylen) RCN_MUST;

/* Stops the thread (joins it), unbinds, frees, nulls *self_p; accepts NULL and a context
 * already shut down. When it returns the endpoint is free (rcn_zap_start may run again) and
 * no new handshake reaches the old handler. Close the CURVE servers of the context first
 * (see the top). Call it before zmq_ctx_term, like closing any socket. */
void rcn_zap_destroy (rcn_zap_t **self_p);

/* Requests admitted and refused so far. Atomic counters: any thread may call this. */
void rcn_zap_counts (const rcn_zap_t *z, uint64_t *admitted, uint64_t *refused);

/* Whether an rcn ZAP handler is running in zctx. */
bool rcn_zap_running (void *zctx);

/* ---- Sockets ----------------------------------------------------------------------------- */

/* max_msg is the largest inbound message PART (libzmq caps each frame, not a multipart
 * message) in plaintext bytes; the socket's ZMQ_MAXMSGSIZE is set 33 bytes higher because
 * libzmq applies it to the encrypted CURVE frame. Keep it >= 1 KiB: handshake commands are
 * capped too. */
typedef struct {
    int64_t max_msg;         /* largest inbound message part, bytes (see above) */
    int sndhwm;              /* ZMQ_SNDHWM, messages (0: no limit) */
    int rcvhwm;              /* ZMQ_RCVHWM, messages */
    const char *source;      /* client side: the IPv4 address connections leave from (see
                                rcn_transport_dial_endpoint); NULL or "": any. Borrowed for the
                                call only */
} rcn_transport_opts_t;

/* max_msg RCN_TRANSPORT_MSG_MAX, sndhwm and rcvhwm 1000 (libzmq's), no source. Memory held for
 * one peer can reach rcvhwm * max_msg: lower either for a node with many peers. */
void rcn_transport_opts_default (rcn_transport_opts_t *o);

/* Room for any endpoint rcn_transport_dial_endpoint makes (and ZMQ_LAST_ENDPOINT reads). */
#define RCN_TRANSPORT_ENDPOINT_MAX 256

/* The endpoint a client socket dials for `endpoint` (tcp://HOST:PORT): itself, or, with a
 * source address, ZeroMQ's source form "tcp://SOURCE:0;HOST:PORT" (zmq_tcp(7); port 0: any),
 * so that the connection leaves from SOURCE. Use the same string to zmq_disconnect and dial
 * again. RCN_EINVAL with `why` when endpoint is not tcp:// or the result does not fit in len
 * (RCN_TRANSPORT_ENDPOINT_MAX is enough for a roster endpoint). */
int rcn_transport_dial_endpoint (const char *endpoint, const char *source, char *buf, size_t len,
                                 char *why, size_t whylen) RCN_MUST;

/* Whether source (an IPv4 address) is one of this machine's: a TCP socket can be bound to it.
 * Dialling from an address the machine lacks fails in libzmq's I/O thread, silently and for
 * ever, so a node checks once at its start. RCN_EINVAL (not an IPv4 address) or RCN_EIO with
 * `why` naming the address and the reason. */
int rcn_transport_source_check (const char *source, char *why, size_t whylen) RCN_MUST;

/* Every socket gets, before bind or connect: ZMQ_MAXMSGSIZE, HWMs (from o; NULL: defaults),
 * ZMQ_LINGER 0, TCP keepalive (idle 10 s, interval 2 s, 3 probes), ZMTP heartbeats (every
 * 1 s, timeout and TTL 3 s), ZMQ_HANDSHAKE_IVL 5 s, reconnect 100 ms backing off to 2 s.
 *
 * Server side: a CURVE server (type ZMQ_PUB or ZMQ_ROUTER) with secret key curve_secret, ZAP
 * domain RCN_ZAP_DOMAIN, bound at endpoint (passed to zmq_bind as is: "tcp://127.0.0.1:*"
 * picks a free port, read it back with ZMQ_LAST_ENDPOINT). A ROUTER silently drops messages
 * to peers that are gone (ZMQ_ROUTER_MANDATORY 0): the caller treats any send as best effort.
 * RCN_ESTATE when no rcn ZAP handler runs in zctx (CURVE without ZAP admits anyone);
 * RCN_EBUSY when the address is in use; RCN_EINVAL for a malformed endpoint; RCN_EIO (e.g.
 * not a local address); each with `why` naming the endpoint. Caller owns *out (zmq_close). */
int rcn_transport_bind (void *zctx, int type, const char *endpoint, const uint8_t curve_secret[32],
                        const rcn_transport_opts_t *o, void **out, char *why, size_t whylen) RCN_MUST;

/* Client side: a CURVE client (type ZMQ_SUB, subscribed to everything, or ZMQ_DEALER) that
 * dials endpoint (from o->source when set: rcn_transport_dial_endpoint), expects the server
 * key server_public and presents my_public / my_secret, with ZMQ_IMMEDIATE
 * (nothing is queued for a peer until its handshake is done: a DEALER send fails with EAGAIN
 * instead). Connects in the background and reconnects after a lost connection. But after a
 * REFUSED handshake (the peer's ZAP said no, a wrong server key, a wrong mechanism: a monitor's
 * handshake_failed_auth or a PROTOCOL failure) libzmq 4.3 drops that endpoint for good: the
 * owner must zmq_disconnect and zmq_connect again (or make a new socket) after a back-off.
 * RCN_EINVAL for a malformed endpoint, RCN_EIO, with `why`. Caller owns *out (zmq_close). */
int rcn_transport_connect (void *zctx, int type, const char *endpoint,
                           const uint8_t server_public[32], const uint8_t my_public[32],
                           const uint8_t my_secret[32], const rcn_transport_opts_t *o,
                           void **out, char *why, size_t whylen) RCN_MUST;

/* ---- Monitors ---------------------------------------------------------------------------- */

/* Running totals for one monitored socket; zero it once, then drain into it. The counts are
 * lower bounds when the monitor is drained rarely: libzmq drops events past its queue's HWM.
 *
 * In libzmq 4.3 every connection that ends — handshake refused, peer gone, heartbeat timeout,
 * or an inbound message over max_msg — raises DISCONNECTED, whose value is only the file
 * descriptor: a message over the cap cannot be told apart from a peer that went away. Sessions
 * lost after a good handshake are therefore about disconnected - handshake_failed_*. For a
 * bound socket the endpoint that libzmq reports is the bound one, not the peer's address (the
 * ZAP handler logs that). */
typedef struct {
    uint64_t connected;               /* ZMQ_EVENT_CONNECTED (client: TCP up) */
    uint64_t accepted;                /* ZMQ_EVENT_ACCEPTED (server: TCP up) */
    uint64_t handshake_succeeded;     /* ZMQ_EVENT_HANDSHAKE_SUCCEEDED: the peer is in */
    uint64_t disconnected;            /* ZMQ_EVENT_DISCONNECTED: see above */
    uint64_t handshake_failed_auth;   /* ZAP said no (server), or the server said no (client) */
    uint64_t handshake_failed_other;  /* NO_DETAIL or PROTOCOL: wrong mechanism, wrong keys,
                                         not ZMTP, handshake timeout */
    /* Private to rcn_transport_monitor_drain: log rate limiting. */
    uint64_t log_at_[3], log_quiet_[3];
} rcn_transport_counts_t;

/* Starts monitoring sock (connects, accepts, handshakes, disconnects) and returns in *mon_out
 * a ZMQ_PAIR socket that receives the events: poll it for ZMQ_POLLIN in the event loop and
 * drain it. label (e.g. "pub", "sync 320000") names the socket in log lines. RCN_EIO when
 * libzmq refuses. A client socket (SUB, DEALER) is dialled again once the monitor listens,
 * so that its monitor sees its first handshake too (a refusal missed there would never be
 * retried); call it right after rcn_transport_connect. Caller owns *mon_out: zmq_close it
 * before or after sock. */
int rcn_transport_monitor (void *zctx, void *sock, const char *label, void **mon_out) RCN_MUST;

/* Reads every event pending on mon without blocking and adds them to *c. Logs refused
 * handshakes (warn) and disconnects (info) with the label and endpoint, at most one line per
 * kind every 10 s per counts (the next line says how many were not logged). */
void rcn_transport_monitor_drain (void *mon, rcn_transport_counts_t *c);

#endif
