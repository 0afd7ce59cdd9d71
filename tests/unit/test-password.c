/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for sasl/password: round trips of both hashing schemes, known
 * vectors for every accepted scheme (made with mkpasswd, the argon2 CLI and
 * python3 hashlib, not with this code), malformed and unknown hashes,
 * rehash decisions, SCRAM credentials and reading a password from a pipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/config.h"
#include "lib/mem.h"
#include "sasl/password.h"

/* Every vector is for the password "pencil". */
static const char *const good_vectors[] = {
	/* mkpasswd -m sha512crypt -S saltsalt */
	"$6$saltsalt$rD9fW1BwIrjB90WCgCTdIQc3phTBhf04I6Iw/XlgKD9E9aEbzqGZipjiFxGo/4wWXDA6jV6/vZO.kKdDSfUJb0",
	"$6$rounds=10000$saltsalt$TKr1KzjiqlbJm0YOSAgmiEjNquFJj1Xbp.C2cN8u0itOiHJLPj/TkgftAiEFS4ac19scB3t3c8E01baf0QWBI1",
	"$5$saltsalt$hl9BvcGsj7AkON13nbqeQHDgRpHyFxt7WDzLoS.OCQ/",
	"$1$saltsalt$wCrc3hcrR95SV83Xh8Z.41",
	"$2b$05$abcdefghijklmnopqrstuu680Yiaj5hFUaJTH/rTAcbA2PQEGfiZu",
	"$2a$05$abcdefghijklmnopqrstuu680Yiaj5hFUaJTH/rTAcbA2PQEGfiZu",
	"$2y$05$abcdefghijklmnopqrstuu680Yiaj5hFUaJTH/rTAcbA2PQEGfiZu",
	"$y$j9T$.AHAZVvef.aNZurSvuLtr1$ydxlOSGdP0Gtb56rLVLPxiF9yvfwk4Ak./O55jEB9U8",
	/* argon2 CLI: -id -t 2 -m 12 -p 1, and -i -t 3 -m 12 -p 1 */
	"$argon2id$v=19$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$mf/izCBkCa20qx82FscpLrR/5w7RjUhbnuoU2/qZLV8",
	"$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$Ib/dFoqcMPTAjNMyOKFnnICd/Q/w7qjjAazAi/wh2lk",
	"{ARGON2ID}$argon2id$v=19$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$mf/izCBkCa20qx82FscpLrR/5w7RjUhbnuoU2/qZLV8",
	"{ARGON2I}$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$Ib/dFoqcMPTAjNMyOKFnnICd/Q/w7qjjAazAi/wh2lk",
	"{SHA512-CRYPT}$6$saltsalt$rD9fW1BwIrjB90WCgCTdIQc3phTBhf04I6Iw/XlgKD9E9aEbzqGZipjiFxGo/4wWXDA6jV6/vZO.kKdDSfUJb0",
	"{SHA256-CRYPT}$5$saltsalt$hl9BvcGsj7AkON13nbqeQHDgRpHyFxt7WDzLoS.OCQ/",
	"{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu680Yiaj5hFUaJTH/rTAcbA2PQEGfiZu",
	"{MD5-CRYPT}$1$saltsalt$wCrc3hcrR95SV83Xh8Z.41",
	"{CRYPT}$y$j9T$.AHAZVvef.aNZurSvuLtr1$ydxlOSGdP0Gtb56rLVLPxiF9yvfwk4Ak./O55jEB9U8",
	"{crypt}$1$saltsalt$wCrc3hcrR95SV83Xh8Z.41",
	/* python3 hashlib; salt bytes 01..08 */
	"{SSHA512}OOL42mKQ3zEWAJYXJBkuxdTBS0X01LVK4+0aCtjAnZbHXIuyRFbuqwa9Jm4wRl25day/iwtZznLsnk+Iksdf6QECAwQFBgcI",
	"{SSHA512.HEX}38e2f8da6290df311600961724192ec5d4c14b45f4d4b54ae3ed1a0ad8c09d96c75c8bb24456eeab06bd266e30465db975acbf8b0b59ce72ec9e4f8892c75fe90102030405060708",
	"{SSHA256}A77VW15BuokbgiLd+VHWPNGy156jh69r3AKQSmY1cXMBAgMEBQYHCA==",
	"{SHA512}Gd8Bqrgo+NUINrp1cJcTrtInM1344YZDkYXAbJF6Kn03cat24wfPo7a4nvGmaC1mgd3xGISHDl3hPnk/uVXu6w==",
	"{SHA512.b64}Gd8Bqrgo+NUINrp1cJcTrtInM1344YZDkYXAbJF6Kn03cat24wfPo7a4nvGmaC1mgd3xGISHDl3hPnk/uVXu6w==",
	"{SHA512}19df01aab828f8d50836ba75709713aed227335df8e186439185c06c917a2a7d3771ab76e307cfa3b6b89ef1a6682d6681ddf11884870e5de13e793fb955eeeb",
	"{SHA256}E4CWaPtDY4Zwb2fcsFLtWEoEuhaowCoX1m00ww/O2iE=",
	"{SHA256.HEX}13809668fb436386706f67dcb052ed584a04ba16a8c02a17d66d34c30fceda21",
	"{SHA256}13809668FB436386706F67DCB052ED584A04BA16A8C02A17D66D34C30FCEDA21",
	"{PLAIN}pencil",
	"{CLEARTEXT}pencil",
	"{PLAIN.B64}cGVuY2ls",
	"{PLAIN.HEX}70656e63696c",
	/* python3 hashlib.pbkdf2_hmac, the RFC 7677 salt */
	"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
};

