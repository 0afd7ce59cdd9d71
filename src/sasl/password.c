/* SPDX-License-Identifier: MIT */
/*
 * Password hashing and verification. New hashes are argon2id (libsodium)
 * or SHA512-CRYPT (libxcrypt); verification also takes the other crypt(3)
 * schemes and Dovecot's "{SCHEME}" forms so an existing user database can
 * be imported unchanged and upgraded at the next login.
 */
#include "sasl/password.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/utf8.h"

#define SCRAM_PREFIX "{SCRAM-SHA-256}"

enum pw_kind {
	PW_SODIUM,	/* libsodium argon2i / argon2id string */
	PW_CRYPT,	/* crypt(3) string through libxcrypt */
	PW_SHA256,
	PW_SHA512,
	PW_SSHA256,
	PW_SSHA512,
	PW_PLAIN,
	PW_SCRAM,
};

enum pw_encoding { PW_ENC_NONE, PW_ENC_BASE64, PW_ENC_HEX };

/* The Dovecot scheme names we accept, and for crypt ones the prefix the
 * hash after the braces must carry (NULL: any crypt(3) string). */
static const struct pw_scheme {
	const char *name;
	enum pw_kind kind;
	const char *must_start;
	enum pw_encoding default_enc;
} pw_schemes[] = {
	{ "ARGON2ID", PW_SODIUM, "$argon2id$", PW_ENC_NONE },
	{ "ARGON2I", PW_SODIUM, "$argon2i$", PW_ENC_NONE },
	{ "SHA512-CRYPT", PW_CRYPT, "$6$", PW_ENC_NONE },
	{ "SHA256-CRYPT", PW_CRYPT, "$5$", PW_ENC_NONE },
	{ "BLF-CRYPT", PW_CRYPT, "$2", PW_ENC_NONE },
	{ "MD5-CRYPT", PW_CRYPT, "$1$", PW_ENC_NONE },
	{ "CRYPT", PW_CRYPT, NULL, PW_ENC_NONE },
	{ "SSHA512", PW_SSHA512, NULL, PW_ENC_BASE64 },
	{ "SSHA256", PW_SSHA256, NULL, PW_ENC_BASE64 },
	{ "SHA512", PW_SHA512, NULL, PW_ENC_BASE64 },
	{ "SHA256", PW_SHA256, NULL, PW_ENC_BASE64 },
	{ "PLAIN", PW_PLAIN, NULL, PW_ENC_NONE },
	{ "CLEARTEXT", PW_PLAIN, NULL, PW_ENC_NONE },
	{ "SCRAM-SHA-256", PW_SCRAM, NULL, PW_ENC_NONE },
};

/* Bare crypt strings we accept, by their "$id$" prefix. */
static const struct {
	const char *prefix;
	enum pw_kind kind;
} pw_bare[] = {
	{ "$argon2id$", PW_SODIUM },
	{ "$argon2i$", PW_SODIUM },
	{ "$6$", PW_CRYPT },
	{ "$5$", PW_CRYPT },
	{ "$2b$", PW_CRYPT },
	{ "$2y$", PW_CRYPT },
	{ "$2a$", PW_CRYPT },
	{ "$y$", PW_CRYPT },
	{ "$1$", PW_CRYPT },
};

static void
pw_sodium_init(void)
{
	if (sodium_init() < 0)
		panic("sodium_init failed");
}

static bool
pw_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool
password_is_acceptable(const char *password, const char **error_r)
{
	size_t len = strlen(password), i;

	if (len == 0) {
		*error_r = "password is empty";
		return false;
	}
	if (len > PASSWORD_MAX_LEN) {
		*error_r = "password is longer than 1024 bytes";
		return false;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)password[i];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "password contains control characters";
			return false;
		}
	}
	if (!utf8_is_valid((const uint8_t *)password, len)) {
		*error_r = "password is not valid UTF-8";
		return false;
	}
	return true;
}

/* ---- hashing ---- */

