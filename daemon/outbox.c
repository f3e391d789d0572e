/* The outbox: composing and queueing outgoing mail, sending it over SMTP with
 * libcurl, retries with backoff, and crash safety (see outbox.h). */
#include "outbox.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "compose.h"
#include "config.h"
#include "log.h"
#include "sla.h"
#include "store_outbox.h"
#include "strbuf.h"
#include "xalloc.h"

/* A send lasts at most timeout_seconds (CURLOPT_TIMEOUT); a mail in sending
 * for longer than that plus this margin has no live sender any more. */
#define STALE_MARGIN_SECONDS 60


int outbox_global_init(const char **error_r)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		*error_r = error_fmt("libcurl: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/* Adds an audit event whose detail is the JSON object o (consumed). */
static int add_event(struct store *st, int64_t ticket_id, const char *actor, const char *kind,
                     cJSON *o)
{
	char *detail = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	int rc = store_event_add(st, ticket_id, actor, kind, detail);
	cJSON_free(detail);
	return rc;
}

static const char *from_address(const struct config *cfg, char **addr_r, const char **error_r)
{
	_cleanup_free_ char *name = NULL;
	if (!cfg->smtp.configured) {
		*error_r = "no smtp section in the configuration: cannot send mail";
		return NULL;
	}
	if (compose_parse_from(cfg->smtp.from, &name, addr_r, error_r) < 0) {
		*error_r = error_fmt("smtp.from: %s", *error_r);
		return NULL;
	}
	return *addr_r;
}

/* Whether addr (lower case) is one of ours: from_addr (smtp.from) or a
 * mailbox's login when it is an address. */
static bool own_address(const struct config *cfg, const char *from_addr, const char *addr)
{
	if (strcasecmp(from_addr, addr) == 0)
		return true;
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		if (cfg->mailboxes[i].user != NULL && strcasecmp(cfg->mailboxes[i].user, addr) == 0)
			return true;
	return false;
}

/* Whom a reply to all copies: who wrote the message it answers (a colleague
 * of the requester, say), whom it went to and whom it copied, but neither
 * the requester (the To of the reply) nor our own addresses; each once,
 * valid plain addresses only, at most COMPOSE_MAX_CC. ", "-separated, NULL
 * when nobody is left. */
static char *reply_all_copies(const struct config *cfg, const char *from_addr,
                              const struct ticket *t, const struct reply_parties *parties)
{
	struct strbuf out = STRBUF_INIT;
	size_t n = 0, len;
	const char *lists[] = {parties->from, parties->to, parties->cc}, *item;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		const char *list = lists[l];
		while (n < COMPOSE_MAX_CC && (item = compose_next_addr(&list, &len)) != NULL) {
			_cleanup_free_ char *addr = xstrndup(item, len);
			for (char *c = addr; *c != '\0'; c++)
				*c = (char)tolower((unsigned char)*c);
			if (!compose_valid_addr(addr) || strcasecmp(addr, t->requester) == 0 ||
			    own_address(cfg, from_addr, addr))
				continue;
			/* once each */
			const char *kept = strbuf_str(&out), *other;
			size_t other_len;
			bool seen = false;
			while (!seen && (other = compose_next_addr(&kept, &other_len)) != NULL)
				seen = other_len == len && memcmp(other, addr, len) == 0;
			if (seen)
				continue;
			strbuf_printf(&out, "%s%s", out.len > 0 ? ", " : "", addr);
			n++;
		}
	}
	if (out.len == 0) {
		strbuf_free(&out);
		return NULL;
	}
	return strbuf_steal(&out);
}

/* Composes a mail to the ticket's requester (to all when reply_all),
 * answering its last incoming message, and inserts it as queued (due now). */
