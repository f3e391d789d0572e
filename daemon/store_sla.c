/* SQL of the SLA engine (clocks, webhook deliveries, notification log) and
 * of the SLA report (aggregations done by SQLite, except one streamed scan
 * of the tickets that the report sums for several figures at once). */
#include "store_sla.h"

#include <stdlib.h>
#include <string.h>

#include "store-private.h"
#include "xalloc.h"

#define CLOCK_COLUMNS                                                                         \
	"id, ticket_id, target, policy, calendar, minutes, started, resumed, consumed, due,"  \
	" warn_at, paused_at, state, breached_at, closed_at, elapsed, fired, next_fire"

void sla_clock_row_clear(struct sla_clock_row *c)
{
	if (c == NULL)
		return;
	free(c->target);
	free(c->policy);
	free(c->calendar);
	free(c->state);
	memset(c, 0, sizeof(*c));
}

void sla_clock_rows_free(struct sla_clock_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		sla_clock_row_clear(&(*rows)[i]);
	free(*rows);
	*rows = NULL;
}

static void clock_from_row(sqlite3_stmt *s, struct sla_clock_row *c)
{
	c->id = sqlite3_column_int64(s, 0);
	c->ticket_id = sqlite3_column_int64(s, 1);
	c->target = store_column_dup(s, 2);
	c->policy = store_column_dup(s, 3);
	c->calendar = store_column_dup(s, 4);
	c->minutes = sqlite3_column_int64(s, 5);
	c->started = sqlite3_column_int64(s, 6);
	c->resumed = sqlite3_column_int64(s, 7);
	c->consumed = sqlite3_column_int64(s, 8);
	c->due = sqlite3_column_int64(s, 9);
	c->warn_at = sqlite3_column_int64(s, 10);
	c->paused_at = sqlite3_column_int64(s, 11);
	c->state = store_column_dup(s, 12);
	c->breached_at = sqlite3_column_int64(s, 13);
	c->closed_at = sqlite3_column_int64(s, 14);
	c->elapsed = sqlite3_column_int64(s, 15);
	c->fired = (uint64_t)sqlite3_column_int64(s, 16);
	c->next_fire = sqlite3_column_int64(s, 17);
}

/* 0 is stored as NULL for the optional instants. */
static void bind_opt(sqlite3_stmt *s, int idx, int64_t v)
{
	if (v == 0)
		sqlite3_bind_null(s, idx);
	else
		sqlite3_bind_int64(s, idx, v);
}

static void bind_mutable(sqlite3_stmt *s, const struct sla_clock_row *c)
{
	store_bind_text(s, 1, c->policy);
	store_bind_text(s, 2, c->calendar);
	sqlite3_bind_int64(s, 3, c->minutes);
	sqlite3_bind_int64(s, 4, c->resumed);
	sqlite3_bind_int64(s, 5, c->consumed);
	sqlite3_bind_int64(s, 6, c->due);
	bind_opt(s, 7, c->warn_at);
	bind_opt(s, 8, c->paused_at);
	store_bind_text(s, 9, c->state);
	bind_opt(s, 10, c->breached_at);
	bind_opt(s, 11, c->closed_at);
	if (c->closed_at != 0)
		sqlite3_bind_int64(s, 12, c->elapsed);
	else
		sqlite3_bind_null(s, 12);
	sqlite3_bind_int64(s, 13, (int64_t)c->fired);
	bind_opt(s, 14, c->next_fire);
}

