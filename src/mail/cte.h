/* SPDX-License-Identifier: MIT */
/*
 * Content-Transfer-Encoding decoding (RFC 2045 6) for IMAP BINARY
 * (RFC 3516): a streaming decoder for base64 and quoted-printable that
 * takes its input in any slices and gives the same octets however they
 * are split, in constant memory.
 */
#ifndef HERALD_MAIL_CTE_H
#define HERALD_MAIL_CTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum cte {
	CTE_IDENTITY,		/* 7bit, 8bit, binary, or none */
	CTE_BASE64,
	CTE_QUOTED_PRINTABLE,
	CTE_UNKNOWN,		/* anything else: BINARY answers UNKNOWN-CTE */
};

/* The encoding named by a Content-Transfer-Encoding value (as mail/mime
 * gives it: lower case, or NULL when absent). */
enum cte cte_from_name(const char *encoding);

struct cte_decoder {
	enum cte cte;
	/* base64: the bits of the sextets not yet output */
	uint32_t bits;
	unsigned int nbits;
	bool b64_end;		/* "=" seen: the rest is padding or junk */
	/* quoted-printable: octets of an "=" sequence not yet decided */
	uint8_t held[3];
	unsigned int nheld;
};

void cte_decoder_init(struct cte_decoder *d, enum cte cte);

/*
 * Appends the decoded octets of in[0..len) to out. Lenient as readers
 * are: base64 skips octets outside its alphabet and stops at "="; in
 * quoted-printable "=" CRLF (or "=" LF) is a soft line break, "=XX"
 * (hex, either case) an octet, and any other "=" stays as it is. Line
 * breaks and all other octets pass unchanged. Never fails.
 */
void cte_decode(struct cte_decoder *d, const uint8_t *in, size_t len,
		struct buf *out);

/* Ends the input: appends what the decoder held (an "=" that began no
 * sequence, a partial base64 quantum's whole octets). */
void cte_decode_finish(struct cte_decoder *d, struct buf *out);

#endif