static void
test_known_vectors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(good_vectors) / sizeof(good_vectors[0]); i++) {
		char *err = NULL;

		if (!password_verify("pencil", good_vectors[i], &err))
			fail_msg("vector %zu (%s) failed: %s", i,
				 good_vectors[i], err != NULL ? err : "mismatch");
		assert_null(err);
		assert_false(password_verify("pencil2", good_vectors[i], &err));
		assert_null(err);
		assert_false(password_verify("Pencil", good_vectors[i], &err));
		assert_null(err);
		assert_false(password_verify("", good_vectors[i], &err));
		assert_null(err);
	}
}

/* Malformed or unknown: false, and an error (unless noted). */
static const struct {
	const char *stored;
	const char *error_contains;
} bad_vectors[] = {
	{ "{FOO}bar", "unknown password scheme {FOO}" },
	{ "{MD4}abcd", "unknown password scheme {MD4}" },
	{ "{SHA512.ROT13}abcd", "unknown password scheme {SHA512.ROT13}" },
	{ "{SHA512-CRYPT.HEX}abcd", "unknown password scheme" },
	{ "{NOBRACE", "malformed" },
	{ "{}", "unknown password scheme {" },
	{ "$7$CU..../....salt$hash", "unknown password scheme $7$" },
	{ "$", "unknown password scheme" },
	{ "plaintext", "no {SCHEME}" },
	{ "", "no {SCHEME}" },
	{ "$6$", "$6$" },
	{ "$2b$05$short", "$2b$" },
	{ "$y$garbage", "$y$" },
	{ "{SHA512-CRYPT}$5$saltsalt$hl9BvcGsj7AkON13nbqeQHDgRpHyFxt7WDzLoS.OCQ/", "expected $6$" },
	{ "{ARGON2ID}$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$Ib/dFoqcMPTAjNMyOKFnnICd/Q/w7qjjAazAi/wh2lk", "expected $argon2id$" },
	{ "{SHA256}E4CWaPtDY4Zwb2fcsFLtWEoEuhaowCoX1m00ww/O2i", "bad encoding" },
	{ "{SHA256}Zm9v", "wrong length" },
	{ "{SSHA256}E4CWaPtDY4Zwb2fcsFLtWEoEuhaowCoX1m00ww/O2iE=", "too short" },
	{ "{SHA512.HEX}zz", "bad encoding" },
	{ "{PLAIN.B64}!!!!", "bad encoding" },
	{ "{SCRAM-SHA-256}0,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", "iteration" },
	{ "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=", "ServerKey" },
	{ "{SCRAM-SHA-256}4096,,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", "salt" },
	{ "$argon2id$v=19$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$mf/izCBkCa20qx82FscpLrR/5w7RjUhbnuoU2/qZLV8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "too long" },
};

static void
test_malformed(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bad_vectors) / sizeof(bad_vectors[0]); i++) {
		char *err = NULL;

		assert_false(password_verify("pencil", bad_vectors[i].stored, &err));
		if (err == NULL)
			fail_msg("vector %zu (%s): no error", i,
				 bad_vectors[i].stored);
		if (strstr(err, bad_vectors[i].error_contains) == NULL)
			fail_msg("vector %zu (%s): error \"%s\" lacks \"%s\"", i,
				 bad_vectors[i].stored, err,
				 bad_vectors[i].error_contains);
		free(err);
		/* error_r may be NULL. */
		assert_false(password_verify("pencil", bad_vectors[i].stored, NULL));
	}
}

