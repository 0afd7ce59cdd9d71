/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for RFC 5322 address-list extraction: the examples of RFC
 * 5322 appendix A, obsolete forms, groups, comments and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "mail/header-address.h"

struct ha_case {
	const char *in;
	bool no_domain;			/* allow_no_domain */
	enum header_address_error err;
	const char *out;		/* addresses joined with " | " */
};

static const struct ha_case cases[] = {
	/* RFC 5322 A.1.1 */
	{ "John Doe <jdoe@machine.example>", false, HEADER_ADDRESS_OK,
	  "jdoe@machine.example" },
	{ "Mary Smith <mary@example.net>", false, HEADER_ADDRESS_OK,
	  "mary@example.net" },
	/* A.1.2 */
	{ "\"Joe Q. Public\" <john.q.public@example.com>", false,
	  HEADER_ADDRESS_OK, "john.q.public@example.com" },
	{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	  false, HEADER_ADDRESS_OK,
	  "mary@x.test | jdoe@example.org | one@y.test" },
	{ "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	  false, HEADER_ADDRESS_OK, "boss@nil.test | sysservices@example.net" },
	/* A.1.3 groups */
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	  false, HEADER_ADDRESS_OK, "c@a.test | joe@where.test | jdoe@one.test" },
	{ "Undisclosed recipients:;", false, HEADER_ADDRESS_OK, "" },
	/* A.5 white space, comments, and other oddities */
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	  false, HEADER_ADDRESS_OK, "pete@silly.test" },
	{ "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
	  "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); "
	  "(the end of the group)", false, HEADER_ADDRESS_OK,
	  "c@public.example | joe@example.org | jdoe@one.test" },
	{ "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
	  false, HEADER_ADDRESS_OK, "" },
	/* A.6.1, A.6.3 obsolete forms */
	{ "Joe Q. Public <john.q.public@example.com>", false, HEADER_ADDRESS_OK,
	  "john.q.public@example.com" },
	{ "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
	  false, HEADER_ADDRESS_OK, "mary@example.net | jdoe@test.example" },
	{ "<@a.test,@b.test:x@c.test>", false, HEADER_ADDRESS_OK, "x@c.test" },
	{ "John Doe <jdoe@machine(comment).  example>", false,
	  HEADER_ADDRESS_OK, "jdoe@machine.example" },
	{ "john . doe @ example . org", false, HEADER_ADDRESS_OK,
	  "john.doe@example.org" },
	/* quoting of local parts */
	{ "\"john\"@example.org", false, HEADER_ADDRESS_OK, "john@example.org" },
	{ "\"john doe\"@example.org", false, HEADER_ADDRESS_OK,
	  "\"john doe\"@example.org" },
	{ "\"a\\\"b\"@x.test", false, HEADER_ADDRESS_OK, "\"a\\\"b\"@x.test" },
	{ "\"a,b\" <\"a,b\"@x.test>", false, HEADER_ADDRESS_OK,
	  "\"a,b\"@x.test" },
	/* domain literals, UTF-8, case */
	{ "u@[192.0.2.1]", false, HEADER_ADDRESS_OK, "u@[192.0.2.1]" },
	{ "u@[ IPv6:2001:db8::1 ]", false, HEADER_ADDRESS_OK,
	  "u@[IPv6:2001:db8::1]" },
	{ "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc\x63her.example>", false,
	  HEADER_ADDRESS_OK, "j\xc3\xb6rg@b\xc3\xbc\x63her.example" },
	{ "Bob <Bob@Example.ORG>", false, HEADER_ADDRESS_OK, "Bob@Example.ORG" },
	{ "=?utf-8?q?J=C3=B6rg?= <j@x.test>", false, HEADER_ADDRESS_OK,
	  "j@x.test" },
	/* empty things */
	{ "", false, HEADER_ADDRESS_OK, "" },
	{ "  \r\n\t ", false, HEADER_ADDRESS_OK, "" },
	{ ",,,", false, HEADER_ADDRESS_OK, "" },
	{ "<>", false, HEADER_ADDRESS_OK, "" },
	{ "a@b.test,", false, HEADER_ADDRESS_OK, "a@b.test" },
	/* groups followed by more */
	{ "g1: a@x.test;, b@y.test", false, HEADER_ADDRESS_OK,
	  "a@x.test | b@y.test" },
	{ "g1: a@x.test; g2: b@y.test;", false, HEADER_ADDRESS_OK,
	  "a@x.test | b@y.test" },
	{ "g1: a@x.test, b@y.test", false, HEADER_ADDRESS_OK,
	  "a@x.test | b@y.test" },
	/* bare local parts */
	{ "root", true, HEADER_ADDRESS_OK, "root" },
	{ "root, bob@x.test, <alice>", true, HEADER_ADDRESS_OK,
	  "root | bob@x.test | alice" },
	{ "root", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	/* errors */
	{ "John Doe", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@b.test c@d.test", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "<a@b.test", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@b.test>", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "\"unterminated@x.test", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@x.test (unterminated (comment)", false, HEADER_ADDRESS_ERR_SYNTAX,
	  NULL },
	{ "a@x.test)", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "@x.test", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@x.", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a..b@x.test", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ ".a@x.test", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@\"x\".test", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@[x[y]", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@[x", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "g: h: a@x.test;;", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a@x.test;", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "a\x01@x.test", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
	{ "<@route>", false, HEADER_ADDRESS_ERR_SYNTAX, NULL },
};

static void
join(char **addrs, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_puts(out, " | ");
		buf_puts(out, addrs[i]);
	}
}

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ha_case *c = &cases[i];
		struct header_address_limits lim;
		enum header_address_error err;
		const char *error = NULL;
		char **addrs = (char **)1;
		size_t n = 99;
		int ret;

		header_address_limits_default(&lim);
		lim.allow_no_domain = c->no_domain;
		ret = header_address_list_parse(c->in, strlen(c->in), &lim,
						&addrs, &n, &err, &error);
		if (err != c->err)
			fail_msg("case %zu '%s': err %d, want %d (%s)", i,
				 c->in, err, c->err, error ? error : "");
		if (c->err != HEADER_ADDRESS_OK) {
			assert_int_equal(ret, -1);
			assert_null(addrs);
			assert_non_null(error);
			continue;
		}
		assert_int_equal(ret, 0);
		struct buf got;

		buf_init(&got);
		join(addrs, n, &got);
		if (strcmp(got.data, c->out) != 0)
			fail_msg("case %zu '%s': got '%s', want '%s'", i, c->in,
				 got.data, c->out);
		if (n == 0)
			assert_null(addrs);
		buf_deinit(&got);
		header_address_list_free(&addrs, n);
		assert_null(addrs);
	}
}

