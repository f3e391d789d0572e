/* Business-hours calendars for the SLA clocks: a time zone, weekly opening
 * hours and holidays, with exact business-time arithmetic across daylight
 * saving changes, week-ends and holidays.
 *
 * Ownership: cal_new() returns a calendar the caller frees with cal_free().
 * Build a calendar in one thread (cal_add_*, cal_load_*), then share it
 * read-only: every const function is safe from any number of threads (no
 * TZ/tzset, no hidden caches).
 *
 * Conventions:
 * - Instants are UTC seconds since the epoch (int64_t).
 * - A weekly interval [start, end) is in local wall-clock minutes. On a day
 *   with a change of offset it lasts from the first instant the wall clock
 *   reads `start` to the first instant it reads `end`: 09:00-18:00 is 9 hours
 *   on both DST week-ends in Europe, 02:00-03:00 lasts 0 on the
 *   spring-forward day and 2 hours on the fall-back day.
 * - Holidays are local dates: no business time at all on those dates.
 * - A deadline that uses up the last minute of an interval is the closing
 *   instant of that interval (it is never moved to the next opening), so a
 *   deadline is always in (open, close] of some business interval.
 * - Supported instants: 1900-01-01 to 9999-12-31 UTC; a search for a
 *   deadline gives up after CAL_MAX_SEARCH_YEARS years. */
#ifndef TRIAGED_CALENDAR_H
#define TRIAGED_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAL_MAX_INTERVALS_PER_DAY 16
#define CAL_MAX_HOLIDAYS 100000
#define CAL_MAX_SEARCH_YEARS 10
/* Recurring iCalendar holidays are expanded up to this year. */
#define CAL_ICAL_LAST_YEAR 2100
/* Largest .ics file accepted. */
#define CAL_ICAL_MAX_SIZE (4 * 1024 * 1024)
/* "2026-03-30T10:00:00+02:00" and its NUL, with room to spare. */
#define CAL_TIME_STRLEN 40

struct calendar;

/* Minutes since local midnight, [start, end); day 0 = Monday .. 6 = Sunday. */
struct cal_interval {
	int start_min, end_min;
};

/* "09:00-12:30" (spaces around '-' allowed, hours of one or two digits,
 * minutes of two); "24:00" only as an end; the start must be before the end. */
int cal_parse_interval(const char *text, struct cal_interval *iv_r, const char **error_r);
/* "mon".."sun" or "monday".."sunday" (any case) → 0..6. */
int cal_parse_weekday(const char *text, int *weekday_r, const char **error_r);

/* `zone` is an IANA name ("Europe/Paris"); NULL + error for an unknown
 * zone. `name` is copied. */
struct calendar *cal_new(const char *name, const char *zone, const char **error_r);
void cal_free(struct calendar **cal);
/* Valid as long as the calendar. */
const char *cal_name(const struct calendar *cal);
const char *cal_timezone(const struct calendar *cal);

/* Adds opening hours to a weekday. Overlapping intervals are an error;
 * touching ones (09:00-12:00 and 12:00-14:00) are merged. */
int cal_add_hours(struct calendar *cal, int weekday, struct cal_interval iv, const char **error_r);
/* A local date with no business time. Adding a date twice is harmless. */
int cal_add_holiday(struct calendar *cal, int year, int month, int day, const char **error_r);
/* Holidays from an iCalendar file: every all-day VEVENT (DTSTART;VALUE=DATE)
 * makes its dates holidays (DTEND exclusive, or DURATION; one day if
 * neither), RRULE expanded up to CAL_ICAL_LAST_YEAR, RDATE added, EXDATE
 * removed. Timed events are ignored (a meeting is not a holiday). On error
 * the calendar is unchanged. */
int cal_load_ical_holidays(struct calendar *cal, const char *path, const char **error_r);
size_t cal_holiday_count(const struct calendar *cal);
bool cal_is_holiday(const struct calendar *cal, int year, int month, int day);

/* The instant at which `minutes` business minutes have elapsed from `start`.
 * minutes == 0 gives the next business instant at or after start (the next
 * opening if start is outside business hours or exactly at a closing).
 * Error if minutes < 0, if start is out of range, if the calendar has no
 * opening hours, or if the deadline is more than CAL_MAX_SEARCH_YEARS ahead.
 * For a >= 0 and b > 0: add(add(s, a), b) == add(s, a + b). */
int cal_add_business_minutes(const struct calendar *cal, int64_t start, int64_t minutes,
                             int64_t *deadline_r, const char **error_r);
/* Same with seconds (clocks paused and resumed keep second precision). */
int cal_add_business_seconds(const struct calendar *cal, int64_t start, int64_t seconds,
                             int64_t *deadline_r, const char **error_r);
/* Business seconds in [from, to); 0 if to <= from. Instants outside the
 * supported range are clamped to it. */
int64_t cal_business_seconds_between(const struct calendar *cal, int64_t from, int64_t to);
bool cal_is_business_time(const struct calendar *cal, int64_t t);

/* "2026-03-30T10:00:00+02:00" in the calendar's zone. 0, or -1 if the buffer
 * is too small or the year is outside 0000..9999. (Offsets with seconds, only
 * found in local mean time before 1900, are written "+00:09:21".) */
int cal_format_local(const struct calendar *cal, int64_t t, char *buf, size_t size);
/* "2026-03-30T08:00:00Z". */
int cal_format_utc(int64_t t, char *buf, size_t size);
/* ISO 8601 / RFC 3339 date and time with an offset:
 * YYYY-MM-DD('T'|'t'|' ')hh:mm[:ss[(.|,)fraction]] then 'Z', 'z', ±hh:mm,
 * ±hhmm or ±hh. The fraction is dropped (rounded down to the second).
 * A date alone or a time without an offset is refused: it would be
 * ambiguous; use cal_parse_local() to read one in a calendar's zone. */
int cal_parse_iso8601(const char *s, int64_t *t_r, const char **error_r);
/* As cal_parse_iso8601(), but an absent offset means the calendar's wall
 * time (a skipped time gives the instant of the jump, a repeated one its
 * first occurrence), and a date alone means its local midnight. */
int cal_parse_local(const struct calendar *cal, const char *s, int64_t *t_r, const char **error_r);

#endif
