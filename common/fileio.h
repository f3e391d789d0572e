/* Reading a whole file with a size limit. */
#ifndef TRIAGED_FILEIO_H
#define TRIAGED_FILEIO_H

#include <stddef.h>

/* Reads path into a NUL-terminated buffer the caller frees. Fails (with a
 * message naming neither more nor less than the problem) when the file cannot
 * be read or is larger than limit bytes. */
int file_read_all(const char *path, size_t limit, char **data_r, size_t *len_r,
		  const char **error_r);

#endif
