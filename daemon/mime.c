/* Mail parser: headers, MIME tree, transfer encodings, charsets, quoted
 * history. Written by hand rather than with libetpan's mailmime_parse(),
 * which recurses once per multipart level and per nested comment: here the
 * tree is walked with an explicit stack, every scan is linear and bounded by
 * struct mime_limits, and broken input degrades into warnings. */
#include "mime.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "html.h"
#include "parse.h"
#include "strbuf.h"
#include "xalloc.h"

#define MIME_MAX_WARNINGS 32
#define MIME_MAX_ADDRESSES 1000   /* per address header */
#define MIME_MAX_ADDRESS_LEN 320
#define MIME_MAX_MSGID_LEN 998
#define MIME_MAX_REFERENCES 100   /* the first (thread root) and the latest 99 */
#define MIME_MAX_PARAMS 64
#define MIME_MAX_RFC2231_SECTIONS 100
#define MIME_MAX_BOUNDARY 200
#define MIME_MAX_CHARSET_NAME 40
#define MIME_MAX_FILENAME 255

void mime_limits_default(struct mime_limits *lim)
{
	lim->max_mail_bytes = 50u << 20;
	lim->max_headers = 1000;
	lim->max_header_bytes = 256u << 10;
	lim->max_depth = 32;
	lim->max_parts = 1000;
	lim->max_text_bytes = 1u << 20;
	lim->max_attachment_bytes = 25u << 20;
	lim->max_attachments = 200;
	lim->no_text_split = false;
	lim->text_only = false;
}

/* ------------------------------------------------------------------ */
/* UTF-8 */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return c == 0 ? 0 : 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && s[1] >= 0xA0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0;
		if (c == 0xF4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

/* True when the 8 bytes at p are all in 0x01..0x7F (ASCII without NUL),
 * which are single valid sequences: mail text is mostly that. */
static inline bool ascii8_no_nul(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	/* A byte >= 0x80 sets its top bit in w; a zero byte (and no byte above
	 * it) borrows in the subtraction and sets it there. */
	return ((w | (w - UINT64_C(0x0101010101010101))) & UINT64_C(0x8080808080808080)) == 0;
}

bool mime_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		if (len - i >= 8 && ascii8_no_nul(p + i)) {
			i += 8;
			continue;
		}
		if (p[i] >= 0x20 && p[i] < 0x80) {
			i++;
			continue;
		}
		size_t l = utf8_seq_len(p + i, len - i);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

static const char utf8_replacement[] = "\xEF\xBF\xBD";

/* Appends s to sb, invalid bytes and NUL replaced by U+FFFD. */
static void utf8_append_sanitized(struct strbuf *sb, const char *s, size_t len, bool *replaced)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	while (i < len) {
		if (len - i >= 8 && ascii8_no_nul(p + i)) {
			i += 8;
			continue;
		}
		size_t l = utf8_seq_len(p + i, len - i);
		if (l > 0) {
			i += l;
			continue;
		}
		strbuf_append(sb, s + run, i - run);
		strbuf_append(sb, utf8_replacement, 3);
		*replaced = true;
		i++;
		run = i;
	}
	strbuf_append(sb, s + run, i - run);
}

/* Cuts len back so that s[0..len) does not end in a partial sequence. */
static size_t utf8_cut(const char *s, size_t len)
{
	size_t k = len;
	while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80 && len - k < 3)
		k--;
	if (k == 0)
		return len;
	unsigned char lead = (unsigned char)s[k - 1];
	if (lead < 0xC0)
		return len;
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
	return len - (k - 1) >= need ? len : k - 1;
}

/* ------------------------------------------------------------------ */
/* Charsets */

enum charset_kind {
	CHARSET_UNDECLARED, /* try UTF-8, else windows-1252 */
	CHARSET_UTF8,
	CHARSET_ICONV,
	CHARSET_UNKNOWN,
};

struct charset_alias {
	const char *alias;
	const char *name;
};

/* Names seen in the wild mapped to what glibc knows; Latin-1 is read as its
 * superset windows-1252, as browsers do, since senders mean that. */
static const struct charset_alias charset_aliases[] = {
	{"latin1", "WINDOWS-1252"}, {"latin-1", "WINDOWS-1252"},
	{"iso-8859-1", "WINDOWS-1252"}, {"iso8859-1", "WINDOWS-1252"},
	{"iso_8859-1", "WINDOWS-1252"}, {"iso88591", "WINDOWS-1252"},
	{"l1", "WINDOWS-1252"}, {"cp819", "WINDOWS-1252"},
	{"cp1252", "WINDOWS-1252"}, {"windows-1252", "WINDOWS-1252"},
	{"win-1252", "WINDOWS-1252"}, {"windows1252", "WINDOWS-1252"},
	{"x-cp1252", "WINDOWS-1252"}, {"ansi", "WINDOWS-1252"},
	{"iso-8859-15", "ISO-8859-15"}, {"iso8859-15", "ISO-8859-15"},
	{"iso_8859-15", "ISO-8859-15"}, {"latin9", "ISO-8859-15"},
	{"latin-9", "ISO-8859-15"},
	{"ks_c_5601-1987", "CP949"}, {"gb2312", "GB18030"}, {"gbk", "GB18030"},
	{"x-sjis", "SHIFT_JIS"}, {"shift-jis", "SHIFT_JIS"},
	{"x-mac-roman", "MACINTOSH"}, {"macintosh", "MACINTOSH"},
	{"x-user-defined", "WINDOWS-1252"},
};

/* Classifies a declared charset; *name_r gets the iconv name (buffer of
 * MIME_MAX_CHARSET_NAME + 1). Only plain names reach iconv_open(): no '/',
 * which glibc would read as a conversion suffix. */
static enum charset_kind charset_classify(const char *cs, char *name_r)
{
	if (!cs)
		return CHARSET_UNDECLARED;
	while (*cs == ' ' || *cs == '\t' || *cs == '"' || *cs == '\'')
		cs++;
	size_t n = 0;
	char lower[MIME_MAX_CHARSET_NAME + 1];
	for (; cs[n] && cs[n] != '"' && cs[n] != '\'' && cs[n] != ' ' && cs[n] != '*'; n++) {
		if (n >= MIME_MAX_CHARSET_NAME)
			return CHARSET_UNKNOWN;
		unsigned char c = (unsigned char)cs[n];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':')
			return CHARSET_UNKNOWN;
		lower[n] = (char)tolower(c);
	}
	lower[n] = '\0';
	if (n == 0)
		return CHARSET_UNDECLARED;
	if (strcmp(lower, "us-ascii") == 0 || strcmp(lower, "ascii") == 0 ||
	    strcmp(lower, "ansi_x3.4-1968") == 0 || strcmp(lower, "unknown-8bit") == 0 ||
	    strcmp(lower, "x-unknown") == 0 || strcmp(lower, "default") == 0)
		return CHARSET_UNDECLARED; /* 8-bit under these labels: mislabelled */
	if (strcmp(lower, "utf-8") == 0 || strcmp(lower, "utf8") == 0 || strcmp(lower, "x-utf8") == 0 ||
	    strcmp(lower, "unicode-1-1-utf-8") == 0)
		return CHARSET_UTF8;
	for (size_t i = 0; i < ARRAY_SIZE(charset_aliases); i++) {
		if (strcmp(lower, charset_aliases[i].alias) == 0) {
			memcpy(name_r, charset_aliases[i].name, strlen(charset_aliases[i].name) + 1);
			return CHARSET_ICONV;
		}
	}
	memcpy(name_r, lower, n + 1);
	return CHARSET_ICONV;
}

/* Converts with iconv; an invalid byte becomes U+FFFD and conversion goes on. */
static void iconv_append(iconv_t cd, const char *in, size_t len, struct strbuf *sb, bool *replaced)
{
	char buf[4096];
	char *inp = (char *)in;
	size_t inleft = len;
	while (inleft > 0) {
		char *outp = buf;
		size_t outleft = sizeof(buf);
		size_t r = iconv(cd, &inp, &inleft, &outp, &outleft);
		int err = errno;
		utf8_append_sanitized(sb, buf, (size_t)(outp - buf), replaced);
		if (r != (size_t)-1)
			break;
		if (err == E2BIG)
			continue;
		/* EILSEQ or EINVAL (truncated sequence at the end): skip one byte. */
		strbuf_append(sb, utf8_replacement, 3);
		*replaced = true;
		inp++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
		if (sb->truncated)
			break;
	}
	char *outp = buf;
	size_t outleft = sizeof(buf);
	iconv(cd, NULL, NULL, &outp, &outleft); /* flush shift states */
	utf8_append_sanitized(sb, buf, (size_t)(outp - buf), replaced);
}

/* windows-1252 0x80..0x9F (0: unassigned, which iconv refuses too); the
 * rest is Latin-1. Done here and not by iconv: it is the most common charset
 * after UTF-8, and iconv_open() per part costs more than the conversion. */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

