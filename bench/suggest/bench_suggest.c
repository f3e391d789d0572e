/* Benchmark of the suggestion path: knowledge bases of generated articles
 * (French and English support vocabulary plus a long tail of rarer words,
 * deterministic seed), generated tickets, and per ticket the time of
 * suggest_for_ticket() (all of it: reading the ticket, terms, tf-idf, the
 * article and similar-ticket searches, drafts, storing) against the bare
 * FTS5 "MATCH ... ORDER BY bm25" query on the same terms, in the same run;
 * wall and thread CPU time, the phases of the suggestion and the slowest
 * tickets. Built databases are cached (by size, ticket count, generator and
 * schema version) and copied for each run. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Wall-clock and this thread's CPU time: on a shared machine the two differ
 * by the time the thread waited for a core. */
struct stamp {
	struct timespec wall, cpu;
};

static void stamp_now(struct stamp *s)
{
	clock_gettime(CLOCK_MONOTONIC, &s->wall);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &s->cpu);
}

static double ts_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The wall and CPU milliseconds since a. */
static void elapsed(const struct stamp *a, double *wall_r, double *cpu_r)
{
	struct stamp b;
	stamp_now(&b);
	*wall_r = ts_ms(&a->wall, &b.wall);
	*cpu_r = ts_ms(&a->cpu, &b.cpu);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The p-quantile of v (n values), v itself left as it was. */
static double percentile(const double *v, size_t n, double p)
{
	double *c = xcalloc(n, sizeof(*c));
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	size_t i = (size_t)ceil(p * (double)n) - 1;
	double r = c[i < n ? i : n - 1];
	free(c);
	return r;
}

_Noreturn static void die(const char *what, const char *error)
{
	fprintf(stderr, "bench_suggest: %s: %s\n", what, error);
	exit(1);
}

/* ---- one size ---- */

/* Bump when the generator or what is built changes: cached databases of
 * another version are not used. */
#define GENERATOR_VERSION 3

struct sample {
	double suggest_wall, suggest_cpu, kb_wall, kb_cpu, bare_wall, bare_cpu;
	struct suggest_profile profile;
	size_t terms;        /* terms of the article query */
	int64_t postings;    /* articles they are in, summed */
	int64_t matches;     /* articles the query matches */
	int64_t sim_matches; /* messages the similar-ticket terms match (summed) */
};

struct result {
	unsigned articles;
	double build_s; /* < 0: taken from the cache */
	struct sample *samples;
	size_t n;
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

/* Builds the knowledge base and the tickets of one size into path: the same
 * data for a size whatever other sizes run (the generator restarts). */
static void build_db(const char *path, unsigned n_articles, unsigned n_tickets)
{
	const char *error;
	struct store *st;
	rng_state = 0x9e3779b97f4a7c15ULL;
	make_rare_words();
	if (store_open(path, &st, &error) < 0)
		die("store", error);
	if (kb_register(store_db(st), &error) < 0)
		die("kb_register", error);
	build_kb(st, n_articles);
	/* solved tickets for the similar-ticket search: one per 20 articles, at
	 * least 200 */
	unsigned n_solved = n_articles / 20 < 200 ? 200 : n_articles / 20;
	if (store_begin(st) < 0)
		die("begin", store_error(st));
	unsigned serial = 0;
	for (unsigned i = 0; i < n_solved; i++)
		add_ticket(st, pick(ARRAY_SIZE(topics)), rnd() & 1, true, serial++);
	for (unsigned i = 0; i < n_tickets; i++)
		add_ticket(st, pick(ARRAY_SIZE(topics)), rnd() & 1, false, serial++);
	if (store_commit(st) < 0)
		die("commit", store_error(st));
	store_close(&st); /* the last connection: the WAL goes into the file */
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	FILE *out = in != NULL ? fopen(to, "wb") : NULL;
	if (in == NULL || out == NULL)
		die("copying the cached database", in == NULL ? from : to);
	static char buf[1 << 16];
	size_t r;
	while ((r = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, r, out) != r)
			die("copying the cached database", to);
	if (ferror(in) || fclose(out) != 0)
		die("copying the cached database", to);
	fclose(in);
}

static void remove_db(const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		char *f = xasprintf("%s%s", path, suffixes[i]);
		unlink(f);
		free(f);
	}
}

static int64_t count_matches(sqlite3_stmt *s, const char *match)
{
	if (match == NULL)
		return 0;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, match, -1, SQLITE_STATIC);
	return sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
}

