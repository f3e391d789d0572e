/* TLS client sessions with GnuTLS: libetpan as built by Debian does not verify
 * certificates, so the IMAP client runs TLS itself through this module. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

#define TLS_DEFAULT_TIMEOUT_MS 60000

struct tls_conn {
	int fd;
	int timeout_ms;
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	char *description;
};

static __thread char tls_error_buf[512];

static const char *tls_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *tls_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tls_error_buf, sizeof(tls_error_buf), fmt, ap);
	va_end(ap);
	return tls_error_buf;
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready in the direction GnuTLS last blocked on, or the
 * deadline passes. Returns 0 when ready, -1 on timeout or poll error. */
static int tls_wait(const struct tls_conn *conn, long long deadline)
{
	struct pollfd pfd = {.fd = conn->fd};

	pfd.events = gnutls_record_get_direction(conn->session) == 1 ? POLLOUT : POLLIN;
	for (;;) {
		long long left = deadline - monotonic_ms();
		int r;

		if (left <= 0)
			return -1;
		r = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* The reason a certificate was refused, in GnuTLS's own words. */
static const char *tls_verify_error(const struct tls_conn *conn, const char *host)
{
	unsigned status = gnutls_session_get_verify_cert_status(conn->session);
	gnutls_datum_t out = {0};
	gnutls_certificate_type_t type = gnutls_certificate_type_get(conn->session);
	const char *msg;

	if (gnutls_certificate_verification_status_print(status, type, &out, 0) < 0)
		return tls_error("TLS: certificate of %s refused (status 0x%x)", host, status);
	/* GnuTLS ends its sentences with a space. */
	while (out.size > 0 && (out.data[out.size - 1] == ' ' || out.data[out.size - 1] == '\0'))
		out.data[--out.size] = '\0';
	msg = tls_error("TLS: certificate of %s refused: %s", host, (const char *)out.data);
	gnutls_free(out.data);
	return msg;
}

static bool is_ip_address(const char *host)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

int tls_client_start(int fd, const struct tls_settings *set, struct tls_conn **conn_r,
                     const char **error_r)
{
	struct tls_conn *conn;
	long long deadline;
	int flags, r;

	if (set->host == NULL || set->host[0] == '\0') {
		*error_r = "TLS: no host name to verify";
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		*error_r = tls_error("TLS: fcntl: %s", strerror(errno));
		return -1;
	}
	conn = xcalloc(1, sizeof(*conn));
	conn->fd = fd;
	conn->timeout_ms = set->timeout_ms > 0 ? set->timeout_ms : TLS_DEFAULT_TIMEOUT_MS;

	if ((r = gnutls_certificate_allocate_credentials(&conn->cred)) < 0) {
		*error_r = tls_error("TLS: %s", gnutls_strerror(r));
		goto fail;
	}
	if (set->verify) {
		/* A missing system store is not fatal when a CA file is given:
		 * the CA file alone can then anchor the chain. */
		r = gnutls_certificate_set_x509_system_trust(conn->cred);
		if (r < 0 && set->ca_file == NULL) {
			*error_r = tls_error("TLS: cannot load the system trust store: %s",
			                     gnutls_strerror(r));
			goto fail;
		}
	}
	if (set->ca_file != NULL) {
		r = gnutls_certificate_set_x509_trust_file(conn->cred, set->ca_file,
		                                           GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			*error_r = tls_error("TLS: cannot load CA file %s: %s", set->ca_file,
			                     r < 0 ? gnutls_strerror(r) : "no certificate in it");
			goto fail;
		}
	}
	if ((r = gnutls_init(&conn->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL)) <
	    0) {
		*error_r = tls_error("TLS: %s", gnutls_strerror(r));
		goto fail;
	}
	if ((r = gnutls_set_default_priority(conn->session)) < 0 ||
	    (r = gnutls_credentials_set(conn->session, GNUTLS_CRD_CERTIFICATE, conn->cred)) < 0) {
		*error_r = tls_error("TLS: %s", gnutls_strerror(r));
		goto fail;
	}
	/* SNI carries names only, never addresses (RFC 6066, section 3). */
	if (!is_ip_address(set->host) &&
	    (r = gnutls_server_name_set(conn->session, GNUTLS_NAME_DNS, set->host,
	                                strlen(set->host))) < 0) {
		*error_r = tls_error("TLS: %s", gnutls_strerror(r));
		goto fail;
	}
	if (set->verify)
		gnutls_session_set_verify_cert(conn->session, set->host, 0);
	gnutls_transport_set_int(conn->session, fd);

	deadline = monotonic_ms() + conn->timeout_ms;
	for (;;) {
		r = gnutls_handshake(conn->session);
		if (r == GNUTLS_E_SUCCESS)
			break;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
		    (r < 0 && !gnutls_error_is_fatal(r))) {
			if (tls_wait(conn, deadline) < 0) {
				*error_r = tls_error("TLS: handshake with %s timed out after %d ms",
				                     set->host, conn->timeout_ms);
				goto fail;
			}
			continue;
		}
		if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
			*error_r = tls_verify_error(conn, set->host);
		else
			*error_r = tls_error("TLS: handshake with %s failed: %s", set->host,
			                     gnutls_strerror(r));
		goto fail;
	}
	*conn_r = conn;
	return 0;
fail:
	tls_free(&conn);
	return -1;
}

ssize_t tls_read(struct tls_conn *conn, void *buf, size_t n, const char **error_r)
{
	long long deadline = monotonic_ms() + conn->timeout_ms;

	for (;;) {
		ssize_t r = gnutls_record_recv(conn->session, buf, n);

		if (r >= 0)
			return r;
		if (r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0; /* closed without close_notify: the protocol above decides */
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_REHANDSHAKE ||
		    !gnutls_error_is_fatal((int)r)) {
			if (gnutls_record_check_pending(conn->session) > 0)
				continue;
			if (tls_wait(conn, deadline) < 0) {
				*error_r =
				    tls_error("TLS: no data for %d ms (timeout)", conn->timeout_ms);
				return -1;
			}
			continue;
		}
		*error_r = tls_error("TLS: read failed: %s", gnutls_strerror((int)r));
		return -1;
	}
}

ssize_t tls_write(struct tls_conn *conn, const void *buf, size_t n, const char **error_r)
{
	const char *p = buf;
	size_t done = 0;
	bool retrying = false;

	while (done < n) {
		long long deadline = monotonic_ms() + conn->timeout_ms;
		/* After GNUTLS_E_AGAIN GnuTLS wants the same call repeated with
		 * NULL data: it resends what it already holds. */
		ssize_t r = retrying ? gnutls_record_send(conn->session, NULL, 0)
		                     : gnutls_record_send(conn->session, p + done, n - done);

		if (r >= 0) {
			done += (size_t)r;
			retrying = false;
			continue;
		}
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			retrying = true;
			if (tls_wait(conn, deadline) < 0) {
				*error_r = tls_error("TLS: write blocked for %d ms (timeout)",
				                     conn->timeout_ms);
				return -1;
			}
			continue;
		}
		*error_r = tls_error("TLS: write failed: %s", gnutls_strerror((int)r));
		return -1;
	}
	return (ssize_t)n;
}

