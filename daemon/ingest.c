/* Ingestion of one raw mail: parse, deduplicate, thread, store, triage,
 * audit. Everything happens inside the caller's transaction. */
#include "ingest.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "kb.h"
#include "log.h"
#include "loop.h"
#include "mime.h"
#include "rules.h"
#include "sla.h"
#include "suggest.h"
#include "parse.h"
#include "store.h"
#include "strbuf.h"
#include "triage.h"
#include "xalloc.h"

struct ingest_prep {
	struct triage_prep *triage;
	struct mime_limits limits;
};

/* Everything about a mail that can be known without the store. */
struct ingest_prepared {
	struct mime_message *msg; /* NULL: unparsable, parse_error says why */
	char *parse_error;
	char *key;                /* the deduplication key (parsed mail only) */
	struct triage_features *features; /* NULL: triage_error says why */
	char *triage_error;
};

struct ingest {
	struct store *st;
	const struct config *cfg;
	struct triage *triage;
	struct suggest *suggest;
	struct ingest_prep *prep; /* the writer's own, for unprepared mail */
};

int ingest_open(struct store *st, const struct config *cfg, struct ingest **ing_r,
		const char **error_r)
{
	struct ingest *ing = xcalloc(1, sizeof(*ing));
	ing->st = st;
	ing->cfg = cfg;
	if (kb_register(store_db(st), error_r) < 0 || triage_open(st, cfg, &ing->triage, error_r) < 0 ||
	    suggest_new(cfg, &ing->suggest, error_r) < 0 || ingest_prep_new(ing, &ing->prep, error_r) < 0) {
		ingest_free(&ing);
		return -1;
	}
	*ing_r = ing;
	return 0;
}

void ingest_free(struct ingest **ingp)
{
	struct ingest *ing = *ingp;
	if (ing == NULL)
		return;
	ingest_prep_free(&ing->prep);
	triage_free(&ing->triage);
	suggest_free(&ing->suggest);
	free(ing);
	*ingp = NULL;
}

int ingest_prep_new(struct ingest *ing, struct ingest_prep **prep_r, const char **error_r)
{
	struct ingest_prep *prep = xcalloc(1, sizeof(*prep));
	mime_limits_default(&prep->limits);
	if (triage_prep_new(ing->triage, &prep->triage, error_r) < 0) {
		ingest_prep_free(&prep);
		return -1;
	}
	*prep_r = prep;
	return 0;
}

int ingest_prep_copy(const struct ingest_prep *prep, struct ingest_prep **copy_r,
		     const char **error_r)
{
	struct ingest_prep *copy = xcalloc(1, sizeof(*copy));
	copy->limits = prep->limits;
	if (triage_prep_copy(prep->triage, &copy->triage, error_r) < 0) {
		free(copy);
		return -1;
	}
	*copy_r = copy;
	return 0;
}

void ingest_prep_free(struct ingest_prep **prepp)
{
	struct ingest_prep *prep = *prepp;
	if (prep == NULL)
		return;
	triage_prep_free(&prep->triage);
	free(prep);
	*prepp = NULL;
}

void ingest_prepared_free(struct ingest_prepared **pp)
{
	struct ingest_prepared *p = *pp;
	if (p == NULL)
		return;
	mime_message_free(&p->msg);
	free(p->parse_error);
	free(p->key);
	triage_features_free(&p->features);
	free(p->triage_error);
	free(p);
	*pp = NULL;
}

struct triage *ingest_triage(struct ingest *ing)
{
	return ing->triage;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char digest[32];
	gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, digest);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* The body: what follows the first empty line (the headers change in transit). */
static const char *raw_body(const char *raw, size_t len, size_t *body_len_r)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (raw[i] == '\n' && raw[i + 1] == '\n') {
			*body_len_r = len - i - 2;
			return raw + i + 2;
		}
		if (raw[i] == '\n' && i + 2 < len && raw[i + 1] == '\r' && raw[i + 2] == '\n') {
			*body_len_r = len - i - 3;
			return raw + i + 3;
		}
	}
	*body_len_r = 0;
	return raw + len;
}

