/* triagectl privacy: export, erase, purge and register. Parsing options and
 * printing only: the work is in privacy.c. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "parse.h"
#include "privacy.h"
#include "store.h"
#include "xalloc.h"

static const char privacy_usage[] =
	"usage: triagectl privacy COMMAND [ARGS] [--json]\n"
	"Requests about personal data (GDPR).\n\n"
	"commands:\n"
	"  export ADDRESS [-o FILE]   everything held about ADDRESS, as JSON\n"
	"  erase ADDRESS [--yes] [--as WHO]\n"
	"                             what would be erased (dry run), or erase it with --yes\n"
	"  purge [--now TIME]         delete the tickets past privacy.retention_days\n"
	"  register                   the register of processing, from the configuration\n"
	"Each command takes --help.\n";

/* "cli:USER": who asked, for the audit log, when --as names no one. */
static char *default_actor(void)
{
	const char *user = getenv("USER");
	return xasprintf("cli:%s", user != NULL && *user != '\0' ? user : "unknown");
}

static int write_file(const char *path, const char *text)
{
	/* 0600: an export is personal data. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ctl_error("%s: %s", path, strerror(errno));
		return -1;
	}
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ctl_error("%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	if (write(fd, "\n", 1) != 1 || close(fd) < 0) {
		ctl_error("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int cmd_export(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl privacy export ADDRESS [-o FILE]\n"
		"Prints everything held about ADDRESS as JSON: the tickets it opened with\n"
		"their messages (headers and text), attachments' metadata, triage decisions\n"
		"with their explanations, suggestions, outgoing mail, service-level clocks\n"
		"and events; its messages in other tickets; mail sent to it elsewhere.\n"
		"-o FILE writes it to FILE (mode 0600) instead of standard output.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {{"output", required_argument, NULL, 'o'}, {0}};
	const char *output = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		switch (opt) {
		case 'o': output = optarg; break;
		default: fputs(usage, stderr); return CTL_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	char *json;
	const char *error;
	if (privacy_export(st, ctl->cfg, argv[optind], &json, &error) < 0) {
		ctl_error("%s", error);
		return strstr(error, "address") != NULL ? CTL_DATAERR : CTL_FAIL;
	}
	int rc = CTL_OK;
	if (output != NULL)
		rc = write_file(output, json) < 0 ? CTL_FAIL : CTL_OK;
	else
		puts(json);
	free(json);
	return rc;
}

static void count_line(const char *what, int64_t n)
{
	printf("  %-34s %lld\n", what, (long long)n);
}

static void print_counts(const struct store_privacy_counts *c, bool done)
{
	count_line("tickets", c->tickets);
	count_line("messages (raw mail included)", c->messages);
	count_line("attachments", c->attachments);
	count_line("triage decisions", c->triage);
	count_line("suggested replies", c->suggestions);
	count_line("outgoing mails", c->outbox);
	count_line("service-level clocks", c->sla_clocks);
	count_line("service-level webhooks", c->sla_webhooks);
	count_line("examples the classifier learned", c->training);
	count_line("acknowledgement records", c->acks);
	if (done) {
		count_line("events kept, scrubbed", c->events_scrubbed);
		count_line("others' messages scrubbed", c->messages_scrubbed);
	} else {
		count_line("events of these tickets (scrubbed)", c->events);
	}
}

static int cmd_erase(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl privacy erase ADDRESS [--yes] [--as WHO]\n"
		"Without --yes, a dry run: counts what would be erased, changes nothing.\n"
		"With --yes: deletes the tickets ADDRESS opened with everything attached\n"
		"(messages and raw mail, attachments, triage, suggestions, outgoing mail),\n"
		"its messages in other tickets and mail sent to it; removes the address from\n"
		"what stays (other messages, the audit log); makes the classifier forget\n"
		"what those tickets taught; then rewrites the text index, vacuums the\n"
		"database and truncates its WAL. The audit log records a \"privacy.erased\"\n"
		"event with the SHA-256 of the address and the counts, by WHO (default\n"
		"cli:$USER).\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
		{"yes", no_argument, NULL, 'y'},
		{"as", required_argument, NULL, 'a'},
		{0},
	};
	bool yes = false;
	const char *as = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'y': yes = true; break;
		case 'a': as = optarg; break;
		default: fputs(usage, stderr); return CTL_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	_cleanup_free_ char *actor = as != NULL ? xasprintf("agent:%s", as) : default_actor();
	struct privacy_erase_result res;
	const char *error;
	if (privacy_erase(st, ctl->cfg, NULL, argv[optind], actor, yes, &res, &error) < 0) {
		ctl_error("%s", error);
		return strstr(error, "address") != NULL ? CTL_DATAERR : CTL_FAIL;
	}
	if (ctl->json) {
		_cleanup_free_ char *counts = privacy_counts_json(&res.counts);
		printf("{\"erased\": %s, \"compacted\": %s, \"address_sha256\": \"%s\", \"counts\": %s}\n",
		       yes ? "true" : "false", res.compacted ? "true" : "false", res.address_hash,
		       counts);
		return CTL_OK;
	}
	if (!yes) {
		printf("Dry run: erasing %s would remove\n", argv[optind]);
		print_counts(&res.counts, false);
		printf("Run again with --yes to erase.\n");
		return CTL_OK;
	}
	printf("Erased (audit log: privacy.erased, address sha256 %s):\n", res.address_hash);
	print_counts(&res.counts, true);
	if (!res.compacted) {
		ctl_error("another process keeps the database's WAL open: its old pages were not "
			  "truncated yet; run the same command again once it is idle");
		return CTL_UNAVAILABLE;
	}
	return CTL_OK;
}

static int cmd_purge(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl privacy purge [--now TIME]\n"
		"Deletes the resolved and closed tickets resolved more than\n"
		"privacy.retention_days ago, as the daemon does daily. --now TIME (seconds\n"
		"since the epoch) pretends the clock says TIME.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {{"now", required_argument, NULL, 'n'}, {0}};
	int64_t now = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_int64(optarg, 1, INT64_MAX / 2, &now) < 0) {
				ctl_error("--now: expected seconds since the epoch, got \"%s\"", optarg);
				return CTL_USAGE;
			}
			break;
		default: fputs(usage, stderr); return CTL_USAGE;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	if (now != 0)
		store_set_fake_now(now);
	struct store_privacy_counts counts;
	const char *error;
	int rc = privacy_purge(st, ctl->cfg, NULL, store_now(), &counts, &error);
	store_set_fake_now(0);
	if (rc < 0) {
		ctl_error("%s", error);
		return CTL_FAIL;
	}
	if (ctl->json) {
		_cleanup_free_ char *json = privacy_counts_json(&counts);
		printf("{\"retention_days\": %u, \"counts\": %s}\n", ctl->cfg->privacy.retention_days,
		       json);
	} else if (ctl->cfg->privacy.retention_days == 0) {
		printf("No retention period (privacy.retention_days is 0): nothing purged.\n");
	} else {
		printf("Retention of %u days: purged\n", ctl->cfg->privacy.retention_days);
		print_counts(&counts, true);
	}
	return CTL_OK;
}

static int cmd_register(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl privacy register\n"
		"Prints the register of processing (what is kept and where, purposes,\n"
		"automatic decisions and how they are explained, retention, controller and\n"
		"contact) generated from the configuration.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc != 1) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct config *cfg = ctl_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	_cleanup_free_ char *text = privacy_register(cfg);
	fputs(text, stdout);
	return CTL_OK;
}

int ctl_cmd_privacy(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(privacy_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USAGE : CTL_OK;
	}
	static const struct {
		const char *name;
		ctl_command_fn *run;
	} subs[] = {
		{"export", cmd_export},
		{"erase", cmd_erase},
		{"purge", cmd_purge},
		{"register", cmd_register},
	};
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (strcmp(argv[1], subs[i].name) == 0) {
			optind = 0;
			return subs[i].run(ctl, argc - 1, argv + 1);
		}
	ctl_error("privacy: unknown command \"%s\"", argv[1]);
	fputs(privacy_usage, stderr);
	return CTL_USAGE;
}
