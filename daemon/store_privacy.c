/* The store's SQL for privacy requests: rows held about an address, their
 * deletion, the scrubbing of what stays, and the compaction afterwards. */
#include "store_privacy.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "store-private.h"
#include "xalloc.h"

/* ?1 is a ticket id, ?2 an address; a statement uses one or the other. */
static const char *const set_sql[] = {
	[STORE_PRIVACY_TICKET] = "SELECT * FROM tickets WHERE id = ?1",
	[STORE_PRIVACY_TICKET_MESSAGES] =
		"SELECT id, direction, mailbox, uidvalidity, uid, message_id, in_reply_to,"
		" refs AS \"references\", from_addr, from_name, to_addrs, cc_addrs, subject, date,"
		" received, body_text, new_text, quoted_text, signature, html, loop_flags, parse_error,"
		" length(raw) AS raw_bytes"
		" FROM messages WHERE ticket_id = ?1 ORDER BY received, id",
	[STORE_PRIVACY_TICKET_ATTACHMENTS] =
		"SELECT a.id, a.message_id, a.filename, a.content_type, a.size"
		" FROM attachments a JOIN messages m ON m.id = a.message_id"
		" WHERE m.ticket_id = ?1 ORDER BY a.id",
	[STORE_PRIVACY_TICKET_TRIAGE] =
		"SELECT message_id, task, label, confidence, score, explanation, detail, at"
		" FROM triage WHERE ticket_id = ?1 ORDER BY id",
	[STORE_PRIVACY_TICKET_SUGGESTIONS] =
		"SELECT rank, kind, ref, title, score, draft, language, status, reason, created,"
		" decided_at, decided_by, edit_ratio FROM suggestions WHERE ticket_id = ?1"
		" ORDER BY rank",
	[STORE_PRIVACY_TICKET_OUTBOX] =
		"SELECT id, kind, status, message_id, from_addr, to_addr, cc_addrs, subject, body_text,"
		" in_reply_to, refs AS \"references\", attempts, last_error, created, accepted_at,"
		" agent FROM outbox WHERE ticket_id = ?1 ORDER BY id",
	[STORE_PRIVACY_TICKET_EVENTS] =
		"SELECT id, at, actor, kind, detail FROM events WHERE ticket_id = ?1 ORDER BY id",
	[STORE_PRIVACY_TICKET_SLA] =
		"SELECT target, policy, calendar, minutes, started, due, state, breached_at,"
		" closed_at, elapsed FROM sla_clocks WHERE ticket_id = ?1 ORDER BY id",
	[STORE_PRIVACY_OTHER_MESSAGES] =
		"SELECT m.ticket_id, m.id, m.direction, m.message_id, m.in_reply_to,"
		" m.refs AS \"references\", m.from_addr, m.from_name, m.to_addrs, m.cc_addrs, m.subject,"
		" m.date,"
		" m.received, m.body_text, m.new_text, m.quoted_text, m.signature, m.loop_flags,"
		" length(m.raw) AS raw_bytes, CAST(m.raw AS TEXT) AS raw_text"
		" FROM messages m JOIN tickets t ON t.id = m.ticket_id"
		" WHERE lower(t.requester) <> lower(?2)"
		"   AND (lower(m.from_addr) = lower(?2) OR instr(lower(m.to_addrs), lower(?2)) > 0"
		"        OR instr(lower(m.cc_addrs), lower(?2)) > 0"
		"        OR instr(lower(m.body_text), lower(?2)) > 0"
		"        OR instr(lower(CAST(m.raw AS TEXT)), lower(?2)) > 0)"
		" ORDER BY m.id",
	[STORE_PRIVACY_OTHER_OUTBOX] =
		"SELECT o.id, o.ticket_id, o.kind, o.status, o.message_id, o.from_addr, o.to_addr,"
		" o.cc_addrs, o.subject, o.body_text, o.created, o.accepted_at FROM outbox o"
		" WHERE (lower(o.to_addr) = lower(?2) OR instr(lower(o.cc_addrs), lower(?2)) > 0)"
		"   AND (o.ticket_id IS NULL OR o.ticket_id NOT IN"
		"   (SELECT id FROM tickets WHERE lower(requester) = lower(?2)))"
		" ORDER BY o.id",
	[STORE_PRIVACY_ACKS] =
		"SELECT address, last_at FROM ack_log WHERE lower(address) = lower(?2)",
};

