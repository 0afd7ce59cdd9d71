/* SPDX-License-Identifier: MIT */
/* tls: self-signed certificate made once and reused, key mode 0600, SAN;
 * protocol floor (TLS 1.1 refused, 1.2 and 1.3 accepted, min_version);
 * session info; configured certificate files; client context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf/config.h"
#include "lib/mem.h"
#include "tls/tls.h"

static char dir[64];

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/herald-tls-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", dir);
	int ret = system(cmd);

	free(cmd);
	return ret == 0 ? 0 : -1;
}

static void
cfg_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = dir;
	cfg->hostname = "mx.example.test";
}

static void
test_selfsigned_created_once(void **state)
{
	struct config cfg;
	struct tls_server *tls;
	char *error = NULL, *crt = xasprintf("%s/tls/selfsigned.crt", dir);
	char *key = xasprintf("%s/tls/selfsigned.key", dir);
	struct stat st1, st2, stk;
	FILE *fp;
	X509 *x;

	cfg_init(&cfg);
	tls = tls_server_new(&cfg, &error);
	assert_non_null(tls);
	tls_server_free(&tls);
	assert_null(tls);
	assert_int_equal(stat(crt, &st1), 0);
	assert_int_equal(stat(key, &stk), 0);
	assert_int_equal(stk.st_mode & 0777, 0600);

	/* second start: reused, not regenerated */
	sleep(1);
	tls = tls_server_new(&cfg, &error);
	assert_non_null(tls);
	tls_server_free(&tls);
	assert_int_equal(stat(crt, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_mtime, st2.st_mtime);

	fp = fopen(crt, "r");
	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	assert_int_equal(X509_check_host(x, "mx.example.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "other.test", 0, 0, NULL), 0);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), NULL) > 0);
	X509_free(x);
	free(crt);
	free(key);
}

struct srv_args {
	struct tls_server *tls;
	int fd;
	int ok;
	struct ioev_tls_info info;
};

static void *
srv_thread(void *arg)
{
	struct srv_args *a = arg;
	SSL *ssl = tls_server_session_new(a->tls);
	char c;

	SSL_set_fd(ssl, a->fd);
	a->ok = SSL_accept(ssl) == 1;
	if (a->ok) {
		tls_session_info(ssl, &a->info);
		SSL_write(ssl, "x", 1);
		(void)SSL_read(ssl, &c, 1);
	}
	tls_session_free(&ssl);
	assert_null(ssl);
	close(a->fd);
	return NULL;
}

/* Handshakes a client limited to [min, max] against tls; returns whether
 * the handshake succeeded. */
static bool
try_handshake(struct tls_server *tls, int min, int max, struct ioev_tls_info *info)
{
	struct srv_args a = { .tls = tls };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	pthread_t th;
	int sv[2];
	bool ok;
	char c;

	/* let the client offer old versions, so the refusal is the server's */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
	SSL_CTX_set_min_proto_version(ctx, min);
	SSL_CTX_set_max_proto_version(ctx, max);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	a.fd = sv[0];
	pthread_create(&th, NULL, srv_thread, &a);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, sv[1]);
	ok = SSL_connect(ssl) == 1;
	if (ok) {
		ok = SSL_read(ssl, &c, 1) == 1;
		SSL_write(ssl, "y", 1);
	}
	SSL_free(ssl);
	close(sv[1]);
	pthread_join(th, NULL);
	SSL_CTX_free(ctx);
	if (info != NULL)
		*info = a.info;
	return ok && a.ok;
}

static void
test_protocol_floor(void **state)
{
	struct config cfg;
	struct tls_server *tls;
	struct ioev_tls_info info;
	char *error = NULL;

	cfg_init(&cfg);
	tls = tls_server_new(&cfg, &error);
	assert_non_null(tls);
	assert_false(try_handshake(tls, TLS1_VERSION, TLS1_1_VERSION, NULL));
	assert_false(try_handshake(tls, TLS1_VERSION, TLS1_VERSION, NULL));
	assert_true(try_handshake(tls, TLS1_2_VERSION, TLS1_2_VERSION, &info));
	assert_string_equal(info.protocol, "TLSv1.2");
	assert_true(info.bits >= 128);
	assert_non_null(strstr(info.cipher, "ECDHE"));
	assert_true(try_handshake(tls, TLS1_VERSION, TLS1_3_VERSION, &info));
	assert_string_equal(info.protocol, "TLSv1.3");
	tls_server_free(&tls);

	cfg.tls.min_version = CONFIG_TLS_V1_3;
	tls = tls_server_new(&cfg, &error);
	assert_non_null(tls);
	assert_false(try_handshake(tls, TLS1_2_VERSION, TLS1_2_VERSION, NULL));
	assert_true(try_handshake(tls, TLS1_2_VERSION, TLS1_3_VERSION, NULL));
	tls_server_free(&tls);
}

static void
test_bad_settings(void **state)
{
	struct config cfg;
	char *error = NULL;

	cfg_init(&cfg);
	/* a value no setting can produce */
	cfg.tls.min_version = (enum config_tls_version)7;
	assert_null(tls_server_new(&cfg, &error));
	assert_non_null(strstr(error, "tls.min_version"));
	free(error);
	error = NULL;

	cfg_init(&cfg);
	cfg.tls.cert = "/nonexistent/cert.pem";
	cfg.tls.key = "/nonexistent/key.pem";
	assert_null(tls_server_new(&cfg, &error));
	assert_non_null(strstr(error, "tls.cert"));
	free(error);
	error = NULL;

	cfg_init(&cfg);
	cfg.data_dir = "/nonexistent/dir";
	assert_null(tls_server_new(&cfg, &error));
	assert_non_null(strstr(error, "/nonexistent/dir/tls"));
	free(error);
}

static void
test_configured_files(void **state)
{
	struct config cfg;
	struct tls_server *tls;
	char *error = NULL, *crt = xasprintf("%s/tls/selfsigned.crt", dir);
	char *key = xasprintf("%s/tls/selfsigned.key", dir);

	/* the generated pair, given explicitly as cert and key */
	assert_int_equal(tls_selfsigned_ensure(dir, "mx.example.test", NULL,
					       NULL, &error), 0);
	cfg_init(&cfg);
	cfg.data_dir = "/nonexistent";	/* not needed with explicit files */
	cfg.tls.cert = crt;
	cfg.tls.key = key;
	tls = tls_server_new(&cfg, &error);
	assert_non_null(tls);
	assert_true(try_handshake(tls, TLS1_2_VERSION, TLS1_3_VERSION, NULL));
	tls_server_free(&tls);
	free(crt);
	free(key);
}

static void
test_client_ctx(void **state)
{
	struct tls_client *c;
	struct ssl_st *ssl;
	char *error = NULL;

	c = tls_client_new(NULL, &error);
	assert_non_null(c);
	ssl = tls_client_session_new(c, "mx.example.test");
	assert_non_null(ssl);
	/* CLIENT-QUIRKS: Microsoft drops sessions that got a ticket */
	assert_true((SSL_get_options(ssl) & SSL_OP_NO_TICKET) != 0);
	assert_string_equal(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
			    "mx.example.test");
	assert_non_null(tls_client_ioev(c));
	tls_session_free(&ssl);
	tls_client_free(&c);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selfsigned_created_once),
		cmocka_unit_test(test_protocol_floor),
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_configured_files),
		cmocka_unit_test(test_client_ctx),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
