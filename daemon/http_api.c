/* The JSON API of the web console, under /api/v1/ (docs/api.md): login and
 * sessions, the queue, a ticket with everything an agent needs, the agents'
 * actions (each one call of actions.h / correct.h, which write the audit
 * event), the knowledge base, the SLA report and the accounts. Handlers
 * hold no ticket logic of their own: they check roles, parse, call the
 * core, and map its answer to a status. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "actions.h"
#include "config.h"
#include "correct.h"
#include "http-private.h"
#include "http_auth.h"
#include "kb.h"
#include "log.h"
#include "parse.h"
#include "report.h"
#include "sla.h"
#include "store.h"
#include "store_sla.h"
#include "view.h"
#include "store_suggestions.h"
#include "suggest.h"
#include "triage.h"
#include "xalloc.h"

#define COOKIE_NAME "triaged_session"
#define MAX_SEGMENTS 6
#define MAX_PER_PAGE 200
#define DEFAULT_PER_PAGE 50
#define MAX_PAGE 100000
#define KB_RESULTS 10
#define REPORT_MAX_CHARTS 8
#define REPORT_BREACHES 50
#define MAX_REPORT_DAYS 3650

/* ---- small helpers ---- */

static const char *arg(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *header(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static bool is_get(const struct http_request *req)
{
	return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

static bool is_post(const struct http_request *req)
{
	return strcmp(req->method, "POST") == 0;
}

static void method_not_allowed(struct http_request *req, const char *allow)
{
	http_add_header(req, "Allow", allow);
	http_reply_error(req, 405, "%s is not allowed here (use %s)", req->method, allow);
}

/* The parsed JSON object of the body, or NULL after answering 400/415. */
static cJSON *body_json(struct http_request *req)
{
	const char *type = header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	/* Only application/json: a cross-site HTML form cannot send it without
	 * a CORS preflight, which this server never grants. */
	if (type == NULL || strncmp(type, "application/json", 16) != 0 ||
	    (type[16] != '\0' && type[16] != ';' && type[16] != ' ')) {
		http_reply_error(req, 415, "the request body must be JSON (Content-Type: application/json)");
		return NULL;
	}
	const char *text = strbuf_str(&req->body);
	cJSON *o = cJSON_ParseWithLength(text, strlen(text));
	if (o == NULL || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		http_reply_error(req, 400, "the request body is not a JSON object");
		return NULL;
	}
	return o;
}

/* A string member, or NULL (answering 400 when required or not a string). */
static const char *json_string(struct http_request *req, const cJSON *o, const char *key,
			       bool required, bool *bad_r)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
	if (item == NULL || cJSON_IsNull(item)) {
		if (required) {
			http_reply_error(req, 400, "\"%s\" is missing", key);
			*bad_r = true;
		}
		return NULL;
	}
	if (!cJSON_IsString(item)) {
		http_reply_error(req, 400, "\"%s\" must be a string", key);
		*bad_r = true;
		return NULL;
	}
	return item->valuestring;
}

/* Maps an action's failure to a status: no ticket 404, a store failure
 * 500 (logged), anything else is the request's fault: 400. */
static void action_failed(struct http_request *req, int rc, const char *error)
{
	if (rc == ACTION_NOT_FOUND) {
		http_reply_error(req, 404, "%s", error);
	} else if (strncmp(error, "store:", 6) == 0) {
		log_error("http %s %s: %s", req->method, req->url, error);
		http_reply_error(req, 500, "the change could not be saved; try again");
	} else {
		http_reply_error(req, 400, "%s", error);
	}
}

static void store_failed(struct http_request *req)
{
	log_error("http %s %s: store: %s", req->method, req->url, store_error(req->ctx->st));
	http_reply_error(req, 500, "the ticket store failed to answer; try again");
}

static cJSON *agent_json(const struct agent *a)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "email", a->email);
	cJSON_AddStringToObject(o, "name", a->name);
	cJSON_AddStringToObject(o, "role", agent_role_name(a->role));
	return o;
}

static bool has_role(struct http_request *req, enum agent_role least)
{
	if (req->session.agent.role >= least)
		return true;
	http_reply_error(req, 403, "this needs the %s role", agent_role_name(least));
	return false;
}

/* ---- login, logout, session ---- */

static void set_cookie(struct http_request *req, const char *token, bool clear)
{
	bool tls = http_server_tls(req->srv);
	_cleanup_free_ char *cookie =
		clear ? xasprintf(COOKIE_NAME "=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/%s",
				  tls ? "; Secure" : "")
		      : xasprintf(COOKIE_NAME "=%s; HttpOnly; SameSite=Strict; Path=/%s", token,
				  tls ? "; Secure" : "");
	http_add_header(req, MHD_HTTP_HEADER_SET_COOKIE, cookie);
}

