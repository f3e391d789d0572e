/* Shared by the store*.c files only: the connection and the statement cache.
 * Nothing outside the store may include it. */
#ifndef TRIAGED_STORE_PRIVATE_H
#define TRIAGED_STORE_PRIVATE_H

#include <sqlite3.h>

#include "store.h"

struct store_stmt_entry {
	const char *sql; /* a string literal: its address is the key */
	sqlite3_stmt *stmt;
};

struct store {
	sqlite3 *db;
	char *path;
	struct store_stmt_entry *stmts;
	size_t n_stmts, cap_stmts;
	int tx_depth;
	/* Messages stored in the open transaction and not yet in messages_fts
	 * (first..last, 0 when none): indexed by store_commit. */
	int64_t fts_first, fts_last;
};

/* Indexes messages first..last (ids) in messages_fts. */
int store_fts_index_range(struct store *st, int64_t first, int64_t last);

/* The prepared statement for sql (a literal), prepared once per connection,
 * returned reset and with its bindings cleared. NULL on error. */
sqlite3_stmt *store_stmt(struct store *st, const char *sql);

/* Binds a C string or NULL. */
int store_bind_text(sqlite3_stmt *s, int idx, const char *text);
/* Copies a column as an owned string (NULL stays NULL). */
char *store_column_dup(sqlite3_stmt *s, int col);
/* Steps s to its end, reading each row into a new zeroed element of an
 * array of elem_size bytes with read_row. On a step error the rows read so
 * far are released with clear_row (each) and the array, and -1 returned.
 * s is reset either way. *rows_r is NULL when there is no row. */
typedef void store_read_row_fn(sqlite3_stmt *s, void *row);
typedef void store_clear_row_fn(void *row);
int store_collect(sqlite3_stmt *s, size_t elem_size, store_read_row_fn *read_row,
		  store_clear_row_fn *clear_row, void **rows_r, size_t *n_r);

/* The same for a one-column query of ids. */
int store_collect_ids(sqlite3_stmt *s, int64_t **ids_r, size_t *n_r);

/* Steps a statement that returns no rows; 0 or -1. */
int store_exec_stmt(struct store *st, sqlite3_stmt *s);

#endif
