/* SPDX-License-Identifier: MIT */
/*
 * Thread pool with completions delivered on an event loop; see threadpool.h.
 * Two mutex-protected FIFO lists (to do, done) and one eventfd: a pool thread
 * moves a finished job to the done list and writes the eventfd; the loop's
 * read callback runs every done_fn outside the lock.
 */
#include "lib/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/mem.h"

#define THREADPOOL_DEFAULT_THREADS 4

struct threadpool_job {
	struct threadpool_job *next;
	threadpool_work_cb_t *work_fn;
	threadpool_done_cb_t *done_fn;
	void *ctx;
};

struct job_list {
	struct threadpool_job *head, *tail;
};

struct threadpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job_list todo, done;
	bool stopping;
	unsigned n_threads;
	pthread_t *threads;
	int efd;
	struct event *ev;
	size_t pending;		/* loop thread only */
	/* threadpool_external_done calls between pushing their job and
	 * writing the eventfd: the job may already be done and the pool on
	 * its way to threadpool_free, which waits for them. */
	_Atomic unsigned waking;
};

static void
job_list_push(struct job_list *l, struct threadpool_job *job)
{
	job->next = NULL;
	if (l->tail != NULL)
		l->tail->next = job;
	else
		l->head = job;
	l->tail = job;
}

static struct threadpool_job *
job_list_pop(struct job_list *l)
{
	struct threadpool_job *job = l->head;

	if (job != NULL) {
		l->head = job->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return job;
}

static void
threadpool_wake(struct threadpool *pool)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: the loop will wake. */
	while (write(pool->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* With pool->lock held. Returns whether the loop must be woken: only when
 * the done list was empty, since otherwise the job that made it non-empty
 * wakes it and this one is taken with the others (one system call per
 * wake-up, not per job). The caller writes the eventfd after letting go
 * of the lock: written under it, the loop woke on the other core and
 * went to sleep again on the lock in threadpool_run_done (a futex wait
 * and wake-up per job, measured in the queue runner). A job pushed onto
 * a non-empty list is seen by the run that the first one's wake-up
 * brings, which takes the list under the lock; a wake-up that finds the
 * list already taken finds it empty, which is harmless. */
static bool
done_push_locked(struct threadpool *pool, struct threadpool_job *job)
{
	bool was_empty = pool->done.head == NULL;

	job_list_push(&pool->done, job);
	return was_empty;
}

static void *
threadpool_thread(void *arg)
{
	struct threadpool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct threadpool_job *job = job_list_pop(&pool->todo);

		if (job == NULL) {
			if (pool->stopping)
				break;
			pthread_cond_wait(&pool->cond, &pool->lock);
			continue;
		}
		pthread_mutex_unlock(&pool->lock);
		if (job->work_fn != NULL)
			job->work_fn(job->ctx);
		if (job->done_fn == NULL) {
			/* nothing for the loop to run: waking it would cost a
			 * task switch and a loop turn per job (IMAP APPEND
			 * and SMTP DATA hand their work on this way, and
			 * wake the loop themselves when it is done) */
			free(job);
			pthread_mutex_lock(&pool->lock);
			continue;
		}
		pthread_mutex_lock(&pool->lock);
		if (done_push_locked(pool, job)) {
			pthread_mutex_unlock(&pool->lock);
			threadpool_wake(pool);
			pthread_mutex_lock(&pool->lock);
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void
threadpool_run_done(struct threadpool *pool)
{
	struct job_list done;
	struct threadpool_job *job;

	pthread_mutex_lock(&pool->lock);
	done = pool->done;
	pool->done.head = pool->done.tail = NULL;
	pthread_mutex_unlock(&pool->lock);

	while ((job = job_list_pop(&done)) != NULL) {
		pool->pending--;
		if (job->done_fn != NULL)
			job->done_fn(job->ctx);
		free(job);
	}
}

static void
threadpool_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct threadpool *pool = arg;
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	threadpool_run_done(pool);
}

struct threadpool *
threadpool_new(struct event_base *base, unsigned threads)
{
	struct threadpool *pool = xcalloc(1, sizeof(*pool));

	if (threads == 0)
		threads = THREADPOOL_DEFAULT_THREADS;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->efd < 0)
		panic("threadpool: eventfd: %s", strerror(errno));
	pool->ev = event_new(base, pool->efd, EV_READ | EV_PERSIST,
			     threadpool_event_cb, pool);
	if (pool->ev == NULL || event_add(pool->ev, NULL) < 0)
		panic("threadpool: cannot add eventfd to the loop");
	pool->threads = xcalloc(threads, sizeof(*pool->threads));
	for (unsigned i = 0; i < threads; i++) {
		int err = pthread_create(&pool->threads[i], NULL,
					 threadpool_thread, pool);

		if (err != 0)
			panic("threadpool: pthread_create: %s", strerror(err));
		(void)pthread_setname_np(pool->threads[i], "herald-pool");
		pool->n_threads++;
	}
	return pool;
}

void
threadpool_free(struct threadpool **poolp)
{
	struct threadpool *pool = *poolp;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	/* an external job's thread may still be writing the eventfd after
	 * its job was done: a system call's time */
	while (atomic_load(&pool->waking) > 0)
		sched_yield();
	/* every job with a done_fn is on the done list now (the others
	 * were freed by their thread); a done_fn may not submit more once
	 * stopping, which threadpool_submit enforces */
	threadpool_run_done(pool);
	event_free(pool->ev);
	close(pool->efd);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}

void
threadpool_submit(struct threadpool *pool, threadpool_work_cb_t *work_fn,
		  threadpool_done_cb_t *done_fn, void *ctx)
{
	struct threadpool_job *job = xmalloc(sizeof(*job));

	job->work_fn = work_fn;
	job->done_fn = done_fn;
	job->ctx = ctx;
	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		panic("threadpool: submit after threadpool_free started");
	}
	job_list_push(&pool->todo, job);
	pthread_mutex_unlock(&pool->lock);
	/* after the unlock, for the same reason as the eventfd above: a
	 * woken thread goes straight for the lock. No wake-up is lost: a
	 * thread waits only after finding the list empty under the lock. */
	pthread_cond_signal(&pool->cond);
	/* a job without done_fn never comes back to the loop */
	if (done_fn != NULL)
		pool->pending++;
}

size_t
threadpool_pending(const struct threadpool *pool)
{
	return pool->pending;
}

struct threadpool_job *
threadpool_external_begin(struct threadpool *pool,
			  threadpool_done_cb_t *done_fn, void *ctx)
{
	struct threadpool_job *job = xmalloc(sizeof(*job));

	job->work_fn = NULL;
	job->done_fn = done_fn;
	job->ctx = ctx;
	pool->pending++;
	return job;
}

void
threadpool_external_done(struct threadpool *pool, struct threadpool_job *job)
{
	bool wake;

	atomic_fetch_add(&pool->waking, 1);
	pthread_mutex_lock(&pool->lock);
	wake = done_push_locked(pool, job);
	pthread_mutex_unlock(&pool->lock);
	if (wake)
		threadpool_wake(pool);
	atomic_fetch_sub(&pool->waking, 1);
}
