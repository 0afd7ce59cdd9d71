/* SPDX-License-Identifier: MIT */
/*
 * SASL server mechanisms as one state machine per exchange. Every client
 * message is bounded (SASL_MAX_INPUT) and parsed strictly; anything that
 * does not fit the grammar ends the exchange with SASL_BAD_PROTOCOL.
 */
#include "sasl/sasl.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "sasl/password.h"

enum sasl_mech { SASL_MECH_PLAIN, SASL_MECH_LOGIN, SASL_MECH_SCRAM_SHA256 };

static const struct {
	const char *name;
	enum sasl_mech mech;
	bool plaintext;
} sasl_mechs[] = {
	{ "PLAIN", SASL_MECH_PLAIN, true },
	{ "LOGIN", SASL_MECH_LOGIN, true },
	{ "SCRAM-SHA-256", SASL_MECH_SCRAM_SHA256, false },
};

enum sasl_state {
	SASL_STATE_START,
	SASL_STATE_PLAIN_ASKED,		/* empty challenge sent */
	SASL_STATE_LOGIN_USER,		/* "Username:" sent */
	SASL_STATE_LOGIN_PASSWORD,	/* "Password:" sent */
	SASL_STATE_SCRAM_FINAL,		/* server-first sent */
	SASL_STATE_SCRAM_ACK,		/* server-final sent, awaiting "" */
	SASL_STATE_DONE,
};

/* Server nonce: 24 random bytes, 32 base64 characters (RFC 5802 asks for
 * a nonce that cannot be guessed; base64 has no ','). */
#define SCRAM_SNONCE_BYTES 24
#define SCRAM_FAKE_ITERATIONS PASSWORD_SCRAM_DEFAULT_ITERATIONS

/* An argon2id hash (libsodium INTERACTIVE cost) of a random string, used
 * when a user does not exist so that PLAIN and LOGIN take as long for an
 * unknown user as for a wrong password (no user enumeration by timing). */
static const char sasl_dummy_hash[] =
	"$argon2id$v=19$m=65536,t=2,p=1$aGVyYWxkZHVtbXlzYWx0MA$"
	"JCBi5cIIbTGzq8lMLzHV5lBvbw/5NhH98/odsF9lbsI";

struct sasl_server {
	enum sasl_mech mech;
	const char *mech_name;
	enum sasl_state state;
	sasl_lookup_cb_t *lookup;
	sasl_verify_cb_t *verify;	/* NULL: password_verify */
	void *ctx;
	char *user;		/* claimed authentication identity */
	bool authenticated;

	/* SCRAM */
	char *test_snonce;
	char *gs2_header;
	char *client_first_bare;
	char *server_first;
	char *nonce;		/* client nonce + server nonce */
	bool scram_real;	/* false: fake salt, the exchange will fail */
	const char *scram_fail;	/* why it will fail when !scram_real */
	struct password_scram scram;
};

/* ---- mechanism table ---- */

