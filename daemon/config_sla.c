/* The "sla" section of the configuration: policies (match, calendar,
 * targets, warning share, escalations) and the webhooks they may call.
 * Read after queues and calendars, which it refers to. */
#include <string.h>

#include "calendar.h"
#include "config-private.h"
#include "sla.h"
#include "xalloc.h"

static const char *const action_names[] = {"notify", "raise_priority", "reassign", NULL};

static void read_string_list(struct reader *r, const cJSON *obj, const char *path,
			     const char *key, char ***items_r, size_t *n_r, bool *present_r)
{
	const cJSON *node = cfg_get(obj, key);
	*present_r = node != NULL;
	if (node == NULL)
		return;
	_cleanup_free_ char *p = cfg_key_path(path, key);
	if (!cJSON_IsArray(node) || cJSON_GetArraySize(node) == 0) {
		cfg_error(r, p, "expected a non-empty array of strings");
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(node), i = 0;
	char **items = xcalloc(n, sizeof(*items));
	const cJSON *item;
	cJSON_ArrayForEach(item, node) {
		if (!cJSON_IsString(item)) {
			_cleanup_free_ char *ip = xasprintf("%s[%zu]", p, i);
			_cleanup_free_ char *shown = cfg_show_value(item);
			cfg_error(r, ip, "expected a string, got %s", shown);
		} else {
			items[(*n_r)++] = xstrdup(item->valuestring);
		}
		i++;
	}
	*items_r = items;
}

static void read_match(struct reader *r, const cJSON *node, const char *path,
		       const struct config *cfg, struct sla_policy *p)
{
	static const char *const keys[] = {"queues", "priorities", NULL};
	if (node == NULL || !cfg_check_object(r, node, path, keys))
		return;
	bool present;
	read_string_list(r, node, path, "queues", &p->queues, &p->n_queues, &present);
	for (size_t i = 0; i < p->n_queues; i++)
		if (config_queue(cfg, p->queues[i]) == NULL) {
			_cleanup_free_ char *qp = xasprintf("%s.queues[%zu]", path, i);
			cfg_error(r, qp, "unknown queue \"%s\"", p->queues[i]);
		}
	char **prios = NULL;
	size_t n_prios = 0;
	read_string_list(r, node, path, "priorities", &prios, &n_prios, &present);
	for (size_t i = 0; i < n_prios; i++) {
		enum ticket_priority prio;
		if (ticket_priority_parse(prios[i], &prio) < 0) {
			_cleanup_free_ char *pp = xasprintf("%s.priorities[%zu]", path, i);
			cfg_error(r, pp, "expected low, normal, high or urgent, got \"%s\"", prios[i]);
		} else {
			p->priorities |= 1u << prio;
		}
		free(prios[i]);
	}
	free(prios);
}

static void read_escalation(struct reader *r, const cJSON *node, const char *path,
			    const struct sla_config *sc, const cJSON *webhooks,
			    struct sla_escalation *e)
{
	static const char *const keys[] = {"after", "action", "to", NULL};
	if (!cfg_check_object(r, node, path, keys))
		return;
	cfg_read_uint(r, node, path, "after", 0, SLA_MAX_TARGET_MINUTES, 0, &e->after);
	if (cfg_get(node, "action") == NULL)
		cfg_error(r, path, "\"action\" is required");
	int action;
	cfg_read_enum(r, node, path, "action", action_names, SLA_NOTIFY, &action);
	e->action = (enum sla_action)action;
	cfg_read_string(r, node, path, "to", NULL, &e->to);
	_cleanup_free_ char *to_path = cfg_key_path(path, "to");
	(void)sc;
	switch (e->action) {
	case SLA_NOTIFY:
		if (e->to == NULL) {
			cfg_error(r, path, "notify needs \"to\": \"mail:ADDRESS\" or \"webhook:NAME\"");
		} else if (strncmp(e->to, "mail:", 5) == 0) {
			const char *at = strchr(e->to + 5, '@');
			if (at == NULL || at == e->to + 5 || at[1] == '\0' || strchr(e->to, ' ') != NULL)
				cfg_error(r, to_path, "not a mail address: \"%s\"", e->to + 5);
		} else if (strncmp(e->to, "webhook:", 8) == 0) {
			if (cfg_get(webhooks, e->to + 8) == NULL)
				cfg_error(r, to_path, "unknown webhook \"%s\" (see sla.webhooks)",
					  e->to + 8);
		} else {
			cfg_error(r, to_path, "expected \"mail:ADDRESS\" or \"webhook:NAME\", got \"%s\"",
				  e->to);
		}
		break;
	case SLA_REASSIGN:
		if (e->to == NULL || e->to[0] == '\0')
			cfg_error(r, path, "reassign needs \"to\" (the new assignee)");
		break;
	case SLA_RAISE_PRIORITY:
		if (e->to != NULL)
			cfg_error(r, to_path, "raise_priority takes no \"to\"");
		break;
	}
}

static void read_policy(struct reader *r, const cJSON *node, const char *path,
			const struct config *cfg, struct sla_config *sc, const cJSON *webhooks,
			struct sla_policy *p)
{
	static const char *const keys[] = {"name", "match", "calendar", "first_response",
		"next_response", "resolution", "warn_at", "escalations", NULL};
	if (!cfg_check_object(r, node, path, keys))
		return;
	cfg_require_string(r, node, path, "name", &p->name);
	if (p->name != NULL && !cfg_is_identifier(p->name)) {
		_cleanup_free_ char *np = cfg_key_path(path, "name");
		cfg_error(r, np, "expected letters, digits, '-', '_' or '.', got \"%s\"", p->name);
	}
	for (size_t i = 0; p->name != NULL && i < sc->n_policies; i++)
		if (sc->policies[i].name != NULL && strcmp(sc->policies[i].name, p->name) == 0) {
			_cleanup_free_ char *np = cfg_key_path(path, "name");
			cfg_error(r, np, "policy \"%s\" is defined twice", p->name);
		}
	_cleanup_free_ char *match_path = cfg_key_path(path, "match");
	read_match(r, cfg_get(node, "match"), match_path, cfg, p);
	cfg_read_string(r, node, path, "calendar", NULL, &p->calendar);
	if (p->calendar != NULL && config_calendar(cfg, p->calendar) == NULL) {
		_cleanup_free_ char *cp = cfg_key_path(path, "calendar");
		cfg_error(r, cp, "unknown calendar \"%s\"", p->calendar);
	}
	bool any = false;
	for (int t = 0; t < SLA_N_TARGETS; t++) {
		const char *key = sla_target_name((enum sla_target)t);
		cfg_read_uint(r, node, path, key, 1, SLA_MAX_TARGET_MINUTES, 0, &p->targets[t]);
		any |= cfg_get(node, key) != NULL;
	}
	if (!any)
		cfg_error(r, path, "a policy needs first_response, next_response or resolution");
	cfg_read_double(r, node, path, "warn_at", 0, 1, 0, &p->warn_at);
	const cJSON *esc = cfg_get(node, "escalations");
	if (esc == NULL)
		return;
	_cleanup_free_ char *esc_path = cfg_key_path(path, "escalations");
	if (!cJSON_IsArray(esc)) {
		cfg_error(r, esc_path, "expected an array of escalations");
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(esc);
	if (n > SLA_MAX_ESCALATIONS) {
		cfg_error(r, esc_path, "at most %d escalations, got %zu", SLA_MAX_ESCALATIONS, n);
		return;
	}
	p->escalations = xcalloc(n ? n : 1, sizeof(*p->escalations));
	const cJSON *item;
	cJSON_ArrayForEach(item, esc) {
		_cleanup_free_ char *ep = xasprintf("%s[%zu]", esc_path, p->n_escalations);
		struct sla_escalation *e = &p->escalations[p->n_escalations++];
		read_escalation(r, item, ep, sc, webhooks, e);
		if (p->n_escalations > 1 && e->after < e[-1].after) {
			_cleanup_free_ char *ap = cfg_key_path(ep, "after");
			cfg_error(r, ap, "escalations go in order of \"after\" (%u comes after %u)",
				  e->after, e[-1].after);
		}
	}
}

static bool loopback_url(const char *url)
{
	static const char *const prefixes[] = {"http://127.0.0.1:", "http://127.0.0.1/",
		"http://localhost:", "http://localhost/", "http://[::1]:", "http://[::1]/"};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (strncmp(url, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static void read_webhooks(struct reader *r, const cJSON *node, struct sla_config *sc)
{
	if (node == NULL)
		return;
	if (!cJSON_IsObject(node)) {
		cfg_error(r, "sla.webhooks", "expected an object of named webhooks");
		return;
	}
	static const char *const keys[] = {"url", "timeout_seconds", "tls_verify", "tls_ca_file",
		"max_attempts", "retry_seconds", NULL};
	size_t n = (size_t)cJSON_GetArraySize(node);
	sc->webhooks = xcalloc(n ? n : 1, sizeof(*sc->webhooks));
	for (const cJSON *item = node->child; item != NULL; item = item->next) {
		_cleanup_free_ char *path = cfg_key_path("sla.webhooks", item->string);
		struct sla_webhook *w = &sc->webhooks[sc->n_webhooks++];
		w->name = xstrdup(item->string);
		if (!cfg_is_identifier(w->name))
			cfg_error(r, path, "a webhook name takes letters, digits, '-', '_' or '.'");
		if (!cfg_check_object(r, item, path, keys))
			continue;
		cfg_require_string(r, item, path, "url", &w->url);
		/* Plain HTTP only to this machine: a notification carries ticket data. */
		if (w->url != NULL && strncmp(w->url, "https://", 8) != 0 && !loopback_url(w->url)) {
			_cleanup_free_ char *up = cfg_key_path(path, "url");
			cfg_error(r, up, "expected an https:// URL (http:// only to the loopback)");
		}
		cfg_read_uint(r, item, path, "timeout_seconds", 1, 300, 10, &w->timeout_seconds);
		cfg_read_bool(r, item, path, "tls_verify", true, &w->tls_verify);
		cfg_read_path(r, item, path, "tls_ca_file", NULL, &w->tls_ca_file);
		cfg_read_uint(r, item, path, "max_attempts", 1, 100, 5, &w->max_attempts);
		cfg_read_uint(r, item, path, "retry_seconds", 1, 86400, 60, &w->retry_seconds);
	}
}

static struct calendar *always_open(void)
{
	const char *error;
	struct calendar *cal = cal_new("24x7", "UTC", &error);
	for (int day = 0; cal != NULL && day < 7; day++)
		if (cal_add_hours(cal, day, (struct cal_interval){0, 24 * 60}, &error) < 0)
			cal_free(&cal);
	return cal;
}

void config_read_sla(struct reader *r, const cJSON *node, struct config *cfg)
{
	static const char *const keys[] = {"policies", "webhooks", "dedupe_minutes", NULL};
	if (node == NULL || !cfg_check_object(r, node, "sla", keys))
		return;
	struct sla_config *sc = xcalloc(1, sizeof(*sc));
	cfg->sla = sc;
	sc->always = always_open();
	if (sc->always == NULL)
		cfg_error(r, "sla", "cannot build the 24x7 calendar (no UTC zone data?)");
	cfg_read_uint(r, node, "sla", "dedupe_minutes", 0, 7 * 24 * 60, 30, &sc->dedupe_minutes);
	const cJSON *webhooks = cfg_get(node, "webhooks");
	read_webhooks(r, webhooks, sc);
	const cJSON *policies = cfg_get(node, "policies");
	if (policies == NULL)
		return;
	if (!cJSON_IsArray(policies)) {
		cfg_error(r, "sla.policies", "expected an array of policies");
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(policies);
	if (n > SLA_MAX_POLICIES) {
		cfg_error(r, "sla.policies", "at most %d policies, got %zu", SLA_MAX_POLICIES, n);
		return;
	}
	sc->policies = xcalloc(n ? n : 1, sizeof(*sc->policies));
	const cJSON *item;
	cJSON_ArrayForEach(item, policies) {
		_cleanup_free_ char *path = xasprintf("sla.policies[%zu]", sc->n_policies);
		struct sla_policy *p = &sc->policies[sc->n_policies];
		read_policy(r, item, path, cfg, sc, cJSON_IsObject(webhooks) ? webhooks : NULL, p);
		sc->n_policies++;
	}
}
