/* SPDX-License-Identifier: MIT */
/* lib/ioev: line reading in pieces and limits, write and close, idle
 * timeout, STARTTLS discarding pipelined input, implicit TLS, output
 * high-water mark and overflow, blocking jobs outliving the client, fd
 * and signal watches (freed from their own callback, or after the loop). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/ioev.h"
#include "lib/mem.h"
#include "tls/tls.h"

/* ------------------------------------------------------- test protocol */

struct tproto {
	struct ioev_loop *loop;
	struct ioev_conn *conn;
	struct ioev_tls *tls;
	struct buf log;			/* what the server saw, one per line */
	size_t max_line;
	bool skipping;
	bool closed;
	enum ioev_close_reason reason;
	bool timeout_reply;
	/* FLOOD */
	size_t flood_left, max_output;
	bool saw_full;
};

static void tp_input(struct ioev_conn *conn, void *ctx);

static void
tp_flood(struct tproto *t)
{
	static char chunk[4096];

	memset(chunk, 'x', sizeof(chunk));
	while (t->flood_left > 0 && !ioev_conn_output_is_full(t->conn)) {
		size_t n = t->flood_left < sizeof(chunk) ? t->flood_left :
			sizeof(chunk);

		assert_int_equal(ioev_conn_write(t->conn, chunk, n), 0);
		t->flood_left -= n;
		if (ioev_conn_output_len(t->conn) > t->max_output)
			t->max_output = ioev_conn_output_len(t->conn);
	}
	if (ioev_conn_output_is_full(t->conn))
		t->saw_full = true;
	if (t->flood_left == 0)
		ioev_conn_close_after_write(t->conn);
}

static void
tp_drain(struct ioev_conn *conn, void *ctx)
{
	tp_flood(ctx);
}

static void
tp_close(struct ioev_conn *conn, void *ctx, enum ioev_close_reason reason)
{
	struct tproto *t = ctx;

	t->closed = true;
	t->reason = reason;
	buf_printf(&t->log, "close:%s\n", ioev_close_reason_name(reason));
	ioev_loop_stop(t->loop);
}

static void
tp_timeout(struct ioev_conn *conn, void *ctx)
{
	ioev_conn_puts(conn, "421 idle\r\n");
	ioev_conn_close_after_write(conn);
}

struct tp_job {
	struct tproto *t;
	struct ioev_conn *conn;
};

static void
tp_job_work(void *arg)
{
	usleep(200 * 1000);
}

static void
tp_job_done(void *arg)
{
	struct tp_job *job = arg;

	buf_printf(&job->t->log, "done closed=%d\n",
		   ioev_conn_is_closed(job->conn));
	if (!ioev_conn_is_closed(job->conn))
		ioev_conn_puts(job->conn, "job done\r\n");
	ioev_conn_resume(job->conn);
	free(job);
}

static void
tp_line(struct tproto *t, const struct ioev_line *line)
{
	struct ioev_conn *conn = t->conn;
	char *text = xstrndup(line->data, line->crlf ? line->len - 1 : line->len);
	const char *err;

	buf_printf(&t->log, "%s%s\n", text, line->crlf ? "" : "[LF]");
	ioev_conn_consume(conn, line->size);
	if (strcmp(text, "STARTTLS") == 0) {
		ioev_conn_puts(conn, "220 go\r\n");
		assert_int_equal(ioev_conn_starttls(conn, t->tls, &err), 0);
	} else if (strcmp(text, "QUIT") == 0) {
		ioev_conn_puts(conn, "bye\r\n");
		ioev_conn_close_after_write(conn);
	} else if (strcmp(text, "TLSINFO") == 0) {
		struct ioev_tls_info info;

		assert_true(ioev_conn_tls_info(conn, &info));
		ioev_conn_printf(conn, "%s %s %d\r\n", info.protocol,
				 info.cipher, info.bits);
	} else if (strcmp(text, "FLOOD") == 0) {
		t->flood_left = 1024 * 1024;
		tp_flood(t);
	} else if (strcmp(text, "BLAST") == 0) {
		char big[4096];

		memset(big, 'y', sizeof(big));
		for (int i = 0; i < 10; i++) {
			if (ioev_conn_write(conn, big, sizeof(big)) < 0) {
				buf_printf(&t->log, "write-failed\n");
				break;
			}
		}
	} else if (strcmp(text, "JOB") == 0) {
		struct tp_job *job = xcalloc(1, sizeof(*job));

		job->t = t;
		job->conn = conn;
		ioev_conn_pause(conn);
		ioev_conn_run_blocking(conn, tp_job_work, tp_job_done, job);
	} else {
		ioev_conn_printf(conn, "echo:%s\r\n", text);
	}
	free(text);
}

static void
tp_input(struct ioev_conn *conn, void *ctx)
{
	struct tproto *t = ctx;
	struct ioev_line line;

	while (!ioev_conn_is_closed(conn)) {
		if (t->skipping) {
			if (!ioev_conn_skip_line(conn))
				return;
			t->skipping = false;
		}
		switch (ioev_conn_readline(conn, t->max_line, &line)) {
		case IOEV_LINE_NEED_MORE:
			return;
		case IOEV_LINE_TOO_LONG:
			buf_puts(&t->log, "TOOLONG\n");
			ioev_conn_puts(conn, "500 too long\r\n");
			t->skipping = true;
			continue;
		case IOEV_LINE_OK:
			tp_line(t, &line);
			/* after STARTTLS or a paused job, stop parsing */
			if (ioev_conn_input_len(conn) == 0)
				return;
			continue;
		}
	}
}

