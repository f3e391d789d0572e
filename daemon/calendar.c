/* Business-hours calendars: weekly opening hours in a time zone, minus
 * holidays, and the SLA arithmetic on them (deadlines, elapsed business time).
 *
 * The arithmetic walks business intervals day by day, never minute by
 * minute, and jumps over runs of whole weeks that hold no holiday and no
 * change of UTC offset (their business time is then exactly the nominal
 * weekly total), so a deadline costs a few steps per holiday and per DST
 * change, whatever the amount. */
#include "calendar.h"

#include <errno.h>
#include <fcntl.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tz.h"
#include "xalloc.h"

#define DAY_SECONDS INT64_C(86400)
#define WEEK_SECONDS (7 * DAY_SECONDS)
#define DAY_MINUTES 1440
/* 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define CAL_TIME_MIN INT64_C(-2208988800)
#define CAL_TIME_MAX INT64_C(253402300799)
#define CAL_MIN_YEAR 1900
#define CAL_MAX_YEAR 9999
/* Occurrences of one iCalendar event; a daily rule to 2100 fits. */
#define CAL_ICAL_MAX_OCCURRENCES 50000
/* The longest all-day event taken as a holiday span. */
#define CAL_ICAL_MAX_SPAN_DAYS 366

struct calendar {
	char *name;
	struct tz *tz;
	int n_hours[7];
	struct cal_interval hours[7][CAL_MAX_INTERVALS_PER_DAY];
	int64_t week_seconds; /* nominal business seconds of a plain week */
	int32_t *holidays;    /* local dates as day numbers, sorted, unique */
	size_t n_holidays;
};

/* A business interval of one day, in UTC: [start, end), never empty. */
struct period {
	int64_t start, end;
};

/* Monday = 0; 1970-01-01 (day 0) was a Thursday. */
static int weekday_of_day(int64_t day)
{
	return (int)(((day % 7) + 7 + 3) % 7);
}

static int64_t local_day_of(const struct calendar *cal, int64_t t)
{
	return tz_floor_div(t + tz_offset(cal->tz, t), DAY_SECONDS);
}

