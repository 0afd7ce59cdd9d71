/* SPDX-License-Identifier: MIT */
/*
 * Shared inside src/dns/: result construction, name checks, the rdata
 * parser (untrusted input: tests/fuzz/fuzz-dns-rdata.c) and the cache.
 */
#ifndef HERALD_DNS_DNS_PRIVATE_H
#define HERALD_DNS_DNS_PRIVATE_H

#include <stdint.h>

#include "dns/dns.h"

/* Longest domain name as text, without the trailing dot. */
#define DNS_NAME_MAX 253

bool dns_type_is_known(int type);

/* An empty result (status DNS_OK, count 0) for name and type. */
struct dns_result *dns_result_new(const char *name, enum dns_type type);
/* A failed result with a formatted error text. */
struct dns_result *dns_result_new_error(const char *name, enum dns_type type,
					enum dns_status status,
					const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Checks name and writes it lower case without the trailing dot into
 * out, UTF-8 labels as their A-labels. Returns 0, or -1 with a static
 * *error_r. */
int dns_name_normalize(const char *name, char out[DNS_NAME_MAX + 1],
		       const char **error_r);

/* The A-label ("xn--...", lower case, NUL-terminated) of the UTF-8
 * label[0..len) into out; returns its length, or -1 with a static
 * *error_r (invalid UTF-8, a control or space, over 63 octets). */
int dns_idn_label(const char *label, size_t len, char out[64],
		  const char **error_r);

/* Decodes one record's rdata of type (uncompressed wire format, as
 * libunbound hands it over) into *rr_r (ttl left 0). Returns 0, or -1
 * with a static *error_r for malformed data (nothing to free then). */
int dns_rdata_parse(enum dns_type type, const uint8_t *data, size_t len,
		    struct dns_rr *rr_r, const char **error_r);
/* Decodes a wire-format name at data[*pos] (no compression) into out,
 * lower case without the trailing dot ("" for the root); advances *pos.
 * Labels holding bytes that cannot be written in a host name as text
 * (controls, spaces, '.', '\\') are refused. */
int dns_wire_name(const uint8_t *data, size_t len, size_t *pos,
		  char out[DNS_NAME_MAX + 2], const char **error_r);

/* Sorts MX records by preference, keeping the answer order among
 * equal ones. */
void dns_result_sort_mx(struct dns_result *result);

/* --- the cache (dns-cache.c) --- */

struct dns_cache;

/* A cache of at most size answers taking at most max_bytes together
 * (0: no byte limit); positive answers kept at most max_ttl_s seconds,
 * negative ones negative_ttl_s. */
struct dns_cache *dns_cache_new(unsigned size, uint64_t max_bytes,
				uint32_t max_ttl_s, uint32_t negative_ttl_s);
void dns_cache_free(struct dns_cache **cache);
/* A copy (caller frees) of the live answer for name and type, with
 * TTLs lowered by its age and from_cache set; NULL on a miss. */
struct dns_result *dns_cache_get(struct dns_cache *cache, const char *name,
				 enum dns_type type);
/* Keeps a copy of result if it is cacheable: DNS_OK, NXDOMAIN or NODATA,
 * not bogus, TTL above 0. */
void dns_cache_put(struct dns_cache *cache, const struct dns_result *result);
/* Number of answers held and the bytes they take (tests). */
size_t dns_cache_count(const struct dns_cache *cache);
uint64_t dns_cache_bytes(const struct dns_cache *cache);
/* What a result takes in memory, roughly (the cache's accounting). */
size_t dns_result_size(const struct dns_result *result);

#endif
