/* Tests of the mail parser: golden fixtures (tests/fixtures/mime, one .eml each),
 * charset and RFC 2047 tables, quoted history, and hostile inputs at and
 * past every limit, each of which must return quickly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mime.h"
#include "strbuf.h"
#include "xalloc.h"

static char *read_fixture(const char *name, size_t *len_r)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/mime/%s", FIXTURES_DIR, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct strbuf sb;
	strbuf_init(&sb, 0);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append(&sb, buf, n);
	fclose(f);
	*len_r = sb.len;
	return strbuf_steal(&sb);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool has_warning(const struct mime_message *m, const char *needle)
{
	for (size_t i = 0; i < m->n_warnings; i++)
		if (strstr(m->warnings[i], needle))
			return true;
	return false;
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
}

/* Every string the parser hands out must be valid UTF-8. */
static void assert_all_utf8(const struct mime_message *m)
{
	const char *fields[] = {m->subject, m->from_name, m->from_addr, m->text, m->new_text,
				m->quoted_text, m->signature, m->html, m->message_id};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (fields[i])
			assert_true(mime_utf8_valid(fields[i], strlen(fields[i])));
	for (size_t i = 0; i < m->n_headers; i++)
		assert_true(mime_utf8_valid(m->headers[i].value, strlen(m->headers[i].value)));
	for (size_t i = 0; i < m->n_attachments; i++)
		if (m->attachments[i].filename)
			assert_true(mime_utf8_valid(m->attachments[i].filename, strlen(m->attachments[i].filename)));
	for (size_t i = 0; i < m->n_warnings; i++)
		assert_true(mime_utf8_valid(m->warnings[i], strlen(m->warnings[i])));
}

/* ------------------------------------------------------------------ */
/* Golden fixtures */

struct golden {
	const char *file;
	const char *subject;
	const char *from_name;
	const char *from_addr;
	const char *message_id;
	int64_t date;
	const char *new_text;
	const char *quoted_start; /* quoted_text begins with this; NULL: no quote */
	const char *signature;
	size_t n_attachments;
	const char *att0_name;
	const char *att0_type;
	size_t att0_size;
	bool html_only;
	const char *warning;
	const char *original_message_id;
};

