/* SPDX-License-Identifier: MIT */
/*
 * The preview of a message (IMAP PREVIEW, RFC 8970): a short plain-text
 * snippet taken from its first text/plain part, or its first text/html
 * part with the markup stripped, decoded to UTF-8 (mail/mime-text), with
 * white space collapsed and cut to MIME_PREVIEW_MAX_CHARS characters.
 */
#ifndef HERALD_MAIL_MIME_PREVIEW_H
#define HERALD_MAIL_MIME_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/mime-text.h"
#include "mail/mime.h"

/* RFC 8970 3.3: the preview is at most 256 characters. */
#define MIME_PREVIEW_MAX_CHARS 256
/* Decoded octets of the chosen part looked at: text past them never
 * reaches the preview unless the part starts with this much markup
 * (a long <style>) or white space, which bounds the work per message. */
#define MIME_PREVIEW_SCAN (64u * 1024)

/*
 * The part a preview comes from: the first text/plain leaf in tree order
 * (a part without Content-Type counts), else the first text/html leaf;
 * parts with Content-Disposition attachment and everything inside a
 * message/rfc822 or message/global part (a forwarded message is not the
 * message's own text) are skipped. NULL when there is none.
 */
const struct mime_part *mime_preview_part(const struct mime_part *root);

/*
 * Appends the preview made from text[0..len) (valid UTF-8, as
 * mail/mime-text writes it) to out: with html, tags, comments and the
 * content of <head>, <script> and <style> dropped, character references
 * (&amp; &#233; &#xE9; and the common named ones) decoded and block
 * elements read as white space; then every run of white space and control
 * characters made one space, the ends trimmed, and the result cut after
 * MIME_PREVIEW_MAX_CHARS code points. The output is valid UTF-8 with no
 * control characters; it may be empty.
 */
void mime_preview_from_text(const char *text, size_t len, bool html,
			    struct buf *out);

/* The preview of the message msg[0..len) whose tree root gives; out gets
 * nothing when the message has no text part or its text is empty. */
void mime_preview_extract(const uint8_t *msg, size_t len,
			  const struct mime_part *root, struct buf *out);

/* mime_preview_extract() for a message of size octets read through
 * read(ctx, ...) (at most MIME_PREVIEW_SCAN decoded octets of one part
 * and what their encoding needs). */
void mime_preview_extract_read(const struct mime_part *root, uint64_t size,
			       mime_text_read_cb_t *read, void *ctx,
			       struct buf *out);

#endif
