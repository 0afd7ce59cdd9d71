/* SPDX-License-Identifier: MIT */
/*
 * The MIME structure parser: one pass over a message's octets, line by
 * line, with only the start of a line that may be a delimiter and the
 * current part's header section kept. Boundaries per RFC 2046 5.1.1;
 * the rules for line breaks and counts are in mime.h.
 */
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime-private.h"

enum mp_stage {
	MP_HEADER,	/* in the header section */
	MP_BODY,	/* in the body (a multipart's preamble, parts, epilogue) */
};

/* What the parser keeps per part beside the public members; pub comes
 * first so that a struct mime_part * is one of these. */
struct mp_part {
	struct mime_part pub;
	struct mime_part *last_child;
	enum mp_stage stage;
	/* a multipart's boundary, while delimiters are looked for */
	char *boundary;
	size_t boundary_len;
	bool active;
	bool closed;
	uint64_t header_lfs;	/* LFs in the message before header_offset */
	uint64_t body_lfs;	/* LFs in the message before body_offset */
};

enum mp_line {
	MP_LINE_PREFIX,	/* collecting the line's start to compare */
	MP_LINE_PAD,	/* a delimiter so far: only padding may follow */
	MP_LINE_SKIP,	/* no delimiter: on to the next LF */
};

struct mime_parser {
	struct mime_limits limits;
	struct mp_part *root;
	struct mp_part *cur;	/* the innermost open part */
	unsigned int parts;
	unsigned int active;	/* boundaries looked for */

	uint64_t pos;		/* offset of the next octet */
	uint64_t lfs;		/* LFs before pos */
	unsigned char last1;	/* the octets at pos - 1 and pos - 2 */
	unsigned char last2;

	/* The current line, and the line break before it, where a part
	 * ends when this line is its delimiter (RFC 2046 5.1.1: the CRLF
	 * belongs to the delimiter). */
	bool line_begun;
	enum mp_line line;
	uint64_t brk;
	uint64_t brk_lfs;	/* LFs before brk */
	unsigned char brk_prev;	/* the octet at brk - 1 */
	unsigned char *prefix;
	size_t prefix_len;
	size_t prefix_cap;	/* "--" boundary "--" */
	struct mp_part *cand;	/* whose delimiter this line is, so far */
	bool cand_close;

	struct buf hdr;		/* the current header, up to the limit */
};

void
mime_limits_default(struct mime_limits *limits_r)
{
	limits_r->max_depth = MIME_DEFAULT_MAX_DEPTH;
	limits_r->max_parts = MIME_DEFAULT_MAX_PARTS;
	limits_r->max_header_size = MIME_DEFAULT_MAX_HEADER_SIZE;
	limits_r->max_boundary_len = MIME_DEFAULT_MAX_BOUNDARY_LEN;
}

static struct mp_part *
mp_part_new(struct mime_parser *p, struct mp_part *parent, uint64_t offset)
{
	struct mp_part *part = xcalloc(1, sizeof(*part));

	part->stage = MP_HEADER;
	part->pub.header_offset = offset;
	part->pub.body_offset = offset;
	part->header_lfs = p->lfs;
	if (parent != NULL) {
		part->pub.parent = &parent->pub;
		part->pub.depth = parent->pub.depth + 1;
		if (parent->last_child == NULL)
			parent->pub.children = &part->pub;
		else
			parent->last_child->next = &part->pub;
		parent->last_child = &part->pub;
		parent->pub.child_count++;
	}
	p->parts++;
	p->cur = part;
	buf_reset(&p->hdr);
	return part;
}

struct mime_parser *
mime_parser_new(const struct mime_limits *limits)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));

	if (limits != NULL)
		p->limits = *limits;
	else
		mime_limits_default(&p->limits);
	if (p->limits.max_parts == 0)
		p->limits.max_parts = 1;
	/* UNSAFE: max_boundary_len is a configured size far below
	 * SIZE_MAX - 4 */
	p->prefix_cap = p->limits.max_boundary_len + 4;
	p->prefix = xmalloc(p->prefix_cap);
	buf_init(&p->hdr);
	p->root = mp_part_new(p, NULL, 0);
	return p;
}

