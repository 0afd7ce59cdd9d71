/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for imap-vanished: a client's UID set as sorted, merged
 * ranges, and RFC 7162 3.2.5.2's fallback set (every UID of the ranges
 * below UIDNEXT that the view does not hold), table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-private.h"
#include "lib/buf.h"
#include "lib/mem.h"

static void
test_uid_pairs(void **state)
{
	static const struct {
		const char *set;
		const char *pairs;
	} cases[] = {
		{ "1:10", "1-10" },
		{ "7,3:4,5", "3-5,7-7" },
		{ "9:2", "2-9" },
		{ "20:*,1,2,25", "1-2,20-4294967295" },
		{ "5,5,5:6", "5-6" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_seqset set;
		const char *error = NULL;
		uint32_t *pairs = NULL;
		struct buf b;
		size_t n;

		assert_int_equal(imap_seqset_parse(cases[i].set,
						   strlen(cases[i].set),
						   IMAP_SEQSET_RANGES_DEFAULT,
						   &set, &error), 0);
		n = imap_uid_pairs(&set, &pairs);
		buf_init(&b);
		for (size_t k = 0; k < n; k++)
			buf_printf(&b, "%s%u-%u", k > 0 ? "," : "",
				   pairs[2 * k], pairs[2 * k + 1]);
		assert_string_equal(b.data, cases[i].pairs);
		buf_deinit(&b);
		free(pairs);
		imap_seqset_deinit(&set);
	}
}

/* A view of UIDs 2 3 5 8 9 with UIDNEXT 12. */
static void
test_uid_gaps(void **state)
{
	static const uint32_t view[] = { 2, 3, 5, 8, 9 };
	static const struct {
		uint32_t pairs[6];
		size_t n;	/* 0: every UID */
		const char *want;	/* NULL: nothing */
	} cases[] = {
		{ { 0 }, 0, "1,4,6:7,10:11" },
		{ { 1, 20 }, 1, "1,4,6:7,10:11" },
		{ { 3, 7 }, 1, "4,6:7" },
		{ { 2, 3, 8, 9 }, 2, NULL },
		{ { 5, 5, 11, UINT32_MAX }, 2, "11" },
		{ { 12, UINT32_MAX }, 1, NULL },
		{ { 1, 1, 4, 4, 6, 6 }, 3, "1,4,6" },
	};
	struct imap_mailbox box;
	struct imap_msg msgs[5];

	(void)state;
	memset(&box, 0, sizeof(box));
	memset(msgs, 0, sizeof(msgs));
	for (size_t i = 0; i < 5; i++)
		msgs[i].uid = view[i];
	box.msgs = msgs;
	box.count = 5;
	box.uidnext = 12;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		bool any;

		buf_init(&b);
		any = imap_write_uid_gaps(&b, cases[i].n > 0 ? cases[i].pairs :
					  NULL, cases[i].n, &box);
		if (cases[i].want == NULL) {
			assert_false(any);
			assert_int_equal(b.len, 0);
		} else {
			assert_true(any);
			assert_string_equal(b.data, cases[i].want);
		}
		buf_deinit(&b);
	}
	/* an empty mailbox that never had a message: nothing */
	box.count = 0;
	box.uidnext = 1;
	{
		struct buf b;

		buf_init(&b);
		assert_false(imap_write_uid_gaps(&b, NULL, 0, &box));
		buf_deinit(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uid_pairs),
		cmocka_unit_test(test_uid_gaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
