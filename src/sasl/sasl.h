/* SPDX-License-Identifier: MIT */
/*
 * Server side of the SASL mechanisms PLAIN (RFC 4616), LOGIN (the de-facto
 * "Username:"/"Password:" exchange) and SCRAM-SHA-256 (RFC 5802, RFC 7677;
 * no channel binding), as a step function. The protocol layer (SMTP AUTH,
 * IMAP AUTHENTICATE, POP3 AUTH) does base64 and the "=" for an empty
 * message; this module sees raw bytes. Steps may block (credential lookup,
 * argon2): run them on the thread pool.
 */
#ifndef HERALD_SASL_SASL_H
#define HERALD_SASL_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* The mechanisms, as advertised (SMTP EHLO AUTH, IMAP CAPABILITY). */
#define SASL_MECH_LIST "PLAIN LOGIN SCRAM-SHA-256"
/* Longest client message accepted in one step (decoded bytes). Every
 * legitimate message of these mechanisms is far smaller. */
#define SASL_MAX_INPUT 4096
/* Longest user name (bytes). */
#define SASL_MAX_USERNAME 255

enum sasl_result {
	SASL_CONTINUE,		/* send `out` as a challenge, await a response */
	SASL_OK,		/* authenticated as sasl_server_username() */
	SASL_FAIL,		/* bad credentials: count it for rate limiting */
	SASL_BAD_PROTOCOL,	/* malformed client message: abort the exchange */
	SASL_TEMPFAIL,		/* lookup failed or stored hash broken: a 4xx */
};

/* What the lookup callback fills in. Strings are allocated with lib/mem
 * (xstrdup); the session owns them afterwards and wipes them. Either may
 * be NULL. */
struct sasl_credentials {
	char *password_hash;	/* anything password_verify() accepts */
	char *scram_sha256;	/* password_scram_sha256() output */
};

/* Lookup callback results. */
#define SASL_LOOKUP_FOUND 0
#define SASL_LOOKUP_UNKNOWN 1	/* no such user */
#define SASL_LOOKUP_TEMPFAIL -1	/* store unavailable */

/*
 * Looks up the credentials of `user` (the authentication identity as the
 * client sent it: bytes without NUL or control characters, at most
 * SASL_MAX_USERNAME). Called from inside sasl_server_step, at most once
 * per session, on the thread running the step; it may block. Returns one
 * of SASL_LOOKUP_*; *cred_r starts zeroed.
 */
typedef int sasl_lookup_cb_t(void *ctx, const char *user,
			     struct sasl_credentials *cred_r);

/* Checks password against the stored hash the lookup gave, for PLAIN and
 * LOGIN; as password_verify() (whose contract it keeps: true on a match,
 * *error_r allocated for an unusable hash). Without one set,
 * password_verify() itself. The login service sets one that remembers
 * verified passwords (sasl/login.c, docs/passwords.md). */
typedef bool sasl_verify_cb_t(void *ctx, const char *user,
			      const char *password, const char *stored,
			      char **error_r);

struct sasl_server;

/* True if name (case-insensitive) is one of SASL_MECH_LIST. */
bool sasl_mech_is_supported(const char *name);
/* True for the mechanisms that send the password itself (PLAIN, LOGIN):
 * the protocol layer offers them only over TLS (or on loopback). */
bool sasl_mech_is_plaintext(const char *name);
/* SASL_MECH_LIST. */
const char *sasl_mech_list(void);

/* A new exchange for mechanism `mech` (case-insensitive), or NULL if it is
 * not supported. lookup and ctx must outlive the session. */
struct sasl_server *sasl_server_new(const char *mech, sasl_lookup_cb_t *lookup,
				    void *ctx);
/* Uses verify (with the ctx of sasl_server_new) to check passwords. */
void sasl_server_set_verify(struct sasl_server *s, sasl_verify_cb_t *verify);

/*
 * Runs one step with the client's message in[0..inlen). in == NULL means
 * "no message" (the client gave no initial response with the command);
 * in != NULL with inlen 0 is an empty message. `out` is reset and gets the
 * server's message (possibly empty) for SASL_CONTINUE, and for SCRAM's
 * SASL_FAIL an "e=..." server-error the protocol may drop. The protocols
 * we serve have no "success with data", so SCRAM's server-final message
 * comes as a SASL_CONTINUE challenge and the empty response to it gives
 * SASL_OK. *error_r gets a static reason for logs on anything but
 * SASL_CONTINUE / SASL_OK. After SASL_OK, SASL_FAIL, SASL_BAD_PROTOCOL or
 * SASL_TEMPFAIL every further step returns SASL_BAD_PROTOCOL.
 */
enum sasl_result sasl_server_step(struct sasl_server *s, const uint8_t *in,
				  size_t inlen, struct buf *out,
				  const char **error_r);

/* The authenticated user after SASL_OK, else NULL. Owned by s. */
const char *sasl_server_username(const struct sasl_server *s);
/* The user name the client claimed, once parsed (also after SASL_FAIL):
 * for log lines and per-account rate limits, never for authorisation.
 * NULL if none yet. Owned by s. */
const char *sasl_server_attempted_user(const struct sasl_server *s);
/* The mechanism's canonical name ("PLAIN", ...). */
const char *sasl_server_mech(const struct sasl_server *s);

/* Tests only: use `nonce` (printable ASCII without ',') as SCRAM's server
 * nonce instead of a random one. Call before the first step. */
void sasl_server_set_scram_nonce(struct sasl_server *s, const char *nonce);

/* Wipes and frees the session; NULLs *s. NULL-safe. */
void sasl_server_free(struct sasl_server **s);

#endif
