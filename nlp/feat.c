/* Feature extractor: glue between normalisation, tokeniser, language
 * guess, stop words and Snowball, plus header evidence for spam. */
#include "feat.h"

#include <assert.h>
#include <libstemmer.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "norm.h"
#include "strbuf.h"
#include "symtab.h"
#include "tok.h"
#include "xalloc.h"

/* A word's stop-word status and stem in one language: mail repeats its
 * words, and Snowball costs more than a lookup. Direct-mapped, so bounded. */
#define STEM_CACHE_SIZE 2048 /* a power of two */
#define STEM_MAX_LEN 64      /* longer stems are not cached */

struct stem_entry {
	uint8_t used, lang, stop, word_len, stem_len;
	char word[TOK_MAX_WORD_LEN];
	char stem[STEM_MAX_LEN];
};

struct feat_ctx {
	struct symtab *stopwords;
	struct sb_stemmer *stem_fr, *stem_en;
	struct stem_entry *stem_cache;
	/* The last body normalised and the last language guess, with the input
	 * each came from: a mail's category and spam features read the same
	 * text, and only the first call pays. */
	struct strbuf last_body, last_body_norm;
	struct strbuf last_lang_input;
	bool last_body_valid, last_lang_valid;
	enum lang last_lang;
	double last_lang_confidence;
	struct strbuf scratch;  /* normalised subject and header values */
	struct strbuf unfolded; /* the header block of feat_extract_mail */
};

/* Features and their counts, in first-seen order. A string bag interns
 * each feature (keys); a hashed bag keeps only its feat_hash() in hashes,
 * found through slot_hash (open addressing, linear probing, 0 = empty) and
 * the index in slot_index, with no copy and no comparison of the feature's
 * bytes. */
struct counts {
	struct symtab *keys; /* string bags; NULL in a hashed bag */
	uint64_t *hashes;    /* hashed bags */
	uint64_t *slot_hash; /* hashed bags; mask + 1 of them, a power of two */
	uint32_t *slot_index;
	size_t n, mask;
	unsigned shift; /* 64 - log2(mask + 1) */
	uint32_t *count;
	const char **surface; /* first word seen for each stem (features only) */
	size_t cap;
};

/* Surface words, packed in blocks that live as long as the bag. */
struct surface_block {
	struct surface_block *next;
	size_t used;
	char data[4096 - 2 * sizeof(size_t)];
};

struct feat_bag {
	enum lang lang;
	double lang_confidence;
	bool truncated;
	bool hashed; /* feat_bag_new_hashed(): features as hashes, no strings */
	struct counts features, terms;
	struct surface_block *surfaces;
};

static const char *bag_strndup(struct feat_bag *bag, const char *s, size_t len)
{
	struct surface_block *b = bag->surfaces;
	if (b == NULL || sizeof(b->data) - b->used < len + 1) {
		b = xmalloc(sizeof(*b));
		b->next = bag->surfaces;
		b->used = 0;
		bag->surfaces = b;
	}
	char *copy = b->data + b->used;
	memcpy(copy, s, len);
	copy[len] = '\0';
	b->used += len + 1;
	return copy;
}

/* The shared byte hash, never 0 (0 marks an empty slot). Its high bits
 * are the well-mixed ones, and tables index by them (FEAT_HASH_INDEX). Not
 * a keyed hash: a sender who makes a word collide with a model's feature
 * gains nothing he could not get by writing that feature (nb.c checks that
 * a model's own features never share one). */
static inline __attribute__((always_inline)) uint64_t hash64(const char *s, size_t len)
{
	uint64_t h = hash_bytes64(s, len);
	return h != 0 ? h : 1;
}

uint64_t feat_hash(const char *feature, size_t len)
{
	return hash64(feature, len);
}

static void hashed_alloc_slots(struct counts *c, size_t nslots)
{
	free(c->slot_hash);
	free(c->slot_index);
	c->slot_hash = xcalloc(nslots, sizeof(*c->slot_hash));
	c->slot_index = xmalloc(nslots * sizeof(*c->slot_index));
	c->mask = nslots - 1;
	c->shift = 64 - (unsigned)__builtin_ctzll(nslots);
	for (size_t i = 0; i < c->n; i++) {
		size_t k = FEAT_HASH_INDEX(c->hashes[i], c->shift);
		while (c->slot_hash[k] != 0)
			k = (k + 1) & c->mask;
		c->slot_hash[k] = c->hashes[i];
		c->slot_index[k] = (uint32_t)i;
	}
}

