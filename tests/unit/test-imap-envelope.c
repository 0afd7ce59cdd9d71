/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for FETCH ENVELOPE: header sections and the exact envelope
 * text each must give, checked by hand against RFC 9051 7.5.2 / RFC 3501
 * 7.4.2 (the RFC's own example first).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-envelope.h"
#include "imap/imap-write.h"
#include "lib/buf.h"
#include "mail/header-address.h"
#include "mail/mime.h"

struct tcase {
	const char *header;
	unsigned int flags;
	const char *expect;
};

#define NIL8 "NIL NIL NIL NIL NIL NIL NIL NIL"

static const struct tcase cases[] = {
	/* RFC 3501 7.4.2's example, in RFC 2822 form; the example puts a
	 * space between two addresses, the formal syntax (normative, RFC
	 * 9051 9: env-cc = "(" 1*address ")") has none, as here */
	{ "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
	  "From: Terry Gray <gray@cac.washington.edu>\r\n"
	  "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
	  "To: imap@cac.washington.edu\r\n"
	  "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
	  "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
	  "\r\nbody\r\n", 0,
	  "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	  "\"IMAP4rev1 WG mtg summary and minutes\" "
	  "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	  "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	  "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	  "((NIL NIL \"imap\" \"cac.washington.edu\")) "
	  "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
	  "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
	  "NIL NIL \"<B27397-0100000@cac.washington.edu>\")" },
	/* nothing at all */
	{ "", 0, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "\r\nFrom: a@b.example\r\n", 0,
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	/* Sender and Reply-To given; In-Reply-To; empty Subject is "" */
	{ "From: a@b.example\r\nSender: s@b.example\r\n"
	  "Reply-To: r@b.example\r\nSubject:\r\n"
	  "In-Reply-To: <x@y>\r\n\r\n", 0,
	  "(NIL \"\" ((NIL NIL \"a\" \"b.example\")) "
	  "((NIL NIL \"s\" \"b.example\")) ((NIL NIL \"r\" \"b.example\")) "
	  "NIL NIL NIL \"<x@y>\" NIL)" },
	/* present but empty Sender and Reply-To default to From */
	{ "From: a@b.example\r\nSender:\r\nReply-To:  \r\n", 0,
	  "(NIL NIL ((NIL NIL \"a\" \"b.example\")) "
	  "((NIL NIL \"a\" \"b.example\")) ((NIL NIL \"a\" \"b.example\")) "
	  "NIL NIL NIL NIL NIL)" },
	/* groups: start (NIL NIL "name" NIL), end (NIL NIL NIL NIL) */
	{ "To: undisclosed-recipients:;\r\n"
	  "Cc: Team: a@x.example, \"B b\" <b@x.example>; c@y.example\r\n"
	  "Bcc: g: a@x.example\r\n", 0,
	  "(NIL NIL NIL NIL NIL "
	  "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	  "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.example\")"
	  "(\"B b\" NIL \"b\" \"x.example\")(NIL NIL NIL NIL)"
	  "(NIL NIL \"c\" \"y.example\")) "
	  "((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"x.example\")(NIL NIL NIL NIL)) "
	  "NIL NIL)" },
	/* multiple From fields: the first counts; several mailboxes in one */
	{ "From: one@a.example, Two <two@a.example>\r\n"
	  "From: three@a.example\r\n", 0,
	  "(NIL NIL ((NIL NIL \"one\" \"a.example\")"
	  "(\"Two\" NIL \"two\" \"a.example\")) "
	  "((NIL NIL \"one\" \"a.example\")(\"Two\" NIL \"two\" \"a.example\")) "
	  "((NIL NIL \"one\" \"a.example\")(\"Two\" NIL \"two\" \"a.example\")) "
	  "NIL NIL NIL NIL NIL)" },
	/* folded headers are unfolded, the white space kept; LF-only too */
	{ "Subject: a long\r\n\tsubject\r\n  here \r\n"
	  "From: \"Doe,\r\n John\" <j@d.example>\n"
	  "Message-ID:\r\n <m@d.example>\r\n", 0,
	  "(NIL \"a long\tsubject  here\" "
	  "((\"Doe, John\" NIL \"j\" \"d.example\")) "
	  "((\"Doe, John\" NIL \"j\" \"d.example\")) "
	  "((\"Doe, John\" NIL \"j\" \"d.example\")) "
	  "NIL NIL NIL NIL \"<m@d.example>\")" },
	/* encoded words stay encoded, in subject and names */
	{ "Subject: =?UTF-8?Q?caf=C3=A9?= ok\r\n"
	  "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n", 0,
	  "(NIL \"=?UTF-8?Q?caf=C3=A9?= ok\" "
	  "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) "
	  "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) "
	  "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) "
	  "NIL NIL NIL NIL NIL)" },
	/* quotes and backslashes escaped; quoted local part unquoted */
	{ "Subject: say \"hi\" \\o/\r\n"
	  "To: \"a \\\"q\\\" b\" <\"x y\"@q.example>\r\n", 0,
	  "(NIL \"say \\\"hi\\\" \\\\o/\" NIL NIL NIL "
	  "((\"a \\\"q\\\" b\" NIL \"x y\" \"q.example\")) NIL NIL NIL NIL)" },
	/* 8-bit: a literal, unless UTF8=ACCEPT */
	{ "Subject: caf\xc3\xa9\r\n", 0,
	  "(NIL {5}\r\ncaf\xc3\xa9 " NIL8 ")" },
	{ "Subject: caf\xc3\xa9\r\n", IMAP_WRITE_UTF8,
	  "(NIL \"caf\xc3\xa9\" " NIL8 ")" },
	/* a legacy session (RFC 9755 7): encoded words; an address with
	 * no ASCII form is an empty group named after it (RFC 6858 3);
	 * UTF8=ACCEPT wins over DOWNGRADE; 8-bit that is not UTF-8 stays
	 * a literal */
	{ "Subject: caf\xc3\xa9 au lait\r\n", IMAP_WRITE_DOWNGRADE,
	  "(NIL \"=?UTF-8?B?Y2Fmw6k=?= au lait\" " NIL8 ")" },
	{ "Subject: caf\xc3\xa9\r\n", IMAP_WRITE_DOWNGRADE | IMAP_WRITE_UTF8,
	  "(NIL \"caf\xc3\xa9\" " NIL8 ")" },
	{ "Subject: caf\xe9\r\n", IMAP_WRITE_DOWNGRADE,
	  "(NIL {4}\r\ncaf\xe9 " NIL8 ")" },
	{ "From: Zo\xc3\xab <z@b.example>\r\n"
	  "To: x@b.example, \xc3\xa9@b.example\r\n", IMAP_WRITE_DOWNGRADE,
	  "(NIL NIL ((\"=?UTF-8?B?Wm/Dqw==?=\" NIL \"z\" \"b.example\")) "
	  "((\"=?UTF-8?B?Wm/Dqw==?=\" NIL \"z\" \"b.example\")) "
	  "((\"=?UTF-8?B?Wm/Dqw==?=\" NIL \"z\" \"b.example\")) "
	  "((NIL NIL \"x\" \"b.example\")"
	  "(NIL NIL \"=?UTF-8?B?w6lAYi5leGFtcGxl?=\" NIL)(NIL NIL NIL NIL)) "
	  "NIL NIL NIL NIL)" },
	/* obsolete route, address without a domain, "<>" */
	{ "To: Bob <@r1.example,@r2.example:bob@b.example>, root, <>\r\n", 0,
	  "(NIL NIL NIL NIL NIL ((\"Bob\" \"@r1.example,@r2.example\" \"bob\" "
	  "\"b.example\")(NIL NIL \"root\" \"MISSING_DOMAIN\")) "
	  "NIL NIL NIL NIL)" },
	/* unparseable address list: NIL, and From's NIL is Sender's */
	{ "From: <broken\r\nTo: a@b.example, ((\r\nDate: x\r\n", 0,
	  "(\"x\" NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	/* a line without a colon is no field; field names in any case */
	{ "Subject here\r\nSUBJECT: real\r\n", 0,
	  "(NIL \"real\" " NIL8 ")" },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out;

		buf_init(&out);
		imap_envelope_write(&out, cases[i].header,
				    strlen(cases[i].header), NULL,
				    cases[i].flags);
		if (strcmp(out.data, cases[i].expect) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, out.data,
				 cases[i].expect);
		buf_deinit(&out);
	}
}

/* A hostile header: 2 MiB of To addresses and a 1 MiB subject. The
 * address field is over its limit (NIL); the subject a literal. */
static void
test_hostile(void **state)
{
	struct buf hdr, out;
	const size_t n = 100000;

	(void)state;
	buf_init(&hdr);
	buf_init(&out);
	buf_puts(&hdr, "To: ");
	for (size_t i = 0; i < n; i++)
		buf_puts(&hdr, "aaaaaaaaaa@bbbbbbbbb.example,\r\n ");
	buf_puts(&hdr, "z@z.example\r\nSubject: ");
	for (size_t i = 0; i < 1024 * 1024; i++)
		buf_putc(&hdr, 'x');
	buf_puts(&hdr, "\r\n\r\n");
	imap_envelope_write(&out, hdr.data, hdr.len, NULL, 0);
	assert_memory_equal(out.data, "(NIL {1048576}\r\nxxx", 19);
	assert_string_equal(out.data + out.len - 33,
			    " NIL NIL NIL NIL NIL NIL NIL NIL)");

	/* within a tighter limit: 3 addresses allowed, 4 given */
	{
		struct header_address_limits lim;

		header_address_limits_default(&lim);
		lim.max_addresses = 3;
		buf_reset(&out);
		imap_envelope_write(&out,
				    "From: a@x, b@x, c@x\r\nTo: a@x, b@x, c@x, d@x\r\n",
				    45, &lim, 0);
		assert_string_equal(out.data,
			"(NIL NIL ((NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"x\")"
			"(NIL NIL \"c\" \"x\")) ((NIL NIL \"a\" \"x\")"
			"(NIL NIL \"b\" \"x\")(NIL NIL \"c\" \"x\")) "
			"((NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"x\")"
			"(NIL NIL \"c\" \"x\")) NIL NIL NIL NIL NIL)");
	}
	buf_deinit(&hdr);
	buf_deinit(&out);
}

/* As imap-bodystructure's callback: the nested message's own envelope,
 * not the outer one's. */
static void
test_nested(void **state)
{
	static const char msg[] =
		"From: outer@o.example\r\nSubject: outer\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
		"--b\r\nContent-Type: message/rfc822\r\n\r\n"
		"From: Inner <in@i.example>\r\nSubject: caf\xc3\xa9\r\n\r\n"
		"inner body\r\n--b--\r\n";
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);
	unsigned int flags = IMAP_WRITE_UTF8;
	struct imap_bodystructure_params params = {
		.envelope = imap_envelope_part_write,
		.envelope_context = &flags,
	};
	struct buf out;

	(void)state;
	buf_init(&out);
	imap_bodystructure_write(&out, root, (const uint8_t *)msg,
				 strlen(msg), &params);
	if (strstr(out.data, "(NIL \"caf\xc3\xa9\" ((\"Inner\" NIL \"in\" "
		   "\"i.example\")) ((\"Inner\" NIL \"in\" \"i.example\")) "
		   "((\"Inner\" NIL \"in\" \"i.example\")) "
		   "NIL NIL NIL NIL NIL)") == NULL || strstr(out.data, "outer"))
		fail_msg("got %s", out.data);

	buf_reset(&out);
	imap_envelope_part_write(&out, root, (const uint8_t *)msg,
				 strlen(msg), NULL);
	assert_string_equal(out.data,
		"(NIL \"outer\" ((NIL NIL \"outer\" \"o.example\")) "
		"((NIL NIL \"outer\" \"o.example\")) "
		"((NIL NIL \"outer\" \"o.example\")) NIL NIL NIL NIL NIL)");
	buf_deinit(&out);
	mime_part_free(&root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_nested),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
