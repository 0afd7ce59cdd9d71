/* SPDX-License-Identifier: MIT */
/*
 * The queue runner process (docs/outbound.md): takes due messages from
 * the store (woken by the queue counter when mail is queued or flushed,
 * and by a timer for the next retry), groups each message's due
 * recipients by destination, and runs one transaction per message and
 * destination on connections it keeps per destination (reused while
 * busy, within per-destination and global limits; an idle one may pass
 * to another destination that would connect to the same address in the
 * same way, queue_conn_can_serve). Each transaction's outcome is made
 * durable before its connection carries the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/threadpool.h"
#include "queue/queue-private.h"
#include "smtp/smtp-client.h"
#include "tls/tls.h"

/* A resolved destination is looked up again after this, when it has no
 * connection open. */
#define RESOLVE_TTL_MS 60000
/* A transaction under way this long is expected to end before a new
 * connection to its destination could be ready (dest_pump). */
#define SENDING_SOON_MS 100
/* An idle connection younger than this is not closed for a destination
 * that has connections of its own (evict_idle). */
#define EVICT_BUSY_MIN_IDLE_MS 200
/* The runner lock is tried this often while another runner (of the
 * previous generation, after a reload) still holds it. */
#define LOCK_RETRY_MS 200

uint64_t
queue_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void scan(struct queue_runner *rn);
static void scan_paced(struct queue_runner *rn);
static void dest_pump(struct queue_dest *d);
static void conn_try(struct queue_conn *c);
static void conn_close(struct queue_conn *c);
static void tx_finish(struct queue_tx *tx);
static bool dest_rate_ok(struct queue_dest *d);
static void conn_idle_add(struct queue_conn *c);
static void conn_idle_del(struct queue_conn *c);

/* Everything the runner holds, once it is stopped and no pool job can
 * call back: libunbound's thread and descriptors above all (the worker
 * leaves with _exit, so nothing else would free them). */
static void
runner_free(struct queue_runner *rn)
{
	while (rn->dests != NULL) {
		struct queue_dest *d = rn->dests;

		rn->dests = d->next;
		queue_resolve_cancel(&d->resolving);
		ioev_timer_free(&d->rate_timer);
		free(d->targets);
		free(d);
	}
	while (rn->msgs != NULL) {
		struct queue_msg *m = rn->msgs;

		rn->msgs = m->next;
		if (m->fd >= 0)
			close(m->fd);
		free(m->data);
		store_queue_entries_free(&m->e, 1);
		pthread_mutex_destroy(&m->report_lock);
		free(m);
	}
	/* rn->dns is the worker's: serve_worker_deinit frees it after the
	 * loop ends (our queries were cancelled above) */
	rn->dns = NULL;
	tls_client_free(&rn->tls);
	ioev_timer_free(&rn->due_timer);
	ioev_timer_free(&rn->pump_timer);
	ioev_timer_free(&rn->lock_timer);
	ioev_timer_free(&rn->gap_timer);
	ioev_timer_free(&rn->dmarc_timer);
	if (rn->auth_pass != NULL)
		mem_wipe(rn->auth_pass, strlen(rn->auth_pass));
	free(rn->auth_user);
	free(rn->auth_pass);
	free(rn->auth_error);
	free(rn->tls_error);
	if (rn->lock_fd >= 0)
		close(rn->lock_fd);
	rn->w->hook_ctx = NULL;
	free(rn);
}

void
queue_runner_maybe_stopped(struct queue_runner *rn)
{
	if (rn->stopping && rn->pool_jobs == 0) {
		ioev_loop_stop(rn->loop);
		runner_free(rn);
	}
}

static void
maybe_stopped(struct queue_runner *rn)
{
	queue_runner_maybe_stopped(rn);
}

/* ---- the schedule timer ---- */

static void
due_cb(void *ctx)
{
	struct queue_runner *rn = ctx;

	rn->next_due = 0;
	scan(rn);
}

static void
arm_due(struct queue_runner *rn, int64_t when)
{
	int64_t now = (int64_t)time(NULL);

	if (when <= 0 || rn->stopping)
		return;
	if (rn->next_due != 0 && rn->next_due <= when)
		return;
	rn->next_due = when;
	/* whole seconds in the store: wake just after the second turns */
	ioev_timer_start(rn->due_timer, when > now ?
			 (uint64_t)(when - now) * 1000 + 20 : 0, false);
}

/* ---- messages ---- */

static void
msg_unref(struct queue_msg *m)
{
	struct queue_runner *rn = m->rn;

	if (--m->refs > 0)
		return;
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		rn->msgs = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	rn->n_msgs--;
	if (m->fd >= 0)
		close(m->fd);
	rn->body_bytes -= m->len;
	free(m->data);
	store_queue_entries_free(&m->e, 1);
	pthread_mutex_destroy(&m->report_lock);
	free(m);
	/* a full hand is topped up when half of it is done: one look at
	 * the store per many messages, not per message; a look for one
	 * that may be due again (scan_on_done, set by nearly every scan
	 * while mail flows, since the messages in hand are due) keeps to
	 * the pace of the looks for new mail */
	if (!rn->stopping && rn->n_msgs <= rn->q->batch / 2) {
		if (rn->scan_again)
			scan(rn);
		else if (rn->scan_on_done)
			scan_paced(rn);
	}
}

