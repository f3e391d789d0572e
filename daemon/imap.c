/* IMAP client on libetpan: our own mailstream_low driver carries the bytes
 * (plain or through tls.c) so that certificates are verified and every wait
 * has a deadline; libetpan does the protocol. */
#include "imap.h"

#include <errno.h>
#include <fcntl.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tls.h"
#include "xalloc.h"

#define IMAP_DEFAULT_TIMEOUT_S 60
#define IMAP_LOGOUT_TIMEOUT_MS 2000
#define IMAP_FETCH_BUDGET (64u * 1024 * 1024) /* bytes of mail held per FETCH command */
#define IMAP_MAX_RANGES_PER_COMMAND 500       /* keeps command lines far below server limits */
#define IMAP_IDLE_RENEW_MS (28 * 60 * 1000)   /* RFC 2177: re-issue IDLE before 29 minutes */
#define IMAP_MAX_CREDENTIAL 1024

/* The transport under libetpan: a socket, optionally wrapped in TLS. */
struct imap_transport {
	int fd;
	struct tls_conn *tls;
	int timeout_ms;
	char error[256]; /* why the last read or write failed */
};

struct imap_conn {
	mailimap *imap;
	struct imap_transport *transport; /* owned by imap's stream */
	char *host;
	unsigned port;
	char *folder;
	size_t max_mail_bytes;
	int timeout_ms;
	bool has_idle;
	bool has_move;
	bool has_uidplus;
	char *description;
	char error[768];
};

static __thread char imap_connect_error[800];

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- transport: the mailstream_low driver ---- */

static struct imap_transport *transport_of(mailstream_low *low)
{
	return low->data;
}

/* Waits for fd to be ready for events, at most timeout_ms. 0 ready, -1 not. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	long long deadline = monotonic_ms() + timeout_ms;

	for (;;) {
		long long left = deadline - monotonic_ms();
		int r;

		if (left <= 0)
			return -1;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static ssize_t transport_read(mailstream_low *low, void *buf, size_t count)
{
	struct imap_transport *t = transport_of(low);
	ssize_t r;

	if (t->fd < 0)
		return -1;
	if (t->tls != NULL) {
		const char *error;

		r = tls_read(t->tls, buf, count, &error);
		if (r < 0)
			snprintf(t->error, sizeof(t->error), "%s", error);
		else if (r == 0)
			snprintf(t->error, sizeof(t->error), "the server closed the connection");
		return r;
	}
	for (;;) {
		if (wait_fd(t->fd, POLLIN, t->timeout_ms) < 0) {
			snprintf(t->error, sizeof(t->error),
			         "no answer from the server for %d s (timeout)",
			         t->timeout_ms / 1000);
			return -1;
		}
		r = read(t->fd, buf, count);
		if (r > 0)
			return r;
		if (r == 0) {
			snprintf(t->error, sizeof(t->error), "the server closed the connection");
			return 0;
		}
		if (errno != EINTR && errno != EAGAIN) {
			snprintf(t->error, sizeof(t->error), "read: %s", strerror(errno));
			return -1;
		}
	}
}

static ssize_t transport_write(mailstream_low *low, const void *buf, size_t count)
{
	struct imap_transport *t = transport_of(low);
	const char *p = buf;
	size_t done = 0;

	if (t->fd < 0)
		return -1;
	if (t->tls != NULL) {
		const char *error;

		if (tls_write(t->tls, buf, count, &error) < 0) {
			snprintf(t->error, sizeof(t->error), "%s", error);
			return -1;
		}
		return (ssize_t)count;
	}
	while (done < count) {
		ssize_t r;

		if (wait_fd(t->fd, POLLOUT, t->timeout_ms) < 0) {
			snprintf(t->error, sizeof(t->error),
			         "cannot send to the server for %d s (timeout)",
			         t->timeout_ms / 1000);
			return -1;
		}
		/* MSG_NOSIGNAL: a vanished server must be an error, not SIGPIPE. */
		r = send(t->fd, p + done, count - done, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(t->error, sizeof(t->error), "send: %s", strerror(errno));
			return -1;
		}
		done += (size_t)r;
	}
	return (ssize_t)count;
}

static int transport_close(mailstream_low *low)
{
	struct imap_transport *t = transport_of(low);

	if (t->tls != NULL)
		tls_shutdown(t->tls);
	tls_free(&t->tls);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	return 0;
}

static int transport_get_fd(mailstream_low *low)
{
	return transport_of(low)->fd;
}

