/* IANA time zones read from TZif files (RFC 8536) without touching the
 * process-wide TZ / tzset() state, so any thread may use any zone.
 *
 * Ownership: tz_load*() return a zone that the caller frees with tz_free().
 * A loaded zone is immutable: it may be shared by any number of threads.
 * Times are UTC seconds since the epoch; "local seconds" are the wall-clock
 * reading written as if it were UTC (days * 86400 + seconds of the day). */
#ifndef TRIAGED_TZ_H
#define TRIAGED_TZ_H

#include <stdint.h>

struct tz;

/* Loads "Europe/Paris" etc. from /usr/share/zoneinfo. The name is checked
 * (no "..", no leading '/', only [A-Za-z0-9_+-./]). NULL + error if the zone
 * is unknown or its file is not a valid TZif file. */
struct tz *tz_load(const char *name, const char **error_r);
/* Same from an explicit TZif file; `name` is what tz_name() will return. */
struct tz *tz_load_file(const char *path, const char *name, const char **error_r);
/* A zone from a POSIX TZ rule only ("CET-1CEST,M3.5.0,M10.5.0/3"), as found
 * in a TZif footer; used for dates past a file's table, exposed for tests. */
struct tz *tz_from_posix(const char *rule, const char **error_r);
void tz_free(struct tz **tz);

/* The name given at load time; valid as long as the zone. */
const char *tz_name(const struct tz *tz);

/* The UTC offset (seconds east of Greenwich) in effect at `t`, and the first
 * instant after `t` at which it may change (INT64_MAX if never). A "change"
 * may keep the same offset (e.g. only the abbreviation changed). */
void tz_lookup(const struct tz *tz, int64_t t, int32_t *offset_r, int64_t *next_change_r);
int32_t tz_offset(const struct tz *tz, int64_t t);

/* The first instant whose wall-clock reading is at or after `local`. For a
 * wall time skipped by a spring-forward jump, that is the instant of the
 * jump; for a wall time that occurs twice, the earlier occurrence. The
 * function is non-decreasing in `local`. */
int64_t tz_first_instant_at_local(const struct tz *tz, int64_t local);

/* Proleptic Gregorian helpers shared with the calendar module. */
int64_t tz_days_from_civil(int64_t year, int month, int day);
void tz_civil_from_days(int64_t days, int64_t *year_r, int *month_r, int *day_r);
/* Floor division: works for negative `a` (dates before 1970). */
int64_t tz_floor_div(int64_t a, int64_t b);

#endif
