/* Privacy requests: access (export), erasure, retention purge and the
 * register of processing. The SQL is in store_privacy.c; here are the
 * decisions: which tickets, what is scrubbed from what stays, what the
 * audit log keeps. */
#include "privacy.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "rules.h"
#include "sla.h"
#include "store.h"
#include "strbuf.h"
#include "triage.h"
#include "xalloc.h"

#define ERASED "[erased]"

static __thread char error_buf[512];

static const char *db_error(struct store *st, const char *what)
{
	snprintf(error_buf, sizeof(error_buf), "%s: %s", what, store_error(st));
	return error_buf;
}

/* ---- addresses ---- */

int privacy_address_normalize(const char *in, char **address_r, const char **error_r)
{
	while (*in == ' ' || *in == '\t')
		in++;
	size_t len = strlen(in);
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
		len--;
	if (len > PRIVACY_MAX_ADDRESS) {
		*error_r = "the address is longer than 320 bytes";
		return -1;
	}
	const char *at = memchr(in, '@', len);
	if (at == NULL || at == in || at == in + len - 1 || memchr(at + 1, '@', len - (size_t)(at - in) - 1)) {
		*error_r = "not an e-mail address (expected local@domain)";
		return -1;
	}
	char *out = xstrndup(in, len);
	for (char *p = out; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		/* No quoting, spaces or angle brackets: what the store holds is a
		 * bare address, and a bare address never contains these. */
		if (c <= ' ' || c == 0x7f || strchr("\"\\<>(),;:[]", c) != NULL) {
			free(out);
			*error_r = "the address contains a character an address cannot hold";
			return -1;
		}
		*p = (char)tolower(c);
	}
	*address_r = out;
	return 0;
}

static bool local_char(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

static bool domain_char(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || c == '-';
}

/* Position of the next whole occurrence of address in text at or after
 * from, or len when none. */
static size_t find_address(const char *text, size_t len, size_t from, const char *address)
{
	size_t alen = strlen(address);
	if (alen == 0)
		return len;
	for (size_t i = from; i + alen <= len; i++) {
		if (strncasecmp(text + i, address, alen) != 0)
			continue;
		if (i > 0 && local_char((unsigned char)text[i - 1]))
			continue;
		size_t end = i + alen;
		if (end < len) {
			unsigned char c = (unsigned char)text[end];
			/* A dot ending the sentence is not part of the domain. */
			if (domain_char(c) ||
			    (c == '.' && end + 1 < len && domain_char((unsigned char)text[end + 1])))
				continue;
		}
		return i;
	}
	return len;
}

bool privacy_mentions(const char *text, size_t len, const char *address)
{
	return text != NULL && find_address(text, len, 0, address) < len;
}

/* text with every whole occurrence of address replaced; NULL when none. */
static char *mask_address(const char *text, size_t len, const char *address, size_t *len_r)
{
	size_t at = find_address(text, len, 0, address);
	if (at >= len)
		return NULL;
	size_t alen = strlen(address);
	struct strbuf sb;
	strbuf_init(&sb, 0);
	size_t done = 0;
	while (at < len) {
		strbuf_append(&sb, text + done, at - done);
		strbuf_puts(&sb, ERASED);
		done = at + alen;
		at = find_address(text, len, done, address);
	}
	strbuf_append(&sb, text + done, len - done);
	*len_r = sb.len;
	return strbuf_steal(&sb);
}

static void address_hash(const char *address, char hex[65])
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(digest, (const unsigned char *)address, strlen(address));
	sodium_bin2hex(hex, 65, digest, sizeof(digest));
}

/* ---- scrubbing what stays ---- */

/* Keys of event details that carry the mail's words or a person's name:
 * in an erased ticket's events their values go whole. */
static const char *const personal_keys[] = {
	"subject", "terms", "term", "matched", "warnings", "words", "tokens",
	"text", "name", "from_name", "requester", "requester_name", "draft", "body",
	"address", "email", "message_id", "in_reply_to", "references",
};

static bool personal_key(const char *key)
{
	for (size_t i = 0; key != NULL && i < ARRAY_SIZE(personal_keys); i++)
		if (strcmp(key, personal_keys[i]) == 0)
			return true;
	return false;
}

