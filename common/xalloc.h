/* Allocation that never returns NULL: out of memory aborts in one place
 * (under systemd the unit restarts), so callers need no NULL checks.
 * Ownership: every returned pointer belongs to the caller, freed with free(). */
#ifndef TRIAGED_XALLOC_H
#define TRIAGED_XALLOC_H

#include <stddef.h>
#include <stdlib.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grows an array of count elements to at least need, doubling; *cap updated. */
void *xgrow(void *ptr, size_t *cap, size_t need, size_t elem_size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Scoped cleanup (systemd style): `_cleanup_free_ char *p = ...;` frees at
 * scope exit; TAKE_PTR(p) hands ownership out and leaves p NULL. */
static inline void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ __attribute__((cleanup(freep)))
#define TAKE_PTR(p) ({ __typeof__(p) _taken = (p); (p) = NULL; _taken; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
