/* Workflow rules: every condition true and false, all/any/not nesting, every
 * action, order and stop, {{category}} routing, no template reply to
 * loop-flagged mail, config errors with their paths and lines, the shipped
 * rules, and rules_apply on a real SQLite store writing events naming the rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "parse.h"
#include "rules.h"
#include "store_outbox.h"
#include "store.h"
#include "store_sla.h"
#include "strbuf.h"
#include "triage.h"
#include "xalloc.h"

static char dir[64];

/* 2026-03-30 is a Monday: 10:00 in Paris. 2026-03-29 is a Sunday. */
#define MONDAY_10H_PARIS 1774857600
#define SUNDAY_NOON_PARIS 1774778400

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_rules.XXXXXX");
	assert_non_null(mkdtemp(dir));
	char *templates = xasprintf("%s/templates", dir);
	assert_int_equal(mkdir(templates, 0700), 0);
	static const char *const names[] = {"ack-en", "ack-fr", "notice-en", "custom"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *p = xasprintf("%s/%s.txt", templates, names[i]);
		write_file(p, "Hello, ticket {{ticket.id}} ({{ticket.subject}}) is received.\n");
		free(p);
	}
	free(templates);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

/* The rules value starts on line 14. */
static const char base_config[] =
    "{\n"
    "  \"database\": \"%s/t.db\",\n"
    "  \"data_dir\": \"%s\",\n"
    "  \"queues\": [\"support\", \"triage\", \"billing\", \"delivery\", \"spam\", \"vip\"],\n"
    "  \"mailboxes\": [ { \"name\": \"support\", \"host\": \"127.0.0.1\", \"tls\": \"none\",\n"
    "                    \"user\": \"u\", \"password_file\": \"p\" },\n"
    "                  { \"name\": \"sales-box\", \"host\": \"127.0.0.1\", \"tls\": \"none\",\n"
    "                    \"user\": \"u\", \"password_file\": \"p\" } ],\n"
    "  \"smtp\": { \"url\": \"smtp://127.0.0.1:2525\", \"from\": \"Support "
    "<support@example.test>\" },\n"
    "  \"calendars\": { \"paris\": { \"timezone\": \"Europe/Paris\",\n"
    "      \"hours\": { \"mon\": [\"09:00-18:00\"], \"tue\": [\"09:00-18:00\"], \"wed\": "
    "[\"09:00-18:00\"],\n"
    "                 \"thu\": [\"09:00-18:00\"], \"fri\": [\"09:00-18:00\"] } } },\n"
    "  \"sla\": { \"webhooks\": { \"chat\": { \"url\": \"http://127.0.0.1:9/hook\" } } },\n"
    "  \"rules\": %s\n"
    "}\n";

/* Loads a config with these rules; returns all errors joined by newlines, or
 * NULL (and *cfg_r) when it loaded. */
static char *load_rules(const char *rules, struct config **cfg_r)
{
	char *text = xasprintf(base_config, dir, dir, rules);
	char *path = xasprintf("%s/triaged.json", dir);
	write_file(path, text);
	free(text);
	struct cfg_errors errors;
	struct config *cfg = NULL;
	int rc = config_load(path, &cfg, &errors);
	free(path);
	if (rc == 0) {
		assert_non_null(cfg->rules);
		if (cfg_r != NULL)
			*cfg_r = cfg;
		else
			config_free(&cfg);
		return NULL;
	}
	struct strbuf all = STRBUF_INIT;
	for (size_t i = 0; i < errors.count; i++)
		strbuf_printf(&all, "%s\n", errors.items[i]);
	cfg_errors_free(&errors);
	return strbuf_steal(&all);
}

static struct config *must_load(const char *rules)
{
	struct config *cfg = NULL;
	char *errors = load_rules(rules, &cfg);
	if (errors != NULL)
		print_error("%s", errors);
	assert_null(errors);
	return cfg;
}

/* ---- inputs --------------------------------------------------------------- */

struct fixture_input {
	struct rule_input in;
	struct triage_result tr;
	char category[32];
	char *owned;
};

static void base_input(struct fixture_input *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->tr.language, "fr");
	strcpy(f->category, "billing");
	f->tr.category = f->category;
	f->tr.category_confidence = 0.8;
	f->tr.spam = false;
	f->tr.spam_probability = 0.1;
	f->tr.sentiment = -0.2;
	strcpy(f->tr.sentiment_label, "neutral");
	f->in = (struct rule_input){
	    .trigger = RULE_ON_NEW_TICKET,
	    .ticket_id = 1,
	    .message_id = 1,
	    .mailbox = "support",
	    .queue = "support",
	    .priority = PRIORITY_NORMAL,
	    .status = TICKET_NEW,
	    .triage = &f->tr,
	    .sender = "Jean.Dupont@Client.Example.com",
	    .subject = "Question URGENTE sur ma facture",
	    .text = "Bonjour, sans réponse j'envoie une mise en demeure. Merci",
	    .now = MONDAY_10H_PARIS,
	};
}

static double number(const char *s)
{
	double v;
	assert_int_equal(parse_double(s, &v), 0);
	return v;
}

/* Applies "key=value;key=value" changes to the base input. String values
 * point into f->owned (a copy of tweaks cut at each '=' and ';'). */
static void tweak_input(struct fixture_input *f, const char *tweaks)
{
	if (tweaks == NULL)
		return;
	f->owned = xstrdup(tweaks);
	for (char *kv = f->owned; kv != NULL;) {
		char *next = strchr(kv, ';');
		if (next != NULL)
			*next++ = '\0';
		char *eq = strchr(kv, '=');
		assert_non_null(eq);
		*eq = '\0';
		const char *k = kv, *v = eq + 1;
		kv = next;
		if (strcmp(k, "mailbox") == 0)
			f->in.mailbox = v;
		else if (strcmp(k, "queue") == 0)
			f->in.queue = v;
		else if (strcmp(k, "category") == 0)
			snprintf(f->category, sizeof(f->category), "%s", v);
		else if (strcmp(k, "no_category") == 0)
			f->tr.category = NULL;
		else if (strcmp(k, "no_triage") == 0)
			f->in.triage = NULL;
		else if (strcmp(k, "confidence") == 0)
			f->tr.category_confidence = number(v);
		else if (strcmp(k, "sentiment") == 0)
			f->tr.sentiment = number(v);
		else if (strcmp(k, "spam_probability") == 0)
			f->tr.spam_probability = number(v);
		else if (strcmp(k, "spam") == 0)
			f->tr.spam = strcmp(v, "1") == 0;
		else if (strcmp(k, "language") == 0)
			snprintf(f->tr.language, sizeof(f->tr.language), "%s", v);
		else if (strcmp(k, "priority") == 0)
			assert_int_equal(ticket_priority_parse(v, &f->in.priority), 0);
		else if (strcmp(k, "loop") == 0)
			f->in.loop_flags = (unsigned)number(v);
		else if (strcmp(k, "trigger") == 0)
			f->in.trigger = strcmp(v, "customer_message") == 0
			                    ? RULE_ON_CUSTOMER_MESSAGE
			                    : RULE_ON_NEW_TICKET;
		else if (strcmp(k, "now") == 0)
			f->in.now = (int64_t)number(v);
		else if (strcmp(k, "sender") == 0)
			f->in.sender = v;
		else if (strcmp(k, "subject") == 0)
			f->in.subject = v;
		else if (strcmp(k, "text") == 0)
			f->in.text = v;
		else
			fail_msg("unknown tweak %s", k);
	}
}

