/* Knowledge-base import: the front-matter parser (a strict YAML subset, so
 * that a typo is an error with its line rather than a silently lost field)
 * and the folder walk that adds, updates and removes articles. */
#include "kb_import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lang.h"
#include "strbuf.h"
#include "xalloc.h"

static __thread char import_error[1024];

__attribute__((format(printf, 4, 5))) static int fail(const char *path, size_t line,
						      const char *key, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (key != NULL)
		snprintf(import_error, sizeof(import_error), "%s:%zu: %s: %s", path, line, key, what);
	else
		snprintf(import_error, sizeof(import_error), "%s:%zu: %s", path, line, what);
	return -1;
}

/* ---- lines ---- */

struct line {
	const char *s;
	size_t len; /* without the newline and a trailing \r */
};

struct lines {
	struct line *v;
	size_t n, cap;
};

static void split_lines(const char *text, size_t len, struct lines *ls)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t l = end - i;
		if (l > 0 && text[i + l - 1] == '\r')
			l--;
		ls->v = xgrow(ls->v, &ls->cap, ls->n + 1, sizeof(*ls->v));
		ls->v[ls->n].s = text + i;
		ls->v[ls->n].len = l;
		ls->n++;
		i = end + 1;
	}
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

static size_t indent_of(const struct line *l)
{
	size_t i = 0;
	while (i < l->len && l->s[i] == ' ')
		i++;
	return i;
}

/* ---- scalars ---- */

/* A YAML scalar on one line: "double" (with \" \\ \n \t escapes), 'single'
 * (with '' for a quote), or plain (a " #" starts a comment). */
static int parse_scalar(const char *path, size_t lineno, const char *key, const char *s,
			size_t len, char **value_r)
{
	trim(&s, &len);
	struct strbuf sb;
	strbuf_init(&sb, 0);
	if (len > 0 && (s[0] == '"' || s[0] == '\'')) {
		char q = s[0];
		size_t i = 1;
		bool closed = false;
		while (i < len) {
			char c = s[i++];
			if (c == q) {
				if (q == '\'' && i < len && s[i] == '\'') {
					strbuf_putc(&sb, '\'');
					i++;
					continue;
				}
				closed = true;
				break;
			}
			if (q == '"' && c == '\\' && i < len) {
				char e = s[i++];
				strbuf_putc(&sb, e == 'n' ? '\n' : e == 't' ? '\t' : e);
				continue;
			}
			strbuf_putc(&sb, c);
		}
		const char *rest = s + i;
		size_t rest_len = len - i;
		trim(&rest, &rest_len);
		if (!closed || (rest_len > 0 && rest[0] != '#')) {
			strbuf_free(&sb);
			return fail(path, lineno, key, "unterminated or malformed quoted string");
		}
	} else {
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '#' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t')) {
				len = i;
				break;
			}
		}
		trim(&s, &len);
		strbuf_append(&sb, s, len);
	}
	*value_r = strbuf_steal(&sb);
	return 0;
}

