/* The SLA engine on a real store with the controllable clock: policy
 * matching, due times on a business-hours calendar, warnings, breaches and
 * escalations fired once each (also across restarts and after downtime),
 * pauses, reopening, policy changes, deduplicated notifications, webhook
 * retries, and the config section's errors with their paths. */
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
#include "config.h"
#include "sla.h"
#include "store.h"
#include "store_sla.h"
#include "xalloc.h"

/* Paris, Monday to Friday 09:00-18:00; March 2026 is before the change to
 * summer time (29 March), so Paris is UTC+1 throughout. */
#define BASE_CONFIG \
	"{ \"database\": \"%s/triaged.db\",\n" \
	"  \"queues\": [\"complaint\", \"general\"],\n" \
	"  \"calendars\": { \"paris\": { \"timezone\": \"Europe/Paris\",\n" \
	"     \"hours\": { \"mon\": [\"09:00-18:00\"], \"tue\": [\"09:00-18:00\"],\n" \
	"                \"wed\": [\"09:00-18:00\"], \"thu\": [\"09:00-18:00\"],\n" \
	"                \"fri\": [\"09:00-18:00\"] } } },\n" \
	"  \"sla\": { \"dedupe_minutes\": 30,\n" \
	"    \"webhooks\": { \"ops\": { \"url\": \"http://127.0.0.1:%d/hook\",\n" \
	"                             \"timeout_seconds\": 2, \"max_attempts\": 2,\n" \
	"                             \"retry_seconds\": 60 } },\n" \
	"    \"policies\": [\n" \
	"      { \"name\": \"urgent\",\n" \
	"        \"match\": { \"queues\": [\"complaint\"], \"priorities\": [\"high\", \"urgent\"] },\n" \
	"        \"first_response\": 60, \"next_response\": 120, \"resolution\": 480,\n" \
	"        \"warn_at\": 0.8,\n" \
	"        \"escalations\": [\n" \
	"          { \"after\": 0, \"action\": \"notify\", \"to\": \"mail:manager@example.com\" },\n" \
	"          { \"after\": 10, \"action\": \"notify\", \"to\": \"mail:manager@example.com\" },\n" \
	"          { \"after\": 60, \"action\": \"raise_priority\" },\n" \
	"          { \"after\": 120, \"action\": \"reassign\", \"to\": \"group:leads\" },\n" \
	"          { \"after\": 120, \"action\": \"notify\", \"to\": \"webhook:ops\" } ] },\n" \
	"      { \"name\": \"default\", \"first_response\": 240, \"next_response\": 240,\n" \
	"        \"resolution\": 2880 } ] } }\n"

struct fixture {
	char dir[64];
	char *db;
	struct config *cfg;
	struct store *st;
};

static int64_t T(const char *iso)
{
	int64_t t;
	const char *error;
	assert_int_equal(cal_parse_iso8601(iso, &t, &error), 0);
	return t;
}

