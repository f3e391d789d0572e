/* triagectl's commands: each is one function that parses its own options and
 * calls the daemon's core (store, actions, kb...), never holding logic of its
 * own that the web console would also need.
 * Exit codes follow sysexits.h: 0 ok, 1 failure, 64 usage, 65 bad input data,
 * 66 no such ticket or article, 69 service unavailable, 78 bad configuration. */
#ifndef TRIAGED_CTL_H
#define TRIAGED_CTL_H

#include <stdbool.h>
#include <stdio.h>

#define CTL_OK 0
#define CTL_FAIL 1
#define CTL_USAGE 64
#define CTL_DATAERR 65
#define CTL_NOTFOUND 66
#define CTL_UNAVAILABLE 69
#define CTL_CONFIG 78

struct config;
struct store;

struct ctl {
	const char *config_path; /* -c, or NULL */
	const char *db_path;     /* --db, overrides the config's database */
	bool json;
	struct config *cfg;      /* loaded on first use by ctl_config() */
	struct store *store;     /* opened on first use by ctl_store() */
};

/* The configuration (or defaults with --db alone); NULL after printing why. */
struct config *ctl_config(struct ctl *ctl);
/* The store, opened (and migrated) on first use; NULL after printing why. */
struct store *ctl_store(struct ctl *ctl);
/* Prints "triagectl: ..." to stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef int ctl_command_fn(struct ctl *ctl, int argc, char **argv);

struct ctl_command {
	const char *name;
	ctl_command_fn *run;
	const char *summary;
};

/* "cli:USER" (the Unix account running triagectl): the actor of the audit
 * events of a command run without an agent's identity. Caller frees. */
char *ctl_cli_actor(void);

/* Prints a JSON tree (indented) on stdout and frees it. */
struct cJSON;
void ctl_print_json(struct cJSON *json);

/* True when argv holds -h/--help; prints usage to stdout then. */
bool ctl_wants_help(int argc, char **argv, const char *usage);

/* Commands, one per file ctl_*.c */
int ctl_cmd_init(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_ingest(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_tickets(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_show(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_stats(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_set_status(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_set_priority(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_assign(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_set_queue(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_reply(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_outbox(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_sla(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_report(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_kb(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_privacy(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_classify(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_sentiment(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_recategorize(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_spam(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_note(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_merge(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_model(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_agent(struct ctl *ctl, int argc, char **argv);

#endif
