/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the inbound header filter (src/smtp/smtp-ar-filter.h):
 * which Authentication-Results fields claim our authserv-id as a mail
 * client reads it (comments, folding, quoting, case; look-alike ids
 * kept), the filtered message being the same however it is cut, and
 * the same as the octet-by-octet reference (tests/fuzz/ar-filter-ref.h)
 * gives on random headers.
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
#include "smtp/smtp-ar-filter.h"

#include "feed-split.h"
#include "../fuzz/ar-filter-ref.h"

#define ID "mx.example.net"

static void
test_claims(void **state)
{
	static const struct {
		const char *body;
		bool claims;
	} cases[] = {
		{ " mx.example.net; spf=pass", true },
		{ " MX.Example.NET; spf=pass", true },
		{ "mx.example.net;none", true },
		{ " (comment (nested) \\) ) mx.example.net ; dkim=pass", true },
		{ "\r\n\tmx.example.net\r\n\t; dkim=pass", true },
		{ " \"mx.example.net\"; dkim=pass", true },
		{ " \"mx.ex\\ample.net\"; dkim=pass", true },
		{ " mx.example.net 1; dkim=pass", true },
		{ " mx.example.net(c); dkim=pass", true },
		{ " mx.example.net", true },
		{ " mx.example.net.evil.test; dkim=pass", false },
		{ " xmx.example.net; dkim=pass", false },
		{ " mx.example.ne; dkim=pass", false },
		{ " mx.example.net/1; dkim=pass", false },
		{ " mx.example.net@x; dkim=pass", false },
		{ " other.example.net; mx.example.net", false },
		{ " (mx.example.net) other; dkim=pass", false },
		{ " \"mx.example.net; dkim=pass", false },
		{ "", false },
		{ " ; spf=pass", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = smtp_ar_claims(cases[i].body, strlen(cases[i].body),
					  ID);

		if (got != cases[i].claims)
			fail_msg("case %zu \"%s\": %d", i, cases[i].body, got);
	}
}

static void
collect(const uint8_t *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
}

struct feed_ctx {
	struct smtp_ar_filter *f;
};

static size_t
feed(const uint8_t *data, size_t len, void *ctx)
{
	struct feed_ctx *c = ctx;

	smtp_ar_filter_feed(c->f, data, len);
	return len;
}

static void
check_filter(const char *in, const char *want, unsigned removed)
{
	for (unsigned way = 0; way < 40; way++) {
		struct smtp_ar_filter f;
		struct buf out;
		struct feed_ctx c = { &f };

		buf_init(&out);
		smtp_ar_filter_init(&f, ID, collect, &out);
		feed_split(in, strlen(in), way, 0, feed, &c);
		smtp_ar_filter_finish(&f);
		if (out.len != strlen(want) ||
		    memcmp(out.data, want, out.len) != 0)
			fail_msg("way %u: got \"%.*s\"", way, (int)out.len,
				 out.data);
		assert_int_equal(f.removed, removed);
		smtp_ar_filter_deinit(&f);
		buf_deinit(&out);
	}
}

static void
test_filter(void **state)
{
	(void)state;
	check_filter("From: a\r\nSubject: b\r\n\r\nbody\r\n",
		     "From: a\r\nSubject: b\r\n\r\nbody\r\n", 0);
	check_filter("Authentication-Results: mx.example.net; spf=pass\r\n"
		     "From: a\r\n\r\nbody\r\n",
		     "From: a\r\n\r\nbody\r\n", 1);
	check_filter("From: a\r\n"
		     "authentication-results : (x)\r\n MX.EXAMPLE.NET\r\n"
		     "\t; dkim=pass\r\n"
		     "Authentication-Results: other.test; dkim=pass\r\n"
		     "Subject: s\r\n\r\n"
		     "Authentication-Results: mx.example.net; body line\r\n",
		     "From: a\r\n"
		     "Authentication-Results: other.test; dkim=pass\r\n"
		     "Subject: s\r\n\r\n"
		     "Authentication-Results: mx.example.net; body line\r\n",
		     1);
	/* a message that is all header, its last field ours */
	check_filter("From: a\r\nAuthentication-Results: mx.example.net; x\r\n",
		     "From: a\r\n", 1);
	/* a name that is not a field name (no colon) passes */
	check_filter("Authentication-Results mx.example.net\r\n\r\nb",
		     "Authentication-Results mx.example.net\r\n\r\nb", 0);
	/* X-Authentication-Results is another field */
	check_filter("X-Authentication-Results: mx.example.net;\r\n\r\n",
		     "X-Authentication-Results: mx.example.net;\r\n\r\n", 0);
}

static void
test_long_field(void **state)
{
	struct buf in, want;

	(void)state;
	buf_init(&in);
	buf_init(&want);
	/* over the buffering limit: judged on its start */
	buf_puts(&in, "Authentication-Results: mx.example.net; x=");
	for (size_t i = 0; i < SMTP_AR_FIELD_MAX; i++)
		buf_putc(&in, 'a');
	buf_puts(&in, "\r\nFrom: a\r\n\r\nb");
	buf_puts(&want, "From: a\r\n\r\nb");
	check_filter(in.data, want.data, 1);
	/* the limit falls on the field's last LF: the next field is a
	 * field of its own, kept (ours) or after the kept one (not ours) */
	for (int ours = 0; ours < 2; ours++) {
		const char *start = ours ? "Authentication-Results: "
					   "mx.example.net; x="
					 : "Authentication-Results: "
					   "other.test; x=";

		buf_reset(&in);
		buf_puts(&in, start);
		while (in.len < SMTP_AR_FIELD_MAX - 1)
			buf_putc(&in, 'a');
		buf_puts(&in, "\r\n");
		assert_int_equal(in.len, SMTP_AR_FIELD_MAX + 1);
		buf_reset(&want);
		if (!ours)
			buf_append(&want, in.data, in.len);
		buf_puts(&in, "From: a\r\n\r\nb");
		buf_puts(&want, "From: a\r\n\r\nb");
		check_filter(in.data, want.data, ours ? 1 : 0);
	}
	buf_deinit(&in);
	buf_deinit(&want);
}

/* Random headers of the pieces the filter decides on (names of every
 * case, white space before the colon up to the name limit, folding,
 * bare CR and LF, ids that are and are not ours, fields over the
 * buffering limit), each filtered in random pieces: the same output and
 * count as the reference. */
static const char *const pieces[] = {
	"Authentication-Results", "authentication-results",
	"AUTHENTICATION-RESULTS", "Authentication-Result",
	"X-Authentication-Results", "Authentication-Resultsx",
	"From", "Subject", "A", "Au", ":", " :", "\t:", ": ", " ", "\t",
	"\r\n", "\n", "\r", "\r\n ", "\r\n\t", "\r\n\r\n",
	" mx.example.net;", " MX.example.NET ; spf=pass", " other.test;",
	" (c) mx.example.net", " \"mx.example.net\";", "x", "body text",
};

static void
ref_collect(const uint8_t *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
}

static unsigned
filter_in_pieces(const struct buf *in, unsigned seed, bool ref,
		 struct buf *out)
{
	struct smtp_ar_filter f;
	unsigned removed;
	size_t i = 0;

	if (ref)
		ref_ar_filter_init(&f, ID, ref_collect, out);
	else
		smtp_ar_filter_init(&f, ID, collect, out);
	srand(seed);
	while (i < in->len) {
		size_t n = seed % 3 == 0 ? in->len - i
			   : 1 + (size_t)rand() % (seed % 3 == 1 ? 3 : 200);

		if (n > in->len - i)
			n = in->len - i;
		if (ref)
			ref_ar_filter_feed(&f, (const uint8_t *)in->data + i,
					   n);
		else
			smtp_ar_filter_feed(&f, (const uint8_t *)in->data + i,
					    n);
		i += n;
	}
	if (ref)
		ref_ar_filter_finish(&f);
	else
		smtp_ar_filter_finish(&f);
	removed = f.removed;
	if (ref)
		ref_ar_filter_deinit(&f);
	else
		smtp_ar_filter_deinit(&f);
	return removed;
}

static void
test_same_as_reference(void **state)
{
	struct buf in, a, b;

	(void)state;
	buf_init(&in);
	buf_init(&a);
	buf_init(&b);
	for (unsigned round = 0; round < 20000; round++) {
		unsigned n;

		srand(round + 1);
		n = 1 + (unsigned)rand() % 40;
		buf_reset(&in);
		for (unsigned k = 0; k < n; k++) {
			int r = rand() % 100;

			if (r == 0) {
				/* white space up to and past the name limit,
				 * mostly with the colon after it */
				size_t w = SMTP_AR_NAME_MAX - 25 +
					   (size_t)rand() % 6;

				buf_puts(&in, "Authentication-Results");
				for (size_t j = 0; j < w; j++)
					buf_putc(&in, rand() % 2 ? ' ' : '\t');
				if (rand() % 4 != 0)
					buf_putc(&in, ':');
			} else if (r == 1 && round % 10 == 0) {
				/* a field of ours past the buffering limit,
				 * folded every 1-100 octets (its limit falls
				 * on a line end now and then) */
				size_t w = SMTP_AR_FIELD_MAX - 100 +
					   (size_t)rand() % 200;
				size_t fold = 1 + (size_t)rand() % 100;

				buf_puts(&in, "Authentication-Results: "
					 "mx.example.net;");
				for (size_t j = 0; j < w; j++) {
					if (j % fold == fold - 1)
						buf_puts(&in, rand() % 2 ?
							 "\r\n\t" : "\n ");
					else
						buf_putc(&in, 'v');
				}
			} else {
				buf_puts(&in, pieces[(size_t)rand() %
					  (sizeof(pieces) / sizeof(pieces[0]))]);
			}
		}
		buf_reset(&a);
		buf_reset(&b);
		unsigned seed = round * 7 + 3;
		unsigned ra = filter_in_pieces(&in, seed, true, &a);
		unsigned rb = filter_in_pieces(&in, seed + 1, false, &b);

		if (ra != rb || a.len != b.len ||
		    memcmp(a.data, b.data, a.len) != 0)
			fail_msg("round %u: removed %u/%u, out %zu/%zu octets",
				 round, ra, rb, a.len, b.len);
	}
	buf_deinit(&in);
	buf_deinit(&a);
	buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_long_field),
		cmocka_unit_test(test_same_as_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