int store_sla_clock_insert(struct store *st, const struct sla_clock_row *c, int64_t *id_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO sla_clocks (policy, calendar, minutes, resumed, consumed, due, warn_at,"
		" paused_at, state, breached_at, closed_at, elapsed, fired, next_fire, ticket_id,"
		" target, started) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
		" ?14, ?15, ?16, ?17)");
	if (s == NULL)
		return -1;
	bind_mutable(s, c);
	sqlite3_bind_int64(s, 15, c->ticket_id);
	store_bind_text(s, 16, c->target);
	sqlite3_bind_int64(s, 17, c->started);
	if (store_exec_stmt(st, s) < 0)
		return -1;
	*id_r = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int store_sla_clock_update(struct store *st, const struct sla_clock_row *c)
{
	sqlite3_stmt *s = store_stmt(st,
		"UPDATE sla_clocks SET policy = ?1, calendar = ?2, minutes = ?3, resumed = ?4,"
		" consumed = ?5, due = ?6, warn_at = ?7, paused_at = ?8, state = ?9,"
		" breached_at = ?10, closed_at = ?11, elapsed = ?12, fired = ?13, next_fire = ?14"
		" WHERE id = ?15");
	if (s == NULL)
		return -1;
	bind_mutable(s, c);
	sqlite3_bind_int64(s, 15, c->id);
	return store_exec_stmt(st, s);
}

int store_sla_clock_get(struct store *st, int64_t id, struct sla_clock_row *c_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " CLOCK_COLUMNS " FROM sla_clocks WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		memset(c_r, 0, sizeof(*c_r));
		clock_from_row(s, c_r);
		sqlite3_reset(s);
		return 1;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void clock_read_row(sqlite3_stmt *s, void *row)
{
	clock_from_row(s, row);
}

static void clock_clear_row(void *row)
{
	sla_clock_row_clear(row);
}

static int clocks_list(struct store *st, sqlite3_stmt *s, struct sla_clock_row **rows_r,
		       size_t *n_r)
{
	(void)st;
	return store_collect(s, sizeof(struct sla_clock_row), clock_read_row, clock_clear_row,
			     (void **)rows_r, n_r);
}

int store_sla_clock_move(struct store *st, int64_t id, int64_t ticket, const char *target)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE sla_clocks SET ticket_id = ?, target = ? WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket);
	store_bind_text(s, 2, target);
	sqlite3_bind_int64(s, 3, id);
	return store_exec_stmt(st, s);
}

int store_sla_clocks_live(struct store *st, int64_t ticket_id, struct sla_clock_row **rows_r,
			  size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " CLOCK_COLUMNS " FROM sla_clocks"
					 " WHERE ticket_id = ? AND closed_at IS NULL ORDER BY id");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	return clocks_list(st, s, rows_r, n_r);
}

int store_sla_clocks_all(struct store *st, int64_t ticket_id, struct sla_clock_row **rows_r,
			 size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " CLOCK_COLUMNS " FROM sla_clocks"
					 " WHERE ticket_id = ? ORDER BY id");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	return clocks_list(st, s, rows_r, n_r);
}

int store_sla_refresh_next_due(struct store *st, int64_t ticket_id)
{
	/* Bit 0 of fired is the warning: once it fired, the due time counts. */
	sqlite3_stmt *s = store_stmt(st,
		"UPDATE tickets SET next_due = (SELECT min(CASE WHEN warn_at IS NOT NULL"
		"   AND (fired & 1) = 0 THEN warn_at ELSE due END) FROM sla_clocks"
		"   WHERE ticket_id = ?1 AND state = 'running') WHERE id = ?1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	return store_exec_stmt(st, s);
}

int store_sla_clocks_firing(struct store *st, int64_t now, unsigned limit, int64_t **ids_r,
			    size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT id FROM sla_clocks WHERE next_fire IS NOT NULL"
					 " AND next_fire <= ? ORDER BY next_fire LIMIT ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, limit);
	return store_collect_ids(s, ids_r, n_r);
}

int store_sla_next_wakeup(struct store *st, int64_t *when_r)
{
	/* Two index lookups (min() over a partial index is one seek each). */
	sqlite3_stmt *s = store_stmt(st,
		"SELECT (SELECT min(next_fire) FROM sla_clocks WHERE next_fire IS NOT NULL),"
		" (SELECT min(next_attempt) FROM sla_webhooks WHERE status = 'queued')");
	if (s == NULL)
		return -1;
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return -1;
	}
	bool have = false;
	int64_t when = 0;
	for (int col = 0; col < 2; col++) {
		if (sqlite3_column_type(s, col) == SQLITE_NULL)
			continue;
		int64_t v = sqlite3_column_int64(s, col);
		if (!have || v < when)
			when = v;
		have = true;
	}
	sqlite3_reset(s);
	if (have)
		*when_r = when;
	return have ? 1 : 0;
}

int store_sla_notify_check(struct store *st, int64_t ticket_id, const char *channel,
			   int64_t since, int64_t now)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT last_at FROM sla_notified"
					 " WHERE ticket_id = ? AND channel = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	store_bind_text(s, 2, channel);
	int rc = sqlite3_step(s);
	bool recent = rc == SQLITE_ROW && sqlite3_column_int64(s, 0) >= since;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (recent)
		return 1;
	s = store_stmt(st, "INSERT INTO sla_notified (ticket_id, channel, last_at) VALUES (?, ?, ?)"
			   " ON CONFLICT (ticket_id, channel) DO UPDATE SET last_at = excluded.last_at");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	store_bind_text(s, 2, channel);
	sqlite3_bind_int64(s, 3, now);
	return store_exec_stmt(st, s) < 0 ? -1 : 0;
}

