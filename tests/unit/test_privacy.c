/* Privacy on a store filled through the store API: addresses, the export
 * (valid JSON with the person's tickets, messages, attachments' metadata,
 * triage, events, outbox, and their mail in others' tickets), the dry run,
 * the erasure (no byte of the address or of the mail's text left in any
 * table, FTS shadow tables included, nor in the file or its WAL; others'
 * tickets intact; the classifier's counts back to what they were; one
 * audit event with the hash), the retention purge on a fake clock, and the
 * register. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "privacy.h"
#include "rules.h"
#include "store.h"
#include "store_outbox.h"
#include "triage.h"
#include "xalloc.h"

#define ALICE "alice.dupont@example.test"
/* A sentence and a word found nowhere else: traces of Alice's mail. */
#define SENTENCE "the zanzibarophone on my balcony hums at midnight"
#define WORD "zanzibarophone"
#define BOB "bob@example.test"
#define MALICE "malice.dupont@example.test" /* ends like ALICE's local part */
#define T0 1790000000

struct fixture {
	char dir[64];
	char *db;
	struct config *cfg;
	struct store *st;
	int64_t alice_ticket, alice_second, bob_ticket, malice_ticket;
	int64_t alice_in_bob; /* Alice's message in Bob's ticket */
};

static int64_t add_message(struct store *st, int64_t ticket, bool out, const char *from,
			   const char *to, const char *subject, const char *text, const char *msgid)
{
	char *raw = xasprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\n%s\r\n",
			      from, to, subject, msgid, text);
	struct message m = {.ticket_id = ticket, .outgoing = out, .message_id = msgid,
			    .dedupe_key = msgid, .from_addr = from, .to_addrs = to,
			    .subject = subject, .date = T0, .received = T0, .body_text = text,
			    .new_text = text, .raw = raw, .raw_len = strlen(raw)};
	int64_t id = 0;
	assert_int_equal(store_message_add(st, &m, &id), 0);
	free(raw);
	return id;
}

static int64_t add_ticket(struct store *st, const char *requester, const char *subject)
{
	struct ticket t = {.subject = (char *)subject, .requester = (char *)requester,
			   .requester_name = (char *)"Someone", .queue = (char *)"support",
			   .created = T0};
	int64_t id;
	assert_int_equal(store_ticket_create(st, &t, &id), 0);
	return id;
}

static void add_outbox(struct store *st, int64_t ticket, const char *to, const char *msgid,
		       const char *body)
{
	char *raw = xasprintf("To: %s\r\n\r\n%s\r\n", to, body);
	struct outbox_row r = {.ticket_id = ticket, .kind = OUTBOX_REPLY,
			       .message_id = (char *)msgid, .from_addr = (char *)"support@shop.test",
			       .to_addr = (char *)to, .subject = (char *)"Re: question",
			       .body_text = (char *)body, .raw = raw, .next_attempt = T0, .created = T0};
	int64_t id;
	assert_int_equal(store_outbox_add(st, &r, &id), 0);
	free(raw);
}

