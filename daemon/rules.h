/* Workflow rules: explicit if/then rules from the config's "rules" list decide
 * what happens to a ticket (queue, priority, assignee, tags, status, template
 * replies, notifications); the triage results only inform their conditions.
 * Evaluation is pure (rules_evaluate: no store, no clock, no I/O), so it is
 * testable on its own; rules_apply writes the decisions and one audit event
 * per action, with the rule's name and the reason.
 *
 * Ownership: a struct rules_config is built by the config reader
 * (config_rules.c), belongs to its struct config and is freed with it.
 * struct rule_decisions belongs to the caller (rules_decisions_clear); its
 * strings are copies, except `rule`, which points into the rules_config and
 * lives as long as it. Error strings are static per thread, valid until the
 * next call. */
#ifndef TRIAGED_RULES_H
#define TRIAGED_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct config;
struct triage_result;

/* Hard limits, checked when the config is read. */
#define RULES_MAX_RULES 256
#define RULES_MAX_DEPTH 16   /* nesting of all / any / not */
#define RULES_MAX_LIST 200   /* items of one list (keywords, domains...) */
#define RULES_MAX_ACTIONS 32 /* actions of one rule */
#define RULES_MAX_VALUE 200  /* bytes of a name, keyword, address or tag */
/* Bytes of subject and of new text searched for keywords: longer text is cut
 * (the words that matter come first; a 1 MiB body is not read for "urgent"). */
#define RULES_MAX_TEXT (256 * 1024)

/* The events that run the rules (bit mask). */
enum rule_trigger {
	RULE_ON_NEW_TICKET = 1u << 0,
	RULE_ON_CUSTOMER_MESSAGE = 1u << 1,
};
#define RULE_ON_ANY (RULE_ON_NEW_TICKET | RULE_ON_CUSTOMER_MESSAGE)
const char *rule_trigger_name(enum rule_trigger t);

enum rule_cond_kind {
	RULE_COND_ALL, /* children */
	RULE_COND_ANY, /* children */
	RULE_COND_NOT, /* children[0] */
	/* string lists: true when the field equals one of them */
	RULE_COND_MAILBOX,
	RULE_COND_QUEUE,
	RULE_COND_CATEGORY,
	RULE_COND_LANGUAGE,
	RULE_COND_SENDER,        /* lower case */
	RULE_COND_SENDER_DOMAIN, /* lower case; also matches subdomains */
	RULE_COND_PRIORITY,      /* levels[] */
	/* keyword lists, stored normalised (case and accents folded) */
	RULE_COND_SUBJECT_CONTAINS,
	RULE_COND_BODY_CONTAINS,
	/* thresholds */
	RULE_COND_CONFIDENCE_AT_LEAST,
	RULE_COND_CONFIDENCE_BELOW,
	RULE_COND_SPAM_PROBABILITY_AT_LEAST,
	RULE_COND_SENTIMENT_BELOW,
	RULE_COND_SENTIMENT_AT_LEAST,
	/* booleans */
	RULE_COND_SPAM,
	RULE_COND_LOOP,
	RULE_COND_BUSINESS_HOURS,
	/* trigger mask */
	RULE_COND_ON,
};

struct rule_cond {
	enum rule_cond_kind kind;
	char **strings; /* lists (keywords normalised) */
	size_t n_strings;
	int *levels; /* RULE_COND_PRIORITY: enum ticket_priority values */
	size_t n_levels;
	double number;     /* thresholds */
	bool flag;         /* booleans */
	unsigned triggers; /* RULE_COND_ON */
	struct rule_cond *children;
	size_t n_children;
};

enum rule_action_kind {
	RULE_ACT_QUEUE,
	RULE_ACT_PRIORITY,
	RULE_ACT_ASSIGNEE,
	RULE_ACT_TAG,
	RULE_ACT_STATUS,
	RULE_ACT_REPLY_TEMPLATE,
	RULE_ACT_NOTIFY,
	RULE_ACT_SPAM,
	RULE_ACT_STOP,
};
const char *rule_action_name(enum rule_action_kind kind);

#define RULE_CATEGORY_PLACEHOLDER "{{category}}"
#define RULE_LANGUAGE_PLACEHOLDER "{{language}}"

