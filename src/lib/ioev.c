/* SPDX-License-Identifier: MIT */
/*
 * libevent behind the ioev.h contract: a loop with a thread pool, timers,
 * and connections over bufferevents (plain sockets or OpenSSL). Callbacks
 * into protocol code are never made from inside an ioev call: closes and
 * resumed input are delivered from a per-connection "kick" event.
 */
#include "lib/ioev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "lib/mem.h"

#define IOEV_DEFAULT_INPUT_MAX (64 * 1024)
#define IOEV_DEFAULT_OUTPUT_HIGH (256 * 1024)
#define IOEV_DEFAULT_OUTPUT_MAX (16 * 1024 * 1024)
/* The most one read of a plain socket takes (conn_sock_read). */
#define IOEV_READ_MAX (64 * 1024)

struct ioev_loop {
	struct event_base *base;
	struct threadpool *pool;
	struct ioev_conn *conns;	/* not yet notified of close */
	size_t n_conns;
	void (*empty_cb)(void *ctx);
	void *empty_ctx;
	struct event *empty_ev;
	struct event *log_ev;		/* writes the lines of a loop turn */
	struct event *log_later_ev;	/* and lines that may wait (timer) */
	/* Timers and watches not yet freed: a loop freed before them
	 * detaches them (their events go with the base), so that freeing
	 * them later does not reach into the freed base. */
	struct ioev_timer *timers;
	struct ioev_watch *watches;
};

struct ioev_timer {
	struct ioev_loop *loop;		/* NULL once the loop is freed */
	struct ioev_timer *prev, *next;
	struct event *ev;
	ioev_timer_cb_t *cb;
	void *ctx;
	bool repeat;
};

struct ioev_watch {
	struct ioev_loop *loop;		/* NULL once the loop is freed */
	struct ioev_watch *prev, *next;
	struct event *ev;
	ioev_fd_cb_t *fd_cb;
	ioev_signal_cb_t *sig_cb;
	void *ctx;
	bool active;
};

/* Links x into the list at *head (x has prev and next). */
#define IOEV_LIST_ADD(head, x) do {					\
		(x)->prev = NULL;					\
		(x)->next = (head);					\
		if ((head) != NULL)					\
			(head)->prev = (x);				\
		(head) = (x);						\
	} while (0)
#define IOEV_LIST_DEL(head, x) do {					\
		if ((x)->prev != NULL)					\
			(x)->prev->next = (x)->next;			\
		else							\
			(head) = (x)->next;				\
		if ((x)->next != NULL)					\
			(x)->next->prev = (x)->prev;			\
		(x)->prev = (x)->next = NULL;				\
	} while (0)

struct ioev_conn {
	struct ioev_loop *loop;
	struct ioev_conn *prev, *next;
	struct bufferevent *bev;	/* NULL once closed */
	/* Plain sockets are read by us, not by the bufferevent (which only
	 * writes them): libevent asks the kernel how much is readable
	 * (ioctl FIONREAD) before every read and then takes at most 4 KiB,
	 * so a 5 KB message cost three system calls and two loop turns
	 * where one read does. TLS conns read through their bufferevent. */
	struct event *rev;
	bool rev_on;
	bool rev_timed;			/* rev was last added with a timeout */
	int fd;
	unsigned refs;
	unsigned pauses;
	unsigned jobs;			/* ioev_conn_run_blocking pending */
	bool closed;
	bool notified;
	bool close_after_write;
	/* The peer shut its sending side: nothing more is read, but what was
	 * read is still answered (a client that half-closes after QUIT
	 * waits for its replies); conn_eof_settle() closes once the
	 * protocol has taken all it can and the output has gone. */
	bool input_eof;
	bool output_full;
	bool tls;
	/* A TLS handshake is under way: nothing useful can be written
	 * before it ends, so it must never be starved of reads */
	bool handshaking;
	bool starttls_pending;		/* waiting for "220" to go out */
	bool kick_input;
	/* input_max bytes buffered: EV_READ is off until the protocol
	 * consumes some. A TLS conn sets it only while paused (libevent >=
	 * 2.1.11 re-runs the read callback on every loop turn while the
	 * input sits at its high watermark with reading enabled, a busy
	 * loop; libevent issue 891); a plain conn, read by conn_sock_read,
	 * whenever its input is full. */
	bool input_stalled;
	/* Bytes handed straight to the socket (ioev_conn_write) since the
	 * loop last turned, at most limits.output_high / 2: still counted
	 * against limits.output_max, as they would have been buffered
	 * until then. Cleared by the kick. */
	size_t eager_bytes;
	enum ioev_close_reason reason;
	/* the reason a close-after-write closes with */
	enum ioev_close_reason after_write_reason;
	struct ioev_tls *starttls_ctx;
	struct ioev_tls *tls_engine;	/* the session's, once TLS is on */
	struct event *hs_timer;		/* the handshake's time limit */
	struct event *kick;
	const struct ioev_conn_callbacks *cbs;
	void *ctx;
	void (*release)(void *ctx);
	void *release_ctx;
	struct ioev_conn_limits limits;
	struct sockaddr_storage peer;
	bool peer_local;
	bool peer_cred_ok;		/* unix socket: SO_PEERCRED read */
	uid_t peer_uid;
	gid_t peer_gid;
	pid_t peer_pid;
	unsigned peer_port, local_port;
	char peer_ip[INET6_ADDRSTRLEN];
	char local_ip[INET6_ADDRSTRLEN];
	char id[LOG_ID_LEN + 1];
	char tls_error[128];		/* why the handshake failed */
};

static const char *const ioev_close_reason_names[] = {
	[IOEV_CLOSE_LOCAL] = "local",
	[IOEV_CLOSE_EOF] = "eof",
	[IOEV_CLOSE_ERROR] = "error",
	[IOEV_CLOSE_TLS] = "tls",
	[IOEV_CLOSE_TIMEOUT] = "timeout",
	[IOEV_CLOSE_OVERFLOW] = "overflow",
	[IOEV_CLOSE_SHUTDOWN] = "shutdown",
};

const char *
ioev_close_reason_name(enum ioev_close_reason reason)
{
	if ((size_t)reason >= sizeof(ioev_close_reason_names) /
	    sizeof(*ioev_close_reason_names))
		return "unknown";
	return ioev_close_reason_names[reason];
}

/* ------------------------------------------------------------------ loop */

static void
ioev_loop_empty_event(evutil_socket_t fd, short what, void *arg)
{
	struct ioev_loop *loop = arg;

	(void)fd;
	(void)what;
	if (loop->n_conns == 0 && loop->empty_cb != NULL)
		loop->empty_cb(loop->empty_ctx);
}

static void
ioev_loop_log_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_flush();
}

/* The first log line of a turn: an active event runs after every
 * callback already active in this turn, so the lines they log go out
 * in one write(2) instead of one each (two per accepted message). A
 * line that may wait (log_event_later: the mailauth verdicts at the end
 * of data) only starts a timer, and goes out with the next turn's lines
 * (the message's smtp accepted, a group commit later): a write(2) fewer
 * for most checked messages. */
