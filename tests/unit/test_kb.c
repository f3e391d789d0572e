/* The knowledge base: front-matter parsing and its errors (file and line),
 * import and re-import (changed, deleted, bad files), the FTS5 tokenizer
 * (accents, French and English stemming), ranking and the language filter,
 * on a real SQLite file migrated by the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "kb_draft.h"
#include "kb_import.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

#define ARTICLES FIXTURES_DIR "/kb/articles"
#define BAD FIXTURES_DIR "/kb/bad"

struct fixture {
	char dir[64];
	char *articles; /* a copy of the fixture articles the test may change */
	struct store *st;
	struct sqlite3 *db;
	char errors[4096];
	size_t progress_calls;
};

#define RUN(...)                                         \
	do {                                             \
		char *cmd_ = xasprintf(__VA_ARGS__);     \
		assert_int_equal(system(cmd_), 0);       \
		free(cmd_);                              \
	} while (0)

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_kb.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *path = xasprintf("%s/triaged.db", f->dir);
	const char *error = NULL;
	assert_int_equal(store_open(path, &f->st, &error), 0);
	free(path);
	f->db = store_db(f->st);
	assert_int_equal(kb_register(f->db, &error), 0);
	/* twice on one connection is harmless */
	assert_int_equal(kb_register(f->db, &error), 0);
	f->articles = xasprintf("%s/articles", f->dir);
	RUN("cp -r '%s' '%s'", ARTICLES, f->articles);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->st);
	RUN("rm -rf '%s'%s", f->dir, "");
	free(f->articles);
	free(f);
	return 0;
}

static void on_error(const char *message, void *ctx)
{
	struct fixture *f = ctx;
	size_t len = strlen(f->errors);
	snprintf(f->errors + len, sizeof(f->errors) - len, "%s\n", message);
}

static void on_progress(size_t done, size_t total, void *ctx)
{
	struct fixture *f = ctx;
	assert_true(done <= total);
	f->progress_calls++;
}

static struct kb_import_summary import(struct fixture *f)
{
	struct kb_import_summary sum;
	const char *error = NULL;
	f->errors[0] = '\0';
	if (kb_import_dir(f->db, f->articles, 1000, on_progress, on_error, f, &sum, &error) < 0)
		fail_msg("import: %s", error);
	return sum;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(path);
}

/* ---- parsing ---- */