static struct config *load_config(const char *dir, const char *text)
{
	char *path = xasprintf("%s/triaged.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	struct cfg_errors errors;
	struct config *cfg = NULL;
	int rc = config_load(path, &cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		fprintf(stderr, "%s\n", errors.items[i]);
	cfg_errors_free(&errors);
	free(path);
	assert_int_equal(rc, 0);
	return cfg;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_sla.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* Port 9 on the loopback: nothing listens, deliveries fail at once. */
	char *text = xasprintf(BASE_CONFIG, f->dir, 9);
	f->cfg = load_config(f->dir, text);
	free(text);
	f->db = xstrdup(f->cfg->database);
	const char *error = NULL;
	assert_int_equal(store_open(f->db, &f->st, &error), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_set_fake_now(0);
	store_close(&f->st);
	config_free(&f->cfg);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->db);
	free(f);
	return 0;
}

static void restart(struct fixture *f)
{
	const char *error = NULL;
	store_close(&f->st);
	assert_int_equal(store_open(f->db, &f->st, &error), 0);
}

static int64_t create_ticket(struct fixture *f, const char *queue, enum ticket_priority prio)
{
	struct ticket t = {.subject = (char *)"Lampe cassée", .requester = (char *)"a@example.com",
			   .queue = (char *)queue, .status = TICKET_NEW, .priority = prio};
	int64_t id;
	const char *error = NULL;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_ticket_create(f->st, &t, &id), 0);
	assert_int_equal(sla_on_ticket_created(f->st, f->cfg, id, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	return id;
}

static void set_status(struct fixture *f, int64_t id, enum ticket_status from,
		       enum ticket_status to)
{
	const char *error = NULL;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_ticket_set_status(f->st, id, to), 0);
	assert_int_equal(sla_on_status(f->st, f->cfg, id, from, to, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
}

static void agent_reply(struct fixture *f, int64_t id)
{
	const char *error = NULL;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(sla_on_agent_reply(f->st, f->cfg, id, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
}

static void customer_message(struct fixture *f, int64_t id)
{
	const char *error = NULL;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(sla_on_customer_message(f->st, f->cfg, id, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
}

/* The clock of a target: the live one, else the last one. */
static void get_clock(struct fixture *f, int64_t id, const char *target, struct sla_clock_row *c_r)
{
	struct sla_clock_row *rows = NULL;
	size_t n = 0;
	assert_int_equal(store_sla_clocks_all(f->st, id, &rows, &n), 0);
	ssize_t found = -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].target, target) == 0 && (found < 0 || rows[i].closed_at == 0))
			found = (ssize_t)i;
	assert_true(found >= 0);
	*c_r = rows[found];
	memset(&rows[found], 0, sizeof(rows[found]));
	sla_clock_rows_free(&rows, n);
}

static size_t count_clocks(struct fixture *f, int64_t id, const char *target)
{
	struct sla_clock_row *rows = NULL;
	size_t n = 0, count = 0;
	assert_int_equal(store_sla_clocks_all(f->st, id, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		count += strcmp(rows[i].target, target) == 0;
	sla_clock_rows_free(&rows, n);
	return count;
}

static size_t count_events(struct fixture *f, int64_t id, const char *kind, const char *needle)
{
	struct event_row *rows = NULL;
	size_t n = 0, count = 0;
	assert_int_equal(store_event_list(f->st, id, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].kind, kind) == 0 &&
		    (needle == NULL || (rows[i].detail && strstr(rows[i].detail, needle))))
			count++;
	event_rows_free(&rows, n);
	return count;
}

static struct sla_fire_stats fire(struct fixture *f, int64_t now)
{
	struct sla_fire_stats stats;
	const char *error = NULL;
	store_set_fake_now(now);
	assert_int_equal(sla_fire_due(f->st, f->cfg, now, 0, &stats, &error), 0);
	return stats;
}

static void get_ticket(struct fixture *f, int64_t id, struct ticket *t)
{
	assert_int_equal(store_ticket_get(f->st, id, t), 1);
}

static void test_policy_match(void **state)
{
	struct fixture *f = *state;
	const struct sla_policy *p = sla_policy_match(f->cfg, "complaint", PRIORITY_HIGH);
	assert_non_null(p);
	assert_string_equal(p->name, "urgent");
	assert_string_equal(sla_policy_match(f->cfg, "complaint", PRIORITY_URGENT)->name, "urgent");
	assert_string_equal(sla_policy_match(f->cfg, "complaint", PRIORITY_NORMAL)->name, "default");
	assert_string_equal(sla_policy_match(f->cfg, "general", PRIORITY_URGENT)->name, "default");
	assert_string_equal(sla_policy_match(f->cfg, NULL, PRIORITY_LOW)->name, "default");
	/* The policy has no calendar: the default (first) one applies. */
	assert_string_equal(cal_name(sla_policy_calendar(f->cfg, p, "complaint")), "paris");

	/* Without an sla section there is no policy and no clock. */
	char *text = xasprintf("{ \"database\": \"%s/other.db\", \"queues\": [\"q\"] }", f->dir);
	struct config *plain = load_config(f->dir, text);
	free(text);
	assert_null(sla_policy_match(plain, "q", PRIORITY_URGENT));
	config_free(&plain);
}

static void test_lifecycle_fires_each_level_once(void **state)
{
	struct fixture *f = *state;
	store_set_fake_now(T("2026-03-02T10:00:00+01:00")); /* Monday */
	int64_t id = create_ticket(f, "complaint", PRIORITY_HIGH);

	struct sla_clock_row c;
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.policy, "urgent");
	assert_string_equal(c.state, "running");
	assert_int_equal(c.due, T("2026-03-02T11:00:00+01:00"));
	assert_int_equal(c.warn_at, T("2026-03-02T10:48:00+01:00")); /* 80% of 60 min */
	sla_clock_row_clear(&c);
	get_clock(f, id, "resolution", &c);
	assert_int_equal(c.due, T("2026-03-02T18:00:00+01:00")); /* 480 min: the closing */
	assert_int_equal(c.warn_at, T("2026-03-02T16:24:00+01:00"));
	sla_clock_row_clear(&c);
	assert_int_equal(count_clocks(f, id, "next_response"), 0);

	struct ticket t;
	get_ticket(f, id, &t);
	assert_int_equal(t.next_due, T("2026-03-02T10:48:00+01:00"));
	ticket_clear(&t);
	/* A list shows the deadline, not the warning that comes first. */
	struct sla_summary sum;
	const char *error = NULL;
	assert_int_equal(sla_ticket_summary(f->st, id, store_now(), &sum, &error), 0);
	assert_int_equal(sum.due, T("2026-03-02T11:00:00+01:00"));
	assert_false(sum.breached);
	assert_false(sum.paused);
	int64_t when;
	assert_int_equal(sla_next_wakeup(f->st, &when, &error), 1);
	assert_int_equal(when, T("2026-03-02T10:48:00+01:00"));

	/* Nothing before the warning. */
	struct sla_fire_stats s = fire(f, T("2026-03-02T10:47:59+01:00"));
	assert_int_equal(s.clocks + s.warnings + s.breaches + s.escalations, 0);
	s = fire(f, T("2026-03-02T10:48:00+01:00"));
	assert_int_equal(s.warnings, 1);
	assert_int_equal(s.breaches, 0);
	s = fire(f, T("2026-03-02T10:50:00+01:00"));
	assert_int_equal(s.warnings, 0);
	get_ticket(f, id, &t);
	assert_int_equal(t.next_due, T("2026-03-02T11:00:00+01:00")); /* the due time now */
	ticket_clear(&t);

	/* Restart, then the breach and the first escalation (after 0). */
	restart(f);
	s = fire(f, T("2026-03-02T11:05:00+01:00"));
	assert_int_equal(s.breaches, 1);
	assert_int_equal(s.escalations, 1);
	assert_int_equal(s.notifications, 1);
	get_clock(f, id, "first_response", &c);
	assert_int_equal(c.breached_at, T("2026-03-02T11:00:00+01:00")); /* the due, not now */
	assert_string_equal(c.state, "running");
	sla_clock_row_clear(&c);
	assert_int_equal(sla_ticket_summary(f->st, id, T("2026-03-02T11:05:00+01:00"), &sum, &error),
			 0);
	assert_int_equal(sum.due, T("2026-03-02T11:00:00+01:00"));
	assert_true(sum.breached);

	/* Second notification to the same channel within 30 min: damped. */
	s = fire(f, T("2026-03-02T11:10:00+01:00"));
	assert_int_equal(s.escalations, 1);
	assert_int_equal(s.deduplicated, 1);
	assert_int_equal(s.notifications, 0);
	assert_int_equal(count_events(f, id, "sla.escalation", "\"deduplicated\":true"), 1);

	restart(f);
	s = fire(f, T("2026-03-02T12:00:00+01:00"));
	assert_int_equal(s.escalations, 1);
	get_ticket(f, id, &t);
	assert_int_equal(t.priority, PRIORITY_URGENT);
	ticket_clear(&t);

	/* Down from Monday noon to Tuesday 10:30: everything missed fires at
	 * start, once. FR: reassign + webhook (13:00). Resolution: warning
	 * (16:24), breach and mail (18:00), second mail (Tue 09:10, damped),
	 * raise_priority (Tue 10:00, already urgent). */
	store_close(&f->st);
	store_set_fake_now(T("2026-03-03T10:30:00+01:00"));
	restart(f);
	s = fire(f, T("2026-03-03T10:30:00+01:00"));
	assert_int_equal(s.warnings, 1);
	assert_int_equal(s.breaches, 1);
	assert_int_equal(s.escalations, 5);
	assert_int_equal(s.notifications, 2);
	assert_int_equal(s.deduplicated, 1);
	assert_int_equal(s.webhooks_queued, 1);
	s = fire(f, T("2026-03-03T10:30:00+01:00"));
	assert_int_equal(s.warnings + s.breaches + s.escalations, 0);
	restart(f);
	s = fire(f, T("2026-03-03T10:59:59+01:00"));
	assert_int_equal(s.warnings + s.breaches + s.escalations, 0);

	assert_int_equal(count_events(f, id, "sla.warning", NULL), 2);
	assert_int_equal(count_events(f, id, "sla.breach", NULL), 2);
	assert_int_equal(count_events(f, id, "sla.escalation", NULL), 8);
	assert_int_equal(count_events(f, id, "sla.escalation", "\"action\":\"reassign\""), 1);
	assert_int_equal(count_events(f, id, "sla.escalation", "\"action\":\"raise_priority\""), 2);
	get_ticket(f, id, &t);
	assert_string_equal(t.assignee, "group:leads");
	ticket_clear(&t);

	/* The next wake-up: the queued webhook (now), then the last two
	 * resolution escalations at Tue 11:00. */
	assert_int_equal(sla_next_wakeup(f->st, &when, &error), 1);
	assert_int_equal(when, T("2026-03-03T10:30:00+01:00"));

	/* The agent answers at last: first response met late. */
	store_set_fake_now(T("2026-03-03T10:30:00+01:00"));
	agent_reply(f, id);
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.state, "breached");
	assert_int_equal(c.elapsed, (8 * 60 + 90) * 60); /* Mon 10-18, Tue 9-10:30 */
	assert_int_equal(c.next_fire, 0);
	sla_clock_row_clear(&c);
	s = fire(f, T("2026-03-03T11:00:00+01:00"));
	assert_int_equal(s.escalations, 2); /* resolution's reassign and webhook */
	assert_int_equal(count_events(f, id, "sla.escalation", NULL), 10);
}

static void test_pending_pauses_and_moves_due(void **state)
{
	struct fixture *f = *state;
	store_set_fake_now(T("2026-03-02T10:00:00+01:00"));
	int64_t id = create_ticket(f, "general", PRIORITY_NORMAL);
	struct sla_clock_row c;
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.policy, "default");
	assert_int_equal(c.due, T("2026-03-02T14:00:00+01:00"));
	sla_clock_row_clear(&c);
	get_clock(f, id, "resolution", &c);
	/* 48 business hours: Mon 8, Tue-Fri 4 x 9 = 44, then Mon 9 March 09:00 + 4 h. */
	assert_int_equal(c.due, T("2026-03-09T13:00:00+01:00"));
	sla_clock_row_clear(&c);

	/* The agent answers at 11:00 and waits on the customer. */
	store_set_fake_now(T("2026-03-02T11:00:00+01:00"));
	agent_reply(f, id);
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.state, "met");
	assert_int_equal(c.elapsed, 3600);
	sla_clock_row_clear(&c);
	set_status(f, id, TICKET_OPEN, TICKET_PENDING);
	get_clock(f, id, "resolution", &c);
	assert_string_equal(c.state, "paused");
	assert_int_equal(c.consumed, 3600);
	assert_int_equal(c.next_fire, 0);
	sla_clock_row_clear(&c);
	struct ticket t;
	get_ticket(f, id, &t);
	assert_int_equal(t.next_due, 0); /* nothing runs */
	ticket_clear(&t);
	struct sla_summary sum;
	const char *error = NULL;
	assert_int_equal(sla_ticket_summary(f->st, id, store_now(), &sum, &error), 0);
	assert_int_equal(sum.due, 0);
	assert_true(sum.paused);
	/* Paused clocks never fire, however late. */
	struct sla_fire_stats s = fire(f, T("2026-03-20T10:00:00+01:00"));
	assert_int_equal(s.clocks, 0);

	/* The customer answers on Tuesday at 10:00: 8 business hours paused
	 * (Mon 11-18, Tue 9-10), so the due time moves by 8 hours, to Tue 10 March
	 * 12:00; a next_response clock starts (240 min: Tue 14:00). */
	store_set_fake_now(T("2026-03-03T10:00:00+01:00"));
	set_status(f, id, TICKET_PENDING, TICKET_OPEN);
	customer_message(f, id);
	get_clock(f, id, "resolution", &c);
	assert_string_equal(c.state, "running");
	assert_int_equal(c.due, T("2026-03-10T12:00:00+01:00"));
	sla_clock_row_clear(&c);
	get_clock(f, id, "next_response", &c);
	assert_int_equal(c.due, T("2026-03-03T14:00:00+01:00"));
	sla_clock_row_clear(&c);
	/* A second customer message does not start another one. */
	customer_message(f, id);
	assert_int_equal(count_clocks(f, id, "next_response"), 1);
	get_ticket(f, id, &t);
	assert_int_equal(t.next_due, T("2026-03-03T14:00:00+01:00"));
	ticket_clear(&t);
}

static void test_resolve_and_reopen(void **state)
{
	struct fixture *f = *state;
	store_set_fake_now(T("2026-03-02T10:00:00+01:00"));
	int64_t id = create_ticket(f, "general", PRIORITY_NORMAL);
	store_set_fake_now(T("2026-03-02T12:00:00+01:00"));
	set_status(f, id, TICKET_NEW, TICKET_RESOLVED);
	struct sla_clock_row c;
	get_clock(f, id, "resolution", &c);
	assert_string_equal(c.state, "met");
	assert_int_equal(c.elapsed, 7200);
	sla_clock_row_clear(&c);
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.state, "stopped"); /* resolved without an answer */
	sla_clock_row_clear(&c);
	struct ticket t;
	get_ticket(f, id, &t);
	assert_int_equal(t.next_due, 0);
	ticket_clear(&t);

	/* Reopened on Wednesday: a fresh resolution clock of 48 business hours. */
	store_set_fake_now(T("2026-03-04T09:00:00+01:00"));
	set_status(f, id, TICKET_RESOLVED, TICKET_OPEN);
	assert_int_equal(count_clocks(f, id, "resolution"), 2);
	get_clock(f, id, "resolution", &c);
	assert_int_equal(c.closed_at, 0);
	assert_int_equal(c.started, T("2026-03-04T09:00:00+01:00"));
	assert_int_equal(c.due, T("2026-03-11T12:00:00+01:00")); /* Wed-Fri 27 h, Mon 9, Tue 9, Wed 3 */
	sla_clock_row_clear(&c);
	/* Never answered: the customer still waits for a first answer. */
	assert_int_equal(count_clocks(f, id, "first_response"), 2);
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.state, "running");
	assert_int_equal(c.due, T("2026-03-04T13:00:00+01:00")); /* 240 min */
	sla_clock_row_clear(&c);

