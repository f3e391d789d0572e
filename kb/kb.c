/* The knowledge base's storage and search: the FTS5 tokenizer shared with
 * nlp/ (norm_text, tok_tokenize, Snowball), the index kept in sync by
 * triggers, articles in and out, and the two searches (free text, stems). */
#include "kb.h"

#include <libstemmer.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "norm.h"
#include "strbuf.h"
#include "tok.h"
#include "xalloc.h"

/* Each column value handed to the tokenizer may start with a marker
 * "\x1f<lang>\x1f": the index's source view adds the article's language so
 * that the tokenizer stems in it; queries add it to stem in one language, or
 * "\x1f=\x1f" for terms that are stems already. Without a marker, words get
 * both the French and the English stem (colocated: either matches). */
#define KB_MARK '\x1f'
#define KB_MARK_STR "\x1f"
#define KB_TOKENIZER "triaged"
/* An article longer than this in tokens is indexed up to here. */
#define KB_MAX_DOC_TOKENS 200000

static __thread char kb_error_buf[512];

static const char *db_error(struct sqlite3 *db, const char *what)
{
	snprintf(kb_error_buf, sizeof(kb_error_buf), "%s: %s", what, sqlite3_errmsg(db));
	return kb_error_buf;
}

/* ---- the tokenizer ---- */

struct kb_tokenizer {
	struct sb_stemmer *stem_fr, *stem_en;
};

enum stem_mode { STEM_BOTH, STEM_FR, STEM_EN, STEM_NONE, STEM_VERBATIM };

struct tk_state {
	struct kb_tokenizer *tk;
	enum stem_mode mode;
	void *ctx;
	int (*xToken)(void *, int, const char *, int, int, int);
	const char *norm;
	int base, text_len;
	int rc;
};

static int tk_create(void *user, const char **argv, int argc, Fts5Tokenizer **out)
{
	(void)user;
	(void)argv;
	if (argc != 0)
		return SQLITE_ERROR;
	struct kb_tokenizer *tk = xcalloc(1, sizeof(*tk));
	tk->stem_fr = sb_stemmer_new("french", NULL);
	tk->stem_en = sb_stemmer_new("english", NULL);
	if (tk->stem_fr == NULL || tk->stem_en == NULL) {
		if (tk->stem_fr != NULL)
			sb_stemmer_delete(tk->stem_fr);
		if (tk->stem_en != NULL)
			sb_stemmer_delete(tk->stem_en);
		free(tk);
		return SQLITE_ERROR;
	}
	*out = (Fts5Tokenizer *)tk;
	return SQLITE_OK;
}

static void tk_delete(Fts5Tokenizer *t)
{
	struct kb_tokenizer *tk = (struct kb_tokenizer *)t;
	if (tk == NULL)
		return;
	sb_stemmer_delete(tk->stem_fr);
	sb_stemmer_delete(tk->stem_en);
	free(tk);
}

static int emit(struct tk_state *st, int flags, const char *tok, size_t len, int start, int end)
{
	if (len == 0 || len > TOK_MAX_WORD_LEN * 2)
		return 0;
	return st->xToken(st->ctx, flags, tok, (int)len, start, end);
}

static int tk_on_token(void *context, const char *text, size_t len, enum tok_kind kind)
{
	struct tk_state *st = context;
	/* Class tokens (amounts, URLs...) say nothing about which article fits. */
	if (kind != TOK_WORD)
		return 0;
	/* Offsets are into the normalised text, clamped to the input: only
	 * highlight() and snippet() would read them and nothing here uses those. */
	int start = st->base + (int)(text - st->norm);
	if (start > st->text_len)
		start = st->text_len;
	int end = start + (int)len;
	if (end > st->text_len)
		end = st->text_len;
	struct sb_stemmer *first = NULL, *second = NULL;
	switch (st->mode) {
	case STEM_FR: first = st->tk->stem_fr; break;
	case STEM_EN: first = st->tk->stem_en; break;
	case STEM_BOTH: first = st->tk->stem_fr; second = st->tk->stem_en; break;
	case STEM_NONE:
	case STEM_VERBATIM: break;
	}
	if (first == NULL) {
		st->rc = emit(st, 0, text, len, start, end);
		return st->rc != SQLITE_OK;
	}
	const sb_symbol *s1 = sb_stemmer_stem(first, (const sb_symbol *)text, (int)len);
	if (s1 == NULL) {
		st->rc = SQLITE_NOMEM;
		return 1;
	}
	size_t l1 = (size_t)sb_stemmer_length(first);
	st->rc = emit(st, 0, (const char *)s1, l1, start, end);
	if (st->rc != SQLITE_OK || second == NULL)
		return st->rc != SQLITE_OK;
	const sb_symbol *s2 = sb_stemmer_stem(second, (const sb_symbol *)text, (int)len);
	if (s2 == NULL) {
		st->rc = SQLITE_NOMEM;
		return 1;
	}
	size_t l2 = (size_t)sb_stemmer_length(second);
	/* s1 lives in the other stemmer's buffer, still valid here. */
	if (l2 != l1 || memcmp(s1, s2, l1) != 0)
		st->rc = emit(st, FTS5_TOKEN_COLOCATED, (const char *)s2, l2, start, end);
	return st->rc != SQLITE_OK;
}

