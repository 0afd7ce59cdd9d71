/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for sasl/sasl: PLAIN and LOGIN exchanges, SCRAM-SHA-256 with
 * the RFC 7677 section 3 conversation and with a client written here on
 * OpenSSL primitives (not the server's code path), malformed messages,
 * and a few thousand random messages per mechanism. Then the login service
 * (sasl/login.h) against a real SQLite store with a clock the tests move:
 * account keys, the per-address and per-account budgets, known addresses,
 * APOP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "conf/config.h"
#include "lib/mem.h"
#include "sasl/login.h"
#include "sasl/password.h"
#include "sasl/sasl.h"
#include "store/store.h"
#include "store-fixture.h"

/* python3: hashlib.pbkdf2_hmac('sha256', b'pencil', salt, 4096), the RFC
 * 7677 salt. */
#define PENCIL_SCRAM "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==," \
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=," \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
/* mkpasswd -m sha512crypt -S saltsalt, password "pencil" */
#define PENCIL_SHA512 "$6$saltsalt$rD9fW1BwIrjB90WCgCTdIQc3phTBhf04I6Iw/" \
	"XlgKD9E9aEbzqGZipjiFxGo/4wWXDA6jV6/vZO.kKdDSfUJb0"

static int lookup_calls;

static int
test_lookup(void *ctx, const char *user, struct sasl_credentials *cred_r)
{
	lookup_calls++;
	if (strcmp(user, "user") == 0 || strcmp(user, "a,b=c") == 0) {
		cred_r->password_hash = xstrdup(PENCIL_SHA512);
		cred_r->scram_sha256 = xstrdup(PENCIL_SCRAM);
		return SASL_LOOKUP_FOUND;
	}
	if (strcmp(user, "scramonly") == 0) {
		cred_r->scram_sha256 = xstrdup(PENCIL_SCRAM);
		return SASL_LOOKUP_FOUND;
	}
	if (strcmp(user, "hashonly") == 0) {
		cred_r->password_hash = xstrdup("{PLAIN}pencil");
		return SASL_LOOKUP_FOUND;
	}
	if (strcmp(user, "nothing") == 0)
		return SASL_LOOKUP_FOUND;
	if (strcmp(user, "broken") == 0) {
		cred_r->password_hash = xstrdup("{ROT13}cnapvy");
		cred_r->scram_sha256 = xstrdup("{SCRAM-SHA-256}x");
		return SASL_LOOKUP_FOUND;
	}
	if (strcmp(user, "down") == 0)
		return SASL_LOOKUP_TEMPFAIL;
	return SASL_LOOKUP_UNKNOWN;
}

/* One step with a byte string; in == NULL is "no message". */
static enum sasl_result
step(struct sasl_server *s, const void *in, size_t len, struct buf *out)
{
	const char *err = "unset";
	enum sasl_result res;

	res = sasl_server_step(s, in, len, out, &err);
	if (res == SASL_CONTINUE || res == SASL_OK)
		assert_null(err);
	else
		assert_non_null(err);
	return res;
}

static enum sasl_result
step_str(struct sasl_server *s, const char *in, struct buf *out)
{
	return step(s, in, in != NULL ? strlen(in) : 0, out);
}

static enum sasl_result
plain_once(const char *msg, size_t len, const char **user_r)
{
	struct sasl_server *s = sasl_server_new("PLAIN", test_lookup, NULL);
	struct buf out;
	enum sasl_result res;
	static char user[64];

	buf_init(&out);
	res = step(s, msg, len, &out);
	assert_int_equal(out.len, 0);
	user[0] = '\0';
	if (sasl_server_username(s) != NULL)
		snprintf(user, sizeof(user), "%s", sasl_server_username(s));
	if (res != SASL_OK)
		assert_null(sasl_server_username(s));
	/* Finished: any further step is a protocol error. */
	assert_int_equal(step(s, "x", 1, &out), SASL_BAD_PROTOCOL);
	if (user_r != NULL)
		*user_r = user;
	buf_deinit(&out);
	sasl_server_free(&s);
	assert_null(s);
	return res;
}

#define PLAIN(lit) plain_once(lit, sizeof(lit) - 1, NULL)

static void
test_mech_list(void **state)
{
	assert_string_equal(sasl_mech_list(), "PLAIN LOGIN SCRAM-SHA-256");
	assert_true(sasl_mech_is_supported("plain"));
	assert_true(sasl_mech_is_supported("SCRAM-SHA-256"));
	assert_false(sasl_mech_is_supported("SCRAM-SHA-256-PLUS"));
	assert_false(sasl_mech_is_supported("CRAM-MD5"));
	assert_true(sasl_mech_is_plaintext("LOGIN"));
	assert_false(sasl_mech_is_plaintext("SCRAM-SHA-256"));
	assert_null(sasl_server_new("GSSAPI", test_lookup, NULL));
}

static void
test_plain(void **state)
{
	const char *user;

	assert_int_equal(plain_once("\0user\0pencil", 12, &user), SASL_OK);
	assert_string_equal(user, "user");
	assert_int_equal(PLAIN("user\0user\0pencil"), SASL_OK);
	assert_int_equal(PLAIN("hashonly\0hashonly\0pencil"), SASL_OK);
	/* PLAIN against a SCRAM credential works too. */
	assert_int_equal(PLAIN("\0scramonly\0pencil"), SASL_OK);
	assert_int_equal(PLAIN("\0user\0pencil2"), SASL_FAIL);
	assert_int_equal(PLAIN("\0user\0Pencil"), SASL_FAIL);
	assert_int_equal(PLAIN("\0nobody\0pencil"), SASL_FAIL);
	assert_int_equal(PLAIN("\0nothing\0pencil"), SASL_FAIL);
	assert_int_equal(PLAIN("admin\0user\0pencil"), SASL_FAIL);
	assert_int_equal(PLAIN("\0down\0pencil"), SASL_TEMPFAIL);
	assert_int_equal(PLAIN("\0broken\0pencil"), SASL_TEMPFAIL);
	/* Malformed. */
	assert_int_equal(PLAIN(""), SASL_BAD_PROTOCOL);
	assert_int_equal(PLAIN("userpencil"), SASL_BAD_PROTOCOL);
	assert_int_equal(PLAIN("\0userpencil"), SASL_BAD_PROTOCOL);
	assert_int_equal(PLAIN("\0user\0pencil\0"), SASL_BAD_PROTOCOL);
	assert_int_equal(PLAIN("\0\0pencil"), SASL_BAD_PROTOCOL);
	assert_int_equal(PLAIN("\0user\0"), SASL_BAD_PROTOCOL);
	assert_int_equal(PLAIN("\0us\ter\0pencil"), SASL_BAD_PROTOCOL);
}

static void
test_plain_no_initial_response(void **state)
{
	struct sasl_server *s = sasl_server_new("plain", test_lookup, NULL);
	struct buf out;

	buf_init(&out);
	assert_string_equal(sasl_server_mech(s), "PLAIN");
	assert_int_equal(step(s, NULL, 0, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(step(s, "\0user\0pencil", 12, &out), SASL_OK);
	assert_string_equal(sasl_server_username(s), "user");
	sasl_server_free(&s);
	sasl_server_free(&s);	/* NULL-safe */
	buf_deinit(&out);
}

static void
test_plain_limits(void **state)
{
	char *msg = xmalloc(SASL_MAX_INPUT + 1);

	memset(msg, 'a', SASL_MAX_INPUT + 1);
	msg[0] = '\0';
	msg[5] = '\0';
	memcpy(msg + 1, "user", 4);
	assert_int_equal(plain_once(msg, SASL_MAX_INPUT + 1, NULL), SASL_BAD_PROTOCOL);
	/* A password longer than PASSWORD_MAX_LEN. */
	assert_int_equal(plain_once(msg, 6 + PASSWORD_MAX_LEN + 1, NULL), SASL_BAD_PROTOCOL);
	assert_int_equal(plain_once(msg, 6 + PASSWORD_MAX_LEN, NULL), SASL_FAIL);
	/* A user name longer than SASL_MAX_USERNAME. */
	memset(msg, 'u', SASL_MAX_INPUT);
	msg[0] = '\0';
	msg[SASL_MAX_USERNAME + 2] = '\0';
	assert_int_equal(plain_once(msg, SASL_MAX_USERNAME + 6, NULL), SASL_BAD_PROTOCOL);
	free(msg);
}

static enum sasl_result
login_run(const char *initial, const char *user, const char *password,
	  const char **attempted_r)
{
	struct sasl_server *s = sasl_server_new("LOGIN", test_lookup, NULL);
	struct buf out;
	enum sasl_result res;
	static char attempted[64];

	buf_init(&out);
	res = step_str(s, initial, &out);
	if (initial == NULL || initial[0] == '\0') {
		assert_int_equal(res, SASL_CONTINUE);
		assert_string_equal(out.data, "Username:");
		assert_null(sasl_server_attempted_user(s));
		res = step_str(s, user, &out);
	}
	if (res == SASL_CONTINUE) {
		assert_string_equal(out.data, "Password:");
		res = step_str(s, password, &out);
	}
	snprintf(attempted, sizeof(attempted), "%s",
		 sasl_server_attempted_user(s) != NULL ?
			 sasl_server_attempted_user(s) : "(null)");
	*attempted_r = attempted;
	buf_deinit(&out);
	sasl_server_free(&s);
	return res;
}

static void
test_login(void **state)
{
	const char *who;

	assert_int_equal(login_run(NULL, "user", "pencil", &who), SASL_OK);
	assert_string_equal(who, "user");
	assert_int_equal(login_run("", "user", "pencil", &who), SASL_OK);
	assert_int_equal(login_run("user", NULL, "pencil", &who), SASL_OK);
	assert_int_equal(login_run(NULL, "user", "wrong", &who), SASL_FAIL);
	assert_string_equal(who, "user");
	assert_int_equal(login_run(NULL, "nobody", "pencil", &who), SASL_FAIL);
	assert_int_equal(login_run(NULL, "down", "pencil", &who), SASL_TEMPFAIL);
	assert_int_equal(login_run(NULL, "", "pencil", &who), SASL_BAD_PROTOCOL);
	assert_int_equal(login_run(NULL, "user", "", &who), SASL_BAD_PROTOCOL);
	assert_int_equal(login_run(NULL, "us\ner", "pencil", &who), SASL_BAD_PROTOCOL);
	{
		struct sasl_server *s = sasl_server_new("LOGIN", test_lookup, NULL);
		struct buf out;

		buf_init(&out);
		assert_int_equal(step_str(s, "user", &out), SASL_CONTINUE);
		assert_int_equal(step(s, "pen\0cil", 7, &out), SASL_BAD_PROTOCOL);
		buf_deinit(&out);
		sasl_server_free(&s);
	}
}

/* ---- SCRAM ---- */

static const char rfc_client_first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
static const char rfc_server_nonce[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
static const char rfc_server_first[] =
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char rfc_client_final[] =
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char rfc_server_final[] =
	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

static struct sasl_server *
scram_new_rfc(void)
{
	struct sasl_server *s = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);

	sasl_server_set_scram_nonce(s, rfc_server_nonce);
	return s;
}

static void
test_scram_rfc7677(void **state)
{
	struct sasl_server *s = scram_new_rfc();
	struct buf out;

	buf_init(&out);
	assert_int_equal(step(s, NULL, 0, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(step_str(s, rfc_client_first, &out), SASL_CONTINUE);
	assert_string_equal(out.data, rfc_server_first);
	assert_null(sasl_server_username(s));
	assert_int_equal(step_str(s, rfc_client_final, &out), SASL_CONTINUE);
	assert_string_equal(out.data, rfc_server_final);
	assert_null(sasl_server_username(s));
	assert_int_equal(step_str(s, "", &out), SASL_OK);
	assert_string_equal(sasl_server_username(s), "user");
	sasl_server_free(&s);
	buf_deinit(&out);
}

/* Runs the RFC conversation with client-final replaced. */
static enum sasl_result
scram_rfc_with_final(const char *final, struct buf *out)
{
	struct sasl_server *s = scram_new_rfc();
	enum sasl_result res;

	assert_int_equal(step_str(s, rfc_client_first, out), SASL_CONTINUE);
	res = step_str(s, final, out);
	sasl_server_free(&s);
	return res;
}

static void
test_scram_bad_final(void **state)
{
	struct buf out;

	buf_init(&out);
	/* Proof of another password. */
	assert_int_equal(scram_rfc_with_final(
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR=", &out),
		SASL_BAD_PROTOCOL); /* non-canonical base64 */
	assert_int_equal(scram_rfc_with_final(
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		"p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", &out),
		SASL_FAIL);
	assert_string_equal(out.data, "e=invalid-proof");
	static const char *const bad[] = {
		/* wrong nonce */
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* client nonce only */
		"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* channel binding header of "y,," */
		"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* no proof */
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		/* short proof */
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzb",
		/* proof not last */
		"c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		/* no c= */
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=bi,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"", "p=", ",p=", "c=,p=", "c=biws,r=,p=",
		/* bad extension */
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (scram_rfc_with_final(bad[i], &out) != SASL_BAD_PROTOCOL)
			fail_msg("case %zu (%s) not a protocol error", i, bad[i]);
	}
	buf_deinit(&out);
}

static void
test_scram_bad_first(void **state)
{
	static const char *const bad[] = {
		"", "n", "n,", "n,,", "x,,n=user,r=abc", "p=tls-unique,,n=user,r=abc",
		"n,,m=ext,n=user,r=abc", "n,,n=user", "n,,n=,r=abc",
		"n,,n=user,r=", "n,,n=us=2Xer,r=abc", "n,,n=user,r=a\x7f" "b",
		"n,a=,n=user,r=abc", "n,a=user", "n,,n=user,x=abc",
		"n,,r=abc,n=user", "n,,n=user,r=abc,", "n,,n=user,r=abc,1=x",
		"n,,n=user,r=abc,x", "n,,n=u\tser,r=abc",
	};
	struct buf out;
	size_t i;

	buf_init(&out);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sasl_server *s = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);

		if (step_str(s, bad[i], &out) != SASL_BAD_PROTOCOL)
			fail_msg("case %zu (%s) not a protocol error", i, bad[i]);
		sasl_server_free(&s);
	}
	{
		struct sasl_server *s = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);

		assert_int_equal(step(s, "n,,n=user\0,r=abc", 16, &out), SASL_BAD_PROTOCOL);
		sasl_server_free(&s);
	}
	/* authzid for someone else: a failure, not a protocol error. */
	{
		struct sasl_server *s = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);

		assert_int_equal(step_str(s, "n,a=admin,n=user,r=abc", &out), SASL_FAIL);
		sasl_server_free(&s);
	}
	{
		struct sasl_server *s = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);

		assert_int_equal(step_str(s, "n,,n=down,r=abc", &out), SASL_TEMPFAIL);
		sasl_server_free(&s);
	}
	{
		struct sasl_server *s = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);

		assert_int_equal(step_str(s, "n,,n=broken,r=abc", &out), SASL_TEMPFAIL);
		sasl_server_free(&s);
	}
	buf_deinit(&out);
}

