/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for RFC 5322 address-list extraction: the examples of RFC
 * 5322 appendix A, obsolete forms, groups, comments and the limits; the
 * display texts a client shows; and a table of From:/Sender: forgeries
 * run through the submission sender check (issue 10 2.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "delivery/sender-policy.h"
#include "lib/buf.h"
#include "mail/encoded-word.h"
#include "mail/header-address.h"
#include "mail/header-field.h"

/* [smtp] sender_check modes, short for the checks below */
#define OWN CONFIG_SENDER_CHECK_OWN

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

struct text_case {
	const char *in;
	const char *texts;	/* joined with " | " */
	bool route;
};

static const struct text_case text_cases[] = {
	{ "alice@x.test", "", false },
	{ "Alice Smith <a@x.test>", "Alice Smith", false },
	{ "\"Smith, Alice\" <a@x.test>", "Smith, Alice", false },
	{ "\"bob@y.test\" <a@x.test>", "bob@y.test", false },
	{ "a@x.test (Alice (the boss))", "Alice (the boss)", false },
	{ "Joe Q. Public <j@x.test>", "Joe Q. Public", false },
	{ "\"a\\\"b\" <a@x.test>", "a\"b", false },
	{ "team: a@x.test, Bob <b@y.test>;", "team | Bob", false },
	{ "a(one)@x.test(two)", "one | two", false },
	{ "=?utf-8?q?J=C3=B6rg?= <j@x.test>", "=?utf-8?q?J=C3=B6rg?=", false },
	{ "Mary <@node.test:mary@x.test>", "Mary", true },
	{ "A\r\n Folded\r\n\tName <a@x.test>", "A Folded Name", false },
};

/* The names and comments a client may show beside the addresses. */
static void
test_display_texts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]);
	     i++) {
		const struct text_case *c = &text_cases[i];
		struct header_address_limits lim;
		struct header_address_list list;
		struct buf got;

		header_address_limits_default(&lim);
		assert_int_equal(header_address_list_parse_full(c->in,
				strlen(c->in), &lim, true, &list, NULL, NULL),
				 0);
		buf_init(&got);
		join(list.texts, list.n_texts, &got);
		if (strcmp(got.data != NULL ? got.data : "", c->texts) != 0)
			fail_msg("case %zu '%s': got '%s', want '%s'", i, c->in,
				 got.data, c->texts);
		assert_int_equal(list.has_route, c->route);
		buf_deinit(&got);
		header_address_list_deinit(&list);
		assert_null(list.texts);
	}
}

struct ew_case {
	const char *in;
	const char *out;	/* NULL: an error */
};