static void
ioev_loop_log_kick(void *ctx, bool soon)
{
	struct ioev_loop *loop = ctx;
	static const struct timeval later = {
		.tv_sec = LOG_LATER_MS / 1000,
		.tv_usec = (LOG_LATER_MS % 1000) * 1000,
	};

	if (soon)
		event_active(loop->log_ev, 0, 0);
	else if (!evtimer_pending(loop->log_later_ev, NULL))
		evtimer_add(loop->log_later_ev, &later);
}

struct ioev_loop *
ioev_loop_new(unsigned pool_threads)
{
	struct ioev_loop *loop = xcalloc(1, sizeof(*loop));

	/* a peer that closes while we write must give EPIPE, not kill us */
	signal(SIGPIPE, SIG_IGN);
	loop->base = event_base_new();
	if (loop->base == NULL)
		panic("ioev: event_base_new failed");
	loop->pool = threadpool_new(loop->base, pool_threads);
	loop->empty_ev = event_new(loop->base, -1, 0, ioev_loop_empty_event,
				   loop);
	loop->log_ev = event_new(loop->base, -1, 0, ioev_loop_log_event, loop);
	loop->log_later_ev = evtimer_new(loop->base, ioev_loop_log_event, loop);
	return loop;
}

void
ioev_loop_free(struct ioev_loop **loopp)
{
	struct ioev_loop *loop = *loopp;

	if (loop == NULL)
		return;
	loop->empty_cb = NULL;
	ioev_loop_close_all(loop);
	/* runs every pending done callback, which may release conns */
	threadpool_free(&loop->pool);
	for (int i = 0; i < 1000 && loop->conns != NULL; i++)
		event_base_loop(loop->base, EVLOOP_NONBLOCK);
	if (loop->conns != NULL)
		panic("ioev: %zu connections still referenced at loop free",
		      loop->n_conns);
	/* event_free before the base: a signal's old disposition is put
	 * back by the event's removal */
	while (loop->watches != NULL) {
		struct ioev_watch *w = loop->watches;

		IOEV_LIST_DEL(loop->watches, w);
		event_free(w->ev);
		w->ev = NULL;
		w->loop = NULL;
		w->active = false;
	}
	while (loop->timers != NULL) {
		struct ioev_timer *t = loop->timers;

		IOEV_LIST_DEL(loop->timers, t);
		event_free(t->ev);
		t->ev = NULL;
		t->loop = NULL;
	}
	event_free(loop->empty_ev);
	event_free(loop->log_ev);
	event_free(loop->log_later_ev);
	event_base_free(loop->base);
	free(loop);
	*loopp = NULL;
}

int
ioev_loop_run(struct ioev_loop *loop)
{
	int ret;

	log_hold(ioev_loop_log_kick, loop);
	ret = event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
	log_release();
	return ret < 0 ? -1 : 0;
}

void
ioev_loop_stop(struct ioev_loop *loop)
{
	event_base_loopbreak(loop->base);
}

size_t
ioev_loop_conn_count(const struct ioev_loop *loop)
{
	return loop->n_conns;
}

static void conn_close(struct ioev_conn *conn, enum ioev_close_reason reason);

void
ioev_loop_close_all(struct ioev_loop *loop)
{
	for (struct ioev_conn *c = loop->conns; c != NULL; c = c->next)
		conn_close(c, IOEV_CLOSE_SHUTDOWN);
}

void
ioev_loop_set_empty_cb(struct ioev_loop *loop, void (*cb)(void *ctx), void *ctx)
{
	loop->empty_cb = cb;
	loop->empty_ctx = ctx;
	if (cb != NULL && loop->n_conns == 0)
		event_active(loop->empty_ev, 0, 0);
}

struct threadpool *
ioev_loop_pool(struct ioev_loop *loop)
{
	return loop->pool;
}

int
ioev_loop_poll(struct ioev_loop *loop)
{
	return event_base_loop(loop->base, EVLOOP_NONBLOCK) < 0 ? -1 : 0;
}

void
ioev_run_blocking(struct ioev_loop *loop, threadpool_work_cb_t *work,
		  threadpool_done_cb_t *done, void *ctx)
{
	threadpool_submit(loop->pool, work, done, ctx);
}

/* ---------------------------------------------------------------- timers */

static void
ioev_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct ioev_timer *timer = arg;

	(void)fd;
	(void)what;
	if (!timer->repeat)
		event_del(timer->ev);
	timer->cb(timer->ctx);
}

struct ioev_timer *
ioev_timer_new(struct ioev_loop *loop, ioev_timer_cb_t *cb, void *ctx)
{
	struct ioev_timer *timer = xcalloc(1, sizeof(*timer));

	timer->loop = loop;
	timer->cb = cb;
	timer->ctx = ctx;
	timer->ev = event_new(loop->base, -1, EV_PERSIST, ioev_timer_event, timer);
	if (timer->ev == NULL)
		panic("ioev: event_new failed");
	IOEV_LIST_ADD(loop->timers, timer);
	return timer;
}

void
ioev_timer_start(struct ioev_timer *timer, uint64_t ms, bool repeat)
{
	struct timeval tv = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000,
	};

	timer->repeat = repeat;
	if (timer->ev != NULL)
		event_add(timer->ev, &tv);
}

void
ioev_timer_stop(struct ioev_timer *timer)
{
	if (timer->ev != NULL)
		event_del(timer->ev);
}

bool
ioev_timer_is_pending(const struct ioev_timer *timer)
{
	return timer->ev != NULL &&
		event_pending(timer->ev, EV_TIMEOUT, NULL) != 0;
}

void
ioev_timer_free(struct ioev_timer **timerp)
{
	struct ioev_timer *timer = *timerp;

	if (timer == NULL)
		return;
	if (timer->loop != NULL) {
		IOEV_LIST_DEL(timer->loop->timers, timer);
		event_free(timer->ev);
	}
	xfree(timerp);
}

/* --------------------------------------------------------------- watches */

static void
ioev_watch_event(evutil_socket_t fd, short what, void *arg)
{
	struct ioev_watch *watch = arg;

	(void)what;
	if (watch->fd_cb != NULL)
		watch->fd_cb(fd, watch->ctx);
	else
		watch->sig_cb(fd, watch->ctx);
}

static struct ioev_watch *
ioev_watch_new(struct ioev_loop *loop, int fd, short events, void *ctx)
{
	struct ioev_watch *watch = xcalloc(1, sizeof(*watch));

	watch->loop = loop;
	watch->ctx = ctx;
	watch->ev = event_new(loop->base, fd, events | EV_PERSIST,
			      ioev_watch_event, watch);
	if (watch->ev == NULL)
		panic("ioev: event_new failed");
	IOEV_LIST_ADD(loop->watches, watch);
	return watch;
}

