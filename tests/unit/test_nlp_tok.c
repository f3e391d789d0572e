/* Tokeniser, language guess, stop words, stemming and the feature
 * extractor, on tricky French and English. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "feat.h"
#include "lang.h"
#include "norm.h"
#include "tok.h"

static char *read_conf(const char *rel, size_t *len_r)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", SOURCE_DIR, rel);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 20);
	*len_r = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len_r] = '\0';
	fclose(f);
	return buf;
}

static int join_token(void *ctx, const char *text, size_t len, enum tok_kind kind)
{
	char *out = ctx;
	if (kind == TOK_HOST)
		return 0; /* checked in test_hosts */
	size_t n = strlen(out);
	assert_true(n + len + 2 < 4096);
	if (n > 0)
		out[n++] = ' ';
	memcpy(out + n, text, len);
	out[n + len] = '\0';
	assert_true(kind == TOK_CLASS ? text[0] == '_' : text[0] != '_');
	return 0;
}

/* Normalise + tokenise, tokens joined by spaces. */
static void tokens(const char *text, char *out)
{
	char *norm;
	size_t len;
	const char *error;
	out[0] = '\0';
	assert_int_equal(norm_text(text, strlen(text), 0, &norm, &len, &error), 0);
	tok_tokenize(norm, len, TOK_MAX_TOKENS, join_token, out, NULL);
	free(norm);
}

static void test_tokenise_table(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
	    /* French elisions, both apostrophes */
	    {"l'abonnement qu'il d'une j'ai", "abonnement il une ai"},
	    {"l’abonnement qu’il d’une", "abonnement il une"},
	    {"jusqu'à lorsqu'on aujourd'hui", "on aujourd'hui"},
	    /* English contractions stay whole, possessive 's goes */
	    {"I don't know, it isn't the customer's fault",
	     "don't know it isn't the customer fault"},
	    /* amounts */
	    {"49,90 € ou 49,90€ ou 12 EUR", "__amount__ ou __amount__ ou __amount__"},
	    {"$12.50 and £ 3 and 100 dollars", "__amount__ and __amount__ and __amount__"},
	    /* order numbers */
	    {"commande n° 12345", "commande __order__"},
	    {"Commande N°12345", "commande __order__"},
	    {"order #A-12345", "order __order__"},
	    {"numéro de commande : 778899", "numero de commande __order__"},
	    {"order number 42", "order __order__"},
	    {"CMD-7781", "__order__"},
	    /* invoice numbers */
	    {"FAC-2024-0012", "__invoice__"},
	    {"invoice INV-001", "invoice __invoice__"},
	    {"facture n° 2024-0012", "facture __invoice__"},
	    /* plain numbers and references */
	    {"le 12/03/2024 à 10h, 3 colis", "le __number__ 10h __number__ colis"},
	    {"réf AB-778 ou XK9921", "ref __ref__ ou __ref__"},
	    {"la commande du 12 mars", "la commande du __number__ mars"},
	    /* URLs and e-mail addresses */
	    {"voir https://exemple.fr/aide?x=1, merci", "voir __url__ merci"},
	    {"(www.example.com) et monsite.fr/contact", "__url__ et __url__"},
	    {"écrivez à <Support@Example.COM>.", "ecrivez __email__"},
	    {"mailto:jean.dupont+tag@mail.example.org", "__email__"},
	    /* hyphens split words; one-letter pieces go */
	    {"peut-être l'e-mail", "peut etre mail"},
	    /* long junk is dropped */
	    {"aGVsbG8gd29ybGQgdGhpcyBpcyBhIGxvbmcgYmFzZTY0IHN0cmluZw ok", "ok"},
	    {"", ""},
	    {"... !!! ???", ""},
	};
	char out[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tokens(cases[i].in, out);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\" -> \"%s\", want \"%s\"", i, cases[i].in, out,
			         cases[i].want);
	}
}

