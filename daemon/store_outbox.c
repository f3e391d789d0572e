/* The store's outbox and acknowledgement log: SQL only (see store_outbox.h).
 * Every state change names the state it leaves in its WHERE clause, so two
 * writers (the daemon's sender, `triagectl outbox send`) never both win. */
#include "store_outbox.h"

#include <string.h>

#include "store-private.h"
#include "xalloc.h"

static const char *const kind_names[] = {"reply", "ack", "notify"};
static const char *const status_names[] = {"queued", "sending", "sent", "failed"};

const char *outbox_kind_name(enum outbox_kind k)
{
	return (unsigned)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "?";
}

const char *outbox_status_name(enum outbox_status s)
{
	return (unsigned)s < ARRAY_SIZE(status_names) ? status_names[s] : "?";
}

int outbox_status_parse(const char *s, enum outbox_status *status_r)
{
	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(status_names); i++)
		if (strcmp(s, status_names[i]) == 0) {
			*status_r = (enum outbox_status)i;
			return 0;
		}
	return -1;
}

static void kind_parse(const char *s, enum outbox_kind *kind_r)
{
	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(kind_names); i++)
		if (strcmp(s, kind_names[i]) == 0)
			*kind_r = (enum outbox_kind)i;
}

void outbox_row_clear(struct outbox_row *r)
{
	free(r->message_id);
	free(r->from_addr);
	free(r->to_addr);
	free(r->cc_addrs);
	free(r->template_name);
	free(r->subject);
	free(r->body_text);
	free(r->in_reply_to);
	free(r->refs);
	free(r->raw);
	free(r->last_error);
	free(r->agent);
	free(r->status_after);
	memset(r, 0, sizeof(*r));
}

void outbox_rows_free(struct outbox_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		outbox_row_clear(&(*rows)[i]);
	free(*rows);
	*rows = NULL;
}

int store_outbox_add(struct store *st, const struct outbox_row *r, int64_t *id_r)
{
	sqlite3_stmt *s = store_stmt(
	    st, "INSERT INTO outbox (ticket_id, kind, status, message_id, from_addr, to_addr,"
	        " subject, body_text, in_reply_to, refs, raw, attempts, next_attempt, created,"
	        " agent, suggestion_rank, status_after, cc_addrs, template)"
	        " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		return -1;
	if (r->ticket_id > 0)
		sqlite3_bind_int64(s, 1, r->ticket_id);
	store_bind_text(s, 2, outbox_kind_name(r->kind));
	store_bind_text(s, 3, r->message_id);
	store_bind_text(s, 4, r->from_addr);
	store_bind_text(s, 5, r->to_addr);
	store_bind_text(s, 6, r->subject);
	store_bind_text(s, 7, r->body_text);
	store_bind_text(s, 8, r->in_reply_to);
	store_bind_text(s, 9, r->refs);
	sqlite3_bind_blob(s, 10, r->raw, (int)strlen(r->raw), SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 11, r->next_attempt);
	sqlite3_bind_int64(s, 12, r->created ? r->created : store_now());
	store_bind_text(s, 13, r->agent);
	if (r->suggestion_rank > 0)
		sqlite3_bind_int64(s, 14, r->suggestion_rank);
	store_bind_text(s, 15, r->status_after);
	store_bind_text(s, 16, r->cc_addrs);
	store_bind_text(s, 17, r->template_name);
	if (store_exec_stmt(st, s) < 0)
		return -1;
	*id_r = sqlite3_last_insert_rowid(st->db);
	return 0;
}

#define OUTBOX_COLUMNS                                                                             \
	"id, ticket_id, kind, status, message_id, from_addr, to_addr, subject, body_text,"         \
	" in_reply_to, refs, attempts, next_attempt, last_error, created, claimed_at,"             \
	" accepted_at, agent, suggestion_rank, status_after, cc_addrs, template"

static void row_from_stmt(sqlite3_stmt *s, struct outbox_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	r->ticket_id = sqlite3_column_int64(s, 1);
	kind_parse((const char *)sqlite3_column_text(s, 2), &r->kind);
	outbox_status_parse((const char *)sqlite3_column_text(s, 3), &r->status);
	r->message_id = store_column_dup(s, 4);
	r->from_addr = store_column_dup(s, 5);
	r->to_addr = store_column_dup(s, 6);
	r->subject = store_column_dup(s, 7);
	r->body_text = store_column_dup(s, 8);
	r->in_reply_to = store_column_dup(s, 9);
	r->refs = store_column_dup(s, 10);
	r->attempts = (unsigned)sqlite3_column_int64(s, 11);
	r->next_attempt = sqlite3_column_int64(s, 12);
	r->last_error = store_column_dup(s, 13);
	r->created = sqlite3_column_int64(s, 14);
	r->claimed_at = sqlite3_column_int64(s, 15);
	r->accepted_at = sqlite3_column_int64(s, 16);
	r->agent = store_column_dup(s, 17);
	r->suggestion_rank = (unsigned)sqlite3_column_int64(s, 18);
	r->status_after = store_column_dup(s, 19);
	r->cc_addrs = store_column_dup(s, 20);
	r->template_name = store_column_dup(s, 21);
}

int store_outbox_get(struct store *st, int64_t id, struct outbox_row *r_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " OUTBOX_COLUMNS ", raw FROM outbox WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row_from_stmt(s, r_r);
		r_r->raw = store_column_dup(s, 22);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_outbox_next_due(struct store *st, int64_t *when_r)
{
	/* min() over the partial index outbox_due: no scan of sent mail. */
	sqlite3_stmt *s =
	    store_stmt(st, "SELECT min(next_attempt) FROM outbox WHERE status = 'queued'");
	if (s == NULL)
		return -1;
	int rc = sqlite3_step(s);
	int found = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		*when_r = sqlite3_column_int64(s, 0);
		found = 1;
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? found : -1;
}

int store_outbox_first_due(struct store *st, int64_t now, int ignore_time, int64_t after_id,
                           int64_t *id_r)
{
	sqlite3_stmt *s = store_stmt(
	    st, "SELECT id FROM outbox WHERE status = 'queued' AND (?2 OR next_attempt <= ?1)"
	        " AND id > ?3 ORDER BY CASE WHEN ?2 THEN 0 ELSE next_attempt END, id LIMIT 1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, ignore_time != 0);
	sqlite3_bind_int64(s, 3, after_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int exec_changes(struct store *st, sqlite3_stmt *s)
{
	if (store_exec_stmt(st, s) < 0)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int store_outbox_claim(struct store *st, int64_t id, int64_t now)
{
	sqlite3_stmt *s = store_stmt(
	    st, "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_at = ?"
	        " WHERE id = ? AND status = 'queued'");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, id);
	return exec_changes(st, s);
}

int store_outbox_mark_sent(struct store *st, int64_t id, int64_t accepted_at)
{
	sqlite3_stmt *s =
	    store_stmt(st, "UPDATE outbox SET status = 'sent', accepted_at = ?, last_error = NULL"
	                   " WHERE id = ? AND status = 'sending'");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, accepted_at);
	sqlite3_bind_int64(s, 2, id);
	return exec_changes(st, s);
}

int store_outbox_mark_retry(struct store *st, int64_t id, int64_t next_attempt, const char *error)
{
	sqlite3_stmt *s =
	    store_stmt(st, "UPDATE outbox SET status = 'queued', next_attempt = ?, last_error = ?"
	                   " WHERE id = ? AND status = 'sending'");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, next_attempt);
	store_bind_text(s, 2, error);
	sqlite3_bind_int64(s, 3, id);
	return exec_changes(st, s);
}

int store_outbox_mark_failed(struct store *st, int64_t id, const char *error)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE outbox SET status = 'failed', last_error = ?"
	                                 " WHERE id = ? AND status IN ('queued','sending')");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, error);
	sqlite3_bind_int64(s, 2, id);
	return exec_changes(st, s);
}

