/* Shared by http.c (the server) and http_api.c (the API's handlers) only:
 * the request being answered and how to answer it. */
#ifndef TRIAGED_HTTP_PRIVATE_H
#define TRIAGED_HTTP_PRIVATE_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "store_agents.h"
#include "strbuf.h"

#define HTTP_MAX_BODY (256 * 1024)   /* bytes of a request body: 413 above */
#define HTTP_MAX_HEADERS 8

struct store;
struct triage;

/* A worker's connection to the store, taken for one request. */
struct http_ctx {
	struct store *st;
	struct http_ctx *next;
};

struct http_request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const char *method, *url;
	char addr[INET6_ADDRSTRLEN];
	struct strbuf body;
	bool too_big;
	struct http_ctx *ctx;
	/* The session, when the request carries a live one. */
	bool authed;
	char *token;
	struct session_row session;
	char *agent_id; /* "agent:EMAIL" */
	/* The answer. */
	unsigned status;
	char *resp;
	size_t resp_len;
	const char *content_type;
	const char *headers[HTTP_MAX_HEADERS][2]; /* values owned by header_store */
	char *header_store[HTTP_MAX_HEADERS];
	size_t n_headers;
};

/* What the handlers need from the server. */
const struct config *http_server_config(const struct http_server *srv);
bool http_server_tls(const struct http_server *srv);
void http_server_outbox_queued(struct http_server *srv);
/* The correction engine (triage model), opened on first use and shared
 * under a lock: http_triage_lock returns it locked, NULL on error. */
struct triage *http_triage_lock(struct http_server *srv, struct store *st, const char **error_r);
void http_triage_unlock(struct http_server *srv);

/* The queue's micro-cache: a list answer is reused for at most
 * HTTP_CACHE_MS, and dropped at once when a request through this server
 * changed something. Agents polling the queue then cost a copy, not a
 * query; new mail shows at most HTTP_CACHE_MS later. */
#define HTTP_CACHE_MS 1000
#define HTTP_CACHE_ENTRIES 32
/* 1 and a copy of the answer (caller frees) when fresh, 0 otherwise. */
int http_cache_get(struct http_server *srv, const char *key, char **body_r, size_t *len_r);
void http_cache_put(struct http_server *srv, const char *key, const char *body, size_t len);
void http_cache_invalidate(struct http_server *srv);

/* Answers (each replaces any earlier answer of the request). */
void http_reply(struct http_request *req, unsigned status, const char *content_type, char *body,
		size_t len);
void http_reply_json(struct http_request *req, unsigned status, cJSON *json); /* consumes json */
void http_reply_error(struct http_request *req, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An extra header (value copied). */
void http_add_header(struct http_request *req, const char *name, const char *value);

/* The API: everything under /api/v1/ (path is what follows it). */
void http_api_handle(struct http_request *req, const char *path);

#endif
