/* The store: migrations from every version, tickets, messages and their
 * deduplication, threading look-ups, checkpoints, events, triage rows,
 * classifier counts and full-text search, on a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "store_privacy.h"
#include "xalloc.h"

struct fixture {
	char dir[64];
	char *path;
	struct store *st;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/triaged.db", f->dir);
	const char *error = NULL;
	assert_int_equal(store_open(f->path, &f->st, &error), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->st);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->path);
	free(f);
	return 0;
}

static int64_t new_ticket(struct store *st, const char *subject, const char *requester)
{
	struct ticket t = {.subject = (char *)subject, .requester = (char *)requester,
			   .queue = (char *)"support", .status = TICKET_NEW,
			   .priority = PRIORITY_NORMAL};
	int64_t id = 0;
	assert_int_equal(store_ticket_create(st, &t, &id), 0);
	assert_true(id > 0);
	return id;
}

static int64_t new_message(struct store *st, int64_t ticket, const char *msgid,
			   const char *from, const char *subject, const char *text)
{
	struct message m = {.ticket_id = ticket, .message_id = msgid, .dedupe_key = msgid,
			    .from_addr = from, .subject = subject, .new_text = text,
			    .body_text = text};
	int64_t id = 0;
	assert_int_equal(store_message_add(st, &m, &id), 0);
	return id;
}

static void test_fresh_database_is_at_latest_version(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_schema_version(f->st), store_latest_version());
	/* WAL and foreign keys are on for every connection. */
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(store_db(f->st), "PRAGMA journal_mode", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->st), "PRAGMA foreign_keys", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
}