static int join_hosts(void *ctx, const char *text, size_t len, enum tok_kind kind)
{
	char *out = ctx;
	if (kind != TOK_HOST)
		return 0;
	size_t n = strlen(out);
	assert_true(n + len + 2 < 4096);
	if (n > 0)
		out[n++] = ' ';
	memcpy(out + n, text, len);
	out[n + len] = '\0';
	return 0;
}

static void test_hosts(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"https://www.Shop.Example.com:8443/a?b=1 http://x.fr?y", "shop.example.com x.fr"},
	    {"www.example.org/path monsite.fr", "example.org monsite.fr"},
	    {"<Jean@Mail.Example.COM> mailto:a@b.co", "mail.example.com b.co"},
	    {"https://", ""},
	};
	char out[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *norm;
		size_t len;
		const char *error;
		out[0] = '\0';
		assert_int_equal(
		    norm_text(cases[i].in, strlen(cases[i].in), 0, &norm, &len, &error), 0);
		tok_tokenize(norm, len, TOK_MAX_TOKENS, join_hosts, out, NULL);
		free(norm);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\" -> \"%s\", want \"%s\"", i, cases[i].in, out,
			         cases[i].want);
	}
}

static int count_token(void *ctx, const char *text, size_t len, enum tok_kind kind)
{
	(void)text;
	(void)len;
	(void)kind;
	(*(size_t *)ctx)++;
	return 0;
}

/* Tokens whose class depends on what follows: the deciding primitive at
 * the very end of the text, missing, or past three fillers. */
static void test_context_at_edges(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"order", "order"},
	    {"facture no", "facture no"},
	    {"order # no ref 12", "order __order__"},
	    {"order # no ref id 12", "order no ref id __number__"},
	    {"order 5 eur", "order __order__ eur"},
	    {"5 order 7", "__number__ order __order__"},
	    {"12", "__number__"},
	    {"\xe2\x82\xac", ""},
	    {"12 \xe2\x82\xac", "__amount__"},
	    {"\xe2\x82\xac 12", "__amount__"},
	    {"12 eur", "__amount__"},
	    {"$ $ 5 $", "__amount__"},
	    {"invoice invoice 3", "invoice invoice __invoice__"},
	};
	char out[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tokens(cases[i].in, out);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("'%s': got '%s', want '%s'", cases[i].in, out, cases[i].want);
	}
	/* the cap falls between a word and the class it announces */
	size_t n = 0;
	bool truncated = false;
	const char *text = "order 12 x";
	assert_int_equal(tok_tokenize(text, strlen(text), 1, count_token, &n, &truncated), 1);
	assert_true(truncated);
}

static void test_token_cap(void **state)
{
	(void)state;
	size_t n = 0;
	bool truncated = false;
	const char *text = "un deux trois quatre cinq six";
	assert_int_equal(tok_tokenize(text, strlen(text), 4, count_token, &n, &truncated), 4);
	assert_int_equal(n, 4);
	assert_true(truncated);
	n = 0;
	assert_int_equal(tok_tokenize(text, strlen(text), 6, count_token, &n, &truncated), 6);
	assert_false(truncated);
	/* a word cut at the very end of the buffer is read only up to len */
	char *buf = malloc(5);
	memcpy(buf, "abcd\xc3", 5);
	n = 0;
	assert_int_equal(tok_tokenize(buf, 5, 10, count_token, &n, &truncated), 1);
	free(buf);
}

