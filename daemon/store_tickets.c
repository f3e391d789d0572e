/* The store's tickets, messages, attachments, audit events, triage decisions,
 * classifier counts and the IMAP checkpoint. */
#include "store-private.h"

#include <string.h>

#include "strbuf.h"
#include "xalloc.h"

static const char *const status_names[] = {"new", "open", "pending", "resolved", "closed"};
static const char *const priority_names[] = {"low", "normal", "high", "urgent"};

const char *ticket_status_name(enum ticket_status s)
{
	return (unsigned)s < ARRAY_SIZE(status_names) ? status_names[s] : "?";
}

int ticket_status_parse(const char *s, enum ticket_status *status_r)
{
	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(status_names); i++)
		if (strcmp(s, status_names[i]) == 0) {
			*status_r = (enum ticket_status)i;
			return 0;
		}
	return -1;
}

const char *ticket_priority_name(enum ticket_priority p)
{
	return (unsigned)p < ARRAY_SIZE(priority_names) ? priority_names[p] : "?";
}

int ticket_priority_parse(const char *s, enum ticket_priority *priority_r)
{
	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(priority_names); i++)
		if (strcmp(s, priority_names[i]) == 0) {
			*priority_r = (enum ticket_priority)i;
			return 0;
		}
	return -1;
}

/* ---- checkpoint ---- */

int store_checkpoint_get(struct store *st, const char *mailbox, uint32_t *uidvalidity_r,
			 uint32_t *last_uid_r)
{
	sqlite3_stmt *s =
		store_stmt(st, "SELECT uidvalidity, last_uid FROM mailboxes WHERE name = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, mailbox);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*uidvalidity_r = (uint32_t)sqlite3_column_int64(s, 0);
		*last_uid_r = (uint32_t)sqlite3_column_int64(s, 1);
	} else if (rc == SQLITE_DONE) {
		*uidvalidity_r = 0;
		*last_uid_r = 0;
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int store_checkpoint_set(struct store *st, const char *mailbox, uint32_t uidvalidity,
			 uint32_t last_uid)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO mailboxes (name, uidvalidity, last_uid, updated) VALUES (?, ?, ?, ?)"
		" ON CONFLICT (name) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
		" last_uid = excluded.last_uid, updated = excluded.updated");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, mailbox);
	sqlite3_bind_int64(s, 2, uidvalidity);
	sqlite3_bind_int64(s, 3, last_uid);
	sqlite3_bind_int64(s, 4, store_now());
	return store_exec_stmt(st, s);
}

/* ---- tickets ---- */

bool ticket_is_active(const struct ticket *t)
{
	return t->status != TICKET_RESOLVED && t->status != TICKET_CLOSED;
}

void ticket_clear(struct ticket *t)
{
	free(t->subject);
	free(t->requester);
	free(t->requester_name);
	free(t->mailbox);
	free(t->queue);
	free(t->assignee);
	free(t->language);
	free(t->category);
	free(t->sentiment_label);
	free(t->tags);
	memset(t, 0, sizeof(*t));
}

void ticket_list_free(struct ticket **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		ticket_clear(&(*list)[i]);
	free(*list);
	*list = NULL;
}