struct ioev_watch *
ioev_watch_fd(struct ioev_loop *loop, int fd, ioev_fd_cb_t *cb, void *ctx)
{
	struct ioev_watch *watch = ioev_watch_new(loop, fd, EV_READ, ctx);

	watch->fd_cb = cb;
	ioev_watch_start(watch);
	return watch;
}

struct ioev_watch *
ioev_watch_signal(struct ioev_loop *loop, int sig, ioev_signal_cb_t *cb,
		  void *ctx)
{
	struct ioev_watch *watch = ioev_watch_new(loop, sig, EV_SIGNAL, ctx);

	watch->sig_cb = cb;
	ioev_watch_start(watch);
	return watch;
}

void
ioev_watch_stop(struct ioev_watch *watch)
{
	if (!watch->active)
		return;
	event_del(watch->ev);
	watch->active = false;
}

void
ioev_watch_start(struct ioev_watch *watch)
{
	if (watch->active || watch->ev == NULL)
		return;
	if (event_add(watch->ev, NULL) < 0)
		panic("ioev: event_add failed");
	watch->active = true;
}

bool
ioev_watch_is_active(const struct ioev_watch *watch)
{
	return watch->active;
}

void
ioev_watch_free(struct ioev_watch **watchp)
{
	struct ioev_watch *watch = *watchp;

	if (watch == NULL)
		return;
	if (watch->loop != NULL) {
		IOEV_LIST_DEL(watch->loop->watches, watch);
		event_free(watch->ev);
	}
	free(watch);
	*watchp = NULL;
}

/* ----------------------------------------------------------- connections */

static void conn_setup_bev(struct ioev_conn *conn);
static void conn_apply_limits(struct ioev_conn *conn);

static void
conn_kick(struct ioev_conn *conn)
{
	event_active(conn->kick, 0, 0);
}

/* Whether input may be handed to the protocol, paused or not. */
static bool
conn_input_open(const struct ioev_conn *conn)
{
	return !conn->closed && conn->cbs != NULL && !conn->output_full &&
		!conn->close_after_write && !conn->starttls_pending;
}

/* Whether to read from the socket. A paused conn keeps reading (bounded
 * by input_max) so a disconnect during a blocking job is noticed. */
static bool
conn_wants_socket_read(const struct ioev_conn *conn)
{
	return conn_input_open(conn) && !conn->input_eof;
}

/* Whether to hand input to the protocol. */
static bool
conn_wants_read(const struct ioev_conn *conn)
{
	return conn_input_open(conn) && conn->pauses == 0;
}

static void conn_sock_read(evutil_socket_t fd, short what, void *arg);

static void
conn_new_rev(struct ioev_conn *conn)
{
	conn->rev = event_new(conn->loop->base, conn->fd, EV_READ | EV_PERSIST,
			      conn_sock_read, conn);
	if (conn->rev == NULL)
		panic("ioev: event_new failed");
	conn->rev_on = false;
	conn->rev_timed = false;
}

/* The idle timeout as a timeval for libevent, or NULL for none. */
static const struct timeval *
conn_read_timeout(const struct ioev_conn *conn, struct timeval *tv)
{
	if (conn->limits.idle_timeout_ms == 0)
		return NULL;
	tv->tv_sec = (time_t)(conn->limits.idle_timeout_ms / 1000);
	tv->tv_usec = (suseconds_t)(conn->limits.idle_timeout_ms % 1000) * 1000;
	return tv;
}

static void
conn_update_read(struct ioev_conn *conn)
{
	bool on;

	if (conn->bev == NULL)
		return;
	on = conn_wants_socket_read(conn) && !conn->input_stalled;
	/* libevent's TLS bufferevent drives its handshake with its read
	 * event: turning reading off (a goodbye written before the
	 * handshake ended, a full output) would stall it for good */
	if (conn->handshaking)
		on = true;
	if (conn->rev != NULL) {
		/* re-adding restarts the idle timeout, as enabling a
		 * bufferevent's reading does */
		if (on) {
			struct timeval tv;
			const struct timeval *t = conn_read_timeout(conn, &tv);

			/* libevent keeps a persistent event's timeout when it
			 * is added again without one (and renews it on every
			 * read): only a new event has none */
			if (t == NULL && conn->rev_timed) {
				event_free(conn->rev);
				conn_new_rev(conn);
			}
			event_add(conn->rev, t);
			conn->rev_timed = t != NULL;
		} else if (conn->rev_on) {
			event_del(conn->rev);
		}
		conn->rev_on = on;
		return;
	}
	if (on)
		bufferevent_enable(conn->bev, EV_READ);
	else
		bufferevent_disable(conn->bev, EV_READ);
}

/* Input was consumed: a stalled conn may read again. */
static void
conn_input_consumed(struct ioev_conn *conn)
{
	if (conn->input_stalled) {
		conn->input_stalled = false;
		conn_update_read(conn);
	}
}

static void
conn_free(struct ioev_conn *conn)
{
	event_free(conn->kick);
	free(conn);
}

static void
conn_unlink(struct ioev_conn *conn)
{
	struct ioev_loop *loop = conn->loop;

	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		loop->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	conn->prev = conn->next = NULL;
	loop->n_conns--;
	if (loop->n_conns == 0 && loop->empty_cb != NULL)
		event_active(loop->empty_ev, 0, 0);
}

static void
conn_close(struct ioev_conn *conn, enum ioev_close_reason reason)
{
	if (conn->closed)
		return;
	conn->closed = true;
	conn->reason = reason;
	if (conn->rev != NULL) {
		event_free(conn->rev);
		conn->rev = NULL;
		conn->rev_on = false;
	}
	if (conn->hs_timer != NULL) {
		event_free(conn->hs_timer);
		conn->hs_timer = NULL;
	}
	if (conn->bev != NULL) {
		/* An orderly end of a TLS session says so (RFC 8446 6.1):
		 * without close_notify a peer cannot tell our close from a
		 * cut connection (Exim logs an error for every delivery).
		 * Not after a broken session or the peer's own EOF, where
		 * the alert could only fail or come too late. */
		if (conn->tls && !conn->handshaking &&
		    reason != IOEV_CLOSE_TLS && reason != IOEV_CLOSE_ERROR &&
		    !(reason == IOEV_CLOSE_EOF && !conn->input_eof))
			conn->tls_engine->session_close_notify(
				bufferevent_openssl_get_ssl(conn->bev));
		bufferevent_free(conn->bev);
		conn->bev = NULL;
	}
	if (conn->fd >= 0) {
		/* a plain bev is made without CLOSE_ON_FREE so STARTTLS
		 * can swap it for a TLS one, which does own the fd */
		close(conn->fd);
		conn->fd = -1;
	}
	conn_kick(conn);
}

