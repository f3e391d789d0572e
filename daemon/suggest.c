/* Suggestions for a ticket: the ticket's distinguishing terms (tf-idf
 * against the knowledge base) drive an article search and a search for
 * similar solved tickets; the results become ranked drafts in the store. */
#include "suggest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "feat.h"
#include "kb.h"
#include "kb_draft.h"
#include "store.h"
#include "strbuf.h"
#include "tok.h"
#include "xalloc.h"

/* Stop-word lists are small; a huge file is a mistake. */
#define SUGGEST_MAX_STOPWORDS_BYTES (1024 * 1024)

struct suggest {
	const struct config *cfg;
	struct feat_ctx *feat;
	struct suggest_profile *profile; /* NULL: not measured */
	struct timespec mark_wall, mark_cpu;
};

static __thread char suggest_error[512];

static const char *set_error(const char *what, const char *detail)
{
	snprintf(suggest_error, sizeof(suggest_error), "%s: %s", what, detail);
	return suggest_error;
}

/* Reads a whole small file; a missing one gives NULL and 0. */
static int read_optional(const char *path, char **text_r, size_t *len_r, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*text_r = NULL;
			*len_r = 0;
			return 0;
		}
		*error_r = set_error(path, strerror(errno));
		return -1;
	}
	struct strbuf sb;
	strbuf_init(&sb, SUGGEST_MAX_STOPWORDS_BYTES);
	char buf[8192];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		strbuf_append(&sb, buf, (size_t)r);
	int saved = errno;
	close(fd);
	if (r < 0 || sb.truncated) {
		*error_r = set_error(path, r < 0 ? strerror(saved) : "too large");
		strbuf_free(&sb);
		return -1;
	}
	*len_r = sb.len;
	*text_r = strbuf_steal(&sb);
	return 0;
}

int suggest_new(const struct config *cfg, struct suggest **sg_r, const char **error_r)
{
	_cleanup_free_ char *fr = NULL, *en = NULL;
	size_t fr_len = 0, en_len = 0;
	const char *dir = cfg->nlp.stopwords_dir;
	if (dir != NULL) {
		_cleanup_free_ char *fr_path = xasprintf("%s/fr.txt", dir);
		_cleanup_free_ char *en_path = xasprintf("%s/en.txt", dir);
		if (read_optional(fr_path, &fr, &fr_len, error_r) < 0 ||
		    read_optional(en_path, &en, &en_len, error_r) < 0)
			return -1;
	}
	struct feat_ctx *feat;
	if (feat_ctx_new(fr, fr_len, en, en_len, &feat, error_r) < 0)
		return -1;
	struct suggest *sg = xcalloc(1, sizeof(*sg));
	sg->cfg = cfg;
	sg->feat = feat;
	*sg_r = sg;
	return 0;
}

void suggest_free(struct suggest **sgp)
{
	struct suggest *sg = *sgp;
	if (sg == NULL)
		return;
	feat_ctx_free(&sg->feat);
	free(sg);
	*sgp = NULL;
}

/* ---- profile ---- */

void suggest_set_profile(struct suggest *sg, struct suggest_profile *profile)
{
	sg->profile = profile;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void profile_start(struct suggest *sg)
{
	if (sg->profile == NULL)
		return;
	memset(sg->profile, 0, sizeof(*sg->profile));
	clock_gettime(CLOCK_MONOTONIC, &sg->mark_wall);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &sg->mark_cpu);
}

/* The time since the previous mark goes to phase. */
static void profile_mark(struct suggest *sg, enum suggest_phase phase)
{
	if (sg->profile == NULL)
		return;
	struct timespec wall, cpu;
	clock_gettime(CLOCK_MONOTONIC, &wall);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
	sg->profile->wall_ms[phase] += ms_between(&sg->mark_wall, &wall);
	sg->profile->cpu_ms[phase] += ms_between(&sg->mark_cpu, &cpu);
	sg->mark_wall = wall;
	sg->mark_cpu = cpu;
}

