/* Runs a fuzz target's LLVMFuzzerTestOneInput over files and folders of
 * inputs (its seed corpus and any crash found since), so that every build
 * replays them under ctest without libFuzzer. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (16u << 20)

static int run_path(const char *path, unsigned *count)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		fprintf(stderr, "replay: %s: cannot stat\n", path);
		return -1;
	}
	if (S_ISDIR(sb.st_mode)) {
		struct dirent **names;
		int n = scandir(path, &names, NULL, alphasort);
		if (n < 0)
			return -1;
		int ret = 0;
		for (int i = 0; i < n; i++) {
			if (names[i]->d_name[0] != '.') {
				char child[4096];
				snprintf(child, sizeof(child), "%s/%s", path, names[i]->d_name);
				if (run_path(child, count) < 0)
					ret = -1;
			}
			free(names[i]);
		}
		free(names);
		return ret;
	}
	char *data;
	size_t len;
	const char *error;
	if (file_read_all(path, REPLAY_MAX_INPUT, &data, &len, &error) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, error);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	(*count)++;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int ret = 0;
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			ret = 1;
	printf("replayed %u inputs\n", count);
	return ret || count == 0;
}