/* After the peer's EOF: once the protocol is idle (not paused, no job
 * running, its output not backed up) it has answered every complete
 * command it was given, and what input is left is a command the peer
 * never finished; send what is buffered, then close. Runs only from the
 * kick, never inside a call the protocol made: a protocol that resumes
 * and then writes its reply must find the conn still open. */
static void
conn_eof_settle(struct ioev_conn *conn)
{
	if (!conn->input_eof || conn->closed || conn->close_after_write ||
	    conn->starttls_pending || conn->kick_input)
		return;
	if (conn->pauses > 0 || conn->jobs > 0 || conn->output_full)
		return;
	conn->after_write_reason = IOEV_CLOSE_EOF;
	ioev_conn_close_after_write(conn);
}

/* The peer will send no more. */
static void
conn_input_ended(struct ioev_conn *conn)
{
	conn->input_eof = true;
	conn_update_read(conn);
	conn_kick(conn);
}

static void
conn_kick_event(evutil_socket_t fd, short what, void *arg)
{
	struct ioev_conn *conn = arg;

	(void)fd;
	(void)what;
	conn->eager_bytes = 0;
	if (conn->closed) {
		if (conn->notified || conn->jobs > 0)
			return;
		conn->notified = true;
		if (conn->cbs != NULL)
			conn->cbs->close(conn, conn->ctx, conn->reason);
		if (conn->release != NULL)
			conn->release(conn->release_ctx);
		conn_unlink(conn);
		ioev_conn_unref(&conn);
		return;
	}
	if (conn->kick_input) {
		conn->kick_input = false;
		if (conn_wants_read(conn) && ioev_conn_input_len(conn) > 0)
			conn->cbs->input(conn, conn->ctx);
	}
	conn_eof_settle(conn);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct ioev_conn *conn = arg;

	if (!conn_wants_read(conn)) {
		/* Paused and full: nothing more can be read anyway (a
		 * disconnect is noticed once the protocol consumes). */
		if (conn->pauses > 0 && !conn->input_stalled &&
		    evbuffer_get_length(bufferevent_get_input(bev)) >=
		    conn->limits.input_max) {
			conn->input_stalled = true;
			conn_update_read(conn);
		}
		return;
	}
	conn->cbs->input(conn, conn->ctx);
}

static void conn_timeout(struct ioev_conn *conn);

/* A plain socket is readable (or its idle timeout ran out): one read of
 * up to IOEV_READ_MAX bytes, never more than input_max buffered (the
 * bufferevent's read watermark did that before). Reading stops while
 * the input is full and starts again when the protocol consumes some
 * (conn_input_consumed), paused or not. */
static void
conn_sock_read(evutil_socket_t fd, short what, void *arg)
{
	struct ioev_conn *conn = arg;
	struct evbuffer *in;
	uint8_t buf[IOEV_READ_MAX];
	size_t have, want;
	ssize_t n;

	if (conn->closed || conn->bev == NULL)
		return;
	if (what & EV_TIMEOUT) {
		conn_timeout(conn);
		return;
	}
	in = bufferevent_get_input(conn->bev);
	have = evbuffer_get_length(in);
	want = have < conn->limits.input_max ? conn->limits.input_max - have
					     : 0;
	if (want > sizeof(buf))
		want = sizeof(buf);
	if (want == 0) {
		conn->input_stalled = true;
		conn_update_read(conn);
		return;
	}
	n = recv(fd, buf, want, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_close(conn, IOEV_CLOSE_ERROR);
		return;
	}
	if (n == 0) {
		conn_input_ended(conn);
		return;
	}
	/* a bufferevent keeps the end of its input frozen except while it
	 * reads itself */
	evbuffer_unfreeze(in, 0);
	if (evbuffer_add(in, buf, (size_t)n) < 0)
		panic("ioev: evbuffer_add failed");
	evbuffer_freeze(in, 0);
	if (have + (size_t)n >= conn->limits.input_max) {
		conn->input_stalled = true;
		conn_update_read(conn);
	}
	if (conn_wants_read(conn))
		conn->cbs->input(conn, conn->ctx);
}

/* A handshake that failed: one info line an admin can read (not
 * OpenSSL's error stack), then the conn ends. */
static void
conn_tls_failed(struct ioev_conn *conn, const char *reason,
		enum ioev_close_reason close_reason)
{
	log_info(conn->id, "tls", "handshake-failed", "rip=%s reason=\"%s\"",
		 conn->peer_ip, reason);
	snprintf(conn->tls_error, sizeof(conn->tls_error), "%s", reason);
	conn_close(conn, close_reason);
}

/* The handshake's time is up: a client that connected to 465 or sent
 * STARTTLS and then half a ClientHello (or nothing) would otherwise hold
 * its socket and its per-address slot for good. Nothing can be said to
 * it in clear, so it is just closed. */
static void
conn_hs_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ioev_conn *conn = arg;

	(void)fd;
	(void)what;
	if (conn->closed || !conn->handshaking)
		return;
	conn_tls_failed(conn, "handshake timeout", IOEV_CLOSE_TIMEOUT);
}

/* Puts a TLS bufferevent on the conn's socket (which it then owns) and
 * starts the handshake's clock: a server session from tls, or the client
 * session ssl when it is not NULL. */
static void
conn_tls_start(struct ioev_conn *conn, int fd, struct ioev_tls *tls,
	       struct ssl_st *ssl)
{
	uint64_t ms = tls->handshake_timeout_ms != 0 ?
		tls->handshake_timeout_ms : IOEV_TLS_HANDSHAKE_TIMEOUT_MS;
	struct timeval tv = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000,
	};

	conn->bev = bufferevent_openssl_socket_new(
		conn->loop->base, fd, ssl != NULL ? ssl : tls->session_new(tls),
		ssl != NULL ? BUFFEREVENT_SSL_CONNECTING :
		BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_DEFER_CALLBACKS | BEV_OPT_CLOSE_ON_FREE);
	if (conn->bev == NULL)
		panic("ioev: bufferevent_openssl_socket_new failed");
	conn->fd = -1;		/* closed (and the SSL freed) with the bev */
	conn->tls = true;
	conn->handshaking = true;
	conn->tls_engine = tls;
	conn->hs_timer = evtimer_new(conn->loop->base, conn_hs_timeout, conn);
	if (conn->hs_timer == NULL)
		panic("ioev: evtimer_new failed");
	evtimer_add(conn->hs_timer, &tv);
}