/* A mail is the same mail when it has the same Message-ID and the same body
 * (a copy that reached us twice, or a resync after a UIDVALIDITY change);
 * two different mails that share a Message-ID (broken mailers do that) are
 * both kept. Without a Message-ID, the hash of the whole mail decides. */
static char *dedupe_key(const struct mime_message *msg, const char *raw, size_t len)
{
	char hex[65];
	if (msg != NULL && msg->message_id != NULL && msg->message_id[0] != '\0') {
		size_t body_len;
		const char *body = raw_body(raw, len, &body_len);
		sha256_hex(body, body_len, hex);
		hex[16] = '\0';
		return xasprintf("mid:%s:%s", msg->message_id, hex);
	}
	sha256_hex(raw, len, hex);
	return xasprintf("sha256:%s", hex);
}

/* "[#123]" anywhere in the subject; 0 when none. */
static int64_t subject_tag(const char *subject)
{
	for (const char *p = subject ? strstr(subject, "[#") : NULL; p != NULL;
	     p = strstr(p + 2, "[#")) {
		const char *q = p + 2;
		size_t digits = 0;
		while (isdigit((unsigned char)q[digits]) && digits < 18)
			digits++;
		if (digits > 0 && q[digits] == ']') {
			char buf[20];
			memcpy(buf, q, digits);
			buf[digits] = '\0';
			int64_t id;
			if (parse_int64(buf, 1, INT64_MAX, &id) == 0)
				return id;
		}
	}
	return 0;
}

static char *json_detail(cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	char *copy = xstrdup(text);
	cJSON_free(text);
	return copy;
}

static int event(struct ingest *ing, int64_t ticket, const char *actor, const char *kind,
		 cJSON *detail)
{
	_cleanup_free_ char *text = detail ? json_detail(detail) : NULL;
	return store_event_add(ing->st, ticket, actor, kind, text);
}

/* find_thread() without following merges. */
static int find_thread_direct(struct ingest *ing, const struct mime_message *msg,
			      int64_t *ticket_r, const char **how_r, int64_t *refused_tag_r)
{
	*refused_tag_r = 0;
	size_t n = msg->n_references + 1;
	_cleanup_free_ const char **ids = xcalloc(n, sizeof(*ids));
	for (size_t i = 0; i < msg->n_references; i++)
		ids[i] = msg->references[i];
	ids[msg->n_references] = msg->in_reply_to;
	int found = store_ticket_by_message_ids(ing->st, ids, n, ticket_r);
	if (found != 0) {
		*how_r = "references";
		return found;
	}
	if (msg->original_message_id != NULL) {
		const char *orig[1] = {msg->original_message_id};
		found = store_ticket_by_message_ids(ing->st, orig, 1, ticket_r);
		if (found != 0) {
			*how_r = "bounce of our message";
			return found;
		}
	}
	int64_t tag = subject_tag(msg->subject);
	if (tag > 0) {
		struct ticket t;
		int exists = store_ticket_get(ing->st, tag, &t);
		if (exists < 0)
			return -1;
		if (exists == 1) {
			/* A merged ticket's participants wrote in the ticket its
			 * mail moved to. */
			int64_t where = t.merged_into > 0 ? t.merged_into : tag;
			ticket_clear(&t);
			int member = msg->from_addr != NULL
					     ? store_ticket_has_participant(ing->st, where, msg->from_addr)
					     : 0;
			if (member < 0)
				return -1;
			if (member == 1) {
				*ticket_r = tag;
				*how_r = "subject tag";
				return 1;
			}
		}
		*refused_tag_r = tag;
	}
	return 0;
}

