/* SLA reports (see report.h): gathered from one pass over the tickets, the
 * ordered time distributions and SQL aggregations into a small per-group
 * table, then written as text, CSV, JSON or HTML with SVG charts. */
#include "report.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "calendar.h"
#include "sla.h"
#include "store_sla.h"
#include "xalloc.h"


struct times {
	int64_t n, median, p90; /* business seconds */
};

struct group {
	char *key;
	int64_t received, answered, resolved, retriaged, corrected;
	int64_t spam;   /* received and closed as spam: in no other count */
	int64_t merged; /* received and merged into another ticket: likewise */
	struct times first_response, resolution;
	int64_t met[SLA_N_TARGETS], breached[SLA_N_TARGETS];
	int64_t backlog, backlog_avg_age, backlog_max_age;
	/* gathering only: the backlog's summed ages (as SQLite's avg() sums,
	 * in a double) and the state of the percentile passes */
	double backlog_age_sum;
	int64_t times_n, times_seen;
};

struct count {
	char *key;
	int64_t n;
};

/* First response business time buckets of the distribution chart. */
static const int64_t hist_bounds[] = {3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600};
static const char *const hist_labels[] = {"< 1 h", "1-4 h", "4-8 h", "8-24 h", "1-3 d",
					  "> 3 d"};
#define N_HIST (ARRAY_SIZE(hist_bounds) + 1)

struct report {
	int64_t from, to;
	int64_t now; /* store_now() when the report was made: backlog ages */
	char *by;
	char from_text[CAL_TIME_STRLEN], to_text[CAL_TIME_STRLEN];
	struct group total;
	struct group *groups;
	size_t n_groups, cap_groups;
	struct count *sentiment, *categories, *breaches_by_queue;
	size_t n_sentiment, n_categories, n_breaches_by_queue;
	int64_t *per_day;
	size_t n_days;
	int64_t histogram[N_HIST];
	const char *error;
};

static void group_clear(struct group *g)
{
	free(g->key);
}

static void counts_free(struct count *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].key);
	free(c);
}

void report_free(struct report **rp)
{
	struct report *r = *rp;
	if (r == NULL)
		return;
	group_clear(&r->total);
	for (size_t i = 0; i < r->n_groups; i++)
		group_clear(&r->groups[i]);
	free(r->groups);
	counts_free(r->sentiment, r->n_sentiment);
	counts_free(r->categories, r->n_categories);
	counts_free(r->breaches_by_queue, r->n_breaches_by_queue);
	free(r->per_day);
	free(r->by);
	free(r);
	*rp = NULL;
}

int report_format_parse(const char *s, enum report_format *format_r)
{
	static const char *const names[] = {"text", "csv", "json", "html"};
	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*format_r = (enum report_format)i;
			return 0;
		}
	return -1;
}

/* ---- gathering -------------------------------------------------------------- */

struct gather {
	struct report *r;
	bool total; /* rows go to r->total */
	int what;
};

enum { G_TRIAGE, G_SLA };

static struct group *group_for(struct gather *g, const char *key)
{
	struct report *r = g->r;
	if (g->total)
		return &r->total;
	/* Rows come sorted by key from each query, but not all queries see all
	 * groups: a linear search over few groups is enough. */
	for (size_t i = 0; i < r->n_groups; i++)
		if (strcmp(r->groups[i].key, key) == 0)
			return &r->groups[i];
	if (r->n_groups >= REPORT_MAX_GROUPS) {
		r->error = error_fmt("more than %d groups", REPORT_MAX_GROUPS);
		return NULL;
	}
	r->groups = xgrow(r->groups, &r->cap_groups, r->n_groups + 1, sizeof(*r->groups));
	struct group *gr = &r->groups[r->n_groups++];
	memset(gr, 0, sizeof(*gr));
	gr->key = xstrdup(key);
	return gr;
}

static int gather_cb(const char *key, const int64_t *v, size_t n, void *ctx)
{
	(void)n;
	struct gather *g = ctx;
	struct group *gr = group_for(g, key);
	if (gr == NULL)
		return -1;
	switch (g->what) {
	case G_TRIAGE:
		gr->retriaged = v[0], gr->corrected = v[1];
		break;
	case G_SLA:
		for (int t = 0; t < SLA_N_TARGETS; t++)
			gr->met[t] = v[2 * t], gr->breached[t] = v[2 * t + 1];
		break;
	}
	return 0;
}

struct count_list {
	struct count *items;
	size_t n, cap, max;
};

