/* SPDX-License-Identifier: MIT */
/*
 * DNS lookups through libunbound: asynchronous on an ioev loop (routing,
 * later DKIM/SPF/DMARC/DANE) or synchronous for command-line tools. Answers
 * come parsed into C structs with their TTLs, the canonical name after
 * CNAMEs and the DNSSEC state; a small cache and per-query timeouts sit in
 * front of libunbound. Settings: [dns] (docs/dns.md, docs/config.md).
 */
#ifndef HERALD_DNS_DNS_H
#define HERALD_DNS_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ioev_loop;
struct config_dns;
struct dns_resolver;
struct dns_query;

/* The record types Herald asks for; the values are the RR type codes. */
enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_TLSA = 52,
};

enum dns_status {
	DNS_OK,		/* count >= 1 records of the type asked for */
	DNS_NXDOMAIN,	/* the name does not exist (permanent) */
	DNS_NODATA,	/* the name exists, no record of this type (count 0) */
	DNS_SERVFAIL,	/* the server failed or refused (temporary) */
	DNS_TIMEOUT,	/* no answer within [dns] timeout (temporary) */
	DNS_ERROR,	/* local failure, or a bogus DNSSEC answer (temporary):
			 * see error and sec */
};

/* The DNSSEC state of an answer (of the whole chain up to the trust
 * anchor). Without a trust anchor ([dns] trust_anchor unset and none in
 * unbound_config) everything is INSECURE. A BOGUS answer never comes with
 * DNS_OK: its status is DNS_ERROR and why_bogus says why; a caller treats
 * it as a temporary failure. */
enum dns_sec {
	DNS_SEC_INSECURE,
	DNS_SEC_SECURE,
	DNS_SEC_BOGUS,
};

/* One MX record. */
struct dns_mx {
	uint16_t preference;
	char *exchange;		/* lower case, no trailing dot; "" for the
				 * null MX "." (RFC 7505) */
};

