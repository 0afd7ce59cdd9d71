/* SPDX-License-Identifier: MIT */
/*
 * The Content-* fields of one MIME part (RFC 2045, 2183, 3282, 2557,
 * 1864): type and parameters with RFC 2231 continuations and charsets,
 * and RFC 2047 words in quoted values. The fields come from
 * mail/header-field; lenient the way mail readers are.
 */
#include "mail/mime-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/encoded-word.h"
#include "mail/header-field.h"

/* Parameters read per field; the rest are ignored (a field has a
 * handful; this bounds the joining of continuations). */
#define MH_MAX_SEGMENTS 64
/* Highest RFC 2231 continuation number taken. */
#define MH_MAX_SECTION 999
/* Nesting of comments skipped; deeper ones end at the field's end. */
#define MH_MAX_COMMENT_DEPTH 64

struct mh_scan {
	const char *s;
	size_t len;
	size_t pos;
};

struct mh_seg {
	char *name;		/* lower case, suffixes removed */
	int section;		/* -1 without "*N" */
	bool extended;		/* ends with "*" */
	struct buf value;
};

static bool
mh_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2045 5.1 tspecials */
static bool
mh_is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

/* Octets >= 0x80 are taken as token text (RFC 6532 headers). */
static bool
mh_is_token(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 32 && u != 127 && !mh_is_tspecial(c);
}

static void
mh_skip_cfws(struct mh_scan *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];

		if (mh_is_space(c)) {
			sc->pos++;
		} else if (c == '(') {
			unsigned int depth = 0;

			while (sc->pos < sc->len) {
				c = sc->s[sc->pos++];
				if (c == '\\' && sc->pos < sc->len)
					sc->pos++;
				else if (c == '(' && ++depth > MH_MAX_COMMENT_DEPTH)
					sc->pos = sc->len;
				else if (c == ')' && --depth == 0)
					break;
			}
		} else {
			break;
		}
	}
}

static bool
mh_token(struct mh_scan *sc, struct buf *out)
{
	size_t start = sc->pos;

	while (sc->pos < sc->len && mh_is_token(sc->s[sc->pos]))
		sc->pos++;
	buf_append(out, sc->s + start, sc->pos - start);
	return sc->pos > start;
}

/* A quoted-string at sc->pos ('"'); an unterminated one runs to the end.
 * Folding line breaks inside are dropped (RFC 5322 3.2.4). */
static void
mh_quoted(struct mh_scan *sc, struct buf *out)
{
	sc->pos++;
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos++];

		if (c == '"')
			return;
		if (c == '\\' && sc->pos < sc->len)
			c = sc->s[sc->pos++];
		else if (c == '\r' || c == '\n')
			continue;
		buf_putc(out, c);
	}
}

/* A value: quoted, or unquoted up to white space, ';' or a comment,
 * which takes the tspecials that senders leave unquoted ("name=a/b.pdf",
 * "boundary==_x"). Sets *quoted_r. */
static void
mh_value(struct mh_scan *sc, struct buf *out, bool *quoted_r)
{
	*quoted_r = sc->pos < sc->len && sc->s[sc->pos] == '"';
	if (*quoted_r) {
		mh_quoted(sc, out);
		return;
	}
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];

		if (mh_is_space(c) || c == ';' || c == '(' || c == '"' ||
		    (unsigned char)c < 32 || c == 127)
			break;
		buf_putc(out, c);
		sc->pos++;
	}
}

static void
mh_skip_to_semicolon(struct mh_scan *sc)
{
	while (sc->pos < sc->len && sc->s[sc->pos] != ';') {
		if (sc->s[sc->pos] == '"') {
			struct buf junk;

			buf_init(&junk);
			mh_quoted(sc, &junk);
			buf_deinit(&junk);
		} else {
			sc->pos++;
		}
	}
}

