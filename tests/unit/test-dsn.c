/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/queue/dsn*: NOTIFY rules, the report builder (every
 * RFC 3464 field, what is returned per RET and size, folding, hostile
 * remote replies, UTF-8 addresses) and dsn_send() into a real store (the
 * sender's INBOX, the queue, the null sender, an unknown sender). With
 * HERALD_DSN_DUMP=DIR the built reports are also written there for
 * tests/integration/test_dsn_format.py, which parses them with Python's
 * email package.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "queue/dsn.h"
#include "store/store.h"
#include "store-fixture.h"

/* 2026-12-07 01:00:00 UTC */
#define NOW ((time_t)1796605200)

static const char orig_msg[] =
	"Received: from client.example.test ([192.0.2.1])\r\n"
	"\tby mail.example.test (Herald) with ESMTPSA id ABC;\r\n"
	"\tMon, 7 Dec 2026 00:00:00 +0000\r\n"
	"From: Alice <alice@example.test>\r\n"
	"To: bob@example.org, carol@example.org\r\n"
	"Subject: Lunch\r\n"
	"Message-ID: <lunch.1@example.test>\r\n"
	"\r\n"
	"Shall we meet at noon?\r\n";

static const struct dsn_build_settings base_set = {
	.hostname = "mail.example.test",
	.now = NOW,
	.message_id = "dsn.1@mail.example.test",
	.return_size_max = 50 * 1024,
	.headers_max = 64 * 1024,
};

/* Writes the report to $HERALD_DSN_DUMP/name.eml when set. */
static void
dump(const char *name, const struct buf *b)
{
	const char *dir = getenv("HERALD_DSN_DUMP");
	char *path;
	FILE *f;

	if (dir == NULL || dir[0] == '\0')
		return;
	path = xasprintf("%s/%s.eml", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		fail_msg("cannot write %s", path);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* Every line ends in CRLF, none is longer than 998 octets, no bare CR
 * or LF, no NUL. */
static void
check_lines(const struct buf *b)
{
	size_t start = 0;

	assert_true(b->len >= 2);
	for (size_t i = 0; i < b->len; i++) {
		assert_int_not_equal(b->data[i], '\0');
		if (b->data[i] == '\r') {
			assert_true(i + 1 < b->len);
			assert_int_equal(b->data[i + 1], '\n');
			assert_true(i - start <= 998);
			start = i + 2;
			i++;
		} else {
			assert_int_not_equal(b->data[i], '\n');
		}
	}
	assert_int_equal(start, b->len);
}

static bool
has(const struct buf *b, const char *s)
{
	return strstr(b->data, s) != NULL;
}

/* b with folding undone (RFC 5322 2.2.3: the CRLF before white space
 * removed), for checks that should not depend on where a line breaks. */
static bool
has_unfolded(const struct buf *b, const char *s)
{
	struct buf u;
	bool found;

	buf_init(&u);
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r' && i + 2 < b->len &&
		    b->data[i + 1] == '\n' &&
		    (b->data[i + 2] == ' ' || b->data[i + 2] == '\t')) {
			i++;
			continue;
		}
		buf_putc(&u, b->data[i]);
	}
	found = strstr(u.data, s) != NULL;
	buf_deinit(&u);
	return found;
}

static bool
is_7bit(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if ((uint8_t)b->data[i] >= 0x80)
			return false;
	}
	return true;
}