int store_ticket_create(struct store *st, struct ticket *t, int64_t *id_r)
{
	/* Never a number an erased ticket had: the audit log and the decision
	 * log keep theirs (SQLite would give the largest id + 1, which comes
	 * back once the newest ticket is erased). */
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO tickets (id, subject, requester, requester_name, mailbox, queue, status,"
		" priority, loop_flags, created, updated) VALUES (1 + max("
		"   (SELECT coalesce(max(id), 0) FROM tickets),"
		"   (SELECT coalesce(max(ticket_id), 0) FROM events),"
		"   (SELECT coalesce(max(ticket_id), 0) FROM suggestion_events)),"
		" ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, t->subject ? t->subject : "");
	store_bind_text(s, 2, t->requester ? t->requester : "");
	store_bind_text(s, 3, t->requester_name);
	store_bind_text(s, 4, t->mailbox);
	store_bind_text(s, 5, t->queue);
	store_bind_text(s, 6, ticket_status_name(t->status));
	store_bind_text(s, 7, ticket_priority_name(t->priority));
	sqlite3_bind_int64(s, 8, t->loop_flags);
	sqlite3_bind_int64(s, 9, t->created ? t->created : store_now());
	sqlite3_bind_int64(s, 10, t->created ? t->created : store_now());
	if (store_exec_stmt(st, s) < 0)
		return -1;
	*id_r = sqlite3_last_insert_rowid(st->db);
	t->id = *id_r;
	return 0;
}

#define TICKET_COLUMNS                                                                        \
	"t.id, t.subject, t.requester, t.requester_name, t.mailbox, t.queue, t.status,"       \
	" t.priority, t.assignee, t.language, t.category, t.category_confidence, t.spam,"     \
	" t.spam_score, t.sentiment, t.sentiment_label, t.loop_flags, t.created, t.updated," \
	" t.first_response_at, t.resolved_at, t.next_due, t.tags, t.merged_into, t.spam_closed"

static void ticket_from_row(sqlite3_stmt *s, struct ticket *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(s, 0);
	t->subject = store_column_dup(s, 1);
	t->requester = store_column_dup(s, 2);
	t->requester_name = store_column_dup(s, 3);
	t->mailbox = store_column_dup(s, 4);
	t->queue = store_column_dup(s, 5);
	ticket_status_parse((const char *)sqlite3_column_text(s, 6), &t->status);
	ticket_priority_parse((const char *)sqlite3_column_text(s, 7), &t->priority);
	t->assignee = store_column_dup(s, 8);
	t->language = store_column_dup(s, 9);
	t->category = store_column_dup(s, 10);
	t->category_confidence = sqlite3_column_double(s, 11);
	t->spam = sqlite3_column_int(s, 12) != 0;
	t->spam_score = sqlite3_column_double(s, 13);
	t->sentiment = sqlite3_column_double(s, 14);
	t->sentiment_label = store_column_dup(s, 15);
	t->loop_flags = (unsigned)sqlite3_column_int64(s, 16);
	t->created = sqlite3_column_int64(s, 17);
	t->updated = sqlite3_column_int64(s, 18);
	t->first_response_at = sqlite3_column_int64(s, 19);
	t->resolved_at = sqlite3_column_int64(s, 20);
	t->next_due = sqlite3_column_int64(s, 21);
	t->tags = store_column_dup(s, 22);
	t->merged_into = sqlite3_column_int64(s, 23);
	t->spam_closed = sqlite3_column_int(s, 24) != 0;
}

static void ticket_read_row(sqlite3_stmt *s, void *row)
{
	ticket_from_row(s, row);
}

static void ticket_clear_row(void *row)
{
	ticket_clear(row);
}

int store_ticket_get(struct store *st, int64_t id, struct ticket *t_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " TICKET_COLUMNS " FROM tickets t WHERE t.id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ticket_from_row(s, t_r);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_ticket_list(struct store *st, const struct ticket_filter *f, struct ticket **list_r,
		      size_t *n_r)
{
	/* Every filter is a bound parameter that is NULL when unused, so the
	 * statement text is fixed (no SQL assembled from input). */
	static const char by_created[] =
		"SELECT " TICKET_COLUMNS " FROM tickets t"
		" WHERE (?1 IS NULL OR t.status = ?1"
		"        OR (?1 = 'active' AND t.status IN ('new','open','pending')))"
		"   AND (?2 IS NULL OR t.queue = ?2)"
		"   AND (?3 IS NULL OR t.requester = lower(?3))"
		"   AND (?4 IS NULL OR t.id IN (SELECT m.ticket_id FROM messages_fts"
		"        JOIN messages m ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?4))"
		" ORDER BY t.id DESC LIMIT ?5 OFFSET ?6";
	static const char by_due[] =
		"SELECT " TICKET_COLUMNS " FROM tickets t"
		" WHERE (?1 IS NULL OR t.status = ?1"
		"        OR (?1 = 'active' AND t.status IN ('new','open','pending')))"
		"   AND (?2 IS NULL OR t.queue = ?2)"
		"   AND (?3 IS NULL OR t.requester = lower(?3))"
		"   AND (?4 IS NULL OR t.id IN (SELECT m.ticket_id FROM messages_fts"
		"        JOIN messages m ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?4))"
		" ORDER BY t.next_due IS NULL, t.next_due, t.id LIMIT ?5 OFFSET ?6";
	sqlite3_stmt *s = store_stmt(st, f->sort_by_due ? by_due : by_created);
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, f->status);
	store_bind_text(s, 2, f->queue);
	store_bind_text(s, 3, f->requester);
	store_bind_text(s, 4, f->text);
	sqlite3_bind_int64(s, 5, f->limit ? (sqlite3_int64)f->limit : -1);
	sqlite3_bind_int64(s, 6, f->offset);
	return store_collect(s, sizeof(struct ticket), ticket_read_row, ticket_clear_row,
			     (void **)list_r, n_r);
}

static int update_text(struct store *st, const char *sql, int64_t id, const char *value)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, value);
	sqlite3_bind_int64(s, 2, store_now());
	sqlite3_bind_int64(s, 3, id);
	if (store_exec_stmt(st, s) < 0)
		return -1;
	return sqlite3_changes(st->db) == 1 ? 0 : -1;
}

