/* The SLA report on a fixed data set built here, every figure checked by
 * hand: volumes, medians and 90th percentiles of business time, met and
 * breached per target, backlog and its age, sentiment, categories, triage
 * share; the CSV parsed back (quotes, commas, newlines in a field), the JSON
 * read back, the HTML parsed as XML, the text table aligned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "report.h"
#include "store.h"
#include "store_sla.h"
#include "xalloc.h"

#define ODD_ASSIGNEE "Dupont, Jean \"JD\"\nParis"

struct fixture {
	char dir[64];
	struct store *st;
	int64_t from, to;
};

static int64_t T(const char *iso)
{
	int64_t t;
	const char *error;
	assert_int_equal(cal_parse_iso8601(iso, &t, &error), 0);
	return t;
}

struct spec {
	const char *queue, *category, *sentiment, *assignee;
	const char *created, *first_response, *resolved; /* NULL: none */
	bool spam;
};

static int64_t add_ticket(struct store *st, const struct spec *s)
{
	struct ticket t = {.subject = (char *)"s", .requester = (char *)"c@example.com",
			   .queue = (char *)s->queue, .status = TICKET_NEW,
			   .priority = PRIORITY_NORMAL, .created = T(s->created)};
	int64_t id;
	assert_int_equal(store_ticket_create(st, &t, &id), 0);
	assert_int_equal(store_ticket_set_triage(st, id, "fr", s->category, 0.9, s->spam,
						 s->spam ? 0.99 : 0.01, 0, s->sentiment),
			 0);
	if (s->assignee != NULL)
		assert_int_equal(store_ticket_set_assignee(st, id, s->assignee), 0);
	if (s->first_response != NULL)
		assert_int_equal(store_ticket_set_first_response(st, id, T(s->first_response)), 0);
	if (s->resolved != NULL) {
		store_set_fake_now(T(s->resolved));
		assert_int_equal(store_ticket_set_status(st, id, TICKET_RESOLVED), 0);
	}
	return id;
}