static int queue_mail(struct store *st, const struct config *cfg, const struct ticket *t,
                      enum outbox_kind kind, const char *text, bool reply_all, const char *agent,
                      unsigned suggestion_rank, const char *status_after,
                      const char *template_name, int64_t *id_r, const char **error_r)
{
	_cleanup_free_ char *from_addr = NULL, *parent = NULL, *parent_refs = NULL, *cc = NULL;
	if (from_address(cfg, &from_addr, error_r) == NULL)
		return -1;
	struct reply_parties parties = {0};
	int found = store_outbox_reply_parent(st, t->id, &parent, &parent_refs,
	                                      reply_all ? &parties : NULL);
	if (found < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	if (reply_all) {
		cc = reply_all_copies(cfg, from_addr, t, &parties);
		reply_parties_clear(&parties);
	}
	int64_t now = store_now();
	struct compose_mail m = {
	    .from = cfg->smtp.from,
	    .to_addr = t->requester,
	    .to_name = t->requester_name,
	    .cc = cc,
	    .subject = t->subject,
	    .ticket_id = t->id,
	    .in_reply_to = parent,
	    .references = parent_refs,
	    .body = text,
	    .auto_submitted = kind == OUTBOX_ACK,
	    .date = now,
	};
	_cleanup_free_ char *raw = NULL, *msgid = NULL;
	if (compose_build(&m, &raw, &msgid, error_r) < 0)
		return -1;
	_cleanup_free_ char *subject = compose_reply_subject(t->subject, t->id);
	_cleanup_free_ char *refs = compose_references(parent_refs, parent);
	struct outbox_row row = {
	    .ticket_id = t->id,
	    .kind = kind,
	    .message_id = msgid,
	    .from_addr = from_addr,
	    .to_addr = t->requester,
	    .cc_addrs = (char *)cc,
	    .subject = subject,
	    .body_text = (char *)text,
	    .in_reply_to = parent,
	    .refs = refs,
	    .raw = raw,
	    .next_attempt = now,
	    .created = now,
	    .agent = (char *)agent,
	    .suggestion_rank = suggestion_rank,
	    .status_after = (char *)status_after,
	    .template_name = (char *)template_name,
	};
	if (store_outbox_add(st, &row, id_r) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	return 0;
}

static int get_ticket(struct store *st, int64_t id, struct ticket *t, const char **error_r)
{
	int found = store_ticket_get(st, id, t);
	if (found < 0)
		*error_r = error_fmt("store: %s", store_error(st));
	else if (found == 0)
		*error_r = error_fmt("no ticket %lld", (long long)id);
	return found == 1 ? 0 : -1;
}

int outbox_queue_reply(struct store *st, const struct config *cfg, const struct outbox_reply *r,
                       int64_t *outbox_id_r, const char **error_r)
{
	if (r->text == NULL || r->text[strspn(r->text, " \t\r\n")] == '\0') {
		*error_r = "the reply is empty";
		return -1;
	}
	struct ticket t;
	if (get_ticket(st, r->ticket_id, &t, error_r) < 0)
		return -1;
	int rc = queue_mail(st, cfg, &t, OUTBOX_REPLY, r->text, r->reply_all, r->agent,
	                    r->suggestion_rank,
	                    r->keep_status ? NULL : ticket_status_name(r->status_after), NULL,
	                    outbox_id_r, error_r);
	ticket_clear(&t);
	return rc;
}

/* Reads a template (at most OUTBOX_MAX_TEMPLATE bytes). 1 read, 0 missing. */
static int read_template_file(const char *dir, const char *name, char **text_r,
			      const char **error_r)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = error_fmt("%s: %s", path, strerror(errno));
		return -1;
	}
	struct strbuf sb;
	strbuf_init(&sb, OUTBOX_MAX_TEMPLATE + 1);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (strbuf_append(&sb, buf, (size_t)n) < 0)
			break;
	int saved = errno;
	close(fd);
	if (n < 0 || sb.truncated) {
		*error_r = n < 0 ? error_fmt("%s: %s", path, strerror(saved))
		                 : error_fmt("%s: template larger than %d bytes", path,
		                             OUTBOX_MAX_TEMPLATE);
		strbuf_free(&sb);
		return -1;
	}
	*text_r = strbuf_steal(&sb);
	return 1;
}

/* The template NAME.txt, or its "-en" sibling when NAME is "BASE-LANG" and
 * LANG has none. 1 read (*used_r: the file's name), 0 missing, -1 error. */
