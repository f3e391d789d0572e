/* outbox and actions on a real SQLite file: queueing a reply with its
 * threading headers and audit event, retries with backoff on a fake clock
 * against a closed port, giving up after max_attempts, recovery of an
 * interrupted send, acknowledgements (template, loop protection, per-sender
 * rate limit), the ticket actions and suggestion decisions. Successful sends are
 * covered by tests/integration/outbox_*.sh against a real SMTP server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actions.h"
#include "config.h"
#include "outbox.h"
#include "store.h"
#include "store_outbox.h"
#include "store_suggestions.h"
#include "xalloc.h"

#define T0 1795680000 /* 2026-11-26T08:00:00Z */

struct fixture {
	char dir[64];
	struct store *st;
	struct config *cfg;
	int64_t ticket;
};

/* A loopback port nobody listens on: bound, then released. */
static unsigned closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int64_t new_ticket(struct store *st, const char *subject, const char *requester,
                          const char *parent_id)
{
	struct ticket t = {.subject = (char *)subject,
	                   .requester = (char *)requester,
	                   .requester_name = (char *)"Claire Dupré",
	                   .queue = (char *)"support",
	                   .status = TICKET_OPEN,
	                   .priority = PRIORITY_NORMAL};
	int64_t id = 0, mid = 0;
	assert_int_equal(store_ticket_create(st, &t, &id), 0);
	struct message m = {.ticket_id = id,
	                    .message_id = parent_id,
	                    .dedupe_key = parent_id,
	                    .references = "root@mail.example.test",
	                    .from_addr = requester,
	                    .subject = subject,
	                    .new_text = "Bonjour",
	                    .body_text = "Bonjour"};
	assert_int_equal(store_message_add(st, &m, &mid), 0);
	return id;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_outbox.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *db = xasprintf("%s/triaged.db", f->dir);
	const char *error = NULL;
	assert_int_equal(store_open(db, &f->st, &error), 0);
	f->cfg = config_default(db);
	free(db);
	struct cfg_smtp *smtp = &f->cfg->smtp;
	smtp->configured = true;
	smtp->url = xasprintf("smtp://127.0.0.1:%u", closed_port());
	smtp->tls = CFG_TLS_NONE;
	smtp->from = xstrdup("Équipe Support <support@example.test>");
	smtp->max_attempts = 3;
	smtp->retry_seconds = 10;
	smtp->timeout_seconds = 5;
	smtp->ack_per_sender_seconds = 3600;
	free(f->cfg->kb.templates_dir);
	f->cfg->kb.templates_dir = xstrdup(f->dir);
	char *path = xasprintf("%s/ack-fr.txt", f->dir);
	write_file(path, "Bonjour {{customer.name}},\nvotre demande n° {{ticket.id}} "
	                 "« {{ticket.subject}} » est bien reçue.\n");
	free(path);
	path = xasprintf("%s/ack-en.txt", f->dir);
	write_file(path, "Hello {{customer.name}}, ticket {{ticket.id}} received.\n");
	free(path);
	f->ticket = new_ticket(f->st, "Ma lampe", "claire@example.test", "c2@mail.example.test");
	store_set_fake_now(T0);
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
	free(f);
	return 0;
}