/* The index of the feature of hash h, added with count 0 when new. */
static inline uint32_t hashed_index(struct counts *c, uint64_t h)
{
	size_t k = FEAT_HASH_INDEX(h, c->shift);
	for (;;) {
		uint64_t slot = c->slot_hash[k];
		if (slot == h)
			return c->slot_index[k];
		if (slot == 0)
			break;
		k = (k + 1) & c->mask;
	}
	uint32_t id = (uint32_t)c->n++;
	if (id >= c->cap) {
		size_t cap = c->cap;
		c->hashes = xgrow(c->hashes, &cap, (size_t)id + 1, sizeof(*c->hashes));
		c->count = xgrow(c->count, &c->cap, (size_t)id + 1, sizeof(*c->count));
	}
	c->hashes[id] = h;
	c->count[id] = 0;
	c->slot_hash[k] = h;
	c->slot_index[k] = id;
	/* Keep the load factor under 1/2 so probes stay short. */
	if (c->n * 2 > c->mask + 1)
		hashed_alloc_slots(c, (c->mask + 1) * 2);
	return id;
}

static uint32_t counts_add(struct counts *c, const char *key, size_t len, uint32_t n)
{
	uint32_t id;
	if (c->keys == NULL) {
		id = hashed_index(c, hash64(key, len));
	} else {
		bool created;
		id = symtab_intern(c->keys, key, len, &created);
		if (created) {
			size_t cap = c->cap;
			c->count = xgrow(c->count, &cap, (size_t)id + 1, sizeof(*c->count));
			c->surface =
			    xgrow(c->surface, &c->cap, (size_t)id + 1, sizeof(*c->surface));
			c->count[id] = 0;
			c->surface[id] = NULL;
		}
	}
	c->count[id] = c->count[id] > UINT32_MAX - n ? UINT32_MAX : c->count[id] + n;
	return id;
}

static size_t counts_n(const struct counts *c)
{
	return c->keys != NULL ? symtab_count(c->keys) : c->n;
}

static void counts_reset(struct counts *c)
{
	if (c->keys != NULL) {
		symtab_reset(c->keys);
	} else if (c->n > 0) {
		memset(c->slot_hash, 0, (c->mask + 1) * sizeof(*c->slot_hash));
		c->n = 0;
	}
}

static void counts_free(struct counts *c)
{
	symtab_free(&c->keys);
	free(c->hashes);
	free(c->slot_hash);
	free(c->slot_index);
	free(c->count);
	free(c->surface);
	memset(c, 0, sizeof(*c));
}

struct feat_bag *feat_bag_new(void)
{
	struct feat_bag *bag = xcalloc(1, sizeof(*bag));
	/* a mail has a few hundred distinct features: no rehash on the way */
	bag->features.keys = symtab_new(256);
	bag->terms.keys = symtab_new(64);
	return bag;
}

struct feat_bag *feat_bag_new_hashed(void)
{
	struct feat_bag *bag = xcalloc(1, sizeof(*bag));
	bag->hashed = true;
	hashed_alloc_slots(&bag->features, 1024);
	bag->terms.keys = symtab_new(64);
	return bag;
}

bool feat_bag_is_hashed(const struct feat_bag *bag)
{
	return bag->hashed;
}

const uint64_t *feat_bag_hashes(const struct feat_bag *bag)
{
	return bag->features.hashes;
}

const uint32_t *feat_bag_counts(const struct feat_bag *bag)
{
	return bag->features.count;
}

void feat_bag_free(struct feat_bag **bagp)
{
	struct feat_bag *bag = *bagp;
	if (bag == NULL)
		return;
	counts_free(&bag->features);
	counts_free(&bag->terms);
	while (bag->surfaces != NULL) {
		struct surface_block *next = bag->surfaces->next;
		free(bag->surfaces);
		bag->surfaces = next;
	}
	free(bag);
	*bagp = NULL;
}

