/* SPDX-License-Identifier: MIT */
/*
 * A worker process: drops privileges, opens its event loop and thread
 * pool, accepts on the shared listening sockets and hands each connection
 * to its protocol's start handler, or refuses it when its address or the
 * worker has too many open (limits that hold for every protocol). SIGTERM
 * closes everything and exits; DAEMON_SIG_DRAIN stops accepting and exits
 * when the last connection ends.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon-private.h"
#include "lib/cidr.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "tls/tls.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* Connections taken per readiness event before other listeners and
 * established connections get a turn. */
#define ACCEPT_BATCH 32
#define ACCEPT_PAUSE_MS 1000
/* File descriptors kept free of connections: the store's database and
 * blob files, the pool's eventfd, listeners, log, a refusal in flight. */
#define NOFILE_RESERVE 64
/* Files one connection may hold: its socket, and the spool file of a
 * message in transit or the blob file a RETR reads. */
#define NOFILE_PER_CONN 2
#define IP_BUCKETS 1024

/* The open connections of one client address (or local user) here. */
struct worker_ip {
	struct worker_ip *next;
	struct worker_state *ws;
	unsigned n;
	char key[CIDR_KEY_MAX + 8];	/* "192.0.2.1", "uid:1000" */
};

struct worker_listener {
	struct worker_state *ws;
	enum listen_proto proto;
	int fd;
	struct ioev_watch *watch;
};

struct worker_state {
	struct worker w;
	struct worker_listener *ls;
	size_t n_ls;
	struct ioev_timer *accept_pause;
	struct ioev_watch *sig_term, *sig_drain;
	struct worker_ip *ips[IP_BUCKETS];
	size_t max_conns;		/* cfg's, within the open-file limit */
};

static daemon_worker_init_cb_t *hook_init;
static daemon_worker_deinit_cb_t *hook_deinit;
static daemon_runner_start_cb_t *runner_start;
static daemon_runner_stop_cb_t *runner_stop;

void
daemon_set_runner_hooks(daemon_runner_start_cb_t *start,
			daemon_runner_stop_cb_t *stop)
{
	runner_start = start;
	runner_stop = stop;
}

bool
daemon_runner_wanted(const struct config *cfg)
{
	return runner_start != NULL && cfg->queue.enabled;
}

void
daemon_set_worker_hooks(daemon_worker_init_cb_t *init,
			daemon_worker_deinit_cb_t *deinit)
{
	hook_init = init;
	hook_deinit = deinit;
}

static void
worker_accepting(struct worker_state *ws, bool on)
{
	for (size_t i = 0; i < ws->n_ls; i++) {
		if (ws->ls[i].watch == NULL)
			continue;
		if (on)
			ioev_watch_start(ws->ls[i].watch);
		else
			ioev_watch_stop(ws->ls[i].watch);
	}
}

static void
worker_accept_resume(void *arg)
{
	struct worker_state *ws = arg;

	if (!ws->w.draining)
		worker_accepting(ws, true);
}

static unsigned
ip_bucket(const char *key)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *key != '\0'; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h % IP_BUCKETS;
}

static struct worker_ip *
ip_get(struct worker_state *ws, const char *key)
{
	unsigned b = ip_bucket(key);
	struct worker_ip *ip;

	for (ip = ws->ips[b]; ip != NULL; ip = ip->next)
		if (strcmp(ip->key, key) == 0)
			return ip;
	ip = xcalloc(1, sizeof(*ip));
	ip->ws = ws;
	snprintf(ip->key, sizeof(ip->key), "%s", key);
	ip->next = ws->ips[b];
	ws->ips[b] = ip;
	return ip;
}

/* A counted connection has ended (ioev's release callback). */
static void
ip_release(void *ctx)
{
	struct worker_ip *ip = ctx, **pp;

	if (--ip->n > 0)
		return;
	for (pp = &ip->ws->ips[ip_bucket(ip->key)]; *pp != ip;
	     pp = &(*pp)->next)
		;
	*pp = ip->next;
	free(ip);
}

/* What a connection counts against: the peer's network (an IPv4
 * address, an IPv6 connections_ipv6_prefix network), or on the sendmail
 * socket the local user (the socket is open to all of them). False for
 * what is not limited (LMTP's unix socket: the local MTA). */