/* The decisions as "rule:action=value" joined by ";", "!" after a skipped one. */
static char *render(const struct rule_decisions *d)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < d->count; i++) {
		const struct rule_decision *x = &d->items[i];
		strbuf_printf(&sb, "%s%s:%s", i ? ";" : "", x->rule, rule_action_name(x->kind));
		if (x->kind == RULE_ACT_PRIORITY)
			strbuf_printf(&sb, "=%s",
			              ticket_priority_name((enum ticket_priority)x->level));
		else if (x->kind == RULE_ACT_STATUS)
			strbuf_printf(&sb, "=%s", ticket_status_name((enum ticket_status)x->level));
		else if (x->value != NULL)
			strbuf_printf(&sb, "=%s", x->value);
		if (x->skipped != NULL)
			strbuf_putc(&sb, '!');
	}
	return strbuf_steal(&sb);
}

static char *evaluate(const struct config *cfg, const char *tweaks, struct rule_decisions *d_r)
{
	struct fixture_input f;
	base_input(&f);
	tweak_input(&f, tweaks);
	struct rule_decisions d;
	const char *error = NULL;
	assert_int_equal(rules_evaluate(cfg->rules, &f.in, &d, &error), 0);
	free(f.owned);
	char *out = render(&d);
	if (d_r != NULL)
		*d_r = d;
	else
		rules_decisions_clear(&d);
	return out;
}

/* ---- conditions ------------------------------------------------------------ */

struct cond_case {
	const char *cond;   /* the "if" value */
	const char *tweaks; /* changes to the base input */
	bool fires;
};

static const struct cond_case cond_cases[] = {
    {"{\"mailbox\": \"support\"}", NULL, true},
    {"{\"mailbox\": \"support\"}", "mailbox=sales-box", false},
    {"{\"mailbox\": [\"sales-box\", \"support\"]}", NULL, true},
    {"{\"queue\": \"support\"}", NULL, true},
    {"{\"queue\": \"billing\"}", NULL, false},
    {"{\"category\": \"billing\"}", NULL, true},
    {"{\"category\": [\"delivery\", \"billing\"]}", NULL, true},
    {"{\"category\": \"delivery\"}", NULL, false},
    {"{\"category\": \"billing\"}", "no_category=1", false},
    {"{\"category\": \"billing\"}", "no_triage=1", false},
    {"{\"category_confidence_at_least\": 0.8}", NULL, true},
    {"{\"category_confidence_at_least\": 0.81}", NULL, false},
    {"{\"category_confidence_below\": 0.55}", NULL, false},
    {"{\"category_confidence_below\": 0.55}", "confidence=0.5", true},
    /* No category at all (an untrained model) is no confidence. */
    {"{\"category_confidence_below\": 0.55}", "no_category=1", true},
    {"{\"spam\": true}", NULL, false},
    {"{\"spam\": true}", "spam=1", true},
    {"{\"spam\": false}", NULL, true},
    {"{\"spam_probability_at_least\": 0.9}", "spam_probability=0.95", true},
    {"{\"spam_probability_at_least\": 0.9}", NULL, false},
    {"{\"sentiment_below\": -0.5}", "sentiment=-0.72", true},
    {"{\"sentiment_below\": -0.5}", "sentiment=-0.5", false},
    {"{\"sentiment_below\": -0.5}", NULL, false},
    {"{\"sentiment_at_least\": 0.3}", "sentiment=0.3", true},
    {"{\"sentiment_at_least\": 0.3}", NULL, false},
    {"{\"priority\": \"normal\"}", NULL, true},
    {"{\"priority\": [\"high\", \"urgent\"]}", NULL, false},
    {"{\"priority\": [\"high\", \"urgent\"]}", "priority=urgent", true},
    {"{\"language\": \"fr\"}", NULL, true},
    {"{\"language\": \"en\"}", NULL, false},
    /* Addresses compare without case. */
    {"{\"sender\": \"jean.dupont@client.example.com\"}", NULL, true},
    {"{\"sender\": \"JEAN.DUPONT@client.example.com\"}", NULL, true},
    {"{\"sender\": \"marie@client.example.com\"}", NULL, false},
    /* Domains match themselves and their subdomains, not a suffix of a label. */
    {"{\"sender_domain\": \"client.example.com\"}", NULL, true},
    {"{\"sender_domain\": \"example.com\"}", NULL, true},
    {"{\"sender_domain\": \"ample.com\"}", NULL, false},
    {"{\"sender_domain\": [\"other.example\", \"CLIENT.example.com\"]}", NULL, true},
    {"{\"sender_domain\": \"client.example.com\"}", "sender=no-domain", false},
    /* Keywords: case and accents do not matter, a match starts a word. */
    {"{\"subject_contains\": \"urgent\"}", NULL, true},
    {"{\"subject_contains\": \"Urgente\"}", NULL, true},
    {"{\"subject_contains\": \"gent\"}", NULL, false},
    {"{\"subject_contains\": [\"immédiatement\"]}", "subject=A traiter IMMEDIATEMENT svp", true},
    {"{\"subject_contains\": [\"immediatement\"]}", "subject=À TRAITER IMMÉDIATEMENT", true},
    {"{\"subject_contains\": \"urgent\"}", "subject=Bonjour", false},
    {"{\"body_contains\": [\"avocat\", \"mise en demeure\"]}", NULL, true},
    {"{\"body_contains\": \"MISE EN DEMEURE\"}", NULL, true},
    {"{\"body_contains\": \"avocat\"}", NULL, false},
    {"{\"body_contains\": \"facture\"}", NULL, false}, /* in the subject, not the body */
    {"{\"loop\": true}", "loop=4", true},
    {"{\"loop\": true}", NULL, false},
    {"{\"loop\": false}", NULL, true},
    /* Against the queue's calendar (here the default one, Paris). */
    {"{\"business_hours\": true}", NULL, true},
    {"{\"business_hours\": true}", "now=1774778400", false},
    {"{\"business_hours\": false}", "now=1774778400", true},
    {"{\"on\": \"new_ticket\"}", NULL, true},
    {"{\"on\": [\"customer_message\"]}", NULL, false},
    {"{\"on\": [\"customer_message\"]}", "trigger=customer_message", true},
    /* Combinations. */
    {"{\"all\": [{\"spam\": false}, {\"language\": \"fr\"}]}", NULL, true},
    {"{\"all\": [{\"spam\": false}, {\"language\": \"en\"}]}", NULL, false},
    {"{\"any\": [{\"language\": \"en\"}, {\"category\": \"billing\"}]}", NULL, true},
    {"{\"any\": [{\"language\": \"en\"}, {\"category\": \"delivery\"}]}", NULL, false},
    {"{\"not\": {\"spam\": true}}", NULL, true},
    {"{\"not\": {\"spam\": true}}", "spam=1", false},
    {"{\"not\": {\"not\": {\"language\": \"fr\"}}}", NULL, true},
    {"{\"all\": [{\"spam\": false}, {\"any\": [{\"language\": \"en\"},"
     " {\"not\": {\"category\": \"delivery\"}}]}]}",
     NULL, true},
    {"{\"all\": [{\"spam\": false}, {\"any\": [{\"language\": \"en\"},"
     " {\"not\": {\"category\": \"billing\"}}]}]}",
     NULL, false},
    /* Several keys in one object: all of them. */
    {"{\"language\": \"fr\", \"category\": \"billing\"}", NULL, true},
    {"{\"language\": \"fr\", \"category\": \"delivery\"}", NULL, false},
};

