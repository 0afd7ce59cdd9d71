/* SPDX-License-Identifier: MIT */
/*
 * The MIME structure of a message (RFC 2045, 2046, 2231): a streaming
 * parser that reads a whole RFC 5322 message in slices, in one pass, and
 * gives the tree of its parts with exact octet offsets and line counts,
 * so that IMAP can serve BODYSTRUCTURE and BODY[section]<partial> from
 * offsets into the stored message without parsing it again.
 */
#ifndef HERALD_MAIL_MIME_H
#define HERALD_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * How octets are read (the store keeps a message as received, so BODY[]
 * and RFC822.SIZE are its octets; these rules only decide where parts
 * begin and end, never change an octet):
 * - A line ends at LF; a CR just before it belongs to the line break. A
 *   bare CR is an ordinary octet: it neither ends a line for the line
 *   count nor starts one for a boundary (a delimiter must follow LF or
 *   start the multipart body). So CRLF and bare-LF messages give the
 *   same structure and the same line counts.
 * - The header section ends at an empty line: LF or CRLF right after
 *   another line break (a lone CR counts as one here, as in
 *   mail/header-field.h, which reads the fields) or at the start of the
 *   part. The header's size includes that empty line; the body starts
 *   after it.
 * - body_lines is the number of LFs in the body, plus one when the body
 *   is not empty and does not end with LF (the last line of a part
 *   before its delimiter, whose CRLF belongs to the delimiter, RFC 2046
 *   5.1.1). It is set for every part; IMAP shows it for text/ and
 *   message/rfc822 parts.
 */

/* Defaults of struct mime_limits. */
#define MIME_DEFAULT_MAX_DEPTH 100
#define MIME_DEFAULT_MAX_PARTS 10000
#define MIME_DEFAULT_MAX_HEADER_SIZE (64u * 1024)
#define MIME_DEFAULT_MAX_BOUNDARY_LEN 200

struct mime_limits {
	/* Deepest part looked into: the message is depth 0, its parts 1,
	 * the parts of a message/rfc822 part inside one 3... A multipart
	 * or message/rfc822 part at this depth is an opaque leaf
	 * (MIME_PART_FLAG_OPAQUE). Memory of the parse and time per line
	 * both grow with it (each line that starts with "--" is compared
	 * with every open boundary). */
	unsigned int max_depth;
	/* Most parts in the tree, the message included. When a delimiter
	 * would start one more, no boundary is looked for any more: the
	 * rest of the message is in that multipart's body after its last
	 * part, like an epilogue (MIME_PART_FLAG_OPAQUE on it). */
	unsigned int max_parts;
	/* Octets of each part's header section read for its Content-*
	 * fields; past it the header's size is still exact but later
	 * fields are not read (MIME_PART_FLAG_HEADER_TRUNCATED). */
	size_t max_header_size;
	/* Longest boundary parameter honoured (RFC 2046 allows 70; longer
	 * ones are common enough to accept). A multipart with a longer one
	 * is read as text/plain (MIME_PART_FLAG_MULTIPART_BROKEN). */
	size_t max_boundary_len;
};

/* 100 deep, 10,000 parts, 64 KiB of header per part, 200-octet
 * boundaries. */
void mime_limits_default(struct mime_limits *limits_r);

/* A parameter of Content-Type or Content-Disposition, RFC 2231
 * continuations joined and decoded. */
struct mime_param {
	/* lower case, without the RFC 2231 "*" and "*N" suffixes */
	char *name;
	/* The value: quotes and quoted-pairs removed; RFC 2231 %XX decoded
	 * and converted from its charset to UTF-8 (when that charset is
	 * unknown or the octets are not in it, '%' and octets >= 0x80
	 * stay %XX, so the value is ASCII); RFC
	 * 2047 encoded words, which clients put in quoted file names,
	 * decoded to UTF-8. */
	char *value;
	/* RFC 2231 charset and language as written, or NULL. */
	char *charset;
	char *language;
};

