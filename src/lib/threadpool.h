/* SPDX-License-Identifier: MIT */
/*
 * A fixed pool of threads for blocking work (store transactions and their
 * fsync, password hashing) so an event loop never blocks. Each pool belongs
 * to one event loop: work_fn runs on a pool thread, done_fn runs later on
 * that loop's thread, woken through an eventfd.
 */
#ifndef HERALD_LIB_THREADPOOL_H
#define HERALD_LIB_THREADPOOL_H

#include <stddef.h>

struct event_base;
struct threadpool;

/* Runs on a pool thread. Must not touch the event loop or any connection;
 * it sees only ctx. */
typedef void threadpool_work_cb_t(void *ctx);
/* Runs on the loop thread after work_fn has returned; typically hands the
 * result back to a session and frees ctx. */
typedef void threadpool_done_cb_t(void *ctx);

/* Creates a pool of `threads` threads (0 means 4) whose completions are
 * delivered on `base`. The pool must be freed before the base. Aborts if
 * threads cannot be created. */
struct threadpool *threadpool_new(struct event_base *base, unsigned threads);

/* Stops the pool: jobs already submitted still run, then their done_fn are
 * called on the calling thread (which must be the loop thread) before this
 * returns; the threads are joined. Sets *pool to NULL. */
void threadpool_free(struct threadpool **pool);

/* Queues a job. work_fn may be NULL (done_fn then runs on the next loop
 * iteration); done_fn may be NULL: the pool thread then frees the job and
 * the loop is not woken for it (nor is it counted pending). Jobs start in
 * submission order; with more than one thread they may finish in any
 * order. Call from the loop thread. */
void threadpool_submit(struct threadpool *pool, threadpool_work_cb_t *work_fn,
		       threadpool_done_cb_t *done_fn, void *ctx);

/* A job whose work is done elsewhere, by a thread that already exists
 * (the store's group-commit writer), saving the trip through a pool
 * thread. threadpool_external_begin() (loop thread) counts it pending and
 * returns its handle; whoever finishes the work calls
 * threadpool_external_done() with it exactly once, from any thread; done_fn
 * then runs on the loop thread like any job's. threadpool_free() does not
 * wait for external jobs: end them before freeing the pool. */
struct threadpool_job;
struct threadpool_job *threadpool_external_begin(struct threadpool *pool,
						 threadpool_done_cb_t *done_fn,
						 void *ctx);
void threadpool_external_done(struct threadpool *pool,
			      struct threadpool_job *job);

/* Jobs submitted with a done_fn that has not run yet. */
size_t threadpool_pending(const struct threadpool *pool);

#endif
