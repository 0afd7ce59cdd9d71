/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the searchable text of a message (mail/mime-text) and
 * the case folding SEARCH matches with (lib/unifold): transfer encodings,
 * charsets, nested messages, binary attachments, the output cap.
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
#include "lib/unifold.h"
#include "lib/utf8.h"
#include "mail/mime-text.h"

struct extracted {
	struct buf hdr;
	struct buf body;
	bool complete;
};

struct src {
	const char *msg;
	size_t len;
	size_t max_read;
};

static int
src_read(void *ctx, uint64_t offset, size_t len, struct buf *out)
{
	struct src *s = ctx;

	assert_true(offset + len <= s->len);
	if (len > s->max_read)
		s->max_read = len;
	buf_append(out, s->msg + offset, len);
	return 0;
}

static void
extract_n(const char *msg, size_t len, size_t max, struct extracted *x)
{
	struct mime_part *root = mime_parse(msg, len, NULL);
	struct src src = { .msg = msg, .len = len };
	struct buf h2, b2;
	bool c2;

	buf_init(&x->hdr);
	buf_init(&x->body);
	x->complete = mime_text_extract((const uint8_t *)msg, len, root,
					max, &x->hdr, &x->body);
	/* read in pieces (a blob file), the same text */
	buf_init(&h2);
	buf_init(&b2);
	c2 = mime_text_extract_read(root, len, src_read, &src, max, &h2, &b2);
	assert_int_equal(c2, x->complete);
	assert_string_equal(h2.data, x->hdr.data);
	assert_int_equal(b2.len, x->body.len);
	assert_memory_equal(b2.data, x->body.data, b2.len);
	assert_true(src.max_read <= 64 * 1024 + 4096 + 2 * max);
	buf_deinit(&h2);
	buf_deinit(&b2);
	mime_part_free(&root);
	assert_true(utf8_is_valid((const uint8_t *)x->hdr.data, x->hdr.len));
	assert_true(utf8_is_valid((const uint8_t *)x->body.data,
				  x->body.len));
	assert_null(memchr(x->hdr.data, 0, x->hdr.len));
	assert_null(memchr(x->body.data, 0, x->body.len));
}

static void
extract(const char *msg, size_t max, struct extracted *x)
{
	extract_n(msg, strlen(msg), max, x);
}

static void
extracted_free(struct extracted *x)
{
	buf_deinit(&x->hdr);
	buf_deinit(&x->body);
}

static void
test_qp_latin1(void **state)
{
	struct extracted x;

	(void)state;
	extract("From: =?iso-8859-1?q?J=F6rg?= <j@example.com>\r\n"
		"Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\n"
		" folded\r\n"
		"Content-Type: text/plain; charset=ISO-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"Sch=F6ne Gr=FC=DFe aus M=FCn=\r\n"
		"chen, =E9t=E9\r\n", MIME_TEXT_DEFAULT_MAX, &x);
	assert_true(x.complete);
	assert_string_equal(x.hdr.data,
			    "From: Jörg <j@example.com>\n"
			    "Subject: Grüße folded\n"
			    "Content-Type: text/plain; charset=ISO-8859-1\n"
			    "Content-Transfer-Encoding: quoted-printable\n");
	assert_string_equal(x.body.data,
			    "Schöne Grüße aus München, été\r\n\n");
	extracted_free(&x);
}

static void
test_base64_utf8(void **state)
{
	struct extracted x;

	(void)state;
	/* "Ünïcödé text\n" in base64, broken over lines, with junk */
	extract("Content-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding: BASE64\n"
		"\n"
		"w5xuw69jw7Zkw6kg\n"
		"dGV4dAo=\n", MIME_TEXT_DEFAULT_MAX, &x);
	assert_string_equal(x.body.data, "Ünïcödé text\n\n");
	extracted_free(&x);
}

static void
test_nested_message(void **state)
{
	struct extracted x;

	(void)state;
	extract("Subject: outer\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n"
		"\r\n"
		"preamble\r\n"
		"--b\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"first part\r\n"
		"--b\r\n"
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"Subject: =?utf-8?q?inn=C3=A9r?=\r\n"
		"Content-Type: text/plain; charset=koi8-r\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"\xf0\xd2\xc9\xd7\xc5\xd4\r\n"
		"--b\r\n"
		"Content-Type: image/png\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\r\n"
		"--b\r\n"
		"Content-Type: application/json\r\n"
		"\r\n"
		"{\"key\": \"jsonvalue\"}\r\n"
		"--b--\r\n", MIME_TEXT_DEFAULT_MAX, &x);
	assert_string_equal(x.hdr.data,
			    "Subject: outer\n"
			    "Content-Type: multipart/mixed; boundary=b\n");
	assert_string_equal(x.body.data,
			    "first part\n"
			    "Subject: innér\n"
			    "Content-Type: text/plain; charset=koi8-r\n"
			    "Content-Transfer-Encoding: 8bit\n"
			    "Привет\n"
			    "{\"key\": \"jsonvalue\"}\n");
	extracted_free(&x);
}