static void scrub_json(cJSON *node, const char *address)
{
	cJSON *child = node->child;
	while (child != NULL) {
		cJSON *next = child->next;
		bool drop = personal_key(child->string);
		if (!drop && cJSON_IsString(child) && child->valuestring != NULL) {
			const char *v = child->valuestring;
			/* Addresses and Message-IDs of anyone in the ticket. */
			drop = strchr(v, '@') != NULL ||
			       (address != NULL && privacy_mentions(v, strlen(v), address));
		}
		if (drop && !(cJSON_IsString(child) && strcmp(child->valuestring, ERASED) == 0)) {
			/* ReplaceItemViaPointer would drop the key of an object member. */
			if (child->string != NULL)
				cJSON_ReplaceItemInObjectCaseSensitive(node, child->string,
								       cJSON_CreateString(ERASED));
			else
				cJSON_ReplaceItemViaPointer(node, child, cJSON_CreateString(ERASED));
		}
		else if (cJSON_IsObject(child) || cJSON_IsArray(child))
			scrub_json(child, address);
		child = next;
	}
}

static char *scrub_cb(const char *text, size_t len, int whole, size_t *len_r, void *ctx)
{
	const char *address = ctx;
	if (!whole)
		return address != NULL ? mask_address(text, len, address, len_r) : NULL;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	char *out;
	if (doc == NULL) {
		out = xstrdup("{\"erased\":true}");
	} else {
		if (cJSON_IsObject(doc) || cJSON_IsArray(doc))
			scrub_json(doc, address);
		char *printed = cJSON_PrintUnformatted(doc);
		cJSON_Delete(doc);
		out = xstrdup(printed ? printed : "{}");
		cJSON_free(printed);
	}
	if (strlen(out) == len && memcmp(out, text, len) == 0) {
		free(out);
		return NULL;
	}
	*len_r = strlen(out);
	return out;
}

/* ---- export ---- */

static int add_rows(struct store *st, cJSON *obj, const char *key, enum store_privacy_set set,
		    int64_t ticket_id, const char *address)
{
	cJSON *array = cJSON_AddArrayToObject(obj, key);
	return store_privacy_rows_json(st, set, ticket_id, address, array);
}

/* Event details are JSON kept as text: exported as JSON. */
static void parse_details(cJSON *array, const char *key)
{
	cJSON *row;
	cJSON_ArrayForEach(row, array)
	{
		cJSON *detail = cJSON_GetObjectItemCaseSensitive(row, key);
		if (!cJSON_IsString(detail))
			continue;
		cJSON *parsed = cJSON_Parse(detail->valuestring);
		if (parsed != NULL)
			cJSON_ReplaceItemInObjectCaseSensitive(row, key, parsed);
	}
}

static int export_ticket(struct store *st, int64_t id, cJSON *tickets)
{
	cJSON *tmp = cJSON_CreateArray();
	int ret = -1;
	if (store_privacy_rows_json(st, STORE_PRIVACY_TICKET, id, NULL, tmp) < 0 ||
	    cJSON_GetArraySize(tmp) != 1)
		goto out;
	cJSON *t = cJSON_DetachItemFromArray(tmp, 0);
	cJSON_AddItemToArray(tickets, t);
	if (add_rows(st, t, "messages", STORE_PRIVACY_TICKET_MESSAGES, id, NULL) < 0)
		goto out;
	cJSON *messages = cJSON_GetObjectItemCaseSensitive(t, "messages");
	cJSON *m;
	cJSON_ArrayForEach(m, messages)
		cJSON_AddArrayToObject(m, "attachments");
	if (store_privacy_rows_json(st, STORE_PRIVACY_TICKET_ATTACHMENTS, id, NULL, tmp) < 0)
		goto out;
	/* Each attachment under its message. */
	while (cJSON_GetArraySize(tmp) > 0) {
		cJSON *a = cJSON_DetachItemFromArray(tmp, 0);
		double mid = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "message_id"));
		cJSON *owner = NULL;
		cJSON_ArrayForEach(m, messages)
			if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "id")) == mid)
				owner = m;
		if (owner != NULL) {
			cJSON_DeleteItemFromObjectCaseSensitive(a, "message_id");
			cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(owner, "attachments"), a);
		} else {
			cJSON_Delete(a);
		}
	}
	if (add_rows(st, t, "triage", STORE_PRIVACY_TICKET_TRIAGE, id, NULL) < 0 ||
	    add_rows(st, t, "suggestions", STORE_PRIVACY_TICKET_SUGGESTIONS, id, NULL) < 0 ||
	    add_rows(st, t, "outbox", STORE_PRIVACY_TICKET_OUTBOX, id, NULL) < 0 ||
	    add_rows(st, t, "sla_clocks", STORE_PRIVACY_TICKET_SLA, id, NULL) < 0 ||
	    add_rows(st, t, "events", STORE_PRIVACY_TICKET_EVENTS, id, NULL) < 0)
		goto out;
	parse_details(cJSON_GetObjectItemCaseSensitive(t, "triage"), "detail");
	parse_details(cJSON_GetObjectItemCaseSensitive(t, "events"), "detail");
	ret = 0;
