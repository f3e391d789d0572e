/* triagectl classify, sentiment, recategorize and model train|predict|eval:
 * the triage seen from the command line, and the classifier trained and
 * measured on labelled raw mail outside the daemon. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "config.h"
#include "correct.h"
#include "ctl.h"
#include "view.h"
#include "feat.h"
#include "fileio.h"
#include "lang.h"
#include "mime.h"
#include "nb.h"
#include "parse.h"
#include "senti.h"
#include "store.h"
#include "strbuf.h"
#include "triage.h"
#include "xalloc.h"

#define MAIL_MAX (64u << 20)      /* one mail read from stdin or a file */
#define TSV_MAX (256u << 20)      /* a labels / list file */
#define TSV_LINE_MAX 4096         /* one line of it */
#define SENTI_LINE_MAX (1u << 20) /* one line of `sentiment` input */
#define MODEL_FILE_MAX (1u << 30)
#define RESOURCE_MAX (8u << 20)
#define FOLDS_MAX 100
#define PASSES_MAX 1000
#define WORKERS_MAX 16
#define CALIBRATION_MIN 10 /* held-out mails below which the default temperature stays */

/* ---- shared helpers ---- */

static void print_json_line(cJSON *json)
{
	char *text = cJSON_PrintUnformatted(json);
	puts(text);
	cJSON_free(text);
	cJSON_Delete(json);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Adds a JSON text as parsed JSON (null when absent or unreadable). */
static void add_raw_json(cJSON *o, const char *key, const char *json)
{
	cJSON *v = json ? cJSON_Parse(json) : NULL;
	cJSON_AddItemToObject(o, key, v ? v : cJSON_CreateNull());
}

static int read_stdin_all(struct strbuf *sb, size_t limit)
{
	strbuf_init(sb, limit);
	char chunk[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
		if (strbuf_append(sb, chunk, (size_t)n) < 0)
			break;
	return n < 0 ? -1 : 0;
}

/* The model commands need the nlp section only: a configuration when one
 * is given (-c, $TRIAGED_CONFIG, --db, /etc), the defaults otherwise. */
static struct config *model_config(struct ctl *ctl)
{
	if (ctl->config_path != NULL || ctl->db_path != NULL || getenv("TRIAGED_CONFIG") != NULL ||
	    access(TRIAGED_SYSCONFDIR "/triaged.json", R_OK) == 0)
		return ctl_config(ctl);
	if (ctl->cfg == NULL)
		ctl->cfg = config_default(":memory:");
	return ctl->cfg;
}

static struct feat_ctx *open_feat(const struct config *cfg)
{
	_cleanup_free_ char *fr_path = xasprintf("%s/fr.txt", cfg->nlp.stopwords_dir);
	_cleanup_free_ char *en_path = xasprintf("%s/en.txt", cfg->nlp.stopwords_dir);
	_cleanup_free_ char *fr = NULL, *en = NULL;
	size_t fr_len = 0, en_len = 0;
	const char *e;
	struct feat_ctx *ctx;
	if (file_read_all(fr_path, RESOURCE_MAX, &fr, &fr_len, &e) < 0 ||
	    file_read_all(en_path, RESOURCE_MAX, &en, &en_len, &e) < 0) {
		ctl_error("stop words in %s: %s", cfg->nlp.stopwords_dir, e);
		return NULL;
	}
	if (feat_ctx_new(fr, fr_len, en, en_len, &ctx, &e) < 0) {
		ctl_error("%s", e);
		return NULL;
	}
	return ctx;
}

static struct senti_lexicon *open_lexicon(const struct config *cfg, const char *lang)
{
	_cleanup_free_ char *path = xasprintf("%s/%s.tsv", cfg->nlp.lexicon_dir, lang);
	_cleanup_free_ char *data = NULL;
	size_t len;
	const char *e;
	if (file_read_all(path, RESOURCE_MAX, &data, &len, &e) < 0) {
		ctl_error("sentiment lexicon %s: %s", path, e);
		return NULL;
	}
	struct senti_lexicon *lex = senti_lexicon_new();
	if (senti_lexicon_load(lex, data, len, &e) < 0) {
		ctl_error("sentiment lexicon %s: %s", path, e);
		senti_lexicon_free(&lex);
	}
	return lex;
}

/* ---- triagectl classify ---- */

static void print_classification(const struct triage_result *r, double threshold)
{
	printf("language:  %s (confidence %.2f)\n", r->language, r->language_confidence);
	if (r->category != NULL) {
		printf("category:  %s (confidence %.2f, runner-up %s)%s\n", r->category,
		       r->category_confidence, r->category_runner_up ? r->category_runner_up : "-",
		       r->low_confidence ? ", below the confidence threshold: a human decides"
		                         : "");
		printf("           %s\n", r->category_explanation);
	} else {
		printf("category:  none (the model has fewer than two categories)\n");
	}
	if (r->spam_explanation != NULL) {
		printf("spam:      %s (probability %.3f, threshold %.2f)\n", r->spam ? "yes" : "no",
		       r->spam_probability, threshold);
		printf("           %s\n", r->spam_explanation);
	}
	printf("sentiment: %s (%+.2f)\n", r->sentiment_label, r->sentiment);
	printf("           %s\n", r->sentiment_explanation);
}

static cJSON *classification_json(const struct triage_result *r, double threshold)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *l = cJSON_AddObjectToObject(o, "language");
	cJSON_AddStringToObject(l, "code", r->language);
	cJSON_AddNumberToObject(l, "confidence", r->language_confidence);
	if (r->category != NULL) {
		cJSON *c = cJSON_AddObjectToObject(o, "category");
		cJSON_AddStringToObject(c, "label", r->category);
		cJSON_AddNumberToObject(c, "confidence", r->category_confidence);
		cJSON_AddStringToObject(c, "runner_up", r->category_runner_up);
		cJSON_AddBoolToObject(c, "low_confidence", r->low_confidence);
		cJSON_AddStringToObject(c, "explanation", r->category_explanation);
		add_raw_json(c, "detail", r->category_detail);
	} else {
		cJSON_AddNullToObject(o, "category");
	}
	if (r->spam_explanation != NULL) {
		cJSON *s = cJSON_AddObjectToObject(o, "spam");
		cJSON_AddBoolToObject(s, "spam", r->spam);
		cJSON_AddNumberToObject(s, "probability", r->spam_probability);
		cJSON_AddNumberToObject(s, "threshold", threshold);
		cJSON_AddStringToObject(s, "explanation", r->spam_explanation);
		add_raw_json(s, "detail", r->spam_detail);
	} else {
		cJSON_AddNullToObject(o, "spam");
	}
	cJSON *m = cJSON_AddObjectToObject(o, "sentiment");
	cJSON_AddNumberToObject(m, "score", r->sentiment);
	cJSON_AddStringToObject(m, "label", r->sentiment_label);
	cJSON_AddStringToObject(m, "explanation", r->sentiment_explanation);
	add_raw_json(m, "words", r->sentiment_detail);
	return o;
}

int ctl_cmd_classify(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl classify [--json] < MAIL\n"
	    "Triages one raw mail read from standard input as the daemon would: language,\n"
	    "category with its confidence and reasons, spam verdict with its probability,\n"
	    "sentiment with its words. Stores no ticket. The models are the database's\n"
	    "(seeded there from the training samples if it has none yet).\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc > 1) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct config *cfg = ctl_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	struct strbuf raw;
	if (read_stdin_all(&raw, MAIL_MAX) < 0) {
		ctl_error("reading standard input failed");
		strbuf_free(&raw);
		return CTL_FAIL;
	}
	struct mime_message *msg = NULL;
	const char *error;
	if (raw.len == 0 || mime_parse(raw.data, raw.len, NULL, &msg, &error) < 0) {
		ctl_error("no readable mail on standard input");
		strbuf_free(&raw);
		return CTL_DATAERR;
	}
	strbuf_free(&raw);
	struct store *st = ctl_store(ctl);
	struct triage *tr = NULL;
	if (st == NULL) {
		mime_message_free(&msg);
		return CTL_FAIL;
	}
	if (triage_open(st, cfg, &tr, &error) < 0) {
		ctl_error("%s", error);
		mime_message_free(&msg);
		return CTL_CONFIG;
	}
	struct triage_result res;
	int rc = CTL_OK;
	if (triage_run_mail(tr, msg, &res, &error) < 0) {
		ctl_error("triage failed: %s", error);
		rc = CTL_FAIL;
	} else {
		if (ctl->json)
			ctl_print_json(classification_json(&res, cfg->nlp.spam_threshold));
		else
			print_classification(&res, cfg->nlp.spam_threshold);
		triage_result_clear(&res);
	}
	triage_free(&tr);
	mime_message_free(&msg);
	return rc;
}

/* ---- triagectl sentiment ---- */

/* Reads one line (without its end) of at most max bytes, the rest of a
 * longer line skipped. 1 line, 0 end of input. */
static int read_line(FILE *in, struct strbuf *line, size_t max)
{
	strbuf_reset(line);
	line->limit = max;
	int c;
	bool any = false;
	while ((c = getc(in)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		strbuf_putc(line, (char)c);
	}
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		line->data[--line->len] = '\0';
	return any ? 1 : 0;
}

int ctl_cmd_sentiment(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl sentiment [--lang fr|en] [--json] < TEXTS\n"
	    "Scores one text per input line: score in [-1, 1], label, and the words that\n"
	    "made it (one line out per line in; with --json one object per line). Without\n"
	    "--lang the language of each line is guessed (English when neither).\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
	    {"lang", required_argument, NULL, 'l'},
	    {0},
	};
	const char *lang = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (strcmp(optarg, "fr") != 0 && strcmp(optarg, "en") != 0) {
				ctl_error("--lang: fr or en");
				return CTL_USAGE;
			}
			lang = optarg;
			break;
		default:
			fputs(usage, stderr);
			return CTL_USAGE;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct config *cfg = model_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	struct senti_lexicon *fr = open_lexicon(cfg, "fr");
	struct senti_lexicon *en = fr ? open_lexicon(cfg, "en") : NULL;
	if (en == NULL) {
		senti_lexicon_free(&fr);
		return CTL_CONFIG;
	}
	struct strbuf line = STRBUF_INIT;
	int rc = CTL_OK;
	while (read_line(stdin, &line, SENTI_LINE_MAX) == 1) {
		const char *text = strbuf_str(&line);
		const char *code = lang;
		enum lang guessed;
		double conf;
		const char *e;
		if (code == NULL) {
			code = lang_guess(text, line.len, &guessed, &conf, &e) == 0 &&
			               guessed == LANG_FR
			           ? "fr"
			           : "en";
		}
		struct senti_result r;
		if (senti_analyse(strcmp(code, "fr") == 0 ? fr : en, text, line.len, &r, &e) < 0) {
			ctl_error("sentiment: %s", e);
			rc = CTL_DATAERR;
			continue;
		}
		if (ctl->json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "score", round(r.score * 1000) / 1000);
			cJSON_AddStringToObject(o, "label", senti_label_name(r.label));
			cJSON_AddStringToObject(o, "lang", code);
			cJSON *words = cJSON_AddArrayToObject(o, "words");
			for (size_t i = 0; i < r.n_reasons; i++) {
				cJSON *w = cJSON_CreateObject();
				cJSON_AddStringToObject(w, "term", r.reasons[i].term);
				cJSON_AddNumberToObject(w, "contribution",
				                        round(r.reasons[i].contribution * 1000) /
				                            1000);
				cJSON_AddItemToArray(words, w);
			}
			print_json_line(o);
		} else {
			printf("%+.3f\t%s", r.score, senti_label_name(r.label));
			for (size_t i = 0; i < r.n_reasons; i++)
				printf("%s%s (%+.1f)", i ? ", " : "\t", r.reasons[i].term,
				       r.reasons[i].contribution);
			putchar('\n');
		}
	}
	strbuf_free(&line);
	senti_lexicon_free(&fr);
	senti_lexicon_free(&en);
	return rc;
}

