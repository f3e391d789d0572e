/* The SLA engine (see sla.h): policy matching, clocks kept in business time,
 * the firing of warnings, breaches and escalations, and webhook delivery. */
#include "sla.h"

#include "error.h"
#include "outbox.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "config.h"
#include "store_sla.h"
#include "xalloc.h"

#define FIRE_BATCH 256
#define WEBHOOK_MAX_BACKOFF (6 * 3600)
#define WEBHOOK_MAX_RESPONSE 4096
#define LEVEL_WARNING 0
#define LEVEL_BREACH 1
#define LEVEL_FIRST_ESCALATION 2


static const char *store_fail(struct store *st, const char *what)
{
	return error_fmt("%s: %s", what, store_error(st));
}

static const char *const target_names[SLA_N_TARGETS] = {"first_response", "next_response",
							 "resolution"};

const char *sla_target_name(enum sla_target t)
{
	return (unsigned)t < SLA_N_TARGETS ? target_names[t] : "?";
}

int sla_target_parse(const char *s, enum sla_target *t_r)
{
	for (int i = 0; i < SLA_N_TARGETS; i++)
		if (s != NULL && strcmp(s, target_names[i]) == 0) {
			*t_r = (enum sla_target)i;
			return 0;
		}
	return -1;
}

void sla_config_free(struct sla_config **scp)
{
	struct sla_config *sc = *scp;
	if (sc == NULL)
		return;
	for (size_t i = 0; i < sc->n_policies; i++) {
		struct sla_policy *p = &sc->policies[i];
		free(p->name);
		for (size_t j = 0; j < p->n_queues; j++)
			free(p->queues[j]);
		free(p->queues);
		free(p->calendar);
		for (size_t j = 0; j < p->n_escalations; j++)
			free(p->escalations[j].to);
		free(p->escalations);
	}
	free(sc->policies);
	for (size_t i = 0; i < sc->n_webhooks; i++) {
		free(sc->webhooks[i].name);
		free(sc->webhooks[i].url);
		free(sc->webhooks[i].tls_ca_file);
	}
	free(sc->webhooks);
	cal_free(&sc->always);
	free(sc);
	*scp = NULL;
}

/* ---- policies ------------------------------------------------------------- */

const struct sla_policy *sla_policy_match(const struct config *cfg, const char *queue,
					  enum ticket_priority priority)
{
	const struct sla_config *sc = cfg->sla;
	if (sc == NULL)
		return NULL;
	for (size_t i = 0; i < sc->n_policies; i++) {
		const struct sla_policy *p = &sc->policies[i];
		if (p->priorities != 0 && (p->priorities & (1u << priority)) == 0)
			continue;
		bool queue_ok = p->n_queues == 0;
		for (size_t j = 0; !queue_ok && j < p->n_queues; j++)
			queue_ok = queue != NULL && strcmp(p->queues[j], queue) == 0;
		if (queue_ok)
			return p;
	}
	return NULL;
}

static const struct sla_policy *policy_by_name(const struct config *cfg, const char *name)
{
	for (size_t i = 0; cfg->sla != NULL && name != NULL && i < cfg->sla->n_policies; i++)
		if (strcmp(cfg->sla->policies[i].name, name) == 0)
			return &cfg->sla->policies[i];
	return NULL;
}

/* The name of the calendar a policy uses for a queue; NULL: 24x7. */
static const char *calendar_name(const struct config *cfg, const struct sla_policy *p,
				 const char *queue)
{
	if (p != NULL && p->calendar != NULL)
		return p->calendar;
	const struct cfg_queue *q = config_queue(cfg, queue);
	if (q != NULL && q->calendar != NULL)
		return q->calendar;
	return cfg->default_calendar;
}

static const struct calendar *calendar_named(const struct config *cfg, const char *name)
{
	const struct cfg_calendar *cc = config_calendar(cfg, name);
	if (cc != NULL)
		return cc->cal;
	return cfg->sla != NULL ? cfg->sla->always : NULL;
}

const struct calendar *sla_policy_calendar(const struct config *cfg, const struct sla_policy *p,
					   const char *queue)
{
	return calendar_named(cfg, calendar_name(cfg, p, queue));
}

/* ---- clock arithmetic ------------------------------------------------------ */

static bool clock_is(const struct sla_clock_row *c, const char *state)
{
	return c->state != NULL && strcmp(c->state, state) == 0;
}

static void set_state(struct sla_clock_row *c, const char *state)
{
	free(c->state);
	c->state = xstrdup(state);
}

/* Business seconds consumed by level `level` of a clock, -1 if no such
 * level. p may be NULL (policy gone from the config): warning and breach
 * only, without warning. */
