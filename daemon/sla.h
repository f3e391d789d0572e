/* SLA engine: policies chosen by queue and priority, clocks counted in
 * business time on the calendars, warnings, breaches and escalations that
 * fire exactly once, and the outgoing SLA webhooks.
 *
 * Clocks: one row per ticket and target (first_response, next_response,
 * resolution) in the store. A clock counts business seconds while running;
 * pausing (ticket pending) adds what ran to `consumed`, resuming restarts the
 * count from now, so the due time moves by the paused time's business
 * duration. Levels of a clock, in business seconds consumed:
 *   level 0  warning     warn_at * target
 *   level 1  breach      target
 *   level 2+k escalation k   target + escalations[k].after minutes
 * Clock states: running, paused (live, closed_at NULL); met (reached in
 * time), breached (reached late), stopped (ended without being reached:
 * the ticket was resolved, or its new policy lacks the target). A live clock
 * past its due time stays running (escalations go on) with breached_at set.
 * Each level fires once: its bit in the clock's `fired` mask is set in the
 * same transaction as its audit event (actor "sla:POLICY"), so restarts
 * neither repeat nor lose one, and what fell due while the daemon was down
 * fires at the next sla_fire_due().
 *
 * Transactions: the sla_on_* hooks run inside the caller's transaction and
 * begin none. sla_fire_due() and sla_send_webhooks() begin their own (one per
 * clock, one per delivery).
 *
 * Escalation levels of a clock are those of its policy by position: after a
 * policy change, levels already fired stay fired. raise_priority does not
 * choose the policy again (that would move the clock under its own feet).
 * Notifications are damped per ticket and channel ("mail:ADDR",
 * "webhook:NAME"): within sla.dedupe_minutes of the last one, the event is
 * recorded with "deduplicated": true and nothing is sent.
 *
 * Webhooks never block the caller of sla_fire_due(): it only queues them in
 * the sla_webhooks table; sla_send_webhooks() (a worker thread with its own
 * store connection, or the main loop when nothing else waits) delivers them
 * over HTTPS with libcurl, with a timeout and retries with backoff.
 * Mail notifications: the outbox has no public notification queue yet, so a
 * "mail:" notification is recorded as an sla.notify event marked
 * "queued": false; the event is what a future queue will read.
 *
 * Ownership: struct sla_config belongs to struct config (config_free frees
 * it). Error strings are static per thread, valid until the next call. */
#ifndef TRIAGED_SLA_H
#define TRIAGED_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct config;
struct calendar;

enum sla_target { SLA_FIRST_RESPONSE, SLA_NEXT_RESPONSE, SLA_RESOLUTION, SLA_N_TARGETS };
enum sla_action { SLA_NOTIFY, SLA_RAISE_PRIORITY, SLA_REASSIGN };

#define SLA_MAX_ESCALATIONS 16     /* levels per policy (fired mask is 64 bits) */
#define SLA_MAX_POLICIES 1000
#define SLA_MAX_TARGET_MINUTES (366 * 24 * 60)
#define SLA_MAX_WEBHOOK_BODY (16 * 1024)

struct sla_escalation {
	unsigned after;          /* business minutes after the breach */
	enum sla_action action;
	char *to;                /* notify: "mail:ADDR" or "webhook:NAME"; reassign: assignee */
};

struct sla_policy {
	char *name;
	char **queues;           /* NULL with n_queues 0: any queue */
	size_t n_queues;
	unsigned priorities;     /* bit per enum ticket_priority; 0: any */
	char *calendar;          /* NULL: the queue's, else the default */
	unsigned targets[SLA_N_TARGETS]; /* business minutes; 0: no such clock */
	double warn_at;          /* share of each target; 0: no warning */
	struct sla_escalation *escalations;
	size_t n_escalations;
};

struct sla_webhook {
	char *name;
	char *url;
	unsigned timeout_seconds;
	bool tls_verify;
	char *tls_ca_file;
	unsigned max_attempts;
	unsigned retry_seconds;  /* first retry delay, doubled each time */
};

struct sla_config {
	struct sla_policy *policies;
	size_t n_policies;
	struct sla_webhook *webhooks;
	size_t n_webhooks;
	unsigned dedupe_minutes; /* one notification per ticket and channel per period */
	struct calendar *always; /* 24x7 UTC: when no calendar applies */
};