static void bind_key(sqlite3_stmt *s, int64_t ticket_id, const char *address)
{
	/* Only one of the two parameters exists in each statement. */
	if (sqlite3_bind_parameter_count(s) >= 2)
		store_bind_text(s, 2, address);
	else
		sqlite3_bind_int64(s, 1, ticket_id);
}

int store_privacy_rows_json(struct store *st, enum store_privacy_set set, int64_t ticket_id,
			    const char *address, struct cJSON *array)
{
	if ((unsigned)set >= ARRAY_SIZE(set_sql) || set_sql[set] == NULL)
		return -1;
	sqlite3_stmt *s = store_stmt(st, set_sql[set]);
	if (s == NULL)
		return -1;
	bind_key(s, ticket_id, address);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		cJSON *row = cJSON_CreateObject();
		int n = sqlite3_column_count(s);
		for (int i = 0; i < n; i++) {
			const char *name = sqlite3_column_name(s, i);
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_INTEGER:
				cJSON_AddNumberToObject(row, name, (double)sqlite3_column_int64(s, i));
				break;
			case SQLITE_FLOAT:
				cJSON_AddNumberToObject(row, name, sqlite3_column_double(s, i));
				break;
			case SQLITE_TEXT: {
				_cleanup_free_ char *text = store_column_dup(s, i);
				cJSON_AddStringToObject(row, name, text);
				break;
			}
			case SQLITE_BLOB: {
				_cleanup_free_ char *key = xasprintf("%s_bytes", name);
				cJSON_AddNumberToObject(row, key, sqlite3_column_bytes(s, i));
				break;
			}
			default: /* NULL: left out */
				break;
			}
		}
		cJSON_AddItemToArray(array, row);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int id_list(struct store *st, const char *sql, const char *text, int64_t number,
		   int64_t **ids_r, size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	if (s == NULL)
		return -1;
	if (text != NULL)
		store_bind_text(s, 1, text);
	else
		sqlite3_bind_int64(s, 1, number);
	return store_collect_ids(s, ids_r, n_r);
}

int store_privacy_requester_tickets(struct store *st, const char *address, int64_t **ids_r,
				    size_t *n_r)
{
	return id_list(st, "SELECT id FROM tickets WHERE lower(requester) = lower(?1) ORDER BY id",
		       address, 0, ids_r, n_r);
}

int store_privacy_expired_tickets(struct store *st, int64_t before, int64_t **ids_r, size_t *n_r)
{
	/* A ticket merged into an expired one goes with it (it holds no mail
	 * of its own any more), and only with it: kept alone, it would lead
	 * nowhere. */
	return id_list(st,
		       "SELECT t.id FROM tickets t LEFT JOIN tickets k ON k.id = t.merged_into"
		       " WHERE coalesce(k.status, t.status) IN ('resolved','closed')"
		       " AND coalesce(k.resolved_at, t.resolved_at) < ?1 ORDER BY t.id",
		       NULL, before, ids_r, n_r);
}

