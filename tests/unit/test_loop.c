/* Tests of loop protection (RFC 3834): a table of header sets with the
 * flags and reason expected, and the bounce, auto-reply and newsletter
 * fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loop.h"
#include "mime.h"
#include "strbuf.h"
#include "xalloc.h"

static struct mime_message *parse(const char *raw, size_t len)
{
	struct mime_message *m = NULL;
	const char *err = NULL;
	assert_int_equal(mime_parse(raw, len, NULL, &m, &err), 0);
	return m;
}

static void test_table(void **state)
{
	(void)state;
	static const struct {
		const char *headers;
		unsigned flags;
		const char *reason;
	} cases[] = {
		{"From: a@b.example\r\n", 0, NULL},
		{"Auto-Submitted: no\r\n", 0, NULL},
		{"Auto-Submitted: No (a human)\r\n", 0, NULL},
		{"Auto-Submitted: auto-replied\r\n", LOOP_AUTO_REPLY, "Auto-Submitted: auto-replied"},
		{"Auto-Submitted: auto-generated\r\n", LOOP_AUTO_REPLY, "Auto-Submitted: auto-generated"},
		{"auto-submitted: Auto-Notified; owner-email=\"x@y\"\r\n", LOOP_AUTO_REPLY,
		 "Auto-Submitted: Auto-Notified; owner-email=\"x@y\""},
		{"X-Autoreply: yes\r\n", LOOP_AUTO_REPLY, "X-Autoreply: yes"},
		{"X-Autorespond: Out of office\r\n", LOOP_AUTO_REPLY, "X-Autorespond: Out of office"},
		{"Precedence: bulk\r\n", LOOP_BULK, "Precedence: bulk"},
		{"Precedence: JUNK\r\n", LOOP_BULK, "Precedence: JUNK"},
		{"Precedence: list\r\n", LOOP_BULK, "Precedence: list"},
		{"Precedence: first-class\r\n", 0, NULL},
		{"Precedence: auto_reply\r\n", LOOP_AUTO_REPLY, "Precedence: auto_reply"},
		{"List-Id: Users <users.lists.example>\r\n", LOOP_BULK, "List-Id: Users <users.lists.example>"},
		{"List-Unsubscribe: <mailto:u@x>\r\n", LOOP_BULK, "List-Unsubscribe"},
		{"X-Auto-Response-Suppress: All\r\n", LOOP_SUPPRESS, "X-Auto-Response-Suppress: All"},
		{"X-Auto-Response-Suppress: None\r\n", 0, NULL},
		{"Return-Path: <>\r\n", LOOP_BOUNCE, "Return-Path: <>"},
		{"Return-Path: <user@x.example>\r\n", 0, NULL},
		{"From: MAILER-DAEMON@mx.example\r\n", LOOP_BOUNCE, "From: mailer-daemon@mx.example"},
		{"From: Mail System <Postmaster@x.example>\r\n", LOOP_BOUNCE, "From: postmaster@x.example"},
		{"From: postmaster-team@x.example\r\n", 0, NULL},
		{"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n", LOOP_BOUNCE,
		 "Content-Type: multipart/report; report-type=delivery-status"},
		{"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n",
		 LOOP_AUTO_REPLY, "Content-Type: multipart/report; report-type=disposition-notification"},
		{"Subject: Automatic reply: your request\r\n", LOOP_AUTO_REPLY,
		 "Subject: Automatic reply: your request"},
		{"Subject: =?utf-8?q?R=C3=A9ponse_automatique_:_absent?=\r\n", LOOP_AUTO_REPLY,
		 "Subject: R\xC3\xA9ponse automatique : absent"},
		{"Subject: Re: automatic reply did not work\r\n", 0, NULL},
		{"Auto-Submitted: auto-replied\r\nPrecedence: bulk\r\nReturn-Path: <>\r\n",
		 LOOP_AUTO_REPLY | LOOP_BULK | LOOP_BOUNCE, "Auto-Submitted: auto-replied; Precedence: bulk; Return-Path: <>"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: %s", i, cases[i].headers);
		char *raw = xasprintf("%s\r\nbody\r\n", cases[i].headers);
		struct mime_message *m = parse(raw, strlen(raw));
		unsigned flags = 99;
		char *reason = (char *)"unset";
		const char *err = NULL;
		assert_int_equal(loop_check(m, &flags, &reason, &err), 0);
		assert_int_equal(flags, cases[i].flags);
		if (cases[i].reason) {
			assert_non_null(reason);
			assert_string_equal(reason, cases[i].reason);
		} else {
			assert_null(reason);
		}
		assert_int_equal(loop_no_autoreply(flags), cases[i].flags != 0);
		free(reason);
		mime_message_free(&m);
		free(raw);
	}
}

static void test_long_value_cut(void **state)
{
	(void)state;
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "Auto-Submitted: auto-replied");
	for (int i = 0; i < 100; i++)
		strbuf_puts(&sb, " \xC3\xA9t\xC3\xA9");
	strbuf_puts(&sb, "\r\n\r\nx");
	struct mime_message *m = parse(sb.data, sb.len);
	unsigned flags;
	char *reason;
	const char *err;
	assert_int_equal(loop_check(m, &flags, &reason, &err), 0);
	assert_int_equal(flags, LOOP_AUTO_REPLY);
	assert_true(strlen(reason) <= strlen("Auto-Submitted: ") + 64);
	assert_true(mime_utf8_valid(reason, strlen(reason)));
	free(reason);
	mime_message_free(&m);
	strbuf_free(&sb);
	assert_int_equal(loop_check(NULL, &flags, &reason, &err), -1);
	assert_non_null(err);
}

static void test_fixtures(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		unsigned flags;
	} cases[] = {
		{"bounce_dsn.eml", LOOP_AUTO_REPLY | LOOP_BOUNCE},
		{"bounce_rfc822.eml", LOOP_BOUNCE},
		{"autoreply_fr.eml", LOOP_AUTO_REPLY},
		{"newsletter_en.eml", LOOP_BULK},
		{"en_plain_qp.eml", 0},
		{"reply_fr_outlook.eml", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/mime/%s", FIXTURES_DIR, cases[i].file);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		char *buf = xmalloc(1 << 20);
		size_t n = fread(buf, 1, 1 << 20, f);
		fclose(f);
		struct mime_message *m = parse(buf, n);
		unsigned flags;
		char *reason;
		const char *err;
		assert_int_equal(loop_check(m, &flags, &reason, &err), 0);
		print_message("%s: %s\n", cases[i].file, reason ? reason : "-");
		assert_int_equal(flags, cases[i].flags);
		free(reason);
		mime_message_free(&m);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_long_value_cut),
		cmocka_unit_test(test_fixtures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
