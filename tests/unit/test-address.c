/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for envelope address parsing (RFC 5321 Path / Mailbox),
 * formatting, comparison and sub-address splitting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/address.h"

struct path_case {
	const char *in;
	unsigned flags;
	enum address_error err;
	const char *local;	/* decoded */
	const char *domain;	/* NULL: none */
	const char *canon;	/* address_to_string() */
	size_t consumed;	/* 0: strlen(in) */
};

#define U ADDRESS_PARSE_UTF8
#define N ADDRESS_PARSE_NULL_PATH
#define P ADDRESS_PARSE_POSTMASTER

static const struct path_case path_cases[] = {
	{ "<user@example.com>", 0, ADDRESS_OK, "user", "example.com",
	  "user@example.com", 0 },
	{ "<User.Name+tag@Example.COM>", 0, ADDRESS_OK, "User.Name+tag",
	  "Example.COM", "User.Name+tag@Example.COM", 0 },
	{ "<a@b> SIZE=10", 0, ADDRESS_OK, "a", "b", "a@b", 5 },
	{ "<!#$%&'*+-/=?^_`{|}~@x.y>", 0, ADDRESS_OK,
	  "!#$%&'*+-/=?^_`{|}~", "x.y", "!#$%&'*+-/=?^_`{|}~@x.y", 0 },
	{ "<\"john doe\"@example.com>", 0, ADDRESS_OK, "john doe",
	  "example.com", "\"john doe\"@example.com", 0 },
	{ "<\"john\"@example.com>", 0, ADDRESS_OK, "john", "example.com",
	  "john@example.com", 0 },
	{ "<\"a\\\"b\\\\c\"@x>", 0, ADDRESS_OK, "a\"b\\c", "x",
	  "\"a\\\"b\\\\c\"@x", 0 },
	{ "<\"\"@x>", 0, ADDRESS_OK, "", "x", "\"\"@x", 0 },
	{ "<\"a..b\"@x>", 0, ADDRESS_OK, "a..b", "x", "\"a..b\"@x", 0 },
	{ "<\"a@b\"@x>", 0, ADDRESS_OK, "a@b", "x", "\"a@b\"@x", 0 },
	{ "<user@[192.0.2.1]>", 0, ADDRESS_OK, "user", "[192.0.2.1]",
	  "user@[192.0.2.1]", 0 },
	{ "<user@[IPv6:2001:db8::1]>", 0, ADDRESS_OK, "user",
	  "[IPv6:2001:db8::1]", "user@[IPv6:2001:db8::1]", 0 },
	{ "<user@[ipv6:::ffff:192.0.2.1]>", 0, ADDRESS_OK, "user",
	  "[ipv6:::ffff:192.0.2.1]", "user@[ipv6:::ffff:192.0.2.1]", 0 },
	{ "<@relay.example,@r2.example:user@example.com>", 0, ADDRESS_OK,
	  "user", "example.com", "user@example.com", 0 },
	{ "<>", N, ADDRESS_OK, "", NULL, "", 0 },
	{ "<> BODY=8BITMIME", N, ADDRESS_OK, "", NULL, "", 2 },
	{ "<postmaster>", P, ADDRESS_OK, "postmaster", NULL, "postmaster", 0 },
	{ "<PostMaster>", P, ADDRESS_OK, "PostMaster", NULL, "PostMaster", 0 },
	{ "<postmaster@example.com>", P, ADDRESS_OK, "postmaster",
	  "example.com", "postmaster@example.com", 0 },
	{ "<a-b.c-d@a-1.b2.c>", 0, ADDRESS_OK, "a-b.c-d", "a-1.b2.c",
	  "a-b.c-d@a-1.b2.c", 0 },
	{ "<j\xc3\xb6rg@d\xc3\xb6m.example>", U, ADDRESS_OK, "j\xc3\xb6rg",
	  "d\xc3\xb6m.example", "j\xc3\xb6rg@d\xc3\xb6m.example", 0 },
	{ "<\"j\xc3\xb6 rg\"@x>", U, ADDRESS_OK, "j\xc3\xb6 rg", "x",
	  "\"j\xc3\xb6 rg\"@x", 0 },
	/* errors */
	{ "<>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<postmaster>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "user@example.com", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@example.com", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<.user@x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user.@x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<us..er@x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<us er@x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@x..y>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@x.>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@.x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@-x.y>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@x-.y>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@x_y>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@[1.2.3]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@[1.2.3.256]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@[1.2.3.4444]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@[IPv6:2001:db8::g]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL,
	  NULL, 0 },
	{ "<user@[IPv6:1.2.3.4]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@[x-tag:foo]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@[1.2.3.4>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<\"unterminated@x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<\"a\tb\"@x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<\"a\\\tb\"@x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<@relay:>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<@relay,user@x>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<a@b>>", 0, ADDRESS_OK, "a", "b", "a@b", 5 },
	{ "<j\xc3\xb6rg@x>", 0, ADDRESS_ERR_UTF8, NULL, NULL, NULL, 0 },
	{ "<jorg@d\xc3\xb6m>", 0, ADDRESS_ERR_UTF8, NULL, NULL, NULL, 0 },
	{ "<j\xc3rg@x>", U, ADDRESS_ERR_BAD_UTF8, NULL, NULL, NULL, 0 },
	{ "<j\xed\xa0\x80rg@x>", U, ADDRESS_ERR_BAD_UTF8, NULL, NULL, NULL, 0 },
	{ "", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
	{ "<", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, NULL, 0 },
};

static void
test_path_table(void **state)
{
	struct address_limits limits;
	size_t i;

	address_limits_default(&limits);
	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *tc = &path_cases[i];
		struct address addr;
		enum address_error err = ADDRESS_OK;
		const char *error = NULL;
		size_t consumed = 99;
		int ret;

		ret = address_parse_path(tc->in, strlen(tc->in), &limits,
					 tc->flags, &addr, &consumed, &err,
					 &error);
		if (err != tc->err)
			fail_msg("case %zu <%s>: err %d want %d (%s)", i,
				 tc->in, err, tc->err, error);
		if (tc->err != ADDRESS_OK) {
			assert_int_equal(ret, -1);
			assert_non_null(error);
			assert_null(addr.local);
			continue;
		}
		char *canon = address_to_string(&addr);

		assert_int_equal(ret, 0);
		assert_string_equal(addr.local, tc->local);
		if (tc->domain == NULL) {
			assert_null(addr.domain);
			assert_null(addr.domain_lc);
		} else {
			assert_string_equal(addr.domain, tc->domain);
		}
		assert_string_equal(canon, tc->canon);
		assert_int_equal(consumed, tc->consumed == 0 ?
				 strlen(tc->in) : tc->consumed);
		free(canon);
		address_deinit(&addr);
	}
}

