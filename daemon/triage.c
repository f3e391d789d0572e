/* Triage: feature extraction, the category and spam models, sentiment, and
 * the bookkeeping that keeps the models' counts in the store in step with
 * the models in memory. */
#include "triage.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "feat.h"
#include "fileio.h"
#include "log.h"
#include "mime.h"
#include "nb.h"
#include "parse.h"
#include "senti.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

#define TRAINING_FILE_MAX (64u << 20)
#define RESOURCE_FILE_MAX (8u << 20)
#define MODEL_CATEGORY "category"
#define MODEL_SPAM "spam"
#define TEMPERATURE_FLOOR 0.04

/* What every preparation context reads and none writes: the stop words
 * (as file text, for feat_ctx_new) and the sentiment lexicons. Shared by a
 * triage and the contexts made from it, freed with the last reference. */
struct triage_shared {
	atomic_int refs;
	uint64_t generation;
	char *stop_fr, *stop_en;
	size_t stop_fr_len, stop_en_len;
	struct senti_lexicon *senti_fr;
	struct senti_lexicon *senti_en;
};

struct triage_prep {
	struct triage_shared *shared;
	struct feat_ctx *feat; /* Snowball stemmers: this thread's own */
};

/* What triage_prepare computed: no model was consulted yet. */
struct triage_features {
	uint64_t generation; /* of the shared resources that made them */
	struct feat_bag *bag;
	struct feat_bag *spam_bag;
	double sentiment;
	char sentiment_label[16];
	char *sentiment_explanation;
	char *sentiment_detail;
};

/* Each set of resources loaded gets its own number, so that features made
 * with the lexicons of an older configuration are recognised. */
static atomic_uint_fast64_t shared_generations;

struct triage {
	const struct config *cfg;
	struct triage_prep *prep; /* the writer's own preparation context */
	struct feat_ctx *feat;    /* = prep->feat */
	struct nb_model *category;
	struct nb_model *spam;
	const char **labels;
	size_t n_labels;
	/* The stored models' versions when they were loaded: another process
	 * (triagectl, the web console) that learns a correction bumps one, and
	 * triage_refresh() reloads. */
	double category_version, spam_version;
};

/* ---- model persistence ---- */

struct load_ctx {
	struct nb_model *model;
	const char *error;
};

static int load_label(const char *label, double docs, double tokens, void *ctx)
{
	struct load_ctx *lc = ctx;
	(void)tokens; /* derived from the cells */
	return nb_add_docs(lc->model, label, (int64_t)llround(docs), &lc->error);
}

static int load_count(const char *token, const char *label, double count, void *ctx)
{
	struct load_ctx *lc = ctx;
	return nb_add_count(lc->model, token, label, count, &lc->error);
}

struct save_ctx {
	struct store *st;
	const char *model;
	int failed;
};

static int save_label(void *ctx, const char *label, int64_t docs, double tokens)
{
	struct save_ctx *sc = ctx;
	if (store_nb_label_add(sc->st, sc->model, label, (double)docs, tokens) < 0)
		sc->failed = 1;
	return sc->failed;
}

static int save_count(void *ctx, const char *token, const char *label, double count)
{
	struct save_ctx *sc = ctx;
	if (store_nb_count_add(sc->st, sc->model, token, label, count) < 0)
		sc->failed = 1;
	return sc->failed;
}

/* Writes a whole model's counts (seeding); the caller holds a transaction. */
static int persist_model(struct store *st, const char *name, const struct nb_model *model)
{
	struct save_ctx sc = {.st = st, .model = name};
	if (store_nb_clear(st, name) < 0)
		return -1;
	nb_foreach_label(model, save_label, &sc);
	nb_foreach_count(model, save_count, &sc);
	return sc.failed ? -1 : 0;
}

/* The counts of bag's features under label, before a change that
 * persist_change() then stores. */
static double *counts_before(const struct nb_model *model, const struct feat_bag *bag,
			     const char *label)
{
	size_t n = feat_bag_count(bag);
	double *before = xcalloc(n + 1, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		const char *feature;
		uint32_t count;
		feat_bag_get(bag, i, &feature, &count);
		before[i] = nb_get_count(model, feature, label);
	}
	return before;
}

/* Applies to the stored counts what training bag with weight did to model
 * since counts_before(): the deltas are read back from the model, so that
 * its transforms (log TF, length normalisation) are honoured and store and
 * memory stay equal. On failure the model is taken back too. The caller
 * holds a transaction. */
static int persist_change(struct store *st, const char *name, struct nb_model *model,
			  const struct feat_bag *bag, const char *label, int weight,
			  const double *before, const char **error_r)
{
	if (store_nb_label_add(st, name, label, weight, 0) < 0)
		goto store_failed;
	for (size_t i = 0; i < feat_bag_count(bag); i++) {
		const char *feature;
		uint32_t count;
		feat_bag_get(bag, i, &feature, &count);
		double delta = nb_get_count(model, feature, label) - before[i];
		if (delta != 0 && store_nb_count_add(st, name, feature, label, delta) < 0)
			goto store_failed;
	}
	return 0;
store_failed:
	/* Keep memory equal to the store, which the caller rolls back. */
	nb_train(model, bag, label, -weight, error_r);
	*error_r = store_error(st);
	return -1;
}

/* Trains (weight > 0) or forgets (weight < 0) one example in memory and in
 * the stored counts. */
