/* Loads triaged.json into struct config: comments stripped, JSON parsed with
 * cJSON, every key checked against what the section allows, every value
 * against its type and range, references between sections resolved. Each
 * error names the file, the line and the JSON path of the offending key. */
#include "config-private.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calendar.h"
#include "fileio.h"
#include "parse.h"
#include "rules.h"
#include "sla.h"
#include "strbuf.h"
#include "xalloc.h"

#define CONFIG_MAX_BYTES (4u << 20)
#define SECRET_MAX_BYTES 4096
#define HTTP_MAX_PROXIES 32

/* ---- path -> line index --------------------------------------------------
 * cJSON keeps no positions, so a small scanner walks the (valid) text once
 * and records the line where the value of every JSON path starts. */

struct path_line {
	char *path;
	unsigned line;
};


struct scanner {
	const char *p, *end;
	unsigned line;
	struct line_index *index;
};

static void scan_ws(struct scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
		if (*s->p == '\n')
			s->line++;
		s->p++;
	}
}

/* Copies a JSON string's raw content (escapes kept: keys are plain in practice). */
static char *scan_string(struct scanner *s)
{
	const char *start = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		if (*s->p == '\\' && s->p + 1 < s->end)
			s->p++;
		s->p++;
	}
	char *str = xstrndup(start, (size_t)(s->p - start));
	if (s->p < s->end)
		s->p++;
	return str;
}

static void index_add(struct line_index *idx, const char *path, unsigned line)
{
	idx->items = xgrow(idx->items, &idx->cap, idx->count + 1, sizeof(*idx->items));
	idx->items[idx->count].path = xstrdup(path);
	idx->items[idx->count].line = line;
	idx->count++;
}

static void scan_value(struct scanner *s, const char *path, unsigned depth)
{
	scan_ws(s);
	if (s->p >= s->end || depth > 64)
		return;
	index_add(s->index, path, s->line);
	if (*s->p == '{') {
		s->p++;
		for (;;) {
			scan_ws(s);
			if (s->p >= s->end || *s->p == '}') {
				s->p++;
				return;
			}
			if (*s->p == ',') {
				s->p++;
				continue;
			}
			if (*s->p != '"')
				return;
			char *key = scan_string(s);
			char *child = path[0] ? xasprintf("%s.%s", path, key) : xstrdup(key);
			free(key);
			scan_ws(s);
			if (s->p < s->end && *s->p == ':')
				s->p++;
			scan_value(s, child, depth + 1);
			free(child);
		}
	} else if (*s->p == '[') {
		s->p++;
		for (size_t i = 0;; i++) {
			scan_ws(s);
			if (s->p >= s->end || *s->p == ']') {
				s->p++;
				return;
			}
			if (*s->p == ',') {
				s->p++;
				i--;
				continue;
			}
			char *child = xasprintf("%s[%zu]", path, i);
			const char *before = s->p;
			scan_value(s, child, depth + 1);
			free(child);
			/* Whatever the bytes (a NUL, say), each element moves on. */
			if (s->p == before)
				s->p++;
		}
	} else if (*s->p == '"') {
		free(scan_string(s));
	} else {
		/* (strchr() finds the terminating NUL: a NUL byte is no delimiter.) */
		while (s->p < s->end && (*s->p == '\0' || strchr(",}] \t\r\n", *s->p) == NULL))
			s->p++;
	}
}

static unsigned index_line(const struct line_index *idx, const char *path)
{
	/* The value of a missing key is reported at its parent object. */
	_cleanup_free_ char *probe = xstrdup(path);
	for (;;) {
		for (size_t i = 0; i < idx->count; i++)
			if (strcmp(idx->items[i].path, probe) == 0)
				return idx->items[i].line;
		char *cut = strrchr(probe, '.');
		char *bracket = strrchr(probe, '[');
		if (bracket != NULL && (cut == NULL || bracket > cut))
			cut = bracket;
		if (cut == NULL)
			return probe[0] ? index_line(idx, "") : 1;
		*cut = '\0';
	}
}

static void index_free(struct line_index *idx)
{
	for (size_t i = 0; i < idx->count; i++)
		free(idx->items[i].path);
	free(idx->items);
	memset(idx, 0, sizeof(*idx));
}

/* ---- comments -------------------------------------------------------------
 * Replaced by spaces (newlines kept) so that positions do not move. */
static void strip_comments(char *text, size_t len)
{
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '/' && i + 1 < len && text[i + 1] == '/') {
			while (i < len && text[i] != '\n')
				text[i++] = ' ';
		} else if (c == '/' && i + 1 < len && text[i + 1] == '*') {
			text[i] = text[i + 1] = ' ';
			for (i += 2; i < len && !(text[i] == '*' && i + 1 < len && text[i + 1] == '/'); i++)
				if (text[i] != '\n')
					text[i] = ' ';
			if (i < len)
				text[i] = text[i + 1] = ' ', i++;
		}
	}
}

/* ---- errors ---------------------------------------------------------------- */

static void errors_add(struct cfg_errors *errors, char *msg)
{
	errors->items = xgrow(errors->items, &errors->cap, errors->count + 1, sizeof(char *));
	errors->items[errors->count++] = msg;
}

void cfg_errors_free(struct cfg_errors *errors)
{
	for (size_t i = 0; i < errors->count; i++)
		free(errors->items[i]);
	free(errors->items);
	memset(errors, 0, sizeof(*errors));
}

/* ---- typed reader --------------------------------------------------------- */


