/* triagectl reply and triagectl outbox: an agent approving, editing or
 * rejecting a reply, and an administrator looking at and flushing the
 * outbox. Option parsing and display only; the work is in actions.c and
 * outbox.c. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "compose.h"
#include "config.h"
#include "ctl.h"
#include "view.h"
#include "kb.h"
#include "outbox.h"
#include "parse.h"
#include "store.h"
#include "store_outbox.h"
#include "strbuf.h"
#include "suggest.h"
#include "xalloc.h"

/* Reads a whole file of at most COMPOSE_MAX_BODY bytes. */
static int read_text(const char *path, char **text_r)
{
	int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ctl_error("%s: %s", path, strerror(errno));
		return -1;
	}
	struct strbuf sb;
	strbuf_init(&sb, COMPOSE_MAX_BODY + 1);
	char buf[8192];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (strbuf_append(&sb, buf, (size_t)n) < 0)
			break;
	int saved = errno;
	close(fd);
	if (n < 0 || sb.truncated) {
		if (n < 0)
			ctl_error("%s: %s", path, strerror(saved));
		else
			ctl_error("%s: longer than %d bytes", path, COMPOSE_MAX_BODY);
		strbuf_free(&sb);
		return -1;
	}
	*text_r = strbuf_steal(&sb);
	return 0;
}

/* Opens text in $EDITOR (vi when unset) on a private temporary file and
 * returns what was saved. */