static struct config_auth *
auth_new(enum config_password_scheme scheme)
{
	struct config_auth *auth = xcalloc(1, sizeof(*auth));

	auth->password_scheme = scheme;
	/* Cheap argon2 for tests; still above libsodium's minimums. */
	auth->argon2_opslimit = 1;
	auth->argon2_memlimit = 64 * 1024;
	return auth;
}

static void
auth_free(struct config_auth **auth)
{
	xfree(auth);
}

static void
test_hash_argon2id(void **state)
{
	struct config_auth *auth = auth_new(CONFIG_PASSWORD_ARGON2ID);
	char *hash = NULL, *err = NULL;

	assert_int_equal(password_hash("correct horse", auth, &hash, &err), 0);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_true(password_verify("correct horse", hash, &err));
	assert_false(password_verify("correct horsf", hash, &err));
	assert_null(err);
	assert_false(password_needs_rehash(hash, auth));
	/* Other cost parameters: rehash. */
	auth->argon2_opslimit = 2;
	assert_true(password_needs_rehash(hash, auth));
	auth->argon2_opslimit = 1;
	/* With the Dovecot prefix it is the same scheme. */
	{
		char *pref = xasprintf("{ARGON2ID}%s", hash);

		assert_true(password_verify("correct horse", pref, NULL));
		assert_false(password_needs_rehash(pref, auth));
		free(pref);
	}
	free(hash);
	auth_free(&auth);
}

static void
test_hash_argon2id_defaults(void **state)
{
	char *hash = NULL, *err = NULL;

	/* auth == NULL: libsodium INTERACTIVE defaults. */
	assert_int_equal(password_hash("pencil", NULL, &hash, &err), 0);
	assert_true(password_verify("pencil", hash, NULL));
	assert_false(password_needs_rehash(hash, NULL));
	free(hash);
}

static void
test_hash_sha512_crypt(void **state)
{
	struct config_auth *auth = auth_new(CONFIG_PASSWORD_SHA512_CRYPT);
	struct config_auth *def = auth_new(CONFIG_PASSWORD_ARGON2ID);
	char *hash = NULL, *hash2 = NULL, *err = NULL;

	assert_int_equal(password_hash("p\xc3\xa4ssw\xc3\xb6rd", auth, &hash, &err), 0);
	assert_true(strncmp(hash, "$6$", 3) == 0);
	assert_true(password_verify("p\xc3\xa4ssw\xc3\xb6rd", hash, NULL));
	assert_false(password_verify("passwoerd", hash, NULL));
	assert_false(password_needs_rehash(hash, auth));
	assert_true(password_needs_rehash(hash, def));
	/* Salted: two hashes differ. */
	assert_int_equal(password_hash("p\xc3\xa4ssw\xc3\xb6rd", auth, &hash2, &err), 0);
	assert_string_not_equal(hash, hash2);
	free(hash);
	free(hash2);
	auth_free(&auth);
	auth_free(&def);
}

static void
test_hash_refusals(void **state)
{
	/* a value no setting can produce */
	struct config_auth *auth = auth_new((enum config_password_scheme)7);
	char *hash = NULL, *err = NULL;
	char long_pw[PASSWORD_MAX_LEN + 2];

	assert_int_equal(password_hash("pencil", auth, &hash, &err), -1);
	assert_non_null(strstr(err, "unknown password scheme 7"));
	free(err);
	auth_free(&auth);

	assert_int_equal(password_hash("", NULL, &hash, &err), -1);
	free(err);
	assert_int_equal(password_hash("tab\there", NULL, &hash, &err), -1);
	free(err);
	assert_int_equal(password_hash("bad\xc3utf8", NULL, &hash, &err), -1);
	free(err);
	memset(long_pw, 'a', sizeof(long_pw) - 1);
	long_pw[sizeof(long_pw) - 1] = '\0';
	assert_int_equal(password_hash(long_pw, NULL, &hash, &err), -1);
	free(err);
}

