/* compose: quoted-printable of long French lines, RFC 2047 subjects and
 * names, header injection attempts, threading headers, the reply subject
 * (no "Re: Re:", the tag once), dates, addresses and the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "strbuf.h"
#include "xalloc.h"

/* ---- decoders written independently of the encoders under test ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes QP with CRLF line ends into LF text; fails the test on bad syntax. */
static char *qp_decode(const char *qp)
{
	struct strbuf sb = STRBUF_INIT;
	for (const char *p = qp; *p != '\0';) {
		if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 3;
		} else if (p[0] == '=') {
			int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
			assert_true(hi >= 0 && lo >= 0);
			strbuf_putc(&sb, (char)(hi * 16 + lo));
			p += 3;
		} else if (p[0] == '\r' && p[1] == '\n') {
			strbuf_putc(&sb, '\n');
			p += 2;
		} else {
			assert_true(*p != '\r' && *p != '\n');
			strbuf_putc(&sb, *p++);
		}
	}
	return strbuf_steal(&sb);
}

static void assert_qp_lines(const char *qp)
{
	for (const char *p = qp; *p != '\0';) {
		const char *end = strstr(p, "\r\n");
		assert_non_null(end);
		size_t len = (size_t)(end - p);
		assert_true(len <= COMPOSE_QP_LINE);
		/* No literal white space at the end of an encoded line. */
		if (len > 0)
			assert_true(p[len - 1] != ' ' && p[len - 1] != '\t');
		for (size_t i = 0; i < len; i++)
			assert_true((unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x7f);
		p = end + 2;
	}
}

static char *qp(const char *text)
{
	struct strbuf sb = STRBUF_INIT;
	compose_qp(&sb, text);
	return strbuf_steal(&sb);
}

static void test_qp_long_french_lines(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    "Bonjour Madame Lefèvre,\n\nNous avons bien reçu votre réclamation concernant la "
	    "lampe « Éclat » achetée le 3 février : elle ne s'allume plus après la mise à jour "
	    "du micrologiciel, ce qui n'est évidemment pas acceptable. Un technicien vous "
	    "appellera dès demain matin.\n\nCordialement,\nL'équipe\n",
	    "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\n",
	    "trailing spaces   \nand a tab\t\n=equals= at 100%\n",
	    "From the team\n.\n..dots\nFrom: not a header\n",
	    "no final newline",
	    "",
	    "x\r\nwindows\r\nline ends\r\n",
	};
	static const char *const expected[] = {
	    NULL, NULL, NULL, NULL, "no final newline\n", "\n", "x\nwindows\nline ends\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *enc = qp(texts[i]);
		assert_qp_lines(enc);
		char *dec = qp_decode(enc);
		assert_string_equal(dec, expected[i] ? expected[i] : texts[i]);
		free(dec);
		free(enc);
	}
}