static void
pw_argon2_limits(const struct config_auth *auth, unsigned long long *ops_r,
		 size_t *mem_r)
{
	*ops_r = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	*mem_r = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	if (auth != NULL && auth->argon2_opslimit != 0)
		*ops_r = auth->argon2_opslimit;
	if (auth != NULL && auth->argon2_memlimit != 0)
		*mem_r = auth->argon2_memlimit > SIZE_MAX ?
				 SIZE_MAX : (size_t)auth->argon2_memlimit;
}

static bool
pw_scheme_is_sha512_crypt(const struct config_auth *auth)
{
	return auth != NULL &&
	       auth->password_scheme == CONFIG_PASSWORD_SHA512_CRYPT;
}

int
password_hash(const char *password, const struct config_auth *auth,
	      char **hash_r, char **error_r)
{
	enum config_password_scheme scheme = auth != NULL ?
		auth->password_scheme : CONFIG_PASSWORD_ARGON2ID;
	const char *why;

	pw_sodium_init();
	if (!password_is_acceptable(password, &why)) {
		*error_r = xstrdup(why);
		return -1;
	}
	if (scheme == CONFIG_PASSWORD_ARGON2ID) {
		char out[crypto_pwhash_STRBYTES];
		unsigned long long ops;
		size_t mem;

		pw_argon2_limits(auth, &ops, &mem);
		if (ops < crypto_pwhash_OPSLIMIT_MIN ||
		    ops > crypto_pwhash_OPSLIMIT_MAX ||
		    mem < crypto_pwhash_MEMLIMIT_MIN ||
		    mem > crypto_pwhash_MEMLIMIT_MAX) {
			*error_r = xstrdup("argon2 opslimit or memlimit out of range");
			return -1;
		}
		if (crypto_pwhash_str_alg(out, password, strlen(password), ops,
					  mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
			*error_r = xasprintf("argon2id hashing failed (memlimit %zu bytes: out of memory?)",
					     mem);
			return -1;
		}
		*hash_r = xstrdup(out);
		return 0;
	}
	if (pw_scheme_is_sha512_crypt(auth)) {
		char setting[CRYPT_GENSALT_OUTPUT_SIZE];
		struct crypt_data *cd;
		const char *res;

		if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE) {
			*error_r = xasprintf("SHA512-CRYPT takes passwords of at most %d bytes",
					     CRYPT_MAX_PASSPHRASE_SIZE - 1);
			return -1;
		}
		if (crypt_gensalt_rn("$6$", 0, NULL, 0, setting,
				     (int)sizeof(setting)) == NULL) {
			*error_r = xasprintf("crypt_gensalt for SHA512-CRYPT failed: %s",
					     strerror(errno));
			return -1;
		}
		cd = xcalloc(1, sizeof(*cd));
		res = crypt_rn(password, setting, cd, (int)sizeof(*cd));
		if (res == NULL || res[0] == '*') {
			*error_r = xstrdup("SHA512-CRYPT hashing failed");
			mem_wipe(cd, sizeof(*cd));
			free(cd);
			return -1;
		}
		*hash_r = xstrdup(res);
		mem_wipe(cd, sizeof(*cd));
		free(cd);
		return 0;
	}
	*error_r = xasprintf("unknown password scheme %u (use ARGON2ID or "
			     "SHA512-CRYPT)", (unsigned)scheme);
	return -1;
}

/* ---- verification ---- */