static void
test_needs_rehash_other_schemes(void **state)
{
	struct config_auth *auth = auth_new(CONFIG_PASSWORD_ARGON2ID);
	size_t i;

	/* Every vector but the argon2id ones (whose parameters differ from
	 * the test config anyway) needs a rehash. */
	for (i = 0; i < sizeof(good_vectors) / sizeof(good_vectors[0]); i++)
		assert_true(password_needs_rehash(good_vectors[i], auth));
	assert_true(password_needs_rehash("garbage", auth));
	auth_free(&auth);
}

static void
test_scram_credential(void **state)
{
	static const uint8_t salt[] = {
		0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
		0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
	};
	struct password_scram sc;
	char *cred = NULL, *err = NULL;
	const char *why;

	assert_int_equal(password_scram_sha256_with_salt("pencil", 4096, salt,
							 sizeof(salt), &cred,
							 &err), 0);
	assert_string_equal(cred, good_vectors[sizeof(good_vectors) /
					       sizeof(good_vectors[0]) - 1]);
	assert_int_equal(password_scram_parse(cred, &sc, &why), 0);
	assert_int_equal(sc.iterations, 4096);
	assert_int_equal(sc.salt_len, 16);
	assert_memory_equal(sc.salt, salt, 16);
	/* Without the prefix too. */
	assert_int_equal(password_scram_parse(cred + strlen("{SCRAM-SHA-256}"),
					      &sc, &why), 0);
	free(cred);

	assert_int_equal(password_scram_sha256("pencil", 0, &cred, &err), 0);
	assert_true(strncmp(cred, "{SCRAM-SHA-256}4096,", 20) == 0);
	assert_true(password_verify("pencil", cred, NULL));
	assert_false(password_verify("pencil!", cred, NULL));
	free(cred);

	assert_int_equal(password_scram_sha256("pencil", 100, &cred, &err), -1);
	free(err);
	assert_int_equal(password_scram_sha256("a\x01" "b", 0, &cred, &err), -1);
	free(err);
	assert_int_equal(password_scram_parse("4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=,x",
					      &sc, &why), -1);
	assert_int_equal(password_scram_parse("40a6,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
					      &sc, &why), -1);
	assert_int_equal(password_scram_parse("", &sc, &why), -1);
}

/* Feeds data through a pipe and reads it with password_read_fd. */
static int
read_from(const char *data, size_t len, char **pw_r, const char **err_r,
	  char *rest, size_t restsz)
{
	int fds[2];
	int ret;
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], data, len), (ssize_t)len);
	close(fds[1]);
	ret = password_read_fd(fds[0], pw_r, err_r);
	n = read(fds[0], rest, restsz - 1);
	rest[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	return ret;
}

static void
test_read_fd(void **state)
{
	char *pw = NULL;
	const char *err;
	char rest[64];
	char big[PASSWORD_MAX_LEN + 3];

	assert_int_equal(read_from("secret\nnext", 11, &pw, &err, rest, sizeof(rest)), 0);
	assert_string_equal(pw, "secret");
	assert_string_equal(rest, "next");	/* nothing past the newline */
	mem_free_secret(&pw);
	assert_null(pw);

	assert_int_equal(read_from("secret\r\n", 8, &pw, &err, rest, sizeof(rest)), 0);
	assert_string_equal(pw, "secret");
	mem_free_secret(&pw);

	assert_int_equal(read_from("no newline", 10, &pw, &err, rest, sizeof(rest)), 0);
	assert_string_equal(pw, "no newline");
	mem_free_secret(&pw);

	assert_int_equal(read_from("\n", 1, &pw, &err, rest, sizeof(rest)), -1);
	assert_int_equal(read_from("\r\n", 2, &pw, &err, rest, sizeof(rest)), -1);
	assert_int_equal(read_from("", 0, &pw, &err, rest, sizeof(rest)), -1);
	assert_int_equal(read_from("a\0b\n", 4, &pw, &err, rest, sizeof(rest)), -1);

	/* Exactly the maximum, with CRLF: accepted. */
	memset(big, 'x', PASSWORD_MAX_LEN);
	big[PASSWORD_MAX_LEN] = '\r';
	big[PASSWORD_MAX_LEN + 1] = '\n';
	assert_int_equal(read_from(big, PASSWORD_MAX_LEN + 2, &pw, &err, rest, sizeof(rest)), 0);
	assert_int_equal(strlen(pw), PASSWORD_MAX_LEN);
	mem_free_secret(&pw);
	/* One more: refused. */
	memset(big, 'x', PASSWORD_MAX_LEN + 1);
	big[PASSWORD_MAX_LEN + 1] = '\n';
	assert_int_equal(read_from(big, PASSWORD_MAX_LEN + 2, &pw, &err, rest, sizeof(rest)), -1);
	assert_non_null(strstr(err, "1024"));
	memset(big, 'x', PASSWORD_MAX_LEN + 3);
	assert_int_equal(read_from(big, PASSWORD_MAX_LEN + 3, &pw, &err, rest, sizeof(rest)), -1);
}