static int64_t count(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void exec(struct store *st, const char *sql)
{
	assert_int_equal(sqlite3_exec(store_db(st), sql, NULL, NULL, NULL), SQLITE_OK);
}

static int64_t queue_reply(struct fixture *f, const char *text)
{
	int64_t id = 0;
	const char *error = NULL;
	int rc = action_reply(f->st, f->cfg, "agent:alice@example.test", f->ticket, text, 0, NULL,
	                      &id, &error);
	if (rc != 0)
		fail_msg("action_reply: %s", error);
	return id;
}

static void test_reply_is_queued(void **state)
{
	struct fixture *f = *state;
	int64_t id = queue_reply(f, "C'est réglé.\n");
	struct outbox_row r;
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_int_equal(r.status, OUTBOX_QUEUED);
	assert_int_equal(r.kind, OUTBOX_REPLY);
	assert_null(r.template_name); /* written by an agent */
	assert_int_equal(r.ticket_id, f->ticket);
	assert_int_equal(r.next_attempt, T0);
	assert_int_equal(r.attempts, 0);
	assert_string_equal(r.to_addr, "claire@example.test");
	assert_string_equal(r.from_addr, "support@example.test");
	assert_string_equal(r.agent, "agent:alice@example.test");
	assert_string_equal(r.status_after, "pending");
	assert_string_equal(r.subject, "Re: Ma lampe [#1]");
	assert_string_equal(r.in_reply_to, "c2@mail.example.test");
	assert_string_equal(r.refs, "<root@mail.example.test> <c2@mail.example.test>");
	assert_non_null(strstr(r.raw, "\r\nIn-Reply-To: <c2@mail.example.test>\r\n"));
	char *hdr = xasprintf("\r\nMessage-ID: <%s>\r\n", r.message_id);
	assert_non_null(strstr(r.raw, hdr));
	free(hdr);
	assert_null(strstr(r.raw, "Auto-Submitted"));
	outbox_row_clear(&r);
	/* The ticket is unchanged until the mail is sent. */
	struct ticket t;
	assert_int_equal(store_ticket_get(f->st, f->ticket, &t), 1);
	assert_int_equal(t.status, TICKET_OPEN);
	assert_int_equal(t.first_response_at, 0);
	ticket_clear(&t);
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE kind = 'reply_approved'"
	                              " AND actor = 'agent:alice@example.test'"),
	                 1);
	int64_t when = 0;
	assert_int_equal(outbox_next_due(f->st, &when), 1);
	assert_int_equal(when, T0);
}

/* A reply to all copies whom the customer's last mail went to and was copied
 * to: not the customer, not our own address, each once, invalid ones left
 * out; without it, nobody is copied. */
static void test_reply_all(void **state)
{
	struct fixture *f = *state;
	struct message m = {.ticket_id = f->ticket,
	                    .message_id = "c3@mail.example.test",
	                    .dedupe_key = "c3@mail.example.test",
	                    .from_addr = "claire@example.test",
	                    .to_addrs = "support@example.test, Paul@Example.test",
	                    .cc_addrs = "claire@example.test, paul@example.test, compta@example.test, "
	                                "not-an-address",
	                    .subject = "Ma lampe",
	                    .new_text = "Je mets Paul et la compta en copie.",
	                    /* the customer's last mail (the fixture's first one
	                     * was stored before the clock was set) */
	                    .received = (int64_t)time(NULL) + 60};
	int64_t mid, id;
	assert_int_equal(store_message_add(f->st, &m, &mid), 0);
	const char *error = NULL;
	struct action_reply_options opts = {.reply_all = true};
	assert_int_equal(action_reply(f->st, f->cfg, "agent:alice@example.test", f->ticket,
	                              "Bonjour à tous.", 0, &opts, &id, &error),
	                 0);
	struct outbox_row r;
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_string_equal(r.to_addr, "claire@example.test");
	assert_string_equal(r.cc_addrs, "paul@example.test, compta@example.test");
	assert_non_null(strstr(r.raw, "\r\nCc: <paul@example.test>, <compta@example.test>\r\n"));
	outbox_row_clear(&r);

	opts.reply_all = false;
	assert_int_equal(action_reply(f->st, f->cfg, "agent:alice@example.test", f->ticket,
	                              "À Claire seulement.", 0, &opts, &id, &error),
	                 0);
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_null(r.cc_addrs);
	assert_null(strstr(r.raw, "\r\nCc:"));
	outbox_row_clear(&r);
}

