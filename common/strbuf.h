/* Growable byte buffer, always NUL-terminated, with an optional hard limit so
 * that no buffer fed by mail can grow without bound.
 * Ownership: the buffer owns its data; strbuf_steal() hands it to the caller. */
#ifndef TRIAGED_STRBUF_H
#define TRIAGED_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data;     /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
	size_t limit;   /* 0: unlimited; else appends past it are cut */
	bool truncated; /* set once something was cut by the limit */
};

#define STRBUF_INIT {0}

void strbuf_init(struct strbuf *sb, size_t limit);
/* Append n bytes; returns 0, or -1 if the limit cut the data. */
int strbuf_append(struct strbuf *sb, const void *data, size_t n);
int strbuf_puts(struct strbuf *sb, const char *s);
int strbuf_putc(struct strbuf *sb, char c);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_reset(struct strbuf *sb);
/* Returns the data (never NULL, "" when empty), owned by the caller now. */
char *strbuf_steal(struct strbuf *sb);
/* Returns the current contents ("" when empty), valid until the next append. */
const char *strbuf_str(const struct strbuf *sb);
void strbuf_free(struct strbuf *sb);

#endif
