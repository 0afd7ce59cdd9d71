/* SPDX-License-Identifier: MIT */
/* Feeding a stream parser its input whole, octet by octet and in random
 * pieces: a parser must give the same result however the network cuts its
 * input, and each unit test of one tries every cut through feed_split().
 * Linked into every unit test (tests/unit helper, Makefile UNIT_HELPERS). */
#ifndef HERALD_TEST_FEED_SPLIT_H
#define HERALD_TEST_FEED_SPLIT_H

#include <stddef.h>
#include <stdint.h>

/* Way 0 feeds the input whole, way 1 octet by octet, every way from 2 on
 * in random pieces seeded by the way (repeatable: a failure names its way).
 * A test loops `for (way = 0; way < ways; way++)`. */
enum { FEED_WHOLE = 0, FEED_OCTETS = 1, FEED_RANDOM = 2 };

/* Takes up to len octets of data; returns how many it took. Returning 0
 * ends the feed (the parser is done and takes nothing more). */
typedef size_t feed_fn(const uint8_t *data, size_t len, void *ctx);

/* Feeds data[0..len) to fn in the pieces of `way`; random pieces are 1 to
 * max_piece octets (0: up to the rest). What fn leaves of a piece is offered
 * again before the next piece is cut. Returns the octets fn took in all. */
size_t feed_split(const void *data, size_t len, unsigned way,
		  size_t max_piece, feed_fn *fn, void *ctx);

#endif
