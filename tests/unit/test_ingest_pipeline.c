/* The pipelined ingestion stores exactly what the serial one stores: the
 * sample mails (plus a duplicate and an unreadable mail), prepared in two
 * other threads with their own contexts, give the same tickets, messages,
 * triage, audit events, suggestions and SLA clocks as the writer preparing
 * them itself; mail prepared with an older configuration's resources is
 * prepared again; a slice that does not follow the stored checkpoint is
 * refused and stores nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "ingest.h"
#include "kb.h"
#include "kb_import.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

#define UIDVALIDITY 4242
#define FAKE_NOW 1700000000

struct run {
	char dir[64];
	struct config *cfg;
	struct store *st;
	struct ingest *ing;
};

static void run_open(struct run *r)
{
	strcpy(r->dir, "/tmp/test_ingest_pipeline.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	char *db = xasprintf("%s/t.db", r->dir);
	setenv("TRIAGED_DATA_DIR", SOURCE_DIR "/conf", 1);
	r->cfg = config_default(db);
	free(db);
	const char *error = NULL;
	assert_int_equal(store_open(r->cfg->database, &r->st, &error), 0);
	assert_int_equal(kb_register(store_db(r->st), &error), 0);
	struct kb_import_summary sum;
	if (kb_import_dir(store_db(r->st), SOURCE_DIR "/conf/kb", FAKE_NOW, NULL, NULL, NULL, &sum,
			  &error) < 0)
		fail_msg("kb import: %s", error);
	assert_true(sum.added > 0);
	if (ingest_open(r->st, r->cfg, &r->ing, &error) < 0)
		fail_msg("ingest_open: %s", error);
}

static void run_close(struct run *r)
{
	ingest_free(&r->ing);
	store_close(&r->st);
	config_free(&r->cfg);
	char *cmd = xasprintf("rm -rf '%s'", r->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* The samples in name order, then the first one again (a duplicate) and a
 * mail with neither header nor body (quarantined). UIDs 1, 2, ... */
static struct ingest_item *load_items(size_t *n_r)
{
	glob_t g;
	assert_int_equal(glob(SOURCE_DIR "/conf/samples/*.eml", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 20);
	size_t n = g.gl_pathc + 2;
	struct ingest_item *items = xcalloc(n, sizeof(*items));
	for (size_t i = 0; i < g.gl_pathc + 1; i++) {
		const char *path = g.gl_pathv[i < g.gl_pathc ? i : 0];
		const char *error;
		if (file_read_all(path, 1u << 24, &items[i].data, &items[i].len, &error) < 0)
			fail_msg("%s: %s", path, error);
	}
	items[n - 1].data = xstrdup("\n\n\n");
	items[n - 1].len = 3;
	for (size_t i = 0; i < n; i++)
		items[i].uid = (uint32_t)(i + 1);
	globfree(&g);
	*n_r = n;
	return items;
}

static void items_free(struct ingest_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].data);
		ingest_prepared_free(&items[i].prepared);
	}
	free(items);
}

struct prep_job {
	struct ingest_prep *prep;
	struct ingest_item *items;
	size_t n;
};

static void *prep_thread(void *arg)
{
	struct prep_job *job = arg;
	for (size_t i = 0; i < job->n; i++)
		job->items[i].prepared = ingest_prepare(job->prep, job->items[i].data, job->items[i].len);
	return NULL;
}

/* Prepares items in two threads at once, each with its own context made
 * from ing (freed afterwards: the prepared mail outlives its context). */
static void prepare_in_threads(struct ingest *ing, struct ingest_item *items, size_t n)
{
	struct prep_job jobs[2] = {{.items = items, .n = n / 2},
				   {.items = items + n / 2, .n = n - n / 2}};
	pthread_t threads[2];
	const char *error;
	for (int t = 0; t < 2; t++) {
		assert_int_equal(ingest_prep_new(ing, &jobs[t].prep, &error), 0);
		assert_int_equal(pthread_create(&threads[t], NULL, prep_thread, &jobs[t]), 0);
	}
	for (int t = 0; t < 2; t++) {
		assert_int_equal(pthread_join(threads[t], NULL), 0);
		ingest_prep_free(&jobs[t].prep);
	}
	for (size_t i = 0; i < n; i++)
		assert_non_null(items[i].prepared);
}