static void
test_unknown_charset(void **state)
{
	struct extracted x;

	(void)state;
	extract("Content-Type: text/plain; charset=x-no-such-charset\n"
		"\n"
		"plain words \xe9\xff and \xc3\xa9 utf-8\n",
		MIME_TEXT_DEFAULT_MAX, &x);
	assert_string_equal(x.body.data,
			    "plain words \xef\xbf\xbd\xef\xbf\xbd and é utf-8\n\n");
	extracted_free(&x);

	/* octets not in a known charset: U+FFFD, the rest converted */
	extract("Content-Type: text/plain; charset=utf-16\n"
		"Content-Transfer-Encoding: base64\n"
		"\n"
		"//5oAGkA\n", MIME_TEXT_DEFAULT_MAX, &x);
	assert_string_equal(x.body.data, "hi\n");
	extracted_free(&x);

	/* NUL and 8-bit junk in an unlabelled part */
	extract_n("Subject: a\x01" "b\n\nx\x00y\n", 18,
		  MIME_TEXT_DEFAULT_MAX, &x);
	assert_string_equal(x.hdr.data, "Subject: a\x01" "b\n");
	assert_string_equal(x.body.data, "x y\n\n");
	extracted_free(&x);
}

static void
test_cap(void **state)
{
	struct extracted x;

	(void)state;
	extract("Subject: 0123456789\n"
		"\n"
		"ééééééééé\n", 24, &x);
	assert_false(x.complete);
	assert_string_equal(x.hdr.data, "Subject: 0123456789\n");
	/* 4 octets left: two é, never half of one */
	assert_string_equal(x.body.data, "éé");
	extracted_free(&x);

	extract("Subject: 0123456789\n\nabc\n", 25, &x);
	assert_true(x.complete);
	extracted_free(&x);

	extract("Subject: 0123456789\n\nabc\n", 0, &x);
	assert_false(x.complete);
	assert_int_equal(x.hdr.len + x.body.len, 0);
	extracted_free(&x);
}

static void
test_qp_edges(void **state)
{
	struct extracted x;

	(void)state;
	extract("Content-Transfer-Encoding: quoted-printable\n"
		"\n"
		"a=3Db =zz c=\r\n"
		"d=\n"
		"e=4", MIME_TEXT_DEFAULT_MAX, &x);
	/* mail/cte: soft breaks "=" CRLF and "=" LF; a bad "=" stays */
	assert_string_equal(x.body.data, "a=b =zz cde=4\n");
	extracted_free(&x);
}

static void
test_big_attachment_reads_bounded(void **state)
{
	struct buf m;
	struct extracted x;

	(void)state;
	buf_init(&m);
	buf_puts(&m, "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		 "Content-Type: application/octet-stream\n"
		 "Content-Transfer-Encoding: base64\n\n");
	for (int i = 0; i < 40000; i++)
		buf_puts(&m, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj\n");
	buf_puts(&m, "--b\nContent-Type: text/plain\n\nthe text after it\n"
		 "--b--\n");
	extract_n(m.data, m.len, 4096, &x);
	assert_string_equal(x.body.data, "the text after it\n");
	extracted_free(&x);
	buf_deinit(&m);
}

static void
test_fold(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	unifold_append("ÀÉÎÕÜ ÆØÅ ŒŸ ΑΣΩ ДЖЯ ЁЇ Straße İ", strlen("ÀÉÎÕÜ "
		       "ÆØÅ ŒŸ ΑΣΩ ДЖЯ ЁЇ Straße İ"), &b);
	assert_string_equal(b.data, "àéîõü æøå œÿ ασω джя ёї straße İ");
	buf_reset(&b);
	unifold_append("a\xff" "B", 3, &b);
	assert_memory_equal(b.data, "a\xff" "b", 3);
	buf_deinit(&b);

	assert_true(unifold_contains("Hello WÖRLD", 12, "wörld", 6));
	assert_true(unifold_contains("Grüße", strlen("Grüße"), "üß", 4));
	assert_false(unifold_contains("Grüße", strlen("Grüße"), "uss", 3));
	assert_true(unifold_contains("x", 1, "", 0));
	assert_false(unifold_contains("", 0, "a", 1));
	assert_true(unifold_contains("aaab", 4, "aab", 3));
	assert_false(unifold_contains("ab", 2, "abc", 3));
	/* an invalid octet matches only itself */
	assert_true(unifold_contains("a\xe9z", 3, "\xe9z", 2));
	assert_false(unifold_contains("a\xc9z", 3, "\xe9z", 2));
	assert_true(unifold_contains("ПРИВЕТ мир", strlen("ПРИВЕТ мир"),
				     "вет м", strlen("вет м")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qp_latin1),
		cmocka_unit_test(test_base64_utf8),
		cmocka_unit_test(test_nested_message),
		cmocka_unit_test(test_unknown_charset),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_qp_edges),
		cmocka_unit_test(test_big_attachment_reads_bounded),
		cmocka_unit_test(test_fold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
