/* HTML to plain text: a single forward pass over the bytes with a small
 * state (list and quote depth, pending line breaks), so hostile HTML costs
 * linear time and no stack. Not a validating parser: it only needs text. */
#include "html.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "xalloc.h"

#define HTML_MAX_TAG_NAME 15
#define HTML_MAX_HREF 2048
#define HTML_MAX_NESTING 16 /* list and blockquote depth shown; deeper is flattened */

struct named_entity {
	const char *name;
	uint32_t cp;
};

/* The entities seen in real mail (Outlook, Gmail, French mailers), plus the
 * HTML 4 Latin-1 set that French text uses. */
static const struct named_entity named_entities[] = {
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
	{"nbsp", ' '}, /* a plain space: collapsible, what a reader sees */
	{"iexcl", 0xA1}, {"cent", 0xA2}, {"pound", 0xA3}, {"curren", 0xA4},
	{"yen", 0xA5}, {"brvbar", 0xA6}, {"sect", 0xA7}, {"uml", 0xA8},
	{"copy", 0xA9}, {"ordf", 0xAA}, {"laquo", 0xAB}, {"not", 0xAC},
	{"shy", 0xAD}, {"reg", 0xAE}, {"macr", 0xAF}, {"deg", 0xB0},
	{"plusmn", 0xB1}, {"sup2", 0xB2}, {"sup3", 0xB3}, {"acute", 0xB4},
	{"micro", 0xB5}, {"para", 0xB6}, {"middot", 0xB7}, {"cedil", 0xB8},
	{"sup1", 0xB9}, {"ordm", 0xBA}, {"raquo", 0xBB}, {"frac14", 0xBC},
	{"frac12", 0xBD}, {"frac34", 0xBE}, {"iquest", 0xBF},
	{"Agrave", 0xC0}, {"Aacute", 0xC1}, {"Acirc", 0xC2}, {"Atilde", 0xC3},
	{"Auml", 0xC4}, {"Aring", 0xC5}, {"AElig", 0xC6}, {"Ccedil", 0xC7},
	{"Egrave", 0xC8}, {"Eacute", 0xC9}, {"Ecirc", 0xCA}, {"Euml", 0xCB},
	{"Igrave", 0xCC}, {"Iacute", 0xCD}, {"Icirc", 0xCE}, {"Iuml", 0xCF},
	{"ETH", 0xD0}, {"Ntilde", 0xD1}, {"Ograve", 0xD2}, {"Oacute", 0xD3},
	{"Ocirc", 0xD4}, {"Otilde", 0xD5}, {"Ouml", 0xD6}, {"times", 0xD7},
	{"Oslash", 0xD8}, {"Ugrave", 0xD9}, {"Uacute", 0xDA}, {"Ucirc", 0xDB},
	{"Uuml", 0xDC}, {"Yacute", 0xDD}, {"THORN", 0xDE}, {"szlig", 0xDF},
	{"agrave", 0xE0}, {"aacute", 0xE1}, {"acirc", 0xE2}, {"atilde", 0xE3},
	{"auml", 0xE4}, {"aring", 0xE5}, {"aelig", 0xE6}, {"ccedil", 0xE7},
	{"egrave", 0xE8}, {"eacute", 0xE9}, {"ecirc", 0xEA}, {"euml", 0xEB},
	{"igrave", 0xEC}, {"iacute", 0xED}, {"icirc", 0xEE}, {"iuml", 0xEF},
	{"eth", 0xF0}, {"ntilde", 0xF1}, {"ograve", 0xF2}, {"oacute", 0xF3},
	{"ocirc", 0xF4}, {"otilde", 0xF5}, {"ouml", 0xF6}, {"divide", 0xF7},
	{"oslash", 0xF8}, {"ugrave", 0xF9}, {"uacute", 0xFA}, {"ucirc", 0xFB},
	{"uuml", 0xFC}, {"yacute", 0xFD}, {"thorn", 0xFE}, {"yuml", 0xFF},
	{"OElig", 0x152}, {"oelig", 0x153}, {"Scaron", 0x160}, {"scaron", 0x161},
	{"Yuml", 0x178}, {"fnof", 0x192}, {"circ", 0x2C6}, {"tilde", 0x2DC},
	{"ensp", 0x2002}, {"emsp", 0x2003}, {"thinsp", 0x2009},
	{"zwnj", 0x200C}, {"zwj", 0x200D}, {"lrm", 0x200E}, {"rlm", 0x200F},
	{"ndash", 0x2013}, {"mdash", 0x2014}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
	{"sbquo", 0x201A}, {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"bdquo", 0x201E},
	{"dagger", 0x2020}, {"Dagger", 0x2021}, {"bull", 0x2022},
	{"hellip", 0x2026}, {"permil", 0x2030}, {"prime", 0x2032},
	{"lsaquo", 0x2039}, {"rsaquo", 0x203A}, {"euro", 0x20AC},
	{"trade", 0x2122}, {"larr", 0x2190}, {"rarr", 0x2192}, {"check", 0x2713},
};

