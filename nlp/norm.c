/* Normalisation with utf8proc: repair, then map with NFKC + case fold + mark
 * stripping + lumping. Mail is mostly ASCII, so ASCII runs are folded here
 * and only the words holding other bytes go through utf8proc. */
#include "norm.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

#include "strbuf.h"
#include "xalloc.h"

static void put_cp(struct strbuf *sb, int32_t cp)
{
	utf8proc_uint8_t buf[4];
	utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
	strbuf_append(sb, buf, (size_t)n);
}

/* Repairs and, when fold_ligatures, spells out the ligatures that Unicode
 * does not decompose (so "œuvre" and "oeuvre" meet). Appends to sb. */
static void repair_into(struct strbuf *sb, const char *in, size_t len, int fold_ligatures)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)in;
	size_t i = 0;
	sb->data = xgrow(sb->data, &sb->cap, sb->len + len + 16, 1);
	while (i < len) {
		if (p[i] < 0x80) {
			/* ASCII needs no check; only NUL changes */
			size_t j = i;
			while (j < len && p[j] < 0x80 && p[j] != 0)
				j++;
			if (j > i) {
				strbuf_append(sb, p + i, j - i);
				i = j;
				continue;
			}
			if (p[i] == 0) {
				strbuf_putc(sb, ' ');
				i++;
				continue;
			}
		}
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0) {
			put_cp(sb, 0xFFFD);
			i++;
			continue;
		}
		i += (size_t)n;
		if (fold_ligatures) {
			switch (cp) {
			case 0x0153:
			case 0x0152:
				strbuf_append(sb, cp == 0x0153 ? "oe" : "OE", 2);
				continue;
			case 0x00E6:
			case 0x00C6:
				strbuf_append(sb, cp == 0x00E6 ? "ae" : "AE", 2);
				continue;
			default:
				break;
			}
		}
		put_cp(sb, cp);
	}
}

char *norm_repair_utf8(const char *in, size_t len, size_t *out_len_r)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	if (len > NORM_MAX_INPUT)
		len = NORM_MAX_INPUT;
	repair_into(&sb, in, len, 0);
	*out_len_r = sb.len;
	return strbuf_steal(&sb);
}

/* Buffers for the utf8proc path, kept across the segments of one call. */
struct scratch {
	struct strbuf repaired;
	utf8proc_int32_t *cps;
	size_t cap;
};

static int map_options(unsigned flags)
{
	int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STRIPCC |
	              UTF8PROC_LUMP | UTF8PROC_IGNORE;
	if (!(flags & NORM_KEEP_CASE))
		options |= UTF8PROC_CASEFOLD;
	if (!(flags & NORM_KEEP_ACCENTS))
		options |= UTF8PROC_STRIPMARK;
	return options;
}

/* What utf8proc_map() gives for one segment, appended to out. */
static int map_segment(struct strbuf *out, const char *in, size_t len, int options,
                       struct scratch *sc, const char **error_r)
{
	sc->repaired.len = 0;
	repair_into(&sc->repaired, in, len, 1);
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)sc->repaired.data;
	utf8proc_ssize_t slen = (utf8proc_ssize_t)sc->repaired.len;
	utf8proc_ssize_t n;
	for (;;) {
		n = utf8proc_decompose(s, slen, sc->cps, (utf8proc_ssize_t)sc->cap,
		                       (utf8proc_option_t)options);
		if (n < 0) {
			*error_r = utf8proc_errmsg(n);
			return -1;
		}
		/* one more for the NUL utf8proc_reencode() writes */
		if ((size_t)n + 1 <= sc->cap)
			break;
		sc->cps = xgrow(sc->cps, &sc->cap, (size_t)n + 1, sizeof(*sc->cps));
	}
	n = utf8proc_reencode(sc->cps, n, (utf8proc_option_t)options);
	if (n < 0) {
		*error_r = utf8proc_errmsg(n);
		return -1;
	}
	strbuf_append(out, sc->cps, (size_t)n);
	return 0;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The high bit of each byte of v not in 0x20..0x7e. The sums are on the
 * low seven bits of each byte: under 0x80 plus at most 0x7f, no byte
 * carries into its neighbour, so each sum tests one byte. */
static inline uint64_t ascii8_unprintable(uint64_t v)
{
	uint64_t low7 = v & ~HIGHS;
	return (v | ~(low7 + 0x60 * ONES) | (low7 + ONES)) & HIGHS;
}

/* v with A-Z made a-z (bytes from 0x80 up may come out changed: only
 * bytes under 0x80 are used). */
static inline uint64_t ascii8_lower(uint64_t v)
{
	uint64_t low7 = v & ~HIGHS;
	uint64_t upper =
	    (low7 + (0x80 - 'A') * ONES) & ~(low7 + (0x80 - 'Z' - 1) * ONES) & ~v & HIGHS;
	return v | upper >> 2;
}

