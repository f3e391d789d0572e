/* triagectl sla deadline|due and triagectl report sla: business-time
 * deadlines, the tickets closest to breach, and the managers' SLA report. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calendar.h"
#include "config.h"
#include "ctl.h"
#include "view.h"
#include "parse.h"
#include "report.h"
#include "sla.h"
#include "store.h"
#include "xalloc.h"

#define DUE_DEFAULT_LIMIT 50

static const char sla_usage[] =
	"usage: triagectl sla deadline --calendar NAME --start TIME --minutes N [--json]\n"
	"       triagectl sla due [--within DURATION] [--limit N] [--json]\n"
	"deadline: when N business minutes from TIME are used up on the calendar\n"
	"  (TIME is ISO 8601; without an offset it is the calendar's local time).\n"
	"due: running SLA clocks by due time, breached first (--within 2h: only those\n"
	"  due in the next two hours).\n";

static int cmd_deadline(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{"calendar", required_argument, NULL, 'c'},
		{"start", required_argument, NULL, 's'},
		{"minutes", required_argument, NULL, 'm'},
		{0},
	};
	const char *cal_name = NULL, *start_text = NULL, *minutes_text = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'c': cal_name = optarg; break;
		case 's': start_text = optarg; break;
		case 'm': minutes_text = optarg; break;
		default: fputs(sla_usage, stderr); return CTL_USAGE;
		}
	}
	if (cal_name == NULL || start_text == NULL || minutes_text == NULL || optind < argc) {
		fputs(sla_usage, stderr);
		return CTL_USAGE;
	}
	int64_t minutes;
	if (parse_int64(minutes_text, 0, SLA_MAX_TARGET_MINUTES * 10LL, &minutes) < 0) {
		ctl_error("--minutes: expected a number of minutes, got \"%s\"", minutes_text);
		return CTL_USAGE;
	}
	struct config *cfg = ctl_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	const struct cfg_calendar *cc = config_calendar(cfg, cal_name);
	if (cc == NULL || cc->cal == NULL) {
		ctl_error("no calendar \"%s\" in the configuration", cal_name);
		return CTL_DATAERR;
	}
	const char *error;
	int64_t start, deadline;
	if (cal_parse_local(cc->cal, start_text, &start, &error) < 0) {
		ctl_error("--start: %s", error);
		return CTL_DATAERR;
	}
	if (cal_add_business_minutes(cc->cal, start, minutes, &deadline, &error) < 0) {
		ctl_error("%s", error);
		return CTL_DATAERR;
	}
	char local[CAL_TIME_STRLEN], utc[CAL_TIME_STRLEN];
	if (cal_format_local(cc->cal, deadline, local, sizeof(local)) < 0 ||
	    cal_format_utc(deadline, utc, sizeof(utc)) < 0) {
		ctl_error("deadline out of range");
		return CTL_DATAERR;
	}
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "deadline_local", local);
		cJSON_AddStringToObject(o, "deadline_utc", utc);
		ctl_print_json(o);
	} else {
		printf("%s (%s)\n", local, utc);
	}
	return CTL_OK;
}

static int cmd_due(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{"within", required_argument, NULL, 'w'},
		{"limit", required_argument, NULL, 'l'},
		{0},
	};
	int64_t within = -1, limit = DUE_DEFAULT_LIMIT;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'w':
			if (parse_duration(optarg, &within) < 0 || within < 0) {
				ctl_error("--within: expected a duration like 30m, 2h or 1d, got \"%s\"",
					  optarg);
				return CTL_USAGE;
			}
			break;
		case 'l':
			if (parse_int64(optarg, 1, 100000, &limit) < 0) {
				ctl_error("--limit: expected 1..100000, got \"%s\"", optarg);
				return CTL_USAGE;
			}
			break;
		default: fputs(sla_usage, stderr); return CTL_USAGE;
		}
	}
	if (optind < argc) {
		fputs(sla_usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	int64_t now = store_now();
	int64_t until = within >= 0 ? now + within : INT64_MAX;
	struct sla_due_row *rows = NULL;
	size_t n = 0;
	const char *error;
	if (sla_due_list(st, until, (unsigned)limit, &rows, &n, &error) < 0) {
		ctl_error("%s", error);
		return CTL_FAIL;
	}
	cJSON *list = ctl->json ? cJSON_CreateArray() : NULL;
	if (!ctl->json && n == 0)
		puts("no SLA clock due");
	for (size_t i = 0; i < n; i++) {
		const struct sla_due_row *r = &rows[i];
		char due[CAL_TIME_STRLEN];
		cal_format_utc(r->due, due, sizeof(due));
		int64_t left = r->due - now;
		if (ctl->json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "ticket", (double)r->ticket_id);
			cJSON_AddStringToObject(o, "subject", r->subject);
			cJSON_AddStringToObject(o, "queue", r->queue);
			cJSON_AddStringToObject(o, "priority", ticket_priority_name(r->priority));
			cJSON_AddStringToObject(o, "policy", r->policy);
			cJSON_AddStringToObject(o, "target", sla_target_name(r->target));
			cJSON_AddStringToObject(o, "due", due);
			cJSON_AddNumberToObject(o, "seconds_left", (double)left);
			cJSON_AddBoolToObject(o, "breached", r->breached || left < 0);
			cJSON_AddItemToArray(list, o);
		} else {
			printf("#%-7" PRId64 " %-15s %s %s%6" PRId64 " min  %-10s %-8s %s\n",
			       r->ticket_id, sla_target_name(r->target), due,
			       left < 0 ? "BREACHED " : "", (left < 0 ? -left : left) / 60, r->queue,
			       ticket_priority_name(r->priority), r->subject);
		}
	}
	if (list != NULL)
		ctl_print_json(list);
	sla_due_rows_free(&rows, n);
	return CTL_OK;
}

int ctl_cmd_sla(struct ctl *ctl, int argc, char **argv)
{
	if (ctl_wants_help(argc, argv, sla_usage))
		return CTL_OK;
	if (argc < 2) {
		fputs(sla_usage, stderr);
		return CTL_USAGE;
	}
	if (strcmp(argv[1], "deadline") == 0)
		return cmd_deadline(ctl, argc - 1, argv + 1);
	if (strcmp(argv[1], "due") == 0)
		return cmd_due(ctl, argc - 1, argv + 1);
	ctl_error("unknown sla command \"%s\"", argv[1]);
	return CTL_USAGE;
}

/* ---- report ---- */