static void transport_free(mailstream_low *low)
{
	struct imap_transport *t = transport_of(low);

	if (t != NULL) {
		tls_free(&t->tls);
		if (t->fd >= 0)
			close(t->fd);
		free(t);
	}
	low->data = NULL;
	free(low);
}

static void transport_cancel(mailstream_low *low)
{
	(void)low;
}

static struct mailstream_cancel *transport_get_cancel(mailstream_low *low)
{
	(void)low;
	return NULL;
}

static carray *transport_get_certificate_chain(mailstream_low *low)
{
	(void)low;
	return NULL;
}

/* -1: libetpan falls back to select() on the fd; IDLE waits are ours anyway. */
static int transport_idle_unsupported(mailstream_low *low)
{
	(void)low;
	return -1;
}

static mailstream_low_driver imap_transport_driver = {
    .mailstream_read = transport_read,
    .mailstream_write = transport_write,
    .mailstream_close = transport_close,
    .mailstream_get_fd = transport_get_fd,
    .mailstream_free = transport_free,
    .mailstream_cancel = transport_cancel,
    .mailstream_get_cancel = transport_get_cancel,
    .mailstream_get_certificate_chain = transport_get_certificate_chain,
    .mailstream_setup_idle = transport_idle_unsupported,
    .mailstream_unsetup_idle = transport_idle_unsupported,
    .mailstream_interrupt_idle = transport_idle_unsupported,
};

/* Non-blocking connect to every address of host in turn, each bounded by
 * timeout_ms. Returns the socket (still non-blocking) or -1 with error. */
static int tcp_connect(const char *host, unsigned port, int timeout_ms, char *error,
                       size_t error_size)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL, *ai;
	char service[16];
	int r, fd = -1, last_errno = 0;
	bool timed_out = false;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &res);
	if (r != 0) {
		snprintf(error, error_size, "cannot resolve %s: %s", host, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int so_error = 0;
		socklen_t len = sizeof(so_error);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			if (wait_fd(fd, POLLOUT, timeout_ms) < 0) {
				timed_out = true;
			} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 &&
			           so_error == 0) {
				break;
			} else {
				last_errno = so_error != 0 ? so_error : errno;
			}
		} else {
			last_errno = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (last_errno != 0)
			snprintf(error, error_size, "cannot connect to %s:%u: %s", host, port,
			         strerror(last_errno));
		else if (timed_out)
			snprintf(error, error_size,
			         "cannot connect to %s:%u: no answer within %d s", host, port,
			         timeout_ms / 1000);
		else
			snprintf(error, error_size, "cannot connect to %s:%u", host, port);
	}
	return fd;
}

/* ---- errors ---- */

static const char *conn_error(struct imap_conn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *conn_error(struct imap_conn *conn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(conn->error, sizeof(conn->error), fmt, ap);
	va_end(ap);
	return conn->error;
}

/* Why a libetpan call failed, in words: the transport's reason for stream
 * errors, else the server's own response text. */
static const char *imap_failure(struct imap_conn *conn, const char *what, int r)
{
	const char *server = conn->imap != NULL ? conn->imap->imap_response : NULL;

	switch (r) {
	case MAILIMAP_ERROR_STREAM:
		return conn_error(conn, "%s on %s:%u: %s", what, conn->host, conn->port,
		                  conn->transport->error[0] != '\0' ? conn->transport->error
		                                                    : "connection lost");
	case MAILIMAP_ERROR_PARSE:
		/* An end of stream mid-response shows up as a parse error. */
		if (conn->transport->error[0] != '\0')
			return conn_error(conn, "%s on %s:%u: %s", what, conn->host, conn->port,
			                  conn->transport->error);
		return conn_error(conn, "%s on %s:%u: unexpected answer from the server", what,
		                  conn->host, conn->port);
	case MAILIMAP_ERROR_BAD_STATE:
		return conn_error(conn, "%s on %s:%u: connection not usable (earlier error)", what,
		                  conn->host, conn->port);
	default:
		return conn_error(conn, "%s on %s:%u refused by the server: %s", what, conn->host,
		                  conn->port,
		                  server != NULL && server[0] != '\0' ? server : "no reason given");
	}
}

/* After a stream error the session is dead: later calls fail fast. */
static bool conn_usable(struct imap_conn *conn, const char **error_r)
{
	conn->transport->error[0] = '\0'; /* a new command: forget the old reason */
	if (conn->transport->fd >= 0 && conn->imap->imap_state == MAILIMAP_STATE_SELECTED)
		return true;
	*error_r = conn_error(conn, "IMAP connection to %s:%u is closed after an earlier error",
	                      conn->host, conn->port);
	return false;
}

static int failed(struct imap_conn *conn, const char *what, int r, const char **error_r)
{
	*error_r = imap_failure(conn, what, r);
	if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE) {
		/* Mid-response we cannot resynchronise: close so that the
		 * caller reconnects instead of reading garbage. */
		if (conn->transport->fd >= 0) {
			tls_free(&conn->transport->tls);
			close(conn->transport->fd);
			conn->transport->fd = -1;
		}
	}
	return -1;
}