/* Finds the ticket a mail belongs to: its References / In-Reply-To first,
 * then a [#N] subject tag from a participant of N, then (for a bounce) the
 * ticket of the mail that bounced; a merged ticket leads to the one it was
 * merged into. 1 found, 0 a new ticket, -1 error. A refused tag is reported
 * through *refused_tag_r for the audit log. */
static int find_thread(struct ingest *ing, const struct mime_message *msg, int64_t *ticket_r,
		       const char **how_r, int64_t *refused_tag_r)
{
	int found = find_thread_direct(ing, msg, ticket_r, how_r, refused_tag_r);
	/* One hop: store_ticket_merge keeps every merged ticket pointing at
	 * one that is not merged. */
	if (found == 1 && store_ticket_follow_merge(ing->st, *ticket_r, ticket_r) < 0)
		return -1;
	return found;
}

/* A later message of a ticket: its sentiment decision, and the ticket's
 * mood becomes the customer's latest (an auto-reply or a bounce is not the
 * customer). */
static int record_follow_up_mood(struct ingest *ing, int64_t ticket, int64_t message_id,
				 const struct triage_result *tr, unsigned loop_flags)
{
	if (store_triage_add(ing->st, ticket, message_id, "sentiment", tr->sentiment_label,
			     fabs(tr->sentiment), tr->sentiment, tr->sentiment_explanation,
			     tr->sentiment_detail) < 0)
		return -1;
	if (loop_flags & (LOOP_BOUNCE | LOOP_AUTO_REPLY))
		return 0;
	return store_ticket_set_sentiment(ing->st, ticket, tr->sentiment, tr->sentiment_label);
}

static const char *choose_queue(struct ingest *ing, const char *mailbox)
{
	const struct cfg_mailbox *mb = config_mailbox(ing->cfg, mailbox);
	if (mb != NULL && mb->queue != NULL)
		return mb->queue;
	if (ing->cfg->default_queue != NULL)
		return ing->cfg->default_queue;
	return "support";
}

/* Stores a mail that could not be parsed at all: a ticket with its raw bytes. */
static int quarantine(struct ingest *ing, const struct ingest_source *src, const char *raw,
		      size_t len, const char *reason, struct ingest_result *res)
{
	char hex[65];
	sha256_hex(raw, len, hex);
	_cleanup_free_ char *key = xasprintf("sha256:%s", hex);
	int64_t existing;
	int found = store_message_lookup(ing->st, key, &existing);
	if (found < 0)
		return -1;
	if (found == 1) {
		res->duplicate = true;
		res->ticket_id = existing;
		return 0;
	}
	struct ticket t = {.subject = (char *)"(unreadable mail)", .requester = (char *)"",
			   .mailbox = (char *)src->mailbox,
			   .queue = (char *)(ing->cfg->nlp.triage_queue ? ing->cfg->nlp.triage_queue
									: choose_queue(ing, src->mailbox)),
			   .status = TICKET_NEW, .priority = PRIORITY_NORMAL};
	if (store_ticket_create(ing->st, &t, &res->ticket_id) < 0)
		return -1;
	struct message m = {.ticket_id = res->ticket_id,
			    .mailbox = src->has_uid ? src->mailbox : NULL,
			    .uidvalidity = src->uidvalidity, .uid = src->uid, .dedupe_key = key,
			    .raw = raw, .raw_len = len, .parse_error = reason};
	int added = store_message_add(ing->st, &m, &res->message_id);
	if (added != 0)
		return added < 0 ? -1 : 0;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "reason", reason);
	cJSON_AddNumberToObject(d, "bytes", (double)len);
	res->new_ticket = true;
	res->parse_failed = true;
	return event(ing, res->ticket_id, src->mailbox ? "mailbox" : "system", "mail.quarantined", d);
}

static char *join_list(char *const *items, size_t n, const char *sep)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		strbuf_printf(&sb, "%s%s", i ? sep : "", items[i]);
	return strbuf_steal(&sb);
}

