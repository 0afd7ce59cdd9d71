/* SPDX-License-Identifier: MIT */
/*
 * Network lists such as [smtp] relay_networks: "192.0.2.0/24, 10.1.2.3,
 * [2001:db8::]/32", entries separated by commas or blanks. One parser for
 * the loader, which refuses a bad entry naming it, and for the match at
 * connection time, so that what was checked is what is matched.
 */
#ifndef HERALD_LIB_CIDR_H
#define HERALD_LIB_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct cidr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned bits;		/* prefix length: 0..32 or 0..128 */
	uint8_t addr[16];
};

/* Parses one entry of len octets: an address ("10.1.2.3", "::1",
 * "[::1]") with an optional "/bits" (decimal digits, at most the address
 * length). Returns 0, or -1 with a static reason in *error_r. */
int cidr_parse(const char *text, size_t len, struct cidr *c_r,
	       const char **error_r);

/* Checks every entry of a list. Returns 0, or -1 with an allocated
 * "'192.0.2.0/33' is not a network: prefix longer than the address" in
 * *error_r for the first bad one. An empty list is valid. */
int cidr_list_check(const char *list, char **error_r);

/* Whether ss (IPv4, IPv6, or IPv4-mapped IPv6 taken as IPv4) is inside
 * one of the list's networks. A bad entry matches nothing; NULL lists and
 * addresses of other families match nothing. */
bool cidr_list_match(const char *list, const struct sockaddr_storage *ss);

/* The network a client address counts in, as text for a table key:
 * IPv4 (and IPv4-mapped IPv6) as the address ("192.0.2.1"), IPv6 as its
 * network of ipv6_bits ("2001:db8:1:2::/64"; 128 or more: the address).
 * A host is commonly given a whole IPv6 /64: counting each address of it
 * apart would hand it 2^64 budgets. False for other families. keysz must
 * be at least CIDR_KEY_MAX. */
#define CIDR_KEY_MAX (INET6_ADDRSTRLEN + 4)
bool cidr_network_key(const struct sockaddr_storage *ss, unsigned ipv6_bits,
		      char *key_r, size_t keysz);

#endif