static void handle_login(struct http_request *req)
{
	if (!is_post(req)) {
		method_not_allowed(req, "POST");
		return;
	}
	cJSON *o = body_json(req);
	if (o == NULL)
		return;
	bool bad = false;
	const char *email = json_string(req, o, "email", true, &bad);
	const char *password = bad ? NULL : json_string(req, o, "password", true, &bad);
	if (bad) {
		cJSON_Delete(o);
		return;
	}
	struct http_login login;
	const char *error = "";
	int rc = http_auth_login(req->ctx->st, req->addr, email, password, &login, &error);
	cJSON_Delete(o);
	if (rc == HTTP_AUTH_LIMITED) {
		char retry[24];
		snprintf(retry, sizeof(retry), "%lld", (long long)login.retry_after);
		http_add_header(req, "Retry-After", retry);
		http_reply_error(req, 429,
				 "too many failed logins; try again in %lld minutes",
				 (long long)(login.retry_after + 59) / 60);
		return;
	}
	if (rc == HTTP_AUTH_DENIED) {
		http_reply_error(req, 401, "wrong e-mail address or password");
		return;
	}
	if (rc < 0) {
		log_error("http login: %s", error);
		http_reply_error(req, 500, "the login could not be recorded; try again");
		return;
	}
	set_cookie(req, login.token, false);
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "csrf", login.csrf);
	cJSON_AddItemToObject(out, "agent", agent_json(&login.agent));
	agent_clear(&login.agent);
	memset(login.token, 0, sizeof(login.token));
	http_reply_json(req, 200, out);
}

static void handle_session(struct http_request *req)
{
	if (!is_get(req)) {
		method_not_allowed(req, "GET");
		return;
	}
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "csrf", req->session.csrf);
	cJSON_AddItemToObject(out, "agent", agent_json(&req->session.agent));
	cJSON_AddNumberToObject(out, "idle_minutes",
				http_server_config(req->srv)->http.session_idle_minutes);
	http_reply_json(req, 200, out);
}

static void handle_logout(struct http_request *req)
{
	if (!is_post(req)) {
		method_not_allowed(req, "POST");
		return;
	}
	const char *error;
	if (http_auth_logout(req->ctx->st, req->token, req->session.agent.email, &error) < 0) {
		log_error("http logout: %s", error);
		http_reply_error(req, 500, "the logout could not be recorded; try again");
		return;
	}
	set_cookie(req, NULL, true);
	http_reply_json(req, 200, cJSON_CreateObject());
}

/* ---- tickets ---- */

/* The ticket as the console shows it: the shared view plus its SLA summary. */
static cJSON *ticket_json(const struct ticket *t, const struct sla_summary *sla)
{
	cJSON *o = view_ticket(t, VIEW_TIME_EPOCH);
	view_add_sla_summary(o, sla, VIEW_TIME_EPOCH);
	return o;
}

static bool query_uint(struct http_request *req, const char *name, int64_t min, int64_t max,
		       int64_t def, int64_t *value_r)
{
	const char *text = arg(req, name);
	if (text == NULL || text[0] == '\0') {
		*value_r = def;
		return true;
	}
	if (parse_int64(text, min, max, value_r) < 0) {
		http_reply_error(req, 400, "%s must be a number from %lld to %lld", name,
				 (long long)min, (long long)max);
		return false;
	}
	return true;
}