static void cp1252_append(const char *in, size_t len, struct strbuf *sb, bool *replaced)
{
	char buf[4096];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (n + 3 > sizeof(buf)) {
			utf8_append_sanitized(sb, buf, n, replaced);
			n = 0;
			if (sb->truncated)
				return;
		}
		/* ASCII without NUL is itself, eight bytes at a time */
		if (len - i >= 8 && n + 8 + 3 <= sizeof(buf) &&
		    ascii8_no_nul((const unsigned char *)in + i)) {
			memcpy(buf + n, in + i, 8);
			n += 8;
			i += 7;
			continue;
		}
		unsigned char c = (unsigned char)in[i];
		unsigned cp = c < 0x80 || c >= 0xA0 ? c : cp1252_c1[c - 0x80];
		if (cp < 0x80 && c < 0x80) {
			buf[n++] = (char)cp;
		} else if (cp == 0) {
			utf8_append_sanitized(sb, buf, n, replaced);
			n = 0;
			strbuf_append(sb, utf8_replacement, 3);
			*replaced = true;
		} else if (cp < 0x800) {
			buf[n++] = (char)(0xC0 | (cp >> 6));
			buf[n++] = (char)(0x80 | (cp & 0x3F));
		} else {
			buf[n++] = (char)(0xE0 | (cp >> 12));
			buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			buf[n++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	utf8_append_sanitized(sb, buf, n, replaced);
}

/* The last converters a thread used, kept open: iconv_open() loads glibc's
 * conversion module and iconv_close() may unload it, once per MIME part
 * otherwise. Freed with the thread. */
#define CONVERTERS_KEPT 4

struct converter_cache {
	char name[CONVERTERS_KEPT][MIME_MAX_CHARSET_NAME + 1];
	iconv_t cd[CONVERTERS_KEPT];
	unsigned next;
};

static pthread_key_t converter_key;
static pthread_once_t converter_once = PTHREAD_ONCE_INIT;

static void converter_cache_free(void *p)
{
	struct converter_cache *c = p;
	for (unsigned i = 0; i < CONVERTERS_KEPT; i++)
		if (c->name[i][0] != '\0')
			iconv_close(c->cd[i]);
	free(c);
}

static void converter_key_create(void)
{
	if (pthread_key_create(&converter_key, converter_cache_free) != 0)
		abort();
}

/* A converter from charset name to UTF-8 in its initial state, owned by the
 * thread's cache; (iconv_t)-1 when iconv does not know the name. */
static iconv_t converter_for(const char *name)
{
	pthread_once(&converter_once, converter_key_create);
	struct converter_cache *c = pthread_getspecific(converter_key);
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		if (pthread_setspecific(converter_key, c) != 0)
			abort(); /* out of memory, as xcalloc would */
	}
	for (unsigned i = 0; i < CONVERTERS_KEPT; i++) {
		if (strcmp(c->name[i], name) == 0) {
			iconv(c->cd[i], NULL, NULL, NULL, NULL); /* back to the initial state */
			return c->cd[i];
		}
	}
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return cd;
	unsigned slot = c->next++ % CONVERTERS_KEPT;
	if (c->name[slot][0] != '\0')
		iconv_close(c->cd[slot]);
	snprintf(c->name[slot], sizeof(c->name[slot]), "%s", name);
	c->cd[slot] = cd;
	return cd;
}

/* Appends len bytes in charset to sb as UTF-8. *unknown_r is set when the
 * charset could not be used (then it was guessed). */
static void to_utf8_append(const char *in, size_t len, const char *charset, struct strbuf *sb,
			   bool *replaced, bool *unknown_r)
{
	char name[MIME_MAX_CHARSET_NAME + 1];
	enum charset_kind kind = charset_classify(charset, name);
	if (kind == CHARSET_ICONV && strcmp(name, "WINDOWS-1252") == 0) {
		cp1252_append(in, len, sb, replaced);
		return;
	}
	if (kind == CHARSET_ICONV) {
		iconv_t cd = converter_for(name);
		if (cd != (iconv_t)-1) {
			iconv_append(cd, in, len, sb, replaced);
			return;
		}
		kind = CHARSET_UNKNOWN;
	}
	if (kind == CHARSET_UNKNOWN)
		*unknown_r = true;
	if (kind == CHARSET_UTF8 || mime_utf8_valid(in, len)) {
		utf8_append_sanitized(sb, in, len, replaced);
		return;
	}
	cp1252_append(in, len, sb, replaced);
}

char *mime_to_utf8(const char *bytes, size_t len, const char *charset, bool *replaced_r)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	bool replaced = false, unknown = false;
	to_utf8_append(bytes, len, charset, &sb, &replaced, &unknown);
	if (replaced_r)
		*replaced_r = replaced;
	return strbuf_steal(&sb);
}

/* ------------------------------------------------------------------ */
/* Transfer encodings: tolerant decoders, linear, no failure. */

struct sink {
	struct strbuf *sb; /* NULL: count only */
	size_t limit;      /* bytes stored at most */
	size_t total;      /* bytes decoded */
	char buf[4096];
	size_t n;
};

static void sink_flush(struct sink *k)
{
	if (k->sb && k->n > 0 && k->sb->len < k->limit) {
		size_t room = k->limit - k->sb->len;
		strbuf_append(k->sb, k->buf, k->n < room ? k->n : room);
	}
	k->n = 0;
}

static inline void sink_put(struct sink *k, char c)
{
	if (k->n == sizeof(k->buf))
		sink_flush(k);
	k->buf[k->n++] = c;
	k->total++;
}

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62; /* '-' and '_': the URL-safe alphabet some senders use */
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Skips what is not base64 (line breaks, garbage); '=' ends the data, as
 * RFC 2045 6.8 says (what follows padding is junk, not more data). */
static void base64_decode(const char *s, size_t len, struct sink *k)
{
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=')
			break;
		int v = base64_value(c);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sink_put(k, (char)((acc >> bits) & 0xFF));
		}
	}
	sink_flush(k);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Quoted-printable (RFC 2045 6.7); q_header: RFC 2047 "Q" ('_' is a space).
 * A broken "=" sequence is kept as it is; trailing blanks before a line
 * break are dropped as the RFC asks. */
static void qp_decode(const char *s, size_t len, struct sink *k, bool q_header)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			size_t j = i + 1;
			while (!q_header && j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (!q_header && j < len && (s[j] == '\n' || s[j] == '\r')) {
				/* soft line break */
				if (s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
					j++;
				i = j + 1;
				continue;
			}
			if (!q_header && j == len) {
				i = len; /* soft break at the very end */
				continue;
			}
			if (i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
			    hexval((unsigned char)s[i + 2]) >= 0) {
				sink_put(k, (char)(hexval((unsigned char)s[i + 1]) * 16 +
						   hexval((unsigned char)s[i + 2])));
				i += 3;
				continue;
			}
			sink_put(k, '=');
			i++;
			continue;
		}
		if (q_header && c == '_') {
			sink_put(k, ' ');
			i++;
			continue;
		}
		if (!q_header && (c == ' ' || c == '\t')) {
			size_t j = i;
			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j == len || s[j] == '\n' || s[j] == '\r') {
				i = j; /* trailing blanks are transport padding */
				continue;
			}
			for (; i < j; i++)
				sink_put(k, s[i]);
			continue;
		}
		if (!q_header && c == '\r' && i + 1 < len && s[i + 1] == '\n') {
			i++;
			continue; /* CRLF -> LF */
		}
		sink_put(k, (char)c);
		i++;
	}
	sink_flush(k);
}

/* ------------------------------------------------------------------ */
/* RFC 2047 */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct encoded_word {
	const char *charset; /* points into the input */
	size_t charset_len;
	char encoding;       /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t total_len;    /* from "=?" to after "?=" */
};

/* Recognises "=?charset?B|Q?text?=" at s. */
static bool encoded_word_at(const char *s, struct encoded_word *w)
{
	if (s[0] != '=' || s[1] != '?')
		return false;
	const char *cs = s + 2;
	const char *q1 = cs;
	while (*q1 && *q1 != '?' && !is_wsp(*q1) && q1 - cs <= MIME_MAX_CHARSET_NAME + 20)
		q1++;
	if (*q1 != '?' || q1 == cs)
		return false;
	char enc = (char)toupper((unsigned char)q1[1]);
	if ((enc != 'B' && enc != 'Q') || q1[2] != '?')
		return false;
	const char *text = q1 + 3;
	const char *q2 = text;
	while (*q2 && *q2 != '?' && !(enc == 'B' && is_wsp(*q2)))
		q2++;
	if (q2[0] != '?' || q2[1] != '=')
		return false;
	w->charset = cs;
	w->charset_len = (size_t)(q1 - cs);
	/* RFC 2231 language suffix: "utf-8*fr" */
	const char *star = memchr(cs, '*', w->charset_len);
	if (star)
		w->charset_len = (size_t)(star - cs);
	w->encoding = enc;
	w->text = text;
	w->text_len = (size_t)(q2 - text);
	w->total_len = (size_t)(q2 + 2 - s);
	return true;
}

/* Appends bytes in charset to sb, then replaces control characters. */
static void decoded_append(struct strbuf *sb, const char *bytes, size_t len, const char *charset)
{
	bool replaced = false, unknown = false;
	size_t start = sb->len;
	to_utf8_append(bytes, len, charset, sb, &replaced, &unknown);
	for (size_t i = start; i < sb->len; i++)
		if ((unsigned char)sb->data[i] < 0x20 || sb->data[i] == 0x7F)
			sb->data[i] = ' ';
}

/* What mime_decode_words() gives, appended to out (no NUL counted). */
static void decode_words_append(struct strbuf *out, const char *s)
{
	/* Most values are ASCII without encoded words: what the general path
	 * gives for them is a copy with control characters made spaces. */
	size_t n = 0;
	while (s[n] != '\0' && (unsigned char)s[n] < 0x80 && !(s[n] == '=' && s[n + 1] == '?'))
		n++;
	if (s[n] == '\0') {
		size_t start = out->len;
		strbuf_append(out, s, n);
		for (size_t i = start; i < out->len; i++)
			if ((unsigned char)out->data[i] < 0x20 || out->data[i] == 0x7F)
				out->data[i] = ' ';
		return;
	}
	struct strbuf pending;
	strbuf_init(&pending, 0);
	char pending_cs[MIME_MAX_CHARSET_NAME + 21] = "";
	const char *plain = s; /* start of not yet emitted plain text */
	const char *p = s;
	bool last_was_word = false;
	const char *after_word = NULL;

	while (*p) {
		struct encoded_word w;
		const char *eq = strstr(p, "=?");
		if (!eq)
			break;
		if (!encoded_word_at(eq, &w)) {
			p = eq + 2;
			continue;
		}
		/* Whitespace between two encoded words is dropped (RFC 2047 6.2). */
		bool adjacent = last_was_word && after_word == plain;
		if (adjacent) {
			for (const char *c = plain; c < eq; c++)
				if (!is_wsp(*c))
					adjacent = false;
		}
		char cs[MIME_MAX_CHARSET_NAME + 21];
		size_t cl = w.charset_len < sizeof(cs) - 1 ? w.charset_len : sizeof(cs) - 1;
		memcpy(cs, w.charset, cl);
		cs[cl] = '\0';
		if (!adjacent || strcasecmp(cs, pending_cs) != 0) {
			/* Flush the pending run of words, then the plain text before this one. */
			if (pending.len > 0)
				decoded_append(out, pending.data, pending.len, pending_cs);
			strbuf_reset(&pending);
			if (!adjacent)
				decoded_append(out, plain, (size_t)(eq - plain), NULL);
			memcpy(pending_cs, cs, cl + 1);
		}
		/* Joined at byte level: a multibyte character may span two words. */
		struct sink k = {.sb = &pending, .limit = SIZE_MAX};
		if (w.encoding == 'B')
			base64_decode(w.text, w.text_len, &k);
		else
			qp_decode(w.text, w.text_len, &k, true);
		p = eq + w.total_len;
		plain = p;
		after_word = p;
		last_was_word = true;
	}
	if (pending.len > 0)
		decoded_append(out, pending.data, pending.len, pending_cs);
	decoded_append(out, plain, strlen(plain), NULL);
	strbuf_free(&pending);
}

