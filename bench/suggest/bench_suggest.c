/* Benchmark of the suggestion path: knowledge bases of generated articles
 * (French and English support vocabulary plus a long tail of rarer words,
 * deterministic seed), generated tickets, and per ticket the time of
 * suggest_for_ticket() (all of it: reading the ticket, terms, tf-idf, the
 * article and similar-ticket searches, drafts, storing) against the bare
 * FTS5 "MATCH ... ORDER BY bm25" query on the same terms, in the same run. */
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "feat.h"
#include "kb.h"
#include "parse.h"
#include "store.h"
#include "store_suggestions.h"
#include "strbuf.h"
#include "suggest.h"
#include "xalloc.h"

/* ---- deterministic generator ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64* (Vigna, "An experimental exploration of Marsaglia's
	 * xorshift generators, scrambled", 2016) */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t pick(size_t n)
{
	return (size_t)(rnd() % n);
}

static double uniform(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* Topics, each with words in both languages; a ticket and its best article
 * share a topic. */
struct topic {
	const char *fr[14];
	const char *en[14];
};

static const struct topic topics[] = {
	{{"remboursement", "rembourser", "remboursé", "retour", "virement", "délai", "banque",
	  "crédit", "avoir", "annulation", "montant", "semaines", "compte", "attente"},
	 {"refund", "refunded", "return", "transfer", "delay", "bank", "credit", "voucher",
	  "cancellation", "amount", "weeks", "account", "waiting", "money"}},
	{{"livraison", "colis", "transporteur", "suivi", "expédition", "adresse", "retard",
	  "colissimo", "chronopost", "relais", "livré", "perdu", "entrepôt", "numéro"},
	 {"delivery", "parcel", "carrier", "tracking", "shipping", "address", "late", "courier",
	  "express", "pickup", "delivered", "lost", "warehouse", "number"}},
	{{"facture", "facturation", "tva", "société", "copie", "pdf", "montant", "paiement",
	  "prélèvement", "double", "carte", "débit", "relevé", "comptabilité"},
	 {"invoice", "billing", "vat", "company", "copy", "pdf", "charge", "payment", "debit",
	  "twice", "card", "statement", "receipt", "accounting"}},
	{{"mot", "passe", "connexion", "compte", "identifiant", "réinitialiser", "lien",
	  "sécurité", "code", "authentification", "bloqué", "courriel", "session", "oublié"},
	 {"password", "login", "sign", "account", "username", "reset", "link", "security",
	  "code", "authentication", "locked", "email", "session", "forgot"}},
	{{"abonnement", "résiliation", "renouvellement", "mensuel", "annuel", "offre", "tarif",
	  "engagement", "prélèvement", "essai", "gratuit", "formule", "option", "résilier"},
	 {"subscription", "cancel", "renewal", "monthly", "yearly", "plan", "price",
	  "commitment", "trial", "free", "upgrade", "downgrade", "option", "billing"}},
	{{"produit", "défectueux", "garantie", "panne", "réparation", "échange", "cassé",
	  "écran", "batterie", "chargeur", "notice", "installation", "pièce", "sav"},
	 {"product", "defective", "warranty", "broken", "repair", "exchange", "cracked",
	  "screen", "battery", "charger", "manual", "installation", "part", "replacement"}},
};

static const char *const filler_fr[] = {
	"bonjour", "merci", "votre", "commande", "client", "service", "demande", "jours",
	"possible", "rapidement", "problème", "aide", "information", "message", "réponse",
	"question", "site", "espace", "rubrique", "équipe", "vérifier", "envoyer", "recevoir",
	"besoin", "cordialement", "toujours", "encore", "depuis", "aujourd'hui", "hier"};
static const char *const filler_en[] = {
	"hello", "thanks", "your", "order", "customer", "service", "request", "days", "possible",
	"quickly", "problem", "help", "information", "message", "answer", "question", "website",
	"page", "section", "team", "check", "send", "receive", "need", "regards", "still", "again",
	"since", "today", "yesterday"};

/* The long tail: product names, places, rarer words; Zipf-distributed. */
#define RARE_WORDS 30000
static char rare[RARE_WORDS][12];

static void make_rare_words(void)
{
	static const char *const syl[] = {"ka", "lo", "mi", "ter", "va", "sen", "bru", "dol",
					  "fi", "gra", "nor", "pel", "qui", "ros", "tam", "zu"};
	for (size_t i = 0; i < RARE_WORDS; i++) {
		size_t n = 0;
		int parts = 2 + (int)(i % 3);
		for (int p = 0; p < parts; p++) {
			const char *s = syl[pick(ARRAY_SIZE(syl))];
			size_t l = strlen(s);
			if (n + l >= sizeof(rare[i]))
				break;
			memcpy(rare[i] + n, s, l);
			n += l;
		}
		rare[i][n] = '\0';
	}
}

static const char *zipf_rare(void)
{
	/* inverse-CDF of a continuous 1/x law over [1, RARE_WORDS] */
	double u = uniform();
	size_t k = (size_t)exp(u * log((double)RARE_WORDS)) - 1;
	return rare[k < RARE_WORDS ? k : RARE_WORDS - 1];
}

static void gen_text(struct strbuf *sb, size_t topic, bool fr, size_t words)
{
	for (size_t i = 0; i < words; i++) {
		double r = uniform();
		const char *w;
		if (r < 0.35)
			w = fr ? topics[topic].fr[pick(14)] : topics[topic].en[pick(14)];
		else if (r < 0.75)
			w = fr ? filler_fr[pick(ARRAY_SIZE(filler_fr))]
			       : filler_en[pick(ARRAY_SIZE(filler_en))];
		else
			w = zipf_rare();
		if (i > 0)
			strbuf_putc(sb, ' ');
		strbuf_puts(sb, w);
	}
}

/* ---- timing ---- */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	size_t i = (size_t)ceil(p * (double)n) - 1;
	return v[i < n ? i : n - 1];
}

