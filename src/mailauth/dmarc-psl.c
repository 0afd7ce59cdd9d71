/* SPDX-License-Identifier: MIT */
/*
 * The Public Suffix List (https://publicsuffix.org/list/) and the
 * organisational domain of RFC 7489 3.2: the rules in one sorted array of
 * names in one string block, each with the kinds of rule it carries
 * (normal, "*." wildcard, "!" exception), found through a hash table
 * (a binary search was some 40 string comparisons per From domain).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mailauth/dmarc.h"

#define PSL_NORMAL 1u
#define PSL_WILDCARD 2u		/* "*.name" */
#define PSL_EXCEPTION 4u	/* "!name" */

/* A PSL file is about 230 KiB; anything far beyond is not one. */
#define PSL_FILE_MAX (16u * 1024 * 1024)

struct psl_rule {
	uint32_t off;		/* into names */
	uint8_t flags;
};

struct dmarc_psl {
	char *names;		/* NUL-separated rule names */
	struct psl_rule *rules;	/* sorted by name, one per name */
	size_t n_rules;
	/* open addressing: rule index + 1, 0 for an empty slot; at most
	 * half full */
	uint32_t *slots;
	size_t mask;
};

/* FNV-1a of the name in lower case (rules are stored lower-cased). */
static uint32_t
name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const void *)name; *p != '\0'; p++) {
		unsigned char c = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p + 32)
							 : *p;

		h = (h ^ c) * 16777619u;
	}
	return h;
}

/* A rule while sorting (qsort has no context argument). */
struct psl_sort {
	const char *name;
	struct psl_rule rule;
};

static int
rule_cmp(const void *a, const void *b)
{
	const struct psl_sort *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void
add_rule(struct buf *names, struct psl_rule **rules, size_t *n, size_t *cap,
	 const char *name, size_t len, uint8_t flags)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 1024 : *cap * 2;
		*rules = xreallocarray(*rules, *cap, sizeof(**rules));
	}
	(*rules)[*n].off = (uint32_t)names->len;
	(*rules)[*n].flags = flags;
	(*n)++;
	for (size_t k = 0; k < len; k++) {
		char c = name[k];

		buf_putc(names, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
	}
	buf_putc(names, '\0');
}

/* One line of the file: the rule is its first word (the format says a
 * rule ends at the first white space), comments start with "//". */
static void
add_line(struct buf *names, struct psl_rule **rules, size_t *n, size_t *cap,
	 const char *line, size_t len)
{
	size_t i = 0, end;
	uint8_t flags = PSL_NORMAL;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	end = i;
	while (end < len && line[end] != ' ' && line[end] != '\t' &&
	       line[end] != '\r')
		end++;
	if (end == i || (end - i >= 2 && line[i] == '/' && line[i + 1] == '/'))
		return;
	if (line[i] == '!') {
		flags = PSL_EXCEPTION;
		i++;
	} else if (end - i >= 2 && line[i] == '*' && line[i + 1] == '.') {
		flags = PSL_WILDCARD;
		i += 2;
	}
	if (i >= end || line[i] == '.' || line[end - 1] == '.')
		return;
	for (size_t k = i; k < end; k++) {
		if ((unsigned char)line[k] < 0x20 || line[k] == 0x7f)
			return;		/* not a rule: no such domain */
	}
	add_rule(names, rules, n, cap, line + i, end - i, flags);
	/* a Unicode rule also as A-labels: From domains come either way
	 * (an IDN is usually written as A-labels outside SMTPUTF8) */
	for (size_t k = i; k < end; k++) {
		if ((unsigned char)line[k] >= 0x80) {
			char *u = xstrndup(line + i, end - i);
			char a[256];

			if (dns_name_ascii(u, a, sizeof(a)) == 0)
				add_rule(names, rules, n, cap, a, strlen(a),
					 flags);
			free(u);
			break;
		}
	}
}

