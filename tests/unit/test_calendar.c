/* Unit tests for daemon/calendar.c and daemon/tz.c: hand-computed SLA
 * deadlines across DST, holidays, lunch breaks and week-ends, the zone reader
 * checked against glibc, properties over random starts, ISO 8601. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>

#include "calendar.h"
#include "tz.h"

#define ICS(name) FIXTURES_DIR "/calendar/" name

/* Expected instants come from glibc's timegm(), independent of tz.c. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi,
	                .tm_sec = s};
	return (int64_t)timegm(&tm);
}

static struct cal_interval iv(const char *text)
{
	struct cal_interval r;
	const char *error = NULL;
	if (cal_parse_interval(text, &r, &error) < 0)
		fail_msg("interval %s: %s", text, error);
	return r;
}

/* Europe/Paris, Monday to Friday 09:00-12:30 and 13:30-18:00 (8 h a day,
 * 40 h = 2400 min a week), with optional holidays. */
static struct calendar *paris_office(void)
{
	const char *error = NULL;
	struct calendar *cal = cal_new("paris", "Europe/Paris", &error);
	assert_non_null(cal);
	for (int wd = 0; wd < 5; wd++) {
		assert_int_equal(cal_add_hours(cal, wd, iv("09:00-12:30"), &error), 0);
		assert_int_equal(cal_add_hours(cal, wd, iv("13:30-18:00"), &error), 0);
	}
	return cal;
}

/* The same interval on all seven days. */
static struct calendar *every_day(const char *zone, const char *interval)
{
	const char *error = NULL;
	struct calendar *cal = cal_new("daily", zone, &error);
	assert_non_null(cal);
	for (int wd = 0; wd < 7; wd++)
		assert_int_equal(cal_add_hours(cal, wd, iv(interval), &error), 0);
	return cal;
}

static int64_t add(const struct calendar *cal, int64_t start, int64_t minutes)
{
	int64_t deadline = -1;
	const char *error = NULL;
	if (cal_add_business_minutes(cal, start, minutes, &deadline, &error) < 0)
		fail_msg("add %lld min: %s", (long long)minutes, error);
	return deadline;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure replays. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* ---- parsing of the configuration values ---- */

static void test_parse_interval(void **state)
{
	(void)state;
	struct cal_interval r;
	const char *error = NULL;
	assert_int_equal(cal_parse_interval("09:00-12:30", &r, &error), 0);
	assert_int_equal(r.start_min, 540);
	assert_int_equal(r.end_min, 750);
	assert_int_equal(cal_parse_interval("9:05 - 24:00", &r, &error), 0);
	assert_int_equal(r.start_min, 545);
	assert_int_equal(r.end_min, 1440);
	assert_int_equal(cal_parse_interval("00:00-00:01", &r, &error), 0);
	assert_int_equal(r.end_min, 1);

	static const char *const bad[] = {
	    "",
	    "09:00",
	    "09:00-",
	    "10:00-09:00",
	    "09:00-09:00",
	    "24:00-24:00",
	    "09:60-10:00",
	    "09:00-25:00",
	    "09:00-24:01",
	    "0900-1000",
	    "09:00-10:00x",
	    "-09:00-10:00",
	    "09:0-10:00",
	    "009:00-10:00",
	    " 09:00-10:00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		r = (struct cal_interval){-7, -7};
		if (cal_parse_interval(bad[i], &r, &error) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(error);
		/* outputs are written only on success */
		assert_int_equal(r.start_min, -7);
	}
}

static void test_parse_weekday(void **state)
{
	(void)state;
	int wd = -1;
	const char *error = NULL;
	assert_int_equal(cal_parse_weekday("mon", &wd, &error), 0);
	assert_int_equal(wd, 0);
	assert_int_equal(cal_parse_weekday("Sunday", &wd, &error), 0);
	assert_int_equal(wd, 6);
	assert_int_equal(cal_parse_weekday("SAT", &wd, &error), 0);
	assert_int_equal(wd, 5);
	assert_int_equal(cal_parse_weekday("mo", &wd, &error), -1);
	assert_int_equal(cal_parse_weekday("lundi", &wd, &error), -1);
	assert_int_equal(cal_parse_weekday("sunday ", &wd, &error), -1);
	assert_non_null(error);
}

static void test_unknown_zone_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "Mars/Olympus_Mons",
	    "../../etc/passwd",
	    "/usr/share/zoneinfo/UTC",
	    "Europe",
	    "Europe/../UTC",
	    "zone.tab",
	    "",
	    "Europe/Paris ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;
		struct calendar *cal = cal_new("x", bad[i], &error);
		if (cal != NULL)
			fail_msg("zone \"%s\" accepted", bad[i]);
		assert_non_null(error);
	}
	const char *error = NULL;
	struct calendar *cal = cal_new("x", "America/Argentina/Buenos_Aires", &error);
	assert_non_null(cal);
	assert_string_equal(cal_timezone(cal), "America/Argentina/Buenos_Aires");
	assert_string_equal(cal_name(cal), "x");
	cal_free(&cal);
	assert_null(cal);
	cal_free(&cal); /* NULL is accepted */
}

static void test_hours_overlap_and_merge(void **state)
{
	(void)state;
	const char *error = NULL;
	struct calendar *cal = cal_new("x", "UTC", &error);
	assert_non_null(cal);
	assert_int_equal(cal_add_hours(cal, 0, iv("09:00-12:00"), &error), 0);
	assert_int_equal(cal_add_hours(cal, 0, iv("14:00-18:00"), &error), 0);
	static const char *const overlapping[] = {"11:00-13:00", "08:00-09:01", "17:59-20:00",
	                                          "10:00-11:00", "08:00-19:00"};
	for (size_t i = 0; i < sizeof(overlapping) / sizeof(overlapping[0]); i++) {
		error = NULL;
		assert_int_equal(cal_add_hours(cal, 0, iv(overlapping[i]), &error), -1);
		assert_non_null(error);
	}
	assert_int_equal(cal_add_hours(cal, 7, iv("09:00-10:00"), &error), -1);
	assert_int_equal(cal_add_hours(cal, -1, iv("09:00-10:00"), &error), -1);
	assert_int_equal(cal_add_hours(cal, 0, (struct cal_interval){600, 500}, &error), -1);
	/* Touching intervals merge: 12:00-14:00 joins both neighbours into
	 * 09:00-18:00, so Monday 2026-03-30 (UTC) 09:00 + 540 min = 18:00. */
	assert_int_equal(cal_add_hours(cal, 0, iv("12:00-14:00"), &error), 0);
	assert_true(cal_is_business_time(cal, utc(2026, 3, 30, 13, 0, 0)));
	assert_int_equal(add(cal, utc(2026, 3, 30, 9, 0, 0), 540), utc(2026, 3, 30, 18, 0, 0));
	/* 09:00-18:00 is now one interval: 18:00-19:00 touches it, no overlap. */
	assert_int_equal(cal_add_hours(cal, 0, iv("18:00-19:00"), &error), 0);
	assert_int_equal(add(cal, utc(2026, 3, 30, 9, 0, 0), 600), utc(2026, 3, 30, 19, 0, 0));
	cal_free(&cal);
}

