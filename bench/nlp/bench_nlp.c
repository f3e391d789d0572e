/* Benchmark of the text pipeline (nlp/) on a folder of raw mails: each mail
 * is parsed once (mime_parse, not timed), then every stage runs over all of
 * them and prints mails/s and µs/mail (CPU time of the thread, the best of
 * the repeats: the machine may be shared), with a digest of its outputs so
 * that two builds can be checked to give byte-identical results.
 *   bench_nlp --corpus DIR [--repeat N] [--stage NAME] */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "feat.h"
#include "fileio.h"
#include "lang.h"
#include "mime.h"
#include "norm.h"
#include "parse.h"
#include "senti.h"
#include "triage.h"
#include "xalloc.h"

#ifndef SOURCE_DIR
#define SOURCE_DIR "."
#endif

#define MAIL_MAX (4 * 1024 * 1024)
#define RESOURCE_MAX (4 * 1024 * 1024)

struct mail {
	char *subject; /* never NULL */
	char *headers; /* triage_mail_headers() */
	char *text;    /* whole body text */
	char *new_text;
	char *subject_text; /* "subject\ntext" as the daemon feeds sentiment */
};

struct corpus {
	struct mail *mails;
	size_t n, cap;
	char **paths;
	size_t n_paths, cap_paths;
	size_t bytes;
};

struct ctx {
	struct feat_ctx *feat;
	struct senti_lexicon *senti_fr, *senti_en;
};

/* FNV-1a over every output, so that a change of behaviour shows. */
struct digest {
	uint64_t h;
};

static void dg_bytes(struct digest *d, const void *p, size_t len)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < len; i++) {
		d->h ^= s[i];
		d->h *= 0x100000001b3ULL;
	}
}

static void dg_str(struct digest *d, const char *s)
{
	dg_bytes(d, s, strlen(s) + 1);
}

static void dg_double(struct digest *d, double v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%.17g", v);
	dg_str(d, buf);
}

static void dg_u64(struct digest *d, uint64_t v)
{
	dg_bytes(d, &v, sizeof(v));
}

static void collect(struct corpus *c, const char *dir)
{
	DIR *dh = opendir(dir);
	if (dh == NULL) {
		fprintf(stderr, "bench_nlp: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	struct dirent *de;
	while ((de = readdir(dh)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(path, &st) < 0) {
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			collect(c, path);
			free(path);
			continue;
		}
		size_t n = strlen(path);
		if (n < 4 || strcmp(path + n - 4, ".txt") != 0) {
			free(path);
			continue;
		}
		c->paths = xgrow(c->paths, &c->cap_paths, c->n_paths + 1, sizeof(*c->paths));
		c->paths[c->n_paths++] = path;
	}
	closedir(dh);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_corpus(struct corpus *c, const char *dir)
{
	collect(c, dir);
	qsort(c->paths, c->n_paths, sizeof(*c->paths), cmp_str);
	for (size_t i = 0; i < c->n_paths; i++) {
		char *raw;
		size_t len;
		const char *e;
		if (file_read_all(c->paths[i], MAIL_MAX, &raw, &len, &e) < 0) {
			fprintf(stderr, "bench_nlp: %s: %s\n", c->paths[i], e);
			continue;
		}
		struct mime_message *msg;
		if (mime_parse(raw, len, NULL, &msg, &e) < 0) {
			free(raw);
			continue;
		}
		c->mails = xgrow(c->mails, &c->cap, c->n + 1, sizeof(*c->mails));
		struct mail *m = &c->mails[c->n++];
		m->subject = xstrdup(msg->subject != NULL ? msg->subject : "");
		m->headers = triage_mail_headers(msg);
		m->text = xstrdup(msg->text);
		m->new_text = xstrdup(msg->new_text);
		m->subject_text = xasprintf("%s\n%s", m->subject, m->new_text);
		c->bytes += strlen(m->text) + strlen(m->headers);
		mime_message_free(&msg);
		free(raw);
	}
}

static void corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->mails[i].subject);
		free(c->mails[i].headers);
		free(c->mails[i].text);
		free(c->mails[i].new_text);
		free(c->mails[i].subject_text);
	}
	for (size_t i = 0; i < c->n_paths; i++)
		free(c->paths[i]);
	free(c->mails);
	free(c->paths);
}

