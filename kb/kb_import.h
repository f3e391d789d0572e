/* Import of knowledge-base articles from a folder of Markdown files, each
 * opening with a small front-matter header (a YAML subset):
 *   ---
 *   id: refund-delay            (default: the file name without .md)
 *   title: Quand serai-je remboursé ?
 *   lang: fr                    (fr or en; guessed from the text when absent)
 *   tags: [billing, refund]     (or a block list of "- tag" lines)
 *   template: |                 (optional reply template, a literal block)
 *     Bonjour {{customer.name}},
 *   ---
 *   Markdown body...
 * Ownership: kb_import_parse fills a kb_article the caller clears; messages
 * handed to callbacks are valid only during the call. */
#ifndef TRIAGED_KB_IMPORT_H
#define TRIAGED_KB_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "kb.h"

/* Deeper folders than this are not walked (a symlink loop cannot hang us:
 * links are not followed either). */
#define KB_IMPORT_MAX_DEPTH 16
#define KB_IMPORT_MAX_FILES 1000000

/* Parses one file's text. path names the file in messages and gives the
 * default id. On error, *error_r is "PATH:LINE: KEY: what is wrong" (KEY
 * left out when the problem is not a key's), valid until the next call. */
int kb_import_parse(const char *path, const char *text, size_t len, struct kb_article *a_r,
		    const char **error_r);

struct kb_import_summary {
	unsigned added, updated, unchanged, removed, failed;
	size_t files;
};

/* done of total files handled; called every few files. */
typedef void kb_import_progress_fn(size_t done, size_t total, void *ctx);
/* One bad file ("PATH:LINE: ..."): the others are still imported. */
typedef void kb_import_error_fn(const char *message, void *ctx);

/* Imports every *.md under dir (subfolders included, hidden entries and
 * symbolic links skipped, in path order): new articles are added, changed
 * ones (content hash) updated, and articles that came from this dir but whose
 * file is gone are removed (an article whose file is there but failed to
 * parse is kept as it was). Runs in a savepoint, so it nests in the caller's
 * transaction; refreshes the term statistics at the end. Returns -1 only
 * when nothing could be done (dir unreadable, database error). */
int kb_import_dir(struct sqlite3 *db, const char *dir, int64_t now,
		  kb_import_progress_fn *progress, kb_import_error_fn *on_error, void *ctx,
		  struct kb_import_summary *summary_r, const char **error_r);

#endif
