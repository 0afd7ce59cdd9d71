/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the PREVIEW text of a message (mail/mime-preview)
 * over any MIME tree, and the text/HTML reader fed raw octets (the first
 * input octet's low bit: HTML; the rest is the message). The preview
 * must be valid UTF-8 of at most 256 characters without control
 * characters or a leading, trailing or doubled space.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/utf8.h"
#include "mail/mime-preview.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct buf *b)
{
	size_t chars = 0;

	if (!utf8_is_valid((const uint8_t *)b->data, b->len))
		abort();
	for (size_t i = 0; i < b->len; i++) {
		uint8_t c = (uint8_t)b->data[i];

		if (c < 0x20 || c == 0x7f)
			abort();
		if ((c & 0xc0) != 0x80)
			chars++;
		if (c == ' ' && (i == 0 || i + 1 == b->len ||
				 b->data[i + 1] == ' '))
			abort();
	}
	if (chars > MIME_PREVIEW_MAX_CHARS)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_part *root;
	struct buf out;
	bool html;

	if (size < 1)
		return 0;
	html = (data[0] & 1) != 0;
	data++;
	size--;
	root = mime_parse(data, size, NULL);
	buf_init(&out);
	mime_preview_extract(data, size, root, &out);
	check(&out);
	buf_reset(&out);
	mime_preview_from_text((const char *)data, size, html, &out);
	check(&out);
	buf_deinit(&out);
	mime_part_free(&root);
	return 0;
}