/* ---- drafts ---- */

static const char *signature_for(const char *language)
{
	return language != NULL && strcmp(language, "fr") == 0 ? SUGGEST_SIGNATURE_FR
							       : SUGGEST_SIGNATURE_EN;
}

/* The requester's name, else the part of the address before '@'. */
static char *customer_name(const struct ticket *t)
{
	if (t->requester_name != NULL && t->requester_name[0] != '\0')
		return xstrdup(t->requester_name);
	const char *at = strchr(t->requester, '@');
	return xstrndup(t->requester, at != NULL ? (size_t)(at - t->requester) : strlen(t->requester));
}

static char *render_article(const struct kb_article *a, const struct ticket *t,
			    const char *agent_name)
{
	_cleanup_free_ char *name = customer_name(t);
	char id[24];
	snprintf(id, sizeof(id), "%" PRId64, t->id);
	struct kb_draft_vars vars = {
		.customer_name = name,
		.ticket_id = id,
		.ticket_subject = t->subject,
		.agent_name = agent_name != NULL ? agent_name : signature_for(a->language),
	};
	return kb_draft_fill(a->template != NULL ? a->template : a->body, &vars);
}

/* ---- the ticket's terms ---- */

static int ticket_bag(struct suggest *sg, struct store *st, const struct ticket *t,
		      struct feat_bag **bag_r, const char **error_r)
{
	struct message_row *msgs = NULL;
	size_t n = 0;
	if (store_message_list(st, t->id, &msgs, &n) < 0) {
		*error_r = set_error("reading the ticket's messages", store_error(st));
		return -1;
	}
	struct strbuf body;
	strbuf_init(&body, SUGGEST_MAX_TEXT);
	/* Newest first: when the limit cuts, the latest question is kept. */
	for (size_t i = n; i-- > 0;) {
		if (msgs[i].outgoing)
			continue;
		const char *text = msgs[i].new_text != NULL ? msgs[i].new_text : msgs[i].body_text;
		if (text == NULL)
			continue;
		strbuf_puts(&body, text);
		strbuf_putc(&body, '\n');
	}
	message_rows_free(&msgs, n);
	int rc = feat_extract(sg->feat, t->subject, strlen(t->subject), strbuf_str(&body), body.len,
			      0, bag_r, error_r);
	strbuf_free(&body);
	return rc;
}

/* The match expression for messages_fts, which is not stemmed: each stem as
 * a prefix ("rembours"* finds "remboursement", "rembourse"). English stems
 * that end in 'i' for a 'y' ("deliveri") lose it to stay a prefix; a
 * three-letter stem is matched as a word, not as a prefix. The terms are the
 * heaviest, those common in the knowledge base left out (they are common in
 * mail too). FTS5 ranks every message the query matches, a prefix matches
 * every word that starts with it, and how many messages that is cannot be
 * told from the knowledge base: the matches are counted first (a walk of
 * the posting lists stopped at the budget, much cheaper than ranking), the
 * heaviest terms together, and when they match more than
 * SUGGEST_SIMILAR_MAX_MATCHES messages, term by term, leaving out a term
 * that would take the query over. *match_r is NULL when no term is usable. */
