/* Language guess: each known function word is worth WORD_WEIGHT, each
 * characteristic trigram one point; the difference of the two languages'
 * totals goes through a logistic to give a probability. */
#include "lang.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

#include "norm.h"
#include "symtab.h"
#include "xalloc.h"

#define WORD_WEIGHT 3.0
/* Logistic slope: a difference of ~6 points (two function words) gives 0.95. */
#define SLOPE 0.5

/* Words frequent in one language and rare in the other (case folded, with
 * accents; elided forms appear without their apostrophe). */
static const char *const fr_words[] = {
    "le",    "la",     "les",    "de",           "des",    "du",       "un",
    "une",   "et",     "est",    "je",           "vous",   "nous",     "il",
    "elle",  "ne",     "pas",    "que",          "qui",    "pour",     "dans",
    "sur",   "avec",   "ce",     "cette",        "mon",    "ma",       "mes",
    "votre", "vos",    "au",     "aux",          "ai",     "avez",     "bonjour",
    "merci", "mais",   "où",     "très",         "été",    "être",     "ça",
    "suis",  "sont",   "fait",   "par",          "l",      "d",        "j",
    "qu",    "c",      "n",      "cordialement", "depuis", "toujours", "encore",
    "aussi", "rien",   "car",    "donc",         "leur",   "sans",     "faire",
    "peux",  "pouvez", "madame", "monsieur",     "svp",    "reçu",     "commande",
    "déjà",  "avoir",  "ou",     "comment",      "quand",  "si",       NULL};
static const char *const en_words[] = {
    "the",      "and",    "is",     "are",     "to",      "of",     "it",     "you",     "your",
    "i",        "we",     "my",     "for",     "with",    "this",   "that",   "have",    "has",
    "not",      "be",     "was",    "will",    "can",     "please", "thanks", "thank",   "hello",
    "hi",       "would",  "could",  "should",  "do",      "does",   "don't",  "from",    "at",
    "but",      "what",   "when",   "there",   "they",    "them",   "been",   "our",     "still",
    "just",     "did",    "didn't", "doesn't", "can't",   "i'm",    "it's",   "regards", "order",
    "received", "please", "why",    "how",     "any",     "get",    "got",    "if",      "all",
    "some",     "no",     "yes",    "dear",    "account", NULL};

/* Function words of the neighbouring languages (Spanish, German, Italian,
 * Portuguese, Dutch) that neither French nor English uses. */
static const char *const other_words[] = {
    "el",     "los",     "las",  "y",     "por",    "con",      "para", "una", "mi",    "pero",
    "muy",    "gracias", "hola", "der",   "die",    "das",      "und",  "ich", "nicht", "ist",
    "mit",    "ein",     "eine", "bitte", "danke",  "meine",    "di",   "che", "non",   "sono",
    "grazie", "della",   "não",  "com",   "uma",    "obrigado", "het",  "een", "niet",  "wij",
    "mijn",   "bedankt", "he",   "del",   "pedido", NULL};

/* Frequent trigrams over words padded with one space on each side. */
static const char *const fr_trigrams[] = {
    " de", "es ", "de ", "ent", " le", "le ", "ion", "nt ", "la ", " la", "les", " co",
    "tio", " pa", "ne ", "que", "eme", "men", "ue ", "on ", " qu", " et", "et ", "des",
    " po", "our", " pr", "ons", "ais", "ait", "ou ", " je", "je ", "re ", "ez ", " vo",
    "vou", "ous", "us ", "eu ", "ée ", "é ",  " dé", " ré", "té ", "é",   "à ",  "ç",
    "è",   "ê",   "ur ", "eur", "ie ", "ui ", " mo", " ma", "uis", "ant", "pas", "est",
    "par", "ell", "qu ", "oi",  "ai ", " ne", "nou", "tre", "mer", "erc", "rci", NULL};
