/* The store's outbox: outgoing mails waiting, being sent, sent or failed,
 * and the last automatic acknowledgement per address. SQL only; the
 * decisions (backoff, recovery, what a sent reply changes) are in outbox.c.
 * Ownership: rows filled here belong to the caller, released with
 * outbox_row_clear() / outbox_rows_free(). None of these functions begins a
 * transaction: the caller decides. */
#ifndef TRIAGED_STORE_OUTBOX_H
#define TRIAGED_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct store;

enum outbox_kind { OUTBOX_REPLY, OUTBOX_ACK, OUTBOX_NOTIFY };
enum outbox_status { OUTBOX_QUEUED, OUTBOX_SENDING, OUTBOX_SENT, OUTBOX_FAILED };

const char *outbox_kind_name(enum outbox_kind k);
const char *outbox_status_name(enum outbox_status s);
int outbox_status_parse(const char *s, enum outbox_status *status_r);

struct outbox_row {
	int64_t id;
	int64_t ticket_id; /* 0: none (a notification) */
	enum outbox_kind kind;
	enum outbox_status status;
	char *message_id;  /* without <> */
	char *from_addr;   /* envelope sender */
	char *to_addr;     /* envelope recipient */
	char *cc_addrs;    /* also copied to (", "-separated, in Cc: and the envelope); NULL: none */
	char *subject;     /* as sent, decoded: for the thread and listings */
	char *body_text;   /* the text, for the thread */
	char *in_reply_to; /* without <> */
	char *refs;        /* "<a> <b>" as in the mail */
	char *raw;         /* the whole mail, CRLF, 7-bit */
	unsigned attempts;
	int64_t next_attempt;
	char *last_error;
	int64_t created;
	int64_t claimed_at;       /* when it went to sending */
	int64_t accepted_at;      /* when the server said 250 to DATA */
	char *agent;              /* who approved it; NULL for automatic mail */
	unsigned suggestion_rank; /* 0: written by hand */
	char *status_after;       /* ticket status to set once sent; NULL: leave it */
	char *template_name;      /* the reply template of an automatic mail; NULL: none */
};
void outbox_row_clear(struct outbox_row *r);
void outbox_rows_free(struct outbox_row **rows, size_t n);

/* Inserts r as queued (r->id, status, attempts, times of sending ignored). */
int store_outbox_add(struct store *st, const struct outbox_row *r, int64_t *id_r);
int store_outbox_get(struct store *st, int64_t id, struct outbox_row *r_r); /* 1/0/-1 */
/* The earliest next_attempt of a queued mail: 1 and *when_r, 0 when none. */
int store_outbox_next_due(struct store *st, int64_t *when_r);
/* The id of the queued mail due first at now: 1 and *id_r, 0 when none.
 * ignore_time: any queued mail, due or not, in id order. Only ids above
 * after_id are considered (a flush tries each mail once). */
int store_outbox_first_due(struct store *st, int64_t now, int ignore_time, int64_t after_id,
                           int64_t *id_r);
/* queued -> sending, attempts + 1. 1 when this call made the change, 0 when
 * another writer got there first. */
int store_outbox_claim(struct store *st, int64_t id, int64_t now);
/* sending -> sent. 1 changed, 0 not in sending (nothing written). */
int store_outbox_mark_sent(struct store *st, int64_t id, int64_t accepted_at);
/* sending -> queued for a later attempt. */
int store_outbox_mark_retry(struct store *st, int64_t id, int64_t next_attempt, const char *error);
/* queued|sending -> failed. */
int store_outbox_mark_failed(struct store *st, int64_t id, const char *error);
/* failed -> queued, due now, attempts reset (an administrator's decision). */
int store_outbox_requeue(struct store *st, int64_t id, int64_t now);
/* Ids of mails in sending claimed at or before claimed_before. */
int store_outbox_stale_sending(struct store *st, int64_t claimed_before, int64_t **ids_r,
                               size_t *n_r);
/* Lists mails (newest first); status NULL: all; ticket_id 0: all. raw is not
 * loaded in listings. */
int store_outbox_list(struct store *st, const char *status, int64_t ticket_id, unsigned limit,
                      struct outbox_row **rows_r, size_t *n_r);

/* Who wrote the message a reply answers, whom it went to and whom it
 * copied (", "-separated lists; each may be NULL): a reply to all copies
 * them. */
struct reply_parties {
	char *from, *to, *cc;
};
void reply_parties_clear(struct reply_parties *p);

/* The customer's last incoming message of a ticket, for In-Reply-To and
 * References: 1 with owned copies (either may be NULL), 0 when none.
 * parties_r (may be NULL) receives its sender and recipients. */
int store_outbox_reply_parent(struct store *st, int64_t ticket_id, char **message_id_r,
                              char **references_r, struct reply_parties *parties_r);

/* Last automatic acknowledgement sent to addr: 1 and *at_r, 0 never. */
int store_outbox_ack_last(struct store *st, const char *addr, int64_t *at_r);
int store_outbox_ack_set(struct store *st, const char *addr, int64_t at);

#endif
