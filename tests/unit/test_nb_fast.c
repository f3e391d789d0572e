/* The bulk classification paths: nb_prepare's weight table and
 * NB_CLASSIFY_NO_REASONS give the very results of the plain path, training
 * after nb_prepare is not served stale weights, uniform_prior survives the
 * model file and removes the pull of the larger class; mime_utf8_valid's
 * 8-byte ASCII steps agree with a byte-by-byte check at every alignment. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "feat.h"
#include "mime.h"
#include "nb.h"

static uint32_t rng_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) % n;
}

/* A random bag over a vocabulary of 300 words, label-dependent skew so that
 * the classes are learnable but overlap. */
static struct feat_bag *random_bag(unsigned label, size_t words)
{
	struct feat_bag *bag = feat_bag_new();
	const char *error;
	for (size_t i = 0; i < words; i++) {
		char w[16];
		uint32_t k = rnd(300);
		if (rnd(3) == 0)
			k = (k % 100) + 100 * label;
		snprintf(w, sizeof(w), "w%u", k);
		assert_int_equal(feat_bag_add(bag, w, 1 + rnd(3), &error), 0);
	}
	return bag;
}

static const char *const labels3[] = {"billing", "tech", "spam"};

static struct nb_model *trained(enum nb_variant variant, bool norm, bool uniform, size_t docs)
{
	struct nb_options o;
	nb_options_default(&o);
	o.variant = variant;
	o.log_tf = o.length_norm = norm;
	o.alpha = 0.01;
	o.uniform_prior = uniform;
	struct nb_model *m;
	const char *error;
	assert_int_equal(nb_new(&o, &m, &error), 0);
	for (size_t i = 0; i < docs; i++) {
		unsigned l = (unsigned)(i % 3);
		struct feat_bag *bag = random_bag(l, 5 + rnd(40));
		assert_int_equal(nb_train(m, bag, labels3[l], 1, &error), 0);
		feat_bag_free(&bag);
	}
	return m;
}

static void assert_same_result(const struct nb_result *a, const struct nb_result *b,
                               bool reasons)
{
	assert_string_equal(a->label, b->label);
	assert_string_equal(a->runner_up, b->runner_up);
	/* Bit for bit: the table holds the values the plain path computes. */
	assert_memory_equal(&a->score, &b->score, sizeof(double));
	assert_memory_equal(&a->runner_up_score, &b->runner_up_score, sizeof(double));
	assert_memory_equal(&a->confidence, &b->confidence, sizeof(double));
	assert_memory_equal(&a->runner_up_confidence, &b->runner_up_confidence, sizeof(double));
	assert_int_equal(a->known_features, b->known_features);
	if (!reasons)
		return;
	assert_int_equal(a->n_for, b->n_for);
	assert_int_equal(a->n_against, b->n_against);
	for (size_t i = 0; i < a->n_for; i++)
		assert_string_equal(a->for_label[i].token, b->for_label[i].token);
	for (size_t i = 0; i < a->n_against; i++)
		assert_string_equal(a->against[i].token, b->against[i].token);
}

static void test_prepare_and_no_reasons_same_results(void **state)
{
	(void)state;
	for (int variant = 0; variant < 2; variant++) {
		for (int norm = 0; norm < 2; norm++) {
			struct nb_model *fast = trained(variant, norm, false, 90);
			rng_state = 99;
			nb_prepare(fast);
			const char *error;
			/* Bags from 1 feature to more than the stack scratch holds. */
			for (size_t q = 0; q < 40; q++) {
				size_t words = q == 39 ? 2000 : 1 + rnd(60);
				struct feat_bag *bag = random_bag((unsigned)(q % 3), words);
				struct nb_result b, c;
				assert_int_equal(nb_classify(fast, bag, &b, &error), 0);
				assert_int_equal(
				    nb_classify_with(fast, bag, NB_CLASSIFY_NO_REASONS, &c, &error), 0);
				assert_true(b.n_for + b.n_against > 0 || b.known_features == 0);
				assert_int_equal(c.n_for, 0);
				assert_int_equal(c.n_against, 0);
				assert_same_result(&b, &c, false);
				feat_bag_free(&bag);
			}
			nb_free(&fast);
		}
	}
}

