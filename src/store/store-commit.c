/* SPDX-License-Identifier: MIT */
/*
 * Group commit: callers queue write operations and block; one writer thread
 * takes up to batch_max of them (waiting at most batch_wait_us to fill a
 * batch), runs each inside its own SAVEPOINT of one transaction, commits
 * once (one WAL fsync for the whole batch) and wakes every caller with its
 * own result. A failing operation rolls back to its savepoint only.
 */
#include "store/store-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/mem.h"

static void
op_set_error(struct store_op *op, enum store_result r, const char *msg)
{
	op->result = r;
	snprintf(op->error, sizeof(op->error), "%s",
		 msg != NULL ? msg : store_result_str(r));
}

static void
batch_run(struct store *store, struct store_op *batch, size_t n)
{
	const char *err = NULL;
	enum store_result r;
	struct store_op *op;

	r = store->ops->batch_begin(store, &err);
	if (r != STORE_OK) {
		for (op = batch; op != NULL; op = op->next)
			op_set_error(op, r, err);
		return;
	}
	for (op = batch; op != NULL; op = op->next) {
		err = NULL;
		r = store->ops->op_begin(store, &err);
		if (r != STORE_OK)
			goto abort;
		err = NULL;
		r = op->run(store, op->ctx, &err);
		op_set_error(op, r, err);
		err = NULL;
		r = store->ops->op_end(store, op->result == STORE_OK, &err);
		if (r != STORE_OK)
			goto abort;
	}
	err = NULL;
	r = store->ops->batch_commit(store, &err);
	if (r != STORE_OK)
		goto abort;
	pthread_mutex_lock(&store->lock);
	store->stats.commits++;
	store->stats.ops += n;
	if (n > store->stats.max_batch)
		store->stats.max_batch = n;
	pthread_mutex_unlock(&store->lock);
	return;

abort:
	/* The transaction as a whole is lost: nothing of it is on disk, so
	 * every operation gets a temporary failure and the callers retry. */
	log_warn(NULL, "store", "commit-failed", "ops=%zu error=\"%s\"", n,
		 err != NULL ? err : "?");
	store->ops->batch_rollback(store);
	for (op = batch; op != NULL; op = op->next) {
		if (op->result == STORE_OK)
			op_set_error(op, STORE_E_TEMP,
				     err != NULL ? err : "transaction failed");
	}
}

static void
deadline_after(struct timespec *ts, uint64_t us)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(us / 1000000);
	ts->tv_nsec += (long)(us % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void *
writer_main(void *arg)
{
	struct store *store = arg;

	pthread_mutex_lock(&store->lock);
	for (;;) {
		struct store_op *batch, *last;
		size_t n;

		while (store->queue_head == NULL && !store->stopping)
			pthread_cond_wait(&store->queue_cond, &store->lock);
		if (store->queue_head == NULL)
			break;
		if (store->queue_len < store->batch_max &&
		    store->batch_wait_us > 0 && !store->stopping) {
			struct timespec deadline;

			deadline_after(&deadline, store->batch_wait_us);
			while (store->queue_len < store->batch_max &&
			       !store->stopping) {
				if (pthread_cond_timedwait(&store->queue_cond,
							   &store->lock,
							   &deadline) ==
				    ETIMEDOUT)
					break;
			}
		}
		batch = last = store->queue_head;
		n = 1;
		while (n < store->batch_max && last->next != NULL) {
			last = last->next;
			n++;
		}
		store->queue_head = last->next;
		if (store->queue_head == NULL)
			store->queue_tail = NULL;
		store->queue_len -= n;
		last->next = NULL;
		pthread_mutex_unlock(&store->lock);

		batch_run(store, batch, n);

		pthread_mutex_lock(&store->lock);
		for (struct store_op *op = batch, *next; op != NULL;
		     op = next) {
			/* The caller may return and free op once done is set
			 * and the lock dropped. */
			next = op->next;
			op->done = true;
			pthread_cond_signal(&op->done_cond);
		}
	}
	pthread_mutex_unlock(&store->lock);
	return NULL;
}

int
store_commit_start(struct store *store, const char **error_r)
{
	int err = pthread_create(&store->writer, NULL, writer_main, store);

	if (err != 0) {
		store_error(error_r, STORE_E_TEMP,
			    "cannot start the writer thread: %s",
			    strerror(err));
		return -1;
	}
	store->writer_running = true;
	return 0;
}

void
store_commit_stop(struct store *store)
{
	if (!store->writer_running)
		return;
	pthread_mutex_lock(&store->lock);
	store->stopping = true;
	pthread_cond_broadcast(&store->queue_cond);
	pthread_mutex_unlock(&store->lock);
	pthread_join(store->writer, NULL);
	store->writer_running = false;
}

enum store_result
store_commit_run(struct store *store, store_op_run_cb_t *run, void *ctx,
		 const char **error_r)
{
	struct store_op op;

	memset(&op, 0, sizeof(op));
	op.run = run;
	op.ctx = ctx;
	pthread_cond_init(&op.done_cond, NULL);

	pthread_mutex_lock(&store->lock);
	if (store->stopping) {
		pthread_mutex_unlock(&store->lock);
		pthread_cond_destroy(&op.done_cond);
		return store_error(error_r, STORE_E_TEMP, "store is closing");
	}
	if (store->queue_tail != NULL)
		store->queue_tail->next = &op;
	else
		store->queue_head = &op;
	store->queue_tail = &op;
	store->queue_len++;
	pthread_cond_signal(&store->queue_cond);
	while (!op.done)
		pthread_cond_wait(&op.done_cond, &store->lock);
	pthread_mutex_unlock(&store->lock);
	pthread_cond_destroy(&op.done_cond);

	if (op.result != STORE_OK)
		return store_error(error_r, op.result, "%s", op.error);
	return STORE_OK;
}
