/* SPDX-License-Identifier: MIT */
/*
 * Inside the SPF module: the record parser (RFC 7208 4.5, 4.6, 5, 6, 12)
 * and the macro expander (section 7), both without I/O, shared by the
 * evaluator, the unit tests and the fuzz targets.
 */
#ifndef HERALD_MAILAUTH_SPF_PRIVATE_H
#define HERALD_MAILAUTH_SPF_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	char qualifier;		/* '+', '-', '~' or '?' */
	char *domain;		/* the domain-spec, or NULL when absent */
	unsigned cidr4;		/* 0..32, 32 when absent */
	unsigned cidr6;		/* 0..128, 128 when absent */
	uint8_t addr[16];	/* ip4 (first 4 octets) / ip6 */
	char *text;		/* the term as written, for the verdict */
};

struct spf_record {
	/* references: 1 from spf_record_parse(); the cache of
	 * spf_record_parse_cached() holds one more while it keeps it.
	 * Read-only once parsed, so threads may share it. */
	unsigned refs;
	size_t n_terms;
	struct spf_term *terms;
	char *redirect;		/* domain-specs, NULL when absent */
	char *exp;
};

/* Whether a TXT record's joined text is an SPF record: "v=spf1"
 * (any case) followed by a space or its end (RFC 7208 4.5). */
bool spf_record_is_spf1(const char *text, size_t len);

/* Parses a whole record (starting with "v=spf1"); every term is checked
 * before any is evaluated (4.6). Returns 0, or -1 (a permerror) with a
 * static *error_r. */
int spf_record_parse(const char *text, size_t len, struct spf_record **rec_r,
		     const char **error_r);
/* The same through a small per-process cache keyed on the record's whole
 * text (a changed record is parsed afresh): a sender's record comes with
 * every message it sends. *rec_r is shared: release it with
 * spf_record_free() as any other. */
int spf_record_parse_cached(const char *text, size_t len,
			    struct spf_record **rec_r, const char **error_r);
/* Drops a reference; the last one frees. */
void spf_record_free(struct spf_record **rec);

/* The values of the macro letters (RFC 7208 7.2). */
struct spf_macro_vars {
	const char *s, *l, *o, *d, *i, *c, *v, *h, *r;
	const char *p;		/* NULL: not known yet (expansion returns
				 * SPF_MACRO_NEED_P) */
	uint64_t t;
};

enum spf_macro_ret {
	SPF_MACRO_OK,
	SPF_MACRO_SYNTAX,	/* a syntax error (a permerror) */
	SPF_MACRO_NEED_P,	/* %{p} is used and vars->p is NULL */
	SPF_MACRO_TOO_LONG,	/* over SPF_MACRO_MAX octets */
};

/* Expansions longer than this stop (a domain is truncated to 253 octets
 * afterwards; an explanation is a line of a reply). */
#define SPF_MACRO_MAX 4096

/* Checks the syntax of a macro-string (exp: an explain-string, which
 * also has spaces and the letters c, r, t). */
bool spf_macro_is_valid(const char *s, size_t len, bool exp);
/* A domain-spec: a macro-string ending in a macro-expand or in
 * "." toplabel ["."] (7.1). */
bool spf_domain_spec_is_valid(const char *s, size_t len);
/* Expands s into out (appended). vars NULL only for a syntax check. */
enum spf_macro_ret spf_macro_expand(const char *s, size_t len, bool exp,
				    const struct spf_macro_vars *vars,
				    struct buf *out);
/* A domain from an expansion: the trailing dot removed and labels
 * dropped from the left until it is at most 253 octets (7.3). In place. */
void spf_domain_truncate(struct buf *name);
/* Whether name can be asked for: labels of 1 to 63 octets, printable
 * ASCII (spaces allowed: macros make them, 7.3). */
bool spf_name_is_queryable(const char *name);

#endif
