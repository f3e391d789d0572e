/* IMAP mailbox fetchers: checkpointed fetching, after-commit actions,
 * reconnection with backoff, IDLE or polling. */
#include "fetcher.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "imap.h"
#include "ingest.h"
#include "log.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

/* UIDs per FETCH and per transaction: large enough that commits are rare
 * (they fsync), small enough that memory stays bounded. */
#define FETCH_SLICE 200
/* Slices handed to the writer and not yet committed: while it stores one,
 * the next ones are fetched, prepared and queued. The bytes cap keeps a mailbox of
 * large mails from holding several slices of them in memory (a single
 * slice may exceed it: it is always allowed). */
#define FETCH_INFLIGHT 3
#define FETCH_INFLIGHT_BYTES (64u << 20)
/* The writer is the pipeline's narrowest stage: fetchers and their helpers
 * run at this nice value, taking what CPU the writer leaves, and keep ahead
 * of it thanks to the slices in flight. */
#define FETCH_NICE 10
#define BACKOFF_MIN_SECONDS 1
#define BACKOFF_MAX_SECONDS 300
/* IDLE is renewed before the 29 minutes of RFC 2177. */
#define IDLE_MAX_MS (28 * 60 * 1000)

/* A thread that prepares part of each slice alongside the fetcher's own
 * thread: preparing (parsing, features) is most of a fetcher's work, and
 * the writer keeps up with more than one thread's worth of it. */
struct prep_helper {
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ingest_prep *prep; /* the helper's own context */
	struct ingest_item *items;
	size_t n;
	bool busy, stopping;
	bool tried; /* started, or found useless or impossible */
};

struct fetcher {
	struct cfg_mailbox mb_copy; /* owned: the fetcher may outlive a reloaded config */
	const struct cfg_mailbox *mb;
	char *database;
	struct store *st; /* read-only use: the checkpoint */
	struct fetcher_writer writer;
	pthread_mutex_t prep_lock;
	struct ingest_prep *prep;      /* this thread's; NULL: the writer prepares */
	struct ingest_prep *next_prep; /* a replacement, under prep_lock */
	bool has_next_prep;
	struct prep_helper helper;
	int stop_fd;
	pthread_t thread;
	bool running;
	atomic_bool connected;
	atomic_uint_fast64_t mails;
	atomic_uint_fast64_t failures;
	atomic_uint_fast64_t fetch_ns, prepare_ns, wait_ns, cpu_ns;
	char *last_error; /* to log a failure once per change, not per retry */
	bool move_recovered;
	char error[256];      /* the first error of a pass, copied */
	int once_result;      /* fetcher_start_once's pass */
	const char *once_error;
};

struct collect {
	struct ingest_item *items;
	size_t n, cap;
	size_t bytes;
};

static int collect_mail(uint32_t uid, const char *data, size_t len, bool truncated, void *ctx)
{
	struct collect *c = ctx;
	c->items = xgrow(c->items, &c->cap, c->n + 1, sizeof(*c->items));
	struct ingest_item *it = &c->items[c->n++];
	it->uid = uid;
	it->data = xmalloc(len + 1);
	memcpy(it->data, data, len);
	it->data[len] = '\0';
	it->len = len;
	it->truncated = truncated;
	it->prepared = NULL;
	c->bytes += len;
	return 0;
}

static void collect_reset(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].data);
		ingest_prepared_free(&c->items[i].prepared);
	}
	c->n = 0;
	c->bytes = 0;
}

/* Lowers the calling thread's priority (threads are tasks to the Linux
 * scheduler); failing changes nothing but the speed. */
static void lower_priority(void)
{
	setpriority(PRIO_PROCESS, (id_t)gettid(), FETCH_NICE);
}