static double label_docs(struct store *st, const char *label)
{
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(store_db(st),
		"SELECT coalesce(sum(docs), 0) FROM nb_labels WHERE model = 'category' AND label = ?",
		-1, &s, NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, label, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	double v = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int64_t count(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(store_db(st)));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_privacy.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->db = xasprintf("%s/t.db", f->dir);
	setenv("TRIAGED_DATA_DIR", SOURCE_DIR "/conf", 1);
	f->cfg = config_default(f->db);
	f->cfg->privacy.retention_days = 30;
	f->cfg->privacy.controller = xstrdup("Atelier Test SARL");
	f->cfg->privacy.contact = xstrdup("dpo@shop.test");
	const char *error = NULL;
	assert_int_equal(store_open(f->db, &f->st, &error), 0);
	struct store *st = f->st;
	store_set_fake_now(T0);

	f->alice_ticket = add_ticket(st, ALICE, "Balcony lamp noise");
	int64_t m1 = add_message(st, f->alice_ticket, false, ALICE, "support@shop.test",
				 "Balcony lamp noise", "Hello, " SENTENCE ". Can you help? Alice",
				 "a1@example.test");
	assert_int_equal(store_attachment_add(st, m1, "noise.wav", "audio/wav", 5, "RIFFx", 5), 0);
	add_message(st, f->alice_ticket, true, "support@shop.test", ALICE, "Re: Balcony lamp noise",
		    "Dear Alice, please send us a photo.", "r1@shop.test");
	assert_int_equal(store_triage_add(st, f->alice_ticket, m1, "category", "technical", 0.8, 0,
					  "\"technical\" because of \"" WORD "\"",
					  "{\"for\":[{\"token\":\"" WORD "\",\"weight\":0.3}]}"), 0);
	assert_int_equal(store_event_add(st, f->alice_ticket, "mailbox:support", "ticket.created",
					 "{\"from\":\"" ALICE "\",\"message_id\":\"a1@example.test\","
					 "\"threaded_by\":null}"), 0);
	assert_int_equal(store_event_add(st, f->alice_ticket, "rule:urgent", "priority.set",
					 "{\"from\":\"normal\",\"to\":\"high\",\"matched\":[\"" WORD "\"]}"),
			 0);
	add_outbox(st, f->alice_ticket, ALICE, "o1@shop.test", "Dear Alice, " SENTENCE "?");
	assert_int_equal(store_outbox_ack_set(st, ALICE, T0), 0);

	f->alice_second = add_ticket(st, ALICE, "Invoice");
	add_message(st, f->alice_second, false, ALICE, "support@shop.test", "Invoice",
		    "I need my invoice for the " WORD " order.", "a2@example.test");

	f->bob_ticket = add_ticket(st, BOB, "Bob's broken dimmer");
	add_message(st, f->bob_ticket, false, BOB, "support@shop.test, " ALICE,
		    "Bob's broken dimmer", "My dimmer flickers. My neighbour " ALICE " has the same.",
		    "b1@example.test");
	f->alice_in_bob = add_message(st, f->bob_ticket, false, ALICE, "support@shop.test",
				      "Re: Bob's broken dimmer", "Same here: " SENTENCE ".",
				      "a3@example.test");
	assert_int_equal(store_event_add(st, f->bob_ticket, "mailbox:support", "message.added",
					 "{\"from\":\"" ALICE "\",\"message_id\":\"a3@example.test\"}"),
			 0);
	assert_int_equal(store_event_add(st, f->bob_ticket, "mailbox:support", "ticket.created",
					 "{\"from\":\"" BOB "\"}"), 0);

	f->malice_ticket = add_ticket(st, MALICE, "Malice's question");
	add_message(st, f->malice_ticket, false, MALICE, "support@shop.test", "Malice's question",
		    "Write to " MALICE " please, not to anyone else.", "m1@example.test");
	store_set_fake_now(0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_set_fake_now(0);
	store_close(&f->st);
	config_free(&f->cfg);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->db);
	free(f);
	return 0;
}

static void test_address(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} good[] = {
		{"Alice.Dupont@Example.TEST", "alice.dupont@example.test"},
		{"  bob@example.test\t", "bob@example.test"},
		{"o'brien+tag@example.test", "o'brien+tag@example.test"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *out = NULL;
		const char *error = NULL;
		assert_int_equal(privacy_address_normalize(good[i].in, &out, &error), 0);
		assert_string_equal(out, good[i].out);
		free(out);
	}
	static const char *const bad[] = {"", "alice", "@example.test", "alice@", "a@b@c",
					  "alice dupont@example.test", "<alice@example.test>",
					  "\"a\"@example.test"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = NULL;
		const char *error = NULL;
		assert_int_equal(privacy_address_normalize(bad[i], &out, &error), -1);
		assert_null(out);
		assert_non_null(error);
	}
	char *longer = xmalloc(400);
	memset(longer, 'a', 399);
	longer[399] = '\0';
	longer[10] = '@';
	char *out = NULL;
	const char *error;
	assert_int_equal(privacy_address_normalize(longer, &out, &error), -1);
	free(longer);

	static const struct {
		const char *text;
		bool found;
	} mentions[] = {
		{"to: " ALICE, true},
		{"<" ALICE ">", true},
		{"write to ALICE.DUPONT@EXAMPLE.TEST.", true},
		{"to: m" ALICE, false},
		{"to: " ALICE "x", false},
		{"to: " ALICE ".org", false},
		{"to: alice.dupont@example.tes", false},
		{"", false},
	};
	for (size_t i = 0; i < sizeof(mentions) / sizeof(mentions[0]); i++)
		assert_int_equal(privacy_mentions(mentions[i].text, strlen(mentions[i].text), ALICE),
				 mentions[i].found);
}

static cJSON *find_ticket(cJSON *tickets, int64_t id)
{
	cJSON *t;
	cJSON_ArrayForEach(t, tickets)
		if ((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "id")) == id)
			return t;
	return NULL;
}