/* The same model with and without its table: identical bits. */
static void test_table_equals_computation(void **state)
{
	(void)state;
	for (int variant = 0; variant < 2; variant++) {
		rng_state = 4242;
		struct nb_model *a = trained(variant, true, false, 60);
		rng_state = 4242;
		struct nb_model *b = trained(variant, true, false, 60);
		nb_prepare(b);
		const char *error;
		for (size_t q = 0; q < 30; q++) {
			struct feat_bag *bag = random_bag((unsigned)(q % 3), 1 + rnd(80));
			struct nb_result ra, rb;
			assert_int_equal(nb_classify(a, bag, &ra, &error), 0);
			assert_int_equal(nb_classify(b, bag, &rb, &error), 0);
			assert_same_result(&ra, &rb, true);
			feat_bag_free(&bag);
		}
		/* Training after nb_prepare: the table must not be used stale. */
		rng_state = 5;
		for (size_t i = 0; i < 30; i++) {
			struct feat_bag *bag = random_bag(2, 20);
			assert_int_equal(nb_train(a, bag, "spam", 1, &error), 0);
			assert_int_equal(nb_train(b, bag, "spam", 1, &error), 0);
			feat_bag_free(&bag);
		}
		struct feat_bag *bag = random_bag(2, 30);
		struct nb_result ra, rb;
		assert_int_equal(nb_classify(a, bag, &ra, &error), 0);
		assert_int_equal(nb_classify(b, bag, &rb, &error), 0);
		assert_same_result(&ra, &rb, true);
		/* A new label widens the rows: the same again. */
		assert_int_equal(nb_train(a, bag, "other", 1, &error), 0);
		assert_int_equal(nb_train(b, bag, "other", 1, &error), 0);
		nb_prepare(b);
		assert_int_equal(nb_train(a, bag, "other2", 1, &error), 0);
		assert_int_equal(nb_train(b, bag, "other2", 1, &error), 0);
		assert_int_equal(nb_classify(a, bag, &ra, &error), 0);
		assert_int_equal(nb_classify(b, bag, &rb, &error), 0);
		assert_same_result(&ra, &rb, true);
		feat_bag_free(&bag);
		nb_free(&a);
		nb_free(&b);
	}
}

/* 11 ham documents for 10 spam ones: each score differs between the two
 * models by exactly the log prior of its label; the option survives
 * save / load. */
