/* SPDX-License-Identifier: MIT */
/*
 * The small pieces of the DNS module that need no resolver: names of
 * types and states, reverse (PTR) names of addresses, addresses as
 * sockaddrs and text, and copying and freeing results.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns-private.h"
#include "lib/mem.h"

static const struct {
	enum dns_type type;
	const char *name;
} type_names[] = {
	{ DNS_TYPE_A, "A" },
	{ DNS_TYPE_AAAA, "AAAA" },
	{ DNS_TYPE_MX, "MX" },
	{ DNS_TYPE_TXT, "TXT" },
	{ DNS_TYPE_TLSA, "TLSA" },
	{ DNS_TYPE_SRV, "SRV" },
	{ DNS_TYPE_PTR, "PTR" },
};

const char *
dns_type_name(enum dns_type type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (type_names[i].type == type)
			return type_names[i].name;
	}
	return "?";
}

int
dns_type_parse(const char *s, enum dns_type *type_r)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcasecmp(type_names[i].name, s) == 0) {
			*type_r = type_names[i].type;
			return 0;
		}
	}
	return -1;
}

bool
dns_type_is_known(int type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if ((int)type_names[i].type == type)
			return true;
	}
	return false;
}

const char *
dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_OK: return "ok";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_NODATA: return "nodata";
	case DNS_SERVFAIL: return "servfail";
	case DNS_TIMEOUT: return "timeout";
	case DNS_ERROR: return "error";
	}
	return "?";
}

const char *
dns_sec_name(enum dns_sec sec)
{
	switch (sec) {
	case DNS_SEC_INSECURE: return "insecure";
	case DNS_SEC_SECURE: return "secure";
	case DNS_SEC_BOGUS: return "bogus";
	}
	return "?";
}

bool
dns_status_is_permanent(enum dns_status status)
{
	return status == DNS_NXDOMAIN || status == DNS_NODATA;
}

static void
ptr_name_v4(const uint8_t a[4], char out[DNS_PTR_NAME_MAX])
{
	snprintf(out, DNS_PTR_NAME_MAX, "%u.%u.%u.%u.in-addr.arpa",
		 a[3], a[2], a[1], a[0]);
}

static void
ptr_name_v6(const uint8_t a[16], char out[DNS_PTR_NAME_MAX])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	/* UNSAFE: 32 nibbles of two bytes and "ip6.arpa" with its NUL are
	 * 73 bytes, within DNS_PTR_NAME_MAX */
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 0x0f];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
}

int
dns_ptr_name(const struct sockaddr *sa, char out[DNS_PTR_NAME_MAX])
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		ptr_name_v4((const uint8_t *)&in->sin_addr, out);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			ptr_name_v4(a + 12, out);
		else
			ptr_name_v6(a, out);
		return 0;
	}
	return -1;
}

int
dns_ptr_name_ip(const char *ip, char out[DNS_PTR_NAME_MAX])
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip,
			   &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return -1;
	return dns_ptr_name((const struct sockaddr *)&ss, out);
}