static void test_language(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum lang want;
	} cases[] = {
	    {"Bonjour, ma commande n'est pas arrivée", LANG_FR},
	    {"Colis jamais reçu", LANG_FR},
	    {"Merci beaucoup", LANG_FR},
	    {"Impossible de me connecter", LANG_FR},
	    {"Le colis est arrivé abîmé", LANG_FR},
	    {"Remboursement svp", LANG_FR},
	    {"Hello, my order has not arrived", LANG_EN},
	    {"Still broken!!", LANG_EN},
	    {"Thanks a lot", LANG_EN},
	    {"I can't log in", LANG_EN},
	    {"Refund please", LANG_EN},
	    {"Where is my parcel?", LANG_EN},
	    {"Ich habe meine Bestellung nicht erhalten, bitte helfen Sie mir", LANG_OTHER},
	    {"No he recibido mi pedido, por favor", LANG_OTHER},
	    {"12345", LANG_OTHER},
	    {"", LANG_OTHER},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum lang lang;
		double conf;
		const char *error;
		assert_int_equal(
		    lang_guess(cases[i].text, strlen(cases[i].text), &lang, &conf, &error), 0);
		if (lang != cases[i].want)
			fail_msg("\"%s\": %s, want %s", cases[i].text, lang_code(lang),
			         lang_code(cases[i].want));
		assert_true(conf >= 0.0 && conf <= 1.0);
		if (lang != LANG_OTHER)
			assert_true(conf > 0.6);
	}
	/* more evidence, more confidence */
	enum lang l1, l2;
	double c1, c2;
	const char *error;
	const char *s = "Merci",
	           *l = "Bonjour, merci pour votre réponse, je vais attendre la livraison";
	assert_int_equal(lang_guess(s, strlen(s), &l1, &c1, &error), 0);
	assert_int_equal(lang_guess(l, strlen(l), &l2, &c2, &error), 0);
	assert_int_equal(l2, LANG_FR);
	assert_true(c2 > c1);
}

static struct feat_ctx *ctx_new(void)
{
	size_t fl, el;
	char *fr = read_conf("conf/stopwords/fr.txt", &fl),
	     *en = read_conf("conf/stopwords/en.txt", &el);
	struct feat_ctx *ctx;
	const char *error;
	assert_int_equal(feat_ctx_new(fr, fl, en, el, &ctx, &error), 0);
	free(fr);
	free(en);
	return ctx;
}

static uint32_t bag_count(const struct feat_bag *bag, const char *feature)
{
	for (size_t i = 0; i < feat_bag_count(bag); i++) {
		const char *f;
		uint32_t c;
		feat_bag_get(bag, i, &f, &c);
		if (strcmp(f, feature) == 0)
			return c;
	}
	return 0;
}

static uint32_t term_count(const struct feat_bag *bag, const char *term)
{
	for (size_t i = 0; i < feat_bag_term_count(bag); i++) {
		const char *t;
		uint32_t c;
		feat_bag_term(bag, i, &t, &c);
		if (strcmp(t, term) == 0)
			return c;
	}
	return 0;
}

static void test_stop_words_and_stems(void **state)
{
	(void)state;
	struct feat_ctx *ctx = ctx_new();
	assert_true(feat_is_stopword(ctx, "les", 3));
	assert_true(feat_is_stopword(ctx, "etre", 4)); /* listed as "etre", matched normalised */
	assert_true(feat_is_stopword(ctx, "don't", 5));
	assert_false(feat_is_stopword(ctx, "facture", 7));
	const char *body = "Bonjour, je demande le remboursement des remboursements. Facturé deux "
	                   "fois, la facture est fausse.";
	struct feat_bag *bag;
	const char *error;
	assert_int_equal(
	    feat_extract(ctx, "Remboursement facture", 21, body, strlen(body), 0, &bag, &error), 0);
	assert_int_equal(feat_bag_lang(bag), LANG_FR);
	/* "remboursements" and "remboursement" meet, "facturé" and "facture" too */
	assert_int_equal(bag_count(bag, "rembours"), 2);
	assert_int_equal(bag_count(bag, "factur"), 2);
	assert_int_equal(bag_count(bag, "s:rembours"), 1);
	assert_int_equal(bag_count(bag, "s:factur"), 1);
	assert_int_equal(bag_count(bag, "le"), 0); /* stop words gone */
	assert_int_equal(bag_count(bag, "bonjour"), 0);
	/* search terms merge subject and body, without prefix */
	assert_int_equal(term_count(bag, "rembours"), 3);
	assert_int_equal(term_count(bag, "factur"), 3);
	feat_bag_free(&bag);

	const char *en =
	    "Hello, I was charged twice for invoice INV-001 ($12.50). Please refund the charges.";
	assert_int_equal(feat_extract(ctx, NULL, 0, en, strlen(en), 0, &bag, &error), 0);
	assert_int_equal(feat_bag_lang(bag), LANG_EN);
	assert_int_equal(bag_count(bag, "charg"), 2);
	assert_int_equal(bag_count(bag, "__invoice__"), 1);
	assert_int_equal(bag_count(bag, "__amount__"), 1);
	assert_int_equal(bag_count(bag, "refund"), 1);
	assert_int_equal(term_count(bag, "__amount__"), 0);
	feat_bag_free(&bag);

	/* raw mode for spam: no stems, stop words kept */
	assert_int_equal(feat_extract(ctx, NULL, 0, en, strlen(en),
	                              FEAT_NO_STEM | FEAT_KEEP_STOPWORDS, &bag, &error),
	                 0);
	assert_int_equal(bag_count(bag, "charges"), 1);
	assert_int_equal(bag_count(bag, "the"), 1);
	feat_bag_free(&bag);
	feat_ctx_free(&ctx);
	feat_ctx_free(&ctx);
}

