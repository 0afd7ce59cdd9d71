/* SPDX-License-Identifier: MIT */
/*
 * Hex digits, as the parsers of several formats read them (xtext, RFC 2047
 * Q encoding, RFC 6533 escapes, password hashes): one place for the
 * digit-to-value step each of them had its own copy of.
 */
#ifndef HERALD_LIB_HEX_H
#define HERALD_LIB_HEX_H

/* The value (0..15) of hex digit c in either case, or -1 if c is not one.
 * Takes an int so a char, a plain or an unsigned octet may be passed. */
static inline int
hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#endif