static int train_persist(struct store *st, const char *name, struct nb_model *model,
			 const struct feat_bag *bag, const char *label, int weight,
			 const char **error_r)
{
	_cleanup_free_ double *before = counts_before(model, bag, label);
	if (nb_train(model, bag, label, weight, error_r) < 0)
		return -1;
	return persist_change(st, name, model, bag, label, weight, before, error_r);
}

/* "feature<TAB>count" lines: what the training table keeps of an example. */
static char *bag_serialize(const struct feat_bag *bag)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < feat_bag_count(bag); i++) {
		const char *feature;
		uint32_t count;
		feat_bag_get(bag, i, &feature, &count);
		strbuf_printf(&sb, "%s\t%u\n", feature, count);
	}
	return strbuf_steal(&sb);
}

static struct feat_bag *bag_parse(const char *text)
{
	struct feat_bag *bag = feat_bag_new();
	for (const char *p = text; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		const char *tab = memchr(p, '\t', len);
		if (tab != NULL) {
			_cleanup_free_ char *feature = xstrndup(p, (size_t)(tab - p));
			_cleanup_free_ char *count_text = xstrndup(tab + 1, len - (size_t)(tab - p) - 1);
			uint32_t count;
			const char *e;
			if (parse_uint32(count_text, &count) == 0 && count > 0)
				feat_bag_add(bag, feature, count, &e);
		}
		p += len + (p[len] == '\n');
	}
	return bag;
}

static struct nb_model *new_model(const struct config *cfg, const char **error_r)
{
	struct nb_options opts;
	nb_options_default(&opts);
	opts.alpha = cfg->nlp.alpha;
	opts.variant = cfg->nlp.variant == CFG_NB_COMPLEMENT ? NB_COMPLEMENT : NB_MULTINOMIAL;
	opts.length_norm = cfg->nlp.length_normalize;
	opts.log_tf = cfg->nlp.length_normalize;
	struct nb_model *model;
	if (nb_new(&opts, &model, error_r) < 0)
		return NULL;
	return model;
}

/* ---- training samples ---- */

/* Undoes the \n and \t escapes of the training files, in place. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] == 'n') {
			*w++ = '\n';
			r++;
		} else if (r[0] == '\\' && r[1] == 't') {
			*w++ = '\t';
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Thick-threshold training of a seeded model (nb_train_thick): the values
 * bench/classify and the seeds' cross-validation chose. */
#define SEED_THICK_PASSES 20
#define SEED_THICK_MARGIN 0.45
/* The most times one agent's correction is counted (learn_example). */
#define CORRECTION_MAX_WEIGHT 16

struct seed_set {
	struct feat_bag **bags;
	char **labels;
	size_t n, cap;
};

static void seed_set_free(struct seed_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		feat_bag_free(&set->bags[i]);
		free(set->labels[i]);
	}
	free(set->bags);
	free(set->labels);
	memset(set, 0, sizeof(*set));
}

/* Platt's targets for a two-label model: the held-out examples of a label
 * with n of them are fitted as if right with probability (n + 1) / (n + 2),
 * not 1 (Platt 1999, "Probabilistic outputs for support vector machines",
 * section 2.2). Seeds that a model separates perfectly then fit a finite
 * temperature instead of racing to the floor: a few dozen examples cannot
 * justify a 0.999. Done with whole copies: n + 1 with the true label, one
 * with the other. Returns the number of entries written (0: not binary). */
static size_t platt_targets(const struct feat_bag *const *held, const char *const *labels,
			    size_t n, const struct feat_bag **bags_r, const char **labels_r)
{
	const char *other[2] = {NULL, NULL};
	size_t count[2] = {0, 0};
	for (size_t i = 0; i < n; i++) {
		size_t k = other[0] == NULL || strcmp(other[0], labels[i]) == 0 ? 0 : 1;
		if (k == 1 && other[1] != NULL && strcmp(other[1], labels[i]) != 0)
			return 0; /* a third label */
		other[k] = labels[i];
		count[k]++;
	}
	if (other[1] == NULL)
		return 0;
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = strcmp(other[0], labels[i]) == 0 ? 0 : 1;
		for (size_t c = 0; c < count[k] + 1; c++) {
			bags_r[w] = held[i];
			labels_r[w++] = labels[i];
		}
		bags_r[w] = held[i];
		labels_r[w++] = other[1 - k];
	}
	return w;
}

/* Fits the confidence temperature on held-out seeds: a model trained on four
 * fifths of them is asked about the last fifth, so that the confidence an
 * agent reads means what it says (probabilities that match the error rate),
 * instead of the overconfidence or the flat scores of an uncalibrated model.
 * With platt, a two-label model is fitted on Platt's targets. The probe is
 * trained like the model (passes of thick-threshold training). */
