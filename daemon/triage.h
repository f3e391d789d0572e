/* Triage of one mail: language, category (naive Bayes), spam verdict and
 * sentiment, each with its confidence and the reasons behind it, recorded in
 * the store. The statistics only inform: queue, priority and actions are the
 * workflow's to decide (rules.h).
 * Triage runs in two steps: triage_prepare (feature extraction and
 * sentiment: pure CPU, no model, no store) and triage_classify (the models);
 * triage_run does both. The first may run in another thread, with a
 * preparation context of its own.
 * Ownership: a struct triage belongs to one thread (its tokeniser holds
 * Snowball stemmers), and so does a struct triage_prep; a preparation
 * context may outlive the triage it came from (it holds a reference to the
 * read-only stop words and lexicons). Results and features are owned by the
 * caller (triage_result_clear, triage_features_free). */
#ifndef TRIAGED_TRIAGE_H
#define TRIAGED_TRIAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct feat_bag;
struct mime_message;
struct store;
struct triage;
struct triage_prep;
struct triage_features;

struct triage_result {
	char language[8];         /* "fr", "en", "other" */
	double language_confidence;
	char *category;           /* NULL when the model has fewer than two labels */
	double category_confidence;
	char *category_runner_up;
	char *category_explanation;
	char *category_detail;    /* JSON: tokens for and against, with weights */
	bool low_confidence;      /* below nlp.min_confidence: a human decides */
	bool spam;
	double spam_probability;
	char *spam_explanation;
	char *spam_detail;
	double sentiment;         /* [-1, 1] */
	char sentiment_label[16]; /* negative, neutral, positive */
	char *sentiment_explanation;
	char *sentiment_detail;   /* JSON: the words and their contributions */
	/* The features of subject + text (stems, no stop words), kept for the
	 * suggestions so that they are not extracted twice. */
	struct feat_bag *features;
};

/* Loads stop words and lexicons from the config's folders and the models'
 * counts from the store; a model with no counts yet is seeded from the
 * labelled samples in nlp.training_dir (and persisted, in one transaction). */
int triage_open(struct store *st, const struct config *cfg, struct triage **tr_r,
		const char **error_r);
void triage_free(struct triage **tr);

/* headers: the raw header block (may be NULL); text: the new text of the mail. */
int triage_run(struct triage *tr, const char *subject, const char *headers, const char *text,
	       struct triage_result *res_r, const char **error_r);
void triage_result_clear(struct triage_result *res);

/* A preparation context for another thread, on the stop words and lexicons
 * tr loaded. */
int triage_prep_new(struct triage *tr, struct triage_prep **tp_r, const char **error_r);
/* Another context on the same resources as tp (for yet another thread). */
int triage_prep_copy(const struct triage_prep *tp, struct triage_prep **copy_r,
		     const char **error_r);
void triage_prep_free(struct triage_prep **tp);
/* The model-free part of triage_run (same arguments): the category and
 * spam features, the language guess and the sentiment. */
int triage_prepare(struct triage_prep *tp, const char *subject, const char *headers,
		   const char *text, struct triage_features **tf_r, const char **error_r);
void triage_features_free(struct triage_features **tf);
/* true when tf was prepared on tr's own stop words and lexicons (not those
 * of a configuration loaded before or after): triage_classify accepts it. */
bool triage_features_current(const struct triage *tr, const struct triage_features *tf);
/* The rest of triage_run: classifies prepared features with the current
 * models. The result is the one triage_run gives for the same mail, except
 * that its features stay in tf (NULL in the result): tf stays the
 * caller's, to free in the thread that made it. */
int triage_classify(struct triage *tr, const struct triage_features *tf,
		    struct triage_result *res_r, const char **error_r);
/* The category features of tf (subject and text), valid while tf lives. */
const struct feat_bag *triage_features_bag(const struct triage_features *tf);
/* Same on a parsed mail: its subject, decoded header fields (as
 * triage_mail_headers gives them) and new text. */
int triage_run_mail(struct triage *tr, const struct mime_message *msg,
		    struct triage_result *res_r, const char **error_r);
/* The top header fields of msg, RFC 2047 decoded, one "Name: value" per
 * line (at most 64 KiB): what the spam model reads of the envelope. The
 * caller frees it. */
char *triage_mail_headers(const struct mime_message *msg);
/* The feature flags (feat.h) of the spam model. */
unsigned triage_spam_flags(void);

/* Writes the decisions as triage rows of the ticket and onto the ticket. */
int triage_record(struct store *st, int64_t ticket_id, int64_t message_id,
		  const struct triage_result *res);

/* An agent's correction: the ticket's first message becomes a training
 * example of label (replacing an earlier correction of the same ticket),
 * applied to the model and its stored counts at once, counted as many times
 * (*weight_r, may be NULL; at most 16) as it takes for the model to decide
 * that mail as the agent did. */
int triage_learn(struct triage *tr, struct store *st, int64_t ticket_id, const char *label,
		 int *weight_r, const char **error_r);
/* An agent's verdict on spam: the ticket's first customer message (its
 * spam features, from the raw mail) becomes a training example of "spam" or
 * "ham" of the spam model, replacing an earlier verdict on the ticket. */
int triage_learn_spam(struct triage *tr, struct store *st, int64_t ticket_id, bool spam,
		      int *weight_r, const char **error_r);
/* Reloads a model when another process corrected it since it was loaded
 * (one indexed read per model when nothing changed). */
int triage_refresh(struct triage *tr, struct store *st, const char **error_r);
/* Forgets what every model learned from a ticket (privacy erasure). */
int triage_forget(struct triage *tr, struct store *st, int64_t ticket_id, const char **error_r);

/* The labels of the category model (pointers valid while tr lives). */
size_t triage_category_labels(const struct triage *tr, const char ***labels_r);

#endif