/* HTML5 numeric references 0x80..0x9F mean windows-1252 (what senders meant). */
static const uint16_t cp1252_c1[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t html_decode_entity(const char *s, size_t n, char *out, size_t *out_len_r)
{
	if (n < 3 || s[0] != '&')
		return 0;
	if (s[1] == '#') {
		size_t i = 2;
		bool hex = false;
		if (i < n && (s[i] == 'x' || s[i] == 'X')) {
			hex = true;
			i++;
		}
		size_t start = i;
		uint32_t cp = 0;
		for (; i < n && i - start < 8; i++) {
			int v = hex ? hex_value(s[i]) : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
			if (v < 0)
				break;
			cp = cp * (hex ? 16 : 10) + (uint32_t)v;
		}
		if (i == start)
			return 0;
		/* Swallow any further digits of an absurdly long number. */
		while (i < n && (hex ? hex_value(s[i]) >= 0 : (s[i] >= '0' && s[i] <= '9'))) {
			cp = 0x110000;
			i++;
		}
		if (i < n && s[i] == ';')
			i++;
		if (cp >= 0x80 && cp <= 0x9F)
			cp = cp1252_c1[cp - 0x80];
		*out_len_r = utf8_encode(cp, out);
		return i;
	}
	size_t i = 1;
	while (i < n && i < 10 && is_alnum(s[i]))
		i++;
	size_t name_len = i - 1;
	if (name_len == 0)
		return 0;
	bool semicolon = i < n && s[i] == ';';
	for (size_t k = 0; k < ARRAY_SIZE(named_entities); k++) {
		const struct named_entity *e = &named_entities[k];
		if (strlen(e->name) != name_len || memcmp(e->name, s + 1, name_len) != 0)
			continue;
		/* Without ';' only the few that old mailers leave bare. */
		if (!semicolon && e->cp != '&' && e->cp != '<' && e->cp != '>' &&
		    e->cp != '"' && strcmp(e->name, "nbsp") != 0)
			return 0;
		if (e->cp == 0xAD || (e->cp >= 0x200B && e->cp <= 0x200F)) {
			*out_len_r = 0; /* invisible: soft hyphen, zero-width, direction marks */
		} else {
			*out_len_r = utf8_encode(e->cp, out);
		}
		return i + (semicolon ? 1 : 0);
	}
	return 0;
}

struct html_out {
	struct strbuf sb;
	size_t max;
	unsigned pending_nl;  /* line breaks owed before the next text */
	bool pending_space;
	bool pending_bullet;
	unsigned nl_run;      /* newlines at the end of the output */
	unsigned quote_depth;
	unsigned list_depth;
	unsigned pre_depth;
	bool full;
};

static void out_raw(struct html_out *o, const char *s, size_t n)
{
	if (o->full || n == 0)
		return;
	if (o->max != 0 && o->sb.len + n > o->max) {
		o->full = true;
		return;
	}
	strbuf_append(&o->sb, s, n);
	if (s[n - 1] == '\n') {
		o->nl_run = 0;
		for (size_t i = n; i > 0 && s[i - 1] == '\n'; i--)
			o->nl_run++;
	} else {
		o->nl_run = 0;
	}
}

static bool at_line_start(const struct html_out *o)
{
	return o->sb.len == 0 || o->nl_run > 0;
}

/* Settles owed breaks, the quote prefix and the bullet before text. */
static void out_newlines(struct html_out *o)
{
	if (o->sb.len > 0 && o->pending_nl > o->nl_run) {
		unsigned want = o->pending_nl > 2 ? 2 : o->pending_nl;
		while (o->nl_run < want && !o->full) {
			/* A blank line inside a quote keeps its "> " marker. */
			char line[HTML_MAX_NESTING + 2];
			size_t n = 0;
			if (o->nl_run > 0)
				for (unsigned q = 0; q < o->quote_depth; q++)
					line[n++] = '>';
			line[n++] = '\n';
			unsigned before = o->nl_run;
			out_raw(o, line, n);
			o->nl_run = before + 1;
		}
	}
	o->pending_nl = 0;
}

static void out_flush(struct html_out *o)
{
	out_newlines(o);
	if (at_line_start(o)) {
		for (unsigned q = 0; q < o->quote_depth; q++)
			out_raw(o, "> ", 2);
		o->pending_space = false;
	}
	if (o->pending_bullet) {
		for (unsigned l = 1; l < o->list_depth; l++)
			out_raw(o, "  ", 2);
		out_raw(o, "- ", 2);
		o->pending_bullet = false;
		o->pending_space = false;
	}
	if (o->pending_space) {
		out_raw(o, " ", 1);
		o->pending_space = false;
	}
}

static void out_break(struct html_out *o, unsigned n)
{
	if (o->pending_nl < n)
		o->pending_nl = n;
	o->pending_space = false;
}

/* Text content, whitespace collapsed outside <pre>. */
static void out_text(struct html_out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !o->full; i++) {
		if (o->pre_depth > 0) {
			if (s[i] == '\r')
				continue;
			if (s[i] == '\n') {
				out_flush(o);
				out_raw(o, "\n", 1);
				continue;
			}
			out_flush(o);
			out_raw(o, s + i, 1);
			continue;
		}
		if (is_space(s[i])) {
			if (!at_line_start(o) || o->pending_nl == 0)
				o->pending_space = true;
			continue;
		}
		size_t j = i;
		while (j < n && !is_space(s[j]))
			j++;
		out_flush(o);
		out_raw(o, s + i, j - i);
		i = j - 1;
	}
}