/* What follows triage, in order: the SLA clocks start (or resume), the
 * workflow rules decide (queue, priority, tags, status, acknowledgements:
 * the statistics only inform them), and suggestions are computed. All in
 * the caller's transaction. */
static int after_triage(struct ingest *ing, const struct ingest_result *res,
			const struct mime_message *msg, const char *from, unsigned loop_flags,
			const struct triage_result *tr, const struct feat_bag *features,
			const char **error_r)
{
	int64_t ticket = res->ticket_id;
	if (res->new_ticket) {
		if (sla_on_ticket_created(ing->st, ing->cfg, ticket, error_r) < 0)
			return -1;
	} else if ((loop_flags & (LOOP_BOUNCE | LOOP_AUTO_REPLY)) == 0) {
		if (sla_on_customer_message(ing->st, ing->cfg, ticket, error_r) < 0)
			return -1;
	}
	struct ticket t;
	if (store_ticket_get(ing->st, ticket, &t) <= 0) {
		*error_r = store_error(ing->st);
		return -1;
	}
	struct rule_input in = {
		.trigger = res->new_ticket ? RULE_ON_NEW_TICKET : RULE_ON_CUSTOMER_MESSAGE,
		.ticket_id = ticket, .message_id = res->message_id, .mailbox = t.mailbox,
		.queue = t.queue, .priority = t.priority, .status = t.status, .triage = tr,
		.loop_flags = loop_flags, .sender = from, .subject = msg->subject,
		.text = msg->new_text, .now = store_now(),
	};
	struct rule_decisions decisions;
	int ret = rules_evaluate(ing->cfg->rules, &in, &decisions, error_r);
	if (ret == 0)
		ret = rules_apply(ing->st, ing->cfg, ticket, &decisions, NULL, error_r);
	rules_decisions_clear(&decisions);
	ticket_clear(&t);
	if (ret < 0)
		return -1;
	if (store_ticket_get(ing->st, ticket, &t) <= 0) {
		*error_r = store_error(ing->st);
		return -1;
	}
	/* Nobody answers spam or a closed ticket: no suggestion. (Acknowledgements
	 * are the workflow's: the "ack" rule's reply_template.) */
	bool closed = t.status == TICKET_CLOSED || t.spam;
	ticket_clear(&t);
	/* A new ticket's text is what triage just read: its features serve. */
	if (!res->new_ticket)
		features = NULL;
	if (!closed &&
	    suggest_for_ticket_terms(ing->suggest, ing->st, ticket, features, error_r) < 0)
		return -1;
	return 0;
}

/* The top header fields, decoded to UTF-8, one per line: what the spam
 * model reads of the envelope (relays, senders, mailers). */
static char *decoded_headers(const struct mime_message *msg)
{
	struct strbuf sb;
	strbuf_init(&sb, 64 * 1024);
	for (size_t i = 0; i < msg->n_headers; i++)
		strbuf_printf(&sb, "%s: %s\n", msg->headers[i].name, msg->headers[i].value);
	return strbuf_steal(&sb);
}

struct ingest_prepared *ingest_prepare(struct ingest_prep *prep, const char *raw, size_t len)
{
	struct ingest_prepared *p = xcalloc(1, sizeof(*p));
	const char *error = NULL;
	if (mime_parse(raw, len, &prep->limits, &p->msg, &error) < 0) {
		p->msg = NULL;
		p->parse_error = xstrdup(error ? error : "unparsable");
		return p;
	}
	p->key = dedupe_key(p->msg, raw, len);
	/* Triage reads the new text only: quoted history is someone else's. */
	_cleanup_free_ char *headers = decoded_headers(p->msg);
	if (triage_prepare(prep->triage, p->msg->subject, headers, p->msg->new_text, &p->features,
			   &error) < 0)
		p->triage_error = xstrdup(error ? error : "feature extraction failed");
	return p;
}

