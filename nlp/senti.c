/* Sentiment: the text is cut into words (normalised for lookup, with their
 * capitals remembered), emoji, emoticons, clause breaks and exclamation
 * marks; lexicon terms (longest match first) are scored in context. */
#include "senti.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "norm.h"
#include "parse.h"
#include "strbuf.h"
#include "symtab.h"
#include "xalloc.h"

#define KEY_MAX 48

/* VADER constants: negation scalar, booster increment as a factor, the
 * contrast weights, the exclamation increment and the normalisation alpha. */
#define NEGATION_FACTOR (-0.74)
#define INTENSIFIER_FACTOR 1.5
#define DIMINISHER_FACTOR 0.5
#define CAPS_FACTOR 1.5
#define BEFORE_CONTRAST 0.5
#define AFTER_CONTRAST 1.5
#define EXCLAMATION_STEP 0.292
#define EXCLAMATION_MAX 4
#define NORMALISE_ALPHA 15.0
#define NEGATION_WINDOW 3
#define BOOSTER_WINDOW 2

struct senti_lexicon {
	struct symtab *terms;
	/* the first 1..n-1 words of every term of n words: a longer match
	 * is tried only where such a start is present */
	struct symtab *starts;
	double *scores;
	size_t cap;
	char error[128];
};

enum stok_type { S_WORD, S_EMOJI, S_BREAK };

struct stok {
	enum stok_type type;
	bool caps;
	uint8_t len; /* of key */
	char key[KEY_MAX + 1];
};

struct tokens {
	struct stok *v;
	size_t count, cap;
	unsigned exclamations;
	unsigned letters, upper;
	struct strbuf norm; /* reused for each word */
};

static void push(struct tokens *t, enum stok_type type, const char *key, size_t len, bool caps)
{
	if (t->count >= SENTI_MAX_TOKENS || len > KEY_MAX)
		return;
	if (type == S_BREAK && (t->count == 0 || t->v[t->count - 1].type == S_BREAK))
		return;
	t->v = xgrow(t->v, &t->cap, t->count + 1, sizeof(*t->v));
	struct stok *s = &t->v[t->count++];
	s->type = type;
	s->caps = caps;
	s->len = (uint8_t)len;
	memcpy(s->key, key, len);
	s->key[len] = '\0';
}

static bool is_word_cp(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		       (cp >= '0' && cp <= '9');
	utf8proc_category_t c = utf8proc_category(cp);
	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME) ||
	       c == UTF8PROC_CATEGORY_ND;
}

static bool is_apostrophe(int32_t cp)
{
	return cp == '\'' || cp == 0x2019 || cp == 0x02BC;
}

static bool is_emoji(int32_t cp)
{
	if (cp == 0xFE0F || cp == 0x200D || (cp >= 0x1F3FB && cp <= 0x1F3FF))
		return false;
	if (cp >= 0x1F000 && cp <= 0x1FAFF)
		return true;
	return cp >= 0x2600 && utf8proc_category(cp) == UTF8PROC_CATEGORY_SO;
}

static const char *const elisions[] = {"l", "d",  "j",     "m",      "n",      "s", "t",
                                       "c", "qu", "jusqu", "lorsqu", "puisqu", NULL};

static bool in_list(const char *w, size_t len, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == len && memcmp(*list, w, len) == 0)
			return true;
	return false;
}

static inline utf8proc_ssize_t next_cp(const char *s, size_t len, size_t i, utf8proc_int32_t *cp_r)
{
	unsigned char c = (unsigned char)s[i];
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	return utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), cp_r);
}

