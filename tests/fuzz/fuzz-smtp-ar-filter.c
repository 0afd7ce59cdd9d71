/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the inbound header filter (src/smtp/smtp-ar-filter.h)
 * on arbitrary messages. Fed whole and octet by octet it must give the
 * same output and count; the output is never longer than the input, and
 * filtering it again removes nothing more (what stays is not ours); and
 * the octet-by-octet reference (ar-filter-ref.h) gives the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp-ar-filter.h"

#include "ar-filter-ref.h"

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

static unsigned
run_ref(const uint8_t *data, size_t size, size_t step, struct buf *out)
{
	struct smtp_ar_filter f;
	unsigned removed;

	ref_ar_filter_init(&f, "mx.example.net", collect, out);
	for (size_t i = 0; i < size; i += step)
		ref_ar_filter_feed(&f, data + i,
				   size - i < step ? size - i : step);
	ref_ar_filter_finish(&f);
	removed = f.removed;
	ref_ar_filter_deinit(&f);
	return removed;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a, b, c, r;
	unsigned ra, rb, rr;

	buf_init(&a);
	buf_init(&b);
	buf_init(&c);
	buf_init(&r);
	ra = run(data, size, size > 0 ? size : 1, &a);
	rb = run(data, size, 1, &b);
	if (ra != rb || a.len != b.len ||
	    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0) || a.len > size)
		abort();
	/* odd pieces against the reference fed whole */
	rr = run_ref(data, size, size > 0 ? size : 1, &r);
	buf_reset(&b);
	rb = run(data, size, 1 + size % 7, &b);
	if (rr != ra || rb != rr || r.len != a.len || b.len != r.len ||
	    (r.len > 0 && (memcmp(r.data, a.data, r.len) != 0 ||
			   memcmp(b.data, r.data, r.len) != 0)))
		abort();
	buf_deinit(&r);
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
