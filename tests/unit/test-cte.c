/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the Content-Transfer-Encoding decoder (mail/cte): base64
 * and quoted-printable tables, each fed whole, octet by octet and in
 * random pieces, which must all give the same octets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feed-split.h"
#include "lib/buf.h"
#include "mail/cte.h"

struct feed {
	struct cte_decoder d;
	struct buf out;
};

static size_t
feed_cb(const uint8_t *data, size_t len, void *ctx)
{
	struct feed *f = ctx;

	cte_decode(&f->d, data, len, &f->out);
	return len;
}

struct dcase {
	enum cte cte;
	const char *in;
	const char *out;
	size_t out_len;		/* 0: strlen(out) */
};

static const struct dcase cases[] = {
	{ CTE_BASE64, "SGVsbG8gd29ybGQh", "Hello world!", 0 },
	{ CTE_BASE64, "SGVs\r\nbG8g\r\nd29y bGQh\r\n", "Hello world!", 0 },
	{ CTE_BASE64, "SGVsbG8=", "Hello", 0 },
	{ CTE_BASE64, "SGVsbA==\r\nignored", "Hell", 0 },
	{ CTE_BASE64, "AAEC", "\0\1\2", 3 },
	{ CTE_BASE64, "SGV", "He", 0 },		/* unfinished quantum */
	{ CTE_BASE64, "!!SG**Vs#bG8", "Hello", 0 },
	{ CTE_QUOTED_PRINTABLE, "caf=C3=A9", "caf\xc3\xa9", 0 },
	{ CTE_QUOTED_PRINTABLE, "caf=c3=a9", "caf\xc3\xa9", 0 },
	{ CTE_QUOTED_PRINTABLE, "soft=\r\nbreak", "softbreak", 0 },
	{ CTE_QUOTED_PRINTABLE, "soft=\nbreak", "softbreak", 0 },
	{ CTE_QUOTED_PRINTABLE, "line\r\nnext", "line\r\nnext", 0 },
	{ CTE_QUOTED_PRINTABLE, "a=zz", "a=zz", 0 },
	{ CTE_QUOTED_PRINTABLE, "a=3z", "a=3z", 0 },
	{ CTE_QUOTED_PRINTABLE, "a=\rb", "a=\rb", 0 },
	{ CTE_QUOTED_PRINTABLE, "a==41", "a=A", 0 },
	{ CTE_QUOTED_PRINTABLE, "a=\r=41", "a=\rA", 0 },
	{ CTE_QUOTED_PRINTABLE, "end=", "end=", 0 },
	{ CTE_QUOTED_PRINTABLE, "end=4", "end=4", 0 },
	{ CTE_QUOTED_PRINTABLE, "end=\r", "end=\r", 0 },
	{ CTE_QUOTED_PRINTABLE, "nul=00x", "nul\0x", 5 },
	{ CTE_IDENTITY, "as =41 is", "as =41 is", 0 },
};

static void
test_tables(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *c = &cases[i];
		size_t want = c->out_len != 0 ? c->out_len : strlen(c->out);

		for (unsigned way = 0; way < 12; way++) {
			struct feed f;

			cte_decoder_init(&f.d, c->cte);
			buf_init(&f.out);
			feed_split(c->in, strlen(c->in), way, 3, feed_cb, &f);
			cte_decode_finish(&f.d, &f.out);
			if (f.out.len != want ||
			    memcmp(f.out.data, c->out, want) != 0)
				fail_msg("case %zu way %u: got \"%s\"", i, way,
					 f.out.data);
			buf_deinit(&f.out);
		}
	}
}

static void
test_names(void **state)
{
	assert_int_equal(cte_from_name(NULL), CTE_IDENTITY);
	assert_int_equal(cte_from_name("7bit"), CTE_IDENTITY);
	assert_int_equal(cte_from_name("8BIT"), CTE_IDENTITY);
	assert_int_equal(cte_from_name("binary"), CTE_IDENTITY);
	assert_int_equal(cte_from_name("base64"), CTE_BASE64);
	assert_int_equal(cte_from_name("Quoted-Printable"),
			 CTE_QUOTED_PRINTABLE);
	assert_int_equal(cte_from_name("x-uuencode"), CTE_UNKNOWN);
	assert_int_equal(cte_from_name(""), CTE_UNKNOWN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
