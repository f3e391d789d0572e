/* Text normalisation for matching: invalid UTF-8 repaired, NFKC, case
 * folding, accents and control characters removed, typographic variants
 * (apostrophes, dashes, spaces, ligatures "oe"/"ae") lumped to ASCII.
 * Ownership: returned strings belong to the caller (free()). */
#ifndef TRIAGED_NLP_NORM_H
#define TRIAGED_NLP_NORM_H

#include <stddef.h>

struct strbuf;

/* Input beyond this many bytes is ignored (cut, then repaired like any
 * truncated sequence): a mail body larger than this is not text worth
 * classifying. */
#define NORM_MAX_INPUT (1024 * 1024)

enum norm_flags {
	NORM_KEEP_ACCENTS = 1 << 0, /* case fold but keep marks (language guess) */
	NORM_KEEP_CASE = 1 << 1,    /* do not case fold (sentiment sees capitals) */
};

/* Normalises len bytes of in (any bytes; NULs and invalid sequences allowed).
 * On success *out_r is a NUL-terminated UTF-8 string (*out_len_r bytes). */
int norm_text(const char *in, size_t len, unsigned flags, char **out_r, size_t *out_len_r,
              const char **error_r);

/* Same as norm_text(), appending to out instead (a buffer the caller reuses,
 * saving an allocation per call; its limit must be 0). On error out is as it
 * was. */
int norm_append(struct strbuf *out, const char *in, size_t len, unsigned flags,
                const char **error_r);

/* Only repairs: every invalid or truncated sequence (overlong forms,
 * surrogates, bytes past U+10FFFF) becomes U+FFFD, NULs become spaces.
 * Never fails; input is cut at NORM_MAX_INPUT. */
char *norm_repair_utf8(const char *in, size_t len, size_t *out_len_r);

#endif
