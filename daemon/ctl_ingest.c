/* triagectl ingest: one raw mail from stdin becomes a ticket (or joins its
 * thread). This is also how an MTA can pipe mail in (e.g. from an alias). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "ingest.h"
#include "mime.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

#define INGEST_STDIN_MAX (64u << 20)

int ctl_cmd_ingest(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl ingest [--mailbox NAME] < MAIL\n"
		"Stores one raw RFC 5322 mail read from standard input as a new ticket, or\n"
		"adds it to the ticket it answers, triaged like mail fetched over IMAP.\n"
		"Prints the ticket number. --mailbox files it under that mailbox's queue.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
		{"mailbox", required_argument, NULL, 'm'},
		{0},
	};
	const char *mailbox = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'm': mailbox = optarg; break;
		default: fputs(usage, stderr); return CTL_USAGE;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct config *cfg = ctl_config(ctl);
	if (cfg == NULL)
		return CTL_CONFIG;
	if (mailbox != NULL && config_mailbox(cfg, mailbox) == NULL) {
		ctl_error("--mailbox: no mailbox \"%s\" in %s", mailbox, cfg->path);
		return CTL_USAGE;
	}
	struct strbuf raw;
	strbuf_init(&raw, INGEST_STDIN_MAX);
	char chunk[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
		if (strbuf_append(&raw, chunk, (size_t)n) < 0)
			break;
	if (n < 0) {
		ctl_error("reading standard input failed");
		strbuf_free(&raw);
		return CTL_FAIL;
	}
	if (raw.truncated)
		ctl_error("warning: the mail is larger than %u bytes; its end is not stored",
			  INGEST_STDIN_MAX);
	if (raw.len == 0) {
		ctl_error("no mail on standard input");
		strbuf_free(&raw);
		return CTL_DATAERR;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL) {
		strbuf_free(&raw);
		return CTL_FAIL;
	}
	struct ingest *ing;
	const char *error;
	if (ingest_open(st, cfg, &ing, &error) < 0) {
		ctl_error("%s", error);
		strbuf_free(&raw);
		return CTL_CONFIG;
	}
	/* A piped mail has no UID: (mailbox, uidvalidity, uid) stays unset and
	 * the Message-ID (or the content hash) keeps it from being stored twice. */
	struct ingest_source src = {.mailbox = mailbox, .has_uid = false,
				    .truncated = raw.truncated};
	struct ingest_result res;
	int rc = CTL_OK;
	error = NULL;
	if (store_begin(st) < 0 || ingest_mail(ing, &src, raw.data, raw.len, &res, &error) < 0 ||
	    store_commit(st) < 0) {
		store_rollback(st);
		ctl_error("cannot store the mail: %s", error ? error : store_error(st));
		rc = CTL_FAIL;
	} else if (ctl->json) {
		printf("{\"ticket\": %lld, \"new_ticket\": %s, \"duplicate\": %s}\n",
		       (long long)res.ticket_id, res.new_ticket ? "true" : "false",
		       res.duplicate ? "true" : "false");
	} else {
		printf("%lld\n", (long long)res.ticket_id);
		if (res.duplicate)
			fprintf(stderr, "triagectl: already stored in ticket %lld\n",
				(long long)res.ticket_id);
	}
	ingest_free(&ing);
	strbuf_free(&raw);
	return rc;
}