static int read_reply_template(const char *dir, const char *name, char **text_r,
                               char **used_r, const char **error_r)
{
	_cleanup_free_ char *file = xasprintf("%s.txt", name);
	int found = read_template_file(dir, file, text_r, error_r);
	const char *dash = strrchr(name, '-');
	if (found == 0 && dash != NULL && strcmp(dash, "-en") != 0) {
		free(file);
		file = xasprintf("%.*s-en.txt", (int)(dash - name), name);
		found = read_template_file(dir, file, text_r, error_r);
	}
	if (found == 1) {
		file[strlen(file) - 4] = '\0';
		*used_r = TAKE_PTR(file);
	}
	return found;
}

int outbox_queue_template(struct store *st, const struct config *cfg, int64_t ticket_id,
                          const char *name, unsigned loop_flags, int64_t *outbox_id_r,
                          const char **why_r, const char **error_r)
{
	struct ticket t;
	if (get_ticket(st, ticket_id, &t, error_r) < 0)
		return -1;
	int ret = -1;
	_cleanup_free_ char *tmpl = NULL, *body = NULL, *used = NULL;
	/* RFC 3834: never answer automatic mail; checked on both the caller's
	 * flags and the ticket's own, in case the caller forgot. */
	if (loop_flags != 0 || t.loop_flags != 0) {
		*why_r = "the mail is automatic (loop protection)";
		ret = 0;
		goto out;
	}
	if (t.spam) {
		*why_r = "the ticket is spam";
		ret = 0;
		goto out;
	}
	if (!compose_valid_addr(t.requester)) {
		*why_r = "the requester has no usable address";
		ret = 0;
		goto out;
	}
	int64_t now = store_now(), last;
	int found = store_outbox_ack_last(st, t.requester, &last);
	if (found < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		goto out;
	}
	if (found == 1 && cfg->smtp.ack_per_sender_seconds > 0 &&
	    now - last < (int64_t)cfg->smtp.ack_per_sender_seconds) {
		*why_r = "this sender got an automatic reply recently";
		ret = 0;
		goto out;
	}
	const char *dir = cfg->kb.templates_dir;
	found = dir != NULL ? read_reply_template(dir, name, &tmpl, &used, error_r) : 0;
	if (found < 0)
		goto out;
	if (found == 0) {
		/* A configuration problem must not hold the mail back. */
		*why_r = error_fmt("no template %s.txt in %s", name, dir ? dir : "kb.templates_dir");
		ret = 0;
		goto out;
	}
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)t.id);
	const char *customer = t.requester_name != NULL && t.requester_name[0] != '\0'
	                           ? t.requester_name
	                           : t.requester;
	static const char *const keys[] = {"ticket.id", "ticket.subject", "customer.name"};
	const char *values[] = {id, t.subject, customer};
	body = compose_render(tmpl, keys, values, ARRAY_SIZE(keys));
	if (queue_mail(st, cfg, &t, OUTBOX_ACK, body, false, NULL, 0, NULL, used, outbox_id_r,
	               error_r) < 0)
		goto out;
	if (store_outbox_ack_set(st, t.requester, now) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "outbox_id", (double)*outbox_id_r);
	cJSON_AddStringToObject(o, "to", t.requester);
	cJSON_AddStringToObject(o, "template", used);
	if (add_event(st, t.id, "system", "ack_queued", o) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		goto out;
	}
	ret = 1;
out:
	ticket_clear(&t);
	return ret;
}

int outbox_queue_ack(struct store *st, const struct config *cfg, int64_t ticket_id,
                     const char *lang, unsigned loop_flags, int64_t *outbox_id_r,
                     const char **why_r, const char **error_r)
{
	_cleanup_free_ char *name = xasprintf("ack-%s", lang != NULL ? lang : "en");
	return outbox_queue_template(st, cfg, ticket_id, name, loop_flags, outbox_id_r, why_r,
	                             error_r);
}

