/* control.c — rcctl <-> rcnode over a private ipc:// socket (see control.h).
 * Requests are JSON because people and scripts read them; entries themselves never travel
 * here, only the requests that make a node author them. */
#include "rcn/control.h"
#include "rcn/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

const char *
rcn_err_name (int rc)
{
    static const char *names[] = {
        "OK", "ENOMEM", "EIO", "EINVAL", "ETOOBIG", "ETRUNC", "EMAGIC", "ESIG", "EDUP", "EGAP",
        "ECHAIN", "EORIGIN", "EFORK", "EDB", "ENOTFOUND", "EBUSY", "ETIMEOUT", "EBLOCKED",
        "EVERSION", "EBODY", "EPERM", "EROSTER", "EUNVERIFIED", "ESTATE",
    };
    if (rc > 0 || -rc >= (int) (sizeof names / sizeof *names))
        return "EUNKNOWN";
    return names[-rc];
}

json_t *
rcn_control_error (int rc, const char *why)
{
    return json_pack ("{s:b, s:s, s:s}", "ok", 0, "error", why && *why ? why : rcn_strerror (rc),
                      "code", rcn_err_name (rc));
}

int
rcn_control_bind (void *ctx, const char *sock_path, void **out, char *why, size_t whylen)
{
    char ep[4200];
    snprintf (ep, sizeof ep, "ipc://%s", sock_path);
    unlink (sock_path);
    void *s = zmq_socket (ctx, ZMQ_ROUTER);
    if (!s) {
        rcn_errf (why, whylen, "control: zmq_socket: %s", zmq_strerror (errno));
        return RCN_EIO;
    }
    int64_t max = RCN_CONTROL_MSG_MAX;
    int linger = 0;
    zmq_setsockopt (s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
    /* The socket file must never exist with wider permissions, not even for an instant. */
    mode_t old = umask (077);
    int rc = zmq_bind (s, ep);
    int err = errno;
    umask (old);
    if (rc != 0 || chmod (sock_path, 0600) != 0) {
        rcn_errf (why, whylen, "control: cannot bind %s: %s", ep,
                  rc != 0 ? zmq_strerror (err) : strerror (errno));
        zmq_close (s);
        return RCN_EIO;
    }
    *out = s;
    return RCN_OK;
}

/* Reads the rest of a multipart message and drops it. */
static void
drain (void *s)
{
    int more = 1;
    size_t len = sizeof more;
    while (zmq_getsockopt (s, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        zmq_msg_recv (&m, s, 0);
        zmq_msg_close (&m);
    }
}

static bool
rcvmore (void *s)
{
    int more = 0;
    size_t len = sizeof more;
    return zmq_getsockopt (s, ZMQ_RCVMORE, &more, &len) == 0 && more;
}

int
rcn_control_recv (void *router, rcn_ctl_req_t *out)
{
    memset (out, 0, sizeof *out);
    out->arrived = rcn_mono_ms ();
    zmq_msg_t id, delim, body;
    zmq_msg_init (&id);
    if (zmq_msg_recv (&id, router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&id);
        return RCN_ETIMEOUT;
    }
    size_t idlen = zmq_msg_size (&id);
    bool ok_id = idlen > 0 && idlen <= sizeof out->id && rcvmore (router);
    if (ok_id) {
        memcpy (out->id, zmq_msg_data (&id), idlen);
        out->id_len = idlen;
    }
    zmq_msg_close (&id);
    if (!ok_id) {
        drain (router);
        return RCN_EINVAL;            /* cannot even answer it */
    }
    zmq_msg_init (&delim);
    zmq_msg_init (&body);
    int rc = RCN_EINVAL;
    if (zmq_msg_recv (&delim, router, 0) == 0 && rcvmore (router)
        && zmq_msg_recv (&body, router, 0) >= 0 && !rcvmore (router)) {
        json_error_t jerr;
        out->req = json_loadb (zmq_msg_data (&body), zmq_msg_size (&body), JSON_REJECT_DUPLICATES,
                               &jerr);
        if (out->req && json_is_object (out->req)
            && json_is_string (json_object_get (out->req, "op")))
            rc = RCN_OK;
    }
    drain (router);
    zmq_msg_close (&delim);
    zmq_msg_close (&body);
    if (rc != RCN_OK) {
        json_decref (out->req);
        out->req = NULL;
        int r = rcn_control_reply (router, out,
                                   rcn_control_error (RCN_EINVAL, "control request must be a JSON "
                                                      "object with a string \"op\""));
        (void) r;
    }
    return rc;
}

int
rcn_control_reply (void *router, rcn_ctl_req_t *r, json_t *resp)
{
    int rc = RCN_EIO;
    char *text = resp ? json_dumps (resp, JSON_COMPACT) : NULL;
    json_decref (resp);
    json_decref (r->req);
    r->req = NULL;
    if (!text)
        return RCN_ENOMEM;
    if (zmq_send (router, r->id, r->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
        && zmq_send (router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
        && zmq_send (router, text, strlen (text), ZMQ_DONTWAIT) >= 0)
        rc = RCN_OK;                  /* a vanished client is not the node's problem */
    free (text);
    return rc;
}

int
rcn_ctl_call (const char *sock_path, const json_t *req, int timeout_ms, json_t **resp,
              char *why, size_t whylen)
{
    struct stat st;
    if (stat (sock_path, &st) != 0) {
        rcn_errf (why, whylen, "no rcnode is running here (no control socket %s)", sock_path);
        return RCN_ENOTFOUND;
    }
    int rc = RCN_EIO;
    char *text = json_dumps (req, JSON_COMPACT);
    if (text && strlen (text) > RCN_CONTROL_MSG_MAX) {
        rcn_errf (why, whylen, "the request is %zu bytes, over the control channel's %d",
                  strlen (text), RCN_CONTROL_MSG_MAX);
        free (text);
        return RCN_ETOOBIG;
    }
    void *ctx = zmq_ctx_new ();
    void *s = ctx ? zmq_socket (ctx, ZMQ_REQ) : NULL;
    char ep[4200];
    snprintf (ep, sizeof ep, "ipc://%s", sock_path);
    if (!text || !s) {
        rcn_errf (why, whylen, "control: cannot set up a socket");
        goto done;
    }
    int linger = 0, one = 1;
    int64_t max = RCN_CONTROL_MSG_MAX * 16;
    zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (s, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt (s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt (s, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt (s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (zmq_connect (s, ep) != 0) {
        rcn_errf (why, whylen, "control: cannot connect to %s: %s", ep, zmq_strerror (errno));
        goto done;
    }
    if (zmq_send (s, text, strlen (text), 0) < 0) {
        rc = errno == EAGAIN ? RCN_ETIMEOUT : RCN_EIO;
        rcn_errf (why, whylen, "rcnode did not take the request within %d ms (%s): is it running?",
                  timeout_ms, ep);
        goto done;
    }
    zmq_msg_t m;
    zmq_msg_init (&m);
    if (zmq_msg_recv (&m, s, 0) < 0) {
        rc = errno == EAGAIN ? RCN_ETIMEOUT : RCN_EIO;
        rcn_errf (why, whylen, "rcnode did not answer within %d ms (%s)", timeout_ms, ep);
        zmq_msg_close (&m);
        goto done;
    }
    json_error_t jerr;
    *resp = json_loadb (zmq_msg_data (&m), zmq_msg_size (&m), 0, &jerr);
    zmq_msg_close (&m);
    if (!*resp || !json_is_object (*resp)) {
        json_decref (*resp);
        *resp = NULL;
        rc = RCN_EINVAL;
        rcn_errf (why, whylen, "rcnode's answer is not a JSON object");
        goto done;
    }
    rc = RCN_OK;
done:
    free (text);
    if (s)
        zmq_close (s);
    if (ctx)
        zmq_ctx_term (ctx);
    return rc;
}

void *
rcn_ctl_dealer (void *ctx, const char *endpoint, int64_t max_msg)
{
    void *s = zmq_socket (ctx, ZMQ_DEALER);
    if (!s)
        return NULL;
    int linger = 0, one = 1, ivl = 100;
    zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (s, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt (s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt (s, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    if (zmq_connect (s, endpoint) != 0) {
        zmq_close (s);
        return NULL;
    }
    return s;
}