static int count_cb(const char *key, const int64_t *v, size_t n, void *ctx)
{
	(void)n;
	struct count_list *l = ctx;
	if (l->n >= l->max)
		return 0;
	l->items = xgrow(l->items, &l->cap, l->n + 1, sizeof(*l->items));
	l->items[l->n++] = (struct count){xstrdup(key), v[0]};
	return 0;
}

static int breach_cb(const char *key, const int64_t *v, size_t n, void *ctx)
{
	(void)n;
	int64_t sum = v[1] + v[3] + v[5];
	return count_cb(key, &sum, 1, ctx);
}

/* ---- the tickets, in one pass ---- */

static bool in_period(const struct report *r, int64_t at)
{
	return at != STORE_REPORT_NONE && at >= r->from && at < r->to;
}

/* Adds one to the count of key, keeping at most `limit` distinct keys. */
static int count_add(struct report *r, struct count_list *l, size_t *last, const char *key,
		     const char *what)
{
	if (*last < l->n && strcmp(l->items[*last].key, key) == 0) {
		l->items[*last].n++;
		return 0;
	}
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0) {
			l->items[i].n++;
			*last = i;
			return 0;
		}
	if (l->n >= REPORT_MAX_GROUPS) {
		r->error = error_fmt("more than %d %s", REPORT_MAX_GROUPS, what);
		return -1;
	}
	l->items = xgrow(l->items, &l->cap, l->n + 1, sizeof(*l->items));
	l->items[l->n] = (struct count){xstrdup(key), 1};
	*last = l->n++;
	return 0;
}

struct ticket_pass {
	struct gather g;
	struct group *last;
	struct count_list sentiment, categories;
	size_t last_sentiment, last_category;
};

static int ticket_cb(const char *key, const char *sentiment, const char *category,
		     int64_t created, int64_t first_response_at, int64_t resolved_at, int set_apart,
		     void *ctx)
{
	struct ticket_pass *p = ctx;
	struct report *r = p->g.r;
	bool received = in_period(r, created);
	/* Spam closed and duplicates merged away are counted apart: closing
	 * spam is no service given, and a request merged is counted once, in
	 * the ticket kept (its SLA clocks count: store_sla.c). */
	bool apart = set_apart != 0;
	bool answered = !apart && in_period(r, first_response_at);
	bool resolved = !apart && in_period(r, resolved_at);
	bool backlog = !apart && created < r->to &&
		       (resolved_at == STORE_REPORT_NONE || resolved_at >= r->to);
	if (!received && !answered && !resolved && !backlog)
		return 0;
	struct group *gr = p->last;
	if (gr == NULL || (!p->g.total && strcmp(gr->key, key) != 0)) {
		gr = group_for(&p->g, key);
		if (gr == NULL)
			return -1;
		p->last = gr;
	}
	if (apart) {
		if (set_apart == 2)
			gr->merged++;
		else
			gr->spam++;
		return 0;
	}
	gr->received += received, gr->answered += answered, gr->resolved += resolved;
	if (backlog) {
		/* Aged at the end of the period, or now if that is still to
		 * come: a ticket of five minutes is not days old. */
		int64_t at = r->to < r->now ? r->to : r->now;
		int64_t age = at > created ? at - created : 0;
		gr->backlog++;
		gr->backlog_age_sum += (double)age;
		if (age > gr->backlog_max_age)
			gr->backlog_max_age = age;
	}
	if (!received)
		return 0;
	r->per_day[(created - r->from) / 86400]++;
	if (count_add(r, &p->sentiment, &p->last_sentiment, sentiment, "sentiment labels") < 0 ||
	    count_add(r, &p->categories, &p->last_category, category, "categories") < 0)
		return -1;
	return 0;
}