static char *
mh_lower_dup(const char *s, size_t len)
{
	char *r = xstrndup(s, len);

	for (char *p = r; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

/* Splits "name*3*" into its parts; false when the suffix is not RFC
 * 2231's (then the whole attribute is the name). */
static void
mh_seg_name(struct mh_seg *seg, const char *attr, size_t len)
{
	const char *star = memchr(attr, '*', len);
	size_t i;

	seg->section = -1;
	seg->extended = false;
	if (star == NULL) {
		seg->name = mh_lower_dup(attr, len);
		return;
	}
	i = (size_t)(star - attr) + 1;
	if (i == len) {
		seg->extended = true;
	} else if (attr[i] >= '0' && attr[i] <= '9') {
		int n = 0;

		/* "*01" is no section number (RFC 2231 3: no leading 0) */
		if (attr[i] == '0' && i + 1 < len && attr[i + 1] != '*')
			goto plain;
		while (i < len && attr[i] >= '0' && attr[i] <= '9') {
			n = n * 10 + (attr[i] - '0');
			if (n > MH_MAX_SECTION)
				goto plain;
			i++;
		}
		if (i + 1 == len && attr[i] == '*')
			seg->extended = true;
		else if (i != len)
			goto plain;
		seg->section = n;
	} else {
		goto plain;
	}
	seg->name = mh_lower_dup(attr, (size_t)(star - attr));
	return;
plain:
	seg->section = -1;
	seg->extended = false;
	seg->name = mh_lower_dup(attr, len);
}

static int
mh_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 2231 4 %XX decoding; a '%' not followed by two hex digits stays. */
static void
mh_percent_decode(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len &&
		    (hi = mh_hex(s[i + 1])) >= 0 && (lo = mh_hex(s[i + 2])) >= 0) {
			buf_putc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			buf_putc(out, s[i]);
		}
	}
}

static int
mh_seg_cmp(const void *a, const void *b)
{
	const struct mh_seg *const *x = a, *const *y = b;

	return (*x)->section - (*y)->section;
}

/* The octets of an extended first section "charset'language'%XX..."
 * (RFC 2231 4); sets the param's charset and language. Without the two
 * quotes, the whole value is data. */
static void
mh_extended_first(const struct buf *v, struct mime_param *param,
		  struct buf *octets)
{
	const char *q1 = memchr(v->data, '\'', v->len);
	const char *q2 = q1 == NULL ? NULL :
		memchr(q1 + 1, '\'', v->len - (size_t)(q1 + 1 - v->data));

	if (q2 == NULL) {
		mh_percent_decode(v->data, v->len, octets);
		return;
	}
	if (q1 > v->data)
		param->charset = xstrndup(v->data, (size_t)(q1 - v->data));
	if (q2 > q1 + 1)
		param->language = xstrndup(q1 + 1, (size_t)(q2 - q1 - 1));
	mh_percent_decode(q2 + 1, v->len - (size_t)(q2 + 1 - v->data),
			  octets);
}

/* Joins the segments of one name into a parameter (RFC 2231 3, 4):
 * "name*" wins over continuations, which win over a plain "name", the
 * way readers that know RFC 2231 choose. */
static void
mh_assemble(struct mh_seg *segs, size_t n, const char *name,
	    struct mime_param *param)
{
	struct mh_seg *ext = NULL, *plain = NULL, *cont[MH_MAX_SEGMENTS];
	size_t ncont = 0;
	struct buf octets, out;
	bool extended = false;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(segs[i].name, name) != 0)
			continue;
		if (segs[i].section >= 0)
			cont[ncont++] = &segs[i];
		else if (segs[i].extended && ext == NULL)
			ext = &segs[i];
		else if (!segs[i].extended && plain == NULL)
			plain = &segs[i];
	}
	param->name = xstrdup(name);
	buf_init(&octets);
	buf_init(&out);
	if (ext != NULL) {
		extended = true;
		mh_extended_first(&ext->value, param, &octets);
	} else if (ncont > 0) {
		/* the sections in order, up to the first gap */
		qsort(cont, ncont, sizeof(cont[0]), mh_seg_cmp);
		for (size_t i = 0; i < ncont && cont[i]->section == (int)i;
		     i++) {
			const struct buf *v = &cont[i]->value;

			if (!cont[i]->extended)
				buf_append(&octets, v->data, v->len);
			else if (i == 0)
				mh_extended_first(v, param, &octets);
			else
				mh_percent_decode(v->data, v->len, &octets);
			extended = extended || cont[i]->extended;
		}
	} else if (plain != NULL) {
		buf_append(&octets, plain->value.data, plain->value.len);
	}
	if (param->charset != NULL) {
		const char *error;

		if (encoded_word_charset_convert(param->charset, octets.data,
						 octets.len, &out, &error) < 0) {
			/* unknown charset or not in it: 8-bit octets
			 * stay %XX rather than be guessed at */
			buf_reset(&out);
			for (size_t i = 0; i < octets.len; i++) {
				unsigned char c = (unsigned char)octets.data[i];

				if (c >= 0x80 || c == '%')
					buf_printf(&out, "%%%02X", c);
				else
					buf_putc(&out, (char)c);
			}
		}
	} else if (!extended &&
		   memmem(octets.data, octets.len, "=?", 2) != NULL) {
		/* RFC 2047 words in a quoted file name: not the standard,
		 * but what Outlook and Gmail send and every reader shows */
		encoded_word_decode_lenient(octets.data, octets.len, &out);
	} else {
		buf_append(&out, octets.data, octets.len);
	}
	param->value = buf_steal(&out);
	buf_deinit(&out);
	buf_deinit(&octets);
}