static const char report_usage[] =
	"usage: triagectl report sla --from DATE --to DATE [--by queue|category|priority|assignee]\n"
	"                            [--format text|csv|json|html] [-o FILE]\n"
	"DATE is YYYY-MM-DD in the default calendar's zone (UTC without one); --to is\n"
	"inclusive for a date (the whole day), exclusive for a full ISO 8601 time.\n";

/* A date alone: its local midnight, or the next day's when end_of_day. */
static int parse_report_date(const struct calendar *cal, const char *text, bool end_of_day,
			     int64_t *t_r, const char **error_r)
{
	bool date_only = strlen(text) == 10 && text[4] == '-' && text[7] == '-';
	char buf[32];
	if (date_only && end_of_day) {
		int64_t y, m, d;
		char ys[5] = {0}, ms[3] = {0}, ds[3] = {0};
		memcpy(ys, text, 4), memcpy(ms, text + 5, 2), memcpy(ds, text + 8, 2);
		if (parse_int64(ys, 1900, 9999, &y) < 0 || parse_int64(ms, 1, 12, &m) < 0 ||
		    parse_int64(ds, 1, 31, &d) < 0) {
			*error_r = "expected YYYY-MM-DD";
			return -1;
		}
		struct tm tm = {.tm_year = (int)y - 1900, .tm_mon = (int)m - 1, .tm_mday = (int)d + 1};
		time_t next = timegm(&tm); /* normalises the day after */
		gmtime_r(&next, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
		text = buf;
	}
	if (cal != NULL)
		return cal_parse_local(cal, text, t_r, error_r);
	if (date_only) {
		char full[40];
		snprintf(full, sizeof(full), "%.10sT00:00:00Z", text);
		return cal_parse_iso8601(full, t_r, error_r);
	}
	return cal_parse_iso8601(text, t_r, error_r);
}

int ctl_cmd_report(struct ctl *ctl, int argc, char **argv)
{
	if (ctl_wants_help(argc, argv, report_usage))
		return CTL_OK;
	if (argc < 2 || strcmp(argv[1], "sla") != 0) {
		fputs(report_usage, stderr);
		return CTL_USAGE;
	}
	argc--, argv++;
	static const struct option options[] = {
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"by", required_argument, NULL, 'b'},
		{"format", required_argument, NULL, 'F'},
		{"output", required_argument, NULL, 'o'},
		{0},
	};
	const char *from_text = NULL, *to_text = NULL, *by = NULL, *output = NULL;
	enum report_format format = ctl->json ? REPORT_JSON : REPORT_TEXT;
	int opt;
	while ((opt = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		switch (opt) {
		case 'f': from_text = optarg; break;
		case 't': to_text = optarg; break;
		case 'b': by = optarg; break;
		case 'o': output = optarg; break;
		case 'F':
			if (report_format_parse(optarg, &format) < 0) {
				ctl_error("--format: text, csv, json or html, not \"%s\"", optarg);
				return CTL_USAGE;
			}
			break;
		default: fputs(report_usage, stderr); return CTL_USAGE;
		}
	}
	if (from_text == NULL || to_text == NULL || optind < argc) {
		fputs(report_usage, stderr);
		return CTL_USAGE;
	}
	struct config *cfg = ctl_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	const struct cfg_calendar *cc = config_calendar(cfg, cfg->default_calendar);
	const struct calendar *cal = cc != NULL ? cc->cal : NULL;
	struct report_options opts = {.by = by, .cal = cal};
	const char *error;
	if (parse_report_date(cal, from_text, false, &opts.from, &error) < 0) {
		ctl_error("--from: %s", error);
		return CTL_USAGE;
	}
	if (parse_report_date(cal, to_text, true, &opts.to, &error) < 0) {
		ctl_error("--to: %s", error);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct report *r = NULL;
	if (report_build(st, &opts, &r, &error) < 0) {
		ctl_error("%s", error);
		return CTL_DATAERR;
	}
	FILE *out = output != NULL ? fopen(output, "w") : stdout;
	if (out == NULL) {
		ctl_error("%s: cannot write", output);
		report_free(&r);
		return CTL_FAIL;
	}
	int rc = report_write(r, format, out, &error);
	if (output != NULL && fclose(out) != 0)
		rc = -1, error = "cannot write the output file";
	report_free(&r);
	if (rc < 0) {
		ctl_error("%s", error);
		return CTL_FAIL;
	}
	return CTL_OK;
}
