/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for BODY, BODYSTRUCTURE and BODY[section] ranges: hand-written
 * messages whose expected BODYSTRUCTURE strings follow RFC 9051's grammar,
 * with every octet and line count computed here from the raw bytes, and
 * every section range compared with the octets it must serve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-bodystructure.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime.h"

/* A body's octets: from the empty line after the first header line that
 * starts with hdr, to the first end (the line break before a delimiter)
 * after it, or to the end of the message for NULL. */
struct span {
	size_t off, len, lines;
};

static struct span
body_span(const char *msg, const char *hdr, const char *end)
{
	const char *h = strstr(msg, hdr);
	assert_non_null(h);
	const char *b = strstr(h, "\r\n\r\n");
	assert_non_null(b);
	b += 4;
	const char *e = end != NULL ? strstr(b, end) : msg + strlen(msg);
	assert_non_null(e);

	struct span s = { (size_t)(b - msg), (size_t)(e - b), 0 };
	/* body-fld-lines: LFs, plus a last line without one */
	for (const char *p = b; p < e; p++)
		s.lines += *p == '\n';
	if (s.len > 0 && e[-1] != '\n')
		s.lines++;
	return s;
}

static char *
bodystructure(const char *msg, bool extended, bool utf8,
	      imap_envelope_cb_t *env, void *ctx)
{
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);
	struct imap_bodystructure_params params = {
		.extended = extended, .utf8 = utf8,
		.envelope = env, .envelope_context = ctx,
	};
	struct buf out;

	buf_init(&out);
	imap_bodystructure_write(&out, root, (const uint8_t *)msg,
				 strlen(msg), &params);
	mime_part_free(&root);
	char *ret = buf_steal(&out);
	/* buf_steal leaves an empty buffer to free */
	buf_deinit(&out);
	return ret;
}

/* Resolves section and checks that its range holds exactly want. */
static void
check_section(const char *msg, const char *section, const char *want)
{
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);
	struct imap_section sec;
	const char *error;

	enum imap_section_result ret =
		imap_section_resolve(root, section, &sec, &error);
	if (ret != IMAP_SECTION_OK)
		fail_msg("section [%s]: %d %s", section, ret, error);
	assert_true(sec.offset + sec.size <= strlen(msg));
	if (sec.size != strlen(want) ||
	    memcmp(msg + sec.offset, want, sec.size) != 0)
		fail_msg("section [%s] is \"%.*s\", want \"%s\"", section,
			 (int)sec.size, msg + sec.offset, want);
	mime_part_free(&root);
}

static void
check_section_fails(const char *msg, const char *section,
		    enum imap_section_result want)
{
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);
	struct imap_section sec;
	const char *error = NULL;

	enum imap_section_result ret =
		imap_section_resolve(root, section, &sec, &error);
	if (ret != want)
		fail_msg("section [%s]: %d, want %d", section, ret, want);
	assert_non_null(error);
	mime_part_free(&root);
}

static void
assert_str(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("\n got: %s\nwant: %s", got, want);
}

static const char msg_plain[] =
	"From: a@example.org\r\n"
	"To: b@example.org\r\n"
	"Subject: hi\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=\"UTF-8\"; format=flowed\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"Content-Language: en, de\r\n"
	"\r\n"
	"Hello\r\n"
	"world\r\n";

static void
test_text_plain(void **state)
{
	(void)state;
	struct span s = body_span(msg_plain, "From:", NULL);
	char *want, *got;

	assert_int_equal(s.len, 14);
	assert_int_equal(s.lines, 2);
	want = xasprintf("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\" \"FORMAT\" "
			 "\"flowed\") NIL NIL \"8BIT\" %zu %zu "
			 "NIL NIL (\"en\" \"de\") NIL)", s.len, s.lines);
	got = bodystructure(msg_plain, true, false, NULL, NULL);
	assert_str(got, want);
	free(got);
	free(want);

	want = xasprintf("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\" \"FORMAT\" "
			 "\"flowed\") NIL NIL \"8BIT\" %zu %zu)",
			 s.len, s.lines);
	got = bodystructure(msg_plain, false, false, NULL, NULL);
	assert_str(got, want);
	free(got);
	free(want);
}

