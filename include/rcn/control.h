/* control.h — the local control channel between rcctl and rcnode.
 *
 * rcnode binds a ZeroMQ ROUTER at ipc://DIR/control.sock; the socket file is created 0600 in
 * a 0700 node dir, so only the node's user can connect. Each message is one JSON object:
 * a request {"op": …, …} and its answer {"ok": true, …} or {"ok": false, "error": "…",
 * "code": "EINVAL"}. Every call has a timeout; messages are capped at 1 MiB. The ROUTER lets
 * the node take many requests at once and commit their entries as one group. */
#ifndef RCN_CONTROL_H
#define RCN_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rcn/err.h"

#define RCN_CONTROL_MSG_MAX (1 << 20)
#define RCN_CONTROL_TIMEOUT_MS 5000

/* One received request; `req` is owned by the holder (json_decref). */
typedef struct {
    uint8_t id[256];
    size_t id_len;
    json_t *req;
    uint64_t arrived;               /* mono ms when it was received */
} rcn_ctl_req_t;

/* Binds the ROUTER at ipc://sock_path in zmq context ctx (any stale socket file is removed:
 * the caller holds the node lock). *out is the socket; close with zmq_close. */
int rcn_control_bind (void *ctx, const char *sock_path, void **out, char *why, size_t whylen) RCN_MUST;

/* Receives one request without waiting. RCN_OK; RCN_ETIMEOUT when none is queued;
 * RCN_EINVAL when a request was malformed (it has been answered with an error already). */
int rcn_control_recv (void *router, rcn_ctl_req_t *out) RCN_MUST;

/* Sends `resp` (a reference is stolen) to the requester of r and frees r->req. */
int rcn_control_reply (void *router, rcn_ctl_req_t *r, json_t *resp) RCN_MUST;

/* An error answer: {"ok": false, "error": why, "code": name of rc}. New reference. */
json_t *rcn_control_error (int rc, const char *why);

/* Client: sends req to the node whose control socket is sock_path and waits at most
 * timeout_ms for the answer. Caller owns *resp. RCN_ENOTFOUND (no socket: node not
 * running), RCN_ETIMEOUT (no answer), RCN_EIO, RCN_EINVAL (answer not JSON), with `why`. */
int rcn_ctl_call (const char *sock_path, const json_t *req, int timeout_ms, json_t **resp,
                  char *why, size_t whylen) RCN_MUST;

/* Client for programs that keep many requests in flight (rcload, rcbench_offer): a DEALER
 * connected to endpoint ("ipc://…/control.sock"), with linger 0, ZMQ_IMMEDIATE (no request
 * queued while the node is down), a 100 ms reconnect interval and answers capped at max_msg
 * bytes. One request in flight per socket; close it (zmq_close) to drop a late answer. NULL
 * when the socket cannot be made or connected. */
void *rcn_ctl_dealer (void *ctx, const char *endpoint, int64_t max_msg);

/* "EINVAL" for RCN_EINVAL etc. */
const char *rcn_err_name (int rc);

#endif
