/* Suggested replies for a ticket: the best knowledge-base articles and the
 * most similar solved tickets, each with a score and a draft reply, stored
 * with the ticket (store_suggestions.h); and the calls the approval code
 * makes (get a draft for an agent, record a decision, measure an edit).
 * Drafts use the article's template (or its body), in the ticket's language
 * when an article in it matches, with {{customer.name}}, {{ticket.id}},
 * {{ticket.subject}} filled and {{agent.name}} set to a neutral signature
 * ("Le service client" / "The support team") until an agent is known:
 * suggest_get() renders it again with the agent's name.
 * Ownership: struct suggest belongs to one thread (it holds Snowball
 * stemmers); what suggest_get fills belongs to the caller. The connection
 * must have had kb_register() called on it. */
#ifndef TRIAGED_SUGGEST_H
#define TRIAGED_SUGGEST_H

#include <stddef.h>
#include <stdint.h>

#include "store_suggestions.h"

struct config;
struct store;
struct suggest;

/* Terms of the ticket that go into the article query (the heaviest by
 * tf-idf against the knowledge base). */
#define SUGGEST_QUERY_TERMS 8
/* Terms of the similar-ticket query (prefixes over unstemmed mail: each
 * costs more than an article term), chosen among at most CANDIDATES of the
 * heaviest so that together they match at most MAX_MATCHES messages (each
 * match is ranked: this bounds the search's cost). */
#define SUGGEST_SIMILAR_TERMS 3
#define SUGGEST_SIMILAR_CANDIDATES 6
#define SUGGEST_SIMILAR_MAX_MATCHES 1500
/* The ticket text looked at: subject and incoming messages, newest first. */
#define SUGGEST_MAX_TEXT (64 * 1024)
/* Edit ratio: texts are compared on at most this many words each. */
#define SUGGEST_EDIT_MAX_WORDS 4000

#define SUGGEST_SIGNATURE_FR "Le service client"
#define SUGGEST_SIGNATURE_EN "The support team"

/* Reads the stop words of cfg->nlp.stopwords_dir (fr.txt, en.txt; a missing
 * file means none for that language). cfg must outlive the context. */
int suggest_new(const struct config *cfg, struct suggest **sg_r, const char **error_r);
void suggest_free(struct suggest **sg);

/* Computes the suggestions of a ticket and stores them, replacing those not
 * yet decided (see store_suggestions_replace), with an audit event giving the
 * query terms and what was found. Call it when a ticket is created and when
 * the customer adds a message, inside the ingestion transaction (it is
 * atomic on its own too). */
int suggest_for_ticket(struct suggest *sg, struct store *st, int64_t ticket_id,
		       const char **error_r);

/* The same with the features of the ticket's text already extracted (by
 * triage, for a new ticket: the subject and the first message's new text);
 * NULL builds them from the ticket's customer messages. */
struct feat_bag;
int suggest_for_ticket_terms(struct suggest *sg, struct store *st, int64_t ticket_id,
			     const struct feat_bag *features, const char **error_r);

/* Where the time of the last suggest_for_ticket*() call went, phase by
 * phase, in wall-clock and in this thread's CPU milliseconds (the two differ
 * when the machine is busy); for the benchmark and debugging. */
enum suggest_phase {
	SUGGEST_PHASE_TERMS,    /* ticket, messages, feature extraction */
	SUGGEST_PHASE_WEIGH,    /* tf-idf against the knowledge base */
	SUGGEST_PHASE_ARTICLES, /* the article search */
	SUGGEST_PHASE_SIMILAR,  /* the similar-solved-ticket search */
	SUGGEST_PHASE_DRAFTS,   /* reading the articles found, rendering drafts */
	SUGGEST_PHASE_STORE,    /* storing the suggestions and the audit event */
	SUGGEST_PHASES
};
struct suggest_profile {
	double wall_ms[SUGGEST_PHASES];
	double cpu_ms[SUGGEST_PHASES];
	size_t kb_terms;      /* terms in the article query */
	int64_t kb_postings;  /* articles those terms are in, summed */
	size_t similar_terms;    /* terms in the similar-ticket query */
	int64_t similar_matches; /* messages they match (counted together, or
				  * summed term by term when over budget) */
};
/* Every later suggest_for_ticket*() call on sg fills *profile (overwritten
 * each call); NULL stops it. The caller owns profile and keeps it alive while
 * it is set. */
void suggest_set_profile(struct suggest *sg, struct suggest_profile *profile);

/* Suggestion K of a ticket. With agent_name, an article's draft is rendered
 * again from its template with {{agent.name}} = agent_name (the stored draft
 * is kept when the article is gone). 1 found, 0 not, -1 error. */
int suggest_get(struct store *st, int64_t ticket_id, int rank, const char *agent_name,
		struct suggestion *s_r, const char **error_r);

/* Records an agent's decision on suggestion K: approved (sent as drafted,
 * edit_ratio 0), edited (sent after changes: give suggest_edit_ratio of the
 * draft and the text sent) or rejected (with a reason). agent is the agent's
 * address. Fails when K does not exist or was already decided. Also writes
 * an audit event. */
int suggest_mark(struct store *st, int64_t ticket_id, int rank, enum suggestion_status status,
		 const char *agent, const char *reason, double edit_ratio, const char **error_r);

/* How much of the draft the agent changed: the word-level Levenshtein
 * distance between draft and sent divided by the longer one's word count,
 * in [0, 1] (0: sent as drafted, 1: nothing kept). Words are runs of
 * non-space bytes; whitespace changes do not count. */
double suggest_edit_ratio(const char *draft, const char *sent);

#endif