int store_privacy_count(struct store *st, const int64_t *ids, size_t n, const char *address,
			struct store_privacy_counts *counts_r)
{
	struct store_privacy_counts c = {0};
	sqlite3_stmt *s = store_stmt(st,
		"SELECT (SELECT count(*) FROM messages WHERE ticket_id = ?1),"
		" (SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id"
		"   WHERE m.ticket_id = ?1),"
		" (SELECT count(*) FROM triage WHERE ticket_id = ?1),"
		" (SELECT count(*) FROM suggestions WHERE ticket_id = ?1),"
		" (SELECT count(*) FROM outbox WHERE ticket_id = ?1),"
		" (SELECT count(*) FROM events WHERE ticket_id = ?1),"
		" (SELECT count(*) FROM sla_clocks WHERE ticket_id = ?1),"
		" (SELECT count(*) FROM sla_webhooks WHERE ticket_id = ?1),"
		" (SELECT count(*) FROM training WHERE ticket_id = ?1),"
		" (SELECT count(*) FROM tickets WHERE id = ?1)");
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, ids[i]);
		if (sqlite3_step(s) != SQLITE_ROW) {
			sqlite3_reset(s);
			return -1;
		}
		c.messages += sqlite3_column_int64(s, 0);
		c.attachments += sqlite3_column_int64(s, 1);
		c.triage += sqlite3_column_int64(s, 2);
		c.suggestions += sqlite3_column_int64(s, 3);
		c.outbox += sqlite3_column_int64(s, 4);
		c.events += sqlite3_column_int64(s, 5);
		c.sla_clocks += sqlite3_column_int64(s, 6);
		c.sla_webhooks += sqlite3_column_int64(s, 7);
		c.training += sqlite3_column_int64(s, 8);
		c.tickets += sqlite3_column_int64(s, 9);
	}
	sqlite3_reset(s);
	if (address != NULL) {
		/* The address's own tickets are counted above, by id. */
		s = store_stmt(st,
			"SELECT (SELECT count(*) FROM messages m WHERE lower(m.from_addr) = lower(?1)"
			"   AND m.ticket_id IN (SELECT id FROM tickets WHERE lower(requester) <> lower(?1))),"
			" (SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id"
			"   WHERE lower(m.from_addr) = lower(?1) AND m.ticket_id IN"
			"   (SELECT id FROM tickets WHERE lower(requester) <> lower(?1))),"
			" (SELECT count(*) FROM triage g JOIN messages m ON m.id = g.message_id"
			"   WHERE lower(m.from_addr) = lower(?1) AND m.ticket_id IN"
			"   (SELECT id FROM tickets WHERE lower(requester) <> lower(?1))),"
			" (SELECT count(*) FROM outbox o WHERE lower(o.to_addr) = lower(?1)"
			"   AND (o.ticket_id IS NULL OR o.ticket_id IN"
			"   (SELECT id FROM tickets WHERE lower(requester) <> lower(?1)))),"
			" (SELECT count(*) FROM ack_log WHERE lower(address) = lower(?1))");
		if (s == NULL)
			return -1;
		store_bind_text(s, 1, address);
		if (sqlite3_step(s) != SQLITE_ROW) {
			sqlite3_reset(s);
			return -1;
		}
		c.messages += sqlite3_column_int64(s, 0);
		c.attachments += sqlite3_column_int64(s, 1);
		c.triage += sqlite3_column_int64(s, 2);
		c.outbox += sqlite3_column_int64(s, 3);
		c.acks += sqlite3_column_int64(s, 4);
		sqlite3_reset(s);
	}
	*counts_r = c;
	return 0;
}

static int exec_id(struct store *st, const char *sql, int64_t id)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	return store_exec_stmt(st, s);
}

static int exec_text(struct store *st, const char *sql, const char *text)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, text);
	return store_exec_stmt(st, s);
}

int store_privacy_delete(struct store *st, const int64_t *ids, size_t n, const char *address)
{
	for (size_t i = 0; i < n; i++) {
		/* Tables that hold a ticket number without a foreign key first; the
		 * rest (messages and their FTS entries through the triggers,
		 * attachments, triage, training, suggestions, outbox, SLA clocks)
		 * cascade from the ticket. */
		if (exec_id(st, "DELETE FROM sla_webhooks WHERE ticket_id = ?1", ids[i]) < 0 ||
		    exec_id(st, "DELETE FROM sla_notified WHERE ticket_id = ?1", ids[i]) < 0 ||
		    exec_id(st, "UPDATE suggestion_events SET reason = NULL WHERE ticket_id = ?1",
			    ids[i]) < 0 ||
		    exec_id(st, "DELETE FROM tickets WHERE id = ?1", ids[i]) < 0)
			return -1;
	}
	if (address == NULL)
		return 0;
	if (exec_text(st, "DELETE FROM messages WHERE lower(from_addr) = lower(?1)", address) < 0 ||
	    exec_text(st, "DELETE FROM outbox WHERE lower(to_addr) = lower(?1)", address) < 0 ||
	    exec_text(st, "DELETE FROM ack_log WHERE lower(address) = lower(?1)", address) < 0)
		return -1;
	return 0;
}

struct scrub_row {
	int64_t id;
	int whole;
	char *text;
	size_t len;
};

static void scrub_rows_free(struct scrub_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].text);
	free(rows);
}