static void die(const char *what, const char *error)
{
	fprintf(stderr, "bench_suggest: %s: %s\n", what, error);
	exit(1);
}

/* ---- one size ---- */

struct result {
	unsigned articles;
	double build_s;
	double suggest_p50, suggest_p99, kb_p50, kb_p99, bare_p50, bare_p99;
};

static void build_kb(struct store *st, unsigned n_articles)
{
	const char *error;
	struct sqlite3 *db = store_db(st);
	if (store_begin(st) < 0)
		die("begin", store_error(st));
	for (unsigned i = 0; i < n_articles; i++) {
		size_t topic = pick(ARRAY_SIZE(topics));
		bool fr = rnd() & 1;
		struct strbuf title, body;
		strbuf_init(&title, 0);
		strbuf_init(&body, 0);
		gen_text(&title, topic, fr, 3 + pick(4));
		gen_text(&body, topic, fr, 60 + pick(120));
		char id[32];
		snprintf(id, sizeof(id), "a%06u", i);
		struct kb_article a = {.id = id, .title = (char *)strbuf_str(&title),
				       .body = (char *)strbuf_str(&body),
				       .tags = (char *)(fr ? topics[topic].fr[0] : topics[topic].en[0]),
				       .language = (char *)(fr ? "fr" : "en"),
				       .template = (char *)"Bonjour {{customer.name}},\n{{agent.name}}\n"};
		enum kb_put_result r;
		if (kb_article_put(db, &a, 1, &r, &error) < 0)
			die("article", error);
		strbuf_free(&title);
		strbuf_free(&body);
	}
	if (kb_refresh_terms(db, &error) < 0)
		die("terms", error);
	if (store_commit(st) < 0)
		die("commit", store_error(st));
}

static int64_t add_ticket(struct store *st, size_t topic, bool fr, bool solved, unsigned serial)
{
	struct strbuf subject, text;
	strbuf_init(&subject, 0);
	strbuf_init(&text, 0);
	gen_text(&subject, topic, fr, 3 + pick(4));
	gen_text(&text, topic, fr, 20 + pick(60));
	struct ticket t = {.subject = (char *)strbuf_str(&subject),
			   .requester = (char *)"client@example.test", .queue = (char *)"support",
			   .status = solved ? TICKET_RESOLVED : TICKET_NEW,
			   .priority = PRIORITY_NORMAL};
	int64_t id;
	if (store_ticket_create(st, &t, &id) < 0 ||
	    store_ticket_set_triage(st, id, fr ? "fr" : "en", NULL, 0, false, 0, 0, NULL) < 0)
		die("ticket", store_error(st));
	char key[32];
	snprintf(key, sizeof(key), "in%u@bench", serial);
	struct message m = {.ticket_id = id, .message_id = key, .dedupe_key = key,
			    .from_addr = "client@example.test", .subject = t.subject,
			    .new_text = strbuf_str(&text), .body_text = strbuf_str(&text)};
	int64_t mid;
	if (store_message_add(st, &m, &mid) < 0)
		die("message", store_error(st));
	if (solved) {
		snprintf(key, sizeof(key), "out%u@bench", serial);
		struct message r = {.ticket_id = id, .outgoing = true, .message_id = key,
				    .dedupe_key = key, .from_addr = "support@example.test",
				    .subject = "Re", .new_text = "Voici la solution.",
				    .body_text = "Voici la solution."};
		if (store_message_add(st, &r, &mid) < 0)
			die("reply", store_error(st));
	}
	strbuf_free(&subject);
	strbuf_free(&text);
	return id;
}