	/* Answered, resolved and reopened: no third first response. */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_ticket_set_first_response(f->st, id, store_now()), 0);
	assert_int_equal(store_commit(f->st), 0);
	agent_reply(f, id);
	set_status(f, id, TICKET_OPEN, TICKET_RESOLVED);
	set_status(f, id, TICKET_RESOLVED, TICKET_OPEN);
	assert_int_equal(count_clocks(f, id, "first_response"), 2);
	assert_int_equal(count_clocks(f, id, "resolution"), 3);
}

/* Spam is closed, not resolved: its clocks stop unmet, out of the SLA
 * figures; a mail wrongly taken for spam gets its clocks back. */
static void test_spam_closed_unmet(void **state)
{
	struct fixture *f = *state;
	store_set_fake_now(T("2026-03-02T10:00:00+01:00"));
	int64_t id = create_ticket(f, "general", PRIORITY_NORMAL);
	/* As the spam rule and an agent's verdict close it. */
	const char *error = NULL;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_ticket_set_triage(f->st, id, "en", NULL, 0, true, 0.99, 0, "neutral"),
			 0);
	assert_int_equal(store_ticket_set_status(f->st, id, TICKET_CLOSED), 0);
	assert_int_equal(store_ticket_set_spam_closed(f->st, id, true), 0);
	assert_int_equal(sla_on_status(f->st, f->cfg, id, TICKET_NEW, TICKET_CLOSED, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	struct sla_clock_row c;
	get_clock(f, id, "resolution", &c);
	assert_string_equal(c.state, "stopped");
	sla_clock_row_clear(&c);
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.state, "stopped");
	sla_clock_row_clear(&c);

	store_set_fake_now(T("2026-03-02T11:00:00+01:00"));
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_ticket_set_triage(f->st, id, "en", NULL, 0, false, 0, 0, "neutral"),
			 0);
	assert_int_equal(store_commit(f->st), 0);
	set_status(f, id, TICKET_CLOSED, TICKET_OPEN);
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.state, "running");
	assert_int_equal(c.started, T("2026-03-02T11:00:00+01:00"));
	sla_clock_row_clear(&c);
	get_clock(f, id, "resolution", &c);
	assert_string_equal(c.state, "running");
	sla_clock_row_clear(&c);

	/* A customer's ticket closed the usual way still meets its resolution:
	 * the second resolution clock (by id) is met, the first stays stopped. */
	set_status(f, id, TICKET_OPEN, TICKET_CLOSED);
	struct sla_clock_row *rows = NULL;
	size_t n = 0;
	assert_int_equal(store_sla_clocks_all(f->st, id, &rows, &n), 0);
	const char *states[2] = {NULL, NULL};
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].target, "resolution") == 0 && k < 2)
			states[k++] = rows[i].state;
	assert_int_equal(k, 2);
	assert_string_equal(states[0], "stopped");
	assert_string_equal(states[1], "met");
	sla_clock_rows_free(&rows, n);

	/* The classifier's spam flag alone (no rule closed it): an agent who
	 * resolves or closes the ticket has served it. */
	int64_t other = create_ticket(f, "general", PRIORITY_NORMAL);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(
	    store_ticket_set_triage(f->st, other, "en", NULL, 0, true, 0.95, 0, "neutral"), 0);
	assert_int_equal(store_commit(f->st), 0);
	set_status(f, other, TICKET_NEW, TICKET_CLOSED);
	get_clock(f, other, "resolution", &c);
	assert_string_equal(c.state, "met");
	sla_clock_row_clear(&c);
}

