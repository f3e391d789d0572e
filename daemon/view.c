/* JSON views of tickets for triagectl and the web API. */
#include "view.h"

#include <string.h>
#include <time.h>

#include "sla.h"
#include "store.h"
#include "store_sla.h"
#include "store_suggestions.h"
#include "xalloc.h"

const char *view_utc(int64_t t, char buf[32])
{
	if (t <= 0)
		return "-";
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

void view_add_str(cJSON *o, const char *key, const char *value)
{
	if (value != NULL)
		cJSON_AddStringToObject(o, key, value);
	else
		cJSON_AddNullToObject(o, key);
}

void view_add_time(cJSON *o, const char *key, int64_t t, enum view_time style)
{
	char buf[32];
	if (t <= 0)
		cJSON_AddNullToObject(o, key);
	else if (style == VIEW_TIME_EPOCH)
		cJSON_AddNumberToObject(o, key, (double)t);
	else
		cJSON_AddStringToObject(o, key, view_utc(t, buf));
}

void view_add_sla_summary(cJSON *o, const struct sla_summary *sla, enum view_time style)
{
	view_add_time(o, "due", sla->due, style);
	cJSON_AddBoolToObject(o, "breached", sla->breached);
	cJSON_AddBoolToObject(o, "sla_paused", sla->paused);
}

cJSON *view_parse_detail(const char *detail)
{
	cJSON *d = detail != NULL ? cJSON_Parse(detail) : NULL;
	return d != NULL ? d : cJSON_CreateNull();
}

cJSON *view_ticket(const struct ticket *t, enum view_time style)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)t->id);
	cJSON_AddStringToObject(o, "status", ticket_status_name(t->status));
	view_add_str(o, "queue", t->queue);
	view_add_str(o, "subject", t->subject);
	view_add_str(o, "requester", t->requester);
	view_add_str(o, "requester_name", t->requester_name);
	cJSON_AddStringToObject(o, "priority", ticket_priority_name(t->priority));
	view_add_str(o, "assignee", t->assignee);
	view_add_str(o, "language", t->language);
	view_add_str(o, "category", t->category);
	cJSON_AddNumberToObject(o, "category_confidence", t->category_confidence);
	cJSON_AddBoolToObject(o, "spam", t->spam);
	cJSON_AddNumberToObject(o, "sentiment", t->sentiment);
	view_add_str(o, "sentiment_label", t->sentiment_label);
	view_add_time(o, "created", t->created, style);
	view_add_time(o, "updated", t->updated, style);
	view_add_time(o, "first_response_at", t->first_response_at, style);
	view_add_time(o, "next_due", t->next_due, style);
	if (t->merged_into > 0)
		cJSON_AddNumberToObject(o, "merged_into", (double)t->merged_into);
	else
		cJSON_AddNullToObject(o, "merged_into");
	/* Stored as ",a,b," so that a tag is matched whole; shown as a list. */
	cJSON *tags = cJSON_AddArrayToObject(o, "tags");
	for (const char *p = t->tags != NULL ? t->tags : ""; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len > 0) {
			_cleanup_free_ char *tag = xstrndup(p, len);
			cJSON_AddItemToArray(tags, cJSON_CreateString(tag));
		}
		p += len + (p[len] == ',');
	}
	return o;
}

static void add_messages(cJSON *o, const struct message_row *msgs, size_t n,
			 enum view_time style)
{
	cJSON *jm = cJSON_AddArrayToObject(o, "messages");
	for (size_t i = 0; i < n; i++) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddNumberToObject(m, "id", (double)msgs[i].id);
		cJSON_AddStringToObject(m, "direction", msgs[i].outgoing ? "out" : "in");
		view_add_str(m, "message_id", msgs[i].message_id);
		view_add_str(m, "from", msgs[i].from_addr);
		view_add_str(m, "from_name", msgs[i].from_name);
		view_add_str(m, "to", msgs[i].to_addrs);
		view_add_str(m, "cc", msgs[i].cc_addrs);
		view_add_str(m, "subject", msgs[i].subject);
		view_add_time(m, "date", msgs[i].date, style);
		view_add_time(m, "received", msgs[i].received, style);
		view_add_str(m, "text", msgs[i].new_text);
		view_add_str(m, "full_text", msgs[i].body_text);
		cJSON_AddNumberToObject(m, "attachments", (double)msgs[i].n_attachments);
		cJSON_AddNumberToObject(m, "loop_flags", msgs[i].loop_flags);
		view_add_str(m, "parse_error", msgs[i].parse_error);
		if (msgs[i].merged_from > 0)
			cJSON_AddNumberToObject(m, "merged_from", (double)msgs[i].merged_from);
		else
			cJSON_AddNullToObject(m, "merged_from");
		cJSON_AddItemToArray(jm, m);
	}
}