char *mime_decode_words(const char *s)
{
	struct strbuf out;
	strbuf_init(&out, 0);
	decode_words_append(&out, s);
	return strbuf_steal(&out);
}

/* ------------------------------------------------------------------ */
/* Parse context, warnings */

/* What mime_parse() allocates: the message, and the buffer that holds the
 * names and values of its header fields (one allocation, not two per
 * field). */
struct message {
	struct mime_message pub;
	char *header_block;
};

static struct message *message_of(struct mime_message *msg)
{
	return (struct message *)((char *)msg - offsetof(struct message, pub));
}

struct hdr {
	const char *name;  /* both in the list's store */
	const char *value; /* unfolded, raw bytes (NUL replaced), not decoded */
	size_t name_off, value_off; /* in store, while it may move */
};

/* The names and values of a block sit in one buffer: a mail has dozens of
 * fields, and two allocations each cost more than their parsing. */
struct hdr_list {
	struct hdr *v;
	size_t n, cap;
	struct strbuf store;
};

struct parse_ctx {
	const struct mime_limits *lim;
	struct mime_message *msg;
	size_t warnings_cap;
	size_t attachments_cap;
	struct strbuf text;      /* text/plain parts */
	struct strbuf html_text; /* text of the HTML parts, for HTML-only mail */
	/* The first HTML part (msg->html) while it is the only one, not yet in
	 * html_text: mail with a plain text part never reads its text. */
	const char *html_pending;
	size_t parts_seen;
	bool in_report_seen;
};

static void hdr_list_free(struct hdr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
	strbuf_free(&l->store);
}

static const char *hdr_get(const struct hdr_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

static void add_warning(struct parse_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(struct parse_ctx *ctx, const char *fmt, ...)
{
	struct mime_message *msg = ctx->msg;
	if (ctx->lim->text_only)
		return; /* nobody reads them: not even formatted */
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < msg->n_warnings; i++)
		if (strcmp(msg->warnings[i], buf) == 0)
			return;
	if (msg->n_warnings >= MIME_MAX_WARNINGS)
		return;
	msg->warnings = xgrow(msg->warnings, &ctx->warnings_cap, msg->n_warnings + 1, sizeof(char *));
	/* The warning may quote mail bytes (a charset name): keep it valid UTF-8. */
	msg->warnings[msg->n_warnings++] = mime_to_utf8(buf, strlen(buf), "utf-8", NULL);
}

/* ------------------------------------------------------------------ */
/* Header blocks */

static bool is_header_name_char(unsigned char c)
{
	return c > 32 && c < 127 && c != ':';
}

/* Reads the header block at the start of p[0..len): fields into *hdrs,
 * the offset of the body into *body_off_r. Scanning is linear and goes on
 * past the limits (to find the body), storing stops at them. */
static void parse_header_block(struct parse_ctx *ctx, const char *p, size_t len, struct hdr_list *hdrs,
			       size_t *body_off_r, bool top)
{
	const struct mime_limits *lim = ctx->lim;
	size_t i = 0, stored_bytes = 0;
	/* the current value is the end of the store */
	struct strbuf *store = &hdrs->store;
	bool have_current = false, storing = true, count_warned = false, bytes_warned = false;
	size_t body_off = len;

#define FINISH_CURRENT()                                                      \
	do {                                                                  \
		if (have_current) {                                           \
			/* NUL would cut C strings short: a space instead. */ \
			size_t z = hdrs->v[hdrs->n - 1].value_off;            \
			for (; z < store->len; z++)                           \
				if (store->data[z] == '\0')                   \
					store->data[z] = ' ';                 \
			strbuf_putc(store, '\0');                             \
			have_current = false;                                 \
		}                                                             \
	} while (0)

	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t line_end = nl ? (size_t)(nl - p) : len; /* excluding '\n' */
		size_t next = nl ? line_end + 1 : len;
		size_t content_end = line_end;
		if (content_end > i && p[content_end - 1] == '\r')
			content_end--;
		size_t line_len = content_end - i;
		const char *line = p + i;

		if (line_len == 0) {
			body_off = next;
			break;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (have_current && storing) {
				size_t room = lim->max_header_bytes > stored_bytes ? lim->max_header_bytes - stored_bytes : 0;
				size_t n = line_len < room ? line_len : room;
				strbuf_append(store, line, n);
				stored_bytes += n;
				if (n < line_len && !bytes_warned) {
					add_warning(ctx, "header block over %zu bytes: the rest ignored", lim->max_header_bytes);
					bytes_warned = true;
					storing = false;
				}
			}
			i = next;
			continue;
		}
		size_t colon = 0;
		while (colon < line_len && is_header_name_char((unsigned char)line[colon]))
			colon++;
		size_t name_len = colon;
		while (colon < line_len && (line[colon] == ' ' || line[colon] == '\t'))
			colon++;
		if (name_len == 0 || colon >= line_len || line[colon] != ':') {
			if (top && i == 0 && line_len >= 5 && memcmp(line, "From ", 5) == 0) {
				i = next; /* mbox separator */
				continue;
			}
			/* Not a header: the header block ended without its blank line. */
			if (i > 0 || !top)
				add_warning(ctx, "malformed header line: the body starts there");
			body_off = i;
			break;
		}
		FINISH_CURRENT();
		if (storing && hdrs->n >= lim->max_headers) {
			if (!count_warned)
				add_warning(ctx, "more than %zu header fields: the rest ignored", lim->max_headers);
			count_warned = true;
			storing = false;
		}
		if (storing && stored_bytes + name_len + 2 > lim->max_header_bytes) {
			if (!bytes_warned)
				add_warning(ctx, "header block over %zu bytes: the rest ignored", lim->max_header_bytes);
			bytes_warned = true;
			storing = false;
		}
		if (storing) {
			hdrs->v = xgrow(hdrs->v, &hdrs->cap, hdrs->n + 1, sizeof(struct hdr));
			struct hdr *f = &hdrs->v[hdrs->n++];
			f->name_off = store->len;
			strbuf_append(store, line, name_len);
			strbuf_putc(store, '\0');
			f->value_off = store->len;
			have_current = true;
			stored_bytes += name_len + 2;
			size_t vstart = colon + 1;
			size_t room = lim->max_header_bytes - stored_bytes;
			size_t n = line_len - vstart < room ? line_len - vstart : room;
			strbuf_append(store, line + vstart, n);
			stored_bytes += n;
			if (n < line_len - vstart) {
				if (!bytes_warned)
					add_warning(ctx, "header block over %zu bytes: the rest ignored",
						    lim->max_header_bytes);
				bytes_warned = true;
				storing = false;
			}
		}
		i = next;
	}
	FINISH_CURRENT();
#undef FINISH_CURRENT
	/* every field has its value now (FINISH_CURRENT): the store stays */
	for (size_t h = 0; h < hdrs->n; h++) {
		hdrs->v[h].name = store->data + hdrs->v[h].name_off;
		hdrs->v[h].value = store->data + hdrs->v[h].value_off;
	}
	*body_off_r = body_off;
}

