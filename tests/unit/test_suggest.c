/* Suggestions: the right article for a ticket among the fixtures, drafts
 * with placeholders filled, similar solved tickets with their reply,
 * decisions and their rules, the edit ratio, and the kb statistics on a
 * fixed set of events; on a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kb.h"
#include "kb_import.h"
#include "store.h"
#include "store_suggestions.h"
#include "suggest.h"
#include "xalloc.h"

struct fixture {
	char dir[64];
	struct store *st;
	struct config cfg;
	struct suggest *sg;
	int msg_counter;
};

static int setup_kb(void **state, bool import)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_suggest.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *path = xasprintf("%s/triaged.db", f->dir);
	const char *error = NULL;
	assert_int_equal(store_open(path, &f->st, &error), 0);
	free(path);
	assert_int_equal(kb_register(store_db(f->st), &error), 0);
	struct kb_import_summary sum;
	if (import && kb_import_dir(store_db(f->st), FIXTURES_DIR "/kb/articles", 100, NULL, NULL,
				    NULL, &sum, &error) < 0)
		fail_msg("import: %s", error);
	if (import)
		assert_int_equal(sum.added, 7);
	f->cfg.kb.suggestions = 3;
	f->cfg.kb.similar = 2;
	f->cfg.nlp.stopwords_dir = (char *)SOURCE_DIR "/conf/stopwords";
	assert_int_equal(suggest_new(&f->cfg, &f->sg, &error), 0);
	store_set_fake_now(1700000000);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_kb(state, true);
}

static int setup_empty(void **state)
{
	return setup_kb(state, false);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	suggest_free(&f->sg);
	assert_null(f->sg);
	suggest_free(&f->sg); /* NULL is fine */
	store_close(&f->st);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	store_set_fake_now(0);
	free(f);
	return 0;
}

static int64_t ticket(struct fixture *f, const char *subject, const char *requester,
		      const char *name, const char *lang, const char *text)
{
	struct ticket t = {.subject = (char *)subject, .requester = (char *)requester,
			   .requester_name = (char *)name, .queue = (char *)"support",
			   .status = TICKET_NEW, .priority = PRIORITY_NORMAL};
	int64_t id = 0;
	assert_int_equal(store_ticket_create(f->st, &t, &id), 0);
	if (lang != NULL)
		assert_int_equal(store_ticket_set_triage(f->st, id, lang, NULL, 0, false, 0, 0, NULL),
				 0);
	char msgid[32];
	snprintf(msgid, sizeof(msgid), "m%d@test", ++f->msg_counter);
	struct message m = {.ticket_id = id, .message_id = msgid, .dedupe_key = msgid,
			    .from_addr = requester, .subject = subject, .new_text = text,
			    .body_text = text};
	int64_t mid;
	assert_int_equal(store_message_add(f->st, &m, &mid), 0);
	return id;
}

static void reply(struct fixture *f, int64_t id, const char *text)
{
	char msgid[32];
	snprintf(msgid, sizeof(msgid), "r%d@test", ++f->msg_counter);
	struct message m = {.ticket_id = id, .outgoing = true, .message_id = msgid,
			    .dedupe_key = msgid, .from_addr = "support@example.test",
			    .subject = "Re", .new_text = text, .body_text = text};
	int64_t mid;
	assert_int_equal(store_message_add(f->st, &m, &mid), 0);
}

static void suggest(struct fixture *f, int64_t id)
{
	const char *error = NULL;
	if (suggest_for_ticket(f->sg, f->st, id, &error) < 0)
		fail_msg("suggest_for_ticket: %s", error);
}