void feat_bag_reset(struct feat_bag *bag)
{
	counts_reset(&bag->features);
	counts_reset(&bag->terms);
	while (bag->surfaces != NULL) {
		struct surface_block *next = bag->surfaces->next;
		free(bag->surfaces);
		bag->surfaces = next;
	}
	bag->lang = LANG_OTHER;
	bag->lang_confidence = 0;
	bag->truncated = false;
}

int feat_bag_add(struct feat_bag *bag, const char *feature, uint32_t count, const char **error_r)
{
	size_t len = strlen(feature);
	if (len == 0 || len > FEAT_MAX_LEN) {
		*error_r = "feature empty or too long";
		return -1;
	}
	counts_add(&bag->features, feature, len, count);
	return 0;
}

enum lang feat_bag_lang(const struct feat_bag *bag)
{
	return bag->lang;
}
double feat_bag_lang_confidence(const struct feat_bag *bag)
{
	return bag->lang_confidence;
}
bool feat_bag_truncated(const struct feat_bag *bag)
{
	return bag->truncated;
}
size_t feat_bag_count(const struct feat_bag *bag)
{
	return counts_n(&bag->features);
}
size_t feat_bag_term_count(const struct feat_bag *bag)
{
	return symtab_count(bag->terms.keys);
}

const char *feat_bag_surface(const struct feat_bag *bag, const char *feature)
{
	uint32_t id;
	if (bag->hashed || symtab_find(bag->features.keys, feature, strlen(feature), &id) < 0)
		return NULL;
	return bag->features.surface[id];
}

void feat_bag_get(const struct feat_bag *bag, size_t i, const char **feature_r, uint32_t *count_r)
{
	assert(!bag->hashed);
	*feature_r = symtab_key(bag->features.keys, (uint32_t)i);
	*count_r = bag->features.count[i];
}

int feat_bag_find_in(const struct feat_bag *bag, size_t i, const struct symtab *tab,
                     uint32_t *id_r)
{
	assert(!bag->hashed);
	return symtab_find_from(tab, bag->features.keys, (uint32_t)i, id_r);
}

void feat_bag_prefetch_in(const struct feat_bag *bag, size_t i, const struct symtab *tab)
{
	symtab_prefetch_from(tab, bag->features.keys, (uint32_t)i);
}

void feat_bag_term(const struct feat_bag *bag, size_t i, const char **term_r, uint32_t *count_r)
{
	*term_r = symtab_key(bag->terms.keys, (uint32_t)i);
	*count_r = bag->terms.count[i];
}

static void load_stopwords(struct symtab *set, const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && buf[end] != '\n')
			end++;
		size_t s = i, e = end;
		while (s < e && (buf[s] == ' ' || buf[s] == '\t'))
			s++;
		while (e > s && (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\r'))
			e--;
		if (e > s && buf[s] != '#') {
			char *norm;
			size_t nlen;
			const char *error;
			if (norm_text(buf + s, e - s, 0, &norm, &nlen, &error) == 0) {
				if (nlen > 0 && nlen <= TOK_MAX_WORD_LEN)
					symtab_intern(set, norm, nlen, NULL);
				free(norm);
			}
		}
		i = end + 1;
	}
}

int feat_ctx_new(const char *stop_fr, size_t stop_fr_len, const char *stop_en, size_t stop_en_len,
                 struct feat_ctx **ctx_r, const char **error_r)
{
	struct feat_ctx *ctx = xcalloc(1, sizeof(*ctx));
	ctx->stopwords = symtab_new(512);
	if (stop_fr != NULL)
		load_stopwords(ctx->stopwords, stop_fr, stop_fr_len);
	if (stop_en != NULL)
		load_stopwords(ctx->stopwords, stop_en, stop_en_len);
	ctx->stem_cache = xcalloc(STEM_CACHE_SIZE, sizeof(*ctx->stem_cache));
	ctx->stem_fr = sb_stemmer_new("french", NULL);
	ctx->stem_en = sb_stemmer_new("english", NULL);
	if (ctx->stem_fr == NULL || ctx->stem_en == NULL) {
		feat_ctx_free(&ctx);
		*error_r = "Snowball stemmers for french and english unavailable";
		return -1;
	}
	*ctx_r = ctx;
	return 0;
}

