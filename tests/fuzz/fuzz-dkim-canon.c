/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: DKIM canonicalization (src/mailauth/dkim-canon.c).
 * The first octet: bit 0 relaxed, bit 1 the header canonicalizer (else
 * the body's), the rest the piece size. Fed whole and in pieces, the
 * output is the same; relaxed header output has no CR, LF, tab, double
 * space or space at the end; relaxed body output never has a space before
 * CRLF; the body's output ends in CRLF unless empty (relaxed only).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
collect(const uint8_t *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
}

static void
run(bool header, enum dkim_canon canon, const uint8_t *in, size_t len,
    size_t piece, struct buf *out)
{
	struct dkim_body_canon bc;
	struct dkim_header_canon hc;

	if (header)
		dkim_header_canon_init(&hc, canon, out);
	else
		dkim_body_canon_init(&bc, canon, collect, out);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;

		if (header)
			dkim_header_canon_feed(&hc, in + off, n);
		else
			dkim_body_canon_feed(&bc, in + off, n);
	}
	if (header)
		dkim_header_canon_finish(&hc);
	else
		dkim_body_canon_finish(&bc);
	if (!header && bc.out_len != out->len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum dkim_canon canon;
	struct buf a, b;
	bool header;
	size_t piece;

	if (size < 1)
		return 0;
	canon = data[0] & 1 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	header = data[0] & 2;
	piece = (data[0] >> 2) + 1;
	buf_init(&a);
	buf_init(&b);
	run(header, canon, data + 1, size - 1, size, &a);
	run(header, canon, data + 1, size - 1, piece, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	if (header && canon == DKIM_CANON_RELAXED) {
		if (memchr(a.data, '\r', a.len) || memchr(a.data, '\n', a.len) ||
		    memchr(a.data, '\t', a.len) || strstr(a.data, "  ") ||
		    (a.len > 0 && a.data[a.len - 1] == ' '))
			abort();
	}
	if (!header) {
		if (canon == DKIM_CANON_SIMPLE && a.len < 2)
			abort();
		if (a.len > 0 && (a.len < 2 || a.data[a.len - 2] != '\r' ||
				  a.data[a.len - 1] != '\n'))
			abort();
		if (canon == DKIM_CANON_RELAXED && strstr(a.data, " \r\n"))
			abort();
	}
	buf_deinit(&a);
	buf_deinit(&b);
	return 0;
}