static struct queue_dest *
dest_get(struct queue_runner *rn, const struct queue_route *route)
{
	struct queue_dest *d;
	char key[sizeof(d->key)];

	queue_route_key(route, key, sizeof(key));
	for (d = rn->dests; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->rn = rn;
	snprintf(d->key, sizeof(d->key), "%s", key);
	d->route = *route;
	d->next = rn->dests;
	rn->dests = d;
	return d;
}

/* Groups the message's due recipients by destination: one transaction
 * each. */
static void
msg_dispatch(struct queue_msg *m)
{
	struct queue_runner *rn = m->rn;
	struct store_queue_entry *e = m->e;
	int64_t now = (int64_t)time(NULL);
	struct queue_group *g;
	size_t n = queue_group_due(rn->cfg, e, now, &g);
	struct queue_tx **txs = xcalloc(n > 0 ? n : 1, sizeof(*txs));

	for (size_t k = 0; k < n; k++) {
		struct queue_tx *tx = xcalloc(1, sizeof(*tx));
		struct queue_dest *d = dest_get(rn, &g[k].route);

		tx->m = m;
		tx->d = d;
		tx->idx = g[k].idx;
		tx->n = g[k].n;
		g[k].idx = NULL;
		tx->t_queued_ms = queue_now_ms();
		m->refs++;
		if (d->tail != NULL)
			d->tail->next = tx;
		else
			d->head = tx;
		d->tail = tx;
		d->n_waiting++;
		txs[k] = tx;
	}
	queue_groups_free(&g, n);
	for (size_t k = 0; k < n; k++)
		dest_pump(txs[k]->d);
	/* not due yet (another recipient's retry): the timer brings it */
	for (size_t i = 0; i < e->n_rcpts; i++)
		if (queue_rcpt_is_open(&e->rcpts[i]) &&
		    e->rcpts[i].next_attempt > now)
			arm_due(rn, e->rcpts[i].next_attempt);
	free(txs);
	msg_unref(m);
}

struct prep_job {
	struct queue_msg *m;
	bool delay;
	struct store_queue_entry *fresh;	/* NULL: the entry is gone */
};

/* Pool: the DSNs the store says are owed (a bounce recorded before a
 * crash, `herald queue bounce`, a delay warning), then the entry again
 * (swapped in on the loop thread, which reads m->e meanwhile). */
static void
prep_work(void *ctx)
{
	struct prep_job *j = ctx;
	struct queue_msg *m = j->m;
	const char *error = NULL;

	queue_report_owed(m->rn, m, j->delay);
	if (store_queue_get(m->rn->store, m->e->id, &j->fresh, &error) !=
	    STORE_OK)
		j->fresh = NULL;
}

static void
prep_done(void *ctx)
{
	struct prep_job *j = ctx;
	struct queue_msg *m = j->m;
	struct queue_runner *rn = m->rn;

	rn->pool_jobs--;
	if (j->fresh != NULL) {
		store_queue_entries_free(&m->e, 1);
		m->e = j->fresh;
	} else {
		/* finished (or deleted): nothing left to send */
		for (size_t i = 0; i < m->e->n_rcpts; i++) {
			free(m->e->rcpts[i].status);
			m->e->rcpts[i].status = xstrdup(STORE_QUEUE_SENT);
		}
	}
	free(j);
	if (rn->stopping) {
		msg_unref(m);
		maybe_stopped(rn);
		return;
	}
	msg_dispatch(m);
}

static void
msg_start(struct queue_msg *m)
{
	struct queue_runner *rn = m->rn;
	struct store_queue_entry *e = m->e;
	int64_t now = (int64_t)time(NULL);
	bool owed = false, deferred = false, delay;

	for (size_t i = 0; i < e->n_rcpts; i++) {
		owed |= e->rcpts[i].notify != STORE_QUEUE_NOTIFY_NONE;
		deferred |= strcmp(e->rcpts[i].status,
				   STORE_QUEUE_DEFERRED) == 0;
	}
	delay = !e->warned && deferred &&
		queue_delay_warning_due(rn->q, e->created, now);
	if (owed || delay) {
		struct prep_job *j = xcalloc(1, sizeof(*j));

		j->m = m;
		j->delay = delay;
		rn->pool_jobs++;
		ioev_run_blocking(rn->loop, prep_work, prep_done, j);
		return;
	}
	msg_dispatch(m);
}

/* ---- scanning the store ---- */

struct scan_job {
	struct queue_runner *rn;
	int64_t *skip;			/* ids in hand already */
	size_t n_skip;
	size_t max;
	struct store_queue_entry **entries;
	int *fds;
	uint8_t **datas;		/* when fds[i] is -1 */
	size_t *lens;
	uint64_t mem_left;		/* batch_memory not yet used */
	size_t n;
	int64_t next;
	bool full;
	bool skipped;			/* due ones were in hand */
};

static int
id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
scan_work(void *ctx)
{
	struct scan_job *j = ctx;
	struct queue_runner *rn = j->rn;
	const char *error = NULL;
	struct store_queue_entry **got = NULL;
	struct store_blob_reader *br = NULL;
	int64_t *ids = NULL;
	size_t n = 0, n_want = 0;

	if (store_queue_due(rn->store, (int64_t)time(NULL), j->max + j->n_skip,
			    &ids, &n, &j->next, &error) != STORE_OK) {
		log_warn(NULL, "queue", "scan-failed", "error=\"%s\"",
			 error != NULL ? error : "?");
		j->next = (int64_t)time(NULL) + 5;
		return;
	}
	j->full = n == j->max + j->n_skip;
	j->entries = xcalloc(n > 0 ? n : 1, sizeof(*j->entries));
	j->fds = xcalloc(n > 0 ? n : 1, sizeof(*j->fds));
	j->datas = xcalloc(n > 0 ? n : 1, sizeof(*j->datas));
	j->lens = xcalloc(n > 0 ? n : 1, sizeof(*j->lens));
	/* the ones not in hand, read in one transaction */
	for (size_t i = 0; i < n && n_want < j->max; i++) {
		bool skip = bsearch(&ids[i], j->skip, j->n_skip,
				    sizeof(*j->skip), id_cmp) != NULL;

		j->skipped |= skip;
		if (!skip)
			ids[n_want++] = ids[i];
	}
	if (n_want > 0 && store_queue_get_many(rn->store, ids, n_want, &got,
					       &error) != STORE_OK) {
		log_warn(NULL, "queue", "scan-failed", "error=\"%s\"",
			 error != NULL ? error : "?");
		n_want = 0;
	}
	if (n_want > 0)
		br = store_blob_reader_new(rn->store);
	for (size_t i = 0; i < n_want; i++) {
		struct store_queue_entry *e = got[i];
		const uint8_t *data = NULL;
		size_t len = 0;
		enum store_result r;
		int fd = -1;

		if (e == NULL)
			continue;
		/* a body in the database is copied out of the reader (its
		 * buffer lives until the next get) while the budget lasts,
		 * else into a memfd as before */
		if (e->size <= j->mem_left && e->size <= STORE_BLOB_INLINE_MAX)
			r = store_blob_reader_get(br, e->blob_id, e->size,
						  &data, &len, &fd, &error);
		else
			r = store_blob_reader_open(br, e->blob_id, e->size,
						   &fd, &error);
		if (r == STORE_OK && fd < 0 && len > j->mem_left) {
			r = store_blob_reader_open(br, e->blob_id, e->size,
						   &fd, &error);
			data = NULL;
		}
		if (r != STORE_OK) {
			log_warn(e->msg_id, "queue", "blob-failed",
				 "queue_id=%lld blob=%s error=\"%s\"",
				 (long long)e->id, e->blob_id,
				 error != NULL ? error : "?");
			store_queue_entries_free(&e, 1);
			continue;
		}
		if (fd < 0) {
			j->datas[j->n] = xmalloc(len > 0 ? len : 1);
			memcpy(j->datas[j->n], data, len);
			j->lens[j->n] = len;
			j->mem_left -= len;
		}
		j->entries[j->n] = e;
		j->fds[j->n++] = fd;
	}
	if (br != NULL)
		store_blob_reader_free(&br);
	free(got);
	free(ids);
}

static void
scan_done(void *ctx)
{
	struct scan_job *j = ctx;
	struct queue_runner *rn = j->rn;

	rn->pool_jobs--;
	rn->scanning = false;
	for (size_t i = 0; i < j->n; i++) {
		struct queue_msg *m;

		if (rn->stopping) {
			if (j->fds[i] >= 0)
				close(j->fds[i]);
			free(j->datas[i]);
			store_queue_entries_free(&j->entries[i], 1);
			continue;
		}
		m = xcalloc(1, sizeof(*m));
		m->rn = rn;
		m->e = j->entries[i];
		m->fd = j->fds[i];
		m->data = j->datas[i];
		m->len = j->lens[i];
		rn->body_bytes += m->len;
		m->refs = 1;
		pthread_mutex_init(&m->report_lock, NULL);
		if (m->e->msg_id != NULL)
			snprintf(m->name, sizeof(m->name), "%s", m->e->msg_id);
		else
			snprintf(m->name, sizeof(m->name), "Q%lld",
				 (long long)m->e->id);
		m->next = rn->msgs;
		if (rn->msgs != NULL)
			rn->msgs->prev = m;
		rn->msgs = m;
		rn->n_msgs++;
		msg_start(m);
	}
	if (!rn->stopping) {
		/* more are due than were taken: again when some are done;
		 * all due ones unreadable: not in a tight loop */
		if (j->full && j->n == 0)
			arm_due(rn, (int64_t)time(NULL) + 5);
		else
			arm_due(rn, j->next);
		/* without the queue counter's watch, new mail is found by
		 * looking every second */
		if (rn->watch == NULL)
			arm_due(rn, (int64_t)time(NULL) + 1);
		if (j->full && j->n > 0)
			rn->scan_again = true;
		if (rn->scan_again)
			scan(rn);
		/* a message in hand may be due again (flushed, or its
		 * IPv4 retry) by the time it is put away: look then */
		if (j->skipped)
			rn->scan_on_done = true;
	}
	free(j->skip);
	free(j->entries);
	free(j->fds);
	free(j->datas);
	free(j->lens);
	free(j);
	maybe_stopped(rn);
}

static void
scan(struct queue_runner *rn)
{
	struct scan_job *j;
	size_t k = 0;

	if (rn->stopping || !rn->started)
		return;
	if (rn->scanning || rn->n_msgs >= rn->q->batch) {
		rn->scan_again = true;
		return;
	}
	rn->scan_again = false;
	rn->scan_on_done = false;
	rn->scanning = true;
	rn->watch_scan_ms = queue_now_ms();
	j = xcalloc(1, sizeof(*j));
	j->rn = rn;
	j->max = rn->q->batch - rn->n_msgs;
	j->mem_left = rn->body_bytes < rn->q->batch_memory ?
		rn->q->batch_memory - rn->body_bytes : 0;
	j->skip = xcalloc(rn->n_msgs > 0 ? rn->n_msgs : 1, sizeof(*j->skip));
	for (struct queue_msg *m = rn->msgs; m != NULL; m = m->next)
		j->skip[k++] = m->e->id;
	j->n_skip = k;
	qsort(j->skip, k, sizeof(*j->skip), id_cmp);
	rn->pool_jobs++;
	ioev_run_blocking(rn->loop, scan_work, scan_done, j);
}

/* New mail is looked for at most this often while it flows in: every
 * accepted message moves the queue counter, and a scan per message cost
 * a pool job and three read transactions for one message (a look every
 * 5 ms takes ten at 2,000 msg/s, and delays none by more than 5 ms). */
#define WATCH_SCAN_GAP_MS 5

static void
gap_cb(void *ctx)
{
	struct queue_runner *rn = ctx;

	scan(rn);
}

/* A scan now, or when WATCH_SCAN_GAP_MS have passed since the last one
 * began (watch_scan_ms, set by scan()). */
static void
scan_paced(struct queue_runner *rn)
{
	uint64_t now;

	if (ioev_timer_is_pending(rn->gap_timer))
		return;
	now = queue_now_ms();
	if (now - rn->watch_scan_ms < WATCH_SCAN_GAP_MS) {
		ioev_timer_start(rn->gap_timer, WATCH_SCAN_GAP_MS -
				 (now - rn->watch_scan_ms), false);
		return;
	}
	scan(rn);
}

static void
watch_cb(int fd, void *ctx)
{
	struct queue_runner *rn = ctx;
	uint64_t c;

	(void)fd;
	store_watch_ack(rn->watch);
	c = store_queue_counter(rn->store);
	if (c == rn->counter)
		return;
	rn->counter = c;
	scan_paced(rn);
}

/* ---- transactions ---- */

/* Outcomes are put away in batches: the ones that arrive while a record
 * operation is being committed all go in the next one, a single store
 * operation and commit (store_queue_record_async) submitted from this
 * thread, with no pool thread in between. A transaction's connection
 * still carries the next message only once its outcome is durable. */
struct record_batch {
	struct queue_runner *rn;
	struct threadpool_job *job;
	struct queue_tx **txs;
	struct store_queue_record *recs;
	struct store_queue_result *res;
	size_t n;
	enum store_result result;	/* of the operation as a whole */
	char error[256];
};

static void record_flush(struct queue_runner *rn);

/* The outcome of tx is durable (or lost): its connection goes on. */
static void
tx_recorded(struct queue_tx *tx)
{
	struct queue_runner *rn = tx->m->rn;
	struct queue_conn *c = tx->c;
	struct queue_dest *d = tx->d;
	bool reusable = c != NULL && c->cl != NULL && c->ready &&
		smtp_client_is_reusable(c->cl);

	for (size_t i = 0; i < tx->n; i++) {
		if (tx->out[i].retry_now) {
			/* the same MX over IPv4: this IPv6 session is done */
			reusable = false;
			if (!d->prefer_ipv4) {
				d->prefer_ipv4 = true;
				queue_targets_prefer_ipv4(d->targets,
							  d->n_targets);
			}
		}
		if (strcmp(tx->out[i].res.status, STORE_QUEUE_DEFERRED) == 0)
			arm_due(rn, tx->out[i].res.next_attempt);
	}
	if (c != NULL)
		c->tx = NULL;
	tx_finish(tx);
	if (rn->stopping)
		return;
	if (c != NULL) {
		if (reusable) {
			dest_pump(d);
			/* with mail waiting (over destination_rate) it stays
			 * for the rate timer */
			if (c->tx == NULL && c->cl != NULL && d->head == NULL) {
				if (rn->q->connection_cache_ms == 0) {
					conn_close(c);
				} else {
					ioev_timer_start(c->idle,
						rn->q->connection_cache_ms,
						false);
					conn_idle_add(c);
				}
			} else if (c->tx == NULL && c->cl != NULL) {
				conn_idle_add(c);
			}
		} else {
			conn_close(c);
		}
	}
	dest_pump(d);
}

/* Pool: the DSNs a just recorded outcome made owed (a bounce, a
 * success report asked for). */
static void
owed_work(void *ctx)
{
	struct queue_tx *tx = ctx;

	queue_report_owed(tx->m->rn, tx->m, false);
}

static void
owed_done(void *ctx)
{
	struct queue_tx *tx = ctx;
	struct queue_runner *rn = tx->m->rn;

	rn->pool_jobs--;
	tx_recorded(tx);
	maybe_stopped(rn);
}

/* Writer thread: the batch is durable, or failed as a whole. */
static void
record_stored(void *ctx, enum store_result result, const char *error)
{
	struct record_batch *b = ctx;

	b->result = result;
	if (result != STORE_OK)
		snprintf(b->error, sizeof(b->error), "%s",
			 error != NULL ? error : "?");
	threadpool_external_done(b->rn->w->pool, b->job);
}

static void
record_done(void *ctx)
{
	struct record_batch *b = ctx;
	struct queue_runner *rn = b->rn;

	rn->pool_jobs--;
	rn->recording = false;
	for (size_t k = 0; k < b->n; k++) {
		struct queue_tx *tx = b->txs[k];
		enum store_result r = b->result == STORE_OK ?
			b->recs[k].result : b->result;
		bool owed = false;

		for (size_t i = 0; i < tx->n; i++)
			owed |= tx->out[i].res.notify !=
				STORE_QUEUE_NOTIFY_NONE;
		if (r != STORE_OK && r != STORE_E_NOT_FOUND)
			/* the outcome is lost: the recipients stay as they
			 * were and are tried again (a remote that took it
			 * may see it twice, as RFC 5321 6.3 allows) */
			log_warn(tx->m->name, "queue", "record-failed",
				 "error=\"%s\"", b->result != STORE_OK ?
				 b->error : "entry not recorded");
		if (r == STORE_OK && owed) {
			rn->pool_jobs++;
			ioev_run_blocking(rn->loop, owed_work, owed_done, tx);
			continue;
		}
		tx_recorded(tx);
	}
	free(b->txs);
	free(b->recs);
	free(b->res);
	free(b);
	/* what gathered meanwhile, also while stopping: outcomes known
	 * are worth keeping */
	if (rn->rec_head != NULL)
		record_flush(rn);
	maybe_stopped(rn);
}

static void
record_flush(struct queue_runner *rn)
{
	struct record_batch *b = xcalloc(1, sizeof(*b));
	size_t n = 0, n_res = 0, r = 0;
	const char *error = NULL;
	enum store_result sr;
	struct queue_tx *tx;

	for (tx = rn->rec_head; tx != NULL; tx = tx->rec_next) {
		n++;
		n_res += tx->n;
	}
	b->rn = rn;
	b->n = n;
	b->txs = xcalloc(n, sizeof(*b->txs));
	b->recs = xcalloc(n, sizeof(*b->recs));
	b->res = xcalloc(n_res > 0 ? n_res : 1, sizeof(*b->res));
	n = 0;
	for (tx = rn->rec_head; tx != NULL; tx = tx->rec_next) {
		b->txs[n] = tx;
		b->recs[n].id = tx->m->e->id;
		b->recs[n].results = &b->res[r];
		b->recs[n].count = tx->n;
		for (size_t i = 0; i < tx->n; i++)
			b->res[r++] = tx->out[i].res;
		n++;
	}
	rn->rec_head = rn->rec_tail = NULL;
	rn->recording = true;
	rn->pool_jobs++;
	b->job = threadpool_external_begin(rn->w->pool, record_done, b);
	/* not into b->result: the writer may have set it already */
	sr = store_queue_record_async(rn->store, b->recs, b->n, record_stored,
				      b, &error);
	if (sr != STORE_OK) {
		b->result = sr;
		snprintf(b->error, sizeof(b->error), "%s",
			 error != NULL ? error : "?");
		threadpool_external_done(rn->w->pool, b->job);
	}
}

static void
tx_finish(struct queue_tx *tx)
{
	struct queue_msg *m = tx->m;

	queue_outcomes_free(tx);
	free(tx->idx);
	free(tx);
	msg_unref(m);
}

static void
tx_record(struct queue_tx *tx)
{
	struct queue_runner *rn = tx->m->rn;

	tx->t_done_ms = queue_now_ms();
	queue_log_outcomes(tx);
	tx->rec_next = NULL;
	if (rn->rec_tail != NULL)
		rn->rec_tail->rec_next = tx;
	else
		rn->rec_head = tx;
	rn->rec_tail = tx;
	if (!rn->recording)
		record_flush(rn);
}

static void
tx_fail(struct queue_tx *tx, bool permanent, const char *dsn,
	const char *reason)
{
	queue_outcomes_fail(tx, permanent, dsn, reason);
	tx_record(tx);
}

static unsigned
notify_bits(const char *notify)
{
	unsigned v = 0;

	if (notify == NULL)
		return 0;
	if (strcasestr(notify, "NEVER") != NULL)
		return SMTP_NOTIFY_NEVER;
	if (strcasestr(notify, "SUCCESS") != NULL)
		v |= SMTP_NOTIFY_SUCCESS;
	if (strcasestr(notify, "FAILURE") != NULL)
		v |= SMTP_NOTIFY_FAILURE;
	if (strcasestr(notify, "DELAY") != NULL)
		v |= SMTP_NOTIFY_DELAY;
	return v;
}

/* A reused connection the remote had closed (an idle timeout whose
 * close we had not read yet) lost the transaction before any reply to
 * MAIL: nothing of it can have been taken. It goes again, once, at the
 * head of its destination's queue, on another or a new connection,
 * rather than being deferred for retry_min (a fresh connection that
 * breaks the same way is a real failure and is recorded). */
static bool
tx_requeue_lost(struct queue_tx *tx,
		const struct smtp_client_send_result *res)
{
	struct queue_conn *c = tx->c;
	struct queue_dest *d = tx->d;
	char why[300];

	if (c == NULL || c->n_tx < 2 || tx->requeued ||
	    res->error != SMTP_CLIENT_SEND_LOST ||
	    (res->mail_reply != NULL && res->mail_reply->code != 0) ||
	    d->rn->stopping)
		return false;
	log_info(tx->m->name, "queue", "reused-conn-lost", "dest=%s "
		 "relay=%s[%s] reason=%s", d->key, c->cur.host, c->cur.ip,
		 log_str(why, sizeof(why), res->message != NULL ?
			 res->message : ""));
	tx->requeued = true;
	c->tx = NULL;
	tx->c = NULL;
	conn_close(c);
	tx->next = d->head;
	d->head = tx;
	if (d->tail == NULL)
		d->tail = tx;
	d->n_waiting++;
	dest_pump(d);
	return true;
}

static void
tx_sent(struct smtp_client *cl, const struct smtp_client_send_result *res,
	void *ctx)
{
	struct queue_tx *tx = ctx;

	(void)cl;
	if (tx_requeue_lost(tx, res))
		return;
	queue_outcomes_from_send(tx, res);
	tx_record(tx);
}

static void
tx_send(struct queue_conn *c, struct queue_tx *tx)
{
	const struct store_queue_entry *e = tx->m->e;
	struct smtp_client_rcpt *rcpts = xcalloc(tx->n, sizeof(*rcpts));
	char **orcpt = xcalloc(tx->n, sizeof(*orcpt));
	struct smtp_client_envelope env = {
		.mail_from = e->env_from,
		.ret = e->dsn_ret == NULL ? SMTP_RET_UNSPECIFIED :
		       strcasecmp(e->dsn_ret, "FULL") == 0 ? SMTP_RET_FULL :
		       SMTP_RET_HDRS,
		.envid = e->dsn_envid,
		.smtputf8 = e->need_smtputf8,
		.body = e->need_8bitmime ? SMTP_BODY_8BITMIME :
			SMTP_BODY_UNSPECIFIED,
		.rcpts = rcpts,
		.n_rcpts = tx->n,
	};
	struct smtp_client_message msg = {
		.fd = tx->m->fd, .data = tx->m->data, .len = tx->m->len,
	};
	uint64_t now = queue_now_ms();

	ioev_timer_stop(c->idle);
	conn_idle_del(c);
	c->n_tx++;
	c->tx = tx;
	tx->c = c;
	tx->t_conn_ms = c->t_start_ms > tx->t_queued_ms ? c->t_start_ms : now;
	tx->t_send_ms = now;
	c->t_start_ms = 0;
	tx->d->last_start_ms = now;
	for (size_t i = 0; i < tx->n; i++) {
		const struct store_queue_entry_rcpt *r = &e->rcpts[tx->idx[i]];

		rcpts[i].address = r->address;
		rcpts[i].notify = notify_bits(r->dsn_notify);
		if (r->dsn_orcpt != NULL && strchr(r->dsn_orcpt, ';') != NULL) {
			orcpt[i] = xstrdup(r->dsn_orcpt);
			*strchr(orcpt[i], ';') = '\0';
			rcpts[i].orcpt_type = orcpt[i];
			rcpts[i].orcpt_addr = orcpt[i] + strlen(orcpt[i]) + 1;
		}
	}
	smtp_client_send(c->cl, &env, &msg, tx_sent, tx);
	for (size_t i = 0; i < tx->n; i++)
		free(orcpt[i]);
	free(orcpt);
	free(rcpts);
}

/* ---- connections ---- */

static struct queue_tx *
dest_pop(struct queue_dest *d)
{
	struct queue_tx *tx = d->head;

	if (tx == NULL)
		return NULL;
	d->head = tx->next;
	if (d->head == NULL)
		d->tail = NULL;
	tx->next = NULL;
	d->n_waiting--;
	return tx;
}

/* Every target failed: what is waiting for this destination fails with
 * the last error, unless another connection still serves it. */
static void
conn_all_failed(struct queue_conn *c)
{
	struct queue_dest *d = c->d;
	bool serving = false;
	char *reason = xstrdup(c->last_error != NULL ? c->last_error :
			       "no address to connect to");
	char dsn[16];
	bool perm = c->all_perm && c->last_error != NULL;
	struct queue_tx *tx;

	snprintf(dsn, sizeof(dsn), "%s", c->last_dsn[0] != '\0' ?
		 c->last_dsn : "4.4.1");
	/* some address refused for good, another only for now: deferred,
	 * and its status says so */
	if (!perm && dsn[0] == '5')
		dsn[0] = '4';
	for (struct queue_conn *o = d->conns; o != NULL; o = o->next)
		serving |= o != c && o->ready;
	conn_close(c);
	/* looked up again next time: the addresses may have changed */
	if (d->n_conns == 0 && d->state == DEST_READY)
		d->state = DEST_UNRESOLVED;
	if (!serving)
		while ((tx = dest_pop(d)) != NULL)
			tx_fail(tx, perm, dsn, reason);
	free(reason);
}

static void
conn_ready(struct smtp_client *cl, const struct smtp_client_failure *failure,
	   void *ctx)
{
	struct queue_conn *c = ctx;
	struct queue_dest *d = c->d;
	struct queue_tx *tx;

	(void)cl;
	if (failure == NULL) {
		c->ready = true;
		d->n_connecting--;
		/* over destination_rate: idle until the rate timer pumps */
		tx = dest_rate_ok(d) ? dest_pop(d) : NULL;
		if (tx != NULL) {
			tx_send(c, tx);
			return;
		}
		if (d->head == NULL)
			ioev_timer_start(c->idle, d->rn->q->connection_cache_ms,
					 false);
		conn_idle_add(c);
		return;
	}
	free(c->last_error);
	c->last_error = xstrdup(failure->message);
	if (failure->reply != NULL && failure->reply->enhanced[0] != '\0')
		snprintf(c->last_dsn, sizeof(c->last_dsn), "%s",
			 failure->reply->enhanced);
	else
		snprintf(c->last_dsn, sizeof(c->last_dsn), "%s",
			 failure->permanent ? "5.0.0" :
			 failure->error == SMTP_CLIENT_ERR_TLS_CERT ||
			 failure->error == SMTP_CLIENT_ERR_TLS_UNAVAILABLE ||
			 failure->error == SMTP_CLIENT_ERR_TLS_HANDSHAKE ?
			 "4.7.5" : "4.4.1");
	if (!failure->permanent)
		c->all_perm = false;
	char why[600];

	log_info(NULL, "queue", "connect-failed", "dest=%s relay=%s[%s] "
		 "error=%s reason=%s", d->key, c->cur.host, c->cur.ip,
		 smtp_client_error_name(failure->error),
		 log_str(why, sizeof(why), failure->message));
	smtp_client_free(&c->cl);
	if (failure->error == SMTP_CLIENT_ERR_TLS_HANDSHAKE && !c->no_tls &&
	    d->route.tls == CONFIG_QUEUE_TLS_MAY) {
		/* RFC 7435: opportunistic TLS that fails is retried in
		 * the clear rather than not delivered */
		c->no_tls = true;
		conn_try(c);
		return;
	}
	c->no_tls = false;
	c->ti++;
	conn_try(c);
}

static enum smtp_client_tls_policy
client_policy(enum config_queue_tls t)
{
	switch (t) {
	case CONFIG_QUEUE_TLS_NONE:
		return SMTP_CLIENT_TLS_NONE;
	case CONFIG_QUEUE_TLS_ENCRYPT:
		return SMTP_CLIENT_TLS_ENCRYPT;
	case CONFIG_QUEUE_TLS_IMPLICIT:
		return SMTP_CLIENT_TLS_IMPLICIT;
	default:
		return SMTP_CLIENT_TLS_MAY;
	}
}

static void
conn_try(struct queue_conn *c)
{
	struct queue_dest *d = c->d;
	struct queue_runner *rn = d->rn;
	struct smtp_client_opts opts;
	const char *local_error = NULL;

	if (c->ti >= d->n_targets) {
		conn_all_failed(c);
		return;
	}
	c->cur = d->targets[c->ti];
	smtp_client_opts_from_config(rn->cfg, &opts);
	opts.protocol = d->route.lmtp ? SMTP_CLIENT_LMTP : SMTP_CLIENT_SMTP;
	/* a name, not an IP literal, goes out as SNI and is verified */
	opts.server_name = c->cur.host[0] != '\0' &&
		strcmp(c->cur.host, c->cur.ip) != 0 ? c->cur.host : NULL;
	opts.tls_policy = c->no_tls || c->cur.ss.ss_family == AF_UNIX ?
		SMTP_CLIENT_TLS_NONE : client_policy(d->route.tls);
	opts.tls = rn->tls;
	if (rn->tls == NULL && opts.tls_policy == SMTP_CLIENT_TLS_MAY)
		opts.tls_policy = SMTP_CLIENT_TLS_NONE;
	else if (rn->tls == NULL && opts.tls_policy != SMTP_CLIENT_TLS_NONE)
		local_error = rn->tls_error;
	if (d->route.relayhost && rn->q->relayhost_auth != NULL) {
		if (rn->auth_user == NULL)
			local_error = rn->auth_error;
		opts.auth_user = rn->auth_user;
		opts.auth_pass = rn->auth_pass;
	}
	if (local_error != NULL) {
		free(c->last_error);
		c->last_error = xstrdup(local_error);
		snprintf(c->last_dsn, sizeof(c->last_dsn), "4.3.5");
		c->all_perm = false;
		c->ti = d->n_targets;
		conn_all_failed(c);
		return;
	}
	if (c->t_start_ms == 0)
		c->t_start_ms = queue_now_ms();
	c->cl = smtp_client_connect(rn->loop, (const struct sockaddr *)&c->cur.ss,
				    c->cur.len, &opts, conn_ready, c);
}

static void
idle_cb(void *ctx)
{
	struct queue_conn *c = ctx;

	if (c->tx == NULL) {
		struct queue_dest *d = c->d;

		conn_close(c);
		dest_pump(d);
	}
}

/* c is ready with no transaction: at the end of the runner's idle list
 * (the order they came free). At the global concurrency limit a
 * destination may be waiting for a slot: it may borrow this one, or
 * close it (evict_idle), on the next loop iteration. */
static void
conn_idle_add(struct queue_conn *c)
{
	struct queue_runner *rn = c->d->rn;

	conn_idle_del(c);
	c->idle_ms = queue_now_ms();
	c->in_idle = true;
	c->idle_next = NULL;
	c->idle_prev = rn->idle_tail;
	if (rn->idle_tail != NULL)
		rn->idle_tail->idle_next = c;
	else
		rn->idle_head = c;
	rn->idle_tail = c;
	if (rn->n_conns >= rn->q->concurrency && !rn->stopping)
		ioev_timer_start(rn->pump_timer, 0, false);
}

static void
conn_idle_del(struct queue_conn *c)
{
	struct queue_runner *rn = c->d->rn;

	if (!c->in_idle)
		return;
	c->in_idle = false;
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		rn->idle_head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		rn->idle_tail = c->idle_prev;
	c->idle_next = c->idle_prev = NULL;
}

static void
conn_open(struct queue_dest *d)
{
	struct queue_runner *rn = d->rn;
	struct queue_conn *c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->all_perm = true;
	c->idle = ioev_timer_new(rn->loop, idle_cb, c);
	c->next = d->conns;
	d->conns = c;
	d->n_conns++;
	d->n_connecting++;
	rn->n_conns++;
	conn_try(c);
}

static void
conn_close(struct queue_conn *c)
{
	struct queue_dest *d = c->d;
	struct queue_conn **pp;

	for (pp = &d->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	conn_idle_del(c);
	d->n_conns--;
	if (!c->ready)
		d->n_connecting--;
	/* at the global limit, other destinations may be waiting for this
	 * slot: they get a turn on the next loop iteration */
	if (d->rn->n_conns-- >= d->rn->q->concurrency && !d->rn->stopping)
		ioev_timer_start(d->rn->pump_timer, 0, false);
	if (c->ready && c->cl != NULL && smtp_client_is_reusable(c->cl))
		smtp_client_quit(&c->cl);
	else
		smtp_client_free(&c->cl);
	ioev_timer_free(&c->idle);
	free(c->last_error);
	free(c);
}

static void
pump_all_cb(void *ctx)
{
	struct queue_runner *rn = ctx;

	for (struct queue_dest *d = rn->dests; d != NULL; d = d->next)
		if (d->head != NULL)
			dest_pump(d);
}

static void
rate_cb(void *ctx)
{
	dest_pump(ctx);
}

/* destination_rate: whether a transaction may start now; else the
 * timer brings the destination back. */
static bool
dest_rate_ok(struct queue_dest *d)
{
	unsigned rate = d->rn->q->destination_rate;
	uint64_t gap, now;

	if (rate == 0 || d->last_start_ms == 0)
		return true;
	gap = 1000 / rate;
	now = queue_now_ms();
	if (now >= d->last_start_ms + gap)
		return true;
	if (d->rate_timer == NULL)
		d->rate_timer = ioev_timer_new(d->rn->loop, rate_cb, d);
	if (!ioev_timer_is_pending(d->rate_timer))
		ioev_timer_start(d->rate_timer, d->last_start_ms + gap - now,
				 false);
	return false;
}

static void
dest_resolved(struct queue_dest *d, struct queue_resolved *res)
{
	struct queue_tx *tx;

	if (res->status != QUEUE_RESOLVED_OK) {
		free(res->targets);
		d->state = DEST_UNRESOLVED;
		log_info(NULL, "queue", "route-failed", "dest=%s dsn=%s "
			 "reason=\"%s\"", d->key, res->dsn, res->reason);
		while ((tx = dest_pop(d)) != NULL)
			tx_fail(tx, res->status == QUEUE_RESOLVED_PERM,
				res->dsn, res->reason);
		return;
	}
	free(d->targets);
	d->targets = res->targets;
	d->n_targets = res->n_targets;
	if (d->prefer_ipv4)
		queue_targets_prefer_ipv4(d->targets, d->n_targets);
	d->state = DEST_READY;
	d->resolved_ms = queue_now_ms();
	dest_pump(d);
}

/* At the global concurrency limit, a cached idle connection of a
 * destination with nothing waiting gives its slot to one with mail
 * (Postfix's scache does the same); otherwise the mail waits out
 * connection_cache_time. The one idle the longest goes: the first one
 * found was often one of a destination still busy, between two of its
 * messages, which then opened a new one (the relay benchmark's 100
 * domains: 3 messages per session). A destination that has connections
 * of its own (they come free soon) takes only a connection idle for
 * EVICT_BUSY_MIN_IDLE_MS or more: one idle for less likely carries its
 * own destination's next message, and closing it meant a new session
 * there a moment later. A destination with none takes any, as before.
 * True when one was closed. */
static bool
evict_idle(struct queue_runner *rn, const struct queue_dest *want)
{
	struct queue_conn *oldest = NULL;

	/* the list is in the order they came free: the first that may go
	 * is the one idle the longest */
	for (struct queue_conn *c = rn->idle_head; c != NULL;
	     c = c->idle_next) {
		if (c->d != want && c->d->head == NULL && c->ready &&
		    c->tx == NULL && c->cl != NULL) {
			oldest = c;
			break;
		}
	}
	if (oldest == NULL)
		return false;
	if (want->n_conns > 0 &&
	    queue_now_ms() - oldest->idle_ms < EVICT_BUSY_MIN_IDLE_MS)
		return false;
	conn_close(oldest);
	return true;
}

/* Instead of a new connection for d: an idle one of another destination
 * with nothing waiting, to an address d would connect to first, in the
 * same way (queue_conn_can_serve): Postfix's connection cache by
 * next-hop address. Many domains hosted on one MX (a provider's, a
 * mailing list host) then share its sessions instead of each paying for
 * connect, greeting, EHLO and STARTTLS. The connection passes to d: it
 * counts against d's destination_concurrency and destination_rate, the
 * destination it serves, and no longer against the one that opened it
 * (which has nothing waiting); the global concurrency is unchanged. The
 * one idle the longest goes first. A dead one met on the way (the remote
 * closed it) is closed now rather than at its idle timeout. True when d
 * got one. */
static bool
conn_borrow(struct queue_dest *d)
{
	struct queue_conn *c, *next;

	if (d->n_targets == 0 || d->route.lmtp)
		return false;
	for (c = d->rn->idle_head; c != NULL; c = next) {
		struct queue_dest *from = c->d;
		struct queue_conn **pp;

		next = c->idle_next;
		if (from == d || from->head != NULL || !c->ready ||
		    c->tx != NULL || c->cl == NULL)
			continue;
		if (!smtp_client_is_reusable(c->cl)) {
			conn_close(c);
			continue;
		}
		if (!queue_conn_can_serve(&from->route, &c->cur, &d->route,
					  d->targets, d->n_targets))
			continue;
		for (pp = &from->conns; *pp != c; pp = &(*pp)->next)
			;
		*pp = c->next;
		from->n_conns--;
		c->d = d;
		c->next = d->conns;
		d->conns = c;
		d->n_conns++;
		log_debug(NULL, "queue", "conn-reuse", "dest=%s from=%s "
			  "relay=%s[%s]", d->key, from->key, c->cur.host,
			  c->cur.ip);
		return true;
	}
	return false;
}

static void
dest_pump(struct queue_dest *d)
{
	struct queue_runner *rn = d->rn;

	if (rn->stopping || d->head == NULL)
		return;
	if (d->state == DEST_RESOLVING)
		return;
	if (d->state == DEST_UNRESOLVED ||
	    (d->n_conns == 0 &&
	     queue_now_ms() - d->resolved_ms > RESOLVE_TTL_MS)) {
		d->state = DEST_RESOLVING;
		(void)queue_resolve_start(rn, d, dest_resolved);
		return;
	}
	while (d->head != NULL) {
		struct queue_conn *idle = NULL;
		size_t recording = 0;
		uint64_t now = queue_now_ms();

		for (struct queue_conn *c = d->conns; c != NULL; c = c->next) {
			if (c->ready && c->tx == NULL && c->cl != NULL &&
			    smtp_client_is_reusable(c->cl))
				idle = c;
			/* sent, its outcome being committed: free in about
			 * one commit, sooner than a new connection is ready
			 * (and a new one per message while outcomes are put
			 * away meant 3 messages per session). Likewise a
			 * transaction started less than SENDING_SOON_MS ago:
			 * a new connection needs three round trips (connect,
			 * greeting, EHLO) before its own transaction, so a
			 * remote that answers at the usual pace frees this
			 * one first; counting only recorded ones opened
			 * about ten sessions per destination in the relay
			 * benchmark, each set up and closed for a few
			 * messages. A slower transaction no longer counts:
			 * the next message gets a connection of its own. */
			recording += c->tx != NULL && c->cl != NULL &&
				smtp_client_is_reusable(c->cl) &&
				(c->tx->out != NULL ||
				 now - c->tx->t_send_ms < SENDING_SOON_MS);
		}
		if (!dest_rate_ok(d))
			return;
		if (idle != NULL) {
			tx_send(idle, dest_pop(d));
			continue;
		}
		if (d->n_connecting + recording < d->n_waiting &&
		    d->n_conns < rn->q->destination_concurrency) {
			if (conn_borrow(d))
				continue;
			if (rn->n_conns < rn->q->concurrency ||
			    evict_idle(rn, d)) {
				conn_open(d);
				continue;
			}
		}
		return;
	}
}

/* ---- start and stop ---- */

/* The relayhost's AUTH credentials: user name on the first line,
 * password on the second; a file other users may read is refused (a
 * password in it would be theirs). */
static void
read_auth(struct queue_runner *rn)
{
	const char *path = rn->q->relayhost_auth;
	char buf[2048];
	struct stat st;
	ssize_t n;
	int fd;
	char *nl;

	if (path == NULL)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rn->auth_error = xasprintf("relayhost_auth %s: %s", path,
					   strerror(errno));
		goto out;
	}
	if ((st.st_mode & 0007) != 0) {
		rn->auth_error = xasprintf("relayhost_auth %s is readable by "
					   "every user: not used", path);
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		rn->auth_error = xasprintf("relayhost_auth %s: empty", path);
		goto out;
	}
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl == NULL) {
		rn->auth_error = xasprintf("relayhost_auth %s: needs the user "
					   "name and the password on two "
					   "lines", path);
		goto out;
	}
	*nl = '\0';
	rn->auth_user = xstrdup(buf);
	nl++;
	nl[strcspn(nl, "\r\n")] = '\0';
	rn->auth_pass = xstrdup(nl);
out:
	mem_wipe(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	if (rn->auth_error != NULL)
		log_warn(NULL, "queue", "relayhost-auth-failed", "error=\"%s\"",
			 rn->auth_error);
}

static void
runner_begin(struct queue_runner *rn)
{
	const char *err = NULL;
	char *error = NULL;

	/* the worker's resolver (made from the same [dns] by the init
	 * hook): a second one would be a second libunbound thread, cache
	 * and set of descriptors */
	rn->dns = rn->w->dns;
	if (rn->dns == NULL) {
		rn->dns_error = rn->w->dns_error != NULL ? rn->w->dns_error :
			"no resolver";
		log_warn(NULL, "queue", "dns-failed", "error=\"%s\"",
			 rn->dns_error);
	}
	rn->tls = tls_client_new(rn->cfg, &error);
	if (rn->tls == NULL) {
		rn->tls_error = error;
		log_warn(NULL, "queue", "tls-failed", "error=\"%s\"",
			 error != NULL ? error : "?");
	}
	read_auth(rn);
	if (store_watch_new_kinds(rn->store,
				  STORE_WATCH_KIND(STORE_WATCH_QUEUE),
				  &rn->watch, &err) == STORE_OK)
		rn->watch_io = ioev_watch_fd(rn->loop, store_watch_fd(rn->watch),
					     watch_cb, rn);
	else
		/* without a watch only the timer brings new mail */
		log_warn(NULL, "queue", "watch-failed", "error=\"%s\"",
			 err != NULL ? err : "?");
	rn->counter = store_queue_counter(rn->store);
	rn->started = true;
	log_info(NULL, "queue", "runner-started", "pid=%d relayhost=%s",
		 (int)getpid(), rn->q->relayhost != NULL ?
		 rn->q->relayhost : "none");
	scan(rn);
	if (rn->watch == NULL)
		ioev_timer_start(rn->due_timer, 1000, false);
	queue_dmarc_arm(rn);
}

static void
lock_cb(void *ctx)
{
	struct queue_runner *rn = ctx;

	if (flock(rn->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		ioev_timer_start(rn->lock_timer, LOCK_RETRY_MS, false);
		return;
	}
	runner_begin(rn);
}

int
queue_runner_start(struct worker *w, char **error_r)
{
	struct queue_runner *rn = xcalloc(1, sizeof(*rn));
	char *path = config_data_path(w->cfg, "queue-runner.lock");

	rn->w = w;
	rn->loop = w->loop;
	rn->store = w->store;
	rn->cfg = w->cfg;
	rn->q = &w->cfg->queue;
	rn->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (rn->lock_fd < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		free(rn);
		return -1;
	}
	free(path);
	rn->due_timer = ioev_timer_new(rn->loop, due_cb, rn);
	rn->pump_timer = ioev_timer_new(rn->loop, pump_all_cb, rn);
	rn->lock_timer = ioev_timer_new(rn->loop, lock_cb, rn);
	rn->gap_timer = ioev_timer_new(rn->loop, gap_cb, rn);
	w->hook_ctx = rn;
	/* one runner per store: after a reload the old one may still be
	 * putting its work away */
	ioev_timer_start(rn->lock_timer, 0, false);
	return 0;
}

void
queue_runner_stop(struct worker *w)
{
	struct queue_runner *rn = w->hook_ctx;

	if (rn == NULL || rn->stopping)
		return;
	rn->stopping = true;
	ioev_timer_stop(rn->due_timer);
	ioev_timer_stop(rn->lock_timer);
	ioev_timer_stop(rn->pump_timer);
	if (rn->dmarc_timer != NULL)
		ioev_timer_stop(rn->dmarc_timer);
	ioev_watch_free(&rn->watch_io);
	store_watch_free(&rn->watch);
	for (struct queue_dest *d = rn->dests; d != NULL; d = d->next) {
		struct queue_tx *tx;

		queue_resolve_cancel(&d->resolving);
		ioev_timer_free(&d->rate_timer);
		while ((tx = dest_pop(d)) != NULL)
			tx_finish(tx);
		while (d->conns != NULL) {
			struct queue_conn *c = d->conns;
			struct queue_tx *busy = c->tx;

			/* a send in flight: its outcome is not known and
			 * the recipients stay as the store has them */
			smtp_client_free(&c->cl);
			if (busy != NULL && busy->out == NULL)
				tx_finish(busy);
			else if (busy != NULL)
				busy->c = NULL;	/* its record job ends it */
			c->tx = NULL;
			conn_close(c);
		}
	}
	maybe_stopped(rn);
}
