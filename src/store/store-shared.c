/* SPDX-License-Identifier: MIT */
/*
 * Small files every process that opens the store maps shared (the writer
 * lock's -wlock, the change counters' -notify): created on first use,
 * initialised once under flock so that two processes opening the store at
 * the same moment never both initialise, mapped for the process's life.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-private.h"

void *
store_shared_map(const char *path, size_t size,
		 int (*init)(void *mem, void *ctx), void *ctx, char *err,
		 size_t err_size)
{
	struct stat st;
	void *mem;
	int fd, rc;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, err_size, "cannot open %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0 ||
	    ((size_t)st.st_size < size && ftruncate(fd, (off_t)size) < 0)) {
		snprintf(err, err_size, "cannot prepare %s: %s", path,
			 strerror(errno));
		close(fd);
		return NULL;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		snprintf(err, err_size, "cannot map %s: %s", path,
			 strerror(errno));
		close(fd);
		return NULL;
	}
	rc = init(mem, ctx);
	flock(fd, LOCK_UN);
	close(fd);		/* the mapping stays */
	if (rc != 0) {
		snprintf(err, err_size, "cannot initialise %s: %s", path,
			 strerror(rc));
		munmap(mem, size);
		return NULL;
	}
	return mem;
}