static void test_policy_change_keeps_consumed_time(void **state)
{
	struct fixture *f = *state;
	store_set_fake_now(T("2026-03-02T10:00:00+01:00"));
	int64_t id = create_ticket(f, "general", PRIORITY_NORMAL);
	store_set_fake_now(T("2026-03-02T10:30:00+01:00"));
	const char *error = NULL;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_ticket_set_queue(f->st, id, "complaint"), 0);
	assert_int_equal(store_ticket_set_priority(f->st, id, PRIORITY_HIGH), 0);
	assert_int_equal(sla_on_priority_or_queue_change(f->st, f->cfg, id, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	struct sla_clock_row c;
	get_clock(f, id, "first_response", &c);
	assert_string_equal(c.policy, "urgent");
	assert_int_equal(c.consumed, 1800);
	/* 60 min target, 30 already used. */
	assert_int_equal(c.due, T("2026-03-02T11:00:00+01:00"));
	assert_int_equal(c.warn_at, T("2026-03-02T10:48:00+01:00"));
	sla_clock_row_clear(&c);
	assert_int_equal(count_clocks(f, id, "first_response"), 1);
	/* The resolution clock follows the new policy's target too. */
	get_clock(f, id, "resolution", &c);
	assert_int_equal(c.minutes, 480);
	sla_clock_row_clear(&c);
}

static void test_webhook_retries_then_fails(void **state)
{
	struct fixture *f = *state;
	int64_t now = T("2026-03-02T10:00:00+01:00");
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_sla_webhook_queue(f->st, 0, "ops", "{\"x\":1}", now), 0);
	assert_int_equal(store_sla_webhook_queue(f->st, 0, "gone", "{\"x\":2}", now), 0);
	assert_int_equal(store_commit(f->st), 0);
	struct sla_send_stats s;
	const char *error = NULL;
	assert_int_equal(sla_send_webhooks(f->st, f->cfg, now, 0, &s, &error), 0);
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.retried, 1);  /* connection refused: again in 60 s */
	assert_int_equal(s.failed, 1);   /* unknown webhook: given up */
	int64_t when;
	assert_int_equal(sla_next_wakeup(f->st, &when, &error), 1);
	assert_int_equal(when, now + 60);
	assert_int_equal(sla_send_webhooks(f->st, f->cfg, now + 59, 0, &s, &error), 0);
	assert_int_equal(s.retried + s.failed + s.sent, 0);
	assert_int_equal(sla_send_webhooks(f->st, f->cfg, now + 60, 0, &s, &error), 0);
	assert_int_equal(s.failed, 1); /* max_attempts 2 */
	int64_t queued, sent, failed;
	assert_int_equal(store_sla_webhook_counts(f->st, &queued, &sent, &failed), 0);
	assert_int_equal(queued, 0);
	assert_int_equal(failed, 2);
	assert_int_equal(sla_next_wakeup(f->st, &when, &error), 0);
}

