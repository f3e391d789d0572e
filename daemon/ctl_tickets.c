/* triagectl init, tickets, show, stats: reading and creating the store. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctl.h"
#include "fileio.h"
#include "http.h"
#include "actions.h"
#include "parse.h"
#include "store.h"
#include "sla.h"
#include "store_sla.h"
#include "view.h"
#include "store_suggestions.h"
#include "calendar.h"
#include "xalloc.h"

int ctl_cmd_init(struct ctl *ctl, int argc, char **argv)
{
	if (ctl_wants_help(argc, argv,
			   "usage: triagectl init\n"
			   "Creates the database named by the configuration, or migrates it to the\n"
			   "current schema. Safe to run again.\n"))
		return CTL_OK;
	if (argc > 1) {
		ctl_error("init takes no arguments");
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	printf("%s: schema version %d\n", ctl->cfg->database, store_schema_version(st));
	return CTL_OK;
}


int ctl_cmd_tickets(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl tickets [--status S] [--queue Q] [--requester ADDR]\n"
		"                         [--search TEXT] [--sort due|created] [--limit N] [--json]\n"
		"Lists tickets, newest first (or most urgent first with --sort due).\n"
		"S is new, open, pending, resolved, closed, or active (new+open+pending).\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
		{"status", required_argument, NULL, 's'},
		{"queue", required_argument, NULL, 'q'},
		{"requester", required_argument, NULL, 'r'},
		{"search", required_argument, NULL, 't'},
		{"sort", required_argument, NULL, 'o'},
		{"limit", required_argument, NULL, 'l'},
		{0},
	};
	struct ticket_filter f = {0};
	int opt;
	_cleanup_free_ char *search = NULL;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int64_t n;
		enum ticket_status status;
		switch (opt) {
		case 's':
			if (strcmp(optarg, "active") != 0 && ticket_status_parse(optarg, &status) < 0) {
				ctl_error("--status: unknown status \"%s\"", optarg);
				return CTL_USAGE;
			}
			f.status = optarg;
			break;
		case 'q': f.queue = optarg; break;
		case 'r': f.requester = optarg; break;
		case 't':
			/* Words, as in the console's search box: FTS5 operators and
			 * punctuation typed ("CMD-2024-10517") are not syntax. */
			free(search);
			search = http_fts_query(optarg);
			f.text = search != NULL ? search : "\"\"";
			break;
		case 'o':
			if (strcmp(optarg, "due") != 0 && strcmp(optarg, "created") != 0) {
				ctl_error("--sort: expected due or created");
				return CTL_USAGE;
			}
			f.sort_by_due = strcmp(optarg, "due") == 0;
			break;
		case 'l':
			if (parse_int64(optarg, 1, 1000000, &n) < 0) {
				ctl_error("--limit: expected a number 1..1000000");
				return CTL_USAGE;
			}
			f.limit = (unsigned)n;
			break;
		default: fputs(usage, stderr); return CTL_USAGE;
		}
	}
	if (optind < argc) {
		ctl_error("unexpected argument \"%s\"", argv[optind]);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct ticket *list;
	size_t n;
	if (store_ticket_list(st, &f, &list, &n) < 0) {
		ctl_error("cannot list tickets: %s", store_error(st));
		return CTL_FAIL;
	}
	/* The list shows the earliest due time of the running clocks (as the
	 * console does), not next_due, which is a warning's time until the
	 * warning has fired. */
	int64_t now = store_now();
	struct sla_summary *sla = xcalloc(n > 0 ? n : 1, sizeof(*sla));
	for (size_t i = 0; i < n; i++) {
		const char *error;
		if (sla_ticket_summary(st, list[i].id, now, &sla[i], &error) < 0) {
			ctl_error("cannot read the SLA clocks: %s", error);
			free(sla);
			ticket_list_free(&list, n);
			return CTL_FAIL;
		}
	}
	if (ctl->json) {
		cJSON *array = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			cJSON *o = view_ticket(&list[i], VIEW_TIME_ISO);
			view_add_sla_summary(o, &sla[i], VIEW_TIME_ISO);
			cJSON_AddItemToArray(array, o);
		}
		ctl_print_json(array);
	} else {
		printf("%5s  %-8s  %-10s  %-8s  %-10s  %-8s  %-17s  %s\n", "ID", "STATUS", "QUEUE",
		       "PRIORITY", "CATEGORY", "MOOD", "SLA DUE (UTC)", "SUBJECT");
		for (size_t i = 0; i < n; i++) {
			const struct ticket *t = &list[i];
			char buf[32], due[40];
			/* "!" after a breached deadline; "paused" while the
			 * customer is waited for */
			if (sla[i].due == 0 && sla[i].paused)
				snprintf(due, sizeof(due), "paused");
			else
				snprintf(due, sizeof(due), "%.16s%s", view_utc(sla[i].due, buf),
					 sla[i].breached ? "!" : "");
			printf("%5lld  %-8s  %-10s  %-8s  %-10s  %-8s  %-17s  %.60s\n",
			       (long long)t->id, ticket_status_name(t->status), t->queue,
			       ticket_priority_name(t->priority), t->category ? t->category : "-",
			       t->sentiment_label ? t->sentiment_label : "-", due, t->subject);
		}
	}
	free(sla);
	ticket_list_free(&list, n);
	return CTL_OK;
}

