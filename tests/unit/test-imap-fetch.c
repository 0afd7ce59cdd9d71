/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for FETCH's item parser (imap-fetch): every data item of RFC
 * 9051, RFC 3501 and RFC 3516 and the macros, read from real command
 * lines through the command parser, and the requests that must be BAD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-fetch.h"
#include "imap/imap-parser.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* Parses "t FETCH 1 <items>" and plans what follows the set. */
static int
plan_of(const char *items, bool uid, struct imap_fetch_plan *plan,
	const char **error_r)
{
	char line[1024];
	struct imap_parser *p = imap_parser_new(NULL);
	size_t consumed = 0;
	const struct imap_command *cmd;
	int ret;

	snprintf(line, sizeof(line), "t FETCH 1 %s\r\n", items);
	if (imap_parser_feed(p, (const uint8_t *)line, strlen(line),
			     &consumed) != IMAP_PARSE_DONE) {
		/* the command parser refuses it already: BAD too */
		memset(plan, 0, sizeof(*plan));
		*error_r = imap_parser_error(p)->text;
		imap_parser_free(&p);
		return -1;
	}
	cmd = imap_parser_command(p);
	ret = imap_fetch_plan_parse(cmd->args + 1, cmd->n_args - 1, uid, plan,
				    error_r);
	imap_parser_free(&p);
	return ret;
}

struct want {
	enum imap_fetch_kind kind;
	const char *section;	/* NULL: none */
	const char *name;	/* NULL: none */
	bool seen;
	bool partial;
	uint64_t off, count;
};

static void
expect(const char *items, bool uid, const struct want *w, size_t n)
{
	struct imap_fetch_plan plan;
	const char *error = NULL;

	if (plan_of(items, uid, &plan, &error) < 0)
		fail_msg("%s: %s", items, error);
	if (plan.count != n)
		fail_msg("%s: %zu items, want %zu", items, plan.count, n);
	for (size_t i = 0; i < n; i++) {
		const struct imap_fetch_item *it = &plan.items[i];

		assert_int_equal(it->kind, w[i].kind);
		if (w[i].section == NULL)
			assert_null(it->section);
		else
			assert_string_equal(it->section, w[i].section);
		if (w[i].name == NULL)
			assert_null(it->name);
		else
			assert_string_equal(it->name, w[i].name);
		assert_int_equal(it->sets_seen, w[i].seen);
		assert_int_equal(it->partial, w[i].partial);
		assert_int_equal(it->partial_offset, w[i].off);
		assert_int_equal(it->partial_count, w[i].count);
	}
	imap_fetch_plan_deinit(&plan);
}

#define EXPECT(items, uid, ...) do { \
	const struct want w_[] = { __VA_ARGS__ }; \
	expect(items, uid, w_, sizeof(w_) / sizeof(w_[0])); \
} while (0)

static void
test_simple_items(void **state)
{
	EXPECT("FLAGS", false, { IMAP_FETCH_FLAGS });
	EXPECT("(flags internaldate rfc822.size envelope body bodystructure"
	       " uid)", false,
	       { IMAP_FETCH_FLAGS }, { IMAP_FETCH_INTERNALDATE },
	       { IMAP_FETCH_RFC822_SIZE }, { IMAP_FETCH_ENVELOPE },
	       { IMAP_FETCH_BODY }, { IMAP_FETCH_BODYSTRUCTURE },
	       { IMAP_FETCH_UID });
	/* twice is once */
	EXPECT("(FLAGS UID FLAGS)", false, { IMAP_FETCH_FLAGS },
	       { IMAP_FETCH_UID });
	/* UID FETCH: UID first, once */
	EXPECT("FLAGS", true, { IMAP_FETCH_UID }, { IMAP_FETCH_FLAGS });
	EXPECT("(FLAGS UID)", true, { IMAP_FETCH_UID }, { IMAP_FETCH_FLAGS });
}