static void
conn_starttls_switch(struct ioev_conn *conn)
{
	/* Plaintext that arrived after the STARTTLS line, including what
	 * came while "220" was going out, is dropped, never parsed. */
	evbuffer_drain(bufferevent_get_input(conn->bev),
		       evbuffer_get_length(bufferevent_get_input(conn->bev)));
	bufferevent_free(conn->bev);
	conn_tls_start(conn, conn->fd, conn->starttls_ctx, NULL);
	conn->starttls_pending = false;
	conn->starttls_ctx = NULL;
	conn_setup_bev(conn);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct ioev_conn *conn = arg;
	size_t len = evbuffer_get_length(bufferevent_get_output(bev));

	if (conn->closed)
		return;
	if (len == 0 && conn->starttls_pending) {
		conn_starttls_switch(conn);
		return;
	}
	if (len == 0 && conn->close_after_write) {
		conn_close(conn, conn->after_write_reason);
		return;
	}
	if (conn->output_full && len <= conn->limits.output_high / 2) {
		conn->output_full = false;
		conn_update_read(conn);
		if (ioev_conn_input_len(conn) > 0) {
			conn->kick_input = true;
			conn_kick(conn);
		} else if (conn->input_eof) {
			conn_kick(conn);
		}
		if (conn->cbs != NULL && conn->cbs->drain != NULL)
			conn->cbs->drain(conn, conn->ctx);
	}
}

/* No input for idle_timeout_ms: the protocol's timeout callback says
 * goodbye (or, busy with a reply of its own, does nothing and the timer
 * starts over), else the conn is closed. */
static void
conn_timeout(struct ioev_conn *conn)
{
	if (conn->cbs != NULL && conn->cbs->timeout != NULL) {
		conn->cbs->timeout(conn, conn->ctx);
		conn_update_read(conn);
	} else {
		conn_close(conn, IOEV_CLOSE_TIMEOUT);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ioev_conn *conn = arg;

	if (conn->closed)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		conn->handshaking = false;
		if (conn->hs_timer != NULL) {
			event_free(conn->hs_timer);
			conn->hs_timer = NULL;
		}
		/* the idle timeouts start now */
		conn_apply_limits(conn);
		conn_update_read(conn);
		if (conn->cbs != NULL && conn->cbs->tls_ready != NULL)
			conn->cbs->tls_ready(conn, conn->ctx);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* output made no progress: the peer does not read, so a
		 * goodbye could not reach it either */
		if (what & BEV_EVENT_WRITING) {
			conn_close(conn, IOEV_CLOSE_TIMEOUT);
			return;
		}
		conn_timeout(conn);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && conn->rev != NULL) {
		/* A reply to a peer that has gone fails; when the socket
		 * reads as ended (the peer closed, or reset the connection,
		 * which the failed send has consumed), say eof, as the
		 * bufferevent's own read would mostly have. */
		char c;

		if (recv(conn->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			what |= BEV_EVENT_EOF;
	}
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    !conn->input_eof && !conn->handshaking) {
		conn_input_ended(conn);
		/* libevent stops writing at a TLS EOF; the replies still
		 * owed go out after it */
		bufferevent_enable(bev, EV_WRITE);
	} else if (conn->handshaking) {
		/* the first error is the cause; the rest is OpenSSL's
		 * stack for it */
		unsigned long err = bufferevent_get_openssl_error(bev);
		char msg[256];

		while (bufferevent_get_openssl_error(bev) != 0)
			;
		conn_tls_failed(conn, conn->tls_engine->error_reason(
					err, msg, sizeof(msg)),
				(what & BEV_EVENT_EOF) && err == 0 ?
				IOEV_CLOSE_EOF : IOEV_CLOSE_TLS);
	} else if (what & BEV_EVENT_EOF) {
		conn_close(conn, IOEV_CLOSE_EOF);
	} else if (conn->tls && bufferevent_get_openssl_error(bev) != 0) {
		unsigned long err;
		char msg[256];

		while ((err = bufferevent_get_openssl_error(bev)) != 0)
			log_debug(conn->id, "tls", "error", "msg=\"%s\"",
				  conn->tls_engine->error_reason(
					err, msg, sizeof(msg)));
		conn_close(conn, IOEV_CLOSE_TLS);
	} else {
		conn_close(conn, conn->tls ? IOEV_CLOSE_TLS : IOEV_CLOSE_ERROR);
	}
}

static void
conn_apply_limits(struct ioev_conn *conn)
{
	struct timeval tv;

	if (conn->bev == NULL)
		return;
	bufferevent_setwatermark(conn->bev, EV_READ, 0, conn->limits.input_max);
	bufferevent_setwatermark(conn->bev, EV_WRITE,
				 conn->limits.output_high / 2, 0);
	/* libevent writes at most 16 KiB per call by default: a 128 KiB
	 * POP3 chunk took eight writev calls and eight loop turns. TLS
	 * records are 16 KiB whatever this says. */
	if (!conn->tls)
		bufferevent_set_max_single_write(conn->bev,
						 conn->limits.output_high);
	/* During a handshake only its own timer runs: the protocol's idle
	 * timeout would have it write a goodbye that cannot go out. */
	if (conn->handshaking) {
		bufferevent_set_timeouts(conn->bev, NULL, NULL);
		return;
	}
	/* the write timeout too: with output stuck, reading is off and the
	 * read timeout would never run */
	if (conn_read_timeout(conn, &tv) != NULL)
		bufferevent_set_timeouts(conn->bev, conn->rev != NULL ? NULL : &tv,
					 &tv);
	else
		bufferevent_set_timeouts(conn->bev, NULL, NULL);
	if (conn->rev_on)
		conn_update_read(conn);		/* the new timeout */
}

static void
conn_setup_bev(struct ioev_conn *conn)
{
	if (conn->tls)
		bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb,
			  conn);
	if (conn->tls && conn->rev != NULL) {
		/* STARTTLS: the TLS bufferevent reads from now on */
		event_free(conn->rev);
		conn->rev = NULL;
		conn->rev_on = false;
	} else if (!conn->tls && conn->rev == NULL) {
		conn_new_rev(conn);
	}
	conn_apply_limits(conn);
	bufferevent_enable(conn->bev, EV_WRITE);
	conn->input_stalled = false;	/* a new, empty input buffer */
	conn_update_read(conn);
}

static void
addr_to_text(const struct sockaddr_storage *ss, char *ip, size_t ipsz,
	     unsigned *port_r)
{
	*port_r = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)ipsz);
		*port_r = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)ipsz);
		*port_r = ntohs(sin6->sin6_port);
	} else if (ss->ss_family == AF_UNIX) {
		snprintf(ip, ipsz, "unix");
	} else {
		snprintf(ip, ipsz, "unknown");
	}
}

static bool
addr_is_local(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_UNIX)
		return true;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;
		const uint8_t *a = sin6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127;
	}
	return false;
}