static void test_french_ticket(void **state)
{
	struct fixture *f = *state;
	/* a solved ticket about the same thing, and one about something else */
	int64_t solved = ticket(f, "Remboursement toujours pas reçu", "paul@example.org", "Paul",
				"fr", "Bonjour, j'attends mon remboursement depuis trois semaines.");
	reply(f, solved, "Bonjour Paul, le remboursement a été émis le 3 mars.");
	reply(f, solved, "Bonjour Paul, votre banque confirme le virement du remboursement.");
	assert_int_equal(store_ticket_set_status(f->st, solved, TICKET_RESOLVED), 0);
	int64_t other = ticket(f, "Colis abîmé", "luc@example.org", NULL, "fr",
			       "Mon colis est arrivé abîmé.");
	assert_int_equal(store_ticket_set_status(f->st, other, TICKET_CLOSED), 0);
	/* a still open one on refunds is no "solved" ticket */
	int64_t open = ticket(f, "Remboursement", "ann@example.org", NULL, "fr", "Où est mon remboursement ?");

	int64_t id = ticket(f, "Quand vais-je être remboursée ?", "marie.dupont@example.com",
			    "Marie Dupont", "fr",
			    "Bonjour, j'ai renvoyé ma commande il y a une semaine et je n'ai "
			    "toujours pas été remboursée. Merci de me dire quand le remboursement "
			    "arrivera.");
	suggest(f, id);
	struct suggestion *list = NULL;
	size_t n = 0;
	assert_int_equal(store_suggestion_list(f->st, id, &list, &n), 0);
	assert_true(n >= 2);
	assert_int_equal(list[0].rank, 1);
	assert_string_equal(list[0].kind, "article");
	assert_string_equal(list[0].ref, "refund-delay");
	assert_string_equal(list[0].title, "Quand serai-je remboursé ?");
	assert_true(list[0].score > 0);
	assert_int_equal(list[0].status, SUGGESTION_PROPOSED);
	/* the template with its placeholders filled, and a neutral signature */
	char *want = xasprintf("Bonjour Marie Dupont,\n\nVotre demande n° %lld (« Quand vais-je "
			       "être remboursée ? ») a bien été reçue.",
			       (long long)id);
	assert_true(strncmp(list[0].draft, want, strlen(want)) == 0);
	free(want);
	assert_non_null(strstr(list[0].draft, "\n" SUGGEST_SIGNATURE_FR "\n"));
	assert_null(strstr(list[0].draft, "{{"));
	/* articles come first (at most 3), then similar tickets (at most 2) */
	size_t articles = 0, tickets = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(list[i].rank, (int)i + 1);
		if (strcmp(list[i].kind, "article") == 0) {
			assert_int_equal(tickets, 0);
			articles++;
		} else {
			tickets++;
		}
	}
	assert_true(articles <= 3 && tickets <= 2);
	/* the solved refund ticket first, with the last reply that solved it
	 * (the closed parcel ticket shares "arriv-" and may follow); never the
	 * open one */
	assert_true(tickets >= 1);
	char ref[24];
	snprintf(ref, sizeof(ref), "%lld", (long long)open);
	for (size_t i = 0; i < n; i++)
		assert_false(strcmp(list[i].kind, "ticket") == 0 && strcmp(list[i].ref, ref) == 0);
	struct suggestion *t = &list[articles];
	snprintf(ref, sizeof(ref), "%lld", (long long)solved);
	assert_string_equal(t->ref, ref);
	assert_string_equal(t->title, "Remboursement toujours pas reçu");
	assert_string_equal(t->draft, "Bonjour Paul, votre banque confirme le virement du remboursement.");
	assert_true(t->score > 0);
	suggestion_list_free(&list, n);

	/* the audit event names the terms that drove the search */
	struct event_row *ev = NULL;
	size_t n_ev = 0;
	assert_int_equal(store_event_list(f->st, id, &ev, &n_ev), 0);
	bool seen = false;
	for (size_t i = 0; i < n_ev; i++)
		if (strcmp(ev[i].kind, "suggestions") == 0) {
			seen = true;
			assert_non_null(strstr(ev[i].detail, "\"term\":\"rembours\""));
			assert_non_null(strstr(ev[i].detail, "\"ref\":\"refund-delay\""));
		}
	assert_true(seen);
	event_rows_free(&ev, n_ev);
}

