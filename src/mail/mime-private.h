/* SPDX-License-Identifier: MIT */
/*
 * Shared inside mail/mime: the parser (mime.c) hands each part's header
 * section to the Content-* field reader (mime-header.c).
 */
#ifndef HERALD_MAIL_MIME_PRIVATE_H
#define HERALD_MAIL_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/mime.h"

/* Fills part's Content-* members from its header section hdr[0..len),
 * with the RFC 2045/2046 defaults (in_digest: the parent is
 * multipart/digest). Sets type and subtype always. */
void mime_header_read(struct mime_part *part, const char *hdr, size_t len,
		      bool in_digest);

/* Replaces part's type with text/plain; charset=us-ascii. */
void mime_header_set_text_plain(struct mime_part *part);

/* Frees what mime_header_read() allocated in part. */
void mime_header_free(struct mime_part *part);

#endif
