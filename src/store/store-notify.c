/* SPDX-License-Identifier: MIT */
/*
 * Change counters shared by every process of one store (see
 * store-notify.h). The table lives in a mapped file beside the database,
 * as the writer lock does, so worker processes, the queue runner and the
 * command-line tools find it without the supervisor's help. A watch is a
 * thread asleep on the futex word that wakes its event loop through an
 * eventfd: nothing polls while nothing changes.
 */
#include "store/store-notify.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/mem.h"
#include "store/store-private.h"

#define NOTIFY_MAGIC UINT64_C(0x594649544f4e5248) /* "HRNOTIFY" */
/* 32 KiB of counters: a collision only costs a session a look at the
 * database that finds nothing new. */
#define NOTIFY_SLOTS_LOG2 12
#define NOTIFY_SLOTS (1u << NOTIFY_SLOTS_LOG2)

struct notify_shared {
	uint64_t magic;
	uint32_t slots;		/* NOTIFY_SLOTS of the creator */
	/* Bumped by every publish; watches sleep on it (a futex word is 32
	 * bits; it may wrap, only "changed" matters). */
	_Atomic uint32_t seq;
	_Atomic uint64_t counter[NOTIFY_SLOTS];
};

struct store_notify {
	struct notify_shared *shared;
	/* the store's and each watch's: a watch may outlive the store */
	atomic_uint refs;
};

struct store_notify_watch {
	struct store_notify *n;
	pthread_t thread;
	int efd;
	uint32_t bit;		/* FUTEX_WAIT_BITSET mask for our own wake */
	uint32_t mask;		/* and with the kinds watched, our sleep's */
	/* seq when the watch was made: read before the thread starts, so
	 * a publish between our return and the thread's first look is not
	 * taken for the starting point and lost */
	uint32_t seen;
	atomic_bool stop;
	atomic_bool exited;
};

/* The futex bitset: the top bits stand for the kinds of key a publish
 * holds (a watch sleeps on those it watches), the others one each for a
 * watch's own stop. */
#define KIND_BITS 3
#define KIND_BIT(kind) (1u << (31 - (unsigned)(kind)))

static uint32_t
kinds_bits(unsigned kinds)
{
	uint32_t bits = 0;

	for (unsigned k = 0; k < KIND_BITS; k++)
		if (kinds & (1u << k))
			bits |= KIND_BIT(k);
	return bits;
}

static long
futex(_Atomic uint32_t *addr, int op, uint32_t val, uint32_t bitset)
{
	/* Not FUTEX_PRIVATE_FLAG: the word is shared between processes
	 * (the kernel keys it by the file's inode and offset). */
	return syscall(SYS_futex, (uint32_t *)addr, op, val, NULL, NULL,
		       bitset);
}

static int
notify_init(void *mem, void *ctx)
{
	struct notify_shared *sh = mem;

	(void)ctx;
	if (sh->magic != NOTIFY_MAGIC || sh->slots != NOTIFY_SLOTS) {
		/* Counters start from the clock, not 0: a process that
		 * mapped an earlier incarnation of the file must never see
		 * its old values again and miss a change. */
		struct timespec ts;
		uint64_t base;

		clock_gettime(CLOCK_REALTIME, &ts);
		base = (uint64_t)ts.tv_sec * 1000000000u +
		       (uint64_t)ts.tv_nsec;
		for (size_t i = 0; i < NOTIFY_SLOTS; i++)
			atomic_store(&sh->counter[i], base);
		atomic_store(&sh->seq, (uint32_t)base);
		sh->slots = NOTIFY_SLOTS;
		sh->magic = NOTIFY_MAGIC;
	}
	return 0;
}

struct store_notify *
store_notify_open(const char *path, char *err, size_t err_size)
{
	struct store_notify *n;
	struct notify_shared *sh;

	sh = store_shared_map(path, sizeof(*sh), notify_init, NULL, err,
			      err_size);
	if (sh == NULL)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->shared = sh;
	atomic_store(&n->refs, 1);
	return n;
}

void
store_notify_close(struct store_notify **np)
{
	struct store_notify *n = *np;

	if (n == NULL)
		return;
	*np = NULL;
	if (atomic_fetch_sub(&n->refs, 1) > 1)
		return;
	munmap(n->shared, sizeof(*n->shared));
	free(n);
}