static void test_english_ticket_and_names(void **state)
{
	struct fixture *f = *state;
	/* no requester name: the address's local part */
	int64_t id = ticket(f, "Refund not received", "john.smith@example.com", NULL, "en",
			    "Hello, I sent the parcel back two weeks ago and I am still waiting "
			    "for my refund. When will I get it?");
	suggest(f, id);
	struct suggestion s;
	const char *error = NULL;
	assert_int_equal(suggest_get(f->st, id, 1, NULL, &s, &error), 1);
	assert_string_equal(s.ref, "refund-delay-en");
	assert_string_equal(s.language, "en");
	assert_true(strncmp(s.draft, "Hello john.smith,\n", 18) == 0);
	assert_non_null(strstr(s.draft, "\n" SUGGEST_SIGNATURE_EN "\n"));
	suggestion_clear(&s);
	/* at approval time, the agent's name */
	assert_int_equal(suggest_get(f->st, id, 1, "Alice Martin", &s, &error), 1);
	assert_non_null(strstr(s.draft, "\nAlice Martin\n"));
	assert_null(strstr(s.draft, SUGGEST_SIGNATURE_EN));
	suggestion_clear(&s);
	assert_int_equal(suggest_get(f->st, id, 99, NULL, &s, &error), 0);

	/* an article without template: its body is the draft */
	int64_t id2 = ticket(f, "Prélèvement en double", "a@example.com", NULL, "fr",
			     "J'ai été prélevé deux fois pour la même commande, le montant "
			     "apparaît en double sur mon relevé.");
	suggest(f, id2);
	assert_int_equal(suggest_get(f->st, id2, 1, NULL, &s, &error), 1);
	assert_string_equal(s.ref, "double-charge");
	assert_true(strncmp(s.draft, "Vous avez été facturé deux fois", 31) == 0);
	suggestion_clear(&s);
}

static void test_decisions(void **state)
{
	struct fixture *f = *state;
	int64_t id = ticket(f, "Facture", "b@example.com", NULL, "fr",
			    "Pouvez-vous m'envoyer une copie de ma facture ? Je ne la trouve pas "
			    "dans mon espace client.");
	suggest(f, id);
	struct suggestion *list = NULL;
	size_t n = 0;
	assert_int_equal(store_suggestion_list(f->st, id, &list, &n), 0);
	assert_true(n >= 2);
	assert_string_equal(list[0].ref, "invoice-copy");
	suggestion_list_free(&list, n);
	const char *error = NULL;
	assert_int_equal(suggest_mark(f->st, id, 1, SUGGESTION_EDITED, "alice@example.test", NULL,
				      0.25, &error),
			 0);
	/* once decided, never again */
	assert_int_equal(suggest_mark(f->st, id, 1, SUGGESTION_REJECTED, "bob@example.test",
				      "wrong", -1, &error),
			 -1);
	assert_non_null(strstr(error, "no suggestion 1 awaiting a decision"));
	assert_int_equal(suggest_mark(f->st, id, 2, SUGGESTION_EDITED, "a", NULL, 1.5, &error), -1);
	assert_int_equal(suggest_mark(f->st, id, 2, SUGGESTION_PROPOSED, "a", NULL, 0, &error), -1);
	assert_int_equal(suggest_mark(f->st, id, 2, SUGGESTION_REJECTED, "bob@example.test",
				      "not about invoices", 0.5, &error),
			 0);
	struct suggestion s;
	assert_int_equal(store_suggestion_get(f->st, id, 1, &s), 1);
	assert_int_equal(s.status, SUGGESTION_EDITED);
	assert_string_equal(s.decided_by, "alice@example.test");
	assert_int_equal(s.decided_at, 1700000000);
	assert_true(fabs(s.edit_ratio - 0.25) < 1e-9);
	suggestion_clear(&s);
	assert_int_equal(store_suggestion_get(f->st, id, 2, &s), 1);
	assert_int_equal(s.status, SUGGESTION_REJECTED);
	assert_string_equal(s.reason, "not about invoices");
	assert_true(s.edit_ratio < 0);
	suggestion_clear(&s);

	/* A new customer message: decided suggestions stay with their ranks, the
	 * new ones come after them. */
	suggest(f, id);
	assert_int_equal(store_suggestion_list(f->st, id, &list, &n), 0);
	assert_true(n >= 3);
	assert_int_equal(list[0].status, SUGGESTION_EDITED);
	assert_int_equal(list[1].status, SUGGESTION_REJECTED);
	assert_int_equal(list[2].rank, 3);
	assert_int_equal(list[2].status, SUGGESTION_PROPOSED);
	assert_string_equal(list[2].ref, "invoice-copy");
	suggestion_list_free(&list, n);
}

