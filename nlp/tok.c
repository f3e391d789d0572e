/* Tokeniser: one pass cuts the text into primitives (words, numbers,
 * codes, currency signs, URLs, addresses) and merges them with a little
 * context ("commande n° 12345" -> "commande" + __order__) as they come.
 * Most primitives need none and become tokens at once; the few whose token
 * depends on the next ones wait in a short queue. */
#include "tok.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <utf8proc.h>


enum prim_type { P_WORD, P_NUM, P_CODE, P_CURRENCY, P_HASH, P_DEGREE, P_URL, P_EMAIL };

struct prim {
	uint32_t off, len;
	enum prim_type type;
};

/* The longest wait: an order or invoice word, three fillers ("n", "#",
 * "°"), then the number it announces. */
#define PENDING_MAX 5

struct scan {
	const char *text;
	size_t len;
	size_t count, max; /* primitives cut so far; the cap on them */
	/* Primitives waiting for the ones after them, in text order: the
	 * first is a number, a currency sign or an order or invoice word. */
	struct prim pending[PENDING_MAX];
	unsigned npending;
	tok_callback_t *callback;
	void *context;
	size_t emitted, max_tokens;
	bool truncated, stopped;
};

/* ASCII classes, by table: mail is mostly ASCII and these tests run on
 * every byte. */
enum { C_SPACE = 1, C_WORD = 2, C_DIGIT = 4, C_MARK = 8 /* '.', '@', ':' */ };
static const uint8_t ascii_class[128] = {
    ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE, ['\r'] = C_SPACE,
    [' '] = C_SPACE,   ['.'] = C_MARK,    ['@'] = C_MARK,    [':'] = C_MARK,
#define DIGIT(c) [c] = C_WORD | C_DIGIT
    DIGIT('0'), DIGIT('1'), DIGIT('2'), DIGIT('3'), DIGIT('4'),
    DIGIT('5'), DIGIT('6'), DIGIT('7'), DIGIT('8'), DIGIT('9'),
#undef DIGIT
#define LETTERS(a, b, c, d, e, f, g, h, i, j, k, l, m)                                            \
	[a] = C_WORD, [b] = C_WORD, [c] = C_WORD, [d] = C_WORD, [e] = C_WORD, [f] = C_WORD,     \
	[g] = C_WORD, [h] = C_WORD, [i] = C_WORD, [j] = C_WORD, [k] = C_WORD, [l] = C_WORD,     \
	[m] = C_WORD
    LETTERS('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm'),
    LETTERS('n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z'),
    LETTERS('A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M'),
    LETTERS('N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z'),
#undef LETTERS
};

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Eight bytes at a time where they are plain ASCII: the end of a chunk or
 * of a word found from bit masks rather than by a branch per byte, which the
 * processor mispredicts at every end. Masks hold the high bit of each byte;
 * the arithmetic is on the low seven bits, where no byte carries into the
 * next. */
#define SWAR_SCAN 1
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t load8(const char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Bytes of low7 (bytes under 0x80) in lo..hi. */
static inline uint64_t in_range(uint64_t low7, unsigned char lo, unsigned char hi)
{
	return (low7 + (0x80 - lo) * ONES) & ~(low7 + (0x7f - hi) * ONES) & HIGHS;
}

/* Bytes of low7 equal to c (c under 0x80). */
static inline uint64_t equal_to(uint64_t low7, unsigned char c)
{
	return ~((low7 ^ (c * ONES)) + 0x7f * ONES) & HIGHS;
}

/* How many bytes a mask has (no call to a popcount routine: the baseline
 * x86-64 has no instruction for it). */
static inline unsigned mask_bytes(uint64_t mask)
{
	return (unsigned)(((mask >> 7) * ONES) >> 56);
}

/* The bytes below byte k (k < 8). */
static inline uint64_t below_byte(unsigned k)
{
	return (UINT64_C(1) << (8 * k)) - 1;
}
#endif

static int32_t cp_at(const struct scan *s, size_t i, size_t *n_r)
{
	unsigned char c = (unsigned char)s->text[i];
	if (c < 0x80) {
		*n_r = 1;
		return c;
	}
	utf8proc_int32_t cp;
	utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s->text + i,
	                                      (utf8proc_ssize_t)(s->len - i), &cp);
	if (n <= 0) {
		*n_r = 1;
		return -1;
	}
	*n_r = (size_t)n;
	return cp;
}