/* Terms that are stems already: split on spaces, no normalisation. */
static int tk_verbatim(struct tk_state *st, const char *text, int n)
{
	int i = 0;
	while (i < n) {
		while (i < n && text[i] == ' ')
			i++;
		int s = i;
		while (i < n && text[i] != ' ')
			i++;
		if (i > s) {
			int rc = emit(st, 0, text + s, (size_t)(i - s), st->base + s, st->base + i);
			if (rc != SQLITE_OK)
				return rc;
		}
	}
	return SQLITE_OK;
}

static int tk_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n,
		       int (*xToken)(void *, int, const char *, int, int, int))
{
	(void)flags;
	struct tk_state st = {.tk = (struct kb_tokenizer *)t, .mode = STEM_BOTH, .ctx = ctx,
			      .xToken = xToken, .text_len = n, .rc = SQLITE_OK};
	int off = 0;
	if (n >= 2 && text[0] == KB_MARK) {
		const char *end = memchr(text + 1, KB_MARK, (size_t)(n - 1) < 16 ? (size_t)(n - 1) : 16);
		if (end != NULL) {
			size_t l = (size_t)(end - (text + 1));
			const char *lang = text + 1;
			if (l == 1 && lang[0] == '=')
				st.mode = STEM_VERBATIM;
			else if (l == 2 && memcmp(lang, "fr", 2) == 0)
				st.mode = STEM_FR;
			else if (l == 2 && memcmp(lang, "en", 2) == 0)
				st.mode = STEM_EN;
			else
				st.mode = STEM_BOTH; /* unknown language: either stem */
			off = (int)(end - text) + 1;
		}
	}
	st.base = off;
	if (st.mode == STEM_VERBATIM)
		return tk_verbatim(&st, text + off, n - off);
	char *norm = NULL;
	size_t norm_len;
	const char *error;
	if (norm_text(text + off, (size_t)(n - off), 0, &norm, &norm_len, &error) < 0)
		return SQLITE_ERROR;
	st.norm = norm;
	tok_tokenize(norm, norm_len, KB_MAX_DOC_TOKENS, tk_on_token, &st, NULL);
	free(norm);
	return st.rc;
}

static fts5_api *fts5_api_of(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &s, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(s);
	sqlite3_finalize(s);
	return api;
}

/* ---- ranking ---- */

/* kb_rank(kb_fts, generation, docs): FTS5's bm25 (Robertson and Zaragoza,
 * "The Probabilistic Relevance Framework: BM25 and Beyond", 2009; the
 * formula of SQLite's fts5_aux.c: k1 1.2, b 0.75, one length for the whole
 * row, column weights KB_WEIGHT_*) with two costs taken out of every query.
 * bm25() counts the rows of each phrase with a second pass over its posting
 * list to get its idf: here the caller gives each phrase's document count
 * (kb_terms, a blob of int64, one per phrase; 0: count it as bm25 does). And
 * bm25() reads the row's length from the docsize table, one b-tree lookup
 * per matching row, most of the query's time: here the lengths of all
 * articles are read once into memory, per connection, and read again only
 * when the knowledge base's generation (kb_meta, a new random value at each
 * change of an article) is not the one they were read at. A row the lengths
 * do not know is looked up as bm25() does. */

struct rank_lengths {
	struct sqlite3 *db;
	bool loaded;
	int64_t generation;
	size_t n;
	int64_t *rowid; /* ascending */
	uint32_t *len;
};

static void rank_lengths_free(void *p)
{
	struct rank_lengths *rl = p;
	if (rl == NULL)
		return;
	free(rl->rowid);
	free(rl->len);
	free(rl);
}

/* Reads every article's length (its three columns' token counts, varints in
 * kb_fts_docsize.sz). On failure the lengths stay unloaded: rows are then
 * looked up one by one. */
