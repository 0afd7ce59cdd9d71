/* SPDX-License-Identifier: MIT */
/*
 * The RFC5322.From domain DMARC evaluates (RFC 7489 3.1, 6.6.1): one From
 * field with addresses of one domain, read as mail clients read it, or a
 * status saying why there is none (docs/mailauth.md "The From domain").
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/address.h"
#include "mail/encoded-word.h"
#include "mail/header-address.h"
#include "mail/header-field.h"
#include "mailauth/dmarc-private.h"
#include "mailauth/dmarc.h"

/* A malformed line a reader may take as a From field: "From x@y" (the
 * mbox separator, shown by some), or "From" with controls, 8-bit octets
 * or white space around the name ("From\v:", "\xa0From:"). */
static bool
malformed_is_from(const struct header_field *f)
{
	const char *name = f->name;
	size_t len = f->name_len;

	while (len > 0 && ((unsigned char)name[0] <= 0x20 ||
			   (unsigned char)name[0] >= 0x7f)) {
		name++;
		len--;
	}
	if (f->value != NULL) {
		while (len > 0 && ((unsigned char)name[len - 1] <= 0x20 ||
				   (unsigned char)name[len - 1] >= 0x7f))
			len--;
		return len == 4 && strncasecmp(name, "from", 4) == 0;
	}
	return len >= 4 && strncasecmp(name, "from", 4) == 0;
}

/* The one domain of value's mailboxes (lower case, allocated), or the
 * status that says why there is none. */
static enum dmarc_from_status
value_domain(const char *value, size_t len, char **domain_r)
{
	struct header_address_limits lim;
	struct header_address_entry *e = NULL;
	size_t n = 0;
	enum dmarc_from_status st = DMARC_FROM_OK;
	char *domain = NULL;

	*domain_r = NULL;
	/* the parser's defaults (docs/limits.md "DMARC") */
	header_address_limits_default(&lim);
	if (header_address_list_parse_entries(value, len, &lim, &e, &n, NULL,
					      NULL) < 0)
		return DMARC_FROM_UNPARSEABLE;
	for (size_t i = 0; i < n && st == DMARC_FROM_OK; i++) {
		char *d;
		size_t dl;

		/* RFC 5322 3.6.2: From is a mailbox-list; a group shows
		 * its name, not an address */
		if (e[i].type != HEADER_ADDRESS_ENTRY_MAILBOX ||
		    e[i].domain == NULL) {
			st = DMARC_FROM_UNPARSEABLE;
			break;
		}
		/* "example.com." is "example.com" to DNS and to readers */
		d = xstrdup(e[i].domain);
		dl = strlen(d);
		if (dl > 1 && d[dl - 1] == '.')
			d[dl - 1] = '\0';
		if (!address_domain_is_valid(d, true)) {
			free(d);
			st = DMARC_FROM_UNPARSEABLE;
			break;
		}
		if (domain == NULL) {
			domain = d;
			continue;
		}
		if (!address_domain_equal(domain, d))
			st = DMARC_FROM_SEVERAL_DOMAINS;
		free(d);
	}
	if (st == DMARC_FROM_OK && domain == NULL)
		st = DMARC_FROM_UNPARSEABLE;	/* "<>", "x:;", empty */
	header_address_entries_free(&e, n);
	if (st != DMARC_FROM_OK) {
		free(domain);
		return st;
	}
	for (char *p = domain; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	}
	*domain_r = domain;
	return DMARC_FROM_OK;
}

/* Whether decoded display text names an address of another domain than
 * domain: a word "x@y.z" whose part after '@' differs. */
static bool
text_names_other_domain(const char *text, size_t len, const char *domain)
{
	const char *p = text, *end = text + len;

	while ((p = memchr(p, '@', (size_t)(end - p))) != NULL) {
		const char *d = ++p, *e = d;

		while (e < end && (unsigned char)*e > ' ' && *e != '>' &&
		       *e != ',' && *e != ';' && *e != ')' && *e != '"')
			e++;
		while (e > d && e[-1] == '.')
			e--;
		if (e > d && memchr(d, '.', (size_t)(e - d)) != NULL &&
		    ((size_t)(e - d) != strlen(domain) ||
		     strncasecmp(d, domain, (size_t)(e - d)) != 0))
			return true;
		p = e;
	}
	return false;
}

static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* dmarc-private.h. Most mail's From is one of these two shapes; the
 * address parser, its entry list and its copies were half of DMARC's
 * work for such a message. Anything with quotes, comments, encoded words,
 * folding, groups, several addresses, a literal or 8-bit octets goes to
 * the full reader. */