static char *suggestion_event(struct fixture *f, int64_t id)
{
	struct event_row *ev = NULL;
	size_t n_ev = 0;
	assert_int_equal(store_event_list(f->st, id, &ev, &n_ev), 0);
	char *detail = NULL;
	for (size_t i = 0; i < n_ev; i++)
		if (strcmp(ev[i].kind, "suggestions") == 0) {
			free(detail);
			detail = xstrdup(ev[i].detail);
		}
	event_rows_free(&ev, n_ev);
	assert_non_null(detail);
	return detail;
}

/* A new helpdesk: no article, no solved ticket. Nothing is suggested (the
 * terms are not even built), and the audit event says so; once a ticket is
 * solved, a follow-up on a similar one finds it, and once articles are
 * imported, they are found. */
static void test_empty_helpdesk(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	bool any = true;
	assert_int_equal(kb_has_terms(store_db(f->st), &any, &error), 0);
	assert_false(any);
	int64_t first = ticket(f, "Remboursement toujours pas reçu", "paul@example.org", "Paul",
			       "fr", "Bonjour, j'attends mon remboursement depuis trois semaines.");
	assert_int_equal(store_any_solved(f->st, 0, &any), 0);
	assert_false(any);
	suggest(f, first);
	struct suggestion *list = NULL;
	size_t n = 7;
	assert_int_equal(store_suggestion_list(f->st, first, &list, &n), 0);
	assert_int_equal(n, 0);
	suggestion_list_free(&list, n);
	char *detail = suggestion_event(f, first);
	assert_string_equal(detail, "{\"terms\":[],\"suggestions\":[]}");
	free(detail);

	reply(f, first, "Bonjour Paul, le remboursement a été émis le 3 mars.");
	assert_int_equal(store_ticket_set_status(f->st, first, TICKET_RESOLVED), 0);
	assert_int_equal(store_any_solved(f->st, 0, &any), 0);
	assert_true(any);
	/* the solved ticket itself does not count for itself */
	assert_int_equal(store_any_solved(f->st, first, &any), 0);
	assert_false(any);
	int64_t id = ticket(f, "Remboursement", "ann@example.org", NULL, "fr",
			    "Où est mon remboursement ?");
	suggest(f, id);
	assert_int_equal(store_suggestion_list(f->st, id, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].kind, "ticket");
	char ref[24];
	snprintf(ref, sizeof(ref), "%lld", (long long)first);
	assert_string_equal(list[0].ref, ref);
	suggestion_list_free(&list, n);

	struct kb_import_summary sum;
	if (kb_import_dir(store_db(f->st), FIXTURES_DIR "/kb/articles", 100, NULL, NULL, NULL, &sum,
			  &error) < 0)
		fail_msg("import: %s", error);
	assert_int_equal(kb_has_terms(store_db(f->st), &any, &error), 0);
	assert_true(any);
	suggest(f, id);
	assert_int_equal(store_suggestion_list(f->st, id, &list, &n), 0);
	assert_true(n >= 2);
	assert_string_equal(list[0].kind, "article");
	suggestion_list_free(&list, n);
}

