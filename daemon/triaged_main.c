/* triaged: the daemon. One main loop (poll) owns the signals, the single
 * database writer and the timers; one thread per mailbox fetches mail and
 * hands it to the writer through a queue. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fetcher.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "outbox.h"
#include "privacy.h"
#include "sender.h"
#include "sla.h"
#include "store.h"
#include "xalloc.h"

#define EXIT_UNAVAILABLE 69

/* A slice handed from a fetcher thread to the writer, answered in place. */
struct delivery {
	struct ingest_slice *slice;
	int result;
	char error[256];
	bool done;
	struct delivery *next;
};

struct writer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct delivery *head, *tail;
	int event_fd;
	bool stopping;
	struct ingest *ing;
	uint64_t tickets_created;
};

struct daemon {
	const char *config_path;
	struct config *cfg;
	struct store *st;
	struct writer writer;
	struct fetcher **fetchers;
	size_t n_fetchers;
	struct sender *sender;
	struct http_server *http; /* the web console, NULL when off */
	int64_t last_purge; /* retention: the daily purge's last run */
};

/* Fires the SLA warnings and escalations due now (each once, in its own
 * transaction); what fell due while the daemon was down fires at start. */
static void fire_sla(struct daemon *d)
{
	struct sla_fire_stats fs = {0};
	const char *error;
	if (sla_fire_due(d->st, d->cfg, store_now(), 0, &fs, &error) < 0) {
		log_error("SLA timers: %s", error);
		return;
	}
	if (fs.warnings || fs.breaches || fs.escalations)
		log_notice("SLA: %u warnings, %u breaches, %u escalations fired", fs.warnings,
			   fs.breaches, fs.escalations);
	if (fs.notifications || fs.webhooks_queued)
		sender_kick(d->sender);
}

/* Retention: resolved tickets past privacy.retention_days go, once a day. */
static void purge_daily(struct daemon *d)
{
	privacy_daily(d->st, d->cfg, ingest_triage(d->writer.ing), store_now(), &d->last_purge);
}

/* Milliseconds until the next SLA level is due (capped), for the poll. */
static int sla_timeout_ms(struct daemon *d, int cap)
{
	int64_t when;
	const char *error;
	if (sla_next_wakeup(d->st, &when, &error) != 1)
		return cap;
	int64_t ms = (when - store_now()) * 1000;
	if (ms < 0)
		return 0;
	return ms < cap ? (int)ms : cap;
}

/* Queues a slice for the main loop (the writer); the fetcher goes on
 * fetching and waits for the commit later (writer_wait). */
static int writer_submit(void *ctx, struct ingest_slice *slice, void **token_r,
			 const char **error_r)
{
	struct writer *w = ctx;
	struct delivery *d = xcalloc(1, sizeof(*d));
	d->slice = slice;
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		free(d);
		*error_r = "the daemon is stopping";
		return -1;
	}
	if (w->tail != NULL)
		w->tail->next = d;
	else
		w->head = d;
	w->tail = d;
	uint64_t one = 1;
	if (write(w->event_fd, &one, sizeof(one)) < 0)
		log_error("cannot wake the writer: %s", strerror(errno));
	pthread_mutex_unlock(&w->lock);
	*token_r = d;
	return 0;
}

static int writer_wait(void *ctx, void *token, const char **error_r)
{
	static __thread char error[256];
	struct writer *w = ctx;
	struct delivery *d = token;
	pthread_mutex_lock(&w->lock);
	while (!d->done)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	int result = d->result;
	if (result < 0) {
		snprintf(error, sizeof(error), "%s", d->error);
		*error_r = error;
	}
	free(d);
	return result;
}

static const struct fetcher_writer writer_ops = {.submit = writer_submit, .wait = writer_wait};

/* Runs the queued batches (main thread). With stopping set, fails them
 * instead: uncommitted mail is fetched again at the next start. */
