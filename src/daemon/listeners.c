/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets, bound once by the supervisor (as root for ports below
 * 1024) and shared by every worker, which accept on them non-blocking. A
 * reload keeps the sockets of unchanged listeners so no connection attempt
 * is refused while workers change generation.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon-private.h"
#include "lib/buf.h"
#include "lib/mem.h"

#define LISTEN_BACKLOG 511
/* LMTP and the like: the herald group (e.g. postfix added to it) may
 * connect, others may not. */
#define UNIX_SOCKET_MODE 0660
/* Local submission: any local user may connect; the server tells who from
 * the socket's peer credentials (SO_PEERCRED). */
#define SENDMAIL_SOCKET_MODE 0666

static int
listener_bind_inet(const struct listen_addr *a, char **error_r)
{
	int one = 1;
	int fd = socket(a->ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		*error_r = xasprintf("%s: socket: %s", a->text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]:25" means IPv6 only; IPv4 is its own "0.0.0.0:25" line, so
	 * both can be listed without EADDRINUSE. */
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		*error_r = xasprintf("%s: IPV6_V6ONLY: %s", a->text,
				     strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->sslen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		*error_r = xasprintf("%s: cannot listen: %s", a->text,
				     strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The sendmail socket's directory (/run/herald, a tmpfs emptied at boot)
 * is made when missing: readable and searchable by all, since every local
 * user must reach the socket, and left to the supervisor's user (root):
 * workers never bind, and a directory of theirs would let a compromised
 * worker swap the socket for a symlink before root's chmod/chown. */
static int
listener_unix_dir(const char *path, char **error_r)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int ret = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0) {
			/* chmod: the daemon's umask would leave others out */
			if (chmod(dir, 0755) < 0) {
				*error_r = xasprintf("cannot set up %s: %s",
						     dir, strerror(errno));
				ret = -1;
			}
		} else if (errno != EEXIST) {
			*error_r = xasprintf("cannot create %s: %s", dir,
					     strerror(errno));
			ret = -1;
		}
	}
	free(dir);
	return ret;
}

static int
listener_bind_unix(const struct listen_addr *a, enum listen_proto proto,
		   const struct daemon_creds *creds, char **error_r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t mode = proto == PROTO_SENDMAIL ? SENDMAIL_SOCKET_MODE
					      : UNIX_SOCKET_MODE;
	mode_t old_umask;
	struct stat st;
	int fd, rc;

	if (a->path == NULL || strlen(a->path) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("%s: socket path too long", a->text);
		return -1;
	}
	if (proto == PROTO_SENDMAIL && listener_unix_dir(a->path, error_r) < 0)
		return -1;
	memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
	/* a socket file left by a previous run that did not exit cleanly;
	 * anything that is not a socket is left alone and bind fails */
	if (lstat(a->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(a->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = xasprintf("%s: socket: %s", a->text, strerror(errno));
		return -1;
	}
	/* The mode comes from the umask at bind (the supervisor has no
	 * threads), and the owner is set without following a symlink: a
	 * path-based chmod/chown after bind would act on whatever another
	 * user put at that name meanwhile. */
	old_umask = umask(0777 & ~mode);
	rc = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (rc < 0) {
		*error_r = xasprintf("%s: cannot bind: %s", a->text,
				     strerror(errno));
		close(fd);
		return -1;
	}
	if ((creds->uid != (uid_t)-1 &&
	     lchown(a->path, creds->uid, creds->gid) < 0) ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		*error_r = xasprintf("%s: %s", a->text, strerror(errno));
		close(fd);
		unlink(a->path);
		return -1;
	}
	return fd;
}

static int
listener_take_old(struct daemon_listeners *old, enum listen_proto proto,
		  const char *text)
{
	if (old == NULL)
		return -1;
	for (size_t i = 0; i < old->n; i++) {
		struct daemon_listener *l = &old->v[i];

		if (l->fd >= 0 && l->proto == proto && strcmp(l->text, text) == 0) {
			int fd = l->fd;

			l->fd = -1;
			return fd;
		}
	}
	return -1;
}

/* Undoes listener_take_old() for a failed reload: the old generation keeps
 * serving on those sockets. */
static void
listener_give_back(struct daemon_listeners *old, struct daemon_listeners *out)
{
	for (size_t i = 0; old != NULL && i < out->n; i++) {
		for (size_t j = 0; j < old->n; j++) {
			struct daemon_listener *o = &old->v[j];

			if (o->fd < 0 && o->proto == out->v[i].proto &&
			    strcmp(o->text, out->v[i].text) == 0) {
				o->fd = out->v[i].fd;
				out->v[i].fd = -1;
				break;
			}
		}
	}
}

int
daemon_listeners_open(const struct config *cfg, const struct daemon_creds *creds,
		      struct daemon_listeners *old,
		      struct daemon_listeners *out, char **error_r)
{
	size_t total = 0;

	for (unsigned p = 0; p < PROTO_COUNT; p++)
		total += cfg->listen.proto[p].n;
	out->v = xcalloc(total > 0 ? total : 1, sizeof(*out->v));
	out->n = 0;
	for (unsigned p = 0; p < PROTO_COUNT; p++) {
		const struct listen_list *list = &cfg->listen.proto[p];

		for (size_t i = 0; i < list->n; i++) {
			const struct listen_addr *a = &list->v[i];
			struct daemon_listener *l = &out->v[out->n];
			int fd = listener_take_old(old, (enum listen_proto)p,
						   a->text);

			if (fd < 0 && a->kind == LISTEN_UNIX)
				fd = listener_bind_unix(a, (enum listen_proto)p,
							creds, error_r);
			else if (fd < 0)
				fd = listener_bind_inet(a, error_r);
			if (fd < 0) {
				char *e = *error_r;

				*error_r = xasprintf("listen.%s: %s",
					listen_proto_name((enum listen_proto)p), e);
				free(e);
				listener_give_back(old, out);
				daemon_listeners_close(out, true);
				return -1;
			}
			l->proto = (enum listen_proto)p;
			l->text = xstrdup(a->text);
			l->unix_path = a->kind == LISTEN_UNIX ?
				xstrdup(a->path) : NULL;
			l->fd = fd;
			out->n++;
		}
	}
	return 0;
}

void
daemon_listeners_close(struct daemon_listeners *ls, bool unlink_unix)
{
	for (size_t i = 0; i < ls->n; i++) {
		struct daemon_listener *l = &ls->v[i];

		if (l->fd >= 0) {
			close(l->fd);
			if (unlink_unix && l->unix_path != NULL)
				unlink(l->unix_path);
		}
		free(l->text);
		free(l->unix_path);
	}
	free(ls->v);
	ls->v = NULL;
	ls->n = 0;
}

char *
daemon_listeners_describe(const struct daemon_listeners *ls)
{
	struct buf b;
	char *msg;

	buf_init(&b);
	for (size_t i = 0; i < ls->n; i++)
		buf_printf(&b, "%s%s=%s", i > 0 ? " " : "",
			   listen_proto_name(ls->v[i].proto), ls->v[i].text);
	msg = buf_steal(&b);
	buf_deinit(&b);	/* buf_steal leaves a fresh empty buffer */
	return msg;
}
