/* The SQL of the SLA engine and of the SLA report: clocks, webhook
 * deliveries, the notification log and the report's aggregations.
 * Ownership: rows filled here belong to the caller (free with the matching
 * *_clear / *_free); strings are copies. Errors: store_error(st). */
#ifndef TRIAGED_STORE_SLA_H
#define TRIAGED_STORE_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct sla_clock_row {
	int64_t id, ticket_id;
	char *target;             /* "first_response", ... */
	char *policy, *calendar;  /* calendar NULL: the 24x7 one */
	int64_t minutes;
	int64_t started, resumed, consumed; /* consumed: business seconds before resumed */
	int64_t due, warn_at;     /* warn_at 0: none */
	int64_t paused_at;        /* 0: not paused */
	char *state;              /* running, paused, met, breached, stopped */
	int64_t breached_at;      /* 0: not breached */
	int64_t closed_at, elapsed;
	uint64_t fired;
	int64_t next_fire;        /* 0: nothing to fire */
};
void sla_clock_row_clear(struct sla_clock_row *c);
void sla_clock_rows_free(struct sla_clock_row **rows, size_t n);

int store_sla_clock_insert(struct store *st, const struct sla_clock_row *c, int64_t *id_r);
/* Writes every mutable column of c (by c->id). */
int store_sla_clock_update(struct store *st, const struct sla_clock_row *c);
int store_sla_clock_get(struct store *st, int64_t id, struct sla_clock_row *c_r); /* 1/0/-1 */
/* Live clocks (closed_at NULL) of a ticket, oldest first. */
/* Gives clock id to ticket, under target ("first_response"...): a merge
 * keeps the customer's wait. */
int store_sla_clock_move(struct store *st, int64_t id, int64_t ticket, const char *target);
int store_sla_clocks_live(struct store *st, int64_t ticket_id, struct sla_clock_row **rows_r,
			  size_t *n_r);
/* All clocks of a ticket (for tests and `show`). */
int store_sla_clocks_all(struct store *st, int64_t ticket_id, struct sla_clock_row **rows_r,
			 size_t *n_r);
/* tickets.next_due = earliest warning (not fired yet) or due time of the
 * ticket's running clocks, NULL when none runs. */
int store_sla_refresh_next_due(struct store *st, int64_t ticket_id);
/* Ids of clocks with next_fire <= now, earliest first, at most limit. */
int store_sla_clocks_firing(struct store *st, int64_t now, unsigned limit, int64_t **ids_r,
			    size_t *n_r);
/* min(next_fire of clocks, next_attempt of queued webhooks): 1/0/-1. */
int store_sla_next_wakeup(struct store *st, int64_t *when_r);

/* The notification log: 1 when (ticket, channel) was notified at or after
 * since (nothing written); else records now and returns 0. */
int store_sla_notify_check(struct store *st, int64_t ticket_id, const char *channel,
			   int64_t since, int64_t now);

struct sla_webhook_row {
	int64_t id, ticket_id;
	char *webhook, *body;
	unsigned attempts;
};
void sla_webhook_rows_free(struct sla_webhook_row **rows, size_t n);
int store_sla_webhook_queue(struct store *st, int64_t ticket_id, const char *webhook,
			    const char *body, int64_t now);
int store_sla_webhooks_due(struct store *st, int64_t now, unsigned limit,
			   struct sla_webhook_row **rows_r, size_t *n_r);
/* sent: status sent; else attempts+1 and failed (give_up) or queued again at
 * next_attempt, with error. */
int store_sla_webhook_result(struct store *st, int64_t id, bool sent, bool give_up,
			     int64_t next_attempt, const char *error, int64_t now);
/* Counts by status, for tests and `triagectl sla`. */
int store_sla_webhook_counts(struct store *st, int64_t *queued_r, int64_t *sent_r,
			     int64_t *failed_r);

/* Running clocks due before until, with their ticket, in the order of the
 * tickets' next_due then the clock's due time: rows as in sla.h. */
typedef int store_sla_due_cb(int64_t ticket_id, const char *subject, const char *queue,
			     const char *priority, const char *policy, const char *target,
			     int64_t due, bool paused, bool breached, void *ctx);
int store_sla_due_each(struct store *st, int64_t until, unsigned limit, store_sla_due_cb *cb,
		       void *ctx);

/* ---- the SLA report's aggregations over [from, to) ----
 * `by` is one of "queue", "category", "priority", "assignee" or NULL (one
 * group ""). Each call hands every row to the callback; memory stays
 * bounded by the number of groups, whatever the number of tickets. */
typedef int store_report_row_cb(const char *group, const int64_t *values, size_t n_values,
				void *ctx);
/* values: re-triaged by an agent (queue or category set by agent:* or
 * cli:*), category corrected by an agent; of the tickets received. */
int store_report_triage(struct store *st, const char *by, int64_t from, int64_t to,
			store_report_row_cb *cb, void *ctx);
/* Every ticket the volumes, the backlog, sentiment, categories and days
 * count: created, answered (first response) or resolved in [from, to), or
 * created before `to` and not resolved at `to`; one call each, in no order.
 * sentiment and category are "" when none; first_response_at and
 * resolved_at are STORE_REPORT_NONE when not set. One scan of the tickets
 * instead of one per figure; the caller keeps the sums (bounded by groups,
 * categories and days). set_apart: 1 closed as spam, 2 merged into another
 * ticket, 0 neither (those are counted apart, in no other figure). */
#define STORE_REPORT_NONE INT64_MIN
typedef int store_report_ticket_cb(const char *group, const char *sentiment,
				   const char *category, int64_t created,
				   int64_t first_response_at, int64_t resolved_at,
				   int set_apart, void *ctx);
int store_report_tickets(struct store *st, const char *by, int64_t from, int64_t to,
			 store_report_ticket_cb *cb, void *ctx);
/* The distribution of the response or resolution times: one row per
 * distinct (elapsed, group), elapsed ascending: values: elapsed, count. Read
 * twice (counts, then ranks) it gives exact percentiles per group and for
 * all groups at once. */
int store_report_elapsed(struct store *st, const char *by, const char *target, int64_t from,
			 int64_t to, store_report_row_cb *cb, void *ctx);
/* values per target t (0..2): met[t], breached[t] -> 6 values. Met: closed
 * in the period in time; breached: breached_at in the period. */
int store_report_sla(struct store *st, const char *by, int64_t from, int64_t to,
		     store_report_row_cb *cb, void *ctx);

#endif
