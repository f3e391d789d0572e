/* Naive Bayes after Rennie, Shih, Teevan, Karger, "Tackling the poor
 * assumptions of naive Bayes text classifiers", ICML 2003.
 *
 * Document vector d (feature counts), transformed at training and at
 * classification alike:
 *   log_tf:      d_i <- log(1 + d_i)                      (Rennie eq. 1)
 *   length_norm: d_i <- d_i / sqrt(sum_k d_k^2)           (Rennie eq. 4)
 * Counts: N_ci = sum of d_i over documents of class c, N_c = sum_i N_ci,
 * V = number of features with a non-zero count, alpha the Lidstone prior.
 *   multinomial: theta_ci = (N_ci + alpha) / (N_c + alpha V)
 *                score_c  = log p(c) + sum_i f_i log theta_ci
 *   complement:  theta~_ci = (N~_ci + alpha) / (N~_c + alpha V), where
 *                N~ counts every class but c                   (Rennie eq. 5)
 *                score_c  = log p(c) - sum_i f_i log theta~_ci  (Rennie eq. 6)
 * with p(c) = docs_c / docs (maximum likelihood), or the same for every
 * class with uniform_prior, and f the transformed test document. Features never seen in training are ignored.
 *
 * Confidence: naive Bayes scores add one term per token as if tokens were
 * independent, which makes exp(score) absurdly sharp. We divide each score
 * by the evidence mass F = max(1, sum_i f_i) (the per-token mean
 * log-likelihood, i.e. the geometric mean of the token likelihoods) and take
 * a softmax with temperature T: conf_c = exp(s_c/(F T)) / sum_k exp(s_k/(F T)).
 * T is a calibration constant to be fitted on held-out mail (lower T: more
 * confident); the default 0.25 maps a mean per-token log-odds of 1 to 0.98. */
#include "nb.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "strbuf.h"
#include "symtab.h"
#include "xalloc.h"

#define MAGIC "TRNB"
#define FORMAT_VERSION 1
/* No cell may reach this, so sums of a few cells never overflow. */
#define COUNT_MAX (INT64_C(1) << 60)

struct nb_model {
	struct nb_options opts;
	struct symtab *labels;
	int64_t *docs;        /* per label */
	int64_t *label_total; /* per label, fixed point */
	struct symtab *tokens;
	size_t stride;      /* label slots per token row */
	int64_t *cells;     /* tokens x stride, fixed point */
	int64_t *row_total; /* per token */
	size_t token_cap;
	size_t live; /* tokens with row_total > 0 */
	int64_t grand_total;
	int64_t total_docs;
	/* weight_of() of every cell (tokens x stride) after nb_prepare(); any
	 * change of the counts drops it (NULL: computed on each use). */
	double *weights;
	/* log1p() of the small counts most features have, computed once by
	 * log1p() itself: the same bits, without a call per feature. */
	double log1p_small[64];
	uint8_t caller_byte; /* nb_set_caller_byte(), kept in the file */
	/* feat_hash() of every token -> its id, after nb_prepare_hashed(), for
	 * hashed bags (open addressing, linear probing, hash 0 = empty); a new
	 * token drops it (NULL). */
	struct hashed_token *by_hash;
	size_t by_hash_mask;
	unsigned by_hash_shift; /* 64 - log2(by_hash_mask + 1) */
};

struct hashed_token {
	uint64_t hash;
	uint32_t id;
};

void nb_options_default(struct nb_options *opts)
{
	*opts = (struct nb_options){.variant = NB_MULTINOMIAL, .alpha = 1.0, .temperature = 0.25};
}

static int check_options(const struct nb_options *o, const char **error_r)
{
	if (o->variant != NB_MULTINOMIAL && o->variant != NB_COMPLEMENT) {
		*error_r = "unknown naive Bayes variant";
		return -1;
	}
	if (!(o->alpha > 0 && o->alpha <= 1000)) {
		*error_r = "alpha must be in (0, 1000]";
		return -1;
	}
	if (!(o->temperature > 0 && o->temperature <= 1000)) {
		*error_r = "temperature must be in (0, 1000]";
		return -1;
	}
	return 0;
}

int nb_new(const struct nb_options *opts, struct nb_model **model_r, const char **error_r)
{
	if (check_options(opts, error_r) < 0)
		return -1;
	struct nb_model *m = xcalloc(1, sizeof(*m));
	m->opts = *opts;
	m->labels = symtab_new(8);
	m->tokens = symtab_new(1024);
	m->stride = 4;
	m->docs = xcalloc(NB_MAX_LABELS, sizeof(*m->docs));
	m->label_total = xcalloc(NB_MAX_LABELS, sizeof(*m->label_total));
	for (size_t c = 0; c < ARRAY_SIZE(m->log1p_small); c++)
		m->log1p_small[c] = log1p((double)c);
	*model_r = m;
	return 0;
}

void nb_free(struct nb_model **mp)
{
	struct nb_model *m = *mp;
	if (m == NULL)
		return;
	symtab_free(&m->labels);
	symtab_free(&m->tokens);
	free(m->docs);
	free(m->label_total);
	free(m->cells);
	free(m->row_total);
	free(m->weights);
	free(m->by_hash);
	free(m);
	*mp = NULL;
}