static void run_size(const char *tmp, unsigned n_articles, unsigned n_tickets,
		     struct feat_ctx *feat, const struct config *cfg, struct result *res)
{
	char *path = xasprintf("%s/bench_suggest_%u_%d.db", tmp, n_articles, (int)getpid());
	const char *error;
	struct store *st;
	if (store_open(path, &st, &error) < 0)
		die("store", error);
	if (kb_register(store_db(st), &error) < 0)
		die("kb_register", error);
	double t0 = now_ms();
	build_kb(st, n_articles);
	res->articles = n_articles;
	res->build_s = (now_ms() - t0) / 1e3;
	/* solved tickets for the similar-ticket search: one per 20 articles, at
	 * least 200 */
	unsigned n_solved = n_articles / 20 < 200 ? 200 : n_articles / 20;
	int64_t *ids = xcalloc(n_tickets, sizeof(*ids));
	if (store_begin(st) < 0)
		die("begin", store_error(st));
	unsigned serial = 0;
	for (unsigned i = 0; i < n_solved; i++)
		add_ticket(st, pick(ARRAY_SIZE(topics)), rnd() & 1, true, serial++);
	for (unsigned i = 0; i < n_tickets; i++)
		ids[i] = add_ticket(st, pick(ARRAY_SIZE(topics)), rnd() & 1, false, serial++);
	if (store_commit(st) < 0)
		die("commit", store_error(st));