static struct mp_part *
mp_parent(struct mp_part *part)
{
	return (struct mp_part *)part->pub.parent;
}

/* What a reader shows for a part it does not look into (Dovecot's
 * choice too): opaque octets. */
static void
mp_set_opaque(struct mp_part *part)
{
	struct mime_part *pub = &part->pub;

	mime_header_set_text_plain(pub);
	free(pub->type);
	free(pub->subtype);
	pub->type = xstrdup("application");
	pub->subtype = xstrdup("octet-stream");
	/* the charset that set_text_plain left */
	free(pub->params[0].name);
	free(pub->params[0].value);
	xfree(&pub->params);
	pub->param_count = 0;
	pub->flags |= MIME_PART_FLAG_OPAQUE;
}

static void
mp_set_broken(struct mp_part *part)
{
	mime_header_set_text_plain(&part->pub);
	part->pub.flags |= MIME_PART_FLAG_MULTIPART_BROKEN;
}

static void
mp_deactivate(struct mime_parser *p, struct mp_part *part)
{
	if (part->active) {
		part->active = false;
		p->active--;
	}
}

/* Reads the Content-* fields of p->cur, whose header is size octets. */
static void
mp_read_header(struct mime_parser *p, struct mp_part *part, uint64_t size)
{
	struct mp_part *parent = mp_parent(part);
	bool in_digest = parent != NULL &&
		mime_part_is(&parent->pub, "multipart", "digest");

	if (p->hdr.len > size)
		buf_truncate(&p->hdr, (size_t)size);
	mime_header_read(&part->pub, p->hdr.data, p->hdr.len, in_digest);
	buf_reset(&p->hdr);
	part->stage = MP_BODY;
}

static bool
mp_is_message(const struct mime_part *pub)
{
	return mime_part_is(pub, "message", "rfc822") ||
	       mime_part_is(pub, "message", "global");
}

/* The empty line after p->cur's header has been read: the body starts at
 * p->pos, and a multipart's boundary or a message's own header is
 * looked for from there. */
static void
mp_header_end(struct mime_parser *p)
{
	struct mp_part *part = p->cur;
	struct mime_part *pub = &part->pub;

	pub->body_offset = p->pos;
	pub->header_size = p->pos - pub->header_offset;
	part->body_lfs = p->lfs;
	mp_read_header(p, part, pub->header_size);
	if (strcmp(pub->type, "multipart") == 0) {
		const char *b = mime_part_param(pub, "boundary");

		if (b == NULL || *b == '\0' ||
		    strlen(b) > p->limits.max_boundary_len) {
			mp_set_broken(part);
		} else if (pub->depth >= p->limits.max_depth) {
			mp_set_opaque(part);
		} else {
			part->boundary = xstrdup(b);
			part->boundary_len = strlen(b);
			part->active = true;
			p->active++;
		}
	} else if (mp_is_message(pub)) {
		/* RFC 2046 5.2.1: only 7bit, 8bit or binary; an encoded
		 * message is octets to decode first, not a structure */
		if ((pub->encoding != NULL &&
		     (strcmp(pub->encoding, "base64") == 0 ||
		      strcmp(pub->encoding, "quoted-printable") == 0)) ||
		    pub->depth >= p->limits.max_depth ||
		    p->parts >= p->limits.max_parts)
			mp_set_opaque(part);
		else
			mp_part_new(p, part, p->pos);
	}
}

/* Ends p->cur at end (the octet after its last; LFs before it end_lfs,
 * the octet before it end_prev) and makes its parent the current part. */
static void
mp_end_part(struct mime_parser *p, uint64_t end, uint64_t end_lfs,
	    unsigned char end_prev)
{
	struct mp_part *part = p->cur;
	struct mime_part *pub = &part->pub;

	if (part->stage == MP_HEADER) {
		uint64_t e = end > pub->header_offset ? end :
			pub->header_offset;

		pub->header_size = e - pub->header_offset;
		pub->body_offset = e;
		pub->flags |= MIME_PART_FLAG_HEADER_UNTERMINATED;
		mp_read_header(p, part, pub->header_size);
		/* no body to hold its parts or message */
		if (strcmp(pub->type, "multipart") == 0)
			mp_set_broken(part);
	} else if (end > pub->body_offset) {
		pub->body_size = end - pub->body_offset;
		pub->body_lines = end_lfs - part->body_lfs +
			(end_prev != '\n' ? 1 : 0);
	}
	mp_deactivate(p, part);
	if (part->boundary != NULL) {
		if (pub->child_count == 0)
			mp_set_broken(part);
		else if (!part->closed)
			pub->flags |= MIME_PART_FLAG_MULTIPART_UNCLOSED;
	}
	p->cur = mp_parent(part);
}