static void
test_nul_in_value(void **state)
{
	struct header_address_limits lim;
	const char in[] = "a@x.test, b\0@y.test";
	char **addrs;
	size_t n;
	enum header_address_error err;

	(void)state;
	header_address_limits_default(&lim);
	assert_int_equal(header_address_list_parse(in, sizeof(in) - 1, &lim,
						   &addrs, &n, &err, NULL),
			 -1);
	assert_int_equal(err, HEADER_ADDRESS_ERR_SYNTAX);
}

static void
test_limits(void **state)
{
	struct header_address_limits lim;
	struct buf in;
	char **addrs;
	size_t n;
	enum header_address_error err;
	const char *error;

	(void)state;
	header_address_limits_default(&lim);
	lim.max_addresses = 3;
	buf_init(&in);
	buf_puts(&in, "a@x.test, b@x.test, c@x.test");
	assert_int_equal(header_address_list_parse(in.data, in.len, &lim,
						   &addrs, &n, &err, &error),
			 0);
	assert_int_equal(n, 3);
	header_address_list_free(&addrs, n);
	buf_puts(&in, ", d@x.test");
	assert_int_equal(header_address_list_parse(in.data, in.len, &lim,
						   &addrs, &n, &err, &error),
			 -1);
	assert_int_equal(err, HEADER_ADDRESS_ERR_TOO_MANY);
	assert_null(addrs);

	/* one address over max_address_len */
	header_address_limits_default(&lim);
	lim.max_address_len = 10;
	assert_int_equal(header_address_list_parse("abcde@x.test", 12, &lim,
						   &addrs, &n, &err, &error),
			 -1);
	assert_int_equal(err, HEADER_ADDRESS_ERR_TOO_LONG);
	assert_int_equal(header_address_list_parse("abc@x.test", 10, &lim,
						   &addrs, &n, &err, &error),
			 0);
	header_address_list_free(&addrs, n);

	/* the value itself */
	header_address_limits_default(&lim);
	lim.max_value_len = in.len - 1;
	assert_int_equal(header_address_list_parse(in.data, in.len, &lim,
						   &addrs, &n, &err, &error),
			 -1);
	assert_int_equal(err, HEADER_ADDRESS_ERR_TOO_LONG);
	buf_deinit(&in);
}

static void
test_deep_comments(void **state)
{
	struct header_address_limits lim;
	struct buf in;
	char **addrs;
	size_t n;
	enum header_address_error err;

	(void)state;
	header_address_limits_default(&lim);
	buf_init(&in);
	buf_puts(&in, "a@x.test ");
	for (int i = 0; i < 10000; i++)
		buf_putc(&in, '(');
	for (int i = 0; i < 10000; i++)
		buf_putc(&in, ')');
	assert_int_equal(header_address_list_parse(in.data, in.len, &lim,
						   &addrs, &n, &err, NULL),
			 0);
	assert_int_equal(n, 1);
	header_address_list_free(&addrs, n);
	buf_deinit(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_nul_in_value),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_deep_comments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
