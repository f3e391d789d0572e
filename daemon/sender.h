/* The sender: a worker thread with its own store connection that sends what
 * is due in the outbox (SMTP) and the queued webhooks, so that a slow or
 * dead server never stalls ingestion. It sleeps until the earliest due time
 * (or a kick after the writer queued something), never polling in a loop.
 * Ownership: the caller owns the sender; cfg must outlive it (stop it before
 * a reload frees the config). */
#ifndef TRIAGED_SENDER_H
#define TRIAGED_SENDER_H

struct config;
struct sender;

int sender_start(const struct config *cfg, struct sender **s_r, const char **error_r);
/* Something may have become due now (a reply or a notification queued). */
void sender_kick(struct sender *s);
/* Finishes the mail in progress, then ends the thread and frees. NULL-safe. */
void sender_stop(struct sender **s);

/* One synchronous pass (triaged --once, triagectl): everything due now. */
int sender_run_once(const struct config *cfg, const char **error_r);

#endif