static void *helper_thread(void *arg)
{
	struct prep_helper *h = arg;
	lower_priority();
	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->busy && !h->stopping)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->stopping)
			break;
		pthread_mutex_unlock(&h->lock);
		for (size_t i = 0; i < h->n; i++)
			h->items[i].prepared = ingest_prepare(h->prep, h->items[i].data, h->items[i].len);
		pthread_mutex_lock(&h->lock);
		h->busy = false;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void helper_stop(struct prep_helper *h)
{
	if (h->running) {
		pthread_mutex_lock(&h->lock);
		h->stopping = true;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		h->running = false;
	}
	ingest_prep_free(&h->prep);
}

/* Gives the helper a context on the fetcher's resources, starting it the
 * first time; without a second processor, or on failure, the fetcher's
 * thread prepares everything itself. Called while the helper is idle. */
static void helper_update(struct fetcher *f)
{
	struct prep_helper *h = &f->helper;
	ingest_prep_free(&h->prep);
	h->tried = true;
	const char *error;
	if (f->prep == NULL || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	if (ingest_prep_copy(f->prep, &h->prep, &error) < 0) {
		log_warning("mailbox %s: no preparation helper: %s", f->mb->name, error);
		return;
	}
	if (h->running)
		return;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->busy = h->stopping = false;
	if (pthread_create(&h->thread, NULL, helper_thread, h) != 0) {
		log_warning("mailbox %s: cannot start the preparation helper", f->mb->name);
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		ingest_prep_free(&h->prep);
		return;
	}
	h->running = true;
}

/* Prepares a slice's mail: the second half in the helper, the first here. */
static void prepare_slice(struct fetcher *f, struct collect *c)
{
	struct prep_helper *h = &f->helper;
	if (f->prep == NULL)
		return;
	size_t split = h->running && h->prep != NULL && c->n >= 2 ? c->n / 2 : c->n;
	if (split < c->n) {
		pthread_mutex_lock(&h->lock);
		h->items = c->items + split;
		h->n = c->n - split;
		h->busy = true;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
	}
	for (size_t i = 0; i < split; i++)
		c->items[i].prepared = ingest_prepare(f->prep, c->items[i].data, c->items[i].len);
	if (split < c->n) {
		pthread_mutex_lock(&h->lock);
		while (h->busy)
			pthread_cond_wait(&h->cond, &h->lock);
		pthread_mutex_unlock(&h->lock);
	}
}

int fetcher_new(const struct cfg_mailbox *mb, const char *database,
		const struct fetcher_writer *writer, struct ingest_prep *prep, struct fetcher **f_r,
		const char **error_r)
{
	struct fetcher *f = xcalloc(1, sizeof(*f));
	config_mailbox_copy(&f->mb_copy, mb);
	f->mb = &f->mb_copy;
	f->database = xstrdup(database);
	f->writer = *writer;
	f->prep = prep;
	pthread_mutex_init(&f->prep_lock, NULL);
	f->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->stop_fd < 0) {
		*error_r = "eventfd failed";
		fetcher_free(&f);
		return -1;
	}
	if (store_open_existing(database, &f->st, error_r) < 0) {
		fetcher_free(&f);
		return -1;
	}
	*f_r = f;
	return 0;
}

void fetcher_free(struct fetcher **fp)
{
	struct fetcher *f = *fp;
	if (f == NULL)
		return;
	if (f->running)
		fetcher_stop(f);
	if (f->stop_fd >= 0)
		close(f->stop_fd);
	store_close(&f->st);
	helper_stop(&f->helper);
	ingest_prep_free(&f->prep);
	ingest_prep_free(&f->next_prep);
	pthread_mutex_destroy(&f->prep_lock);
	config_mailbox_clear(&f->mb_copy);
	free(f->database);
	free(f->last_error);
	free(f);
	*fp = NULL;
}

void fetcher_set_prep(struct fetcher *f, struct ingest_prep *prep)
{
	pthread_mutex_lock(&f->prep_lock);
	ingest_prep_free(&f->next_prep);
	f->next_prep = prep;
	f->has_next_prep = true;
	pthread_mutex_unlock(&f->prep_lock);
}