static void handle_ticket_list(struct http_request *req)
{
	if (!is_get(req)) {
		method_not_allowed(req, "GET");
		return;
	}
	struct ticket_filter f = {0};
	const char *status = arg(req, "status");
	enum ticket_status parsed;
	if (status != NULL && status[0] != '\0') {
		if (strcmp(status, "active") != 0 && ticket_status_parse(status, &parsed) < 0) {
			http_reply_error(req, 400, "unknown status \"%.40s\" (new, open, pending, "
						   "resolved, closed or active)", status);
			return;
		}
		f.status = status;
	}
	const char *queue = arg(req, "queue");
	if (queue != NULL && queue[0] != '\0')
		f.queue = queue;
	const char *q = arg(req, "q");
	_cleanup_free_ char *match = q != NULL ? http_fts_query(q) : NULL;
	f.text = match;
	const char *sort = arg(req, "sort");
	if (sort != NULL && sort[0] != '\0' && strcmp(sort, "due") != 0 &&
	    strcmp(sort, "created") != 0) {
		http_reply_error(req, 400, "sort must be due or created");
		return;
	}
	f.sort_by_due = sort == NULL || sort[0] == '\0' || strcmp(sort, "due") == 0;
	int64_t page, per_page;
	if (!query_uint(req, "page", 1, MAX_PAGE, 1, &page) ||
	    !query_uint(req, "per_page", 1, MAX_PER_PAGE, DEFAULT_PER_PAGE, &per_page))
		return;
	/* The answer depends on these only (not on who asks: every agent
	 * sees the whole queue). */
	_cleanup_free_ char *key = xasprintf("%s\x1f%s\x1f%s\x1f%d\x1f%lld\x1f%lld",
					     f.status ? f.status : "", f.queue ? f.queue : "",
					     match ? match : "", f.sort_by_due, (long long)page,
					     (long long)per_page);
	char *cached;
	size_t cached_len;
	if (http_cache_get(req->srv, key, &cached, &cached_len) == 1) {
		http_reply(req, 200, "application/json; charset=utf-8", cached, cached_len);
		return;
	}
	/* One more than asked: tells whether a next page exists. */
	f.limit = (unsigned)per_page + 1;
	f.offset = (unsigned)((page - 1) * per_page);
	struct ticket *list;
	size_t n;
	if (store_ticket_list(req->ctx->st, &f, &list, &n) < 0) {
		store_failed(req);
		return;
	}
	int64_t now = store_now();
	cJSON *out = cJSON_CreateObject();
	cJSON *items = cJSON_AddArrayToObject(out, "tickets");
	size_t shown = n > (size_t)per_page ? (size_t)per_page : n;
	for (size_t i = 0; i < shown; i++) {
		struct sla_summary sla;
		const char *error;
		if (sla_ticket_summary(req->ctx->st, list[i].id, now, &sla, &error) < 0) {
			cJSON_Delete(out);
			ticket_list_free(&list, n);
			store_failed(req);
			return;
		}
		cJSON_AddItemToArray(items, ticket_json(&list[i], &sla));
	}
	ticket_list_free(&list, n);
	cJSON_AddNumberToObject(out, "page", (double)page);
	cJSON_AddNumberToObject(out, "per_page", (double)per_page);
	cJSON_AddBoolToObject(out, "has_more", n > (size_t)per_page);
	cJSON_AddNumberToObject(out, "now", (double)now);
	http_reply_json(req, 200, out);
	http_cache_put(req->srv, key, req->resp, req->resp_len);
}


static void handle_ticket_get(struct http_request *req, int64_t id)
{
	struct store *st = req->ctx->st;
	int64_t now = store_now();
	struct sla_summary sla;
	cJSON *o = NULL;
	int found = view_ticket_detail(st, id, VIEW_TIME_EPOCH, &o);
	const char *error;
	if (found > 0 && sla_ticket_summary(st, id, now, &sla, &error) < 0) {
		cJSON_Delete(o);
		found = -1;
	}
	if (found <= 0) {
		if (found < 0)
			store_failed(req);
		else
			http_reply_error(req, 404, "there is no ticket %lld", (long long)id);
		return;
	}
	view_add_sla_summary(o, &sla, VIEW_TIME_EPOCH);
	cJSON_AddNumberToObject(o, "now", (double)now);
	http_reply_json(req, 200, o);
}

/* 404 / 409 when suggestion rank of the ticket is unknown or decided. */
static bool suggestion_open(struct http_request *req, int64_t id, int64_t rank)
{
	struct suggestion s;
	int found = store_suggestion_get(req->ctx->st, id, (int)rank, &s);
	if (found < 0) {
		store_failed(req);
		return false;
	}
	if (found == 0) {
		http_reply_error(req, 404, "ticket %lld has no suggestion %lld", (long long)id,
				 (long long)rank);
		return false;
	}
	bool open = s.status == SUGGESTION_PROPOSED;
	if (!open)
		http_reply_error(req, 409, "suggestion %lld was already %s", (long long)rank,
				 suggestion_status_name(s.status));
	suggestion_clear(&s);
	return open;
}

static void handle_reply(struct http_request *req, int64_t id)
{
	cJSON *o = body_json(req);
	if (o == NULL)
		return;
	bool bad = false;
	const char *text = json_string(req, o, "text", true, &bad);
	const char *draft = bad ? NULL : json_string(req, o, "draft", false, &bad);
	const char *status_after = bad ? NULL : json_string(req, o, "status_after", false, &bad);
	if (bad)
		goto out;
	if (text[strspn(text, " \t\r\n")] == '\0') {
		http_reply_error(req, 400, "the reply is empty");
		goto out;
	}
	int64_t rank = 0;
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "suggestion");
	if (k != NULL && !cJSON_IsNull(k)) {
		if (!cJSON_IsNumber(k) || k->valuedouble < 1 || k->valuedouble > 1000 ||
		    k->valuedouble != (double)(int64_t)k->valuedouble) {
			http_reply_error(req, 400, "\"suggestion\" must be a suggestion number");
			goto out;
		}
		rank = (int64_t)k->valuedouble;
		if (!suggestion_open(req, id, rank))
			goto out;
	}
	struct action_reply_options opts = {.draft = draft};
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(o, "reply_all");
	if (all != NULL && !cJSON_IsBool(all)) {
		http_reply_error(req, 400, "\"reply_all\" must be true or false");
		goto out;
	}
	opts.reply_all = cJSON_IsTrue(all);
	if (status_after != NULL) {
		if (strcmp(status_after, "unchanged") == 0) {
			opts.keep_status = true;
		} else if (ticket_status_parse(status_after, &opts.status_after) == 0) {
			opts.set_status = true;
		} else {
			http_reply_error(req, 400, "unknown status_after \"%.40s\"", status_after);
			goto out;
		}
	}
	int64_t outbox_id;
	const char *error;
	int rc = action_reply(req->ctx->st, http_server_config(req->srv), req->agent_id, id, text,
			      (unsigned)rank, &opts, &outbox_id, &error);
	if (rc < 0) {
		action_failed(req, rc, error);
		goto out;
	}
	http_server_outbox_queued(req->srv);
	cJSON *out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "outbox_id", (double)outbox_id);
	http_reply_json(req, 202, out);