out:
	cJSON_Delete(tmp);
	return ret;
}

static void iso_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int privacy_export(struct store *st, const struct config *cfg, const char *address_in,
		   char **json_r, const char **error_r)
{
	_cleanup_free_ char *address = NULL;
	if (privacy_address_normalize(address_in, &address, error_r) < 0)
		return -1;
	_cleanup_free_ int64_t *ids = NULL;
	size_t n = 0;
	cJSON *doc = cJSON_CreateObject();
	char when[32];
	int64_t now = store_now();
	iso_time(now, when);
	cJSON_AddStringToObject(doc, "address", address);
	cJSON_AddStringToObject(doc, "generated", when);
	if (cfg != NULL && cfg->privacy.controller != NULL)
		cJSON_AddStringToObject(doc, "controller", cfg->privacy.controller);
	if (cfg != NULL && cfg->privacy.contact != NULL)
		cJSON_AddStringToObject(doc, "contact", cfg->privacy.contact);
	if (cfg != NULL)
		cJSON_AddNumberToObject(doc, "retention_days", cfg->privacy.retention_days);
	/* One read transaction: a consistent snapshot while the daemon writes. */
	if (store_privacy_requester_tickets(st, address, &ids, &n) < 0) {
		*error_r = db_error(st, "reading tickets");
		goto fail;
	}
	cJSON *tickets = cJSON_AddArrayToObject(doc, "tickets");
	for (size_t i = 0; i < n; i++)
		if (export_ticket(st, ids[i], tickets) < 0) {
			*error_r = db_error(st, "reading a ticket");
			goto fail;
		}
	cJSON *others = cJSON_CreateArray();
	if (store_privacy_rows_json(st, STORE_PRIVACY_OTHER_MESSAGES, 0, address, others) < 0) {
		cJSON_Delete(others);
		*error_r = db_error(st, "reading messages");
		goto fail;
	}
	/* The SQL matched substrings; keep only this very address, and say why
	 * each message is there. The raw mail (other headers) decides last. */
	cJSON *kept = cJSON_AddArrayToObject(doc, "messages_in_other_tickets");
	while (cJSON_GetArraySize(others) > 0) {
		cJSON *m = cJSON_DetachItemFromArray(others, 0);
		const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "from_addr"));
		const char *to = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "to_addrs"));
		const char *cc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "cc_addrs"));
		const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "body_text"));
		const char *raw = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "raw_text"));
		const char *relation = NULL;
		if (from != NULL && strcasecmp(from, address) == 0)
			relation = "sender";
		else if (to != NULL && privacy_mentions(to, strlen(to), address))
			relation = "recipient";
		else if (cc != NULL && privacy_mentions(cc, strlen(cc), address))
			relation = "copied";
		else if (body != NULL && privacy_mentions(body, strlen(body), address))
			relation = "named in the text";
		else if (raw != NULL && privacy_mentions(raw, strlen(raw), address))
			relation = "copied or named in the headers";
		cJSON_DeleteItemFromObjectCaseSensitive(m, "raw_text");
		if (relation != NULL) {
			cJSON_AddStringToObject(m, "relation", relation);
			cJSON_AddItemToArray(kept, m);
		} else {
			cJSON_Delete(m);
		}
	}
	cJSON_Delete(others);
	if (add_rows(st, doc, "outbox_other", STORE_PRIVACY_OTHER_OUTBOX, 0, address) < 0 ||
	    add_rows(st, doc, "acknowledgements", STORE_PRIVACY_ACKS, 0, address) < 0) {
		*error_r = db_error(st, "reading the outbox");
		goto fail;
	}
	/* The SQL matched Cc lists by substring: keep the mail copied to this
	 * very address only ("bob@x.test" is not "jimbob@x.test"). */
	cJSON *outbox = cJSON_GetObjectItemCaseSensitive(doc, "outbox_other");
	for (int i = cJSON_GetArraySize(outbox) - 1; i >= 0; i--) {
		cJSON *o = cJSON_GetArrayItem(outbox, i);
		const char *to = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "to_addr"));
		const char *cc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "cc_addrs"));
		if (!(to != NULL && strcasecmp(to, address) == 0) &&
		    !(cc != NULL && privacy_mentions(cc, strlen(cc), address)))
			cJSON_DeleteItemFromArray(outbox, i);
	}
	char *text = cJSON_Print(doc);
	cJSON_Delete(doc);
	if (text == NULL) {
		*error_r = "cannot format the export";
		return -1;
	}
	*json_r = xstrdup(text);
	cJSON_free(text);
	return 0;
