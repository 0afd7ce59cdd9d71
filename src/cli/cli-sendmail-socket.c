/* SPDX-License-Identifier: MIT */
/*
 * The client half of local submission (docs/sendmail.md "Who may run
 * it"): a blocking SMTP client over the server's unix socket, and the
 * byte pump behind -bs. Plain SMTP keeps the server side one more mode of
 * src/smtp/ with every limit and check it already has.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/cli-sendmail-socket.h"
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "lib/xtext.h"

/* -bs: after standard input ends, how long the server may stay silent
 * before the session is ended for it. The server drops a session at its
 * end of file even with commands still waiting, so the pump does not pass
 * the end on at once: a client that sent QUIT gets every reply first. */
#define PROXY_LINGER_MS 5000
#define SUBMIT_LINE_MAX SENDMAIL_REPLY_LINE_MAX
#define SUBMIT_WRITE_CHUNK 65536

struct submit_conn {
	const char *prog;
	int fd;
	char in[4096];
	size_t in_len, in_pos;
	int code;			/* the last reply's code */
	char text[SUBMIT_LINE_MAX];	/* its last line */
};

/* prog NULL: say nothing */
static void __attribute__((format(printf, 2, 3)))
submit_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	if (prog == NULL)
		return;
	va_start(ap, fmt);
	cli_verror(prog, fmt, ap);
	va_end(ap);
}

static int
submit_connect(const char *prog, const char *path, unsigned timeout_s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		submit_error(prog, "socket path too long: %s", path);
		return -EX_CONFIG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		submit_error(prog, "socket: %s", strerror(errno));
		return -EX_OSERR;
	}
	if (timeout_s > 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	err = errno;
	close(fd);
	if (err == EACCES || err == EPERM) {
		submit_error(prog, "permission denied: cannot connect to "
			     "Herald's local submission socket %s", path);
		return -EX_NOPERM;
	}
	submit_error(prog, "cannot hand the message to Herald: %s: %s; is "
		     "herald serve running? Nothing was sent; try again later",
		     path, strerror(err));
	return -EX_TEMPFAIL;
}

static int
submit_write(struct submit_conn *c, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			submit_error(c->prog, "writing to Herald: %s",
				     n < 0 && (errno == EAGAIN ||
					       errno == EWOULDBLOCK)
					     ? "timed out" : strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line without its CRLF into line (cut at SUBMIT_LINE_MAX - 1).
 * Returns 0 or -1 on EOF, error or timeout (printed). */
static int
submit_read_line(struct submit_conn *c, char *line)
{
	size_t len = 0;

	for (;;) {
		if (c->in_pos == c->in_len) {
			ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				submit_error(c->prog, "reading from Herald: %s",
					     n == 0 ? "connection closed"
					     : errno == EAGAIN ||
							     errno == EWOULDBLOCK
						     ? "timed out"
						     : strerror(errno));
				return -1;
			}
			c->in_len = (size_t)n;
			c->in_pos = 0;
		}
		char ch = c->in[c->in_pos++];

		if (ch == '\n')
			break;
		if (len < SUBMIT_LINE_MAX - 1)
			line[len++] = ch;
	}
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	return 0;
}

/* Reads one reply, multi-line or not. Returns its code, or -1 (and
 * c->code is -1: a lost connection is never mistaken for the previous
 * reply). */
static int
submit_reply(struct submit_conn *c)
{
	c->code = -1;
	for (size_t lines = 1;; lines++) {
		if (lines > SENDMAIL_REPLY_LINES_MAX) {
			submit_error(c->prog, "Herald's reply goes on for more "
				     "than %d lines", SENDMAIL_REPLY_LINES_MAX);
			c->text[0] = '\0';
			return -1;
		}
		if (submit_read_line(c, c->text) < 0) {
			c->text[0] = '\0';
			return -1;
		}
		if (strlen(c->text) < 3 || c->text[0] < '1' ||
		    c->text[0] > '5' || c->text[1] < '0' || c->text[1] > '9' ||
		    c->text[2] < '0' || c->text[2] > '9' ||
		    (c->text[3] != '\0' && c->text[3] != ' ' &&
		     c->text[3] != '-')) {
			submit_error(c->prog, "Herald answered something that "
				     "is not SMTP: %.80s", c->text);
			c->text[0] = '\0';
			return -1;
		}
		if (c->text[3] != '-')
			break;
	}
	c->code = (c->text[0] - '0') * 100 + (c->text[1] - '0') * 10 +
		  (c->text[2] - '0');
	return c->code;
}

int
sendmail_socket_read_reply(int fd, const char *prog,
			   char text[SENDMAIL_REPLY_LINE_MAX])
{
	struct submit_conn c;
	int code;

	memset(&c, 0, sizeof(c));
	c.prog = prog;
	c.fd = fd;
	code = submit_reply(&c);
	memcpy(text, c.text, sizeof(c.text));
	return code;
}

static int __attribute__((format(printf, 2, 3)))
submit_command(struct submit_conn *c, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	int ret;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	ret = submit_write(c, b.data, b.len);
	buf_deinit(&b);
	if (ret < 0) {
		c->code = -1;
		c->text[0] = '\0';
		return -1;
	}
	return submit_reply(c);
}

static bool
has_8bit(const char *p, size_t len)
{
	return utf8_has_non_ascii((const uint8_t *)p, len);
}

/* The message dot-stuffed (RFC 5321 4.5.2), then the end of data. */
static int
submit_data(struct submit_conn *c, const char *p, size_t len)
{
	struct buf out;
	bool bol = true;
	int ret = 0;

	buf_init(&out);
	for (size_t i = 0; i < len && ret == 0;) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - p) + 1 : len;

		if (bol && p[i] == '.')
			buf_putc(&out, '.');
		buf_append(&out, p + i, end - i);
		bol = nl != NULL;
		i = end;
		if (out.len >= SUBMIT_WRITE_CHUNK) {
			ret = submit_write(c, out.data, out.len);
			buf_reset(&out);
		}
	}
	if (ret == 0) {
		if (!bol)
			buf_puts(&out, "\r\n");
		buf_puts(&out, ".\r\n");
		ret = submit_write(c, out.data, out.len);
	}
	buf_deinit(&out);
	return ret;
}