int store_ticket_set_status(struct store *st, int64_t id, enum ticket_status status)
{
	return update_text(st,
		"UPDATE tickets SET status = ?1, updated = ?2,"
		" resolved_at = CASE WHEN ?1 IN ('resolved','closed') THEN coalesce(resolved_at, ?2)"
		"                    ELSE NULL END,"
		" spam_closed = CASE WHEN ?1 = 'closed' THEN spam_closed ELSE 0 END WHERE id = ?3",
		id, ticket_status_name(status));
}

int store_ticket_set_queue(struct store *st, int64_t id, const char *queue)
{
	return update_text(st, "UPDATE tickets SET queue = ?1, updated = ?2 WHERE id = ?3", id,
			   queue);
}

int store_ticket_set_priority(struct store *st, int64_t id, enum ticket_priority p)
{
	return update_text(st, "UPDATE tickets SET priority = ?1, updated = ?2 WHERE id = ?3", id,
			   ticket_priority_name(p));
}

int store_ticket_set_assignee(struct store *st, int64_t id, const char *assignee)
{
	return update_text(st, "UPDATE tickets SET assignee = ?1, updated = ?2 WHERE id = ?3", id,
			   assignee);
}

int store_ticket_add_tag(struct store *st, int64_t id, const char *tag)
{
	/* tags is ",a,b," so that a tag is found with instr(tags, ',tag,'). */
	return update_text(st,
		"UPDATE tickets SET tags = CASE"
		"   WHEN instr(tags, ',' || ?1 || ',') > 0 THEN tags"
		"   WHEN tags = '' THEN ',' || ?1 || ','"
		"   ELSE tags || ?1 || ',' END, updated = ?2 WHERE id = ?3",
		id, tag);
}

