/* SPDX-License-Identifier: MIT */
/*
 * The resolver: one libunbound context per resolver (per worker or queue
 * runner) in threaded async mode, its result pipe watched by the ioev
 * loop. Lookups of the same name and type share one libunbound query;
 * each caller has its own handle, timer and callback. Results are parsed
 * once, cached (dns-cache.c) and delivered outside ub_process().
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#include "conf/config.h"
#include "dns/dns-private.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"

/* Callers waiting, delivered first come, first served. */
struct query_list {
	struct dns_query *head, *tail;
};

/* One libunbound query, shared by every dns_query of the same name and
 * type started while it is in flight. */
struct dns_op {
	struct dns_resolver *resolver;
	struct dns_op *prev, *next;	/* resolver->ops or ->done */
	char *name;
	enum dns_type type;
	int async_id;
	bool answered;			/* on ->done: libunbound is through */
	struct dns_result *result;	/* once answered */
	struct query_list queries;	/* waiting callers */
};

struct dns_query {
	struct dns_resolver *resolver;
	struct dns_query *prev, *next;	/* op->queries or resolver->ready */
	struct dns_op *op;		/* NULL while on resolver->ready */
	struct dns_result *result;	/* on ->ready: what to deliver */
	struct ioev_timer *timer;
	dns_cb_t *cb;
	void *ctx;
	bool in_callback;
	bool cancelled;
};

struct dns_resolver {
	struct ioev_loop *loop;
	struct ub_ctx *ub;
	struct ioev_watch *watch;
	struct dns_cache *cache;
	uint64_t timeout_ms;
	struct dns_op *ops;		/* in flight */
	struct dns_op *done;		/* answered, not yet delivered */
	struct query_list ready;	/* results to deliver next turn */
	struct ioev_timer *ready_timer;
	char *error;			/* dns_resolver_new()'s */
};

static void
op_list_add(struct dns_op **head, struct dns_op *op)
{
	op->prev = NULL;
	op->next = *head;
	if (*head != NULL)
		(*head)->prev = op;
	*head = op;
}

static void
op_list_del(struct dns_op **head, struct dns_op *op)
{
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		*head = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
}

static void
qlist_push(struct query_list *l, struct dns_query *q)
{
	q->next = NULL;
	q->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = q;
	else
		l->head = q;
	l->tail = q;
}

static void
qlist_del(struct query_list *l, struct dns_query *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		l->head = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	else
		l->tail = q->prev;
	q->prev = q->next = NULL;
}

/* --- resolver ---------------------------------------------------------- */

static void deliver_done(struct dns_resolver *r);

static void
ub_readable(int fd, void *ctx)
{
	struct dns_resolver *r = ctx;
	int ret = ub_process(r->ub);

	if (ret != 0) {
		/* a broken pipe stays readable: stop watching rather than
		 * spin; lookups in flight and later ones end in timeouts */
		log_error(NULL, "dns", "process-failed", "error=\"%s\"",
			  ub_strerror(ret));
		ioev_watch_stop(r->watch);
	}
	deliver_done(r);
}

static int
fail(struct dns_resolver *r, const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct dns_resolver *r, const char **error_r, const char *fmt, ...)
{
	va_list ap;

	free(r->error);
	va_start(ap, fmt);
	r->error = xvasprintf(fmt, ap);
	va_end(ap);
	*error_r = r->error;
	return -1;
}

static int
set_forwarders(struct dns_resolver *r, const char *list,
	       const char **error_r)
{
	char *copy = xstrdup(list), *p = copy;
	int ret = 0;

	while (ret == 0 && *p != '\0') {
		char *end = p + strcspn(p, ", \t");
		char save = *end;

		*end = '\0';
		if (*p != '\0') {
			int err = ub_ctx_set_fwd(r->ub, p);

			if (err != 0)
				ret = fail(r, error_r, "[dns] forward: %s: %s",
					   p, ub_strerror(err));
		}
		p = save != '\0' ? end + 1 : end;
	}
	free(copy);
	return ret;
}

