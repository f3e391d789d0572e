/* Journal-friendly logging: when stderr is the journal (JOURNAL_STREAM set)
 * entries go through sd_journal_send with structured fields; otherwise a
 * "<N>" priority prefix on stderr, which the journal also understands. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>

#include "xalloc.h"

static const char *log_ident = "triaged";
static bool log_is_verbose;
static bool log_to_journal;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_init(const char *ident, bool verbose)
{
	log_ident = ident;
	log_is_verbose = verbose || getenv("TRIAGED_DEBUG") != NULL;
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
}

bool log_verbose(void)
{
	return log_is_verbose;
}

static void __attribute__((format(printf, 3, 0)))
log_emit(int priority, const char *const *fields, const char *fmt, va_list ap)
{
	if (priority == LOG_DEBUG && !log_is_verbose)
		return;
	char *text;
	if (vasprintf(&text, fmt, ap) < 0)
		return;
	if (log_to_journal) {
		struct iovec iov[16];
		size_t n = 0;
		char *owned[16];
		owned[n] = xasprintf("MESSAGE=%s", text);
		iov[n].iov_base = owned[n];
		iov[n].iov_len = strlen(owned[n]);
		n++;
		owned[n] = xasprintf("PRIORITY=%d", priority);
		iov[n].iov_base = owned[n];
		iov[n].iov_len = strlen(owned[n]);
		n++;
		owned[n] = xasprintf("SYSLOG_IDENTIFIER=%s", log_ident);
		iov[n].iov_base = owned[n];
		iov[n].iov_len = strlen(owned[n]);
		n++;
		for (size_t i = 0; fields != NULL && fields[i] != NULL && n < 16; i++) {
			owned[n] = xstrdup(fields[i]);
			iov[n].iov_base = owned[n];
			iov[n].iov_len = strlen(owned[n]);
			n++;
		}
		sd_journal_sendv(iov, (int)n);
		for (size_t i = 0; i < n; i++)
			free(owned[i]);
	} else {
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "<%d>%s: %s", priority, log_ident, text);
		for (size_t i = 0; fields != NULL && fields[i] != NULL; i++)
			fprintf(stderr, " %s", fields[i]);
		fputc('\n', stderr);
		pthread_mutex_unlock(&log_lock);
	}
	free(text);
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(priority, NULL, fmt, ap);
	va_end(ap);
}

void log_fields(int priority, const char *const *fields, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(priority, fields, fmt, ap);
	va_end(ap);
}