/* Most frequent first, then by name: the order the report lists them in. */
static int count_cmp(const void *a, const void *b)
{
	const struct count *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void counts_keep(struct count_list *l, size_t keep, struct count **items_r, size_t *n_r)
{
	if (l->n > 1)
		qsort(l->items, l->n, sizeof(*l->items), count_cmp);
	for (size_t i = keep; i < l->n; i++)
		free(l->items[i].key);
	*n_r = l->n < keep ? l->n : keep;
	*items_r = l->items;
	l->items = NULL;
	l->n = 0;
}

static void backlog_averages(struct group *g)
{
	/* CAST(avg(age) AS INTEGER): truncated */
	g->backlog_avg_age = g->backlog > 0 ? (int64_t)(g->backlog_age_sum / (double)g->backlog) : 0;
}

static int ticket_pass(struct store *st, struct report *r, const char *by)
{
	struct ticket_pass p = {.g = {.r = r, .total = by == NULL}};
	int rc = store_report_tickets(st, by, r->from, r->to, ticket_cb, &p);
	counts_keep(&p.sentiment, 100, &r->sentiment, &r->n_sentiment);
	counts_keep(&p.categories, REPORT_TOP_CATEGORIES, &r->categories, &r->n_categories);
	if (rc < 0)
		return -1;
	backlog_averages(&r->total);
	for (size_t i = 0; i < r->n_groups; i++)
		backlog_averages(&r->groups[i]);
	return 0;
}

/* ---- times: exact nearest-rank percentiles from the ordered distribution ---- */

/* The rows of the first read are kept, up to this many, so that the second
 * one needs no query: business seconds repeat, so there are usually far
 * fewer distinct (elapsed, group) rows than clocks; beyond it the query
 * runs again and memory stays bounded. */
#define TIMES_KEEP_ROWS 65536

struct times_row {
	size_t group; /* index in r->groups, or SIZE_MAX for the total */
	int64_t elapsed, count;
};

struct times_pass {
	struct gather g;
	bool first_response;
	int pass; /* 1: counts, 2: ranks */
	struct times_row *rows;
	size_t n_rows, cap_rows;
	bool overflow;
};

static struct times *times_of(struct group *gr, bool first_response)
{
	return first_response ? &gr->first_response : &gr->resolution;
}

/* Median and 90th percentile by nearest rank: the ceil(p * n)-th value,
 * i.e. ranks (n + 1) / 2 and (9n + 9) / 10. */
static void times_step(struct group *gr, bool first_response, int pass, int64_t elapsed,
		       int64_t count)
{
	if (pass == 1) {
		gr->times_n += count;
		return;
	}
	struct times *t = times_of(gr, first_response);
	int64_t before = gr->times_seen, after = before + count;
	int64_t median_rank = (t->n + 1) / 2, p90_rank = (9 * t->n + 9) / 10;
	if (before < median_rank && median_rank <= after)
		t->median = elapsed;
	if (before < p90_rank && p90_rank <= after)
		t->p90 = elapsed;
	gr->times_seen = after;
}

static int times_cb(const char *key, const int64_t *v, size_t n, void *ctx)
{
	(void)n;
	struct times_pass *p = ctx;
	struct report *r = p->g.r;
	struct group *gr = group_for(&p->g, key);
	if (gr == NULL)
		return -1;
	times_step(gr, p->first_response, p->pass, v[0], v[1]);
	if (gr != &r->total)
		times_step(&r->total, p->first_response, p->pass, v[0], v[1]);
	if (p->pass == 1 && p->first_response) {
		size_t b = 0;
		while (b < ARRAY_SIZE(hist_bounds) && v[0] >= hist_bounds[b])
			b++;
		r->histogram[b] += v[1];
	}
	if (p->pass == 1 && !p->overflow) {
		if (p->n_rows >= TIMES_KEEP_ROWS) {
			p->overflow = true;
			return 0;
		}
		p->rows = xgrow(p->rows, &p->cap_rows, p->n_rows + 1, sizeof(*p->rows));
		p->rows[p->n_rows++] = (struct times_row){
			gr == &r->total ? SIZE_MAX : (size_t)(gr - r->groups), v[0], v[1]};
	}
	return 0;
}

static void times_reset(struct group *g, bool first_response, int pass)
{
	if (pass == 1) {
		g->times_n = 0;
		return;
	}
	*times_of(g, first_response) = (struct times){.n = g->times_n};
	g->times_seen = 0;
}

/* Two reads of the same ordered stream: the counts per group, then the
 * values at the ranks; groups and the total at once. */
static int times_passes(struct store *st, struct report *r, const char *by, bool first_response)
{
	const char *target = first_response ? "first_response" : "resolution";
	struct times_pass p = {.g = {.r = r, .total = by == NULL}, .first_response = first_response};
	for (p.pass = 1; p.pass <= 2; p.pass++) {
		times_reset(&r->total, first_response, p.pass);
		for (size_t i = 0; i < r->n_groups; i++)
			times_reset(&r->groups[i], first_response, p.pass);
		if (p.pass == 2 && !p.overflow) {
			for (size_t i = 0; i < p.n_rows; i++) {
				const struct times_row *row = &p.rows[i];
				if (row->group != SIZE_MAX)
					times_step(&r->groups[row->group], first_response, 2,
						   row->elapsed, row->count);
				times_step(&r->total, first_response, 2, row->elapsed, row->count);
			}
			break;
		}
		if (store_report_elapsed(st, by, target, r->from, r->to, times_cb, &p) < 0) {
			free(p.rows);
			return -1;
		}
	}
	free(p.rows);
	return 0;
}

/* ---- SLA met and breached ---- */

struct sla_pass {
	struct gather g;
	struct count_list *breaches;
};

static int sla_by_queue_cb(const char *key, const int64_t *v, size_t n, void *ctx)
{
	struct sla_pass *p = ctx;
	if (breach_cb(key, v, n, p->breaches) < 0)
		return -1;
	if (p->g.r->by != NULL)
		return gather_cb(key, v, n, &p->g);
	struct group *t = &p->g.r->total;
	for (int k = 0; k < SLA_N_TARGETS; k++)
		t->met[k] += v[2 * k], t->breached[k] += v[2 * k + 1];
	return 0;
}

/* The breaches per queue (a chart) and the groups' figures: one query when
 * the report is by queue or has no groups (the total is the queues' sum). */
static int sla_pass(struct store *st, struct report *r, struct count_list *breaches)
{
	struct sla_pass p = {.g = {.r = r, .what = G_SLA}, .breaches = breaches};
	if (r->by == NULL || strcmp(r->by, "queue") == 0)
		return store_report_sla(st, "queue", r->from, r->to, sla_by_queue_cb, &p);
	if (store_report_sla(st, r->by, r->from, r->to, gather_cb, &p.g) < 0)
		return -1;
	return store_report_sla(st, "queue", r->from, r->to, breach_cb, breaches);
}

static int gather_all(struct store *st, struct report *r, struct count_list *breaches)
{
	struct gather g = {.r = r, .total = r->by == NULL, .what = G_TRIAGE};
	if (ticket_pass(st, r, r->by) < 0 ||
	    store_report_triage(st, r->by, r->from, r->to, gather_cb, &g) < 0 ||
	    times_passes(st, r, r->by, true) < 0 || times_passes(st, r, r->by, false) < 0 ||
	    sla_pass(st, r, breaches) < 0)
		return -1;
	return 0;
}

/* The total of a grouped report: sums of the groups for every count (a
 * second pass over the tickets would double the cost); the times came with
 * the groups' (percentiles do not add up). */
static void total_from_groups(struct report *r)
{
	struct group *t = &r->total;
	double age_sum = 0;
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group *g = &r->groups[i];
		t->received += g->received, t->answered += g->answered, t->resolved += g->resolved;
		t->retriaged += g->retriaged, t->corrected += g->corrected;
		t->spam += g->spam, t->merged += g->merged;
		for (int k = 0; k < SLA_N_TARGETS; k++)
			t->met[k] += g->met[k], t->breached[k] += g->breached[k];
		t->backlog += g->backlog;
		age_sum += (double)g->backlog_avg_age * (double)g->backlog;
		if (g->backlog_max_age > t->backlog_max_age)
			t->backlog_max_age = g->backlog_max_age;
	}
	t->backlog_avg_age = t->backlog > 0 ? (int64_t)(age_sum / (double)t->backlog) : 0;
}