static const struct ioev_conn_callbacks tp_cbs = {
	.input = tp_input,
	.close = tp_close,
	.drain = tp_drain,
};

static const struct ioev_conn_callbacks tp_cbs_timeout = {
	.input = tp_input,
	.close = tp_close,
	.timeout = tp_timeout,
};

static const struct ioev_conn_callbacks tp_cbs_timeout_drain = {
	.input = tp_input,
	.close = tp_close,
	.drain = tp_drain,
	.timeout = tp_timeout,
};

/* ----------------------------------------------------------- harness */

struct fixture {
	struct tproto t;
	struct config cfg;
	char dir[64];
	int client;		/* our end of the socketpair */
};

static struct tls_server *shared_tls;
static char shared_dir[64];

static int
group_setup(void **state)
{
	struct config cfg = { 0 };
	char *err = NULL;

	snprintf(shared_dir, sizeof(shared_dir), "/tmp/herald-ioev-XXXXXX");
	if (mkdtemp(shared_dir) == NULL)
		return -1;
	cfg.data_dir = shared_dir;
	cfg.hostname = "mail.test";
	shared_tls = tls_server_new(&cfg, &err);
	if (shared_tls == NULL) {
		fprintf(stderr, "tls: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", shared_dir);

	tls_server_free(&shared_tls);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", shared_dir);
	free(cmd);
	return 0;
}

static struct fixture *
fixture_new(const struct ioev_conn_limits *limits,
	    const struct ioev_conn_callbacks *cbs, bool implicit_tls)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	buf_init(&f->t.log);
	f->t.max_line = 64;
	f->t.tls = tls_server_ioev(shared_tls);
	f->t.loop = ioev_loop_new(2);
	f->t.conn = ioev_conn_new(f->t.loop, sv[0],
				  implicit_tls ? f->t.tls : NULL, limits);
	ioev_conn_set_callbacks(f->t.conn, cbs, &f->t);
	f->client = sv[1];
	return f;
}

static void
fixture_free(struct fixture **fp)
{
	struct fixture *f = *fp;

	if (f->client >= 0)
		close(f->client);
	ioev_loop_free(&f->t.loop);
	buf_deinit(&f->t.log);
	free(f);
	*fp = NULL;
}

/* Runs the loop for about ms milliseconds (or until it is stopped). */
static void
pump(struct fixture *f, int ms)
{
	struct timespec now, end;

	/* by the clock, not by iterations: usleep oversleeps on a busy box */
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		ioev_loop_poll(f->t.loop);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (f->t.closed || now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		usleep(1000);
	}
	ioev_loop_poll(f->t.loop);
}

static void
send_str(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads what the server sends until EOF, until out holds want (when not
 * NULL), or until ms have passed by the clock (client socket non-blocking). */
static void
recv_until(struct fixture *f, struct buf *out, const char *want, int ms)
{
	char tmp[65536];
	struct timespec now, end;

	fcntl(f->client, F_SETFL, O_NONBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		ssize_t n = read(f->client, tmp, sizeof(tmp));

		if (n > 0) {
			buf_append(out, tmp, (size_t)n);
			if (want != NULL && out->data != NULL &&
			    strstr(out->data, want) != NULL)
				break;
			continue;
		}
		if (n == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		pump(f, 1);
	}
}

/* Reads whatever the server sent within ms, or until EOF. */
static void
recv_all(struct fixture *f, struct buf *out, int ms)
{
	recv_until(f, out, NULL, ms);
}

/* Runs the loop until *flag is true or ms have passed (by the clock). */
static void
pump_until(struct fixture *f, const bool *flag, int ms)
{
	for (int waited = 0; waited < ms && !*flag; waited += 10)
		pump(f, 10);
}

/* ------------------------------------------------------------- tests */

static void
test_readline_pieces(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);
	const char *msg = "HELO a\r\nX\r\nY\n";
	struct buf out;

	for (const char *p = msg; *p != '\0'; p++) {
		assert_int_equal(write(f->client, p, 1), 1);
		pump(f, 2);
	}
	assert_string_equal(f->t.log.data, "HELO a\nX\nY[LF]\n");
	buf_init(&out);
	recv_until(f, &out, "echo:Y\r\n", 5000);
	assert_string_equal(out.data, "echo:HELO a\r\necho:X\r\necho:Y\r\n");
	buf_deinit(&out);
	fixture_free(&f);
}

static void
test_readline_one_piece_pipelined(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);

	send_str(f->client, "A\r\nB\r\nC\r\npartial");
	pump(f, 20);
	assert_string_equal(f->t.log.data, "A\nB\nC\n");
	assert_int_equal(ioev_conn_input_len(f->t.conn), 7);
	send_str(f->client, "\r\n");
	pump(f, 20);
	assert_string_equal(f->t.log.data, "A\nB\nC\npartial\n");
	fixture_free(&f);
}