static int
configure(struct dns_resolver *r, const struct config_dns *cfg,
	  const char **error_r)
{
	int err;

	/* threads, not the default fork(): a worker must not grow a child
	 * process per resolver */
	if ((err = ub_ctx_async(r->ub, 1)) != 0)
		return fail(r, error_r, "libunbound async: %s", ub_strerror(err));
	if (cfg->unbound_config != NULL &&
	    (err = ub_ctx_config(r->ub, cfg->unbound_config)) != 0)
		return fail(r, error_r, "[dns] unbound_config %s: %s",
			    cfg->unbound_config, ub_strerror(err));
	if (cfg->forward != NULL) {
		/* a forwarder on loopback (a local unbound, a test's) must
		 * be allowed: unbound refuses to query 127/8 by default */
		(void)ub_ctx_set_option(r->ub, "do-not-query-localhost:", "no");
		if (set_forwarders(r, cfg->forward, error_r) < 0)
			return -1;
	} else if (cfg->unbound_config == NULL && cfg->resolv_conf != NULL &&
		   access(cfg->resolv_conf, F_OK) < 0 && errno == ENOENT) {
		/* a container without /etc/resolv.conf (the default) still
		 * resolves: from the root servers */
		log_warn(NULL, "dns", "no-resolv-conf",
			 "path=%s resolving=recursive", cfg->resolv_conf);
	} else if (cfg->unbound_config == NULL && cfg->resolv_conf != NULL) {
		(void)ub_ctx_set_option(r->ub, "do-not-query-localhost:", "no");
		if ((err = ub_ctx_resolvconf(r->ub, cfg->resolv_conf)) != 0)
			return fail(r, error_r, "[dns] resolv_conf %s: %s",
				    cfg->resolv_conf, ub_strerror(err));
	}
	if (cfg->hosts != NULL &&
	    (err = ub_ctx_hosts(r->ub, cfg->hosts)) != 0)
		return fail(r, error_r, "[dns] hosts %s: %s", cfg->hosts,
			    ub_strerror(err));
	if (cfg->trust_anchor != NULL) {
		/* libunbound reads the file only when it finalizes, with a
		 * vague error: say which file is missing now */
		if (access(cfg->trust_anchor, R_OK) < 0)
			return fail(r, error_r, "[dns] trust_anchor %s: %s",
				    cfg->trust_anchor, strerror(errno));
		if ((err = ub_ctx_add_ta_file(r->ub, cfg->trust_anchor)) != 0)
			return fail(r, error_r, "[dns] trust_anchor %s: %s",
				    cfg->trust_anchor, ub_strerror(err));
	}
	/* RFC 6761 6.2: .test names are looked up like any other; unbound's
	 * built-in local zone would answer NXDOMAIN for them itself, and
	 * tests (and labs) serve .test zones. This finalizes the context:
	 * it comes last. */
	if ((err = ub_ctx_zone_remove(r->ub, "test.")) != 0)
		return fail(r, error_r, "[dns] libunbound refuses the settings "
			    "(a trust anchor file it cannot read?): %s",
			    ub_strerror(err));
	return 0;
}

static void ready_fire(void *ctx);

struct dns_resolver *
dns_resolver_new(struct ioev_loop *loop, const struct config_dns *cfg,
		 const char **error_r)
{
	static char *last_error;
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	int fd;

	r->loop = loop;
	r->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms : 10000;
	r->ub = ub_ctx_create();
	if (r->ub == NULL) {
		free(r);
		*error_r = "libunbound: cannot create a context";
		return NULL;
	}
	if (configure(r, cfg, error_r) < 0) {
		/* the message outlives r: keep the last one */
		free(last_error);
		last_error = r->error;
		r->error = NULL;
		*error_r = last_error;
		ub_ctx_delete(r->ub);
		free(r);
		return NULL;
	}
	r->cache = dns_cache_new(cfg->cache_size, cfg->cache_memory,
				 (uint32_t)cfg->cache_max_ttl_s,
				 (uint32_t)cfg->cache_negative_ttl_s);
	if (loop != NULL) {
		fd = ub_fd(r->ub);
		if (fd < 0) {
			*error_r = "libunbound: no descriptor";
			dns_cache_free(&r->cache);
			ub_ctx_delete(r->ub);
			free(r);
			return NULL;
		}
		r->watch = ioev_watch_fd(loop, fd, ub_readable, r);
		r->ready_timer = ioev_timer_new(loop, ready_fire, r);
	}
	return r;
}

static void
query_free(struct dns_query *q)
{
	ioev_timer_free(&q->timer);
	dns_result_free(&q->result);
	free(q);
}

static void
op_free(struct dns_op *op)
{
	while (op->queries.head != NULL) {
		struct dns_query *q = op->queries.head;

		qlist_del(&op->queries, q);
		query_free(q);
	}
	dns_result_free(&op->result);
	free(op->name);
	free(op);
}

