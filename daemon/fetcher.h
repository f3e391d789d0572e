/* Mailbox fetchers: one per configured IMAP mailbox, fetching new mail after
 * the stored checkpoint and handing it, batch by batch, to the single writer;
 * the mailbox's `after` action (seen, keep, move) runs only once the writer
 * has committed. In the daemon each fetcher is a thread that reconnects with
 * exponential backoff and jitter and waits with IDLE or polling; for
 * `triaged --once` a pass runs in the caller's thread.
 * Ownership: the caller owns fetchers (fetcher_free); a fetcher keeps its
 * own copy of the mailbox settings; the delivery context must outlive it. */
#ifndef TRIAGED_FETCHER_H
#define TRIAGED_FETCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg_mailbox;
struct ingest_item;
struct fetcher;

/* Stores a batch and moves the checkpoint in one transaction; returns only
 * once it is committed (0) or has failed (-1). Called from the fetcher's thread. */
typedef int fetcher_deliver_fn(void *ctx, const char *mailbox, uint32_t uidvalidity,
			       const struct ingest_item *items, size_t n, uint32_t last_uid,
			       const char **error_r);

struct fetcher_stats {
	bool connected;
	uint64_t mails;     /* delivered since start */
	uint64_t failures;  /* connection failures since start */
};

/* database: where the checkpoint is read (a connection of the fetcher's own). */
int fetcher_new(const struct cfg_mailbox *mb, const char *database, fetcher_deliver_fn *deliver,
		void *ctx, struct fetcher **f_r, const char **error_r);
void fetcher_free(struct fetcher **f);

/* One pass: connect, fetch everything new, run the after actions, log out. */
int fetcher_run_once(struct fetcher *f, const char **error_r);

/* The daemon's mode: a thread that runs until fetcher_stop(). */
int fetcher_start(struct fetcher *f, const char **error_r);
/* Asks the thread to finish its batch, log out and end; then joins it. The
 * thread may be waiting for the writer to commit a batch: a writer that stops
 * fetchers must keep draining, with fetcher_request_stop + fetcher_join. */
void fetcher_stop(struct fetcher *f);
void fetcher_request_stop(struct fetcher *f);
/* true when the thread has ended within timeout_ms (then it is joined). */
bool fetcher_join(struct fetcher *f, int timeout_ms);

void fetcher_get_stats(struct fetcher *f, struct fetcher_stats *stats_r);
const char *fetcher_name(const struct fetcher *f);
/* The fetcher's own copy of its mailbox's settings. */
const struct cfg_mailbox *fetcher_mailbox(const struct fetcher *f);

#endif
