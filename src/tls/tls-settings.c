/* SPDX-License-Identifier: MIT */
/*
 * The [tls] settings table. Cipher lists are handed to OpenSSL when the
 * file is loaded, so that a list OpenSSL cannot use is an error naming its
 * line in `herald config check`, not a server that fails to start.
 */
#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conf/config.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "tls/tls.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OFF(field) offsetof(struct config, field)

/* config_set() stores an enum setting through an unsigned *. */
_Static_assert(sizeof(enum config_tls_version) == sizeof(unsigned),
	       "enum size");

/* Applies list to a scratch context with set (SSL_CTX_set_cipher_list or
 * SSL_CTX_set_ciphersuites), which fail when nothing in it is usable. */
static int
list_check(const char *list, int (*set)(SSL_CTX *, const char *),
	   const char *what, char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int ok;

	if (ctx == NULL)
		panic("tls: SSL_CTX_new failed");
	ok = set(ctx, list);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	if (ok == 1)
		return 0;
	*error_r = xasprintf("'%s' has no %s OpenSSL knows", list, what);
	return -1;
}

static int
ciphers_check(const char *value, char **error_r)
{
	return list_check(value, SSL_CTX_set_cipher_list, "TLS 1.2 cipher",
			  error_r);
}

static int
ciphersuites_check(const char *value, char **error_r)
{
	return list_check(value, SSL_CTX_set_ciphersuites, "TLS 1.3 suite",
			  error_r);
}

static const struct setting tls_settings[] = {
	{ .key = "cert", .type = SETTING_STRING, .offset = OFF(tls.cert),
	  .reloadable = true,
	  .doc = "PEM certificate chain. Absent: a self-signed certificate for "
		 "`hostname` is created in `data_dir/tls/` at first start." },
	{ .key = "key", .type = SETTING_STRING, .offset = OFF(tls.key),
	  .reloadable = true,
	  .doc = "PEM private key for `cert`. Required when `cert` is set." },
	{ .key = "min_version", .type = SETTING_ENUM,
	  .offset = OFF(tls.min_version), .def = "TLSv1.2",
	  .enum_values = "TLSv1.2|TLSv1.3", .reloadable = true,
	  .doc = "Oldest TLS version accepted." },
	{ .key = "ciphers", .type = SETTING_STRING, .offset = OFF(tls.ciphers),
	  .def = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20",
	  .reloadable = true, .check = ciphers_check,
	  .doc = "OpenSSL cipher list for TLS 1.2." },
	{ .key = "ciphersuites", .type = SETTING_STRING,
	  .offset = OFF(tls.ciphersuites),
	  .def = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
		 "TLS_AES_128_GCM_SHA256",
	  .reloadable = true, .check = ciphersuites_check,
	  .doc = "OpenSSL cipher suites for TLS 1.3." },
	{ .key = "handshake_timeout", .type = SETTING_DURATION,
	  .offset = OFF(tls.handshake_timeout_ms), .def = "30s", .min = 100,
	  .max = 600000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "A TLS handshake (implicit TLS, STARTTLS, STLS) not finished "
		 "after this long is closed, and its connection slot freed." },
};

const struct setting_section tls_settings_section = {
	.name = "tls",
	.settings = tls_settings,
	.n_settings = N(tls_settings),
	.doc = "TLS for every listener.",
};