void
dns_resolver_free(struct dns_resolver **resolver)
{
	struct dns_resolver *r = *resolver;

	if (r == NULL)
		return;
	ioev_watch_free(&r->watch);
	/* joins libunbound's thread and closes its pipes and sockets; no
	 * callback runs after this */
	ub_ctx_delete(r->ub);
	while (r->ops != NULL) {
		struct dns_op *op = r->ops;

		op_list_del(&r->ops, op);
		op_free(op);
	}
	while (r->done != NULL) {
		struct dns_op *op = r->done;

		op_list_del(&r->done, op);
		op_free(op);
	}
	while (r->ready.head != NULL) {
		struct dns_query *q = r->ready.head;

		qlist_del(&r->ready, q);
		query_free(q);
	}
	ioev_timer_free(&r->ready_timer);
	dns_cache_free(&r->cache);
	free(r->error);
	free(r);
	*resolver = NULL;
}

/* --- results ----------------------------------------------------------- */

static struct dns_result *
result_from_ub(const char *name, enum dns_type type, int err,
	       struct ub_result *ub)
{
	struct dns_result *res;
	char canon[DNS_NAME_MAX + 1];
	const char *perr;
	size_t bad = 0;

	if (err != 0 || ub == NULL)
		return dns_result_new_error(name, type, DNS_ERROR,
					    "libunbound: %s", ub_strerror(err));
	res = dns_result_new(name, type);
	res->rcode = ub->rcode;
	res->sec = ub->secure ? DNS_SEC_SECURE :
		ub->bogus ? DNS_SEC_BOGUS : DNS_SEC_INSECURE;
	if (ub->canonname != NULL &&
	    dns_name_normalize(ub->canonname, canon, &perr) == 0) {
		free(res->canonname);
		res->canonname = xstrdup(canon);
	}
	if (ub->bogus) {
		res->status = DNS_ERROR;
		res->why_bogus = xstrdup(ub->why_bogus != NULL ?
					 ub->why_bogus : "(no reason given)");
		res->error = xasprintf("DNSSEC bogus: %s", res->why_bogus);
		return res;
	}
	if (ub->rcode == 3 || ub->nxdomain) {
		res->status = DNS_NXDOMAIN;
		res->ttl = ub->ttl > 0 ? (uint32_t)ub->ttl : 0;
		return res;
	}
	if (ub->rcode != 0) {
		res->status = DNS_SERVFAIL;
		res->error = xasprintf("server failure (rcode %d)", ub->rcode);
		return res;
	}
	if (!ub->havedata) {
		res->status = DNS_NODATA;
		res->ttl = ub->ttl > 0 ? (uint32_t)ub->ttl : 0;
		return res;
	}
	size_t n = 0;

	while (ub->data[n] != NULL)
		n++;
	free(res->rrs);
	res->rrs = xcalloc(n + 1, sizeof(struct dns_rr));
	for (size_t i = 0; i < n; i++) {
		struct dns_rr *rr = &res->rrs[res->count];

		if (ub->len[i] < 0 ||
		    dns_rdata_parse(type, (const uint8_t *)ub->data[i],
				    (size_t)ub->len[i], rr, &perr) < 0) {
			char lname[DNS_NAME_MAX * 2];

			/* a record we cannot read does not hide the
			 * others (an MX list with one odd name) */
			log_info(NULL, "dns", "bad-record",
				 "name=%s type=%s error=\"%s\"",
				 log_str(lname, sizeof(lname), name),
				 dns_type_name(type), perr);
			bad++;
			continue;
		}
		rr->ttl = ub->ttl > 0 ? (uint32_t)ub->ttl : 0;
		res->count++;
	}
	res->ttl = ub->ttl > 0 ? (uint32_t)ub->ttl : 0;
	if (res->count == 0) {
		res->status = DNS_ERROR;
		res->error = xasprintf("%zu malformed %s record%s", bad,
				       dns_type_name(type), bad == 1 ? "" : "s");
		res->ttl = 0;
		return res;
	}
	if (type == DNS_TYPE_MX)
		dns_result_sort_mx(res);
	return res;
}

