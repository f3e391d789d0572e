/* The JSON views of tickets, shared by `triagectl --json` and the web API so
 * that one place decides what a ticket looks like. Times are ISO 8601 UTC
 * strings (for people and scripts) or epoch seconds (for the browser's
 * countdowns); a missing time is null.
 * Ownership: returned cJSON trees belong to the caller (cJSON_Delete). */
#ifndef TRIAGED_VIEW_H
#define TRIAGED_VIEW_H

#include <cjson/cJSON.h>
#include <stdint.h>

struct sla_summary;
struct store;
struct ticket;

enum view_time { VIEW_TIME_ISO, VIEW_TIME_EPOCH };

/* "2026-11-26T08:00:00Z" into buf, or "-" for 0; returns the text. */
const char *view_utc(int64_t t, char buf[32]);
void view_add_str(cJSON *o, const char *key, const char *value);
void view_add_time(cJSON *o, const char *key, int64_t t, enum view_time style);
/* A stored JSON detail (an event's, a decision's) as a tree; null if absent. */
cJSON *view_parse_detail(const char *detail);

/* The ticket's own fields, tags as an array. */
cJSON *view_ticket(const struct ticket *t, enum view_time style);
/* The SLA summary a list shows: due, breached, sla_paused. */
void view_add_sla_summary(cJSON *o, const struct sla_summary *sla, enum view_time style);
/* The ticket with its messages (text only: the HTML of a mail never leaves
 * the store), triage decisions with their explanations, suggestions, SLA
 * clocks and audit events. 1 and *json_r, 0 when there is no such ticket,
 * -1 on a store error. */
int view_ticket_detail(struct store *st, int64_t id, enum view_time style, cJSON **json_r);

#endif
