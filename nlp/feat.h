/* Feature extraction in one call: subject + body (or raw headers + body) ->
 * language guess + a bag of features (feature -> count) for the classifier,
 * and the stemmed, stop-word-free terms for knowledge-base queries.
 * Pipeline: norm_text -> tok_tokenize -> stop words -> Snowball stem.
 * Features: body words as their stem ("factur"), subject words prefixed
 * FEAT_SUBJECT_PREFIX ("s:factur"), class tokens as is ("__amount__"),
 * header evidence prefixed FEAT_HEADER_PREFIX ("h:from:@example.com"),
 * hosts of links and domains of addresses FEAT_HOST_PREFIX ("u:example.com").
 * Ownership: the caller owns contexts and bags (free with *_free); strings
 * returned by the bag accessors live as long as the bag. A context holds
 * Snowball stemmers, which are not thread-safe: one context per thread. */
#ifndef TRIAGED_NLP_FEAT_H
#define TRIAGED_NLP_FEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lang.h"

#define FEAT_SUBJECT_PREFIX "s:"
#define FEAT_HEADER_PREFIX "h:"
#define FEAT_HOST_PREFIX "u:" /* host of a URL or domain of an address */
/* Longest feature string kept, prefix included. */
#define FEAT_MAX_LEN 96
/* Caps on what one mail may feed in. */
#define FEAT_MAX_SUBJECT_TOKENS 100
#define FEAT_MAX_HEADER_BYTES (64 * 1024)
#define FEAT_MAX_HEADER_FIELDS 256

enum feat_flags {
	FEAT_NO_STEM = 1 << 0,        /* keep whole words (e.g. for spam) */
	FEAT_KEEP_STOPWORDS = 1 << 1, /* keep stop words (e.g. for spam) */
	/* Classifier features only: no search terms, and no language guess
	 * unless stemming needs one (the bag's language is then LANG_OTHER
	 * with confidence 0). With FEAT_NO_STEM | FEAT_KEEP_STOPWORDS, as for
	 * spam, that is a third of the work of a mail. */
	FEAT_FEATURES_ONLY = 1 << 2,
	/* Pairs of consecutive body words too ("2:free+money"). */
	FEAT_BIGRAMS = 1 << 3,
	/* No surface words (feat_bag_surface() gives NULL): for bags that are
	 * classified without explanations, or only trained on. */
	FEAT_NO_SURFACES = 1 << 4,
	/* The body is not kept to be compared with the next call's: for bulk
	 * extraction, where no two calls share a body (the comparison and the
	 * copy are saved; the cache is emptied). */
	FEAT_NO_BODY_CACHE = 1 << 5,
};
#define FEAT_BIGRAM_PREFIX "2:"

struct feat_ctx;
struct feat_bag;

/* Stop-word lists as file contents (one word per line, '#' comments), in
 * any case and with or without accents; either may be NULL. */
int feat_ctx_new(const char *stop_fr, size_t stop_fr_len, const char *stop_en, size_t stop_en_len,
                 struct feat_ctx **ctx_r, const char **error_r);
void feat_ctx_free(struct feat_ctx **ctx);
bool feat_is_stopword(const struct feat_ctx *ctx, const char *normalised_word, size_t len);

/* subject may be NULL. Body tokens beyond TOK_MAX_TOKENS are left out and
 * feat_bag_truncated() says so. */
int feat_extract(struct feat_ctx *ctx, const char *subject, size_t subject_len, const char *body,
                 size_t body_len, unsigned flags, struct feat_bag **bag_r, const char **error_r);
/* Same with raw (unfolded or folded) header text instead of a subject: the
 * Subject field gives subject features; From, Reply-To, Return-Path, Sender,
 * Message-ID, Received, Content-Type, X-Mailer and User-Agent give header
 * features; every field name gives "h:n:<name>". Pass decoded (RFC 2047)
 * headers when available. */
int feat_extract_mail(struct feat_ctx *ctx, const char *headers, size_t headers_len,
                      const char *body, size_t body_len, unsigned flags, struct feat_bag **bag_r,
                      const char **error_r);