static bool is_digit(int32_t cp)
{
	return cp >= '0' && cp <= '9';
}

static bool is_word_cp(int32_t cp)
{
	if (cp < 0x80)
		return cp >= 0 && (ascii_class[cp] & C_WORD);
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ND:
		return true;
	default:
		return false;
	}
}

static bool is_space_cp(int32_t cp)
{
	if (cp < 0x80)
		return cp >= 0 && (ascii_class[cp] & C_SPACE);
	utf8proc_category_t cat = utf8proc_category(cp);
	return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
	       cat == UTF8PROC_CATEGORY_ZP;
}

static inline void add_prim(struct scan *s, size_t off, size_t len, enum prim_type type);

static bool has_prefix(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(p, prefix, n) == 0;
}

/* Word lists with their lengths, ended by {NULL, 0}: every word of a mail
 * is checked against a few of them. */
struct word {
	const char *s;
	size_t len;
};
#define W(lit) {lit, sizeof(lit) - 1}

static bool word_in(const char *p, size_t len, const struct word *list)
{
	if (len == 0)
		return false; /* no list holds "" */
	for (; list->s != NULL; list++)
		if (list->len == len && list->s[0] == p[0] && memcmp(list->s, p, len) == 0)
			return true;
	return false;
}

static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

/* A domain: dot-separated labels, the last one at least two letters. */
static bool is_domain(const char *p, size_t len)
{
	if (len < 4 || p[0] == '.' || p[len - 1] == '.' || memchr(p, '.', len) == NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_host_char(p[i]) || (p[i] == '.' && i + 1 < len && p[i + 1] == '.'))
			return false;
	size_t last = len;
	while (last > 0 && p[last - 1] != '.')
		last--;
	if (len - last < 2)
		return false;
	for (size_t i = last; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')))
			return false;
	return true;
}

static const struct word bare_tlds[] = {
    W("com"), W("fr"), W("net"), W("org"), W("io"),  W("eu"),  W("be"),  W("ch"),        W("ca"),
    W("uk"),  W("de"), W("info"), W("biz"), W("co"), W("us"),  W("app"), W("dev"), {NULL, 0}};

/* strchr("<([{\"'", c) != NULL, NUL included, without the call */
static bool is_lead(char c)
{
	switch (c) {
	case '<': case '(': case '[': case '{': case '"': case '\'': case '\0':
		return true;
	default:
		return false;
	}
}

/* strchr(">)]}\"'.,;:!?", c) != NULL, NUL included */
static bool is_trail(char c)
{
	switch (c) {
	case '>': case ')': case ']': case '}': case '"': case '\'': case '.': case ',':
	case ';': case ':': case '!': case '?': case '\0':
		return true;
	default:
		return false;
	}
}

/* URLs and addresses are recognised on whole whitespace-delimited chunks;
 * returns true when [start, end) was consumed. */
static bool scan_chunk_special(struct scan *s, size_t start, size_t end)
{
	const char *t = s->text;
	while (start < end && is_lead(t[start]))
		start++;
	while (end > start && is_trail(t[end - 1]))
		end--;
	if (end <= start)
		return false;
	const char *p = t + start;
	size_t n = end - start;
	if (has_prefix(p, n, "http://") || has_prefix(p, n, "https://") ||
	    has_prefix(p, n, "ftp://") || (has_prefix(p, n, "www.") && n > 6)) {
		add_prim(s, start, n, P_URL);
		return true;
	}
	if (has_prefix(p, n, "mailto:")) {
		p += 7;
		n -= 7;
	}
	const char *at = memchr(p, '@', n);
	if (at != NULL && at > p) {
		bool ok = true;
		for (const char *q = p; q < at && ok; q++)
			ok = (unsigned char)*q >= 0x80 || is_host_char(*q) || *q == '_' ||
			     *q == '%' || *q == '+' || *q == '\'' || *q == '\0';
		if (ok && is_domain(at + 1, n - (size_t)(at + 1 - p))) {
			add_prim(s, start, end - start, P_EMAIL);
			return true;
		}
	}
	/* A bare host name with a common top-level domain ("monsite.fr/aide"). */
	const char *slash = memchr(p, '/', n);
	size_t host_len = slash != NULL ? (size_t)(slash - p) : n;
	if (is_domain(p, host_len)) {
		size_t last = host_len;
		while (last > 0 && p[last - 1] != '.')
			last--;
		if (word_in(p + last, host_len - last, bare_tlds)) {
			add_prim(s, start, n, P_URL);
			return true;
		}
	}
	return false;
}

static const struct word elisions[] = {
    W("l"),      W("d"),      W("j"),      W("m"),      W("n"),      W("s"),
    W("t"),      W("c"),      W("qu"),     W("jusqu"),  W("lorsqu"), W("puisqu"),
    W("quoiqu"), W("presqu"), {NULL, 0}};

/* One part of a word (between hyphens): elision and possessive dropped.
 * may_elide: the part may hold an apostrophe (a run without one skips the
 * search). */
static void add_word_part(struct scan *s, size_t off, size_t len, bool may_elide)
{
	const char *p = s->text + off;
	const char *apo = may_elide ? memchr(p, '\'', len) : NULL;
	if (apo != NULL && word_in(p, (size_t)(apo - p), elisions)) {
		size_t cut = (size_t)(apo - p) + 1;
		off += cut;
		len -= cut;
		p += cut;
	}
	if (len > 3 && p[len - 2] == '\'' && p[len - 1] == 's')
		len -= 2;
	if (len < 2 || len > TOK_MAX_WORD_LEN)
		return;
	add_prim(s, off, len, P_WORD);
}

static size_t scan_run(struct scan *s, size_t p, size_t end)
{
	size_t q = p, n;
	int32_t prev = -1;
	unsigned letters = 0, digits = 0, hyphens = 0, apostrophes = 0;
	while (q < end) {
#ifdef SWAR_SCAN
		/* the ASCII letters and digits from q, counted by mask; the byte
		 * that ends them is left to the loop below */
		if (end - q >= 8) {
			uint64_t v = load8(s->text + q), low7 = v & ~HIGHS, ascii = ~v & HIGHS;
			uint64_t dig = in_range(low7, '0', '9') & ascii;
			uint64_t alpha = (in_range(low7, 'A', 'Z') | in_range(low7, 'a', 'z')) & ascii;
			uint64_t other = ~(dig | alpha) & HIGHS;
			unsigned k = other == 0 ? 8 : (unsigned)__builtin_ctzll(other) / 8;
			if (k > 0) {
				uint64_t in = k == 8 ? ~UINT64_C(0) : below_byte(k);
				digits += mask_bytes(dig & in);
				letters += mask_bytes(alpha & in);
				prev = (unsigned char)s->text[q + k - 1];
				q += k;
				continue;
			}
		}
#endif
		unsigned char c = (unsigned char)s->text[q];
		if (c < 0x80 && (ascii_class[c] & C_WORD)) {
			if (ascii_class[c] & C_DIGIT)
				digits++;
			else
				letters++;
			prev = c;
			q++;
			continue;
		}
		int32_t cp = cp_at(s, q, &n);
		if (is_word_cp(cp)) {
			if (is_digit(cp))
				digits++;
			else
				letters++;
			prev = cp;
			q += n;
			continue;
		}
		if (q + n >= end ||
		    (cp != '\'' && cp != '-' && cp != '.' && cp != ',' && cp != '/'))
			break;
		size_t n2;
		int32_t next = cp_at(s, q + n, &n2);
		if (!is_word_cp(next))
			break;
		bool join;
		if (cp == '\'')
			join = !is_digit(prev) && !is_digit(next);
		else if (cp == '-')
			join = true;
		else
			join = is_digit(prev) && is_digit(next);
		if (!join)
			break;
		if (cp == '-')
			hyphens++;
		else if (cp == '\'')
			apostrophes++;
		q += n;
	}
	size_t len = q - p;
	if (digits > 0 && letters == 0 && hyphens == 0) {
		add_prim(s, p, len, P_NUM);
	} else if (digits > 0 && (hyphens > 0 || digits >= 3) && len <= TOK_MAX_WORD_LEN) {
		add_prim(s, p, len, P_CODE);
	} else if (hyphens == 0) {
		/* '-' and '\'' are in a run only where they joined two parts */
		add_word_part(s, p, len, apostrophes > 0);
	} else {
		size_t part = p;
		for (size_t i = p; i <= q; i++) {
			if (i == q || s->text[i] == '-') {
				add_word_part(s, part, i - part, apostrophes > 0);
				part = i + 1;
			}
		}
	}
	return q;
}

static void scan_text(struct scan *s)
{
	const unsigned char *t = (const unsigned char *)s->text;
	size_t i = 0, n;
	/* past the cap on tokens the rest is left out: no need to cut it */
	while (i < s->len && s->count < s->max && !s->truncated) {
		if (t[i] < 0x80) {
			if (ascii_class[t[i]] & C_SPACE) {
				i++;
				continue;
			}
		} else if (is_space_cp(cp_at(s, i, &n))) {
			i += n;
			continue;
		}
		/* The chunk up to the next space; a URL has ':' or '.', an
		 * address '@', a host name '.'. */
		size_t end = i;
		bool maybe_special = false;
		while (end < s->len) {
#ifdef SWAR_SCAN
			/* up to the first byte that may end the chunk (a space or
			 * any control, or a byte of a multibyte character): the
			 * loop below decides on that one */
			if (s->len - end >= 8) {
				uint64_t v = load8(s->text + end), low7 = v & ~HIGHS;
				uint64_t stop = (v & HIGHS) | (~(low7 + 0x5f * ONES) & HIGHS);
				unsigned k = stop == 0 ? 8 : (unsigned)__builtin_ctzll(stop) / 8;
				if (k > 0) {
					uint64_t in = k == 8 ? ~UINT64_C(0) : below_byte(k);
					uint64_t marks = equal_to(low7, '.') | equal_to(low7, '@') |
					                 equal_to(low7, ':');
					maybe_special |= (marks & in) != 0;
					end += k;
					continue;
				}
			}
#endif
			if (t[end] < 0x80) {
				uint8_t cls = ascii_class[t[end]];
				if (cls & C_SPACE)
					break;
				maybe_special |= cls & C_MARK;
				end++;
				continue;
			}
			size_t m;
			if (is_space_cp(cp_at(s, end, &m)))
				break;
			end += m;
		}
		if (maybe_special && scan_chunk_special(s, i, end)) {
			i = end;
			continue;
		}
		while (i < end) {
			if (t[i] < 0x80) {
				uint8_t cls = ascii_class[t[i]];
				if (cls & C_WORD) {
					i = scan_run(s, i, end);
					continue;
				}
				if (t[i] == '$')
					add_prim(s, i, 1, P_CURRENCY);
				else if (t[i] == '#')
					add_prim(s, i, 1, P_HASH);
				i++;
				continue;
			}
			int32_t cp = cp_at(s, i, &n);
			if (is_word_cp(cp)) {
				i = scan_run(s, i, end);
				continue;
			}
			if (cp == 0x20AC || cp == 0xA3 || cp == 0xA5)
				add_prim(s, i, n, P_CURRENCY);
			else if (cp == 0xB0)
				add_prim(s, i, n, P_DEGREE);
			i += n;
		}
	}
}

static const struct word order_words[] = {W("commande"), W("commandes"), W("cmd"),
                                          W("order"),    W("orders"),    {NULL, 0}};
static const struct word invoice_words[] = {W("facture"), W("factures"), W("invoice"),
                                            W("invoices"), W("avoir"),   W("bill"),
                                            W("receipt"), W("recu"),     {NULL, 0}};
static const struct word number_fillers[] = {W("n"),   W("no"),        W("num"), W("numero"),
                                             W("number"), W("nr"),     W("nbr"), W("ref"),
                                             W("reference"), W("id"), {NULL, 0}};
static const struct word currency_words[] = {W("eur"), W("euro"),    W("euros"), W("usd"),
                                             W("dollar"), W("dollars"), W("gbp"), W("chf"),
                                             W("cad"), {NULL, 0}};

static bool prim_is_word(const struct scan *s, const struct prim *p, const struct word *list)
{
	return p->type == P_WORD && word_in(s->text + p->off, p->len, list);
}

/* Whether a word may open an order or invoice reference: by its first
 * letter, the lengths of the words of order_words and invoice_words that
 * start with it, as bits, so that most words skip both lists with one
 * table load and no mispredicted jump (keep in step with the lists). */
static const uint16_t announce_lens[128] = {
    ['a'] = 1u << 5,                       /* avoir */
    ['b'] = 1u << 4,                       /* bill */
    ['c'] = 1u << 3 | 1u << 8 | 1u << 9,   /* cmd, commande, commandes */
    ['f'] = 1u << 7 | 1u << 8,             /* facture, factures */
    ['i'] = 1u << 7 | 1u << 8,             /* invoice, invoices */
    ['o'] = 1u << 5 | 1u << 6,             /* order, orders */
    ['r'] = 1u << 4 | 1u << 7,             /* recu, receipt */
};

static bool may_announce_number(const struct scan *s, const struct prim *p)
{
	unsigned char c = (unsigned char)s->text[p->off];
	return c < 0x80 && p->len < 16 && (announce_lens[c] >> p->len & 1);
}

static const char *code_class(const char *p, size_t len)
{
	static const char *const inv[] = {"fac", "fa-", "fct", "inv", "bill", NULL};
	static const char *const ord[] = {"cmd", "ord", "po-", "co-", NULL};
	for (const char *const *q = inv; *q != NULL; q++)
		if (has_prefix(p, len, *q))
			return TOK_CLASS_INVOICE;
	for (const char *const *q = ord; *q != NULL; q++)
		if (has_prefix(p, len, *q))
			return TOK_CLASS_ORDER;
	return TOK_CLASS_REF;
}

static inline void emit(struct scan *s, const char *text, size_t len, enum tok_kind kind)
{
	if (s->stopped)
		return;
	if (s->emitted >= s->max_tokens) {
		s->truncated = true;
		s->stopped = true;
		return;
	}
	s->emitted++;
	if (s->callback(s->context, text, len, kind) != 0)
		s->stopped = true;
}

static void emit_class(struct scan *s, const char *cls)
{
	emit(s, cls, strlen(cls), TOK_CLASS);
}
/* For the TOK_CLASS_* literals: their length known at compile time. */
#define EMIT_CLASS(s, lit) emit((s), (lit), sizeof(lit) - 1, TOK_CLASS)

/* The host of a URL ("https://www.shop.example.com:8080/x" ->
 * "shop.example.com") or the domain of an address. */
static void emit_host(struct scan *s, const char *p, size_t len, bool address)
{
	const char *end = p + len;
	if (address) {
		const char *at = memchr(p, '@', len);
		if (at == NULL)
			return;
		p = at + 1;
	} else {
		const char *scheme = memmem(p, len, "://", 3);
		if (scheme != NULL)
			p = scheme + 3;
		if (end - p > 4 && memcmp(p, "www.", 4) == 0)
			p += 4;
		const char *q = p;
		while (q < end && *q != '/' && *q != '?' && *q != '#' && *q != ':')
			q++;
		end = q;
	}
	if (end > p && end - p <= TOK_MAX_HOST_LEN)
		emit(s, p, (size_t)(end - p), TOK_HOST);
}

/* The class an order or invoice word announces, or NULL for other words. */
static const char *announced_class(const struct scan *s, const struct prim *p)
{
	if (!may_announce_number(s, p))
		return NULL;
	return prim_is_word(s, p, order_words)     ? TOK_CLASS_ORDER
	       : prim_is_word(s, p, invoice_words) ? TOK_CLASS_INVOICE
	                                           : NULL;
}

/* The tokens of a primitive that needs no context: all but numbers,
 * currency signs and order or invoice words. */
static void emit_plain(struct scan *s, const struct prim *p)
{
	const char *t = s->text + p->off;
	switch (p->type) {
	case P_URL:
		EMIT_CLASS(s, TOK_CLASS_URL);
		emit_host(s, t, p->len, false);
		break;
	case P_EMAIL:
		EMIT_CLASS(s, TOK_CLASS_EMAIL);
		emit_host(s, t, p->len, true);
		break;
	case P_CODE:
		emit_class(s, code_class(t, p->len));
		break;
	case P_WORD:
		emit(s, t, p->len, TOK_WORD);
		break;
	case P_HASH:
	case P_DEGREE:
	case P_NUM:
	case P_CURRENCY:
		break;
	}
}

/* Emits the tokens of the pending primitives that have the context they
 * need after them (of all of them at the end of the text), in order. */
static void drain(struct scan *s, bool at_end)
{
	const struct prim *q = s->pending;
	unsigned n = s->npending, i = 0;
	while (i < n) {
		const struct prim *p = &q[i];
		bool has_next = i + 1 < n;
		if (!has_next && !at_end && (p->type == P_NUM || p->type == P_CURRENCY))
			break;
		switch (p->type) {
		case P_CURRENCY:
			if (has_next && p[1].type == P_NUM) {
				EMIT_CLASS(s, TOK_CLASS_AMOUNT);
				i++;
			}
			i++;
			break;
		case P_NUM:
			if (has_next &&
			    (p[1].type == P_CURRENCY || prim_is_word(s, &p[1], currency_words))) {
				EMIT_CLASS(s, TOK_CLASS_AMOUNT);
				i++;
			} else {
				EMIT_CLASS(s, TOK_CLASS_NUMBER);
			}
			i++;
			break;
		case P_WORD: {
			const char *cls = announced_class(s, p);
			if (cls == NULL) {
				emit_plain(s, p);
				i++;
				break;
			}
			/* "commande n° 12345", "order #A-12345", "invoice INV-001":
			 * up to three fillers, then the number */
			unsigned j = i + 1;
			while (j < n && j < i + 4 &&
			       (q[j].type == P_HASH || q[j].type == P_DEGREE ||
			        prim_is_word(s, &q[j], number_fillers)))
				j++;
			if (j == n && !at_end)
				goto wait; /* the primitive that decides is yet to come */
			emit_plain(s, p);
			if (j < n && (q[j].type == P_NUM || q[j].type == P_CODE)) {
				emit_class(s, cls);
				i = j;
			}
			i++;
			break;
		}
		default:
			emit_plain(s, p);
			i++;
			break;
		}
	}
wait:
	if (i > 0) {
		memmove(s->pending, s->pending + i, (n - i) * sizeof(*s->pending));
		s->npending = n - i;
	}
}

/* A primitive that may need context, or may be needed as context by one
 * waiting: its tokens now when neither, else once what it waits for is cut. */
static void queue_prim(struct scan *s, struct prim p)
{
	if (s->npending == 0 && p.type != P_NUM && p.type != P_CURRENCY &&
	    (p.type != P_WORD || announced_class(s, &p) == NULL)) {
		emit_plain(s, &p);
		return;
	}
	assert(s->npending < PENDING_MAX);
	s->pending[s->npending++] = p;
	drain(s, false);
}

/* A primitive cut from the text; past the cap ignored. */
static inline void add_prim(struct scan *s, size_t off, size_t len, enum prim_type type)
{
	if (s->count >= s->max)
		return;
	s->count++;
	struct prim p = {(uint32_t)off, (uint32_t)len, type};
	/* Most primitives: a word that announces no number, with nothing
	 * waiting before it. */
	if (type == P_WORD && s->npending == 0 && !may_announce_number(s, &p)) {
		emit(s, s->text + off, len, TOK_WORD);
		return;
	}
	queue_prim(s, p);
}

size_t tok_tokenize(const char *text, size_t len, size_t max_tokens, tok_callback_t *callback,
                    void *context, bool *truncated_r)
{
	struct scan s = {.text = text,
	                 .len = len,
	                 .max = max_tokens * 4 + 8,
	                 .callback = callback,
	                 .context = context,
	                 .max_tokens = max_tokens};
	scan_text(&s);
	drain(&s, true);
	if (s.count >= s.max)
		s.truncated = true;
	if (truncated_r != NULL)
		*truncated_r = s.truncated;
	return s.emitted;
}
