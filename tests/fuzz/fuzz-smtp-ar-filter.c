/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the inbound header filter (src/smtp/smtp-ar-filter.h)
 * on arbitrary messages. Fed whole and octet by octet it must give the
 * same output and count; the output is never longer than the input, and
 * filtering it again removes nothing more (what stays is not ours).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp-ar-filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
collect(const uint8_t *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
}

static unsigned
run(const uint8_t *data, size_t size, size_t step, struct buf *out)
{
	struct smtp_ar_filter f;
	unsigned removed;

	smtp_ar_filter_init(&f, "mx.example.net", collect, out);
	for (size_t i = 0; i < size; i += step)
		smtp_ar_filter_feed(&f, data + i,
				    size - i < step ? size - i : step);
	smtp_ar_filter_finish(&f);
	removed = f.removed;
	smtp_ar_filter_deinit(&f);
	return removed;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a, b, c;
	unsigned ra, rb;

	buf_init(&a);
	buf_init(&b);
	buf_init(&c);
	ra = run(data, size, size > 0 ? size : 1, &a);
	rb = run(data, size, 1, &b);
	if (ra != rb || a.len != b.len ||
	    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0) || a.len > size)
		abort();
	if (ra == 0 && a.len != size)
		abort();
	if (run((const uint8_t *)a.data, a.len, a.len > 0 ? a.len : 1,
		&c) != 0)
		abort();
	buf_deinit(&a);
	buf_deinit(&b);
	buf_deinit(&c);
	return 0;
}