/* Takes a replacement context, if any (the fetcher's thread, the helper
 * idle); the first time, starts the helper. */
static void take_next_prep(struct fetcher *f)
{
	pthread_mutex_lock(&f->prep_lock);
	bool changed = f->has_next_prep;
	if (f->has_next_prep) {
		ingest_prep_free(&f->prep);
		f->prep = f->next_prep;
		f->next_prep = NULL;
		f->has_next_prep = false;
	}
	pthread_mutex_unlock(&f->prep_lock);
	if (changed || !f->helper.tried)
		helper_update(f);
}

const char *fetcher_name(const struct fetcher *f)
{
	return f->mb->name;
}

const struct cfg_mailbox *fetcher_mailbox(const struct fetcher *f)
{
	return f->mb;
}

void fetcher_get_stats(struct fetcher *f, struct fetcher_stats *stats_r)
{
	stats_r->connected = atomic_load(&f->connected);
	stats_r->mails = atomic_load(&f->mails);
	stats_r->failures = atomic_load(&f->failures);
	stats_r->fetch_ns = atomic_load(&f->fetch_ns);
	stats_r->prepare_ns = atomic_load(&f->prepare_ns);
	stats_r->wait_ns = atomic_load(&f->wait_ns);
	stats_r->cpu_ns = atomic_load(&f->cpu_ns);
}

static bool stop_requested(struct fetcher *f)
{
	struct pollfd pfd = {.fd = f->stop_fd, .events = POLLIN};
	return poll(&pfd, 1, 0) > 0;
}

static int connect_mailbox(struct fetcher *f, struct imap_conn **conn_r, const char **error_r)
{
	const struct cfg_mailbox *mb = f->mb;
	char *password = NULL;
	if (config_read_secret(mb->password_file, mb->password_env, &password, error_r) < 0)
		return -1;
	struct imap_settings set = {
		.host = mb->host, .port = mb->port,
		.tls = mb->tls == CFG_TLS_NONE       ? IMAP_TLS_NONE
		       : mb->tls == CFG_TLS_STARTTLS ? IMAP_TLS_STARTTLS
						     : IMAP_TLS_IMPLICIT,
		.tls_verify = mb->tls_verify, .tls_ca_file = mb->tls_ca_file, .user = mb->user,
		.password = password, .folder = mb->folder, .timeout_seconds = mb->timeout_seconds,
	};
	int ret = imap_connect(&set, conn_r, error_r);
	explicit_bzero(password, strlen(password));
	free(password);
	return ret;
}

static int after_action(struct fetcher *f, struct imap_conn *conn, const uint32_t *uids,
			size_t n, const char **error_r)
{
	switch (f->mb->after) {
	case CFG_AFTER_SEEN: return imap_mark_seen(conn, uids, n, error_r);
	case CFG_AFTER_MOVE: return imap_move(conn, uids, n, f->mb->after_folder, error_r);
	case CFG_AFTER_KEEP: return 0;
	}
	return 0;
}

/* Mail committed before a crash or a kill but not yet moved is still in the
 * folder at or below the checkpoint: it is moved now, once per connection
 * of the process (it was stored already, so nothing is fetched again). */
static int recover_moves(struct fetcher *f, struct imap_conn *conn, uint32_t last_uid,
			 const char **error_r)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	if (imap_search_uids_after(conn, 0, &uids, &n, error_r) < 0)
		return -1;
	size_t committed = 0;
	while (committed < n && uids[committed] <= last_uid)
		committed++;
	int ret = 0;
	if (committed > 0) {
		ret = imap_move(conn, uids, committed, f->mb->after_folder, error_r);
		if (ret == 0)
			log_notice("mailbox %s: moved %zu mails stored before a restart to %s",
				   f->mb->name, committed, f->mb->after_folder);
	}
	free(uids);
	if (ret == 0)
		f->move_recovered = true;
	return ret;
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Adds the time since *since to *total and restarts the count. */
static void account(atomic_uint_fast64_t *total, uint64_t *since)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	atomic_fetch_add(total, now - *since);
	*since = now;
}

