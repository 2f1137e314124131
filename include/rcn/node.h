/* node.h — one member's node: configuration, roster, keys, store and the control channel,
 * driven by one event loop (DESIGN.md §6). rcnode is a thin main() around this. */
#ifndef RCN_NODE_H
#define RCN_NODE_H

#include <stddef.h>

#include "rcn/err.h"

/* The oldest libzmq rcnode runs on: earlier releases have known CVEs. */
#define RCN_ZMQ_MIN_MAJOR 4
#define RCN_ZMQ_MIN_MINOR 3
#define RCN_ZMQ_MIN_PATCH 3

/* Most authoring requests committed as one group (one synced transaction). */
#define RCN_NODE_GROUP_MAX 256

typedef struct rcn_node rcn_node_t;

/* Checks a libzmq version against the minimum. RCN_EVERSION with `why`. */
int rcn_node_zmq_version_ok (int major, int minor, int patch, char *why, size_t whylen) RCN_MUST;

/* The same for the libzmq this process is linked with (zmq_version). */
int rcn_node_check_zmq (char *why, size_t whylen) RCN_MUST;

/* Opens the node in DIR: reads node.conf, takes DIR's lock (RCN_EBUSY when another rcnode
 * holds it), loads the roster and keys and checks that this member is in the roster with
 * these keys, opens the store, reads the high-water mark, binds the control socket.
 * Caller owns *out. Errors carry `why` for the operator. */
int rcn_node_open (const char *dir, rcn_node_t **out, char *why, size_t whylen) RCN_MUST;

/* Runs the event loop until rcn_node_stop. RCN_OK on a clean stop. */
int rcn_node_run (rcn_node_t *n) RCN_MUST;

/* Asks the loop to stop; async-signal-safe (a signal handler may call it). */
void rcn_node_stop (rcn_node_t *n);

/* Closes everything, releases the lock and removes the control socket; nulls *self_p. */
void rcn_node_destroy (rcn_node_t **self_p);

#endif
