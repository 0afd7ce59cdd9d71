/* SPDX-License-Identifier: MIT */
/*
 * The MIME structure record: the part tree in pre-order, numbers as
 * LEB128 varints, strings length-prefixed, behind a magic and a version.
 * The reader treats a record as hostile input (it comes from disk, which
 * another version or a bug may have written): every read is bounded, the
 * tree is rebuilt without recursion, and ranges are checked.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "mail/header-field.h"
#include "mail/mime-cache.h"

static const uint8_t mc_magic[3] = { 'H', 'M', 'C' };

/* A depth no parse with mail/mime's limits reaches; it keeps a hostile
 * record from making the recursive writers (BODYSTRUCTURE) go deep. */
#define MC_MAX_DEPTH 1000

/* The fields RFC 9051 7.5.2 ENVELOPE reads, as imap-envelope reads them,
 * and References, which IMAP THREAD=REFERENCES reads with them (RFC
 * 5256 3). */
static const char *const mc_env_names[] = {
	"Date", "Subject", "From", "Sender", "Reply-To",
	"To", "Cc", "Bcc", "In-Reply-To", "Message-ID", "References",
};
#define MC_ENV_COUNT (sizeof(mc_env_names) / sizeof(mc_env_names[0]))

#define MC_KNOWN_FLAGS 0x3fu

/* ---- writing ---- */

static void
put_uint(struct buf *out, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	buf_append(out, b, n);
}

static void
put_bytes(struct buf *out, const void *p, size_t len)
{
	put_uint(out, len);
	buf_append(out, p, len);
}

static void
put_str(struct buf *out, const char *s)
{
	put_bytes(out, s, strlen(s));
}

/* NULL is 0, else length + 1. */
static void
put_ostr(struct buf *out, const char *s)
{
	if (s == NULL) {
		put_uint(out, 0);
		return;
	}
	/* UNSAFE: a string held in memory is shorter than UINT64_MAX */
	put_uint(out, (uint64_t)strlen(s) + 1);
	buf_append(out, s, strlen(s));
}

static void
put_params(struct buf *out, const struct mime_param *p, unsigned int n)
{
	put_uint(out, n);
	for (unsigned int i = 0; i < n; i++) {
		put_str(out, p[i].name);
		put_str(out, p[i].value);
		put_ostr(out, p[i].charset);
		put_ostr(out, p[i].language);
	}
}

static bool
part_is_message(const struct mime_part *part)
{
	return mime_part_is(part, "message", "rfc822") ||
	       mime_part_is(part, "message", "global");
}

/* Whether part is a message whose header ENVELOPE reads. */
static bool
part_has_envelope(const struct mime_part *part)
{
	return part->parent == NULL || part_is_message(part->parent);
}

/* The envelope header of part: its first field of each name, rebuilt as
 * "Name:value" CRLF (the value's octets as stored), then CRLF. */
static int
put_envelope(struct buf *out, const struct mime_part *part,
	     mime_cache_read_cb_t *read, void *ctx, struct buf *tmp)
{
	struct header_field_iter it;
	struct header_field f;
	struct header_field found[MC_ENV_COUNT];
	bool have[MC_ENV_COUNT] = { false };
	size_t len = part->header_size < MIME_CACHE_ENVELOPE_HEADER_MAX ?
		(size_t)part->header_size : MIME_CACHE_ENVELOPE_HEADER_MAX;
	struct buf env;

	buf_reset(tmp);
	if (len > 0 && read(ctx, part->header_offset, len, tmp) < 0)
		return -1;
	header_field_iter_init(&it, tmp->data, tmp->len);
	while (header_field_next(&it, &f)) {
		if (f.malformed)
			continue;
		for (size_t i = 0; i < MC_ENV_COUNT; i++) {
			if (!have[i] && header_field_is(&f, mc_env_names[i])) {
				found[i] = f;
				have[i] = true;
				break;
			}
		}
	}
	buf_init(&env);
	for (size_t i = 0; i < MC_ENV_COUNT; i++) {
		if (!have[i])
			continue;
		buf_puts(&env, mc_env_names[i]);
		buf_putc(&env, ':');
		buf_append(&env, found[i].value, found[i].value_len);
		buf_puts(&env, "\r\n");
	}
	buf_puts(&env, "\r\n");
	put_uint(out, (uint64_t)env.len + 1);
	buf_append(out, env.data, env.len);
	buf_deinit(&env);
	return 0;
}

