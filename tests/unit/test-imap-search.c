/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for SEARCH programs (imap-search): the grammar of every key,
 * RETURN and CHARSET, the complexity limits, what the view decides for
 * sample messages, and the Date field's day.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "store/store.h"

static const char *const sk_names[] = {
	"ALL", "AND", "OR", "NOT", "FLAGS", "UNFLAGS", "KEYWORD",
	"UNKEYWORD", "RECENT", "NEW", "OLD", "BEFORE", "ON", "SINCE",
	"SENTBEFORE", "SENTON", "SENTSINCE", "LARGER", "SMALLER", "SEQ",
	"UID", "HEADER", "BODY", "TEXT", "OLDER", "YOUNGER", "SAVEDBEFORE",
	"SAVEDON", "SAVEDSINCE", "EMAILID", "THREADID", "MODSEQ", "UIDAFTER",
	"UIDBEFORE",
};

static void
dump(const struct imap_search_key *k, struct buf *out)
{
	buf_puts(out, sk_names[k->type]);
	switch (k->type) {
	case IMAP_SK_FLAGS:
	case IMAP_SK_UNFLAGS:
		buf_printf(out, ":%u", k->flags);
		break;
	case IMAP_SK_KEYWORD:
	case IMAP_SK_UNKEYWORD:
		buf_printf(out, ":%u", k->kw);
		break;
	case IMAP_SK_BEFORE: case IMAP_SK_ON: case IMAP_SK_SINCE:
	case IMAP_SK_SENTBEFORE: case IMAP_SK_SENTON: case IMAP_SK_SENTSINCE:
		buf_printf(out, ":%lld", (long long)k->day);
		break;
	case IMAP_SK_LARGER:
	case IMAP_SK_SMALLER:
	case IMAP_SK_UIDAFTER:
	case IMAP_SK_UIDBEFORE:
		buf_printf(out, ":%llu", (unsigned long long)k->size);
		break;
	case IMAP_SK_SEQ:
	case IMAP_SK_UID:
		if (k->set.saved)
			buf_puts(out, ":$");
		for (size_t i = 0; i < k->set.count; i++)
			buf_printf(out, "%c%u-%u", i == 0 ? ':' : ',',
				   k->set.ranges[i].first,
				   k->set.ranges[i].last);
		break;
	case IMAP_SK_HEADER:
		buf_printf(out, ":%s=%s", k->field, k->str);
		break;
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		buf_printf(out, ":%s", k->str);
		break;
	default:
		break;
	}
	if (k->n_children > 0) {
		buf_putc(out, '(');
		for (size_t i = 0; i < k->n_children; i++) {
			if (i > 0)
				buf_putc(out, ' ');
			dump(&k->children[i], out);
		}
		buf_putc(out, ')');
	}
}

/* Parses "SEARCH <text>" as the session would. */
static enum imap_search_parse_result
parse(const char *args, const struct imap_search_limits *lim,
      struct imap_search_program *prog, const char **error_r)
{
	static struct imap_parser *parser;
	char *line = xasprintf("t SEARCH %s\r\n", args);
	struct imap_parser_limits pl;
	size_t consumed;
	enum imap_parse_result r;
	const struct imap_command *cmd;

	imap_parser_limits_default(&pl);
	pl.depth_max = 100;
	imap_parser_free(&parser);
	parser = imap_parser_new(&pl);
	r = imap_parser_feed(parser, (const uint8_t *)line, strlen(line),
			     &consumed);
	free(line);
	if (r != IMAP_PARSE_DONE) {
		*error_r = "imap parser";
		return IMAP_SEARCH_PARSE_BAD;
	}
	cmd = imap_parser_command(parser);
	return imap_search_parse(cmd->args, cmd->n_args, lim, prog, error_r);
}

static void
expect(const char *args, const char *want)
{
	struct imap_search_program prog;
	const char *error = NULL;
	struct buf b;

	if (parse(args, NULL, &prog, &error) != IMAP_SEARCH_PARSE_OK)
		fail_msg("%s: %s", args, error);
	buf_init(&b);
	if (prog.has_return)
		buf_printf(&b, "R%u ", prog.ret);
	if (prog.ret & IMAP_SEARCH_RET_PARTIAL)
		buf_printf(&b, "P%lld:%lld ", (long long)prog.partial.lo,
			   (long long)prog.partial.hi);
	dump(&prog.root, &b);
	if (strcmp(b.data, want) != 0)
		fail_msg("%s:\n got  %s\n want %s", args, b.data, want);
	buf_deinit(&b);
	imap_search_program_deinit(&prog);
}