/* One word run of the raw text: normalised, elision split ("n'" -> "ne"). */
static void push_word(struct tokens *t, const char *raw, size_t len)
{
	unsigned letters = 0, upper = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)raw[i];
		if (c < 0x80) {
			/* the ASCII letters are the only ASCII code points of
			 * categories LU..LO */
			bool up = c >= 'A' && c <= 'Z';
			letters += up || (c >= 'a' && c <= 'z');
			upper += up;
			i++;
			continue;
		}
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)raw + i,
		                                      (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0)
			break;
		utf8proc_category_t c2 = utf8proc_category(cp);
		if (c2 >= UTF8PROC_CATEGORY_LU && c2 <= UTF8PROC_CATEGORY_LO)
			letters++;
		if (c2 == UTF8PROC_CATEGORY_LU)
			upper++;
		i += (size_t)n;
	}
	t->letters += letters;
	t->upper += upper;
	bool caps = letters >= 2 && upper == letters;
	const char *error;
	t->norm.len = 0;
	if (norm_append(&t->norm, raw, len, 0, &error) < 0)
		return;
	const char *w = t->norm.data;
	size_t nlen = t->norm.len;
	const char *apo = memchr(w, '\'', nlen);
	if (apo != NULL && in_list(w, (size_t)(apo - w), elisions)) {
		if (apo - w == 1 && w[0] == 'n')
			push(t, S_WORD, "ne", 2, caps);
		nlen -= (size_t)(apo - w) + 1;
		w = apo + 1;
	}
	if (nlen > 0)
		push(t, S_WORD, w, nlen, caps);
}

static const char *const emoticons[] = {":-)", ":-(", ":')", ":'(", ":)", ":(", ":D",
                                        ";)",  ";-)", ":/",  ":-/", "<3", NULL};

static void scan(struct tokens *t, const char *text, size_t len)
{
	size_t i = 0;
	while (i < len && t->count < SENTI_MAX_TOKENS) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = next_cp(text, len, i, &cp);
		if (n <= 0) {
			i++;
			continue;
		}
		if (is_word_cp(cp)) {
			size_t end = i + (size_t)n;
			while (end < len) {
				utf8proc_int32_t c2, c3;
				utf8proc_ssize_t m = next_cp(text, len, end, &c2);
				if (m <= 0)
					break;
				if (is_word_cp(c2)) {
					end += (size_t)m;
					continue;
				}
				/* internal apostrophe or hyphen: "don't", "peut-être" */
				if ((is_apostrophe(c2) || c2 == '-') && end + (size_t)m < len &&
				    next_cp(text, len, end + (size_t)m, &c3) > 0 &&
				    is_word_cp(c3)) {
					end += (size_t)m;
					continue;
				}
				break;
			}
			if (end - i <= 4 * KEY_MAX)
				push_word(t, text + i, end - i);
			i = end;
			continue;
		}
		if (cp == ':' || cp == ';' || cp == '<') {
			const char *const *e;
			for (e = emoticons; *e != NULL; e++)
				if (strlen(*e) <= len - i && memcmp(text + i, *e, strlen(*e)) == 0)
					break;
			if (*e != NULL) {
				push(t, S_EMOJI, *e, strlen(*e), false);
				i += strlen(*e);
				continue;
			}
		}
		if (is_emoji(cp)) {
			push(t, S_EMOJI, text + i, (size_t)n, false);
		} else if (cp == '!') {
			t->exclamations++;
			push(t, S_BREAK, "", 0, false);
		} else if (cp == '.' || cp == '?' || cp == ';' || cp == ':' || cp == '\n' ||
			   cp == ',') {
			/* a comma ends a negation's reach too: "no worries, thanks" */
			push(t, S_BREAK, "", 0, false);
		}
		i += (size_t)n;
	}
}

/* ---- lexicon ---- */

struct senti_lexicon *senti_lexicon_new(void)
{
	struct senti_lexicon *lex = xcalloc(1, sizeof(*lex));
	lex->terms = symtab_new(1024);
	lex->starts = symtab_new(256);
	return lex;
}

void senti_lexicon_free(struct senti_lexicon **lexp)
{
	struct senti_lexicon *lex = *lexp;
	if (lex == NULL)
		return;
	symtab_free(&lex->terms);
	symtab_free(&lex->starts);
	free(lex->scores);
	free(lex);
	*lexp = NULL;
}

size_t senti_lexicon_size(const struct senti_lexicon *lex)
{
	return symtab_count(lex->terms);
}

/* Lexicon keys go through the same scanner as text, words joined by one
 * space, so that "ça ne marche pas" and "Ça ne marche PAS" meet. */
static int term_key(const char *term, size_t len, char *key, size_t *key_len_r)
{
	struct tokens t = {0};
	scan(&t, term, len);
	size_t k = 0, words = 0;
	int ret = 0;
	for (size_t i = 0; i < t.count; i++) {
		size_t n = t.v[i].len;
		if (t.v[i].type == S_BREAK || words >= SENTI_MAX_TERM_WORDS ||
		    k + n + 1 > 4 * KEY_MAX) {
			ret = -1;
			break;
		}
		if (k > 0)
			key[k++] = ' ';
		memcpy(key + k, t.v[i].key, n);
		k += n;
		words++;
	}
	free(t.v);
	strbuf_free(&t.norm);
	if (ret < 0 || k == 0)
		return -1;
	key[k] = '\0';
	*key_len_r = k;
	return 0;
}