static const char *const paragraph_tags[] = {
	"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre",
	"hr", "dl", "blockquote",
};
static const char *const line_tags[] = {
	"div", "li", "tr", "dt", "dd", "address", "article", "aside", "center",
	"fieldset", "figure", "figcaption", "footer", "form", "header", "main",
	"nav", "section", "caption", "body", "html", "tbody", "thead",
};
/* Elements whose content is never text for a reader. */
static const char *const skipped_tags[] = {
	"script", "style", "title", "template", "noscript", "object", "xml",
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) /* the first letter rules most out */
		if (list[i][0] == name[0] && strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/* Position of the first "<name" or "</name" (case-insensitive) from p, or end. */
static const char *find_tag(const char *p, const char *end, const char *name, bool closing)
{
	size_t nl = strlen(name);
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (!lt)
			return end;
		const char *q = lt + 1;
		if (closing) {
			if (q < end && *q == '/')
				q++;
			else {
				p = lt + 1;
				continue;
			}
		}
		if ((size_t)(end - q) >= nl && strncasecmp(q, name, nl) == 0 &&
		    (q + nl == end || !is_alnum(q[nl])))
			return lt;
		p = lt + 1;
	}
	return end;
}

static const char *skip_past_gt(const char *p, const char *end)
{
	const char *gt = memchr(p, '>', (size_t)(end - p));
	return gt ? gt + 1 : end;
}

struct tag {
	char name[HTML_MAX_TAG_NAME + 1];
	bool closing;
	struct strbuf href;
};

