/* Tokeniser for normalised text (see norm.h): words with French elisions
 * stripped and English contractions kept whole, and class tokens for URLs,
 * e-mail addresses, money amounts, order and invoice numbers, other
 * references and plain numbers.
 * Ownership: token text handed to the callback points into the caller's
 * input or into static storage; it is valid only during the call. */
#ifndef TRIAGED_NLP_TOK_H
#define TRIAGED_NLP_TOK_H

#include <stdbool.h>
#include <stddef.h>

/* Longer words (base64 runs, hashes) carry no meaning and are dropped. */
#define TOK_MAX_WORD_LEN 48
/* Default cap on tokens per message for callers without a better idea. */
#define TOK_MAX_TOKENS 4000

#define TOK_CLASS_URL "__url__"
#define TOK_CLASS_EMAIL "__email__"
#define TOK_CLASS_AMOUNT "__amount__"
#define TOK_CLASS_ORDER "__order__"
#define TOK_CLASS_INVOICE "__invoice__"
#define TOK_CLASS_REF "__ref__" /* alphanumeric code with no context */
#define TOK_CLASS_NUMBER "__number__"

enum tok_kind {
	TOK_WORD,  /* a word: stem it, check it against stop words */
	TOK_CLASS, /* one of the TOK_CLASS_* strings */
	TOK_HOST,  /* right after __url__ / __email__: its host name or domain,
	            * without "www." (spam and phishing hide in them) */
};

#define TOK_MAX_HOST_LEN 64

/* Called once per token, in text order. Returning non-zero stops. */
typedef int tok_callback_t(void *context, const char *text, size_t len, enum tok_kind kind);

/* Tokenises len bytes of normalised UTF-8 text, emitting at most max_tokens
 * tokens; *truncated_r (may be NULL) is set when tokens were left out for
 * that cap. Returns the number of tokens emitted. Never reads past len. */
size_t tok_tokenize(const char *text, size_t len, size_t max_tokens, tok_callback_t *callback,
                    void *context, bool *truncated_r);

#endif
