/* Accounts and sessions of the web console: Argon2id password hashes
 * (libsodium crypto_pwhash_str), random 256-bit session tokens kept in the
 * store only as their SHA-256, a CSRF token bound to each session, idle
 * expiry, and the login rate limit (per remote address and per account).
 * triagectl agent and the HTTP server both go through here; every change is
 * an audit event (ticket-less) naming who made it.
 * Ownership: what is filled here belongs to the caller (see each function).
 * Errors: -1 with *error_r static per thread, valid until the next call. */
#ifndef TRIAGED_HTTP_AUTH_H
#define TRIAGED_HTTP_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "store_agents.h"

struct store;

#define HTTP_AUTH_MAX_FAILURES 5       /* failed logins per window... */
#define HTTP_AUTH_WINDOW (15 * 60)     /* ...before 429 */
#define HTTP_AUTH_MIN_PASSWORD 10      /* bytes */
#define HTTP_AUTH_MAX_PASSWORD 1024
#define HTTP_AUTH_MAX_EMAIL 254
#define HTTP_AUTH_MAX_NAME 200
#define HTTP_AUTH_TOKEN_HEX 64         /* 32 random bytes, hex */
/* last_seen is written at most this often: reads must not all become writes. */
#define HTTP_AUTH_TOUCH_SECONDS 60

#define HTTP_AUTH_DENIED (-2)  /* unknown account, wrong password or disabled */
#define HTTP_AUTH_LIMITED (-3) /* too many failures: retry later */

/* sodium_init(); call once before anything else here (thread-safe). */
int http_auth_init(const char **error_r);

/* Argon2id hash of password (caller frees). Refuses passwords shorter than
 * HTTP_AUTH_MIN_PASSWORD or longer than HTTP_AUTH_MAX_PASSWORD bytes. */
int http_auth_hash_password(const char *password, char **hash_r, const char **error_r);
bool http_auth_verify_password(const char *hash, const char *password);

/* A lower-case copy of email when it looks like an address (caller frees),
 * NULL otherwise. */
char *http_auth_normalize_email(const char *email);

/* Account management, each with its audit event by actor ("cli:USER" or
 * "agent:EMAIL"). add: 0, 1 when the e-mail is taken, -1. The others: 0, 1
 * when there is no such agent, -1. */
int http_auth_agent_add(struct store *st, const char *actor, const char *email, const char *name,
			enum agent_role role, const char *password, const char **error_r);
int http_auth_agent_disable(struct store *st, const char *actor, const char *email,
			    const char **error_r);
int http_auth_agent_passwd(struct store *st, const char *actor, const char *email,
			   const char *password, const char **error_r);

struct http_login {
	char token[HTTP_AUTH_TOKEN_HEX + 1]; /* for the cookie; never stored */
	char csrf[HTTP_AUTH_TOKEN_HEX + 1];
	struct agent agent;                  /* password_hash NULL; agent_clear() it */
	int64_t retry_after;                 /* seconds, with HTTP_AUTH_LIMITED */
};

/* Checks the rate limit of addr and email, then the password; on success
 * opens a session. 0 (login_r filled), HTTP_AUTH_DENIED, HTTP_AUTH_LIMITED
 * (login_r->retry_after set) or -1. A failure is counted for both keys. */
int http_auth_login(struct store *st, const char *addr, const char *email, const char *password,
		    struct http_login *login_r, const char **error_r);
/* The live session of token (idle for less than idle_minutes), touched.
 * 1 found (s_r filled, session_row_clear() it), 0 not, -1 error. */
int http_auth_session(struct store *st, const char *token, unsigned idle_minutes,
		      struct session_row *s_r, const char **error_r);
int http_auth_logout(struct store *st, const char *token, const char *agent_email,
		     const char **error_r);
/* Constant-time comparison of a presented CSRF token with the session's. */
bool http_auth_csrf_ok(const char *expected, const char *presented);

#endif