/* Features only: the same classifier features as the full extraction, but
 * no search terms and no language guess when nothing is stemmed. */
static void test_features_only(void **state)
{
	(void)state;
	struct feat_ctx *ctx = ctx_new();
	const char *headers = "From: Shop <deals@shop.example>\r\nSubject: Your invoice is ready\r\n";
	const char *body = "Hello, your order 12345 of $12.50 is ready: https://shop.example/x. "
	                   "Thank you for your order.";
	const unsigned spam = FEAT_NO_STEM | FEAT_KEEP_STOPWORDS;
	struct feat_bag *full, *lean;
	const char *error;
	assert_int_equal(feat_extract_mail(ctx, headers, strlen(headers), body, strlen(body), spam,
	                                   &full, &error),
	                 0);
	assert_int_equal(feat_extract_mail(ctx, headers, strlen(headers), body, strlen(body),
	                                   spam | FEAT_FEATURES_ONLY, &lean, &error),
	                 0);
	assert_int_equal(feat_bag_lang(full), LANG_EN);
	assert_int_equal(feat_bag_lang(lean), LANG_OTHER);
	assert_true(feat_bag_term_count(full) > 0);
	assert_int_equal(feat_bag_term_count(lean), 0);
	assert_int_equal(feat_bag_count(lean), feat_bag_count(full));
	for (size_t i = 0; i < feat_bag_count(full); i++) {
		const char *f;
		uint32_t c;
		feat_bag_get(full, i, &f, &c);
		assert_int_equal(bag_count(lean, f), c);
	}
	assert_string_equal(feat_bag_surface(lean, "order"), "order");
	feat_bag_free(&lean);

	/* With stemming the language is still guessed (the stemmer needs it). */
	assert_int_equal(
	    feat_extract(ctx, NULL, 0, body, strlen(body), FEAT_FEATURES_ONLY, &lean, &error), 0);
	assert_int_equal(feat_bag_lang(lean), LANG_EN);
	assert_int_equal(bag_count(lean, "order"), 2);
	assert_int_equal(feat_bag_term_count(lean), 0);
	feat_bag_free(&lean);

	/* Word pairs of the body, class tokens included; none in the subject
	 * nor across the subject / body boundary. */
	assert_int_equal(feat_extract(ctx, "Your invoice", 12, body, strlen(body),
	                              spam | FEAT_FEATURES_ONLY | FEAT_BIGRAMS, &lean, &error),
	                 0);
	assert_int_equal(bag_count(lean, "2:thank+you"), 1);
	assert_int_equal(bag_count(lean, "2:your+order"), 2);
	assert_int_equal(bag_count(lean, "2:order+__order__"), 1);
	assert_int_equal(bag_count(lean, "2:your+invoice"), 0);
	assert_int_equal(bag_count(lean, "2:invoice+hello"), 0);
	assert_int_equal(bag_count(lean, "thank"), 1);
	feat_bag_free(&lean);

	/* Pairs of stems too, when the words are stemmed. */
	const char *fr = "Ma commande 12345 est arrivée abîmée, les commandes suivantes aussi.";
	assert_int_equal(feat_extract(ctx, NULL, 0, fr, strlen(fr), FEAT_FEATURES_ONLY | FEAT_BIGRAMS,
	                              &lean, &error),
	                 0);
	assert_int_equal(bag_count(lean, "2:command+__order__"), 1);
	assert_int_equal(bag_count(lean, "2:arrive+abime"), 1);
	feat_bag_free(&lean);
	feat_bag_free(&full);
	feat_ctx_free(&ctx);
}

