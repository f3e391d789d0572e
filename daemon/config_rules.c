/* The "rules" section of triaged.json: the ordered list of workflow rules,
 * read into struct rules_config (rules.h) and checked against the rest of the
 * config (queues, mailboxes, templates), every error with its path and line. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compose.h"
#include "config-private.h"
#include "norm.h"
#include "rules.h"
#include "sla.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

#define RULE_NAME_MAX 64

static const char *const trigger_names[] = {"new_ticket", "customer_message", NULL};

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A string or a non-empty list of strings, each non-empty, printable and
 * short. Returns false (error reported) when unusable. */
static bool read_strings(struct reader *r, const cJSON *v, const char *path, char ***out,
                         size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (cJSON_IsString(v)) {
		if (v->valuestring[0] == '\0' || strlen(v->valuestring) > RULES_MAX_VALUE ||
		    !printable(v->valuestring)) {
			cfg_error(r, path,
			          "expected a non-empty printable string of at most %d bytes",
			          RULES_MAX_VALUE);
			return false;
		}
		*out = xcalloc(1, sizeof(char *));
		(*out)[0] = xstrdup(v->valuestring);
		*n_out = 1;
		return true;
	}
	int size = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
	if (!cJSON_IsArray(v) || size == 0 || size > RULES_MAX_LIST) {
		_cleanup_free_ char *got = cfg_show_value(v);
		cfg_error(r, path, "expected a string or a list of 1..%d strings, got %s",
		          RULES_MAX_LIST, got);
		return false;
	}
	char **list = xcalloc((size_t)size, sizeof(char *));
	size_t n = 0;
	bool ok = true;
	const cJSON *item;
	cJSON_ArrayForEach(item, v)
	{
		_cleanup_free_ char *p = xasprintf("%s[%zu]", path, n);
		if (!cJSON_IsString(item) || item->valuestring[0] == '\0' ||
		    strlen(item->valuestring) > RULES_MAX_VALUE || !printable(item->valuestring)) {
			_cleanup_free_ char *got = cfg_show_value(item);
			cfg_error(
			    r, p,
			    "expected a non-empty printable string of at most %d bytes, got %s",
			    RULES_MAX_VALUE, got);
			ok = false;
			list[n++] = xstrdup("");
			continue;
		}
		list[n++] = xstrdup(item->valuestring);
	}
	*out = list;
	*n_out = n;
	return ok;
}

static void lower_ascii(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool read_number(struct reader *r, const cJSON *v, const char *path, double min, double max,
                        double *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max) {
		_cleanup_free_ char *got = cfg_show_value(v);
		cfg_error(r, path, "expected a number %g..%g, got %s", min, max, got);
		return false;
	}
	*out = v->valuedouble;
	return true;
}

static bool read_flag(struct reader *r, const cJSON *v, const char *path, bool *out)
{
	if (!cJSON_IsBool(v)) {
		_cleanup_free_ char *got = cfg_show_value(v);
		cfg_error(r, path, "expected true or false, got %s", got);
		return false;
	}
	*out = cJSON_IsTrue(v);
	return true;
}

/* "new_ticket", "customer_message" or a list of them, as a mask. */
static bool read_triggers(struct reader *r, const cJSON *v, const char *path, unsigned *mask)
{
	char **names;
	size_t n;
	*mask = 0;
	bool ok = read_strings(r, v, path, &names, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], "new_ticket") == 0) {
			*mask |= RULE_ON_NEW_TICKET;
		} else if (strcmp(names[i], "customer_message") == 0) {
			*mask |= RULE_ON_CUSTOMER_MESSAGE;
		} else if (names[i][0] != '\0') {
			_cleanup_free_ char *p =
			    cJSON_IsArray(v) ? xasprintf("%s[%zu]", path, i) : xstrdup(path);
			cfg_error(r, p, "unknown event \"%s\" (known: %s, %s)", names[i],
			          trigger_names[0], trigger_names[1]);
			ok = false;
		}
		free(names[i]);
	}
	free(names);
	return ok && *mask != 0;
}