static void rank_lengths_load(struct rank_lengths *rl, int64_t generation)
{
	free(rl->rowid);
	free(rl->len);
	rl->rowid = NULL;
	rl->len = NULL;
	rl->n = 0;
	rl->loaded = false;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(rl->db, "SELECT id, sz FROM kb_fts_docsize ORDER BY id", -1, &s,
			       NULL) != SQLITE_OK)
		return;
	size_t cap = 0, cap_len = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *sz = sqlite3_column_blob(s, 1);
		int bytes = sqlite3_column_bytes(s, 1);
		uint64_t total = 0, v = 0;
		int used = 0;
		for (int i = 0; i < bytes && sz != NULL; i++) {
			/* SQLite varints: most significant 7 bits first, the high
			 * bit set on all bytes but the last (column sizes never
			 * reach the 9-byte form; a longer run is cut there) */
			v = (v << 7) | (sz[i] & 0x7f);
			if (!(sz[i] & 0x80) || ++used == 8) {
				total += v;
				v = 0;
				used = 0;
			}
		}
		rl->rowid = xgrow(rl->rowid, &cap, rl->n + 1, sizeof(*rl->rowid));
		rl->len = xgrow(rl->len, &cap_len, rl->n + 1, sizeof(*rl->len));
		rl->rowid[rl->n] = sqlite3_column_int64(s, 0);
		rl->len[rl->n] = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
		rl->n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		rl->n = 0;
		return;
	}
	rl->loaded = true;
	rl->generation = generation;
}

/* 1 and *len_r when the row is known, 0 not. */
static int rank_lengths_find(const struct rank_lengths *rl, int64_t rowid, uint32_t *len_r)
{
	size_t lo = 0, hi = rl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rl->rowid[mid] < rowid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < rl->n && rl->rowid[lo] == rowid) {
		*len_r = rl->len[lo];
		return 1;
	}
	return 0;
}

/* What one query needs for every row: per-phrase idf, the average length. */
struct rank_query {
	int n_phrase;
	double avgdl;
	double idf[];
};

static int rank_count_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *user)
{
	(void)api;
	(void)fts;
	(*(int64_t *)user)++;
	return SQLITE_OK;
}

static int rank_query_new(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_value *docs_arg,
			  struct rank_query **q_r)
{
	int n_phrase = api->xPhraseCount(fts);
	sqlite3_int64 rows = 0, tokens = 0;
	int rc = api->xRowCount(fts, &rows);
	if (rc == SQLITE_OK)
		rc = api->xColumnTotalSize(fts, -1, &tokens);
	if (rc != SQLITE_OK)
		return rc;
	struct rank_query *q = xcalloc(1, sizeof(*q) + (size_t)n_phrase * sizeof(double));
	q->n_phrase = n_phrase;
	q->avgdl = rows > 0 && tokens > 0 ? (double)tokens / (double)rows : 1.0;
	const unsigned char *blob = sqlite3_value_blob(docs_arg);
	int bytes = sqlite3_value_bytes(docs_arg);
	for (int i = 0; i < n_phrase; i++) {
		int64_t docs = 0;
		if (blob != NULL && (size_t)bytes >= (size_t)(i + 1) * sizeof(docs))
			memcpy(&docs, blob + (size_t)i * sizeof(docs), sizeof(docs));
		if (docs <= 0 && (rc = api->xQueryPhrase(fts, i, &docs, rank_count_cb)) != SQLITE_OK) {
			free(q);
			return rc;
		}
		double idf = log(((double)rows - (double)docs + 0.5) / ((double)docs + 0.5));
		q->idf[i] = idf > 0 ? idf : 1e-6;
	}
	*q_r = q;
	return SQLITE_OK;
}

static void rank_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
		    int n_val, sqlite3_value **val)
{
	static const double weights[] = {KB_WEIGHT_TITLE, KB_WEIGHT_BODY, KB_WEIGHT_TAGS};
	const double k1 = 1.2, b = 0.75;
	if (n_val != 2 || api->xColumnCount(fts) != (int)ARRAY_SIZE(weights)) {
		sqlite3_result_error(ctx, "kb_rank(kb_fts, generation, docs)", -1);
		return;
	}
	struct rank_lengths *rl = api->xUserData(fts);
	struct rank_query *q = api->xGetAuxdata(fts, 0);
	int rc;
	if (q == NULL) {
		/* first row of this query */
		if ((rc = rank_query_new(api, fts, val[1], &q)) != SQLITE_OK ||
		    (rc = api->xSetAuxdata(fts, q, free)) != SQLITE_OK) {
			sqlite3_result_error_code(ctx, rc);
			return;
		}
		if (sqlite3_value_type(val[0]) == SQLITE_INTEGER) {
			int64_t generation = sqlite3_value_int64(val[0]);
			if (!rl->loaded || rl->generation != generation)
				rank_lengths_load(rl, generation);
		} else {
			rl->loaded = false; /* no generation yet: lengths not trusted */
		}
	}
	double freq[KB_MAX_QUERY_TERMS] = {0};
	int n_inst = 0;
	rc = api->xInstCount(fts, &n_inst);
	for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
		int phrase, col, off;
		rc = api->xInst(fts, i, &phrase, &col, &off);
		if (rc == SQLITE_OK && phrase >= 0 && phrase < q->n_phrase &&
		    phrase < KB_MAX_QUERY_TERMS && col >= 0 && col < (int)ARRAY_SIZE(weights))
			freq[phrase] += weights[col];
	}
	uint32_t len = 0;
	if (rc == SQLITE_OK && !(rl->loaded && rank_lengths_find(rl, api->xRowid(fts), &len))) {
		int l = 0;
		rc = api->xColumnSize(fts, -1, &l);
		len = l > 0 ? (uint32_t)l : 0;
	}
	if (rc != SQLITE_OK) {
		sqlite3_result_error_code(ctx, rc);
		return;
	}
	double norm = k1 * (1 - b + b * (double)len / q->avgdl);
	double score = 0;
	for (int i = 0; i < q->n_phrase && i < KB_MAX_QUERY_TERMS; i++)
		score += q->idf[i] * freq[i] * (k1 + 1.0) / (freq[i] + norm);
	sqlite3_result_double(ctx, score);
}

