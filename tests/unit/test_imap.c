/* IMAP client and TLS tests against real, private Dovecot instances on
 * 127.0.0.1 started by tests/lib/dovecot.sh (plain, TLS, wrong-host TLS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "imap.h"
#include "parse.h"
#include "xalloc.h"

#define HARNESS SOURCE_DIR "/tests/lib/dovecot.sh"
#define USER "support@example.test"
#define PASSWORD "secret"

enum server_kind { SRV_PLAIN, SRV_TLS, SRV_WRONG_HOST, SRV_COUNT };
static const char *const server_modes[SRV_COUNT] = {"plain", "tls", "tls-wrong-host"};

static char base_dir[PATH_MAX];
static char server_dir[SRV_COUNT][PATH_MAX + 16];
static unsigned server_port[SRV_COUNT];
static unsigned server_imaps_port[SRV_COUNT];
static char mail_path[4][PATH_MAX + 32];
static char *mail_data[4];
static size_t mail_len[4];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = system(cmd);
	free(cmd);
	return r == -1 ? -1 : WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static unsigned read_port(const char *dir, const char *name)
{
	char path[PATH_MAX + 64], buf[32] = "";
	uint32_t port = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL)
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return parse_uint32(buf, &port) == 0 ? port : 0;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* Stops every instance (each lives in a subdirectory of base_dir), then
 * removes base_dir. Returns 0 when all stopped. */
static int stop_all_servers(void)
{
	if (base_dir[0] == '\0')
		return 0;
	return run("rc=0; for d in '%s'/*/; do [ -e \"$d/dovecot.conf\" ] || continue;"
	           " bash %s stop \"$d\" || rc=1; done; rm -rf '%s'; exit $rc",
	           base_dir, HARNESS, base_dir);
}

/* A watchdog child stops every server when this process ends, however it
 * ends (assertion, crash, kill): it waits for EOF on a pipe that only we
 * hold (close-on-exec, so Dovecot does not inherit it). */
static void start_watchdog(void)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		char c;

		close(fds[1]);
		setsid(); /* a Ctrl-C to the test must not kill the cleaner first */
		while (read(fds[0], &c, 1) != 0 && errno == EINTR)
			;
		stop_all_servers();
		_exit(0);
	}
	close(fds[0]);
	/* fds[1] stays open until we exit. */
}

static const char *const mail_templates[] = {
    "From: Alice <alice@example.com>\r\nTo: support@example.test\r\nSubject: Order 1234 not "
    "delivered\r\n"
    "Message-ID: <m1@example.com>\r\n\r\nHello, my order has not arrived yet.\r\n",
    "From: =?UTF-8?Q?B=C3=A9atrice?= <b@example.fr>\r\nTo: support@example.test\r\n"
    "Subject: Facture\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
    "8bit\r\n"
    "Message-ID: <m2@example.fr>\r\n\r\nBonjour, la facture est fausse. Merci \xc3\xa0 vous.\r\n",
    "From: carol@example.org\r\nTo: support@example.test\r\nSubject: Big one\r\n"
    "Message-ID: <m3@example.org>\r\n\r\n",
    "From: dave@example.net\r\nTo: support@example.test\r\nSubject: Arrives during IDLE\r\n"
    "Message-ID: <m4@example.net>\r\n\r\nPing.\r\n",
};

