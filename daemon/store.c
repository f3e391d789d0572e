/* The store's core: opening, pragmas, migrations, transactions, the
 * statement cache and the time source. Table-specific SQL is in the other
 * store_*.c files. */
#include "store-private.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

/* Forward-only migrations: entry N brings user_version N to N+1. Never edit a
 * released entry; add a new one. */
static const char *const migrations[] = {
	/* 1: the core of the helpdesk */
	"CREATE TABLE mailboxes ("
	"  name TEXT PRIMARY KEY,"
	"  uidvalidity INTEGER NOT NULL DEFAULT 0,"
	"  last_uid INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE tickets ("
	"  id INTEGER PRIMARY KEY,"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  requester TEXT NOT NULL DEFAULT '',"
	"  requester_name TEXT,"
	"  mailbox TEXT,"
	"  queue TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'new'"
	"    CHECK (status IN ('new','open','pending','resolved','closed')),"
	"  priority TEXT NOT NULL DEFAULT 'normal'"
	"    CHECK (priority IN ('low','normal','high','urgent')),"
	"  assignee TEXT,"
	"  language TEXT,"
	"  category TEXT,"
	"  category_confidence REAL,"
	"  spam INTEGER NOT NULL DEFAULT 0,"
	"  spam_score REAL,"
	"  sentiment REAL,"
	"  sentiment_label TEXT,"
	"  loop_flags INTEGER NOT NULL DEFAULT 0,"
	"  tags TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  first_response_at INTEGER,"
	"  resolved_at INTEGER,"
	"  next_due INTEGER);"
	"CREATE INDEX tickets_status_queue ON tickets(status, queue);"
	"CREATE INDEX tickets_requester ON tickets(requester);"
	"CREATE INDEX tickets_created ON tickets(created);"
	"CREATE INDEX tickets_next_due ON tickets(next_due) WHERE next_due IS NOT NULL;"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,"
	"  direction TEXT NOT NULL CHECK (direction IN ('in','out')),"
	"  mailbox TEXT,"
	"  uidvalidity INTEGER,"
	"  uid INTEGER,"
	"  message_id TEXT,"
	"  dedupe_key TEXT NOT NULL UNIQUE,"
	"  in_reply_to TEXT,"
	"  refs TEXT,"
	"  from_addr TEXT,"
	"  from_name TEXT,"
	"  to_addrs TEXT,"
	"  subject TEXT,"
	"  date INTEGER,"
	"  received INTEGER NOT NULL,"
	"  body_text TEXT,"
	"  new_text TEXT,"
	"  quoted_text TEXT,"
	"  signature TEXT,"
	"  html TEXT,"
	"  raw BLOB,"
	"  loop_flags INTEGER NOT NULL DEFAULT 0,"
	"  parse_error TEXT,"
	"  UNIQUE (mailbox, uidvalidity, uid));"
	"CREATE INDEX messages_ticket ON messages(ticket_id);"
	"CREATE INDEX messages_message_id ON messages(message_id);"
	"CREATE INDEX messages_from ON messages(from_addr);"
	"CREATE TABLE attachments ("
	"  id INTEGER PRIMARY KEY,"
	"  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
	"  filename TEXT,"
	"  content_type TEXT,"
	"  size INTEGER NOT NULL,"
	"  data BLOB);"
	"CREATE INDEX attachments_message ON attachments(message_id);"
	/* The audit log outlives erasure: ticket_id is kept as a plain number. */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  ticket_id INTEGER,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  detail TEXT);"
	"CREATE INDEX events_ticket ON events(ticket_id);"
	"CREATE INDEX events_kind_at ON events(kind, at);"
	"CREATE TABLE triage ("
	"  id INTEGER PRIMARY KEY,"
	"  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,"
	"  message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,"
	"  task TEXT NOT NULL,"
	"  label TEXT,"
	"  confidence REAL,"
	"  score REAL,"
	"  explanation TEXT,"
	"  detail TEXT,"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX triage_ticket ON triage(ticket_id);"
	"CREATE TABLE nb_labels ("
	"  model TEXT NOT NULL,"
	"  label TEXT NOT NULL,"
	"  docs REAL NOT NULL,"
	"  tokens REAL NOT NULL,"
	"  PRIMARY KEY (model, label)) WITHOUT ROWID;"
	"CREATE TABLE nb_counts ("
	"  model TEXT NOT NULL,"
	"  token TEXT NOT NULL,"
	"  label TEXT NOT NULL,"
	"  count REAL NOT NULL,"
	"  PRIMARY KEY (model, token, label)) WITHOUT ROWID;"
	"CREATE TABLE training ("
	"  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,"
	"  model TEXT NOT NULL,"
	"  label TEXT NOT NULL,"
	"  features TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  PRIMARY KEY (ticket_id, model));"
	/* Ticket text search (the API's q=, similar solved tickets): an
	 * external-content index over the messages, kept in sync by triggers. */
	"CREATE VIRTUAL TABLE messages_fts USING fts5(subject, new_text,"
	"  content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
	"CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
	"  INSERT INTO messages_fts(rowid, subject, new_text) VALUES (new.id, new.subject, new.new_text);"
	"END;"
	"CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
	"  INSERT INTO messages_fts(messages_fts, rowid, subject, new_text)"
	"    VALUES ('delete', old.id, old.subject, old.new_text);"
	"END;"
	"CREATE TRIGGER messages_fts_au AFTER UPDATE OF subject, new_text ON messages BEGIN"
	"  INSERT INTO messages_fts(messages_fts, rowid, subject, new_text)"
	"    VALUES ('delete', old.id, old.subject, old.new_text);"
	"  INSERT INTO messages_fts(rowid, subject, new_text) VALUES (new.id, new.subject, new.new_text);"
	"END;",
	/* 2: the outbox (replies, acknowledgements, notifications) and the
	 * per-address acknowledgement rate limit */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  ticket_id INTEGER REFERENCES tickets(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('reply','ack','notify')),"
	"  status TEXT NOT NULL DEFAULT 'queued'"
	"    CHECK (status IN ('queued','sending','sent','failed')),"
	"  message_id TEXT NOT NULL UNIQUE,"
	"  from_addr TEXT NOT NULL,"
	"  to_addr TEXT NOT NULL,"
	"  subject TEXT,"
	"  body_text TEXT,"
	"  in_reply_to TEXT,"
	"  refs TEXT,"
	"  raw BLOB NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  created INTEGER NOT NULL,"
	"  claimed_at INTEGER,"
	"  accepted_at INTEGER,"
	"  agent TEXT,"
	"  suggestion_rank INTEGER,"
	"  status_after TEXT);"
	"CREATE INDEX outbox_due ON outbox(next_attempt) WHERE status = 'queued';"
	"CREATE INDEX outbox_ticket ON outbox(ticket_id);"
	"CREATE INDEX outbox_status ON outbox(status) WHERE status IN ('sending','failed');"
	"CREATE TABLE ack_log ("
	"  address TEXT PRIMARY KEY,"
	"  last_at INTEGER NOT NULL) WITHOUT ROWID;",
	/* 3: the knowledge base's articles and term statistics, the suggested
	 * replies and their decisions. The FTS5 index over the articles needs the
	 * kb tokenizer, which a plain store connection does not have: kb_register()
	 * creates it (and its triggers) on first use. suggestion_events outlives
	 * tickets, like events, so that the kb statistics survive erasure. */
	"CREATE TABLE kb_articles ("
	"  doc INTEGER PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  title TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  tags TEXT NOT NULL DEFAULT '',"
	"  language TEXT NOT NULL,"
	"  template TEXT,"
	"  source_dir TEXT,"
	"  source_path TEXT,"
	"  content_hash TEXT NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX kb_articles_source ON kb_articles(source_dir);"
	"CREATE TABLE kb_terms ("
	"  term TEXT PRIMARY KEY,"
	"  docs INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE kb_meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE suggestions ("
	"  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,"
	"  rank INTEGER NOT NULL CHECK (rank >= 1),"
	"  kind TEXT NOT NULL CHECK (kind IN ('article','ticket')),"
	"  ref TEXT NOT NULL,"
	"  title TEXT,"
	"  score REAL NOT NULL,"
	"  draft TEXT,"
	"  language TEXT,"
	"  status TEXT NOT NULL DEFAULT 'proposed'"
	"    CHECK (status IN ('proposed','approved','rejected','edited')),"
	"  reason TEXT,"
	"  created INTEGER NOT NULL,"
	"  decided_at INTEGER,"
	"  decided_by TEXT,"
	"  edit_ratio REAL,"
	"  PRIMARY KEY (ticket_id, rank));"
	"CREATE TABLE suggestion_events ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  ticket_id INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  event TEXT NOT NULL CHECK (event IN ('suggested','approved','edited','rejected')),"
	"  agent TEXT,"
	"  reason TEXT,"
	"  edit_ratio REAL);"
	"CREATE INDEX suggestion_events_ref ON suggestion_events(kind, ref, event);"
	"CREATE INDEX suggestion_events_ticket ON suggestion_events(ticket_id);",
	/* 4: SLA clocks (one row per ticket and target, live while closed_at is
	 * NULL; next_fire is the next warning or escalation instant, indexed so
	 * that the timer never scans), outgoing SLA webhooks with their retries,
	 * and the per-ticket notification log that damps flapping conditions. */
	"CREATE TABLE sla_clocks ("
	"  id INTEGER PRIMARY KEY,"
	"  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,"
	"  target TEXT NOT NULL"
	"    CHECK (target IN ('first_response','next_response','resolution')),"
	"  policy TEXT NOT NULL,"
	"  calendar TEXT,"
	"  minutes INTEGER NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  resumed INTEGER NOT NULL,"
	"  consumed INTEGER NOT NULL DEFAULT 0,"
	"  due INTEGER NOT NULL,"
	"  warn_at INTEGER,"
	"  paused_at INTEGER,"
	"  state TEXT NOT NULL"
	"    CHECK (state IN ('running','paused','met','breached','stopped')),"
	"  breached_at INTEGER,"
	"  closed_at INTEGER,"
	"  elapsed INTEGER,"
	"  fired INTEGER NOT NULL DEFAULT 0,"
	"  next_fire INTEGER);"
	"CREATE INDEX sla_clocks_next_fire ON sla_clocks(next_fire) WHERE next_fire IS NOT NULL;"
	"CREATE INDEX sla_clocks_ticket ON sla_clocks(ticket_id, target);"
	"CREATE INDEX sla_clocks_closed ON sla_clocks(closed_at) WHERE closed_at IS NOT NULL;"
	"CREATE INDEX sla_clocks_breached ON sla_clocks(breached_at) WHERE breached_at IS NOT NULL;"
	"CREATE TABLE sla_webhooks ("
	"  id INTEGER PRIMARY KEY,"
	"  ticket_id INTEGER,"
	"  webhook TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','sent','failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  created INTEGER NOT NULL,"
	"  sent_at INTEGER);"
	"CREATE INDEX sla_webhooks_due ON sla_webhooks(next_attempt) WHERE status = 'queued';"
	"CREATE TABLE sla_notified ("
	"  ticket_id INTEGER NOT NULL,"
	"  channel TEXT NOT NULL,"
	"  last_at INTEGER NOT NULL,"
	"  PRIMARY KEY (ticket_id, channel)) WITHOUT ROWID;",
	/* 5: settings a model learned about itself (its calibration). */
	"CREATE TABLE nb_meta ("
	"  model TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  value REAL NOT NULL,"
	"  PRIMARY KEY (model, key)) WITHOUT ROWID;",
	/* 6: the web console's accounts: agents with their role and password
	 * hash, sessions (token stored hashed, CSRF token bound to it), failed
	 * logins for the rate limit; the index of the queue sorted by due time. */
	"CREATE TABLE agents ("
	"  id INTEGER PRIMARY KEY,"
	"  email TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('agent','manager','admin')),"
	"  disabled INTEGER NOT NULL DEFAULT 0,"
	"  password_hash TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  last_login INTEGER);"
	"CREATE TABLE sessions ("
	"  token_hash TEXT PRIMARY KEY,"
	"  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
	"  csrf TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX sessions_agent ON sessions(agent_id);"
	"CREATE INDEX sessions_last_seen ON sessions(last_seen);"
	"CREATE TABLE login_failures ("
	"  id INTEGER PRIMARY KEY,"
	"  key TEXT NOT NULL,"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX login_failures_key ON login_failures(key, at);"
	/* The console's queue, most urgent first (store_ticket_list sort_by_due):
	 * read in this order, the first page costs a few index steps instead of
	 * sorting every active ticket. */
	"CREATE INDEX tickets_due_order ON tickets((next_due IS NULL), next_due, id);",
	/* 7: new messages are indexed once per transaction, at commit
	 * (store_commit), not row by row by a trigger: FTS5 flushes its pending
	 * terms at every statement savepoint, which made each stored mail write
	 * a segment of its own. */
	"DROP TRIGGER messages_fts_ai;",
	/* 8: the Cc addresses of a mail (", "-separated, as to_addrs): the
	 * people the customer copied are participants of the ticket. */
	"ALTER TABLE messages ADD COLUMN cc_addrs TEXT;",
	/* 9: a reply to all: the addresses it is copied to (", "-separated). */
	"ALTER TABLE outbox ADD COLUMN cc_addrs TEXT;",
	/* 10: the reply template an automatic mail was written from
	 * ("ack-fr", "out-of-hours-en"), named again when it is sent. */
	"ALTER TABLE outbox ADD COLUMN template TEXT;",
	/* 11: how many times a correction was counted (trained until the model
	 * agrees with it), so that forgetting it takes back exactly that. */
	"ALTER TABLE training ADD COLUMN weight INTEGER NOT NULL DEFAULT 1;",
	/* 12: a ticket merged into another (its messages moved there, itself
	 * closed): where its replies and subject tag lead now. */
	"ALTER TABLE tickets ADD COLUMN merged_into INTEGER;",
	/* 13: a moved message keeps the ticket it came from (a plain number,
	 * like the audit log's); merged tickets found by the ticket they lead
	 * to, and no longer merged if it goes (privacy deletes them together;
	 * the trigger is for any other delete); whether a ticket was closed as
	 * spam (by a rule or an agent's verdict), which the reports set apart,
	 * guessed for older tickets from the flag and the status. */
	"ALTER TABLE messages ADD COLUMN merged_from INTEGER;"
	"CREATE INDEX messages_merged_from ON messages(merged_from) WHERE merged_from IS NOT NULL;"
	"CREATE INDEX tickets_merged_into ON tickets(merged_into) WHERE merged_into IS NOT NULL;"
	"UPDATE tickets SET merged_into = NULL"
	"  WHERE merged_into IS NOT NULL AND merged_into NOT IN (SELECT id FROM tickets);"
	"CREATE TRIGGER tickets_merged_into_ad AFTER DELETE ON tickets BEGIN"
	"  UPDATE tickets SET merged_into = NULL WHERE merged_into = old.id;"
	"END;"
	"ALTER TABLE tickets ADD COLUMN spam_closed INTEGER NOT NULL DEFAULT 0;"
	"UPDATE tickets SET spam_closed = 1 WHERE spam = 1 AND status = 'closed';"
	"CREATE INDEX tickets_spam_closed ON tickets(id) WHERE spam_closed;",
};