static void test_migrates_from_every_earlier_version(void **state)
{
	struct fixture *f = *state;
	for (int from = 0; from < store_latest_version(); from++) {
		char *path = xasprintf("%s/v%d.db", f->dir, from);
		struct store *st = NULL;
		const char *error = NULL;
		/* A database left at version `from` by an older triaged... */
		assert_int_equal(store_open_at_version(path, from, &st, &error), 0);
		assert_int_equal(store_schema_version(st), from);
		if (from >= 1)
			assert_int_equal(sqlite3_exec(store_db(st),
				"INSERT INTO tickets (subject, queue, created, updated)"
				" VALUES ('kept', 'support', 1, 1)", NULL, NULL, NULL), SQLITE_OK);
		store_close(&st);
		/* ...is refused by a reader that does not migrate... */
		assert_int_equal(store_open_existing(path, &st, &error), -1);
		assert_non_null(strstr(error, "triagectl init"));
		/* ...and migrated forward, keeping its data, by store_open. */
		assert_int_equal(store_open(path, &st, &error), 0);
		assert_int_equal(store_schema_version(st), store_latest_version());
		if (from >= 1) {
			struct ticket t;
			assert_int_equal(store_ticket_get(st, 1, &t), 1);
			assert_string_equal(t.subject, "kept");
			ticket_clear(&t);
		}
		assert_true(new_ticket(st, "after migration", "a@example.com") > 0);
		store_close(&st);
		free(path);
	}
	/* A database newer than the program is refused, not damaged. */
	char *path = xasprintf("%s/future.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *pragma = xasprintf("PRAGMA user_version = %d", store_latest_version() + 1);
	assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct store *st = NULL;
	const char *error = NULL;
	assert_int_equal(store_open(path, &st, &error), -1);
	assert_non_null(strstr(error, "newer"));
	free(pragma);
	free(path);
}

static void test_ticket_create_get_and_update(void **state)
{
	struct fixture *f = *state;
	store_set_fake_now(1790000000);
	int64_t id = new_ticket(f->st, "Facture en double", "client@example.com");
	struct ticket t;
	assert_int_equal(store_ticket_get(f->st, id, &t), 1);
	assert_string_equal(t.subject, "Facture en double");
	assert_string_equal(t.requester, "client@example.com");
	assert_int_equal(t.status, TICKET_NEW);
	assert_int_equal(t.created, 1790000000);
	ticket_clear(&t);

	store_set_fake_now(1790000100);
	assert_int_equal(store_ticket_set_status(f->st, id, TICKET_RESOLVED), 0);
	assert_int_equal(store_ticket_set_priority(f->st, id, PRIORITY_URGENT), 0);
	assert_int_equal(store_ticket_add_tag(f->st, id, "vip"), 0);
	assert_int_equal(store_ticket_add_tag(f->st, id, "vip"), 0);
	assert_int_equal(store_ticket_add_tag(f->st, id, "refund"), 0);
	assert_int_equal(store_ticket_get(f->st, id, &t), 1);
	assert_int_equal(t.status, TICKET_RESOLVED);
	assert_int_equal(t.resolved_at, 1790000100);
	assert_int_equal(t.priority, PRIORITY_URGENT);
	assert_string_equal(t.tags, ",vip,refund,");
	ticket_clear(&t);

	/* Reopening clears the resolution time. */
	assert_int_equal(store_ticket_set_status(f->st, id, TICKET_OPEN), 0);
	assert_int_equal(store_ticket_get(f->st, id, &t), 1);
	assert_int_equal(t.resolved_at, 0);
	ticket_clear(&t);

	assert_int_equal(store_ticket_get(f->st, id + 100, &t), 0);
	assert_int_equal(store_ticket_set_status(f->st, id + 100, TICKET_OPEN), -1);
	store_set_fake_now(0);
}

/* An erased ticket's number is never given again: the audit log keeps it,
 * and a new customer's ticket must not show the old one's history. */
static void test_ticket_numbers_not_reused(void **state)
{
	struct fixture *f = *state;
	int64_t first = new_ticket(f->st, "Un", "a@example.com");
	int64_t second = new_ticket(f->st, "Deux", "b@example.com");
	assert_int_equal(second, first + 1);
	assert_int_equal(store_event_add(f->st, second, "system", "ticket.created", "{}"), 0);
	int64_t ids[1] = {second};
	assert_int_equal(store_privacy_delete(f->st, ids, 1, NULL), 0);
	struct ticket t;
	assert_int_equal(store_ticket_get(f->st, second, &t), 0);
	assert_int_equal(new_ticket(f->st, "Trois", "c@example.com"), second + 1);

	/* Merged into a ticket that is then erased: no longer merged. */
	int64_t kept = new_ticket(f->st, "Quatre", "d@example.com");
	int64_t merged = new_ticket(f->st, "Cinq", "d@example.com");
	int64_t moved = -1;
	assert_int_equal(store_ticket_merge(f->st, merged, kept, &moved), 0);
	assert_int_equal(moved, 0);
	int64_t where = 0;
	assert_int_equal(store_ticket_follow_merge(f->st, merged, &where), 0);
	assert_int_equal(where, kept);
	ids[0] = kept;
	assert_int_equal(store_privacy_delete(f->st, ids, 1, NULL), 0);
	assert_int_equal(store_ticket_follow_merge(f->st, merged, &where), 0);
	assert_int_equal(where, merged);
	assert_int_equal(store_ticket_get(f->st, merged, &t), 1);
	assert_int_equal(t.merged_into, 0);
	ticket_clear(&t);

	/* Retention: a merged ticket expires with the ticket it leads to, not
	 * before (closed lately) and not after (kept alone). */
	store_set_fake_now(1790000000);
	int64_t old_kept = new_ticket(f->st, "Six", "e@example.com");
	assert_int_equal(store_ticket_set_status(f->st, old_kept, TICKET_RESOLVED), 0);
	store_set_fake_now(1790900000);
	int64_t late = new_ticket(f->st, "Sept", "e@example.com");
	assert_int_equal(store_ticket_merge(f->st, late, old_kept, &moved), 0);
	assert_int_equal(store_ticket_set_status(f->st, late, TICKET_CLOSED), 0);
	store_set_fake_now(0);
	int64_t *expired;
	size_t n_expired;
	assert_int_equal(store_privacy_expired_tickets(f->st, 1790500000, &expired, &n_expired), 0);
	bool has_kept = false, has_late = false;
	for (size_t i = 0; i < n_expired; i++) {
		has_kept |= expired[i] == old_kept;
		has_late |= expired[i] == late;
	}
	free(expired);
	assert_true(has_kept && has_late);
	assert_int_equal(store_privacy_expired_tickets(f->st, 1789000000, &expired, &n_expired), 0);
	for (size_t i = 0; i < n_expired; i++)
		assert_true(expired[i] != old_kept && expired[i] != late);
	free(expired);
}

static void test_message_dedupe_by_key_and_uid(void **state)
{
	struct fixture *f = *state;
	int64_t ticket = new_ticket(f->st, "Commande", "a@example.com");
	struct message m = {.ticket_id = ticket, .mailbox = "support", .uidvalidity = 7,
			    .uid = 42, .message_id = "abc@example.com",
			    .dedupe_key = "abc@example.com", .from_addr = "a@example.com",
			    .raw = "raw bytes", .raw_len = 9};
	int64_t id;
	assert_int_equal(store_message_add(f->st, &m, &id), 0);
	/* Same Message-ID from another UID: a duplicate. */
	m.uid = 43;
	assert_int_equal(store_message_add(f->st, &m, &id), 1);
	/* Same UID with another key: a duplicate too. */
	m.uid = 42;
	m.dedupe_key = "sha256:00";
	assert_int_equal(store_message_add(f->st, &m, &id), 1);
	/* Same UID under a new UIDVALIDITY is a different mail. */
	m.uidvalidity = 8;
	assert_int_equal(store_message_add(f->st, &m, &id), 0);
	int64_t found;
	assert_int_equal(store_message_lookup(f->st, "abc@example.com", &found), 1);
	assert_int_equal(found, ticket);
	assert_int_equal(store_message_lookup(f->st, "nope", &found), 0);
}

static void test_threading_lookups(void **state)
{
	struct fixture *f = *state;
	int64_t t1 = new_ticket(f->st, "one", "a@example.com");
	int64_t t2 = new_ticket(f->st, "two", "b@example.com");
	new_message(f->st, t1, "m1@example.com", "a@example.com", "one", "hello");
	new_message(f->st, t2, "m2@example.com", "b@example.com", "two", "hello");
	const char *refs[] = {"unknown@x", "m1@example.com", "m2@example.com"};
	int64_t ticket;
	/* The newest reference that is known wins. */
	assert_int_equal(store_ticket_by_message_ids(f->st, refs, 3, &ticket), 1);
	assert_int_equal(ticket, t2);
	assert_int_equal(store_ticket_by_message_ids(f->st, refs, 2, &ticket), 1);
	assert_int_equal(ticket, t1);
	assert_int_equal(store_ticket_by_message_ids(f->st, refs, 1, &ticket), 0);

	assert_int_equal(store_ticket_has_participant(f->st, t1, "a@example.com"), 1);
	assert_int_equal(store_ticket_has_participant(f->st, t1, "b@example.com"), 0);
	new_message(f->st, t1, "m3@example.com", "c@example.com", "Re: one", "me too");
	assert_int_equal(store_ticket_has_participant(f->st, t1, "c@example.com"), 1);
}

static void test_checkpoint(void **state)
{
	struct fixture *f = *state;
	uint32_t v, u;
	assert_int_equal(store_checkpoint_get(f->st, "support", &v, &u), 0);
	assert_int_equal(v, 0);
	assert_int_equal(u, 0);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_checkpoint_set(f->st, "support", 1234, 99), 0);
	store_rollback(f->st);
	assert_int_equal(store_checkpoint_get(f->st, "support", &v, &u), 0);
	assert_int_equal(u, 0); /* rolled back with its transaction */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_checkpoint_set(f->st, "support", 1234, 99), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_checkpoint_get(f->st, "support", &v, &u), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(u, 99);
}