void cfg_error(struct reader *r, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	errors_add(r->errors, xasprintf("%s:%u: %s: %s", r->file, index_line(&r->lines, path),
					path[0] ? path : "(top level)", msg));
	free(msg);
}

char *cfg_key_path(const char *parent, const char *key)
{
	return parent[0] ? xasprintf("%s.%s", parent, key) : xstrdup(key);
}

/* A short rendering of a value for error messages. */
char *cfg_show_value(const cJSON *v)
{
	char *printed = cJSON_PrintUnformatted(v);
	if (printed == NULL)
		return xstrdup("?");
	if (strlen(printed) > 40)
		strcpy(printed + 37, "...");
	char *out = xstrdup(printed);
	cJSON_free(printed);
	return out;
}

/* Checks that node is an object and that it has no key outside allowed. */
bool cfg_check_object(struct reader *r, const cJSON *node, const char *path,
			 const char *const *allowed)
{
	if (!cJSON_IsObject(node)) {
		_cleanup_free_ char *got = cfg_show_value(node);
		cfg_error(r, path, "expected an object, got %s", got);
		return false;
	}
	for (const cJSON *item = node->child; item != NULL; item = item->next) {
		bool known = false;
		for (size_t i = 0; allowed[i] != NULL; i++)
			if (strcmp(item->string, allowed[i]) == 0)
				known = true;
		for (const cJSON *dup = node->child; dup != item; dup = dup->next)
			if (strcmp(dup->string, item->string) == 0) {
				_cleanup_free_ char *p = cfg_key_path(path, item->string);
				cfg_error(r, p, "duplicate key");
			}
		if (!known) {
			_cleanup_free_ char *p = cfg_key_path(path, item->string);
			struct strbuf names = STRBUF_INIT;
			for (size_t i = 0; allowed[i] != NULL; i++)
				strbuf_printf(&names, "%s%s", i ? ", " : "", allowed[i]);
			cfg_error(r, p, "unknown key (known keys here: %s)", strbuf_str(&names));
			strbuf_free(&names);
		}
	}
	return true;
}

const cJSON *cfg_get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

void cfg_read_string(struct reader *r, const cJSON *obj, const char *path, const char *key,
			const char *def, char **out)
{
	const cJSON *v = cfg_get(obj, key);
	if (v == NULL || cJSON_IsNull(v)) {
		*out = def ? xstrdup(def) : NULL;
		return;
	}
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
		_cleanup_free_ char *p = cfg_key_path(path, key);
		_cleanup_free_ char *got = cfg_show_value(v);
		cfg_error(r, p, "expected a non-empty string, got %s", got);
		*out = def ? xstrdup(def) : NULL;
		return;
	}
	*out = xstrdup(v->valuestring);
}

void cfg_require_string(struct reader *r, const cJSON *obj, const char *path, const char *key,
			   char **out)
{
	cfg_read_string(r, obj, path, key, NULL, out);
	if (*out == NULL && cfg_get(obj, key) == NULL) {
		_cleanup_free_ char *p = cfg_key_path(path, key);
		cfg_error(r, p, "required key is missing");
	}
}

/* Resolves a file path relative to the config file's folder. */
void cfg_read_path(struct reader *r, const cJSON *obj, const char *path, const char *key,
		      const char *def, char **out)
{
	cfg_read_string(r, obj, path, key, def, out);
	if (*out != NULL && (*out)[0] != '/' && r->base_dir != NULL) {
		char *abs = xasprintf("%s/%s", r->base_dir, *out);
		free(*out);
		*out = abs;
	}
}

void cfg_read_uint(struct reader *r, const cJSON *obj, const char *path, const char *key,
		      unsigned min, unsigned max, unsigned def, unsigned *out)
{
	const cJSON *v = cfg_get(obj, key);
	*out = def;
	if (v == NULL)
		return;
	/* The range first: converting a double out of range (or NaN) to an
	 * integer type is undefined. */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max) ||
	    v->valuedouble != (double)(unsigned)v->valuedouble) {
		_cleanup_free_ char *p = cfg_key_path(path, key);
		_cleanup_free_ char *got = cfg_show_value(v);
		cfg_error(r, p, "expected an integer %u..%u, got %s", min, max, got);
		return;
	}
	*out = (unsigned)v->valuedouble;
}

void cfg_read_double(struct reader *r, const cJSON *obj, const char *path, const char *key,
			double min, double max, double def, double *out)
{
	const cJSON *v = cfg_get(obj, key);
	*out = def;
	if (v == NULL)
		return;
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max) {
		_cleanup_free_ char *p = cfg_key_path(path, key);
		_cleanup_free_ char *got = cfg_show_value(v);
		cfg_error(r, p, "expected a number %g..%g, got %s", min, max, got);
		return;
	}
	*out = v->valuedouble;
}

void cfg_read_bool(struct reader *r, const cJSON *obj, const char *path, const char *key,
		      bool def, bool *out)
{
	const cJSON *v = cfg_get(obj, key);
	*out = def;
	if (v == NULL)
		return;
	if (!cJSON_IsBool(v)) {
		_cleanup_free_ char *p = cfg_key_path(path, key);
		_cleanup_free_ char *got = cfg_show_value(v);
		cfg_error(r, p, "expected true or false, got %s", got);
		return;
	}
	*out = cJSON_IsTrue(v);
}