/* Reads "; attr=value" pairs from sc into a new array. */
static void
mh_params(struct mh_scan *sc, struct mime_param **params_r,
	  unsigned int *count_r)
{
	struct mh_seg segs[MH_MAX_SEGMENTS];
	size_t nseg = 0;
	struct mime_param *params = NULL;
	unsigned int count = 0;

	while (sc->pos < sc->len && nseg < MH_MAX_SEGMENTS) {
		struct buf attr;
		bool quoted;

		mh_skip_cfws(sc);
		if (sc->pos >= sc->len)
			break;
		if (sc->s[sc->pos] == ';') {
			sc->pos++;
			continue;
		}
		buf_init(&attr);
		if (!mh_token(sc, &attr)) {
			buf_deinit(&attr);
			sc->pos++;
			mh_skip_to_semicolon(sc);
			continue;
		}
		mh_skip_cfws(sc);
		if (sc->pos >= sc->len || sc->s[sc->pos] != '=') {
			buf_deinit(&attr);
			mh_skip_to_semicolon(sc);
			continue;
		}
		sc->pos++;
		mh_skip_cfws(sc);
		mh_seg_name(&segs[nseg], attr.data, attr.len);
		buf_deinit(&attr);
		buf_init(&segs[nseg].value);
		mh_value(sc, &segs[nseg].value, &quoted);
		nseg++;
		mh_skip_to_semicolon(sc);
	}
	for (size_t i = 0; i < nseg; i++) {
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			if (strcmp(segs[j].name, segs[i].name) == 0)
				seen = true;
		if (seen)
			continue;
		params = xreallocarray(params, count + 1, sizeof(*params));
		memset(&params[count], 0, sizeof(*params));
		mh_assemble(segs, nseg, segs[i].name, &params[count]);
		count++;
	}
	for (size_t i = 0; i < nseg; i++) {
		free(segs[i].name);
		buf_deinit(&segs[i].value);
	}
	*params_r = params;
	*count_r = count;
}

static void
mh_params_free(struct mime_param **params, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		free((*params)[i].name);
		free((*params)[i].value);
		free((*params)[i].charset);
		free((*params)[i].language);
	}
	xfree(params);
}

static void
mh_content_type(struct mime_part *part, const char *v, size_t len)
{
	struct mh_scan sc = { v, len, 0 };
	struct buf type, subtype;

	buf_init(&type);
	buf_init(&subtype);
	mh_skip_cfws(&sc);
	if (mh_token(&sc, &type)) {
		mh_skip_cfws(&sc);
		if (sc.pos < sc.len && sc.s[sc.pos] == '/') {
			sc.pos++;
			mh_skip_cfws(&sc);
			if (mh_token(&sc, &subtype)) {
				part->type = mh_lower_dup(type.data, type.len);
				part->subtype = mh_lower_dup(subtype.data,
							     subtype.len);
				mh_params(&sc, &part->params,
					  &part->param_count);
			}
		}
	}
	buf_deinit(&type);
	buf_deinit(&subtype);
}

/* A single token (encoding, disposition type), lower case, or NULL. */
static char *
mh_single_token(const char *v, size_t len, struct mh_scan *sc_r)
{
	struct buf tok;
	char *r = NULL;

	sc_r->s = v;
	sc_r->len = len;
	sc_r->pos = 0;
	buf_init(&tok);
	mh_skip_cfws(sc_r);
	if (mh_token(sc_r, &tok))
		r = mh_lower_dup(tok.data, tok.len);
	buf_deinit(&tok);
	return r;
}

