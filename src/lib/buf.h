/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer that is always NUL-terminated, so it serves for
 * both text and binary data. Embedded by value: buf_init/buf_deinit.
 */
#ifndef HERALD_LIB_BUF_H
#define HERALD_LIB_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;	/* always valid after buf_init, data[len] == '\0' */
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
/* buf_init with room for `size` bytes (plus the NUL) in its one
 * allocation: for a text of known usual length, no regrowth. */
void buf_init_size(struct buf *b, size_t size);
/* Frees the storage; the buf may be reused after buf_init. */
void buf_deinit(struct buf *b);
/* Empties without freeing. */
void buf_reset(struct buf *b);
/* Makes room for at least `extra` more bytes (plus the NUL). */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
/* Appends n in decimal (without printf: for fields of every message). */
void buf_put_uint(struct buf *b, uint64_t n);
/* The most digits buf_uint_to_dec() writes (UINT64_MAX has 20). */
#define BUF_UINT_DEC_MAX 20
/* Writes n's decimal digits to dst, which has room for BUF_UINT_DEC_MAX
 * octets, without a NUL; returns how many. The one decimal writer of
 * buf_put_uint(), the log line prefix and the queue's delay fields. */
size_t buf_uint_to_dec(char *dst, uint64_t n);
/* Inline: writers of IMAP responses (ENVELOPE, quoted strings) append
 * octet by octet, and a call with buf_reserve() per octet was a fifth of
 * a FETCH ENVELOPE. */
static inline void
buf_putc(struct buf *b, char c)
{
	if (b->len + 2 > b->cap)
		buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Shortens to len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);
/* Hands the storage to the caller (NUL-terminated, caller frees) and
 * leaves b empty and usable without storage of its own: it may go out of
 * scope without buf_deinit() (which is harmless too), and the next write
 * allocates. */
char *buf_steal(struct buf *b);

#endif
