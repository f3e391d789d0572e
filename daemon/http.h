/* The web console's server: libmicrohttpd in its own threads (a small pool,
 * each request on a store connection of its own), so that it never blocks
 * ingestion. It serves the JSON API under /api/v1/ (http_api.c, documented
 * in docs/api.md) and the console's static files from http.static_dir.
 * Without TLS it listens only on loopback unless http.allow_plain_http (a
 * reverse proxy in front). Every response carries the security headers
 * (strict CSP, no framing, no referrer, nosniff).
 * Ownership: the caller owns the server; cfg must outlive it (stop it before
 * a reload frees the config). Errors: static per thread. */
#ifndef TRIAGED_HTTP_H
#define TRIAGED_HTTP_H

#include <stdbool.h>
#include <sys/socket.h>

struct config;
struct http_server;

/* Called (from a server thread) after a reply was queued in the outbox, so
 * that the sender need not wait for its next wake-up. */
typedef void http_outbox_hook(void *ctx);

int http_start(const struct config *cfg, http_outbox_hook *outbox_queued, void *hook_ctx,
	       struct http_server **srv_r, const char **error_r);
/* Finishes the requests in progress, then frees. NULL-safe. */
void http_stop(struct http_server **srv);

/* "127.0.0.1:8025", "[::1]:8025", "0.0.0.0:8025", "[::]:8025": the socket
 * address and whether it is loopback only. */
int http_listen_parse(const char *listen, struct sockaddr_storage *addr_r, socklen_t *len_r,
		      bool *loopback_r, const char **error_r);

/* A safe FTS5 expression for a search box: the words of q (letters, digits,
 * any non-ASCII byte), each quoted, all required; NULL when q has none. At
 * most 16 words of 64 bytes. The caller frees. */
char *http_fts_query(const char *q);

#endif
