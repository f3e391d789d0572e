/* The config loader: the shipped example loads; every kind of mistake is
 * refused with the file, the line and the JSON path; all errors are reported
 * at once; comments are allowed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "fileio.h"
#include "config.h"
#include "xalloc.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(dir));
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

static char *write_config(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text; returns all errors joined by newlines, or NULL when it loaded. */
static char *load_errors(const char *text, struct config **cfg_r)
{
	char *path = write_config("triaged.json", text);
	struct cfg_errors errors;
	struct config *cfg = NULL;
	int rc = config_load(path, &cfg, &errors);
	free(path);
	if (rc == 0) {
		if (cfg_r != NULL)
			*cfg_r = cfg;
		else
			config_free(&cfg);
		return NULL;
	}
	size_t total = 1;
	for (size_t i = 0; i < errors.count; i++)
		total += strlen(errors.items[i]) + 1;
	char *all = xcalloc(1, total);
	for (size_t i = 0; i < errors.count; i++) {
		strcat(all, errors.items[i]);
		strcat(all, "\n");
	}
	cfg_errors_free(&errors);
	return all;
}

static void test_shipped_example_loads(void **state)
{
	(void)state;
	struct cfg_errors errors;
	struct config *cfg = NULL;
	int rc = config_load(SOURCE_DIR "/conf/triaged.json", &cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		print_error("%s\n", errors.items[i]);
	assert_int_equal(rc, 0);
	assert_int_equal(cfg->n_mailboxes, 1);
	assert_string_equal(cfg->mailboxes[0].name, "support");
	assert_int_equal(cfg->mailboxes[0].tls, CFG_TLS_IMPLICIT);
	assert_true(cfg->mailboxes[0].tls_verify);
	assert_non_null(config_queue(cfg, "triage"));
	assert_non_null(config_queue_calendar(cfg, "billing"));
	assert_string_equal(cfg->default_calendar, "paris");
	config_free(&cfg);
}

static const char minimal_mailbox[] =
	"{ \"database\": \"/tmp/x.db\",\n"
	"  \"queues\": [\"support\"],\n"
	"  \"mailboxes\": [ {\n"
	"    \"name\": \"support\", \"host\": \"127.0.0.1\",\n"
	"    \"port\": %s,\n"
	"    \"tls\": \"none\", \"user\": \"u\", \"password_file\": \"p\" } ] }\n";

static void test_port_error_names_file_line_and_path(void **state)
{
	(void)state;
	char *text = xasprintf(minimal_mailbox, "\"abc\"");
	char *errors = load_errors(text, NULL);
	assert_non_null(errors);
	char *expected = xasprintf("%s/triaged.json:5: mailboxes[0].port: expected an integer "
				   "1..65535, got \"abc\"\n", dir);
	assert_string_equal(errors, expected);
	free(expected);
	free(errors);
	free(text);

	text = xasprintf(minimal_mailbox, "70000");
	errors = load_errors(text, NULL);
	assert_non_null(strstr(errors, "mailboxes[0].port: expected an integer 1..65535, got 70000"));
	free(errors);
	free(text);

	/* Far out of any integer's range (found by fuzzing: the check itself
	 * once converted it to an integer, which is undefined), and fractions. */
	static const char *const bad[] = {"3.3e91", "-1e300", "80.5"};
	for (size_t i = 0; i < 3; i++) {
		text = xasprintf(minimal_mailbox, bad[i]);
		errors = load_errors(text, NULL);
		assert_non_null(errors);
		assert_non_null(strstr(errors, "mailboxes[0].port: expected an integer 1..65535"));
		free(errors);
		free(text);
	}

	struct config *cfg;
	text = xasprintf(minimal_mailbox, "10143");
	assert_null(load_errors(text, &cfg));
	assert_int_equal(cfg->mailboxes[0].port, 10143);
	/* Defaults fill what is not said. */
	assert_string_equal(cfg->mailboxes[0].folder, "INBOX");
	assert_int_equal(cfg->mailboxes[0].after, CFG_AFTER_SEEN);
	assert_int_equal(cfg->mailboxes[0].poll_seconds, 60);
	/* Relative paths are relative to the config's folder. */
	char *pass = xasprintf("%s/p", dir);
	assert_string_equal(cfg->mailboxes[0].password_file, pass);
	free(pass);
	config_free(&cfg);
	free(text);
}

static void test_unknown_keys_and_every_error_reported(void **state)
{
	(void)state;
	char *errors = load_errors(
		"// an admin's note\n"
		"{\n"
		"  \"databse\": \"/tmp/x.db\",   /* typo */\n"
		"  \"queues\": [\"support\", \"support\"],\n"
		"  \"nlp\": { \"min_confidence\": 1.5, \"triage_queue\": \"nowhere\" },\n"
		"  \"mailboxes\": [ { \"name\": \"a\", \"host\": \"h\", \"user\": \"u\",\n"
		"     \"password_file\": \"p\", \"after\": \"delete\", \"tls\": \"ssl\",\n"
		"     \"queue\": \"missing\" } ]\n"
		"}\n",
		NULL);
	assert_non_null(errors);
	assert_non_null(strstr(errors, ":3: databse: unknown key"));
	assert_non_null(strstr(errors, ":4: queues[1]: queue \"support\" is defined twice"));
	assert_non_null(strstr(errors, ":5: nlp.min_confidence: expected a number 0..1, got 1.5"));
	assert_non_null(strstr(errors, "nlp.triage_queue: unknown queue \"nowhere\""));
	assert_non_null(strstr(errors, ":7: mailboxes[0].after: expected \"seen\", \"keep\" or "
				       "\"move:FOLDER\", got \"delete\""));
	assert_non_null(strstr(errors, "mailboxes[0].tls: expected one of \"implicit\", "
				       "\"starttls\", \"none\", got \"ssl\""));
	assert_non_null(strstr(errors, "mailboxes[0].queue: unknown queue \"missing\""));
	free(errors);
}

static void test_trusted_proxies(void **state)
{
	(void)state;
	char *errors = load_errors("{ \"http\": { \"allow_plain_http\": true,\n"
	                           "  \"trusted_proxies\": [\"127.0.0.1\", \"proxy.lan\", 7,\n"
	                           "    \"0:0:0:0:0:0:0:1\"] } }\n",
	                           NULL);
	assert_non_null(errors);
	assert_non_null(strstr(errors, ":2: http.trusted_proxies[1]: expected a numeric IPv4 or "
	                               "IPv6 address, got \"proxy.lan\""));
	assert_non_null(strstr(errors, "http.trusted_proxies[2]: expected a numeric"));
	assert_null(strstr(errors, "trusted_proxies[0]"));
	assert_null(strstr(errors, "trusted_proxies[3]"));
	free(errors);
	struct config *cfg;
	assert_null(load_errors("{ \"http\": { \"trusted_proxies\": [\"127.0.0.1\", "
	                        "\"0:0:0:0:0:0:0:1\"] } }\n",
	                        &cfg));
	assert_int_equal(cfg->http.n_trusted_proxies, 2);
	assert_string_equal(cfg->http.trusted_proxies[1], "::1"); /* as the peer is written */
	config_free(&cfg);
}

/* NUL bytes in the file (found by fuzzing: the line scanner once looped
 * on them until memory ran out) are refused like any other bad byte. */
static void test_nul_bytes_refused(void **state)
{
	(void)state;
	char *text;
	size_t len;
	const char *error = NULL;
	assert_int_equal(file_read_all(FIXTURES_DIR "/config/nul-bytes-in-object.json", 4096, &text,
	                               &len, &error),
	                 0);
	assert_true(memchr(text, '\0', len) != NULL);
	char *path = xasprintf("%s/nul.json", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	struct config *cfg = NULL;
	struct cfg_errors errors;
	assert_int_equal(config_load(path, &cfg, &errors), -1);
	assert_true(errors.count >= 1);
	cfg_errors_free(&errors);
	free(path);
	free(text);
}

static void test_syntax_error_has_line_and_column(void **state)
{
	(void)state;
	char *errors = load_errors("{\n  \"database\": \"/tmp/x.db\",\n  \"queues\": [\"a\" \"b\"]\n}\n",
				   NULL);
	assert_non_null(errors);
	assert_non_null(strstr(errors, "/triaged.json:3:"));
	assert_non_null(strstr(errors, "JSON syntax error"));
	free(errors);
}

static void test_password_rules(void **state)
{
	(void)state;
	char *errors = load_errors(
		"{ \"queues\": [\"s\"], \"mailboxes\": [ { \"name\": \"a\", \"host\": \"h\","
		" \"user\": \"u\" } ] }",
		NULL);
	assert_non_null(strstr(errors, "mailboxes[0]: exactly one of password_file and "
				       "password_env is required"));
	free(errors);

	/* Secrets: a trailing newline is dropped; a missing variable is an error. */
	char *path = write_config("secret", "s3cret\n");
	char *secret = NULL;
	const char *error = NULL;
	assert_int_equal(config_read_secret(path, NULL, &secret, &error), 0);
	assert_string_equal(secret, "s3cret");
	free(secret);
	free(path);
	unsetenv("TRIAGED_TEST_NO_SUCH_VAR");
	assert_int_equal(config_read_secret(NULL, "TRIAGED_TEST_NO_SUCH_VAR", &secret, &error), -1);
	assert_non_null(strstr(error, "TRIAGED_TEST_NO_SUCH_VAR"));
}

static void test_calendar_errors(void **state)
{
	(void)state;
	char *errors = load_errors(
		"{ \"queues\": [{\"name\": \"s\", \"calendar\": \"nope\"}],\n"
		"  \"calendars\": { \"paris\": { \"timezone\": \"Europe/Nowhere\", \"hours\": {} },\n"
		"                 \"lyon\": { \"timezone\": \"Europe/Paris\",\n"
		"                   \"hours\": { \"mon\": [\"18:00-09:00\"], \"funday\": [] },\n"
		"                   \"holidays\": [\"2026-13-01\"] } } }\n",
		NULL);
	assert_non_null(errors);
	assert_non_null(strstr(errors, ":2: calendars.paris.timezone:"));
	assert_non_null(strstr(errors, ":4: calendars.lyon.hours.mon[0]:"));
	assert_non_null(strstr(errors, "calendars.lyon.hours.funday: unknown key"));
	assert_non_null(strstr(errors, ":5: calendars.lyon.holidays[0]: expected a date"));
	assert_non_null(strstr(errors, "queues[0].calendar: unknown calendar \"nope\""));
	free(errors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_example_loads),
		cmocka_unit_test(test_port_error_names_file_line_and_path),
		cmocka_unit_test(test_unknown_keys_and_every_error_reported),
		cmocka_unit_test(test_syntax_error_has_line_and_column),
		cmocka_unit_test(test_trusted_proxies),
		cmocka_unit_test(test_nul_bytes_refused),
		cmocka_unit_test(test_password_rules),
		cmocka_unit_test(test_calendar_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
