/* Reading a whole file with a size limit. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"

int file_read_all(const char *path, size_t limit, char **data_r, size_t *len_r,
		  const char **error_r)
{
	static __thread char error[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(error, sizeof(error), "cannot open: %s", strerror(errno));
		*error_r = error;
		return -1;
	}
	struct strbuf sb;
	strbuf_init(&sb, limit);
	char chunk[16384];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(error, sizeof(error), "read error: %s", strerror(errno));
			break;
		}
		if (strbuf_append(&sb, chunk, (size_t)n) < 0) {
			snprintf(error, sizeof(error), "larger than %zu bytes", limit);
			n = -1;
			break;
		}
	}
	close(fd);
	if (n < 0) {
		strbuf_free(&sb);
		*error_r = error;
		return -1;
	}
	*len_r = sb.len;
	*data_r = strbuf_steal(&sb);
	return 0;
}