/* ---- capabilities and login ---- */

static int refresh_capabilities(struct imap_conn *conn, const char **error_r)
{
	struct mailimap_capability_data *cap = NULL;
	int r = mailimap_capability(conn->imap, &cap);

	if (r != MAILIMAP_NO_ERROR)
		return failed(conn, "CAPABILITY", r, error_r);
	mailimap_capability_data_free(cap);
	conn->has_idle = mailimap_has_idle(conn->imap) != 0;
	conn->has_move = mailimap_has_extension(conn->imap, "MOVE") != 0;
	conn->has_uidplus = mailimap_has_extension(conn->imap, "UIDPLUS") != 0;
	return 0;
}

static int authenticate_plain(struct imap_conn *conn, const char *user, const char *password,
                              const char **error_r)
{
	/* RFC 4616: authzid NUL authcid NUL passwd, sent as the SASL-IR
	 * initial response (RFC 4959) so no continuation is needed. */
	size_t ulen = strlen(user), plen = strlen(password);
	size_t raw_len = ulen + plen + 2;
	size_t b64_len = sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_ORIGINAL);
	char *raw = xmalloc(raw_len);
	char *command = xmalloc(b64_len + 32);
	int r;

	raw[0] = '\0';
	memcpy(raw + 1, user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, password, plen);
	memcpy(command, "AUTHENTICATE PLAIN ", 19);
	sodium_bin2base64(command + 19, b64_len, (const unsigned char *)raw, raw_len,
	                  sodium_base64_VARIANT_ORIGINAL);
	r = mailimap_custom_command(conn->imap, command);
	sodium_memzero(raw, raw_len);
	sodium_memzero(command, b64_len + 32);
	free(raw);
	free(command);
	if (r != MAILIMAP_NO_ERROR) {
		if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE)
			return failed(conn, "AUTHENTICATE", r, error_r);
		*error_r = conn_error(conn, "login as %s on %s:%u refused: %s", user, conn->host,
		                      conn->port,
		                      conn->imap->imap_response != NULL ? conn->imap->imap_response
		                                                        : "no reason given");
		return -1;
	}
	/* libetpan does not track state through a custom command. */
	conn->imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
	return 0;
}

static int authenticate(struct imap_conn *conn, const char *user, const char *password,
                        const char **error_r)
{
	int r;

	if (strlen(user) > IMAP_MAX_CREDENTIAL || strlen(password) > IMAP_MAX_CREDENTIAL) {
		*error_r = conn_error(conn, "user name or password longer than %d bytes",
		                      IMAP_MAX_CREDENTIAL);
		return -1;
	}
	if (mailimap_has_authentication(conn->imap, "PLAIN") &&
	    mailimap_has_extension(conn->imap, "SASL-IR"))
		return authenticate_plain(conn, user, password, error_r);
	if (mailimap_has_extension(conn->imap, "LOGINDISABLED")) {
		*error_r =
		    conn_error(conn, "%s:%u refuses LOGIN and offers no usable AUTHENTICATE PLAIN",
		               conn->host, conn->port);
		return -1;
	}
	r = mailimap_login(conn->imap, user, password);
	if (r == MAILIMAP_NO_ERROR)
		return 0;
	if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE)
		return failed(conn, "LOGIN", r, error_r);
	*error_r = conn_error(
	    conn, "login as %s on %s:%u refused: %s", user, conn->host, conn->port,
	    conn->imap->imap_response != NULL ? conn->imap->imap_response : "no reason given");
	return -1;
}

/* ---- connect ---- */

