/* Workflow rules: pure evaluation of the configured if/then list against one
 * ticket event (rules_evaluate), then application to the store with one
 * audit event per action (rules_apply). */
#include "rules.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "calendar.h"
#include "config.h"
#include "norm.h"
#include "outbox.h"
#include "sla.h"
#include "store_sla.h"
#include "strbuf.h"
#include "triage.h"
#include "xalloc.h"


const char *rule_trigger_name(enum rule_trigger t)
{
	switch (t) {
	case RULE_ON_NEW_TICKET:
		return "new_ticket";
	case RULE_ON_CUSTOMER_MESSAGE:
		return "customer_message";
	}
	return "?";
}

static const char *const action_names[] = {
    [RULE_ACT_QUEUE] = "queue",
    [RULE_ACT_PRIORITY] = "priority",
    [RULE_ACT_ASSIGNEE] = "assignee",
    [RULE_ACT_TAG] = "tag",
    [RULE_ACT_STATUS] = "status",
    [RULE_ACT_REPLY_TEMPLATE] = "reply_template",
    [RULE_ACT_NOTIFY] = "notify",
    [RULE_ACT_SPAM] = "spam",
    [RULE_ACT_STOP] = "stop",
};

const char *rule_action_name(enum rule_action_kind kind)
{
	return (size_t)kind < ARRAY_SIZE(action_names) ? action_names[kind] : "?";
}

/* ---- freeing ----------------------------------------------------------- */

void rule_cond_clear(struct rule_cond *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_strings; i++)
		free(c->strings[i]);
	free(c->strings);
	free(c->levels);
	for (size_t i = 0; i < c->n_children; i++)
		rule_cond_clear(&c->children[i]);
	free(c->children);
	memset(c, 0, sizeof(*c));
}

void rules_config_free(struct rules_config **rcp)
{
	struct rules_config *rc = *rcp;
	if (rc == NULL)
		return;
	for (size_t i = 0; i < rc->n_rules; i++) {
		struct rule *rule = &rc->rules[i];
		free(rule->name);
		if (rule->cond != NULL) {
			rule_cond_clear(rule->cond);
			free(rule->cond);
		}
		for (size_t j = 0; j < rule->n_actions; j++)
			free(rule->actions[j].value);
		free(rule->actions);
	}
	free(rc->rules);
	free(rc);
	*rcp = NULL;
}

void rules_decisions_clear(struct rule_decisions *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->count; i++) {
		free(d->items[i].value);
		free(d->items[i].matched);
		free(d->items[i].values_json);
		free(d->items[i].skipped);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}

/* ---- evaluation ---------------------------------------------------------- */

/* The ticket as the rules have left it so far: later rules see earlier ones. */
struct work {
	const char *queue;
	enum ticket_priority priority;
	enum ticket_status status;
	bool spam;
};

struct eval {
	const struct rules_config *rc;
	const struct rule_input *in;
	struct work w;
	/* Normalised subject and text, computed on first use. */
	char *subject_norm, *text_norm;
	bool subject_done, text_done;
	const char *error;
};

static const char *cond_key(enum rule_cond_kind kind)
{
	switch (kind) {
	case RULE_COND_ALL:
		return "all";
	case RULE_COND_ANY:
		return "any";
	case RULE_COND_NOT:
		return "not";
	case RULE_COND_MAILBOX:
		return "mailbox";
	case RULE_COND_QUEUE:
		return "queue";
	case RULE_COND_CATEGORY:
		return "category";
	case RULE_COND_LANGUAGE:
		return "language";
	case RULE_COND_SENDER:
		return "sender";
	case RULE_COND_SENDER_DOMAIN:
		return "sender_domain";
	case RULE_COND_PRIORITY:
		return "priority";
	case RULE_COND_SUBJECT_CONTAINS:
		return "subject_contains";
	case RULE_COND_BODY_CONTAINS:
		return "body_contains";
	case RULE_COND_CONFIDENCE_AT_LEAST:
		return "category_confidence_at_least";
	case RULE_COND_CONFIDENCE_BELOW:
		return "category_confidence_below";
	case RULE_COND_SPAM_PROBABILITY_AT_LEAST:
		return "spam_probability_at_least";
	case RULE_COND_SENTIMENT_BELOW:
		return "sentiment_below";
	case RULE_COND_SENTIMENT_AT_LEAST:
		return "sentiment_at_least";
	case RULE_COND_SPAM:
		return "spam";
	case RULE_COND_LOOP:
		return "loop";
	case RULE_COND_BUSINESS_HOURS:
		return "business_hours";
	case RULE_COND_ON:
		return "on";
	}
	return "?";
}