static void
test_notify_wants(void **state)
{
	static const struct {
		const char *notify;
		enum dsn_action action;
		bool want;
	} cases[] = {
		{ NULL, DSN_ACTION_FAILED, true },
		{ NULL, DSN_ACTION_DELAYED, true },
		{ NULL, DSN_ACTION_DELIVERED, false },
		{ NULL, DSN_ACTION_RELAYED, false },
		{ "", DSN_ACTION_FAILED, true },
		{ "NEVER", DSN_ACTION_FAILED, false },
		{ "NEVER", DSN_ACTION_DELIVERED, false },
		{ "SUCCESS", DSN_ACTION_DELIVERED, true },
		{ "SUCCESS", DSN_ACTION_EXPANDED, true },
		{ "SUCCESS", DSN_ACTION_RELAYED, true },
		{ "SUCCESS", DSN_ACTION_FAILED, false },
		{ "SUCCESS", DSN_ACTION_DELAYED, false },
		{ "success,failure", DSN_ACTION_FAILED, true },
		{ "SUCCESS,FAILURE", DSN_ACTION_DELAYED, false },
		{ "FAILURE,DELAY", DSN_ACTION_DELAYED, true },
		{ "DELAY", DSN_ACTION_FAILED, false },
		/* a keyword is a whole item, not a prefix */
		{ "SUCCESSFUL", DSN_ACTION_DELIVERED, false },
		{ "FAIL", DSN_ACTION_FAILED, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (dsn_notify_wants(cases[i].notify, cases[i].action) !=
		    cases[i].want)
			fail_msg("case %zu: NOTIFY=%s %s", i,
				 cases[i].notify ? cases[i].notify : "(none)",
				 dsn_action_name(cases[i].action));
	}
	assert_string_equal(dsn_action_name(DSN_ACTION_EXPANDED), "expanded");
	assert_string_equal(dsn_result_name(DSN_NULL_SENDER), "null-sender");
}

static const struct dsn_rcpt bob_550 = {
	.address = "bob@example.org",
	.orcpt = "rfc822;Bob@Example.org",
	.action = DSN_ACTION_FAILED,
	.status = "5.1.1",
	.remote_mta = "mx.example.org",
	.diagnostic = "550-5.1.1 The email account that you tried to reach "
		      "does not exist.\r\n"
		      "550 5.1.1 Please check the address: no such user here",
	.diagnostic_smtp = true,
	.last_attempt = NOW - 60,
};

static const struct dsn_report base_rep = {
	.queue_id = "Q1234567890A",
	.blob_id = "",
	.size = sizeof(orig_msg) - 1,
	.env_from = "alice@example.test",
	.dsn_envid = "env-42",
	.arrival = NOW - 3600,
	.rcpts = &bob_550,
	.n_rcpts = 1,
};

static void
test_build_failed(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(dsn_build(&base_rep, &base_set,
				   (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	dump("failed", &b);
	check_lines(&b);
	assert_true(is_7bit(&b));
	assert_true(has(&b, "From: \"Mail Delivery System\" "
			    "<MAILER-DAEMON@mail.example.test>\r\n"));
	assert_true(has(&b, "\r\nTo: <alice@example.test>\r\n"));
	assert_true(has(&b, "\r\nSubject: Undelivered Mail Returned to "
			    "Sender\r\n"));
	assert_true(has(&b, "\r\nDate: Mon, 7 Dec 2026 01:00:00 +0000\r\n"));
	assert_true(has(&b, "\r\nMessage-ID: <dsn.1@mail.example.test>\r\n"));
	assert_true(has(&b, "\r\nAuto-Submitted: auto-replied\r\n"));
	assert_true(has(&b, "\r\nMIME-Version: 1.0\r\n"));
	assert_true(has(&b, "\r\nContent-Type: multipart/report; "
			    "report-type=delivery-status;\r\n\tboundary=\""));
	assert_true(has(&b, "\r\nContent-Type: message/delivery-status\r\n"));
	assert_true(has(&b, "\r\nReporting-MTA: dns; mail.example.test\r\n"));
	assert_true(has(&b, "\r\nX-Herald-Queue-ID: Q1234567890A\r\n"));
	assert_true(has(&b, "\r\nOriginal-Envelope-Id: env-42\r\n"));
	assert_true(has(&b, "\r\nArrival-Date: Mon, 7 Dec 2026 00:00:00 "
			    "+0000\r\n"));
	assert_true(has(&b, "\r\nOriginal-Recipient: rfc822; "
			    "Bob@Example.org\r\n"));
	assert_true(has(&b, "\r\nFinal-Recipient: rfc822; "
			    "bob@example.org\r\n"));
	assert_true(has(&b, "\r\nAction: failed\r\n"));
	assert_true(has(&b, "\r\nStatus: 5.1.1\r\n"));
	assert_true(has(&b, "\r\nRemote-MTA: dns; mx.example.org\r\n"));
	/* one field, the repeated "550-5.1.1" dropped, folded */
	assert_true(has(&b, "\r\nDiagnostic-Code: smtp; 550 5.1.1 The email "
			    "account that you tried to reach"
			    "\r\n does not exist. Please check the address: "
			    "no such user here\r\n"));
	assert_true(has(&b, "\r\nLast-Attempt-Date: Mon, 7 Dec 2026 00:59:00 "
			    "+0000\r\n"));
	assert_false(has(&b, "Will-Retry-Until"));
	/* the text quotes the reply as the remote wrote it */
	assert_true(has(&b, "<bob@example.org>: delivery failed (5.1.1)"));
	assert_true(has(&b, "\r\n    The mail server mx.example.org "
			    "answered:\r\n    550-5.1.1 The email account"));
	assert_true(has(&b, "\r\n    550 5.1.1 Please check the address: no "
			    "such user here\r\n"));
	/* small enough: the whole message comes back */
	assert_true(has(&b, "\r\nContent-Type: message/rfc822\r\n\r\n"
			    "Received: from client.example.test"));
	assert_true(has(&b, "\r\nShall we meet at noon?\r\n"));
	assert_true(has(&b, "\r\nContent-Type: text/plain; "
			    "charset=us-ascii\r\n"));
	buf_deinit(&b);
}

static void
test_build_headers_only(void **state)
{
	struct dsn_report rep = base_rep;
	struct dsn_build_settings set = base_set;
	struct buf b;

	/* RET=HDRS */
	rep.dsn_ret = "HDRS";
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	check_lines(&b);
	assert_true(has(&b, "\r\nContent-Type: text/rfc822-headers\r\n\r\n"
			    "Received: from"));
	assert_true(has(&b, "Message-ID: <lunch.1@example.test>\r\n\r\n--"));
	assert_false(has(&b, "Shall we meet"));
	assert_false(has(&b, "message/rfc822"));
	buf_deinit(&b);

	/* RET=FULL, but larger than return_size_max */
	rep.dsn_ret = "FULL";
	set.return_size_max = 100;
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	dump("failed-headers", &b);
	check_lines(&b);
	assert_true(has(&b, "text/rfc822-headers"));
	assert_false(has(&b, "Shall we meet"));
	buf_deinit(&b);

	/* only a prefix was read: never returned as if whole */
	set.return_size_max = 50 * 1024;
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 10, &b), 1);
	check_lines(&b);
	assert_true(has(&b, "text/rfc822-headers"));
	assert_false(has(&b, "Shall we meet"));
	buf_deinit(&b);

	/* the header cut at a field boundary: Received (3 lines) and From
	 * fit in 170 octets, the To line does not */
	set.headers_max = 170;
	rep.dsn_ret = "HDRS";
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	check_lines(&b);
	assert_true(has(&b, "From: Alice <alice@example.test>\r\n\r\n--"));
	assert_false(has(&b, "To: bob@example.org"));
	buf_deinit(&b);

	/* a body that is no valid message text (bare LF, a line over 998
	 * octets) is not returned as it is: the header is */
	{
		static const char bad[] = "Subject: x\r\n\r\nbare\nLF\r\n";
		struct dsn_report r2 = base_rep;
		struct buf big;

		r2.size = sizeof(bad) - 1;
		buf_init(&b);
		assert_int_equal(dsn_build(&r2, &base_set,
					   (const uint8_t *)bad, r2.size, &b),
				 1);
		check_lines(&b);
		assert_true(has(&b, "text/rfc822-headers\r\n\r\n"
				    "Subject: x\r\n\r\n--"));
		assert_false(has(&b, "bare"));
		buf_deinit(&b);

		buf_init(&big);
		buf_puts(&big, "Subject: y\r\n\r\n");
		for (int i = 0; i < 1200; i++)
			buf_putc(&big, 'z');
		buf_puts(&big, "\r\n");
		r2.size = big.len;
		buf_init(&b);
		assert_int_equal(dsn_build(&r2, &base_set,
					   (const uint8_t *)big.data, big.len,
					   &b), 1);
		check_lines(&b);
		assert_true(has(&b, "Subject: y\r\n\r\n--"));
		assert_true(has(&b, "the header of your message is"));
		buf_deinit(&b);
		buf_deinit(&big);

		/* a NUL in the header: nothing returned, and the text
		 * does not claim otherwise */
		r2.size = 12;
		buf_init(&b);
		assert_int_equal(dsn_build(&r2, &base_set,
					   (const uint8_t *)"Subj\0ct: x\r\n",
					   12, &b), 1);
		check_lines(&b);
		assert_false(has(&b, "rfc822-headers"));
		assert_false(has(&b, "message/rfc822"));
		assert_false(has(&b, "attached"));
		buf_deinit(&b);
	}

	/* the blob was gone: no third part, the report still goes */
	buf_init(&b);
	assert_int_equal(dsn_build(&base_rep, &base_set, NULL, 0, &b), 1);
	check_lines(&b);
	assert_false(has(&b, "rfc822-headers"));
	assert_false(has(&b, "message/rfc822"));
	assert_true(has(&b, "Action: failed"));
	buf_deinit(&b);
}

static void
test_build_delayed_and_success(void **state)
{
	struct dsn_rcpt rc[2] = {
		{
			.address = "carol@example.org",
			.action = DSN_ACTION_DELAYED,
			.status = "4.4.1",
			.diagnostic = "connect to mx.example.org[192.0.2.7]:25: "
				      "Connection refused",
			.last_attempt = NOW - 10,
			.retry_until = NOW + 5 * 86400,
		},
		{
			.address = "dave@example.org",
			.notify = "SUCCESS",
			.action = DSN_ACTION_DELIVERED,
			.status = "2.0.0",
			.remote_mta = "mx.example.org",
			.diagnostic = "250 2.0.0 Ok: queued as 4F2",
			.diagnostic_smtp = true,
		},
	};
	struct dsn_report rep = base_rep;
	struct buf b;

	rep.rcpts = &rc[0];
	rep.n_rcpts = 1;
	rep.dsn_envid = NULL;
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &base_set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	dump("delayed", &b);
	check_lines(&b);
	assert_true(has(&b, "\r\nSubject: Delayed Mail (still being "
			    "retried)\r\n"));
	assert_true(has(&b, "\r\nAction: delayed\r\n"));
	assert_true(has(&b, "\r\nStatus: 4.4.1\r\n"));
	assert_true(has_unfolded(&b, "\r\nDiagnostic-Code: X-Herald; connect to "
			    "mx.example.org[192.0.2.7]:25: Connection refused"
			    "\r\n"));
	assert_true(has(&b, "\r\nWill-Retry-Until: Sat, 12 Dec 2026 01:00:00 "
			    "+0000\r\n"));
	assert_false(has(&b, "Remote-MTA"));
	assert_false(has(&b, "Original-Envelope-Id"));
	assert_false(has(&b, "Original-Recipient"));
	/* a delay report returns only the header */
	assert_true(has(&b, "text/rfc822-headers"));
	assert_false(has(&b, "Shall we meet"));
	buf_deinit(&b);

	rep.rcpts = &rc[1];
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &base_set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	dump("delivered", &b);
	check_lines(&b);
	assert_true(has(&b, "\r\nSubject: Successful Mail Delivery "
			    "Report\r\n"));
	assert_true(has(&b, "\r\nAction: delivered\r\n"));
	assert_true(has(&b, "\r\nDiagnostic-Code: smtp; 250 2.0.0 Ok: queued "
			    "as 4F2\r\n"));
	assert_true(has(&b, "text/rfc822-headers"));
	buf_deinit(&b);

	/* the success report is not wanted without NOTIFY=SUCCESS */
	rc[1].notify = NULL;
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &base_set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 0);
	assert_int_equal(b.len, 0);
	/* mixed: only the wanted ones are reported, the worst decides */
	rep.rcpts = rc;
	rep.n_rcpts = 2;
	assert_int_equal(dsn_build(&rep, &base_set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	assert_true(has(&b, "carol@example.org"));
	assert_false(has(&b, "dave@example.org"));
	buf_deinit(&b);
}

/* A remote's reply is peer text: long, with no spaces, with control
 * characters and a line that tries to start a field of its own. */
static void
test_build_hostile_reply(void **state)
{
	struct dsn_rcpt r = bob_550;
	struct dsn_report rep = base_rep;
	struct buf reply, b;
	const char *p;

	buf_init(&reply);
	buf_puts(&reply, "550-5.7.1 ");
	for (int i = 0; i < 3000; i++)
		buf_putc(&reply, (char)('a' + i % 26));
	buf_puts(&reply, "\r\n550-5.7.1 \x01\x1b[31mred\r\r\n"
			 "550-5.7.1 \xff\xfe bad utf-8 \xc3\xa9\n"
			 "Final-Recipient: rfc822; evil@example.net\r\n");
	for (int i = 0; i < 200; i++)
		buf_puts(&reply, "550-5.7.1 word word word word\r\n");
	buf_puts(&reply, "550 5.7.1 end\r\n");
	r.diagnostic = reply.data;
	r.status = "5.7.1; injected";	/* not a status: replaced */
	rep.rcpts = &r;
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &base_set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	dump("hostile", &b);
	check_lines(&b);
	assert_true(is_7bit(&b));
	assert_true(has(&b, "\r\nStatus: 5.0.0\r\n"));
	assert_false(has(&b, "\r\nFinal-Recipient: rfc822; evil"));
	assert_false(has(&b, "\x1b"));
	/* every Diagnostic-Code line but the first is a continuation */
	assert_true(has_unfolded(&b, "\r\nDiagnostic-Code: smtp; 550 5.7.1 abcd"));
	assert_true(has_unfolded(&b, "[31mred ?? bad utf-8 ?? Final-Recipient: "
				     "rfc822; evil@example.net word word"));
	p = strstr(b.data, "\r\nDiagnostic-Code: smtp; 550 5.7.1");
	assert_non_null(p);
	p += 2;
	for (;;) {
		const char *eol = strstr(p, "\r\n");

		assert_non_null(eol);
		if (eol[2] != ' ' && eol[2] != '\t')
			break;
		p = eol + 2;
	}
	assert_true(strncmp(strstr(p, "\r\n") - 3, "end", 3) == 0);
	buf_deinit(&b);
	buf_deinit(&reply);
}

static void
test_build_utf8(void **state)
{
	struct dsn_rcpt r = {
		.address = "jörg@exämple.org",
		.orcpt = "utf-8;jörg@exämple.org",
		.action = DSN_ACTION_FAILED,
		.status = "5.1.1",
		.remote_mta = "mx.xn--exmple-cua.org",
		.diagnostic = "550 5.1.1 Benutzer unbekannt: jörg",
		.diagnostic_smtp = true,
	};
	static const char umsg[] = "From: Zoë <zoe@example.test>\r\n"
				   "To: jörg@exämple.org\r\n"
				   "Subject: Grüße\r\n"
				   "\r\n"
				   "Hallo Jörg\r\n";
	struct dsn_report rep = base_rep;
	struct buf b;

	rep.rcpts = &r;
	rep.smtputf8 = true;
	rep.size = sizeof(umsg) - 1;
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &base_set, (const uint8_t *)umsg,
				   sizeof(umsg) - 1, &b), 1);
	dump("utf8", &b);
	check_lines(&b);
	assert_true(has(&b, "report-type=global-delivery-status;"));
	assert_true(has(&b, "\r\nContent-Type: message/global-delivery-status"
			    "\r\nContent-Transfer-Encoding: 8bit\r\n"));
	assert_true(has(&b, "\r\nFinal-Recipient: utf-8; jörg@exämple.org\r\n"));
	assert_true(has(&b, "\r\nOriginal-Recipient: utf-8; "
			    "jörg@exämple.org\r\n"));
	assert_true(has(&b, "\r\nDiagnostic-Code: smtp; 550 5.1.1 Benutzer "
			    "unbekannt: jörg\r\n"));
	assert_true(has(&b, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: 8bit\r\n"));
	assert_true(has(&b, "\r\nContent-Type: message/global\r\n"
			    "Content-Transfer-Encoding: 8bit\r\n"));
	assert_true(has(&b, "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
			    "This is a MIME"));
	buf_deinit(&b);

	/* an ASCII report keeps a UTF-8 reply 7-bit */
	r.address = "joerg@example.org";
	r.orcpt = NULL;
	rep.smtputf8 = false;
	rep.size = sizeof(orig_msg) - 1;
	buf_init(&b);
	assert_int_equal(dsn_build(&rep, &base_set, (const uint8_t *)orig_msg,
				   sizeof(orig_msg) - 1, &b), 1);
	check_lines(&b);
	assert_true(is_7bit(&b));
	assert_true(has(&b, "report-type=delivery-status;"));
	assert_true(has(&b, "Benutzer unbekannt: j??rg"));
	buf_deinit(&b);
}

/* ---- dsn_send() into a real store ---- */

struct fixture {
	struct test_store ts;
	struct config *cfg;
	char blob_id[STORE_BLOB_ID_LEN + 1];
};

static const char *const people[] = {
	"user alice@example.test",
	"alias list@example.test alice@example.test",
	"alias fwd@example.test someone@remote.test",
	NULL,
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *error = NULL;

	test_store_open(&f->ts, "dsn");
	test_store_fill(&f->ts, people);
	f->cfg = f->ts.cfg;
	f->cfg->hostname = xstrdup("mail.example.test");
	f->cfg->bounce.return_size_max = 50 * 1024;
	f->cfg->bounce.headers_max = 64 * 1024;
	if (store_blob_put(f->ts.store, orig_msg, sizeof(orig_msg) - 1,
			   f->blob_id, &error) != STORE_OK)
		fail_msg("blob: %s", error);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	free(f->cfg->hostname);
	test_store_close(&f->ts);
	free(f);
	return 0;
}

static char *
inbox_last(struct fixture *f, const char *address, size_t *count_r)
{
	struct store_mailbox *box = NULL;
	struct store_message *msgs = NULL;
	int64_t account = test_store_user_id(&f->ts, address);
	uint8_t *data = NULL;
	size_t n = 0, len = 0;
	const char *error = NULL;

	assert_int_equal(store_mailbox_lookup(f->ts.store, account, "INBOX",
					      &box, &error), STORE_OK);
	assert_int_equal(store_message_list(f->ts.store, box->id, &msgs, &n,
					    &error), STORE_OK);
	store_mailbox_free(&box);
	*count_r = n;
	if (n == 0)
		return NULL;
	assert_int_equal(store_blob_read(f->ts.store, msgs[n - 1].blob_id,
					 &data, &len, &error), STORE_OK);
	free(msgs);
	return (char *)data;
}

static void
test_send_local(void **state)
{
	struct fixture *f = *state;
	struct dsn_report rep = base_rep;
	const char *error = NULL;
	int64_t qid = -1;
	size_t count = 0;
	char *m;

	rep.blob_id = f->blob_id;
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, &qid, &error),
			 DSN_DELIVERED);
	assert_int_equal(qid, 0);
	m = inbox_last(f, "alice@example.test", &count);
	assert_int_equal(count, 1);
	assert_non_null(m);
	/* from the null sender, with our trace, the report, the message */
	assert_true(strncmp(m, "Return-Path: <>\r\n", 17) == 0);
	assert_non_null(strstr(m, "\r\nReceived: by mail.example.test "
				  "(Herald)\r\n\tid "));
	assert_non_null(strstr(m, "\r\nSubject: Undelivered Mail Returned to "
				  "Sender\r\n"));
	assert_non_null(strstr(m, "\r\nFinal-Recipient: rfc822; "
				  "bob@example.org\r\n"));
	assert_non_null(strstr(m, "\r\nShall we meet at noon?\r\n"));
	free(m);

	/* through an alias of the sender */
	rep.env_from = "list@example.test";
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_DELIVERED);
	free(inbox_last(f, "alice@example.test", &count));
	assert_int_equal(count, 2);
}

