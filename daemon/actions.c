/* The agent actions core (see actions.h): validation, one transaction per
 * action, an audit event naming the agent. */
#include "actions.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "config.h"
#include "mime.h"
#include "outbox.h"
#include "sla.h"
#include "suggest.h"
#include "xalloc.h"


static bool printable(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

bool action_agent_valid(const char *agent)
{
	if (agent == NULL || !printable(agent, ACTION_MAX_AGENT))
		return false;
	const char *colon = strchr(agent, ':');
	if (colon == NULL || colon[1] == '\0')
		return false;
	size_t kind = (size_t)(colon - agent);
	return (kind == 5 && strncmp(agent, "agent", 5) == 0) ||
	       (kind == 3 && strncmp(agent, "cli", 3) == 0);
}

/* The name suggest_mark() records: the address of "agent:EMAIL" (it adds
 * the "agent:" itself), the whole identity otherwise. */
static const char *suggest_agent(const char *agent)
{
	return strncmp(agent, "agent:", 6) == 0 ? agent + 6 : agent;
}

/* Records the approval (sent as drafted) or the edit of suggestion rank,
 * inside the caller's transaction. draft NULL: the stored one. */
static int mark_suggestion(struct store *st, const char *agent, int64_t ticket_id, unsigned rank,
                           const char *draft, const char *text, double *ratio_r,
                           const char **error_r)
{
	struct suggestion sug = {0};
	if (draft == NULL) {
		int found = suggest_get(st, ticket_id, (int)rank, NULL, &sug, error_r);
		if (found <= 0) {
			if (found == 0)
				*error_r = error_fmt("ticket %lld has no suggestion %u",
				                     (long long)ticket_id, rank);
			return -1;
		}
		draft = sug.draft != NULL ? sug.draft : "";
	}
	double ratio = suggest_edit_ratio(draft, text);
	int rc = suggest_mark(st, ticket_id, (int)rank,
	                      ratio > 0 ? SUGGESTION_EDITED : SUGGESTION_APPROVED,
	                      suggest_agent(agent), NULL, ratio, error_r);
	suggestion_clear(&sug);
	if (rc == 0)
		*ratio_r = ratio;
	return rc;
}

/* Begins the action's transaction and loads the ticket. 0, ACTION_NOT_FOUND
 * or -1 (rolled back, error set). */
static int begin(struct store *st, const char *agent, int64_t ticket_id, bool allow_merged,
                 struct ticket *t, const char **error_r)
{
	if (!action_agent_valid(agent)) {
		*error_r = "invalid agent identity (expected agent:EMAIL or cli:USER)";
		return -1;
	}
	if (store_begin(st) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	int found = store_ticket_get(st, ticket_id, t);
	if (found == 1 && (t->merged_into == 0 || allow_merged))
		return 0;
	if (found == 1) {
		/* Its mail lives in the other ticket now: so does the work. */
		*error_r = error_fmt("ticket %lld was merged into %lld: act on %lld",
		                     (long long)ticket_id, (long long)t->merged_into,
		                     (long long)t->merged_into);
		ticket_clear(t);
		store_rollback(st);
		return -1;
	}
	*error_r = found == 0 ? error_fmt("no ticket %lld", (long long)ticket_id)
	                      : error_fmt("store: %s", store_error(st));
	store_rollback(st);
	return found == 0 ? ACTION_NOT_FOUND : -1;
}

int action_begin(struct store *st, const char *agent, int64_t ticket_id, struct ticket *t,
                 const char **error_r)
{
	return begin(st, agent, ticket_id, false, t, error_r);
}

int action_begin_correction(struct store *st, const char *agent, int64_t ticket_id,
                            struct ticket *t, const char **error_r)
{
	return begin(st, agent, ticket_id, true, t, error_r);
}

/* Writes the event (o consumed) and commits; rolls back on failure. */
static int finish(struct store *st, const struct ticket *t, const char *agent, const char *kind,
                  cJSON *o, const char **error_r)
{
	char *detail = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	int rc = store_event_add(st, t->id, agent, kind, detail);
	cJSON_free(detail);
	if (rc < 0 || store_commit(st) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		return -1;
	}
	return 0;
}

static int fail_store(struct store *st, struct ticket *t, const char **error_r)
{
	*error_r = error_fmt("store: %s", store_error(st));
	store_rollback(st);
	ticket_clear(t);
	return -1;
}

int action_reply(struct store *st, const struct config *cfg, const char *agent, int64_t ticket_id,
                 const char *text, unsigned suggestion_rank,
                 const struct action_reply_options *opts, int64_t *outbox_id_r,
                 const char **error_r)
{
	static const struct action_reply_options defaults = {0};
	if (opts == NULL)
		opts = &defaults;
	struct ticket t;
	int rc = action_begin(st, agent, ticket_id, &t, error_r);
	if (rc < 0)
		return rc;
	struct outbox_reply r = {
	    .ticket_id = ticket_id,
	    .text = text,
	    .agent = agent,
	    .suggestion_rank = suggestion_rank,
	    .keep_status = opts->keep_status,
	    .reply_all = opts->reply_all,
	    .status_after = opts->set_status ? opts->status_after : TICKET_PENDING,
	};
	int64_t outbox_id;
	if (outbox_queue_reply(st, cfg, &r, &outbox_id, error_r) < 0) {
		store_rollback(st);
		ticket_clear(&t);
		return -1;
	}
	double ratio = 0;
	if (suggestion_rank > 0 && mark_suggestion(st, agent, ticket_id, suggestion_rank,
	                                           opts->draft, text, &ratio, error_r) < 0) {
		store_rollback(st);
		ticket_clear(&t);
		return -1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "outbox_id", (double)outbox_id);
	if (suggestion_rank > 0) {
		cJSON_AddNumberToObject(o, "suggestion", suggestion_rank);
		cJSON_AddBoolToObject(o, "edited", ratio > 0.0);
		cJSON_AddNumberToObject(o, "edit_ratio", ratio);
	}
	cJSON_AddStringToObject(o, "status_after",
	                        opts->keep_status ? "unchanged"
	                                          : ticket_status_name(r.status_after));
	rc = finish(st, &t, agent, "reply_approved", o, error_r);
	ticket_clear(&t);
	if (rc == 0)
		*outbox_id_r = outbox_id;
	return rc;
}

int action_reject_suggestion(struct store *st, const char *agent, int64_t ticket_id, unsigned rank,
                             const char *reason, const char **error_r)
{
	if (rank == 0) {
		*error_r = "suggestions are numbered from 1";
		return -1;
	}
	if (reason == NULL || reason[strspn(reason, " \t\r\n")] == '\0') {
		*error_r = "a rejection needs a reason";
		return -1;
	}
	struct ticket t;
	int rc = action_begin(st, agent, ticket_id, &t, error_r);
	if (rc < 0)
		return rc;
	size_t len = strnlen(reason, ACTION_MAX_REASON);
	/* Cut on a character boundary: the event detail stays valid UTF-8. */
	while (len > 0 && reason[len] != '\0' && ((unsigned char)reason[len] & 0xc0) == 0x80)
		len--;
	_cleanup_free_ char *kept = xstrndup(reason, len);
	/* suggest_mark writes the audit event (suggestion_rejected, with the
	 * reason) and the decision log the knowledge-base statistics use. */
	if (suggest_mark(st, ticket_id, (int)rank, SUGGESTION_REJECTED, suggest_agent(agent), kept,
	                 -1, error_r) < 0) {
		store_rollback(st);
		ticket_clear(&t);
		return -1;
	}
	ticket_clear(&t);
	if (store_commit(st) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		return -1;
	}
	return 0;
}

int action_set_status(struct store *st, const struct config *cfg, const char *agent,
                      int64_t ticket_id, enum ticket_status status, const char **error_r)
{
	if (strcmp(ticket_status_name(status), "?") == 0) {
		*error_r = "unknown status";
		return -1;
	}
	struct ticket t;
	int rc = action_begin(st, agent, ticket_id, &t, error_r);
	if (rc < 0)
		return rc;
	if (store_ticket_set_status(st, ticket_id, status) < 0)
		return fail_store(st, &t, error_r);
	/* The SLA clocks follow: pending pauses, resolved meets, reopening restarts. */
	if (cfg != NULL && status != t.status &&
	    sla_on_status(st, cfg, ticket_id, t.status, status, error_r) < 0) {
		store_rollback(st);
		ticket_clear(&t);
		return -1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "from", ticket_status_name(t.status));
	cJSON_AddStringToObject(o, "to", ticket_status_name(status));
	rc = finish(st, &t, agent, "status_changed", o, error_r);
	ticket_clear(&t);
	return rc;
}

int action_set_priority(struct store *st, const struct config *cfg, const char *agent,
                        int64_t ticket_id, enum ticket_priority priority, const char **error_r)
{
	if (strcmp(ticket_priority_name(priority), "?") == 0) {
		*error_r = "unknown priority";
		return -1;
	}
	struct ticket t;
	int rc = action_begin(st, agent, ticket_id, &t, error_r);
	if (rc < 0)
		return rc;
	if (store_ticket_set_priority(st, ticket_id, priority) < 0)
		return fail_store(st, &t, error_r);
	/* Another priority may mean another SLA policy. */
	if (cfg != NULL && priority != t.priority &&
	    sla_on_priority_or_queue_change(st, cfg, ticket_id, error_r) < 0) {
		store_rollback(st);
		ticket_clear(&t);
		return -1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "from", ticket_priority_name(t.priority));
	cJSON_AddStringToObject(o, "to", ticket_priority_name(priority));
	rc = finish(st, &t, agent, "priority_changed", o, error_r);
	ticket_clear(&t);
	return rc;
}

int action_assign(struct store *st, const char *agent, int64_t ticket_id, const char *assignee,
                  const char **error_r)
{
	if (assignee != NULL && assignee[0] == '\0')
		assignee = NULL;
	if (assignee != NULL && !printable(assignee, ACTION_MAX_NAME)) {
		*error_r = "invalid assignee";
		return -1;
	}
	struct ticket t;
	int rc = action_begin(st, agent, ticket_id, &t, error_r);
	if (rc < 0)
		return rc;
	if (store_ticket_set_assignee(st, ticket_id, assignee) < 0)
		return fail_store(st, &t, error_r);
	cJSON *o = cJSON_CreateObject();
	if (t.assignee != NULL)
		cJSON_AddStringToObject(o, "from", t.assignee);
	else
		cJSON_AddNullToObject(o, "from");
	if (assignee != NULL)
		cJSON_AddStringToObject(o, "to", assignee);
	else
		cJSON_AddNullToObject(o, "to");
	rc = finish(st, &t, agent, "assigned", o, error_r);
	ticket_clear(&t);
	return rc;
}

int action_set_queue(struct store *st, const struct config *cfg, const char *agent,
                     int64_t ticket_id, const char *queue, const char **error_r)
{
	if (queue == NULL || !printable(queue, ACTION_MAX_NAME)) {
		*error_r = "invalid queue name";
		return -1;
	}
	if (cfg != NULL && cfg->n_queues > 0 && config_queue(cfg, queue) == NULL) {
		*error_r = error_fmt("no queue \"%s\" in the configuration", queue);
		return -1;
	}
	struct ticket t;
	int rc = action_begin(st, agent, ticket_id, &t, error_r);
	if (rc < 0)
		return rc;
	if (store_ticket_set_queue(st, ticket_id, queue) < 0)
		return fail_store(st, &t, error_r);
	if (cfg != NULL && (t.queue == NULL || strcmp(t.queue, queue) != 0) &&
	    sla_on_priority_or_queue_change(st, cfg, ticket_id, error_r) < 0) {
		store_rollback(st);
		ticket_clear(&t);
		return -1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "from", t.queue ? t.queue : "");
	cJSON_AddStringToObject(o, "to", queue);
	rc = finish(st, &t, agent, "queue_changed", o, error_r);
	ticket_clear(&t);
	return rc;
}

static int add_tags(struct store *st, int64_t ticket_id, const char *tags)
{
	for (const char *p = tags != NULL ? tags : ""; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len > 0) {
			_cleanup_free_ char *tag = xstrndup(p, len);
			if (store_ticket_add_tag(st, ticket_id, tag) < 0)
				return -1;
		}
		p += len + (p[len] == ',');
	}
	return 0;
}

int action_merge(struct store *st, const struct config *cfg, const char *agent, int64_t source,
                 int64_t target, int64_t *moved_r, const char **error_r)
{
	if (source == target) {
		*error_r = "a ticket cannot be merged into itself";
		return -1;
	}
	struct ticket t, into;
	int rc = action_begin(st, agent, source, &t, error_r);
	if (rc < 0)
		return rc;
	int found = store_ticket_get(st, target, &into);
	if (found <= 0) {
		if (found < 0)
			return fail_store(st, &t, error_r);
		*error_r = error_fmt("no ticket %lld to merge into", (long long)target);
		goto refused;
	}
	if (into.merged_into != 0) {
		*error_r = error_fmt("ticket %lld was already merged into %lld", (long long)target,
		                     (long long)into.merged_into);
		goto refused_into;
	}
	/* One customer's request, twice: a merge across customers would let
	 * one's erasure or export take the other's mail along. */
	if (strcasecmp(t.requester != NULL ? t.requester : "",
	               into.requester != NULL ? into.requester : "") != 0) {
		*error_r = error_fmt("tickets %lld and %lld are from different customers (%s, %s)",
		                     (long long)source, (long long)target, t.requester,
		                     into.requester);
		goto refused_into;
	}
	int64_t moved = 0;
	/* The customer's wait for an answer (source's running response clock)
	 * goes on in the target, from when it started: merging neither resets
	 * it nor hides a breach. */
	if (cfg != NULL && sla_on_merge(st, cfg, source, target, error_r) < 0)
		goto failed;
	/* merged_into first: closing the source then stops its other clocks
	 * unmet (sla_on_status), as for spam. */
	if (store_ticket_merge(st, source, target, &moved) < 0 ||
	    (t.status != TICKET_CLOSED && store_ticket_set_status(st, source, TICKET_CLOSED) < 0) ||
	    add_tags(st, target, t.tags) < 0 || store_ticket_touch(st, target) < 0)
		goto store_failed;
	if (cfg != NULL && t.status != TICKET_CLOSED &&
	    sla_on_status(st, cfg, source, t.status, TICKET_CLOSED, error_r) < 0)
		goto failed;
	/* A source still waiting for an answer (new or open) brings an
	 * unanswered customer mail: the target is open again if it was
	 * pending, resolved or closed. */
	bool waits = t.status == TICKET_NEW || t.status == TICKET_OPEN;
	bool reopen = waits && into.status != TICKET_NEW && into.status != TICKET_OPEN;
	if (reopen && store_ticket_set_status(st, target, TICKET_OPEN) < 0)
		goto store_failed;
	if (reopen && cfg != NULL &&
	    sla_on_status(st, cfg, target, into.status, TICKET_OPEN, error_r) < 0)
		goto failed;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "from", (double)source);
	cJSON_AddNumberToObject(o, "messages", (double)moved);
	if (reopen) {
		cJSON_AddStringToObject(o, "status_from", ticket_status_name(into.status));
		cJSON_AddStringToObject(o, "status_to", "open");
	}
	char *detail = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	rc = store_event_add(st, target, agent, "ticket.merged_from", detail);
	cJSON_free(detail);
	if (rc < 0)
		goto store_failed;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "into", (double)target);
	cJSON_AddNumberToObject(o, "messages", (double)moved);
	cJSON_AddStringToObject(o, "status_from", ticket_status_name(t.status));
	ticket_clear(&into);
	rc = finish(st, &t, agent, "ticket.merged", o, error_r);
	ticket_clear(&t);
	if (rc == 0 && moved_r != NULL)
		*moved_r = moved;
	return rc;
