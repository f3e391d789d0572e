/* Ingestion: one raw mail becomes a ticket, or a message of the ticket it
 * answers, triaged and audited. The caller batches mails into one
 * transaction with the mailbox checkpoint (ingest_batch), so that a crash at
 * any point neither loses nor duplicates a mail.
 * Ownership: struct ingest belongs to the single writer thread. */
#ifndef TRIAGED_INGEST_H
#define TRIAGED_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct ingest;

/* Where a mail came from: an IMAP mailbox (with its UID) or a pipe. */
struct ingest_source {
	const char *mailbox;  /* config name; NULL: none */
	bool has_uid;         /* fetched over IMAP: uidvalidity and uid are set */
	uint32_t uidvalidity;
	uint32_t uid;
	bool truncated;       /* the fetch cut the mail at its size limit */
};

struct ingest_result {
	int64_t ticket_id;
	int64_t message_id;
	bool duplicate;       /* already stored: nothing written */
	bool new_ticket;
	bool reopened;
	bool parse_failed;    /* stored raw, with a parse-error event */
	/* The triage summary, for the log line. */
	char category[32];
	double category_confidence;
	char sentiment[16];
	bool spam;
};

int ingest_open(struct store *st, const struct config *cfg, struct ingest **ing_r,
		const char **error_r);
void ingest_free(struct ingest **ing);
/* The triage engine the ingester uses (for corrections from the same thread). */
struct triage *ingest_triage(struct ingest *ing);

/* Stores one mail. The caller holds a transaction. */
int ingest_mail(struct ingest *ing, const struct ingest_source *src, const char *raw, size_t len,
		struct ingest_result *res_r, const char **error_r);

struct ingest_item {
	uint32_t uid;
	char *data;
	size_t len;
	bool truncated;
};

/* Stores mails of one mailbox and moves its checkpoint to last_uid in one
 * transaction. A mail that fails for a reason other than the database is
 * quarantined (stored raw with the reason), never dropped; a database error
 * rolls everything back and returns -1. new_tickets_r may be NULL. */
int ingest_batch(struct ingest *ing, const char *mailbox, uint32_t uidvalidity,
		 const struct ingest_item *items, size_t n, uint32_t last_uid,
		 size_t *new_tickets_r, const char **error_r);

#endif