static void
test_path_lengths(void **state)
{
	struct address_limits limits;
	struct address addr;
	enum address_error err;
	const char *error;
	size_t consumed;
	char in[600];
	char local[80], label[70];
	int ret;

	address_limits_default(&limits);
	/* 64-octet local part OK, 65 too long */
	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(in, sizeof(in), "<%s@x.example>", local);
	ret = address_parse_path(in, strlen(in), &limits, 0, &addr, &consumed,
				 &err, &error);
	assert_int_equal(ret, 0);
	address_deinit(&addr);
	memset(local, 'a', 65);
	local[65] = '\0';
	snprintf(in, sizeof(in), "<%s@x.example>", local);
	ret = address_parse_path(in, strlen(in), &limits, 0, &addr, &consumed,
				 &err, &error);
	assert_int_equal(ret, -1);
	assert_int_equal(err, ADDRESS_ERR_LOCAL_TOO_LONG);
	/* quoted: the quotes count */
	memset(local, 'a', 63);
	local[63] = '\0';
	snprintf(in, sizeof(in), "<\"%s\"@x>", local);
	ret = address_parse_path(in, strlen(in), &limits, 0, &addr, &consumed,
				 &err, &error);
	assert_int_equal(err, ADDRESS_ERR_LOCAL_TOO_LONG);

	/* label of 63 OK, 64 too long */
	memset(label, 'b', 63);
	label[63] = '\0';
	snprintf(in, sizeof(in), "<u@%s.example>", label);
	ret = address_parse_path(in, strlen(in), &limits, 0, &addr, &consumed,
				 &err, &error);
	assert_int_equal(ret, 0);
	address_deinit(&addr);
	memset(label, 'b', 64);
	label[64] = '\0';
	snprintf(in, sizeof(in), "<u@%s.example>", label);
	ret = address_parse_path(in, strlen(in), &limits, 0, &addr, &consumed,
				 &err, &error);
	assert_int_equal(err, ADDRESS_ERR_DOMAIN_TOO_LONG);

	/* domain of 4 * 63 + 3 = 255 OK but path 1+1+1+255+1 = 259 > 256 */
	memset(label, 'c', 63);
	label[63] = '\0';
	snprintf(in, sizeof(in), "<u@%s.%s.%s.%s>", label, label, label,
		 label);
	ret = address_parse_path(in, strlen(in), &limits, 0, &addr, &consumed,
				 &err, &error);
	assert_int_equal(err, ADDRESS_ERR_PATH_TOO_LONG);
	limits.max_path_len = 300;
	ret = address_parse_path(in, strlen(in), &limits, 0, &addr, &consumed,
				 &err, &error);
	assert_int_equal(ret, 0);
	address_deinit(&addr);
	/* 256 domain: too long */
	snprintf(in, sizeof(in), "<u@%s.%s.%s.%s.a>", label, label, label,
		 label);
	ret = address_parse_path(in, strlen(in), &limits, 0, &addr, &consumed,
				 &err, &error);
	assert_int_equal(err, ADDRESS_ERR_DOMAIN_TOO_LONG);
	assert_string_equal(address_error_str(err), "domain too long");
}