static bool valid_id(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > KB_MAX_ID_LEN || id[0] == '.' || id[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int add_tag(const char *path, size_t lineno, struct strbuf *tags, unsigned *n,
		   const char *s, size_t len)
{
	char *tag;
	if (parse_scalar(path, lineno, "tags", s, len, &tag) < 0)
		return -1;
	size_t tl = strlen(tag);
	int ret = 0;
	if (tl == 0)
		ret = fail(path, lineno, "tags", "empty tag");
	else if (tl > KB_MAX_TAG_LEN)
		ret = fail(path, lineno, "tags", "tag longer than %d bytes", KB_MAX_TAG_LEN);
	else if (strpbrk(tag, ",[]{}") != NULL)
		ret = fail(path, lineno, "tags", "expected a list [a, b]");
	else if (++*n > KB_MAX_TAGS)
		ret = fail(path, lineno, "tags", "more than %d tags", KB_MAX_TAGS);
	if (ret == 0) {
		/* stored comma-separated, spaces inside a tag become dashes */
		if (tags->len > 0)
			strbuf_putc(tags, ',');
		for (size_t i = 0; i < tl; i++)
			strbuf_putc(tags, tag[i] == ' ' ? '-' : tag[i]);
	}
	free(tag);
	return ret;
}

/* "[a, b, c]" on one line. */
static int parse_flow_list(const char *path, size_t lineno, const char *s, size_t len,
			   struct strbuf *tags)
{
	trim(&s, &len);
	if (len < 2 || s[0] != '[' || s[len - 1] != ']')
		return fail(path, lineno, "tags", "expected a list [a, b]");
	s++;
	len -= 2;
	unsigned n = 0;
	if (is_blank(s, len))
		return 0;
	while (true) {
		const char *comma = memchr(s, ',', len);
		size_t item = comma != NULL ? (size_t)(comma - s) : len;
		if (add_tag(path, lineno, tags, &n, s, item) < 0)
			return -1;
		if (comma == NULL)
			return 0;
		s += item + 1;
		len -= item + 1;
	}
}

/* ---- the header ---- */

struct fields {
	char *id, *title, *lang, *template;
	bool has_tags;
	struct strbuf tags;
};

static void fields_free(struct fields *f)
{
	free(f->id);
	free(f->title);
	free(f->lang);
	free(f->template);
	strbuf_free(&f->tags);
}

/* A literal block ("|", "|-" or "|+") starting after line *i; *i is left on
 * its last line. */
static int parse_block(const char *path, const struct lines *ls, size_t *i, size_t end,
		       const char *key, char chomp, char **value_r)
{
	size_t first = *i + 1, last = first; /* [first, last) */
	size_t indent = 0;
	while (last < end) {
		const struct line *l = &ls->v[last];
		if (is_blank(l->s, l->len)) {
			last++;
			continue;
		}
		size_t ind = indent_of(l);
		if (ind == 0)
			break;
		if (indent == 0)
			indent = ind;
		else if (ind < indent)
			return fail(path, last + 1, key, "line indented less than the block's first line");
		last++;
	}
	if (indent == 0)
		return fail(path, *i + 1, key, "empty block");
	struct strbuf sb;
	strbuf_init(&sb, 0);
	for (size_t k = first; k < last; k++) {
		const struct line *l = &ls->v[k];
		if (l->len > indent)
			strbuf_append(&sb, l->s + indent, l->len - indent);
		strbuf_putc(&sb, '\n');
	}
	/* Trailing blank lines: "|" keeps one newline, "|-" none, "|+" all. */
	if (chomp != '+') {
		while (sb.len > 0 && sb.data[sb.len - 1] == '\n')
			sb.data[--sb.len] = '\0';
		if (chomp != '-')
			strbuf_putc(&sb, '\n');
	}
	*value_r = strbuf_steal(&sb);
	*i = last - 1;
	return 0;
}

static int set_once(const char *path, size_t lineno, const char *key, char **slot, char *value)
{
	if (*slot != NULL) {
		free(value);
		return fail(path, lineno, key, "given twice");
	}
	*slot = value;
	return 0;
}

static int parse_header(const char *path, const struct lines *ls, size_t end, struct fields *f)
{
	for (size_t i = 1; i < end; i++) {
		const struct line *l = &ls->v[i];
		if (is_blank(l->s, l->len) || l->s[0] == '#')
			continue;
		const char *colon = memchr(l->s, ':', l->len);
		size_t klen = colon != NULL ? (size_t)(colon - l->s) : 0;
		bool key_ok = klen > 0 && klen < 32;
		for (size_t k = 0; k < klen; k++)
			if (!((l->s[k] >= 'a' && l->s[k] <= 'z') || l->s[k] == '_'))
				key_ok = false;
		if (!key_ok)
			return fail(path, i + 1, NULL, "expected \"key: value\"");
		char key[32];
		memcpy(key, l->s, klen);
		key[klen] = '\0';
		const char *v = colon + 1;
		size_t vlen = l->len - klen - 1;
		trim(&v, &vlen);
		size_t lineno = i + 1;
		if (strcmp(key, "tags") == 0) {
			if (f->has_tags)
				return fail(path, lineno, key, "given twice");
			f->has_tags = true;
			if (vlen > 0) {
				if (parse_flow_list(path, lineno, v, vlen, &f->tags) < 0)
					return -1;
				continue;
			}
			/* a block list: "  - tag" lines */
			unsigned n = 0;
			while (i + 1 < end) {
				const struct line *item = &ls->v[i + 1];
				const char *s = item->s;
				size_t len = item->len;
				trim(&s, &len);
				if (len == 0 || s[0] != '-' || (len > 1 && s[1] != ' '))
					break;
				i++;
				if (add_tag(path, i + 1, &f->tags, &n, s + 1, len - 1) < 0)
					return -1;
			}
			if (n == 0)
				return fail(path, lineno, key, "expected a list [a, b]");
			continue;
		}
		if (strcmp(key, "template") == 0 && vlen >= 1 && v[0] == '|') {
			char chomp = vlen > 1 ? v[1] : '\0';
			if (vlen > 2 || (vlen == 2 && chomp != '-' && chomp != '+'))
				return fail(path, lineno, key, "expected | followed by an indented block");
			char *value = NULL;
			if (parse_block(path, ls, &i, end, key, chomp, &value) < 0 ||
			    set_once(path, lineno, key, &f->template, value) < 0)
				return -1;
			continue;
		}
		char **slot = strcmp(key, "id") == 0	   ? &f->id
			      : strcmp(key, "title") == 0    ? &f->title
			      : strcmp(key, "lang") == 0     ? &f->lang
			      : strcmp(key, "template") == 0 ? &f->template
							     : NULL;
		if (slot == NULL)
			return fail(path, lineno, key,
				    "unknown key (expected id, title, lang, tags or template)");
		char *value = NULL;
		if (parse_scalar(path, lineno, key, v, vlen, &value) < 0 ||
		    set_once(path, lineno, key, slot, value) < 0)
			return -1;
		if (slot == &f->id && !valid_id(value))
			return fail(path, lineno, key,
				    "expected letters, digits, '-', '_' or '.' (at most %d)",
				    KB_MAX_ID_LEN);
		if (slot == &f->title && (value[0] == '\0' || strlen(value) > KB_MAX_TITLE_LEN))
			return fail(path, lineno, key, "expected a title of 1 to %d bytes",
				    KB_MAX_TITLE_LEN);
		if (slot == &f->lang && strcmp(value, "fr") != 0 && strcmp(value, "en") != 0)
			return fail(path, lineno, key, "expected fr or en");
	}
	return 0;
}

/* The file name without folders and ".md". */
static char *default_id(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	size_t len = strlen(base);
	if (len > 3 && strcmp(base + len - 3, ".md") == 0)
		len -= 3;
	return xstrndup(base, len);
}

int kb_import_parse(const char *path, const char *text, size_t len, struct kb_article *a_r,
		    const char **error_r)
{
	*error_r = import_error;
	if (len > KB_MAX_ARTICLE_BYTES)
		return fail(path, 1, NULL, "larger than %d bytes", KB_MAX_ARTICLE_BYTES);
	if (memchr(text, '\0', len) != NULL)
		return fail(path, 1, NULL, "not a text file (NUL byte)");
	/* A UTF-8 byte-order mark, as some editors write. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	struct lines ls = {0};
	split_lines(text, len, &ls);
	int ret = -1;
	struct fields f = {0};
	strbuf_init(&f.tags, 0);
	if (ls.n == 0 || ls.v[0].len != 3 || memcmp(ls.v[0].s, "---", 3) != 0) {
		fail(path, 1, NULL, "expected a front-matter header opening with ---");
		goto out;
	}
	size_t end = 1;
	while (end < ls.n && !(ls.v[end].len == 3 && memcmp(ls.v[end].s, "---", 3) == 0))
		end++;
	if (end == ls.n) {
		fail(path, 1, NULL, "front-matter header not closed by ---");
		goto out;
	}
	if (parse_header(path, &ls, end, &f) < 0)
		goto out;
	if (f.title == NULL) {
		fail(path, 1, "title", "missing");
		goto out;
	}
	/* The body: everything after the closing line, blank lines trimmed. */
	const char *body = end + 1 < ls.n ? ls.v[end + 1].s : text + len;
	size_t body_len = (size_t)(text + len - body);
	while (body_len > 0 && (body[0] == '\n' || body[0] == '\r' || body[0] == ' ')) {
		body++;
		body_len--;
	}
	while (body_len > 0 && (body[body_len - 1] == '\n' || body[body_len - 1] == '\r' ||
				body[body_len - 1] == ' '))
		body_len--;
	if (body_len == 0 && f.template == NULL) {
		fail(path, end + 1, NULL, "no body and no template: nothing to suggest");
		goto out;
	}
	if (f.lang == NULL) {
		/* Not given: guessed from the text; only fr and en are stemmed. */
		enum lang lang;
		double confidence;
		const char *error;
		struct strbuf sb;
		strbuf_init(&sb, LANG_MAX_INPUT);
		strbuf_puts(&sb, f.title);
		strbuf_putc(&sb, '\n');
		strbuf_append(&sb, body, body_len);
		int rc = lang_guess(strbuf_str(&sb), sb.len, &lang, &confidence, &error);
		strbuf_free(&sb);
		if (rc < 0 || lang == LANG_OTHER) {
			fail(path, 1, "lang", "missing, and the text is neither clearly fr nor en");
			goto out;
		}
		f.lang = xstrdup(lang_code(lang));
	}
	struct kb_article a = {
		.id = f.id != NULL ? TAKE_PTR(f.id) : default_id(path),
		.title = TAKE_PTR(f.title),
		.body = xstrndup(body, body_len),
		.tags = strbuf_steal(&f.tags),
		.language = TAKE_PTR(f.lang),
		.template = TAKE_PTR(f.template),
	};
	if (!valid_id(a.id)) {
		fail(path, 1, "id", "the file name is no valid id: give one");
		kb_article_clear(&a);
		goto out;
	}
	*a_r = a;
	ret = 0;
out:
	fields_free(&f);
	free(ls.v);
	return ret;
}

/* ---- the folder walk ---- */

struct file_list {
	char **rel; /* paths relative to the root */
	size_t n, cap;
};

static int walk(const char *root, const char *rel, int depth, struct file_list *files,
		const char **error_r)
{
	_cleanup_free_ char *full = rel[0] ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *d = opendir(full);
	if (d == NULL) {
		snprintf(import_error, sizeof(import_error), "%s: %s", full, strerror(errno));
		*error_r = import_error;
		return -1;
	}
	struct dirent *e;
	int ret = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		_cleanup_free_ char *child_rel =
			rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		_cleanup_free_ char *child = xasprintf("%s/%s", root, child_rel);
		struct stat sb;
		if (lstat(child, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (depth + 1 >= KB_IMPORT_MAX_DEPTH)
				continue;
			if (walk(root, child_rel, depth + 1, files, error_r) < 0) {
				ret = -1;
				break;
			}
			continue;
		}
		size_t len = strlen(e->d_name);
		if (!S_ISREG(sb.st_mode) || len < 4 || strcmp(e->d_name + len - 3, ".md") != 0)
			continue;
		if (files->n >= KB_IMPORT_MAX_FILES) {
			*error_r = "too many files";
			ret = -1;
			break;
		}
		files->rel = xgrow(files->rel, &files->cap, files->n + 1, sizeof(*files->rel));
		files->rel[files->n++] = TAKE_PTR(child_rel);
	}
	closedir(d);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, char **text_r, size_t *len_r, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(import_error, sizeof(import_error), "%s: %s", path, strerror(errno));
		*error_r = import_error;
		return -1;
	}
	struct strbuf sb;
	strbuf_init(&sb, KB_MAX_ARTICLE_BYTES + 1);
	char buf[16384];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		if (strbuf_append(&sb, buf, (size_t)r) < 0)
			break; /* over the limit: the parser says so */
	int saved = errno;
	close(fd);
	if (r < 0) {
		snprintf(import_error, sizeof(import_error), "%s: %s", path, strerror(saved));
		*error_r = import_error;
		strbuf_free(&sb);
		return -1;
	}
	*len_r = sb.len;
	*text_r = strbuf_steal(&sb);
	return 0;
}

struct seen {
	char **v;
	size_t n, cap;
};

static void seen_add(struct seen *s, const char *str)
{
	s->v = xgrow(s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = xstrdup(str);
}

static bool seen_has(const struct seen *s, const char *str)
{
	return s->n > 0 && bsearch(&str, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* id -> the file that defined it (open addressing), to report duplicates
 * without a quadratic scan. */
struct id_map {
	const char **ids, **files;
	size_t cap, n;
};

static size_t hash_str(const char *s)
{
	size_t h = 5381;
	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* The file already holding id, or NULL after recording (id, file). Both
 * strings must outlive the map. */
static const char *id_map_claim(struct id_map *m, const char *id, const char *file)
{
	if (2 * (m->n + 1) > m->cap) {
		struct id_map bigger = {.cap = m->cap ? m->cap * 2 : 64};
		bigger.ids = xcalloc(bigger.cap, sizeof(*bigger.ids));
		bigger.files = xcalloc(bigger.cap, sizeof(*bigger.files));
		for (size_t i = 0; i < m->cap; i++)
			if (m->ids[i] != NULL)
				id_map_claim(&bigger, m->ids[i], m->files[i]);
		free(m->ids);
		free(m->files);
		*m = bigger;
	}
	size_t i = hash_str(id) & (m->cap - 1);
	while (m->ids[i] != NULL) {
		if (strcmp(m->ids[i], id) == 0)
			return m->files[i];
		i = (i + 1) & (m->cap - 1);
	}
	m->ids[i] = id;
	m->files[i] = file;
	m->n++;
	return NULL;
}

static const char *db_err(sqlite3 *db, const char *what)
{
	snprintf(import_error, sizeof(import_error), "%s: %s", what, sqlite3_errmsg(db));
	return import_error;
}

/* Removes the articles of root not seen in this run. */
static int remove_missing(sqlite3 *db, const char *root, struct seen *ids, struct seen *failed,
			  unsigned *removed, const char **error_r)
{
	if (ids->n > 1)
		qsort(ids->v, ids->n, sizeof(*ids->v), cmp_str);
	if (failed->n > 1)
		qsort(failed->v, failed->n, sizeof(*failed->v), cmp_str);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT id, source_path FROM kb_articles WHERE source_dir = ?1",
			       -1, &s, NULL) != SQLITE_OK) {
		*error_r = db_err(db, "listing articles");
		return -1;
	}
	sqlite3_bind_text(s, 1, root, -1, SQLITE_STATIC);
	struct seen gone = {0};
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		const char *src = (const char *)sqlite3_column_text(s, 1);
		if (id == NULL || seen_has(ids, id) || (src != NULL && seen_has(failed, src)))
			continue;
		seen_add(&gone, id);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		seen_free(&gone);
		*error_r = db_err(db, "listing articles");
		return -1;
	}
	for (size_t i = 0; i < gone.n; i++) {
		int r = kb_article_remove(db, gone.v[i], error_r);
		if (r < 0) {
			seen_free(&gone);
			return -1;
		}
		*removed += (unsigned)r;
	}
	seen_free(&gone);
	return 0;
}

int kb_import_dir(struct sqlite3 *db, const char *dir, int64_t now,
		  kb_import_progress_fn *progress, kb_import_error_fn *on_error, void *ctx,
		  struct kb_import_summary *summary_r, const char **error_r)
{
	char root[PATH_MAX];
	if (realpath(dir, root) == NULL) {
		snprintf(import_error, sizeof(import_error), "%s: %s", dir, strerror(errno));
		*error_r = import_error;
		return -1;
	}
	struct file_list files = {0};
	if (walk(root, "", 0, &files, error_r) < 0) {
		for (size_t i = 0; i < files.n; i++)
			free(files.rel[i]);
		free(files.rel);
		return -1;
	}
	if (files.n > 1)
		qsort(files.rel, files.n, sizeof(*files.rel), cmp_str);
	struct kb_import_summary sum = {.files = files.n};
	struct seen ids = {0}, failed = {0};
	struct id_map id_files = {0};
	int ret = -1;
	if (sqlite3_exec(db, "SAVEPOINT kb_import", NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = db_err(db, "starting the import");
		goto out;
	}
	size_t dir_len = strlen(dir);
	while (dir_len > 1 && dir[dir_len - 1] == '/')
		dir_len--;
	for (size_t i = 0; i < files.n; i++) {
		if (progress != NULL && (i % 100 == 0))
			progress(i, files.n, ctx);
		/* Messages name the file as the user wrote the folder. */
		_cleanup_free_ char *shown = xasprintf("%.*s/%s", (int)dir_len, dir, files.rel[i]);
		_cleanup_free_ char *full = xasprintf("%s/%s", root, files.rel[i]);
		_cleanup_free_ char *text = NULL;
		size_t len;
		const char *error;
		struct kb_article a = {0};
		if (read_file(full, &text, &len, &error) < 0 ||
		    kb_import_parse(shown, text, len, &a, &error) < 0) {
			if (on_error != NULL)
				on_error(error, ctx);
			seen_add(&failed, files.rel[i]);
			sum.failed++;
			continue;
		}
		seen_add(&ids, a.id);
		const char *other = id_map_claim(&id_files, ids.v[ids.n - 1], files.rel[i]);
		if (other != NULL) {
			free(ids.v[--ids.n]);
			fail(shown, 1, "id", "\"%s\" already used by %.*s/%s", a.id, (int)dir_len, dir,
			     other);
			if (on_error != NULL)
				on_error(import_error, ctx);
			seen_add(&failed, files.rel[i]);
			sum.failed++;
			kb_article_clear(&a);
			continue;
		}
		a.source_dir = xstrdup(root);
		a.source_path = xstrdup(files.rel[i]);
		enum kb_put_result result;
		if (kb_article_put(db, &a, now, &result, error_r) < 0) {
			kb_article_clear(&a);
			goto rollback;
		}
		kb_article_clear(&a);
		switch (result) {
		case KB_PUT_ADDED: sum.added++; break;
		case KB_PUT_UPDATED: sum.updated++; break;
		case KB_PUT_UNCHANGED: sum.unchanged++; break;
		}
	}
	if (progress != NULL)
		progress(files.n, files.n, ctx);
	if (remove_missing(db, root, &ids, &failed, &sum.removed, error_r) < 0 ||
	    kb_refresh_terms(db, error_r) < 0)
		goto rollback;
	if (sqlite3_exec(db, "RELEASE kb_import", NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = db_err(db, "finishing the import");
		goto rollback;
	}
	*summary_r = sum;
	ret = 0;
	goto out;
rollback:
	sqlite3_exec(db, "ROLLBACK TO kb_import; RELEASE kb_import", NULL, NULL, NULL);
out:
	for (size_t i = 0; i < files.n; i++)
		free(files.rel[i]);
	free(files.rel);
	seen_free(&ids);
	seen_free(&failed);
	free(id_files.ids);
	free(id_files.files);
	return ret;
}
