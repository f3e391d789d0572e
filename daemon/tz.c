/* A reader for TZif files (RFC 8536) and POSIX TZ rules, so that business
 * calendars can convert between UTC and wall-clock time in any zone.
 *
 * Why our own reader rather than localtime_r() or libical's zones: glibc only
 * knows one zone per process (the TZ variable, read by tzset() into global
 * state), so switching zones under other threads is a race; libical's
 * icaltimezone keeps lazily-built, process-wide caches of its built-in zones
 * and of expanded changes, which are not safe to fill from several threads
 * and lag behind the system's tzdata. A TZif file is a small, documented
 * format; once read, a zone here is immutable and any thread may query it,
 * and the data is Debian's tzdata, updated with the system. */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

#define TZ_DIR "/usr/share/zoneinfo"
#define TZ_MAX_NAME 128
/* Real files are a few KiB; the limits only stop a corrupt one. */
#define TZ_MAX_FILE (1024 * 1024)
#define TZ_MAX_TRANSITIONS 65536
#define TZ_MAX_TYPES 256
#define TZ_MAX_CHARS 4096
#define TZ_MAX_RULE 256
/* RFC 8536: offsets stay within about a day of UTC. */
#define TZ_MAX_OFFSET (26 * 3600)

/* A date in a POSIX rule: Jn (1..365, never Feb 29), n (0..365, counting
 * Feb 29) or Mm.w.d (day d of week w of month m, w = 5 is "last"). */
struct tz_rule_date {
	char kind; /* 'J', 'D' or 'M' */
	int month, week, weekday, yday;
	int32_t time; /* seconds after local midnight, may be < 0 or > 24 h */
};

struct tz_rule {
	int32_t std_offset, dst_offset; /* seconds east of UTC */
	bool has_dst;
	struct tz_rule_date start, end;
};

struct tz {
	char *name;
	size_t n_transitions;
	int64_t *transitions; /* strictly increasing */
	uint8_t *transition_type;
	size_t n_types;
	int32_t *type_offset;
	bool has_rule; /* the footer rule applies after the last transition */
	struct tz_rule rule;
};

int64_t tz_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Howard Hinnant's days_from_civil / civil_from_days (public domain),
 * valid over the whole proleptic Gregorian calendar. */
int64_t tz_days_from_civil(int64_t year, int month, int day)
{
	year -= month <= 2;
	int64_t era = (year >= 0 ? year : year - 399) / 400;
	int64_t yoe = year - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int64_t *year_r, int *month_r, int *day_r)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int day = (int)(doy - (153 * mp + 2) / 5 + 1);
	int month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year_r = yoe + era * 400 + (month <= 2);
	*month_r = month;
	*day_r = day;
}

static bool is_leap(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int month_days(int64_t year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* ---- POSIX TZ rules (the TZif footer) ---- */

static bool posix_name(const char **p)
{
	const char *s = *p;
	size_t len = 0;
	if (*s == '<') {
		s++;
		while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		       (*s >= '0' && *s <= '9') || *s == '+' || *s == '-') {
			s++;
			len++;
		}
		if (*s != '>' || len < 3)
			return false;
		*p = s + 1;
		return true;
	}
	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
		s++;
		len++;
	}
	if (len < 3)
		return false;
	*p = s;
	return true;
}

static bool posix_number(const char **p, int max, int *value_r)
{
	const char *s = *p;
	int v = 0, digits = 0;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s - '0');
		if (v > max || ++digits > 3)
			return false;
		s++;
	}
	if (digits == 0)
		return false;
	*p = s;
	*value_r = v;
	return true;
}

/* [+-]hh[:mm[:ss]] with hours up to max_hours. */
static bool posix_hms(const char **p, int max_hours, int32_t *seconds_r)
{
	const char *s = *p;
	int sign = 1, h, m = 0, sec = 0;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!posix_number(&s, max_hours, &h))
		return false;
	if (*s == ':') {
		s++;
		if (!posix_number(&s, 59, &m))
			return false;
		if (*s == ':') {
			s++;
			if (!posix_number(&s, 59, &sec))
				return false;
		}
	}
	*p = s;
	*seconds_r = sign * (h * 3600 + m * 60 + sec);
	return true;
}