/* Same as feat_extract() and feat_extract_mail(), into bag, emptied first
 * (feat_bag_reset): one bag reused from mail to mail saves its allocations
 * (bulk classification). On error the bag is empty. */
int feat_extract_into(struct feat_ctx *ctx, const char *subject, size_t subject_len,
                      const char *body, size_t body_len, unsigned flags, struct feat_bag *bag,
                      const char **error_r);
int feat_extract_mail_into(struct feat_ctx *ctx, const char *headers, size_t headers_len,
                           const char *body, size_t body_len, unsigned flags,
                           struct feat_bag *bag, const char **error_r);

/* An empty bag, for callers (and tests) that build features by hand. */
struct feat_bag *feat_bag_new(void);
void feat_bag_free(struct feat_bag **bag);
/* A hashed bag: each feature kept as its feat_hash() with its count, not as
 * a string, for bulk classification without explanations (no string is
 * interned, copied or compared per token). Extraction and feat_bag_add()
 * fill it like any bag, in the same order with the same counts; it has no
 * strings for feat_bag_get() and feat_bag_find_in() (string bags only), no
 * surfaces, and cannot be trained on. */
struct feat_bag *feat_bag_new_hashed(void);
bool feat_bag_is_hashed(const struct feat_bag *bag);
/* The 64-bit hash a hashed bag keeps of feature (len bytes), never 0: a
 * model indexes its features by it to look up a hashed bag's. Its high bits
 * are the well-mixed ones: a table of 2^bits slots takes the slot of hash
 * from FEAT_HASH_INDEX(hash, 64 - bits). */
uint64_t feat_hash(const char *feature, size_t len);
#define FEAT_HASH_INDEX(hash, shift) ((size_t)((hash) >> (shift)))
/* feat_hash() of every feature of a hashed bag, in first-seen order
 * (feat_bag_count() of them); valid until the bag changes. */
const uint64_t *feat_bag_hashes(const struct feat_bag *bag);
/* The count of every feature of any bag, in first-seen order
 * (feat_bag_count() of them); valid until the bag changes. */
const uint32_t *feat_bag_counts(const struct feat_bag *bag);
/* Empties bag like a new one, keeping its memory; strings it returned
 * before are invalid. */
void feat_bag_reset(struct feat_bag *bag);
/* Adds count occurrences of feature (NUL-terminated, at most FEAT_MAX_LEN). */
int feat_bag_add(struct feat_bag *bag, const char *feature, uint32_t count, const char **error_r);

enum lang feat_bag_lang(const struct feat_bag *bag);
double feat_bag_lang_confidence(const struct feat_bag *bag);
bool feat_bag_truncated(const struct feat_bag *bag);
/* Distinct features, in first-seen order; i < feat_bag_count(); string
 * bags only. */
size_t feat_bag_count(const struct feat_bag *bag);
void feat_bag_get(const struct feat_bag *bag, size_t i, const char **feature_r, uint32_t *count_r);
struct symtab;
/* The id of feature i of bag in tab (a model's features), or -1 when tab
 * lacks it: a lookup that reuses the bag's hash of the feature. String
 * bags only. */
int feat_bag_find_in(const struct feat_bag *bag, size_t i, const struct symtab *tab,
                     uint32_t *id_r);
/* A hint that feat_bag_find_in(bag, i, tab) comes soon (see symtab.h). */
void feat_bag_prefetch_in(const struct feat_bag *bag, size_t i, const struct symtab *tab);
/* The first word (normalised, not stemmed, no prefix) that gave feature,
 * for explanations an agent reads ("facture" for "s:factur"); NULL for
 * class, header and unknown features. */
const char *feat_bag_surface(const struct feat_bag *bag, const char *feature);
/* Search terms: stems of subject and body words (no prefix, no class or
 * header tokens, no stop words) with their counts. */
size_t feat_bag_term_count(const struct feat_bag *bag);
void feat_bag_term(const struct feat_bag *bag, size_t i, const char **term_r, uint32_t *count_r);

#endif