static int group_setup(void **state)
{
	(void)state;
	snprintf(base_dir, sizeof(base_dir), "/tmp/triaged-test-imap.XXXXXX");
	if (mkdtemp(base_dir) == NULL)
		return -1;
	/* Dovecot's unprivileged processes must traverse it to reach their files. */
	chmod(base_dir, 0711);
	start_watchdog();
	for (int i = 0; i < SRV_COUNT; i++) {
		snprintf(server_dir[i], sizeof(server_dir[i]), "%s/%s", base_dir, server_modes[i]);
		if (run("bash %s start-auto '%s' %s", HARNESS, server_dir[i], server_modes[i]) !=
		    0) {
			fprintf(stderr, "cannot start the %s Dovecot\n", server_modes[i]);
			return -1;
		}
		server_port[i] = read_port(server_dir[i], "imap.port");
		server_imaps_port[i] = read_port(server_dir[i], "imaps.port");
	}
	for (int i = 0; i < 4; i++) {
		struct strbuf_like {
			char *p;
			size_t len;
		} m = {xstrdup(mail_templates[i]), strlen(mail_templates[i])};

		if (i == 2) {
			/* 200 kB of body lines: exercises literals larger than
			 * any single read and the truncation limit. */
			size_t body = 200 * 1000, line = 100;
			m.p = xrealloc(m.p, m.len + body + 1);
			for (size_t off = 0; off < body; off += line) {
				memset(m.p + m.len + off, 'a' + (char)((off / line) % 26),
				       line - 2);
				memcpy(m.p + m.len + off + line - 2, "\r\n", 2);
			}
			m.len += body;
			m.p[m.len] = '\0';
		}
		snprintf(mail_path[i], sizeof(mail_path[i]), "%s/mail%d.eml", base_dir, i + 1);
		write_file(mail_path[i], m.p, m.len);
		mail_data[i] = m.p;
		mail_len[i] = m.len;
	}
	/* The first three go to the plain server's INBOX now; the fourth is
	 * delivered during an IDLE. */
	if (run("bash %s append '%s' INBOX '%s' '%s' '%s'", HARNESS, server_dir[SRV_PLAIN],
	        mail_path[0], mail_path[1], mail_path[2]) != 0)
		return -1;
	if (run("bash %s append '%s' INBOX '%s'", HARNESS, server_dir[SRV_TLS], mail_path[0]) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		free(mail_data[i]);
	return stop_all_servers() == 0 ? 0 : -1;
}

static struct imap_settings plain_settings(void)
{
	struct imap_settings set = {
	    .host = "127.0.0.1",
	    .port = server_port[SRV_PLAIN],
	    .tls = IMAP_TLS_NONE,
	    .tls_verify = true,
	    .user = USER,
	    .password = PASSWORD,
	    .folder = "INBOX",
	    .timeout_seconds = 10,
	};
	return set;
}

static struct imap_conn *connect_ok(const struct imap_settings *set)
{
	struct imap_conn *conn = NULL;
	const char *error = NULL;

	if (imap_connect(set, &conn, &error) < 0)
		fail_msg("imap_connect: %s", error);
	assert_non_null(conn);
	return conn;
}

/* ---- fetching ---- */

struct collected {
	uint32_t uids[16];
	char *data[16];
	size_t len[16];
	bool truncated[16];
	size_t n;
	int stop_after; /* 0: never */
};

static int collect_cb(uint32_t uid, const char *data, size_t len, bool truncated, void *ctx)
{
	struct collected *c = ctx;

	if (c->n >= 16)
		return -1;
	c->uids[c->n] = uid;
	c->data[c->n] = xmalloc(len + 1);
	memcpy(c->data[c->n], data, len);
	c->len[c->n] = len;
	c->truncated[c->n] = truncated;
	c->n++;
	return c->stop_after != 0 && (int)c->n >= c->stop_after ? -1 : 0;
}

static void collected_free(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->data[i]);
	c->n = 0;
}

static void test_plain_select_search_fetch(void **state)
{
	struct imap_settings set = plain_settings();
	struct imap_conn *conn;
	uint32_t uidvalidity = 0, uidnext = 0, exists = 0, *uids = NULL;
	size_t n = 99;
	struct collected got = {0};
	const char *error = NULL;

	(void)state;
	conn = connect_ok(&set);
	assert_non_null(strstr(imap_describe(conn), "127.0.0.1:"));
	assert_non_null(strstr(imap_describe(conn), "plain"));
	assert_int_equal(imap_select_info(conn, &uidvalidity, &uidnext, &exists), 0);
	assert_int_not_equal(uidvalidity, 0);
	assert_int_equal(exists, 3);
	assert_int_equal(uidnext, 4);

	assert_int_equal(imap_search_uids_after(conn, 0, &uids, &n, &error), 0);
	assert_int_equal(n, 3);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 2);
	assert_int_equal(uids[2], 3);

	/* Fetch in reverse order: delivery follows the server, bytes are exact. */
	uint32_t want[] = {3, 1, 2};
	assert_int_equal(imap_fetch_raw(conn, want, 3, collect_cb, &got, &error), 0);
	assert_int_equal(got.n, 3);
	for (size_t i = 0; i < got.n; i++) {
		uint32_t uid = got.uids[i];

		assert_true(uid >= 1 && uid <= 3);
		assert_int_equal(got.len[i], mail_len[uid - 1]);
		assert_memory_equal(got.data[i], mail_data[uid - 1], mail_len[uid - 1]);
		assert_false(got.truncated[i]);
	}
	collected_free(&got);
	free(uids);

	/* Not \Seen: BODY.PEEK leaves flags alone. */
	assert_int_equal(run("doveadm -c '%s/dovecot.conf' search -u " USER
	                     " mailbox INBOX SEEN | grep -q .",
	                     server_dir[SRV_PLAIN]),
	                 1);
	imap_logout(&conn);
	assert_null(conn);
	imap_logout(&conn); /* NULL-safe */
}

