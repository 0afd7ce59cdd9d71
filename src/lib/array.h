/* SPDX-License-Identifier: MIT */
/*
 * A growable array of one element type (Dovecot's ARRAY): ARRAY(type)
 * declares it, and the macros check at compile time that what goes in is
 * of that type. A zeroed array is empty and ready; memory comes from
 * lib/mem.h (out of memory aborts) and grows by doubling.
 */
#ifndef HERALD_LIB_ARRAY_H
#define HERALD_LIB_ARRAY_H

#include <stddef.h>

/* The untyped part; use the macros below, not these fields. */
struct array {
	void *data;
	size_t len;	/* elements in use */
	size_t cap;	/* elements allocated */
};

/* A member or variable: `ARRAY(struct foo) foos;`. The pointer is never
 * read: it carries the element type for the macros' checks and sizes. */
#define ARRAY(type) union { struct array arr; type *typed; }

/* Number of elements. */
#define array_len(a) ((a)->arr.len)
#define array_is_empty(a) ((a)->arr.len == 0)

/* Pointer to element i; i >= array_len() is a bug (panics). The pointer
 * stays valid until the array grows or is freed. */
#define array_idx(a, i) \
	((__typeof__((a)->typed))array_idx_(&(a)->arr, sizeof(*(a)->typed), (i)))

/* The elements as a C array (NULL while the array never held one). */
#define array_data(a) ((__typeof__((a)->typed))(a)->arr.data)

/* Appends a copy of *elem; elem must point to the element type. */
#define array_append(a, elem) \
	array_append_(&(a)->arr, sizeof(*(a)->typed), \
		      (1 ? (elem) : (a)->typed))

/* Appends a zeroed element and returns a pointer to it. */
#define array_push(a) \
	((__typeof__((a)->typed))array_push_(&(a)->arr, sizeof(*(a)->typed)))

/* Removes element i, moving the ones after it down. */
#define array_delete(a, i) \
	array_delete_(&(a)->arr, sizeof(*(a)->typed), (i))

/* Empties the array and keeps its memory for reuse. */
#define array_clear(a) ((a)->arr.len = 0)

/* Frees the memory; the array is empty and usable again. Elements that own
 * memory are the caller's to free first. */
#define array_free(a) array_free_(&(a)->arr)

void *array_idx_(const struct array *a, size_t elem_size, size_t i);
void array_append_(struct array *a, size_t elem_size, const void *elem);
void *array_push_(struct array *a, size_t elem_size);
void array_delete_(struct array *a, size_t elem_size, size_t i);
void array_free_(struct array *a);

#endif
