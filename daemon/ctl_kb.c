/* triagectl kb: import, search, list, show, rm and stats of the knowledge
 * base. Parsing options only: the work is in kb/ and the store. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "view.h"
#include "kb.h"
#include "kb_import.h"
#include "parse.h"
#include "store.h"
#include "store_suggestions.h"
#include "strbuf.h"
#include "xalloc.h"

/* Imports of at least this many files show their progress on stderr. */
#define KB_PROGRESS_MIN_FILES 200

static const char kb_usage[] =
	"usage: triagectl kb COMMAND [ARGS] [--json]\n"
	"The knowledge base: articles suggested as replies.\n\n"
	"commands:\n"
	"  import [DIR]      import the *.md articles of DIR (default: the config's kb.articles_dir)\n"
	"  search [--limit N] [--lang fr|en] QUERY...\n"
	"                    articles matching QUERY, best first\n"
	"  list              all articles\n"
	"  show ID           one article\n"
	"  rm ID             remove an article\n"
	"  stats             per article: suggested, approved, edited, rejected, acceptance\n"
	"Each command takes --help.\n";

/* The store with the kb's tokenizer and index registered. */
static struct store *kb_store(struct ctl *ctl)
{
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return NULL;
	const char *error;
	if (kb_register(store_db(st), &error) < 0) {
		ctl_error("%s", error);
		return NULL;
	}
	return st;
}

/* ---- import ---- */

struct import_ctx {
	bool tty;
	bool shown;
};

static void on_progress(size_t done, size_t total, void *context)
{
	struct import_ctx *ic = context;
	if (total < KB_PROGRESS_MIN_FILES)
		return;
	if (ic->tty) {
		fprintf(stderr, "\rtriagectl: importing %zu/%zu files", done, total);
		ic->shown = true;
	} else if (done % 1000 == 0 || done == total) {
		fprintf(stderr, "triagectl: importing %zu/%zu files\n", done, total);
	}
}

static void on_import_error(const char *message, void *context)
{
	struct import_ctx *ic = context;
	if (ic->shown) {
		fputc('\n', stderr);
		ic->shown = false;
	}
	fprintf(stderr, "%s\n", message);
}

static int kb_import(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl kb import [DIR] [--json]\n"
		"Imports the Markdown articles (*.md, subfolders included) of DIR, by default\n"
		"the configuration's kb.articles_dir. Changed articles are updated, articles\n"
		"that came from DIR and whose file is gone are removed; a bad file is reported\n"
		"with its line and the others are still imported. Exit status 65 when a file\n"
		"failed.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc > 2) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct config *cfg = ctl_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	const char *dir = argc == 2 ? argv[1] : cfg->kb.articles_dir;
	struct store *st = kb_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct import_ctx ic = {.tty = isatty(STDERR_FILENO) == 1};
	struct kb_import_summary sum;
	const char *error;
	if (store_begin(st) < 0) {
		ctl_error("%s", store_error(st));
		return CTL_FAIL;
	}
	if (kb_import_dir(store_db(st), dir, store_now(), on_progress, on_import_error, &ic, &sum,
			  &error) < 0) {
		if (ic.shown)
			fputc('\n', stderr);
		store_rollback(st);
		ctl_error("%s", error);
		return CTL_FAIL;
	}
	if (ic.shown)
		fputc('\n', stderr);
	if (store_commit(st) < 0) {
		ctl_error("%s", store_error(st));
		store_rollback(st);
		return CTL_FAIL;
	}
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "dir", dir);
		cJSON_AddNumberToObject(o, "files", (double)sum.files);
		cJSON_AddNumberToObject(o, "added", sum.added);
		cJSON_AddNumberToObject(o, "updated", sum.updated);
		cJSON_AddNumberToObject(o, "unchanged", sum.unchanged);
		cJSON_AddNumberToObject(o, "removed", sum.removed);
		cJSON_AddNumberToObject(o, "failed", sum.failed);
		ctl_print_json(o);
	} else {
		printf("%s: %zu files: %u added, %u updated, %u unchanged, %u removed, %u failed\n",
		       dir, sum.files, sum.added, sum.updated, sum.unchanged, sum.removed, sum.failed);
	}
	return sum.failed > 0 ? CTL_DATAERR : CTL_OK;
}

/* ---- search ---- */