/* "250 2.0.0 Ok: queued as ID" -> ID */
static void
submit_queue_id(const char *text, char id_r[LOG_ID_LEN + 1])
{
	const char *p = strstr(text, "queued as ");
	size_t n = 0;

	id_r[0] = '\0';
	if (p == NULL)
		return;
	p += strlen("queued as ");
	while (n < LOG_ID_LEN && p[n] != '\0' && p[n] != ' ')
		n++;
	memcpy(id_r, p, n);
	id_r[n] = '\0';
}

/* Whether a reply line "CODE X.Y.Z ..." carries the enhanced code dsn. */
static bool
is_enhanced(const char *text, const char *dsn)
{
	return strlen(text) > 4 && strncmp(text + 4, dsn, strlen(dsn)) == 0;
}

/* The exit status for a refused RCPT. */
static int
rcpt_refused(struct submit_conn *c, const char *address)
{
	if (c->code >= 400 && c->code < 500) {
		submit_error(c->prog, "<%s>: temporary failure: %s", address,
			     c->text);
		return EX_TEMPFAIL;
	}
	if (c->code == 550 && is_enhanced(c->text, "5.1.1")) {
		submit_error(c->prog, "<%s>: unknown user: no such account or "
			     "alias", address);
		return EX_NOUSER;
	}
	submit_error(c->prog, "<%s>: refused: %s", address, c->text);
	return EX_NOUSER;
}

/* The exit status for a refused message (after the data). */
static int
data_refused(struct submit_conn *c)
{
	if (c->code >= 400 && c->code < 500) {
		submit_error(c->prog, "temporary failure, nothing stored: %s; "
			     "try again later", c->text);
		return EX_TEMPFAIL;
	}
	if (c->code == 552 && is_enhanced(c->text, "5.2.2")) {
		submit_error(c->prog, "mailbox full (over quota), nothing "
			     "stored: %s", c->text);
		return EX_CANTCREAT;
	}
	submit_error(c->prog, "message refused: %s", c->text);
	return EX_DATAERR;
}