/* A slice on its way to the writer. */
struct in_flight {
	struct collect c;
	struct ingest_slice slice;
	const uint32_t *uids; /* into the pass's UID list */
	size_t count;
	void *token;
};

static void in_flight_free(struct in_flight **flp)
{
	struct in_flight *fl = *flp;
	if (fl == NULL)
		return;
	collect_reset(&fl->c);
	free(fl->c.items);
	free(fl);
	*flp = NULL;
}

/* Keeps the first error of a pass: later ones (a slice refused because an
 * earlier one failed) say less. */
static void pass_error(struct fetcher *f, int *ret, const char *error)
{
	if (*ret == 0)
		snprintf(f->error, sizeof(f->error), "%s", error ? error : "failed");
	*ret = -1;
}

/* Waits for the oldest slice in flight and, once it is committed, runs its
 * after action (not after an earlier failure: the connection may be gone;
 * a move left undone is recovered at the next connection). */
static void finish_oldest(struct fetcher *f, struct imap_conn *conn, struct in_flight **q,
			  size_t *n_q, int *ret)
{
	struct in_flight *fl = q[0];
	const char *error = NULL;
	uint64_t since = clock_ns(CLOCK_MONOTONIC);
	int stored = f->writer.wait(f->writer.ctx, fl->token, &error);
	if (stored < 0) {
		pass_error(f, ret, error);
	} else {
		atomic_fetch_add(&f->mails, fl->c.n);
		/* Only now, with the mails committed, may the server forget them. */
		if (*ret == 0 && after_action(f, conn, fl->uids, fl->count, &error) < 0)
			pass_error(f, ret, error);
		if (*ret < 0)
			f->move_recovered = false;
	}
	in_flight_free(&fl);
	account(&f->wait_ns, &since);
	(*n_q)--;
	memmove(&q[0], &q[1], *n_q * sizeof(*q));
}

static size_t in_flight_bytes(struct in_flight *const *q, size_t n_q)
{
	size_t bytes = 0;
	for (size_t i = 0; i < n_q; i++)
		bytes += q[i]->c.bytes;
	return bytes;
}

/* Fetches and delivers everything after the checkpoint, a few slices in
 * flight: while the writer stores one, the next is fetched and prepared. */