static void digest_bag(struct digest *d, const struct feat_bag *bag)
{
	dg_u64(d, (uint64_t)feat_bag_lang(bag));
	dg_double(d, feat_bag_lang_confidence(bag));
	dg_u64(d, feat_bag_truncated(bag));
	for (size_t i = 0; i < feat_bag_count(bag); i++) {
		const char *f;
		uint32_t n;
		feat_bag_get(bag, i, &f, &n);
		dg_str(d, f);
		dg_u64(d, n);
		const char *surface = feat_bag_surface(bag, f);
		dg_str(d, surface != NULL ? surface : "-");
	}
	for (size_t i = 0; i < feat_bag_term_count(bag); i++) {
		const char *t;
		uint32_t n;
		feat_bag_term(bag, i, &t, &n);
		dg_str(d, t);
		dg_u64(d, n);
	}
}

/* One stage over one mail; returns -1 on error. */
typedef int stage_fn(struct ctx *cx, const struct mail *m, struct digest *d);

static int st_norm(struct ctx *cx, const struct mail *m, struct digest *d)
{
	(void)cx;
	char *out;
	size_t len;
	const char *e;
	if (norm_text(m->text, strlen(m->text), 0, &out, &len, &e) < 0)
		return -1;
	dg_bytes(d, out, len);
	free(out);
	return 0;
}

static int st_lang(struct ctx *cx, const struct mail *m, struct digest *d)
{
	(void)cx;
	enum lang lang;
	double conf;
	const char *e;
	if (lang_guess(m->subject_text, strlen(m->subject_text), &lang, &conf, &e) < 0)
		return -1;
	dg_u64(d, (uint64_t)lang);
	dg_double(d, conf);
	return 0;
}

/* The category features, as triage_run() asks for them. */
static int st_feat(struct ctx *cx, const struct mail *m, struct digest *d)
{
	struct feat_bag *bag;
	const char *e;
	if (feat_extract(cx->feat, m->subject, strlen(m->subject), m->new_text, strlen(m->new_text),
	                 0, &bag, &e) < 0)
		return -1;
	digest_bag(d, bag);
	feat_bag_free(&bag);
	return 0;
}

/* The spam features, as bench/classify asks for them (whole text). */
static int st_feat_mail(struct ctx *cx, const struct mail *m, struct digest *d)
{
	struct feat_bag *bag;
	const char *e;
	if (feat_extract_mail(cx->feat, m->headers, strlen(m->headers), m->text, strlen(m->text),
	                      FEAT_NO_STEM | FEAT_KEEP_STOPWORDS, &bag, &e) < 0)
		return -1;
	digest_bag(d, bag);
	feat_bag_free(&bag);
	return 0;
}

static int st_senti(struct ctx *cx, const struct mail *m, struct digest *d)
{
	struct senti_result r;
	const char *e;
	if (senti_analyse(cx->senti_en, m->subject_text, strlen(m->subject_text), &r, &e) < 0)
		return -1;
	dg_double(d, r.score);
	dg_u64(d, (uint64_t)(r.label + 1));
	for (size_t i = 0; i < r.n_reasons; i++) {
		dg_str(d, r.reasons[i].term);
		dg_double(d, r.reasons[i].contribution);
	}
	return 0;
}

/* What the daemon does per mail (features twice, sentiment). */
static int st_triage(struct ctx *cx, const struct mail *m, struct digest *d)
{
	if (st_feat(cx, m, d) < 0)
		return -1;
	struct feat_bag *bag;
	const char *e;
	if (feat_extract_mail(cx->feat, m->headers, strlen(m->headers), m->new_text,
	                      strlen(m->new_text), FEAT_NO_STEM | FEAT_KEEP_STOPWORDS, &bag,
	                      &e) < 0)
		return -1;
	digest_bag(d, bag);
	feat_bag_free(&bag);
	return st_senti(cx, m, d);
}

