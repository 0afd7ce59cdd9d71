/* SPDX-License-Identifier: MIT */
/*
 * Message spool: memory up to a threshold, then an unnamed temp file; see
 * spool.h. After the move the memory buffer stages writes, so a message
 * costs one write(2) per mem_max bytes, not one per reader block - unless
 * the process's spools together hold their budget, when a spool moves to
 * its file early and writes through without staging.
 */
#include "lib/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/mem.h"

#define SPOOL_MEM_MIN 4096

/* Bytes of buffer all spools of the process hold, and the most they may
 * (spool_set_memory_budget). */
static _Atomic size_t spool_mem_held;
static _Atomic size_t spool_mem_budget = SIZE_MAX;

void
spool_set_memory_budget(size_t bytes)
{
	atomic_store(&spool_mem_budget, bytes);
}

size_t
spool_memory_held(void)
{
	return atomic_load(&spool_mem_held);
}

/* Whether `more` bytes of buffer would take the process past its
 * budget. */
static bool
spool_over_budget(size_t more)
{
	size_t held = atomic_load(&spool_mem_held);

	return held > atomic_load(&spool_mem_budget) ||
	       more > atomic_load(&spool_mem_budget) - held;
}

struct spool {
	char *dir;
	size_t mem_max;
	int fd;			/* -1 while everything is in mem */
	uint8_t *mem;		/* the content, or after the move: staged */
	size_t mem_len, mem_cap;
	uint64_t size;		/* bytes appended */
	uint64_t file_len;	/* bytes written to fd */
	int err;		/* first failure's errno, 0: none */
	char error[200];
};

struct spool *
spool_new(const char *dir, size_t mem_max)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->dir = xstrdup(dir);
	sp->mem_max = mem_max < SPOOL_MEM_MIN ? SPOOL_MEM_MIN : mem_max;
	sp->fd = -1;
	return sp;
}

void
spool_free(struct spool **spp)
{
	struct spool *sp = *spp;

	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	atomic_fetch_sub(&spool_mem_held, sp->mem_cap);
	free(sp->mem);
	free(sp->dir);
	free(sp);
	*spp = NULL;
}

static void
spool_fail(struct spool *sp, int err, const char *what)
{
	if (sp->err != 0)
		return;
	sp->err = err != 0 ? err : EIO;
	snprintf(sp->error, sizeof(sp->error), "%s (in %s): %s", what,
		 sp->dir, strerror(sp->err));
}

static int
write_all(struct spool *sp, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(sp->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			spool_fail(sp, n < 0 ? errno : ENOSPC,
				   "cannot write the message spool");
			return -1;
		}
		p += n;
		len -= (size_t)n;
		sp->file_len += (uint64_t)n;
	}
	return 0;
}

/* Writes the staged bytes to the file. */
static int
spool_flush(struct spool *sp)
{
	int ret = 0;

	if (sp->fd >= 0 && sp->mem_len > 0 && sp->err == 0)
		ret = write_all(sp, sp->mem, sp->mem_len);
	sp->mem_len = 0;
	return ret;
}

/* The content no longer fits in memory: into a file, unnamed where the
 * filesystem allows it (a crash then leaves nothing behind). */
static int
spool_move_to_file(struct spool *sp)
{
	sp->fd = open(sp->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (sp->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
			   errno == EINVAL)) {
		char *path = xasprintf("%s/spool-XXXXXX", sp->dir);

		sp->fd = mkostemp(path, O_CLOEXEC);
		if (sp->fd >= 0)
			unlink(path);
		free(path);
	}
	if (sp->fd < 0) {
		spool_fail(sp, errno, "cannot create the message spool");
		return -1;
	}
	return spool_flush(sp);
}

/* On file while the process is over its budget: the staged bytes are
 * written and the buffer given back, and writes go straight through. */
static void
spool_write_through(struct spool *sp, const uint8_t *p, size_t len)
{
	if (spool_flush(sp) < 0)
		return;
	atomic_fetch_sub(&spool_mem_held, sp->mem_cap);
	xfree(&sp->mem);
	sp->mem_cap = 0;
	(void)write_all(sp, p, len);
}

void
spool_write(struct spool *sp, const void *data, size_t len)
{
	const uint8_t *p = data;

	sp->size += len;
	if (sp->err != 0)
		return;
	while (len > 0) {
		size_t room, take;

		if (sp->fd >= 0 && spool_over_budget(0)) {
			spool_write_through(sp, p, len);
			return;
		}
		if (sp->mem_len == sp->mem_max &&
		    (sp->fd < 0 ? spool_move_to_file(sp) : spool_flush(sp)) <
		    0)
			return;
		if (sp->fd >= 0 && sp->mem_len == 0 && len >= sp->mem_max) {
			/* a big block: straight to the file */
			(void)write_all(sp, p, len);
			return;
		}
		room = sp->mem_max - sp->mem_len;
		take = len < room ? len : room;
		if (sp->mem_len + take + 1 > sp->mem_cap) {
			size_t cap = sp->mem_cap == 0 ? 8192 : sp->mem_cap;

			while (cap < sp->mem_len + take + 1)
				cap *= 2;
			/* UNSAFE: mem_max + 1 cannot wrap, mem_max is a
			 * configured size far below SIZE_MAX. */
			if (cap > sp->mem_max + 1)
				cap = sp->mem_max + 1;
			if (spool_over_budget(cap - sp->mem_cap)) {
				/* the worker's sessions hold their budget
				 * (spool_set_memory_budget): this one goes
				 * to its file now */
				if (sp->fd >= 0) {
					spool_write_through(sp, p, len);
					return;
				}
				if (spool_move_to_file(sp) < 0)
					return;
				continue;
			}
			atomic_fetch_add(&spool_mem_held, cap - sp->mem_cap);
			sp->mem = xrealloc(sp->mem, cap);
			sp->mem_cap = cap;
		}
		memcpy(sp->mem + sp->mem_len, p, take);
		sp->mem_len += take;
		p += take;
		len -= take;
	}
}

int
spool_finish(struct spool *sp, int *errno_r, const char **error_r)
{
	if (sp->fd >= 0)
		(void)spool_flush(sp);
	else if (sp->mem != NULL)
		sp->mem[sp->mem_len] = '\0';
	if (sp->err == 0)
		return 0;
	*errno_r = sp->err;
	*error_r = sp->error;
	return -1;
}

uint64_t
spool_size(const struct spool *sp)
{
	return sp->size;
}

const uint8_t *
spool_data(const struct spool *sp)
{
	if (sp->fd >= 0)
		return NULL;
	return sp->mem != NULL ? sp->mem : (const uint8_t *)"";
}

int
spool_fd(const struct spool *sp)
{
	return sp->fd;
}

ssize_t
spool_pread(const struct spool *sp, void *buf, size_t len, uint64_t off)
{
	if (sp->fd < 0) {
		/* UNSAFE: off < mem_len below, so the copy stays inside. */
		if (off >= sp->mem_len)
			return 0;
		if (len > sp->mem_len - off)
			len = (size_t)(sp->mem_len - off);
		memcpy(buf, sp->mem + off, len);
		return (ssize_t)len;
	}
	for (;;) {
		ssize_t n = pread(sp->fd, buf, len, (off_t)off);

		if (n >= 0 || errno != EINTR)
			return n;
	}
}
