/* SPDX-License-Identifier: MIT */
/*
 * A lock shared by every process that writes one SQLite database: a
 * robust, process-shared pthread mutex in a small file next to the
 * database ("<db>-wlock"). The group-commit writer holds it from BEGIN to
 * COMMIT, so writers in different worker processes wait for each other in
 * the kernel instead of in SQLite's sleeping busy handler. A holder that
 * dies leaves the lock to the next taker (EOWNERDEAD is repaired).
 */
#ifndef HERALD_STORE_STORE_WLOCK_H
#define HERALD_STORE_STORE_WLOCK_H

#include <stddef.h>
#include <stdint.h>

struct store_wlock;

/* Opens (creating and initialising if needed) the lock file at path.
 * Returns NULL with a message in err on failure. */
struct store_wlock *store_wlock_open(const char *path, char *err,
				     size_t err_size);
void store_wlock_close(struct store_wlock **wl);

/* 0 when held; ETIMEDOUT after timeout_ms; another errno value on error. */
int store_wlock_acquire(struct store_wlock *wl, uint64_t timeout_ms);
void store_wlock_release(struct store_wlock *wl);

/* A counter in the same shared page, bumped by every directory change
 * (domains, users, aliases) in any process: caches of directory lookups
 * are valid while it has not moved. Lock-free; no system call. */
uint64_t store_wlock_generation(const struct store_wlock *wl);
void store_wlock_bump(struct store_wlock *wl);

#endif
