/* SPDX-License-Identifier: MIT */
/*
 * Decoding of record data as libunbound returns it (uncompressed wire
 * format) into struct dns_rr. DNS answers are untrusted input: every
 * length is checked against the slice, names are limited to what a host
 * name can be as text. Fuzzed by tests/fuzz/fuzz-dns-rdata.c.
 */
#include <string.h>
#include <sys/socket.h>

#include "dns/dns-private.h"
#include "lib/mem.h"

int
dns_wire_name(const uint8_t *data, size_t len, size_t *pos,
	      char out[DNS_NAME_MAX + 2], const char **error_r)
{
	size_t p = *pos, o = 0;

	for (;;) {
		if (p >= len) {
			*error_r = "name runs past the record";
			return -1;
		}
		uint8_t l = data[p++];

		if (l == 0)
			break;
		if (l > 63) {
			/* 0xc0: a compression pointer, never in rdata
			 * handed over by libunbound */
			*error_r = "bad label length";
			return -1;
		}
		if (l > len - p) {
			*error_r = "label runs past the record";
			return -1;
		}
		/* UNSAFE: o + l + 1 <= DNS_NAME_MAX + 1 is checked before
		 * writing the label and its dot; out holds DNS_NAME_MAX + 2 */
		if (o + (o > 0) + l > DNS_NAME_MAX) {
			*error_r = "name longer than 253 octets";
			return -1;
		}
		if (o > 0)
			out[o++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = data[p + i];

			if (c <= ' ' || c >= 0x7f || c == '.' || c == '\\') {
				*error_r = "name with a byte no host name has";
				return -1;
			}
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		p += l;
	}
	out[o] = '\0';
	*pos = p;
	return 0;
}

static int
parse_txt(const uint8_t *data, size_t len, struct dns_txt *txt,
	  const char **error_r)
{
	size_t n = 0;

	/* RFC 1035 3.3.14: one or more <character-string>s */
	if (len == 0) {
		*error_r = "empty TXT record";
		return -1;
	}
	for (size_t p = 0; p < len; p += 1 + data[p]) {
		if (data[p] > len - p - 1) {
			*error_r = "TXT string runs past the record";
			return -1;
		}
		n++;
	}
	txt->n_strings = n;
	txt->strings = xcalloc(n + 1, sizeof(char *));
	txt->string_lens = xcalloc(n + 1, sizeof(size_t));
	/* the join is at most len - n bytes */
	txt->text = xmalloc(len - n + 1);
	txt->text_len = 0;
	n = 0;
	for (size_t p = 0; p < len; p += 1 + data[p]) {
		size_t l = data[p];

		txt->strings[n] = xmalloc(l + 1);
		memcpy(txt->strings[n], data + p + 1, l);
		txt->strings[n][l] = '\0';
		txt->string_lens[n] = l;
		memcpy(txt->text + txt->text_len, data + p + 1, l);
		txt->text_len += l;
		n++;
	}
	txt->text[txt->text_len] = '\0';
	return 0;
}

int
dns_rdata_parse(enum dns_type type, const uint8_t *data, size_t len,
		struct dns_rr *rr_r, const char **error_r)
{
	char name[DNS_NAME_MAX + 2];
	size_t pos = 0;

	memset(rr_r, 0, sizeof(*rr_r));
	switch (type) {
	case DNS_TYPE_A:
		if (len != 4) {
			*error_r = "A record not 4 octets";
			return -1;
		}
		rr_r->addr.family = AF_INET;
		memcpy(&rr_r->addr.v4, data, 4);
		return 0;
	case DNS_TYPE_AAAA:
		if (len != 16) {
			*error_r = "AAAA record not 16 octets";
			return -1;
		}
		rr_r->addr.family = AF_INET6;
		memcpy(&rr_r->addr.v6, data, 16);
		return 0;
	case DNS_TYPE_MX:
		if (len < 3) {
			*error_r = "MX record too short";
			return -1;
		}
		pos = 2;
		if (dns_wire_name(data, len, &pos, name, error_r) < 0)
			return -1;
		if (pos != len) {
			*error_r = "MX record with trailing data";
			return -1;
		}
		rr_r->mx.preference = (uint16_t)(data[0] << 8 | data[1]);
		rr_r->mx.exchange = xstrdup(name);
		return 0;
	case DNS_TYPE_PTR:
		if (dns_wire_name(data, len, &pos, name, error_r) < 0)
			return -1;
		if (pos != len) {
			*error_r = "PTR record with trailing data";
			return -1;
		}
		rr_r->ptr = xstrdup(name);
		return 0;
	case DNS_TYPE_TXT:
		return parse_txt(data, len, &rr_r->txt, error_r);
	case DNS_TYPE_SRV:
		/* priority, weight, port, then the target (RFC 2782) */
		if (len < 7) {
			*error_r = "SRV record too short";
			return -1;
		}
		pos = 6;
		if (dns_wire_name(data, len, &pos, name, error_r) < 0)
			return -1;
		if (pos != len) {
			*error_r = "SRV record with trailing data";
			return -1;
		}
		rr_r->srv.priority = (uint16_t)(data[0] << 8 | data[1]);
		rr_r->srv.weight = (uint16_t)(data[2] << 8 | data[3]);
		rr_r->srv.port = (uint16_t)(data[4] << 8 | data[5]);
		rr_r->srv.target = xstrdup(name);
		return 0;
	case DNS_TYPE_TLSA:
		if (len < 3) {
			*error_r = "TLSA record too short";
			return -1;
		}
		rr_r->tlsa.usage = data[0];
		rr_r->tlsa.selector = data[1];
		rr_r->tlsa.mtype = data[2];
		rr_r->tlsa.data_len = len - 3;
		/* one more byte: xmemdup of 0 bytes and callers that print */
		rr_r->tlsa.data = xmalloc(len - 3 + 1);
		memcpy(rr_r->tlsa.data, data + 3, len - 3);
		rr_r->tlsa.data[len - 3] = 0;
		return 0;
	}
	*error_r = "unsupported record type";
	return -1;
}

void
dns_result_sort_mx(struct dns_result *result)
{
	/* insertion sort: stable, and an MX set is a handful of records */
	for (size_t i = 1; i < result->count; i++) {
		struct dns_rr rr = result->rrs[i];
		size_t j = i;

		while (j > 0 &&
		       result->rrs[j - 1].mx.preference > rr.mx.preference) {
			result->rrs[j] = result->rrs[j - 1];
			j--;
		}
		result->rrs[j] = rr;
	}
}