bool
dmarc_from_value_simple(const char *v, size_t len, char **domain_r)
{
	size_t i = 0, end = len, a, ae, at, label = 0;
	char *d;

	*domain_r = NULL;
	while (i < end && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t'))
		end--;
	if (end - i > 512)
		return false;
	a = i;
	ae = end;
	if (end > i && v[end - 1] == '>') {
		/* display-name (words of letters and digits) "<" addr ">" */
		size_t lt = i;

		while (lt < end && (is_alnum((unsigned char)v[lt]) ||
				    v[lt] == ' '))
			lt++;
		if (lt == end || v[lt] != '<')
			return false;
		a = lt + 1;
		ae = end - 1;
	}
	/* local-part: a dot-atom of letters, digits and "+-_" */
	for (at = a; at < ae && v[at] != '@'; at++) {
		unsigned char c = (unsigned char)v[at];

		if (c == '.') {
			if (at == a || v[at - 1] == '.')
				return false;
		} else if (!is_alnum(c) && c != '+' && c != '-' && c != '_') {
			return false;
		}
	}
	if (at == a || at == ae || at - a > 64 || v[at - 1] == '.' ||
	    ae - a > 254)
		return false;
	/* domain: LDH labels of 1 to 63 octets, no final dot */
	for (size_t k = at + 1; k <= ae; k++) {
		if (k == ae || v[k] == '.') {
			if (label == 0 || label > 63 || v[k - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum((unsigned char)v[k]) &&
		    (v[k] != '-' || label == 0))
			return false;
		label++;
	}
	d = xstrndup(v + at + 1, ae - at - 1);
	if (!address_domain_is_valid(d, true)) {
		free(d);
		return false;
	}
	for (char *p = d; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	}
	*domain_r = d;
	return true;
}

static enum dmarc_from_status
field_domain(const char *value, size_t value_len, char **domain_r)
{
	enum dmarc_from_status st = value_domain(value, value_len, domain_r);
	/* the struct the rest of this function was written for */
	const struct header_field field = { .value = value,
					    .value_len = value_len };
	const struct header_field *f = &field;

	if (st != DMARC_FROM_OK || memmem(f->value, f->value_len, "=?", 2) ==
	    NULL)
		return st;
	/* An encoded word is how a display name hides an '@' from a
	 * parser: "=?utf-8?q?ceo=40bank.example?= <x@evil.example>" shows
	 * ceo@bank.example to a reader that shows names only, and two
	 * addresses to one that decodes the raw field before parsing it.
	 * Such a field means different things to different readers. A
	 * plain quoted name is not affected: nothing is hidden there and
	 * the reader sees the same text Herald does. */
	struct buf raw;
	char *other = NULL;
	enum dmarc_from_status st2;
	bool ambiguous;

	buf_init(&raw);
	encoded_word_decode_lenient(f->value, f->value_len, &raw);
	st2 = value_domain(raw.data != NULL ? raw.data : "", raw.len, &other);
	ambiguous = st2 == DMARC_FROM_SEVERAL_DOMAINS ||
		    (st2 == DMARC_FROM_OK && strcmp(other, *domain_r) != 0) ||
		    text_names_other_domain(raw.data != NULL ? raw.data : "",
					    raw.len, *domain_r);
	if (ambiguous) {
		free(*domain_r);
		*domain_r = NULL;
		st = DMARC_FROM_UNPARSEABLE;
	}
	free(other);
	buf_deinit(&raw);
	return st;
}

enum dmarc_from_status
dmarc_from_domain(const char *hdr, size_t len, char **domain_r)
{
	struct header_field_iter it;
	struct header_field f, from;
	unsigned n_from = 0;

	*domain_r = NULL;
	memset(&from, 0, sizeof(from));
	header_field_iter_init(&it, hdr, len);
	while (header_field_next(&it, &f)) {
		if (f.malformed) {
			if (malformed_is_from(&f)) {
				n_from++;
				from.value = NULL;
			}
			continue;
		}
		if (header_field_is(&f, "From")) {
			if (n_from++ == 0)
				from = f;
		}
	}
	if (n_from == 0)
		return DMARC_FROM_NONE;
	if (n_from > 1)
		return DMARC_FROM_SEVERAL_FIELDS;
	if (from.value == NULL)
		return DMARC_FROM_UNPARSEABLE;	/* only a malformed one */
	if (dmarc_from_value_simple(from.value, from.value_len, domain_r))
		return DMARC_FROM_OK;
	return field_domain(from.value, from.value_len, domain_r);
}

enum dmarc_from_status
dmarc_from_value_full(const char *value, size_t len, char **domain_r)
{
	return field_domain(value, len, domain_r);
}