/* ---- triagectl spam and recategorize: an agent's correction ---- */

/* What both commands read: [--agent agent:EMAIL] N VALUE, then the
 * configuration, the store and a triage engine on them. */
struct correction_cli {
	char *agent;
	int64_t ticket;
	const char *value;
	struct config *cfg;
	struct store *st;
	struct triage *tr;
};

static void correction_cli_end(struct correction_cli *c)
{
	free(c->agent);
	triage_free(&c->tr);
}

/* CTL_OK with everything open in c, or the exit code (usage printed).
 * values: the words VALUE may be (NULL-terminated), or NULL for any. */
static int correction_cli_begin(struct ctl *ctl, int argc, char **argv, const char *usage,
                                const char *const *values, struct correction_cli *c)
{
	static const struct option options[] = {
	    {"agent", required_argument, NULL, 'a'},
	    {0},
	};
	const char *agent_opt = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt != 'a') {
			fputs(usage, stderr);
			return CTL_USAGE;
		}
		agent_opt = optarg;
	}
	if (argc - optind != 2 || parse_int64(argv[optind], 1, INT64_MAX, &c->ticket) < 0) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	c->value = argv[optind + 1];
	for (const char *const *v = values; v != NULL; v++) {
		if (*v == NULL) {
			fputs(usage, stderr);
			return CTL_USAGE;
		}
		if (strcmp(*v, c->value) == 0)
			break;
	}
	c->cfg = ctl_config(ctl);
	if (c->cfg == NULL)
		return CTL_CONFIG;
	c->st = ctl_store(ctl);
	if (c->st == NULL)
		return CTL_FAIL;
	const char *error;
	if (triage_open(c->st, c->cfg, &c->tr, &error) < 0) {
		ctl_error("%s", error);
		return CTL_CONFIG;
	}
	c->agent = agent_opt ? xstrdup(agent_opt) : ctl_cli_actor();
	return CTL_OK;
}