static const struct golden goldens[] = {
	{.file = "en_plain_qp.eml",
	 .subject = "Order #4521 arrived damaged - need a replacement",
	 .from_name = "Smith, John", .from_addr = "john.smith@example.com",
	 .message_id = "CAKx9Q2mZ1@mail.example.com", .date = 1740993160,
	 .new_text = "Hello,\n\nMy order #4521 arrived this morning and the box was crushed. The glass panel "
		     "of the cabinet is broken and I can\xE2\x80\x99t use it.\n\nCould you send a replacement "
		     "part? I\xE2\x80\x99ve attached nothing, but I can send photos.\n\nThanks,\nJohn"},
	{.file = "fr_latin1_qp.eml",
	 .subject = "Probl\xC3\xA8me de livraison \xC3\xA0 Lyon",
	 .from_name = "Fran\xC3\xA7ois Durand", .from_addr = "francois.durand@example.fr",
	 .message_id = "20250303.1@laposte.example", .date = 1741007100,
	 .new_text = "Bonjour,\n\nMa commande n\xC2\xB0" "4522 n'est toujours pas arriv\xC3\xA9" "e. Le suivi "
		     "indique \xC2\xAB livr\xC3\xA9 \xC2\xBB depuis jeudi, mais je n'ai rien re\xC3\xA7u.\n\n"
		     "Merci de v\xC3\xA9rifier.\n\nFran\xC3\xA7ois Durand"},
	{.file = "fr_cp1252_8bit.eml",
	 .subject = "Facture impay\xC3\xA9" "e", /* raw 8-bit header: windows-1252 guessed */
	 .from_name = "Chlo\xC3\xA9 Bernard", .from_addr = "chloe.bernard@orange.example",
	 .date = 1741073400,
	 .new_text = "Bonjour,\n\nJ\xE2\x80\x99" "ai re\xC3\xA7u une relance pour une facture de 149,90 "
		     "\xE2\x82\xAC que j\xE2\x80\x99" "ai d\xC3\xA9j\xC3\xA0 r\xC3\xA9gl\xC3\xA9" "e le 12 "
		     "f\xC3\xA9vrier.\nPourriez-vous v\xC3\xA9rifier ? C\xE2\x80\x99" "est un vrai c\xC5\x93ur "
		     "de probl\xC3\xA8me pour notre comptabilit\xC3\xA9.\n\nChlo\xC3\xA9"},
	{.file = "fr_utf8_base64.eml",
	 .subject = "Remboursement demand\xC3\xA9 \xE2\x80\x93 commande 4530", /* en dash split across words */
	 .from_name = "\xC3\x89lodie Lefebvre", .from_addr = "elodie@free.example",
	 .new_text = "Bonjour,\n\nJe souhaite \xC3\xAAtre rembours\xC3\xA9 de la commande 4530 : l'article "
		     "ne correspond pas \xC3\xA0 la description.\n\nBien \xC3\xA0 vous,\n\xC3\x89lodie"},
	{.file = "fr_iso885915.eml",
	 .subject = "Tarif \xE2\x82\xAC pour l'abonnement",
	 .from_name = "Paul Lef\xC3\xA8vre", .from_addr = "paul@wanadoo.example",
	 .new_text = "Bonjour,\n\nLe tarif affich\xC3\xA9 est de 12 \xE2\x82\xAC par mois, mais j'ai \xC3\xA9t\xC3\xA9 "
		     "pr\xC3\xA9lev\xC3\xA9 de 15 \xE2\x82\xAC. \xC3\x87" "a me fait mal au c\xC5\x93ur.\n\nPaul"},
	{.file = "html_only_fr.eml",
	 .subject = "Impossible de me connecter", .from_addr = "sophie.martin@gmail.example",
	 .html_only = true,
	 .new_text = "Bonjour,\n\nJe n\xE2\x80\x99" "arrive plus \xC3\xA0 me connecter \xC3\xA0 mon espace client : "
		     "le site affiche \xC2\xAB erreur 500 \xC2\xBB.\n\nJ'ai d\xC3\xA9j\xC3\xA0 essay\xC3\xA9 :\n\n"
		     "- de vider le cache\n- un autre navigateur\n\nVoir mon compte (https://acme.example/compte) "
		     "ou https://acme.example/.\n\nCordialement,\nSophie Martin"},
	{.file = "mixed_alternative_pdf.eml",
	 .subject = "Erreur sur ma facture", .from_addr = "laura@example.net",
	 .new_text = "Bonjour,\n\nLa facture ci-jointe compte deux fois les frais de port.\n\nLaura",
	 .n_attachments = 2, .att0_name = "facture n\xC2\xB0" "12.pdf", .att0_type = "application/pdf",
	 .att0_size = 77},
	{.file = "reply_en_gmail.eml",
	 .subject = "Re: [#812] Refund for order 4540", .from_addr = "mike.brown@gmail.example",
	 .new_text = "Hi,\n\nThanks, but the refund still hasn't shown up on my card. It's been 10 days.",
	 .quoted_start = "On Mon, 3 Mar 2025 at 10:15, ACME Support <\nsupport@acme.example> wrote:\n> Hello Mike,",
	 .signature = "Mike Brown\nBrown & Sons Ltd"},
	{.file = "reply_fr_outlook.eml",
	 .subject = "RE: [#815] Colis endommag\xC3\xA9", .from_addr = "marie.martin@outlook.example",
	 .new_text = "Bonjour,\n\nJe n'ai toujours pas re\xC3\xA7u le colis de remplacement. Pouvez-vous me "
		     "donner le num\xC3\xA9ro de suivi ?\n\nCordialement",
	 .quoted_start = "________________________________\nDe : Support Acme <support@acme.example>\n"
			 "Envoy\xC3\xA9 : lundi 10 mars 2025 10:15",
	 .signature = "Marie Martin\nService achats"},
	{.file = "reply_fr_thunderbird.eml",
	 .subject = "Re: [#820] Abonnement r\xC3\xA9sili\xC3\xA9", .from_addr = "jerome.roux@sfr.example",
	 .from_name = "J\xC3\xA9r\xC3\xB4me Roux",
	 .new_text = "Je n'ai jamais demand\xC3\xA9 cette r\xC3\xA9siliation !\n\nOui, d\xC3\xA8s que possible "
		     "s'il vous pla\xC3\xAEt.\n\nJ\xC3\xA9r\xC3\xB4me",
	 .quoted_start = "Le 12/03/2025 \xC3\xA0 10:15, Support Acme a \xC3\xA9" "crit\xC2\xA0:\n> Votre abonnement"},
	{.file = "reply_en_outlook.eml",
	 .subject = "RE: [#830] Invoice copy", .from_addr = "karen.lee@corp.example",
	 .new_text = "Hi team,\n\nWe still need the invoice copy for March, our auditors are waiting.\n\nKaren",
	 .quoted_start = "-----Original Message-----\nFrom: ACME Support"},
	{.file = "bounce_dsn.eml",
	 .subject = "Undelivered Mail Returned to Sender", .from_name = "Mail Delivery System",
	 .from_addr = "mailer-daemon@mx.example.org", .date = 1741947301,
	 .new_text = "This is the mail system at host mx.example.org.\n\nI'm sorry to have to inform you that "
		     "your message could not\nbe delivered to one or more recipients.\n\n<nobody@example.org>: "
		     "host mx.example.org said: 550 5.1.1 User unknown",
	 .n_attachments = 2, .att0_type = "message/delivery-status", .att0_size = 112,
	 .original_message_id = "ticket-840-out-1@acme.example"},
	{.file = "bounce_rfc822.eml",
	 .subject = "Non remis : [#841] Votre demande", .from_addr = "postmaster@exchange.example",
	 .new_text = "Votre message n'a pas pu \xC3\xAAtre remis \xC3\xA0 client@exchange.example.",
	 .n_attachments = 2, .att0_type = "message/delivery-status",  .att0_size = 117,
	 .original_message_id = "ticket-841-out-1@acme.example"},
	{.file = "autoreply_fr.eml",
	 .subject = "R\xC3\xA9ponse automatique\xC2\xA0:  [#850] Votre commande", .from_addr = "luc.garnier@bouygues.example",
	 .new_text = "Bonjour,\n\nJe suis absent du bureau jusqu'au 24 mars. En cas d'urgence, contactez ma "
		     "coll\xC3\xA8gue.\n\nLuc Garnier"},
	{.file = "newsletter_en.eml",
	 .subject = "Our March offers", .from_name = "Example News", .from_addr = "news@news.example.com",
	 .new_text = "Big savings this March!"},
	{.file = "unknown_charset.eml",
	 .subject = "Commande annul\xC3\xA9" "e", .from_addr = "user@old.example",
	 .new_text = "Ma commande a \xC3\xA9t\xC3\xA9 annul\xC3\xA9" "e sans raison.",
	 .warning = "unknown charset x-foo: decoded as windows-1252"},
};