void nb_get_options(const struct nb_model *m, struct nb_options *opts_r)
{
	*opts_r = m->opts;
}

void nb_set_caller_byte(struct nb_model *m, uint8_t value)
{
	m->caller_byte = value;
}

uint8_t nb_caller_byte(const struct nb_model *m)
{
	return m->caller_byte;
}

int nb_set_temperature(struct nb_model *m, double temperature, const char **error_r)
{
	struct nb_options o = m->opts;
	o.temperature = temperature;
	if (check_options(&o, error_r) < 0)
		return -1;
	m->opts = o;
	return 0;
}

static void drop_weights(struct nb_model *m)
{
	free(m->weights);
	m->weights = NULL;
}

static int label_id(struct nb_model *m, const char *label, bool create, uint32_t *id_r,
                    const char **error_r)
{
	size_t len = label != NULL ? strlen(label) : 0;
	if (len == 0 || len > NB_MAX_LABEL_LEN) {
		*error_r = "label empty or too long";
		return -1;
	}
	if (symtab_find(m->labels, label, len, id_r) == 0)
		return 0;
	if (!create) {
		*error_r = "unknown label";
		return -1;
	}
	if (symtab_count(m->labels) >= NB_MAX_LABELS) {
		*error_r = "too many labels";
		return -1;
	}
	uint32_t id = symtab_intern(m->labels, label, len, NULL);
	if (id >= m->stride) {
		/* Widen every token row; rare (labels are few). */
		size_t stride = m->stride * 2;
		size_t ntok = symtab_count(m->tokens);
		int64_t *cells =
		    xcalloc(m->token_cap > 0 ? m->token_cap : 1, stride * sizeof(*cells));
		for (size_t t = 0; t < ntok; t++)
			memcpy(cells + t * stride, m->cells + t * m->stride,
			       m->stride * sizeof(*cells));
		free(m->cells);
		m->cells = cells;
		m->stride = stride;
		drop_weights(m);
	}
	*id_r = id;
	return 0;
}

static uint32_t token_id(struct nb_model *m, const char *token, size_t len)
{
	bool created;
	uint32_t id = symtab_intern(m->tokens, token, len, &created);
	if (created && m->by_hash != NULL) {
		free(m->by_hash);
		m->by_hash = NULL;
	}
	if (created && id >= m->token_cap) {
		size_t old = m->token_cap;
		size_t cap = old;
		m->row_total = xgrow(m->row_total, &cap, (size_t)id + 1, sizeof(*m->row_total));
		m->cells = xrealloc(m->cells, cap * m->stride * sizeof(*m->cells));
		memset(m->cells + old * m->stride, 0, (cap - old) * m->stride * sizeof(*m->cells));
		memset(m->row_total + old, 0, (cap - old) * sizeof(*m->row_total));
		m->token_cap = cap;
	}
	return id;
}

/* Transformed document vector in the order of the bag (double). */
static void transform(const struct nb_model *m, const struct feat_bag *bag, double *x)
{
	const struct nb_options *o = &m->opts;
	size_t n = feat_bag_count(bag);
	const uint32_t *count = feat_bag_counts(bag);
	double norm = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = count[i];
		x[i] = !o->log_tf                          ? (double)c
		       : c < ARRAY_SIZE(m->log1p_small) ? m->log1p_small[c]
		                                         : log1p((double)c);
		norm += x[i] * x[i];
	}
	if (o->length_norm && norm > 0) {
		norm = sqrt(norm);
		for (size_t i = 0; i < n; i++)
			x[i] /= norm;
	}
}

static int64_t to_fixed(double x)
{
	return (int64_t)llround(x * NB_FIXED_ONE);
}

static void cell_add(struct nb_model *m, uint32_t tok, uint32_t lab, int64_t delta)
{
	int64_t *cell = &m->cells[(size_t)tok * m->stride + lab];
	if (m->weights != NULL)
		drop_weights(m);
	bool was_live = m->row_total[tok] > 0;
	*cell += delta;
	m->row_total[tok] += delta;
	m->label_total[lab] += delta;
	m->grand_total += delta;
	bool is_live = m->row_total[tok] > 0;
	if (was_live != is_live)
		m->live += is_live ? 1 : (size_t)-1;
}