static int similar_match_expr(struct store *st, const struct kb_term *terms, size_t n,
			      char **match_r, size_t *used_r, int64_t *matches_r)
{
	char phrases[SUGGEST_SIMILAR_CANDIDATES][TOK_MAX_WORD_LEN * 2 + 8];
	size_t n_phrases = 0;
	for (size_t i = 0; i < n && n_phrases < SUGGEST_SIMILAR_CANDIDATES; i++) {
		const char *stem = terms[i].stem;
		size_t len = strlen(stem);
		if (terms[i].docs > KB_PICK_MAX_DOCS)
			continue;
		/* a three-letter prefix would match half the vocabulary */
		bool prefix = len > 3;
		if (len > 3 && stem[len - 1] == 'i')
			len--;
		if (len < 3 || strpbrk(stem, "\"* ") != NULL)
			continue;
		if ((size_t)snprintf(phrases[n_phrases], sizeof(phrases[n_phrases]),
				     prefix ? "\"%.*s\"*" : "\"%.*s\"", (int)len,
				     stem) < sizeof(phrases[n_phrases]))
			n_phrases++;
	}
	struct strbuf sb;
	strbuf_init(&sb, 0);
	size_t used = 0;
	int64_t total = 0;
	/* the common case first: the heaviest terms together fit */
	for (size_t i = 0; i < n_phrases && i < SUGGEST_SIMILAR_TERMS; i++) {
		if (sb.len > 0)
			strbuf_puts(&sb, " OR ");
		strbuf_puts(&sb, phrases[i]);
		used++;
	}
	if (used > 0 &&
	    store_message_matches(st, strbuf_str(&sb), SUGGEST_SIMILAR_MAX_MATCHES + 1, &total) < 0)
		goto fail;
	if (total > SUGGEST_SIMILAR_MAX_MATCHES) {
		strbuf_reset(&sb);
		used = 0;
		total = 0;
		for (size_t i = 0; i < n_phrases && used < SUGGEST_SIMILAR_TERMS; i++) {
			int64_t matches;
			if (store_message_matches(st, phrases[i],
						  SUGGEST_SIMILAR_MAX_MATCHES - total + 1, &matches) < 0)
				goto fail;
			if (matches == 0 || total + matches > SUGGEST_SIMILAR_MAX_MATCHES)
				continue;
			total += matches;
			if (sb.len > 0)
				strbuf_puts(&sb, " OR ");
			strbuf_puts(&sb, phrases[i]);
			used++;
		}
	}
	*used_r = used;
	*matches_r = total;
	*match_r = sb.len > 0 ? strbuf_steal(&sb) : NULL;
	if (*match_r == NULL)
		strbuf_free(&sb);
	return 0;
fail:
	strbuf_free(&sb);
	return -1;
}

/* ---- the audit event ---- */

static char *audit_detail(const struct kb_term *terms, size_t n_terms, const struct suggestion *items,
			  size_t n_items)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *jt = cJSON_AddArrayToObject(o, "terms");
	for (size_t i = 0; i < n_terms; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "term", terms[i].stem);
		cJSON_AddNumberToObject(t, "weight", (double)(int64_t)(terms[i].weight * 1000) / 1000);
		cJSON_AddNumberToObject(t, "articles", (double)terms[i].docs);
		cJSON_AddItemToArray(jt, t);
	}
	cJSON *js = cJSON_AddArrayToObject(o, "suggestions");
	for (size_t i = 0; i < n_items; i++) {
		cJSON *s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "kind", items[i].kind);
		cJSON_AddStringToObject(s, "ref", items[i].ref);
		cJSON_AddNumberToObject(s, "score", (double)(int64_t)(items[i].score * 1000) / 1000);
		cJSON_AddItemToArray(js, s);
	}
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	char *copy = xstrdup(text != NULL ? text : "{}");
	cJSON_free(text);
	return copy;
}

static void items_free(struct suggestion *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		suggestion_clear(&items[i]);
	free(items);
}

int suggest_for_ticket(struct suggest *sg, struct store *st, int64_t ticket_id,
		       const char **error_r)
{
	return suggest_for_ticket_terms(sg, st, ticket_id, NULL, error_r);
}

