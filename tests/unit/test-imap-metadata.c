/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for METADATA's argument readers (imap-metadata): entry-name
 * syntax of RFC 5464 3.2, GETMETADATA's options and entries and
 * SETMETADATA's pairs, read from real command lines through the command
 * parser, and what must be BAD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-metadata.h"
#include "imap/imap-parser.h"

static struct imap_parser *parser;

/* The arguments of "t CMD <args>" (len octets, NUL allowed). */
static const struct imap_command *
command(const char *args, size_t len)
{
	char line[2048];
	size_t n, consumed = 0;

	n = (size_t)snprintf(line, sizeof(line), "t X ");
	assert_true(n + len + 2 < sizeof(line));
	memcpy(line + n, args, len);
	memcpy(line + n + len, "\r\n", 2);
	imap_parser_free(&parser);
	parser = imap_parser_new(NULL);
	assert_int_equal(imap_parser_feed(parser, (const uint8_t *)line,
					  n + len + 2, &consumed),
			 IMAP_PARSE_DONE);
	return imap_parser_command(parser);
}

static int
teardown(void **state)
{
	(void)state;
	imap_parser_free(&parser);
	return 0;
}

static void
entry_ok(const char *in, bool root_ok, const char *want)
{
	const char *error = NULL;
	char *name;

	assert_int_equal(imap_metadata_entry_parse(in, strlen(in), root_ok,
						   &name, &error), 0);
	assert_string_equal(name, want);
	free(name);
}

static void
entry_bad(const char *in, size_t len, bool root_ok)
{
	const char *error = NULL;
	char *name = (char *)"x";

	assert_int_equal(imap_metadata_entry_parse(in, len, root_ok, &name,
						   &error), -1);
	assert_null(name);
	assert_non_null(error);
}

static void
test_entry_names(void **state)
{
	static const char *const bad[] = {
		"", "/", "//", "/private/", "/private//a", "/private/a/",
		"/private/a//b", "/private/a*", "/private/%", "/foo/a",
		"private/a", "/privatex", "/privatex/a", "/sharedx/a",
		"/shared/a b\x7f", "/shared/\x1f", "/shared/\x80",
		"/shared/\xc3\xa9", "/shared/a\t",
	};

	(void)state;
	entry_ok("/private/comment", false, "/private/comment");
	entry_ok("/Shared/Vendor/X.Y/a-b_c", false, "/shared/vendor/x.y/a-b_c");
	entry_ok("/PRIVATE/a b ( ) \" \\ ] ~", false,
		 "/private/a b ( ) \" \\ ] ~");
	entry_ok("/shared", true, "/shared");
	entry_ok("/private", true, "/private");
	entry_bad("/shared", 7, false);
	entry_bad("/private", 8, false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		entry_bad(bad[i], strlen(bad[i]), true);
	/* a NUL inside (only a literal8 could carry one) */
	entry_bad("/shared/a\0b", 11, true);
}

#define GET1 "INBOX /private/Comment"
#define GET2 "(MAXSIZE 1024 depth Infinity) \"\" (/shared /private/a)"
#define GET3 "Work (DEPTH 1) {9+}\r\n/shared/x"

static void
test_get(void **state)
{
	const struct imap_command *cmd;
	struct imap_metadata_get g;
	const char *error;

	(void)state;
	cmd = command(GET1, strlen(GET1));
	assert_int_equal(imap_metadata_get_parse(cmd->args, cmd->n_args, &g,
						 &error), 0);
	assert_string_equal(g.mailbox->str, "INBOX");
	assert_int_equal(g.n_entries, 1);
	assert_string_equal(g.entries[0], "/private/comment");
	assert_true(g.maxsize == UINT64_MAX);
	assert_int_equal(g.depth, 0);
	imap_metadata_get_deinit(&g);

	cmd = command(GET2, strlen(GET2));
	assert_int_equal(imap_metadata_get_parse(cmd->args, cmd->n_args, &g,
						 &error), 0);
	assert_int_equal(g.mailbox->len, 0);
	assert_int_equal(g.n_entries, 2);
	assert_string_equal(g.entries[0], "/shared");
	assert_string_equal(g.entries[1], "/private/a");
	assert_true(g.maxsize == 1024);
	assert_true(g.depth == IMAP_METADATA_DEPTH_INFINITY);
	imap_metadata_get_deinit(&g);

	/* options after the mailbox, as in RFC 5464's examples */
	cmd = command(GET3, strlen(GET3));
	assert_int_equal(imap_metadata_get_parse(cmd->args, cmd->n_args, &g,
						 &error), 0);
	assert_string_equal(g.mailbox->str, "Work");
	assert_int_equal(g.depth, 1);
	assert_string_equal(g.entries[0], "/shared/x");
	imap_metadata_get_deinit(&g);
}

static void
test_get_bad(void **state)
{
	static const char *const bad[] = {
		"INBOX", "INBOX ()", "INBOX (/private/a*)",
		"INBOX (/shared/a /private//b)", "(DEPTH 2) INBOX /shared",
		"(DEPTH) INBOX /shared", "(MAXSIZE -1) INBOX /shared/a",
		"(MAXSIZE 1 MAXSIZE 2) INBOX /shared/a",
		"(DEPTH 0 DEPTH 1) INBOX /shared/a", "(FOO) INBOX /shared/a",
		"() INBOX /shared/a", "(DEPTH 1) (DEPTH 1) /shared/a",
		"INBOX /shared/a /shared/b", "NIL /shared/a",
		"(INBOX) /shared/a", "INBOX NIL", "INBOX (NIL)",
		"INBOX ((/shared/a))", "a b c d", "INBOX ~{9+}\r\n/shared/a",
	};
	struct imap_metadata_get g;
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct imap_command *cmd = command(bad[i],
							 strlen(bad[i]));

		error = NULL;
		assert_int_equal(imap_metadata_get_parse(cmd->args,
							 cmd->n_args, &g,
							 &error), -1);
		assert_non_null(error);
		assert_null(g.entries);
		assert_int_equal(g.n_entries, 0);
	}
}