static void test_search_after(void **state)
{
	struct imap_settings set = plain_settings();
	struct imap_conn *conn = connect_ok(&set);
	uint32_t *uids = NULL;
	size_t n = 99;
	const char *error = NULL;

	(void)state;
	assert_int_equal(imap_search_uids_after(conn, 2, &uids, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(uids[0], 3);
	free(uids);
	/* "4:*" matches UID 3 on the server; it must be filtered out. */
	uids = NULL;
	assert_int_equal(imap_search_uids_after(conn, 3, &uids, &n, &error), 0);
	assert_int_equal(n, 0);
	assert_null(uids);
	assert_int_equal(imap_search_uids_after(conn, 1000, &uids, &n, &error), 0);
	assert_int_equal(n, 0);
	assert_int_equal(imap_search_uids_after(conn, UINT32_MAX, &uids, &n, &error), 0);
	assert_int_equal(n, 0);
	imap_logout(&conn);
}

static void test_fetch_limit_truncates(void **state)
{
	struct imap_settings set = plain_settings();
	struct imap_conn *conn;
	struct collected got = {0};
	uint32_t want[] = {1, 3, 77}; /* 77 does not exist: skipped */
	const char *error = NULL;

	(void)state;
	set.max_mail_bytes = 1000;
	conn = connect_ok(&set);
	assert_int_equal(imap_fetch_raw(conn, want, 3, collect_cb, &got, &error), 0);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.uids[0], 1);
	assert_false(got.truncated[0]);
	assert_int_equal(got.len[0], mail_len[0]);
	assert_int_equal(got.uids[1], 3);
	assert_true(got.truncated[1]);
	assert_int_equal(got.len[1], 1000);
	assert_memory_equal(got.data[1], mail_data[2], 1000);
	collected_free(&got);

	/* The callback can stop the fetch; the connection stays usable. */
	got.stop_after = 1;
	assert_int_equal(imap_fetch_raw(conn, want, 3, collect_cb, &got, &error), -1);
	assert_non_null(strstr(error, "stopped"));
	assert_int_equal(got.n, 1);
	collected_free(&got);
	got.stop_after = 0;
	assert_int_equal(imap_fetch_raw(conn, want, 1, collect_cb, &got, &error), 0);
	assert_int_equal(got.n, 1);
	collected_free(&got);
	imap_logout(&conn);
}

struct counted {
	size_t n;
	uint32_t last_uid;
	bool all_equal;
	bool ascending;
};

static int count_cb(uint32_t uid, const char *data, size_t len, bool truncated, void *ctx)
{
	struct counted *c = ctx;

	c->all_equal = c->all_equal && !truncated && len == mail_len[0] &&
	               memcmp(data, mail_data[0], len) == 0;
	c->ascending = c->ascending && uid > c->last_uid;
	c->last_uid = uid;
	c->n++;
	return 0;
}

static void test_fetch_many(void **state)
{
	struct imap_settings set = plain_settings();
	struct imap_conn *conn;
	struct counted counted = {.all_equal = true, .ascending = true};
	uint32_t *uids = NULL;
	size_t n = 0;
	const char *error = NULL;
	_cleanup_free_ char *files = NULL;
	size_t count = 60;

	(void)state;
	/* The same file many times over: one doveadm per file. */
	for (size_t i = 0; i < count; i++) {
		char *more = xasprintf("%s '%s'", files != NULL ? files : "", mail_path[0]);

		free(files);
		files = more;
	}
	assert_int_equal(run("bash %s append '%s' Bulk %s", HARNESS, server_dir[SRV_PLAIN], files),
	                 0);
	set.folder = "Bulk";
	conn = connect_ok(&set);
	assert_int_equal(imap_search_uids_after(conn, 0, &uids, &n, &error), 0);
	assert_int_equal(n, count);
	assert_int_equal(imap_fetch_raw(conn, uids, n, count_cb, &counted, &error), 0);
	assert_int_equal(counted.n, count);
	assert_true(counted.all_equal);
	assert_true(counted.ascending);
	free(uids);
	imap_logout(&conn);
}

/* Flags of a UID as another client (doveadm) sees them. */
static bool has_flag(const char *dir, const char *folder, uint32_t uid, const char *flag)
{
	return run("doveadm -c '%s/dovecot.conf' fetch -u " USER " flags mailbox '%s' uid %u"
	           " | grep -q '%s'",
	           dir, folder, uid, flag) == 0;
}

static void test_mark_seen(void **state)
{
	struct imap_settings set = plain_settings();
	struct imap_conn *conn = connect_ok(&set);
	const char *error = NULL;
	/* Many scattered UIDs: more ranges than one command carries, so the
	 * set is split; UIDs that do not exist are ignored by the server. */
	size_t n = 1201;
	uint32_t *uids = xmalloc(n * sizeof(*uids));

	(void)state;
	for (size_t i = 0; i < n; i++)
		uids[i] = (uint32_t)(2 * (n - i) - 1); /* 2401, 2399, ... 3, 1: unsorted */
	assert_false(has_flag(server_dir[SRV_PLAIN], "INBOX", 1, "Seen"));
	assert_int_equal(imap_mark_seen(conn, uids, n, &error), 0);
	assert_true(has_flag(server_dir[SRV_PLAIN], "INBOX", 1, "Seen"));
	assert_false(has_flag(server_dir[SRV_PLAIN], "INBOX", 2, "Seen"));
	assert_true(has_flag(server_dir[SRV_PLAIN], "INBOX", 3, "Seen"));
	assert_int_equal(imap_mark_seen(conn, NULL, 0, &error), 0);
	free(uids);
	imap_logout(&conn);
}

static void test_move(void **state)
{
	struct imap_settings set = plain_settings();
	struct imap_conn *conn = connect_ok(&set);
	uint32_t *uids = NULL, want = 2, uidvalidity, uidnext, exists;
	size_t n = 0;
	struct collected got = {0};
	const char *error = NULL;

	(void)state;
	/* "Handled" does not exist yet: the client creates it. */
	assert_int_equal(imap_move(conn, &want, 1, "Handled", &error), 0);
	assert_int_equal(imap_search_uids_after(conn, 0, &uids, &n, &error), 0);
	assert_int_equal(n, 2);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 3);
	free(uids);
	imap_logout(&conn);

	set.folder = "Handled";
	conn = connect_ok(&set);
	assert_int_equal(imap_select_info(conn, &uidvalidity, &uidnext, &exists), 0);
	assert_int_equal(exists, 1);
	want = 1;
	assert_int_equal(imap_fetch_raw(conn, &want, 1, collect_cb, &got, &error), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.len[0], mail_len[1]);
	assert_memory_equal(got.data[0], mail_data[1], mail_len[1]);
	collected_free(&got);
	imap_logout(&conn);

	set.folder = "Does not exist";
	assert_int_equal(imap_connect(&set, &conn, &error), -1);
	assert_null(conn);
	assert_non_null(strstr(error, "SELECT Does not exist"));
}