static void
test_readline_too_long(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);

	f->t.max_line = 16;
	/* exactly 16 with CRLF is fine */
	send_str(f->client, "0123456789abcd\r\n");
	pump(f, 10);
	assert_string_equal(f->t.log.data, "0123456789abcd\n");
	buf_reset(&f->t.log);
	send_str(f->client, "0123456789abcdefghijklmnopqrstuvwxyz");
	pump(f, 10);
	assert_string_equal(f->t.log.data, "TOOLONG\n");
	send_str(f->client, "more of the same");
	pump(f, 10);
	send_str(f->client, "end\r\nOK\r\n");
	pump(f, 10);
	assert_string_equal(f->t.log.data, "TOOLONG\nOK\n");
	fixture_free(&f);
}

static void
test_write_close_after_write(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);
	struct buf out;

	buf_init(&out);
	send_str(f->client, "hi\r\nQUIT\r\nNOTSEEN\r\n");
	recv_all(f, &out, 5000);
	assert_string_equal(out.data, "echo:hi\r\nbye\r\n");
	pump(f, 2000);
	assert_true(f->t.closed);
	assert_int_equal(f->t.reason, IOEV_CLOSE_LOCAL);
	assert_null(strstr(f->t.log.data, "NOTSEEN"));
	buf_deinit(&out);
	fixture_free(&f);
}

static void
test_peer_eof(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);

	send_str(f->client, "x\r\n");
	close(f->client);
	f->client = -1;
	pump(f, 2000);
	assert_true(f->t.closed);
	assert_int_equal(f->t.reason, IOEV_CLOSE_EOF);
	assert_string_equal(f->t.log.data, "x\nclose:eof\n");
	fixture_free(&f);
}

static void
release_cb(void *ctx)
{
	struct tproto *t = ctx;

	buf_puts(&t->log, "release\n");
}

/* The accepting layer's release runs once, after the protocol's close. */
static void
test_release_after_close(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);

	ioev_conn_set_release(f->t.conn, release_cb, &f->t);
	send_str(f->client, "QUIT\r\n");
	pump(f, 2000);
	pump(f, 10);
	assert_string_equal(f->t.log.data, "QUIT\nclose:local\nrelease\n");
	fixture_free(&f);
}

static void
test_idle_timeout(void **state)
{
	/* generous margins: CI machines are loaded and sanitizers are slow;
	 * the pings come every 50 ms against a 500 ms timeout */
	struct ioev_conn_limits lim = { .idle_timeout_ms = 500 };
	struct fixture *f = fixture_new(&lim, &tp_cbs, false);
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	/* reads reset the timer: 12 x 50 ms is longer than the timeout */
	for (int i = 0; i < 12; i++) {
		send_str(f->client, "ping\r\n");
		pump(f, 50);
		assert_false(f->t.closed);
	}
	pump(f, 3000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(f->t.closed);
	assert_int_equal(f->t.reason, IOEV_CLOSE_TIMEOUT);
	assert_true(b.tv_sec - a.tv_sec < 5);
	fixture_free(&f);
}

static void
test_idle_timeout_callback(void **state)
{
	struct ioev_conn_limits lim = { .idle_timeout_ms = 50 };
	struct fixture *f = fixture_new(&lim, &tp_cbs_timeout, false);
	struct buf out;

	buf_init(&out);
	recv_all(f, &out, 5000);
	assert_string_equal(out.data, "421 idle\r\n");
	pump(f, 2000);
	assert_true(f->t.closed);
	assert_int_equal(f->t.reason, IOEV_CLOSE_LOCAL);
	buf_deinit(&out);
	fixture_free(&f);
}

/* An idle timeout set back to 0 is off: the timer armed before does not
 * fire later (re-adding a pending libevent event without a timeout keeps
 * its old one). */
static void
test_idle_timeout_cleared(void **state)
{
	struct ioev_conn_limits lim = { .idle_timeout_ms = 200 };
	struct fixture *f = fixture_new(&lim, &tp_cbs, false);

	pump(f, 50);
	lim.idle_timeout_ms = 0;
	ioev_conn_set_limits(f->t.conn, &lim);
	pump(f, 800);
	assert_false(f->t.closed);
	send_str(f->client, "still here\r\n");
	pump(f, 800);		/* a read renews no old timeout either */
	assert_false(f->t.closed);
	assert_string_equal(f->t.log.data, "still here\n");
	fixture_free(&f);
}

/* A peer that sends but never reads: once the output is stuck (reading
 * then stops, so no read can reset or even run the idle timer) the
 * connection must still end, not hold its buffers forever. Both with and
 * without a timeout callback (whose goodbye could never be delivered). */
static void
test_idle_timeout_peer_not_reading(void **state)
{
	struct ioev_conn_limits lim = { .idle_timeout_ms = 300,
					.output_high = 8192,
					.output_max = 65536 };
	const struct ioev_conn_callbacks *cbs[] = { &tp_cbs,
						    &tp_cbs_timeout_drain };

	for (size_t i = 0; i < 2; i++) {
		struct fixture *f = fixture_new(&lim, cbs[i], false);

		send_str(f->client, "FLOOD\r\n");
		pump_until(f, &f->t.saw_full, 5000);
		assert_true(f->t.saw_full);
		pump(f, 10000);
		assert_true(f->t.closed);
		if (f->t.reason != IOEV_CLOSE_TIMEOUT)
			fail_msg("case %zu: closed %s", i,
				 ioev_close_reason_name(f->t.reason));
		fixture_free(&f);
	}
}

/* --- TLS clients run in a thread with blocking sockets --- */

struct tls_client_args {
	int fd;
	bool starttls;
	const char *first;	/* written in one write before anything */
	struct buf got;		/* everything read (plain + TLS) */
	bool ok;
};

static int
read_line_plain(int fd, struct buf *out)
{
	char c;

	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n <= 0)
			return -1;
		buf_putc(out, c);
		if (c == '\n')
			return 0;
	}
}