/* An A or AAAA record. */
struct dns_addr {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

/* One TXT record: its character-strings, and those joined without a
 * separator as SPF (RFC 7208 3.3) and DKIM (RFC 6376 3.6.2.2) read them.
 * Each piece and the join are NUL-terminated; a string holding a NUL
 * byte is only whole through the _len fields. */
struct dns_txt {
	char *text;		/* the strings joined */
	size_t text_len;
	size_t n_strings;
	char **strings;
	size_t *string_lens;
};

/* One SRV record (RFC 2782): the mail services of RFC 6186 and 8314. */
struct dns_srv {
	uint16_t priority;
	uint16_t weight;
	uint16_t port;
	char *target;		/* lower case, no trailing dot; "" for "."
				 * (the service is not offered) */
};

/* One TLSA record (RFC 6698 2.1). */
struct dns_tlsa {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
	uint8_t *data;		/* the certificate association data */
	size_t data_len;
};

/* One record of the answer. The member that is set is the one of the
 * result's type (addr for both A and AAAA, ptr for PTR). */
struct dns_rr {
	uint32_t ttl;		/* seconds; lowered by the time spent in the
				 * cache when served from it */
	union {
		struct dns_mx mx;
		struct dns_addr addr;
		struct dns_txt txt;
		struct dns_tlsa tlsa;
		struct dns_srv srv;
		char *ptr;	/* lower case, no trailing dot */
	};
};

/* A finished lookup. */
struct dns_result {
	char *name;		/* the name asked for, lower case, no
				 * trailing dot, UTF-8 labels as A-labels */
	enum dns_type type;
	enum dns_status status;
	enum dns_sec sec;
	/* The canonical name after CNAMEs (lower case, no trailing dot);
	 * the same as name when there was no CNAME. */
	char *canonname;
	/* DNS_OK: the least TTL of the records; NXDOMAIN/NODATA: how long
	 * the negative answer may be kept (the SOA's); otherwise 0. */
	uint32_t ttl;
	int rcode;		/* the DNS rcode as answered (0, 2, 3, ...) */
	/* Readable reason for SERVFAIL, TIMEOUT and ERROR ("timed out after
	 * 10000 ms", "DNSSEC bogus: ..."); NULL otherwise. */
	char *error;
	/* DNS_SEC_BOGUS: unbound's reason ("signature expired ..."). */
	char *why_bogus;
	bool from_cache;	/* answered from Herald's cache */
	/* dns_result_dup()'s copy: one block, its strings and records
	 * inside it (replace none of them; dns_result_free() frees it) */
	bool packed;
	size_t count;
	struct dns_rr *rrs;	/* count records in the order received,
				 * except MX: sorted by preference (equal
				 * preferences in answer order; the caller
				 * shuffles them, RFC 5321 5.1) */
};

/* The callback of dns_lookup(). It runs on the loop thread, never from
 * inside dns_lookup() itself (even for a cache hit: it then runs on the
 * next loop turn), exactly once unless the query was cancelled. result
 * belongs to the resolver and is valid until the callback returns (keep
 * it with dns_result_dup()). The query handle is freed when the callback
 * returns: forget it (and do not cancel it). The callback may start
 * lookups, cancel other queries and free anything of the caller's; it
 * must not free the resolver. */
typedef void dns_cb_t(const struct dns_result *result, void *ctx);

/* A resolver for one loop, configured by cfg ([dns]). loop may be NULL
 * for a resolver used only with dns_lookup_sync(). Reads the files cfg
 * names (unbound_config, resolv_conf, hosts, trust_anchor) now. Returns
 * NULL with a static or resolver-lifetime *error_r (a message naming the
 * file or setting) when libunbound refuses the configuration. */
struct dns_resolver *dns_resolver_new(struct ioev_loop *loop,
				      const struct config_dns *cfg,
				      const char **error_r);
/* Frees the resolver, its cache and libunbound's context (its thread and
 * descriptors). Queries still in flight are dropped without their
 * callbacks running and their handles become invalid: cancel them first
 * when their owners must learn of it. NULL is fine; sets *resolver to
 * NULL. */
void dns_resolver_free(struct dns_resolver **resolver);

/* Starts a lookup of name (a domain, with or without the trailing dot;
 * a label in UTF-8, as in an SMTPUTF8 address, is looked up as its
 * A-label, "bücher" as "xn--bcher-kva"; for PTR the reverse name, see
 * dns_ptr_name(), or an IP address, which is turned into it). Lookups of the same name and type in flight at
 * the same time share one query to libunbound. cb runs later with the
 * result, or with DNS_TIMEOUT after [dns] timeout. A name that is not a
 * valid domain (empty, a label over 63 octets, over 253 octets) gives
 * DNS_ERROR through the callback too. Never NULL: the handle serves for
 * dns_query_cancel() until the callback has run. loop must not be NULL. */
struct dns_query *dns_lookup(struct dns_resolver *resolver, const char *name,
			     enum dns_type type, dns_cb_t *cb, void *ctx);
/* The answer dns_lookup() would give on its next loop turn without asking
 * anyone: from the cache, or DNS_ERROR for a name that is not a valid
 * domain. NULL when it would have to wait for libunbound (then call
 * dns_lookup()). The caller frees the result (dns_result_free()). For a
 * caller that runs a chain of lookups (SPF), so that the answers the
 * cache holds cost no loop turn each. */
struct dns_result *dns_lookup_now(struct dns_resolver *resolver,
				  const char *name, enum dns_type type);
/* The callback of *query will not run; frees the query and sets *query to
 * NULL. Safe from inside any dns callback (including for a query that
 * would finish in the same loop turn). NULL or *query NULL: nothing. */
void dns_query_cancel(struct dns_query **query);

/* Looks name up and waits for the answer (at most [dns] timeout),
 * through the cache like dns_lookup(). For command-line tools and
 * tests, on a resolver made with loop NULL (never on a loop thread).
 * Returns a result the caller frees with dns_result_free(); never NULL. */
struct dns_result *dns_lookup_sync(struct dns_resolver *resolver,
				   const char *name, enum dns_type type);

/* A deep copy the caller owns (dns_result_free()). */
struct dns_result *dns_result_dup(const struct dns_result *result);
/* NULL is fine; sets *result to NULL. */
void dns_result_free(struct dns_result **result);

/* "A", "MX", ... and the reverse; dns_type_parse() is case-insensitive
 * and returns -1 for a type not in enum dns_type. */
const char *dns_type_name(enum dns_type type);
int dns_type_parse(const char *s, enum dns_type *type_r);
/* "ok", "nxdomain", "nodata", "servfail", "timeout", "error". */
const char *dns_status_name(enum dns_status status);
/* "insecure", "secure", "bogus". */
const char *dns_sec_name(enum dns_sec sec);
/* True for NXDOMAIN and NODATA only: the name or record does not exist.
 * Every other failure is temporary (the queue defers). */
bool dns_status_is_permanent(enum dns_status status);

/* Writes name as DNS carries it into out (at least 254 bytes): lower
 * case, without the trailing dot, UTF-8 labels as their A-labels
 * ("b\xc3\xbccher.example" as "xn--bcher-kva.example"), as dns_lookup()
 * asks for it. Returns 0, or -1 for a name DNS cannot carry (an empty
 * label, over 253 octets, invalid UTF-8). For comparing names from
 * different sources (DMARC's Public Suffix List rules). */
int dns_name_ascii(const char *name, char *out, size_t outsz);

/* Largest reverse name dns_ptr_name() writes, with its NUL
 * (an IPv6 nibble name: 64 + 9 + 1). */
#define DNS_PTR_NAME_MAX 74

/* Writes the reverse name of an IPv4 or IPv6 address
 * ("4.3.2.1.in-addr.arpa", "...ip6.arpa"; an IPv4-mapped IPv6 address
 * gives its IPv4 name) into out. Returns 0, or -1 for another family. */
int dns_ptr_name(const struct sockaddr *sa, char out[DNS_PTR_NAME_MAX]);
/* The same from an address in text ("192.0.2.1", "2001:db8::1");
 * -1 when ip is not one. */
int dns_ptr_name_ip(const char *ip, char out[DNS_PTR_NAME_MAX]);

/* Fills *ss with addr and port (for connect()); returns its length. */
socklen_t dns_addr_sockaddr(const struct dns_addr *addr, uint16_t port,
			    struct sockaddr_storage *ss);
/* addr as text into out (at least INET6_ADDRSTRLEN bytes); returns out. */
const char *dns_addr_str(const struct dns_addr *addr, char *out,
			 size_t outsz);

#endif