void sla_webhook_rows_free(struct sla_webhook_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*rows)[i].webhook);
		free((*rows)[i].body);
	}
	free(*rows);
	*rows = NULL;
}

int store_sla_webhook_queue(struct store *st, int64_t ticket_id, const char *webhook,
			    const char *body, int64_t now)
{
	sqlite3_stmt *s = store_stmt(st, "INSERT INTO sla_webhooks (ticket_id, webhook, body,"
					 " next_attempt, created) VALUES (?1, ?2, ?3, ?4, ?4)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	store_bind_text(s, 2, webhook);
	store_bind_text(s, 3, body);
	sqlite3_bind_int64(s, 4, now);
	return store_exec_stmt(st, s);
}

int store_sla_webhooks_due(struct store *st, int64_t now, unsigned limit,
			   struct sla_webhook_row **rows_r, size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"SELECT id, ticket_id, webhook, body, attempts FROM sla_webhooks"
		" WHERE status = 'queued' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, limit);
	struct sla_webhook_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rows = xgrow(rows, &cap, n + 1, sizeof(*rows));
		rows[n].id = sqlite3_column_int64(s, 0);
		rows[n].ticket_id = sqlite3_column_int64(s, 1);
		rows[n].webhook = store_column_dup(s, 2);
		rows[n].body = store_column_dup(s, 3);
		rows[n].attempts = (unsigned)sqlite3_column_int(s, 4);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		sla_webhook_rows_free(&rows, n);
		return -1;
	}
	*rows_r = rows;
	*n_r = n;
	return 0;
}

int store_sla_webhook_result(struct store *st, int64_t id, bool sent, bool give_up,
			     int64_t next_attempt, const char *error, int64_t now)
{
	sqlite3_stmt *s = store_stmt(st,
		"UPDATE sla_webhooks SET attempts = attempts + 1,"
		" status = CASE WHEN ?1 THEN 'sent' WHEN ?2 THEN 'failed' ELSE 'queued' END,"
		" next_attempt = ?3, last_error = ?4, sent_at = CASE WHEN ?1 THEN ?5 END"
		" WHERE id = ?6");
	if (s == NULL)
		return -1;
	sqlite3_bind_int(s, 1, sent);
	sqlite3_bind_int(s, 2, give_up);
	sqlite3_bind_int64(s, 3, next_attempt);
	store_bind_text(s, 4, error);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_int64(s, 6, id);
	return store_exec_stmt(st, s);
}

int store_sla_webhook_counts(struct store *st, int64_t *queued_r, int64_t *sent_r,
			     int64_t *failed_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"SELECT coalesce(sum(status = 'queued'), 0), coalesce(sum(status = 'sent'), 0),"
		" coalesce(sum(status = 'failed'), 0) FROM sla_webhooks");
	if (s == NULL || sqlite3_step(s) != SQLITE_ROW) {
		if (s != NULL)
			sqlite3_reset(s);
		return -1;
	}
	*queued_r = sqlite3_column_int64(s, 0);
	*sent_r = sqlite3_column_int64(s, 1);
	*failed_r = sqlite3_column_int64(s, 2);
	sqlite3_reset(s);
	return 0;
}

