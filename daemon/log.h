/* Logging for the daemon and triagectl: journal-style "<N>" priority prefixes
 * on stderr (systemd's journal reads them) plus optional structured fields.
 * Only daemon/ logs; libraries return errors. Never log secrets or bodies. */
#ifndef TRIAGED_LOG_H
#define TRIAGED_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_init(const char *ident, bool verbose);
bool log_verbose(void);
/* fields: NULL or "KEY=value" strings, NULL-terminated, for the journal. */
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_fields(int priority, const char *const *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)

#endif