fail:
	cJSON_Delete(doc);
	return -1;
}

/* ---- erasure and purge ---- */

char *privacy_counts_json(const struct store_privacy_counts *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "tickets", (double)c->tickets);
	cJSON_AddNumberToObject(o, "messages", (double)c->messages);
	cJSON_AddNumberToObject(o, "attachments", (double)c->attachments);
	cJSON_AddNumberToObject(o, "triage", (double)c->triage);
	cJSON_AddNumberToObject(o, "suggestions", (double)c->suggestions);
	cJSON_AddNumberToObject(o, "outbox", (double)c->outbox);
	cJSON_AddNumberToObject(o, "events", (double)c->events);
	cJSON_AddNumberToObject(o, "sla_clocks", (double)c->sla_clocks);
	cJSON_AddNumberToObject(o, "sla_webhooks", (double)c->sla_webhooks);
	cJSON_AddNumberToObject(o, "training", (double)c->training);
	cJSON_AddNumberToObject(o, "acknowledgements", (double)c->acks);
	cJSON_AddNumberToObject(o, "messages_scrubbed", (double)c->messages_scrubbed);
	cJSON_AddNumberToObject(o, "events_scrubbed", (double)c->events_scrubbed);
	char *printed = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	char *out = xstrdup(printed);
	cJSON_free(printed);
	return out;
}

/* Deletes ids (and, for an erasure, the address's other traces) in one
 * transaction, with the classifier forgetting them first, then the audit
 * event; counts_r is filled with what went and what was scrubbed. */
static int remove_tickets(struct store *st, const struct config *cfg, struct triage *tr,
			  const int64_t *ids, size_t n, const char *address, const char *actor,
			  const char *kind, cJSON *event_detail, struct store_privacy_counts *c,
			  const char **error_r)
{
	_cleanup_free_ char *counts = NULL; /* before any goto: freed on every path */
	struct triage *own = NULL;
	if (c->training > 0 && tr == NULL) {
		/* The counts a ticket taught live in the model's tables: only the
		 * model can subtract them. */
		if (cfg == NULL) {
			*error_r = "the classifier learned from these tickets: a configuration is needed to unlearn them";
			return -1;
		}
		if (triage_open(st, cfg, &own, error_r) < 0)
			return -1;
		tr = own;
	}
	int ret = -1;
	if (store_begin(st) < 0) {
		*error_r = db_error(st, "begin");
		goto out;
	}
	for (size_t i = 0; tr != NULL && i < n; i++)
		if (triage_forget(tr, st, ids[i], error_r) < 0)
			goto rollback;
	if (store_privacy_delete(st, ids, n, address) < 0) {
		*error_r = db_error(st, "deleting");
		goto rollback;
	}
	if (store_privacy_scrub_events(st, ids, n, address, scrub_cb, (void *)address,
				       &c->events_scrubbed) < 0) {
		*error_r = db_error(st, "scrubbing the audit log");
		goto rollback;
	}
	if (address != NULL &&
	    store_privacy_scrub_messages(st, address, scrub_cb, (void *)address,
					 &c->messages_scrubbed) < 0) {
		*error_r = db_error(st, "scrubbing messages");
		goto rollback;
	}
	counts = privacy_counts_json(c);
	cJSON_AddItemToObject(event_detail, "counts", cJSON_Parse(counts));
	char *printed = cJSON_PrintUnformatted(event_detail);
	int rc = store_event_add(st, 0, actor, kind, printed);
	cJSON_free(printed);
	if (rc < 0) {
		*error_r = db_error(st, "recording the event");
		goto rollback;
	}
	if (store_commit(st) < 0) {
		*error_r = db_error(st, "commit");
		goto rollback;
	}
	ret = 0;
	goto out;
rollback:
	store_rollback(st);
out:
	triage_free(&own);
	return ret;
}

