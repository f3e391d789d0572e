/* The config module's typed JSON reader, shared by its files (config.c and
 * config_<section>.c): each section is read with these, so that every error
 * carries the file, the line and the JSON path. Nothing outside the config
 * module includes this header. */
#ifndef TRIAGED_CONFIG_PRIVATE_H
#define TRIAGED_CONFIG_PRIVATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "config.h"

struct path_line;
struct line_index {
	struct path_line *items;
	size_t count, cap;
};

struct reader {
	const char *file;
	const char *base_dir; /* relative paths in the config are relative to it */
	struct line_index lines;
	struct cfg_errors *errors;
};

/* Records "FILE:LINE: path: message". */
void cfg_error(struct reader *r, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "parent.key" (or "key" at the top); caller frees. */
char *cfg_key_path(const char *parent, const char *key);
/* A short JSON rendering of a value for messages; caller frees. */
char *cfg_show_value(const cJSON *v);
/* Reports a node that is not an object (returns false: skip it) and each key
 * not in allowed (NULL-terminated; returns true: read on, to report more). */
bool cfg_check_object(struct reader *r, const cJSON *node, const char *path,
		      const char *const *allowed);
const cJSON *cfg_get(const cJSON *obj, const char *key);
/* Readers: a missing key gives the default; a wrong type or range is an error
 * (the default is used so that reading can go on and report more). Strings
 * are copies owned by the caller. */
void cfg_read_string(struct reader *r, const cJSON *obj, const char *path, const char *key,
		     const char *def, char **out);
void cfg_require_string(struct reader *r, const cJSON *obj, const char *path, const char *key,
			char **out);
void cfg_read_path(struct reader *r, const cJSON *obj, const char *path, const char *key,
		   const char *def, char **out);
void cfg_read_uint(struct reader *r, const cJSON *obj, const char *path, const char *key,
		   unsigned min, unsigned max, unsigned def, unsigned *out);
void cfg_read_double(struct reader *r, const cJSON *obj, const char *path, const char *key,
		     double min, double max, double def, double *out);
void cfg_read_bool(struct reader *r, const cJSON *obj, const char *path, const char *key,
		   bool def, bool *out);
void cfg_read_enum(struct reader *r, const cJSON *obj, const char *path, const char *key,
		   const char *const *names, int def, int *out);
bool cfg_is_identifier(const char *s);

/* The "rules" section (config_rules.c): read after queues, mailboxes and kb,
 * since rules refer to them. Sets cfg->rules even when node is NULL. */
void config_read_rules(struct reader *r, const cJSON *node, struct config *cfg);

/* Sections in their own files (config_<section>.c), read after the rest. */
void config_read_sla(struct reader *r, const cJSON *node, struct config *cfg);

#endif