/* A new generation for the rank function's lengths: a random value, so that
 * a rolled-back change never leaves its generation behind for another. */
static int bump_generation(sqlite3 *db, const char **error_r)
{
	if (sqlite3_exec(db,
			 "INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('generation', random())",
			 NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "marking the kb changed");
		return -1;
	}
	return 0;
}

/* ---- schema kept by kb_register ---- */

#define LANGMARK(row, col) "char(31)||" row ".language||char(31)||" row "." col
static const char kb_schema[] =
	"CREATE VIEW IF NOT EXISTS kb_fts_src AS SELECT doc,"
	"  char(31)||language||char(31)||title AS title,"
	"  char(31)||language||char(31)||body AS body,"
	"  char(31)||language||char(31)||tags AS tags FROM kb_articles;"
	"CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(title, body, tags,"
	"  content='kb_fts_src', content_rowid='doc', tokenize='" KB_TOKENIZER "');"
	"CREATE VIRTUAL TABLE IF NOT EXISTS kb_vocab USING fts5vocab(kb_fts, 'row');"
	"CREATE TRIGGER IF NOT EXISTS kb_fts_ai AFTER INSERT ON kb_articles BEGIN"
	"  INSERT INTO kb_fts(rowid, title, body, tags) VALUES (new.doc,"
	"    " LANGMARK("new", "title") "," LANGMARK("new", "body") "," LANGMARK("new", "tags") ");"
	"END;"
	"CREATE TRIGGER IF NOT EXISTS kb_fts_ad AFTER DELETE ON kb_articles BEGIN"
	"  INSERT INTO kb_fts(kb_fts, rowid, title, body, tags) VALUES ('delete', old.doc,"
	"    " LANGMARK("old", "title") "," LANGMARK("old", "body") "," LANGMARK("old", "tags") ");"
	"END;"
	"CREATE TRIGGER IF NOT EXISTS kb_fts_au AFTER UPDATE OF title, body, tags, language"
	"  ON kb_articles BEGIN"
	"  INSERT INTO kb_fts(kb_fts, rowid, title, body, tags) VALUES ('delete', old.doc,"
	"    " LANGMARK("old", "title") "," LANGMARK("old", "body") "," LANGMARK("old", "tags") ");"
	"  INSERT INTO kb_fts(rowid, title, body, tags) VALUES (new.doc,"
	"    " LANGMARK("new", "title") "," LANGMARK("new", "body") "," LANGMARK("new", "tags") ");"
	"END;";