static void test_golden_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		const struct golden *g = &goldens[i];
		print_message("fixture %s\n", g->file);
		size_t len;
		char *raw = read_fixture(g->file, &len);
		struct mime_message *m = NULL;
		const char *err = NULL;
		assert_int_equal(mime_parse(raw, len, NULL, &m, &err), 0);
		assert_all_utf8(m);
		assert_str_or_null(m->subject, g->subject);
		if (g->from_name)
			assert_str_or_null(m->from_name, g->from_name);
		assert_str_or_null(m->from_addr, g->from_addr);
		if (g->message_id)
			assert_str_or_null(m->message_id, g->message_id);
		if (g->date)
			assert_int_equal(m->date, g->date);
		else
			assert_true(m->date > 1740000000); /* every fixture has a readable date */
		assert_string_equal(m->new_text, g->new_text);
		if (g->quoted_start) {
			assert_non_null(m->quoted_text);
			assert_memory_equal(m->quoted_text, g->quoted_start, strlen(g->quoted_start));
		} else {
			assert_null(m->quoted_text);
		}
		assert_str_or_null(m->signature, g->signature);
		assert_int_equal(m->n_attachments, g->n_attachments);
		if (g->n_attachments > 0) {
			if (g->att0_name)
				assert_str_or_null(m->attachments[0].filename, g->att0_name);
			assert_string_equal(m->attachments[0].content_type, g->att0_type);
			assert_int_equal(m->attachments[0].size, g->att0_size);
			assert_non_null(m->attachments[0].data);
		}
		assert_int_equal(m->html_only, g->html_only);
		if (g->warning)
			assert_true(has_warning(m, g->warning));
		else
			assert_int_equal(m->n_warnings, 0);
		assert_str_or_null(m->original_message_id, g->original_message_id);
		if (!g->quoted_start && !g->signature)
			assert_string_equal(m->text, m->new_text);
		else { /* interleaved replies: at least the first new line is in the text */
			size_t first = strcspn(g->new_text, "\n");
			assert_non_null(memmem(m->text, strlen(m->text), g->new_text, first));
		}
		mime_message_free(&m);
		assert_null(m);
		free(raw);
	}
}

static void test_fixture_details(void **state)
{
	(void)state;
	size_t len;
	char *raw = read_fixture("mixed_alternative_pdf.eml", &len);
	struct mime_message *m;
	const char *err;
	assert_int_equal(mime_parse(raw, len, NULL, &m, &err), 0);
	assert_non_null(m->html);
	assert_non_null(strstr(m->html, "<b>deux fois</b>"));
	assert_memory_equal(m->attachments[0].data, "%PDF-1.4\n", 9);
	assert_false(m->attachments[0].inline_disposition);
	const struct mime_attachment *img = &m->attachments[1];
	assert_string_equal(img->filename, "capture d'\xC3\xA9" "cran.png");
	assert_string_equal(img->content_type, "image/png");
	assert_string_equal(img->content_id, "img001@example.net");
	assert_true(img->inline_disposition);
	assert_int_equal(img->size, 29);
	assert_memory_equal(img->data, "\x89PNG\r\n\x1a\n", 8);
	assert_string_equal(m->content_type, "multipart/mixed");
	mime_message_free(&m);
	free(raw);

	raw = read_fixture("en_plain_qp.eml", &len);
	assert_int_equal(mime_parse(raw, len, NULL, &m, &err), 0);
	assert_int_equal(m->n_to, 2);
	assert_string_equal(m->to_addrs[0], "support@acme.example");
	assert_string_equal(m->to_addrs[1], "billing@acme.example");
	assert_int_equal(m->n_cc, 1);
	assert_string_equal(m->cc_addrs[0], "jane@example.com");
	assert_string_equal(m->return_path, "john.smith@example.com");
	assert_string_equal(mime_header(m, "content-type"), "text/plain; charset=\"UTF-8\"; format=flowed");
	assert_non_null(strstr(mime_header(m, "Received"), "by mx.acme.example (Postfix)"));
	assert_null(mime_header(m, "X-Nothing"));
	assert_non_null(strstr(m->headers_raw, "Message-ID: <CAKx9Q2mZ1@mail.example.com>"));
	assert_null(strstr(m->headers_raw, "Hello,"));
	mime_message_free(&m);
	free(raw);

	raw = read_fixture("reply_fr_thunderbird.eml", &len);
	assert_int_equal(mime_parse(raw, len, NULL, &m, &err), 0);
	assert_string_equal(m->in_reply_to, "ticket-820-out-2@acme.example");
	assert_int_equal(m->n_references, 3);
	assert_string_equal(m->references[0], "ticket-820-in-1@sfr.example");
	assert_string_equal(m->references[2], "ticket-820-out-2@acme.example");
	mime_message_free(&m);
	free(raw);

	raw = read_fixture("bounce_dsn.eml", &len);
	assert_int_equal(mime_parse(raw, len, NULL, &m, &err), 0);
	assert_string_equal(m->return_path, "");
	assert_string_equal(m->content_type, "multipart/report");
	assert_string_equal(m->report_type, "delivery-status");
	mime_message_free(&m);
	free(raw);
}

