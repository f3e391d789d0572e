/* Benchmark of the SLA engine at scale: N tickets (default 1,000,000) created
 * over March 2026 through the real hooks, each with open SLA clocks; then
 * the cost of one timer wake with nothing due and with 1,000 clocks due, the
 * process memory (VmRSS) along the way, and `report sla` over the month in
 * each format. Usage: bench_sla [--tickets N] [--db PATH] [--reuse] */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calendar.h"
#include "config.h"
#include "parse.h"
#include "report.h"
#include "sla.h"
#include "store.h"
#include "xalloc.h"

static const char config_text[] =
	"{ \"database\": \"%s\",\n"
	"  \"queues\": [\"billing\", \"tech\", \"complaint\", \"sales\"],\n"
	"  \"calendars\": { \"paris\": { \"timezone\": \"Europe/Paris\",\n"
	"     \"hours\": { \"mon\": [\"09:00-18:00\"], \"tue\": [\"09:00-18:00\"],\n"
	"                \"wed\": [\"09:00-18:00\"], \"thu\": [\"09:00-18:00\"],\n"
	"                \"fri\": [\"09:00-18:00\"] }, \"holidays\": [\"2026-04-06\"] } },\n"
	"  \"sla\": { \"policies\": [\n"
	"     { \"name\": \"urgent\", \"match\": { \"priorities\": [\"urgent\"] },\n"
	"       \"first_response\": 60, \"next_response\": 120, \"resolution\": 480,\n"
	"       \"warn_at\": 0.8, \"escalations\": [\n"
	"         { \"after\": 0, \"action\": \"notify\", \"to\": \"mail:lead@example.com\" },\n"
	"         { \"after\": 60, \"action\": \"reassign\", \"to\": \"group:leads\" } ] },\n"
	"     { \"name\": \"default\", \"first_response\": 240, \"resolution\": 2880,\n"
	"       \"warn_at\": 0.75, \"escalations\": [\n"
	"         { \"after\": 0, \"action\": \"notify\", \"to\": \"mail:lead@example.com\" } ] }"
	" ] } }\n";

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long vm_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			int64_t v;
			char *p = line + 6, *end;
			while (*p == ' ' || *p == '\t')
				p++;
			end = strchr(p, ' ');
			if (end != NULL)
				*end = '\0';
			if (parse_int64(p, 0, INT64_MAX, &v) == 0)
				kib = (long)v;
		}
	if (f != NULL)
		fclose(f);
	return kib;
}

static void die(const char *what, const char *error)
{
	fprintf(stderr, "bench_sla: %s: %s\n", what, error ? error : "?");
	exit(1);
}

static void create_tickets(struct store *st, const struct config *cfg, int64_t n,
			   int64_t from, int64_t to)
{
	static const char *const queues[] = {"billing", "tech", "complaint", "sales"};
	static const char *const categories[] = {"invoice", "delivery", "bug", "account", "quote"};
	static const char *const sentiments[] = {"negative", "neutral", "positive"};
	const char *error = NULL;
	double t0 = now_ms();
	int64_t step = (to - from) / n;
	if (step < 1)
		step = 1;
	for (int64_t i = 0; i < n; i++) {
		if (i % 10000 == 0 && store_begin(st) < 0)
			die("begin", store_error(st));
		int64_t created = from + i * step;
		store_set_fake_now(created);
		struct ticket t = {.subject = (char *)"Ma commande", .requester = (char *)"c@example.com",
				   .queue = (char *)queues[i % 4], .status = TICKET_NEW,
				   .priority = i % 50 == 0 ? PRIORITY_URGENT : PRIORITY_NORMAL,
				   .created = created};
		int64_t id;
		if (store_ticket_create(st, &t, &id) < 0 ||
		    store_ticket_set_triage(st, id, "fr", categories[i % 5], 0.9, false, 0.01, 0,
					    sentiments[i % 3]) < 0)
			die("ticket", store_error(st));
		if (sla_on_ticket_created(st, cfg, id, &error) < 0)
			die("sla_on_ticket_created", error);
		if (i % 10000 == 9999 || i == n - 1) {
			if (store_commit(st) < 0)
				die("commit", store_error(st));
			if ((i + 1) % 200000 == 0)
				fprintf(stderr, "  %" PRId64 " tickets, %.0f s\n", i + 1,
					(now_ms() - t0) / 1e3);
		}
	}
	store_set_fake_now(0);
	printf("created %" PRId64 " tickets with their clocks in %.1f s (%.1f us each)\n", n,
	       (now_ms() - t0) / 1e3, (now_ms() - t0) * 1e3 / (double)n);
}

/* Answers the oldest share of the tickets and resolves some, so that the
 * report has times to aggregate; the rest keep their clocks open. */
static void answer_some(struct store *st, const struct config *cfg, int64_t n)
{
	const char *error = NULL;
	double t0 = now_ms();
	int64_t answered = n / 5;
	for (int64_t id = 1; id <= answered; id++) {
		if (id % 10000 == 1 && store_begin(st) < 0)
			die("begin", store_error(st));
		struct ticket t;
		if (store_ticket_get(st, id, &t) != 1)
			die("ticket", store_error(st));
		store_set_fake_now(t.created + 3600 * (1 + id % 7));
		if (sla_on_agent_reply(st, cfg, id, &error) < 0 ||
		    store_ticket_set_first_response(st, id, store_now()) < 0)
			die("reply", error);
		if (id % 2 == 0) {
			store_set_fake_now(t.created + 86400 * (1 + id % 3));
			if (store_ticket_set_status(st, id, TICKET_RESOLVED) < 0 ||
			    sla_on_status(st, cfg, id, TICKET_NEW, TICKET_RESOLVED, &error) < 0)
				die("resolve", error);
		}
		ticket_clear(&t);
		if (id % 10000 == 0 || id == answered)
			if (store_commit(st) < 0)
				die("commit", store_error(st));
	}
	store_set_fake_now(0);
	printf("answered %" PRId64 " (half of them resolved) in %.1f s\n", answered,
	       (now_ms() - t0) / 1e3);
}