static int group_cmp(const void *a, const void *b)
{
	return strcmp(((const struct group *)a)->key, ((const struct group *)b)->key);
}

int report_build(struct store *st, const struct report_options *opts, struct report **report_r,
		 const char **error_r)
{
	if (opts->to <= opts->from) {
		*error_r = "the period is empty (--to must come after --from)";
		return -1;
	}
	int64_t days = (opts->to - opts->from + 86399) / 86400;
	if (days > REPORT_MAX_DAYS) {
		*error_r = error_fmt("period longer than %d days", REPORT_MAX_DAYS);
		return -1;
	}
	if (opts->by != NULL && strcmp(opts->by, "queue") != 0 && strcmp(opts->by, "category") != 0 &&
	    strcmp(opts->by, "priority") != 0 && strcmp(opts->by, "assignee") != 0) {
		*error_r = error_fmt("cannot group by \"%s\" (queue, category, priority, assignee)",
				     opts->by);
		return -1;
	}
	struct report *r = xcalloc(1, sizeof(*r));
	r->from = opts->from;
	r->to = opts->to;
	r->now = store_now();
	r->by = opts->by ? xstrdup(opts->by) : NULL;
	r->total.key = xstrdup("total");
	if (opts->cal != NULL) {
		cal_format_local(opts->cal, r->from, r->from_text, sizeof(r->from_text));
		cal_format_local(opts->cal, r->to, r->to_text, sizeof(r->to_text));
	} else {
		cal_format_utc(r->from, r->from_text, sizeof(r->from_text));
		cal_format_utc(r->to, r->to_text, sizeof(r->to_text));
	}
	r->n_days = (size_t)days;
	r->per_day = xcalloc(r->n_days, sizeof(*r->per_day));
	struct count_list breaches = {.max = REPORT_MAX_GROUPS};
	int rc = gather_all(st, r, &breaches);
	if (rc == 0 && r->by != NULL)
		total_from_groups(r);
	r->breaches_by_queue = breaches.items, r->n_breaches_by_queue = breaches.n;
	if (rc < 0) {
		*error_r = r->error ? r->error : error_fmt("report: %s", store_error(st));
		report_free(&r);
		return -1;
	}
	if (r->n_groups > 1)
		qsort(r->groups, r->n_groups, sizeof(*r->groups), group_cmp);
	*report_r = r;
	return 0;
}

