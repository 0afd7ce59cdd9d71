/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the IMAP URL parser (RFC 5092) of CATENATE: RFC 4469's
 * and RFC 5092's examples, the server part, escapes, PARTIAL and URLAUTH,
 * and the URLs that do not name one message refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-url.h"

static struct imap_url
parse_ok(const char *s)
{
	struct imap_url url;
	const char *error = NULL;

	if (imap_url_parse(s, strlen(s), &url, &error) != 0)
		fail_msg("%s: %s", s, error);
	return url;
}

static void
test_relative(void **state)
{
	struct imap_url u;

	(void)state;
	/* RFC 4469 5's example */
	u = parse_ok("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER");
	assert_false(u.absolute);
	assert_null(u.host);
	assert_string_equal(u.mailbox, "Drafts");
	assert_int_equal(u.uidvalidity, 385759045);
	assert_int_equal(u.uid, 20);
	assert_string_equal(u.section, "HEADER");
	assert_false(u.partial);
	imap_url_deinit(&u);

	u = parse_ok("/INBOX/;UID=7");
	assert_string_equal(u.mailbox, "INBOX");
	assert_int_equal(u.uidvalidity, 0);
	assert_int_equal(u.uid, 7);
	assert_null(u.section);
	imap_url_deinit(&u);

	/* a hierarchy, escapes (UTF-8 %-encoded), lower-case names */
	u = parse_ok("/Work/2026/Caf%C3%A9%20bar/;uid=4294967295"
		     "/;section=1.2.MIME");
	assert_string_equal(u.mailbox, "Work/2026/Caf\xc3\xa9 bar");
	assert_int_equal(u.uid, 4294967295u);
	assert_string_equal(u.section, "1.2.MIME");
	imap_url_deinit(&u);

	u = parse_ok("/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(Subject%20To)"
		     "/;PARTIAL=10.20");
	assert_string_equal(u.section, "HEADER.FIELDS (Subject To)");
	assert_true(u.partial);
	assert_int_equal(u.partial_offset, 10);
	assert_int_equal(u.partial_length, 20);
	imap_url_deinit(&u);

	u = parse_ok("/INBOX/;UID=1/;PARTIAL=0");
	assert_true(u.partial);
	assert_int_equal(u.partial_offset, 0);
	assert_int_equal(u.partial_length, 0);
	imap_url_deinit(&u);
}

static void
test_absolute(void **state)
{
	struct imap_url u;

	(void)state;
	/* RFC 5092 7's examples, in the message form */
	u = parse_ok("imap://michael@example.org:143/INBOX/;uid=20"
		     "/;section=1.2");
	assert_true(u.absolute);
	assert_string_equal(u.user, "michael");
	assert_null(u.auth);
	assert_string_equal(u.host, "example.org");
	assert_int_equal(u.port, 143);
	assert_string_equal(u.section, "1.2");
	imap_url_deinit(&u);

	u = parse_ok("IMAP://;AUTH=*@minbari.example.org/gray%20council"
		     ";UIDVALIDITY=385759045/;UID=20");
	assert_null(u.user);
	assert_string_equal(u.auth, "*");
	assert_string_equal(u.mailbox, "gray council");
	imap_url_deinit(&u);

	u = parse_ok("imap://fred;AUTH=GSSAPI@[2001:db8::1]/INBOX/;UID=3");
	assert_string_equal(u.user, "fred");
	assert_string_equal(u.auth, "GSSAPI");
	assert_string_equal(u.host, "[2001:db8::1]");
	assert_int_equal(u.port, 0);
	imap_url_deinit(&u);

	u = parse_ok("imap://joe@example.com/INBOX/;uid=20/;section=1.2"
		     ";urlauth=submit+fred:internal:91354a473744909de610943775f92038");
	assert_true(u.urlauth);
	imap_url_deinit(&u);
}

static void
test_bad(void **state)
{
	static const char *const bads[] = {
		"", "INBOX/;UID=1", "/", "/INBOX", "/INBOX/", "/INBOX/;UID=",
		"/INBOX/;UID=0", "/INBOX/;UID=01", "/INBOX/;UID=4294967296",
		"/INBOX/;UID=1x", "/;UID=1", "//;UID=1",
		"/INBOX;UIDVALIDITY=0/;UID=1", "/INBOX;UIDVALIDITY=1;UID=1",
		"/INBOX;UIDVALIDITY=1/;UID=1/", "/INBOX/;UID=1/;SECTION=",
		"/INBOX/;UID=1/;SECTION=1 2", "/INBOX/;UID=1/;PARTIAL=",
		"/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1/;PARTIAL=01",
		"/INBOX/;UID=1/;PARTIAL=1.", "/INBOX/;UID=1;FOO=2",
		"/IN%2/;UID=1", "/IN%zzBOX/;UID=1", "/IN%00BOX/;UID=1",
		"/IN BOX/;UID=1", "/IN\"BOX/;UID=1", "/INBOX?SUBJECT%20x",
		"/INBOX;UIDVALIDITY=1", "imap://", "imap:///INBOX/;UID=1",
		"imap://host:0/INBOX/;UID=1", "imap://host:65536/INBOX/;UID=1",
		"imap://host:x/INBOX/;UID=1", "imap://@host/INBOX/;UID=1",
		"imap://u;AUTH=@host/INBOX/;UID=1", "imap://[::1/INBOX/;UID=1",
		"imap://host", "http://host/INBOX/;UID=1",
	};
	struct imap_url u;
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		error = NULL;
		if (imap_url_parse(bads[i], strlen(bads[i]), &u, &error) == 0)
			fail_msg("parsed: %s", bads[i]);
		assert_non_null(error);
		assert_null(u.mailbox);
	}
	/* a NUL inside, and a slice shorter than the string */
	assert_int_equal(imap_url_parse("/IN\0BOX/;UID=1", 14, &u, &error),
			 -1);
	assert_int_equal(imap_url_parse("/INBOX/;UID=12", 13, &u, &error), 0);
	assert_int_equal(u.uid, 1);
	imap_url_deinit(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_absolute),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
