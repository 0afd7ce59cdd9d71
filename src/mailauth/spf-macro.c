/* SPDX-License-Identifier: MIT */
/*
 * SPF macros (RFC 7208 7): the syntax of macro-strings and domain-specs,
 * and their expansion with transformers (digits, reversal, delimiters),
 * URL escaping for upper-case letters, and the truncation of long names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "mailauth/spf-private.h"

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_delimiter(unsigned char c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

/* The letter's value, or NULL for a letter that is not one (7.2); c, r
 * and t only in explanations (7.2: "allowed only in exp text"). */
static bool
letter_is_known(unsigned char c, bool exp)
{
	c = (unsigned char)(c | 0x20);
	if (strchr("slodiphv", c) != NULL)
		return true;
	return exp && strchr("crt", c) != NULL;
}

static const char *
letter_value(const struct spf_macro_vars *v, unsigned char c, char tbuf[24])
{
	switch (c | 0x20) {
	case 's': return v->s;
	case 'l': return v->l;
	case 'o': return v->o;
	case 'd': return v->d;
	case 'i': return v->i;
	case 'p': return v->p;
	case 'h': return v->h;
	case 'v': return v->v;
	case 'c': return v->c;
	case 'r': return v->r;
	case 't':
		snprintf(tbuf, 24, "%llu", (unsigned long long)v->t);
		return tbuf;
	}
	return NULL;
}

/* RFC 3986 unreserved characters stay; the rest become %XX (7.3: an
 * upper-case macro letter URL-escapes its value). */
static void
put_escaped(struct buf *out, const char *s, size_t len, bool escape)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!escape || is_alpha(c) || is_digit(c) || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}

/* One %{...} with the letter at m[0] and the transformers and
 * delimiters in m[1..n). */
static void
expand_one(struct buf *out, const char *value, const char *m, size_t n)
{
	char delims[8] = "";
	size_t nd = 0, digits = 0, i = 1, nparts = 0, first;
	bool reverse = false, upper = m[0] >= 'A' && m[0] <= 'Z';
	/* parts as (start, length) pairs of value */
	size_t vlen = strlen(value), cap = 8, *parts;
	struct buf tmp;

	while (i < n && is_digit((unsigned char)m[i])) {
		if (digits < 1000)
			digits = digits * 10 + (size_t)(m[i] - '0');
		i++;
	}
	if (i < n && (m[i] == 'r' || m[i] == 'R')) {
		reverse = true;
		i++;
	}
	for (; i < n && nd < sizeof(delims) - 1; i++) {
		if (strchr(delims, m[i]) == NULL)
			delims[nd++] = m[i];
	}
	if (nd == 0)
		delims[nd++] = '.';
	delims[nd] = '\0';
	if (digits == 0 && !reverse && strcmp(delims, ".") == 0) {
		put_escaped(out, value, vlen, upper);
		return;
	}
	parts = xcalloc(cap, 2 * sizeof(size_t));
	for (size_t s = 0, j = 0;; j++) {
		if (j == vlen || strchr(delims, value[j]) != NULL) {
			if (nparts == cap) {
				cap *= 2;
				parts = xreallocarray(parts, cap,
						      2 * sizeof(size_t));
			}
			parts[2 * nparts] = s;
			parts[2 * nparts + 1] = j - s;
			nparts++;
			s = j + 1;
			if (j == vlen)
				break;
		}
	}
	if (reverse) {
		for (size_t a = 0, b = nparts - 1; a < b; a++, b--) {
			size_t s0 = parts[2 * a], l0 = parts[2 * a + 1];

			parts[2 * a] = parts[2 * b];
			parts[2 * a + 1] = parts[2 * b + 1];
			parts[2 * b] = s0;
			parts[2 * b + 1] = l0;
		}
	}
	first = digits > 0 && digits < nparts ? nparts - digits : 0;
	/* the parts are joined with "." whatever split them (7.3) */
	buf_init(&tmp);
	for (size_t k = first; k < nparts; k++) {
		if (k > first)
			buf_putc(&tmp, '.');
		buf_append(&tmp, value + parts[2 * k], parts[2 * k + 1]);
	}
	put_escaped(out, tmp.data, tmp.len, upper);
	buf_deinit(&tmp);
	xfree(&parts);
}

