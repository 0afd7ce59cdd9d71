/* SPDX-License-Identifier: MIT */
/*
 * Internationalized domain names: a label in UTF-8 (an SMTPUTF8 address's
 * domain, RFC 6531) becomes the A-label DNS holds ("bücher" ->
 * "xn--bcher-kva"): lower-cased with lib/unifold, then Punycode (RFC
 * 3492). Not full IDNA2008/UTS 46: no NFC normalization and no table of
 * disallowed code points beyond controls and spaces.
 */
#include <string.h>

#include "dns/dns-private.h"
#include "lib/unifold.h"
#include "lib/utf8.h"

/* RFC 3492 5 */
enum {
	PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700,
	PC_INITIAL_BIAS = 72, PC_INITIAL_N = 128,
};

/* A label has at most 63 octets, so at most 59 code points after
 * "xn--"; more input cannot fit. */
#define IDN_CPS_MAX 63

static uint32_t
adapt(uint32_t delta, uint32_t numpoints, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char
digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* RFC 3492 6.3 for cps[0..n); writes at most outsz - 1 octets and a NUL.
 * Returns the length, or -1 when it does not fit. */
static int
punycode_encode(const uint32_t *cps, size_t n, char *out, size_t outsz)
{
	uint32_t cur = PC_INITIAL_N, delta = 0, bias = PC_INITIAL_BIAS;
	size_t o = 0, h, b = 0;

	for (size_t i = 0; i < n; i++) {
		if (cps[i] < 0x80) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)cps[i];
			b++;
		}
	}
	h = b;
	if (b > 0) {
		if (o + 1 >= outsz)
			return -1;
		out[o++] = '-';
	}
	while (h < n) {
		uint32_t m = UINT32_MAX;

		for (size_t i = 0; i < n; i++) {
			if (cps[i] >= cur && cps[i] < m)
				m = cps[i];
		}
		/* at most 63 code points below 0x110000: no overflow of
		 * 32 bits ((0x110000 - 128) * 64 < 2^27) */
		delta += (m - cur) * (uint32_t)(h + 1);
		cur = m;
		for (size_t i = 0; i < n; i++) {
			if (cps[i] < cur)
				delta++;
			if (cps[i] != cur)
				continue;
			uint32_t q = delta;

			for (uint32_t k = PC_BASE;; k += PC_BASE) {
				uint32_t t = k <= bias ? PC_TMIN :
					k >= bias + PC_TMAX ? PC_TMAX : k - bias;

				if (q < t)
					break;
				if (o + 1 >= outsz)
					return -1;
				out[o++] = digit(t + (q - t) % (PC_BASE - t));
				q = (q - t) / (PC_BASE - t);
			}
			if (o + 1 >= outsz)
				return -1;
			out[o++] = digit(q);
			bias = adapt(delta, (uint32_t)(h + 1), h == b);
			delta = 0;
			h++;
		}
		delta++;
		cur++;
	}
	out[o] = '\0';
	return (int)o;
}

int
dns_idn_label(const char *label, size_t len, char out[64],
	      const char **error_r)
{
	uint32_t cps[IDN_CPS_MAX];
	size_t n = 0, pos = 0;
	int plen;

	if (!utf8_is_valid((const uint8_t *)label, len)) {
		*error_r = "domain name is not valid UTF-8";
		return -1;
	}
	while (pos < len) {
		uint32_t cp;
		size_t used = utf8_decode((const uint8_t *)label + pos,
					  len - pos, &cp);

		if (used == 0) {
			*error_r = "domain name is not valid UTF-8";
			return -1;
		}
		pos += used;
		if (n == IDN_CPS_MAX) {
			*error_r = "label longer than 63 octets";
			return -1;
		}
		/* controls, spaces and the separators a host name never
		 * holds, in either range */
		if (cp <= ' ' || cp == 0x7f || cp == '\\' ||
		    (cp >= 0x80 && cp <= 0xa0) || cp == 0x3002 ||
		    cp == 0xff0e || cp == 0xfeff ||
		    (cp >= 0x2000 && cp <= 0x200f) ||
		    (cp >= 0x2028 && cp <= 0x202f)) {
			*error_r = "invalid character in domain name";
			return -1;
		}
		cps[n++] = unifold_cp(cp);
	}
	memcpy(out, "xn--", 4);
	plen = punycode_encode(cps, n, out + 4, 64 - 4);
	if (plen < 0) {
		*error_r = "label longer than 63 octets";
		return -1;
	}
	return 4 + plen;
}