/* Reads (id, detail) rows first: the table is updated after the SELECT ends. */
static int collect_details(sqlite3_stmt *s, int whole, struct scrub_row **rows, size_t *n,
			   size_t *cap)
{
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*rows = xgrow(*rows, cap, *n + 1, sizeof(**rows));
		struct scrub_row *r = &(*rows)[(*n)++];
		r->id = sqlite3_column_int64(s, 0);
		r->whole = whole;
		r->text = store_column_dup(s, 1);
		r->len = r->text ? strlen(r->text) : 0;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_privacy_scrub_events(struct store *st, const int64_t *ids, size_t n,
			       const char *address, store_privacy_scrub_fn *scrub, void *ctx,
			       int64_t *scrubbed_r)
{
	struct scrub_row *rows = NULL;
	size_t n_rows = 0, cap = 0;
	sqlite3_stmt *s = store_stmt(st, "SELECT id, detail FROM events WHERE ticket_id = ?1");
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, ids[i]);
		if (collect_details(s, 1, &rows, &n_rows, &cap) < 0)
			goto fail;
	}
	if (address != NULL) {
		s = store_stmt(st, "SELECT id, detail FROM events"
				   " WHERE instr(lower(detail), lower(?1)) > 0");
		if (s == NULL)
			goto fail;
		store_bind_text(s, 1, address);
		size_t whole_rows = n_rows;
		if (collect_details(s, 0, &rows, &n_rows, &cap) < 0)
			goto fail;
		/* An erased ticket's events are scrubbed whole, not twice (the second
		 * write, from the text read before the first, would undo it). */
		size_t kept = whole_rows;
		for (size_t i = whole_rows; i < n_rows; i++) {
			bool seen = false;
			for (size_t j = 0; j < whole_rows && !seen; j++)
				seen = rows[j].id == rows[i].id;
			if (seen)
				free(rows[i].text);
			else
				rows[kept++] = rows[i];
		}
		n_rows = kept;
	}
	sqlite3_stmt *u = store_stmt(st, "UPDATE events SET detail = ?2 WHERE id = ?1");
	if (u == NULL)
		goto fail;
	int64_t changed = 0;
	for (size_t i = 0; i < n_rows; i++) {
		if (rows[i].text == NULL)
			continue;
		size_t len;
		_cleanup_free_ char *fresh = scrub(rows[i].text, rows[i].len, rows[i].whole, &len, ctx);
		if (fresh == NULL)
			continue;
		sqlite3_reset(u);
		sqlite3_bind_int64(u, 1, rows[i].id);
		sqlite3_bind_text(u, 2, fresh, (int)len, SQLITE_TRANSIENT);
		if (store_exec_stmt(st, u) < 0)
			goto fail;
		changed++;
	}
	scrub_rows_free(rows, n_rows);
	*scrubbed_r = changed;
	return 0;
fail:
	scrub_rows_free(rows, n_rows);
	return -1;
}

/* Every row that select_sql (id, then ncols text columns, the last one a
 * blob; ?1 the address) returns goes through scrub column by column, and is
 * written back with update_sql (?1 the id, ?2.. the columns) when any
 * changed. *scrubbed_r: rows changed. */