static int
put_part(struct buf *out, const struct mime_part *p,
	 mime_cache_read_cb_t *read, void *ctx, struct buf *tmp)
{
	put_uint(out, p->child_count);
	put_uint(out, p->flags);
	put_uint(out, p->header_offset);
	put_uint(out, p->header_size);
	put_uint(out, p->body_size);
	put_uint(out, p->body_lines);
	put_str(out, p->type);
	put_str(out, p->subtype);
	put_params(out, p->params, p->param_count);
	put_ostr(out, p->encoding);
	put_ostr(out, p->id);
	put_ostr(out, p->description);
	put_ostr(out, p->location);
	put_ostr(out, p->md5);
	put_ostr(out, p->disposition);
	put_params(out, p->disposition_params, p->disposition_param_count);
	put_uint(out, p->language_count);
	for (unsigned int i = 0; i < p->language_count; i++)
		put_str(out, p->languages[i]);
	if (!part_has_envelope(p)) {
		put_uint(out, 0);
		return 0;
	}
	return put_envelope(out, p, read, ctx, tmp);
}

int
mime_cache_write(struct buf *out, const struct mime_part *root,
		 uint64_t msg_size, mime_cache_read_cb_t *read, void *ctx)
{
	size_t start = out->len, count = 0;
	const struct mime_part *p;
	struct buf tmp;
	int ret = 0;

	for (p = root; p != NULL;) {
		count++;
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != root && p->next == NULL)
			p = p->parent;
		p = p == root ? NULL : p->next;
	}
	buf_append(out, mc_magic, sizeof(mc_magic));
	buf_putc(out, (char)MIME_CACHE_VERSION);
	put_uint(out, msg_size);
	put_uint(out, count);
	buf_init(&tmp);
	/* pre-order, without recursion */
	for (p = root; p != NULL && ret == 0;) {
		ret = put_part(out, p, read, ctx, &tmp);
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != root && p->next == NULL)
			p = p->parent;
		p = p == root ? NULL : p->next;
	}
	buf_deinit(&tmp);
	if (ret < 0)
		buf_truncate(out, start);
	return ret;
}

struct mem_msg {
	const uint8_t *msg;
	size_t len;
};

static int
mem_read(void *ctx, uint64_t offset, size_t len, struct buf *out)
{
	const struct mem_msg *m = ctx;

	if (offset > m->len || len > m->len - offset)
		return -1;
	buf_append(out, m->msg + offset, len);
	return 0;
}

void
mime_cache_write_mem(struct buf *out, const struct mime_part *root,
		     const uint8_t *msg, size_t msg_size)
{
	struct mem_msg m = { msg, msg_size };

	if (mime_cache_write(out, root, msg_size, mem_read, &m) < 0)
		panic("mime-cache: a parsed range is outside its message");
}

/* ---- reading ---- */

struct reader {
	const uint8_t *p, *end;
	const char *error;
	/* strings, NUL-terminated, in one block */
	char *text;
	size_t text_len, text_cap;
};

static bool
get_uint(struct reader *r, uint64_t *v_r)
{
	uint64_t v = 0;

	for (unsigned int shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (r->p >= r->end) {
			r->error = "truncated";
			return false;
		}
		b = *r->p++;
		if (shift == 63 && (b & 0x7e) != 0)
			break;
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v_r = v;
			return true;
		}
	}
	r->error = "number too large";
	return false;
}

/* A count of items that each take at least one octet: never more than
 * the octets left, so what it allocates is bounded by the record. */
static bool
get_count(struct reader *r, uint64_t max, unsigned int *n_r)
{
	uint64_t v;

	if (!get_uint(r, &v))
		return false;
	if (v > (uint64_t)(r->end - r->p) || v > max) {
		r->error = "count out of range";
		return false;
	}
	*n_r = (unsigned int)v;
	return true;
}

/* n octets of the record as a string in the text block; no NUL inside
 * unless binary. */