int outbox_queue_notify(struct store *st, const struct config *cfg, int64_t ticket_id,
			const char *to_addr, const char *reason, int64_t *outbox_id_r,
			const char **error_r)
{
	if (!compose_valid_addr(to_addr)) {
		*error_r = error_fmt("notification address \"%s\" is not usable", to_addr);
		return -1;
	}
	struct ticket t;
	if (get_ticket(st, ticket_id, &t, error_r) < 0)
		return -1;
	int ret = -1;
	_cleanup_free_ char *tmpl = NULL, *body = NULL, *from_addr = NULL, *raw = NULL,
			    *msgid = NULL, *subject = NULL;
	int found = cfg->kb.templates_dir != NULL
			    ? read_template_file(cfg->kb.templates_dir, "escalation-notice.txt", &tmpl,
						 error_r)
			    : 0;
	if (found < 0)
		goto out;
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)t.id);
	static const char *const keys[] = {"ticket.id", "ticket.subject", "ticket.queue",
					   "event.reason", "customer.name"};
	const char *values[] = {id, t.subject, t.queue, reason, t.requester};
	body = found == 1 ? compose_render(tmpl, keys, values, ARRAY_SIZE(keys))
			  : xasprintf("Ticket #%s (%s, queue %s): %s\n", id, t.subject, t.queue,
				      reason);
	if (from_address(cfg, &from_addr, error_r) == NULL)
		goto out;
	int64_t now = store_now();
	subject = xasprintf("Ticket #%s: %s", id, reason);
	struct compose_mail m = {
	    .from = cfg->smtp.from,
	    .to_addr = to_addr,
	    .subject = subject,
	    .ticket_id = t.id,
	    .body = body,
	    .auto_submitted = true,
	    .date = now,
	};
	if (compose_build(&m, &raw, &msgid, error_r) < 0)
		goto out;
	struct outbox_row row = {
	    .ticket_id = t.id,
	    .kind = OUTBOX_NOTIFY,
	    .message_id = msgid,
	    .from_addr = from_addr,
	    .to_addr = (char *)to_addr,
	    .subject = subject,
	    .body_text = body,
	    .raw = raw,
	    .next_attempt = now,
	    .created = now,
	};
	if (store_outbox_add(st, &row, outbox_id_r) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		goto out;
	}
	ret = 0;
out:
	ticket_clear(&t);
	return ret;
}

int outbox_next_due(struct store *st, int64_t *when_r)
{
	return store_outbox_next_due(st, when_r);
}

int64_t outbox_backoff(unsigned retry_seconds, unsigned attempts)
{
	int64_t delay = retry_seconds > 0 ? retry_seconds : 1;
	for (unsigned i = 1; i < attempts && delay < OUTBOX_MAX_BACKOFF; i++)
		delay *= 2;
	if (delay > OUTBOX_MAX_BACKOFF)
		delay = OUTBOX_MAX_BACKOFF;
	/* Jitter: mails that failed together do not all come back together. */
	uint32_t tenth = (uint32_t)(delay / 10);
	return delay + (tenth > 0 ? arc4random_uniform(tenth + 1) : 0);
}

/* ---- recovery ---- */

int outbox_recover(struct store *st, const struct config *cfg, unsigned *n_r, const char **error_r)
{
	int64_t before = store_now() - (int64_t)cfg->smtp.timeout_seconds - STALE_MARGIN_SECONDS;
	int64_t *ids = NULL;
	size_t n = 0;
	unsigned done = 0;
	if (store_outbox_stale_sending(st, before, &ids, &n) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	static const char reason[] = "interrupted during send; check before resending";
	for (size_t i = 0; i < n; i++) {
		struct outbox_row row;
		if (store_begin(st) < 0)
			goto fail;
		int found = store_outbox_get(st, ids[i], &row);
		if (found < 0)
			goto fail_tx;
		if (found == 0) {
			store_rollback(st);
			continue;
		}
		/* The server may have accepted it just before the stop: sending it
		 * again could deliver it twice, so it waits for a human. */
		int changed =
		    row.status == OUTBOX_SENDING ? store_outbox_mark_failed(st, row.id, reason) : 0;
		if (changed < 0) {
			outbox_row_clear(&row);
			goto fail_tx;
		}
		if (changed == 1) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "outbox_id", (double)row.id);
			cJSON_AddStringToObject(o, "message_id", row.message_id);
			cJSON_AddStringToObject(o, "to", row.to_addr);
			cJSON_AddStringToObject(o, "reason", reason);
			if (add_event(st, row.ticket_id, "system", "outbox_interrupted", o) < 0) {
				outbox_row_clear(&row);
				goto fail_tx;
			}
		}
		if (store_commit(st) < 0) {
			outbox_row_clear(&row);
			goto fail_tx;
		}
		if (changed == 1) {
			char tid[32];
			snprintf(tid, sizeof(tid), "TICKET=%lld", (long long)row.ticket_id);
			const char *fields[] = {tid, NULL};
			log_fields(
			    LOG_WARNING, fields,
			    "outbox: mail %lld of ticket #%lld was interrupted during send; marked"
			    " failed, check whether it arrived before `triagectl outbox requeue %lld`",
			    (long long)row.id, (long long)row.ticket_id, (long long)row.id);
			done++;
		}
		outbox_row_clear(&row);
	}
	free(ids);
	*n_r = done;
	return 0;