int suggest_for_ticket_terms(struct suggest *sg, struct store *st, int64_t ticket_id,
			     const struct feat_bag *given, const char **error_r)
{
	profile_start(sg);
	struct ticket t;
	int found = store_ticket_get(st, ticket_id, &t);
	if (found <= 0) {
		*error_r = found < 0 ? set_error("reading the ticket", store_error(st))
				     : "no such ticket";
		return -1;
	}
	struct feat_bag *bag = NULL;
	struct kb_term *terms = NULL;
	struct kb_hit *hits = NULL;
	struct similar_ticket *similar = NULL;
	struct suggestion *items = NULL;
	char *detail = NULL;
	struct kb_term kb_terms[SUGGEST_QUERY_TERMS];
	size_t n_terms = 0, n_hits = 0, n_similar = 0, n_items = 0, n_kb = 0;
	struct sqlite3 *db = store_db(st);
	int ret = -1;
	/* With no term in any article and no other ticket solved, no term can
	 * find anything (kb_terms_pick picks none, store_similar_solved returns
	 * none): the result is known without the ticket's terms, which on a
	 * follow-up cost an extraction of every customer message. A new
	 * helpdesk is in that state until its first article or solved ticket. */
	unsigned want = sg->cfg->kb.suggestions;
	bool kb_useful = false, similar_useful = false;
	if (want > 0 && kb_has_terms(db, &kb_useful, error_r) < 0)
		goto out;
	if (sg->cfg->kb.similar > 0 && store_any_solved(st, t.id, &similar_useful) < 0) {
		*error_r = set_error("searching similar tickets", store_error(st));
		goto out;
	}
	if (!kb_useful && !similar_useful)
		goto store;
	/* The caller's features (a new ticket's, just extracted by triage) spare
	 * extracting them again; otherwise they are built from the messages. */
	const struct feat_bag *features = given;
	if (features == NULL) {
		if (ticket_bag(sg, st, &t, &bag, error_r) < 0)
			goto out;
		features = bag;
	}
	const char *language = t.language != NULL && (strcmp(t.language, "fr") == 0 ||
						      strcmp(t.language, "en") == 0)
				       ? t.language
				       : feat_bag_lang(features) != LANG_OTHER ? lang_code(feat_bag_lang(features))
									  : NULL;
	n_terms = feat_bag_term_count(features);
	terms = xcalloc(n_terms + 1, sizeof(*terms));
	for (size_t i = 0; i < n_terms; i++)
		feat_bag_term(features, i, &terms[i].stem, &terms[i].count);
	profile_mark(sg, SUGGEST_PHASE_TERMS);
	if (kb_terms_weigh(db, terms, n_terms, error_r) < 0)
		goto out;
	/* Articles: the heaviest terms that occur in the knowledge base, the
	 * very common ones left out (see kb_terms_pick). */
	n_kb = kb_terms_pick(terms, n_terms, SUGGEST_QUERY_TERMS, kb_terms);
	profile_mark(sg, SUGGEST_PHASE_WEIGH);
	if (sg->profile != NULL) {
		sg->profile->kb_terms = n_kb;
		for (size_t i = 0; i < n_kb; i++)
			sg->profile->kb_postings += kb_terms[i].docs;
	}
	if (want > 0 && n_kb > 0 &&
	    kb_search_stems(db, kb_terms, n_kb, language, want, &hits, &n_hits, error_r) < 0)
		goto out;
	profile_mark(sg, SUGGEST_PHASE_ARTICLES);
	/* Tickets: the heaviest terms, those missing from the knowledge base
	 * included (weighed as the rarest: a product name, an error code may be
	 * the best clue). kb_terms_weigh left them sorted. */
	if (similar_useful && n_terms > 0) {
		size_t used;
		int64_t matches;
		_cleanup_free_ char *match = NULL;
		if (similar_match_expr(st, terms, n_terms, &match, &used, &matches) < 0) {
			*error_r = set_error("searching similar tickets", store_error(st));
			goto out;
		}
		if (sg->profile != NULL) {
			sg->profile->similar_terms = used;
			sg->profile->similar_matches = matches;
		}
		if (match != NULL &&
		    store_similar_solved(st, match, t.id, sg->cfg->kb.similar, &similar, &n_similar) <
			    0) {
			*error_r = set_error("searching similar tickets", store_error(st));
			goto out;
		}
	}
	profile_mark(sg, SUGGEST_PHASE_SIMILAR);
store:
	items = xcalloc(n_hits + n_similar + 1, sizeof(*items));
	for (size_t i = 0; i < n_hits; i++) {
		struct kb_article a;
		int r = kb_article_get(db, hits[i].id, &a, error_r);
		if (r < 0)
			goto out;
		if (r == 0)
			continue;
		struct suggestion *it = &items[n_items++];
		it->kind = xstrdup("article");
		it->ref = xstrdup(a.id);
		it->title = xstrdup(a.title);
		it->score = hits[i].score;
		it->language = xstrdup(a.language);
		it->draft = render_article(&a, &t, NULL);
		kb_article_clear(&a);
	}
	for (size_t i = 0; i < n_similar; i++) {
		struct suggestion *it = &items[n_items++];
		it->kind = xstrdup("ticket");
		it->ref = xasprintf("%" PRId64, similar[i].ticket_id);
		it->title = xstrdup(similar[i].subject != NULL ? similar[i].subject : "");
		it->score = similar[i].score;
		it->language = similar[i].language != NULL ? xstrdup(similar[i].language) : NULL;
		/* The reply that solved it, as sent: the agent adapts it. */
		it->draft = similar[i].reply != NULL ? xstrdup(similar[i].reply) : NULL;
	}
	profile_mark(sg, SUGGEST_PHASE_DRAFTS);
	if (store_suggestions_replace(st, t.id, items, n_items) < 0) {
		*error_r = set_error("storing suggestions", store_error(st));
		goto out;
	}
	detail = audit_detail(kb_terms, n_kb, items, n_items);
	if (store_event_add(st, t.id, "system", "suggestions", detail) < 0) {
		*error_r = set_error("storing the suggestion event", store_error(st));
		goto out;
	}
	profile_mark(sg, SUGGEST_PHASE_STORE);
	ret = 0;
out:
	free(detail);
	items_free(items, n_items);
	similar_list_free(&similar, n_similar);
	kb_hits_free(&hits, n_hits);
	free(terms);
	feat_bag_free(&bag);
	ticket_clear(&t);
	return ret;
}

