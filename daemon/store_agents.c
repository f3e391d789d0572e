/* The store's accounts of the web console: agents, sessions, failed logins
 * (see store_agents.h). */
#include "store_agents.h"

#include <string.h>

#include "store-private.h"
#include "xalloc.h"

static const char *const role_names[] = {"agent", "manager", "admin"};

const char *agent_role_name(enum agent_role role)
{
	return (unsigned)role < ARRAY_SIZE(role_names) ? role_names[role] : "?";
}

int agent_role_parse(const char *s, enum agent_role *role_r)
{
	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(role_names); i++)
		if (strcmp(s, role_names[i]) == 0) {
			*role_r = (enum agent_role)i;
			return 0;
		}
	return -1;
}

void agent_clear(struct agent *a)
{
	if (a == NULL)
		return;
	free(a->email);
	free(a->name);
	if (a->password_hash != NULL) {
		/* Not a secret by itself, but no reason to leave it in freed memory. */
		memset(a->password_hash, 0, strlen(a->password_hash));
		free(a->password_hash);
	}
	memset(a, 0, sizeof(*a));
}

void agent_list_free(struct agent **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		agent_clear(&(*list)[i]);
	free(*list);
	*list = NULL;
}

void session_row_clear(struct session_row *s)
{
	if (s == NULL)
		return;
	free(s->csrf);
	agent_clear(&s->agent);
	memset(s, 0, sizeof(*s));
}

/* Columns 0..6 of an agent row, from column `first`. */
#define AGENT_COLUMNS "a.id, a.email, a.name, a.role, a.disabled, a.created, a.last_login"

static void agent_from_row(sqlite3_stmt *s, int first, struct agent *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(s, first);
	a->email = store_column_dup(s, first + 1);
	a->name = store_column_dup(s, first + 2);
	if (agent_role_parse((const char *)sqlite3_column_text(s, first + 3), &a->role) < 0)
		a->role = AGENT_ROLE_AGENT; /* the CHECK constraint makes this unreachable */
	a->disabled = sqlite3_column_int(s, first + 4) != 0;
	a->created = sqlite3_column_int64(s, first + 5);
	a->last_login = sqlite3_column_int64(s, first + 6);
}

int store_agent_add(struct store *st, const char *email, const char *name, enum agent_role role,
		    const char *password_hash, int64_t now, int64_t *id_r)
{
	sqlite3_stmt *s = store_stmt(st, "INSERT INTO agents (email, name, role, password_hash,"
					 " created) VALUES (?, ?, ?, ?, ?)"
					 " ON CONFLICT (email) DO NOTHING");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, email);
	store_bind_text(s, 2, name);
	store_bind_text(s, 3, agent_role_name(role));
	store_bind_text(s, 4, password_hash);
	sqlite3_bind_int64(s, 5, now);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(st->db) == 0)
		return 1;
	*id_r = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int store_agent_get(struct store *st, const char *email, struct agent *a_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " AGENT_COLUMNS ", a.password_hash"
					 " FROM agents a WHERE a.email = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, email);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		agent_from_row(s, 0, a_r);
		a_r->password_hash = store_column_dup(s, 7);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_agent_list(struct store *st, struct agent **list_r, size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " AGENT_COLUMNS " FROM agents a ORDER BY a.email");
	if (s == NULL)
		return -1;
	struct agent *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		list = xgrow(list, &cap, n + 1, sizeof(*list));
		agent_from_row(s, 0, &list[n++]);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		agent_list_free(&list, n);
		return -1;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

/* Runs an UPDATE bound to (value, email) and, when it changed a row, ends
 * the agent's sessions when asked. 1/0/-1. */
static int update_agent(struct store *st, sqlite3_stmt *s, const char *email, bool end_sessions)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(st->db) == 0)
		return 0;
	if (!end_sessions)
		return 1;
	sqlite3_stmt *del = store_stmt(st, "DELETE FROM sessions WHERE agent_id ="
					   " (SELECT id FROM agents WHERE email = ?)");
	if (del == NULL)
		return -1;
	store_bind_text(del, 1, email);
	return store_exec_stmt(st, del) < 0 ? -1 : 1;
}