static void test_header_features(void **state)
{
	(void)state;
	struct feat_ctx *ctx = ctx_new();
	const char *headers =
	    "Received: from mx.spam-deals.biz (mx.spam-deals.biz [203.0.113.5])\r\n"
	    "\tby mail.example.com with ESMTP\r\n"
	    "From: \"Cheap Meds\" <promo@Spam-Deals.biz>\r\n"
	    "Subject: Buy cheap meds now\r\n"
	    "Message-ID: <abc.123@spam-deals.biz>\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "X-Mailer: MassMailer 5.0\r\n";
	const char *body = "Click here to order your pills https://pills.example.net/buy";
	struct feat_bag *bag;
	const char *error;
	assert_int_equal(
	    feat_extract_mail(ctx, headers, strlen(headers), body, strlen(body), 0, &bag, &error),
	    0);
	assert_int_equal(bag_count(bag, "h:from:@spam-deals.biz"), 1);
	assert_int_equal(bag_count(bag, "h:from:cheap"), 1);
	assert_int_equal(bag_count(bag, "h:rcvd:mx.spam-deals.biz"), 2);
	assert_int_equal(bag_count(bag, "h:rcvd:mail.example.com"), 1); /* folded line */
	assert_int_equal(bag_count(bag, "h:rcvd:ip:203.0.113"), 1);
	assert_int_equal(bag_count(bag, "h:mid:@spam-deals.biz"), 1);
	assert_int_equal(bag_count(bag, "h:ct:html"), 1);
	assert_int_equal(bag_count(bag, "h:xm:massmailer"), 1);
	assert_int_equal(bag_count(bag, "h:n:x-mailer"), 1);
	assert_int_equal(bag_count(bag, "s:cheap"), 1);
	assert_int_equal(bag_count(bag, "click"), 1);
	assert_int_equal(bag_count(bag, "u:pills.example.net"), 1);
	/* header words are not search terms */
	assert_int_equal(term_count(bag, "massmailer"), 0);
	assert_int_equal(term_count(bag, "click"), 1);
	feat_bag_free(&bag);
	feat_ctx_free(&ctx);
}

static void test_feature_caps(void **state)
{
	(void)state;
	struct feat_ctx *ctx = ctx_new();
	size_t len = (TOK_MAX_TOKENS + 50) * 6;
	char *body = malloc(len + 1);
	for (size_t i = 0; i < len; i += 6)
		memcpy(body + i,
		       "mot"
		       "xy ",
		       6);
	body[len] = '\0';
	struct feat_bag *bag;
	const char *error;
	assert_int_equal(feat_extract(ctx, NULL, 0, body, len, FEAT_NO_STEM, &bag, &error), 0);
	assert_true(feat_bag_truncated(bag));
	assert_int_equal(bag_count(bag, "motxy"), TOK_MAX_TOKENS);
	feat_bag_free(&bag);
	free(body);
	/* a hand-built bag refuses empty and oversized features */
	bag = feat_bag_new();
	char big[FEAT_MAX_LEN + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feat_bag_add(bag, big, 1, &error), -1);
	assert_int_equal(feat_bag_add(bag, "", 1, &error), -1);
	assert_int_equal(feat_bag_add(bag, "ok", 2, &error), 0);
	assert_int_equal(feat_bag_count(bag), 1);
	feat_bag_free(&bag);
	feat_ctx_free(&ctx);
}