static bool
conn_key(int fd, enum listen_proto proto, const struct config *cfg,
	 const struct sockaddr_storage *ss, char *key, size_t keysz)
{
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		return cidr_network_key(ss, cfg->connections_ipv6_prefix, key,
					keysz);
	if (ss->ss_family == AF_UNIX && proto == PROTO_SENDMAIL) {
		struct ucred uc;
		socklen_t sl = sizeof(uc);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0)
			return false;
		snprintf(key, keysz, "uid:%u", (unsigned)uc.uid);
		return true;
	}
	return false;
}

/* Over a limit: the protocol's "too many connections" where that is
 * cheap, else (implicit TLS: it would need a handshake) just a close. */
static void
worker_refuse(struct worker_state *ws, int cfd, enum listen_proto proto,
	      enum worker_refusal why)
{
	daemon_protocol_refuse_cb_t *refuse =
		daemon_protocol_refuse_handler(proto);
	struct ioev_conn *conn;

	if (refuse == NULL || listen_proto_is_implicit_tls(proto)) {
		close(cfd);
		return;
	}
	conn = ioev_conn_new(ws->w.loop, cfd, NULL, NULL);
	refuse(conn, &ws->w, why);
	/* a client that never reads must not keep the socket */
	ioev_conn_set_limits(conn, &(struct ioev_conn_limits){
		.idle_timeout_ms = 10000 });
	if (!ioev_conn_is_closed(conn))
		ioev_conn_close_after_write(conn);
}

/* The limits every protocol shares (docs/limits.md "Connections"):
 * max_connections per worker, max_connections_per_ip per address. Starts
 * the protocol's session, or refuses. */
static void
worker_take(struct worker_state *ws, struct worker_listener *l, int cfd,
	    const struct sockaddr_storage *ss)
{
	const struct config *cfg = ws->w.cfg;
	struct worker_ip *ip = NULL;
	struct ioev_conn *conn;
	char key[CIDR_KEY_MAX + 8];

	if (conn_key(cfd, l->proto, cfg, ss, key, sizeof(key))) {
		if (ioev_loop_conn_count(ws->w.loop) >= ws->max_conns) {
			log_info(NULL, "conn", "server-full", "rip=%s proto=%s "
				 "connections=%zu", key,
				 listen_proto_name(l->proto),
				 ioev_loop_conn_count(ws->w.loop));
			worker_refuse(ws, cfd, l->proto, WORKER_REFUSE_TOTAL);
			return;
		}
		ip = ip_get(ws, key);
		if (cfg->max_connections_per_ip > 0 &&
		    ip->n >= cfg->max_connections_per_ip) {
			log_info(NULL, "conn", "too-many-connections",
				 "rip=%s proto=%s count=%u", key,
				 listen_proto_name(l->proto), ip->n + 1);
			worker_refuse(ws, cfd, l->proto, WORKER_REFUSE_PER_IP);
			return;
		}
	} else if (ioev_loop_conn_count(ws->w.loop) >= ws->max_conns) {
		log_info(NULL, "conn", "server-full", "rip=unix proto=%s "
			 "connections=%zu", listen_proto_name(l->proto),
			 ioev_loop_conn_count(ws->w.loop));
		worker_refuse(ws, cfd, l->proto, WORKER_REFUSE_TOTAL);
		return;
	}
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) {
		int one = 1;

		/* Replies go out as soon as they are written: with Nagle, a
		 * reply written while the one before it is unacknowledged
		 * waits for the peer's delayed ACK (40 ms on Linux), and a
		 * client that pipelines (RFC 2920: MAIL, RCPT and DATA in one
		 * send, as Postfix's smtp client does) waits for every reply
		 * of its group before it sends anything to ACK with: a 40 ms
		 * stall per message. Bulk output is written in large chunks
		 * anyway. */
		(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	conn = ioev_conn_new(ws->w.loop, cfd,
			     listen_proto_is_implicit_tls(l->proto) &&
			     ws->w.tls != NULL ?
			     tls_server_ioev(ws->w.tls) : NULL, NULL);
	if (ip != NULL) {
		ip->n++;
		ioev_conn_set_release(conn, ip_release, ip);
	}
	log_debug(ioev_conn_id(conn), listen_proto_name(l->proto),
		  "connect", "rip=%s rport=%u lip=%s lport=%u",
		  ioev_conn_peer_ip(conn), ioev_conn_peer_port(conn),
		  ioev_conn_local_ip(conn), ioev_conn_local_port(conn));
	daemon_protocol_handler(l->proto)(conn, &ws->w, l->proto);
}

static void
worker_accept_cb(int fd, void *arg)
{
	struct worker_listener *l = arg;
	struct worker_state *ws = l->ws;

	for (int i = 0; i < ACCEPT_BATCH && !ws->w.draining; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl,
				  SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;	/* another worker took it */
			/* EMFILE and friends: back off instead of spinning */
			log_warn(NULL, "daemon", "accept-failed", "error=\"%s\"",
				 strerror(errno));
			worker_accepting(ws, false);
			ioev_timer_start(ws->accept_pause, ACCEPT_PAUSE_MS, false);
			return;
		}
		if (sl > sizeof(ss))
			memset(&ss, 0, sizeof(ss));
		worker_take(ws, l, cfd, &ss);
	}
}