/* ---- shared formatting -------------------------------------------------------- */

/* "12:05" hours and minutes of business time, "-" when there is no value. */
static void fmt_duration(char *buf, size_t size, int64_t n, int64_t seconds)
{
	if (n == 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%lld:%02lld", (long long)(seconds / 3600),
			 (long long)(seconds % 3600 / 60));
}

static void fmt_rate(char *buf, size_t size, int64_t part, int64_t whole)
{
	if (whole == 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f%%", 100.0 * (double)part / (double)whole);
}

static double minutes(int64_t seconds)
{
	return (double)seconds / 60.0;
}

/* The rows shown: each group then the total, or the total alone. */
static size_t n_rows(const struct report *r)
{
	return r->n_groups + 1;
}

static const struct group *row(const struct report *r, size_t i)
{
	return i < r->n_groups ? &r->groups[i] : &r->total;
}

/* ---- text --------------------------------------------------------------------- */

#define TEXT_COLS 13

static size_t display_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void pad(FILE *out, const char *s, size_t width, bool right)
{
	size_t w = display_width(s);
	if (right)
		for (size_t i = w; i < width; i++)
			fputc(' ', out);
	fputs(s, out);
	if (!right)
		for (size_t i = w; i < width; i++)
			fputc(' ', out);
}

static void text_cells(const struct report *r, const struct group *g, char cells[][64])
{
	(void)r;
	/* A group name may hold anything an agent typed: one line in a cell. */
	snprintf(cells[0], 64, "%s", g->key);
	size_t len = strlen(cells[0]);
	if (len < strlen(g->key)) { /* cut: never in the middle of a UTF-8 sequence */
		while (len > 0 && ((unsigned char)g->key[len] & 0xc0) == 0x80)
			len--;
		cells[0][len] = '\0';
	}
	for (char *p = cells[0]; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	snprintf(cells[1], 64, "%lld", (long long)g->received);
	snprintf(cells[2], 64, "%lld", (long long)g->answered);
	snprintf(cells[3], 64, "%lld", (long long)g->resolved);
	fmt_duration(cells[4], 64, g->first_response.n, g->first_response.median);
	fmt_duration(cells[5], 64, g->first_response.n, g->first_response.p90);
	fmt_duration(cells[6], 64, g->resolution.n, g->resolution.median);
	fmt_duration(cells[7], 64, g->resolution.n, g->resolution.p90);
	for (int t = 0; t < SLA_N_TARGETS; t++)
		fmt_rate(cells[8 + t], 64, g->breached[t], g->met[t] + g->breached[t]);
	snprintf(cells[11], 64, "%lld", (long long)g->backlog);
	fmt_duration(cells[12], 64, g->backlog, g->backlog_avg_age);
}

static void write_text(const struct report *r, FILE *out)
{
	static const char *const head[TEXT_COLS] = {"", "received", "answered", "resolved",
		"1st resp med", "1st resp p90", "resol med", "resol p90", "breach 1st",
		"breach next", "breach resol", "backlog", "backlog age"};
	fprintf(out, "SLA report %s .. %s%s%s\n", r->from_text, r->to_text,
		r->by ? ", by " : "", r->by ? r->by : "");
	fprintf(out, "Times are business hours:minutes, but the backlog's age (calendar time);\n"
		     "breach rates are breached / (met + breached).\n\n");
	size_t width[TEXT_COLS];
	for (int c = 0; c < TEXT_COLS; c++)
		width[c] = display_width(head[c]);
	char cells[TEXT_COLS][64];
	for (size_t i = 0; i < n_rows(r); i++) {
		text_cells(r, row(r, i), cells);
		for (int c = 0; c < TEXT_COLS; c++)
			if (display_width(cells[c]) > width[c])
				width[c] = display_width(cells[c]);
	}
	for (int c = 0; c < TEXT_COLS; c++) {
		pad(out, head[c], width[c], c > 0);
		fputs(c + 1 < TEXT_COLS ? "  " : "\n", out);
	}
	for (size_t i = 0; i < n_rows(r); i++) {
		text_cells(r, row(r, i), cells);
		for (int c = 0; c < TEXT_COLS; c++) {
			pad(out, cells[c], width[c], c > 0);
			fputs(c + 1 < TEXT_COLS ? "  " : "\n", out);
		}
	}
	const struct group *t = &r->total;
	char a[32], b[32];
	fmt_rate(a, sizeof(a), t->received - t->retriaged, t->received);
	fmt_rate(b, sizeof(b), t->corrected, t->received);
	fprintf(out, "\nTriaged automatically: %s; category corrected by an agent: %s\n", a, b);
	fprintf(out,
		"Closed as spam: %lld, in no figure above; merged into another ticket: %lld, "
		"counted in the ticket kept\n",
		(long long)t->spam, (long long)t->merged);
	fmt_duration(a, sizeof(a), t->backlog, t->backlog_max_age);
	fprintf(out, "Backlog at the end: %lld tickets, oldest %s\n", (long long)t->backlog, a);
	fputs("\nSentiment:\n", out);
	for (size_t i = 0; i < r->n_sentiment; i++) {
		fputs("  ", out);
		pad(out, r->sentiment[i].key[0] ? r->sentiment[i].key : "(none)", 12, false);
		fprintf(out, " %8lld\n", (long long)r->sentiment[i].n);
	}
	fputs("\nTop categories:\n", out);
	for (size_t i = 0; i < r->n_categories; i++) {
		fputs("  ", out);
		pad(out, r->categories[i].key[0] ? r->categories[i].key : "(none)", 16, false);
		fprintf(out, " %8lld\n", (long long)r->categories[i].n);
	}
}

/* ---- CSV (RFC 4180: CRLF, quoted when needed, quotes doubled) ------------------ */

static void csv_field(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void write_csv(const struct report *r, FILE *out)
{
	fprintf(out, "group,received,answered,resolved,first_response_count,"
		     "first_response_median_min,first_response_p90_min,resolution_count,"
		     "resolution_median_min,resolution_p90_min,first_response_met,"
		     "first_response_breached,next_response_met,next_response_breached,"
		     "resolution_met,resolution_breached,backlog,backlog_avg_age_min,"
		     "triaged_automatically,corrected_by_agent,spam,merged\r\n");
	for (size_t i = 0; i < n_rows(r); i++) {
		const struct group *g = row(r, i);
		csv_field(out, g->key);
		fprintf(out, ",%lld,%lld,%lld,%lld,%.1f,%.1f,%lld,%.1f,%.1f", (long long)g->received,
			(long long)g->answered, (long long)g->resolved, (long long)g->first_response.n,
			minutes(g->first_response.median), minutes(g->first_response.p90),
			(long long)g->resolution.n, minutes(g->resolution.median),
			minutes(g->resolution.p90));
		for (int t = 0; t < SLA_N_TARGETS; t++)
			fprintf(out, ",%lld,%lld", (long long)g->met[t], (long long)g->breached[t]);
		fprintf(out, ",%lld,%.1f,%lld,%lld,%lld,%lld\r\n", (long long)g->backlog,
			minutes(g->backlog_avg_age), (long long)(g->received - g->retriaged),
			(long long)g->corrected, (long long)g->spam, (long long)g->merged);
	}
}

/* ---- JSON ----------------------------------------------------------------------- */

static cJSON *times_json(const struct times *t)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "count", (double)t->n);
	if (t->n > 0) {
		cJSON_AddNumberToObject(o, "median_seconds", (double)t->median);
		cJSON_AddNumberToObject(o, "p90_seconds", (double)t->p90);
	}
	return o;
}

static cJSON *group_json(const struct group *g)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "group", g->key);
	cJSON_AddNumberToObject(o, "received", (double)g->received);
	cJSON_AddNumberToObject(o, "answered", (double)g->answered);
	cJSON_AddNumberToObject(o, "resolved", (double)g->resolved);
	cJSON_AddNumberToObject(o, "triaged_automatically", (double)(g->received - g->retriaged));
	cJSON_AddNumberToObject(o, "corrected_by_agent", (double)g->corrected);
	cJSON_AddNumberToObject(o, "spam", (double)g->spam);
	cJSON_AddNumberToObject(o, "merged", (double)g->merged);
	cJSON_AddItemToObject(o, "first_response", times_json(&g->first_response));
	cJSON_AddItemToObject(o, "resolution", times_json(&g->resolution));
	cJSON *sla = cJSON_AddObjectToObject(o, "sla");
	for (int t = 0; t < SLA_N_TARGETS; t++) {
		cJSON *x = cJSON_AddObjectToObject(sla, sla_target_name((enum sla_target)t));
		cJSON_AddNumberToObject(x, "met", (double)g->met[t]);
		cJSON_AddNumberToObject(x, "breached", (double)g->breached[t]);
		int64_t all = g->met[t] + g->breached[t];
		if (all > 0)
			cJSON_AddNumberToObject(x, "breach_rate", (double)g->breached[t] / (double)all);
	}
	cJSON *b = cJSON_AddObjectToObject(o, "backlog");
	cJSON_AddNumberToObject(b, "count", (double)g->backlog);
	cJSON_AddNumberToObject(b, "average_age_seconds", (double)g->backlog_avg_age);
	cJSON_AddNumberToObject(b, "oldest_age_seconds", (double)g->backlog_max_age);
	return o;
}