static int kb_search_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl kb search [--json] [--limit N] [--lang fr|en] QUERY...\n"
		"Articles matching any word of QUERY (accents and case ignored, words\n"
		"stemmed), best first: bm25, a title match counting ten times a body match.\n"
		"--lang keeps only articles in that language and stems in it; without it,\n"
		"words are stemmed both in French and in English. --limit defaults to 10.\n"
		"JSON: an array of {id, title, lang, score}; score is positive, higher is better.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
		{"limit", required_argument, NULL, 'n'},
		{"lang", required_argument, NULL, 'l'},
		{0},
	};
	uint32_t limit = 10;
	const char *lang = NULL;
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+n:l:", options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_uint32(optarg, &limit) < 0 || limit == 0 || limit > 1000) {
				ctl_error("--limit: expected a number from 1 to 1000");
				return CTL_USAGE;
			}
			break;
		case 'l':
			if (strcmp(optarg, "fr") != 0 && strcmp(optarg, "en") != 0) {
				ctl_error("--lang: expected fr or en");
				return CTL_USAGE;
			}
			lang = optarg;
			break;
		default: fputs(usage, stderr); return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct strbuf q;
	strbuf_init(&q, 4096);
	for (int i = optind; i < argc; i++) {
		if (i > optind)
			strbuf_putc(&q, ' ');
		strbuf_puts(&q, argv[i]);
	}
	struct store *st = kb_store(ctl);
	if (st == NULL) {
		strbuf_free(&q);
		return CTL_FAIL;
	}
	struct kb_hit *hits = NULL;
	size_t n = 0;
	const char *error;
	int rc = kb_search(store_db(st), strbuf_str(&q), lang, limit, &hits, &n, &error);
	strbuf_free(&q);
	if (rc < 0) {
		ctl_error("%s", error);
		return CTL_FAIL;
	}
	if (ctl->json) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "id", hits[i].id);
			cJSON_AddStringToObject(o, "title", hits[i].title);
			cJSON_AddStringToObject(o, "lang", hits[i].language);
			cJSON_AddNumberToObject(o, "score", hits[i].score);
			cJSON_AddItemToArray(a, o);
		}
		ctl_print_json(a);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%2zu. %-28s %-2s %7.3f  %s\n", i + 1, hits[i].id, hits[i].language,
			       hits[i].score, hits[i].title);
		if (n == 0)
			printf("no article matches\n");
	}
	kb_hits_free(&hits, n);
	return CTL_OK;
}

/* ---- list, show, rm ---- */

static int kb_list(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] = "usage: triagectl kb list [--json]\n"
				    "All articles, by id, with their language, tags and title.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc != 1) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = kb_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct kb_article *list = NULL;
	size_t n = 0;
	const char *error;
	if (kb_article_list(store_db(st), &list, &n, &error) < 0) {
		ctl_error("%s", error);
		return CTL_FAIL;
	}
	char buf[32];
	if (ctl->json) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "id", list[i].id);
			cJSON_AddStringToObject(o, "title", list[i].title);
			cJSON_AddStringToObject(o, "lang", list[i].language);
			view_add_str(o, "tags", list[i].tags);
			cJSON_AddBoolToObject(o, "template", list[i].template != NULL);
			view_add_str(o, "source", list[i].source_path);
			cJSON_AddStringToObject(o, "updated", view_utc(list[i].updated, buf));
			cJSON_AddItemToArray(a, o);
		}
		ctl_print_json(a);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%-28s %-2s %-24s %s\n", list[i].id, list[i].language,
			       list[i].tags && list[i].tags[0] ? list[i].tags : "-", list[i].title);
		printf("%zu articles\n", n);
	}
	kb_article_list_free(&list, n);
	return CTL_OK;
}

static int kb_show(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] = "usage: triagectl kb show ID [--json]\n"
				    "One article: its header, template and body.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc != 2) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = kb_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct kb_article a;
	const char *error;
	int found = kb_article_get(store_db(st), argv[1], &a, &error);
	if (found <= 0) {
		if (found < 0)
			ctl_error("%s", error);
		else
			ctl_error("no article \"%s\"", argv[1]);
		return found < 0 ? CTL_FAIL : CTL_NOTFOUND;
	}
	char buf[32];
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", a.id);
		cJSON_AddStringToObject(o, "title", a.title);
		cJSON_AddStringToObject(o, "lang", a.language);
		cJSON *tags = cJSON_AddArrayToObject(o, "tags");
		for (char *p = a.tags; p != NULL && *p != '\0';) {
			char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			char *tag = xstrndup(p, len);
			cJSON_AddItemToArray(tags, cJSON_CreateString(tag));
			free(tag);
			p += len + (comma ? 1 : 0);
		}
		view_add_str(o, "template", a.template);
		cJSON_AddStringToObject(o, "body", a.body);
		view_add_str(o, "source_dir", a.source_dir);
		view_add_str(o, "source_path", a.source_path);
		cJSON_AddStringToObject(o, "content_hash", a.content_hash);
		cJSON_AddStringToObject(o, "updated", view_utc(a.updated, buf));
		ctl_print_json(o);
	} else {
		printf("%s  [%s]  %s\n", a.id, a.language, a.title);
		printf("  tags: %s\n", a.tags && a.tags[0] ? a.tags : "-");
		if (a.source_dir != NULL)
			printf("  source: %s/%s\n", a.source_dir, a.source_path);
		printf("  updated: %s\n", view_utc(a.updated, buf));
		if (a.template != NULL)
			printf("\n--- template\n%s", a.template);
		printf("\n--- body\n%s\n", a.body);
	}
	kb_article_clear(&a);
	return CTL_OK;
}