static int fetch_new(struct fetcher *f, struct imap_conn *conn, const char **error_r)
{
	uint32_t uidvalidity, uidnext, exists;
	if (imap_select_info(conn, &uidvalidity, &uidnext, &exists) < 0) {
		*error_r = "no UIDVALIDITY from the server";
		return -1;
	}
	uint32_t cp_validity, cp_uid;
	if (store_checkpoint_get(f->st, f->mb->name, &cp_validity, &cp_uid) < 0) {
		*error_r = store_error(f->st);
		return -1;
	}
	uint32_t last_uid = cp_uid;
	if (cp_validity != 0 && cp_validity != uidvalidity) {
		/* Every UID changed meaning: fetch all again; deduplication keeps
		 * what is already stored from being stored twice. */
		log_warning("mailbox %s: UIDVALIDITY changed from %u to %u, resynchronising",
			    f->mb->name, cp_validity, uidvalidity);
		last_uid = 0;
	}
	if (f->mb->after == CFG_AFTER_MOVE && last_uid > 0 && !f->move_recovered &&
	    recover_moves(f, conn, last_uid, error_r) < 0)
		return -1;
	uint32_t *uids = NULL;
	size_t n = 0;
	if (imap_search_uids_after(conn, last_uid, &uids, &n, error_r) < 0)
		return -1;
	/* The writer holds a pointer to each slice until answered: each in
	 * flight has a place of its own. */
	struct in_flight *q[FETCH_INFLIGHT];
	size_t n_q = 0;
	int ret = 0;
	/* Each slice continues the checkpoint the previous one leaves. */
	uint32_t from_validity = cp_validity, from_uid = cp_uid;
	take_next_prep(f);
	for (size_t start = 0; start < n && ret == 0; start += FETCH_SLICE) {
		if (stop_requested(f))
			break;
		while (ret == 0 && n_q > 0 &&
		       (n_q >= FETCH_INFLIGHT || in_flight_bytes(q, n_q) >= FETCH_INFLIGHT_BYTES))
			finish_oldest(f, conn, q, &n_q, &ret);
		if (ret < 0)
			break;
		size_t count = n - start < FETCH_SLICE ? n - start : FETCH_SLICE;
		struct in_flight *fl = xcalloc(1, sizeof(*fl));
		const char *error = NULL;
		uint64_t since = clock_ns(CLOCK_MONOTONIC);
		if (imap_fetch_raw(conn, uids + start, count, collect_mail, &fl->c, &error) < 0) {
			pass_error(f, &ret, error);
			in_flight_free(&fl);
			break;
		}
		account(&f->fetch_ns, &since);
		take_next_prep(f);
		prepare_slice(f, &fl->c);
		account(&f->prepare_ns, &since);
		fl->uids = uids + start;
		fl->count = count;
		fl->slice = (struct ingest_slice){
			.mailbox = f->mb->name, .from_validity = from_validity, .from_uid = from_uid,
			.uidvalidity = uidvalidity, .last_uid = uids[start + count - 1],
			.items = fl->c.items, .n = fl->c.n,
		};
		if (f->writer.submit(f->writer.ctx, &fl->slice, &fl->token, &error) < 0) {
			pass_error(f, &ret, error);
			in_flight_free(&fl);
			break;
		}
		from_validity = uidvalidity;
		from_uid = fl->slice.last_uid;
		q[n_q++] = fl;
	}
	/* Every slice handed over is answered before its memory goes. */
	while (n_q > 0)
		finish_oldest(f, conn, q, &n_q, &ret);
	free(uids);
	if (ret < 0)
		*error_r = f->error;
	return ret;
}

static int run_once(struct fetcher *f, const char **error_r)
{
	struct imap_conn *conn;
	if (connect_mailbox(f, &conn, error_r) < 0)
		return -1;
	atomic_store(&f->connected, true);
	int ret = fetch_new(f, conn, error_r);
	imap_logout(&conn);
	atomic_store(&f->connected, false);
	return ret;
}

/* "fetch:<mailbox>" in ps -L, top -H and perf (15 bytes at most); at a
 * lower priority than the writer. */
static void name_thread(const struct fetcher *f)
{
	char name[16];
	snprintf(name, sizeof(name), "fetch:%s", f->mb->name);
	pthread_setname_np(pthread_self(), name);
	lower_priority();
}

static void *fetcher_once_thread(void *arg)
{
	struct fetcher *f = arg;
	name_thread(f);
	f->once_result = run_once(f, &f->once_error);
	atomic_store(&f->cpu_ns, clock_ns(CLOCK_THREAD_CPUTIME_ID));
	if (f->once_result < 0 && f->once_error != f->error) {
		/* Copied: the error may live in this thread's storage. */
		snprintf(f->error, sizeof(f->error), "%s", f->once_error);
		f->once_error = f->error;
	}
	return NULL;
}

int fetcher_start_once(struct fetcher *f, const char **error_r)
{
	f->once_result = 0;
	f->once_error = NULL;
	if (pthread_create(&f->thread, NULL, fetcher_once_thread, f) != 0) {
		*error_r = "cannot start the mailbox thread";
		return -1;
	}
	f->running = true;
	return 0;
}

int fetcher_once_result(struct fetcher *f, const char **error_r)
{
	if (f->once_result < 0)
		*error_r = f->once_error;
	return f->once_result;
}