static cJSON *counts_json(const struct count *c, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; i < n; i++)
		cJSON_AddNumberToObject(o, c[i].key[0] ? c[i].key : "(none)", (double)c[i].n);
	return o;
}

static int write_json(const struct report *r, FILE *out)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "from", r->from_text);
	cJSON_AddStringToObject(o, "to", r->to_text);
	if (r->by != NULL)
		cJSON_AddStringToObject(o, "by", r->by);
	cJSON_AddItemToObject(o, "total", group_json(&r->total));
	cJSON *groups = cJSON_AddArrayToObject(o, "groups");
	for (size_t i = 0; i < r->n_groups; i++)
		cJSON_AddItemToArray(groups, group_json(&r->groups[i]));
	cJSON_AddItemToObject(o, "sentiment", counts_json(r->sentiment, r->n_sentiment));
	cJSON_AddItemToObject(o, "top_categories", counts_json(r->categories, r->n_categories));
	cJSON_AddItemToObject(o, "breaches_by_queue",
			      counts_json(r->breaches_by_queue, r->n_breaches_by_queue));
	cJSON *days = cJSON_AddArrayToObject(o, "received_per_day");
	for (size_t i = 0; i < r->n_days; i++)
		cJSON_AddItemToArray(days, cJSON_CreateNumber((double)r->per_day[i]));
	cJSON *hist = cJSON_AddObjectToObject(o, "first_response_distribution");
	for (size_t i = 0; i < N_HIST; i++)
		cJSON_AddNumberToObject(hist, hist_labels[i], (double)r->histogram[i]);
	char *text = cJSON_Print(o);
	cJSON_Delete(o);
	if (text == NULL)
		return -1;
	fputs(text, out);
	fputc('\n', out);
	cJSON_free(text);
	return 0;
}