static int calibrate(const struct triage *tr, struct nb_model *model, const struct seed_set *set,
		     bool platt, unsigned passes, double *temperature_r, const char **error_r)
{
	struct nb_model *probe = new_model(tr->cfg, error_r);
	if (probe == NULL)
		return -1;
	_cleanup_free_ const struct feat_bag **held = xcalloc(set->n + 1, sizeof(*held));
	_cleanup_free_ const char **held_labels = xcalloc(set->n + 1, sizeof(*held_labels));
	_cleanup_free_ const struct feat_bag **rest = xcalloc(set->n + 1, sizeof(*rest));
	_cleanup_free_ const char **rest_labels = xcalloc(set->n + 1, sizeof(*rest_labels));
	size_t n_held = 0, n_rest = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (i % 5 == 4) {
			held[n_held] = set->bags[i];
			held_labels[n_held++] = set->labels[i];
		} else {
			rest[n_rest] = set->bags[i];
			rest_labels[n_rest++] = set->labels[i];
		}
	}
	int ret = nb_train_thick(probe, rest, rest_labels, n_rest, passes, SEED_THICK_MARGIN, NULL,
				 error_r);
	/* At most n_held * (n_held + 2) entries. */
	size_t cap = platt ? n_held * (n_held + 2) + 1 : 1;
	_cleanup_free_ const struct feat_bag **fit = xcalloc(cap, sizeof(*fit));
	_cleanup_free_ const char **fit_labels = xcalloc(cap, sizeof(*fit_labels));
	size_t n_fit = platt ? platt_targets(held, held_labels, n_held, fit, fit_labels) : 0;
	double t = 0;
	if (ret == 0 && n_fit > 0)
		ret = nb_fit_temperature(probe, fit, fit_labels, n_fit, &t, error_r);
	else if (ret == 0)
		ret = nb_fit_temperature(probe, held, held_labels, n_held, &t, error_r);
	/* A few dozen held-out seeds cannot justify certainty: below this floor
	 * every verdict would read 0.99+, mistakes included. */
	if (ret == 0 && t < TEMPERATURE_FLOOR)
		t = TEMPERATURE_FLOOR;
	if (ret == 0)
		ret = nb_set_temperature(model, t, error_r);
	nb_free(&probe);
	if (ret == 0)
		*temperature_r = t;
	return ret;
}

/* The features and labels of "label<TAB>lang<TAB>subject<TAB>body" lines. */
static int seed_from_tsv(struct triage *tr, const char *path, unsigned flags, struct seed_set *set,
			 const char **error_r)
{
	static __thread char error[512];
	char *data;
	size_t len;
	const char *read_error;
	if (file_read_all(path, TRAINING_FILE_MAX, &data, &len, &read_error) < 0) {
		snprintf(error, sizeof(error), "%s: %s", path, read_error);
		*error_r = error;
		return -1;
	}
	unsigned line_no = 0;
	int ret = 0;
	for (char *line = data; line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line_no++;
		char *fields[4] = {line, NULL, NULL, NULL};
		for (int i = 1; i < 4 && fields[i - 1] != NULL; i++) {
			char *tab = strchr(fields[i - 1], '\t');
			if (tab != NULL) {
				*tab = '\0';
				fields[i] = tab + 1;
			}
		}
		if (line[0] == '\0' || line[0] == '#') {
			line = next;
			continue;
		}
		if (fields[3] == NULL) {
			snprintf(error, sizeof(error), "%s:%u: expected label, lang, subject, body",
				 path, line_no);
			*error_r = error;
			ret = -1;
			break;
		}
		unescape(fields[2]);
		unescape(fields[3]);
		struct feat_bag *bag;
		const char *e;
		if (feat_extract(tr->feat, fields[2], strlen(fields[2]), fields[3], strlen(fields[3]),
				 flags, &bag, &e) < 0) {
			snprintf(error, sizeof(error), "%s:%u: %s", path, line_no, e);
			*error_r = error;
			ret = -1;
			break;
		}
		if (strlen(fields[0]) > NB_MAX_LABEL_LEN || fields[0][0] == '\0') {
			snprintf(error, sizeof(error), "%s:%u: label empty or longer than %d bytes",
				 path, line_no, NB_MAX_LABEL_LEN);
			*error_r = error;
			feat_bag_free(&bag);
			ret = -1;
			break;
		}
		set->bags = xgrow(set->bags, &set->cap, set->n + 1, sizeof(*set->bags));
		set->labels = xrealloc(set->labels, set->cap * sizeof(*set->labels));
		set->bags[set->n] = bag;
		set->labels[set->n++] = xstrdup(fields[0]);
		line = next;
	}
	free(data);
	return ret;
}

unsigned triage_spam_flags(void)
{
	/* Spam lives in function words and whole tokens as much as in topics;
	 * the language and search terms come from the category features. */
	return FEAT_NO_STEM | FEAT_KEEP_STOPWORDS | FEAT_FEATURES_ONLY;
}

static int load_or_seed(struct triage *tr, struct store *st, const char *name,
			struct nb_model **model_r, const char *seed_file, unsigned flags,
			const char **error_r)
{
	static __thread char error[512];
	struct nb_model *model = new_model(tr->cfg, error_r);
	if (model == NULL)
		return -1;
	struct load_ctx lc = {.model = model};
	if (store_nb_load(st, name, load_label, load_count, &lc) < 0) {
		snprintf(error, sizeof(error), "loading the %s model: %s", name,
			 lc.error ? lc.error : store_error(st));
		*error_r = error;
		nb_free(&model);
		return -1;
	}
	double temperature;
	int has_temperature = store_nb_meta_get(st, name, "temperature", &temperature);
	if (has_temperature == 1 && nb_set_temperature(model, temperature, error_r) < 0) {
		nb_free(&model);
		return -1;
	}
	if (nb_vocabulary_size(model) == 0) {
		_cleanup_free_ char *path = xasprintf("%s/%s", tr->cfg->nlp.training_dir, seed_file);
		struct seed_set set = {0};
		/* Thick-threshold training for spam only: cross-validated on the
		 * shipped seeds it lifts the spam model from 0.861 to 0.942 (10
		 * folds) but lowers the category model from 0.797 to 0.735 (seven
		 * labels, a few dozen examples each, where it overfits). */
		bool spam = strcmp(name, MODEL_SPAM) == 0;
		unsigned passes = spam ? SEED_THICK_PASSES : 0;
		if (seed_from_tsv(tr, path, flags, &set, error_r) < 0 ||
		    nb_train_thick(model, (const struct feat_bag *const *)set.bags,
				   (const char *const *)set.labels, set.n, passes, SEED_THICK_MARGIN,
				   NULL, error_r) < 0 ||
		    calibrate(tr, model, &set, spam, passes, &temperature, error_r) < 0) {
			seed_set_free(&set);
			nb_free(&model);
			return -1;
		}
		size_t examples = set.n;
		seed_set_free(&set);
		if (store_begin(st) < 0 || persist_model(st, name, model) < 0 ||
		    store_nb_meta_set(st, name, "temperature", temperature) < 0 ||
		    store_commit(st) < 0) {
			store_rollback(st);
			snprintf(error, sizeof(error), "saving the %s model: %s", name,
				 store_error(st));
			*error_r = error;
			nb_free(&model);
			return -1;
		}
		log_info("%s model seeded from %s (%zu examples, confidence temperature %.3f)", name,
			 path, examples, temperature);
	}
	*model_r = model;
	return 0;
}

