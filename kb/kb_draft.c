/* Placeholder filling for draft replies. */
#include "kb_draft.h"

#include <string.h>

#include "strbuf.h"
#include "xalloc.h"

/* Appends at most KB_DRAFT_MAX_VALUE bytes of v without splitting a UTF-8
 * sequence, with line breaks turned into spaces (a subject or a name is one
 * line; a header injection must not become a paragraph). */
static void put_value(struct strbuf *sb, const char *v)
{
	size_t len = strlen(v);
	if (len > KB_DRAFT_MAX_VALUE) {
		len = KB_DRAFT_MAX_VALUE;
		while (len > 0 && ((unsigned char)v[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++)
		strbuf_putc(sb, v[i] == '\n' || v[i] == '\r' ? ' ' : v[i]);
}

static const char *lookup(const struct kb_draft_vars *vars, const char *name, size_t len)
{
	static const struct {
		const char *name;
		size_t offset;
	} table[] = {
		{"customer.name", offsetof(struct kb_draft_vars, customer_name)},
		{"ticket.id", offsetof(struct kb_draft_vars, ticket_id)},
		{"ticket.subject", offsetof(struct kb_draft_vars, ticket_subject)},
		{"agent.name", offsetof(struct kb_draft_vars, agent_name)},
	};
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (strlen(table[i].name) == len && memcmp(table[i].name, name, len) == 0)
			return *(const char *const *)((const char *)vars + table[i].offset);
	return NULL;
}

char *kb_draft_fill(const char *template, const struct kb_draft_vars *vars)
{
	struct strbuf sb;
	strbuf_init(&sb, KB_DRAFT_MAX_BYTES);
	const char *p = template;
	while (*p != '\0') {
		const char *open = strstr(p, "{{");
		if (open == NULL) {
			strbuf_puts(&sb, p);
			break;
		}
		strbuf_append(&sb, p, (size_t)(open - p));
		const char *close = strstr(open + 2, "}}");
		const char *nl = strchr(open + 2, '\n');
		if (close == NULL || (nl != NULL && nl < close)) {
			strbuf_puts(&sb, "{{");
			p = open + 2;
			continue;
		}
		const char *name = open + 2;
		size_t len = (size_t)(close - name);
		while (len > 0 && *name == ' ') {
			name++;
			len--;
		}
		while (len > 0 && name[len - 1] == ' ')
			len--;
		const char *value = lookup(vars, name, len);
		if (value != NULL)
			put_value(&sb, value);
		else
			strbuf_append(&sb, open, (size_t)(close + 2 - open));
		p = close + 2;
	}
	return strbuf_steal(&sb);
}
