/* SPDX-License-Identifier: MIT */
/*
 * What a session that has not enabled UTF8=ACCEPT (nor IMAP4rev2) gets for
 * header text in UTF-8 (RFC 6532 internationalized messages, RFC 9755 7):
 * the UTF-8 rewritten as RFC 2047 encoded words, addresses that have no
 * ASCII form as empty groups named after them, in the manner of RFC 6858.
 * Used for ENVELOPE, BODYSTRUCTURE strings and the header sections of FETCH.
 */
#ifndef HERALD_IMAP_DOWNGRADE_H
#define HERALD_IMAP_DOWNGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Whether s[0..len) holds an octet >= 0x80 and is valid UTF-8: text that
 * a legacy session gets downgraded. Other 8-bit text (raw Latin-1 from
 * before RFC 6532) is left as it is: it has no known charset to label. */
bool imap_downgrade_wanted(const char *s, size_t len);

/*
 * Appends s[0..len) with every run of words holding 8-bit octets replaced
 * by RFC 2047 encoded words ("=?UTF-8?B?...?=", each at most 75
 * characters, cut at character boundaries): a word ends at white space
 * and at the specials " ( ) < > , ; = so that a quoted parameter value
 * keeps its quotes and a comment its parentheses. Adjacent encoded words
 * are separated by sep (" ", or "\r\n " to fold a header line); white
 * space between two words of one run goes inside the encoding, since a
 * reader drops the white space between encoded words (RFC 2047 6.2). Text
 * that imap_downgrade_wanted() refuses is appended unchanged.
 */
void imap_downgrade_text(struct buf *out, const char *s, size_t len,
			 const char *sep);

/* Appends the whole of s[0..len) as encoded words (no word kept). */
void imap_downgrade_encode(struct buf *out, const char *s, size_t len,
			   const char *sep);

/*
 * Appends the header section hdr[0..len) with each field whose value
 * imap_downgrade_wanted() rewritten, every other octet as stored (line
 * breaks, the empty line, fields in ASCII or raw 8-bit): address fields
 * (From, Sender, Reply-To, To, Cc, Bcc, their Resent- forms and
 * Disposition-Notification-To) address by address, a display name in
 * UTF-8 as encoded words and an address whose local part or domain is
 * UTF-8 as the empty group "=?UTF-8?B?...?=:;" named after the original
 * (RFC 6858 3: it cannot be replied to, but is shown); an address field
 * that does not parse, and every other field, with imap_downgrade_text().
 * Output is at most 8 times len plus 64 octets (a short word between
 * specials, "\xc3\xa9,", grows the most).
 */
void imap_downgrade_header(struct buf *out, const uint8_t *hdr, size_t len);

#endif