/* ---- an independent SCRAM client on OpenSSL ---- */

static void
hmac256(const uint8_t *key, size_t keylen, const char *msg, size_t len,
	uint8_t out[32])
{
	unsigned int n = 32;

	assert_non_null(HMAC(EVP_sha256(), key, (int)keylen,
			     (const unsigned char *)msg, len, out, &n));
}

/* Finds "k=" in a comma-separated message; returns a copy of the value. */
static char *
attr(const char *msg, char k)
{
	const char *p = msg;

	while (p != NULL) {
		if (p[0] == k && p[1] == '=') {
			size_t n = strcspn(p + 2, ",");

			return xstrndup(p + 2, n);
		}
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* Full exchange: returns the final result. gs2 is "n,," or "y,," or
 * "n,a=<name>,"; name is already saslname-encoded. */
static enum sasl_result
scram_client_run(const char *gs2, const char *name, const char *password,
		 bool tamper_signature_check)
{
	struct sasl_server *s = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);
	struct buf out, msg, authmsg, tmp;
	char *first_bare, *snonce, *salt_b64, *iter_s, *v;
	uint8_t salt[64], salted[32], ckey[32], skey[32], stored[32];
	uint8_t csig[32], proof[32], ssig[32], vbin[64];
	size_t salt_len, vlen, i;
	enum sasl_result res;

	buf_init(&out);
	buf_init(&msg);
	buf_init(&authmsg);
	buf_init(&tmp);
	first_bare = xasprintf("n=%s,r=fyko+d2lbbFgONRv9qkxdawL", name);
	buf_printf(&msg, "%s%s", gs2, first_bare);
	res = step(s, msg.data, msg.len, &out);
	if (res != SASL_CONTINUE)
		goto done;
	snonce = attr(out.data, 'r');
	salt_b64 = attr(out.data, 's');
	iter_s = attr(out.data, 'i');
	assert_non_null(snonce);
	assert_true(strncmp(snonce, "fyko+d2lbbFgONRv9qkxdawL", 24) == 0);
	assert_true(strlen(snonce) > 24 + 16);
	assert_int_equal(base64_decode_to(salt_b64, strlen(salt_b64), salt,
					  sizeof(salt), &salt_len), 0);
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
					   salt, (int)salt_len,
					   (int)strtoul(iter_s, NULL, 10),
					   EVP_sha256(), 32, salted), 1);
	hmac256(salted, 32, "Client Key", 10, ckey);
	SHA256(ckey, 32, stored);
	hmac256(salted, 32, "Server Key", 10, skey);

	buf_reset(&msg);
	buf_puts(&msg, "c=");
	base64_encode((const uint8_t *)gs2, strlen(gs2), &msg);
	buf_printf(&msg, ",r=%s", snonce);
	buf_printf(&authmsg, "%s,%s,%s", first_bare, out.data, msg.data);
	hmac256(stored, 32, authmsg.data, authmsg.len, csig);
	for (i = 0; i < 32; i++)
		proof[i] = ckey[i] ^ csig[i];
	buf_puts(&msg, ",p=");
	base64_encode(proof, 32, &msg);
	res = step(s, msg.data, msg.len, &out);
	if (res == SASL_CONTINUE) {
		/* Check the server's signature: it knows ServerKey. */
		hmac256(skey, 32, authmsg.data, authmsg.len, ssig);
		v = attr(out.data, 'v');
		assert_non_null(v);
		assert_int_equal(base64_decode_to(v, strlen(v), vbin,
						  sizeof(vbin), &vlen), 0);
		assert_int_equal(vlen, 32);
		assert_memory_equal(vbin, ssig, 32);
		free(v);
		res = step(s, tamper_signature_check ? "x" : "",
			   tamper_signature_check ? 1 : 0, &out);
		if (res == SASL_OK)
			assert_non_null(sasl_server_username(s));
	} else if (res == SASL_FAIL) {
		assert_string_equal(out.data, "e=invalid-proof");
	}
	free(snonce);
	free(salt_b64);
	free(iter_s);
