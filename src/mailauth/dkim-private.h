/* SPDX-License-Identifier: MIT */
/*
 * Inside the DKIM module: the message reader the signer and the verifier
 * share. It keeps the header (split into fields, bare LF read as CRLF) and
 * hands the body on, in pieces, to a callback.
 */
#ifndef HERALD_MAILAUTH_DKIM_PRIVATE_H
#define HERALD_MAILAUTH_DKIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

typedef void dkim_msg_body_cb_t(const uint8_t *data, size_t len, void *ctx);
typedef void dkim_msg_header_cb_t(void *ctx);

/* One header field inside struct dkim_msg's header: header.data[start ..
 * start + len) is "Name: value" with its folding, without the last CRLF. */
struct dkim_field {
	size_t start, len;
	size_t name_len;	/* 0: a line with no colon (never matches) */
	bool used;		/* taken by the current h= selection */
};

struct dkim_msg {
	size_t header_max;
	struct buf header;
	struct dkim_field *fields;
	size_t n_fields;
	bool header_done;
	bool header_too_big;
	bool cr;		/* the last octet seen was a CR */
	bool line_empty;	/* nothing on the current header line yet */
	dkim_msg_header_cb_t *on_header;
	dkim_msg_body_cb_t *on_body;
	void *ctx;
};

void dkim_msg_init(struct dkim_msg *m, size_t header_max,
		   dkim_msg_header_cb_t *on_header, dkim_msg_body_cb_t *on_body,
		   void *ctx);
void dkim_msg_deinit(struct dkim_msg *m);
void dkim_msg_feed(struct dkim_msg *m, const uint8_t *data, size_t len);
/* The end: a message without an empty line is all header. */
void dkim_msg_finish(struct dkim_msg *m);
/* Does field f have this name (case-insensitive)? */
bool dkim_msg_field_is(const struct dkim_msg *m, const struct dkim_field *f,
		       const char *name);
/* The value (after the colon) of field f. */
const char *dkim_msg_field_value(const struct dkim_msg *m,
				 const struct dkim_field *f, size_t *len_r);
/* Appends the header hash input of h= names (RFC 6376 5.4.2: for a name
 * listed n times, the last n instances bottom up; a name with no instance
 * left adds nothing), each canonicalized and ending in CRLF. */
void dkim_msg_hash_headers(struct dkim_msg *m, char *const *names,
			   size_t n_names, int canon, struct buf *out);

#endif