static void
test_text_plain_sections(void **state)
{
	(void)state;
	const char *body = strstr(msg_plain, "Hello");
	char *header = xstrndup(msg_plain, (size_t)(body - msg_plain));

	check_section(msg_plain, "", msg_plain);
	/* a message that is not multipart has one part, its body */
	check_section(msg_plain, "1", body);
	check_section(msg_plain, "TEXT", body);
	check_section(msg_plain, "text", body);
	check_section(msg_plain, "HEADER", header);
	/* part 1's MIME header is the message's header */
	check_section(msg_plain, "1.MIME", header);
	check_section(msg_plain, "HEADER.FIELDS (From To)", header);
	check_section(msg_plain, "HEADER.FIELDS.NOT (Subject)", header);
	free(header);

	check_section_fails(msg_plain, "2", IMAP_SECTION_MISSING);
	check_section_fails(msg_plain, "1.1", IMAP_SECTION_MISSING);
	check_section_fails(msg_plain, "1.HEADER", IMAP_SECTION_MISSING);
	check_section_fails(msg_plain, "1.TEXT", IMAP_SECTION_MISSING);
	check_section_fails(msg_plain, "4294967295", IMAP_SECTION_MISSING);
	check_section_fails(msg_plain, "4294967296", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, "0", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, "01", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, "1.", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, ".1", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, "1..2", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, "MIME", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, "1.FOO", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, "HEADERX", IMAP_SECTION_BAD);
	check_section_fails(msg_plain, "1 ", IMAP_SECTION_BAD);
	/* syntax is judged before existence */
	check_section_fails(msg_plain, "7.BAD", IMAP_SECTION_BAD);
}

static void
test_header_fields_list(void **state)
{
	(void)state;
	struct mime_part *root = mime_parse(msg_plain, strlen(msg_plain), NULL);
	struct imap_section sec;
	const char *error;

	assert_int_equal(imap_section_resolve(root, "header.fields (From To)",
					      &sec, &error), IMAP_SECTION_OK);
	assert_int_equal(sec.kind, IMAP_SECTION_HEADER_FIELDS);
	assert_string_equal(sec.fields, "(From To)");
	assert_int_equal(imap_section_resolve(root, "HEADER.FIELDS.NOT (X)",
					      &sec, &error), IMAP_SECTION_OK);
	assert_int_equal(sec.kind, IMAP_SECTION_HEADER_FIELDS_NOT);
	assert_string_equal(sec.fields, "(X)");
	assert_int_equal(sec.offset, 0);
	assert_int_equal(sec.size, strstr(msg_plain, "Hello") - msg_plain);
	mime_part_free(&root);
}

static const char msg_mixed[] =
	"From: a@example.org\r\n"
	"Subject: mixed\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"This is a multi-part message in MIME format.\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"Body text.\r\n"
	"Second line.\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Description: forwarded \"quoted\" \\ text\r\n"
	"Content-ID: <fwd@example.org>\r\n"
	"\r\n"
	"From: c@example.org\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/alternative; boundary=inner\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"plain\r\n"
	"--inner\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"<p>html</p>\r\n"
	"<p>more</p>\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=\"report.pdf\";\r\n"
	" size=12\r\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	"Content-Language: en\r\n"
	"Content-Location: http://example.org/report.pdf\r\n"
	"\r\n"
	"SGVsbG8gd29ybGQh\r\n"
	"AAAA\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