int store_sla_due_each(struct store *st, int64_t until, unsigned limit, store_sla_due_cb *cb,
		       void *ctx)
{
	/* Walks the tickets' next_due index in order (the queue's own order),
	 * so that a LIMIT stops early even with a million open tickets; clocks
	 * of one ticket are then sorted by their due time. */
	sqlite3_stmt *s = store_stmt(st,
		"SELECT t.id, t.subject, t.queue, t.priority, c.policy, c.target, c.due,"
		" c.state = 'paused', c.breached_at IS NOT NULL"
		" FROM tickets t JOIN sla_clocks c ON c.ticket_id = t.id AND c.closed_at IS NULL"
		" WHERE t.next_due IS NOT NULL AND t.next_due < ?1 AND c.due < ?1"
		" AND c.state = 'running' ORDER BY t.next_due, c.due, t.id LIMIT ?2");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, until);
	sqlite3_bind_int64(s, 2, limit);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cb(sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
		       (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
		       (const char *)sqlite3_column_text(s, 4), (const char *)sqlite3_column_text(s, 5),
		       sqlite3_column_int64(s, 6), sqlite3_column_int(s, 7) != 0,
		       sqlite3_column_int(s, 8) != 0, ctx) < 0) {
			sqlite3_reset(s);
			return -1;
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- report --------------------------------------------------------------- */

/* Statements are cached by the address of their literal, so each grouping
 * has its own literal, built from one template. */
#define GROUP_EXPRS(M)                                                     \
	M("''"), M("t.queue"), M("coalesce(t.category, '')"), M("t.priority"), \
		M("coalesce(t.assignee, '')")

static int by_index(const char *by)
{
	static const char *const names[] = {"queue", "category", "priority", "assignee"};
	if (by == NULL || *by == '\0')
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(by, names[i]) == 0)
			return (int)i + 1;
	return -1;
}