static int collect_label(void *ctx, const char *label, int64_t docs, double tokens)
{
	struct triage *tr = ctx;
	(void)tokens;
	if (docs <= 0)
		return 0;
	tr->labels = xrealloc(tr->labels, (tr->n_labels + 1) * sizeof(*tr->labels));
	tr->labels[tr->n_labels++] = xstrdup(label);
	return 0;
}

static void refresh_labels(struct triage *tr)
{
	for (size_t i = 0; i < tr->n_labels; i++)
		free((char *)tr->labels[i]);
	free(tr->labels);
	tr->labels = NULL;
	tr->n_labels = 0;
	nb_foreach_label(tr->category, collect_label, tr);
}

static int load_lexicon(const struct config *cfg, const char *lang, struct senti_lexicon **lex_r,
			const char **error_r)
{
	static __thread char error[512];
	_cleanup_free_ char *path = xasprintf("%s/%s.tsv", cfg->nlp.lexicon_dir, lang);
	_cleanup_free_ char *data = NULL;
	size_t len;
	const char *e;
	if (file_read_all(path, RESOURCE_FILE_MAX, &data, &len, &e) < 0) {
		snprintf(error, sizeof(error), "sentiment lexicon %s: %s", path, e);
		*error_r = error;
		return -1;
	}
	struct senti_lexicon *lex = senti_lexicon_new();
	if (senti_lexicon_load(lex, data, len, &e) < 0) {
		snprintf(error, sizeof(error), "sentiment lexicon %s: %s", path, e);
		*error_r = error;
		senti_lexicon_free(&lex);
		return -1;
	}
	*lex_r = lex;
	return 0;
}

/* Sentiment of subject and text with the lexicon of the mail's language. */
static void triage_sentiment(const struct triage_shared *sh, const char *subject,
			     const char *text, const char *lang, struct triage_features *tf)
{
	const struct senti_lexicon *lex = strcmp(lang, "fr") == 0 ? sh->senti_fr : sh->senti_en;
	_cleanup_free_ char *all = xasprintf("%s\n%s", subject, text);
	struct senti_result r;
	const char *e;
	if (senti_analyse(lex, all, strlen(all), &r, &e) < 0) {
		r.score = 0;
		r.label = SENTI_NEUTRAL;
		r.n_reasons = 0;
	}
	tf->sentiment = r.score;
	snprintf(tf->sentiment_label, sizeof(tf->sentiment_label), "%s",
		 senti_label_name(r.label));
	struct strbuf sb = STRBUF_INIT;
	strbuf_printf(&sb, "%s (%+.2f)", senti_label_name(r.label), r.score);
	cJSON *words = cJSON_CreateArray();
	for (size_t i = 0; i < r.n_reasons; i++) {
		strbuf_printf(&sb, "%s \"%s\" (%+.1f)", i ? "," : " because of", r.reasons[i].term,
			      r.reasons[i].contribution);
		cJSON *w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "term", r.reasons[i].term);
		cJSON_AddNumberToObject(w, "contribution",
					round(r.reasons[i].contribution * 1000) / 1000);
		cJSON_AddItemToArray(words, w);
	}
	if (r.n_reasons == 0)
		strbuf_puts(&sb, ": no word of the lexicon");
	tf->sentiment_explanation = strbuf_steal(&sb);
	char *json = cJSON_PrintUnformatted(words);
	cJSON_Delete(words);
	tf->sentiment_detail = xstrdup(json);
	cJSON_free(json);
}

static void shared_unref(struct triage_shared **shp)
{
	struct triage_shared *sh = *shp;
	if (sh == NULL)
		return;
	*shp = NULL;
	if (atomic_fetch_sub(&sh->refs, 1) != 1)
		return;
	senti_lexicon_free(&sh->senti_fr);
	senti_lexicon_free(&sh->senti_en);
	free(sh->stop_fr);
	free(sh->stop_en);
	free(sh);
}

