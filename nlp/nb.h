/* Naive Bayes text classifier: multinomial or complement (Rennie et al.
 * 2003), log space, Lidstone smoothing, optional TF log transform and
 * document length normalisation, incremental training and untraining,
 * calibrated confidence, an explanation an agent can read, and a compact
 * model file. One model per task (e.g. "category", "spam"); labels are
 * strings.
 * Ownership: the caller owns models (nb_free) and strings returned by
 * nb_explain / nb_save (free()). Results are plain structs with copies.
 * A model is not thread-safe for writing; classification only reads. */
#ifndef TRIAGED_NLP_NB_H
#define TRIAGED_NLP_NB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feat.h"

#define NB_MAX_LABELS 256
#define NB_MAX_LABEL_LEN 64
#define NB_MAX_REASONS 5
/* Largest |weight| of one training call. */
#define NB_MAX_WEIGHT 1000
/* Counts are stored in fixed point (1/NB_FIXED_ONE) so that sums do not
 * depend on the order of training: incremental == batch, untrain exact. */
#define NB_FIXED_ONE (1 << 20)

enum nb_variant {
	NB_MULTINOMIAL = 0, /* classic multinomial NB */
	NB_COMPLEMENT = 1,  /* complement NB, Rennie et al. 2003 section 3.1 */
};

struct nb_options {
	enum nb_variant variant;
	bool log_tf;        /* d_i <- log(1 + d_i), Rennie section 4.1 */
	bool length_norm;   /* d_i <- d_i / sqrt(sum_k d_k^2), Rennie section 4.3 */
	double alpha;       /* Lidstone smoothing, > 0 (1 = Laplace) */
	double temperature; /* confidence calibration, > 0; see nb_classify */
	/* p(c) the same for every label instead of the share of the training
	 * documents: with length normalisation a document's evidence has unit
	 * length while the log prior ratio is not scaled with it, and pulls the
	 * unsure mails to the larger class (Graham's and bogofilter's spam
	 * probabilities also assume equal priors). */
	bool uniform_prior;
};

/* Multinomial, no transforms, alpha 1, temperature 0.25. */
void nb_options_default(struct nb_options *opts);

struct nb_model;

int nb_new(const struct nb_options *opts, struct nb_model **model_r, const char **error_r);
void nb_free(struct nb_model **model);
void nb_get_options(const struct nb_model *model, struct nb_options *opts_r);
/* The temperature is a calibration, not part of the counts: it may change
 * at any time (e.g. after fitting it on held-out mail). */
int nb_set_temperature(struct nb_model *model, double temperature, const char **error_r);
/* One byte the caller keeps in the model file (its header's spare byte),
 * e.g. how it made the features the model was trained on; 0 when never set,
 * as in files written before it existed. */
void nb_set_caller_byte(struct nb_model *model, uint8_t value);
uint8_t nb_caller_byte(const struct nb_model *model);

/* Adds one example (weight > 0) or forgets one (weight < 0, exactly the
 * same features and label as when it was trained). Fails, changing nothing,
 * if forgetting would make a count negative. */
int nb_train(struct nb_model *model, const struct feat_bag *features, const char *label, int weight,
             const char **error_r);
/* Same as n calls of nb_train(..., weight 1) in any order, aggregated first. */
int nb_train_batch(struct nb_model *model, const struct feat_bag *const *features,
                   const char *const *labels, size_t n, const char **error_r);

/* Thick-threshold training (Siefkes, Assis, Chhabra and Yerazunis 2004,
 * "Combining Winnow and orthogonal sparse bigrams for incremental spam
 * filtering"; Yerazunis's "train until no errors"):
 * nb_train_batch, then up to passes rounds in which every example the model
 * gets wrong, or right with a confidence under 0.5 + margin (margin in
 * [0, 0.5); the confidence of nb_classify at the model's temperature at the
 * time) is trained once more. Naive Bayes trained once per example
 * lets a flood of easy examples outvote the few near the boundary; this
 * gives those more weight, and the model stays a naive Bayes model (only
 * its counts differ). Deterministic for the same input order.
 * *retrained_r (may be NULL): examples trained again, over all rounds. */
int nb_train_thick(struct nb_model *model, const struct feat_bag *const *features,
                   const char *const *labels, size_t n, unsigned passes, double margin,
                   size_t *retrained_r, const char **error_r);