/* Parses the tag at p ('<' then '/' or a letter); returns the byte after it. */
static const char *parse_tag(const char *p, const char *end, struct tag *t)
{
	size_t nl = 0;
	p++;
	t->closing = false;
	if (p < end && *p == '/') {
		t->closing = true;
		p++;
	}
	while (p < end && is_alnum(*p)) {
		if (nl < HTML_MAX_TAG_NAME) {
			char c = *p;
			t->name[nl++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		p++;
	}
	t->name[nl] = '\0';
	strbuf_reset(&t->href);
	while (p < end && *p != '>') {
		if (is_space(*p) || *p == '/') {
			p++;
			continue;
		}
		const char *an = p;
		while (p < end && !is_space(*p) && *p != '=' && *p != '>' && *p != '/')
			p++;
		size_t an_len = (size_t)(p - an);
		while (p < end && is_space(*p))
			p++;
		if (p >= end || *p != '=')
			continue;
		p++;
		while (p < end && is_space(*p))
			p++;
		const char *v = p, *v_end;
		if (p < end && (*p == '"' || *p == '\'')) {
			char q = *p++;
			v = p;
			const char *qe = memchr(p, q, (size_t)(end - p));
			v_end = qe ? qe : end;
			p = qe ? qe + 1 : end;
		} else {
			while (p < end && !is_space(*p) && *p != '>')
				p++;
			v_end = p;
		}
		if (an_len == 4 && strncasecmp(an, "href", 4) == 0 && !t->closing) {
			strbuf_reset(&t->href);
			for (const char *s = v; s < v_end && t->href.len < HTML_MAX_HREF; s++) {
				char buf[8];
				size_t bl;
				size_t used = *s == '&' ? html_decode_entity(s, (size_t)(v_end - s), buf, &bl) : 0;
				if (used > 0) {
					strbuf_append(&t->href, buf, bl);
					s += used - 1;
				} else if (!is_space(*s)) {
					strbuf_append(&t->href, s, 1);
				}
			}
		}
	}
	return p < end ? p + 1 : end;
}

static bool starts_with_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* The url without its scheme and trailing slash, for comparison with text. */
static void url_core(const char *url, const char **core_r, size_t *len_r)
{
	const char *c = url;
	if (starts_with_ci(c, "mailto:"))
		c += 7;
	else if (starts_with_ci(c, "https://"))
		c += 8;
	else if (starts_with_ci(c, "http://"))
		c += 7;
	size_t n = strlen(c);
	while (n > 0 && c[n - 1] == '/')
		n--;
	*core_r = c;
	*len_r = n;
}

/* A link is worth "(url)" when the text does not already show it. */
static bool link_is_useful(const char *href, const char *text, size_t text_len)
{
	if (!starts_with_ci(href, "http://") && !starts_with_ci(href, "https://") &&
	    !starts_with_ci(href, "mailto:"))
		return false;
	while (text_len > 0 && is_space(*text)) {
		text++;
		text_len--;
	}
	while (text_len > 0 && is_space(text[text_len - 1]))
		text_len--;
	if (text_len == 0)
		return false;
	const char *core;
	size_t core_len;
	url_core(href, &core, &core_len);
	if (core_len == 0)
		return false;
	const char *tcore;
	size_t tcore_len;
	_cleanup_free_ char *t = xstrndup(text, text_len);
	url_core(t, &tcore, &tcore_len);
	if (tcore_len >= 4 && starts_with_ci(tcore, "www."))
		tcore += 4, tcore_len -= 4;
	if (core_len >= 4 && starts_with_ci(core, "www."))
		core += 4, core_len -= 4;
	return !(tcore_len == core_len && strncasecmp(tcore, core, core_len) == 0);
}

char *html_to_text(const char *html, size_t len, size_t max_out)
{
	struct html_out o;
	memset(&o, 0, sizeof(o));
	strbuf_init(&o.sb, 0);
	o.max = max_out;
	struct tag t;
	memset(&t, 0, sizeof(t));
	strbuf_init(&t.href, HTML_MAX_HREF + 8);
	char *link_href = NULL;
	size_t link_start = 0;

	const char *p = html, *end = html + len;
	while (p < end && !o.full) {
		if (*p == '&') {
			char buf[8];
			size_t bl;
			size_t used = html_decode_entity(p, (size_t)(end - p), buf, &bl);
			if (used > 0) {
				if (bl == 1 && buf[0] == ' ')
					out_text(&o, " ", 1);
				else if (bl > 0) {
					out_flush(&o);
					out_raw(&o, buf, bl);
				}
				p += used;
				continue;
			}
			out_text(&o, p, 1);
			p++;
			continue;
		}
		if (*p != '<') {
			const char *q = p;
			while (q < end && *q != '<' && *q != '&')
				q++;
			out_text(&o, p, (size_t)(q - p));
			p = q;
			continue;
		}
		/* '<' */
		if (p + 1 >= end) {
			out_text(&o, p, 1);
			p++;
			continue;
		}
		if (p[1] == '!') {
			if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
				const char *ce = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
				p = ce ? ce + 3 : end;
			} else {
				p = skip_past_gt(p, end);
			}
			continue;
		}
		if (p[1] == '?') {
			p = skip_past_gt(p, end);
			continue;
		}
		if (!(p[1] == '/' || (p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z'))) {
			out_text(&o, p, 1);
			p++;
			continue;
		}
		p = parse_tag(p, end, &t);
		const char *name = t.name;
		if (!t.closing && in_list(name, skipped_tags, ARRAY_SIZE(skipped_tags))) {
			const char *close = find_tag(p, end, name, true);
			p = close < end ? skip_past_gt(close, end) : end;
			continue;
		}
		if (!t.closing && strcmp(name, "head") == 0) {
			/* Whatever the head holds is not text; some mailers never close it. */
			const char *close = find_tag(p, end, "head", true);
			const char *body = find_tag(p, end, "body", false);
			const char *stop = close < body ? close : body;
			p = stop == close && close < end ? skip_past_gt(close, end) : stop;
			continue;
		}
		if (strcmp(name, "br") == 0) {
			/* Breaks add up (two make a blank line), unlike block edges. */
			o.pending_space = false;
			if (o.sb.len > 0) {
				unsigned base = o.pending_nl > o.nl_run ? o.pending_nl : o.nl_run;
				o.pending_nl = base + 1 > 2 ? 2 : base + 1;
			}
			continue;
		}
		if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
			if (!at_line_start(&o))
				o.pending_space = true;
			continue;
		}
		if (strcmp(name, "a") == 0) {
			if (!t.closing) {
				free(link_href);
				link_href = t.href.len > 0 ? xstrdup(strbuf_str(&t.href)) : NULL;
				out_flush(&o);
				link_start = o.sb.len;
			} else if (link_href) {
				if (link_start <= o.sb.len &&
				    link_is_useful(link_href, strbuf_str(&o.sb) + link_start, o.sb.len - link_start)) {
					out_flush(&o);
					out_raw(&o, " (", 2);
					out_raw(&o, link_href, strlen(link_href));
					out_raw(&o, ")", 1);
				}
				free(link_href);
				link_href = NULL;
			}
			continue;
		}
		bool paragraph = in_list(name, paragraph_tags, ARRAY_SIZE(paragraph_tags));
		bool line = in_list(name, line_tags, ARRAY_SIZE(line_tags));
		if (!paragraph && !line)
			continue; /* inline element: its text flows on */
		if (strcmp(name, "ul") == 0 || strcmp(name, "ol") == 0) {
			if (!t.closing && o.list_depth < HTML_MAX_NESTING)
				o.list_depth++;
			else if (t.closing && o.list_depth > 0)
				o.list_depth--;
			out_break(&o, o.list_depth > 0 ? 1 : 2);
			continue;
		}
		if (strcmp(name, "blockquote") == 0) {
			/* The break belongs outside the quote, on either side. */
			if (!t.closing) {
				out_break(&o, 2);
				out_newlines(&o);
				if (o.quote_depth < HTML_MAX_NESTING)
					o.quote_depth++;
			} else {
				if (o.quote_depth > 0)
					o.quote_depth--;
				out_break(&o, 2);
			}
			continue;
		}
		if (strcmp(name, "pre") == 0) {
			if (!t.closing && o.pre_depth < HTML_MAX_NESTING)
				o.pre_depth++;
			else if (t.closing && o.pre_depth > 0)
				o.pre_depth--;
		}
		out_break(&o, paragraph ? 2 : 1);
		if (strcmp(name, "li") == 0 && !t.closing)
			o.pending_bullet = true;
	}
	free(link_href);
	strbuf_free(&t.href);

	/* Trim trailing whitespace and cut at a character boundary. */
	char *s = strbuf_steal(&o.sb);
	size_t n = strlen(s);
	while (n > 0 && (is_space(s[n - 1])))
		n--;
	/* <pre> text is copied byte by byte: the limit may have cut a character. */
	size_t k = n;
	while (k > 0 && n - k < 3 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
		k--;
	if (k > 0 && (unsigned char)s[k - 1] >= 0xC0) {
		unsigned char lead = (unsigned char)s[k - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
		if (n - (k - 1) < need)
			n = k - 1;
	}
	s[n] = '\0';
	return s;
}