static int
ssl_read_line(SSL *ssl, struct buf *out)
{
	char c;

	for (;;) {
		if (SSL_read(ssl, &c, 1) <= 0)
			return -1;
		buf_putc(out, c);
		if (c == '\n')
			return 0;
	}
}

static void *
tls_client_thread(void *arg)
{
	struct tls_client_args *a = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	if (a->first != NULL)
		if (write(a->fd, a->first, strlen(a->first)) < 0)
			goto out;
	if (a->starttls && read_line_plain(a->fd, &a->got) < 0)
		goto out;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, a->fd);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		goto out;
	}
	SSL_write(ssl, "NEXT\r\nTLSINFO\r\n", 15);
	/* until the TLSINFO answer */
	while (!a->ok && ssl_read_line(ssl, &a->got) == 0)
		a->ok = strstr(a->got.data, "TLSv") != NULL;
	SSL_shutdown(ssl);
	SSL_free(ssl);
out:
	SSL_CTX_free(ctx);
	shutdown(a->fd, SHUT_RDWR);
	return NULL;
}

static void
run_tls_client(struct fixture *f, struct tls_client_args *a)
{
	pthread_t th;

	a->fd = f->client;
	buf_init(&a->got);
	pthread_create(&th, NULL, tls_client_thread, a);
	/* ends early: the client shuts the socket down when it is done */
	pump(f, 15000);
	pthread_join(th, NULL);
}

static void
test_starttls_discards_pipelined(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);
	struct tls_client_args a = {
		.starttls = true,
		.first = "STARTTLS\r\nEVIL\r\n",
	};

	run_tls_client(f, &a);
	assert_true(a.ok);
	assert_null(strstr(f->t.log.data, "EVIL"));
	assert_non_null(strstr(f->t.log.data, "STARTTLS\nNEXT\nTLSINFO\n"));
	assert_null(strstr(a.got.data, "EVIL"));
	assert_memory_equal(a.got.data, "220 go\r\necho:NEXT\r\nTLSv1.3 ", 27);
	buf_deinit(&a.got);
	fixture_free(&f);
}

static void
test_implicit_tls(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, true);
	struct tls_client_args a = { 0 };

	/* written before the handshake: must arrive after it, encrypted */
	ioev_conn_puts(f->t.conn, "* OK hello\r\n");
	run_tls_client(f, &a);
	assert_true(a.ok);
	assert_memory_equal(a.got.data, "* OK hello\r\necho:NEXT\r\n", 23);
	assert_non_null(strstr(a.got.data, "TLSv1.3 TLS_"));
	buf_deinit(&a.got);
	fixture_free(&f);
}

static void
test_implicit_tls_garbage(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, true);

	send_str(f->client, "EHLO not tls at all\r\n");
	pump(f, 5000);
	assert_true(f->t.closed);
	assert_int_equal(f->t.reason, IOEV_CLOSE_TLS);
	assert_null(strstr(f->t.log.data, "EHLO"));
	fixture_free(&f);
}

/* A client that opens a TLS connection and stalls (nothing, or half a
 * ClientHello) is closed at the handshake's timeout, even with a goodbye
 * queued and an idle timeout of its own: neither may keep the socket. */