static int shared_load(const struct config *cfg, struct triage_shared **sh_r,
		       const char **error_r)
{
	static __thread char error[512];
	_cleanup_free_ char *fr_path = xasprintf("%s/fr.txt", cfg->nlp.stopwords_dir);
	_cleanup_free_ char *en_path = xasprintf("%s/en.txt", cfg->nlp.stopwords_dir);
	struct triage_shared *sh = xcalloc(1, sizeof(*sh));
	atomic_init(&sh->refs, 1);
	sh->generation = atomic_fetch_add(&shared_generations, 1) + 1;
	const char *e;
	if (file_read_all(fr_path, RESOURCE_FILE_MAX, &sh->stop_fr, &sh->stop_fr_len, &e) < 0 ||
	    file_read_all(en_path, RESOURCE_FILE_MAX, &sh->stop_en, &sh->stop_en_len, &e) < 0) {
		snprintf(error, sizeof(error), "stop words in %s: %s", cfg->nlp.stopwords_dir, e);
		*error_r = error;
		shared_unref(&sh);
		return -1;
	}
	if (load_lexicon(cfg, "fr", &sh->senti_fr, error_r) < 0 ||
	    load_lexicon(cfg, "en", &sh->senti_en, error_r) < 0) {
		shared_unref(&sh);
		return -1;
	}
	*sh_r = sh;
	return 0;
}

/* A context on sh (taking a reference of its own). */
static int prep_new(struct triage_shared *sh, struct triage_prep **tp_r, const char **error_r)
{
	struct triage_prep *tp = xcalloc(1, sizeof(*tp));
	atomic_fetch_add(&sh->refs, 1);
	tp->shared = sh;
	if (feat_ctx_new(sh->stop_fr, sh->stop_fr_len, sh->stop_en, sh->stop_en_len, &tp->feat,
			 error_r) < 0) {
		triage_prep_free(&tp);
		return -1;
	}
	*tp_r = tp;
	return 0;
}

int triage_prep_new(struct triage *tr, struct triage_prep **tp_r, const char **error_r)
{
	return prep_new(tr->prep->shared, tp_r, error_r);
}

int triage_prep_copy(const struct triage_prep *tp, struct triage_prep **copy_r,
		     const char **error_r)
{
	return prep_new(tp->shared, copy_r, error_r);
}

void triage_prep_free(struct triage_prep **tpp)
{
	struct triage_prep *tp = *tpp;
	if (tp == NULL)
		return;
	feat_ctx_free(&tp->feat);
	shared_unref(&tp->shared);
	free(tp);
	*tpp = NULL;
}

int triage_open(struct store *st, const struct config *cfg, struct triage **tr_r,
		const char **error_r)
{
	struct triage *tr = xcalloc(1, sizeof(*tr));
	tr->cfg = cfg;
	struct triage_shared *sh = NULL;
	if (shared_load(cfg, &sh, error_r) < 0) {
		triage_free(&tr);
		return -1;
	}
	int ret = prep_new(sh, &tr->prep, error_r);
	shared_unref(&sh); /* the context holds it now */
	if (ret < 0) {
		triage_free(&tr);
		return -1;
	}
	tr->feat = tr->prep->feat;
	if (load_or_seed(tr, st, MODEL_CATEGORY, &tr->category, "categories.tsv", 0, error_r) < 0 ||
	    load_or_seed(tr, st, MODEL_SPAM, &tr->spam, "spam.tsv", triage_spam_flags(), error_r) < 0) {
		triage_free(&tr);
		return -1;
	}
	refresh_labels(tr);
	if (store_nb_meta_get(st, MODEL_CATEGORY, "version", &tr->category_version) < 0 ||
	    store_nb_meta_get(st, MODEL_SPAM, "version", &tr->spam_version) < 0) {
		*error_r = store_error(st);
		triage_free(&tr);
		return -1;
	}
	*tr_r = tr;
	return 0;
}

void triage_free(struct triage **trp)
{
	struct triage *tr = *trp;
	if (tr == NULL)
		return;
	triage_prep_free(&tr->prep);
	tr->feat = NULL;
	nb_free(&tr->category);
	nb_free(&tr->spam);
	for (size_t i = 0; i < tr->n_labels; i++)
		free((char *)tr->labels[i]);
	free(tr->labels);
	free(tr);
	*trp = NULL;
}

size_t triage_category_labels(const struct triage *tr, const char ***labels_r)
{
	*labels_r = tr->labels;
	return tr->n_labels;
}

void triage_result_clear(struct triage_result *res)
{
	free(res->category);
	free(res->category_runner_up);
	free(res->category_explanation);
	free(res->category_detail);
	free(res->spam_explanation);
	free(res->spam_detail);
	free(res->sentiment_explanation);
	free(res->sentiment_detail);
	feat_bag_free(&res->features);
	memset(res, 0, sizeof(*res));
}

static char *reasons_json(const struct nb_result *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "label", r->label);
	cJSON_AddStringToObject(o, "runner_up", r->runner_up);
	cJSON_AddNumberToObject(o, "runner_up_confidence", r->runner_up_confidence);
	cJSON_AddNumberToObject(o, "known_features", (double)r->known_features);
	cJSON *pro = cJSON_AddArrayToObject(o, "for");
	for (size_t i = 0; i < r->n_for; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "token", r->for_label[i].token);
		cJSON_AddNumberToObject(t, "weight", round(r->for_label[i].weight * 1000) / 1000);
		cJSON_AddItemToArray(pro, t);
	}
	cJSON *con = cJSON_AddArrayToObject(o, "against");
	for (size_t i = 0; i < r->n_against; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "token", r->against[i].token);
		cJSON_AddNumberToObject(t, "weight", round(r->against[i].weight * 1000) / 1000);
		cJSON_AddItemToArray(con, t);
	}
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	char *copy = xstrdup(text);
	cJSON_free(text);
	return copy;
}

void triage_features_free(struct triage_features **tfp)
{
	struct triage_features *tf = *tfp;
	if (tf == NULL)
		return;
	feat_bag_free(&tf->bag);
	feat_bag_free(&tf->spam_bag);
	free(tf->sentiment_explanation);
	free(tf->sentiment_detail);
	free(tf);
	*tfp = NULL;
}

