/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the supervisor and worker halves of src/daemon/:
 * listening sockets, privilege drop, worker entry, sd_notify.
 */
#ifndef HERALD_DAEMON_PRIVATE_H
#define HERALD_DAEMON_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "daemon/privdrop.h"

struct daemon_listener {
	enum listen_proto proto;
	char *text;		/* "127.0.0.1:25", "unix:/run/herald/lmtp" */
	char *unix_path;	/* LISTEN_UNIX: unlinked when closed */
	int fd;
};

struct daemon_listeners {
	struct daemon_listener *v;
	size_t n;
};


/* Binds every listener of cfg, reusing the fds of `old` (may be NULL) for
 * entries with the same protocol and address; reused entries get fd -1 in
 * old. Returns 0, or -1 with an allocated *error_r (nothing left open). */
int daemon_listeners_open(const struct config *cfg,
			  const struct daemon_creds *creds,
			  struct daemon_listeners *old,
			  struct daemon_listeners *out, char **error_r);
/* Closes the fds still open and frees; unlinks unix socket files when
 * unlink_unix is true. */
void daemon_listeners_close(struct daemon_listeners *ls, bool unlink_unix);
/* "smtp=127.0.0.1:25 imap=[::1]:143" for the "ready" line; caller frees. */
char *daemon_listeners_describe(const struct daemon_listeners *ls);

/* Worker process body; never returns (calls _exit). runner: the queue
 * runner's process (ls unused, the runner hooks run instead of accept). */
void daemon_worker_main(const struct config *cfg, struct tls_server *tls,
			const struct daemon_listeners *ls,
			const struct daemon_creds *creds, pid_t supervisor,
			unsigned generation, unsigned index, bool runner)
	__attribute__((noreturn));
/* Whether a runner is to be started for cfg (hooks set, enabled). */
bool daemon_runner_wanted(const struct config *cfg);

/* Worker signals: SIGTERM = close everything and exit now; this one =
 * stop accepting and exit once established connections are gone. */
#define DAEMON_SIG_DRAIN SIGUSR1

/* Sends one sd_notify message ("READY=1") if NOTIFY_SOCKET is set. */
void daemon_notify(const char *msg);

#endif
