/* SPDX-License-Identifier: MIT */
/*
 * Internals of the queue runner shared by its files: the runner, its
 * destinations (one per route key, with their resolved addresses and
 * connections), messages in hand and transactions (one message's
 * recipients to one destination). Everything runs on the runner's loop
 * thread except the store and DSN work, which goes to its pool.
 */
#ifndef HERALD_QUEUE_QUEUE_PRIVATE_H
#define HERALD_QUEUE_QUEUE_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "queue/queue.h"
#include "store/store.h"

struct dns_resolver;
struct dns_query;
struct smtp_client;
struct smtp_client_send_result;
struct tls_client;

/* One address to connect to. */
struct queue_target {
	char host[QUEUE_HOST_MAX];	/* MX or route host; "" for unix */
	struct sockaddr_storage ss;
	socklen_t len;
	char ip[48];			/* "192.0.2.1", "unix" */
	unsigned pref;			/* its MX preference; 0 without MX */
};

/* What resolving a destination gave. */
struct queue_resolved {
	enum { QUEUE_RESOLVED_OK, QUEUE_RESOLVED_TEMP,
	       QUEUE_RESOLVED_PERM } status;
	char dsn[16];			/* "5.1.2" for failures */
	char reason[512];		/* for failures */
	struct queue_target *targets;	/* OK: in the order to try */
	size_t n_targets;
};

struct queue_runner;
struct queue_dest;
struct queue_resolve;

typedef void queue_resolved_cb_t(struct queue_dest *d,
				 struct queue_resolved *res);

/* Resolves d's route (MX, A/AAAA, unix path) and calls cb once, later,
 * on the loop thread; res is cb's to keep (targets freed with free()).
 * Returns a handle for queue_resolve_cancel(), or NULL when cb already
 * ran (a route with nothing to look up). */
struct queue_resolve *queue_resolve_start(struct queue_runner *rn,
					  struct queue_dest *d,
					  queue_resolved_cb_t *cb);
void queue_resolve_cancel(struct queue_resolve **r);

/* Puts IPv4 targets before IPv6 ones (stable): after a remote refused
 * us over IPv6 for want of a PTR. */
void queue_targets_prefer_ipv4(struct queue_target *t, size_t n);

/* Whether a connection that routing have opened to have_t (and that is
 * still usable) can carry mail for route want, whose addresses are
 * want_t (n, in the order to try), as a new connection of want would:
 * the address and port are one that want would try first (its most
 * preferred MX, in the family it tries first), under the same MX host
 * name (SNI, the certificate's name, relay= in the log), the same kind
 * of route (MX, [transport] host; never the relayhost's session, which
 * carries AUTH, for anything else), the same TLS policy, and neither is
 * LMTP. HELO name, source address and credentials are the runner's, the
 * same for all. Pure (queue-route.c). */
bool queue_conn_can_serve(const struct queue_route *have,
			  const struct queue_target *have_t,
			  const struct queue_route *want,
			  const struct queue_target *want_t, size_t n);

/* One connection of a destination: tries its targets in turn until one
 * answers, then carries transactions until it breaks or idles out. */
struct queue_conn {
	struct queue_conn *next;
	/* the runner's idle connections (ready, no transaction), oldest
	 * first: for evict_idle and for other destinations to borrow */
	struct queue_conn *idle_next, *idle_prev;
	bool in_idle;
	struct queue_dest *d;		/* the one it serves now */
	struct smtp_client *cl;
	size_t ti;			/* target tried or connected */
	struct queue_target cur;	/* a copy: targets may be replaced */
	struct queue_tx *tx;		/* running, or waiting for ready */
	bool ready;
	bool no_tls;			/* MAY: again without, after a failed
					 * handshake */
	bool all_perm;			/* every target refused for good */
	unsigned n_tx;			/* transactions started on it */
	struct ioev_timer *idle;
	uint64_t idle_ms;		/* when it last came free */
	uint64_t t_start_ms;
	char *last_error;
	char last_dsn[16];
};

struct queue_dest {
	struct queue_dest *next;
	struct queue_runner *rn;
	char key[QUEUE_HOST_MAX + QUEUE_PATH_MAX + 32];
	struct queue_route route;
	struct queue_tx *head, *tail;	/* waiting for a connection */
	size_t n_waiting;
	struct queue_conn *conns;
	unsigned n_conns, n_connecting;
	enum { DEST_UNRESOLVED, DEST_RESOLVING, DEST_READY } state;
	struct queue_resolve *resolving;
	struct queue_target *targets;
	size_t n_targets;
	uint64_t resolved_ms;
	bool prefer_ipv4;
	uint64_t last_start_ms;		/* destination_rate */
	struct ioev_timer *rate_timer;
};