int store_ticket_set_triage(struct store *st, int64_t id, const char *language,
			    const char *category, double confidence, bool spam, double spam_score,
			    double sentiment, const char *sentiment_label)
{
	sqlite3_stmt *s = store_stmt(st,
		"UPDATE tickets SET language = ?, category = ?, category_confidence = ?, spam = ?,"
		" spam_score = ?, sentiment = ?, sentiment_label = ? WHERE id = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, language);
	store_bind_text(s, 2, category);
	sqlite3_bind_double(s, 3, confidence);
	sqlite3_bind_int(s, 4, spam);
	sqlite3_bind_double(s, 5, spam_score);
	sqlite3_bind_double(s, 6, sentiment);
	store_bind_text(s, 7, sentiment_label);
	sqlite3_bind_int64(s, 8, id);
	return store_exec_stmt(st, s);
}

int store_ticket_set_first_response(struct store *st, int64_t id, int64_t at)
{
	sqlite3_stmt *s = store_stmt(st,
		"UPDATE tickets SET first_response_at = coalesce(first_response_at, ?) WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, at);
	sqlite3_bind_int64(s, 2, id);
	return store_exec_stmt(st, s);
}

int store_ticket_merge(struct store *st, int64_t source, int64_t target, int64_t *moved_r)
{
	/* The messages (with their attachments) and the decisions made on
	 * each of them move, each keeping the ticket it came from; the source
	 * keeps its own audit events, suggestions, outgoing mail, SLA clocks and
	 * training example, as history. Tickets merged into the source earlier
	 * now lead to the target too: one hop always suffices. */
	static const char *const sql[] = {
		("UPDATE messages SET ticket_id = ?2, merged_from = coalesce(merged_from, ?1)"
		 " WHERE ticket_id = ?1"),
		"UPDATE triage SET ticket_id = ?2 WHERE ticket_id = ?1 AND message_id IS NOT NULL",
		"UPDATE tickets SET merged_into = ?2 WHERE merged_into = ?1",
		"UPDATE tickets SET merged_into = ?2, updated = ?3 WHERE id = ?1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(sql); i++) {
		sqlite3_stmt *s = store_stmt(st, sql[i]);
		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, source);
		sqlite3_bind_int64(s, 2, target);
		if (i == 3)
			sqlite3_bind_int64(s, 3, store_now());
		if (store_exec_stmt(st, s) < 0)
			return -1;
		if (i == 0)
			*moved_r = sqlite3_changes(st->db);
	}
	return 0;
}

int store_ticket_follow_merge(struct store *st, int64_t id, int64_t *id_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT merged_into FROM tickets WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	int64_t where = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL
				? sqlite3_column_int64(s, 0)
				: id;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	*id_r = where;
	return 0;
}

int store_ticket_set_sentiment(struct store *st, int64_t id, double sentiment, const char *label)
{
	sqlite3_stmt *s =
	    store_stmt(st, "UPDATE tickets SET sentiment = ?, sentiment_label = ? WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_double(s, 1, sentiment);
	store_bind_text(s, 2, label);
	sqlite3_bind_int64(s, 3, id);
	return store_exec_stmt(st, s);
}

int store_ticket_set_spam_closed(struct store *st, int64_t id, bool spam_closed)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE tickets SET spam_closed = ? WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int(s, 1, spam_closed);
	sqlite3_bind_int64(s, 2, id);
	return store_exec_stmt(st, s);
}

int store_ticket_touch(struct store *st, int64_t id)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE tickets SET updated = ? WHERE id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, store_now());
	sqlite3_bind_int64(s, 2, id);
	return store_exec_stmt(st, s);
}

