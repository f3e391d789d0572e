/* The knowledge base: articles in SQLite (table kb_articles, created by the
 * store's migration 3) with an FTS5 index whose tokenizer normalises and
 * stems like nlp/ (accents removed, Snowball stemming in the article's
 * language), bm25 ranking with the title weighted above the body.
 * Ownership: structs filled by kb_* belong to the caller and are released
 * with the matching *_clear / *_free; strings inside are owned copies.
 * A connection is used by one thread at a time (the tokenizer holds Snowball
 * stemmers, which are not thread-safe). */
#ifndef TRIAGED_KB_H
#define TRIAGED_KB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* Hard limits on what an article may hold (articles are written by admins,
 * but a stray file must not fill the disk). */
#define KB_MAX_ID_LEN 128
#define KB_MAX_TITLE_LEN 512
#define KB_MAX_ARTICLE_BYTES (1024 * 1024)
#define KB_MAX_TAGS 32
#define KB_MAX_TAG_LEN 64
#define KB_MAX_QUERY_TERMS 32

/* bm25 column weights: a title match says more than a body match. */
#define KB_WEIGHT_TITLE 10.0
#define KB_WEIGHT_BODY 1.0
#define KB_WEIGHT_TAGS 3.0

/* Registers the "triaged" FTS5 tokenizer on db and creates, when missing, the
 * FTS5 index kb_fts over kb_articles, its triggers and its vocabulary table
 * (rebuilding the index when it is new and articles already exist). Also
 * registers kb_rank, the searches' bm25, which keeps in memory, per
 * connection and until it closes, the length of every article (4 + 8 bytes
 * each), read again after kb_meta's 'generation' moves (kb_article_put and
 * kb_article_remove move it; a database without one gets one here). Call it
 * on every connection that reads or writes the knowledge base, after
 * store_open() (which runs the migration that creates kb_articles). Calling
 * it again on the same connection is harmless. */
int kb_register(struct sqlite3 *db, const char **error_r);

struct kb_article {
	char *id;
	char *title;
	char *body;
	char *tags;        /* comma-separated, no spaces */
	char *language;    /* "fr", "en", or another code */
	char *template;    /* reply template, NULL: none */
	char *source_dir;  /* the import root it came from, NULL: added by hand */
	char *source_path; /* path relative to source_dir */
	char *content_hash;
	int64_t updated;
};
void kb_article_clear(struct kb_article *a);

/* The content hash of an article (hex, 16 characters, into buf): detects a
 * changed article on re-import; not a security measure. */
void kb_article_hash(const struct kb_article *a, char buf[17]);

enum kb_put_result { KB_PUT_ADDED, KB_PUT_UPDATED, KB_PUT_UNCHANGED };
/* Inserts or replaces the article with this id; content_hash is computed
 * here (a->content_hash is ignored). `updated` is `now`. */
int kb_article_put(struct sqlite3 *db, const struct kb_article *a, int64_t now,
		   enum kb_put_result *result_r, const char **error_r);
/* 1 found, 0 not, -1 error. */
int kb_article_get(struct sqlite3 *db, const char *id, struct kb_article *a_r,
		   const char **error_r);
/* 1 removed, 0 not found, -1 error. */
int kb_article_remove(struct sqlite3 *db, const char *id, const char **error_r);
/* All articles ordered by id (bodies and templates left NULL). */
int kb_article_list(struct sqlite3 *db, struct kb_article **list_r, size_t *n_r,
		    const char **error_r);
void kb_article_list_free(struct kb_article **list, size_t n);

/* Recomputes kb_terms (documents per indexed term) and the article count from
 * the FTS index: the suggestion query weighs terms with them. Import and
 * removal call it; the cost grows with the vocabulary (about a second at
 * 100,000 articles). */
int kb_refresh_terms(struct sqlite3 *db, const char **error_r);

struct kb_hit {
	char *id;
	char *title;
	char *language;
	double score; /* -bm25: positive, higher is better */
};
void kb_hits_free(struct kb_hit **hits, size_t n);

/* Free-text search: the words of query (any case, accents or not) are
 * OR-ed, each stemmed in `language` when given ("fr", "en") or else in both
 * French and English (either stem matches), and the results are restricted
 * to articles in `language` when it is given. Best first, at most limit. */
int kb_search(struct sqlite3 *db, const char *query, const char *language, unsigned limit,
	      struct kb_hit **hits_r, size_t *n_r, const char **error_r);

/* A weighted term for kb_query_build: a stem as nlp/feat produces it. */
struct kb_term {
	const char *stem;
	double weight;  /* filled by kb_terms_weigh */
	uint32_t count; /* occurrences in the text */
	int64_t docs;   /* articles containing it, filled by kb_terms_weigh */
};

/* tf-idf against the knowledge base: weight = (1 + ln count) *
 * ln((N + 1) / (docs + 0.5)) with N articles; a term in no article gets
 * docs = 0. Then sorts terms by weight, heaviest first. */
int kb_terms_weigh(struct sqlite3 *db, struct kb_term *terms, size_t n, const char **error_r);

/* Whether some term is in some article (kb_terms as kb_refresh_terms left
 * it): when none is, every term weighs docs = 0 and kb_terms_pick picks
 * nothing, so a caller may skip building its terms. */
int kb_has_terms(struct sqlite3 *db, bool *any_r, const char **error_r);

/* Searches with already-stemmed terms (not re-stemmed), OR-ed, used as
 * given (the caller picks them, e.g. the heaviest with docs > 0): the
 * suggestion query. Articles in prefer_language (may be NULL) rank before the
 * others. */
int kb_search_stems(struct sqlite3 *db, const struct kb_term *terms, size_t n,
		    const char *prefer_language, unsigned limit, struct kb_hit **hits_r,
		    size_t *n_r, const char **error_r);

/* A term in more articles than this barely changes the ranking (low idf)
 * but costs the most (the longest posting lists): kb_terms_pick leaves it
 * out unless fewer than KB_PICK_MIN_TERMS rarer ones exist. Below this many
 * articles nothing is left out. */
#define KB_PICK_MAX_DOCS 2000
#define KB_PICK_MIN_TERMS 3

/* Picks at most max query terms from terms sorted by kb_terms_weigh: the
 * heaviest that occur in the knowledge base, common ones (see above) only to
 * reach KB_PICK_MIN_TERMS. Copies them to out (in weight order); returns how
 * many. The suggestion query and the benchmark use it. */
size_t kb_terms_pick(const struct kb_term *terms, size_t n, size_t max, struct kb_term *out);

/* The query's full-text terms together match at most this many articles
 * (their docs summed, in the order given); a term that would go over, or
 * that is in more than KB_PICK_MAX_DOCS articles, is matched in titles only.
 * FTS5 scores every match, so this bounds the cost of the search. */
#define KB_MATCH_MAX_POSTINGS 2000

/* Builds the FTS5 MATCH expression used by kb_search_stems (for the benchmark
 * and tests; the caller frees it): the terms OR-ed, each in all columns or,
 * by its docs (see above), in the title only. NULL when no term is usable. */
char *kb_stems_match_expr(const struct kb_term *terms, size_t n);

#endif