static int scrub_rows(struct store *st, const char *address, const char *select_sql,
		      const char *update_sql, int ncols, store_privacy_scrub_fn *scrub, void *ctx,
		      int64_t *scrubbed_r)
{
	sqlite3_stmt *s = store_stmt(st, select_sql);
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, address);
	struct scrub_row *rows = NULL; /* ncols entries per row */
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rows = xgrow(rows, &cap, (n + 1) * (size_t)ncols, sizeof(*rows));
		for (int c = 0; c < ncols; c++) {
			struct scrub_row *r = &rows[n * (size_t)ncols + (size_t)c];
			r->id = sqlite3_column_int64(s, 0);
			r->whole = 0;
			const void *data = c == ncols - 1 ? sqlite3_column_blob(s, c + 1)
							  : sqlite3_column_text(s, c + 1);
			r->len = (size_t)sqlite3_column_bytes(s, c + 1);
			r->text = NULL;
			if (data != NULL) {
				r->text = xmalloc(r->len + 1);
				memcpy(r->text, data, r->len);
				r->text[r->len] = '\0';
			}
		}
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		scrub_rows_free(rows, n * (size_t)ncols);
		return -1;
	}
	sqlite3_stmt *u = store_stmt(st, update_sql);
	int64_t changed = 0;
	int ret = u != NULL ? 0 : -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct scrub_row *cols = &rows[i * (size_t)ncols];
		bool any = false;
		sqlite3_reset(u);
		sqlite3_clear_bindings(u);
		sqlite3_bind_int64(u, 1, cols[0].id);
		for (int c = 0; c < ncols; c++) {
			struct scrub_row *r = &cols[c];
			if (r->text != NULL) {
				size_t len;
				char *fresh = scrub(r->text, r->len, 0, &len, ctx);
				if (fresh != NULL) {
					free(r->text);
					r->text = fresh;
					r->len = len;
					any = true;
				}
			}
			if (r->text == NULL)
				sqlite3_bind_null(u, c + 2);
			else if (c == ncols - 1)
				sqlite3_bind_blob64(u, c + 2, r->text, r->len, SQLITE_STATIC);
			else
				sqlite3_bind_text64(u, c + 2, r->text, r->len, SQLITE_STATIC, SQLITE_UTF8);
		}
		if (any) {
			if (store_exec_stmt(st, u) < 0)
				ret = -1;
			else
				changed++;
		}
		sqlite3_clear_bindings(u); /* bound without copies */
	}
	scrub_rows_free(rows, n * (size_t)ncols);
	if (ret == 0)
		*scrubbed_r = changed;
	return ret;
}

int store_privacy_scrub_messages(struct store *st, const char *address,
				 store_privacy_scrub_fn *scrub, void *ctx, int64_t *scrubbed_r)
{
	int64_t messages = 0, outbox = 0;
	/* The messages: headers, texts and the raw mail. */
	if (scrub_rows(st, address,
		       "SELECT id, to_addrs, cc_addrs, body_text, new_text, quoted_text, signature,"
		       " html, raw FROM messages WHERE instr(lower(coalesce(to_addrs, '') || ' ' ||"
		       "   coalesce(cc_addrs, '') || ' ' ||"
		       "   coalesce(body_text, '') || ' ' || coalesce(new_text, '') || ' ' ||"
		       "   coalesce(quoted_text, '') || ' ' ||"
		       "   coalesce(signature, '') || ' ' || coalesce(html, '') || ' ' ||"
		       "   coalesce(CAST(raw AS TEXT), '')), lower(?1)) > 0",
		       "UPDATE messages SET to_addrs = ?2, cc_addrs = ?3, body_text = ?4, new_text = ?5,"
		       " quoted_text = ?6, signature = ?7, html = ?8, raw = ?9 WHERE id = ?1",
		       8, scrub, ctx, &messages) < 0)
		return -1;
	/* Replies that copied the person (mail to them alone is deleted). */
	if (scrub_rows(st, address,
		       "SELECT id, cc_addrs, body_text, raw FROM outbox"
		       " WHERE instr(lower(coalesce(cc_addrs, '') || ' ' || coalesce(body_text, '')"
		       "   || ' ' || coalesce(CAST(raw AS TEXT), '')), lower(?1)) > 0",
		       "UPDATE outbox SET cc_addrs = ?2, body_text = ?3, raw = ?4 WHERE id = ?1", 3,
		       scrub, ctx, &outbox) < 0)
		return -1;
	*scrubbed_r = messages + outbox;
	return 0;
}

int store_privacy_compact(struct store *st, int vacuum)
{
	if (!sqlite3_get_autocommit(st->db))
		return -1; /* VACUUM and a full checkpoint need no open transaction */
	/* External-content FTS5 deletes only add tombstones: the deleted tokens
	 * stay in older segments until those are merged. 'optimize' merges all
	 * of them into one, dropping what was deleted. */
	if (sqlite3_exec(st->db, "INSERT INTO messages_fts(messages_fts) VALUES ('optimize')", NULL,
			 NULL, NULL) != SQLITE_OK)
		return -1;
	if (vacuum && sqlite3_exec(st->db, "VACUUM", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	/* TRUNCATE: the WAL frames holding old page images are cut off. */
	int log_frames = 0, checkpointed = 0;
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
					   &checkpointed);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return 1;
	return rc == SQLITE_OK ? 0 : -1;
}