static void
env_marker(struct buf *out, const struct mime_part *msg,
	   const uint8_t *data, size_t size, void *context)
{
	int *calls = context;
	const char *want = "From: c@example.org\r\n";

	(*calls)++;
	/* the encapsulated message's own header */
	assert_true(msg->header_offset + strlen(want) <= size);
	assert_memory_equal(data + msg->header_offset, want, strlen(want));
	buf_puts(out, "(\"env\" NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static char *
want_mixed(bool extended, const char *envelope)
{
	const char *m = msg_mixed;
	struct span text = body_span(m, "Content-Type: text/plain; charset=us",
				     "\r\n--outer");
	struct span rfc = body_span(m, "Content-Type: message/rfc822",
				    "\r\n--outer");
	struct span plain = body_span(m, "Content-Type: text/plain\r\n",
				      "\r\n--inner");
	struct span html = body_span(m, "Content-Type: text/html",
				     "\r\n--inner");
	struct span pdf = body_span(m, "Content-Type: application/pdf",
				    "\r\n--outer");
	const char *ext1 = extended ? " NIL NIL NIL NIL" : "";
	char *alt = xasprintf(
		"((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" %zu %zu%s)"
		"(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL "
		"\"QUOTED-PRINTABLE\" %zu %zu%s) \"ALTERNATIVE\"%s)",
		plain.len, plain.lines, ext1, html.len, html.lines, ext1,
		extended ? " (\"BOUNDARY\" \"inner\") NIL NIL NIL" : "");
	char *want = xasprintf(
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL "
		"\"7BIT\" %zu %zu%s)"
		"(\"MESSAGE\" \"RFC822\" NIL \"<fwd@example.org>\" "
		"\"forwarded \\\"quoted\\\" \\\\ text\" \"7BIT\" %zu %s %s %zu%s)"
		"(\"APPLICATION\" \"PDF\" (\"NAME\" \"report.pdf\") NIL NIL "
		"\"BASE64\" %zu%s) \"MIXED\"%s)",
		text.len, text.lines, ext1,
		rfc.len, envelope, alt, rfc.lines, ext1,
		pdf.len,
		extended ? " \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"ATTACHMENT\" "
			   "(\"FILENAME\" \"report.pdf\" \"SIZE\" \"12\")) "
			   "\"en\" \"http://example.org/report.pdf\"" : "",
		extended ? " (\"BOUNDARY\" \"outer\") NIL NIL NIL" : "");

	/* the counts the test relies on, by hand */
	assert_int_equal(text.len, strlen("Body text.\r\nSecond line."));
	assert_int_equal(text.lines, 2);
	assert_int_equal(plain.len, 5);
	assert_int_equal(plain.lines, 1);
	assert_int_equal(html.lines, 2);
	assert_int_equal(pdf.len, strlen("SGVsbG8gd29ybGQh\r\nAAAA"));
	assert_int_equal(pdf.lines, 2);
	/* the nested message: 4 header lines, 11 body lines */
	assert_int_equal(rfc.lines, 15);
	free(alt);
	return want;
}

static void
test_mixed(void **state)
{
	(void)state;
	const char *nil_env = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";
	char *want, *got;
	int calls = 0;

	want = want_mixed(true, nil_env);
	got = bodystructure(msg_mixed, true, false, NULL, NULL);
	assert_str(got, want);
	free(got);
	free(want);

	want = want_mixed(false, nil_env);
	got = bodystructure(msg_mixed, false, false, NULL, NULL);
	assert_str(got, want);
	free(got);
	free(want);

	want = want_mixed(true, "(\"env\" NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	got = bodystructure(msg_mixed, true, false, env_marker, &calls);
	assert_str(got, want);
	assert_int_equal(calls, 1);
	free(got);
	free(want);
}

static void
test_mixed_sections(void **state)
{
	(void)state;
	const char *m = msg_mixed;
	const char *inner = strstr(m, "From: c@example.org");
	const char *inner_end = strstr(inner, "\r\n--outer");
	char *inner_msg = xstrndup(inner, (size_t)(inner_end - inner));
	const char *text = strstr(m, "This is a multi");
	char *top_header = xstrndup(m, (size_t)(text - m));

	check_section(m, "", m);
	check_section(m, "HEADER", top_header);
	check_section(m, "TEXT", text);
	check_section(m, "1", "Body text.\r\nSecond line.");
	check_section(m, "1.MIME",
		      "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	/* a message/rfc822 part: its body is the whole nested message */
	check_section(m, "2", inner_msg);
	check_section(m, "2.MIME",
		      "Content-Type: message/rfc822\r\n"
		      "Content-Description: forwarded \"quoted\" \\ text\r\n"
		      "Content-ID: <fwd@example.org>\r\n\r\n");
	/* HEADER and TEXT after it are the nested message's */
	check_section(m, "2.HEADER",
		      "From: c@example.org\r\n"
		      "Subject: inner\r\n"
		      "Content-Type: multipart/alternative; boundary=inner\r\n"
		      "\r\n");
	check_section(m, "2.HEADER.FIELDS (Subject)",
		      "From: c@example.org\r\n"
		      "Subject: inner\r\n"
		      "Content-Type: multipart/alternative; boundary=inner\r\n"
		      "\r\n");
	check_section(m, "2.TEXT", strstr(inner_msg, "--inner\r\n"));
	/* numbers after it count the nested message's parts */
	check_section(m, "2.1", "plain");
	check_section(m, "2.1.MIME", "Content-Type: text/plain\r\n\r\n");
	check_section(m, "2.2", "<p>html</p>\r\n<p>more</p>");
	check_section(m, "2.2.MIME",
		      "Content-Type: text/html; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	check_section(m, "3", "SGVsbG8gd29ybGQh\r\nAAAA");
	free(inner_msg);
	free(top_header);

	check_section_fails(m, "4", IMAP_SECTION_MISSING);
	check_section_fails(m, "2.3", IMAP_SECTION_MISSING);
	check_section_fails(m, "1.1", IMAP_SECTION_MISSING);
	check_section_fails(m, "2.1.1", IMAP_SECTION_MISSING);
	check_section_fails(m, "1.HEADER", IMAP_SECTION_MISSING);
	check_section_fails(m, "3.TEXT", IMAP_SECTION_MISSING);
	check_section_fails(m, "2.1.HEADER", IMAP_SECTION_MISSING);
	check_section_fails(m, "2.MIME.1", IMAP_SECTION_BAD);
}

static const char msg_alternative[] =
	"From: a@example.org\r\n"
	"Content-Type: multipart/alternative;\r\n"
	"\tboundary=\"=_b\"\r\n"
	"Content-Disposition: inline\r\n"
	"Content-Language: en, fr\r\n"
	"\r\n"
	"--=_b\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"caf\xc3\xa9\r\n"
	"--=_b\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Disposition: inline;\r\n"
	" filename*=utf-8''caf%C3%A9.html\r\n"
	"\r\n"
	"<b>caf\xc3\xa9</b>\r\n"
	"--=_b--\r\n";

static char *
want_alternative(bool utf8)
{
	struct span plain = body_span(msg_alternative, "charset=utf-8",
				      "\r\n--=_b");
	struct span html = body_span(msg_alternative, "text/html",
				     "\r\n--=_b");
	/* 8-bit text is a literal unless UTF8=ACCEPT */
	const char *name = utf8 ? "\"caf\xc3\xa9.html\"" :
		"{10}\r\ncaf\xc3\xa9.html";

	assert_int_equal(plain.len, 5);
	assert_int_equal(plain.lines, 1);
	assert_int_equal(html.lines, 1);
	return xasprintf(
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" "
		"%zu %zu NIL NIL NIL NIL)"
		"(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" "
		"%zu %zu NIL (\"INLINE\" (\"FILENAME\" %s)) NIL NIL) "
		"\"ALTERNATIVE\" (\"BOUNDARY\" \"=_b\") (\"INLINE\" NIL) "
		"(\"en\" \"fr\") NIL)",
		plain.len, plain.lines, html.len, html.lines, name);
}

static void
test_alternative(void **state)
{
	(void)state;
	char *want, *got;

	want = want_alternative(false);
	got = bodystructure(msg_alternative, true, false, NULL, NULL);
	assert_str(got, want);
	free(got);
	free(want);

	want = want_alternative(true);
	got = bodystructure(msg_alternative, true, true, NULL, NULL);
	assert_str(got, want);
	free(got);
	free(want);

	check_section(msg_alternative, "1", "caf\xc3\xa9");
	check_section(msg_alternative, "2", "<b>caf\xc3\xa9</b>");
	check_section_fails(msg_alternative, "3", IMAP_SECTION_MISSING);
}

/* No Content-Type: RFC 2045 5.2's text/plain; charset=us-ascii, 7bit;
 * the last line has no line break. */
static const char msg_no_type[] =
	"From: a@example.org\r\n"
	"Subject: old style\r\n"
	"\r\n"
	"line one\r\n"
	"\r\n"
	"line three";

static void
test_no_content_type(void **state)
{
	(void)state;
	struct span s = body_span(msg_no_type, "Subject:", NULL);
	char *want, *got;

	assert_int_equal(s.len, strlen("line one\r\n\r\nline three"));
	assert_int_equal(s.lines, 3);
	want = xasprintf("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL "
			 "NIL \"7BIT\" %zu %zu NIL NIL NIL NIL)",
			 s.len, s.lines);
	got = bodystructure(msg_no_type, true, false, NULL, NULL);
	assert_str(got, want);
	free(got);
	free(want);

	check_section(msg_no_type, "1", "line one\r\n\r\nline three");
	check_section(msg_no_type, "TEXT", "line one\r\n\r\nline three");
	check_section(msg_no_type, "1.MIME",
		      "From: a@example.org\r\nSubject: old style\r\n\r\n");
}

/* A multipart whose parts were never parsed (past max_depth) and a
 * message/rfc822 part whose message cannot be read (base64) must still
 * give valid syntax: mail/mime shows both as application/octet-stream. */
static void
test_opaque(void **state)
{
	(void)state;
	const char *msg =
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"--x\r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"RnJvbTogYQ0KDQpoaQ==\r\n"
		"--x--\r\n";
	struct mime_limits limits;
	struct mime_part *root;
	struct buf out;
	struct imap_bodystructure_params params = { .extended = true };
	char *got, *want;

	got = bodystructure(msg, true, false, NULL, NULL);
	want = xasprintf("((\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL "
			 "\"BASE64\" %zu NIL NIL NIL NIL) \"MIXED\" "
			 "(\"BOUNDARY\" \"x\") NIL NIL NIL)",
			 strlen("RnJvbTogYQ0KDQpoaQ=="));
	assert_str(got, want);
	free(got);
	free(want);

	mime_limits_default(&limits);
	limits.max_depth = 0;
	root = mime_parse(msg, strlen(msg), &limits);
	buf_init(&out);
	imap_bodystructure_write(&out, root, (const uint8_t *)msg, strlen(msg),
				 &params);
	want = xasprintf("(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL "
			 "\"7BIT\" %zu NIL NIL NIL NIL)",
			 strlen(strstr(msg, "--x\r\n")));
	assert_str(out.data, want);
	free(want);
	buf_deinit(&out);
	/* nothing is numbered below an opaque leaf */
	check_section_fails(msg, "1.2", IMAP_SECTION_MISSING);
	mime_part_free(&root);
}

/* A session without UTF8=ACCEPT (params.downgrade): a UTF-8 file name
 * as encoded words, message/global as a basic part (RFC 3501's
 * media-message is MESSAGE/RFC822 only); with UTF8=ACCEPT the name is
 * quoted UTF-8 and message/global a message part. */
static void
test_downgrade(void **state)
{
	(void)state;
	const char *msg =
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"--x\r\n"
		"Content-Type: text/plain; name=\"\xc3\xa9.txt\"\r\n"
		"\r\n"
		"hi\r\n"
		"--x\r\n"
		"Content-Type: message/global\r\n"
		"\r\n"
		"Subject: s\r\n\r\nin\r\n"
		"--x--\r\n";
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);
	struct imap_bodystructure_params params = { .downgrade = true };
	struct buf out;

	buf_init(&out);
	imap_bodystructure_write(&out, root, (const uint8_t *)msg, strlen(msg),
				 &params);
	assert_str(out.data,
		   "((\"TEXT\" \"PLAIN\" (\"NAME\" \"=?UTF-8?B?w6kudHh0?=\") "
		   "NIL NIL \"7BIT\" 2 1)(\"MESSAGE\" \"GLOBAL\" NIL NIL NIL "
		   "\"7BIT\" 16) \"MIXED\")");
	buf_reset(&out);
	params.utf8 = true;
	imap_bodystructure_write(&out, root, (const uint8_t *)msg, strlen(msg),
				 &params);
	if (strstr(out.data, "(\"NAME\" \"\xc3\xa9.txt\")") == NULL ||
	    strstr(out.data, "(\"MESSAGE\" \"GLOBAL\" NIL NIL NIL \"7BIT\" "
		   "16 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (") == NULL)
		fail_msg("got %s", out.data);
	buf_deinit(&out);
	mime_part_free(&root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_plain),
		cmocka_unit_test(test_text_plain_sections),
		cmocka_unit_test(test_header_fields_list),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_mixed_sections),
		cmocka_unit_test(test_alternative),
		cmocka_unit_test(test_no_content_type),
		cmocka_unit_test(test_opaque),
		cmocka_unit_test(test_downgrade),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