done:
	free(first_bare);
	buf_deinit(&out);
	buf_deinit(&msg);
	buf_deinit(&authmsg);
	buf_deinit(&tmp);
	sasl_server_free(&s);
	return res;
}

static void
test_scram_client_round_trip(void **state)
{
	assert_int_equal(scram_client_run("n,,", "user", "pencil", false), SASL_OK);
	assert_int_equal(scram_client_run("y,,", "user", "pencil", false), SASL_OK);
	assert_int_equal(scram_client_run("n,a=user,", "user", "pencil", false), SASL_OK);
	assert_int_equal(scram_client_run("n,,", "scramonly", "pencil", false), SASL_OK);
	assert_int_equal(scram_client_run("n,,", "a=2Cb=3Dc", "pencil", false), SASL_OK);
	assert_int_equal(scram_client_run("n,,", "user", "pencil", true), SASL_BAD_PROTOCOL);
	assert_int_equal(scram_client_run("n,,", "user", "pencil!", false), SASL_FAIL);
	/* Unknown user, user without SCRAM credential: a plausible
	 * server-first, then the same failure as a wrong password. */
	assert_int_equal(scram_client_run("n,,", "nobody", "pencil", false), SASL_FAIL);
	assert_int_equal(scram_client_run("n,,", "hashonly", "pencil", false), SASL_FAIL);
}