int senti_lexicon_load(struct senti_lexicon *lex, const char *tsv, size_t len, const char **error_r)
{
	size_t line = 0;
	for (size_t i = 0; i < len;) {
		size_t end = i;
		while (end < len && tsv[end] != '\n')
			end++;
		line++;
		size_t e = end;
		while (e > i && (tsv[e - 1] == '\r' || tsv[e - 1] == ' '))
			e--;
		if (e > i && tsv[i] != '#') {
			const char *tab = memchr(tsv + i, '\t', e - i);
			char num[32], key[4 * KEY_MAX + 1];
			size_t nlen = tab != NULL ? (size_t)(tsv + e - tab - 1) : 0, klen;
			double score;
			if (tab == NULL || nlen == 0 || nlen >= sizeof(num)) {
				snprintf(lex->error, sizeof(lex->error),
				         "line %zu: expected term<TAB>score", line);
				*error_r = lex->error;
				return -1;
			}
			memcpy(num, tab + 1, nlen);
			num[nlen] = '\0';
			if (parse_double(num, &score) < 0 || !(score >= -3 && score <= 3)) {
				snprintf(lex->error, sizeof(lex->error),
				         "line %zu: score must be a number in [-3, 3]", line);
				*error_r = lex->error;
				return -1;
			}
			if (term_key(tsv + i, (size_t)(tab - (tsv + i)), key, &klen) < 0) {
				snprintf(lex->error, sizeof(lex->error),
				         "line %zu: term empty, too long or more than %d words",
				         line, SENTI_MAX_TERM_WORDS);
				*error_r = lex->error;
				return -1;
			}
			for (size_t k = 0; k < klen; k++)
				if (key[k] == ' ')
					symtab_intern(lex->starts, key, k, NULL);
			bool created;
			uint32_t id = symtab_intern(lex->terms, key, klen, &created);
			if (created)
				lex->scores = xgrow(lex->scores, &lex->cap, (size_t)id + 1,
				                    sizeof(*lex->scores));
			lex->scores[id] = score;
		}
		i = end + 1;
	}
	return 0;
}

/* ---- analysis ---- */

static const char *const negators[] = {
    "ne", "pas",   "jamais",  "aucun", "aucune",  "rien",   "sans",    "ni",     "non",  "not",
    "no", "never", "without", "nor",   "nothing", "nobody", "neither", "cannot", "none", NULL};
static const char *const intensifiers[] = {
    "tres",       "vraiment",     "trop",       "tellement",  "extremement",
    "totalement", "completement", "absolument", "hyper",      "particulierement",
    "vachement",  "franchement",  "really",     "very",       "so",
    "extremely",  "totally",      "completely", "absolutely", "incredibly",
    "terribly",   "utterly",      "highly",     "truly",      "super",
    "such",       "too",          NULL};
static const char *const diminishers[] = {"peu",         "assez",        "plutot",   "legerement",
                                          "moyennement", "relativement", "slightly", "somewhat",
                                          "barely",      "rather",       "fairly",   "kinda",
                                          "partly",      "partially",    "quelque",  NULL};
static const char *const diminisher_pairs[] = {"un peu",  "a bit",   "a little",
                                               "kind of", "sort of", NULL};
static const char *const contrasts[] = {"mais",      "cependant", "pourtant", "toutefois",
                                        "neanmoins", "revanche",  "but",      "however",
                                        "nevertheless", "yet",    NULL};

static bool is_negator(const struct stok *s)
{
	size_t n = s->len;
	return s->type == S_WORD &&
	       (in_list(s->key, n, negators) || (n > 3 && memcmp(s->key + n - 3, "n't", 3) == 0));
}

static bool word_in(const struct stok *s, const char *const *list)
{
	return s->type == S_WORD && in_list(s->key, s->len, list);
}

/* Token i turns the sentence: a contrast word, or "par contre" (whose
 * "contre" alone is only "against"). */
