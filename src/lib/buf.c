/* SPDX-License-Identifier: MIT */
/* Growable NUL-terminated byte buffer; see buf.h. */
#include "lib/buf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

/* What a buf points at after buf_steal(): empty, NUL-terminated, with
 * cap 0 so that nothing writes into it (buf_reserve() allocates first). */
static char buf_empty[1];

void
buf_init(struct buf *b)
{
	b->cap = 64;
	b->len = 0;
	b->data = xmalloc(b->cap);
	b->data[0] = '\0';
}

void
buf_init_size(struct buf *b, size_t size)
{
	/* as buf_steal() leaves it: buf_reserve() makes the one allocation */
	b->data = buf_empty;
	b->len = b->cap = 0;
	buf_reserve(b, size);
}

void
buf_deinit(struct buf *b)
{
	if (b->cap != 0)
		free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap != 0)
		b->data[0] = '\0';
}

void
buf_reserve(struct buf *b, size_t extra)
{
	size_t need;

	assert(b->data != NULL);
	if (extra > SIZE_MAX / 2 - b->len)
		abort();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (b->cap == 0) {
		/* emptied by buf_steal(), or buf_init_size(): len is 0,
		 * data is buf_empty */
		b->cap = 64;
		while (b->cap < need)
			b->cap *= 2;
		b->data = xmalloc(b->cap);
		b->data[0] = '\0';
		return;
	}
	while (b->cap < need)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap);
}

void
buf_append(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return;
	buf_reserve(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

size_t
buf_uint_to_dec(char *dst, uint64_t n)
{
	char d[BUF_UINT_DEC_MAX];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	memcpy(dst, d + i, sizeof(d) - i);
	return sizeof(d) - i;
}

void
buf_put_uint(struct buf *b, uint64_t n)
{
	buf_reserve(b, BUF_UINT_DEC_MAX);
	b->len += buf_uint_to_dec(b->data + b->len, n);
	b->data[b->len] = '\0';
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		abort();
	if ((size_t)n >= b->cap - b->len) {
		buf_reserve(b, (size_t)n);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		assert(n >= 0 && (size_t)n < b->cap - b->len);
	}
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
buf_consume(struct buf *b, size_t n)
{
	assert(n <= b->len);
	if (n == 0)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
buf_truncate(struct buf *b, size_t len)
{
	assert(len <= b->len);
	if (len == b->len)
		return;
	b->len = len;
	b->data[len] = '\0';
}

char *
buf_steal(struct buf *b)
{
	char *p = b->cap != 0 ? b->data : xcalloc(1, 1);

	/* no new storage until the next write: a buf that goes out of scope
	 * after its text was taken (the usual case) leaks nothing */
	b->data = buf_empty;
	b->len = 0;
	b->cap = 0;
	return p;
}
