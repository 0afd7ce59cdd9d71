/* SPDX-License-Identifier: MIT */
/*
 * TLS contexts: the only module that touches OpenSSL's SSL API and the only
 * one that ever sees a private key (so a separate key process can take its
 * place later). Protocol code uses the opaque handles below and struct
 * tls_info; lib/ioev uses the session hooks at the end.
 */
#ifndef HERALD_TLS_TLS_H
#define HERALD_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct ssl_st;			/* OpenSSL's SSL, for lib/ioev only */

struct tls_server;		/* server SSL_CTX with certificate and key */
struct tls_client;		/* client SSL_CTX (outbound SMTP) */

/* What a Received header or a log line says about a TLS session. */
struct tls_info {
	char protocol[16];	/* "TLSv1.3" */
	char cipher[64];	/* "TLS_AES_256_GCM_SHA384" */
	int bits;		/* secret bits of the cipher, e.g. 256 */
};

/* Builds the server context from cfg->tls: minimum version
 * (cfg->tls.min_version, default TLSv1.2), cipher lists (defaults: ECDHE
 * with AEAD only for TLS 1.2, OpenSSL's TLS 1.3 suites), server cipher
 * preference, no compression, no renegotiation, no session tickets
 * (stateless tickets would need key rotation across workers).
 * When cfg->tls.cert is NULL, a self-signed certificate for cfg->hostname
 * is used, created by tls_selfsigned_ensure() on first start.
 * Returns NULL with an allocated message in *error_r (caller frees). */
struct tls_server *tls_server_new(const struct config *cfg, char **error_r);
void tls_server_free(struct tls_server **tls);

/* Client context for outbound SMTP: TLS 1.2+, system trust store loaded
 * (verification policy, DANE or MTA-STS, is decided per connection by the
 * caller later). Returns NULL with an allocated *error_r. */
struct tls_client *tls_client_new(const struct config *cfg, char **error_r);
void tls_client_free(struct tls_client **tls);

/* Makes sure <data_dir>/tls/selfsigned.{crt,key} exist: creates an EC P-256
 * key (file mode 0600) and a 10-year certificate with CN and SAN = hostname
 * when missing, else leaves them alone. Returns 0 and allocated paths
 * (either may be NULL if not wanted) or -1 with an allocated *error_r. */
int tls_selfsigned_ensure(const char *data_dir, const char *hostname,
			  char **cert_path_r, char **key_path_r,
			  char **error_r);

/* --- for lib/ioev: per-connection sessions ---------------------------- */

/* A new server-side SSL object from the context (never NULL; aborts on
 * allocation failure). Freed by libevent's bufferevent or tls_session_free. */
struct ssl_st *tls_server_session_new(struct tls_server *tls);
/* A new client-side SSL object; sni (may be NULL) is sent as server name. */
struct ssl_st *tls_client_session_new(struct tls_client *tls, const char *sni);
void tls_session_free(struct ssl_st **ssl);
/* Fills *info for an established session; zeroes it if there is none. */
void tls_session_info(const struct ssl_st *ssl, struct tls_info *info);
/* OpenSSL's error text for an error code from the error queue (e.g. what
 * bufferevent_get_openssl_error() returned), into out. Returns out. */
const char *tls_error_string(unsigned long err, char *out, size_t outsz);

#endif
