/* The outbox: queues replies and acknowledgements as complete mails in the
 * store, and sends what is due over SMTP (libcurl), with retries, backoff and
 * a guarantee that an accepted mail is never sent twice.
 *
 * Life of a mail: queued -> sending (committed before SMTP starts) -> sent
 * (committed right after the server's 250 to DATA, together with the copy in
 * the ticket's thread) or back to queued with a later next_attempt, or failed
 * after smtp.max_attempts or a permanent (5xx) refusal. A mail found in
 * sending longer than a send can last was possibly accepted: it is marked
 * failed ("interrupted during send; check before resending") and never sent
 * again automatically; `triagectl outbox requeue ID` sends it again once
 * someone has checked.
 *
 * Threads: every function takes the store connection of its caller; the
 * sender may run in its own thread with its own connection, alongside other
 * writers. Call outbox_global_init() once from the main thread first.
 * Ownership: error strings are static per thread, valid until the next call. */
#ifndef TRIAGED_OUTBOX_H
#define TRIAGED_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct config;

#define OUTBOX_MAX_TEMPLATE (64 * 1024) /* bytes of an acknowledgement template */
#define OUTBOX_MAX_BACKOFF (6 * 3600)   /* longest wait between two attempts */
#define OUTBOX_MAX_ERROR 480            /* bytes of a recorded SMTP error */

/* libcurl's global initialisation: once, before any thread sends. */
int outbox_global_init(const char **error_r);

struct outbox_reply {
	int64_t ticket_id;
	const char *text;                /* UTF-8 */
	const char *agent;               /* "agent:EMAIL", "cli:USER" */
	unsigned suggestion_rank;        /* 0: written by hand */
	bool keep_status;                /* true: leave the ticket's status when sent */
	bool reply_all;                  /* copy whom the customer's last message went to
	                                    or copied (not our own addresses) */
	enum ticket_status status_after; /* else set this once sent (usually pending) */
};

/* Composes the reply to the customer's last message of the ticket and queues
 * it, due now. Runs inside the caller's transaction (begins none). */
int outbox_queue_reply(struct store *st, const struct config *cfg, const struct outbox_reply *r,
                       int64_t *outbox_id_r, const char **error_r);

/* Queues an automatic reply to the ticket's requester from the template
 * templates_dir/NAME.txt ({{ticket.id}}, {{ticket.subject}},
 * {{customer.name}}); a NAME ending in "-LANG" falls back to "-en" when that
 * language has no template. Not queued (returns 0, the reason in *why_r)
 * when the mail or the ticket carries loop-protection flags (RFC 3834), the
 * ticket is spam, the requester has no usable address, the template is
 * missing (*why_r is then valid until the next error_fmt() of this thread:
 * use it at once), or the requester got
 * an automatic reply less than smtp.ack_per_sender_seconds ago (one limit
 * for every automatic reply: an acknowledgement and an out-of-hours notice
 * for the same mail make one). The mail carries Auto-Submitted: auto-replied
 * and is not the first response of the ticket (outbox kind "ack": any
 * automatic reply). Runs inside the caller's transaction. Returns 1 queued,
 * 0 not queued, -1 on error. */
int outbox_queue_template(struct store *st, const struct config *cfg, int64_t ticket_id,
                          const char *name, unsigned loop_flags, int64_t *outbox_id_r,
                          const char **why_r, const char **error_r);
/* outbox_queue_template() of "ack-LANG" (LANG NULL: "en"). */
int outbox_queue_ack(struct store *st, const struct config *cfg, int64_t ticket_id,
                     const char *lang, unsigned loop_flags, int64_t *outbox_id_r,
                     const char **why_r, const char **error_r);

/* Queues an internal notification about a ticket (an SLA escalation, a
 * rule's notify) to to_addr, from templates_dir/escalation-notice.txt
 * ({{ticket.id}}, {{ticket.subject}}, {{ticket.queue}}, {{event.reason}}).
 * It is not part of the customer's thread. Inside the caller's transaction. */
int outbox_queue_notify(struct store *st, const struct config *cfg, int64_t ticket_id,
			const char *to_addr, const char *reason, int64_t *outbox_id_r,
			const char **error_r);

/* Earliest time a queued mail is due: 1 and *when_r, 0 when nothing waits. */
int outbox_next_due(struct store *st, int64_t *when_r);

struct outbox_send_stats {
	unsigned sent, retried, failed, interrupted;
};

/* Sends up to max mails that are due (all queued ones with flush), each in
 * its own short transactions; first marks stale sending mails as interrupted.
 * SMTP failures are recorded on the mails, not returned: -1 only when the
 * store fails or the SMTP settings are unusable. */
int outbox_send_due(struct store *st, const struct config *cfg, unsigned max, bool flush,
                    struct outbox_send_stats *stats_r, const char **error_r);

/* Marks mails left in sending for longer than any send can take (a crash or
 * a kill mid-send) as failed with an event. *n_r: how many. */
int outbox_recover(struct store *st, const struct config *cfg, unsigned *n_r, const char **error_r);

/* failed -> queued, due now, by an administrator who checked it was not
 * delivered. One transaction, with an event naming who. */
int outbox_requeue(struct store *st, int64_t outbox_id, const char *actor, const char **error_r);

/* The delay before attempt number attempts + 1: retry_seconds doubled per
 * attempt already made, capped at OUTBOX_MAX_BACKOFF, plus up to 10% jitter. */
int64_t outbox_backoff(unsigned retry_seconds, unsigned attempts);

#endif
