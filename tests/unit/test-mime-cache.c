/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the MIME structure record (mail/mime-cache): a parsed
 * tree survives writing and reading member for member, BODYSTRUCTURE and
 * ENVELOPE from the record equal those from the message, and damaged or
 * hostile records (truncated, flipped, another version, impossible
 * shapes) are refused without a crash.
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
#include "imap/imap-envelope.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime-cache.h"
#include "mail/mime.h"

static const char msg_mixed[] =
	"Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
	"From: \"A. Person\" <a@example.org>\r\n"
	"To: b@example.org,\r\n"
	" c@example.org\r\n"
	"Subject: =?utf-8?q?mixed?=\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"Received: from x\r\n"
	"To: second@example.org\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"Body text.\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Description: forwarded\r\n"
	"Content-ID: <fwd@example.org>\r\n"
	"\r\n"
	"From: c@example.org\r\n"
	"Subject: inner\r\n"
	"Cc: group: d@example.org, e@example.org;\r\n"
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
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: application/pdf; name*=utf-8''r%C3%A9port.pdf\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	"Content-Language: en, fr\r\n"
	"Content-Location: http://example.org/report.pdf\r\n"
	"\r\n"
	"SGVsbG8gd29ybGQh\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

static const char msg_plain_lf[] =
	"Subject: bare LF\n"
	"From: x@example.org\n"
	"\n"
	"line one\n"
	"line two";

static const char msg_no_header_end[] =
	"Subject: never ends\r\n"
	"X: y";

static const char msg_empty[] = "";

static const char *const messages[] = {
	msg_mixed, msg_plain_lf, msg_no_header_end, msg_empty,
};

static void
record_of(const char *msg, struct buf *out)
{
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);

	buf_init(out);
	mime_cache_write_mem(out, root, (const uint8_t *)msg, strlen(msg));
	mime_part_free(&root);
}

static void
assert_ostr_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
assert_params_equal(const struct mime_param *a, unsigned int na,
		    const struct mime_param *b, unsigned int nb)
{
	assert_int_equal(na, nb);
	for (unsigned int i = 0; i < na; i++) {
		assert_string_equal(a[i].name, b[i].name);
		assert_string_equal(a[i].value, b[i].value);
		assert_ostr_equal(a[i].charset, b[i].charset);
		assert_ostr_equal(a[i].language, b[i].language);
	}
}

static void
assert_tree_equal(const struct mime_part *a, const struct mime_part *b)
{
	for (; a != NULL || b != NULL; a = a->next, b = b->next) {
		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(a->child_count, b->child_count);
		assert_int_equal(a->depth, b->depth);
		assert_int_equal(a->header_offset, b->header_offset);
		assert_int_equal(a->header_size, b->header_size);
		assert_int_equal(a->body_offset, b->body_offset);
		assert_int_equal(a->body_size, b->body_size);
		assert_int_equal(a->body_lines, b->body_lines);
		assert_int_equal(a->flags, b->flags);
		assert_string_equal(a->type, b->type);
		assert_string_equal(a->subtype, b->subtype);
		assert_params_equal(a->params, a->param_count, b->params,
				    b->param_count);
		assert_ostr_equal(a->encoding, b->encoding);
		assert_ostr_equal(a->id, b->id);
		assert_ostr_equal(a->description, b->description);
		assert_ostr_equal(a->location, b->location);
		assert_ostr_equal(a->md5, b->md5);
		assert_ostr_equal(a->disposition, b->disposition);
		assert_params_equal(a->disposition_params,
				    a->disposition_param_count,
				    b->disposition_params,
				    b->disposition_param_count);
		assert_int_equal(a->language_count, b->language_count);
		for (unsigned int i = 0; i < a->language_count; i++)
			assert_string_equal(a->languages[i], b->languages[i]);
		assert_tree_equal(a->children, b->children);
		if (a->parent == NULL)
			break;
	}
}

static void
env_from_cache(struct buf *out, const struct mime_part *msg,
	       const uint8_t *data, size_t size, void *context)
{
	const struct mime_cache *c = context;
	size_t len;
	const char *env = mime_cache_envelope(c, msg, &len);

	assert_non_null(env);
	imap_envelope_write(out, env, len, NULL, 0);
}

