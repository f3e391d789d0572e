/* Agent corrections of the triage (see correct.h): the category and the
 * spam verdict, learned by the models at once and audited. */
#include "correct.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "actions.h"
#include "config.h"
#include "sla.h"
#include "store.h"
#include "triage.h"
#include "xalloc.h"


void correct_result_clear(struct correct_result *res)
{
	free(res->old_category);
	free(res->old_queue);
	free(res->new_queue);
	memset(res, 0, sizeof(*res));
}

/* Only the model's labels: a typo must not become a new category that the
 * model then learns and proposes. */
static bool known_category(const struct triage *tr, const char *category)
{
	const char **labels;
	size_t n = triage_category_labels(tr, &labels);
	for (size_t i = 0; i < n; i++)
		if (strcmp(labels[i], category) == 0)
			return true;
	return false;
}

int correct_category(struct store *st, const struct config *cfg, struct triage *tr,
                     const char *agent, int64_t ticket_id, const char *category,
                     struct correct_result *res_r, const char **error_r)
{
	if (category == NULL || !known_category(tr, category)) {
		*error_r = error_fmt("unknown category \"%s\"", category ? category : "");
		return -1;
	}
	struct ticket t;
	int found = action_begin_correction(st, agent, ticket_id, &t, error_r);
	if (found < 0)
		return found;
	bool move = cfg != NULL && config_queue(cfg, category) != NULL &&
	            (t.queue == NULL || strcmp(t.queue, category) != 0);
	const char *learn_error = NULL;
	if (store_ticket_set_triage(st, ticket_id, t.language, category, 1.0, t.spam, t.spam_score,
	                            t.sentiment, t.sentiment_label) < 0 ||
	    (move && store_ticket_set_queue(st, ticket_id, category) < 0))
		goto store_failed;
	int weight = 0;
	if (triage_learn(tr, st, ticket_id, category, &weight, &learn_error) < 0) {
		*error_r = error_fmt("learning the correction: %s", learn_error);
		goto failed;
	}
	cJSON *o = cJSON_CreateObject();
	if (t.category != NULL)
		cJSON_AddStringToObject(o, "from", t.category);
	else
		cJSON_AddNullToObject(o, "from");
	cJSON_AddStringToObject(o, "to", category);
	cJSON_AddNumberToObject(o, "old_confidence", t.category_confidence);
	if (move) {
		cJSON_AddStringToObject(o, "queue_from", t.queue ? t.queue : "");
		cJSON_AddStringToObject(o, "queue_to", category);
	}
	cJSON_AddBoolToObject(o, "learned", true);
	cJSON_AddNumberToObject(o, "learned_weight", weight);
	char *detail = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	int rc = store_event_add(st, ticket_id, agent, "category.corrected", detail);
	cJSON_free(detail);
	if (rc < 0 || store_commit(st) < 0)
		goto store_failed;
	if (res_r != NULL) {
		*res_r = (struct correct_result){
		    .old_category = t.category ? xstrdup(t.category) : NULL,
		    .old_confidence = t.category_confidence,
		    .old_queue = t.queue ? xstrdup(t.queue) : NULL,
		    .new_queue = move ? xstrdup(category) : NULL,
		};
	}
	ticket_clear(&t);
	return 0;
store_failed:
	*error_r = error_fmt("store: %s", store_error(st));
failed:
	/* triage_learn keeps memory equal to the store up to its own failure;
	 * a failed commit after it leaves the model ahead of the store until
	 * the next start, which reloads the stored counts. */
	store_rollback(st);
	ticket_clear(&t);
	return -1;
}

int correct_spam(struct store *st, const struct config *cfg, struct triage *tr,
                 const char *agent, int64_t ticket_id, bool spam,
                 enum ticket_status *old_status_r, enum ticket_status *new_status_r,
                 const char **error_r)
{
	struct ticket t;
	int found = action_begin_correction(st, agent, ticket_id, &t, error_r);
	if (found < 0)
		return found;
	/* Spam is closed, as the rules close it; a customer's mail wrongly
	 * closed as spam needs an answer again. A merged ticket stays closed:
	 * its mail is answered in the ticket it was merged into. */
	enum ticket_status status = t.status;
	if (t.merged_into == 0 && spam)
		status = TICKET_CLOSED;
	else if (t.merged_into == 0 && t.spam_closed)
		status = TICKET_OPEN; /* not a ticket an agent closed */
	const char *learn_error = NULL;
	if (store_ticket_set_triage(st, ticket_id, t.language, t.category, t.category_confidence,
	                            spam, spam ? 1.0 : 0.0, t.sentiment, t.sentiment_label) < 0 ||
	    (status != t.status && store_ticket_set_status(st, ticket_id, status) < 0) ||
	    store_ticket_set_spam_closed(st, ticket_id,
	                                 spam && status == TICKET_CLOSED && t.merged_into == 0) < 0)
		goto store_failed;
	if (status != t.status && cfg != NULL &&
	    sla_on_status(st, cfg, ticket_id, t.status, status, error_r) < 0)
		goto failed;
	int weight = 0;
	if (triage_learn_spam(tr, st, ticket_id, spam, &weight, &learn_error) < 0) {
		*error_r = error_fmt("learning the correction: %s", learn_error);
		goto failed;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "from", t.spam);
	cJSON_AddBoolToObject(o, "to", spam);
	cJSON_AddNumberToObject(o, "old_probability", t.spam_score);
	if (status != t.status) {
		cJSON_AddStringToObject(o, "status_from", ticket_status_name(t.status));
		cJSON_AddStringToObject(o, "status_to", ticket_status_name(status));
	}
	cJSON_AddBoolToObject(o, "learned", true);
	cJSON_AddNumberToObject(o, "learned_weight", weight);
	char *detail = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	int rc = store_event_add(st, ticket_id, agent, "spam.corrected", detail);
	cJSON_free(detail);
	if (rc < 0 || store_commit(st) < 0)
		goto store_failed;
	if (old_status_r != NULL)
		*old_status_r = t.status;
	if (new_status_r != NULL)
		*new_status_r = status;
	ticket_clear(&t);
	return 0;
store_failed:
	*error_r = error_fmt("store: %s", store_error(st));
failed:
	/* As for the category: a model ahead of a rolled-back store is
	 * reloaded from the stored counts at the next start. */
	store_rollback(st);
	ticket_clear(&t);
	return -1;
}