static void test_export(void **state)
{
	struct fixture *f = *state;
	char *json = NULL;
	const char *error = NULL;
	assert_int_equal(privacy_export(f->st, f->cfg, "Alice.Dupont@example.test", &json, &error), 0);
	cJSON *doc = cJSON_Parse(json);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "address")), ALICE);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "controller")),
			    "Atelier Test SARL");
	cJSON *tickets = cJSON_GetObjectItem(doc, "tickets");
	assert_int_equal(cJSON_GetArraySize(tickets), 2);
	cJSON *t = find_ticket(tickets, f->alice_ticket);
	assert_non_null(t);
	assert_non_null(find_ticket(tickets, f->alice_second));
	assert_null(find_ticket(tickets, f->bob_ticket));
	cJSON *messages = cJSON_GetObjectItem(t, "messages");
	assert_int_equal(cJSON_GetArraySize(messages), 2);
	cJSON *first = cJSON_GetArrayItem(messages, 0);
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(first, "new_text")), SENTENCE));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(first, "message_id")),
			    "a1@example.test");
	/* Raw mail and attachment data are not dumped, only their size. */
	assert_null(cJSON_GetObjectItem(first, "raw"));
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(first, "raw_bytes")) > 50);
	cJSON *att = cJSON_GetArrayItem(cJSON_GetObjectItem(first, "attachments"), 0);
	assert_non_null(att);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(att, "filename")), "noise.wav");
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(att, "size")), 5);
	assert_null(cJSON_GetObjectItem(att, "data"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(messages, 1),
								"attachments")), 0);
	/* Triage with its explanation and its detail as JSON. */
	cJSON *tri = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "triage"), 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(tri, "label")), "technical");
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(tri, "explanation")), WORD));
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(tri, "detail")));
	cJSON *events = cJSON_GetObjectItem(t, "events");
	assert_int_equal(cJSON_GetArraySize(events), 2);
	cJSON *detail = cJSON_GetObjectItem(cJSON_GetArrayItem(events, 0), "detail");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(detail, "from")), ALICE);
	cJSON *outbox = cJSON_GetObjectItem(t, "outbox");
	assert_int_equal(cJSON_GetArraySize(outbox), 1);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(outbox, 0),
								     "to_addr")), ALICE);
	/* In Bob's ticket: the mail Alice sent and the one Bob sent her a copy
	 * of; nothing of Malice's. */
	cJSON *others = cJSON_GetObjectItem(doc, "messages_in_other_tickets");
	assert_int_equal(cJSON_GetArraySize(others), 2);
	cJSON *m;
	cJSON_ArrayForEach(m, others)
		assert_int_equal((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "ticket_id")),
				 f->bob_ticket);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "acknowledgements")), 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "outbox_other")), 0);
	assert_null(strstr(json, "malice"));
	cJSON_Delete(doc);
	free(json);

	/* Someone unknown: an empty but valid document. */
	assert_int_equal(privacy_export(f->st, f->cfg, "nobody@example.test", &json, &error), 0);
	doc = cJSON_Parse(json);
	assert_non_null(doc);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "tickets")), 0);
	cJSON_Delete(doc);
	free(json);
	json = NULL;
	assert_int_equal(privacy_export(f->st, f->cfg, "not an address", &json, &error), -1);
	assert_null(json);
}

/* Occurrences of needle (case-insensitive) in every value of every table,
 * the shadow tables of the FTS indexes included, blobs as bytes. */
static int64_t db_holds(struct store *st, const char *needle)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *tables;
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'",
		-1, &tables, NULL), SQLITE_OK);
	int64_t found = 0;
	size_t nlen = strlen(needle);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		char *sql = xasprintf("SELECT * FROM \"%s\"", sqlite3_column_text(tables, 0));
		sqlite3_stmt *s;
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
		while (sqlite3_step(s) == SQLITE_ROW)
			for (int i = 0; i < sqlite3_column_count(s); i++) {
				const char *v = sqlite3_column_blob(s, i);
				size_t len = (size_t)sqlite3_column_bytes(s, i);
				for (size_t j = 0; v != NULL && j + nlen <= len; j++)
					found += strncasecmp(v + j, needle, nlen) == 0;
			}
		sqlite3_finalize(s);
		free(sql);
	}
	sqlite3_finalize(tables);
	return found;
}

