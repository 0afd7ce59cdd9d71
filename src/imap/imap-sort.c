/* SPDX-License-Identifier: MIT */
/*
 * SORT criteria (RFC 5256 3 and 4, RFC 5957 4) and the ordering of
 * messages by them: a stable merge sort over the messages with the
 * criteria compared in turn, the sequence number last (RFC 5256 3: "the
 * order in which the two messages appear in the mailbox"). String keys
 * are compared in their i;unicode-casemap form, kept in the record.
 */
#include "imap/imap-sort.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"

static const struct {
	const char *name;
	enum imap_sort_key key;
} sort_keys[] = {
	{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
	{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
	{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
	{ "TO", IMAP_SORT_TO }, { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
	{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
};

int
imap_sort_criteria_parse(const struct imap_arg *list,
			 struct imap_sort_program *prog_r,
			 const char **error_r)
{
	bool reverse = false;

	memset(prog_r, 0, sizeof(*prog_r));
	if (list->type != IMAP_ARG_LIST || list->list_count == 0) {
		*error_r = "SORT needs a list of sort criteria";
		return -1;
	}
	for (size_t i = 0; i < list->list_count; i++) {
		const struct imap_arg *a = &list->list[i];
		size_t k;

		if (imap_arg_atom_equals(a, "REVERSE")) {
			if (reverse) {
				*error_r = "REVERSE twice";
				return -1;
			}
			reverse = true;
			continue;
		}
		for (k = 0; k < sizeof(sort_keys) / sizeof(sort_keys[0]); k++)
			if (imap_arg_atom_equals(a, sort_keys[k].name))
				break;
		if (k == sizeof(sort_keys) / sizeof(sort_keys[0])) {
			*error_r = "unknown sort criterion";
			return -1;
		}
		if (prog_r->n == IMAP_SORT_CRITERIA_MAX) {
			*error_r = "too many sort criteria";
			return -1;
		}
		prog_r->c[prog_r->n].key = sort_keys[k].key;
		prog_r->c[prog_r->n].reverse = reverse;
		prog_r->n++;
		if (sort_keys[k].key != IMAP_SORT_ARRIVAL &&
		    sort_keys[k].key != IMAP_SORT_SIZE)
			prog_r->needs_records = true;
		reverse = false;
	}
	if (reverse) {
		*error_r = "REVERSE needs a sort criterion after it";
		return -1;
	}
	return 0;
}

int64_t
imap_sort_sent_date(const struct imap_sort_msg *m)
{
	return m->rec.has_date ? m->rec.date : m->internal_date;
}

static int
cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
cmp_str(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

static int
compare(const struct imap_sort_msg *a, const struct imap_sort_msg *b,
	const struct imap_sort_program *prog)
{
	for (size_t i = 0; i < prog->n; i++) {
		int r = 0;

		switch (prog->c[i].key) {
		case IMAP_SORT_ARRIVAL:
			r = cmp_i64(a->internal_date, b->internal_date);
			break;
		case IMAP_SORT_DATE:
			r = cmp_i64(imap_sort_sent_date(a),
				    imap_sort_sent_date(b));
			break;
		case IMAP_SORT_SIZE:
			r = a->size < b->size ? -1 : a->size > b->size;
			break;
		case IMAP_SORT_SUBJECT:
			r = cmp_str(a->rec.subject, b->rec.subject);
			break;
		case IMAP_SORT_FROM:
			r = cmp_str(a->rec.from, b->rec.from);
			break;
		case IMAP_SORT_TO:
			r = cmp_str(a->rec.to, b->rec.to);
			break;
		case IMAP_SORT_CC:
			r = cmp_str(a->rec.cc, b->rec.cc);
			break;
		case IMAP_SORT_DISPLAYFROM:
			r = cmp_str(a->rec.display_from, b->rec.display_from);
			break;
		case IMAP_SORT_DISPLAYTO:
			r = cmp_str(a->rec.display_to, b->rec.display_to);
			break;
		}
		if (r != 0)
			return prog->c[i].reverse ? -r : r;
	}
	/* RFC 5256 3: ties in sequence order, also under REVERSE */
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void
merge_sort(struct imap_sort_msg *v, struct imap_sort_msg *tmp, size_t n,
	   const struct imap_sort_program *prog)
{
	size_t mid = n / 2, i = 0, j = mid, k = 0;

	if (n < 2)
		return;
	merge_sort(v, tmp, mid, prog);
	merge_sort(v + mid, tmp, n - mid, prog);
	if (compare(&v[mid - 1], &v[mid], prog) <= 0)
		return;
	while (i < mid && j < n)
		tmp[k++] = compare(&v[j], &v[i], prog) < 0 ? v[j++] : v[i++];
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

void
imap_sort_messages(struct imap_sort_msg *msgs, size_t n,
		   const struct imap_sort_program *prog)
{
	struct imap_sort_msg *tmp;

	if (n < 2)
		return;
	tmp = xcalloc(n, sizeof(*tmp));
	merge_sort(msgs, tmp, n, prog);
	free(tmp);
}