static void
test_send_remote(void **state)
{
	struct fixture *f = *state;
	struct dsn_report rep = base_rep;
	struct store_queue_entry *q = NULL;
	size_t nq = 0;
	const char *error = NULL;
	int64_t qid = 0;
	uint8_t *data = NULL;
	size_t len = 0;

	rep.blob_id = f->blob_id;
	rep.env_from = "someone@remote.test";
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, &qid, &error),
			 DSN_QUEUED);
	assert_true(qid > 0);
	assert_int_equal(store_queue_list(f->ts.store, 0, &q, &nq, &error),
			 STORE_OK);
	assert_int_equal(nq, 1);
	assert_int_equal(q[0].id, qid);
	assert_string_equal(q[0].env_from, "");
	assert_int_equal(q[0].n_rcpts, 1);
	assert_string_equal(q[0].rcpts[0].address, "someone@remote.test");
	assert_string_equal(q[0].rcpts[0].dsn_notify, "NEVER");
	assert_false(q[0].need_8bitmime || q[0].need_smtputf8);
	assert_int_equal(store_blob_read(f->ts.store, q[0].blob_id, &data,
					 &len, &error), STORE_OK);
	assert_non_null(strstr((char *)data, "\r\nTo: <someone@remote.test>"
					     "\r\n"));
	assert_non_null(strstr((char *)data, "\r\nAction: failed\r\n"));
	free(data);
	store_queue_entries_free(&q, nq);

	/* to a UTF-8 sender: a global report, over SMTPUTF8 */
	rep.env_from = "j\xc3\xb6rg@remote.test";
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, &qid, &error),
			 DSN_QUEUED);
	assert_int_equal(store_queue_list(f->ts.store, 0, &q, &nq, &error),
			 STORE_OK);
	assert_int_equal(nq, 2);
	assert_true(q[1].need_8bitmime && q[1].need_smtputf8);
	store_queue_entries_free(&q, nq);
}