int ctl_cmd_spam(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl spam [--agent agent:EMAIL] N yes|no\n"
	    "Says whether ticket N is spam: \"yes\" marks it spam and closes it, \"no\"\n"
	    "marks it a customer's mail and reopens it if it was closed. The spam model\n"
	    "learns the ticket's first message at once; the audit log records the\n"
	    "correction (as cli:USER unless --agent).\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const char *const verdicts[] = {"yes", "no", NULL};
	struct correction_cli c = {0};
	int rc = correction_cli_begin(ctl, argc, argv, usage, verdicts, &c);
	if (rc != CTL_OK) {
		correction_cli_end(&c);
		return rc;
	}
	bool spam = strcmp(c.value, "yes") == 0;
	enum ticket_status before, after;
	const char *error;
	rc = correct_spam(c.st, c.cfg, c.tr, c.agent, c.ticket, spam, &before, &after, &error);
	correction_cli_end(&c);
	if (rc < 0) {
		ctl_error("%s", error);
		return rc == ACTION_NOT_FOUND ? CTL_NOTFOUND : CTL_FAIL;
	}
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "ticket", (double)c.ticket);
		cJSON_AddBoolToObject(o, "spam", spam);
		cJSON_AddStringToObject(o, "old_status", ticket_status_name(before));
		cJSON_AddStringToObject(o, "status", ticket_status_name(after));
		ctl_print_json(o);
	} else {
		printf("ticket %lld: %s", (long long)c.ticket, spam ? "spam" : "not spam");
		if (before != after)
			printf("; status %s -> %s", ticket_status_name(before), ticket_status_name(after));
		printf("; learned\n");
	}
	return CTL_OK;
}

int ctl_cmd_recategorize(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl recategorize [--agent agent:EMAIL] N CATEGORY\n"
	    "Corrects the category of ticket N: sets it (and the queue of that name, if\n"
	    "one exists), teaches the model at once with the ticket's first message, and\n"
	    "records the correction in the audit log (as cli:USER unless --agent).\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	struct correction_cli c = {0};
	int rc = correction_cli_begin(ctl, argc, argv, usage, NULL, &c);
	if (rc != CTL_OK) {
		correction_cli_end(&c);
		return rc;
	}
	int64_t ticket = c.ticket;
	const char *category = c.value;
	const char *error;
	struct correct_result res;
	rc = correct_category(c.st, c.cfg, c.tr, c.agent, ticket, category, &res, &error);
	correction_cli_end(&c);
	if (rc < 0) {
		ctl_error("%s", error);
		return rc == ACTION_NOT_FOUND ? CTL_NOTFOUND : CTL_FAIL;
	}
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "ticket", (double)ticket);
		if (res.old_category)
			cJSON_AddStringToObject(o, "from", res.old_category);
		else
			cJSON_AddNullToObject(o, "from");
		cJSON_AddStringToObject(o, "to", category);
		cJSON_AddNumberToObject(o, "old_confidence", res.old_confidence);
		if (res.new_queue)
			cJSON_AddStringToObject(o, "queue", res.new_queue);
		else
			cJSON_AddNullToObject(o, "queue");
		ctl_print_json(o);
	} else {
		printf("ticket %lld: category %s -> %s (was at confidence %.2f)", (long long)ticket,
		       res.old_category ? res.old_category : "(none)", category,
		       res.old_confidence);
		if (res.new_queue)
			printf("; queue %s -> %s", res.old_queue ? res.old_queue : "(none)",
			       res.new_queue);
		printf("; learned\n");
	}
	correct_result_clear(&res);
	return CTL_OK;
}

/* ---- triagectl model: labelled raw mail ---- */

enum task { TASK_CATEGORY, TASK_SPAM };

struct model_opts {
	enum task task;
	bool task_given;
	bool flags_given;
	struct nb_options nb;
	const char *model_path;
	const char *tsv_path;
	unsigned folds;
	unsigned flags;   /* feat.h */
	bool whole_text;  /* body: the whole text instead of the new text */
	bool html;        /* the HTML part as received joins the body (its markup too) */
	bool header_text; /* the decoded header fields join the body as words */
	unsigned passes;  /* thick-threshold training rounds (nb_train_thick) */
	double margin;
};

struct example {
	char *path;  /* as written in the TSV */
	char *label; /* NULL for predict input without one */
	struct feat_bag *bag;
};

struct examples {
	struct example *items;
	size_t n, cap;
	size_t unreadable;
};

static void examples_free(struct examples *ex)
{
	for (size_t i = 0; i < ex->n; i++) {
		free(ex->items[i].path);
		free(ex->items[i].label);
		feat_bag_free(&ex->items[i].bag);
	}
	free(ex->items);
	memset(ex, 0, sizeof(*ex));
}

/* The features of one raw mail for the task: spam reads the decoded header
 * fields too (relays, senders, mailers, the MIME structure), the category
 * the subject and the new text only, exactly like the daemon (triage.c).
 * With reuse, the features go into that bag (emptied first) and *bag_r is
 * reuse; otherwise *bag_r is a new bag. joined (may be NULL) is a buffer the
 * caller keeps from mail to mail for the body with HTML and header text. */
static int mail_features(struct feat_ctx *feat, const struct model_opts *mo, const char *raw,
                         size_t len, struct feat_bag *reuse, struct strbuf *joined,
                         struct feat_bag **bag_r, const char **error_r)
{
	struct mime_message *msg;
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_attachment_bytes = 0; /* sizes and types are enough */
	lim.no_text_split = mo->whole_text;
	lim.text_only = true; /* only header fields and text are read below */
	if (mime_parse(raw, len, &lim, &msg, error_r) < 0)
		return -1;
	const char *body = mo->whole_text ? msg->text : msg->new_text;
	size_t body_len = strlen(body);
	_cleanup_free_ char *headers = triage_mail_headers(msg);
	size_t headers_len = strlen(headers);
	struct strbuf own = STRBUF_INIT;
	if (joined == NULL)
		joined = &own;
	if (mo->html || mo->header_text) {
		strbuf_reset(joined);
		strbuf_append(joined, body, body_len);
		/* appended, not printf'd: printf walks a long %s a byte at a time */
		if (mo->html && msg->html != NULL) {
			strbuf_putc(joined, '\n');
			strbuf_puts(joined, msg->html);
		}
		if (mo->header_text) {
			strbuf_putc(joined, '\n');
			strbuf_append(joined, headers, headers_len);
		}
		body = strbuf_str(joined);
		body_len = joined->len;
	}
	/* a model needs no search terms, these bags are not explained, and
	 * no two mails of a list share a body worth caching */
	unsigned flags = mo->flags | FEAT_FEATURES_ONLY | FEAT_NO_SURFACES | FEAT_NO_BODY_CACHE;
	const char *subject = msg->subject ? msg->subject : "";
	struct feat_bag *bag = reuse != NULL ? reuse : feat_bag_new();
	int ret = mo->task == TASK_SPAM
	              ? feat_extract_mail_into(feat, headers, headers_len, body, body_len, flags,
	                                       bag, error_r)
	              : feat_extract_into(feat, subject, strlen(subject), body, body_len, flags,
	                                  bag, error_r);
	if (ret == 0)
		*bag_r = bag;
	else if (reuse == NULL)
		feat_bag_free(&bag);
	strbuf_free(&own);
	mime_message_free(&msg);
	return ret;
}