static void test_qp_details(void **state)
{
	(void)state;
	char *enc = qp("a b  \nFrom x\n.\n=\n");
	/* Trailing spaces: the last one encoded; "From " and "." at line start
	 * encoded; "=" always encoded. */
	assert_string_equal(enc, "a b =20\r\n=46rom x\r\n=2E\r\n=3D\r\n");
	free(enc);
	/* A line of exactly 76 ASCII characters needs no soft break. */
	char line[77];
	memset(line, 'a', 76);
	line[76] = '\0';
	enc = qp(line);
	assert_int_equal(strlen(enc), 78);
	free(enc);
	/* 77 do: "=" after 75, then the rest. */
	char line2[78];
	memset(line2, 'a', 77);
	line2[77] = '\0';
	enc = qp(line2);
	assert_non_null(strstr(enc, "=\r\n"));
	assert_qp_lines(enc);
	free(enc);
	/* An encoded byte is never split by a soft break. */
	enc = qp("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé");
	assert_qp_lines(enc);
	char *dec = qp_decode(enc);
	assert_string_equal(
	    dec, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé\n");
	free(dec);
	free(enc);
}

/* ---- subjects ---- */

static void test_reply_subject(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
	    {"Ma lampe ne s'allume plus", "Re: Ma lampe ne s'allume plus [#12]"},
	    {"Re: Ma lampe", "Re: Ma lampe [#12]"},
	    {"RE: re: Re : Ma lampe", "Re: Ma lampe [#12]"},
	    {"Re[2]: Ma lampe", "Re: Ma lampe [#12]"},
	    {"Re(3) : Ma lampe", "Re: Ma lampe [#12]"},
	    {"Re: Ma lampe [#12]", "Re: Ma lampe [#12]"},
	    {"[#12] Re: Ma lampe", "Re: Ma lampe [#12]"},
	    {"Re: [#12] Ma lampe [#12]", "Re: Ma lampe [#12]"},
	    {"Ma lampe [#13]", "Re: Ma lampe [#13] [#12]"},
	    {"Réclamation", "Re: Réclamation [#12]"},
	    {"Recall notice", "Re: Recall notice [#12]"},
	    {"", "Re: [#12]"},
	    {"Re:", "Re: [#12]"},
	    {"  espaces  ", "Re: espaces [#12]"},
	    {"Ligne\r\nBcc: eve@example.test", "Re: Ligne  Bcc: eve@example.test [#12]"},
	    {"tab\there", "Re: tab here [#12]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = compose_reply_subject(cases[i].in, 12);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
	/* Applying it twice changes nothing: answering our own reply. */
	char *once = compose_reply_subject("Re: Facture", 7);
	char *twice = compose_reply_subject(once, 7);
	assert_string_equal(once, twice);
	free(once);
	free(twice);
	/* Very long subjects are capped. */
	char *longs = xmalloc(5000);
	memset(longs, 'x', 4999);
	longs[4999] = '\0';
	char *s = compose_reply_subject(longs, 1);
	assert_true(strlen(s) <= COMPOSE_MAX_SUBJECT + strlen("Re:  [#1]"));
	free(s);
	free(longs);
}

/* Decodes an unfolded header value made of encoded words and ASCII text. */
static char *decode_words(const char *value)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct strbuf sb = STRBUF_INIT;
	const char *p = value;
	while (*p != '\0') {
		if (strncmp(p, "=?UTF-8?B?", 10) == 0) {
			p += 10;
			const char *end = strstr(p, "?=");
			assert_non_null(end);
			uint32_t acc = 0;
			int bits = 0;
			for (; p < end; p++) {
				if (*p == '=')
					continue;
				const char *pos = strchr(b64, *p);
				assert_non_null(pos);
				acc = (acc << 6) | (uint32_t)(pos - b64);
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					strbuf_putc(&sb, (char)((acc >> bits) & 0xff));
				}
			}
			p = end + 2;
			/* White space between two encoded words is not text. */
			const char *q = p + strspn(p, " ");
			if (strncmp(q, "=?", 2) == 0)
				p = q;
		} else {
			strbuf_putc(&sb, *p++);
		}
	}
	return strbuf_steal(&sb);
}

/* "Name: v1\r\n v2\r\n" -> "v1 v2" (RFC 5322 unfolding: drop the CRLF). */
static char *unfold(const char *header_line, const char *name)
{
	size_t n = strlen(name);
	assert_memory_equal(header_line, name, n);
	assert_memory_equal(header_line + n, ": ", 2);
	struct strbuf sb = STRBUF_INIT;
	const char *p = header_line + n + 2;
	for (;;) {
		const char *end = strstr(p, "\r\n");
		assert_non_null(end);
		assert_true(end - p <= 78);
		strbuf_append(&sb, p, (size_t)(end - p));
		p = end + 2;
		if (*p != ' ' && *p != '\t')
			break;
	}
	assert_string_equal(p, "");
	return strbuf_steal(&sb);
}

static void test_encoded_headers(void **state)
{
	(void)state;
	static const char *const values[] = {
	    "Re: Lumière cassée [#3]",
	    "Re: Une très longue réclamation à propos d'une lampe « Éclat » qui clignote, "
	    "s'éteint et se rallume toute seule pendant la nuit, ce qui réveille les enfants [#3]",
	    "Re: plain ASCII subject that is long enough to need folding at a space because "
	    "it goes on and on beyond seventy-eight characters [#3]",
	    "Re: =?UTF-8?B?looks encoded?= [#3]",
	    "emoji 🎉 and 中文",
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct strbuf sb = STRBUF_INIT;
		compose_header(&sb, "Subject", values[i]);
		char *line = strbuf_steal(&sb);
		char *unfolded = unfold(line, "Subject");
		char *decoded = decode_words(unfolded);
		assert_string_equal(decoded, values[i]);
		bool ascii = true;
		for (const char *p = values[i]; *p; p++)
			ascii = ascii && (unsigned char)*p < 0x80;
		/* Non-ASCII, or text that looks like an encoded word, is encoded. */
		if (!ascii || strstr(values[i], "=?") != NULL)
			assert_non_null(strstr(line, "=?UTF-8?B?"));
		else
			assert_null(strstr(line, "=?"));
		free(decoded);
		free(unfolded);
		free(line);
	}
}