static const char *
get_text(struct reader *r, uint64_t n, bool binary)
{
	char *s;

	if (n > (uint64_t)(r->end - r->p)) {
		r->error = "truncated string";
		return NULL;
	}
	if (!binary && memchr(r->p, '\0', (size_t)n) != NULL) {
		r->error = "NUL in a string";
		return NULL;
	}
	/* UNSAFE: text_cap is the record's length + 1 and every string
	 * takes its length plus at least one octet of the record, so the
	 * block never overflows (checked anyway) */
	if ((size_t)n + 1 > r->text_cap - r->text_len) {
		r->error = "strings overflow";
		return NULL;
	}
	s = r->text + r->text_len;
	memcpy(s, r->p, (size_t)n);
	s[n] = '\0';
	r->text_len += (size_t)n + 1;
	r->p += n;
	return s;
}

static char *
get_str(struct reader *r)
{
	uint64_t n;

	if (!get_uint(r, &n))
		return NULL;
	return (char *)get_text(r, n, false);
}

/* *s_r NULL for an absent string; false on error. */
static bool
get_ostr(struct reader *r, char **s_r)
{
	uint64_t n;

	*s_r = NULL;
	if (!get_uint(r, &n))
		return false;
	if (n == 0)
		return true;
	*s_r = (char *)get_text(r, n - 1, false);
	return *s_r != NULL;
}

static bool
get_params(struct reader *r, struct mime_param **params_r,
	   unsigned int *count_r)
{
	unsigned int n;
	struct mime_param *p;

	*params_r = NULL;
	*count_r = 0;
	if (!get_count(r, UINT32_MAX, &n))
		return false;
	if (n == 0)
		return true;
	p = xcalloc(n, sizeof(*p));
	*params_r = p;
	*count_r = n;
	for (unsigned int i = 0; i < n; i++) {
		p[i].name = get_str(r);
		if (p[i].name == NULL)
			return false;
		p[i].value = get_str(r);
		if (p[i].value == NULL || !get_ostr(r, &p[i].charset) ||
		    !get_ostr(r, &p[i].language))
			return false;
	}
	return true;
}

static bool
get_part(struct reader *r, struct mime_part *p, uint64_t *children_r,
	 const char **env_r, size_t *env_len_r)
{
	uint64_t flags, envn;

	if (!get_uint(r, children_r) || !get_uint(r, &flags) ||
	    !get_uint(r, &p->header_offset) || !get_uint(r, &p->header_size) ||
	    !get_uint(r, &p->body_size) || !get_uint(r, &p->body_lines))
		return false;
	if ((flags & ~(uint64_t)MC_KNOWN_FLAGS) != 0) {
		r->error = "unknown flags";
		return false;
	}
	p->flags = (unsigned int)flags;
	p->type = get_str(r);
	if (p->type == NULL)
		return false;
	p->subtype = get_str(r);
	if (p->subtype == NULL ||
	    !get_params(r, &p->params, &p->param_count) ||
	    !get_ostr(r, &p->encoding) || !get_ostr(r, &p->id) ||
	    !get_ostr(r, &p->description) || !get_ostr(r, &p->location) ||
	    !get_ostr(r, &p->md5) || !get_ostr(r, &p->disposition) ||
	    !get_params(r, &p->disposition_params,
			&p->disposition_param_count) ||
	    !get_count(r, UINT32_MAX, &p->language_count))
		return false;
	if (p->language_count > 0) {
		p->languages = xcalloc(p->language_count,
				       sizeof(*p->languages));
		for (unsigned int i = 0; i < p->language_count; i++) {
			p->languages[i] = get_str(r);
			if (p->languages[i] == NULL)
				return false;
		}
	}
	if (!get_uint(r, &envn))
		return false;
	*env_r = NULL;
	*env_len_r = 0;
	if (envn > 0) {
		*env_r = get_text(r, envn - 1, true);
		if (*env_r == NULL)
			return false;
		*env_len_r = (size_t)(envn - 1);
	}
	return true;
}

/* The checks of one part that its parent is needed for. */
static bool
part_check(struct reader *r, const struct mime_part *p, uint64_t children,
	   bool has_env, uint64_t msg_size)
{
	const struct mime_part *par = p->parent;
	uint64_t lo = 0, hi = msg_size;

	if (par != NULL) {
		lo = par->body_offset;
		hi = par->body_offset + par->body_size;
	}
	if (p->header_offset < lo || p->header_offset > hi ||
	    p->header_size > hi - p->header_offset ||
	    p->body_size > hi - p->header_offset - p->header_size) {
		r->error = "part outside its parent";
		return false;
	}
	if (p->body_lines > p->body_size + 1) {
		r->error = "more lines than octets";
		return false;
	}
	if (p->depth > MC_MAX_DEPTH) {
		r->error = "too deep";
		return false;
	}
	if (children > 0 && !mime_part_is(p, "multipart", NULL) &&
	    !(part_is_message(p) && children == 1)) {
		r->error = "children under a leaf";
		return false;
	}
	if (has_env != part_has_envelope(p)) {
		r->error = "envelope where none belongs";
		return false;
	}
	return true;
}

