/* SPDX-License-Identifier: MIT */
/*
 * The APPEND load of bench/imap: one process per account, each logs in,
 * waits for the common start, then APPENDs every message of a corpus file
 * to INBOX one after the other (a synchronising literal, as client.py
 * does; one untimed APPEND of the first message before the start) and
 * reports when its last OK came. In C because on a two-core
 * machine the Python client took as much CPU per APPEND as the server, so
 * it measured itself. Not part of Herald; built by bench/imap/run.sh.
 *
 *   append-load PORT PASS CORPUS USER...
 *
 * CORPUS holds the messages as "<octets>\n<message>" records (client.py
 * corpus-file writes it). Prints {"messages": N, "seconds": S, "rate": R}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct msg {
	const char *data;
	size_t len;
};

struct conn {
	int fd;
	char buf[65536];
	size_t start, end;
};

static void
die(const char *what)
{
	fprintf(stderr, "append-load: %s: %s\n", what,
		errno != 0 ? strerror(errno) : "failed");
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
send_all(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("send");
		p += w;
		n -= (size_t)w;
	}
}

/* The next line without its CRLF, NUL-terminated in the buffer. */
static char *
read_line(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);

		if (nl != NULL) {
			char *line = c->buf + c->start;

			c->start = (size_t)(nl - c->buf) + 1;
			if (nl > line && nl[-1] == '\r')
				nl--;
			*nl = '\0';
			return line;
		}
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (c->end >= sizeof(c->buf) - 1) {
			errno = 0;
			die("line too long");
		}
		ssize_t r = recv(c->fd, c->buf + c->end,
				 sizeof(c->buf) - 1 - c->end, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = 0;
			die("connection closed");
		}
		c->end += (size_t)r;
	}
}

/* Reads to the line tagged tag; exits unless it is OK. */
static void
expect_ok(struct conn *c, const char *tag, const char *what)
{
	size_t tl = strlen(tag);

	for (;;) {
		char *line = read_line(c);

		if (strncmp(line, tag, tl) == 0 && line[tl] == ' ') {
			if (strncmp(line + tl + 1, "OK", 2) != 0) {
				fprintf(stderr, "append-load: %s: %s\n", what,
					line);
				exit(1);
			}
			return;
		}
	}
}

/* APPENDs one message to INBOX with a synchronising literal; the
 * message and its CRLF go in one send. */
static void
append(struct conn *c, const char *tag, const struct msg *m)
{
	char cmd[128];
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t left = m->len + 2;
	int len;

	len = snprintf(cmd, sizeof(cmd), "%s APPEND INBOX {%zu}\r\n", tag,
		       m->len);
	send_all(c, cmd, (size_t)len);
	if (read_line(c)[0] != '+') {
		errno = 0;
		die("APPEND: no continuation");
	}
	iov[0].iov_base = (void *)m->data;
	iov[0].iov_len = m->len;
	iov[1].iov_base = (void *)"\r\n";
	iov[1].iov_len = 2;
	while (left > 0) {
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("send");
		left -= (size_t)w;
		while (w > 0 && mh.msg_iovlen > 0) {
			size_t k = (size_t)w < mh.msg_iov->iov_len ?
				(size_t)w : mh.msg_iov->iov_len;

			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + k;
			mh.msg_iov->iov_len -= k;
			w -= (ssize_t)k;
			if (mh.msg_iov->iov_len == 0) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	expect_ok(c, tag, "APPEND");
}

static void
client(int port, const char *user, const char *pass, const struct msg *m,
       size_t n, int ready_fd, int start_fd, int result_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct conn *c = calloc(1, sizeof(*c));
	char cmd[512], tag[32], go;
	int one = 1;
	double end;

	if (c == NULL)
		die("calloc");
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	read_line(c);
	snprintf(cmd, sizeof(cmd), "L LOGIN \"%s\" \"%s\"\r\n", user, pass);
	send_all(c, cmd, strlen(cmd));
	expect_ok(c, "L", "LOGIN");
	/* one untimed APPEND first: a fresh INBOX's first message costs
	 * the server more (Dovecot creates its index files) */
	append(c, "W", &m[0]);
	if (write(ready_fd, "r", 1) != 1 || read(start_fd, &go, 1) < 0)
		die("start");
	for (size_t i = 0; i < n; i++) {
		snprintf(tag, sizeof(tag), "A%zu", i);
		append(c, tag, &m[i]);
	}
	end = now();
	if (write(result_fd, &end, sizeof(end)) != sizeof(end))
		die("result");
	send_all(c, "Z LOGOUT\r\n", 10);
	close(c->fd);
	free(c);
	exit(0);
}

static struct msg *
load_corpus(const char *path, size_t *n_r)
{
	FILE *f = fopen(path, "rb");
	struct msg *m = NULL;
	size_t n = 0, cap = 0, len;

	if (f == NULL)
		die(path);
	while (fscanf(f, "%zu", &len) == 1 && fgetc(f) == '\n') {
		char *d = malloc(len);

		if (d == NULL || fread(d, 1, len, f) != len)
			die("corpus");
		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			m = realloc(m, cap * sizeof(*m));
			if (m == NULL)
				die("realloc");
		}
		m[n].data = d;
		m[n++].len = len;
	}
	fclose(f);
	*n_r = n;
	return m;
}

int
main(int argc, char **argv)
{
	int ready[2], start[2], result[2], port, users, failed = 0;
	double t0, last = 0, end;
	struct msg *m;
	size_t n;
	char c;

	if (argc < 5) {
		fprintf(stderr, "usage: append-load PORT PASS CORPUS USER...\n");
		return 2;
	}
	port = atoi(argv[1]);
	m = load_corpus(argv[3], &n);
	users = argc - 4;
	if (pipe(ready) < 0 || pipe(start) < 0 || pipe(result) < 0)
		die("pipe");
	for (int i = 0; i < users; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(start[1]);
			client(port, argv[4 + i], argv[2], m, n, ready[1],
			       start[0], result[1]);
		}
	}
	close(ready[1]);
	close(start[0]);
	close(result[1]);
	for (int i = 0; i < users; i++) {
		if (read(ready[0], &c, 1) != 1) {
			errno = 0;
			die("a client did not log in");
		}
	}
	t0 = now();
	close(start[1]);	/* every client's read returns: go */
	for (int i = 0; i < users; i++) {
		if (read(result[0], &end, sizeof(end)) != sizeof(end)) {
			errno = 0;
			die("a client failed");
		}
		if (end > last)
			last = end;
	}
	for (int i = 0; i < users; i++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	}
	if (failed) {
		errno = 0;
		die("a client failed");
	}
	printf("{\"messages\": %zu, \"seconds\": %.3f, \"rate\": %.1f}\n",
	       n * (size_t)users, last - t0,
	       (double)(n * (size_t)users) / (last - t0));
	return 0;
}