store_failed:
	*error_r = error_fmt("store: %s", store_error(st));
failed:
refused_into:
	ticket_clear(&into);
refused:
	store_rollback(st);
	ticket_clear(&t);
	return -1;
}

int action_add_note(struct store *st, const char *agent, int64_t ticket_id, const char *text,
                    const char **error_r)
{
	size_t len = text != NULL ? strnlen(text, ACTION_MAX_NOTE + 1) : 0;
	size_t blank = 0;
	while (blank < len && strchr(" \t\r\n", text[blank]) != NULL)
		blank++;
	if (blank == len) {
		*error_r = "the note is empty";
		return -1;
	}
	if (len > ACTION_MAX_NOTE) {
		*error_r = error_fmt("the note is longer than %d bytes", ACTION_MAX_NOTE);
		return -1;
	}
	if (!mime_utf8_valid(text, len)) {
		*error_r = "the note is not valid UTF-8";
		return -1;
	}
	struct ticket t;
	int rc = action_begin(st, agent, ticket_id, &t, error_r);
	if (rc < 0)
		return rc;
	if (store_ticket_touch(st, ticket_id) < 0)
		return fail_store(st, &t, error_r);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "text", text);
	rc = finish(st, &t, agent, "note", o, error_r);
	ticket_clear(&t);
	return rc;
}