static int cmp_int32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Index of the first holiday >= day (n_holidays if none). */
static size_t holiday_lower_bound(const struct calendar *cal, int64_t day)
{
	size_t lo = 0, hi = cal->n_holidays;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cal->holidays[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool is_holiday_day(const struct calendar *cal, int64_t day)
{
	size_t i = holiday_lower_bound(cal, day);
	return i < cal->n_holidays && cal->holidays[i] == day;
}

static bool valid_date(int64_t year, int month, int day)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (year < 0 || year > CAL_MAX_YEAR || month < 1 || month > 12 || day < 1 ||
	    day > mdays[month - 1])
		return false;
	if (month == 2 && day == 29)
		return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return true;
}

/* ---- construction ---- */

static int parse_hhmm(const char **p, int *minutes_r)
{
	const char *s = *p;
	int h = 0, digits = 0;
	while (*s >= '0' && *s <= '9' && digits < 2) {
		h = h * 10 + (*s++ - '0');
		digits++;
	}
	if (digits == 0 || *s != ':' || !(s[1] >= '0' && s[1] <= '5') ||
	    !(s[2] >= '0' && s[2] <= '9'))
		return -1;
	int m = (s[1] - '0') * 10 + (s[2] - '0');
	if (h > 24 || (h == 24 && m != 0))
		return -1;
	*p = s + 3;
	*minutes_r = h * 60 + m;
	return 0;
}

int cal_parse_interval(const char *text, struct cal_interval *iv_r, const char **error_r)
{
	const char *s = text;
	int start, end;
	if (s == NULL || parse_hhmm(&s, &start) < 0) {
		*error_r = "invalid start time (expected HH:MM-HH:MM)";
		return -1;
	}
	while (*s == ' ')
		s++;
	if (*s++ != '-') {
		*error_r = "invalid interval (expected HH:MM-HH:MM)";
		return -1;
	}
	while (*s == ' ')
		s++;
	if (parse_hhmm(&s, &end) < 0 || *s != '\0') {
		*error_r = "invalid end time (expected HH:MM-HH:MM)";
		return -1;
	}
	if (start >= DAY_MINUTES) {
		*error_r = "24:00 is only allowed as an end time";
		return -1;
	}
	if (end <= start) {
		*error_r = "interval ends before it starts";
		return -1;
	}
	iv_r->start_min = start;
	iv_r->end_min = end;
	return 0;
}

int cal_parse_weekday(const char *text, int *weekday_r, const char **error_r)
{
	static const char *const names[7] = {"monday", "tuesday",  "wednesday", "thursday",
	                                     "friday", "saturday", "sunday"};
	for (int i = 0; text != NULL && i < 7; i++) {
		if (strcasecmp(text, names[i]) == 0 ||
		    (strlen(text) == 3 && strncasecmp(text, names[i], 3) == 0)) {
			*weekday_r = i;
			return 0;
		}
	}
	*error_r = "invalid weekday (expected mon..sun)";
	return -1;
}

struct calendar *cal_new(const char *name, const char *zone, const char **error_r)
{
	struct tz *tz = tz_load(zone, error_r);
	if (tz == NULL)
		return NULL;
	struct calendar *cal = xcalloc(1, sizeof(*cal));
	cal->name = xstrdup(name != NULL ? name : "");
	cal->tz = tz;
	return cal;
}

void cal_free(struct calendar **calp)
{
	struct calendar *cal = *calp;
	if (cal == NULL)
		return;
	free(cal->name);
	tz_free(&cal->tz);
	free(cal->holidays);
	free(cal);
	*calp = NULL;
}

const char *cal_name(const struct calendar *cal)
{
	return cal->name;
}

const char *cal_timezone(const struct calendar *cal)
{
	return tz_name(cal->tz);
}

int cal_add_hours(struct calendar *cal, int weekday, struct cal_interval iv, const char **error_r)
{
	if (weekday < 0 || weekday > 6) {
		*error_r = "weekday out of range (0 = Monday .. 6 = Sunday)";
		return -1;
	}
	if (iv.start_min < 0 || iv.start_min >= DAY_MINUTES || iv.end_min <= iv.start_min ||
	    iv.end_min > DAY_MINUTES) {
		*error_r = "invalid business-hours interval";
		return -1;
	}
	struct cal_interval *day = cal->hours[weekday];
	int n = cal->n_hours[weekday];
	int pos = 0;
	for (int i = 0; i < n; i++) {
		if (iv.start_min < day[i].end_min && day[i].start_min < iv.end_min) {
			*error_r = "business-hours intervals overlap";
			return -1;
		}
		if (day[i].end_min <= iv.start_min)
			pos = i + 1;
	}
	/* Touching neighbours merge: one opening, one closing. */
	bool join_prev = pos > 0 && day[pos - 1].end_min == iv.start_min;
	bool join_next = pos < n && day[pos].start_min == iv.end_min;
	if (join_prev && join_next) {
		day[pos - 1].end_min = day[pos].end_min;
		memmove(&day[pos], &day[pos + 1], (size_t)(n - pos - 1) * sizeof(*day));
		n--;
	} else if (join_prev) {
		day[pos - 1].end_min = iv.end_min;
	} else if (join_next) {
		day[pos].start_min = iv.start_min;
	} else {
		if (n == CAL_MAX_INTERVALS_PER_DAY) {
			*error_r = "too many business-hours intervals on one day";
			return -1;
		}
		memmove(&day[pos + 1], &day[pos], (size_t)(n - pos) * sizeof(*day));
		day[pos] = iv;
		n++;
	}
	cal->n_hours[weekday] = n;
	cal->week_seconds += (int64_t)(iv.end_min - iv.start_min) * 60;
	return 0;
}

/* Merges new day numbers (any order, duplicates allowed) into the set. */
static int add_holiday_days(struct calendar *cal, const int32_t *days, size_t n,
                            const char **error_r)
{
	if (n > CAL_MAX_HOLIDAYS || cal->n_holidays + n > 2 * (size_t)CAL_MAX_HOLIDAYS) {
		*error_r = "too many holidays";
		return -1;
	}
	size_t total = cal->n_holidays + n;
	int32_t *merged = xmalloc((total > 0 ? total : 1) * sizeof(*merged));
	if (cal->n_holidays > 0)
		memcpy(merged, cal->holidays, cal->n_holidays * sizeof(*merged));
	if (n > 0)
		memcpy(merged + cal->n_holidays, days, n * sizeof(*merged));
	qsort(merged, total, sizeof(*merged), cmp_int32);
	size_t unique = 0;
	for (size_t i = 0; i < total; i++) {
		if (unique == 0 || merged[unique - 1] != merged[i])
			merged[unique++] = merged[i];
	}
	if (unique > CAL_MAX_HOLIDAYS) {
		free(merged);
		*error_r = "too many holidays";
		return -1;
	}
	free(cal->holidays);
	cal->holidays = merged;
	cal->n_holidays = unique;
	return 0;
}

int cal_add_holiday(struct calendar *cal, int year, int month, int day, const char **error_r)
{
	if (!valid_date(year, month, day) || year < CAL_MIN_YEAR) {
		*error_r = "invalid holiday date";
		return -1;
	}
	int32_t d = (int32_t)tz_days_from_civil(year, month, day);
	if (is_holiday_day(cal, d))
		return 0;
	return add_holiday_days(cal, &d, 1, error_r);
}

size_t cal_holiday_count(const struct calendar *cal)
{
	return cal->n_holidays;
}

bool cal_is_holiday(const struct calendar *cal, int year, int month, int day)
{
	return valid_date(year, month, day) &&
	       is_holiday_day(cal, tz_days_from_civil(year, month, day));
}

/* ---- iCalendar holidays ---- */

struct day_list {
	int32_t *days;
	size_t n, cap;
};

static void day_list_add(struct day_list *l, int64_t day)
{
	l->days = xgrow(l->days, &l->cap, l->n + 1, sizeof(*l->days));
	l->days[l->n++] = (int32_t)day;
}

static bool day_list_has(const struct day_list *l, int64_t day)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->days[i] == day)
			return true;
	}
	return false;
}