static void writer_drain(struct writer *w, bool stopping)
{
	pthread_mutex_lock(&w->lock);
	struct delivery *list = w->head;
	w->head = w->tail = NULL;
	if (stopping)
		w->stopping = true;
	pthread_mutex_unlock(&w->lock);
	for (struct delivery *d = list; d != NULL;) {
		struct delivery *next = d->next;
		const char *error = "the daemon is stopping";
		size_t created = 0;
		int result = stopping ? -1 : ingest_batch(w->ing, d->slice, &created, &error);
		pthread_mutex_lock(&w->lock);
		w->tickets_created += created;
		d->result = result;
		if (result < 0)
			snprintf(d->error, sizeof(d->error), "%s", error);
		d->done = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		d = next;
	}
}

static int load_config(const char *path, struct config **cfg_r)
{
	struct cfg_errors errors;
	if (config_load(path, cfg_r, &errors) < 0) {
		for (size_t i = 0; i < errors.count; i++)
			log_error("%s", errors.items[i]);
		cfg_errors_free(&errors);
		return -1;
	}
	return 0;
}

static void stop_fetchers(struct daemon *d)
{
	for (size_t i = 0; i < d->n_fetchers; i++)
		if (d->fetchers[i] != NULL)
			fetcher_stop(d->fetchers[i]);
	for (size_t i = 0; i < d->n_fetchers; i++)
		fetcher_free(&d->fetchers[i]);
	free(d->fetchers);
	d->fetchers = NULL;
	d->n_fetchers = 0;
}

/* A fetcher of mailbox i, preparing mail with the writer's resources. */
static int new_fetcher(struct daemon *d, const struct config *cfg, size_t i, struct fetcher **f_r)
{
	const char *error;
	struct ingest_prep *prep;
	if (ingest_prep_new(d->writer.ing, &prep, &error) < 0 ||
	    fetcher_new(&cfg->mailboxes[i], cfg->database, &(struct fetcher_writer){
				.submit = writer_ops.submit, .wait = writer_ops.wait, .ctx = &d->writer},
			prep, f_r, &error) < 0) {
		log_error("mailbox %s: %s", cfg->mailboxes[i].name, error);
		return -1;
	}
	return 0;
}