/* ---- HTML: well-formed XHTML, inline CSS and SVG, no external asset ------------ */

static void html_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			/* Control characters are not allowed in XML 1.0. */
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				fputc(' ', out);
			else
				fputc(*s, out);
		}
	}
}

/* A vertical bar chart: n bars with labels (NULL: index + 1). */
static void svg_bars(FILE *out, const char *title, const int64_t *values,
		     const char *const *labels, const struct count *counts, size_t n)
{
	const int width = 720, height = 220, left = 40, bottom = 40, top = 24;
	int64_t max = 1;
	for (size_t i = 0; i < n; i++) {
		int64_t v = counts ? counts[i].n : values[i];
		if (v > max)
			max = v;
	}
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
		     " role=\"img\" aria-label=\"", width, height);
	html_text(out, title);
	fputs("\">\n<text x=\"4\" y=\"16\" class=\"t\">", out);
	html_text(out, title);
	fprintf(out, "</text>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n",
		left, height - bottom, width - 4, height - bottom);
	fprintf(out, "<text x=\"4\" y=\"%d\">%lld</text>\n", top + 10, (long long)max);
	double slot = n ? (double)(width - left - 8) / (double)n : 0;
	for (size_t i = 0; i < n; i++) {
		int64_t v = counts ? counts[i].n : values[i];
		double h = (double)(height - bottom - top) * (double)v / (double)max;
		double x = left + slot * (double)i + slot * 0.1;
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3b6ea5\">"
			     "<title>", x, (double)(height - bottom) - h, slot * 0.8, h);
		if (counts)
			html_text(out, counts[i].key[0] ? counts[i].key : "(none)");
		else if (labels)
			html_text(out, labels[i]);
		else
			fprintf(out, "day %zu", i + 1);
		fprintf(out, ": %lld</title></rect>\n", (long long)v);
		/* Labels under the bars, thinned out when there are many. */
		size_t every = n > 16 ? (n + 15) / 16 : 1;
		if (i % every == 0) {
			fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"l\">", x, height - bottom + 14);
			if (counts)
				html_text(out, counts[i].key[0] ? counts[i].key : "(none)");
			else if (labels)
				html_text(out, labels[i]);
			else
				fprintf(out, "%zu", i + 1);
			fputs("</text>\n", out);
		}
	}
	fputs("</svg>\n", out);
}

