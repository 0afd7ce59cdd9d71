/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SASL server mechanisms, the SCRAM credential
 * parser and the base64 decoder. Input: one selector byte, then messages
 * each prefixed by a 2-byte big-endian length. The SCRAM server nonce is
 * fixed ("fz") so the fuzzer can reach the client-final parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "sasl/password.h"
#include "sasl/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_lookup(void *ctx, const char *user, struct sasl_credentials *cred_r)
{
	if (strcmp(user, "down") == 0)
		return SASL_LOOKUP_TEMPFAIL;
	if (strcmp(user, "nobody") == 0)
		return SASL_LOOKUP_UNKNOWN;
	/* Cheap schemes only: the fuzzer must not spend its time in argon2. */
	cred_r->password_hash = xstrdup("{PLAIN}pencil");
	cred_r->scram_sha256 = xstrdup(
		"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
		"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
	return SASL_LOOKUP_FOUND;
}

static void
fuzz_mech(const char *mech, const uint8_t *data, size_t size)
{
	struct sasl_server *s = sasl_server_new(mech, fuzz_lookup, NULL);
	enum sasl_result res = SASL_CONTINUE;
	struct buf out;
	size_t pos = 0;
	int steps = 0;

	sasl_server_set_scram_nonce(s, "fz");
	buf_init(&out);
	while (steps++ < 8) {
		const char *err = NULL;
		size_t len;

		if (size - pos < 2)
			break;
		len = (size_t)data[pos] << 8 | data[pos + 1];
		pos += 2;
		if (len == 0xffff) {
			res = sasl_server_step(s, NULL, 0, &out, &err);
		} else {
			uint8_t *copy;

			if (len > size - pos)
				len = size - pos;
			/* An exact-size copy lets ASan see overreads. */
			copy = xmemdup(data + pos, len);
			res = sasl_server_step(s, copy, len, &out, &err);
			free(copy);
			pos += len;
		}
		/* a refusal says why; a success names the user */
		if (res != SASL_CONTINUE && res != SASL_OK && err == NULL)
			__builtin_trap();
		if (res == SASL_OK && sasl_server_username(s) == NULL)
			__builtin_trap();
		if (res != SASL_CONTINUE)
			break;
	}
	(void)sasl_server_username(s);
	(void)sasl_server_attempted_user(s);
	buf_deinit(&out);
	sasl_server_free(&s);
	(void)res;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_mech("PLAIN", data + 1, size - 1);
		break;
	case 1:
		fuzz_mech("LOGIN", data + 1, size - 1);
		break;
	case 2:
		fuzz_mech("SCRAM-SHA-256", data + 1, size - 1);
		break;
	case 3: {
		struct buf b;
		char *copy = xmemdup(data + 1, size - 1);

		buf_init(&b);
		if (base64_decode(copy, size - 1, &b) == 0) {
			struct buf e;

			buf_init(&e);
			base64_encode((const uint8_t *)b.data, b.len, &e);
			/* Strict decoding: one encoding per byte string. */
			if (e.len != size - 1 || memcmp(e.data, copy, e.len) != 0)
				__builtin_trap();
			buf_deinit(&e);
		}
		buf_deinit(&b);
		free(copy);
		break;
	}
	case 4: {
		struct password_scram sc;
		char *str = xstrndup((const char *)data + 1, size - 1);
		const char *err;

		(void)password_scram_parse(str, &sc, &err);
		free(str);
		break;
	}
	}
	return 0;
}