fail_tx:
	store_rollback(st);
fail:
	*error_r = error_fmt("store: %s", store_error(st));
	free(ids);
	return -1;
}

int outbox_requeue(struct store *st, int64_t outbox_id, const char *actor, const char **error_r)
{
	struct outbox_row row;
	if (store_begin(st) < 0)
		goto fail;
	int found = store_outbox_get(st, outbox_id, &row);
	if (found < 0)
		goto fail_tx;
	if (found == 0 || row.status != OUTBOX_FAILED) {
		*error_r = found == 0
		               ? error_fmt("no outbox mail %lld", (long long)outbox_id)
		               : error_fmt("outbox mail %lld is %s, not failed",
		                           (long long)outbox_id, outbox_status_name(row.status));
		if (found == 1)
			outbox_row_clear(&row);
		store_rollback(st);
		return -1;
	}
	if (store_outbox_requeue(st, outbox_id, store_now()) < 0) {
		outbox_row_clear(&row);
		goto fail_tx;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "outbox_id", (double)outbox_id);
	cJSON_AddStringToObject(o, "message_id", row.message_id);
	if (row.last_error != NULL)
		cJSON_AddStringToObject(o, "previous_error", row.last_error);
	int64_t ticket_id = row.ticket_id;
	outbox_row_clear(&row);
	if (add_event(st, ticket_id, actor, "outbox_requeued", o) < 0 || store_commit(st) < 0)
		goto fail_tx;
	return 0;
fail_tx:
	store_rollback(st);
fail:
	*error_r = error_fmt("store: %s", store_error(st));
	return -1;
}

/* ---- SMTP ---- */

struct upload {
	const char *data;
	size_t len, pos;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct upload *u = userp;
	size_t room = size * nmemb, left = u->len - u->pos;
	size_t n = left < room ? left : room;
	memcpy(buf, u->data + u->pos, n);
	u->pos += n;
	return n;
}

/* The server's answers, kept from libcurl's protocol trace: the last one
 * and the last refusal (4xx/5xx), which the QUIT exchange would otherwise
 * hide. Only incoming lines are looked at: outgoing ones carry the
 * credentials. */
struct server_reply {
	char last[256];
	char refusal[256];
};

static int debug_cb(CURL *curl, curl_infotype type, char *data, size_t size, void *userp)
{
	(void)curl;
	struct server_reply *r = userp;
	if (type != CURLINFO_HEADER_IN || size == 0)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < size && n + 1 < sizeof(r->last); i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == '\r' || c == '\n')
			break;
		r->last[n++] = c < 0x20 || c >= 0x7f ? ' ' : (char)c;
	}
	r->last[n] = '\0';
	if (r->last[0] == '4' || r->last[0] == '5')
		memcpy(r->refusal, r->last, n + 1);
	return 0;
}

enum send_result { SEND_OK, SEND_TEMPORARY, SEND_PERMANENT };

/* One SMTP transaction for one mail. *error_r (never holding the password)
 * is set when the result is not SEND_OK. */