static void write_html(const struct report *r, FILE *out)
{
	fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\"/>\n<title>SLA report</title>\n<style>\n"
	      "body{font-family:sans-serif;margin:2em;color:#222}"
	      "table{border-collapse:collapse;margin:1em 0}"
	      "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
	      "td:first-child,th:first-child{text-align:left}"
	      "tr.total{font-weight:bold}svg{display:block;margin:1em 0}"
	      "svg .t{font-weight:bold;font-size:13px}svg text{font-size:10px}\n"
	      "</style>\n</head>\n<body>\n<h1>SLA report</h1>\n<p>", out);
	html_text(out, r->from_text);
	fputs(" to ", out);
	html_text(out, r->to_text);
	if (r->by != NULL) {
		fputs(", by ", out);
		html_text(out, r->by);
	}
	fputs(". Times are business hours:minutes, but the backlog's age (calendar time).</p>\n"
	      "<table>\n<tr><th></th><th>received</th>"
	      "<th>answered</th><th>resolved</th><th>1st response median</th><th>1st response p90</th>"
	      "<th>resolution median</th><th>resolution p90</th><th>breach 1st</th>"
	      "<th>breach next</th><th>breach resolution</th><th>backlog</th><th>backlog age</th></tr>\n",
	      out);
	char cells[TEXT_COLS][64];
	for (size_t i = 0; i < n_rows(r); i++) {
		text_cells(r, row(r, i), cells);
		fputs(i == r->n_groups ? "<tr class=\"total\">" : "<tr>", out);
		for (int c = 0; c < TEXT_COLS; c++) {
			fputs("<td>", out);
			html_text(out, cells[c]);
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
	const struct group *t = &r->total;
	char a[32], b[32];
	fmt_rate(a, sizeof(a), t->received - t->retriaged, t->received);
	fmt_rate(b, sizeof(b), t->corrected, t->received);
	fprintf(out, "<p>Triaged automatically: %s; category corrected by an agent: %s.</p>\n", a, b);
	fprintf(out,
		"<p>Closed as spam: %lld, in no figure above; merged into another ticket: %lld, "
		"counted in the ticket kept.</p>\n",
		(long long)t->spam, (long long)t->merged);
	svg_bars(out, "Tickets received per day", r->per_day, NULL, NULL, r->n_days);
	svg_bars(out, "First response time (business)", r->histogram, hist_labels, NULL, N_HIST);
	svg_bars(out, "SLA breaches per queue", NULL, NULL, r->breaches_by_queue,
		 r->n_breaches_by_queue);
	fputs("<h2>Sentiment</h2>\n<table>\n", out);
	for (size_t i = 0; i < r->n_sentiment; i++) {
		fputs("<tr><td>", out);
		html_text(out, r->sentiment[i].key[0] ? r->sentiment[i].key : "(none)");
		fprintf(out, "</td><td>%lld</td></tr>\n", (long long)r->sentiment[i].n);
	}
	fputs("</table>\n<h2>Top categories</h2>\n<table>\n", out);
	for (size_t i = 0; i < r->n_categories; i++) {
		fputs("<tr><td>", out);
		html_text(out, r->categories[i].key[0] ? r->categories[i].key : "(none)");
		fprintf(out, "</td><td>%lld</td></tr>\n", (long long)r->categories[i].n);
	}
	fputs("</table>\n</body>\n</html>\n", out);
}

int report_write(const struct report *r, enum report_format format, FILE *out,
		 const char **error_r)
{
	int rc = 0;
	switch (format) {
	case REPORT_TEXT: write_text(r, out); break;
	case REPORT_CSV: write_csv(r, out); break;
	case REPORT_JSON: rc = write_json(r, out); break;
	case REPORT_HTML: write_html(r, out); break;
	}
	if (rc < 0 || ferror(out)) {
		*error_r = "writing the report failed";
		return -1;
	}
	return 0;
}