/* ---- whole mails ---- */

/* The header block of raw (up to the empty line), owned. */
static char *headers_of(const char *raw)
{
	const char *end = strstr(raw, "\r\n\r\n");
	assert_non_null(end);
	return xstrndup(raw, (size_t)(end - raw) + 2);
}

static char *build(const struct compose_mail *m, char **msgid_r)
{
	char *raw = NULL, *msgid = NULL;
	const char *error = NULL;
	assert_int_equal(compose_build(m, &raw, &msgid, &error), 0);
	if (msgid_r != NULL)
		*msgid_r = msgid;
	else
		free(msgid);
	return raw;
}

static const struct compose_mail base_mail = {
    .from = "Équipe Support <support@example.test>",
    .to_addr = "claire@example.test",
    .to_name = "Claire Dupré",
    .subject = "Re: Lampe",
    .ticket_id = 42,
    .in_reply_to = "<c2@mail.example.test>",
    .references = "<c0@mail.example.test> c1@mail.example.test",
    .body = "Bonjour,\nc'est réglé.\n",
    .date = 1795680000,
};

/* The unfolded value of header name in raw, or NULL. */
static char *header_any(const char *raw, const char *name)
{
	char *head = headers_of(raw);
	size_t n = strlen(name);
	struct strbuf sb = STRBUF_INIT;
	bool found = false;
	for (const char *p = head; *p != '\0';) {
		const char *end = strstr(p, "\r\n");
		if (!found && strncmp(p, name, n) == 0 && p[n] == ':' && p[n + 1] == ' ') {
			found = true;
			strbuf_append(&sb, p + n + 2, (size_t)(end - p - n - 2));
			for (const char *q = end + 2; *q == ' '; q = strstr(q, "\r\n") + 2)
				strbuf_append(&sb, q, (size_t)(strstr(q, "\r\n") - q));
		}
		p = end + 2;
	}
	free(head);
	char *out = strbuf_steal(&sb);
	if (!found) {
		free(out);
		return NULL;
	}
	return out;
}

static void test_mail_headers(void **state)
{
	(void)state;
	char *msgid = NULL;
	char *raw = build(&base_mail, &msgid);
	char *v;
	v = header_any(raw, "Date");
	assert_string_equal(v, "Thu, 26 Nov 2026 08:00:00 +0000");
	free(v);
	v = header_any(raw, "From");
	char *d = decode_words(v);
	assert_string_equal(d, "Équipe Support <support@example.test>");
	free(d);
	free(v);
	v = header_any(raw, "To");
	d = decode_words(v);
	assert_string_equal(d, "Claire Dupré <claire@example.test>");
	free(d);
	free(v);
	v = header_any(raw, "Subject");
	assert_string_equal(v, "Re: Lampe [#42]");
	free(v);
	v = header_any(raw, "Message-ID");
	char *expected = xasprintf("<%s>", msgid);
	assert_string_equal(v, expected);
	free(expected);
	free(v);
	/* The generated id is "<random>.<time>@<domain of From>". */
	assert_true(strlen(msgid) > 40);
	assert_string_equal(strchr(msgid, '@'), "@example.test");
	v = header_any(raw, "In-Reply-To");
	assert_string_equal(v, "<c2@mail.example.test>");
	free(v);
	v = header_any(raw, "References");
	assert_string_equal(v,
	                    "<c0@mail.example.test> <c1@mail.example.test> <c2@mail.example.test>");
	free(v);
	assert_null(header_any(raw, "Auto-Submitted"));
	v = header_any(raw, "MIME-Version");
	assert_string_equal(v, "1.0");
	free(v);
	v = header_any(raw, "Content-Type");
	assert_string_equal(v, "text/plain; charset=UTF-8");
	free(v);
	v = header_any(raw, "Content-Transfer-Encoding");
	assert_string_equal(v, "quoted-printable");
	free(v);
	char *body = qp_decode(strstr(raw, "\r\n\r\n") + 4);
	assert_string_equal(body, base_mail.body);
	free(body);
	/* 7-bit, CRLF only, short lines. */
	for (const char *p = raw; *p; p++) {
		assert_true((unsigned char)*p < 0x80);
		if (*p == '\n')
			assert_true(p > raw && p[-1] == '\r');
	}
	char *again = NULL;
	char *raw2 = build(&base_mail, &again);
	assert_string_not_equal(msgid, again);
	free(raw2);
	free(again);
	free(msgid);
	free(raw);

	/* The acknowledgement is marked automatic (RFC 3834). */
	struct compose_mail ack = base_mail;
	ack.auto_submitted = true;
	raw = build(&ack, NULL);
	v = header_any(raw, "Auto-Submitted");
	assert_string_equal(v, "auto-replied");
	free(v);
	free(raw);
	/* A given Message-ID is kept. */
	struct compose_mail fixed = base_mail;
	fixed.message_id = "abc@example.test";
	raw = build(&fixed, &msgid);
	assert_string_equal(msgid, "abc@example.test");
	free(msgid);
	free(raw);
}