static void conn_free(struct imap_conn **connp)
{
	struct imap_conn *conn = *connp;

	if (conn == NULL)
		return;
	/* mailimap_free() would try a LOGOUT of its own on a live stream:
	 * close the socket first so that it fails at once instead of waiting. */
	if (conn->transport != NULL && conn->transport->fd >= 0) {
		if (conn->transport->tls != NULL)
			tls_shutdown(conn->transport->tls);
		tls_free(&conn->transport->tls);
		close(conn->transport->fd);
		conn->transport->fd = -1;
	}
	if (conn->imap != NULL)
		mailimap_free(conn->imap); /* frees the stream and the transport */
	free(conn->host);
	free(conn->folder);
	free(conn->description);
	free(conn);
	*connp = NULL;
}

static int start_tls(struct imap_conn *conn, const struct imap_settings *set, const char **error_r)
{
	struct tls_settings tls_set = {
	    .host = set->host,
	    .verify = set->tls_verify,
	    .ca_file = set->tls_ca_file,
	    .timeout_ms = conn->timeout_ms,
	};
	const char *error;

	if (tls_client_start(conn->transport->fd, &tls_set, &conn->transport->tls, &error) < 0) {
		*error_r = conn_error(conn, "%s:%u: %s", conn->host, conn->port, error);
		return -1;
	}
	return 0;
}

int imap_connect(const struct imap_settings *set, struct imap_conn **conn_r, const char **error_r)
{
	struct imap_conn *conn;
	struct imap_transport *transport;
	mailstream_low *low;
	mailstream *stream;
	const char *error;
	int fd, r;

	if (set->host == NULL || set->user == NULL || set->password == NULL || set->port == 0 ||
	    set->port > 65535) {
		*error_r = "IMAP settings incomplete (host, port, user and password are required)";
		return -1;
	}
	conn = xcalloc(1, sizeof(*conn));
	conn->host = xstrdup(set->host);
	conn->port = set->port;
	conn->folder = xstrdup(set->folder != NULL ? set->folder : "INBOX");
	conn->max_mail_bytes =
	    set->max_mail_bytes > 0 ? set->max_mail_bytes : IMAP_DEFAULT_MAX_MAIL_BYTES;
	if (conn->max_mail_bytes > UINT32_MAX)
		conn->max_mail_bytes = UINT32_MAX;
	conn->timeout_ms = 1000 * (int)(set->timeout_seconds > 0 && set->timeout_seconds < 3600
	                                    ? set->timeout_seconds
	                                    : IMAP_DEFAULT_TIMEOUT_S);

	fd = tcp_connect(set->host, set->port, conn->timeout_ms, conn->error, sizeof(conn->error));
	if (fd < 0)
		goto fail;
	transport = xcalloc(1, sizeof(*transport));
	transport->fd = fd;
	transport->timeout_ms = conn->timeout_ms;
	conn->transport = transport;
	low = mailstream_low_new(transport, &imap_transport_driver);
	if (low == NULL)
		abort(); /* out of memory, as xmalloc would */
	stream = mailstream_new(low, 8192);
	if (stream == NULL)
		abort();
	conn->imap = mailimap_new(0, NULL);
	if (conn->imap == NULL)
		abort();
	/* From here the session owns the stream, which owns the transport. */
	conn->imap->imap_stream = stream;

	if (set->tls == IMAP_TLS_IMPLICIT && start_tls(conn, set, &error) < 0)
		goto fail;
	conn->imap->imap_stream = NULL;
	r = mailimap_connect(conn->imap, stream);
	if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED && r != MAILIMAP_NO_ERROR_AUTHENTICATED) {
		error = imap_failure(conn, "greeting", r);
		goto fail;
	}
	if (refresh_capabilities(conn, &error) < 0)
		goto fail;
	if (set->tls == IMAP_TLS_STARTTLS) {
		if (!mailimap_has_extension(conn->imap, "STARTTLS")) {
			conn_error(
			    conn,
			    "%s:%u does not offer STARTTLS: refusing to send the password in clear",
			    conn->host, conn->port);
			goto fail;
		}
		r = mailimap_starttls(conn->imap);
		if (r != MAILIMAP_NO_ERROR) {
			error = imap_failure(conn, "STARTTLS", r);
			goto fail;
		}
		/* Bytes that arrived before the handshake were sent in clear
		 * and could be injected (CVE-2011-0411 style): refuse. */
		if (stream->read_buffer_len > 0) {
			conn_error(conn, "%s:%u sent data after STARTTLS before the TLS handshake",
			           conn->host, conn->port);
			goto fail;
		}
		if (start_tls(conn, set, &error) < 0)
			goto fail;
		/* Capabilities seen in clear are not to be trusted (RFC 3501 6.2.1). */
		if (refresh_capabilities(conn, &error) < 0)
			goto fail;
	}
	if (conn->imap->imap_state != MAILIMAP_STATE_AUTHENTICATED &&
	    authenticate(conn, set->user, set->password, &error) < 0)
		goto fail;
	if (refresh_capabilities(conn, &error) < 0)
		goto fail;
	r = mailimap_select(conn->imap, conn->folder);
	if (r != MAILIMAP_NO_ERROR) {
		char what[300];

		snprintf(what, sizeof(what), "SELECT %s", conn->folder);
		error = imap_failure(conn, what, r);
		goto fail;
	}
	*conn_r = conn;
	return 0;