static void
expect_bad(const char *args, enum imap_search_parse_result want)
{
	struct imap_search_program prog;
	const char *error = NULL;
	enum imap_search_parse_result r = parse(args, NULL, &prog, &error);

	if (r != want)
		fail_msg("%s: got %d want %d", args, r, want);
	assert_non_null(error);
}

static void
test_keys(void **state)
{
	(void)state;
	expect("ALL", "AND(ALL)");
	expect("seen unanswered DELETED undeleted", "AND(FLAGS:1 UNFLAGS:2 "
	       "FLAGS:8 UNFLAGS:8)");
	expect("DRAFT UNDRAFT FLAGGED UNFLAGGED UNSEEN ANSWERED",
	       "AND(FLAGS:16 UNFLAGS:16 FLAGS:4 UNFLAGS:4 UNFLAGS:1 "
	       "FLAGS:2)");
	expect("NEW OLD RECENT", "AND(NEW OLD RECENT)");
	expect("KEYWORD $Forwarded UNKEYWORD foo KEYWORD $forwarded",
	       "AND(KEYWORD:0 UNKEYWORD:1 KEYWORD:0)");
	expect("BEFORE 1-Jan-1970 ON \"02-Jan-1970\" SINCE 29-Feb-2024",
	       "AND(BEFORE:0 ON:1 SINCE:19782)");
	expect("LARGER 100 SMALLER 9223372036854775807",
	       "AND(LARGER:100 SMALLER:9223372036854775807)");
	expect("1:3,5,* UID 7:* $", "AND(SEQ:1-3,5-5,4294967295-4294967295 "
	       "UID:7-4294967295 SEQ:$)");
	/* cheap keys first, then header keys, then text */
	expect("TEXT \"Grüße\" SENTON 1-Feb-1994 FROM \"Jörg\" SEEN",
	       "AND(FLAGS:1 SENTON:8797 HEADER:FROM=jörg TEXT:grüße)");
	expect("HEADER X-Spam-Flag \"\" BODY {3+}\r\nABC",
	       "AND(HEADER:X-Spam-Flag= BODY:abc)");
	expect("TO a CC b BCC c SUBJECT NIL", "AND(HEADER:TO=a HEADER:CC=b "
	       "HEADER:BCC=c HEADER:SUBJECT=nil)");
	expect("OR NOT SEEN (FLAGGED TEXT x) DELETED",
	       "AND(FLAGS:8 OR(NOT(FLAGS:1) AND(FLAGS:4 TEXT:x)))");
	expect("NOT NOT NOT ALL", "AND(NOT(NOT(NOT(ALL))))");
	expect("RETURN (MIN MAX COUNT ALL SAVE) CHARSET utf-8 ALL",
	       "R31 AND(ALL)");
	expect("RETURN () ALL", "R4 AND(ALL)");
	/* RFC 9394: PARTIAL, normalised to the smaller position first */
	expect("RETURN (PARTIAL 1:5) ALL", "R32 P1:5 AND(ALL)");
	expect("RETURN (COUNT PARTIAL 500:400 SAVE) ALL",
	       "R56 P400:500 AND(ALL)");
	expect("RETURN (partial -5:-1) ALL", "R32 P-1:-5 AND(ALL)");
	expect("RETURN (PARTIAL -1:-4294967295) ALL",
	       "R32 P-1:-4294967295 AND(ALL)");
	expect("RETURN (save) CHARSET US-ASCII UID $", "R16 AND(UID:$)");
	expect("CHARSET \"UTF-8\" SUBJECT \"ÄÖÜ ok\"",
	       "AND(HEADER:SUBJECT=äöü ok)");
	/* RFC 9738 */
	expect("UIDAFTER 5 uidbefore 4294967295 NOT UIDAFTER 1",
	       "AND(UIDAFTER:5 UIDBEFORE:4294967295 NOT(UIDAFTER:1))");
}