static int64_t level_threshold(const struct sla_policy *p, const struct sla_clock_row *c,
			       unsigned level)
{
	int64_t target = c->minutes * 60;
	if (level == LEVEL_WARNING) {
		if (p == NULL || p->warn_at <= 0)
			return -1;
		int64_t w = (int64_t)llround(p->warn_at * (double)target);
		return w > 0 && w < target ? w : -1;
	}
	if (level == LEVEL_BREACH)
		return target;
	size_t k = level - LEVEL_FIRST_ESCALATION;
	if (p == NULL || k >= p->n_escalations)
		return -1;
	return target + (int64_t)p->escalations[k].after * 60;
}

static unsigned level_count(const struct sla_policy *p)
{
	return LEVEL_FIRST_ESCALATION + (p != NULL ? (unsigned)p->n_escalations : 0);
}

/* Business seconds a clock has consumed by `now`. */
static int64_t clock_consumed(const struct calendar *cal, const struct sla_clock_row *c,
			      int64_t now)
{
	if (!clock_is(c, "running"))
		return c->consumed;
	return c->consumed + cal_business_seconds_between(cal, c->resumed, now);
}

/* The instant a running clock reaches `threshold` business seconds. */
static int threshold_instant(const struct calendar *cal, const struct sla_clock_row *c,
			     int64_t threshold, int64_t *at_r, const char **error_r)
{
	if (threshold <= c->consumed) {
		/* Already reached before the last resume: due at once. */
		*at_r = c->resumed;
		return 0;
	}
	return cal_add_business_seconds(cal, c->resumed, threshold - c->consumed, at_r, error_r);
}

/* due, warn_at and next_fire of a running clock from its policy. A paused
 * clock keeps its last due and warn times (for display) and fires nothing. */
static int clock_schedule(const struct config *cfg, struct sla_clock_row *c,
			  const char **error_r)
{
	if (!clock_is(c, "running")) {
		c->next_fire = 0;
		return 0;
	}
	const struct sla_policy *p = policy_by_name(cfg, c->policy);
	const struct calendar *cal = calendar_named(cfg, c->calendar);
	if (cal == NULL) {
		*error_r = "no calendar for the SLA clock";
		return -1;
	}
	c->next_fire = 0;
	c->warn_at = 0;
	for (unsigned level = 0; level < level_count(p); level++) {
		int64_t threshold = level_threshold(p, c, level);
		if (threshold < 0)
			continue;
		int64_t at;
		if (threshold_instant(cal, c, threshold, &at, error_r) < 0)
			return -1;
		if (level == LEVEL_WARNING)
			c->warn_at = at;
		if (level == LEVEL_BREACH)
			c->due = at;
		if ((c->fired & (1ull << level)) == 0 && (c->next_fire == 0 || at < c->next_fire))
			c->next_fire = at;
	}
	return 0;
}

static int clock_start(struct store *st, const struct config *cfg, const struct ticket *t,
		       const struct sla_policy *p, enum sla_target target, int64_t now,
		       const char **error_r)
{
	struct sla_clock_row c = {
		.ticket_id = t->id,
		.target = (char *)sla_target_name(target),
		.policy = p->name,
		.calendar = (char *)calendar_name(cfg, p, t->queue),
		.minutes = p->targets[target],
		.started = now,
		.resumed = now,
		.state = (char *)"running",
	};
	if (clock_schedule(cfg, &c, error_r) < 0)
		return -1;
	int64_t id;
	if (store_sla_clock_insert(st, &c, &id) < 0) {
		*error_r = store_fail(st, "starting an SLA clock");
		return -1;
	}
	return 0;
}

static int clock_pause(struct store *st, const struct config *cfg, struct sla_clock_row *c,
		       int64_t now, const char **error_r)
{
	if (!clock_is(c, "running"))
		return 0;
	c->consumed = clock_consumed(calendar_named(cfg, c->calendar), c, now);
	c->resumed = now;
	c->paused_at = now;
	set_state(c, "paused");
	c->next_fire = 0;
	if (store_sla_clock_update(st, c) < 0) {
		*error_r = store_fail(st, "pausing an SLA clock");
		return -1;
	}
	return 0;
}

static int clock_resume(struct store *st, const struct config *cfg, struct sla_clock_row *c,
			int64_t now, const char **error_r)
{
	if (!clock_is(c, "paused"))
		return 0;
	c->resumed = now;
	c->paused_at = 0;
	set_state(c, "running");
	if (clock_schedule(cfg, c, error_r) < 0)
		return -1;
	if (store_sla_clock_update(st, c) < 0) {
		*error_r = store_fail(st, "resuming an SLA clock");
		return -1;
	}
	return 0;
}

/* met: the target was reached (on time, or late: state "breached");
 * otherwise the clock is stopped without being met. */