static void test_no_business_hours(void **state)
{
	(void)state;
	const char *error = NULL;
	int64_t deadline = 42;
	struct calendar *cal = cal_new("closed", "Europe/Paris", &error);
	assert_non_null(cal);
	assert_int_equal(
	    cal_add_business_minutes(cal, utc(2026, 1, 5, 9, 0, 0), 60, &deadline, &error), -1);
	assert_non_null(error);
	assert_int_equal(deadline, 42);
	assert_int_equal(cal_business_seconds_between(cal, 0, utc(2030, 1, 1, 0, 0, 0)), 0);
	assert_false(cal_is_business_time(cal, utc(2026, 1, 5, 9, 0, 0)));

	/* Open on Mondays only, and every Monday from 2026 to 2037 a holiday:
	 * the search gives up after its 10-year bound instead of looping. */
	assert_int_equal(cal_add_hours(cal, 0, iv("09:00-17:00"), &error), 0);
	for (int64_t d = utc(2026, 1, 5, 12, 0, 0); d < utc(2038, 1, 1, 0, 0, 0); d += 7 * 86400) {
		time_t tt = (time_t)d;
		struct tm tm;
		gmtime_r(&tt, &tm);
		assert_int_equal(
		    cal_add_holiday(cal, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, &error), 0);
	}
	error = NULL;
	assert_int_equal(
	    cal_add_business_minutes(cal, utc(2026, 1, 1, 0, 0, 0), 1, &deadline, &error), -1);
	assert_non_null(error);
	assert_int_equal(deadline, 42);
	/* Negative amounts and absurd ones are refused. */
	assert_int_equal(
	    cal_add_business_minutes(cal, utc(2026, 1, 1, 0, 0, 0), -1, &deadline, &error), -1);
	assert_int_equal(
	    cal_add_business_minutes(cal, utc(2026, 1, 1, 0, 0, 0), INT64_MAX, &deadline, &error),
	    -1);
	assert_int_equal(cal_add_business_minutes(cal, INT64_MIN, 1, &deadline, &error), -1);
	cal_free(&cal);
}

/* ---- the zone reader ---- */

/* Every offset tz.c reports agrees with glibc reading the same files
 * (TZ set here, in a single-threaded test, never in the library), across
 * the table and past it (the footer rule), in zones with odd rules:
 * negative DST (Dublin), southern hemisphere, 45-minute offsets, Morocco's
 * long table. */
static void test_tz_matches_glibc(void **state)
{
	(void)state;
	static const char *const zones[] = {
	    "Europe/Paris",      "America/New_York", "Asia/Tokyo",      "Australia/Sydney",
	    "America/Sao_Paulo", "Asia/Kolkata",     "Pacific/Chatham", "Europe/Dublin",
	    "Africa/Casablanca", "America/St_Johns", "Pacific/Apia",    "UTC",
	};
	const char *saved = getenv("TZ");
	char *saved_copy = saved != NULL ? strdup(saved) : NULL;
	long checked = 0;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		const char *error = NULL;
		struct tz *tz = tz_load(zones[z], &error);
		if (tz == NULL)
			fail_msg("%s: %s", zones[z], error);
		setenv("TZ", zones[z], 1);
		tzset();
		/* 1970..2100 in steps of a bit more than 5 hours. */
		for (int64_t t = 0; t < utc(2100, 1, 1, 0, 0, 0); t += 5 * 3600 + 1187) {
			time_t tt = (time_t)t;
			struct tm tm;
			localtime_r(&tt, &tm);
			if (tz_offset(tz, t) != tm.tm_gmtoff)
				fail_msg("%s at %lld: tz %d, glibc %ld", zones[z], (long long)t,
				         tz_offset(tz, t), tm.tm_gmtoff);
			checked++;
		}
		/* Around every change: the second before and the second of. */
		int64_t t = 0;
		for (int i = 0; i < 400; i++) {
			int32_t off;
			int64_t next;
			tz_lookup(tz, t, &off, &next);
			if (next == INT64_MAX || next > utc(2100, 1, 1, 0, 0, 0))
				break;
			assert_true(next > t);
			for (int64_t probe = next - 1; probe <= next; probe++) {
				time_t tt = (time_t)probe;
				struct tm tm;
				localtime_r(&tt, &tm);
				if (tz_offset(tz, probe) != tm.tm_gmtoff)
					fail_msg("%s at change %lld: tz %d, glibc %ld", zones[z],
					         (long long)probe, tz_offset(tz, probe),
					         tm.tm_gmtoff);
			}
			t = next;
		}
		tz_free(&tz);
		assert_null(tz);
	}
	if (saved_copy != NULL)
		setenv("TZ", saved_copy, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved_copy);
	print_message("tz: %ld instants agree with glibc\n", checked);
}

/* The footer rule alone reproduces the table where both apply. */
static void test_tz_posix_rules(void **state)
{
	(void)state;
	struct {
		const char *zone, *rule;
		int from_year;
	} cases[] = {
	    {"Europe/Paris", "CET-1CEST,M3.5.0,M10.5.0/3", 1996},
	    {"America/New_York", "EST5EDT,M3.2.0,M11.1.0", 2007},
	    {"Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3", 2008},
	    {"Europe/Dublin", "IST-1GMT0,M10.5.0,M3.5.0/1", 1996},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *error = NULL;
		struct tz *file = tz_load(cases[i].zone, &error);
		struct tz *rule = tz_from_posix(cases[i].rule, &error);
		assert_non_null(file);
		assert_non_null(rule);
		for (int64_t t = utc(cases[i].from_year, 6, 1, 0, 0, 0);
		     t < utc(2037, 1, 1, 0, 0, 0); t += 3 * 3600 + 17)
			if (tz_offset(file, t) != tz_offset(rule, t))
				fail_msg("%s at %lld: file %d, rule %d", cases[i].zone,
				         (long long)t, tz_offset(file, t), tz_offset(rule, t));
		tz_free(&file);
		tz_free(&rule);
	}
	const char *error = NULL;
	struct tz *tz = tz_from_posix("<+0330>-3:30", &error);
	assert_non_null(tz);
	assert_int_equal(tz_offset(tz, utc(2026, 7, 1, 0, 0, 0)), 3 * 3600 + 1800);
	tz_free(&tz);
	/* Whole-year DST (RFC 8536 example): always EDT, -4 h. */
	tz = tz_from_posix("EST5EDT,0/0,J365/25", &error);
	assert_non_null(tz);
	assert_int_equal(tz_offset(tz, utc(2026, 1, 1, 3, 0, 0)), -4 * 3600);
	assert_int_equal(tz_offset(tz, utc(2026, 7, 1, 0, 0, 0)), -4 * 3600);
	assert_int_equal(tz_offset(tz, utc(2026, 12, 31, 23, 0, 0)), -4 * 3600);
	tz_free(&tz);
	/* Julian day forms in the leap year 2028, with std -3 h, DST -2 h and
	 * changes at 00:00 local: J60 is 1 March (Feb 29 never counts), so DST
	 * starts at 03:00Z on 1 March; zero-based 59 is 29 February. */
	tz = tz_from_posix("XXX3YYY,J60/0,J300/0", &error);
	assert_non_null(tz);
	assert_int_equal(tz_offset(tz, utc(2028, 3, 1, 2, 59, 59)), -3 * 3600);
	assert_int_equal(tz_offset(tz, utc(2028, 3, 1, 3, 0, 0)), -2 * 3600);
	tz_free(&tz);
	tz = tz_from_posix("XXX3YYY,59/0,300/0", &error);
	assert_non_null(tz);
	assert_int_equal(tz_offset(tz, utc(2028, 2, 29, 2, 59, 59)), -3 * 3600);
	assert_int_equal(tz_offset(tz, utc(2028, 2, 29, 3, 0, 0)), -2 * 3600);
	/* In 2027 (not leap) day 59 is 1 March. */
	assert_int_equal(tz_offset(tz, utc(2027, 3, 1, 2, 59, 59)), -3 * 3600);
	assert_int_equal(tz_offset(tz, utc(2027, 3, 1, 3, 0, 0)), -2 * 3600);
	tz_free(&tz);
	static const char *const bad[] = {"",
	                                  "CE-1",
	                                  "CET",
	                                  "CET-1CEST,M13.1.0,M10.5.0",
	                                  "CET-1CEST,M3.5.0",
	                                  "CET-1CEST,M3.6.0,M10.5.0",
	                                  "CET-25",
	                                  "<+03-3",
	                                  "CET-1CEST,J0,J365",
	                                  "CET-1 "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (tz_from_posix(bad[i], &error) != NULL)
			fail_msg("rule \"%s\" accepted", bad[i]);
		assert_non_null(error);
	}
}