struct dmarc_psl *
dmarc_psl_parse(const char *text, size_t len, char **error_r)
{
	struct buf names;
	struct psl_rule *rules = NULL;
	size_t n = 0, cap = 0, start = 0;
	struct dmarc_psl *psl;

	buf_init(&names);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		add_line(&names, &rules, &n, &cap, text + start, i - start);
		start = i + 1;
	}
	if (n == 0) {
		buf_deinit(&names);
		free(rules);
		*error_r = xstrdup("no rule in the Public Suffix List");
		return NULL;
	}
	psl = xcalloc(1, sizeof(*psl));
	psl->names = buf_steal(&names);
	buf_deinit(&names);
	struct psl_sort *sorted = xcalloc(n, sizeof(*sorted));

	for (size_t i = 0; i < n; i++) {
		sorted[i].name = psl->names + rules[i].off;
		sorted[i].rule = rules[i];
	}
	qsort(sorted, n, sizeof(*sorted), rule_cmp);
	/* one entry per name, with the kinds of rule it has */
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		if (out > 0 && strcmp(sorted[out - 1].name,
				      sorted[i].name) == 0) {
			sorted[out - 1].rule.flags |= sorted[i].rule.flags;
			continue;
		}
		sorted[out++] = sorted[i];
	}
	for (size_t i = 0; i < out; i++)
		rules[i] = sorted[i].rule;
	free(sorted);
	psl->rules = rules;
	psl->n_rules = out;
	size_t n_slots = 16;

	while (n_slots < 2 * out)
		n_slots *= 2;
	psl->slots = xcalloc(n_slots, sizeof(*psl->slots));
	psl->mask = n_slots - 1;
	for (size_t i = 0; i < out; i++) {
		size_t k = name_hash(psl->names + rules[i].off) & psl->mask;

		while (psl->slots[k] != 0)
			k = (k + 1) & psl->mask;
		psl->slots[k] = (uint32_t)i + 1;
	}
	return psl;
}

struct dmarc_psl *
dmarc_psl_load(const char *path, char **error_r)
{
	FILE *f = fopen(path, "r");
	struct buf text;
	char chunk[65536];
	size_t got;
	struct dmarc_psl *psl;

	if (f == NULL) {
		*error_r = xasprintf("cannot open the Public Suffix List %s: "
				     "%s", path, strerror(errno));
		return NULL;
	}
	buf_init(&text);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_append(&text, chunk, got);
		if (text.len > PSL_FILE_MAX)
			break;
	}
	if (ferror(f) || text.len > PSL_FILE_MAX) {
		*error_r = xasprintf("cannot read the Public Suffix List %s: "
				     "%s", path, ferror(f) ? strerror(errno)
				     : "over 16 MiB");
		fclose(f);
		buf_deinit(&text);
		return NULL;
	}
	fclose(f);
	psl = dmarc_psl_parse(text.data != NULL ? text.data : "", text.len,
			      error_r);
	buf_deinit(&text);
	if (psl == NULL) {
		char *e = *error_r;

		*error_r = xasprintf("%s: %s", path, e);
		free(e);
	}
	return psl;
}

void
dmarc_psl_free(struct dmarc_psl **psl)
{
	if (*psl == NULL)
		return;
	free((*psl)->names);
	free((*psl)->rules);
	free((*psl)->slots);
	free(*psl);
	*psl = NULL;
}

static unsigned
rule_flags(const struct dmarc_psl *psl, const char *name)
{
	size_t k = name_hash(name) & psl->mask;

	for (uint32_t i; (i = psl->slots[k]) != 0; k = (k + 1) & psl->mask) {
		const struct psl_rule *r = &psl->rules[i - 1];

		if (strcasecmp(name, psl->names + r->off) == 0)
			return r->flags;
	}
	return 0;
}

const char *
dmarc_psl_public_suffix(const struct dmarc_psl *psl, const char *domain)
{
	size_t len = strlen(domain);
	const char *best = NULL;

	if (len == 0 || domain[0] == '.' || domain[len - 1] == '.' ||
	    strstr(domain, "..") != NULL)
		return NULL;
	/* every suffix on a label boundary, longest first: an exception
	 * rule wins outright (its rule minus the left label); otherwise
	 * the first (longest) normal or wildcard match */
	for (const char *s = domain; s != NULL;) {
		const char *dot = strchr(s, '.');
		unsigned f = rule_flags(psl, s);

		if (f & PSL_EXCEPTION)
			return dot != NULL ? dot + 1 : s;
		if (best == NULL) {
			if (f & PSL_NORMAL)
				best = s;
			else if (dot != NULL &&
				 (rule_flags(psl, dot + 1) & PSL_WILDCARD))
				best = s;
		}
		s = dot != NULL ? dot + 1 : NULL;
	}
	if (best != NULL)
		return best;
	/* the implicit rule "*": the last label */
	const char *last = strrchr(domain, '.');

	return last != NULL ? last + 1 : domain;
}

const char *
dmarc_psl_org_domain(const struct dmarc_psl *psl, const char *domain)
{
	const char *ps = dmarc_psl_public_suffix(psl, domain);
	const char *p;

	if (ps == NULL || ps == domain)
		return NULL;
	/* the label before the public suffix */
	p = ps - 1;		/* the dot */
	while (p > domain && p[-1] != '.')
		p--;
	return p;
}