static void test_threading(void **state)
{
	(void)state;
	/* Nothing to answer: no threading headers. */
	struct compose_mail m = base_mail;
	m.in_reply_to = NULL;
	m.references = NULL;
	char *raw = build(&m, NULL);
	assert_null(header_any(raw, "In-Reply-To"));
	assert_null(header_any(raw, "References"));
	free(raw);

	/* Ids with or without <>, bad ones dropped, the parent last and once. */
	char *refs = compose_references("<a@x> b@x <bad\x01id@x> <c@x>", "c@x");
	assert_string_equal(refs, "<a@x> <b@x> <c@x>");
	free(refs);
	assert_null(compose_references("", NULL));
	assert_null(compose_references(NULL, "  "));

	/* A long thread: the root and the most recent ones, at most 20. */
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 30; i++)
		strbuf_printf(&sb, "<m%d@x> ", i);
	refs = compose_references(strbuf_str(&sb), "<parent@x>");
	strbuf_free(&sb);
	size_t n = 0;
	for (const char *p = refs; *p; p++)
		n += *p == '<';
	assert_int_equal(n, COMPOSE_MAX_REFERENCES);
	assert_memory_equal(refs, "<m0@x> <m12@x> ", 15);
	assert_string_equal(refs + strlen(refs) - 10, "<parent@x>");
	free(refs);

	/* Folded one id per line in the mail. */
	m = base_mail;
	raw = build(&m, NULL);
	assert_non_null(
	    strstr(raw, "References: <c0@mail.example.test>\r\n <c1@mail.example.test>\r\n"));
	free(raw);
}

static void test_header_injection(void **state)
{
	(void)state;
	struct compose_mail m = base_mail;
	m.to_name = "Eve\r\nBcc: victim@example.test";
	m.subject = "Hello\nBcc: victim@example.test\r\n\r\nbody";
	m.in_reply_to = "<x@y>\r\nBcc: victim@example.test";
	m.references = "<a@b>\nBcc: victim@example.test";
	m.body = "text\r\n.\r\nMAIL FROM:<x@y>\r\n";
	char *raw = build(&m, NULL);
	char *head = headers_of(raw);
	/* Every header line is one of ours or a continuation. */
	static const char *const names[] = {"Date:",         "From:",
	                                    "To:",           "Subject:",
	                                    "Message-ID:",   "In-Reply-To:",
	                                    "References:",   "MIME-Version:",
	                                    "Content-Type:", "Content-Transfer-Encoding:"};
	for (const char *p = head; *p != '\0'; p = strstr(p, "\r\n") + 2) {
		bool ok = *p == ' ';
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !ok; i++)
			ok = strncmp(p, names[i], strlen(names[i])) == 0;
		if (!ok)
			fail_msg("unexpected header line: %.40s", p);
	}
	assert_null(strstr(head, "\nBcc"));
	/* The text's lone "." line is encoded: it cannot end the SMTP data. */
	assert_null(strstr(raw, "\r\n.\r\n"));
	free(head);
	free(raw);

	/* Addresses are validated, not cleaned. */
	static const char *const bad_to[] = {
	    "a@b.test\r\nBcc: x@y.test",
	    "a@b.test>, x@y.test",
	    "<a@b.test>",
	    "a b@c.test",
	    "",
	    "no-at-sign",
	    "a@",
	    "@b.test",
	    "a@b..test",
	    "a@-b.test",
	    "a..b@c.test",
	    "\"quoted\"@c.test",
	    "a@b.test\n",
	};
	for (size_t i = 0; i < sizeof(bad_to) / sizeof(bad_to[0]); i++) {
		m = base_mail;
		m.to_addr = bad_to[i];
		char *r = NULL, *id = NULL;
		const char *error = NULL;
		assert_int_equal(compose_build(&m, &r, &id, &error), -1);
		assert_non_null(error);
		assert_null(r);
	}
	m = base_mail;
	m.from = "Support <support@example.test>\r\nBcc: x@y.test";
	char *r = NULL, *id = NULL;
	const char *error = NULL;
	assert_int_equal(compose_build(&m, &r, &id, &error), -1);
	m = base_mail;
	m.message_id = "a@b>\r\nBcc: <x@y";
	assert_int_equal(compose_build(&m, &r, &id, &error), -1);
}

