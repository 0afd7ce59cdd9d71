/* SPDX-License-Identifier: MIT */
/*
 * FETCH BODY and BODYSTRUCTURE (RFC 9051 7.5.2, RFC 3501 7.4.2) written
 * from a message's MIME tree (mail/mime.h), and BODY[section] resolved to
 * the byte range of the stored message that answers it (RFC 9051 6.4.5).
 * Neither reads message octets except through the ENVELOPE callback.
 */
#ifndef HERALD_IMAP_BODYSTRUCTURE_H
#define HERALD_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/mime.h"

/*
 * Writes the ENVELOPE of the message whose root part is msg (for a
 * message/rfc822 part, its child: the encapsulated message, whose header
 * is msg_data[msg->header_offset .. + msg->header_size)). msg_data is the
 * whole stored message, msg_size octets. Must append exactly one
 * RFC 9051 "envelope" to out.
 */
typedef void imap_envelope_cb_t(struct buf *out, const struct mime_part *msg,
				const uint8_t *msg_data, size_t msg_size,
				void *context);

struct imap_bodystructure_params {
	/* true: BODYSTRUCTURE, with all extension data (md5, disposition,
	 * language, location; for multiparts parameters, disposition,
	 * language, location). false: BODY, without. */
	bool extended;
	/* UTF8=ACCEPT is enabled (RFC 6855 3): quoted strings may carry
	 * UTF-8. Otherwise a string with an octet >= 0x80 goes out as a
	 * literal, which RFC 3501 allows for any 8-bit text. */
	bool utf8;
	/* Neither UTF8=ACCEPT nor IMAP4rev2 (and utf8 false): strings in
	 * UTF-8 (file names decoded from RFC 2231 or RFC 2047, descriptions
	 * of internationalized messages) go out as RFC 2047 encoded words
	 * (imap-downgrade.h), and message/global is a basic part, since
	 * RFC 3501's media-message is "MESSAGE" "RFC822" only (RFC 9755 6
	 * lets it be a message part once UTF8=ACCEPT is enabled). */
	bool downgrade;
	/* ENVELOPE of nested message/rfc822 and message/global parts. NULL
	 * writes an envelope of ten NILs (valid syntax, no data); FETCH
	 * passes imap_envelope_part_write (imap-envelope.h). */
	imap_envelope_cb_t *envelope;
	void *envelope_context;
};

/*
 * Appends BODY or BODYSTRUCTURE of the message (root, as mime_parse()
 * gave it for msg_data[0..msg_size)) to out: the parenthesised "body" of
 * the formal syntax, without the leading "BODYSTRUCTURE ".
 * Choices (docs/imap.md, "BODYSTRUCTURE and sections"):
 * - type, subtype, encoding, parameter names and the disposition type are
 *   upper case: mail/mime lower-cases them, so the spelling as sent is
 *   gone; upper case is how RFC 9051's grammar and examples spell them,
 *   and clients compare them case-insensitively. Values (charset, file
 *   names) are as the parser gave them.
 * - body-fld-lines is written for text/ parts and message/rfc822 and
 *   message/global parts (the latter in body-type-msg).
 * - a multipart without parts or a message part without its message
 *   (mail/mime only leaves these for malformed or opaque input) is
 *   written as "APPLICATION" "OCTET-STREAM", as the grammar has no form
 *   for either.
 * Recursion follows the tree, whose depth mime_limits.max_depth bounds.
 */
void imap_bodystructure_write(struct buf *out, const struct mime_part *root,
			      const uint8_t *msg_data, size_t msg_size,
			      const struct imap_bodystructure_params *params);

enum imap_section_kind {
	IMAP_SECTION_FULL,		/* [] or [n]: whole message or a part's body */
	IMAP_SECTION_HEADER,		/* [HEADER], [n.HEADER] */
	IMAP_SECTION_HEADER_FIELDS,	/* [HEADER.FIELDS (...)] */
	IMAP_SECTION_HEADER_FIELDS_NOT,	/* [HEADER.FIELDS.NOT (...)] */
	IMAP_SECTION_TEXT,		/* [TEXT], [n.TEXT] */
	IMAP_SECTION_MIME,		/* [n.MIME] */
};

struct imap_section {
	enum imap_section_kind kind;
	/* The part the numbers selected (the root for none). For HEADER,
	 * HEADER.FIELDS(.NOT) and TEXT after numbers, the message/rfc822
	 * or message/global part; the range is then its child's. */
	const struct mime_part *part;
	/* Octets of the stored message that answer BODY[section] (before
	 * <partial>). For HEADER.FIELDS(.NOT) the whole header range: the
	 * caller filters it. */
	uint64_t offset;
	uint64_t size;
	/* For HEADER.FIELDS(.NOT): what follows the keyword and one space
	 * (the "(FIELD ...)" list, unparsed), else NULL. Points into the
	 * section text. */
	const char *fields;
};

enum imap_section_result {
	IMAP_SECTION_OK,
	/* Not the section syntax: FETCH answers BAD. */
	IMAP_SECTION_BAD,
	/* Well formed, but the part does not exist in this message (a
	 * number past the last part, numbers below a leaf, HEADER or TEXT
	 * after a part that is not a message): the message may simply
	 * have no such part, so FETCH answers it (NIL) rather than BAD. */
	IMAP_SECTION_MISSING,
};

/*
 * Resolves section, the text between "[" and "]" of BODY[...] (no
 * brackets, "" for the whole message), against root. Section numbering
 * (RFC 9051 6.4.5): numbers select children of multiparts; a message
 * that is not multipart (the root, or the message inside a
 * message/rfc822 part) has exactly one part, 1, its body; after a
 * message/rfc822 part the next number counts the parts of the message
 * inside it. HEADER and TEXT refer to the message itself or, after
 * numbers, to the message inside the message/rfc822 part they select;
 * MIME (numbers required) to the selected part's own header. Keywords
 * are case-insensitive. On IMAP_SECTION_OK fills *section_r; otherwise
 * *error_r says why (static text).
 */
enum imap_section_result
imap_section_resolve(const struct mime_part *root, const char *section,
		     struct imap_section *section_r, const char **error_r);

#endif