static void test_reply_errors(void **state)
{
	struct fixture *f = *state;
	int64_t id = -1;
	const char *error = NULL;
	assert_int_equal(action_reply(f->st, f->cfg, "agent:a@example.test", f->ticket, " \n", 0,
	                              NULL, &id, &error),
	                 -1);
	assert_int_equal(
	    action_reply(f->st, f->cfg, "agent:a@example.test", 999, "x", 0, NULL, &id, &error),
	    ACTION_NOT_FOUND);
	assert_int_equal(action_reply(f->st, f->cfg, "alice", f->ticket, "x", 0, NULL, &id, &error),
	                 -1);
	assert_int_equal(
	    action_reply(f->st, f->cfg, "agent:a\nb", f->ticket, "x", 0, NULL, &id, &error), -1);
	assert_int_equal(action_reply(f->st, f->cfg, "cli:bob", f->ticket, "bad \xff utf-8", 0,
	                              NULL, &id, &error),
	                 -1);
	assert_int_equal(id, -1);
	/* Nothing half-written: no mail, no event. */
	assert_int_equal(count(f->st, "SELECT count(*) FROM outbox"), 0);
	assert_int_equal(count(f->st, "SELECT count(*) FROM events"), 0);
	/* No smtp section: refused with a clear message. */
	f->cfg->smtp.configured = false;
	assert_int_equal(
	    action_reply(f->st, f->cfg, "cli:bob", f->ticket, "x", 0, NULL, &id, &error), -1);
	assert_non_null(strstr(error, "smtp"));
	f->cfg->smtp.configured = true;
}

static void add_suggestions(struct store *st, int64_t ticket)
{
	struct suggestion items[2] = {
	    {.kind = (char *)"ticket",
	     .ref = (char *)"7",
	     .title = (char *)"Lampe",
	     .score = 2.0,
	     .draft = (char *)"Bonjour, votre lampe est sous garantie.",
	     .language = (char *)"fr"},
	    {.kind = (char *)"ticket",
	     .ref = (char *)"8",
	     .title = (char *)"Autre",
	     .score = 1.0,
	     .draft = (char *)"Autre réponse.",
	     .language = (char *)"fr"},
	};
	assert_int_equal(store_suggestions_replace(st, ticket, items, 2), 0);
}

