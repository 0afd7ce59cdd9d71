/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the DNS rdata decoder (dns-parse.c), the part of the
 * DNS module that reads what a server sent. The first octet picks the
 * record type; the rest is the rdata. A decoded record stays inside what
 * it was given: names are host-name text of at most 253 octets, TXT
 * strings add up to the join, TLSA data is the rdata after 3 octets.
 * The eighth choice is SRV (added after the name check, so the seeds keep
 * their meaning). A seventh choice feeds the rest to the name check instead (UTF-8
 * labels become A-labels): what it accepts is ASCII of at most 253
 * octets that it accepts again unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *name)
{
	size_t len = strlen(name);
	char norm[DNS_NAME_MAX + 1];
	const char *err;

	if (len > DNS_NAME_MAX)
		abort();
	/* every name decoded is one the lookup side accepts (or the root) */
	if (len > 0 && (dns_name_normalize(name, norm, &err) < 0 ||
			strcmp(norm, name) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dns_type types[] = { DNS_TYPE_A, DNS_TYPE_AAAA,
					       DNS_TYPE_MX, DNS_TYPE_TXT,
					       DNS_TYPE_TLSA, DNS_TYPE_PTR };
	struct dns_result *res;
	enum dns_type type;
	const char *err = NULL;
	size_t sum = 0;

	if (size < 1)
		return 0;
	if (data[0] % 8 == 6) {
		char in[DNS_NAME_MAX * 4 + 2], out[DNS_NAME_MAX + 1];

		if (size - 1 >= sizeof(in) || memchr(data + 1, 0, size - 1))
			return 0;
		memcpy(in, data + 1, size - 1);
		in[size - 1] = '\0';
		if (dns_name_normalize(in, out, &err) < 0) {
			if (err == NULL)
				abort();
			return 0;
		}
		for (const char *p = out; *p != '\0'; p++) {
			if ((unsigned char)*p >= 0x80 || *p == ' ')
				abort();
		}
		check_name(out);
		return 0;
	}
	type = data[0] % 8 == 7 ? DNS_TYPE_SRV : types[data[0] % 8];
	res = dns_result_new("fuzz.test", type);
	if (dns_rdata_parse(type, data + 1, size - 1, &res->rrs[0], &err) < 0) {
		if (err == NULL)
			abort();
		dns_result_free(&res);
		return 0;
	}
	res->count = 1;
	switch (type) {
	case DNS_TYPE_MX:
		check_name(res->rrs[0].mx.exchange);
		break;
	case DNS_TYPE_PTR:
		check_name(res->rrs[0].ptr);
		break;
	case DNS_TYPE_SRV:
		check_name(res->rrs[0].srv.target);
		break;
	case DNS_TYPE_TXT:
		for (size_t i = 0; i < res->rrs[0].txt.n_strings; i++)
			sum += res->rrs[0].txt.string_lens[i];
		if (sum != res->rrs[0].txt.text_len ||
		    sum + res->rrs[0].txt.n_strings != size - 1)
			abort();
		break;
	case DNS_TYPE_TLSA:
		if (res->rrs[0].tlsa.data_len != size - 4)
			abort();
		break;
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		break;
	}
	dns_result_free(&res);
	return 0;
}