static void test_conditions(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cond_cases); i++) {
		const struct cond_case *c = &cond_cases[i];
		char *rules = xasprintf(
		    "[ { \"name\": \"r\", \"if\": %s, \"then\": [ { \"tag\": \"hit\" } ] } ]",
		    c->cond);
		struct config *cfg = must_load(rules);
		char *got = evaluate(cfg, c->tweaks, NULL);
		const char *want = c->fires ? "r:tag=hit" : "";
		if (strcmp(got, want) != 0)
			fail_msg("case %zu: if %s with %s: got \"%s\", want \"%s\"", i, c->cond,
			         c->tweaks ? c->tweaks : "(base)", got, want);
		free(got);
		config_free(&cfg);
		free(rules);
	}
}

/* The reason names the condition that matched, with the values it looked at. */
static void test_reason_and_values(void **state)
{
	(void)state;
	struct config *cfg = must_load(
	    "[ { \"name\": \"very-negative\", \"if\": { \"sentiment_below\": -0.5 },"
	    "    \"then\": [ { \"priority\": \"high\" } ] },"
	    "  { \"name\": \"words\", \"if\": { \"any\": [ { \"subject_contains\": \"rembourse\" },"
	    "      { \"body_contains\": [\"avocat\", \"mise en demeure\"] } ] },"
	    "    \"then\": [ { \"tag\": \"legal\" } ] },"
	    "  { \"name\": \"not-spam\", \"if\": { \"all\": [ { \"not\": { \"spam\": true } },"
	    "      { \"category_confidence_at_least\": 0.5 } ] },"
	    "    \"then\": [ { \"tag\": \"ok\" } ] } ]");
	struct rule_decisions d;
	char *got = evaluate(cfg, "sentiment=-0.72", &d);
	assert_string_equal(got, "very-negative:priority=high;words:tag=legal;not-spam:tag=ok");
	free(got);
	assert_string_equal(d.items[0].matched, "sentiment_below -0.5");
	cJSON *v = cJSON_Parse(d.items[0].values_json);
	assert_non_null(v);
	assert_true(cJSON_GetObjectItem(v, "sentiment")->valuedouble == -0.72);
	cJSON_Delete(v);
	/* any: the branch that matched, and only its values. */
	assert_string_equal(d.items[1].matched, "body_contains \"mise en demeure\"");
	v = cJSON_Parse(d.items[1].values_json);
	assert_string_equal(cJSON_GetObjectItem(v, "body_keyword")->valuestring, "mise en demeure");
	assert_null(cJSON_GetObjectItem(v, "subject_keyword"));
	cJSON_Delete(v);
	assert_string_equal(d.items[2].matched,
	                    "not spam true and category_confidence_at_least 0.5");
	v = cJSON_Parse(d.items[2].values_json);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(v, "spam")));
	assert_true(cJSON_GetObjectItem(v, "category_confidence")->valuedouble == 0.8);
	cJSON_Delete(v);
	rules_decisions_clear(&d);
	assert_int_equal(d.count, 0);
	config_free(&cfg);
}

/* ---- actions ---------------------------------------------------------------- */

struct action_case {
	const char *rules;
	const char *tweaks;
	const char *want;
};

static const struct action_case action_cases[] = {
    /* Each action. */
    {"[{\"name\": \"a\", \"then\": [{\"queue\": \"vip\"}]}]", NULL, "a:queue=vip"},
    {"[{\"name\": \"a\", \"then\": [{\"priority\": \"urgent\"}]}]", NULL, "a:priority=urgent"},
    {"[{\"name\": \"a\", \"then\": [{\"assignee\": \"alice@example.com\"}]}]", NULL,
     "a:assignee=alice@example.com"},
    {"[{\"name\": \"a\", \"then\": [{\"tag\": \"x\"}, {\"tag\": \"y\"}]}]", NULL,
     "a:tag=x;a:tag=y"},
    {"[{\"name\": \"a\", \"then\": [{\"status\": \"pending\"}]}]", NULL, "a:status=pending"},
    {"[{\"name\": \"a\", \"then\": [{\"reply_template\": \"custom\"}]}]", NULL,
     "a:reply_template=custom"},
    {"[{\"name\": \"a\", \"then\": [{\"reply_template\": \"ack-{{language}}\"}]}]", NULL,
     "a:reply_template=ack-fr"},
    {"[{\"name\": \"a\", \"then\": [{\"reply_template\": \"ack-{{language}}\"}]}]", "language=en",
     "a:reply_template=ack-en"},
    {"[{\"name\": \"a\", \"then\": [{\"notify\": \"mail:lead@example.com\"}]}]", NULL,
     "a:notify=mail:lead@example.com"},
    {"[{\"name\": \"a\", \"then\": [{\"notify\": \"webhook:chat\"}]}]", NULL,
     "a:notify=webhook:chat"},
    {"[{\"name\": \"a\", \"then\": [{\"spam\": true}]}]", NULL, "a:spam"},
    {"[{\"name\": \"a\", \"then\": [{\"stop\": true}]}]", NULL, "a:stop"},
    /* Order: rules in order, actions in order. */
    {"[{\"name\": \"a\", \"then\": [{\"tag\": \"1\"}, {\"priority\": \"high\"}]},"
     " {\"name\": \"b\", \"then\": [{\"tag\": \"2\"}]}]",
     NULL, "a:tag=1;a:priority=high;b:tag=2"},
    /* stop ends the list. */
    {"[{\"name\": \"a\", \"then\": [{\"tag\": \"1\"}, {\"stop\": true}]},"
     " {\"name\": \"b\", \"then\": [{\"tag\": \"2\"}]}]",
     NULL, "a:tag=1;a:stop"},
    /* A rule that does not fire does not stop anything. */
    {"[{\"name\": \"a\", \"if\": {\"spam\": true}, \"then\": [{\"stop\": true}]},"
     " {\"name\": \"b\", \"then\": [{\"tag\": \"2\"}]}]",
     NULL, "b:tag=2"},
    /* Later rules see earlier ones' effect. */
    {"[{\"name\": \"a\", \"then\": [{\"priority\": \"high\"}, {\"queue\": \"vip\"}]},"
     " {\"name\": \"b\", \"if\": {\"priority\": \"high\", \"queue\": \"vip\"}, \"then\": "
     "[{\"tag\": \"seen\"}]}]",
     NULL, "a:priority=high;a:queue=vip;b:tag=seen"},
    {"[{\"name\": \"a\", \"then\": [{\"spam\": true}]},"
     " {\"name\": \"b\", \"if\": {\"spam\": true}, \"then\": [{\"tag\": \"seen\"}]}]",
     NULL, "a:spam;b:tag=seen"},
    /* "on" restricts a rule to some events. */
    {"[{\"name\": \"a\", \"on\": [\"customer_message\"], \"then\": [{\"tag\": \"1\"}]},"
     " {\"name\": \"b\", \"on\": \"new_ticket\", \"then\": [{\"tag\": \"2\"}]}]",
     NULL, "b:tag=2"},
    {"[{\"name\": \"a\", \"on\": [\"customer_message\"], \"then\": [{\"tag\": \"1\"}]},"
     " {\"name\": \"b\", \"on\": \"new_ticket\", \"then\": [{\"tag\": \"2\"}]}]",
     "trigger=customer_message", "a:tag=1"},
    /* {{category}} routing: to the queue named like the category, if any. */
    {"[{\"name\": \"route\", \"then\": [{\"queue\": \"{{category}}\"}]}]", NULL,
     "route:queue=billing"},
    {"[{\"name\": \"route\", \"then\": [{\"queue\": \"{{category}}\"}]}]", "category=delivery",
     "route:queue=delivery"},
    {"[{\"name\": \"route\", \"then\": [{\"queue\": \"{{category}}\"}]}]", "category=account",
     "route:queue=account!"},
    {"[{\"name\": \"route\", \"then\": [{\"queue\": \"{{category}}\"}]}]", "no_category=1",
     "route:queue!"},
    /* A skipped routing leaves the queue as it was for later rules. */
    {"[{\"name\": \"route\", \"then\": [{\"queue\": \"{{category}}\"}]},"
     " {\"name\": \"b\", \"if\": {\"queue\": \"support\"}, \"then\": [{\"tag\": \"unrouted\"}]}]",
     "category=account", "route:queue=account!;b:tag=unrouted"},
    /* Never an automatic reply to automatic mail, nor to spam. */
    {"[{\"name\": \"ack\", \"then\": [{\"reply_template\": \"ack-{{language}}\"}, {\"tag\": "
     "\"t\"}]}]",
     "loop=1", "ack:reply_template=ack-fr!;ack:tag=t"},
    {"[{\"name\": \"ack\", \"then\": [{\"reply_template\": \"custom\"}]}]", "loop=2",
     "ack:reply_template=custom!"},
    {"[{\"name\": \"ack\", \"then\": [{\"reply_template\": \"custom\"}]}]", "spam=1",
     "ack:reply_template=custom!"},
    /* No rules at all: nothing. */
    {"[]", NULL, ""},
};