static bool is_contrast(const struct tokens *t, size_t i)
{
	static const char *const par[] = {"par", NULL}, *const contre[] = {"contre", NULL};
	return word_in(&t->v[i], contrasts) ||
	       (i > 0 && word_in(&t->v[i], contre) && word_in(&t->v[i - 1], par));
}

static int lookup(const struct senti_lexicon *lex, const struct tokens *t, size_t i, size_t nwords,
                  double *score_r, char *key, size_t key_size)
{
	size_t k = 0;
	for (size_t j = 0; j < nwords; j++) {
		if (i + j >= t->count || t->v[i + j].type == S_BREAK)
			return -1;
		if (t->v[i + j].type == S_EMOJI && nwords > 1)
			return -1;
		size_t n = t->v[i + j].len;
		if (k + n + 2 > key_size)
			return -1;
		if (j > 0)
			key[k++] = ' ';
		memcpy(key + k, t->v[i + j].key, n);
		k += n;
	}
	key[k] = '\0';
	uint32_t id;
	if (symtab_find(lex->terms, key, k, &id) < 0)
		return -1;
	*score_r = lex->scores[id];
	return 0;
}

/* The most words a lexicon term starting at token i can have: n words only
 * where the first n-1 start some term (uses key as scratch). */
static size_t max_words_at(const struct senti_lexicon *lex, const struct tokens *t, size_t i,
                           char *key, size_t key_size)
{
	size_t n = 1, k = 0;
	while (n < SENTI_MAX_TERM_WORDS) {
		size_t j = i + n - 1;
		if (j >= t->count || t->v[j].type == S_BREAK)
			break;
		size_t len = t->v[j].len;
		if (k + len + 2 > key_size)
			break;
		if (n > 1)
			key[k++] = ' ';
		memcpy(key + k, t->v[j].key, len);
		k += len;
		uint32_t id;
		if (symtab_find(lex->starts, key, k, &id) < 0)
			break;
		n++;
	}
	return n;
}

struct hit {
	size_t start, words;
	double score;
	char term[4 * KEY_MAX + 8];
};

static void add_reason(struct senti_result *r, const char *term, double c)
{
	size_t pos = r->n_reasons;
	if (pos == SENTI_MAX_REASONS) {
		if (fabs(c) <= fabs(r->reasons[pos - 1].contribution))
			return;
		pos--;
	} else {
		r->n_reasons++;
	}
	while (pos > 0 && fabs(r->reasons[pos - 1].contribution) < fabs(c)) {
		r->reasons[pos] = r->reasons[pos - 1];
		pos--;
	}
	/* Longer terms are cut: a reason is a label, not the text. */
	snprintf(r->reasons[pos].term, sizeof(r->reasons[pos].term), "%.*s",
		 (int)sizeof(r->reasons[pos].term) - 1, term);
	r->reasons[pos].contribution = c;
}

int senti_analyse(const struct senti_lexicon *lex, const char *text, size_t len,
                  struct senti_result *result_r, const char **error_r)
{
	(void)error_r;
	size_t clean_len;
	_cleanup_free_ char *clean =
	    norm_repair_utf8(text, len > SENTI_MAX_INPUT ? SENTI_MAX_INPUT : len, &clean_len);
	struct tokens t = {0};
	scan(&t, clean, clean_len);
	struct senti_result r;
	memset(&r, 0, sizeof(r));
	/* Shouting: most letters of a text of some length in capitals. Then
	 * single capitalised words are not emphasis any more. */
	bool shouting = t.letters >= 8 && t.upper * 10 >= t.letters * 7;
	size_t contrast_at = SIZE_MAX;
	for (size_t i = 0; i < t.count; i++)
		if (is_contrast(&t, i))
			contrast_at = i;