/* ------------------------------------------------------------------ */
/* RFC 2047, charsets */

static void test_decode_words(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain subject", "plain subject"},
		{"=?utf-8?q?caf=C3=A9?=", "caf\xC3\xA9"},
		{"=?UTF-8?B?Y2Fmw6k=?=", "caf\xC3\xA9"},
		{"=?iso-8859-1?q?r=E9sum=E9?= du dossier", "r\xC3\xA9sum\xC3\xA9 du dossier"},
		{"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"},                 /* adjacent: space dropped */
		{"=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab"},
		{"=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"},            /* text between: kept */
		{"=?utf-8?q?hello_world?=", "hello world"},
		{"=?utf-8?B?w6k=?==?utf-8?B?w6k=?=", "\xC3\xA9\xC3\xA9"},
		{"=?utf-8?B?4oC=?= =?utf-8?B?kw==?=", "\xE2\x80\x93"}, /* one character across two words */
		{"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},                /* unknown encoding: left as is */
		{"=?utf-8?q?never closed", "=?utf-8?q?never closed"},
		{"=??q?abc?=", "=??q?abc?="},
		{"=?utf-8*fr?q?langue?=", "langue"},                   /* RFC 2231 language suffix */
		{"=?x-unknown-cs?q?caf=E9?=", "caf\xC3\xA9"},          /* unknown charset: windows-1252 */
		{"raw latin1 caf\xE9", "raw latin1 caf\xC3\xA9"},
		{"tab\there\x01x", "tab here x"},
		{"=?utf-8?q?a=0Ab?=", "a b"},                          /* no control characters out */
		{"=?utf-8?b?/w==?=", "\xEF\xBF\xBD"},                  /* invalid UTF-8 replaced */
		{"", ""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = mime_decode_words(cases[i].in);
		print_message("decode %s\n", cases[i].in);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

/* A caller that reads only the whole text can skip the quote split. */
static void test_no_text_split(void **state)
{
	(void)state;
	const char *raw = "From: a@example.com\r\nSubject: re\r\n\r\n"
	                  "Merci.\r\n\r\nLe 3 mars, b@example.com a \xC3\xA9" "crit :\r\n> Bonjour\r\n";
	struct mime_limits lim;
	mime_limits_default(&lim);
	struct mime_message *m;
	const char *error;
	assert_int_equal(mime_parse(raw, strlen(raw), &lim, &m, &error), 0);
	assert_string_equal(m->new_text, "Merci.");
	assert_non_null(m->quoted_text);
	mime_message_free(&m);
	lim.no_text_split = true;
	assert_int_equal(mime_parse(raw, strlen(raw), &lim, &m, &error), 0);
	assert_string_equal(m->new_text, m->text);
	assert_null(m->quoted_text);
	assert_non_null(strstr(m->text, "> Bonjour"));
	mime_message_free(&m);
}

static void test_to_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *charset;
		const char *in;
		size_t len;
		const char *out;
		bool replaced;
	} cases[] = {
		{"latin1", "caf\xE9", 4, "caf\xC3\xA9", false},
		{"ISO-8859-1", "\x92", 1, "\xE2\x80\x99", false}, /* read as windows-1252 */
		{"utf8", "caf\xC3\xA9", 5, "caf\xC3\xA9", false},
		{"UTF-8", "a\xFF" "b", 3, "a\xEF\xBF\xBD" "b", true},
		{"utf-8", "a\0b", 3, "a\xEF\xBF\xBD" "b", true},
		{"utf-8", "\xC3", 1, "\xEF\xBF\xBD", true},          /* truncated sequence */
		{"utf-8", "\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", true}, /* surrogate */
		{"cp1252", "\x80 \x9C", 3, "\xE2\x82\xAC \xC5\x93", false},
		{"windows-1252", "\x81", 1, "\xEF\xBF\xBD", true},   /* undefined in cp1252 */
		{"iso-8859-15", "\xA4\xBD", 2, "\xE2\x82\xAC\xC5\x93", false},
		{"latin9", "\xA4", 1, "\xE2\x82\xAC", false},
		{"x-foo", "caf\xE9", 4, "caf\xC3\xA9", false},       /* unknown: windows-1252 */
		{"x-foo", "caf\xC3\xA9", 5, "caf\xC3\xA9", false},   /* unknown but valid UTF-8 */
		{"utf-8//TRANSLIT", "caf\xE9", 4, "caf\xC3\xA9", false}, /* never handed to iconv */
		{"../../etc/passwd", "x", 1, "x", false},
		{NULL, "caf\xC3\xA9", 5, "caf\xC3\xA9", false},      /* undeclared: UTF-8 first */
		{NULL, "caf\xE9", 4, "caf\xC3\xA9", false},          /* then windows-1252 */
		{"us-ascii", "d\xE9j\xE0", 4, "d\xC3\xA9j\xC3\xA0", false},
		{"\"UTF-8\"", "ok", 2, "ok", false},
		{"utf-16le", "a\0\xE9\0", 4, "a\xC3\xA9", false},
		{"shift_jis", "\x82\xA0", 2, "\xE3\x81\x82", false},
		{"koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4", 6, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool replaced = !cases[i].replaced;
		print_message("charset %s\n", cases[i].charset ? cases[i].charset : "(none)");
		char *got = mime_to_utf8(cases[i].in, cases[i].len, cases[i].charset, &replaced);
		assert_string_equal(got, cases[i].out);
		assert_int_equal(replaced, cases[i].replaced);
		assert_true(mime_utf8_valid(got, strlen(got)));
		free(got);
	}
}

/* ------------------------------------------------------------------ */
/* Quoted history and signatures */

static void test_split_text(void **state)
{
	(void)state;
	static const struct {
		const char *in, *new_text, *quoted, *sig;
	} cases[] = {
		{"Hello\n", "Hello", NULL, NULL},
		{"Answer\n\nOn Tue, 4 Mar 2025, Bob wrote:\n> question\n", "Answer",
		 "On Tue, 4 Mar 2025, Bob wrote:\n> question", NULL},
		/* French attribution split over two lines, with a narrow no-break space */
		{"Merci\n\nLe mar. 4 mars 2025 \xC3\xA0 10:00, Bob <\nbob@x.fr> a \xC3\xA9" "crit\xE2\x80\xAF:\n> texte\n",
		 "Merci", "Le mar. 4 mars 2025 \xC3\xA0 10:00, Bob <\nbob@x.fr> a \xC3\xA9" "crit\xE2\x80\xAF:\n> texte",
		 NULL},
		/* Interleaved answers stay new text */
		{"> q1\na1\n> q2\na2\n", "a1\na2", "> q1\n> q2", NULL},
		{"Text\n-- \nSig line\n", "Text", NULL, "Sig line"},
		{"Text\n--\nSig\n\n> old\n", "Text", "> old", "Sig"},
		{"Text\n---\nnot a sig\n", "Text\n---\nnot a sig", NULL, NULL},
		{"New\n\n-----Original Message-----\nFrom: a\nSent: b\n\nold text\n", "New",
		 "-----Original Message-----\nFrom: a\nSent: b\n\nold text", NULL},
		{"Nouveau\n\n----- Message d'origine -----\nDe : a\nold\n", "Nouveau",
		 "----- Message d'origine -----\nDe : a\nold", NULL},
		{"Bonjour\n\nDe : Support <s@x.fr>\nEnvoy\xC3\xA9 : lundi\nObjet : x\n\nancien\n", "Bonjour",
		 "De : Support <s@x.fr>\nEnvoy\xC3\xA9 : lundi\nObjet : x\n\nancien", NULL},
		/* A forward is content, not history */
		{"FYI\n\n---------- Forwarded message ---------\nFrom: Client <c@x>\nDate: Mon\n\nbroken box\n",
		 "FYI\n\n---------- Forwarded message ---------\nFrom: Client <c@x>\nDate: Mon\n\nbroken box", NULL, NULL},
		/* Outlook block with nothing new before it: a forward without banner */
		{"From: a\nSent: b\n\nbody\n", "From: a\nSent: b\n\nbody", NULL, NULL},
		/* "Le ... a écrit :" with no date is an ordinary sentence */
		{"Le client a \xC3\xA9" "crit :\nil veut un avoir\n", "Le client a \xC3\xA9" "crit :\nil veut un avoir",
		 NULL, NULL},
		{"", "", NULL, NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *nt, *q, *sig;
		print_message("split case %zu\n", i);
		mime_split_text(cases[i].in, &nt, &q, &sig);
		assert_string_equal(nt, cases[i].new_text);
		assert_str_or_null(q, cases[i].quoted);
		assert_str_or_null(sig, cases[i].sig);
		free(nt);
		free(q);
		free(sig);
	}
}

/* ------------------------------------------------------------------ */
/* Structure: multipart, encodings, limits */

static struct mime_message *parse_ok(const char *raw, size_t len, const struct mime_limits *lim)
{
	struct mime_message *m = NULL;
	const char *err = NULL;
	double t0 = now_s();
	int r = mime_parse(raw, len, lim, &m, &err);
	double dt = now_s() - t0;
	print_message("  parsed %zu bytes in %.3f s\n", len, dt);
	assert_true(dt < 10.0); /* generous: sanitizer builds on a shared machine */
	assert_int_equal(r, 0);
	assert_non_null(m);
	assert_all_utf8(m);
	return m;
}

/* d levels of multipart/mixed around one text part. */
static char *nested_multipart(size_t d, size_t *len_r)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "From: a@b.example\r\nSubject: nested\r\n");
	for (size_t i = 0; i < d; i++)
		strbuf_printf(&sb, "Content-Type: multipart/mixed; boundary=\"b%zu\"\r\n\r\n--b%zu\r\n", i, i);
	strbuf_puts(&sb, "Content-Type: text/plain\r\n\r\ndeep text\r\n");
	for (size_t i = d; i > 0; i--)
		strbuf_printf(&sb, "--b%zu--\r\n", i - 1);
	*len_r = sb.len;
	return strbuf_steal(&sb);
}

static void test_depth_limit(void **state)
{
	(void)state;
	struct mime_limits lim;
	mime_limits_default(&lim);
	size_t len;
	/* Exactly at the limit: every level opened. */
	char *raw = nested_multipart(lim.max_depth, &len);
	struct mime_message *m = parse_ok(raw, len, &lim);
	assert_string_equal(m->text, "deep text");
	assert_false(has_warning(m, "depth"));
	mime_message_free(&m);
	free(raw);
	/* One past: the innermost multipart is kept, not opened. */
	raw = nested_multipart(lim.max_depth + 1, &len);
	m = parse_ok(raw, len, &lim);
	assert_string_equal(m->text, "");
	assert_true(has_warning(m, "MIME depth limit (32) reached"));
	assert_int_equal(m->n_attachments, 1);
	assert_string_equal(m->attachments[0].content_type, "multipart/mixed");
	mime_message_free(&m);
	free(raw);
	/* 1000 levels: returns quickly. */
	raw = nested_multipart(1000, &len);
	m = parse_ok(raw, len, &lim);
	assert_true(has_warning(m, "depth limit"));
	mime_message_free(&m);
	free(raw);
	/* 1000 levels of unclosed multipart with the same boundary. */
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "From: a@b\r\n");
	for (int i = 0; i < 1000; i++)
		strbuf_puts(&sb, "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n");
	m = parse_ok(sb.data, sb.len, NULL);
	mime_message_free(&m);
	strbuf_free(&sb);
}