struct ioev_conn *
ioev_conn_new(struct ioev_loop *loop, int fd, struct ioev_tls *tls,
	      const struct ioev_conn_limits *limits)
{
	struct ioev_conn *conn = xcalloc(1, sizeof(*conn));
	struct sockaddr_storage local;
	socklen_t sl;

	conn->loop = loop;
	conn->fd = fd;
	conn->refs = 1;
	log_new_id(conn->id);
	evutil_make_socket_nonblocking(fd);
	sl = sizeof(conn->peer);
	if (getpeername(fd, (struct sockaddr *)&conn->peer, &sl) < 0)
		memset(&conn->peer, 0, sizeof(conn->peer));
	sl = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &sl) < 0)
		memset(&local, 0, sizeof(local));
	addr_to_text(&conn->peer, conn->peer_ip, sizeof(conn->peer_ip),
		     &conn->peer_port);
	addr_to_text(&local, conn->local_ip, sizeof(conn->local_ip),
		     &conn->local_port);
	conn->peer_local = addr_is_local(&conn->peer);
	if (conn->peer.ss_family == AF_UNIX) {
		struct ucred uc;

		sl = sizeof(uc);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) == 0 &&
		    sl == sizeof(uc)) {
			conn->peer_cred_ok = true;
			conn->peer_uid = uc.uid;
			conn->peer_gid = uc.gid;
			conn->peer_pid = uc.pid;
		}
	}

	conn->kick = event_new(loop->base, -1, 0, conn_kick_event, conn);
	if (conn->kick == NULL)
		panic("ioev: event_new failed");
	if (tls != NULL) {
		conn_tls_start(conn, fd, tls, NULL);
	} else {
		conn->bev = bufferevent_socket_new(loop->base, fd,
						   BEV_OPT_DEFER_CALLBACKS);
	}
	if (conn->bev == NULL)
		panic("ioev: cannot create a bufferevent");
	ioev_conn_set_limits(conn, limits);
	conn_setup_bev(conn);

	conn->next = loop->conns;
	if (loop->conns != NULL)
		loop->conns->prev = conn;
	loop->conns = conn;
	loop->n_conns++;
	return conn;
}

/* ------------------------------------------------- outgoing connections */

struct ioev_connect {
	struct ioev_loop *loop;
	struct event *ev;
	int fd;
	int error;		/* failed before the event: reported by it */
	struct ioev_conn_limits limits;
	bool has_limits;
	ioev_connect_cb_t *cb;
	void *ctx;
};

static void
ioev_connect_free(struct ioev_connect *c)
{
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void
ioev_connect_event(evutil_socket_t fd, short what, void *arg)
{
	struct ioev_connect *c = arg;
	struct ioev_conn *conn = NULL;
	int err = c->error;

	(void)fd;
	if (err == 0 && (what & EV_TIMEOUT) != 0) {
		err = ETIMEDOUT;
	} else if (err == 0) {
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
	}
	if (err == 0) {
		conn = ioev_conn_new(c->loop, c->fd, NULL,
				     c->has_limits ? &c->limits : NULL);
		c->fd = -1;
	}
	c->cb(conn, err, c->ctx);
	ioev_connect_free(c);
}

struct ioev_connect *
ioev_connect_start(struct ioev_loop *loop, const struct sockaddr *addr,
		   socklen_t addrlen, const struct sockaddr *bind_addr,
		   socklen_t bind_len, uint64_t timeout_ms,
		   const struct ioev_conn_limits *limits,
		   ioev_connect_cb_t *cb, void *ctx)
{
	struct ioev_connect *c = xcalloc(1, sizeof(*c));
	struct timeval tv = {
		.tv_sec = (time_t)(timeout_ms / 1000),
		.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000,
	};

	c->loop = loop;
	c->cb = cb;
	c->ctx = ctx;
	if (limits != NULL) {
		c->limits = *limits;
		c->has_limits = true;
	}
	c->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		       SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->error = errno;
	} else if (bind_addr != NULL && bind(c->fd, bind_addr, bind_len) < 0) {
		c->error = errno;
		close(c->fd);
		c->fd = -1;
	} else if (connect(c->fd, addr, addrlen) < 0 && errno != EINPROGRESS) {
		c->error = errno;
		close(c->fd);
		c->fd = -1;
	}
	if (c->error != 0) {
		/* reported from the loop, never from inside this call */
		c->ev = event_new(loop->base, -1, 0, ioev_connect_event, c);
		if (c->ev == NULL)
			panic("ioev: event_new failed");
		event_active(c->ev, 0, 0);
		return c;
	}
	if (addr->sa_family != AF_UNIX) {
		int one = 1;

		/* commands and replies are small and answered one by one */
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	}
	c->ev = event_new(loop->base, c->fd, EV_WRITE, ioev_connect_event, c);
	if (c->ev == NULL)
		panic("ioev: event_new failed");
	event_add(c->ev, timeout_ms > 0 ? &tv : NULL);
	return c;
}

void
ioev_connect_cancel(struct ioev_connect **cp)
{
	if (*cp == NULL)
		return;
	ioev_connect_free(*cp);
	*cp = NULL;
}

void
ioev_conn_set_callbacks(struct ioev_conn *conn,
			const struct ioev_conn_callbacks *cbs, void *ctx)
{
	if (cbs->input == NULL || cbs->close == NULL)
		panic("ioev: input and close callbacks are required");
	conn->cbs = cbs;
	conn->ctx = ctx;
	conn_update_read(conn);
	if (conn->closed) {
		conn_kick(conn);
	} else if (ioev_conn_input_len(conn) > 0) {
		conn->kick_input = true;
		conn_kick(conn);
	}
}

void
ioev_conn_set_release(struct ioev_conn *conn, void (*release)(void *ctx),
		      void *ctx)
{
	conn->release = release;
	conn->release_ctx = ctx;
}

void
ioev_conn_set_limits(struct ioev_conn *conn,
		     const struct ioev_conn_limits *limits)
{
	if (limits != NULL)
		conn->limits = *limits;
	if (conn->limits.input_max == 0)
		conn->limits.input_max = IOEV_DEFAULT_INPUT_MAX;
	if (conn->limits.output_high == 0)
		conn->limits.output_high = IOEV_DEFAULT_OUTPUT_HIGH;
	if (conn->limits.output_max == 0)
		conn->limits.output_max = IOEV_DEFAULT_OUTPUT_MAX;
	if (conn->limits.output_max < conn->limits.output_high)
		conn->limits.output_max = conn->limits.output_high;
	conn_apply_limits(conn);
	/* a larger input_max leaves room to read again */
	conn_input_consumed(conn);
}

void
ioev_conn_set_output_high(struct ioev_conn *conn, size_t output_high)
{
	struct ioev_conn_limits limits = conn->limits;

	limits.output_high = output_high;
	if (output_high == 0 && limits.output_max < IOEV_DEFAULT_OUTPUT_HIGH)
		limits.output_max = IOEV_DEFAULT_OUTPUT_HIGH;
	ioev_conn_set_limits(conn, &limits);
}

void
ioev_conn_ref(struct ioev_conn *conn)
{
	conn->refs++;
}

void
ioev_conn_unref(struct ioev_conn **connp)
{
	struct ioev_conn *conn = *connp;

	*connp = NULL;
	if (conn == NULL)
		return;
	if (conn->refs == 0)
		panic("ioev: conn refcount underflow");
	if (--conn->refs == 0) {
		if (!conn->notified)
			panic("ioev: last reference dropped on a live conn");
		conn_free(conn);
	}
}