/* 1 when the schema object exists, 0 not, -1 error. */
static int schema_has(sqlite3 *db, const char *name)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* 1 when kb_meta has a generation, 0 not, -1 error. */
static int has_generation(sqlite3 *db)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM kb_meta WHERE key = 'generation'", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int kb_register(struct sqlite3 *db, const char **error_r)
{
	fts5_api *api = fts5_api_of(db);
	if (api == NULL || api->iVersion < 2) {
		*error_r = "SQLite has no FTS5 (or a too old one)";
		return -1;
	}
	void *user;
	fts5_tokenizer existing;
	if (api->xFindTokenizer(api, KB_TOKENIZER, &user, &existing) != SQLITE_OK) {
		fts5_tokenizer tk = {tk_create, tk_delete, tk_tokenize};
		if (api->xCreateTokenizer(api, KB_TOKENIZER, NULL, &tk, NULL) != SQLITE_OK) {
			*error_r = db_error(db, "registering the kb tokenizer");
			return -1;
		}
	}
	struct rank_lengths *rl = xcalloc(1, sizeof(*rl));
	rl->db = db;
	/* FTS5 frees rl with the connection, not when this fails */
	if (api->xCreateFunction(api, "kb_rank", rl, rank_fn, rank_lengths_free) != SQLITE_OK) {
		rank_lengths_free(rl);
		*error_r = db_error(db, "registering the kb rank function");
		return -1;
	}
	int has_articles = schema_has(db, "kb_articles");
	int has_fts = schema_has(db, "kb_fts");
	int has_trigger = schema_has(db, "kb_fts_au");
	if (has_articles < 0 || has_fts < 0 || has_trigger < 0) {
		*error_r = db_error(db, "reading the schema");
		return -1;
	}
	if (has_articles == 0) {
		*error_r = "no kb_articles table: the database schema is older than version 3";
		return -1;
	}
	/* A knowledge base written before the rank function's generation
	 * existed gets one, so that the lengths can be kept (a read-only
	 * connection goes on without: kb_rank then looks rows up one by one). */
	if (has_generation(db) == 0)
		sqlite3_exec(db, "INSERT OR IGNORE INTO kb_meta (key, value) VALUES ('generation', random())",
			     NULL, NULL, NULL);
	if (has_fts == 1 && has_trigger == 1)
		return 0;
	/* First use of this database by the kb: create the index, and fill it
	 * from articles written before it existed. */
	if (sqlite3_exec(db, "SAVEPOINT kb_register", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, kb_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    (has_fts == 0 &&
	     sqlite3_exec(db, "INSERT INTO kb_fts(kb_fts) VALUES ('rebuild')", NULL, NULL, NULL) !=
		     SQLITE_OK)) {
		*error_r = db_error(db, "creating the kb index");
		sqlite3_exec(db, "ROLLBACK TO kb_register; RELEASE kb_register", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_exec(db, "RELEASE kb_register", NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "creating the kb index");
		return -1;
	}
	return 0;
}

/* ---- articles ---- */

void kb_article_clear(struct kb_article *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->title);
	free(a->body);
	free(a->tags);
	free(a->language);
	free(a->template);
	free(a->source_dir);
	free(a->source_path);
	free(a->content_hash);
	memset(a, 0, sizeof(*a));
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	/* The field's terminating NUL goes in too, so "ab"+"c" != "a"+"bc". */
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	do {
		h ^= *p;
		h *= 0x100000001b3ULL;
	} while (*p++ != '\0');
	if (s == NULL)
		h ^= 0xff; /* a missing template differs from an empty one */
	return h;
}

void kb_article_hash(const struct kb_article *a, char buf[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv1a(h, a->id);
	h = fnv1a(h, a->title);
	h = fnv1a(h, a->body);
	h = fnv1a(h, a->tags);
	h = fnv1a(h, a->language);
	h = fnv1a(h, a->template);
	snprintf(buf, 17, "%016llx", (unsigned long long)h);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v == NULL ? sqlite3_bind_null(s, i) : sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

static char *column_dup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	return t == NULL ? NULL : xstrndup((const char *)t, (size_t)sqlite3_column_bytes(s, col));
}

static int step_done(sqlite3 *db, sqlite3_stmt *s, const char *what, const char **error_r)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		*error_r = db_error(db, what);
		return -1;
	}
	return 0;
}

int kb_article_put(struct sqlite3 *db, const struct kb_article *a, int64_t now,
		   enum kb_put_result *result_r, const char **error_r)
{
	if (a->id == NULL || a->title == NULL || a->body == NULL || a->language == NULL) {
		*error_r = "an article needs an id, a title, a body and a language";
		return -1;
	}
	char hash[17];
	kb_article_hash(a, hash);
	sqlite3_stmt *s = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(db, "SELECT content_hash FROM kb_articles WHERE id = ?1", -1, &s,
			       NULL) != SQLITE_OK) {
		*error_r = db_error(db, "reading an article");
		return -1;
	}
	bind_text(s, 1, a->id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		*error_r = db_error(db, "reading an article");
		goto out;
	}
	enum kb_put_result result = KB_PUT_ADDED;
	if (rc == SQLITE_ROW) {
		const char *old = (const char *)sqlite3_column_text(s, 0);
		result = old != NULL && strcmp(old, hash) == 0 ? KB_PUT_UNCHANGED : KB_PUT_UPDATED;
	}
	sqlite3_finalize(s);
	s = NULL;
	const char *sql;
	if (result == KB_PUT_ADDED)
		sql = "INSERT INTO kb_articles (id, title, body, tags, language, template,"
		      " source_dir, source_path, content_hash, updated)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
	else if (result == KB_PUT_UPDATED)
		sql = "UPDATE kb_articles SET title = ?2, body = ?3, tags = ?4, language = ?5,"
		      " template = ?6, source_dir = ?7, source_path = ?8, content_hash = ?9,"
		      " updated = ?10 WHERE id = ?1";
	else /* the file may have moved: only where it came from changes */
		sql = "UPDATE kb_articles SET source_dir = ?7, source_path = ?8"
		      " WHERE id = ?1 AND (source_dir IS NOT ?7 OR source_path IS NOT ?8)";
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "writing an article");
		goto out;
	}
	bind_text(s, 1, a->id);
	if (result != KB_PUT_UNCHANGED) {
		bind_text(s, 2, a->title);
		bind_text(s, 3, a->body);
		bind_text(s, 4, a->tags != NULL ? a->tags : "");
		bind_text(s, 5, a->language);
		bind_text(s, 6, a->template);
		bind_text(s, 9, hash);
		sqlite3_bind_int64(s, 10, now);
	}
	bind_text(s, 7, a->source_dir);
	bind_text(s, 8, a->source_path);
	if (step_done(db, s, "writing an article", error_r) < 0)
		goto out;
	if (result != KB_PUT_UNCHANGED && bump_generation(db, error_r) < 0)
		goto out;
	*result_r = result;
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

