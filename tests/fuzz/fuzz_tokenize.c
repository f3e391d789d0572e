/* libFuzzer target: normalisation + tokeniser (on normalised and on raw
 * bytes), language guess, header-aware feature extraction, and the
 * sentiment analyser and its lexicon loader (they read mail text too).
 * Build: clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Inlp -Icommon
 *        tests/fuzz/fuzz_tokenize.c nlp/(*).c common/(*).c -lutf8proc -lstemmer -lm */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feat.h"
#include "lang.h"
#include "norm.h"
#include "senti.h"
#include "tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_token(void *ctx, const char *text, size_t len, enum tok_kind kind)
{
	size_t *total = ctx;
	/* every token is non-empty and bounded */
	if (len == 0 || (kind == TOK_WORD && len > TOK_MAX_WORD_LEN))
		abort();
	*total += (unsigned char)text[0] + (unsigned char)text[len - 1];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct feat_ctx *ctx;
	static struct senti_lexicon *lex;
	const char *error;
	if (ctx == NULL && feat_ctx_new("le\nla\n", 6, "the\n", 4, &ctx, &error) < 0)
		abort();
	if (lex == NULL) {
		static const char tsv[] =
		    "bien\t1\nne marche pas\t-2\nnot happy\t-2\n\xf0\x9f\x98\xa1\t-3\n:)\t1\n";
		lex = senti_lexicon_new();
		if (senti_lexicon_load(lex, tsv, sizeof(tsv) - 1, &error) < 0)
			abort();
	}
	const char *in = (const char *)data;
	char *norm;
	size_t len, total = 0;
	bool truncated;
	if (norm_text(in, size, 0, &norm, &len, &error) == 0) {
		if (strlen(norm) != len)
			abort();
		size_t n = tok_tokenize(norm, len, 64, check_token, &total, &truncated);
		if (n > 64)
			abort();
		free(norm);
	}
	tok_tokenize(in, size, TOK_MAX_TOKENS, check_token, &total, &truncated);
	enum lang lang;
	double conf;
	if (lang_guess(in, size, &lang, &conf, &error) == 0 && !(conf >= 0.0 && conf <= 1.0))
		abort();
	/* headers, then body after the first empty line */
	const uint8_t *sep = memmem(data, size, "\n\n", 2);
	size_t hlen = sep != NULL ? (size_t)(sep - data) : size;
	struct feat_bag *bag;
	if (feat_extract_mail(ctx, in, hlen, in + hlen, size - hlen, 0, &bag, &error) == 0)
		feat_bag_free(&bag);
	/* the spam model's features: whole words, pairs, no terms */
	const unsigned spam = FEAT_NO_STEM | FEAT_KEEP_STOPWORDS | FEAT_FEATURES_ONLY | FEAT_BIGRAMS;
	if (feat_extract_mail(ctx, in, hlen, in + hlen, size - hlen, spam, &bag, &error) == 0) {
		if (feat_bag_term_count(bag) != 0)
			abort();
		feat_bag_free(&bag);
	}
	struct senti_result sr;
	if (senti_analyse(lex, in, size, &sr, &error) == 0 &&
	    (!(sr.score >= -1.0 && sr.score <= 1.0) || sr.n_reasons > SENTI_MAX_REASONS))
		abort();
	struct senti_lexicon *scratch = senti_lexicon_new();
	(void)senti_lexicon_load(scratch, in, size, &error);
	senti_lexicon_free(&scratch);
	return 0;
}