/* A copy without leading and trailing white space. */
static char *trim_dup(const char *s, size_t n)
{
	while (n > 0 && is_wsp(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_wsp(s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* ------------------------------------------------------------------ */
/* Structured header values */

struct param {
	char *name;  /* lower-case */
	char *value; /* unquoted, raw */
};

struct content_field {
	char *type; /* lower-case "type/subtype" or the disposition type */
	struct param params[MIME_MAX_PARAMS];
	size_t n_params;
};

static void content_field_free(struct content_field *f)
{
	free(f->type);
	for (size_t i = 0; i < f->n_params; i++) {
		free(f->params[i].name);
		free(f->params[i].value);
	}
	memset(f, 0, sizeof(*f));
}

/* Skips a comment starting at '(' (nesting counted, no recursion). */
static const char *skip_comment(const char *p)
{
	int depth = 0;
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return p;
}

/* Parses "type/subtype; a=b; c=\"d\"" (Content-Type, Content-Disposition). */
static void parse_content_field(const char *v, struct content_field *f)
{
	memset(f, 0, sizeof(*f));
	const char *p = v;
	while (is_wsp(*p))
		p++;
	struct strbuf t;
	strbuf_init(&t, 256);
	while (*p && *p != ';') {
		if (*p == '(') {
			p = skip_comment(p);
			continue;
		}
		if (!is_wsp(*p) && *p != '"')
			strbuf_putc(&t, (char)tolower((unsigned char)*p));
		p++;
	}
	f->type = strbuf_steal(&t);
	while (*p == ';' && f->n_params < MIME_MAX_PARAMS) {
		p++;
		while (is_wsp(*p) || *p == ';')
			p++;
		const char *name = p;
		while (*p && *p != '=' && *p != ';' && !is_wsp(*p))
			p++;
		size_t name_len = (size_t)(p - name);
		while (is_wsp(*p))
			p++;
		if (*p != '=') {
			while (*p && *p != ';')
				p++;
			continue;
		}
		p++;
		while (is_wsp(*p))
			p++;
		struct strbuf val;
		strbuf_init(&val, 0);
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				strbuf_putc(&val, *p);
				p++;
			}
			if (*p == '"')
				p++;
			while (*p && *p != ';')
				p++;
		} else {
			const char *vs = p;
			while (*p && *p != ';')
				p++;
			const char *ve = p;
			while (ve > vs && is_wsp(ve[-1]))
				ve--;
			strbuf_append(&val, vs, (size_t)(ve - vs));
		}
		if (name_len == 0) {
			strbuf_free(&val);
			continue;
		}
		char *n = xstrndup(name, name_len);
		for (char *c = n; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		f->params[f->n_params].name = n;
		f->params[f->n_params].value = strbuf_steal(&val);
		f->n_params++;
	}
}

static const char *param_plain(const struct content_field *f, const char *name)
{
	for (size_t i = 0; i < f->n_params; i++)
		if (strcmp(f->params[i].name, name) == 0)
			return f->params[i].value;
	return NULL;
}

/* Percent-decodes an RFC 2231 extended value into sb. */
static void pct_decode(const char *s, struct strbuf *sb)
{
	for (; *s; s++) {
		if (*s == '%' && hexval((unsigned char)s[1]) >= 0 && hexval((unsigned char)s[2]) >= 0) {
			strbuf_putc(sb, (char)(hexval((unsigned char)s[1]) * 16 + hexval((unsigned char)s[2])));
			s += 2;
		} else {
			strbuf_putc(sb, *s);
		}
	}
}

/* A parameter value in UTF-8: RFC 2231 (name*, name*0*, name*1 ...) when
 * present, else the plain value with RFC 2047 words decoded (what Outlook
 * and Gmail send). NULL when absent. */
static char *param_get(const struct content_field *f, const char *name)
{
	size_t nl = strlen(name);
	const struct param *sections[MIME_MAX_RFC2231_SECTIONS] = {0};
	bool section_ext[MIME_MAX_RFC2231_SECTIONS] = {0};
	const struct param *single_ext = NULL;
	size_t max_section = 0;
	bool any = false;
	for (size_t i = 0; i < f->n_params; i++) {
		const char *pn = f->params[i].name;
		if (strncmp(pn, name, nl) != 0 || pn[nl] != '*')
			continue;
		const char *rest = pn + nl + 1;
		if (*rest == '\0') {
			single_ext = &f->params[i];
			continue;
		}
		char digits[4];
		size_t d = 0;
		while (rest[d] >= '0' && rest[d] <= '9' && d < 3) {
			digits[d] = rest[d];
			d++;
		}
		if (d == 0 || (rest[d] != '\0' && strcmp(rest + d, "*") != 0))
			continue;
		digits[d] = '\0';
		int64_t num;
		if (parse_int64(digits, 0, MIME_MAX_RFC2231_SECTIONS - 1, &num) < 0)
			continue;
		sections[num] = &f->params[i];
		section_ext[num] = rest[d] == '*';
		if ((size_t)num > max_section)
			max_section = (size_t)num;
		any = true;
	}
	if (!single_ext && !(any && sections[0])) {
		const char *plain = param_plain(f, name);
		if (!plain)
			return NULL;
		return mime_decode_words(plain);
	}
	struct strbuf bytes;
	strbuf_init(&bytes, 0);
	char charset[MIME_MAX_CHARSET_NAME + 1] = "";
	for (size_t s = 0; s <= (single_ext ? 0 : max_section); s++) {
		const struct param *pr = single_ext ? single_ext : sections[s];
		bool ext = single_ext ? true : section_ext[s];
		if (!pr)
			break; /* a gap ends the value */
		const char *v = pr->value;
		if (ext && s == 0) {
			/* charset'language'value */
			const char *q1 = strchr(v, '\'');
			const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
			if (q1 && q2) {
				size_t cl = (size_t)(q1 - v);
				if (cl <= MIME_MAX_CHARSET_NAME) {
					memcpy(charset, v, cl);
					charset[cl] = '\0';
				}
				v = q2 + 1;
			}
		}
		if (ext)
			pct_decode(v, &bytes);
		else
			strbuf_puts(&bytes, v);
	}
	struct strbuf out;
	strbuf_init(&out, 0);
	decoded_append(&out, strbuf_str(&bytes), bytes.len, charset[0] ? charset : NULL);
	strbuf_free(&bytes);
	return strbuf_steal(&out);
}

/* ------------------------------------------------------------------ */
/* Addresses, message ids, dates */

static char *lower_dup(const char *s, size_t n)
{
	char *r = xstrndup(s, n);
	for (char *c = r; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return r;
}

/* One mailbox [a, b): sets *addr_r (lower-cased, may be NULL) and *name_r. */
static void parse_mailbox(const char *a, const char *b, char **addr_r, char **name_r)
{
	*addr_r = NULL;
	*name_r = NULL;
	const char *lt = NULL;
	bool quoted = false;
	for (const char *c = a; c < b; c++) {
		if (*c == '\\' && c + 1 < b) {
			c++;
			continue;
		}
		if (*c == '"')
			quoted = !quoted;
		else if (!quoted && *c == '<') {
			lt = c;
			break;
		}
	}
	struct strbuf addr, name;
	strbuf_init(&addr, MIME_MAX_ADDRESS_LEN);
	strbuf_init(&name, 1024);
	if (lt) {
		const char *gt = memchr(lt, '>', (size_t)(b - lt));
		const char *ae = gt ? gt : b;
		const char *as = lt + 1;
		/* Obsolete source route "@a,@b:addr". */
		if (as < ae && *as == '@') {
			const char *colon = memchr(as, ':', (size_t)(ae - as));
			if (colon)
				as = colon + 1;
		}
		for (const char *c = as; c < ae; c++)
			if (!is_wsp(*c) && *c != '"')
				strbuf_putc(&addr, *c);
		/* The display name: unquote, unescape, drop comments. */
		for (const char *c = a; c < lt; c++) {
			if (*c == '\\' && c + 1 < lt) {
				strbuf_putc(&name, *++c);
				continue;
			}
			if (*c == '"')
				continue;
			strbuf_putc(&name, *c);
		}
	} else {
		/* addr-spec, maybe with a trailing "(Name)" comment. */
		for (const char *c = a; c < b; c++) {
			if (*c == '(') {
				int depth = 0;
				for (; c < b; c++) {
					if (*c == '(') {
						if (depth++ > 0)
							strbuf_putc(&name, *c);
					} else if (*c == ')') {
						if (--depth == 0)
							break;
						strbuf_putc(&name, *c);
					} else {
						strbuf_putc(&name, *c);
					}
				}
				continue;
			}
			if (!is_wsp(*c) && *c != '"')
				strbuf_putc(&addr, *c);
		}
	}
	if (addr.len > 0) {
		char *raw = lower_dup(strbuf_str(&addr), addr.len);
		*addr_r = mime_decode_words(raw); /* UTF-8 and no control characters */
		free(raw);
	}
	if (name.len > 0) {
		char *dec = mime_decode_words(strbuf_str(&name));
		char *t = trim_dup(dec, strlen(dec));
		free(dec);
		if (*t)
			*name_r = t;
		else
			free(t);
	}
	strbuf_free(&addr);
	strbuf_free(&name);
}

/* Parses an address list; returns the addresses (lower-cased) and the first
 * display name. Groups ("team: a@x, b@y;") are flattened. */
static void parse_address_list(struct parse_ctx *ctx, const char *v, char ***addrs_r, size_t *n_r,
			       char **first_name_r)
{
	char **addrs = NULL;
	size_t n = 0, cap = 0;
	char *first_name = NULL;
	bool first = true;
	const char *start = v;
	bool quoted = false, warned = false;
	int angle = 0, comment = 0;
	for (const char *c = v;; c++) {
		char ch = *c;
		bool sep = false;
		if (ch == '\0') {
			sep = true;
		} else if (ch == '\\' && c[1]) {
			c++;
			continue;
		} else if (comment > 0) {
			if (ch == '(')
				comment++;
			else if (ch == ')')
				comment--;
			continue;
		} else if (ch == '"') {
			quoted = !quoted;
		} else if (quoted) {
			continue;
		} else if (ch == '(') {
			comment++;
		} else if (ch == '<') {
			angle = 1;
		} else if (ch == '>') {
			angle = 0;
		} else if (angle == 0 && (ch == ',' || ch == ';')) {
			sep = true;
		} else if (angle == 0 && ch == ':') {
			start = c + 1; /* group name */
			continue;
		}
		if (!sep)
			continue;
		char *addr, *name;
		parse_mailbox(start, c, &addr, &name);
		if (first && (addr || name)) {
			first_name = name;
			name = NULL;
			first = false;
		}
		free(name);
		if (addr) {
			if (n < MIME_MAX_ADDRESSES) {
				addrs = xgrow(addrs, &cap, n + 1, sizeof(char *));
				addrs[n++] = addr;
			} else {
				free(addr);
				if (!warned)
					add_warning(ctx, "more than %d addresses in one header: the rest ignored",
						    MIME_MAX_ADDRESSES);
				warned = true;
			}
		}
		if (ch == '\0')
			break;
		start = c + 1;
		quoted = false;
		angle = 0;
	}
	*addrs_r = addrs;
	*n_r = n;
	if (first_name_r)
		*first_name_r = first_name;
	else
		free(first_name);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Message ids "<a@b> <c@d>" without their brackets. Lenient: bare ids with
 * an '@' are taken when there are no brackets at all. */
static void parse_msgids(const char *v, char ***ids_r, size_t *n_r)
{
	char **ids = NULL;
	size_t n = 0, cap = 0;
	bool brackets = strchr(v, '<') != NULL;
	const char *p = v;
	while (*p) {
		const char *s, *e;
		if (brackets) {
			s = strchr(p, '<');
			if (!s)
				break;
			s++;
			e = s;
			while (*e && *e != '>' && *e != '<')
				e++;
			p = *e == '>' ? e + 1 : e;
		} else {
			while (*p && (is_wsp(*p) || *p == ','))
				p++;
			s = p;
			while (*p && !is_wsp(*p) && *p != ',')
				p++;
			e = p;
			if (!memchr(s, '@', (size_t)(e - s)))
				continue;
		}
		struct strbuf id;
		strbuf_init(&id, 0);
		for (const char *c = s; c < e; c++)
			if (!is_wsp(*c) && (unsigned char)*c >= 0x20)
				strbuf_putc(&id, *c);
		if (id.len == 0 || id.len > MIME_MAX_MSGID_LEN || !mime_utf8_valid(id.data, id.len)) {
			strbuf_free(&id);
			continue;
		}
		ids = xgrow(ids, &cap, n + 1, sizeof(char *));
		ids[n++] = strbuf_steal(&id);
	}
	*ids_r = ids;
	*n_r = n;
}

static char *first_msgid(const char *v)
{
	if (!v)
		return NULL;
	char **ids;
	size_t n;
	parse_msgids(v, &ids, &n);
	char *r = n > 0 ? TAKE_PTR(ids[0]) : NULL;
	free_strv(ids, n);
	return r;
}

static int month_number(const char *s)
{
	static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
					     "jul", "aug", "sep", "oct", "nov", "dec"};
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s, months[i], 3) == 0)
			return i;
	return -1;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* RFC 5322 date-time, leniently: "[Day,] D Mon YYYY HH:MM[:SS] zone".
 * Returns 0 when it cannot be read. */
static int64_t parse_date(const char *v)
{
	char tok[8][32];
	size_t nt = 0;
	const char *p = v;
	while (*p && nt < 8) {
		if (*p == '(') {
			p = skip_comment(p);
			continue;
		}
		if (is_wsp(*p) || *p == ',') {
			p++;
			continue;
		}
		size_t l = 0;
		while (*p && !is_wsp(*p) && *p != ',' && *p != '(') {
			if (l < sizeof(tok[0]) - 1)
				tok[nt][l++] = *p;
			p++;
		}
		tok[nt][l] = '\0';
		nt++;
	}
	size_t t = 0;
	if (t < nt && !all_digits(tok[t]))
		t++; /* day name */
	if (nt - t < 4)
		return 0;
	int64_t day, year, hh, mm, ss = 0;
	int mon = month_number(tok[t + 1]);
	if (parse_int64(tok[t], 1, 31, &day) < 0 || mon < 0 || !all_digits(tok[t + 2]) ||
	    parse_int64(tok[t + 2], 0, 9999, &year) < 0)
		return 0;
	if (strlen(tok[t + 2]) <= 2)
		year += year < 50 ? 2000 : 1900;
	else if (strlen(tok[t + 2]) == 3)
		year += 1900;
	/* hh:mm[:ss] */
	char *tm_s = tok[t + 3];
	char *c1 = strchr(tm_s, ':');
	if (!c1)
		return 0;
	*c1 = '\0';
	char *c2 = strchr(c1 + 1, ':');
	if (c2)
		*c2 = '\0';
	if (parse_int64(tm_s, 0, 23, &hh) < 0 || parse_int64(c1 + 1, 0, 59, &mm) < 0 ||
	    (c2 && parse_int64(c2 + 1, 0, 60, &ss) < 0))
		return 0;
	int64_t offset = 0;
	if (t + 4 < nt) {
		const char *z = tok[t + 4];
		if ((z[0] == '+' || z[0] == '-') && strlen(z) == 5 && all_digits(z + 1)) {
			int64_t zv;
			if (parse_int64(z + 1, 0, 9999, &zv) == 0) {
				offset = (zv / 100) * 3600 + (zv % 100) * 60;
				if (z[0] == '-')
					offset = -offset;
			}
		} else {
			static const struct {
				const char *name;
				int hours;
			} zones[] = {{"EST", -5}, {"EDT", -4}, {"CST", -6}, {"CDT", -5},
				     {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7},
				     {"CET", 1},  {"CEST", 2}};
			for (size_t i = 0; i < ARRAY_SIZE(zones); i++)
				if (strcasecmp(z, zones[i].name) == 0)
					offset = zones[i].hours * 3600;
		}
	}
	struct tm tm = {0};
	tm.tm_year = (int)year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = (int)day;
	tm.tm_hour = (int)hh;
	tm.tm_min = (int)mm;
	tm.tm_sec = (int)ss;
	time_t when = timegm(&tm);
	if (when == (time_t)-1)
		return 0;
	return (int64_t)when - offset;
}

/* ------------------------------------------------------------------ */
/* Quoted history and signature */

enum line_kind { LINE_NEW, LINE_QUOTED, LINE_SIG_DELIM, LINE_SIG };

struct text_line {
	const char *s;
	size_t len; /* without '\n' */
	enum line_kind kind;
};

#define MARKER_LINE_MAX 512

/* The line with '\r' dropped, non-breaking spaces made plain, trimmed; ""
 * when too long to be a marker line. */
static void marker_norm(const struct text_line *l, char out[MARKER_LINE_MAX])
{
	size_t n = 0;
	out[0] = '\0';
	if (l->len >= MARKER_LINE_MAX)
		return;
	for (size_t i = 0; i < l->len; i++) {
		unsigned char c = (unsigned char)l->s[i];
		if (c == 0xC2 && i + 1 < l->len && (unsigned char)l->s[i + 1] == 0xA0) {
			out[n++] = ' ';
			i++;
		} else if (c == 0xE2 && i + 2 < l->len && (unsigned char)l->s[i + 1] == 0x80 &&
			   (unsigned char)l->s[i + 2] == 0xAF) {
			out[n++] = ' ';
			i += 2;
		} else if (c == '\r' || c == '\t') {
			out[n++] = ' ';
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	size_t b = 0;
	while (out[b] == ' ')
		b++;
	while (n > b && out[n - 1] == ' ')
		n--;
	memmove(out, out + b, n - b);
	out[n - b] = '\0';
}

static bool starts_with(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return strnlen(s, n) == n && memcmp(s, prefix, n) == 0;
}

static bool ends_with_ci(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);
	return n >= sl && strncasecmp(s + n - sl, suffix, sl) == 0;
}

static bool has_digit(const char *s)
{
	for (; *s; s++)
		if (*s >= '0' && *s <= '9')
			return true;
	return false;
}

static bool attribution_start(const char *l)
{
	return starts_with(l, "On ") || starts_with(l, "Le ") || starts_with(l, "El ") ||
	       starts_with(l, "Am ");
}

/* "... wrote:", "... a écrit :" (any spacing before the colon). */
static bool attribution_end(const char *l)
{
	size_t n = strlen(l);
	if (n == 0 || l[n - 1] != ':')
		return false;
	n--;
	while (n > 0 && l[n - 1] == ' ')
		n--;
	return ends_with_ci(l, n, "wrote") || ends_with_ci(l, n, "\xC3\xA9" "crit") ||
	       ends_with_ci(l, n, " ecrit") || ends_with_ci(l, n, "schrieb") ||
	       ends_with_ci(l, n, "escribi\xC3\xB3");
}

static bool is_quote_line(const struct text_line *l)
{
	size_t i = 0;
	while (i < l->len && i < 3 && l->s[i] == ' ')
		i++;
	return i < l->len && l->s[i] == '>';
}

static bool is_blank_line(const struct text_line *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (!is_wsp(l->s[i]))
			return false;
	return true;
}

static bool header_label(const char *l, const char *const *labels, size_t n)
{
	while (*l == '*')
		l++; /* "*From:*" from bold HTML */
	for (size_t i = 0; i < n; i++)
		if (starts_with(l, labels[i]))
			return true;
	return false;
}

static const char *const from_labels[] = {"From:", "From :", "De:", "De :", "Von:"};
static const char *const sent_labels[] = {"Sent:", "Sent :", "Envoy\xC3\xA9:", "Envoy\xC3\xA9 :",
					  "Date:", "Date :", "Gesendet:"};

static bool is_forward_banner(const char *l)
{
	return strcasestr(l, "forwarded message") || strcasestr(l, "message transf\xC3\xA9r\xC3\xA9") ||
	       strcasestr(l, "begin forwarded") || strcasestr(l, "message r\xC3\xA9" "exp\xC3\xA9" "di\xC3\xA9");
}

/* Where an Outlook-style quoted history begins ("-----Original Message-----",
 * a "From:/Sent:" or "De :/Envoyé :" block), or n when there is none. */
static size_t find_history_start(struct text_line *lines, size_t n)
{
	char norm[MARKER_LINE_MAX], other[MARKER_LINE_MAX];
	bool seen_new = false;
	for (size_t i = 0; i < n; i++) {
		if (lines[i].kind == LINE_QUOTED || is_blank_line(&lines[i]))
			continue;
		marker_norm(&lines[i], norm);
		bool marker = false;
		if (starts_with(norm, "--") &&
		    (strcasestr(norm, "original message") || strcasestr(norm, "message d'origine") ||
		     strcasestr(norm, "message d\xE2\x80\x99origine") || strcasestr(norm, "message original")))
			marker = true;
		if (!marker && header_label(norm, from_labels, ARRAY_SIZE(from_labels))) {
			for (size_t j = i + 1; j < n && j <= i + 5; j++) {
				marker_norm(&lines[j], other);
				if (header_label(other, sent_labels, ARRAY_SIZE(sent_labels))) {
					marker = true;
					break;
				}
			}
		}
		if (marker) {
			/* A forward shows its content on purpose: not history. */
			bool forward = false;
			size_t start = i;
			for (size_t k = i, seen = 0; k > 0 && seen < 2; k--) {
				if (is_blank_line(&lines[k - 1]))
					continue;
				seen++;
				marker_norm(&lines[k - 1], other);
				if (is_forward_banner(other))
					forward = true;
				if (seen == 1 && strlen(other) >= 10 && strspn(other, "_") == strlen(other))
					start = k - 1; /* Outlook's "______" separator */
			}
			if (seen_new && !forward)
				return start;
		}
		if (!marker)
			seen_new = true;
	}
	return n;
}

static void mark_attributions(struct text_line *lines, size_t n)
{
	char a[MARKER_LINE_MAX], b[MARKER_LINE_MAX];
	for (size_t i = 0; i < n; i++) {
		if (lines[i].kind != LINE_NEW)
			continue;
		marker_norm(&lines[i], a);
		if (!attribution_start(a))
			continue;
		if (attribution_end(a)) {
			if (has_digit(a))
				lines[i].kind = LINE_QUOTED;
			continue;
		}
		if (i + 1 < n && lines[i + 1].kind == LINE_NEW) {
			marker_norm(&lines[i + 1], b);
			if (attribution_end(b) && (has_digit(a) || has_digit(b))) {
				lines[i].kind = LINE_QUOTED;
				lines[i + 1].kind = LINE_QUOTED;
				i++;
			}
		}
	}
}

static bool is_sig_delim(const struct text_line *l)
{
	size_t n = l->len;
	while (n > 0 && (l->s[n - 1] == '\r' || l->s[n - 1] == ' '))
		n--;
	return n == 2 && l->s[0] == '-' && l->s[1] == '-';
}

/* Joins the lines of one kind; blank runs collapsed to one, ends trimmed. */
static char *join_lines(const struct text_line *lines, size_t n, enum line_kind kind, enum line_kind kind2)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	bool pending_blank = false;
	for (size_t i = 0; i < n; i++) {
		if (lines[i].kind != kind && lines[i].kind != kind2)
			continue;
		if (is_blank_line(&lines[i])) {
			pending_blank = sb.len > 0;
			continue;
		}
		if (sb.len > 0)
			strbuf_puts(&sb, pending_blank ? "\n\n" : "\n");
		pending_blank = false;
		size_t len = lines[i].len;
		while (len > 0 && (lines[i].s[len - 1] == '\r' || lines[i].s[len - 1] == ' ' ||
				   lines[i].s[len - 1] == '\t'))
			len--;
		strbuf_append(&sb, lines[i].s, len);
	}
	return strbuf_steal(&sb);
}

void mime_split_text(const char *text, char **new_text_r, char **quoted_r, char **signature_r)
{
	struct text_line *lines = NULL;
	size_t n = 0, cap = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		lines = xgrow(lines, &cap, n + 1, sizeof(*lines));
		lines[n].s = p;
		lines[n].len = len;
		lines[n].kind = LINE_NEW;
		n++;
		p += len + (nl ? 1 : 0);
	}
	for (size_t i = 0; i < n; i++)
		if (is_quote_line(&lines[i]))
			lines[i].kind = LINE_QUOTED;
	size_t history = find_history_start(lines, n);
	for (size_t i = history; i < n; i++)
		lines[i].kind = LINE_QUOTED;
	mark_attributions(lines, history);
	for (size_t i = 0; i < history; i++) {
		if (lines[i].kind != LINE_NEW || !is_sig_delim(&lines[i]))
			continue;
		lines[i].kind = LINE_SIG_DELIM;
		for (size_t j = i + 1; j < history && lines[j].kind == LINE_NEW; j++)
			lines[j].kind = LINE_SIG;
		break;
	}
	*new_text_r = join_lines(lines, n, LINE_NEW, LINE_NEW);
	char *q = join_lines(lines, n, LINE_QUOTED, LINE_QUOTED);
	char *sig = join_lines(lines, n, LINE_SIG, LINE_SIG);
	if (!*q) {
		free(q);
		q = NULL;
	}
	if (!*sig) {
		free(sig);
		sig = NULL;
	}
	*quoted_r = q;
	*signature_r = sig;
	free(lines);
}

/* ------------------------------------------------------------------ */
/* The MIME tree */

struct job {
	const char *start;
	size_t len;
	size_t depth;
	bool digest_child; /* default type message/rfc822 */
	bool in_report;
};

struct job_stack {
	struct job *v;
	size_t n, cap;
};

static char *cte_of(const struct hdr_list *h)
{
	const char *v = hdr_get(h, "Content-Transfer-Encoding");
	if (!v)
		return xstrdup("");
	struct content_field f;
	parse_content_field(v, &f);
	char *t = TAKE_PTR(f.type);
	content_field_free(&f);
	return t;
}

/* Decodes a body by its transfer encoding; at most limit bytes are stored,
 * *total_r gets the full decoded size. */
static void decode_body(struct parse_ctx *ctx, const char *cte, const char *body, size_t blen, size_t limit,
			struct strbuf *out, size_t *total_r)
{
	/* on the stack, its buffer not cleared: it is written before it is read */
	struct sink sk;
	struct sink *k = &sk;
	k->sb = out;
	k->limit = limit;
	k->total = 0;
	k->n = 0;
	if (strcmp(cte, "base64") == 0) {
		base64_decode(body, blen, k);
	} else if (strcmp(cte, "quoted-printable") == 0) {
		qp_decode(body, blen, k, false);
	} else {
		if (cte[0] && strcmp(cte, "7bit") != 0 && strcmp(cte, "8bit") != 0 && strcmp(cte, "binary") != 0)
			add_warning(ctx, "unknown transfer encoding \"%.40s\": read as 8bit", cte);
		size_t n = blen < limit ? blen : limit;
		strbuf_append(out, body, n);
		k->total = blen;
	}
	*total_r = k->total;
}

/* Appends converted text with CRLF and lone CR made LF. */
static void append_normalized(struct strbuf *dst, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\r')
			continue;
		strbuf_append(dst, s + run, i - run);
		if (i + 1 >= n || s[i + 1] != '\n')
			strbuf_putc(dst, '\n');
		run = i + 1;
	}
	strbuf_append(dst, s + run, n - run);
}

/* Converts a decoded text part to UTF-8 with warnings; caller frees. */
static char *part_to_utf8(struct parse_ctx *ctx, const char *bytes, size_t len, const char *charset,
			  const char *what)
{
	char name[MIME_MAX_CHARSET_NAME + 1];
	enum charset_kind kind = charset_classify(charset, name);
	bool valid = mime_utf8_valid(bytes, len);
	struct strbuf conv;
	strbuf_init(&conv, ctx->lim->max_text_bytes);
	bool replaced = false, unknown = false;
	to_utf8_append(bytes, len, charset, &conv, &replaced, &unknown);
	if (unknown)
		add_warning(ctx, "unknown charset %.40s: decoded as %s", charset ? charset : "?",
			    valid ? "UTF-8" : "windows-1252");
	else if (kind == CHARSET_UNDECLARED && !valid)
		add_warning(ctx, "8-bit %s without a charset: decoded as windows-1252", what);
	if (replaced && !(kind == CHARSET_UNDECLARED && !valid))
		add_warning(ctx, "invalid bytes in %s replaced by U+FFFD", what);
	if (conv.truncated)
		add_warning(ctx, "%s over %zu bytes once in UTF-8: cut", what, ctx->lim->max_text_bytes);
	struct strbuf out;
	strbuf_init(&out, 0);
	if (conv.len > 0 && memchr(conv.data, '\r', conv.len) == NULL) {
		out = conv; /* nothing to normalise: the same bytes, not copied */
		strbuf_init(&conv, 0);
	} else {
		append_normalized(&out, strbuf_str(&conv), conv.len);
		strbuf_free(&conv);
	}
	out.len = utf8_cut(strbuf_str(&out), out.len);
	if (out.data)
		out.data[out.len] = '\0';
	return strbuf_steal(&out);
}

/* <meta charset="x"> or content="text/html; charset=x" in the first bytes. */
static void sniff_html_charset(const char *html, size_t len, char out[MIME_MAX_CHARSET_NAME + 1])
{
	out[0] = '\0';
	size_t n = len < 4096 ? len : 4096;
	const char *p = html, *end = html + n;
	while (p < end) {
		const char *c = memmem(p, (size_t)(end - p), "charset", 7);
		if (!c)
			return;
		c += 7;
		while (c < end && (*c == ' ' || *c == '='  || *c == '"' || *c == '\''))
			c++;
		size_t l = 0;
		while (c + l < end && l < MIME_MAX_CHARSET_NAME &&
		       (isalnum((unsigned char)c[l]) || c[l] == '-' || c[l] == '_' || c[l] == '.' || c[l] == ':'))
			l++;
		if (l > 0) {
			memcpy(out, c, l);
			out[l] = '\0';
			return;
		}
		p = c;
	}
}

static char *sanitize_filename(char *name)
{
	if (!name)
		return NULL;
	char *base = name;
	for (char *c = name; *c; c++)
		if (*c == '/' || *c == '\\')
			base = c + 1;
	size_t n = strlen(base);
	if (n > MIME_MAX_FILENAME)
		n = utf8_cut(base, MIME_MAX_FILENAME);
	char *r = trim_dup(base, n);
	free(name);
	if (!*r || strcmp(r, ".") == 0 || strcmp(r, "..") == 0) {
		free(r);
		return NULL;
	}
	return r;
}

static void add_attachment(struct parse_ctx *ctx, const struct hdr_list *h, const char *type,
			   const struct content_field *ct, const struct content_field *disp, const char *cte,
			   const char *body, size_t blen)
{
	struct mime_message *msg = ctx->msg;
	if (ctx->lim->text_only)
		return; /* nothing of an attachment is read: not even decoded */
	if (msg->n_attachments >= ctx->lim->max_attachments) {
		add_warning(ctx, "more than %zu attachments: the rest ignored", ctx->lim->max_attachments);
		return;
	}
	struct strbuf data;
	strbuf_init(&data, 0);
	size_t total = 0;
	decode_body(ctx, cte, body, blen, ctx->lim->max_attachment_bytes, &data, &total);
	msg->attachments = xgrow(msg->attachments, &ctx->attachments_cap, msg->n_attachments + 1,
				 sizeof(struct mime_attachment));
	struct mime_attachment *a = &msg->attachments[msg->n_attachments++];
	memset(a, 0, sizeof(*a));
	char *fn = disp->type ? param_get(disp, "filename") : NULL;
	if (!fn)
		fn = param_get(ct, "name");
	a->filename = sanitize_filename(fn);
	a->content_type = mime_decode_words(type); /* valid UTF-8 whatever was sent */
	a->size = total;
	a->inline_disposition = disp->type && strcmp(disp->type, "inline") == 0;
	a->content_id = first_msgid(hdr_get(h, "Content-ID"));
	if (total > ctx->lim->max_attachment_bytes) {
		add_warning(ctx, "attachment over the size cap (%zu bytes): data not kept", ctx->lim->max_attachment_bytes);
		a->data_truncated = true;
		strbuf_free(&data);
	} else {
		a->data = (unsigned char *)strbuf_steal(&data);
	}
}

static void add_text(struct parse_ctx *ctx, struct strbuf *dst, const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return;
	if (dst->len > 0)
		strbuf_puts(dst, dst->data[dst->len - 1] == '\n' ? "\n" : "\n\n");
	strbuf_append(dst, s, n);
	(void)ctx;
}

/* Converts the pending HTML part into html_text: before another HTML part
 * joins it, or at the end for HTML-only mail. Deferring only the first part
 * changes nothing: html_to_text() keeps its text within the limit that
 * html_text has, so html_text is not cut when it is left out. */
static void flush_html(struct parse_ctx *ctx)
{
	if (ctx->html_pending == NULL)
		return;
	const char *h = ctx->html_pending;
	char *plain = html_to_text(h, strlen(h), ctx->lim->max_text_bytes);
	add_text(ctx, &ctx->html_text, plain);
	free(plain);
	ctx->html_pending = NULL;
}

/* Finds the delimiter lines of a multipart body and pushes its parts. */
static void split_multipart(struct parse_ctx *ctx, const char *body, size_t blen, const char *boundary,
			    size_t depth, bool digest, bool in_report, struct job_stack *stack)
{
	size_t bl = strlen(boundary);
	char needle[MIME_MAX_BOUNDARY + 3];
	needle[0] = '-';
	needle[1] = '-';
	memcpy(needle + 2, boundary, bl);
	size_t nl = bl + 2;
	struct job *parts = NULL;
	size_t n = 0, cap = 0;
	const char *part_start = NULL;
	bool closed = false, found = false;
	size_t pos = 0;
	while (pos < blen) {
		const char *hit = memmem(body + pos, blen - pos, needle, nl);
		if (!hit)
			break;
		size_t h = (size_t)(hit - body);
		pos = h + nl;
		if (h > 0 && body[h - 1] != '\n')
			continue;
		bool closing = pos + 1 < blen && body[pos] == '-' && body[pos + 1] == '-';
		if (!closing && pos < blen && !is_wsp(body[pos]))
			continue; /* a longer boundary that starts with ours */
		found = true;
		if (part_start) {
			/* The line break before the delimiter belongs to it. */
			size_t e = h;
			if (e > 0 && body[e - 1] == '\n')
				e--;
			if (e > 0 && body[e - 1] == '\r')
				e--;
			size_t s = (size_t)(part_start - body);
			if (e < s)
				e = s;
			if (ctx->parts_seen + n >= ctx->lim->max_parts) {
				add_warning(ctx, "more than %zu MIME parts: the rest ignored", ctx->lim->max_parts);
				closed = true;
				break;
			}
			parts = xgrow(parts, &cap, n + 1, sizeof(*parts));
			parts[n++] = (struct job){part_start, e - s, depth + 1, digest, in_report};
		}
		if (closing) {
			closed = true;
			break;
		}
		const char *eol = memchr(body + pos, '\n', blen - pos);
		part_start = eol ? eol + 1 : body + blen;
		pos = (size_t)(part_start - body);
	}
	if (!found) {
		add_warning(ctx, "multipart boundary not found: body read as text");
		struct strbuf sb;
		strbuf_init(&sb, 0);
		size_t total;
		decode_body(ctx, "", body, blen, ctx->lim->max_text_bytes, &sb, &total);
		char *t = part_to_utf8(ctx, strbuf_str(&sb), sb.len, NULL, "text");
		add_text(ctx, &ctx->text, t);
		free(t);
		strbuf_free(&sb);
		free(parts);
		return;
	}
	if (!closed && part_start) {
		add_warning(ctx, "multipart boundary never closed: mail truncated?");
		if (ctx->parts_seen + n < ctx->lim->max_parts && part_start < body + blen) {
			parts = xgrow(parts, &cap, n + 1, sizeof(*parts));
			parts[n++] = (struct job){part_start, (size_t)(body + blen - part_start), depth + 1, digest,
						  in_report};
		}
	}
	/* Pushed in reverse so that they are handled in document order. */
	for (size_t i = n; i > 0; i--) {
		stack->v = xgrow(stack->v, &stack->cap, stack->n + 1, sizeof(struct job));
		stack->v[stack->n++] = parts[i - 1];
	}
	free(parts);
}

/* Message-ID of the mail a bounce reports, from its headers part. */
static void take_original_message_id(struct parse_ctx *ctx, const char *cte, const char *body, size_t blen)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	size_t total;
	decode_body(ctx, cte, body, blen, ctx->lim->max_header_bytes + 4096, &sb, &total);
	struct hdr_list h = {0};
	size_t off;
	struct parse_ctx sub = *ctx; /* warnings of the inner mail are not ours */
	struct mime_message scratch = {0};
	sub.msg = &scratch;
	sub.warnings_cap = 0;
	parse_header_block(&sub, strbuf_str(&sb), sb.len, &h, &off, false);
	free_strv(scratch.warnings, scratch.n_warnings);
	const char *id = hdr_get(&h, "Message-ID");
	if (id)
		ctx->msg->original_message_id = first_msgid(id);
	hdr_list_free(&h);
	strbuf_free(&sb);
}