static bool
pw_verify_sodium(const char *password, const char *hash, char **error_r)
{
	pw_sodium_init();
	if (strlen(hash) >= crypto_pwhash_STRBYTES) {
		*error_r = xstrdup("malformed argon2 hash (too long)");
		return false;
	}
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

static bool
pw_verify_crypt(const char *password, const char *hash, const char *scheme,
		char **error_r)
{
	struct crypt_data *cd;
	const char *res;
	bool ok = false;

	/* libxcrypt refuses longer phrases; no stored hash can match one. */
	if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE)
		return false;
	cd = xcalloc(1, sizeof(*cd));
	res = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	if (res == NULL || res[0] == '*') {
		*error_r = xasprintf("malformed or unsupported %s hash", scheme);
	} else if (strlen(res) != strlen(hash)) {
		/* crypt(3) reproduces the setting and appends a hash of
		 * fixed length, so a well-formed hash comes back with its own
		 * length whatever the password: this one is truncated or a
		 * bare setting. */
		*error_r = xasprintf("malformed %s hash (wrong length)", scheme);
	} else {
		ok = CRYPTO_memcmp(res, hash, strlen(hash)) == 0;
	}
	mem_wipe(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static int
pw_hex_decode(const char *in, size_t len, struct buf *out)
{
	size_t i;

	if (len % 2 != 0)
		return -1;
	for (i = 0; i < len; i += 2) {
		int hi = hex_digit_value(in[i]), lo = hex_digit_value(in[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		buf_putc(out, (char)(hi << 4 | lo));
	}
	return 0;
}

static void
pw_digest(enum pw_kind kind, const uint8_t *a, size_t alen,
	  const uint8_t *b, size_t blen, uint8_t *out)
{
	if (kind == PW_SHA256 || kind == PW_SSHA256) {
		crypto_hash_sha256_state st;

		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st, a, alen);
		crypto_hash_sha256_update(&st, b, blen);
		crypto_hash_sha256_final(&st, out);
		mem_wipe(&st, sizeof(st));
	} else {
		crypto_hash_sha512_state st;

		crypto_hash_sha512_init(&st);
		crypto_hash_sha512_update(&st, a, alen);
		crypto_hash_sha512_update(&st, b, blen);
		crypto_hash_sha512_final(&st, out);
		mem_wipe(&st, sizeof(st));
	}
}

/* The cleartext of a {PLAIN}/{CLEARTEXT} value in its encoding. */
static int
pw_plain_decode(const char *value, enum pw_encoding enc, struct buf *raw)
{
	size_t vlen = strlen(value);

	if (enc == PW_ENC_BASE64)
		return base64_decode(value, vlen, raw);
	if (enc == PW_ENC_HEX)
		return pw_hex_decode(value, vlen, raw);
	buf_append(raw, value, vlen);
	return 0;
}

/* {SHA*}, {SSHA*}, {PLAIN}: decode the stored value per its encoding, then
 * compare digests. PLAIN compares SHA-256 digests of both sides so the
 * time taken does not depend on where they first differ or on length. */
static bool
pw_verify_digest(const char *password, const char *value,
		 const struct pw_scheme *sc, enum pw_encoding enc,
		 char **error_r)
{
	size_t dlen = sc->kind == PW_SHA256 || sc->kind == PW_SSHA256 ? 32 : 64;
	size_t vlen = strlen(value);
	uint8_t d1[64], d2[64];
	struct buf raw;
	int ret = 0;
	bool ok = false;

	buf_init(&raw);
	if (sc->kind == PW_PLAIN) {
		ret = pw_plain_decode(value, enc, &raw);
	} else if (enc == PW_ENC_BASE64 && vlen == dlen * 2 &&
		   pw_hex_decode(value, vlen, &raw) == 0) {
		/* Dovecot takes a hex digest in a base64 scheme when the
		 * length can only be hex; so do we. */
	} else if (enc == PW_ENC_BASE64) {
		buf_reset(&raw);
		ret = base64_decode(value, vlen, &raw);
	} else {
		ret = pw_hex_decode(value, vlen, &raw);
	}
	if (ret < 0) {
		*error_r = xasprintf("malformed {%s} password (bad encoding)",
				     sc->name);
		goto out;
	}
	switch (sc->kind) {
	case PW_PLAIN:
		pw_digest(PW_SHA256, (const uint8_t *)password,
			  strlen(password), NULL, 0, d1);
		pw_digest(PW_SHA256, (const uint8_t *)raw.data, raw.len, NULL,
			  0, d2);
		ok = CRYPTO_memcmp(d1, d2, 32) == 0;
		break;
	case PW_SHA256:
	case PW_SHA512:
		if (raw.len != dlen) {
			*error_r = xasprintf("malformed {%s} password (wrong length)",
					     sc->name);
			break;
		}
		pw_digest(sc->kind, (const uint8_t *)password, strlen(password),
			  NULL, 0, d1);
		ok = CRYPTO_memcmp(d1, raw.data, dlen) == 0;
		break;
	case PW_SSHA256:
	case PW_SSHA512:
		if (raw.len <= dlen) {
			*error_r = xasprintf("malformed {%s} password (too short)",
					     sc->name);
			break;
		}
		pw_digest(sc->kind, (const uint8_t *)password, strlen(password),
			  (const uint8_t *)raw.data + dlen, raw.len - dlen, d1);
		ok = CRYPTO_memcmp(d1, raw.data, dlen) == 0;
		break;
	default:
		panic("pw_verify_digest: kind %d", (int)sc->kind);
	}
out:
	mem_wipe(d1, sizeof(d1));
	mem_wipe(d2, sizeof(d2));
	mem_wipe(raw.data, raw.len);
	buf_deinit(&raw);
	return ok;
}

static bool
pw_verify_scram(const char *password, const char *value, char **error_r)
{
	struct password_scram sc;
	uint8_t stored[PASSWORD_SCRAM_KEY_LEN], server[PASSWORD_SCRAM_KEY_LEN];
	const char *why;
	bool ok;

	if (password_scram_parse(value, &sc, &why) < 0) {
		*error_r = xasprintf("malformed {SCRAM-SHA-256} credential: %s",
				     why);
		return false;
	}
	password_scram_derive(password, sc.salt, sc.salt_len, sc.iterations,
			      stored, server);
	ok = CRYPTO_memcmp(stored, sc.stored_key, sizeof(stored)) == 0;
	mem_wipe(stored, sizeof(stored));
	mem_wipe(server, sizeof(server));
	mem_wipe(&sc, sizeof(sc));
	return ok;
}

/* Parses "{NAME[.ENC]}"; returns the scheme or NULL with *error_r set. */
static const struct pw_scheme *
pw_parse_prefix(const char *stored, enum pw_encoding *enc_r,
		const char **rest_r, char **error_r)
{
	const char *end = strchr(stored, '}');
	const char *dot;
	size_t nlen, i;
	char name[40];

	if (end == NULL || (size_t)(end - stored) > sizeof(name)) {
		*error_r = xstrdup("malformed password: \"{\" without a scheme name and \"}\"");
		return NULL;
	}
	nlen = (size_t)(end - stored - 1);
	memcpy(name, stored + 1, nlen);
	name[nlen] = '\0';
	*rest_r = end + 1;
	dot = strchr(name, '.');
	for (i = 0; i < sizeof(pw_schemes) / sizeof(pw_schemes[0]); i++) {
		const struct pw_scheme *sc = &pw_schemes[i];
		size_t slen = dot != NULL ? (size_t)(dot - name) : nlen;

		if (strlen(sc->name) != slen ||
		    strncasecmp(sc->name, name, slen) != 0)
			continue;
		*enc_r = sc->default_enc;
		if (dot == NULL)
			return sc;
		if (sc->default_enc == PW_ENC_NONE && sc->kind != PW_PLAIN)
			break;
		if (strcasecmp(dot + 1, "B64") == 0 ||
		    strcasecmp(dot + 1, "BASE64") == 0)
			*enc_r = PW_ENC_BASE64;
		else if (strcasecmp(dot + 1, "HEX") == 0)
			*enc_r = PW_ENC_HEX;
		else
			break;
		return sc;
	}
	{
		char safe[64];

		*error_r = xasprintf("unknown password scheme {%s}",
				     log_strn(safe, sizeof(safe), name, nlen));
	}
	return NULL;
}

bool
password_verify(const char *password, const char *stored, char **error_r)
{
	char *dummy = NULL;
	char **err = error_r != NULL ? error_r : &dummy;
	size_t i;
	bool ok = false;

	*err = NULL;
	/* No scheme matches an empty password: a stored "{PLAIN}" must not
	 * open an account to anyone. */
	if (password[0] == '\0')
		goto out;
	if (stored[0] == '{') {
		const struct pw_scheme *sc;
		enum pw_encoding enc;
		const char *rest;

		sc = pw_parse_prefix(stored, &enc, &rest, err);
		if (sc == NULL)
			goto out;
		switch (sc->kind) {
		case PW_SODIUM:
		case PW_CRYPT:
			if (sc->must_start != NULL &&
			    !pw_has_prefix(rest, sc->must_start)) {
				*err = xasprintf("malformed {%s} password (expected %s...)",
						 sc->name, sc->must_start);
				goto out;
			}
			if (sc->kind == PW_SODIUM)
				ok = pw_verify_sodium(password, rest, err);
			else
				ok = pw_verify_crypt(password, rest, sc->name,
						     err);
			goto out;
		case PW_SCRAM:
			ok = pw_verify_scram(password, rest, err);
			goto out;
		default:
			ok = pw_verify_digest(password, rest, sc, enc, err);
			goto out;
		}
	}
	for (i = 0; i < sizeof(pw_bare) / sizeof(pw_bare[0]); i++) {
		if (!pw_has_prefix(stored, pw_bare[i].prefix))
			continue;
		if (pw_bare[i].kind == PW_SODIUM)
			ok = pw_verify_sodium(password, stored, err);
		else
			ok = pw_verify_crypt(password, stored, pw_bare[i].prefix,
					     err);
		goto out;
	}
	if (stored[0] == '$') {
		const char *end = strchr(stored + 1, '$');
		size_t n = end != NULL ? (size_t)(end - stored) + 1 : 1;
		char safe[40];

		*err = xasprintf("unknown password scheme %s",
				 log_strn(safe, sizeof(safe), stored,
					  n > 20 ? 20 : n));
	} else {
		*err = xstrdup("unknown password scheme (no {SCHEME} or $id$ prefix)");
	}
out:
	if (ok && *err != NULL)
		xfree(err);
	if (dummy != NULL)
		free(dummy);
	return ok;
}

bool
password_needs_rehash(const char *stored, const struct config_auth *auth)
{
	const char *s = stored;

	if (pw_scheme_is_sha512_crypt(auth)) {
		if (strncasecmp(s, "{SHA512-CRYPT}", 14) == 0)
			s += 14;
		return !pw_has_prefix(s, "$6$");
	}
	if (strncasecmp(s, "{ARGON2ID}", 10) == 0)
		s += 10;
	if (!pw_has_prefix(s, "$argon2id$"))
		return true;
	{
		unsigned long long ops;
		size_t mem;

		pw_sodium_init();
		pw_argon2_limits(auth, &ops, &mem);
		return crypto_pwhash_str_needs_rehash(s, ops, mem) != 0;
	}
}

/* ---- reading ---- */

int
password_read_fd(int fd, char **password_r, const char **error_r)
{
	/* Room for PASSWORD_MAX_LEN bytes, a CR and the NUL. */
	char line[PASSWORD_MAX_LEN + 2];
	struct termios old, noecho;
	bool tty = isatty(fd) && tcgetattr(fd, &old) == 0;
	size_t len = 0;
	bool got_any = false, nl = false;
	int ret = -1;

	if (tty) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		noecho.c_lflag |= ECHONL;
		(void)tcsetattr(fd, TCSAFLUSH, &noecho);
	}
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = "cannot read the password";
			goto out;
		}
		if (n == 0)
			break;
		got_any = true;
		if (c == '\n') {
			nl = true;
			break;
		}
		if (c == '\0') {
			*error_r = "password contains a NUL byte";
			goto out;
		}
		if (len >= PASSWORD_MAX_LEN + 1) {
			*error_r = "password is longer than 1024 bytes";
			goto out;
		}
		line[len++] = c;
	}
	(void)nl;
	if (!got_any) {
		*error_r = "no password given on standard input";
		goto out;
	}
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > PASSWORD_MAX_LEN) {
		*error_r = "password is longer than 1024 bytes";
		goto out;
	}
	if (len == 0) {
		*error_r = "password is empty";
		goto out;
	}
	line[len] = '\0';
	*password_r = xstrndup(line, len);
	ret = 0;