int ctl_cmd_show(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
		"usage: triagectl show N [--json]\n"
		"Shows ticket N: its messages, the triage decisions with their reasons, the\n"
		"suggested replies and the audit events.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	int64_t id;
	if (argc != 2 || parse_int64(argv[1], 1, INT64_MAX, &id) < 0) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct ticket t;
	int found = ctl->json ? 1 : store_ticket_get(st, id, &t);
	if (found > 0 && ctl->json) {
		cJSON *o = NULL;
		found = view_ticket_detail(st, id, VIEW_TIME_ISO, &o);
		if (found > 0)
			ctl_print_json(o);
	}
	if (found <= 0) {
		if (found < 0)
			ctl_error("%s", store_error(st));
		else
			ctl_error("no ticket %lld", (long long)id);
		return found < 0 ? CTL_FAIL : CTL_NOTFOUND;
	}
	if (ctl->json)
		return CTL_OK;
	struct message_row *msgs = NULL;
	struct triage_row *triage = NULL;
	struct event_row *events = NULL;
	size_t n_msgs = 0, n_triage = 0, n_events = 0;
	if (store_message_list(st, id, &msgs, &n_msgs) < 0 ||
	    store_triage_list(st, id, &triage, &n_triage) < 0 ||
	    store_event_list(st, id, &events, &n_events) < 0) {
		ctl_error("%s", store_error(st));
		ticket_clear(&t);
		message_rows_free(&msgs, n_msgs);
		triage_rows_free(&triage, n_triage);
		return CTL_FAIL;
	}
	struct suggestion *sugg = NULL;
	size_t n_sugg = 0;
	if (store_suggestion_list(st, id, &sugg, &n_sugg) < 0) {
		ctl_error("%s", store_error(st));
		n_sugg = 0;
	}
	struct sla_clock_row *clocks = NULL;
	size_t n_clocks = 0;
	if (store_sla_clocks_all(st, id, &clocks, &n_clocks) < 0) {
		ctl_error("%s", store_error(st));
		n_clocks = 0;
	}
	char buf[32];
	printf("Ticket #%lld  %s\n", (long long)t.id, t.subject);
	printf("  requester: %s%s%s%s\n", t.requester_name ? t.requester_name : "",
	       t.requester_name ? " <" : "", t.requester, t.requester_name ? ">" : "");
	printf("  status: %s   queue: %s   priority: %s   assignee: %s\n",
	       ticket_status_name(t.status), t.queue, ticket_priority_name(t.priority),
	       t.assignee ? t.assignee : "-");
	if (t.merged_into > 0)
		printf("  merged into #%lld: its messages are there\n", (long long)t.merged_into);
	printf("  created: %s", view_utc(t.created, buf));
	printf("   first response: %s\n", view_utc(t.first_response_at, buf));
	if (t.tags != NULL && t.tags[0] != '\0') {
		/* Stored as ",a,b," for exact matching; shown as "a, b". */
		printf("  tags:");
		for (const char *p = t.tags; *p != '\0';) {
			size_t len = strcspn(p, ",");
			if (len > 0)
				printf(" %.*s", (int)len, p);
			p += len + (p[len] == ',');
		}
		printf("\n");
	}
	if (n_triage > 0)
		printf("\nTriage:\n");
	for (size_t i = 0; i < n_triage; i++) {
		/* The explanation gives the number with its meaning; without
		 * one, the number: the label's confidence, but the spam
		 * probability whichever the label (a "ham" at 0.02 is not
		 * unsure), and the sentiment's own score. */
		const struct triage_row *d = &triage[i];
		const char *text = d->explanation;
		char measure[48];
		if (text == NULL || text[0] == '\0') {
			if (strcmp(d->task, "spam") == 0)
				snprintf(measure, sizeof(measure), "spam probability %.2f", d->score);
			else if (strcmp(d->task, "sentiment") == 0)
				snprintf(measure, sizeof(measure), "score %+.2f", d->score);
			else
				snprintf(measure, sizeof(measure), "confidence %.2f", d->confidence);
			text = measure;
		}
		printf("  %-9s %-12s %s\n", d->task, d->label ? d->label : "-", text);
	}
	if (n_clocks > 0)
		printf("\nSLA:\n");
	for (size_t i = 0; i < n_clocks; i++) {
		const struct sla_clock_row *c = &clocks[i];
		char due[32], local[48] = "";
		const struct cfg_calendar *cc = config_calendar(ctl->cfg, c->calendar);
		const struct calendar *cal = cc != NULL ? cc->cal : NULL;
		if (cal != NULL && c->due > 0 &&
		    cal_format_local(cal, c->due, local, sizeof(local)) == 0) {
			memmove(local + 2, local, strlen(local) + 1);
			local[0] = ',';
			local[1] = ' ';
		}
		printf("  %-15s %-12s %-4lld min  due %s%s  %s%s\n", c->target, c->policy,
		       (long long)c->minutes, view_utc(c->due, due), local, c->state,
		       c->breached_at > 0 ? " (breached)" : "");
	}
	if (n_sugg > 0)
		printf("\nSuggestions:\n");
	for (size_t i = 0; i < n_sugg; i++)
		printf("  %d. %-7s %-24s %7.3f  %-8s %s\n", sugg[i].rank, sugg[i].kind,
		       sugg[i].ref, sugg[i].score, suggestion_status_name(sugg[i].status),
		       sugg[i].title ? sugg[i].title : "");
	/* The first proposal's draft, as the agent would send it. */
	for (size_t i = 0; i < n_sugg; i++) {
		if (sugg[i].status != SUGGESTION_PROPOSED || sugg[i].draft == NULL)
			continue;
		printf("\nDraft of suggestion %d (triagectl reply %lld --suggestion %d):\n",
		       sugg[i].rank, (long long)t.id, sugg[i].rank);
		for (const char *p = sugg[i].draft; *p != '\0';) {
			size_t len = strcspn(p, "\n");
			printf("  | %.*s\n", (int)len, p);
			p += len + (p[len] == '\n');
		}
		break;
	}
	/* The mails and the agents' internal notes, in the order they came. */
	size_t next_event = 0;
	for (size_t i = 0; i <= n_msgs; i++) {
		int64_t until = i < n_msgs ? msgs[i].received : INT64_MAX;
		for (; next_event < n_events && events[next_event].at < until; next_event++) {
			const struct event_row *e = &events[next_event];
			if (strcmp(e->kind, "note") != 0)
				continue;
			cJSON *d = view_parse_detail(e->detail);
			const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "text"));
			printf("\n--- internal note by %s, %s\n%s\n", e->actor, view_utc(e->at, buf),
			       text ? text : "");
			cJSON_Delete(d);
		}
		if (i == n_msgs)
			break;
		const struct message_row *m = &msgs[i];
		printf("\n--- message %zu (%s) from %s, %s%s\n", i + 1,
		       m->outgoing ? "sent" : "received", m->from_addr ? m->from_addr : "?",
		       view_utc(m->date ? m->date : m->received, buf),
		       m->n_attachments ? ", with attachments" : "");
		if (m->cc_addrs != NULL && m->cc_addrs[0] != '\0')
			printf("cc: %s\n", m->cc_addrs);
		if (m->merged_from > 0)
			printf("(moved here from ticket #%lld, merged)\n", (long long)m->merged_from);
		if (m->parse_error != NULL)
			printf("(could not be parsed: %s)\n", m->parse_error);
		printf("%s\n", m->new_text ? m->new_text : m->body_text ? m->body_text : "");
	}
	if (n_events > 0)
		printf("\nEvents:\n");
	for (size_t i = 0; i < n_events; i++)
		printf("  %s  %-22s %-24s %s\n", view_utc(events[i].at, buf), events[i].kind,
		       events[i].actor, events[i].detail ? events[i].detail : "");
	ticket_clear(&t);
	message_rows_free(&msgs, n_msgs);
	triage_rows_free(&triage, n_triage);
	event_rows_free(&events, n_events);
	suggestion_list_free(&sugg, n_sugg);
	sla_clock_rows_free(&clocks, n_clocks);
	return CTL_OK;
}

