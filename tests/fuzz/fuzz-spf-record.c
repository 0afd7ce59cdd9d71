/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the SPF record parser (mailauth/spf-record.c), which
 * reads TXT records from any domain's DNS. The input is the record text
 * (the first octet chooses whether "v=spf1 " is put in front). A record
 * that parses has terms whose CIDR lengths fit their family, whose
 * domain-specs pass the domain-spec check, and whose texts are pieces of
 * the record; a refusal says why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mailauth/spf-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_record *rec = NULL;
	const char *err = NULL;
	struct buf text;

	if (size < 1)
		return 0;
	buf_init(&text);
	if (data[0] & 1)
		buf_puts(&text, "v=spf1 ");
	buf_append(&text, data + 1, size - 1);
	if (spf_record_parse(text.data, text.len, &rec, &err) < 0) {
		if (rec != NULL || err == NULL)
			abort();
	} else {
		if (!spf_record_is_spf1(text.data, text.len))
			abort();
		for (size_t i = 0; i < rec->n_terms; i++) {
			const struct spf_term *t = &rec->terms[i];

			if (t->cidr4 > 32 || t->cidr6 > 128 ||
			    strchr("+-~?", t->qualifier) == NULL ||
			    strstr(text.data, t->text) == NULL)
				abort();
			if (t->domain != NULL &&
			    !spf_domain_spec_is_valid(t->domain,
						      strlen(t->domain)))
				abort();
		}
		if (rec->redirect != NULL &&
		    !spf_domain_spec_is_valid(rec->redirect,
					      strlen(rec->redirect)))
			abort();
		if (rec->exp != NULL &&
		    !spf_domain_spec_is_valid(rec->exp, strlen(rec->exp)))
			abort();
	}
	spf_record_free(&rec);
	buf_deinit(&text);
	return 0;
}