static const struct ew_case ew_cases[] = {
	{ "plain text", "plain text" },
	{ "=?utf-8?q?J=C3=B6rg_M?=", "J\xc3\xb6rg M" },
	{ "=?UTF-8?Q?a=40b?=", "a@b" },
	{ "=?utf-8?b?Ym9iQGV4YW1wbGUudGVzdA==?=", "bob@example.test" },
	{ "=?utf-8?b?Ym9iQGV4YW1wbGUudGVzdA?=", "bob@example.test" },
	{ "=?iso-8859-1?q?J=F6rg?=", "J\xc3\xb6rg" },
	{ "=?utf-8*en?q?hi?=", "hi" },
	{ "=?ISO-2022-JP?B?GyRCJTUlcyVXJWsbKEI=?=",
	  "\xe3\x82\xb5\xe3\x83\xb3\xe3\x83\x97\xe3\x83\xab" },
	{ "=?utf-7?q?bob+AEA-example.test?=", "bob@example.test" },
	/* white space between encoded words is not shown (RFC 2047 6.2) */
	{ "=?utf-8?q?bob?= =?utf-8?q?=40x.test?=", "bob@x.test" },
	{ "=?utf-8?q?a?=\r\n =?utf-8?q?b?= c", "ab c" },
	{ "x =?utf-8?q?a?= y", "x a y" },
	/* decoded where a lenient client decodes them */
	{ "Bob=?utf-8?q?=40?=x.test", "Bob@x.test" },
	/* not an encoded word: kept */
	{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
	{ "=?utf-8?q?a b?=", "=?utf-8?q?a b?=" },
	{ "=?", "=?" },
	/* cannot be decoded: the caller must not guess */
	{ "=?x-no-such-charset?q?bob?=", NULL },
	{ "=?utf-8?b?Ym9i!Q==?=", NULL },
	{ "=?utf-8?b?Y?=", NULL },
	{ "=?utf-8?q?bob=4?=", NULL },
	{ "=?utf-8?q?bob=ZZ?=", NULL },
	{ "=?us-ascii*?q?x?=", "x" },
	{ "=?*en?q?x?=", NULL },
	{ "=?iso-2022-jp?b?GyRCJA==?=", NULL },
	/* byte order unknown: read either way by clients */
	{ "=?utf-16?b?AGIAbwBi?=", NULL },
	{ "=?UCS-2?b?AGIAbwBi?=", NULL },
	{ "=?utf-16?b?/v8AYgBvAGI=?=", "bob" },
	{ "=?utf-16?b?//5iAG8AYgA=?=", "bob" },
	{ "=?utf-16be?b?AGIAbwBi?=", "bob" },
};

static void
test_encoded_words(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ew_cases) / sizeof(ew_cases[0]); i++) {
		const struct ew_case *c = &ew_cases[i];
		const char *error = NULL;
		struct buf out;
		int ret;

		buf_init(&out);
		ret = encoded_word_decode(c->in, strlen(c->in), &out, &error);
		if (c->out == NULL) {
			if (ret != -1)
				fail_msg("case %zu '%s': decoded to '%s'", i,
					 c->in, out.data);
			assert_non_null(error);
		} else if (ret != 0 || strcmp(out.data, c->out) != 0) {
			fail_msg("case %zu '%s': got %d '%s' (%s), want '%s'",
				 i, c->in, ret, out.data, error, c->out);
		}
		buf_deinit(&out);
	}
}

/* What a reader that decodes the raw field shows: a word that does not
 * decode stays as written and the next one is still decoded. */
static void
test_encoded_words_lenient(void **state)
{
	const char *in = "=?x-no-such?q?a?= =?utf-8?q?(bob=40x.test)?= "
			 "=?utf-8?b?Y?= z";
	struct buf out;

	(void)state;
	buf_init(&out);
	encoded_word_decode_lenient(in, strlen(in), &out);
	assert_string_equal(out.data, "=?x-no-such?q?a?=(bob@x.test)"
			    "=?utf-8?b?Y?= z");
	buf_deinit(&out);
}

/* Header sections with their fields as the sender check sees them. */
static void
test_header_fields(void **state)
{
	const char *msg = "Subject: x\r\nfrom : \"A\" <a@x.test>,\r\n"
			  "\tb@y.test\r\nTo: c@z.test\rSender: s@x.test\n"
			  "From bob\r\n\r\nFrom: body@no.test\r\n";
	struct header_field_iter it;
	struct header_field f;

	(void)state;
	header_field_iter_init(&it, msg, strlen(msg));
	assert_true(header_field_next(&it, &f));
	assert_true(header_field_is(&f, "subject"));
	assert_int_equal(f.value_len, 2);
	assert_true(header_field_next(&it, &f));
	assert_true(header_field_is(&f, "From"));
	assert_false(f.malformed);
	assert_int_equal(f.value_len, strlen(" \"A\" <a@x.test>,\r\n\tb@y.test"));
	assert_memory_equal(f.value, " \"A\" <a@x.test>,\r\n\tb@y.test",
			    f.value_len);
	assert_true(header_field_next(&it, &f));
	assert_true(header_field_is(&f, "To"));
	assert_int_equal(f.value_len, strlen(" c@z.test"));
	/* a lone CR ends a line for some readers */
	assert_true(header_field_next(&it, &f));
	assert_true(header_field_is(&f, "Sender"));
	assert_true(header_field_next(&it, &f));
	assert_true(f.malformed);
	assert_true(header_field_is(&f, "From"));
	assert_false(header_field_next(&it, &f));
	assert_false(header_field_next(&it, &f));

	/* no header at all, or only a body */
	header_field_iter_init(&it, "\r\nFrom: a@x.test\r\n", 19);
	assert_false(header_field_next(&it, &f));
	header_field_iter_init(&it, "", 0);
	assert_false(header_field_next(&it, &f));
	/* no final line break */
	header_field_iter_init(&it, "From: a@x.test", 14);
	assert_true(header_field_next(&it, &f));
	assert_int_equal(f.value_len, 9);
	assert_false(header_field_next(&it, &f));
}