int triage_prepare(struct triage_prep *tp, const char *subject, const char *headers,
		   const char *text, struct triage_features **tf_r, const char **error_r)
{
	subject = subject ? subject : "";
	text = text ? text : "";
	struct triage_features *tf = xcalloc(1, sizeof(*tf));
	tf->generation = tp->shared->generation;
	if (feat_extract(tp->feat, subject, strlen(subject), text, strlen(text), 0, &tf->bag,
			 error_r) < 0)
		goto fail;
	/* Spam looks at the headers too: relays and senders tell a lot. */
	unsigned spam_flags = triage_spam_flags();
	if (headers != NULL) {
		if (feat_extract_mail(tp->feat, headers, strlen(headers), text, strlen(text),
				      spam_flags, &tf->spam_bag, error_r) < 0)
			goto fail;
	} else if (feat_extract(tp->feat, subject, strlen(subject), text, strlen(text), spam_flags,
				&tf->spam_bag, error_r) < 0) {
		goto fail;
	}
	triage_sentiment(tp->shared, subject, text, lang_code(feat_bag_lang(tf->bag)), tf);
	*tf_r = tf;
	return 0;
fail:
	triage_features_free(&tf);
	return -1;
}

bool triage_features_current(const struct triage *tr, const struct triage_features *tf)
{
	return tf != NULL && tf->generation == tr->prep->shared->generation;
}

const struct feat_bag *triage_features_bag(const struct triage_features *tf)
{
	return tf->bag;
}

int triage_classify(struct triage *tr, const struct triage_features *tf,
		    struct triage_result *res_r, const char **error_r)
{
	if (!triage_features_current(tr, tf)) {
		*error_r = "features prepared with other resources than the triage's";
		return -1;
	}
	struct triage_result res = {0};
	snprintf(res.language, sizeof(res.language), "%s", lang_code(feat_bag_lang(tf->bag)));
	res.language_confidence = feat_bag_lang_confidence(tf->bag);

	struct nb_result r;
	const char *e;
	if (tr->n_labels >= 2 && nb_classify(tr->category, tf->bag, &r, &e) == 0) {
		res.category = xstrdup(r.label);
		res.category_confidence = r.confidence;
		res.category_runner_up = xstrdup(r.runner_up);
		res.category_explanation = nb_explain(&r);
		res.category_detail = reasons_json(&r);
		res.low_confidence = r.confidence < tr->cfg->nlp.min_confidence;
	} else {
		res.low_confidence = true;
	}
	if (nb_classify(tr->spam, tf->spam_bag, &r, &e) == 0) {
		double p_spam = strcmp(r.label, "spam") == 0 ? r.confidence : 1 - r.confidence;
		res.spam_probability = p_spam;
		res.spam = p_spam >= tr->cfg->nlp.spam_threshold;
		/* The verdict is the threshold's, the reasons the model's. */
		_cleanup_free_ char *why = nb_explain(&r);
		res.spam_explanation = xasprintf("%s: spam probability %.2f, threshold %.2f; %s",
						 res.spam ? "spam" : "not spam", p_spam,
						 tr->cfg->nlp.spam_threshold, why);
		res.spam_detail = reasons_json(&r);
	}
	res.sentiment = tf->sentiment;
	memcpy(res.sentiment_label, tf->sentiment_label, sizeof(res.sentiment_label));
	res.sentiment_explanation = xstrdup(tf->sentiment_explanation);
	res.sentiment_detail = xstrdup(tf->sentiment_detail);
	*res_r = res;
	return 0;
}

int triage_run(struct triage *tr, const char *subject, const char *headers, const char *text,
	       struct triage_result *res_r, const char **error_r)
{
	struct triage_features *tf;
	if (triage_prepare(tr->prep, subject, headers, text, &tf, error_r) < 0)
		return -1;
	int ret = triage_classify(tr, tf, res_r, error_r);
	if (ret == 0)
		res_r->features = TAKE_PTR(tf->bag);
	triage_features_free(&tf);
	return ret;
}

char *triage_mail_headers(const struct mime_message *msg)
{
	struct strbuf sb;
	strbuf_init(&sb, 64 * 1024);
	for (size_t i = 0; i < msg->n_headers; i++) {
		strbuf_puts(&sb, msg->headers[i].name);
		strbuf_append(&sb, ": ", 2);
		strbuf_puts(&sb, msg->headers[i].value);
		strbuf_putc(&sb, '\n');
	}
	return strbuf_steal(&sb);
}

int triage_run_mail(struct triage *tr, const struct mime_message *msg,
		    struct triage_result *res_r, const char **error_r)
{
	_cleanup_free_ char *headers = triage_mail_headers(msg);
	return triage_run(tr, msg->subject, headers, msg->new_text, res_r, error_r);
}