static void test_truncated_and_broken(void **state)
{
	(void)state;
	static const char *const cases[] = {
		/* boundary never closed */
		"From: a@b\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nstill here",
		/* header cut mid-line */
		"From: a@b\r\nSubject: cut he",
		"From: a@b\r\nContent-Type: multipart/mixed; bound",
		/* boundary parameter missing */
		"From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nstill here\r\n",
		/* boundary not found in the body */
		"From: a@b\r\nContent-Type: multipart/mixed; boundary=nope\r\n\r\nstill here\r\n",
		/* broken base64 and quoted-printable */
		"From: a@b\r\nContent-Transfer-Encoding: base64\r\n\r\nc3Rp!!bGwg\naGVy*ZQ=\r\n=garbage",
		"From: a@b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nstill here =ZZ =4\r\n=",
		"From: a@b\r\nContent-Type: text/plain; charset=\"utf-8//TRANSLIT\"\r\n\r\nstill here \xE9\r\n",
		"From: a@b\r\nContent-Type: text/plain; charset=\r\n\r\nstill here\r\n",
		"From: a@b\r\nContent-Type: /\r\n\r\nstill here\r\n",
		"From: a@b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nstill here\r\n",
		/* encoded words broken in every way */
		"From: =?utf-8?q?=?= <a@b>\r\nSubject: =?=?=?utf-8?b?=?= =?utf-8?q?=\r\n\r\nstill here",
		/* RFC 2231 with gaps and garbage */
		"From: a@b\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nstill here\r\n--q\r\n"
		"Content-Type: application/octet-stream; name*0*=utf-8''a%; name*5=b; name*=''%ZZ\r\n\r\nx\r\n--q--",
		/* no blank line after the headers */
		"From: a@b\nnot a header line\nstill here",
		/* bare LF, CR only */
		"From: a@b\n\nstill here\n",
		"From: a@b\r\rstill here",
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		print_message("broken case %zu\n", i);
		struct mime_message *m = parse_ok(cases[i], strlen(cases[i]), NULL);
		mime_message_free(&m);
	}
	struct mime_message *m = parse_ok(cases[0], strlen(cases[0]), NULL);
	assert_string_equal(m->text, "still here");
	assert_true(has_warning(m, "never closed"));
	mime_message_free(&m);
	m = parse_ok(cases[4], strlen(cases[4]), NULL);
	assert_string_equal(m->text, "still here");
	assert_true(has_warning(m, "boundary not found"));
	mime_message_free(&m);
	m = parse_ok(cases[5], strlen(cases[5]), NULL);
	assert_string_equal(m->text, "still here");
	mime_message_free(&m);
	m = parse_ok(cases[6], strlen(cases[6]), NULL);
	assert_string_equal(m->text, "still here =ZZ =4");
	mime_message_free(&m);
	m = parse_ok(cases[13], strlen(cases[13]), NULL);
	assert_string_equal(m->text, "not a header line\nstill here");
	assert_true(has_warning(m, "malformed header line"));
	mime_message_free(&m);
	m = parse_ok(cases[15], strlen(cases[15]), NULL);
	assert_string_equal(m->text, "still here");
	mime_message_free(&m);
}