static void
log_result(const struct dns_result *res)
{
	char err[256], lname[DNS_NAME_MAX * 2];

	if (res->status == DNS_OK || dns_status_is_permanent(res->status)) {
		log_debug(NULL, "dns", "answer",
			  "name=%s type=%s status=%s sec=%s count=%zu ttl=%u",
			  log_str(lname, sizeof(lname), res->name),
			  dns_type_name(res->type),
			  dns_status_name(res->status), dns_sec_name(res->sec),
			  res->count, res->ttl);
		return;
	}
	log_str(err, sizeof(err), res->error != NULL ? res->error : "");
	if (res->sec == DNS_SEC_BOGUS)
		log_warn(NULL, "dns", "bogus", "name=%s type=%s error=%s",
			 log_str(lname, sizeof(lname), res->name),
			 dns_type_name(res->type), err);
	else
		log_info(NULL, "dns", "failed",
			 "name=%s type=%s status=%s error=%s",
			 log_str(lname, sizeof(lname), res->name),
			 dns_type_name(res->type),
			 dns_status_name(res->status), err);
}

/* libunbound's callback, inside ub_process(): only records the answer;
 * callers' callbacks run from deliver_done() after ub_process returns,
 * so that they may start and cancel lookups freely. */
static void
ub_answered(void *mydata, int err, struct ub_result *ub)
{
	struct dns_op *op = mydata;
	struct dns_resolver *r = op->resolver;

	op->result = result_from_ub(op->name, op->type, err, ub);
	if (ub != NULL)
		ub_resolve_free(ub);
	op->answered = true;
	log_result(op->result);
	dns_cache_put(r->cache, op->result);
	op_list_del(&r->ops, op);
	op_list_add(&r->done, op);
}

static void
query_deliver(struct dns_query *q, const struct dns_result *res)
{
	ioev_timer_free(&q->timer);
	q->in_callback = true;
	q->cb(res, q->ctx);
	query_free(q);
}

static void
deliver_done(struct dns_resolver *r)
{
	while (r->done != NULL) {
		struct dns_op *op = r->done;

		/* a callback may cancel other queries of this op (they leave
		 * op->queries) or start new lookups (they find the cache or
		 * a new op, never this one) */
		while (op->queries.head != NULL) {
			struct dns_query *q = op->queries.head;

			qlist_del(&op->queries, q);
			q->op = NULL;
			query_deliver(q, op->result);
		}
		op_list_del(&r->done, op);
		op_free(op);
	}
}

static void
ready_fire(void *ctx)
{
	struct dns_resolver *r = ctx;

	while (r->ready.head != NULL) {
		struct dns_query *q = r->ready.head;
		struct dns_result *res;

		qlist_del(&r->ready, q);
		res = q->result;
		q->result = NULL;
		query_deliver(q, res);
		dns_result_free(&res);
	}
}

/* --- lookups ----------------------------------------------------------- */

static void
query_timeout(void *ctx)
{
	struct dns_query *q = ctx;
	struct dns_resolver *r = q->resolver;
	struct dns_op *op = q->op;
	struct dns_result *res;

	res = dns_result_new_error(op->name, op->type, DNS_TIMEOUT,
				   "timed out after %llu ms",
				   (unsigned long long)r->timeout_ms);
	log_result(res);
	qlist_del(&op->queries, q);
	q->op = NULL;
	if (op->queries.head == NULL && !op->answered) {
		/* nobody waits any more: stop libunbound's work too */
		(void)ub_cancel(r->ub, op->async_id);
		op_list_del(&r->ops, op);
		op_free(op);
	}
	query_deliver(q, res);
	dns_result_free(&res);
}

static struct dns_query *
query_new(struct dns_resolver *r, dns_cb_t *cb, void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->resolver = r;
	q->cb = cb;
	q->ctx = ctx;
	return q;
}

static void
query_ready(struct dns_query *q, struct dns_result *res)
{
	struct dns_resolver *r = q->resolver;

	q->result = res;
	qlist_push(&r->ready, q);
	if (!ioev_timer_is_pending(r->ready_timer))
		ioev_timer_start(r->ready_timer, 0, false);
}

static struct dns_op *
op_find(struct dns_resolver *r, const char *name, enum dns_type type)
{
	/* a list: lookups in flight at once are few (distinct names the
	 * queue is routing right now) */
	for (struct dns_op *op = r->ops; op != NULL; op = op->next) {
		if (op->type == type && strcmp(op->name, name) == 0)
			return op;
	}
	return NULL;
}

static struct dns_op *
op_start(struct dns_resolver *r, const char *name, enum dns_type type,
	 struct dns_result **error_r)
{
	struct dns_op *op = xcalloc(1, sizeof(*op));
	int err;

	op->resolver = r;
	op->name = xstrdup(name);
	op->type = type;
	err = ub_resolve_async(r->ub, name, (int)type, 1 /* IN */, op,
			       ub_answered, &op->async_id);
	if (err != 0) {
		*error_r = dns_result_new_error(name, type, DNS_ERROR,
						"libunbound: %s",
						ub_strerror(err));
		log_result(*error_r);
		free(op->name);
		free(op);
		return NULL;
	}
	op_list_add(&r->ops, op);
	return op;
}