static int edit_text(const char *text, char **text_r)
{
	const char *tmpdir = getenv("TMPDIR");
	_cleanup_free_ char *path =
	    xasprintf("%s/triagectl-reply-XXXXXX.txt", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
	/* mkstemps creates it 0600: the draft may hold customer data. */
	int fd = mkstemps(path, 4);
	if (fd < 0) {
		ctl_error("temporary file: %s", strerror(errno));
		return -1;
	}
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0) {
			ctl_error("%s: %s", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		done += (size_t)n;
	}
	close(fd);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		ctl_error("fork: %s", strerror(errno));
		unlink(path);
		return -1;
	}
	if (pid == 0) {
		/* Through the shell so that EDITOR may carry options ("emacs -nw"). */
		execl("/bin/sh", "sh", "-c", "exec ${EDITOR:-vi} \"$1\"", "sh", path, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ctl_error("the editor failed; nothing changed");
		unlink(path);
		return -1;
	}
	int rc = read_text(path, text_r);
	unlink(path);
	return rc;
}

static int action_status(int rc)
{
	return rc == ACTION_NOT_FOUND ? CTL_NOTFOUND : CTL_FAIL;
}

int ctl_cmd_reply(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl reply N --text-file F [--edit] [--approve [--all]] [STATUS]\n"
	    "       triagectl reply N --suggestion K [--edit] [--approve [--all]] [STATUS]\n"
	    "       triagectl reply N --reject K --reason TEXT\n"
	    "Shows the reply to ticket N (the text of file F, - for stdin, or the draft\n"
	    "of suggestion K); --edit opens it in $EDITOR first; --approve queues it in\n"
	    "the outbox, to the requester, answering the customer's last message;\n"
	    "--all copies it to whom that message was addressed or copied (Cc).\n"
	    "STATUS, once sent: --status S (default pending) or --keep-status.\n"
	    "--as AGENT acts as agent:EMAIL instead of cli:$USER.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
	    {"text-file", required_argument, NULL, 'f'},
	    {"suggestion", required_argument, NULL, 's'},
	    {"edit", no_argument, NULL, 'e'},
	    {"approve", no_argument, NULL, 'a'},
	    {"reject", required_argument, NULL, 'r'},
	    {"reason", required_argument, NULL, 'R'},
	    {"status", required_argument, NULL, 'S'},
	    {"keep-status", no_argument, NULL, 'k'},
	    {"all", no_argument, NULL, 'l'},
	    {"as", required_argument, NULL, 'A'},
	    {0},
	};
	const char *text_file = NULL, *reason = NULL, *as = NULL;
	int64_t suggestion = 0, reject = 0;
	bool edit = false, approve = false;
	struct action_reply_options opts = {0};
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			text_file = optarg;
			break;
		case 's':
		case 'r':
			if (parse_int64(optarg, 1, 1000, opt == 's' ? &suggestion : &reject) < 0) {
				ctl_error("--%s: expected a suggestion number 1..1000",
				          opt == 's' ? "suggestion" : "reject");
				return CTL_USAGE;
			}
			break;
		case 'e':
			edit = true;
			break;
		case 'a':
			approve = true;
			break;
		case 'R':
			reason = optarg;
			break;
		case 'S':
			if (ticket_status_parse(optarg, &opts.status_after) < 0) {
				ctl_error("--status: unknown status \"%s\"", optarg);
				return CTL_USAGE;
			}
			opts.set_status = true;
			break;
		case 'k':
			opts.keep_status = true;
			break;
		case 'l':
			opts.reply_all = true;
			break;
		case 'A':
			as = optarg;
			break;
		default:
			fputs(usage, stderr);
			return CTL_USAGE;
		}
	}
	int64_t ticket_id;
	if (optind + 1 != argc || parse_int64(argv[optind], 1, INT64_MAX, &ticket_id) < 0) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	int sources = (text_file != NULL) + (suggestion > 0) + (reject > 0);
	if (sources != 1 || (reject > 0 && (edit || approve)) || (reject == 0 && reason != NULL) ||
	    (opts.keep_status && opts.set_status) || (opts.reply_all && !approve)) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	_cleanup_free_ char *agent = as != NULL ? xstrdup(as) : ctl_cli_actor();
	if (!action_agent_valid(agent)) {
		ctl_error("invalid agent \"%s\" (expected agent:EMAIL)", agent);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	const char *error;
	if (reject > 0) {
		if (reason == NULL) {
			ctl_error("--reject needs --reason");
			return CTL_USAGE;
		}
		int rc = action_reject_suggestion(st, agent, ticket_id, (unsigned)reject, reason,
		                                  &error);
		if (rc < 0) {
			ctl_error("%s", error);
			return action_status(rc);
		}
		printf("suggestion %lld of ticket %lld rejected\n", (long long)reject,
		       (long long)ticket_id);
		return CTL_OK;
	}
	_cleanup_free_ char *text = NULL, *draft = NULL;
	if (suggestion > 0) {
		/* Article drafts are read through the kb's tokenizer. */
		if (kb_register(store_db(st), &error) < 0) {
			ctl_error("%s", error);
			return CTL_FAIL;
		}
		struct suggestion sug;
		int found = suggest_get(st, ticket_id, (int)suggestion, NULL, &sug, &error);
		if (found <= 0) {
			if (found < 0)
				ctl_error("%s", error);
			else
				ctl_error("ticket %lld has no suggestion %lld",
				          (long long)ticket_id, (long long)suggestion);
			return found < 0 ? CTL_FAIL : CTL_NOTFOUND;
		}
		if (sug.status != SUGGESTION_PROPOSED && approve) {
			ctl_error("suggestion %lld was already %s", (long long)suggestion,
			          suggestion_status_name(sug.status));
			suggestion_clear(&sug);
			return CTL_DATAERR;
		}
		text = xstrdup(sug.draft != NULL ? sug.draft : "");
		suggestion_clear(&sug);
	} else if (read_text(text_file, &text) < 0) {
		return CTL_DATAERR;
	}
	/* The edit ratio compares what was sent with what the agent was shown. */
	draft = xstrdup(text);
	opts.draft = draft;
	if (edit) {
		char *edited;
		if (edit_text(draft, &edited) < 0)
			return CTL_FAIL;
		free(text);
		text = edited;
	}
	struct ticket t;
	int found = store_ticket_get(st, ticket_id, &t);
	if (found <= 0) {
		if (found < 0)
			ctl_error("%s", store_error(st));
		else
			ctl_error("no ticket %lld", (long long)ticket_id);
		return found < 0 ? CTL_FAIL : CTL_NOTFOUND;
	}
	_cleanup_free_ char *subject = compose_reply_subject(t.subject, t.id);
	if (!approve || !ctl->json) {
		printf("To: %s\nSubject: %s\n\n%s%s", t.requester, subject, text,
		       text[0] != '\0' && text[strlen(text) - 1] != '\n' ? "\n" : "");
	}
	ticket_clear(&t);
	if (!approve) {
		fputs("(not queued: add --approve to send it)\n", stderr);
		return CTL_OK;
	}
	int64_t outbox_id;
	int rc = action_reply(st, ctl_config(ctl), agent, ticket_id, text, (unsigned)suggestion,
	                      &opts, &outbox_id, &error);
	if (rc < 0) {
		ctl_error("%s", error);
		return action_status(rc);
	}
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "outbox_id", (double)outbox_id);
		cJSON_AddNumberToObject(o, "ticket", (double)ticket_id);
		char *out = cJSON_Print(o);
		puts(out);
		cJSON_free(out);
		cJSON_Delete(o);
	} else {
		printf("queued as outbox mail %lld\n", (long long)outbox_id);
	}
	return CTL_OK;
}