/* The whole condition in words, for "not ..." and for messages. */
static void cond_render(const struct rule_cond *c, struct strbuf *sb)
{
	switch (c->kind) {
	case RULE_COND_ALL:
	case RULE_COND_ANY:
		strbuf_printf(sb, "%s(", cond_key(c->kind));
		for (size_t i = 0; i < c->n_children; i++) {
			if (i > 0)
				strbuf_puts(sb, ", ");
			cond_render(&c->children[i], sb);
		}
		strbuf_putc(sb, ')');
		return;
	case RULE_COND_NOT:
		strbuf_puts(sb, "not ");
		if (c->n_children == 1)
			cond_render(&c->children[0], sb);
		return;
	case RULE_COND_MAILBOX:
	case RULE_COND_QUEUE:
	case RULE_COND_CATEGORY:
	case RULE_COND_LANGUAGE:
	case RULE_COND_SENDER:
	case RULE_COND_SENDER_DOMAIN:
	case RULE_COND_SUBJECT_CONTAINS:
	case RULE_COND_BODY_CONTAINS:
		strbuf_printf(sb, "%s ", cond_key(c->kind));
		for (size_t i = 0; i < c->n_strings; i++)
			strbuf_printf(sb, "%s%s", i ? "|" : "", c->strings[i]);
		return;
	case RULE_COND_PRIORITY:
		strbuf_puts(sb, "priority ");
		for (size_t i = 0; i < c->n_levels; i++)
			strbuf_printf(sb, "%s%s", i ? "|" : "",
			              ticket_priority_name((enum ticket_priority)c->levels[i]));
		return;
	case RULE_COND_CONFIDENCE_AT_LEAST:
	case RULE_COND_CONFIDENCE_BELOW:
	case RULE_COND_SPAM_PROBABILITY_AT_LEAST:
	case RULE_COND_SENTIMENT_BELOW:
	case RULE_COND_SENTIMENT_AT_LEAST:
		strbuf_printf(sb, "%s %g", cond_key(c->kind), c->number);
		return;
	case RULE_COND_SPAM:
	case RULE_COND_LOOP:
	case RULE_COND_BUSINESS_HOURS:
		strbuf_printf(sb, "%s %s", cond_key(c->kind), c->flag ? "true" : "false");
		return;
	case RULE_COND_ON:
		strbuf_puts(sb, "on ");
		if (c->triggers & RULE_ON_NEW_TICKET)
			strbuf_puts(sb, "new_ticket");
		if ((c->triggers & RULE_ON_NEW_TICKET) && (c->triggers & RULE_ON_CUSTOMER_MESSAGE))
			strbuf_putc(sb, '|');
		if (c->triggers & RULE_ON_CUSTOMER_MESSAGE)
			strbuf_puts(sb, "customer_message");
		return;
	}
}

/* The first item of list equal to s, or NULL. */
static const char *list_find(const struct rule_cond *c, const char *s)
{
	for (size_t i = 0; s != NULL && i < c->n_strings; i++)
		if (strcmp(c->strings[i], s) == 0)
			return c->strings[i];
	return NULL;
}

static bool is_word_byte(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch >= 0x80;
}

/* Keywords match at the start of a word ("urgent" finds "urgente", not
 * "insurgent"); both sides are already normalised. */
static const char *find_keyword(const struct rule_cond *c, const char *text)
{
	if (text == NULL)
		return NULL;
	for (size_t i = 0; i < c->n_strings; i++) {
		const char *kw = c->strings[i];
		for (const char *p = strstr(text, kw); p != NULL; p = strstr(p + 1, kw))
			if (p == text || !is_word_byte((unsigned char)p[-1]) ||
			    !is_word_byte((unsigned char)kw[0]))
				return kw;
	}
	return NULL;
}

static char *normalise_limited(const char *s, const char **error_r)
{
	if (s == NULL)
		return xstrdup("");
	size_t len = strnlen(s, RULES_MAX_TEXT);
	char *out;
	size_t out_len;
	if (norm_text(s, len, 0, &out, &out_len, error_r) < 0)
		return NULL;
	return out;
}