static void
test_macros(void **state)
{
	EXPECT("FAST", false, { IMAP_FETCH_FLAGS }, { IMAP_FETCH_INTERNALDATE },
	       { IMAP_FETCH_RFC822_SIZE });
	EXPECT("all", false, { IMAP_FETCH_FLAGS }, { IMAP_FETCH_INTERNALDATE },
	       { IMAP_FETCH_RFC822_SIZE }, { IMAP_FETCH_ENVELOPE });
	EXPECT("FULL", true, { IMAP_FETCH_UID }, { IMAP_FETCH_FLAGS },
	       { IMAP_FETCH_INTERNALDATE }, { IMAP_FETCH_RFC822_SIZE },
	       { IMAP_FETCH_ENVELOPE }, { IMAP_FETCH_BODY });
}

static void
test_sections(void **state)
{
	EXPECT("BODY[]", false,
	       { IMAP_FETCH_SECTION, "", "BODY[]", true });
	EXPECT("BODY.PEEK[]", false,
	       { IMAP_FETCH_SECTION, "", "BODY[]", false });
	EXPECT("body.peek[header]", false,
	       { IMAP_FETCH_SECTION, "header", "BODY[HEADER]", false });
	EXPECT("BODY[TEXT]<10.20>", false,
	       { IMAP_FETCH_SECTION, "TEXT", "BODY[TEXT]", true, true, 10,
		 20 });
	EXPECT("BODY[2.1.TEXT]<10.20>", false,
	       { IMAP_FETCH_SECTION, "2.1.TEXT", "BODY[2.1.TEXT]", true, true,
		 10, 20 });
	EXPECT("BODY[1.2.mime]", false,
	       { IMAP_FETCH_SECTION, "1.2.mime", "BODY[1.2.MIME]", true });
	EXPECT("BODY[3]<0.18446744073709551615>", false,
	       { IMAP_FETCH_SECTION, "3", "BODY[3]", true, true, 0,
		 UINT64_MAX });
	EXPECT("BODY.PEEK[header.fields (from \"x-Y z\")]", false,
	       { IMAP_FETCH_SECTION, "header.fields (from \"x-Y z\")",
		 "BODY[HEADER.FIELDS (FROM \"x-Y z\")]", false });
	EXPECT("BODY[1.HEADER.FIELDS.NOT (Subject)]", false,
	       { IMAP_FETCH_SECTION, "1.HEADER.FIELDS.NOT (Subject)",
		 "BODY[1.HEADER.FIELDS.NOT (SUBJECT)]", true });
	EXPECT("(RFC822 RFC822.HEADER RFC822.TEXT)", false,
	       { IMAP_FETCH_SECTION, "", "RFC822", true },
	       { IMAP_FETCH_SECTION, "HEADER", "RFC822.HEADER", false },
	       { IMAP_FETCH_SECTION, "TEXT", "RFC822.TEXT", true });
}

static void
test_binary(void **state)
{
	EXPECT("BINARY[1]", false,
	       { IMAP_FETCH_BINARY, "1", "BINARY[1]", true });
	EXPECT("BINARY.PEEK[1.2]<0.5>", false,
	       { IMAP_FETCH_BINARY, "1.2", "BINARY[1.2]", false, true, 0, 5 });
	EXPECT("BINARY[]", false,
	       { IMAP_FETCH_BINARY, "", "BINARY[]", true });
	EXPECT("BINARY.SIZE[2]", false,
	       { IMAP_FETCH_BINARY_SIZE, "2", "BINARY.SIZE[2]", false });
}