static const char *const en_trigrams[] = {
    " th", "the", "he ", "ing", "ng ", " an", "and", "nd ", "ed ", " to", "to ",
    "er ", " of", "of ", "is ", " in", "in ", "hat", "tha", "at ", "you", " yo",
    " fo", "for", "or ", "it ", " it", "ve ", " wi", "ith", "wit", "th ", " is",
    " be", "ly ", " wh", "ave", "hav", "ll ", "ou ", "ts ", "ere", " my", "my ",
    " ha", "was", "ase", "eas", "lea", "ple", " pl", "s i", " i ", "i ",  "ck ",
    "ght", "ay ", "ey ", "wh",  "ow ", "rd ", "ks ", "nks", "tha", "y ",  NULL};

/* The lists above in two hash tables, built once per process (read-only
 * afterwards, so lang_guess is thread-safe). */
enum { IN_FR = 1, IN_EN = 2, IN_OTHER = 4 };
static struct symtab *word_table, *gram_table;
static uint8_t *word_flags, *gram_flags;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* The grams made of space, a-z and apostrophe (the bytes of a padded ASCII
 * word) again, in a direct table indexed by their characters in base
 * GRAM_BASE: most words are ASCII and need no hashing. */
#define GRAM_BASE 29
static uint8_t
    ascii_gram_flags[GRAM_BASE + GRAM_BASE * GRAM_BASE + GRAM_BASE * GRAM_BASE * GRAM_BASE];
static uint8_t gram_code[256]; /* 0: not in a padded ASCII word */

static size_t ascii_gram_index(const unsigned char *g, size_t len)
{
	size_t index = 0, offset = 0, span = 1;
	for (size_t k = 0; k < len; k++) {
		offset += span;
		span *= GRAM_BASE;
		index = index * GRAM_BASE + gram_code[g[k]];
	}
	return offset - 1 + index;
}

static void add_list(struct symtab *tab, uint8_t **flags, const char *const *list, uint8_t flag)
{
	for (; *list != NULL; list++) {
		bool created;
		uint32_t id = symtab_intern(tab, *list, strlen(*list), &created);
		if (created) {
			*flags = xrealloc(*flags, symtab_count(tab));
			(*flags)[id] = 0;
		}
		(*flags)[id] |= flag;
	}
}

static void build_tables(void)
{
	word_table = symtab_new(256);
	gram_table = symtab_new(256);
	add_list(word_table, &word_flags, fr_words, IN_FR);
	add_list(word_table, &word_flags, en_words, IN_EN);
	add_list(word_table, &word_flags, other_words, IN_OTHER);
	add_list(gram_table, &gram_flags, fr_trigrams, IN_FR);
	add_list(gram_table, &gram_flags, en_trigrams, IN_EN);
	gram_code[' '] = 1;
	for (int c = 'a'; c <= 'z'; c++)
		gram_code[c] = (uint8_t)(2 + c - 'a');
	gram_code['\''] = GRAM_BASE - 1;
	for (uint32_t id = 0; id < symtab_count(gram_table); id++) {
		const unsigned char *g = (const unsigned char *)symtab_key(gram_table, id);
		size_t len = symtab_key_len(gram_table, id);
		bool ascii = true;
		for (size_t k = 0; k < len; k++)
			ascii &= gram_code[g[k]] != 0;
		if (ascii)
			ascii_gram_flags[ascii_gram_index(g, len)] = gram_flags[id];
	}
}

static uint8_t word_class(const char *s, size_t len)
{
	uint32_t id;
	return symtab_find(word_table, s, len, &id) == 0 ? word_flags[id] : 0;
}

static bool in_list(const char *s, size_t len, const char *const *list)
{
	uint8_t want = list == fr_words ? IN_FR : list == en_words ? IN_EN : IN_OTHER;
	return (word_class(s, len) & want) != 0;
}

/* Occurrences of the listed grams (one to three characters) in the padded
 * word: every substring of 1-3 code points starting at a character. */
