/* Normalisation: accents, case, ligatures, full-width forms, apostrophes,
 * invalid and truncated UTF-8, the input size limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <utf8proc.h>

#include "norm.h"
#include "strbuf.h"

static char *norm(const char *in, size_t len, unsigned flags)
{
	char *out;
	size_t out_len;
	const char *error;
	assert_int_equal(norm_text(in, len, flags, &out, &out_len, &error), 0);
	assert_int_equal(strlen(out), out_len);
	return out;
}

static void test_table(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"facturé", "facture"},
	    {"FACTURE", "facture"},
	    {"Facturé FACTURÉ facture", "facture facture facture"},
	    {"Ça déçoit à l'hôpital", "ca decoit a l'hopital"},
	    {"cœur ŒUVRE æther", "coeur oeuvre aether"},
	    {"ﬁchier ﬂux", "fichier flux"},            /* U+FB01, U+FB02 */
	    {"ＦＡＣＴＵＲＥ　１２３", "facture 123"}, /* full-width, ideographic space */
	    {"l’abonnement", "l'abonnement"},          /* typographic apostrophe */
	    {"Straße", "strasse"},
	    {"e\xcc\x81t\xc3\xa9", "ete"},          /* decomposed e + U+0301 */
	    {"tab\there\r\nnext", "tab here next"}, /* control characters */
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = norm(cases[i].in, strlen(cases[i].in), 0);
		assert_string_equal(out, cases[i].want);
		free(out);
	}
}

static void test_keep_flags(void **state)
{
	(void)state;
	char *out = norm("Facturé ÉTÉ", strlen("Facturé ÉTÉ"), NORM_KEEP_ACCENTS);
	assert_string_equal(out, "facturé été");
	free(out);
	out = norm("Facturé", strlen("Facturé"), NORM_KEEP_CASE);
	assert_string_equal(out, "Facture");
	free(out);
}

/* Invalid input is repaired with U+FFFD (EF BF BD), never read past len. */
static void test_invalid_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	    {"a\xff"
	     "b",
	     3,
	     "a\xef\xbf\xbd"
	     "b"}, /* stray byte */
	    {"a\xc0\xaf"
	     "b",
	     4,
	     "a\xef\xbf\xbd\xef\xbf\xbd"
	     "b"}, /* overlong '/' */
	    {"a\xed\xa0\x80"
	     "b",
	     5,
	     "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	     "b"}, /* surrogate */
	    {"a\xf4\x90\x80\x80", 5,
	     "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
	    {"caf\xc3", 4, "caf\xef\xbf\xbd"},                     /* truncated at the very end */
	    {"caf\xe2\x82", 5, "caf\xef\xbf\xbd\xef\xbf\xbd"},     /* truncated 3-byte sequence */
	    {"a\0b", 3, "a b"},                                    /* NUL inside */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* copy into an exact-size heap block so ASan catches over-reads */
		char *in = malloc(cases[i].len);
		memcpy(in, cases[i].in, cases[i].len);
		char *out = norm(in, cases[i].len, 0);
		assert_string_equal(out, cases[i].want);
		free(out);
		free(in);
	}
	size_t n;
	char *repaired = norm_repair_utf8("\xc3\xa9\xc3", 3, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(repaired, "\xc3\xa9\xef\xbf\xbd", 5);
	free(repaired);
}

/* Beyond NORM_MAX_INPUT bytes the input is ignored, and a sequence cut by
 * the limit is repaired like any truncated one. */
static void test_size_limit(void **state)
{
	(void)state;
	size_t len = NORM_MAX_INPUT + 100;
	char *in = malloc(len);
	memset(in, 'A', len);
	char *out = norm(in, len, 0);
	assert_int_equal(strlen(out), NORM_MAX_INPUT);
	assert_int_equal(out[0], 'a');
	free(out);
	/* a two-byte "é" straddling the limit */
	in[NORM_MAX_INPUT - 1] = '\xc3';
	in[NORM_MAX_INPUT] = '\xa9';
	out = norm(in, len, 0);
	assert_int_equal(strlen(out), NORM_MAX_INPUT - 1 + 3);
	assert_memory_equal(out + NORM_MAX_INPUT - 1, "\xef\xbf\xbd", 3);
	free(out);
	free(in);
}

/* The reference: what norm_text() is defined as (repair, ligatures spelt
 * out, one utf8proc_map over the whole text); the fast paths must give the
 * same bytes. */
static char *reference(const char *in, size_t len, unsigned flags, size_t *len_r)
{
	size_t rlen;
	char *repaired = norm_repair_utf8(in, len, &rlen);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < rlen; i++) {
		unsigned char a = (unsigned char)repaired[i];
		unsigned char b = i + 1 < rlen ? (unsigned char)repaired[i + 1] : 0;
		const char *lig = a == 0xc5 && b == 0x93   ? "oe"
		                  : a == 0xc5 && b == 0x92 ? "OE"
		                  : a == 0xc3 && b == 0xa6 ? "ae"
		                  : a == 0xc3 && b == 0x86 ? "AE"
		                                           : NULL;
		if (lig != NULL) {
			strbuf_append(&sb, lig, 2);
			i++;
		} else {
			strbuf_putc(&sb, (char)a);
		}
	}
	free(repaired);
	int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STRIPCC |
	              UTF8PROC_LUMP | UTF8PROC_IGNORE;
	if (!(flags & NORM_KEEP_CASE))
		options |= UTF8PROC_CASEFOLD;
	if (!(flags & NORM_KEEP_ACCENTS))
		options |= UTF8PROC_STRIPMARK;
	utf8proc_uint8_t *mapped = NULL;
	utf8proc_ssize_t n =
	    utf8proc_map((const utf8proc_uint8_t *)strbuf_str(&sb), (utf8proc_ssize_t)sb.len,
	                 &mapped, (utf8proc_option_t)options);
	strbuf_free(&sb);
	assert_true(n >= 0);
	*len_r = (size_t)n;
	return (char *)mapped;
}