static int
sasl_mech_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(sasl_mechs) / sizeof(sasl_mechs[0]); i++)
		if (strcasecmp(sasl_mechs[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
sasl_mech_is_supported(const char *name)
{
	return sasl_mech_find(name) >= 0;
}

bool
sasl_mech_is_plaintext(const char *name)
{
	int i = sasl_mech_find(name);

	return i >= 0 && sasl_mechs[i].plaintext;
}

const char *
sasl_mech_list(void)
{
	return SASL_MECH_LIST;
}

struct sasl_server *
sasl_server_new(const char *mech, sasl_lookup_cb_t *lookup, void *ctx)
{
	int i = sasl_mech_find(mech);
	struct sasl_server *s;

	if (i < 0)
		return NULL;
	if (sodium_init() < 0)
		panic("sodium_init failed");
	s = xcalloc(1, sizeof(*s));
	s->mech = sasl_mechs[i].mech;
	s->mech_name = sasl_mechs[i].name;
	s->lookup = lookup;
	s->ctx = ctx;
	s->state = SASL_STATE_START;
	return s;
}

void
sasl_server_set_verify(struct sasl_server *s, sasl_verify_cb_t *verify)
{
	s->verify = verify;
}

void
sasl_server_set_scram_nonce(struct sasl_server *s, const char *nonce)
{
	free(s->test_snonce);
	s->test_snonce = xstrdup(nonce);
}

const char *
sasl_server_username(const struct sasl_server *s)
{
	return s->authenticated ? s->user : NULL;
}

const char *
sasl_server_attempted_user(const struct sasl_server *s)
{
	return s->user;
}

const char *
sasl_server_mech(const struct sasl_server *s)
{
	return s->mech_name;
}

void
sasl_server_free(struct sasl_server **sp)
{
	struct sasl_server *s = *sp;

	if (s == NULL)
		return;
	free(s->user);
	free(s->test_snonce);
	free(s->gs2_header);
	free(s->client_first_bare);
	free(s->server_first);
	free(s->nonce);
	mem_wipe(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

/* ---- helpers ---- */

static void
sasl_cred_wipe(struct sasl_credentials *cred)
{
	mem_free_secret(&cred->password_hash);
	mem_free_secret(&cred->scram_sha256);
}

/* A user name we pass to lookup: non-empty, bounded, no NUL or control
 * characters (they would reach SQL and log lines). */
static bool
sasl_username_is_valid(const char *user, size_t len)
{
	size_t i;

	if (len == 0 || len > SASL_MAX_USERNAME)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static enum sasl_result
sasl_finish(struct sasl_server *s, enum sasl_result res)
{
	s->state = SASL_STATE_DONE;
	if (res == SASL_OK)
		s->authenticated = true;
	return res;
}

/* The end of PLAIN and LOGIN: look the user up and check the password. */
static enum sasl_result
sasl_check_password(struct sasl_server *s, const char *password,
		    const char **error_r)
{
	struct sasl_credentials cred = { NULL, NULL };
	const char *stored;
	char *err = NULL;
	int ret;
	bool ok;

	ret = s->lookup(s->ctx, s->user, &cred);
	if (ret == SASL_LOOKUP_TEMPFAIL) {
		sasl_cred_wipe(&cred);
		*error_r = "user lookup failed";
		return sasl_finish(s, SASL_TEMPFAIL);
	}
	stored = cred.password_hash != NULL ? cred.password_hash :
						    cred.scram_sha256;
	if (ret != SASL_LOOKUP_FOUND || stored == NULL) {
		(void)password_verify(password, sasl_dummy_hash, NULL);
		sasl_cred_wipe(&cred);
		*error_r = ret != SASL_LOOKUP_FOUND ? "unknown user" :
						      "user has no password";
		return sasl_finish(s, SASL_FAIL);
	}
	ok = s->verify != NULL ?
		     s->verify(s->ctx, s->user, password, stored, &err) :
		     password_verify(password, stored, &err);
	sasl_cred_wipe(&cred);
	if (err != NULL) {
		char u[SASL_MAX_USERNAME + 16];

		log_warn(NULL, "sasl", "bad-hash", "user=<%s> error=\"%s\"",
			 log_str(u, sizeof(u), s->user), err);
		free(err);
		*error_r = "stored password hash is unusable";
		return sasl_finish(s, SASL_TEMPFAIL);
	}
	if (!ok) {
		*error_r = "wrong password";
		return sasl_finish(s, SASL_FAIL);
	}
	return sasl_finish(s, SASL_OK);
}

/* ---- PLAIN (RFC 4616) ---- */

static enum sasl_result
sasl_plain_step(struct sasl_server *s, const uint8_t *in, size_t inlen,
		const char **error_r)
{
	const char *p = (const char *)in, *nul1, *nul2;
	size_t zlen, clen, plen;
	char *password;
	enum sasl_result res;

	/* message = [authzid] UTF8NUL authcid UTF8NUL passwd */
	nul1 = memchr(p, '\0', inlen);
	nul2 = nul1 == NULL ? NULL :
			      memchr(nul1 + 1, '\0', inlen - (size_t)(nul1 + 1 - p));
	if (nul2 == NULL ||
	    memchr(nul2 + 1, '\0', inlen - (size_t)(nul2 + 1 - p)) != NULL) {
		*error_r = "PLAIN message without exactly two NULs";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	zlen = (size_t)(nul1 - p);
	clen = (size_t)(nul2 - nul1 - 1);
	plen = inlen - (size_t)(nul2 + 1 - p);
	if (!sasl_username_is_valid(nul1 + 1, clen)) {
		*error_r = "PLAIN authcid empty, too long or with control characters";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	if (plen == 0 || plen > PASSWORD_MAX_LEN) {
		*error_r = "PLAIN password empty or too long";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	s->user = xstrndup(nul1 + 1, clen);
	/* We have no proxy authorisation: an authzid must name the same
	 * user (RFC 4616 section 2 leaves the policy to the server). */
	if (zlen != 0 && (zlen != clen || memcmp(p, nul1 + 1, clen) != 0)) {
		*error_r = "PLAIN authzid differs from authcid";
		return sasl_finish(s, SASL_FAIL);
	}
	password = xstrndup(nul2 + 1, plen);
	res = sasl_check_password(s, password, error_r);
	mem_free_secret(&password);
	return res;
}

/* ---- LOGIN ---- */

static enum sasl_result
sasl_login_step(struct sasl_server *s, const uint8_t *in, size_t inlen,
		struct buf *out, const char **error_r)
{
	char *password;
	enum sasl_result res;

	switch (s->state) {
	case SASL_STATE_START:
		/* An initial response (AUTH LOGIN <user>) is the user name;
		 * none, or an empty one, means ask for it. */
		if (in == NULL || inlen == 0) {
			buf_puts(out, "Username:");
			s->state = SASL_STATE_LOGIN_USER;
			return SASL_CONTINUE;
		}
		/* fall through */
	case SASL_STATE_LOGIN_USER:
		if (!sasl_username_is_valid((const char *)in, inlen)) {
			*error_r = "LOGIN user name empty, too long or with control characters";
			return sasl_finish(s, SASL_BAD_PROTOCOL);
		}
		s->user = xstrndup((const char *)in, inlen);
		buf_puts(out, "Password:");
		s->state = SASL_STATE_LOGIN_PASSWORD;
		return SASL_CONTINUE;
	default:
		break;
	}
	if (inlen == 0 || inlen > PASSWORD_MAX_LEN ||
	    memchr(in, '\0', inlen) != NULL) {
		*error_r = "LOGIN password empty, too long or with NUL";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	password = xstrndup((const char *)in, inlen);
	res = sasl_check_password(s, password, error_r);
	mem_free_secret(&password);
	return res;
}

/* ---- SCRAM-SHA-256 (RFC 5802, RFC 7677) ---- */

static pthread_once_t sasl_fake_once = PTHREAD_ONCE_INIT;
static uint8_t sasl_fake_key[32];

static void
sasl_fake_key_init(void)
{
	randombytes_buf(sasl_fake_key, sizeof(sasl_fake_key));
}

/* RFC 5802 section 5.1 suggests answering an unknown user with a
 * plausible salt: derive one per user from a process secret so repeated
 * tries see the same salt, as they would for a real account. */
static void
sasl_scram_fake(struct sasl_server *s)
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	pthread_once(&sasl_fake_once, sasl_fake_key_init);
	crypto_auth_hmacsha256_init(&st, sasl_fake_key, sizeof(sasl_fake_key));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)s->user,
				      strlen(s->user));
	crypto_auth_hmacsha256_final(&st, mac);
	memset(&s->scram, 0, sizeof(s->scram));
	s->scram.iterations = SCRAM_FAKE_ITERATIONS;
	memcpy(s->scram.salt, mac, PASSWORD_SCRAM_SALT_LEN);
	s->scram.salt_len = PASSWORD_SCRAM_SALT_LEN;
	s->scram_real = false;
}

/* saslname: "=2C" is ',', "=3D" is '='; any other '=' is an error. */
static char *
sasl_scram_decode_name(const char *in, size_t len)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < len; i++) {
		if (in[i] != '=') {
			buf_putc(&b, in[i]);
		} else if (len - i >= 3 && in[i + 1] == '2' && in[i + 2] == 'C') {
			buf_putc(&b, ',');
			i += 2;
		} else if (len - i >= 3 && in[i + 1] == '3' && in[i + 2] == 'D') {
			buf_putc(&b, '=');
			i += 2;
		} else {
			buf_deinit(&b);
			return NULL;
		}
	}
	if (!sasl_username_is_valid(b.data, b.len)) {
		buf_deinit(&b);
		return NULL;
	}
	{
		char *r = buf_steal(&b);

		buf_deinit(&b);
		return r;
	}
}

/* printable = %x21-2B / %x2D-7E */
static bool
sasl_scram_nonce_is_valid(const char *n, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (n[i] < 0x21 || n[i] > 0x7e || n[i] == ',')
			return false;
	return true;
}

/* Checks that the rest of a message is ",attr=value" extensions. */
static bool
sasl_scram_extensions_are_valid(const char *p)
{
	while (*p != '\0') {
		if (p[0] != ',' || !((p[1] >= 'a' && p[1] <= 'z') ||
				     (p[1] >= 'A' && p[1] <= 'Z')) ||
		    p[2] != '=')
			return false;
		p += 3;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return true;
}

static enum sasl_result
sasl_scram_first(struct sasl_server *s, const char *msg, struct buf *out,
		 const char **error_r)
{
	const char *p = msg, *bare, *comma, *cnonce;
	char *authzid = NULL;
	size_t cnonce_len;
	struct sasl_credentials cred = { NULL, NULL };
	const char *why;
	int ret;

	/* gs2-header = gs2-cbind-flag "," [ authzid ] "," */
	if (p[0] == 'p') {
		*error_r = "SCRAM channel binding requested but not offered";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	if ((p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
		*error_r = "SCRAM bad gs2 header";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	p += 2;
	if (p[0] == 'a' && p[1] == '=') {
		comma = strchr(p + 2, ',');
		if (comma == NULL ||
		    (authzid = sasl_scram_decode_name(p + 2, (size_t)(comma - p - 2))) == NULL) {
			*error_r = "SCRAM bad authzid";
			return sasl_finish(s, SASL_BAD_PROTOCOL);
		}
		p = comma;
	}
	if (p[0] != ',') {
		free(authzid);
		*error_r = "SCRAM bad gs2 header";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	p++;
	s->gs2_header = xstrndup(msg, (size_t)(p - msg));
	bare = p;

	/* client-first-message-bare = [reserved-mext ","] username "," nonce
	 * ["," extensions]; "m=" is reserved and must be refused. */
	if (p[0] != 'n' || p[1] != '=' || (comma = strchr(p, ',')) == NULL) {
		free(authzid);
		*error_r = "SCRAM client-first without n= (or with m=)";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	s->user = sasl_scram_decode_name(p + 2, (size_t)(comma - p - 2));
	if (s->user == NULL) {
		free(authzid);
		*error_r = "SCRAM bad user name";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	p = comma + 1;
	if (p[0] != 'r' || p[1] != '=') {
		free(authzid);
		*error_r = "SCRAM client-first without r=";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	cnonce = p + 2;
	cnonce_len = strcspn(cnonce, ",");
	if (!sasl_scram_nonce_is_valid(cnonce, cnonce_len) ||
	    !sasl_scram_extensions_are_valid(cnonce + cnonce_len)) {
		free(authzid);
		*error_r = "SCRAM bad nonce or extension";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	if (authzid != NULL && strcmp(authzid, s->user) != 0) {
		free(authzid);
		*error_r = "SCRAM authzid differs from user name";
		return sasl_finish(s, SASL_FAIL);
	}
	free(authzid);
	s->client_first_bare = xstrdup(bare);

	ret = s->lookup(s->ctx, s->user, &cred);
	if (ret == SASL_LOOKUP_TEMPFAIL) {
		sasl_cred_wipe(&cred);
		*error_r = "user lookup failed";
		return sasl_finish(s, SASL_TEMPFAIL);
	}
	if (ret != SASL_LOOKUP_FOUND) {
		sasl_scram_fake(s);
		s->scram_fail = "unknown user";
	} else if (cred.scram_sha256 == NULL) {
		sasl_scram_fake(s);
		s->scram_fail = "user has no SCRAM-SHA-256 credential";
	} else if (password_scram_parse(cred.scram_sha256, &s->scram, &why) < 0) {
		char u[SASL_MAX_USERNAME + 16];

		log_warn(NULL, "sasl", "bad-hash", "user=<%s> error=\"SCRAM: %s\"",
			 log_str(u, sizeof(u), s->user), why);
		sasl_cred_wipe(&cred);
		*error_r = "stored SCRAM credential is unusable";
		return sasl_finish(s, SASL_TEMPFAIL);
	} else {
		s->scram_real = true;
	}
	sasl_cred_wipe(&cred);

	{
		struct buf nb;

		buf_init(&nb);
		buf_append(&nb, cnonce, cnonce_len);
		if (s->test_snonce != NULL) {
			buf_puts(&nb, s->test_snonce);
		} else {
			uint8_t rnd[SCRAM_SNONCE_BYTES];

			randombytes_buf(rnd, sizeof(rnd));
			base64_encode(rnd, sizeof(rnd), &nb);
		}
		s->nonce = buf_steal(&nb);
		buf_deinit(&nb);
	}
	buf_printf(out, "r=%s,s=", s->nonce);
	base64_encode(s->scram.salt, s->scram.salt_len, out);
	buf_printf(out, ",i=%u", s->scram.iterations);
	s->server_first = xstrdup(out->data);
	s->state = SASL_STATE_SCRAM_FINAL;
	return SASL_CONTINUE;
}

static enum sasl_result
sasl_scram_final(struct sasl_server *s, const char *msg, struct buf *out,
		 const char **error_r)
{
	const char *p, *proof_at, *nonce;
	size_t len = strlen(msg), clen, nlen, n;
	uint8_t proof[PASSWORD_SCRAM_KEY_LEN], sig[32], client_key[32];
	uint8_t stored[32], server_sig[32];
	uint8_t cbind[64];
	crypto_auth_hmacsha256_state st;
	struct buf auth;
	size_t i;
	bool ok;

	/* client-final-message = client-final-message-without-proof ","
	 * proof; the proof is the last attribute. */
	proof_at = NULL;
	for (p = msg + len; p > msg + 2; p--) {
		if (p[-3] == ',' && p[-2] == 'p' && p[-1] == '=') {
			proof_at = p - 3;
			break;
		}
	}
	if (proof_at == NULL || strncmp(msg, "c=", 2) != 0) {
		*error_r = "SCRAM client-final without c= or p=";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	if (base64_decode_to(proof_at + 3, strlen(proof_at + 3), proof,
			     sizeof(proof), &n) < 0 || n != sizeof(proof)) {
		*error_r = "SCRAM bad proof";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	/* c= must carry exactly our gs2 header: no channel binding data. */
	clen = strcspn(msg + 2, ",");
	if (msg + 2 + clen >= proof_at + 1 ||
	    base64_decode_to(msg + 2, clen, cbind, sizeof(cbind), &n) < 0 ||
	    n != strlen(s->gs2_header) || memcmp(cbind, s->gs2_header, n) != 0) {
		*error_r = "SCRAM channel binding data does not match";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	p = msg + 2 + clen;
	if (strncmp(p, ",r=", 3) != 0) {
		*error_r = "SCRAM client-final without r=";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	nonce = p + 3;
	nlen = strcspn(nonce, ",");
	if (nonce + nlen > proof_at || nlen != strlen(s->nonce) ||
	    memcmp(nonce, s->nonce, nlen) != 0) {
		*error_r = "SCRAM nonce mismatch";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	{
		char *ext = xstrndup(nonce + nlen, (size_t)(proof_at - nonce - nlen));

		ok = sasl_scram_extensions_are_valid(ext);
		free(ext);
		if (!ok) {
			*error_r = "SCRAM bad extension";
			return sasl_finish(s, SASL_BAD_PROTOCOL);
		}
	}

	if (!s->scram_real) {
		mem_wipe(proof, sizeof(proof));
		buf_puts(out, "e=invalid-proof");
		*error_r = s->scram_fail;
		return sasl_finish(s, SASL_FAIL);
	}
	/* AuthMessage = client-first-message-bare "," server-first-message
	 * "," client-final-message-without-proof */
	buf_init(&auth);
	buf_puts(&auth, s->client_first_bare);
	buf_putc(&auth, ',');
	buf_puts(&auth, s->server_first);
	buf_putc(&auth, ',');
	buf_append(&auth, msg, (size_t)(proof_at - msg));

	crypto_auth_hmacsha256_init(&st, s->scram.stored_key,
				    sizeof(s->scram.stored_key));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)auth.data, auth.len);
	crypto_auth_hmacsha256_final(&st, sig);
	for (i = 0; i < sizeof(client_key); i++)
		client_key[i] = proof[i] ^ sig[i];
	crypto_hash_sha256(stored, client_key, sizeof(client_key));
	ok = CRYPTO_memcmp(stored, s->scram.stored_key, sizeof(stored)) == 0;
	if (ok) {
		crypto_auth_hmacsha256_init(&st, s->scram.server_key,
					    sizeof(s->scram.server_key));
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)auth.data,
					      auth.len);
		crypto_auth_hmacsha256_final(&st, server_sig);
		buf_puts(out, "v=");
		base64_encode(server_sig, sizeof(server_sig), out);
	}
	mem_wipe(&st, sizeof(st));
	mem_wipe(client_key, sizeof(client_key));
	mem_wipe(sig, sizeof(sig));
	mem_wipe(proof, sizeof(proof));
	buf_deinit(&auth);
	if (!ok) {
		buf_puts(out, "e=invalid-proof");
		*error_r = "wrong password";
		return sasl_finish(s, SASL_FAIL);
	}
	s->state = SASL_STATE_SCRAM_ACK;
	return SASL_CONTINUE;
}

static enum sasl_result
sasl_scram_step(struct sasl_server *s, const uint8_t *in, size_t inlen,
		struct buf *out, const char **error_r)
{
	enum sasl_result res;
	char *msg;

	if (s->state == SASL_STATE_SCRAM_ACK) {
		if (inlen != 0) {
			*error_r = "SCRAM non-empty response to server-final";
			return sasl_finish(s, SASL_BAD_PROTOCOL);
		}
		return sasl_finish(s, SASL_OK);
	}
	if (s->state == SASL_STATE_START && in == NULL)
		return SASL_CONTINUE;	/* empty challenge: send client-first */
	if (memchr(in, '\0', inlen) != NULL) {
		*error_r = "SCRAM message with NUL";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	msg = xstrndup((const char *)in, inlen);
	if (s->state == SASL_STATE_START)
		res = sasl_scram_first(s, msg, out, error_r);
	else
		res = sasl_scram_final(s, msg, out, error_r);
	free(msg);
	return res;
}

/* ---- dispatch ---- */

enum sasl_result
sasl_server_step(struct sasl_server *s, const uint8_t *in, size_t inlen,
		 struct buf *out, const char **error_r)
{
	static const uint8_t empty[1];

	buf_reset(out);
	*error_r = NULL;
	if (s->state == SASL_STATE_DONE) {
		*error_r = "SASL exchange already finished";
		return SASL_BAD_PROTOCOL;
	}
	if (inlen > SASL_MAX_INPUT) {
		*error_r = "SASL message too long";
		return sasl_finish(s, SASL_BAD_PROTOCOL);
	}
	if (in == NULL && inlen != 0)
		panic("sasl_server_step: NULL input with length %zu", inlen);
	/* "No message" only means something for the first step. */
	if (in == NULL && s->state != SASL_STATE_START)
		in = empty;
	switch (s->mech) {
	case SASL_MECH_PLAIN:
		/* No initial response: an empty challenge asks for it. */
		if (in == NULL && s->state == SASL_STATE_START) {
			s->state = SASL_STATE_PLAIN_ASKED;
			return SASL_CONTINUE;
		}
		return sasl_plain_step(s, in, inlen, error_r);
	case SASL_MECH_LOGIN:
		return sasl_login_step(s, in, inlen, out, error_r);
	case SASL_MECH_SCRAM_SHA256:
		return sasl_scram_step(s, in, inlen, out, error_r);
	}
	panic("sasl_server_step: bad mechanism %d", (int)s->mech);
}