/* Stores items in two slices, the second continuing the first's checkpoint. */
static void store_slices(struct run *r, struct ingest_item *items, size_t n)
{
	size_t half = n / 2;
	struct ingest_slice first = {.mailbox = "support", .from_validity = 0, .from_uid = 0,
				     .uidvalidity = UIDVALIDITY, .last_uid = items[half - 1].uid,
				     .items = items, .n = half};
	struct ingest_slice second = {.mailbox = "support", .from_validity = UIDVALIDITY,
				      .from_uid = items[half - 1].uid, .uidvalidity = UIDVALIDITY,
				      .last_uid = items[n - 1].uid, .items = items + half,
				      .n = n - half};
	const char *error = NULL;
	size_t created = 0;
	if (ingest_batch(r->ing, &first, &created, &error) < 0)
		fail_msg("first slice: %s", error);
	assert_true(created > 0);
	if (ingest_batch(r->ing, &second, &created, &error) < 0)
		fail_msg("second slice: %s", error);
}

static uint64_t fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* Every row of what ingestion writes, one line each, blobs as their size
 * and hash. */
static char *dump(struct store *st)
{
	static const char *const tables[] = {
		"tickets", "messages", "attachments", "triage", "events",
		"suggestions", "sla_clocks", "mailboxes", "messages_fts_docsize",
	};
	struct strbuf sb = STRBUF_INIT;
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		char *sql = xasprintf("SELECT * FROM %s ORDER BY rowid", tables[t]);
		sqlite3_stmt *s;
		assert_int_equal(sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL), SQLITE_OK);
		free(sql);
		size_t rows = 0;
		while (sqlite3_step(s) == SQLITE_ROW) {
			strbuf_printf(&sb, "%s", tables[t]);
			for (int c = 0; c < sqlite3_column_count(s); c++) {
				if (sqlite3_column_type(s, c) == SQLITE_BLOB) {
					const void *b = sqlite3_column_blob(s, c);
					size_t len = (size_t)sqlite3_column_bytes(s, c);
					strbuf_printf(&sb, "|blob:%zu:%llx", len,
						      (unsigned long long)fnv1a(b, len));
				} else {
					const unsigned char *v = sqlite3_column_text(s, c);
					strbuf_printf(&sb, "|%s", v ? (const char *)v : "NULL");
				}
			}
			strbuf_puts(&sb, "\n");
			rows++;
		}
		sqlite3_finalize(s);
		strbuf_printf(&sb, "%s: %zu rows\n", tables[t], rows);
	}
	return strbuf_steal(&sb);
}

static int count(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Where two dumps first differ, for the failure message. */
static void assert_same(const char *serial, const char *other, const char *what)
{
	if (strcmp(serial, other) == 0)
		return;
	size_t i = 0;
	while (serial[i] == other[i])
		i++;
	size_t from = i > 200 ? i - 200 : 0;
	fail_msg("%s differs at byte %zu:\nserial: %.400s\nother:  %.400s", what, i, serial + from,
		 other + from);
}

static char *serial_dump(void)
{
	struct run r;
	run_open(&r);
	size_t n;
	struct ingest_item *items = load_items(&n);
	store_slices(&r, items, n);
	char *d = dump(r.st);
	/* The run stored something worth comparing. */
	assert_int_equal(count(r.st, "SELECT count(*) FROM messages"), (int)n - 1);
	assert_true(count(r.st, "SELECT count(*) FROM triage WHERE task = 'category'") > 10);
	assert_true(count(r.st, "SELECT count(*) FROM suggestions") > 0);
	assert_int_equal(count(r.st, "SELECT count(*) FROM messages WHERE parse_error IS NOT NULL"),
			 1);
	items_free(items, n);
	run_close(&r);
	return d;
}

static void test_prepared_elsewhere_stores_the_same(void **state)
{
	(void)state;
	store_set_fake_now(FAKE_NOW);
	char *serial = serial_dump();

	struct run r;
	run_open(&r);
	size_t n;
	struct ingest_item *items = load_items(&n);
	prepare_in_threads(r.ing, items, n);
	store_slices(&r, items, n);
	char *pipelined = dump(r.st);
	assert_same(serial, pipelined, "prepared in other threads");
	items_free(items, n);
	run_close(&r);
	free(pipelined);
	free(serial);
	store_set_fake_now(0);
}

static void test_stale_preparation_is_redone(void **state)
{
	(void)state;
	store_set_fake_now(FAKE_NOW);
	char *serial = serial_dump();

	struct run r;
	run_open(&r);
	/* An ingester on an older configuration whose sentiment lexicons were
	 * empty: what it prepared must not be trusted by the writer. */
	char *lexicons = xasprintf("%s/lexicons", r.dir);
	assert_int_equal(mkdir(lexicons, 0755), 0);
	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s.tsv", lexicons, i ? "en" : "fr");
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		fputs("# nothing\n", fp);
		fclose(fp);
		free(path);
	}
	struct config *old_cfg = config_default(r.cfg->database);
	free(old_cfg->nlp.lexicon_dir);
	old_cfg->nlp.lexicon_dir = lexicons;
	struct ingest *older;
	const char *error;
	assert_int_equal(ingest_open(r.st, old_cfg, &older, &error), 0);
	size_t n;
	struct ingest_item *items = load_items(&n);
	prepare_in_threads(older, items, n);
	ingest_free(&older);
	config_free(&old_cfg);
	store_slices(&r, items, n);
	char *redone = dump(r.st);
	assert_same(serial, redone, "prepared with an older configuration's resources");
	items_free(items, n);
	run_close(&r);
	free(redone);
	free(serial);
	store_set_fake_now(0);
}