/* Occurrences of needle (exact bytes) in a file; 0 when there is no file. */
static int64_t file_holds(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return 0;
	char *data = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[65536];
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		data = xgrow(data, &cap, len + n + 1, 1);
		memcpy(data + len, chunk, n);
		len += n;
	}
	fclose(fp);
	int64_t found = 0;
	for (const char *p = data; p != NULL && (p = memmem(p, len - (size_t)(p - data), needle,
							    strlen(needle))) != NULL; p++)
		found++;
	free(data);
	return found;
}

static void test_erase_dry_run(void **state)
{
	struct fixture *f = *state;
	struct privacy_erase_result res;
	const char *error = NULL;
	int64_t before = count(f->st, "SELECT count(*) FROM messages");
	assert_int_equal(privacy_erase(f->st, f->cfg, NULL, ALICE, "agent:dpo@shop.test", false,
				       &res, &error), 0);
	assert_int_equal(res.counts.tickets, 2);
	assert_int_equal(res.counts.messages, 4); /* 3 in her tickets, 1 in Bob's */
	assert_int_equal(res.counts.attachments, 1);
	assert_int_equal(res.counts.triage, 1);
	assert_int_equal(res.counts.outbox, 1);
	assert_int_equal(res.counts.events, 2);
	assert_int_equal(res.counts.acks, 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages"), before);
	assert_int_equal(count(f->st, "SELECT count(*) FROM tickets"), 4);
	assert_true(db_holds(f->st, ALICE) > db_holds(f->st, MALICE));
}

static void test_erase(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct triage *tr;
	if (triage_open(f->st, f->cfg, &tr, &error) < 0)
		fail_msg("triage_open: %s", error);
	/* An agent's correction: the model learns from Alice's ticket. */
	double billing_before = label_docs(f->st, "billing");
	assert_int_equal(triage_learn(tr, f->st, f->alice_ticket, "billing", NULL, &error), 0);
	assert_true(label_docs(f->st, "billing") > billing_before);
	assert_true(count(f->st, "SELECT count(*) FROM nb_counts WHERE model = 'category'"
				 " AND token LIKE 'zanzibar%'") > 0);
	/* The traces are there before, so that their absence after means something. */
	assert_true(db_holds(f->st, ALICE) > db_holds(f->st, MALICE));
	assert_true(db_holds(f->st, SENTENCE));
	assert_true(db_holds(f->st, WORD));
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '"
				 WORD "'"), 3);
	char *wal = xasprintf("%s-wal", f->db);
	assert_true(file_holds(f->db, "zanzibar") + file_holds(wal, "zanzibar") > 0);
	int64_t bob_messages = count(f->st, "SELECT count(*) FROM messages WHERE from_addr = '" BOB "'");

	struct privacy_erase_result res;
	assert_int_equal(privacy_erase(f->st, f->cfg, tr, " Alice.Dupont@EXAMPLE.test ",
				       "agent:dpo@shop.test", true, &res, &error), 0);
	assert_true(res.compacted);
	assert_int_equal(res.counts.tickets, 2);
	assert_int_equal(res.counts.training, 1);
	assert_int_equal(res.counts.messages_scrubbed, 1); /* Bob's, which named her */
	assert_true(res.counts.events_scrubbed >= 3);

	/* Gone from every table, the FTS shadow tables included. */
	/* Malice's address ends with Alice's: those occurrences are hers. */
	assert_int_equal(db_holds(f->st, ALICE), db_holds(f->st, MALICE));
	assert_int_equal(db_holds(f->st, "alice.dupont"), db_holds(f->st, MALICE));
	assert_false(db_holds(f->st, SENTENCE));
	assert_false(db_holds(f->st, WORD));
	assert_false(db_holds(f->st, "zanzibar"));
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '"
				 WORD "'"), 0);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages_fts_docsize"),
			 count(f->st, "SELECT count(*) FROM messages"));
	/* What the model learned from her ticket is forgotten. */
	assert_true(label_docs(f->st, "billing") == billing_before);
	/* And from the file: the database, and a WAL cut to nothing. */
	assert_int_equal(file_holds(f->db, ALICE), file_holds(f->db, MALICE));
	assert_true(file_holds(f->db, MALICE) > 0);
	assert_false(file_holds(f->db, "zanzibar"));
	struct stat sb;
	if (stat(wal, &sb) == 0)
		assert_int_equal(sb.st_size, 0);
	free(wal);

	/* Bob's and Malice's tickets stay, Bob's text with her address masked. */
	assert_int_equal(count(f->st, "SELECT count(*) FROM tickets"), 2);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages WHERE from_addr = '" BOB "'"),
			 bob_messages);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages WHERE new_text ="
				 " 'My dimmer flickers. My neighbour [erased] has the same.'"), 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages WHERE to_addrs ="
				 " 'support@shop.test, [erased]'"), 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages WHERE instr(CAST(raw AS TEXT),"
				 " 'neighbour [erased] has')"), 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages WHERE from_addr = '" MALICE "'"
				 " AND new_text LIKE '%" MALICE "%'"), 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH"
				 " 'dimmer'"), 1);
	/* Bob's own event keeps his address; hers lost hers; status changes stay. */
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE detail LIKE '%" BOB "%'"), 1);
	char *sql = xasprintf("SELECT count(*) FROM events WHERE ticket_id = %lld"
			      " AND kind = 'priority.set' AND json_extract(detail, '$.to') = 'high'"
			      " AND json_extract(detail, '$.matched') = '[erased]'",
			      (long long)f->alice_ticket);
	assert_int_equal(count(f->st, sql), 1);
	free(sql);
	/* One audit event with the hash of the address and the counts. */
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE kind = 'privacy.erased'"
				 " AND actor = 'agent:dpo@shop.test'"
				 " AND json_extract(detail, '$.counts.tickets') = 2"
				 " AND json_extract(detail, '$.address_sha256') = 'b99603392e8c6c599e17aada21debba2e2d0d4adf31866ba8034c61355b56966'"), 1);
	/* sha256sum of the normalised address, computed outside. */
	assert_string_equal(res.address_hash,
			    "b99603392e8c6c599e17aada21debba2e2d0d4adf31866ba8034c61355b56966");
	sql = xasprintf("SELECT count(*) FROM events WHERE kind = 'privacy.erased'"
			" AND json_extract(detail, '$.address_sha256') = '%s'", res.address_hash);
	assert_int_equal(count(f->st, sql), 1);
	free(sql);
	triage_free(&tr);

	/* A second erasure finds nothing more. */
	assert_int_equal(privacy_erase(f->st, f->cfg, NULL, ALICE, "system", false, &res, &error), 0);
	assert_int_equal(res.counts.tickets + res.counts.messages + res.counts.outbox, 0);
}