bool tls_pending(const struct tls_conn *conn)
{
	return gnutls_record_check_pending(conn->session) > 0;
}

int tls_get_fd(const struct tls_conn *conn)
{
	return conn->fd;
}

const char *tls_describe(const struct tls_conn *conn)
{
	if (conn->description == NULL) {
		const char *proto =
		    gnutls_protocol_get_name(gnutls_protocol_get_version(conn->session));
		const char *cipher = gnutls_cipher_get_name(gnutls_cipher_get(conn->session));

		((struct tls_conn *)conn)->description =
		    xasprintf("%s %s", proto != NULL ? proto : "?", cipher != NULL ? cipher : "?");
	}
	return conn->description;
}

void tls_shutdown(struct tls_conn *conn)
{
	long long deadline;

	if (conn == NULL || conn->session == NULL)
		return;
	/* Bounded: a peer that stopped reading must not hold us at logout. */
	deadline = monotonic_ms() + (conn->timeout_ms < 2000 ? conn->timeout_ms : 2000);
	for (;;) {
		int r = gnutls_bye(conn->session, GNUTLS_SHUT_WR);

		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			return;
		if (tls_wait(conn, deadline) < 0)
			return;
	}
}

void tls_free(struct tls_conn **connp)
{
	struct tls_conn *conn = *connp;

	if (conn == NULL)
		return;
	if (conn->session != NULL)
		gnutls_deinit(conn->session);
	if (conn->cred != NULL)
		gnutls_certificate_free_credentials(conn->cred);
	free(conn->description);
	free(conn);
	*connp = NULL;
}