int store_ticket_has_participant(struct store *st, int64_t id, const char *addr)
{
	/* The requester, whoever wrote in the thread, and whom a mail of the
	 * thread was addressed or copied to: by the customer, or by a reply to
	 * all (an exact item of the ", "-separated lists). */
	sqlite3_stmt *s = store_stmt(st,
		"SELECT 1 FROM tickets WHERE id = ?1 AND requester = ?2"
		" UNION ALL SELECT 1 FROM messages WHERE ticket_id = ?1 AND from_addr = ?2"
		" UNION ALL SELECT 1 FROM messages WHERE ticket_id = ?1"
		"   AND (instr(', ' || lower(cc_addrs) || ', ', ', ' || lower(?2) || ', ') > 0"
		"     OR instr(', ' || lower(to_addrs) || ', ', ', ' || lower(?2) || ', ') > 0)"
		" LIMIT 1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	store_bind_text(s, 2, addr);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* ---- messages ---- */

int store_message_lookup(struct store *st, const char *dedupe_key, int64_t *ticket_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT ticket_id FROM messages WHERE dedupe_key = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, dedupe_key);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ticket_r = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int uid_exists(struct store *st, const struct message *m)
{
	if (m->mailbox == NULL)
		return 0;
	sqlite3_stmt *s = store_stmt(st,
		"SELECT 1 FROM messages WHERE mailbox = ? AND uidvalidity = ? AND uid = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, m->mailbox);
	sqlite3_bind_int64(s, 2, m->uidvalidity);
	sqlite3_bind_int64(s, 3, m->uid);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_message_add(struct store *st, const struct message *m, int64_t *id_r)
{
	int64_t existing;
	int found = store_message_lookup(st, m->dedupe_key, &existing);
	if (found != 0)
		return found;
	found = uid_exists(st, m);
	if (found != 0)
		return found;
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO messages (ticket_id, direction, mailbox, uidvalidity, uid, message_id,"
		" dedupe_key, in_reply_to, refs, from_addr, from_name, to_addrs, subject, date,"
		" received, body_text, new_text, quoted_text, signature, html, raw, loop_flags,"
		" parse_error, cc_addrs) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, m->ticket_id);
	store_bind_text(s, 2, m->outgoing ? "out" : "in");
	store_bind_text(s, 3, m->mailbox);
	if (m->mailbox != NULL) {
		sqlite3_bind_int64(s, 4, m->uidvalidity);
		sqlite3_bind_int64(s, 5, m->uid);
	}
	store_bind_text(s, 6, m->message_id);
	store_bind_text(s, 7, m->dedupe_key);
	store_bind_text(s, 8, m->in_reply_to);
	store_bind_text(s, 9, m->references);
	store_bind_text(s, 10, m->from_addr);
	store_bind_text(s, 11, m->from_name);
	store_bind_text(s, 12, m->to_addrs);
	store_bind_text(s, 13, m->subject);
	sqlite3_bind_int64(s, 14, m->date);
	sqlite3_bind_int64(s, 15, m->received ? m->received : store_now());
	store_bind_text(s, 16, m->body_text);
	store_bind_text(s, 17, m->new_text);
	store_bind_text(s, 18, m->quoted_text);
	store_bind_text(s, 19, m->signature);
	store_bind_text(s, 20, m->html);
	if (m->raw != NULL)
		sqlite3_bind_blob64(s, 21, m->raw, m->raw_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 22, m->loop_flags);
	store_bind_text(s, 23, m->parse_error);
	store_bind_text(s, 24, m->cc_addrs);
	int rc = store_exec_stmt(st, s);
	sqlite3_clear_bindings(s); /* the raw blob was bound without a copy */
	if (rc < 0)
		return -1;
	int64_t id = sqlite3_last_insert_rowid(st->db);
	if (sqlite3_get_autocommit(st->db)) {
		/* No transaction: index it now. */
		if (store_fts_index_range(st, id, id) < 0)
			return -1;
	} else {
		if (st->fts_first == 0 || id < st->fts_first)
			st->fts_first = id;
		if (id > st->fts_last)
			st->fts_last = id;
	}
	*id_r = id;
	return 0;
}

int store_ticket_by_message_ids(struct store *st, const char *const *ids, size_t n,
				int64_t *ticket_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"SELECT ticket_id FROM messages WHERE message_id = ? ORDER BY id DESC LIMIT 1");
	if (s == NULL)
		return -1;
	/* References lists the thread oldest first: the newest match wins. */
	for (size_t i = n; i-- > 0;) {
		if (ids[i] == NULL || ids[i][0] == '\0')
			continue;
		sqlite3_reset(s);
		store_bind_text(s, 1, ids[i]);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*ticket_r = sqlite3_column_int64(s, 0);
			sqlite3_reset(s);
			return 1;
		}
		if (rc != SQLITE_DONE) {
			sqlite3_reset(s);
			return -1;
		}
	}
	sqlite3_reset(s);
	return 0;
}

int store_attachment_add(struct store *st, int64_t message_id, const char *filename,
			 const char *content_type, size_t size, const void *data, size_t data_len)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO attachments (message_id, filename, content_type, size, data)"
		" VALUES (?, ?, ?, ?, ?)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, message_id);
	store_bind_text(s, 2, filename);
	store_bind_text(s, 3, content_type);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)size);
	if (data != NULL)
		sqlite3_bind_blob64(s, 5, data, data_len, SQLITE_STATIC);
	int rc = store_exec_stmt(st, s);
	sqlite3_clear_bindings(s);
	return rc;
}