static uint32_t
slot_of(enum store_watch_kind kind, int64_t id)
{
	/* Fibonacci hashing: consecutive ids (mailboxes of one account)
	 * spread over the table. */
	uint64_t h = ((uint64_t)id * 2 + (uint64_t)kind) *
		     UINT64_C(0x9e3779b97f4a7c15);

	return (uint32_t)(h >> (64 - NOTIFY_SLOTS_LOG2));
}

uint64_t
store_notify_counter(const struct store_notify *n, enum store_watch_kind kind,
		     int64_t id)
{
	return atomic_load(&n->shared->counter[slot_of(kind, id)]);
}

void
store_notify_publish(struct store_notify *n,
		     const struct store_notify_key *keys, size_t count)
{
	struct notify_shared *sh = n->shared;
	uint32_t bits = 0;

	if (count == 0)
		return;
	for (size_t i = 0; i < count; i++) {
		uint32_t slot = slot_of(keys[i].kind, keys[i].id);
		size_t j;

		for (j = 0; j < i; j++)
			if (slot_of(keys[j].kind, keys[j].id) == slot)
				break;
		if (j == i)
			atomic_fetch_add(&sh->counter[slot], 1);
		bits |= (unsigned)keys[i].kind < KIND_BITS ?
			KIND_BIT(keys[i].kind) : FUTEX_BITSET_MATCH_ANY;
	}
	/* After the counters: a watch that wakes reads them moved. */
	atomic_fetch_add(&sh->seq, 1);
	futex(&sh->seq, FUTEX_WAKE_BITSET, INT_MAX, bits);
}

static void *
watch_main(void *arg)
{
	struct store_notify_watch *w = arg;
	_Atomic uint32_t *seq = &w->n->shared->seq;
	uint32_t seen = w->seen;

	while (!atomic_load(&w->stop)) {
		uint32_t now;

		/* Returns at once (EAGAIN) when seq moved since it was
		 * read: no publish between the load and the sleep is
		 * missed. EINTR and our own stop wake just loop. */
		(void)futex(seq, FUTEX_WAIT_BITSET, seen, w->mask);
		now = atomic_load(seq);
		if (now != seen) {
			uint64_t one = 1;

			seen = now;
			/* EAGAIN: the counter is already non-zero, the loop
			 * will wake anyway */
			(void)!write(w->efd, &one, sizeof(one));
		}
	}
	atomic_store(&w->exited, true);
	return NULL;
}

struct store_notify_watch *
store_notify_watch_new(struct store_notify *n, unsigned kinds, char *err,
		       size_t err_size)
{
	static atomic_uint next_bit;
	struct store_notify_watch *w = xcalloc(1, sizeof(*w));
	sigset_t all, old;
	int rc;

	w->n = n;
	w->seen = atomic_load(&n->shared->seq);
	atomic_fetch_add(&n->refs, 1);
	/* Stopping a watch wakes only the sleepers of its bit (other
	 * processes sharing it wake for nothing, rarely). */
	w->bit = 1u << ((atomic_fetch_add(&next_bit, 1) + (unsigned)getpid())
			% (32 - KIND_BITS));
	w->mask = w->bit | kinds_bits(kinds);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		snprintf(err, err_size, "eventfd: %s", strerror(errno));
		store_notify_close(&w->n);
		free(w);
		return NULL;
	}
	/* Signals are the event loop's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, err_size, "cannot start the watch thread: %s",
			 strerror(rc));
		close(w->efd);
		store_notify_close(&w->n);
		free(w);
		return NULL;
	}
	(void)pthread_setname_np(w->thread, "herald-notify");
	return w;
}

int
store_notify_watch_fd(const struct store_notify_watch *w)
{
	return w->efd;
}

void
store_notify_watch_ack(struct store_notify_watch *w)
{
	uint64_t v;

	(void)!read(w->efd, &v, sizeof(v));
}

void
store_notify_watch_free(struct store_notify_watch **wp)
{
	struct store_notify_watch *w = *wp;

	if (w == NULL)
		return;
	atomic_store(&w->stop, true);
	/* The thread may be between its stop check and its sleep when the
	 * first wake comes: wake until it has gone. */
	while (!atomic_load(&w->exited)) {
		struct timespec ts = { .tv_nsec = 1000000 };

		futex(&w->n->shared->seq, FUTEX_WAKE_BITSET, INT_MAX, w->bit);
		nanosleep(&ts, NULL);
	}
	pthread_join(w->thread, NULL);
	close(w->efd);
	store_notify_close(&w->n);
	free(w);
	*wp = NULL;
}
