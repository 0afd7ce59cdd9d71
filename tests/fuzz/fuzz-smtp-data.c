/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the DATA and BDAT body readers. Checks that the end
 * is only ever found right after CRLF "." CRLF, that output and errors do
 * not depend on how the input is split, and that the size limit bounds
 * the output.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp-data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_result {
	struct buf out;
	size_t consumed;
	int done;
	unsigned errors;
};

static void
fuzz_data(const uint8_t *data, size_t size, const struct smtp_data_limits *l,
	  size_t step, struct fuzz_result *r)
{
	struct smtp_data_reader *reader;
	size_t pos = 0, consumed;

	buf_init(&r->out);
	r->done = 0;
	reader = smtp_data_reader_new_buf(l, &r->out);
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;

		if (smtp_data_reader_feed(reader, data + pos, n, &consumed) ==
		    SMTP_DATA_DONE) {
			pos += consumed;
			r->done = 1;
			break;
		}
		if (consumed != n)
			abort();
		pos += consumed;
	}
	r->consumed = pos;
	r->errors = smtp_data_reader_errors(reader);
	smtp_data_reader_free(&reader);
}

static void
fuzz_bdat(const uint8_t *data, size_t size, const struct smtp_data_limits *l)
{
	struct smtp_data_reader *reader;
	struct buf out;
	size_t pos = 0, consumed;

	buf_init(&out);
	reader = smtp_data_reader_new_buf(l, &out);
	while (pos < size) {
		uint64_t chunk = data[pos++] % 17;

		smtp_data_reader_bdat_begin(reader, chunk);
		while (pos < size) {
			size_t n = size - pos < 3 ? size - pos : 3;

			if (smtp_data_reader_bdat_feed(reader, data + pos, n,
						       &consumed) ==
			    SMTP_DATA_DONE) {
				pos += consumed;
				break;
			}
			pos += consumed;
		}
	}
	smtp_data_reader_bdat_finish(reader);
	if (l->max_message_size != 0 && out.len > l->max_message_size)
		abort();
	smtp_data_reader_free(&reader);
	buf_deinit(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_data_limits limits;
	struct fuzz_result a, b;

	if (size < 1)
		return 0;
	smtp_data_limits_default(&limits);
	limits.normalize_bare_eol = (data[0] & 1) != 0;
	limits.max_line_len = 1 + ((data[0] >> 1) & 7) * 20;
	limits.max_message_size = (data[0] & 0x10) ? 0 : 1 + data[0];
	data++;
	size--;
	fuzz_data(data, size, &limits, size + 1, &a);
	fuzz_data(data, size, &limits, 1, &b);
	if (a.done != b.done || a.consumed != b.consumed ||
	    a.errors != b.errors || a.out.len != b.out.len ||
	    memcmp(a.out.data, b.out.data, a.out.len) != 0)
		abort();
	/* Reference: DATA ends at the first ".\r\n" that is at the very
	 * start or right after a "\r\n" pair, and nowhere else. */
	{
		size_t k, end = SIZE_MAX;

		for (k = 0; k + 3 <= size; k++) {
			if (memcmp(data + k, ".\r\n", 3) == 0 &&
			    (k == 0 || (k >= 2 &&
					memcmp(data + k - 2, "\r\n", 2) == 0))) {
				end = k + 3;
				break;
			}
		}
		if (a.done != (end != SIZE_MAX))
			abort();
		if (a.done && a.consumed != end)
			abort();
	}
	if (limits.max_message_size != 0 &&
	    a.out.len > limits.max_message_size)
		abort();
	buf_deinit(&a.out);
	buf_deinit(&b.out);
	fuzz_bdat(data, size, &limits);
	return 0;
}
