/* test_http: the web console's pieces that need no server: the listening
 * address and its loopback rule, the search box's FTS5 expression, e-mail
 * normalisation, passwords, and the login flow on a real store (rate limit
 * windows on the fake clock, sessions, idle expiry, CSRF, disabling). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "http_auth.h"
#include "store.h"
#include "store_agents.h"
#include "xalloc.h"

static void test_listen_parse(void **state)
{
	(void)state;
	static const struct {
		const char *listen;
		int rc;
		bool loopback;
	} cases[] = {
		{"127.0.0.1:8025", 0, true},   {"127.1.2.3:1", 0, true},
		{"localhost:8025", 0, true},   {"[::1]:8025", 0, true},
		{"0.0.0.0:8025", 0, false},    {"[::]:8025", 0, false},
		{"192.0.2.1:443", 0, false},   {"127.0.0.1:0", -1, false},
		{"127.0.0.1:65536", -1, false}, {"127.0.0.1", -1, false},
		{"[::1:8025", -1, false},      {"example.com:80", -1, false},
		{"127.0.0.1:80x", -1, false},  {":8025", -1, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		bool loopback = !cases[i].loopback;
		const char *error = NULL;
		int rc = http_listen_parse(cases[i].listen, &ss, &len, &loopback, &error);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d", cases[i].listen, rc);
		if (rc == 0)
			assert_int_equal(loopback, cases[i].loopback);
		else
			assert_non_null(error);
	}
}

static void test_fts_query(void **state)
{
	(void)state;
	static const struct {
		const char *q, *expect;
	} cases[] = {
		{"lampe", "\"lampe\""},
		{"  facture   fausse ", "\"facture\" \"fausse\""},
		{"lampe\" OR col:*", "\"lampe\" \"OR\" \"col\""},
		{"NEAR(a b)", "\"NEAR\" \"a\" \"b\""},
		{"reçue déjà", "\"reçue\" \"déjà\""},
		{"\"*():^-+", NULL},
		{"", NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = http_fts_query(cases[i].q);
		if (cases[i].expect == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].expect);
		free(got);
	}
	/* Limits: 16 words, 64 bytes each. */
	char many[400] = "";
	for (int i = 0; i < 30; i++)
		strcat(many, "mot ");
	char *got = http_fts_query(many);
	size_t quotes = 0;
	for (const char *p = got; *p; p++)
		quotes += *p == '"';
	assert_int_equal(quotes, 32);
	free(got);
	char longword[200];
	memset(longword, 'a', 150);
	longword[150] = '\0';
	got = http_fts_query(longword);
	assert_int_equal(strlen(got), 64 + 2);
	free(got);
}