bool
ioev_conn_is_closed(const struct ioev_conn *conn)
{
	return conn->closed;
}

void
ioev_conn_close(struct ioev_conn *conn)
{
	conn_close(conn, IOEV_CLOSE_LOCAL);
}

void
ioev_conn_close_after_write(struct ioev_conn *conn)
{
	if (conn->closed)
		return;
	conn->close_after_write = true;
	conn_update_read(conn);
	if (ioev_conn_output_len(conn) == 0)
		conn_close(conn, conn->after_write_reason);
}

const char *
ioev_conn_id(const struct ioev_conn *conn)
{
	return conn->id;
}

const char *
ioev_conn_peer_ip(const struct ioev_conn *conn)
{
	return conn->peer_ip;
}

unsigned
ioev_conn_peer_port(const struct ioev_conn *conn)
{
	return conn->peer_port;
}

const char *
ioev_conn_local_ip(const struct ioev_conn *conn)
{
	return conn->local_ip;
}

unsigned
ioev_conn_local_port(const struct ioev_conn *conn)
{
	return conn->local_port;
}

const struct sockaddr_storage *
ioev_conn_peer_sockaddr(const struct ioev_conn *conn)
{
	return &conn->peer;
}

bool
ioev_conn_peer_is_local(const struct ioev_conn *conn)
{
	return conn->peer_local;
}

int
ioev_conn_set_keepalive(struct ioev_conn *conn, unsigned idle_s)
{
	int one = 1, idle = (int)idle_s, intvl = 60, cnt = 5;

	if (conn->closed || conn->fd < 0)
		return -1;
	if (setsockopt(conn->fd, SOL_SOCKET, SO_KEEPALIVE, &one,
		       sizeof(one)) < 0)
		return -1;
	if (idle_s == 0)
		return 0;
	/* unix sockets have no TCP options: SO_KEEPALIVE alone is fine */
	if (setsockopt(conn->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
		       sizeof(idle)) < 0 ||
	    setsockopt(conn->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
		       sizeof(intvl)) < 0 ||
	    setsockopt(conn->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt,
		       sizeof(cnt)) < 0)
		return -1;
	return 0;
}

bool
ioev_conn_peer_cred(const struct ioev_conn *conn, uid_t *uid_r, gid_t *gid_r,
		    pid_t *pid_r)
{
	if (!conn->peer_cred_ok)
		return false;
	*uid_r = conn->peer_uid;
	*gid_r = conn->peer_gid;
	*pid_r = conn->peer_pid;
	return true;
}

/* ----------------------------------------------------------------- input */

/* Input is dead once the protocol said goodbye or asked for TLS: what
 * follows in the buffer must never be parsed. While paused it reads as
 * empty so a protocol's parse loop stops by itself. */
static struct evbuffer *
conn_input(const struct ioev_conn *conn)
{
	if (conn->bev == NULL || conn->close_after_write ||
	    conn->starttls_pending || conn->pauses > 0)
		return NULL;
	return bufferevent_get_input(conn->bev);
}

enum ioev_line_result
ioev_conn_readline(struct ioev_conn *conn, size_t max_len,
		   struct ioev_line *line_r)
{
	struct evbuffer *in = conn_input(conn);
	struct evbuffer_ptr end, pos;
	size_t avail, range;
	const char *p;

	memset(line_r, 0, sizeof(*line_r));
	if (in == NULL || max_len == 0)
		return IOEV_LINE_NEED_MORE;
	avail = evbuffer_get_length(in);
	range = avail < max_len ? avail : max_len;
	if (evbuffer_ptr_set(in, &end, range, EVBUFFER_PTR_SET) < 0)
		return IOEV_LINE_NEED_MORE;
	pos = evbuffer_search_range(in, "\n", 1, NULL, &end);
	if (pos.pos < 0)
		return avail >= max_len ? IOEV_LINE_TOO_LONG : IOEV_LINE_NEED_MORE;
	/* UNSAFE: pos.pos < range <= avail, so pos.pos + 1 bytes exist */
	p = (const char *)evbuffer_pullup(in, pos.pos + 1);
	line_r->data = p;
	line_r->len = (size_t)pos.pos;
	line_r->size = (size_t)pos.pos + 1;
	line_r->crlf = pos.pos > 0 && p[pos.pos - 1] == '\r';
	return IOEV_LINE_OK;
}

bool
ioev_conn_skip_line(struct ioev_conn *conn)
{
	struct evbuffer *in = conn_input(conn);
	struct evbuffer_ptr pos;

	if (in == NULL)
		return false;
	pos = evbuffer_search(in, "\n", 1, NULL);
	if (pos.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		conn_input_consumed(conn);
		return false;
	}
	evbuffer_drain(in, (size_t)pos.pos + 1);
	conn_input_consumed(conn);
	return true;
}

size_t
ioev_conn_input_len(const struct ioev_conn *conn)
{
	struct evbuffer *in = conn_input(conn);

	return in != NULL ? evbuffer_get_length(in) : 0;
}

const uint8_t *
ioev_conn_peek(struct ioev_conn *conn, size_t want, size_t *len_r)
{
	struct evbuffer *in = conn_input(conn);
	size_t avail = in != NULL ? evbuffer_get_length(in) : 0;

	if (want > avail)
		want = avail;
	*len_r = want;
	if (want == 0)
		return NULL;
	return evbuffer_pullup(in, (ev_ssize_t)want);
}

void
ioev_conn_consume(struct ioev_conn *conn, size_t n)
{
	struct evbuffer *in = conn_input(conn);

	if (in == NULL)
		return;
	if (n > evbuffer_get_length(in))
		panic("ioev: consume %zu of %zu buffered bytes", n,
		      evbuffer_get_length(in));
	evbuffer_drain(in, n);
	if (n > 0)
		conn_input_consumed(conn);
}

void
ioev_conn_consume_wipe(struct ioev_conn *conn, size_t n)
{
	struct evbuffer *in = conn_input(conn);

	if (in != NULL && n > 0 && n <= evbuffer_get_length(in)) {
		unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)n);

		if (p != NULL)
			mem_wipe(p, n);
	}
	ioev_conn_consume(conn, n);
}

void
ioev_conn_pause(struct ioev_conn *conn)
{
	conn->pauses++;
	conn_update_read(conn);
}

void
ioev_conn_resume(struct ioev_conn *conn)
{
	if (conn->pauses == 0)
		panic("ioev: resume without pause");
	if (--conn->pauses > 0 || conn->closed)
		return;
	conn_update_read(conn);
	/* pipelined commands may already be buffered: no read event would
	 * announce them */
	if (ioev_conn_input_len(conn) > 0) {
		conn->kick_input = true;
		conn_kick(conn);
	} else if (conn->input_eof) {
		conn_kick(conn);
	}
}

/* ---------------------------------------------------------------- output */

