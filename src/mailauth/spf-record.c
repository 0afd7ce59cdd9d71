/* SPDX-License-Identifier: MIT */
/*
 * The SPF record parser (RFC 7208 4.5, 4.6, 5, 6 and the ABNF of 12): the
 * "v=spf1" test, terms separated by spaces, mechanisms with their
 * domain-specs and CIDR lengths, the redirect and exp modifiers and the
 * syntax of unknown ones. A record with any error is a permerror (4.6).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "lib/textcache.h"
#include "mailauth/spf-private.h"

bool
spf_record_is_spf1(const char *text, size_t len)
{
	return len >= 6 && strncasecmp(text, "v=spf1", 6) == 0 &&
	       (len == 6 || text[6] == ' ');
}

static bool
name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* 1*DIGIT without a leading zero (as ip4-network has none), at most max. */
static bool
parse_cidr(const char *s, size_t len, unsigned max, unsigned *bits_r)
{
	unsigned v = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*bits_r = v;
	return true;
}

/* Removes a trailing "/N" from [s, *len): true when there was one. */
static bool
strip_cidr(const char *s, size_t *len, size_t *digits_r)
{
	size_t i = *len;

	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == *len || i == 0 || s[i - 1] != '/')
		return false;
	*digits_r = i;
	*len = i - 1;
	return true;
}

/* ip4-network = qnum "." qnum "." qnum "." qnum, qnum 0..255 without
 * leading zeros */