/* The folder of the last mail a worker opened, held open: the mails of a
 * list share a few folders, and opening a name in a held folder spares the
 * kernel the walk of the whole path (a third of the time of an open). */
struct mail_dir {
	struct strbuf path; /* with its final '/' */
	int fd;             /* O_PATH, or -1 */
};

static void mail_dir_close(struct mail_dir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	strbuf_free(&d->path);
}

/* open(path, O_RDONLY) through dir when it can: a path without a folder or
 * with an empty file name, or a folder that does not open, goes to open()
 * itself (same file, same errors). */
static int mail_open(struct mail_dir *dir, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (dir == NULL || slash == NULL || slash[1] == '\0')
		return open(path, O_RDONLY | O_CLOEXEC);
	size_t dlen = (size_t)(slash + 1 - path);
	if (dir->fd < 0 || dir->path.len != dlen || memcmp(dir->path.data, path, dlen) != 0) {
		if (dir->fd >= 0)
			close(dir->fd);
		strbuf_reset(&dir->path);
		strbuf_append(&dir->path, path, dlen);
		dir->fd = open(strbuf_str(&dir->path), O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir->fd < 0)
			return open(path, O_RDONLY | O_CLOEXEC);
	}
	return openat(dir->fd, slash + 1, O_RDONLY | O_CLOEXEC);
}

/* One mail file into a buffer reused from mail to mail: one fstat and
 * usually one read (thousands of mails in a row). dir may be NULL. */
static int read_mail(const char *path, struct mail_dir *dir, char **buf, size_t *cap,
                     size_t *len_r, const char **error_r)
{
	int fd = mail_open(dir, path);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	struct stat st;
	size_t len = 0;
	int ret = -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = "not a regular file";
		goto out;
	}
	if ((uint64_t)st.st_size > MAIL_MAX) {
		*error_r = "larger than the mail limit";
		goto out;
	}
	/* One byte more than the size: a read that fills it means the file grew. */
	size_t want = (size_t)st.st_size + 1;
	if (*cap < want + 1) {
		free(*buf);
		*cap = want + 1 > 65536 ? want + 1 : 65536;
		*buf = xmalloc(*cap);
	}
	for (;;) {
		if (len == *cap - 1) {
			if (*cap - 1 >= MAIL_MAX) {
				*error_r = "larger than the mail limit";
				goto out;
			}
			*buf = xrealloc(*buf, *cap * 2);
			*cap *= 2;
		}
		ssize_t n = read(fd, *buf + len, *cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = "read error";
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		/* A regular file that gave fewer bytes than asked, and its size,
		 * is at its end: no read of 0 bytes to learn it. */
		if (len == (size_t)st.st_size && len < *cap - 1)
			break;
	}
	(*buf)[len] = '\0';
	*len_r = len;
	ret = 0;
out:
	close(fd);
	return ret;
}

/* A mail to read: one line of the TSV, then what became of it. */
struct job {
	char *line;  /* the path as written in the TSV */
	char *path;  /* resolved */
	char *label; /* NULL when the line has none */
	struct feat_bag *bag;
	char *error;  /* the mail was skipped, and why */
	char *output; /* what the per-mail work printed, if any */
	bool fatal;   /* the work failed: stop */
};

/* Optional work on each mail's features, in the worker thread that read it
 * (the model is shared read-only): it reads job->bag, which belongs to the
 * worker and serves its next mail, and sets job->output or job->error with
 * job->fatal. */
typedef void job_work_t(void *ctx, struct job *job);

/* The work of read_examples() on each mail, if any. */
struct job_work {
	job_work_t *run;
	void *ctx;
	/* the work needs no feature strings: hashed bags (feat_bag_new_hashed),
	 * which spare the interning of every token */
	bool hashed_bags;
};

struct pool {
	const struct config *cfg;
	const struct model_opts *mo;
	struct job *jobs;
	size_t n;
	atomic_size_t next;
	const struct job_work *work; /* NULL: the bags are kept */
	struct feat_ctx *first_feat; /* the caller's, for the first worker */
	atomic_bool failed;          /* a worker could not start */
};

struct worker {
	struct pool *pool;
	struct feat_ctx *feat;
	struct feat_bag *bag; /* reused from mail to mail when there is work */
	struct strbuf joined; /* the body mail_features() builds, reused */
	pthread_t thread;
	bool started;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	_cleanup_free_ char *mail = NULL;
	size_t mail_cap = 0;
	struct mail_dir dir = {.path = STRBUF_INIT, .fd = -1};
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		struct job *job = &p->jobs[i];
		size_t raw_len;
		const char *e;
		if (read_mail(job->path, &dir, &mail, &mail_cap, &raw_len, &e) < 0 ||
		    mail_features(w->feat, p->mo, mail, raw_len, w->bag, &w->joined, &job->bag,
		                  &e) < 0) {
			job->error = xstrdup(e);
			continue;
		}
		if (p->work != NULL) {
			p->work->run(p->work->ctx, job);
			job->bag = NULL; /* the worker's */
		}
	}
	mail_dir_close(&dir);
	return NULL;
}

/* Threads for bulk reading: as many as processors, within reason. */
static unsigned worker_count(size_t jobs)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX : (unsigned)cpus;
	/* a thread pays for its own stop words and stemmers */
	while (n > 1 && jobs / n < 64)
		n--;
	return n;
}

/* Reads, parses and extracts the features of every job, on several threads
 * (each with its own feature context: Snowball is not thread-safe). */
static int run_jobs(struct pool *p)
{
	unsigned n = worker_count(p->n);
	_cleanup_free_ struct worker *w = xcalloc(n, sizeof(*w));
	int ret = 0;
	for (unsigned i = 0; i < n; i++) {
		w[i].pool = p;
		if (p->work != NULL)
			w[i].bag = p->work->hashed_bags ? feat_bag_new_hashed() : feat_bag_new();
		w[i].feat = i == 0 ? p->first_feat : open_feat(p->cfg);
		if (w[i].feat == NULL) {
			ret = -1;
			break;
		}
		if (i > 0) {
			if (pthread_create(&w[i].thread, NULL, worker_run, &w[i]) != 0) {
				ctl_error("cannot start a thread: %s", strerror(errno));
				ret = -1;
				break;
			}
			w[i].started = true;
		}
	}
	if (ret == 0)
		worker_run(&w[0]);
	else
		atomic_store(&p->next, p->n); /* the started ones stop at once */
	for (unsigned i = 0; i < n; i++) {
		if (i > 0) {
			if (w[i].started)
				pthread_join(w[i].thread, NULL);
			feat_ctx_free(&w[i].feat);
		}
		feat_bag_free(&w[i].bag);
		strbuf_free(&w[i].joined);
	}
	return ret;
}

