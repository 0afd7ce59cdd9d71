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
	struct ioev_timer *deadline;
	struct ioev_timer *kick;	/* runs the first step off the caller's stack */
	struct dns_query *query;
	spf_cb_t *cb;
	void *ctx;
};

static void
check_free(struct spf_check **cp)
{
	struct spf_check *c = *cp;

	if (c == NULL)
		return;
	dns_query_cancel(&c->query);
	ioev_timer_free(&c->deadline);
	ioev_timer_free(&c->kick);
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

static void
check_step(struct spf_check *c)
{
	const char *name;
	enum dns_type type;

	if (spf_eval_step(c->eval, &name, &type) == SPF_STEP_DONE) {
		check_finish(c);
		return;
	}
	c->query = dns_lookup(c->resolver, name, type, check_answer, c);
}

static void
check_answer(const struct dns_result *res, void *ctx)
{
	struct spf_check *c = ctx;

	c->query = NULL;
	spf_eval_answer(c->eval, res);
	check_step(c);
}

static void
check_kick(void *ctx)
{
	check_step(ctx);
}

static void
check_timeout(void *ctx)
{
	struct spf_check *c = ctx;

	dns_query_cancel(&c->query);
	spf_eval_abort(c->eval, "time limit of the SPF check reached");
	check_finish(c);
}

struct spf_check *
spf_check_start(struct ioev_loop *loop, struct dns_resolver *resolver,
		const struct spf_request *req, const struct spf_limits *lim,
		spf_cb_t *cb, void *ctx)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));

	c->eval = spf_eval_new(req, lim);
	c->resolver = resolver;
	c->cb = cb;
	c->ctx = ctx;
	c->deadline = ioev_timer_new(loop, check_timeout, c);
	ioev_timer_start(c->deadline, lim->timeout_ms, false);
	c->kick = ioev_timer_new(loop, check_kick, c);
	ioev_timer_start(c->kick, 0, false);
	return c;
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

		spf_eval_answer(e, res);
		dns_result_free(&res);
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
