/* SPDX-License-Identifier: MIT */
/*
 * `herald serve`: a supervisor that binds the listeners and loads TLS (as
 * root when started as root), then runs worker processes that drop
 * privileges and serve connections on an event loop. Protocols plug in
 * through a start handler per enum listen_proto.
 */
#ifndef HERALD_DAEMON_DAEMON_H
#define HERALD_DAEMON_DAEMON_H

#include <stdbool.h>

#include "conf/config.h"
#include "conf/worker.h"
#include "lib/ioev.h"

/* Takes over a freshly accepted connection on a listener of `proto`. For
 * implicit-TLS protocols the handshake is already under way (the first
 * input callback comes after it). The handler installs its callbacks with
 * ioev_conn_set_callbacks() (and limits) before returning; from then on
 * the conn is the protocol's until its close callback. */
typedef void daemon_protocol_start_cb_t(struct ioev_conn *conn,
					struct worker *w,
					enum listen_proto proto);

/* Refuses a connection that is over max_connections_per_ip or
 * max_connections with the protocol's own words ("421 ...", "-ERR ...")
 * and ioev_conn_close_after_write(); starts no session. Never called for
 * implicit-TLS listeners (their connections are closed: a handshake just
 * to refuse costs what the limit saves). */
typedef void daemon_protocol_refuse_cb_t(struct ioev_conn *conn,
					 struct worker *w,
					 enum worker_refusal why);

/* Registers (or with NULL removes) the handler for a protocol. Call before
 * daemon_serve(): cli/ registers the built-in protocols
 * (cli_modules_register()); tests plug in an echo handler. */
void daemon_set_protocol_handler(enum listen_proto proto,
				 daemon_protocol_start_cb_t *start);
/* The registered handler for proto; NULL when there is none. */
daemon_protocol_start_cb_t *daemon_protocol_handler(enum listen_proto proto);
/* The refusal handler, likewise; without one a refused connection is
 * just closed. */
void daemon_set_protocol_refuse_handler(enum listen_proto proto,
					daemon_protocol_refuse_cb_t *refuse);
daemon_protocol_refuse_cb_t *
daemon_protocol_refuse_handler(enum listen_proto proto);
/* Checks that every protocol cfg listens on has a handler. Returns 0, or
 * -1 with an allocated "listen.imap: the imap protocol is not available in
 * this build" in *error_r. */
int daemon_check_protocols(const struct config *cfg, char **error_r);

/* Called in each worker after privileges are dropped and before the first
 * accept (init: e.g. open the store into w->store; returning -1 with an
 * allocated *error_r makes the worker exit with status 1, and the
 * supervisor restarts it with backoff; DAEMON_INIT_FATAL, for what no
 * restart can cure (a database that is not Herald's, a file
 * Herald's user may not write), makes it exit with
 * DAEMON_EXIT_FATAL and the supervisor stop the server, which exits 1),
 * and after the loop ends (deinit). */
#define DAEMON_INIT_FATAL (-2)
#define DAEMON_EXIT_FATAL 78	/* EX_CONFIG */
typedef int daemon_worker_init_cb_t(struct worker *w, char **error_r);
typedef void daemon_worker_deinit_cb_t(struct worker *w);
void daemon_set_worker_hooks(daemon_worker_init_cb_t *init,
			     daemon_worker_deinit_cb_t *deinit);

/* The queue runner: one more process beside the workers, with no
 * listeners, started, restarted with backoff, reloaded and stopped like
 * them. After the worker init hook (the store is open) start runs on the
 * process's loop; SIGTERM or DAEMON_SIG_DRAIN (reload) calls stop, which
 * must make the loop end (ioev_loop_stop) once its work is put away.
 * Without hooks, or with [queue] enabled = no, there is no runner. */
typedef int daemon_runner_start_cb_t(struct worker *w, char **error_r);
typedef void daemon_runner_stop_cb_t(struct worker *w);
void daemon_set_runner_hooks(daemon_runner_start_cb_t *start,
			     daemon_runner_stop_cb_t *stop);

/* Runs the server until SIGTERM or SIGINT; SIGHUP re-reads config_path
 * (through config_load()) and, if it is valid, starts a new generation of
 * workers while the old one drains. cfg stays the caller's. Returns the
 * process exit status: 0 after a clean stop, 1 if start-up failed (the
 * reason is logged). Must be called from a single-threaded process. */
int daemon_serve(const char *config_path, struct config *cfg);

#endif
