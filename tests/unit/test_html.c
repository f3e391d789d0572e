/* Tests of the HTML to text conversion: a table of inputs and exact
 * outputs, entities, limits, and hostile markup that must stay linear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "html.h"
#include "mime.h"
#include "strbuf.h"
#include "xalloc.h"

static void test_table(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"", ""},
		{"plain", "plain"},
		{"<p>one</p><p>two</p>", "one\n\ntwo"},
		{"a<br>b<br/>c<BR />d", "a\nb\nc\nd"},
		{"a<br><br><br><br>b", "a\n\nb"},
		{"<div>a</div><div><br></div><div>b</div>", "a\n\nb"},
		{"  lots   of\n\n  white\tspace  ", "lots of white space"},
		{"<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
		{"<ol><li>a<ul><li>b</li></ul></li></ol>", "- a\n  - b"},
		{"<h1>Title</h1>Text", "Title\n\nText"},
		{"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"<html><head><title>T</title><style>p{color:red}</style></head><body>B</body></html>", "B"},
		{"<head><meta charset=utf-8><body>no closing head</body>", "no closing head"},
		{"x<script>alert('<p>')</script>y", "xy"},
		{"x<SCRIPT type=x>a</SCRIPT >y", "xy"},
		{"x<!-- hidden <p> -->y", "xy"},
		{"x<!-- never closed", "x"},
		{"<!DOCTYPE html><?xml version=\"1.0\"?>z", "z"},
		{"&eacute;&Eacute;&agrave;&ccedil;&ecirc;&oelig;&euro;", "\xC3\xA9\xC3\x89\xC3\xA0\xC3\xA7\xC3\xAA\xC5\x93\xE2\x82\xAC"},
		{"a&nbsp;b", "a b"},
		{"l&rsquo;avis &laquo;&nbsp;ok&nbsp;&raquo;", "l\xE2\x80\x99" "avis \xC2\xAB ok \xC2\xBB"},
		{"&#233;&#xE9;&#X20AC;&#146;", "\xC3\xA9\xC3\xA9\xE2\x82\xAC\xE2\x80\x99"},
		{"&#0;&#xD800;&#99999999999;", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"AT&T &unknown; & &amp &lt", "AT&T &unknown; & & <"},
		{"soft&shy;hyphen", "softhyphen"},
		{"a < b > c", "a < b > c"},
		{"<a href=\"https://x.example/track?id=1&amp;u=2\">our site</a>",
		 "our site (https://x.example/track?id=1&u=2)"},
		{"<a href=\"https://www.acme.example/\">www.acme.example</a>", "www.acme.example"},
		{"<a href=\"https://acme.example\">https://acme.example</a>", "https://acme.example"},
		{"<a href=\"mailto:a@b.example\">a@b.example</a>", "a@b.example"},
		{"<a href=\"mailto:a@b.example\">write to us</a>", "write to us (mailto:a@b.example)"},
		{"<a href=\"javascript:void(0)\">click</a>", "click"},
		{"<a href=\"https://x.example\"><img src=logo.png></a>after", "after"},
		{"<a href='https://x.example/a'>single quotes</a>", "single quotes (https://x.example/a)"},
		{"<blockquote>quoted<br>two</blockquote>after", "> quoted\n> two\n\nafter"},
		{"new<blockquote>q1<blockquote>q2</blockquote></blockquote>",
		 "new\n\n> q1\n>\n> > q2"},
		{"<pre>  keep\n    this</pre>x", "  keep\n    this\n\nx"},
		{"<p>unterminated <b", "unterminated"},
		{"<p title=\"a>b\">attr with gt</p>", "attr with gt"},
		{"<div\nclass=x\n>multi-line tag</div>", "multi-line tag"},
		{"caf\xC3\xA9 <b>na\xC3\xAFve</b>", "caf\xC3\xA9 na\xC3\xAFve"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: %s\n", i, cases[i].in);
		char *got = html_to_text(cases[i].in, strlen(cases[i].in), 0);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

static void test_output_limit(void **state)
{
	(void)state;
	/* The cut never splits a character. */
	static const char in[] = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";
	for (size_t max = 1; max <= 8; max++) {
		char *got = html_to_text(in, strlen(in), max);
		assert_true(strlen(got) <= max);
		assert_int_equal(strlen(got) % 2, 0);
		assert_true(mime_utf8_valid(got, strlen(got)));
		free(got);
	}
	char *got = html_to_text("<pre>\xC3\xA9\xC3\xA9</pre>", 15, 3);
	assert_string_equal(got, "\xC3\xA9");
	free(got);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Markup built to make a naive converter quadratic or deep. */
static void test_hostile(void **state)
{
	(void)state;
	static const char *const units[] = {
		"<div>", "<blockquote>", "<ul><li>", "<a href=x>", "<!--", "<script>", "&amp;", "<",
		"<p a=\"", "&#", "<head>", "</a>",
	};
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		struct strbuf sb;
		strbuf_init(&sb, 0);
		while (sb.len < (2u << 20))
			strbuf_puts(&sb, units[u]);
		strbuf_puts(&sb, "end");
		double t0 = now_s();
		char *got = html_to_text(sb.data, sb.len, 1u << 20);
		double dt = now_s() - t0;
		print_message("%-14s %zu bytes: %.3f s, %zu out\n", units[u], sb.len, dt, strlen(got));
		assert_true(dt < 5.0);
		assert_true(strlen(got) <= (1u << 20));
		assert_true(mime_utf8_valid(got, strlen(got)));
		free(got);
		strbuf_free(&sb);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_output_limit),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