static void assert_bags_equal(const struct feat_bag *a, const struct feat_bag *b)
{
	assert_int_equal(feat_bag_lang(a), feat_bag_lang(b));
	assert_true(feat_bag_lang_confidence(a) == feat_bag_lang_confidence(b));
	assert_int_equal(feat_bag_truncated(a), feat_bag_truncated(b));
	assert_int_equal(feat_bag_count(a), feat_bag_count(b));
	for (size_t i = 0; i < feat_bag_count(a); i++) {
		const char *fa, *fb;
		uint32_t ca, cb;
		feat_bag_get(a, i, &fa, &ca);
		feat_bag_get(b, i, &fb, &cb);
		assert_string_equal(fa, fb);
		assert_int_equal(ca, cb);
		const char *sa = feat_bag_surface(a, fa), *sb = feat_bag_surface(b, fb);
		assert_true((sa == NULL) == (sb == NULL));
		if (sa != NULL)
			assert_string_equal(sa, sb);
	}
	assert_int_equal(feat_bag_term_count(a), feat_bag_term_count(b));
	for (size_t i = 0; i < feat_bag_term_count(a); i++) {
		const char *ta, *tb;
		uint32_t ca, cb;
		feat_bag_term(a, i, &ta, &ca);
		feat_bag_term(b, i, &tb, &cb);
		assert_string_equal(ta, tb);
		assert_int_equal(ca, cb);
	}
}

/* A context remembers stems, the last body and the last language guess:
 * whatever came before, a call gives what a fresh context gives. */
static void test_context_reuse(void **state)
{
	(void)state;
	/* more distinct words than the stem cache holds */
	char *many = malloc(6000 * 5 + 1);
	size_t off = 0;
	for (unsigned i = 0; i < 6000; i++) {
		many[off++] = (char)('a' + i % 26);
		many[off++] = (char)('a' + i / 26 % 26);
		many[off++] = (char)('a' + i / 676 % 26);
		many[off++] = 's';
		many[off++] = ' ';
	}
	many[off] = '\0';
	/* "abonnements", "cancelled", "happiness": other stems in the other
	 * language */
	const char *fr = "Bonjour, les commandes et les abonnements sont cancelled, merci de "
	                 "rembourser la happiness.";
	const char *en = "Hello, the orders and abonnements are cancelled, please refund the "
	                 "happiness and the commandes.";
	char mutable[128];
	snprintf(mutable, sizeof(mutable), "%s", fr);
	static const char *const headers = "Subject: Facture\nFrom: a@example.com\n";
	const struct {
		const char *subject, *body;
		unsigned flags;
		bool mail;
	} calls[] = {
	    {"Commande", fr, 0, false},
	    {"Commande", fr, FEAT_NO_STEM | FEAT_KEEP_STOPWORDS, false},
	    {"Order", en, 0, false},
	    {"Commande", en, 0, false}, /* same body, another subject */
	    {NULL, fr, 0, true},        /* headers give the subject */
	    {"Commande", fr, 0, false},
	    {NULL, many, 0, false},
	    {"Order", en, 0, false},
	    {"Commande", mutable, 0, false},
	    {"Commande", mutable, 0, false}, /* the same buffer, changed below */
	    {"", "", 0, false},
	    {"Commande", fr, 0, false},
	};
	struct feat_ctx *shared = ctx_new();
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (i == 9)
			memcpy(mutable, "Hello", 5);
		struct feat_ctx *fresh = ctx_new();
		struct feat_bag *a, *b;
		const char *error;
		size_t blen = strlen(calls[i].body);
		if (calls[i].mail) {
			assert_int_equal(feat_extract_mail(shared, headers, strlen(headers),
			                                   calls[i].body, blen, calls[i].flags, &a,
			                                   &error),
			                 0);
			assert_int_equal(feat_extract_mail(fresh, headers, strlen(headers),
			                                   calls[i].body, blen, calls[i].flags, &b,
			                                   &error),
			                 0);
		} else {
			const char *subj = calls[i].subject;
			size_t slen = subj != NULL ? strlen(subj) : 0;
			assert_int_equal(feat_extract(shared, subj, slen, calls[i].body, blen,
			                              calls[i].flags, &a, &error),
			                 0);
			assert_int_equal(feat_extract(fresh, subj, slen, calls[i].body, blen,
			                              calls[i].flags, &b, &error),
			                 0);
		}
		assert_bags_equal(a, b);
		feat_bag_free(&a);
		feat_bag_free(&b);
		feat_ctx_free(&fresh);
	}
	feat_ctx_free(&shared);
	free(many);
}