/* ---- IDLE ---- */

struct delayed {
	int delay_ms;
	const char *command; /* run through system() */
	int fd;              /* or write a byte here */
	long long done_ms;   /* when the command returned */
};

static void *delayed_thread(void *arg)
{
	struct delayed *d = arg;

	usleep((useconds_t)d->delay_ms * 1000);
	if (d->command != NULL) {
		(void)system(d->command);
		d->done_ms = now_ms();
	} else if (write(d->fd, "x", 1) != 1)
		abort();
	return NULL;
}

static void test_idle(void **state)
{
	struct imap_settings set = plain_settings();
	struct imap_conn *conn = connect_ok(&set);
	bool new_mail = true;
	long long t0;
	int pipefd[2];
	pthread_t thread;
	const char *error = NULL;
	char *command;
	uint32_t *uids = NULL;
	size_t n = 0;

	(void)state;
	assert_true(imap_has_idle(conn));

	/* Nothing happens: the timeout ends the wait. */
	t0 = now_ms();
	assert_int_equal(imap_idle_wait(conn, 400, -1, &new_mail, &error), 0);
	assert_false(new_mail);
	assert_in_range(now_ms() - t0, 350, 2000);

	/* cancel_fd wakes it promptly. */
	assert_int_equal(pipe(pipefd), 0);
	struct delayed cancel = {.delay_ms = 200, .fd = pipefd[1]};
	pthread_create(&thread, NULL, delayed_thread, &cancel);
	t0 = now_ms();
	new_mail = true;
	assert_int_equal(imap_idle_wait(conn, 20000, pipefd[0], &new_mail, &error), 0);
	assert_false(new_mail);
	assert_in_range(now_ms() - t0, 150, 2000);
	pthread_join(thread, NULL);
	close(pipefd[0]);
	close(pipefd[1]);

	/* Another process delivers a mail: IDLE wakes within a second or two. */
	command = xasprintf("bash %s append '%s' INBOX '%s'", HARNESS, server_dir[SRV_PLAIN],
	                    mail_path[3]);
	struct delayed deliver = {.delay_ms = 300, .command = command};
	pthread_create(&thread, NULL, delayed_thread, &deliver);
	t0 = now_ms();
	assert_int_equal(imap_idle_wait(conn, 20000, -1, &new_mail, &error), 0);
	assert_true(new_mail);
	long long woke = now_ms();
	assert_in_range(woke - t0, 250, 2500);
	pthread_join(thread, NULL);
	printf("# IDLE woke %lld ms after the wait began; the delivery (started at 300 ms)"
	       " returned at %lld ms\n",
	       woke - t0, deliver.done_ms - t0);
	free(command);

	assert_int_equal(imap_search_uids_after(conn, 3, &uids, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(uids[0], 4);
	free(uids);
	imap_logout(&conn);
}

/* ---- TLS ---- */

static struct imap_settings tls_settings(enum server_kind kind, enum imap_tls tls)
{
	struct imap_settings set = plain_settings();
	static char ca_file[SRV_COUNT][PATH_MAX + 32];

	snprintf(ca_file[kind], sizeof(ca_file[kind]), "%s/ca.pem", server_dir[kind]);
	set.tls = tls;
	set.port = tls == IMAP_TLS_IMPLICIT ? server_imaps_port[kind] : server_port[kind];
	set.tls_ca_file = ca_file[kind];
	return set;
}

static void test_tls_implicit_and_starttls(void **state)
{
	const enum imap_tls modes[] = {IMAP_TLS_IMPLICIT, IMAP_TLS_STARTTLS};
	const char *hosts[] = {"127.0.0.1", "localhost"};

	(void)state;
	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		for (size_t h = 0; h < ARRAY_SIZE(hosts); h++) {
			struct imap_settings set = tls_settings(SRV_TLS, modes[m]);
			struct imap_conn *conn;
			struct collected got = {0};
			uint32_t uid = 1;
			const char *error = NULL;

			set.host = hosts[h];
			conn = connect_ok(&set);
			assert_non_null(strstr(imap_describe(conn), "TLS"));
			assert_int_equal(imap_fetch_raw(conn, &uid, 1, collect_cb, &got, &error),
			                 0);
			assert_int_equal(got.n, 1);
			assert_memory_equal(got.data[0], mail_data[0], mail_len[0]);
			collected_free(&got);
			imap_logout(&conn);
		}
	}
}

static void expect_refused(const struct imap_settings *set, const char *needle)
{
	struct imap_conn *conn = NULL;
	const char *error = NULL;
	long long t0 = now_ms();

	assert_int_equal(imap_connect(set, &conn, &error), -1);
	assert_null(conn);
	assert_non_null(error);
	printf("# refused in %lld ms as expected: %s\n", now_ms() - t0, error);
	if (strcasestr(error, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", error, needle);
	assert_null(strstr(error, set->password));
	assert_true(now_ms() - t0 < 3000);
}

static void test_tls_refusals(void **state)
{
	struct imap_settings set;
	struct imap_conn *conn;

	(void)state;
	/* Not signed by anything in the system store. */
	set = tls_settings(SRV_TLS, IMAP_TLS_IMPLICIT);
	set.tls_ca_file = NULL;
	expect_refused(&set, "not trusted");
	set = tls_settings(SRV_TLS, IMAP_TLS_STARTTLS);
	set.tls_ca_file = NULL;
	expect_refused(&set, "not trusted");

	/* Trusted chain, wrong name. */
	set = tls_settings(SRV_WRONG_HOST, IMAP_TLS_IMPLICIT);
	expect_refused(&set, "does not match");
	set = tls_settings(SRV_WRONG_HOST, IMAP_TLS_STARTTLS);
	set.host = "localhost";
	expect_refused(&set, "does not match");

	/* Verification off: accepted, wrong name and unknown CA alike. */
	set = tls_settings(SRV_WRONG_HOST, IMAP_TLS_IMPLICIT);
	set.tls_verify = false;
	set.tls_ca_file = NULL;
	conn = connect_ok(&set);
	imap_logout(&conn);

	/* STARTTLS asked of a server that does not offer it: no password in clear. */
	set = plain_settings();
	set.tls = IMAP_TLS_STARTTLS;
	expect_refused(&set, "does not offer STARTTLS");

	/* A CA file that cannot be read. */
	set = tls_settings(SRV_TLS, IMAP_TLS_IMPLICIT);
	set.tls_ca_file = "/nonexistent/ca.pem";
	expect_refused(&set, "CA file");

	/* TLS spoken to a plain port fails cleanly. */
	set = tls_settings(SRV_TLS, IMAP_TLS_IMPLICIT);
	set.port = server_port[SRV_PLAIN];
	set.timeout_seconds = 2;
	expect_refused(&set, "TLS");
}

/* ---- failures ---- */

static void test_wrong_password(void **state)
{
	struct imap_settings set = plain_settings();

	(void)state;
	set.password = "Wr0ng-Pa55word";
	expect_refused(&set, "refused");
	/* Through TLS (AUTHENTICATE PLAIN) as well. */
	set = tls_settings(SRV_TLS, IMAP_TLS_IMPLICIT);
	set.password = "Wr0ng-Pa55word";
	expect_refused(&set, "login as " USER);
	set.user = "nobody@example.test";
	expect_refused(&set, "refused");
}

static void test_server_down_and_silent(void **state)
{
	struct imap_settings set = plain_settings();
	struct sockaddr_in addr = {.sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	int fd;

	(void)state;
	/* A closed port: bind one, learn its number, close it. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	close(fd);
	set.port = ntohs(addr.sin_port);
	expect_refused(&set, "Connection refused");

	/* A server that accepts and never speaks: the greeting times out. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_port = 0;
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 4), 0);
	len = sizeof(addr);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	set.port = ntohs(addr.sin_port);
	set.timeout_seconds = 1;
	expect_refused(&set, "timeout");
	set.tls = IMAP_TLS_IMPLICIT;
	expect_refused(&set, "timed out");
	close(fd);

	/* Unknown host name. */
	set = plain_settings();
	set.host = "no-such-host.invalid";
	expect_refused(&set, "cannot resolve");
}

static void test_server_killed_mid_session(void **state)
{
	char dir[PATH_MAX + 32];
	struct imap_settings set = plain_settings();
	struct imap_conn *conn;
	uint32_t *uids = NULL;
	size_t n = 0;
	bool new_mail = false;
	const char *error = NULL;
	long long t0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/crash", base_dir);
	assert_int_equal(run("bash %s start-auto '%s' plain", HARNESS, dir), 0);
	set.port = read_port(dir, "imap.port");
	conn = connect_ok(&set);
	assert_int_equal(imap_search_uids_after(conn, 0, &uids, &n, &error), 0);
	assert_int_equal(n, 0);
	assert_int_equal(run("bash %s kill '%s'", HARNESS, dir), 0);
	t0 = now_ms();
	assert_int_equal(imap_idle_wait(conn, 10000, -1, &new_mail, &error), -1);
	printf("# after kill: %s\n", error);
	assert_non_null(strstr(error, "closed the connection"));
	assert_true(now_ms() - t0 < 3000);
	/* Later calls fail fast with a clear message; logout does not hang. */
	assert_int_equal(imap_search_uids_after(conn, 0, &uids, &n, &error), -1);
	assert_non_null(strstr(error, "closed"));
	t0 = now_ms();
	imap_logout(&conn);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(run("bash %s stop '%s'", HARNESS, dir), 0);
}

/* An older server: no MOVE, no IDLE, no SASL-IR (so LOGIN is used). */
static void test_legacy_server(void **state)
{
	char dir[PATH_MAX + 32];
	struct imap_settings set = plain_settings();
	struct imap_conn *conn;
	uint32_t *uids = NULL, uid;
	size_t n = 0;
	bool new_mail;
	struct collected got = {0};
	const char *error = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/legacy", base_dir);
	assert_int_equal(run("DOVECOT_IMAP_CAPABILITY='IMAP4rev1 LITERAL+ UIDPLUS'"
	                     " bash %s start-auto '%s' plain",
	                     HARNESS, dir),
	                 0);
	assert_int_equal(run("bash %s append '%s' INBOX '%s' '%s' '%s'", HARNESS, dir, mail_path[0],
	                     mail_path[1], mail_path[3]),
	                 0);
	set.port = read_port(dir, "imap.port");

	set.password = "Wr0ng-Pa55word";
	expect_refused(&set, "login as " USER);
	set.password = PASSWORD;
	conn = connect_ok(&set);
	assert_false(imap_has_idle(conn));
	assert_int_equal(imap_idle_wait(conn, 100, -1, &new_mail, &error), -1);
	assert_non_null(strstr(error, "does not offer IDLE"));

	/* Another client's \Deleted mail must survive our move: UID EXPUNGE
	 * removes only what we moved. */
	assert_int_equal(run("doveadm -c '%s/dovecot.conf' flags add -u " USER
	                     " '\\Deleted' mailbox INBOX uid 3",
	                     dir),
	                 0);
	uid = 1;
	assert_int_equal(imap_move(conn, &uid, 1, "Done", &error), 0);
	assert_int_equal(imap_search_uids_after(conn, 0, &uids, &n, &error), 0);
	assert_int_equal(n, 2);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 3);
	free(uids);
	imap_logout(&conn);

	set.folder = "Done";
	conn = connect_ok(&set);
	assert_int_equal(imap_fetch_raw(conn, &uid, 1, collect_cb, &got, &error), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.len[0], mail_len[0]);
	assert_memory_equal(got.data[0], mail_data[0], mail_len[0]);
	collected_free(&got);
	imap_logout(&conn);
	assert_int_equal(run("bash %s stop '%s'", HARNESS, dir), 0);

	/* No PLAIN mechanism at all: Dovecot then announces LOGINDISABLED. */
	snprintf(dir, sizeof(dir), "%s/logindisabled", base_dir);
	assert_int_equal(
	    run("DOVECOT_AUTH_MECHANISMS=login bash %s start-auto '%s' plain", HARNESS, dir), 0);
	set = plain_settings();
	set.port = read_port(dir, "imap.port");
	expect_refused(&set, "refuses LOGIN");
	assert_int_equal(run("bash %s stop '%s'", HARNESS, dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_select_search_fetch),
	    cmocka_unit_test(test_search_after),
	    cmocka_unit_test(test_fetch_limit_truncates),
	    cmocka_unit_test(test_fetch_many),
	    cmocka_unit_test(test_mark_seen),
	    cmocka_unit_test(test_move),
	    cmocka_unit_test(test_idle),
	    cmocka_unit_test(test_tls_implicit_and_starttls),
	    cmocka_unit_test(test_tls_refusals),
	    cmocka_unit_test(test_wrong_password),
	    cmocka_unit_test(test_server_down_and_silent),
	    cmocka_unit_test(test_server_killed_mid_session),
	    cmocka_unit_test(test_legacy_server),
	};

	/* SIGPIPE stays at its default: writing to a vanished server must be
	 * an error (MSG_NOSIGNAL), never a killed daemon. */
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