static void
test_bad(void **state)
{
	(void)state;
	expect_bad("", IMAP_SEARCH_PARSE_BAD);
	expect_bad("CHARSET UTF-8", IMAP_SEARCH_PARSE_BAD);
	expect_bad("CHARSET ISO-8859-1 ALL", IMAP_SEARCH_PARSE_BADCHARSET);
	expect_bad("CHARSET KOI8-R TEXT x", IMAP_SEARCH_PARSE_BADCHARSET);
	expect_bad("FOO", IMAP_SEARCH_PARSE_BAD);
	expect_bad("SEEN FROM", IMAP_SEARCH_PARSE_BAD);
	expect_bad("HEADER Subject", IMAP_SEARCH_PARSE_BAD);
	expect_bad("HEADER \"Sub ject\" x", IMAP_SEARCH_PARSE_BAD);
	expect_bad("HEADER \"\" x", IMAP_SEARCH_PARSE_BAD);
	expect_bad("BEFORE 31-Feb-2020", IMAP_SEARCH_PARSE_BAD);
	expect_bad("BEFORE 1-Foo-2020", IMAP_SEARCH_PARSE_BAD);
	expect_bad("BEFORE 2020-01-01", IMAP_SEARCH_PARSE_BAD);
	expect_bad("BEFORE 1-Jan-20", IMAP_SEARCH_PARSE_BAD);
	expect_bad("BEFORE (1-Jan-2020)", IMAP_SEARCH_PARSE_BAD);
	expect_bad("LARGER -1", IMAP_SEARCH_PARSE_BAD);
	expect_bad("LARGER 18446744073709551616", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UID 0", IMAP_SEARCH_PARSE_BAD);
	expect_bad("1:0", IMAP_SEARCH_PARSE_BAD);
	expect_bad("$,1", IMAP_SEARCH_PARSE_BAD);
	expect_bad("KEYWORD \\Seen", IMAP_SEARCH_PARSE_BAD);
	expect_bad("KEYWORD \"x\"", IMAP_SEARCH_PARSE_BAD);
	expect_bad("NOT", IMAP_SEARCH_PARSE_BAD);
	expect_bad("OR SEEN", IMAP_SEARCH_PARSE_BAD);
	expect_bad("()", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (FOO) ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL) ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL 1:5 ALL) ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL 0:5) ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL 1:-5) ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL 5) ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL 1:4294967296) ALL",
		   IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
		   IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL \"1:2\") ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN (PARTIAL 01:2) ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("RETURN ALL", IMAP_SEARCH_PARSE_BAD);
	expect_bad("ALL RETURN (MIN)", IMAP_SEARCH_PARSE_BAD);
	expect_bad("\"ALL\"", IMAP_SEARCH_PARSE_BAD);
	expect_bad("TEXT (x)", IMAP_SEARCH_PARSE_BAD);
	/* RFC 9738: uniqueid is an nz-number */
	expect_bad("UIDAFTER", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDAFTER 0", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDBEFORE 0", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDAFTER 07", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDAFTER *", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDBEFORE $", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDBEFORE 1:5", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDBEFORE x", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDBEFORE \"5\"", IMAP_SEARCH_PARSE_BAD);
	expect_bad("UIDAFTER 4294967296", IMAP_SEARCH_PARSE_BAD);
}

static void
test_limits(void **state)
{
	struct imap_search_limits lim = { .keys_max = 5, .depth_max = 3 };
	struct imap_search_program prog;
	const char *error = NULL;
	struct buf b;

	(void)state;
	assert_int_equal(parse("SEEN SEEN SEEN SEEN SEEN", &lim, &prog,
			       &error), IMAP_SEARCH_PARSE_OK);
	imap_search_program_deinit(&prog);
	assert_int_equal(parse("SEEN SEEN SEEN SEEN SEEN SEEN", &lim, &prog,
			       &error), IMAP_SEARCH_PARSE_BAD);
	assert_int_equal(parse("NOT NOT NOT SEEN", &lim, &prog, &error),
			 IMAP_SEARCH_PARSE_OK);
	imap_search_program_deinit(&prog);
	assert_int_equal(parse("NOT NOT NOT NOT SEEN", &lim, &prog, &error),
			 IMAP_SEARCH_PARSE_BAD);
	assert_int_equal(parse("((NOT (SEEN)))", &lim, &prog, &error),
			 IMAP_SEARCH_PARSE_BAD);
	/* 10,000 NOTs with the default limits: refused, not recursed */
	buf_init(&b);
	for (int i = 0; i < 10000; i++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "ALL");
	assert_int_equal(parse(b.data, NULL, &prog, &error),
			 IMAP_SEARCH_PARSE_BAD);
	buf_reset(&b);
	for (int i = 0; i < 2000; i++)
		buf_puts(&b, "SEEN ");
	buf_puts(&b, "ALL");
	assert_int_equal(parse(b.data, NULL, &prog, &error),
			 IMAP_SEARCH_PARSE_BAD);
	buf_reset(&b);
	for (int i = 0; i < 65; i++)
		buf_printf(&b, "KEYWORD k%d ", i);
	buf_puts(&b, "ALL");
	assert_int_equal(parse(b.data, NULL, &prog, &error),
			 IMAP_SEARCH_PARSE_BAD);
	buf_deinit(&b);
}