/* The high bit of each byte of v equal to c (c under 0x80; bytes from 0x80
 * up are never equal). */
static inline uint64_t ascii8_eq(uint64_t v, unsigned char c)
{
	return ~(((v & ~HIGHS) ^ (c * ONES)) + 0x7f * ONES) & ~v & HIGHS;
}
#endif

/* Space, tab and newline: utf8proc turns each into one space, which neither
 * composes with its neighbours nor reorders, so the text can be cut there and
 * the pieces mapped apart. Not between "\r" and "\n" though: together they
 * are one space. */
static bool is_cut(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

int norm_append(struct strbuf *out, const char *in, size_t len, unsigned flags,
                const char **error_r)
{
	assert(out->limit == 0);
	if (len > NORM_MAX_INPUT)
		len = NORM_MAX_INPUT;
	const unsigned char *p = (const unsigned char *)in;
	const bool fold = !(flags & NORM_KEEP_CASE);
	const int options = map_options(flags);
	struct scratch sc = {0};
	const size_t start_len = out->len;
	int ret = 0;
	/* ASCII output is never longer than its input */
	out->data = xgrow(out->data, &out->cap, out->len + len + 1, 1);
	char *d = out->data;
	size_t o = out->len;
	size_t seg_in = 0, seg_out = o; /* where the current word started */
	size_t i = 0;
	while (i < len) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* Up to eight printable ASCII bytes at a time, the common case:
		 * those before the first other byte (a line break, a multibyte
		 * character: the code below takes it) are folded, their last
		 * space noted as a cut. All eight are written; what follows
		 * them is written again. */
		if (len - i >= 8) {
			uint64_t v;
			memcpy(&v, p + i, 8);
			uint64_t other = ascii8_unprintable(v);
			unsigned k = other == 0 ? 8 : (unsigned)__builtin_ctzll(other) / 8;
			if (k > 0) {
				if (fold)
					v = ascii8_lower(v);
				memcpy(d + o, &v, 8);
				uint64_t sp = ascii8_eq(v, ' ');
				if (k < 8)
					sp &= (UINT64_C(1) << (8 * k)) - 1;
				if (sp != 0) {
					size_t last = (size_t)(63 - __builtin_clzll(sp)) / 8 + 1;
					seg_in = i + last;
					seg_out = o + last;
				}
				i += k;
				o += k;
				continue;
			}
		}
#endif
		unsigned char c = p[i];
		if (c >= 0x80) {
			/* The whole word, from the last cut, goes through utf8proc:
			 * its ASCII letters may compose with combining marks. */
			size_t end = i + 1;
			for (;;) {
				while (end < len && !is_cut(p[end]))
					end++;
				/* A "\r" with only marks or ignorables before this
				 * "\n" pairs with it once they are gone: no cut. */
				if (end == len || p[end] != '\n' ||
				    memchr(p + seg_in, '\r', end - seg_in) == NULL)
					break;
				end++;
			}
			out->len = seg_out;
			if (map_segment(out, in + seg_in, end - seg_in, options, &sc, error_r) <
			    0) {
				ret = -1;
				break;
			}
			out->data = xgrow(out->data, &out->cap, out->len + (len - end) + 1, 1);
			d = out->data;
			o = out->len;
			i = seg_in = end;
			seg_out = o;
			continue;
		}
		/* utf8proc's STRIPCC: "\r\n" and each of \t \n \v \f \r alone are
		 * one space, other controls go; NUL was a space after repair. */
		if (c >= 'A' && c <= 'Z') {
			d[o++] = fold ? (char)(c + ('a' - 'A')) : (char)c;
			i++;
		} else if (c >= 0x20 && c != 0x7f) {
			d[o++] = (char)c;
			i++;
			if (c == ' ') {
				seg_in = i;
				seg_out = o;
			}
		} else if (c == '\t' || c == '\n') {
			d[o++] = ' ';
			seg_in = ++i;
			seg_out = o;
		} else if (c == '\r' && i + 1 < len && p[i + 1] == '\n') {
			d[o++] = ' ';
			seg_in = i += 2;
			seg_out = o;
		} else if (c == '\r' || c == '\v' || c == '\f' || c == 0) {
			d[o++] = ' ';
			i++;
		} else {
			i++;
		}
	}
	out->len = ret == 0 ? o : start_len;
	out->data[out->len] = '\0';
	strbuf_free(&sc.repaired);
	free(sc.cps);
	return ret;
}

int norm_text(const char *in, size_t len, unsigned flags, char **out_r, size_t *out_len_r,
              const char **error_r)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	if (norm_append(&sb, in, len, flags, error_r) < 0) {
		strbuf_free(&sb);
		return -1;
	}
	*out_len_r = sb.len;
	*out_r = strbuf_steal(&sb);
	return 0;
}