/* The value unfolded (CR and LF dropped) and trimmed. */
static char *
mh_unfold(const char *v, size_t len)
{
	struct buf b;
	char *r;

	buf_init(&b);
	while (len > 0 && mh_is_space(v[0])) {
		v++;
		len--;
	}
	while (len > 0 && mh_is_space(v[len - 1]))
		len--;
	for (size_t i = 0; i < len; i++)
		if (v[i] != '\r' && v[i] != '\n')
			buf_putc(&b, v[i]);
	r = buf_steal(&b);
	buf_deinit(&b);
	return r;
}

/* RFC 3282: a comma list of language tags with CFWS. */
static void
mh_languages(struct mime_part *part, const char *v, size_t len)
{
	struct mh_scan sc = { v, len, 0 };

	while (sc.pos < sc.len && part->language_count < MH_MAX_SEGMENTS) {
		struct buf tok;

		mh_skip_cfws(&sc);
		if (sc.pos >= sc.len)
			break;
		buf_init(&tok);
		if (mh_token(&sc, &tok)) {
			part->languages = xreallocarray(
				part->languages, part->language_count + 1,
				sizeof(*part->languages));
			part->languages[part->language_count++] =
				buf_steal(&tok);
		} else {
			sc.pos++;
		}
		buf_deinit(&tok);
	}
}

void
mime_header_set_text_plain(struct mime_part *part)
{
	free(part->type);
	free(part->subtype);
	mh_params_free(&part->params, part->param_count);
	part->type = xstrdup("text");
	part->subtype = xstrdup("plain");
	part->params = xcalloc(1, sizeof(*part->params));
	part->params[0].name = xstrdup("charset");
	part->params[0].value = xstrdup("us-ascii");
	part->param_count = 1;
}

void
mime_header_read(struct mime_part *part, const char *hdr, size_t len,
		 bool in_digest)
{
	struct header_field_iter it;
	struct header_field f;
	bool have_type = false;

	header_field_iter_init(&it, hdr, len);
	while (header_field_next(&it, &f)) {
		struct mh_scan sc;

		if (f.value == NULL || f.name_len < 8 ||
		    strncasecmp(f.name, "content-", 8) != 0)
			continue;
		if (header_field_is(&f, "content-type") && !have_type) {
			have_type = true;
			mh_content_type(part, f.value, f.value_len);
		} else if (header_field_is(&f, "content-transfer-encoding") &&
			   part->encoding == NULL) {
			part->encoding = mh_single_token(f.value, f.value_len,
							 &sc);
		} else if (header_field_is(&f, "content-disposition") &&
			   part->disposition == NULL) {
			part->disposition = mh_single_token(f.value,
							    f.value_len, &sc);
			if (part->disposition != NULL)
				mh_params(&sc, &part->disposition_params,
					  &part->disposition_param_count);
		} else if (header_field_is(&f, "content-id") &&
			   part->id == NULL) {
			part->id = mh_unfold(f.value, f.value_len);
		} else if (header_field_is(&f, "content-description") &&
			   part->description == NULL) {
			part->description = mh_unfold(f.value, f.value_len);
		} else if (header_field_is(&f, "content-location") &&
			   part->location == NULL) {
			part->location = mh_unfold(f.value, f.value_len);
		} else if (header_field_is(&f, "content-md5") &&
			   part->md5 == NULL) {
			part->md5 = mh_unfold(f.value, f.value_len);
		} else if (header_field_is(&f, "content-language") &&
			   part->languages == NULL) {
			mh_languages(part, f.value, f.value_len);
		}
	}
	if (part->type != NULL)
		return;
	/* RFC 2045 5.2: a missing or invalid Content-Type is text/plain;
	 * RFC 2046 5.1.5: message/rfc822 inside multipart/digest */
	part->flags |= MIME_PART_FLAG_TYPE_DEFAULT;
	if (in_digest) {
		mh_params_free(&part->params, part->param_count);
		part->param_count = 0;
		part->type = xstrdup("message");
		part->subtype = xstrdup("rfc822");
	} else {
		mime_header_set_text_plain(part);
	}
}

void
mime_header_free(struct mime_part *part)
{
	free(part->type);
	free(part->subtype);
	mh_params_free(&part->params, part->param_count);
	free(part->encoding);
	free(part->id);
	free(part->description);
	free(part->location);
	free(part->md5);
	free(part->disposition);
	mh_params_free(&part->disposition_params,
		       part->disposition_param_count);
	for (unsigned int i = 0; i < part->language_count; i++)
		free(part->languages[i]);
	free(part->languages);
}