static bool
view_match(const char *args, const struct imap_search_msg *m,
	   enum imap_search_match want)
{
	static const uint32_t saved[] = { 3, 7, 9 };
	struct imap_search_view view = { .last_seq = 10, .last_uid = 20,
					 .saved = saved, .n_saved = 3 };
	struct imap_search_program prog;
	const char *error = NULL;
	enum imap_search_match r;

	if (parse(args, NULL, &prog, &error) != IMAP_SEARCH_PARSE_OK)
		fail_msg("%s: %s", args, error);
	r = imap_search_match_view(&prog, &view, m);
	imap_search_program_deinit(&prog);
	if (r != want)
		fail_msg("%s: got %d want %d", args, r, want);
	return true;
}

static void
test_view(void **state)
{
	/* 1994-02-01 12:00 UTC */
	struct imap_search_msg m = {
		.seq = 3, .uid = 7, .flags = STORE_FLAG_SEEN |
		STORE_FLAG_FLAGGED, .recent = true,
		.internal_date = 760104000, .size = 500, .keywords = 2,
	};
	const enum imap_search_match Y = IMAP_SEARCH_YES, N = IMAP_SEARCH_NO,
		M = IMAP_SEARCH_MAYBE;

	(void)state;
	view_match("ALL", &m, Y);
	view_match("SEEN FLAGGED", &m, Y);
	view_match("SEEN DELETED", &m, N);
	view_match("UNSEEN", &m, N);
	view_match("NOT DELETED", &m, Y);
	view_match("OR DELETED FLAGGED", &m, Y);
	view_match("NEW", &m, N);
	view_match("RECENT NOT OLD", &m, Y);
	/* a: bit 0, b: bit 1 of the program's keywords */
	view_match("KEYWORD a KEYWORD b", &m, N);
	view_match("UNKEYWORD a KEYWORD b", &m, Y);
	view_match("UNKEYWORD a", &m, Y);
	view_match("KEYWORD a", &m, N);
	view_match("ON 1-Feb-1994", &m, Y);
	view_match("SINCE 1-Feb-1994 BEFORE 2-Feb-1994", &m, Y);
	view_match("BEFORE 1-Feb-1994", &m, N);
	view_match("SINCE 2-Feb-1994", &m, N);
	view_match("LARGER 499 SMALLER 501", &m, Y);
	view_match("LARGER 500", &m, N);
	view_match("2:4", &m, Y);
	view_match("*", &m, N);
	view_match("*:3", &m, Y);
	view_match("UID 7", &m, Y);
	view_match("UID 8:*", &m, N);
	view_match("UID $", &m, Y);
	view_match("UIDAFTER 6", &m, Y);
	view_match("UIDAFTER 7", &m, N);
	view_match("UIDBEFORE 8", &m, Y);
	view_match("UIDBEFORE 7", &m, N);
	view_match("UIDAFTER 6 UIDBEFORE 8", &m, Y);
	view_match("UIDBEFORE 4294967295", &m, Y);	/* past UIDNEXT */
	view_match("UIDAFTER 21", &m, N);
	view_match("$", &m, Y);		/* $ names UIDs even as a seq key */
	view_match("TEXT x", &m, M);
	view_match("SEEN TEXT x", &m, M);
	view_match("DELETED TEXT x", &m, N);
	view_match("OR SEEN TEXT x", &m, Y);
	view_match("NOT TEXT x", &m, M);
	view_match("SENTON 1-Feb-1994", &m, M);
}

static void
scope(const char *args, const struct imap_search_msg *m, bool want)
{
	static const uint32_t saved[] = { 3, 7, 9 };
	struct imap_search_view view = { .last_seq = 10, .last_uid = 20,
					 .saved = saved, .n_saved = 3 };
	struct imap_search_program prog;
	const char *error = NULL;

	if (parse(args, NULL, &prog, &error) != IMAP_SEARCH_PARSE_OK)
		fail_msg("%s: %s", args, error);
	if (imap_search_in_scope(&prog, &view, m) != want)
		fail_msg("%s: got %d", args, !want);
	imap_search_program_deinit(&prog);
}

/* RFC 9738: the messages a SEARCH looks at are those its ANDed
 * sequence-set and UID keys leave; no other key narrows them. */
