/* TLS client sessions over an already connected socket, with GnuTLS: chain
 * verification against the system trust store plus an optional CA file, host
 * name check, SNI, and a deadline on every blocking step.
 * Ownership: a struct tls_conn belongs to its caller and is freed with
 * tls_free(); the socket stays the caller's (never closed here). Error
 * strings returned through error_r are static or thread-local: valid until
 * the next tls_ call in the same thread; they never contain secrets. */
#ifndef TRIAGED_TLS_H
#define TRIAGED_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_conn;

struct tls_settings {
	const char *host;    /* name or address the certificate must match; also SNI */
	bool verify;         /* false: accept any certificate (tests, explicit config) */
	const char *ca_file; /* NULL: system trust store only; else added to it */
	int timeout_ms;      /* per blocking step (handshake, one read, one write); <= 0: 60 s */
};

/* Runs the client handshake on fd (switched to non-blocking). On success the
 * session is ready for tls_read()/tls_write(). */
int tls_client_start(int fd, const struct tls_settings *set, struct tls_conn **conn_r,
                     const char **error_r);

/* Reads at most n bytes, waiting up to the timeout for the first. Returns the
 * count, 0 at end of stream (the peer closed), -1 on error or timeout. */
ssize_t tls_read(struct tls_conn *conn, void *buf, size_t n, const char **error_r);
/* Writes all n bytes (each wait bounded by the timeout). Returns n or -1. */
ssize_t tls_write(struct tls_conn *conn, const void *buf, size_t n, const char **error_r);
/* True when decrypted bytes wait inside the session: poll() on the socket
 * would not see them, so check this before sleeping on the fd. */
bool tls_pending(const struct tls_conn *conn);
int tls_get_fd(const struct tls_conn *conn);
/* Protocol and cipher in words ("TLS1.3 AES-256-GCM"), for logs. Valid while conn lives. */
const char *tls_describe(const struct tls_conn *conn);

/* Sends close_notify without waiting long for the peer; the fd stays open. */
void tls_shutdown(struct tls_conn *conn);
/* Frees the session (not the fd); NULL-safe, sets *conn to NULL. */
void tls_free(struct tls_conn **conn);

#endif
