/* SPDX-License-Identifier: MIT */
/*
 * The SMTP and LMTP client (outbound delivery): one connection to one
 * address that routing chose, on an ioev loop, then any number of
 * transactions on it. No DNS and no retries here: the queue runner
 * (src/queue/) picks addresses, decides what a failure means and when to
 * try again. See docs/outbound.md "The SMTP client" and "TLS".
 */
#ifndef HERALD_SMTP_SMTP_CLIENT_H
#define HERALD_SMTP_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/ioev.h"
#include "smtp/smtp-params.h"
#include "smtp/smtp-reply.h"

struct config;
struct setting_section;
struct tls_client;
struct smtp_client;

/* The [smtp_client] section (smtp-client-settings.c): timeouts, limits,
 * HELO name, CA file. Routing, relayhost, transports and credentials are
 * the queue runner's sections, not this one. */
extern const struct setting_section smtp_client_settings_section;

/* ---- options ---------------------------------------------------------- */

enum smtp_client_protocol {
	SMTP_CLIENT_SMTP,	/* EHLO, HELO fallback */
	SMTP_CLIENT_LMTP,	/* LHLO, one reply per recipient after DATA */
};

enum smtp_client_tls_policy {
	/* Never STARTTLS (local LMTP, or a destination configured so). */
	SMTP_CLIENT_TLS_NONE,
	/* STARTTLS when offered, certificate not required to verify
	 * (RFC 7435 opportunistic); a failed handshake is reported as
	 * SMTP_CLIENT_ERR_TLS_HANDSHAKE and the queue may retry the same
	 * address with SMTP_CLIENT_TLS_NONE (Postfix does the same). */
	SMTP_CLIENT_TLS_MAY,
	/* STARTTLS required and the certificate must verify against
	 * verify_name (or server_name): chain to a trusted CA
	 * ([smtp_client] ca_file, else the system store) and the name. */
	SMTP_CLIENT_TLS_ENCRYPT,
	/* TLS from the first byte (a relayhost on port 465, RFC 8314),
	 * verified as for SMTP_CLIENT_TLS_ENCRYPT. */
	SMTP_CLIENT_TLS_IMPLICIT,
};

/* RFC 5321 4.5.3.2 timeouts, in milliseconds. Each one bounds the wait
 * for one reply (or, for data_block_ms, for the remote to take one block
 * of the message). */
struct smtp_client_timeouts {
	uint64_t connect_ms;	/* TCP connect (not in the RFC): 30 s */
	uint64_t greeting_ms;	/* 4.5.3.2.1 initial 220: 5 min */
	uint64_t helo_ms;	/* EHLO/LHLO/HELO, STARTTLS, AUTH: 5 min */
	uint64_t mail_ms;	/* 4.5.3.2.2 MAIL: 5 min */
	uint64_t rcpt_ms;	/* 4.5.3.2.3 RCPT: 5 min */
	uint64_t data_init_ms;	/* 4.5.3.2.4 354 to DATA: 2 min */
	uint64_t data_block_ms;	/* 4.5.3.2.5 each block sent: 3 min */
	uint64_t data_end_ms;	/* 4.5.3.2.6 reply after the dot: 10 min */
	uint64_t tls_ms;	/* TLS handshake: 1 min */
	uint64_t quit_ms;	/* RSET and QUIT replies: 1 min */
};

/* Caps on what the remote may send (docs/limits.md). */
struct smtp_client_limits {
	/* longest reply line accepted, with CRLF (RFC 5321 4.5.3.1.5 says
	 * 512; real servers send longer): 2048 */
	size_t reply_line_max;
	/* lines of one multi-line reply (an EHLO reply is the longest in
	 * practice): 100 */
	unsigned reply_lines_max;
};

struct smtp_client_opts {
	enum smtp_client_protocol protocol;
	/* Name sent in EHLO/LHLO/HELO (required; usually cfg->hostname). */
	const char *helo_name;
	/* The remote's host name as routing found it (MX target, relayhost
	 * or transport host): sent as SNI, used in log lines and, with
	 * verify_name NULL, verified against the certificate. NULL for an
	 * address with no name (then no SNI). */
	const char *server_name;
	enum smtp_client_tls_policy tls_policy;
	/* Name the certificate must match under ENCRYPT/IMPLICIT; NULL:
	 * server_name. */
	const char *verify_name;
	/* Client TLS context (tls_client_new()); required unless tls_policy
	 * is NONE. Must outlive the client. */
	struct tls_client *tls;
	/* AUTH (RFC 4954) with PLAIN, else LOGIN, when both are set; only
	 * over TLS unless auth_allow_plaintext. A remote that does not offer
	 * AUTH, or neither mechanism, fails the connect with
	 * SMTP_CLIENT_ERR_AUTH_UNAVAILABLE. Copied (and wiped on free). */
	const char *auth_user;
	const char *auth_pass;
	bool auth_allow_plaintext;
	struct smtp_client_timeouts timeouts;
	struct smtp_client_limits limits;
	/* Source address for TCP connections of each family ("192.0.2.7",
	 * "2001:db8::7"); NULL: the system chooses. A value that does not
	 * parse is ignored (the config check refuses it). */
	const char *bind_address;
	const char *bind_address6;
};