/* names is NULL-terminated; the index of the match is the value. */
void cfg_read_enum(struct reader *r, const cJSON *obj, const char *path, const char *key,
		      const char *const *names, int def, int *out)
{
	const cJSON *v = cfg_get(obj, key);
	*out = def;
	if (v == NULL)
		return;
	if (cJSON_IsString(v))
		for (int i = 0; names[i] != NULL; i++)
			if (strcmp(v->valuestring, names[i]) == 0) {
				*out = i;
				return;
			}
	struct strbuf list = STRBUF_INIT;
	for (int i = 0; names[i] != NULL; i++)
		strbuf_printf(&list, "%s\"%s\"", i ? ", " : "", names[i]);
	_cleanup_free_ char *p = cfg_key_path(path, key);
	_cleanup_free_ char *got = cfg_show_value(v);
	cfg_error(r, p, "expected one of %s, got %s", strbuf_str(&list), got);
	strbuf_free(&list);
}

bool cfg_is_identifier(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* ---- sections --------------------------------------------------------------- */

static const char *const tls_names[] = {"implicit", "starttls", "none", NULL};

static void read_mailbox(struct reader *r, const cJSON *node, const char *path,
			 struct cfg_mailbox *mb)
{
	static const char *const keys[] = {"name", "host", "port", "tls", "tls_verify",
		"tls_ca_file", "user", "password_file", "password_env", "folder", "after", "idle",
		"poll_seconds", "timeout_seconds", "queue", "max_attachment_bytes", NULL};
	if (!cfg_check_object(r, node, path, keys))
		return;
	cfg_require_string(r, node, path, "name", &mb->name);
	if (mb->name != NULL && !cfg_is_identifier(mb->name)) {
		_cleanup_free_ char *p = cfg_key_path(path, "name");
		cfg_error(r, p, "expected letters, digits, '-', '_' or '.', got \"%s\"", mb->name);
	}
	cfg_require_string(r, node, path, "host", &mb->host);
	int tls;
	cfg_read_enum(r, node, path, "tls", tls_names, CFG_TLS_IMPLICIT, &tls);
	mb->tls = (enum cfg_tls)tls;
	cfg_read_uint(r, node, path, "port", 1, 65535, mb->tls == CFG_TLS_IMPLICIT ? 993 : 143,
		  &mb->port);
	cfg_read_bool(r, node, path, "tls_verify", true, &mb->tls_verify);
	cfg_read_path(r, node, path, "tls_ca_file", NULL, &mb->tls_ca_file);
	cfg_require_string(r, node, path, "user", &mb->user);
	cfg_read_path(r, node, path, "password_file", NULL, &mb->password_file);
	cfg_read_string(r, node, path, "password_env", NULL, &mb->password_env);
	if ((mb->password_file == NULL) == (mb->password_env == NULL))
		cfg_error(r, path, "exactly one of password_file and password_env is required");
	cfg_read_string(r, node, path, "folder", "INBOX", &mb->folder);
	_cleanup_free_ char *after = NULL;
	cfg_read_string(r, node, path, "after", "seen", &after);
	if (strcmp(after, "seen") == 0) {
		mb->after = CFG_AFTER_SEEN;
	} else if (strcmp(after, "keep") == 0) {
		mb->after = CFG_AFTER_KEEP;
	} else if (strncmp(after, "move:", 5) == 0 && after[5] != '\0') {
		mb->after = CFG_AFTER_MOVE;
		mb->after_folder = xstrdup(after + 5);
	} else {
		_cleanup_free_ char *p = cfg_key_path(path, "after");
		cfg_error(r, p, "expected \"seen\", \"keep\" or \"move:FOLDER\", got \"%s\"", after);
	}
	cfg_read_bool(r, node, path, "idle", true, &mb->idle);
	cfg_read_uint(r, node, path, "poll_seconds", 1, 86400, 60, &mb->poll_seconds);
	cfg_read_uint(r, node, path, "timeout_seconds", 1, 3600, 60, &mb->timeout_seconds);
	cfg_read_string(r, node, path, "queue", NULL, &mb->queue);
	unsigned max_att;
	cfg_read_uint(r, node, path, "max_attachment_bytes", 0, 1u << 30, 25u << 20, &max_att);
	mb->max_attachment_bytes = max_att;
}

static void read_queues(struct reader *r, const cJSON *node, struct config *cfg)
{
	if (node == NULL)
		return;
	if (!cJSON_IsArray(node)) {
		cfg_error(r, "queues", "expected an array of queue names or objects");
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(node);
	cfg->queues = xcalloc(n, sizeof(*cfg->queues));
	const cJSON *item;
	size_t i = 0;
	cJSON_ArrayForEach(item, node) {
		_cleanup_free_ char *path = xasprintf("queues[%zu]", i);
		struct cfg_queue *q = &cfg->queues[cfg->n_queues];
		if (cJSON_IsString(item)) {
			q->name = xstrdup(item->valuestring);
		} else {
			static const char *const keys[] = {"name", "calendar", NULL};
			if (!cfg_check_object(r, item, path, keys)) {
				i++;
				continue;
			}
			cfg_require_string(r, item, path, "name", &q->name);
			cfg_read_string(r, item, path, "calendar", NULL, &q->calendar);
		}
		if (q->name != NULL && !cfg_is_identifier(q->name))
			cfg_error(r, path, "a queue name takes letters, digits, '-', '_' or '.', got \"%s\"",
			     q->name);
		for (size_t j = 0; q->name != NULL && j < cfg->n_queues; j++)
			if (strcmp(cfg->queues[j].name, q->name) == 0)
				cfg_error(r, path, "queue \"%s\" is defined twice", q->name);
		if (q->name != NULL)
			cfg->n_queues++;
		i++;
	}
}

static void read_nlp(struct reader *r, const cJSON *node, struct config *cfg)
{
	static const char *const keys[] = {"min_confidence", "triage_queue", "alpha", "variant",
		"length_normalize", "spam_threshold", "training_dir", "lexicon_dir", "stopwords_dir",
		NULL};
	struct cfg_nlp *nlp = &cfg->nlp;
	static const cJSON empty = {.type = cJSON_Object};
	if (node == NULL)
		node = &empty;
	if (!cfg_check_object(r, node, "nlp", keys))
		node = &empty;
	cfg_read_double(r, node, "nlp", "min_confidence", 0, 1, 0.55, &nlp->min_confidence);
	nlp->triage_queue_explicit = cfg_get(node, "triage_queue") != NULL;
	cfg_read_string(r, node, "nlp", "triage_queue", "triage", &nlp->triage_queue);
	cfg_read_double(r, node, "nlp", "alpha", 1e-6, 100, 0.5, &nlp->alpha);
	static const char *const variants[] = {"multinomial", "complement", NULL};
	int variant;
	cfg_read_enum(r, node, "nlp", "variant", variants, CFG_NB_COMPLEMENT, &variant);
	nlp->variant = (enum cfg_nb_variant)variant;
	cfg_read_bool(r, node, "nlp", "length_normalize", true, &nlp->length_normalize);
	cfg_read_double(r, node, "nlp", "spam_threshold", 0, 1, 0.9, &nlp->spam_threshold);
	_cleanup_free_ char *training = xasprintf("%s/training", cfg->data_dir);
	_cleanup_free_ char *lexicons = xasprintf("%s/lexicons", cfg->data_dir);
	_cleanup_free_ char *stopwords = xasprintf("%s/stopwords", cfg->data_dir);
	cfg_read_path(r, node, "nlp", "training_dir", training, &nlp->training_dir);
	cfg_read_path(r, node, "nlp", "lexicon_dir", lexicons, &nlp->lexicon_dir);
	cfg_read_path(r, node, "nlp", "stopwords_dir", stopwords, &nlp->stopwords_dir);
}

static void read_kb(struct reader *r, const cJSON *node, struct config *cfg)
{
	static const char *const keys[] = {"articles_dir", "suggestions", "similar",
		"templates_dir", NULL};
	static const cJSON empty = {.type = cJSON_Object};
	if (node == NULL || !cfg_check_object(r, node, "kb", keys))
		node = &empty;
	_cleanup_free_ char *articles = xasprintf("%s/kb", cfg->data_dir);
	_cleanup_free_ char *templates = xasprintf("%s/templates", cfg->data_dir);
	cfg_read_path(r, node, "kb", "articles_dir", articles, &cfg->kb.articles_dir);
	cfg_read_path(r, node, "kb", "templates_dir", templates, &cfg->kb.templates_dir);
	cfg_read_uint(r, node, "kb", "suggestions", 0, 20, 3, &cfg->kb.suggestions);
	cfg_read_uint(r, node, "kb", "similar", 0, 20, 3, &cfg->kb.similar);
}

static void read_smtp(struct reader *r, const cJSON *node, struct config *cfg)
{
	static const char *const keys[] = {"url", "tls", "tls_verify", "tls_ca_file", "user",
		"password_file", "password_env", "from", "max_attempts", "retry_seconds",
		"timeout_seconds", "ack_per_sender_seconds", NULL};
	struct cfg_smtp *smtp = &cfg->smtp;
	static const cJSON empty = {.type = cJSON_Object};
	smtp->configured = node != NULL;
	if (node == NULL || !cfg_check_object(r, node, "smtp", keys))
		node = &empty;
	if (smtp->configured) {
		cfg_require_string(r, node, "smtp", "url", &smtp->url);
		cfg_require_string(r, node, "smtp", "from", &smtp->from);
	}
	bool implicit = smtp->url != NULL && strncmp(smtp->url, "smtps://", 8) == 0;
	if (smtp->url != NULL && !implicit && strncmp(smtp->url, "smtp://", 7) != 0)
		cfg_error(r, "smtp.url", "expected a smtp:// or smtps:// URL, got \"%s\"", smtp->url);
	int tls;
	cfg_read_enum(r, node, "smtp", "tls", tls_names, implicit ? CFG_TLS_IMPLICIT : CFG_TLS_STARTTLS,
		  &tls);
	smtp->tls = (enum cfg_tls)tls;
	if (smtp->url != NULL && implicit != (smtp->tls == CFG_TLS_IMPLICIT))
		cfg_error(r, "smtp.tls", "implicit TLS goes with smtps:// URLs and only with them");
	cfg_read_bool(r, node, "smtp", "tls_verify", true, &smtp->tls_verify);
	cfg_read_path(r, node, "smtp", "tls_ca_file", NULL, &smtp->tls_ca_file);
	cfg_read_string(r, node, "smtp", "user", NULL, &smtp->user);
	cfg_read_path(r, node, "smtp", "password_file", NULL, &smtp->password_file);
	cfg_read_string(r, node, "smtp", "password_env", NULL, &smtp->password_env);
	if (smtp->password_file != NULL && smtp->password_env != NULL)
		cfg_error(r, "smtp", "give password_file or password_env, not both");
	if ((smtp->password_file != NULL || smtp->password_env != NULL) && smtp->user == NULL)
		cfg_error(r, "smtp.user", "a password needs a user");
	cfg_read_uint(r, node, "smtp", "max_attempts", 1, 100, 8, &smtp->max_attempts);
	cfg_read_uint(r, node, "smtp", "retry_seconds", 1, 86400, 30, &smtp->retry_seconds);
	cfg_read_uint(r, node, "smtp", "timeout_seconds", 1, 600, 30, &smtp->timeout_seconds);
	cfg_read_uint(r, node, "smtp", "ack_per_sender_seconds", 0, 30 * 86400, 3600,
		  &smtp->ack_per_sender_seconds);
}

static const char *const weekday_keys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

static void read_calendar(struct reader *r, const cJSON *node, const char *path,
			  struct cfg_calendar *cc)
{
	static const char *const keys[] = {"timezone", "hours", "holidays", "holidays_ical", NULL};
	if (!cfg_check_object(r, node, path, keys))
		return;
	_cleanup_free_ char *tz = NULL;
	_cleanup_free_ char *tz_path = cfg_key_path(path, "timezone");
	cfg_require_string(r, node, path, "timezone", &tz);
	if (tz == NULL)
		return;
	const char *error;
	cc->cal = cal_new(cc->name, tz, &error);
	if (cc->cal == NULL) {
		cfg_error(r, tz_path, "%s: \"%s\"", error, tz);
		return;
	}
	const cJSON *hours = cfg_get(node, "hours");
	_cleanup_free_ char *hours_path = cfg_key_path(path, "hours");
	if (hours == NULL) {
		cfg_error(r, hours_path, "required key is missing");
	} else if (cfg_check_object(r, hours, hours_path, weekday_keys)) {
		for (int day = 0; day < 7; day++) {
			const cJSON *list = cfg_get(hours, weekday_keys[day]);
			_cleanup_free_ char *day_path = cfg_key_path(hours_path, weekday_keys[day]);
			if (list == NULL)
				continue;
			if (!cJSON_IsArray(list)) {
				cfg_error(r, day_path, "expected a list like [\"09:00-12:30\", \"13:30-18:00\"]");
				continue;
			}
			size_t i = 0;
			const cJSON *iv;
			cJSON_ArrayForEach(iv, list) {
				_cleanup_free_ char *iv_path = xasprintf("%s[%zu]", day_path, i++);
				struct cal_interval interval;
				if (!cJSON_IsString(iv)) {
					cfg_error(r, iv_path, "expected \"HH:MM-HH:MM\"");
				} else if (cal_parse_interval(iv->valuestring, &interval, &error) < 0 ||
					   cal_add_hours(cc->cal, day, interval, &error) < 0) {
					cfg_error(r, iv_path, "%s", error);
				}
			}
		}
	}
	const cJSON *holidays = cfg_get(node, "holidays");
	_cleanup_free_ char *hol_path = cfg_key_path(path, "holidays");
	if (holidays != NULL && !cJSON_IsArray(holidays)) {
		cfg_error(r, hol_path, "expected a list of dates like [\"2026-12-25\"]");
	} else if (holidays != NULL) {
		size_t i = 0;
		const cJSON *h;
		cJSON_ArrayForEach(h, holidays) {
			_cleanup_free_ char *h_path = xasprintf("%s[%zu]", hol_path, i++);
			int64_t y, m, d;
			char ys[5], ms[3], ds[3];
			const char *s = cJSON_IsString(h) ? h->valuestring : "";
			bool shape = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
			if (shape) {
				memcpy(ys, s, 4), ys[4] = '\0';
				memcpy(ms, s + 5, 2), ms[2] = '\0';
				memcpy(ds, s + 8, 2), ds[2] = '\0';
			}
			if (!shape || parse_int64(ys, 1970, 9999, &y) < 0 ||
			    parse_int64(ms, 1, 12, &m) < 0 || parse_int64(ds, 1, 31, &d) < 0) {
				_cleanup_free_ char *got = cfg_show_value(h);
				cfg_error(r, h_path, "expected a date YYYY-MM-DD, got %s", got);
			} else if (cal_add_holiday(cc->cal, (int)y, (int)m, (int)d, &error) < 0) {
				cfg_error(r, h_path, "%s", error);
			}
		}
	}
	_cleanup_free_ char *ical = NULL;
	cfg_read_path(r, node, path, "holidays_ical", NULL, &ical);
	if (ical != NULL && cal_load_ical_holidays(cc->cal, ical, &error) < 0) {
		_cleanup_free_ char *p = cfg_key_path(path, "holidays_ical");
		cfg_error(r, p, "%s", error);
	}
}

static void read_calendars(struct reader *r, const cJSON *node, struct config *cfg)
{
	if (node == NULL)
		return;
	if (!cJSON_IsObject(node)) {
		cfg_error(r, "calendars", "expected an object of named calendars");
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(node);
	cfg->calendars = xcalloc(n, sizeof(*cfg->calendars));
	for (const cJSON *item = node->child; item != NULL; item = item->next) {
		_cleanup_free_ char *path = cfg_key_path("calendars", item->string);
		struct cfg_calendar *cc = &cfg->calendars[cfg->n_calendars++];
		cc->name = xstrdup(item->string);
		read_calendar(r, item, path, cc);
	}
}

static void read_http(struct reader *r, const cJSON *node, struct config *cfg)
{
	static const char *const keys[] = {"listen", "tls_cert", "tls_key", "public_url",
		"allow_plain_http", "static_dir", "session_idle_minutes", "trusted_proxies", NULL};
	struct cfg_http *http = &cfg->http;
	static const cJSON empty = {.type = cJSON_Object};
	http->enabled = node != NULL;
	if (node == NULL || !cfg_check_object(r, node, "http", keys))
		node = &empty;
	cfg_read_string(r, node, "http", "listen", "127.0.0.1:8025", &http->listen);
	cfg_read_path(r, node, "http", "tls_cert", NULL, &http->tls_cert);
	cfg_read_path(r, node, "http", "tls_key", NULL, &http->tls_key);
	if ((http->tls_cert == NULL) != (http->tls_key == NULL))
		cfg_error(r, "http", "tls_cert and tls_key go together");
	cfg_read_string(r, node, "http", "public_url", NULL, &http->public_url);
	cfg_read_bool(r, node, "http", "allow_plain_http", false, &http->allow_plain_http);
	_cleanup_free_ char *web = xasprintf("%s/web", cfg->data_dir);
	cfg_read_path(r, node, "http", "static_dir", web, &http->static_dir);
	cfg_read_uint(r, node, "http", "session_idle_minutes", 1, 7 * 24 * 60, 60,
		  &http->session_idle_minutes);
	const cJSON *proxies = cJSON_GetObjectItemCaseSensitive(node, "trusted_proxies");
	if (proxies == NULL)
		return;
	if (!cJSON_IsArray(proxies) || cJSON_GetArraySize(proxies) > HTTP_MAX_PROXIES) {
		cfg_error(r, "http.trusted_proxies", "expected an array of at most %d IP addresses",
			  HTTP_MAX_PROXIES);
		return;
	}
	http->trusted_proxies = xcalloc((size_t)cJSON_GetArraySize(proxies) + 1, sizeof(char *));
	size_t i = 0;
	for (const cJSON *p = proxies->child; p != NULL; p = p->next, i++) {
		_cleanup_free_ char *path = xasprintf("http.trusted_proxies[%zu]", i);
		unsigned char bin[sizeof(struct in6_addr)];
		char canon[INET6_ADDRSTRLEN];
		int family = cJSON_IsString(p) && strchr(p->valuestring, ':') ? AF_INET6 : AF_INET;
		if (!cJSON_IsString(p) || inet_pton(family, p->valuestring, bin) != 1 ||
		    inet_ntop(family, bin, canon, sizeof(canon)) == NULL) {
			_cleanup_free_ char *got = cfg_show_value(p);
			cfg_error(r, path, "expected a numeric IPv4 or IPv6 address, got %s", got);
			continue;
		}
		http->trusted_proxies[http->n_trusted_proxies++] = xstrdup(canon);
	}
}

static void read_privacy(struct reader *r, const cJSON *node, struct config *cfg)
{
	static const char *const keys[] = {"retention_days", "controller", "contact", NULL};
	static const cJSON empty = {.type = cJSON_Object};
	if (node == NULL || !cfg_check_object(r, node, "privacy", keys))
		node = &empty;
	cfg_read_uint(r, node, "privacy", "retention_days", 0, 36500, 0, &cfg->privacy.retention_days);
	cfg_read_string(r, node, "privacy", "controller", NULL, &cfg->privacy.controller);
	cfg_read_string(r, node, "privacy", "contact", NULL, &cfg->privacy.contact);
}

/* References between sections, checked once everything is read. */
static void check_references(struct reader *r, struct config *cfg)
{
	if (cfg->default_queue != NULL && config_queue(cfg, cfg->default_queue) == NULL)
		cfg_error(r, "default_queue", "unknown queue \"%s\"", cfg->default_queue);
	if (cfg->nlp.triage_queue != NULL && config_queue(cfg, cfg->nlp.triage_queue) == NULL) {
		if (cfg->nlp.triage_queue_explicit) {
			cfg_error(r, "nlp.triage_queue", "unknown queue \"%s\" (add it to \"queues\")",
				  cfg->nlp.triage_queue);
		} else {
			/* The human triage queue exists even when not listed. */
			cfg->queues = xrealloc(cfg->queues, (cfg->n_queues + 1) * sizeof(*cfg->queues));
			cfg->queues[cfg->n_queues++] =
				(struct cfg_queue){.name = xstrdup(cfg->nlp.triage_queue)};
		}
	}
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		const struct cfg_mailbox *mb = &cfg->mailboxes[i];
		_cleanup_free_ char *path = xasprintf("mailboxes[%zu]", i);
		if (mb->queue != NULL && config_queue(cfg, mb->queue) == NULL) {
			_cleanup_free_ char *p = cfg_key_path(path, "queue");
			cfg_error(r, p, "unknown queue \"%s\"", mb->queue);
		}
		for (size_t j = 0; j < i; j++)
			if (mb->name && cfg->mailboxes[j].name &&
			    strcmp(mb->name, cfg->mailboxes[j].name) == 0) {
				_cleanup_free_ char *p = cfg_key_path(path, "name");
				cfg_error(r, p, "mailbox \"%s\" is defined twice", mb->name);
			}
	}
	for (size_t i = 0; i < cfg->n_queues; i++) {
		const struct cfg_queue *q = &cfg->queues[i];
		if (q->calendar != NULL && config_calendar(cfg, q->calendar) == NULL) {
			_cleanup_free_ char *p = xasprintf("queues[%zu].calendar", i);
			cfg_error(r, p, "unknown calendar \"%s\"", q->calendar);
		}
	}
	if (cfg->default_calendar != NULL && config_calendar(cfg, cfg->default_calendar) == NULL)
		cfg_error(r, "default_calendar", "unknown calendar \"%s\"", cfg->default_calendar);
}

static void set_defaults(struct config *cfg)
{
	cfg->nlp.min_confidence = 0.55;
	cfg->nlp.alpha = 0.5;
	cfg->nlp.variant = CFG_NB_COMPLEMENT;
	cfg->nlp.length_normalize = true;
	cfg->nlp.spam_threshold = 0.9;
}

static void syntax_error(struct reader *r, const char *text, const char *at)
{
	unsigned line = 1, col = 1;
	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n')
			line++, col = 1;
		else
			col++;
	}
	errors_add(r->errors, xasprintf("%s:%u:%u: JSON syntax error near \"%.20s\"", r->file,
					line, col, at && *at ? at : "end of file"));
}

int config_load(const char *path, struct config **cfg_r, struct cfg_errors *errors)
{
	memset(errors, 0, sizeof(*errors));
	_cleanup_free_ char *text = NULL;
	size_t len;
	const char *error;
	if (file_read_all(path, CONFIG_MAX_BYTES, &text, &len, &error) < 0) {
		errors_add(errors, xasprintf("%s: %s", path, error));
		return -1;
	}
	strip_comments(text, len);
	struct reader r = {.file = path, .errors = errors};
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		r.base_dir = dir[0] ? dir : "/";
	} else {
		r.base_dir = ".";
	}
	const char *parse_end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &parse_end, false);
	if (root == NULL) {
		syntax_error(&r, text, parse_end);
		return -1;
	}
	/* Only white space (and comments, blanked above) may follow the value. */
	for (const char *p = parse_end; p != NULL && p < text + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			syntax_error(&r, text, p);
			cJSON_Delete(root);
			return -1;
		}
	struct scanner sc = {.p = text, .end = text + len, .line = 1, .index = &r.lines};
	scan_value(&sc, "", 0);

	struct config *cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = xstrdup(path);
	set_defaults(cfg);
	static const char *const keys[] = {"database", "data_dir", "mailboxes", "queues",
		"default_queue", "default_calendar", "nlp", "kb", "smtp", "calendars", "http",
		"privacy", "sla", "rules", NULL};
	if (cfg_check_object(&r, root, "", keys)) {
		cfg_read_path(&r, root, "", "database", "/var/lib/triaged/triaged.db", &cfg->database);
		cfg_read_path(&r, root, "", "data_dir", TRIAGED_DATADIR, &cfg->data_dir);
		read_queues(&r, cfg_get(root, "queues"), cfg);
		cfg_read_string(&r, root, "", "default_queue", cfg->n_queues ? cfg->queues[0].name : NULL,
			    &cfg->default_queue);
		const cJSON *mailboxes = cfg_get(root, "mailboxes");
		if (mailboxes != NULL && !cJSON_IsArray(mailboxes)) {
			cfg_error(&r, "mailboxes", "expected an array of mailboxes");
		} else if (mailboxes != NULL) {
			size_t n = (size_t)cJSON_GetArraySize(mailboxes);
			cfg->mailboxes = xcalloc(n, sizeof(*cfg->mailboxes));
			const cJSON *mb;
			cJSON_ArrayForEach(mb, mailboxes) {
				_cleanup_free_ char *p = xasprintf("mailboxes[%zu]", cfg->n_mailboxes);
				read_mailbox(&r, mb, p, &cfg->mailboxes[cfg->n_mailboxes++]);
			}
		}
		read_nlp(&r, cfg_get(root, "nlp"), cfg);
		read_kb(&r, cfg_get(root, "kb"), cfg);
		read_smtp(&r, cfg_get(root, "smtp"), cfg);
		read_calendars(&r, cfg_get(root, "calendars"), cfg);
		cfg_read_string(&r, root, "", "default_calendar",
			    cfg->n_calendars ? cfg->calendars[0].name : NULL, &cfg->default_calendar);
		read_http(&r, cfg_get(root, "http"), cfg);
		read_privacy(&r, cfg_get(root, "privacy"), cfg);
		check_references(&r, cfg);
		config_read_sla(&r, cfg_get(root, "sla"), cfg);
		config_read_rules(&r, cfg_get(root, "rules"), cfg);
	}
	cJSON_Delete(root);
	index_free(&r.lines);
	if (errors->count > 0) {
		config_free(&cfg);
		return -1;
	}
	*cfg_r = cfg;
	return 0;
}