out:
	cJSON_Delete(o);
}

static void handle_reject(struct http_request *req, int64_t id, int64_t rank)
{
	cJSON *o = body_json(req);
	if (o == NULL)
		return;
	bool bad = false;
	const char *reason = json_string(req, o, "reason", true, &bad);
	if (!bad && suggestion_open(req, id, rank)) {
		const char *error;
		int rc = action_reject_suggestion(req->ctx->st, req->agent_id, id, (unsigned)rank,
						  reason, &error);
		if (rc < 0)
			action_failed(req, rc, error);
		else
			http_reply_json(req, 200, cJSON_CreateObject());
	}
	cJSON_Delete(o);
}

static void handle_recategorize(struct http_request *req, int64_t id, const char *category)
{
	const char *error = "";
	struct triage *tr = http_triage_lock(req->srv, req->ctx->st, &error);
	if (tr == NULL) {
		log_error("http: the triage model cannot be loaded: %s", error);
		http_reply_error(req, 500, "the triage model cannot be loaded right now");
		return;
	}
	struct correct_result res = {0};
	int rc = correct_category(req->ctx->st, http_server_config(req->srv), tr, req->agent_id, id,
				  category, &res, &error);
	http_triage_unlock(req->srv);
	if (rc < 0) {
		action_failed(req, rc, error);
		return;
	}
	cJSON *out = cJSON_CreateObject();
	view_add_str(out, "old_category", res.old_category);
	view_add_str(out, "queue", res.new_queue);
	correct_result_clear(&res);
	http_reply_json(req, 200, out);
}

/* POST tickets/N/note: {"text"}. */
static void handle_note(struct http_request *req, int64_t id)
{
	cJSON *o = body_json(req);
	if (o == NULL)
		return;
	bool bad = false;
	const char *text = json_string(req, o, "text", true, &bad);
	if (!bad) {
		const char *error = "";
		int rc = action_add_note(req->ctx->st, req->agent_id, id, text, &error);
		if (rc < 0)
			action_failed(req, rc, error);
		else
			http_reply_json(req, 201, cJSON_CreateObject());
	}
	cJSON_Delete(o);
}

/* POST tickets/N/merge: {"into": M}. */
static void handle_merge(struct http_request *req, int64_t id)
{
	cJSON *o = body_json(req);
	if (o == NULL)
		return;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "into");
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9e15 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble) {
		http_reply_error(req, 400, "expected {\"into\": the number of the ticket to merge into}");
		cJSON_Delete(o);
		return;
	}
	int64_t into = (int64_t)v->valuedouble;
	cJSON_Delete(o);
	const char *error = "";
	int64_t moved = 0;
	int rc = action_merge(req->ctx->st, http_server_config(req->srv), req->agent_id, id, into,
			      &moved, &error);
	if (rc < 0) {
		action_failed(req, rc, error);
		return;
	}
	cJSON *out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "id", (double)id);
	cJSON_AddNumberToObject(out, "into", (double)into);
	cJSON_AddNumberToObject(out, "messages", (double)moved);
	http_reply_json(req, 200, out);
}

/* POST tickets/N/spam: {"spam": true|false}. */
static void handle_spam(struct http_request *req, int64_t id)
{
	cJSON *o = body_json(req);
	if (o == NULL)
		return;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "spam");
	if (!cJSON_IsBool(v)) {
		http_reply_error(req, 400, "expected {\"spam\": true} or {\"spam\": false}");
		cJSON_Delete(o);
		return;
	}
	bool spam = cJSON_IsTrue(v);
	cJSON_Delete(o);
	const char *error = "";
	struct triage *tr = http_triage_lock(req->srv, req->ctx->st, &error);
	if (tr == NULL) {
		log_error("http: the triage model cannot be loaded: %s", error);
		http_reply_error(req, 500, "the triage model cannot be loaded right now");
		return;
	}
	enum ticket_status before, after;
	int rc = correct_spam(req->ctx->st, http_server_config(req->srv), tr, req->agent_id, id,
			      spam, &before, &after, &error);
	http_triage_unlock(req->srv);
	if (rc < 0) {
		action_failed(req, rc, error);
		return;
	}
	cJSON *out = cJSON_CreateObject();
	cJSON_AddBoolToObject(out, "spam", spam);
	cJSON_AddStringToObject(out, "old_status", ticket_status_name(before));
	cJSON_AddStringToObject(out, "status", ticket_status_name(after));
	http_reply_json(req, 200, out);
}

