/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the MIME structure parser (mail/mime): hand-written
 * messages whose every offset, size and line count is checked against the
 * raw bytes, malformed ones, RFC 2231 parameters and the limits. Each
 * message is fed whole, octet by octet and in random pieces, and every
 * way must give the same tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "feed-split.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime.h"

#define WAYS 24

static size_t
mime_feed(const uint8_t *data, size_t len, void *ctx)
{
	return mime_parser_feed(ctx, data, len);
}

static void
dump_params(struct buf *out, const char *what, const struct mime_param *p,
	    unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		buf_printf(out, " %s:%s=[%s]%s'%s'", what, p[i].name,
			   p[i].value, p[i].charset ? p[i].charset : "-",
			   p[i].language ? p[i].language : "-");
}

/* Every member of every part, for comparing the ways of feeding. */
static void
dump(const struct mime_part *part, struct buf *out)
{
	buf_printf(out, "(%u %s/%s h=%llu+%llu b=%llu+%llu l=%llu f=%u",
		   part->depth, part->type, part->subtype,
		   (unsigned long long)part->header_offset,
		   (unsigned long long)part->header_size,
		   (unsigned long long)part->body_offset,
		   (unsigned long long)part->body_size,
		   (unsigned long long)part->body_lines, part->flags);
	dump_params(out, "p", part->params, part->param_count);
	buf_printf(out, " enc=%s id=%s desc=%s loc=%s md5=%s disp=%s",
		   part->encoding ? part->encoding : "-",
		   part->id ? part->id : "-",
		   part->description ? part->description : "-",
		   part->location ? part->location : "-",
		   part->md5 ? part->md5 : "-",
		   part->disposition ? part->disposition : "-");
	dump_params(out, "d", part->disposition_params,
		    part->disposition_param_count);
	for (unsigned int i = 0; i < part->language_count; i++)
		buf_printf(out, " lang=%s", part->languages[i]);
	for (const struct mime_part *c = part->children; c; c = c->next)
		dump(c, out);
	buf_puts(out, ")");
}

/* The line count recomputed from the raw octets. */
static uint64_t
count_lines(const char *msg, uint64_t off, uint64_t size)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < size; i++)
		if (msg[off + i] == '\n')
			n++;
	if (size > 0 && msg[off + size - 1] != '\n')
		n++;
	return n;
}

static void
check_part(const struct mime_part *part, const char *msg, size_t len)
{
	uint64_t end = part->body_offset + part->body_size, prev;
	unsigned int n = 0;

	assert_int_equal(part->header_offset + part->header_size,
			 part->body_offset);
	assert_true(end <= len);
	assert_int_equal(part->body_lines,
			 count_lines(msg, part->body_offset, part->body_size));
	assert_non_null(part->type);
	assert_non_null(part->subtype);
	prev = part->body_offset;
	for (const struct mime_part *c = part->children; c; c = c->next) {
		assert_ptr_equal(c->parent, part);
		assert_int_equal(c->depth, part->depth + 1);
		assert_true(c->header_offset >= prev);
		prev = c->body_offset + c->body_size;
		assert_true(prev <= end);
		check_part(c, msg, len);
		n++;
	}
	assert_int_equal(n, part->child_count);
	if (strcmp(part->type, "multipart") == 0)
		assert_true(n >= 1);
	if (strcmp(part->type, "message") == 0 && n == 1) {
		assert_int_equal(part->children->header_offset,
				 part->body_offset);
		assert_int_equal(part->children->body_offset +
				 part->children->body_size, end);
	}
}

/* Parses msg every way, checks that each gives the same tree and that
 * the tree fits the octets, and returns the whole-fed tree. */