struct config *config_default(const char *database)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct cfg_errors errors = {0};
	struct reader r = {.file = "(defaults)", .errors = &errors};
	set_defaults(cfg);
	cfg->path = xstrdup("(defaults)");
	cfg->database = xstrdup(database);
	const char *data_dir = getenv("TRIAGED_DATA_DIR");
	cfg->data_dir = xstrdup(data_dir ? data_dir : TRIAGED_DATADIR);
	read_nlp(&r, NULL, cfg);
	read_kb(&r, NULL, cfg);
	read_smtp(&r, NULL, cfg);
	read_http(&r, NULL, cfg);
	read_privacy(&r, NULL, cfg);
	cfg_errors_free(&errors);
	return cfg;
}

void config_mailbox_clear(struct cfg_mailbox *mb)
{
	free(mb->name);
	free(mb->host);
	free(mb->tls_ca_file);
	free(mb->user);
	free(mb->password_file);
	free(mb->password_env);
	free(mb->folder);
	free(mb->after_folder);
	free(mb->queue);
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void config_mailbox_copy(struct cfg_mailbox *dst, const struct cfg_mailbox *src)
{
	*dst = *src;
	dst->name = dup_or_null(src->name);
	dst->host = dup_or_null(src->host);
	dst->tls_ca_file = dup_or_null(src->tls_ca_file);
	dst->user = dup_or_null(src->user);
	dst->password_file = dup_or_null(src->password_file);
	dst->password_env = dup_or_null(src->password_env);
	dst->folder = dup_or_null(src->folder);
	dst->after_folder = dup_or_null(src->after_folder);
	dst->queue = dup_or_null(src->queue);
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool config_mailbox_equal(const struct cfg_mailbox *a, const struct cfg_mailbox *b)
{
	return same_string(a->name, b->name) && same_string(a->host, b->host) &&
	       a->port == b->port && a->tls == b->tls && a->tls_verify == b->tls_verify &&
	       same_string(a->tls_ca_file, b->tls_ca_file) && same_string(a->user, b->user) &&
	       same_string(a->password_file, b->password_file) &&
	       same_string(a->password_env, b->password_env) && same_string(a->folder, b->folder) &&
	       a->after == b->after && same_string(a->after_folder, b->after_folder) &&
	       a->idle == b->idle && a->poll_seconds == b->poll_seconds &&
	       a->timeout_seconds == b->timeout_seconds && same_string(a->queue, b->queue) &&
	       a->max_attachment_bytes == b->max_attachment_bytes;
}

void config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		config_mailbox_clear(&cfg->mailboxes[i]);
	free(cfg->mailboxes);
	for (size_t i = 0; i < cfg->n_queues; i++) {
		free(cfg->queues[i].name);
		free(cfg->queues[i].calendar);
	}
	free(cfg->queues);
	for (size_t i = 0; i < cfg->n_calendars; i++) {
		free(cfg->calendars[i].name);
		cal_free(&cfg->calendars[i].cal);
	}
	free(cfg->calendars);
	free(cfg->nlp.triage_queue);
	free(cfg->nlp.training_dir);
	free(cfg->nlp.lexicon_dir);
	free(cfg->nlp.stopwords_dir);
	free(cfg->kb.articles_dir);
	free(cfg->kb.templates_dir);
	free(cfg->smtp.url);
	free(cfg->smtp.tls_ca_file);
	free(cfg->smtp.user);
	free(cfg->smtp.password_file);
	free(cfg->smtp.password_env);
	free(cfg->smtp.from);
	free(cfg->http.listen);
	free(cfg->http.tls_cert);
	free(cfg->http.tls_key);
	free(cfg->http.public_url);
	free(cfg->http.static_dir);
	for (size_t i = 0; i < cfg->http.n_trusted_proxies; i++)
		free(cfg->http.trusted_proxies[i]);
	free(cfg->http.trusted_proxies);
	free(cfg->privacy.controller);
	free(cfg->privacy.contact);
	rules_config_free(&cfg->rules);
	free(cfg->path);
	free(cfg->database);
	free(cfg->data_dir);
	free(cfg->default_queue);
	free(cfg->default_calendar);
	sla_config_free(&cfg->sla);
	free(cfg);
	*cfgp = NULL;
}

const struct cfg_queue *config_queue(const struct config *cfg, const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->n_queues; i++)
		if (strcmp(cfg->queues[i].name, name) == 0)
			return &cfg->queues[i];
	return NULL;
}

