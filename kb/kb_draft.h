/* Draft replies: a reply template with {{placeholders}} filled in.
 * Ownership: kb_draft_fill returns a string the caller frees. */
#ifndef TRIAGED_KB_DRAFT_H
#define TRIAGED_KB_DRAFT_H

#include <stddef.h>

/* A draft never grows past this (the subject and the name come from mail). */
#define KB_DRAFT_MAX_BYTES (256 * 1024)
/* A value longer than this is cut (a 10 kB "name" is an attack, not a name). */
#define KB_DRAFT_MAX_VALUE 200

/* The values of the placeholders; NULL leaves that placeholder as it is. */
struct kb_draft_vars {
	const char *customer_name;  /* {{customer.name}} */
	const char *ticket_id;      /* {{ticket.id}} */
	const char *ticket_subject; /* {{ticket.subject}} */
	const char *agent_name;     /* {{agent.name}} */
};

/* Fills template: "{{name}}" or "{{ name }}" is replaced by its value;
 * unknown names and unterminated braces are kept as written, so that the
 * agent sees them. Values are inserted verbatim (the draft is plain text),
 * cut at KB_DRAFT_MAX_VALUE bytes on a character boundary; the result is cut
 * at KB_DRAFT_MAX_BYTES. Never fails. */
char *kb_draft_fill(const char *template, const struct kb_draft_vars *vars);

#endif