	double sum = 0;
	char key[4 * KEY_MAX + 8];
	for (size_t i = 0; i < t.count;) {
		if (t.v[i].type == S_BREAK) {
			i++;
			continue;
		}
		struct hit h = {.start = i};
		for (size_t n = max_words_at(lex, &t, i, key, sizeof(key)); n >= 1 && h.words == 0;
		     n--)
			if (lookup(lex, &t, i, n, &h.score, key, sizeof(key)) == 0) {
				h.words = n;
				snprintf(h.term, sizeof(h.term), "%s", key);
			}
		if (h.words == 0) {
			i++;
			continue;
		}
		/* A booster that is also a lexicon word ("super", "trop") boosts
		 * the next term rather than counting on its own. */
		if (h.words == 1 && word_in(&t.v[i], intensifiers) && i + 1 < t.count &&
		    t.v[i + 1].type != S_BREAK) {
			double dummy;
			if (lookup(lex, &t, i + 1, 1, &dummy, key, sizeof(key)) == 0) {
				i++;
				continue;
			}
		}
		double s = h.score;
		char flags[64] = "";
		bool caps = false;
		for (size_t j = 0; j < h.words; j++)
			caps |= t.v[i + j].caps;
		if (caps && !shouting) {
			s *= CAPS_FACTOR;
			strcat(flags, ", capitals");
		}
		/* Look back within the clause for boosters and negators. */
		/* A term that holds its own negation ("toujours pas", "doesn't
		 * work") is not negated again by the "ne" of "ne ... pas". */
		bool self_negated = false;
		for (size_t j = 0; j < h.words; j++)
			self_negated |= is_negator(&t.v[i + j]);
		bool negated = false, negator_caps = false;
		/* Emoji speak for themselves: no negation or booster applies. */
		bool emoji = t.v[i].type == S_EMOJI;
		for (size_t back = 1; !emoji && back <= NEGATION_WINDOW && back <= i; back++) {
			const struct stok *p = &t.v[i - back];
			if (p->type == S_BREAK || is_contrast(&t, i - back))
				break;
			if (is_negator(p) && !self_negated) {
				negated = true;
				negator_caps |= p->caps;
			}
			if (back <= BOOSTER_WINDOW) {
				if (word_in(p, intensifiers)) {
					s *= INTENSIFIER_FACTOR;
					strcat(flags, ", intensified");
				} else if (word_in(p, diminishers) ||
				           (back < i && t.v[i - back - 1].type == S_WORD &&
				            (snprintf(key, sizeof(key), "%s %s",
				                      t.v[i - back - 1].key, p->key) > 0) &&
				            in_list(key, strlen(key), diminisher_pairs))) {
					s *= DIMINISHER_FACTOR;
					strcat(flags, ", diminished");
				}
			}
		}
		if (negated) {
			s *= NEGATION_FACTOR;
			strcat(flags, ", negated");
			if (negator_caps && !shouting) {
				s *= CAPS_FACTOR; /* "NOT happy" */
				strcat(flags, ", capitals");
			}
		}
		if (contrast_at != SIZE_MAX) {
			s *= i < contrast_at ? BEFORE_CONTRAST : AFTER_CONTRAST;
			strcat(flags, i < contrast_at ? ", before contrast" : ", after contrast");
		}
		char term[sizeof(h.term) + sizeof(flags) + 4];
		if (flags[0] != '\0')
			snprintf(term, sizeof(term), "%s (%s)", h.term, flags + 2);
		else
			snprintf(term, sizeof(term), "%s", h.term);
		add_reason(&r, term, s);
		sum += s;
		i += h.words;
	}
	if (shouting && sum != 0) {
		double extra = sum * (CAPS_FACTOR - 1);
		add_reason(&r, "(whole text in capitals)", extra);
		sum += extra;
	}
	if (t.exclamations > 0 && sum != 0) {
		unsigned n = t.exclamations > EXCLAMATION_MAX ? EXCLAMATION_MAX : t.exclamations;
		double extra = (sum > 0 ? 1 : -1) * EXCLAMATION_STEP * n;
		add_reason(&r, "(exclamation marks)", extra);
		sum += extra;
	}
	/* VADER normalisation: x / sqrt(x^2 + alpha), into (-1, 1). */
	r.score = sum / sqrt(sum * sum + NORMALISE_ALPHA);
	r.label = r.score >= SENTI_THRESHOLD    ? SENTI_POSITIVE
	          : r.score <= -SENTI_THRESHOLD ? SENTI_NEGATIVE
	                                        : SENTI_NEUTRAL;
	free(t.v);
	strbuf_free(&t.norm);
	*result_r = r;
	return 0;
}

const char *senti_label_name(enum senti_label label)
{
	switch (label) {
	case SENTI_NEGATIVE:
		return "negative";
	case SENTI_POSITIVE:
		return "positive";
	default:
		return "neutral";
	}
}