static bool posix_date(const char **p, struct tz_rule_date *date_r)
{
	const char *s = *p;
	struct tz_rule_date d = {.time = 2 * 3600};
	if (*s == 'M') {
		s++;
		d.kind = 'M';
		if (!posix_number(&s, 12, &d.month) || d.month < 1 || *s++ != '.' ||
		    !posix_number(&s, 5, &d.week) || d.week < 1 || *s++ != '.' ||
		    !posix_number(&s, 6, &d.weekday))
			return false;
	} else if (*s == 'J') {
		s++;
		d.kind = 'J';
		if (!posix_number(&s, 365, &d.yday) || d.yday < 1)
			return false;
	} else {
		d.kind = 'D';
		if (!posix_number(&s, 365, &d.yday))
			return false;
	}
	/* RFC 8536 extends the time to -167..167 hours. */
	if (*s == '/') {
		s++;
		if (!posix_hms(&s, 167, &d.time))
			return false;
	}
	*p = s;
	*date_r = d;
	return true;
}

static int parse_posix_rule(const char *text, struct tz_rule *rule_r)
{
	const char *s = text;
	struct tz_rule r = {0};
	int32_t off;
	if (!posix_name(&s) || !posix_hms(&s, 24, &off))
		return -1;
	/* POSIX offsets count west of Greenwich. */
	r.std_offset = -off;
	if (*s != '\0') {
		if (!posix_name(&s))
			return -1;
		r.has_dst = true;
		r.dst_offset = r.std_offset + 3600;
		if (*s != '\0' && *s != ',') {
			if (!posix_hms(&s, 24, &off))
				return -1;
			r.dst_offset = -off;
		}
		if (*s == ',') {
			s++;
			if (!posix_date(&s, &r.start) || *s++ != ',' || !posix_date(&s, &r.end))
				return -1;
		} else {
			/* No rule given: the US rule, as glibc and tzcode assume. */
			r.start =
			    (struct tz_rule_date){.kind = 'M', .month = 3, .week = 2, .time = 7200};
			r.end = (struct tz_rule_date){
			    .kind = 'M', .month = 11, .week = 1, .time = 7200};
		}
	}
	if (*s != '\0')
		return -1;
	*rule_r = r;
	return 0;
}

/* Local midnight (as a day number) of a rule date in `year`. */
static int64_t rule_date_day(const struct tz_rule_date *d, int64_t year)
{
	int64_t jan1 = tz_days_from_civil(year, 1, 1);
	if (d->kind == 'J')
		return jan1 + d->yday - 1 + (is_leap(year) && d->yday >= 60 ? 1 : 0);
	if (d->kind == 'D')
		return jan1 + d->yday;
	int64_t first = tz_days_from_civil(year, d->month, 1);
	/* 1970-01-01 was a Thursday (weekday 4 with Sunday = 0). */
	int first_wday = (int)(((first % 7) + 7 + 4) % 7);
	int64_t day = first + (d->weekday - first_wday + 7) % 7 + 7 * (d->week - 1);
	while (day >= first + month_days(year, d->month))
		day -= 7;
	return day;
}

struct rule_event {
	int64_t at;
	int32_t offset;
	int order; /* at equal instants a DST start wins over an end */
};