int main(int argc, char **argv)
{
	int64_t n = 1000000;
	const char *db = "/tmp/bench_sla.db";
	bool reuse = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tickets") == 0 && i + 1 < argc) {
			if (parse_int64(argv[++i], 1, 100000000, &n) < 0)
				die("--tickets", argv[i]);
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			db = argv[++i];
		} else if (strcmp(argv[i], "--reuse") == 0) {
			reuse = true;
		} else {
			fprintf(stderr, "usage: bench_sla [--tickets N] [--db PATH] [--reuse]\n");
			return 64;
		}
	}
	char *cfg_path = xasprintf("%s.json", db);
	FILE *f = fopen(cfg_path, "w");
	if (f == NULL)
		die(cfg_path, "cannot write");
	fprintf(f, config_text, db);
	fclose(f);
	struct cfg_errors errors;
	struct config *cfg = NULL;
	if (config_load(cfg_path, &cfg, &errors) < 0)
		die("config", errors.count ? errors.items[0] : NULL);
	const char *error = NULL;
	if (!reuse) {
		char *wal = xasprintf("%s-wal", db), *shm = xasprintf("%s-shm", db);
		unlink(db), unlink(wal), unlink(shm);
		free(wal), free(shm);
	}
	long rss_start = vm_rss_kib();
	struct store *st = NULL;
	if (store_open(db, &st, &error) < 0)
		die("store", error);
	const struct calendar *paris = config_calendar(cfg, "paris")->cal;
	int64_t from, to;
	if (cal_parse_local(paris, "2026-03-01", &from, &error) < 0 ||
	    cal_parse_local(paris, "2026-04-01", &to, &error) < 0)
		die("dates", error);
	if (!reuse) {
		create_tickets(st, cfg, n, from, to);
		answer_some(st, cfg, n);
	}
	/* Reopen: what the daemon sees at start, with a cold statement cache. */
	store_close(&st);
	if (store_open(db, &st, &error) < 0)
		die("store", error);
	long rss_open = vm_rss_kib();

	/* A wake with nothing due: the next wake-up, then a fire just before it. */
	int64_t first;
	if (sla_next_wakeup(st, &first, &error) != 1)
		die("next wake-up", error);
	struct sla_fire_stats stats;
	const int reps = 1000;
	double t0 = now_ms();
	for (int i = 0; i < reps; i++) {
		int64_t when;
		if (sla_next_wakeup(st, &when, &error) != 1 ||
		    sla_fire_due(st, cfg, first - 1, 0, &stats, &error) < 0)
			die("idle wake", error);
		if (stats.clocks != 0)
			die("idle wake", "something fired");
	}
	double idle_ms = (now_ms() - t0) / reps;
	printf("wake with nothing due: %.4f ms (next wake-up query + empty fire, mean of %d)\n",
	       idle_ms, reps);

	/* A wake with 1,000 clocks due: the 1000th earliest next_fire. */
	struct sla_due_row *rows = NULL;
	size_t n_rows = 0;
	int64_t at = first;
	/* Find the instant by which 1,000 clocks are due, a step at a time. */
	for (int64_t step = 60;; step *= 2) {
		if (sla_due_list(st, first + step, 1000, &rows, &n_rows, &error) < 0)
			die("due list", error);
		sla_due_rows_free(&rows, n_rows);
		if (n_rows >= 1000 || step > 400LL * 86400) {
			at = first + step;
			break;
		}
	}
	t0 = now_ms();
	if (sla_fire_due(st, cfg, at, 1000, &stats, &error) < 0)
		die("fire", error);
	double fire_ms = now_ms() - t0;
	printf("wake with 1,000 clocks due: %.1f ms (%u clocks, %u warnings, %u breaches,"
	       " %u escalations)\n", fire_ms, stats.clocks, stats.warnings, stats.breaches,
	       stats.escalations);
	long rss_fire = vm_rss_kib();

	static const char *const names[] = {"text", "csv", "json", "html"};
	for (int fmt = 0; fmt < 4; fmt++) {
		struct report_options opts = {.from = from, .to = to, .by = fmt == 1 ? "queue" : NULL,
					      .cal = paris};
		struct report *r = NULL;
		FILE *out = fopen("/dev/null", "w");
		t0 = now_ms();
		if (report_build(st, &opts, &r, &error) < 0 ||
		    report_write(r, (enum report_format)fmt, out, &error) < 0)
			die("report", error);
		double ms = now_ms() - t0;
		fclose(out);
		report_free(&r);
		printf("report sla over March (%s%s): %.0f ms\n", names[fmt],
		       fmt == 1 ? ", by queue" : "", ms);
	}
	long rss_end = vm_rss_kib();
	printf("VmRSS: start %ld KiB, after open %ld KiB, after the wakes %ld KiB,"
	       " after the reports %ld KiB\n", rss_start, rss_open, rss_fire, rss_end);
	store_close(&st);
	config_free(&cfg);
	free(cfg_path);
	return 0;
}
