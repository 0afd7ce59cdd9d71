/* SPDX-License-Identifier: MIT */
/* daemon: refuses protocols without a handler; forks a real supervisor
 * with an echo protocol on loopback; a killed worker is restarted; SIGHUP
 * starts a new generation while established connections keep working; a
 * bad reload keeps the old config; SIGTERM ends every process in time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "daemon/daemon.h"
#include "lib/buf.h"
#include "lib/ioev.h"
#include "lib/mem.h"

static char tmpdir[64];

static void
cfg_add_listen(struct config *cfg, enum listen_proto proto, unsigned port)
{
	struct listen_list *l = &cfg->listen.proto[proto];
	struct listen_addr *a;
	struct sockaddr_in *sin;

	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	a->kind = LISTEN_INET;
	a->text = xasprintf("127.0.0.1:%u", port);
	sin = (struct sockaddr_in *)&a->ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sslen = sizeof(*sin);
}

static void
cfg_add_unix(struct config *cfg, enum listen_proto proto, const char *path)
{
	struct listen_list *l = &cfg->listen.proto[proto];
	struct listen_addr *a;

	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	a->kind = LISTEN_UNIX;
	a->text = xasprintf("unix:%s", path);
	a->path = xstrdup(path);
}

static void
cfg_add_inet6(struct config *cfg, enum listen_proto proto, unsigned port)
{
	struct listen_list *l = &cfg->listen.proto[proto];
	struct listen_addr *a;
	struct sockaddr_in6 *sin6;

	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	a->kind = LISTEN_INET;
	a->text = xasprintf("[::1]:%u", port);
	sin6 = (struct sockaddr_in6 *)&a->ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	sin6->sin6_addr = in6addr_loopback;
	a->sslen = sizeof(*sin6);
}

static bool
drop_to_herald(void)
{
	/* as root, drop to "herald" only if that user exists */
	return geteuid() == 0 && getpwnam("herald") != NULL;
}

static struct config *
cfg_new(unsigned workers)
{
	struct config *cfg = config_defaults();

	xfree(&cfg->hostname);
	cfg->hostname = xstrdup("mx.example.test");
	xfree(&cfg->data_dir);
	cfg->data_dir = xasprintf("%s/data", tmpdir);
	if (!drop_to_herald())
		xfree(&cfg->user);
	cfg->workers = workers;
	cfg->shutdown_timeout_ms = 3000;
	cfg->store.threads = 1;
	return cfg;
}

/* ---- the echo protocol the workers run ---- */

static void
echo_input(struct ioev_conn *conn, void *ctx)
{
	struct worker *w = ctx;
	struct ioev_line line;

	while (ioev_conn_readline(conn, 512, &line) == IOEV_LINE_OK) {
		char *text = xstrndup(line.data, line.crlf ? line.len - 1 :
				      line.len);

		ioev_conn_consume(conn, line.size);
		if (strcmp(text, "PID") == 0) {
			ioev_conn_printf(conn, "pid=%d gen=%u\r\n", (int)getpid(),
					 w->generation);
		} else if (strcmp(text, "QUIT") == 0) {
			ioev_conn_puts(conn, "bye\r\n");
			ioev_conn_close_after_write(conn);
		} else {
			ioev_conn_printf(conn, "echo:%s\r\n", text);
		}
		free(text);
	}
}

static void
echo_close(struct ioev_conn *conn, void *ctx, enum ioev_close_reason reason)
{
}

static const struct ioev_conn_callbacks echo_cbs = {
	.input = echo_input,
	.close = echo_close,
};

static void
echo_start(struct ioev_conn *conn, struct worker *w, enum listen_proto proto)
{
	ioev_conn_set_callbacks(conn, &echo_cbs, w);
	ioev_conn_printf(conn, "hello pid=%d gen=%u proto=%s uid=%d\r\n",
			 (int)getpid(), w->generation, listen_proto_name(proto),
			 (int)geteuid());
}

/* ---- harness ---- */

/* A port that is free now, for the daemon to bind later. Picked below
 * the kernel's ephemeral range (32768 and up), so that no client socket
 * of this or another test is given it in between, and never the same one
 * twice in a run. */
