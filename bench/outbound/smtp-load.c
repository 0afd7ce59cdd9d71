/* SPDX-License-Identifier: MIT */
/*
 * The relay load of bench/outbound: SESSIONS processes, each keeps one
 * SMTP connection and hands in its share of the messages, to its share
 * of the recipient domains (session s takes domains s+1, s+1+SESSIONS,
 * ..., PER messages each, as the smtp-source load did with one
 * smtp-source per domain). Per message: MAIL, RCPT and DATA sent
 * together when the server offers PIPELINING (one at a time otherwise),
 * their replies checked, then the message and its final dot in one
 * write, and its 250 awaited before the next. In C because smtp-source,
 * restarted per domain, spent more CPU per message than the relay it
 * loaded on a two-core machine. Not part of Herald; built by
 * bench/outbound/run.sh.
 *
 *   smtp-load HOST PORT SESSIONS DOMAINS PER LENGTH
 *
 * Recipients are bench@dNNN.bench.test; the sender sender@source.test.
 * Exits 0 when every message got its 250, 1 (with the reply) otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct conn {
	int fd;
	char buf[8192];
	size_t start, end;
};

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "smtp-load: %s: %s\n", what,
		detail != NULL ? detail : errno != 0 ? strerror(errno) : "failed");
	exit(1);
}

static void
send_all(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write", NULL);
		p += w;
		n -= (size_t)w;
	}
}

/* One line of the server's reply into line (without CRLF). */
static void
read_line(struct conn *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);

		if (nl != NULL) {
			size_t n = (size_t)(nl - (c->buf + c->start));

			if (n > 0 && c->buf[c->start + n - 1] == '\r')
				n--;
			if (n >= size)
				n = size - 1;
			memcpy(line, c->buf + c->start, n);
			line[n] = '\0';
			c->start = (size_t)(nl - c->buf) + 1;
			return;
		}
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (c->end == sizeof(c->buf))
			die("reply", "line too long");
		ssize_t r = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read", r == 0 ? "connection closed" : NULL);
		c->end += (size_t)r;
	}
}

/* Reads a whole (multi-line) reply, dies unless its code is want; sets
 * *pipelining when one of its lines is the PIPELINING keyword. */
static void
expect(struct conn *c, int want, const char *what, int *pipelining)
{
	char line[1024];

	do {
		read_line(c, line, sizeof(line));
		if (strlen(line) < 3 || atoi(line) != want)
			die(what, line);
		if (pipelining != NULL && strncasecmp(line + 4, "PIPELINING", 10) == 0)
			*pipelining = 1;
	} while (line[3] == '-');
}

static void
session(const char *host, int port, int s, int sessions, int domains,
	int per, const char *body, size_t body_len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	struct conn c = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
	int one = 1, pipelining = 0, n = 0;
	char cmd[512];

	if (c.fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("socket", NULL);
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect", NULL);
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	expect(&c, 220, "greeting", NULL);
	send_all(&c, "EHLO source.test\r\n", 18);
	expect(&c, 250, "EHLO", &pipelining);
	for (int d = s + 1; d <= domains; d += sessions) {
		for (int i = 0; i < per; i++, n++) {
			int m = snprintf(cmd, sizeof(cmd),
					 "MAIL FROM:<sender@source.test>\r\n"
					 "RCPT TO:<bench@d%03d.bench.test>\r\n"
					 "DATA\r\n", d);
			int mail_len = (int)strlen("MAIL FROM:<sender@source.test>\r\n");

			if (pipelining) {
				send_all(&c, cmd, (size_t)m);
				expect(&c, 250, "MAIL", NULL);
				expect(&c, 250, "RCPT", NULL);
				expect(&c, 354, "DATA", NULL);
			} else {
				char *rcpt = cmd + mail_len;
				char *data = strstr(rcpt, "DATA");

				send_all(&c, cmd, (size_t)mail_len);
				expect(&c, 250, "MAIL", NULL);
				send_all(&c, rcpt, (size_t)(data - rcpt));
				expect(&c, 250, "RCPT", NULL);
				send_all(&c, data, 6);
				expect(&c, 354, "DATA", NULL);
			}
			/* the headers vary per message, the body is shared */
			char head[512];
			int h = snprintf(head, sizeof(head),
					 "From: <sender@source.test>\r\n"
					 "To: <bench@d%03d.bench.test>\r\n"
					 "Subject: bench %d.%d\r\n"
					 "Message-ID: <%d.%d.%d@source.test>\r\n"
					 "Date: Mon, 7 Dec 2026 12:00:00 +0000\r\n"
					 "\r\n", d, s, n, s, n, (int)getpid());

			send_all(&c, head, (size_t)h);
			send_all(&c, body, body_len);
			expect(&c, 250, "end of data", NULL);
		}
	}
	send_all(&c, "QUIT\r\n", 6);
	expect(&c, 221, "QUIT", NULL);
	close(c.fd);
}

int
main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: smtp-load HOST PORT SESSIONS DOMAINS PER LENGTH\n");
		return 2;
	}
	const char *host = argv[1];
	int port = atoi(argv[2]), sessions = atoi(argv[3]);
	int domains = atoi(argv[4]), per = atoi(argv[5]);
	long length = atol(argv[6]);

	if (port <= 0 || sessions <= 0 || domains <= 0 || per <= 0 ||
	    length < 200 || length > 100L * 1024 * 1024)
		die("arguments", "out of range");
	/* body: lines of 78 octets plus CRLF, the last shorter, then the dot;
	 * about length octets with the headers */
	size_t want = (size_t)length - 180, len = 0;
	char *body = malloc(want + 128);

	if (body == NULL)
		die("malloc", NULL);
	while (len < want) {
		size_t n = want - len > 78 ? 78 : want - len;

		memset(body + len, 'x', n);
		len += n;
		memcpy(body + len, "\r\n", 2);
		len += 2;
	}
	memcpy(body + len, ".\r\n", 3);
	len += 3;
	for (int s = 0; s < sessions; s++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork", NULL);
		if (pid == 0) {
			session(host, port, s, sessions, domains, per, body, len);
			_exit(0);
		}
	}
	int failed = 0, status;

	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	free(body);
	return failed;
}