static void process_entity(struct parse_ctx *ctx, const struct hdr_list *h, const char *body, size_t blen,
			   size_t depth, bool digest_child, bool in_report, struct job_stack *stack)
{
	struct mime_message *msg = ctx->msg;
	const struct mime_limits *lim = ctx->lim;
	struct content_field ct, disp;
	const char *ct_raw = hdr_get(h, "Content-Type");
	if (ct_raw) {
		parse_content_field(ct_raw, &ct);
		const char *slash = strchr(ct.type, '/');
		if (!slash || slash == ct.type || !slash[1]) {
			add_warning(ctx, "malformed Content-Type: read as text/plain");
			free(ct.type);
			ct.type = xstrdup("text/plain");
		}
	} else {
		memset(&ct, 0, sizeof(ct));
		ct.type = xstrdup(digest_child ? "message/rfc822" : "text/plain");
	}
	const char *disp_raw = hdr_get(h, "Content-Disposition");
	if (disp_raw)
		parse_content_field(disp_raw, &disp);
	else
		memset(&disp, 0, sizeof(disp));
	char *cte = cte_of(h);
	const char *type = ct.type;
	bool attachment_disp = disp.type && strcmp(disp.type, "attachment") == 0;

	if (depth == 0) {
		msg->content_type = mime_decode_words(type);
		if (!lim->text_only && strcmp(type, "multipart/report") == 0) {
			const char *rt = param_plain(&ct, "report-type");
			if (rt)
				msg->report_type = lower_dup(rt, strlen(rt) < 64 ? strlen(rt) : 64);
		}
	}

	if (strncmp(type, "multipart/", 10) == 0) {
		const char *boundary = param_plain(&ct, "boundary");
		if (depth >= lim->max_depth) {
			add_warning(ctx, "MIME depth limit (%zu) reached: deeper parts kept as an attachment",
				    lim->max_depth);
			add_attachment(ctx, h, type, &ct, &disp, "", body, blen);
		} else if (!boundary || !*boundary || strlen(boundary) > MIME_MAX_BOUNDARY) {
			add_warning(ctx, "multipart without a usable boundary: body read as text");
			struct strbuf sb;
			strbuf_init(&sb, 0);
			size_t total;
			decode_body(ctx, cte, body, blen, lim->max_text_bytes, &sb, &total);
			char *t = part_to_utf8(ctx, strbuf_str(&sb), sb.len, NULL, "text");
			add_text(ctx, &ctx->text, t);
			free(t);
			strbuf_free(&sb);
		} else {
			bool report = in_report || strcmp(type, "multipart/report") == 0;
			split_multipart(ctx, body, blen, boundary, depth, strcmp(type, "multipart/digest") == 0,
					report, stack);
		}
		goto out;
	}
	if (in_report && !lim->text_only && !msg->original_message_id &&
	    (strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0 ||
	     strcmp(type, "text/rfc822-headers") == 0 || strcmp(type, "message/global-headers") == 0))
		take_original_message_id(ctx, cte, body, blen);

	bool is_plain = strcmp(type, "text/plain") == 0;
	bool is_html = strcmp(type, "text/html") == 0;
	if ((is_plain || is_html) && !attachment_disp) {
		struct strbuf sb;
		strbuf_init(&sb, 0);
		size_t total;
		decode_body(ctx, cte, body, blen, lim->max_text_bytes, &sb, &total);
		if (total > lim->max_text_bytes)
			add_warning(ctx, "text part over %zu bytes: cut", lim->max_text_bytes);
		char *cs = param_get(&ct, "charset");
		char sniffed[MIME_MAX_CHARSET_NAME + 1] = "";
		if (is_html && (!cs || !*cs))
			sniff_html_charset(strbuf_str(&sb), sb.len, sniffed);
		const char *charset = cs && *cs ? cs : sniffed[0] ? sniffed : NULL;
		char *t = part_to_utf8(ctx, strbuf_str(&sb), sb.len, charset, is_html ? "HTML" : "text");
		if (is_plain) {
			add_text(ctx, &ctx->text, t);
		} else if (!msg->html && ctx->html_text.len == 0) {
			msg->html = TAKE_PTR(t);
			ctx->html_pending = msg->html;
		} else {
			flush_html(ctx);
			char *plain = html_to_text(t, strlen(t), lim->max_text_bytes);
			add_text(ctx, &ctx->html_text, plain);
			free(plain);
			if (!msg->html)
				msg->html = TAKE_PTR(t);
		}
		free(t);
		free(cs);
		strbuf_free(&sb);
		goto out;
	}
	add_attachment(ctx, h, type, &ct, &disp, cte, body, blen);
out:
	free(cte);
	content_field_free(&ct);
	content_field_free(&disp);
}

