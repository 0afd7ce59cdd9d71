/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: modified UTF-7 mailbox names. Whatever decodes must
 * encode back to the same octets, and whatever encodes must decode back:
 * a name has exactly one spelling either way.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-utf7.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_same(const struct buf *b, const uint8_t *data, size_t size)
{
	if (b->len != size || memcmp(b->data, data, size) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf a, b;
	const char *error;

	buf_init(&a);
	buf_init(&b);
	if (imap_utf7_to_utf8(in, size, &a, &error) == 0) {
		if (imap_utf8_to_utf7(a.data, a.len, &b, &error) != 0)
			abort();
		check_same(&b, data, size);
		if (imap_utf7_is_plain(in, size))
			check_same(&a, data, size);
	} else if (a.len != 0) {
		abort();
	}
	buf_reset(&a);
	buf_reset(&b);
	if (imap_utf8_to_utf7(in, size, &a, &error) == 0) {
		if (imap_utf7_to_utf8(a.data, a.len, &b, &error) != 0)
			abort();
		check_same(&b, data, size);
	} else if (a.len != 0) {
		abort();
	}
	buf_deinit(&a);
	buf_deinit(&b);
	return 0;
}