int suggest_get(struct store *st, int64_t ticket_id, int rank, const char *agent_name,
		struct suggestion *s_r, const char **error_r)
{
	struct suggestion s;
	int found = store_suggestion_get(st, ticket_id, rank, &s);
	if (found < 0) {
		*error_r = set_error("reading a suggestion", store_error(st));
		return -1;
	}
	if (found == 0)
		return 0;
	if (agent_name != NULL && strcmp(s.kind, "article") == 0) {
		struct ticket t;
		struct kb_article a;
		int rt = store_ticket_get(st, ticket_id, &t);
		if (rt < 0) {
			*error_r = set_error("reading the ticket", store_error(st));
			suggestion_clear(&s);
			return -1;
		}
		int ra = rt > 0 ? kb_article_get(store_db(st), s.ref, &a, error_r) : 0;
		if (ra < 0) {
			ticket_clear(&t);
			suggestion_clear(&s);
			return -1;
		}
		if (ra > 0) {
			free(s.draft);
			s.draft = render_article(&a, &t, agent_name);
			kb_article_clear(&a);
		}
		if (rt > 0)
			ticket_clear(&t);
	}
	*s_r = s;
	return 1;
}

int suggest_mark(struct store *st, int64_t ticket_id, int rank, enum suggestion_status status,
		 const char *agent, const char *reason, double edit_ratio, const char **error_r)
{
	if (status == SUGGESTION_PROPOSED) {
		*error_r = "a decision is approved, edited or rejected";
		return -1;
	}
	if (status == SUGGESTION_APPROVED)
		edit_ratio = 0;
	else if (status == SUGGESTION_REJECTED)
		edit_ratio = -1;
	else if (!(edit_ratio >= 0 && edit_ratio <= 1)) {
		*error_r = "an edit ratio is between 0 and 1";
		return -1;
	}
	int r = store_suggestion_decide(st, ticket_id, rank, status, agent, reason, edit_ratio);
	if (r < 0) {
		*error_r = set_error("recording the decision", store_error(st));
		return -1;
	}
	if (r == 0) {
		snprintf(suggest_error, sizeof(suggest_error),
			 "ticket %" PRId64 " has no suggestion %d awaiting a decision", ticket_id, rank);
		*error_r = suggest_error;
		return -1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "rank", rank);
	if (reason != NULL)
		cJSON_AddStringToObject(o, "reason", reason);
	if (edit_ratio >= 0)
		cJSON_AddNumberToObject(o, "edit_ratio", edit_ratio);
	char *detail = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	/* An address is an agent's; "cli:USER" is an identity already. */
	_cleanup_free_ char *actor = agent != NULL && strncmp(agent, "cli:", 4) == 0
					     ? xstrdup(agent)
					     : xasprintf("agent:%s", agent != NULL ? agent : "?");
	_cleanup_free_ char *kind = xasprintf("suggestion_%s", suggestion_status_name(status));
	int rc = store_event_add(st, ticket_id, actor, kind, detail);
	cJSON_free(detail);
	if (rc < 0) {
		*error_r = set_error("recording the decision", store_error(st));
		return -1;
	}
	return 0;
}

