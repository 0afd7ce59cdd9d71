/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: DKIM tag lists and the DKIM-Signature field parser
 * (src/mailauth/dkim-tags.c). The first octet selects the mode: even, the
 * signature parser; odd, the bare tag-list parser. Whatever parses has
 * unique tag names, raw value spans inside the input, and a b= span that
 * really holds the b= value.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s, *err = NULL;
	struct dkim_tag_list l;
	struct dkim_signature sig;
	size_t len;

	if (size < 1)
		return 0;
	s = (const char *)data + 1;
	len = size - 1;
	if (data[0] & 1) {
		if (dkim_tags_parse(s, len, &l, &err) < 0) {
			if (err == NULL || l.n != 0 || l.tags != NULL)
				abort();
			return 0;
		}
		if (l.n > DKIM_TAGS_MAX)
			abort();
		for (size_t i = 0; i < l.n; i++) {
			if (l.tags[i].value_start > l.tags[i].value_end ||
			    l.tags[i].value_end > len ||
			    strlen(l.tags[i].value) >
			    l.tags[i].value_end - l.tags[i].value_start)
				abort();
			for (size_t j = i + 1; j < l.n; j++) {
				if (strcmp(l.tags[i].name, l.tags[j].name) == 0)
					abort();
			}
			if (dkim_tags_get(&l, l.tags[i].name) != &l.tags[i])
				abort();
		}
		dkim_tags_deinit(&l);
		return 0;
	}
	if (dkim_signature_parse(s, len, &sig, &err) < 0) {
		if (err == NULL || sig.domain != NULL)
			abort();
		return 0;
	}
	if (sig.b_value_end > len || sig.b_value_start > sig.b_value_end ||
	    sig.b_len == 0 || sig.bh_len == 0 || sig.n_headers == 0 ||
	    (sig.has_t && sig.has_x && sig.x < sig.t))
		abort();
	{
		bool from = false;

		for (size_t i = 0; i < sig.n_headers; i++)
			from |= strcmp(sig.headers[i], "from") == 0;
		if (!from)
			abort();
	}
	dkim_signature_deinit(&sig);
	return 0;
}