static void test_suggestion_edit_recorded(void **state)
{
	struct fixture *f = *state;
	add_suggestions(f->st, f->ticket);
	struct action_reply_options opts = {.keep_status = true};
	int64_t id;
	const char *error = NULL;
	/* Suggestion 1, edited (the stored draft is the reference). */
	int rc = action_reply(f->st, f->cfg, "agent:alice@example.test", f->ticket,
	                      "Bonjour, votre lampe est remplacée.", 1, &opts, &id, &error);
	if (rc != 0)
		fail_msg("action_reply: %s", error);
	struct outbox_row r;
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_int_equal(r.suggestion_rank, 1);
	assert_null(r.status_after); /* keep_status */
	outbox_row_clear(&r);
	/* 6 words vs 5: "sous garantie." -> "remplacée.", so 2 edits of 6. */
	struct suggestion sug;
	assert_int_equal(store_suggestion_get(f->st, f->ticket, 1, &sug), 1);
	assert_int_equal(sug.status, SUGGESTION_EDITED);
	assert_float_equal(sug.edit_ratio, 2.0 / 6.0, 1e-9);
	assert_string_equal(sug.decided_by, "alice@example.test");
	suggestion_clear(&sug);
	assert_int_equal(count(f->st, "SELECT round(json_extract(detail, '$.edit_ratio') * 1000)"
	                              " FROM events WHERE kind = 'reply_approved'"),
	                 333);
	/* Suggestion 2 sent as shown: approved. */
	opts.draft = "Autre réponse.";
	assert_int_equal(action_reply(f->st, f->cfg, "agent:bob@example.test", f->ticket,
	                              "Autre réponse.", 2, &opts, &id, &error),
	                 0);
	assert_int_equal(store_suggestion_get(f->st, f->ticket, 2, &sug), 1);
	assert_int_equal(sug.status, SUGGESTION_APPROVED);
	suggestion_clear(&sug);
	/* Decided already, or unknown: refused, and nothing is queued. */
	int64_t before = count(f->st, "SELECT count(*) FROM outbox");
	assert_int_equal(action_reply(f->st, f->cfg, "agent:bob@example.test", f->ticket, "x", 2,
	                              NULL, &id, &error),
	                 -1);
	assert_int_equal(action_reply(f->st, f->cfg, "agent:bob@example.test", f->ticket, "x", 9,
	                              NULL, &id, &error),
	                 -1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM outbox"), before);
}

static void test_retry_backoff_then_failure(void **state)
{
	struct fixture *f = *state;
	int64_t id = queue_reply(f, "Réponse.\n");
	struct outbox_send_stats stats;
	const char *error = NULL;
	assert_int_equal(outbox_global_init(&error), 0);

	/* Attempt 1 at T0: refused connection, back in 10..11 s. */
	assert_int_equal(outbox_send_due(f->st, f->cfg, 0, false, &stats, &error), 0);
	assert_int_equal(stats.retried, 1);
	assert_int_equal(stats.sent + stats.failed, 0);
	struct outbox_row r;
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_int_equal(r.status, OUTBOX_QUEUED);
	assert_int_equal(r.attempts, 1);
	assert_true(r.next_attempt >= T0 + 10 && r.next_attempt <= T0 + 11);
	assert_non_null(strstr(r.last_error, "onnect"));
	int64_t due = r.next_attempt;
	outbox_row_clear(&r);
	int64_t when;
	assert_int_equal(outbox_next_due(f->st, &when), 1);
	assert_int_equal(when, due);

	/* Not due yet: nothing tried. */
	store_set_fake_now(due - 1);
	assert_int_equal(outbox_send_due(f->st, f->cfg, 0, false, &stats, &error), 0);
	assert_int_equal(stats.retried + stats.sent + stats.failed, 0);

	/* Attempt 2: the delay doubles (20..22 s). */
	store_set_fake_now(due);
	assert_int_equal(outbox_send_due(f->st, f->cfg, 0, false, &stats, &error), 0);
	assert_int_equal(stats.retried, 1);
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_int_equal(r.attempts, 2);
	assert_true(r.next_attempt >= due + 20 && r.next_attempt <= due + 22);
	due = r.next_attempt;
	outbox_row_clear(&r);

	/* Attempt 3 = max_attempts: failed, with an event, nothing more due. */
	store_set_fake_now(due);
	assert_int_equal(outbox_send_due(f->st, f->cfg, 0, false, &stats, &error), 0);
	assert_int_equal(stats.failed, 1);
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_int_equal(r.status, OUTBOX_FAILED);
	assert_int_equal(r.attempts, 3);
	assert_non_null(r.last_error);
	outbox_row_clear(&r);
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE kind = 'outbox_failed'"),
	                 1);
	assert_int_equal(outbox_next_due(f->st, &when), 0);
	/* The ticket did not get a first response. */
	assert_int_equal(
	    count(f->st, "SELECT count(*) FROM tickets WHERE first_response_at IS NULL"), 1);

	/* Requeued by an administrator: due at once, attempts from zero. */
	assert_int_equal(outbox_requeue(f->st, id, "cli:admin", &error), 0);
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_int_equal(r.status, OUTBOX_QUEUED);
	assert_int_equal(r.attempts, 0);
	outbox_row_clear(&r);
	assert_int_equal(outbox_requeue(f->st, id, "cli:admin", &error), -1);
}

static void test_flush_tries_each_once(void **state)
{
	struct fixture *f = *state;
	queue_reply(f, "un\n");
	queue_reply(f, "deux\n");
	struct outbox_send_stats stats;
	const char *error = NULL;
	assert_int_equal(outbox_send_due(f->st, f->cfg, 0, true, &stats, &error), 0);
	assert_int_equal(stats.retried, 2);
	assert_int_equal(count(f->st, "SELECT sum(attempts) FROM outbox"), 2);
	/* max limits the number of mails handled. */
	assert_int_equal(outbox_send_due(f->st, f->cfg, 1, true, &stats, &error), 0);
	assert_int_equal(stats.retried, 1);
	assert_int_equal(count(f->st, "SELECT sum(attempts) FROM outbox"), 3);
}

static void test_backoff(void **state)
{
	(void)state;
	for (int i = 0; i < 50; i++) {
		int64_t d1 = outbox_backoff(30, 1), d2 = outbox_backoff(30, 2),
		        d4 = outbox_backoff(30, 4), big = outbox_backoff(30, 60);
		assert_true(d1 >= 30 && d1 <= 33);
		assert_true(d2 >= 60 && d2 <= 66);
		assert_true(d4 >= 240 && d4 <= 264);
		assert_true(big >= OUTBOX_MAX_BACKOFF && big <= OUTBOX_MAX_BACKOFF * 11 / 10);
	}
	assert_int_equal(outbox_backoff(1, 1), 1);
}

