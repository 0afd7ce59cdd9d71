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
/* Resizes to nmemb elements of elem bytes; aborts when the size overflows.
 * It does not over-allocate: a list that grows one element at a time
 * wants lib/array.h, which doubles. */
void *xreallocarray(void *ptr, size_t nmemb, size_t elem);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* Formatted allocation; the caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Frees *p and sets it to NULL. */
#define xfree(p) do { free(*(p)); *(p) = NULL; } while (0)

/*
 * For a long-lived process with a thread pool (a worker): allocations of
 * 512 KiB and more always come from mmap and go back to the system when
 * freed, and a heap keeps at most 2 MiB free at its top. glibc's default
 * raises both limits after the first large free, after which a large
 * allocation made on a pool thread (a POP3 login's 10,000-message list)
 * stayed resident in that thread's arena when freed: the worker grew by
 * about 2.5 MB per session, up to one such block per pool thread. Not
 * lower: buffers of a few hundred KiB made and freed per 128 KiB of POP3
 * output (page faults on fresh mappings) made RETR six times slower with
 * both limits at 128 KiB.
 */
void mem_tune_long_lived(void);

/* Wipes n bytes in a way the compiler cannot elide (secrets). */
void mem_wipe(void *p, size_t n);
/* Wipes and frees a NUL-terminated secret; NULLs the caller's pointer. */
void mem_free_secret(char **p);

#endif
