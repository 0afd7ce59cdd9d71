/* SPDX-License-Identifier: MIT */
/*
 * Runs a fuzz target's LLVMFuzzerTestOneInput once on every file named on
 * the command line or found in a directory named there, without libFuzzer:
 * `make check` builds each target this way with the sanitizer build and
 * replays its seed corpus, so a target that no longer compiles or an input
 * that once crashed (added to the corpus when fixed) is caught every run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/buf.h"
#include "lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* corpus files are small seeds; a runaway file is not one */
#define REPLAY_FILE_MAX (16 * 1024 * 1024)

static int
replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (fp == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (b.len + n > REPLAY_FILE_MAX) {
			fprintf(stderr, "replay: %s is larger than %d bytes\n",
				path, REPLAY_FILE_MAX);
			fclose(fp);
			buf_deinit(&b);
			return -1;
		}
		buf_append(&b, chunk, n);
	}
	fclose(fp);
	/* a copy of exactly size bytes, so ASan sees a read past the end */
	{
		uint8_t *copy = xmalloc(b.len > 0 ? b.len : 1);

		memcpy(copy, b.data, b.len);
		LLVMFuzzerTestOneInput(copy, b.len);
		free(copy);
	}
	buf_deinit(&b);
	return 0;
}

static int
replay_path(const char *path, unsigned *count)
{
	struct stat st;
	struct dirent **names;
	int n, rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: no such file or directory: %s\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	/* sorted, so a failure names the same file every run */
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' && rc == 0) {
			char *p = xasprintf("%s/%s", path, names[i]->d_name);

			rc = replay_path(p, count);
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned count = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) < 0)
			return 1;
	}
	printf("replayed %u inputs\n", count);
	return 0;
}