/* POST tickets/N/{status,priority,assignee,queue,category}: {"FIELD": value}. */
static void handle_set(struct http_request *req, int64_t id, const char *field)
{
	cJSON *o = body_json(req);
	if (o == NULL)
		return;
	bool bad = false;
	bool assignee = strcmp(field, "assignee") == 0;
	const char *value = json_string(req, o, field, !assignee, &bad);
	if (bad) {
		cJSON_Delete(o);
		return;
	}
	struct store *st = req->ctx->st;
	const char *error = "";
	int rc;
	if (strcmp(field, "status") == 0) {
		enum ticket_status s;
		if (ticket_status_parse(value, &s) < 0) {
			http_reply_error(req, 400, "unknown status \"%.40s\"", value);
			goto out;
		}
		rc = action_set_status(st, http_server_config(req->srv), req->agent_id, id, s, &error);
	} else if (strcmp(field, "priority") == 0) {
		enum ticket_priority p;
		if (ticket_priority_parse(value, &p) < 0) {
			http_reply_error(req, 400, "unknown priority \"%.40s\"", value);
			goto out;
		}
		rc = action_set_priority(st, http_server_config(req->srv), req->agent_id, id, p,
					 &error);
	} else if (assignee) {
		rc = action_assign(st, req->agent_id, id, value, &error);
	} else if (strcmp(field, "queue") == 0) {
		rc = action_set_queue(st, http_server_config(req->srv), req->agent_id, id, value,
				      &error);
	} else {
		handle_recategorize(req, id, value);
		goto out;
	}
	if (rc < 0)
		action_failed(req, rc, error);
	else
		http_reply_json(req, 200, cJSON_CreateObject());
out:
	cJSON_Delete(o);
}

static void handle_ticket(struct http_request *req, char **seg, size_t n)
{
	int64_t id;
	if (parse_int64(seg[1], 1, INT64_MAX, &id) < 0) {
		http_reply_error(req, 404, "\"%.40s\" is not a ticket number", seg[1]);
		return;
	}
	if (n == 2) {
		if (!is_get(req))
			method_not_allowed(req, "GET");
		else
			handle_ticket_get(req, id);
		return;
	}
	static const char *const fields[] = {"status", "priority", "assignee", "queue", "category"};
	bool known = n == 3 && (strcmp(seg[2], "reply") == 0 || strcmp(seg[2], "spam") == 0 ||
				strcmp(seg[2], "note") == 0 || strcmp(seg[2], "merge") == 0);
	for (size_t i = 0; n == 3 && i < ARRAY_SIZE(fields); i++)
		known = known || strcmp(seg[2], fields[i]) == 0;
	bool reject = n == 5 && strcmp(seg[2], "suggestions") == 0 && strcmp(seg[4], "reject") == 0;
	if (!known && !reject) {
		http_reply_error(req, 404, "unknown API path");
		return;
	}
	if (!is_post(req)) {
		method_not_allowed(req, "POST");
		return;
	}
	if (reject) {
		int64_t rank;
		if (parse_int64(seg[3], 1, 1000, &rank) < 0) {
			http_reply_error(req, 404, "\"%.40s\" is not a suggestion number", seg[3]);
			return;
		}
		handle_reject(req, id, rank);
	} else if (strcmp(seg[2], "reply") == 0) {
		handle_reply(req, id);
	} else if (strcmp(seg[2], "spam") == 0) {
		handle_spam(req, id);
	} else if (strcmp(seg[2], "note") == 0) {
		handle_note(req, id);
	} else if (strcmp(seg[2], "merge") == 0) {
		handle_merge(req, id);
	} else {
		handle_set(req, id, seg[2]);
	}
}

/* ---- knowledge base ---- */