static void message_read_row(sqlite3_stmt *s, void *row)
{
	struct message_row *r = row;
	r->id = sqlite3_column_int64(s, 0);
	r->outgoing = sqlite3_column_int(s, 1) != 0;
	r->message_id = store_column_dup(s, 2);
	r->from_addr = store_column_dup(s, 3);
	r->from_name = store_column_dup(s, 4);
	r->subject = store_column_dup(s, 5);
	r->new_text = store_column_dup(s, 6);
	r->body_text = store_column_dup(s, 7);
	r->date = sqlite3_column_int64(s, 8);
	r->received = sqlite3_column_int64(s, 9);
	r->loop_flags = (unsigned)sqlite3_column_int64(s, 10);
	r->parse_error = store_column_dup(s, 11);
	r->n_attachments = (size_t)sqlite3_column_int64(s, 12);
	r->to_addrs = store_column_dup(s, 13);
	r->cc_addrs = store_column_dup(s, 14);
	r->merged_from = sqlite3_column_int64(s, 15);
}

static void message_clear_row(void *row)
{
	struct message_row *r = row;
	free(r->message_id);
	free(r->from_addr);
	free(r->from_name);
	free(r->subject);
	free(r->new_text);
	free(r->body_text);
	free(r->parse_error);
	free(r->to_addrs);
	free(r->cc_addrs);
}

void message_rows_free(struct message_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		message_clear_row(&(*rows)[i]);
	free(*rows);
	*rows = NULL;
}

int store_message_raw(struct store *st, int64_t message_id, char **raw_r, size_t *len_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT raw FROM messages WHERE id = ? AND raw IS NOT NULL");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, message_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(s, 0);
		const void *data = sqlite3_column_blob(s, 0);
		char *copy = xmalloc(len + 1);
		if (len > 0)
			memcpy(copy, data, len);
		copy[len] = '\0';
		*raw_r = copy;
		*len_r = len;
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

#define MESSAGE_COLUMNS                                                                     \
	"m.id, m.direction = 'out', m.message_id, m.from_addr, m.from_name, m.subject,"       \
	" m.new_text, m.body_text, m.date, m.received, m.loop_flags, m.parse_error,"          \
	" (SELECT count(*) FROM attachments a WHERE a.message_id = m.id), m.to_addrs,"       \
	" m.cc_addrs, m.merged_from"

/* The rows of a message query whose ?1 is the ticket. */
static int message_rows(sqlite3_stmt *s, int64_t ticket_id, struct message_row **rows_r,
			size_t *n_r)
{
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	return store_collect(s, sizeof(struct message_row), message_read_row, message_clear_row,
			     (void **)rows_r, n_r);
}

int store_message_list_origin(struct store *st, int64_t ticket_id, struct message_row **rows_r,
			      size_t *n_r)
{
	return message_rows(store_stmt(st, "SELECT " MESSAGE_COLUMNS " FROM messages m"
					   " WHERE (m.ticket_id = ?1 AND m.merged_from IS NULL)"
					   " OR m.merged_from = ?1 ORDER BY m.received, m.id"),
			    ticket_id, rows_r, n_r);
}

int store_message_list(struct store *st, int64_t ticket_id, struct message_row **rows_r,
		       size_t *n_r)
{
	return message_rows(store_stmt(st, "SELECT " MESSAGE_COLUMNS " FROM messages m"
					   " WHERE m.ticket_id = ?1 ORDER BY m.received, m.id"),
			    ticket_id, rows_r, n_r);
}

/* ---- events ---- */

int store_event_add(struct store *st, int64_t ticket_id, const char *actor, const char *kind,
		    const char *detail_json)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)");
	if (s == NULL)
		return -1;
	if (ticket_id > 0)
		sqlite3_bind_int64(s, 1, ticket_id);
	sqlite3_bind_int64(s, 2, store_now());
	store_bind_text(s, 3, actor);
	store_bind_text(s, 4, kind);
	store_bind_text(s, 5, detail_json);
	return store_exec_stmt(st, s);
}

static void event_read_row(sqlite3_stmt *s, void *row)
{
	struct event_row *r = row;
	r->id = sqlite3_column_int64(s, 0);
	r->ticket_id = sqlite3_column_int64(s, 1);
	r->at = sqlite3_column_int64(s, 2);
	r->actor = store_column_dup(s, 3);
	r->kind = store_column_dup(s, 4);
	r->detail = store_column_dup(s, 5);
}

