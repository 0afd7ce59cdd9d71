/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for BODY[HEADER.FIELDS (...)] and HEADER.FIELDS.NOT: the
 * list grammar (RFC 9051 9 header-list), and for each header, list and
 * kind the exact octets RFC 9051 6.4.5 asks for, worked out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-header-fields.h"
#include "lib/buf.h"
#include "mail/mime.h"

struct tcase {
	const char *header;
	const char *list;
	bool not;
	const char *expect;
};

#define H3 "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n"

static const struct tcase cases[] = {
	/* message order, not list order; the empty line at the end */
	{ H3, "(Subject From)", false,
	  "From: a@example.org\r\nSubject: hi\r\n\r\n" },
	{ H3, "(Subject From)", true, "To: b@example.org\r\n\r\n" },
	/* case-insensitive both ways */
	{ H3, "(sUBJECT)", false, "Subject: hi\r\n\r\n" },
	{ "SUBJECT: x\r\n\r\n", "(subject)", false, "SUBJECT: x\r\n\r\n" },
	/* nothing selected: the empty line alone (RFC 9051 6.4.5) */
	{ H3, "(Cc)", false, "\r\n" },
	{ H3, "(from to subject)", true, "\r\n" },
	{ "\r\n", "(To)", false, "\r\n" },
	{ "", "(To)", false, "" },
	{ "", "(To)", true, "" },
	/* folded fields keep every continuation line as stored */
	{ "Subject: one\r\n two\r\n\tthree\r\nTo: b\r\n\r\n", "(Subject)",
	  false, "Subject: one\r\n two\r\n\tthree\r\n\r\n" },
	{ "Subject: one\r\n two\r\n\tthree\r\nTo: b\r\n \r\n\r\n",
	  "(Subject)", true, "To: b\r\n \r\n\r\n" },
	/* repeated fields: every one, in order */
	{ "Received: 1\r\nX-A: y\r\nReceived: 2\r\n  more\r\n\r\n",
	  "(Received)", false,
	  "Received: 1\r\nReceived: 2\r\n  more\r\n\r\n" },
	{ "Received: 1\r\nX-A: y\r\nReceived: 2\r\n  more\r\n\r\n",
	  "(Received)", true, "X-A: y\r\n\r\n" },
	/* a name that is a prefix or suffix of another is another name */
	{ "To: a\r\nTo-X: b\r\nX-To: c\r\nT: d\r\n\r\n", "(To)", false,
	  "To: a\r\n\r\n" },
	{ "To: a\r\nTo-X: b\r\nX-To: c\r\nT: d\r\n\r\n", "(To)", true,
	  "To-X: b\r\nX-To: c\r\nT: d\r\n\r\n" },
	{ "To: a\r\nTo-X: b\r\nX-To: c\r\n\r\n", "(To-X)", false,
	  "To-X: b\r\n\r\n" },
	{ "To: a\r\nTo-X: b\r\n\r\n", "(T)", false, "\r\n" },
	/* no empty line: none in the answer either */
	{ "From: a\r\nTo: b\r\n", "(To)", false, "To: b\r\n" },
	{ "From: a\r\nTo: b", "(To)", false, "To: b" },
	{ "From: a\r\nTo: b", "(To)", true, "From: a\r\n" },
	{ "From: a\r\nTo: b", "(Cc)", false, "" },
	/* LF-only header: same fields, octets as stored */
	{ "From: a\nSubject: s\n t\nTo: b\n\n", "(Subject)", false,
	  "Subject: s\n t\n\n" },
	{ "From: a\nSubject: s\n t\nTo: b\n\n", "(Subject)", true,
	  "From: a\nTo: b\n\n" },
	/* mixed breaks: each field with its own */
	{ "From: a\nTo: b\r\n\n", "(To From)", false, "From: a\nTo: b\r\n\n" },
	/* octets after the empty line (the body) are never read */
	{ "To: a\r\n\r\nTo: body\r\n", "(To)", false, "To: a\r\n\r\n" },
	{ "To: a\r\n\r\nCc: body\r\n", "(To)", true, "\r\n" },
	/* obs-optional (RFC 5322 4.5): "Subject :" is Subject */
	{ "Subject : s\r\nTo\t: t\r\n\r\n", "(Subject To)", false,
	  "Subject : s\r\nTo\t: t\r\n\r\n" },
	{ "Subject : s\r\nTo\t: t\r\n\r\n", "(Subject)", true,
	  "To\t: t\r\n\r\n" },
	/* lines that are no field: never selected, always in .NOT */
	{ "From: a\r\nTo b\r\nCc: c\r\n\r\n", "(To)", false, "\r\n" },
	{ "From: a\r\nTo b\r\nCc: c\r\n\r\n", "(From)", true,
	  "To b\r\nCc: c\r\n\r\n" },
	{ " To: a\r\nCc: c\r\n\r\n", "(To)", false, "\r\n" },
	{ " To: a\r\nCc: c\r\n\r\n", "(Cc)", true, " To: a\r\n\r\n" },
	/* 8-bit names: matched octet for octet, ASCII case only */
	{ "X-T\xc3\xabst: 1\r\nTo: a\r\n\r\n", "(\"x-t\xc3\xabST\")", false,
	  "X-T\xc3\xabst: 1\r\n\r\n" },
	{ "X-T\xc3\xabst: 1\r\nTo: a\r\n\r\n", "(\"X-T\xc3\x8bst\")", false,
	  "\r\n" },
	{ "X-T\xc3\xabst: 1\r\nTo: a\r\n\r\n", "(To)", true,
	  "X-T\xc3\xabst: 1\r\n\r\n" },
	{ "X-T\xe9st: 1\r\nTo: a\r\n\r\n", "(X-Test)", false, "\r\n" },
	/* quoted names, escapes, "]" (ASTRING-CHAR) */
	{ H3, "(\"Subject\" to)", false, "To: b@example.org\r\n"
	  "Subject: hi\r\n\r\n" },
	{ "A\"b: 1\r\nA\\b: 2\r\nC: 3\r\n\r\n", "(\"A\\\"b\" \"A\\\\b\")",
	  false, "A\"b: 1\r\nA\\b: 2\r\n\r\n" },
	{ "X]: 1\r\nY: 2\r\n\r\n", "(X])", false, "X]: 1\r\n\r\n" },
	{ H3, "(\"\")", false, "\r\n" },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct imap_header_fields fields;
		const char *error = NULL;
		struct buf out;

		if (imap_header_fields_parse(c->list, 16, &fields,
					     &error) != 0) {
			print_error("case %zu: %s\n", i, error);
			fail();
		}
		buf_init(&out);
		imap_header_fields_write(&out, (const uint8_t *)c->header,
					 strlen(c->header), &fields, c->not);
		if (out.len != strlen(c->expect) ||
		    memcmp(out.data, c->expect, out.len) != 0) {
			print_error("case %zu: got \"%s\"\n", i, out.data);
			fail();
		}
		buf_deinit(&out);
		imap_header_fields_deinit(&fields);
	}
}