static void handle_kb(struct http_request *req, char **seg, size_t n)
{
	if (!is_get(req)) {
		method_not_allowed(req, "GET");
		return;
	}
	struct sqlite3 *db = store_db(req->ctx->st);
	const char *error;
	if (n == 2) {
		struct kb_article a;
		int found = kb_article_get(db, seg[1], &a, &error);
		if (found <= 0) {
			if (found < 0)
				log_error("http kb: %s", error);
			http_reply_error(req, found < 0 ? 500 : 404,
					 found < 0 ? "the knowledge base failed to answer"
						   : "there is no such article");
			return;
		}
		cJSON *o = cJSON_CreateObject();
		view_add_str(o, "id", a.id);
		view_add_str(o, "title", a.title);
		view_add_str(o, "body", a.body);
		view_add_str(o, "tags", a.tags);
		view_add_str(o, "language", a.language);
		view_add_str(o, "template", a.template);
		kb_article_clear(&a);
		http_reply_json(req, 200, o);
		return;
	}
	const char *q = arg(req, "q");
	const char *language = arg(req, "language");
	if (language != NULL && language[0] == '\0')
		language = NULL;
	if (q == NULL || q[strspn(q, " \t")] == '\0') {
		http_reply_error(req, 400, "q (the words to look for) is missing");
		return;
	}
	if (strlen(q) > 1000) {
		http_reply_error(req, 400, "q is longer than 1000 bytes");
		return;
	}
	struct kb_hit *hits;
	size_t n_hits;
	if (kb_search(db, q, language, KB_RESULTS, &hits, &n_hits, &error) < 0) {
		log_error("http kb search: %s", error);
		http_reply_error(req, 500, "the knowledge base failed to answer");
		return;
	}
	cJSON *out = cJSON_CreateObject();
	cJSON *items = cJSON_AddArrayToObject(out, "articles");
	for (size_t i = 0; i < n_hits; i++) {
		cJSON *h = cJSON_CreateObject();
		view_add_str(h, "id", hits[i].id);
		view_add_str(h, "title", hits[i].title);
		view_add_str(h, "language", hits[i].language);
		cJSON_AddNumberToObject(h, "score", hits[i].score);
		cJSON_AddItemToArray(items, h);
	}
	kb_hits_free(&hits, n_hits);
	http_reply_json(req, 200, out);
}

/* ---- reports ---- */

/* "YYYY-MM-DD" (UTC midnight) or seconds since the epoch. */
static int parse_day(const char *s, int64_t *t_r)
{
	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		char y[5], m[3], d[3];
		memcpy(y, s, 4);
		y[4] = '\0';
		memcpy(m, s + 5, 2);
		m[2] = '\0';
		memcpy(d, s + 8, 2);
		d[2] = '\0';
		int64_t year, month, day;
		if (parse_int64(y, 1970, 9999, &year) < 0 || parse_int64(m, 1, 12, &month) < 0 ||
		    parse_int64(d, 1, 31, &day) < 0)
			return -1;
		struct tm tm = {.tm_year = (int)year - 1900, .tm_mon = (int)month - 1,
				.tm_mday = (int)day};
		*t_r = (int64_t)timegm(&tm);
		return 0;
	}
	return parse_int64(s, 0, INT64_C(253402300799), t_r);
}

/* The <svg>...</svg> pieces of the report's HTML page: the charts, drawn by
 * the report module, reused as they are. */
static void add_charts(cJSON *out, const struct report *r)
{
	char *html = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&html, &len);
	const char *error;
	cJSON *charts = cJSON_AddArrayToObject(out, "charts");
	if (f == NULL)
		return;
	int rc = report_write(r, REPORT_HTML, f, &error);
	fclose(f);
	if (rc < 0) {
		free(html);
		return;
	}
	const char *p = html;
	for (size_t i = 0; i < REPORT_MAX_CHARTS; i++) {
		const char *start = strstr(p, "<svg");
		const char *end = start != NULL ? strstr(start, "</svg>") : NULL;
		if (end == NULL)
			break;
		end += 6;
		_cleanup_free_ char *svg = xstrndup(start, (size_t)(end - start));
		cJSON_AddItemToArray(charts, cJSON_CreateString(svg));
		p = end;
	}
	free(html);
}

