/* Naive Bayes: hand-computed arithmetic, incremental == batch, untraining,
 * explanations, rows and model file round trips, corrupt files. */
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

#include "feat.h"
#include "nb.h"

struct fc {
	const char *feature;
	uint32_t count;
};

static struct feat_bag *bag_of(const struct fc *items)
{
	struct feat_bag *bag = feat_bag_new();
	const char *error;
	for (; items->feature != NULL; items++)
		assert_int_equal(feat_bag_add(bag, items->feature, items->count, &error), 0);
	return bag;
}

static struct nb_model *model_new(enum nb_variant variant, bool log_tf, bool length_norm)
{
	struct nb_options o;
	nb_options_default(&o);
	o.variant = variant;
	o.log_tf = log_tf;
	o.length_norm = length_norm;
	struct nb_model *m;
	const char *error;
	assert_int_equal(nb_new(&o, &m, &error), 0);
	return m;
}

/* The tiny corpus of the hand computations below. */
static const struct fc doc1[] = {{"factur", 2}, {"rembours", 1}, {NULL, 0}}; /* billing */
static const struct fc doc2[] = {{"connexion", 1}, {"bug", 1}, {NULL, 0}};   /* tech */
static const struct fc doc3[] = {{"factur", 1}, {NULL, 0}};                  /* billing */
static const struct fc query[] = {{"factur", 1}, {"bug", 1}, {"inconnu", 5}, {NULL, 0}};

static void train_tiny(struct nb_model *m)
{
	const struct fc *docs[] = {doc1, doc2, doc3};
	const char *labels[] = {"billing", "tech", "billing"};
	const char *error;
	for (size_t i = 0; i < 3; i++) {
		struct feat_bag *bag = bag_of(docs[i]);
		assert_int_equal(nb_train(m, bag, labels[i], 1, &error), 0);
		feat_bag_free(&bag);
	}
}

/* Multinomial, alpha 1. V = {factur, rembours, connexion, bug} = 4.
 * billing: N = factur 3 + rembours 1 = 4, docs 2/3.
 * tech:    N = connexion 1 + bug 1 = 2,    docs 1/3.
 * "inconnu" was never seen: ignored.
 * score(billing) = ln(2/3) + ln((3+1)/(4+4)) + ln((0+1)/(4+4))
 *                = -0.405465 - 0.693147 - 2.079442 = -3.178054
 * score(tech)    = ln(1/3) + ln((0+1)/(2+4)) + ln((1+1)/(2+4))
 *                = -1.098612 - 1.791759 - 1.098612 = -3.988984
 * mass F = 2, T = 0.25: conf = 1 / (1 + exp((-3.988984 + 3.178054) / 0.5))
 *                            = 1 / (1 + exp(-1.621860)) = 0.835045
 * Contributions billing - tech: factur ln(1/2) - ln(1/6) = ln 3 = +1.098612,
 * bug ln(1/8) - ln(1/3) = ln(3/8) = -0.980829. */
static void test_multinomial_by_hand(void **state)
{
	(void)state;
	struct nb_model *m = model_new(NB_MULTINOMIAL, false, false);
	train_tiny(m);
	struct feat_bag *q = bag_of(query);
	struct nb_result r;
	const char *error;
	assert_int_equal(nb_classify(m, q, &r, &error), 0);
	assert_string_equal(r.label, "billing");
	assert_string_equal(r.runner_up, "tech");
	assert_true(fabs(r.score - -3.178054) < 1e-5);
	assert_true(fabs(r.runner_up_score - -3.988984) < 1e-5);
	assert_true(fabs(r.confidence - 0.835045) < 1e-5);
	assert_true(fabs(r.confidence + r.runner_up_confidence - 1.0) < 1e-12);
	assert_int_equal(r.known_features, 2);
	assert_int_equal(r.n_for, 1);
	assert_string_equal(r.for_label[0].token, "factur");
	assert_true(fabs(r.for_label[0].weight - 1.098612) < 1e-5);
	assert_int_equal(r.n_against, 1);
	assert_string_equal(r.against[0].token, "bug");
	assert_true(fabs(r.against[0].weight - -0.980829) < 1e-5);
	char *text = nb_explain(&r);
	assert_string_equal(text,
	                    "\"billing\" (confidence 0.84) mainly because of: \"factur\" (+1.1); "
	                    "against \"tech\" (0.16): \"bug\" (-1.0)");
	free(text);
	feat_bag_free(&q);
	nb_free(&m);
}