struct pcase {
	const char *list;
	size_t max_names;
	/* names, separated by "|"; NULL: BAD */
	const char *names;
};

static const struct pcase pcases[] = {
	{ "(A B \"C\")", 16, "A|B|C" },
	{ "(Subject)", 16, "Subject" },
	{ "(\"a b\" \"\")", 16, "a b|" },
	{ "(\"\\\"\\\\\")", 16, "\"\\" },
	{ "(\"\xc3\xab\")", 16, "\xc3\xab" },
	{ "(X])", 16, "X]" },
	{ "(A B)", 2, "A|B" },
	{ "(A B C)", 2, NULL },		/* over max_names */
	{ "()", 16, NULL },		/* 1*header-fld-name */
	{ NULL, 16, NULL },		/* HEADER.FIELDS without a list */
	{ "", 16, NULL },
	{ "A", 16, NULL },
	{ "(A", 16, NULL },
	{ "(A ", 16, NULL },
	{ "(A )", 16, NULL },
	{ "( A)", 16, NULL },
	{ "(A  B)", 16, NULL },
	{ "(A)x", 16, NULL },
	{ "(A) ", 16, NULL },
	{ "(A)(B)", 16, NULL },
	{ "((A))", 16, NULL },
	{ "(A%)", 16, NULL },
	{ "(A*)", 16, NULL },
	{ "(A{)", 16, NULL },
	{ "({3}\r\nabc)", 16, NULL },
	{ "(\"abc)", 16, NULL },
	{ "(\"a\\x\")", 16, NULL },
	{ "(\"a\r\nb\")", 16, NULL },
	{ "(\xc3\xab)", 16, NULL },	/* 8-bit atom */
	{ "(\"\xff\")", 16, NULL },	/* not UTF-8 */
	{ "(A\tB)", 16, NULL },
	{ "(NIL)", 16, "NIL" },		/* an astring, not nil */
};

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		struct imap_header_fields fields;
		const char *error = NULL;
		int ret = imap_header_fields_parse(c->list, c->max_names,
						   &fields, &error);

		if (c->names == NULL) {
			if (ret != -1 || error == NULL ||
			    fields.count != 0 || fields.names != NULL) {
				print_error("case %zu: not refused\n", i);
				fail();
			}
			continue;
		}
		if (ret != 0) {
			print_error("case %zu: %s\n", i, error);
			fail();
		}
		struct buf joined;

		buf_init(&joined);
		for (size_t j = 0; j < fields.count; j++) {
			if (j > 0)
				buf_putc(&joined, '|');
			buf_append(&joined, fields.names[j].name,
				   fields.names[j].len);
		}
		if (strcmp(joined.data, c->names) != 0) {
			print_error("case %zu: got %s\n", i, joined.data);
			fail();
		}
		buf_deinit(&joined);
		imap_header_fields_deinit(&fields);
	}
}

