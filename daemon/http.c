/* The web console's server (see http.h): libmicrohttpd setup, the listening
 * address and its loopback rule, TLS, bounded request bodies, the security
 * headers, static files, and a pool of store connections for the handlers. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "config.h"
#include "fileio.h"
#include "http-private.h"
#include "http_auth.h"
#include "kb.h"
#include "log.h"
#include "parse.h"
#include "store.h"
#include "triage.h"
#include "xalloc.h"

#define HTTP_THREADS 4
#define HTTP_CONNECTION_LIMIT 1000
#define HTTP_CONNECTION_TIMEOUT 60   /* seconds idle before a connection is closed */
#define HTTP_MAX_STATIC (4 * 1024 * 1024)
#define HTTP_MAX_PATH 200
#define HTTP_MAX_TLS_FILE (256 * 1024)
#define FTS_MAX_WORDS 16
#define FTS_MAX_WORD 64

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
			  "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
			  "base-uri 'none'; form-action 'self'";

struct cache_entry {
	char *key;
	char *body;
	size_t len;
	int64_t at_ms;
	uint64_t generation;
};

struct http_server {
	const struct config *cfg;
	struct MHD_Daemon *mhd;
	bool tls;
	char *tls_cert, *tls_key; /* PEM, kept for the daemon's lifetime */
	http_outbox_hook *outbox_queued;
	void *hook_ctx;
	pthread_mutex_t pool_lock;
	struct http_ctx *pool; /* idle store connections */
	pthread_mutex_t triage_lock;
	struct triage *triage;
	pthread_mutex_t cache_lock;
	struct cache_entry cache[HTTP_CACHE_ENTRIES];
	size_t cache_next;
	uint64_t generation; /* bumped by every change made through the server */
};


int http_listen_parse(const char *listen, struct sockaddr_storage *addr_r, socklen_t *len_r,
		      bool *loopback_r, const char **error_r)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port_text;
	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof(host)) {
			*error_r = "expected [IPv6]:PORT";
			return -1;
		}
		memcpy(host, listen + 1, (size_t)(end - listen - 1));
		host[end - listen - 1] = '\0';
		port_text = end + 2;
	} else {
		const char *colon = strrchr(listen, ':');
		if (colon == NULL || (size_t)(colon - listen) >= sizeof(host)) {
			*error_r = "expected ADDRESS:PORT";
			return -1;
		}
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
		port_text = colon + 1;
	}
	int64_t port;
	if (parse_int64(port_text, 1, 65535, &port) < 0) {
		*error_r = "the port must be a number 1..65535";
		return -1;
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (strcmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*loopback_r = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		*len_r = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*loopback_r = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		*len_r = sizeof(*sin6);
	} else {
		*error_r = "the address must be an IPv4 or IPv6 address (or localhost)";
		return -1;
	}
	*addr_r = ss;
	return 0;
}

static bool fts_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c >= 0x80;
}

char *http_fts_query(const char *q)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	size_t words = 0;
	for (const char *p = q; *p != '\0' && words < FTS_MAX_WORDS;) {
		if (!fts_word_byte((unsigned char)*p)) {
			p++;
			continue;
		}
		size_t len = 0;
		while (fts_word_byte((unsigned char)p[len]))
			len++;
		size_t keep = len;
		if (keep > FTS_MAX_WORD) {
			keep = FTS_MAX_WORD;
			/* Cut on a character boundary. */
			while (keep > 0 && ((unsigned char)p[keep] & 0xc0) == 0x80)
				keep--;
		}
		/* Quoted: FTS5 operators and column filters typed in the box are
		 * only words; no quote can occur inside (not a word byte). */
		strbuf_printf(&sb, "%s\"%.*s\"", words > 0 ? " " : "", (int)keep, p);
		words++;
		p += len;
	}
	if (words == 0) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

/* ---- the pool of store connections ---- */

static struct http_ctx *ctx_take(struct http_server *srv, const char **error_r)
{
	pthread_mutex_lock(&srv->pool_lock);
	struct http_ctx *ctx = srv->pool;
	if (ctx != NULL)
		srv->pool = ctx->next;
	pthread_mutex_unlock(&srv->pool_lock);
	if (ctx != NULL)
		return ctx;
	/* At most one per server thread in practice: requests of a thread run
	 * one after the other. */
	ctx = xcalloc(1, sizeof(*ctx));
	if (store_open_existing(srv->cfg->database, &ctx->st, error_r) < 0 ||
	    kb_register(store_db(ctx->st), error_r) < 0) {
		store_close(&ctx->st);
		free(ctx);
		return NULL;
	}
	return ctx;
}