void feat_ctx_free(struct feat_ctx **ctxp)
{
	struct feat_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	symtab_free(&ctx->stopwords);
	if (ctx->stem_fr != NULL)
		sb_stemmer_delete(ctx->stem_fr);
	if (ctx->stem_en != NULL)
		sb_stemmer_delete(ctx->stem_en);
	free(ctx->stem_cache);
	strbuf_free(&ctx->last_body);
	strbuf_free(&ctx->last_body_norm);
	strbuf_free(&ctx->last_lang_input);
	strbuf_free(&ctx->scratch);
	strbuf_free(&ctx->unfolded);
	free(ctx);
	*ctxp = NULL;
}

bool feat_is_stopword(const struct feat_ctx *ctx, const char *word, size_t len)
{
	uint32_t id;
	return symtab_find(ctx->stopwords, word, len, &id) == 0;
}

struct tok_state {
	struct feat_ctx *ctx;
	struct feat_bag *bag;
	struct sb_stemmer *stemmer; /* NULL: language unknown, no stemming */
	enum lang stem_lang;        /* of stemmer, LANG_OTHER for none */
	const char *prefix;
	unsigned flags;
	char prev[TOK_MAX_WORD_LEN + 1]; /* the last body word, for bigrams */
	size_t prev_len;
};

static uint32_t add_prefixed(struct counts *c, const char *prefix, const char *text, size_t len)
{
	char buf[FEAT_MAX_LEN + 1];
	if (prefix[0] == '\0') /* body words, most features: no copy */
		return len > FEAT_MAX_LEN || len == 0 ? UINT32_MAX : counts_add(c, text, len, 1);
	size_t plen = strlen(prefix);
	if (plen + len > FEAT_MAX_LEN || len == 0)
		return UINT32_MAX;
	memcpy(buf, prefix, plen);
	memcpy(buf + plen, text, len);
	return counts_add(c, buf, plen + len, 1);
}

static void add_bigram(struct tok_state *st, const char *text, size_t len)
{
	if (st->prefix[0] != '\0')
		return; /* body words only */
	if (len > TOK_MAX_WORD_LEN) {
		st->prev_len = 0;
		return;
	}
	if (st->prev_len > 0) {
		char buf[2 * TOK_MAX_WORD_LEN + 1];
		memcpy(buf, st->prev, st->prev_len);
		buf[st->prev_len] = '+';
		memcpy(buf + st->prev_len + 1, text, len);
		add_prefixed(&st->bag->features, FEAT_BIGRAM_PREFIX, buf, st->prev_len + 1 + len);
	}
	memcpy(st->prev, text, len);
	st->prev_len = len;
}

