/* SPDX-License-Identifier: MIT */
/*
 * FETCH ENVELOPE (RFC 9051 7.5.2, RFC 3501 7.4.2): the envelope structure
 * built from a message's header section, written with the response
 * string primitives of imap-write.h.
 */
#ifndef HERALD_IMAP_ENVELOPE_H
#define HERALD_IMAP_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct header_address_limits;
struct mime_part;

/*
 * Appends "(date subject from sender reply-to to cc bcc in-reply-to
 * message-id)" for the message (or header section) msg[0..len) to out.
 * The first field of each name counts; values are raw (RFC 2047 encoded
 * words stay encoded), unfolded (CR and LF dropped) and trimmed of
 * surrounding white space; an absent field is NIL. Address fields are
 * lists of (name adl mailbox host), groups as (NIL NIL "group" NIL) ...
 * (NIL NIL NIL NIL); a field without addresses, or one that does not
 * parse as an address list within limits, is NIL. Sender and Reply-To
 * default to From when they are NIL. An address without a domain gets
 * host "MISSING_DOMAIN" (NIL host would mean a group). flags are
 * imap_write_flags (IMAP_WRITE_UTF8 when the session enabled UTF8=ACCEPT;
 * IMAP_WRITE_DOWNGRADE for one that did not: UTF-8 text as encoded words,
 * an address with a UTF-8 local part or domain as an empty group named
 * with the encoded "name <address>", RFC 6858 3).
 * limits bound each address field (NULL: header_address_limits_default);
 * the header walk itself is linear in len.
 */
void imap_envelope_write(struct buf *out, const char *msg, size_t len,
			 const struct header_address_limits *limits,
			 unsigned int flags);

/*
 * imap_envelope_write() for the message whose root part is msg, header at
 * msg_data[msg->header_offset .. + msg->header_size), default limits:
 * an imap_envelope_cb_t for imap-bodystructure (nested message/rfc822).
 * context points to the unsigned int imap_write_flags, or is NULL (0).
 * A header range outside msg_data gives ten NILs.
 */
void imap_envelope_part_write(struct buf *out, const struct mime_part *msg,
			      const uint8_t *msg_data, size_t msg_size,
			      void *context);

#endif
