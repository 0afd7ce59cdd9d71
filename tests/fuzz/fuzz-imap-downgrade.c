/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: imap-downgrade over arbitrary header sections: no
 * crash, output within the growth imap-downgrade.h promises, and text
 * that is valid UTF-8 comes out 7-bit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "imap/imap-downgrade.h"
#include "lib/buf.h"
#include "lib/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;

	buf_init(&out);
	imap_downgrade_header(&out, data, size);
	/* the bound imap-downgrade.h promises */
	if (out.len > 8 * size + 64)
		abort();
	buf_reset(&out);
	imap_downgrade_text(&out, (const char *)data, size, " ");
	if (utf8_is_valid(data, size) &&
	    utf8_has_non_ascii((const uint8_t *)out.data, out.len))
		abort();
	buf_deinit(&out);
	return 0;
}
