/* SPDX-License-Identifier: MIT */
/*
 * struct worker: what a worker process gives the protocols it runs (its
 * configuration generation, event loop, TLS context, thread pool, store).
 * It lives here, below the protocols, because daemon/ (which fills it in)
 * is above them: smtp/, pop3/ and imap/ include this, never daemon/.
 */
#ifndef HERALD_CONF_WORKER_H
#define HERALD_CONF_WORKER_H

#include <stdbool.h>

struct config;
struct dmarc_psl;
struct dns_resolver;
struct ioev_loop;
struct threadpool;
struct tls_server;

/* Why the connection layer refuses a client before any session starts:
 * the address has max_connections_per_ip open already, or the worker
 * max_connections. */
enum worker_refusal {
	WORKER_REFUSE_PER_IP,
	WORKER_REFUSE_TOTAL,
};

/* One per worker, valid for the worker's whole life; everything runs on
 * loop's thread. */
struct worker {
	struct ioev_loop *loop;
	const struct config *cfg;	/* this generation's configuration */
	struct tls_server *tls;		/* server context for STARTTLS */
	struct threadpool *pool;	/* == ioev_loop_pool(loop) */
	void *store;			/* set by the worker init hook */
	void *hook_ctx;			/* free for the init hook's use */
	/* For mail authentication (SPF, DKIM key lookups) on loop, made
	 * by the init hook from cfg's [dns] and freed by its deinit; NULL
	 * when there is none (the checks then give temperror). */
	struct dns_resolver *dns;
	const char *dns_error;		/* why dns is NULL (static text) */
	/* The Public Suffix List for DMARC ([mailauth] psl_file), loaded
	 * by the init hook when dmarc is not off; NULL otherwise. */
	struct dmarc_psl *psl;
	unsigned generation;		/* bumped by every successful reload */
	unsigned index;			/* 0 .. workers-1 */
	bool draining;			/* no longer accepting; exit when idle */
};

#endif
