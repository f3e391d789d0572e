/* Sentiment rules with the shipped lexicons: lexicon terms and expressions,
 * negation, intensifiers, diminishers, contrast, capitals, exclamation
 * marks, emoji; lexicon loading errors; limits. */
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "senti.h"

static struct senti_lexicon *lexicon;

static char *read_conf(const char *rel, size_t *len_r)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", SOURCE_DIR, rel);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 20);
	*len_r = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	(void)state;
	const char *error;
	lexicon = senti_lexicon_new();
	const char *files[] = {"conf/lexicons/fr.tsv", "conf/lexicons/en.tsv"};
	for (size_t i = 0; i < 2; i++) {
		size_t len;
		char *buf = read_conf(files[i], &len);
		if (senti_lexicon_load(lexicon, buf, len, &error) < 0)
			fail_msg("%s: %s", files[i], error);
		free(buf);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	senti_lexicon_free(&lexicon);
	return 0;
}

static double score(const char *text)
{
	struct senti_result r;
	const char *error;
	assert_int_equal(senti_analyse(lexicon, text, strlen(text), &r, &error), 0);
	assert_true(r.score >= -1.0 && r.score <= 1.0);
	return r.score;
}

static void test_lexicon_size(void **state)
{
	(void)state;
	/* at least ~250 entries per language; emoji are shared */
	assert_true(senti_lexicon_size(lexicon) >= 500);
}

static void test_labels(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum senti_label want;
	} cases[] = {
	    {"Merci beaucoup pour votre aide, c'est parfait", SENTI_POSITIVE},
	    {"Thanks a lot, great service", SENTI_POSITIVE},
	    {"C'est inadmissible, toujours pas de réponse", SENTI_NEGATIVE},
	    {"Still broken. This is unacceptable", SENTI_NEGATIVE},
	    {"Ça ne marche pas", SENTI_NEGATIVE},
	    {"It doesn't work", SENTI_NEGATIVE},
	    {"Bonjour, ma commande n'est toujours pas arrivée", SENTI_NEGATIVE},
	    {"Bonjour, je voudrais un remboursement.", SENTI_NEUTRAL}, /* mildly negative only */
	    {"Please find my invoice attached.", SENTI_NEUTRAL},
	    {"Veuillez trouver ci-joint le formulaire.", SENTI_NEUTRAL},
	    {"", SENTI_NEUTRAL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct senti_result r;
		const char *error;
		assert_int_equal(
		    senti_analyse(lexicon, cases[i].text, strlen(cases[i].text), &r, &error), 0);
		if (r.label != cases[i].want)
			fail_msg("\"%s\": %s (%.3f), want %s", cases[i].text,
			         senti_label_name(r.label), r.score,
			         senti_label_name(cases[i].want));
	}
	assert_true(score("Bonjour, je voudrais un remboursement.") < 0);
}

/* Each pair differs by one rule; the relation says how the score moves. */
static void test_rules(void **state)
{
	(void)state;
	static const struct {
		const char *rule, *a, *b;
		char relation; /* '-': sign flips, '>': |a| > |b|, '<': a < b */
	} cases[] = {
	    {"negation fr", "Je suis content", "Je ne suis pas content", '-'},
	    {"negation fr jamais", "satisfait", "jamais satisfait", '-'},
	    {"negation en", "I am happy", "I am not happy", '-'},
	    {"negation en n't", "It was good", "It wasn't good", '-'},
	    {"negation sans", "un problème", "sans problème", '-'},
	    {"intensifier fr", "Je suis très content", "Je suis content", '>'},
	    {"intensifier en", "extremely disappointed", "disappointed", '>'},
	    {"intensifier vraiment", "vraiment déçu", "déçu", '>'},
	    {"diminisher fr", "déçu", "un peu déçu", '>'},
	    {"diminisher en", "disappointed", "slightly disappointed", '>'},
	    {"capitals", "This is TERRIBLE", "This is terrible", '>'},
	    {"capitals on negation", "I am NOT happy", "I am not happy", '>'},
	    {"shouting", "THIS IS TERRIBLE, I WANT MY MONEY BACK",
	     "This is terrible, I want my money back", '>'},
	    {"exclamation", "Still broken!!!", "Still broken", '>'},
	    {"emoji", "Livraison reçue 😡", "Livraison reçue", '>'},
	    {"emoji positive", "Colis reçu 😊👍", "Colis reçu", '>'},
	    {"emoticon", "ok :(", "ok", '<'},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double a = score(cases[i].a), b = score(cases[i].b);
		bool ok = cases[i].relation == '-'   ? (a * b < 0)
		          : cases[i].relation == '>' ? fabs(a) > fabs(b)
		                                     : a < b;
		if (!ok)
			fail_msg("%s: \"%s\" %.3f vs \"%s\" %.3f", cases[i].rule, cases[i].a, a,
			         cases[i].b, b);
	}
	/* diminished stays on the same side */
	assert_true(score("un peu déçu") < 0);
	/* a negation does not reach past a comma */
	assert_true(score("No worries, thanks a lot.") > score("thanks a lot") * 0.5);
	assert_true(score("Aucun souci, merci.") > 0);
	assert_true(score("not thanks") < 0);
}

