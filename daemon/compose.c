/* Composition of outgoing mail: headers (RFC 5322, RFC 2047), the body in
 * quoted-printable (RFC 2045), threading headers and the reply subject. */
#include "compose.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "strbuf.h"
#include "xalloc.h"

/* Header lines are folded before this many characters (RFC 5322 2.1.1 SHOULD). */
#define HEADER_LINE 78

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* A copy of s (at most max bytes, cut on a character boundary) with every
 * control character, CR and LF included, turned into a space, invalid UTF-8
 * bytes into '?', and surrounding spaces trimmed. */
static char *clean_text(const char *s, size_t max)
{
	struct strbuf sb = STRBUF_INIT;
	if (s == NULL)
		s = "";
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80                 ? 1
		           : c >= 0xc2 && c <= 0xdf ? 2
		           : c >= 0xe0 && c <= 0xef ? 3
		           : c >= 0xf0 && c <= 0xf4 ? 4
		                                    : 0;
		if (n == 0 || i + n > len || !compose_utf8_valid(s + i, n)) {
			if (sb.len + 1 > max)
				break;
			strbuf_putc(&sb, '?');
			i++;
			continue;
		}
		if (sb.len + n > max)
			break;
		if (n == 1 && is_ctl(c))
			strbuf_putc(&sb, ' ');
		else
			strbuf_append(&sb, s + i, n);
		i += n;
	}
	char *out = strbuf_steal(&sb);
	size_t start = strspn(out, " ");
	size_t end = strlen(out);
	while (end > start && out[end - 1] == ' ')
		end--;
	memmove(out, out + start, end - start);
	out[end - start] = '\0';
	return out;
}

bool compose_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned char c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) < n)
			return false;
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n;
	}
	return true;
}

/* ---- addresses ---- */

static bool atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool valid_domain(const char *d, size_t len)
{
	if (len == 0 || len > 253 || d[0] == '.' || d[0] == '-' || d[len - 1] == '.' ||
	    d[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-' || c == '.';
		if (!ok || (c == '.' && d[i + 1] == '.'))
			return false;
	}
	return true;
}

bool compose_valid_addr(const char *addr)
{
	if (addr == NULL)
		return false;
	size_t len = strlen(addr);
	const char *at = strrchr(addr, '@');
	if (len > COMPOSE_MAX_ADDR || at == NULL || at == addr)
		return false;
	size_t local = (size_t)(at - addr);
	if (local > 64 || addr[0] == '.' || addr[local - 1] == '.')
		return false;
	for (size_t i = 0; i < local; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (!(atext(c) || (c == '.' && addr[i + 1] != '.')))
			return false;
	}
	return valid_domain(at + 1, strlen(at + 1));
}

int compose_parse_from(const char *from, char **name_r, char **addr_r, const char **error_r)
{
	if (from == NULL) {
		*error_r = "no sender address (smtp.from)";
		return -1;
	}
	const char *lt = strrchr(from, '<');
	_cleanup_free_ char *name = NULL, *addr = NULL;
	if (lt != NULL) {
		const char *gt = strchr(lt, '>');
		if (gt == NULL || gt[1] != '\0') {
			*error_r = "sender address: expected \"Name <addr>\"";
			return -1;
		}
		addr = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		_cleanup_free_ char *raw_name = xstrndup(from, (size_t)(lt - from));
		name = clean_text(raw_name, COMPOSE_MAX_NAME);
		/* "\"Support\" <a@b>": the quotes are syntax, not part of the name. */
		size_t n = strlen(name);
		if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
			memmove(name, name + 1, n - 2);
			name[n - 2] = '\0';
		}
		if (name[0] == '\0') {
			free(name);
			name = NULL;
		}
	} else {
		addr = clean_text(from, COMPOSE_MAX_ADDR + 1);
	}
	if (!compose_valid_addr(addr)) {
		*error_r = "sender address is not a valid plain address";
		return -1;
	}
	*name_r = TAKE_PTR(name);
	*addr_r = TAKE_PTR(addr);
	return 0;
}

