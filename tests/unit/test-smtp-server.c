/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the pure parts of the SMTP server: From: header lookup
 * and address extraction (sender check on submission) and relay_networks
 * matching. Sessions are covered by tests/integration/test_smtp_*.py.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-server.h"

static void
check_from(const char *value, const char *const *want, size_t nwant)
{
	char **addrs = NULL;
	size_t n = 0;

	smtp_server_from_addresses(value, strlen(value), &addrs, &n);
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(addrs[i], want[i]);
		free(addrs[i]);
	}
	free(addrs);
}

static void
test_from_addresses(void **state)
{
	(void)state;
	check_from(" alice@example.test", (const char *[]){ "alice@example.test" }, 1);
	check_from(" \"Smith, Alice\" <alice@example.test>",
		   (const char *[]){ "alice@example.test" }, 1);
	check_from(" Alice (the <boss>, really) <a@x.test>, b@y.test (Bob)",
		   (const char *[]){ "a@x.test", "b@y.test" }, 2);
	check_from(" team: a@x.test, \"B\" <b@y.test>;, c@z.test",
		   (const char *[]){ "a@x.test", "b@y.test", "c@z.test" }, 3);
	check_from(" undisclosed-recipients:;", NULL, 0);
	check_from("", NULL, 0);
	/* an unterminated quote or comment does not run away */
	check_from(" \"Alice <a@x.test>", NULL, 0);
	check_from(" (Alice <a@x.test>", NULL, 0);
	/* ...but it does not hide the address before it either */
	check_from(" victim@bank.test \"", (const char *[]){ "victim@bank.test" }, 1);
	check_from(" a@x.test, victim@bank.test\"",
		   (const char *[]){ "a@x.test", "victim@bank.test" }, 2);
}

/* An unterminated quote or comment swallows what follows: the return
 * value counts that, so the caller can tell it did not see everything. */
static void
test_from_addresses_unterminated(void **state)
{
	const char *cases[] = { " a@x.test, \"Alice, ceo@y.test",
				" a@x.test, (Alice, ceo@y.test" };

	(void)state;
	for (size_t c = 0; c < 2; c++) {
		char **addrs = NULL;
		size_t n = 0, found;

		found = smtp_server_from_addresses(cases[c], strlen(cases[c]),
						   &addrs, &n);
		assert_int_equal(n, 1);
		assert_string_equal(addrs[0], "a@x.test");
		assert_true(found > n);
		free(addrs[0]);
		free(addrs);
	}
}

/* More addresses than are kept: the return value says how many there
 * were, so a caller checking every address can tell it did not see all
 * of them (the 33rd address must not slip past the sender check). */
static void
test_from_addresses_many(void **state)
{
	struct buf b;
	char **addrs = NULL;
	size_t n = 0, found;

	(void)state;
	buf_init(&b);
	for (int i = 0; i < 40; i++)
		buf_printf(&b, "%sown%d@x.test", i == 0 ? " " : ", ", i);
	buf_puts(&b, ", victim@bank.test");
	found = smtp_server_from_addresses(b.data, b.len, &addrs, &n);
	assert_int_equal(found, 41);
	assert_true(n < found);
	for (size_t i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
	buf_deinit(&b);
}

static void
test_header_from(void **state)
{
	const char *msg = "Subject: x\r\nfrom: \"A\" <a@x.test>,\r\n"
			  "\tb@y.test\r\nTo: c@z.test\r\n\r\nFrom: body@no.test\r\n";
	char *v;

	(void)state;
	v = smtp_server_header_from(msg, strlen(msg));
	assert_non_null(v);
	assert_string_equal(v, " \"A\" <a@x.test>,\tb@y.test");
	free(v);
	msg = "Subject: x\r\n\r\nFrom: body@no.test\r\n";
	assert_null(smtp_server_header_from(msg, strlen(msg)));
	msg = "Subject: x\nFrom: lf@x.test\n\n";
	v = smtp_server_header_from(msg, strlen(msg));
	assert_string_equal(v, " lf@x.test");
	free(v);
	/* a second From: field is not ignored (the sender check must see a
	 * forged address there too) */
	msg = "From: me@x.test\r\nSubject: x\r\nFROM: ceo@y.test\r\n\r\n";
	v = smtp_server_header_from(msg, strlen(msg));
	assert_non_null(v);
	assert_string_equal(v, " me@x.test, ceo@y.test");
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_addresses),
		cmocka_unit_test(test_from_addresses_many),
		cmocka_unit_test(test_from_addresses_unterminated),
		cmocka_unit_test(test_header_from),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
