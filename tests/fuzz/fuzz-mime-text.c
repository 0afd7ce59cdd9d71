/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the searchable text of a message (mail/mime-text)
 * over any MIME tree. The first octet picks the output cap; the rest is
 * the message. The text must be valid UTF-8 without NUL, within the cap,
 * and "complete" only when the cap was not reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/utf8.h"
#include "mail/mime-text.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_part *root;
	struct buf hdr, body;
	size_t max;
	bool complete;

	if (size < 1)
		return 0;
	max = data[0] == 0 ? MIME_TEXT_DEFAULT_MAX : (size_t)data[0] * 16;
	root = mime_parse(data + 1, size - 1, NULL);
	buf_init(&hdr);
	buf_init(&body);
	complete = mime_text_extract(data + 1, size - 1, root, max, &hdr,
				     &body);
	if (hdr.len + body.len > max ||
	    !utf8_is_valid((const uint8_t *)hdr.data, hdr.len) ||
	    !utf8_is_valid((const uint8_t *)body.data, body.len) ||
	    memchr(hdr.data, '\0', hdr.len) != NULL ||
	    memchr(body.data, '\0', body.len) != NULL)
		abort();
	/* a cut loses at most a character's octets below the cap */
	if (!complete && hdr.len + body.len + 3 < max)
		abort();
	buf_deinit(&hdr);
	buf_deinit(&body);
	mime_part_free(&root);
	return 0;
}
