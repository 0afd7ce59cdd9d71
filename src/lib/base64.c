/* SPDX-License-Identifier: MIT */
/*
 * RFC 4648 section 4 base64. The decoder rejects everything section 3.3
 * lets an implementation reject, so one byte string has one encoding: a
 * lenient decoder would let SASL peers smuggle data past length checks.
 */
#include "lib/base64.h"

#include <string.h>

#include "lib/buf.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_digit_value(unsigned char c, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == (unsigned char)c63)
		return 63;
	return -1;
}

size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t
base64_decoded_max_len(size_t n)
{
	return n / 4 * 3 + 3;
}

static void
b64_encode_raw(const uint8_t *in, size_t len, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = '=';
	}
}

void
base64_encode(const uint8_t *in, size_t len, struct buf *out)
{
	size_t n = base64_encoded_len(len);

	if (n == 0)
		return;
	buf_reserve(out, n);
	b64_encode_raw(in, len, out->data + out->len);
	out->len += n;
	out->data[out->len] = '\0';
}

size_t
base64_encode_to(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t n = base64_encoded_len(len);

	if (outsz == 0)
		return (size_t)-1;
	if (len > (SIZE_MAX - 3) / 4 * 3 || n >= outsz) {
		out[0] = '\0';
		return (size_t)-1;
	}
	b64_encode_raw(in, len, out);
	out[n] = '\0';
	return n;
}

/* base64_digit_value(c, '/') + 1 for every octet, 0 for the ones outside
 * the alphabet: the decoder's chain of tests per octet was most of the
 * cost of a DKIM signature's b= decoding, done for every inbound
 * message. */
static const uint8_t b64_value1[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
	['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
	['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
	['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/*
 * The decoding core: validates all of in first, then writes when out is
 * not NULL. Returns the decoded length or (size_t)-1.
 */
static size_t
b64_decode_raw(const char *in, size_t len, uint8_t *out)
{
	size_t i, o = 0, pad = 0;
	int v[4];
	int j;

	if (len % 4 != 0)
		return (size_t)-1;
	/* every quad but the last has no '=' (its value is 0 here, so it
	 * fails the test like any octet outside the alphabet): four table
	 * reads and one test per quad (a DKIM b= was ~24 instructions an
	 * octet through the general loop below) */
	for (i = 0; i + 4 < len; i += 4) {
		int a = b64_value1[(unsigned char)in[i]] - 1;
		int b = b64_value1[(unsigned char)in[i + 1]] - 1;
		int c = b64_value1[(unsigned char)in[i + 2]] - 1;
		int d = b64_value1[(unsigned char)in[i + 3]] - 1;

		if ((a | b | c | d) < 0)
			return (size_t)-1;
		if (out != NULL) {
			uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 |
				     (uint32_t)c << 6 | (uint32_t)d;

			out[o] = (uint8_t)(w >> 16);
			out[o + 1] = (uint8_t)(w >> 8);
			out[o + 2] = (uint8_t)w;
		}
		o += 3;
	}
	for (; i < len; i += 4) {
		bool last = i + 4 == len;

		for (j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in[i + j];

			if (c == '=' && last && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return (size_t)-1; /* data after '=' */
			v[j] = b64_value1[c] - 1;
			if (v[j] < 0)
				return (size_t)-1;
		}
		/* Section 3.5: the pad bits must be zero (canonical form). */
		if (pad == 1 && (v[2] & 3) != 0)
			return (size_t)-1;
		if (pad == 2 && (v[1] & 15) != 0)
			return (size_t)-1;
		if (out != NULL) {
			uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
				     (uint32_t)v[2] << 6 | (uint32_t)v[3];

			out[o] = (uint8_t)(w >> 16);
			if (pad < 2)
				out[o + 1] = (uint8_t)(w >> 8);
			if (pad < 1)
				out[o + 2] = (uint8_t)w;
		}
		o += 3 - pad;
	}
	return o;
}

bool
base64_is_valid(const char *in, size_t len)
{
	return b64_decode_raw(in, len, NULL) != (size_t)-1;
}

int
base64_decode(const char *in, size_t len, struct buf *out)
{
	size_t n;

	if (len % 4 != 0)
		return -1;
	/* one pass, into room for the most it can make (a first pass to
	 * count showed in the DKIM verifier's cost per message); on error
	 * the octets written past len are dropped again */
	buf_reserve(out, len / 4 * 3);
	n = b64_decode_raw(in, len, (uint8_t *)out->data + out->len);
	if (n == (size_t)-1) {
		out->data[out->len] = '\0';
		return -1;
	}
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

int
base64_decode_to(const char *in, size_t len, uint8_t *out, size_t outsz,
		 size_t *len_r)
{
	size_t n = b64_decode_raw(in, len, NULL);

	if (n == (size_t)-1 || n > outsz)
		return -1;
	(void)b64_decode_raw(in, len, out);
	*len_r = n;
	return 0;
}