static void
test_scram_fake_salt_is_stable(void **state)
{
	struct buf o1, o2;
	struct sasl_server *a = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);
	struct sasl_server *b = sasl_server_new("SCRAM-SHA-256", test_lookup, NULL);
	char *s1, *s2;

	buf_init(&o1);
	buf_init(&o2);
	assert_int_equal(step_str(a, "n,,n=ghost,r=abc", &o1), SASL_CONTINUE);
	assert_int_equal(step_str(b, "n,,n=ghost,r=abc", &o2), SASL_CONTINUE);
	s1 = attr(o1.data, 's');
	s2 = attr(o2.data, 's');
	assert_string_equal(s1, s2);
	assert_string_equal(sasl_server_attempted_user(a), "ghost");
	free(s1);
	free(s2);
	buf_deinit(&o1);
	buf_deinit(&o2);
	sasl_server_free(&a);
	sasl_server_free(&b);
}

/* ---- random input ---- */

static int
any_lookup(void *ctx, const char *user, struct sasl_credentials *cred_r)
{
	cred_r->password_hash = xstrdup("{PLAIN}pencil");
	cred_r->scram_sha256 = xstrdup(PENCIL_SCRAM);
	return SASL_LOOKUP_FOUND;
}

static uint32_t rng_state = 0x12345678;