fail:
	snprintf(imap_connect_error, sizeof(imap_connect_error), "IMAP: %s", conn->error);
	*error_r = imap_connect_error;
	conn_free(&conn);
	return -1;
}

/* ---- mailbox operations ---- */

int imap_select_info(struct imap_conn *conn, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
                     uint32_t *exists_r)
{
	struct mailimap_selection_info *info = conn->imap->imap_selection_info;

	if (info == NULL)
		return -1;
	*uidvalidity_r = info->sel_uidvalidity;
	*uidnext_r = info->sel_uidnext;
	*exists_r = info->sel_exists;
	return 0;
}

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int imap_search_uids_after(struct imap_conn *conn, uint32_t last_uid, uint32_t **uids_r,
                           size_t *n_r, const char **error_r)
{
	struct mailimap_search_key *key;
	struct mailimap_set *set;
	clist *result = NULL;
	clistiter *it;
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	int r;

	if (!conn_usable(conn, error_r))
		return -1;
	if (last_uid == UINT32_MAX) {
		*uids_r = NULL;
		*n_r = 0;
		return 0;
	}
	set = mailimap_set_new_interval(last_uid + 1, 0); /* 0 is "*" */
	key = set != NULL ? mailimap_search_key_new_uid(set) : NULL;
	if (key == NULL)
		abort();
	r = mailimap_uid_search(conn->imap, NULL, key, &result);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return failed(conn, "UID SEARCH", r, error_r);
	for (it = clist_begin(result); it != NULL; it = clist_next(it)) {
		uint32_t uid = *(uint32_t *)clist_content(it);

		/* "N:*" always matches the highest UID, even below N (RFC 3501 6.4.8). */
		if (uid <= last_uid)
			continue;
		uids = xgrow(uids, &cap, n + 1, sizeof(*uids));
		uids[n++] = uid;
	}
	mailimap_search_result_free(result);
	if (n > 1)
		qsort(uids, n, sizeof(*uids), cmp_uid);
	*uids_r = uids;
	*n_r = n;
	return 0;
}

/* UID set for uids[*pos..], compacting runs into ranges, at most max_ranges
 * ranges and max_uids UIDs; *pos advances past what was taken. uids must be
 * sorted. */
static struct mailimap_set *uid_set_next(const uint32_t *uids, size_t n, size_t *pos,
                                         size_t max_ranges, size_t max_uids)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	size_t i = *pos, ranges = 0, taken = 0;

	if (set == NULL)
		abort();
	while (i < n && ranges < max_ranges && taken < max_uids) {
		uint32_t first = uids[i], last = uids[i];

		i++;
		taken++;
		while (i < n && taken < max_uids && (uids[i] == last || uids[i] == last + 1)) {
			last = uids[i];
			i++;
			taken++;
		}
		if (mailimap_set_add_interval(set, first, last) != MAILIMAP_NO_ERROR)
			abort();
		ranges++;
	}
	*pos = i;
	return set;
}

static uint32_t *sorted_copy(const uint32_t *uids, size_t n)
{
	uint32_t *copy = xmalloc(n * sizeof(*copy));

	memcpy(copy, uids, n * sizeof(*copy));
	qsort(copy, n, sizeof(*copy), cmp_uid);
	return copy;
}

struct fetched {
	uint32_t uid;
	uint32_t size; /* RFC822.SIZE */
	const char *data;
	size_t len;
	bool has_size;
	bool has_body;
};