static int clock_close(struct store *st, const struct config *cfg, struct sla_clock_row *c,
		       bool met, int64_t now, const char **error_r)
{
	c->elapsed = clock_consumed(calendar_named(cfg, c->calendar), c, now);
	bool late = c->elapsed > c->minutes * 60;
	if (late && c->breached_at == 0)
		c->breached_at = c->due < now ? c->due : now;
	set_state(c, !met ? "stopped" : late ? "breached" : "met");
	c->closed_at = now;
	c->paused_at = 0;
	c->next_fire = 0;
	if (store_sla_clock_update(st, c) < 0) {
		*error_r = store_fail(st, "closing an SLA clock");
		return -1;
	}
	return 0;
}

/* ---- hooks ----------------------------------------------------------------- */

struct hook {
	struct store *st;
	const struct config *cfg;
	struct ticket t;
	struct sla_clock_row *clocks; /* live ones */
	size_t n_clocks;
	int64_t now;
};

static void hook_done(struct hook *h)
{
	ticket_clear(&h->t);
	sla_clock_rows_free(&h->clocks, h->n_clocks);
}

/* 1 ready, 0 nothing to do (no sla section), -1 error. */
static int hook_load(struct hook *h, struct store *st, const struct config *cfg,
		     int64_t ticket, const char **error_r)
{
	memset(h, 0, sizeof(*h));
	h->st = st;
	h->cfg = cfg;
	h->now = store_now();
	if (cfg->sla == NULL)
		return 0;
	int found = store_ticket_get(st, ticket, &h->t);
	if (found <= 0) {
		*error_r = found == 0 ? error_fmt("no ticket %lld", (long long)ticket)
				      : store_fail(st, "loading the ticket");
		return -1;
	}
	if (store_sla_clocks_live(st, ticket, &h->clocks, &h->n_clocks) < 0) {
		*error_r = store_fail(st, "loading SLA clocks");
		ticket_clear(&h->t);
		return -1;
	}
	return 1;
}

static int hook_finish(struct hook *h, int rc, const char **error_r)
{
	if (rc == 0 && store_sla_refresh_next_due(h->st, h->t.id) < 0) {
		*error_r = store_fail(h->st, "updating the ticket's next due time");
		rc = -1;
	}
	hook_done(h);
	return rc;
}

static struct sla_clock_row *live_clock(struct hook *h, enum sla_target target)
{
	for (size_t i = 0; i < h->n_clocks; i++)
		if (strcmp(h->clocks[i].target, sla_target_name(target)) == 0 &&
		    h->clocks[i].closed_at == 0)
			return &h->clocks[i];
	return NULL;
}

static int start_if_missing(struct hook *h, const struct sla_policy *p, enum sla_target target,
			    const char **error_r)
{
	if (p == NULL || p->targets[target] == 0 || live_clock(h, target) != NULL)
		return 0;
	return clock_start(h->st, h->cfg, &h->t, p, target, h->now, error_r);
}

int sla_on_ticket_created(struct store *st, const struct config *cfg, int64_t ticket,
			  const char **error_r)
{
	struct hook h;
	int rc = hook_load(&h, st, cfg, ticket, error_r);
	if (rc <= 0)
		return rc;
	const struct sla_policy *p = sla_policy_match(cfg, h.t.queue, h.t.priority);
	rc = 0;
	if (ticket_is_active(&h.t)) {
		if (h.t.first_response_at == 0)
			rc = start_if_missing(&h, p, SLA_FIRST_RESPONSE, error_r);
		if (rc == 0)
			rc = start_if_missing(&h, p, SLA_RESOLUTION, error_r);
	}
	return hook_finish(&h, rc, error_r);
}

int sla_on_customer_message(struct store *st, const struct config *cfg, int64_t ticket,
			    const char **error_r)
{
	struct hook h;
	int rc = hook_load(&h, st, cfg, ticket, error_r);
	if (rc <= 0)
		return rc;
	rc = 0;
	for (size_t i = 0; rc == 0 && i < h.n_clocks; i++)
		rc = clock_resume(st, cfg, &h.clocks[i], h.now, error_r);
	/* The first response clock, while it runs, already covers the wait. */
	if (rc == 0 && ticket_is_active(&h.t) && live_clock(&h, SLA_FIRST_RESPONSE) == NULL)
		rc = start_if_missing(&h, sla_policy_match(cfg, h.t.queue, h.t.priority),
				      SLA_NEXT_RESPONSE, error_r);
	return hook_finish(&h, rc, error_r);
}

int sla_on_agent_reply(struct store *st, const struct config *cfg, int64_t ticket,
		       const char **error_r)
{
	struct hook h;
	int rc = hook_load(&h, st, cfg, ticket, error_r);
	if (rc <= 0)
		return rc;
	rc = 0;
	for (size_t i = 0; rc == 0 && i < h.n_clocks; i++) {
		struct sla_clock_row *c = &h.clocks[i];
		if (strcmp(c->target, "resolution") != 0)
			rc = clock_close(st, cfg, c, true, h.now, error_r);
	}
	return hook_finish(&h, rc, error_r);
}

