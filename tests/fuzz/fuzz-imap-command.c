/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the IMAP command parser on arbitrary bytes. The first
 * octet picks limits and whether big synchronising literals are refused;
 * the stream is fed whole, octet by octet and in pieces of a size taken
 * from the second octet, and must give the same events each time. After
 * IDLE or AUTHENTICATE one raw line is read, as the session will. Every
 * command is checked against the limits, and its atoms go through the
 * sequence-set parser and its strings through modified UTF-7.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "imap/imap-utf7.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	const struct imap_parser_limits *limits;
	bool refuse;
	size_t n_args;
	uint64_t lit_total;
};

static void
check_args(struct run *r, const struct imap_arg *args, size_t n,
	   unsigned int depth, struct buf *ev)
{
	size_t i;

	if (depth > r->limits->depth_max)
		abort();
	for (i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];
		struct imap_seqset set;
		struct buf u;
		const char *error;

		r->n_args++;
		if (a->type == IMAP_ARG_LIST) {
			if (a->str != NULL || (a->list_count == 0) !=
			    (a->list == NULL))
				abort();
			buf_printf(ev, "(%zu", a->list_count);
			check_args(r, a->list, a->list_count, depth + 1, ev);
			buf_putc(ev, ')');
			continue;
		}
		if (a->str == NULL || a->str[a->len] != '\0')
			abort();
		buf_printf(ev, "%d:%zu:", (int)a->type, a->len);
		buf_append(ev, a->str, a->len);
		if (a->type == IMAP_ARG_LITERAL ||
		    a->type == IMAP_ARG_LITERAL8) {
			r->lit_total += a->len;
			if (a->type == IMAP_ARG_LITERAL &&
			    memchr(a->str, '\0', a->len) != NULL)
				abort();
		} else if (strlen(a->str) != a->len) {
			abort();
		}
		if (a->type == IMAP_ARG_ATOM &&
		    imap_seqset_parse(a->str, a->len, 8, &set, &error) == 0) {
			if (!set.saved && (set.count == 0 || set.count > 8))
				abort();
			imap_seqset_deinit(&set);
		}
		buf_init(&u);
		(void)imap_utf7_to_utf8(a->str, a->len, &u, &error);
		buf_deinit(&u);
	}
}

static void
fuzz_run(const uint8_t *data, size_t size,
	 const struct imap_parser_limits *limits, bool refuse, size_t step,
	 struct buf *ev)
{
	struct imap_parser *p = imap_parser_new(limits);
	struct run r = { limits, refuse, 0, 0 };
	bool raw = false;
	size_t pos = 0;

	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step, consumed;
		enum imap_parse_result res;

		if (raw) {
			const char *line;
			size_t len;

			res = imap_parser_feed_line(p, data + pos, n,
						    &consumed, &line, &len);
			if (consumed > n || (res == IMAP_PARSE_NEED_MORE &&
					     consumed != n) ||
			    res == IMAP_PARSE_LITERAL)
				abort();
			pos += consumed;
			if (res == IMAP_PARSE_DONE) {
				if (strlen(line) != len ||
				    len >= limits->line_max ||
				    memchr(line, '\r', len) != NULL)
					abort();
				buf_printf(ev, "L%zu:", len);
				buf_append(ev, line, len);
				buf_putc(ev, '|');
				raw = false;
			} else if (res == IMAP_PARSE_ERROR) {
				buf_printf(ev, "LE%d|",
					   (int)imap_parser_error(p)->code);
				raw = false;
			}
			continue;
		}
		res = imap_parser_feed(p, data + pos, n, &consumed);
		if (consumed > n || (res == IMAP_PARSE_NEED_MORE &&
				     consumed != n))
			abort();
		pos += consumed;
		if (res == IMAP_PARSE_LITERAL) {
			uint64_t lsize = imap_parser_literal_size(p);

			if (imap_parser_tag(p) == NULL ||
			    imap_parser_name(p) == NULL ||
			    lsize > limits->literal_max)
				abort();
			buf_printf(ev, "C%llu|", (unsigned long long)lsize);
			if (refuse && lsize > 8)
				imap_parser_literal_refuse(p);
			else
				imap_parser_literal_accept(p);
		} else if (res == IMAP_PARSE_DONE) {
			const struct imap_command *cmd =
				imap_parser_command(p);

			if (cmd->tag[0] == '\0' || cmd->name[0] == '\0')
				abort();
			buf_printf(ev, "D%s %s ", cmd->tag, cmd->name);
			r.n_args = 0;
			r.lit_total = 0;
			check_args(&r, cmd->args, cmd->n_args, 0, ev);
			if (r.n_args > limits->args_max ||
			    r.lit_total > limits->literal_max)
				abort();
			buf_putc(ev, '|');
			raw = strcmp(cmd->name, "IDLE") == 0 ||
				strcmp(cmd->name, "AUTHENTICATE") == 0;
		} else if (res == IMAP_PARSE_ERROR) {
			const struct imap_parser_error *e =
				imap_parser_error(p);

			if (e->code == IMAP_PARSE_ERR_NONE || e->text == NULL)
				abort();
			buf_printf(ev, "E%d:%s:%d|", (int)e->code,
				   e->tag != NULL ? e->tag : "*",
				   e->skip_line);
		}
	}
	buf_printf(ev, "P%d", imap_parser_has_partial(p));
	imap_parser_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits limits;
	struct buf a, b, c;
	bool refuse;
	size_t step;

	if (size < 2)
		return 0;
	imap_parser_limits_default(&limits);
	if ((data[0] & 1) != 0) {
		limits.line_max = 16 + (data[0] >> 3);
		limits.depth_max = 1 + (data[0] >> 5);
		limits.args_max = 1 + (data[0] >> 4);
	}
	if ((data[0] & 2) != 0) {
		limits.literal_max = data[0] >> 2;
		limits.literal_nonsync_max = data[0] >> 4;
	}
	refuse = (data[0] & 4) != 0;
	step = 1 + data[1] % 13;
	data += 2;
	size -= 2;

	buf_init(&a);
	buf_init(&b);
	buf_init(&c);
	fuzz_run(data, size, &limits, refuse, size, &a);
	fuzz_run(data, size, &limits, refuse, 1, &b);
	fuzz_run(data, size, &limits, refuse, step, &c);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0 ||
	    a.len != c.len || memcmp(a.data, c.data, a.len) != 0)
		abort();
	buf_deinit(&a);
	buf_deinit(&b);
	buf_deinit(&c);
	return 0;
}