/* After "mais"/"but" the second part weighs more, before it less. */
static void test_contrast(void **state)
{
	(void)state;
	assert_true(score("Le produit est bien mais la livraison est inadmissible") < 0);
	assert_true(score("La livraison est inadmissible mais le produit est bien") <
	            score("Le produit est bien mais la livraison est inadmissible") + 1.0);
	assert_true(score("The delivery was slow but the support was excellent") > 0);
	assert_true(score("The support was excellent but the delivery was slow") <
	            score("The delivery was slow but the support was excellent"));
	/* the two-word French turns; "contre" alone is only "against" */
	assert_true(score("Le produit est beau, par contre la livraison est catastrophique") <
	            score("Le produit est beau et la livraison est catastrophique"));
	assert_true(score("La livraison est catastrophique, en revanche le produit est superbe") >
	            score("La livraison est catastrophique et le produit est superbe"));
	assert_float_equal(score("je suis contre, c'est catastrophique"),
	                   score("je suis pour, c'est catastrophique"), 1e-12);
	struct senti_result r;
	const char *error;
	const char *text = "great product but terrible support";
	assert_int_equal(senti_analyse(lexicon, text, strlen(text), &r, &error), 0);
	assert_int_equal(r.n_reasons, 2);
	/* reasons sorted by weight; the second part first */
	assert_non_null(strstr(r.reasons[0].term, "terrible"));
	assert_non_null(strstr(r.reasons[0].term, "after contrast"));
	assert_true(r.reasons[0].contribution < 0);
	assert_non_null(strstr(r.reasons[1].term, "great"));
	assert_true(fabs(r.reasons[0].contribution) > fabs(r.reasons[1].contribution) * 2);
}

static void test_reasons(void **state)
{
	(void)state;
	struct senti_result r;
	const char *error;
	const char *text = "Je ne suis pas content, toujours pas de réponse 😡";
	assert_int_equal(senti_analyse(lexicon, text, strlen(text), &r, &error), 0);
	assert_int_equal(r.label, SENTI_NEGATIVE);
	assert_int_equal(r.n_reasons, 3);
	bool seen_negated = false, seen_emoji = false, seen_mwe = false;
	for (size_t i = 0; i < r.n_reasons; i++) {
		seen_negated |= strcmp(r.reasons[i].term, "content (negated)") == 0;
		seen_emoji |= strcmp(r.reasons[i].term, "😡") == 0;
		seen_mwe |= strcmp(r.reasons[i].term, "toujours pas") == 0;
		if (i > 0)
			assert_true(fabs(r.reasons[i - 1].contribution) >=
			            fabs(r.reasons[i].contribution));
	}
	assert_true(seen_negated && seen_emoji && seen_mwe);
}

static void test_lexicon_errors(void **state)
{
	(void)state;
	struct senti_lexicon *lex = senti_lexicon_new();
	const char *error;
	static const char *const bad[] = {
	    "good\n",                            /* no tab */
	    "good\tgreat\n",                     /* not a number */
	    "good\t4\n",                         /* out of range */
	    "# comment\n\nfine\t1\nbad\t-3.5\n", /* line 4 */
	    "one two three four five\t1\n",      /* too many words */
	    "\t1\n",                             /* empty term */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(senti_lexicon_load(lex, bad[i], strlen(bad[i]), &error), -1);
	assert_non_null(strstr(error, "line 1"));
	assert_int_equal(senti_lexicon_load(lex, bad[3], strlen(bad[3]), &error), -1);
	assert_non_null(strstr(error, "line 4"));
	const char *good = "Très Bien\t2\r\nça ne marche PAS\t-2\n";
	assert_int_equal(senti_lexicon_load(lex, good, strlen(good), &error), 0);
	struct senti_result r;
	assert_int_equal(senti_analyse(lex, "tres bien", 9, &r, &error), 0);
	assert_true(r.score > 0);
	assert_int_equal(senti_analyse(lex, "Ca ne marche pas", 16, &r, &error), 0);
	assert_true(r.score < 0);
	senti_lexicon_free(&lex);
	senti_lexicon_free(&lex);
}

static void test_limits(void **state)
{
	(void)state;
	/* past SENTI_MAX_INPUT the text is not read */
	size_t len = SENTI_MAX_INPUT + 64;
	char *text = malloc(len);
	memset(text, ' ', len);
	memcpy(text + SENTI_MAX_INPUT + 10, "horrible", 8);
	struct senti_result r;
	const char *error;
	assert_int_equal(senti_analyse(lexicon, text, len, &r, &error), 0);
	assert_int_equal(r.label, SENTI_NEUTRAL);
	assert_int_equal(r.n_reasons, 0);
	/* many terms: score stays in [-1, 1], reasons capped */
	for (size_t i = 0; i + 9 < len; i += 9)
		memcpy(text + i, "horrible ", 9);
	assert_int_equal(senti_analyse(lexicon, text, len, &r, &error), 0);
	assert_true(r.score >= -1.0 && r.score < -0.99);
	assert_int_equal(r.n_reasons, SENTI_MAX_REASONS);
	/* invalid UTF-8 and a cut sequence at the very end */
	memcpy(text, "nul \xff\xfe horrible \xc3", 17);
	assert_int_equal(senti_analyse(lexicon, text, 17, &r, &error), 0);
	assert_int_equal(r.label, SENTI_NEGATIVE);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lexicon_size), cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_rules),        cmocka_unit_test(test_contrast),
	    cmocka_unit_test(test_reasons),      cmocka_unit_test(test_lexicon_errors),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
