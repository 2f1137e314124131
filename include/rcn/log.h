/* log.h — one line per event on stderr, with a UTC timestamp and a level.
 *
 * Lines carry hashes, ids, seqs and region codes — never keys or personal details. */
#ifndef RCN_LOG_H
#define RCN_LOG_H

typedef enum { RCN_LOG_DEBUG = 0, RCN_LOG_INFO, RCN_LOG_WARN, RCN_LOG_ERROR } rcn_log_level_t;

/* Lines below `level` are dropped. Default INFO. */
void rcn_log_set_level (rcn_log_level_t level);

/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int rcn_log_level_parse (const char *s);

/* Tag placed after the level on every line (e.g. the region code); copied; NULL clears. */
void rcn_log_set_tag (const char *tag);

/* Writes "2026-11-22T10:39:51.123Z INFO [tag] <message>\n" atomically (one write). */
void rcn_log (rcn_log_level_t level, const char *fmt, ...) __attribute__((format (printf, 2, 3)));

#define rcn_debug(...) rcn_log (RCN_LOG_DEBUG, __VA_ARGS__)
#define rcn_info(...)  rcn_log (RCN_LOG_INFO, __VA_ARGS__)
#define rcn_warn(...)  rcn_log (RCN_LOG_WARN, __VA_ARGS__)
#define rcn_error(...) rcn_log (RCN_LOG_ERROR, __VA_ARGS__)

#endif