static void test_interrupted_send_is_not_resent(void **state)
{
	struct fixture *f = *state;
	int64_t stale = queue_reply(f, "un\n");
	int64_t live = queue_reply(f, "deux\n");
	char *sql =
	    xasprintf("UPDATE outbox SET status = 'sending', attempts = 1, claimed_at = %d"
	              " WHERE id = %lld; UPDATE outbox SET status = 'sending', attempts = 1,"
	              " claimed_at = %d WHERE id = %lld",
	              T0 - 1000, (long long)stale, T0 - 5, (long long)live);
	exec(f->st, sql);
	free(sql);
	unsigned n = 99;
	const char *error = NULL;
	assert_int_equal(outbox_recover(f->st, f->cfg, &n, &error), 0);
	assert_int_equal(n, 1);
	struct outbox_row r;
	assert_int_equal(store_outbox_get(f->st, stale, &r), 1);
	assert_int_equal(r.status, OUTBOX_FAILED);
	assert_string_equal(r.last_error, "interrupted during send; check before resending");
	assert_int_equal(r.attempts, 1);
	outbox_row_clear(&r);
	/* A send that may still be running is left alone. */
	assert_int_equal(store_outbox_get(f->st, live, &r), 1);
	assert_int_equal(r.status, OUTBOX_SENDING);
	outbox_row_clear(&r);
	assert_int_equal(
	    count(f->st, "SELECT count(*) FROM events WHERE kind = 'outbox_interrupted'"), 1);
	/* Neither is ever picked up by a sender. */
	struct outbox_send_stats stats;
	assert_int_equal(outbox_send_due(f->st, f->cfg, 0, true, &stats, &error), 0);
	assert_int_equal(stats.sent + stats.retried + stats.failed, 0);
	assert_int_equal(count(f->st, "SELECT sum(attempts) FROM outbox"), 2);
	/* Once the live one is old enough, it is reported too. */
	store_set_fake_now(T0 + 3600);
	assert_int_equal(outbox_recover(f->st, f->cfg, &n, &error), 0);
	assert_int_equal(n, 1);
}

static int ack(struct fixture *f, int64_t ticket, const char *lang, unsigned flags,
               const char **why_r, int64_t *id_r)
{
	const char *error = NULL;
	assert_int_equal(store_begin(f->st), 0);
	int rc = outbox_queue_ack(f->st, f->cfg, ticket, lang, flags, id_r, why_r, &error);
	if (rc < 0)
		fail_msg("outbox_queue_ack: %s", error);
	assert_int_equal(store_commit(f->st), 0);
	return rc;
}