static const char *eval_subject(struct eval *e)
{
	if (!e->subject_done) {
		e->subject_done = true;
		e->subject_norm = normalise_limited(e->in->subject, &e->error);
	}
	return e->subject_norm;
}

static const char *eval_text(struct eval *e)
{
	if (!e->text_done) {
		e->text_done = true;
		e->text_norm = normalise_limited(e->in->text, &e->error);
	}
	return e->text_norm;
}

static const char *sender_domain(const char *sender)
{
	const char *at = sender != NULL ? strrchr(sender, '@') : NULL;
	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* Domain lists match the domain itself and its subdomains, case folded. */
static const char *domain_find(const struct rule_cond *c, const char *domain)
{
	if (domain == NULL)
		return NULL;
	size_t dlen = strlen(domain);
	for (size_t i = 0; i < c->n_strings; i++) {
		const char *want = c->strings[i];
		size_t wlen = strlen(want);
		if (dlen == wlen && strcasecmp(domain, want) == 0)
			return want;
		if (dlen > wlen && domain[dlen - wlen - 1] == '.' &&
		    strcasecmp(domain + dlen - wlen, want) == 0)
			return want;
	}
	return NULL;
}

static void add_string(cJSON *values, const char *key, const char *value)
{
	if (cJSON_GetObjectItemCaseSensitive(values, key) == NULL)
		cJSON_AddItemToObject(values, key,
		                      value ? cJSON_CreateString(value) : cJSON_CreateNull());
}

static void add_number(cJSON *values, const char *key, double value)
{
	if (cJSON_GetObjectItemCaseSensitive(values, key) == NULL)
		cJSON_AddNumberToObject(values, key, value);
}

static void add_bool(cJSON *values, const char *key, bool value)
{
	if (cJSON_GetObjectItemCaseSensitive(values, key) == NULL)
		cJSON_AddBoolToObject(values, key, value);
}

/* Moves the items of from into to (keys already there are kept). */
static void merge_values(cJSON *to, cJSON *from)
{
	while (from->child != NULL) {
		cJSON *item = cJSON_DetachItemViaPointer(from, from->child);
		if (cJSON_GetObjectItemCaseSensitive(to, item->string) == NULL)
			cJSON_AddItemToObject(to, item->string, item);
		else
			cJSON_Delete(item);
	}
}

static bool spam_now(const struct eval *e)
{
	return e->w.spam || (e->in->triage != NULL && e->in->triage->spam);
}

static bool cond_eval(struct eval *e, const struct rule_cond *c, struct strbuf *why, cJSON *values);

/* Leaf conditions: true or false, with the words and the values it used. */
static bool leaf_eval(struct eval *e, const struct rule_cond *c, struct strbuf *why, cJSON *values)
{
	const struct rule_input *in = e->in;
	const struct triage_result *tr = in->triage;
	const char *key = cond_key(c->kind);
	const char *hit = NULL;
	double number = 0;
	bool has_number = true, result = false;

	switch (c->kind) {
	case RULE_COND_MAILBOX:
		add_string(values, "mailbox", in->mailbox);
		hit = list_find(c, in->mailbox);
		break;
	case RULE_COND_QUEUE:
		add_string(values, "queue", e->w.queue);
		hit = list_find(c, e->w.queue);
		break;
	case RULE_COND_CATEGORY:
		add_string(values, "category", tr ? tr->category : NULL);
		hit = list_find(c, tr ? tr->category : NULL);
		break;
	case RULE_COND_LANGUAGE:
		add_string(values, "language", tr ? tr->language : NULL);
		hit = list_find(c, tr ? tr->language : NULL);
		break;
	case RULE_COND_SENDER:
		add_string(values, "sender", in->sender);
		for (size_t i = 0; in->sender != NULL && i < c->n_strings; i++)
			if (strcasecmp(c->strings[i], in->sender) == 0)
				hit = c->strings[i];
		break;
	case RULE_COND_SENDER_DOMAIN:
		add_string(values, "sender_domain", sender_domain(in->sender));
		hit = domain_find(c, sender_domain(in->sender));
		break;
	case RULE_COND_PRIORITY:
		add_string(values, "priority", ticket_priority_name(e->w.priority));
		for (size_t i = 0; i < c->n_levels; i++)
			if (c->levels[i] == (int)e->w.priority)
				hit = ticket_priority_name(e->w.priority);
		break;
	case RULE_COND_SUBJECT_CONTAINS:
		hit = find_keyword(c, eval_subject(e));
		if (hit != NULL)
			add_string(values, "subject_keyword", hit);
		break;
	case RULE_COND_BODY_CONTAINS:
		hit = find_keyword(c, eval_text(e));
		if (hit != NULL)
			add_string(values, "body_keyword", hit);
		break;
	case RULE_COND_CONFIDENCE_AT_LEAST:
	case RULE_COND_CONFIDENCE_BELOW:
		/* No category (an untrained model) counts as no confidence. */
		number = tr != NULL && tr->category != NULL ? tr->category_confidence : 0;
		add_number(values, "category_confidence", number);
		result = c->kind == RULE_COND_CONFIDENCE_AT_LEAST ? number >= c->number
		                                                  : number < c->number;
		break;
	case RULE_COND_SPAM_PROBABILITY_AT_LEAST:
		number = tr != NULL ? tr->spam_probability : 0;
		add_number(values, "spam_probability", number);
		result = number >= c->number;
		break;
	case RULE_COND_SENTIMENT_BELOW:
	case RULE_COND_SENTIMENT_AT_LEAST:
		number = tr != NULL ? tr->sentiment : 0;
		add_number(values, "sentiment", number);
		result =
		    c->kind == RULE_COND_SENTIMENT_BELOW ? number < c->number : number >= c->number;
		break;
	case RULE_COND_SPAM:
		add_bool(values, "spam", spam_now(e));
		result = spam_now(e) == c->flag;
		has_number = false;
		break;
	case RULE_COND_LOOP:
		add_number(values, "loop_flags", in->loop_flags);
		result = (in->loop_flags != 0) == c->flag;
		has_number = false;
		break;
	case RULE_COND_BUSINESS_HOURS: {
		/* No calendar: no notion of closing time, every instant is business time. */
		const struct calendar *cal =
		    e->rc->cfg != NULL ? config_queue_calendar(e->rc->cfg, e->w.queue) : NULL;
		bool open = cal == NULL || cal_is_business_time(cal, in->now);
		add_bool(values, "business_hours", open);
		result = open == c->flag;
		has_number = false;
		break;
	}
	case RULE_COND_ON:
		add_string(values, "trigger", rule_trigger_name(in->trigger));
		result = (c->triggers & in->trigger) != 0;
		if (result)
			strbuf_printf(why, "on %s", rule_trigger_name(in->trigger));
		return result;
	case RULE_COND_ALL:
	case RULE_COND_ANY:
	case RULE_COND_NOT:
		return cond_eval(e, c, why, values);
	}

	switch (c->kind) {
	case RULE_COND_MAILBOX:
	case RULE_COND_QUEUE:
	case RULE_COND_CATEGORY:
	case RULE_COND_LANGUAGE:
	case RULE_COND_SENDER:
	case RULE_COND_SENDER_DOMAIN:
	case RULE_COND_PRIORITY:
		if (hit != NULL)
			strbuf_printf(why, "%s %s", key, hit);
		return hit != NULL;
	case RULE_COND_SUBJECT_CONTAINS:
	case RULE_COND_BODY_CONTAINS:
		if (hit != NULL)
			strbuf_printf(why, "%s \"%s\"", key, hit);
		return hit != NULL;
	default:
		break;
	}
	if (result) {
		if (has_number)
			strbuf_printf(why, "%s %g", key, c->number);
		else
			strbuf_printf(why, "%s %s", key, c->flag ? "true" : "false");
	}
	return result;
}

static bool cond_eval(struct eval *e, const struct rule_cond *c, struct strbuf *why, cJSON *values)
{
	switch (c->kind) {
	case RULE_COND_ALL: {
		/* Every child holds: the reason is all of theirs. */
		struct strbuf part = STRBUF_INIT;
		bool ok = true;
		for (size_t i = 0; ok && i < c->n_children; i++) {
			if (i > 0)
				strbuf_puts(&part, " and ");
			ok = cond_eval(e, &c->children[i], &part, values);
		}
		if (ok)
			strbuf_puts(why, strbuf_str(&part));
		strbuf_free(&part);
		return ok;
	}
	case RULE_COND_ANY:
		/* The first child that holds is the reason; the others' values are dropped. */
		for (size_t i = 0; i < c->n_children; i++) {
			struct strbuf part = STRBUF_INIT;
			cJSON *branch = cJSON_CreateObject();
			bool ok = cond_eval(e, &c->children[i], &part, branch);
			if (ok) {
				strbuf_puts(why, strbuf_str(&part));
				merge_values(values, branch);
			}
			cJSON_Delete(branch);
			strbuf_free(&part);
			if (ok)
				return true;
		}
		return false;
	case RULE_COND_NOT: {
		struct strbuf ignored = STRBUF_INIT;
		bool child = cond_eval(e, &c->children[0], &ignored, values);
		strbuf_free(&ignored);
		if (!child)
			cond_render(c, why);
		return !child;
	}
	default:
		return leaf_eval(e, c, why, values);
	}
}

/* "ack-{{language}}" -> "ack-fr". */
static char *expand_language(const char *tmpl, const char *language)
{
	const char *at = strstr(tmpl, RULE_LANGUAGE_PLACEHOLDER);
	if (at == NULL)
		return xstrdup(tmpl);
	return xasprintf("%.*s%s%s", (int)(at - tmpl), tmpl, language,
	                 at + strlen(RULE_LANGUAGE_PLACEHOLDER));
}

static struct rule_decision *decision_add(struct rule_decisions *out, const struct rule *rule,
                                          const struct rule_action *a, const char *matched,
                                          const char *values_json)
{
	out->items = xgrow(out->items, &out->cap, out->count + 1, sizeof(*out->items));
	struct rule_decision *d = &out->items[out->count++];
	*d = (struct rule_decision){
	    .rule = rule->name,
	    .kind = a->kind,
	    .value = a->value != NULL ? xstrdup(a->value) : NULL,
	    .level = a->level,
	    .matched = xstrdup(matched),
	    .values_json = xstrdup(values_json != NULL ? values_json : "{}"),
	};
	return d;
}

/* Decides one action; updates the work state when it takes effect. */
static void decide(struct eval *e, struct rule_decisions *out, const struct rule *rule,
                   const struct rule_action *a, const char *matched, const char *values_json)
{
	const struct triage_result *tr = e->in->triage;
	struct rule_decision *d = decision_add(out, rule, a, matched, values_json);
	switch (a->kind) {
	case RULE_ACT_QUEUE:
		if (strcmp(a->value, RULE_CATEGORY_PLACEHOLDER) == 0) {
			const char *category = tr != NULL ? tr->category : NULL;
			free(d->value);
			d->value = NULL;
			if (category == NULL) {
				d->skipped = xstrdup("the ticket has no category");
			} else if (e->rc->cfg == NULL ||
			           config_queue(e->rc->cfg, category) == NULL) {
				d->value = xstrdup(category);
				d->skipped = xasprintf(
				    "no queue is named after the category \"%s\"", category);
			} else {
				d->value = xstrdup(category);
			}
		}
		if (d->skipped == NULL)
			e->w.queue = d->value;
		break;
	case RULE_ACT_PRIORITY:
		e->w.priority = (enum ticket_priority)a->level;
		break;
	case RULE_ACT_STATUS:
		e->w.status = (enum ticket_status)a->level;
		break;
	case RULE_ACT_SPAM:
		e->w.spam = true;
		e->w.status = TICKET_CLOSED;
		break;
	case RULE_ACT_REPLY_TEMPLATE: {
		const char *language = tr != NULL && tr->language[0] != '\0' ? tr->language : "en";
		free(d->value);
		d->value = expand_language(a->value, language);
		/* RFC 3834: never an automatic answer to automatic mail. */
		if (e->in->loop_flags != 0)
			d->skipped = xstrdup("the mail is automatic (loop protection)");
		else if (spam_now(e))
			d->skipped = xstrdup("the ticket is spam");
		break;
	}
	case RULE_ACT_STOP:
		out->stopped = true;
		break;
	case RULE_ACT_ASSIGNEE:
	case RULE_ACT_TAG:
	case RULE_ACT_NOTIFY:
		break;
	}
}

int rules_evaluate(const struct rules_config *rc, const struct rule_input *in,
                   struct rule_decisions *out, const char **error_r)
{
	/* Reset first, so that clearing *out is always safe for the caller. */
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (in == NULL || out == NULL ||
	    (in->trigger != RULE_ON_NEW_TICKET && in->trigger != RULE_ON_CUSTOMER_MESSAGE)) {
		*error_r = "rules_evaluate: no input or an unknown trigger";
		return -1;
	}
	out->message_id = in->message_id;
	out->trigger = in->trigger;
	out->loop_flags = in->loop_flags;
	if (rc == NULL)
		return 0;

	struct eval e = {
	    .rc = rc,
	    .in = in,
	    .w = {.queue = in->queue, .priority = in->priority, .status = in->status},
	};
	int ret = 0;
	for (size_t i = 0; i < rc->n_rules && !out->stopped; i++) {
		const struct rule *rule = &rc->rules[i];
		if ((rule->on & in->trigger) == 0)
			continue;
		struct strbuf why = STRBUF_INIT;
		cJSON *values = cJSON_CreateObject();
		bool fires = rule->cond == NULL || cond_eval(&e, rule->cond, &why, values);
		if (e.error != NULL) {
			*error_r = error_fmt("rule %s: %s", rule->name, e.error);
			ret = -1;
		} else if (fires) {
			char *values_json = cJSON_PrintUnformatted(values);
			const char *matched = rule->cond == NULL ? "always" : strbuf_str(&why);
			for (size_t j = 0; j < rule->n_actions; j++)
				decide(&e, out, rule, &rule->actions[j], matched, values_json);
			cJSON_free(values_json);
		}
		cJSON_Delete(values);
		strbuf_free(&why);
		if (ret < 0)
			break;
	}
	free(e.subject_norm);
	free(e.text_norm);
	if (ret < 0)
		rules_decisions_clear(out);
	return ret;
}

/* ---- application ---------------------------------------------------------- */

/* Has rule already fired for this message? Its events carry the message id. */
static bool fired_before(const struct event_row *rows, size_t n, const char *rule,
                         int64_t message_id)
{
	if (message_id <= 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *actor = rows[i].actor;
		if (actor == NULL || strncmp(actor, "rule:", 5) != 0 ||
		    strcmp(actor + 5, rule) != 0 || rows[i].detail == NULL)
			continue;
		cJSON *o = cJSON_Parse(rows[i].detail);
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "message_id");
		bool same = cJSON_IsNumber(id) && (int64_t)id->valuedouble == message_id;
		cJSON_Delete(o);
		if (same)
			return true;
	}
	return false;
}