/* Fills *opts_r from cfg->smtp_client: helo_name = cfg->hostname (or
 * [smtp_client] helo_name), bind addresses, timeouts and limits from
 * the settings, policy
 * MAY, protocol SMTP, no TLS context and no AUTH (the caller sets those).
 * The strings point into cfg. */
void smtp_client_opts_from_config(const struct config *cfg,
				  struct smtp_client_opts *opts_r);
/* Defaults of the RFC (as above) without a config; for tests. */
void smtp_client_opts_default(struct smtp_client_opts *opts_r);

/* ---- connecting -------------------------------------------------------- */

enum smtp_client_error {
	SMTP_CLIENT_OK,
	SMTP_CLIENT_ERR_CONNECT,	/* refused, unreachable: errno text */
	SMTP_CLIENT_ERR_CONNECT_TIMEOUT,
	SMTP_CLIENT_ERR_GREETING,	/* 4xx/5xx greeting: see reply */
	SMTP_CLIENT_ERR_HELO,		/* EHLO and HELO refused: reply */
	SMTP_CLIENT_ERR_TLS_UNAVAILABLE, /* ENCRYPT and no STARTTLS */
	SMTP_CLIENT_ERR_STARTTLS,	/* STARTTLS answered non-220: reply */
	SMTP_CLIENT_ERR_TLS_HANDSHAKE,	/* handshake failed: reason */
	SMTP_CLIENT_ERR_TLS_CERT,	/* certificate not verified: reason */
	SMTP_CLIENT_ERR_AUTH_UNAVAILABLE, /* no AUTH/mechanism, or no TLS */
	SMTP_CLIENT_ERR_AUTH,		/* credentials refused: reply */
	SMTP_CLIENT_ERR_PROTOCOL,	/* unreadable reply, too long */
	SMTP_CLIENT_ERR_TIMEOUT,	/* no reply in time */
	SMTP_CLIENT_ERR_LOST,		/* the remote closed or reset */
};

/* Short name for logs and tests: "connect", "tls-cert", ... */
const char *smtp_client_error_name(enum smtp_client_error err);

/* Why a connection could not be used. Valid during the callback only. */
struct smtp_client_failure {
	enum smtp_client_error error;
	/* The remote's reply when it gave one (greeting, HELO, STARTTLS,
	 * AUTH), else code 0. */
	const struct smtp_reply *reply;
	/* One readable line for logs, queue show and DSNs, e.g.
	 * "connect to mx.example.org[192.0.2.1]:25: Connection refused",
	 * "certificate not verified: hostname mismatch",
	 * "host mx.example.org[192.0.2.1] said: 554 5.7.1 go away (in reply
	 * to the greeting)". */
	const char *message;
	/* The remote refused us for good (a 5xx greeting or HELO, or
	 * refused credentials); the queue still usually tries the next MX
	 * (RFC 5321 5.1). Everything else is temporary. */
	bool permanent;
};

/* Called once when the session is ready for smtp_client_send() (greeting
 * read, EHLO/LHLO done or HELO fallback, STARTTLS per policy, EHLO again,
 * AUTH when asked), with failure NULL; or when it failed, with failure
 * set, after which the only valid call is smtp_client_free(). */
typedef void smtp_client_ready_cb_t(struct smtp_client *client,
				    const struct smtp_client_failure *failure,
				    void *ctx);

/* Connects to addr (AF_INET, AF_INET6 with the port set, or AF_UNIX for
 * LMTP on a socket path; see smtp_client_unix_addr()) and runs the
 * opening. Never NULL; a failure, even an immediate one, is reported
 * through ready_cb from a later loop iteration. opts and its strings are
 * copied. The client belongs to the caller until smtp_client_free() or
 * smtp_client_quit(). */
struct smtp_client *smtp_client_connect(struct ioev_loop *loop,
					const struct sockaddr *addr,
					socklen_t addrlen,
					const struct smtp_client_opts *opts,
					smtp_client_ready_cb_t *ready_cb,
					void *ctx);