/* Path of item i of a list read by read_strings (a lone string has none). */
static char *item_path(const cJSON *v, const char *path, size_t i)
{
	return cJSON_IsArray(v) ? xasprintf("%s[%zu]", path, i) : xstrdup(path);
}

static const char *const cond_keys[] = {"all",
                                        "any",
                                        "not",
                                        "mailbox",
                                        "queue",
                                        "category",
                                        "language",
                                        "sender",
                                        "sender_domain",
                                        "priority",
                                        "subject_contains",
                                        "body_contains",
                                        "category_confidence_at_least",
                                        "category_confidence_below",
                                        "spam_probability_at_least",
                                        "sentiment_below",
                                        "sentiment_at_least",
                                        "spam",
                                        "loop",
                                        "business_hours",
                                        "on",
                                        NULL};
_Static_assert(sizeof(cond_keys) / sizeof(cond_keys[0]) == RULE_COND_ON + 2,
               "cond_keys follows enum rule_cond_kind");

static bool read_cond(struct reader *r, const struct config *cfg, const cJSON *node,
                      const char *path, unsigned depth, struct rule_cond *out);

/* One "key": value condition. */
static bool read_leaf(struct reader *r, const struct config *cfg, const char *key, const cJSON *v,
                      const char *path, unsigned depth, struct rule_cond *c)
{
	size_t k;
	for (k = 0; cond_keys[k] != NULL; k++)
		if (strcmp(cond_keys[k], key) == 0)
			break;
	if (cond_keys[k] == NULL) {
		struct strbuf names = STRBUF_INIT;
		for (size_t i = 0; cond_keys[i] != NULL; i++)
			strbuf_printf(&names, "%s%s", i ? ", " : "", cond_keys[i]);
		cfg_error(r, path, "unknown condition (known: %s)", strbuf_str(&names));
		strbuf_free(&names);
		return false;
	}
	/* cond_keys is in the order of enum rule_cond_kind up to "on". */
	c->kind = (enum rule_cond_kind)k;
	bool ok = true;
	switch (c->kind) {
	case RULE_COND_ALL:
	case RULE_COND_ANY: {
		int size = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
		if (size == 0 || size > RULES_MAX_LIST) {
			cfg_error(r, path, "expected a list of 1..%d conditions", RULES_MAX_LIST);
			return false;
		}
		c->children = xcalloc((size_t)size, sizeof(*c->children));
		const cJSON *item;
		cJSON_ArrayForEach(item, v)
		{
			_cleanup_free_ char *p = xasprintf("%s[%zu]", path, c->n_children);
			ok &= read_cond(r, cfg, item, p, depth + 1, &c->children[c->n_children++]);
		}
		return ok;
	}
	case RULE_COND_NOT:
		c->children = xcalloc(1, sizeof(*c->children));
		c->n_children = 1;
		return read_cond(r, cfg, v, path, depth + 1, &c->children[0]);
	case RULE_COND_MAILBOX:
	case RULE_COND_QUEUE:
	case RULE_COND_CATEGORY:
	case RULE_COND_LANGUAGE:
	case RULE_COND_SENDER:
	case RULE_COND_SENDER_DOMAIN:
		if (!read_strings(r, v, path, &c->strings, &c->n_strings))
			return false;
		for (size_t i = 0; i < c->n_strings; i++) {
			_cleanup_free_ char *p = item_path(v, path, i);
			char *s = c->strings[i];
			if (c->kind == RULE_COND_MAILBOX && config_mailbox(cfg, s) == NULL) {
				cfg_error(r, p, "unknown mailbox \"%s\"", s);
				ok = false;
			} else if (c->kind == RULE_COND_QUEUE && config_queue(cfg, s) == NULL) {
				cfg_error(r, p, "unknown queue \"%s\"", s);
				ok = false;
			} else if ((c->kind == RULE_COND_CATEGORY ||
			            c->kind == RULE_COND_LANGUAGE) &&
			           !cfg_is_identifier(s)) {
				cfg_error(r, p,
				          "expected letters, digits, '-', '_' or '.', got \"%s\"",
				          s);
				ok = false;
			} else if (c->kind == RULE_COND_SENDER) {
				lower_ascii(s);
				if (!compose_valid_addr(s)) {
					cfg_error(r, p, "expected an e-mail address, got \"%s\"",
					          s);
					ok = false;
				}
			} else if (c->kind == RULE_COND_SENDER_DOMAIN) {
				lower_ascii(s);
				if (strchr(s, '@') != NULL || !cfg_is_identifier(s) ||
				    s[0] == '.') {
					cfg_error(r, p,
					          "expected a domain like example.com, got \"%s\"",
					          s);
					ok = false;
				}
			}
		}
		return ok;
	case RULE_COND_PRIORITY: {
		char **names;
		size_t n;
		if (!read_strings(r, v, path, &names, &n))
			ok = false;
		c->levels = xcalloc(n ? n : 1, sizeof(int));
		for (size_t i = 0; i < n; i++) {
			enum ticket_priority p;
			if (ticket_priority_parse(names[i], &p) == 0) {
				c->levels[c->n_levels++] = (int)p;
			} else if (names[i][0] != '\0') {
				_cleanup_free_ char *ip = item_path(v, path, i);
				cfg_error(
				    r, ip,
				    "unknown priority \"%s\" (known: low, normal, high, urgent)",
				    names[i]);
				ok = false;
			}
			free(names[i]);
		}
		free(names);
		return ok;
	}
	case RULE_COND_SUBJECT_CONTAINS:
	case RULE_COND_BODY_CONTAINS:
		if (!read_strings(r, v, path, &c->strings, &c->n_strings))
			return false;
		/* Matching is case- and accent-insensitive: keywords are stored
		 * as the text will be, normalised. */
		for (size_t i = 0; i < c->n_strings; i++) {
			char *norm;
			size_t len;
			const char *error;
			_cleanup_free_ char *p = item_path(v, path, i);
			if (norm_text(c->strings[i], strlen(c->strings[i]), 0, &norm, &len,
			              &error) < 0) {
				cfg_error(r, p, "%s", error);
				ok = false;
				continue;
			}
			if (len == 0 || strspn(norm, " ") == len) {
				cfg_error(r, p, "the keyword \"%s\" is empty once normalised",
				          c->strings[i]);
				ok = false;
			}
			free(c->strings[i]);
			c->strings[i] = norm;
		}
		return ok;
	case RULE_COND_CONFIDENCE_AT_LEAST:
	case RULE_COND_CONFIDENCE_BELOW:
	case RULE_COND_SPAM_PROBABILITY_AT_LEAST:
		return read_number(r, v, path, 0, 1, &c->number);
	case RULE_COND_SENTIMENT_BELOW:
	case RULE_COND_SENTIMENT_AT_LEAST:
		return read_number(r, v, path, -1, 1, &c->number);
	case RULE_COND_SPAM:
	case RULE_COND_LOOP:
	case RULE_COND_BUSINESS_HOURS:
		return read_flag(r, v, path, &c->flag);
	case RULE_COND_ON:
		return read_triggers(r, v, path, &c->triggers);
	}
	return false;
}