static void jobs_free(struct job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].line);
		free(jobs[i].path);
		free(jobs[i].label);
		feat_bag_free(&jobs[i].bag);
		free(jobs[i].error);
		free(jobs[i].output);
	}
	free(jobs);
}

/* Reads "path<TAB>label" lines (label optional unless need_label), parses
 * each mail and keeps its features in ex, or, with work (may be NULL), hands
 * them to it and
 * prints its output, in the order of the TSV. Relative paths are relative to
 * the TSV's folder. An unreadable mail is reported and skipped. */
static int read_examples(struct feat_ctx *feat, const struct config *cfg,
                         const struct model_opts *mo, bool need_label, struct examples *ex,
                         const struct job_work *work, size_t *output_r)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	const char *e;
	if (file_read_all(mo->tsv_path, TSV_MAX, &data, &len, &e) < 0) {
		ctl_error("%s: %s", mo->tsv_path, e);
		return -1;
	}
	_cleanup_free_ char *dir = xstrdup(mo->tsv_path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL)
		slash[1] = '\0';
	else
		dir[0] = '\0';
	struct job *jobs = NULL;
	size_t n = 0, cap = 0;
	int ret = -1;
	unsigned line_no = 0;
	for (char *line = data; line < data + len;) {
		char *end = memchr(line, '\n', (size_t)(data + len - line));
		if (end == NULL)
			end = data + len;
		*end = '\0';
		line_no++;
		size_t llen = (size_t)(end - line);
		if (llen > 0 && line[llen - 1] == '\r')
			line[--llen] = '\0';
		char *next = end + 1;
		if (llen == 0 || line[0] == '#') {
			line = next;
			continue;
		}
		if (llen > TSV_LINE_MAX) {
			ctl_error("%s:%u: line longer than %u bytes", mo->tsv_path, line_no,
			          TSV_LINE_MAX);
			goto out;
		}
		char *tab = strchr(line, '\t');
		char *label = NULL;
		if (tab != NULL) {
			*tab = '\0';
			label = tab + 1;
			char *tab2 = strchr(label, '\t');
			if (tab2 != NULL)
				*tab2 = '\0';
		}
		if (need_label &&
		    (label == NULL || *label == '\0' || strlen(label) > NB_MAX_LABEL_LEN)) {
			ctl_error("%s:%u: expected path<TAB>label (label of 1 to %d bytes)",
			          mo->tsv_path, line_no, NB_MAX_LABEL_LEN);
			goto out;
		}
		jobs = xgrow(jobs, &cap, n + 1, sizeof(*jobs));
		jobs[n++] = (struct job){
		    .line = xstrdup(line),
		    .path = line[0] == '/' ? xstrdup(line) : xasprintf("%s%s", dir, line),
		    .label = label != NULL && *label != '\0' ? xstrdup(label) : NULL,
		};
		line = next;
	}
	size_t outputs = 0;
	struct pool pool = {
	    .cfg = cfg, .mo = mo, .jobs = jobs, .n = n, .work = work, .first_feat = feat};
	if (run_jobs(&pool) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct job *job = &jobs[i];
		if (job->fatal) {
			ctl_error("%s: %s", job->path, job->error);
			goto out;
		}
		if (job->error != NULL) {
			ctl_error("%s: %s (skipped)", job->path, job->error);
			ex->unreadable++;
			continue;
		}
		if (job->output != NULL) {
			fputs(job->output, stdout);
			outputs++;
			continue;
		}
		if (job->bag == NULL)
			continue;
		ex->items = xgrow(ex->items, &ex->cap, ex->n + 1, sizeof(*ex->items));
		ex->items[ex->n++] = (struct example){
		    .path = TAKE_PTR(job->line),
		    .label = TAKE_PTR(job->label),
		    .bag = TAKE_PTR(job->bag),
		};
	}
	if (output_r != NULL)
		*output_r = outputs;
	ret = 0;
out:
	jobs_free(jobs, n);
	return ret;
}

/* The feature options of a model, kept in its file (nb_caller_byte) so that
 * predict reads mail as training did. FEAT_OPTS_RECORDED: they were kept
 * (files from before have 0). */
enum {
	FEAT_OPT_NO_STEM = 1 << 0,
	FEAT_OPT_STOPWORDS = 1 << 1,
	FEAT_OPT_BIGRAMS = 1 << 2,
	FEAT_OPT_WHOLE_TEXT = 1 << 3,
	FEAT_OPT_HTML = 1 << 4,
	FEAT_OPT_HEADER_TEXT = 1 << 5,
	FEAT_OPT_SPAM = 1 << 6,
	FEAT_OPTS_RECORDED = 1 << 7,
};

static uint8_t feature_opts_encode(const struct model_opts *mo)
{
	return (uint8_t)(FEAT_OPTS_RECORDED | (mo->flags & FEAT_NO_STEM ? FEAT_OPT_NO_STEM : 0) |
	                 (mo->flags & FEAT_KEEP_STOPWORDS ? FEAT_OPT_STOPWORDS : 0) |
	                 (mo->flags & FEAT_BIGRAMS ? FEAT_OPT_BIGRAMS : 0) |
	                 (mo->whole_text ? FEAT_OPT_WHOLE_TEXT : 0) | (mo->html ? FEAT_OPT_HTML : 0) |
	                 (mo->header_text ? FEAT_OPT_HEADER_TEXT : 0) |
	                 (mo->task == TASK_SPAM ? FEAT_OPT_SPAM : 0));
}

static void feature_opts_decode(uint8_t b, struct model_opts *mo)
{
	mo->task = b & FEAT_OPT_SPAM ? TASK_SPAM : TASK_CATEGORY;
	mo->flags = (b & FEAT_OPT_NO_STEM ? FEAT_NO_STEM : 0) |
	            (b & FEAT_OPT_STOPWORDS ? FEAT_KEEP_STOPWORDS : 0) |
	            (b & FEAT_OPT_BIGRAMS ? FEAT_BIGRAMS : 0);
	mo->whole_text = (b & FEAT_OPT_WHOLE_TEXT) != 0;
	mo->html = (b & FEAT_OPT_HTML) != 0;
	mo->header_text = (b & FEAT_OPT_HEADER_TEXT) != 0;
}

/* "--task spam --features no-stem,stopwords,..." for messages. */
static void feature_opts_describe(uint8_t b, char *buf, size_t size)
{
	snprintf(buf, size, "--task %s --features %s,%s,%s%s%s%s",
	         b & FEAT_OPT_SPAM ? "spam" : "category",
	         b & FEAT_OPT_NO_STEM ? "no-stem" : "stem",
	         b & FEAT_OPT_STOPWORDS ? "stopwords" : "no-stopwords",
	         b & FEAT_OPT_WHOLE_TEXT ? "whole-text" : "new-text", b & FEAT_OPT_HTML ? ",html" : "",
	         b & FEAT_OPT_HEADER_TEXT ? ",header-text" : "", b & FEAT_OPT_BIGRAMS ? ",bigrams" : "");
}