static void add_triage(cJSON *o, const struct triage_row *rows, size_t n, enum view_time style)
{
	cJSON *jt = cJSON_AddArrayToObject(o, "triage");
	for (size_t i = 0; i < n; i++) {
		cJSON *d = cJSON_CreateObject();
		view_add_str(d, "task", rows[i].task);
		view_add_str(d, "label", rows[i].label);
		cJSON_AddNumberToObject(d, "confidence", rows[i].confidence);
		cJSON_AddNumberToObject(d, "score", rows[i].score);
		view_add_str(d, "explanation", rows[i].explanation);
		cJSON_AddItemToObject(d, "detail", view_parse_detail(rows[i].detail));
		view_add_time(d, "at", rows[i].at, style);
		cJSON_AddItemToArray(jt, d);
	}
}

static void add_suggestions(cJSON *o, const struct suggestion *sugg, size_t n,
			    enum view_time style)
{
	cJSON *js = cJSON_AddArrayToObject(o, "suggestions");
	for (size_t i = 0; i < n; i++) {
		cJSON *g = cJSON_CreateObject();
		cJSON_AddNumberToObject(g, "rank", sugg[i].rank);
		view_add_str(g, "kind", sugg[i].kind);
		view_add_str(g, "ref", sugg[i].ref);
		view_add_str(g, "title", sugg[i].title);
		cJSON_AddNumberToObject(g, "score", sugg[i].score);
		view_add_str(g, "draft", sugg[i].draft);
		view_add_str(g, "language", sugg[i].language);
		cJSON_AddStringToObject(g, "status", suggestion_status_name(sugg[i].status));
		view_add_str(g, "reason", sugg[i].reason);
		view_add_str(g, "decided_by", sugg[i].decided_by);
		view_add_time(g, "decided_at", sugg[i].decided_at, style);
		if (sugg[i].edit_ratio >= 0)
			cJSON_AddNumberToObject(g, "edit_ratio", sugg[i].edit_ratio);
		cJSON_AddItemToArray(js, g);
	}
}

static void add_clocks(cJSON *o, const struct sla_clock_row *clocks, size_t n,
		       enum view_time style)
{
	cJSON *jc = cJSON_AddArrayToObject(o, "sla");
	for (size_t i = 0; i < n; i++) {
		cJSON *c = cJSON_CreateObject();
		view_add_str(c, "target", clocks[i].target);
		view_add_str(c, "policy", clocks[i].policy);
		view_add_str(c, "state", clocks[i].state);
		cJSON_AddNumberToObject(c, "minutes", (double)clocks[i].minutes);
		view_add_time(c, "started", clocks[i].started, style);
		view_add_time(c, "due", clocks[i].due, style);
		view_add_time(c, "warn_at", clocks[i].warn_at, style);
		view_add_time(c, "paused_at", clocks[i].paused_at, style);
		view_add_time(c, "breached_at", clocks[i].breached_at, style);
		view_add_time(c, "closed_at", clocks[i].closed_at, style);
		cJSON_AddItemToArray(jc, c);
	}
}

static void add_events(cJSON *o, const struct event_row *events, size_t n, enum view_time style)
{
	cJSON *je = cJSON_AddArrayToObject(o, "events");
	for (size_t i = 0; i < n; i++) {
		cJSON *e = cJSON_CreateObject();
		view_add_time(e, "at", events[i].at, style);
		view_add_str(e, "actor", events[i].actor);
		view_add_str(e, "kind", events[i].kind);
		cJSON_AddItemToObject(e, "detail", view_parse_detail(events[i].detail));
		cJSON_AddItemToArray(je, e);
	}
}

int view_ticket_detail(struct store *st, int64_t id, enum view_time style, cJSON **json_r)
{
	struct ticket t;
	int found = store_ticket_get(st, id, &t);
	if (found <= 0)
		return found;
	struct message_row *msgs = NULL;
	struct triage_row *triage = NULL;
	struct event_row *events = NULL;
	struct suggestion *sugg = NULL;
	struct sla_clock_row *clocks = NULL;
	size_t n_msgs = 0, n_triage = 0, n_events = 0, n_sugg = 0, n_clocks = 0;
	int ret = -1;
	if (store_message_list(st, id, &msgs, &n_msgs) == 0 &&
	    store_triage_list(st, id, &triage, &n_triage) == 0 &&
	    store_event_list(st, id, &events, &n_events) == 0 &&
	    store_suggestion_list(st, id, &sugg, &n_sugg) == 0 &&
	    store_sla_clocks_all(st, id, &clocks, &n_clocks) == 0) {
		cJSON *o = view_ticket(&t, style);
		add_messages(o, msgs, n_msgs, style);
		add_triage(o, triage, n_triage, style);
		add_suggestions(o, sugg, n_sugg, style);
		add_clocks(o, clocks, n_clocks, style);
		add_events(o, events, n_events, style);
		*json_r = o;
		ret = 1;
	}
	ticket_clear(&t);
	message_rows_free(&msgs, n_msgs);
	triage_rows_free(&triage, n_triage);
	event_rows_free(&events, n_events);
	suggestion_list_free(&sugg, n_sugg);
	sla_clock_rows_free(&clocks, n_clocks);
	return ret;
}