int compose_message_id(const char *addr, char **message_id_r, const char **error_r)
{
	const char *at = addr != NULL ? strrchr(addr, '@') : NULL;
	if (at == NULL || !compose_valid_addr(addr)) {
		*error_r = "cannot make a Message-ID: invalid sender address";
		return -1;
	}
	unsigned char rnd[16];
	size_t got = 0;
	while (got < sizeof(rnd)) {
		ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n < 0) {
			*error_r = "cannot make a Message-ID: no random bytes";
			return -1;
		}
		got += (size_t)n;
	}
	char hex[2 * sizeof(rnd) + 1];
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	*message_id_r = xasprintf("%s.%lld@%s", hex, (long long)time(NULL), at + 1);
	return 0;
}

/* ---- subject ---- */

/* Length of a leading reply prefix ("Re:", "RE :", "re[2]:", "Re(3):"), or 0. */
static size_t reply_prefix_len(const char *s)
{
	const char *p = s;
	if ((p[0] != 'r' && p[0] != 'R') || (p[1] != 'e' && p[1] != 'E'))
		return 0;
	p += 2;
	if (*p == '[' || *p == '(') {
		char close = *p == '[' ? ']' : ')';
		p++;
		size_t digits = strspn(p, "0123456789");
		if (digits == 0 || p[digits] != close)
			return 0;
		p += digits + 1;
	}
	p += strspn(p, " ");
	if (*p != ':')
		return 0;
	p++;
	return (size_t)(p - s) + strspn(p, " ");
}

char *compose_reply_subject(const char *subject, int64_t ticket_id)
{
	_cleanup_free_ char *clean = clean_text(subject, COMPOSE_MAX_SUBJECT);
	char tag[40];
	snprintf(tag, sizeof(tag), "[#%lld]", (long long)ticket_id);
	size_t tag_len = strlen(tag);
	/* Take out the tag wherever it is, then the reply prefixes it may hide. */
	struct strbuf sb = STRBUF_INIT;
	for (const char *p = clean; *p != '\0';) {
		const char *hit = strstr(p, tag);
		if (hit == NULL) {
			strbuf_puts(&sb, p);
			break;
		}
		strbuf_append(&sb, p, (size_t)(hit - p));
		p = hit + tag_len;
		/* Do not leave two spaces where the tag was. */
		if (*p == ' ' && (sb.len == 0 || sb.data[sb.len - 1] == ' '))
			p++;
	}
	_cleanup_free_ char *untagged = strbuf_steal(&sb);
	const char *rest = untagged + strspn(untagged, " ");
	size_t n;
	while ((n = reply_prefix_len(rest)) > 0)
		rest += n;
	size_t len = strlen(rest);
	while (len > 0 && rest[len - 1] == ' ')
		len--;
	if (len == 0)
		return xasprintf("Re: %s", tag);
	return xasprintf("Re: %.*s %s", (int)len, rest, tag);
}

/* ---- message ids ---- */

static bool valid_msgid(const char *id, size_t len)
{
	if (len == 0 || len > COMPOSE_MAX_MSGID)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
			return false;
	}
	return true;
}

/* Appends the ids found in s (with or without <>, separated by spaces or
 * commas) to ids. Invalid ones are dropped. The caller bounds s. */