static void rule_lookup(const struct tz_rule *r, int64_t t, int32_t *offset_r, int64_t *next_r)
{
	if (!r->has_dst) {
		*offset_r = r->std_offset;
		*next_r = INT64_MAX;
		return;
	}
	int64_t year;
	int month, day;
	tz_civil_from_days(tz_floor_div(t + r->std_offset, 86400), &year, &month, &day);
	/* Rule times may reach 167 hours past a date, so look two years either
	 * side: the events around t are always among these. */
	struct rule_event ev[10];
	size_t n = 0;
	for (int64_t y = year - 2; y <= year + 2; y++) {
		ev[n++] = (struct rule_event){rule_date_day(&r->start, y) * 86400 + r->start.time -
		                                  r->std_offset,
		                              r->dst_offset, 1};
		ev[n++] = (struct rule_event){rule_date_day(&r->end, y) * 86400 + r->end.time -
		                                  r->dst_offset,
		                              r->std_offset, 0};
	}
	/* Insertion sort: ten elements. */
	for (size_t i = 1; i < n; i++) {
		struct rule_event e = ev[i];
		size_t j = i;
		while (j > 0 && (ev[j - 1].at > e.at ||
		                 (ev[j - 1].at == e.at && ev[j - 1].order > e.order))) {
			ev[j] = ev[j - 1];
			j--;
		}
		ev[j] = e;
	}
	int32_t offset = r->std_offset;
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].at <= t) {
			offset = ev[i].offset;
		} else {
			next = ev[i].at;
			break;
		}
	}
	*offset_r = offset;
	*next_r = next;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_header {
	char version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int tzif_header(const unsigned char *p, size_t avail, struct tzif_header *h_r)
{
	if (avail < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	h_r->version = (char)p[4];
	h_r->isutcnt = be32(p + 20);
	h_r->isstdcnt = be32(p + 24);
	h_r->leapcnt = be32(p + 28);
	h_r->timecnt = be32(p + 32);
	h_r->typecnt = be32(p + 36);
	h_r->charcnt = be32(p + 40);
	if (h_r->typecnt == 0 || h_r->typecnt > TZ_MAX_TYPES || h_r->timecnt > TZ_MAX_TRANSITIONS ||
	    h_r->charcnt > TZ_MAX_CHARS || (h_r->isutcnt != 0 && h_r->isutcnt != h_r->typecnt) ||
	    (h_r->isstdcnt != 0 && h_r->isstdcnt != h_r->typecnt) ||
	    h_r->leapcnt > TZ_MAX_TRANSITIONS)
		return -1;
	return 0;
}

static size_t tzif_data_size(const struct tzif_header *h, size_t time_size)
{
	return h->timecnt * (time_size + 1) + h->typecnt * 6 + h->charcnt +
	       h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

static int tzif_parse(struct tz *tz, const unsigned char *data, size_t size, const char **error_r)
{
	struct tzif_header h;
	size_t time_size = 4;
	const unsigned char *p = data;
	const unsigned char *end = data + size;

	if (tzif_header(p, size, &h) < 0) {
		*error_r = "not a valid TZif time zone file";
		return -1;
	}
	if (h.version != '\0') {
		/* Version 2+: skip the 32-bit block, use the 64-bit one. */
		size_t skip = 44 + tzif_data_size(&h, 4);
		if (skip > size || tzif_header(p + skip, size - skip, &h) < 0) {
			*error_r = "truncated or invalid TZif version 2+ data";
			return -1;
		}
		p += skip;
		time_size = 8;
	}
	p += 44;
	if ((size_t)(end - p) < tzif_data_size(&h, time_size)) {
		*error_r = "truncated TZif data";
		return -1;
	}
	/* Leap-second ("right/") zones count TAI-like seconds: not UTC. */
	if (h.leapcnt != 0) {
		*error_r = "time zone files with leap seconds are not supported";
		return -1;
	}

	tz->n_transitions = h.timecnt;
	tz->transitions = xcalloc(h.timecnt + 1, sizeof(*tz->transitions));
	tz->transition_type = xcalloc(h.timecnt + 1, 1);
	for (size_t i = 0; i < h.timecnt; i++) {
		tz->transitions[i] = time_size == 8 ? be64(p) : (int32_t)be32(p);
		p += time_size;
		if (i > 0 && tz->transitions[i] <= tz->transitions[i - 1]) {
			*error_r = "TZif transitions out of order";
			return -1;
		}
	}
	for (size_t i = 0; i < h.timecnt; i++) {
		tz->transition_type[i] = *p++;
		if (tz->transition_type[i] >= h.typecnt) {
			*error_r = "TZif transition names an unknown local time type";
			return -1;
		}
	}
	tz->n_types = h.typecnt;
	tz->type_offset = xcalloc(h.typecnt, sizeof(*tz->type_offset));
	for (size_t i = 0; i < h.typecnt; i++) {
		int32_t off = (int32_t)be32(p);
		if (off < -TZ_MAX_OFFSET || off > TZ_MAX_OFFSET) {
			*error_r = "TZif offset out of range";
			return -1;
		}
		tz->type_offset[i] = off;
		p += 6;
	}
	p += h.charcnt + h.isstdcnt + h.isutcnt;

	if (time_size == 8) {
		/* Footer: "\n" POSIX-TZ-string "\n"; empty means no rule. */
		if (p >= end || *p != '\n') {
			*error_r = "TZif footer missing";
			return -1;
		}
		p++;
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || nl - p > TZ_MAX_RULE) {
			*error_r = "TZif footer invalid";
			return -1;
		}
		if (nl > p) {
			char rule[TZ_MAX_RULE + 1];
			memcpy(rule, p, (size_t)(nl - p));
			rule[nl - p] = '\0';
			if (parse_posix_rule(rule, &tz->rule) < 0) {
				*error_r = "TZif footer has an invalid POSIX TZ rule";
				return -1;
			}
			tz->has_rule = true;
		}
	}
	return 0;
}

void tz_free(struct tz **tzp)
{
	struct tz *tz = *tzp;
	if (tz == NULL)
		return;
	free(tz->name);
	free(tz->transitions);
	free(tz->transition_type);
	free(tz->type_offset);
	free(tz);
	*tzp = NULL;
}

static int read_small_file(const char *path, unsigned char **data_r, size_t *size_r,
                           const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = errno == ENOENT || errno == ENOTDIR ? "unknown time zone"
		                                               : "cannot open time zone file";
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*error_r = "unknown time zone";
		return -1;
	}
	if (st.st_size > TZ_MAX_FILE) {
		close(fd);
		*error_r = "time zone file too large";
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	unsigned char *buf = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			close(fd);
			free(buf);
			*error_r = "time zone file too large";
			return -1;
		}
		ssize_t got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			close(fd);
			free(buf);
			*error_r = "cannot read time zone file";
			return -1;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	*data_r = buf;
	*size_r = len;
	return 0;
}

struct tz *tz_load_file(const char *path, const char *name, const char **error_r)
{
	unsigned char *data;
	size_t size;
	if (read_small_file(path, &data, &size, error_r) < 0)
		return NULL;
	struct tz *tz = xcalloc(1, sizeof(*tz));
	tz->name = xstrdup(name);
	int ret = tzif_parse(tz, data, size, error_r);
	free(data);
	if (ret < 0) {
		tz_free(&tz);
		return NULL;
	}
	return tz;
}

static bool valid_zone_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > TZ_MAX_NAME || name[0] == '/' || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '/' || c == '.'))
			return false;
		if (c == '.' && (name[i + 1] == '.' || name[i - 1] == '/'))
			return false;
	}
	return true;
}

