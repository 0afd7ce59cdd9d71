/* SPDX-License-Identifier: MIT */
/* feed_split(): one input, cut the way a test asks (whole, octet by octet,
 * random pieces), handed to a parser's feed function piece by piece. Its
 * own generator, so a way cuts the same on every libc and run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "feed-split.h"

/* a small LCG: repeatable pieces matter here, not randomness */
static uint32_t
feed_rand(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return (*state >> 16) & 0x7fff;
}

static size_t
feed_piece(unsigned way, size_t left, size_t max_piece, uint32_t *seed)
{
	size_t most = max_piece != 0 && max_piece < left ? max_piece : left;

	if (way == FEED_WHOLE)
		return left;
	if (way == FEED_OCTETS)
		return 1;
	return 1 + feed_rand(seed) % most;
}

size_t
feed_split(const void *data, size_t len, unsigned way, size_t max_piece,
	   feed_fn *fn, void *ctx)
{
	const uint8_t *p = data;
	uint32_t seed = way;
	size_t pos = 0;

	while (pos < len) {
		size_t end = pos + feed_piece(way, len - pos, max_piece, &seed);

		while (pos < end) {
			size_t took = fn(p + pos, end - pos, ctx);

			assert_true(took <= end - pos);
			if (took == 0)
				return pos;
			pos += took;
		}
	}
	return pos;
}
