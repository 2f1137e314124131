/* test_control.c — the control channel (a private ipc socket, JSON requests, a timeout on
 * every call, malformed requests answered with an error) and the libzmq version floor. */
#include "testutil.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "rcn/control.h"
#include "rcn/node.h"

typedef struct {
    void *router;
    int served;
    int malformed;
    int want;
} server_t;

/* Answers `want` requests, echoing the op; counts malformed ones. Bounded: 5 s. */
static void *
serve (void *arg)
{
    server_t *s = arg;
    for (int i = 0; i < 500 && s->served + s->malformed < s->want; i++) {
        zmq_pollitem_t it = { s->router, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&it, 1, 10) <= 0)
            continue;
        rcn_ctl_req_t r;
        int rc = rcn_control_recv (s->router, &r);
        if (rc == RCN_EINVAL)
            s->malformed++;
        if (rc != RCN_OK)
            continue;
        json_t *resp = json_pack ("{s:b, s:s}", "ok", 1, "echo",
                                  json_string_value (json_object_get (r.req, "op")));
        if (rcn_control_reply (s->router, &r, resp) == RCN_OK)
            s->served++;
    }
    return NULL;
}

static void
test_call_and_permissions (void)
{
    char *dir = rcn_test_tmpdir ("ctl");
    char sock[512], why[512];
    snprintf (sock, sizeof sock, "%s/control.sock", dir);
    void *ctx = zmq_ctx_new ();
    server_t s = { .want = 2 };
    REQUIRE (rcn_control_bind (ctx, sock, &s.router, why, sizeof why) == RCN_OK);
    struct stat st;
    REQUIRE (stat (sock, &st) == 0);
    CHECK_EQ (st.st_mode & 0777, 0600);             /* only the node's user */

    pthread_t t;
    pthread_create (&t, NULL, serve, &s);
    json_t *req = json_pack ("{s:s}", "op", "status"), *resp = NULL;
    CHECK_EQ (rcn_ctl_call (sock, req, 2000, &resp, why, sizeof why), RCN_OK);
    CHECK (resp && strcmp (json_string_value (json_object_get (resp, "echo")), "status") == 0);
    json_decref (resp);
    json_decref (req);

    /* A request without "op" is answered with an error naming what is wrong. */
    req = json_pack ("{s:s}", "verb", "x");
    CHECK_EQ (rcn_ctl_call (sock, req, 2000, &resp, why, sizeof why), RCN_OK);
    CHECK (resp && json_is_false (json_object_get (resp, "ok")));
    CHECK (resp && strstr (json_string_value (json_object_get (resp, "error")), "op") != NULL);
    CHECK (resp && strcmp (json_string_value (json_object_get (resp, "code")), "EINVAL") == 0);
    json_decref (resp);
    json_decref (req);
    pthread_join (t, NULL);
    CHECK_EQ (s.served, 1);
    CHECK_EQ (s.malformed, 1);

    /* Nobody answering: the call gives up within its timeout. */
    req = json_pack ("{s:s}", "op", "status");
    resp = NULL;
    why[0] = 0;
    CHECK_EQ (rcn_ctl_call (sock, req, 200, &resp, why, sizeof why), RCN_ETIMEOUT);
    CHECK (resp == NULL && strstr (why, "200 ms") != NULL);
    zmq_close (s.router);
    zmq_ctx_term (ctx);
    unlink (sock);
    /* No socket at all: said plainly, without waiting. */
    CHECK_EQ (rcn_ctl_call (sock, req, 200, &resp, why, sizeof why), RCN_ENOTFOUND);
    CHECK (strstr (why, "no rcnode is running") != NULL);
    json_decref (req);
    rcn_test_rmtree (dir);
    free (dir);
}

/* Raw, non-JSON bytes and a wrong frame layout from a client never crash the server. */
static void
test_garbage (void)
{
    char *dir = rcn_test_tmpdir ("ctl");
    char sock[512], ep[600], why[512];
    snprintf (sock, sizeof sock, "%s/control.sock", dir);
    snprintf (ep, sizeof ep, "ipc://%s", sock);
    void *ctx = zmq_ctx_new ();
    server_t s = { .want = 3 };
    REQUIRE (rcn_control_bind (ctx, sock, &s.router, why, sizeof why) == RCN_OK);
    void *d = zmq_socket (ctx, ZMQ_DEALER);
    int linger = 0, tmo = 2000;
    zmq_setsockopt (d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (d, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    REQUIRE (zmq_connect (d, ep) == 0);
    zmq_send (d, "", 0, ZMQ_SNDMORE);
    zmq_send (d, "\xff\x00not json", 10, 0);         /* bytes, not JSON */
    zmq_send (d, "no delimiter", 12, 0);             /* wrong layout */
    zmq_send (d, "", 0, ZMQ_SNDMORE);
    zmq_send (d, "[1,2]", 5, 0);                     /* JSON but not an object */
    pthread_t t;
    pthread_create (&t, NULL, serve, &s);
    pthread_join (t, NULL);
    CHECK_EQ (s.malformed, 3);
    char buf[512];
    int n = zmq_recv (d, buf, sizeof buf - 1, 0);      /* the delimiter */
    n = zmq_recv (d, buf, sizeof buf - 1, 0);
    CHECK (n > 0);
    if (n > 0) {
        buf[n] = 0;
        CHECK (strstr (buf, "\"ok\":false") != NULL);
    }
    zmq_close (d);
    zmq_close (s.router);
    zmq_ctx_term (ctx);
    rcn_test_rmtree (dir);
    free (dir);
}

static void
test_zmq_floor (void)
{
    char why[256];
    CHECK_EQ (rcn_node_zmq_version_ok (4, 3, 2, why, sizeof why), RCN_EVERSION);
    CHECK (strstr (why, "4.3.2") != NULL);
    CHECK_EQ (rcn_node_zmq_version_ok (4, 2, 9, why, sizeof why), RCN_EVERSION);
    CHECK_EQ (rcn_node_zmq_version_ok (3, 9, 9, why, sizeof why), RCN_EVERSION);
    CHECK_EQ (rcn_node_zmq_version_ok (4, 3, 3, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_node_zmq_version_ok (4, 4, 0, why, sizeof why), RCN_OK);
    CHECK_EQ (rcn_node_check_zmq (why, sizeof why), RCN_OK);   /* what we link is new enough */
    CHECK (strcmp (rcn_err_name (RCN_EBLOCKED), "EBLOCKED") == 0);
    CHECK (strcmp (rcn_err_name (-999), "EUNKNOWN") == 0);
}

int
main (void)
{
    RUN (test_call_and_permissions);
    RUN (test_garbage);
    RUN (test_zmq_floor);
    return rcn_test_done ();
}