static void
parts_free(struct mime_part *parts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(parts[i].params);
		free(parts[i].disposition_params);
		free(parts[i].languages);
	}
	free(parts);
}

int
mime_cache_read(const uint8_t *data, size_t len, uint64_t msg_size,
		struct mime_cache **cache_r, const char **error_r)
{
	struct reader r = { .p = data, .end = data + len };
	struct mime_cache *c;
	uint64_t size, *left = NULL;
	unsigned int n = 0;
	size_t *stack = NULL, sp = 0, done = 0;
	struct mime_part **last = NULL;

	*cache_r = NULL;
	if (len < 4 || memcmp(data, mc_magic, sizeof(mc_magic)) != 0) {
		*error_r = "not a MIME structure record";
		return -1;
	}
	if (data[3] != MIME_CACHE_VERSION) {
		*error_r = "another version";
		return -1;
	}
	r.p += 4;
	if (!get_uint(&r, &size) || !get_count(&r, UINT32_MAX, &n)) {
		*error_r = r.error;
		return -1;
	}
	if (size != msg_size) {
		*error_r = "made for another message size";
		return -1;
	}
	if (n == 0) {
		*error_r = "no parts";
		return -1;
	}
	c = xcalloc(1, sizeof(*c));
	c->msg_size = msg_size;
	c->parts = xcalloc(n, sizeof(*c->parts));
	c->env = xcalloc(n, sizeof(*c->env));
	c->env_len = xcalloc(n, sizeof(*c->env_len));
	/* UNSAFE: len is the size of a record held in memory */
	r.text_cap = len + 1;
	r.text = xmalloc(r.text_cap);
	c->text = r.text;
	left = xcalloc(n, sizeof(*left));
	stack = xcalloc(n, sizeof(*stack));
	last = xcalloc(n, sizeof(*last));

	for (; done < n; done++) {
		struct mime_part *p = &c->parts[done];
		uint64_t children;

		if (done > 0) {
			size_t pi;

			if (sp == 0) {
				r.error = "more parts than the tree holds";
				break;
			}
			pi = stack[sp - 1];
			p->parent = &c->parts[pi];
			p->depth = p->parent->depth + 1;
			if (last[pi] == NULL)
				p->parent->children = p;
			else
				last[pi]->next = p;
			last[pi] = p;
			p->parent->child_count++;
			if (--left[pi] == 0)
				sp--;
		}
		if (!get_part(&r, p, &children, &c->env[done],
			      &c->env_len[done]))
			break;
		p->body_offset = p->header_offset + p->header_size;
		if (!part_check(&r, p, children, c->env[done] != NULL,
				msg_size))
			break;
		if (children > 0) {
			if (children > n - 1 - done) {
				r.error = "more children than parts";
				break;
			}
			left[done] = children;
			stack[sp++] = done;
		}
	}
	if (done == n && sp != 0)
		r.error = "fewer parts than the tree holds";
	else if (done == n && r.p != r.end)
		r.error = "octets after the tree";
	free(left);
	free(stack);
	free(last);
	c->part_count = done < n ? done + 1 : n;
	if (done < n || r.error != NULL) {
		*error_r = r.error != NULL ? r.error : "malformed";
		mime_cache_free(&c);
		return -1;
	}
	c->root = &c->parts[0];
	*cache_r = c;
	return 0;
}

void
mime_cache_free(struct mime_cache **cache)
{
	struct mime_cache *c = *cache;

	if (c == NULL)
		return;
	parts_free(c->parts, c->part_count);
	free(c->env);
	free(c->env_len);
	free(c->text);
	free(c);
	*cache = NULL;
}

const char *
mime_cache_envelope(const struct mime_cache *cache,
		    const struct mime_part *part, size_t *len_r)
{
	size_t i;

	*len_r = 0;
	if (part < cache->parts || part >= cache->parts + cache->part_count)
		return NULL;
	i = (size_t)(part - cache->parts);
	*len_r = cache->env_len[i];
	return cache->env[i];
}