/* Through imap_section_resolve: the header of a nested message, and the
 * outer header, each filtered from its own range of the stored message. */
static void
test_sections(void **state)
{
	static const char msg[] =
		"From: outer@example.org\r\n"
		"Subject: outer\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n"
		"\r\n"
		"--b\r\n"
		"\r\n"
		"text\r\n"
		"--b\r\n"
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"Subject: inner\r\n"
		" folded\r\n"
		"From: inner@example.org\r\n"
		"\r\n"
		"inner body\r\n"
		"--b--\r\n";
	static const struct {
		const char *section;
		const char *expect;
	} secs[] = {
		{ "HEADER.FIELDS (SUBJECT)", "Subject: outer\r\n\r\n" },
		{ "header.fields.not (Subject Content-Type)",
		  "From: outer@example.org\r\n\r\n" },
		{ "2.HEADER.FIELDS (Subject)",
		  "Subject: inner\r\n folded\r\n\r\n" },
		{ "2.HEADER.FIELDS.NOT (Subject)",
		  "From: inner@example.org\r\n\r\n" },
	};
	struct mime_part *root = mime_parse(msg, sizeof(msg) - 1, NULL);

	(void)state;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		struct imap_section sec;
		struct imap_header_fields fields;
		const char *error = NULL;
		struct buf out;

		assert_int_equal(imap_section_resolve(root, secs[i].section,
						      &sec, &error),
				 IMAP_SECTION_OK);
		assert_int_equal(imap_header_fields_parse(
					 sec.fields,
					 IMAP_HEADER_FIELDS_NAMES_DEFAULT,
					 &fields, &error), 0);
		buf_init(&out);
		imap_header_fields_write(&out, (const uint8_t *)msg +
					 sec.offset, sec.size, &fields,
					 sec.kind ==
					 IMAP_SECTION_HEADER_FIELDS_NOT);
		assert_string_equal(out.data, secs[i].expect);
		buf_deinit(&out);
		imap_header_fields_deinit(&fields);
	}
	mime_part_free(&root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
