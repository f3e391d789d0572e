/* Checked number parsing: the project's only way to turn text into numbers
 * (no atoi, no unchecked strtol). Each returns 0 and writes *value_r only when
 * the whole string is a number in range; -1 otherwise. */
#ifndef TRIAGED_PARSE_H
#define TRIAGED_PARSE_H

#include <stdint.h>

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *value_r);
int parse_uint32(const char *s, uint32_t *value_r);
int parse_double(const char *s, double *value_r);
/* Durations like "30", "30s", "15m", "2h", "3d" → seconds. */
int parse_duration(const char *s, int64_t *seconds_r);

#endif
