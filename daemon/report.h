/* SLA reports for managers over a period [from, to): volumes, first
 * response and resolution times in business time (median, 90th percentile),
 * SLA met and breached per target, backlog and its age, sentiment, top
 * categories, automatic triage share; as aligned text, CSV (RFC 4180),
 * JSON, or a self-contained HTML page with inline SVG charts.
 *
 * Figures come from one scan of the tickets summed per group, category,
 * sentiment and day, ordered time distributions and SQL aggregations
 * (store_sla.h); memory grows with the number of groups, categories and
 * days, never with the number of tickets (at most REPORT_MAX_GROUPS
 * categories or sentiment labels).
 * Definitions: received = created in the period; answered = first response
 * in the period; resolved = resolved in the period; times are those of SLA
 * clocks closed in the period (tickets under a policy with that target);
 * met = clock met in time and closed in the period, breached = clock whose
 * due time passed within the period; backlog = created before `to` and not
 * resolved at `to`; re-triaged = received and given a queue or category by
 * an agent (events queue.set, queue_changed, category, category.set or
 * category.corrected by agent:* or cli:*), the rest were triaged
 * automatically; corrected = category.corrected by an agent. Groups use the ticket's current queue, category,
 * priority or assignee.
 * Ownership: report_build() returns a report freed with report_free().
 * Errors: static per thread, valid until the next call. */
#ifndef TRIAGED_REPORT_H
#define TRIAGED_REPORT_H

#include <stdint.h>
#include <stdio.h>

struct store;
struct calendar;
struct report;

#define REPORT_MAX_GROUPS 10000
#define REPORT_MAX_DAYS 3700 /* about ten years of daily volumes */
#define REPORT_TOP_CATEGORIES 10

enum report_format { REPORT_TEXT, REPORT_CSV, REPORT_JSON, REPORT_HTML };
int report_format_parse(const char *s, enum report_format *format_r);

struct report_options {
	int64_t from, to;           /* UTC seconds, to exclusive */
	const char *by;             /* "queue", "category", "priority", "assignee" or NULL */
	const struct calendar *cal; /* zone of the dates shown; NULL: UTC */
};

int report_build(struct store *st, const struct report_options *opts, struct report **report_r,
		 const char **error_r);
int report_write(const struct report *r, enum report_format format, FILE *out,
		 const char **error_r);
void report_free(struct report **r);

#endif