static void test_limits_and_errors(void **state)
{
	(void)state;
	struct compose_mail m = base_mail;
	char *big = xmalloc(COMPOSE_MAX_BODY + 2);
	memset(big, 'a', COMPOSE_MAX_BODY + 1);
	big[COMPOSE_MAX_BODY + 1] = '\0';
	m.body = big;
	char *r = NULL, *id = NULL;
	const char *error = NULL;
	assert_int_equal(compose_build(&m, &r, &id, &error), -1);
	big[COMPOSE_MAX_BODY] = '\0'; /* exactly the limit: accepted */
	assert_int_equal(compose_build(&m, &r, &id, &error), 0);
	free(r);
	free(id);
	free(big);
	r = id = NULL;
	m.body = "caf\xc3 invalid";
	assert_int_equal(compose_build(&m, &r, &id, &error), -1);
	m.body = "overlong \xc0\xaf";
	assert_int_equal(compose_build(&m, &r, &id, &error), -1);
	m.body = "surrogate \xed\xa0\x80";
	assert_int_equal(compose_build(&m, &r, &id, &error), -1);
	assert_null(r);
	/* A broken byte in a subject (it came from a mail) becomes '?'. */
	char *s = compose_reply_subject("caf\xc3 ok", 1);
	assert_string_equal(s, "Re: caf? ok [#1]");
	free(s);
}

static void test_from_and_addresses(void **state)
{
	(void)state;
	static const struct {
		const char *from, *name, *addr;
	} ok[] = {
	    {"Support <support@example.test>", "Support", "support@example.test"},
	    {"\"Équipe \\\"SAV\\\"\" <sav@example.test>", "Équipe \\\"SAV\\\"", "sav@example.test"},
	    {"support@example.test", NULL, "support@example.test"},
	    {"<support@example.test>", NULL, "support@example.test"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *name = NULL, *addr = NULL;
		const char *error = NULL;
		assert_int_equal(compose_parse_from(ok[i].from, &name, &addr, &error), 0);
		if (ok[i].name == NULL)
			assert_null(name);
		else
			assert_string_equal(name, ok[i].name);
		assert_string_equal(addr, ok[i].addr);
		free(name);
		free(addr);
	}
	static const char *const bad[] = {"Support", "Support <support@example.test", "a <b>",
	                                  "x <a@b.test> trailing", NULL};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *name = NULL, *addr = NULL;
		const char *error = NULL;
		assert_int_equal(compose_parse_from(bad[i], &name, &addr, &error), -1);
		assert_non_null(error);
	}
	assert_true(compose_valid_addr("o'brien+tag@sub.example.test"));
	assert_false(compose_valid_addr(NULL));
	char longaddr[300];
	memset(longaddr, 'a', 250);
	strcpy(longaddr + 250, "@x.test");
	assert_false(compose_valid_addr(longaddr));
}

static void test_date(void **state)
{
	(void)state;
	char *d = compose_date(0);
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	free(d);
	d = compose_date(1795680000);
	assert_string_equal(d, "Thu, 26 Nov 2026 08:00:00 +0000");
	free(d);
}

static void test_render(void **state)
{
	(void)state;
	static const char *const keys[] = {"ticket.id", "ticket.subject", "customer.name"};
	const char *values[] = {"17", "Lampe {{ticket.id}}", "Léa"};
	char *s = compose_render("Bonjour {{customer.name}},\nticket n° {{ ticket.id }} « "
	                         "{{ticket.subject}} » {{unknown}} {{ticket.id",
	                         keys, values, 3);
	/* Values are not rendered again; unknown or unclosed placeholders stay. */
	assert_string_equal(s, "Bonjour Léa,\nticket n° 17 « Lampe {{ticket.id}} » {{unknown}} "
	                       "{{ticket.id");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qp_long_french_lines),
	    cmocka_unit_test(test_qp_details),
	    cmocka_unit_test(test_reply_subject),
	    cmocka_unit_test(test_encoded_headers),
	    cmocka_unit_test(test_mail_headers),
	    cmocka_unit_test(test_threading),
	    cmocka_unit_test(test_header_injection),
	    cmocka_unit_test(test_limits_and_errors),
	    cmocka_unit_test(test_from_and_addresses),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
