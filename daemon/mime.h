/* Mail parser: raw RFC 5322 bytes (from IMAP or an MTA pipe) to a parsed
 * message in UTF-8 that the daemon turns into a ticket. Hostile input is the
 * normal case: every buffer has a limit, the MIME tree is walked without
 * recursion, and what cannot be read becomes a warning, not a failure.
 * Ownership: a struct mime_message and everything it points to belong to it;
 * free it with mime_message_free(). Strings returned by mime_decode_words()
 * and mime_to_utf8() belong to the caller (free()). */
#ifndef TRIAGED_MIME_H
#define TRIAGED_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mime_limits {
	size_t max_mail_bytes;       /* bytes read; the rest is ignored with a warning */
	size_t max_headers;          /* header fields kept per header block */
	size_t max_header_bytes;     /* size of one header block (and of headers_raw) */
	size_t max_depth;            /* multipart nesting; deeper parts are not opened */
	size_t max_parts;            /* MIME parts examined in one mail */
	size_t max_text_bytes;       /* text, new_text, html: each cut at this size */
	size_t max_attachment_bytes; /* larger attachments keep name/type/size, not data */
	size_t max_attachments;      /* attachment entries kept */
	/* Not a limit: the caller reads only the whole text (a spam filter),
	 * so the quoted history and signature are not looked for and new_text
	 * is a copy of text. Default false. */
	bool no_text_split;
	/* Not a limit either: the caller reads only the header fields
	 * (headers, subject), content_type and the text (text, new_text, html,
	 * html_only), as a bulk classifier does. Addresses, return_path, date,
	 * message ids, references, report_type, original_message_id,
	 * attachments, warnings and headers_raw are then left empty (NULL, 0),
	 * and the work of filling them is not done. Default false. */
	bool text_only;
};

/* 50 MiB mail, 1000 headers, 256 KiB header block, depth 32, 1000 parts,
 * 1 MiB text, 25 MiB per attachment, 200 attachments. */
void mime_limits_default(struct mime_limits *lim);

struct mime_attachment {
	char *filename;          /* UTF-8, RFC 2231 / RFC 2047 decoded, no directory part; NULL if none */
	char *content_type;      /* lower-case "type/subtype" */
	size_t size;             /* decoded size */
	unsigned char *data;     /* decoded bytes, NULL when over the cap */
	bool data_truncated;     /* true when data was dropped for the cap */
	char *content_id;        /* without <>, NULL if none */
	bool inline_disposition; /* Content-Disposition: inline */
};

struct mime_header_field {
	char *name;  /* as received */
	char *value; /* unfolded, RFC 2047 decoded, UTF-8, trimmed */
};

struct mime_message {
	char *message_id;          /* without <>, NULL if none */
	char *in_reply_to;         /* first msg-id, without <> */
	char **references;         /* without <>, in order (first and latest kept when too many) */
	size_t n_references;
	char *subject;             /* RFC 2047 decoded, UTF-8, unfolded */
	char *from_name, *from_addr; /* decoded; addr lower-cased */
	char *reply_to_addr;
	char **to_addrs;
	size_t n_to;
	char **cc_addrs;
	size_t n_cc;
	char *return_path;         /* "" for the null return path <>, NULL when no header */
	int64_t date;              /* seconds since the epoch (UTC) from Date:, 0 when missing/unparsable */
	char *content_type;        /* top-level "type/subtype", lower-case; "text/plain" by default */
	char *report_type;         /* report-type= of a top-level multipart/report, lower-case, else NULL */
	char *text;                /* whole body text, UTF-8: text/plain parts, or text from HTML when none; never NULL */
	char *new_text;            /* text without quoted history and signature: what triage reads; never NULL */
	char *quoted_text;         /* the quoted history, NULL if none */
	char *signature;           /* after "-- ", NULL if none */
	char *html;                /* first text/html part, UTF-8, as received; NULL if none */
	bool html_only;            /* text comes from HTML */
	struct mime_attachment *attachments;
	size_t n_attachments;
	char *original_message_id; /* bounces: Message-ID of the mail that bounced, without <> */
	char **warnings;           /* human-readable, in order of discovery */
	size_t n_warnings;
	char *headers_raw;         /* the top header block as received (bounded, may hold 8-bit bytes) */
	struct mime_header_field *headers; /* the top-level header fields, in order */
	size_t n_headers;
};

/* Parses len bytes of raw mail. Returns -1 only when nothing at all can be
 * read (empty input, or no header and no body); otherwise 0 with a message
 * holding whatever could be read plus warnings. lim may be NULL (defaults).
 * Time is linear in len times the depth limit; memory bounded by the limits. */
int mime_parse(const char *raw, size_t len, const struct mime_limits *lim,
	       struct mime_message **msg_r, const char **error_r);

/* Value of the first top-level header with this name (case-insensitive),
 * unfolded and RFC 2047 decoded, or NULL. Valid as long as msg. */
const char *mime_header(const struct mime_message *msg, const char *name);

void mime_message_free(struct mime_message **msg);

/* RFC 2047: decodes the encoded words of a header value (B and Q, adjacent
 * words joined, broken ones left as they are), converts everything to UTF-8
 * (undeclared 8-bit: UTF-8 if valid, else windows-1252) and turns control
 * characters into spaces. Never NULL. */
char *mime_decode_words(const char *s);

/* Converts len bytes in charset (NULL or "": undeclared) to UTF-8. Aliases
 * (latin1, utf8, cp1252...) are understood; an unknown charset falls back to
 * UTF-8 when the bytes are valid UTF-8, else windows-1252. Invalid bytes and
 * NUL become U+FFFD; *replaced_r (may be NULL) tells whether that happened.
 * The result is always valid UTF-8. Never NULL. */
char *mime_to_utf8(const char *bytes, size_t len, const char *charset, bool *replaced_r);

/* True when the len bytes at s are valid UTF-8 without NUL. */
bool mime_utf8_valid(const char *s, size_t len);

/* Splits body text into new text, quoted history and signature (see
 * mime_message). Each output is allocated; quoted_r and signature_r are set
 * to NULL when absent. Exposed for tests and for text from other sources. */
void mime_split_text(const char *text, char **new_text_r, char **quoted_r, char **signature_r);

#endif