static int train_examples(struct nb_model *model, const struct model_opts *mo,
                          const struct examples *ex, bool (*keep)(size_t i, const void *ctx),
                          const void *ctx, const char **error_r)
{
	_cleanup_free_ const struct feat_bag **bags = xcalloc(ex->n + 1, sizeof(*bags));
	_cleanup_free_ const char **labels = xcalloc(ex->n + 1, sizeof(*labels));
	size_t n = 0;
	for (size_t i = 0; i < ex->n; i++) {
		if (keep != NULL && !keep(i, ctx))
			continue;
		bags[n] = ex->items[i].bag;
		labels[n++] = ex->items[i].label;
	}
	return nb_train_thick(model, bags, labels, n, mo->passes, mo->margin, NULL, error_r);
}

static bool not_held_out(size_t i, const void *ctx)
{
	(void)ctx;
	return i % 5 != 4;
}

/* Fits the temperature on every fifth mail, held out from a probe model
 * trained on the others (as the daemon does with its seeds). */
static int calibrate(const struct model_opts *mo, const struct examples *ex, double *t_r,
                     size_t *held_r, const char **error_r)
{
	struct nb_model *probe;
	if (nb_new(&mo->nb, &probe, error_r) < 0)
		return -1;
	_cleanup_free_ const struct feat_bag **held = xcalloc(ex->n / 5 + 1, sizeof(*held));
	_cleanup_free_ const char **held_labels = xcalloc(ex->n / 5 + 1, sizeof(*held_labels));
	size_t n = 0;
	for (size_t i = 4; i < ex->n; i += 5) {
		held[n] = ex->items[i].bag;
		held_labels[n++] = ex->items[i].label;
	}
	int ret = 0;
	*held_r = n;
	*t_r = mo->nb.temperature;
	if (n >= CALIBRATION_MIN) {
		ret = train_examples(probe, mo, ex, not_held_out, NULL, error_r);
		if (ret == 0)
			ret = nb_fit_temperature(probe, held, held_labels, n, t_r, error_r);
	}
	nb_free(&probe);
	return ret;
}

static int model_train(struct ctl *ctl, struct model_opts *mo)
{
	(void)ctl;
	struct config *cfg = model_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	struct feat_ctx *feat = open_feat(cfg);
	if (feat == NULL)
		return CTL_CONFIG;
	struct examples ex = {0};
	double t0 = now_seconds();
	int rc = CTL_FAIL;
	struct nb_model *model = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len;
	const char *e;
	if (read_examples(feat, cfg, mo, true, &ex, NULL, NULL) < 0) {
		rc = CTL_DATAERR;
		goto out;
	}
	double temperature;
	size_t held;
	if (nb_new(&mo->nb, &model, &e) < 0) {
		ctl_error("training: %s", e);
		goto out;
	}
	nb_set_caller_byte(model, feature_opts_encode(mo));
	if (calibrate(mo, &ex, &temperature, &held, &e) < 0 ||
	    train_examples(model, mo, &ex, NULL, NULL, &e) < 0 ||
	    nb_set_temperature(model, temperature, &e) < 0 || nb_save(model, &buf, &len, &e) < 0) {
		ctl_error("training: %s", e);
		goto out;
	}
	FILE *f = fopen(mo->model_path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		ctl_error("%s: cannot write the model", mo->model_path);
		if (f != NULL)
			fclose(f);
		goto out;
	}
	double dt = now_seconds() - t0;
	fprintf(stderr,
	        "triagectl: %zu mails (%zu skipped), %zu features, temperature %.4f fitted on "
	        "%zu held-out mails, %.2f s (%.0f mails/s)\n",
	        ex.n, ex.unreadable, nb_vocabulary_size(model), temperature, held, dt,
	        dt > 0 ? (double)ex.n / dt : 0);
	rc = CTL_OK;
out:
	nb_free(&model);
	examples_free(&ex);
	feat_ctx_free(&feat);
	return rc;
}

static int has_label(void *ctx, const char *label, int64_t docs, double tokens)
{
	(void)tokens;
	if (docs > 0 && strcmp(label, "spam") == 0)
		*(bool *)ctx = true;
	return 0;
}

/* Each mail classified by the thread that read it, as soon as its features
 * are there (the worker's bag, no bag kept), without explanations: only the
 * label and its confidence are printed. */
static void predict_one(void *ctx, struct job *job)
{
	const struct nb_model *model = ctx;
	struct nb_result r;
	const char *e;
	int ret = nb_classify_with(model, job->bag, NB_CLASSIFY_NO_REASONS, &r, &e);
	if (ret < 0) {
		job->error = xstrdup(e);
		job->fatal = true;
		return;
	}
	job->output = xasprintf("%s\t%s\t%.6f\n", job->line, r.label, r.confidence);
}

static int model_predict(struct ctl *ctl, struct model_opts *mo)
{
	struct config *cfg = model_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	_cleanup_free_ char *buf = NULL;
	size_t len;
	const char *e;
	struct nb_model *model;
	if (file_read_all(mo->model_path, MODEL_FILE_MAX, &buf, &len, &e) < 0 ||
	    nb_load(buf, len, &model, &e) < 0) {
		ctl_error("%s: %s", mo->model_path, e);
		return CTL_DATAERR;
	}
	uint8_t recorded = nb_caller_byte(model);
	if (recorded & FEAT_OPTS_RECORDED) {
		/* Read mail as training did; options that say otherwise are a
		 * mistake that would go unnoticed (unknown features are ignored). */
		struct model_opts rec = *mo;
		feature_opts_decode(recorded, &rec);
		if (!mo->task_given)
			mo->task = rec.task;
		if (!mo->flags_given) {
			mo->flags = rec.flags;
			mo->whole_text = rec.whole_text;
			mo->html = rec.html;
			mo->header_text = rec.header_text;
		}
		if (feature_opts_encode(mo) != recorded) {
			char want[160];
			feature_opts_describe(recorded, want, sizeof(want));
			ctl_error("%s was trained with %s: give the same options, or none",
			          mo->model_path, want);
			nb_free(&model);
			return CTL_USAGE;
		}
	} else if (!mo->task_given) {
		/* A model with a "spam" label was trained on spam features. */
		bool spam = false;
		nb_foreach_label(model, has_label, &spam);
		mo->task = spam ? TASK_SPAM : TASK_CATEGORY;
		if (!mo->flags_given)
			mo->flags = spam ? triage_spam_flags() : 0;
	}
	struct feat_ctx *feat = open_feat(cfg);
	if (feat == NULL) {
		nb_free(&model);
		return CTL_CONFIG;
	}
	double t0 = now_seconds();
	struct examples ex = {0};
	int rc = CTL_OK;
	size_t classified;
	/* Hashed bags unless two of the model's features share a hash (see
	 * nb_prepare_hashed): string bags then, with the same results. */
	struct job_work work = {
	    .run = predict_one, .ctx = model, .hashed_bags = nb_prepare_hashed(model, &e) == 0};
	if (read_examples(feat, cfg, mo, false, &ex, &work, &classified) < 0) {
		rc = CTL_DATAERR;
		goto out;
	}
	double dt = now_seconds() - t0;
	fprintf(stderr, "triagectl: %zu mails classified (%zu skipped), %.2f s (%.0f mails/s)\n",
	        classified, ex.unreadable, dt, dt > 0 ? (double)classified / dt : 0);
out:
	examples_free(&ex);
	feat_ctx_free(&feat);
	nb_free(&model);
	return rc;
}