/* Complement, alpha 1, same corpus; V = 4.
 * complement of billing = tech counts: factur 0, bug 1, total 2
 * score(billing) = ln(2/3) - [ln((0+1)/(2+4)) + ln((1+1)/(2+4))]
 *                = -0.405465 + 1.791759 + 1.098612 = 2.484907
 * complement of tech = billing counts: factur 3, bug 0, total 4
 * score(tech)    = ln(1/3) - [ln((3+1)/(4+4)) + ln((0+1)/(4+4))]
 *                = -1.098612 + 0.693147 + 2.079442 = 1.673977 */
static void test_complement_by_hand(void **state)
{
	(void)state;
	struct nb_model *m = model_new(NB_COMPLEMENT, false, false);
	train_tiny(m);
	struct feat_bag *q = bag_of(query);
	struct nb_result r;
	const char *error;
	assert_int_equal(nb_classify(m, q, &r, &error), 0);
	assert_string_equal(r.label, "billing");
	assert_true(fabs(r.score - 2.484907) < 1e-5);
	assert_true(fabs(r.runner_up_score - 1.673977) < 1e-5);
	feat_bag_free(&q);
	nb_free(&m);
}

/* Length normalisation: {a:3, b:4} becomes {a:0.6, b:0.8}; with the TF
 * log first: {ln 4, ln 5} / sqrt(ln²4 + ln²5) = {0.6527, 0.7576}. */
static void test_transforms(void **state)
{
	(void)state;
	static const struct fc doc[] = {{"a", 3}, {"b", 4}, {NULL, 0}};
	const struct {
		bool log_tf, length_norm;
		double a, b;
	} cases[] = {
	    {false, false, 3.0, 4.0},
	    {false, true, 0.6, 0.8},
	    {true, false, log(4.0), log(5.0)},
	    {true, true, log(4.0) / hypot(log(4.0), log(5.0)),
	     log(5.0) / hypot(log(4.0), log(5.0))},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nb_model *m =
		    model_new(NB_MULTINOMIAL, cases[i].log_tf, cases[i].length_norm);
		struct feat_bag *bag = bag_of(doc);
		const char *error;
		assert_int_equal(nb_train(m, bag, "x", 2, &error), 0);
		assert_true(fabs(nb_get_count(m, "a", "x") - 2 * cases[i].a) < 4e-6);
		assert_true(fabs(nb_get_count(m, "b", "x") - 2 * cases[i].b) < 4e-6);
		assert_int_equal(nb_get_docs(m, "x"), 2);
		feat_bag_free(&bag);
		nb_free(&m);
	}
}

static char *save(const struct nb_model *m, size_t *len_r)
{
	char *buf;
	const char *error;
	assert_int_equal(nb_save(m, &buf, len_r, &error), 0);
	return buf;
}

