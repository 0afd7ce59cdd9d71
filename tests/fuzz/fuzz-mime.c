/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the MIME structure parser (mail/mime). The first
 * octet picks small or default limits; the rest is the message, fed whole
 * and in pieces cut by its own octets. Both trees must be equal and fit
 * the octets: offsets in order and in range, line counts as recounted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_dump(const struct mime_part *part, struct buf *out)
{
	buf_printf(out, "(%s/%s %llu %llu %llu %llu %llu %u %u",
		   part->type, part->subtype,
		   (unsigned long long)part->header_offset,
		   (unsigned long long)part->header_size,
		   (unsigned long long)part->body_offset,
		   (unsigned long long)part->body_size,
		   (unsigned long long)part->body_lines, part->flags,
		   part->param_count);
	for (unsigned int i = 0; i < part->param_count; i++)
		buf_printf(out, " %s=%s", part->params[i].name,
			   part->params[i].value);
	for (const struct mime_part *c = part->children; c; c = c->next)
		fz_dump(c, out);
	buf_putc(out, ')');
}

static void
fz_check(const struct mime_part *part, const uint8_t *msg, size_t len,
	 const struct mime_limits *lim)
{
	uint64_t end = part->body_offset + part->body_size, lines = 0;
	uint64_t prev = part->body_offset;
	unsigned int n = 0;

	if (part->header_offset + part->header_size != part->body_offset ||
	    end > len || part->depth > lim->max_depth ||
	    part->type == NULL || part->subtype == NULL)
		abort();
	for (uint64_t i = part->body_offset; i < end; i++)
		if (msg[i] == '\n')
			lines++;
	if (part->body_size > 0 && msg[end - 1] != '\n')
		lines++;
	if (lines != part->body_lines)
		abort();
	for (const struct mime_part *c = part->children; c; c = c->next) {
		if (c->parent != part || c->header_offset < prev)
			abort();
		prev = c->body_offset + c->body_size;
		if (prev > end)
			abort();
		fz_check(c, msg, len, lim);
		n++;
	}
	if (n != part->child_count ||
	    (strcmp(part->type, "multipart") == 0 && n == 0))
		abort();
}

static unsigned int
fz_count(const struct mime_part *part)
{
	unsigned int n = 1;

	for (const struct mime_part *c = part->children; c; c = c->next)
		n += fz_count(c);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim;
	struct mime_parser *p;
	struct mime_part *whole, *split;
	struct buf a, b;
	size_t pos = 0;

	if (size < 1)
		return 0;
	mime_limits_default(&lim);
	if ((data[0] & 1) != 0) {
		lim.max_depth = 1u + ((data[0] >> 1) & 7);
		lim.max_parts = 1u + ((data[0] >> 4) & 15);
		lim.max_header_size = 16;
		lim.max_boundary_len = 8;
	}
	data++;
	size--;
	whole = mime_parse(data, size, &lim);
	fz_check(whole, data, size, &lim);
	if (fz_count(whole) > lim.max_parts ||
	    whole->body_offset + whole->body_size != size)
		abort();
	p = mime_parser_new(&lim);
	while (pos < size) {
		/* pieces of 1 to 16 octets, cut where the data says */
		size_t n = 1 + (data[pos] & 15);

		if (n > size - pos)
			n = size - pos;
		if (mime_parser_feed(p, data + pos, n) != n)
			abort();
		pos += n;
	}
	split = mime_parser_finish(&p);
	buf_init(&a);
	buf_init(&b);
	fz_dump(whole, &a);
	fz_dump(split, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	buf_deinit(&a);
	buf_deinit(&b);
	mime_part_free(&whole);
	mime_part_free(&split);
	return 0;
}
