/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for NOTIFY's argument parser (imap-notify-parse.c): the
 * forms of RFC 5465 8 read from real command lines through the command
 * parser, the composition rules of 5 and 6.1 (BAD), and unknown or
 * unsupported events kept for the BADEVENT answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-notify.h"
#include "imap/imap-parser.h"
#include "lib/buf.h"

/* Parses "t NOTIFY <args>"; the parser must outlive the request. */
static int
parse(struct imap_parser **p, const char *args,
      struct imap_notify_request *req, const char **error_r)
{
	char line[2048];
	size_t consumed = 0;
	const struct imap_command *cmd;

	*p = imap_parser_new(NULL);
	snprintf(line, sizeof(line), "t NOTIFY %s\r\n", args);
	if (imap_parser_feed(*p, (const uint8_t *)line, strlen(line),
			     &consumed) != IMAP_PARSE_DONE) {
		memset(req, 0, sizeof(*req));
		*error_r = imap_parser_error(*p)->text;
		return -1;
	}
	cmd = imap_parser_command(*p);
	return imap_notify_parse(cmd->args, cmd->n_args, req, error_r);
}

static void
test_none(void **state)
{
	struct imap_parser *p;
	struct imap_notify_request req;
	const char *error = NULL;

	(void)state;
	assert_int_equal(parse(&p, "none", &req, &error), 0);
	assert_true(req.none);
	assert_int_equal(req.n_groups, 0);
	imap_notify_request_deinit(&req);
	imap_parser_free(&p);
}

static void
test_rfc_examples(void **state)
{
	struct imap_parser *p;
	struct imap_notify_request req;
	const char *error = NULL, *str;
	size_t len;

	(void)state;
	/* RFC 5465 3.1 (with erratum 1804) */
	assert_int_equal(parse(&p, "set status (selected (MessageNew (uid "
			       "body.peek[header.fields (from to subject)]) "
			       "MessageExpunge)) (subtree Lists "
			       "(MessageNew))", &req, &error), -1);
	/* MessageNew alone is BAD (5): the example's second group */
	assert_non_null(error);
	imap_parser_free(&p);

	assert_int_equal(parse(&p, "SET STATUS (selected (MessageNew (uid "
			       "body.peek[header.fields (from to subject)]) "
			       "MessageExpunge)) (subtree (Lists \"Other\") "
			       "(MessageNew MessageExpunge)) (mailboxes misc "
			       "(MessageNew MessageExpunge FlagChange))",
			       &req, &error), 0);
	assert_false(req.none);
	assert_true(req.status);
	assert_true(req.selected);
	assert_false(req.delayed);
	assert_int_equal(req.selected_events, IMAP_NOTIFY_MESSAGE_NEW |
			 IMAP_NOTIFY_MESSAGE_EXPUNGE);
	assert_non_null(req.fetch_atts);
	assert_int_equal(req.fetch_atts->list_count, 2);
	assert_int_equal(req.n_groups, 2);
	assert_int_equal(req.groups[0].filter, IMAP_NOTIFY_SUBTREE);
	assert_int_equal(req.groups[0].n_names, 2);
	assert_true(imap_arg_get_astring(req.groups[0].names[1], &str, &len));
	assert_string_equal(str, "Other");
	assert_int_equal(req.groups[1].filter, IMAP_NOTIFY_MAILBOXES);
	assert_int_equal(req.groups[1].n_names, 1);
	assert_int_equal(req.groups[1].events, IMAP_NOTIFY_MESSAGE_NEW |
			 IMAP_NOTIFY_MESSAGE_EXPUNGE |
			 IMAP_NOTIFY_FLAG_CHANGE);
	assert_int_equal(req.events_used & ~IMAP_NOTIFY_SUPPORTED, 0);
	imap_notify_request_deinit(&req);
	imap_parser_free(&p);
}

