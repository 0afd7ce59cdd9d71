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
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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
	/* Durability marks (see header). Added after the first layout: an
	 * older file is extended with zeros, which is a valid start. */
	_Atomic uint64_t committed;
	_Atomic uint64_t synced;
	_Atomic uint64_t synced_at_ns;	/* CLOCK_MONOTONIC, 0: never */
	_Atomic uint32_t sync_seq;	/* futex word: moves when synced does */
	_Atomic uint32_t sync_waiters;
	/* Writers holding the lock or waiting for it. A process killed
	 * while waiting leaves one counted for good: it only makes lazy
	 * commits wait (briefly) for a sync that does not come. */
	_Atomic uint32_t writers;
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
	atomic_fetch_add(&wl->shared->writers, 1);
	rc = pthread_mutex_clocklock(&wl->shared->mutex, CLOCK_MONOTONIC,
				     &deadline);
	if (rc == EOWNERDEAD) {
		/* The holder died (kill -9 mid-commit). The lock guards no
		 * data of its own: SQLite recovers the WAL by itself. The
		 * dead holder was counted among the writers. */
		pthread_mutex_consistent(&wl->shared->mutex);
		if (atomic_load(&wl->shared->writers) > 1)
			atomic_fetch_sub(&wl->shared->writers, 1);
		rc = 0;
	}
	if (rc != 0)
		atomic_fetch_sub(&wl->shared->writers, 1);
	return rc;
}

void
store_wlock_release(struct store_wlock *wl)
{
	pthread_mutex_unlock(&wl->shared->mutex);
	atomic_fetch_sub(&wl->shared->writers, 1);
}

bool
store_wlock_others_writing(const struct store_wlock *wl)
{
	return atomic_load(&wl->shared->writers) > 0;
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

uint64_t
store_wlock_commit(struct store_wlock *wl, bool synced)
{
	/* the lock is held: no other commit can take a number meanwhile */
	uint64_t seq = atomic_fetch_add(&wl->shared->committed, 1) + 1;

	if (synced)
		store_wlock_synced(wl, seq);
	return seq;
}

uint64_t
store_wlock_committed(const struct store_wlock *wl)
{
	return atomic_load(&wl->shared->committed);
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
store_wlock_synced(struct store_wlock *wl, uint64_t upto)
{
	struct wlock_shared *sh = wl->shared;
	uint64_t cur = atomic_load(&sh->synced);

	while (cur < upto &&
	       !atomic_compare_exchange_weak(&sh->synced, &cur, upto))
		;
	atomic_store(&sh->synced_at_ns, mono_ns());
	atomic_fetch_add(&sh->sync_seq, 1);
	/* A waiter counts itself before it reads sync_seq and then synced;
	 * the mark was raised above before sync_seq moved: either it sees
	 * the new mark, or its futex wait finds sync_seq changed, or it is
	 * counted here and woken. */
	if (atomic_load(&sh->sync_waiters) > 0)
		(void)syscall(SYS_futex, &sh->sync_seq, FUTEX_WAKE, INT32_MAX,
			      NULL, NULL, 0);
}

uint64_t
store_wlock_sync_age_us(const struct store_wlock *wl)
{
	uint64_t at = atomic_load(&wl->shared->synced_at_ns), now = mono_ns();

	if (at == 0)
		return UINT64_MAX;
	return now > at ? (now - at) / 1000 : 0;
}

bool
store_wlock_wait_synced(struct store_wlock *wl, uint64_t seq,
			uint64_t timeout_us)
{
	struct wlock_shared *sh = wl->shared;
	uint64_t end = mono_ns() + timeout_us * 1000;
	bool ok = false;

	atomic_fetch_add(&sh->sync_waiters, 1);
	for (;;) {
		uint32_t v = atomic_load(&sh->sync_seq);
		uint64_t now;
		struct timespec left;

		if (atomic_load(&sh->synced) >= seq) {
			ok = true;
			break;
		}
		now = mono_ns();
		if (now >= end)
			break;
		left.tv_sec = (time_t)((end - now) / 1000000000u);
		left.tv_nsec = (long)((end - now) % 1000000000u);
		/* shared between processes: not FUTEX_PRIVATE */
		(void)syscall(SYS_futex, &sh->sync_seq, FUTEX_WAIT, v, &left,
			      NULL, 0);
	}
	atomic_fetch_sub(&sh->sync_waiters, 1);
	return ok;
}
