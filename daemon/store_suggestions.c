/* The store's suggestions: the ranked proposals per ticket, decisions, the
 * decision log, the statistics per article, and the similar-solved-ticket
 * search. */
#include "store_suggestions.h"

#include <string.h>

#include "store-private.h"
#include "xalloc.h"

static const char *const status_names[] = {"proposed", "approved", "rejected", "edited"};

const char *suggestion_status_name(enum suggestion_status s)
{
	return (unsigned)s < ARRAY_SIZE(status_names) ? status_names[s] : "?";
}

int suggestion_status_parse(const char *s, enum suggestion_status *status_r)
{
	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(status_names); i++)
		if (strcmp(s, status_names[i]) == 0) {
			*status_r = (enum suggestion_status)i;
			return 0;
		}
	return -1;
}

void suggestion_clear(struct suggestion *s)
{
	if (s == NULL)
		return;
	free(s->kind);
	free(s->ref);
	free(s->title);
	free(s->draft);
	free(s->language);
	free(s->reason);
	free(s->decided_by);
	memset(s, 0, sizeof(*s));
}

void suggestion_list_free(struct suggestion **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		suggestion_clear(&(*list)[i]);
	free(*list);
	*list = NULL;
}

static int exec_literal(struct store *st, const char *sql)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	return s != NULL ? store_exec_stmt(st, s) : -1;
}