/* Fills *addr_r for a unix socket path; returns the length, or 0 when
 * the path does not fit sun_path. */
socklen_t smtp_client_unix_addr(const char *path,
				struct sockaddr_storage *addr_r);

/* ---- what the session learnt (logs, Received headers, queue records) -- */

/* ESMTP extensions the remote offered (SMTP_EXT_* of smtp-reply.h). */
struct smtp_client_info {
	char peer_ip[46];	/* "192.0.2.1", "2001:db8::1", "unix" */
	unsigned peer_port;	/* 0 for unix */
	const char *server_name; /* opts->server_name, or peer_ip */
	char local_ip[46];	/* our end, once connected ("" before) */
	/* The domain the remote named in its greeting ("mx.example.org"),
	 * or "" */
	const char *remote_name;
	bool esmtp;		/* EHLO/LHLO succeeded (not HELO) */
	unsigned ext;		/* SMTP_EXT_* bits */
	uint64_t size_max;	/* SIZE's value; 0: none given */
	bool tls;		/* the session is encrypted */
	struct ioev_tls_info tls_info;	/* protocol, cipher, bits */
	/* The certificate chain and name verified (under any policy: with
	 * MAY an unverified one is used and said so in the log). */
	bool cert_verified;
	char cert_error[128];	/* why not: "self-signed certificate",
				 * "hostname mismatch"; "" when verified */
	char cert_subject[256];	/* "CN=mx.example.org" (one line), or "" */
	char cert_issuer[256];
	bool authenticated;	/* AUTH succeeded */
};

/* Valid until the client is freed; fields fill in as the session goes
 * (TLS fields after the handshake). */
const struct smtp_client_info *smtp_client_info(const struct smtp_client *client);

/* ---- sending ----------------------------------------------------------- */

struct smtp_client_rcpt {
	const char *address;	/* "bob@example.org", no angle brackets */
	unsigned notify;	/* SMTP_NOTIFY_*; 0: no NOTIFY= */
	/* ORCPT= (RFC 3461 4.2): type ("rfc822", "utf-8") and the
	 * original address decoded (the client xtext-encodes it); NULL: no
	 * ORCPT=. */
	const char *orcpt_type;
	const char *orcpt_addr;
};

struct smtp_client_envelope {
	const char *mail_from;	/* "" for the null sender <> */
	/* The message or an address needs SMTPUTF8 (RFC 6531): sent with
	 * SMTPUTF8 when offered, else every recipient fails with 5.6.7
	 * (SMTP_CLIENT_SEND_NEED_SMTPUTF8) and nothing is sent. */
	bool smtputf8;
	/* SMTP_BODY_8BITMIME: the message has 8-bit octets; sent with
	 * BODY=8BITMIME when offered, else 5.6.3 for every recipient
	 * (no downgrade that would break signatures). 7BIT or
	 * UNSPECIFIED: BODY=7BIT is not sent (it is the default).
	 * BINARYMIME is refused locally (5.6.3) unless the remote offers
	 * BINARYMIME and CHUNKING (not supported yet: always refused). */
	enum smtp_body body;
	/* DSN parameters (RFC 3461), sent only when the remote offers DSN;
	 * otherwise the queue runner generates what the remote would have
	 * (success DSNs on NOTIFY=SUCCESS; RFC 3461 4.1 "relayed"). */
	enum smtp_ret ret;
	const char *envid;	/* decoded; NULL: none */
	const struct smtp_client_rcpt *rcpts;
	size_t n_rcpts;		/* at least 1 */
};

/* The message. Read in blocks on the loop's thread pool (pread from fd)
 * or from memory, converted on the way: every line ends in CRLF whatever
 * it ended in (a bare LF or a bare CR becomes CRLF: no SMTP smuggling),
 * dot-stuffed for DATA, and a missing final line end is added. */
struct smtp_client_message {
	/* An open descriptor (store_blob_open()): read from offset 0 with
	 * pread, never closed by the client; stays the caller's and must
	 * stay open until the send callback. -1: use data/len. */
	int fd;
	const uint8_t *data;	/* when fd == -1; must outlive the send */
	size_t len;
	/* Sent before the message (a Received: or DKIM-Signature: field
	 * the queue adds, with its CRLF); may be NULL. Copied. */
	const char *prefix;
};