/* Damaged TZif files are refused, never read out of bounds (the sanitizer
 * build checks): every truncation of a real file, and random byte flips
 * (a flipped file may still load: it must then answer lookups). */
static void test_tz_damaged_files(void **state)
{
	(void)state;
	FILE *f = fopen("/usr/share/zoneinfo/Europe/Paris", "rb");
	assert_non_null(f);
	static unsigned char data[65536];
	size_t size = fread(data, 1, sizeof(data), f);
	fclose(f);
	assert_true(size > 100 && size < sizeof(data));
	char path[] = "/tmp/test_calendar_tzXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	for (size_t len = 0; len < size; len++) {
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(data, 1, len, f), len);
		fclose(f);
		const char *error = NULL;
		struct tz *tz = tz_load_file(path, "cut", &error);
		if (tz != NULL)
			fail_msg("a TZif file cut at %zu of %zu bytes loaded", len, size);
		assert_non_null(error);
	}
	for (int i = 0; i < 3000; i++) {
		static unsigned char copy[65536];
		memcpy(copy, data, size);
		for (int k = 0; k < 3; k++)
			copy[rng() % size] ^= (unsigned char)(1u << (rng() % 8));
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(copy, 1, size, f), size);
		fclose(f);
		const char *error = NULL;
		struct tz *tz = tz_load_file(path, "flipped", &error);
		if (tz == NULL) {
			assert_non_null(error);
			continue;
		}
		for (int64_t t = utc(1900, 1, 1, 0, 0, 0); t < utc(2100, 1, 1, 0, 0, 0);
		     t += 97 * 86400) {
			int32_t off = tz_offset(tz, t);
			assert_true(off > -27 * 3600 && off < 27 * 3600);
			int64_t back = tz_first_instant_at_local(tz, t + off);
			assert_true(back <= t);
		}
		tz_free(&tz);
	}
	unlink(path);
}

/* tz_first_instant_at_local(): the answer reaches the wall time and the
 * second before it does not, for random wall times around DST changes. */
static void test_tz_first_instant(void **state)
{
	(void)state;
	const char *error = NULL;
	struct tz *tz = tz_load("Europe/Paris", &error);
	assert_non_null(tz);
	/* 2026-03-29 02:30 does not exist: the jump at 01:00Z. */
	assert_int_equal(tz_first_instant_at_local(tz, utc(2026, 3, 29, 2, 30, 0)),
	                 utc(2026, 3, 29, 1, 0, 0));
	/* 2026-10-25 02:30 happens twice: the first time, 00:30Z (CEST). */
	assert_int_equal(tz_first_instant_at_local(tz, utc(2026, 10, 25, 2, 30, 0)),
	                 utc(2026, 10, 25, 0, 30, 0));
	/* 03:00 on that day first shows at 02:00Z (the second 02:00-03:00 is CET). */
	assert_int_equal(tz_first_instant_at_local(tz, utc(2026, 10, 25, 3, 0, 0)),
	                 utc(2026, 10, 25, 2, 0, 0));
	for (int i = 0; i < 20000; i++) {
		int64_t base = (i % 2) ? utc(2026, 3, 29, 1, 0, 0) : utc(2026, 10, 25, 1, 0, 0);
		if (i % 5 == 0)
			base = utc(1990, 1, 1, 0, 0, 0) +
			       (int64_t)(rng() % (UINT64_C(80) * 365 * 86400));
		int64_t local = base + (int64_t)(rng() % (6 * 3600)) - 3 * 3600;
		int64_t t = tz_first_instant_at_local(tz, local);
		assert_true(t + tz_offset(tz, t) >= local);
		assert_true(t - 1 + tz_offset(tz, t - 1) < local);
	}
	tz_free(&tz);
}

/* ---- hand-computed deadlines ---- */

static void test_paris_march_dst_weekend(void **state)
{
	(void)state;
	struct calendar *cal = paris_office();
	/* Friday 2026-03-27 17:00 CET (16:00Z) + 120 min: 60 min until 18:00
	 * CET; the week-end of 28-29 March (clocks go forward on Sunday 29 at
	 * 01:00Z); Monday 30 09:00 CEST (07:00Z) + 60 min = 10:00 CEST = 08:00Z. */
	int64_t d = add(cal, utc(2026, 3, 27, 16, 0, 0), 120);
	assert_int_equal(d, utc(2026, 3, 30, 8, 0, 0));
	char buf[CAL_TIME_STRLEN];
	assert_int_equal(cal_format_local(cal, d, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-03-30T10:00:00+02:00");
	/* 64 real hours passed, of which 2 h are business time. */
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 3, 27, 16, 0, 0), d), 7200);
	cal_free(&cal);

	/* Open every day 09:00-18:00: Sunday 29 March still has 9 hours
	 * (07:00Z to 16:00Z in CEST), counted over the whole local day. */
	cal = every_day("Europe/Paris", "09:00-18:00");
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 3, 28, 23, 0, 0),
	                                              utc(2026, 3, 29, 22, 0, 0)),
	                 9 * 3600);
	/* Saturday 28 17:00 CET (16:00Z) + 120: 60 min Saturday, then Sunday
	 * 09:00 CEST (07:00Z) + 60 = 08:00Z. */
	assert_int_equal(add(cal, utc(2026, 3, 28, 16, 0, 0), 120), utc(2026, 3, 29, 8, 0, 0));
	cal_free(&cal);

	/* 02:00-03:00 does not exist on 29 March: 0 that day, 1 h the
	 * Sunday before (22 March, 01:00Z-02:00Z) and after (5 April, CEST:
	 * 00:00Z-01:00Z). */
	cal = every_day("Europe/Paris", "02:00-03:00");
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 3, 28, 23, 0, 0),
	                                              utc(2026, 3, 29, 22, 0, 0)),
	                 0);
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 3, 21, 23, 0, 0),
	                                              utc(2026, 3, 22, 23, 0, 0)),
	                 3600);
	assert_int_equal(
	    cal_business_seconds_between(cal, utc(2026, 4, 4, 22, 0, 0), utc(2026, 4, 5, 22, 0, 0)),
	    3600);
	/* Saturday 28 02:30 CET (01:30Z) + 60 min: 30 min Saturday, nothing
	 * Sunday, Monday 30 02:00 CEST (00:00Z) + 30 = 00:30Z. */
	assert_int_equal(add(cal, utc(2026, 3, 28, 1, 30, 0), 60), utc(2026, 3, 30, 0, 30, 0));
	assert_false(cal_is_business_time(cal, utc(2026, 3, 29, 1, 0, 0)));
	cal_free(&cal);

	/* A whole day 00:00-24:00 lasts 23 h on 29 March: 23:00Z to 22:00Z. */
	cal = every_day("Europe/Paris", "00:00-24:00");
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 3, 28, 23, 0, 0),
	                                              utc(2026, 3, 29, 22, 0, 0)),
	                 23 * 3600);
	cal_free(&cal);
}

