/* SPDX-License-Identifier: MIT */
/*
 * Server and client SSL_CTX set-up and per-session hooks; see tls.h. The
 * self-signed certificate lives in tls-selfsigned.c.
 */
#include "tls/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/ssl.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/mem.h"

/* TLS 1.2: forward secrecy and AEAD only (Mozilla "intermediate" minus
 * finite-field DHE). TLS 1.3 suites are OpenSSL's defaults unless set. */
#define TLS_DEFAULT_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_server {
	struct ioev_tls io;
	SSL_CTX *ctx;
};

struct tls_client {
	struct ioev_tls io;	/* first: ioev hands it back */
	SSL_CTX *ctx;
};

/* Appends OpenSSL's queued errors to a message and empties the queue. */
static char *
tls_errmsg(const char *what)
{
	struct buf b;
	unsigned long err;
	char tmp[256], *msg;

	buf_init(&b);
	buf_puts(&b, what);
	while ((err = ERR_get_error()) != 0) {
		ERR_error_string_n(err, tmp, sizeof(tmp));
		buf_printf(&b, ": %s", tmp);
	}
	msg = buf_steal(&b);
	buf_deinit(&b);	/* buf_steal leaves a fresh empty buffer */
	return msg;
}

static int
tls_parse_version(enum config_tls_version v, int *version_r)
{
	switch (v) {
	case CONFIG_TLS_V1_2:
		*version_r = TLS1_2_VERSION;
		return 0;
	case CONFIG_TLS_V1_3:
		*version_r = TLS1_3_VERSION;
		return 0;
	}
	return -1;
}

static int
tls_ctx_common(SSL_CTX *ctx, const struct config_tls *t, char **error_r)
{
	int version;

	if (tls_parse_version(t != NULL ? t->min_version : CONFIG_TLS_V1_2,
			      &version) < 0) {
		*error_r = xasprintf("tls.min_version: %u is not TLSv1.2 or "
				     "TLSv1.3", (unsigned)t->min_version);
		return -1;
	}
	if (SSL_CTX_set_min_proto_version(ctx, version) != 1) {
		*error_r = tls_errmsg("cannot set the minimum TLS version");
		return -1;
	}
	if (SSL_CTX_set_cipher_list(ctx, t != NULL && t->ciphers != NULL ?
				    t->ciphers : TLS_DEFAULT_CIPHERS) != 1) {
		*error_r = tls_errmsg("tls.ciphers: no usable cipher");
		return -1;
	}
	if (t != NULL && t->ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) {
		*error_r = tls_errmsg("tls.ciphersuites: no usable suite");
		return -1;
	}
	/* Compression invites CRIME; renegotiation is a DoS lever and a
	 * source of historic bugs; neither is needed by mail clients. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* Idle IMAP connections are the common case: give back the 34 KiB
	 * of record buffers while a connection is quiet. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

static struct ssl_st *
tls_ioev_session_new(struct ioev_tls *io)
{
	/* io is the first member of its tls_server */
	return tls_server_session_new((struct tls_server *)(void *)io);
}

struct tls_server *
tls_server_new(const struct config *cfg, char **error_r)
{
	struct tls_server *tls;
	char *cert = NULL, *key = NULL;
	SSL_CTX *ctx;
	static const unsigned char sid_ctx[] = "herald";

	if (cfg->tls.cert != NULL) {
		cert = xstrdup(cfg->tls.cert);
		key = xstrdup(cfg->tls.key != NULL ? cfg->tls.key : cfg->tls.cert);
	} else if (tls_selfsigned_ensure(cfg->data_dir, cfg->hostname,
					 &cert, &key, error_r) < 0) {
		return NULL;
	}

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = tls_errmsg("SSL_CTX_new");
		goto fail;
	}
	if (tls_ctx_common(ctx, &cfg->tls, error_r) < 0)
		goto fail;
	/* A client that half-closes without close_notify (Exim over
	 * STARTTLS, most POP3 clients) still gets the replies it is owed:
	 * OpenSSL 3 would call its FIN an error and refuse to write. SMTP
	 * and POP3 end their data with a terminator of their own, so a
	 * truncated stream is never taken for a whole one. */
	/* SSL_OP_CLEANSE_PLAINTEXT: a decrypted record holds the AUTH line
	 * or PASS; OpenSSL frees its record buffer without wiping unless told
	 * (the protocols wipe their own copies, STYLE.md "Memory"). */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF |
			    SSL_OP_CLEANSE_PLAINTEXT);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		char *m = xasprintf("tls.cert: cannot load %s", cert);

		*error_r = tls_errmsg(m);
		free(m);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		char *m = xasprintf("tls.key: cannot load %s", key);

		*error_r = tls_errmsg(m);
		free(m);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_errmsg("tls.key does not match tls.cert");
		goto fail;
	}
	free(cert);
	free(key);
	tls = xcalloc(1, sizeof(*tls));
	tls->ctx = ctx;
	tls->io.session_new = tls_ioev_session_new;
	tls->io.session_info = tls_session_info;
	tls->io.session_close_notify = tls_session_close_notify;
	tls->io.error_reason = tls_error_reason;
	tls->io.handshake_timeout_ms = cfg->tls.handshake_timeout_ms;
	return tls;
fail:
	SSL_CTX_free(ctx);
	free(cert);
	free(key);
	return NULL;
}

void
tls_server_free(struct tls_server **tlsp)
{
	if (*tlsp == NULL)
		return;
	/* sessions hold their own reference to the SSL_CTX */
	SSL_CTX_free((*tlsp)->ctx);
	xfree(tlsp);
}

struct ioev_tls *
tls_server_ioev(struct tls_server *tls)
{
	return &tls->io;
}