static void test_uniform_prior(void **state)
{
	(void)state;
	struct nb_options o;
	nb_options_default(&o);
	o.log_tf = o.length_norm = true;
	const char *error;
	struct nb_model *share, *uniform;
	assert_int_equal(nb_new(&o, &share, &error), 0);
	o.uniform_prior = true;
	assert_int_equal(nb_new(&o, &uniform, &error), 0);
	struct feat_bag *h = feat_bag_new(), *s = feat_bag_new(), *q = feat_bag_new();
	assert_int_equal(feat_bag_add(h, "hello", 1, &error), 0);
	assert_int_equal(feat_bag_add(h, "meeting", 1, &error), 0);
	assert_int_equal(feat_bag_add(s, "hello", 1, &error), 0);
	assert_int_equal(feat_bag_add(s, "viagra", 1, &error), 0);
	assert_int_equal(feat_bag_add(q, "meeting", 1, &error), 0);
	assert_int_equal(feat_bag_add(q, "viagra", 1, &error), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(nb_train(share, h, "ham", 1, &error), 0);
		assert_int_equal(nb_train(uniform, h, "ham", 1, &error), 0);
	}
	/* As many spam tokens in one mail as ham tokens in ten. */
	assert_int_equal(nb_train(share, s, "spam", 10, &error), 0);
	assert_int_equal(nb_train(uniform, s, "spam", 10, &error), 0);
	/* Documents 10 and 10 (weight 10 counts ten): one more ham mail skews
	 * the prior. */
	assert_int_equal(nb_train(share, h, "ham", 1, &error), 0);
	assert_int_equal(nb_train(uniform, h, "ham", 1, &error), 0);
	struct nb_result rs, ru;
	assert_int_equal(nb_classify(share, q, &rs, &error), 0);
	assert_int_equal(nb_classify(uniform, q, &ru, &error), 0);
	/* The prior term is exactly the difference of the two scores of ham. */
	double ham_share = strcmp(rs.label, "ham") == 0 ? rs.score : rs.runner_up_score;
	double ham_uniform = strcmp(ru.label, "ham") == 0 ? ru.score : ru.runner_up_score;
	assert_true(fabs(ham_share - ham_uniform - log(11.0 / 21.0)) < 1e-9);
	double spam_share = strcmp(rs.label, "spam") == 0 ? rs.score : rs.runner_up_score;
	double spam_uniform = strcmp(ru.label, "spam") == 0 ? ru.score : ru.runner_up_score;
	assert_true(fabs(spam_share - spam_uniform - log(10.0 / 21.0)) < 1e-9);

	char *buf;
	size_t len;
	struct nb_model *back;
	assert_int_equal(nb_save(uniform, &buf, &len, &error), 0);
	assert_int_equal(nb_load(buf, len, &back, &error), 0);
	struct nb_options got;
	nb_get_options(back, &got);
	assert_true(got.uniform_prior);
	struct nb_result rb;
	assert_int_equal(nb_classify(back, q, &rb, &error), 0);
	assert_string_equal(rb.label, ru.label);
	assert_true(fabs(rb.score - ru.score) < 1e-9);
	free(buf);
	assert_int_equal(nb_save(share, &buf, &len, &error), 0);
	nb_free(&back);
	assert_int_equal(nb_load(buf, len, &back, &error), 0);
	nb_get_options(back, &got);
	assert_false(got.uniform_prior);
	free(buf);
	nb_free(&back);
	feat_bag_free(&h);
	feat_bag_free(&s);
	feat_bag_free(&q);
	nb_free(&share);
	nb_free(&uniform);
}

static bool utf8_valid_bytewise(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned c = p[i];
		size_t l = 0;
		if (c >= 0x01 && c < 0x80)
			l = 1;
		else if (c >= 0xC2 && c <= 0xDF)
			l = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			l = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			l = 4;
		if (l == 0 || i + l > len)
			return false;
		for (size_t k = 1; k < l; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
		if ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] >= 0xA0) ||
		    (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] >= 0x90))
			return false;
		i += l;
	}
	return true;
}

/* One odd byte (NUL, 0x80, a lead byte, a whole é) at every position of
 * ASCII texts of every length up to 40, at every alignment. */
static void test_utf8_valid_ascii_steps(void **state)
{
	(void)state;
	static const char *const odd[] = {"\0", "\x80", "\xC3", "\xC3\xA9", "\xE2\x82\xAC",
	                                  "\xF0\x9F\x98\x80", "\xED\xA0\x80", "\x7F", "\x01"};
	char buf[64];
	for (size_t len = 0; len <= 40; len++) {
		for (size_t off = 0; off < 8; off++) {
			for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
				size_t olen = k == 0 ? 1 : strlen(odd[k]);
				for (size_t pos = 0; pos + olen <= len; pos++) {
					char *p = buf + off;
					for (size_t i = 0; i < len; i++)
						p[i] = (char)('a' + (i % 26));
					memcpy(p + pos, odd[k], olen);
					assert_int_equal(
					    mime_utf8_valid(p, len),
					    utf8_valid_bytewise((const unsigned char *)p, len));
				}
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prepare_and_no_reasons_same_results),
	    cmocka_unit_test(test_table_equals_computation),
	    cmocka_unit_test(test_uniform_prior),
	    cmocka_unit_test(test_utf8_valid_ascii_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