/* A condition object; several keys mean all of them. */
static bool read_cond(struct reader *r, const struct config *cfg, const cJSON *node,
                      const char *path, unsigned depth, struct rule_cond *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = RULE_COND_ALL;
	if (depth > RULES_MAX_DEPTH) {
		cfg_error(r, path, "conditions nested deeper than %d", RULES_MAX_DEPTH);
		return false;
	}
	int size = cJSON_IsObject(node) ? cJSON_GetArraySize(node) : 0;
	if (size == 0) {
		_cleanup_free_ char *got = cfg_show_value(node);
		cfg_error(r, path, "expected a condition like {\"spam\": true}, got %s", got);
		return false;
	}
	bool ok = true;
	for (const cJSON *dup = node->child; dup != NULL; dup = dup->next)
		for (const cJSON *prev = node->child; prev != dup; prev = prev->next)
			if (strcmp(prev->string, dup->string) == 0) {
				_cleanup_free_ char *p = cfg_key_path(path, dup->string);
				cfg_error(r, p, "duplicate key");
				ok = false;
			}
	if (size == 1) {
		_cleanup_free_ char *p = cfg_key_path(path, node->child->string);
		return read_leaf(r, cfg, node->child->string, node->child, p, depth, out) && ok;
	}
	out->children = xcalloc((size_t)size, sizeof(*out->children));
	for (const cJSON *item = node->child; item != NULL; item = item->next) {
		_cleanup_free_ char *p = cfg_key_path(path, item->string);
		struct rule_cond *child = &out->children[out->n_children++];
		ok &= read_leaf(r, cfg, item->string, item, p, depth, child);
	}
	return ok;
}