int store_latest_version(void)
{
	return (int)ARRAY_SIZE(migrations);
}

static _Atomic int64_t fake_now;

int64_t store_now(void)
{
	int64_t fake = atomic_load(&fake_now);
	if (fake != 0)
		return fake;
	return (int64_t)time(NULL);
}

void store_set_fake_now(int64_t t)
{
	atomic_store(&fake_now, t);
}

const char *store_error(struct store *st)
{
	return sqlite3_errmsg(st->db);
}

struct sqlite3 *store_db(struct store *st)
{
	return st->db;
}

sqlite3_stmt *store_stmt(struct store *st, const char *sql)
{
	for (size_t i = 0; i < st->n_stmts; i++)
		if (st->stmts[i].sql == sql) {
			sqlite3_stmt *s = st->stmts[i].stmt;
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return s;
		}
	sqlite3_stmt *s;
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		return NULL;
	st->stmts = xgrow(st->stmts, &st->cap_stmts, st->n_stmts + 1, sizeof(*st->stmts));
	st->stmts[st->n_stmts].sql = sql;
	st->stmts[st->n_stmts].stmt = s;
	st->n_stmts++;
	return s;
}

int store_bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	if (text == NULL)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, text, -1, SQLITE_TRANSIENT);
}

char *store_column_dup(sqlite3_stmt *s, int col)
{
	const unsigned char *text = sqlite3_column_text(s, col);
	if (text == NULL)
		return NULL;
	return xstrndup((const char *)text, (size_t)sqlite3_column_bytes(s, col));
}

