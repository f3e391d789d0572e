/* The agent actions core: every change an agent makes to a ticket is one
 * function here, called by triagectl today and by the web console's HTTP
 * handlers tomorrow. Each checks its input, does its work in one transaction
 * and writes an audit event naming the agent.
 * agent: "agent:EMAIL" for a signed-in agent, "cli:USER" for triagectl.
 * Errors: -1 with a message in *error_r (static per thread, valid until the
 * next call); ACTION_NOT_FOUND is returned (instead of -1) when the ticket
 * does not exist, so callers can answer 404 / exit 66. */
#ifndef TRIAGED_ACTIONS_H
#define TRIAGED_ACTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct config;

#define ACTION_NOT_FOUND (-2)
#define ACTION_MAX_AGENT 200   /* bytes of an agent identity */
#define ACTION_MAX_REASON 2000 /* bytes of a rejection reason kept */
#define ACTION_MAX_NAME 200    /* bytes of a queue or assignee name */
#define ACTION_MAX_NOTE 16384  /* bytes of an internal note */

/* "agent:EMAIL" or "cli:USER": a known kind, printable, short. */
bool action_agent_valid(const char *agent);
/* The start of every action: checks the agent, begins a transaction and
 * reads the ticket into *t (the caller clears it, and commits or rolls
 * back). 0, ACTION_NOT_FOUND or -1, with nothing left open on failure; -1
 * for a ticket merged into another (act on that one). */
int action_begin(struct store *st, const char *agent, int64_t ticket_id, struct ticket *t,
                 const char **error_r);
/* action_begin() that also takes a merged ticket: a correction of its
 * triage is about its own mail, which stays its training example. */
int action_begin_correction(struct store *st, const char *agent, int64_t ticket_id,
                            struct ticket *t, const char **error_r);

struct action_reply_options {
	bool keep_status; /* leave the ticket's status once sent */
	bool reply_all;   /* copy whom the customer's last message was to or copied to */
	bool set_status;  /* else: status_after instead of pending */
	enum ticket_status status_after;
	/* The suggestion's draft as the agent saw it (when suggestion_rank > 0),
	 * to measure the edit. NULL: the draft stored with the suggestion. */
	const char *draft;
};

/* Queues an approved reply in the outbox (sent by the daemon). When it comes
 * from suggestion K (rank > 0), records its approval, or its edit with the
 * edit ratio (suggest_mark); fails if K is unknown or already decided.
 * opts may be NULL: the ticket becomes pending once the reply is sent. */
int action_reply(struct store *st, const struct config *cfg, const char *agent, int64_t ticket_id,
                 const char *text, unsigned suggestion_rank,
                 const struct action_reply_options *opts, int64_t *outbox_id_r,
                 const char **error_r);
/* Rejects suggestion K of the ticket with a reason (required: it is what
 * improves the knowledge base), through suggest_mark. */
int action_reject_suggestion(struct store *st, const char *agent, int64_t ticket_id, unsigned rank,
                             const char *reason, const char **error_r);
int action_set_status(struct store *st, const struct config *cfg, const char *agent,
                      int64_t ticket_id,
                      enum ticket_status status, const char **error_r);
int action_set_priority(struct store *st, const struct config *cfg, const char *agent,
                        int64_t ticket_id,
                        enum ticket_priority priority, const char **error_r);
/* assignee NULL or "": unassigned. */
int action_assign(struct store *st, const char *agent, int64_t ticket_id, const char *assignee,
                  const char **error_r);
/* An internal note on the ticket, for the other agents (never sent to the
 * customer): an event "note" with {"text"} (valid UTF-8, not blank, at most
 * ACTION_MAX_NOTE bytes). */
int action_add_note(struct store *st, const char *agent, int64_t ticket_id, const char *text,
                    const char **error_r);
/* queue must be one of the configuration's queues (when it lists any). */
int action_set_queue(struct store *st, const struct config *cfg, const char *agent,
                     int64_t ticket_id, const char *queue, const char **error_r);
/* Merges ticket source into ticket target, the same customer's request
 * written twice: source's messages move to target, source is closed and its
 * SLA clocks stop unmet, its tags join target's. When source still waited
 * for an answer (new or open), a pending, resolved or closed target opens
 * again and its clocks run as after a customer's message. Replies and
 * [#source] subject tags lead to target from then on, and source takes no
 * more actions. Events: ticket.merged on source, ticket.merged_from on
 * target. ACTION_NOT_FOUND when source does not exist; -1 when target does
 * not, either was merged already, they are the same ticket or their
 * requesters differ. */
int action_merge(struct store *st, const struct config *cfg, const char *agent, int64_t source,
                 int64_t target, int64_t *moved_r, const char **error_r);

#endif