int sla_on_status(struct store *st, const struct config *cfg, int64_t ticket,
		  enum ticket_status old_status, enum ticket_status new_status,
		  const char **error_r)
{
	struct hook h;
	int rc = hook_load(&h, st, cfg, ticket, error_r);
	if (rc <= 0)
		return rc;
	rc = 0;
	bool was_done = old_status == TICKET_RESOLVED || old_status == TICKET_CLOSED;
	switch (new_status) {
	case TICKET_PENDING:
		for (size_t i = 0; rc == 0 && i < h.n_clocks; i++)
			rc = clock_pause(st, cfg, &h.clocks[i], h.now, error_r);
		break;
	case TICKET_NEW:
	case TICKET_OPEN:
		for (size_t i = 0; rc == 0 && i < h.n_clocks; i++)
			rc = clock_resume(st, cfg, &h.clocks[i], h.now, error_r);
		if (rc == 0 && was_done) {
			/* Reopened: resolved again in full time; and a customer
			 * never answered (a mail wrongly closed as spam, say)
			 * still waits for a first answer. */
			const struct sla_policy *p = sla_policy_match(cfg, h.t.queue, h.t.priority);
			if (h.t.first_response_at == 0)
				rc = start_if_missing(&h, p, SLA_FIRST_RESPONSE, error_r);
			if (rc == 0)
				rc = start_if_missing(&h, p, SLA_RESOLUTION, error_r);
		}
		break;
	case TICKET_RESOLVED:
	case TICKET_CLOSED:
		/* Closing as spam (a rule's or an agent's verdict), or a ticket
		 * merged into another, resolves nothing: its clocks stop without
		 * being met, so that the SLA reports do not count it as service.
		 * (Closing a ticket the classifier only flagged is an agent's
		 * decision: met.) */
		for (size_t i = 0; rc == 0 && i < h.n_clocks; i++) {
			struct sla_clock_row *c = &h.clocks[i];
			bool resolves = !h.t.spam_closed && h.t.merged_into == 0;
			rc = clock_close(st, cfg, c,
					 resolves && strcmp(c->target, "resolution") == 0, h.now,
					 error_r);
		}
		break;
	}
	return hook_finish(&h, rc, error_r);
}

int sla_on_merge(struct store *st, const struct config *cfg, int64_t source, int64_t target,
		 const char **error_r)
{
	struct hook from, into;
	int rc = hook_load(&from, st, cfg, source, error_r);
	if (rc <= 0)
		return rc;
	rc = hook_load(&into, st, cfg, target, error_r);
	if (rc <= 0) {
		hook_done(&from);
		return rc;
	}
	rc = 0;
	/* The running response clock of the source (a customer waiting for an
	 * answer) becomes the target's: a first response if the target was
	 * never answered, else a next one. One wait per ticket: of two clocks
	 * of the same kind, the one that started first goes on, the other
	 * stops. The source's other clocks stop when it is closed. */
	enum sla_target kind =
	    into.t.first_response_at != 0 ? SLA_NEXT_RESPONSE : SLA_FIRST_RESPONSE;
	for (size_t i = 0; rc == 0 && i < from.n_clocks; i++) {
		struct sla_clock_row *c = &from.clocks[i];
		if (strcmp(c->state, "running") != 0 || strcmp(c->target, "resolution") == 0)
			continue;
		struct sla_clock_row *mine = live_clock(&into, kind);
		if (mine != NULL && mine->started <= c->started) {
			rc = clock_close(st, cfg, c, false, from.now, error_r);
			continue;
		}
		if (mine != NULL)
			rc = clock_close(st, cfg, mine, false, into.now, error_r);
		if (rc == 0 && store_sla_clock_move(st, c->id, target, sla_target_name(kind)) < 0) {
			*error_r = store_fail(st, "moving an SLA clock");
			rc = -1;
		}
	}
	hook_done(&from);
	return hook_finish(&into, rc, error_r);
}