static void gram_hits(const char *padded, size_t len, double *fr, double *en)
{
	const unsigned char *p = (const unsigned char *)padded;
	bool ascii = true;
	for (size_t i = 0; i < len && ascii; i++)
		ascii = gram_code[p[i]] != 0;
	if (ascii) {
		/* same grams in the same order as below */
		for (size_t i = 0; i < len; i++)
			for (size_t k = 1; k <= 3 && i + k <= len; k++) {
				uint8_t flags = ascii_gram_flags[ascii_gram_index(p + i, k)];
				*fr += (flags & IN_FR) ? 0.5 : 0;
				*en += (flags & IN_EN) ? 0.5 : 0;
			}
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)padded[i] & 0xc0) == 0x80)
			continue;
		size_t end = i;
		for (int k = 0; k < 3 && end < len; k++) {
			end++;
			while (end < len && ((unsigned char)padded[end] & 0xc0) == 0x80)
				end++;
			uint32_t id;
			if (symtab_find(gram_table, padded + i, end - i, &id) == 0) {
				*fr += (gram_flags[id] & IN_FR) ? 0.5 : 0;
				*en += (gram_flags[id] & IN_EN) ? 0.5 : 0;
			}
		}
	}
}

static bool is_letter(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || cp == '\'';
	utf8proc_category_t c = utf8proc_category(cp);
	return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME;
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

int lang_guess(const char *text, size_t len, enum lang *lang_r, double *confidence_r,
               const char **error_r)
{
	pthread_once(&tables_once, build_tables);
	_cleanup_free_ char *norm = NULL;
	size_t nlen;
	if (norm_text(text, len > LANG_MAX_INPUT ? LANG_MAX_INPUT : len, NORM_KEEP_ACCENTS, &norm,
	              &nlen, error_r) < 0)
		return -1;
	double fr = 0, en = 0;
	unsigned words = 0, known = 0, foreign = 0;
	char padded[64 + 2];
	size_t i = 0;
	while (i < nlen) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = next_cp(norm, nlen, i, &cp);
		if (n <= 0 || !is_letter(cp) || cp == '\'') {
			i += n > 0 ? (size_t)n : 1;
			continue;
		}
		size_t start = i, end = i;
		while (end < nlen) {
			n = next_cp(norm, nlen, end, &cp);
			if (n <= 0 || !is_letter(cp))
				break;
			end += (size_t)n;
		}
		i = end;
		size_t wlen = end - start;
		/* "l'abonnement": the elided article and the word count apart,
		 * but "don't" stays whole. */
		const char *apo = memchr(norm + start, '\'', wlen);
		if (apo != NULL && !in_list(norm + start, wlen, en_words)) {
			size_t head = (size_t)(apo - (norm + start));
			if (in_list(norm + start, head, fr_words))
				fr += WORD_WEIGHT;
			start += head + 1;
			wlen -= head + 1;
		}
		if (wlen == 0 || wlen > 64)
			continue;
		words++;
		uint8_t cls = word_class(norm + start, wlen);
		bool f = (cls & IN_FR) != 0, e = (cls & IN_EN) != 0;
		if (f || e)
			known++;
		else if (cls & IN_OTHER)
			foreign++;
		fr += f ? WORD_WEIGHT : 0;
		en += e ? WORD_WEIGHT : 0;
		padded[0] = ' ';
		memcpy(padded + 1, norm + start, wlen);
		padded[wlen + 1] = ' ';
		gram_hits(padded, wlen + 2, &fr, &en);
	}
	if (words == 0 || fr + en < 2.0) {
		*lang_r = LANG_OTHER;
		*confidence_r = 0.0;
		return 0;
	}
	/* Neither language's function words: another language, however many
	 * trigrams happen to match. */
	if (foreign > known || (words >= 5 && known * 12 < words)) {
		*lang_r = LANG_OTHER;
		*confidence_r = foreign > known ? (double)foreign / (foreign + known)
		                                : 1.0 - (double)known * 12 / words;
		return 0;
	}
	double p_fr = 1.0 / (1.0 + exp(-SLOPE * (fr - en)));
	*lang_r = p_fr >= 0.5 ? LANG_FR : LANG_EN;
	*confidence_r = p_fr >= 0.5 ? p_fr : 1.0 - p_fr;
	return 0;
}

const char *lang_code(enum lang lang)
{
	switch (lang) {
	case LANG_FR:
		return "fr";
	case LANG_EN:
		return "en";
	default:
		return "other";
	}
}