static bool ical_date_day(struct icaltimetype t, int64_t *day_r)
{
	if (icaltime_is_null_time(t) || !valid_date(t.year, t.month, t.day) ||
	    t.year < CAL_MIN_YEAR)
		return false;
	*day_r = tz_days_from_civil(t.year, t.month, t.day);
	return true;
}

/* How many days an all-day event covers: DTEND is exclusive. */
static int64_t ical_event_span(icalcomponent *ev, int64_t start_day)
{
	int64_t span = 1;
	icalproperty *p = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
	if (p != NULL) {
		int64_t end_day;
		if (ical_date_day(icalproperty_get_dtend(p), &end_day))
			span = end_day - start_day;
	} else if ((p = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY)) != NULL) {
		struct icaldurationtype dur = icalproperty_get_duration(p);
		int64_t secs = icaldurationtype_as_int(dur);
		span = (secs + DAY_SECONDS - 1) / DAY_SECONDS;
	}
	if (span < 1)
		span = 1;
	if (span > CAL_ICAL_MAX_SPAN_DAYS)
		span = CAL_ICAL_MAX_SPAN_DAYS;
	return span;
}

static int ical_add_event(icalcomponent *ev, struct day_list *out, const char **error_r)
{
	icalproperty *p = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
	if (p == NULL) {
		*error_r = "VEVENT without DTSTART";
		return -1;
	}
	struct icaltimetype dtstart = icalproperty_get_dtstart(p);
	if (!dtstart.is_date)
		return 0; /* a timed event is not a holiday */
	int64_t start_day;
	if (!ical_date_day(dtstart, &start_day)) {
		*error_r = "VEVENT with an invalid DTSTART date";
		return -1;
	}
	int64_t span = ical_event_span(ev, start_day);

	struct day_list occurrences = {0}, excluded = {0};
	for (p = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
		int64_t d;
		if (ical_date_day(icalproperty_get_exdate(p), &d))
			day_list_add(&excluded, d);
	}
	day_list_add(&occurrences, start_day);
	for (p = icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(ev, ICAL_RDATE_PROPERTY)) {
		int64_t d;
		if (ical_date_day(icalproperty_get_rdate(p).time, &d))
			day_list_add(&occurrences, d);
	}
	int ret = 0;
	for (p = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY); p != NULL && ret == 0;
	     p = icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY)) {
		icalrecur_iterator *it = icalrecur_iterator_new(icalproperty_get_rrule(p), dtstart);
		if (it == NULL) {
			*error_r = "VEVENT with an unsupported RRULE";
			ret = -1;
			break;
		}
		struct icaltimetype next;
		size_t count = 0;
		while (!icaltime_is_null_time(next = icalrecur_iterator_next(it))) {
			int64_t d;
			if (next.year > CAL_ICAL_LAST_YEAR)
				break;
			if (++count > CAL_ICAL_MAX_OCCURRENCES) {
				*error_r = "RRULE expands to too many occurrences";
				ret = -1;
				break;
			}
			if (ical_date_day(next, &d))
				day_list_add(&occurrences, d);
		}
		icalrecur_iterator_free(it);
	}
	for (size_t i = 0; ret == 0 && i < occurrences.n; i++) {
		if (day_list_has(&excluded, occurrences.days[i]))
			continue;
		for (int64_t k = 0; k < span; k++)
			day_list_add(out, occurrences.days[i] + k);
		if (out->n > CAL_MAX_HOLIDAYS) {
			*error_r = "too many holidays";
			ret = -1;
		}
	}
	free(occurrences.days);
	free(excluded.days);
	return ret;
}