struct fold_ctx {
	unsigned fold, folds;
};

static bool not_in_fold(size_t i, const void *ctx)
{
	const struct fold_ctx *fc = ctx;
	return i % fc->folds != fc->fold;
}

static size_t label_index(const char **labels, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(labels[i], label) == 0)
			return i;
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int model_eval(struct ctl *ctl, struct model_opts *mo)
{
	struct config *cfg = model_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	struct feat_ctx *feat = open_feat(cfg);
	if (feat == NULL)
		return CTL_CONFIG;
	struct examples ex = {0};
	int rc = CTL_FAIL;
	_cleanup_free_ const char **labels = NULL;
	_cleanup_free_ size_t *confusion = NULL;
	size_t n_labels = 0;
	const char *e;
	if (read_examples(feat, cfg, mo, true, &ex, NULL, NULL) < 0) {
		rc = CTL_DATAERR;
		goto out;
	}
	if (ex.n < mo->folds) {
		ctl_error("%zu mails: fewer than the %u folds", ex.n, mo->folds);
		rc = CTL_DATAERR;
		goto out;
	}
	labels = xcalloc(ex.n, sizeof(*labels));
	for (size_t i = 0; i < ex.n; i++)
		if (label_index(labels, n_labels, ex.items[i].label) == n_labels)
			labels[n_labels++] = ex.items[i].label;
	qsort(labels, n_labels, sizeof(*labels), cmp_str);
	confusion = xcalloc(n_labels * n_labels, sizeof(*confusion));
	size_t correct = 0;
	for (unsigned fold = 0; fold < mo->folds; fold++) {
		struct fold_ctx fc = {.fold = fold, .folds = mo->folds};
		struct nb_model *model;
		if (nb_new(&mo->nb, &model, &e) < 0 ||
		    train_examples(model, mo, &ex, not_in_fold, &fc, &e) < 0) {
			ctl_error("fold %u: %s", fold + 1, e);
			nb_free(&model);
			goto out;
		}
		nb_prepare(model);
		for (size_t i = fold; i < ex.n; i += mo->folds) {
			struct nb_result r;
			if (nb_classify_with(model, ex.items[i].bag, NB_CLASSIFY_NO_REASONS, &r, &e) <
			    0) {
				ctl_error("fold %u: %s", fold + 1, e);
				nb_free(&model);
				goto out;
			}
			size_t want = label_index(labels, n_labels, ex.items[i].label);
			size_t got = label_index(labels, n_labels, r.label);
			/* A label absent from this fold's training cannot be predicted;
			 * every predicted label is one of the set. */
			confusion[want * n_labels + got]++;
			correct += want == got;
		}
		nb_free(&model);
	}
	double accuracy = (double)correct / (double)ex.n, f1_sum = 0;
	cJSON *json = cJSON_CreateObject(), *per_label = cJSON_CreateArray();
	for (size_t k = 0; k < n_labels; k++) {
		size_t tp = confusion[k * n_labels + k], row = 0, col = 0;
		for (size_t j = 0; j < n_labels; j++) {
			row += confusion[k * n_labels + j];
			col += confusion[j * n_labels + k];
		}
		double precision = col ? (double)tp / (double)col : 0;
		double recall = row ? (double)tp / (double)row : 0;
		double f1 =
		    precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
		f1_sum += f1;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "label", labels[k]);
		cJSON_AddNumberToObject(o, "support", (double)row);
		cJSON_AddNumberToObject(o, "precision", round(precision * 10000) / 10000);
		cJSON_AddNumberToObject(o, "recall", round(recall * 10000) / 10000);
		cJSON_AddNumberToObject(o, "f1", round(f1 * 10000) / 10000);
		cJSON_AddItemToArray(per_label, o);
	}
	double macro_f1 = n_labels ? f1_sum / (double)n_labels : 0;
	if (ctl->json) {
		cJSON_AddNumberToObject(json, "mails", (double)ex.n);
		cJSON_AddNumberToObject(json, "skipped", (double)ex.unreadable);
		cJSON_AddNumberToObject(json, "folds", mo->folds);
		cJSON_AddNumberToObject(json, "accuracy", round(accuracy * 10000) / 10000);
		cJSON_AddNumberToObject(json, "macro_f1", round(macro_f1 * 10000) / 10000);
		cJSON *lab = cJSON_AddArrayToObject(json, "labels");
		cJSON *mat = cJSON_AddArrayToObject(json, "confusion");
		for (size_t k = 0; k < n_labels; k++) {
			cJSON_AddItemToArray(lab, cJSON_CreateString(labels[k]));
			cJSON *row = cJSON_CreateArray();
			for (size_t j = 0; j < n_labels; j++)
				cJSON_AddItemToArray(
				    row, cJSON_CreateNumber((double)confusion[k * n_labels + j]));
			cJSON_AddItemToArray(mat, row);
		}
		cJSON_AddItemToObject(json, "per_label", per_label);
		ctl_print_json(json);
	} else {
		cJSON_Delete(json);
		cJSON_Delete(per_label);
		printf("%zu mails (%zu skipped), %u folds\naccuracy  %.4f\nmacro-F1  %.4f\n\n",
		       ex.n, ex.unreadable, mo->folds, accuracy, macro_f1);
		printf("confusion (rows: true label, columns: predicted)\n%-12s", "");
		for (size_t j = 0; j < n_labels; j++)
			printf(" %10.10s", labels[j]);
		putchar('\n');
		for (size_t k = 0; k < n_labels; k++) {
			printf("%-12.12s", labels[k]);
			for (size_t j = 0; j < n_labels; j++)
				printf(" %10zu", confusion[k * n_labels + j]);
			putchar('\n');
		}
	}
	rc = CTL_OK;
out:
	examples_free(&ex);
	feat_ctx_free(&feat);
	return rc;
}

static int parse_flags(const char *s, struct model_opts *mo)
{
	/* Comma list: stem|no-stem, stopwords|no-stopwords, new-text|whole-text. */
	unsigned flags = mo->flags;
	bool whole = mo->whole_text, html = mo->html, header_text = mo->header_text;
	while (*s != '\0') {
		size_t len = strcspn(s, ",");
		if (len == 7 && strncmp(s, "no-stem", len) == 0)
			flags |= FEAT_NO_STEM;
		else if (len == 4 && strncmp(s, "stem", len) == 0)
			flags &= ~(unsigned)FEAT_NO_STEM;
		else if (len == 9 && strncmp(s, "stopwords", len) == 0)
			flags |= FEAT_KEEP_STOPWORDS;
		else if (len == 12 && strncmp(s, "no-stopwords", len) == 0)
			flags &= ~(unsigned)FEAT_KEEP_STOPWORDS;
		else if (len == 10 && strncmp(s, "whole-text", len) == 0)
			whole = true;
		else if (len == 8 && strncmp(s, "new-text", len) == 0)
			whole = false;
		else if (len == 4 && strncmp(s, "html", len) == 0)
			html = true;
		else if (len == 7 && strncmp(s, "no-html", len) == 0)
			html = false;
		else if (len == 11 && strncmp(s, "header-text", len) == 0)
			header_text = true;
		else if (len == 14 && strncmp(s, "no-header-text", len) == 0)
			header_text = false;
		else if (len == 7 && strncmp(s, "bigrams", len) == 0)
			flags |= FEAT_BIGRAMS;
		else
			return -1;
		s += len + (s[len] == ',');
	}
	mo->flags = flags;
	mo->whole_text = whole;
	mo->html = html;
	mo->header_text = header_text;
	return 0;
}

