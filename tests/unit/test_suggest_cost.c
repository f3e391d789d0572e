/* The bounds on the cost of the suggestion searches: which article terms are
 * matched in titles only, and the similar-ticket search's first window,
 * which must give the same tickets as looking at every match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "store.h"
#include "store_suggestions.h"
#include "xalloc.h"

/* ---- the article query's terms ---- */

static void test_match_expr_title_only(void **state)
{
	(void)state;
	struct kb_term terms[] = {
		{.stem = "rare", .docs = 10},
		{.stem = "common", .docs = KB_PICK_MAX_DOCS + 1},
		{.stem = "big", .docs = KB_MATCH_MAX_POSTINGS - 10},
		{.stem = "over", .docs = 11}, /* 10 + (max - 10) + 11 > max */
		{.stem = "fits", .docs = 0},  /* not weighed: no cost known */
	};
	char *m = kb_stems_match_expr(terms, ARRAY_SIZE(terms));
	assert_non_null(m);
	assert_string_equal(m, "\"\x1f=\x1frare\" OR title : \"\x1f=\x1f"
			       "common\" OR \"\x1f=\x1f"
			       "big\" OR title : \"\x1f=\x1fover\" OR \"\x1f=\x1f"
			       "fits\"");
	free(m);
	/* every term within the budget: all columns */
	struct kb_term few[] = {{.stem = "a", .docs = 3}, {.stem = "b", .docs = 5}};
	m = kb_stems_match_expr(few, ARRAY_SIZE(few));
	assert_string_equal(m, "\"\x1f=\x1f"
			       "a\" OR \"\x1f=\x1f"
			       "b\"");
	free(m);
	struct kb_term none[] = {{.stem = ""}, {.stem = "two words"}};
	assert_null(kb_stems_match_expr(none, ARRAY_SIZE(none)));
}

/* ---- similar solved tickets ---- */

struct fixture {
	char dir[64];
	struct store *st;
	int serial;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_suggest_cost.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *path = xasprintf("%s/triaged.db", f->dir);
	const char *error = NULL;
	assert_int_equal(store_open(path, &f->st, &error), 0);
	free(path);
	store_set_fake_now(1700000000);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->st);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	store_set_fake_now(0);
	free(f);
	return 0;
}

static int64_t add_ticket(struct fixture *f, const char *text, bool solved)
{
	struct ticket t = {.subject = (char *)"question", .requester = (char *)"c@example.test",
			   .queue = (char *)"support",
			   .status = solved ? TICKET_RESOLVED : TICKET_NEW,
			   .priority = PRIORITY_NORMAL};
	int64_t id = 0, mid = 0;
	assert_int_equal(store_ticket_create(f->st, &t, &id), 0);
	char key[32];
	snprintf(key, sizeof(key), "m%d@test", f->serial++);
	struct message m = {.ticket_id = id, .message_id = key, .dedupe_key = key,
			    .from_addr = "c@example.test", .subject = "question",
			    .new_text = text, .body_text = text};
	assert_int_equal(store_message_add(f->st, &m, &mid), 0);
	if (solved) {
		snprintf(key, sizeof(key), "r%d@test", f->serial++);
		/* the reply matches best of all: outgoing mail is never a hit */
		struct message r = {.ticket_id = id, .outgoing = true, .message_id = key,
				    .dedupe_key = key, .from_addr = "support@example.test",
				    .subject = "Re", .new_text = "zorblax zorblax zorblax zorblax",
				    .body_text = "zorblax zorblax zorblax zorblax"};
		assert_int_equal(store_message_add(f->st, &r, &mid), 0);
	}
	return id;
}

static void expect_similar(struct fixture *f, const char *match, unsigned limit,
			   const int64_t *want, size_t n_want)
{
	struct similar_ticket *list = NULL;
	size_t n = 0;
	assert_int_equal(store_similar_solved(f->st, match, -1, limit, &list, &n), 0);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(list[i].ticket_id, want[i]);
		assert_true(list[i].score > 0);
		if (i > 0)
			assert_true(list[i].score <= list[i - 1].score);
	}
	similar_list_free(&list, n);
}

static void test_similar_window_and_fallback(void **state)
{
	struct fixture *f = *state;
	/* Solved tickets, a weaker match the later they come (more other
	 * words around the term). */
	int64_t solved[3];
	solved[0] = add_ticket(f, "zorblax", true);
	solved[1] = add_ticket(f, "zorblax and some other words here", true);
	solved[2] = add_ticket(f, "zorblax and many more other words in this one text", true);
	/* Few open tickets: the first window holds the solved ones. */
	add_ticket(f, "zorblax zorblax", false);
	expect_similar(f, "\"zorbl\"*", 3, solved, 3);
	expect_similar(f, "\"zorbl\"*", 1, solved, 1);
	/* Many open tickets matching better than every solved one: the window
	 * (20 messages per ticket wanted) holds none of the solved ones, so
	 * every match is looked at, with the same answer. */
	for (int i = 0; i < 80; i++)
		add_ticket(f, "zorblax zorblax zorblax", false);
	expect_similar(f, "\"zorbl\"*", 3, solved, 3);
	expect_similar(f, "\"zorbl\"*", 2, solved, 2);
	/* Fewer solved tickets than wanted. */
	expect_similar(f, "\"zorbl\"*", 5, solved, 3);
	/* No match at all. */
	expect_similar(f, "\"nothing\"", 3, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_expr_title_only),
		cmocka_unit_test_setup_teardown(test_similar_window_and_fallback, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