static void event_clear_row(void *row)
{
	struct event_row *r = row;
	free(r->actor);
	free(r->kind);
	free(r->detail);
}

void event_rows_free(struct event_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		event_clear_row(&(*rows)[i]);
	free(*rows);
	*rows = NULL;
}

int store_event_list(struct store *st, int64_t ticket_id, struct event_row **rows_r, size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"SELECT id, ticket_id, at, actor, kind, detail FROM events WHERE ticket_id = ?"
		" ORDER BY id");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	return store_collect(s, sizeof(struct event_row), event_read_row, event_clear_row,
			     (void **)rows_r, n_r);
}

/* ---- triage ---- */

int store_triage_add(struct store *st, int64_t ticket_id, int64_t message_id, const char *task,
		     const char *label, double confidence, double score, const char *explanation,
		     const char *detail_json)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO triage (ticket_id, message_id, task, label, confidence, score,"
		" explanation, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	if (message_id > 0)
		sqlite3_bind_int64(s, 2, message_id);
	store_bind_text(s, 3, task);
	store_bind_text(s, 4, label);
	sqlite3_bind_double(s, 5, confidence);
	sqlite3_bind_double(s, 6, score);
	store_bind_text(s, 7, explanation);
	store_bind_text(s, 8, detail_json);
	sqlite3_bind_int64(s, 9, store_now());
	return store_exec_stmt(st, s);
}

static void triage_read_row(sqlite3_stmt *s, void *row)
{
	struct triage_row *r = row;
	r->task = store_column_dup(s, 0);
	r->label = store_column_dup(s, 1);
	r->confidence = sqlite3_column_double(s, 2);
	r->score = sqlite3_column_double(s, 3);
	r->explanation = store_column_dup(s, 4);
	r->detail = store_column_dup(s, 5);
	r->at = sqlite3_column_int64(s, 6);
}

static void triage_clear_row(void *row)
{
	struct triage_row *r = row;
	free(r->task);
	free(r->label);
	free(r->explanation);
	free(r->detail);
}

void triage_rows_free(struct triage_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		triage_clear_row(&(*rows)[i]);
	free(*rows);
	*rows = NULL;
}

int store_triage_list(struct store *st, int64_t ticket_id, struct triage_row **rows_r,
		      size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"SELECT task, label, confidence, score, explanation, detail, at FROM triage"
		" WHERE ticket_id = ? ORDER BY id");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	return store_collect(s, sizeof(struct triage_row), triage_read_row, triage_clear_row,
			     (void **)rows_r, n_r);
}

/* ---- classifier counts ---- */

int store_nb_clear(struct store *st, const char *model)
{
	sqlite3_stmt *a = store_stmt(st, "DELETE FROM nb_labels WHERE model = ?");
	if (a == NULL)
		return -1;
	store_bind_text(a, 1, model);
	if (store_exec_stmt(st, a) < 0)
		return -1;
	sqlite3_stmt *b = store_stmt(st, "DELETE FROM nb_counts WHERE model = ?");
	if (b == NULL)
		return -1;
	store_bind_text(b, 1, model);
	return store_exec_stmt(st, b);
}

/* Counts are deltas: training adds, forgetting subtracts; rows at zero go. */
int store_nb_label_add(struct store *st, const char *model, const char *label, double docs,
		       double tokens)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO nb_labels (model, label, docs, tokens) VALUES (?, ?, ?, ?)"
		" ON CONFLICT (model, label) DO UPDATE SET docs = docs + excluded.docs,"
		" tokens = tokens + excluded.tokens");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, model);
	store_bind_text(s, 2, label);
	sqlite3_bind_double(s, 3, docs);
	sqlite3_bind_double(s, 4, tokens);
	return store_exec_stmt(st, s);
}

