/* SPDX-License-Identifier: MIT */
/* Thread pool: work runs off the loop thread, done on it; many jobs; free
 * runs outstanding completions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/mem.h"
#include "lib/threadpool.h"

#define N_JOBS 5000

struct tp_state {
	struct event_base *base;
	pthread_t loop_thread;
	atomic_int work_off_loop;
	int done_on_loop;
	int done_count;
	long sum;
};

struct tp_job {
	struct tp_state *st;
	int in;
	int out;
};

static void
tp_work(void *arg)
{
	struct tp_job *job = arg;

	if (!pthread_equal(pthread_self(), job->st->loop_thread))
		atomic_fetch_add(&job->st->work_off_loop, 1);
	job->out = job->in * 2;
}

static void
tp_done(void *arg)
{
	struct tp_job *job = arg;
	struct tp_state *st = job->st;

	if (pthread_equal(pthread_self(), st->loop_thread))
		st->done_on_loop++;
	st->sum += job->out;
	if (++st->done_count == N_JOBS)
		event_base_loopbreak(st->base);
	free(job);
}

static void
test_threadpool_many_jobs(void **state)
{
	struct tp_state st = { 0 };
	struct threadpool *pool;
	long expect = 0;

	(void)state;
	st.base = event_base_new();
	st.loop_thread = pthread_self();
	pool = threadpool_new(st.base, 3);
	for (int i = 0; i < N_JOBS; i++) {
		struct tp_job *job = xcalloc(1, sizeof(*job));

		job->st = &st;
		job->in = i;
		expect += 2L * i;
		threadpool_submit(pool, tp_work, tp_done, job);
	}
	assert_int_equal(threadpool_pending(pool), N_JOBS);
	event_base_dispatch(st.base);
	assert_int_equal(st.done_count, N_JOBS);
	assert_int_equal(st.done_on_loop, N_JOBS);
	assert_int_equal(atomic_load(&st.work_off_loop), N_JOBS);
	assert_int_equal(st.sum, expect);
	assert_int_equal(threadpool_pending(pool), 0);
	threadpool_free(&pool);
	assert_null(pool);
	event_base_free(st.base);
}

/* A job without done_fn: its thread frees it, the loop never hears of it
 * (not pending, nothing to run), so the loop is not woken per job. */
static atomic_int nodone_ran;

static void
tp_nodone_work(void *arg)
{
	(void)arg;
	atomic_fetch_add(&nodone_ran, 1);
}

static void
test_threadpool_no_done(void **state)
{
	struct event_base *base = event_base_new();
	struct threadpool *pool = threadpool_new(base, 2);

	(void)state;
	for (int i = 0; i < 100; i++)
		threadpool_submit(pool, tp_nodone_work, NULL, NULL);
	assert_int_equal(threadpool_pending(pool), 0);
	for (int i = 0; i < 5000 && atomic_load(&nodone_ran) < 100; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&nodone_ran), 100);
	threadpool_free(&pool);
	event_base_free(base);
}

static void
tp_slow_work(void *arg)
{
	usleep(2000);
	tp_work(arg);
}

static void
test_threadpool_free_runs_pending(void **state)
{
	struct tp_state st = { 0 };
	struct threadpool *pool;

	(void)state;
	st.base = event_base_new();
	st.loop_thread = pthread_self();
	pool = threadpool_new(st.base, 2);
	for (int i = 0; i < 20; i++) {
		struct tp_job *job = xcalloc(1, sizeof(*job));

		job->st = &st;
		job->in = 1;
		threadpool_submit(pool, tp_slow_work, tp_done, job);
	}
	/* no loop iteration: free must still complete every job */
	threadpool_free(&pool);
	assert_int_equal(st.done_count, 20);
	assert_int_equal(st.done_on_loop, 20);
	assert_int_equal(st.sum, 40);
	event_base_free(st.base);
}

static void
test_threadpool_null_work(void **state)
{
	struct tp_state st = { 0 };
	struct threadpool *pool;
	struct tp_job *job = xcalloc(1, sizeof(*job));

	(void)state;
	st.base = event_base_new();
	st.loop_thread = pthread_self();
	pool = threadpool_new(st.base, 1);
	job->st = &st;
	job->out = 7;
	threadpool_submit(pool, NULL, tp_done, job);
	event_base_loop(st.base, EVLOOP_ONCE);
	assert_int_equal(st.done_count, 1);
	assert_int_equal(st.sum, 7);
	threadpool_free(&pool);
	event_base_free(st.base);
}

/* External jobs: finished by threads the pool does not own (as the
 * store's writer does); every done_fn runs once, on the loop thread,
 * whether the job ends before or after its begin call returned. */
#define N_EXTERNAL 2000

struct ext_state {
	struct event_base *base;
	struct threadpool *pool;
	pthread_t loop_thread;
	struct threadpool_job *jobs[N_EXTERNAL];
	int done_on_loop;
	int done_count;
};

static void
ext_done(void *arg)
{
	struct ext_state *st = arg;

	if (pthread_equal(pthread_self(), st->loop_thread))
		st->done_on_loop++;
	if (++st->done_count == N_EXTERNAL)
		event_base_loopbreak(st->base);
}

static void *
ext_finisher(void *arg)
{
	struct ext_state *st = arg;

	/* every other job, from this thread, in reverse order */
	for (int i = N_EXTERNAL - 1; i >= 0; i--)
		if (i % 2 == 1)
			threadpool_external_done(st->pool, st->jobs[i]);
	return NULL;
}

static void
test_threadpool_external(void **state)
{
	struct ext_state st = { 0 };
	pthread_t t;

	(void)state;
	st.base = event_base_new();
	st.pool = threadpool_new(st.base, 2);
	st.loop_thread = pthread_self();
	for (int i = 0; i < N_EXTERNAL; i++)
		st.jobs[i] = threadpool_external_begin(st.pool, ext_done, &st);
	assert_int_equal(threadpool_pending(st.pool), N_EXTERNAL);
	for (int i = 0; i < N_EXTERNAL; i += 2)	/* from the loop thread */
		threadpool_external_done(st.pool, st.jobs[i]);
	assert_int_equal(pthread_create(&t, NULL, ext_finisher, &st), 0);
	event_base_dispatch(st.base);
	pthread_join(t, NULL);
	assert_int_equal(st.done_count, N_EXTERNAL);
	assert_int_equal(st.done_on_loop, N_EXTERNAL);
	assert_int_equal(threadpool_pending(st.pool), 0);
	threadpool_free(&st.pool);
	event_base_free(st.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threadpool_many_jobs),
		cmocka_unit_test(test_threadpool_free_runs_pending),
		cmocka_unit_test(test_threadpool_no_done),
		cmocka_unit_test(test_threadpool_null_work),
		cmocka_unit_test(test_threadpool_external),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