static void
test_implicit_tls_handshake_timeout(void **state)
{
	struct ioev_conn_limits lim = { .idle_timeout_ms = 100 };
	struct ioev_tls *tls = tls_server_ioev(shared_tls);
	struct fixture *f;
	struct timespec a, b;
	long ms;

	tls->handshake_timeout_ms = 400;
	f = fixture_new(&lim, &tp_cbs_timeout, true);
	clock_gettime(CLOCK_MONOTONIC, &a);
	send_str(f->client, "\x16\x03\x01\x02\x00\x01");
	ioev_conn_puts(f->t.conn, "220 greeting\r\n");
	pump(f, 5000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	tls->handshake_timeout_ms = 0;
	assert_true(f->t.closed);
	assert_int_equal(f->t.reason, IOEV_CLOSE_TIMEOUT);
	assert_true(ms >= 350 && ms < 3000);
	fixture_free(&f);
}

static void
test_output_high_water(void **state)
{
	struct ioev_conn_limits lim = { .output_high = 8192,
					.output_max = 65536 };
	struct fixture *f = fixture_new(&lim, &tp_cbs, false);
	struct buf out;

	buf_init(&out);
	send_str(f->client, "FLOOD\r\n");
	pump_until(f, &f->t.saw_full, 5000);
	/* the client has not read: the server stopped producing */
	assert_true(f->t.saw_full);
	assert_true(f->t.flood_left > 0);
	assert_true(f->t.max_output <= 8192 + 4096);
	recv_all(f, &out, 20000);
	assert_int_equal(out.len, 1024 * 1024);
	assert_int_equal(f->t.flood_left, 0);
	pump(f, 2000);
	assert_true(f->t.closed);
	assert_int_equal(f->t.reason, IOEV_CLOSE_LOCAL);
	buf_deinit(&out);
	fixture_free(&f);
}

static void
test_output_overflow(void **state)
{
	struct ioev_conn_limits lim = { .output_high = 4096,
					.output_max = 16384 };
	struct fixture *f = fixture_new(&lim, &tp_cbs, false);

	send_str(f->client, "BLAST\r\n");
	pump(f, 2000);
	assert_true(f->t.closed);
	assert_int_equal(f->t.reason, IOEV_CLOSE_OVERFLOW);
	assert_non_null(strstr(f->t.log.data, "write-failed"));
	fixture_free(&f);
}

static void
test_blocking_job_outlives_client(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);

	send_str(f->client, "JOB\r\nAFTER\r\n");
	/* close while the 200 ms job runs: as soon as JOB was read */
	for (int waited = 0; waited < 5000 &&
	     strstr(f->t.log.data, "JOB\n") == NULL; waited += 1)
		pump(f, 1);
	close(f->client);
	f->client = -1;
	pump(f, 5000);
	assert_true(f->t.closed);
	/* a FIN may be a half-close: done and the pipelined AFTER still
	 * run, then the failed replies end the conn */
	assert_non_null(strstr(f->t.log.data, "JOB\ndone closed=0\n"));
	assert_non_null(strstr(f->t.log.data, "close:eof\n"));
	fixture_free(&f);
}

/* A client that sends its last commands and shuts down its sending side
 * (Exim after QUIT) gets every reply, including those a blocking job
 * computes after the FIN arrived; a command it never finished is dropped,
 * and the conn closes with reason eof once the replies are out. */
static void
test_half_close_answers_everything(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);
	struct buf out;

	buf_init(&out);
	send_str(f->client, "JOB\r\nAFTER\r\nunfinished");
	assert_int_equal(shutdown(f->client, SHUT_WR), 0);
	recv_until(f, &out, NULL, 5000);
	assert_string_equal(out.data, "job done\r\necho:AFTER\r\n");
	pump(f, 2000);
	assert_true(f->t.closed);
	assert_string_equal(f->t.log.data,
			    "JOB\ndone closed=0\nAFTER\nclose:eof\n");
	buf_deinit(&out);
	fixture_free(&f);
}

/* The same when the protocol ends the session itself (QUIT) after the
 * FIN: its close-after-write is the one that counts. */
static void
test_half_close_quit(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);
	struct buf out;

	buf_init(&out);
	send_str(f->client, "A\r\nJOB\r\nQUIT\r\nB\r\n");
	assert_int_equal(shutdown(f->client, SHUT_WR), 0);
	recv_until(f, &out, NULL, 5000);
	assert_string_equal(out.data, "echo:A\r\njob done\r\nbye\r\n");
	pump(f, 2000);
	assert_string_equal(f->t.log.data,
			    "A\nJOB\ndone closed=0\nQUIT\nclose:local\n");
	buf_deinit(&out);
	fixture_free(&f);
}

static void
test_blocking_job_resumes_pipeline(void **state)
{
	struct fixture *f = fixture_new(NULL, &tp_cbs, false);
	struct buf out;

	buf_init(&out);
	send_str(f->client, "JOB\r\nAFTER\r\n");
	recv_until(f, &out, "echo:AFTER\r\n", 5000);
	assert_string_equal(out.data, "job done\r\necho:AFTER\r\n");
	assert_string_equal(f->t.log.data, "JOB\ndone closed=0\nAFTER\n");
	buf_deinit(&out);
	fixture_free(&f);
}

static void
stop_cb(void *ctx)
{
	ioev_loop_stop(ctx);
}

static long
thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A paused conn whose input is full must leave the loop idle: libevent
 * (>= 2.1.11) re-runs the read callback on every turn while the input sits
 * at its high watermark with reading on, so the loop spun at 100% CPU for
 * as long as the job ran. Once the job resumes the conn, the lines still
 * in the socket are read and answered. */
static void
test_paused_full_input_idle(void **state)
{
	struct ioev_conn_limits lim = { .input_max = 4096 };
	struct fixture *f = fixture_new(&lim, &tp_cbs, false);
	struct ioev_timer *timer;
	struct buf in, out;
	long cpu;

	buf_init(&in);
	buf_init(&out);
	buf_puts(&in, "JOB\r\n");
	for (int i = 0; i < 1000; i++)
		buf_printf(&in, "L%04d\r\n", i);
	/* the loop thread's CPU over 120 ms of the 200 ms job */
	timer = ioev_timer_new(f->t.loop, stop_cb, f->t.loop);
	ioev_timer_start(timer, 120, false);
	cpu = thread_cpu_ms();
	assert_int_equal(write(f->client, in.data, in.len), (ssize_t)in.len);
	assert_int_equal(ioev_loop_run(f->t.loop), 0);
	cpu = thread_cpu_ms() - cpu;
	assert_string_equal(f->t.log.data, "JOB\n");
	assert_true(cpu < 30);
	recv_until(f, &out, "echo:L0999\r\n", 5000);
	assert_non_null(strstr(out.data, "job done\r\necho:L0000\r\n"));
	assert_non_null(strstr(out.data, "echo:L0999\r\n"));
	ioev_timer_free(&timer);
	buf_deinit(&in);
	buf_deinit(&out);
	fixture_free(&f);
}