int ingest_mail(struct ingest *ing, const struct ingest_source *src, const char *raw, size_t len,
		struct ingest_result *res_r, const char **error_r)
{
	return ingest_mail_prepared(ing, src, raw, len, NULL, res_r, error_r);
}

int ingest_mail_prepared(struct ingest *ing, const struct ingest_source *src, const char *raw,
			 size_t len, const struct ingest_prepared *prepared,
			 struct ingest_result *res_r, const char **error_r)
{
	struct ingest_result res = {0};
	/* Prepared elsewhere with the stop words and lexicons of another
	 * configuration (a reload happened in between), or not at all: done
	 * here, so that the result never depends on where it was done. What
	 * was prepared elsewhere is freed there too (by the thread that
	 * allocated it: no cross-thread frees on the writer's path). */
	__attribute__((cleanup(ingest_prepared_free))) struct ingest_prepared *local = NULL;
	const struct ingest_prepared *p = prepared;
	if (p == NULL ||
	    (p->msg != NULL && !triage_features_current(ing->triage, p->features))) {
		local = ingest_prepare(ing->prep, raw, len);
		p = local;
	}
	const struct mime_message *msg = p->msg;
	/* Declared before any goto: the cleanups run on every path. */
	_cleanup_free_ char *loop_reason = NULL, *refs = NULL, *to = NULL, *cc = NULL;
	const char *key = p->key;
	_cleanup_free_ char *actor = src->mailbox ? xasprintf("mailbox:%s", src->mailbox)
						  : xstrdup("system");
	if (msg == NULL) {
		if (quarantine(ing, src, raw, len, p->parse_error, &res) < 0)
			goto db_error;
		*res_r = res;
		return 0;
	}
	int ret = -1;
	int64_t existing;
	int found = store_message_lookup(ing->st, key, &existing);
	if (found < 0)
		goto db_error_msg;
	if (found == 1) {
		res.duplicate = true;
		res.ticket_id = existing;
		*res_r = res;
		return 0;
	}
	unsigned loop_flags = 0;
	const char *loop_error;
	if (loop_check(msg, &loop_flags, &loop_reason, &loop_error) < 0)
		log_warning("loop protection: %s", loop_error);

	int64_t ticket = 0;
	const char *how = NULL;
	int64_t refused_tag = 0;
	int threaded = find_thread(ing, msg, &ticket, &how, &refused_tag);
	if (threaded < 0)
		goto db_error_msg;
	const char *from = msg->from_addr ? msg->from_addr : "";
	if (threaded == 0) {
		struct ticket t = {.subject = msg->subject ? msg->subject : (char *)"",
				   .requester = (char *)from, .requester_name = msg->from_name,
				   .mailbox = (char *)src->mailbox,
				   .queue = (char *)choose_queue(ing, src->mailbox),
				   .status = TICKET_NEW, .priority = PRIORITY_NORMAL,
				   .loop_flags = loop_flags,
				   .created = store_now()};
		if (store_ticket_create(ing->st, &t, &ticket) < 0)
			goto db_error_msg;
		res.new_ticket = true;
	}
	refs = join_list(msg->references, msg->n_references, " ");
	to = join_list(msg->to_addrs, msg->n_to, ", ");
	cc = join_list(msg->cc_addrs, msg->n_cc, ", ");
	struct message m = {
		.ticket_id = ticket, .mailbox = src->has_uid ? src->mailbox : NULL,
		.uidvalidity = src->uidvalidity,
		.uid = src->uid, .message_id = msg->message_id, .dedupe_key = key,
		.in_reply_to = msg->in_reply_to, .references = refs, .from_addr = from,
		.from_name = msg->from_name, .to_addrs = to, .cc_addrs = cc, .subject = msg->subject,
		.date = msg->date, .received = store_now(), .body_text = msg->text,
		.new_text = msg->new_text, .quoted_text = msg->quoted_text,
		.signature = msg->signature, .html = msg->html, .raw = raw, .raw_len = len,
		.loop_flags = loop_flags,
		.parse_error = src->truncated ? "mail cut at the fetch size limit" : NULL,
	};
	int added = store_message_add(ing->st, &m, &res.message_id);
	if (added < 0)
		goto db_error_msg;
	if (added == 1) {
		/* The UID was stored already under another key: a duplicate. */
		res.duplicate = true;
		res.ticket_id = ticket;
		ret = 0;
		goto out;
	}
	res.ticket_id = ticket;
	for (size_t i = 0; i < msg->n_attachments; i++) {
		const struct mime_attachment *a = &msg->attachments[i];
		if (store_attachment_add(ing->st, res.message_id, a->filename, a->content_type,
					 a->size, a->data, a->data ? a->size : 0) < 0)
			goto db_error_msg;
	}