int nb_train(struct nb_model *m, const struct feat_bag *bag, const char *label, int weight,
             const char **error_r)
{
	if (weight == 0 || weight > NB_MAX_WEIGHT || weight < -NB_MAX_WEIGHT) {
		*error_r = "weight must be non-zero and at most 1000 in magnitude";
		return -1;
	}
	if (feat_bag_is_hashed(bag)) {
		*error_r = "a hashed bag has no feature strings to train on";
		return -1;
	}
	uint32_t lab;
	if (label_id(m, label, weight > 0, &lab, error_r) < 0)
		return -1;
	size_t n = feat_bag_count(bag);
	_cleanup_free_ double *x = xmalloc((n + 1) * sizeof(*x));
	_cleanup_free_ int64_t *delta = xmalloc((n + 1) * sizeof(*delta));
	int64_t added = 0;
	transform(m, bag, x);
	if (m->docs[lab] + weight < 0) {
		*error_r = "cannot forget an example that was not trained";
		return -1;
	}
	/* Check everything before changing anything. */
	for (size_t i = 0; i < n; i++) {
		const char *f;
		uint32_t c, tok;
		feat_bag_get(bag, i, &f, &c);
		delta[i] = to_fixed(x[i]) * weight;
		if (weight < 0) {
			if (symtab_find(m->tokens, f, strlen(f), &tok) < 0 ||
			    m->cells[(size_t)tok * m->stride + lab] + delta[i] < 0) {
				*error_r = "cannot forget an example that was not trained";
				return -1;
			}
		} else {
			added += delta[i];
			if (delta[i] > COUNT_MAX || added > COUNT_MAX ||
			    m->grand_total > COUNT_MAX * 4 - added ||
			    (symtab_find(m->tokens, f, strlen(f), &tok) == 0 &&
			     m->cells[(size_t)tok * m->stride + lab] > COUNT_MAX - delta[i])) {
				*error_r = "count overflow";
				return -1;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *f;
		uint32_t c;
		feat_bag_get(bag, i, &f, &c);
		cell_add(m, token_id(m, f, strlen(f)), lab, delta[i]);
	}
	m->docs[lab] += weight;
	m->total_docs += weight;
	return 0;
}

int nb_train_batch(struct nb_model *m, const struct feat_bag *const *bags,
                   const char *const *labels, size_t n, const char **error_r)
{
	/* Aggregate in a private model, then merge: the sums are integers, so
	 * the result is the one of n single calls in any order. */
	struct nb_model *agg;
	if (nb_new(&m->opts, &agg, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (nb_train(agg, bags[i], labels[i], 1, error_r) < 0) {
			nb_free(&agg);
			return -1;
		}
	}
	for (uint32_t l = 0; l < symtab_count(agg->labels); l++) {
		uint32_t lab;
		if (label_id(m, symtab_key(agg->labels, l), true, &lab, error_r) < 0) {
			nb_free(&agg);
			return -1;
		}
		m->docs[lab] += agg->docs[l];
		m->total_docs += agg->docs[l];
		for (uint32_t t = 0; t < symtab_count(agg->tokens); t++) {
			int64_t c = agg->cells[(size_t)t * agg->stride + l];
			if (c != 0)
				cell_add(m,
				         token_id(m, symtab_key(agg->tokens, t),
				                  symtab_key_len(agg->tokens, t)),
				         lab, c);
		}
	}
	nb_free(&agg);
	return 0;
}

int nb_train_thick(struct nb_model *m, const struct feat_bag *const *bags,
                   const char *const *labels, size_t n, unsigned passes, double margin,
                   size_t *retrained_r, const char **error_r)
{
	if (!(margin >= 0 && margin < 0.5)) {
		*error_r = "thick-threshold margin must be in [0, 0.5)";
		return -1;
	}
	if (nb_train_batch(m, bags, labels, n, error_r) < 0)
		return -1;
	_cleanup_free_ const struct feat_bag **again = xcalloc(n + 1, sizeof(*again));
	_cleanup_free_ const char **again_labels = xcalloc(n + 1, sizeof(*again_labels));
	size_t total = 0;
	for (unsigned pass = 0; pass < passes; pass++) {
		nb_prepare(m);
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			struct nb_result r;
			if (nb_classify_with(m, bags[i], NB_CLASSIFY_NO_REASONS, &r, error_r) < 0)
				return -1;
			/* the true label's confidence; 0 when it is neither of the two */
			double conf = strcmp(r.label, labels[i]) == 0       ? r.confidence
			              : strcmp(r.runner_up, labels[i]) == 0 ? r.runner_up_confidence
			                                                    : 0;
			if (conf < 0.5 + margin) {
				again[k] = bags[i];
				again_labels[k++] = labels[i];
			}
		}
		if (k == 0)
			break;
		if (nb_train_batch(m, again, again_labels, k, error_r) < 0)
			return -1;
		total += k;
	}
	if (retrained_r != NULL)
		*retrained_r = total;
	return 0;
}

struct contrib {
	uint32_t token;
	double diff;
};

static int cmp_desc(const void *a, const void *b)
{
	double x = ((const struct contrib *)a)->diff, y = ((const struct contrib *)b)->diff;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* log theta (multinomial) or -log theta~ (complement) of token t, label c. */
static double compute_weight(const struct nb_model *m, uint32_t t, uint32_t c)
{
	double alpha_v = m->opts.alpha * (double)m->live;
	double cell = (double)m->cells[(size_t)t * m->stride + c] / NB_FIXED_ONE;
	if (m->opts.variant == NB_MULTINOMIAL) {
		double total = (double)m->label_total[c] / NB_FIXED_ONE;
		return log((cell + m->opts.alpha) / (total + alpha_v));
	}
	double comp_cell = (double)(m->row_total[t]) / NB_FIXED_ONE - cell;
	double comp_total = (double)(m->grand_total - m->label_total[c]) / NB_FIXED_ONE;
	return -log((comp_cell + m->opts.alpha) / (comp_total + alpha_v));
}

static inline double weight_of(const struct nb_model *m, uint32_t t, uint32_t c)
{
	if (m->weights != NULL)
		return m->weights[(size_t)t * m->stride + c];
	return compute_weight(m, t, c);
}

void nb_prepare(struct nb_model *m)
{
	if (m->weights != NULL)
		return;
	size_t ntok = symtab_count(m->tokens), nlab = symtab_count(m->labels);
	double *w = xcalloc(ntok > 0 ? ntok : 1, m->stride * sizeof(*w));
	/* Same expression as without the table: classification gives the same
	 * bits either way. */
	for (uint32_t t = 0; t < ntok; t++)
		for (uint32_t c = 0; c < nlab; c++)
			w[(size_t)t * m->stride + c] = compute_weight(m, t, c);
	m->weights = w;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int check_active(const struct nb_model *m, const char **error_r)
{
	size_t active = 0;
	for (size_t c = 0; c < symtab_count(m->labels); c++)
		active += m->docs[c] > 0;
	if (active < 2) {
		*error_r = "the model needs trained examples of at least two labels";
		return -1;
	}
	return 0;
}

static int find_hashed(const struct nb_model *m, uint64_t hash, uint32_t *id_r)
{
	size_t i = FEAT_HASH_INDEX(hash, m->by_hash_shift);
	for (;;) {
		const struct hashed_token *slot = &m->by_hash[i];
		if (slot->hash == hash) {
			*id_r = slot->id;
			return 0;
		}
		if (slot->hash == 0)
			return -1;
		i = (i + 1) & m->by_hash_mask;
	}
}

/* A 64-bit hash stands for the feature's string, its bytes never compared:
 * two features of the model with one hash would be confused, which is
 * checked here (and the index refused). A feature of a mail that is not in
 * the model could still share a hash with one that is and be counted as
 * that one: with a well-mixed 64-bit hash the chance is about
 * features per mail x features of the model / 2^64, under 1e-12 per mail
 * for a few hundred and a few hundred thousand. */
int nb_prepare_hashed(struct nb_model *m, const char **error_r)
{
	if (m->by_hash != NULL)
		return 0;
	size_t ntok = symtab_count(m->tokens), nslots = 16;
	while (nslots < ntok * 2)
		nslots *= 2;
	struct hashed_token *table = xcalloc(nslots, sizeof(*table));
	size_t mask = nslots - 1;
	unsigned shift = 64 - (unsigned)__builtin_ctzll(nslots);
	for (uint32_t t = 0; t < ntok; t++) {
		uint64_t h = feat_hash(symtab_key(m->tokens, t), symtab_key_len(m->tokens, t));
		size_t i = FEAT_HASH_INDEX(h, shift);
		while (table[i].hash != 0) {
			if (table[i].hash == h) {
				free(table);
				*error_r = "two features of the model share a 64-bit hash";
				return -1;
			}
			i = (i + 1) & mask;
		}
		table[i] = (struct hashed_token){.hash = h, .id = t};
	}
	m->by_hash = table;
	m->by_hash_mask = mask;
	m->by_hash_shift = shift;
	return 0;
}

/* A hashed bag is looked up through the index of nb_prepare_hashed(). */
static int check_bag(const struct nb_model *m, const struct feat_bag *bag, const char **error_r)
{
	if (feat_bag_is_hashed(bag) && m->by_hash == NULL) {
		*error_r = "a hashed bag needs the model's hash index (nb_prepare_hashed)";
		return -1;
	}
	return 0;
}

/* Raw scores of every label with documents (others left untouched); x and
 * ids (feat_bag_count + 1 entries) receive the known features. */
static void compute_scores(const struct nb_model *m, const struct feat_bag *bag, double *score,
                           double *x, uint32_t *ids, size_t *known_r, double *mass_r)
{
	size_t n = feat_bag_count(bag), known = 0;
	double mass = 0;
	transform(m, bag, x);
	/* the model's slots a few features ahead, fetched while these are
	 * looked up (a model's table is larger than the cache) */
	enum { AHEAD = 8 };
	if (feat_bag_is_hashed(bag)) {
		const uint64_t *hash = feat_bag_hashes(bag);
		for (size_t i = 0; i < n && i < AHEAD; i++)
			__builtin_prefetch(&m->by_hash[FEAT_HASH_INDEX(hash[i], m->by_hash_shift)]);
		for (size_t i = 0; i < n; i++) {
			if (i + AHEAD < n)
				__builtin_prefetch(&m->by_hash[FEAT_HASH_INDEX(hash[i + AHEAD],
				                                               m->by_hash_shift)]);
			uint32_t t;
			if (find_hashed(m, hash[i], &t) < 0 || m->row_total[t] <= 0)
				continue;
			x[known] = x[i];
			ids[known++] = t;
			mass += x[i];
		}
	} else {
		for (size_t i = 0; i < n && i < AHEAD; i++)
			feat_bag_prefetch_in(bag, i, m->tokens);
		for (size_t i = 0; i < n; i++) {
			uint32_t t;
			if (i + AHEAD < n)
				feat_bag_prefetch_in(bag, i + AHEAD, m->tokens);
			if (feat_bag_find_in(bag, i, m->tokens, &t) < 0 || m->row_total[t] <= 0)
				continue;
			x[known] = x[i];
			ids[known++] = t;
			mass += x[i];
		}
	}
	for (uint32_t c = 0; c < symtab_count(m->labels); c++) {
		if (m->docs[c] <= 0)
			continue;
		double s = m->opts.uniform_prior
		               ? 0
		               : log((double)m->docs[c] / (double)m->total_docs);
		for (size_t i = 0; i < known; i++)
			s += x[i] * weight_of(m, ids[i], c);
		score[c] = s;
	}
	*known_r = known;
	*mass_r = mass;
}

/* Scratch arrays on the stack for bags of up to this many features. */
#define STACK_FEATURES 512

int nb_classify_with(const struct nb_model *m, const struct feat_bag *bag, unsigned flags,
                     struct nb_result *result_r, const char **error_r)
{
	if (check_active(m, error_r) < 0 || check_bag(m, bag, error_r) < 0)
		return -1;
	size_t nlabels = symtab_count(m->labels);
	size_t n = feat_bag_count(bag);
	double x_stack[STACK_FEATURES], score_stack[8];
	uint32_t ids_stack[STACK_FEATURES];
	_cleanup_free_ double *x_heap = NULL, *score_heap = NULL;
	_cleanup_free_ uint32_t *ids_heap = NULL;
	double *x = x_stack, *score = score_stack;
	uint32_t *ids = ids_stack;
	if (n + 1 > STACK_FEATURES) {
		x = x_heap = xmalloc((n + 1) * sizeof(*x));
		ids = ids_heap = xmalloc((n + 1) * sizeof(*ids));
	}
	if (nlabels > ARRAY_SIZE(score_stack))
		score = score_heap = xcalloc(nlabels, sizeof(*score));
	else
		memset(score_stack, 0, sizeof(score_stack));
	size_t known;
	double mass;
	compute_scores(m, bag, score, x, ids, &known, &mass);
	uint32_t best = UINT32_MAX, second = UINT32_MAX;
	for (uint32_t c = 0; c < nlabels; c++) {
		if (m->docs[c] <= 0)
			continue;
		if (best == UINT32_MAX || score[c] > score[best]) {
			second = best;
			best = c;
		} else if (second == UINT32_MAX || score[c] > score[second]) {
			second = c;
		}
	}
	/* Softmax of the normalised scores, shifted by the maximum so that
	 * every exponent is <= 0 (no overflow). */
	double scale = 1.0 / ((mass > 1 ? mass : 1) * m->opts.temperature);
	double sum = 0;
	for (uint32_t c = 0; c < nlabels; c++)
		if (m->docs[c] > 0)
			sum += exp((score[c] - score[best]) * scale);
	struct nb_result r;
	memset(&r, 0, sizeof(r));
	copy_str(r.label, sizeof(r.label), symtab_key(m->labels, best));
	copy_str(r.runner_up, sizeof(r.runner_up), symtab_key(m->labels, second));
	r.score = score[best];
	r.runner_up_score = score[second];
	r.confidence = 1.0 / sum;
	r.runner_up_confidence = exp((score[second] - score[best]) * scale) / sum;
	r.known_features = known;
	if (flags & NB_CLASSIFY_NO_REASONS) {
		*result_r = r;
		return 0;
	}

	_cleanup_free_ struct contrib *con = xmalloc((known + 1) * sizeof(*con));
	for (size_t i = 0; i < known; i++) {
		con[i].token = ids[i];
		con[i].diff = x[i] * (weight_of(m, ids[i], best) - weight_of(m, ids[i], second));
	}
	qsort(con, known, sizeof(*con), cmp_desc);
	for (size_t i = 0; i < known && r.n_for < NB_MAX_REASONS && con[i].diff > 0; i++) {
		copy_str(r.for_label[r.n_for].token, sizeof(r.for_label[0].token),
		         symtab_key(m->tokens, con[i].token));
		r.for_label[r.n_for++].weight = con[i].diff;
	}
	for (size_t i = known; i > 0 && r.n_against < NB_MAX_REASONS && con[i - 1].diff < 0; i--) {
		copy_str(r.against[r.n_against].token, sizeof(r.against[0].token),
		         symtab_key(m->tokens, con[i - 1].token));
		r.against[r.n_against++].weight = con[i - 1].diff;
	}
	*result_r = r;
	return 0;
}

int nb_classify(const struct nb_model *m, const struct feat_bag *bag, struct nb_result *result_r,
                const char **error_r)
{
	return nb_classify_with(m, bag, 0, result_r, error_r);
}

/* Mean negative log-likelihood of the true labels at inverse temperature
 * beta, z holding the normalised scores (rows of nlabels, NAN = no docs). */
static double nll(const double *z, const uint32_t *truth, size_t n, size_t nlabels, double beta)
{
	double total = 0;
	for (size_t i = 0; i < n; i++) {
		const double *row = z + i * nlabels;
		double max = -INFINITY;
		for (size_t c = 0; c < nlabels; c++)
			if (!isnan(row[c]) && row[c] > max)
				max = row[c];
		double sum = 0;
		for (size_t c = 0; c < nlabels; c++)
			if (!isnan(row[c]))
				sum += exp(beta * (row[c] - max));
		total += beta * max + log(sum) - beta * row[truth[i]];
	}
	return total / (double)n;
}

int nb_fit_temperature(const struct nb_model *m, const struct feat_bag *const *bags,
                       const char *const *labels, size_t n, double *temperature_r,
                       const char **error_r)
{
	if (check_active(m, error_r) < 0)
		return -1;
	size_t nlabels = symtab_count(m->labels), used = 0;
	_cleanup_free_ double *z = xmalloc((n + 1) * nlabels * sizeof(*z));
	_cleanup_free_ uint32_t *truth = xmalloc((n + 1) * sizeof(*truth));
	for (size_t i = 0; i < n; i++) {
		uint32_t y;
		if (labels[i] == NULL ||
		    symtab_find(m->labels, labels[i], strlen(labels[i]), &y) < 0 || m->docs[y] <= 0)
			continue;
		if (check_bag(m, bags[i], error_r) < 0)
			return -1;
		size_t nf = feat_bag_count(bags[i]), known;
		_cleanup_free_ double *x = xmalloc((nf + 1) * sizeof(*x));
		_cleanup_free_ uint32_t *ids = xmalloc((nf + 1) * sizeof(*ids));
		double mass, *row = z + used * nlabels;
		for (size_t c = 0; c < nlabels; c++)
			row[c] = NAN;
		compute_scores(m, bags[i], row, x, ids, &known, &mass);
		for (size_t c = 0; c < nlabels; c++)
			row[c] /= mass > 1 ? mass : 1;
		truth[used++] = y;
	}
	if (used == 0) {
		*error_r = "no example with a trained label";
		return -1;
	}
	/* The NLL is convex in beta = 1/T (log-sum-exp of functions linear in
	 * beta, minus a linear term): golden-section search on log beta. */
	double lo = log(1.0 / 1000), hi = log(1.0 / 0.001);
	const double g = (sqrt(5.0) - 1) / 2;
	for (int it = 0; it < 80; it++) {
		double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
		if (nll(z, truth, used, nlabels, exp(a)) <= nll(z, truth, used, nlabels, exp(b)))
			hi = b;
		else
			lo = a;
	}
	*temperature_r = 1.0 / exp((lo + hi) / 2);
	return 0;
}

/* Class tokens and prefixes in words an agent reads. */
static void put_token(struct strbuf *sb, const char *token, const struct feat_bag *bag)
{
	const char *surface = bag != NULL ? feat_bag_surface(bag, token) : NULL;
	static const struct {
		const char *token, *words;
	} classes[] = {
	    {"__url__", "a link"},
	    {"__email__", "an e-mail address"},
	    {"__amount__", "an amount"},
	    {"__order__", "an order number"},
	    {"__invoice__", "an invoice number"},
	    {"__ref__", "a reference"},
	    {"__number__", "a number"},
	};
	bool subject = strncmp(token, FEAT_SUBJECT_PREFIX, strlen(FEAT_SUBJECT_PREFIX)) == 0;
	if (subject)
		token += strlen(FEAT_SUBJECT_PREFIX);
	const char *words = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(classes); i++)
		if (strcmp(token, classes[i].token) == 0)
			words = classes[i].words;
	if (words != NULL)
		strbuf_puts(sb, words);
	else
		strbuf_printf(sb, "\"%s\"", surface != NULL ? surface : token);
	if (subject)
		strbuf_puts(sb, " in the subject");
}

char *nb_explain(const struct nb_result *r)
{
	return nb_explain_words(r, NULL);
}

char *nb_explain_words(const struct nb_result *r, const struct feat_bag *bag)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_printf(&sb, "\"%s\" (confidence %.2f)", r->label, r->confidence);
	for (size_t i = 0; i < r->n_for; i++) {
		strbuf_puts(&sb, i == 0 ? " mainly because of: " : ", ");
		put_token(&sb, r->for_label[i].token, bag);
		strbuf_printf(&sb, " (%+.1f)", r->for_label[i].weight);
	}
	if (r->n_for == 0)
		strbuf_puts(&sb, " with no decisive word");
	strbuf_printf(&sb, "; against \"%s\" (%.2f)", r->runner_up, r->runner_up_confidence);
	for (size_t i = 0; i < r->n_against; i++) {
		strbuf_puts(&sb, i == 0 ? ": " : ", ");
		put_token(&sb, r->against[i].token, bag);
		strbuf_printf(&sb, " (%+.1f)", r->against[i].weight);
	}
	return strbuf_steal(&sb);
}

/* ---- rows ---- */

void nb_foreach_label(const struct nb_model *m, nb_label_cb_t *cb, void *context)
{
	for (uint32_t c = 0; c < symtab_count(m->labels); c++) {
		if (m->docs[c] == 0 && m->label_total[c] == 0)
			continue;
		if (cb(context, symtab_key(m->labels, c), m->docs[c],
		       (double)m->label_total[c] / NB_FIXED_ONE) != 0)
			return;
	}
}

void nb_foreach_count(const struct nb_model *m, nb_count_cb_t *cb, void *context)
{
	for (uint32_t t = 0; t < symtab_count(m->tokens); t++) {
		for (uint32_t c = 0; c < symtab_count(m->labels); c++) {
			int64_t v = m->cells[(size_t)t * m->stride + c];
			if (v != 0 && cb(context, symtab_key(m->tokens, t),
			                 symtab_key(m->labels, c), (double)v / NB_FIXED_ONE) != 0)
				return;
		}
	}
}

int nb_add_docs(struct nb_model *m, const char *label, int64_t docs, const char **error_r)
{
	uint32_t lab;
	if (docs < 0 || docs > COUNT_MAX) {
		*error_r = "document count out of range";
		return -1;
	}
	if (label_id(m, label, true, &lab, error_r) < 0)
		return -1;
	if (m->docs[lab] > COUNT_MAX - docs) {
		*error_r = "document count overflow";
		return -1;
	}
	m->docs[lab] += docs;
	m->total_docs += docs;
	return 0;
}

static int add_fixed(struct nb_model *m, const char *token, size_t len, uint32_t lab, int64_t v,
                     const char **error_r)
{
	if (len == 0 || len > FEAT_MAX_LEN) {
		*error_r = "token empty or too long";
		return -1;
	}
	uint32_t t;
	int64_t cur =
	    symtab_find(m->tokens, token, len, &t) == 0 ? m->cells[(size_t)t * m->stride + lab] : 0;
	if (v < 0 || v > COUNT_MAX || cur > COUNT_MAX - v || m->grand_total > COUNT_MAX * 4 - v) {
		*error_r = "count out of range";
		return -1;
	}
	cell_add(m, token_id(m, token, len), lab, v);
	return 0;
}

int nb_add_count(struct nb_model *m, const char *token, const char *label, double count,
                 const char **error_r)
{
	uint32_t lab;
	if (!isfinite(count) || count < 0 || count > (double)COUNT_MAX / NB_FIXED_ONE) {
		*error_r = "count out of range";
		return -1;
	}
	if (label_id(m, label, true, &lab, error_r) < 0)
		return -1;
	return add_fixed(m, token, token != NULL ? strlen(token) : 0, lab, to_fixed(count),
	                 error_r);
}

double nb_get_count(const struct nb_model *m, const char *token, const char *label)
{
	uint32_t t, c;
	if (symtab_find(m->tokens, token, strlen(token), &t) < 0 ||
	    symtab_find(m->labels, label, strlen(label), &c) < 0)
		return 0;
	return (double)m->cells[(size_t)t * m->stride + c] / NB_FIXED_ONE;
}

int64_t nb_get_docs(const struct nb_model *m, const char *label)
{
	uint32_t c;
	return symtab_find(m->labels, label, strlen(label), &c) < 0 ? 0 : m->docs[c];
}

size_t nb_vocabulary_size(const struct nb_model *m)
{
	return m->live;
}

/* ---- model file ---- */

static void put_varint(struct strbuf *sb, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	strbuf_append(sb, b, n);
}

static void put_u64(struct strbuf *sb, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	strbuf_append(sb, b, 8);
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static int cmp_label(const void *a, const void *b, void *model)
{
	const struct nb_model *m = model;
	return strcmp(symtab_key(m->labels, *(const uint32_t *)a),
	              symtab_key(m->labels, *(const uint32_t *)b));
}

static int cmp_token(const void *a, const void *b, void *model)
{
	const struct nb_model *m = model;
	return strcmp(symtab_key(m->tokens, *(const uint32_t *)a),
	              symtab_key(m->tokens, *(const uint32_t *)b));
}

int nb_save(const struct nb_model *m, char **buf_r, size_t *len_r, const char **error_r)
{
	(void)error_r;
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_append(&sb, MAGIC, 4);
	unsigned char head[4] = {
	    FORMAT_VERSION, (unsigned char)m->opts.variant,
	    (unsigned char)((m->opts.log_tf ? 1 : 0) | (m->opts.length_norm ? 2 : 0) |
	                    (m->opts.uniform_prior ? 4 : 0)),
	    m->caller_byte};
	strbuf_append(&sb, head, 4);
	uint64_t bits;
	memcpy(&bits, &m->opts.alpha, 8);
	put_u64(&sb, bits);
	memcpy(&bits, &m->opts.temperature, 8);
	put_u64(&sb, bits);

	/* Canonical order (by name) so that equal models give equal files. */
	size_t nl = symtab_count(m->labels), nt = symtab_count(m->tokens);
	_cleanup_free_ uint32_t *lorder = xmalloc((nl + 1) * sizeof(*lorder));
	_cleanup_free_ uint32_t *lindex = xmalloc((nl + 1) * sizeof(*lindex));
	_cleanup_free_ uint32_t *torder = xmalloc((nt + 1) * sizeof(*torder));
	size_t kl = 0, kt = 0;
	for (uint32_t c = 0; c < nl; c++)
		if (m->docs[c] != 0 || m->label_total[c] != 0)
			lorder[kl++] = c;
	for (uint32_t t = 0; t < nt; t++)
		if (m->row_total[t] > 0)
			torder[kt++] = t;
	qsort_r(lorder, kl, sizeof(*lorder), cmp_label, (void *)m);
	qsort_r(torder, kt, sizeof(*torder), cmp_token, (void *)m);
	put_varint(&sb, kl);
	for (size_t i = 0; i < kl; i++) {
		lindex[lorder[i]] = (uint32_t)i;
		const char *name = symtab_key(m->labels, lorder[i]);
		put_varint(&sb, strlen(name));
		strbuf_puts(&sb, name);
		put_varint(&sb, (uint64_t)m->docs[lorder[i]]);
	}
	put_varint(&sb, kt);
	for (size_t i = 0; i < kt; i++) {
		uint32_t t = torder[i];
		const char *name = symtab_key(m->tokens, t);
		put_varint(&sb, strlen(name));
		strbuf_puts(&sb, name);
		size_t nnz = 0;
		for (size_t j = 0; j < kl; j++)
			nnz += m->cells[(size_t)t * m->stride + lorder[j]] != 0;
		put_varint(&sb, nnz);
		for (size_t j = 0; j < kl; j++) {
			int64_t v = m->cells[(size_t)t * m->stride + lorder[j]];
			if (v != 0) {
				put_varint(&sb, j);
				put_varint(&sb, (uint64_t)v);
			}
		}
	}
	uint32_t sum = fnv1a((const unsigned char *)sb.data, sb.len);
	unsigned char tail[4] = {(unsigned char)sum, (unsigned char)(sum >> 8),
	                         (unsigned char)(sum >> 16), (unsigned char)(sum >> 24)};
	strbuf_append(&sb, tail, 4);
	*len_r = sb.len;
	*buf_r = strbuf_steal(&sb);
	return 0;
}

struct reader {
	const unsigned char *p;
	size_t len, pos;
};

static int get_varint(struct reader *r, uint64_t *v_r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->pos >= r->len)
			return -1;
		unsigned char b = r->p[r->pos++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v_r = v;
			return 0;
		}
	}
	return -1;
}

static int get_bytes(struct reader *r, size_t n, const unsigned char **p_r)
{
	if (n > r->len - r->pos)
		return -1;
	*p_r = r->p + r->pos;
	r->pos += n;
	return 0;
}

static uint64_t get_u64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

int nb_load(const void *buf, size_t len, struct nb_model **model_r, const char **error_r)
{
	const unsigned char *p = buf;
	if (len < 28 || memcmp(p, MAGIC, 4) != 0) {
		*error_r = "not a triaged naive Bayes model";
		return -1;
	}
	if (p[4] != FORMAT_VERSION) {
		*error_r = "unsupported model file version";
		return -1;
	}
	uint32_t sum = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 |
	               (uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
	if (fnv1a(p, len - 4) != sum) {
		*error_r = "model file checksum mismatch";
		return -1;
	}
	struct nb_options o = {
	    .variant = p[5],
	    .log_tf = (p[6] & 1) != 0,
	    .length_norm = (p[6] & 2) != 0,
	    .uniform_prior = (p[6] & 4) != 0};
	uint64_t bits = get_u64(p + 8);
	memcpy(&o.alpha, &bits, 8);
	bits = get_u64(p + 16);
	memcpy(&o.temperature, &bits, 8);
	struct nb_model *m;
	if (nb_new(&o, &m, error_r) < 0)
		return -1;
	m->caller_byte = p[7];
	struct reader r = {p, len - 4, 24};
	uint64_t nl, nt, v;
	_cleanup_free_ uint32_t *lmap = NULL;
	const unsigned char *s;
	char name[FEAT_MAX_LEN + 1];
	*error_r = "model file truncated or corrupt";
	if (get_varint(&r, &nl) < 0 || nl > NB_MAX_LABELS)
		goto fail;
	lmap = xmalloc((nl + 1) * sizeof(*lmap));
	for (uint64_t i = 0; i < nl; i++) {
		if (get_varint(&r, &v) < 0 || v == 0 || v > NB_MAX_LABEL_LEN ||
		    get_bytes(&r, v, &s) < 0)
			goto fail;
		memcpy(name, s, v);
		name[v] = '\0';
		uint64_t docs;
		if (get_varint(&r, &docs) < 0 || docs > (uint64_t)COUNT_MAX ||
		    memchr(name, '\0', v) != NULL)
			goto fail;
		if (label_id(m, name, true, &lmap[i], error_r) < 0 ||
		    nb_add_docs(m, name, (int64_t)docs, error_r) < 0)
			goto fail;
	}
	if (get_varint(&r, &nt) < 0 || nt > len)
		goto fail;
	for (uint64_t i = 0; i < nt; i++) {
		uint64_t nnz;
		if (get_varint(&r, &v) < 0 || v == 0 || v > FEAT_MAX_LEN ||
		    get_bytes(&r, v, &s) < 0 || get_varint(&r, &nnz) < 0 || nnz > nl)
			goto fail;
		uint32_t t = token_id(m, (const char *)s, v);
		for (uint64_t j = 0; j < nnz; j++) {
			uint64_t lab, count;
			if (get_varint(&r, &lab) < 0 || lab >= nl || get_varint(&r, &count) < 0 ||
			    count > (uint64_t)COUNT_MAX ||
			    m->cells[(size_t)t * m->stride + lmap[lab]] != 0 ||
			    m->grand_total > COUNT_MAX * 4 - (int64_t)count)
				goto fail;
			cell_add(m, t, lmap[lab], (int64_t)count);
		}
	}
	if (r.pos != r.len)
		goto fail;
	nb_prepare(m); /* a loaded model is mostly there to classify */
	*model_r = m;
	return 0;
fail:
	nb_free(&m);
	return -1;
}