static int outbox_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
	    {"status", required_argument, NULL, 's'},
	    {"ticket", required_argument, NULL, 't'},
	    {"limit", required_argument, NULL, 'l'},
	    {0},
	};
	const char *status = NULL;
	int64_t ticket = 0, limit = 100;
	enum outbox_status parsed;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (outbox_status_parse(optarg, &parsed) < 0) {
				ctl_error("--status: expected queued, sending, sent or failed");
				return CTL_USAGE;
			}
			status = optarg;
			break;
		case 't':
			if (parse_int64(optarg, 1, INT64_MAX, &ticket) < 0) {
				ctl_error("--ticket: expected a ticket number");
				return CTL_USAGE;
			}
			break;
		case 'l':
			if (parse_int64(optarg, 1, 100000, &limit) < 0) {
				ctl_error("--limit: expected a number 1..100000");
				return CTL_USAGE;
			}
			break;
		default:
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		ctl_error("outbox: unexpected argument \"%s\"", argv[optind]);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct outbox_row *rows = NULL;
	size_t n = 0;
	if (store_outbox_list(st, status, ticket, (unsigned)limit, &rows, &n) < 0) {
		ctl_error("%s", store_error(st));
		return CTL_FAIL;
	}
	char b1[32];
	if (ctl->json) {
		cJSON *arr = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			const struct outbox_row *r = &rows[i];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "id", (double)r->id);
			if (r->ticket_id > 0)
				cJSON_AddNumberToObject(o, "ticket", (double)r->ticket_id);
			else
				cJSON_AddNullToObject(o, "ticket");
			cJSON_AddStringToObject(o, "kind", outbox_kind_name(r->kind));
			cJSON_AddStringToObject(o, "status", outbox_status_name(r->status));
			view_add_str(o, "message_id", r->message_id);
			view_add_str(o, "to", r->to_addr);
			view_add_str(o, "cc", r->cc_addrs);
			view_add_str(o, "subject", r->subject);
			cJSON_AddNumberToObject(o, "attempts", r->attempts);
			view_add_time(o, "next_attempt",
			         r->status == OUTBOX_QUEUED ? r->next_attempt : 0, VIEW_TIME_ISO);
			view_add_str(o, "last_error", r->last_error);
			view_add_time(o, "created", r->created, VIEW_TIME_ISO);
			view_add_time(o, "accepted_at", r->accepted_at, VIEW_TIME_ISO);
			view_add_str(o, "agent", r->agent);
			if (r->suggestion_rank > 0)
				cJSON_AddNumberToObject(o, "suggestion", r->suggestion_rank);
			else
				cJSON_AddNullToObject(o, "suggestion");
			cJSON_AddItemToArray(arr, o);
		}
		char *out = cJSON_Print(arr);
		puts(out);
		cJSON_free(out);
		cJSON_Delete(arr);
	} else {
		printf("%-6s %-8s %-6s %-7s %-3s %-20s %-30s %s\n", "ID", "STATUS", "KIND",
		       "TICKET", "TRY", "NEXT/SENT", "TO", "LAST ERROR");
		for (size_t i = 0; i < n; i++) {
			const struct outbox_row *r = &rows[i];
			int64_t when = r->status == OUTBOX_SENT     ? r->accepted_at
			               : r->status == OUTBOX_QUEUED ? r->next_attempt
			                                            : 0;
			printf("%-6lld %-8s %-6s %-7lld %-3u %-20s %-30s %s\n", (long long)r->id,
			       outbox_status_name(r->status), outbox_kind_name(r->kind),
			       (long long)r->ticket_id, r->attempts, view_utc(when, b1), r->to_addr,
			       r->last_error ? r->last_error : "");
		}
	}
	outbox_rows_free(&rows, n);
	return CTL_OK;
}

