/* The store's suggested replies: per ticket, ranked articles and similar
 * solved tickets with a draft each, the agents' decisions on them, the
 * decision log the kb statistics are computed from, and the search for
 * similar solved tickets over messages_fts.
 * Ownership: structs filled here belong to the caller, released with
 * suggestion_clear / suggestion_list_free / similar_list_free /
 * suggestion_stats_free; strings inside are owned copies. */
#ifndef TRIAGED_STORE_SUGGESTIONS_H
#define TRIAGED_STORE_SUGGESTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum suggestion_status {
	SUGGESTION_PROPOSED,
	SUGGESTION_APPROVED, /* sent as drafted */
	SUGGESTION_REJECTED,
	SUGGESTION_EDITED,   /* sent after the agent changed it */
};
const char *suggestion_status_name(enum suggestion_status s);
int suggestion_status_parse(const char *s, enum suggestion_status *status_r);

struct suggestion {
	int64_t ticket_id;
	int rank;       /* K, from 1 */
	char *kind;     /* "article" or "ticket" */
	char *ref;      /* article id, or the solved ticket's number */
	char *title;
	double score;   /* positive, higher is better */
	char *draft;
	char *language; /* of the draft */
	enum suggestion_status status;
	char *reason;   /* why it was rejected */
	int64_t created, decided_at;
	char *decided_by;
	double edit_ratio; /* < 0: not decided, or rejected */
};
void suggestion_clear(struct suggestion *s);
void suggestion_list_free(struct suggestion **list, size_t n);

/* Replaces the ticket's still-proposed suggestions with items (their
 * ticket_id, rank, status and decision fields are ignored). Decided ones are
 * kept and the new ones are ranked after them, so that a rank K an agent saw
 * never names another suggestion. Each (ticket, kind, ref) is logged as
 * "suggested" once. Atomic (a savepoint). */
int store_suggestions_replace(struct store *st, int64_t ticket_id, const struct suggestion *items,
			      size_t n);
/* In rank order. */
int store_suggestion_list(struct store *st, int64_t ticket_id, struct suggestion **list_r,
			  size_t *n_r);
/* 1 found, 0 not, -1 error. */
int store_suggestion_get(struct store *st, int64_t ticket_id, int rank, struct suggestion *s_r);
/* Records a decision on a proposed suggestion and logs it; edit_ratio < 0
 * stores none. 1 done, 0 no such proposed suggestion, -1 error. */
int store_suggestion_decide(struct store *st, int64_t ticket_id, int rank,
			    enum suggestion_status status, const char *agent, const char *reason,
			    double edit_ratio);

/* A solved ticket similar to the text searched for. */
struct similar_ticket {
	int64_t ticket_id;
	char *subject;
	double score; /* -bm25, positive */
	char *reply;  /* its last outgoing message, NULL when none */
	char *language;
};
void similar_list_free(struct similar_ticket **list, size_t n);
/* Resolved or closed tickets other than exclude whose messages match the
 * FTS5 expression match over messages_fts (subject weighted above the text),
 * best first, one row per ticket. */
int store_similar_solved(struct store *st, const char *match, int64_t exclude, unsigned limit,
			 struct similar_ticket **list_r, size_t *n_r);
/* Whether a ticket other than exclude is resolved or closed (one indexed
 * look-up): when none is, store_similar_solved finds nothing. */
int store_any_solved(struct store *st, int64_t exclude, bool *any_r);
/* How many messages match the FTS5 expression match over messages_fts,
 * counted up to cap (the answer is then cap): the cost of a search is
 * bounded before it runs. */
int store_message_matches(struct store *st, const char *match, int64_t cap, int64_t *n_r);

/* Per article, from the decision log (articles since removed included). */
struct suggestion_stat {
	char *ref;
	char *title;     /* NULL when the article is gone */
	int64_t suggested, approved, edited, rejected;
	double mean_edit_ratio; /* over approvals (as is: 0) and edits; < 0: none */
};
int store_suggestion_stats(struct store *st, struct suggestion_stat **list_r, size_t *n_r);
void suggestion_stats_free(struct suggestion_stat **list, size_t n);

#endif
