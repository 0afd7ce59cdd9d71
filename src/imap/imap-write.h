/* SPDX-License-Identifier: MIT */
/*
 * The string primitives of IMAP responses (RFC 9051 section 9 formal
 * syntax): atom, quoted string, literal, literal8 and NIL, chosen per value
 * so that every response parses; mailbox names and numbers. Appends to a
 * struct buf; never fails on content (what cannot be quoted is a literal).
 */
#ifndef HERALD_IMAP_WRITE_H
#define HERALD_IMAP_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Longer strings go out as literals even when they could be quoted, so
 * that a response line stays short for clients with line buffers. */
#define IMAP_WRITE_QUOTED_MAX 1024

enum imap_write_flags {
	/* The session has UTF8=ACCEPT enabled (RFC 6855 3), or IMAP4rev2,
	 * which includes it (RFC 9755's abstract): valid UTF-8 may be
	 * quoted and mailbox names go out in UTF-8. Without it, any octet
	 * >= 0x80 forces a literal. */
	IMAP_WRITE_UTF8 = 1 << 0,
	/* The caller's grammar allows literal8 here (RFC 3516 BINARY): a
	 * value holding NUL goes out as ~{n}. */
	IMAP_WRITE_BINARY = 1 << 1,
	/* The value is header text (ENVELOPE, BODYSTRUCTURE) for a session
	 * without IMAP_WRITE_UTF8: valid UTF-8 with 8-bit octets goes out
	 * as RFC 2047 encoded words (imap_downgrade_text(), RFC 9755 7),
	 * not as raw 8-bit the client did not say it can read. Ignored
	 * with IMAP_WRITE_UTF8. */
	IMAP_WRITE_DOWNGRADE = 1 << 2,
};

/*
 * Appends s[0..len) as an IMAP string: a quoted string when it is at most
 * IMAP_WRITE_QUOTED_MAX octets and holds no CR, LF or NUL and no octet
 * >= 0x80 (with IMAP_WRITE_UTF8: no invalid UTF-8), with '\' and '"'
 * escaped; otherwise a literal "{n}\r\n" and the octets. NUL may appear in
 * neither (CHAR8 is %x01-ff): with IMAP_WRITE_BINARY such a value is a
 * literal8 "~{n}\r\n..."; without it each NUL is sent as 0x80 in a
 * literal, the length unchanged (a client reading text needs no exact NUL).
 * With IMAP_WRITE_DOWNGRADE (and not IMAP_WRITE_UTF8) UTF-8 text is first
 * turned into encoded words.
 */
void imap_write_string(struct buf *out, const char *s, size_t len,
		       unsigned int flags);

/* imap_write_string(), or NIL when s is NULL (nstring). */
void imap_write_nstring(struct buf *out, const char *s, size_t len,
			unsigned int flags);

/* An astring: an atom when s is non-empty, all ASTRING-CHAR (printable
 * US-ASCII except "(" ")" "{" SP "%" "*" '"' "\"; "]" allowed) and not
 * "NIL" in any case (a reader could take it for nil); else as
 * imap_write_string(). */
void imap_write_astring(struct buf *out, const char *s, size_t len,
			unsigned int flags);

/* Whether s[0..len) can be written as an atom in an astring position. */
bool imap_write_is_astring_atom(const char *s, size_t len);

/*
 * Appends the UTF-8 mailbox name[0..len) as a mailbox (RFC 9051 9): INBOX
 * in any case as "INBOX" (it is that one mailbox, 5.1); without
 * IMAP_WRITE_UTF8 converted to modified UTF-7 (imap-utf7.h), with it kept
 * in UTF-8; then as imap_write_astring(). Returns 0, or -1 with a static
 * *error_r and out unchanged when the name is not valid UTF-8 or holds a
 * control character.
 */
int imap_write_mailbox(struct buf *out, const char *name, size_t len,
		       unsigned int flags, const char **error_r);

/* A number or number64 in decimal. */
void imap_write_number(struct buf *out, uint64_t n);

/*
 * A parenthesised list written member by member: begin appends "(",
 * each imap_write_list_item() a space before every member but the first,
 * end appends ")". The struct lives on the caller's stack.
 */
struct imap_write_list {
	struct buf *out;
	bool first;
};

void imap_write_list_begin(struct imap_write_list *list, struct buf *out);
/* Call before writing each member; returns list->out for convenience. */
struct buf *imap_write_list_item(struct imap_write_list *list);
void imap_write_list_end(struct imap_write_list *list);

#endif