int triage_record(struct store *st, int64_t ticket_id, int64_t message_id,
		  const struct triage_result *res)
{
	char lang_expl[96];
	snprintf(lang_expl, sizeof(lang_expl), "written in %s (confidence %.2f)",
		 strcmp(res->language, "fr") == 0   ? "French"
		 : strcmp(res->language, "en") == 0 ? "English"
						    : "another language",
		 res->language_confidence);
	if (store_triage_add(st, ticket_id, message_id, "language", res->language,
			     res->language_confidence, 0, lang_expl, NULL) < 0)
		return -1;
	if (res->category != NULL &&
	    store_triage_add(st, ticket_id, message_id, "category", res->category,
			     res->category_confidence, 0, res->category_explanation,
			     res->category_detail) < 0)
		return -1;
	if (res->spam_detail != NULL &&
	    store_triage_add(st, ticket_id, message_id, "spam", res->spam ? "spam" : "ham",
			     res->spam_probability, res->spam_probability, res->spam_explanation,
			     res->spam_detail) < 0)
		return -1;
	if (store_triage_add(st, ticket_id, message_id, "sentiment", res->sentiment_label,
			     fabs(res->sentiment), res->sentiment, res->sentiment_explanation,
			     res->sentiment_detail) < 0)
		return -1;
	return store_ticket_set_triage(st, ticket_id, res->language, res->category,
				       res->category_confidence, res->spam, res->spam_probability,
				       res->sentiment, res->sentiment_label);
}

/* The example a ticket makes: the features of its first customer message.
 * The ticket's own messages (*rows_r, n_r: the caller frees them), wherever
 * a merge moved them, and the first from the customer among them, the one a
 * correction teaches: a mail merged in from another ticket is that ticket's
 * example, and counting it here too would count it twice. */
static int first_customer_message(struct store *st, int64_t ticket_id,
				  struct message_row **rows_r, size_t *n_r,
				  const struct message_row **first_r, const char **error_r)
{
	if (store_message_list_origin(st, ticket_id, rows_r, n_r) < 0) {
		*error_r = store_error(st);
		return -1;
	}
	for (size_t i = 0; i < *n_r; i++) {
		if (!(*rows_r)[i].outgoing) {
			*first_r = &(*rows_r)[i];
			return 0;
		}
	}
	message_rows_free(rows_r, *n_r);
	*error_r = "the ticket has no message from the customer to learn from";
	return -1;
}

static int ticket_features(struct triage *tr, struct store *st, int64_t ticket_id,
			   struct feat_bag **bag_r, const char **error_r)
{
	struct message_row *rows;
	size_t n;
	const struct message_row *first;
	if (first_customer_message(st, ticket_id, &rows, &n, &first, error_r) < 0)
		return -1;
	const char *subject = first->subject ? first->subject : "";
	const char *text = first->new_text ? first->new_text : "";
	int ret = feat_extract(tr->feat, subject, strlen(subject), text, strlen(text), 0, bag_r,
			       error_r);
	message_rows_free(&rows, n);
	return ret;
}

/* The model kept in memory under a stored name, and its loaded version. */
static struct nb_model **model_slot(struct triage *tr, const char *name, double **version_r)
{
	bool spam = strcmp(name, MODEL_SPAM) == 0;
	*version_r = spam ? &tr->spam_version : &tr->category_version;
	return spam ? &tr->spam : &tr->category;
}

/* Forgets the ticket's earlier example for a model, if any. The caller holds
 * a transaction. */
static int forget_example(struct triage *tr, struct store *st, int64_t ticket_id,
			  const char *name, const char **error_r)
{
	_cleanup_free_ char *label = NULL, *features = NULL;
	int weight = 1;
	int found = store_training_get(st, ticket_id, name, &label, &features, &weight);
	if (found < 0) {
		*error_r = store_error(st);
		return -1;
	}
	if (found == 0)
		return 0;
	/* NB_MAX_WEIGHT, not today's CORRECTION_MAX_WEIGHT: examples stored
	 * under a higher cap must still be forgotten exactly. */
	if (weight < 1 || weight > NB_MAX_WEIGHT) {
		*error_r = "stored training example with an impossible weight";
		return -1;
	}
	double *version;
	struct nb_model **model = model_slot(tr, name, &version);
	struct feat_bag *bag = bag_parse(features);
	int ret = train_persist(st, name, *model, bag, label, -weight, error_r);
	feat_bag_free(&bag);
	if (ret == 0 && store_training_delete(st, ticket_id, name) < 0) {
		*error_r = store_error(st);
		ret = -1;
	}
	return ret;
}

/* A correction changed the stored model: other processes will reload it. */
static int bump_version(struct triage *tr, struct store *st, const char *name,
			const char **error_r)
{
	double *loaded, version = 0;
	model_slot(tr, name, &loaded);
	if (store_nb_meta_get(st, name, "version", &version) < 0 ||
	    store_nb_meta_set(st, name, "version", version + 1) < 0) {
		*error_r = store_error(st);
		return -1;
	}
	*loaded = version + 1;
	return 0;
}

/* Whether the daemon would now decide as the agent did: the label with at
 * least min_confidence for the category, the same side of spam_threshold
 * for spam. */
static bool model_agrees(const struct triage *tr, const char *name, const struct nb_model *model,
			 const struct feat_bag *bag, const char *label)
{
	struct nb_result r;
	const char *e;
	if (nb_classify_with(model, bag, NB_CLASSIFY_NO_REASONS, &r, &e) < 0)
		return false;
	if (strcmp(name, MODEL_SPAM) == 0) {
		double p_spam = strcmp(r.label, "spam") == 0 ? r.confidence : 1 - r.confidence;
		return (p_spam >= tr->cfg->nlp.spam_threshold) == (strcmp(label, "spam") == 0);
	}
	return strcmp(r.label, label) == 0 && r.confidence >= tr->cfg->nlp.min_confidence;
}

/* bag becomes the ticket's training example of label for the model name,
 * replacing an earlier one. It is counted until the model agrees with it
 * (Yerazunis's "train until no errors"): counted once among hundreds of
 * examples, a correction often leaves the very same mail decided as before,
 * which is not what an agent who just corrected it expects. At most
 * CORRECTION_MAX_WEIGHT times, so that one mail the model cannot be brought
 * to agree with does not take the model over. *weight_r: the count used. */
