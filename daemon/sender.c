/* The sender thread: outbox mail and webhooks, each when due. */
#include "sender.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "outbox.h"
#include "sla.h"
#include "store.h"
#include "xalloc.h"

/* Mails per pass: a pass ends between mails so that a stop is quick. */
#define SENDER_BATCH 20
/* Longest sleep: what another process (triagectl reply) queues is seen by then. */
#define SENDER_MAX_SLEEP_MS 15000

struct sender {
	const struct config *cfg;
	struct store *st;
	int wake_fd;
	bool stopping;
	pthread_mutex_t lock;
	pthread_t thread;
};

/* One pass; *next_r: when something is due next (0: nothing queued). */
static int send_pass(const struct config *cfg, struct store *st, int64_t *next_r,
		     const char **error_r)
{
	if (cfg->smtp.configured) {
		struct outbox_send_stats os = {0};
		if (outbox_send_due(st, cfg, SENDER_BATCH, false, &os, error_r) < 0)
			return -1;
		if (os.sent || os.retried || os.failed || os.interrupted)
			log_info("outbox: %u sent, %u to retry, %u failed, %u interrupted", os.sent,
				 os.retried, os.failed, os.interrupted);
	}
	struct sla_send_stats ws = {0};
	if (sla_send_webhooks(st, cfg, store_now(), SENDER_BATCH, &ws, error_r) < 0)
		return -1;
	if (ws.sent || ws.retried || ws.failed)
		log_info("webhooks: %u sent, %u to retry, %u failed", ws.sent, ws.retried, ws.failed);
	int64_t next = 0, when;
	if (cfg->smtp.configured && outbox_next_due(st, &when) == 1)
		next = when;
	/* sla_next_wakeup covers webhook deliveries too. */
	if (sla_next_wakeup(st, &when, error_r) == 1 && (next == 0 || when < next))
		next = when;
	*next_r = next;
	return 0;
}

static void *sender_thread(void *arg)
{
	struct sender *s = arg;
	bool failing = false;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		bool stop = s->stopping;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		int64_t next = 0;
		const char *error;
		int timeout = SENDER_MAX_SLEEP_MS;
		if (send_pass(s->cfg, s->st, &next, &error) < 0) {
			if (!failing)
				log_error("sender: %s", error);
			failing = true;
		} else {
			failing = false;
			if (next > 0) {
				int64_t ms = (next - store_now()) * 1000;
				if (ms < timeout)
					timeout = ms < 0 ? 0 : (int)ms;
			}
		}
		struct pollfd pfd = {.fd = s->wake_fd, .events = POLLIN};
		if (poll(&pfd, 1, timeout > 0 ? timeout : 1000) > 0) {
			uint64_t count;
			if (read(s->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				log_error("sender: eventfd: %m");
		}
	}
	return NULL;
}

int sender_start(const struct config *cfg, struct sender **s_r, const char **error_r)
{
	struct sender *s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	pthread_mutex_init(&s->lock, NULL);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0 || store_open_existing(cfg->database, &s->st, error_r) < 0) {
		if (s->wake_fd < 0)
			*error_r = "eventfd failed";
		sender_stop(&s);
		return -1;
	}
	if (pthread_create(&s->thread, NULL, sender_thread, s) != 0) {
		*error_r = "cannot start the sender thread";
		store_close(&s->st);
		close(s->wake_fd);
		free(s);
		return -1;
	}
	*s_r = s;
	return 0;
}

void sender_kick(struct sender *s)
{
	uint64_t one = 1;
	if (s != NULL && write(s->wake_fd, &one, sizeof(one)) < 0)
		log_error("sender: cannot wake: %m");
}

void sender_stop(struct sender **sp)
{
	struct sender *s = *sp;
	if (s == NULL)
		return;
	if (s->st != NULL) { /* the thread runs only once the store is open */
		pthread_mutex_lock(&s->lock);
		s->stopping = true;
		pthread_mutex_unlock(&s->lock);
		sender_kick(s);
		pthread_join(s->thread, NULL);
	}
	store_close(&s->st);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	*sp = NULL;
}

int sender_run_once(const struct config *cfg, const char **error_r)
{
	struct store *st;
	if (store_open_existing(cfg->database, &st, error_r) < 0)
		return -1;
	int64_t next;
	int ret = send_pass(cfg, st, &next, error_r);
	store_close(&st);
	return ret;
}