out:
	if (tty)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	mem_wipe(line, sizeof(line));
	return ret;
}

int
password_read_stdin(char **password_r, const char **error_r)
{
	return password_read_fd(STDIN_FILENO, password_r, error_r);
}

/* ---- SCRAM-SHA-256 ---- */

static void
pw_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg,
	       size_t msglen, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, msglen);
	crypto_auth_hmacsha256_final(&st, out);
	mem_wipe(&st, sizeof(st));
}

void
password_scram_derive(const char *password, const uint8_t *salt,
		      size_t salt_len, unsigned iterations,
		      uint8_t stored_key_r[PASSWORD_SCRAM_KEY_LEN],
		      uint8_t server_key_r[PASSWORD_SCRAM_KEY_LEN])
{
	uint8_t salted[32], client_key[32];

	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
			      (int)salt_len, (int)iterations, EVP_sha256(),
			      (int)sizeof(salted), salted) != 1)
		panic("PKCS5_PBKDF2_HMAC failed");
	pw_hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key);
	crypto_hash_sha256(stored_key_r, client_key, sizeof(client_key));
	pw_hmac_sha256(salted, sizeof(salted), "Server Key", 10, server_key_r);
	mem_wipe(salted, sizeof(salted));
	mem_wipe(client_key, sizeof(client_key));
}