static void handle_report(struct http_request *req)
{
	if (!is_get(req)) {
		method_not_allowed(req, "GET");
		return;
	}
	if (!has_role(req, AGENT_ROLE_MANAGER))
		return;
	int64_t now = store_now();
	struct report_options opts = {.to = now, .from = now - 30 * 86400};
	const char *from = arg(req, "from"), *to = arg(req, "to"), *by = arg(req, "by");
	if ((from != NULL && from[0] != '\0' && parse_day(from, &opts.from) < 0) ||
	    (to != NULL && to[0] != '\0' && parse_day(to, &opts.to) < 0)) {
		http_reply_error(req, 400, "from and to must be dates (YYYY-MM-DD) or epoch seconds");
		return;
	}
	if (to != NULL && strlen(to) == 10)
		opts.to += 86400; /* a day given as "to" is included */
	if (opts.to <= opts.from || opts.to - opts.from > (int64_t)MAX_REPORT_DAYS * 86400) {
		http_reply_error(req, 400, "the period must end after it starts and last at most "
					   "ten years");
		return;
	}
	if (by != NULL && by[0] != '\0') {
		if (strcmp(by, "queue") != 0 && strcmp(by, "category") != 0 &&
		    strcmp(by, "priority") != 0 && strcmp(by, "assignee") != 0) {
			http_reply_error(req, 400, "by must be queue, category, priority or assignee");
			return;
		}
		opts.by = by;
	}
	struct store *st = req->ctx->st;
	struct report *r;
	const char *error;
	if (report_build(st, &opts, &r, &error) < 0) {
		log_error("http report: %s", error);
		http_reply_error(req, 500, "the report could not be computed");
		return;
	}
	char *json = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);
	int rc = f != NULL ? report_write(r, REPORT_JSON, f, &error) : -1;
	if (f != NULL)
		fclose(f);
	cJSON *out = rc == 0 ? cJSON_ParseWithLength(json, len) : NULL;
	free(json);
	if (out == NULL || !cJSON_IsObject(out)) {
		cJSON_Delete(out);
		report_free(&r);
		http_reply_error(req, 500, "the report could not be written");
		return;
	}
	add_charts(out, r);
	report_free(&r);

	/* What to look at now: clocks already past their due time. */
	struct sla_due_row *due;
	size_t n_due;
	if (sla_due_list(st, now, REPORT_BREACHES, &due, &n_due, &error) == 0) {
		cJSON *b = cJSON_AddArrayToObject(out, "breaches_open");
		for (size_t i = 0; i < n_due; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "ticket", (double)due[i].ticket_id);
			view_add_str(o, "subject", due[i].subject);
			view_add_str(o, "queue", due[i].queue);
			view_add_str(o, "policy", due[i].policy);
			cJSON_AddStringToObject(o, "target", sla_target_name(due[i].target));
			cJSON_AddStringToObject(o, "priority", ticket_priority_name(due[i].priority));
			view_add_time(o, "due", due[i].due, VIEW_TIME_EPOCH);
			cJSON_AddItemToArray(b, o);
		}
		sla_due_rows_free(&due, n_due);
	}
	/* Acceptance of the suggested replies, from the decision log. */
	struct suggestion_stat *stats;
	size_t n_stats;
	if (store_suggestion_stats(st, &stats, &n_stats) == 0) {
		int64_t suggested = 0, approved = 0, edited = 0, rejected = 0;
		for (size_t i = 0; i < n_stats; i++) {
			suggested += stats[i].suggested;
			approved += stats[i].approved;
			edited += stats[i].edited;
			rejected += stats[i].rejected;
		}
		suggestion_stats_free(&stats, n_stats);
		cJSON *s = cJSON_AddObjectToObject(out, "suggestions");
		cJSON_AddNumberToObject(s, "suggested", (double)suggested);
		cJSON_AddNumberToObject(s, "approved", (double)approved);
		cJSON_AddNumberToObject(s, "edited", (double)edited);
		cJSON_AddNumberToObject(s, "rejected", (double)rejected);
		int64_t decided = approved + edited + rejected;
		if (decided > 0)
			cJSON_AddNumberToObject(s, "acceptance_rate",
						(double)(approved + edited) / (double)decided);
		else
			cJSON_AddNullToObject(s, "acceptance_rate");
	}
	http_reply_json(req, 200, out);
}

/* ---- accounts (admins) and what the pages need to know ---- */

static void handle_agents(struct http_request *req)
{
	if (!has_role(req, AGENT_ROLE_ADMIN))
		return;
	struct store *st = req->ctx->st;
	if (is_get(req)) {
		struct agent *list;
		size_t n;
		if (store_agent_list(st, &list, &n) < 0) {
			store_failed(req);
			return;
		}
		cJSON *out = cJSON_CreateObject();
		cJSON *items = cJSON_AddArrayToObject(out, "agents");
		for (size_t i = 0; i < n; i++) {
			cJSON *a = agent_json(&list[i]);
			cJSON_AddBoolToObject(a, "disabled", list[i].disabled);
			view_add_time(a, "last_login", list[i].last_login, VIEW_TIME_EPOCH);
			cJSON_AddItemToArray(items, a);
		}
		agent_list_free(&list, n);
		http_reply_json(req, 200, out);
		return;
	}
	if (!is_post(req)) {
		method_not_allowed(req, "GET, POST");
		return;
	}
	cJSON *o = body_json(req);
	if (o == NULL)
		return;
	bool bad = false;
	const char *email = json_string(req, o, "email", true, &bad);
	const char *name = bad ? NULL : json_string(req, o, "name", true, &bad);
	const char *role_text = bad ? NULL : json_string(req, o, "role", true, &bad);
	const char *password = bad ? NULL : json_string(req, o, "password", true, &bad);
	enum agent_role role;
	if (!bad && agent_role_parse(role_text, &role) < 0) {
		http_reply_error(req, 400, "role must be agent, manager or admin");
		bad = true;
	}
	if (!bad) {
		const char *error;
		int rc = http_auth_agent_add(st, req->agent_id, email, name, role, password, &error);
		if (rc < 0 && strncmp(error, "store:", 6) == 0)
			action_failed(req, rc, error);
		else if (rc < 0)
			http_reply_error(req, 400, "%s", error);
		else if (rc == 1)
			http_reply_error(req, 409, "an agent with this address exists already");
		else
			http_reply_json(req, 201, cJSON_CreateObject());
	}
	cJSON_Delete(o);
}

