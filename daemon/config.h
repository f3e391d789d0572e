/* The configuration of triaged as typed structs: read from JSON (with //
 * comments) once, validated as a whole, then the JSON tree is freed. No other
 * module parses the config file.
 * Ownership: config_load() returns a struct config that the caller frees with
 * config_free(); every pointer inside lives as long as the struct. */
#ifndef TRIAGED_CONFIG_H
#define TRIAGED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EX_CONFIG_STATUS 78 /* sysexits.h EX_CONFIG */

struct rules_config;

enum cfg_tls { CFG_TLS_IMPLICIT, CFG_TLS_STARTTLS, CFG_TLS_NONE };
enum cfg_after { CFG_AFTER_SEEN, CFG_AFTER_KEEP, CFG_AFTER_MOVE };

struct cfg_mailbox {
	char *name;
	char *host;
	unsigned port;
	enum cfg_tls tls;
	bool tls_verify;
	char *tls_ca_file;   /* NULL: system trust store only */
	char *user;
	char *password_file; /* exactly one of password_file / password_env */
	char *password_env;
	char *folder;
	enum cfg_after after;
	char *after_folder;  /* for CFG_AFTER_MOVE */
	bool idle;
	unsigned poll_seconds;
	unsigned timeout_seconds;
	char *queue;
	size_t max_attachment_bytes;
};

struct cfg_queue {
	char *name;
	char *calendar; /* NULL: the default calendar */
};

enum cfg_nb_variant { CFG_NB_MULTINOMIAL, CFG_NB_COMPLEMENT };

struct cfg_nlp {
	double min_confidence;  /* below: the ticket goes to triage_queue */
	char *triage_queue;
	bool triage_queue_explicit;
	double alpha;           /* smoothing */
	enum cfg_nb_variant variant;
	bool length_normalize;
	double spam_threshold;  /* spam probability at or above which it is spam */
	char *training_dir;     /* conf/training: seeds the default model */
	char *lexicon_dir;      /* conf/lexicons */
	char *stopwords_dir;    /* conf/stopwords */
};

struct cfg_kb {
	char *articles_dir;     /* imported by `triagectl kb import` when given no DIR */
	unsigned suggestions;   /* articles proposed per ticket */
	unsigned similar;       /* similar solved tickets proposed per ticket */
	char *templates_dir;    /* conf/templates */
};

struct cfg_smtp {
	bool configured;
	char *url;
	enum cfg_tls tls;
	bool tls_verify;
	char *tls_ca_file;
	char *user;
	char *password_file;
	char *password_env;
	char *from;             /* "Support <support@example.test>" */
	unsigned max_attempts;
	unsigned retry_seconds; /* first retry delay, doubled each time */
	unsigned timeout_seconds;
	unsigned ack_per_sender_seconds; /* at most one acknowledgement per sender per period */
};

struct sla_config; /* sla.h */

struct cfg_calendar {
	char *name;
	struct calendar *cal;
};

struct cfg_http {
	bool enabled;
	char *listen;       /* "127.0.0.1:8025" */
	char *tls_cert;
	char *tls_key;
	char *public_url;
	bool allow_plain_http;
	char *static_dir;
	unsigned session_idle_minutes;
	/* Reverse proxies whose X-Forwarded-For names the client (numeric
	 * addresses, as inet_ntop writes them). */
	char **trusted_proxies;
	size_t n_trusted_proxies;
};

struct cfg_privacy {
	unsigned retention_days; /* 0: keep forever */
	char *controller;        /* the company, for the register */
	char *contact;
};

struct config {
	char *path;
	char *database;
	char *data_dir;          /* shared data: lexicons, training, kb, web */
	struct cfg_mailbox *mailboxes;
	size_t n_mailboxes;
	struct cfg_queue *queues;
	size_t n_queues;
	char *default_queue;
	char *default_calendar;
	struct cfg_nlp nlp;
	struct cfg_kb kb;
	struct cfg_smtp smtp;
	struct cfg_calendar *calendars;
	size_t n_calendars;
	struct cfg_http http;
	struct cfg_privacy privacy;
	struct sla_config *sla;  /* NULL: no "sla" section, no clocks */
	struct rules_config *rules; /* workflow rules (rules.h); never NULL after config_load */
};

/* Collected validation errors: every problem is reported, not just the first. */
struct cfg_errors {
	char **items;
	size_t count;
	size_t cap;
};

/* Loads and validates. On failure returns -1 and fills errors (each message
 * starts with "FILE:LINE: path: "); the caller prints them and frees errors. */
int config_load(const char *path, struct config **cfg_r, struct cfg_errors *errors);
/* A config with defaults only and the given database (for `triagectl --db`). */
struct config *config_default(const char *database);
void config_free(struct config **cfg);
void cfg_errors_free(struct cfg_errors *errors);

/* A mailbox's settings as an owned copy (fetchers outlive a reload), its
 * release, and whether two mailboxes are configured the same. */
void config_mailbox_copy(struct cfg_mailbox *dst, const struct cfg_mailbox *src);
void config_mailbox_clear(struct cfg_mailbox *mb);
bool config_mailbox_equal(const struct cfg_mailbox *a, const struct cfg_mailbox *b);

const struct cfg_queue *config_queue(const struct config *cfg, const char *name);
const struct cfg_mailbox *config_mailbox(const struct config *cfg, const char *name);
const struct cfg_calendar *config_calendar(const struct config *cfg, const char *name);
/* The calendar that applies to a queue (its own, else the default), or NULL. */
const struct calendar *config_queue_calendar(const struct config *cfg, const char *queue);

/* Reads a secret from password_file or password_env. Never logged. The
 * caller frees (and should clear) the returned string. */
int config_read_secret(const char *file, const char *env, char **secret_r, const char **error_r);

#endif