static uint32_t
rng(void)
{
	/* xorshift32: reproducible, no libc state */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void
test_random_input(void **state)
{
	static const char *const mechs[] = { "PLAIN", "LOGIN", "SCRAM-SHA-256" };
	static const struct {
		const char *s;
		size_t len;
	} prefixes[] = {
		{ "", 0 }, { "n,,n=user,r=", 12 }, { "n,,", 3 },
		{ "c=biws,r=", 9 }, { "\0user\0", 6 }, { "y,,n=", 5 },
	};
	uint8_t msg[600];
	struct buf out;
	size_t m;
	int iter, nstep;

	buf_init(&out);
	for (m = 0; m < 3; m++) {
		for (iter = 0; iter < 3000; iter++) {
			struct sasl_server *s = sasl_server_new(mechs[m], any_lookup, NULL);
			enum sasl_result res = SASL_CONTINUE;

			for (nstep = 0; nstep < 4 && res == SASL_CONTINUE; nstep++) {
				uint32_t pi = rng() % 6;
				const char *pre = prefixes[pi].s;
				size_t plen = prefixes[pi].len;
				size_t len = plen + rng() % (sizeof(msg) - plen);
				size_t i;
				const char *err = NULL;

				memcpy(msg, pre, plen);
				for (i = plen; i < len; i++) {
					uint32_t r = rng();

					/* Mostly printable, so parsing gets deep. */
					msg[i] = (uint8_t)(r % 4 == 0 ? r >> 8 :
							   0x20 + (r >> 8) % 0x5f);
				}
				if (rng() % 16 == 0)
					res = sasl_server_step(s, NULL, 0, &out, &err);
				else
					res = sasl_server_step(s, msg, rng() % 16 == 0 ? 0 : len,
							       &out, &err);
				if (res == SASL_CONTINUE)
					assert_null(err);
				else
					assert_non_null(err);
				assert_true(res != SASL_OK);
			}
			sasl_server_free(&s);
		}
	}
	buf_deinit(&out);
}

/* ---- the login service ---- */

static time_t fake_now = 100000;

static time_t
fake_clock(void)
{
	return fake_now;
}

struct login_fixture {
	struct test_store ts;
	struct store *store;	/* == ts.store */
	struct login_service *svc;
};

static int
login_setup(void **state)
{
	struct login_fixture *f = xcalloc(1, sizeof(*f));
	struct login_limits lim = {
		.fail_per_ip = 3, .fail_per_user = 4, .fail_window_s = 600,
		.fail_delay_ms = 1000, .known_address_s = 86400,
		.ipv6_prefix = 64, .table_size = 100,
	};

	test_store_open(&f->ts, "login");
	f->store = f->ts.store;
	assert_int_equal(store_user_add(f->store, "Alice@example.test",
					"{PLAIN}pencil", NULL, 0, NULL, NULL),
			 STORE_OK);
	assert_int_equal(store_user_add(f->store, "bob@example.test",
					PENCIL_SHA512, NULL, 0, NULL, NULL),
			 STORE_OK);
	fake_now = 100000;
	f->svc = login_service_new(&lim, fake_clock);
	*state = f;
	return 0;
}

static int
login_teardown(void **state)
{
	struct login_fixture *f = *state;

	login_service_free(&f->svc);
	assert_null(f->svc);
	test_store_close(&f->ts);
	free(f);
	return 0;
}

/* One PLAIN login of user/password from ip, as a protocol runs it: the
 * start check, the step, the end. LOGIN_OUTCOME_LIMITED also stands for
 * a refusal at the start. */
static enum login_outcome
try_login(struct login_fixture *f, const char *proto, const char *ip,
	  const char *user, const char *password)
{
	struct login_client client = { .sid = "T", .proto = proto, .ip = ip };
	struct login_attempt *a;
	struct buf msg, out;
	const char *error = NULL;
	enum sasl_result r;
	enum login_outcome o;

	if (!login_service_allows(f->svc, "T", proto, "PLAIN", ip, NULL))
		return LOGIN_OUTCOME_LIMITED;
	a = login_attempt_new(f->svc, f->store, &client, "PLAIN", NULL);
	assert_non_null(a);
	buf_init(&msg);
	buf_init(&out);
	buf_putc(&msg, '\0');
	buf_puts(&msg, user);
	buf_putc(&msg, '\0');
	buf_puts(&msg, password);
	r = login_attempt_step(a, (const uint8_t *)msg.data, msg.len, &out,
			       &error);
	o = login_attempt_finish(a, r, error);
	if (o == LOGIN_OUTCOME_OK)
		assert_string_equal(login_attempt_method(a), "PLAIN");
	login_attempt_free(&a);
	assert_null(a);
	buf_deinit(&msg);
	buf_deinit(&out);
	return o;
}

static void
test_login_keys(void **state)
{
	struct login_fixture *f = *state;
	char k[LOGIN_KEY_MAX], big[600];

	login_account_key("ALICE@Example.TEST", k);
	assert_string_equal(k, "alice@example.test");
	/* non-ASCII octets stay as they are (the store folds ASCII only) */
	login_account_key("\xc3\x89mile@example.test", k);
	assert_string_equal(k, "\xc3\x89mile@example.test");
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	login_account_key(big, k);
	assert_int_equal(strlen(k), LOGIN_KEY_MAX - 1);
	assert_int_equal(k[0], 'a');

	login_address_key(f->svc, "192.0.2.7", k);
	assert_string_equal(k, "192.0.2.7");
	login_address_key(f->svc, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	login_address_key(f->svc, "2001:db8:1:2::1", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	login_address_key(f->svc, "unix", k);
	assert_string_equal(k, "unix");
	/* IPv4 through a dual-stack socket: its own budget, not ::/64's */
	login_address_key(f->svc, "::ffff:192.0.2.7", k);
	assert_string_equal(k, "192.0.2.7");
}

static void
test_login_ok_gives_canonical_account(void **state)
{
	struct login_fixture *f = *state;
	struct login_client client = { .sid = "T", .proto = "smtp",
				       .ip = "192.0.2.1" };
	struct login_attempt *a = login_attempt_new(f->svc, f->store, &client,
						    "PLAIN", "USER");
	static const uint8_t msg[] = "\0ALICE@EXAMPLE.TEST\0pencil";
	struct buf out;
	const char *error = NULL;

	buf_init(&out);
	assert_int_equal(login_attempt_step(a, msg, sizeof(msg) - 1, &out,
					    &error), SASL_OK);
	assert_int_equal(login_attempt_finish(a, SASL_OK, NULL),
			 LOGIN_OUTCOME_OK);
	assert_string_equal(login_attempt_account(a), "Alice@example.test");
	assert_true(login_attempt_account_id(a) > 0);
	assert_string_equal(login_attempt_method(a), "USER");
	login_attempt_free(&a);
	assert_null(login_attempt_new(f->svc, f->store, &client, "GSSAPI",
				      NULL));
	assert_int_equal(login_service_fail_delay_ms(f->svc), 1000);
	buf_deinit(&out);
}

/* A login, or with password NULL only the start check with the name
 * known (POP3 USER/PASS, APOP): LOGIN_OUTCOME_OK when allowed. `later`
 * moves the clock first. */
struct login_step {
	time_t later;
	const char *proto, *ip, *user, *password;
	enum login_outcome want;
};

static void
run_steps(struct login_fixture *f, const struct login_step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct login_step *st = &steps[i];
		enum login_outcome got;

		fake_now += st->later;
		if (st->password != NULL)
			got = try_login(f, st->proto, st->ip, st->user,
					st->password);
		else
			got = login_service_allows(f->svc, "T", st->proto,
						   "USER", st->ip, st->user)
				? LOGIN_OUTCOME_OK : LOGIN_OUTCOME_LIMITED;
		if (got != st->want)
			fail_msg("step %zu (%s %s %s): outcome %d, want %d", i,
				 st->proto, st->ip, st->user, (int)got,
				 (int)st->want);
	}
}

#define OK LOGIN_OUTCOME_OK
#define FAILED LOGIN_OUTCOME_FAILED
#define LIMITED LOGIN_OUTCOME_LIMITED
#define ALICE "alice@example.test"
#define BOB "bob@example.test"

/* fail_per_ip 3: a success in between does not reset the count, and
 * SMTP and POP3 failures add up. */
static void
test_login_success_does_not_reset_address(void **state)
{
	static const struct login_step steps[] = {
		{ 0, "smtp", "192.0.2.1", BOB, "pencil", OK },
		{ 0, "smtp", "192.0.2.1", "x@example.test", "g1", FAILED },
		{ 0, "pop3", "192.0.2.1", "y@example.test", "g2", FAILED },
		{ 0, "smtp", "192.0.2.1", BOB, "pencil", OK },
		{ 0, "pop3", "192.0.2.1", "z@example.test", "g3", FAILED },
		/* three failures across both protocols: the address is done */
		{ 0, "smtp", "192.0.2.1", BOB, "pencil", LIMITED },
		{ 0, "pop3", "192.0.2.1", BOB, NULL, LIMITED },
		/* others are not, and the window ends */
		{ 0, "smtp", "192.0.2.2", BOB, "pencil", OK },
		{ 599, "smtp", "192.0.2.1", BOB, NULL, LIMITED },
		{ 1, "smtp", "192.0.2.1", BOB, "pencil", OK },
	};

	run_steps(*state, steps, sizeof(steps) / sizeof(steps[0]));
}

static void
test_login_ipv6_network_shares_budget(void **state)
{
	static const struct login_step steps[] = {
		{ 0, "smtp", "2001:db8:0:7::1", "x@example.test", "g", FAILED },
		{ 0, "smtp", "2001:db8:0:7::2", "x@example.test", "g", FAILED },
		{ 0, "smtp", "2001:db8:0:7::3", "x@example.test", "g", FAILED },
		{ 0, "smtp", "2001:db8:0:7::99", BOB, "pencil", LIMITED },
		{ 0, "smtp", "2001:db8:0:8::1", BOB, "pencil", OK },
	};

	run_steps(*state, steps, sizeof(steps) / sizeof(steps[0]));
}

/* fail_per_user 4 from four addresses in four spellings: the account is
 * limited for new addresses, not for the one its owner logged in from. */
static void
test_login_account_budget_spares_known_address(void **state)
{
	static const struct login_step steps[] = {
		{ 0, "pop3", "198.51.100.1", ALICE, "pencil", OK },
		{ 0, "smtp", "203.0.113.1", "alice@example.test", "x", FAILED },
		{ 0, "pop3", "203.0.113.2", "ALICE@example.test", "x", FAILED },
		{ 0, "smtp", "203.0.113.3", "Alice@EXAMPLE.test", "x", FAILED },
		{ 0, "pop3", "203.0.113.4", "aLiCe@example.TEST", "x", FAILED },
		/* refused at the start when the name is known... */
		{ 0, "pop3", "203.0.113.50", "ALICE@example.test", NULL,
		  LIMITED },
		/* ...and at the end when it came inside the exchange, a
		 * right password as a wrong one */
		{ 0, "smtp", "203.0.113.51", ALICE, "pencil", LIMITED },
		{ 0, "smtp", "203.0.113.52", ALICE, "wrong", LIMITED },
		/* the owner's address still works, in either protocol */
		{ 0, "pop3", "198.51.100.1", ALICE, NULL, OK },
		{ 0, "smtp", "198.51.100.1", "ALICE@example.test", "pencil",
		  OK },
		/* other accounts are untouched */
		{ 0, "smtp", "203.0.113.53", BOB, "pencil", OK },
		/* the window ends */
		{ 600, "smtp", "203.0.113.51", ALICE, "pencil", OK },
	};

	run_steps(*state, steps, sizeof(steps) / sizeof(steps[0]));
}

/* known_address_s (a day) after its last login an address is new again */
static void
test_login_known_address_expires(void **state)
{
	static const struct login_step steps[] = {
		{ 0, "smtp", "198.51.100.1", ALICE, "pencil", OK },
		{ 86400, "smtp", "203.0.113.1", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.2", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.3", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.4", ALICE, "guess", FAILED },
		{ 0, "smtp", "198.51.100.1", ALICE, "pencil", LIMITED },
	};

	run_steps(*state, steps, sizeof(steps) / sizeof(steps[0]));
}

/* One account logging in from ever new addresses (bob's own, from a /48)
 * cannot push alice's known address out of the LRU table (100 entries
 * here) and so lock her out with failures from elsewhere: past
 * known_addresses_per_day (8) his new addresses are not remembered. */
static void
test_login_known_addresses_not_evicted(void **state)
{
	struct login_fixture *f = *state;
	struct login_limits lim = {
		.fail_per_ip = 3, .fail_per_user = 4, .fail_window_s = 600,
		.known_address_s = 86400, .known_addresses_per_day = 8,
		.ipv6_prefix = 64, .table_size = 100,
	};
	static const struct login_step alice_in[] = {
		{ 0, "pop3", "198.51.100.1", ALICE, "pencil", OK },
	};
	static const struct login_step spray[] = {
		{ 0, "smtp", "203.0.113.1", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.2", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.3", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.4", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.5", ALICE, "pencil", LIMITED },
		/* her own address still gets in */
		{ 0, "pop3", "198.51.100.1", ALICE, "pencil", OK },
	};

	login_service_free(&f->svc);
	f->svc = login_service_new(&lim, fake_clock);
	run_steps(f, alice_in, 1);
	for (unsigned i = 0; i < 150; i++) {
		char ip[64];
		struct login_step st = { 0, "smtp", ip, BOB, "pencil", OK };

		snprintf(ip, sizeof(ip), "2001:db8:%x:%x::1", i / 256, i % 256);
		run_steps(f, &st, 1);
	}
	run_steps(f, spray, sizeof(spray) / sizeof(spray[0]));
}

/* A reload (login_service_prepare with the new [auth]) keeps the counts
 * and the known addresses, with the new limits: new tables gave every
 * guesser a fresh budget and forgot every known address at each reload. */
static void
test_login_reload_keeps_budgets(void **state)
{
	struct login_fixture *f = *state;
	struct login_service *mine = f->svc;
	struct config_auth auth = {
		.fail_per_ip = 5, .fail_per_user = 20, .fail_window_s = 600,
		.known_address_s = 3600, .known_addresses_per_day = 10,
		.fail_ipv6_prefix = 64, .fail_table_size = 64,
	};
	static const struct login_step before[] = {
		{ 0, "pop3", "198.51.100.7", ALICE, "pencil", OK },
		{ 0, "smtp", "192.0.2.9", "x@example.test", "g", FAILED },
		{ 0, "smtp", "192.0.2.9", "y@example.test", "g", FAILED },
		{ 0, "smtp", "192.0.2.9", "z@example.test", "g", FAILED },
	};
	static const struct login_step after[] = {
		/* the three failures count against the new limit of 3 */
		{ 0, "smtp", "192.0.2.9", BOB, "pencil", LIMITED },
		{ 0, "smtp", "203.0.113.1", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.2", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.3", ALICE, "pencil", LIMITED },
		/* her address is still known */
		{ 0, "pop3", "198.51.100.7", ALICE, "pencil", OK },
	};

	login_service_prepare(&auth);
	f->svc = login_service_get(&auth);
	run_steps(f, before, sizeof(before) / sizeof(before[0]));
	auth.fail_per_ip = 3;
	auth.fail_per_user = 2;
	login_service_prepare(&auth);
	f->svc = login_service_get(&auth);
	run_steps(f, after, sizeof(after) / sizeof(after[0]));
	f->svc = mine;
}

/* known_address_s 0: the account budget holds the owner's address too */
static void
test_login_known_address_off(void **state)
{
	struct login_fixture *f = *state;
	struct login_limits lim = {
		.fail_per_ip = 3, .fail_per_user = 2, .fail_window_s = 600,
		.known_address_s = 0, .ipv6_prefix = 64, .table_size = 100,
	};
	static const struct login_step steps[] = {
		{ 0, "smtp", "198.51.100.1", ALICE, "pencil", OK },
		{ 0, "smtp", "203.0.113.1", ALICE, "guess", FAILED },
		{ 0, "smtp", "203.0.113.2", ALICE, "guess", FAILED },
		{ 0, "smtp", "198.51.100.1", ALICE, "pencil", LIMITED },
	};

	login_service_free(&f->svc);
	f->svc = login_service_new(&lim, fake_clock);
	run_steps(f, steps, sizeof(steps) / sizeof(steps[0]));
}

/* One APOP attempt of user with digest over "<1.2@h>", ended. */
static enum login_outcome
try_apop(struct login_fixture *f, const char *user, const char *digest,
	 const char **error_r)
{
	struct login_client client = { .sid = "T", .proto = "pop3",
				       .ip = "192.0.2.1" };
	struct login_attempt *a = login_attempt_new(f->svc, f->store, &client,
						    "APOP", NULL);
	enum sasl_result r;
	enum login_outcome o;

	assert_null(login_attempt_sasl(a));
	assert_string_equal(login_attempt_method(a), "APOP");
	r = login_attempt_apop(a, user, "<1.2@h>", digest, error_r);
	o = login_attempt_finish(a, r, *error_r);
	if (o == LOGIN_OUTCOME_OK)
		assert_string_equal(login_attempt_account(a),
				    "Alice@example.test");
	login_attempt_free(&a);
	return o;
}

static void
test_login_apop(void **state)
{
	struct login_fixture *f = *state;
	const char *error = NULL;
	unsigned char md[16];
	unsigned int mdlen = 0;
	char hex[33];

	assert_int_equal(EVP_Digest("<1.2@h>pencil", 13, md, &mdlen,
				    EVP_md5(), NULL), 1);
	for (unsigned i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02X", md[i]);
	assert_int_equal(try_apop(f, "ALICE@example.test", hex, &error),
			 LOGIN_OUTCOME_OK);
	assert_int_equal(try_apop(f, "alice@example.test",
				  "d5e2a1ea81e1a5e4ef5b3d0f71e6a5e0", &error),
			 LOGIN_OUTCOME_FAILED);
	assert_string_equal(error, "wrong digest");
	/* bob's password is hashed: no APOP for him */
	assert_int_equal(try_apop(f, "bob@example.test", hex, &error),
			 LOGIN_OUTCOME_FAILED);
	assert_string_equal(error, "no plaintext password for APOP");
	assert_int_equal(try_apop(f, "nobody@example.test", hex, &error),
			 LOGIN_OUTCOME_FAILED);
	assert_string_equal(error, "unknown user");
}

static void
test_login_config_limits(void **state)
{
	struct config_auth auth = {
		.fail_per_ip = 7, .fail_per_user = 9, .fail_window_s = 60,
		.fail_delay_ms = 5, .known_address_s = 3600,
		.known_addresses_per_day = 3, .fail_ipv6_prefix = 56,
		.fail_table_size = 32,
	};
	struct login_limits lim;

	login_limits_from_config(&auth, &lim);
	assert_int_equal(lim.fail_per_ip, 7);
	assert_int_equal(lim.fail_per_user, 9);
	assert_int_equal(lim.fail_window_s, 60);
	assert_int_equal(lim.fail_delay_ms, 5);
	assert_int_equal(lim.known_address_s, 3600);
	assert_int_equal(lim.known_addresses_per_day, 3);
	assert_int_equal(lim.ipv6_prefix, 56);
	assert_int_equal(lim.table_size, 32);
	/* the worker's service is made once */
	assert_ptr_equal(login_service_get(&auth), login_service_get(&auth));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mech_list),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_plain_no_initial_response),
		cmocka_unit_test(test_plain_limits),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_scram_bad_final),
		cmocka_unit_test(test_scram_bad_first),
		cmocka_unit_test(test_scram_client_round_trip),
		cmocka_unit_test(test_scram_fake_salt_is_stable),
		cmocka_unit_test(test_random_input),
		cmocka_unit_test_setup_teardown(test_login_keys, login_setup,
						login_teardown),
		cmocka_unit_test_setup_teardown(test_login_ok_gives_canonical_account,
						login_setup, login_teardown),
		cmocka_unit_test_setup_teardown(test_login_success_does_not_reset_address,
						login_setup, login_teardown),
		cmocka_unit_test_setup_teardown(test_login_ipv6_network_shares_budget,
						login_setup, login_teardown),
		cmocka_unit_test_setup_teardown(test_login_account_budget_spares_known_address,
						login_setup, login_teardown),
		cmocka_unit_test_setup_teardown(test_login_known_address_expires,
						login_setup, login_teardown),
		cmocka_unit_test_setup_teardown(test_login_known_addresses_not_evicted,
						login_setup, login_teardown),
		cmocka_unit_test_setup_teardown(test_login_reload_keeps_budgets,
						login_setup, login_teardown),
		cmocka_unit_test_setup_teardown(test_login_known_address_off,
						login_setup, login_teardown),
		cmocka_unit_test_setup_teardown(test_login_apop, login_setup,
						login_teardown),
		cmocka_unit_test(test_login_config_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