static void test_empty_and_headerless(void **state)
{
	(void)state;
	struct mime_message *m = NULL;
	const char *err = NULL;
	assert_int_equal(mime_parse("", 0, NULL, &m, &err), -1);
	assert_non_null(err);
	assert_null(m);
	assert_int_equal(mime_parse("\r\n\r\n  \r\n", 8, NULL, &m, &err), -1);
	assert_null(m);
	m = parse_ok("\r\njust a body", 13, NULL);
	assert_string_equal(m->text, "just a body");
	assert_true(has_warning(m, "no header"));
	mime_message_free(&m);
	mime_message_free(&m); /* NULL is fine */
}

static void test_nul_bytes(void **state)
{
	(void)state;
	static const char raw[] = "From: a\0b@x.example\r\nSubject: nul\0here\r\n\r\nbody\0with nul\r\n";
	struct mime_message *m = parse_ok(raw, sizeof(raw) - 1, NULL);
	assert_string_equal(m->subject, "nul here");
	assert_string_equal(m->text, "body\xEF\xBF\xBDwith nul");
	assert_non_null(strstr(m->headers_raw, "Subject: nul here"));
	mime_message_free(&m);
}

static void test_huge_single_line(void **state)
{
	(void)state;
	size_t n = 10u << 20;
	char *raw = xmalloc(n);
	static const char head[] = "From: a@b\r\nSubject: big\r\n\r\n";
	memcpy(raw, head, sizeof(head) - 1);
	memset(raw + sizeof(head) - 1, 'a', n - (sizeof(head) - 1));
	struct mime_limits lim;
	mime_limits_default(&lim);
	struct mime_message *m = parse_ok(raw, n, &lim);
	assert_int_equal(strlen(m->text), lim.max_text_bytes);
	assert_true(has_warning(m, "over"));
	mime_message_free(&m);

	/* An endless header line: stored up to the header limit. */
	memcpy(raw, "Subject: ", 9);
	memset(raw + 9, 'h', n - 9);
	m = parse_ok(raw, n, &lim);
	assert_true(strlen(m->subject) <= lim.max_header_bytes);
	assert_true(strlen(m->subject) > lim.max_header_bytes / 2);
	assert_true(strlen(m->headers_raw) <= lim.max_header_bytes);
	assert_true(has_warning(m, "header block over"));
	assert_string_equal(m->text, "");
	mime_message_free(&m);
	free(raw);
}

