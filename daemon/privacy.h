/* Privacy (GDPR): what is held about a person as JSON (access), its erasure
 * everywhere (text indexes, the classifier's counts and the WAL included),
 * the retention purge of old resolved tickets, and the register of
 * processing generated from the configuration. One function per request, so
 * that triagectl today and the web API tomorrow call the same code.
 * Ownership: strings returned through _r are malloc'ed and the caller's;
 * error strings are static per thread, valid until the next call. */
#ifndef TRIAGED_PRIVACY_H
#define TRIAGED_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_privacy.h"

struct config;
struct store;
struct triage;

#define PRIVACY_MAX_ADDRESS 320 /* RFC 3696 errata: 64 + 1 + 255 */

/* Trims and lower-cases an address; refuses what cannot be one. */
int privacy_address_normalize(const char *in, char **address_r, const char **error_r);
/* True when text holds address (any case) as a whole address, not as the
 * tail of a longer one ("bob@x.test" is not in "jimbob@x.test"). */
bool privacy_mentions(const char *text, size_t len, const char *address);

/* Everything held about address, as a JSON document (see triagectl(1)):
 * the tickets it opened with their messages, attachments' metadata, triage
 * decisions and explanations, suggestions, outbox, SLA clocks and events;
 * its messages in other tickets; mail sent to it outside its tickets. */
int privacy_export(struct store *st, const struct config *cfg, const char *address,
		   char **json_r, const char **error_r);

struct privacy_erase_result {
	struct store_privacy_counts counts;
	char address_hash[65];  /* hex SHA-256 of the normalised address */
	bool compacted;         /* FTS optimised, vacuumed, WAL truncated */
};

/* Without apply: counts what would go, changes nothing. With apply: the
 * tickets whose requester is address go whole, its messages in others'
 * tickets and mail to it go, what stays is scrubbed of it, the classifier
 * forgets what those tickets taught (tr, or one opened from cfg when NULL),
 * one "privacy.erased" event records the hash of the address and the
 * counts, then the file is compacted. actor: who asked ("agent:EMAIL"...).
 * A reader holding the WAL open makes compacted false (run again later). */
int privacy_erase(struct store *st, const struct config *cfg, struct triage *tr,
		  const char *address, const char *actor, bool apply,
		  struct privacy_erase_result *result_r, const char **error_r);

/* Retention: removes the resolved and closed tickets resolved more than
 * cfg->privacy.retention_days before now (nothing when 0), the same way as
 * erasure, logs the counts and records one "privacy.purged" event when any
 * went. The daemon calls it daily; now comes from store_now(). */
int privacy_purge(struct store *st, const struct config *cfg, struct triage *tr, int64_t now,
		  struct store_privacy_counts *counts_r, const char **error_r);

/* The daemon's daily hook: runs privacy_purge when a day has passed since
 * *last_run_r (0: never, so at start), then sets it to now; logs failures
 * itself. Cheap when not due: call it from the main loop on every wake-up.
 *   privacy_daily(d->st, d->cfg, ingest_triage(d->writer.ing), store_now(), &d->last_purge); */
void privacy_daily(struct store *st, const struct config *cfg, struct triage *tr, int64_t now,
		   int64_t *last_run_r);

/* The counts as a JSON object (for events and --json output). */
char *privacy_counts_json(const struct store_privacy_counts *c);

/* The register of processing, in plain text, from the configuration. */
char *privacy_register(const struct config *cfg);

#endif
