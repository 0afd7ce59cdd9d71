/* SPDX-License-Identifier: MIT */
/*
 * LIST pattern matching as a bit-parallel NFA: state i means "the first i
 * pattern octets are matched". Each name octet moves every state at once
 * through word-wide masks, so a name of n octets costs n times the
 * pattern's length over 64 steps, whatever the pattern.
 */
#include "imap/imap-list-match.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

enum kind { LIT, STAR, PCT };

struct imap_list_pattern {
	bool never;		/* matches nothing */
	bool ends_pct;
	size_t m;		/* pattern octets after collapsing */
	size_t words;		/* 64-bit words of a state set (m + 1 bits) */
	uint16_t row[256];	/* octet -> 1 + its row in lit, 0: none */
	uint64_t *lit;		/* rows: bit i when pattern[i] is that octet */
	uint64_t *star;		/* bit i when pattern[i] is "*" */
	uint64_t *pct;		/* bit i when pattern[i] is "%" */
	uint64_t *wild;		/* star | pct */
};

static void
bit_set(uint64_t *v, size_t i)
{
	v[i / 64] |= (uint64_t)1 << (i % 64);
}

struct imap_list_pattern *
imap_list_pattern_new(const char *pattern, size_t len, size_t name_max)
{
	struct imap_list_pattern *p = xcalloc(1, sizeof(*p));
	uint8_t *pat = xmalloc(len + 1);
	enum kind *kind = xmalloc((len + 1) * sizeof(*kind));
	size_t m = 0, literals = 0, rows = 0;

	p->ends_pct = len > 0 && pattern[len - 1] == '%';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)pattern[i];
		enum kind k = c == '*' ? STAR : c == '%' ? PCT : LIT;

		/* After collapsing no two wildcards are adjacent, so the
		 * empty match of a wildcard is one step (match below). */
		if (k != LIT && m > 0 && kind[m - 1] != LIT) {
			if (k == STAR)
				kind[m - 1] = STAR;
			continue;
		}
		if (k == LIT)
			literals++;
		pat[m] = c;
		kind[m++] = k;
	}
	if (name_max != 0 && literals > name_max) {
		p->never = true;
		goto out;
	}
	p->m = m;
	p->words = (m + 1 + 63) / 64;
	p->star = xcalloc(p->words, sizeof(uint64_t));
	p->pct = xcalloc(p->words, sizeof(uint64_t));
	p->wild = xcalloc(p->words, sizeof(uint64_t));
	for (size_t i = 0; i < m; i++) {
		if (kind[i] == LIT && p->row[pat[i]] == 0)
			p->row[pat[i]] = (uint16_t)++rows;
	}
	p->lit = xcalloc((rows > 0 ? rows : 1) * p->words, sizeof(uint64_t));
	for (size_t i = 0; i < m; i++) {
		if (kind[i] == LIT) {
			bit_set(p->lit + (p->row[pat[i]] - 1u) * p->words, i);
			continue;
		}
		bit_set(kind[i] == STAR ? p->star : p->pct, i);
		bit_set(p->wild, i);
	}
out:
	free(pat);
	free(kind);
	return p;
}

void
imap_list_pattern_free(struct imap_list_pattern **pp)
{
	struct imap_list_pattern *p = *pp;

	if (p == NULL)
		return;
	free(p->lit);
	free(p->star);
	free(p->pct);
	free(p->wild);
	free(p);
	*pp = NULL;
}

bool
imap_list_pattern_ends_in_percent(const struct imap_list_pattern *p)
{
	return p->ends_pct;
}

/* s |= (s & mask) << 1 across words: states before a wildcard also sit
 * after it (the wildcard matched nothing). */
static void
closure(const struct imap_list_pattern *p, uint64_t *s)
{
	uint64_t carry = 0;

	for (size_t w = 0; w < p->words; w++) {
		uint64_t e = s[w] & p->wild[w];

		s[w] |= (e << 1) | carry;
		carry = e >> 63;
	}
}

bool
imap_list_pattern_match(const struct imap_list_pattern *p, const char *name,
			size_t len)
{
	uint64_t *s, *next;
	bool ok;

	if (p->never)
		return false;
	s = xcalloc(2 * p->words, sizeof(uint64_t));
	next = s + p->words;
	s[0] = 1;
	closure(p, s);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)name[i];
		const uint64_t *lit = p->row[c] != 0 ?
			p->lit + (p->row[c] - 1u) * p->words : NULL;
		uint64_t carry = 0, any = 0;

		for (size_t w = 0; w < p->words; w++) {
			uint64_t a = lit != NULL ? s[w] & lit[w] : 0;

			next[w] = (a << 1) | carry | (s[w] & p->star[w]);
			if (c != '/')
				next[w] |= s[w] & p->pct[w];
			carry = a >> 63;
		}
		closure(p, next);
		for (size_t w = 0; w < p->words; w++) {
			s[w] = next[w];
			any |= s[w];
		}
		if (any == 0)
			break;
	}
	ok = (s[p->m / 64] >> (p->m % 64)) & 1;
	free(s);
	return ok;
}