static void test_edit_ratio(void **state)
{
	(void)state;
	static const struct {
		const char *draft, *sent;
		double ratio;
	} cases[] = {
		{"", "", 0},
		{"a b c d", "a b c d", 0},
		{"a b  c\nd", " a\tb c d ", 0}, /* whitespace does not count */
		{"a b c d", "a b x d", 0.25},   /* one substitution in four */
		{"a b c", "a b c d", 0.25},     /* one insertion, longer has four */
		{"a b c d", "a c d", 0.25},     /* one deletion */
		{"a b", "c d e f", 1.0},
		{"", "a b", 1.0},
		{"a b", "", 1.0},
		{"Bonjour Marie, votre colis arrive demain.",
		 "Bonjour Marie, votre colis arrive lundi.", 1.0 / 6},
		{"x y z w", "y z w x", 0.5}, /* a moved word: one deletion, one insertion */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		double r = suggest_edit_ratio(cases[i].draft, cases[i].sent);
		if (fabs(r - cases[i].ratio) > 1e-9)
			fail_msg("case %zu: %f, expected %f", i, r, cases[i].ratio);
	}
	assert_true(suggest_edit_ratio(NULL, NULL) == 0);
	/* beyond the word limit, the tail is not compared */
	size_t words = SUGGEST_EDIT_MAX_WORDS + 10;
	char *a = xmalloc(words * 2 + 1), *b = xmalloc(words * 2 + 1);
	for (size_t i = 0; i < words; i++) {
		memcpy(a + 2 * i, "a ", 2);
		memcpy(b + 2 * i, i < SUGGEST_EDIT_MAX_WORDS ? "a " : "b ", 2);
	}
	a[words * 2] = b[words * 2] = '\0';
	assert_true(suggest_edit_ratio(a, b) == 0);
	b[0] = 'c';
	assert_true(fabs(suggest_edit_ratio(a, b) - 1.0 / SUGGEST_EDIT_MAX_WORDS) < 1e-12);
	free(a);
	free(b);
}

static const struct suggestion_stat *find_stat(const struct suggestion_stat *list, size_t n,
					       const char *ref)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].ref, ref) == 0)
			return &list[i];
	fail_msg("no stats for %s", ref);
	return NULL;
}

static void test_stats(void **state)
{
	struct fixture *f = *state;
	/* Fixed events written straight through the store: four tickets, each
	 * with refund-delay at rank 1 and invoice-copy at rank 2. */
	const char *error = NULL;
	struct suggestion items[2] = {
		{.kind = (char *)"article", .ref = (char *)"refund-delay", .title = (char *)"R",
		 .score = 2.0, .draft = (char *)"d1"},
		{.kind = (char *)"article", .ref = (char *)"invoice-copy", .title = (char *)"I",
		 .score = 1.0, .draft = (char *)"d2"},
	};
	int64_t ids[4];
	for (int i = 0; i < 4; i++) {
		ids[i] = ticket(f, "S", "c@example.com", NULL, "fr", "t");
		assert_int_equal(store_suggestions_replace(f->st, ids[i], items, 2), 0);
	}
	/* suggested again for the same ticket: counted once */
	assert_int_equal(store_suggestions_replace(f->st, ids[0], items, 2), 0);
	/* refund-delay: approved as is, edited 0.2, edited 0.4, rejected */
	assert_int_equal(suggest_mark(f->st, ids[0], 1, SUGGESTION_APPROVED, "a", NULL, 0.9, &error), 0);
	assert_int_equal(suggest_mark(f->st, ids[1], 1, SUGGESTION_EDITED, "a", NULL, 0.2, &error), 0);
	assert_int_equal(suggest_mark(f->st, ids[2], 1, SUGGESTION_EDITED, "a", NULL, 0.4, &error), 0);
	assert_int_equal(suggest_mark(f->st, ids[3], 1, SUGGESTION_REJECTED, "a", "off topic", -1,
				      &error),
			 0);
	/* invoice-copy: rejected once, never accepted */
	assert_int_equal(suggest_mark(f->st, ids[0], 2, SUGGESTION_REJECTED, "a", "no", -1, &error), 0);
	/* an article since removed keeps its numbers */
	assert_int_equal(suggest_mark(f->st, ids[1], 2, SUGGESTION_APPROVED, "a", NULL, 0, &error), 0);
	assert_int_equal(kb_article_remove(store_db(f->st), "invoice-copy", &error), 1);

	struct suggestion_stat *list = NULL;
	size_t n = 0;
	assert_int_equal(store_suggestion_stats(f->st, &list, &n), 0);
	assert_int_equal(n, 7); /* 6 articles left + the removed one */
	const struct suggestion_stat *r = find_stat(list, n, "refund-delay");
	assert_string_equal(r->title, "Quand serai-je remboursé ?");
	assert_int_equal(r->suggested, 4);
	assert_int_equal(r->approved, 1);
	assert_int_equal(r->edited, 2);
	assert_int_equal(r->rejected, 1);
	/* over approvals: (0 + 0.2 + 0.4) / 3 */
	assert_true(fabs(r->mean_edit_ratio - 0.2) < 1e-9);
	const struct suggestion_stat *inv = find_stat(list, n, "invoice-copy");
	assert_null(inv->title);
	assert_int_equal(inv->suggested, 4);
	assert_int_equal(inv->approved, 1);
	assert_int_equal(inv->edited, 0);
	assert_int_equal(inv->rejected, 1);
	assert_true(fabs(inv->mean_edit_ratio) < 1e-9);
	const struct suggestion_stat *none = find_stat(list, n, "delivery-times");
	assert_int_equal(none->suggested, 0);
	assert_true(none->mean_edit_ratio < 0);
	suggestion_stats_free(&list, n);
	assert_null(list);
}