static void
test_send_no_report(void **state)
{
	struct fixture *f = *state;
	struct dsn_report rep = base_rep;
	struct dsn_rcpt r = bob_550;
	struct store_queue_entry *q = NULL;
	size_t nq = 0, count = 0;
	const char *error = NULL;

	rep.blob_id = f->blob_id;
	/* never a bounce for a bounce */
	rep.env_from = "";
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_NULL_SENDER);
	/* our domain, nobody there: dropped */
	rep.env_from = "nobody@example.test";
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_SENDER_UNKNOWN);
	/* NOTIFY=NEVER */
	r.notify = "NEVER";
	rep.rcpts = &r;
	rep.env_from = "alice@example.test";
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_NOT_WANTED);
	assert_null(inbox_last(f, "alice@example.test", &count));
	assert_int_equal(count, 0);
	assert_int_equal(store_queue_list(f->ts.store, 0, &q, &nq, &error),
			 STORE_OK);
	assert_int_equal(nq, 0);
	store_queue_entries_free(&q, nq);
}

static void
test_send_big_message(void **state)
{
	struct fixture *f = *state;
	struct dsn_report rep = base_rep;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	const char *error = NULL;
	struct buf big;
	size_t count = 0;
	char *m;

	/* larger than return_size_max and than the inline blob limit: read
	 * as a prefix from the file, returned as the header */
	buf_init(&big);
	buf_append(&big, orig_msg, sizeof(orig_msg) - 1);
	while (big.len < 300 * 1024)
		buf_puts(&big, "0123456789012345678901234567890123456789"
			       "0123456789012345678901234567890123456\r\n");
	assert_int_equal(store_blob_put(f->ts.store, big.data, big.len,
					blob_id, &error), STORE_OK);
	rep.blob_id = blob_id;
	rep.size = big.len;
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_DELIVERED);
	m = inbox_last(f, "alice@example.test", &count);
	assert_non_null(strstr(m, "\r\nContent-Type: text/rfc822-headers"
				  "\r\n\r\nReceived: from"));
	assert_null(strstr(m, "Shall we meet"));
	assert_true(strlen(m) < 8192);
	free(m);

	/* the blob is gone: reported without it */
	rep.blob_id = "0000000000000000000000000000000000000000000000000000"
		      "000000000000";
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_DELIVERED);
	m = inbox_last(f, "alice@example.test", &count);
	assert_int_equal(count, 2);
	assert_non_null(strstr(m, "\r\nAction: failed\r\n"));
	assert_null(strstr(m, "rfc822-headers"));
	free(m);
	buf_deinit(&big);
}

