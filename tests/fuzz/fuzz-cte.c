/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the Content-Transfer-Encoding decoder (mail/cte).
 * The first octet picks the encoding and a split step; the rest is the
 * encoded text. Decoding it whole and in pieces of the step must give
 * the same octets, and never more octets than came in.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mail/cte.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cte_decoder d;
	struct buf whole, split;
	enum cte cte;
	size_t step;

	if (size == 0)
		return 0;
	cte = (enum cte)(data[0] % 3);
	step = (size_t)(data[0] >> 2) + 1;
	data++;
	size--;
	buf_init(&whole);
	buf_init(&split);
	cte_decoder_init(&d, cte);
	cte_decode(&d, data, size, &whole);
	cte_decode_finish(&d, &whole);
	cte_decoder_init(&d, cte);
	for (size_t off = 0; off < size; off += step)
		cte_decode(&d, data + off, size - off < step ? size - off : step,
			   &split);
	cte_decode_finish(&d, &split);
	if (whole.len != split.len ||
	    memcmp(whole.data, split.data, whole.len) != 0 ||
	    whole.len > size)
		abort();
	buf_deinit(&whole);
	buf_deinit(&split);
	return 0;
}
