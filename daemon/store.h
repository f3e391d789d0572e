/* The ticket store: one SQLite file (WAL, foreign keys, busy timeout), schema
 * versioned with PRAGMA user_version and migrated forward only. All SQL of the
 * daemon lives behind this interface (store*.c) and in kb/.
 * Ownership: structs filled by store_* belong to the caller, released with the
 * matching *_clear / *_free function; strings returned inside them are copies.
 * One struct store is used by one thread at a time. */
#ifndef TRIAGED_STORE_H
#define TRIAGED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct sqlite3;

/* Opens (creating if needed) and migrates to the current schema. */
int store_open(const char *path, struct store **st_r, const char **error_r);
/* Opens a database another connection (the daemon's writer, triagectl init)
 * created: no migration; fails unless the schema is this program's. */
int store_open_existing(const char *path, struct store **st_r, const char **error_r);
void store_close(struct store **st);
int store_schema_version(struct store *st);
int store_latest_version(void);
/* Opens and migrates only up to version: for the test that migrates from
 * every earlier version. */
int store_open_at_version(const char *path, int version, struct store **st_r,
			  const char **error_r);
/* The underlying connection, for the kb module, which shares the file. */
struct sqlite3 *store_db(struct store *st);
/* Last error text of the connection (valid until the next call). */
const char *store_error(struct store *st);

/* Transactions. begin is BEGIN IMMEDIATE: the single writer takes the lock
 * up front instead of failing with SQLITE_BUSY halfway. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* A time source: the real clock, or a fixed one for tests and replays. */
int64_t store_now(void);
void store_set_fake_now(int64_t t); /* 0 returns to the real clock */

/* ---- mailboxes: the IMAP checkpoint ---- */
int store_checkpoint_get(struct store *st, const char *mailbox, uint32_t *uidvalidity_r,
			 uint32_t *last_uid_r);
int store_checkpoint_set(struct store *st, const char *mailbox, uint32_t uidvalidity,
			 uint32_t last_uid);

/* ---- tickets ---- */
enum ticket_status { TICKET_NEW, TICKET_OPEN, TICKET_PENDING, TICKET_RESOLVED, TICKET_CLOSED };
enum ticket_priority { PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_URGENT };
const char *ticket_status_name(enum ticket_status s);
int ticket_status_parse(const char *s, enum ticket_status *status_r);
const char *ticket_priority_name(enum ticket_priority p);
int ticket_priority_parse(const char *s, enum ticket_priority *priority_r);

struct ticket {
	int64_t id;
	char *subject;
	char *requester;      /* e-mail address, lower case */
	char *requester_name;
	char *mailbox;
	char *queue;
	enum ticket_status status;
	enum ticket_priority priority;
	char *assignee;
	char *language;
	char *category;
	double category_confidence;
	bool spam;
	double spam_score;
	double sentiment;
	char *sentiment_label;
	unsigned loop_flags;
	int64_t created, updated;
	int64_t first_response_at; /* 0: none yet */
	int64_t resolved_at;
	int64_t next_due;          /* earliest open SLA due time, 0: none */
	char *tags;                /* comma-separated */
	int64_t merged_into;       /* the ticket this one was merged into, 0: none */
	bool spam_closed;          /* closed as spam (a rule, an agent's verdict) */
};
void ticket_clear(struct ticket *t);
/* new, open or pending: not resolved or closed. */
bool ticket_is_active(const struct ticket *t);

struct ticket_filter {
	const char *status;   /* NULL: any; "active" = new, open or pending */
	const char *queue;
	const char *requester;
	const char *text;     /* full-text search */
	bool sort_by_due;
	unsigned limit, offset;
};

int store_ticket_create(struct store *st, struct ticket *t, int64_t *id_r);
int store_ticket_get(struct store *st, int64_t id, struct ticket *t_r);   /* 1 found, 0 not, -1 error */
int store_ticket_list(struct store *st, const struct ticket_filter *f, struct ticket **list_r,
		      size_t *n_r);
void ticket_list_free(struct ticket **list, size_t n);
int store_ticket_set_status(struct store *st, int64_t id, enum ticket_status status);
int store_ticket_set_queue(struct store *st, int64_t id, const char *queue);
int store_ticket_set_priority(struct store *st, int64_t id, enum ticket_priority p);
int store_ticket_set_assignee(struct store *st, int64_t id, const char *assignee);
int store_ticket_add_tag(struct store *st, int64_t id, const char *tag);
int store_ticket_set_triage(struct store *st, int64_t id, const char *language,
			    const char *category, double confidence, bool spam, double spam_score,
			    double sentiment, const char *sentiment_label);
int store_ticket_set_first_response(struct store *st, int64_t id, int64_t at);
/* The ticket's mood: its customer's latest message's. */
int store_ticket_set_sentiment(struct store *st, int64_t id, double sentiment, const char *label);
/* Marks the ticket closed as spam, or not; any status but closed clears it. */
int store_ticket_set_spam_closed(struct store *st, int64_t id, bool spam_closed);
int store_ticket_touch(struct store *st, int64_t id);
/* Moves source's messages (and their triage) into target and marks source
 * merged_into target, as tickets merged into source before; *moved_r: how
 * many messages moved. Inside the caller's transaction. */
int store_ticket_merge(struct store *st, int64_t source, int64_t target, int64_t *moved_r);
/* The ticket that id's mail goes to: the one it was merged into, or id
 * itself (also when there is no ticket id). */
int store_ticket_follow_merge(struct store *st, int64_t id, int64_t *id_r);
/* Is addr the requester of ticket id, the sender of one of its messages, or
 * copied (Cc) by the customer on one? */