struct tz *tz_load(const char *name, const char **error_r)
{
	if (name == NULL || !valid_zone_name(name)) {
		*error_r = "invalid time zone name";
		return NULL;
	}
	_cleanup_free_ char *path = xasprintf("%s/%s", TZ_DIR, name);
	return tz_load_file(path, name, error_r);
}

struct tz *tz_from_posix(const char *rule, const char **error_r)
{
	struct tz_rule r;
	if (rule == NULL || strlen(rule) > TZ_MAX_RULE || parse_posix_rule(rule, &r) < 0) {
		*error_r = "invalid POSIX TZ rule";
		return NULL;
	}
	struct tz *tz = xcalloc(1, sizeof(*tz));
	tz->name = xstrdup(rule);
	tz->rule = r;
	tz->has_rule = true;
	tz->n_types = 1;
	tz->type_offset = xcalloc(1, sizeof(*tz->type_offset));
	tz->type_offset[0] = r.std_offset;
	return tz;
}

const char *tz_name(const struct tz *tz)
{
	return tz->name;
}

void tz_lookup(const struct tz *tz, int64_t t, int32_t *offset_r, int64_t *next_change_r)
{
	size_t n = tz->n_transitions;
	if (n == 0 || t >= tz->transitions[n - 1]) {
		if (tz->has_rule) {
			rule_lookup(&tz->rule, t, offset_r, next_change_r);
			return;
		}
		if (n == 0) {
			*offset_r = tz->type_offset[0];
			*next_change_r = INT64_MAX;
			return;
		}
	}
	if (t < tz->transitions[0]) {
		/* RFC 8536 3.2: time type 0 applies before the first transition. */
		*offset_r = tz->type_offset[0];
		*next_change_r = tz->transitions[0];
		return;
	}
	/* The last transition at or before t. */
	size_t lo = 0, hi = n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->transitions[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	*offset_r = tz->type_offset[tz->transition_type[lo]];
	*next_change_r = lo + 1 < n ? tz->transitions[lo + 1] : INT64_MAX;
}

int32_t tz_offset(const struct tz *tz, int64_t t)
{
	int32_t off;
	int64_t next;
	tz_lookup(tz, t, &off, &next);
	return off;
}

int64_t tz_first_instant_at_local(const struct tz *tz, int64_t local)
{
	/* Walk the segments of constant offset from well before `local` (offsets
	 * are under 26 hours): in a segment [t, next) with offset o the wall
	 * clock shows [t + o, next + o); the first segment reaching `local`
	 * holds the answer. */
	int64_t t = local - 3 * 86400;
	int32_t off = 0;
	for (int i = 0; i < 64; i++) {
		int64_t next;
		tz_lookup(tz, t, &off, &next);
		if (next == INT64_MAX || next > local - off)
			return t > local - off ? t : local - off;
		t = next;
	}
	/* Not reached with real zones (at most a few changes in six days). */
	return local - off;
}