/* Random texts built from pieces where the ASCII fast path and utf8proc
 * could part ways: combining marks after ASCII letters (and after deleted
 * controls), "\r\n" split across words, controls, ignorables, ligatures,
 * compatibility forms, Hangul jamo, invalid bytes. */
static void test_same_as_utf8proc(void **state)
{
	(void)state;
	static const char *const pieces[] = {
	    "a",
	    "E",
	    "z",
	    "Q",
	    "0",
	    "'",
	    "-",
	    ".",
	    " ",
	    "  ",
	    "\t",
	    "\n",
	    "\r",
	    "\r\n",
	    "\v",
	    "\f",
	    "\x01",
	    "\x1f",
	    "\x7f",
	    "\xcc\x81" /* U+0301 */,
	    "\xcc\xa7" /* U+0327 */,
	    "\xcc\x88\xcc\xa3" /* two marks, to reorder */,
	    "\xc3\xa9",
	    "\xc3\x89",
	    "\xc5\x93",
	    "\xc3\x86",
	    "\xef\xac\x81" /* fi */,
	    "\xef\xbc\xa6" /* full-width F */,
	    "\xc2\xad" /* soft hyphen */,
	    "\xc2\x85" /* NEL */,
	    "\xc2\x80",
	    "\xc2\xa0",
	    "\xe2\x80\x99",
	    "\xe2\x80\x94",
	    "\xe3\x80\x80",
	    "\xe1\x84\x80" /* jamo L */,
	    "\xe1\x85\xa1" /* jamo V */,
	    "\xc3\x9f",
	    "\xc4\xb0",
	    "\xce\xa3",
	    "\xe2\x84\xab",
	    "\xf0\x9f\x98\x80",
	    "\xff",
	    "\xc3",
	    "\xe2\x82",
	    "\xed\xa0\x80",
	    "\xc0\xaf",
	    "http://x.fr",
	    "Facture",
	    "caf",
	    "e",
	};
	static const unsigned flag_sets[] = {0, NORM_KEEP_ACCENTS, NORM_KEEP_CASE,
	                                     NORM_KEEP_ACCENTS | NORM_KEEP_CASE};
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (unsigned round = 0; round < 4000; round++) {
		struct strbuf in = STRBUF_INIT;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned n = 1 + (unsigned)(seed >> 59);
		for (unsigned k = 0; k < n; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			strbuf_puts(&in,
			            pieces[(seed >> 33) % (sizeof(pieces) / sizeof(pieces[0]))]);
		}
		/* "a\0b": NUL inside, too */
		if (round % 7 == 0)
			strbuf_append(&in, "\0\xcc\x81", 3);
		/* copy into an exact-size heap block so ASan catches over-reads */
		char *text = malloc(in.len);
		memcpy(text, in.data, in.len);
		unsigned flags = flag_sets[round % 4];
		size_t want_len, got_len;
		char *want = reference(text, in.len, flags, &want_len);
		char *got;
		const char *error;
		assert_int_equal(norm_text(text, in.len, flags, &got, &got_len, &error), 0);
		if (got_len != want_len || memcmp(got, want, want_len) != 0) {
			/* input, wanted, got: the case to add to the table */
			for (size_t q = 0; q < in.len; q++)
				fprintf(stderr, "%02x ", (unsigned char)text[q]);
			fprintf(stderr, "| flags %u\n", flags);
			for (size_t q = 0; q < want_len; q++)
				fprintf(stderr, "%02x ", (unsigned char)want[q]);
			fprintf(stderr, "\n");
			for (size_t q = 0; q < got_len; q++)
				fprintf(stderr, "%02x ", (unsigned char)got[q]);
			fprintf(stderr, "\n");
		}
		assert_int_equal(got_len, want_len);
		assert_memory_equal(got, want, want_len);
		free(got);
		free(want);
		free(text);
		strbuf_free(&in);
	}
}

/* norm_append() adds to what the buffer holds. */
static void test_append(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	const char *error;
	assert_int_equal(norm_append(&sb, "Été ", 6, 0, &error), 0);
	assert_int_equal(norm_append(&sb, "CHAUD\r\n", 7, NORM_KEEP_CASE, &error), 0);
	assert_string_equal(strbuf_str(&sb), "ete CHAUD ");
	assert_int_equal(sb.len, 10);
	strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_keep_flags),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_same_as_utf8proc),
	    cmocka_unit_test(test_append),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
