/* rcctl.h — private to the rcctl program: its command table and shared helpers. */
#ifndef RCN_RCCTL_H
#define RCN_RCCTL_H

#include <stdbool.h>
#include <jansson.h>

#include "rcn/conf.h"
#include "rcn/roster.h"
#include "rcn/store.h"

/* Exit codes: 0 ok, 1 failed, 2 usage, 3 node not running / no answer. */
enum { RC_OK = 0, RC_FAIL = 1, RC_USAGE = 2, RC_DOWN = 3 };

typedef struct {
    const char *dir;        /* -d DIR, $RCN_DIR, or "." */
    int timeout_ms;         /* --timeout */
    bool json;              /* --json */
    bool dir_given;         /* -d DIR on the command line (local verbs use the dir only then) */
} rcctl_t;

/* Prints "rcctl: <msg>" to stderr and returns code. */
int rcctl_fail (int code, const char *fmt, ...) __attribute__((format (printf, 2, 3)));

/* Opens the node dir's conf, roster (when present) and store read-only. On failure prints the
 * reason and returns an exit code; roster may come back NULL when want_roster is false. */
int rcctl_open (const rcctl_t *c, rcn_conf_t *conf, rcn_roster_t **roster, bool want_roster,
                rcn_store_t **store);

/* buf = a "/" b; false (and an empty buf) when it does not fit. */
bool rcctl_join (char *buf, size_t len, const char *a, const char *b);

/* Prints j to stdout (indented), followed by a newline. */
void rcctl_print_json (const json_t *j);

/* "310000" or the origin's hex prefix when the roster does not list it. */
void rcctl_region_of (const rcn_roster_t *r, const uint8_t origin[32], char *buf, size_t len);

/* Calls the node; on failure prints why and returns the exit code, else *resp (owned). */
int rcctl_call (const rcctl_t *c, const rcn_conf_t *conf, const json_t *req, json_t **resp);

/* The commands. argv[0] is the command word. */
int rcctl_init (rcctl_t *c, int argc, char **argv);
int rcctl_card (rcctl_t *c, int argc, char **argv);
int rcctl_roster (rcctl_t *c, int argc, char **argv);
int rcctl_status (rcctl_t *c, int argc, char **argv);
int rcctl_peers (rcctl_t *c, int argc, char **argv);
int rcctl_recover (rcctl_t *c, int argc, char **argv);
int rcctl_heads (rcctl_t *c, int argc, char **argv);
int rcctl_export (rcctl_t *c, int argc, char **argv);
int rcctl_verify_log (rcctl_t *c, int argc, char **argv);
int rcctl_backup (rcctl_t *c, int argc, char **argv);
int rcctl_log (rcctl_t *c, int argc, char **argv);

/* rcctl_drill.c: status's ISOLATED line, from its JSON (nothing when not isolated). */
void rcctl_drill_status_line (const json_t *status);

#endif