static struct mime_part *
parse_lim(const char *msg, size_t len, const struct mime_limits *lim)
{
	struct mime_part *root = NULL;
	struct buf first, other;

	buf_init(&first);
	buf_init(&other);
	for (unsigned int way = 0; way < WAYS; way++) {
		struct mime_parser *p = mime_parser_new(lim);
		struct mime_part *tree;

		assert_int_equal(feed_split(msg, len, way, way < 12 ? 7 : 0,
					    mime_feed, p), len);
		tree = mime_parser_finish(&p);
		assert_null(p);
		check_part(tree, msg, len);
		assert_int_equal(tree->header_offset, 0);
		assert_int_equal(tree->body_offset + tree->body_size, len);
		if (way == 0) {
			dump(tree, &first);
			root = tree;
			continue;
		}
		buf_reset(&other);
		dump(tree, &other);
		if (strcmp(first.data, other.data) != 0)
			fail_msg("way %u:\n%s\nwhole:\n%s", way, other.data,
				 first.data);
		mime_part_free(&tree);
		assert_null(tree);
	}
	buf_deinit(&first);
	buf_deinit(&other);
	return root;
}

static struct mime_part *
parse(const char *msg)
{
	return parse_lim(msg, strlen(msg), NULL);
}

static const struct mime_part *
nth(const struct mime_part *part, unsigned int i)
{
	const struct mime_part *c = part->children;

	while (c != NULL && i-- > 0)
		c = c->next;
	assert_non_null(c);
	return c;
}

/* Offset of needle in msg (must be there). */
static uint64_t
off(const char *msg, const char *needle)
{
	const char *p = strstr(msg, needle);

	assert_non_null(p);
	return (uint64_t)(p - msg);
}

static void
assert_body(const struct mime_part *part, const char *msg,
	    const char *body, uint64_t lines)
{
	assert_int_equal(part->body_offset, off(msg, body));
	assert_int_equal(part->body_size, strlen(body));
	assert_int_equal(part->body_lines, lines);
}

static void
test_simple_text(void **state)
{
	const char *msg = "From: a@example.test\r\nSubject: hi\r\n\r\n"
			  "Hello\r\nWorld\r\n";
	struct mime_part *root = parse(msg);

	(void)state;
	assert_string_equal(root->type, "text");
	assert_string_equal(root->subtype, "plain");
	assert_string_equal(mime_part_param(root, "charset"), "us-ascii");
	assert_int_equal(root->flags, MIME_PART_FLAG_TYPE_DEFAULT);
	assert_int_equal(root->header_size, off(msg, "Hello"));
	assert_body(root, msg, "Hello\r\nWorld\r\n", 2);
	assert_null(root->children);
	assert_null(root->encoding);
	mime_part_free(&root);
}

static const char mixed[] =
	"From: a@example.test\r\n"
	"Subject: mixed\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed;\r\n boundary=\"outer\" (comment)\r\n"
	"\r\n"
	"This is the preamble. --outer is not at a line start.\r\n"
	"--outerX is no delimiter either\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=UTF-8\r\n"
	"Content-Language: en, de (Deutsch)\r\n"
	"\r\n"
	"Hello.\r\n"
	"Two lines.\r\n"
	"--outer  \t\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Description: forwarded\r\n"
	" mail\r\n"
	"\r\n"
	"From: c@example.test\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/alternative; boundary=inner\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"just words\r\n"
	"--inner\r\n"
	"Content-Type: text/html\r\n"
	"Content-ID: <h@x>\r\n"
	"\r\n"
	"<p>html</p>\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: application/pdf; name=\"a.pdf\"\r\n"
	"Content-Transfer-Encoding: BASE64\r\n"
	"Content-Disposition: attachment; filename=\"a.pdf\";\r\n"
	" size=12\r\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	"Content-Location: http://example.test/\r\n"
	" a.pdf\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"JSVFT0YK\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