/* Golden files: tests/fixtures/nlp/golden/NAME.mail (headers, empty line,
 * body) -> NAME.features ("lang" line, then "feature<TAB>count" sorted).
 * TRIAGED_UPDATE_GOLDEN=1 rewrites them; review the diff before committing. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_golden(void **state)
{
	(void)state;
	static const char *const names[] = {"billing-fr", "tech-en"};
	struct feat_ctx *ctx = ctx_new();
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		char rel[256];
		size_t len;
		snprintf(rel, sizeof(rel), "tests/fixtures/nlp/golden/%s.mail", names[k]);
		char *mail = read_conf(rel, &len);
		char *sep = strstr(mail, "\n\n");
		assert_non_null(sep);
		struct feat_bag *bag;
		const char *error;
		assert_int_equal(feat_extract_mail(ctx, mail, (size_t)(sep - mail), sep + 2,
		                                   len - (size_t)(sep + 2 - mail), 0, &bag, &error),
		                 0);
		size_t n = feat_bag_count(bag);
		char **lines = calloc(n + 1, sizeof(*lines));
		for (size_t i = 0; i < n; i++) {
			const char *f;
			uint32_t c;
			feat_bag_get(bag, i, &f, &c);
			lines[i] = malloc(strlen(f) + 16);
			snprintf(lines[i], strlen(f) + 16, "%s\t%u", f, c);
		}
		qsort(lines, n, sizeof(*lines), cmp_str);
		char *got = malloc(64 + n * (FEAT_MAX_LEN + 16));
		size_t off = (size_t)snprintf(got, 64, "lang\t%s\n", lang_code(feat_bag_lang(bag)));
		for (size_t i = 0; i < n; i++) {
			off += (size_t)sprintf(got + off, "%s\n", lines[i]);
			free(lines[i]);
		}
		free(lines);
		snprintf(rel, sizeof(rel), "%s/tests/fixtures/nlp/golden/%s.features", SOURCE_DIR,
		         names[k]);
		if (getenv("TRIAGED_UPDATE_GOLDEN") != NULL) {
			FILE *f = fopen(rel, "w");
			assert_non_null(f);
			fputs(got, f);
			fclose(f);
		}
		snprintf(rel, sizeof(rel), "tests/fixtures/nlp/golden/%s.features", names[k]);
		char *want = read_conf(rel, &len);
		if (strcmp(got, want) != 0)
			fail_msg("%s: features differ from the golden file; got:\n%s", names[k],
			         got);
		free(want);
		free(got);
		free(mail);
		feat_bag_free(&bag);
	}
	feat_ctx_free(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokenise_table),
	    cmocka_unit_test(test_hosts),
	    cmocka_unit_test(test_token_cap),
	    cmocka_unit_test(test_context_at_edges),
	    cmocka_unit_test(test_language),
	    cmocka_unit_test(test_stop_words_and_stems),
	    cmocka_unit_test(test_header_features),
	    cmocka_unit_test(test_features_only),
	    cmocka_unit_test(test_feature_caps),
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_context_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