struct tls_client *
tls_client_new(const struct config *cfg, char **error_r)
{
	struct tls_client *tls;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*error_r = tls_errmsg("SSL_CTX_new");
		return NULL;
	}
	if (tls_ctx_common(ctx, cfg != NULL ? &cfg->tls : NULL, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (cfg != NULL && cfg->smtp_client.ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(
			    ctx, cfg->smtp_client.ca_file, NULL) != 1) {
			char *m = xasprintf("smtp_client.ca_file: cannot load "
					    "%s", cfg->smtp_client.ca_file);

			*error_r = tls_errmsg(m);
			free(m);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		/* a missing system store is not fatal: opportunistic TLS
		 * still works */
		ERR_clear_error();
	}
	/* The handshake never fails on the certificate: the caller reads
	 * the verification result afterwards (tls_session_peer()) and
	 * decides by its policy, so that opportunistic TLS still encrypts
	 * and a required one fails with a readable reason. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* Session tickets after STARTTLS make Microsoft's servers drop the
	 * connection (golang/go #70232, maddy #730, mox #237); a client that
	 * never resumes has no use for them anyway. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET |
			    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	tls = xcalloc(1, sizeof(*tls));
	tls->ctx = ctx;
	tls->io.session_info = tls_session_info;
	tls->io.session_close_notify = tls_session_close_notify;
	tls->io.error_reason = tls_error_reason;
	tls->io.handshake_timeout_ms = cfg != NULL ?
		cfg->smtp_client.tls_timeout_ms : 0;
	return tls;
}

void
tls_client_free(struct tls_client **tlsp)
{
	if (*tlsp == NULL)
		return;
	SSL_CTX_free((*tlsp)->ctx);
	xfree(tlsp);
}

struct ssl_st *
tls_server_session_new(struct tls_server *tls)
{
	SSL *ssl = SSL_new(tls->ctx);

	if (ssl == NULL)
		abort();
	return ssl;
}

struct ssl_st *
tls_client_session_new(struct tls_client *tls, const char *sni)
{
	SSL *ssl = SSL_new(tls->ctx);

	if (ssl == NULL)
		abort();
	if (sni != NULL)
		SSL_set_tlsext_host_name(ssl, sni);
	return ssl;
}

struct ioev_tls *
tls_client_ioev(struct tls_client *tls)
{
	return &tls->io;
}

void
tls_client_session_verify_name(struct ssl_st *ssl, const char *name)
{
	if (name == NULL || *name == '\0')
		return;
	/* RFC 6125 matching with wildcards only as the whole leftmost label
	 * and no partial wildcards; the check runs during the handshake and
	 * its outcome is in SSL_get_verify_result() */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, name) != 1)
		ERR_clear_error();
}

static void
tls_name_oneline(X509_NAME *name, char *out, size_t outsz)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	out[0] = '\0';
	if (bio == NULL || name == NULL) {
		BIO_free(bio);
		return;
	}
	/* RFC 2253 order, UTF-8 kept, control characters escaped: the
	 * text goes into log lines and Received headers */
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_get_mem_data(bio, &p);
	if (n > 0)
		snprintf(out, outsz, "%.*s", (int)n, p);
	BIO_free(bio);
	for (char *c = out; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '"')
			*c = '?';
}

void
tls_session_peer(const struct ssl_st *ssl, struct tls_peer *peer_r)
{
	X509 *cert;
	long res;

	memset(peer_r, 0, sizeof(*peer_r));
	if (ssl == NULL)
		return;
	cert = SSL_get0_peer_certificate(ssl);
	if (cert == NULL) {
		snprintf(peer_r->error, sizeof(peer_r->error),
			 "no peer certificate");
		return;
	}
	tls_name_oneline(X509_get_subject_name(cert), peer_r->subject,
			 sizeof(peer_r->subject));
	tls_name_oneline(X509_get_issuer_name(cert), peer_r->issuer,
			 sizeof(peer_r->issuer));
	res = SSL_get_verify_result(ssl);
	if (res == X509_V_OK) {
		peer_r->verified = true;
		return;
	}
	snprintf(peer_r->error, sizeof(peer_r->error), "%s",
		 X509_verify_cert_error_string(res));
}

void
tls_session_free(struct ssl_st **ssl)
{
	SSL_free(*ssl);
	*ssl = NULL;
}

void
tls_session_info(const struct ssl_st *ssl, struct ioev_tls_info *info)
{
	const SSL_CIPHER *c;

	memset(info, 0, sizeof(*info));
	if (ssl == NULL || (c = SSL_get_current_cipher(ssl)) == NULL)
		return;
	snprintf(info->protocol, sizeof(info->protocol), "%s",
		 SSL_get_version(ssl));
	snprintf(info->cipher, sizeof(info->cipher), "%s",
		 SSL_CIPHER_get_name(c));
	info->bits = SSL_CIPHER_get_bits(c, NULL);
}

void
tls_session_close_notify(struct ssl_st *ssl)
{
	if (ssl == NULL || !SSL_is_init_finished(ssl) ||
	    (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) != 0)
		return;
	/* Non-blocking socket: the alert is written now or not at all; the
	 * peer's answer is not waited for (the socket closes next), and a
	 * failure (the peer gone) is nobody's business. */
	if (SSL_shutdown(ssl) < 0)
		ERR_clear_error();
}

const char *
tls_error_reason(unsigned long err, char *out, size_t outsz)
{
	const char *r = err != 0 ? ERR_reason_error_string(err) : NULL;

	if (err == 0)
		snprintf(out, outsz, "connection closed during handshake");
	else if (r != NULL)
		snprintf(out, outsz, "%s", r);
	else
		ERR_error_string_n(err, out, outsz);
	return out;
}