/* max_connections, within what the open-file limit leaves: past it,
 * accept(2) would fail with EMFILE and every listener stall. Counted
 * with NOFILE_PER_CONN files each: sessions that each spool a large
 * message would otherwise exhaust the files with half the limit's
 * connections, and no client on any port would be answered. */
static void
worker_set_max_conns(struct worker_state *ws)
{
	struct rlimit rl;
	size_t cap = ws->w.cfg->max_connections;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		size_t room = rl.rlim_cur > NOFILE_RESERVE + ws->n_ls ?
			((size_t)rl.rlim_cur - NOFILE_RESERVE - ws->n_ls) /
			NOFILE_PER_CONN : 1;

		if (room == 0)
			room = 1;

		if (room < cap) {
			log_info(NULL, "daemon", "max-connections", "limit=%zu "
				 "configured=%zu open_files=%llu", room, cap,
				 (unsigned long long)rl.rlim_cur);
			cap = room;
		}
	}
	ws->max_conns = cap;
}

static void
worker_empty(void *arg)
{
	struct worker_state *ws = arg;

	ioev_loop_stop(ws->w.loop);
}

static void
worker_stop_listening(struct worker_state *ws)
{
	ws->w.draining = true;
	ioev_timer_stop(ws->accept_pause);
	for (size_t i = 0; i < ws->n_ls; i++) {
		ioev_watch_free(&ws->ls[i].watch);
		if (ws->ls[i].fd >= 0)
			close(ws->ls[i].fd);
		ws->ls[i].fd = -1;
	}
}

/* The runner has no connections to drain: both signals stop it, and
 * what it had in flight stays in the store for the next runner. */
static void
runner_signal_cb(int sig, void *arg)
{
	struct worker_state *ws = arg;

	if (ws->w.draining)
		return;
	log_info(NULL, "daemon", "runner-stopping", "pid=%d signal=%d",
		 (int)getpid(), sig);
	ws->w.draining = true;
	runner_stop(&ws->w);
}

static void
worker_signal_cb(int sig, void *arg)
{
	struct worker_state *ws = arg;

	if (sig == SIGTERM) {
		log_info(NULL, "daemon", "worker-stopping",
			 "pid=%d connections=%zu", (int)getpid(),
			 ioev_loop_conn_count(ws->w.loop));
		worker_stop_listening(ws);
		ioev_loop_close_all(ws->w.loop);
	} else if (!ws->w.draining) {
		log_info(NULL, "daemon", "worker-draining",
			 "pid=%d connections=%zu", (int)getpid(),
			 ioev_loop_conn_count(ws->w.loop));
		worker_stop_listening(ws);
	}
	ioev_loop_set_empty_cb(ws->w.loop, worker_empty, ws);
}

static void
worker_signals_reset(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t mask;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(DAEMON_SIG_DRAIN, &sa, NULL);
	/* a terminal's ^C or hang-up reaches the whole process group; the
	 * supervisor decides what happens to workers */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	/* stop and drain stay blocked until the loop's watches take them */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, DAEMON_SIG_DRAIN);
	sigprocmask(SIG_SETMASK, &mask, NULL);
}