/* The current line is a delimiter of p->cand: the parts inside it end at
 * the line break before the line, and the next part starts after the
 * line (at_eof: there is none). */
static void
mp_delimiter(struct mime_parser *p, bool at_eof)
{
	struct mp_part *m = p->cand, *cur = p->cur;
	bool close = p->cand_close;
	uint64_t end = p->brk, end_lfs = p->brk_lfs;
	unsigned char end_prev = p->brk_prev;

	p->cand = NULL;
	/* The line break before the delimiter may be the one that ended
	 * the innermost part's header or delimiter line ("\r\n\r\n--b"):
	 * then that part is empty and the ones around it end with it, so
	 * that no part reaches past its parent. */
	if (cur->stage == MP_HEADER && cur->pub.header_offset > end) {
		end = cur->pub.header_offset;
		end_lfs = cur->header_lfs;
		end_prev = '\n';
	} else if (cur->stage == MP_BODY && cur->pub.body_offset > end) {
		end = cur->pub.body_offset;
		end_lfs = cur->body_lfs;
		end_prev = '\n';
	}
	while (p->cur != m)
		mp_end_part(p, end, end_lfs, end_prev);
	if (close || at_eof) {
		m->closed = close;
		mp_deactivate(p, m);
		return;
	}
	if (p->parts >= p->limits.max_parts) {
		/* the rest is the open part's, unparsed */
		m->pub.flags |= MIME_PART_FLAG_OPAQUE;
		for (struct mp_part *a = m; a != NULL; a = mp_parent(a))
			mp_deactivate(p, a);
		return;
	}
	mp_part_new(p, m, p->pos);
}