static void test_paris_october_dst_weekend(void **state)
{
	(void)state;
	struct calendar *cal = paris_office();
	/* Friday 2026-10-23 17:00 CEST (15:00Z) + 120: 60 min until 18:00 CEST
	 * (16:00Z); clocks go back on Sunday 25 at 01:00Z; Monday 26 09:00 CET
	 * (08:00Z) + 60 = 10:00 CET = 09:00Z. */
	int64_t d = add(cal, utc(2026, 10, 23, 15, 0, 0), 120);
	assert_int_equal(d, utc(2026, 10, 26, 9, 0, 0));
	char buf[CAL_TIME_STRLEN];
	assert_int_equal(cal_format_local(cal, d, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-10-26T10:00:00+01:00");
	cal_free(&cal);

	/* 09:00-18:00 on Sunday 25 October: 08:00Z to 17:00Z in CET, 9 h. */
	cal = every_day("Europe/Paris", "09:00-18:00");
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 10, 24, 22, 0, 0),
	                                              utc(2026, 10, 25, 23, 0, 0)),
	                 9 * 3600);
	/* Saturday 24 17:30 CEST (15:30Z) + 60: 30 min, then Sunday 09:00 CET
	 * (08:00Z) + 30 = 08:30Z. */
	assert_int_equal(add(cal, utc(2026, 10, 24, 15, 30, 0), 60), utc(2026, 10, 25, 8, 30, 0));
	cal_free(&cal);

	/* 02:00-03:00 on 25 October: from the first 02:00 (00:00Z) to the
	 * first 03:00 (02:00Z), the repeated hour included: 2 h. */
	cal = every_day("Europe/Paris", "02:00-03:00");
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 10, 24, 22, 0, 0),
	                                              utc(2026, 10, 25, 23, 0, 0)),
	                 2 * 3600);
	cal_free(&cal);
	/* The whole day lasts 25 h: 22:00Z on the 24th to 23:00Z on the 25th. */
	cal = every_day("Europe/Paris", "00:00-24:00");
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 10, 24, 0, 0, 0),
	                                              utc(2026, 10, 27, 0, 0, 0)),
	                 (int64_t)72 * 3600);
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 10, 24, 22, 0, 0),
	                                              utc(2026, 10, 25, 23, 0, 0)),
	                 25 * 3600);
	/* Midnight: 24:00 of one day is 00:00 of the next, no gap. Saturday
	 * 24 23:30 CEST (21:30Z) + 60 = Sunday 00:30 CEST = 22:30Z. */
	assert_int_equal(add(cal, utc(2026, 10, 24, 21, 30, 0), 60), utc(2026, 10, 24, 22, 30, 0));
	cal_free(&cal);
}

static void test_holiday_monday(void **state)
{
	(void)state;
	const char *error = NULL;
	struct calendar *cal = paris_office();
	assert_int_equal(cal_add_holiday(cal, 2026, 4, 6, &error), 0);  /* Easter Monday */
	assert_int_equal(cal_add_holiday(cal, 2026, 5, 25, &error), 0); /* Whit Monday */
	assert_int_equal(cal_add_holiday(cal, 2026, 5, 25, &error), 0); /* twice is harmless */
	assert_int_equal(cal_holiday_count(cal), 2);
	assert_int_equal(cal_add_holiday(cal, 2026, 2, 29, &error), -1);
	assert_int_equal(cal_add_holiday(cal, 2026, 13, 1, &error), -1);
	assert_int_equal(cal_add_holiday(cal, 2026, 4, 31, &error), -1);
	assert_true(cal_is_holiday(cal, 2026, 4, 6));
	assert_false(cal_is_holiday(cal, 2026, 4, 7));

	/* Thursday 2026-04-02 17:00 CEST (15:00Z) + 600 min: Thursday 60 (540
	 * left), Friday 3 April 480 (60 left), Easter Monday closed, Tuesday 7
	 * 09:00 CEST + 60 = 10:00 CEST = 08:00Z. */
	assert_int_equal(add(cal, utc(2026, 4, 2, 15, 0, 0), 600), utc(2026, 4, 7, 8, 0, 0));
	/* Friday 22 May 18:00 CEST is closing: + 0 gives the next opening,
	 * Tuesday 26 May 09:00 CEST = 07:00Z (Monday 25 is a holiday). */
	assert_int_equal(add(cal, utc(2026, 5, 22, 16, 0, 0), 0), utc(2026, 5, 26, 7, 0, 0));
	assert_false(cal_is_business_time(cal, utc(2026, 5, 25, 8, 0, 0)));
	assert_true(cal_is_business_time(cal, utc(2026, 5, 26, 8, 0, 0)));
	/* The week of Easter holds 32 h of business time: 8 h x 4 days. */
	assert_int_equal(cal_business_seconds_between(cal, utc(2026, 4, 5, 22, 0, 0),
	                                              utc(2026, 4, 12, 22, 0, 0)),
	                 32 * 3600);
	cal_free(&cal);
}

static void test_lunch_night_closing(void **state)
{
	(void)state;
	struct calendar *cal = paris_office();
	/* Split over lunch: Monday 2026-03-30 12:00 CEST (10:00Z) + 60: 30 min
	 * until 12:30, then 13:30 + 30 = 14:00 CEST = 12:00Z. */
	assert_int_equal(add(cal, utc(2026, 3, 30, 10, 0, 0), 60), utc(2026, 3, 30, 12, 0, 0));
	/* Start inside lunch: 13:00 CEST (11:00Z) + 30 = 14:00 CEST = 12:00Z;
	 * + 0 = the reopening at 13:30 CEST = 11:30Z. */
	assert_int_equal(add(cal, utc(2026, 3, 30, 11, 0, 0), 30), utc(2026, 3, 30, 12, 0, 0));
	assert_int_equal(add(cal, utc(2026, 3, 30, 11, 0, 0), 0), utc(2026, 3, 30, 11, 30, 0));
	assert_false(cal_is_business_time(cal, utc(2026, 3, 30, 11, 0, 0)));
	/* The morning used up exactly: 09:00 + 210 min = 12:30 CEST (10:30Z),
	 * the closing instant, not the reopening. */
	assert_int_equal(add(cal, utc(2026, 3, 30, 7, 0, 0), 210), utc(2026, 3, 30, 10, 30, 0));
	/* Saturday night: 2026-04-11 23:30 CEST (21:30Z) + 30 = Monday 13
	 * 09:30 CEST = 07:30Z. */
	assert_int_equal(add(cal, utc(2026, 4, 11, 21, 30, 0), 30), utc(2026, 4, 13, 7, 30, 0));
	/* Exactly at closing: Monday 30 March 18:00 CEST (16:00Z). + 0 is
	 * Tuesday 09:00 CEST (07:00Z); + 30 is 09:30 CEST (07:30Z). */
	assert_false(cal_is_business_time(cal, utc(2026, 3, 30, 16, 0, 0)));
	assert_true(cal_is_business_time(cal, utc(2026, 3, 30, 15, 59, 59)));
	assert_int_equal(add(cal, utc(2026, 3, 30, 16, 0, 0), 0), utc(2026, 3, 31, 7, 0, 0));
	assert_int_equal(add(cal, utc(2026, 3, 30, 16, 0, 0), 30), utc(2026, 3, 31, 7, 30, 0));
	/* Ending exactly at closing: 17:00 CEST + 60 = 18:00 CEST = 16:00Z. */
	assert_int_equal(add(cal, utc(2026, 3, 30, 15, 0, 0), 60), utc(2026, 3, 30, 16, 0, 0));
	/* A second-precision start: 17:59:30 CEST + 1 min: 30 s Monday, 30 s
	 * Tuesday: 09:00:30 CEST = 07:00:30Z. */
	assert_int_equal(add(cal, utc(2026, 3, 30, 15, 59, 30), 1), utc(2026, 3, 31, 7, 0, 30));
	/* 10 weeks (24000 min) from Monday 2026-01-05 09:00 CET (08:00Z), no
	 * holiday: the closing of the tenth Friday, 13 March 18:00 CET = 17:00Z. */
	assert_int_equal(add(cal, utc(2026, 1, 5, 8, 0, 0), 24000), utc(2026, 3, 13, 17, 0, 0));
	/* 12 weeks cross the DST change: Friday 27 March 18:00 CET = 17:00Z;
	 * 13 weeks: Friday 3 April 18:00 CEST = 16:00Z. */
	assert_int_equal(add(cal, utc(2026, 1, 5, 8, 0, 0), 12 * 2400), utc(2026, 3, 27, 17, 0, 0));
	assert_int_equal(add(cal, utc(2026, 1, 5, 8, 0, 0), 13 * 2400), utc(2026, 4, 3, 16, 0, 0));
	cal_free(&cal);
}

