/* SPDX-License-Identifier: MIT */
/*
 * Mailbox names in modified UTF-7 (RFC 3501 5.1.3, RFC 9051 5.1.3 for
 * IMAP4rev1 clients) to and from UTF-8. Strict both ways, so that a name a
 * client created comes back byte for byte (CLIENT-QUIRKS "Modified UTF-7
 * round-trips exactly").
 */
#ifndef HERALD_IMAP_UTF7_H
#define HERALD_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/*
 * Appends the modified UTF-7 form of the UTF-8 name in[0..len) to out:
 * printable US-ASCII (0x20-0x7e) as itself, "&" as "&-", every run of
 * other characters as one "&" base64(UTF-16BE) "-" shift (surrogate pairs
 * above U+FFFF, zero padding bits). Returns 0, or -1 with a static
 * *error_r (out then unchanged) for invalid UTF-8 or a control character
 * (U+0000-U+001F, U+007F-U+009F), which no mailbox name may hold here.
 */
int imap_utf8_to_utf7(const char *in, size_t len, struct buf *out,
		      const char **error_r);

/*
 * Appends the UTF-8 form of the modified UTF-7 name in[0..len) to out.
 * Refuses (returns -1 with a static *error_r, out unchanged) whatever
 * imap_utf8_to_utf7() would not have produced, so decoding then encoding
 * gives the input back: octets outside 0x20-0x7e, an "&" shift without
 * its "-", a shift holding printable US-ASCII, an empty shift other than
 * "&-", two shifts back to back, padding bits that are not zero or a
 * whole unneeded base64 character, a lone or reversed surrogate, control
 * characters, and the "/" and "=" of plain base64.
 */
int imap_utf7_to_utf8(const char *in, size_t len, struct buf *out,
		      const char **error_r);

/* Whether the name needs no conversion: printable US-ASCII without "&". */
bool imap_utf7_is_plain(const char *in, size_t len);

#endif