void
daemon_worker_main(const struct config *cfg, struct tls_server *tls,
		   const struct daemon_listeners *ls,
		   const struct daemon_creds *creds, pid_t supervisor,
		   unsigned generation, unsigned index, bool runner)
{
	struct worker_state ws;
	char *error = NULL;
	sigset_t unblock;
	int status = 0;

	worker_signals_reset();
	if (daemon_privdrop(creds, &error) < 0) {
		log_error(NULL, "daemon", "worker-failed", "pid=%d error=\"%s\"",
			  (int)getpid(), error);
		_exit(1);
	}
	/* after the drop: changing credentials clears the death signal */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() != supervisor)
		_exit(0);

	mem_tune_long_lived();
	memset(&ws, 0, sizeof(ws));
	ws.w.cfg = cfg;
	ws.w.tls = tls;
	ws.w.generation = generation;
	ws.w.index = index;
	ws.w.loop = ioev_loop_new(cfg->store.threads);
	ws.w.pool = ioev_loop_pool(ws.w.loop);
	ws.accept_pause = ioev_timer_new(ws.w.loop, worker_accept_resume, &ws);
	ws.sig_term = ioev_watch_signal(ws.w.loop, SIGTERM, runner ?
					runner_signal_cb : worker_signal_cb,
					&ws);
	ws.sig_drain = ioev_watch_signal(ws.w.loop, DAEMON_SIG_DRAIN, runner ?
					 runner_signal_cb : worker_signal_cb,
					 &ws);
	if (runner)
		prctl(PR_SET_NAME, "herald-runner", 0, 0, 0);
	sigemptyset(&unblock);
	sigprocmask(SIG_SETMASK, &unblock, NULL);

	if (hook_init != NULL && (status = hook_init(&ws.w, &error)) < 0) {
		log_error(NULL, "daemon", "worker-failed", "pid=%d error=\"%s\"",
			  (int)getpid(), error);
		_exit(status == DAEMON_INIT_FATAL ? DAEMON_EXIT_FATAL : 1);
	}

	if (runner && runner_start(&ws.w, &error) < 0) {
		log_error(NULL, "daemon", "runner-failed", "pid=%d error=\"%s\"",
			  (int)getpid(), error);
		_exit(1);
	}
	ws.ls = xcalloc(ls->n > 0 ? ls->n : 1, sizeof(*ws.ls));
	ws.n_ls = runner ? 0 : ls->n;
	for (size_t i = 0; i < ws.n_ls; i++) {
		ws.ls[i].ws = &ws;
		ws.ls[i].proto = ls->v[i].proto;
		ws.ls[i].fd = ls->v[i].fd;
		ws.ls[i].watch = ioev_watch_fd(ws.w.loop, ls->v[i].fd,
					       worker_accept_cb, &ws.ls[i]);
	}
	if (!runner)
		worker_set_max_conns(&ws);
	worker_accepting(&ws, true);
	if (runner) {
		/* the listeners are the workers' */
		for (size_t i = 0; i < ls->n; i++)
			if (ls->v[i].fd >= 0)
				close(ls->v[i].fd);
	}

	if (ioev_loop_run(ws.w.loop) < 0)
		status = 1;

	worker_stop_listening(&ws);
	if (hook_deinit != NULL)
		hook_deinit(&ws.w);
	ioev_watch_free(&ws.sig_term);
	ioev_watch_free(&ws.sig_drain);
	ioev_timer_free(&ws.accept_pause);
	ioev_loop_free(&ws.w.loop);
	free(ws.ls);
#if defined(__SANITIZE_ADDRESS__)
	/* _exit skips LeakSanitizer's check; the runner frees everything
	 * it held when it stopped, so with ASAN_OPTIONS=detect_leaks=1 what
	 * it leaked is reported here (a no-op with detect_leaks=0) */
	if (runner)
		__lsan_do_leak_check();
#endif
	/* _exit: the supervisor's atexit handlers and stdio are not ours */
	_exit(status);
}
