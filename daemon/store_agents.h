/* The store's accounts of the web console: agents (with their role and
 * Argon2id password hash), sessions (the token kept only as its SHA-256 hash,
 * with the CSRF token bound to it) and failed login attempts for the rate
 * limit. Hashing and token generation are http_auth.h's; this is SQL only.
 * Ownership: structs filled here belong to the caller (agent_clear,
 * agent_list_free, session_row_clear); strings inside are owned copies.
 * Errors: store_error(st). */
#ifndef TRIAGED_STORE_AGENTS_H
#define TRIAGED_STORE_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum agent_role { AGENT_ROLE_AGENT, AGENT_ROLE_MANAGER, AGENT_ROLE_ADMIN };
const char *agent_role_name(enum agent_role role);
int agent_role_parse(const char *s, enum agent_role *role_r);

struct agent {
	int64_t id;
	char *email; /* lower case */
	char *name;
	enum agent_role role;
	bool disabled;
	char *password_hash; /* crypto_pwhash_str output */
	int64_t created, last_login; /* last_login 0: never */
};
void agent_clear(struct agent *a);
void agent_list_free(struct agent **list, size_t n);

/* 0 added (*id_r), 1 an agent with this e-mail exists (nothing written), -1. */
int store_agent_add(struct store *st, const char *email, const char *name, enum agent_role role,
		    const char *password_hash, int64_t now, int64_t *id_r);
/* 1 found, 0 not, -1 error. */
int store_agent_get(struct store *st, const char *email, struct agent *a_r);
/* Ordered by e-mail; password hashes left NULL. */
int store_agent_list(struct store *st, struct agent **list_r, size_t *n_r);
/* These return 1 done, 0 no such agent, -1 error. Disabling and a new
 * password also end the agent's sessions. */
int store_agent_set_disabled(struct store *st, const char *email, bool disabled);
int store_agent_set_password(struct store *st, const char *email, const char *password_hash);
int store_agent_set_last_login(struct store *st, int64_t agent_id, int64_t now);

/* ---- sessions ---- */
struct session_row {
	char *csrf;
	int64_t created, last_seen;
	struct agent agent; /* password_hash left NULL */
};
void session_row_clear(struct session_row *s);

int store_session_add(struct store *st, const char *token_hash, int64_t agent_id,
		      const char *csrf, int64_t now);
/* The live session of token_hash: seen at or after idle_since, its agent
 * enabled. 1 found, 0 not (expired, unknown or disabled), -1 error. */
int store_session_get(struct store *st, const char *token_hash, int64_t idle_since,
		      struct session_row *s_r);
int store_session_touch(struct store *st, const char *token_hash, int64_t now);
int store_session_delete(struct store *st, const char *token_hash);
/* Removes sessions idle since before `before` and login failures older than
 * `failures_before`. */
int store_session_purge(struct store *st, int64_t before, int64_t failures_before);

/* ---- failed logins, keyed "addr:IP" or "account:EMAIL" ---- */
int store_login_failure_add(struct store *st, const char *key, int64_t now);
/* Failures of key at or after since: their count and the oldest one's time. */
int store_login_failures(struct store *st, const char *key, int64_t since, int64_t *count_r,
			 int64_t *oldest_r);
int store_login_failures_clear(struct store *st, const char *key);

#endif
