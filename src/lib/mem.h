/* SPDX-License-Identifier: MIT */
/*
 * Allocation that succeeds or aborts. Out of memory is not an error a mail
 * server can recover from usefully, so every allocation goes through here
 * and a failure logs and aborts (STYLE.md, "Memory").
 */
#ifndef HERALD_LIB_MEM_H
#define HERALD_LIB_MEM_H

#include <stdarg.h>
#include <stddef.h>

/* Never returns NULL; aborts on failure. xmalloc(0) returns a unique pointer. */
void *xmalloc(size_t size);
/* Zeroed; aborts on overflow of nmemb * size. */
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grows an array to hold at least `need` elements of `elem` bytes, doubling. */
void *xreallocarray(void *ptr, size_t nmemb, size_t elem);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* Formatted allocation; the caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Frees *p and sets it to NULL. */
#define xfree(p) do { free(*(p)); *(p) = NULL; } while (0)

/* Wipes n bytes in a way the compiler cannot elide (secrets). */
void mem_wipe(void *p, size_t n);
/* Wipes and frees a NUL-terminated secret; NULLs the caller's pointer. */
void mem_free_secret(char **p);

#endif