static unsigned
free_port(void)
{
	static unsigned next;

	if (next == 0)
		next = 20000 + (unsigned)(getpid() % 1000) * 10;
	for (int tries = 0; tries < 10000; tries++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		unsigned port = next;
		int fd = socket(AF_INET, SOCK_STREAM, 0), fd6, ok;

		next = next >= 32000 ? 20000 : next + 1;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)port);
		ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
		/* some tests listen on [::1] with it */
		fd6 = socket(AF_INET6, SOCK_STREAM, 0);
		if (ok && fd6 >= 0) {
			sin6.sin6_addr = in6addr_loopback;
			sin6.sin6_port = htons((uint16_t)port);
			ok = bind(fd6, (struct sockaddr *)&sin6,
				  sizeof(sin6)) == 0;
		}
		if (fd6 >= 0)
			close(fd6);
		if (ok)
			return port;
	}
	fail_msg("no free port");
	return 0;
}

static uint64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *
log_path(void)
{
	return xasprintf("%s/daemon.log", tmpdir);
}

static pid_t
daemon_start(struct config *cfg, const char *conf_path)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *lp = log_path();
		int fd = open(lp, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, STDERR_FILENO);
		close(fd);
		_exit(daemon_serve(conf_path, cfg));
	}
	return pid;
}

/* Reads one line (with a 10 s limit: a loaded box, sanitizers) into out;
 * returns 0 or -1. */
static int
read_line(int fd, char *out, size_t outsz)
{
	size_t n = 0;

	while (n + 1 < outsz) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&p, 1, 10000) <= 0 || read(fd, &c, 1) != 1)
			return -1;
		out[n++] = c;
		if (c == '\n')
			break;
	}
	out[n] = '\0';
	return 0;
}

/* Connects (retrying for 15 s: a starting daemon under load) and reads
 * the greeting. */
static int
client_connect(unsigned port, char *greeting, size_t sz)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint64_t end = ms_now() + 15000;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (ms_now() < end) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    read_line(fd, greeting, sz) == 0)
			return fd;
		close(fd);
		usleep(20 * 1000);
	}
	return -1;
}

static void
client_cmd(int fd, const char *cmd, char *reply, size_t sz)
{
	char *line = xasprintf("%s\r\n", cmd);

	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	free(line);
	assert_int_equal(read_line(fd, reply, sz), 0);
}

static int
greeting_pid(const char *g)
{
	const char *p = strstr(g, "pid=");

	return p != NULL ? (int)strtol(p + 4, NULL, 10) : -1;
}

static unsigned
greeting_gen(const char *g)
{
	const char *p = strstr(g, "gen=");

	return p != NULL ? (unsigned)strtoul(p + 4, NULL, 10) : 0;
}