static void test_actions(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(action_cases); i++) {
		const struct action_case *c = &action_cases[i];
		struct config *cfg = must_load(c->rules);
		struct rule_decisions d;
		char *got = evaluate(cfg, c->tweaks, &d);
		if (strcmp(got, c->want) != 0)
			fail_msg("case %zu: %s with %s: got \"%s\", want \"%s\"", i, c->rules,
			         c->tweaks ? c->tweaks : "(base)", got, c->want);
		/* A rule without "if" says so. */
		for (size_t j = 0; j < d.count; j++)
			if (strcmp(d.items[j].rule, "a") == 0 && strstr(c->rules, "\"if\"") == NULL)
				assert_string_equal(d.items[j].matched, "always");
		assert_int_equal(d.stopped, strstr(got, ":stop") != NULL);
		free(got);
		rules_decisions_clear(&d);
		config_free(&cfg);
	}
}

static void test_skip_reasons(void **state)
{
	(void)state;
	struct config *cfg =
	    must_load("[{\"name\": \"ack\", \"then\": [{\"reply_template\": \"ack-{{language}}\"},"
	              " {\"queue\": \"{{category}}\"}]}]");
	struct rule_decisions d;
	char *got = evaluate(cfg, "loop=1;category=account", &d);
	assert_string_equal(got, "ack:reply_template=ack-fr!;ack:queue=account!");
	assert_string_equal(d.items[0].skipped, "the mail is automatic (loop protection)");
	assert_string_equal(d.items[1].skipped, "no queue is named after the category \"account\"");
	free(got);
	rules_decisions_clear(&d);
	/* Bad input is refused, not guessed at. */
	struct fixture_input f;
	base_input(&f);
	f.in.trigger = 0;
	const char *error = NULL;
	memset(&d, 0xa5, sizeof(d)); /* as an uninitialised variable would be */
	assert_int_equal(rules_evaluate(cfg->rules, &f.in, &d, &error), -1);
	assert_non_null(error);
	assert_int_equal(d.count, 0);
	rules_decisions_clear(&d); /* safe after an error */
	/* NULL rules: no decisions. */
	f.in.trigger = RULE_ON_NEW_TICKET;
	assert_int_equal(rules_evaluate(NULL, &f.in, &d, &error), 0);
	assert_int_equal(d.count, 0);
	config_free(&cfg);
}

/* Keywords past RULES_MAX_TEXT are not searched; what comes before is. */
static void test_text_limit(void **state)
{
	(void)state;
	struct config *cfg = must_load("[{\"name\": \"w\", \"if\": {\"body_contains\": "
	                               "\"avocat\"}, \"then\": [{\"tag\": \"t\"}]}]");
	size_t n = RULES_MAX_TEXT + 100;
	char *text = xmalloc(n + 1);
	memset(text, 'a', n);
	text[n] = '\0';
	memcpy(text + RULES_MAX_TEXT + 10, " avocat ", 8);
	struct fixture_input f;
	base_input(&f);
	f.in.text = text;
	struct rule_decisions d;
	const char *error = NULL;
	assert_int_equal(rules_evaluate(cfg->rules, &f.in, &d, &error), 0);
	assert_int_equal(d.count, 0);
	rules_decisions_clear(&d);
	memcpy(text + RULES_MAX_TEXT - 20, " avocat ", 8);
	assert_int_equal(rules_evaluate(cfg->rules, &f.in, &d, &error), 0);
	assert_int_equal(d.count, 1);
	rules_decisions_clear(&d);
	free(text);
	config_free(&cfg);
}

/* ---- config errors ------------------------------------------------------------ */

struct error_case {
	const char *rules;
	const char *want; /* a substring of the errors, after "FILE:" */
};