static void
test_scope(void **state)
{
	struct imap_search_msg m = { .seq = 3, .uid = 7 };

	(void)state;
	scope("ALL", &m, true);
	scope("DELETED TEXT x", &m, true);
	scope("UID 1:5", &m, false);
	scope("UID 1:7 SEEN", &m, true);
	scope("2:4 UID 8:*", &m, false);
	scope("(UID 8:* SEEN)", &m, false);
	scope("OR UID 8:* SEEN", &m, true);
	scope("NOT UID 7", &m, true);
	scope("$", &m, true);
	scope("4:*", &m, false);
	/* RFC 9738's UIDAFTER and UIDBEFORE narrow it as a UID set does */
	scope("UIDAFTER 6", &m, true);
	scope("UIDAFTER 7 SEEN", &m, false);
	scope("UIDBEFORE 7", &m, false);
	scope("(UIDBEFORE 8 UIDAFTER 7)", &m, false);
	scope("OR UIDAFTER 7 SEEN", &m, true);
	scope("NOT UIDBEFORE 7", &m, true);
}

static void
test_date_field(void **state)
{
	(void)state;
	assert_int_equal(imap_search_date_day(" Tue, 1 Feb 1994 21:52:25 "
					      "-0800", 32), 8797);
	assert_int_equal(imap_search_date_day("1 Feb 1994", 10), 8797);
	assert_int_equal(imap_search_date_day("01-feb-94 10:00", 15), 8797);
	assert_int_equal(imap_search_date_day("Thu, 1 January 1970", 19), 0);
	assert_int_equal(imap_search_date_day("yesterday", 9), -1);
	assert_int_equal(imap_search_date_day("31 Feb 2001", 11), -1);
	assert_int_equal(imap_search_date_day("", 0), -1);
}

/* RFC 9394 2: which entries of a result of n a partial-range picks. */
static void
test_partial_window(void **state)
{
	static const struct {
		const char *range;
		size_t n, from, to;
	} cases[] = {
		{ "1:5", 10, 0, 5 }, { "5:1", 10, 0, 5 }, { "3:3", 10, 2, 3 },
		{ "8:20", 10, 7, 10 }, { "10:10", 10, 9, 10 },
		{ "11:20", 10, 0, 0 }, { "1:5", 0, 0, 0 },
		{ "-1:-3", 10, 7, 10 }, { "-3:-1", 10, 7, 10 },
		{ "-1:-1", 10, 9, 10 }, { "-9:-20", 10, 0, 2 },
		{ "-11:-20", 10, 0, 0 }, { "-1:-4294967295", 3, 0, 3 },
		{ "1:4294967295", 3, 0, 3 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_partial_range r;
		size_t from = 99, to = 99;

		assert_true(imap_partial_range_parse(cases[i].range,
						     strlen(cases[i].range),
						     &r));
		imap_partial_range_window(&r, cases[i].n, &from, &to);
		if (from != cases[i].from || to != cases[i].to)
			fail_msg("%s of %zu: [%zu, %zu), want [%zu, %zu)",
				 cases[i].range, cases[i].n, from, to,
				 cases[i].from, cases[i].to);
	}
}

/* A program run over another account's mailbox forgets the index
 * look-ups of the last (imap_search_program_forget_lookups), nested keys
 * too, and keeps everything else. */
static void
test_forget_lookups(void **state)
{
	struct imap_search_program prog;
	const char *error = NULL;
	struct imap_search_key *keys[2];

	(void)state;
	if (parse("BODY zeppelin OR TEXT airship SEEN", NULL, &prog,
		  &error) != IMAP_SEARCH_PARSE_OK)
		fail_msg("%s", error);
	assert_int_equal(prog.root.n_children, 2);
	keys[0] = &prog.root.children[0];
	assert_int_equal(prog.root.children[1].type, IMAP_SK_OR);
	keys[1] = &prog.root.children[1].children[0];
	for (size_t i = 0; i < 2; i++) {
		keys[i]->docs = calloc(3, sizeof(*keys[i]->docs));
		keys[i]->n_docs = 3;
		keys[i]->lookup_done = true;
		keys[i]->lookup_usable = true;
	}
	imap_search_program_forget_lookups(&prog);
	for (size_t i = 0; i < 2; i++) {
		assert_null(keys[i]->docs);
		assert_int_equal(keys[i]->n_docs, 0);
		assert_false(keys[i]->lookup_done);
		assert_false(keys[i]->lookup_usable);
	}
	assert_string_equal(keys[0]->str, "zeppelin");
	assert_string_equal(keys[1]->str, "airship");
	imap_search_program_deinit(&prog);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_date_field),
		cmocka_unit_test(test_partial_window),
		cmocka_unit_test(test_forget_lookups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