static int log_event(struct store *st, int64_t ticket_id, const char *kind, const char *ref,
		     const char *event, const char *agent, const char *reason, double edit_ratio)
{
	sqlite3_stmt *s = store_stmt(st,
		"INSERT INTO suggestion_events (at, ticket_id, kind, ref, event, agent, reason,"
		" edit_ratio) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, store_now());
	sqlite3_bind_int64(s, 2, ticket_id);
	store_bind_text(s, 3, kind);
	store_bind_text(s, 4, ref);
	store_bind_text(s, 5, event);
	store_bind_text(s, 6, agent);
	store_bind_text(s, 7, reason);
	if (edit_ratio >= 0)
		sqlite3_bind_double(s, 8, edit_ratio);
	return store_exec_stmt(st, s);
}

static int replace_in_savepoint(struct store *st, int64_t ticket_id,
				const struct suggestion *items, size_t n)
{
	sqlite3_stmt *s = store_stmt(st,
		"DELETE FROM suggestions WHERE ticket_id = ? AND status = 'proposed'");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	if (store_exec_stmt(st, s) < 0)
		return -1;
	s = store_stmt(st, "SELECT coalesce(max(rank), 0) FROM suggestions WHERE ticket_id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return -1;
	}
	int base = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	int64_t now = store_now();
	for (size_t i = 0; i < n; i++) {
		const struct suggestion *it = &items[i];
		s = store_stmt(st,
			"INSERT INTO suggestions (ticket_id, rank, kind, ref, title, score, draft,"
			" language, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, ticket_id);
		sqlite3_bind_int(s, 2, base + (int)i + 1);
		store_bind_text(s, 3, it->kind);
		store_bind_text(s, 4, it->ref);
		store_bind_text(s, 5, it->title);
		sqlite3_bind_double(s, 6, it->score);
		store_bind_text(s, 7, it->draft);
		store_bind_text(s, 8, it->language);
		sqlite3_bind_int64(s, 9, now);
		if (store_exec_stmt(st, s) < 0)
			return -1;
		s = store_stmt(st,
			"SELECT 1 FROM suggestion_events WHERE ticket_id = ? AND kind = ? AND ref = ?"
			" AND event = 'suggested'");
		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, ticket_id);
		store_bind_text(s, 2, it->kind);
		store_bind_text(s, 3, it->ref);
		int rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return -1;
		if (rc == SQLITE_DONE &&
		    log_event(st, ticket_id, it->kind, it->ref, "suggested", NULL, NULL, -1) < 0)
			return -1;
	}
	return 0;
}

int store_suggestions_replace(struct store *st, int64_t ticket_id, const struct suggestion *items,
			      size_t n)
{
	if (exec_literal(st, "SAVEPOINT store_suggestions") < 0)
		return -1;
	if (replace_in_savepoint(st, ticket_id, items, n) < 0) {
		exec_literal(st, "ROLLBACK TO store_suggestions");
		exec_literal(st, "RELEASE store_suggestions");
		return -1;
	}
	return exec_literal(st, "RELEASE store_suggestions");
}

#define SUGGESTION_COLUMNS                                                                  \
	"ticket_id, rank, kind, ref, title, score, draft, language, status, reason, created," \
	" decided_at, decided_by, edit_ratio"

static void read_row(sqlite3_stmt *s, struct suggestion *r)
{
	memset(r, 0, sizeof(*r));
	r->ticket_id = sqlite3_column_int64(s, 0);
	r->rank = sqlite3_column_int(s, 1);
	r->kind = store_column_dup(s, 2);
	r->ref = store_column_dup(s, 3);
	r->title = store_column_dup(s, 4);
	r->score = sqlite3_column_double(s, 5);
	r->draft = store_column_dup(s, 6);
	r->language = store_column_dup(s, 7);
	const char *status = (const char *)sqlite3_column_text(s, 8);
	if (suggestion_status_parse(status, &r->status) < 0)
		r->status = SUGGESTION_PROPOSED;
	r->reason = store_column_dup(s, 9);
	r->created = sqlite3_column_int64(s, 10);
	r->decided_at = sqlite3_column_int64(s, 11);
	r->decided_by = store_column_dup(s, 12);
	r->edit_ratio = sqlite3_column_type(s, 13) == SQLITE_NULL ? -1.0 : sqlite3_column_double(s, 13);
}

int store_suggestion_list(struct store *st, int64_t ticket_id, struct suggestion **list_r,
			  size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " SUGGESTION_COLUMNS
					 " FROM suggestions WHERE ticket_id = ? ORDER BY rank");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	struct suggestion *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		list = xgrow(list, &cap, n + 1, sizeof(*list));
		read_row(s, &list[n++]);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		suggestion_list_free(&list, n);
		return -1;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

int store_suggestion_get(struct store *st, int64_t ticket_id, int rank, struct suggestion *s_r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT " SUGGESTION_COLUMNS
					 " FROM suggestions WHERE ticket_id = ? AND rank = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, ticket_id);
	sqlite3_bind_int(s, 2, rank);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_row(s, s_r);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int decide_in_savepoint(struct store *st, int64_t ticket_id, int rank,
			       enum suggestion_status status, const char *agent, const char *reason,
			       double edit_ratio)
{
	sqlite3_stmt *s = store_stmt(st,
		"UPDATE suggestions SET status = ?, reason = ?, decided_at = ?, decided_by = ?,"
		" edit_ratio = ? WHERE ticket_id = ? AND rank = ? AND status = 'proposed'"
		" RETURNING kind, ref");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, suggestion_status_name(status));
	store_bind_text(s, 2, reason);
	sqlite3_bind_int64(s, 3, store_now());
	store_bind_text(s, 4, agent);
	if (edit_ratio >= 0)
		sqlite3_bind_double(s, 5, edit_ratio);
	sqlite3_bind_int64(s, 6, ticket_id);
	sqlite3_bind_int(s, 7, rank);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	_cleanup_free_ char *kind = store_column_dup(s, 0);
	_cleanup_free_ char *ref = store_column_dup(s, 1);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return -1;
	if (log_event(st, ticket_id, kind, ref, suggestion_status_name(status), agent, reason,
		      edit_ratio) < 0)
		return -1;
	return 1;
}

int store_suggestion_decide(struct store *st, int64_t ticket_id, int rank,
			    enum suggestion_status status, const char *agent, const char *reason,
			    double edit_ratio)
{
	if (status == SUGGESTION_PROPOSED)
		return -1;
	if (exec_literal(st, "SAVEPOINT store_suggestion_decide") < 0)
		return -1;
	int r = decide_in_savepoint(st, ticket_id, rank, status, agent, reason, edit_ratio);
	if (r < 0) {
		exec_literal(st, "ROLLBACK TO store_suggestion_decide");
		exec_literal(st, "RELEASE store_suggestion_decide");
		return -1;
	}
	return exec_literal(st, "RELEASE store_suggestion_decide") < 0 ? -1 : r;
}

void similar_list_free(struct similar_ticket **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*list)[i].subject);
		free((*list)[i].reply);
		free((*list)[i].language);
	}
	free(*list);
	*list = NULL;
}