int store_ticket_has_participant(struct store *st, int64_t id, const char *addr); /* 1/0/-1 */

/* ---- messages ---- */
struct message {
	int64_t id;
	int64_t ticket_id;
	bool outgoing;
	const char *mailbox;      /* NULL for mail from triagectl ingest / outbox */
	uint32_t uidvalidity, uid;
	const char *message_id;   /* without <> */
	const char *dedupe_key;   /* Message-ID, or "sha256:..." of the raw bytes */
	const char *in_reply_to;
	const char *references;   /* space-separated msg-ids */
	const char *from_addr, *from_name, *to_addrs, *cc_addrs;
	const char *subject;
	int64_t date, received;
	const char *body_text, *new_text, *quoted_text, *signature, *html;
	const void *raw;
	size_t raw_len;
	unsigned loop_flags;
	const char *parse_error;
};
/* Fills id_r; returns 0, or 1 when dedupe_key or (mailbox, uidvalidity, uid)
 * already exists (nothing written), -1 on error. */
int store_message_add(struct store *st, const struct message *m, int64_t *id_r);
/* 1 and *ticket_r when a message with this dedupe key exists. */
int store_message_lookup(struct store *st, const char *dedupe_key, int64_t *ticket_r);
/* The ticket of the first message whose Message-ID is one of ids (newest first). */
int store_ticket_by_message_ids(struct store *st, const char *const *ids, size_t n,
				int64_t *ticket_r);
int store_attachment_add(struct store *st, int64_t message_id, const char *filename,
			 const char *content_type, size_t size, const void *data, size_t data_len);

/* Read side, for `show`: messages of a ticket in order, as owned copies. */
struct message_row {
	int64_t id;
	bool outgoing;
	char *message_id, *from_addr, *from_name, *subject, *new_text, *body_text;
	char *to_addrs, *cc_addrs; /* ", "-separated, NULL when none */
	int64_t date, received;
	unsigned loop_flags;
	char *parse_error;
	size_t n_attachments;
	int64_t merged_from; /* the ticket it was moved from by a merge, 0: none */
};
int store_message_list(struct store *st, int64_t ticket_id, struct message_row **rows_r,
		       size_t *n_r);
/* The messages that came to ticket_id itself, where they are now: in it, or
 * in the ticket a merge moved them to (the mail a correction of that
 * ticket's triage is about). */
int store_message_list_origin(struct store *st, int64_t ticket_id, struct message_row **rows_r,
			      size_t *n_r);
/* The raw bytes of a message as received (NUL-terminated copy, the caller
 * frees it). 1 found, 0 no such message or no raw bytes, -1 error. */
int store_message_raw(struct store *st, int64_t message_id, char **raw_r, size_t *len_r);
void message_rows_free(struct message_row **rows, size_t n);

/* ---- audit events ---- */
/* actor: "system", "mailbox:NAME", "rule:NAME", "model:category", "agent:EMAIL".
 * detail: a JSON object (or NULL) with the reason. */
int store_event_add(struct store *st, int64_t ticket_id, const char *actor, const char *kind,
		    const char *detail_json);
struct event_row {
	int64_t id, ticket_id, at;
	char *actor, *kind, *detail;
};
int store_event_list(struct store *st, int64_t ticket_id, struct event_row **rows_r, size_t *n_r);
void event_rows_free(struct event_row **rows, size_t n);

/* ---- triage decisions: each with its confidence and its reasons ---- */
struct triage_row {
	char *task;        /* "language", "category", "spam", "sentiment" */
	char *label;
	double confidence; /* [0,1] */
	double score;      /* sentiment score, spam probability... */
	char *explanation; /* a sentence an agent understands */
	char *detail;      /* JSON: the weighted tokens or words */
	int64_t at;
};
int store_triage_add(struct store *st, int64_t ticket_id, int64_t message_id, const char *task,
		     const char *label, double confidence, double score, const char *explanation,
		     const char *detail_json);
int store_triage_list(struct store *st, int64_t ticket_id, struct triage_row **rows_r,
		      size_t *n_r);
void triage_rows_free(struct triage_row **rows, size_t n);

/* ---- the classifier's counts ---- */
int store_nb_clear(struct store *st, const char *model);
int store_nb_label_add(struct store *st, const char *model, const char *label, double docs,
		       double tokens);
int store_nb_count_add(struct store *st, const char *model, const char *token,
		       const char *label, double count);
typedef int store_nb_label_cb(const char *label, double docs, double tokens, void *ctx);
typedef int store_nb_count_cb(const char *token, const char *label, double count, void *ctx);
int store_nb_load(struct store *st, const char *model, store_nb_label_cb *label_cb,
		  store_nb_count_cb *count_cb, void *ctx);
/* Numbers a model keeps about itself (e.g. "temperature"): 1 found, 0 not, -1 error. */
int store_nb_meta_get(struct store *st, const char *model, const char *key, double *value_r);
int store_nb_meta_set(struct store *st, const char *model, const char *key, double value);
/* Kept so that an example can be forgotten (erasure) or replaced
 * (correction); weight: how many times it was counted. */
int store_training_add(struct store *st, int64_t ticket_id, const char *model, const char *label,
		       const char *features, int weight);
int store_training_get(struct store *st, int64_t ticket_id, const char *model, char **label_r,
		       char **features_r, int *weight_r); /* 1/0/-1 */
int store_training_delete(struct store *st, int64_t ticket_id, const char *model);

/* ---- statistics ---- */
struct store_stats {
	int64_t tickets, messages, attachments, events;
	int64_t by_status[5];
};
int store_stats(struct store *st, struct store_stats *stats_r);

#endif