static void
test_plan_summary(void **state)
{
	struct imap_fetch_plan plan;
	const char *error;

	assert_int_equal(plan_of("(UID FLAGS RFC822.SIZE)", false, &plan,
				 &error), 0);
	assert_false(plan.needs_structure);
	assert_false(plan.needs_octets);
	assert_false(plan.sets_seen);
	assert_true(plan.has_flags);
	assert_true(plan.has_uid);
	imap_fetch_plan_deinit(&plan);
	assert_int_equal(plan_of("(ENVELOPE BODY.PEEK[1])", false, &plan,
				 &error), 0);
	assert_true(plan.needs_structure);
	assert_true(plan.needs_octets);
	assert_false(plan.sets_seen);
	imap_fetch_plan_deinit(&plan);
	assert_int_equal(plan_of("BINARY[1]", false, &plan, &error), 0);
	assert_true(plan.sets_seen);
	imap_fetch_plan_deinit(&plan);
	assert_int_equal(plan_of("BODY[HEADER.FIELDS (A B)]", false, &plan,
				 &error), 0);
	assert_true(plan.items[0].has_fields);
	assert_false(plan.items[0].fields_not);
	assert_int_equal(plan.items[0].fields.count, 2);
	imap_fetch_plan_deinit(&plan);
}

static void
test_preview(void **state)
{
	struct imap_fetch_plan plan;
	const char *error = NULL;

	EXPECT("PREVIEW", false, { IMAP_FETCH_PREVIEW });
	EXPECT("preview (lazy)", false, { IMAP_FETCH_PREVIEW });
	EXPECT("(UID PREVIEW (LAZY) FLAGS)", false, { IMAP_FETCH_UID },
	       { IMAP_FETCH_PREVIEW }, { IMAP_FETCH_FLAGS });
	assert_int_equal(plan_of("(PREVIEW (LAZY LAZY))", false, &plan,
				 &error), 0);
	assert_true(plan.has_preview);
	assert_true(plan.preview_lazy);
	assert_false(plan.needs_structure);
	imap_fetch_plan_deinit(&plan);
	/* asked for with and without LAZY: made */
	assert_int_equal(plan_of("(PREVIEW (LAZY) PREVIEW)", false, &plan,
				 &error), 0);
	assert_int_equal(plan.count, 1);
	assert_false(plan.preview_lazy);
	imap_fetch_plan_deinit(&plan);
	(void)state;
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {
		"FOO", "(FLAGS FOO)", "()", "(ALL)", "(FLAGS (UID))",
		"\"FLAGS\"", "FLAGS (CHANGEDSINCE 1)", "MODSEQ (1)",
		"BODY[FOO]", "BODY[1.]", "BODY[0]", "BODY[01]", "BODY[1..2]",
		"BODY[.1]", "BODY[MIME]", "BODY[HEADER.FIELDS ()]",
		"BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS (A  B)]",
		"BODY[]<0.0>", "BODY[]<1>", "BODY[]<.1>", "BODY[]<1.>",
		"BODY[]<-1.2>", "BODY[]<1.2", "BODY[]<1.2>x", "BODY[]x",
		"BODY[]<18446744073709551616.1>", "BODY.PEEK", "BODY.PEEKX[]",
		"BINARY", "BINARY[HEADER]", "BINARY[1.MIME]", "BINARY[1.TEXT]",
		"BINARY.SIZE[1]<0.1>", "BINARY.SIZE", "BINARY[1]<0.0>",
		"RFC822.PEEK", "BODY[TEXT", "BODY[HEADER.FIELDS (\"a]\"",
		/* RFC 8970 7: LAZY is the only preview-mod */
		"PREVIEW ()", "PREVIEW (FOO)", "(PREVIEW (LAZY FOO))",
		"(PREVIEW ())", "PREVIEW[]", "(FLAGS (LAZY))",
		"PREVIEW (LAZY) (LAZY)",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_fetch_plan plan;
		const char *error = NULL;

		if (plan_of(bad[i], false, &plan, &error) != -1)
			fail_msg("%s was not refused", bad[i]);
		assert_non_null(error);
		assert_int_equal(plan.count, 0);
		assert_null(plan.items);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_items),
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_plan_summary),
		cmocka_unit_test(test_preview),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