/* How many of the best-scored messages the first, cheap pass looks at, per
 * ticket wanted: enough that open tickets and outgoing mail among the best
 * matches rarely leave fewer than wanted (the window's rows cost a join
 * each, every match costs its bm25 anyway). */
#define SIMILAR_WINDOW 20

static int similar_run(struct store *st, sqlite3_stmt *s, const char *match, int64_t exclude,
		       unsigned limit, struct similar_ticket **list_r, size_t *n_r)
{
	store_bind_text(s, 1, match);
	sqlite3_bind_int64(s, 2, exclude);
	sqlite3_bind_int64(s, 3, limit);
	sqlite3_bind_int64(s, 4, (int64_t)limit * SIMILAR_WINDOW);
	struct similar_ticket *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		list = xgrow(list, &cap, n + 1, sizeof(*list));
		list[n].ticket_id = sqlite3_column_int64(s, 0);
		list[n].subject = store_column_dup(s, 1);
		list[n].score = sqlite3_column_double(s, 2);
		list[n].language = store_column_dup(s, 3);
		list[n].reply = store_column_dup(s, 4);
		n++;
	}
	sqlite3_reset(s);
	(void)st;
	if (rc != SQLITE_DONE) {
		similar_list_free(&list, n);
		return -1;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

/* One row per ticket, scored by its best-matching incoming message. */
#define SIMILAR_SELECT                                                                  \
	" SELECT t.id, t.subject, max(h.score) AS best, t.language,"                     \
	"  (SELECT coalesce(o.new_text, o.body_text) FROM messages o"                     \
	"    WHERE o.ticket_id = t.id AND o.direction = 'out' ORDER BY o.id DESC LIMIT 1)" \
	" FROM hits h JOIN tickets t ON t.id = h.ticket_id"                               \
	" WHERE t.id <> ?2 AND t.status IN ('resolved', 'closed')"                        \
	" GROUP BY t.id ORDER BY best DESC, t.id DESC LIMIT ?3"

int store_any_solved(struct store *st, int64_t exclude, bool *any_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"SELECT EXISTS (SELECT 1 FROM tickets WHERE status IN ('resolved', 'closed')"
		" AND id != ?)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, exclude);
	int rc = sqlite3_step(s);
	bool any = rc == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return -1;
	*any_r = any;
	return 0;
}

int store_message_matches(struct store *st, const char *match, int64_t cap, int64_t *n_r)
{
	/* The inner LIMIT stops the walk of the posting lists at cap rows:
	 * counting costs at most cap steps, without ranking. */
	sqlite3_stmt *s = store_stmt(st,
		"SELECT count(*) FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ?"
		" LIMIT ?)");
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, match);
	sqlite3_bind_int64(s, 2, cap);
	int rc = sqlite3_step(s);
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return -1;
	*n_r = n;
	return 0;
}