static void add_clock(struct store *st, int64_t ticket, const char *target, const char *state,
		      int64_t elapsed, const char *closed, const char *breached)
{
	struct sla_clock_row c = {
		.ticket_id = ticket, .target = (char *)target, .policy = (char *)"p",
		.minutes = 60, .started = T("2026-02-01T00:00:00Z"),
		.resumed = T("2026-02-01T00:00:00Z"), .due = T("2026-02-01T01:00:00Z"),
		.state = (char *)state, .elapsed = elapsed,
		.closed_at = closed ? T(closed) : 0, .breached_at = breached ? T(breached) : 0,
	};
	int64_t id;
	assert_int_equal(store_sla_clock_insert(st, &c, &id), 0);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_report.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *path = xasprintf("%s/triaged.db", f->dir);
	const char *error = NULL;
	assert_int_equal(store_open(path, &f->st, &error), 0);
	free(path);
	struct store *st = f->st;
	f->from = T("2026-03-01T00:00:00Z");
	f->to = T("2026-04-01T00:00:00Z");
	static const struct spec specs[] = {
		{"billing", "invoice", "negative", ODD_ASSIGNEE, "2026-03-02T10:00:00Z",
		 "2026-03-02T11:00:00Z", "2026-03-03T10:00:00Z", false},
		{"billing", "invoice", "neutral", "alice", "2026-03-02T12:00:00Z",
		 "2026-03-02T14:00:00Z", NULL, false},
		{"tech", "bug", "negative", "alice", "2026-03-05T09:00:00Z", NULL, NULL, false},
		{"tech", "bug", "positive", NULL, "2026-03-10T09:00:00Z", "2026-03-10T09:30:00Z",
		 "2026-03-10T12:00:00Z", false},
		/* Before the period, resolved in it. */
		{"tech", "invoice", "neutral", NULL, "2026-02-20T09:00:00Z", "2026-02-21T09:00:00Z",
		 "2026-03-04T09:00:00Z", false},
		/* After the period. */
		{"billing", "invoice", "negative", "alice", "2026-04-02T09:00:00Z", NULL, NULL, false},
		/* Spam, closed at once: counted apart, in no other figure. */
		{"billing", "invoice", "positive", NULL, "2026-03-03T09:00:00Z", NULL,
		 "2026-03-03T09:00:00Z", true},
		/* Spam that an agent re-triaged, then closed. */
		{"tech", "bug", "neutral", NULL, "2026-03-04T09:00:00Z", NULL, NULL, true},
		/* The customer of #0 writing again: merged into #0. */
		{"billing", "invoice", "negative", NULL, "2026-03-02T11:30:00Z", NULL, NULL, false},
	};
	int64_t id[ARRAY_SIZE(specs)];
	assert_int_equal(store_begin(st), 0);
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++)
		id[i] = add_ticket(st, &specs[i]);
	add_clock(st, id[0], "first_response", "met", 3600, "2026-03-02T11:00:00Z", NULL);
	add_clock(st, id[1], "first_response", "breached", 7200, "2026-03-02T14:00:00Z",
		  "2026-03-02T13:00:00Z");
	add_clock(st, id[2], "first_response", "running", 0, NULL, "2026-03-05T10:00:00Z");
	add_clock(st, id[3], "first_response", "met", 1800, "2026-03-10T09:30:00Z", NULL);
	add_clock(st, id[4], "first_response", "met", 600, "2026-02-21T09:00:00Z", NULL);
	add_clock(st, id[0], "resolution", "met", 32400, "2026-03-03T10:00:00Z", NULL);
	add_clock(st, id[3], "resolution", "met", 10800, "2026-03-10T12:00:00Z", NULL);
	add_clock(st, id[4], "resolution", "breached", 50000, "2026-03-04T09:00:00Z",
		  "2026-02-28T09:00:00Z");
	add_clock(st, id[1], "next_response", "stopped", 100, "2026-03-20T09:00:00Z", NULL);
	/* Spam left late before it was closed as spam: no breach counted. */
	add_clock(st, id[6], "resolution", "stopped", 0, "2026-03-03T09:00:00Z",
		  "2026-03-03T08:00:00Z");
	/* A request late before it was merged: its breach counts. */
	add_clock(st, id[8], "next_response", "stopped", 0, "2026-03-03T09:00:00Z",
		  "2026-03-02T12:30:00Z");
	store_set_fake_now(T("2026-03-03T09:00:00Z"));
	assert_int_equal(store_ticket_set_status(st, id[6], TICKET_CLOSED), 0);
	assert_int_equal(store_ticket_set_spam_closed(st, id[6], true), 0);
	store_set_fake_now(T("2026-03-05T09:00:00Z"));
	assert_int_equal(store_ticket_set_status(st, id[7], TICKET_CLOSED), 0);
	assert_int_equal(store_ticket_set_spam_closed(st, id[7], true), 0);
	int64_t moved;
	assert_int_equal(store_ticket_merge(st, id[8], id[0], &moved), 0);
	assert_int_equal(store_ticket_set_status(st, id[8], TICKET_CLOSED), 0);
	store_set_fake_now(T("2026-03-06T09:00:00Z"));
	assert_int_equal(store_event_add(st, id[1], "agent:bob@example.com", "queue_changed",
					 "{}"), 0);
	assert_int_equal(store_event_add(st, id[2], "cli:root", "category.corrected", "{}"), 0);
	assert_int_equal(store_event_add(st, id[3], "model:category", "category.corrected", "{}"), 0);
	assert_int_equal(store_event_add(st, id[3], "rule:vip", "queue_changed", "{}"), 0);
	assert_int_equal(store_event_add(st, id[7], "agent:bob@example.com", "category.corrected",
					 "{}"), 0);
	assert_int_equal(store_commit(st), 0);
	store_set_fake_now(0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->st);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f);
	return 0;
}