static void
test_mailbox(void **state)
{
	struct address_limits limits;
	struct address addr, copy;
	enum address_error err;
	const char *error;

	address_limits_default(&limits);
	assert_int_equal(address_parse_mailbox("Alice@Example.ORG", 17, &limits,
					       0, &addr, &err, &error), 0);
	assert_string_equal(addr.local, "Alice");
	assert_string_equal(addr.domain, "Example.ORG");
	assert_string_equal(addr.domain_lc, "example.org");
	assert_false(addr.domain_is_literal);
	address_copy(&copy, &addr);
	assert_true(address_equal(&addr, &copy));
	address_deinit(&addr);
	assert_string_equal(copy.domain_lc, "example.org");
	address_deinit(&copy);

	assert_int_equal(address_parse_mailbox("a@b c", 5, &limits, 0, &addr,
					       &err, &error), -1);
	assert_int_equal(err, ADDRESS_ERR_SYNTAX);
	assert_int_equal(address_parse_mailbox("<a@b>", 5, &limits, 0, &addr,
					       &err, &error), -1);
	assert_int_equal(address_parse_mailbox("a@[10.0.0.1]", 12, &limits,
					       0, &addr, &err, &error), 0);
	assert_true(addr.domain_is_literal);
	address_deinit(&addr);
}

static void
test_compare(void **state)
{
	struct address a, b, n1, n2;

	address_set(&a, "Alice", "EXAMPLE.com");
	address_set(&b, "alice", "example.COM");
	assert_false(address_equal(&a, &b));
	assert_true(address_equal_icase(&a, &b));
	address_deinit(&b);
	address_set(&b, "Alice", "example.com");
	assert_true(address_equal(&a, &b));
	address_deinit(&b);
	address_set(&b, "Alice", "example.org");
	assert_false(address_equal_icase(&a, &b));
	address_deinit(&b);
	address_set(&b, "Alice", NULL);
	assert_false(address_equal(&a, &b));
	address_deinit(&b);
	/* non-ASCII compared octet for octet */
	address_set(&b, "\xc3\x89", "x");
	address_deinit(&a);
	address_set(&a, "\xc3\xa9", "x");
	assert_false(address_equal_icase(&a, &b));
	assert_true(a.has_utf8);
	address_init(&n1);
	address_init(&n2);
	n1.is_null = n2.is_null = true;
	assert_true(address_equal(&n1, &n2));
	assert_false(address_equal(&n1, &a));
	assert_true(address_domain_equal("ExAmple.com", "example.COM"));
	assert_false(address_domain_equal("example.com", "example.co"));
	assert_true(address_domain_equal(NULL, NULL));
	assert_false(address_domain_equal("x", NULL));
	address_deinit(&a);
	address_deinit(&b);
}