static int start_fetchers(struct daemon *d, bool start_threads)
{
	d->fetchers = xcalloc(d->cfg->n_mailboxes ? d->cfg->n_mailboxes : 1, sizeof(*d->fetchers));
	for (size_t i = 0; i < d->cfg->n_mailboxes; i++) {
		const char *error;
		struct fetcher *f;
		if (new_fetcher(d, d->cfg, i, &f) < 0)
			return -1;
		d->fetchers[d->n_fetchers++] = f;
		if (start_threads && fetcher_start(f, &error) < 0) {
			log_error("mailbox %s: %s", d->cfg->mailboxes[i].name, error);
			return -1;
		}
	}
	return 0;
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Every mailbox once, each in its own thread, the main thread storing
 * what they hand over: fetching and preparing overlap with storing. */
static int run_once(struct daemon *d)
{
	int status = EXIT_SUCCESS;
	if (start_fetchers(d, false) < 0) {
		stop_fetchers(d);
		return EXIT_FAILURE;
	}
	size_t running = 0;
	_cleanup_free_ bool *ended = xcalloc(d->n_fetchers + 1, sizeof(*ended));
	for (size_t i = 0; i < d->n_fetchers; i++) {
		const char *error;
		if (fetcher_start_once(d->fetchers[i], &error) < 0) {
			log_error("mailbox %s: %s", fetcher_name(d->fetchers[i]), error);
			status = EXIT_UNAVAILABLE;
			ended[i] = true;
			continue;
		}
		running++;
	}
	struct timespec t0, t1, t2;
	double idle = 0, busy = 0;
	while (running > 0) {
		struct pollfd pfd = {.fd = d->writer.event_fd, .events = POLLIN};
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (poll(&pfd, 1, 20) > 0) {
			uint64_t count;
			if (read(d->writer.event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				log_error("writer eventfd: %s", strerror(errno));
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		writer_drain(&d->writer, false);
		clock_gettime(CLOCK_MONOTONIC, &t2);
		idle += seconds_between(&t0, &t1);
		busy += seconds_between(&t1, &t2);
		for (size_t i = 0; i < d->n_fetchers; i++) {
			if (ended[i] || !fetcher_join(d->fetchers[i], 0))
				continue;
			ended[i] = true;
			running--;
			const char *error;
			if (fetcher_once_result(d->fetchers[i], &error) < 0) {
				log_error("mailbox %s: %s", fetcher_name(d->fetchers[i]), error);
				status = EXIT_UNAVAILABLE;
			}
			struct fetcher_stats stats;
			fetcher_get_stats(d->fetchers[i], &stats);
			log_info("mailbox %s: %llu mails fetched; thread: %.2f s fetching, %.2f s "
				 "preparing, %.2f s waiting for commits, %.2f s CPU",
				 fetcher_name(d->fetchers[i]), (unsigned long long)stats.mails,
				 stats.fetch_ns / 1e9, stats.prepare_ns / 1e9, stats.wait_ns / 1e9,
				 stats.cpu_ns / 1e9);
		}
	}
	struct timespec cpu;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
	log_info("writer: %.2f s storing, %.2f s waiting for mail, %.2f s CPU", busy, idle,
		 cpu.tv_sec + cpu.tv_nsec / 1e9);
	writer_drain(&d->writer, false);
	stop_fetchers(d);
	fire_sla(d);
	const char *error;
	if (sender_run_once(d->cfg, &error) < 0) {
		log_error("sending: %s", error);
		status = EXIT_UNAVAILABLE;
	}
	return status;
}

static void notify_status(struct daemon *d)
{
	size_t connected = 0;
	for (size_t i = 0; i < d->n_fetchers; i++) {
		struct fetcher_stats s;
		if (d->fetchers[i] == NULL)
			continue;
		fetcher_get_stats(d->fetchers[i], &s);
		connected += s.connected;
	}
	pthread_mutex_lock(&d->writer.lock);
	uint64_t created = d->writer.tickets_created;
	pthread_mutex_unlock(&d->writer.lock);
	sd_notifyf(0, "STATUS=%zu/%zu mailboxes connected, %llu tickets opened since start",
		   connected, d->n_fetchers, (unsigned long long)created);
}

/* Stops fetchers while the writer keeps committing what they hand over (a
 * fetcher may be waiting for its batch to commit). */
static void stop_fetchers_draining(struct daemon *d, struct fetcher **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL)
			fetcher_request_stop(list[i]);
	for (size_t i = 0; i < n; i++) {
		if (list[i] == NULL)
			continue;
		while (!fetcher_join(list[i], 50))
			writer_drain(&d->writer, false);
		fetcher_free(&list[i]);
	}
	writer_drain(&d->writer, false);
}

/* A reply queued through the web console: send it now, not at the sender's
 * next wake-up. The server is stopped whenever the sender is replaced. */
static void http_outbox_queued(void *ctx)
{
	struct daemon *d = ctx;
	sender_kick(d->sender);
}

/* The web console runs in its own threads with its own store connections. */
static int start_http(struct daemon *d)
{
	const char *error;
	if (!d->cfg->http.enabled)
		return 0;
	if (http_start(d->cfg, http_outbox_queued, d, &d->http, &error) < 0) {
		log_error("web console: %s", error);
		return -1;
	}
	return 0;
}

/* SIGHUP: the new config is validated first; a bad one changes nothing. A
 * good one is applied without dropping mail: mailboxes added, removed or
 * changed are (re)connected, the others keep running untouched. */
static void reload(struct daemon *d)
{
	sd_notify(0, "RELOADING=1");
	struct config *fresh;
	const char *error;
	if (load_config(d->config_path, &fresh) < 0) {
		log_error("reload refused: %s has errors; the running configuration stays",
			  d->config_path);
		sd_notify(0, "READY=1");
		return;
	}
	if (strcmp(fresh->database, d->cfg->database) != 0) {
		log_error("reload refused: the database cannot change while running (restart)");
		config_free(&fresh);
		sd_notify(0, "READY=1");
		return;
	}
	/* The triage engine reads the config (thresholds, folders): built anew. */
	struct ingest *ing;
	if (ingest_open(d->st, fresh, &ing, &error) < 0) {
		log_error("reload refused: %s; the running configuration stays", error);
		config_free(&fresh);
		sd_notify(0, "READY=1");
		return;
	}
	http_stop(&d->http);
	sender_stop(&d->sender);
	struct fetcher **kept = xcalloc(fresh->n_mailboxes ? fresh->n_mailboxes : 1, sizeof(*kept));
	size_t unchanged = 0, started = 0, stopped = 0;
	for (size_t i = 0; i < fresh->n_mailboxes; i++)
		for (size_t j = 0; j < d->n_fetchers; j++)
			if (d->fetchers[j] != NULL &&
			    config_mailbox_equal(fetcher_mailbox(d->fetchers[j]), &fresh->mailboxes[i])) {
				kept[i] = d->fetchers[j];
				d->fetchers[j] = NULL;
				unchanged++;
				break;
			}
	for (size_t j = 0; j < d->n_fetchers; j++)
		stopped += d->fetchers[j] != NULL;
	stop_fetchers_draining(d, d->fetchers, d->n_fetchers);
	free(d->fetchers);
	ingest_free(&d->writer.ing);
	d->writer.ing = ing;
	config_free(&d->cfg);
	d->cfg = fresh;
	d->fetchers = kept;
	d->n_fetchers = fresh->n_mailboxes;
	for (size_t i = 0; i < fresh->n_mailboxes; i++) {
		if (kept[i] != NULL) {
			/* Mail is prepared with the new stop words and lexicons from
			 * its next slice on (the writer redoes one prepared before). */
			struct ingest_prep *prep;
			if (ingest_prep_new(d->writer.ing, &prep, &error) < 0)
				log_error("mailbox %s: %s", fresh->mailboxes[i].name, error);
			else
				fetcher_set_prep(kept[i], prep);
			continue;
		}
		if (new_fetcher(d, fresh, i, &kept[i]) < 0)
			continue;
		if (fetcher_start(kept[i], &error) < 0) {
			log_error("mailbox %s: %s", fresh->mailboxes[i].name, error);
			continue;
		}
		started++;
	}
	if (sender_start(d->cfg, &d->sender, &error) < 0)
		log_error("sender: %s", error);
	start_http(d);
	log_notice("configuration reloaded from %s: %zu mailboxes unchanged, %zu (re)started, "
		   "%zu stopped", d->config_path, unchanged, started, stopped);
	sd_notify(0, "READY=1");
}

static int run_daemon(struct daemon *d)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any thread starts, so that only the signalfd sees them. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	const char *error;
	if (sender_start(d->cfg, &d->sender, &error) < 0) {
		log_error("sender: %s", error);
		close(sig_fd);
		return EXIT_FAILURE;
	}
	if (start_fetchers(d, true) < 0) {
		sender_stop(&d->sender);
		close(sig_fd);
		return EXIT_FAILURE;
	}
	if (start_http(d) < 0) {
		stop_fetchers(d);
		sender_stop(&d->sender);
		close(sig_fd);
		return EX_CONFIG_STATUS;
	}
	fire_sla(d);
	purge_daily(d);
	uint64_t watchdog_usec = 0;
	bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
	sd_notify(0, "READY=1");
	log_notice("triaged %s started: %zu mailboxes, database %s", TRIAGED_VERSION,
		   d->cfg->n_mailboxes, d->cfg->database);
	notify_status(d);
	struct timespec last_status;
	clock_gettime(CLOCK_MONOTONIC, &last_status);
	int status = EXIT_SUCCESS;
	for (;;) {
		struct pollfd pfds[2] = {
			{.fd = sig_fd, .events = POLLIN},
			{.fd = d->writer.event_fd, .events = POLLIN},
		};
		/* Wake for the watchdog at half its interval, else for the status line. */
		int timeout = watchdog ? (int)(watchdog_usec / 2000) : 30000;
		if (timeout > 30000)
			timeout = 30000;
		timeout = sla_timeout_ms(d, timeout);
		int rc = poll(pfds, 2, timeout);
		if (rc < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			status = EXIT_FAILURE;
			break;
		}
		if (pfds[1].revents & POLLIN) {
			uint64_t count;
			if (read(d->writer.event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				log_error("writer eventfd: %s", strerror(errno));
			writer_drain(&d->writer, false);
			sender_kick(d->sender);
		}
		if (sla_timeout_ms(d, 1) == 0)
			fire_sla(d);
		purge_daily(d);
		bool stop = false;
		if (pfds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reload(d);
				} else {
					log_notice("signal %s: stopping", strsignal((int)si.ssi_signo));
					stop = true;
				}
			}
		}
		if (watchdog)
			sd_notify(0, "WATCHDOG=1");
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - last_status.tv_sec >= 10) {
			notify_status(d);
			last_status = now;
		}
		if (stop)
			break;
	}
	sd_notify(0, "STOPPING=1");
	/* Fetchers finish or abandon their batch; pending batches are answered
	 * while they stop, so that none waits forever. */
	pthread_mutex_lock(&d->writer.lock);
	d->writer.stopping = true;
	pthread_mutex_unlock(&d->writer.lock);
	writer_drain(&d->writer, true);
	http_stop(&d->http);
	stop_fetchers(d);
	writer_drain(&d->writer, true);
	sender_stop(&d->sender);
	close(sig_fd);
	log_notice("stopped");
	return status;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: triaged [-c CONFIG] [--once] [--check-config] [-v]\n"
		     "  -c, --config FILE  configuration (default " TRIAGED_SYSCONFDIR "/triaged.json)\n"
		     "      --once         fetch all new mail of every mailbox once, then exit\n"
		     "      --check-config validate the configuration: prints ok, or the errors (exit 78)\n"
		     "  -v, --verbose      debug messages\n"
		     "  -V, --version      print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"once", no_argument, NULL, 'o'},
		{"check-config", no_argument, NULL, 'k'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct daemon d = {.config_path = TRIAGED_SYSCONFDIR "/triaged.json"};
	bool once = false, check = false, verbose = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:vVh", options, NULL)) != -1) {
		switch (opt) {
		case 'c': d.config_path = optarg; break;
		case 'o': once = true; break;
		case 'k': check = true; break;
		case 'v': verbose = true; break;
		case 'V': printf("triaged %s\n", TRIAGED_VERSION); return EXIT_SUCCESS;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		default: usage(stderr); return 64;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 64;
	}
	log_init("triaged", verbose);
	if (check) {
		struct cfg_errors errors;
		if (config_load(d.config_path, &d.cfg, &errors) < 0) {
			for (size_t i = 0; i < errors.count; i++)
				fprintf(stderr, "%s\n", errors.items[i]);
			cfg_errors_free(&errors);
			return EX_CONFIG_STATUS;
		}
		config_free(&d.cfg);
		puts("ok");
		return EXIT_SUCCESS;
	}
	if (load_config(d.config_path, &d.cfg) < 0)
		return EX_CONFIG_STATUS;
	const char *error;
	if (store_open(d.cfg->database, &d.st, &error) < 0) {
		log_error("%s", error);
		config_free(&d.cfg);
		return EXIT_UNAVAILABLE;
	}
	if (outbox_global_init(&error) < 0) {
		log_error("%s", error);
		store_close(&d.st);
		config_free(&d.cfg);
		return EXIT_FAILURE;
	}
	pthread_mutex_init(&d.writer.lock, NULL);
	pthread_cond_init(&d.writer.cond, NULL);
	d.writer.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int status;
	if (ingest_open(d.st, d.cfg, &d.writer.ing, &error) < 0) {
		log_error("%s", error);
		status = EX_CONFIG_STATUS;
	} else {
		status = once ? run_once(&d) : run_daemon(&d);
	}
	ingest_free(&d.writer.ing);
	close(d.writer.event_fd);
	store_close(&d.st);
	config_free(&d.cfg);
	return status;
}