enum spf_macro_ret
spf_macro_expand(const char *s, size_t len, bool exp,
		 const struct spf_macro_vars *vars, struct buf *out)
{
	size_t start = out->len;
	bool too_long = false;
	char tbuf[24];

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* past the cap nothing more is expanded, but the rest is
		 * still checked: a syntax error anywhere is one (and the
		 * answer agrees with spf_macro_is_valid()) */
		if (!too_long && out->len - start > SPF_MACRO_MAX) {
			too_long = true;
			vars = NULL;
		}
		if (c == ' ' && exp) {
			buf_putc(out, ' ');
			continue;
		}
		/* macro-literal: visible characters except % */
		if (c != '%') {
			if (c < 0x21 || c > 0x7e)
				return SPF_MACRO_SYNTAX;
			buf_putc(out, (char)c);
			continue;
		}
		if (++i >= len)
			return SPF_MACRO_SYNTAX;
		switch (s[i]) {
		case '%':
			buf_putc(out, '%');
			continue;
		case '_':
			buf_putc(out, ' ');
			continue;
		case '-':
			buf_puts(out, "%20");
			continue;
		case '{':
			break;
		default:
			return SPF_MACRO_SYNTAX;
		}
		size_t m = ++i, j;
		const char *value;

		if (m >= len || !letter_is_known((unsigned char)s[m], exp))
			return SPF_MACRO_SYNTAX;
		j = m + 1;
		while (j < len && is_digit((unsigned char)s[j]))
			j++;
		/* a DIGIT transformer, when given, is not zero (7.3) */
		if (j > m + 1 && s[m + 1] == '0')
			return SPF_MACRO_SYNTAX;
		if (j < len && (s[j] == 'r' || s[j] == 'R'))
			j++;
		while (j < len && is_delimiter((unsigned char)s[j]))
			j++;
		if (j >= len || s[j] != '}')
			return SPF_MACRO_SYNTAX;
		i = j;
		if (vars == NULL)
			continue;
		value = letter_value(vars, (unsigned char)s[m], tbuf);
		if (value == NULL) {
			if ((s[m] | 0x20) == 'p')
				return SPF_MACRO_NEED_P;
			value = "";
		}
		expand_one(out, value, s + m, j - m);
	}
	if (too_long || out->len - start > SPF_MACRO_MAX) {
		buf_truncate(out, start);
		return SPF_MACRO_TOO_LONG;
	}
	return SPF_MACRO_OK;
}

bool
spf_macro_is_valid(const char *s, size_t len, bool exp)
{
	struct buf b;
	enum spf_macro_ret ret;

	buf_init(&b);
	ret = spf_macro_expand(s, len, exp, NULL, &b);
	buf_deinit(&b);
	return ret != SPF_MACRO_SYNTAX;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
toplabel_is_valid(const char *s, size_t len)
{
	bool alpha = false, dash = false;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_alpha(c))
			alpha = true;
		else if (c == '-')
			dash = true;
		else if (!is_digit(c))
			return false;
	}
	return alpha || dash;
}

bool
spf_domain_spec_is_valid(const char *s, size_t len)
{
	size_t end = len, dot;

	if (len == 0 || !spf_macro_is_valid(s, len, false))
		return false;
	/* domain-end = ( "." toplabel [ "." ] ) / macro-expand */
	if (s[len - 1] == '}') {
		/* a macro-expand ends it when its "%{" is not "%%{" */
		for (size_t i = len - 1; i-- > 0;) {
			if (s[i] == '{' && i > 0 && s[i - 1] == '%') {
				size_t pct = 0;

				for (size_t k = i; k-- > 0 && s[k] == '%';)
					pct++;
				if (pct % 2 == 1)
					return true;
				break;
			}
			if (s[i] == '}')
				break;
		}
	}
	if (s[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && s[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return false;
	return toplabel_is_valid(s + dot, end - dot);
}

void
spf_domain_truncate(struct buf *name)
{
	size_t cut = 0;

	if (name->len > 0 && name->data[name->len - 1] == '.')
		buf_truncate(name, name->len - 1);
	while (name->len - cut > 253) {
		const char *dot = memchr(name->data + cut, '.',
					 name->len - cut);

		if (dot == NULL)
			break;
		cut = (size_t)(dot - name->data) + 1;
	}
	if (cut > 0)
		buf_consume(name, cut);
}

bool
spf_name_is_queryable(const char *name)
{
	size_t label = 0, total = 0;

	for (const char *p = name; *p != '\0'; p++, total++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		/* what the DNS module sends: printable ASCII, no escapes */
		if (c < 0x20 || c >= 0x7f || c == '\\')
			return false;
		if (++label > 63)
			return false;
	}
	return total > 0 && total <= 253;
}