static void ctx_give(struct http_server *srv, struct http_ctx *ctx)
{
	if (ctx == NULL)
		return;
	/* A handler that failed halfway must not leave a transaction open. */
	store_rollback(ctx->st);
	pthread_mutex_lock(&srv->pool_lock);
	ctx->next = srv->pool;
	srv->pool = ctx;
	pthread_mutex_unlock(&srv->pool_lock);
}

const struct config *http_server_config(const struct http_server *srv)
{
	return srv->cfg;
}

bool http_server_tls(const struct http_server *srv)
{
	return srv->tls;
}

void http_server_outbox_queued(struct http_server *srv)
{
	if (srv->outbox_queued != NULL)
		srv->outbox_queued(srv->hook_ctx);
}

struct triage *http_triage_lock(struct http_server *srv, struct store *st, const char **error_r)
{
	pthread_mutex_lock(&srv->triage_lock);
	if (srv->triage == NULL && triage_open(st, srv->cfg, &srv->triage, error_r) < 0) {
		pthread_mutex_unlock(&srv->triage_lock);
		return NULL;
	}
	return srv->triage;
}

void http_triage_unlock(struct http_server *srv)
{
	pthread_mutex_unlock(&srv->triage_lock);
}

/* ---- the micro-cache ---- */

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_cache_get(struct http_server *srv, const char *key, char **body_r, size_t *len_r)
{
	int64_t now = monotonic_ms();
	int found = 0;
	pthread_mutex_lock(&srv->cache_lock);
	for (size_t i = 0; i < HTTP_CACHE_ENTRIES; i++) {
		struct cache_entry *e = &srv->cache[i];
		if (e->key == NULL || strcmp(e->key, key) != 0)
			continue;
		if (e->generation == srv->generation && now - e->at_ms < HTTP_CACHE_MS) {
			*body_r = xstrndup(e->body, e->len);
			*len_r = e->len;
			found = 1;
		}
		break;
	}
	pthread_mutex_unlock(&srv->cache_lock);
	return found;
}

void http_cache_put(struct http_server *srv, const char *key, const char *body, size_t len)
{
	pthread_mutex_lock(&srv->cache_lock);
	struct cache_entry *e = NULL;
	for (size_t i = 0; i < HTTP_CACHE_ENTRIES && e == NULL; i++)
		if (srv->cache[i].key != NULL && strcmp(srv->cache[i].key, key) == 0)
			e = &srv->cache[i];
	if (e == NULL) {
		e = &srv->cache[srv->cache_next];
		srv->cache_next = (srv->cache_next + 1) % HTTP_CACHE_ENTRIES;
		free(e->key);
		e->key = xstrdup(key);
	}
	free(e->body);
	e->body = xstrndup(body, len);
	e->len = len;
	e->at_ms = monotonic_ms();
	e->generation = srv->generation;
	pthread_mutex_unlock(&srv->cache_lock);
}

void http_cache_invalidate(struct http_server *srv)
{
	pthread_mutex_lock(&srv->cache_lock);
	srv->generation++;
	pthread_mutex_unlock(&srv->cache_lock);
}

/* ---- answers ---- */

void http_reply(struct http_request *req, unsigned status, const char *content_type, char *body,
		size_t len)
{
	free(req->resp);
	req->status = status;
	req->content_type = content_type;
	req->resp = body;
	req->resp_len = len;
}

void http_reply_json(struct http_request *req, unsigned status, cJSON *json)
{
	char *text = cJSON_PrintUnformatted(json);
	cJSON_Delete(json);
	/* cJSON allocates with malloc (no hooks installed): free() releases it. */
	http_reply(req, status, "application/json; charset=utf-8", text, strlen(text));
}