static int
submit_dialogue(struct submit_conn *c, const struct sendmail_submit *m,
		char id_r[LOG_ID_LEN + 1])
{
	struct buf params;
	bool utf8 = has_8bit(m->env_from, strlen(m->env_from));
	int ret = 0;

	if (submit_reply(c) != 220) {
		if (c->code > 0)
			submit_error(c->prog, "Herald refused the connection: "
				     "%s", c->text);
		return EX_TEMPFAIL;
	}
	if (submit_command(c, "EHLO localhost") != 250) {
		if (c->code < 0)
			return EX_TEMPFAIL;
		submit_error(c->prog, "EHLO refused: %s", c->text);
		return c->code / 100 == 4 ? EX_TEMPFAIL : EX_PROTOCOL;
	}
	for (size_t i = 0; i < m->n_rcpts; i++)
		utf8 |= has_8bit(m->rcpts[i].address,
				 strlen(m->rcpts[i].address));
	buf_init(&params);
	buf_printf(&params, " SIZE=%zu", m->len);
	if (has_8bit(m->data, m->len))
		buf_puts(&params, " BODY=8BITMIME");
	if (utf8)
		buf_puts(&params, " SMTPUTF8");
	if (m->dsn_ret != NULL)
		buf_printf(&params, " RET=%s", m->dsn_ret);
	if (m->dsn_envid != NULL) {
		buf_puts(&params, " ENVID=");
		xtext_encode((const uint8_t *)m->dsn_envid,
			     strlen(m->dsn_envid), &params);
	}
	if (submit_command(c, "MAIL FROM:<%s>%s", m->env_from,
			   params.data) / 100 != 2) {
		ret = c->code < 0 ? EX_TEMPFAIL
		      : c->code / 100 == 4 ? EX_TEMPFAIL
		      : c->code == 552 ? EX_DATAERR : EX_USAGE;
		if (c->code > 0)
			submit_error(c->prog, "sender <%s> refused: %s",
				     m->env_from, c->text);
		goto out;
	}
	/* every recipient is tried so the caller hears of all bad ones;
	 * nothing is stored unless all are good (as without the socket) */
	for (size_t i = 0; i < m->n_rcpts; i++) {
		const struct sendmail_submit_rcpt *r = &m->rcpts[i];
		int code;

		buf_reset(&params);
		if (r->notify != NULL)
			buf_printf(&params, " NOTIFY=%s", r->notify);
		if (r->orcpt != NULL) {
			const char *semi = strchr(r->orcpt, ';');

			if (semi != NULL) {
				buf_printf(&params, " ORCPT=%.*s;",
					   (int)(semi - r->orcpt), r->orcpt);
				xtext_encode((const uint8_t *)semi + 1,
					     strlen(semi + 1), &params);
			}
		}
		code = submit_command(c, "RCPT TO:<%s>%s", r->address,
				      params.data);
		if (code < 0) {
			ret = EX_TEMPFAIL;
			goto out;
		}
		if (code / 100 != 2) {
			int r_ret = rcpt_refused(c, r->address);

			if (ret == 0 || r_ret == EX_NOUSER)
				ret = r_ret;
		}
	}
	if (ret != 0)
		goto out;
	if (submit_command(c, "DATA") != 354) {
		ret = c->code < 0 ? EX_TEMPFAIL : data_refused(c);
		goto out;
	}
	if (submit_data(c, m->data, m->len) < 0 || submit_reply(c) < 0) {
		/* the server may or may not have stored it: a retry can
		 * duplicate, as with any SMTP client that loses the reply */
		ret = EX_TEMPFAIL;
		goto out;
	}
	if (c->code != 250) {
		ret = data_refused(c);
		goto out;
	}
	submit_queue_id(c->text, id_r);
out:
	buf_deinit(&params);
	return ret;
}

int
sendmail_submit(const struct sendmail_submit *m, char id_r[LOG_ID_LEN + 1])
{
	struct submit_conn c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.prog = m->prog;
	c.fd = submit_connect(m->prog, m->socket_path, m->timeout_s);
	if (c.fd < 0)
		return -c.fd;
	id_r[0] = '\0';
	ret = submit_dialogue(&c, m, id_r);
	/* the answer that matters is in; QUIT is politeness */
	(void)submit_write(&c, "QUIT\r\n", 6);
	close(c.fd);
	return ret;
}

char *
sendmail_socket_hostname(const char *socket_path)
{
	struct submit_conn c;
	char *host = NULL;

	/* prog NULL: quiet, the submission that follows reports errors */
	memset(&c, 0, sizeof(c));
	c.fd = submit_connect(NULL, socket_path, 10);
	if (c.fd >= 0) {
		if (submit_reply(&c) == 220 && c.text[3] == ' ') {
			const char *p = c.text + 4;
			size_t n = strcspn(p, " ");

			if (n > 0 && n < 256)
				host = xstrndup(p, n);
		}
		(void)submit_write(&c, "QUIT\r\n", 6);
		close(c.fd);
	}
	return host;
}

/* ---- -bs ---- */

int
sendmail_socket_proxy(const char *prog, const char *socket_path)
{
	char buf[16384];
	bool in_open = true, wr_open = true, greeted = false;
	int ret = EX_OK;
	int fd = submit_connect(prog, socket_path, 0);

	if (fd < 0)
		return -fd;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		ssize_t n;
		/* nothing is passed on before the greeting (the server
		 * refuses early talkers) */
		int r = poll(p, in_open && greeted ? 2 : 1,
			     in_open || !wr_open ? -1 : PROXY_LINGER_MS);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r == 0) {
			/* no QUIT came: end the session for the client */
			shutdown(fd, SHUT_WR);
			wr_open = false;
			continue;
		}
		if (p[0].revents != 0) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				submit_error(prog, "reading from Herald: %s",
					     strerror(errno));
				ret = EX_TEMPFAIL;
				break;
			}
			if (n == 0) {
				/* the server ended the session */
				if (!greeted) {
					submit_error(prog, "Herald closed the "
						     "connection without a "
						     "greeting");
					ret = EX_TEMPFAIL;
				}
				break;
			}
			greeted = true;
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n ||
			    fflush(stdout) != 0) {
				ret = EX_IOERR;
				break;
			}
		}
		if (in_open && greeted && p[1].revents != 0) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				in_open = false;
				continue;
			}
			struct submit_conn c = { .prog = prog, .fd = fd };

			if (submit_write(&c, buf, (size_t)n) < 0) {
				ret = EX_TEMPFAIL;
				break;
			}
		}
	}
	close(fd);
	return ret;
}