static bool
mp_is_padding(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Compares the line's start with each open boundary, innermost first
 * (an inner boundary may be a prefix of an outer one: "--ab" then
 * "--abc" is the outer's, since only padding may follow a boundary).
 * line_done: the whole line is in prefix. */
static void
mp_prefix_check(struct mime_parser *p, bool line_done)
{
	const unsigned char *pre = p->prefix;

	p->cand = NULL;
	for (struct mp_part *m = p->cur; m != NULL; m = mp_parent(m)) {
		size_t bl = m->boundary_len, rl;
		const unsigned char *rest;
		bool pad = true;

		if (!m->active || p->prefix_len < 2 + bl ||
		    memcmp(pre + 2, m->boundary, bl) != 0)
			continue;
		rest = pre + 2 + bl;
		rl = p->prefix_len - 2 - bl;
		/* RFC 2046: anything may follow a close-delimiter's "--"
		 * on its line (readers ignore it) */
		if (rl >= 2 && rest[0] == '-' && rest[1] == '-') {
			p->cand = m;
			p->cand_close = true;
			break;
		}
		for (size_t i = 0; i < rl; i++)
			if (!mp_is_padding(rest[i]))
				pad = false;
		if (pad) {
			p->cand = m;
			p->cand_close = false;
			break;
		}
	}
	p->line = p->cand != NULL && !p->cand_close && !line_done ?
		MP_LINE_PAD : MP_LINE_SKIP;
}

/* Octets that are not LF, as they pass. */
static void
mp_octets(struct mime_parser *p, const unsigned char *s, size_t n)
{
	if (n == 0)
		return;
	if (p->cur->stage == MP_HEADER) {
		size_t room = p->limits.max_header_size > p->hdr.len ?
			p->limits.max_header_size - p->hdr.len : 0;

		if (n > room)
			p->cur->pub.flags |= MIME_PART_FLAG_HEADER_TRUNCATED;
		buf_append(&p->hdr, s, n < room ? n : room);
	}
	p->pos += n;
	p->last2 = n >= 2 ? s[n - 2] : p->last1;
	p->last1 = s[n - 1];
}

/* The LF that ends the current line. */
static void
mp_lf(struct mime_parser *p)
{
	bool cr = p->pos > 0 && p->last1 == '\r';
	uint64_t brk = cr ? p->pos - 1 : p->pos;
	unsigned char prev = cr ? p->last2 : p->last1;
	uint64_t lfs = p->lfs;
	struct mp_part *cur = p->cur;

	mp_octets(p, (const unsigned char *)"\n", 1);
	p->lfs++;
	if (p->line == MP_LINE_PREFIX)
		mp_prefix_check(p, true);
	if (p->cand != NULL) {
		mp_delimiter(p, false);
	} else if (cur->stage == MP_HEADER &&
		   (brk <= cur->pub.header_offset || prev == '\r' ||
		    prev == '\n')) {
		/* an empty line (a lone CR before it ends a line too, as
		 * in mail/header-field) */
		mp_header_end(p);
	}
	p->brk = brk;
	p->brk_lfs = lfs;
	p->brk_prev = prev;
	p->line_begun = false;
}

size_t
mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const unsigned char *d = data;
	size_t i = 0;

	while (i < len) {
		unsigned char c;

		if (!p->line_begun) {
			p->line_begun = true;
			p->prefix_len = 0;
			p->cand = NULL;
			p->line = p->active > 0 ? MP_LINE_PREFIX :
				MP_LINE_SKIP;
		}
		if (p->line == MP_LINE_SKIP) {
			const unsigned char *lf = memchr(d + i, '\n', len - i);
			size_t n = lf != NULL ? (size_t)(lf - (d + i)) : len - i;

			mp_octets(p, d + i, n);
			i += n;
			if (lf != NULL) {
				mp_lf(p);
				i++;
			}
			continue;
		}
		c = d[i++];
		if (c == '\n') {
			mp_lf(p);
			continue;
		}
		mp_octets(p, &c, 1);
		if (p->line == MP_LINE_PAD) {
			if (!mp_is_padding(c)) {
				p->cand = NULL;
				p->line = MP_LINE_SKIP;
			}
			continue;
		}
		p->prefix[p->prefix_len++] = c;
		if (p->prefix_len <= 2 && c != '-')
			p->line = MP_LINE_SKIP;
		else if (p->prefix_len == p->prefix_cap)
			mp_prefix_check(p, false);
	}
	return len;
}

struct mime_part *
mime_parser_finish(struct mime_parser **parser)
{
	struct mime_parser *p = *parser;
	struct mime_part *root = &p->root->pub;

	if (p->line_begun && p->line == MP_LINE_PREFIX)
		mp_prefix_check(p, true);
	if (p->line_begun && p->cand != NULL)
		mp_delimiter(p, true);
	while (p->cur != NULL)
		mp_end_part(p, p->pos, p->lfs, p->last1);
	buf_deinit(&p->hdr);
	free(p->prefix);
	free(p);
	*parser = NULL;
	return root;
}

struct mime_part *
mime_parse(const void *msg, size_t len, const struct mime_limits *limits)
{
	struct mime_parser *p = mime_parser_new(limits);

	(void)mime_parser_feed(p, msg, len);
	return mime_parser_finish(&p);
}

void
mime_part_free(struct mime_part **root)
{
	struct mime_part *part = *root;

	/* without recursion: the depth is the caller's limit */
	while (part != NULL) {
		struct mime_part *next;
		struct mp_part *mp = (struct mp_part *)part;

		if (part->children != NULL) {
			next = part->children;
			part->children = NULL;
			part = next;
			continue;
		}
		next = part == *root ? NULL :
			part->next != NULL ? part->next : part->parent;
		mime_header_free(part);
		free(mp->boundary);
		free(mp);
		part = next;
	}
	*root = NULL;
}

const char *
mime_part_param(const struct mime_part *part, const char *name)
{
	for (unsigned int i = 0; i < part->param_count; i++)
		if (strcasecmp(part->params[i].name, name) == 0)
			return part->params[i].value;
	return NULL;
}

bool
mime_part_is(const struct mime_part *part, const char *type,
	     const char *subtype)
{
	return strcasecmp(part->type, type) == 0 &&
	       (subtype == NULL || strcasecmp(part->subtype, subtype) == 0);
}