static int store_fail(struct store *st, const char **error_r)
{
	*error_r = error_fmt("store: %s", store_error(st));
	return -1;
}

/* Webhooks go to the SLA engine's delivery queue (same body shape as its
 * own: the ticket, then the event); mail notifications go through the
 * outbox as internal notices. */
static int notify(struct store *st, const struct config *cfg, const struct ticket *t,
                  const struct rule_decision *d, cJSON *o, const char **error_r)
{
	if (strncmp(d->value, "mail:", 5) == 0) {
		if (!cfg->smtp.configured) {
			cJSON_AddBoolToObject(o, "queued", false);
			cJSON_AddStringToObject(o, "why", "no smtp section: the event is the only record");
			return 0;
		}
		_cleanup_free_ char *reason = xasprintf("rule %s: %s", d->rule, d->matched);
		int64_t outbox_id;
		if (outbox_queue_notify(st, cfg, t->id, d->value + 5, reason, &outbox_id, error_r) < 0)
			return -1;
		cJSON_AddBoolToObject(o, "queued", true);
		cJSON_AddNumberToObject(o, "outbox_id", (double)outbox_id);
		return 1;
	}
	int64_t now = store_now();
	cJSON *body = cJSON_CreateObject();
	cJSON *jt = cJSON_AddObjectToObject(body, "ticket");
	cJSON_AddNumberToObject(jt, "id", (double)t->id);
	cJSON_AddStringToObject(jt, "subject", t->subject ? t->subject : "");
	cJSON_AddStringToObject(jt, "queue", t->queue ? t->queue : "");
	cJSON_AddStringToObject(jt, "status", ticket_status_name(t->status));
	cJSON_AddStringToObject(jt, "priority", ticket_priority_name(t->priority));
	if (t->assignee != NULL)
		cJSON_AddStringToObject(jt, "assignee", t->assignee);
	cJSON *je = cJSON_AddObjectToObject(body, "event");
	cJSON_AddStringToObject(je, "kind", "rule.notify");
	_cleanup_free_ char *actor = xasprintf("rule:%s", d->rule);
	cJSON_AddStringToObject(je, "actor", actor);
	cJSON_AddNumberToObject(je, "at", (double)now);
	cJSON_AddItemToObject(je, "detail", cJSON_Duplicate(o, true));
	cJSON_AddStringToObject(body, "reason", d->matched);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (text == NULL || strlen(text) > SLA_MAX_WEBHOOK_BODY) {
		/* Only a huge matched text could do this; the event still says why. */
		cJSON_free(text);
		cJSON_AddBoolToObject(o, "queued", false);
		cJSON_AddStringToObject(o, "why", "the webhook body would be too large");
		return 0;
	}
	int rc = store_sla_webhook_queue(st, t->id, d->value + 8, text, now);
	cJSON_free(text);
	if (rc < 0)
		return store_fail(st, error_r);
	cJSON_AddBoolToObject(o, "queued", true);
	return 1;
}

