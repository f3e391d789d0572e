/* libFuzzer target for the config loader: any file content must load or be
 * refused with messages, never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The loader reads a path (it reports file:line), so the input goes
	 * through a private temporary file. */
	char path[] = "/tmp/fuzz_config.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	struct config *cfg = NULL;
	struct cfg_errors errors;
	if (config_load(path, &cfg, &errors) == 0)
		config_free(&cfg);
	else
		cfg_errors_free(&errors);
	unlink(path);
	return 0;
}
