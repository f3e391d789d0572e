/* Mailbox fetchers: one per configured IMAP mailbox, fetching new mail after
 * the stored checkpoint and handing it, batch by batch, to the single writer;
 * the mailbox's `after` action (seen, keep, move) runs only once the writer
 * has committed. In the daemon each fetcher is a thread that reconnects with
 * exponential backoff and jitter and waits with IDLE or polling; for
 * `triaged --once` a thread makes one pass. A fetcher keeps a few slices in
 * flight (bounded in count and bytes) and prepares each mail (parsing,
 * features) in its thread, so that fetching and preparing overlap with the
 * writer's storing.
 * Ownership: the caller owns fetchers (fetcher_free); a fetcher keeps its
 * own copy of the mailbox settings; the delivery context must outlive it. */
#ifndef TRIAGED_FETCHER_H
#define TRIAGED_FETCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg_mailbox;
struct ingest_prep;
struct ingest_slice;
struct fetcher;

/* The writer, as a fetcher sees it: submit queues a slice and returns at
 * once (0), or refuses it (-1: the daemon is stopping); wait blocks until
 * that slice is committed (0) or has failed (-1), and ends the hand-over:
 * the fetcher frees the slice afterwards. A fetcher's slices are stored in
 * the order submitted, each continuing the checkpoint of the one before
 * (ingest_batch refuses one that does not), and the `after` action of a
 * slice runs only once its wait has returned 0. Both are called from the
 * fetcher's thread; error strings stay valid until that thread's next call. */
struct fetcher_writer {
	int (*submit)(void *ctx, struct ingest_slice *slice, void **token_r, const char **error_r);
	int (*wait)(void *ctx, void *token, const char **error_r);
	void *ctx;
};

struct fetcher_stats {
	bool connected;
	uint64_t mails;     /* delivered since start */
	uint64_t failures;  /* connection failures since start */
	/* Where the thread's time went since start, in nanoseconds (wall):
	 * fetching over IMAP, preparing mail, waiting for the writer's commits
	 * (then after actions); and its CPU time, set when a --once pass ends. */
	uint64_t fetch_ns, prepare_ns, wait_ns, cpu_ns;
};

/* database: where the checkpoint is read (a connection of the fetcher's own).
 * prep (taken; may be NULL): the fetcher prepares each mail with it
 * (ingest_prepare) before handing it over, so that parsing and feature
 * extraction overlap with the writer's work. writer->ctx must outlive the
 * fetcher. */
int fetcher_new(const struct cfg_mailbox *mb, const char *database,
		const struct fetcher_writer *writer, struct ingest_prep *prep, struct fetcher **f_r,
		const char **error_r);
void fetcher_free(struct fetcher **f);
/* Replaces the preparation context (taken) from the next slice on: after a
 * reload, mail is prepared with the new configuration's resources. Any
 * thread. */
void fetcher_set_prep(struct fetcher *f, struct ingest_prep *prep);

/* One pass in a thread of its own (`triaged --once`, with the writer in the
 * caller's thread): connect, fetch everything new, run the after actions,
 * log out. fetcher_join() tells when it ended, then fetcher_once_result()
 * how. */
int fetcher_start_once(struct fetcher *f, const char **error_r);
/* 0, or -1 with the pass's error (valid while f lives). */
int fetcher_once_result(struct fetcher *f, const char **error_r);

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