struct attack_case {
	const char *header;	/* the header section, without the blank line */
	bool ok;		/* the check lets it through */
	const char *reason;	/* a part of the refusal's reason */
};

#define NOT_OWNED "address not owned"
#define DISPLAYED "display name shows an address"
#define UNPARSED "cannot be parsed"

/* alice@example.test is logged in; bob@example.test is someone else. */
static const struct attack_case attack_cases[] = {
	/* the four of the issue */
	{ "From : bob@example.test", false, NOT_OWNED },
	{ "From: <bob@example.test> <alice@example.test>", false, UNPARSED },
	{ "From: <bob@example.test", false, UNPARSED },
	{ "From: =?utf-8?q?bob=40example.test?=", false, UNPARSED },
	{ "From: =?utf-8?b?Ym9iQGV4YW1wbGUudGVzdA==?= <alice@example.test>",
	  false, DISPLAYED },
	/* field names and lines */
	{ "From\t: bob@example.test", false, NOT_OWNED },
	{ "FROM: bob@example.test", false, NOT_OWNED },
	{ "fRoM  \t : bob@example.test", false, NOT_OWNED },
	{ "From: alice@example.test\r\nFrom: bob@example.test", false,
	  NOT_OWNED },
	{ "From: alice@example.test\r\nSender: bob@example.test", false,
	  NOT_OWNED },
	{ "Sender : <bob@example.test>", false, NOT_OWNED },
	{ "From bob@example.test\r\nFrom: alice@example.test", false,
	  "no colon" },
	{ " From: bob@example.test\r\nSubject: x", false, "no colon" },
	{ "Subject: x\rFrom: bob@example.test", false, NOT_OWNED },
	{ "Subject: x\r\rFrom: bob@example.test\r\nTo: y@z.test", false,
	  NOT_OWNED },
	{ "Subject: x\nFrom: bob@example.test", false, NOT_OWNED },
	{ "From: alice@example.test,\r\n bob@example.test", false,
	  NOT_OWNED },
	{ "From: alice@example.test\r\n bob@example.test", false, UNPARSED },
	/* names a reader trims: libmime drops isspace() before the colon,
	 * a JavaScript trim() U+00A0 too */
	{ "From\v: bob@example.test", false, "field name" },
	{ "From\f: bob@example.test", false, "field name" },
	{ "From \v : bob@example.test", false, "field name" },
	{ "From\xc2\xa0: bob@example.test", false, "field name" },
	{ "From\xa0: bob@example.test", false, "field name" },
	{ "\xa0Sender: bob@example.test", false, "field name" },
	{ "X-\xc3\xa9t\xc3\xa9\v: x\r\nFrom: alice@example.test", true, NULL },
	{ "From-\xc3\x9c" "bersicht: bob@example.test\r\n"
	  "From: alice@example.test", true, NULL },
	/* structure */
	{ "From: Alice <alice@example.test", false, UNPARSED },
	{ "From: alice@example.test>", false, UNPARSED },
	{ "From: \"Alice <alice@example.test>", false, UNPARSED },
	{ "From: (Alice <alice@example.test>", false, UNPARSED },
	{ "From: alice@example.test \"", false, UNPARSED },
	{ "From: bob@example.test <alice@example.test>", false, UNPARSED },
	{ "From: alice@example.test bob@example.test", false, UNPARSED },
	{ "From: alice@example.test, <bob@example.test>", false, NOT_OWNED },
	{ "From: Alice <alice@example.test>, Bob <bob@example.test>", false,
	  NOT_OWNED },
	{ "From: team: alice@example.test, bob@example.test;", false,
	  NOT_OWNED },
	{ "From: undisclosed-recipients:;", false, "no address" },
	{ "From: <>", false, "no address" },
	{ "From:", false, "no address" },
	{ "From: alice@example.test;", false, UNPARSED },
	{ "From: alice", false, UNPARSED },
	{ "From: <@bob.example.test:alice@example.test>", false, "route" },
	{ "From: \"bob\"@example.test", false, NOT_OWNED },
	{ "From: \"alice@example.test\"@example.test", false, NOT_OWNED },
	{ "From: alice@[192.0.2.1]", false, NOT_OWNED },
	{ "From: alice@example.test\x01", false, UNPARSED },
	{ "From: =?utf-8?q?bob=40example.test?=@example.test", false,
	  NOT_OWNED },
	/* names and comments that read as an address */
	{ "From: \"bob@example.test\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: \"Bob <bob@example.test>\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: \"Bob (bob@example.test)\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: alice@example.test (bob@example.test)", false, DISPLAYED },
	{ "From: alice(bob@example.test)@example.test", false, DISPLAYED },
	{ "From: \"bob@example.test\": alice@example.test;", false,
	  DISPLAYED },
	{ "From: \"bob\xef\xbc\xa0""example.test\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: bob\xef\xbc\xa0" "example\xef\xbc\x8etest <alice@example.test>",
	  false, DISPLAYED },
	{ "From: \"bob\xef\xb9\xab""example.test\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: \"\xe2\x80\xaetset.elpmaxe@bob\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: \"bob@exa\xe2\x80\x8bmple.test\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: \"bob@example\xe3\x80\x82test\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: \"bob@example.test\xc2\xa0\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: \"\xe2\x80\xae" "bob@\" <alice@example.test>", false, DISPLAYED },
	{ "From: \"bob@example\" <alice@example.test>", true, NULL },
	{ "From: \"bob@example.test.\" <alice@example.test>", false,
	  DISPLAYED },
	{ "From: \"mailto:bob@example.test\" <alice@example.test>", false,
	  DISPLAYED },
	/* encoded words: decoded as a client would, or refused */
	{ "From: \"=?utf-8?q?bob=40example.test?=\" <alice@example.test>",
	  false, DISPLAYED },
	{ "From: =?utf-8?q?bob?= =?utf-8?q?=40example.test?= "
	  "<alice@example.test>", false, DISPLAYED },
	{ "From: =?iso-8859-1?q?bob=40example.test?= <alice@example.test>",
	  false, DISPLAYED },
	{ "From: =?utf-7?q?bob+AEA-example.test?= <alice@example.test>",
	  false, DISPLAYED },
	{ "From: =?utf-8?q?bob=EF=BC=A0example.test?= <alice@example.test>",
	  false, DISPLAYED },
	{ "From: alice@example.test (=?utf-8?b?Ym9iQGV4YW1wbGUudGVzdA?=)",
	  false, DISPLAYED },
	/* a reader that decodes the raw field first, then parses it */
	{ "From: =?utf-8?q?(bob=40example.test)?= <alice@example.test>",
	  false, DISPLAYED },
	{ "From: =?utf-8?q?x(?= bob@example.test =?utf-8?q?)?= "
	  "<alice@example.test>", false, DISPLAYED },
	/* controls some readers show as nothing */
	{ "From: =?utf-8?q?bob=00=40example.test?= <alice@example.test>",
	  false, DISPLAYED },
	{ "From: =?utf-8?q?bob=40example=1B.test?= <alice@example.test>",
	  false, DISPLAYED },
	{ "From: =?utf-8?q?bob=C2=80=40example.test?= <alice@example.test>",
	  false, DISPLAYED },
	/* UTF-16 without a BOM: little-endian to iconv, big-endian to
	 * RFC 2781 ("bob@example.test" in UTF-16BE) */
	{ "From: =?utf-16?b?AGIAbwBiAEAAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQ=?= "
	  "<alice@example.test>", false, "byte order" },
	{ "From: =?utf-16?b?/v8AQQBsAGkAYwBl?= <alice@example.test>", true,
	  NULL },
	{ "From: =?x-unknown?q?Bob?= <alice@example.test>", false,
	  "cannot be decoded" },
	{ "From: =?utf-8?b?Ym9i!?= <alice@example.test>", false,
	  "cannot be decoded" },
	/* too many to look at */
	{ "From: alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, alice@example.test, "
	  "alice@example.test, alice@example.test, bob@example.test", false,
	  "too many" },

	/* what real clients send: let through */
	{ "From: alice@example.test", true, NULL },
	{ "From: Alice Smith <alice@example.test>", true, NULL },
	{ "From: \"Smith, Alice\" <ALICE@Example.Test>", true, NULL },
	{ "From: Alice <alice+lists@example.test>", true, NULL },
	{ "From: =?utf-8?q?Alice_Sm=C3=AFth?= <alice@example.test>", true,
	  NULL },
	{ "From: =?ISO-8859-1?Q?J=F6rg?= <alice@example.test>", true, NULL },
	{ "From: =?ISO-2022-JP?B?GyRCJTUlcyVXJWsbKEI=?= <alice@example.test>",
	  true, NULL },
	{ "From: \xd0\x90\xd0\xbb\xd0\xb8\xd1\x81\xd0\xb0 <alice@example.test>",
	  true, NULL },
	{ "From: J\xf6rg <alice@example.test>", true, NULL },
	{ "From: \"alice@example.test\" <alice@example.test>", true, NULL },
	{ "From: alice@example.test (Alice at work)", true, NULL },
	{ "From: \"Team @ HQ\" <alice@example.test>", true, NULL },
	{ "From: \"Alice@Home\" <alice@example.test>", true, NULL },
	{ "From: \"@alice\" <alice@example.test>", true, NULL },
	{ "From: Alice\r\n <alice@example.test>", true, NULL },
	{ "From: alice@example.test\r\nSender: Alice <alice@example.test>",
	  true, NULL },
	{ "Subject: no From at all", true, NULL },
	{ "Fromage: bob@example.test\r\nX-From: bob@example.test\r\n"
	  "Reply-To: bob@example.test\r\nFrom: alice@example.test", true,
	  NULL },
	{ "From: alice@example.test\r\n\r\nFrom: bob@example.test", true,
	  NULL },
};

static void
test_from_attacks(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(attack_cases) / sizeof(attack_cases[0]);
	     i++) {
		const struct attack_case *c = &attack_cases[i];
		struct sender_policy_result r;
		struct buf msg;

		buf_init(&msg);
		buf_printf(&msg, "%s\r\n\r\nbody\r\n", c->header);
		/* OWN needs no directory: no store */
		sender_policy_check_header(NULL, OWN, "alice@example.test", 1,
					   msg.data, msg.len, &r);
		if (c->ok && r.verdict != SENDER_POLICY_OK)
			fail_msg("case %zu [%s]: refused: %s", i, c->header,
				 r.reason);
		if (!c->ok && r.verdict != SENDER_POLICY_REFUSED)
			fail_msg("case %zu [%s]: let through", i, c->header);
		if (!c->ok && strstr(r.reason, c->reason) == NULL)
			fail_msg("case %zu [%s]: reason '%s', want '%s'", i,
				 c->header, r.reason, c->reason);
		sender_policy_result_deinit(&r);
		buf_deinit(&msg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_display_texts),
		cmocka_unit_test(test_encoded_words),
		cmocka_unit_test(test_encoded_words_lenient),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_from_attacks),
		cmocka_unit_test(test_nul_in_value),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_deep_comments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
