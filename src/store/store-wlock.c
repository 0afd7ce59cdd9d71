/* SPDX-License-Identifier: MIT */
/*
 * The cross-process writer lock (see store-wlock.h).
 *
 * SQLite serialises writers itself, but a writer that finds the database
 * locked polls: its busy handler sleeps 1, 2, 5, 10 ... ms and tries again.
 * With one group-commit writer per worker process that poll is where the
 * time went (workers=2 was slower than workers=1). A robust, process-shared
 * mutex in a small mapped file makes the waiting writer sleep in the kernel
 * and wake the moment the other commits: the writers take turns, and each
 * turn's batch holds everything that arrived during the other's fsync.
 */
#include "store/store-wlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/mem.h"
#include "store/store-private.h"

#define WLOCK_MAGIC UINT64_C(0x4b434f4c57524548) /* "HERWLOCK" */

struct wlock_shared {
	uint64_t magic;
	uint64_t mutex_size;	/* sizeof(pthread_mutex_t) of the creator */
	pthread_mutex_t mutex;
	_Atomic uint64_t generation;	/* directory changes, see header */
};

struct store_wlock {
	struct wlock_shared *shared;
};

static int
wlock_init_shared(struct wlock_shared *sh)
{
	pthread_mutexattr_t attr;
	int rc;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	rc = pthread_mutex_init(&sh->mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc != 0)
		return rc;
	sh->mutex_size = sizeof(pthread_mutex_t);
	/* Starts from the clock in nanoseconds, not 0: a cache filled from
	 * another database (or before a re-initialisation) can never see
	 * its old value again. */
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		atomic_store(&sh->generation,
			     (uint64_t)ts.tv_sec * 1000000000u +
			     (uint64_t)ts.tv_nsec);
	}
	/* The magic last: a reader that sees it sees an initialised mutex
	 * (both happen under the file's flock, which orders them). */
	sh->magic = WLOCK_MAGIC;
	return 0;
}

static int
wlock_init(void *mem, void *ctx)
{
	struct wlock_shared *sh = mem;

	(void)ctx;
	if (sh->magic == WLOCK_MAGIC &&
	    sh->mutex_size == sizeof(pthread_mutex_t))
		return 0;
	return wlock_init_shared(sh);
}

struct store_wlock *
store_wlock_open(const char *path, char *err, size_t err_size)
{
	struct store_wlock *wl;
	struct wlock_shared *sh;

	sh = store_shared_map(path, sizeof(*sh), wlock_init, NULL, err,
			      err_size);
	if (sh == NULL)
		return NULL;
	wl = xcalloc(1, sizeof(*wl));
	wl->shared = sh;
	return wl;
}

void
store_wlock_close(struct store_wlock **wl_p)
{
	struct store_wlock *wl = *wl_p;

	if (wl == NULL)
		return;
	munmap(wl->shared, sizeof(*wl->shared));
	free(wl);
	*wl_p = NULL;
}

int
store_wlock_acquire(struct store_wlock *wl, uint64_t timeout_ms)
{
	struct timespec deadline;
	int rc;

	store_deadline_after(&deadline, timeout_ms * 1000);
	rc = pthread_mutex_clocklock(&wl->shared->mutex, CLOCK_MONOTONIC,
				     &deadline);
	if (rc == EOWNERDEAD) {
		/* The holder died (kill -9 mid-commit). The lock guards no
		 * data of its own: SQLite recovers the WAL by itself. */
		pthread_mutex_consistent(&wl->shared->mutex);
		rc = 0;
	}
	return rc;
}

void
store_wlock_release(struct store_wlock *wl)
{
	pthread_mutex_unlock(&wl->shared->mutex);
}

uint64_t
store_wlock_generation(const struct store_wlock *wl)
{
	return atomic_load(&wl->shared->generation);
}

void
store_wlock_bump(struct store_wlock *wl)
{
	atomic_fetch_add(&wl->shared->generation, 1);
}