/* A one-shot HTTP server on the loopback that keeps the body it receives. */
static const char webhook_server[] =
	"import http.server, os, sys\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def do_POST(self):\n"
	"        body = self.rfile.read(int(self.headers['Content-Length']))\n"
	"        ok = self.headers.get('Content-Type') == 'application/json'\n"
	"        open(sys.argv[1] + '.tmp', 'wb').write(body if ok else b'bad content type')\n"
	"        os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
	"        self.send_response(204)\n"
	"        self.end_headers()\n"
	"    def log_message(self, *args):\n"
	"        pass\n"
	"s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"s.timeout = 30\n"
	"open(sys.argv[2] + '.tmp', 'w').write(str(s.server_address[1]))\n"
	"os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n"
	"s.handle_request()\n";

static char *read_file(const char *path, unsigned wait_ms)
{
	for (unsigned waited = 0;; waited += 10) {
		FILE *fp = fopen(path, "r");
		if (fp != NULL) {
			char *buf = xcalloc(1, 65536);
			size_t n = fread(buf, 1, 65535, fp);
			buf[n] = '\0';
			fclose(fp);
			return buf;
		}
		if (waited >= wait_ms)
			return NULL;
		usleep(10000); /* waiting for the helper process, not for a clock */
	}
}

static void test_webhook_delivered(void **state)
{
	struct fixture *f = *state;
	char *script = xasprintf("%s/server.py", f->dir);
	char *body_path = xasprintf("%s/body.json", f->dir);
	char *port_path = xasprintf("%s/port", f->dir);
	FILE *fp = fopen(script, "w");
	assert_non_null(fp);
	fputs(webhook_server, fp);
	fclose(fp);
	char *cmd = xasprintf("/usr/bin/python3 '%s' '%s' '%s' &", script, body_path, port_path);
	assert_int_equal(system(cmd), 0);
	char *port = read_file(port_path, 10000);
	assert_non_null(port);
	int64_t port_number;
	char *end;
	port_number = strtoll(port, &end, 10);
	assert_true(*end == '\0' && port_number > 0 && port_number < 65536);
	config_free(&f->cfg);
	char *text = xasprintf(BASE_CONFIG, f->dir, (int)port_number);
	f->cfg = load_config(f->dir, text);

	store_set_fake_now(T("2026-03-02T10:00:00+01:00"));
	int64_t id = create_ticket(f, "complaint", PRIORITY_HIGH);
	struct sla_fire_stats s = fire(f, T("2026-03-02T13:00:00+01:00"));
	assert_int_equal(s.webhooks_queued, 1);
	struct sla_send_stats sent;
	const char *error = NULL;
	assert_int_equal(sla_send_webhooks(f->st, f->cfg, T("2026-03-02T13:00:00+01:00"), 0, &sent,
					   &error), 0);
	assert_int_equal(sent.sent, 1);
	char *body = read_file(body_path, 10000);
	assert_non_null(body);
	cJSON *o = cJSON_Parse(body);
	assert_non_null(o);
	const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(o, "ticket");
	assert_int_equal((int64_t)cJSON_GetObjectItemCaseSensitive(ticket, "id")->valuedouble, id);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(ticket, "queue")->valuestring,
			    "complaint");
	const cJSON *event = cJSON_GetObjectItemCaseSensitive(o, "event");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(event, "kind")->valuestring,
			    "sla.escalation");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(event, "actor")->valuestring,
			    "sla:urgent");
	assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(o, "reason")->valuestring,
			       "first_response breached 120 business minutes ago"));
	cJSON_Delete(o);
	int64_t queued, delivered, failed;
	assert_int_equal(store_sla_webhook_counts(f->st, &queued, &delivered, &failed), 0);
	assert_int_equal(delivered, 1);
	assert_int_equal(queued + failed, 0);
	free(body);
	free(text);
	free(port);
	free(cmd);
	free(script);
	free(body_path);
	free(port_path);
}