static char *slurp(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	char *buf = xmalloc(65536);
	size_t len = fread(buf, 1, 65535, fp);
	fclose(fp);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

static void test_parse_article(void **state)
{
	(void)state;
	size_t len;
	char *text = slurp(ARTICLES "/billing/refund-delay.md", &len);
	struct kb_article a;
	const char *error = NULL;
	assert_int_equal(kb_import_parse("refund-delay.md", text, len, &a, &error), 0);
	assert_string_equal(a.id, "refund-delay");
	assert_string_equal(a.title, "Quand serai-je remboursé ?");
	assert_string_equal(a.language, "fr");
	assert_string_equal(a.tags, "billing,refund");
	/* The literal block: indentation removed, blank lines kept, one final newline. */
	assert_non_null(a.template);
	assert_true(strncmp(a.template, "Bonjour {{customer.name}},\n\nVotre demande", 40) == 0);
	assert_string_equal(a.template + strlen(a.template) - 16, "\n{{agent.name}}\n");
	assert_true(strncmp(a.body, "# Délai de remboursement\n", 26) == 0);
	assert_int_equal(a.body[strlen(a.body) - 1], '.');
	kb_article_clear(&a);
	free(text);

	/* No id: the file name; no lang: guessed; quoted title; block list of tags;
	 * "|-" strips the final newline; a quoted tag keeps its space (as a dash). */
	text = slurp(ARTICLES "/account/password-reset-en.md", &len);
	assert_int_equal(kb_import_parse("x/password-reset-en.md", text, len, &a, &error), 0);
	assert_string_equal(a.id, "password-reset-en");
	assert_string_equal(a.title, "Resetting your password");
	assert_string_equal(a.language, "en");
	assert_null(a.template);
	kb_article_clear(&a);
	free(text);
	text = slurp(ARTICLES "/billing/invoice-copy.md", &len);
	assert_int_equal(kb_import_parse("invoice-copy.md", text, len, &a, &error), 0);
	assert_string_equal(a.tags, "billing,invoice");
	kb_article_clear(&a);
	free(text);
	text = slurp(ARTICLES "/delivery/damaged-parcel-en.md", &len);
	assert_int_equal(kb_import_parse("damaged-parcel-en.md", text, len, &a, &error), 0);
	assert_string_equal(a.tags, "delivery,damage-claim");
	assert_int_equal(a.template[strlen(a.template) - 1], '}');
	kb_article_clear(&a);
	free(text);
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		const char *error; /* after "bad/" */
	} cases[] = {
		{"tags.md", "tags.md:3: tags: expected a list [a, b]"},
		{"no-header.md", "no-header.md:1: expected a front-matter header opening with ---"},
		{"lang.md", "lang.md:3: lang: expected fr or en"},
		{"unknown-key.md",
		 "unknown-key.md:3: tittle: unknown key (expected id, title, lang, tags or template)"},
		{"unclosed.md", "unclosed.md:1: front-matter header not closed by ---"},
		{"quote.md", "quote.md:4: id: unterminated or malformed quoted string"},
		{"indent.md", "indent.md:6: template: line indented less than the block's first line"},
		{"twice.md", "twice.md:4: lang: given twice"},
		{"id.md", "id.md:2: id: expected letters, digits, '-', '_' or '.' (at most 128)"},
		{"empty.md", "empty.md:4: no body and no template: nothing to suggest"},
		{"no-title.md", "no-title.md:1: title: missing"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *path = xasprintf("%s/%s", BAD, cases[i].file);
		char *shown = xasprintf("bad/%s", cases[i].file);
		char *want = xasprintf("bad/%s", cases[i].error);
		size_t len;
		char *text = slurp(path, &len);
		struct kb_article a = {0};
		const char *error = NULL;
		int rc = kb_import_parse(shown, text, len, &a, &error);
		if (rc == 0)
			fail_msg("%s parsed", cases[i].file);
		assert_string_equal(error, want);
		assert_null(a.id);
		free(text);
		free(path);
		free(shown);
		free(want);
	}
	/* Limits: a file over the size limit and one with a NUL byte. */
	size_t big = KB_MAX_ARTICLE_BYTES + 1;
	char *text = xmalloc(big);
	memset(text, 'a', big);
	struct kb_article a;
	const char *error = NULL;
	assert_int_equal(kb_import_parse("big.md", text, big, &a, &error), -1);
	assert_string_equal(error, "big.md:1: larger than 1048576 bytes");
	free(text);
	assert_int_equal(kb_import_parse("nul.md", "---\0", 4, &a, &error), -1);
	assert_string_equal(error, "nul.md:1: not a text file (NUL byte)");
}

/* ---- import ---- */

static int64_t count(struct fixture *f, const char *sql)
{
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void test_import_reimport(void **state)
{
	struct fixture *f = *state;
	struct kb_import_summary sum = import(f);
	assert_string_equal(f->errors, "");
	assert_int_equal(sum.files, 7);
	assert_int_equal(sum.added, 7);
	assert_int_equal(sum.updated + sum.unchanged + sum.removed + sum.failed, 0);
	assert_true(f->progress_calls >= 2);
	assert_int_equal(count(f, "SELECT count(*) FROM kb_articles"), 7);
	assert_int_equal(count(f, "SELECT value FROM kb_meta WHERE key = 'articles'"), 7);
	/* the FTS index follows the table */
	assert_int_equal(count(f, "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH 'colissimo'"), 1);

	sum = import(f);
	assert_int_equal(sum.unchanged, 7);
	assert_int_equal(sum.added + sum.updated + sum.removed + sum.failed, 0);

	/* One changed, one deleted, one new bad file, one existing file broken,
	 * one new good file in a new subfolder. */
	write_file(f->articles, "delivery/delivery-times.md",
		   "---\nid: delivery-times\ntitle: Délais de livraison\nlang: fr\n---\n"
		   "Les commandes arrivent en 3 jours avec Mondial Relay.\n");
	RUN("rm '%s/billing/double-charge.md'%s", f->articles, "");
	write_file(f->articles, "x.md", "---\ntitle: X\ntags: a, b\n---\nBody\n");
	write_file(f->articles, "billing/invoice-copy.md", "---\ntitle: Broken\nlang: xx\n---\n");
	RUN("mkdir '%s/new'%s", f->articles, "");
	write_file(f->articles, "new/gift-card.md",
		   "---\ntitle: Carte cadeau\nlang: fr\n---\nUtiliser une carte cadeau.\n");
	sum = import(f);
	assert_int_equal(sum.files, 8);
	assert_int_equal(sum.added, 1);
	assert_int_equal(sum.updated, 1);
	assert_int_equal(sum.unchanged, 4);
	assert_int_equal(sum.removed, 1);
	assert_int_equal(sum.failed, 2);
	char *want = xasprintf("%s/billing/invoice-copy.md:3: lang: expected fr or en\n"
			       "%s/x.md:3: tags: expected a list [a, b]\n",
			       f->articles, f->articles);
	assert_string_equal(f->errors, want);
	free(want);
	/* the broken file's article is kept as it was; the deleted one is gone */
	struct kb_article a;
	const char *error = NULL;
	assert_int_equal(kb_article_get(f->db, "invoice-copy", &a, &error), 1);
	assert_string_equal(a.title, "Obtenir une copie de facture");
	assert_string_equal(a.source_path, "billing/invoice-copy.md");
	kb_article_clear(&a);
	assert_int_equal(kb_article_get(f->db, "double-charge", &a, &error), 0);
	assert_int_equal(kb_article_get(f->db, "delivery-times", &a, &error), 1);
	assert_non_null(strstr(a.body, "Mondial Relay"));
	kb_article_clear(&a);
	/* the index dropped the old text and has the new one */
	assert_int_equal(count(f, "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH 'colissimo'"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH 'mondial'"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH 'prelevement'"),
			 0);
	assert_int_equal(count(f, "SELECT value FROM kb_meta WHERE key = 'articles'"), 7);
	/* an FTS5 integrity check: the index matches the external content */
	assert_int_equal(sqlite3_exec(f->db, "INSERT INTO kb_fts(kb_fts) VALUES ('integrity-check')",
				      NULL, NULL, NULL),
			 SQLITE_OK);

	/* Two files with the same id: the second is refused with both names. */
	write_file(f->articles, "new/copy.md",
		   "---\nid: delivery-times\ntitle: Copie\nlang: fr\n---\nCopie.\n");
	sum = import(f);
	assert_int_equal(sum.failed, 3);
	assert_non_null(strstr(f->errors, "/new/copy.md:1: id: \"delivery-times\" already used by "));
}

static void test_rm_list_get(void **state)
{
	struct fixture *f = *state;
	import(f);
	struct kb_article *list = NULL;
	size_t n = 0;
	const char *error = NULL;
	assert_int_equal(kb_article_list(f->db, &list, &n, &error), 0);
	assert_int_equal(n, 7);
	assert_string_equal(list[0].id, "damaged-parcel-en"); /* ordered by id */
	assert_non_null(list[0].template);
	assert_null(list[1].template); /* delivery-times has none */
	kb_article_list_free(&list, n);
	assert_null(list);
	assert_int_equal(kb_article_remove(f->db, "delivery-times", &error), 1);
	assert_int_equal(kb_article_remove(f->db, "delivery-times", &error), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH 'colissimo'"), 0);

	/* put by hand: added, unchanged, updated */
	struct kb_article a = {.id = (char *)"hand", .title = (char *)"Titre", .body = (char *)"Corps",
			       .language = (char *)"fr"};
	enum kb_put_result r;
	assert_int_equal(kb_article_put(f->db, &a, 5, &r, &error), 0);
	assert_int_equal(r, KB_PUT_ADDED);
	assert_int_equal(kb_article_put(f->db, &a, 6, &r, &error), 0);
	assert_int_equal(r, KB_PUT_UNCHANGED);
	a.body = (char *)"Autre corps";
	assert_int_equal(kb_article_put(f->db, &a, 7, &r, &error), 0);
	assert_int_equal(r, KB_PUT_UPDATED);
	struct kb_article b;
	assert_int_equal(kb_article_get(f->db, "hand", &b, &error), 1);
	assert_int_equal(b.updated, 7);
	assert_null(b.source_dir);
	kb_article_clear(&b);
}

/* ---- search ---- */

/* The ids of the hits, space-separated, best first. */
static char *search(struct fixture *f, const char *query, const char *lang)
{
	struct kb_hit *hits = NULL;
	size_t n = 0;
	const char *error = NULL;
	if (kb_search(f->db, query, lang, 10, &hits, &n, &error) < 0)
		fail_msg("search %s: %s", query, error);
	char buf[1024] = "";
	for (size_t i = 0; i < n; i++) {
		assert_true(hits[i].score > 0);
		if (i > 0)
			assert_true(hits[i].score <= hits[i - 1].score);
		strncat(buf, hits[i].id, sizeof(buf) - strlen(buf) - 2);
		strcat(buf, " ");
	}
	kb_hits_free(&hits, n);
	return xstrdup(buf);
}

static bool has(const char *ids, const char *id)
{
	char *hay = xasprintf(" %s", ids);
	char *needle = xasprintf(" %s ", id);
	bool found = strstr(hay, needle) != NULL;
	free(hay);
	free(needle);
	return found;
}

static void test_search_accents(void **state)
{
	struct fixture *f = *state;
	import(f);
	/* "facturé" only appears in double-charge, "facture(s)" only in invoice-copy */
	char *r = search(f, "facture", NULL);
	assert_true(has(r, "double-charge"));
	assert_true(has(r, "invoice-copy"));
	free(r);
	r = search(f, "FACTURÉ", NULL);
	assert_true(has(r, "invoice-copy"));
	assert_true(has(r, "double-charge"));
	free(r);
	/* "prélèvement" in a title, searched without accents */
	r = search(f, "prelevement", NULL);
	assert_string_equal(r, "double-charge ");
	free(r);
	r = search(f, "nothing-like-this zzzz", NULL);
	assert_string_equal(r, "");
	free(r);
	r = search(f, "  ?! ", NULL);
	assert_string_equal(r, "");
	free(r);
}

static void test_search_stemming(void **state)
{
	struct fixture *f = *state;
	import(f);
	/* Snowball French: remboursements, remboursement, remboursé -> "rembours" */
	char *r = search(f, "remboursements", NULL);
	assert_true(strncmp(r, "refund-delay ", 13) == 0);
	free(r);
	/* English: refunds, refund -> "refund": the English article with it in
	 * its title first; also the French one (a tag) and "refund the order" */
	r = search(f, "refunds", NULL);
	assert_true(strncmp(r, "refund-delay-en ", 16) == 0);
	assert_true(has(r, "refund-delay"));
	assert_true(has(r, "damaged-parcel-en"));
	assert_false(has(r, "delivery-times"));
	free(r);
	/* "passwords" reaches "password" in an article whose lang was guessed */
	r = search(f, "passwords", "en");
	assert_string_equal(r, "password-reset-en ");
	free(r);
	/* "livrées" (fr stem "livr") finds "livraison"? Snowball says no:
	 * "livraison" stays whole. What does match is the same word family. */
	r = search(f, "livraisons", "fr");
	assert_true(has(r, "delivery-times"));
	free(r);
	r = search(f, "damages", "en");
	assert_true(has(r, "damaged-parcel-en"));
	free(r);
}

static void test_search_ranking_and_language(void **state)
{
	struct fixture *f = *state;
	import(f);
	/* An exact title ranks first, before an article that mentions the words
	 * in its body (invoice-copy mentions "livraison"). */
	char *r = search(f, "Délais de livraison", NULL);
	assert_true(strncmp(r, "delivery-times ", 15) == 0);
	assert_true(has(r, "invoice-copy"));
	free(r);
	r = search(f, "When will I get my refund?", NULL);
	assert_true(strncmp(r, "refund-delay-en ", 16) == 0);
	free(r);
	/* The language filter keeps only that language. */
	r = search(f, "refund 48 heures hours", "fr");
	assert_false(has(r, "refund-delay-en"));
	assert_false(has(r, "damaged-parcel-en"));
	assert_true(has(r, "delivery-times"));
	free(r);
	r = search(f, "48 heures hours", "en");
	assert_true(has(r, "damaged-parcel-en"));
	assert_false(has(r, "delivery-times"));
	free(r);
	/* Tags are indexed too. */
	r = search(f, "invoice", "fr");
	assert_string_equal(r, "invoice-copy ");
	free(r);
	struct kb_hit *hits = NULL;
	size_t n = 0;
	const char *error = NULL;
	assert_int_equal(kb_search(f->db, "x", "f\x1fr", 3, &hits, &n, &error), -1);
}

static void test_terms_weigh(void **state)
{
	struct fixture *f = *state;
	import(f);
	struct kb_term terms[] = {
		{.stem = "factur", .count = 1},
		{.stem = "colissimo", .count = 1},
		{.stem = "zzz", .count = 1},
		{.stem = "billing", .count = 3},
	};
	const char *error = NULL;
	assert_int_equal(kb_terms_weigh(f->db, terms, ARRAY_SIZE(terms), &error), 0);
	/* sorted heaviest first: a term in no article is the rarest */
	assert_string_equal(terms[0].stem, "zzz");
	assert_int_equal(terms[0].docs, 0);
	/* "billing" is a tag of 3 French articles (English stems it "bill"), seen
	 * 3 times: (1 + ln 3) * ln(8 / 3.5) */
	assert_string_equal(terms[1].stem, "billing");
	assert_int_equal(terms[1].docs, 3);
	assert_true(terms[1].weight > 1.734 && terms[1].weight < 1.736);
	/* one article, once: ln(8 / 1.5) */
	assert_string_equal(terms[2].stem, "colissimo");
	assert_int_equal(terms[2].docs, 1);
	assert_true(terms[2].weight > 1.673 && terms[2].weight < 1.675);
	assert_string_equal(terms[3].stem, "factur");
	assert_int_equal(terms[3].docs, 2);
	/* Picking: rare terms first, common ones (over KB_PICK_MAX_DOCS
	 * articles) only to reach KB_PICK_MIN_TERMS, none that is in no article. */
	struct kb_term many[] = {
		{.stem = "a", .docs = 5000}, {.stem = "b", .docs = 0},	  {.stem = "c", .docs = 10},
		{.stem = "d", .docs = 3000}, {.stem = "e", .docs = 2000}, {.stem = "f", .docs = 9000},
	};
	struct kb_term out[8];
	assert_int_equal(kb_terms_pick(many, 6, 8, out), 3);
	assert_string_equal(out[0].stem, "c");
	assert_string_equal(out[1].stem, "e");
	assert_string_equal(out[2].stem, "a");
	assert_int_equal(kb_terms_pick(many, 6, 1, out), 1);
	assert_string_equal(out[0].stem, "c");
	many[1].docs = 1;
	many[3].docs = 7;
	assert_int_equal(kb_terms_pick(many, 6, 8, out), 4);
	assert_string_equal(out[3].stem, "e");
	/* Stems are searched as they are, with a preference for a language. */
	struct kb_term q[] = {{.stem = "rembours"}, {.stem = "refund"}};
	struct kb_hit *hits = NULL;
	size_t n = 0;
	assert_int_equal(kb_search_stems(f->db, q, 2, "en", 5, &hits, &n, &error), 0);
	assert_true(n >= 2);
	assert_string_equal(hits[0].language, "en");
	assert_string_equal(hits[n - 1].language, "fr");
	kb_hits_free(&hits, n);
	assert_int_equal(kb_search_stems(f->db, q, 2, "fr", 5, &hits, &n, &error), 0);
	assert_string_equal(hits[0].id, "refund-delay");
	kb_hits_free(&hits, n);
	/* "remboursement" is no stem: searched verbatim it finds nothing */
	struct kb_term raw[] = {{.stem = "remboursement"}};
	assert_int_equal(kb_search_stems(f->db, raw, 1, NULL, 5, &hits, &n, &error), 0);
	assert_int_equal(n, 0);
}

/* The article search's rank (kb_rank) is FTS5's bm25: the same score for
 * every match, also after an article changed (its lengths are read again),
 * after a change rolled back, and without the generation that keeps them. */
static void assert_rank_is_bm25(struct fixture *f, struct kb_term *terms, size_t n)
{
	const char *error = NULL;
	struct kb_hit *hits = NULL;
	size_t n_hits = 0;
	assert_int_equal(kb_search_stems(f->db, terms, n, NULL, 20, &hits, &n_hits, &error), 0);
	char *match = kb_stems_match_expr(terms, n);
	assert_non_null(match);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(f->db,
					    "SELECT a.id, -bm25(kb_fts, 10.0, 1.0, 3.0) FROM kb_fts"
					    " JOIN kb_articles a ON a.doc = kb_fts.rowid"
					    " WHERE kb_fts MATCH ?1",
					    -1, &s, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(s, 1, match, -1, SQLITE_STATIC);
	size_t n_bm25 = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		double bm25 = sqlite3_column_double(s, 1);
		bool seen = false;
		for (size_t i = 0; i < n_hits; i++)
			if (strcmp(hits[i].id, id) == 0) {
				seen = true;
				if (fabs(hits[i].score - bm25) > 1e-9 * fabs(bm25))
					fail_msg("%s: kb_rank %.12f, bm25 %.12f (%s)", id, hits[i].score,
						 bm25, match);
			}
		assert_true(seen);
		n_bm25++;
	}
	sqlite3_finalize(s);
	assert_int_equal(n_bm25, n_hits);
	assert_true(n_hits >= 3);
	free(match);
	kb_hits_free(&hits, n_hits);
}

static void test_rank_is_bm25(void **state)
{
	struct fixture *f = *state;
	import(f);
	struct kb_term terms[] = {
		{.stem = "rembours", .count = 1}, {.stem = "refund", .count = 2},
		{.stem = "parcel", .count = 1},	  {.stem = "factur", .count = 1},
		{.stem = "password", .count = 1},
	};
	const char *error = NULL;
	assert_int_equal(kb_terms_weigh(f->db, terms, ARRAY_SIZE(terms), &error), 0);
	for (size_t i = 0; i < ARRAY_SIZE(terms); i++)
		assert_true(terms[i].docs > 0);
	assert_rank_is_bm25(f, terms, ARRAY_SIZE(terms));
	/* a term without its document count: counted by the rank function */
	terms[1].docs = 0;
	assert_rank_is_bm25(f, terms, ARRAY_SIZE(terms));
	assert_int_equal(kb_terms_weigh(f->db, terms, ARRAY_SIZE(terms), &error), 0);

	/* a much longer article: its length is read again */
	struct kb_article a;
	assert_int_equal(kb_article_get(f->db, "refund-delay-en", &a, &error), 1);
	char *body = a.body;
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, body);
	for (int i = 0; i < 200; i++)
		strbuf_puts(&sb, " lorem ipsum");
	a.body = strbuf_steal(&sb);
	free(body);
	enum kb_put_result r;
	assert_int_equal(kb_article_put(f->db, &a, 10, &r, &error), 0);
	assert_int_equal(r, KB_PUT_UPDATED);
	assert_rank_is_bm25(f, terms, ARRAY_SIZE(terms));

	/* a change seen inside a transaction, then rolled back */
	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	free(a.body);
	a.body = xstrdup("Refund.");
	assert_int_equal(kb_article_put(f->db, &a, 11, &r, &error), 0);
	assert_rank_is_bm25(f, terms, ARRAY_SIZE(terms));
	assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_rank_is_bm25(f, terms, ARRAY_SIZE(terms));
	kb_article_clear(&a);

	/* no generation (a database from before it): rows looked up one by one,
	 * then kb_register gives it one again */
	assert_int_equal(sqlite3_exec(f->db, "DELETE FROM kb_meta WHERE key = 'generation'", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	assert_rank_is_bm25(f, terms, ARRAY_SIZE(terms));
	assert_int_equal(kb_register(f->db, &error), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM kb_meta WHERE key = 'generation'"), 1);
	assert_rank_is_bm25(f, terms, ARRAY_SIZE(terms));
}

/* ---- drafts ---- */

static void test_draft_fill(void **state)
{
	(void)state;
	struct kb_draft_vars v = {.customer_name = "Marie", .ticket_id = "42",
				  .ticket_subject = "Line one\nLine two", .agent_name = NULL};
	char *d = kb_draft_fill("Bonjour {{customer.name}}, n° {{ ticket.id }} ({{ticket.subject}}) "
				"{{agent.name}} {{unknown}} {{open",
				&v);
	assert_string_equal(d, "Bonjour Marie, n° 42 (Line one Line two) {{agent.name}} {{unknown}} "
			       "{{open");
	free(d);
	/* a value is cut at its limit on a character boundary */
	char name[400];
	for (size_t i = 0; i + 2 < sizeof(name); i += 2)
		memcpy(name + i, "é", 2);
	name[sizeof(name) - 2] = '\0';
	v.customer_name = name;
	d = kb_draft_fill("{{customer.name}}", &v);
	assert_int_equal(strlen(d), KB_DRAFT_MAX_VALUE);
	free(d);
	v.customer_name = name + 1; /* starts mid-character: still cut before a lead byte */
	d = kb_draft_fill("{{customer.name}}", &v);
	assert_true(strlen(d) <= KB_DRAFT_MAX_VALUE);
	assert_true(((unsigned char)d[strlen(d) - 1] & 0xc0) == 0x80);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_article),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_draft_fill),
		cmocka_unit_test_setup_teardown(test_import_reimport, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_list_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_accents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_stemming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_ranking_and_language, setup, teardown),
		cmocka_unit_test_setup_teardown(test_terms_weigh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rank_is_bm25, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