static void split_ids(const char *s, char ***ids, size_t *n, size_t *cap)
{
	if (s == NULL)
		return;
	const char *p = s;
	while (*p != '\0') {
		p += strspn(p, " \t\r\n,<>");
		size_t len = strcspn(p, " \t\r\n,<>");
		if (len == 0)
			break;
		if (valid_msgid(p, len)) {
			*ids = xgrow(*ids, cap, *n + 1, sizeof(**ids));
			(*ids)[(*n)++] = xstrndup(p, len);
		}
		p += len;
	}
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

char *compose_references(const char *references, const char *in_reply_to)
{
	char **ids = NULL;
	size_t n = 0, cap = 0;
	/* A reference list longer than any sane thread is cut before splitting. */
	_cleanup_free_ char *refs =
	    references != NULL ? xstrndup(references, strnlen(references, 64 * 1024)) : NULL;
	split_ids(refs, &ids, &n, &cap);
	/* The parent goes last, even if it also appeared earlier. */
	_cleanup_free_ char *parent = NULL;
	if (in_reply_to != NULL) {
		char **one = NULL;
		size_t n1 = 0, cap1 = 0;
		split_ids(in_reply_to, &one, &n1, &cap1);
		if (n1 > 0)
			parent = xstrdup(one[0]);
		free_ids(one, n1);
	}
	if (parent != NULL) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(ids[i], parent) == 0) {
				free(ids[i]);
				memmove(ids + i, ids + i + 1, (n - i - 1) * sizeof(*ids));
				n--;
				break;
			}
		ids = xgrow(ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = TAKE_PTR(parent);
	}
	if (n == 0) {
		free(ids);
		return NULL;
	}
	/* RFC 5322 3.6.4 allows trimming: keep the root and the most recent. */
	size_t skip_from = 1, skip = n > COMPOSE_MAX_REFERENCES ? n - COMPOSE_MAX_REFERENCES : 0;
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i >= skip_from && i < skip_from + skip)
			continue;
		strbuf_printf(&sb, "%s<%s>", sb.len > 0 ? " " : "", ids[i]);
	}
	free_ids(ids, n);
	return strbuf_steal(&sb);
}

char *compose_date(int64_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* Names from tables, not strftime: the locale must not leak into mail. */
	return xasprintf("%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
	                 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec);
}

/* ---- encodings ---- */

static void base64(struct strbuf *out, const unsigned char *in, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		char q[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
		             i + 1 < len ? alphabet[(v >> 6) & 63] : '=',
		             i + 2 < len ? alphabet[v & 63] : '='};
		strbuf_append(out, q, 4);
	}
}

static bool printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static size_t utf8_char_len(const char *s)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	for (size_t i = 1; i < n; i++)
		if (s[i] == '\0')
			return i;
	return n;
}

/* 39 bytes make 52 base64 characters: with "=?UTF-8?B?" and "?=" a word is
 * 64 characters, which fits a folded line with any short header name. */
#define ENCODED_WORD_BYTES 39

/* Appends value (already cleaned) as encoded words, one per line, never
 * splitting a character. */
static void encoded_words(struct strbuf *out, const char *value)
{
	const char *p = value;
	bool first = true;
	while (*p != '\0') {
		size_t chunk = 0;
		while (p[chunk] != '\0') {
			size_t n = utf8_char_len(p + chunk);
			if (chunk + n > ENCODED_WORD_BYTES)
				break;
			chunk += n;
		}
		if (!first)
			strbuf_puts(out, "\r\n ");
		strbuf_puts(out, "=?UTF-8?B?");
		base64(out, (const unsigned char *)p, chunk);
		strbuf_puts(out, "?=");
		p += chunk;
		first = false;
	}
}

/* Appends printable ASCII text folded at spaces. */
static void folded_ascii(struct strbuf *out, const char *value, size_t col)
{
	const char *p = value;
	while (*p != '\0') {
		size_t spaces = strspn(p, " ");
		size_t word = strcspn(p + spaces, " ");
		if (col > 0 && spaces > 0 && col + spaces + word > HEADER_LINE) {
			/* The fold replaces one space (the continuation line starts with it). */
			strbuf_puts(out, "\r\n");
			col = 0;
		}
		strbuf_append(out, p, spaces + word);
		col += spaces + word;
		p += spaces + word;
	}
}

/* Does text need encoded words? Non-ASCII, or something a reader would
 * decode as an encoded word although it is not one. */
static bool needs_encoding(const char *text)
{
	return !printable_ascii(text) || strstr(text, "=?") != NULL;
}