static void run_size(const char *tmp, const char *cache, unsigned n_articles, unsigned n_tickets,
		     struct feat_ctx *feat, const struct config *cfg, struct result *res)
{
	const char *error;
	char *cached = xasprintf("%s/suggest-g%d-s%d-%ua-%ut.db", cache, GENERATOR_VERSION,
				 store_latest_version(), n_articles, n_tickets);
	res->articles = n_articles;
	res->build_s = -1;
	if (access(cached, R_OK) != 0) {
		char *building = xasprintf("%s.%d.tmp", cached, (int)getpid());
		remove_db(building);
		double t0 = now_ms();
		build_db(building, n_articles, n_tickets);
		res->build_s = (now_ms() - t0) / 1e3;
		if (rename(building, cached) != 0)
			die("caching the database", cached);
		remove_db(building);
		free(building);
	}
	char *path = xasprintf("%s/bench_suggest_%u_%d.db", tmp, n_articles, (int)getpid());
	remove_db(path);
	copy_file(cached, path);
	free(cached);

	struct store *st;
	if (store_open(path, &st, &error) < 0)
		die("store", error);
	if (kb_register(store_db(st), &error) < 0)
		die("kb_register", error);
	struct sqlite3 *db = store_db(st);
	sqlite3_stmt *list, *bare, *count_kb;
	if (sqlite3_prepare_v2(db, "SELECT id FROM tickets WHERE status = 'new' ORDER BY id", -1,
			       &list, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT rowid FROM kb_fts WHERE kb_fts MATCH ?1"
			       " ORDER BY bm25(kb_fts, 10.0, 1.0, 3.0) LIMIT ?2",
			       -1, &bare, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH ?1", -1,
			       &count_kb, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(db));
	int64_t *ids = xcalloc(n_tickets, sizeof(*ids));
	size_t n_ids = 0;
	while (n_ids < n_tickets && sqlite3_step(list) == SQLITE_ROW)
		ids[n_ids++] = sqlite3_column_int64(list, 0);
	sqlite3_finalize(list);
	if (n_ids != n_tickets)
		die("cached database", "fewer tickets than expected");

	struct suggest *sg;
	if (suggest_new(cfg, &sg, &error) < 0)
		die("suggest_new", error);
	res->samples = xcalloc(n_tickets, sizeof(*res->samples));
	res->n = n_tickets;
	for (unsigned i = 0; i < n_tickets; i++) {
		struct sample *sm = &res->samples[i];
		struct stamp a;
		/* The whole suggestion, as ingestion runs it (inside its
		 * transaction; the commit is not counted). */
		suggest_set_profile(sg, &sm->profile);
		if (store_begin(st) < 0)
			die("begin", store_error(st));
		stamp_now(&a);
		if (suggest_for_ticket(sg, st, ids[i], &error) < 0)
			die("suggest_for_ticket", error);
		elapsed(&a, &sm->suggest_wall, &sm->suggest_cpu);
		if (store_commit(st) < 0)
			die("commit", store_error(st));
		suggest_set_profile(sg, NULL);

		/* The same terms, recomputed outside the clock. */
		struct ticket t;
		struct message_row *msgs = NULL;
		size_t n_msgs = 0;
		if (store_ticket_get(st, ids[i], &t) <= 0 ||
		    store_message_list(st, ids[i], &msgs, &n_msgs) < 0 || n_msgs == 0)
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
		stamp_now(&a);
		if (kb_terms_weigh(db, terms, n_terms, &error) < 0)
			die("weigh", error);
		struct kb_term chosen[SUGGEST_QUERY_TERMS];
		size_t n_chosen = kb_terms_pick(terms, n_terms, SUGGEST_QUERY_TERMS, chosen);
		struct kb_hit *hits = NULL;
		size_t n_hits = 0;
		if (kb_search_stems(db, chosen, n_chosen, t.language, cfg->kb.suggestions, &hits,
				    &n_hits, &error) < 0)
			die("search", error);
		elapsed(&a, &sm->kb_wall, &sm->kb_cpu);
		kb_hits_free(&hits, n_hits);

		/* The bare query on the same terms (statement prepared once). */
		char *match = kb_stems_match_expr(chosen, n_chosen);
		stamp_now(&a);
		if (match != NULL) {
			sqlite3_reset(bare);
			sqlite3_bind_text(bare, 1, match, -1, SQLITE_STATIC);
			sqlite3_bind_int(bare, 2, (int)cfg->kb.suggestions);
			while (sqlite3_step(bare) == SQLITE_ROW)
				;
		}
		elapsed(&a, &sm->bare_wall, &sm->bare_cpu);

		/* What the queries had to look at, outside the clock. */
		sm->terms = n_chosen;
		for (size_t k = 0; k < n_chosen; k++)
			sm->postings += chosen[k].docs;
		sm->matches = count_matches(count_kb, match);
		sm->sim_matches = sm->profile.similar_matches;
		free(match);
		free(terms);
		feat_bag_free(&bag);
		message_rows_free(&msgs, n_msgs);
		ticket_clear(&t);
	}
	sqlite3_finalize(bare);
	sqlite3_finalize(count_kb);
	free(ids);
	suggest_free(&sg);
	store_close(&st);
	remove_db(path);
	free(path);
}

/* ---- reporting ---- */

#define FIELD(f) offsetof(struct sample, f)

static double field_at(const struct sample *s, size_t off)
{
	return *(const double *)((const char *)s + off);
}

static void quantiles(const struct result *r, size_t off, double *p50_r, double *p99_r)
{
	double *v = xcalloc(r->n, sizeof(*v));
	for (size_t i = 0; i < r->n; i++)
		v[i] = field_at(&r->samples[i], off);
	*p50_r = percentile(v, r->n, 0.50);
	*p99_r = percentile(v, r->n, 0.99);
	free(v);
}

static void print_row(const struct result *r, bool cpu)
{
	double s50, s99, k50, k99, b50, b99;
	quantiles(r, cpu ? FIELD(suggest_cpu) : FIELD(suggest_wall), &s50, &s99);
	quantiles(r, cpu ? FIELD(kb_cpu) : FIELD(kb_wall), &k50, &k99);
	quantiles(r, cpu ? FIELD(bare_cpu) : FIELD(bare_wall), &b50, &b99);
	char build[16];
	if (r->build_s < 0)
		snprintf(build, sizeof(build), "cached");
	else
		snprintf(build, sizeof(build), "%.1f", r->build_s);
	printf("%9u %8s %4s | %6.3f %7.3f | %6.3f %7.3f | %6.3f %7.3f | %5.2f %5.2f\n",
	       r->articles, build, cpu ? "cpu" : "wall", s50, s99, k50, k99, b50, b99, s50 / b50,
	       s99 / b99);
}

static const char *const phase_names[SUGGEST_PHASES] = {"terms",   "weigh",	 "articles",
						       "similar", "drafts", "store"};

static int cmp_slowest(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	return x->suggest_wall > y->suggest_wall ? -1 : x->suggest_wall < y->suggest_wall;
}

static void print_details(struct result *r)
{
	printf("\n%u articles: the suggestion by phase, milliseconds (wall | thread cpu)\n",
	       r->articles);
	printf("%9s | %6s %7s | %6s %7s\n", "phase", "p50", "p99", "p50", "p99");
	for (int p = 0; p < SUGGEST_PHASES; p++) {
		size_t wall = FIELD(profile) + offsetof(struct suggest_profile, wall_ms) +
			      (size_t)p * sizeof(double);
		size_t cpu = FIELD(profile) + offsetof(struct suggest_profile, cpu_ms) +
			     (size_t)p * sizeof(double);
		double w50, w99, c50, c99;
		quantiles(r, wall, &w50, &w99);
		quantiles(r, cpu, &c50, &c99);
		printf("%9s | %6.3f %7.3f | %6.3f %7.3f\n", phase_names[p], w50, w99, c50, c99);
	}
	qsort(r->samples, r->n, sizeof(*r->samples), cmp_slowest);
	printf("the 10 slowest suggestions: wall/cpu ms of the whole, of its article and\n"
	       "similar-ticket searches; article query terms, their postings, matches;\n"
	       "similar-ticket query terms and matches; wall/cpu ms of the bare query\n");
	printf("%15s | %15s | %15s | %5s %8s %7s | %3s %6s | %15s\n", "whole", "articles",
	       "similar", "terms", "postings", "matches", "sim", "sim m", "bare");
	for (size_t i = 0; i < r->n && i < 10; i++) {
		const struct sample *s = &r->samples[i];
		const struct suggest_profile *p = &s->profile;
		printf("%7.3f/%7.3f | %7.3f/%7.3f | %7.3f/%7.3f | %5zu %8" PRId64 " %7" PRId64
		       " | %3zu %6" PRId64 " | %7.3f/%7.3f\n",
		       s->suggest_wall, s->suggest_cpu, p->wall_ms[SUGGEST_PHASE_ARTICLES],
		       p->cpu_ms[SUGGEST_PHASE_ARTICLES], p->wall_ms[SUGGEST_PHASE_SIMILAR],
		       p->cpu_ms[SUGGEST_PHASE_SIMILAR], s->terms, s->postings, s->matches,
		       p->similar_terms, s->sim_matches, s->bare_wall, s->bare_cpu);
	}
	size_t cpu_over = 0, wall_over = 0;
	for (size_t i = 0; i < r->n; i++) {
		wall_over += r->samples[i].suggest_wall > 5.0;
		cpu_over += r->samples[i].suggest_cpu > 5.0;
	}
	printf("suggestions over 5 ms: %zu by wall clock, %zu by thread cpu time (of %zu)\n\n",
	       wall_over, cpu_over, r->n);
}

int main(int argc, char **argv)
{
	const char *tmp = "/tmp";
	const char *cache = SOURCE_DIR "/bench/cache/suggest";
	uint32_t n_tickets = 1000;
	unsigned sizes[16];
	size_t n_sizes = 0;
	for (int i = 1; i < argc; i++) {
		uint32_t v;
		if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc) {
			tmp = argv[++i];
		} else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc) {
			cache = argv[++i];
		} else if (strcmp(argv[i], "--tickets") == 0 && i + 1 < argc) {
			if (parse_uint32(argv[++i], &n_tickets) < 0 || n_tickets == 0)
				die("--tickets", "expected a positive number");
		} else if (parse_uint32(argv[i], &v) == 0 && v > 0 && n_sizes < ARRAY_SIZE(sizes)) {
			sizes[n_sizes++] = v;
		} else {
			fprintf(stderr, "usage: bench_suggest [--tmp DIR] [--cache DIR] [--tickets N] [SIZES...]\n");
			return 64;
		}
	}
	if (n_sizes == 0) {
		sizes[n_sizes++] = 1000;
		sizes[n_sizes++] = 10000;
		sizes[n_sizes++] = 100000;
	}
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

	if (mkdir(cache, 0755) < 0 && errno != EEXIST)
		die("creating the cache directory", cache);

	printf("suggestion time per ticket, %u tickets per size, milliseconds\n", n_tickets);
	printf("%9s %8s %4s | %14s | %14s | %14s | %11s\n", "articles", "build s", "time",
	       "suggest p50/p99", "kb part p50/p99", "bare p50/p99", "ratio p50/99");
	struct result *results = xcalloc(n_sizes, sizeof(*results));
	for (size_t i = 0; i < n_sizes; i++) {
		run_size(tmp, cache, sizes[i], n_tickets, feat, &cfg, &results[i]);
		print_row(&results[i], false);
		fflush(stdout);
	}
	for (size_t i = 0; i < n_sizes; i++)
		print_row(&results[i], true);
	printf("suggest: suggest_for_ticket() whole (ticket read, terms, tf-idf, article and\n"
	       "similar-ticket searches, drafts, store); kb part: tf-idf + article search;\n"
	       "bare: the FTS5 MATCH ... ORDER BY bm25 LIMIT on the same terms, prepared once.\n"
	       "wall: elapsed time (the target); cpu: this thread's CPU time (what the code\n"
	       "costs, without the waits for a core on a shared machine).\n");
	for (size_t i = 0; i < n_sizes; i++) {
		print_details(&results[i]);
		free(results[i].samples);
	}
	free(results);
	feat_ctx_free(&feat);
	return 0;
}