static int learn_example(struct triage *tr, struct store *st, int64_t ticket_id,
			 const char *name, const struct feat_bag *bag, const char *label,
			 int *weight_r, const char **error_r)
{
	double *version;
	struct nb_model **model = model_slot(tr, name, &version);
	if (forget_example(tr, st, ticket_id, name, error_r) < 0)
		return -1;
	/* Counted in memory until the model agrees, then stored in one go. */
	_cleanup_free_ double *before = counts_before(*model, bag, label);
	int weight = 0;
	do {
		if (nb_train(*model, bag, label, 1, error_r) < 0) {
			if (weight > 0)
				nb_train(*model, bag, label, -weight, error_r);
			return -1;
		}
		weight++;
	} while (weight < CORRECTION_MAX_WEIGHT && !model_agrees(tr, name, *model, bag, label));
	if (persist_change(st, name, *model, bag, label, weight, before, error_r) < 0)
		return -1;
	if (weight_r != NULL)
		*weight_r = weight;
	_cleanup_free_ char *features = bag_serialize(bag);
	if (store_training_add(st, ticket_id, name, label, features, weight) < 0) {
		*error_r = store_error(st);
		return -1;
	}
	return bump_version(tr, st, name, error_r);
}

int triage_learn(struct triage *tr, struct store *st, int64_t ticket_id, const char *label,
		 int *weight_r, const char **error_r)
{
	struct feat_bag *bag;
	if (ticket_features(tr, st, ticket_id, &bag, error_r) < 0)
		return -1;
	int ret = learn_example(tr, st, ticket_id, MODEL_CATEGORY, bag, label, weight_r, error_r);
	refresh_labels(tr);
	feat_bag_free(&bag);
	return ret;
}

/* The spam features of the ticket's first customer message, as triage made
 * them: its decoded header fields, subject and new text, from the raw mail. */
static int ticket_spam_features(struct triage *tr, struct store *st, int64_t ticket_id,
				struct feat_bag **bag_r, const char **error_r)
{
	struct message_row *rows;
	size_t n;
	const struct message_row *first;
	if (first_customer_message(st, ticket_id, &rows, &n, &first, error_r) < 0)
		return -1;
	int64_t first_id = first->id;
	message_rows_free(&rows, n);
	_cleanup_free_ char *raw = NULL;
	size_t len;
	int found = store_message_raw(st, first_id, &raw, &len);
	if (found <= 0) {
		*error_r = found < 0 ? store_error(st) : "the customer's message has no raw mail";
		return -1;
	}
	struct mime_message *msg;
	if (mime_parse(raw, len, NULL, &msg, error_r) < 0)
		return -1;
	_cleanup_free_ char *headers = triage_mail_headers(msg);
	const char *text = msg->new_text ? msg->new_text : "";
	int ret = feat_extract_mail(tr->feat, headers, strlen(headers), text, strlen(text),
				    triage_spam_flags(), bag_r, error_r);
	mime_message_free(&msg);
	return ret;
}

int triage_learn_spam(struct triage *tr, struct store *st, int64_t ticket_id, bool spam,
		      int *weight_r, const char **error_r)
{
	struct feat_bag *bag;
	if (ticket_spam_features(tr, st, ticket_id, &bag, error_r) < 0)
		return -1;
	int ret = learn_example(tr, st, ticket_id, MODEL_SPAM, bag, spam ? "spam" : "ham",
				weight_r, error_r);
	feat_bag_free(&bag);
	return ret;
}

int triage_forget(struct triage *tr, struct store *st, int64_t ticket_id, const char **error_r)
{
	static const char *const models[] = {MODEL_CATEGORY, MODEL_SPAM};
	for (size_t i = 0; i < ARRAY_SIZE(models); i++) {
		_cleanup_free_ char *label = NULL, *features = NULL;
		int found = store_training_get(st, ticket_id, models[i], &label, &features, NULL);
		if (found < 0) {
			*error_r = store_error(st);
			return -1;
		}
		if (found == 1 && (forget_example(tr, st, ticket_id, models[i], error_r) < 0 ||
				   bump_version(tr, st, models[i], error_r) < 0))
			return -1;
	}
	refresh_labels(tr);
	return 0;
}

int triage_refresh(struct triage *tr, struct store *st, const char **error_r)
{
	static const struct {
		const char *name, *seeds;
	} models[] = {{MODEL_CATEGORY, "categories.tsv"}, {MODEL_SPAM, "spam.tsv"}};
	for (size_t i = 0; i < ARRAY_SIZE(models); i++) {
		double stored = 0, *loaded;
		struct nb_model **model = model_slot(tr, models[i].name, &loaded);
		if (store_nb_meta_get(st, models[i].name, "version", &stored) < 0) {
			*error_r = store_error(st);
			return -1;
		}
		if (stored == *loaded)
			continue;
		struct nb_model *fresh;
		unsigned flags = strcmp(models[i].name, MODEL_SPAM) == 0 ? triage_spam_flags() : 0;
		if (load_or_seed(tr, st, models[i].name, &fresh, models[i].seeds, flags, error_r) < 0)
			return -1;
		nb_free(model);
		*model = fresh;
		*loaded = stored;
		log_info("%s model reloaded: corrected by another process (version %.0f)",
			 models[i].name, stored);
	}
	refresh_labels(tr);
	return 0;
}