int sla_on_priority_or_queue_change(struct store *st, const struct config *cfg, int64_t ticket,
				    const char **error_r)
{
	struct hook h;
	int rc = hook_load(&h, st, cfg, ticket, error_r);
	if (rc <= 0)
		return rc;
	rc = 0;
	const struct sla_policy *p = sla_policy_match(cfg, h.t.queue, h.t.priority);
	for (size_t i = 0; rc == 0 && i < h.n_clocks; i++) {
		struct sla_clock_row *c = &h.clocks[i];
		enum sla_target target;
		if (sla_target_parse(c->target, &target) < 0 || p == NULL || p->targets[target] == 0) {
			rc = clock_close(st, cfg, c, false, h.now, error_r);
			continue;
		}
		/* Keep the business time consumed under the old policy. */
		c->consumed = clock_consumed(calendar_named(cfg, c->calendar), c, h.now);
		if (clock_is(c, "running"))
			c->resumed = h.now;
		free(c->policy);
		c->policy = xstrdup(p->name);
		free(c->calendar);
		const char *cal = calendar_name(cfg, p, h.t.queue);
		c->calendar = cal != NULL ? xstrdup(cal) : NULL;
		c->minutes = p->targets[target];
		if (clock_schedule(cfg, c, error_r) < 0) {
			rc = -1;
			break;
		}
		if (store_sla_clock_update(st, c) < 0) {
			*error_r = store_fail(st, "updating an SLA clock");
			rc = -1;
		}
	}
	if (rc == 0 && ticket_is_active(&h.t) && p != NULL) {
		/* A ticket that had no policy before may have one now. */
		struct sla_clock_row *all = NULL;
		size_t n_all = 0;
		if (store_sla_clocks_all(st, ticket, &all, &n_all) < 0) {
			*error_r = store_fail(st, "loading SLA clocks");
			rc = -1;
		} else {
			bool had_first = false;
			for (size_t i = 0; i < n_all; i++)
				had_first |= strcmp(all[i].target, "first_response") == 0;
			sla_clock_rows_free(&all, n_all);
			if (!had_first && h.t.first_response_at == 0)
				rc = start_if_missing(&h, p, SLA_FIRST_RESPONSE, error_r);
			if (rc == 0 && h.t.status != TICKET_PENDING)
				rc = start_if_missing(&h, p, SLA_RESOLUTION, error_r);
		}
	}
	return hook_finish(&h, rc, error_r);
}

/* ---- timers ---------------------------------------------------------------- */

int sla_next_wakeup(struct store *st, int64_t *when_r, const char **error_r)
{
	int rc = store_sla_next_wakeup(st, when_r);
	if (rc < 0)
		*error_r = store_fail(st, "next SLA wake-up");
	return rc;
}

struct firing {
	struct store *st;
	const struct config *cfg;
	const struct sla_policy *policy; /* may be NULL */
	const char *policy_name;
	struct ticket *t;
	struct sla_clock_row *c;
	int64_t now;
	struct sla_fire_stats *stats;
	char actor[128];
};

static void add_time(cJSON *o, const char *key, const struct calendar *cal, int64_t t)
{
	char buf[CAL_TIME_STRLEN];
	if (cal_format_local(cal, t, buf, sizeof(buf)) == 0)
		cJSON_AddStringToObject(o, key, buf);
}

static int add_event(struct firing *f, const char *kind, cJSON *detail, const char **error_r)
{
	char *text = cJSON_PrintUnformatted(detail);
	int rc = store_event_add(f->st, f->t->id, f->actor, kind, text);
	cJSON_free(text);
	if (rc < 0)
		*error_r = store_fail(f->st, "recording an SLA event");
	return rc;
}

static char *webhook_body(struct firing *f, const char *kind, const cJSON *detail)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *t = cJSON_AddObjectToObject(o, "ticket");
	cJSON_AddNumberToObject(t, "id", (double)f->t->id);
	cJSON_AddStringToObject(t, "subject", f->t->subject ? f->t->subject : "");
	cJSON_AddStringToObject(t, "queue", f->t->queue ? f->t->queue : "");
	cJSON_AddStringToObject(t, "status", ticket_status_name(f->t->status));
	cJSON_AddStringToObject(t, "priority", ticket_priority_name(f->t->priority));
	if (f->t->assignee != NULL)
		cJSON_AddStringToObject(t, "assignee", f->t->assignee);
	cJSON *e = cJSON_AddObjectToObject(o, "event");
	cJSON_AddStringToObject(e, "kind", kind);
	cJSON_AddStringToObject(e, "actor", f->actor);
	cJSON_AddNumberToObject(e, "at", (double)f->now);
	cJSON_AddItemToObject(e, "detail", cJSON_Duplicate(detail, true));
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(detail, "reason");
	cJSON_AddStringToObject(o, "reason", cJSON_IsString(reason) ? reason->valuestring : "");
	char *body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (body != NULL && strlen(body) > SLA_MAX_WEBHOOK_BODY) {
		cJSON_free(body);
		return NULL;
	}
	return body;
}

static const struct sla_webhook *webhook_named(const struct config *cfg, const char *name)
{
	for (size_t i = 0; cfg->sla != NULL && i < cfg->sla->n_webhooks; i++)
		if (strcmp(cfg->sla->webhooks[i].name, name) == 0)
			return &cfg->sla->webhooks[i];
	return NULL;
}

/* A notification to `to` ("mail:ADDR" or "webhook:NAME"): deduplicated per
 * ticket and channel, then queued (webhook) or recorded (mail). */