static int ical_add_vcalendar(icalcomponent *vcal, struct day_list *out, const char **error_r)
{
	for (icalcomponent *ev = icalcomponent_get_first_component(vcal, ICAL_VEVENT_COMPONENT);
	     ev != NULL; ev = icalcomponent_get_next_component(vcal, ICAL_VEVENT_COMPONENT)) {
		if (ical_add_event(ev, out, error_r) < 0)
			return -1;
	}
	return 0;
}

static char *read_text_file(const char *path, size_t limit, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = "cannot open iCalendar file";
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > limit) {
		close(fd);
		*error_r = "iCalendar file is not a regular file or is too large";
		return NULL;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			close(fd);
			free(buf);
			*error_r = "cannot read iCalendar file";
			return NULL;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len == cap) {
			/* The file grew past its stat size: refuse. */
			close(fd);
			free(buf);
			*error_r = "iCalendar file is too large";
			return NULL;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		free(buf);
		*error_r = "iCalendar file contains NUL bytes";
		return NULL;
	}
	return buf;
}

int cal_load_ical_holidays(struct calendar *cal, const char *path, const char **error_r)
{
	_cleanup_free_ char *text = read_text_file(path, CAL_ICAL_MAX_SIZE, error_r);
	if (text == NULL)
		return -1;
	icalcomponent *root = icalparser_parse_string(text);
	if (root == NULL) {
		*error_r = "not an iCalendar file";
		return -1;
	}
	struct day_list days = {0};
	int ret = 0;
	icalcomponent_kind kind = icalcomponent_isa(root);
	if (icalcomponent_count_errors(root) > 0) {
		*error_r = "malformed iCalendar file";
		ret = -1;
	} else if (kind == ICAL_VCALENDAR_COMPONENT) {
		ret = ical_add_vcalendar(root, &days, error_r);
	} else if (kind == ICAL_XROOT_COMPONENT) {
		/* Several VCALENDARs in one file. */
		for (icalcomponent *c =
		         icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
		     c != NULL && ret == 0;
		     c = icalcomponent_get_next_component(root, ICAL_VCALENDAR_COMPONENT))
			ret = ical_add_vcalendar(c, &days, error_r);
	} else {
		*error_r = "not an iCalendar file (no VCALENDAR)";
		ret = -1;
	}
	icalcomponent_free(root);
	if (ret == 0 && days.n > 0)
		ret = add_holiday_days(cal, days.days, days.n, error_r);
	free(days.days);
	return ret;
}

/* ---- arithmetic ---- */

/* The business intervals of one local date, in UTC, in order; none on a
 * holiday. Intervals that do not exist that day (skipped by a
 * spring-forward jump) are left out. */