static void parse_msg_att(const struct mailimap_msg_att *att, struct fetched *f)
{
	clistiter *it;

	memset(f, 0, sizeof(*f));
	for (it = clist_begin(att->att_list); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		struct mailimap_msg_att_static *st;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		switch (st->att_type) {
		case MAILIMAP_MSG_ATT_UID:
			f->uid = st->att_data.att_uid;
			break;
		case MAILIMAP_MSG_ATT_RFC822_SIZE:
			f->size = st->att_data.att_rfc822_size;
			f->has_size = true;
			break;
		case MAILIMAP_MSG_ATT_BODY_SECTION:
			f->data = st->att_data.att_body_section->sec_body_part;
			f->len = st->att_data.att_body_section->sec_length;
			f->has_body = true;
			break;
		default:
			break;
		}
	}
}

/* UID FETCH of the given attributes for a set; *result_r to free with
 * mailimap_fetch_list_free(). partial_limit 0: no body. */
static int fetch_set(struct imap_conn *conn, struct mailimap_set *set, uint32_t partial_limit,
                     clist **result_r, const char **error_r)
{
	struct mailimap_fetch_type *type = mailimap_fetch_type_new_fetch_att_list_empty();
	int r;

	if (type == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_uid()) != 0 ||
	    mailimap_fetch_type_new_fetch_att_list_add(type,
	                                               mailimap_fetch_att_new_rfc822_size()) != 0)
		abort();
	if (partial_limit > 0 && mailimap_fetch_type_new_fetch_att_list_add(
	                             type, mailimap_fetch_att_new_body_peek_section_partial(
	                                       mailimap_section_new(NULL), 0, partial_limit)) != 0)
		abort();
	r = mailimap_uid_fetch(conn->imap, set, type, result_r);
	mailimap_fetch_type_free(type);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return failed(conn, "UID FETCH", r, error_r);
	return 0;
}

struct uid_size {
	uint32_t uid;
	uint32_t size;
};

static int cmp_uid_size(const void *a, const void *b)
{
	return cmp_uid(&((const struct uid_size *)a)->uid, &((const struct uid_size *)b)->uid);
}

/* Sizes of the requested UIDs that still exist, ascending by UID. */
static int fetch_sizes(struct imap_conn *conn, const uint32_t *sorted, size_t n,
                       struct uid_size **sizes_r, size_t *count_r, const char **error_r)
{
	struct uid_size *sizes = NULL;
	size_t count = 0, cap = 0, pos = 0;

	while (pos < n) {
		struct mailimap_set *set =
		    uid_set_next(sorted, n, &pos, IMAP_MAX_RANGES_PER_COMMAND, SIZE_MAX);
		clist *result = NULL;
		clistiter *it;

		if (fetch_set(conn, set, 0, &result, error_r) < 0) {
			free(sizes);
			return -1;
		}
		for (it = clist_begin(result); it != NULL; it = clist_next(it)) {
			struct fetched f;

			parse_msg_att(clist_content(it), &f);
			if (!f.has_size || f.uid == 0 ||
			    bsearch(&f.uid, sorted, n, sizeof(*sorted), cmp_uid) == NULL)
				continue;
			sizes = xgrow(sizes, &cap, count + 1, sizeof(*sizes));
			sizes[count].uid = f.uid;
			sizes[count].size = f.size;
			count++;
		}
		mailimap_fetch_list_free(result);
	}
	qsort(sizes, count, sizeof(*sizes), cmp_uid_size);
	*sizes_r = sizes;
	*count_r = count;
	return 0;
}

