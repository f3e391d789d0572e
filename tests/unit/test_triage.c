/* Triage on the shipped samples: the default models are seeded from
 * conf/training, classify realistic French and English mail, explain their
 * decisions, learn a correction at once, and keep the stored counts equal to
 * the model in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "store.h"
#include "triage.h"
#include "xalloc.h"

struct fixture {
	char dir[64];
	struct config *cfg;
	struct store *st;
	struct triage *tr;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_triage.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *db = xasprintf("%s/t.db", f->dir);
	setenv("TRIAGED_DATA_DIR", SOURCE_DIR "/conf", 1);
	f->cfg = config_default(db);
	free(db);
	const char *error = NULL;
	assert_int_equal(store_open(f->cfg->database, &f->st, &error), 0);
	if (triage_open(f->st, f->cfg, &f->tr, &error) < 0)
		fail_msg("triage_open: %s", error);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	triage_free(&f->tr);
	store_close(&f->st);
	config_free(&f->cfg);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f);
	return 0;
}

static const struct {
	const char *subject, *text, *lang, *category, *sentiment;
} cases[] = {
	{"Facture introuvable",
	 "Bonjour, je ne trouve pas la facture de ma commande CMD-2026-10452 dans mon espace "
	 "client. Pourriez-vous me l'envoyer ? J'en ai besoin pour ma comptabilité. Merci",
	 "fr", "billing", NULL},
	{"Where is my parcel?",
	 "Hello, I ordered a lamp ten days ago and the tracking number still shows nothing. "
	 "When will my order be delivered? Thanks",
	 "en", "delivery", NULL},
	{"Mot de passe oublié",
	 "Bonjour, je n'arrive plus à me connecter à mon compte, le lien de réinitialisation du "
	 "mot de passe ne fonctionne pas.",
	 "fr", "account", NULL},
	{"INADMISSIBLE",
	 "C'est INADMISSIBLE !!! Troisième relance et toujours pas de réponse, je suis très "
	 "déçu de votre service, je veux parler à un responsable.",
	 "fr", NULL, "negative"},
	{"Thank you!",
	 "Just wanted to say thanks a lot, the new lamp is gorgeous and your team was great.",
	 "en", NULL, "positive"},
};

static void test_default_model_triages_samples(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct triage_result r;
		const char *error = NULL;
		assert_int_equal(triage_run(f->tr, cases[i].subject, NULL, cases[i].text, &r, &error), 0);
		assert_string_equal(r.language, cases[i].lang);
		if (cases[i].category != NULL) {
			if (r.category == NULL || strcmp(r.category, cases[i].category) != 0)
				fail_msg("case %zu: expected %s, got %s (%s)", i, cases[i].category,
					 r.category ? r.category : "none",
					 r.category_explanation ? r.category_explanation : "");
			assert_true(r.category_confidence > 0 && r.category_confidence <= 1);
			/* The explanation names the label and gives weighted reasons. */
			assert_non_null(strstr(r.category_explanation, cases[i].category));
			assert_non_null(strstr(r.category_detail, "\"for\""));
		}
		if (cases[i].sentiment != NULL)
			assert_string_equal(r.sentiment_label, cases[i].sentiment);
		assert_false(r.spam);
		triage_result_clear(&r);
	}
}

static void test_spam_is_caught(void **state)
{
	struct fixture *f = *state;
	struct triage_result r;
	const char *error = NULL;
	assert_int_equal(triage_run(f->tr, "Boost your SEO ranking today",
				    "From: seo@promo.example.net\nSubject: Boost your SEO ranking today\n",
				    "Dear website owner, we guarantee first page on Google. Cheap SEO "
				    "backlinks package, limited offer, click here to unsubscribe.",
				    &r, &error), 0);
	assert_true(r.spam_probability > 0.5);
	triage_result_clear(&r);
}

static int64_t ticket_with_mail(struct store *st, const char *subject, const char *text)
{
	struct ticket t = {.subject = (char *)subject, .requester = (char *)"c@example.com",
			   .queue = (char *)"support"};
	int64_t id, mid;
	assert_int_equal(store_ticket_create(st, &t, &id), 0);
	char *key = xasprintf("k%lld", (long long)id);
	struct message m = {.ticket_id = id, .dedupe_key = key, .subject = subject,
			    .new_text = text, .from_addr = "c@example.com"};
	assert_int_equal(store_message_add(st, &m, &mid), 0);
	free(key);
	return id;
}

