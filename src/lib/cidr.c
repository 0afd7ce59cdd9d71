/* SPDX-License-Identifier: MIT */
/*
 * Network lists: parsing of "addr[/bits]" entries and prefix matching of
 * a client address against them (relay_networks).
 */
#include "lib/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "lib/mem.h"

/* Longest entry text: a bracketed IPv6 address with a prefix. */
#define CIDR_TEXT_MAX (INET6_ADDRSTRLEN + 2 + 4)

int
cidr_parse(const char *text, size_t len, struct cidr *c_r,
	   const char **error_r)
{
	char host[CIDR_TEXT_MAX + 1];
	const char *slash = memchr(text, '/', len);
	size_t hl = slash != NULL ? (size_t)(slash - text) : len;
	const char *h = text;
	unsigned max;

	memset(c_r, 0, sizeof(*c_r));
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host)) {
		*error_r = "not an IP address";
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, c_r->addr) == 1) {
		c_r->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, c_r->addr) == 1) {
		c_r->family = AF_INET6;
		max = 128;
	} else {
		*error_r = "not an IP address";
		return -1;
	}
	c_r->bits = max;
	if (slash == NULL)
		return 0;
	const char *d = slash + 1, *end = text + len;
	unsigned bits = 0;

	if (d == end || end - d > 3) {
		*error_r = "the prefix length is not a number";
		return -1;
	}
	for (; d < end; d++) {
		if (*d < '0' || *d > '9') {
			*error_r = "the prefix length is not a number";
			return -1;
		}
		bits = bits * 10 + (unsigned)(*d - '0');
	}
	if (bits > max) {
		*error_r = "prefix longer than the address";
		return -1;
	}
	c_r->bits = bits;
	return 0;
}

static bool
is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

/* The next entry of *p (NULL at the end), its length in *len_r. */
static const char *
next_entry(const char **p, size_t *len_r)
{
	const char *s = *p, *start;

	while (is_sep(*s))
		s++;
	if (*s == '\0')
		return NULL;
	start = s;
	while (*s != '\0' && !is_sep(*s))
		s++;
	*p = s;
	*len_r = (size_t)(s - start);
	return start;
}

int
cidr_list_check(const char *list, char **error_r)
{
	const char *p = list != NULL ? list : "", *e;
	size_t len;

	while ((e = next_entry(&p, &len)) != NULL) {
		struct cidr c;
		const char *why;

		if (cidr_parse(e, len, &c, &why) < 0) {
			*error_r = xasprintf("'%.*s' is not a network: %s",
					     (int)len, e, why);
			return -1;
		}
	}
	return 0;
}

static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool
cidr_list_match(const char *list, const struct sockaddr_storage *ss)
{
	uint8_t addr[16];
	int family;
	const char *p = list, *e;
	size_t len;

	if (list == NULL || ss == NULL)
		return false;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		memcpy(addr, &sin->sin_addr, 4);
		family = AF_INET;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(addr, &sin6->sin6_addr.s6_addr[12], 4);
			family = AF_INET;
		} else {
			memcpy(addr, &sin6->sin6_addr, 16);
			family = AF_INET6;
		}
	} else {
		return false;
	}
	while ((e = next_entry(&p, &len)) != NULL) {
		struct cidr c;
		const char *why;

		if (cidr_parse(e, len, &c, &why) == 0 && c.family == family &&
		    prefix_match(c.addr, addr, c.bits))
			return true;
	}
	return false;
}

bool
cidr_network_key(const struct sockaddr_storage *ss, unsigned ipv6_bits,
		 char *key_r, size_t keysz)
{
	char text[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		return inet_ntop(AF_INET, &sin->sin_addr, key_r,
				 (socklen_t)keysz) != NULL;
	}
	if (ss->ss_family != AF_INET6)
		return false;
	a = ((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
	/* a [::] listener without IPV6_V6ONLY would see IPv4 clients so:
	 * the same client must count the same on either listener */
	if (IN6_IS_ADDR_V4MAPPED(&a))
		return inet_ntop(AF_INET, &a.s6_addr[12], key_r,
				 (socklen_t)keysz) != NULL;
	if (ipv6_bits >= 128)
		return inet_ntop(AF_INET6, &a, key_r, (socklen_t)keysz) != NULL;
	for (unsigned i = 0; i < 16; i++) {
		if (ipv6_bits >= 8 * (i + 1))
			continue;
		a.s6_addr[i] &= ipv6_bits > 8 * i ?
			(uint8_t)(0xff << (8 - (ipv6_bits - 8 * i))) : 0;
	}
	if (inet_ntop(AF_INET6, &a, text, sizeof(text)) == NULL)
		return false;
	return snprintf(key_r, keysz, "%s/%u", text, ipv6_bits) <
		(int)keysz;
}
