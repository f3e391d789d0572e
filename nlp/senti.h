/* Lexicon-based sentiment for support mail (French and English): lexicon
 * terms and multi-word expressions, negation, intensifiers and diminishers,
 * contrast ("mais", "but": the part after weighs more), capitals,
 * exclamation marks, emoji and emoticons. Rules after VADER (Hutto and
 * Gilbert, ICWSM 2014), constants noted where they are used.
 * Ownership: the caller owns the lexicon (senti_lexicon_free); results are
 * plain structs with copies. Analysis only reads the lexicon. */
#ifndef TRIAGED_NLP_SENTI_H
#define TRIAGED_NLP_SENTI_H

#include <stddef.h>

/* Only the start of a long mail is read: the customer's mood shows early. */
#define SENTI_MAX_INPUT (64 * 1024)
#define SENTI_MAX_TOKENS 4000
#define SENTI_MAX_TERM_WORDS 4
#define SENTI_MAX_REASONS 8
/* score >= this: positive; <= -this: negative; neutral between. One mild
 * word (|score| <= 0.6 in the lexicon) stays neutral on its own. */
#define SENTI_THRESHOLD 0.15

enum senti_label {
	SENTI_NEGATIVE = -1,
	SENTI_NEUTRAL = 0,
	SENTI_POSITIVE = 1,
};

struct senti_reason {
	char term[96];       /* the lexicon term, with "(negated)" etc. */
	double contribution; /* to the raw sum before normalisation */
};

struct senti_result {
	double score; /* in [-1, 1] */
	enum senti_label label;
	size_t n_reasons; /* largest |contribution| first */
	struct senti_reason reasons[SENTI_MAX_REASONS];
};

struct senti_lexicon;

struct senti_lexicon *senti_lexicon_new(void);
void senti_lexicon_free(struct senti_lexicon **lex);
/* Adds the entries of a TSV buffer ("term<TAB>score", score in [-3, 3],
 * '#' comments, blank lines); a later entry for the same term replaces the
 * earlier one. On error *error_r names the line and stays valid until the
 * next call on this lexicon. */
int senti_lexicon_load(struct senti_lexicon *lex, const char *tsv, size_t len,
                       const char **error_r);
size_t senti_lexicon_size(const struct senti_lexicon *lex);

int senti_analyse(const struct senti_lexicon *lex, const char *text, size_t len,
                  struct senti_result *result_r, const char **error_r);
/* "negative", "neutral", "positive" */
const char *senti_label_name(enum senti_label label);

#endif