int ctl_cmd_model(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl model train --model FILE --tsv LABELS.tsv [OPTIONS]\n"
	    "       triagectl model predict --model FILE --tsv LIST.tsv [--task T]\n"
	    "       triagectl model eval --tsv LABELS.tsv [--folds 5] [--json] [OPTIONS]\n"
	    "A classifier on labelled raw mail, outside the daemon's database.\n"
	    "LABELS.tsv: one mail per line, path<TAB>label (relative paths are relative to\n"
	    "the TSV's folder); predict ignores the label column and prints\n"
	    "path<TAB>label<TAB>confidence. eval prints cross-validated accuracy, macro-F1\n"
	    "and the confusion matrix. A model file keeps the feature options (--task,\n"
	    "--features) it was trained with: predict reads mail the same way, and\n"
	    "refuses other ones.\n"
	    "options:\n"
	    "  --task spam|category  features: spam reads decoded headers and keeps whole\n"
	    "                        words and stop words; category reads subject and new\n"
	    "                        text, stemmed (default category; predict: from the\n"
	    "                        model's labels)\n"
	    "  --variant complement|multinomial, --alpha A, --no-length-norm\n"
	    "                        naive Bayes options (default: the configuration's nlp)\n"
	    "  --uniform-prior       the same prior for every label, not the training share\n"
	    "  --passes N            thick-threshold training: after counting every mail,\n"
	    "                        up to N rounds that train again each mail classified\n"
	    "                        wrong or with a confidence under 0.5 + margin (0)\n"
	    "  --margin M            that margin, in [0, 0.5) (0.45)\n"
	    "  --features LIST       stem,no-stem,stopwords,no-stopwords,new-text,whole-text,\n"
	    "                        html,no-html,header-text,no-header-text,bigrams\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc < 2) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	const char *sub = argv[1];
	static const struct option options[] = {
	    {"model", required_argument, NULL, 'm'},
	    {"tsv", required_argument, NULL, 't'},
	    {"task", required_argument, NULL, 'k'},
	    {"folds", required_argument, NULL, 'f'},
	    {"variant", required_argument, NULL, 'v'},
	    {"alpha", required_argument, NULL, 'a'},
	    {"no-length-norm", no_argument, NULL, 'n'},
	    {"uniform-prior", no_argument, NULL, 'u'},
	    {"features", required_argument, NULL, 'F'},
	    {"passes", required_argument, NULL, 'P'},
	    {"margin", required_argument, NULL, 'M'},
	    {0},
	};
	struct model_opts mo = {.folds = 5, .margin = 0.45};
	const char *variant = NULL, *alpha = NULL, *features = NULL;
	bool no_norm = false, uniform_prior = false;
	int opt;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			mo.model_path = optarg;
			break;
		case 't':
			mo.tsv_path = optarg;
			break;
		case 'k':
			if (strcmp(optarg, "spam") == 0)
				mo.task = TASK_SPAM;
			else if (strcmp(optarg, "category") == 0)
				mo.task = TASK_CATEGORY;
			else {
				ctl_error("--task: spam or category");
				return CTL_USAGE;
			}
			mo.task_given = true;
			break;
		case 'f': {
			int64_t folds;
			if (parse_int64(optarg, 2, FOLDS_MAX, &folds) < 0) {
				ctl_error("--folds: a number from 2 to %d", FOLDS_MAX);
				return CTL_USAGE;
			}
			mo.folds = (unsigned)folds;
			break;
		}
		case 'v':
			variant = optarg;
			break;
		case 'a':
			alpha = optarg;
			break;
		case 'n':
			no_norm = true;
			break;
		case 'u':
			uniform_prior = true;
			break;
		case 'F':
			features = optarg;
			break;
		case 'P': {
			int64_t passes;
			if (parse_int64(optarg, 0, PASSES_MAX, &passes) < 0) {
				ctl_error("--passes: a number from 0 to %d", PASSES_MAX);
				return CTL_USAGE;
			}
			mo.passes = (unsigned)passes;
			break;
		}
		case 'M':
			if (parse_double(optarg, &mo.margin) < 0 || !(mo.margin >= 0 && mo.margin < 0.5)) {
				ctl_error("--margin: a number in [0, 0.5)");
				return CTL_USAGE;
			}
			break;
		default:
			fputs(usage, stderr);
			return CTL_USAGE;
		}
	}
	bool train = strcmp(sub, "train") == 0, predict = strcmp(sub, "predict") == 0;
	bool eval = strcmp(sub, "eval") == 0;
	if ((!train && !predict && !eval) || optind < argc || mo.tsv_path == NULL ||
	    ((train || predict) && mo.model_path == NULL)) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct config *cfg = model_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	/* The daemon's model options, then the flags. */
	nb_options_default(&mo.nb);
	mo.nb.alpha = cfg->nlp.alpha;
	mo.nb.variant = cfg->nlp.variant == CFG_NB_COMPLEMENT ? NB_COMPLEMENT : NB_MULTINOMIAL;
	mo.nb.length_norm = mo.nb.log_tf = cfg->nlp.length_normalize && !no_norm;
	mo.nb.uniform_prior = uniform_prior;
	if (variant != NULL) {
		if (strcmp(variant, "complement") == 0)
			mo.nb.variant = NB_COMPLEMENT;
		else if (strcmp(variant, "multinomial") == 0)
			mo.nb.variant = NB_MULTINOMIAL;
		else {
			ctl_error("--variant: complement or multinomial");
			return CTL_USAGE;
		}
	}
	if (alpha != NULL &&
	    (parse_double(alpha, &mo.nb.alpha) < 0 || !(mo.nb.alpha > 0) || mo.nb.alpha > 100)) {
		ctl_error("--alpha: a number in (0, 100]");
		return CTL_USAGE;
	}
	mo.flags = mo.task == TASK_SPAM ? triage_spam_flags() : 0;
	if (features != NULL) {
		if (parse_flags(features, &mo) < 0) {
			ctl_error("--features: unknown feature option in \"%s\"", features);
			return CTL_USAGE;
		}
		mo.flags_given = true; /* predict must not reset them */
	}
	if (train)
		return model_train(ctl, &mo);
	if (predict)
		return model_predict(ctl, &mo);
	return model_eval(ctl, &mo);
}