static void
test_round_trip(void **state)
{
	for (size_t m = 0; m < sizeof(messages) / sizeof(messages[0]); m++) {
		const char *msg = messages[m];
		size_t len = strlen(msg);
		struct mime_part *root = mime_parse(msg, len, NULL);
		struct mime_cache *c = NULL;
		const char *error = NULL;
		struct buf rec, a, b, rec2;

		buf_init(&rec);
		mime_cache_write_mem(&rec, root, (const uint8_t *)msg, len);
		assert_int_equal(mime_cache_read((const uint8_t *)rec.data,
						 rec.len, len, &c, &error), 0);
		assert_tree_equal(root, c->root);

		/* the same BODYSTRUCTURE, nested envelopes included */
		buf_init(&a);
		buf_init(&b);
		imap_bodystructure_write(&a, root, (const uint8_t *)msg, len,
			&(struct imap_bodystructure_params){
				.extended = true,
				.envelope = imap_envelope_part_write });
		imap_bodystructure_write(&b, c->root, NULL, 0,
			&(struct imap_bodystructure_params){
				.extended = true, .envelope = env_from_cache,
				.envelope_context = c });
		assert_string_equal(a.data, b.data);

		/* the same ENVELOPE */
		buf_reset(&a);
		buf_reset(&b);
		imap_envelope_write(&a, msg, (size_t)root->header_size, NULL,
				    0);
		env_from_cache(&b, c->root, NULL, 0, c);
		assert_string_equal(a.data, b.data);

		/* writing what was read gives the record again */
		buf_init(&rec2);
		mime_cache_write_mem(&rec2, c->root, (const uint8_t *)msg,
				     len);
		assert_int_equal(rec.len, rec2.len);
		assert_memory_equal(rec.data, rec2.data, rec.len);

		buf_deinit(&rec2);
		buf_deinit(&a);
		buf_deinit(&b);
		buf_deinit(&rec);
		mime_cache_free(&c);
		assert_null(c);
		mime_part_free(&root);
	}
}

static void
test_envelope_first_field(void **state)
{
	struct buf rec;
	struct mime_cache *c = NULL;
	const char *error, *env;
	size_t len;

	record_of(msg_mixed, &rec);
	assert_int_equal(mime_cache_read((const uint8_t *)rec.data, rec.len,
					 strlen(msg_mixed), &c, &error), 0);
	env = mime_cache_envelope(c, c->root, &len);
	assert_non_null(env);
	/* the first To, folded as stored; no Received, no second To */
	assert_non_null(strstr(env, "To: b@example.org,\r\n c@example.org\r\n"));
	assert_null(strstr(env, "second"));
	assert_null(strstr(env, "Received"));
	assert_int_equal(memcmp(env + len - 4, "\r\n\r\n", 4), 0);
	/* a leaf has none; the nested message has its own */
	assert_null(mime_cache_envelope(c, c->root->children, &len));
	env = mime_cache_envelope(c, c->root->children->next->children, &len);
	assert_non_null(env);
	assert_non_null(strstr(env, "Subject: inner"));
	buf_deinit(&rec);
	mime_cache_free(&c);
}

static void
test_truncated_and_flipped(void **state)
{
	struct buf rec;
	size_t msg_len = strlen(msg_mixed);

	record_of(msg_mixed, &rec);
	for (size_t n = 0; n < rec.len; n++) {
		struct mime_cache *c = NULL;
		const char *error = NULL;

		assert_int_equal(mime_cache_read((const uint8_t *)rec.data, n,
						 msg_len, &c, &error), -1);
		assert_null(c);
		assert_non_null(error);
	}
	/* any flipped octet: refused, or a tree that checks out */
	for (size_t i = 0; i < rec.len; i++) {
		for (unsigned int bit = 0; bit < 8; bit++) {
			uint8_t *copy = xmemdup(rec.data, rec.len);
			struct mime_cache *c = NULL;
			const char *error = NULL;

			copy[i] ^= (uint8_t)(1u << bit);
			if (mime_cache_read(copy, rec.len, msg_len, &c,
					    &error) == 0) {
				struct buf out;

				buf_init(&out);
				imap_bodystructure_write(&out, c->root, NULL,
					0, &(struct imap_bodystructure_params){
						.extended = true });
				assert_true(out.len > 0);
				buf_deinit(&out);
				mime_cache_free(&c);
			}
			free(copy);
		}
	}
	buf_deinit(&rec);
}

static void
test_version_and_size(void **state)
{
	struct buf rec;
	struct mime_cache *c = NULL;
	const char *error = NULL;
	size_t len = strlen(msg_plain_lf);

	record_of(msg_plain_lf, &rec);
	assert_int_equal(mime_cache_read((const uint8_t *)rec.data, rec.len,
					 len + 1, &c, &error), -1);
	assert_string_equal(error, "made for another message size");
	rec.data[3] = MIME_CACHE_VERSION + 1;
	assert_int_equal(mime_cache_read((const uint8_t *)rec.data, rec.len,
					 len, &c, &error), -1);
	assert_string_equal(error, "another version");
	rec.data[0] = 'X';
	assert_int_equal(mime_cache_read((const uint8_t *)rec.data, rec.len,
					 len, &c, &error), -1);
	buf_deinit(&rec);
}

/* A record made by hand: header, then parts. */
static void
hostile_start(struct buf *b, uint64_t msg_size, const char *counts)
{
	buf_init(b);
	buf_append(b, "HMC", 3);
	buf_putc(b, MIME_CACHE_VERSION);
	buf_putc(b, (char)msg_size);
	buf_puts(b, counts);
}

/* children, flags, hoff, hsize, bsize, lines, "text" "plain", no params,
 * six absent strings, no dparams, no languages, then the envelope */