static const struct error_case error_cases[] = {
    {"{}", "14: rules: expected a list of at most 256 rules"},
    {"[ { \"name\": \"a\", \"when\": 1, \"then\": [{\"tag\": \"x\"}] } ]",
     "14: rules[0].when: unknown key"},
    {"[ { \"then\": [{\"tag\": \"x\"}] } ]", "14: rules[0].name: required key is missing"},
    {"[ { \"name\": \"a b\", \"then\": [{\"tag\": \"x\"}] } ]",
     "14: rules[0].name: expected up to 64 letters"},
    {"[ { \"name\": \"a\" } ]", "14: rules[0].then: required key is missing"},
    {"[ { \"name\": \"a\", \"then\": [] } ]",
     "14: rules[0].then: expected a list of 1..32 actions"},
    {"[ { \"name\": \"a\", \"then\": [{\"tag\": \"x\"}] }, { \"name\": \"a\", \"then\": [{\"tag\": "
     "\"x\"}] } ]",
     "14: rules[1].name: rule \"a\" is defined twice"},
    {"[ { \"name\": \"a\", \"on\": [\"reply\"], \"then\": [{\"tag\": \"x\"}] } ]",
     "14: rules[0].on[0]: unknown event \"reply\""},
    {"[ { \"name\": \"a\", \"if\": {\"sentiment_under\": 0}, \"then\": [{\"tag\": \"x\"}] } ]",
     "14: rules[0].if.sentiment_under: unknown condition"},
    {"[ { \"name\": \"a\", \"if\": {}, \"then\": [{\"tag\": \"x\"}] } ]",
     "14: rules[0].if: expected a condition like"},
    {"[ { \"name\": \"a\", \"if\": {\"sentiment_below\": -2}, \"then\": [{\"tag\": \"x\"}] } ]",
     "14: rules[0].if.sentiment_below: expected a number -1..1, got -2"},
    {"[ { \"name\": \"a\", \"if\": {\"category_confidence_at_least\": \"high\"}, \"then\": "
     "[{\"tag\": \"x\"}] } ]",
     "rules[0].if.category_confidence_at_least: expected a number 0..1, got \"high\""},
    {"[ { \"name\": \"a\", \"if\": {\"all\": [{\"spam\": false}, {\"not\": {\"spam\": \"yes\"}}]},"
     " \"then\": [{\"tag\": \"x\"}] } ]",
     "rules[0].if.all[1].not.spam: expected true or false"},
    {"[ { \"name\": \"a\", \"if\": {\"any\": []}, \"then\": [{\"tag\": \"x\"}] } ]",
     "rules[0].if.any: expected a list of 1..200 conditions"},
    {"[ { \"name\": \"a\", \"if\": {\"queue\": [\"support\", \"nowhere\"]}, \"then\": [{\"tag\": "
     "\"x\"}] } ]",
     "rules[0].if.queue[1]: unknown queue \"nowhere\""},
    {"[ { \"name\": \"a\", \"if\": {\"mailbox\": \"other\"}, \"then\": [{\"tag\": \"x\"}] } ]",
     "rules[0].if.mailbox: unknown mailbox \"other\""},
    {"[ { \"name\": \"a\", \"if\": {\"priority\": \"critical\"}, \"then\": [{\"tag\": \"x\"}] } ]",
     "rules[0].if.priority: unknown priority \"critical\""},
    {"[ { \"name\": \"a\", \"if\": {\"sender\": \"not an address\"}, \"then\": [{\"tag\": \"x\"}] "
     "} ]",
     "rules[0].if.sender: expected an e-mail address"},
    {"[ { \"name\": \"a\", \"if\": {\"sender_domain\": \"@example.com\"}, \"then\": [{\"tag\": "
     "\"x\"}] } ]",
     "rules[0].if.sender_domain: expected a domain"},
    {"[ { \"name\": \"a\", \"if\": {\"subject_contains\": [\"urgent\", \"\"]}, \"then\": "
     "[{\"tag\": \"x\"}] } ]",
     "rules[0].if.subject_contains[1]: expected a non-empty printable string"},
    {"[ { \"name\": \"a\", \"if\": {\"body_contains\": \"  \"}, \"then\": [{\"tag\": \"x\"}] } ]",
     "rules[0].if.body_contains: the keyword \"  \" is empty once normalised"},
    {"[ { \"name\": \"a\", \"then\": [{\"escalate\": \"x\"}] } ]",
     "rules[0].then[0].escalate: unknown action"},
    {"[ { \"name\": \"a\", \"then\": [{\"group\": \"tier2\"}] } ]",
     "rules[0].then[0].group: no \"group\" action: a ticket's team is its queue"},
    {"[ { \"name\": \"a\", \"then\": [{\"tag\": \"x\", \"priority\": \"high\"}] } ]",
     "rules[0].then[0]: expected one action"},
    {"[ { \"name\": \"a\", \"then\": [{\"queue\": \"nowhere\"}] } ]",
     "rules[0].then[0].queue: unknown queue \"nowhere\""},
    {"[ { \"name\": \"a\", \"then\": [{\"queue\": \"{{language}}\"}] } ]",
     "rules[0].then[0].queue: unknown queue \"{{language}}\""},
    {"[ { \"name\": \"a\", \"then\": [{\"priority\": \"critical\"}] } ]",
     "rules[0].then[0].priority: unknown priority \"critical\""},
    {"[ { \"name\": \"a\", \"then\": [{\"status\": \"done\"}] } ]",
     "rules[0].then[0].status: unknown status \"done\""},
    {"[ { \"name\": \"a\", \"then\": [{\"tag\": \"a,b\"}] } ]",
     "rules[0].then[0].tag: expected letters"},
    {"[ { \"name\": \"a\", \"then\": [{\"reply_template\": \"missing\"}] } ]",
     "rules[0].then[0].reply_template: no template "},
    {"[ { \"name\": \"a\", \"then\": [{\"reply_template\": \"custom-{{language}}\"}] } ]",
     "rules[0].then[0].reply_template: no template "},
    {"[ { \"name\": \"a\", \"then\": [{\"reply_template\": \"../templates/custom\"}] } ]",
     "rules[0].then[0].reply_template: expected a template name"},
    {"[ { \"name\": \"a\", \"then\": [{\"notify\": \"sms:0600000000\"}] } ]",
     "rules[0].then[0].notify: expected \"mail:ADDRESS\" or \"webhook:NAME\""},
    {"[ { \"name\": \"a\", \"then\": [{\"notify\": \"mail:nobody\"}] } ]",
     "rules[0].then[0].notify: expected \"mail:ADDRESS\" with a valid address"},
    {"[ { \"name\": \"a\", \"then\": [{\"notify\": \"webhook:pager\"}] } ]",
     "rules[0].then[0].notify: unknown webhook \"pager\""},
    {"[ { \"name\": \"a\", \"then\": [{\"spam\": false}] } ]",
     "rules[0].then[0].spam: expected true, got false"},
    {"[ { \"name\": \"a\", \"then\": [{\"stop\": true}, {\"tag\": \"x\"}] } ]",
     "rules[0].then[0]: \"stop\" must be the last action"},
    /* Lines: the error is on the line of the offending key. */
    {"[\n"
     "    { \"name\": \"a\",\n"
     "      \"if\": { \"sentiment_below\": \"low\" },\n"
     "      \"then\": [ { \"queue\": \"nowhere\" } ] } ]",
     "16: rules[0].if.sentiment_below: expected a number"},
    {"[\n"
     "    { \"name\": \"a\",\n"
     "      \"if\": { \"sentiment_below\": \"low\" },\n"
     "      \"then\": [ { \"queue\": \"nowhere\" } ] } ]",
     "17: rules[0].then[0].queue: unknown queue \"nowhere\""},
};

static void test_config_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		char *errors = load_rules(c->rules, NULL);
		if (errors == NULL)
			fail_msg("case %zu: %s loaded; want an error %s", i, c->rules, c->want);
		char *want = xasprintf("%s/triaged.json:%s", dir, c->want);
		bool numbered = c->want[0] >= '0' && c->want[0] <= '9';
		if (strstr(errors, numbered ? want : c->want) == NULL)
			fail_msg("case %zu: want \"%s\" in:\n%s", i, numbered ? want : c->want,
			         errors);
		free(want);
		free(errors);
	}
}

