/* Blocking IMAP client for one mailbox worker thread, on libetpan, with TLS
 * through tls.h (certificate and host name verified) and a deadline on every
 * network wait so that a dead server never holds a thread forever.
 * Ownership: struct imap_conn belongs to the caller and is released with
 * imap_logout(). Settings strings are copied. Arrays returned through _r
 * parameters belong to the caller (free()). Error strings are owned by the
 * connection (valid until its next call) or, for imap_connect(), thread-local
 * (valid until the next imap_connect() in the thread); they never contain the
 * password. Not thread-safe: one connection, one thread. */
#ifndef TRIAGED_IMAP_H
#define TRIAGED_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_tls { IMAP_TLS_IMPLICIT, IMAP_TLS_STARTTLS, IMAP_TLS_NONE };

/* Default hard limit on the bytes kept of one mail (larger ones are cut). */
#define IMAP_DEFAULT_MAX_MAIL_BYTES (25u * 1024 * 1024)

struct imap_settings {
	const char *host;
	unsigned port;
	enum imap_tls tls; /* IMAP_TLS_NONE sends the password in clear: loopback only */
	bool tls_verify;
	const char *tls_ca_file; /* NULL: system trust store only */
	const char *user;
	const char *password;
	const char *folder;       /* NULL: INBOX */
	unsigned timeout_seconds; /* per network wait; 0: 60 */
	size_t max_mail_bytes;    /* 0: IMAP_DEFAULT_MAX_MAIL_BYTES */
};

struct imap_conn;

/* Called once per fetched mail. data is the raw mail (CRLF lines as on the
 * server), valid only during the call; truncated is set when the mail was
 * larger than max_mail_bytes and only its beginning is given. Return 0 to go
 * on, -1 to stop the fetch (imap_fetch_raw() then fails). */
typedef int imap_mail_cb(uint32_t uid, const char *data, size_t len, bool truncated, void *ctx);

/* Connects, runs TLS as configured, authenticates (AUTHENTICATE PLAIN with
 * SASL-IR when offered, else LOGIN) and SELECTs the folder. With
 * IMAP_TLS_STARTTLS a server without STARTTLS is refused: no password is
 * ever sent in clear unless tls is IMAP_TLS_NONE. */
int imap_connect(const struct imap_settings *set, struct imap_conn **conn_r, const char **error_r);

/* Values from the last SELECT (updated by EXISTS seen since). uidnext is 0
 * when the server did not say. */
int imap_select_info(struct imap_conn *conn, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
                     uint32_t *exists_r);

/* UIDs greater than last_uid, ascending, in *uids_r (NULL when none; free()). */
int imap_search_uids_after(struct imap_conn *conn, uint32_t last_uid, uint32_t **uids_r,
                           size_t *n_r, const char **error_r);

/* UID FETCH BODY.PEEK[] (does not set \Seen) of the given UIDs, cb per mail
 * in ascending UID order. UIDs that no longer exist are skipped silently.
 * Memory is bounded: one FETCH of the sizes, then bodies in commands that
 * hold at most 64 MiB of mail (or a single mail) each. */
int imap_fetch_raw(struct imap_conn *conn, const uint32_t *uids, size_t n, imap_mail_cb *cb,
                   void *ctx, const char **error_r);

int imap_mark_seen(struct imap_conn *conn, const uint32_t *uids, size_t n, const char **error_r);

/* MOVE when offered, else COPY, \Deleted and UID EXPUNGE (UIDPLUS; without
 * it a plain EXPUNGE, which also removes other \Deleted mails). The target
 * folder is created when the server answers TRYCREATE. */
int imap_move(struct imap_conn *conn, const uint32_t *uids, size_t n, const char *folder,
              const char **error_r);

bool imap_has_idle(const struct imap_conn *conn);

/* IDLE until the server reports EXISTS or RECENT (*new_mail_r = true), the
 * timeout passes (timeout_ms < 0: none) or cancel_fd (-1: none) becomes
 * readable (*new_mail_r = false; cancel_fd is not read). IDLE is renewed
 * every 28 minutes (RFC 2177 asks for less than 29). */
int imap_idle_wait(struct imap_conn *conn, int timeout_ms, int cancel_fd, bool *new_mail_r,
                   const char **error_r);

/* "host:port TLS1.3 AES-256-GCM" or "host:port plain", for logs. */
const char *imap_describe(const struct imap_conn *conn);

/* LOGOUT (bounded wait), then close and free; NULL-safe, sets *conn to NULL. */
void imap_logout(struct imap_conn **conn);

#endif
