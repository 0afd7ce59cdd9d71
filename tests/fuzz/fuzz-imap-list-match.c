/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: LIST patterns. The input is a pattern and a name
 * split at the first NUL; the automaton must agree with a naive
 * recursive matcher (run only when both are short, as it backtracks).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-list-match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
naive(const uint8_t *p, size_t pl, const uint8_t *n, size_t nl)
{
	if (pl == 0)
		return nl == 0;
	if (p[0] == '*')
		return naive(p + 1, pl - 1, n, nl) ||
		       (nl > 0 && naive(p, pl, n + 1, nl - 1));
	if (p[0] == '%')
		return naive(p + 1, pl - 1, n, nl) ||
		       (nl > 0 && n[0] != '/' &&
			naive(p, pl, n + 1, nl - 1));
	return nl > 0 && n[0] == p[0] && naive(p + 1, pl - 1, n + 1, nl - 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t pl = nul != NULL ? (size_t)(nul - data) : size;
	const uint8_t *name = nul != NULL ? nul + 1 : data;
	size_t nl = nul != NULL ? size - pl - 1 : size;
	struct imap_list_pattern *p =
		imap_list_pattern_new((const char *)data, pl, 0);
	bool ok = imap_list_pattern_match(p, (const char *)name, nl);

	if (pl <= 12 && nl <= 16 && ok != naive(data, pl, name, nl))
		abort();
	imap_list_pattern_free(&p);
	return 0;
}