/* ---- edit ratio ---- */

struct words {
	const char **start;
	size_t *len;
	size_t n;
};

static void split_words(const char *s, struct words *w)
{
	size_t cap = 0;
	w->start = NULL;
	w->len = NULL;
	w->n = 0;
	size_t cap_len = 0;
	while (s != NULL && *s != '\0' && w->n < SUGGEST_EDIT_MAX_WORDS) {
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
			s++;
		if (*s == '\0')
			break;
		const char *b = s;
		while (*s != '\0' && !(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
				       *s == '\f' || *s == '\v'))
			s++;
		w->start = xgrow(w->start, &cap, w->n + 1, sizeof(*w->start));
		w->len = xgrow(w->len, &cap_len, w->n + 1, sizeof(*w->len));
		w->start[w->n] = b;
		w->len[w->n] = (size_t)(s - b);
		w->n++;
	}
}

double suggest_edit_ratio(const char *draft, const char *sent)
{
	struct words a, b;
	split_words(draft, &a);
	split_words(sent, &b);
	size_t longer = a.n > b.n ? a.n : b.n;
	double ratio = 0;
	if (longer > 0) {
		/* Two rows of the Levenshtein table (Wagner-Fischer). */
		size_t *prev = xcalloc(b.n + 1, sizeof(*prev));
		size_t *cur = xcalloc(b.n + 1, sizeof(*cur));
		for (size_t j = 0; j <= b.n; j++)
			prev[j] = j;
		for (size_t i = 1; i <= a.n; i++) {
			cur[0] = i;
			for (size_t j = 1; j <= b.n; j++) {
				bool same = a.len[i - 1] == b.len[j - 1] &&
					    memcmp(a.start[i - 1], b.start[j - 1], a.len[i - 1]) == 0;
				size_t best = prev[j - 1] + (same ? 0 : 1);
				if (prev[j] + 1 < best)
					best = prev[j] + 1;
				if (cur[j - 1] + 1 < best)
					best = cur[j - 1] + 1;
				cur[j] = best;
			}
			size_t *tmp = prev;
			prev = cur;
			cur = tmp;
		}
		ratio = (double)prev[b.n] / (double)longer;
		free(prev);
		free(cur);
	}
	free(a.start);
	free(a.len);
	free(b.start);
	free(b.len);
	return ratio;
}