static void
timer_cb(void *ctx)
{
	int *n = ctx;

	(*n)++;
}

static void
test_timer(void **state)
{
	struct ioev_loop *loop = ioev_loop_new(1);
	struct ioev_timer *once, *rep;
	int n_once = 0, n_rep = 0;
	struct timespec t0, t1;
	long ms;

	once = ioev_timer_new(loop, timer_cb, &n_once);
	rep = ioev_timer_new(loop, timer_cb, &n_rep);
	ioev_timer_start(once, 10, false);
	ioev_timer_start(rep, 10, true);
	/* by the clock, not by iterations: at least 100 ms, then until the
	 * repeating timer fired three times (at most 5 s on a loaded box) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ioev_loop_poll(loop);
		usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	} while ((ms < 100 || n_rep < 3) && ms < 5000);
	assert_int_equal(n_once, 1);
	assert_false(ioev_timer_is_pending(once));
	assert_true(n_rep >= 3);
	assert_true(ioev_timer_is_pending(rep));
	ioev_timer_free(&once);
	ioev_timer_free(&rep);
	ioev_loop_free(&loop);
}

/* Runs loop until *done or ms have passed by the clock. */
static void
poll_until(struct ioev_loop *loop, const int *done, int want, int ms)
{
	struct timespec t0, t1;
	long el;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ioev_loop_poll(loop);
		usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	} while (*done < want && el < ms);
}

/* ---- outgoing connections ---- */

struct connect_seen {
	int calls;
	int error;
	struct ioev_conn *conn;
};

static void
connect_cb(struct ioev_conn *conn, int error, void *ctx)
{
	struct connect_seen *seen = ctx;

	seen->calls++;
	seen->error = error;
	seen->conn = conn;
}

static void
connect_input(struct ioev_conn *conn, void *ctx)
{
}

static void
connect_close(struct ioev_conn *conn, void *ctx,
	      enum ioev_close_reason reason)
{
	struct connect_seen *seen = ctx;

	seen->calls++;
}

static const struct ioev_conn_callbacks connect_cbs = {
	.input = connect_input,
	.close = connect_close,
};

static void
test_connect(void **state)
{
	struct ioev_loop *loop = ioev_loop_new(1);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t sl = sizeof(sin);
	struct connect_seen seen = { 0 };
	struct ioev_connect *c;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	/* connected (the listener's backlog takes it), from 127.0.0.2 */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sl), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	from.sin_addr.s_addr = htonl(0x7f000002);
	c = ioev_connect_start(loop, (struct sockaddr *)&sin, sizeof(sin),
			       (struct sockaddr *)&from, sizeof(from), 5000,
			       NULL, connect_cb, &seen);
	assert_non_null(c);
	assert_int_equal(seen.calls, 0);	/* never from inside the call */
	poll_until(loop, &seen.calls, 1, 5000);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.error, 0);
	assert_non_null(seen.conn);
	assert_string_equal(ioev_conn_peer_ip(seen.conn), "127.0.0.1");
	assert_int_equal(ioev_conn_peer_port(seen.conn), ntohs(sin.sin_port));
	assert_string_equal(ioev_conn_local_ip(seen.conn), "127.0.0.2");
	ioev_conn_set_callbacks(seen.conn, &connect_cbs, &seen);
	ioev_conn_close(seen.conn);
	poll_until(loop, &seen.calls, 2, 5000);
	assert_int_equal(seen.calls, 2);

	/* refused: nobody listens any more */
	close(lfd);
	memset(&seen, 0, sizeof(seen));
	(void)ioev_connect_start(loop, (struct sockaddr *)&sin, sizeof(sin),
				 NULL, 0, 5000, NULL, connect_cb, &seen);
	poll_until(loop, &seen.calls, 1, 5000);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.error, ECONNREFUSED);
	assert_null(seen.conn);

	/* a unix socket that does not exist: reported from the loop too */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/nonexistent/herald.sock");
	memset(&seen, 0, sizeof(seen));
	(void)ioev_connect_start(loop, (struct sockaddr *)&sun, sizeof(sun),
				 NULL, 0, 5000, NULL, connect_cb, &seen);
	assert_int_equal(seen.calls, 0);
	poll_until(loop, &seen.calls, 1, 5000);
	assert_int_equal(seen.error, ENOENT);

	/* cancelled: the callback never runs */
	memset(&seen, 0, sizeof(seen));
	c = ioev_connect_start(loop, (struct sockaddr *)&sun, sizeof(sun),
			       NULL, 0, 5000, NULL, connect_cb, &seen);
	ioev_connect_cancel(&c);
	assert_null(c);
	poll_until(loop, &seen.calls, 1, 50);
	assert_int_equal(seen.calls, 0);
	ioev_loop_free(&loop);
}

