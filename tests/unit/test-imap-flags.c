/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for imap-flags: flag lists of STORE and APPEND (system flags
 * in any case, keywords deduplicated case-insensitively, what is refused),
 * the view's keyword list, and uid-sets for COPYUID and APPENDUID.
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

static struct imap_arg
atom(const char *s)
{
	return (struct imap_arg){ .type = IMAP_ARG_ATOM, .str = s,
				  .len = strlen(s) };
}

static void
test_flag_args(void **state)
{
	struct imap_arg args[] = { atom("\\SEEN"), atom("\\deleted"),
				   atom("Work"), atom("$Label1"),
				   atom("WORK"), atom("\\Draft") };
	struct imap_flag_args f;
	const char *error = NULL;

	(void)state;
	assert_int_equal(imap_flag_args_parse(args, 6, false, &f, &error), 0);
	assert_int_equal(f.flags, STORE_FLAG_SEEN | STORE_FLAG_DELETED |
			 STORE_FLAG_DRAFT);
	assert_int_equal(f.n_keywords, 2);
	assert_string_equal(f.keywords[0], "Work");
	assert_string_equal(f.keywords[1], "$Label1");
	imap_flag_args_deinit(&f);
	assert_int_equal(imap_flag_args_parse(args, 0, false, &f, &error), 0);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.n_keywords, 0);
}

static void
test_flag_args_refused(void **state)
{
	static const char *const bad[] = { "\\Recent", "\\*", "\\Bogus",
					   "\\", "a]", "a%", "a*" };
	struct imap_flag_args f;
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_arg a = atom(bad[i]);

		error = NULL;
		if (imap_flag_args_parse(&a, 1, false, &f, &error) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(error);
		assert_null(f.keywords);
	}
	/* a string or a list is no flag */
	{
		struct imap_arg a = { .type = IMAP_ARG_STRING, .str = "x",
				      .len = 1 };

		assert_int_equal(imap_flag_args_parse(&a, 1, false, &f,
						      &error), -1);
	}
	/* APPEND lets \Recent through (and drops it) */
	{
		struct imap_arg a[] = { atom("\\Recent"), atom("\\Seen") };

		assert_int_equal(imap_flag_args_parse(a, 2, true, &f, &error),
				 0);
		assert_int_equal(f.flags, STORE_FLAG_SEEN);
		imap_flag_args_deinit(&f);
	}
}

static void
test_view_keywords(void **state)
{
	struct imap_mailbox *box = xcalloc(1, sizeof(*box));
	struct imap_msg msg = { 0 };
	const char *names[] = { "Zeta", "alpha", "zeta" };
	const char *known[] = { "ZETA", "new1", "NEW1" };
	bool added = false;

	(void)state;
	imap_msg_set_keywords(box, &msg, names, 2, &added);
	assert_true(added);
	assert_int_equal(box->n_keywords, 2);
	assert_int_equal(msg.n_keywords, 2);
	assert_int_equal(msg.keywords[0], 0);
	assert_int_equal(msg.keywords[1], 1);
	assert_int_equal(imap_mailbox_keyword_index(box, "ALPHA"), 1);
	assert_int_equal(imap_mailbox_keyword_index(box, "beta"), -1);
	/* known in any case: nothing added */
	added = false;
	imap_msg_set_keywords(box, &msg, names + 2, 1, &added);
	assert_false(added);
	assert_int_equal(msg.n_keywords, 1);
	assert_int_equal(msg.keywords[0], 0);
	/* "new1" twice over counts once */
	assert_int_equal(imap_mailbox_keywords_new(box, known, 2), 1);
	imap_msg_set_keywords(box, &msg, NULL, 0, &added);
	assert_null(msg.keywords);
	assert_int_equal(msg.n_keywords, 0);
	imap_mailbox_free(&box);
}

static void
test_uid_set(void **state)
{
	static const struct {
		uint32_t uids[8];
		size_t n;
		const char *want;
	} cases[] = {
		{ { 7 }, 1, "7" },
		{ { 1, 2, 3 }, 3, "1:3" },
		{ { 1, 2, 5 }, 3, "1:2,5" },
		{ { 1, 3, 5, 6, 7, 9 }, 6, "1,3,5:7,9" },
		{ { 4294967294u, 4294967295u }, 2, "4294967294:4294967295" },
		{ { 0 }, 0, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;

		buf_init(&b);
		imap_write_uid_set(&b, cases[i].uids, cases[i].n);
		assert_string_equal(b.len > 0 ? b.data : "", cases[i].want);
		buf_deinit(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flag_args),
		cmocka_unit_test(test_flag_args_refused),
		cmocka_unit_test(test_view_keywords),
		cmocka_unit_test(test_uid_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
