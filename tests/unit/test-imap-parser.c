/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the IMAP command parser: tags, atoms, quoted strings,
 * literals of every kind, lists, sections, limits and resynchronisation
 * after errors; each stream fed whole, octet by octet and in random pieces
 * with the same events. Sequence sets and the argument helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"

#include "feed-split.h"

#define S(x) x, sizeof(x) - 1

struct pcase {
	const char *in;
	size_t in_len;
	/* limits: 0 keeps the default */
	size_t line_max;
	uint64_t literal_max;
	unsigned int depth_max;
	unsigned int args_max;
	/* synchronising literals over this size are refused (0: none) */
	uint64_t refuse_over;
	/* events joined by '|': "D:<tag> <NAME>[ <args>]" per command,
	 * "C:<size>" per literal request (+R when refused), "E:<code>:<tag
	 * or *>:<skip 0/1>" per error, and a trailing "P" if input is left
	 * half-read */
	const char *events;
};

static const struct pcase pcases[] = {
	/* tags and names */
	{ S("a1 NOOP\r\n"), 0, 0, 0, 0, 0, "D:a1 NOOP" },
	{ S("a1 noop\r\nA2 capability\r\n"), 0, 0, 0, 0, 0,
	  "D:a1 NOOP|D:A2 CAPABILITY" },
	{ S("a1 NOOP\n"), 0, 0, 0, 0, 0, "D:a1 NOOP" },
	{ S("\r\n\na1 NOOP\r\n"), 0, 0, 0, 0, 0, "D:a1 NOOP" },
	{ S("a]1 NOOP\r\n"), 0, 0, 0, 0, 0, "D:a]1 NOOP" },
	{ S("a+1 NOOP\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:1:*:1|D:b NOOP" },
	{ S("* NOOP\r\n"), 0, 0, 0, 0, 0, "E:1:*:1" },
	{ S(" NOOP\r\n"), 0, 0, 0, 0, 0, "E:1:*:1" },
	{ S("a1\r\n"), 0, 0, 0, 0, 0, "E:2:a1:1" },
	{ S("a1\n"), 0, 0, 0, 0, 0, "E:2:a1:0" },
	{ S("a1 \r\n"), 0, 0, 0, 0, 0, "E:2:a1:1" },
	{ S("a1 NO(OP\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:2:a1:1|D:b NOOP" },
	{ S("a1 NOOP\rx\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:4:a1:1|D:b NOOP" },
	{ S("a1 NOOP"), 0, 0, 0, 0, 0, "P" },
	{ S("\r"), 0, 0, 0, 0, 0, "P" },
	{ S("\rx NOOP\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:4:*:1|D:b NOOP" },
	/* atoms, NIL, flags, wildcards, sequence sets */
	{ S("a SELECT INBOX\r\n"), 0, 0, 0, 0, 0, "D:a SELECT A:INBOX" },
	{ S("a LIST \"\" %/*\r\n"), 0, 0, 0, 0, 0,
	  "D:a LIST S:\"\" A:%/*" },
	{ S("a STORE 1:*,$ +FLAGS (\\Seen \\Deleted $Junk)\r\n"), 0, 0, 0, 0,
	  0, "D:a STORE A:1:*,$ A:+FLAGS (A:\\Seen A:\\Deleted A:$Junk)" },
	{ S("a X nil NIL Nil\r\n"), 0, 0, 0, 0, 0, "D:a X NIL NIL NIL" },
	{ S("a X \"NIL\"\r\n"), 0, 0, 0, 0, 0, "D:a X S:\"NIL\"" },
	{ S("a X a\\b\r\n"), 0, 0, 0, 0, 0, "E:3:a:1" },
	{ S("a X a{b\r\n"), 0, 0, 0, 0, 0, "E:3:a:1" },
	{ S("a X a\"b\r\n"), 0, 0, 0, 0, 0, "E:3:a:1" },
	{ S("a X \xc3\xa9\r\n"), 0, 0, 0, 0, 0, "E:4:a:1" },
	{ S("a X a\x01\r\n"), 0, 0, 0, 0, 0, "E:4:a:1" },
	{ S("a X a\0b\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:4:a:1|D:b NOOP" },
	{ S("a SELECT [Gmail]/Sent\r\n"), 0, 0, 0, 0, 0,
	  "D:a SELECT A:[Gmail]/Sent" },
	{ S("a X ~abc ~\r\n"), 0, 0, 0, 0, 0, "D:a X A:~abc A:~" },
	/* spaces: exactly one between arguments */
	{ S("a X  b\r\n"), 0, 0, 0, 0, 0, "E:3:a:1" },
	{ S("a X b \r\n"), 0, 0, 0, 0, 0, "E:3:a:1" },
	{ S("a X ( b)\r\n"), 0, 0, 0, 0, 0, "E:3:a:1" },
	{ S("a X (b )\r\n"), 0, 0, 0, 0, 0, "E:3:a:1" },
	{ S("a X \"b\"c\r\n"), 0, 0, 0, 0, 0, "E:3:a:1" },
	/* quoted strings */
	{ S("a LOGIN \"us er\" \"p\\\"w\\\\d\"\r\n"), 0, 0, 0, 0, 0,
	  "D:a LOGIN S:\"us er\" S:\"p\"w\\d\"" },
	{ S("a X \"\xc3\xa9t\xc3\xa9 \xf0\x9f\x93\xa7\"\r\n"), 0, 0, 0, 0, 0,
	  "D:a X S:\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x93\xa7\"" },
	{ S("a X \"\xc3\"\r\n"), 0, 0, 0, 0, 0, "E:4:a:1" },
	{ S("a X \"\xff\"\r\n"), 0, 0, 0, 0, 0, "E:4:a:1" },
	{ S("a X \"a\\b\"\r\nb NOOP\r\n"), 0, 0, 0, 0, 0,
	  "E:3:a:1|D:b NOOP" },
	{ S("a X \"ab\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:4:a:1|D:b NOOP" },
	{ S("a X \"ab\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:4:a:0|D:b NOOP" },
	{ S("a X \"a\0b\"\r\nb NOOP\r\n"), 0, 0, 0, 0, 0,
	  "E:4:a:1|D:b NOOP" },
	/* lists */
	{ S("a X () (a (b \"c\") NIL) d\r\n"), 0, 0, 0, 0, 0,
	  "D:a X () (A:a (A:b S:\"c\") NIL) A:d" },
	{ S("a X ((()))\r\n"), 0, 0, 0, 0, 0, "D:a X ((()))" },
	{ S("a X (a\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:3:a:0|D:b NOOP" },
	{ S("a X a)\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:3:a:1|D:b NOOP" },
	{ S("a X ((a))\r\n"), 0, 0, 2, 0, 0, "D:a X ((A:a))" },
	{ S("a X (((a)))\r\nb NOOP\r\n"), 0, 0, 2, 0, 0,
	  "E:7:a:1|D:b NOOP" },
	{ S("a X a b c\r\n"), 0, 0, 0, 3, 0, "D:a X A:a A:b A:c" },
	{ S("a X a b c d\r\nb NOOP\r\n"), 0, 0, 0, 3, 0,
	  "E:8:a:1|D:b NOOP" },
	{ S("a X (a b) c\r\n"), 0, 0, 0, 3, 0, "E:8:a:1" },
	/* fetch sections carry spaces, parens and quotes through */
	{ S("a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> "
	    "BODY[])\r\n"), 0, 0, 0, 0, 0,
	  "D:a FETCH A:1:* (A:FLAGS A:BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>"
	  " A:BODY[])" },
	{ S("a FETCH 1 body[header.fields (\"X]\" \"a\\\"b\")]\r\n"), 0, 0, 0,
	  0, 0, "D:a FETCH A:1 A:body[header.fields (\"X]\" \"a\\\"b\")]" },
	{ S("a FETCH 1 BINARY.SIZE[1.2] BINARY[3]<5.6>\r\n"), 0, 0, 0, 0, 0,
	  "D:a FETCH A:1 A:BINARY.SIZE[1.2] A:BINARY[3]<5.6>" },
	{ S("a FETCH 1 BODY[TEXT\r\nb NOOP\r\n"), 0, 0, 0, 0, 0,
	  "E:3:a:1|D:b NOOP" },
	{ S("a FETCH 1 BODY[HEADER.FIELDS ({4}\r\nb NOOP\r\n"), 0, 0, 0, 0, 0,
	  "E:3:a:1|D:b NOOP" },
	/* a [ elsewhere is an ordinary atom character */
	{ S("a X RFC822[a b]\r\n"), 0, 0, 0, 0, 0,
	  "D:a X A:RFC822[a A:b]" },
	/* synchronising literals */
	{ S("a LOGIN {4}\r\nuser {3}\r\npwd\r\n"), 0, 0, 0, 0, 0,
	  "C:4|C:3|D:a LOGIN L{4}:user L{3}:pwd" },
	{ S("a APPEND INBOX (\\Seen) {10}\r\nhello\r\nbye\r\n"), 0, 0, 0, 0, 0,
	  "C:10|D:a APPEND A:INBOX (A:\\Seen) L{10}:hello\r\nbye" },
	{ S("a X {0}\r\n\r\n"), 0, 0, 0, 0, 0, "C:0|D:a X L{0}:" },
	{ S("a X ({1}\r\n) {2}\r\n()) b\r\n"), 0, 0, 0, 0, 0,
	  "C:1|C:2|D:a X (L{1}:) L{2}:()) A:b" },
	{ S("a X {2}\nab\n"), 0, 0, 0, 0, 0, "C:2|D:a X L{2}:ab" },
	{ S("a APPEND INBOX {100}\r\nb NOOP\r\n"), 0, 0, 0, 0, 50,
	  "C:100+R|D:b NOOP" },
	{ S("a X {5}x\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:3:a:1|D:b NOOP" },
	/* LITERAL- has no syntax of its own: "{n-}" is not a literal */
	{ S("a X {5-}\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:3:a:1|D:b NOOP" },
	{ S("a X {}\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:3:a:1|D:b NOOP" },
	{ S("a X {-1}\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:3:a:1|D:b NOOP" },
	{ S("a X {2}\r\na\0\r\nb NOOP\r\n"), 0, 0, 0, 0, 0,
	  "C:2|E:4:a:1|D:b NOOP" },
	{ S("a X {3}\r\nab"), 0, 0, 0, 0, 0, "C:3|P" },
	/* an announced size is compared, never allocated */
	{ S("a APPEND INBOX {4294967296}\r\nb NOOP\r\n"), 0, 0, 0, 0, 0,
	  "E:6:a:0|D:b NOOP" },
	{ S("a X {99999999999999999999999}\r\nb NOOP\r\n"), 0, 0, 0, 0, 0,
	  "E:6:a:0|D:b NOOP" },
	{ S("a X {10}\r\nb NOOP\r\n"), 0, 9, 0, 0, 0, "E:6:a:0|D:b NOOP" },
	{ S("a X {5}\r\n12345 {5}\r\nb NOOP\r\n"), 0, 9, 0, 0, 0,
	  "C:5|E:6:a:0|D:b NOOP" },
	/* non-synchronising literals: LITERAL- caps them at 4096 */
	{ S("a LOGIN {4+}\r\nuser {3+}\r\npwd\r\n"), 0, 0, 0, 0, 0,
	  "D:a LOGIN L{4}:user L{3}:pwd" },
	{ S("a X {0+}\r\n\r\n"), 0, 0, 0, 0, 0, "D:a X L{0}:" },
	{ S("a X {4097+}\r\n"), 0, 0, 0, 0, 0, "E:6:a:1|P" },
	{ S("a X {5+}\r\n12345\r\nb NOOP\r\n"), 0, 4, 0, 0, 0,
	  "E:6:a:1|D:b NOOP" },
	/* the skipped literal holds what looks like a command and a line
	 * end; it is data, not a line */
	{ S("a X {12+}\r\nc NOOP\r\n{1+} {3+}\r\nd\n\r\r\nb NOOP\r\n"), 0, 4,
	  0, 0, 0, "E:6:a:1|D:b NOOP" },
	{ S("a X {5+}\r\n1\0" "345\r\nb NOOP\r\n"), 0, 0, 0, 0, 0,
	  "E:4:a:1|D:b NOOP" },
	/* an error before a non-sync literal that ends the line: its data
	 * is skipped too */
	{ S("a X ( {5+}\r\nb NOO\r\nc NOOP\r\n"), 0, 0, 0, 0, 0,
	  "E:3:a:1|D:c NOOP" },
	{ S("a X ~{5+}\r\nb NOO\r\nc NOOP\r\n"), 0, 0, 0, 0, 0,
	  "D:a X L8{5}:b NOO|D:c NOOP" },
	/* literal8 may hold NUL */
	{ S("a APPEND INBOX ~{3}\r\na\0b\r\n"), 0, 0, 0, 0, 0,
	  "C:3|D:a APPEND A:INBOX L8{3}:a\\0b" },
	{ S("a X ~{2+}\r\nab ~x\r\n"), 0, 0, 0, 0, 0,
	  "D:a X L8{2}:ab A:~x" },
	{ S("a X ~{2+}x\r\nb NOOP\r\n"), 0, 0, 0, 0, 0, "E:3:a:1|D:b NOOP" },
	/* line length counts the text of all lines of a command, not the
	 * literal data */
	{ S("a X abcdefghijkl\r\n"), 18, 0, 0, 0, 0,
	  "D:a X A:abcdefghijkl" },
	{ S("a X abcdefghijklm\r\nb NOOP\r\n"), 18, 0, 0, 0, 0,
	  "E:5:a:0|D:b NOOP" },
	{ S("a X abcdefghijklmn\r\nb NOOP\r\n"), 18, 0, 0, 0, 0,
	  "E:5:a:1|D:b NOOP" },
	{ S("a X {20+}\r\n01234567890123456789\r\n"), 18, 0, 0, 0, 0,
	  "D:a X L{20}:01234567890123456789" },
	{ S("a X {2+}\r\nab {2+}\r\ncd\r\nb NOOP\r\n"), 18, 0, 0, 0, 0,
	  "E:5:a:0|D:b NOOP" },
	/* the line ends over the limit with a non-sync literal: its data
	 * follow anyway and are skipped, not read as a command */
	{ S("a X abcdefgh {5+}\r\nb NOO\r\nc NOOP\r\n"), 18, 0, 0, 0, 0,
	  "E:5:a:1|D:c NOOP" },
	{ S("a X abcdefghi {5+}\r\nb NOO\r\nc NOOP\r\n"), 18, 0, 0, 0, 0,
	  "E:5:a:1|D:c NOOP" },
	{ S("a X abcdefghij {5+}\r\nb NOO\r\nc NOOP\r\n"), 18, 0, 0, 0, 0,
	  "E:5:a:1|D:c NOOP" },
	{ S("a X abcdefghij {5+}\nb NOO\nc NOOP\r\n"), 18, 0, 0, 0, 0,
	  "E:5:a:1|D:c NOOP" },
	{ S("a X abcdefghi {5}\r\nc NOOP\r\n"), 18, 0, 0, 0, 0,
	  "E:5:a:0|D:c NOOP" },
	{ S("a X 012345678901234567890123456789 {3+}\r\nx\ny\r\nb NOOP\r\n"),
	  18, 0, 0, 0, 0, "E:5:a:1|D:b NOOP" },
};

struct stream {
	struct imap_parser *p;
	struct buf ev;
	uint64_t refuse_over;
};

static void
ev_sep(struct stream *st)
{
	if (st->ev.len > 0)
		buf_putc(&st->ev, '|');
}

static void
render_args(struct buf *out, const struct imap_arg *args, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];

		if (i > 0)
			buf_putc(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
			assert_int_equal(strlen(a->str), a->len);
			buf_printf(out, "A:%s", a->str);
			break;
		case IMAP_ARG_NIL:
			buf_puts(out, "NIL");
			break;
		case IMAP_ARG_STRING:
			assert_int_equal(strlen(a->str), a->len);
			buf_printf(out, "S:\"%s\"", a->str);
			break;
		case IMAP_ARG_LITERAL:
		case IMAP_ARG_LITERAL8:
			assert_int_equal(a->str[a->len], '\0');
			buf_printf(out, "L%s{%zu}:",
				   a->type == IMAP_ARG_LITERAL8 ? "8" : "",
				   a->len);
			for (j = 0; j < a->len; j++) {
				if (a->str[j] == '\0')
					buf_puts(out, "\\0");
				else
					buf_putc(out, a->str[j]);
			}
			break;
		case IMAP_ARG_LIST:
			assert_null(a->str);
			buf_putc(out, '(');
			if (a->list_count == 0)
				assert_null(a->list);
			render_args(out, a->list, a->list_count);
			buf_putc(out, ')');
			break;
		}
	}
}

static size_t
stream_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct stream *st = ctx;
	size_t consumed;
	enum imap_parse_result res;

	res = imap_parser_feed(st->p, data, len, &consumed);
	assert_true(consumed <= len);
	switch (res) {
	case IMAP_PARSE_NEED_MORE:
		assert_int_equal(consumed, len);
		break;
	case IMAP_PARSE_LITERAL: {
		uint64_t size = imap_parser_literal_size(st->p);

		assert_non_null(imap_parser_tag(st->p));
		assert_non_null(imap_parser_name(st->p));
		ev_sep(st);
		buf_printf(&st->ev, "C:%llu", (unsigned long long)size);
		if (st->refuse_over != 0 && size > st->refuse_over) {
			buf_puts(&st->ev, "+R");
			imap_parser_literal_refuse(st->p);
		} else {
			imap_parser_literal_accept(st->p);
		}
		break;
	}
	case IMAP_PARSE_DONE: {
		const struct imap_command *cmd = imap_parser_command(st->p);

		ev_sep(st);
		buf_printf(&st->ev, "D:%s %s", cmd->tag, cmd->name);
		if (cmd->n_args > 0) {
			buf_putc(&st->ev, ' ');
			render_args(&st->ev, cmd->args, cmd->n_args);
		}
		break;
	}
	case IMAP_PARSE_ERROR: {
		const struct imap_parser_error *e = imap_parser_error(st->p);

		assert_non_null(e->text);
		ev_sep(st);
		buf_printf(&st->ev, "E:%d:%s:%d", (int)e->code,
			   e->tag != NULL ? e->tag : "*", e->skip_line);
		break;
	}
	}
	return consumed;
}

static void
run_pcase(const struct pcase *tc, unsigned way)
{
	struct imap_parser_limits limits;
	struct stream st;
	size_t total;

	imap_parser_limits_default(&limits);
	if (tc->line_max != 0)
		limits.line_max = tc->line_max;
	if (tc->literal_max != 0) {
		limits.literal_max = tc->literal_max;
		limits.literal_nonsync_max = tc->literal_max;
	}
	if (tc->depth_max != 0)
		limits.depth_max = tc->depth_max;
	if (tc->args_max != 0)
		limits.args_max = tc->args_max;
	st.p = imap_parser_new(&limits);
	st.refuse_over = tc->refuse_over;
	buf_init(&st.ev);
	total = feed_split(tc->in, tc->in_len, way, 7, stream_feed, &st);
	/* a zero-length literal completes without more input */
	if (total == tc->in_len)
		(void)stream_feed((const uint8_t *)"", 0, &st);
	assert_int_equal(total, tc->in_len);
	if (imap_parser_has_partial(st.p)) {
		ev_sep(&st);
		buf_putc(&st.ev, 'P');
	}
	if (strcmp(st.ev.data, tc->events) != 0)
		fail_msg("input \"%.*s\" way %u: got \"%s\", want \"%s\"",
			 (int)tc->in_len, tc->in, way, st.ev.data, tc->events);
	buf_deinit(&st.ev);
	imap_parser_free(&st.p);
	assert_null(st.p);
}

static void
test_parser_table(void **state)
{
	size_t i;
	unsigned way;

	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		for (way = 0; way < 40; way++)
			run_pcase(&pcases[i], way);
	}
}

static enum imap_parse_result
feed_str(struct imap_parser *p, const char *s, size_t *consumed_r)
{
	return imap_parser_feed(p, (const uint8_t *)s, strlen(s), consumed_r);
}

struct lcase {
	const char *in;
	size_t in_len;
	size_t line_max;	/* 0: default */
	/* "L:<line>" per line, "E:<code>:*:<skip>" per error, "P" */
	const char *events;
};

static const struct lcase lcases[] = {
	{ S("DONE\r\n"), 0, "L:DONE" },
	{ S("DONE\n"), 0, "L:DONE" },
	{ S("\r\n\n"), 0, "L:|L:" },
	{ S("dXNlcgB1c2VyAHB3ZA==\r\n*\r\n"), 0,
	  "L:dXNlcgB1c2VyAHB3ZA==|L:*" },
	{ S("DO"), 0, "P" },
	{ S("a\rb\r\nx\r\n"), 0, "E:4:*:0|L:x" },
	{ S("a\0b\r\nx\r\n"), 0, "E:4:*:0|L:x" },
	{ S("0123456789abcd\r\n"), 16, "L:0123456789abcd" },
	{ S("0123456789abcde\r\nok\r\n"), 16, "E:5:*:0|L:ok" },
	{ S("0123456789abcdef\r\nok\r\n"), 16, "E:5:*:1|L:ok" },
	{ S("0123456789abcdef0123456789 {3+}\r\nok\r\n"), 16,
	  "E:5:*:1|L:ok" },
};

static size_t
line_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct stream *st = ctx;
	enum imap_parse_result res;
	const char *line;
	size_t consumed, llen;

	res = imap_parser_feed_line(st->p, data, len, &consumed, &line,
				    &llen);
	assert_true(consumed <= len);
	if (res == IMAP_PARSE_NEED_MORE) {
		assert_int_equal(consumed, len);
	} else if (res == IMAP_PARSE_DONE) {
		assert_int_equal(strlen(line), llen);
		ev_sep(st);
		buf_printf(&st->ev, "L:%s", line);
	} else {
		const struct imap_parser_error *e = imap_parser_error(st->p);

		assert_int_equal(res, IMAP_PARSE_ERROR);
		assert_null(e->tag);
		ev_sep(st);
		buf_printf(&st->ev, "E:%d:*:%d", (int)e->code, e->skip_line);
	}
	return consumed;
}

/* Raw lines (IDLE's DONE, AUTHENTICATE responses), every split. */
static void
test_line_table(void **state)
{
	size_t i;
	unsigned way;

	for (i = 0; i < sizeof(lcases) / sizeof(lcases[0]); i++) {
		const struct lcase *tc = &lcases[i];

		for (way = 0; way < 40; way++) {
			struct imap_parser_limits limits;
			struct stream st;

			imap_parser_limits_default(&limits);
			if (tc->line_max != 0)
				limits.line_max = tc->line_max;
			st.p = imap_parser_new(&limits);
			buf_init(&st.ev);
			assert_int_equal(feed_split(tc->in, tc->in_len, way, 7,
						    line_feed, &st),
					 tc->in_len);
			if (imap_parser_has_partial(st.p)) {
				ev_sep(&st);
				buf_putc(&st.ev, 'P');
			}
			if (strcmp(st.ev.data, tc->events) != 0)
				fail_msg("line case %zu way %u: got \"%s\"",
					 i, way, st.ev.data);
			buf_deinit(&st.ev);
			imap_parser_free(&st.p);
		}
	}
}

/* CLIENT-QUIRKS: iOS Mail sends DONE and its next commands in one packet;
 * the line reader takes DONE only and leaves the commands. */
static void
test_done_then_commands(void **state)
{
	static const char in[] =
		"DONE\r\na2 UID FETCH 1:* FLAGS\r\na3 IDLE\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	size_t consumed, off, len;
	const char *line;

	assert_int_equal(imap_parser_feed_line(p, (const uint8_t *)in,
					       sizeof(in) - 1, &consumed,
					       &line, &len), IMAP_PARSE_DONE);
	assert_string_equal(line, "DONE");
	assert_int_equal(consumed, 6);
	off = consumed;
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)in + off,
					  sizeof(in) - 1 - off, &consumed),
			 IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->name, "UID");
	off += consumed;
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)in + off,
					  sizeof(in) - 1 - off, &consumed),
			 IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->name, "IDLE");
	assert_int_equal(off + consumed, sizeof(in) - 1);
	imap_parser_free(&p);
}

/* An over-long raw line is skipped as a line even when the session goes
 * back to commands before its end: a "{n+}" at its end is not a literal. */
static void
test_raw_skip_then_commands(void **state)
{
	struct imap_parser_limits limits;
	struct imap_parser *p;
	const char *line;
	size_t consumed, len;

	imap_parser_limits_default(&limits);
	limits.line_max = 16;
	p = imap_parser_new(&limits);
	assert_int_equal(imap_parser_feed_line(p, (const uint8_t *)
					       "0123456789abcdefgh", 18,
					       &consumed, &line, &len),
			 IMAP_PARSE_ERROR);
	assert_true(imap_parser_error(p)->skip_line);
	assert_int_equal(feed_str(p, "ij {3+}\r\n", &consumed),
			 IMAP_PARSE_NEED_MORE);
	assert_int_equal(feed_str(p, "a NOOP\r\n", &consumed),
			 IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->tag, "a");
	imap_parser_free(&p);
}

/* 10,000 nested parentheses: one BAD with the tag, the next command
 * still works (issue 11, "Done when"). */
static void
test_deep_nesting(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct buf in;
	size_t consumed, off = 0;
	enum imap_parse_result res;
	int i;

	buf_init(&in);
	buf_puts(&in, "t1 SEARCH ");
	for (i = 0; i < 10000; i++)
		buf_putc(&in, '(');
	buf_puts(&in, "\r\nt2 NOOP\r\n");
	res = imap_parser_feed(p, (uint8_t *)in.data, in.len, &consumed);
	assert_int_equal(res, IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_error(p)->code, IMAP_PARSE_ERR_TOO_DEEP);
	assert_string_equal(imap_parser_error(p)->tag, "t1");
	assert_true(imap_parser_error(p)->skip_line);
	off = consumed;
	res = imap_parser_feed(p, (uint8_t *)in.data + off, in.len - off,
			       &consumed);
	assert_int_equal(res, IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->tag, "t2");
	assert_int_equal(off + consumed, in.len);
	buf_deinit(&in);
	imap_parser_free(&p);
}

/* A big literal arrives in many pieces and is stored whole; the buffer
 * it needed is given back when the next command starts. */
static void
test_big_literal(void **state)
{
	struct imap_parser_limits limits;
	struct imap_parser *p;
	static uint8_t chunk[4096];
	size_t consumed, total = 3 * 1024 * 1024, sent;
	enum imap_parse_result res;
	const struct imap_command *cmd;
	char hdr[64];
	int n;

	imap_parser_limits_default(&limits);
	p = imap_parser_new(&limits);
	n = snprintf(hdr, sizeof(hdr), "A APPEND INBOX {%zu}\r\n", total);
	res = imap_parser_feed(p, (uint8_t *)hdr, (size_t)n, &consumed);
	assert_int_equal(res, IMAP_PARSE_LITERAL);
	assert_int_equal(consumed, n);
	assert_string_equal(imap_parser_tag(p), "A");
	assert_string_equal(imap_parser_name(p), "APPEND");
	assert_int_equal(imap_parser_literal_size(p), total);
	imap_parser_literal_accept(p);
	memset(chunk, 'x', sizeof(chunk));
	for (sent = 0; sent < total; sent += sizeof(chunk)) {
		res = imap_parser_feed(p, chunk, sizeof(chunk), &consumed);
		assert_int_equal(res, IMAP_PARSE_NEED_MORE);
		assert_int_equal(consumed, sizeof(chunk));
	}
	res = imap_parser_feed(p, (uint8_t *)"\r\nB NOOP\r\n", 10, &consumed);
	assert_int_equal(res, IMAP_PARSE_DONE);
	assert_int_equal(consumed, 2);
	cmd = imap_parser_command(p);
	assert_int_equal(cmd->n_args, 2);
	assert_int_equal(cmd->args[1].type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd->args[1].len, total);
	res = imap_parser_feed(p, (uint8_t *)"B NOOP\r\n", 8, &consumed);
	assert_int_equal(res, IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->name, "NOOP");
	imap_parser_free(&p);
}

/* STARTTLS: a command half-read before the reset is forgotten. */
static void
test_reset(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	size_t consumed;

	assert_int_equal(imap_parser_feed(p, (uint8_t *)"a STARTTLS\r\nb NO",
					  16, &consumed), IMAP_PARSE_DONE);
	assert_int_equal(consumed, 12);
	assert_int_equal(imap_parser_feed(p, (uint8_t *)"b NO", 4, &consumed),
			 IMAP_PARSE_NEED_MORE);
	assert_true(imap_parser_has_partial(p));
	imap_parser_reset(p);
	assert_false(imap_parser_has_partial(p));
	assert_int_equal(imap_parser_feed(p, (uint8_t *)"c CAPABILITY\r\n", 14,
					  &consumed), IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->tag, "c");
	imap_parser_free(&p);
}

/* Limits change between commands (tighter before login); a command
 * already begun keeps the limits it started under. */
static void
test_set_limits(void **state)
{
	struct imap_parser_limits tight, loose;
	struct imap_parser *p;
	size_t consumed;

	imap_parser_limits_default(&tight);
	tight.line_max = 20;
	imap_parser_limits_default(&loose);
	p = imap_parser_new(&tight);
	assert_int_equal(feed_str(p, "a X 0123456789abcdef\r\n", &consumed),
			 IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_error(p)->code,
			 IMAP_PARSE_ERR_LINE_TOO_LONG);
	imap_parser_set_limits(p, &loose);
	assert_int_equal(feed_str(p, "\nb X 0123456789abcdef", &consumed),
			 IMAP_PARSE_NEED_MORE);
	/* back to tight while b is half-read: b still gets the loose ones */
	imap_parser_set_limits(p, &tight);
	assert_int_equal(feed_str(p, "\r\n", &consumed),
			 IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->tag, "b");
	assert_int_equal(feed_str(p, "c X 0123456789abcdef\r\n", &consumed),
			 IMAP_PARSE_ERROR);
	assert_string_equal(imap_parser_error(p)->tag, "c");
	imap_parser_free(&p);
}

static void
test_arg_helpers(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char in[] = "a X 0 4294967295 4294967296 9223372036854775807 "
		"9223372036854775808 -1 1a fetch \"q\" {1+}\r\nl NIL ()\r\n";
	const struct imap_command *cmd;
	const struct imap_arg *a;
	size_t consumed, len;
	const char *s;
	uint32_t n;
	uint64_t n64;

	assert_int_equal(imap_parser_feed(p, (const uint8_t *)in,
					  sizeof(in) - 1, &consumed),
			 IMAP_PARSE_DONE);
	cmd = imap_parser_command(p);
	a = cmd->args;
	assert_int_equal(cmd->n_args, 12);
	assert_true(imap_arg_get_number(&a[0], &n));
	assert_int_equal(n, 0);
	assert_true(imap_arg_get_number(&a[1], &n));
	assert_int_equal(n, UINT32_MAX);
	assert_false(imap_arg_get_number(&a[2], &n));
	assert_true(imap_arg_get_number64(&a[2], &n64));
	assert_true(imap_arg_get_number64(&a[3], &n64));
	assert_int_equal(n64, INT64_MAX);
	assert_false(imap_arg_get_number64(&a[4], &n64));
	assert_false(imap_arg_get_number(&a[5], &n));
	assert_false(imap_arg_get_number(&a[6], &n));
	assert_true(imap_arg_atom_equals(&a[7], "FETCH"));
	assert_false(imap_arg_atom_equals(&a[7], "FETC"));
	assert_false(imap_arg_atom_equals(&a[8], "q"));
	assert_true(imap_arg_get_astring(&a[8], &s, &len));
	assert_string_equal(s, "q");
	assert_true(imap_arg_get_astring(&a[9], &s, &len));
	assert_string_equal(s, "l");
	assert_true(imap_arg_get_astring(&a[7], &s, &len));
	assert_false(imap_arg_get_astring(&a[10], &s, &len));
	assert_false(imap_arg_get_astring(&a[11], &s, &len));
	imap_parser_free(&p);
}

struct seqcase {
	const char *in;
	size_t max;
	/* "$", or ranges "first:last" joined by ',' with * for STAR; NULL
	 * when refused */
	const char *want;
};

static const struct seqcase seqcases[] = {
	{ "1", 10, "1:1" },
	{ "1:*", 10, "1:*" },
	{ "*:123", 10, "*:123" },
	{ "1,3:5,*", 10, "1:1,3:5,*:*" },
	{ "4294967295", 10, "*:*" },
	{ "$", 10, "$" },
	{ "$,1", 10, NULL },
	{ "1:$", 10, NULL },
	{ "", 10, NULL },
	{ "0", 10, NULL },
	{ "0:5", 10, NULL },
	{ "01", 10, NULL },
	{ "4294967296", 10, NULL },
	{ "99999999999", 10, NULL },
	{ "1,", 10, NULL },
	{ ",1", 10, NULL },
	{ "1,,2", 10, NULL },
	{ "1:", 10, NULL },
	{ ":1", 10, NULL },
	{ "1:2:3", 10, NULL },
	{ "1 2", 10, NULL },
	{ "-1", 10, NULL },
	{ "**", 10, NULL },
	{ "1,2,3", 3, "1:1,2:2,3:3" },
	{ "1,2,3,4", 3, NULL },
};

static void
test_seqset(void **state)
{
	size_t i, j;

	for (i = 0; i < sizeof(seqcases) / sizeof(seqcases[0]); i++) {
		const struct seqcase *tc = &seqcases[i];
		struct imap_seqset set;
		const char *error = NULL;
		struct buf got;
		int ret;

		ret = imap_seqset_parse(tc->in, strlen(tc->in), tc->max, &set,
					&error);
		if (tc->want == NULL) {
			if (ret != -1)
				fail_msg("\"%s\" accepted", tc->in);
			assert_non_null(error);
			assert_null(set.ranges);
			continue;
		}
		if (ret != 0)
			fail_msg("\"%s\" refused: %s", tc->in, error);
		buf_init(&got);
		if (set.saved)
			buf_putc(&got, '$');
		for (j = 0; j < set.count; j++) {
			const struct imap_seq_range *r = &set.ranges[j];

			if (j > 0)
				buf_putc(&got, ',');
			if (r->first == IMAP_SEQ_STAR)
				buf_putc(&got, '*');
			else
				buf_printf(&got, "%u", r->first);
			if (r->last == IMAP_SEQ_STAR)
				buf_puts(&got, ":*");
			else
				buf_printf(&got, ":%u", r->last);
		}
		assert_string_equal(got.data, tc->want);
		buf_deinit(&got);
		imap_seqset_deinit(&set);
	}
}

/* CLIENT-QUIRKS: "*:123" works as "123:*" */
static void
test_seq_range_bounds(void **state)
{
	struct imap_seq_range r = { IMAP_SEQ_STAR, 123 };
	uint32_t lo, hi;

	imap_seq_range_bounds(&r, 200, &lo, &hi);
	assert_int_equal(lo, 123);
	assert_int_equal(hi, 200);
	imap_seq_range_bounds(&r, 100, &lo, &hi);
	assert_int_equal(lo, 100);
	assert_int_equal(hi, 123);
	r.first = 5;
	r.last = 3;
	imap_seq_range_bounds(&r, 1, &lo, &hi);
	assert_int_equal(lo, 3);
	assert_int_equal(hi, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_table),
		cmocka_unit_test(test_line_table),
		cmocka_unit_test(test_done_then_commands),
		cmocka_unit_test(test_raw_skip_then_commands),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_big_literal),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_set_limits),
		cmocka_unit_test(test_arg_helpers),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_seq_range_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