int store_collect(sqlite3_stmt *s, size_t elem_size, store_read_row_fn *read_row,
		  store_clear_row_fn *clear_row, void **rows_r, size_t *n_r)
{
	char *rows = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rows = xgrow(rows, &cap, n + 1, elem_size);
		memset(rows + n * elem_size, 0, elem_size);
		read_row(s, rows + n * elem_size);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < n; i++)
			clear_row(rows + i * elem_size);
		free(rows);
		return -1;
	}
	*rows_r = rows;
	*n_r = n;
	return 0;
}

static void id_read_row(sqlite3_stmt *s, void *row)
{
	*(int64_t *)row = sqlite3_column_int64(s, 0);
}

static void id_clear_row(void *row)
{
	(void)row;
}

int store_collect_ids(sqlite3_stmt *s, int64_t **ids_r, size_t *n_r)
{
	return store_collect(s, sizeof(int64_t), id_read_row, id_clear_row, (void **)ids_r, n_r);
}

int store_exec_stmt(struct store *st, sqlite3_stmt *s)
{
	(void)st;
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int exec_sql(struct store *st, const char *sql)
{
	return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int store_schema_version(struct store *st)
{
	sqlite3_stmt *s;
	int version = -1;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return version;
}

static int store_migrate_to(struct store *st, int target, const char **error_r)
{
	static __thread char error[512];
	int version = store_schema_version(st);
	if (version < 0) {
		*error_r = store_error(st);
		return -1;
	}
	if (version > store_latest_version()) {
		snprintf(error, sizeof(error),
			 "database schema version %d is newer than this program's (%d)", version,
			 store_latest_version());
		*error_r = error;
		return -1;
	}
	/* Each step in its own transaction: a failure leaves the last good version. */
	for (; version < target; version++) {
		char pragma[64];
		/* A PRAGMA takes no bound parameter; the value is our own integer. */
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		if (exec_sql(st, "BEGIN IMMEDIATE") < 0 || exec_sql(st, migrations[version]) < 0 ||
		    exec_sql(st, pragma) < 0 || exec_sql(st, "COMMIT") < 0) {
			snprintf(error, sizeof(error), "migration to schema version %d failed: %s",
				 version + 1, store_error(st));
			exec_sql(st, "ROLLBACK");
			*error_r = error;
			return -1;
		}
	}
	return 0;
}

/* Process-wide settings, before SQLite's first use: no memory statistics
 * (nothing reads them, and keeping them takes a global mutex around every
 * allocation of every connection). */
static void sqlite_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int open_common(const char *path, int migrate_to, struct store **st_r,
		       const char **error_r)
{
	static __thread char error[512];
	static pthread_once_t configured = PTHREAD_ONCE_INIT;
	pthread_once(&configured, sqlite_configure);
	struct store *st = xcalloc(1, sizeof(*st));
	st->path = xstrdup(path);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		snprintf(error, sizeof(error), "%s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "cannot open");
		*error_r = error;
		store_close(&st);
		return -1;
	}
	sqlite3_busy_timeout(st->db, 10000);
	sqlite3_extended_result_codes(st->db, 1);
	/* WAL: readers (triagectl, the web console) never block the writer. */
	if (exec_sql(st, "PRAGMA journal_mode = WAL") < 0 ||
	    exec_sql(st, "PRAGMA synchronous = NORMAL") < 0 ||
	    exec_sql(st, "PRAGMA foreign_keys = ON") < 0 ||
	    exec_sql(st, "PRAGMA secure_delete = ON") < 0) {
		snprintf(error, sizeof(error), "%s: %s", path, store_error(st));
		*error_r = error;
		store_close(&st);
		return -1;
	}
	if (migrate_to >= 0) {
		if (store_migrate_to(st, migrate_to, error_r) < 0) {
			snprintf(error, sizeof(error), "%s: %.400s", path, *error_r);
			*error_r = error;
			store_close(&st);
			return -1;
		}
	} else if (store_schema_version(st) != store_latest_version()) {
		snprintf(error, sizeof(error),
			 "%s: schema version %d, expected %d (run `triagectl init`)", path,
			 store_schema_version(st), store_latest_version());
		*error_r = error;
		store_close(&st);
		return -1;
	}
	*st_r = st;
	return 0;
}

int store_open(const char *path, struct store **st_r, const char **error_r)
{
	return open_common(path, store_latest_version(), st_r, error_r);
}

int store_open_existing(const char *path, struct store **st_r, const char **error_r)
{
	return open_common(path, -1, st_r, error_r);
}

int store_open_at_version(const char *path, int version, struct store **st_r,
			  const char **error_r)
{
	return open_common(path, version, st_r, error_r);
}

void store_close(struct store **stp)
{
	struct store *st = *stp;
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_stmts; i++)
		sqlite3_finalize(st->stmts[i].stmt);
	free(st->stmts);
	if (st->db != NULL)
		sqlite3_close(st->db);
	free(st->path);
	free(st);
	*stp = NULL;
}

int store_begin(struct store *st)
{
	sqlite3_stmt *s = store_stmt(st, "BEGIN IMMEDIATE");
	return s != NULL ? store_exec_stmt(st, s) : -1;
}

int store_fts_index_range(struct store *st, int64_t first, int64_t last)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO messages_fts (rowid, subject, new_text)"
		" SELECT id, subject, new_text FROM messages WHERE id BETWEEN ? AND ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, first);
	sqlite3_bind_int64(s, 2, last);
	return store_exec_stmt(st, s);
}

int store_commit(struct store *st)
{
	/* The messages of the transaction enter the full-text index in one
	 * statement, so that FTS5 writes one segment for all of them. */
	if (st->fts_first > 0 && store_fts_index_range(st, st->fts_first, st->fts_last) < 0)
		return -1;
	sqlite3_stmt *s = store_stmt(st, "COMMIT");
	if (s == NULL || store_exec_stmt(st, s) < 0)
		return -1;
	st->fts_first = st->fts_last = 0;
	return 0;
}

void store_rollback(struct store *st)
{
	st->fts_first = st->fts_last = 0;
	if (sqlite3_get_autocommit(st->db))
		return;
	sqlite3_stmt *s = store_stmt(st, "ROLLBACK");
	if (s != NULL)
		store_exec_stmt(st, s);
}