static int notify(struct firing *f, const char *to, cJSON *detail, const char **error_r)
{
	unsigned window = f->cfg->sla->dedupe_minutes;
	int dup = window == 0 ? 0
		: store_sla_notify_check(f->st, f->t->id, to, f->now - (int64_t)window * 60 + 1,
					 f->now);
	if (window == 0 && store_sla_notify_check(f->st, f->t->id, to, INT64_MAX, f->now) < 0)
		dup = -1;
	if (dup < 0) {
		*error_r = store_fail(f->st, "notification log");
		return -1;
	}
	if (dup == 1) {
		cJSON_AddBoolToObject(detail, "deduplicated", true);
		f->stats->deduplicated++;
		return 0;
	}
	f->stats->notifications++;
	if (strncmp(to, "webhook:", 8) == 0) {
		char *body = webhook_body(f, "sla.escalation", detail);
		int rc = body == NULL ? -1
			: store_sla_webhook_queue(f->st, f->t->id, to + 8, body, f->now);
		cJSON_free(body);
		if (rc < 0) {
			*error_r = store_fail(f->st, "queueing a webhook");
			return -1;
		}
		cJSON_AddBoolToObject(detail, "queued", true);
		f->stats->webhooks_queued++;
	} else if (f->cfg->smtp.configured && strncmp(to, "mail:", 5) == 0) {
		const cJSON *why = cJSON_GetObjectItem(detail, "reason");
		_cleanup_free_ char *reason = xasprintf(
			"SLA %s (policy %s)",
			cJSON_IsString(why) ? why->valuestring : "escalation", f->policy_name);
		int64_t outbox_id;
		if (outbox_queue_notify(f->st, f->cfg, f->t->id, to + 5, reason, &outbox_id,
					error_r) < 0)
			return -1;
		cJSON_AddBoolToObject(detail, "queued", true);
		cJSON_AddNumberToObject(detail, "outbox_id", (double)outbox_id);
	} else {
		cJSON_AddBoolToObject(detail, "queued", false);
		cJSON_AddStringToObject(detail, "why", "no smtp section: the event is the only record");
	}
	return 0;
}

static const char *action_name(enum sla_action a)
{
	return a == SLA_NOTIFY ? "notify" : a == SLA_RAISE_PRIORITY ? "raise_priority" : "reassign";
}

static int fire_level(struct firing *f, unsigned level, int64_t at, const char **error_r)
{
	const struct calendar *cal = calendar_named(f->cfg, f->c->calendar);
	const char *target = f->c->target;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "target", target);
	cJSON_AddNumberToObject(d, "level", level);
	cJSON_AddNumberToObject(d, "target_minutes", (double)f->c->minutes);
	add_time(d, "due", cal, f->c->due);
	add_time(d, "fired_for", cal, at);
	char reason[256];
	const char *kind;
	int rc = 0;
	if (level == LEVEL_WARNING) {
		kind = "sla.warning";
		snprintf(reason, sizeof(reason),
			 "%s: %.0f%% of %lld business minutes used (policy %s)", target,
			 f->policy ? f->policy->warn_at * 100 : 0, (long long)f->c->minutes,
			 f->policy_name);
		f->stats->warnings++;
	} else if (level == LEVEL_BREACH) {
		kind = "sla.breach";
		snprintf(reason, sizeof(reason), "%s not met within %lld business minutes (policy %s)",
			 target, (long long)f->c->minutes, f->policy_name);
		f->c->breached_at = at;
		f->stats->breaches++;
	} else {
		const struct sla_escalation *e = &f->policy->escalations[level - LEVEL_FIRST_ESCALATION];
		kind = "sla.escalation";
		snprintf(reason, sizeof(reason),
			 "%s breached %u business minutes ago (policy %s, escalation %u)", target,
			 e->after, f->policy_name, level - LEVEL_FIRST_ESCALATION + 1);
		cJSON_AddStringToObject(d, "action", action_name(e->action));
		if (e->to != NULL)
			cJSON_AddStringToObject(d, "to", e->to);
		f->stats->escalations++;
		cJSON_AddStringToObject(d, "reason", reason);
		switch (e->action) {
		case SLA_NOTIFY:
			rc = notify(f, e->to, d, error_r);
			break;
		case SLA_RAISE_PRIORITY:
			cJSON_AddStringToObject(d, "from", ticket_priority_name(f->t->priority));
			if (f->t->priority < PRIORITY_URGENT) {
				f->t->priority++;
				if (store_ticket_set_priority(f->st, f->t->id, f->t->priority) < 0) {
					*error_r = store_fail(f->st, "raising the priority");
					rc = -1;
				}
			}
			cJSON_AddStringToObject(d, "priority", ticket_priority_name(f->t->priority));
			break;
		case SLA_REASSIGN:
			cJSON_AddStringToObject(d, "from", f->t->assignee ? f->t->assignee : "");
			if (store_ticket_set_assignee(f->st, f->t->id, e->to) < 0) {
				*error_r = store_fail(f->st, "reassigning");
				rc = -1;
			}
			break;
		}
	}
	if (cJSON_GetObjectItemCaseSensitive(d, "reason") == NULL)
		cJSON_AddStringToObject(d, "reason", reason);
	if (rc == 0)
		rc = add_event(f, kind, d, error_r);
	cJSON_Delete(d);
	if (rc == 0)
		f->c->fired |= 1ull << level;
	return rc;
}