static enum send_result smtp_send(const struct config *cfg, const char *password,
                                  const struct outbox_row *row, char *error, size_t error_size)
{
	const struct cfg_smtp *smtp = &cfg->smtp;
	CURL *curl = curl_easy_init();
	if (curl == NULL) {
		snprintf(error, error_size, "libcurl: cannot create a handle");
		return SEND_TEMPORARY;
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	struct server_reply reply = {.last = "", .refusal = ""};
	struct upload up = {.data = row->raw, .len = strlen(row->raw)};
	_cleanup_free_ char *mail_from = xasprintf("<%s>", row->from_addr);
	_cleanup_free_ char *rcpt_to = xasprintf("<%s>", row->to_addr);
	struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_to);
	/* A reply to all: each copied address is an envelope recipient too
	 * (not one that an erasure has masked since it was queued). */
	const char *list = row->cc_addrs, *item;
	size_t len;
	while ((item = compose_next_addr(&list, &len)) != NULL) {
		_cleanup_free_ char *addr = xstrndup(item, len);
		if (!compose_valid_addr(addr))
			continue;
		_cleanup_free_ char *one = xasprintf("<%s>", addr);
		rcpt = curl_slist_append(rcpt, one);
	}

	curl_easy_setopt(curl, CURLOPT_URL, smtp->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)smtp->timeout_seconds);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)smtp->timeout_seconds);
	/* TLS: required for STARTTLS and implicit TLS (never a silent downgrade
	 * to plain text); plain only when the configuration says "none". */
	curl_easy_setopt(curl, CURLOPT_USE_SSL,
	                 smtp->tls == CFG_TLS_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, smtp->tls_verify ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, smtp->tls_verify ? 2L : 0L);
	if (smtp->tls_ca_file != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, smtp->tls_ca_file);
	if (smtp->user != NULL) {
		curl_easy_setopt(curl, CURLOPT_USERNAME, smtp->user);
		if (password != NULL)
			curl_easy_setopt(curl, CURLOPT_PASSWORD, password);
	}
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(curl, CURLOPT_READDATA, &up);
	curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
	curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &reply);
	curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);

	/* CURLE_OK only once the server answered 250 to the end of DATA. */
	CURLcode rc = curl_easy_perform(curl);
	long code = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(curl);
	if (rc == CURLE_OK)
		return SEND_OK;
	const char *said = reply.refusal[0] ? reply.refusal : reply.last;
	/* libcurl's detailed message when it has one, else its generic one. */
	snprintf(error, error_size, "%s%s%s", errbuf[0] ? errbuf : curl_easy_strerror(rc),
	         said[0] ? "; server said: " : "", said);
	/* A 5xx to the envelope or the data will not change by waiting. A
	 * refusal of us rather than of the mail (530 "authentication or
	 * STARTTLS required", 534, 535, 538: RFC 4954, 3207) is the
	 * administrator's to fix, so those keep retrying. */
	bool refused_us =
	    rc == CURLE_LOGIN_DENIED || code == 530 || code == 534 || code == 535 || code == 538;
	if (code >= 500 && code < 600 && !refused_us)
		return SEND_PERMANENT;
	return SEND_TEMPORARY;
}

/* "a,b" -> "a b" without <>: the messages table keeps bare ids. */
static char *bare_ids(const char *refs)
{
	if (refs == NULL)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	for (const char *p = refs; *p != '\0'; p++)
		if (*p != '<' && *p != '>')
			strbuf_putc(&sb, *p);
	return strbuf_steal(&sb);
}

/* After the server's 250: sent, the copy in the thread, the first response
 * and the status, in one transaction committed before anything else. */