int privacy_erase(struct store *st, const struct config *cfg, struct triage *tr,
		  const char *address_in, const char *actor, bool apply,
		  struct privacy_erase_result *result_r, const char **error_r)
{
	_cleanup_free_ char *address = NULL;
	if (privacy_address_normalize(address_in, &address, error_r) < 0)
		return -1;
	struct privacy_erase_result res = {0};
	address_hash(address, res.address_hash);
	_cleanup_free_ int64_t *ids = NULL;
	size_t n = 0;
	if (store_privacy_requester_tickets(st, address, &ids, &n) < 0 ||
	    store_privacy_count(st, ids, n, address, &res.counts) < 0) {
		*error_r = db_error(st, "counting");
		return -1;
	}
	if (!apply) {
		*result_r = res;
		return 0;
	}
	cJSON *detail = cJSON_CreateObject();
	/* The hash, not the address: the log shows that this person's data was
	 * erased when asked about them, without keeping who they are. */
	cJSON_AddStringToObject(detail, "address_sha256", res.address_hash);
	int rc = remove_tickets(st, cfg, tr, ids, n, address, actor ? actor : "system",
				"privacy.erased", detail, &res.counts, error_r);
	cJSON_Delete(detail);
	if (rc < 0)
		return -1;
	rc = store_privacy_compact(st, 1);
	if (rc < 0) {
		*error_r = db_error(st, "compacting after the erasure");
		return -1;
	}
	res.compacted = rc == 0;
	log_notice("privacy: erased the data of address sha256:%.16s: %lld tickets, %lld messages, "
		   "%lld events scrubbed%s",
		   res.address_hash, (long long)res.counts.tickets, (long long)res.counts.messages,
		   (long long)res.counts.events_scrubbed,
		   res.compacted ? "" : "; the WAL is still in use, run the erasure again to compact");
	*result_r = res;
	return 0;
}

int privacy_purge(struct store *st, const struct config *cfg, struct triage *tr, int64_t now,
		  struct store_privacy_counts *counts_r, const char **error_r)
{
	struct store_privacy_counts c = {0};
	unsigned days = cfg->privacy.retention_days;
	if (days == 0) {
		*counts_r = c;
		return 0;
	}
	int64_t before = now - (int64_t)days * 86400;
	_cleanup_free_ int64_t *ids = NULL;
	size_t n = 0;
	if (store_privacy_expired_tickets(st, before, &ids, &n) < 0 ||
	    store_privacy_count(st, ids, n, NULL, &c) < 0) {
		*error_r = db_error(st, "finding expired tickets");
		return -1;
	}
	if (n == 0) {
		*counts_r = c;
		return 0;
	}
	char when[32];
	iso_time(before, when);
	cJSON *detail = cJSON_CreateObject();
	cJSON_AddNumberToObject(detail, "retention_days", days);
	cJSON_AddStringToObject(detail, "resolved_before", when);
	int rc = remove_tickets(st, cfg, tr, ids, n, NULL, "system", "privacy.purged", detail, &c,
				error_r);
	cJSON_Delete(detail);
	if (rc < 0)
		return -1;
	/* Daily: no VACUUM (secure_delete already zeroes freed pages), but the
	 * text index is merged and the WAL cut so that the text does not stay. */
	if (store_privacy_compact(st, 0) < 0)
		log_warning("privacy: compacting after the purge failed: %s", store_error(st));
	log_info("privacy: retention of %u days: purged %lld tickets resolved before %s "
		 "(%lld messages, %lld attachments, %lld triage rows, %lld outbox rows)",
		 days, (long long)c.tickets, when, (long long)c.messages, (long long)c.attachments,
		 (long long)c.triage, (long long)c.outbox);
	*counts_r = c;
	return 0;
}