static bool
process_gone(pid_t pid, int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;

	while (ms_now() < end) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* Stops the daemon with SIGTERM; it must be gone within 10 s (the
 * shutdown timeout is 3 s; the rest is slack for a loaded box). */
static void
daemon_stop(pid_t pid)
{
	uint64_t end = ms_now() + 10000;
	int status = -1;

	kill(pid, SIGTERM);
	while (ms_now() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10 * 1000);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static bool
log_contains(const char *needle)
{
	char *lp = log_path();
	FILE *fp = fopen(lp, "r");
	struct buf b;
	char tmp[4096];
	size_t n;
	bool found;

	free(lp);
	if (fp == NULL)
		return false;
	buf_init(&b);
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		buf_append(&b, tmp, n);
	fclose(fp);
	found = strstr(b.data, needle) != NULL;
	buf_deinit(&b);
	return found;
}

/* Waits up to 10 s for a log line: the daemon writes it from another
 * process, maybe after the event the test saw (a worker can greet before
 * the supervisor has logged "ready"). */
static bool
log_wait(const char *needle)
{
	uint64_t end = ms_now() + 10000;

	while (!log_contains(needle) && ms_now() < end)
		usleep(20 * 1000);
	return log_contains(needle);
}

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/herald-daemon-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	/* the echo handler stands in for SMTP; HTTP stays unavailable */
	for (enum listen_proto p = PROTO_SMTP; p <= PROTO_SUBMISSIONS; p++) {
		config_register_protocol(p);
		daemon_set_protocol_handler(p, echo_start);
	}
	return 0;
}

static int
teardown(void **state)
{
	char *cmd;

	if (getenv("HERALD_TEST_VERBOSE") != NULL) {
		cmd = xasprintf("cat %s/daemon.log >&2", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "no daemon log\n");
		free(cmd);
	}
	cmd = xasprintf("rm -rf %s", tmpdir);
	int ret = system(cmd);

	free(cmd);
	return ret == 0 ? 0 : -1;
}

/* ---- tests ---- */

static void
test_missing_protocol(void **state)
{
	struct config *cfg = cfg_new(1);
	pid_t pid;
	int status;

	cfg_add_listen(cfg, PROTO_HTTP, free_port());
	pid = daemon_start(cfg, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_true(log_contains("listen.http: the http protocol is not "
				 "available in this build"));
	config_free(&cfg);
}

static void
test_serve_and_restart(void **state)
{
	struct config *cfg = cfg_new(1);
	unsigned port = free_port();
	char g1[256], g2[256], reply[256];
	pid_t daemon, w1, w2;
	int fd;

	cfg_add_listen(cfg, PROTO_SMTP, port);
	daemon = daemon_start(cfg, NULL);
	fd = client_connect(port, g1, sizeof(g1));
	assert_true(fd >= 0);
	assert_non_null(strstr(g1, "gen=1 proto=smtp"));
	client_cmd(fd, "hello", reply, sizeof(reply));
	assert_string_equal(reply, "echo:hello\r\n");
	w1 = greeting_pid(g1);
	assert_true(w1 > 0 && w1 != daemon);
	if (cfg->user != NULL) {
		/* workers dropped to the herald user */
		char *expect = xasprintf("uid=%d", (int)getpwnam("herald")->pw_uid);

		assert_non_null(strstr(g1, expect));
		free(expect);
	}
	assert_true(log_wait("daemon ready listen=\"smtp=127.0.0.1:"));

	kill(w1, SIGKILL);
	/* the dropped client sees EOF */
	assert_int_equal(read_line(fd, reply, sizeof(reply)), -1);
	close(fd);
	fd = client_connect(port, g2, sizeof(g2));
	assert_true(fd >= 0);
	w2 = greeting_pid(g2);
	assert_true(w2 > 0 && w2 != w1);
	client_cmd(fd, "again", reply, sizeof(reply));
	assert_string_equal(reply, "echo:again\r\n");
	close(fd);
	assert_true(log_wait("worker-exit"));
	assert_true(log_wait("signal=9"));

	daemon_stop(daemon);
	assert_true(process_gone(w2, 3000));
	config_free(&cfg);
}

static void
write_conf(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* A real config file for the reload test: one smtp listener, and a
 * submission listener when port2 is not 0. */
static char *
reload_conf(unsigned port, unsigned port2)
{
	struct buf b;
	char *text;

	buf_init(&b);
	buf_printf(&b, "hostname = mx.example.test\ndata_dir = %s/data\n"
		   "workers = 1\nshutdown_timeout = 3s\n%s\n[listen]\n"
		   "smtp = 127.0.0.1:%u\n", tmpdir,
		   drop_to_herald() ? "" : "user =", port);
	if (port2 != 0)
		buf_printf(&b, "submission = 127.0.0.1:%u\n", port2);
	text = buf_steal(&b);
	buf_deinit(&b);
	return text;
}

static void
test_reload_graceful(void **state)
{
	unsigned port = free_port(), port2 = free_port();
	char *path = xasprintf("%s/herald.conf", tmpdir);
	char *text = reload_conf(port, 0);
	struct config *cfg;
	char g[256], reply[256];
	pid_t daemon, old_worker;
	uint64_t end;
	int a, b = -1, c;

	write_conf(path, text);
	cfg = config_load(path, NULL);
	daemon = daemon_start(cfg, path);
	a = client_connect(port, g, sizeof(g));
	assert_true(a >= 0);
	assert_int_equal(greeting_gen(g), 1);
	old_worker = greeting_pid(g);

	/* new config: one more listener */
	free(text);
	text = reload_conf(port, port2);
	write_conf(path, text);
	kill(daemon, SIGHUP);
	end = ms_now() + 15000;
	while (ms_now() < end) {
		b = client_connect(port, g, sizeof(g));
		assert_true(b >= 0);
		if (greeting_gen(g) == 2)
			break;
		close(b);
		b = -1;
		usleep(20 * 1000);
	}
	assert_true(b >= 0);
	assert_true(greeting_pid(g) != old_worker);
	/* the established connection is served by the draining worker */
	client_cmd(a, "PID", reply, sizeof(reply));
	assert_int_equal(greeting_pid(reply), old_worker);
	assert_int_equal(greeting_gen(reply), 1);
	c = client_connect(port2, g, sizeof(g));
	assert_true(c >= 0);
	assert_non_null(strstr(g, "gen=2 proto=submission"));
	close(c);
	assert_false(process_gone(old_worker, 200));
	/* once its last connection ends, the old worker exits */
	client_cmd(a, "QUIT", reply, sizeof(reply));
	close(a);
	assert_true(process_gone(old_worker, 10000));

	/* an invalid config is logged and the running one kept */
	write_conf(path, "bogus = 1\n");
	kill(daemon, SIGHUP);
	/* wait for the log line, not a fixed time */
	assert_true(log_wait("reload-failed"));
	client_cmd(b, "PID", reply, sizeof(reply));
	assert_int_equal(greeting_gen(reply), 2);
	c = client_connect(port, g, sizeof(g));
	assert_true(c >= 0);
	assert_int_equal(greeting_gen(g), 2);
	close(c);
	close(b);

	daemon_stop(daemon);
	config_free(&cfg);
	free(text);
	free(path);
}

static void
test_sigterm_stops_all(void **state)
{
	struct config *cfg = cfg_new(3);
	unsigned port = free_port();
	char g[256], reply[256];
	pid_t daemon, w;
	uint64_t t0;
	int fd;

	cfg_add_listen(cfg, PROTO_SMTP, port);
	daemon = daemon_start(cfg, NULL);
	fd = client_connect(port, g, sizeof(g));
	assert_true(fd >= 0);
	w = greeting_pid(g);
	t0 = ms_now();
	daemon_stop(daemon);
	assert_true(ms_now() - t0 < 10000);
	assert_true(process_gone(w, 3000));
	/* the open connection was closed, not left hanging */
	assert_int_equal(read_line(fd, reply, sizeof(reply)), -1);
	close(fd);
	config_free(&cfg);
}

static int
connect_fd(int fd, const struct sockaddr *sa, socklen_t sl, char *g, size_t gsz)
{
	uint64_t end = ms_now() + 15000;

	while (ms_now() < end) {
		if (connect(fd, sa, sl) == 0)
			return read_line(fd, g, gsz);
		usleep(20 * 1000);
	}
	return -1;
}

static void
test_listener_kinds_and_implicit_tls(void **state)
{
	struct config *cfg = cfg_new(1);
	char *path = xasprintf("%s/lmtp.sock", tmpdir);
	unsigned port6 = free_port(), port_tls = free_port();
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char g[256];
	struct stat st;
	SSL_CTX *ctx;
	SSL *ssl;
	pid_t daemon;
	int fd;

	/* a stale socket file from an earlier run */
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);

	cfg_add_unix(cfg, PROTO_SMTP, path);
	cfg_add_inet6(cfg, PROTO_SMTP, port6);
	cfg_add_listen(cfg, PROTO_SUBMISSIONS, port_tls);
	daemon = daemon_start(cfg, NULL);

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun),
				    g, sizeof(g)), 0);
	assert_non_null(strstr(g, "proto=smtp"));
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);

	sin6.sin6_port = htons((uint16_t)port6);
	sin6.sin6_addr = in6addr_loopback;
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd >= 0) {
		assert_int_equal(connect_fd(fd, (struct sockaddr *)&sin6,
					    sizeof(sin6), g, sizeof(g)), 0);
		close(fd);
	}

	/* submissions: the greeting comes inside TLS */
	sin.sin_port = htons((uint16_t)port_tls);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ctx = SSL_CTX_new(TLS_client_method());
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	assert_int_equal(SSL_connect(ssl), 1);
	memset(g, 0, sizeof(g));
	assert_true(SSL_read(ssl, g, sizeof(g) - 1) > 0);
	assert_non_null(strstr(g, "proto=submissions"));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);

	daemon_stop(daemon);
	/* the socket file is removed on a clean stop */
	assert_int_equal(stat(path, &st), -1);
	config_free(&cfg);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_protocol),
		cmocka_unit_test(test_serve_and_restart),
		cmocka_unit_test(test_reload_graceful),
		cmocka_unit_test(test_sigterm_stops_all),
		cmocka_unit_test(test_listener_kinds_and_implicit_tls),
	};

	/* the settings sections, for config_defaults(); setup() then puts
	 * the echo handler in SMTP's place */
	cli_modules_register();
	return cmocka_run_group_tests(tests, setup, teardown);
}