/* ------------------------------------------------------------------ */
/* The message */

static void fill_envelope(struct parse_ctx *ctx, struct hdr_list *h)
{
	struct mime_message *msg = ctx->msg;
	msg->headers = xcalloc(h->n ? h->n : 1, sizeof(struct mime_header_field));
	/* Names and decoded values in one buffer the message owns (see
	 * struct message): offsets first, as the buffer may move. */
	struct strbuf store;
	strbuf_init(&store, 0);
	size_t *offs = xmalloc(2 * (h->n ? h->n : 1) * sizeof(*offs));
	for (size_t i = 0; i < h->n; i++) {
		size_t start = store.len;
		decode_words_append(&store, h->v[i].value);
		/* trimmed in place: most values have nothing to trim */
		char *dec = store.data + start;
		size_t n = strnlen(dec, store.len - start), lead = 0;
		while (lead < n && is_wsp(dec[lead]))
			lead++;
		while (n > lead && is_wsp(dec[n - 1]))
			n--;
		if (lead > 0)
			memmove(dec, dec + lead, n - lead);
		store.len = start + (n - lead);
		strbuf_putc(&store, '\0');
		offs[2 * i + 1] = start;
		/* A name is printable ASCII: without an encoded word, decoding
		 * would copy it as it is. */
		offs[2 * i] = store.len;
		if (strstr(h->v[i].name, "=?") == NULL)
			strbuf_puts(&store, h->v[i].name);
		else
			decode_words_append(&store, h->v[i].name);
		strbuf_putc(&store, '\0');
	}
	char *block = strbuf_steal(&store);
	for (size_t i = 0; i < h->n; i++) {
		msg->headers[i].name = block + offs[2 * i];
		msg->headers[i].value = block + offs[2 * i + 1];
	}
	free(offs);
	message_of(msg)->header_block = block;
	msg->n_headers = h->n;

	const char *v;
	if ((v = mime_header(msg, "Subject")))
		msg->subject = xstrdup(v);
	if (ctx->lim->text_only)
		return;
	if ((v = hdr_get(h, "From"))) {
		char **addrs;
		size_t n;
		parse_address_list(ctx, v, &addrs, &n, &msg->from_name);
		if (n > 0)
			msg->from_addr = TAKE_PTR(addrs[0]);
		free_strv(addrs, n);
	}
	if ((v = hdr_get(h, "Reply-To"))) {
		char **addrs;
		size_t n;
		parse_address_list(ctx, v, &addrs, &n, NULL);
		if (n > 0)
			msg->reply_to_addr = TAKE_PTR(addrs[0]);
		free_strv(addrs, n);
	}
	if ((v = hdr_get(h, "To")))
		parse_address_list(ctx, v, &msg->to_addrs, &msg->n_to, NULL);
	if ((v = hdr_get(h, "Cc")))
		parse_address_list(ctx, v, &msg->cc_addrs, &msg->n_cc, NULL);
	if ((v = hdr_get(h, "Return-Path"))) {
		const char *lt = strchr(v, '<');
		const char *s = lt ? lt + 1 : v;
		const char *e = lt ? strchr(s, '>') : NULL;
		if (!e)
			e = s + strlen(s);
		struct strbuf rp;
		strbuf_init(&rp, MIME_MAX_ADDRESS_LEN);
		for (const char *c = s; c < e; c++)
			if (!is_wsp(*c))
				strbuf_putc(&rp, (char)tolower((unsigned char)*c));
		char *raw = strbuf_steal(&rp);
		msg->return_path = mime_decode_words(raw);
		free(raw);
	}
	if ((v = hdr_get(h, "Date")))
		msg->date = parse_date(v);
	msg->message_id = first_msgid(hdr_get(h, "Message-ID"));
	msg->in_reply_to = first_msgid(hdr_get(h, "In-Reply-To"));
	if ((v = hdr_get(h, "References"))) {
		char **ids;
		size_t n;
		parse_msgids(v, &ids, &n);
		if (n > MIME_MAX_REFERENCES) {
			/* Keep the root and the latest: what threading looks at. */
			size_t drop = n - MIME_MAX_REFERENCES;
			for (size_t i = 1; i <= drop; i++)
				free(ids[i]);
			memmove(ids + 1, ids + 1 + drop, (MIME_MAX_REFERENCES - 1) * sizeof(char *));
			n = MIME_MAX_REFERENCES;
		}
		msg->references = ids;
		msg->n_references = n;
	}
}