struct fd_seen {
	int fd;
	int calls;
	char last;
};

static void
fd_cb(int fd, void *ctx)
{
	struct fd_seen *seen = ctx;
	char c;

	seen->fd = fd;
	if (read(fd, &c, 1) == 1) {
		seen->last = c;
		seen->calls++;
	}
}

/* A watched fd calls back once per readable byte here (the callback reads
 * one at a time: level triggered, it is called again while data is left);
 * a stopped watch is quiet, a started one sees what came meanwhile. */
static void
test_watch_fd(void **state)
{
	struct ioev_loop *loop = ioev_loop_new(1);
	struct fd_seen seen = { .fd = -1 };
	struct ioev_watch *w;
	int p[2];

	assert_int_equal(pipe(p), 0);
	w = ioev_watch_fd(loop, p[0], fd_cb, &seen);
	assert_true(ioev_watch_is_active(w));
	poll_until(loop, &seen.calls, 1, 50);
	assert_int_equal(seen.calls, 0);
	assert_int_equal(write(p[1], "ab", 2), 2);
	poll_until(loop, &seen.calls, 2, 5000);
	assert_int_equal(seen.calls, 2);
	assert_int_equal(seen.fd, p[0]);
	assert_int_equal(seen.last, 'b');

	ioev_watch_stop(w);
	assert_false(ioev_watch_is_active(w));
	assert_int_equal(write(p[1], "c", 1), 1);
	poll_until(loop, &seen.calls, 3, 100);
	assert_int_equal(seen.calls, 2);
	ioev_watch_start(w);
	poll_until(loop, &seen.calls, 3, 5000);
	assert_int_equal(seen.calls, 3);
	assert_int_equal(seen.last, 'c');

	ioev_watch_free(&w);
	assert_null(w);
	ioev_watch_free(&w);	/* NULL is fine */
	/* freed: the fd is still the caller's, and nobody reads it */
	assert_int_equal(write(p[1], "d", 1), 1);
	poll_until(loop, &seen.calls, 4, 100);
	assert_int_equal(seen.calls, 3);
	close(p[0]);
	close(p[1]);
	ioev_loop_free(&loop);
}

struct sig_seen {
	int calls;
	int sig;
};

static void
sig_cb(int sig, void *ctx)
{
	struct sig_seen *seen = ctx;

	seen->sig = sig;
	seen->calls++;
}

/* A signal reaches its callback on the loop, not in a signal handler,
 * also after a stop and start; once the watch is freed the old
 * disposition is back. */
static void
test_watch_signal(void **state)
{
	struct ioev_loop *loop = ioev_loop_new(1);
	struct sig_seen seen = { 0 };
	struct ioev_watch *w;
	struct sigaction old;

	w = ioev_watch_signal(loop, SIGUSR2, sig_cb, &seen);
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	poll_until(loop, &seen.calls, 1, 5000);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.sig, SIGUSR2);

	ioev_watch_stop(w);
	ioev_watch_start(w);
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	poll_until(loop, &seen.calls, 2, 5000);
	assert_int_equal(seen.calls, 2);

	ioev_watch_free(&w);
	assert_int_equal(sigaction(SIGUSR2, NULL, &old), 0);
	assert_true(old.sa_handler == SIG_DFL);
	ioev_loop_free(&loop);
}

/* A callback that frees its own watch (a listener closing itself,
 * libunbound done): it is never called again, and nothing is touched
 * after the free. */
struct self_free {
	struct ioev_watch *w;
	int calls;
};

static void
self_free_fd_cb(int fd, void *ctx)
{
	struct self_free *sf = ctx;

	(void)fd;
	sf->calls++;
	ioev_watch_free(&sf->w);
}

static void
self_free_sig_cb(int sig, void *ctx)
{
	struct self_free *sf = ctx;

	(void)sig;
	sf->calls++;
	ioev_watch_free(&sf->w);
}

static void
test_watch_free_in_callback(void **state)
{
	struct ioev_loop *loop = ioev_loop_new(1);
	struct self_free sf = { 0 }, ss = { 0 };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int p[2];

	/* the unread byte keeps the fd readable: a watch still there
	 * would be called on every turn */
	assert_int_equal(pipe(p), 0);
	sf.w = ioev_watch_fd(loop, p[0], self_free_fd_cb, &sf);
	assert_int_equal(write(p[1], "ab", 2), 2);
	poll_until(loop, &sf.calls, 1, 5000);
	poll_until(loop, &sf.calls, 2, 100);
	assert_int_equal(sf.calls, 1);
	assert_null(sf.w);

	/* a signal arriving twice before the loop turns, then once more
	 * after the free: the disposition from before the watch (ignore)
	 * is back */
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGUSR2, &ign, &old), 0);
	ss.w = ioev_watch_signal(loop, SIGUSR2, self_free_sig_cb, &ss);
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	poll_until(loop, &ss.calls, 1, 5000);
	assert_null(ss.w);
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	poll_until(loop, &ss.calls, 2, 100);
	assert_int_equal(ss.calls, 1);
	assert_int_equal(sigaction(SIGUSR2, &old, NULL), 0);
	close(p[0]);
	close(p[1]);
	ioev_loop_free(&loop);
}

