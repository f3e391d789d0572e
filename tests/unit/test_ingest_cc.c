/* The people a customer copies (Cc) are participants of the ticket: their
 * answer with only the [#N] tag joins it, while a stranger's opens a new
 * ticket; the Cc list is stored, shown, exported (relation "copied") and
 * scrubbed by erasure, and a reply to all copies them (not us). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "config.h"
#include "ingest.h"
#include "privacy.h"
#include "store.h"
#include "store_outbox.h"
#include "xalloc.h"

struct fixture {
	char dir[64];
	struct config *cfg;
	struct store *st;
	struct ingest *ing;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_ingest_cc.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *db = xasprintf("%s/t.db", f->dir);
	setenv("TRIAGED_DATA_DIR", SOURCE_DIR "/conf", 1);
	f->cfg = config_default(db);
	free(db);
	free(f->cfg->smtp.from);
	f->cfg->smtp.from = xstrdup("Support <support@shop.example>");
	f->cfg->smtp.configured = true; /* queued only: nothing is sent here */
	const char *error = NULL;
	assert_int_equal(store_open(f->cfg->database, &f->st, &error), 0);
	if (ingest_open(f->st, f->cfg, &f->ing, &error) < 0)
		fail_msg("ingest_open: %s", error);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ingest_free(&f->ing);
	store_close(&f->st);
	config_free(&f->cfg);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f);
	return 0;
}

static struct ingest_result ingest(struct fixture *f, const char *raw)
{
	struct ingest_source src = {.mailbox = NULL};
	struct ingest_result res;
	const char *error = NULL;
	assert_int_equal(store_begin(f->st), 0);
	if (ingest_mail(f->ing, &src, raw, strlen(raw), &res, &error) < 0)
		fail_msg("ingest_mail: %s", error);
	assert_int_equal(store_commit(f->st), 0);
	return res;
}

static void test_copied_colleague_is_a_participant(void **state)
{
	struct fixture *f = *state;
	struct ingest_result first = ingest(f,
		"From: Claire Martin <claire@client.example>\r\n"
		"To: support@shop.example, Marie Roux <marie@client.example>\r\n"
		"Cc: \"Paul Durand\" <Paul.Durand@Client.example>, compta@client.example\r\n"
		"Subject: Facture en double\r\n"
		"Message-ID: <first@client.example>\r\n"
		"Date: Mon, 2 Nov 2026 09:00:00 +0100\r\n"
		"\r\n"
		"Bonjour, la facture FAC-1 nous a été prélevée deux fois.\r\n");
	assert_true(first.new_ticket);

	struct message_row *rows;
	size_t n;
	assert_int_equal(store_message_list(f->st, first.ticket_id, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].cc_addrs, "paul.durand@client.example, compta@client.example");
	message_rows_free(&rows, n);
	assert_int_equal(store_ticket_has_participant(f->st, first.ticket_id, "paul.durand@client.example"), 1);
	/* whom she wrote to, besides the support, too */
	assert_int_equal(store_ticket_has_participant(f->st, first.ticket_id, "marie@client.example"), 1);
	/* a whole item of the list, not a piece of one */
	assert_int_equal(store_ticket_has_participant(f->st, first.ticket_id, "durand@client.example"), 0);

	/* The colleague answers with the tag only (a new mail, no In-Reply-To). */
	char *tagged = xasprintf("From: paul.durand@client.example\r\n"
	                         "To: support@shop.example\r\n"
	                         "Subject: Re: Facture en double [#%lld]\r\n"
	                         "Message-ID: <second@client.example>\r\n"
	                         "\r\n"
	                         "Je confirme, deux prélèvements le 3 novembre.\r\n",
	                         (long long)first.ticket_id);
	struct ingest_result second = ingest(f, tagged);
	free(tagged);
	assert_false(second.new_ticket);
	assert_int_equal(second.ticket_id, first.ticket_id);

	/* A stranger with the same tag opens a ticket of their own. */
	char *stranger = xasprintf("From: someone@else.example\r\n"
	                           "To: support@shop.example\r\n"
	                           "Subject: Re: Facture en double [#%lld]\r\n"
	                           "Message-ID: <third@else.example>\r\n"
	                           "\r\n"
	                           "Bonjour, moi aussi.\r\n",
	                           (long long)first.ticket_id);
	struct ingest_result third = ingest(f, stranger);
	free(stranger);
	assert_true(third.new_ticket);
	assert_int_not_equal(third.ticket_id, first.ticket_id);

	/* A reply to all: its To is Claire, the requester; the last mail is
	 * Paul's (to us only), so Paul is copied, not us. */
	struct action_reply_options opts = {.reply_all = true};
	int64_t outbox_id;
	const char *error = NULL;
	if (action_reply(f->st, f->cfg, "agent:ann@shop.example", first.ticket_id, "Bien noté.", 0,
	                 &opts, &outbox_id, &error) < 0)
		fail_msg("action_reply: %s", error);
	struct outbox_row o;
	assert_int_equal(store_outbox_get(f->st, outbox_id, &o), 1);
	assert_string_equal(o.to_addr, "claire@client.example");
	assert_string_equal(o.cc_addrs, "paul.durand@client.example");
	outbox_row_clear(&o);

	/* The copied address in an export of that person: "copied". */
	char *json;
	assert_int_equal(privacy_export(f->st, f->cfg, "compta@client.example", &json, &error), 0);
	if (strstr(json, "\"copied\"") == NULL)
		fail_msg("no \"copied\" relation in %s", json);
	free(json);

	/* Erasure of a copied person leaves Claire's ticket without them: out
	 * of the Cc of her mail, and out of the reply that copied them (its Cc
	 * and its raw mail); their own mail goes. */
	struct privacy_erase_result er;
	if (privacy_erase(f->st, f->cfg, ingest_triage(f->ing), "paul.durand@client.example",
	                  "cli:test", true, &er, &error) < 0)
		fail_msg("privacy_erase: %s", error);
	assert_int_equal(store_message_list(f->st, first.ticket_id, &rows, &n), 0);
	assert_true(n >= 1);
	assert_string_equal(rows[0].from_addr, "claire@client.example");
	assert_null(strstr(rows[0].cc_addrs, "paul.durand@client.example"));
	assert_non_null(strstr(rows[0].cc_addrs, "compta@client.example"));
	for (size_t i = 0; i < n; i++)
		assert_true(rows[i].from_addr == NULL ||
		            strcmp(rows[i].from_addr, "paul.durand@client.example") != 0);
	message_rows_free(&rows, n);
	assert_int_equal(store_outbox_get(f->st, outbox_id, &o), 1);
	assert_null(strstr(o.cc_addrs, "paul.durand@client.example"));
	assert_null(strstr(o.raw, "paul.durand@client.example"));
	assert_string_equal(o.to_addr, "claire@client.example");
	outbox_row_clear(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_copied_colleague_is_a_participant, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