int kb_article_get(struct sqlite3 *db, const char *id, struct kb_article *a_r,
		   const char **error_r)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db,
			       "SELECT id, title, body, tags, language, template, source_dir,"
			       " source_path, content_hash, updated FROM kb_articles WHERE id = ?1",
			       -1, &s, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "reading an article");
		return -1;
	}
	bind_text(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		struct kb_article a = {
			.id = column_dup(s, 0), .title = column_dup(s, 1), .body = column_dup(s, 2),
			.tags = column_dup(s, 3), .language = column_dup(s, 4),
			.template = column_dup(s, 5), .source_dir = column_dup(s, 6),
			.source_path = column_dup(s, 7), .content_hash = column_dup(s, 8),
			.updated = sqlite3_column_int64(s, 9)};
		*a_r = a;
	} else if (rc != SQLITE_DONE) {
		*error_r = db_error(db, "reading an article");
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int kb_article_remove(struct sqlite3 *db, const char *id, const char **error_r)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "DELETE FROM kb_articles WHERE id = ?1", -1, &s, NULL) !=
	    SQLITE_OK) {
		*error_r = db_error(db, "removing an article");
		return -1;
	}
	bind_text(s, 1, id);
	int ret = step_done(db, s, "removing an article", error_r);
	sqlite3_finalize(s);
	if (ret < 0)
		return -1;
	if (sqlite3_changes(db) == 0)
		return 0;
	return bump_generation(db, error_r) < 0 ? -1 : 1;
}

int kb_article_list(struct sqlite3 *db, struct kb_article **list_r, size_t *n_r,
		    const char **error_r)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db,
			       "SELECT id, title, tags, language, source_dir, source_path,"
			       " content_hash, updated, template IS NOT NULL FROM kb_articles"
			       " ORDER BY id",
			       -1, &s, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "listing articles");
		return -1;
	}
	struct kb_article *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		list = xgrow(list, &cap, n + 1, sizeof(*list));
		struct kb_article a = {
			.id = column_dup(s, 0), .title = column_dup(s, 1), .tags = column_dup(s, 2),
			.language = column_dup(s, 3), .source_dir = column_dup(s, 4),
			.source_path = column_dup(s, 5), .content_hash = column_dup(s, 6),
			.updated = sqlite3_column_int64(s, 7),
			/* a non-NULL empty template says "has one" without copying it */
			.template = sqlite3_column_int(s, 8) ? xstrdup("") : NULL};
		list[n++] = a;
	}
	if (rc != SQLITE_DONE) {
		*error_r = db_error(db, "listing articles");
		sqlite3_finalize(s);
		kb_article_list_free(&list, n);
		return -1;
	}
	sqlite3_finalize(s);
	*list_r = list;
	*n_r = n;
	return 0;
}

void kb_article_list_free(struct kb_article **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		kb_article_clear(&(*list)[i]);
	free(*list);
	*list = NULL;
}