const struct cfg_mailbox *config_mailbox(const struct config *cfg, const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->n_mailboxes; i++)
		if (cfg->mailboxes[i].name != NULL && strcmp(cfg->mailboxes[i].name, name) == 0)
			return &cfg->mailboxes[i];
	return NULL;
}

const struct cfg_calendar *config_calendar(const struct config *cfg, const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->n_calendars; i++)
		if (strcmp(cfg->calendars[i].name, name) == 0)
			return &cfg->calendars[i];
	return NULL;
}

const struct calendar *config_queue_calendar(const struct config *cfg, const char *queue)
{
	const struct cfg_queue *q = config_queue(cfg, queue);
	const struct cfg_calendar *cc =
		config_calendar(cfg, q != NULL && q->calendar != NULL ? q->calendar
								      : cfg->default_calendar);
	return cc != NULL ? cc->cal : NULL;
}

int config_read_secret(const char *file, const char *env, char **secret_r, const char **error_r)
{
	static __thread char error[256];
	if (env != NULL) {
		const char *value = getenv(env);
		if (value == NULL || value[0] == '\0') {
			snprintf(error, sizeof(error), "environment variable %s is not set", env);
			*error_r = error;
			return -1;
		}
		*secret_r = xstrdup(value);
		return 0;
	}
	if (file == NULL) {
		*error_r = "no password configured";
		return -1;
	}
	/* systemd credentials: a relative name is looked up in $CREDENTIALS_DIRECTORY. */
	_cleanup_free_ char *resolved = NULL;
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	if (strncmp(file, "credential:", 11) == 0 && creds != NULL)
		resolved = xasprintf("%s/%s", creds, file + 11);
	char *data;
	size_t len;
	const char *read_error;
	if (file_read_all(resolved ? resolved : file, SECRET_MAX_BYTES + 2, &data, &len, &read_error) < 0) {
		snprintf(error, sizeof(error), "password file %s: %s", resolved ? resolved : file,
			 read_error);
		*error_r = error;
		return -1;
	}
	/* One trailing newline is an editor's, not the password's. */
	if (len > 0 && data[len - 1] == '\n')
		data[--len] = '\0';
	if (len > 0 && data[len - 1] == '\r')
		data[--len] = '\0';
	if (len > SECRET_MAX_BYTES || len == 0) {
		explicit_bzero(data, len);
		free(data);
		snprintf(error, sizeof(error), "password file %s is empty or too large", file);
		*error_r = error;
		return -1;
	}
	*secret_r = data;
	return 0;
}