static size_t day_periods(const struct calendar *cal, int64_t day,
                          struct period out[CAL_MAX_INTERVALS_PER_DAY])
{
	if (is_holiday_day(cal, day))
		return 0;
	int wd = weekday_of_day(day);
	size_t n = 0;
	for (int i = 0; i < cal->n_hours[wd]; i++) {
		const struct cal_interval *iv = &cal->hours[wd][i];
		int64_t start =
		    tz_first_instant_at_local(cal->tz, day * DAY_SECONDS + iv->start_min * 60);
		int64_t end =
		    tz_first_instant_at_local(cal->tz, day * DAY_SECONDS + iv->end_min * 60);
		if (end > start)
			out[n++] = (struct period){start, end};
	}
	return n;
}

/* How many whole weeks, from the local Monday `day`, hold no holiday and no
 * change of UTC offset (at most max_weeks); their business time is exactly
 * week_seconds each. *run_start_r is the instant of that Monday's midnight. */
static int64_t plain_weeks(const struct calendar *cal, int64_t day, int64_t max_weeks,
                           int64_t *run_start_r)
{
	int64_t local = day * DAY_SECONDS;
	int64_t w0 = tz_first_instant_at_local(cal->tz, local);
	int32_t off;
	int64_t next;
	tz_lookup(cal->tz, w0, &off, &next);
	if (w0 + off != local)
		return 0; /* midnight skipped by a jump */
	int64_t k = max_weeks;
	/* The run must end strictly before the next change, so that even its
	 * final 24:00 maps with this offset. */
	if (next != INT64_MAX) {
		int64_t fit = tz_floor_div(next + off - local - 1, WEEK_SECONDS);
		if (fit < k)
			k = fit;
	}
	size_t h = holiday_lower_bound(cal, day);
	if (h < cal->n_holidays) {
		int64_t fit = (cal->holidays[h] - day) / 7;
		if (fit < k)
			k = fit;
	}
	*run_start_r = w0;
	return k > 0 ? k : 0;
}

int cal_add_business_seconds(const struct calendar *cal, int64_t start, int64_t seconds,
                             int64_t *deadline_r, const char **error_r)
{
	if (seconds < 0) {
		*error_r = "negative business time";
		return -1;
	}
	if (start < CAL_TIME_MIN || start > CAL_TIME_MAX) {
		*error_r = "start time out of the supported range (1900..9999)";
		return -1;
	}
	if (cal->week_seconds == 0) {
		*error_r = "calendar has no business hours";
		return -1;
	}
	if (seconds > CAL_MAX_SEARCH_YEARS * 366 * DAY_SECONDS) {
		*error_r = "business time too long";
		return -1;
	}
	/* No period of an earlier local date can contain `start`: such a
	 * period ends by the first instant whose wall clock reads this date's
	 * midnight, and start's wall clock has not reached it before. (A later
	 * date's period can, after a fall-back across midnight, and the walk
	 * reaches it in order.) */
	int64_t day = local_day_of(cal, start);
	int64_t last_day = day + CAL_MAX_SEARCH_YEARS * 366 + 2;
	int64_t remaining = seconds;
	int64_t pos = start;
	struct period periods[CAL_MAX_INTERVALS_PER_DAY];

	while (day <= last_day) {
		if (weekday_of_day(day) == 0 && remaining > cal->week_seconds) {
			int64_t w0;
			/* Keep at least one second for the walk, which places
			 * the deadline at the end of an interval if it falls there. */
			int64_t max_weeks = (remaining - 1) / cal->week_seconds;
			if (max_weeks > (last_day - day) / 7)
				max_weeks = (last_day - day) / 7;
			int64_t k = plain_weeks(cal, day, max_weeks, &w0);
			if (k > 0 && w0 >= pos) {
				remaining -= k * cal->week_seconds;
				day += 7 * k;
				pos = w0 + k * WEEK_SECONDS;
				continue;
			}
		}
		size_t n = day_periods(cal, day, periods);
		for (size_t i = 0; i < n; i++) {
			if (periods[i].end <= pos)
				continue;
			int64_t from = periods[i].start > pos ? periods[i].start : pos;
			/* from < end, so remaining == 0 stops at the first
			 * business instant at or after pos. */
			if (remaining <= periods[i].end - from) {
				*deadline_r = from + remaining;
				return 0;
			}
			remaining -= periods[i].end - from;
			pos = periods[i].end;
		}
		day++;
	}
	*error_r = "no deadline within the search limit (holidays cover all business hours?)";
	return -1;
}