struct nb_reason {
	char token[FEAT_MAX_LEN + 1];
	double weight; /* contribution to score(label) - score(runner-up) */
};

struct nb_result {
	char label[NB_MAX_LABEL_LEN + 1];
	double confidence; /* calibrated, in [0,1] */
	char runner_up[NB_MAX_LABEL_LEN + 1];
	double runner_up_confidence;
	double score, runner_up_score; /* raw log scores */
	size_t known_features;         /* distinct features the model knew */
	size_t n_for, n_against;
	struct nb_reason for_label[NB_MAX_REASONS]; /* most positive first */
	struct nb_reason against[NB_MAX_REASONS];   /* most negative first */
};

/* Needs at least two labels with trained documents. Features the model has
 * never seen are ignored. A hashed bag needs nb_prepare_hashed() first;
 * its reasons name the model's features as well. */
int nb_classify(const struct nb_model *model, const struct feat_bag *features,
                struct nb_result *result_r, const char **error_r);
enum nb_classify_flags {
	/* Labels, scores and confidences only: n_for = n_against = 0 (no
	 * sorting of the contributions, for bulk classification). */
	NB_CLASSIFY_NO_REASONS = 1 << 0,
};
/* nb_classify with flags (nb_classify_flags); the same result otherwise. */
int nb_classify_with(const struct nb_model *model, const struct feat_bag *features, unsigned flags,
                     struct nb_result *result_r, const char **error_r);
/* Precomputes the log weight of every (token, label) cell so that
 * classifying does no log(): the same results, faster. Memory: one double per
 * cell. Any later change of the counts (training, nb_add_count) drops the
 * table; call again after training. nb_load() calls it. */
void nb_prepare(struct nb_model *model);
/* Indexes the model's features by feat_hash() so that hashed bags
 * (feat_bag_new_hashed) can be classified: the same results as with string
 * bags. Memory: 16 bytes per feature, twice over. A new feature (training,
 * nb_add_count) drops the index; call again after training. Fails, with no
 * index, in the unlikely case that two features share a hash: classify
 * string bags then. */
int nb_prepare_hashed(struct nb_model *model, const char **error_r);
/* Fits the temperature that minimises the log loss of the given labelled
 * examples (held out from training, e.g. the agents' latest corrections);
 * examples whose label the model lacks are skipped. Apply it with
 * nb_set_temperature(). */
int nb_fit_temperature(const struct nb_model *model, const struct feat_bag *const *features,
                       const char *const *labels, size_t n, double *temperature_r,
                       const char **error_r);
/* A sentence for an agent: "billing" (confidence 0.87) mainly because of:
 * "facture" (+2.1), an amount (+0.9), ...; against "technical" (0.13):
 * "connexion" (-0.8). nb_explain shows the model's tokens (stems);
 * nb_explain_words, given the classified bag (may be NULL), shows the words
 * of the mail instead. */
char *nb_explain(const struct nb_result *result);
char *nb_explain_words(const struct nb_result *result, const struct feat_bag *features);

/* Persistence as rows (for SQLite): label rows (docs, total tokens) and
 * cells (token, label, count). Counts are reals (fixed point underneath,
 * exact in a double). A callback returning non-zero stops the walk. */
typedef int nb_label_cb_t(void *context, const char *label, int64_t docs, double tokens);
typedef int nb_count_cb_t(void *context, const char *token, const char *label, double count);
void nb_foreach_label(const struct nb_model *model, nb_label_cb_t *callback, void *context);
void nb_foreach_count(const struct nb_model *model, nb_count_cb_t *callback, void *context);
/* Rebuild from rows: label totals follow from the cells added. */
int nb_add_docs(struct nb_model *model, const char *label, int64_t docs, const char **error_r);
int nb_add_count(struct nb_model *model, const char *token, const char *label, double count,
                 const char **error_r);
double nb_get_count(const struct nb_model *model, const char *token, const char *label);
int64_t nb_get_docs(const struct nb_model *model, const char *label);
size_t nb_vocabulary_size(const struct nb_model *model);

/* Standalone model file, canonical (same model -> same bytes): magic
 * "TRNB", version, options, labels, tokens with their non-zero cells as
 * varints, checksum. */
int nb_save(const struct nb_model *model, char **buf_r, size_t *len_r, const char **error_r);
int nb_load(const void *buf, size_t len, struct nb_model **model_r, const char **error_r);

#endif