/* ---- config errors ---- */

static char *config_errors(const char *dir, const char *sla)
{
	char *text = xasprintf("{ \"database\": \"%s/x.db\", \"queues\": [\"complaint\"],\n"
			       "  \"calendars\": { \"paris\": { \"timezone\": \"Europe/Paris\",\n"
			       "     \"hours\": { \"mon\": [\"09:00-18:00\"] } } },\n"
			       "  \"sla\": %s }\n", dir, sla);
	char *path = xasprintf("%s/bad.json", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	struct cfg_errors errors;
	struct config *cfg = NULL;
	int rc = config_load(path, &cfg, &errors);
	char *all = NULL;
	if (rc == 0) {
		config_free(&cfg);
	} else {
		size_t total = 1;
		for (size_t i = 0; i < errors.count; i++)
			total += strlen(errors.items[i]) + 1;
		all = xcalloc(1, total);
		for (size_t i = 0; i < errors.count; i++) {
			strcat(all, errors.items[i]);
			strcat(all, "\n");
		}
		cfg_errors_free(&errors);
	}
	free(text);
	free(path);
	return all;
}

static void test_config_errors(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *sla;
		const char *expect;
	} cases[] = {
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 0 } ] }",
		 "sla.policies[0].first_response"},
		{"{ \"policies\": [ { \"name\": \"a\", \"resolution\": 60 },\n"
		 "  { \"name\": \"b\", \"first_response\": 9999999 } ] }",
		 ":5: sla.policies[1].first_response"},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1,\n"
		 "  \"match\": { \"queues\": [\"nope\"] } } ] }",
		 "sla.policies[0].match.queues[0]: unknown queue \"nope\""},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1,\n"
		 "  \"match\": { \"priorities\": [\"critical\"] } } ] }",
		 "sla.policies[0].match.priorities[0]"},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"calendar\": \"tokyo\" } ] }",
		 "sla.policies[0].calendar: unknown calendar \"tokyo\""},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"warn_at\": 1.5 } ] }",
		 "sla.policies[0].warn_at"},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"colour\": 1 } ] }",
		 "colour"},
		{"{ \"policies\": [ { \"name\": \"a\" } ] }", "sla.policies[0]: a policy needs"},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1 },"
		 " { \"name\": \"a\", \"first_response\": 1 } ] }",
		 "sla.policies[1].name: policy \"a\" is defined twice"},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"escalations\": [\n"
		 "  { \"after\": 0, \"action\": \"notify\", \"to\": \"webhook:nope\" } ] } ] }",
		 "sla.policies[0].escalations[0].to: unknown webhook \"nope\""},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"escalations\": [\n"
		 "  { \"after\": 0, \"action\": \"notify\" } ] } ] }",
		 "sla.policies[0].escalations[0]: notify needs \"to\""},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"escalations\": [\n"
		 "  { \"after\": 0, \"action\": \"explode\" } ] } ] }",
		 "sla.policies[0].escalations[0].action"},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"escalations\": [\n"
		 "  { \"after\": 60, \"action\": \"raise_priority\" },\n"
		 "  { \"after\": 10, \"action\": \"raise_priority\" } ] } ] }",
		 "sla.policies[0].escalations[1].after"},
		{"{ \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"escalations\": [\n"
		 "  { \"after\": 0, \"action\": \"notify\", \"to\": \"mail:nobody\" } ] } ] }",
		 "sla.policies[0].escalations[0].to: not a mail address"},
		{"{ \"webhooks\": { \"w\": { \"url\": \"http://example.com/x\" } } }",
		 "sla.webhooks.w.url: expected an https:// URL"},
		{"{ \"webhooks\": { \"w\": { \"url\": \"https://example.com/x\","
		 " \"timeout_seconds\": 0 } } }",
		 "sla.webhooks.w.timeout_seconds"},
		{"{ \"policy\": [] }", ":4: sla.policy: unknown key"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *errors = config_errors(f->dir, cases[i].sla);
		if (errors == NULL || strstr(errors, cases[i].expect) == NULL)
			fail_msg("case %zu: expected \"%s\" in:\n%s", i, cases[i].expect,
				 errors ? errors : "(loaded)");
		free(errors);
	}
	/* A good one loads. */
	char *ok = config_errors(f->dir,
		"{ \"webhooks\": { \"w\": { \"url\": \"https://example.com/x\" } },"
		" \"policies\": [ { \"name\": \"a\", \"first_response\": 1, \"calendar\": \"paris\","
		" \"escalations\": [ { \"after\": 0, \"action\": \"notify\", \"to\": \"webhook:w\" },"
		" { \"after\": 5, \"action\": \"reassign\", \"to\": \"group:x\" } ] } ] }");
	assert_null(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_policy_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_fires_each_level_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_pauses_and_moves_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spam_closed_unmet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_change_keeps_consumed_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webhook_retries_then_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webhook_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