static void test_header_count_limit(void **state)
{
	(void)state;
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_header_bytes = 8u << 20; /* let the count limit bite */
	struct strbuf sb;
	strbuf_init(&sb, 0);
	for (size_t i = 0; i + 1 < lim.max_headers; i++)
		strbuf_printf(&sb, "X-H%zu: v\r\n", i);
	strbuf_puts(&sb, "Subject: last kept\r\n");
	size_t at_limit = sb.len;
	strbuf_puts(&sb, "Subject2: dropped\r\n\r\nbody\r\n");
	struct mime_message *m = parse_ok(sb.data, sb.len, &lim);
	assert_int_equal(m->n_headers, lim.max_headers);
	assert_string_equal(m->subject, "last kept");
	assert_null(mime_header(m, "Subject2"));
	assert_true(has_warning(m, "more than 1000 header fields"));
	assert_string_equal(m->text, "body");
	mime_message_free(&m);
	/* Exactly at the limit: no warning. */
	char *exact = xasprintf("%.*s\r\nbody\r\n", (int)at_limit, sb.data);
	m = parse_ok(exact, strlen(exact), &lim);
	assert_int_equal(m->n_headers, lim.max_headers);
	assert_int_equal(m->n_warnings, 0);
	mime_message_free(&m);
	free(exact);
	strbuf_free(&sb);

	/* 100,000 headers with default limits. */
	strbuf_init(&sb, 0);
	for (int i = 0; i < 100000; i++)
		strbuf_printf(&sb, "Received: from host%d by mx\r\n", i);
	strbuf_puts(&sb, "\r\nbody\r\n");
	m = parse_ok(sb.data, sb.len, NULL);
	assert_int_equal(m->n_headers, 1000);
	assert_string_equal(m->text, "body");
	mime_message_free(&m);
	strbuf_free(&sb);
}