static int outbox_send(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"max", required_argument, NULL, 'm'},
	    {0},
	};
	bool all = false;
	int64_t max = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'a':
			all = true;
			break;
		case 'm':
			if (parse_int64(optarg, 1, 1000000, &max) < 0) {
				ctl_error("--max: expected a number 1..1000000");
				return CTL_USAGE;
			}
			break;
		default:
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		ctl_error("outbox send: unexpected argument \"%s\"", argv[optind]);
		return CTL_USAGE;
	}
	struct config *cfg = ctl_config(ctl);
	struct store *st = cfg != NULL ? ctl_store(ctl) : NULL;
	if (st == NULL)
		return CTL_FAIL;
	const char *error;
	struct outbox_send_stats stats;
	if (outbox_global_init(&error) < 0 ||
	    outbox_send_due(st, cfg, (unsigned)max, all, &stats, &error) < 0) {
		ctl_error("%s", error);
		return cfg->smtp.configured ? CTL_FAIL : CTL_CONFIG;
	}
	printf("sent %u, retry later %u, failed %u, interrupted %u\n", stats.sent, stats.retried,
	       stats.failed, stats.interrupted);
	return stats.retried + stats.failed + stats.interrupted > 0 ? CTL_UNAVAILABLE : CTL_OK;
}

static int outbox_requeue_cmd(struct ctl *ctl, int argc, char **argv)
{
	int64_t id;
	if (argc != 2 || parse_int64(argv[1], 1, INT64_MAX, &id) < 0) {
		ctl_error("usage: triagectl outbox requeue ID");
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	_cleanup_free_ char *agent = ctl_cli_actor();
	const char *error;
	if (outbox_requeue(st, id, agent, &error) < 0) {
		ctl_error("%s", error);
		return CTL_FAIL;
	}
	printf("outbox mail %lld queued again\n", (long long)id);
	return CTL_OK;
}

static int outbox_show(struct ctl *ctl, int argc, char **argv)
{
	int64_t id;
	if (argc != 2 || parse_int64(argv[1], 1, INT64_MAX, &id) < 0) {
		ctl_error("usage: triagectl outbox show ID");
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct outbox_row r;
	int found = store_outbox_get(st, id, &r);
	if (found <= 0) {
		ctl_error(found < 0 ? "%s" : "no outbox mail %s",
		          found < 0 ? store_error(st) : argv[1]);
		return found < 0 ? CTL_FAIL : CTL_NOTFOUND;
	}
	fputs(r.raw, stdout);
	outbox_row_clear(&r);
	return CTL_OK;
}

int ctl_cmd_outbox(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl outbox [--status S] [--ticket N] [--limit N] [--json]\n"
	    "       triagectl outbox send [--all] [--max N]\n"
	    "       triagectl outbox requeue ID\n"
	    "       triagectl outbox show ID\n"
	    "Lists outgoing mail with its status (queued, sending, sent, failed).\n"
	    "send: sends what is due now (--all: every queued mail, due or not); exits 69\n"
	    "when some mail could not be sent. requeue: sends a failed mail again, once\n"
	    "you checked that it did not arrive. show: prints the mail as sent.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return outbox_send(ctl, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "requeue") == 0)
		return outbox_requeue_cmd(ctl, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return outbox_show(ctl, argc - 1, argv + 1);
	if (argc >= 2 && argv[1][0] != '-') {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	return outbox_list(ctl, argc, argv);
}