struct sub_case {
	const char *local;
	const char *seps;
	bool split;
	const char *base;
	const char *tag;
};

static const struct sub_case sub_cases[] = {
	{ "user+tag", NULL, true, "user", "tag" },
	{ "user+tag+more", NULL, true, "user", "tag+more" },
	{ "user+", NULL, true, "user", "" },
	{ "+tag", NULL, false, "+tag", NULL },
	{ "user", NULL, false, "user", NULL },
	{ "user-tag", "-", true, "user", "tag" },
	{ "user-tag+x", "+-", true, "user", "tag+x" },
	{ "user+tag", "", false, "user+tag", NULL },
};

static void
test_subaddress(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(sub_cases) / sizeof(sub_cases[0]); i++) {
		const struct sub_case *tc = &sub_cases[i];
		char *base, *tag;

		assert_int_equal(address_split_subaddress(tc->local, tc->seps,
							  &base, &tag),
				 tc->split);
		assert_string_equal(base, tc->base);
		if (tc->tag == NULL)
			assert_null(tag);
		else
			assert_string_equal(tag, tc->tag);
		free(base);
		free(tag);
	}
}

static void
test_quoting(void **state)
{
	assert_false(address_local_needs_quoting("a.b"));
	assert_false(address_local_needs_quoting("a+b=c"));
	assert_true(address_local_needs_quoting(""));
	assert_true(address_local_needs_quoting("a b"));
	assert_true(address_local_needs_quoting(".a"));
	assert_true(address_local_needs_quoting("a."));
	assert_true(address_local_needs_quoting("a..b"));
	assert_true(address_local_needs_quoting("a@b"));
	assert_true(address_local_needs_quoting("a\"b"));
	assert_false(address_local_needs_quoting("\xc3\xa9t\xc3\xa9"));
}

/* Canonical form parses back to the same address. */
static void
test_roundtrip(void **state)
{
	static const char *const locals[] = {
		"plain", "with space", "\"quoted\"", "back\\slash", "a..b",
		".lead", "trail.", "", "x@y", "(comment)",
	};
	struct address_limits limits;
	size_t i;

	address_limits_default(&limits);
	for (i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
		struct address a, b;
		enum address_error err;
		const char *error;
		char *s;

		address_set(&a, locals[i], "example.com");
		s = address_to_string(&a);
		assert_int_equal(address_parse_mailbox(s, strlen(s), &limits,
						       0, &b, &err, &error),
				 0);
		assert_true(address_equal(&a, &b));
		free(s);
		address_deinit(&a);
		address_deinit(&b);
	}
}

static void
test_domain_is_valid(void **state)
{
	static const struct {
		const char *d;
		bool ascii, utf8;
	} cases[] = {
		{ "example.test", true, true },
		{ "mail.example-1.test", true, true },
		{ "a", true, true },
		{ "", false, false },
		{ ".example.test", false, false },
		{ "example.test.", false, false },
		{ "a..b", false, false },
		{ "-a.test", false, false },
		{ "a-.test", false, false },
		{ "a b.test", false, false },
		{ "a_b.test", false, false },
		{ "[192.0.2.1]", false, false },
		{ "user@example.test", false, false },
		{ "b\xc3\xbc" "cher.test", false, true },	/* valid UTF-8 */
		{ "b\xc3.test", false, false },		/* truncated UTF-8 */
	};
	char label64[80], long_name[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (address_domain_is_valid(cases[i].d, false) != cases[i].ascii ||
		    address_domain_is_valid(cases[i].d, true) != cases[i].utf8)
			fail_msg("case %zu: '%s'", i, cases[i].d);
	}
	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".test", 6);
	assert_false(address_domain_is_valid(label64, false));
	assert_true(address_domain_is_valid(label64 + 1, false));
	for (size_t i = 0; i < 128; i++)
		memcpy(long_name + i * 2, "a.", 2);
	memcpy(long_name + 256, "a", 2);	/* 257 octets */
	assert_false(address_domain_is_valid(long_name, false));
	assert_true(address_domain_is_valid(long_name + 2, false)); /* 255 */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_path_lengths),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_subaddress),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_domain_is_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
