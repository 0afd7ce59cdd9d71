/* SPDX-License-Identifier: MIT */
/*
 * TLS contexts: the only module that touches OpenSSL's SSL API and the only
 * one that ever sees a private key (so a separate key process can take its
 * place later). Protocol code uses the opaque handles below; lib/ioev does
 * its TLS through the struct ioev_tls a server context carries.
 */
#ifndef HERALD_TLS_TLS_H
#define HERALD_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/ioev.h"

struct config;
struct setting_section;
struct ssl_st;			/* OpenSSL's SSL */

/* The [tls] section of the configuration (tls-settings.c). */
extern const struct setting_section tls_settings_section;

struct tls_server;		/* server SSL_CTX with certificate and key */
struct tls_client;		/* client SSL_CTX (outbound SMTP) */

/* Builds the server context from cfg->tls: minimum version
 * (cfg->tls.min_version, default TLSv1.2), cipher lists (defaults: ECDHE
 * with AEAD only for TLS 1.2, OpenSSL's TLS 1.3 suites), server cipher
 * preference, no compression, no renegotiation, no session tickets
 * (stateless tickets would need key rotation across workers), a peer's
 * FIN without close_notify read as an orderly end (so a half-closing
 * client still gets its replies), handshakes limited to
 * cfg->tls.handshake_timeout_ms.
 * When cfg->tls.cert is NULL, a self-signed certificate for cfg->hostname
 * is used, created by tls_selfsigned_ensure() on first start.
 * Returns NULL with an allocated message in *error_r (caller frees). */
struct tls_server *tls_server_new(const struct config *cfg, char **error_r);
void tls_server_free(struct tls_server **tls);
/* The context as lib/ioev uses it (ioev_conn_new, ioev_conn_starttls);
 * valid as long as tls. */
struct ioev_tls *tls_server_ioev(struct tls_server *tls);

/* Client context for outbound SMTP: TLS 1.2+, [smtp_client] ca_file or
 * else the system trust store loaded, no session tickets (CLIENT-QUIRKS:
 * Microsoft), the handshake never fails on the certificate (the caller
 * reads tls_session_peer() and applies its policy). cfg may be NULL
 * (defaults, system store). Returns NULL with an allocated *error_r. */
struct tls_client *tls_client_new(const struct config *cfg, char **error_r);
void tls_client_free(struct tls_client **tls);

/* Makes sure <data_dir>/tls/selfsigned.{crt,key} exist: creates an EC P-256
 * key (file mode 0600) and a 10-year certificate with CN and SAN = hostname
 * when missing, else leaves them alone. Returns 0 and allocated paths
 * (either may be NULL if not wanted) or -1 with an allocated *error_r. */
int tls_selfsigned_ensure(const char *data_dir, const char *hostname,
			  char **cert_path_r, char **key_path_r,
			  char **error_r);

/* --- per-connection sessions (what tls_server_ioev() hands to ioev) --- */

/* A new server-side SSL object from the context (never NULL; aborts on
 * allocation failure). Freed by libevent's bufferevent or tls_session_free. */
struct ssl_st *tls_server_session_new(struct tls_server *tls);
/* A new client-side SSL object; sni (may be NULL) is sent as server name. */
struct ssl_st *tls_client_session_new(struct tls_client *tls, const char *sni);
/* Sets the name a client session's certificate is checked against (RFC
 * 6125: SAN dNSName, wildcard only as the whole first label); the result
 * is in tls_session_peer() after the handshake. NULL/"": chain only. */
void tls_client_session_verify_name(struct ssl_st *ssl, const char *name);
/* The client context as lib/ioev uses it (ioev_conn_starttls_client);
 * valid as long as tls. */
struct ioev_tls *tls_client_ioev(struct tls_client *tls);

/* The peer's certificate after a client handshake: whether chain and
 * name (tls_client_session_verify_name) verified, else why (OpenSSL's
 * text: "self-signed certificate", "hostname mismatch"), and subject
 * and issuer on one line (RFC 2253, control characters and '"' as '?'). */
struct tls_peer {
	bool verified;
	char error[128];
	char subject[256];
	char issuer[256];
};
void tls_session_peer(const struct ssl_st *ssl, struct tls_peer *peer_r);
void tls_session_free(struct ssl_st **ssl);
/* Fills *info for an established session; zeroes it if there is none. */
void tls_session_info(const struct ssl_st *ssl, struct ioev_tls_info *info);
/* Sends close_notify on an established session, once, without waiting for
 * the peer's; a session not (or no longer) established is left alone. */
void tls_session_close_notify(struct ssl_st *ssl);
/* A short, readable reason for an error code from the error queue (what
 * bufferevent_get_openssl_error() returned): OpenSSL's reason text ("no
 * shared cipher", "wrong version number", "tlsv1 alert unknown ca"), or
 * "connection closed during handshake" for 0. Returns out. */
const char *tls_error_reason(unsigned long err, char *out, size_t outsz);

#endif