int cal_add_business_minutes(const struct calendar *cal, int64_t start, int64_t minutes,
                             int64_t *deadline_r, const char **error_r)
{
	if (minutes < 0) {
		*error_r = "negative business time";
		return -1;
	}
	if (minutes > CAL_MAX_SEARCH_YEARS * 366 * 1440) {
		*error_r = "business time too long";
		return -1;
	}
	return cal_add_business_seconds(cal, start, minutes * 60, deadline_r, error_r);
}

int64_t cal_business_seconds_between(const struct calendar *cal, int64_t from, int64_t to)
{
	if (from < CAL_TIME_MIN)
		from = CAL_TIME_MIN;
	if (to > CAL_TIME_MAX)
		to = CAL_TIME_MAX;
	if (to <= from || cal->week_seconds == 0)
		return 0;
	int64_t day = local_day_of(cal, from);
	int64_t last_day = local_day_of(cal, to) + 1;
	int64_t total = 0;
	struct period periods[CAL_MAX_INTERVALS_PER_DAY];

	while (day <= last_day) {
		if (weekday_of_day(day) == 0) {
			int64_t w0;
			int64_t k = plain_weeks(cal, day, (last_day - day) / 7, &w0);
			if (k > 0 && w0 >= from) {
				int64_t fit = (to - w0) / WEEK_SECONDS;
				if (fit < k)
					k = fit;
				if (k > 0) {
					total += k * cal->week_seconds;
					day += 7 * k;
					continue;
				}
			}
		}
		size_t n = day_periods(cal, day, periods);
		for (size_t i = 0; i < n; i++) {
			int64_t a = periods[i].start > from ? periods[i].start : from;
			int64_t b = periods[i].end < to ? periods[i].end : to;
			if (b > a)
				total += b - a;
		}
		day++;
	}
	return total;
}

bool cal_is_business_time(const struct calendar *cal, int64_t t)
{
	if (t < CAL_TIME_MIN || t > CAL_TIME_MAX)
		return false;
	struct period periods[CAL_MAX_INTERVALS_PER_DAY];
	int64_t day = local_day_of(cal, t);
	/* The next local date too: after a fall-back across midnight, its
	 * first period has begun while the wall clock reads this date again. */
	for (int64_t d = day; d <= day + 1; d++) {
		size_t n = day_periods(cal, d, periods);
		for (size_t i = 0; i < n; i++) {
			if (periods[i].start <= t && t < periods[i].end)
				return true;
		}
	}
	return false;
}

/* ---- formatting and parsing ---- */

static int format_time(int64_t t, int32_t offset, bool utc, char *buf, size_t size)
{
	int64_t local = t + offset;
	int64_t days = tz_floor_div(local, DAY_SECONDS);
	int64_t secs = local - days * DAY_SECONDS;
	int64_t year;
	int month, day;
	tz_civil_from_days(days, &year, &month, &day);
	if (year < 0 || year > CAL_MAX_YEAR)
		return -1;
	char zone[16];
	if (utc) {
		zone[0] = 'Z';
		zone[1] = '\0';
	} else {
		int32_t a = offset < 0 ? -offset : offset;
		char sign = offset < 0 ? '-' : '+';
		if (a % 60 != 0)
			snprintf(zone, sizeof(zone), "%c%02d:%02d:%02d", sign, a / 3600,
			         a / 60 % 60, a % 60);
		else
			snprintf(zone, sizeof(zone), "%c%02d:%02d", sign, a / 3600, a / 60 % 60);
	}
	char text[CAL_TIME_STRLEN];
	int len = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d%s", (int)year, month,
	                   day, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60), zone);
	/* Leave the caller's buffer untouched unless it all fits. */
	if (len < 0 || (size_t)len >= size)
		return -1;
	memcpy(buf, text, (size_t)len + 1);
	return 0;
}

