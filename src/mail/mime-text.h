/* SPDX-License-Identifier: MIT */
/*
 * The searchable text of a message (IMAP SEARCH TEXT, BODY and the header
 * keys; the store's full-text index): header fields with RFC 2047 encoded
 * words decoded, and the body's parts with their transfer encoding undone
 * and their charset converted to UTF-8, in bounded memory and output.
 */
#ifndef HERALD_MAIL_MIME_TEXT_H
#define HERALD_MAIL_MIME_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/mime.h"

/* Default of the output cap: header and body text together. */
#define MIME_TEXT_DEFAULT_MAX (1024u * 1024u)

/*
 * Appends the text of the message msg[0..len), whose tree root gives
 * (mime_parse of the same octets), to hdr and body. Both get valid UTF-8
 * with no NUL:
 * - hdr: the message's header fields, one "Name: value\n" line each in
 *   message order, the value unfolded (line breaks removed, white space
 *   kept), encoded words decoded (an undecodable one stays as written),
 *   CR, LF and NUL in decoded text turned into spaces.
 * - body: each leaf part's content, in tree order, each followed by
 *   "\n": base64 and quoted-printable undone; text/ parts (and parts with
 *   the default type) converted from their charset with iconv. A nested
 *   message (message/rfc822, message/global) contributes its header
 *   fields as hdr does, then its parts. A leaf that is not text/ is kept
 *   only when its decoded content is UTF-8 text (no NUL or other control
 *   but tab, CR, LF, FF), so attachments in binary formats are skipped.
 *   Octets that are not in the charset, text in an unknown charset, and
 *   invalid UTF-8 in UTF-8 or US-ASCII text each become U+FFFD; nothing
 *   else is changed (HTML keeps its tags).
 * Stops once hdr and body together would pass max octets (cut on a
 * character boundary) and returns false; true when all the text is in.
 * Memory besides the output stays under about 2 * max for UTF-8 and
 * US-ASCII text, 5 * max for other charsets.
 */
bool mime_text_extract(const uint8_t *msg, size_t len,
		       const struct mime_part *root, size_t max,
		       struct buf *hdr, struct buf *body);

/* Reads octets msg[offset .. offset + len) of the message into out
 * (appending); 0, or -1 when it cannot (the text then ends there, as if
 * cut). The shape of mail/mime-cache.h's reader. */
typedef int mime_text_read_cb_t(void *ctx, uint64_t offset, size_t len,
				struct buf *out);

/* mime_text_extract() for a message of size octets that is not in
 * memory (a blob file): read(ctx, ...) is asked for at most 64 KiB at a
 * time, and only for what the text needs (each leaf's first octets up to
 * the cap, the header sections), so memory stays bounded by the cap
 * whatever the message's size. */
bool mime_text_extract_read(const struct mime_part *root, uint64_t size,
			    mime_text_read_cb_t *read, void *ctx, size_t max,
			    struct buf *hdr, struct buf *body);

/* The header-field part only: appends the fields of the header section
 * h[0..len) to out as mime_text_extract() writes hdr, at most max
 * octets in all (false when cut). */
bool mime_text_header(const uint8_t *h, size_t len, size_t max,
		      struct buf *out);

/*
 * The text of one leaf part (PREVIEW, RFC 8970): its content as
 * mime_text_extract() writes it into body, followed by "\n", at most max
 * octets (false when cut). The part must be a leaf of a tree parsed from
 * the message msg[0..len).
 */
bool mime_text_part(const uint8_t *msg, size_t len,
		    const struct mime_part *part, size_t max,
		    struct buf *out);

/* mime_text_part() for a message of size octets read through read(ctx,
 * ...), only the part's first octets up to the cap. */
bool mime_text_part_read(const struct mime_part *part, uint64_t size,
			 mime_text_read_cb_t *read, void *ctx, size_t max,
			 struct buf *out);

#endif