int store_outbox_requeue(struct store *st, int64_t id, int64_t now)
{
	sqlite3_stmt *s =
	    store_stmt(st, "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt = ?"
	                   " WHERE id = ? AND status = 'failed'");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, id);
	return exec_changes(st, s);
}

int store_outbox_stale_sending(struct store *st, int64_t claimed_before, int64_t **ids_r,
                               size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(
	    st, "SELECT id FROM outbox WHERE status = 'sending' AND coalesce(claimed_at, 0) <= ?"
	        " ORDER BY id");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, claimed_before);
	return store_collect_ids(s, ids_r, n_r);
}

static void outbox_read_row(sqlite3_stmt *s, void *row)
{
	row_from_stmt(s, row);
}

static void outbox_clear_row(void *row)
{
	outbox_row_clear(row);
}

int store_outbox_list(struct store *st, const char *status, int64_t ticket_id, unsigned limit,
                      struct outbox_row **rows_r, size_t *n_r)
{
	sqlite3_stmt *s =
	    store_stmt(st, "SELECT " OUTBOX_COLUMNS " FROM outbox"
	                   " WHERE (?1 IS NULL OR status = ?1) AND (?2 = 0 OR ticket_id = ?2)"
	                   " ORDER BY id DESC LIMIT ?3");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, status);
	sqlite3_bind_int64(s, 2, ticket_id);
	sqlite3_bind_int64(s, 3, limit ? (sqlite3_int64)limit : -1);
	return store_collect(s, sizeof(struct outbox_row), outbox_read_row, outbox_clear_row,
			     (void **)rows_r, n_r);
}

int store_outbox_reply_parent(struct store *st, int64_t ticket_id, char **message_id_r,
                              char **references_r, struct reply_parties *parties_r)
{
	sqlite3_stmt *s = store_stmt(
	    st, "SELECT message_id, refs, from_addr, to_addrs, cc_addrs FROM messages"
	        " WHERE ticket_id = ? AND direction = 'in' AND message_id IS NOT NULL"
	        " ORDER BY received DESC, id DESC LIMIT 1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*message_id_r = store_column_dup(s, 0);
		*references_r = store_column_dup(s, 1);
		if (parties_r != NULL) {
			parties_r->from = store_column_dup(s, 2);
			parties_r->to = store_column_dup(s, 3);
			parties_r->cc = store_column_dup(s, 4);
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void reply_parties_clear(struct reply_parties *p)
{
	free(p->from);
	free(p->to);
	free(p->cc);
	memset(p, 0, sizeof(*p));
}

int store_outbox_ack_last(struct store *st, const char *addr, int64_t *at_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT last_at FROM ack_log WHERE address = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, addr);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*at_r = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_outbox_ack_set(struct store *st, const char *addr, int64_t at)
{
	sqlite3_stmt *s =
	    store_stmt(st, "INSERT INTO ack_log (address, last_at) VALUES (?, ?)"
	                   " ON CONFLICT (address) DO UPDATE SET last_at = excluded.last_at");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, addr);
	sqlite3_bind_int64(s, 2, at);
	return store_exec_stmt(st, s);
}