static int record_sent(struct store *st, const struct config *cfg, const struct outbox_row *row,
		       const char **error_r)
{
	int64_t now = store_now();
	if (store_begin(st) < 0)
		goto fail;
	int changed = store_outbox_mark_sent(st, row->id, now);
	if (changed < 0)
		goto fail_tx;
	if (changed == 0) {
		/* Recovery took it for interrupted: keep that verdict visible. */
		store_rollback(st);
		*error_r = "mail was marked interrupted while being sent";
		return -1;
	}
	/* A reply queued before its ticket was merged belongs with the mail,
	 * in the ticket kept: its copy, the first response, the clocks. */
	int64_t ticket_id = row->ticket_id;
	if (ticket_id > 0 && store_ticket_follow_merge(st, row->ticket_id, &ticket_id) < 0)
		goto fail_tx;
	if (ticket_id > 0 && row->kind == OUTBOX_NOTIFY) {
		/* An internal notice is not part of the customer's thread. */
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "outbox_id", (double)row->id);
		cJSON_AddStringToObject(o, "to", row->to_addr);
		if (add_event(st, ticket_id, "system", "notify_sent", o) < 0)
			goto fail_tx;
	} else if (ticket_id > 0) {
		_cleanup_free_ char *refs = bare_ids(row->refs);
		struct message m = {
		    .ticket_id = ticket_id,
		    .outgoing = true,
		    .message_id = row->message_id,
		    .dedupe_key = row->message_id,
		    .in_reply_to = row->in_reply_to,
		    .references = refs,
		    .from_addr = row->from_addr,
		    .to_addrs = row->to_addr,
		    .cc_addrs = row->cc_addrs,
		    .subject = row->subject,
		    .date = now,
		    .received = now,
		    .body_text = row->body_text,
		    .new_text = row->body_text,
		    .raw = row->raw,
		    .raw_len = strlen(row->raw),
		};
		int64_t message_id;
		if (store_message_add(st, &m, &message_id) < 0)
			goto fail_tx;
		if (row->kind == OUTBOX_REPLY) {
			enum ticket_status status;
			struct ticket before;
			const char *sla_error;
			if (store_ticket_get(st, ticket_id, &before) <= 0)
				goto fail_tx;
			enum ticket_status old_status = before.status;
			ticket_clear(&before);
			/* An answer sent: whatever the verdict, the customer was
			 * served (closed as spam no more). */
			if (store_ticket_set_first_response(st, ticket_id, now) < 0 ||
			    store_ticket_set_spam_closed(st, ticket_id, false) < 0)
				goto fail_tx;
			/* The agent answered: the response clocks are met, and a ticket
			 * now waiting on the customer pauses the others. */
			if (sla_on_agent_reply(st, cfg, ticket_id, &sla_error) < 0)
				goto fail_tx;
			if (row->status_after != NULL &&
			    ticket_status_parse(row->status_after, &status) == 0) {
				if (store_ticket_set_status(st, ticket_id, status) < 0 ||
				    (status != old_status &&
				     sla_on_status(st, cfg, ticket_id, old_status, status,
						   &sla_error) < 0))
					goto fail_tx;
			}
		}
		if (store_ticket_touch(st, ticket_id) < 0)
			goto fail_tx;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "outbox_id", (double)row->id);
		cJSON_AddStringToObject(o, "message_id", row->message_id);
		cJSON_AddStringToObject(o, "to", row->to_addr);
		if (row->cc_addrs != NULL)
			cJSON_AddStringToObject(o, "cc", row->cc_addrs);
		cJSON_AddNumberToObject(o, "attempts", row->attempts);
		if (row->agent != NULL)
			cJSON_AddStringToObject(o, "approved_by", row->agent);
		if (row->template_name != NULL)
			cJSON_AddStringToObject(o, "template", row->template_name);
		if (add_event(st, ticket_id, "system",
		              row->kind == OUTBOX_ACK ? "ack_sent" : "reply_sent", o) < 0)
			goto fail_tx;
	}
	if (store_commit(st) < 0)
		goto fail_tx;
	return 0;
fail_tx:
	store_rollback(st);
fail:
	*error_r = error_fmt("store: %s", store_error(st));
	return -1;
}

static int record_failure(struct store *st, const struct config *cfg, const struct outbox_row *row,
                          enum send_result result, const char *smtp_error, bool *final_r,
                          const char **error_r)
{
	bool final = result == SEND_PERMANENT || row->attempts >= cfg->smtp.max_attempts;
	if (store_begin(st) < 0)
		goto fail;
	if (final) {
		if (store_outbox_mark_failed(st, row->id, smtp_error) < 0)
			goto fail_tx;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "outbox_id", (double)row->id);
		cJSON_AddStringToObject(o, "to", row->to_addr);
		cJSON_AddNumberToObject(o, "attempts", row->attempts);
		cJSON_AddStringToObject(o, "error", smtp_error);
		if (add_event(st, row->ticket_id, "system", "outbox_failed", o) < 0)
			goto fail_tx;
	} else {
		int64_t next = store_now() + outbox_backoff(cfg->smtp.retry_seconds, row->attempts);
		if (store_outbox_mark_retry(st, row->id, next, smtp_error) < 0)
			goto fail_tx;
	}
	if (store_commit(st) < 0)
		goto fail_tx;
	*final_r = final;
	return 0;