static void assert_same_model(const struct nb_model *a, const struct nb_model *b)
{
	size_t la, lb;
	char *ba = save(a, &la), *bb = save(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
}

/* A small pseudo-random corpus (fixed seed) over a few labels. */
#define CORPUS 60
static struct feat_bag *corpus_bag(unsigned i)
{
	static const char *const words[] = {"factur",    "rembours", "connexion",  "bug",
	                                    "livraison", "colis",    "mot",        "pass",
	                                    "prix",      "retard",   "__amount__", "s:factur"};
	struct feat_bag *bag = feat_bag_new();
	uint32_t x = i * 2654435761u + 12345;
	const char *error;
	for (unsigned k = 0; k < 6; k++) {
		x = x * 1103515245u + 12345;
		assert_int_equal(feat_bag_add(bag, words[(x >> 16) % 12], 1 + (x >> 8) % 3, &error),
		                 0);
	}
	return bag;
}
static const char *corpus_label(unsigned i)
{
	static const char *const labels[] = {"billing", "tech", "delivery"};
	return labels[(i * 7) % 3];
}

static void test_incremental_equals_batch(void **state)
{
	(void)state;
	const struct {
		enum nb_variant v;
		bool log_tf, length_norm;
	} variants[] = {{NB_MULTINOMIAL, false, false},
	                {NB_COMPLEMENT, true, true},
	                {NB_MULTINOMIAL, false, true}};
	for (size_t v = 0; v < 3; v++) {
		struct nb_model *inc =
		    model_new(variants[v].v, variants[v].log_tf, variants[v].length_norm);
		struct nb_model *rev =
		    model_new(variants[v].v, variants[v].log_tf, variants[v].length_norm);
		struct nb_model *batch =
		    model_new(variants[v].v, variants[v].log_tf, variants[v].length_norm);
		struct feat_bag *bags[CORPUS];
		const char *labels[CORPUS];
		const char *error;
		for (unsigned i = 0; i < CORPUS; i++) {
			bags[i] = corpus_bag(i);
			labels[i] = corpus_label(i);
		}
		for (unsigned i = 0; i < CORPUS; i++)
			assert_int_equal(nb_train(inc, bags[i], labels[i], 1, &error), 0);
		for (unsigned i = CORPUS; i > 0; i--)
			assert_int_equal(nb_train(rev, bags[i - 1], labels[i - 1], 1, &error), 0);
		assert_int_equal(nb_train_batch(batch, (const struct feat_bag *const *)bags, labels,
		                                CORPUS, &error),
		                 0);
		assert_same_model(inc, batch);
		assert_same_model(rev, batch);
		/* and the same classification, to the bit */
		struct nb_result r1, r2;
		assert_int_equal(nb_classify(inc, bags[0], &r1, &error), 0);
		assert_int_equal(nb_classify(batch, bags[0], &r2, &error), 0);
		assert_string_equal(r1.label, r2.label);
		assert_true(r1.score == r2.score && r1.confidence == r2.confidence);
		for (unsigned i = 0; i < CORPUS; i++)
			feat_bag_free(&bags[i]);
		nb_free(&inc);
		nb_free(&rev);
		nb_free(&batch);
	}
}

static void test_untrain_restores(void **state)
{
	(void)state;
	struct nb_model *m = model_new(NB_COMPLEMENT, true, true);
	const char *error;
	for (unsigned i = 0; i < 20; i++) {
		struct feat_bag *bag = corpus_bag(i);
		assert_int_equal(nb_train(m, bag, corpus_label(i), 1, &error), 0);
		feat_bag_free(&bag);
	}
	size_t before_len;
	char *before = save(m, &before_len);
	size_t vocab = nb_vocabulary_size(m);
	/* a new label and new tokens, then forgotten */
	static const struct fc extra[] = {{"nouveau", 2}, {"factur", 1}, {NULL, 0}};
	struct feat_bag *bag = bag_of(extra);
	assert_int_equal(nb_train(m, bag, "spam", 3, &error), 0);
	assert_int_equal(nb_vocabulary_size(m), vocab + 1);
	assert_int_equal(nb_train(m, bag, "spam", -3, &error), 0);
	assert_int_equal(nb_vocabulary_size(m), vocab);
	size_t after_len;
	char *after = save(m, &after_len);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	/* forgetting what was never learnt fails and changes nothing */
	assert_int_equal(nb_train(m, bag, "spam", -1, &error), -1);
	assert_int_equal(nb_train(m, bag, "unknown-label", -1, &error), -1);
	assert_int_equal(nb_train(m, bag, "billing", 0, &error), -1);
	char *again = save(m, &after_len);
	assert_memory_equal(before, again, before_len);
	free(before);
	free(after);
	free(again);
	feat_bag_free(&bag);
	nb_free(&m);
}

/* The token that decides is listed first, with a positive weight; the
 * runner-up's best token is first among the "against" ones. */
static void test_explanation_order(void **state)
{
	(void)state;
	struct nb_model *m = model_new(NB_MULTINOMIAL, false, false);
	static const struct fc b1[] = {{"factur", 5}, {"rembours", 2}, {"commande", 1}, {NULL, 0}};
	static const struct fc t1[] = {{"connexion", 4}, {"commande", 1}, {NULL, 0}};
	static const struct fc q[] = {{"factur", 3}, {"rembours", 1}, {"connexion", 1}, {NULL, 0}};
	const char *error;
	struct feat_bag *a = bag_of(b1), *b = bag_of(t1), *c = bag_of(q);
	assert_int_equal(nb_train(m, a, "billing", 1, &error), 0);
	assert_int_equal(nb_train(m, b, "technical", 1, &error), 0);
	struct nb_result r;
	assert_int_equal(nb_classify(m, c, &r, &error), 0);
	assert_string_equal(r.label, "billing");
	assert_string_equal(r.for_label[0].token, "factur");
	assert_true(r.for_label[0].weight > 0);
	assert_int_equal(r.n_for, 2);
	assert_string_equal(r.for_label[1].token, "rembours");
	assert_true(r.for_label[0].weight > r.for_label[1].weight);
	assert_int_equal(r.n_against, 1);
	assert_string_equal(r.against[0].token, "connexion");
	assert_true(r.against[0].weight < 0);
	assert_true(r.confidence > 0.5 && r.confidence <= 1.0);
	feat_bag_free(&a);
	feat_bag_free(&b);
	feat_bag_free(&c);
	nb_free(&m);
}

/* End to end with the feature extractor: the sentence shows the mail's
 * words, not stems, and class tokens in words. */
static void test_explain_with_words(void **state)
{
	(void)state;
	struct feat_ctx *ctx;
	const char *error;
	const char *fr_stop = "le\nla\nde\nma\n", *en_stop = "the\nmy\n";
	assert_int_equal(
	    feat_ctx_new(fr_stop, strlen(fr_stop), en_stop, strlen(en_stop), &ctx, &error), 0);
	static const struct {
		const char *subject, *body, *label;
	} train[] = {
	    {"Facture", "Ma facture de 49,90 € est fausse, remboursement svp", "billing"},
	    {"Facturation", "Erreur de facturation, facture en double de 12 €", "billing"},
	    {"Connexion", "Impossible de me connecter, mot de passe refusé", "technical"},
	    {"Bug", "L'application plante à la connexion", "technical"},
	};
	struct nb_model *m = model_new(NB_COMPLEMENT, true, true);
	for (size_t i = 0; i < 4; i++) {
		struct feat_bag *bag;
		assert_int_equal(feat_extract(ctx, train[i].subject, strlen(train[i].subject),
		                              train[i].body, strlen(train[i].body), 0, &bag,
		                              &error),
		                 0);
		assert_int_equal(nb_train(m, bag, train[i].label, 1, &error), 0);
		feat_bag_free(&bag);
	}
	const char *body = "Bonjour, ma facture affiche 99,00 € au lieu de 49,90 €";
	struct feat_bag *bag;
	assert_int_equal(feat_extract(ctx, "Facture", 7, body, strlen(body), 0, &bag, &error), 0);
	struct nb_result r;
	assert_int_equal(nb_classify(m, bag, &r, &error), 0);
	assert_string_equal(r.label, "billing");
	char *text = nb_explain_words(&r, bag);
	assert_non_null(strstr(text, "\"facture\" in the subject ("));
	assert_non_null(strstr(text, "\"facture\" (+"));
	assert_non_null(strstr(text, "an amount (+"));
	assert_null(strstr(text, "factur\""));
	free(text);
	feat_bag_free(&bag);
	nb_free(&m);
	feat_ctx_free(&ctx);
}

struct rows {
	struct nb_model *into;
};
static int copy_label(void *ctx, const char *label, int64_t docs, double tokens)
{
	const char *error;
	(void)tokens;
	return nb_add_docs(((struct rows *)ctx)->into, label, docs, &error);
}
static int copy_count(void *ctx, const char *token, const char *label, double count)
{
	const char *error;
	return nb_add_count(((struct rows *)ctx)->into, token, label, count, &error);
}

static void test_rows_and_file_round_trip(void **state)
{
	(void)state;
	struct nb_model *m = model_new(NB_COMPLEMENT, true, true);
	const char *error;
	for (unsigned i = 0; i < CORPUS; i++) {
		struct feat_bag *bag = corpus_bag(i);
		assert_int_equal(nb_train(m, bag, corpus_label(i), 1, &error), 0);
		feat_bag_free(&bag);
	}
	struct rows rows = {model_new(NB_COMPLEMENT, true, true)};
	nb_foreach_label(m, copy_label, &rows);
	nb_foreach_count(m, copy_count, &rows);
	assert_same_model(m, rows.into);

	size_t len;
	char *buf = save(m, &len);
	struct nb_model *loaded;
	assert_int_equal(nb_load(buf, len, &loaded, &error), 0);
	assert_same_model(m, loaded);
	struct feat_bag *q = corpus_bag(7);
	struct nb_result r1, r2;
	assert_int_equal(nb_classify(m, q, &r1, &error), 0);
	assert_int_equal(nb_classify(loaded, q, &r2, &error), 0);
	assert_string_equal(r1.label, r2.label);
	assert_true(r1.score == r2.score);
	assert_int_equal(nb_caller_byte(loaded), 0); /* never set */

	/* the caller's byte comes back, and changes the file */
	nb_set_caller_byte(m, 0xA5);
	size_t len2;
	char *buf2 = save(m, &len2);
	assert_int_equal(len2, len);
	assert_memory_not_equal(buf, buf2, len);
	struct nb_model *loaded2;
	assert_int_equal(nb_load(buf2, len2, &loaded2, &error), 0);
	assert_int_equal(nb_caller_byte(loaded2), 0xA5);
	nb_free(&loaded2);
	free(buf2);

	/* every corruption is refused: truncation, a flipped byte, bad magic */
	for (size_t cut = 0; cut < len; cut += 1 + len / 50) {
		struct nb_model *bad = NULL;
		assert_int_equal(nb_load(buf, cut, &bad, &error), -1);
		assert_null(bad);
	}
	for (size_t i = 0; i < len; i += 1 + len / 50) {
		buf[i] ^= 0x40;
		struct nb_model *bad = NULL;
		assert_int_equal(nb_load(buf, len, &bad, &error), -1);
		buf[i] ^= 0x40;
	}
	free(buf);
	feat_bag_free(&q);
	nb_free(&loaded);
	nb_free(&rows.into);
	nb_free(&m);
}

/* Mean log loss of the true labels through nb_classify (two labels). */
static double log_loss(const struct nb_model *m, struct feat_bag **bags, const char **labels,
                       size_t n)
{
	double total = 0;
	const char *error;
	for (size_t i = 0; i < n; i++) {
		struct nb_result r;
		assert_int_equal(nb_classify(m, bags[i], &r, &error), 0);
		double p = strcmp(r.label, labels[i]) == 0 ? r.confidence : r.runner_up_confidence;
		total -= log(p > 1e-300 ? p : 1e-300);
	}
	return total / (double)n;
}

/* Words mostly from the label's own set, sometimes from the other one. */
static struct feat_bag *labelled_bag(unsigned i, bool billing)
{
	static const char *const b[] = {"factur", "rembours", "prix", "paiement"};
	static const char *const t[] = {"connexion", "bug", "mot", "pass"};
	struct feat_bag *bag = feat_bag_new();
	uint32_t x = i * 2654435761u + 99;
	const char *error;
	for (unsigned k = 0; k < 5; k++) {
		x = x * 1103515245u + 12345;
		bool own = (x >> 12) % 10 < 7;
		const char *const *set = own == billing ? b : t;
		assert_int_equal(feat_bag_add(bag, set[(x >> 20) % 4], 1, &error), 0);
	}
	return bag;
}

static void test_fit_temperature(void **state)
{
	(void)state;
	struct nb_model *m = model_new(NB_MULTINOMIAL, false, false);
	const char *error;
	struct feat_bag *bags[CORPUS];
	const char *labels[CORPUS], *noisy[CORPUS];
	/* two labels: billing (i even) and tech (i odd), words drawn per label */
	for (unsigned i = 0; i < CORPUS; i++) {
		labels[i] = i % 2 == 0 ? "billing" : "tech";
		bags[i] = labelled_bag(i, i % 2 == 0);
		noisy[i] = i % 3 == 0 ? (labels[i][0] == 'b' ? "tech" : "billing") : labels[i];
	}
	for (unsigned i = 0; i < CORPUS / 2; i++)
		assert_int_equal(nb_train(m, bags[i], labels[i], 1, &error), 0);
	struct feat_bag **held = bags + CORPUS / 2;
	double t_clean, t_noisy;
	assert_int_equal(nb_fit_temperature(m, (const struct feat_bag *const *)held,
	                                    labels + CORPUS / 2, CORPUS / 2, &t_clean, &error),
	                 0);
	assert_int_equal(nb_fit_temperature(m, (const struct feat_bag *const *)held,
	                                    noisy + CORPUS / 2, CORPUS / 2, &t_noisy, &error),
	                 0);
	/* wrong labels in the held-out set call for less confidence */
	assert_true(t_noisy > t_clean);
	/* the fitted temperature is a minimum of the log loss */
	assert_int_equal(nb_set_temperature(m, t_noisy, &error), 0);
	double at = log_loss(m, held, noisy + CORPUS / 2, CORPUS / 2);
	assert_int_equal(nb_set_temperature(m, t_noisy * 1.5, &error), 0);
	assert_true(log_loss(m, held, noisy + CORPUS / 2, CORPUS / 2) > at);
	assert_int_equal(nb_set_temperature(m, t_noisy / 1.5, &error), 0);
	assert_true(log_loss(m, held, noisy + CORPUS / 2, CORPUS / 2) > at);
	/* no usable example */
	const char *unknown[1] = {"nope"};
	assert_int_equal(nb_fit_temperature(m, (const struct feat_bag *const *)held, unknown, 1,
	                                    &t_clean, &error),
	                 -1);
	for (unsigned i = 0; i < CORPUS; i++)
		feat_bag_free(&bags[i]);
	nb_free(&m);
}

/* Eight plain hams, eight plain spams, and one spam written with ham words
 * and a single word of its own: counted once, it is outvoted. */
#define THICK_N 17
static void thick_corpus(struct feat_bag **bags, const char **labels)
{
	static const struct fc ham[] = {{"hello", 1}, {"meeting", 1}, {NULL, 0}};
	static const struct fc spam[] = {{"free", 1}, {"money", 1}, {NULL, 0}};
	static const struct fc hard[] = {{"hello", 1}, {"meeting", 1}, {"offer", 1}, {NULL, 0}};
	for (unsigned i = 0; i < 16; i++) {
		bags[i] = bag_of(i % 2 ? spam : ham);
		labels[i] = i % 2 ? "spam" : "ham";
	}
	bags[16] = bag_of(hard);
	labels[16] = "spam";
}

static int count_docs(void *ctx, const char *label, int64_t docs, double tokens)
{
	(void)label;
	(void)tokens;
	*(int64_t *)ctx += docs;
	return 0;
}

static void test_thick_threshold(void **state)
{
	(void)state;
	struct feat_bag *bags[THICK_N];
	const char *labels[THICK_N];
	const char *error;
	thick_corpus(bags, labels);
	const struct feat_bag *const *cb = (const struct feat_bag *const *)bags;
	struct nb_model *once = model_new(NB_MULTINOMIAL, false, false);
	struct nb_model *zero = model_new(NB_MULTINOMIAL, false, false);
	struct nb_model *thick = model_new(NB_MULTINOMIAL, false, false);
	assert_int_equal(nb_train_batch(once, cb, labels, THICK_N, &error), 0);
	struct nb_result r;
	assert_int_equal(nb_classify(once, bags[16], &r, &error), 0);
	assert_string_equal(r.label, "ham"); /* the error thick training is for */

	/* no pass: exactly the batch */
	size_t retrained = 99;
	assert_int_equal(nb_train_thick(zero, cb, labels, THICK_N, 0, 0.45, &retrained, &error), 0);
	assert_int_equal(retrained, 0);
	assert_same_model(zero, once);

	assert_int_equal(nb_train_thick(thick, cb, labels, THICK_N, 20, 0.45, &retrained, &error),
	                 0);
	assert_true(retrained >= 1);
	assert_int_equal(nb_classify(thick, bags[16], &r, &error), 0);
	assert_string_equal(r.label, "spam");
	/* the easy examples stay right */
	for (unsigned i = 0; i < 16; i++) {
		assert_int_equal(nb_classify(thick, bags[i], &r, &error), 0);
		assert_string_equal(r.label, labels[i]);
	}
	/* every retrained example counts as one more document */
	int64_t docs_once = 0, docs_thick = 0;
	nb_foreach_label(once, count_docs, &docs_once);
	nb_foreach_label(thick, count_docs, &docs_thick);
	assert_int_equal(docs_once, THICK_N);
	assert_int_equal(docs_thick - docs_once, (int64_t)retrained);

	/* the same input gives the same model */
	struct nb_model *again = model_new(NB_MULTINOMIAL, false, false);
	assert_int_equal(nb_train_thick(again, cb, labels, THICK_N, 20, 0.45, NULL, &error), 0);
	assert_same_model(again, thick);

	assert_int_equal(nb_train_thick(again, cb, labels, THICK_N, 1, 0.5, NULL, &error), -1);
	assert_int_equal(nb_train_thick(again, cb, labels, THICK_N, 1, -0.1, NULL, &error), -1);
	assert_same_model(again, thick); /* refused before any change */
	for (unsigned i = 0; i < THICK_N; i++)
		feat_bag_free(&bags[i]);
	nb_free(&once);
	nb_free(&zero);
	nb_free(&thick);
	nb_free(&again);
}

/* A hashed bag holds the features of the string bag of the same mail, as
 * hashes, in the same order with the same counts, and classifies to the
 * same bits. */
static void assert_same_result(const struct nb_result *a, const struct nb_result *b)
{
	assert_string_equal(a->label, b->label);
	assert_string_equal(a->runner_up, b->runner_up);
	assert_memory_equal(&a->confidence, &b->confidence, sizeof(a->confidence));
	assert_memory_equal(&a->score, &b->score, sizeof(a->score));
	assert_memory_equal(&a->runner_up_score, &b->runner_up_score, sizeof(a->score));
	assert_int_equal(a->known_features, b->known_features);
	assert_int_equal(a->n_for, b->n_for);
	assert_int_equal(a->n_against, b->n_against);
	for (size_t i = 0; i < a->n_for; i++) {
		assert_string_equal(a->for_label[i].token, b->for_label[i].token);
		assert_memory_equal(&a->for_label[i].weight, &b->for_label[i].weight,
		                    sizeof(double));
	}
	for (size_t i = 0; i < a->n_against; i++)
		assert_string_equal(a->against[i].token, b->against[i].token);
}

static void test_hashed_bags_agree(void **state)
{
	(void)state;
	struct feat_ctx *ctx;
	const char *error;
	const char *en_stop = "the\nmy\n";
	assert_int_equal(feat_ctx_new(NULL, 0, en_stop, strlen(en_stop), &ctx, &error), 0);
	static const struct {
		const char *headers, *body, *label;
	} mails[] = {
	    {"From: Alice <alice@example.org>\nSubject: lunch tomorrow?\n"
	     "Received: from mx.example.org (10.1.2.3)\n",
	     "Hi Bob, shall we meet at the usual place? See https://example.org/menu", "ham"},
	    {"From: \"Deals\" <win@cheap-pills.biz>\nSubject: FREE money now!!!\n"
	     "X-Mailer: BulkMailer 5.0\nContent-Type: text/html\n",
	     "<b>Earn $5000</b> a week from home, click http://cheap-pills.biz/now", "spam"},
	    {"From: Bob <bob@example.org>\nSubject: Re: lunch tomorrow?\n",
	     "Yes, noon is fine. My invoice INV-2024-001 is attached, 49.90 EUR.", "ham"},
	    {"From: offers@cheap-pills.biz\nSubject: your prize\nReply-To: a@b.cc\n",
	     "You won a prize! Claim your money at http://cheap-pills.biz/claim today", "spam"},
	};
	const unsigned flags = FEAT_NO_STEM | FEAT_KEEP_STOPWORDS | FEAT_FEATURES_ONLY;
	struct nb_model *m = model_new(NB_COMPLEMENT, true, true);
	for (size_t i = 0; i < sizeof(mails) / sizeof(mails[0]); i++) {
		struct feat_bag *bag;
		assert_int_equal(feat_extract_mail(ctx, mails[i].headers, strlen(mails[i].headers),
		                                   mails[i].body, strlen(mails[i].body), flags,
		                                   &bag, &error),
		                 0);
		assert_int_equal(nb_train(m, bag, mails[i].label, 1, &error), 0);
		feat_bag_free(&bag);
	}
	/* A long body (more features than the hashed bag's first table) too. */
	char long_body[16384];
	size_t len = 0;
	for (unsigned i = 0; len + 32 < sizeof(long_body); i++)
		len += (size_t)snprintf(long_body + len, sizeof(long_body) - len, "w%c%c%c money ",
		                        'a' + i % 26, 'a' + i / 26 % 26, 'a' + i / 676 % 26);
	const char *queries[][2] = {
	    {"From: Carol <carol@example.org>\nSubject: lunch?\n", "Free lunch at noon, Bob"},
	    {"From: x@cheap-pills.biz\nSubject: money\n", "click http://cheap-pills.biz/"},
	    {"Subject: unknown words only\n", "zyxxy qwerty"},
	    {"From: Dan <dan@example.org>\nSubject: long\n", long_body},
	};
	struct feat_bag *hashed = feat_bag_new_hashed();
	assert_true(feat_bag_is_hashed(hashed));
	struct nb_result r_str, r_hash;
	assert_int_equal(nb_classify(m, hashed, &r_hash, &error), -1); /* no index yet */
	assert_int_equal(nb_prepare_hashed(m, &error), 0);
	for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
		struct feat_bag *bag;
		assert_int_equal(feat_extract_mail(ctx, queries[q][0], strlen(queries[q][0]),
		                                   queries[q][1], strlen(queries[q][1]), flags,
		                                   &bag, &error),
		                 0);
		/* the same hashed bag, reused from query to query */
		assert_int_equal(feat_extract_mail_into(ctx, queries[q][0], strlen(queries[q][0]),
		                                        queries[q][1], strlen(queries[q][1]), flags,
		                                        hashed, &error),
		                 0);
		size_t n = feat_bag_count(bag);
		assert_int_equal(feat_bag_count(hashed), n);
		if (q == 3) /* past the first table of a hashed bag (1024 slots) */
			assert_true(n > 600);
		const uint64_t *hash = feat_bag_hashes(hashed);
		const uint32_t *count = feat_bag_counts(hashed);
		for (size_t i = 0; i < n; i++) {
			const char *f;
			uint32_t c;
			feat_bag_get(bag, i, &f, &c);
			assert_true(hash[i] == feat_hash(f, strlen(f)));
			assert_int_equal(count[i], c);
		}
		assert_int_equal(feat_bag_truncated(hashed), feat_bag_truncated(bag));
		assert_int_equal(nb_classify(m, bag, &r_str, &error), 0);
		assert_int_equal(nb_classify(m, hashed, &r_hash, &error), 0);
		assert_same_result(&r_str, &r_hash);
		assert_int_equal(nb_classify_with(m, bag, NB_CLASSIFY_NO_REASONS, &r_str, &error),
		                 0);
		assert_int_equal(
		    nb_classify_with(m, hashed, NB_CLASSIFY_NO_REASONS, &r_hash, &error), 0);
		assert_same_result(&r_str, &r_hash);
		feat_bag_free(&bag);
	}
	assert_null(feat_bag_surface(hashed, "money"));
	/* a hashed bag has no strings to train on */
	assert_int_equal(nb_train(m, hashed, "spam", 1, &error), -1);
	/* a new feature drops the index, which is built again */
	const char *add = "brand-new-feature";
	assert_int_equal(nb_add_count(m, add, "spam", 1, &error), 0);
	assert_int_equal(nb_classify(m, hashed, &r_hash, &error), -1);
	assert_int_equal(nb_prepare_hashed(m, &error), 0);
	assert_int_equal(nb_classify(m, hashed, &r_hash, &error), 0);
	feat_bag_reset(hashed);
	assert_int_equal(feat_bag_count(hashed), 0);
	assert_int_equal(feat_bag_add(hashed, add, 3, &error), 0);
	assert_int_equal(feat_bag_count(hashed), 1);
	assert_true(feat_bag_hashes(hashed)[0] == feat_hash(add, strlen(add)));
	assert_int_equal(feat_bag_counts(hashed)[0], 3);
	assert_int_equal(nb_classify(m, hashed, &r_hash, &error), 0);
	assert_string_equal(r_hash.label, "spam");
	feat_bag_free(&hashed);
	feat_bag_free(&hashed); /* NULL is fine */
	nb_free(&m);
	feat_ctx_free(&ctx);
}

