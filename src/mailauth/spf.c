/* SPDX-License-Identifier: MIT */
/*
 * Running an SPF check: the evaluator (spf-eval.c) fed by dns_lookup() on
 * an ioev loop, one lookup at a time, under a total time limit (RFC 7208
 * 4.6.4: at least 20 s recommended), or by dns_lookup_sync() for tools.
 */
#include <stdlib.h>
#include <time.h>

#include "lib/ioev.h"
#include "lib/mem.h"
#include "mailauth/spf.h"

struct spf_check {
	struct spf_eval *eval;
	struct dns_resolver *resolver;
	/* one timer: first the kick that runs the first step off the
	 * caller's stack, then the deadline, armed only when a lookup has
	 * to wait for libunbound (answers from the cache are taken at once,
	 * so a check the cache can answer costs one loop turn and no
	 * deadline) */
	struct ioev_loop *loop;
	struct ioev_timer *timer;	/* NULL until needed (_start_now) */
	bool kicked;
	bool deadline_armed;
	uint64_t start_ms;
	uint64_t timeout_ms;
	struct dns_query *query;
	spf_cb_t *cb;
	void *ctx;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
check_free(struct spf_check **cp)
{
	struct spf_check *c = *cp;

	if (c == NULL)
		return;
	dns_query_cancel(&c->query);
	ioev_timer_free(&c->timer);
	spf_eval_free(&c->eval);
	xfree(cp);
}

static void
check_finish(struct spf_check *c)
{
	c->cb(spf_eval_verdict(c->eval), c->ctx);
	check_free(&c);
}

static void check_answer(const struct dns_result *res, void *ctx);
static void check_timer(void *ctx);

/* Runs the check until it needs an answer the cache does not hold
 * (false: its lookup is asked) or ends (true: the callback has run and
 * c is freed). */
static bool
check_step(struct spf_check *c)
{
	const char *name;
	enum dns_type type;
	struct dns_result *res;

	while (spf_eval_step(c->eval, &name, &type) == SPF_STEP_NEED_DNS) {
		res = dns_lookup_now(c->resolver, name, type);
		if (res == NULL) {
			if (!c->deadline_armed) {
				/* the time limit counts from the start */
				uint64_t spent = now_ms() - c->start_ms;

				c->deadline_armed = true;
				if (c->timer == NULL)
					c->timer = ioev_timer_new(c->loop,
								  check_timer,
								  c);
				ioev_timer_start(c->timer, spent < c->timeout_ms
						 ? c->timeout_ms - spent : 0,
						 false);
			}
			c->query = dns_lookup(c->resolver, name, type,
					      check_answer, c);
			return false;
		}
		spf_eval_answer_take(c->eval, &res);
	}
	check_finish(c);
	return true;
}

static void
check_answer(const struct dns_result *res, void *ctx)
{
	struct spf_check *c = ctx;

	c->query = NULL;
	spf_eval_answer(c->eval, res);
	(void)check_step(c);
}

static void
check_timeout(struct spf_check *c)
{
	dns_query_cancel(&c->query);
	spf_eval_abort(c->eval, "time limit of the SPF check reached");
	check_finish(c);
}

static void
check_timer(void *ctx)
{
	struct spf_check *c = ctx;

	if (c->kicked) {
		check_timeout(c);
		return;
	}
	c->kicked = true;
	(void)check_step(c);
}

static struct spf_check *
check_new(struct ioev_loop *loop, struct dns_resolver *resolver,
	  const struct spf_request *req, const struct spf_limits *lim,
	  spf_cb_t *cb, void *ctx)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));

	c->eval = spf_eval_new(req, lim);
	c->loop = loop;
	c->resolver = resolver;
	c->cb = cb;
	c->ctx = ctx;
	c->start_ms = now_ms();
	c->timeout_ms = lim->timeout_ms;
	return c;
}

struct spf_check *
spf_check_start(struct ioev_loop *loop, struct dns_resolver *resolver,
		const struct spf_request *req, const struct spf_limits *lim,
		spf_cb_t *cb, void *ctx)
{
	struct spf_check *c = check_new(loop, resolver, req, lim, cb, ctx);

	c->timer = ioev_timer_new(loop, check_timer, c);
	ioev_timer_start(c->timer, 0, false);
	return c;
}

struct spf_check *
spf_check_start_now(struct ioev_loop *loop, struct dns_resolver *resolver,
		    const struct spf_request *req,
		    const struct spf_limits *lim, spf_cb_t *cb, void *ctx)
{
	struct spf_check *c = check_new(loop, resolver, req, lim, cb, ctx);

	c->kicked = true;	/* its timer is only ever the deadline */
	return check_step(c) ? NULL : c;
}

void
spf_check_cancel(struct spf_check **check)
{
	check_free(check);
}

struct spf_verdict *
spf_check_sync(struct dns_resolver *resolver, const struct spf_request *req,
	       const struct spf_limits *lim)
{
	struct spf_eval *e = spf_eval_new(req, lim);
	struct spf_verdict *v;
	struct timespec start, now;
	const char *name;
	enum dns_type type;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (spf_eval_step(e, &name, &type) == SPF_STEP_NEED_DNS) {
		struct dns_result *res = dns_lookup_sync(resolver, name, type);

		spf_eval_answer_take(e, &res);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((uint64_t)(now.tv_sec - start.tv_sec) * 1000 +
		    (uint64_t)((now.tv_nsec - start.tv_nsec) / 1000000) >=
		    lim->timeout_ms)
			spf_eval_abort(e, "time limit of the SPF check reached");
	}
	v = spf_eval_take_verdict(e);
	spf_eval_free(&e);
	return v;
}
