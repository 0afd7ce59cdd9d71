/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the DMARC record parser (mailauth/dmarc-record.c),
 * which reads TXT records from any domain's DNS, and the From-domain
 * reader (dmarc-from.c), which reads the header of any inbound message.
 * The first octet chooses: even, the rest is a record ("v=DMARC1; " put
 * in front when bit 1 is set); odd, a message header. A record that
 * parses has p set and values in range; a From domain is a valid domain,
 * and the input read as one From value gets from the quick reader only
 * what the full reader says too (dmarc-private.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mail/address.h"
#include "mailauth/dmarc-private.h"
#include "mailauth/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_record(const char *text, size_t len)
{
	struct dmarc_record rec;
	const char *err = NULL;

	if (dmarc_record_parse(text, len, &rec, &err) < 0) {
		if (err == NULL)
			abort();
		return;
	}
	if (!dmarc_record_is_dmarc(text, len) ||
	    rec.p == DMARC_POLICY_UNSET || rec.pct > 100 || rec.fo == NULL ||
	    rec.rf == NULL)
		abort();
	struct dmarc_record copy;

	dmarc_record_copy(&copy, &rec);
	dmarc_record_deinit(&rec);
	dmarc_record_deinit(&copy);
}

static void
fuzz_from(const char *text, size_t len)
{
	char *domain = NULL;
	enum dmarc_from_status st = dmarc_from_domain(text, len, &domain);

	if ((st == DMARC_FROM_OK) != (domain != NULL))
		abort();
	if (domain != NULL && !address_domain_is_valid(domain, true))
		abort();
	free(domain);
	/* the same octets as a From field's value */
	char *quick = NULL, *full = NULL;

	if (dmarc_from_value_simple(text, len, &quick)) {
		if (dmarc_from_value_full(text, len, &full) != DMARC_FROM_OK ||
		    strcmp(quick, full) != 0)
			abort();
	}
	free(quick);
	free(full);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf text;

	if (size < 1)
		return 0;
	buf_init(&text);
	if (!(data[0] & 1) && (data[0] & 2))
		buf_puts(&text, "v=DMARC1; ");
	buf_append(&text, data + 1, size - 1);
	if (data[0] & 1)
		fuzz_from(text.data != NULL ? text.data : "", text.len);
	else
		fuzz_record(text.data != NULL ? text.data : "", text.len);
	buf_deinit(&text);
	return 0;
}