int cal_format_local(const struct calendar *cal, int64_t t, char *buf, size_t size)
{
	return format_time(t, tz_offset(cal->tz, t), false, buf, size);
}

int cal_format_utc(int64_t t, char *buf, size_t size)
{
	return format_time(t, 0, true, buf, size);
}

/* Exactly n decimal digits. */
static bool take_digits(const char **p, int n, int *value_r)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*value_r = v;
	return true;
}

struct iso_time {
	int64_t local; /* date and time as local seconds */
	bool has_time, has_offset;
	int32_t offset;
};

static int parse_iso(const char *s, struct iso_time *r, const char **error_r)
{
	int year, month, day, hour = 0, minute = 0, second = 0;
	*r = (struct iso_time){0};
	if (s == NULL || !take_digits(&s, 4, &year) || *s++ != '-' || !take_digits(&s, 2, &month) ||
	    *s++ != '-' || !take_digits(&s, 2, &day) || !valid_date(year, month, day)) {
		*error_r = "invalid date (expected YYYY-MM-DD)";
		return -1;
	}
	if (*s == 'T' || *s == 't' || (*s == ' ' && s[1] != '\0')) {
		s++;
		r->has_time = true;
		if (!take_digits(&s, 2, &hour) || *s++ != ':' || !take_digits(&s, 2, &minute) ||
		    hour > 23 || minute > 59) {
			*error_r = "invalid time (expected hh:mm[:ss])";
			return -1;
		}
		if (*s == ':') {
			s++;
			if (!take_digits(&s, 2, &second) || second > 59) {
				*error_r = "invalid seconds";
				return -1;
			}
			if (*s == '.' || *s == ',') {
				s++;
				int digits = 0;
				while (*s >= '0' && *s <= '9' && digits <= 9) {
					s++;
					digits++;
				}
				if (digits == 0 || digits > 9) {
					*error_r = "invalid fraction of a second";
					return -1;
				}
			}
		}
		if (*s == 'Z' || *s == 'z') {
			s++;
			r->has_offset = true;
		} else if (*s == '+' || *s == '-') {
			int sign = *s++ == '-' ? -1 : 1;
			int oh, om = 0;
			if (!take_digits(&s, 2, &oh) || oh > 23) {
				*error_r = "invalid UTC offset (expected Z, +hh:mm, +hhmm or +hh)";
				return -1;
			}
			if (*s == ':') {
				s++;
				if (!take_digits(&s, 2, &om)) {
					*error_r =
					    "invalid UTC offset (expected Z, +hh:mm, +hhmm or +hh)";
					return -1;
				}
			} else if (*s >= '0' && *s <= '9' && !take_digits(&s, 2, &om)) {
				*error_r = "invalid UTC offset (expected Z, +hh:mm, +hhmm or +hh)";
				return -1;
			}
			if (om > 59) {
				*error_r = "invalid UTC offset minutes";
				return -1;
			}
			r->has_offset = true;
			r->offset = sign * (oh * 3600 + om * 60);
		}
	}
	if (*s != '\0') {
		*error_r = "unexpected characters after the date and time";
		return -1;
	}
	r->local =
	    tz_days_from_civil(year, month, day) * DAY_SECONDS + hour * 3600 + minute * 60 + second;
	return 0;
}

int cal_parse_iso8601(const char *s, int64_t *t_r, const char **error_r)
{
	struct iso_time it;
	if (parse_iso(s, &it, error_r) < 0)
		return -1;
	if (!it.has_time) {
		*error_r = "a date alone is ambiguous: give a time and a UTC offset";
		return -1;
	}
	if (!it.has_offset) {
		*error_r = "missing UTC offset (Z, +hh:mm, +hhmm or +hh)";
		return -1;
	}
	*t_r = it.local - it.offset;
	return 0;
}

int cal_parse_local(const struct calendar *cal, const char *s, int64_t *t_r, const char **error_r)
{
	struct iso_time it;
	if (parse_iso(s, &it, error_r) < 0)
		return -1;
	*t_r = it.has_offset ? it.local - it.offset : tz_first_instant_at_local(cal->tz, it.local);
	return 0;
}
