/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for imap-list-match: the LIST wildcards of RFC 9051 6.3.9 in
 * a table, agreement with a naive recursive matcher on random patterns
 * and names, and hostile patterns that would make backtracking slow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "imap/imap-list-match.h"
#include "lib/mem.h"

static bool
match(const char *pattern, const char *name)
{
	struct imap_list_pattern *p =
		imap_list_pattern_new(pattern, strlen(pattern), 0);
	bool ok = imap_list_pattern_match(p, name, strlen(name));

	imap_list_pattern_free(&p);
	assert_null(p);
	return ok;
}

static void
test_table(void **state)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} cases[] = {
		{ "*", "", true },
		{ "*", "a/b/c", true },
		{ "%", "", true },
		{ "%", "abc", true },
		{ "%", "a/b", false },
		{ "%/%", "a/b", true },
		{ "%/%", "a/b/c", false },
		{ "a/%", "a/b", true },
		{ "a/%", "a/", true },
		{ "a/%", "a", false },
		{ "a/*", "a/b/c", true },
		{ "a*", "a", true },
		{ "a*", "ab/c", true },
		{ "a%", "ab/c", false },
		{ "*c", "a/b/c", true },
		{ "%c", "a/b/c", false },
		{ "", "", true },
		{ "", "a", false },
		{ "INBOX", "INBOX", true },
		{ "INBOX", "inbox", false },	/* the caller folds INBOX */
		{ "a%*b", "a/x/b", true },	/* "%*" is "*" */
		{ "a*%b", "a/x/b", true },
		{ "a%%b", "a/b", false },
		{ "a%%b", "axyb", true },
		{ "*a%b", "a/xab", true },	/* greedy leftmost would fail */
		{ "caf\xc3\xa9/*", "caf\xc3\xa9/x", true },
		{ "&AOk-*", "&AOk-x", true },
		{ "**", "x/y", true },
		{ "a?", "ab", false },	/* no "?" wildcard in IMAP */
		{ "a?", "a?", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (match(cases[i].pattern, cases[i].name) != cases[i].match)
			fail_msg("pattern '%s' name '%s': expected %d",
				 cases[i].pattern, cases[i].name,
				 cases[i].match);
	}
}

static bool
naive(const char *p, const char *n)
{
	if (*p == '\0')
		return *n == '\0';
	if (*p == '*')
		return naive(p + 1, n) || (*n != '\0' && naive(p, n + 1));
	if (*p == '%')
		return naive(p + 1, n) ||
		       (*n != '\0' && *n != '/' && naive(p, n + 1));
	return *n == *p && naive(p + 1, n + 1);
}

static void
random_string(char *s, size_t max, const char *alphabet)
{
	size_t len = (size_t)rand() % max, k = strlen(alphabet);

	for (size_t i = 0; i < len; i++)
		s[i] = alphabet[(size_t)rand() % k];
	s[len] = '\0';
}

static void
test_against_naive(void **state)
{
	char pat[16], name[16];

	(void)state;
	srand(11);
	for (int i = 0; i < 200000; i++) {
		random_string(pat, 10, "ab/*%");
		random_string(name, 12, "ab/");
		if (match(pat, name) != naive(pat, name))
			fail_msg("pattern '%s' name '%s': naive says %d", pat,
				 name, naive(pat, name));
	}
}

static void
test_long(void **state)
{
	/* over 64 states: masks span words */
	char *pat = xmalloc(400), *name = xmalloc(400);
	struct imap_list_pattern *p;
	clock_t t0;

	(void)state;
	memset(name, 'a', 300);
	name[300] = '\0';
	for (size_t i = 0; i < 200; i += 2) {
		pat[i] = '*';
		pat[i + 1] = 'a';
	}
	pat[200] = 'b';
	pat[201] = '\0';
	t0 = clock();
	p = imap_list_pattern_new(pat, strlen(pat), 0);
	for (int i = 0; i < 2000; i++)
		assert_false(imap_list_pattern_match(p, name, 300));
	name[299] = 'b';
	assert_true(imap_list_pattern_match(p, name, 300));
	name[299] = 'a';
	name[150] = 'b';
	assert_false(imap_list_pattern_match(p, name, 300));
	imap_list_pattern_free(&p);
	/* 2000 names of 300 octets against 201 states: milliseconds, where
	 * backtracking would not end */
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);

	/* 129 literal octets can match no name of at most 128 */
	memset(pat, 'a', 129);
	p = imap_list_pattern_new(pat, 129, 128);
	assert_false(imap_list_pattern_match(p, pat, 129));
	imap_list_pattern_free(&p);
	p = imap_list_pattern_new(pat, 128, 128);
	assert_true(imap_list_pattern_match(p, pat, 128));
	assert_false(imap_list_pattern_ends_in_percent(p));
	imap_list_pattern_free(&p);
	p = imap_list_pattern_new("a/%", 3, 128);
	assert_true(imap_list_pattern_ends_in_percent(p));
	imap_list_pattern_free(&p);
	free(pat);
	free(name);
}

static void
test_all_octets(void **state)
{
	/* 256 distinct literal octets: every one gets its row */
	char pat[256], name[256];
	struct imap_list_pattern *p;

	(void)state;
	for (int i = 0; i < 256; i++)
		pat[i] = (char)i;
	memcpy(name, pat, sizeof(name));
	/* "*" and "%" are wildcards here; put literals in their place in
	 * the name, which the wildcards match */
	p = imap_list_pattern_new(pat, 256, 0);
	assert_true(imap_list_pattern_match(p, name, 256));
	name[255] = 'x';
	assert_false(imap_list_pattern_match(p, name, 256));
	imap_list_pattern_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_against_naive),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_all_octets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
