/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the inbound header filter (src/smtp/smtp-ar-filter.h):
 * which Authentication-Results fields claim our authserv-id as a mail
 * client reads it (comments, folding, quoting, case; look-alike ids
 * kept), and the filtered message being the same however it is cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-ar-filter.h"

#include "feed-split.h"

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
	buf_deinit(&in);
	buf_deinit(&want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_long_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