static bool is_dir(const char *path)
{
	struct stat sb;
	return path != NULL && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool template_file_exists(const char *dir, const char *name)
{
	_cleanup_free_ char *file = xasprintf("%s/%s.txt", dir, name);
	struct stat sb;
	return stat(file, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Template names: letters, digits, '-', '_', '.' (no path), with at most one
 * "{{language}}". */
static bool template_name_ok(const char *name)
{
	const char *at = strstr(name, RULE_LANGUAGE_PLACEHOLDER);
	_cleanup_free_ char *plain = at == NULL ? xstrdup(name)
	                                        : xasprintf("%.*sxx%s", (int)(at - name), name,
	                                                    at + strlen(RULE_LANGUAGE_PLACEHOLDER));
	return cfg_is_identifier(plain) && strstr(plain, "..") == NULL && plain[0] != '.' &&
	       strstr(plain, "{{") == NULL;
}

static const char *const action_keys[] = {"queue",  "priority",       "assignee", "tag",  "status",
                                          "reply_template", "notify", "spam",   "stop", NULL};
_Static_assert(sizeof(action_keys) / sizeof(action_keys[0]) == RULE_ACT_STOP + 2,
               "action_keys follows enum rule_action_kind");

static bool read_action(struct reader *r, const struct config *cfg, const cJSON *node,
                        const char *path, struct rule_action *a)
{
	if (!cJSON_IsObject(node) || cJSON_GetArraySize(node) != 1) {
		_cleanup_free_ char *got = cfg_show_value(node);
		cfg_error(r, path, "expected one action like {\"priority\": \"high\"}, got %s",
		          got);
		return false;
	}
	const cJSON *v = node->child;
	_cleanup_free_ char *p = cfg_key_path(path, v->string);
	size_t k;
	for (k = 0; action_keys[k] != NULL; k++)
		if (strcmp(action_keys[k], v->string) == 0)
			break;
	if (action_keys[k] == NULL && strcmp(v->string, "group") == 0) {
		/* What other helpdesks call a group is the queue here. */
		cfg_error(r, p, "no \"group\" action: a ticket's team is its queue (use \"queue\")");
		return false;
	}
	if (action_keys[k] == NULL) {
		struct strbuf names = STRBUF_INIT;
		for (size_t i = 0; action_keys[i] != NULL; i++)
			strbuf_printf(&names, "%s%s", i ? ", " : "", action_keys[i]);
		cfg_error(r, p, "unknown action (known: %s)", strbuf_str(&names));
		strbuf_free(&names);
		return false;
	}
	a->kind = (enum rule_action_kind)k;
	if (a->kind == RULE_ACT_SPAM || a->kind == RULE_ACT_STOP) {
		if (!cJSON_IsTrue(v)) {
			_cleanup_free_ char *got = cfg_show_value(v);
			cfg_error(r, p, "expected true, got %s", got);
			return false;
		}
		return true;
	}
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
	    strlen(v->valuestring) > RULES_MAX_VALUE || !printable(v->valuestring)) {
		_cleanup_free_ char *got = cfg_show_value(v);
		cfg_error(r, p, "expected a non-empty printable string of at most %d bytes, got %s",
		          RULES_MAX_VALUE, got);
		return false;
	}
	const char *s = v->valuestring;
	a->value = xstrdup(s);
	switch (a->kind) {
	case RULE_ACT_QUEUE:
		if (strcmp(s, RULE_CATEGORY_PLACEHOLDER) != 0 && config_queue(cfg, s) == NULL) {
			cfg_error(r, p,
			          "unknown queue \"%s\" (or \"" RULE_CATEGORY_PLACEHOLDER
			          "\" for the queue named after the category)",
			          s);
			return false;
		}
		return true;
	case RULE_ACT_PRIORITY: {
		enum ticket_priority prio;
		if (ticket_priority_parse(s, &prio) < 0) {
			cfg_error(r, p,
			          "unknown priority \"%s\" (known: low, normal, high, urgent)", s);
			return false;
		}
		a->level = (int)prio;
		return true;
	}
	case RULE_ACT_STATUS: {
		enum ticket_status status;
		if (ticket_status_parse(s, &status) < 0) {
			cfg_error(r, p,
			          "unknown status \"%s\" (known: new, open, pending, resolved, "
			          "closed)",
			          s);
			return false;
		}
		a->level = (int)status;
		return true;
	}
	case RULE_ACT_ASSIGNEE:
		return true;
	case RULE_ACT_TAG:
		/* Tags are stored comma-separated: keep them to plain names. */
		if (!cfg_is_identifier(s)) {
			cfg_error(r, p, "expected letters, digits, '-', '_' or '.', got \"%s\"", s);
			return false;
		}
		return true;
	case RULE_ACT_REPLY_TEMPLATE: {
		if (!template_name_ok(s)) {
			cfg_error(r, p,
			          "expected a template name (letters, digits, '-', '_', '.', "
			          "optionally \"" RULE_LANGUAGE_PLACEHOLDER "\"), got \"%s\"",
			          s);
			return false;
		}
		/* A template is checked where it will be read from; when the folder
		 * itself is absent (a config checked before the data is installed)
		 * the outbox reports it at send time instead. */
		const char *dir = cfg->kb.templates_dir;
		if (!is_dir(dir))
			return true;
		/* "{{language}}" falls back to English: that one must exist. */
		const char *at = strstr(s, RULE_LANGUAGE_PLACEHOLDER);
		_cleanup_free_ char *name = at == NULL
		                                ? xstrdup(s)
		                                : xasprintf("%.*sen%s", (int)(at - s), s,
		                                            at + strlen(RULE_LANGUAGE_PLACEHOLDER));
		if (!template_file_exists(dir, name)) {
			cfg_error(r, p, "no template %s/%s.txt", dir, name);
			return false;
		}
		return true;
	}
	case RULE_ACT_NOTIFY:
		if (strncmp(s, "mail:", 5) == 0) {
			if (!compose_valid_addr(s + 5)) {
				cfg_error(
				    r, p,
				    "expected \"mail:ADDRESS\" with a valid address, got \"%s\"",
				    s);
				return false;
			}
			return true;
		}
		if (strncmp(s, "webhook:", 8) == 0 && cfg_is_identifier(s + 8)) {
			/* Webhooks are defined (and delivered) by the sla section. */
			for (size_t i = 0; cfg->sla != NULL && i < cfg->sla->n_webhooks; i++)
				if (strcmp(cfg->sla->webhooks[i].name, s + 8) == 0)
					return true;
			cfg_error(r, p, "unknown webhook \"%s\" (see sla.webhooks)", s + 8);
			return false;
		}
		cfg_error(r, p, "expected \"mail:ADDRESS\" or \"webhook:NAME\", got \"%s\"", s);
		return false;
	case RULE_ACT_SPAM:
	case RULE_ACT_STOP:
		break;
	}
	return true;
}

static void read_rule(struct reader *r, const struct config *cfg, const cJSON *node,
                      const char *path, struct rule *rule, const struct rules_config *rc)
{
	static const char *const keys[] = {"name", "on", "if", "then", NULL};
	rule->on = RULE_ON_ANY;
	if (!cfg_check_object(r, node, path, keys))
		return;
	cfg_require_string(r, node, path, "name", &rule->name);
	if (rule->name != NULL) {
		_cleanup_free_ char *p = cfg_key_path(path, "name");
		if (!cfg_is_identifier(rule->name) || strlen(rule->name) > RULE_NAME_MAX)
			cfg_error(r, p,
			          "expected up to %d letters, digits, '-', '_' or '.', got \"%s\"",
			          RULE_NAME_MAX, rule->name);
		for (size_t i = 0; i < rc->n_rules; i++)
			if (&rc->rules[i] != rule && rc->rules[i].name != NULL &&
			    strcmp(rc->rules[i].name, rule->name) == 0) {
				cfg_error(r, p, "rule \"%s\" is defined twice", rule->name);
				break;
			}
	}
	const cJSON *on = cfg_get(node, "on");
	if (on != NULL) {
		_cleanup_free_ char *p = cfg_key_path(path, "on");
		read_triggers(r, on, p, &rule->on);
	}
	const cJSON *cond = cfg_get(node, "if");
	if (cond != NULL) {
		_cleanup_free_ char *p = cfg_key_path(path, "if");
		rule->cond = xcalloc(1, sizeof(*rule->cond));
		read_cond(r, cfg, cond, p, 0, rule->cond);
	}
	const cJSON *then = cfg_get(node, "then");
	_cleanup_free_ char *then_path = cfg_key_path(path, "then");
	int size = cJSON_IsArray(then) ? cJSON_GetArraySize(then) : 0;
	if (then == NULL) {
		cfg_error(r, then_path, "required key is missing");
		return;
	}
	if (size == 0 || size > RULES_MAX_ACTIONS) {
		cfg_error(r, then_path, "expected a list of 1..%d actions", RULES_MAX_ACTIONS);
		return;
	}
	rule->actions = xcalloc((size_t)size, sizeof(*rule->actions));
	const cJSON *item;
	cJSON_ArrayForEach(item, then)
	{
		_cleanup_free_ char *p = xasprintf("%s[%zu]", then_path, rule->n_actions);
		struct rule_action *a = &rule->actions[rule->n_actions++];
		if (read_action(r, cfg, item, p, a) && a->kind == RULE_ACT_STOP &&
		    item->next != NULL)
			cfg_error(r, p,
			          "\"stop\" must be the last action (the ones after it would "
			          "never run)");
	}
}

void config_read_rules(struct reader *r, const cJSON *node, struct config *cfg)
{
	struct rules_config *rc = xcalloc(1, sizeof(*rc));
	rc->cfg = cfg;
	cfg->rules = rc;
	if (node == NULL)
		return;
	int size = cJSON_IsArray(node) ? cJSON_GetArraySize(node) : -1;
	if (size < 0 || size > RULES_MAX_RULES) {
		cfg_error(r, "rules", "expected a list of at most %d rules", RULES_MAX_RULES);
		return;
	}
	rc->rules = xcalloc((size_t)size + 1, sizeof(*rc->rules));
	const cJSON *item;
	cJSON_ArrayForEach(item, node)
	{
		_cleanup_free_ char *p = xasprintf("rules[%zu]", rc->n_rules);
		struct rule *rule = &rc->rules[rc->n_rules++];
		read_rule(r, cfg, item, p, rule, rc);
	}
}
