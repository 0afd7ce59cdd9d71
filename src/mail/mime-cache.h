/* SPDX-License-Identifier: MIT */
/*
 * The MIME structure of a stored message in a compact, versioned binary
 * form: the part tree of mail/mime.h plus the header fields ENVELOPE
 * reads, computed once when the message is stored so that IMAP FETCH
 * never parses the message again (docs/store.md "MIME structure cache").
 * Reading it back checks every count, offset and string.
 */
#ifndef HERALD_MAIL_MIME_CACHE_H
#define HERALD_MAIL_MIME_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/mime.h"

/* The format's version, the 4th octet of every record. Bump it when the
 * encoding changes or when mail/mime parses some message differently
 * (a fix): a record of another version does not read, and the store
 * parses the message again and replaces it. */
#define MIME_CACHE_VERSION 2	/* 2: References kept (IMAP THREAD) */

/* Octets of each message header (the message's own, and that of every
 * message inside a message/rfc822 part) read for the ENVELOPE fields;
 * fields past it are not seen. A header this long is a malformed or
 * hostile one; the cap bounds the memory of writing a record. */
#define MIME_CACHE_ENVELOPE_HEADER_MAX (256u * 1024)

/*
 * Reads octets msg[offset .. offset + len) of the message into out
 * (appending). Returns 0, or -1 when it cannot (the record is then not
 * written).
 */
typedef int mime_cache_read_cb_t(void *ctx, uint64_t offset, size_t len,
				 struct buf *out);

/*
 * Appends the record for the tree root (mime_parse() of a message of
 * msg_size octets) to out. For the message and each message inside a
 * message/rfc822 or message/global part, the first Date, Subject, From,
 * Sender, Reply-To, To, Cc, Bcc, In-Reply-To, Message-ID and References
 * field of its
 * header (within MIME_CACHE_ENVELOPE_HEADER_MAX octets) are kept, read
 * through read(ctx, ...). Returns 0, or -1 when read failed (out is then
 * as it was).
 */
int mime_cache_write(struct buf *out, const struct mime_part *root,
		     uint64_t msg_size, mime_cache_read_cb_t *read, void *ctx);

/* mime_cache_write() for a message held in memory. */
void mime_cache_write_mem(struct buf *out, const struct mime_part *root,
			  const uint8_t *msg, size_t msg_size);

/* A record read back: a tree with the members of mail/mime.h, in one
 * array (parts[0] is the root, parts in pre-order). */
struct mime_cache {
	struct mime_part *root;
	size_t part_count;
	uint64_t msg_size;
	/* internal */
	struct mime_part *parts;
	struct mime_param *params;
	char **languages;
	char *text;
	/* per part: the ENVELOPE header, or NULL */
	const char **env;
	size_t *env_len;
};

/*
 * Reads a record. msg_size is the size of the stored message it must
 * describe. Everything is checked, never trusted: the version, every
 * count against the octets left, the tree's shape (a part that is not a
 * multipart has no children, a message part at most one), every range
 * inside the message and inside its parent's body, strings without NUL.
 * Memory is bounded by a small multiple of len. Returns 0 with *cache_r
 * (mime_cache_free), or -1 with a static *error_r: the caller parses the
 * message again.
 */
int mime_cache_read(const uint8_t *data, size_t len, uint64_t msg_size,
		    struct mime_cache **cache_r, const char **error_r);
void mime_cache_free(struct mime_cache **cache);

/*
 * The header that ENVELOPE reads for part (the root, or the child of a
 * message/rfc822 part): a header section made of the fields kept, each
 * "Name:value" CRLF, then CRLF; imap_envelope_write() gives the same
 * ENVELOPE from it as from the message's own header (within the cap).
 * NULL (and *len_r 0) for other parts.
 */
const char *mime_cache_envelope(const struct mime_cache *cache,
				const struct mime_part *part, size_t *len_r);

#endif