int
ioev_conn_write(struct ioev_conn *conn, const void *data, size_t len)
{
	struct evbuffer *out;
	size_t have;

	if (conn->closed || conn->bev == NULL || conn->close_after_write)
		return -1;
	out = bufferevent_get_output(conn->bev);
	have = evbuffer_get_length(out);
	if (have + conn->eager_bytes > conn->limits.output_max ||
	    len > conn->limits.output_max - have - conn->eager_bytes) {
		log_info(conn->id, "conn", "overflow", "buffered=%zu write=%zu",
			 have, len);
		conn_close(conn, IOEV_CLOSE_OVERFLOW);
		return -1;
	}
	if (have == 0 && !conn->tls && !conn->starttls_pending &&
	    conn->eager_bytes + len <= conn->limits.output_high / 2) {
		/* Nothing queued: try the socket at once, as the loop would
		 * on its next turn, which saves arming and disarming the
		 * write event (two epoll_ctl calls) per reply. Only small
		 * writes (replies; bulk output is buffered and paced as
		 * before). Whatever the socket does not take, and any error,
		 * is left to the bufferevent as before. */
		evutil_socket_t fd = bufferevent_getfd(conn->bev);
		ssize_t n = fd < 0 ? -1 :
			    send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			if (conn->eager_bytes == 0)
				conn_kick(conn);
			conn->eager_bytes += (size_t)n;
			data = (const char *)data + n;
			len -= (size_t)n;
			if (len == 0)
				return 0;
		}
	}
	if (bufferevent_write(conn->bev, data, len) < 0)
		panic("ioev: bufferevent_write failed");
	if (!conn->output_full && have + len > conn->limits.output_high) {
		conn->output_full = true;
		conn_update_read(conn);
	}
	return 0;
}

int
ioev_conn_puts(struct ioev_conn *conn, const char *s)
{
	return ioev_conn_write(conn, s, strlen(s));
}

int
ioev_conn_printf(struct ioev_conn *conn, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int ret;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	ret = ioev_conn_write(conn, s, strlen(s));
	free(s);
	return ret;
}

size_t
ioev_conn_output_len(const struct ioev_conn *conn)
{
	if (conn->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(conn->bev));
}

bool
ioev_conn_output_is_full(const struct ioev_conn *conn)
{
	return conn->output_full;
}

/* ------------------------------------------------------------------- TLS */

int
ioev_conn_starttls(struct ioev_conn *conn, struct ioev_tls *tls,
		   const char **error_r)
{
	if (conn->closed || conn->bev == NULL) {
		*error_r = "connection closed";
		return -1;
	}
	if (conn->tls || conn->starttls_pending) {
		*error_r = "TLS already active";
		return -1;
	}
	/* Discard now (what was pipelined with the command) and again at the
	 * switch (what arrived meanwhile); reading stays off in between. */
	evbuffer_drain(bufferevent_get_input(conn->bev),
		       evbuffer_get_length(bufferevent_get_input(conn->bev)));
	conn->starttls_pending = true;
	conn->starttls_ctx = tls;
	conn_update_read(conn);
	if (ioev_conn_output_len(conn) == 0)
		conn_starttls_switch(conn);
	return 0;
}

int
ioev_conn_starttls_client(struct ioev_conn *conn, struct ioev_tls *tls,
			  struct ssl_st *ssl, const char **error_r)
{
	if (conn->closed || conn->bev == NULL) {
		*error_r = "connection closed";
		return -1;
	}
	if (conn->tls || conn->starttls_pending) {
		*error_r = "TLS already active";
		return -1;
	}
	if (ioev_conn_output_len(conn) > 0) {
		*error_r = "output still pending";
		return -1;
	}
	/* What the server sent after its "220" was not protected by the
	 * session to come: a man in the middle may have added replies
	 * (the client side of CVE-2011-0411). */
	evbuffer_drain(bufferevent_get_input(conn->bev),
		       evbuffer_get_length(bufferevent_get_input(conn->bev)));
	bufferevent_free(conn->bev);
	conn_tls_start(conn, conn->fd, tls, ssl);
	conn_setup_bev(conn);
	return 0;
}

struct ssl_st *
ioev_conn_tls_session(const struct ioev_conn *conn)
{
	if (!conn->tls || conn->bev == NULL)
		return NULL;
	return bufferevent_openssl_get_ssl(conn->bev);
}

const char *
ioev_conn_tls_error(const struct ioev_conn *conn)
{
	return conn->tls_error;
}

bool
ioev_conn_is_tls(const struct ioev_conn *conn)
{
	return conn->tls;
}

bool
ioev_conn_tls_info(const struct ioev_conn *conn,
		   struct ioev_tls_info *info_r)
{
	memset(info_r, 0, sizeof(*info_r));
	if (!conn->tls || conn->bev == NULL || conn->handshaking)
		return false;
	conn->tls_engine->session_info(bufferevent_openssl_get_ssl(conn->bev),
				       info_r);
	return info_r->bits > 0;
}

/* --------------------------------------------------------- blocking work */

struct conn_job {
	struct ioev_conn *conn;
	threadpool_work_cb_t *work;
	threadpool_done_cb_t *done;
	void *ctx;
	/* ioev_conn_run_external */
	struct threadpool *pool;
	struct threadpool_job *external;
};

static void
conn_job_work(void *arg)
{
	struct conn_job *job = arg;

	if (job->work != NULL)
		job->work(job->ctx);
}

static void
conn_job_done(void *arg)
{
	struct conn_job *job = arg;
	struct ioev_conn *conn = job->conn;

	if (job->done != NULL)
		job->done(job->ctx);
	conn->jobs--;
	if ((conn->closed || conn->input_eof) && conn->jobs == 0)
		conn_kick(conn);
	ioev_conn_unref(&conn);
	free(job);
}

void
ioev_conn_run_blocking(struct ioev_conn *conn, threadpool_work_cb_t *work,
		       threadpool_done_cb_t *done, void *ctx)
{
	struct conn_job *job = xmalloc(sizeof(*job));

	job->conn = conn;
	job->work = work;
	job->done = done;
	job->ctx = ctx;
	conn->jobs++;
	ioev_conn_ref(conn);
	threadpool_submit(conn->loop->pool, conn_job_work, conn_job_done, job);
}

void
ioev_conn_run_external(struct ioev_conn *conn, ioev_external_start_cb_t *start,
		       threadpool_done_cb_t *done, void *ctx)
{
	struct conn_job *job = xcalloc(1, sizeof(*job));

	job->conn = conn;
	job->done = done;
	job->ctx = ctx;
	job->pool = conn->loop->pool;
	conn->jobs++;
	ioev_conn_ref(conn);
	job->external = threadpool_external_begin(job->pool, conn_job_done,
						  job);
	start(ctx, (struct ioev_external *)job);
}

void
ioev_external_done(struct ioev_external *h)
{
	struct conn_job *job = (struct conn_job *)h;

	/* After this call the loop may run conn_job_done and free job. */
	threadpool_external_done(job->pool, job->external);
}