/* Every mistake is reported, not the first only; valid lists load. */
static void test_config_all_errors_and_valid(void **state)
{
	(void)state;
	char *errors = load_rules("[ { \"name\": \"a\", \"if\": {\"queue\": \"x\", \"spam\": 1},"
	                          "    \"then\": [{\"queue\": \"y\"}, {\"priority\": \"z\"}] } ]",
	                          NULL);
	assert_non_null(errors);
	size_t lines = 0;
	for (const char *p = errors; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	free(errors);

	/* Nesting deeper than the limit is refused. */
	struct strbuf deep = STRBUF_INIT;
	strbuf_puts(&deep, "[ { \"name\": \"a\", \"if\": ");
	for (int i = 0; i < RULES_MAX_DEPTH + 2; i++)
		strbuf_puts(&deep, "{\"not\": ");
	strbuf_puts(&deep, "{\"spam\": true}");
	for (int i = 0; i < RULES_MAX_DEPTH + 2; i++)
		strbuf_putc(&deep, '}');
	strbuf_puts(&deep, ", \"then\": [{\"tag\": \"x\"}] } ]");
	errors = load_rules(strbuf_str(&deep), NULL);
	assert_non_null(errors);
	assert_non_null(strstr(errors, "conditions nested deeper than 16"));
	free(errors);
	strbuf_free(&deep);

	/* The example of the documentation loads as written. */
	struct config *cfg = must_load(
	    "[\n"
	    "  { \"name\": \"spam-closed\", \"on\": [\"new_ticket\"],\n"
	    "    \"if\": { \"spam\": true },\n"
	    "    \"then\": [ { \"queue\": \"spam\" }, { \"status\": \"closed\" }, { \"tag\": "
	    "\"spam\" }, { \"stop\": true } ] },\n"
	    "  { \"name\": \"urgent-words\", \"if\": { \"any\": [ { \"subject_contains\": "
	    "[\"urgent\", \"URGENT\", \"immédiatement\"] },\n"
	    "                                           { \"body_contains\": [\"mise en demeure\", "
	    "\"avocat\", \"lawyer\"] } ] },\n"
	    "    \"then\": [ { \"priority\": \"high\" } ] },\n"
	    "  { \"name\": \"very-negative\", \"if\": { \"sentiment_below\": -0.5 }, \"then\": [ { "
	    "\"priority\": \"high\" }, { \"tag\": \"unhappy\" } ] },\n"
	    "  { \"name\": \"route-by-category\", \"if\": { \"all\": [ { "
	    "\"category_confidence_at_least\": 0.55 }, { \"not\": { \"spam\": true } } ] },\n"
	    "    \"then\": [ { \"queue\": \"{{category}}\" } ] },\n"
	    "  { \"name\": \"unsure\", \"if\": { \"category_confidence_below\": 0.55 }, \"then\": "
	    "[ { \"queue\": \"triage\" } ] },\n"
	    "  { \"name\": \"vip\", \"if\": { \"sender_domain\": [\"bigclient.example.com\"] }, "
	    "\"then\": [ { \"assignee\": \"alice@example.com\" }, { \"notify\": "
	    "\"mail:lead@example.com\" } ] },\n"
	    "  { \"name\": \"ack\", \"on\": [\"new_ticket\"], \"if\": { \"all\": [ { \"not\": { "
	    "\"loop\": true } }, { \"not\": { \"spam\": true } } ] }, \"then\": [ { "
	    "\"reply_template\": \"ack-{{language}}\" } ] }\n"
	    "]");
	assert_int_equal(cfg->rules->n_rules, 7);
	assert_int_equal(cfg->rules->rules[0].on, RULE_ON_NEW_TICKET);
	assert_int_equal(cfg->rules->rules[1].on, RULE_ON_ANY);
	char *got = evaluate(cfg, "sender=bob@mail.bigclient.example.com", NULL);
	assert_string_equal(got, "urgent-words:priority=high;route-by-category:queue=billing;"
	                         "vip:assignee=alice@example.com;vip:notify=mail:lead@example.com;"
	                         "ack:reply_template=ack-fr");
	free(got);
	config_free(&cfg);
}

/* The shipped conf/triaged.json, with its data folder pointed at conf/ so that
 * its templates are checked too, loads and decides sensibly. */
static void test_shipped_rules(void **state)
{
	(void)state;
	char *text;
	size_t len;
	const char *error;
	assert_int_equal(
	    file_read_all(SOURCE_DIR "/conf/triaged.json", 1 << 20, &text, &len, &error), 0);
	const char *from = "\"data_dir\": \"/usr/share/triaged\"";
	char *at = strstr(text, from);
	assert_non_null(at);
	char *patched = xasprintf("%.*s\"data_dir\": \"%s/conf\"%s", (int)(at - text), text,
	                          SOURCE_DIR, at + strlen(from));
	free(text);
	char *path = xasprintf("%s/shipped.json", dir);
	write_file(path, patched);
	free(patched);
	struct cfg_errors errors;
	struct config *cfg = NULL;
	int rc = config_load(path, &cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		print_error("%s\n", errors.items[i]);
	cfg_errors_free(&errors);
	free(path);
	assert_int_equal(rc, 0);
	assert_true(cfg->rules->n_rules >= 5);

	static const struct {
		const char *tweaks, *want;
	} cases[] = {
	    /* Spam: filed and closed, nothing else (no acknowledgement). */
	    {"spam=1;spam_probability=0.97", "spam-closed:queue=spam;spam-closed:status=closed;"
	                                     "spam-closed:tag=spam;spam-closed:stop"},
	    /* Urgent words in French, a confident category, an acknowledgement. */
	    {NULL, "urgent-words:priority=high;urgent-words:tag=urgent-words;"
	           "route-by-category:queue=billing;ack:reply_template=ack-fr"},
	    /* Calm English mail, unsure category: to people, acknowledged. */
	    {"subject=Lamp question;text=Hello, which bulb fits?;language=en;confidence=0.4",
	     "unsure:queue=triage;unsure:tag=needs-triage;ack:reply_template=ack-en"},
	    /* Very negative, from an auto-responder: no acknowledgement. */
	    {"subject=Re: order;text=Still nothing.;sentiment=-0.8;loop=1",
	     "very-negative:priority=high;very-negative:tag=unhappy;route-by-category:queue="
	     "billing"},
	    /* Already urgent: no rule lowers it to high. */
	    {"priority=urgent;sentiment=-0.9",
	     "route-by-category:queue=billing;ack:reply_template=ack-fr"},
	    /* A customer's follow-up: priority only, no re-routing, no acknowledgement. */
	    {"trigger=customer_message;text=J'ai contacté mon avocat.;subject=Re: facture",
	     "urgent-words:priority=high;urgent-words:tag=urgent-words"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = evaluate(cfg, cases[i].tweaks, NULL);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("shipped case %zu: got \"%s\", want \"%s\"", i, got,
			         cases[i].want);
		free(got);
	}

	/* The cost of the shipped list on a 4 KiB mail (keywords are searched in
	 * the normalised subject and body, normalised once per evaluation). */
	struct fixture_input in;
	base_input(&in);
	char *body = xmalloc(4097);
	static const char line[] = "Bonjour, ma lampe ne s'allume plus depuis hier. ";
	for (size_t i = 0; i < 4096; i++)
		body[i] = line[i % (sizeof(line) - 1)];
	body[4096] = '\0';
	in.in.text = body;
	in.in.subject = "Lampe en panne"; /* no keyword: the body is searched too */
	assert_int_equal(strlen(body), 4096);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 2000; i++) {
		struct rule_decisions d;
		assert_int_equal(rules_evaluate(cfg->rules, &in.in, &d, &error), 0);
		assert_int_equal(d.count, 2); /* route-by-category, ack */
		rules_decisions_clear(&d);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us =
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3);
	print_message("rules: shipped list on a 4 KiB mail: %.1f us per evaluation\n", us / 2000);
	free(body);
	config_free(&cfg);
}

/* ---- rules_apply on a real store ---------------------------------------------- */

struct store_fixture {
	struct config *cfg;
	struct store *st;
};

static int64_t new_ticket(struct store *st, const char *requester)
{
	struct ticket t = {.subject = (char *)"Question URGENTE sur ma facture",
	                   .requester = (char *)requester,
	                   .requester_name = (char *)"Jean Dupont",
	                   .mailbox = (char *)"support",
	                   .queue = (char *)"support",
	                   .status = TICKET_NEW,
	                   .priority = PRIORITY_NORMAL};
	int64_t id = 0;
	assert_int_equal(store_ticket_create(st, &t, &id), 0);
	return id;
}

static void open_store(struct store_fixture *f, const char *rules)
{
	f->cfg = must_load(rules);
	const char *error = NULL;
	char *db = xasprintf("%s/t.db", dir);
	unlink(db);
	if (store_open(db, &f->st, &error) < 0)
		fail_msg("store_open: %s", error);
	free(db);
}

static void close_store(struct store_fixture *f)
{
	store_close(&f->st);
	config_free(&f->cfg);
}

/* Evaluates and applies in one transaction, as ingestion does. */
static void run(struct store_fixture *f, int64_t ticket, int64_t message_id, const char *tweaks,
                struct rules_applied *applied_r)
{
	struct fixture_input in;
	base_input(&in);
	tweak_input(&in, tweaks);
	in.in.ticket_id = ticket;
	in.in.message_id = message_id;
	struct rule_decisions d;
	const char *error = NULL;
	assert_int_equal(rules_evaluate(f->cfg->rules, &in.in, &d, &error), 0);
	assert_int_equal(store_begin(f->st), 0);
	if (rules_apply(f->st, f->cfg, ticket, &d, applied_r, &error) < 0)
		fail_msg("rules_apply: %s", error);
	assert_int_equal(store_commit(f->st), 0);
	rules_decisions_clear(&d);
	free(in.owned);
}

/* The events of a ticket by this actor, as "kind" joined by ";". */
static char *events_of(struct store *st, int64_t ticket, const char *actor_prefix)
{
	struct event_row *rows;
	size_t n;
	assert_int_equal(store_event_list(st, ticket, &rows, &n), 0);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		if (strncmp(rows[i].actor, actor_prefix, strlen(actor_prefix)) == 0)
			strbuf_printf(&sb, "%s%s %s", sb.len ? ";" : "", rows[i].actor,
			              rows[i].kind);
	event_rows_free(&rows, n);
	return strbuf_steal(&sb);
}

static cJSON *event_detail(struct store *st, int64_t ticket, const char *actor, const char *kind)
{
	struct event_row *rows;
	size_t n;
	assert_int_equal(store_event_list(st, ticket, &rows, &n), 0);
	cJSON *o = NULL;
	for (size_t i = 0; i < n && o == NULL; i++)
		if (strcmp(rows[i].actor, actor) == 0 && strcmp(rows[i].kind, kind) == 0)
			o = cJSON_Parse(rows[i].detail);
	event_rows_free(&rows, n);
	if (o == NULL)
		fail_msg("no event %s %s", actor, kind);
	return o;
}

/* The shipped spam-closed rule closes with a status action: a ticket the
 * classifier took for spam, closed by a rule, is closed as spam (set apart
 * in the SLA reports); a customer's ticket closed by a rule is not. */
static void test_rule_closing_spam(void **state)
{
	(void)state;
	struct store_fixture f;
	open_store(&f, "[ { \"name\": \"spam-closed\", \"if\": { \"spam\": true },"
		       "    \"then\": [ { \"status\": \"closed\" } ] },"
		       "  { \"name\": \"close-all\", \"then\": [ { \"status\": \"closed\" } ] } ]");
	int64_t spam = new_ticket(f.st, "win@prize.example"), mail = new_ticket(f.st, "a@b.example");
	assert_int_equal(store_ticket_set_triage(f.st, spam, "en", NULL, 0, true, 0.99, 0, "neutral"),
			 0);
	struct rules_applied applied;
	run(&f, spam, 1, "spam=1", &applied);
	run(&f, mail, 2, NULL, &applied);
	struct ticket t;
	assert_int_equal(store_ticket_get(f.st, spam, &t), 1);
	assert_int_equal(t.status, TICKET_CLOSED);
	assert_true(t.spam_closed);
	ticket_clear(&t);
	assert_int_equal(store_ticket_get(f.st, mail, &t), 1);
	assert_int_equal(t.status, TICKET_CLOSED);
	assert_false(t.spam_closed);
	ticket_clear(&t);
	close_store(&f);
}

static void test_apply_writes_changes_and_events(void **state)
{
	(void)state;
	struct store_fixture f;
	open_store(
	    &f,
	    "[ { \"name\": \"very-negative\", \"if\": { \"sentiment_below\": -0.5 },"
	    "    \"then\": [ { \"priority\": \"high\" }, { \"tag\": \"unhappy\" } ] },"
	    "  { \"name\": \"route\", \"on\": \"new_ticket\", \"if\": { "
	    "\"category_confidence_at_least\": 0.55 },"
	    "    \"then\": [ { \"queue\": \"{{category}}\" } ] },"
	    "  { \"name\": \"vip\", \"if\": { \"sender_domain\": \"client.example.com\" },"
	    "    \"then\": [ { \"assignee\": \"alice@example.com\" },"
	    "               { \"status\": \"open\" }, { \"notify\": \"mail:lead@example.com\" },"
	    "               { \"notify\": \"webhook:chat\" } ] },"
	    "  { \"name\": \"ack\", \"on\": \"new_ticket\", \"if\": { \"not\": { \"loop\": true } "
	    "},"
	    "    \"then\": [ { \"reply_template\": \"ack-{{language}}\" }, { \"reply_template\": "
	    "\"custom\" } ] } ]");
	int64_t id = new_ticket(f.st, "jean.dupont@client.example.com");
	struct rules_applied applied;
	run(&f, id, 11, "sentiment=-0.72", &applied);
	/* Applied: priority, tag, queue, assignee, status, mail notification
	 * (through the outbox), webhook, ack. Recorded only: the second
	 * template (one automatic reply per sender and period). */
	assert_int_equal(applied.applied, 8);
	assert_int_equal(applied.skipped, 1);
	assert_int_equal(applied.repeated, 0);

	struct ticket t;
	assert_int_equal(store_ticket_get(f.st, id, &t), 1);
	assert_int_equal(t.priority, PRIORITY_HIGH);
	assert_string_equal(t.queue, "billing");
	assert_string_equal(t.assignee, "alice@example.com");
	assert_int_equal(t.status, TICKET_OPEN);
	assert_non_null(strstr(t.tags, "unhappy"));
	ticket_clear(&t);

	char *events = events_of(f.st, id, "rule:");
	assert_string_equal(
	    events,
	    "rule:very-negative rule_priority;rule:very-negative rule_tag;rule:route rule_queue;"
	    "rule:vip rule_assignee;rule:vip rule_status;rule:vip rule_notify;"
	    "rule:vip rule_notify;rule:ack rule_reply_template;rule:ack rule_reply_template");
	free(events);
	/* The acknowledgement went through the outbox, which says so too. */
	events = events_of(f.st, id, "system");
	assert_non_null(strstr(events, "system ack_queued"));
	free(events);

	cJSON *o = event_detail(f.st, id, "rule:very-negative", "rule_priority");
	assert_string_equal(cJSON_GetObjectItem(o, "matched")->valuestring, "sentiment_below -0.5");
	assert_true(cJSON_GetObjectItem(o, "sentiment")->valuedouble == -0.72);
	assert_string_equal(cJSON_GetObjectItem(o, "value")->valuestring, "high");
	assert_string_equal(cJSON_GetObjectItem(o, "previous")->valuestring, "normal");
	assert_int_equal((int)cJSON_GetObjectItem(o, "message_id")->valuedouble, 11);
	assert_string_equal(cJSON_GetObjectItem(o, "trigger")->valuestring, "new_ticket");
	cJSON_Delete(o);
	o = event_detail(f.st, id, "rule:route", "rule_queue");
	assert_string_equal(cJSON_GetObjectItem(o, "value")->valuestring, "billing");
	assert_string_equal(cJSON_GetObjectItem(o, "previous")->valuestring, "support");
	assert_true(cJSON_GetObjectItem(o, "category_confidence")->valuedouble == 0.8);
	cJSON_Delete(o);
	/* The mail notification is an internal notice queued in the outbox. */
	struct outbox_row *rows;
	size_t n_rows;
	assert_int_equal(store_outbox_list(f.st, NULL, id, 0, &rows, &n_rows), 0);
	bool notice = false;
	for (size_t i = 0; i < n_rows; i++)
		if (rows[i].kind == OUTBOX_NOTIFY) {
			notice = true;
			assert_string_equal(rows[i].to_addr, "lead@example.com");
			assert_non_null(strstr(rows[i].body_text, "sender_domain"));
		}
	assert_true(notice);
	outbox_rows_free(&rows, n_rows);
	o = event_detail(f.st, id, "rule:ack", "rule_reply_template");
	assert_string_equal(cJSON_GetObjectItem(o, "value")->valuestring, "ack-fr");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "queued")));
	assert_true(cJSON_GetObjectItem(o, "outbox_id")->valuedouble > 0);
	cJSON_Delete(o);
	size_t acks = 0;
	assert_int_equal(store_outbox_list(f.st, NULL, id, 0, &rows, &n_rows), 0);
	for (size_t i = 0; i < n_rows; i++)
		acks += rows[i].kind == OUTBOX_ACK;
	outbox_rows_free(&rows, n_rows);
	assert_int_equal(acks, 1);

	int64_t queued, sent, failed;
	assert_int_equal(store_sla_webhook_counts(f.st, &queued, &sent, &failed), 0);
	assert_int_equal(queued, 1);

	/* The same message again: no rule fires twice. */
	run(&f, id, 11, "sentiment=-0.72", &applied);
	assert_int_equal(applied.applied, 0);
	assert_int_equal(applied.repeated, 9);
	events = events_of(f.st, id, "rule:");
	size_t count = 1;
	for (const char *p = events; *p; p++)
		count += *p == ';';
	assert_int_equal(count, 9);
	free(events);

	/* A customer's next message: the rules for that event run again. */
	run(&f, id, 12, "sentiment=-0.72;trigger=customer_message", &applied);
	assert_int_equal(applied.repeated, 0);
	assert_int_equal(applied.applied, 6); /* priority, tag, assignee, status, mail, webhook */
	assert_int_equal(store_sla_webhook_counts(f.st, &queued, &sent, &failed), 0);
	assert_int_equal(queued, 2);
	close_store(&f);
}

