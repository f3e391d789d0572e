/* Normalisation with utf8proc: repair, then map once with NFKC + case fold
 * + mark stripping + lumping. */
#include "norm.h"

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
 * does not decompose (so "œuvre" and "oeuvre" meet). */
static char *repair(const char *in, size_t len, int fold_ligatures, size_t *out_len_r)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	if (len > NORM_MAX_INPUT)
		len = NORM_MAX_INPUT;
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)in;
	size_t i = 0;
	sb.data = xgrow(sb.data, &sb.cap, len + 16, 1);
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0) {
			put_cp(&sb, 0xFFFD);
			i++;
			continue;
		}
		i += (size_t)n;
		if (cp == 0)
			cp = ' ';
		if (fold_ligatures) {
			switch (cp) {
			case 0x0153:
			case 0x0152:
				strbuf_append(&sb, cp == 0x0153 ? "oe" : "OE", 2);
				continue;
			case 0x00E6:
			case 0x00C6:
				strbuf_append(&sb, cp == 0x00E6 ? "ae" : "AE", 2);
				continue;
			default:
				break;
			}
		}
		put_cp(&sb, cp);
	}
	*out_len_r = sb.len;
	return strbuf_steal(&sb);
}

char *norm_repair_utf8(const char *in, size_t len, size_t *out_len_r)
{
	return repair(in, len, 0, out_len_r);
}

int norm_text(const char *in, size_t len, unsigned flags, char **out_r, size_t *out_len_r,
              const char **error_r)
{
	size_t clean_len;
	_cleanup_free_ char *clean = repair(in, len, 1, &clean_len);
	int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STRIPCC |
	              UTF8PROC_LUMP | UTF8PROC_IGNORE;
	if (!(flags & NORM_KEEP_CASE))
		options |= UTF8PROC_CASEFOLD;
	if (!(flags & NORM_KEEP_ACCENTS))
		options |= UTF8PROC_STRIPMARK;
	utf8proc_uint8_t *mapped = NULL;
	utf8proc_ssize_t n =
	    utf8proc_map((const utf8proc_uint8_t *)clean, (utf8proc_ssize_t)clean_len, &mapped,
	                 (utf8proc_option_t)options);
	if (n < 0) {
		*error_r = utf8proc_errmsg(n);
		return -1;
	}
	*out_r = (char *)mapped;
	*out_len_r = (size_t)n;
	return 0;
}
