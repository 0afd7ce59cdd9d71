/* SPDX-License-Identifier: MIT */
/*
 * Turning a stored message into a RETR or TOP response body (RFC 1939 3,
 * 7): dot-stuffing of lines that start with '.', CRLF line endings, the
 * header/body split and line count of TOP, and the terminating ".".
 * Works on chunks of any size so big messages stream; no I/O.
 * Also the UIDL derivation shared with IMAP (docs/pop3.md).
 */
#ifndef HERALD_POP3_STUFF_H
#define HERALD_POP3_STUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct pop3_stuffer {
	bool bol;		/* at the start of a line */
	bool prev_cr;		/* the last byte seen was CR */
	bool top;		/* TOP: stop after top_lines body lines */
	bool in_body;		/* the blank line after the header was seen */
	bool line_empty;	/* no byte but CR on the current line so far */
	bool done;		/* TOP limit reached: ignore further input */
	uint32_t lines_left;	/* TOP: body lines still to send */
};

/* RETR: top false. TOP n k: top true, body_lines k. */
void pop3_stuffer_init(struct pop3_stuffer *s, bool top, uint32_t body_lines);

/*
 * Appends in[0..len) to out, stuffed: a '.' at the start of a line gets a
 * second '.', a bare LF becomes CRLF (the store keeps CRLF, so this only
 * matters for damaged blobs). Returns the bytes of input used: all of
 * them, unless TOP's limit was reached inside the chunk (then done is set
 * and the rest is ignored).
 */
size_t pop3_stuffer_feed(struct pop3_stuffer *s, const uint8_t *in,
			 size_t len, struct buf *out);
bool pop3_stuffer_is_done(const struct pop3_stuffer *s);

/* Ends the response: a CRLF if the message did not end with one, then
 * ".\r\n". */
void pop3_stuffer_finish(struct pop3_stuffer *s, struct buf *out);

/* Size of a UIDL string with its NUL. */
#define POP3_UIDL_SIZE 17

/*
 * The unique-id of a message (RFC 1939 7): 8 upper-case hex digits of the
 * UID then 8 of the mailbox's UIDVALIDITY, the same as Dovecot's default
 * pop3_uidl_format "%08Xu%08Xv", so a mailbox migrated with its UIDs keeps
 * its UIDLs and clients do not download everything again. Stable as long
 * as IMAP's UID and UIDVALIDITY are.
 */
void pop3_uidl_format(uint32_t uidvalidity, uint32_t uid,
		      char out[POP3_UIDL_SIZE]);

#endif