static uint32_t hash_word(const char *s, size_t len, enum lang lang)
{
	uint32_t h = 2166136261u ^ (uint32_t)lang;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* Whether word is a stop word and its stem (the word itself without a
 * stemmer); *stem_r stays valid until the next call on ctx. */
static bool stop_and_stem(struct feat_ctx *ctx, struct sb_stemmer *stemmer, enum lang lang,
                          const char *text, size_t len, const char **stem_r, size_t *stem_len_r)
{
	struct stem_entry *e = NULL;
	if (len <= TOK_MAX_WORD_LEN) {
		e = &ctx->stem_cache[hash_word(text, len, lang) & (STEM_CACHE_SIZE - 1)];
		if (e->used && e->lang == lang && e->word_len == len &&
		    memcmp(e->word, text, len) == 0) {
			*stem_r = stemmer != NULL ? e->stem : text;
			*stem_len_r = stemmer != NULL ? e->stem_len : len;
			return e->stop;
		}
	}
	bool stop = feat_is_stopword(ctx, text, len);
	const char *stem = text;
	size_t stem_len = len;
	if (stemmer != NULL) {
		const sb_symbol *s = sb_stemmer_stem(stemmer, (const sb_symbol *)text, (int)len);
		if (s != NULL) {
			stem = (const char *)s;
			stem_len = (size_t)sb_stemmer_length(stemmer);
		}
	}
	if (e != NULL && stem_len <= STEM_MAX_LEN) {
		e->used = 1;
		e->lang = (uint8_t)lang;
		e->stop = stop;
		e->word_len = (uint8_t)len;
		memcpy(e->word, text, len);
		e->stem_len = (uint8_t)stem_len;
		memcpy(e->stem, stem, stem_len);
	}
	*stem_r = stem;
	*stem_len_r = stem_len;
	return stop;
}

static int on_token(void *context, const char *text, size_t len, enum tok_kind kind)
{
	struct tok_state *st = context;
	if (kind == TOK_CLASS) {
		add_prefixed(&st->bag->features, st->prefix, text, len);
		if (st->flags & FEAT_BIGRAMS)
			add_bigram(st, text, len);
		return 0;
	}
	if (kind == TOK_HOST) {
		/* hosts count once, subject or body alike */
		add_prefixed(&st->bag->features, FEAT_HOST_PREFIX, text, len);
		return 0;
	}
	/* The stem and the stop-word status, unless neither is wanted (the
	 * spam model's whole words, stop words kept, no search terms). */
	const char *feature = text;
	size_t feature_len = len;
	const unsigned raw_words = FEAT_FEATURES_ONLY | FEAT_NO_STEM | FEAT_KEEP_STOPWORDS;
	if ((st->flags & raw_words) != raw_words) {
		const char *stem;
		size_t stem_len;
		bool stop =
		    stop_and_stem(st->ctx, st->stemmer, st->stem_lang, text, len, &stem, &stem_len);
		if (stop && !(st->flags & FEAT_KEEP_STOPWORDS))
			return 0;
		if (!stop && !(st->flags & FEAT_FEATURES_ONLY))
			add_prefixed(&st->bag->terms, "", stem, stem_len);
		if (!(st->flags & FEAT_NO_STEM)) {
			feature = stem;
			feature_len = stem_len;
		}
	}
	uint32_t id = add_prefixed(&st->bag->features, st->prefix, feature, feature_len);
	if (st->flags & FEAT_BIGRAMS)
		add_bigram(st, feature, feature_len);
	if (id != UINT32_MAX && !(st->flags & FEAT_NO_SURFACES) && !st->bag->hashed &&
	    st->bag->features.surface[id] == NULL)
		st->bag->features.surface[id] = bag_strndup(st->bag, text, len);
	return 0;
}

/* on_token() where every token is its own feature: a hashed bag's body
 * with whole words, stop words kept, no search terms and no bigrams (bulk
 * spam classification). The same counts, without the general path. */
static int on_token_hashed_raw(void *context, const char *text, size_t len, enum tok_kind kind)
{
	struct tok_state *st = context;
	if (kind == TOK_HOST || len == 0 || len > FEAT_MAX_LEN)
		return on_token(context, text, len, kind);
	struct counts *c = &st->bag->features;
	uint32_t id = hashed_index(c, hash64(text, len));
	if (c->count[id] < UINT32_MAX)
		c->count[id]++;
	return 0;
}

static tok_callback_t *token_callback(const struct tok_state *st)
{
	const unsigned raw = FEAT_FEATURES_ONLY | FEAT_NO_STEM | FEAT_KEEP_STOPWORDS;
	if (st->bag->hashed && st->prefix[0] == '\0' &&
	    (st->flags & (raw | FEAT_BIGRAMS)) == raw)
		return on_token_hashed_raw;
	return on_token;
}

/* Normalised text of a subject or header value, in ctx->scratch. */
static int normalise_part(struct feat_ctx *ctx, const char *text, size_t len,
                          const struct strbuf **norm_r, const char **error_r)
{
	ctx->scratch.len = 0;
	if (norm_append(&ctx->scratch, text, len, 0, error_r) < 0)
		return -1;
	*norm_r = &ctx->scratch;
	return 0;
}

/* Normalised body, from the cache when it is the body of the last call
 * (only the bytes norm_append() reads are compared). */
static int normalise_body(struct feat_ctx *ctx, const char *text, size_t len, unsigned flags,
                          const struct strbuf **norm_r, const char **error_r)
{
	size_t read = len > NORM_MAX_INPUT ? NORM_MAX_INPUT : len;
	if (flags & FEAT_NO_BODY_CACHE) {
		ctx->last_body_valid = false;
		ctx->last_body_norm.len = 0;
		if (norm_append(&ctx->last_body_norm, text, read, 0, error_r) < 0)
			return -1;
	} else if (!ctx->last_body_valid || ctx->last_body.len != read ||
	    memcmp(ctx->last_body.data, text, read) != 0) {
		ctx->last_body_valid = false;
		ctx->last_body_norm.len = 0;
		if (norm_append(&ctx->last_body_norm, text, read, 0, error_r) < 0)
			return -1;
		ctx->last_body.len = 0;
		strbuf_append(&ctx->last_body, text, read);
		ctx->last_body_valid = true;
	}
	*norm_r = &ctx->last_body_norm;
	return 0;
}

static int tokenize_part(struct tok_state *st, const char *text, size_t len, size_t max_tokens,
                         bool body, const char **error_r)
{
	const struct strbuf *norm;
	bool truncated = false;
	if ((body ? normalise_body(st->ctx, text, len, st->flags, &norm, error_r)
	          : normalise_part(st->ctx, text, len, &norm, error_r)) < 0)
		return -1;
	tok_tokenize(strbuf_str(norm), norm->len, max_tokens, token_callback(st), st, &truncated);
	if (truncated || len > NORM_MAX_INPUT)
		st->bag->truncated = true;
	return 0;
}

static void append_cut(struct strbuf *sb, const char *s, size_t len, size_t limit)
{
	if (sb->len < limit)
		strbuf_append(sb, s, len < limit - sb->len ? len : limit - sb->len);
}

/* The guess over the subject and the start of the body; the same input as
 * the last call's gets the last answer. */
static void guess_language(struct feat_ctx *ctx, struct feat_bag *bag, const char *subject,
                           size_t subject_len, const char *body, size_t body_len)
{
	struct strbuf *in = &ctx->scratch;
	in->len = 0;
	if (subject != NULL) {
		append_cut(in, subject, subject_len, LANG_MAX_INPUT);
		append_cut(in, "\n", 1, LANG_MAX_INPUT);
	}
	if (body != NULL)
		append_cut(in, body, body_len, LANG_MAX_INPUT);
	if (!ctx->last_lang_valid || ctx->last_lang_input.len != in->len ||
	    memcmp(ctx->last_lang_input.data, in->data, in->len) != 0) {
		const char *error;
		if (lang_guess(strbuf_str(in), in->len, &ctx->last_lang, &ctx->last_lang_confidence,
		               &error) < 0) {
			ctx->last_lang = LANG_OTHER;
			ctx->last_lang_confidence = 0;
		}
		/* keep this input as the cache key, reuse the old one's memory */
		struct strbuf old = ctx->last_lang_input;
		ctx->last_lang_input = *in;
		*in = old;
		ctx->last_lang_valid = true;
	}
	bag->lang = ctx->last_lang;
	bag->lang_confidence = ctx->last_lang_confidence;
}

static int extract(struct feat_ctx *ctx, struct feat_bag *bag, const char *subject,
                   size_t subject_len, const char *body, size_t body_len, unsigned flags,
                   const char **error_r)
{
	if (!(flags & FEAT_FEATURES_ONLY) || !(flags & FEAT_NO_STEM))
		guess_language(ctx, bag, subject, subject_len, body, body_len);
	else
		bag->lang = LANG_OTHER; /* lang_confidence stays 0 */
	struct tok_state st = {
	    .ctx = ctx, .bag = bag, .flags = flags, .prefix = FEAT_SUBJECT_PREFIX};
	/* Search terms are always stemmed; features only without FEAT_NO_STEM.
	 * An unknown language gets no stemming rather than a wrong one. */
	st.stemmer = bag->lang == LANG_FR   ? ctx->stem_fr
	             : bag->lang == LANG_EN ? ctx->stem_en
	                                    : NULL;
	st.stem_lang = st.stemmer != NULL ? bag->lang : LANG_OTHER;
	if (subject != NULL &&
	    tokenize_part(&st, subject, subject_len, FEAT_MAX_SUBJECT_TOKENS, false, error_r) < 0)
		return -1;
	st.prefix = "";
	if (body != NULL && tokenize_part(&st, body, body_len, TOK_MAX_TOKENS, true, error_r) < 0)
		return -1;
	return 0;
}

int feat_extract(struct feat_ctx *ctx, const char *subject, size_t subject_len, const char *body,
                 size_t body_len, unsigned flags, struct feat_bag **bag_r, const char **error_r)
{
	struct feat_bag *bag = feat_bag_new();
	if (extract(ctx, bag, subject, subject_len, body, body_len, flags, error_r) < 0) {
		feat_bag_free(&bag);
		return -1;
	}
	*bag_r = bag;
	return 0;
}

int feat_extract_into(struct feat_ctx *ctx, const char *subject, size_t subject_len,
                      const char *body, size_t body_len, unsigned flags, struct feat_bag *bag,
                      const char **error_r)
{
	feat_bag_reset(bag);
	if (extract(ctx, bag, subject, subject_len, body, body_len, flags, error_r) < 0) {
		feat_bag_reset(bag);
		return -1;
	}
	return 0;
}

/* ---- headers ---- */

static char lower_ascii(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_dom_char(char c)
{
	c = lower_ascii(c);
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Domain after each '@' ("h:<name>:@example.com"). */
static void add_at_domains(struct feat_bag *bag, const char *prefix, const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (v[i] != '@')
			continue;
		size_t e = i + 1;
		char dom[FEAT_MAX_LEN];
		size_t n = 0;
		while (e < len && is_dom_char(v[e]) && n < sizeof(dom) - 1)
			dom[n++] = lower_ascii(v[e++]);
		while (n > 0 && dom[n - 1] == '.')
			n--;
		if (n > 0 && memchr(dom, '.', n) != NULL) {
			char p[32];
			size_t plen = strlen(prefix);
			memcpy(p, prefix, plen);
			p[plen] = '@';
			p[plen + 1] = '\0';
			add_prefixed(&bag->features, p, dom, n);
		}
	}
}

/* Host names and IPv4 /24 networks of a Received field. */
static void add_received(struct feat_bag *bag, const char *v, size_t len)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && !is_dom_char(v[i]))
			i++;
		size_t s = i;
		char host[FEAT_MAX_LEN];
		size_t n = 0;
		bool alpha = false;
		while (i < len && is_dom_char(v[i])) {
			if (n < sizeof(host) - 1)
				host[n++] = lower_ascii(v[i]);
			alpha |= (lower_ascii(v[i]) >= 'a' && lower_ascii(v[i]) <= 'z');
			i++;
		}
		while (n > 0 && host[n - 1] == '.')
			n--;
		if (s == i || memchr(host, '.', n) == NULL)
			continue;
		if (alpha) {
			add_prefixed(&bag->features, "h:rcvd:", host, n);
		} else {
			/* keep the first three octets */
			size_t dots = 0, k = 0;
			while (k < n && dots < 3)
				if (host[k++] == '.')
					dots++;
			if (dots == 3)
				add_prefixed(&bag->features, "h:rcvd:ip:", host, k - 1);
		}
	}
}