void sla_config_free(struct sla_config **sc);

const char *sla_target_name(enum sla_target t);
int sla_target_parse(const char *s, enum sla_target *t_r);

/* The first policy whose match fits (queue, priority), or NULL. */
const struct sla_policy *sla_policy_match(const struct config *cfg, const char *queue,
					  enum ticket_priority priority);
/* The calendar a policy uses for a ticket of this queue (never NULL when the
 * config has an sla section: the 24x7 calendar when nothing else applies). */
const struct calendar *sla_policy_calendar(const struct config *cfg, const struct sla_policy *p,
					   const char *queue);

/* ---- hooks, inside the caller's transaction; `now` is store_now() ---- */
int sla_on_ticket_created(struct store *st, const struct config *cfg, int64_t ticket,
			  const char **error_r);
/* Starts a next_response clock when none is live; resumes paused clocks. */
int sla_on_customer_message(struct store *st, const struct config *cfg, int64_t ticket,
			    const char **error_r);
/* Meets first_response and next_response. */
int sla_on_agent_reply(struct store *st, const struct config *cfg, int64_t ticket,
		       const char **error_r);
/* pending pauses every live clock, open/new resumes them, resolved/closed
 * meets resolution and stops the rest; leaving resolved/closed for an
 * active status starts a new resolution clock. */
int sla_on_status(struct store *st, const struct config *cfg, int64_t ticket,
		  enum ticket_status old_status, enum ticket_status new_status,
		  const char **error_r);
/* Ticket source is being merged into target: source's live response clocks
 * (its customer's wait for an answer) go on in target, from when they
 * started. Call it before closing source. */
int sla_on_merge(struct store *st, const struct config *cfg, int64_t source, int64_t target,
		 const char **error_r);
/* Chooses the policy again and recomputes every live clock keeping the
 * business time already consumed (a target the new policy lacks stops). */
int sla_on_priority_or_queue_change(struct store *st, const struct config *cfg, int64_t ticket,
				    const char **error_r);

/* ---- timers ---- */
/* Earliest instant something is due (a clock level or a webhook delivery):
 * 1 and *when_r, 0 when nothing is scheduled. Index lookups only. */
int sla_next_wakeup(struct store *st, int64_t *when_r, const char **error_r);

struct sla_fire_stats {
	unsigned clocks;       /* clocks looked at */
	unsigned warnings, breaches, escalations;
	unsigned notifications, deduplicated, webhooks_queued;
};
/* Fires every level due at `now` on up to max clocks (0: no limit), each
 * clock in its own transaction. */
int sla_fire_due(struct store *st, const struct config *cfg, int64_t now, unsigned max,
		 struct sla_fire_stats *stats_r, const char **error_r);

struct sla_send_stats {
	unsigned sent, retried, failed;
};
/* Delivers up to max queued webhooks due at now (blocking, libcurl; call it
 * from a worker). Delivery failures are recorded on the rows; -1 only when
 * the store fails. Call curl_global_init (outbox_global_init) first. */
int sla_send_webhooks(struct store *st, const struct config *cfg, int64_t now, unsigned max,
		      struct sla_send_stats *stats_r, const char **error_r);

/* ---- reading ---- */
struct sla_due_row {
	int64_t ticket_id;
	char *subject, *queue, *policy;
	enum sla_target target;
	enum ticket_priority priority;
	int64_t due;
	bool paused, breached;
};
/* Live clocks due before `until`, earliest first, at most limit. */
int sla_due_list(struct store *st, int64_t until, unsigned limit, struct sla_due_row **rows_r,
		 size_t *n_r, const char **error_r);
void sla_due_rows_free(struct sla_due_row **rows, size_t n);

/* What a ticket list shows of a ticket's live clocks. Not the ticket's
 * next_due, which is the next event of the clocks (a warning comes before
 * its due time). */
struct sla_summary {
	int64_t due; /* earliest due time of a running clock, 0: none */
	bool breached, paused;
};
int sla_ticket_summary(struct store *st, int64_t ticket_id, int64_t now, struct sla_summary *s_r,
		       const char **error_r);

#endif
