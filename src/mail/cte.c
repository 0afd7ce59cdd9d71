/* SPDX-License-Identifier: MIT */
/*
 * Streaming base64 and quoted-printable decoding for IMAP BINARY: a few
 * octets of state carried between slices, so a part of any size is
 * decoded block by block as it is read from the store.
 */
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "mail/cte.h"

enum cte
cte_from_name(const char *encoding)
{
	if (encoding == NULL || strcasecmp(encoding, "7bit") == 0 ||
	    strcasecmp(encoding, "8bit") == 0 ||
	    strcasecmp(encoding, "binary") == 0)
		return CTE_IDENTITY;
	if (strcasecmp(encoding, "base64") == 0)
		return CTE_BASE64;
	if (strcasecmp(encoding, "quoted-printable") == 0)
		return CTE_QUOTED_PRINTABLE;
	return CTE_UNKNOWN;
}

void
cte_decoder_init(struct cte_decoder *d, enum cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
}

static void
b64_decode(struct cte_decoder *d, const uint8_t *in, size_t len,
	   struct buf *out)
{
	for (size_t i = 0; i < len && !d->b64_end; i++) {
		int v;

		if (in[i] == '=') {
			d->b64_end = true;
			break;
		}
		v = base64_digit_value(in[i], '/');
		if (v < 0)
			continue;
		d->bits = (d->bits << 6) | (uint32_t)v;
		d->nbits += 6;
		if (d->nbits >= 8) {
			d->nbits -= 8;
			buf_putc(out, (char)((d->bits >> d->nbits) & 0xff));
			d->bits &= (1u << d->nbits) - 1;
		}
	}
}

static int
hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One octet after a held "=" (or "=" CR, or "=" and a hex digit):
 * returns false when c was not used and must be read again as input. */
static bool
qp_step(struct cte_decoder *d, uint8_t c, struct buf *out)
{
	uint8_t h1 = d->held[1];

	if (d->nheld == 1) {
		if (c == '\n') {			/* "=" LF: soft break */
			d->nheld = 0;
			return true;
		}
		if (c == '\r' || hex_value(c) >= 0) {
			d->held[d->nheld++] = c;
			return true;
		}
	} else if (h1 == '\r') {
		if (c == '\n') {			/* "=" CRLF: soft break */
			d->nheld = 0;
			return true;
		}
	} else if (hex_value(c) >= 0) {
		buf_putc(out, (char)(hex_value(h1) * 16 + hex_value(c)));
		d->nheld = 0;
		return true;
	}
	/* no sequence: what was held stays as it is */
	buf_append(out, d->held, d->nheld);
	d->nheld = 0;
	return false;
}

static void
qp_decode(struct cte_decoder *d, const uint8_t *in, size_t len,
	  struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		if (d->nheld > 0) {
			if (qp_step(d, in[i], out))
				i++;
			continue;
		}
		const uint8_t *eq = memchr(in + i, '=', len - i);
		size_t run = eq != NULL ? (size_t)(eq - (in + i)) : len - i;

		buf_append(out, in + i, run);
		i += run;
		if (i < len) {
			d->held[0] = '=';
			d->nheld = 1;
			i++;
		}
	}
}

void
cte_decode(struct cte_decoder *d, const uint8_t *in, size_t len,
	   struct buf *out)
{
	switch (d->cte) {
	case CTE_BASE64:
		b64_decode(d, in, len, out);
		break;
	case CTE_QUOTED_PRINTABLE:
		qp_decode(d, in, len, out);
		break;
	default:
		buf_append(out, in, len);
		break;
	}
}

void
cte_decode_finish(struct cte_decoder *d, struct buf *out)
{
	if (d->cte == CTE_QUOTED_PRINTABLE && d->nheld > 0) {
		/* an unfinished "=" sequence stays as it was */
		buf_append(out, d->held, d->nheld);
		d->nheld = 0;
	}
	d->bits = 0;
	d->nbits = 0;
}
