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

#include <stdbool.h>
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

/* Durability marks in the same page, so that one WAL sync serves the
 * commits of several processes (docs/store.md "Lazy commits"). Every
 * commit, in any process, takes a number with the lock held
 * (store_wlock_commit); "synced" is the highest number whose WAL frames a
 * completed sync is known to cover. A sync that starts after a commit's
 * frames were written covers that commit and every one before it. */

/* With the lock held, after a successful COMMIT: its number. synced: the
 * COMMIT itself synced the WAL (after writing its frames), so it and
 * every earlier commit are durable; waiters are woken. */
uint64_t store_wlock_commit(struct store_wlock *wl, bool synced);
/* The last commit's number: read before a sync of one's own, which then
 * covers up to it (store_wlock_synced). */
uint64_t store_wlock_committed(const struct store_wlock *wl);
/* A sync that started after commit upto was numbered has completed. */
void store_wlock_synced(struct store_wlock *wl, uint64_t upto);
/* Whether a writer holds the lock or waits for it (call without holding
 * it): a commit, with its sync, is on its way. */
bool store_wlock_others_writing(const struct store_wlock *wl);
/* Microseconds since a sync last raised the mark (UINT64_MAX: never). */
uint64_t store_wlock_sync_age_us(const struct store_wlock *wl);
/* Waits up to timeout_us for commit seq to be covered by a sync; true
 * when it is. Blocks (a futex in the shared page): writer threads only. */
bool store_wlock_wait_synced(struct store_wlock *wl, uint64_t seq,
			     uint64_t timeout_us);

#endif
