/* SPDX-License-Identifier: MIT */
/*
 * A message in transit: its first bytes are kept in memory, and once it
 * outgrows a threshold, all of it moves to an unnamed temp file (O_TMPFILE:
 * nothing of it outlives the process, even after kill -9), written in
 * blocks through the same memory. A session's memory thus stays bounded by
 * the threshold however large the message is. The file is not synced: a
 * spool is never the durable copy (that is the store's blob).
 */
#ifndef HERALD_LIB_SPOOL_H
#define HERALD_LIB_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool;

/* A spool that keeps up to mem_max bytes in memory (at least 4096), then
 * moves to a temp file in dir (which must exist; it should be on the
 * filesystem the data ends up on, e.g. the store's tmp dir). */
struct spool *spool_new(const char *dir, size_t mem_max);
void spool_free(struct spool **sp);

/* Appends. A failure (no space, I/O error) is remembered, and the bytes
 * from then on are only counted; spool_finish() reports it. */
void spool_write(struct spool *sp, const void *data, size_t len);
/* Writes what is staged. Returns 0, or -1 with the first error of any
 * write (its errno in *errno_r, a text in *error_r, valid while sp is). */
int spool_finish(struct spool *sp, int *errno_r, const char **error_r);

/* Bytes appended so far. */
uint64_t spool_size(const struct spool *sp);
/* The content (NUL-terminated) while it is all in memory, else NULL. */
const uint8_t *spool_data(const struct spool *sp);
/* The temp file once the content is there (after spool_finish(): all of
 * it, from offset 0), else -1. Still owned by sp. */
int spool_fd(const struct spool *sp);
/* The most buffer memory all spools of the process may hold together
 * (default: no limit). A spool that would take the total past it moves
 * to its file at once, however small, and one on file then writes
 * through without staging; so the total stays near bytes, plus at most
 * one growth step of a spool. */
void spool_set_memory_budget(size_t bytes);
/* Buffer memory the process's spools hold now. */
size_t spool_memory_held(void);

/* Reads up to len bytes at off from either place (pread: several
 * threads may read one finished spool). Returns the count (0 at the
 * end), or -1 with errno. */
ssize_t spool_pread(const struct spool *sp, void *buf, size_t len,
		    uint64_t off);

#endif