static void test_events_and_triage_rows(void **state)
{
	struct fixture *f = *state;
	int64_t id = new_ticket(f->st, "x", "a@example.com");
	assert_int_equal(store_event_add(f->st, id, "rule:urgent", "priority.set",
					 "{\"to\":\"high\"}"), 0);
	assert_int_equal(store_event_add(f->st, id, "system", "ticket.created", NULL), 0);
	struct event_row *ev;
	size_t n;
	assert_int_equal(store_event_list(f->st, id, &ev, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ev[0].actor, "rule:urgent");
	assert_string_equal(ev[0].detail, "{\"to\":\"high\"}");
	assert_null(ev[1].detail);
	event_rows_free(&ev, n);

	assert_int_equal(store_triage_add(f->st, id, 0, "category", "billing", 0.87, 0,
					  "because of \"facture\"", "[]"), 0);
	struct triage_row *tr;
	assert_int_equal(store_triage_list(f->st, id, &tr, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tr[0].label, "billing");
	assert_float_equal(tr[0].confidence, 0.87, 1e-9);
	triage_rows_free(&tr, n);
}

struct nb_sink {
	double docs_billing;
	double count_facture;
	int counts;
};

static int sink_label(const char *label, double docs, double tokens, void *ctx)
{
	struct nb_sink *s = ctx;
	(void)tokens;
	if (strcmp(label, "billing") == 0)
		s->docs_billing = docs;
	return 0;
}

static int sink_count(const char *token, const char *label, double count, void *ctx)
{
	struct nb_sink *s = ctx;
	s->counts++;
	if (strcmp(token, "factur") == 0 && strcmp(label, "billing") == 0)
		s->count_facture = count;
	return 0;
}

static void test_nb_counts_are_deltas(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_nb_label_add(f->st, "category", "billing", 1, 3), 0);
	assert_int_equal(store_nb_label_add(f->st, "category", "billing", 1, 2), 0);
	assert_int_equal(store_nb_count_add(f->st, "category", "factur", "billing", 2), 0);
	assert_int_equal(store_nb_count_add(f->st, "category", "factur", "billing", 1), 0);
	assert_int_equal(store_nb_count_add(f->st, "category", "colis", "billing", 1), 0);
	assert_int_equal(store_nb_count_add(f->st, "spam", "viagra", "spam", 1), 0);
	struct nb_sink sink = {0};
	assert_int_equal(store_nb_load(f->st, "category", sink_label, sink_count, &sink), 0);
	assert_float_equal(sink.docs_billing, 2, 1e-9);
	assert_float_equal(sink.count_facture, 3, 1e-9);
	assert_int_equal(sink.counts, 2);
	/* Forgetting down to zero removes the row. */
	assert_int_equal(store_nb_count_add(f->st, "category", "colis", "billing", -1), 0);
	memset(&sink, 0, sizeof(sink));
	assert_int_equal(store_nb_load(f->st, "category", sink_label, sink_count, &sink), 0);
	assert_int_equal(sink.counts, 1);
	assert_int_equal(store_nb_clear(f->st, "category"), 0);
	memset(&sink, 0, sizeof(sink));
	assert_int_equal(store_nb_load(f->st, "category", sink_label, sink_count, &sink), 0);
	assert_int_equal(sink.counts, 0);
	/* The other model is untouched. */
	assert_int_equal(store_nb_load(f->st, "spam", sink_label, sink_count, &sink), 0);
	assert_int_equal(sink.counts, 1);
}

static void test_list_filters_and_search(void **state)
{
	struct fixture *f = *state;
	int64_t a = new_ticket(f->st, "Remboursement", "a@example.com");
	int64_t b = new_ticket(f->st, "Colis abîmé", "b@example.com");
	new_message(f->st, a, "a1@x", "a@example.com", "Remboursement",
		    "Je veux être remboursé de ma facture");
	new_message(f->st, b, "b1@x", "b@example.com", "Colis abîmé", "Le colis est arrivé cassé");
	assert_int_equal(store_ticket_set_status(f->st, b, TICKET_PENDING), 0);

	struct ticket *list;
	size_t n;
	struct ticket_filter all = {0};
	assert_int_equal(store_ticket_list(f->st, &all, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, b); /* newest first */
	ticket_list_free(&list, n);

	struct ticket_filter pending = {.status = "pending"};
	assert_int_equal(store_ticket_list(f->st, &pending, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, b);
	ticket_list_free(&list, n);

	/* Accents do not matter to the search: "facture" finds "facture",
	 * "arrive" finds "arrivé". */
	struct ticket_filter text = {.text = "arrive"};
	assert_int_equal(store_ticket_list(f->st, &text, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, b);
	ticket_list_free(&list, n);

	struct ticket_filter limit = {.limit = 1, .offset = 1};
	assert_int_equal(store_ticket_list(f->st, &limit, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, a);
	ticket_list_free(&list, n);

	/* Deleting a ticket removes its messages from the index too. */
	assert_int_equal(sqlite3_exec(store_db(f->st), "DELETE FROM tickets WHERE id = 2", NULL,
				      NULL, NULL), SQLITE_OK);
	assert_int_equal(store_ticket_list(f->st, &text, &list, &n), 0);
	assert_int_equal(n, 0);
	ticket_list_free(&list, n);

	/* Messages stored in a transaction are searchable once it commits, and
	 * never when it rolls back; the index stays consistent either way. */
	assert_int_equal(store_begin(f->st), 0);
	int64_t c = new_ticket(f->st, "Lampe clignotante", "c@example.com");
	new_message(f->st, c, "c1@x", "c@example.com", "Lampe clignotante", "elle clignote");
	new_message(f->st, c, "c2@x", "c@example.com", "Re: Lampe", "toujours clignotante");
	assert_int_equal(store_commit(f->st), 0);
	struct ticket_filter blink = {.text = "clignotante"};
	assert_int_equal(store_ticket_list(f->st, &blink, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, c);
	ticket_list_free(&list, n);
	assert_int_equal(store_begin(f->st), 0);
	int64_t d = new_ticket(f->st, "Ampoule grillee", "d@example.com");
	new_message(f->st, d, "d1@x", "d@example.com", "Ampoule grillee", "ampoule morte");
	store_rollback(f->st);
	struct ticket_filter bulb = {.text = "ampoule"};
	assert_int_equal(store_ticket_list(f->st, &bulb, &list, &n), 0);
	assert_int_equal(n, 0);
	ticket_list_free(&list, n);
	assert_int_equal(sqlite3_exec(store_db(f->st),
		"INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)",
		NULL, NULL, NULL), SQLITE_OK);

	struct store_stats stats;
	assert_int_equal(store_stats(f->st, &stats), 0);
	assert_int_equal(stats.tickets, 2);
	assert_int_equal(stats.messages, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_database_is_at_latest_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrates_from_every_earlier_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_create_get_and_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_numbers_not_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_dedupe_by_key_and_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threading_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_and_triage_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nb_counts_are_deltas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters_and_search, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
