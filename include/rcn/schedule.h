/* schedule.h — the alliance's notification rounds in its time zone (DESIGN.md §4; the slots,
 * zone and grace are the roster's policy). A slot is one of policy->rounds on one local date;
 * it is reached when its time is <= now (a slot at 00:00 belongs to the new date).
 *
 * Local time comes from the C library and the system's tz database: the module sets the
 * process's TZ to ":<zone>" (setenv + tzset) and uses localtime_r, all behind one mutex. setenv
 * is called only when the zone asked for differs from the one last set. setenv is not safe
 * while other threads read the environment, so a threaded program must make its first call
 * (rcn_tz_check with the roster's zone does it) before it starts threads and afterwards ask for
 * that zone only, as rcnode does: then setenv is never called again. Nothing else in rcn reads
 * local time (logs and rcn_time_format are UTC), so the changed TZ affects only this module.
 *
 * Local times that a daylight-saving change skips or repeats get one fixed answer, the same on
 * every node (not mktime's: glibc's mktime with tm_isdst = -1 picks either occurrence of a
 * repeated time depending on its previous call). A skipped time is read with the offset in
 * force before the change, as mktime normalises it: 02:30 on the day Europe/Berlin springs
 * forward is 01:30 UTC (shown as 03:30 CEST), so a slot in the gap falls due at the gap's end
 * or later and may come after a later slot of the same day. A repeated time is its first
 * occurrence: 02:30 on the day Berlin falls back is 00:30 UTC (summer time). Two slots that
 * land on the same instant are one slot for latest and next (the later of the two in date and
 * minute order). The default zone, Asia/Shanghai, has no daylight saving. */
#ifndef RCN_SCHEDULE_H
#define RCN_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "rcn/err.h"
#include "rcn/roster.h"

typedef struct {
    char date[11];      /* "YYYY-MM-DD": the local date in the roster's zone */
    int minute;         /* minutes after local midnight: one of policy->rounds */
    uint64_t slot_ms;   /* Unix ms of that local date and minute */
} rcn_slot_t;

/* RCN_OK when tz names a zone of the system's tz database (a regular file under TZDIR or
 * /usr/share/zoneinfo, name without "..", not absolute); RCN_EINVAL with why ("timezone
 * \"Mars/Olympus\" is not in the tz database (/usr/share/zoneinfo)") otherwise. The name must be
 * 1..63 characters of letters, digits and "/_-+" (as the roster's), and the file must begin as a
 * tz database file ("TZif"). Call it once with the roster's zone before starting threads: it
 * also makes that zone the process's TZ (see above). */
int rcn_tz_check (const char *tz, char *why, size_t whylen) RCN_MUST;

/* Unix ms of local `date` ("YYYY-MM-DD", a real calendar date, years 1970..9999) at `minute`
 * (0..1439) in p->timezone. RCN_EINVAL with why naming what is wrong: the date, the minute,
 * the zone (not in the tz database), or a time before 1970-01-01T00:00Z. */
int rcn_slot_ms (const rcn_policy_t *p, const char *date, int minute, uint64_t *ms,
                 char *why, size_t whylen) RCN_MUST;

/* The latest slot whose time is <= now_ms (today's or an earlier day's). RCN_ENOTFOUND when
 * the policy has no rounds (or no slot lies between 1970 and now_ms); RCN_EINVAL when
 * p->timezone is not in the tz database or now_ms is past the year 9999. */
int rcn_slot_latest (const rcn_policy_t *p, uint64_t now_ms, rcn_slot_t *out) RCN_MUST;

/* The earliest slot whose time is > now_ms. RCN_ENOTFOUND when the policy has no rounds (or
 * the next slot would be past the year 9999); RCN_EINVAL as rcn_slot_latest. */
int rcn_slot_next (const rcn_policy_t *p, uint64_t now_ms, rcn_slot_t *out) RCN_MUST;

/* The local date of ms in p->timezone into date (11 bytes). RCN_EINVAL when p->timezone is not
 * in the tz database or the local date is past the year 9999. */
int rcn_local_date (const rcn_policy_t *p, uint64_t ms, char date[11]) RCN_MUST;

/* "HH:MM" of a minute after midnight (0..1439, asserted) into buf (>= 6 bytes); returns buf. */
const char *rcn_slot_name (int minute, char *buf, size_t len);

/* Parses "HH:MM" (00:00..23:59) into *minute. RCN_EINVAL otherwise. */
int rcn_slot_parse (const char *s, int *minute) RCN_MUST;

#endif