static void handle_meta(struct http_request *req)
{
	if (!is_get(req)) {
		method_not_allowed(req, "GET");
		return;
	}
	const struct config *cfg = http_server_config(req->srv);
	cJSON *out = cJSON_CreateObject();
	cJSON *queues = cJSON_AddArrayToObject(out, "queues");
	for (size_t i = 0; i < cfg->n_queues; i++)
		cJSON_AddItemToArray(queues, cJSON_CreateString(cfg->queues[i].name));
	static const char *const statuses[] = {"new", "open", "pending", "resolved", "closed"};
	static const char *const priorities[] = {"low", "normal", "high", "urgent"};
	cJSON_AddItemToObject(out, "statuses", cJSON_CreateStringArray(statuses, 5));
	cJSON_AddItemToObject(out, "priorities", cJSON_CreateStringArray(priorities, 4));
	cJSON *categories = cJSON_AddArrayToObject(out, "categories");
	const char *error = "";
	struct triage *tr = http_triage_lock(req->srv, req->ctx->st, &error);
	if (tr != NULL) {
		const char **labels;
		size_t n = triage_category_labels(tr, &labels);
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(categories, cJSON_CreateString(labels[i]));
		http_triage_unlock(req->srv);
	} else {
		log_warning("http: the triage model cannot be loaded: %s", error);
	}
	http_reply_json(req, 200, out);
}

/* ---- dispatch ---- */

/* The cross-site check for state changes, besides the CSRF token: a
 * browser's Origin, when sent, must name this host. */
static bool same_origin(struct http_request *req)
{
	const char *origin = header(req, "Origin");
	if (origin == NULL)
		return true;
	const char *host = header(req, MHD_HTTP_HEADER_HOST);
	const char *sep = strstr(origin, "://");
	return host != NULL && sep != NULL && strcmp(sep + 3, host) == 0;
}

static void authenticate(struct http_request *req)
{
	const char *token = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, COOKIE_NAME);
	if (token == NULL)
		return;
	const char *error = "";
	int found = http_auth_session(req->ctx->st, token,
				      http_server_config(req->srv)->http.session_idle_minutes,
				      &req->session, &error);
	if (found < 0)
		log_error("http session: %s", error);
	if (found != 1)
		return;
	req->authed = true;
	req->token = xstrdup(token);
	req->agent_id = xasprintf("agent:%s", req->session.agent.email);
}

void http_api_handle(struct http_request *req, const char *path)
{
	bool changes = !is_get(req);
	if (changes && !same_origin(req)) {
		http_reply_error(req, 403, "cross-site requests are refused");
		return;
	}
	_cleanup_free_ char *copy = xstrdup(path);
	char *seg[MAX_SEGMENTS];
	size_t n = 0;
	for (char *p = copy; n < MAX_SEGMENTS;) {
		seg[n++] = p;
		char *slash = strchr(p, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	if (n == MAX_SEGMENTS && strchr(seg[n - 1], '/') != NULL) {
		http_reply_error(req, 404, "unknown API path");
		return;
	}
	if (n == 1 && strcmp(seg[0], "login") == 0) {
		handle_login(req);
		return;
	}
	authenticate(req);
	if (!req->authed) {
		http_reply_error(req, 401, "you are not signed in (or your session expired)");
		return;
	}
	if (changes && !http_auth_csrf_ok(req->session.csrf, header(req, "X-CSRF-Token"))) {
		http_reply_error(req, 403, "the X-CSRF-Token header is missing or wrong; sign in again");
		return;
	}
	if (n == 1 && strcmp(seg[0], "session") == 0)
		handle_session(req);
	else if (n == 1 && strcmp(seg[0], "logout") == 0)
		handle_logout(req);
	else if (n == 1 && strcmp(seg[0], "tickets") == 0)
		handle_ticket_list(req);
	else if (n >= 2 && strcmp(seg[0], "tickets") == 0)
		handle_ticket(req, seg, n);
	else if ((n == 1 || n == 2) && strcmp(seg[0], "kb") == 0)
		handle_kb(req, seg, n);
	else if (n == 2 && strcmp(seg[0], "reports") == 0 && strcmp(seg[1], "sla") == 0)
		handle_report(req);
	else if (n == 1 && strcmp(seg[0], "agents") == 0)
		handle_agents(req);
	else if (n == 1 && strcmp(seg[0], "meta") == 0)
		handle_meta(req);
	else
		http_reply_error(req, 404, "unknown API path");
	if (changes && req->status < 300)
		http_cache_invalidate(req->srv);
}
