/* SPDX-License-Identifier: MIT */
/* Allocation wrappers that abort on failure; see mem.h. */
#include "lib/mem.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static void
mem_oom(size_t size)
{
	fprintf(stderr, "herald: out of memory allocating %zu bytes\n", size);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		mem_oom(size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		mem_oom(SIZE_MAX);
	p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		mem_oom(nmemb * size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		mem_oom(size);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t elem)
{
	if (elem != 0 && nmemb > SIZE_MAX / elem)
		mem_oom(SIZE_MAX);
	return xrealloc(ptr, nmemb * elem);
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void *
xmemdup(const void *src, size_t n)
{
	void *p = xmalloc(n);

	if (n > 0)
		memcpy(p, src, n);
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		mem_oom(0);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void
mem_tune_long_lived(void)
{
	/* Setting either disables glibc's dynamic adjustment of both. */
	(void)mallopt(M_MMAP_THRESHOLD, 512 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 2 * 1024 * 1024);
}

void
mem_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

void
mem_free_secret(char **p)
{
	if (*p != NULL) {
		mem_wipe(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}
