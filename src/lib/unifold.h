/* SPDX-License-Identifier: MIT */
/*
 * Case-insensitive substring matching on UTF-8 text for IMAP SEARCH (RFC
 * 9051 6.4.4 "SHOULD ignore case"): a simple case folding to lower case of
 * the scripts mail is mostly written in, a subset of what SQLite's FTS5
 * folds, so a match found here is also found by the full-text index.
 */
#ifndef HERALD_LIB_UNIFOLD_H
#define HERALD_LIB_UNIFOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* The lower-case form of cp: ASCII, Latin-1, Latin Extended-A, Greek,
 * Cyrillic and Armenian capitals; every other code point as it is. */
uint32_t unifold_cp(uint32_t cp);

/* Appends s[0..len) folded to out; an octet that starts no valid UTF-8
 * sequence is copied as it is (it then only matches itself). */
void unifold_append(const char *s, size_t len, struct buf *out);

/* Whether folded needle[0..nlen) occurs in hay[0..hlen), hay folded on
 * the fly (no copy). An empty needle is found everywhere. */
bool unifold_contains(const char *hay, size_t hlen, const char *needle,
		      size_t nlen);

#endif
