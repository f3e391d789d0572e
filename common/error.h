/* Error messages for the `const char **error_r` convention: a formatted
 * message in thread-local storage, valid until the same thread has formatted
 * ERROR_SLOTS more (a caller that wraps a callee's message therefore still
 * reads it intact). */
#ifndef TRIAGED_ERROR_H
#define TRIAGED_ERROR_H

#define ERROR_SLOTS 4
#define ERROR_MAX 640

const char *error_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
