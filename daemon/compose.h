/* Outgoing mail: builds an RFC 5322 / MIME reply (UTF-8 text/plain in
 * quoted-printable, RFC 2047 headers, threading headers, the [#N] tag) from
 * plain strings. No I/O, no store.
 * Ownership: every returned string belongs to the caller, freed with free().
 * Inputs are never trusted: CR, LF and other controls in any of them are
 * replaced or encoded, so no input can add a header. */
#ifndef TRIAGED_COMPOSE_H
#define TRIAGED_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;

#define COMPOSE_MAX_BODY (1024 * 1024) /* bytes of reply text */
#define COMPOSE_MAX_SUBJECT 900        /* bytes of the subject kept (before "Re:" and the tag) */
#define COMPOSE_MAX_NAME 200           /* bytes of a display name kept */
#define COMPOSE_MAX_ADDR 254           /* RFC 5321 path limit */
#define COMPOSE_MAX_MSGID 250          /* bytes of one Message-ID */
#define COMPOSE_MAX_REFERENCES 20      /* ids kept in References: the first and the last 19 */
#define COMPOSE_QP_LINE 76             /* RFC 2045 6.7 (5): encoded line length */
#define COMPOSE_MAX_CC 20              /* addresses in Cc */

struct compose_mail {
	const char *from;        /* "Name <addr>" or "addr": the config's smtp.from */
	const char *to_addr;     /* the requester's address */
	const char *to_name;     /* NULL or "": no display name */
	const char *cc;          /* ", "-separated addresses also written to, or NULL */
	const char *subject;     /* the ticket's subject as the customer wrote it */
	int64_t ticket_id;       /* for the [#N] tag */
	const char *in_reply_to; /* Message-ID of the customer's last message (with or without <>),
	                            or NULL */
	const char *references;  /* that message's References (space separated), or NULL */
	const char *body;        /* UTF-8 text, LF or CRLF line ends */
	bool auto_submitted;     /* automatic acknowledgement: adds Auto-Submitted: auto-replied */
	int64_t date;            /* seconds since the epoch, UTC */
	const char *message_id;  /* without <>; NULL: a new one is generated */
};

/* Builds the whole mail (CRLF line ends, 7-bit) into *raw_r and its
 * Message-ID (without <>) into *message_id_r. Fails on an invalid address
 * (in Cc too, or more than COMPOSE_MAX_CC of them),
 * a body that is not UTF-8 or longer than COMPOSE_MAX_BODY. */
int compose_build(const struct compose_mail *m, char **raw_r, char **message_id_r,
                  const char **error_r);

/* Splits "Name <addr>" (or a bare address) into a display name (NULL when
 * none) and a validated address. */
int compose_parse_from(const char *from, char **name_r, char **addr_r, const char **error_r);
/* The next item of a ", "-separated address list at *p (moved past it):
 * a pointer into the list and its length in *len_r, NULL at the end. */
const char *compose_next_addr(const char **p, size_t *len_r);
/* A plain addr-spec we are willing to put in a header and an SMTP envelope:
 * dot-atom local part, a host name domain, no quoting, at most
 * COMPOSE_MAX_ADDR bytes. */
bool compose_valid_addr(const char *addr);
/* "random.time@domain-of-addr", without <>. */
int compose_message_id(const char *addr, char **message_id_r, const char **error_r);
/* "Re: <subject> [#N]": earlier "Re:" prefixes (any case, "RE :", "Re[2]:")
 * removed, the ticket's tag removed wherever it was and added once at the end,
 * controls replaced by spaces, at most COMPOSE_MAX_SUBJECT bytes of subject. */
char *compose_reply_subject(const char *subject, int64_t ticket_id);
/* The References value for a reply: the parent's References plus its
 * Message-ID, each as "<id>", space separated, at most COMPOSE_MAX_REFERENCES
 * (the first, the thread's root, and the most recent ones). Invalid ids are
 * dropped. NULL when there is none. */
char *compose_references(const char *references, const char *in_reply_to);
/* RFC 5322 date in UTC: "Thu, 26 Nov 2026 08:00:00 +0000". */
char *compose_date(int64_t t);

/* Appends text as quoted-printable (RFC 2045 6.7): lines of at most 76
 * characters with soft breaks, trailing white space encoded, CRLF line ends,
 * a leading "." and "From " encoded so that no transport can mangle them. */
void compose_qp(struct strbuf *out, const char *text);
/* Appends "Name: value\r\n", value as is when it is printable ASCII (folded
 * at spaces), else as RFC 2047 "B" encoded words folded between words. */
void compose_header(struct strbuf *out, const char *name, const char *value);
/* True when s is well-formed UTF-8 (no overlongs, no surrogates). */
bool compose_utf8_valid(const char *s, size_t len);

/* Replaces {{key}} in tmpl with the matching value (n pairs); unknown
 * placeholders are left as they are so that a typo shows. The result is at
 * most COMPOSE_MAX_BODY bytes. */
char *compose_render(const char *tmpl, const char *const *keys, const char *const *values,
                     unsigned n);

#endif