int mime_parse(const char *raw, size_t len, const struct mime_limits *lim_in, struct mime_message **msg_r,
	       const char **error_r)
{
	struct mime_limits deflim;
	mime_limits_default(&deflim);
	const struct mime_limits *lim = lim_in ? lim_in : &deflim;
	if (!raw || len == 0) {
		*error_r = "empty mail";
		return -1;
	}
	struct mime_message *msg = &((struct message *)xcalloc(1, sizeof(struct message)))->pub;
	struct parse_ctx ctx = {.lim = lim, .msg = msg};
	strbuf_init(&ctx.text, lim->max_text_bytes);
	strbuf_init(&ctx.html_text, lim->max_text_bytes);
	if (len > lim->max_mail_bytes) {
		add_warning(&ctx, "mail over %zu bytes: only the beginning read", lim->max_mail_bytes);
		len = lim->max_mail_bytes;
	}

	/* Old Mac mail ends lines with CR alone: read it as LF. */
	char *lf_copy = NULL;
	size_t probe = len < 65536 ? len : 65536;
	if (!memchr(raw, '\n', probe) && memchr(raw, '\r', probe)) {
		lf_copy = xmalloc(len);
		for (size_t i = 0; i < len; i++)
			lf_copy[i] = raw[i] == '\r' ? '\n' : raw[i];
		raw = lf_copy;
	}

	struct hdr_list h = {0};
	size_t body_off;
	parse_header_block(&ctx, raw, len, &h, &body_off, true);
	size_t hb = body_off < lim->max_header_bytes ? body_off : lim->max_header_bytes;
	if (!lim->text_only) {
		msg->headers_raw = xmalloc(hb + 1);
		for (size_t i = 0; i < hb; i++) /* a C string: NUL made a space */
			msg->headers_raw[i] = raw[i] ? raw[i] : ' ';
		msg->headers_raw[hb] = '\0';
	}
	bool body_blank = true;
	for (size_t i = body_off; i < len && body_blank; i++)
		if (!is_wsp(raw[i]))
			body_blank = false;
	if (h.n == 0 && body_blank) {
		hdr_list_free(&h);
		strbuf_free(&ctx.text);
		strbuf_free(&ctx.html_text);
		mime_message_free(&msg);
		free(lf_copy);
		*error_r = "no header and no body";
		return -1;
	}
	if (h.n == 0)
		add_warning(&ctx, "no header fields");
	fill_envelope(&ctx, &h);

	struct job_stack stack = {0};
	ctx.parts_seen = 1;
	process_entity(&ctx, &h, raw + body_off, len - body_off, 0, false, false, &stack);
	hdr_list_free(&h);
	while (stack.n > 0) {
		struct job j = stack.v[--stack.n];
		if (ctx.parts_seen >= lim->max_parts) {
			add_warning(&ctx, "more than %zu MIME parts: the rest ignored", lim->max_parts);
			break;
		}
		ctx.parts_seen++;
		struct hdr_list ph = {0};
		size_t off = 0;
		if (j.start)
			parse_header_block(&ctx, j.start, j.len, &ph, &off, false);
		process_entity(&ctx, &ph, j.start ? j.start + off : "", j.start ? j.len - off : 0, j.depth,
			       j.digest_child, j.in_report, &stack);
		hdr_list_free(&ph);
	}
	free(stack.v);
	free(lf_copy);

	struct strbuf *src = &ctx.text;
	bool text_blank = true;
	for (size_t i = 0; i < ctx.text.len && text_blank; i++)
		if (!is_wsp(ctx.text.data[i]))
			text_blank = false;
	if (text_blank)
		flush_html(&ctx);
	if (ctx.text.truncated || ctx.html_text.truncated)
		add_warning(&ctx, "text over %zu bytes: cut", lim->max_text_bytes);
	if (text_blank && ctx.html_text.len > 0) {
		src = &ctx.html_text;
		msg->html_only = true;
	}
	size_t tl = utf8_cut(strbuf_str(src), src->len);
	while (tl > 0 && is_wsp(src->data[tl - 1]))
		tl--;
	if (src->data != NULL) { /* cut in place and taken, not copied */
		src->data[tl] = '\0';
		msg->text = strbuf_steal(src);
	} else {
		msg->text = xstrdup("");
	}
	strbuf_free(&ctx.text);
	strbuf_free(&ctx.html_text);
	if (ctx.lim->no_text_split)
		msg->new_text = xstrdup(msg->text);
	else
		mime_split_text(msg->text, &msg->new_text, &msg->quoted_text, &msg->signature);
	if (!msg->content_type)
		msg->content_type = xstrdup("text/plain");
	*msg_r = msg;
	return 0;
}

