/* SPDX-License-Identifier: MIT */
/*
 * UID sets for VANISHED (EARLIER) (RFC 7162 3.2.5, 3.2.6): a client's UID
 * set as sorted, merged ranges, and the fallback of 3.2.5.2 for a modseq
 * older than the change log remembers: every UID of those ranges below
 * UIDNEXT that the view does not hold.
 */
#include <stdlib.h>

#include "imap/imap-private.h"
#include "lib/mem.h"

static int
cmp_pair(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

size_t
imap_uid_pairs(const struct imap_seqset *set, uint32_t **pairs_r)
{
	uint32_t *p = xcalloc(set->count * 2 + 2, sizeof(*p));
	size_t n = 0;

	for (size_t i = 0; i < set->count; i++)
		imap_seq_range_bounds(&set->ranges[i], UINT32_MAX, &p[2 * i],
				      &p[2 * i + 1]);
	qsort(p, set->count, 2 * sizeof(*p), cmp_pair);
	for (size_t i = 0; i < set->count; i++) {
		uint32_t lo = p[2 * i], hi = p[2 * i + 1];
		uint32_t *prev_hi = n > 0 ? &p[2 * n - 1] : NULL;

		if (prev_hi != NULL &&
		    (*prev_hi == UINT32_MAX || lo <= *prev_hi + 1)) {
			if (hi > *prev_hi)
				*prev_hi = hi;
			continue;
		}
		p[2 * n] = lo;
		p[2 * n + 1] = hi;
		n++;
	}
	*pairs_r = p;
	return n;
}

static void
put_range(struct buf *out, bool *any, uint32_t lo, uint32_t hi)
{
	if (*any)
		buf_putc(out, ',');
	*any = true;
	if (lo == hi)
		buf_printf(out, "%u", lo);
	else
		buf_printf(out, "%u:%u", lo, hi);
}

bool
imap_write_uid_gaps(struct buf *out, const uint32_t *pairs, size_t n_pairs,
		    const struct imap_mailbox *box)
{
	uint32_t all[2] = { 1, UINT32_MAX };
	uint32_t top = box->uidnext > 0 ? box->uidnext - 1 : 0;
	size_t k = 0;
	bool any = false;

	if (pairs == NULL) {
		pairs = all;
		n_pairs = 1;
	}
	for (size_t i = 0; i < n_pairs; i++) {
		uint32_t lo = pairs[2 * i] > 0 ? pairs[2 * i] : 1;
		uint32_t hi = pairs[2 * i + 1] < top ? pairs[2 * i + 1] : top;

		if (lo > hi)
			continue;
		while (k < box->count && box->msgs[k].uid < lo)
			k++;
		/* hi <= top < UINT32_MAX: uid + 1 cannot wrap */
		while (lo <= hi) {
			uint32_t uid = k < box->count ? box->msgs[k].uid :
				UINT32_MAX;

			if (uid > hi) {
				put_range(out, &any, lo, hi);
				break;
			}
			if (uid > lo)
				put_range(out, &any, lo, uid - 1);
			lo = uid + 1;
			k++;
		}
	}
	return any;
}