	struct suggest *sg;
	if (suggest_new(cfg, &sg, &error) < 0)
		die("suggest_new", error);
	sqlite3_stmt *bare;
	if (sqlite3_prepare_v2(store_db(st),
			       "SELECT rowid FROM kb_fts WHERE kb_fts MATCH ?1"
			       " ORDER BY bm25(kb_fts, 10.0, 1.0, 3.0) LIMIT ?2",
			       -1, &bare, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(store_db(st)));
	double *t_suggest = xcalloc(n_tickets, sizeof(double));
	double *t_kb = xcalloc(n_tickets, sizeof(double));
	double *t_bare = xcalloc(n_tickets, sizeof(double));
	for (unsigned i = 0; i < n_tickets; i++) {
		/* The whole suggestion, as ingestion runs it (inside its
		 * transaction; the commit is not counted). */
		if (store_begin(st) < 0)
			die("begin", store_error(st));
		double a = now_ms();
		if (suggest_for_ticket(sg, st, ids[i], &error) < 0)
			die("suggest_for_ticket", error);
		t_suggest[i] = now_ms() - a;
		if (store_commit(st) < 0)
			die("commit", store_error(st));

		/* The same terms, recomputed outside the clock. */
		struct ticket t;
		struct message_row *msgs;
		size_t n_msgs;
		if (store_ticket_get(st, ids[i], &t) <= 0 ||
		    store_message_list(st, ids[i], &msgs, &n_msgs) < 0)
			die("ticket", store_error(st));
		struct feat_bag *bag;
		const char *text = msgs[0].new_text;
		if (feat_extract(feat, t.subject, strlen(t.subject), text, strlen(text), 0, &bag,
				 &error) < 0)
			die("feat", error);
		size_t n_terms = feat_bag_term_count(bag);
		struct kb_term *terms = xcalloc(n_terms + 1, sizeof(*terms));
		for (size_t k = 0; k < n_terms; k++)
			feat_bag_term(bag, k, &terms[k].stem, &terms[k].count);

		/* The kb part alone: term weights and the article search. */
		a = now_ms();
		if (kb_terms_weigh(store_db(st), terms, n_terms, &error) < 0)
			die("weigh", error);
		struct kb_term chosen[SUGGEST_QUERY_TERMS];
		size_t n_chosen = kb_terms_pick(terms, n_terms, SUGGEST_QUERY_TERMS, chosen);
		struct kb_hit *hits = NULL;
		size_t n_hits = 0;
		if (kb_search_stems(store_db(st), chosen, n_chosen, t.language, cfg->kb.suggestions,
				    &hits, &n_hits, &error) < 0)
			die("search", error);
		t_kb[i] = now_ms() - a;
		kb_hits_free(&hits, n_hits);

		/* The bare query on the same terms (statement prepared once). */
		char *match = kb_stems_match_expr(chosen, n_chosen);
		a = now_ms();
		if (match != NULL) {
			sqlite3_reset(bare);
			sqlite3_bind_text(bare, 1, match, -1, SQLITE_STATIC);
			sqlite3_bind_int(bare, 2, (int)cfg->kb.suggestions);
			while (sqlite3_step(bare) == SQLITE_ROW)
				;
		}
		t_bare[i] = now_ms() - a;
		free(match);
		free(terms);
		feat_bag_free(&bag);
		message_rows_free(&msgs, n_msgs);
		ticket_clear(&t);
	}
	sqlite3_finalize(bare);
	res->suggest_p50 = percentile(t_suggest, n_tickets, 0.50);
	res->suggest_p99 = percentile(t_suggest, n_tickets, 0.99);
	res->kb_p50 = percentile(t_kb, n_tickets, 0.50);
	res->kb_p99 = percentile(t_kb, n_tickets, 0.99);
	res->bare_p50 = percentile(t_bare, n_tickets, 0.50);
	res->bare_p99 = percentile(t_bare, n_tickets, 0.99);
	free(t_suggest);
	free(t_kb);
	free(t_bare);
	free(ids);
	suggest_free(&sg);
	store_close(&st);
	for (const char *suffix = ""; suffix != NULL;
	     suffix = suffix[0] == '\0' ? "-wal" : suffix[1] == 'w' ? "-shm" : NULL) {
		char *f = xasprintf("%s%s", path, suffix);
		unlink(f);
		free(f);
	}
	free(path);
}

int main(int argc, char **argv)
{
	const char *tmp = "/tmp";
	uint32_t n_tickets = 1000;
	unsigned sizes[16];
	size_t n_sizes = 0;
	for (int i = 1; i < argc; i++) {
		uint32_t v;
		if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc) {
			tmp = argv[++i];
		} else if (strcmp(argv[i], "--tickets") == 0 && i + 1 < argc) {
			if (parse_uint32(argv[++i], &n_tickets) < 0 || n_tickets == 0)
				die("--tickets", "expected a positive number");
		} else if (parse_uint32(argv[i], &v) == 0 && v > 0 && n_sizes < ARRAY_SIZE(sizes)) {
			sizes[n_sizes++] = v;
		} else {
			fprintf(stderr, "usage: bench_suggest [--tmp DIR] [--tickets N] [SIZES...]\n");
			return 64;
		}
	}
	if (n_sizes == 0) {
		sizes[n_sizes++] = 1000;
		sizes[n_sizes++] = 10000;
		sizes[n_sizes++] = 100000;
	}
	make_rare_words();
	struct config cfg = {0};
	cfg.kb.suggestions = 3;
	cfg.kb.similar = 3;
	cfg.nlp.stopwords_dir = (char *)SOURCE_DIR "/conf/stopwords";
	const char *error;
	struct feat_ctx *feat;
	/* the same stop words as the suggestion context reads */
	FILE *fr = fopen(SOURCE_DIR "/conf/stopwords/fr.txt", "rb");
	FILE *en = fopen(SOURCE_DIR "/conf/stopwords/en.txt", "rb");
	static char fr_buf[1 << 20], en_buf[1 << 20];
	size_t fr_len = fr ? fread(fr_buf, 1, sizeof(fr_buf), fr) : 0;
	size_t en_len = en ? fread(en_buf, 1, sizeof(en_buf), en) : 0;
	if (fr)
		fclose(fr);
	if (en)
		fclose(en);
	if (feat_ctx_new(fr_buf, fr_len, en_buf, en_len, &feat, &error) < 0)
		die("feat", error);

	printf("suggestion time per ticket, %u tickets per size, milliseconds\n", n_tickets);
	printf("%9s %8s | %14s | %14s | %14s | %11s\n", "articles", "build s",
	       "suggest p50/p99", "kb part p50/p99", "bare p50/p99", "ratio p50/99");
	for (size_t i = 0; i < n_sizes; i++) {
		struct result r;
		run_size(tmp, sizes[i], n_tickets, feat, &cfg, &r);
		printf("%9u %8.1f | %6.3f %7.3f | %6.3f %7.3f | %6.3f %7.3f | %5.2f %5.2f\n",
		       r.articles, r.build_s, r.suggest_p50, r.suggest_p99, r.kb_p50, r.kb_p99,
		       r.bare_p50, r.bare_p99, r.suggest_p50 / r.bare_p50,
		       r.suggest_p99 / r.bare_p99);
		fflush(stdout);
	}
	printf("suggest: suggest_for_ticket() whole (ticket read, terms, tf-idf, article and\n"
	       "similar-ticket searches, drafts, store); kb part: tf-idf + article search;\n"
	       "bare: the FTS5 MATCH ... ORDER BY bm25 LIMIT on the same terms, prepared once.\n");
	feat_ctx_free(&feat);
	return 0;
}
