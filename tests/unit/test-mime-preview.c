/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for PREVIEW text (mail/mime-preview): which part is chosen,
 * decoding (base64, quoted-printable, ISO-8859-1), HTML stripping and
 * character references, white space, the 256-character cut, messages
 * without text, and the reader variant against the in-memory one.
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
#include "lib/utf8.h"
#include "mail/mime-preview.h"
#include "mail/mime.h"

struct src {
	const char *msg;
	size_t len;
};

static int
src_read(void *ctx, uint64_t offset, size_t len, struct buf *out)
{
	const struct src *s = ctx;

	assert_true(offset + len <= s->len);
	buf_append(out, s->msg + offset, len);
	return 0;
}

/* The preview of msg, both ways; checks they agree. Caller frees. */
static char *
preview(const char *msg)
{
	size_t len = strlen(msg);
	struct mime_part *root = mime_parse(msg, len, NULL);
	struct src s = { msg, len };
	struct buf a, b;
	char *r;

	buf_init(&a);
	buf_init(&b);
	mime_preview_extract((const uint8_t *)msg, len, root, &a);
	mime_preview_extract_read(root, len, src_read, &s, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data != NULL ? a.data : "",
			    b.data != NULL ? b.data : "", a.len);
	assert_true(utf8_is_valid((const uint8_t *)a.data, a.len));
	r = strndup(a.data != NULL ? a.data : "", a.len);
	buf_deinit(&a);
	buf_deinit(&b);
	mime_part_free(&root);
	return r;
}

static void
expect(const char *msg, const char *want)
{
	char *got = preview(msg);

	assert_string_equal(got, want);
	free(got);
}

static void
test_plain(void **state)
{
	(void)state;
	expect("Subject: hi\r\n\r\n  Hello,\r\n\r\n\tworld  \r\n",
	       "Hello, world");
	/* no Content-Type: text/plain by default */
	expect("From: a@b\r\n\r\nx", "x");
}

static void
test_base64(void **state)
{
	(void)state;
	expect("Content-Type: text/plain; charset=utf-8\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n"
	       "SGVsbG8gZnJvbSBiYXNlNjQg4pi6\r\n",
	       "Hello from base64 \xe2\x98\xba");
}

static void
test_latin1(void **state)
{
	(void)state;
	expect("Content-Type: text/plain; charset=iso-8859-1\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	       "caf=E9 cr=E8me=\r\n br=FBl=E9e\r\n",
	       "caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9""e");
	/* raw 8-bit Latin-1 */
	expect("Content-Type: text/plain; charset=ISO-8859-1\r\n\r\n"
	       "na\xefve\r\n", "na\xc3\xafve");
}

static void
test_html_only(void **state)
{
	(void)state;
	expect("Content-Type: text/html; charset=utf-8\r\n\r\n"
	       "<!DOCTYPE html><html><head><title>Title</title>"
	       "<style>p { color: red }</style></head>\r\n"
	       "<body><p>Hi&nbsp;<b>there</b>,</p><p>a &amp; b &lt; c"
	       " &#233;&#xe9;&eacute;</p><!-- hidden <p>x</p> -->"
	       "<script type=\"x\">if (a<b) {}</script>"
	       "<a href=\"x>y\">link</a>1 < 2<br>end</body></html>\r\n",
	       "Hi there, a & b < c \xc3\xa9\xc3\xa9&eacute; link1 < 2 end");
}

static void
test_alternative_prefers_plain(void **state)
{
	(void)state;
	expect("Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	       "--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
	       "--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
	       "--b--\r\n", "plain text");
	/* html inside mixed when there is no plain text */
	expect("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	       "--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n"
	       "--b\r\nContent-Type: text/html\r\n\r\n<p>only html</p>\r\n"
	       "--b--\r\n", "only html");
}

static void
test_skips_attachments_and_forwarded(void **state)
{
	(void)state;
	expect("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	       "--b\r\nContent-Type: text/plain\r\n"
	       "Content-Disposition: attachment; filename=a.txt\r\n\r\n"
	       "attached\r\n"
	       "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	       "Subject: inner\r\n\r\nforwarded\r\n"
	       "--b--\r\n", "");
}

static void
test_empty(void **state)
{
	(void)state;
	expect("", "");
	expect("Subject: x\r\n\r\n", "");
	expect("Subject: x\r\n\r\n \r\n\t\r\n", "");
	expect("Content-Type: application/octet-stream\r\n\r\nabc\r\n", "");
	expect("Content-Type: text/html\r\n\r\n<html><head><title>t"
	       "</title></head><body></body></html>", "");
}

static void
test_cut(void **state)
{
	char msg[4096];
	char *got;
	size_t chars = 0;
	int n;

	(void)state;
	n = snprintf(msg, sizeof(msg), "Content-Type: text/plain; "
		     "charset=utf-8\r\n\r\n");
	for (int i = 0; i < 300; i++)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "\xc3\xa9 ");
	got = preview(msg);
	for (const char *p = got; *p != '\0'; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			chars++;
	assert_int_equal(chars, MIME_PREVIEW_MAX_CHARS - 1);
	assert_true(got[strlen(got) - 1] != ' ');
	free(got);
}

static void
test_from_text_controls(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out);
	/* controls and NEL are white space; a zero-width space is
	 * nothing */
	mime_preview_from_text("a\x01\x7f" "b\xc2\x85" "c\xe2\x80\x8b" "d",
			       11, false, &out);
	assert_string_equal(out.data, "a b cd");
	buf_reset(&out);
	/* a tag cut at the end, a reference without ';', &#0; */
	mime_preview_from_text("x &#65 &#0; <p", 14, true, &out);
	assert_string_equal(out.data, "x A \xef\xbf\xbd");
	buf_deinit(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_latin1),
		cmocka_unit_test(test_html_only),
		cmocka_unit_test(test_alternative_prefers_plain),
		cmocka_unit_test(test_skips_attachments_and_forwarded),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_from_text_controls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