/* Fires every level of one clock due at now; the caller's transaction. */
static int fire_clock(struct store *st, const struct config *cfg, int64_t clock_id, int64_t now,
		      struct sla_fire_stats *stats, const char **error_r)
{
	struct sla_clock_row c;
	int found = store_sla_clock_get(st, clock_id, &c);
	if (found <= 0) {
		if (found < 0)
			*error_r = store_fail(st, "loading an SLA clock");
		return found;
	}
	struct ticket t;
	found = store_ticket_get(st, c.ticket_id, &t);
	if (found <= 0) {
		sla_clock_row_clear(&c);
		if (found < 0)
			*error_r = store_fail(st, "loading the ticket");
		return found;
	}
	struct firing f = {
		.st = st, .cfg = cfg, .policy = policy_by_name(cfg, c.policy),
		.policy_name = c.policy, .t = &t, .c = &c, .now = now, .stats = stats,
	};
	snprintf(f.actor, sizeof(f.actor), "sla:%s", c.policy);
	stats->clocks++;
	int rc = 0;
	const struct calendar *cal = calendar_named(cfg, c.calendar);
	if (clock_is(&c, "running") && c.closed_at == 0 && cal != NULL) {
		for (unsigned level = 0; rc == 0 && level < level_count(f.policy); level++) {
			int64_t threshold = level_threshold(f.policy, &c, level), at;
			if (threshold < 0 || (c.fired & (1ull << level)) != 0)
				continue;
			rc = threshold_instant(cal, &c, threshold, &at, error_r);
			if (rc == 0 && at <= now)
				rc = fire_level(&f, level, at, error_r);
		}
	}
	if (rc == 0)
		rc = clock_schedule(cfg, &c, error_r);
	if (rc == 0 && c.next_fire != 0 && c.next_fire <= now)
		c.next_fire = 0; /* cannot happen; never spin on one clock */
	if (rc == 0 && (store_sla_clock_update(st, &c) < 0 ||
			store_sla_refresh_next_due(st, c.ticket_id) < 0)) {
		*error_r = store_fail(st, "updating an SLA clock");
		rc = -1;
	}
	sla_clock_row_clear(&c);
	ticket_clear(&t);
	return rc < 0 ? -1 : 1;
}

int sla_fire_due(struct store *st, const struct config *cfg, int64_t now, unsigned max,
		 struct sla_fire_stats *stats_r, const char **error_r)
{
	struct sla_fire_stats stats = {0};
	unsigned done = 0;
	for (;;) {
		unsigned batch = FIRE_BATCH;
		if (max != 0 && max - done < batch)
			batch = max - done;
		if (batch == 0)
			break;
		int64_t *ids = NULL;
		size_t n = 0;
		if (store_sla_clocks_firing(st, now, batch, &ids, &n) < 0) {
			*error_r = store_fail(st, "SLA clocks due");
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (store_begin(st) < 0) {
				free(ids);
				*error_r = store_fail(st, "begin");
				return -1;
			}
			int rc = fire_clock(st, cfg, ids[i], now, &stats, error_r);
			if (rc >= 0 && store_commit(st) < 0) {
				*error_r = store_fail(st, "commit");
				rc = -1;
			}
			if (rc < 0) {
				store_rollback(st);
				free(ids);
				return -1;
			}
			done++;
		}
		free(ids);
		if (n < batch)
			break;
	}
	if (stats_r != NULL)
		*stats_r = stats;
	return 0;
}

/* ---- webhooks -------------------------------------------------------------- */

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	size_t *seen = userdata;
	*seen += size * nmemb;
	/* A huge answer is not read: returning less stops the transfer. */
	return *seen > WEBHOOK_MAX_RESPONSE ? 0 : size * nmemb;
}

/* One POST; 0 on a 2xx answer, else -1 with the reason. */
static int webhook_post(const struct sla_webhook *w, const char *body, char *why, size_t why_size)
{
	CURL *curl = curl_easy_init();
	if (curl == NULL) {
		snprintf(why, why_size, "curl_easy_init failed");
		return -1;
	}
	char curl_error[CURL_ERROR_SIZE] = "";
	size_t seen = 0;
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, w->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)w->timeout_seconds);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)w->timeout_seconds);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, w->tls_verify ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, w->tls_verify ? 2L : 0L);
	if (w->tls_ca_file != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, w->tls_ca_file);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "triaged-sla");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
	CURLcode res = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (status >= 200 && status < 300)
		return 0;
	if (res != CURLE_OK && res != CURLE_WRITE_ERROR)
		snprintf(why, why_size, "%s", curl_error[0] ? curl_error : curl_easy_strerror(res));
	else
		snprintf(why, why_size, "HTTP status %ld", status);
	return -1;
}