int ctl_cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	if (ctl_wants_help(argc, argv, "usage: triagectl stats [--json]\n"
				       "Counts of tickets (by status), messages, attachments and events.\n"))
		return CTL_OK;
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	struct store_stats s;
	if (store_stats(st, &s) < 0) {
		ctl_error("%s", store_error(st));
		return CTL_FAIL;
	}
	static const char *const names[] = {"new", "open", "pending", "resolved", "closed"};
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "tickets", (double)s.tickets);
		cJSON_AddNumberToObject(o, "messages", (double)s.messages);
		cJSON_AddNumberToObject(o, "attachments", (double)s.attachments);
		cJSON_AddNumberToObject(o, "events", (double)s.events);
		cJSON *by = cJSON_AddObjectToObject(o, "by_status");
		for (int i = 0; i < 5; i++)
			cJSON_AddNumberToObject(by, names[i], (double)s.by_status[i]);
		ctl_print_json(o);
	} else {
		printf("tickets:     %lld\nmessages:    %lld\nattachments: %lld\nevents:      %lld\n",
		       (long long)s.tickets, (long long)s.messages, (long long)s.attachments,
		       (long long)s.events);
		for (int i = 0; i < 5; i++)
			printf("  %-9s  %lld\n", names[i], (long long)s.by_status[i]);
	}
	return CTL_OK;
}

