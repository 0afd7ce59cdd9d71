/* SPDX-License-Identifier: MIT */
/* The parser tests' feed_split(): way 0 is one piece, way 1 one octet at a
 * time, the random ways cut within max_piece and differently from each
 * other; a piece's rest is offered again and 0 ends the feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feed-split.h"

struct pieces {
	size_t n, largest, take_at_most, stop_after;
	char seen[64];
	size_t seen_len;
	size_t sizes[64];
};

static size_t
record(const uint8_t *data, size_t len, void *ctx)
{
	struct pieces *p = ctx;
	size_t take = len;

	if (p->stop_after != 0 && p->seen_len >= p->stop_after)
		return 0;
	if (p->take_at_most != 0 && take > p->take_at_most)
		take = p->take_at_most;
	assert_true(p->seen_len + take <= sizeof(p->seen));
	memcpy(p->seen + p->seen_len, data, take);
	p->seen_len += take;
	if (p->n < 64)
		p->sizes[p->n] = len;
	p->n++;
	if (len > p->largest)
		p->largest = len;
	return take;
}

static const char input[] = "0123456789abcdefghijklmnopqrstuvwxyz";
#define INPUT_LEN (sizeof(input) - 1)

static void
test_whole_and_octets(void **state)
{
	struct pieces p = { 0 };

	(void)state;
	assert_int_equal(feed_split(input, INPUT_LEN, FEED_WHOLE, 5, record,
				    &p), INPUT_LEN);
	assert_int_equal(p.n, 1);
	assert_memory_equal(p.seen, input, INPUT_LEN);
	memset(&p, 0, sizeof(p));
	assert_int_equal(feed_split(input, INPUT_LEN, FEED_OCTETS, 0, record,
				    &p), INPUT_LEN);
	assert_int_equal(p.n, INPUT_LEN);
	assert_int_equal(p.largest, 1);
	assert_memory_equal(p.seen, input, INPUT_LEN);
}

static void
test_random_ways(void **state)
{
	struct pieces first = { 0 };
	bool differ = false;

	(void)state;
	feed_split(input, INPUT_LEN, FEED_RANDOM, 7, record, &first);
	for (unsigned way = FEED_RANDOM; way < FEED_RANDOM + 20; way++) {
		struct pieces p = { 0 }, again = { 0 };

		assert_int_equal(feed_split(input, INPUT_LEN, way, 7, record,
					    &p), INPUT_LEN);
		assert_memory_equal(p.seen, input, INPUT_LEN);
		assert_true(p.largest <= 7);
		assert_true(p.n > 1);
		/* repeatable: the same way cuts the same */
		feed_split(input, INPUT_LEN, way, 7, record, &again);
		assert_int_equal(p.n, again.n);
		assert_memory_equal(p.sizes, again.sizes, sizeof(p.sizes));
		if (p.n != first.n ||
		    memcmp(p.sizes, first.sizes, sizeof(p.sizes)) != 0)
			differ = true;
	}
	assert_true(differ);
}

static void
test_rest_offered_and_stop(void **state)
{
	struct pieces p = { .take_at_most = 2 };

	(void)state;
	/* one piece of 36, taken 2 at a time: the rest comes back */
	assert_int_equal(feed_split(input, INPUT_LEN, FEED_WHOLE, 0, record,
				    &p), INPUT_LEN);
	assert_int_equal(p.n, INPUT_LEN / 2);
	assert_int_equal(p.sizes[1], INPUT_LEN - 2);
	assert_memory_equal(p.seen, input, INPUT_LEN);
	memset(&p, 0, sizeof(p));
	p.stop_after = 10;
	assert_int_equal(feed_split(input, INPUT_LEN, FEED_OCTETS, 0, record,
				    &p), 10);
	assert_int_equal(feed_split(input, 0, FEED_OCTETS, 0, record, &p), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_octets),
		cmocka_unit_test(test_random_ways),
		cmocka_unit_test(test_rest_offered_and_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