int
password_scram_sha256_with_salt(const char *password, unsigned iterations,
				const uint8_t *salt, size_t salt_len,
				char **cred_r, char **error_r)
{
	uint8_t stored[32], server[32];
	struct buf b;
	const char *why;

	pw_sodium_init();
	if (!password_is_acceptable(password, &why)) {
		*error_r = xstrdup(why);
		return -1;
	}
	if (iterations == 0 || iterations > PASSWORD_SCRAM_MAX_ITERATIONS) {
		*error_r = xasprintf("SCRAM iteration count %u out of range",
				     iterations);
		return -1;
	}
	if (salt_len == 0 || salt_len > sizeof(((struct password_scram *)0)->salt)) {
		*error_r = xstrdup("SCRAM salt length out of range");
		return -1;
	}
	password_scram_derive(password, salt, salt_len, iterations, stored,
			      server);
	buf_init(&b);
	buf_printf(&b, SCRAM_PREFIX "%u,", iterations);
	base64_encode(salt, salt_len, &b);
	buf_putc(&b, ',');
	base64_encode(stored, sizeof(stored), &b);
	buf_putc(&b, ',');
	base64_encode(server, sizeof(server), &b);
	mem_wipe(stored, sizeof(stored));
	mem_wipe(server, sizeof(server));
	*cred_r = buf_steal(&b);
	buf_deinit(&b);
	return 0;
}

