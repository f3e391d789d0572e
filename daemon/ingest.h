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

/* Preparation: what can be done with a mail without the store (MIME
 * parsing, the deduplication key, triage features and sentiment), so that
 * it runs in a fetcher's thread while the writer stores earlier mail. A
 * preparation context belongs to one thread and may outlive the ingester
 * it was made from; mail prepared with the resources of an older
 * configuration is prepared again by the writer. */
struct ingest_prep;
struct ingest_prepared;
int ingest_prep_new(struct ingest *ing, struct ingest_prep **prep_r, const char **error_r);
/* Another context on the same resources (for a helper thread). */
int ingest_prep_copy(const struct ingest_prep *prep, struct ingest_prep **copy_r,
		     const char **error_r);
void ingest_prep_free(struct ingest_prep **prep);
/* Never fails: a mail that cannot be parsed is prepared for quarantine. The
 * result does not point into raw. */
struct ingest_prepared *ingest_prepare(struct ingest_prep *prep, const char *raw, size_t len);
void ingest_prepared_free(struct ingest_prepared **prepared);

/* ingest_mail with the mail prepared already (prepared may be NULL: it is
 * then prepared here); prepared stays the caller's, to free in the thread
 * that made it. Stores exactly what ingest_mail stores. */
int ingest_mail_prepared(struct ingest *ing, const struct ingest_source *src, const char *raw,
			 size_t len, const struct ingest_prepared *prepared,
			 struct ingest_result *res_r, const char **error_r);

struct ingest_item {
	uint32_t uid;
	char *data;
	size_t len;
	bool truncated;
	struct ingest_prepared *prepared; /* NULL: the writer prepares the mail;
					   * ingest_batch only reads it */
};

/* Consecutive mails of one mailbox, fetched after the checkpoint
 * (from_validity, from_uid), leaving it at (uidvalidity, last_uid). */
struct ingest_slice {
	const char *mailbox;
	uint32_t from_validity, from_uid;
	uint32_t uidvalidity, last_uid;
	struct ingest_item *items;
	size_t n;
};

/* Stores a slice and moves its mailbox's checkpoint in one transaction. A
 * mail that fails for a reason other than the database is quarantined
 * (stored raw with the reason), never dropped; a database error rolls
 * everything back and returns -1. A slice that does not follow the stored
 * checkpoint (an earlier slice failed, or another process moved it) stores
 * nothing and returns -1: the fetcher starts again from the checkpoint, so
 * that no mail is skipped. new_tickets_r may be NULL. */
int ingest_batch(struct ingest *ing, struct ingest_slice *slice, size_t *new_tickets_r,
		 const char **error_r);

#endif