static void test_part_and_size_limits(void **state)
{
	(void)state;
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_parts = 10;
	lim.max_attachment_bytes = 100;
	lim.max_mail_bytes = 1u << 20;
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "From: a@b\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < 50; i++)
		strbuf_printf(&sb, "--p\r\nContent-Type: application/octet-stream\r\n\r\n%d\r\n", i);
	strbuf_puts(&sb, "--p\r\nContent-Type: application/pdf; name=big.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	for (int i = 0; i < 100; i++)
		strbuf_puts(&sb, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n");
	strbuf_puts(&sb, "--p--\r\n");
	struct mime_message *m = parse_ok(sb.data, sb.len, &lim);
	assert_int_equal(m->n_attachments, 9); /* the top entity counts as a part */
	assert_true(has_warning(m, "more than 10 MIME parts"));
	mime_message_free(&m);

	lim.max_parts = 1000;
	m = parse_ok(sb.data, sb.len, &lim);
	assert_int_equal(m->n_attachments, 51);
	const struct mime_attachment *big = &m->attachments[50];
	assert_string_equal(big->filename, "big.pdf");
	assert_int_equal(big->size, 5100);
	assert_null(big->data);
	assert_true(big->data_truncated);
	assert_true(has_warning(m, "attachment over the size cap"));
	/* At the cap exactly: data kept. */
	assert_int_equal(m->attachments[0].size, 1);
	assert_non_null(m->attachments[0].data);
	mime_message_free(&m);

	/* The mail size limit. */
	lim.max_mail_bytes = 200;
	m = parse_ok(sb.data, sb.len, &lim);
	assert_true(has_warning(m, "mail over 200 bytes"));
	mime_message_free(&m);
	strbuf_free(&sb);

	/* Text at and past max_text_bytes. */
	mime_limits_default(&lim);
	lim.max_text_bytes = 64;
	char raw[256];
	int n = snprintf(raw, sizeof(raw), "From: a@b\r\n\r\n%s", "0123456789012345678901234567890123456789012345678901234567890123");
	m = parse_ok(raw, (size_t)n, &lim);
	assert_int_equal(strlen(m->text), 64);
	assert_int_equal(m->n_warnings, 0);
	mime_message_free(&m);
	/* A two-byte character across the cut is dropped whole. */
	n = snprintf(raw, sizeof(raw), "From: a@b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\xC3\xA9xx",
		     "012345678901234567890123456789012345678901234567890123456789012");
	m = parse_ok(raw, (size_t)n, &lim);
	assert_int_equal(strlen(m->text), 63);
	assert_true(has_warning(m, "over 64 bytes"));
	mime_message_free(&m);
}

static void test_addresses_and_ids(void **state)
{
	(void)state;
	static const char raw[] =
		"From: \"Dupont, Jean (compta)\" <Jean.Dupont@Example.FR>\r\n"
		"To: undisclosed-recipients:;\r\n"
		"Cc: team: a@x.example, \"B\" <b@x.example>;, c@x.example (Charlie)\r\n"
		"Reply-To: <@relay.example:reply@x.example>\r\n"
		"Return-Path: <Bounce@X.example>\r\n"
		"Message-ID: <  abc@def  >\r\n"
		"In-Reply-To: garbage <first@x> <second@x>\r\n"
		"Date: 5 Mar 25 10:00 EST\r\n"
		"\r\nbody\r\n";
	struct mime_message *m = parse_ok(raw, sizeof(raw) - 1, NULL);
	assert_string_equal(m->from_name, "Dupont, Jean (compta)");
	assert_string_equal(m->from_addr, "jean.dupont@example.fr");
	assert_int_equal(m->n_to, 0);
	assert_int_equal(m->n_cc, 3);
	assert_string_equal(m->cc_addrs[0], "a@x.example");
	assert_string_equal(m->cc_addrs[1], "b@x.example");
	assert_string_equal(m->cc_addrs[2], "c@x.example");
	assert_string_equal(m->reply_to_addr, "reply@x.example");
	assert_string_equal(m->return_path, "bounce@x.example");
	assert_string_equal(m->message_id, "abc@def");
	assert_string_equal(m->in_reply_to, "first@x");
	assert_int_equal(m->date, 1741186800); /* 2025-03-05 15:00 UTC */
	mime_message_free(&m);

	/* Dates */
	static const struct {
		const char *date;
		int64_t want;
	} dates[] = {
		{"Mon, 3 Mar 2025 10:12:40 +0100", 1740993160},
		{"Mon,  3 Mar 2025 09:12:40 GMT", 1740993160},
		{"3 Mar 2025 09:12:40 +0000 (UTC)", 1740993160},
		{"Mon, 3 Mar 2025 04:12:40 -0500", 1740993160},
		{"Mon, 32 Mar 2025 10:00:00 +0000", 0},
		{"yesterday", 0},
		{"Mon, 3 Foo 2025 10:00 +0000", 0},
		{"", 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(dates); i++) {
		char *r = xasprintf("Date: %s\r\n\r\nx", dates[i].date);
		m = parse_ok(r, strlen(r), NULL);
		assert_int_equal(m->date, dates[i].want);
		mime_message_free(&m);
		free(r);
	}

	/* References: the root and the latest 99 kept. */
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "References:");
	for (int i = 0; i < 300; i++)
		strbuf_printf(&sb, " <r%d@x>\r\n", i);
	strbuf_puts(&sb, "\r\nbody");
	m = parse_ok(sb.data, sb.len, NULL);
	assert_int_equal(m->n_references, 100);
	assert_string_equal(m->references[0], "r0@x");
	assert_string_equal(m->references[1], "r201@x");
	assert_string_equal(m->references[99], "r299@x");
	mime_message_free(&m);
	strbuf_free(&sb);
}

static void test_digest_and_html_charset(void **state)
{
	(void)state;
	static const char digest[] =
		"From: list@x\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n"
		"--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n--d--\r\n";
	struct mime_message *m = parse_ok(digest, sizeof(digest) - 1, NULL);
	assert_int_equal(m->n_attachments, 1);
	assert_string_equal(m->attachments[0].content_type, "message/rfc822");
	mime_message_free(&m);

	/* HTML without a MIME charset: the meta tag says windows-1252. */
	static const char html[] =
		"From: a@b\r\nContent-Type: text/html\r\n\r\n"
		"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"></head>"
		"<body><p>Caf\xE9 \x80</p></body></html>";
	m = parse_ok(html, sizeof(html) - 1, NULL);
	assert_true(m->html_only);
	assert_string_equal(m->text, "Caf\xC3\xA9 \xE2\x82\xAC");
	assert_non_null(strstr(m->html, "<p>Caf\xC3\xA9"));
	mime_message_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_fixtures),
		cmocka_unit_test(test_fixture_details),
		cmocka_unit_test(test_decode_words),
		cmocka_unit_test(test_to_utf8),
		cmocka_unit_test(test_no_text_split),
		cmocka_unit_test(test_split_text),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_truncated_and_broken),
		cmocka_unit_test(test_empty_and_headerless),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_huge_single_line),
		cmocka_unit_test(test_header_count_limit),
		cmocka_unit_test(test_part_and_size_limits),
		cmocka_unit_test(test_addresses_and_ids),
		cmocka_unit_test(test_digest_and_html_charset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