/* Carries out one decision; fills o with what happened. 1 applied, 0 not
 * (recorded with a reason), -1 error. */
static int apply_one(struct store *st, const struct config *cfg, struct ticket *t,
                     const struct rule_decisions *ds, const struct rule_decision *d, cJSON *o,
                     const char **error_r)
{
	switch (d->kind) {
	case RULE_ACT_QUEUE:
		cJSON_AddStringToObject(o, "previous", t->queue ? t->queue : "");
		if (store_ticket_set_queue(st, t->id, d->value) < 0)
			return store_fail(st, error_r);
		free(t->queue);
		t->queue = xstrdup(d->value);
		return 1;
	case RULE_ACT_PRIORITY:
		cJSON_AddStringToObject(o, "previous", ticket_priority_name(t->priority));
		if (store_ticket_set_priority(st, t->id, (enum ticket_priority)d->level) < 0)
			return store_fail(st, error_r);
		t->priority = (enum ticket_priority)d->level;
		return 1;
	case RULE_ACT_STATUS: {
		enum ticket_status old = t->status;
		cJSON_AddStringToObject(o, "previous", ticket_status_name(old));
		if (store_ticket_set_status(st, t->id, (enum ticket_status)d->level) < 0)
			return store_fail(st, error_r);
		t->status = (enum ticket_status)d->level;
		/* A rule that closes a ticket the classifier took for spam closes
		 * it as spam: no service is owed (the shipped spam-closed rule). */
		if (t->status == TICKET_CLOSED && t->spam &&
		    store_ticket_set_spam_closed(st, t->id, true) < 0)
			return store_fail(st, error_r);
		/* The SLA clocks follow the status (pending pauses, closed stops). */
		if (sla_on_status(st, cfg, t->id, old, t->status, error_r) < 0)
			return -1;
		return 1;
	}
	case RULE_ACT_ASSIGNEE:
		cJSON_AddStringToObject(o, "previous", t->assignee ? t->assignee : "");
		if (store_ticket_set_assignee(st, t->id, d->value) < 0)
			return store_fail(st, error_r);
		free(t->assignee);
		t->assignee = xstrdup(d->value);
		return 1;
	case RULE_ACT_TAG:
		if (store_ticket_add_tag(st, t->id, d->value) < 0)
			return store_fail(st, error_r);
		return 1;
	case RULE_ACT_SPAM: {
		enum ticket_status old = t->status;
		cJSON_AddStringToObject(o, "previous", ticket_status_name(old));
		if (store_ticket_set_triage(st, t->id, t->language, t->category,
		                            t->category_confidence, true, t->spam_score,
		                            t->sentiment, t->sentiment_label) < 0 ||
		    store_ticket_set_status(st, t->id, TICKET_CLOSED) < 0 ||
		    store_ticket_set_spam_closed(st, t->id, true) < 0)
			return store_fail(st, error_r);
		t->spam = true;
		t->status = TICKET_CLOSED;
		if (sla_on_status(st, cfg, t->id, old, t->status, error_r) < 0)
			return -1;
		return 1;
	}
	case RULE_ACT_STOP:
		return 1;
	case RULE_ACT_NOTIFY:
		return notify(st, cfg, t, d, o, error_r);
	case RULE_ACT_REPLY_TEMPLATE:
		break;
	}

	/* The outbox checks loop protection, spam and the per-sender rate
	 * again: its own rules, whoever asks. */
	int64_t outbox_id = 0;
	const char *why = NULL;
	int rc = outbox_queue_template(st, cfg, t->id, d->value, ds->loop_flags, &outbox_id, &why,
	                               error_r);
	if (rc < 0)
		return -1;
	cJSON_AddBoolToObject(o, "queued", rc == 1);
	if (rc == 1)
		cJSON_AddNumberToObject(o, "outbox_id", (double)outbox_id);
	else
		cJSON_AddStringToObject(o, "why", why ? why : "not queued");
	return rc;
}