static void resolve_at(struct store *st, int64_t id, int64_t when, enum ticket_status status)
{
	store_set_fake_now(when);
	assert_int_equal(store_ticket_set_status(st, id, status), 0);
	store_set_fake_now(0);
}

static void test_purge(void **state)
{
	struct fixture *f = *state;
	const int64_t day = 86400, now = T0 + 400 * day;
	/* Alice's first: resolved 31 days before now; her second: closed 29
	 * days before; Bob's: resolved long ago, then reopened; Malice's: open. */
	resolve_at(f->st, f->alice_ticket, now - 31 * day, TICKET_RESOLVED);
	resolve_at(f->st, f->alice_second, now - 29 * day, TICKET_CLOSED);
	resolve_at(f->st, f->bob_ticket, now - 90 * day, TICKET_RESOLVED);
	resolve_at(f->st, f->bob_ticket, now - 80 * day, TICKET_OPEN);
	struct store_privacy_counts c;
	const char *error = NULL;

	f->cfg->privacy.retention_days = 0; /* keep forever */
	assert_int_equal(privacy_purge(f->st, f->cfg, NULL, now, &c, &error), 0);
	assert_int_equal(c.tickets, 0);
	assert_int_equal(count(f->st, "SELECT count(*) FROM tickets"), 4);

	f->cfg->privacy.retention_days = 30;
	store_set_fake_now(now);
	assert_int_equal(privacy_purge(f->st, f->cfg, NULL, store_now(), &c, &error), 0);
	store_set_fake_now(0);
	assert_int_equal(c.tickets, 1);
	assert_int_equal(c.messages, 2);
	assert_int_equal(c.attachments, 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM tickets"), 3);
	char *sql = xasprintf("SELECT count(*) FROM tickets WHERE id = %lld", (long long)f->alice_ticket);
	assert_int_equal(count(f->st, sql), 0);
	free(sql);
	/* Its text left the index; the other tickets' did not. */
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH"
				 " 'noise'"), 0);
	assert_int_equal(count(f->st, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '"
				 WORD "'"), 2);
	/* Its events stay, without addresses; one purge event at the fake time. */
	sql = xasprintf("SELECT count(*) FROM events WHERE ticket_id = %lld AND detail LIKE '%%@%%'",
			(long long)f->alice_ticket);
	assert_int_equal(count(f->st, sql), 0);
	free(sql);
	sql = xasprintf("SELECT count(*) FROM events WHERE kind = 'privacy.purged' AND at = %lld"
			" AND json_extract(detail, '$.counts.tickets') = 1"
			" AND json_extract(detail, '$.retention_days') = 30",
			(long long)now);
	assert_int_equal(count(f->st, sql), 1);
	free(sql);

	/* A day later her closed ticket is still 30 days old, not more: a
	 * second one goes two days later. */
	assert_int_equal(privacy_purge(f->st, f->cfg, NULL, now + day, &c, &error), 0);
	assert_int_equal(c.tickets, 0);
	assert_int_equal(privacy_purge(f->st, f->cfg, NULL, now + 2 * day, &c, &error), 0);
	assert_int_equal(c.tickets, 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM tickets"), 2);
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE kind = 'privacy.purged'"), 2);
}

