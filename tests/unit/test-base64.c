/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/base64: the RFC 4648 section 10 vectors both ways,
 * and the malformed inputs the strict decoder must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/base64.h"
#include "lib/buf.h"

static const struct {
	const char *plain;
	const char *enc;
} vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_rfc4648_vectors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct buf b;
		char small[16];

		buf_init(&b);
		base64_encode((const uint8_t *)vectors[i].plain,
			      strlen(vectors[i].plain), &b);
		assert_string_equal(b.data, vectors[i].enc);
		assert_int_equal(b.len, base64_encoded_len(strlen(vectors[i].plain)));
		buf_reset(&b);
		assert_int_equal(base64_decode(vectors[i].enc,
					       strlen(vectors[i].enc), &b), 0);
		assert_int_equal(b.len, strlen(vectors[i].plain));
		assert_memory_equal(b.data, vectors[i].plain, b.len);
		buf_deinit(&b);

		assert_int_equal(base64_encode_to((const uint8_t *)vectors[i].plain,
						  strlen(vectors[i].plain),
						  small, sizeof(small)),
				 strlen(vectors[i].enc));
		assert_string_equal(small, vectors[i].enc);
	}
}

static void
test_binary_round_trip(void **state)
{
	uint8_t in[256], out[256];
	size_t n, len;
	struct buf b;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (uint8_t)(255 - n);
	for (n = 0; n <= sizeof(in); n++) {
		buf_init(&b);
		base64_encode(in, n, &b);
		assert_true(base64_is_valid(b.data, b.len));
		assert_int_equal(base64_decode_to(b.data, b.len, out,
						  sizeof(out), &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(in, out, n);
		buf_deinit(&b);
	}
}

static void
test_bad_input(void **state)
{
	static const char *const bad[] = {
		"Z", "Zg", "Zg=", "Zm9", "Zg=a", "Z===", "====", "Zm9v=",
		"Zm 9v", "Zm9v\n", "Zm9-", "Zm9_", "Zh==", /* pad bits set */
		"Zm9=", /* pad bits set (0b01 in last sextet) */
		"Zg==Zg==", "=Zg=",
		/* a bad octet in each place of a quad before the last */
		"-m9vZm9v", "Z-9vZm9v", "Zm-vZm9v", "Zm9-Zm9v", "Z=9vZm9v",
		"Zm=vZm9v", "Zm9=Zm9v", "Zm9\xffZm9v", "Zm9vZm9v\x80m9vZm9v",
		"Zm\0v",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf b;
		size_t len = i == sizeof(bad) / sizeof(bad[0]) - 1 ?
				     4 : strlen(bad[i]);

		buf_init(&b);
		buf_puts(&b, "keep");
		assert_false(base64_is_valid(bad[i], len));
		assert_int_equal(base64_decode(bad[i], len, &b), -1);
		assert_string_equal(b.data, "keep");
		buf_deinit(&b);
	}
}

static void
test_small_buffers(void **state)
{
	uint8_t out[2];
	char enc[16];
	size_t len;

	assert_int_equal(base64_decode_to("Zm9v", 4, out, sizeof(out), &len), -1);
	assert_int_equal(base64_decode_to("Zm8=", 4, out, sizeof(out), &len), 0);
	assert_int_equal(len, 2);
	assert_int_equal(base64_encode_to((const uint8_t *)"foobar", 6, enc, 8), (size_t)-1);
	assert_string_equal(enc, "");
	assert_int_equal(base64_encode_to((const uint8_t *)"fooba", 5, enc, 9), 8);
}

/* The decoder's table says of every octet what base64_digit_value()
 * says: the same octets accepted, at the same value, in each of the four
 * positions of a quantum. */
static void
test_every_octet(void **state)
{
	for (int c = 0; c < 256; c++) {
		int want = base64_digit_value((unsigned char)c, '/');

		for (int pos = 0; pos < 4; pos++) {
			char in[4] = { 'A', 'A', 'A', 'A' };
			uint8_t out[3];
			size_t len;
			uint32_t w;

			in[pos] = (char)c;
			if (c == '=' && pos >= 2)
				continue;	/* padding: its own rules */
			if (want < 0) {
				assert_int_equal(base64_decode_to(in, 4, out,
								  sizeof(out),
								  &len), -1);
				continue;
			}
			assert_int_equal(base64_decode_to(in, 4, out,
							  sizeof(out), &len),
					 0);
			assert_int_equal(len, 3);
			w = (uint32_t)out[0] << 16 | (uint32_t)out[1] << 8 |
			    out[2];
			assert_int_equal(w, (uint32_t)want << (6 * (3 - pos)));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_binary_round_trip),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_small_buffers),
		cmocka_unit_test(test_every_octet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