/* The owed marks of a queue entry ride in the report's own commit: one
 * commit stores the report and clears them (a crash between two would
 * report it twice); a report refused (over quota) clears nothing. */
static int64_t
owed_entry(struct fixture *f, int64_t *rcpt_id_r)
{
	static const struct store_queue_rcpt rc = {
		.address = "bob@example.org",
	};
	struct store_queue_entry *e = NULL;
	struct store_queue_result res = {
		.status = STORE_QUEUE_BOUNCED, .last_error = "550 no",
		.dsn_status = "5.1.1", .attempted = true,
		.notify = STORE_QUEUE_NOTIFY_FAILURE,
	};
	const char *error = NULL;
	int64_t id = 0;

	assert_int_equal(store_queue_insert(f->ts.store, f->blob_id,
					    sizeof(orig_msg) - 1,
					    "alice@example.test", NULL, NULL,
					    &rc, 1, &id, &error), STORE_OK);
	assert_int_equal(store_queue_get(f->ts.store, id, &e, &error),
			 STORE_OK);
	res.rcpt_id = e->rcpts[0].id;
	*rcpt_id_r = res.rcpt_id;
	store_queue_entries_free(&e, 1);
	assert_int_equal(store_queue_record(f->ts.store, id, &res, 1, NULL,
					    &error), STORE_OK);
	return id;
}