fail_tx:
	store_rollback(st);
fail:
	*error_r = error_fmt("store: %s", store_error(st));
	return -1;
}

/* Claims the next due mail in its own transaction: 1 with *row_r, 0 none. */
static int claim_next(struct store *st, bool flush, int64_t *after_id, struct outbox_row *row_r)
{
	for (;;) {
		int64_t id, now = store_now();
		if (store_begin(st) < 0)
			return -1;
		int found = store_outbox_first_due(st, now, flush, flush ? *after_id : 0, &id);
		int claimed = found == 1 ? store_outbox_claim(st, id, now) : found;
		if (claimed < 0 || store_commit(st) < 0) {
			store_rollback(st);
			return -1;
		}
		if (found == 0)
			return 0;
		*after_id = id;
		if (claimed == 0)
			continue; /* another sender took it between our two statements */
		found = store_outbox_get(st, id, row_r);
		return found < 0 ? -1 : found == 1 ? 1 : 0;
	}
}

int outbox_send_due(struct store *st, const struct config *cfg, unsigned max, bool flush,
                    struct outbox_send_stats *stats_r, const char **error_r)
{
	struct outbox_send_stats stats = {0};
	_cleanup_free_ char *from = NULL;
	if (from_address(cfg, &from, error_r) == NULL)
		return -1;
	if (outbox_recover(st, cfg, &stats.interrupted, error_r) < 0)
		return -1;
	char *password = NULL;
	if (cfg->smtp.password_file != NULL || cfg->smtp.password_env != NULL) {
		if (config_read_secret(cfg->smtp.password_file, cfg->smtp.password_env, &password,
		                       error_r) < 0) {
			*error_r = error_fmt("smtp password: %s", *error_r);
			return -1;
		}
	}
	int ret = 0;
	int64_t after_id = 0;
	for (unsigned i = 0; max == 0 || i < max; i++) {
		struct outbox_row row;
		int got = claim_next(st, flush, &after_id, &row);
		if (got < 0) {
			*error_r = error_fmt("store: %s", store_error(st));
			ret = -1;
			break;
		}
		if (got == 0)
			break;
		char tid[32], mid[300];
		snprintf(tid, sizeof(tid), "TICKET=%lld", (long long)row.ticket_id);
		snprintf(mid, sizeof(mid), "MESSAGE_ID=%s", row.message_id);
		const char *fields[] = {tid, mid, NULL};
		char smtp_error[OUTBOX_MAX_ERROR];
		enum send_result result =
		    smtp_send(cfg, password, &row, smtp_error, sizeof(smtp_error));
		if (result == SEND_OK) {
			if (record_sent(st, cfg, &row, error_r) < 0) {
				/* Left in sending: recovery marks it interrupted, never resent. */
				log_fields(
				    LOG_ERR, fields,
				    "outbox: mail %lld accepted by the server but not recorded: %s",
				    (long long)row.id, *error_r);
				outbox_row_clear(&row);
				ret = -1;
				break;
			}
			/* The ticket, not the address: the journal keeps no personal data. */
			log_fields(LOG_INFO, fields, "outbox: %s %lld of ticket #%lld sent",
			           outbox_kind_name(row.kind), (long long)row.id,
			           (long long)row.ticket_id);
			stats.sent++;
		} else {
			bool final;
			if (record_failure(st, cfg, &row, result, smtp_error, &final, error_r) <
			    0) {
				outbox_row_clear(&row);
				ret = -1;
				break;
			}
			log_fields(final ? LOG_ERR : LOG_WARNING, fields,
			           "outbox: mail %lld of ticket #%lld, attempt %u: %s%s",
			           (long long)row.id, (long long)row.ticket_id, row.attempts, smtp_error,
			           final ? " (giving up)" : " (will retry)");
			if (final)
				stats.failed++;
			else
				stats.retried++;
		}
		outbox_row_clear(&row);
	}
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (stats_r != NULL)
		*stats_r = stats;
	return ret;
}