static void
test_mixed(void **state)
{
	const char *m = mixed;
	struct mime_part *root = parse(m);
	const struct mime_part *p1, *p2, *msg2, *alt, *p3;

	(void)state;
	assert_string_equal(root->type, "multipart");
	assert_string_equal(root->subtype, "mixed");
	assert_string_equal(mime_part_param(root, "boundary"), "outer");
	assert_int_equal(root->flags, 0);
	assert_int_equal(root->child_count, 3);
	assert_int_equal(root->body_offset, off(m, "This is the preamble"));
	assert_int_equal(root->body_size, strlen(m) - root->body_offset);

	p1 = nth(root, 0);
	assert_int_equal(p1->header_offset,
			 off(m, "Content-Type: text/plain; charset=UTF-8"));
	assert_body(p1, m, "Hello.\r\nTwo lines.", 2);
	assert_string_equal(mime_part_param(p1, "charset"), "UTF-8");
	assert_int_equal(p1->language_count, 2);
	assert_string_equal(p1->languages[0], "en");
	assert_string_equal(p1->languages[1], "de");

	p2 = nth(root, 1);
	assert_true(mime_part_is(p2, "message", "rfc822"));
	assert_int_equal(p2->header_offset,
			 off(m, "Content-Type: message/rfc822"));
	assert_string_equal(p2->description, "forwarded mail");
	assert_int_equal(p2->body_offset, off(m, "From: c@"));
	assert_int_equal(p2->body_offset + p2->body_size,
			 off(m, "--inner--\r\n") + 9);
	assert_int_equal(p2->body_lines, 14);
	assert_int_equal(p2->child_count, 1);

	msg2 = nth(p2, 0);
	assert_int_equal(msg2->header_offset, off(m, "From: c@"));
	assert_int_equal(msg2->body_offset, off(m, "--inner\r\n"));
	assert_true(mime_part_is(msg2, "multipart", "alternative"));
	assert_int_equal(msg2->child_count, 2);
	alt = nth(msg2, 0);
	assert_int_equal(alt->header_offset,
			 off(m, "Content-Type: text/plain\r\n"));
	assert_body(alt, m, "just words", 1);
	alt = nth(msg2, 1);
	assert_body(alt, m, "<p>html</p>", 1);
	assert_string_equal(alt->subtype, "html");
	assert_string_equal(alt->id, "<h@x>");

	p3 = nth(root, 2);
	assert_true(mime_part_is(p3, "application", "pdf"));
	assert_string_equal(p3->encoding, "base64");
	assert_string_equal(mime_part_param(p3, "name"), "a.pdf");
	assert_string_equal(p3->disposition, "attachment");
	assert_int_equal(p3->disposition_param_count, 2);
	assert_string_equal(p3->disposition_params[0].name, "filename");
	assert_string_equal(p3->disposition_params[0].value, "a.pdf");
	assert_string_equal(p3->disposition_params[1].value, "12");
	assert_string_equal(p3->md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
	assert_string_equal(p3->location, "http://example.test/ a.pdf");
	assert_body(p3, m, "JVBERi0xLjQK\r\nJSVFT0YK", 2);
	/* MIME header of part 3 up to its empty line included */
	assert_int_equal(p3->header_offset + p3->header_size,
			 off(m, "JVBERi0xLjQK"));
	mime_part_free(&root);
}

/* The same message with bare LF: the same structure, the same lines. */
static void
test_bare_lf(void **state)
{
	struct buf lf;
	struct mime_part *root;
	const struct mime_part *p2;

	(void)state;
	buf_init(&lf);
	for (const char *s = mixed; *s != '\0'; s++)
		if (*s != '\r')
			buf_putc(&lf, *s);
	root = parse_lim(lf.data, lf.len, NULL);
	assert_int_equal(root->child_count, 3);
	assert_body(nth(root, 0), lf.data, "Hello.\nTwo lines.", 2);
	p2 = nth(root, 1);
	assert_int_equal(p2->body_lines, 14);
	assert_body(nth(nth(p2, 0), 0), lf.data, "just words", 1);
	assert_body(nth(root, 2), lf.data, "JVBERi0xLjQK\nJSVFT0YK", 2);
	mime_part_free(&root);
	buf_deinit(&lf);
}

/* A bare CR ends no line and starts no delimiter. */
static void
test_bare_cr(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			"--b\r\n\r\none\rtwo\r--b\r\n--b--\r\n";
	struct mime_part *root = parse(m);

	(void)state;
	assert_int_equal(root->child_count, 1);
	assert_body(nth(root, 0), m, "one\rtwo\r--b", 1);
	mime_part_free(&root);
}

static void
test_digest(void **state)
{
	const char *m = "Content-Type: multipart/digest; boundary=d\r\n\r\n"
			"--d\r\n"
			"\r\n"
			"From: x@example.test\r\nSubject: one\r\n\r\nbody1\r\n"
			"--d\r\n"
			"Content-Type: text/plain\r\n\r\n"
			"note\r\n"
			"--d--\r\n";
	struct mime_part *root = parse(m);
	const struct mime_part *d1, *d2;

	(void)state;
	assert_int_equal(root->child_count, 2);
	d1 = nth(root, 0);
	assert_true(mime_part_is(d1, "message", "rfc822"));
	assert_int_equal(d1->flags, MIME_PART_FLAG_TYPE_DEFAULT);
	assert_int_equal(d1->param_count, 0);
	assert_int_equal(d1->child_count, 1);
	assert_int_equal(nth(d1, 0)->header_offset, off(m, "From: x@"));
	assert_body(nth(d1, 0), m, "body1", 1);
	/* the digest's default is text/plain's inside the message */
	assert_true(mime_part_is(nth(d1, 0), "text", "plain"));
	d2 = nth(root, 1);
	assert_true(mime_part_is(d2, "text", "plain"));
	assert_body(d2, m, "note", 1);
	mime_part_free(&root);
}

static void
test_missing_boundary(void **state)
{
	const char *m = "Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n";
	struct mime_part *root = parse(m);

	(void)state;
	assert_true(mime_part_is(root, "text", "plain"));
	assert_int_equal(root->flags, MIME_PART_FLAG_MULTIPART_BROKEN);
	assert_null(root->children);
	assert_body(root, m, "--b\r\n\r\nx\r\n", 3);
	mime_part_free(&root);
}

/* A boundary with no delimiter in the body, or one that is too long. */
static void
test_no_delimiter(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			"text\r\n-b\r\n";
	struct mime_part *root = parse(m);
	struct mime_limits lim;
	struct mime_part *r2;

	(void)state;
	assert_true(mime_part_is(root, "text", "plain"));
	assert_int_equal(root->flags, MIME_PART_FLAG_MULTIPART_BROKEN);
	assert_int_equal(root->body_lines, 2);
	mime_part_free(&root);

	mime_limits_default(&lim);
	lim.max_boundary_len = 3;
	m = "Content-Type: multipart/mixed; boundary=abcd\r\n\r\n"
	    "--abcd\r\n\r\nx\r\n--abcd--\r\n";
	r2 = parse_lim(m, strlen(m), &lim);
	assert_int_equal(r2->flags, MIME_PART_FLAG_MULTIPART_BROKEN);
	mime_part_free(&r2);
	lim.max_boundary_len = 4;
	r2 = parse_lim(m, strlen(m), &lim);
	assert_int_equal(r2->child_count, 1);
	mime_part_free(&r2);
}

/* No close-delimiter: the last part ends where the multipart ends. */
static void
test_unclosed(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
			"--o\r\n"
			"Content-Type: multipart/mixed; boundary=i\r\n\r\n"
			"--i\r\n\r\ninner\r\n"
			"--o\r\n\r\nlast\r\n";
	struct mime_part *root = parse(m);
	const struct mime_part *in;

	(void)state;
	assert_int_equal(root->flags, MIME_PART_FLAG_MULTIPART_UNCLOSED);
	assert_int_equal(root->child_count, 2);
	in = nth(root, 0);
	assert_int_equal(in->flags, MIME_PART_FLAG_MULTIPART_UNCLOSED);
	assert_body(nth(in, 0), m, "inner", 1);
	assert_int_equal(in->body_offset + in->body_size, off(m, "inner") + 5);
	assert_body(nth(root, 1), m, "last\r\n", 1);
	mime_part_free(&root);
}

/* An inner boundary that is a prefix of the outer one. */
static void
test_prefix_boundary(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=abcdef\r\n\r\n"
			"--abcdef\r\n"
			"Content-Type: multipart/mixed; boundary=abc\r\n\r\n"
			"--abc\r\n\r\none\r\n"
			"--abcdef\r\n\r\ntwo\r\n"
			"--abcdef--";
	struct mime_part *root = parse(m);
	const struct mime_part *in;

	(void)state;
	assert_int_equal(root->flags, 0);
	assert_int_equal(root->child_count, 2);
	in = nth(root, 0);
	assert_int_equal(in->child_count, 1);
	assert_int_equal(in->flags, MIME_PART_FLAG_MULTIPART_UNCLOSED);
	assert_body(nth(in, 0), m, "one", 1);
	assert_body(nth(root, 1), m, "two", 1);
	mime_part_free(&root);
}

static void
test_header_only(void **state)
{
	const char *m = "Subject: no body\r\nFrom: a@example.test";
	struct mime_part *root = parse(m);

	(void)state;
	assert_int_equal(root->header_size, strlen(m));
	assert_int_equal(root->body_size, 0);
	assert_int_equal(root->body_lines, 0);
	assert_int_equal(root->flags, MIME_PART_FLAG_HEADER_UNTERMINATED |
			 MIME_PART_FLAG_TYPE_DEFAULT);
	mime_part_free(&root);

	/* a part's header cut by the delimiter */
	m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/html\r\n--b--\r\n";
	root = parse(m);
	assert_int_equal(nth(root, 0)->header_offset,
			 off(m, "Content-Type: text/html"));
	assert_int_equal(nth(root, 0)->header_size,
			 strlen("Content-Type: text/html"));
	assert_string_equal(nth(root, 0)->subtype, "html");
	assert_int_equal(nth(root, 0)->flags,
			 MIME_PART_FLAG_HEADER_UNTERMINATED);
	mime_part_free(&root);
}

static void
test_empty(void **state)
{
	struct mime_part *root = parse("");

	(void)state;
	assert_int_equal(root->header_size, 0);
	assert_int_equal(root->body_size, 0);
	assert_true(mime_part_is(root, "text", "plain"));
	mime_part_free(&root);
	root = parse("\r\n");
	assert_int_equal(root->header_size, 2);
	assert_int_equal(root->flags, MIME_PART_FLAG_TYPE_DEFAULT);
	mime_part_free(&root);
}

/* No CRLF after the last line, and an empty part between delimiters. */
static void
test_no_final_crlf(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			"--b\r\n"
			"--b\r\n\r\nend"
			"\r\n--b--";
	struct mime_part *root = parse(m);

	(void)state;
	assert_int_equal(root->child_count, 2);
	assert_int_equal(root->flags, 0);
	assert_int_equal(nth(root, 0)->header_size, 0);
	assert_int_equal(nth(root, 0)->body_size, 0);
	assert_body(nth(root, 1), m, "end", 1);
	mime_part_free(&root);

	/* a delimiter at the very end, and text without a line break */
	m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nzz\r\n--b";
	root = parse(m);
	assert_int_equal(root->child_count, 1);
	assert_body(nth(root, 0), m, "zz", 1);
	mime_part_free(&root);
	m = "Subject: x\n\nno newline";
	root = parse(m);
	assert_body(root, m, "no newline", 1);
	mime_part_free(&root);
}

static void
test_rfc2231(void **state)
{
	const char *m =
		"Content-Type: application/octet-stream;\r\n"
		" name*0*=iso-8859-1'de'F%FC;\r\n"
		" name*1=r \"ignored\";\r\n"
		" name*2*=%20K%C3;\r\n"
		" title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A;\r\n"
		" URL*1=\"cool.html\"; URL*0=\"ftp://\";\r\n"
		" plain=\"=?utf-8?q?J=C3=B6rg?=.txt\"; broken*=unknown-cs''%41%FF%25\r\n"
		"Content-Disposition: attachment; filename=x.txt;\r\n"
		" filename*=UTF-8''%E2%82%AC.txt\r\n"
		"\r\nbody";
	struct mime_part *root = parse(m);

	(void)state;
	assert_int_equal(root->param_count, 5);
	assert_string_equal(root->params[0].name, "name");
	/* iso-8859-1 FC is u-umlaut; "%C3" is A-tilde in that charset */
	assert_string_equal(root->params[0].value, "F\xc3\xbcr K\xc3\x83");
	assert_string_equal(root->params[0].charset, "iso-8859-1");
	assert_string_equal(root->params[0].language, "de");
	assert_string_equal(mime_part_param(root, "title"),
			    "This is ***fun***");
	assert_string_equal(root->params[1].language, "en-us");
	assert_string_equal(mime_part_param(root, "url"), "ftp://cool.html");
	assert_string_equal(mime_part_param(root, "plain"), "J\xc3\xb6rg.txt");
	assert_string_equal(mime_part_param(root, "broken"), "A%FF%25");
	assert_int_equal(root->disposition_param_count, 1);
	assert_string_equal(root->disposition_params[0].value,
			    "\xe2\x82\xac.txt");
	mime_part_free(&root);
}

/* Content-Type that does not parse: the default, and RFC 2045 5.2. */
static void
test_bad_content_type(void **state)
{
	struct mime_part *root = parse("Content-Type: text\r\n\r\nx");

	(void)state;
	assert_true(mime_part_is(root, "text", "plain"));
	assert_int_equal(root->flags, MIME_PART_FLAG_TYPE_DEFAULT);
	mime_part_free(&root);
	root = parse("content-type :TEXT / HTML ; CharSet=\"x\"\r\n\r\nx");
	assert_true(mime_part_is(root, "text", "html"));
	assert_string_equal(root->type, "text");
	assert_string_equal(mime_part_param(root, "charset"), "x");
	mime_part_free(&root);
}

/* Nesting 1,000 deep: parsed to max_depth, the rest opaque. */
static void
test_deep(void **state)
{
	struct buf m;
	struct mime_part *root;
	const struct mime_part *p;
	unsigned int depth = 0;
	struct mime_limits lim;

	(void)state;
	buf_init(&m);
	for (int i = 0; i < 1000; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\r\n"
			   "\r\n--b%d\r\n", i, i);
	buf_puts(&m, "\r\ndeep\r\n");
	for (int i = 0; i < 500; i++)
		buf_puts(&m, "Content-Type: message/rfc822\r\n\r\n");
	root = mime_parse(m.data, m.len, NULL);
	check_part(root, m.data, m.len);
	for (p = root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, MIME_DEFAULT_MAX_DEPTH);
	assert_int_equal(p->flags, MIME_PART_FLAG_OPAQUE);
	assert_true(mime_part_is(p, "application", "octet-stream"));
	mime_part_free(&root);

	mime_limits_default(&lim);
	lim.max_depth = 3;
	root = parse_lim(m.data, 2000, &lim);
	depth = 0;
	for (p = root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, 3);
	mime_part_free(&root);
	buf_deinit(&m);
}

/* More parts than max_parts: the rest is the last part's. */
static void
test_max_parts(void **state)
{
	struct buf m;
	struct mime_part *root;
	struct mime_limits lim;

	(void)state;
	buf_init(&m);
	buf_puts(&m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 10; i++)
		buf_printf(&m, "--b\r\n\r\npart %d\r\n", i);
	buf_puts(&m, "--b--\r\n");
	mime_limits_default(&lim);
	lim.max_parts = 4;
	root = parse_lim(m.data, m.len, &lim);
	assert_int_equal(root->child_count, 3);
	assert_true((root->flags & MIME_PART_FLAG_OPAQUE) != 0);
	/* the rest is after the last part, like an epilogue */
	assert_body(nth(root, 2), m.data, "part 2", 1);
	mime_part_free(&root);

	/* a header over max_header_size: later fields are not read */
	lim.max_parts = 10;
	lim.max_header_size = 20;
	root = parse_lim("X-Long: 0123456789\r\nContent-Type: text/html\r\n\r\n",
			 46, &lim);
	assert_true(mime_part_is(root, "text", "plain"));
	assert_int_equal(root->header_size, 46);
	assert_true((root->flags & MIME_PART_FLAG_HEADER_TRUNCATED) != 0);
	mime_part_free(&root);
	buf_deinit(&m);
}

/* A long line of padding after a delimiter, and one with text after. */
static void
test_padding(void **state)
{
	struct buf m;
	struct mime_part *root;

	(void)state;
	buf_init(&m);
	buf_puts(&m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b");
	for (int i = 0; i < 500; i++)
		buf_puts(&m, " \t");
	buf_puts(&m, "\r\n\r\none\r\n--b");
	for (int i = 0; i < 500; i++)
		buf_puts(&m, " ");
	buf_puts(&m, "x\r\n--b--\r\n");
	root = parse_lim(m.data, m.len, NULL);
	assert_int_equal(root->child_count, 1);
	assert_int_equal(nth(root, 0)->body_lines, 2);
	mime_part_free(&root);
	buf_deinit(&m);
}

/* A delimiter right after a message's empty line (fuzz-mime found the
 * message reaching 2 octets past its part): the line break is the
 * header's, the parts around end after it. */
static void
test_delimiter_after_header(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			"--b\r\n"
			"Content-Type: message/rfc822\r\n\r\n"
			"Subject: inner\r\n\r\n"
			"--b\r\n"
			"--b--\r\n";
	struct mime_part *root = parse(m);
	const struct mime_part *p1, *inner;

	(void)state;
	assert_int_equal(root->child_count, 2);
	p1 = nth(root, 0);
	inner = nth(p1, 0);
	assert_int_equal(inner->header_size, strlen("Subject: inner\r\n\r\n"));
	assert_int_equal(inner->body_size, 0);
	assert_int_equal(p1->body_offset + p1->body_size, inner->body_offset);
	assert_int_equal(p1->body_lines, 2);
	/* the empty part between two delimiters */
	assert_int_equal(nth(root, 1)->header_size, 0);
	assert_int_equal(nth(root, 1)->header_offset, off(m, "--b--"));
	mime_part_free(&root);
}

/* multipart/alternative as a part of multipart/mixed, with an
 * attachment after it; the first Content-Type counts. */
static void
test_alternative_in_mixed(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=\"=_m\"\r\n"
			"Content-Type: text/html\r\n\r\n"
			"--=_m\r\n"
			"Content-Type: multipart/alternative; boundary=\"=_a\"\r\n"
			"\r\n"
			"preamble\r\n"
			"--=_a\r\nContent-Type: text/plain\r\n\r\nalpha\r\n\r\n"
			"--=_a\r\nContent-Type: text/html\r\n\r\n<b>beta</b>\r\n"
			"--=_a--\r\nepilogue\r\n"
			"--=_m\r\nContent-Type: image/png\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n"
			"--=_m--\r\n";
	struct mime_part *root = parse(m);
	const struct mime_part *alt;

	(void)state;
	assert_true(mime_part_is(root, "multipart", "mixed"));
	assert_int_equal(root->child_count, 2);
	alt = nth(root, 0);
	assert_true(mime_part_is(alt, "multipart", "alternative"));
	assert_int_equal(alt->child_count, 2);
	assert_body(nth(alt, 0), m, "alpha\r\n", 1);
	assert_body(nth(alt, 1), m, "<b>beta</b>", 1);
	/* the alternative's body: preamble to epilogue */
	assert_body(alt, m, "preamble\r\n--=_a\r\nContent-Type: text/plain"
		    "\r\n\r\nalpha\r\n\r\n--=_a\r\nContent-Type: text/html\r\n"
		    "\r\n<b>beta</b>\r\n--=_a--\r\nepilogue", 12);
	assert_body(nth(root, 1), m, "iVBORw0K", 1);
	mime_part_free(&root);
}

/* A lone CR before the empty line ends the header, as for
 * mail/header-field, which then reads the same fields. */
static void
test_lone_cr_header(void **state)
{
	const char *m = "Subject: a\r\r\nContent-Type: text/html\r\n\r\n";
	struct mime_part *root = parse(m);

	(void)state;
	assert_int_equal(root->header_size, strlen("Subject: a\r\r\n"));
	assert_true(mime_part_is(root, "text", "plain"));
	mime_part_free(&root);
	m = "Content-Type: text/html\r\rX: y\r\n\r\nbody";
	root = parse(m);
	assert_true(mime_part_is(root, "text", "html"));
	assert_body(root, m, "body", 1);
	mime_part_free(&root);
}

/* An encoded message/rfc822 is not looked into. */
static void
test_encoded_message(void **state)
{
	const char *m = "Content-Type: message/rfc822\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n"
			"U3ViamVjdDogeAoKeAo=\r\n";
	struct mime_part *root = parse(m);

	(void)state;
	assert_null(root->children);
	assert_int_equal(root->flags, MIME_PART_FLAG_OPAQUE);
	mime_part_free(&root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_text),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_bare_cr),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_missing_boundary),
		cmocka_unit_test(test_no_delimiter),
		cmocka_unit_test(test_unclosed),
		cmocka_unit_test(test_prefix_boundary),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_no_final_crlf),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_bad_content_type),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_max_parts),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_encoded_message),
		cmocka_unit_test(test_delimiter_after_header),
		cmocka_unit_test(test_alternative_in_mixed),
		cmocka_unit_test(test_lone_cr_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