static int each_row(sqlite3_stmt *s, size_t n_values, store_report_row_cb *cb, void *ctx)
{
	int rc;
	int64_t values[8];
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *group = (const char *)sqlite3_column_text(s, 0);
		for (size_t i = 0; i < n_values; i++)
			values[i] = sqlite3_column_int64(s, (int)i + 1);
		if (cb(group ? group : "", values, n_values, ctx) < 0) {
			sqlite3_reset(s);
			return -1;
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Tickets set apart from the report's volumes: 1 closed as spam, 2 merged
 * into another ticket (the same request written twice, counted once in the
 * ticket kept), 0 others. */
#define REPORT_SET_APART \
	"(CASE WHEN t.merged_into IS NOT NULL THEN 2 WHEN t.spam_closed THEN 1 ELSE 0 END)"

/* Clocks of tickets closed as spam count in no SLA figure: no service was
 * owed. (A merged ticket's clocks count: what was met or breached before
 * the merge happened.) Through the partial index of those tickets. */
#define CLOCK_NOT_SPAM " AND c.ticket_id NOT IN (SELECT id FROM tickets WHERE spam_closed)"

/* Tickets received in the period that an agent re-triaged (queue or
 * category set by agent:* or cli:*), and those whose category an agent
 * corrected; tickets set apart are left out, as in the ticket counts.
 * Driven by the events' (kind, at) index. */
#define TRIAGE_SQL(G)                                                                       \
	"SELECT " G ", count(DISTINCT e.ticket_id),"                                         \
	" count(DISTINCT CASE WHEN e.kind = 'category.corrected' THEN e.ticket_id END)"      \
	" FROM events e JOIN tickets t ON t.id = e.ticket_id"                                \
	" WHERE e.kind IN ('queue.set', 'queue_changed', 'category', 'category.set',"         \
	"   'category.corrected') AND e.at >= ?1"                                            \
	" AND (e.actor LIKE 'agent:%' OR e.actor LIKE 'cli:%')"                              \
	" AND t.created >= ?1 AND t.created < ?2 AND " REPORT_SET_APART " = 0"                  \
	" GROUP BY 1 ORDER BY 1"

int store_report_triage(struct store *st, const char *by, int64_t from, int64_t to,
			store_report_row_cb *cb, void *ctx)
{
	static const char *const sql[] = {GROUP_EXPRS(TRIAGE_SQL)};
	int g = by_index(by);
	sqlite3_stmt *s = g < 0 ? NULL : store_stmt(st, sql[g]);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	return each_row(s, 2, cb, ctx);
}

/* One row per ticket the report counts (created, answered or resolved in
 * the period, or open at `to`), in table order: a full scan with no sorter,
 * the figures that need a grouping of their own (sentiment, categories,
 * days) are added up by the caller in the same pass. */
#define TICKETS_SQL(G)                                                                      \
	"SELECT " G ", coalesce(t.sentiment_label, ''), coalesce(t.category, ''), t.created," \
	" t.first_response_at, t.resolved_at, " REPORT_SET_APART " FROM tickets t"             \
	" WHERE (t.created < ?2 AND (t.resolved_at IS NULL OR t.resolved_at >= ?2))"          \
	" OR (t.created >= ?1 AND t.created < ?2)"                                            \
	" OR (t.first_response_at >= ?1 AND t.first_response_at < ?2)"                        \
	" OR (t.resolved_at >= ?1 AND t.resolved_at < ?2)"

static int64_t column_opt(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? STORE_REPORT_NONE
							  : sqlite3_column_int64(s, col);
}

int store_report_tickets(struct store *st, const char *by, int64_t from, int64_t to,
			 store_report_ticket_cb *cb, void *ctx)
{
	static const char *const sql[] = {GROUP_EXPRS(TICKETS_SQL)};
	int g = by_index(by);
	sqlite3_stmt *s = g < 0 ? NULL : store_stmt(st, sql[g]);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *group = (const char *)sqlite3_column_text(s, 0);
		const char *sentiment = (const char *)sqlite3_column_text(s, 1);
		const char *category = (const char *)sqlite3_column_text(s, 2);
		if (cb(group ? group : "", sentiment ? sentiment : "", category ? category : "",
		       sqlite3_column_int64(s, 3), column_opt(s, 4), column_opt(s, 5),
		       sqlite3_column_int(s, 6), ctx) < 0) {
			sqlite3_reset(s);
			return -1;
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The distribution as (elapsed, group, count) in elapsed order: few rows
 * (business seconds repeat), no window function, no per-clock sort in the
 * caller. Without a grouping the tickets are not read at all. */
#define ELAPSED_SQL(G)                                                                      \
	"SELECT " G ", c.elapsed, count(*) FROM sla_clocks c"                                \
	"   JOIN tickets t ON t.id = c.ticket_id WHERE c.closed_at >= ?1 AND c.closed_at < ?2" \
	"   AND c.target = ?3 AND c.state IN ('met', 'breached')" CLOCK_NOT_SPAM             \
	" GROUP BY c.elapsed, 1 ORDER BY c.elapsed"

int store_report_elapsed(struct store *st, const char *by, const char *target, int64_t from,
			 int64_t to, store_report_row_cb *cb, void *ctx)
{
	static const char *const sql[] = {
		"SELECT '', c.elapsed, count(*) FROM sla_clocks c WHERE c.closed_at >= ?1"
		" AND c.closed_at < ?2 AND c.target = ?3 AND c.state IN ('met', 'breached')"
		CLOCK_NOT_SPAM " GROUP BY c.elapsed ORDER BY c.elapsed",
		ELAPSED_SQL("t.queue"), ELAPSED_SQL("coalesce(t.category, '')"),
		ELAPSED_SQL("t.priority"), ELAPSED_SQL("coalesce(t.assignee, '')")};
	int g = by_index(by);
	sqlite3_stmt *s = g < 0 ? NULL : store_stmt(st, sql[g]);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	store_bind_text(s, 3, target);
	return each_row(s, 2, cb, ctx);
}

#define SLA_SQL(G)                                                                          \
	"SELECT " G ","                                                                      \
	" sum(c.target = 'first_response' AND c.state = 'met' AND c.closed_at >= ?1 AND c.closed_at < ?2),"       \
	" sum(c.target = 'first_response' AND c.breached_at >= ?1 AND c.breached_at < ?2),"  \
	" sum(c.target = 'next_response' AND c.state = 'met' AND c.closed_at >= ?1 AND c.closed_at < ?2),"        \
	" sum(c.target = 'next_response' AND c.breached_at >= ?1 AND c.breached_at < ?2),"   \
	" sum(c.target = 'resolution' AND c.state = 'met' AND c.closed_at >= ?1 AND c.closed_at < ?2),"           \
	" sum(c.target = 'resolution' AND c.breached_at >= ?1 AND c.breached_at < ?2)"       \
	" FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id"                            \
	" WHERE c.id IN (SELECT id FROM sla_clocks WHERE closed_at >= ?1 AND closed_at < ?2" \
	"   UNION SELECT id FROM sla_clocks WHERE breached_at >= ?1 AND breached_at < ?2)"   \
	CLOCK_NOT_SPAM                                                                        \
	" GROUP BY 1 ORDER BY 1"

int store_report_sla(struct store *st, const char *by, int64_t from, int64_t to,
		     store_report_row_cb *cb, void *ctx)
{
	static const char *const sql[] = {GROUP_EXPRS(SLA_SQL)};
	int g = by_index(by);
	sqlite3_stmt *s = g < 0 ? NULL : store_stmt(st, sql[g]);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	return each_row(s, 6, cb, ctx);
}

