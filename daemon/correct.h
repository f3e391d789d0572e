/* Agent corrections of the triage: one core function per correction, called
 * by triagectl today and the web console tomorrow, in the style of
 * actions.h (one transaction, one audit event naming the agent).
 * Errors: -1 with a message in *error_r (static per thread, valid until the
 * next call), ACTION_NOT_FOUND when the ticket does not exist. */
#ifndef TRIAGED_CORRECT_H
#define TRIAGED_CORRECT_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct config;
struct store;
struct triage;

/* What a correction changed, for the caller to show. Strings are copies
 * owned by the struct (correct_result_clear). */
struct correct_result {
	char *old_category; /* NULL when the ticket had none */
	double old_confidence;
	char *old_queue, *new_queue; /* new_queue NULL: the queue was left alone */
};
void correct_result_clear(struct correct_result *res);

/* The agent (agent:EMAIL or cli:USER) says ticket_id belongs to category,
 * one of the category model's labels. In one transaction: the ticket's
 * category is set (confidence 1: a person decided), its queue too when the
 * configuration has a queue of that name, the model learns the ticket's
 * first customer message as an example of category at once (triage_learn:
 * memory and stored counts; an earlier correction of the ticket is
 * replaced), and an event "category.corrected" records old and new
 * category and the old confidence. res_r may be NULL. */
int correct_category(struct store *st, const struct config *cfg, struct triage *tr,
                     const char *agent, int64_t ticket_id, const char *category,
                     struct correct_result *res_r, const char **error_r);

/* The agent says ticket_id is spam (true) or a customer's real mail
 * (false). In one transaction: the ticket's spam flag is set (probability
 * 1 or 0: a person decided); spam closes the ticket, and a ticket that was
 * closed is reopened (status open, the SLA clocks follow) when it is not
 * spam; the spam model learns the ticket's first customer message as spam
 * or ham at once (replacing an earlier verdict on the ticket); an event
 * "spam.corrected" records the old and new verdicts, the old probability and
 * the status change. old_status_r and new_status_r may be NULL. */
int correct_spam(struct store *st, const struct config *cfg, struct triage *tr,
                 const char *agent, int64_t ticket_id, bool spam,
                 enum ticket_status *old_status_r, enum ticket_status *new_status_r,
                 const char **error_r);

#endif
