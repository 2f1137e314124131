/* conf.h — node.conf: one commented file, `key = value` per line, `#` starts a comment.
 *
 * Keys: region, name, pub, sync (endpoints), roster (path, default roster.json), keys
 * (default keys), data (default data), log_level (default info), map_size_mb (default 64),
 * operator (default operator name for audit), pub_hwm (default RCN_CONF_HWM_DEFAULT),
 * source_address (default none: the system picks the source of outgoing connections).
 * Relative paths are relative to the node dir. Unknown keys and malformed lines are refused
 * with the line number. */
#ifndef RCN_CONF_H
#define RCN_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/err.h"
#include "rcn/roster.h"

/* pub_hwm: the high-water mark (messages) of the PUB socket's queue towards each peer. The
 * default is libzmq's, as in rcn_transport_opts_default. */
#define RCN_CONF_HWM_DEFAULT 1000
#define RCN_CONF_HWM_MAX 1000000
#define RCN_CONF_SOURCE_MAX 15                /* "255.255.255.255" */

typedef struct {
    char dir[4096];                          /* the node dir (absolute) */
    uint32_t region;
    char name[RCN_NAME_MAX + 1];
    char pub[RCN_ENDPOINT_MAX + 1];
    char sync[RCN_ENDPOINT_MAX + 1];
    char roster_path[4096];                  /* absolute */
    char keys_path[4096];                    /* absolute */
    char data_path[4096];                    /* absolute: the LMDB environment directory */
    char log_level[16];
    uint64_t map_size_mb;
    char operator_name[RCN_NAME_MAX + 1];
    uint32_t pub_hwm;                        /* 1..RCN_CONF_HWM_MAX; 0 in rcn_conf_write: default */
    /* The IPv4 address (dotted quad) every connection to a peer leaves from, so that a drill can
     * give each member its own 127.0.0.N (or netns address) and cut pairs with a firewall;
     * "" (the default): whatever the system picks. */
    char source_address[RCN_CONF_SOURCE_MAX + 1];
} rcn_conf_t;

/* Reads DIR/node.conf. RCN_EIO / RCN_EINVAL with `why` ("node.conf:7: unknown key 'pbu'"). */
int rcn_conf_load (const char *dir, rcn_conf_t *out, char *why, size_t whylen) RCN_MUST;

/* Writes DIR/node.conf (commented template filled with c's values), 0600, fsynced;
 * refuses to overwrite (RCN_EBUSY). */
int rcn_conf_write (const char *dir, const rcn_conf_t *c, char *why, size_t whylen) RCN_MUST;

/* Paths of the node dir's well-known files into buf: "control" -> ipc socket path,
 * "lock" -> rcnode.lock. */
void rcn_conf_path (const rcn_conf_t *c, const char *what, char *buf, size_t len);

#endif
