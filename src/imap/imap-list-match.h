/* SPDX-License-Identifier: MIT */
/*
 * LIST and LSUB patterns (RFC 9051 6.3.9): "*" matches any run of
 * characters, "%" any run without the hierarchy delimiter "/". A pattern
 * is compiled once and matched against every name of an account in time
 * linear in the name (a bit-parallel automaton: no backtracking, so no
 * pattern like "*a*a*a*b" can make it slow).
 */
#ifndef HERALD_IMAP_LIST_MATCH_H
#define HERALD_IMAP_LIST_MATCH_H

#include <stdbool.h>
#include <stddef.h>

struct imap_list_pattern;

/*
 * Compiles pattern[0..len) (octets; NUL allowed but never matched by a
 * name). Runs of wildcards collapse ("**", "%*" are "*", "%%" is "%").
 * A pattern with more than name_max octets that are not wildcards can
 * match no name of at most name_max octets and compiles to one that
 * matches nothing (0: no such bound). Never fails; free with
 * imap_list_pattern_free().
 */
struct imap_list_pattern *imap_list_pattern_new(const char *pattern,
						size_t len, size_t name_max);
void imap_list_pattern_free(struct imap_list_pattern **pattern);

/* Whether name[0..len) matches the whole pattern. */
bool imap_list_pattern_match(const struct imap_list_pattern *pattern,
			     const char *name, size_t len);

/* Whether the pattern's last octet is "%" (RFC 9051 6.3.9: levels of
 * hierarchy that match are listed even when they are no mailbox). */
bool imap_list_pattern_ends_in_percent(const struct imap_list_pattern *p);

#endif
