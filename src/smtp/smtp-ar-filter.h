/* SPDX-License-Identifier: MIT */
/*
 * The header filter of inbound mail: drops every Authentication-Results
 * field that claims our authserv-id (RFC 8601 5) from a message as it
 * streams in, everything else passes through unchanged. I/O free, fed in
 * pieces of any size (smtp-authin.c; fuzz-smtp-ar-filter.c).
 */
#ifndef HERALD_SMTP_AR_FILTER_H
#define HERALD_SMTP_AR_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* An Authentication-Results field is buffered to read its authserv-id;
 * past this many octets it is decided on what was read. */
#define SMTP_AR_FIELD_MAX 65536
/* A field name longer than this is not Authentication-Results. */
#define SMTP_AR_NAME_MAX 998

typedef void smtp_ar_out_fn(const uint8_t *data, size_t len, void *ctx);

struct smtp_ar_filter {
	int mode;		/* smtp-ar-filter.c's enum */
	bool line_start;
	size_t name_len;	/* octets of the field name read so far */
	/* the field being read, when buffered (no storage until then) */
	struct buf field;
	const char *id;		/* our authserv-id (not copied) */
	smtp_ar_out_fn *out;
	void *ctx;
	unsigned removed;	/* fields dropped so far */
};

/* A filter for one message; what passes goes to out(data, len, ctx). */
void smtp_ar_filter_init(struct smtp_ar_filter *f, const char *id,
			 smtp_ar_out_fn *out, void *ctx);
void smtp_ar_filter_feed(struct smtp_ar_filter *f, const uint8_t *data,
			 size_t len);
/* The end of the message (one that is all header flushes its last
 * field here). */
void smtp_ar_filter_finish(struct smtp_ar_filter *f);
/* Whether the filter is past the header (every octet passes). */
bool smtp_ar_filter_in_body(const struct smtp_ar_filter *f);
void smtp_ar_filter_deinit(struct smtp_ar_filter *f);

/* Whether an Authentication-Results field body (after the colon) names
 * id as its authserv-id (RFC 8601 2.2), read as a mail client reads it:
 * after CFWS (comments nested, folding), a token or a quoted-string
 * (unescaped), compared case-insensitively, and followed by CFWS, ";" or
 * the end of the field. */
bool smtp_ar_claims(const char *p, size_t len, const char *id);

#endif