/* Words of a header value, normalised, neither stemmed nor filtered, and
 * not search terms: features only. */
static void add_header_words(struct feat_ctx *ctx, struct feat_bag *bag, const char *prefix,
                             const char *v, size_t len, unsigned flags)
{
	const char *error;
	struct tok_state st = {
	    .ctx = ctx,
	    .bag = bag,
	    .flags = FEAT_NO_STEM | FEAT_KEEP_STOPWORDS | FEAT_FEATURES_ONLY |
	             (flags & FEAT_NO_SURFACES),
	    .prefix = prefix};
	(void)tokenize_part(&st, v, len, 32, false, &error);
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static int extract_mail(struct feat_ctx *ctx, struct feat_bag *bag, const char *headers,
                        size_t headers_len, const char *body, size_t body_len, unsigned flags,
                        const char **error_r)
{
	if (headers_len > FEAT_MAX_HEADER_BYTES)
		headers_len = FEAT_MAX_HEADER_BYTES;
	/* Unfold: a line starting with white space continues the field. */
	struct strbuf unfolded = ctx->unfolded;
	unfolded.len = 0;
	unfolded.data = xgrow(unfolded.data, &unfolded.cap, headers_len + 1, 1);
	for (size_t i = 0; i < headers_len; i++) {
		/* eight bytes at a time while none is a control up to '\r' (a
		 * byte under 0x0e found by the borrow of a subtraction) */
		while (headers_len - i >= 8) {
			uint64_t v;
			memcpy(&v, headers + i, sizeof(v));
			if (((v - 0x0e0e0e0e0e0e0e0eULL) & ~v & 0x8080808080808080ULL) != 0)
				break;
			memcpy(unfolded.data + unfolded.len, &v, sizeof(v));
			unfolded.len += 8;
			i += 8;
		}
		if (i == headers_len)
			break;
		char c = headers[i];
		if ((unsigned char)c > '\r') { /* most bytes: none of the cases below */
			unfolded.data[unfolded.len++] = c;
			continue;
		}
		if (c == '\r')
			continue;
		if (c == '\n' && i + 1 < headers_len &&
		    (headers[i + 1] == ' ' || headers[i + 1] == '\t'))
			c = ' ';
		unfolded.data[unfolded.len++] = c == '\0' ? ' ' : c;
	}
	unfolded.data[unfolded.len] = '\0';
	const char *h = strbuf_str(&unfolded);
	size_t hlen = unfolded.len;
	const char *subject = NULL;
	size_t subject_len = 0;
	size_t fields = 0;
	for (size_t i = 0; i < hlen && fields < FEAT_MAX_HEADER_FIELDS;) {
		const char *nl = memchr(h + i, '\n', hlen - i);
		size_t end = nl != NULL ? (size_t)(nl - h) : hlen;
		const char *colon = memchr(h + i, ':', end - i);
		if (colon != NULL && colon > h + i) {
			const char *name = h + i;
			size_t nlen = (size_t)(colon - name);
			const char *v = colon + 1;
			size_t vlen = (size_t)(h + end - v);
			while (vlen > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vlen--;
			}
			fields++;
			char lname[48];
			if (nlen < sizeof(lname) && memchr(name, ' ', nlen) == NULL) {
				for (size_t k = 0; k < nlen; k++)
					lname[k] = lower_ascii(name[k]);
				add_prefixed(&bag->features, "h:n:", lname, nlen);
			}
			if (name_is(name, nlen, "subject") && subject == NULL) {
				subject = v;
				subject_len = vlen;
			} else if (name_is(name, nlen, "from") || name_is(name, nlen, "reply-to") ||
			           name_is(name, nlen, "sender")) {
				add_at_domains(bag, "h:from:", v, vlen);
				add_header_words(ctx, bag, "h:from:", v, vlen, flags);
			} else if (name_is(name, nlen, "return-path")) {
				add_at_domains(bag, "h:rpath:", v, vlen);
			} else if (name_is(name, nlen, "message-id")) {
				add_at_domains(bag, "h:mid:", v, vlen);
			} else if (name_is(name, nlen, "received")) {
				add_received(bag, v, vlen);
			} else if (name_is(name, nlen, "content-type")) {
				add_header_words(ctx, bag, "h:ct:", v, vlen, flags);
			} else if (name_is(name, nlen, "x-mailer") ||
			           name_is(name, nlen, "user-agent")) {
				add_header_words(ctx, bag, "h:xm:", v, vlen, flags);
			}
		}
		i = end + 1;
	}
	int ret = extract(ctx, bag, subject, subject_len, body, body_len, flags, error_r);
	ctx->unfolded = unfolded; /* its memory serves the next mail */
	return ret;
}

int feat_extract_mail(struct feat_ctx *ctx, const char *headers, size_t headers_len,
                      const char *body, size_t body_len, unsigned flags, struct feat_bag **bag_r,
                      const char **error_r)
{
	struct feat_bag *bag = feat_bag_new();
	if (extract_mail(ctx, bag, headers, headers_len, body, body_len, flags, error_r) < 0) {
		feat_bag_free(&bag);
		return -1;
	}
	*bag_r = bag;
	return 0;
}

int feat_extract_mail_into(struct feat_ctx *ctx, const char *headers, size_t headers_len,
                           const char *body, size_t body_len, unsigned flags,
                           struct feat_bag *bag, const char **error_r)
{
	feat_bag_reset(bag);
	if (extract_mail(ctx, bag, headers, headers_len, body, body_len, flags, error_r) < 0) {
		feat_bag_reset(bag);
		return -1;
	}
	return 0;
}