static void
hostile_part(struct buf *b, uint8_t children, uint8_t hoff, uint8_t hsize,
	     uint8_t bsize, const char *type, bool env)
{
	const uint8_t nums[] = { children, 0, hoff, hsize, bsize, 0 };
	const char *slash = strchr(type, '/');

	buf_append(b, nums, sizeof(nums));
	buf_putc(b, (char)(slash - type));
	buf_append(b, type, (size_t)(slash - type));
	buf_putc(b, (char)strlen(slash + 1));
	buf_puts(b, slash + 1);
	buf_append(b, "\0\0\0\0\0\0\0\0\0", 9);
	if (env)
		buf_append(b, "\x03\r\n", 3);
	else
		buf_putc(b, 0);
}

static void
assert_refused(struct buf *b, uint64_t msg_size, const char *why)
{
	struct mime_cache *c = NULL;
	const char *error = NULL;

	assert_int_equal(mime_cache_read((const uint8_t *)b->data, b->len,
					 msg_size, &c, &error), -1);
	assert_null(c);
	assert_string_equal(error, why);
	buf_deinit(b);
}

static void
test_hostile_records(void **state)
{
	struct buf b;
	struct mime_cache *c = NULL;
	const char *error = NULL;

	/* a well-formed one, for reference */
	hostile_start(&b, 10, "\x01");
	hostile_part(&b, 0, 0, 2, 8, "text/plain", true);
	assert_int_equal(mime_cache_read((const uint8_t *)b.data, b.len, 10,
					 &c, &error), 0);
	assert_int_equal(c->root->body_offset, 2);
	mime_cache_free(&c);
	buf_deinit(&b);

	/* the body runs past the message */
	hostile_start(&b, 10, "\x01");
	hostile_part(&b, 0, 0, 2, 9, "text/plain", true);
	assert_refused(&b, 10, "part outside its parent");

	/* a count larger than the record */
	hostile_start(&b, 10, "\xff\xff\xff\xff\x0f");
	assert_refused(&b, 10, "count out of range");

	/* a leaf with a child */
	hostile_start(&b, 10, "\x02");
	hostile_part(&b, 1, 0, 2, 8, "text/plain", true);
	hostile_part(&b, 0, 2, 1, 1, "text/plain", false);
	assert_refused(&b, 10, "children under a leaf");

	/* a child outside its parent's body */
	hostile_start(&b, 10, "\x02");
	hostile_part(&b, 1, 0, 2, 4, "multipart/mixed", true);
	hostile_part(&b, 0, 2, 1, 4, "text/plain", false);
	assert_refused(&b, 10, "part outside its parent");

	/* a multipart announcing more parts than there are */
	hostile_start(&b, 10, "\x02");
	hostile_part(&b, 2, 0, 2, 8, "multipart/mixed", true);
	hostile_part(&b, 0, 2, 1, 1, "text/plain", false);
	assert_refused(&b, 10, "more children than parts");

	/* more parts than the tree holds */
	hostile_start(&b, 10, "\x02");
	hostile_part(&b, 0, 0, 2, 8, "text/plain", true);
	hostile_part(&b, 0, 2, 1, 1, "text/plain", false);
	assert_refused(&b, 10, "more parts than the tree holds");

	/* an envelope on a part that is no message */
	hostile_start(&b, 10, "\x02");
	hostile_part(&b, 1, 0, 2, 8, "multipart/mixed", true);
	hostile_part(&b, 0, 2, 1, 1, "text/plain", true);
	assert_refused(&b, 10, "envelope where none belongs");

	/* a NUL inside a type */
	hostile_start(&b, 10, "\x01");
	hostile_part(&b, 0, 0, 2, 8, "te\x01t/plain", true);
	b.data[4 + 1 + 1 + 6 + 1 + 2] = '\0';
	assert_refused(&b, 10, "NUL in a string");

	/* trailing octets */
	hostile_start(&b, 10, "\x01");
	hostile_part(&b, 0, 0, 2, 8, "text/plain", true);
	buf_putc(&b, 0);
	assert_refused(&b, 10, "octets after the tree");

	/* a number of more than 64 bits */
	hostile_start(&b, 10, "");
	buf_append(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
	assert_refused(&b, 10, "number too large");
}

/* A deep tree: nested message/rfc822 parts, to the parser's depth limit,
 * round-trip without recursion trouble. */
static void
test_deep(void **state)
{
	struct buf msg, rec;
	struct mime_part *root;
	struct mime_cache *c = NULL;
	const char *error;

	buf_init(&msg);
	for (int i = 0; i < 300; i++)
		buf_puts(&msg, "Content-Type: message/rfc822\r\n\r\n");
	buf_puts(&msg, "Subject: bottom\r\n\r\nbody\r\n");
	root = mime_parse(msg.data, msg.len, NULL);
	buf_init(&rec);
	mime_cache_write_mem(&rec, root, (const uint8_t *)msg.data, msg.len);
	assert_int_equal(mime_cache_read((const uint8_t *)rec.data, rec.len,
					 msg.len, &c, &error), 0);
	assert_tree_equal(root, c->root);
	mime_cache_free(&c);
	mime_part_free(&root);
	buf_deinit(&rec);
	buf_deinit(&msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_envelope_first_field),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_version_and_size),
		cmocka_unit_test(test_hostile_records),
		cmocka_unit_test(test_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