int
password_scram_sha256(const char *password, unsigned iterations,
		      char **cred_r, char **error_r)
{
	uint8_t salt[PASSWORD_SCRAM_SALT_LEN];

	if (iterations == 0)
		iterations = PASSWORD_SCRAM_DEFAULT_ITERATIONS;
	if (iterations < PASSWORD_SCRAM_MIN_ITERATIONS) {
		*error_r = xasprintf("SCRAM iteration count %u is below the minimum %u",
				     iterations, PASSWORD_SCRAM_MIN_ITERATIONS);
		return -1;
	}
	pw_sodium_init();
	randombytes_buf(salt, sizeof(salt));
	return password_scram_sha256_with_salt(password, iterations, salt,
					       sizeof(salt), cred_r, error_r);
}

/* Next comma-separated field of *p; NULL at the end. */
static const char *
pw_field(const char **p, size_t *len_r)
{
	const char *s = *p, *comma;

	if (s == NULL)
		return NULL;
	comma = strchr(s, ',');
	if (comma == NULL) {
		*len_r = strlen(s);
		*p = NULL;
	} else {
		*len_r = (size_t)(comma - s);
		*p = comma + 1;
	}
	return s;
}

int
password_scram_parse(const char *cred, struct password_scram *scram_r,
		     const char **error_r)
{
	const char *p = cred, *f;
	size_t flen, i, n;
	uint64_t iter = 0;

	memset(scram_r, 0, sizeof(*scram_r));
	if (strncasecmp(p, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0)
		p += strlen(SCRAM_PREFIX);
	f = pw_field(&p, &flen);
	if (f == NULL || flen == 0 || flen > 8) {
		*error_r = "bad iteration count";
		return -1;
	}
	for (i = 0; i < flen; i++) {
		if (f[i] < '0' || f[i] > '9') {
			*error_r = "bad iteration count";
			return -1;
		}
		iter = iter * 10 + (uint64_t)(f[i] - '0');
	}
	if (iter == 0 || iter > PASSWORD_SCRAM_MAX_ITERATIONS) {
		*error_r = "iteration count out of range";
		return -1;
	}
	scram_r->iterations = (unsigned)iter;
	f = pw_field(&p, &flen);
	if (f == NULL || base64_decode_to(f, flen, scram_r->salt,
					  sizeof(scram_r->salt),
					  &scram_r->salt_len) < 0 ||
	    scram_r->salt_len == 0) {
		*error_r = "bad salt";
		return -1;
	}
	f = pw_field(&p, &flen);
	if (f == NULL || base64_decode_to(f, flen, scram_r->stored_key,
					  sizeof(scram_r->stored_key), &n) < 0 ||
	    n != PASSWORD_SCRAM_KEY_LEN) {
		*error_r = "bad StoredKey";
		return -1;
	}
	f = pw_field(&p, &flen);
	if (f == NULL || base64_decode_to(f, flen, scram_r->server_key,
					  sizeof(scram_r->server_key), &n) < 0 ||
	    n != PASSWORD_SCRAM_KEY_LEN) {
		*error_r = "bad ServerKey";
		return -1;
	}
	if (p != NULL) {
		*error_r = "trailing fields";
		return -1;
	}
	return 0;
}

/* ---- APOP (RFC 1939 7) ---- */

bool
password_apop_verify(const char *stored, const char *stamp,
		     const char *digest, const char **error_r)
{
	static const char digits[] = "0123456789abcdef";
	const struct pw_scheme *sc = NULL;
	enum pw_encoding enc = PW_ENC_NONE;
	const char *rest = NULL;
	char *err = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[32], want[32];
	size_t mdlen = 0, i;
	struct buf text;
	bool ok = false;

	*error_r = NULL;
	if (stored[0] == '{')
		sc = pw_parse_prefix(stored, &enc, &rest, &err);
	free(err);
	if (sc == NULL || sc->kind != PW_PLAIN) {
		*error_r = "no plaintext password for APOP";
		return false;
	}
	if (strlen(digest) != sizeof(hex) ||
	    strspn(digest, "0123456789abcdefABCDEF") != sizeof(hex))
		return false;
	buf_init(&text);
	buf_puts(&text, stamp);
	if (pw_plain_decode(rest, enc, &text) < 0) {
		*error_r = "malformed plaintext password";
		goto out;
	}
	/* An empty stored password opens nothing (as in password_verify). */
	if (text.len == strlen(stamp))
		goto out;
	if (!EVP_Q_digest(NULL, "MD5", NULL, text.data, text.len, md,
			  &mdlen) || mdlen != 16)
		goto out;
	for (i = 0; i < 16; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
		/* RFC 1939 shows lower case; take either */
		want[2 * i] = (char)(digest[2 * i] | 0x20);
		want[2 * i + 1] = (char)(digest[2 * i + 1] | 0x20);
	}
	ok = CRYPTO_memcmp(hex, want, sizeof(hex)) == 0;
out:
	mem_wipe(md, sizeof(md));
	mem_wipe(hex, sizeof(hex));
	mem_wipe(text.data, text.len);
	buf_deinit(&text);
	return ok;
}