static int64_t webhook_backoff(unsigned retry_seconds, unsigned attempts)
{
	int64_t delay = retry_seconds > 0 ? retry_seconds : 1;
	for (unsigned i = 0; i < attempts && delay < WEBHOOK_MAX_BACKOFF; i++)
		delay *= 2;
	return delay < WEBHOOK_MAX_BACKOFF ? delay : WEBHOOK_MAX_BACKOFF;
}

int sla_send_webhooks(struct store *st, const struct config *cfg, int64_t now, unsigned max,
		      struct sla_send_stats *stats_r, const char **error_r)
{
	struct sla_send_stats stats = {0};
	struct sla_webhook_row *rows = NULL;
	size_t n = 0;
	if (store_sla_webhooks_due(st, now, max ? max : 1000, &rows, &n) < 0) {
		*error_r = store_fail(st, "webhooks due");
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct sla_webhook *w = webhook_named(cfg, rows[i].webhook);
		char why[256] = "";
		bool sent = false, give_up = false;
		if (w == NULL) {
			snprintf(why, sizeof(why), "webhook \"%s\" is no longer configured",
				 rows[i].webhook);
			give_up = true;
		} else {
			/* Outside any transaction: the store stays free while we wait. */
			sent = webhook_post(w, rows[i].body, why, sizeof(why)) == 0;
			give_up = !sent && rows[i].attempts + 1 >= w->max_attempts;
		}
		int64_t next = now;
		if (!sent && !give_up)
			next = now + webhook_backoff(w->retry_seconds, rows[i].attempts);
		if (store_begin(st) < 0 ||
		    store_sla_webhook_result(st, rows[i].id, sent, give_up, next,
					     sent ? NULL : why, now) < 0 ||
		    store_commit(st) < 0) {
			*error_r = store_fail(st, "recording a webhook delivery");
			store_rollback(st);
			rc = -1;
			break;
		}
		if (sent)
			stats.sent++;
		else if (give_up)
			stats.failed++;
		else
			stats.retried++;
	}
	sla_webhook_rows_free(&rows, n);
	if (rc == 0 && stats_r != NULL)
		*stats_r = stats;
	return rc;
}

/* ---- reading ---------------------------------------------------------------- */

struct due_ctx {
	struct sla_due_row *rows;
	size_t n, cap;
};

static int due_cb(int64_t ticket_id, const char *subject, const char *queue, const char *priority,
		  const char *policy, const char *target, int64_t due, bool paused, bool breached,
		  void *ctx)
{
	struct due_ctx *d = ctx;
	d->rows = xgrow(d->rows, &d->cap, d->n + 1, sizeof(*d->rows));
	struct sla_due_row *r = &d->rows[d->n++];
	memset(r, 0, sizeof(*r));
	r->ticket_id = ticket_id;
	r->subject = xstrdup(subject ? subject : "");
	r->queue = xstrdup(queue ? queue : "");
	r->policy = xstrdup(policy ? policy : "");
	if (sla_target_parse(target, &r->target) < 0)
		r->target = SLA_RESOLUTION;
	if (priority == NULL || ticket_priority_parse(priority, &r->priority) < 0)
		r->priority = PRIORITY_NORMAL;
	r->due = due;
	r->paused = paused;
	r->breached = breached;
	return 0;
}

int sla_ticket_summary(struct store *st, int64_t ticket_id, int64_t now, struct sla_summary *s_r,
		       const char **error_r)
{
	struct sla_clock_row *clocks;
	size_t n;
	if (store_sla_clocks_live(st, ticket_id, &clocks, &n) < 0) {
		*error_r = store_fail(st, "SLA clocks of a ticket");
		return -1;
	}
	struct sla_summary s = {0};
	for (size_t i = 0; i < n; i++) {
		bool running = strcmp(clocks[i].state, "running") == 0;
		if (strcmp(clocks[i].state, "paused") == 0)
			s.paused = true;
		if (clocks[i].breached_at > 0 || (running && clocks[i].due <= now))
			s.breached = true;
		if (running && (s.due == 0 || clocks[i].due < s.due))
			s.due = clocks[i].due;
	}
	sla_clock_rows_free(&clocks, n);
	*s_r = s;
	return 0;
}

int sla_due_list(struct store *st, int64_t until, unsigned limit, struct sla_due_row **rows_r,
		 size_t *n_r, const char **error_r)
{
	struct due_ctx d = {0};
	if (store_sla_due_each(st, until, limit, due_cb, &d) < 0) {
		sla_due_rows_free(&d.rows, d.n);
		*error_r = store_fail(st, "SLA clocks due");
		return -1;
	}
	*rows_r = d.rows;
	*n_r = d.n;
	return 0;
}

void sla_due_rows_free(struct sla_due_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*rows)[i].subject);
		free((*rows)[i].queue);
		free((*rows)[i].policy);
	}
	free(*rows);
	*rows = NULL;
}