/* Waits up to ms, or until a stop request; true when stopping. */
static bool wait_or_stop(struct fetcher *f, int ms)
{
	struct pollfd pfd = {.fd = f->stop_fd, .events = POLLIN};
	int rc;
	do
		rc = poll(&pfd, 1, ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0;
}

static unsigned jitter_ms(unsigned seconds)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)seconds * 2654435761u;
	/* 75% to 125% of the nominal delay, so that mailboxes do not retry in step. */
	return seconds * 750 + r % (seconds * 500 + 1);
}

static void note_failure(struct fetcher *f, const char *what, const char *error)
{
	atomic_fetch_add(&f->failures, 1);
	bool was_connected = atomic_exchange(&f->connected, false);
	_cleanup_free_ char *text = xasprintf("%s: %s", what, error);
	char field[128];
	snprintf(field, sizeof(field), "MAILBOX=%s", f->mb->name);
	const char *fields[] = {field, NULL};
	if (was_connected || f->last_error == NULL || strcmp(f->last_error, text) != 0)
		log_fields(LOG_WARNING, fields, "mailbox %s: %s; retrying with backoff",
			   f->mb->name, text);
	else
		log_debug("mailbox %s: still failing: %s", f->mb->name, text);
	free(f->last_error);
	f->last_error = TAKE_PTR(text);
}

static void *fetcher_thread(void *arg)
{
	struct fetcher *f = arg;
	name_thread(f);
	unsigned backoff = BACKOFF_MIN_SECONDS;
	char field[128];
	snprintf(field, sizeof(field), "MAILBOX=%s", f->mb->name);
	const char *fields[] = {field, NULL};
	while (!stop_requested(f)) {
		struct imap_conn *conn = NULL;
		const char *error;
		if (connect_mailbox(f, &conn, &error) < 0) {
			note_failure(f, "cannot connect", error);
			if (wait_or_stop(f, (int)jitter_ms(backoff)))
				break;
			backoff = backoff * 2 > BACKOFF_MAX_SECONDS ? BACKOFF_MAX_SECONDS : backoff * 2;
			continue;
		}
		atomic_store(&f->connected, true);
		log_fields(LOG_NOTICE, fields, "mailbox %s: connected to %s%s", f->mb->name,
			   imap_describe(conn), f->last_error ? " (connection regained)" : "");
		free(f->last_error);
		f->last_error = NULL;
		backoff = BACKOFF_MIN_SECONDS;
		bool idle = f->mb->idle && imap_has_idle(conn);
		for (;;) {
			if (fetch_new(f, conn, &error) < 0) {
				note_failure(f, "connection lost", error);
				break;
			}
			if (stop_requested(f))
				break;
			if (idle) {
				bool new_mail;
				if (imap_idle_wait(conn, IDLE_MAX_MS, f->stop_fd, &new_mail, &error) < 0) {
					note_failure(f, "connection lost", error);
					break;
				}
			} else if (wait_or_stop(f, (int)f->mb->poll_seconds * 1000)) {
				break;
			}
		}
		imap_logout(&conn);
		if (!stop_requested(f) && wait_or_stop(f, (int)jitter_ms(backoff)))
			break;
	}
	atomic_store(&f->connected, false);
	return NULL;
}

int fetcher_start(struct fetcher *f, const char **error_r)
{
	if (pthread_create(&f->thread, NULL, fetcher_thread, f) != 0) {
		*error_r = "cannot start the mailbox thread";
		return -1;
	}
	f->running = true;
	return 0;
}

void fetcher_request_stop(struct fetcher *f)
{
	uint64_t one = 1;
	if (f->running && write(f->stop_fd, &one, sizeof(one)) < 0)
		log_error("mailbox %s: cannot signal the thread to stop", f->mb->name);
}

bool fetcher_join(struct fetcher *f, int timeout_ms)
{
	if (!f->running)
		return true;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(f->thread, NULL, &deadline) != 0)
		return false;
	f->running = false;
	return true;
}

void fetcher_stop(struct fetcher *f)
{
	fetcher_request_stop(f);
	if (f->running)
		pthread_join(f->thread, NULL);
	f->running = false;
}