socklen_t
dns_addr_sockaddr(const struct dns_addr *addr, uint16_t port,
		  struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (addr->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_addr = addr->v6;
		return sizeof(*in6);
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	in->sin_addr = addr->v4;
	return sizeof(*in);
}

const char *
dns_addr_str(const struct dns_addr *addr, char *out, size_t outsz)
{
	if (inet_ntop(addr->family, addr->family == AF_INET6 ?
		      (const void *)&addr->v6 : (const void *)&addr->v4,
		      out, (socklen_t)outsz) == NULL)
		snprintf(out, outsz, "?");
	return out;
}

size_t
dns_result_size(const struct dns_result *r)
{
	/* allocations as dns_result_dup() makes them, without malloc's
	 * own overhead */
	size_t n = sizeof(*r) + strlen(r->name) + 1 + strlen(r->canonname) + 1 +
		   (r->count + 1) * sizeof(struct dns_rr);

	if (r->error != NULL)
		n += strlen(r->error) + 1;
	if (r->why_bogus != NULL)
		n += strlen(r->why_bogus) + 1;
	for (size_t i = 0; i < r->count; i++) {
		const struct dns_rr *rr = &r->rrs[i];

		switch (r->type) {
		case DNS_TYPE_MX:
			n += strlen(rr->mx.exchange) + 1;
			break;
		case DNS_TYPE_PTR:
			n += strlen(rr->ptr) + 1;
			break;
		case DNS_TYPE_SRV:
			n += strlen(rr->srv.target) + 1;
			break;
		case DNS_TYPE_TXT:
			n += 2 * (rr->txt.text_len + 1) +
			     (rr->txt.n_strings + 1) *
			     (sizeof(char *) + sizeof(size_t) + 1);
			break;
		case DNS_TYPE_TLSA:
			n += rr->tlsa.data_len + 1;
			break;
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			break;
		}
	}
	return n;
}

/* Octets of a record's own data as dns_result_dup() packs it, in two
 * parts: the pointer and length arrays (8-aligned) and the text. */
static void
rr_packed_size(enum dns_type type, const struct dns_rr *rr, size_t *arrays,
	       size_t *text)
{
	switch (type) {
	case DNS_TYPE_MX:
		*text += strlen(rr->mx.exchange) + 1;
		break;
	case DNS_TYPE_PTR:
		*text += strlen(rr->ptr) + 1;
		break;
	case DNS_TYPE_SRV:
		*text += strlen(rr->srv.target) + 1;
		break;
	case DNS_TYPE_TXT:
		*arrays += (rr->txt.n_strings + 1) *
			   (sizeof(char *) + sizeof(size_t));
		*text += rr->txt.text_len + 1;
		for (size_t i = 0; i < rr->txt.n_strings; i++)
			*text += rr->txt.string_lens[i] + 1;
		break;
	case DNS_TYPE_TLSA:
		*text += rr->tlsa.data_len + 1;
		break;
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		break;
	}
}

/* Copies n octets of src to *p and moves *p past them. */
static void *
pack(char **p, const void *src, size_t n)
{
	void *dst = *p;

	memcpy(dst, src, n);
	*p += n;
	return dst;
}

static char *
pack_str(char **p, const char *s)
{
	return pack(p, s, strlen(s) + 1);
}

/* One block (the struct, its records, then their arrays and text): a
 * result the DNS cache hands out costs one allocation and one free, not
 * one per name and string (a TXT answer took eight; every SPF, DKIM and
 * DMARC check of a message takes several). */
struct dns_result *
dns_result_dup(const struct dns_result *result)
{
	size_t rrs_size = (result->count + 1) * sizeof(struct dns_rr);
	size_t arrays = 0, text = strlen(result->name) + 1 +
				  strlen(result->canonname) + 1;
	struct dns_result *r;
	char *ap, *tp;

	if (result->error != NULL)
		text += strlen(result->error) + 1;
	if (result->why_bogus != NULL)
		text += strlen(result->why_bogus) + 1;
	for (size_t i = 0; i < result->count; i++)
		rr_packed_size(result->type, &result->rrs[i], &arrays, &text);
	r = xmalloc(sizeof(*r) + rrs_size + arrays + text);
	*r = *result;
	r->packed = true;
	r->rrs = (struct dns_rr *)(r + 1);
	memset(&r->rrs[result->count], 0, sizeof(struct dns_rr));
	ap = (char *)r->rrs + rrs_size;
	tp = ap + arrays;
	r->name = pack_str(&tp, result->name);
	r->canonname = pack_str(&tp, result->canonname);
	if (result->error != NULL)
		r->error = pack_str(&tp, result->error);
	if (result->why_bogus != NULL)
		r->why_bogus = pack_str(&tp, result->why_bogus);
	for (size_t i = 0; i < result->count; i++) {
		const struct dns_rr *src = &result->rrs[i];
		struct dns_rr *dst = &r->rrs[i];

		*dst = *src;
		switch (result->type) {
		case DNS_TYPE_MX:
			dst->mx.exchange = pack_str(&tp, src->mx.exchange);
			break;
		case DNS_TYPE_PTR:
			dst->ptr = pack_str(&tp, src->ptr);
			break;
		case DNS_TYPE_SRV:
			dst->srv.target = pack_str(&tp, src->srv.target);
			break;
		case DNS_TYPE_TXT: {
			size_t ns = src->txt.n_strings;

			dst->txt.strings = (char **)(void *)ap;
			ap += (ns + 1) * sizeof(char *);
			dst->txt.string_lens = (size_t *)(void *)ap;
			ap += (ns + 1) * sizeof(size_t);
			dst->txt.text = pack(&tp, src->txt.text,
					     src->txt.text_len + 1);
			for (size_t k = 0; k < ns; k++) {
				dst->txt.strings[k] =
					pack(&tp, src->txt.strings[k],
					     src->txt.string_lens[k] + 1);
				dst->txt.string_lens[k] =
					src->txt.string_lens[k];
			}
			dst->txt.strings[ns] = NULL;
			dst->txt.string_lens[ns] = 0;
			break;
		}
		case DNS_TYPE_TLSA:
			dst->tlsa.data = pack(&tp, src->tlsa.data,
					      src->tlsa.data_len + 1);
			break;
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			break;
		}
	}
	return r;
}

static void
rr_free(enum dns_type type, struct dns_rr *rr)
{
	switch (type) {
	case DNS_TYPE_MX:
		free(rr->mx.exchange);
		break;
	case DNS_TYPE_PTR:
		free(rr->ptr);
		break;
	case DNS_TYPE_SRV:
		free(rr->srv.target);
		break;
	case DNS_TYPE_TXT:
		for (size_t i = 0; i < rr->txt.n_strings; i++)
			free(rr->txt.strings[i]);
		free(rr->txt.strings);
		free(rr->txt.string_lens);
		free(rr->txt.text);
		break;
	case DNS_TYPE_TLSA:
		free(rr->tlsa.data);
		break;
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		break;
	}
}

void
dns_result_free(struct dns_result **result)
{
	struct dns_result *r = *result;

	if (r == NULL)
		return;
	if (!r->packed) {
		for (size_t i = 0; i < r->count; i++)
			rr_free(r->type, &r->rrs[i]);
		free(r->rrs);
		free(r->name);
		free(r->canonname);
		free(r->error);
		free(r->why_bogus);
	}
	free(r);
	*result = NULL;
}

struct dns_result *
dns_result_new(const char *name, enum dns_type type)
{
	struct dns_result *r = xcalloc(1, sizeof(*r));

	r->name = xstrdup(name);
	r->canonname = xstrdup(name);
	r->type = type;
	r->rrs = xcalloc(1, sizeof(struct dns_rr));
	return r;
}

struct dns_result *
dns_result_new_error(const char *name, enum dns_type type,
		     enum dns_status status, const char *fmt, ...)
{
	struct dns_result *r = dns_result_new(name, type);
	va_list ap;

	r->status = status;
	r->rcode = status == DNS_SERVFAIL ? 2 : 0;
	va_start(ap, fmt);
	r->error = xvasprintf(fmt, ap);
	va_end(ap);
	return r;
}

int
dns_name_normalize(const char *name, char out[DNS_NAME_MAX + 1],
		   const char **error_r)
{
	size_t len = strlen(name), o = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0) {
		*error_r = "empty domain name";
		return -1;
	}
	/* UTF-8 labels are longer than their A-labels, but not by more
	 * than 4 octets per code point */
	if (len > DNS_NAME_MAX * 4) {
		*error_r = "domain name longer than 253 octets";
		return -1;
	}
	for (size_t start = 0; start <= len;) {
		size_t end = start;
		bool ascii = true;
		char alabel[64];
		int alen;

		while (end < len && name[end] != '.') {
			if ((unsigned char)name[end] >= 0x80)
				ascii = false;
			end++;
		}
		if (end == start) {
			*error_r = "empty label in domain name";
			return -1;
		}
		if (ascii) {
			for (size_t i = start; i < end; i++) {
				unsigned char c = (unsigned char)name[i];

				/* names reach us from addresses and headers:
				 * only printable ASCII without escapes goes
				 * to the wire. A space is a legal octet of a
				 * label (RFC 2181 11) that SPF macros make
				 * (RFC 7208 7.3: "%_"); logs quote it. */
				if (c < ' ' || c == 0x7f || c == '\\') {
					*error_r = "invalid character in domain name";
					return -1;
				}
			}
			if (end - start > 63) {
				*error_r = "label longer than 63 octets";
				return -1;
			}
			alen = (int)(end - start);
			for (int i = 0; i < alen; i++) {
				unsigned char c = (unsigned char)name[start + i];

				alabel[i] = (char)(c >= 'A' && c <= 'Z' ?
						   c + 32 : c);
			}
		} else {
			/* an SMTPUTF8 domain: its A-label (dns-idn.c) */
			alen = dns_idn_label(name + start, end - start, alabel,
					     error_r);
			if (alen < 0)
				return -1;
		}
		/* UNSAFE: o + dot + label <= DNS_NAME_MAX is checked before
		 * the copy; out holds DNS_NAME_MAX + 1 */
		if (o + (o > 0) + (size_t)alen > DNS_NAME_MAX) {
			*error_r = "domain name longer than 253 octets";
			return -1;
		}
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, alabel, (size_t)alen);
		o += (size_t)alen;
		start = end + 1;
		if (end == len)
			break;
	}
	out[o] = '\0';
	return 0;
}

int
dns_name_ascii(const char *name, char *out, size_t outsz)
{
	char buf[DNS_NAME_MAX + 1];
	const char *err;

	if (outsz < sizeof(buf) || dns_name_normalize(name, buf, &err) < 0)
		return -1;
	memcpy(out, buf, sizeof(buf));
	return 0;
}