static void test_correction_is_learned_and_persisted(void **state)
{
	struct fixture *f = *state;
	const char *subject = "Question lampe Orsay";
	const char *text = "Est-ce que la lampe Orsay existe en laiton brossé ? Merci";
	int64_t id = ticket_with_mail(f->st, subject, text);
	const char *error = NULL;
	struct triage_result before;
	assert_int_equal(triage_run(f->tr, subject, NULL, text, &before, &error), 0);
	/* Teach it, twice over (the second replaces the first), that this is feedback. */
	assert_int_equal(store_begin(f->st), 0);
	int weight = 0;
	assert_int_equal(triage_learn(f->tr, f->st, id, "complaint", &weight, &error), 0);
	assert_int_equal(triage_learn(f->tr, f->st, id, "feedback", &weight, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	print_message("%s (%.2f) corrected to feedback: counted %d times\n", before.category,
		      before.category_confidence, weight);
	assert_true(weight >= 1 && weight <= 16);
	/* Counted until the model decides this mail as the agent did. */
	struct triage_result after;
	assert_int_equal(triage_run(f->tr, subject, NULL, text, &after, &error), 0);
	assert_string_equal(after.category, "feedback");
	assert_true(after.category_confidence >= f->cfg->nlp.min_confidence);

	/* A fresh engine loaded from the store decides exactly the same. */
	struct triage *reloaded;
	assert_int_equal(triage_open(f->st, f->cfg, &reloaded, &error), 0);
	struct triage_result again;
	assert_int_equal(triage_run(reloaded, subject, NULL, text, &again, &error), 0);
	assert_string_equal(again.category, after.category);
	assert_float_equal(again.category_confidence, after.category_confidence, 1e-9);
	triage_result_clear(&again);

	/* A process that loaded the model before the correction (the daemon,
	 * while triagectl or the console corrects) picks it up on refresh. */
	struct triage *stale;
	assert_int_equal(triage_open(f->st, f->cfg, &stale, &error), 0);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(triage_learn(f->tr, f->st, id, "sales", NULL, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	struct triage_result fresh_r, stale_r;
	assert_int_equal(triage_run(f->tr, subject, NULL, text, &fresh_r, &error), 0);
	assert_int_equal(triage_run(stale, subject, NULL, text, &stale_r, &error), 0);
	assert_true(stale_r.category_confidence != fresh_r.category_confidence ||
		    strcmp(stale_r.category, fresh_r.category) != 0);
	triage_result_clear(&stale_r);
	assert_int_equal(triage_refresh(stale, f->st, &error), 0);
	assert_int_equal(triage_run(stale, subject, NULL, text, &stale_r, &error), 0);
	assert_string_equal(stale_r.category, fresh_r.category);
	assert_float_equal(stale_r.category_confidence, fresh_r.category_confidence, 1e-9);
	triage_result_clear(&stale_r);
	triage_result_clear(&fresh_r);
	triage_free(&stale);
	/* Back to the feedback correction for what follows. */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(triage_learn(f->tr, f->st, id, "feedback", NULL, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(triage_refresh(reloaded, f->st, &error), 0);

	/* Forgetting the example gives back the seeded model. */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(triage_forget(reloaded, f->st, id, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(triage_run(reloaded, subject, NULL, text, &again, &error), 0);
	assert_string_equal(again.category, before.category);
	assert_float_equal(again.category_confidence, before.category_confidence, 1e-9);
	triage_result_clear(&again);
	triage_free(&reloaded);
	triage_result_clear(&before);
	triage_result_clear(&after);
}

/* A mail the model is sure of, corrected against its words: one count is
 * not enough, so it is counted again until the model agrees; forgetting it
 * takes back every count. */
static void test_correction_counted_until_agreed(void **state)
{
	struct fixture *f = *state;
	const char *subject = "Facture en double, remboursement du paiement";
	const char *text = "Bonjour, j'ai payé deux fois la facture FA-2024-0192 de 89,90 EUR "
			   "par carte bancaire. Merci de me rembourser le paiement en double "
			   "sur ma carte. Cordialement";
	int64_t id = ticket_with_mail(f->st, subject, text);
	const char *error = NULL;
	struct triage_result before, after, forgotten;
	assert_int_equal(triage_run(f->tr, subject, NULL, text, &before, &error), 0);
	assert_string_equal(before.category, "billing");
	int weight = 0;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(triage_learn(f->tr, f->st, id, "feedback", &weight, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	print_message("billing (%.2f) corrected to feedback: counted %d times\n",
		      before.category_confidence, weight);
	assert_true(weight > 1 && weight <= 16);
	assert_int_equal(triage_run(f->tr, subject, NULL, text, &after, &error), 0);
	if (weight < 16) {
		assert_string_equal(after.category, "feedback");
		assert_true(after.category_confidence >= f->cfg->nlp.min_confidence);
	}
	/* the stored weight is the one used, and forgetting takes it all back */
	char *label = NULL, *features = NULL;
	int stored = 0;
	assert_int_equal(store_training_get(f->st, id, "category", &label, &features, &stored), 1);
	assert_int_equal(stored, weight);
	free(label);
	free(features);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(triage_forget(f->tr, f->st, id, &error), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(triage_run(f->tr, subject, NULL, text, &forgotten, &error), 0);
	assert_string_equal(forgotten.category, "billing");
	assert_float_equal(forgotten.category_confidence, before.category_confidence, 1e-9);
	triage_result_clear(&before);
	triage_result_clear(&after);
	triage_result_clear(&forgotten);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_default_model_triages_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spam_is_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_correction_is_learned_and_persisted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_correction_counted_until_agreed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
