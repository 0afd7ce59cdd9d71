/* SPDX-License-Identifier: MIT */
/*
 * Modified UTF-7 for mailbox names. The decoder accepts exactly the output
 * of the encoder: a name has one spelling, so a mailbox created under one
 * spelling cannot be found or duplicated under another.
 */
#include <stdint.h>

#include "imap/imap-utf7.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/utf8.h"

/* RFC 3501 5.1.3: base64 with "," instead of "/" */
static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool
is_direct(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static bool
is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

bool
imap_utf7_is_plain(const char *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!is_direct((uint8_t)in[i]) || in[i] == '&')
			return false;
	}
	return true;
}

struct b64_writer {
	uint32_t bits;
	unsigned int nbits;
};

static void
put_unit(struct buf *out, struct b64_writer *w, uint16_t unit)
{
	w->bits = (w->bits << 16) | unit;
	w->nbits += 16;
	while (w->nbits >= 6) {
		w->nbits -= 6;
		buf_putc(out, b64[(w->bits >> w->nbits) & 0x3f]);
	}
	w->bits &= (1u << w->nbits) - 1;
}

int
imap_utf8_to_utf7(const char *in, size_t len, struct buf *out,
		  const char **error_r)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t start = out->len, i = 0;
	struct b64_writer w = { 0, 0 };
	bool shifted = false;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);

		if (n == 0) {
			*error_r = "Invalid UTF-8 in mailbox name";
			goto fail;
		}
		if (is_control(cp)) {
			*error_r = "Control character in mailbox name";
			goto fail;
		}
		i += n;
		if (is_direct(cp)) {
			if (shifted) {
				if (w.nbits > 0)
					buf_putc(out, b64[(w.bits <<
							   (6 - w.nbits)) &
							  0x3f]);
				buf_putc(out, '-');
				w.bits = 0;
				w.nbits = 0;
				shifted = false;
			}
			buf_putc(out, (char)cp);
			if (cp == '&')
				buf_putc(out, '-');
			continue;
		}
		if (!shifted) {
			buf_putc(out, '&');
			shifted = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put_unit(out, &w, (uint16_t)(0xd800 | (cp >> 10)));
			put_unit(out, &w, (uint16_t)(0xdc00 | (cp & 0x3ff)));
		} else {
			put_unit(out, &w, (uint16_t)cp);
		}
	}
	if (shifted) {
		if (w.nbits > 0)
			buf_putc(out, b64[(w.bits << (6 - w.nbits)) & 0x3f]);
		buf_putc(out, '-');
	}
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}

/* cp comes from a checked UTF-16 unit or surrogate pair: never a lone
 * surrogate or past U+10FFFF, so utf8_encode() always writes it. */
static void
put_utf8(struct buf *out, uint32_t cp)
{
	uint8_t s[4];

	buf_append(out, s, utf8_encode(cp, s));
}

/* Decodes the base64 run in[0..len) (between "&" and "-"). */
static int
decode_shift(const char *in, size_t len, struct buf *out,
	     const char **error_r)
{
	uint32_t bits = 0, high = 0;
	unsigned int nbits = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		int v = base64_digit_value((unsigned char)in[i], ',');

		if (v < 0) {
			*error_r = "Invalid character in modified UTF-7 shift";
			return -1;
		}
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;

		bits &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff) {
				*error_r = "Lone surrogate in modified UTF-7";
				return -1;
			}
			put_utf8(out, 0x10000 + ((high - 0xd800) << 10) +
				 (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			*error_r = "Lone surrogate in modified UTF-7";
			return -1;
		} else if (is_direct(unit)) {
			*error_r = "Printable ASCII encoded in modified UTF-7";
			return -1;
		} else if (is_control(unit)) {
			*error_r = "Control character in mailbox name";
			return -1;
		} else {
			put_utf8(out, unit);
		}
	}
	if (high != 0) {
		*error_r = "Lone surrogate in modified UTF-7";
		return -1;
	}
	/* the encoder pads the last unit with zero bits to a whole base64
	 * character: fewer than 6 bits left over, all of them zero */
	if (nbits >= 6 || bits != 0) {
		*error_r = "Non-canonical modified UTF-7 padding";
		return -1;
	}
	return 0;
}

int
imap_utf7_to_utf8(const char *in, size_t len, struct buf *out,
		  const char **error_r)
{
	size_t start = out->len, i = 0;
	bool after_shift = false;

	while (i < len) {
		uint8_t c = (uint8_t)in[i];

		if (!is_direct(c)) {
			*error_r = "Invalid character in modified UTF-7 name";
			goto fail;
		}
		if (c != '&') {
			buf_putc(out, (char)c);
			after_shift = false;
			i++;
			continue;
		}
		size_t j = i + 1;

		while (j < len && in[j] != '-')
			j++;
		if (j == len) {
			*error_r = "Unterminated modified UTF-7 shift";
			goto fail;
		}
		if (j == i + 1) {
			buf_putc(out, '&');
			after_shift = false;
		} else {
			/* one run of non-ASCII is one shift */
			if (after_shift) {
				*error_r = "Adjacent modified UTF-7 shifts";
				goto fail;
			}
			if (decode_shift(in + i + 1, j - i - 1, out,
					 error_r) < 0)
				goto fail;
			after_shift = true;
		}
		i = j + 1;
	}
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}