static void test_apply_loop_spam_and_stop(void **state)
{
	(void)state;
	struct store_fixture f;
	open_store(&f, "[ { \"name\": \"junk\", \"if\": { \"spam_probability_at_least\": 0.9 },"
	               "    \"then\": [ { \"spam\": true }, { \"stop\": true } ] },"
	               "  { \"name\": \"ack\", \"then\": [ { \"reply_template\": "
	               "\"ack-{{language}}\" } ] } ]");
	/* Loop-flagged mail: the decision is recorded as skipped, nothing queued. */
	int64_t id = new_ticket(f.st, "robot@client.example.com");
	struct rules_applied applied;
	run(&f, id, 21, "loop=1", &applied);
	assert_int_equal(applied.applied, 0);
	assert_int_equal(applied.skipped, 1);
	cJSON *o = event_detail(f.st, id, "rule:ack", "rule_reply_template");
	assert_string_equal(cJSON_GetObjectItem(o, "skipped")->valuestring,
	                    "the mail is automatic (loop protection)");
	cJSON_Delete(o);
	char *events = events_of(f.st, id, "system");
	assert_null(strstr(events, "ack_queued"));
	free(events);

	/* Spam: marked, closed, and the list stops before the acknowledgement. */
	id = new_ticket(f.st, "offers@spam.example");
	run(&f, id, 22, "spam_probability=0.95", &applied);
	assert_int_equal(applied.applied, 2);
	struct ticket t;
	assert_int_equal(store_ticket_get(f.st, id, &t), 1);
	assert_true(t.spam);
	assert_int_equal(t.status, TICKET_CLOSED);
	ticket_clear(&t);
	events = events_of(f.st, id, "rule:");
	assert_string_equal(events, "rule:junk rule_spam;rule:junk rule_stop");
	free(events);

	/* A ticket that does not exist is an error, not a silent no-op. */
	struct fixture_input in;
	base_input(&in);
	struct rule_decisions d;
	const char *error = NULL;
	assert_int_equal(rules_evaluate(f.cfg->rules, &in.in, &d, &error), 0);
	assert_int_equal(rules_apply(f.st, f.cfg, 9999, &d, NULL, &error), -1);
	assert_string_equal(error, "no ticket 9999");
	rules_decisions_clear(&d);
	close_store(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conditions),
	    cmocka_unit_test(test_reason_and_values),
	    cmocka_unit_test(test_actions),
	    cmocka_unit_test(test_skip_reasons),
	    cmocka_unit_test(test_text_limit),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_config_all_errors_and_valid),
	    cmocka_unit_test(test_shipped_rules),
	    cmocka_unit_test(test_apply_writes_changes_and_events),
	    cmocka_unit_test(test_rule_closing_spam),
	    cmocka_unit_test(test_apply_loop_spam_and_stop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