static void test_errors_and_limits(void **state)
{
	(void)state;
	struct nb_options o;
	nb_options_default(&o);
	struct nb_model *m = NULL;
	const char *error;
	o.alpha = 0;
	assert_int_equal(nb_new(&o, &m, &error), -1);
	assert_null(m);
	nb_options_default(&o);
	o.temperature = -1;
	assert_int_equal(nb_new(&o, &m, &error), -1);
	m = model_new(NB_MULTINOMIAL, false, false);
	struct feat_bag *bag = bag_of(doc1);
	struct nb_result r;
	/* one label only: no decision possible */
	assert_int_equal(nb_train(m, bag, "billing", 1, &error), 0);
	assert_int_equal(nb_classify(m, bag, &r, &error), -1);
	char longlabel[NB_MAX_LABEL_LEN + 2];
	memset(longlabel, 'x', sizeof(longlabel) - 1);
	longlabel[sizeof(longlabel) - 1] = '\0';
	assert_int_equal(nb_train(m, bag, longlabel, 1, &error), -1);
	assert_int_equal(nb_train(m, bag, "", 1, &error), -1);
	assert_int_equal(nb_train(m, bag, "x", NB_MAX_WEIGHT + 1, &error), -1);
	assert_int_equal(nb_add_count(m, "t", "billing", -1, &error), -1);
	assert_int_equal(nb_add_count(m, "t", "billing", NAN, &error), -1);
	assert_int_equal(nb_set_temperature(m, 0, &error), -1);
	assert_int_equal(nb_set_temperature(m, 1.0, &error), 0);
	/* label cap */
	char name[16];
	int rc = 0;
	for (unsigned i = 0; i < NB_MAX_LABELS + 1 && rc == 0; i++) {
		snprintf(name, sizeof(name), "l%u", i);
		rc = nb_train(m, bag, name, 1, &error);
	}
	assert_int_equal(rc, -1);
	feat_bag_free(&bag);
	nb_free(&m);
	nb_free(&m); /* NULL is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_multinomial_by_hand),
	    cmocka_unit_test(test_complement_by_hand),
	    cmocka_unit_test(test_transforms),
	    cmocka_unit_test(test_incremental_equals_batch),
	    cmocka_unit_test(test_untrain_restores),
	    cmocka_unit_test(test_explanation_order),
	    cmocka_unit_test(test_explain_with_words),
	    cmocka_unit_test(test_rows_and_file_round_trip),
	    cmocka_unit_test(test_fit_temperature),
	    cmocka_unit_test(test_thick_threshold),
	    cmocka_unit_test(test_hashed_bags_agree),
	    cmocka_unit_test(test_errors_and_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