struct queue_msg {
	struct queue_msg *next, *prev;
	struct queue_runner *rn;
	struct store_queue_entry *e;
	int fd;				/* the blob, for the client */
	/* or (fd -1) its body in memory, read with the entry: sending it
	 * from there takes no pool job per message (batch_memory) */
	uint8_t *data;
	size_t len;
	unsigned refs;
	/* two transactions of one message recording at once on the pool
	 * must not both report a recipient the other made owed */
	pthread_mutex_t report_lock;
	char name[LOG_ID_LEN + 24];	/* msg_id or the row id */
};

/* One recipient's outcome as the runner decides it. */
struct queue_outcome {
	size_t idx;			/* in msg->e->rcpts */
	struct store_queue_result res;
	char *text;			/* last_error */
	char *relay, *tls, *dsn;
	char *log_reply;		/* what the log line ends with */
	bool retry_now;			/* IPv6/PTR: again over IPv4 */
};

struct queue_tx {
	struct queue_tx *next;
	struct queue_tx *rec_next;	/* waiting to be recorded */
	struct queue_msg *m;
	struct queue_dest *d;
	struct queue_conn *c;
	size_t *idx;			/* recipients of m->e */
	size_t n;
	bool requeued;			/* once, after a dead reused conn */
	struct queue_outcome *out;	/* n, once decided */
	uint64_t t_queued_ms, t_conn_ms, t_send_ms, t_done_ms;
};

struct queue_runner {
	struct worker *w;
	struct ioev_loop *loop;
	struct store *store;
	const struct config *cfg;
	const struct config_queue *q;
	struct dns_resolver *dns;
	const char *dns_error;
	struct tls_client *tls;
	char *tls_error;
	char *auth_user, *auth_pass;
	char *auth_error;
	struct store_watch *watch;
	struct ioev_watch *watch_io;
	struct ioev_timer *due_timer;
	struct ioev_timer *pump_timer;	/* a connection slot came free */
	struct ioev_timer *lock_timer;
	struct ioev_timer *gap_timer;	/* the next look at new mail */
	uint64_t watch_scan_ms;		/* the last look at new mail */
	int lock_fd;
	bool started, stopping;
	bool scanning, scan_again;
	bool scan_on_done;		/* look when a message is put away */
	int64_t next_due;		/* armed in due_timer; 0: none */
	uint64_t counter;
	struct queue_msg *msgs;
	size_t n_msgs;
	struct queue_dest *dests;
	unsigned n_conns;
	struct queue_conn *idle_head, *idle_tail;
	unsigned pool_jobs;
	/* outcomes waiting for the next record operation: while one is
	 * being committed the next ones gather, and go in one commit */
	struct queue_tx *rec_head, *rec_tail;
	bool recording;
	uint64_t body_bytes;		/* of the msgs' data, batch_memory */
	struct ioev_timer *dmarc_timer;	/* the next DMARC report run */
	time_t dmarc_due;	/* when it is due (UTC seconds) */
};

uint64_t queue_now_ms(void);
/* Stops the loop and frees rn once it is stopping and no pool job is
 * left (queue-runner.c). */
void queue_runner_maybe_stopped(struct queue_runner *rn);

/* queue-dmarc.c: arms the timer of the next DMARC report run
 * ([mailauth] dmarc_reports on), which runs on the pool and re-arms. */
void queue_dmarc_arm(struct queue_runner *rn);

/* queue-report.c: results, log lines, DSNs */

/* Decides every recipient of tx from the client's result (res NULL:
 * the whole transaction failed with code/dsn/reason before it began). */
void queue_outcomes_from_send(struct queue_tx *tx,
			      const struct smtp_client_send_result *res);
void queue_outcomes_fail(struct queue_tx *tx, bool permanent,
			 const char *dsn, const char *reason);
/* One Postfix-shaped line per recipient of tx. */
void queue_log_outcomes(const struct queue_tx *tx);
void queue_outcomes_free(struct queue_tx *tx);
/* Blocking (pool): the DSNs owed for m's recipients (as the store has
 * them), then store_queue_notified. delay: also the delay warning for
 * the deferred ones. */
void queue_report_owed(struct queue_runner *rn, struct queue_msg *m,
		       bool delay);

#endif