/* The report written in a format, as a string. */
static char *render(struct fixture *f, const char *by, enum report_format format)
{
	struct report_options opts = {.from = f->from, .to = f->to, .by = by};
	struct report *r = NULL;
	const char *error = NULL;
	assert_int_equal(report_build(f->st, &opts, &r, &error), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(out);
	assert_int_equal(report_write(r, format, out, &error), 0);
	fclose(out);
	report_free(&r);
	return buf;
}

static const cJSON *get(const cJSON *o, const char *path)
{
	char *copy = xstrdup(path), *save = NULL;
	for (char *key = strtok_r(copy, ".", &save); key && o; key = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, key);
	free(copy);
	if (o == NULL)
		fail_msg("no %s", path);
	return o;
}

static int64_t num(const cJSON *o, const char *path)
{
	const cJSON *v = get(o, path);
	assert_true(cJSON_IsNumber(v));
	return (int64_t)v->valuedouble;
}

static void test_totals_by_hand(void **state)
{
	struct fixture *f = *state;
	char *text = render(f, NULL, REPORT_JSON);
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	const cJSON *t = get(o, "total");
	assert_int_equal(num(t, "received"), 4);
	assert_int_equal(num(t, "answered"), 3);
	assert_int_equal(num(t, "resolved"), 3);
	assert_int_equal(num(t, "spam"), 2);
	assert_int_equal(num(t, "merged"), 1);
	/* Re-triaged by an agent: #2 (queue, agent) and #3 (category, cli). */
	assert_int_equal(num(t, "triaged_automatically"), 2);
	assert_int_equal(num(t, "corrected_by_agent"), 1);
	/* First response {1800, 3600, 7200}: median the 2nd, p90 the 3rd. */
	assert_int_equal(num(t, "first_response.count"), 3);
	assert_int_equal(num(t, "first_response.median_seconds"), 3600);
	assert_int_equal(num(t, "first_response.p90_seconds"), 7200);
	/* Resolution {10800, 32400, 50000}. */
	assert_int_equal(num(t, "resolution.median_seconds"), 32400);
	assert_int_equal(num(t, "resolution.p90_seconds"), 50000);
	assert_int_equal(num(t, "sla.first_response.met"), 2);
	assert_int_equal(num(t, "sla.first_response.breached"), 2); /* #2 late, #3 still open */
	assert_int_equal(num(t, "sla.resolution.met"), 2);
	assert_int_equal(num(t, "sla.resolution.breached"), 0);   /* breached in February */
	assert_int_equal(num(t, "sla.next_response.met"), 0);     /* stopped is not met */
	assert_int_equal(num(t, "sla.next_response.breached"), 1); /* the merged request's */
	assert_int_equal(num(t, "backlog.count"), 2);
	/* #2: 29 d 12 h, #3: 26 d 15 h. */
	assert_int_equal(num(t, "backlog.oldest_age_seconds"), 2548800);
	assert_int_equal(num(t, "backlog.average_age_seconds"), (2548800 + 2300400) / 2);
	assert_int_equal(num(o, "sentiment.negative"), 2);
	assert_int_equal(num(o, "sentiment.neutral"), 1);
	assert_int_equal(num(o, "sentiment.positive"), 1);
	assert_int_equal(num(o, "top_categories.bug"), 2);
	assert_int_equal(num(o, "top_categories.invoice"), 2);
	assert_int_equal(num(o, "breaches_by_queue.billing"), 2); /* #1, and the request merged */
	assert_int_equal(num(o, "breaches_by_queue.tech"), 1);
	assert_int_equal(num(o, "first_response_distribution.< 1 h"), 1);
	assert_int_equal(num(o, "first_response_distribution.1-4 h"), 2);
	const cJSON *days = get(o, "received_per_day");
	assert_int_equal(cJSON_GetArraySize(days), 31);
	assert_int_equal(cJSON_GetArrayItem(days, 1)->valueint, 2);
	assert_int_equal(cJSON_GetArrayItem(days, 4)->valueint, 1);
	assert_int_equal(cJSON_GetArrayItem(days, 9)->valueint, 1);
	assert_int_equal(cJSON_GetArrayItem(days, 0)->valueint, 0);
	cJSON_Delete(o);
	free(text);
}

static void test_by_queue(void **state)
{
	struct fixture *f = *state;
	char *text = render(f, "queue", REPORT_JSON);
	cJSON *o = cJSON_Parse(text);
	const cJSON *groups = get(o, "groups");
	assert_int_equal(cJSON_GetArraySize(groups), 2);
	const cJSON *billing = cJSON_GetArrayItem(groups, 0), *tech = cJSON_GetArrayItem(groups, 1);
	assert_string_equal(get(billing, "group")->valuestring, "billing");
	assert_int_equal(num(billing, "received"), 2);
	assert_int_equal(num(billing, "resolved"), 1);
	assert_int_equal(num(billing, "first_response.median_seconds"), 3600);
	assert_int_equal(num(billing, "first_response.p90_seconds"), 7200);
	assert_int_equal(num(billing, "backlog.count"), 1);
	assert_int_equal(num(billing, "spam"), 1);
	assert_int_equal(num(billing, "merged"), 1);
	assert_string_equal(get(tech, "group")->valuestring, "tech");
	assert_int_equal(num(tech, "received"), 2);
	assert_int_equal(num(tech, "answered"), 1);
	assert_int_equal(num(tech, "resolved"), 2);
	assert_int_equal(num(tech, "first_response.median_seconds"), 1800);
	assert_int_equal(num(tech, "triaged_automatically"), 1);
	assert_int_equal(num(tech, "sla.first_response.breached"), 1);
	cJSON_Delete(o);
	free(text);

	/* Text: a header, the groups and the total, columns aligned. */
	text = render(f, "queue", REPORT_TEXT);
	assert_non_null(strstr(text, "SLA report 2026-03-01T00:00:00Z .. 2026-04-01T00:00:00Z, by queue"));
	char *table = strstr(text, "\n\n") + 2;
	size_t widths[4] = {0};
	const char *line = table;
	for (int i = 0; i < 4; i++) {
		const char *end = strchr(line, '\n');
		widths[i] = (size_t)(end - line);
		line = end + 1;
	}
	assert_int_equal(widths[0], widths[1]);
	assert_int_equal(widths[1], widths[2]);
	assert_int_equal(widths[2], widths[3]);
	assert_non_null(strstr(table, "billing"));
	assert_non_null(strstr(table, "1:00")); /* billing's median first response */
	assert_non_null(strstr(text, "Triaged automatically: 50.0%"));
	assert_non_null(strstr(text, "Closed as spam: 2, in no figure above; merged into another ticket: 1"));
	free(text);
}

/* A small RFC 4180 reader: records of fields, quotes doubled inside quotes. */
static size_t csv_parse(const char *s, char *fields[][32], size_t max_records, size_t *n_fields)
{
	size_t rec = 0, field = 0;
	while (*s && rec < max_records) {
		char *buf = xcalloc(1, strlen(s) + 1);
		size_t n = 0;
		if (*s == '"') {
			s++;
			for (;;) {
				assert_true(*s != '\0');
				if (*s == '"' && s[1] == '"')
					buf[n++] = '"', s += 2;
				else if (*s == '"')
					break;
				else
					buf[n++] = *s++;
			}
			s++;
		} else {
			while (*s && *s != ',' && *s != '\r' && *s != '\n')
				buf[n++] = *s++;
		}
		assert_true(field < 32);
		fields[rec][field++] = buf;
		if (*s == ',') {
			s++;
		} else {
			assert_true(s[0] == '\r' && s[1] == '\n'); /* CRLF line ends */
			s += 2;
			n_fields[rec++] = field;
			field = 0;
		}
	}
	return rec;
}

static void test_csv_parses_back(void **state)
{
	struct fixture *f = *state;
	char *text = render(f, "assignee", REPORT_CSV);
	char *fields[8][32];
	size_t n_fields[8];
	size_t n = csv_parse(text, fields, 8, n_fields);
	/* Header, "", "Dupont...", "alice", total. */
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(n_fields[i], 22);
	assert_string_equal(fields[0][0], "group");
	assert_string_equal(fields[0][1], "received");
	assert_string_equal(fields[1][0], "");
	assert_string_equal(fields[2][0], ODD_ASSIGNEE);
	assert_string_equal(fields[2][1], "1");     /* received */
	assert_string_equal(fields[2][5], "60.0");  /* first response median, minutes */
	assert_string_equal(fields[3][0], "alice");
	assert_string_equal(fields[3][1], "2");
	assert_string_equal(fields[3][16], "2");    /* backlog */
	assert_string_equal(fields[3][11], "2");    /* first response breached: #2 late, #3 open */
	assert_string_equal(fields[4][0], "total");
	assert_string_equal(fields[4][1], "4");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n_fields[i]; j++)
			free(fields[i][j]);
	free(text);
}