	/* Audit: how the mail was placed, and why. */
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "message_id", msg->message_id ? msg->message_id : "");
	cJSON_AddStringToObject(d, "from", from);
	if (src->mailbox != NULL) {
		cJSON_AddStringToObject(d, "mailbox", src->mailbox);
		cJSON_AddNumberToObject(d, "uid", src->uid);
	}
	if (how != NULL)
		cJSON_AddStringToObject(d, "threaded_by", how);
	if (loop_flags != 0)
		cJSON_AddStringToObject(d, "loop_protection", loop_reason ? loop_reason : "flagged");
	for (size_t i = 0; i < msg->n_warnings; i++) {
		cJSON *w = cJSON_GetObjectItem(d, "warnings");
		if (w == NULL)
			w = cJSON_AddArrayToObject(d, "warnings");
		cJSON_AddItemToArray(w, cJSON_CreateString(msg->warnings[i]));
	}
	if (event(ing, ticket, actor, res.new_ticket ? "ticket.created" : "message.added", d) < 0)
		goto db_error_msg;
	if (refused_tag > 0) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "tag", (double)refused_tag);
		cJSON_AddStringToObject(r, "reason",
					"the sender is not a participant of the tagged ticket");
		if (event(ing, ticket, actor, "thread.tag_refused", r) < 0)
			goto db_error_msg;
	}

	if (!res.new_ticket) {
		/* A customer writing again: a resolved ticket reopens, a pending one
		 * (waiting on the customer) becomes open. Automatic mail does not. */
		struct ticket t;
		if (store_ticket_get(ing->st, ticket, &t) < 0)
			goto db_error_msg;
		enum ticket_status before = t.status;
		ticket_clear(&t);
		bool from_customer = (loop_flags & LOOP_BOUNCE) == 0 && (loop_flags & LOOP_AUTO_REPLY) == 0;
		if (from_customer && before != TICKET_OPEN && before != TICKET_NEW) {
			if (store_ticket_set_status(ing->st, ticket, TICKET_OPEN) < 0)
				goto db_error_msg;
			cJSON *r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "from", ticket_status_name(before));
			cJSON_AddStringToObject(r, "reason", "the customer wrote again");
			if (event(ing, ticket,
				  actor, before == TICKET_PENDING ? "ticket.customer_replied" : "ticket.reopened",
				  r) < 0)
				goto db_error_msg;
			res.reopened = before != TICKET_PENDING;
		} else if (store_ticket_touch(ing->st, ticket) < 0) {
			goto db_error_msg;
		}
	}

	/* Triage: the features were prepared (from the new text only), the
	 * models decide now, as corrected so far. */
	struct triage_result tr;
	const char *terr = p->triage_error;
	bool triaged = p->features != NULL &&
		       triage_classify(ing->triage, p->features, &tr, &terr) == 0;
	if (!triaged) {
		log_warning("triage of ticket %lld failed: %s", (long long)ticket, terr);
	} else if (res.new_ticket
			   ? triage_record(ing->st, ticket, res.message_id, &tr) < 0
			   : record_follow_up_mood(ing, ticket, res.message_id, &tr, loop_flags) < 0) {
		triage_result_clear(&tr);
		goto db_error_msg;
	}
	if (triaged) {
		snprintf(res.category, sizeof(res.category), "%s", tr.category ? tr.category : "-");
		res.category_confidence = tr.category_confidence;
		snprintf(res.sentiment, sizeof(res.sentiment), "%s", tr.sentiment_label);
		res.spam = tr.spam;
	}
	const char *step_error = NULL;
	if (after_triage(ing, &res, msg, from, loop_flags, triaged ? &tr : NULL,
			 triaged ? triage_features_bag(p->features) : NULL, &step_error) < 0) {
		if (triaged)
			triage_result_clear(&tr);
		*error_r = step_error;
		return -1;
	}
	if (triaged)
		triage_result_clear(&tr);
	ret = 0;
