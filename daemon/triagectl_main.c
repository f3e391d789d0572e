/* triagectl: the tool agents, managers and administrators use. Parses the
 * global options and hands over to one command of ctl.h. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kb.h"
#include "ctl.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

static const struct ctl_command commands[] = {
	{"init", ctl_cmd_init, "create or migrate the database"},
	{"ingest", ctl_cmd_ingest, "store one raw mail from stdin as a ticket"},
	{"tickets", ctl_cmd_tickets, "list tickets"},
	{"show", ctl_cmd_show, "show one ticket with its messages, triage and events"},
	{"stats", ctl_cmd_stats, "counts of tickets and messages"},
	{"status", ctl_cmd_set_status, "set a ticket's status"},
	{"priority", ctl_cmd_set_priority, "set a ticket's priority"},
	{"assign", ctl_cmd_assign, "assign a ticket to an agent (or nobody)"},
	{"queue", ctl_cmd_set_queue, "move a ticket to another queue"},
	{"note", ctl_cmd_note, "add an internal note to a ticket (never sent)"},
	{"merge", ctl_cmd_merge, "merge a ticket into another (the same request twice)"},
	{"reply", ctl_cmd_reply, "approve, edit or reject a reply to a ticket"},
	{"outbox", ctl_cmd_outbox, "list, send or requeue outgoing mail"},
	{"sla", ctl_cmd_sla, "business-time deadlines and the tickets closest to breach"},
	{"report", ctl_cmd_report, "SLA reports (text, CSV, JSON, HTML)"},
	{"kb", ctl_cmd_kb, "import, search, list, show, remove knowledge-base articles; their statistics"},
	{"privacy", ctl_cmd_privacy, "export, erase or purge personal data; the register of processing"},
	{"classify", ctl_cmd_classify, "triage one raw mail from stdin (stores nothing)"},
	{"recategorize", ctl_cmd_recategorize, "correct a ticket's category; the model learns it"},
	{"spam", ctl_cmd_spam, "say a ticket is spam or not; the spam model learns it"},
	{"sentiment", ctl_cmd_sentiment, "sentiment of each input line"},
	{"model", ctl_cmd_model, "train, apply or cross-validate a classifier on labelled mail"},
	{"agent", ctl_cmd_agent, "web console accounts: add, list, disable, passwd"},
};

void ctl_error(const char *fmt, ...)
{
	va_list ap;
	fputs("triagectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void ctl_print_json(cJSON *json)
{
	char *text = cJSON_Print(json);
	if (text != NULL)
		puts(text);
	cJSON_free(text);
	cJSON_Delete(json);
}

char *ctl_cli_actor(void)
{
	/* The account, not $USER: the audit log names who really ran it. */
	struct passwd *pw = getpwuid(getuid());
	const char *user = pw != NULL && pw->pw_name != NULL ? pw->pw_name : getenv("USER");
	return xasprintf("cli:%s", user != NULL && *user ? user : "unknown");
}

bool ctl_wants_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return true;
		}
	}
	return false;
}

struct config *ctl_config(struct ctl *ctl)
{
	if (ctl->cfg != NULL)
		return ctl->cfg;
	const char *path = ctl->config_path;
	if (path == NULL)
		path = getenv("TRIAGED_CONFIG");
	if (path == NULL && ctl->db_path == NULL && access(TRIAGED_SYSCONFDIR "/triaged.json", R_OK) == 0)
		path = TRIAGED_SYSCONFDIR "/triaged.json";
	if (path == NULL) {
		if (ctl->db_path == NULL) {
			ctl_error("no configuration: give -c CONFIG or --db PATH");
			return NULL;
		}
		ctl->cfg = config_default(ctl->db_path);
		return ctl->cfg;
	}
	struct cfg_errors errors;
	if (config_load(path, &ctl->cfg, &errors) < 0) {
		for (size_t i = 0; i < errors.count; i++)
			fprintf(stderr, "%s\n", errors.items[i]);
		cfg_errors_free(&errors);
		return NULL;
	}
	if (ctl->db_path != NULL) {
		free(ctl->cfg->database);
		ctl->cfg->database = xstrdup(ctl->db_path);
	}
	return ctl->cfg;
}

struct store *ctl_store(struct ctl *ctl)
{
	if (ctl->store != NULL)
		return ctl->store;
	struct config *cfg = ctl_config(ctl);
	if (cfg == NULL)
		return NULL;
	const char *error;
	if (store_open(cfg->database, &ctl->store, &error) < 0) {
		ctl_error("%s", error);
		return NULL;
	}
	/* The knowledge base's tokenizer must be known to every connection. */
	if (kb_register(store_db(ctl->store), &error) < 0) {
		ctl_error("%s", error);
		store_close(&ctl->store);
		return NULL;
	}
	return ctl->store;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: triagectl [-c CONFIG | --db PATH] [--json] COMMAND [ARGS]\n"
		     "       triagectl COMMAND --help\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\noptions:\n"
		     "  -c, --config FILE  configuration (default $TRIAGED_CONFIG, then "
		     TRIAGED_SYSCONFDIR "/triaged.json)\n"
		     "      --db PATH      database file (overrides the configuration's)\n"
		     "      --json         output JSON where the command supports it\n"
		     "  -v, --verbose      debug messages\n"
		     "  -V, --version      print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"db", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct ctl ctl = {0};
	bool verbose = false;
	int opt;
	/* "+": stop at the command name; its options are its own. */
	while ((opt = getopt_long(argc, argv, "+c:vVh", options, NULL)) != -1) {
		switch (opt) {
		case 'c': ctl.config_path = optarg; break;
		case 'd': ctl.db_path = optarg; break;
		case 'j': ctl.json = true; break;
		case 'v': verbose = true; break;
		case 'V': printf("triagectl %s\n", TRIAGED_VERSION); return CTL_OK;
		case 'h': usage(stdout); return CTL_OK;
		default: usage(stderr); return CTL_USAGE;
		}
	}
	log_init("triagectl", verbose);
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		int cmd_argc = argc - optind;
		char **cmd_argv = argv + optind;
		/* --json may also follow the command name: taken out here so that
		 * every command accepts it without listing it. */
		int kept = 1;
		for (int j = 1; j < cmd_argc; j++) {
			if (strcmp(cmd_argv[j], "--") == 0) {
				while (j < cmd_argc)
					cmd_argv[kept++] = cmd_argv[j++];
				break;
			}
			if (strcmp(cmd_argv[j], "--json") == 0)
				ctl.json = true;
			else
				cmd_argv[kept++] = cmd_argv[j];
		}
		cmd_argc = kept;
		cmd_argv[cmd_argc] = NULL;
		optind = 0; /* glibc: full reinitialisation for the command's getopt */
		int rc = commands[i].run(&ctl, cmd_argc, cmd_argv);
		store_close(&ctl.store);
		config_free(&ctl.cfg);
		return rc;
	}
	ctl_error("unknown command \"%s\" (see triagectl --help)", name);
	return CTL_USAGE;
}