int store_similar_solved(struct store *st, const char *match, int64_t exclude, unsigned limit,
			 struct similar_ticket **list_r, size_t *n_r)
{
	/* First the best ?4 messages of the FTS5 table alone (bm25 once per
	 * match into a sorter that keeps ?4 rows; only those rows meet the
	 * messages and tickets). When they hold
	 * `limit` solved tickets, those are the answer: any other ticket's best
	 * message scores no higher than the last in the window. Otherwise (most
	 * of the best matches are outgoing or in open tickets) every match is
	 * looked at. No solved ticket at all (a new helpdesk) costs one
	 * indexed count instead of a scan of every match. */
	bool any;
	if (store_any_solved(st, exclude, &any) < 0)
		return -1;
	if (!any) {
		*list_r = NULL;
		*n_r = 0;
		return 0;
	}
	sqlite3_stmt *s = store_stmt(st,
		"WITH hits AS MATERIALIZED ("
		"  SELECT m.ticket_id AS ticket_id, b.score AS score FROM"
		"   (SELECT rowid AS id, -bm25(messages_fts, 3.0, 1.0) AS score FROM messages_fts"
		"    WHERE messages_fts MATCH ?1 ORDER BY score DESC LIMIT ?4) b"
		"  JOIN messages m ON m.id = b.id WHERE m.direction = 'in')" SIMILAR_SELECT);
	if (s == NULL)
		return -1;
	struct similar_ticket *list = NULL;
	size_t n = 0;
	if (similar_run(st, s, match, exclude, limit, &list, &n) < 0)
		return -1;
	if (n >= limit) {
		*list_r = list;
		*n_r = n;
		return 0;
	}
	similar_list_free(&list, n);
	s = store_stmt(st,
		/* bm25() cannot sit inside an aggregate: score the messages first. */
		"WITH hits AS MATERIALIZED ("
		"  SELECT m.ticket_id AS ticket_id, -bm25(messages_fts, 3.0, 1.0) AS score"
		"  FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
		"  WHERE messages_fts MATCH ?1 AND m.direction = 'in' AND ?4 IS NOT NULL)"
		SIMILAR_SELECT);
	if (s == NULL)
		return -1;
	return similar_run(st, s, match, exclude, limit, list_r, n_r);
}

int store_suggestion_stats(struct store *st, struct suggestion_stat **list_r, size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(st,
		"WITH agg AS (SELECT ref,"
		"    sum(event = 'suggested') AS suggested, sum(event = 'approved') AS approved,"
		"    sum(event = 'edited') AS edited, sum(event = 'rejected') AS rejected,"
		"    avg(CASE WHEN event IN ('approved', 'edited') THEN coalesce(edit_ratio, 0) END)"
		"      AS ratio"
		"  FROM suggestion_events WHERE kind = 'article' GROUP BY ref)"
		" SELECT a.id, a.title, coalesce(g.suggested, 0), coalesce(g.approved, 0),"
		"   coalesce(g.edited, 0), coalesce(g.rejected, 0), g.ratio"
		" FROM kb_articles a LEFT JOIN agg g ON g.ref = a.id"
		" UNION ALL"
		" SELECT g.ref, NULL, g.suggested, g.approved, g.edited, g.rejected, g.ratio"
		" FROM agg g WHERE g.ref NOT IN (SELECT id FROM kb_articles)"
		" ORDER BY 1");
	if (s == NULL)
		return -1;
	struct suggestion_stat *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		list = xgrow(list, &cap, n + 1, sizeof(*list));
		struct suggestion_stat *r = &list[n++];
		r->ref = store_column_dup(s, 0);
		r->title = store_column_dup(s, 1);
		r->suggested = sqlite3_column_int64(s, 2);
		r->approved = sqlite3_column_int64(s, 3);
		r->edited = sqlite3_column_int64(s, 4);
		r->rejected = sqlite3_column_int64(s, 5);
		r->mean_edit_ratio =
			sqlite3_column_type(s, 6) == SQLITE_NULL ? -1.0 : sqlite3_column_double(s, 6);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		suggestion_stats_free(&list, n);
		return -1;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

void suggestion_stats_free(struct suggestion_stat **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*list)[i].ref);
		free((*list)[i].title);
	}
	free(*list);
	*list = NULL;
}