out:
	if (ret == 0)
		*res_r = res;
	return ret;
db_error_msg:
db_error:
	*error_r = store_error(ing->st);
	return -1;
}

int ingest_batch(struct ingest *ing, struct ingest_slice *slice, size_t *new_tickets_r,
		 const char **error_r)
{
	const char *mailbox = slice->mailbox;
	/* Corrections made by agents elsewhere (triagectl, the console) apply. */
	const char *refresh_error;
	if (triage_refresh(ing->triage, ing->st, &refresh_error) < 0)
		log_warning("category model: %s", refresh_error);
	if (store_begin(ing->st) < 0) {
		*error_r = store_error(ing->st);
		return -1;
	}
	uint32_t cp_validity, cp_uid;
	if (store_checkpoint_get(ing->st, mailbox, &cp_validity, &cp_uid) < 0) {
		*error_r = store_error(ing->st);
		goto rollback;
	}
	if (cp_validity != slice->from_validity || cp_uid != slice->from_uid) {
		*error_r = "the mailbox checkpoint moved since the fetch started "
			   "(an earlier batch failed): fetching again from it";
		goto rollback;
	}
	size_t new_tickets = 0;
	for (size_t i = 0; i < slice->n; i++) {
		struct ingest_item *item = &slice->items[i];
		struct ingest_source src = {.mailbox = mailbox, .has_uid = true,
					    .uidvalidity = slice->uidvalidity,
					    .uid = item->uid, .truncated = item->truncated};
		struct ingest_result res;
		if (ingest_mail_prepared(ing, &src, item->data, item->len, item->prepared, &res,
					 error_r) < 0)
			goto rollback;
		if (res.new_ticket)
			new_tickets++;
		if (!res.duplicate) {
			char ticket_field[32], mailbox_field[128];
			snprintf(ticket_field, sizeof(ticket_field), "TICKET=%lld",
				 (long long)res.ticket_id);
			snprintf(mailbox_field, sizeof(mailbox_field), "MAILBOX=%s", mailbox);
			const char *fields[] = {ticket_field, mailbox_field, NULL};
			log_fields(LOG_INFO, fields,
				   "mail uid %u %s ticket #%lld: %s %.2f, sentiment %s%s%s", item->uid,
				   res.new_ticket ? "opened" : "added to", (long long)res.ticket_id,
				   res.category[0] ? res.category : "-", res.category_confidence,
				   res.sentiment[0] ? res.sentiment : "-", res.spam ? ", spam" : "",
				   res.parse_failed ? ", unreadable: quarantined" : "");
		}
	}
	if (store_checkpoint_set(ing->st, mailbox, slice->uidvalidity, slice->last_uid) < 0 ||
	    store_commit(ing->st) < 0) {
		*error_r = store_error(ing->st);
		goto rollback;
	}
	if (new_tickets_r != NULL)
		*new_tickets_r = new_tickets;
	return 0;
rollback:
	store_rollback(ing->st);
	return -1;
}
