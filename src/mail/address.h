/* SPDX-License-Identifier: MIT */
/*
 * Envelope addresses: the RFC 5321 Path / Mailbox grammar (section 4.1.2)
 * with SMTPUTF8 (RFC 6531 section 3.3), length limits (4.5.3.1), case
 * rules for comparison, sub-address ("user+tag") split and a canonical
 * string form. Header address lists (RFC 5322) are not parsed here.
 */
#ifndef HERALD_MAIL_ADDRESS_H
#define HERALD_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* RFC 5321 4.5.3.1.1-3 */
#define ADDRESS_DEFAULT_MAX_LOCAL 64
#define ADDRESS_DEFAULT_MAX_DOMAIN 255
#define ADDRESS_DEFAULT_MAX_PATH 256

struct address_limits {
	size_t max_local_len;	/* local part as sent, quotes included */
	size_t max_domain_len;	/* domain as sent, brackets included */
	size_t max_path_len;	/* "<" ... ">" inclusive */
};

/* 64 / 255 / 256. */
void address_limits_default(struct address_limits *limits_r);

enum address_parse_flags {
	/* Accept non-ASCII UTF-8 in local part and domain (SMTPUTF8). When
	 * absent, such an address fails with ADDRESS_ERR_UTF8. */
	ADDRESS_PARSE_UTF8 = 1 << 0,
	/* Accept the null path "<>" (MAIL FROM). */
	ADDRESS_PARSE_NULL_PATH = 1 << 1,
	/* Accept "<postmaster>" without a domain, any case (RCPT TO). */
	ADDRESS_PARSE_POSTMASTER = 1 << 2,
};

enum address_error {
	ADDRESS_OK,
	ADDRESS_ERR_SYNTAX,		/* 501 5.1.3 / 5.1.7 */
	ADDRESS_ERR_LOCAL_TOO_LONG,	/* 553 5.1.3 */
	ADDRESS_ERR_DOMAIN_TOO_LONG,	/* 553 5.1.3 */
	ADDRESS_ERR_PATH_TOO_LONG,	/* 553 5.1.3 (or 501 5.5.2) */
	ADDRESS_ERR_UTF8,		/* non-ASCII without SMTPUTF8: 553 5.6.7 */
	ADDRESS_ERR_BAD_UTF8,		/* malformed UTF-8: 501 5.6.7 */
};

struct address {
	/* Local part with quoting removed (quoted-pairs resolved), case as
	 * given. "" for the null path. Never contains NUL or controls. */
	char *local;
	/* Domain as given ("[1.2.3.4]" keeps its brackets); NULL for the
	 * null path and for a bare <postmaster>. */
	char *domain;
	/* The domain with ASCII letters lowered; NULL when domain is. */
	char *domain_lc;
	bool is_null;		/* "<>" */
	bool domain_is_literal;	/* "[...]" */
	bool has_utf8;		/* non-ASCII octets in local or domain */
};

/* Zeroes an address; address_deinit() frees what it holds. */
void address_init(struct address *addr);
void address_deinit(struct address *addr);
/* Deep copy into an uninitialised dst. */
void address_copy(struct address *dst, const struct address *src);
/* Builds an address from parts (domain may be NULL); no validation. */
void address_set(struct address *addr_r, const char *local,
		 const char *domain);

/* Parses a Path ("<" [A-d-l ":"] Mailbox ">") at the start of s[0..len).
 * The source route (A-d-l) is checked and ignored. On success returns 0,
 * fills *addr_r (which the caller deinits) and stores in *consumed_r the
 * octets up to and including ">". On failure returns -1 with *err_r and
 * *error_r (static text) set and *addr_r initialised empty. */
int address_parse_path(const char *s, size_t len,
		       const struct address_limits *limits, unsigned flags,
		       struct address *addr_r, size_t *consumed_r,
		       enum address_error *err_r, const char **error_r);

/* Parses all of s[0..len) as a Mailbox ("local@domain", no brackets).
 * Same return convention; ADDRESS_PARSE_NULL_PATH/POSTMASTER ignored. */
int address_parse_mailbox(const char *s, size_t len,
			  const struct address_limits *limits, unsigned flags,
			  struct address *addr_r, enum address_error *err_r,
			  const char **error_r);

/* Whether a local part must be quoted to be sent (it is not a
 * Dot-string: empty, dots at the ends or doubled, or special chars). */
bool address_local_needs_quoting(const char *local);

/* Appends the canonical form: local part (quoted when needed) "@" domain
 * as given, without angle brackets; "" for the null path; just the local
 * part when there is no domain. */
void address_append(const struct address *addr, struct buf *out);
/* The same as a new string; the caller frees. */
char *address_to_string(const struct address *addr);

/* Whether s is a domain name as a Mailbox may carry it (RFC 5321
 * Domain: dot-separated LDH labels of at most 63 octets, no leading or
 * trailing '-', at most 255 octets; non-ASCII labels only with utf8).
 * Address literals ("[1.2.3.4]") are not domain names. */
bool address_domain_is_valid(const char *s, bool utf8);

/* ASCII case-insensitive comparison of domains (RFC 5321 2.4); non-ASCII
 * octets must be equal. */
bool address_domain_equal(const char *a, const char *b);
/* Strict RFC 5321 equality: local parts octet for octet, domains
 * case-insensitively. Two null paths are equal. */
bool address_equal(const struct address *a, const struct address *b);
/* How we match our own users: local parts ASCII case-insensitively too. */
bool address_equal_icase(const struct address *a, const struct address *b);

/* Splits a local part at the first octet found in separators (default
 * "+" when NULL). A separator at position 0 does not split. Returns true
 * and sets *base_r and *tag_r (new strings, tag may be "") when split;
 * otherwise returns false, *base_r is a copy of local and *tag_r NULL. */
bool address_split_subaddress(const char *local, const char *separators,
			      char **base_r, char **tag_r);

const char *address_error_str(enum address_error err);

#endif