int imap_fetch_raw(struct imap_conn *conn, const uint32_t *uids, size_t n, imap_mail_cb *cb,
                   void *ctx, const char **error_r)
{
	_cleanup_free_ uint32_t *sorted = NULL;
	_cleanup_free_ uint32_t *chunk = NULL;
	_cleanup_free_ struct uid_size *sizes = NULL;
	size_t count = 0, i = 0;

	if (!conn_usable(conn, error_r))
		return -1;
	if (n == 0)
		return 0;
	sorted = sorted_copy(uids, n);
	/* Sizes first (cheap), so that each body FETCH holds at most
	 * IMAP_FETCH_BUDGET bytes in libetpan's memory, however many small
	 * mails or few big ones the batch has. */
	if (fetch_sizes(conn, sorted, n, &sizes, &count, error_r) < 0)
		return -1;
	chunk = xmalloc((count > 0 ? count : 1) * sizeof(*chunk));
	while (i < count) {
		size_t m = 0, budget = 0, pos = 0;
		clist *result = NULL;
		clistiter *it;
		int stop = 0;

		while (i < count && m < IMAP_MAX_RANGES_PER_COMMAND) {
			size_t cost = sizes[i].size < conn->max_mail_bytes ? sizes[i].size
			                                                   : conn->max_mail_bytes;

			if (m > 0 && budget + cost > IMAP_FETCH_BUDGET)
				break;
			budget += cost;
			chunk[m++] = sizes[i++].uid;
		}
		if (fetch_set(conn,
		              uid_set_next(chunk, m, &pos, IMAP_MAX_RANGES_PER_COMMAND, SIZE_MAX),
		              (uint32_t)conn->max_mail_bytes, &result, error_r) < 0)
			return -1;
		for (it = clist_begin(result); it != NULL && stop == 0; it = clist_next(it)) {
			struct fetched f;
			bool truncated;

			parse_msg_att(clist_content(it), &f);
			/* Unsolicited FETCH responses (flag changes by others)
			 * carry no body; UIDs we did not ask for are skipped. */
			if (!f.has_body || f.uid == 0 ||
			    bsearch(&f.uid, chunk, m, sizeof(*chunk), cmp_uid) == NULL)
				continue;
			truncated = f.has_size ? f.size > f.len : f.len >= conn->max_mail_bytes;
			stop = cb(f.uid, f.data != NULL ? f.data : "", f.len, truncated, ctx);
		}
		mailimap_fetch_list_free(result);
		if (stop != 0) {
			*error_r = conn_error(conn, "fetch stopped by the caller");
			return -1;
		}
	}
	return 0;
}

/* UID STORE +FLAGS.SILENT (flag) over the sorted UIDs. */
static int store_flag(struct imap_conn *conn, const uint32_t *sorted, size_t n,
                      struct mailimap_flag *(*flag_new)(void), const char **error_r)
{
	size_t pos = 0;

	while (pos < n) {
		struct mailimap_set *set =
		    uid_set_next(sorted, n, &pos, IMAP_MAX_RANGES_PER_COMMAND, SIZE_MAX);
		struct mailimap_flag_list *flags = mailimap_flag_list_new_empty();
		struct mailimap_store_att_flags *store;
		int r;

		if (flags == NULL || mailimap_flag_list_add(flags, flag_new()) != MAILIMAP_NO_ERROR)
			abort();
		store = mailimap_store_att_flags_new_add_flags_silent(flags);
		if (store == NULL)
			abort();
		r = mailimap_uid_store(conn->imap, set, store);
		mailimap_store_att_flags_free(store);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR)
			return failed(conn, "UID STORE", r, error_r);
	}
	return 0;
}

int imap_mark_seen(struct imap_conn *conn, const uint32_t *uids, size_t n, const char **error_r)
{
	_cleanup_free_ uint32_t *sorted = NULL;

	if (!conn_usable(conn, error_r))
		return -1;
	if (n == 0)
		return 0;
	sorted = sorted_copy(uids, n);
	return store_flag(conn, sorted, n, mailimap_flag_new_seen, error_r);
}

/* Runs MOVE or COPY for one set; on TRYCREATE creates the folder and retries once. */
static int move_or_copy(struct imap_conn *conn, struct mailimap_set *set, const char *folder,
                        bool move)
{
	int r = move ? mailimap_uid_move(conn->imap, set, folder)
	             : mailimap_uid_copy(conn->imap, set, folder);

	if (r == MAILIMAP_NO_ERROR || r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE)
		return r;
	/* libetpan keeps the response text but not its [TRYCREATE] code, and
	 * some servers omit the code: try creating the folder once in any
	 * case (CREATE of an existing folder just fails). */
	if (mailimap_create(conn->imap, folder) != MAILIMAP_NO_ERROR)
		return r;
	return move ? mailimap_uid_move(conn->imap, set, folder)
	            : mailimap_uid_copy(conn->imap, set, folder);
}

