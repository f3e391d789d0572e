/* Mail loop protection (RFC 3834): recognises automatic replies, bulk and
 * list mail, and bounces, so that the daemon never answers them
 * automatically. The caller owns the reason string (free()). */
#ifndef TRIAGED_LOOP_H
#define TRIAGED_LOOP_H

struct mime_message;

enum loop_flag {
	LOOP_AUTO_REPLY = 1 << 0, /* Auto-Submitted, X-Autoreply, out-of-office subjects, read receipts */
	LOOP_BULK = 1 << 1,       /* Precedence: bulk/junk/list, List-Id, List-Unsubscribe */
	LOOP_BOUNCE = 1 << 2,     /* null return path, MAILER-DAEMON/postmaster, delivery reports */
	LOOP_SUPPRESS = 1 << 3,   /* the sender asks for no automatic reply (X-Auto-Response-Suppress);
				   * a human may still have written it */
};

/* Flags the message; *reason_r gets a readable reason such as
 * "Auto-Submitted: auto-replied; Precedence: bulk" (NULL when no flag).
 * Returns -1 only on a NULL message. */
int loop_check(const struct mime_message *msg, unsigned *flags_r, char **reason_r, const char **error_r);

/* True when no automatic reply may be sent for these flags. */
static inline int loop_no_autoreply(unsigned flags) { return flags != 0; }

#endif