int store_nb_count_add(struct store *st, const char *model, const char *token,
		       const char *label, double count)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO nb_counts (model, token, label, count) VALUES (?, ?, ?, ?)"
		" ON CONFLICT (model, token, label) DO UPDATE SET count = count + excluded.count");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, model);
	store_bind_text(s, 2, token);
	store_bind_text(s, 3, label);
	sqlite3_bind_double(s, 4, count);
	if (store_exec_stmt(st, s) < 0)
		return -1;
	if (count < 0) {
		sqlite3_stmt *d = store_stmt(st,
			"DELETE FROM nb_counts WHERE model = ? AND token = ? AND label = ?"
			" AND count <= 1e-9");
		if (d == NULL)
			return -1;
		store_bind_text(d, 1, model);
		store_bind_text(d, 2, token);
		store_bind_text(d, 3, label);
		return store_exec_stmt(st, d);
	}
	return 0;
}

int store_nb_load(struct store *st, const char *model, store_nb_label_cb *label_cb,
		  store_nb_count_cb *count_cb, void *ctx)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT label, docs, tokens FROM nb_labels WHERE model = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, model);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (label_cb((const char *)sqlite3_column_text(s, 0), sqlite3_column_double(s, 1),
			     sqlite3_column_double(s, 2), ctx) < 0)
			break;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return -1;
	s = store_stmt(st, "SELECT token, label, count FROM nb_counts WHERE model = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, model);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (count_cb((const char *)sqlite3_column_text(s, 0),
			     (const char *)sqlite3_column_text(s, 1), sqlite3_column_double(s, 2),
			     ctx) < 0)
			break;
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_nb_meta_get(struct store *st, const char *model, const char *key, double *value_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT value FROM nb_meta WHERE model = ? AND key = ?");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, model);
	store_bind_text(s, 2, key);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*value_r = sqlite3_column_double(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_nb_meta_set(struct store *st, const char *model, const char *key, double value)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO nb_meta (model, key, value) VALUES (?, ?, ?)"
		" ON CONFLICT (model, key) DO UPDATE SET value = excluded.value");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, model);
	store_bind_text(s, 2, key);
	sqlite3_bind_double(s, 3, value);
	return store_exec_stmt(st, s);
}

int store_training_add(struct store *st, int64_t ticket_id, const char *model, const char *label,
		       const char *features, int weight)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT OR REPLACE INTO training (ticket_id, model, label, features, at, weight)"
		" VALUES (?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	store_bind_text(s, 2, model);
	store_bind_text(s, 3, label);
	store_bind_text(s, 4, features);
	sqlite3_bind_int64(s, 5, store_now());
	sqlite3_bind_int(s, 6, weight);
	return store_exec_stmt(st, s);
}

int store_training_get(struct store *st, int64_t ticket_id, const char *model, char **label_r,
		       char **features_r, int *weight_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"SELECT label, features, weight FROM training WHERE ticket_id = ? AND model = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	store_bind_text(s, 2, model);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*label_r = store_column_dup(s, 0);
		*features_r = store_column_dup(s, 1);
		if (weight_r != NULL)
			*weight_r = sqlite3_column_int(s, 2);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_training_delete(struct store *st, int64_t ticket_id, const char *model)
{
	sqlite3_stmt *s = store_stmt(st, "DELETE FROM training WHERE ticket_id = ? AND model = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	store_bind_text(s, 2, model);
	return store_exec_stmt(st, s);
}

/* ---- statistics ---- */

int store_stats(struct store *st, struct store_stats *stats_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM messages),"
		" (SELECT count(*) FROM attachments), (SELECT count(*) FROM events),"
		" (SELECT count(*) FROM tickets WHERE status = 'new'),"
		" (SELECT count(*) FROM tickets WHERE status = 'open'),"
		" (SELECT count(*) FROM tickets WHERE status = 'pending'),"
		" (SELECT count(*) FROM tickets WHERE status = 'resolved'),"
		" (SELECT count(*) FROM tickets WHERE status = 'closed')");
	if (s == NULL)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		memset(stats_r, 0, sizeof(*stats_r));
		stats_r->tickets = sqlite3_column_int64(s, 0);
		stats_r->messages = sqlite3_column_int64(s, 1);
		stats_r->attachments = sqlite3_column_int64(s, 2);
		stats_r->events = sqlite3_column_int64(s, 3);
		for (int i = 0; i < 5; i++)
			stats_r->by_status[i] = sqlite3_column_int64(s, 4 + i);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : -1;
}
