/* SPDX-License-Identifier: MIT */
/*
 * The table behind lib/unicasemap (generated into unicasemap-data.c by
 * scripts/gen-unicasemap.pl): for each code point whose i;unicode-casemap
 * form is not itself, that form as a run of code points in a pool.
 */
#ifndef HERALD_LIB_UNICASEMAP_DATA_H
#define HERALD_LIB_UNICASEMAP_DATA_H

#include <stddef.h>
#include <stdint.h>

struct unicasemap_entry {
	uint32_t cp;
	uint16_t offset;	/* into unicasemap_pool */
	uint8_t len;
};

extern const char unicasemap_unicode_version[];
/* sorted by cp */
extern const struct unicasemap_entry unicasemap_entries[];
extern const size_t unicasemap_entry_count;
extern const uint32_t unicasemap_pool[];

#endif