static void test_acknowledgement(void **state)
{
	struct fixture *f = *state;
	const char *why = NULL;
	int64_t id = 0;
	assert_int_equal(ack(f, f->ticket, "fr", 0, &why, &id), 1);
	struct outbox_row r;
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_int_equal(r.kind, OUTBOX_ACK);
	assert_null(r.agent);
	assert_string_equal(
	    r.body_text,
	    "Bonjour Claire Dupré,\nvotre demande n° 1 « Ma lampe » est bien reçue.\n");
	assert_non_null(strstr(r.raw, "\r\nAuto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(r.raw, "\r\nSubject: Re: Ma lampe [#1]\r\n"));
	outbox_row_clear(&r);

	/* Same sender within ack_per_sender_seconds: not again. */
	int64_t other = new_ticket(f->st, "Autre question", "claire@example.test", "c3@x.test");
	store_set_fake_now(T0 + 3599);
	why = NULL;
	assert_int_equal(ack(f, other, "fr", 0, &why, &id), 0);
	assert_non_null(why);
	/* After the period: yes, in English when the language has no template. */
	store_set_fake_now(T0 + 3600);
	assert_int_equal(ack(f, other, "de", 0, &why, &id), 1);
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_string_equal(r.body_text, "Hello Claire Dupré, ticket 2 received.\n");
	outbox_row_clear(&r);

	/* Loop protection: flags from the caller, or on the ticket. */
	int64_t third = new_ticket(f->st, "Out of office", "bot@example.test", "c4@x.test");
	assert_int_equal(ack(f, third, "en", 1, &why, &id), 0);
	exec(f->st, "UPDATE tickets SET loop_flags = 4 WHERE subject = 'Out of office'");
	assert_int_equal(ack(f, third, "en", 0, &why, &id), 0);
	exec(f->st, "UPDATE tickets SET loop_flags = 0, spam = 1 WHERE subject = 'Out of office'");
	assert_int_equal(ack(f, third, "en", 0, &why, &id), 0);
	assert_int_equal(count(f->st, "SELECT count(*) FROM outbox WHERE kind = 'ack'"), 2);
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE kind = 'ack_queued'"), 2);
}

/* Any template of kb.templates_dir, not only acknowledgements, with the
 * same protections; a missing one is a reason, not an error that would hold
 * the mail back. */
static void test_other_template(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/closed-hours-en.txt", f->dir);
	write_file(path, "Dear {{customer.name}}, we are closed; ticket {{ticket.id}} waits.\n");
	free(path);
	const char *why = NULL, *error = NULL;
	int64_t id = 0;
	assert_int_equal(store_begin(f->st), 0);
	/* "-fr" has no file: the English one */
	assert_int_equal(outbox_queue_template(f->st, f->cfg, f->ticket, "closed-hours-fr", 0, &id,
	                                       &why, &error),
	                 1);
	/* the same sender again within the period: one automatic reply */
	int64_t id2 = 0;
	assert_int_equal(outbox_queue_template(f->st, f->cfg, f->ticket, "ack-fr", 0, &id2, &why,
	                                       &error),
	                 0);
	assert_string_equal(why, "this sender got an automatic reply recently");
	assert_int_equal(store_commit(f->st), 0);
	struct outbox_row r;
	assert_int_equal(store_outbox_get(f->st, id, &r), 1);
	assert_int_equal(r.kind, OUTBOX_ACK);
	assert_string_equal(r.body_text, "Dear Claire Dupré, we are closed; ticket 1 waits.\n");
	assert_non_null(strstr(r.raw, "\r\nAuto-Submitted: auto-replied\r\n"));
	/* kept with the mail, for the event of its sending */
	assert_non_null(r.template_name);
	assert_string_equal(r.template_name, "closed-hours-en");
	outbox_row_clear(&r);
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE kind = 'ack_queued' AND "
	                              "json_extract(detail, '$.template') = 'closed-hours-en'"),
	                 1);

	int64_t other = new_ticket(f->st, "Question", "paul@example.test", "p1@x.test");
	assert_int_equal(store_begin(f->st), 0);
	why = NULL;
	assert_int_equal(outbox_queue_template(f->st, f->cfg, other, "holiday-en", 0, &id, &why,
	                                       &error),
	                 0);
	assert_non_null(strstr(why, "no template holiday-en.txt"));
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(count(f->st, "SELECT count(*) FROM outbox"), 1);
}

/* The shipped templates use only the placeholders the outbox fills. */
static void test_shipped_templates(void **state)
{
	struct fixture *f = *state;
	free(f->cfg->kb.templates_dir);
	f->cfg->kb.templates_dir = xstrdup(SOURCE_DIR "/conf/templates");
	static const char *const names[] = {"ack-fr", "ack-en", "out-of-hours-fr",
	                                    "out-of-hours-en"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *requester = xasprintf("c%zu@example.test", i);
		char *parent = xasprintf("s%zu@x.test", i);
		int64_t t = new_ticket(f->st, "Lampe", requester, parent);
		free(requester);
		free(parent);
		const char *why = NULL, *error = NULL;
		int64_t id = 0;
		assert_int_equal(store_begin(f->st), 0);
		if (outbox_queue_template(f->st, f->cfg, t, names[i], 0, &id, &why, &error) != 1)
			fail_msg("%s: %s", names[i], why != NULL ? why : error);
		assert_int_equal(store_commit(f->st), 0);
		struct outbox_row r;
		assert_int_equal(store_outbox_get(f->st, id, &r), 1);
		assert_null(strstr(r.body_text, "{{"));
		char *tag = xasprintf("[#%lld]", (long long)t);
		assert_non_null(strstr(r.body_text, tag));
		free(tag);
		outbox_row_clear(&r);
	}
}

static void test_ticket_actions(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	const char *agent = "agent:bob@example.test";
	assert_int_equal(action_set_status(f->st, f->cfg, agent, f->ticket, TICKET_RESOLVED, &error), 0);
	assert_int_equal(action_set_priority(f->st, f->cfg, agent, f->ticket, PRIORITY_URGENT, &error), 0);
	assert_int_equal(action_assign(f->st, agent, f->ticket, "alice@example.test", &error), 0);
	assert_int_equal(action_assign(f->st, agent, f->ticket, "", &error), 0);
	assert_int_equal(action_set_queue(f->st, f->cfg, agent, f->ticket, "billing", &error), 0);
	struct ticket t;
	assert_int_equal(store_ticket_get(f->st, f->ticket, &t), 1);
	assert_int_equal(t.status, TICKET_RESOLVED);
	assert_int_equal(t.priority, PRIORITY_URGENT);
	assert_null(t.assignee);
	assert_string_equal(t.queue, "billing");
	ticket_clear(&t);
	assert_int_equal(
	    count(f->st, "SELECT count(*) FROM events WHERE actor = 'agent:bob@example.test'"), 5);
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE kind = 'status_changed'"
	                              " AND json_extract(detail, '$.from') = 'open'"
	                              " AND json_extract(detail, '$.to') = 'resolved'"),
	                 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM events WHERE kind = 'assigned'"
	                              " AND json_extract(detail, '$.to') IS NULL"
	                              " AND json_extract(detail, '$.from') = 'alice@example.test'"),
	                 1);
	/* Errors: unknown ticket, bad agent, unknown queue when queues are configured. */
	assert_int_equal(action_set_status(f->st, f->cfg, agent, 999, TICKET_OPEN, &error),
	                 ACTION_NOT_FOUND);
	assert_int_equal(action_set_status(f->st, f->cfg, "", f->ticket, TICKET_OPEN, &error), -1);
	assert_int_equal(
	    action_set_priority(f->st, f->cfg, agent, f->ticket, (enum ticket_priority)9, &error), -1);
	f->cfg->queues = xcalloc(1, sizeof(*f->cfg->queues));
	f->cfg->queues[0].name = xstrdup("support");
	f->cfg->n_queues = 1;
	assert_int_equal(action_set_queue(f->st, f->cfg, agent, f->ticket, "nowhere", &error), -1);
	assert_int_equal(action_set_queue(f->st, f->cfg, agent, f->ticket, "support", &error), 0);
	/* Rejections need a reason, a rank, and a suggestion awaiting a decision. */
	add_suggestions(f->st, f->ticket);
	assert_int_equal(action_reject_suggestion(f->st, agent, f->ticket, 1, " ", &error), -1);
	assert_int_equal(action_reject_suggestion(f->st, agent, f->ticket, 0, "x", &error), -1);
	assert_int_equal(action_reject_suggestion(f->st, agent, f->ticket, 5, "x", &error), -1);
	assert_int_equal(action_reject_suggestion(f->st, agent, f->ticket, 1, "hors sujet", &error),
	                 0);
	assert_int_equal(action_reject_suggestion(f->st, agent, f->ticket, 1, "encore", &error),
	                 -1);
	assert_int_equal(count(f->st,
	                       "SELECT count(*) FROM events WHERE kind = 'suggestion_rejected'"
	                       " AND actor = 'agent:bob@example.test'"
	                       " AND json_extract(detail, '$.reason') = 'hors sujet'"),
	                 1);
	assert_int_equal(count(f->st, "SELECT count(*) FROM suggestions WHERE status = 'rejected'"
	                              " AND reason = 'hors sujet'"),
	                 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reply_is_queued, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suggestion_edit_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_backoff_then_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_tries_each_once, setup, teardown),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test_setup_teardown(test_interrupted_send_is_not_resent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_acknowledgement, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_template, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shipped_templates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ticket_actions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
