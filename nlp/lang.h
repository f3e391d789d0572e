/* Language guess (French / English / other) for short support mails, from
 * function-word and character-trigram evidence.
 * Ownership: nothing is allocated for the caller. */
#ifndef TRIAGED_NLP_LANG_H
#define TRIAGED_NLP_LANG_H

#include <stddef.h>

enum lang {
	LANG_OTHER = 0,
	LANG_FR,
	LANG_EN,
};

/* Guesses the language of len bytes of raw UTF-8 text (accents help, so pass
 * the text before norm_text()). *confidence_r is in [0,1]: for FR/EN the
 * probability of that language against the other one, for LANG_OTHER how
 * sure we are that it is neither (0 when there was no evidence at all).
 * Only the first LANG_MAX_INPUT bytes are looked at. */
#define LANG_MAX_INPUT (16 * 1024)
int lang_guess(const char *text, size_t len, enum lang *lang_r, double *confidence_r,
               const char **error_r);

/* "fr", "en" or "other". */
const char *lang_code(enum lang lang);

#endif