/* The normalized name to ask for, or a DNS_ERROR result. */
static struct dns_result *
prepare(const char *name, enum dns_type type, char out[DNS_NAME_MAX + 1])
{
	char ptr[DNS_PTR_NAME_MAX];
	const char *err;

	if (!dns_type_is_known((int)type))
		return dns_result_new_error(name, type, DNS_ERROR,
					    "unsupported type %d", (int)type);
	if (type == DNS_TYPE_PTR && dns_ptr_name_ip(name, ptr) == 0)
		name = ptr;
	if (dns_name_normalize(name, out, &err) < 0) {
		char lname[DNS_NAME_MAX * 2];

		return dns_result_new_error(log_str(lname, sizeof(lname), name),
					    type, DNS_ERROR, "%s", err);
	}
	return NULL;
}

struct dns_query *
dns_lookup(struct dns_resolver *r, const char *name, enum dns_type type,
	   dns_cb_t *cb, void *ctx)
{
	struct dns_query *q = query_new(r, cb, ctx);
	char norm[DNS_NAME_MAX + 1];
	struct dns_result *res;
	struct dns_op *op;

	if (r->loop == NULL)
		panic("dns_lookup on a resolver without a loop");
	res = prepare(name, type, norm);
	if (res == NULL)
		res = dns_cache_get(r->cache, norm, type);
	if (res != NULL) {
		query_ready(q, res);
		return q;
	}
	op = op_find(r, norm, type);
	if (op == NULL)
		op = op_start(r, norm, type, &res);
	if (op == NULL) {
		query_ready(q, res);
		return q;
	}
	q->op = op;
	qlist_push(&op->queries, q);
	q->timer = ioev_timer_new(r->loop, query_timeout, q);
	ioev_timer_start(q->timer, r->timeout_ms, false);
	return q;
}

struct dns_result *
dns_lookup_now(struct dns_resolver *r, const char *name, enum dns_type type)
{
	char norm[DNS_NAME_MAX + 1];
	struct dns_result *res;

	res = prepare(name, type, norm);
	if (res == NULL)
		res = dns_cache_get(r->cache, norm, type);
	return res;
}

void
dns_query_cancel(struct dns_query **query)
{
	struct dns_query *q = *query;
	struct dns_resolver *r;

	if (q == NULL)
		return;
	*query = NULL;
	if (q->in_callback) {
		/* its own callback: freed when that returns */
		q->cancelled = true;
		return;
	}
	r = q->resolver;
	if (q->op != NULL) {
		struct dns_op *op = q->op;

		qlist_del(&op->queries, q);
		if (op->queries.head == NULL && !op->answered) {
			(void)ub_cancel(r->ub, op->async_id);
			op_list_del(&r->ops, op);
			op_free(op);
		}
	} else {
		qlist_del(&r->ready, q);
	}
	query_free(q);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct dns_result *
dns_lookup_sync(struct dns_resolver *r, const char *name, enum dns_type type)
{
	char norm[DNS_NAME_MAX + 1];
	struct dns_result *res;
	struct dns_op *op;
	uint64_t deadline;

	if (r->loop != NULL)
		panic("dns_lookup_sync on a resolver with a loop");
	res = prepare(name, type, norm);
	if (res == NULL)
		res = dns_cache_get(r->cache, norm, type);
	if (res != NULL)
		return res;
	op = op_start(r, norm, type, &res);
	if (op == NULL)
		return res;
	deadline = now_ms() + r->timeout_ms;
	while (!op->answered) {
		struct pollfd pfd = { .fd = ub_fd(r->ub), .events = POLLIN };
		uint64_t now = now_ms();
		int ret;

		if (now >= deadline) {
			(void)ub_cancel(r->ub, op->async_id);
			op_list_del(&r->ops, op);
			op_free(op);
			res = dns_result_new_error(norm, type, DNS_TIMEOUT,
						   "timed out after %llu ms",
						   (unsigned long long)r->timeout_ms);
			log_result(res);
			return res;
		}
		ret = poll(&pfd, 1, (int)(deadline - now));
		if (ret < 0 && errno != EINTR)
			panic("dns: poll: %s", strerror(errno));
		if (ret > 0)
			(void)ub_process(r->ub);
	}
	op_list_del(&r->done, op);
	res = op->result;
	op->result = NULL;
	op_free(op);
	return res;
}