enum mime_part_flags {
	/* No Content-Type, or one that does not parse: the RFC 2045 5.2
	 * default text/plain; charset=us-ascii, or message/rfc822 inside
	 * multipart/digest (RFC 2046 5.1.5). */
	MIME_PART_FLAG_TYPE_DEFAULT = 1 << 0,
	/* The header section has no empty line: it runs to the part's end
	 * and the body is empty. */
	MIME_PART_FLAG_HEADER_UNTERMINATED = 1 << 1,
	/* The header is longer than max_header_size. */
	MIME_PART_FLAG_HEADER_TRUNCATED = 1 << 2,
	/* A multipart whose close-delimiter never came: its last part ends
	 * where the multipart ends (the parent's delimiter or the end). */
	MIME_PART_FLAG_MULTIPART_UNCLOSED = 1 << 3,
	/* Content-Type multipart/ without a usable boundary, or with no
	 * delimiter in its body: a part with no parts cannot be shown, so
	 * it is read as the leaf text/plain; charset=us-ascii (type,
	 * subtype and params replaced, the way readers show it). */
	MIME_PART_FLAG_MULTIPART_BROKEN = 1 << 4,
	/* Not looked into: a limit (max_depth, max_parts) was reached, or a
	 * message/rfc822 part has a base64 or quoted-printable encoding. */
	MIME_PART_FLAG_OPAQUE = 1 << 5,
};

struct mime_part {
	struct mime_part *parent;
	/* First child and next sibling. A multipart has one child per
	 * body part (at least one); a message/rfc822 or message/global
	 * part has one, the encapsulated message (its header section is
	 * the one ENVELOPE reads), unless opaque or its header never ended;
	 * other parts have none. */
	struct mime_part *children;
	struct mime_part *next;
	unsigned int child_count;
	unsigned int depth;		/* the message is 0 */

	/* Octets from the start of the message. header_offset +
	 * header_size == body_offset. For IMAP: BODY[n.MIME] (and
	 * BODY[n.HEADER] of the child of a message/rfc822 part) is the
	 * header range, BODY[n.TEXT] and BODY[n] the body range. */
	uint64_t header_offset;
	uint64_t header_size;
	uint64_t body_offset;
	uint64_t body_size;
	uint64_t body_lines;

	/* Content-Type, lower case; never NULL. */
	char *type;
	char *subtype;
	struct mime_param *params;
	unsigned int param_count;
	/* Content-Transfer-Encoding, lower case, or NULL (7bit). */
	char *encoding;
	/* Content-ID, Content-Description, Content-Location and
	 * Content-MD5 as written, line breaks removed and the ends
	 * trimmed (encoded words are not decoded: IMAP sends them as they
	 * are), or NULL. */
	char *id;
	char *description;
	char *location;
	char *md5;
	/* Content-Disposition's type, lower case, or NULL. */
	char *disposition;
	struct mime_param *disposition_params;
	unsigned int disposition_param_count;
	/* Content-Language's tags as written, or NULL and 0. */
	char **languages;
	unsigned int language_count;

	unsigned int flags;		/* enum mime_part_flags */
};

struct mime_parser;

/* A parser for one message; limits is copied (NULL: the defaults). */
struct mime_parser *mime_parser_new(const struct mime_limits *limits);

/* Reads data[0..len), the next octets of the message, in any slices.
 * Always takes all of it and returns len (the signature fits
 * tests/unit/feed-split.h). Memory stays bounded by the number of parts
 * and max_header_size, never by the message's size; time is linear in
 * len (times the open boundaries for a line that starts with "--"). */
size_t mime_parser_feed(struct mime_parser *parser, const void *data,
			size_t len);

/* Ends the message: the parts still open end here. Returns the tree's
 * root (the message itself, depth 0), which the caller owns and frees
 * with mime_part_free(); frees the parser and NULLs *parser. Never fails:
 * any input, the empty one included, gives a tree. */
struct mime_part *mime_parser_finish(struct mime_parser **parser);

/* Parses a message held in memory: new, one feed, finish. */
struct mime_part *mime_parse(const void *msg, size_t len,
			     const struct mime_limits *limits);

/* Frees a tree (from its root) and NULLs *root. */
void mime_part_free(struct mime_part **root);

/* The value of the Content-Type parameter name (case-insensitive) or
 * NULL. */
const char *mime_part_param(const struct mime_part *part, const char *name);

/* Whether the part's type is type/subtype (case-insensitive); subtype
 * NULL matches any subtype. */
bool mime_part_is(const struct mime_part *part, const char *type,
		  const char *subtype);

#endif
