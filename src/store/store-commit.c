/* SPDX-License-Identifier: MIT */
/*
 * Group commit: callers queue write operations and block; one writer thread
 * takes up to batch_max of them (waiting at most batch_wait_us to fill a
 * batch), runs each inside its own SAVEPOINT of one transaction, commits
 * once (one WAL fsync for the whole batch) and wakes every caller with its
 * own result. A failing operation rolls back to its savepoint only.
 * Asynchronous ops (small blob inserts) ride in the same queue, in order,
 * with nobody waiting: a callback frees them after their batch.
 */
#include "store/store-private.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* One transaction for the batch. Returns the op that failed after
 * writing and so rolled the whole batch back, or NULL. */
static struct store_op *
batch_try(struct store *store, struct store_op *batch, size_t n)
{
	const char *err = NULL;
	enum store_result r;
	struct store_op *op, *culprit = NULL;

	store_changes_discard(store);
	store->batch_lazy = store->ops->batch_durable != NULL;
	for (op = batch; op != NULL; op = op->next)
		store->batch_lazy &= op->lazy_sync;
	r = store->ops->batch_begin(store, &err);
	if (r != STORE_OK) {
		for (op = batch; op != NULL; op = op->next)
			op_set_error(op, r, err);
		return NULL;
	}
	for (op = batch; op != NULL; op = op->next) {
		if (op->no_savepoint && store->ops->op_mark != NULL) {
			uint64_t mark = store->ops->op_mark(store);

			err = NULL;
			r = op->run(store, op->ctx, &err);
			op_set_error(op, r, err);
			if (r != STORE_OK &&
			    !store->ops->op_untouched(store, mark)) {
				/* wrote, then failed: only the whole
				 * transaction can undo it */
				if (err == NULL)
					err = op->error;
				culprit = op;
				goto abort;
			}
			continue;
		}
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
	if (store->batch_lazy) {
		err = NULL;
		r = store->ops->batch_durable(store, &err);
		if (r != STORE_OK) {
			/* Committed, and perhaps on disk or not: nothing
			 * can be undone. Every op learns it failed, as for a
			 * failed commit (the queue runner then treats the
			 * outcome as lost, which a retry makes good). */
			log_warn(NULL, "store", "sync-failed", "ops=%zu "
				 "error=\"%s\"", n, err != NULL ? err : "?");
			for (op = batch; op != NULL; op = op->next)
				if (op->result == STORE_OK)
					op_set_error(op, STORE_E_TEMP,
						     err != NULL ? err :
						     "sync failed");
		}
	}
	/* Before any caller is woken: a client told "OK" for a change can
	 * count on every other session having been told to look. */
	store_changes_publish(store);
	pthread_mutex_lock(&store->lock);
	store->stats.commits++;
	store->stats.ops += n;
	if (store->batch_lazy)
		store->stats.lazy_commits++;
	if (n > store->stats.max_batch)
		store->stats.max_batch = n;
	pthread_mutex_unlock(&store->lock);
	return NULL;

abort:
	/* The transaction as a whole is lost: nothing of it is on disk, so
	 * every operation gets a temporary failure and the callers retry. */
	log_warn(NULL, "store", "commit-failed", "ops=%zu error=\"%s\"", n,
		 err != NULL ? err : "?");
	store->ops->batch_rollback(store);
	store_changes_discard(store);
	for (op = batch; op != NULL; op = op->next) {
		if (op->result == STORE_OK) {
			op_set_error(op, STORE_E_TEMP,
				     err != NULL ? err : "transaction failed");
			op->aborted = true;
		}
	}
	return culprit;
}

/* Runs a batch. When one op failed after writing, the batch's other ops
 * did nothing wrong: if they can run again (struct store_op.rerun) they
 * do, once, in a new transaction without it, so a message that keeps
 * failing (a database error it alone causes) does not take the
 * deliveries that happened to share its batch down with it every time.
 * Ops refused in their own right before the failure keep their answer:
 * the rerun would give them the same (the same writes precede them). */
static void
batch_run(struct store *store, struct store_op *batch, size_t n)
{
	struct store_op *culprit = batch_try(store, batch, n), *op;
	struct store_op *head = NULL, **tail = &head, **order;
	size_t i, m = 0;

	if (culprit == NULL)
		return;
	for (op = batch; op != NULL; op = op->next) {
		if (!op->aborted)
			continue;
		if (!op->rerun)
			return;
		m++;
	}
	if (m == 0)
		return;
	log_info(NULL, "store", "batch-rerun", "ops=%zu", m);
	/* The caller walks the whole batch afterwards: keep its order. */
	order = xmalloc(n * sizeof(*order));
	for (i = 0, op = batch; op != NULL; op = op->next)
		order[i++] = op;
	for (i = 0; i < n; i++) {
		if (!order[i]->aborted)
			continue;
		order[i]->aborted = false;
		op_set_error(order[i], STORE_OK, NULL);
		*tail = order[i];
		tail = &order[i]->next;
	}
	*tail = NULL;
	(void)batch_try(store, head, m);
	for (i = 0; i + 1 < n; i++)
		order[i]->next = order[i + 1];
	order[n - 1]->next = NULL;
	free(order);
}

void
store_deadline_after(struct timespec *ts, uint64_t us)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(us / 1000000);
	ts->tv_nsec += (long)(us % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Whether a collection round runs now: one every interval whatever the
 * load, and the next ones of a backlog (gc_more) only while no write that
 * somebody waits for is queued, so a big backlog (a deleted domain, the
 * orphans migration 3 found) never holds deliveries up for more than one
 * round at a time. */
static bool
gc_due(const struct store *store)
{
	struct timespec now;

	if (store->gc_interval_us == 0 || store->stopping ||
	    (store->gc_more && store->queue_waited > 0))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > store->gc_next.tv_sec ||
	       (now.tv_sec == store->gc_next.tv_sec &&
		now.tv_nsec >= store->gc_next.tv_nsec);
}

/* One round of change log pruning after the blob collection's, in a
 * transaction of its own (at most 1000 rows: the write lock is held
 * briefly). True when old rows are left for the next round. */
static bool
writer_prune(struct store *store, uint64_t max_age)
{
	struct store_changes_prune_result res = { .max_age_s = max_age };
	struct store_op op;

	if (store->ops->changes_prune == NULL)
		return false;
	memset(&op, 0, sizeof(op));
	op.run = store->ops->changes_prune;
	op.ctx = &res;
	batch_run(store, &op, 1);
	if (op.result != STORE_OK) {
		log_warn(NULL, "store", "change-log-prune-failed",
			 "error=\"%s\"", op.error);
		return false;
	}
	if (res.pruned > 0)
		log_info(NULL, "store", "change-log-pruned", "rows=%zu "
			 "more=%s", res.pruned, res.more ? "yes" : "no");
	return res.more;
}

/* The periodic blob collection, on the writer thread (called unlocked):
 * one transaction of its own, then the next round right away while ids
 * are queued (other writes go first), else after the interval. */
static void
writer_gc(struct store *store)
{
	struct store_blob_gc_result res = { 0 };
	struct store_op op;
	uint64_t max_age;

	memset(&op, 0, sizeof(op));
	op.run = store->ops->blob_gc;
	op.ctx = &res;
	pthread_mutex_lock(&store->lock);
	res.max = store->gc_round_max;
	pthread_mutex_unlock(&store->lock);
	batch_run(store, &op, 1);
	if (op.result != STORE_OK)
		log_warn(NULL, "store", "blob-gc-failed", "error=\"%s\"",
			 op.error);
	else if (res.freed > 0)
		log_info(NULL, "store", "blob-gc", "checked=%zu freed=%zu "
			 "bytes=%llu", res.checked, res.freed,
			 (unsigned long long)res.bytes);
	pthread_mutex_lock(&store->lock);
	store->gc_more = op.result == STORE_OK && res.more;
	max_age = store->change_log_max_age_s;
	pthread_mutex_unlock(&store->lock);
	if (max_age > 0 && writer_prune(store, max_age)) {
		pthread_mutex_lock(&store->lock);
		store->gc_more = true;
		pthread_mutex_unlock(&store->lock);
	}
	pthread_mutex_lock(&store->lock);
	store_deadline_after(&store->gc_next, store->gc_more
						      ? 0
						      : store->gc_interval_us);
	pthread_mutex_unlock(&store->lock);
}

/* While sessions announced writes on their way (store_write_expect), the
 * batch stays open up to linger_us for them: under load, messages finish
 * a few at a time, and each commit (one fsync, the wal-index and page
 * reloads after another process's commit, the tree pages every write of
 * the batch shares) costs about what several deliveries do. The last
 * announced write to arrive, a full batch or closing ends the wait; the
 * writes that arrive meanwhile do not wake the writer (enqueue_locked).
 * Nothing announced: no wait, so a lone message's 250 is not delayed.
 * Called and returns with store->lock held. */
static void
writer_linger(struct store *store)
{
	struct timespec deadline;

	if (store->linger_us == 0 || store->expected == 0 ||
	    store->queue_len >= store->batch_max || store->stopping)
		return;
	store_deadline_after(&deadline, store->linger_us);
	store->lingering = true;
	while (store->expected > 0 && store->queue_len < store->batch_max &&
	       !store->stopping) {
		if (pthread_cond_timedwait(&store->queue_cond, &store->lock,
					   &deadline) == ETIMEDOUT)
			break;
	}
	store->lingering = false;
	store->stats.lingers++;
}

static void *
writer_main(void *arg)
{
	struct store *store = arg;

	pthread_mutex_lock(&store->lock);
	for (;;) {
		struct store_op *batch, *last;
		size_t n;

		/* Asynchronous ops alone (blob inserts) do not start a
		 * commit: nobody waits for them, and the write that will
		 * reference the blob follows them in the queue, so waiting
		 * for it saves a WAL fsync. A full batch or closing commits
		 * them anyway. */
		while (store->queue_waited == 0 &&
		       store->queue_len < store->batch_max &&
		       !store->stopping && !gc_due(store)) {
			if (store->gc_interval_us > 0)
				pthread_cond_timedwait(&store->queue_cond,
						       &store->lock,
						       &store->gc_next);
			else
				pthread_cond_wait(&store->queue_cond,
						  &store->lock);
		}
		if (gc_due(store)) {
			pthread_mutex_unlock(&store->lock);
			writer_gc(store);
			pthread_mutex_lock(&store->lock);
			continue;
		}
		if (store->queue_head == NULL)
			break;
		writer_linger(store);
		if (store->queue_len < store->batch_max &&
		    store->batch_wait_us > 0 && !store->stopping) {
			struct timespec deadline;

			store_deadline_after(&deadline,
					     store->batch_wait_us);
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
		if (last->waited)
			store->queue_waited--;
		while (n < store->batch_max && last->next != NULL &&
		       !last->alone && !last->next->alone) {
			last = last->next;
			n++;
			if (last->waited)
				store->queue_waited--;
		}
		store->queue_head = last->next;
		if (store->queue_head == NULL)
			store->queue_tail = NULL;
		store->queue_len -= n;
		last->next = NULL;
		pthread_mutex_unlock(&store->lock);

		batch_run(store, batch, n);

		/* The asynchronous ops' callbacks first (outside the lock:
		 * they take their own, store->blob_lock), so that a caller
		 * woken below finds its batch's blob inserts already out of
		 * the pending list: store_blob_sync() then a read goes to
		 * the database (test-store test_reader_stmt_cache saw the
		 * pending copy now and then under load). */
		for (struct store_op *op = batch; op != NULL; op = op->next)
			if (op->async_done != NULL)
				op->async_done(store, op->ctx, op->result,
					       op->result == STORE_OK ? NULL
								      : op->error);
		pthread_mutex_lock(&store->lock);
		for (struct store_op *op = batch, *next; op != NULL;
		     op = next) {
			/* The caller may return and free op once done is set
			 * and the lock dropped; asynchronous ones are ours. */
			next = op->next;
			if (op->async_done != NULL) {
				free(op);
				continue;
			}
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
	/* named for top -H and perf: "herald-writer" */
	(void)pthread_setname_np(store->writer, "herald-writer");
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

/* Queues op. *wake_r: the writer must be told (queue_cond signalled);
 * NULL: signalled here, under the lock. */
static bool
enqueue_locked(struct store *store, struct store_op *op, bool *wake_r)
{
	bool wake;

	if (store->stopping)
		return false;
	if (store->queue_tail != NULL)
		store->queue_tail->next = op;
	else
		store->queue_head = op;
	store->queue_tail = op;
	store->queue_len++;
	if (op->waited)
		store->queue_waited++;
	wake = op->waited || store->queue_len >= store->batch_max;
	/* a lingering writer waits for the announced writes or a full
	 * batch (writer_linger); waking it for each would only put it back
	 * to sleep */
	if (store->lingering && store->expected > 0 &&
	    store->queue_len < store->batch_max)
		wake = false;
	if (wake_r != NULL)
		*wake_r = wake;
	else if (wake)
		pthread_cond_signal(&store->queue_cond);
	return true;
}

static void
op_set_flags(struct store_op *op, unsigned flags)
{
	op->alone = (flags & STORE_OP_ALONE) != 0;
	op->no_savepoint = (flags & STORE_OP_NO_SAVEPOINT) != 0;
	op->rerun = (flags & STORE_OP_RERUN) != 0;
	op->lazy_sync = (flags & STORE_OP_LAZY_SYNC) != 0;
}

enum store_result
store_commit_run_flags(struct store *store, store_op_run_cb_t *run, void *ctx,
		       unsigned flags, const char **error_r)
{
	struct store_op op;

	memset(&op, 0, sizeof(op));
	op.run = run;
	op.ctx = ctx;
	op.waited = true;
	op_set_flags(&op, flags);
	pthread_cond_init(&op.done_cond, NULL);

	pthread_mutex_lock(&store->lock);
	if (!enqueue_locked(store, &op, NULL)) {
		pthread_mutex_unlock(&store->lock);
		pthread_cond_destroy(&op.done_cond);
		return store_error(error_r, STORE_E_TEMP, "store is closing");
	}
	while (!op.done)
		pthread_cond_wait(&op.done_cond, &store->lock);
	pthread_mutex_unlock(&store->lock);
	pthread_cond_destroy(&op.done_cond);

	if (op.result != STORE_OK)
		return store_error(error_r, op.result, "%s", op.error);
	return STORE_OK;
}

enum store_result
store_commit_run(struct store *store, store_op_run_cb_t *run, void *ctx,
		 const char **error_r)
{
	return store_commit_run_flags(store, run, ctx, 0, error_r);
}

static enum store_result
queue_async(struct store *store, store_op_run_cb_t *run, void *ctx,
	    store_op_done_cb_t *done, bool waited, unsigned flags,
	    const char **error_r)
{
	struct store_op *op = xcalloc(1, sizeof(*op));
	bool queued, wake = false;

	op->run = run;
	op->ctx = ctx;
	op->async_done = done;
	op->waited = waited;
	op_set_flags(op, flags);
	pthread_mutex_lock(&store->lock);
	queued = enqueue_locked(store, op, &wake);
	pthread_mutex_unlock(&store->lock);
	/* after the unlock: the writer woken under it would block on the
	 * lock at once (two more futex calls and task switches per write) */
	if (queued && wake)
		pthread_cond_signal(&store->queue_cond);
	if (!queued) {
		free(op);
		return store_error(error_r, STORE_E_TEMP, "store is closing");
	}
	return STORE_OK;
}

enum store_result
store_commit_queue(struct store *store, store_op_run_cb_t *run, void *ctx,
		   store_op_done_cb_t *done, const char **error_r)
{
	/* the blob insert: one statement, atomic by itself, and the same
	 * again if it has to run again */
	return queue_async(store, run, ctx, done, false,
			   STORE_OP_NO_SAVEPOINT | STORE_OP_RERUN, error_r);
}

enum store_result
store_commit_submit(struct store *store, store_op_run_cb_t *run, void *ctx,
		    store_op_done_cb_t *done, const char **error_r)
{
	return queue_async(store, run, ctx, done, true, 0, error_r);
}

enum store_result
store_commit_submit_flags(struct store *store, store_op_run_cb_t *run,
			  void *ctx, store_op_done_cb_t *done, unsigned flags,
			  const char **error_r)
{
	return queue_async(store, run, ctx, done, true, flags, error_r);
}

void
store_write_expect(struct store *store, bool on)
{
	bool wake = false;

	pthread_mutex_lock(&store->lock);
	if (on) {
		store->expected++;
	} else {
		assert(store->expected > 0);
		store->expected--;
		wake = store->expected == 0 && store->lingering;
	}
	pthread_mutex_unlock(&store->lock);
	if (wake)
		pthread_cond_signal(&store->queue_cond);
}