struct rule_action {
	enum rule_action_kind kind;
	char *value; /* queue (or "{{category}}"), assignee, tag, template
	              * name (may hold "{{language}}"), "mail:ADDR" / "webhook:NAME" */
	int level;   /* priority or status */
};

struct rule {
	char *name;
	unsigned on;            /* enum rule_trigger mask */
	struct rule_cond *cond; /* NULL: always */
	struct rule_action *actions;
	size_t n_actions;
};

struct rules_config {
	struct rule *rules;
	size_t n_rules;
	/* The config this list belongs to: its queues ("{{category}}" routing)
	 * and calendars (business_hours). */
	const struct config *cfg;
};

void rules_config_free(struct rules_config **rc);
/* Frees what a condition holds (not the struct itself). */
void rule_cond_clear(struct rule_cond *c);

/* What the rules see of a ticket and the mail that triggered them. Strings
 * are borrowed for the duration of the call. */
struct rule_input {
	enum rule_trigger trigger;
	int64_t ticket_id;
	int64_t message_id;  /* a rule fires at most once per message */
	const char *mailbox; /* NULL: none (pipe) */
	const char *queue;   /* the ticket's current queue */
	enum ticket_priority priority;
	enum ticket_status status;
	const struct triage_result *triage; /* NULL: not triaged (no category, no spam) */
	unsigned loop_flags;                /* loop protection: nonzero = automatic mail */
	const char *sender;                 /* address of the mail's sender */
	const char *subject;
	const char *text; /* the new text of the mail */
	int64_t now;      /* for business_hours */
};

/* One action a rule decided, with the reason. */
struct rule_decision {
	const char *rule; /* the rule's name (points into the rules_config) */
	enum rule_action_kind kind;
	char *value;       /* resolved: queue name, template name, tag... */
	int level;         /* priority or status */
	char *matched;     /* the condition that matched, in words */
	char *values_json; /* JSON object of the input values it looked at */
	char *skipped;     /* NULL, or why the action is not carried out */
};

struct rule_decisions {
	struct rule_decision *items;
	size_t count, cap;
	bool stopped; /* a "stop" ended the evaluation */
	/* From the input, for rules_apply. */
	int64_t message_id;
	enum rule_trigger trigger;
	unsigned loop_flags;
};

/* Evaluates the rules in order for one event. Each rule whose "on" includes
 * the trigger and whose condition holds fires once; its actions are decided
 * in order, and later rules see their effect (a queue set by one rule is the
 * "queue" the next one tests). A "stop" action ends the evaluation. rc may be
 * NULL (no rules). *out is reset first, even on error: rules_decisions_clear()
 * is always safe on it.
 * Returns 0, or -1 when the input cannot be read (invalid arguments). */
int rules_evaluate(const struct rules_config *rc, const struct rule_input *in,
                   struct rule_decisions *out, const char **error_r);
void rules_decisions_clear(struct rule_decisions *d);

struct rules_applied {
	unsigned applied;  /* actions carried out */
	unsigned skipped;  /* actions decided but not carried out (recorded) */
	unsigned repeated; /* actions of rules that had already fired for this message */
};

/* Carries the decisions out on ticket_id inside the caller's transaction
 * (begins none), in order:
 * - queue, priority, assignee, status and tags on the ticket; "spam" marks it
 *   spam and closes it; the SLA hooks follow (sla_on_status for each status
 *   change, sla_on_priority_or_queue_change once at the end);
 * - reply_template NAME through outbox_queue_template() (which checks loop
 *   protection, spam and the per-sender rate again);
 * - notify "webhook:NAME" queued for delivery by the SLA webhook sender,
 *   "mail:ADDR" as an internal notice in the outbox;
 * - one audit event per action: actor "rule:NAME", kind "rule_<action>",
 *   detail JSON {"matched", the values looked at, "action", "value",
 *   "previous", "message_id", "trigger", and "skipped"/"queued"/"why"}.
 * A rule that already fired for this message (an event of it carries the
 * message id) is not applied again. applied_r may be NULL. -1 on a store or
 * outbox error: the caller rolls the transaction back. */
int rules_apply(struct store *st, const struct config *cfg, int64_t ticket_id,
                const struct rule_decisions *d, struct rules_applied *applied_r,
                const char **error_r);

#endif
