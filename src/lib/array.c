/* SPDX-License-Identifier: MIT */
/*
 * The untyped half of lib/array.h: growth by doubling (so n appends cost
 * O(n) copies, where realloc by one element per append may copy each
 * time), bounds checks that panic, and size arithmetic that cannot wrap.
 */
#include "lib/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"

void *
array_idx_(const struct array *a, size_t elem_size, size_t i)
{
	if (i >= a->len)
		panic("array: index %zu of %zu", i, a->len);
	return (char *)a->data + i * elem_size;
}

static void
array_grow(struct array *a, size_t elem_size)
{
	size_t cap;

	if (a->len < a->cap)
		return;
	if (a->cap > SIZE_MAX / 2)
		panic("array: %zu elements", a->cap);
	cap = a->cap == 0 ? 4 : a->cap * 2;
	/* xreallocarray aborts when cap * elem_size overflows */
	a->data = xreallocarray(a->data, cap, elem_size);
	a->cap = cap;
}

void *
array_push_(struct array *a, size_t elem_size)
{
	void *p;

	array_grow(a, elem_size);
	p = (char *)a->data + a->len * elem_size;
	memset(p, 0, elem_size);
	a->len++;
	return p;
}

void
array_append_(struct array *a, size_t elem_size, const void *elem)
{
	const char *base = a->data, *e = elem;

	/* an element of this array moves when it grows */
	if (base != NULL && e >= base && e < base + a->len * elem_size) {
		size_t i = (size_t)(e - base) / elem_size;
		void *p = array_push_(a, elem_size);

		memcpy(p, (char *)a->data + i * elem_size, elem_size);
		return;
	}
	memcpy(array_push_(a, elem_size), elem, elem_size);
}

void
array_delete_(struct array *a, size_t elem_size, size_t i)
{
	char *p = array_idx_(a, elem_size, i);

	memmove(p, p + elem_size, (a->len - i - 1) * elem_size);
	a->len--;
}

void
array_free_(struct array *a)
{
	free(a->data);
	a->data = NULL;
	a->len = 0;
	a->cap = 0;
}