/* A loop freed while watches and timers still exist (an error path that
 * tears down in the wrong order): they go quiet with it, and freeing
 * them afterwards is still safe, not a use of the freed loop. */
static void
test_loop_free_with_watches(void **state)
{
	struct ioev_loop *loop = ioev_loop_new(1);
	struct fd_seen seen = { .fd = -1 };
	struct sig_seen sig = { 0 };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old, now;
	struct ioev_watch *wf, *ws, *stopped;
	struct ioev_timer *t;
	int p[2];

	assert_int_equal(pipe(p), 0);
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGUSR2, &ign, &old), 0);
	wf = ioev_watch_fd(loop, p[0], fd_cb, &seen);
	stopped = ioev_watch_fd(loop, p[0], fd_cb, &seen);
	ioev_watch_stop(stopped);
	ws = ioev_watch_signal(loop, SIGUSR2, sig_cb, &sig);
	t = ioev_timer_new(loop, (ioev_timer_cb_t *)abort, NULL);
	ioev_timer_start(t, 60000, false);
	assert_int_equal(write(p[1], "a", 1), 1);

	ioev_loop_free(&loop);
	assert_null(loop);
	/* the signal's disposition is the caller's again */
	assert_int_equal(sigaction(SIGUSR2, NULL, &now), 0);
	assert_true(now.sa_handler == SIG_IGN);
	assert_false(ioev_watch_is_active(wf));
	assert_false(ioev_timer_is_pending(t));
	ioev_watch_start(wf);		/* no loop: stays quiet */
	assert_false(ioev_watch_is_active(wf));
	ioev_timer_start(t, 1, false);
	assert_false(ioev_timer_is_pending(t));
	ioev_timer_stop(t);
	ioev_watch_free(&wf);
	ioev_watch_free(&stopped);
	ioev_watch_free(&ws);
	ioev_timer_free(&t);
	assert_int_equal(seen.calls, 0);
	assert_int_equal(sigaction(SIGUSR2, &old, NULL), 0);
	close(p[0]);
	close(p[1]);
}

static void
test_addresses(void **state)
{
	struct ioev_loop *loop = ioev_loop_new(1);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd, sfd;
	struct ioev_conn *conn;
	struct tproto t = { .loop = loop };

	sin.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	listen(lfd, 1);
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	sfd = accept(lfd, NULL, NULL);
	buf_init(&t.log);
	conn = ioev_conn_new(loop, sfd, NULL, NULL);
	t.conn = conn;
	ioev_conn_set_callbacks(conn, &tp_cbs, &t);
	assert_string_equal(ioev_conn_peer_ip(conn), "127.0.0.1");
	assert_string_equal(ioev_conn_local_ip(conn), "127.0.0.1");
	assert_int_equal(ioev_conn_local_port(conn), ntohs(sin.sin_port));
	assert_true(ioev_conn_peer_port(conn) > 0);
	assert_true(ioev_conn_peer_is_local(conn));
	assert_int_equal(strlen(ioev_conn_id(conn)), LOG_ID_LEN);
	assert_false(ioev_conn_is_tls(conn));
	/* keepalive probes (IMAP IDLE behind mobile NATs) */
	{
		int on = 0, idle = 0;
		socklen_t ol = sizeof(on), il = sizeof(idle);

		assert_int_equal(ioev_conn_set_keepalive(conn, 300), 0);
		assert_int_equal(getsockopt(sfd, SOL_SOCKET, SO_KEEPALIVE, &on,
					    &ol), 0);
		assert_int_equal(on, 1);
		assert_int_equal(getsockopt(sfd, IPPROTO_TCP, TCP_KEEPIDLE,
					    &idle, &il), 0);
		assert_int_equal(idle, 300);
	}
	close(cfd);
	close(lfd);
	/* free with the connection still open: close callback runs */
	ioev_loop_free(&loop);
	assert_true(t.closed);
	assert_int_equal(t.reason, IOEV_CLOSE_SHUTDOWN);
	buf_deinit(&t.log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readline_pieces),
		cmocka_unit_test(test_readline_one_piece_pipelined),
		cmocka_unit_test(test_readline_too_long),
		cmocka_unit_test(test_write_close_after_write),
		cmocka_unit_test(test_peer_eof),
		cmocka_unit_test(test_release_after_close),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_idle_timeout_callback),
		cmocka_unit_test(test_idle_timeout_cleared),
		cmocka_unit_test(test_idle_timeout_peer_not_reading),
		cmocka_unit_test(test_starttls_discards_pipelined),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_implicit_tls_garbage),
		cmocka_unit_test(test_implicit_tls_handshake_timeout),
		cmocka_unit_test(test_output_high_water),
		cmocka_unit_test(test_output_overflow),
		cmocka_unit_test(test_blocking_job_outlives_client),
		cmocka_unit_test(test_half_close_answers_everything),
		cmocka_unit_test(test_half_close_quit),
		cmocka_unit_test(test_blocking_job_resumes_pipeline),
		cmocka_unit_test(test_paused_full_input_idle),
		cmocka_unit_test(test_timer),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_watch_fd),
		cmocka_unit_test(test_watch_signal),
		cmocka_unit_test(test_watch_free_in_callback),
		cmocka_unit_test(test_loop_free_with_watches),
		cmocka_unit_test(test_addresses),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