static void
test_set(void **state)
{
	static const char args[] = "INBOX (/private/A \"x\" /shared/b NIL"
		" /shared/c ~{3+}\r\na\0b /shared/d {0+}\r\n)";
	const struct imap_command *cmd;
	struct imap_metadata_set st;
	const char *error;

	(void)state;
	cmd = command(args, sizeof(args) - 1);
	assert_int_equal(imap_metadata_set_parse(cmd->args, cmd->n_args, &st,
						 &error), 0);
	assert_int_equal(st.n_pairs, 4);
	assert_string_equal(st.pairs[0].name, "/private/a");
	assert_int_equal(st.pairs[0].len, 1);
	assert_memory_equal(st.pairs[0].value, "x", 1);
	assert_string_equal(st.pairs[1].name, "/shared/b");
	assert_null(st.pairs[1].value);
	assert_int_equal(st.pairs[2].len, 3);
	assert_memory_equal(st.pairs[2].value, "a\0b", 3);
	assert_non_null(st.pairs[3].value);
	assert_int_equal(st.pairs[3].len, 0);
	imap_metadata_set_deinit(&st);
}

static void
test_set_bad(void **state)
{
	static const char *const bad[] = {
		"INBOX", "INBOX ()", "INBOX (/private/a)",
		"INBOX (/private/a \"x\" /private/b)", "INBOX /private/a x",
		"INBOX (/private/a x)", "INBOX (/private/a (x))",
		"(INBOX) (/private/a NIL)", "NIL (/private/a NIL)",
		"INBOX (/private NIL)", "INBOX (/shared \"x\")",
		"INBOX (/private/a* NIL)", "INBOX (NIL NIL)",
		"INBOX (/private/ok NIL /private/bad/ NIL)",
		"INBOX (/private/a NIL) extra",
	};
	struct imap_metadata_set st;
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct imap_command *cmd = command(bad[i],
							 strlen(bad[i]));

		error = NULL;
		assert_int_equal(imap_metadata_set_parse(cmd->args,
							 cmd->n_args, &st,
							 &error), -1);
		assert_non_null(error);
		assert_null(st.pairs);
		assert_int_equal(st.n_pairs, 0);
	}
}

/* RFC 5464 3.3 with ACL: "l" and one of r s w i p; Herald asks "w"
 * too for a "/shared" entry; without "l" nothing tells the mailbox is
 * there. */
static void
test_acl(void **state)
{
	static const struct {
		const char *rights;
		bool set_shared;
		enum imap_acl_verdict want;
	} cases[] = {
		{ "lr", false, IMAP_ACL_OK },
		{ "ls", false, IMAP_ACL_OK },
		{ "lw", false, IMAP_ACL_OK },
		{ "li", false, IMAP_ACL_OK },
		{ "lp", false, IMAP_ACL_OK },
		{ "l", false, IMAP_ACL_DENIED },
		{ "lkxtea", false, IMAP_ACL_DENIED },
		{ "r", false, IMAP_ACL_NONEXISTENT },
		{ "rswip", false, IMAP_ACL_NONEXISTENT },
		{ "lr", true, IMAP_ACL_DENIED },
		{ "lw", true, IMAP_ACL_OK },
		{ "l", true, IMAP_ACL_DENIED },
		{ "rw", true, IMAP_ACL_NONEXISTENT },
		{ "lrswipkxtea", true, IMAP_ACL_OK },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned rights;
		const char *error;

		assert_int_equal(store_acl_rights_parse(
					 cases[i].rights,
					 strlen(cases[i].rights), &rights,
					 &error), 0);
		if (imap_metadata_acl(true, rights, cases[i].set_shared) !=
		    cases[i].want)
			fail_msg("%s%s", cases[i].rights,
				 cases[i].set_shared ? " shared" : "");
	}
	assert_int_equal(imap_metadata_acl(false, STORE_ACL_ALL, false),
			 IMAP_ACL_NONEXISTENT);
	assert_int_equal(imap_metadata_acl(true, STORE_ACL_ALL, true),
			 IMAP_ACL_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_entry_names, teardown),
		cmocka_unit_test_teardown(test_get, teardown),
		cmocka_unit_test_teardown(test_get_bad, teardown),
		cmocka_unit_test_teardown(test_set, teardown),
		cmocka_unit_test_teardown(test_set_bad, teardown),
		cmocka_unit_test(test_acl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