static void test_slice_must_follow_checkpoint(void **state)
{
	(void)state;
	struct run r;
	run_open(&r);
	size_t n;
	struct ingest_item *items = load_items(&n);
	const char *error = NULL;
	/* A first slice that claims to follow UID 3: nothing is stored yet. */
	struct ingest_slice wrong = {.mailbox = "support", .from_validity = UIDVALIDITY,
				     .from_uid = 3, .uidvalidity = UIDVALIDITY,
				     .last_uid = items[4].uid, .items = items + 3, .n = 2};
	prepare_in_threads(r.ing, items, n);
	assert_int_equal(ingest_batch(r.ing, &wrong, NULL, &error), -1);
	assert_non_null(strstr(error, "checkpoint"));
	assert_int_equal(count(r.st, "SELECT count(*) FROM messages"), 0);
	assert_int_equal(count(r.st, "SELECT count(*) FROM mailboxes"), 0);

	/* UIDs 1-3 stored; then a slice that skips UIDs 4-5 (as if their slice
	 * had failed) is refused, and the checkpoint stays at 3. */
	struct ingest_slice first = {.mailbox = "support", .uidvalidity = UIDVALIDITY,
				     .last_uid = 3, .items = items, .n = 3};
	assert_int_equal(ingest_batch(r.ing, &first, NULL, &error), 0);
	struct ingest_slice skipping = {.mailbox = "support", .from_validity = UIDVALIDITY,
					.from_uid = 5, .uidvalidity = UIDVALIDITY,
					.last_uid = items[6].uid, .items = items + 5, .n = 2};
	assert_int_equal(ingest_batch(r.ing, &skipping, NULL, &error), -1);
	assert_int_equal(count(r.st, "SELECT count(*) FROM messages"), 3);
	assert_int_equal(count(r.st, "SELECT last_uid FROM mailboxes WHERE name = 'support'"), 3);
	/* Another UIDVALIDITY with the same UID does not follow either. */
	struct ingest_slice other_validity = {.mailbox = "support", .from_validity = UIDVALIDITY + 1,
					      .from_uid = 3, .uidvalidity = UIDVALIDITY + 1,
					      .last_uid = items[4].uid, .items = items + 3, .n = 2};
	assert_int_equal(ingest_batch(r.ing, &other_validity, NULL, &error), -1);
	assert_int_equal(count(r.st, "SELECT count(*) FROM messages"), 3);
	/* The right continuation is stored. */
	struct ingest_slice next = {.mailbox = "support", .from_validity = UIDVALIDITY,
				    .from_uid = 3, .uidvalidity = UIDVALIDITY,
				    .last_uid = items[4].uid, .items = items + 3, .n = 2};
	assert_int_equal(ingest_batch(r.ing, &next, NULL, &error), 0);
	assert_int_equal(count(r.st, "SELECT count(*) FROM messages"), 5);
	assert_int_equal(count(r.st, "SELECT last_uid FROM mailboxes WHERE name = 'support'"), 5);
	items_free(items, n);
	run_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepared_elsewhere_stores_the_same),
		cmocka_unit_test(test_stale_preparation_is_redone),
		cmocka_unit_test(test_slice_must_follow_checkpoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