const char *mime_header(const struct mime_message *msg, const char *name)
{
	for (size_t i = 0; i < msg->n_headers; i++)
		if (strcasecmp(msg->headers[i].name, name) == 0)
			return msg->headers[i].value;
	return NULL;
}

void mime_message_free(struct mime_message **msgp)
{
	struct mime_message *msg = *msgp;
	if (!msg)
		return;
	free(msg->message_id);
	free(msg->in_reply_to);
	free_strv(msg->references, msg->n_references);
	free(msg->subject);
	free(msg->from_name);
	free(msg->from_addr);
	free(msg->reply_to_addr);
	free_strv(msg->to_addrs, msg->n_to);
	free_strv(msg->cc_addrs, msg->n_cc);
	free(msg->return_path);
	free(msg->content_type);
	free(msg->report_type);
	free(msg->text);
	free(msg->new_text);
	free(msg->quoted_text);
	free(msg->signature);
	free(msg->html);
	for (size_t i = 0; i < msg->n_attachments; i++) {
		struct mime_attachment *a = &msg->attachments[i];
		free(a->filename);
		free(a->content_type);
		free(a->data);
		free(a->content_id);
	}
	free(msg->attachments);
	free(msg->original_message_id);
	free_strv(msg->warnings, msg->n_warnings);
	free(msg->headers_raw);
	/* the names and values of msg->headers */
	free(message_of(msg)->header_block);
	free(msg->headers);
	free(message_of(msg));
	*msgp = NULL;
}