/* ---- status, priority, assign, queue: one action of the core each ---- */

enum ticket_field { FIELD_STATUS, FIELD_PRIORITY, FIELD_ASSIGNEE, FIELD_QUEUE };

/* The identity an agent action is recorded under: --as agent:EMAIL, or
 * cli:USER; NULL (after saying why) for any other --as. */
static char *action_actor(const char *as)
{
	if (as != NULL && strncmp(as, "agent:", 6) != 0) {
		ctl_error("--as: expected agent:EMAIL");
		return NULL;
	}
	return as != NULL ? xstrdup(as) : ctl_cli_actor();
}

/* The exit code of an agent action on ticket id: 66 when there is no such
 * ticket, fail_code with the action's message on any other failure. */
static int action_exit(int rc, int64_t id, const char *error, int fail_code)
{
	if (rc == ACTION_NOT_FOUND) {
		ctl_error("no ticket %lld", (long long)id);
		return CTL_NOTFOUND;
	}
	if (rc < 0) {
		ctl_error("%s", error);
		return fail_code;
	}
	return CTL_OK;
}

static int set_field(struct ctl *ctl, int argc, char **argv, enum ticket_field field,
		     const char *usage)
{
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
		{"as", required_argument, NULL, 'a'},
		{0},
	};
	const char *as = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt != 'a') {
			fputs(usage, stderr);
			return CTL_USAGE;
		}
		as = optarg;
	}
	int64_t id;
	if (argc - optind != 2 || parse_int64(argv[optind], 1, INT64_MAX, &id) < 0) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	const char *value = argv[optind + 1];
	_cleanup_free_ char *actor = action_actor(as);
	if (actor == NULL)
		return CTL_USAGE;
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	const char *error = "?";
	int rc;
	switch (field) {
	case FIELD_STATUS: {
		enum ticket_status status;
		if (ticket_status_parse(value, &status) < 0) {
			ctl_error("unknown status \"%s\" (new, open, pending, resolved, closed)", value);
			return CTL_USAGE;
		}
		rc = action_set_status(st, ctl->cfg, actor, id, status, &error);
		break;
	}
	case FIELD_PRIORITY: {
		enum ticket_priority priority;
		if (ticket_priority_parse(value, &priority) < 0) {
			ctl_error("unknown priority \"%s\" (low, normal, high, urgent)", value);
			return CTL_USAGE;
		}
		rc = action_set_priority(st, ctl->cfg, actor, id, priority, &error);
		break;
	}
	case FIELD_ASSIGNEE:
		rc = action_assign(st, actor, id, strcmp(value, "-") == 0 ? NULL : value, &error);
		break;
	case FIELD_QUEUE:
	default:
		rc = action_set_queue(st, ctl->cfg, actor, id, value, &error);
		break;
	}
	return action_exit(rc, id, error, CTL_FAIL);
}

int ctl_cmd_set_status(struct ctl *ctl, int argc, char **argv)
{
	return set_field(ctl, argc, argv, FIELD_STATUS,
			 "usage: triagectl status N new|open|pending|resolved|closed [--as agent:EMAIL]\n"
			 "Sets ticket N's status (pending pauses its SLA clocks, resolved stops them),\n"
			 "recorded in the audit log under cli:USER or the agent given.\n");
}