void http_reply_error(struct http_request *req, unsigned status, const char *fmt, ...)
{
	char message[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", message);
	http_reply_json(req, status, o);
}

void http_add_header(struct http_request *req, const char *name, const char *value)
{
	if (req->n_headers >= HTTP_MAX_HEADERS)
		return;
	req->header_store[req->n_headers] = xstrdup(value);
	req->headers[req->n_headers][0] = name;
	req->headers[req->n_headers][1] = req->header_store[req->n_headers];
	req->n_headers++;
}

static void request_free(struct http_request *req)
{
	if (req == NULL)
		return;
	strbuf_free(&req->body);
	free(req->resp);
	free(req->token);
	free(req->agent_id);
	session_row_clear(&req->session);
	for (size_t i = 0; i < req->n_headers; i++)
		free(req->header_store[i]);
	free(req);
}

static enum MHD_Result send_answer(struct http_request *req, bool api)
{
	if (req->resp == NULL)
		http_reply_error(req, 500, "the server produced no answer");
	struct MHD_Response *r =
		MHD_create_response_from_buffer(req->resp_len, req->resp, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		return MHD_NO;
	req->resp = NULL; /* the response owns it now */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", api ? "no-store" : "no-cache");
	if (req->srv->tls)
		MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
	for (size_t i = 0; i < req->n_headers; i++)
		MHD_add_response_header(r, req->headers[i][0], req->headers[i][1]);
	enum MHD_Result ret = MHD_queue_response(req->conn, req->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- static files ---- */

static const char *content_type_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".json", "application/json; charset=utf-8"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot != NULL && i < ARRAY_SIZE(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

/* Only plain names below static_dir: no "..", no hidden files. */
static bool static_path_ok(const char *path)
{
	size_t len = strlen(path);
	if (len == 0 || len > HTTP_MAX_PATH || path[0] == '/' || path[0] == '.')
		return false;
	if (strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") != len)
		return false;
	return strstr(path, "..") == NULL && strstr(path, "/.") == NULL && strstr(path, "//") == NULL;
}

static void serve_static(struct http_request *req)
{
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		http_add_header(req, "Allow", "GET, HEAD");
		http_reply_error(req, 405, "only GET and HEAD are allowed here");
		return;
	}
	const char *path = req->url + 1;
	if (path[0] == '\0')
		path = "index.html";
	const char *type = content_type_of(path);
	if (!static_path_ok(path) || type == NULL) {
		http_reply_error(req, 404, "there is no such page");
		return;
	}
	_cleanup_free_ char *file = xasprintf("%s/%s", req->srv->cfg->http.static_dir, path);
	char *data;
	size_t len;
	const char *error;
	if (file_read_all(file, HTTP_MAX_STATIC, &data, &len, &error) < 0) {
		http_reply_error(req, 404, "there is no such page");
		return;
	}
	http_reply(req, 200, type, data, len);
}

/* ---- the request cycle ---- */

static bool is_trusted_proxy(const struct cfg_http *http, const char *addr)
{
	for (size_t i = 0; i < http->n_trusted_proxies; i++)
		if (strcmp(http->trusted_proxies[i], addr) == 0)
			return true;
	return false;
}

/* The canonical form of a numeric address (a copy of what inet_ntop writes)
 * into out; false when text is not one. */
static bool canonical_address(const char *text, size_t len, char *out, size_t size)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	int family = memchr(buf, ':', len) != NULL ? AF_INET6 : AF_INET;
	return inet_pton(family, buf, bin) == 1 && inet_ntop(family, bin, out, (socklen_t)size) != NULL;
}

/* Behind a trusted reverse proxy the client is the last address of
 * X-Forwarded-For that is not itself a trusted proxy: the proxy appends the
 * peer it saw, so anything to the left of it may be forged. */
static void forwarded_address(struct http_request *req)
{
	const struct cfg_http *http = &req->srv->cfg->http;
	if (!is_trusted_proxy(http, req->addr))
		return;
	const char *xff = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Forwarded-For");
	if (xff == NULL)
		return;
	size_t end = strlen(xff);
	for (unsigned hops = 0; end > 0 && hops < 16; hops++) {
		size_t start = end;
		while (start > 0 && xff[start - 1] != ',')
			start--;
		size_t a = start, b = end;
		while (a < b && (xff[a] == ' ' || xff[a] == '\t'))
			a++;
		while (b > a && (xff[b - 1] == ' ' || xff[b - 1] == '\t'))
			b--;
		char addr[INET6_ADDRSTRLEN];
		if (!canonical_address(xff + a, b - a, addr, sizeof(addr)))
			return; /* garbage: keep the proxy's address */
		memcpy(req->addr, addr, strlen(addr) + 1);
		if (!is_trusted_proxy(http, addr))
			return;
		end = start > 0 ? start - 1 : 0;
	}
}

static void client_address(struct http_request *req)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(req->addr, sizeof(req->addr), "unknown");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			  req->addr, sizeof(req->addr));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  req->addr, sizeof(req->addr));
	forwarded_address(req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;
	if (req == NULL) {
		req = xcalloc(1, sizeof(*req));
		req->srv = srv;
		req->conn = conn;
		req->method = method;
		req->url = url;
		strbuf_init(&req->body, HTTP_MAX_BODY);
		client_address(req);
		*con_cls = req;
		/* Refuse an announced oversized body before reading any of it. */
		const char *length =
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		int64_t n;
		if (length != NULL && (parse_int64(length, 0, INT64_MAX, &n) < 0 || n > HTTP_MAX_BODY)) {
			req->too_big = true;
			http_reply_error(req, 413, "the request body is larger than %d bytes",
					 HTTP_MAX_BODY);
			return send_answer(req, true);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!req->too_big && strbuf_append(&req->body, upload_data, *upload_data_size) < 0) {
			req->too_big = true;
			*upload_data_size = 0;
			http_reply_error(req, 413, "the request body is larger than %d bytes",
					 HTTP_MAX_BODY);
			return send_answer(req, true);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->too_big)
		return MHD_YES; /* answered already */
	bool api = strncmp(url, "/api/v1/", 8) == 0;
	if (api) {
		const char *error;
		req->ctx = ctx_take(srv, &error);
		if (req->ctx == NULL) {
			log_error("http: cannot open the store: %s", error);
			http_reply_error(req, 500, "the ticket store cannot be opened right now");
		} else {
			http_api_handle(req, url + 8);
			ctx_give(srv, req->ctx);
			req->ctx = NULL;
		}
	} else if (strcmp(url, "/api/v1") == 0 || strncmp(url, "/api/", 5) == 0) {
		api = true;
		http_reply_error(req, 404, "unknown API path (the API lives under /api/v1/)");
	} else {
		serve_static(req);
	}
	return send_answer(req, api);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	request_free(*con_cls);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warning("http: %s", line);
}

int http_start(const struct config *cfg, http_outbox_hook *outbox_queued, void *hook_ctx,
	       struct http_server **srv_r, const char **error_r)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool loopback;
	if (http_listen_parse(cfg->http.listen, &addr, &addr_len, &loopback, error_r) < 0) {
		*error_r = error_fmt("http.listen \"%s\": %s", cfg->http.listen, *error_r);
		return -1;
	}
	bool tls = cfg->http.tls_cert != NULL && cfg->http.tls_key != NULL;
	if (!tls && !loopback && !cfg->http.allow_plain_http) {
		*error_r = error_fmt("http.listen \"%s\" is not loopback and there is no TLS: set "
				     "tls_cert and tls_key, or allow_plain_http behind a reverse proxy",
				     cfg->http.listen);
		return -1;
	}
	if (http_auth_init(error_r) < 0)
		return -1;
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	srv->cfg = cfg;
	srv->tls = tls;
	srv->outbox_queued = outbox_queued;
	srv->hook_ctx = hook_ctx;
	pthread_mutex_init(&srv->pool_lock, NULL);
	pthread_mutex_init(&srv->triage_lock, NULL);
	pthread_mutex_init(&srv->cache_lock, NULL);
	size_t len;
	if (tls && (file_read_all(cfg->http.tls_cert, HTTP_MAX_TLS_FILE, &srv->tls_cert, &len,
				  error_r) < 0 ||
		    file_read_all(cfg->http.tls_key, HTTP_MAX_TLS_FILE, &srv->tls_key, &len,
				  error_r) < 0)) {
		*error_r = error_fmt("http TLS: %s", *error_r);
		http_stop(&srv);
		return -1;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls_options[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	struct MHD_OptionItem no_options[] = {{MHD_OPTION_END, 0, NULL}};
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		/* The logger first, so that MHD never prints on its own. */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv, MHD_OPTION_SOCK_ADDR,
		(const struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_ARRAY,
		tls ? tls_options : no_options, MHD_OPTION_END);
	if (srv->mhd == NULL) {
		*error_r = error_fmt("cannot listen on %s: %s", cfg->http.listen,
				     errno != 0 ? strerror(errno) : "libmicrohttpd refused to start");
		http_stop(&srv);
		return -1;
	}
	log_notice("web console on %s://%s%s", tls ? "https" : "http", cfg->http.listen,
		   tls || loopback ? "" : " (plain HTTP: behind a reverse proxy)");
	*srv_r = srv;
	return 0;
}

void http_stop(struct http_server **srvp)
{
	struct http_server *srv = *srvp;
	if (srv == NULL)
		return;
	if (srv->mhd != NULL)
		MHD_stop_daemon(srv->mhd);
	for (struct http_ctx *ctx = srv->pool; ctx != NULL;) {
		struct http_ctx *next = ctx->next;
		store_close(&ctx->st);
		free(ctx);
		ctx = next;
	}
	triage_free(&srv->triage);
	pthread_mutex_destroy(&srv->pool_lock);
	pthread_mutex_destroy(&srv->triage_lock);
	pthread_mutex_destroy(&srv->cache_lock);
	for (size_t i = 0; i < HTTP_CACHE_ENTRIES; i++) {
		free(srv->cache[i].key);
		free(srv->cache[i].body);
	}
	free(srv->tls_cert);
	if (srv->tls_key != NULL) {
		memset(srv->tls_key, 0, strlen(srv->tls_key));
		free(srv->tls_key);
	}
	free(srv);
	*srvp = NULL;
}