static void test_new_york_and_tokyo(void **state)
{
	(void)state;
	const char *error = NULL;
	struct calendar *ny = cal_new("ny", "America/New_York", &error);
	assert_non_null(ny);
	for (int wd = 0; wd < 5; wd++)
		assert_int_equal(cal_add_hours(ny, wd, iv("08:00-17:00"), &error), 0);
	/* US DST starts Sunday 2026-03-08. Friday 6 March 16:00 EST (21:00Z)
	 * + 120: 60 min Friday, Monday 9 08:00 EDT (12:00Z) + 60 = 13:00Z. */
	int64_t d = add(ny, utc(2026, 3, 6, 21, 0, 0), 120);
	assert_int_equal(d, utc(2026, 3, 9, 13, 0, 0));
	char buf[CAL_TIME_STRLEN];
	assert_int_equal(cal_format_local(ny, d, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-03-09T09:00:00-04:00");
	/* It ends Sunday 1 November. Friday 30 October 16:30 EDT (20:30Z) + 60:
	 * 30 min, Monday 2 November 08:00 EST (13:00Z) + 30 = 13:30Z. */
	assert_int_equal(add(ny, utc(2026, 10, 30, 20, 30, 0), 60), utc(2026, 11, 2, 13, 30, 0));
	cal_free(&ny);

	struct calendar *tokyo = cal_new("tokyo", "Asia/Tokyo", &error);
	assert_non_null(tokyo);
	for (int wd = 0; wd < 5; wd++) {
		assert_int_equal(cal_add_hours(tokyo, wd, iv("09:00-12:00"), &error), 0);
		assert_int_equal(cal_add_hours(tokyo, wd, iv("13:00-18:00"), &error), 0);
	}
	/* Friday 2026-03-27 17:30 JST (08:30Z) + 600 min: 30 Friday; Monday
	 * 180 + 300 (510 used); Tuesday 31 09:00 + 90 = 10:30 JST = 01:30Z. */
	d = add(tokyo, utc(2026, 3, 27, 8, 30, 0), 600);
	assert_int_equal(d, utc(2026, 3, 31, 1, 30, 0));
	assert_int_equal(cal_format_local(tokyo, d, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-03-31T10:30:00+09:00");
	/* Sunday 29 March 23:00 UTC is Monday 08:00 JST: + 0 = 09:00 JST. */
	assert_int_equal(add(tokyo, utc(2026, 3, 29, 23, 0, 0), 0), utc(2026, 3, 30, 0, 0, 0));
	cal_free(&tokyo);
}

static void test_ical_holidays(void **state)
{
	(void)state;
	const char *error = NULL;
	struct calendar *cal = paris_office();
	if (cal_load_ical_holidays(cal, ICS("holidays.ics"), &error) < 0)
		fail_msg("holidays.ics: %s", error);
	/* Yearly rules from their DTSTART year up to 2100. */
	assert_false(cal_is_holiday(cal, 2019, 1, 1));
	assert_true(cal_is_holiday(cal, 2020, 1, 1));
	assert_true(cal_is_holiday(cal, 2026, 1, 1));
	assert_true(cal_is_holiday(cal, 2031, 1, 1));
	assert_true(cal_is_holiday(cal, 2100, 1, 1));
	assert_true(cal_is_holiday(cal, 2026, 12, 25));
	assert_false(cal_is_holiday(cal, 2026, 12, 26)); /* DTEND is exclusive */
	/* EXDATE removes one occurrence. */
	assert_true(cal_is_holiday(cal, 2026, 5, 1));
	assert_false(cal_is_holiday(cal, 2027, 5, 1));
	assert_true(cal_is_holiday(cal, 2028, 5, 1));
	/* Single dates, a two-day event, a three-day DURATION. */
	assert_true(cal_is_holiday(cal, 2026, 4, 6));
	assert_false(cal_is_holiday(cal, 2027, 4, 6));
	assert_true(cal_is_holiday(cal, 2026, 5, 14));
	assert_true(cal_is_holiday(cal, 2026, 5, 15));
	assert_false(cal_is_holiday(cal, 2026, 5, 16));
	assert_true(cal_is_holiday(cal, 2026, 8, 10));
	assert_true(cal_is_holiday(cal, 2026, 8, 12));
	assert_false(cal_is_holiday(cal, 2026, 8, 13));
	/* The timed weekly meeting is not a holiday. */
	assert_false(cal_is_holiday(cal, 2026, 4, 7));
	assert_false(cal_is_holiday(cal, 2026, 4, 14));
	/* 81 New Years + 81 Christmases + 77 May Days - 1 + 1 + 2 + 3. */
	assert_int_equal(cal_holiday_count(cal), 81 + 81 + 76 + 1 + 2 + 3);

	/* Wednesday 2026-05-13 17:00 CEST (15:00Z) + 120: 60 min Wednesday,
	 * Thursday 14 and Friday 15 closed, Monday 18 09:00 CEST + 60 =
	 * 10:00 CEST = 08:00Z. */
	assert_int_equal(add(cal, utc(2026, 5, 13, 15, 0, 0), 120), utc(2026, 5, 18, 8, 0, 0));
	/* Thursday 2026-12-24 17:00 CET (16:00Z) + 120: 60 min, Christmas
	 * Friday closed, Monday 28 09:00 CET + 60 = 10:00 CET = 09:00Z. */
	assert_int_equal(add(cal, utc(2026, 12, 24, 16, 0, 0), 120), utc(2026, 12, 28, 9, 0, 0));

	/* Errors leave the calendar unchanged. */
	size_t before = cal_holiday_count(cal);
	error = NULL;
	assert_int_equal(cal_load_ical_holidays(cal, ICS("not-ical.ics"), &error), -1);
	assert_non_null(error);
	error = NULL;
	assert_int_equal(cal_load_ical_holidays(cal, ICS("no-dtstart.ics"), &error), -1);
	assert_non_null(error);
	error = NULL;
	assert_int_equal(cal_load_ical_holidays(cal, ICS("missing.ics"), &error), -1);
	assert_non_null(error);
	error = NULL;
	assert_int_equal(cal_load_ical_holidays(cal, FIXTURES_DIR "/calendar", &error), -1);
	assert_non_null(error);
	assert_int_equal(cal_holiday_count(cal), before);
	cal_free(&cal);
}

/* Chile changes its clocks at Saturday 24:00, a wall time never shown.
 * Fall back (tzdata 2026): at 03:00Z on Sunday 5 April the clock goes from
 * Saturday 23:59:59 -03 to Saturday 23:00 -04, so Saturday 23:00-24:00
 * happens twice and Sunday 00:00 is first read at 04:00Z. Spring forward:
 * at 04:00Z on Sunday 6 September, Saturday 23:59:59 -04 is followed by
 * Sunday 01:00 -03: Sunday begins at the jump and lasts 23 h. */
static void test_midnight_changes(void **state)
{
	(void)state;
	const char *error = NULL;
	struct calendar *cal = cal_new("santiago", "America/Santiago", &error);
	assert_non_null(cal);
	assert_int_equal(cal_add_hours(cal, 6, iv("00:00-24:00"), &error), 0);
	/* The repeated Saturday hour is not Sunday. */
	assert_false(cal_is_business_time(cal, utc(2026, 4, 5, 3, 30, 0)));
	assert_true(cal_is_business_time(cal, utc(2026, 4, 5, 4, 0, 0)));
	char buf[CAL_TIME_STRLEN];
	assert_int_equal(cal_format_local(cal, utc(2026, 4, 5, 3, 30, 0), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-04-04T23:30:00-04:00");
	/* Sunday 5 April: 04:00Z to Monday 00:00 -04 = 04:00Z, 24 h. */
	assert_int_equal(
	    cal_business_seconds_between(cal, utc(2026, 4, 4, 0, 0, 0), utc(2026, 4, 7, 0, 0, 0)),
	    24 * 3600);
	assert_int_equal(add(cal, utc(2026, 4, 4, 15, 0, 0), 0), utc(2026, 4, 5, 4, 0, 0));
	assert_int_equal(add(cal, utc(2026, 4, 4, 15, 0, 0), 24 * 60), utc(2026, 4, 6, 4, 0, 0));
	/* Sunday 6 September: 04:00Z (01:00 -03) to Monday 00:00 -03 =
	 * 03:00Z on the 7th, 23 h. */
	assert_int_equal(
	    cal_business_seconds_between(cal, utc(2026, 9, 5, 0, 0, 0), utc(2026, 9, 8, 0, 0, 0)),
	    23 * 3600);
	assert_int_equal(add(cal, utc(2026, 9, 5, 15, 0, 0), 0), utc(2026, 9, 6, 4, 0, 0));
	assert_int_equal(cal_format_local(cal, utc(2026, 9, 6, 4, 0, 0), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-09-06T01:00:00-03:00");
	assert_int_equal(add(cal, utc(2026, 9, 5, 15, 0, 0), 23 * 60), utc(2026, 9, 7, 3, 0, 0));
	/* One minute more: the next Sunday opens at 00:00 -03 = 03:00Z. */
	assert_int_equal(add(cal, utc(2026, 9, 5, 15, 0, 0), 23 * 60 + 1),
	                 utc(2026, 9, 13, 3, 1, 0));
	cal_free(&cal);
}

/* ---- properties ---- */

/* Over many random starts (minute and second precision, 2025-2029, DST
 * week-ends included) and amounts, with the iCalendar holidays:
 * - add(add(s, a), b) == add(s, a + b) for b > 0;
 * - a deadline d of m > 0 minutes is inside business time or exactly at a
 *   closing: the second before d is business time;
 * - add(s, 0) is business time and nothing of it elapsed since s;
 * - business_seconds_between(s, add(s, m)) == m * 60. */
static void test_properties(void **state)
{
	(void)state;
	const char *error = NULL;
	struct calendar *cal = paris_office();
	assert_int_equal(cal_load_ical_holidays(cal, ICS("holidays.ics"), &error), 0);
	int64_t base = utc(2025, 1, 1, 0, 0, 0), span = utc(2029, 1, 1, 0, 0, 0) - base;
	for (int i = 0; i < 3000; i++) {
		int64_t s = base + (int64_t)(rng() % (uint64_t)span);
		if (i % 2 == 0)
			s -= s % 60;
		if (i % 7 == 0) /* near a DST change: Paris week-ends of 2026 */
			s = (i % 14 ? utc(2026, 3, 27, 0, 0, 0) : utc(2026, 10, 23, 0, 0, 0)) +
			    (int64_t)(rng() % (4 * 86400));
		/* From a few minutes to a few months of business time. */
		int64_t a = (int64_t)(rng() % (i % 3 == 0 ? 40000 : 1500));
		int64_t b = 1 + (int64_t)(rng() % (i % 5 == 0 ? 30000 : 900));
		int64_t da = add(cal, s, a);
		int64_t dab = add(cal, da, b);
		int64_t direct = add(cal, s, a + b);
		if (dab != direct)
			fail_msg("start %lld a %lld b %lld: %lld vs %lld", (long long)s,
			         (long long)a, (long long)b, (long long)dab, (long long)direct);
		assert_true(cal_is_business_time(cal, direct - 1));
		assert_int_equal(cal_business_seconds_between(cal, s, direct), (a + b) * 60);
		assert_int_equal(cal_business_seconds_between(cal, s, da), a * 60);
		int64_t open = add(cal, s, 0);
		assert_true(open >= s);
		assert_true(cal_is_business_time(cal, open));
		assert_int_equal(cal_business_seconds_between(cal, s, open), 0);
		if (a > 0)
			assert_true(cal_is_business_time(cal, da - 1));
		/* Additivity of the elapsed time over a split point. */
		int64_t mid = s + (int64_t)(rng() % (uint64_t)(direct - s + 1));
		assert_int_equal(cal_business_seconds_between(cal, s, mid) +
		                     cal_business_seconds_between(cal, mid, direct),
		                 (a + b) * 60);
	}
	cal_free(&cal);
}

/* An independent oracle: glibc's localtime_r (TZ set in this test only)
 * stepped minute by minute. The weekly hours are given as text so that the
 * oracle does not share the calendar's tables; holidays come from the
 * calendar's date set only. Interval bounds avoid 02:00-03:00, where the
 * oracle's "minutes whose wall time is inside" and the calendar's "from the
 * first reading of start to the first reading of end" may differ. */
struct oracle_hours {
	const char *intervals[7][3]; /* NULL-terminated per weekday */
};

static bool oracle_is_business_minute(const struct calendar *cal, const struct oracle_hours *h,
                                      time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	if (cal_is_holiday(cal, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday))
		return false;
	int wd = (tm.tm_wday + 6) % 7, m = tm.tm_hour * 60 + tm.tm_min;
	for (int i = 0; i < 3 && h->intervals[wd][i] != NULL; i++) {
		const char *s = h->intervals[wd][i]; /* "HH:MM-HH:MM" */
		int start =
		    ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
		int end =
		    ((s[6] - '0') * 10 + (s[7] - '0')) * 60 + (s[9] - '0') * 10 + (s[10] - '0');
		if (m >= start && m < end)
			return true;
	}
	return false;
}

static struct calendar *oracle_calendar(const char *zone, const struct oracle_hours *h)
{
	const char *error = NULL;
	struct calendar *cal = cal_new("oracle", zone, &error);
	assert_non_null(cal);
	for (int wd = 0; wd < 7; wd++)
		for (int i = 0; i < 3 && h->intervals[wd][i] != NULL; i++)
			assert_int_equal(cal_add_hours(cal, wd, iv(h->intervals[wd][i]), &error),
			                 0);
	assert_int_equal(cal_load_ical_holidays(cal, ICS("holidays.ics"), &error), 0);
	return cal;
}

static void check_against_oracle(const char *zone, const struct oracle_hours *h, int cases,
                                 int64_t max_minutes)
{
	struct calendar *cal = oracle_calendar(zone, h);
	setenv("TZ", zone, 1);
	tzset();
	for (int i = 0; i < cases; i++) {
		/* Minute-aligned starts, many around the 2026 DST week-ends (EU
		 * and US) and the May holidays. */
		int64_t s;
		switch (i % 4) {
		case 0:
			s = utc(2026, 3, 20, 0, 0, 0);
			break;
		case 1:
			s = utc(2026, 10, 16, 0, 0, 0);
			break;
		case 2:
			s = utc(2026, 2, 27, 0, 0, 0);
			break;
		default:
			s = utc(2026, 4, 25, 0, 0, 0);
			break;
		}
		s += (int64_t)(rng() % (14 * 86400));
		s -= s % 60;
		int64_t m = 1 + (int64_t)(rng() % (uint64_t)max_minutes);
		int64_t t = s, count = 0;
		while (count < m) {
			if (oracle_is_business_minute(cal, h, (time_t)t))
				count++;
			t += 60;
		}
		if (add(cal, s, m) != t)
			fail_msg("%s: start %lld + %lld min: calendar %lld, oracle %lld", zone,
			         (long long)s, (long long)m, (long long)add(cal, s, m),
			         (long long)t);
		int64_t oracle_seconds = 0;
		int64_t to = s + (int64_t)(rng() % (30 * 86400));
		to -= to % 60;
		for (int64_t x = s; x < to; x += 60)
			oracle_seconds += oracle_is_business_minute(cal, h, (time_t)x) ? 60 : 0;
		assert_int_equal(cal_business_seconds_between(cal, s, to), oracle_seconds);
	}
	unsetenv("TZ");
	tzset();
	cal_free(&cal);
}

static void test_against_minute_oracle(void **state)
{
	(void)state;
	/* The Paris office of the other tests. */
	struct oracle_hours office = {{{"09:00-12:30", "13:30-18:00"},
	                               {"09:00-12:30", "13:30-18:00"},
	                               {"09:00-12:30", "13:30-18:00"},
	                               {"09:00-12:30", "13:30-18:00"},
	                               {"09:00-12:30", "13:30-18:00"}}};
	check_against_oracle("Europe/Paris", &office, 100, 3000);
	/* Open every day, with night hours that span the DST changes on
	 * Sunday (01:00-04:00 lasts 2 h in March, 4 h in October). Short
	 * days keep the week jump in play for amounts of a few weeks. */
	struct oracle_hours nights = {{
	    {"07:00-09:00", "22:00-24:00"},
	    {"07:00-09:00", "22:00-24:00"},
	    {"07:00-09:00", "22:00-24:00"},
	    {"07:00-09:00", "22:00-24:00"},
	    {"07:00-09:00", "22:00-24:00"},
	    {"00:00-01:00", "07:00-09:00"},
	    {"01:00-04:00", "07:00-09:00", "22:00-24:00"},
	}};
	check_against_oracle("Europe/Paris", &nights, 100, 6000);
	check_against_oracle("America/New_York", &nights, 100, 6000);
}

/* Open around the clock, business time is real time: add(s, m) = s + 60 m
 * and between(a, b) = b - a, whatever the DST changes in between (a week
 * holding one lasts 167 or 169 hours, not 168). */
static void test_always_open(void **state)
{
	(void)state;
	static const char *const zones[] = {"Europe/Paris",     "America/New_York",
	                                    "Australia/Sydney", "Europe/Dublin",
	                                    "Asia/Tokyo",       "America/Santiago"};
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		struct calendar *cal = every_day(zones[z], "00:00-24:00");
		for (int i = 0; i < 500; i++) {
			int64_t s = utc(2025, 1, 1, 0, 0, 0) +
			            (int64_t)(rng() % (UINT64_C(5) * 365 * 86400));
			int64_t m = (int64_t)(rng() % (i % 2 ? 200000 : 20000));
			if (add(cal, s, m) != s + 60 * m)
				fail_msg("%s: %lld + %lld min gave %lld", zones[z], (long long)s,
				         (long long)m, (long long)add(cal, s, m));
			int64_t to = s + (int64_t)(rng() % (UINT64_C(400) * 86400));
			assert_int_equal(cal_business_seconds_between(cal, s, to), to - s);
			assert_true(cal_is_business_time(cal, s));
		}
		cal_free(&cal);
	}
}

/* The week jump agrees with walking: one add of ~9 years equals 468 adds of
 * one week each (one week exactly never takes the jump), and it is fast. */
static void test_long_amounts(void **state)
{
	(void)state;
	const char *error = NULL;
	struct calendar *cal = paris_office();
	assert_int_equal(cal_load_ical_holidays(cal, ICS("holidays.ics"), &error), 0);
	int64_t s = utc(2026, 1, 5, 10, 17, 0);
	int64_t chained = s;
	for (int w = 0; w < 468; w++)
		chained = add(cal, chained, 2400);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int64_t direct = 0;
	for (int i = 0; i < 100; i++)
		direct = add(cal, s, 468 * 2400);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(direct, chained);
	assert_int_equal(cal_business_seconds_between(cal, s, direct), (int64_t)468 * 2400 * 60);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("calendar: 9 years of business minutes: %.3f ms per deadline\n", ms / 100);
	/* A typical SLA target: up to two days of business time. */
	static int64_t starts[10000];
	for (size_t i = 0; i < 10000; i++)
		starts[i] = utc(2026, 1, 1, 0, 0, 0) + (int64_t)(rng() % (365 * 86400));
	int64_t sink = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < 10000; i++)
		sink += add(cal, starts[i], 1 + (int64_t)(i % 960));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(sink > 0);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("calendar: deadlines of 1..960 min: %.2f us each\n", ms * 1e3 / 10000);
	/* Beyond the 10-year search bound: refused, not looped on. */
	int64_t deadline;
	assert_int_equal(cal_add_business_minutes(cal, s, 2400 * 53 * 11, &deadline, &error), -1);
	/* A report over a century stays quick and exact in total. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int64_t century =
	    cal_business_seconds_between(cal, utc(2000, 1, 1, 0, 0, 0), utc(2100, 1, 1, 0, 0, 0));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("calendar: business time over 2000-2099: %.3f ms\n", ms);
	assert_int_equal(century, cal_business_seconds_between(cal, utc(2000, 1, 1, 0, 0, 0),
	                                                       utc(2050, 1, 1, 0, 0, 0)) +
	                              cal_business_seconds_between(cal, utc(2050, 1, 1, 0, 0, 0),
	                                                           utc(2100, 1, 1, 0, 0, 0)));
	cal_free(&cal);
}

struct thread_job {
	const struct calendar *cal;
	const int64_t *starts, *amounts, *expected;
	size_t n;
	int mismatches;
};

static void *thread_run(void *arg)
{
	struct thread_job *job = arg;
	for (size_t i = 0; i < job->n; i++) {
		int64_t d;
		const char *error;
		if (cal_add_business_minutes(job->cal, job->starts[i], job->amounts[i], &d,
		                             &error) < 0 ||
		    d != job->expected[i])
			job->mismatches++;
	}
	return NULL;
}

/* One calendar shared read-only by four threads gives the same answers. */
static void test_threads(void **state)
{
	(void)state;
	enum { N = 400, THREADS = 4 };
	const char *error = NULL;
	struct calendar *cal = paris_office();
	assert_int_equal(cal_load_ical_holidays(cal, ICS("holidays.ics"), &error), 0);
	static int64_t starts[N], amounts[N], expected[N];
	for (size_t i = 0; i < N; i++) {
		starts[i] = utc(2026, 1, 1, 0, 0, 0) + (int64_t)(rng() % (365 * 86400));
		amounts[i] = (int64_t)(rng() % 20000);
		expected[i] = add(cal, starts[i], amounts[i]);
	}
	pthread_t th[THREADS];
	struct thread_job jobs[THREADS];
	for (int i = 0; i < THREADS; i++) {
		jobs[i] = (struct thread_job){cal, starts, amounts, expected, N, 0};
		assert_int_equal(pthread_create(&th[i], NULL, thread_run, &jobs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].mismatches, 0);
	}
	cal_free(&cal);
}

/* ---- ISO 8601 ---- */

static void test_iso8601(void **state)
{
	(void)state;
	int64_t want = utc(2026, 3, 30, 8, 0, 0);
	static const char *const same[] = {
	    "2026-03-30T08:00:00Z",      "2026-03-30t08:00:00z",      "2026-03-30T08:00Z",
	    "2026-03-30T10:00:00+02:00", "2026-03-30 10:00:00+02:00", "2026-03-30T10:00+0200",
	    "2026-03-30T03:00:00-05",    "2026-03-30T08:00:00.999Z",  "2026-03-30T08:00:00,5Z",
	    "2026-03-30T13:30:00+05:30", "2026-03-29T23:00:00-09:00", "2026-03-30T08:00:00-00:00",
	    "2026-03-30T21:45:00+1345",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		int64_t t = 0;
		const char *error = NULL;
		if (cal_parse_iso8601(same[i], &t, &error) < 0)
			fail_msg("\"%s\": %s", same[i], error);
		if (t != want)
			fail_msg("\"%s\" gave %lld", same[i], (long long)t);
	}
	int64_t t;
	const char *error;
	assert_int_equal(cal_parse_iso8601("1969-12-31T23:59:59Z", &t, &error), 0);
	assert_int_equal(t, -1);
	assert_int_equal(cal_parse_iso8601("2024-02-29T12:00:00Z", &t, &error), 0);
	assert_int_equal(t, utc(2024, 2, 29, 12, 0, 0));

	static const char *const bad[] = {
	    "",
	    "2026-03-30",
	    "2026-03-30T08:00:00",
	    "2026-02-30T08:00Z",
	    "2025-02-29T08:00Z",
	    "2026-03-30T24:00Z",
	    "2026-03-30T08:60Z",
	    "2026-03-30T08:00:60Z",
	    "2026-03-30T08:00:00+2",
	    "2026-03-30T08:00:00+02:60",
	    "2026-03-30T08:00:00+24:00",
	    "2026-03-30T08:00:00Zjunk",
	    "26-03-30T08:00Z",
	    "2026-03-30T08:00:00.Z",
	    "2026-3-30T08:00Z",
	    "2026-03-30T8:00Z",
	    "2026-03-30T08:00:00.1234567890Z",
	    "2026-03-30 ",
	    " 2026-03-30T08:00Z",
	    "2026-03-30T08:00:00+02:0",
	    "2026/03/30T08:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 12345;
		error = NULL;
		if (cal_parse_iso8601(bad[i], &t, &error) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_non_null(error);
		assert_int_equal(t, 12345);
	}
	assert_int_equal(cal_parse_iso8601(NULL, &t, &error), -1);
}

static void test_format_and_parse_local(void **state)
{
	(void)state;
	const char *error = NULL;
	struct calendar *cal = paris_office();
	char buf[CAL_TIME_STRLEN];
	assert_int_equal(cal_format_utc(utc(2026, 3, 30, 8, 0, 0), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-03-30T08:00:00Z");
	assert_int_equal(cal_format_utc(-1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	/* Around the spring-forward jump at 01:00Z. */
	assert_int_equal(cal_format_local(cal, utc(2026, 3, 29, 0, 59, 59), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-03-29T01:59:59+01:00");
	assert_int_equal(cal_format_local(cal, utc(2026, 3, 29, 1, 0, 0), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-03-29T03:00:00+02:00");
	/* Paris in 1900 was on Paris mean time, +00:09:21. */
	assert_int_equal(cal_format_local(cal, utc(1900, 6, 1, 0, 0, 0), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1900-06-01T00:09:21+00:09:21");
	/* Too small a buffer, a year past 9999. */
	snprintf(buf, sizeof(buf), "untouched");
	assert_int_equal(cal_format_utc(0, buf, 20), -1);
	assert_string_equal(buf, "untouched");
	assert_int_equal(cal_format_utc(0, buf, 21), 0);
	assert_int_equal(cal_format_utc(utc(9999, 12, 31, 23, 59, 59) + 1, buf, sizeof(buf)), -1);
	/* Round trip of the local form for random instants. */
	for (int i = 0; i < 2000; i++) {
		int64_t t = utc(1970, 1, 1, 0, 0, 0) +
		            (int64_t)(rng() % (UINT64_C(130) * 365 * 86400)),
		        back;
		assert_int_equal(cal_format_local(cal, t, buf, sizeof(buf)), 0);
		assert_int_equal(cal_parse_iso8601(buf, &back, &error), 0);
		assert_int_equal(back, t);
	}
	int64_t t;
	/* Local readings: a skipped wall time gives the jump, a repeated one
	 * its first occurrence, a date its local midnight, an offset wins. */
	assert_int_equal(cal_parse_local(cal, "2026-03-29T02:30", &t, &error), 0);
	assert_int_equal(t, utc(2026, 3, 29, 1, 0, 0));
	assert_int_equal(cal_parse_local(cal, "2026-10-25T02:30:00", &t, &error), 0);
	assert_int_equal(t, utc(2026, 10, 25, 0, 30, 0));
	assert_int_equal(cal_parse_local(cal, "2026-03-30", &t, &error), 0);
	assert_int_equal(t, utc(2026, 3, 29, 22, 0, 0));
	assert_int_equal(cal_parse_local(cal, "2026-03-30T10:00:00Z", &t, &error), 0);
	assert_int_equal(t, utc(2026, 3, 30, 10, 0, 0));
	assert_int_equal(cal_parse_local(cal, "2026-03-30T10:00:00Q", &t, &error), -1);
	cal_free(&cal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_interval),
	    cmocka_unit_test(test_parse_weekday),
	    cmocka_unit_test(test_unknown_zone_refused),
	    cmocka_unit_test(test_hours_overlap_and_merge),
	    cmocka_unit_test(test_no_business_hours),
	    cmocka_unit_test(test_tz_matches_glibc),
	    cmocka_unit_test(test_tz_posix_rules),
	    cmocka_unit_test(test_tz_damaged_files),
	    cmocka_unit_test(test_tz_first_instant),
	    cmocka_unit_test(test_paris_march_dst_weekend),
	    cmocka_unit_test(test_paris_october_dst_weekend),
	    cmocka_unit_test(test_holiday_monday),
	    cmocka_unit_test(test_lunch_night_closing),
	    cmocka_unit_test(test_new_york_and_tokyo),
	    cmocka_unit_test(test_midnight_changes),
	    cmocka_unit_test(test_ical_holidays),
	    cmocka_unit_test(test_properties),
	    cmocka_unit_test(test_against_minute_oracle),
	    cmocka_unit_test(test_always_open),
	    cmocka_unit_test(test_long_amounts),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_iso8601),
	    cmocka_unit_test(test_format_and_parse_local),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