static void test_email_and_password(void **state)
{
	(void)state;
	char *e = http_auth_normalize_email("Ana.Lopez@Example.COM");
	assert_string_equal(e, "ana.lopez@example.com");
	free(e);
	static const char *const bad[] = {"", "ana", "@example.com", "ana@", "a@b@c", "a b@c.d",
					  "<a@b.c>", "a@b.c,d@e.f"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_null(http_auth_normalize_email(bad[i]));

	const char *error;
	char *hash;
	assert_int_equal(http_auth_hash_password("short", &hash, &error), -1);
	assert_int_equal(http_auth_hash_password("correct horse battery", &hash, &error), 0);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_true(http_auth_verify_password(hash, "correct horse battery"));
	assert_false(http_auth_verify_password(hash, "correct horse batterY"));
	assert_false(http_auth_verify_password(hash, ""));
	free(hash);
	char huge[HTTP_AUTH_MAX_PASSWORD + 10];
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_int_equal(http_auth_hash_password(huge, &hash, &error), -1);
	assert_true(http_auth_csrf_ok("abc", "abc"));
	assert_false(http_auth_csrf_ok("abc", "abd"));
	assert_false(http_auth_csrf_ok("abc", "ab"));
	assert_false(http_auth_csrf_ok("abc", NULL));
	assert_false(http_auth_csrf_ok("", ""));
}

struct fixture {
	char path[64];
	struct store *st;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/test_http.XXXXXX");
	int fd = mkstemp(f->path);
	if (fd < 0)
		return -1;
	close(fd);
	const char *error;
	if (http_auth_init(&error) < 0 || store_open(f->path, &f->st, &error) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->st);
	char side[80];
	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	free(f);
	store_set_fake_now(0);
	return 0;
}

static void test_login_flow(void **state)
{
	struct fixture *f = *state;
	struct store *st = f->st;
	const char *error;
	int64_t t0 = 1795680000;
	store_set_fake_now(t0);
	assert_int_equal(http_auth_agent_add(st, "cli:test", "Ana@Example.test", "Ana",
					     AGENT_ROLE_MANAGER, "ana-password-1", &error),
			 0);
	assert_int_equal(http_auth_agent_add(st, "cli:test", "ana@example.test", "Ana bis",
					     AGENT_ROLE_AGENT, "ana-password-1", &error),
			 1);
	assert_int_equal(http_auth_agent_add(st, "cli:test", "x@example.test", "X", AGENT_ROLE_AGENT,
					     "short", &error),
			 -1);

	struct http_login login;
	assert_int_equal(http_auth_login(st, "10.0.0.1", "ANA@example.test", "ana-password-1", &login,
					 &error),
			 0);
	assert_string_equal(login.agent.email, "ana@example.test");
	assert_int_equal(login.agent.role, AGENT_ROLE_MANAGER);
	assert_null(login.agent.password_hash);
	assert_int_equal(strlen(login.token), HTTP_AUTH_TOKEN_HEX);
	assert_int_equal(strlen(login.csrf), HTTP_AUTH_TOKEN_HEX);
	assert_string_not_equal(login.token, login.csrf);

	struct session_row s;
	assert_int_equal(http_auth_session(st, login.token, 30, &s, &error), 1);
	assert_string_equal(s.csrf, login.csrf);
	assert_string_equal(s.agent.email, "ana@example.test");
	session_row_clear(&s);
	/* The stored key is not the token. */
	char bogus[HTTP_AUTH_TOKEN_HEX + 1];
	memcpy(bogus, login.token, sizeof(bogus));
	bogus[0] = bogus[0] == 'a' ? 'b' : 'a';
	assert_int_equal(http_auth_session(st, bogus, 30, &s, &error), 0);
	assert_int_equal(http_auth_session(st, "not-hex", 30, &s, &error), 0);

	/* Idle expiry: touched at most once a minute, expired after 30 idle. */
	store_set_fake_now(t0 + 29 * 60);
	assert_int_equal(http_auth_session(st, login.token, 30, &s, &error), 1);
	session_row_clear(&s);
	store_set_fake_now(t0 + 29 * 60 + 30 * 60 - 1);
	assert_int_equal(http_auth_session(st, login.token, 30, &s, &error), 1);
	session_row_clear(&s);
	store_set_fake_now(t0 + 29 * 60 + 30 * 60 - 1 + 30 * 60 + 1);
	assert_int_equal(http_auth_session(st, login.token, 30, &s, &error), 0);
	agent_clear(&login.agent);

	/* Rate limit per account: 5 failures from 5 addresses, the 6th is
	 * refused before the password is looked at, until the window ends. */
	int64_t t1 = t0 + 10000;
	store_set_fake_now(t1);
	for (int i = 0; i < HTTP_AUTH_MAX_FAILURES; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "10.0.1.%d", i);
		store_set_fake_now(t1 + i * 10);
		assert_int_equal(http_auth_login(st, addr, "ana@example.test", "wrong-password-x",
						 &login, &error),
				 HTTP_AUTH_DENIED);
	}
	store_set_fake_now(t1 + 100);
	assert_int_equal(http_auth_login(st, "10.0.2.1", "ana@example.test", "ana-password-1", &login,
					 &error),
			 HTTP_AUTH_LIMITED);
	assert_int_equal(login.retry_after, HTTP_AUTH_WINDOW - 100);
	/* When the oldest failure leaves the window, one more attempt. */
	store_set_fake_now(t1 + HTTP_AUTH_WINDOW);
	assert_int_equal(http_auth_login(st, "10.0.2.1", "ana@example.test", "ana-password-1", &login,
					 &error),
			 0);
	agent_clear(&login.agent);

	/* Rate limit per address, whatever the accounts tried. */
	int64_t t2 = t1 + 10 * HTTP_AUTH_WINDOW;
	store_set_fake_now(t2);
	for (int i = 0; i < HTTP_AUTH_MAX_FAILURES; i++) {
		char email[32];
		snprintf(email, sizeof(email), "nobody%d@example.test", i);
		assert_int_equal(http_auth_login(st, "10.9.9.9", email, "whatever-pass", &login,
						 &error),
				 HTTP_AUTH_DENIED);
	}
	assert_int_equal(http_auth_login(st, "10.9.9.9", "ana@example.test", "ana-password-1", &login,
					 &error),
			 HTTP_AUTH_LIMITED);
	assert_int_equal(http_auth_login(st, "10.9.9.8", "ana@example.test", "ana-password-1", &login,
					 &error),
			 0);

	/* A new password and disabling both end the sessions. */
	assert_int_equal(http_auth_session(st, login.token, 30, &s, &error), 1);
	session_row_clear(&s);
	assert_int_equal(http_auth_agent_passwd(st, "cli:test", "ana@example.test", "new-password-2",
						&error),
			 0);
	assert_int_equal(http_auth_session(st, login.token, 30, &s, &error), 0);
	agent_clear(&login.agent);
	assert_int_equal(http_auth_login(st, "10.9.9.7", "ana@example.test", "new-password-2", &login,
					 &error),
			 0);
	assert_int_equal(http_auth_agent_disable(st, "cli:test", "ana@example.test", &error), 0);
	assert_int_equal(http_auth_session(st, login.token, 30, &s, &error), 0);
	agent_clear(&login.agent);
	assert_int_equal(http_auth_login(st, "10.9.9.6", "ana@example.test", "new-password-2", &login,
					 &error),
			 HTTP_AUTH_DENIED);
	assert_int_equal(http_auth_agent_disable(st, "cli:test", "nobody@example.test", &error), 1);

	struct agent *list;
	size_t n;
	assert_int_equal(store_agent_list(st, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_true(list[0].disabled);
	assert_null(list[0].password_hash);
	agent_list_free(&list, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_fts_query),
		cmocka_unit_test(test_email_and_password),
		cmocka_unit_test_setup_teardown(test_login_flow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