static void test_daily(void **state)
{
	struct fixture *f = *state;
	const int64_t day = 86400, now = T0 + 400 * day;
	resolve_at(f->st, f->alice_ticket, now - 31 * day, TICKET_RESOLVED);
	resolve_at(f->st, f->alice_second, now - 29 * day, TICKET_RESOLVED);
	int64_t last = 0;
	privacy_daily(f->st, f->cfg, NULL, now, &last); /* at start */
	assert_int_equal(last, now);
	assert_int_equal(count(f->st, "SELECT count(*) FROM tickets"), 3);
	/* Two days later, but only an hour after the last run: not due. */
	last = now + 2 * day - 3600;
	privacy_daily(f->st, f->cfg, NULL, now + 2 * day, &last);
	assert_int_equal(count(f->st, "SELECT count(*) FROM tickets"), 3);
	assert_int_equal(last, now + 2 * day - 3600);
	/* A day after the last run: due. */
	privacy_daily(f->st, f->cfg, NULL, now + 3 * day - 3600, &last);
	assert_int_equal(count(f->st, "SELECT count(*) FROM tickets"), 2);
	assert_int_equal(last, now + 3 * day - 3600);
}

static void test_register(void **state)
{
	struct fixture *f = *state;
	char *text = privacy_register(f->cfg);
	assert_non_null(strstr(text, "Controller: Atelier Test SARL"));
	assert_non_null(strstr(text, "dpo@shop.test"));
	assert_non_null(strstr(text, "30 days after their resolution"));
	assert_non_null(strstr(text, f->db));
	assert_non_null(strstr(text, "naive Bayes"));
	assert_non_null(strstr(text, "Sentiment"));
	assert_non_null(strstr(text, "triagectl privacy erase"));
	free(text);
	f->cfg->privacy.retention_days = 0;
	free(f->cfg->privacy.controller);
	f->cfg->privacy.controller = NULL;
	text = privacy_register(f->cfg);
	assert_non_null(strstr(text, "No retention period"));
	assert_non_null(strstr(text, "not set"));
	free(text);

	/* The shipped configuration: its mailbox and its rules are listed. */
	struct config *shipped;
	struct cfg_errors errors;
	if (config_load(SOURCE_DIR "/conf/triaged.json", &shipped, &errors) < 0)
		fail_msg("conf/triaged.json: %s", errors.count ? errors.items[0] : "?");
	text = privacy_register(shipped);
	assert_non_null(strstr(text, "Mailbox \"support\""));
	assert_non_null(strstr(text, "730 days"));
	if (shipped->rules != NULL && shipped->rules->n_rules > 0)
		assert_non_null(strstr(text, "rule \""));
	free(text);
	config_free(&shipped);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address),
		cmocka_unit_test_setup_teardown(test_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daily, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