int imap_move(struct imap_conn *conn, const uint32_t *uids, size_t n, const char *folder,
              const char **error_r)
{
	_cleanup_free_ uint32_t *sorted = NULL;
	size_t pos = 0;

	if (!conn_usable(conn, error_r))
		return -1;
	if (n == 0)
		return 0;
	if (folder == NULL || folder[0] == '\0') {
		*error_r = conn_error(conn, "no folder to move to");
		return -1;
	}
	sorted = sorted_copy(uids, n);
	while (pos < n) {
		size_t start = pos;
		struct mailimap_set *set =
		    uid_set_next(sorted, n, &pos, IMAP_MAX_RANGES_PER_COMMAND, SIZE_MAX);
		int r = move_or_copy(conn, set, folder, conn->has_move);

		if (r != MAILIMAP_NO_ERROR) {
			char what[300];

			mailimap_set_free(set);
			snprintf(what, sizeof(what), "%s to %s",
			         conn->has_move ? "UID MOVE" : "UID COPY", folder);
			return failed(conn, what, r, error_r);
		}
		if (!conn->has_move) {
			if (store_flag(conn, sorted + start, pos - start, mailimap_flag_new_deleted,
			               error_r) < 0) {
				mailimap_set_free(set);
				return -1;
			}
			r = conn->has_uidplus ? mailimap_uid_expunge(conn->imap, set)
			                      : mailimap_expunge(conn->imap);
			if (r != MAILIMAP_NO_ERROR) {
				mailimap_set_free(set);
				return failed(conn, conn->has_uidplus ? "UID EXPUNGE" : "EXPUNGE",
				              r, error_r);
			}
		}
		mailimap_set_free(set);
	}
	return 0;
}

bool imap_has_idle(const struct imap_conn *conn)
{
	return conn->has_idle;
}

/* Data waiting in libetpan's or GnuTLS's buffers, invisible to poll(). */
static bool buffered_input(const struct imap_conn *conn)
{
	return conn->imap->imap_stream->read_buffer_len > 0 ||
	       (conn->transport->tls != NULL && tls_pending(conn->transport->tls));
}

int imap_idle_wait(struct imap_conn *conn, int timeout_ms, int cancel_fd, bool *new_mail_r,
                   const char **error_r)
{
	long long deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;

	if (!conn_usable(conn, error_r))
		return -1;
	if (!conn->has_idle) {
		*error_r = conn_error(conn, "%s:%u does not offer IDLE", conn->host, conn->port);
		return -1;
	}
	for (;;) {
		long long now = monotonic_ms();
		long long slice_end = now + IMAP_IDLE_RENEW_MS;
		bool cancelled = false;
		int r;

		if (deadline >= 0 && deadline < slice_end)
			slice_end = deadline;
		r = mailimap_idle(conn->imap);
		if (r != MAILIMAP_NO_ERROR)
			return failed(conn, "IDLE", r, error_r);
		while (!buffered_input(conn)) {
			struct pollfd pfd[2] = {
			    {.fd = conn->transport->fd, .events = POLLIN},
			    {.fd = cancel_fd, .events = POLLIN},
			};
			long long left = slice_end - monotonic_ms();
			int pr;

			if (left <= 0)
				break;
			pr = poll(pfd, cancel_fd >= 0 ? 2 : 1, left > 60000 ? 60000 : (int)left);
			if (pr < 0 && errno != EINTR) {
				*error_r = conn_error(conn, "poll: %s", strerror(errno));
				return -1;
			}
			if (pr > 0 && cancel_fd >= 0 && pfd[1].revents != 0) {
				cancelled = true;
				break;
			}
			if (pr > 0 && pfd[0].revents != 0)
				break;
		}
		/* DONE, then libetpan parses whatever came (EXISTS, RECENT,
		 * FETCH, BYE) up to the tagged OK. */
		r = mailimap_idle_done(conn->imap);
		if (r != MAILIMAP_NO_ERROR)
			return failed(conn, "IDLE DONE", r, error_r);
		if (conn->imap->imap_selection_info->sel_has_exists ||
		    conn->imap->imap_selection_info->sel_has_recent) {
			*new_mail_r = true;
			return 0;
		}
		if (cancelled || (deadline >= 0 && monotonic_ms() >= deadline)) {
			*new_mail_r = false;
			return 0;
		}
	}
}

const char *imap_describe(const struct imap_conn *conn)
{
	if (conn->description == NULL)
		((struct imap_conn *)conn)->description = xasprintf(
		    "%s:%u %s", conn->host, conn->port,
		    conn->transport->tls != NULL ? tls_describe(conn->transport->tls) : "plain");
	return conn->description;
}

void imap_logout(struct imap_conn **connp)
{
	struct imap_conn *conn = *connp;

	if (conn == NULL)
		return;
	if (conn->imap != NULL && conn->transport != NULL && conn->transport->fd >= 0) {
		/* A server that stopped answering must not hold shutdown. */
		conn->transport->timeout_ms = IMAP_LOGOUT_TIMEOUT_MS;
		mailimap_logout(conn->imap);
	}
	/* A completed LOGOUT closes and frees the stream, and with it the
	 * transport. */
	if (conn->imap != NULL && conn->imap->imap_stream == NULL)
		conn->transport = NULL;
	conn_free(connp);
}