static void
test_acceptable(void **state)
{
	const char *err;

	assert_true(password_is_acceptable("pencil", &err));
	assert_true(password_is_acceptable("\xe2\x82\xac uro", &err));
	assert_false(password_is_acceptable("a\x7f", &err));
	assert_false(password_is_acceptable("\xc0\xaf", &err));	/* overlong */
	assert_false(password_is_acceptable("\xed\xa0\x80", &err));	/* surrogate */
	assert_false(password_is_acceptable("\xf4\x90\x80\x80", &err));	/* > U+10FFFF */
	assert_false(password_is_acceptable("\xe2\x82", &err));	/* truncated */
}

/* RFC 1939 section 7's example, and the stored forms that hold (or do not
 * hold) a cleartext. */
static void
test_apop(void **state)
{
	const char *stamp = "<1896.697170952@dbc.mtview.ca.us>";
	const char *digest = "c4c9334bac560ecc979e58001b3e22fb";
	const char *err;

	assert_true(password_apop_verify("{PLAIN}tanstaaf", stamp, digest,
					 &err));
	assert_null(err);
	assert_true(password_apop_verify("{CLEARTEXT}tanstaaf", stamp,
					 "C4C9334BAC560ECC979E58001B3E22FB",
					 &err));
	/* "tanstaaf" in base64 and hex encodings */
	assert_true(password_apop_verify("{PLAIN.B64}dGFuc3RhYWY=", stamp,
					 digest, &err));
	assert_true(password_apop_verify("{plain.hex}74616e7374616166", stamp,
					 digest, &err));
	/* wrong digest, wrong stamp, malformed digests */
	assert_false(password_apop_verify("{PLAIN}tanstaaf", stamp,
					  "c4c9334bac560ecc979e58001b3e22fc",
					  &err));
	assert_null(err);
	assert_false(password_apop_verify("{PLAIN}tanstaaf", "<1@x>", digest,
					  &err));
	assert_false(password_apop_verify("{PLAIN}tanstaaf", stamp,
					  "c4c9334bac560ecc979e58001b3e22f",
					  &err));
	/* 0x10 | 0x20 is '0': only hex digits are digits */
	assert_false(password_apop_verify("{PLAIN}tanstaaf", stamp,
					  "c4c9334bac560ecc979e58001b3e22f\x10",
					  &err));
	/* an empty cleartext opens nothing */
	assert_false(password_apop_verify("{PLAIN}", stamp,
					  "00000000000000000000000000000000",
					  &err));
	/* no cleartext to compute the digest from */
	assert_false(password_apop_verify("$6$saltsalt$x", stamp, digest,
					  &err));
	assert_string_equal(err, "no plaintext password for APOP");
	assert_false(password_apop_verify("{SSHA256}abcd", stamp, digest,
					  &err));
	assert_string_equal(err, "no plaintext password for APOP");
	assert_false(password_apop_verify("{PLAIN.B64}!!!", stamp, digest,
					  &err));
	assert_string_equal(err, "malformed plaintext password");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_hash_argon2id),
		cmocka_unit_test(test_hash_argon2id_defaults),
		cmocka_unit_test(test_hash_sha512_crypt),
		cmocka_unit_test(test_hash_refusals),
		cmocka_unit_test(test_needs_rehash_other_schemes),
		cmocka_unit_test(test_scram_credential),
		cmocka_unit_test(test_read_fd),
		cmocka_unit_test(test_acceptable),
		cmocka_unit_test(test_apop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