static void
test_filters(void **state)
{
	struct imap_parser *p;
	struct imap_notify_request req;
	const char *error = NULL;

	(void)state;
	assert_int_equal(parse(&p, "SET (selected-delayed NONE) (inboxes "
			       "(MessageNew MessageExpunge)) (personal "
			       "(MailboxName SubscriptionChange)) (subscribed "
			       "NONE)", &req, &error), 0);
	assert_true(req.selected);
	assert_true(req.delayed);
	assert_int_equal(req.selected_events, 0);
	assert_null(req.fetch_atts);
	assert_int_equal(req.n_groups, 3);
	assert_int_equal(req.groups[0].filter, IMAP_NOTIFY_INBOXES);
	assert_int_equal(req.groups[1].filter, IMAP_NOTIFY_PERSONAL);
	assert_int_equal(req.groups[1].events, IMAP_NOTIFY_MAILBOX_NAME |
			 IMAP_NOTIFY_SUBSCRIPTION_CHANGE);
	assert_int_equal(req.groups[2].filter, IMAP_NOTIFY_SUBSCRIBED);
	assert_int_equal(req.groups[2].events, 0);
	imap_notify_request_deinit(&req);
	imap_parser_free(&p);
}

static void
test_unsupported_events(void **state)
{
	static const struct {
		const char *args;
		unsigned unsupported;
	} cases[] = {
		/* sent since METADATA and METADATA-SERVER (RFC 5465 5.9,
		 * 5.10 make them required then) */
		{ "SET (personal (MailboxMetadataChange))", 0 },
		{ "SET (personal (ServerMetadataChange MailboxName))", 0 },
		{ "SET (subtree Lists (MailboxMetadataChange "
		  "ServerMetadataChange))", 0 },
		{ "SET (selected (MessageNew MessageExpunge "
		  "AnnotationChange))", IMAP_NOTIFY_ANNOTATION_CHANGE },
		{ "SET (personal (XFuture))", IMAP_NOTIFY_UNKNOWN },
		/* an unknown event may be a message event to its sender */
		{ "SET (selected (XFuture))", IMAP_NOTIFY_UNKNOWN },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_parser *p;
		struct imap_notify_request req;
		const char *error = NULL;

		if (parse(&p, cases[i].args, &req, &error) != 0)
			fail_msg("%s: %s", cases[i].args, error);
		assert_int_equal(req.events_used & ~IMAP_NOTIFY_SUPPORTED,
				 cases[i].unsupported);
		imap_notify_request_deinit(&req);
		imap_parser_free(&p);
	}
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {
		"SET", "SET STATUS", "BOGUS", "NONE extra", "SET NONE",
		"SET personal", "SET ()", "SET (personal)",
		"SET (selected (MessageNew))",
		"SET (selected (MessageExpunge))",
		"SET (personal (FlagChange))",
		"SET (personal (MessageNew FlagChange))",
		"SET (personal (AnnotationChange MessageExpunge))",
		"SET (selected (MailboxName))",
		"SET (selected (MailboxMetadataChange))",
		"SET (selected-delayed (ServerMetadataChange))",
		"SET (selected-delayed (SubscriptionChange))",
		"SET (selected NONE) (selected-delayed NONE)",
		"SET (selected NONE) (selected NONE)",
		"SET (selected NONE extra)",
		"SET (personal (MessageNew (UID) MessageExpunge))",
		"SET (selected (MessageNew (BOGUS) MessageExpunge))",
		"SET (selected (MessageNew () MessageExpunge))",
		"SET (selected (MessageNew (UID) (UID) MessageExpunge))",
		"SET (selected (MessageExpunge (UID) MessageNew))",
		"SET (personal ())", "SET (personal (\"MessageNew\"))",
		"SET (subtree (MailboxName))",
		"SET (subtree Lists)",
		"SET (mailboxes () (MailboxName))",
		"SET (mailboxes (a (b)) (MailboxName))",
		"SET (mailboxes a b (MailboxName))",
		"SET (personal x (MailboxName))",
		"SET (nowhere (MailboxName))",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_parser *p;
		struct imap_notify_request req;
		const char *error = NULL;

		if (parse(&p, bad[i], &req, &error) != -1)
			fail_msg("%s was not refused", bad[i]);
		assert_non_null(error);
		assert_int_equal(req.n_groups, 0);
		assert_null(req.groups);
		imap_parser_free(&p);
	}
}

static void
test_write_events(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	imap_notify_write_events(&b, IMAP_NOTIFY_SUPPORTED);
	assert_string_equal(b.data, "MessageNew MessageExpunge FlagChange "
			    "MailboxName SubscriptionChange "
			    "MailboxMetadataChange ServerMetadataChange");
	buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_unsupported_events),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_write_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
