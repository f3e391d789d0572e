/* Normalisation: accents, case, ligatures, full-width forms, apostrophes,
 * invalid and truncated UTF-8, the input size limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "norm.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_keep_flags),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