void compose_header(struct strbuf *out, const char *name, const char *value)
{
	_cleanup_free_ char *clean = clean_text(value, 4 * COMPOSE_MAX_SUBJECT);
	strbuf_printf(out, "%s: ", name);
	size_t col = strlen(name) + 2;
	if (needs_encoding(clean))
		encoded_words(out, clean);
	else
		folded_ascii(out, clean, col);
	strbuf_puts(out, "\r\n");
}

/* "Name <addr>" with the name quoted (ASCII) or encoded (otherwise). */
static void address_header(struct strbuf *out, const char *header, const char *name,
                           const char *addr)
{
	_cleanup_free_ char *clean = clean_text(name, COMPOSE_MAX_NAME);
	strbuf_printf(out, "%s: ", header);
	if (clean[0] == '\0') {
		strbuf_printf(out, "<%s>\r\n", addr);
		return;
	}
	if (needs_encoding(clean)) {
		encoded_words(out, clean);
	} else {
		strbuf_putc(out, '"');
		for (const char *p = clean; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_putc(out, '\\');
			strbuf_putc(out, *p);
		}
		strbuf_putc(out, '"');
	}
	strbuf_printf(out, " <%s>\r\n", addr);
}

void compose_qp(struct strbuf *out, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *p = text;
	while (*p != '\0' || p == text) {
		size_t len = strcspn(p, "\n");
		size_t line_len = len;
		if (line_len > 0 && p[line_len - 1] == '\r')
			line_len--;
		size_t col = 0;
		for (size_t i = 0; i < line_len; i++) {
			unsigned char c = (unsigned char)p[i];
			bool last = i + 1 == line_len;
			bool literal =
			    (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
			size_t width = literal ? 1 : 3;
			/* Room for the token and, unless it ends the line, a soft break. */
			if (col + width > COMPOSE_QP_LINE - 1 &&
			    !(last && col + width <= COMPOSE_QP_LINE)) {
				strbuf_puts(out, "=\r\n");
				col = 0;
			}
			/* At the start of a line, "." (SMTP) and "From " (mbox) are
			 * encoded so that no relay alters them. */
			if (col == 0 && literal &&
			    (c == '.' ||
			     (c == 'F' && strncmp(p + i, "From ", 5) == 0 && i + 5 <= line_len))) {
				literal = false;
				width = 3;
			}
			if (literal) {
				strbuf_putc(out, (char)c);
			} else {
				char enc[3] = {'=', hex[c >> 4], hex[c & 15]};
				strbuf_append(out, enc, 3);
			}
			col += width;
		}
		strbuf_puts(out, "\r\n");
		if (p[len] == '\0')
			break;
		p += len + 1;
		if (*p == '\0')
			break;
	}
}

const char *compose_next_addr(const char **p, size_t *len_r)
{
	const char *q = *p != NULL ? *p + strspn(*p, ", ") : "";
	size_t len = strcspn(q, ", ");
	if (len == 0)
		return NULL;
	*p = q + len;
	*len_r = len;
	return q;
}

int compose_build(const struct compose_mail *m, char **raw_r, char **message_id_r,
                  const char **error_r)
{
	_cleanup_free_ char *from_name = NULL, *from_addr = NULL, *msgid = NULL;
	if (compose_parse_from(m->from, &from_name, &from_addr, error_r) < 0)
		return -1;
	if (!compose_valid_addr(m->to_addr)) {
		*error_r = "recipient address is not a valid plain address";
		return -1;
	}
	const char *body = m->body != NULL ? m->body : "";
	size_t body_len = strlen(body);
	if (body_len > COMPOSE_MAX_BODY) {
		*error_r = "reply text too long";
		return -1;
	}
	if (!compose_utf8_valid(body, body_len)) {
		*error_r = "reply text is not valid UTF-8";
		return -1;
	}
	if (m->message_id != NULL) {
		size_t len = strlen(m->message_id);
		if (!valid_msgid(m->message_id, len) || strchr(m->message_id, '@') == NULL) {
			*error_r = "invalid Message-ID";
			return -1;
		}
		msgid = xstrdup(m->message_id);
	} else if (compose_message_id(from_addr, &msgid, error_r) < 0) {
		return -1;
	}

	/* Cc: one folded line of plain addresses, each checked like To. */
	struct strbuf cc = STRBUF_INIT;
	size_t n_cc = 0;
	const char *list = m->cc, *item;
	size_t item_len;
	while ((item = compose_next_addr(&list, &item_len)) != NULL) {
		_cleanup_free_ char *addr = xstrndup(item, item_len);
		if (!compose_valid_addr(addr) || ++n_cc > COMPOSE_MAX_CC) {
			strbuf_free(&cc);
			*error_r = n_cc > COMPOSE_MAX_CC ? "too many addresses in Cc"
			                                 : "a Cc address is not a valid plain address";
			return -1;
		}
		strbuf_printf(&cc, "%s<%s>", cc.len > 0 ? ", " : "", addr);
	}
	struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *date = compose_date(m->date);
	_cleanup_free_ char *subject = compose_reply_subject(m->subject, m->ticket_id);
	_cleanup_free_ char *refs = compose_references(m->references, m->in_reply_to);
	strbuf_printf(&sb, "Date: %s\r\n", date);
	address_header(&sb, "From", from_name, from_addr);
	address_header(&sb, "To", m->to_name, m->to_addr);
	if (cc.len > 0)
		compose_header(&sb, "Cc", strbuf_str(&cc));
	strbuf_free(&cc);
	compose_header(&sb, "Subject", subject);
	strbuf_printf(&sb, "Message-ID: <%s>\r\n", msgid);
	if (refs != NULL) {
		/* The parent is the last id of References (see compose_references). */
		const char *last = strrchr(refs, '<');
		strbuf_printf(&sb, "In-Reply-To: %s\r\n", last);
		strbuf_puts(&sb, "References: ");
		for (const char *p = refs; *p != '\0';) {
			size_t len = strcspn(p, " ");
			strbuf_append(&sb, p, len);
			p += len;
			if (*p == ' ') {
				strbuf_puts(&sb, "\r\n ");
				p++;
			}
		}
		strbuf_puts(&sb, "\r\n");
	}
	if (m->auto_submitted)
		strbuf_puts(&sb, "Auto-Submitted: auto-replied\r\n");
	strbuf_puts(&sb, "MIME-Version: 1.0\r\n"
	                 "Content-Type: text/plain; charset=UTF-8\r\n"
	                 "Content-Transfer-Encoding: quoted-printable\r\n"
	                 "\r\n");
	compose_qp(&sb, body);
	*raw_r = strbuf_steal(&sb);
	*message_id_r = TAKE_PTR(msgid);
	return 0;
}

char *compose_render(const char *tmpl, const char *const *keys, const char *const *values,
                     unsigned n)
{
	struct strbuf sb;
	strbuf_init(&sb, COMPOSE_MAX_BODY);
	const char *p = tmpl;
	while (*p != '\0') {
		const char *open = strstr(p, "{{");
		if (open == NULL) {
			strbuf_puts(&sb, p);
			break;
		}
		strbuf_append(&sb, p, (size_t)(open - p));
		const char *close = strstr(open + 2, "}}");
		if (close == NULL) {
			strbuf_puts(&sb, open);
			break;
		}
		const char *key = open + 2;
		size_t key_len = (size_t)(close - key);
		while (key_len > 0 && *key == ' ')
			key++, key_len--;
		while (key_len > 0 && key[key_len - 1] == ' ')
			key_len--;
		bool done = false;
		for (unsigned i = 0; i < n && !done; i++) {
			if (strlen(keys[i]) == key_len && memcmp(keys[i], key, key_len) == 0) {
				strbuf_puts(&sb, values[i] != NULL ? values[i] : "");
				done = true;
			}
		}
		if (!done)
			strbuf_append(&sb, open, (size_t)(close + 2 - open));
		p = close + 2;
	}
	return strbuf_steal(&sb);
}
