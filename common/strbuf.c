/* Growable, limit-aware string buffer. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xalloc.h"

void strbuf_init(struct strbuf *sb, size_t limit)
{
	memset(sb, 0, sizeof(*sb));
	sb->limit = limit;
}

int strbuf_append(struct strbuf *sb, const void *data, size_t n)
{
	int ret = 0;
	if (sb->limit != 0 && sb->len + n > sb->limit) {
		n = sb->limit > sb->len ? sb->limit - sb->len : 0;
		sb->truncated = true;
		ret = -1;
	}
	sb->data = xgrow(sb->data, &sb->cap, sb->len + n + 1, 1);
	if (n > 0)
		memcpy(sb->data + sb->len, data, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return ret;
}

int strbuf_puts(struct strbuf *sb, const char *s)
{
	return strbuf_append(sb, s, strlen(s));
}

int strbuf_putc(struct strbuf *sb, char c)
{
	return strbuf_append(sb, &c, 1);
}

int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return strbuf_append(sb, small, (size_t)n);
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int ret = strbuf_append(sb, big, (size_t)n);
	free(big);
	return ret;
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->truncated = false;
	if (sb->data)
		sb->data[0] = '\0';
}

char *strbuf_steal(struct strbuf *sb)
{
	char *p = sb->data ? sb->data : xstrdup("");
	size_t limit = sb->limit;
	strbuf_init(sb, limit);
	return p;
}

const char *strbuf_str(const struct strbuf *sb)
{
	return sb->data ? sb->data : "";
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->data);
	size_t limit = sb->limit;
	strbuf_init(sb, limit);
}