int kb_refresh_terms(struct sqlite3 *db, const char **error_r)
{
	if (sqlite3_exec(db,
			 "SAVEPOINT kb_terms;"
			 "DELETE FROM kb_terms;"
			 "INSERT INTO kb_terms (term, docs) SELECT term, doc FROM kb_vocab;"
			 "INSERT OR REPLACE INTO kb_meta (key, value)"
			 "  VALUES ('articles', (SELECT count(*) FROM kb_articles));"
			 "RELEASE kb_terms;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "counting the kb terms");
		sqlite3_exec(db, "ROLLBACK TO kb_terms; RELEASE kb_terms", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* ---- search ---- */

void kb_hits_free(struct kb_hit **hits, size_t n)
{
	if (*hits == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*hits)[i].id);
		free((*hits)[i].title);
		free((*hits)[i].language);
	}
	free(*hits);
	*hits = NULL;
}

/* Appends one FTS5 string literal: quotes doubled, a marker in front, after
 * a column filter ("title : ") or "". */
static void append_phrase(struct strbuf *sb, const char *column, const char *marker,
			  const char *text, size_t len)
{
	if (sb->len > 0)
		strbuf_puts(sb, " OR ");
	strbuf_puts(sb, column);
	strbuf_putc(sb, '"');
	strbuf_puts(sb, marker);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"')
			strbuf_putc(sb, '"');
		strbuf_putc(sb, text[i]);
	}
	strbuf_putc(sb, '"');
}

struct query_state {
	struct strbuf *sb;
	const char *marker;
	size_t words;
};

static int query_on_token(void *context, const char *text, size_t len, enum tok_kind kind)
{
	struct query_state *q = context;
	if (kind != TOK_WORD)
		return 0;
	append_phrase(q->sb, "", q->marker, text, len);
	return ++q->words >= KB_MAX_QUERY_TERMS;
}

/* The best ?4 matches, ranked inside the FTS5 table alone: kb_rank (bm25,
 * see above; ?5 the phrases' document counts) once per matching row into a
 * sorter that keeps only ?4 rows (FTS5's own "ORDER BY rank" sorts every
 * match), and only those rows meet kb_articles. A language preference is
 * applied to those (the suggestion's terms were stemmed in that language, so
 * the other one rarely competes for the first places); a strict language
 * filter looks at every match. */
#define KB_SCORE \
	"kb_rank(kb_fts, (SELECT value FROM kb_meta WHERE key = 'generation'), ?5)"
#define KB_RANKED                                                                    \
	"(SELECT rowid AS doc, " KB_SCORE " AS score FROM kb_fts"                      \
	" WHERE kb_fts MATCH ?1 ORDER BY score DESC LIMIT ?4) h"
static const char hit_sql_any[] =
	"SELECT a.id, a.title, a.language, h.score FROM " KB_RANKED
	" JOIN kb_articles a ON a.doc = h.doc"
	" WHERE ?2 IS NULL ORDER BY h.score DESC LIMIT ?3";
static const char hit_sql_only[] =
	"SELECT a.id, a.title, a.language, " KB_SCORE " AS score"
	" FROM kb_fts JOIN kb_articles a ON a.doc = kb_fts.rowid"
	" WHERE kb_fts MATCH ?1 AND a.language = ?2 AND ?4 IS NOT NULL"
	" ORDER BY score DESC LIMIT ?3";
static const char hit_sql_prefer[] =
	"SELECT a.id, a.title, a.language, h.score FROM " KB_RANKED
	" JOIN kb_articles a ON a.doc = h.doc"
	" ORDER BY a.language IS NOT ?2, h.score DESC LIMIT ?3";

/* How many of the best matches the language filter or preference sees, per
 * result wanted. */
#define KB_RANK_WINDOW 8

/* docs: each phrase's document count (n of them), NULL: counted by FTS5. */
static int run_hits(sqlite3 *db, const char *sql, const char *match, const int64_t *docs,
		    size_t n_docs, const char *language, unsigned limit, struct kb_hit **hits_r,
		    size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "searching the kb");
		return -1;
	}
	bind_text(s, 1, match);
	bind_text(s, 2, language);
	sqlite3_bind_int64(s, 3, limit);
	sqlite3_bind_int64(s, 4, sql == hit_sql_prefer ? (int64_t)limit * KB_RANK_WINDOW : limit);
	if (docs != NULL)
		sqlite3_bind_blob(s, 5, docs, (int)(n_docs * sizeof(*docs)), SQLITE_STATIC);
	struct kb_hit *hits = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		hits = xgrow(hits, &cap, n + 1, sizeof(*hits));
		hits[n].id = column_dup(s, 0);
		hits[n].title = column_dup(s, 1);
		hits[n].language = column_dup(s, 2);
		hits[n].score = sqlite3_column_double(s, 3);
		n++;
	}
	if (rc != SQLITE_DONE) {
		*error_r = db_error(db, "searching the kb");
		sqlite3_finalize(s);
		kb_hits_free(&hits, n);
		return -1;
	}
	sqlite3_finalize(s);
	*hits_r = hits;
	*n_r = n;
	return 0;
}

int kb_search(struct sqlite3 *db, const char *query, const char *language, unsigned limit,
	      struct kb_hit **hits_r, size_t *n_r, const char **error_r)
{
	_cleanup_free_ char *norm = NULL;
	size_t norm_len;
	if (norm_text(query, strlen(query), 0, &norm, &norm_len, error_r) < 0)
		return -1;
	char marker[16] = "";
	if (language != NULL) {
		if (strlen(language) > 8 || strchr(language, KB_MARK) != NULL) {
			*error_r = "bad language code";
			return -1;
		}
		snprintf(marker, sizeof(marker), KB_MARK_STR "%s" KB_MARK_STR, language);
	}
	struct strbuf sb;
	strbuf_init(&sb, 0);
	struct query_state q = {.sb = &sb, .marker = marker};
	tok_tokenize(norm, norm_len, KB_MAX_QUERY_TERMS, query_on_token, &q, NULL);
	if (q.words == 0) {
		strbuf_free(&sb);
		*hits_r = NULL;
		*n_r = 0;
		return 0;
	}
	int ret = run_hits(db, language != NULL ? hit_sql_only : hit_sql_any, strbuf_str(&sb), NULL,
			   0, language, limit, hits_r, n_r, error_r);
	strbuf_free(&sb);
	return ret;
}