void privacy_daily(struct store *st, const struct config *cfg, struct triage *tr, int64_t now,
		   int64_t *last_run_r)
{
	if (cfg->privacy.retention_days == 0 || (*last_run_r != 0 && now - *last_run_r < 86400))
		return;
	/* Set first: a failing purge is retried tomorrow, not on every wake-up. */
	*last_run_r = now;
	struct store_privacy_counts c;
	const char *error;
	if (privacy_purge(st, cfg, tr, now, &c, &error) < 0)
		log_error("privacy: the retention purge failed: %s", error);
}

/* ---- register of processing ---- */

static const char *or_unset(const char *s)
{
	return s != NULL && *s != '\0' ? s : "(not set: privacy.controller / privacy.contact in the configuration)";
}

static const char *tls_name(enum cfg_tls tls)
{
	switch (tls) {
	case CFG_TLS_IMPLICIT: return "implicit TLS";
	case CFG_TLS_STARTTLS: return "STARTTLS";
	case CFG_TLS_NONE: return "no TLS";
	}
	return "?";
}

char *privacy_register(const struct config *cfg)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	const struct cfg_privacy *p = &cfg->privacy;
	strbuf_printf(&sb,
		"REGISTER OF PROCESSING - triaged customer-service ticketing\n"
		"(GDPR article 30; generated from %s by triagectl privacy register)\n\n",
		cfg->path ? cfg->path : "the configuration");
	strbuf_printf(&sb, "Controller: %s\nContact for data-protection requests: %s\n\n",
		      or_unset(p->controller), or_unset(p->contact));

	strbuf_printf(&sb,
		"1. Purposes\n"
		"   Answering the customers who write to the support mailboxes below: keeping\n"
		"   each request as a ticket, routing it to the right queue, proposing answers,\n"
		"   sending the replies, and measuring response times against service levels.\n"
		"   Legal basis: the contract with the customer, or the company's legitimate\n"
		"   interest in answering the people who write to it.\n\n");

	strbuf_printf(&sb,
		"2. People and data\n"
		"   Customers and anyone else who writes to the mailboxes: e-mail address,\n"
		"   display name, the mails themselves (headers, text, HTML, the raw mail),\n"
		"   attachments (name, type, size and content), the replies sent to them.\n"
		"   Derived from the mails: language, category, spam score, sentiment score\n"
		"   with the words behind them, priority, queue, tags, service-level clocks.\n"
		"   Agents: their address in approvals, edits and the audit log.\n\n");

	strbuf_printf(&sb, "3. Sources\n");
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		const struct cfg_mailbox *m = &cfg->mailboxes[i];
		strbuf_printf(&sb, "   Mailbox \"%s\": %s on %s:%u, folder %s, %s%s, queue %s\n",
			      m->name, m->user ? m->user : "?", m->host ? m->host : "?", m->port,
			      m->folder ? m->folder : "INBOX", tls_name(m->tls),
			      m->tls != CFG_TLS_NONE && !m->tls_verify ? " WITHOUT certificate check" : "",
			      m->queue ? m->queue : cfg->default_queue ? cfg->default_queue : "(default)");
	}
	if (cfg->n_mailboxes == 0)
		strbuf_printf(&sb, "   No mailbox is configured.\n");
	strbuf_printf(&sb, "   Mail piped in by the mail server (triagectl ingest).\n\n");

	strbuf_printf(&sb,
		"4. Where the data is kept\n"
		"   One SQLite database: %s (with its -wal and -shm files), on this machine.\n"
		"   Tickets, messages (raw mail included), attachments, triage decisions,\n"
		"   suggested replies, outgoing mail, service-level clocks, the classifier's\n"
		"   word counts and the examples it learned from agents' corrections, a\n"
		"   full-text index of the messages, and the audit log. triaged makes no copy\n"
		"   elsewhere; backups of that file fall under the same rules.\n\n",
		cfg->database ? cfg->database : "?");

	strbuf_printf(&sb, "5. Recipients\n");
	if (cfg->smtp.configured)
		strbuf_printf(&sb, "   Replies go to the customer through %s (%s, from %s).\n",
			      cfg->smtp.url ? cfg->smtp.url : "?", tls_name(cfg->smtp.tls),
			      cfg->smtp.from ? cfg->smtp.from : "?");
	else
		strbuf_printf(&sb, "   No SMTP server is configured: no mail is sent.\n");
	if (cfg->sla != NULL)
		for (size_t i = 0; i < cfg->sla->n_webhooks; i++)
			strbuf_printf(&sb, "   Service-level webhook \"%s\": %s (ticket number, queue, subject).\n",
				      cfg->sla->webhooks[i].name, cfg->sla->webhooks[i].url);
	if (cfg->http.enabled)
		strbuf_printf(&sb, "   Agents and managers read tickets in the web console on %s.\n",
			      cfg->http.listen ? cfg->http.listen : "?");
	strbuf_printf(&sb, "   Agents and managers read tickets with triagectl on this machine.\n\n");

	strbuf_printf(&sb,
		"6. Automatic decisions, and how each is explained to an agent\n"
		"   None of them is final: an agent sees the reasons, corrects the category\n"
		"   (the model learns from it), changes queue, priority or status, and\n"
		"   approves or rejects every proposed reply before it is sent.\n"
		"   - Language: French, English or other, from common words and letter\n"
		"     groups; shown with its confidence.\n"
		"   - Category: a naive Bayes classifier (%s, smoothing %.2f)\n"
		"     trained on the shipped examples and the agents' corrections. Shown with\n"
		"     its confidence and the words that weighed most for and against; below\n"
		"     %.2f the ticket goes to the \"%s\" queue for a person to sort.\n"
		"   - Spam: the same kind of classifier; from a probability of %.2f the mail\n"
		"     is marked as spam, with the words and links that weighed most.\n"
		"   - Sentiment: a score in [-1, 1] from French and English word lists, with\n"
		"     negation, intensifiers, contrast, capitals and exclamation marks; shown\n"
		"     with the words that made it.\n"
		"   - Loop protection: automatic replies, mailing lists and bounces get no\n"
		"     automatic answer; the header that decided is recorded.\n",
		cfg->nlp.variant == CFG_NB_COMPLEMENT ? "complement variant" : "multinomial",
		cfg->nlp.alpha, cfg->nlp.min_confidence,
		cfg->nlp.triage_queue ? cfg->nlp.triage_queue : "triage", cfg->nlp.spam_threshold);
	size_t n_rules = cfg->rules != NULL ? cfg->rules->n_rules : 0;
	strbuf_printf(&sb,
		"   - Queue, priority, assignee, tags, template replies and notifications:\n"
		"     %zu workflow rule%s from the configuration; each firing is recorded in\n"
		"     the ticket's audit log with the rule's name and the reason.\n",
		n_rules, n_rules == 1 ? "" : "s");
	for (size_t i = 0; i < n_rules; i++)
		strbuf_printf(&sb, "       rule \"%s\"\n", cfg->rules->rules[i].name);
	strbuf_printf(&sb,
		"   - Proposed replies: knowledge-base articles and similar solved tickets\n"
		"     ranked by text similarity, each with its score; sent only once an\n"
		"     agent approves them.\n"
		"   `triagectl show TICKET` prints every decision with its explanation.\n\n");

	strbuf_printf(&sb, "7. Retention\n");
	if (p->retention_days > 0)
		strbuf_printf(&sb,
			"   Resolved and closed tickets are deleted with everything attached to\n"
			"   them %u days after their resolution (checked daily).\n",
			p->retention_days);
	else
		strbuf_printf(&sb,
			"   No retention period is set (privacy.retention_days is 0): tickets are\n"
			"   kept until erased on request.\n");
	strbuf_printf(&sb,
		"   Open tickets are kept while open. The audit log keeps ticket numbers and\n"
		"   decisions after a ticket is gone, with addresses and mail text removed.\n\n");

	strbuf_printf(&sb,
		"8. Rights of the people concerned\n"
		"   Access and portability: triagectl privacy export ADDRESS (JSON).\n"
		"   Erasure: triagectl privacy erase ADDRESS --yes (tickets, mails, indexes,\n"
		"   what the classifier learned from them; the audit log keeps only a hash\n"
		"   of the address and the counts).\n"
		"   Rectification: agents change a ticket's fields with triagectl.\n\n");

	strbuf_printf(&sb,
		"9. Security\n"
		"   A dedicated system user and a sandboxed systemd service; the database\n"
		"   folder is readable by that user only; passwords come from files or\n"
		"   systemd credentials and are never logged; mail bodies are not logged;\n"
		"   mail servers are reached over TLS with certificate checks unless noted\n"
		"   above; deleted records are overwritten (SQLite secure_delete).\n");
	return strbuf_steal(&sb);
}