int ctl_cmd_set_priority(struct ctl *ctl, int argc, char **argv)
{
	return set_field(ctl, argc, argv, FIELD_PRIORITY,
			 "usage: triagectl priority N low|normal|high|urgent [--as agent:EMAIL]\n"
			 "Sets ticket N's priority (its SLA policy is chosen again).\n");
}

int ctl_cmd_assign(struct ctl *ctl, int argc, char **argv)
{
	return set_field(ctl, argc, argv, FIELD_ASSIGNEE,
			 "usage: triagectl assign N AGENT|- [--as agent:EMAIL]\n"
			 "Assigns ticket N to AGENT (an address), or to nobody with -.\n");
}

int ctl_cmd_set_queue(struct ctl *ctl, int argc, char **argv)
{
	return set_field(ctl, argc, argv, FIELD_QUEUE,
			 "usage: triagectl queue N QUEUE [--as agent:EMAIL]\n"
			 "Moves ticket N to QUEUE (one of the configuration's queues).\n");
}

/* ---- note: an internal note ---- */

int ctl_cmd_note(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl note N TEXT | N --text-file F|- [--as agent:EMAIL]\n"
	    "Adds an internal note to ticket N: for the other agents, never sent to the\n"
	    "customer, shown in the ticket's history (as cli:USER or the agent given).\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
		{"as", required_argument, NULL, 'a'},
		{"text-file", required_argument, NULL, 'f'},
		{0},
	};
	const char *as = NULL, *file = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'a') {
			as = optarg;
		} else if (opt == 'f') {
			file = optarg;
		} else {
			fputs(usage, stderr);
			return CTL_USAGE;
		}
	}
	int64_t id;
	if (argc - optind != (file != NULL ? 1 : 2) ||
	    parse_int64(argv[optind], 1, INT64_MAX, &id) < 0) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	_cleanup_free_ char *actor = action_actor(as);
	if (actor == NULL)
		return CTL_USAGE;
	_cleanup_free_ char *read = NULL;
	const char *text = file == NULL ? argv[optind + 1] : NULL;
	if (file != NULL) {
		size_t len;
		const char *e;
		if (file_read_all(strcmp(file, "-") == 0 ? "/dev/stdin" : file, ACTION_MAX_NOTE, &read,
		                  &len, &e) < 0) {
			ctl_error("%s: %s", file, e);
			return CTL_DATAERR;
		}
		text = read;
	}
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	const char *error = "?";
	int rc = action_add_note(st, actor, id, text, &error);
	return action_exit(rc, id, error, CTL_DATAERR);
}

int ctl_cmd_merge(struct ctl *ctl, int argc, char **argv)
{
	static const char usage[] =
	    "usage: triagectl merge N --into M [--as agent:EMAIL]\n"
	    "Merges ticket N into ticket M, the same customer having written twice about\n"
	    "the same thing: N's messages move to M, N is closed (its SLA clocks stop,\n"
	    "unmet) and takes no more actions, its tags join M's; if N still waited\n"
	    "for an answer, a pending, resolved or closed M opens again. Replies to N\n"
	    "and its [#N] subject tag lead to M from then on. There is no undo.\n";
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	static const struct option options[] = {
		{"into", required_argument, NULL, 'i'},
		{"as", required_argument, NULL, 'a'},
		{0},
	};
	const char *into = NULL, *as = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'i') {
			into = optarg;
		} else if (opt == 'a') {
			as = optarg;
		} else {
			fputs(usage, stderr);
			return CTL_USAGE;
		}
	}
	int64_t source, target;
	if (argc - optind != 1 || into == NULL ||
	    parse_int64(argv[optind], 1, INT64_MAX, &source) < 0 ||
	    parse_int64(into, 1, INT64_MAX, &target) < 0) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	_cleanup_free_ char *actor = action_actor(as);
	if (actor == NULL)
		return CTL_USAGE;
	struct store *st = ctl_store(ctl);
	if (st == NULL)
		return CTL_FAIL;
	const char *error = "?";
	int64_t moved = 0;
	int rc = action_merge(st, ctl->cfg, actor, source, target, &moved, &error);
	if (rc < 0)
		return action_exit(rc, source, error, CTL_DATAERR);
	printf("ticket %lld merged into %lld (%lld messages moved)\n", (long long)source,
	       (long long)target, (long long)moved);
	return CTL_OK;
}