static int kb_rm(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl kb rm ID\n"
		"Removes an article (a later import of its folder brings it back if its file\n"
		"is still there). Its suggestion statistics are kept.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc != 2) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = kb_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	const char *error = NULL;
	if (store_begin(st) < 0) {
		ctl_error("%s", store_error(st));
		return CTL_FAIL;
	}
	int r = kb_article_remove(store_db(st), argv[1], &error);
	if (r > 0 && kb_refresh_terms(store_db(st), &error) < 0)
		r = -1;
	if (r <= 0) {
		store_rollback(st);
		if (r < 0)
			ctl_error("%s", error);
		else
			ctl_error("no article \"%s\"", argv[1]);
		return r < 0 ? CTL_FAIL : CTL_NOTFOUND;
	}
	if (store_commit(st) < 0) {
		ctl_error("%s", store_error(st));
		store_rollback(st);
		return CTL_FAIL;
	}
	if (!ctl->json)
		printf("removed %s\n", argv[1]);
	else
		printf("{\"removed\": true}\n");
	return CTL_OK;
}

/* ---- stats ---- */

static int kb_stats(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl kb stats [--json]\n"
		"Per article: times suggested (once per ticket), approved as is, approved\n"
		"after edit, rejected, the acceptance rate ((approved + edited) / suggested)\n"
		"and the mean edit ratio over approvals (0: sent as drafted, 1: rewritten).\n"
		"Articles since removed are listed with their numbers.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc != 1) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = kb_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct suggestion_stat *list = NULL;
	size_t n = 0;
	if (store_suggestion_stats(st, &list, &n) < 0) {
		ctl_error("%s", store_error(st));
		return CTL_FAIL;
	}
	int64_t total_suggested = 0, total_accepted = 0;
	for (size_t i = 0; i < n; i++) {
		total_suggested += list[i].suggested;
		total_accepted += list[i].approved + list[i].edited;
	}
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON *a = cJSON_AddArrayToObject(o, "articles");
		for (size_t i = 0; i < n; i++) {
			const struct suggestion_stat *s = &list[i];
			cJSON *r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "id", s->ref);
			view_add_str(r, "title", s->title);
			cJSON_AddNumberToObject(r, "suggested", (double)s->suggested);
			cJSON_AddNumberToObject(r, "approved", (double)s->approved);
			cJSON_AddNumberToObject(r, "edited", (double)s->edited);
			cJSON_AddNumberToObject(r, "rejected", (double)s->rejected);
			if (s->suggested > 0)
				cJSON_AddNumberToObject(r, "acceptance_rate",
							(double)(s->approved + s->edited) /
								(double)s->suggested);
			else
				cJSON_AddNullToObject(r, "acceptance_rate");
			if (s->mean_edit_ratio >= 0)
				cJSON_AddNumberToObject(r, "mean_edit_ratio", s->mean_edit_ratio);
			else
				cJSON_AddNullToObject(r, "mean_edit_ratio");
			cJSON_AddItemToArray(a, r);
		}
		cJSON_AddNumberToObject(o, "suggested", (double)total_suggested);
		cJSON_AddNumberToObject(o, "accepted", (double)total_accepted);
		ctl_print_json(o);
	} else {
		printf("%-28s %9s %8s %6s %8s %10s %9s\n", "article", "suggested", "approved",
		       "edited", "rejected", "acceptance", "mean edit");
		for (size_t i = 0; i < n; i++) {
			const struct suggestion_stat *s = &list[i];
			char acc[16] = "-", edit[16] = "-";
			if (s->suggested > 0)
				snprintf(acc, sizeof(acc), "%.0f%%",
					 100.0 * (double)(s->approved + s->edited) /
						 (double)s->suggested);
			if (s->mean_edit_ratio >= 0)
				snprintf(edit, sizeof(edit), "%.2f", s->mean_edit_ratio);
			printf("%-28s %9lld %8lld %6lld %8lld %10s %9s%s\n", s->ref,
			       (long long)s->suggested, (long long)s->approved, (long long)s->edited,
			       (long long)s->rejected, acc, edit, s->title ? "" : "  (removed)");
		}
		if (total_suggested > 0)
			printf("overall: %lld suggested, %lld accepted (%.0f%%)\n",
			       (long long)total_suggested, (long long)total_accepted,
			       100.0 * (double)total_accepted / (double)total_suggested);
	}
	suggestion_stats_free(&list, n);
	return CTL_OK;
}

int ctl_cmd_kb(struct ctl *ctl, int argc, char **argv)
{
	static const struct {
		const char *name;
		ctl_command_fn *run;
	} subs[] = {
		{"import", kb_import}, {"search", kb_search_cmd}, {"list", kb_list},
		{"show", kb_show},     {"rm", kb_rm},             {"stats", kb_stats},
	};
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(kb_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USAGE : CTL_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(ctl, argc - 1, argv + 1);
	ctl_error("kb: unknown command \"%s\" (see triagectl kb --help)", argv[1]);
	return CTL_USAGE;
}
