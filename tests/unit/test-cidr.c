/* SPDX-License-Identifier: MIT */
/* lib/cidr: entries that parse and entries that do not, list checks, and
 * matching IPv4, IPv6 and IPv4-mapped client addresses, and the network
 * key a client address counts under (connection limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "lib/cidr.h"

static struct sockaddr_storage
addr(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') == NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	}
	return ss;
}

static const struct {
	const char *text;
	int family;
	unsigned bits;
} good[] = {
	{ "192.0.2.0/24", AF_INET, 24 },
	{ "10.1.2.3", AF_INET, 32 },
	{ "0.0.0.0/0", AF_INET, 0 },
	{ "2001:db8::/32", AF_INET6, 32 },
	{ "[2001:db8::]/32", AF_INET6, 32 },
	{ "[::1]", AF_INET6, 128 },
	{ "::/0", AF_INET6, 0 },
	{ "::ffff:192.0.2.1/128", AF_INET6, 128 },
};

static const struct {
	const char *text;
	const char *why;
} bad[] = {
	{ "192.0.2.0/33", "prefix longer than the address" },
	{ "2001:db8::/129", "prefix longer than the address" },
	{ "banana", "not an IP address" },
	{ "192.0.2/24", "not an IP address" },
	{ "192.0.2.0/", "the prefix length is not a number" },
	{ "192.0.2.0/+8", "the prefix length is not a number" },
	{ "192.0.2.0/ 8", "the prefix length is not a number" },
	{ "192.0.2.0/0008", "the prefix length is not a number" },
	{ "192.0.2.0/-0", "the prefix length is not a number" },
	{ "192.0.2.0/8/8", "the prefix length is not a number" },
	{ "/8", "not an IP address" },
	{ "[]", "not an IP address" },
	{ "[192.0.2.1", "not an IP address" },
	{ "example.com", "not an IP address" },
	{ "1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19:20", "not an IP address" },
};

static void
test_parse(void **state)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		struct cidr c;
		const char *why = NULL;

		if (cidr_parse(good[i].text, strlen(good[i].text), &c, &why) < 0)
			fail_msg("%s: %s", good[i].text, why);
		assert_int_equal(c.family, good[i].family);
		assert_int_equal(c.bits, good[i].bits);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct cidr c;
		const char *why = NULL;

		if (cidr_parse(bad[i].text, strlen(bad[i].text), &c, &why) == 0)
			fail_msg("%s parsed", bad[i].text);
		if (strcmp(why, bad[i].why) != 0)
			fail_msg("%s: got '%s' want '%s'", bad[i].text, why,
				 bad[i].why);
	}
}

static void
test_list_check(void **state)
{
	char *err = NULL;

	assert_int_equal(cidr_list_check("", &err), 0);
	assert_int_equal(cidr_list_check(NULL, &err), 0);
	assert_int_equal(cidr_list_check(" 192.0.2.0/24,10.1.2.3\t[::1] ,", &err), 0);
	assert_int_equal(cidr_list_check("192.0.2.0/33, banana", &err), -1);
	assert_string_equal(err, "'192.0.2.0/33' is not a network: prefix "
				 "longer than the address");
	free(err);
	assert_int_equal(cidr_list_check("192.0.2.0/24, banana", &err), -1);
	assert_string_equal(err, "'banana' is not a network: not an IP address");
	free(err);
}

static void
test_match(void **state)
{
	const char *nets = "192.0.2.0/24, 10.1.2.3 ,[2001:db8::]/32,bogus,"
			   "198.51.100.0/33";
	struct sockaddr_storage ss;

	ss = addr("192.0.2.77");
	assert_true(cidr_list_match(nets, &ss));
	ss = addr("192.0.3.1");
	assert_false(cidr_list_match(nets, &ss));
	ss = addr("10.1.2.3");
	assert_true(cidr_list_match(nets, &ss));
	ss = addr("10.1.2.4");
	assert_false(cidr_list_match(nets, &ss));
	ss = addr("2001:db8:ffff::1");
	assert_true(cidr_list_match(nets, &ss));
	ss = addr("2001:db9::1");
	assert_false(cidr_list_match(nets, &ss));
	/* v4-mapped IPv6 counts as IPv4 */
	ss = addr("::ffff:192.0.2.5");
	assert_true(cidr_list_match(nets, &ss));
	/* a bad entry never matches */
	ss = addr("198.51.100.1");
	assert_false(cidr_list_match(nets, &ss));
	assert_false(cidr_list_match(NULL, &ss));
	assert_false(cidr_list_match("", &ss));
	assert_false(cidr_list_match("192.0.2.0/24", NULL));
	ss = addr("203.0.113.9");
	assert_true(cidr_list_match("0.0.0.0/0", &ss));
	/* prefixes that end inside an octet */
	assert_true(cidr_list_match("203.0.112.0/23", &ss));
	assert_false(cidr_list_match("203.0.114.0/23", &ss));
	ss = addr("2001:db8::1");
	assert_true(cidr_list_match("2001:db8::/33", &ss));
	assert_false(cidr_list_match("2001:db8:8000::/33", &ss));
	assert_false(cidr_list_match("0.0.0.0/0", &ss));
}

/* One IPv6 host holds a /64: its addresses share one key, IPv4 and
 * v4-mapped IPv6 share theirs, and prefixes inside an octet mask it. */
static void
test_network_key(void **state)
{
	static const struct {
		const char *ip;
		unsigned bits;
		const char *key;	/* NULL: no key */
	} cases[] = {
		{ "192.0.2.1", 64, "192.0.2.1" },
		{ "::ffff:192.0.2.1", 64, "192.0.2.1" },
		{ "2001:db8:1:2:aaaa::1", 64, "2001:db8:1:2::/64" },
		{ "2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64" },
		{ "2001:db8:1:3::1", 64, "2001:db8:1:3::/64" },
		{ "2001:db8:1:2::1", 56, "2001:db8:1::/56" },
		{ "2001:db8:1:ff::1", 60, "2001:db8:1:f0::/60" },
		{ "2001:db8:1:2::1", 128, "2001:db8:1:2::1" },
		{ "::1", 64, "::/64" },
	};
	struct sockaddr_storage ss;
	char key[CIDR_KEY_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ss = addr(cases[i].ip);
		assert_true(cidr_network_key(&ss, cases[i].bits, key,
					     sizeof(key)));
		assert_string_equal(key, cases[i].key);
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_false(cidr_network_key(&ss, 64, key, sizeof(key)));
	/* the longest key fits */
	ss = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_true(cidr_network_key(&ss, 127, key, sizeof(key)));
	assert_string_equal(key,
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_list_check),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_network_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