static int term_cmp(const void *a, const void *b)
{
	const struct kb_term *x = a, *y = b;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return strcmp(x->stem, y->stem); /* stable order for equal weights */
}

int kb_terms_weigh(struct sqlite3 *db, struct kb_term *terms, size_t n, const char **error_r)
{
	sqlite3_stmt *s;
	int64_t articles = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM kb_meta WHERE key = 'articles'", -1, &s,
			       NULL) != SQLITE_OK) {
		*error_r = db_error(db, "reading the kb size");
		return -1;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		articles = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, "SELECT docs FROM kb_terms WHERE term = ?1", -1, &s, NULL) !=
	    SQLITE_OK) {
		*error_r = db_error(db, "reading the kb terms");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, terms[i].stem, -1, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			*error_r = db_error(db, "reading the kb terms");
			sqlite3_finalize(s);
			return -1;
		}
		terms[i].docs = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
		double tf = 1.0 + log(terms[i].count > 0 ? (double)terms[i].count : 1.0);
		/* +0.5 and +1 keep the idf positive and finite for every docs <= N. */
		double idf = log(((double)articles + 1.0) / ((double)terms[i].docs + 0.5));
		terms[i].weight = tf * (idf > 0 ? idf : 0.0);
	}
	sqlite3_finalize(s);
	qsort(terms, n, sizeof(*terms), term_cmp);
	return 0;
}

int kb_has_terms(struct sqlite3 *db, bool *any_r, const char **error_r)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM kb_terms WHERE docs > 0)", -1, &s,
			       NULL) != SQLITE_OK) {
		*error_r = db_error(db, "reading the kb terms");
		return -1;
	}
	int rc = sqlite3_step(s);
	bool any = rc == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
	if (rc != SQLITE_ROW) {
		*error_r = db_error(db, "reading the kb terms");
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	*any_r = any;
	return 0;
}

size_t kb_terms_pick(const struct kb_term *terms, size_t n, size_t max, struct kb_term *out)
{
	size_t picked = 0;
	for (size_t i = 0; i < n && picked < max; i++)
		if (terms[i].docs > 0 && terms[i].docs <= KB_PICK_MAX_DOCS)
			out[picked++] = terms[i];
	for (size_t i = 0; i < n && picked < max && picked < KB_PICK_MIN_TERMS; i++)
		if (terms[i].docs > KB_PICK_MAX_DOCS)
			out[picked++] = terms[i];
	return picked;
}

/* The match expression of kb_stems_match_expr, and in docs (room for
 * KB_MAX_QUERY_TERMS) each phrase's document count, *n_docs_r of them. */
static char *stems_match(const struct kb_term *terms, size_t n, int64_t *docs_r, size_t *n_docs_r)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	/* The cost of the query is the sum of the terms' posting lists and a
	 * rank computed for every article matched. A term that is common, or
	 * that would take the articles matched over KB_MATCH_MAX_POSTINGS, is
	 * matched in titles only: a title holds a few words, so few articles
	 * match it there, and a common word says what an article is about
	 * mostly when it is in its title. */
	int64_t postings = 0;
	size_t n_docs = 0;
	for (size_t i = 0; i < n && i < KB_MAX_QUERY_TERMS; i++) {
		size_t len = strlen(terms[i].stem);
		/* a space would split the verbatim term in two */
		if (len == 0 || memchr(terms[i].stem, ' ', len) != NULL)
			continue;
		int64_t docs = terms[i].docs > 0 ? terms[i].docs : 0;
		bool title_only = docs > KB_PICK_MAX_DOCS || postings + docs > KB_MATCH_MAX_POSTINGS;
		if (!title_only)
			postings += docs;
		append_phrase(&sb, title_only ? "title : " : "", KB_MARK_STR "=" KB_MARK_STR,
			      terms[i].stem, len);
		/* a title-only phrase is in fewer articles than its docs: kb_rank
		 * counts them itself (0) */
		docs_r[n_docs++] = title_only ? 0 : docs;
	}
	*n_docs_r = n_docs;
	if (sb.len == 0) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

char *kb_stems_match_expr(const struct kb_term *terms, size_t n)
{
	int64_t docs[KB_MAX_QUERY_TERMS];
	size_t n_docs;
	return stems_match(terms, n, docs, &n_docs);
}

int kb_search_stems(struct sqlite3 *db, const struct kb_term *terms, size_t n,
		    const char *prefer_language, unsigned limit, struct kb_hit **hits_r,
		    size_t *n_r, const char **error_r)
{
	int64_t docs[KB_MAX_QUERY_TERMS];
	size_t n_docs;
	_cleanup_free_ char *match = stems_match(terms, n, docs, &n_docs);
	if (match == NULL) {
		*hits_r = NULL;
		*n_r = 0;
		return 0;
	}
	return run_hits(db, prefer_language != NULL ? hit_sql_prefer : hit_sql_any, match, docs,
			n_docs, prefer_language, limit, hits_r, n_r, error_r);
}
