/* clock.h — the one place rcn reads time and randomness.
 *
 * Tests and drills set the clock (fixed or offset) and seed randomness so that a run can be
 * replayed. A process picks up RCN_CLOCK ("fixed:<unix_ms>" or "offset:<+-ms>") and
 * RCN_SEED (decimal) from its environment at the first call. Without them: the real clock and
 * libsodium's randombytes. */
#ifndef RCN_CLOCK_H
#define RCN_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock Unix time in milliseconds, as set (see above). */
uint64_t rcn_now_ms (void);

/* Monotonic milliseconds for timeouts and intervals; never affected by the settings. */
uint64_t rcn_mono_ms (void);

/* Fix the wall clock at `ms` (0 returns to the real clock). */
void rcn_clock_set_fixed (uint64_t ms);

/* Shift the real wall clock by `offset_ms`. */
void rcn_clock_set_offset (int64_t offset_ms);

/* Fills buf with random bytes: libsodium's, or, once seeded, a deterministic stream. */
void rcn_random_buf (void *buf, size_t len);

/* Seed the deterministic stream (tests, drills). */
void rcn_random_seed (uint64_t seed);

/* Parses a time: RFC 3339 ("2026-11-22T09:30:00+08:00", "…Z", fractional seconds allowed),
 * a Unix ms number ("1763775000000"), or a duration from `now_ms` ("+90s", "+30m", "+6h", "+2d",
 * "-1h"). RCN_EINVAL with `why` on anything else. */
int rcn_time_parse (const char *s, uint64_t now_ms, uint64_t *out_ms, char *why, size_t whylen)
    __attribute__((warn_unused_result));

/* Formats `ms` as RFC 3339 UTC with milliseconds ("2026-11-22T01:30:00.000Z") into buf (>= 32). */
void rcn_time_format (uint64_t ms, char *buf, size_t len);

#endif