static bool
parse_ip4(const char *s, size_t len, uint8_t out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t start = i;
		unsigned v = 0;

		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return false;
		out[part] = (uint8_t)v;
		if (part < 3) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

static bool
parse_ip6(const char *s, size_t len, uint8_t out[16])
{
	char tmp[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

static const struct {
	const char *name;
	enum spf_mech mech;
} mechs[] = {
	{ "all", SPF_MECH_ALL },
	{ "include", SPF_MECH_INCLUDE },
	{ "a", SPF_MECH_A },
	{ "mx", SPF_MECH_MX },
	{ "ptr", SPF_MECH_PTR },
	{ "ip4", SPF_MECH_IP4 },
	{ "ip6", SPF_MECH_IP6 },
	{ "exists", SPF_MECH_EXISTS },
};

/* A mechanism term without its qualifier: s[0..len). */
static int
parse_mechanism(const char *s, size_t len, struct spf_term *t,
		const char **error_r)
{
	size_t nlen = 0, arglen, digits;
	const char *arg;
	bool found = false;

	while (nlen < len && s[nlen] != ':' && s[nlen] != '/')
		nlen++;
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (strlen(mechs[i].name) == nlen &&
		    strncasecmp(s, mechs[i].name, nlen) == 0) {
			t->mech = mechs[i].mech;
			found = true;
		}
	}
	if (!found) {
		*error_r = "unknown mechanism";
		return -1;
	}
	t->cidr4 = 32;
	t->cidr6 = 128;
	arg = s + nlen;
	arglen = len - nlen;
	switch (t->mech) {
	case SPF_MECH_ALL:
		if (arglen != 0) {
			*error_r = "all takes no argument";
			return -1;
		}
		return 0;
	case SPF_MECH_A:
	case SPF_MECH_MX:
		/* [ ":" domain-spec ] [ ip4-cidr ] [ "//" ip6-cidr ] */
		if (strip_cidr(arg, &arglen, &digits)) {
			if (arglen > 0 && arg[arglen - 1] == '/') {
				if (!parse_cidr(arg + digits, len - nlen - digits,
						128, &t->cidr6)) {
					*error_r = "bad IPv6 CIDR length";
					return -1;
				}
				arglen--;
				size_t end4 = arglen;

				if (strip_cidr(arg, &arglen, &digits) &&
				    !parse_cidr(arg + digits, end4 - digits, 32,
						&t->cidr4)) {
					*error_r = "bad IPv4 CIDR length";
					return -1;
				}
			} else if (!parse_cidr(arg + digits,
					       len - nlen - digits, 32,
					       &t->cidr4)) {
				*error_r = "bad IPv4 CIDR length";
				return -1;
			}
		}
		/* fall through */
	case SPF_MECH_PTR:
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
		if (arglen == 0) {
			if (t->mech == SPF_MECH_INCLUDE ||
			    t->mech == SPF_MECH_EXISTS) {
				*error_r = "mechanism needs a domain";
				return -1;
			}
			return 0;
		}
		if (arg[0] != ':' ||
		    !spf_domain_spec_is_valid(arg + 1, arglen - 1)) {
			*error_r = "bad domain-spec";
			return -1;
		}
		t->domain = xstrndup(arg + 1, arglen - 1);
		return 0;
	case SPF_MECH_IP4:
		if (strip_cidr(arg, &arglen, &digits) &&
		    !parse_cidr(arg + digits, len - nlen - digits, 32,
				&t->cidr4)) {
			*error_r = "bad IPv4 CIDR length";
			return -1;
		}
		if (arglen < 1 || arg[0] != ':' ||
		    !parse_ip4(arg + 1, arglen - 1, t->addr)) {
			*error_r = "bad ip4 network";
			return -1;
		}
		return 0;
	case SPF_MECH_IP6:
		if (strip_cidr(arg, &arglen, &digits) &&
		    !parse_cidr(arg + digits, len - nlen - digits, 128,
				&t->cidr6)) {
			*error_r = "bad IPv6 CIDR length";
			return -1;
		}
		if (arglen < 1 || arg[0] != ':' ||
		    !parse_ip6(arg + 1, arglen - 1, t->addr)) {
			*error_r = "bad ip6 network";
			return -1;
		}
		return 0;
	}
	*error_r = "unknown mechanism";
	return -1;
}

void
spf_record_free(struct spf_record **recp)
{
	struct spf_record *rec = *recp;

	if (rec == NULL)
		return;
	*recp = NULL;
	if (__atomic_sub_fetch(&rec->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < rec->n_terms; i++) {
		xfree(&rec->terms[i].domain);
		xfree(&rec->terms[i].text);
	}
	xfree(&rec->terms);
	xfree(&rec->redirect);
	xfree(&rec->exp);
	xfree(&rec);
}

int
spf_record_parse(const char *text, size_t len, struct spf_record **rec_r,
		 const char **error_r)
{
	struct spf_record *rec = xcalloc(1, sizeof(*rec));
	size_t cap = 0, i;

	rec->refs = 1;
	*rec_r = NULL;
	if (!spf_record_is_spf1(text, len)) {
		*error_r = "not an SPF record";
		goto fail;
	}
	/* only SP separates terms; any other control or non-ASCII octet
	 * is a syntax error (3.1, 4.6.1) */
	for (i = 6; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c != ' ' && (c < 0x21 || c > 0x7e)) {
			*error_r = "invalid character in record";
			goto fail;
		}
	}
	for (i = 6; i < len;) {
		size_t start, tlen, n = 0;
		const char *t;

		while (i < len && text[i] == ' ')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && text[i] != ' ')
			i++;
		t = text + start;
		tlen = i - start;
		while (n < tlen && name_char((unsigned char)t[n]))
			n++;
		if (n < tlen && t[n] == '=') {
			/* modifier: name "=" macro-string */
			const char *val = t + n + 1;
			size_t vlen = tlen - n - 1;
			bool redirect = n == 8 && strncasecmp(t, "redirect", 8) == 0;
			bool exp = n == 3 && strncasecmp(t, "exp", 3) == 0;

			if (n == 0 || !((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z')) {
				*error_r = "bad modifier name";
				goto fail;
			}
			if (redirect || exp) {
				char **slot = redirect ? &rec->redirect : &rec->exp;

				if (*slot != NULL) {
					*error_r = redirect ? "redirect twice" :
						"exp twice";
					goto fail;
				}
				if (!spf_domain_spec_is_valid(val, vlen)) {
					*error_r = redirect ? "bad redirect domain" :
						"bad exp domain";
					goto fail;
				}
				*slot = xstrndup(val, vlen);
			} else if (!spf_macro_is_valid(val, vlen, false)) {
				*error_r = "bad macro in modifier";
				goto fail;
			}
			continue;
		}
		struct spf_term term = { .qualifier = '+' };

		if (strchr("+-~?", t[0]) != NULL) {
			term.qualifier = t[0];
			t++;
			tlen--;
		}
		if (parse_mechanism(t, tlen, &term, error_r) < 0) {
			xfree(&term.domain);
			goto fail;
		}
		term.text = xstrndup(text + start, i - start);
		if (rec->n_terms == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			rec->terms = xreallocarray(rec->terms, cap,
						   sizeof(*rec->terms));
		}
		rec->terms[rec->n_terms++] = term;
	}
	*rec_r = rec;
	return 0;
fail:
	spf_record_free(&rec);
	return -1;
}

/* Parsed records by their text, as the DKIM verifier keeps parsed keys
 * (dkim-verify.c): parsing "v=spf1 mx ip4:... -all" was about a tenth of
 * a check whose answers the DNS cache holds. Keyed on the whole record,
 * so an edited record is parsed afresh once the DNS cache lets the new
 * text through; only records that parsed are kept. */
static void
rec_share(void *dst, void *src)
{
	struct spf_record *rec = *(struct spf_record **)src;

	__atomic_add_fetch(&rec->refs, 1, __ATOMIC_RELAXED);
	*(struct spf_record **)dst = rec;
}

static void
rec_free(void *rec)
{
	spf_record_free(rec);
}

static struct textcache rec_cache = TEXTCACHE_INIT(64, 1024,
	sizeof(struct spf_record *), rec_share, rec_free);

int
spf_record_parse_cached(const char *text, size_t len,
			struct spf_record **rec_r, const char **error_r)
{
	if (textcache_get(&rec_cache, text, len, rec_r))
		return 0;
	if (spf_record_parse(text, len, rec_r, error_r) < 0)
		return -1;
	textcache_put(&rec_cache, text, len, rec_r);
	return 0;
}