static void
test_send_clears_marks_in_its_commit(void **state)
{
	struct fixture *f = *state;
	struct dsn_report rep = base_rep;
	struct store_queue_entry *e = NULL;
	struct store_stats before, after;
	const char *error = NULL;
	int64_t rcpt_id = 0;
	int64_t id = owed_entry(f, &rcpt_id);
	struct store_queue_notified marks = {
		.id = id, .rcpt_ids = &rcpt_id, .count = 1,
	};
	size_t count = 0;

	rep.blob_id = f->blob_id;
	rep.notified = &marks;
	/* refused: the report is not stored and the mark stays */
	assert_int_equal(store_user_set_quota(f->ts.store,
					      "alice@example.test", 10,
					      &error), STORE_OK);
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_REFUSED);
	assert_int_equal(store_queue_get(f->ts.store, id, &e, &error),
			 STORE_OK);
	assert_int_equal(e->rcpts[0].notify, STORE_QUEUE_NOTIFY_FAILURE);
	store_queue_entries_free(&e, 1);
	assert_false(marks.finished);

	/* stored: report and cleared mark in one commit, entry gone */
	assert_int_equal(store_user_set_quota(f->ts.store,
					      "alice@example.test", 0,
					      &error), STORE_OK);
	store_get_stats(f->ts.store, &before);
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_DELIVERED);
	store_get_stats(f->ts.store, &after);
	assert_int_equal(after.commits - before.commits, 1);
	assert_true(marks.finished);
	assert_int_equal(store_queue_get(f->ts.store, id, &e, &error),
			 STORE_E_NOT_FOUND);
	free(inbox_last(f, "alice@example.test", &count));
	assert_int_equal(count, 1);

	/* the entry deleted meanwhile: the report is stored all the same */
	marks.finished = false;
	assert_int_equal(dsn_send(f->ts.store, f->cfg, &rep, NULL, &error),
			 DSN_DELIVERED);
	assert_false(marks.finished);
	free(inbox_last(f, "alice@example.test", &count));
	assert_int_equal(count, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_wants),
		cmocka_unit_test(test_build_failed),
		cmocka_unit_test(test_build_headers_only),
		cmocka_unit_test(test_build_delayed_and_success),
		cmocka_unit_test(test_build_hostile_reply),
		cmocka_unit_test(test_build_utf8),
		cmocka_unit_test_setup_teardown(test_send_local, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_send_remote, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_send_no_report, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_send_big_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_send_clears_marks_in_its_commit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
