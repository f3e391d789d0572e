/* The store's side of privacy requests: what is held about one address, its
 * rows as JSON for an access request, their deletion (erasure, retention),
 * the scrubbing of the address out of what stays, and the compaction that
 * leaves no freed page, FTS5 segment or WAL frame holding the old text.
 * SQL only; the decisions (which tickets, what an audit event says) are in
 * privacy.c.
 * Ownership: arrays returned through _r belong to the caller (free()); JSON
 * rows are added to a cJSON array the caller owns. None of these functions
 * begins a transaction unless said so: the caller decides. Addresses are
 * compared without regard to case. */
#ifndef TRIAGED_STORE_PRIVACY_H
#define TRIAGED_STORE_PRIVACY_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct store;

/* Row sets of an access request. The ticket sets take a ticket id, the
 * address sets an address. */
enum store_privacy_set {
	STORE_PRIVACY_TICKET,              /* the ticket row itself */
	STORE_PRIVACY_TICKET_MESSAGES,     /* headers and text, raw mail left out */
	STORE_PRIVACY_TICKET_ATTACHMENTS,  /* metadata only */
	STORE_PRIVACY_TICKET_TRIAGE,
	STORE_PRIVACY_TICKET_SUGGESTIONS,
	STORE_PRIVACY_TICKET_OUTBOX,       /* raw mail left out */
	STORE_PRIVACY_TICKET_EVENTS,
	STORE_PRIVACY_TICKET_SLA,
	STORE_PRIVACY_OTHER_MESSAGES,      /* address: sent, received (To, Cc) or named in
					    * others' tickets; raw_text holds the raw mail
					    * for the caller to check, not to export */
	STORE_PRIVACY_OTHER_OUTBOX,        /* address: mail to it outside its tickets */
	STORE_PRIVACY_ACKS,                /* address: the acknowledgement rate limit */
};

/* Appends one JSON object per row of set to array (column names as keys,
 * NULL columns left out, blobs replaced by "<column>_bytes": size). */
int store_privacy_rows_json(struct store *st, enum store_privacy_set set, int64_t ticket_id,
			    const char *address, struct cJSON *array);

/* Tickets whose requester is address, in id order. */
int store_privacy_requester_tickets(struct store *st, const char *address, int64_t **ids_r,
				    size_t *n_r);
/* Resolved or closed tickets resolved before `before`, in id order. */
int store_privacy_expired_tickets(struct store *st, int64_t before, int64_t **ids_r,
				  size_t *n_r);

/* What goes or changes when tickets and an address are erased. */
struct store_privacy_counts {
	int64_t tickets, messages, attachments, triage, suggestions, outbox, events,
		sla_clocks, sla_webhooks, training, acks, messages_scrubbed, events_scrubbed;
};

/* Fills counts for the tickets ids (removed whole) plus, when address is
 * not NULL, the address's messages in other tickets, its other outbox rows
 * and acknowledgement rows. events counts the events of those tickets
 * (kept, scrubbed); *_scrubbed are left 0 (known only once done). */
int store_privacy_count(struct store *st, const int64_t *ids, size_t n, const char *address,
			struct store_privacy_counts *counts_r);

/* Deletes the tickets ids with everything hanging from them (messages, raw
 * mail, attachments, triage, suggestions, outbox, SLA clocks, webhooks,
 * notification log; FTS entries through the triggers; the suggestion log
 * keeps its numbers but loses its free text) and, when address is not
 * NULL, the address's messages in other tickets, outbox rows to it and its
 * acknowledgement row. The caller holds the transaction and has already
 * made the classifier forget these tickets (their training rows go here). */
int store_privacy_delete(struct store *st, const int64_t *ids, size_t n, const char *address);

/* Rewrites text that must stay but mentions an erased person: returns a
 * malloc'ed replacement with its length in *len_r, or NULL when text needs
 * no change. whole: the text belongs to an erased ticket (scrub all personal
 * data), not only a mention of the address in someone else's. */
typedef char *store_privacy_scrub_fn(const char *text, size_t len, int whole, size_t *len_r,
				     void *ctx);
/* Events of the tickets ids (whole) and events elsewhere whose detail
 * mentions address (may be NULL): each detail goes through scrub.
 * *scrubbed_r: rows changed. */
int store_privacy_scrub_events(struct store *st, const int64_t *ids, size_t n,
			       const char *address, store_privacy_scrub_fn *scrub, void *ctx,
			       int64_t *scrubbed_r);
/* Messages (of tickets that stay) whose headers, text or raw mail mention
 * the address, and replies that copied it: each of those columns goes
 * through scrub (whole = 0). */
int store_privacy_scrub_messages(struct store *st, const char *address,
				 store_privacy_scrub_fn *scrub, void *ctx, int64_t *scrubbed_r);

/* After deletions, outside any transaction: rewrites the ticket text index
 * so that no segment keeps a deleted token ('optimize'), then with vacuum
 * rebuilds the file; finally checkpoints the WAL and truncates it. 0 ok,
 * -1 error, 1 when a reader kept the WAL from being truncated (retry). */
int store_privacy_compact(struct store *st, int vacuum);

#endif