/* The similar-ticket terms are held to a budget of matched messages: a term
 * in more messages than SUGGEST_SIMILAR_MAX_MATCHES (here a word in no
 * article, so the heaviest) is left out, a rarer one is searched. */
static void test_similar_budget(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_begin(f->st), 0);
	for (int i = 0; i < SUGGEST_SIMILAR_MAX_MATCHES + 100; i++) {
		int64_t id = ticket(f, "Commande zorglub", "bulk@example.org", NULL, "fr",
				    "Ma commande zorglub est partie.");
		assert_int_equal(store_ticket_set_status(f->st, id, TICKET_CLOSED), 0);
	}
	int64_t solved = ticket(f, "Remboursement en attente", "paul@example.org", "Paul", "fr",
				"J'attends mon remboursement.");
	reply(f, solved, "Le remboursement est parti hier.");
	assert_int_equal(store_ticket_set_status(f->st, solved, TICKET_RESOLVED), 0);
	int64_t id = ticket(f, "Zorglub et remboursement", "marie@example.com", NULL, "fr",
			    "Mon zorglub est cassé, je voudrais un remboursement.");
	assert_int_equal(store_commit(f->st), 0);

	int64_t n = 0;
	assert_int_equal(store_message_matches(f->st, "\"zorglub\"*", 10, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(store_message_matches(f->st, "\"zorglub\"*", 100000, &n), 0);
	assert_int_equal(n, SUGGEST_SIMILAR_MAX_MATCHES + 101);
	assert_int_equal(store_message_matches(f->st, "\"rembours\"*", 100000, &n), 0);
	assert_int_equal(n, 3); /* the solved ticket's question and reply, the new one */

	struct suggest_profile prof;
	suggest_set_profile(f->sg, &prof);
	suggest(f, id);
	suggest_set_profile(f->sg, NULL);
	assert_true(prof.similar_terms >= 1);
	assert_true(prof.similar_matches >= 2 && prof.similar_matches <= SUGGEST_SIMILAR_MAX_MATCHES);
	for (int p = 0; p < SUGGEST_PHASES; p++)
		assert_true(prof.wall_ms[p] >= 0 && prof.cpu_ms[p] >= 0);
	struct suggestion *list = NULL;
	size_t n_list = 0;
	assert_int_equal(store_suggestion_list(f->st, id, &list, &n_list), 0);
	char ref[24];
	snprintf(ref, sizeof(ref), "%lld", (long long)solved);
	const struct suggestion *first = NULL;
	for (size_t i = 0; i < n_list && first == NULL; i++)
		if (strcmp(list[i].kind, "ticket") == 0)
			first = &list[i];
	assert_non_null(first);
	assert_string_equal(first->ref, ref);
	suggestion_list_free(&list, n_list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit_ratio),
		cmocka_unit_test_setup_teardown(test_french_ticket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_english_ticket_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decisions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_similar_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_helpdesk, setup_empty, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