int rules_apply(struct store *st, const struct config *cfg, int64_t ticket_id,
                const struct rule_decisions *d, struct rules_applied *applied_r,
                const char **error_r)
{
	struct rules_applied applied = {0};
	if (d->count == 0) {
		if (applied_r != NULL)
			*applied_r = applied;
		return 0;
	}
	struct ticket t;
	int found = store_ticket_get(st, ticket_id, &t);
	if (found <= 0) {
		*error_r = found == 0 ? error_fmt("no ticket %lld", (long long)ticket_id)
		                      : error_fmt("store: %s", store_error(st));
		return -1;
	}
	struct event_row *rows = NULL;
	size_t n_rows = 0;
	if (d->message_id > 0 && store_event_list(st, ticket_id, &rows, &n_rows) < 0) {
		ticket_clear(&t);
		return store_fail(st, error_r);
	}

	int ret = 0;
	const char *last_rule = NULL;
	bool repeated = false, policy_inputs_changed = false;
	for (size_t i = 0; i < d->count && ret == 0; i++) {
		const struct rule_decision *dec = &d->items[i];
		if (last_rule == NULL || strcmp(last_rule, dec->rule) != 0) {
			last_rule = dec->rule;
			repeated = fired_before(rows, n_rows, dec->rule, d->message_id);
		}
		if (repeated) {
			applied.repeated++;
			continue;
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "matched", dec->matched);
		cJSON *values = cJSON_Parse(dec->values_json ? dec->values_json : "{}");
		if (values != NULL) {
			merge_values(o, values);
			cJSON_Delete(values);
		}
		cJSON_AddStringToObject(o, "action", rule_action_name(dec->kind));
		if (dec->kind == RULE_ACT_PRIORITY)
			cJSON_AddStringToObject(
			    o, "value", ticket_priority_name((enum ticket_priority)dec->level));
		else if (dec->kind == RULE_ACT_STATUS)
			cJSON_AddStringToObject(o, "value",
			                        ticket_status_name((enum ticket_status)dec->level));
		else if (dec->value != NULL)
			cJSON_AddStringToObject(o, "value", dec->value);
		cJSON_AddNumberToObject(o, "message_id", (double)d->message_id);
		cJSON_AddStringToObject(o, "trigger", rule_trigger_name(d->trigger));

		int rc;
		if (dec->skipped != NULL) {
			cJSON_AddStringToObject(o, "skipped", dec->skipped);
			rc = 0;
		} else {
			rc = apply_one(st, cfg, &t, d, dec, o, error_r);
		}
		if (rc >= 0) {
			_cleanup_free_ char *actor = xasprintf("rule:%s", dec->rule);
			_cleanup_free_ char *kind =
			    xasprintf("rule_%s", rule_action_name(dec->kind));
			char *detail = cJSON_PrintUnformatted(o);
			if (store_event_add(st, ticket_id, actor, kind, detail) < 0)
				rc = store_fail(st, error_r);
			cJSON_free(detail);
		}
		cJSON_Delete(o);
		if (rc < 0)
			ret = -1;
		else if (rc == 1)
			applied.applied++;
		else
			applied.skipped++;
		if (rc == 1 && (dec->kind == RULE_ACT_QUEUE || dec->kind == RULE_ACT_PRIORITY))
			policy_inputs_changed = true;
	}
	/* The SLA policy depends on queue and priority: choose it again once. */
	if (ret == 0 && policy_inputs_changed &&
	    sla_on_priority_or_queue_change(st, cfg, ticket_id, error_r) < 0)
		ret = -1;
	event_rows_free(&rows, n_rows);
	ticket_clear(&t);
	if (ret == 0 && applied_r != NULL)
		*applied_r = applied;
	return ret;
}