static const struct {
	const char *name;
	stage_fn *fn;
	const char *what;
} stages[] = {
    {"norm_text", st_norm, "norm_text(whole text)"},
    {"lang_guess", st_lang, "lang_guess(subject + new text)"},
    {"feat_extract", st_feat, "feat_extract(subject, new text), category flags"},
    {"feat_extract_mail", st_feat_mail, "feat_extract_mail(headers, whole text), spam flags"},
    {"senti_analyse", st_senti, "senti_analyse(subject + new text)"},
    {"triage", st_triage, "feat_extract + feat_extract_mail + senti_analyse (new text)"},
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_resource(const char *rel, size_t *len_r)
{
	_cleanup_free_ char *path = xasprintf("%s/conf/%s", SOURCE_DIR, rel);
	char *data;
	const char *e;
	if (file_read_all(path, RESOURCE_MAX, &data, len_r, &e) < 0) {
		fprintf(stderr, "bench_nlp: %s: %s\n", path, e);
		exit(1);
	}
	return data;
}

static struct senti_lexicon *load_lexicon(const char *rel)
{
	size_t len;
	_cleanup_free_ char *data = read_resource(rel, &len);
	struct senti_lexicon *lex = senti_lexicon_new();
	const char *e;
	if (senti_lexicon_load(lex, data, len, &e) < 0) {
		fprintf(stderr, "bench_nlp: %s: %s\n", rel, e);
		exit(1);
	}
	return lex;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_nlp --corpus DIR [--repeat N] [--stage NAME]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *only = NULL;
	uint32_t repeat = 3;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--corpus") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--stage") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
			if (parse_uint32(argv[++i], &repeat) < 0 || repeat == 0)
				usage();
		} else
			usage();
	}
	if (dir == NULL)
		usage();

	struct ctx cx = {0};
	size_t fr_len, en_len;
	_cleanup_free_ char *stop_fr = read_resource("stopwords/fr.txt", &fr_len);
	_cleanup_free_ char *stop_en = read_resource("stopwords/en.txt", &en_len);
	const char *e;
	if (feat_ctx_new(stop_fr, fr_len, stop_en, en_len, &cx.feat, &e) < 0) {
		fprintf(stderr, "bench_nlp: %s\n", e);
		return 1;
	}
	cx.senti_fr = load_lexicon("lexicons/fr.tsv");
	cx.senti_en = load_lexicon("lexicons/en.tsv");

	struct corpus c = {0};
	double t0 = now();
	load_corpus(&c, dir);
	printf("corpus: %zu mails parsed (%.1f MB of text and headers) in %.2f s CPU\n", c.n,
	       (double)c.bytes / 1e6, now() - t0);
	if (c.n == 0)
		return 1;
	printf("%-18s %10s %10s  %-16s  %s\n", "stage", "mails/s", "us/mail", "digest", "what");
	for (size_t s = 0; s < ARRAY_SIZE(stages); s++) {
		if (only != NULL && strcmp(only, stages[s].name) != 0)
			continue;
		/* The best of the repeats: the machine is shared. */
		double best = 0;
		struct digest d = {0};
		for (uint32_t r = 0; r < repeat; r++) {
			d.h = 0xcbf29ce484222325ULL;
			double start = now();
			for (size_t i = 0; i < c.n; i++)
				if (stages[s].fn(&cx, &c.mails[i], &d) < 0) {
					fprintf(stderr, "bench_nlp: %s failed on mail %zu\n",
					        stages[s].name, i);
					return 1;
				}
			double dt = now() - start;
			if (r == 0 || dt < best)
				best = dt;
		}
		printf("%-18s %10.0f %10.1f  %016" PRIx64 "  %s\n", stages[s].name,
		       (double)c.n / best, best * 1e6 / (double)c.n, d.h, stages[s].what);
	}
	corpus_free(&c);
	senti_lexicon_free(&cx.senti_fr);
	senti_lexicon_free(&cx.senti_en);
	feat_ctx_free(&cx.feat);
	return 0;
}