static void test_html_is_well_formed(void **state)
{
	struct fixture *f = *state;
	char *html = render(f, "assignee", REPORT_HTML);
	assert_null(strstr(html, "src="));   /* nothing fetched from elsewhere */
	assert_null(strstr(html, "href="));
	size_t svgs = 0;
	for (const char *p = html; (p = strstr(p, "<svg ")) != NULL; p++)
		svgs++;
	assert_int_equal(svgs, 3);
	assert_non_null(strstr(html, "Dupont, Jean &quot;JD&quot; Paris"));
	char *path = xasprintf("%s/report.html", f->dir);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	fputs(html, out);
	fclose(out);
	char *cmd = xasprintf("/usr/bin/python3 -c 'import xml.dom.minidom,sys;"
			      " xml.dom.minidom.parse(sys.argv[1])' '%s'", path);
	assert_int_equal(system(cmd), 0);
	/* And a broken page would be caught by the same check. */
	out = fopen(path, "a");
	fputs("<p>", out);
	fclose(out);
	char *quiet = xasprintf("%s 2>/dev/null", cmd);
	assert_int_not_equal(system(quiet), 0);
	free(quiet);
	free(cmd);
	free(path);
	free(html);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct report *r = NULL;
	const char *error = NULL;
	struct report_options empty = {.from = f->to, .to = f->from};
	assert_int_equal(report_build(f->st, &empty, &r, &error), -1);
	struct report_options bad_by = {.from = f->from, .to = f->to, .by = "colour"};
	assert_int_equal(report_build(f->st, &bad_by, &r, &error), -1);
	assert_non_null(strstr(error, "colour"));
	struct report_options too_long = {.from = f->from, .to = f->from + 86400LL * 5000};
	assert_int_equal(report_build(f->st, &too_long, &r, &error), -1);
	assert_null(r);
	enum report_format fmt;
	assert_int_equal(report_format_parse("html", &fmt), 0);
	assert_int_equal(fmt, REPORT_HTML);
	assert_int_equal(report_format_parse("pdf", &fmt), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_totals_by_hand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_parses_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html_is_well_formed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