enum smtp_client_send_error {
	SMTP_CLIENT_SEND_OK,		/* the transaction ran: see rcpts */
	/* Refused before sending, by what the remote offered: */
	SMTP_CLIENT_SEND_TOO_BIG,	/* remote SIZE < message: 5.3.4 */
	SMTP_CLIENT_SEND_NEED_8BITMIME,	/* 5.6.3 */
	SMTP_CLIENT_SEND_NEED_SMTPUTF8,	/* 5.6.7 */
	/* The remote said no: */
	SMTP_CLIENT_SEND_MAIL_REFUSED,	/* MAIL FROM refused: mail_reply */
	SMTP_CLIENT_SEND_NO_RCPT,	/* every RCPT refused */
	SMTP_CLIENT_SEND_DATA_REFUSED,	/* DATA/BDAT/the dot refused */
	/* The session broke (the connection is unusable afterwards): */
	SMTP_CLIENT_SEND_LOST,		/* remote closed or reset */
	SMTP_CLIENT_SEND_TIMEOUT,
	SMTP_CLIENT_SEND_PROTOCOL,	/* unreadable or unexpected reply */
	SMTP_CLIENT_SEND_LOCAL,		/* the message could not be read */
};

const char *smtp_client_send_error_name(enum smtp_client_send_error err);

/* Where in the dialogue a recipient's outcome was decided, for "(in reply
 * to RCPT TO command)" in logs and DSNs. */
enum smtp_client_stage {
	SMTP_CLIENT_STAGE_NONE,		/* decided locally before sending */
	SMTP_CLIENT_STAGE_MAIL,
	SMTP_CLIENT_STAGE_RCPT,
	SMTP_CLIENT_STAGE_DATA,		/* DATA command or a BDAT chunk */
	SMTP_CLIENT_STAGE_END,		/* after the final dot / BDAT LAST */
};

/* "MAIL FROM", "RCPT TO", "DATA", "end of DATA", "" */
const char *smtp_client_stage_name(enum smtp_client_stage stage);

struct smtp_client_rcpt_result {
	/* The reply that decided this recipient: its RCPT reply when that
	 * was not 2xx; else the final reply (the one after the dot; for
	 * LMTP this recipient's own). When the remote gave none (it closed,
	 * a timeout, a local refusal) a reply made here, with local set:
	 * 4xx for a broken session ("451 4.4.2 lost connection with
	 * mx[1.2.3.4] while sending end of DATA"), 5xx for the local
	 * refusals above (552 5.3.4, 554 5.6.3, 553 5.6.7). The reply's
	 * class decides: 2 delivered, 4 deferred, 5 bounced. */
	struct smtp_reply reply;
	bool local;
	enum smtp_client_stage stage;
};

struct smtp_client_send_result {
	enum smtp_client_send_error error;
	/* One per envelope recipient, in envelope order. */
	const struct smtp_client_rcpt_result *rcpts;
	size_t n_rcpts;
	/* The MAIL reply and the final reply after the dot (SMTP; for LMTP
	 * the first recipient's), code 0 when not reached. */
	const struct smtp_reply *mail_reply;
	const struct smtp_reply *data_reply;
	/* Readable summary of error for logs, "" when SMTP_CLIENT_SEND_OK */
	const char *message;
	/* smtp_client_send() may be called again on this client */
	bool reusable;
};

/* Called once per smtp_client_send(). res and everything in it is valid
 * during the callback only (copy what you keep). The client may be sent
 * on again, quit or freed from inside the callback. */
typedef void smtp_client_sent_cb_t(struct smtp_client *client,
				   const struct smtp_client_send_result *res,
				   void *ctx);

/* Runs one transaction for env and msg: MAIL FROM (SIZE=, BODY=8BITMIME,
 * SMTPUTF8, RET=, ENVID= as offered), RCPT TO for each recipient
 * (NOTIFY=, ORCPT= with DSN), DATA or BDAT (CHUNKING), all pipelined when
 * PIPELINING is offered, else one command at a time. A second send on the
 * same client starts with RSET. Only when the client is ready (after the
 * ready callback without failure, or a send callback with reusable set);
 * env and msg (not msg's data or fd) are copied. */
void smtp_client_send(struct smtp_client *client,
		      const struct smtp_client_envelope *env,
		      const struct smtp_client_message *msg,
		      smtp_client_sent_cb_t *sent_cb, void *ctx);

/* Whether the connection can carry another transaction: ready, no
 * transaction running, not broken. */
bool smtp_client_is_reusable(const struct smtp_client *client);

/* Sends QUIT when the connection is usable, then frees the client in the
 * background (the reply is awaited at most timeouts.quit_ms and never
 * reported). No callback fires afterwards. Sets *client to NULL. */
void smtp_client_quit(struct smtp_client **client);
/* Closes at once without QUIT (a failed session), frees; no callback
 * fires afterwards. NULL is fine. Sets *client to NULL. */
void smtp_client_free(struct smtp_client **client);

#endif