int store_agent_set_disabled(struct store *st, const char *email, bool disabled)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE agents SET disabled = ? WHERE email = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int(s, 1, disabled ? 1 : 0);
	store_bind_text(s, 2, email);
	return update_agent(st, s, email, disabled);
}

int store_agent_set_password(struct store *st, const char *email, const char *password_hash)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE agents SET password_hash = ? WHERE email = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, password_hash);
	store_bind_text(s, 2, email);
	return update_agent(st, s, email, true);
}

int store_agent_set_last_login(struct store *st, int64_t agent_id, int64_t now)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE agents SET last_login = ? WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, agent_id);
	return store_exec_stmt(st, s);
}

int store_session_add(struct store *st, const char *token_hash, int64_t agent_id,
		      const char *csrf, int64_t now)
{
	sqlite3_stmt *s = store_stmt(st, "INSERT INTO sessions (token_hash, agent_id, csrf, created,"
					 " last_seen) VALUES (?, ?, ?, ?, ?)");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, token_hash);
	sqlite3_bind_int64(s, 2, agent_id);
	store_bind_text(s, 3, csrf);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int64(s, 5, now);
	return store_exec_stmt(st, s);
}

int store_session_get(struct store *st, const char *token_hash, int64_t idle_since,
		      struct session_row *s_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " AGENT_COLUMNS ", s.csrf, s.created, s.last_seen"
					 " FROM sessions s JOIN agents a ON a.id = s.agent_id"
					 " WHERE s.token_hash = ? AND s.last_seen >= ?"
					 "   AND a.disabled = 0");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, token_hash);
	sqlite3_bind_int64(s, 2, idle_since);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		memset(s_r, 0, sizeof(*s_r));
		agent_from_row(s, 0, &s_r->agent);
		s_r->csrf = store_column_dup(s, 7);
		s_r->created = sqlite3_column_int64(s, 8);
		s_r->last_seen = sqlite3_column_int64(s, 9);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_session_touch(struct store *st, const char *token_hash, int64_t now)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE sessions SET last_seen = ? WHERE token_hash = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	store_bind_text(s, 2, token_hash);
	return store_exec_stmt(st, s);
}

int store_session_delete(struct store *st, const char *token_hash)
{
	sqlite3_stmt *s = store_stmt(st, "DELETE FROM sessions WHERE token_hash = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, token_hash);
	return store_exec_stmt(st, s);
}

int store_session_purge(struct store *st, int64_t before, int64_t failures_before)
{
	sqlite3_stmt *s = store_stmt(st, "DELETE FROM sessions WHERE last_seen < ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, before);
	if (store_exec_stmt(st, s) < 0)
		return -1;
	s = store_stmt(st, "DELETE FROM login_failures WHERE at < ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, failures_before);
	return store_exec_stmt(st, s);
}

int store_login_failure_add(struct store *st, const char *key, int64_t now)
{
	sqlite3_stmt *s = store_stmt(st, "INSERT INTO login_failures (key, at) VALUES (?, ?)");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, key);
	sqlite3_bind_int64(s, 2, now);
	return store_exec_stmt(st, s);
}

int store_login_failures(struct store *st, const char *key, int64_t since, int64_t *count_r,
			 int64_t *oldest_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT count(*), coalesce(min(at), 0) FROM login_failures"
					 " WHERE key = ? AND at >= ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, key);
	sqlite3_bind_int64(s, 2, since);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*count_r = sqlite3_column_int64(s, 0);
		*oldest_r = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

int store_login_failures_clear(struct store *st, const char *key)
{
	sqlite3_stmt *s = store_stmt(st, "DELETE FROM login_failures WHERE key = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, key);
	return store_exec_stmt(st, s);
}
