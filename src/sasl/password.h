/* SPDX-License-Identifier: MIT */
/*
 * Password schemes: hashing new passwords (argon2id by default, or
 * SHA512-CRYPT), verifying stored hashes of every scheme we accept for
 * migration (crypt(3) strings and Dovecot-style "{SCHEME}" prefixes),
 * SCRAM-SHA-256 credentials, APOP digests against a stored cleartext,
 * and reading a password from a descriptor.
 * All of it may block (argon2 is slow on purpose): call it from the thread
 * pool, never from an event-loop thread. The formats are in
 * docs/passwords.md.
 */
#ifndef HERALD_SASL_PASSWORD_H
#define HERALD_SASL_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_auth;

/* Longest password accepted anywhere (bytes, without a newline). */
#define PASSWORD_MAX_LEN 1024

/* SCRAM-SHA-256: RFC 7677 asks for at least 4096 iterations. */
#define PASSWORD_SCRAM_DEFAULT_ITERATIONS 4096
#define PASSWORD_SCRAM_MIN_ITERATIONS 4096
/* A stored credential asking for more is refused: the iteration count is
 * spent by the client, but verify (PLAIN against a SCRAM credential) pays
 * it on our side. */
#define PASSWORD_SCRAM_MAX_ITERATIONS 10000000u
#define PASSWORD_SCRAM_SALT_LEN 16
#define PASSWORD_SCRAM_KEY_LEN 32

/* A parsed SCRAM-SHA-256 credential (see password_scram_parse). */
struct password_scram {
	unsigned iterations;
	uint8_t salt[64];
	size_t salt_len;
	uint8_t stored_key[PASSWORD_SCRAM_KEY_LEN];
	uint8_t server_key[PASSWORD_SCRAM_KEY_LEN];
};

/*
 * Hashes password with the scheme auth->password_scheme: NULL or
 * "ARGON2ID" (default; libsodium crypto_pwhash_str with
 * auth->argon2_opslimit / argon2_memlimit, 0 meaning libsodium's
 * INTERACTIVE values) or "SHA512-CRYPT" (libxcrypt, default rounds).
 * auth may be NULL for all defaults. *hash_r gets the plain crypt string
 * ("$argon2id$...", "$6$..."), caller frees. Returns 0, or -1 with
 * *error_r (allocated, caller frees) on an unknown scheme, a password
 * password_is_acceptable refuses, or a library failure.
 */
int password_hash(const char *password, const struct config_auth *auth,
		  char **hash_r, char **error_r);

/*
 * Checks password against stored (any form in docs/passwords.md). Returns
 * true on a match. On false, *error_r is NULL for a plain mismatch, or an
 * allocated message (caller frees) when stored is malformed or its scheme
 * is unknown; the message names the scheme, never the hash. error_r may
 * be NULL. Comparisons of secrets are constant-time.
 */
bool password_verify(const char *password, const char *stored,
		     char **error_r);

/*
 * True if stored is not in the configured default scheme (or, for
 * argon2id, uses other cost parameters than configured), so a successful
 * login should re-hash the password and store the new hash.
 */
bool password_needs_rehash(const char *stored, const struct config_auth *auth);

/*
 * The checks a new password must pass: 1..PASSWORD_MAX_LEN bytes, no
 * ASCII control characters (0x00-0x1f, 0x7f), valid UTF-8. This is the
 * "SASLprep-lite" of docs/passwords.md. Returns true if acceptable;
 * otherwise *error_r gets a static message.
 */
bool password_is_acceptable(const char *password, const char **error_r);

/*
 * Reads one line from fd: up to '\n' (or end of file after at least one
 * byte), strips the newline and a CR before it. Refuses an empty line, a
 * line longer than PASSWORD_MAX_LEN and NUL bytes. Reads byte by byte so
 * nothing past the newline is consumed. If fd is a terminal, echo is off
 * while reading. Intermediate buffers are wiped. *password_r gets the
 * password (free it with mem_free_secret). Returns 0 or -1 with *error_r
 * (static message).
 */
int password_read_fd(int fd, char **password_r, const char **error_r);
/* password_read_fd(STDIN_FILENO, ...). */
int password_read_stdin(char **password_r, const char **error_r);

/*
 * Derives a SCRAM-SHA-256 credential from password with a random 16-byte
 * salt and `iterations` (0 = PASSWORD_SCRAM_DEFAULT_ITERATIONS; less than
 * PASSWORD_SCRAM_MIN_ITERATIONS is refused). *cred_r (caller frees) gets
 * "{SCRAM-SHA-256}<iter>,<b64 salt>,<b64 StoredKey>,<b64 ServerKey>",
 * Dovecot's layout. The password must pass password_is_acceptable.
 * Returns 0 or -1 with *error_r (allocated, caller frees).
 */
int password_scram_sha256(const char *password, unsigned iterations,
			  char **cred_r, char **error_r);
/* The same with a given salt (tests, known vectors); any iteration count
 * in 1..PASSWORD_SCRAM_MAX_ITERATIONS. */
int password_scram_sha256_with_salt(const char *password, unsigned iterations,
				    const uint8_t *salt, size_t salt_len,
				    char **cred_r, char **error_r);
/*
 * Parses a credential made by password_scram_sha256 (with or without the
 * "{SCRAM-SHA-256}" prefix). Returns 0, or -1 with *error_r (static).
 */
int password_scram_parse(const char *cred, struct password_scram *scram_r,
			 const char **error_r);
/* SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iterations), then
 * ClientKey/StoredKey/ServerKey as RFC 5802 section 3 defines them. */
void password_scram_derive(const char *password, const uint8_t *salt,
			   size_t salt_len, unsigned iterations,
			   uint8_t stored_key_r[PASSWORD_SCRAM_KEY_LEN],
			   uint8_t server_key_r[PASSWORD_SCRAM_KEY_LEN]);

/*
 * APOP (RFC 1939 7): true if digest (32 hex digits, either case) is
 * MD5(stamp cleartext) for the cleartext that stored holds. Only a
 * "{PLAIN}" or "{CLEARTEXT}" value (any encoding suffix) holds one; for
 * any other stored form, and a malformed one, *error_r gets a static
 * reason. On a plain mismatch *error_r is NULL. An empty stored password
 * never matches. Constant-time in the digest.
 */
bool password_apop_verify(const char *stored, const char *stamp,
			  const char *digest, const char **error_r);

#endif
