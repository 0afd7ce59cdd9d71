/* SPDX-License-Identifier: MIT */
/*
 * PREVIEW text (RFC 8970): picks the part, has mail/mime-text decode it,
 * then strips HTML with a small tolerant scanner (no DOM: a preview only
 * needs the words in order) and collapses white space while it counts
 * characters, so the output is bounded whatever the input.
 */
#include "mail/mime-preview.h"

#include <string.h>
#include <strings.h>

#include "lib/utf8.h"

/* ---- choosing the part ---- */

static const struct mime_part *
find_leaf(const struct mime_part *p, const char *subtype)
{
	if (p->children == NULL) {
		if (p->disposition != NULL &&
		    strcmp(p->disposition, "attachment") == 0)
			return NULL;
		return mime_part_is(p, "text", subtype) ? p : NULL;
	}
	/* a forwarded message's text is not this message's */
	if (p->parent != NULL && mime_part_is(p, "message", NULL))
		return NULL;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		const struct mime_part *f = find_leaf(c, subtype);

		if (f != NULL)
			return f;
	}
	return NULL;
}

const struct mime_part *
mime_preview_part(const struct mime_part *root)
{
	const struct mime_part *p = find_leaf(root, "plain");

	return p != NULL ? p : find_leaf(root, "html");
}

/* ---- the output: white space collapsed, characters counted ---- */

struct pv {
	struct buf *out;
	size_t start;		/* out->len on entry */
	size_t chars;
	bool space;		/* a space is due before the next character */
	bool full;
};

static bool
cp_is_space(uint32_t cp)
{
	/* controls too: a preview is one line of text */
	return cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static void
pv_put(struct pv *pv, uint32_t cp)
{
	uint8_t enc[4];
	size_t n;

	if (pv->full)
		return;
	if (cp_is_space(cp)) {
		/* leading white space is dropped, trailing never written */
		pv->space = pv->out->len > pv->start;
		return;
	}
	/* zero-width characters and the BOM show nothing */
	if (cp == 0x200b || cp == 0xfeff)
		return;
	if (pv->chars + (pv->space ? 2 : 1) > MIME_PREVIEW_MAX_CHARS) {
		pv->full = true;
		return;
	}
	n = utf8_encode(cp, enc);
	if (n == 0)
		n = utf8_encode(0xfffd, enc);
	if (pv->space) {
		buf_putc(pv->out, ' ');
		pv->chars++;
		pv->space = false;
	}
	buf_append(pv->out, enc, n);
	pv->chars++;
}

/* The code point at s[*i] (advancing *i); U+FFFD for an invalid
 * sequence, which mime-text never writes but a caller might. */
static uint32_t
next_cp(const char *s, size_t len, size_t *i)
{
	uint32_t cp;
	size_t k = utf8_decode((const uint8_t *)s + *i, len - *i, &cp);

	if (k == 0) {
		(*i)++;
		return 0xfffd;
	}
	*i += k;
	return cp;
}

/* ---- HTML ---- */

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "nbsp", 0xa0 }, { "copy", 0xa9 },
	{ "reg", 0xae }, { "trade", 0x2122 }, { "hellip", 0x2026 },
	{ "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 },
	{ "rsquo", 0x2019 }, { "ldquo", 0x201c }, { "rdquo", 0x201d },
	{ "euro", 0x20ac }, { "zwnj", 0x200b }, { "shy", 0x200b },
};

/* Elements whose content is not text to show. */
static const char *const hidden_elements[] = {
	"head", "script", "style", "title", "template",
};

/* Elements that break a line: read as white space. */
static const char *const block_elements[] = {
	"address", "article", "aside", "blockquote", "br", "dd", "div", "dl",
	"dt", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
	"header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
	"table", "td", "th", "tr", "ul",
};

static bool
name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/* A character reference at s[*i] == '&': its code point (advancing *i
 * past it), or 0 when it is none (a literal '&'). */
static uint32_t
entity(const char *s, size_t len, size_t *i)
{
	size_t j = *i + 1;
	uint32_t cp = 0;

	if (j < len && s[j] == '#') {
		bool hex = j + 1 < len && (s[j + 1] == 'x' || s[j + 1] == 'X');
		size_t digits = 0;

		j += hex ? 2 : 1;
		for (; j < len && digits < 8; j++, digits++) {
			char c = s[j];
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (hex && c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (hex && c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				break;
			cp = cp * (hex ? 16 : 10) + d;
		}
		if (digits == 0)
			return 0;
		if (j < len && s[j] == ';')
			j++;
		*i = j;
		/* NUL and what has no UTF-8 form show as U+FFFD */
		return cp == 0 || cp > 0x10ffff ||
		       (cp >= 0xd800 && cp <= 0xdfff) ? 0xfffd : cp;
	}
	for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
		size_t n = strlen(entities[k].name);

		if (len - j > n && strncmp(s + j, entities[k].name, n) == 0 &&
		    s[j + n] == ';') {
			*i = j + n + 1;
			return entities[k].cp;
		}
	}
	return 0;
}

/* Skips from s[i] (just after "<name") to the end of the tag, past its
 * '>' (quoted attribute values may hold one). */
static size_t
tag_end(const char *s, size_t len, size_t i)
{
	char quote = 0;

	for (; i < len; i++) {
		if (quote != 0) {
			if (s[i] == quote)
				quote = 0;
		} else if (s[i] == '"' || s[i] == '\'') {
			quote = s[i];
		} else if (s[i] == '>') {
			return i + 1;
		}
	}
	return len;
}

/* The end of a hidden element's content from s[i]: past its end tag
 * "</name ...>", or the end of the text. */
static size_t
hidden_end(const char *s, size_t len, size_t i, const char *name)
{
	size_t n = strlen(name);

	for (; i + 2 + n <= len; i++) {
		if (s[i] == '<' && s[i + 1] == '/' &&
		    strncasecmp(s + i + 2, name, n) == 0 &&
		    (i + 2 + n == len || !is_alnum(s[i + 2 + n])))
			return tag_end(s, len, i + 2 + n);
	}
	return len;
}

static void
html_text(struct pv *pv, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && !pv->full) {
		if (s[i] == '&') {
			uint32_t cp = entity(s, len, &i);

			if (cp == 0) {
				pv_put(pv, '&');
				i++;
			} else {
				pv_put(pv, cp);
			}
			continue;
		}
		if (s[i] != '<') {
			pv_put(pv, next_cp(s, len, &i));
			continue;
		}
		if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			const char *e = NULL;

			for (size_t k = i + 4; k + 3 <= len; k++)
				if (memcmp(s + k, "-->", 3) == 0) {
					e = s + k;
					break;
				}
			i = e != NULL ? (size_t)(e - s) + 3 : len;
			continue;
		}
		size_t j = i + 1;
		bool closing = j < len && s[j] == '/';

		if (closing)
			j++;
		if (j >= len || !(is_alpha(s[j]) || (!closing &&
						      (s[j] == '!' ||
						       s[j] == '?')))) {
			/* "a < b": not a tag */
			pv_put(pv, '<');
			i++;
			continue;
		}
		char name[16];
		size_t n = 0;

		while (j < len && is_alnum(s[j])) {
			if (n < sizeof(name) - 1)
				name[n++] = (char)(s[j] | 0x20);
			j++;
		}
		name[n] = '\0';
		i = tag_end(s, len, j);
		if (!closing && name_in(name, hidden_elements,
					sizeof(hidden_elements) /
					sizeof(hidden_elements[0]))) {
			i = hidden_end(s, len, i, name);
			pv_put(pv, ' ');
		} else if (name_in(name, block_elements,
				   sizeof(block_elements) /
				   sizeof(block_elements[0]))) {
			pv_put(pv, ' ');
		}
	}
}

void
mime_preview_from_text(const char *text, size_t len, bool html,
		       struct buf *out)
{
	struct pv pv = { .out = out, .start = out->len };

	if (html) {
		html_text(&pv, text, len);
		return;
	}
	for (size_t i = 0; i < len && !pv.full;)
		pv_put(&pv, next_cp(text, len, &i));
}

void
mime_preview_extract(const uint8_t *msg, size_t len,
		     const struct mime_part *root, struct buf *out)
{
	const struct mime_part *part = mime_preview_part(root);
	struct buf text;

	if (part == NULL)
		return;
	buf_init(&text);
	(void)mime_text_part(msg, len, part, MIME_PREVIEW_SCAN, &text);
	mime_preview_from_text(text.data, text.len,
			       mime_part_is(part, "text", "html"), out);
	buf_deinit(&text);
}

void
mime_preview_extract_read(const struct mime_part *root, uint64_t size,
			  mime_text_read_cb_t *read, void *ctx,
			  struct buf *out)
{
	const struct mime_part *part = mime_preview_part(root);
	struct buf text;

	if (part == NULL)
		return;
	buf_init(&text);
	(void)mime_text_part_read(part, size, read, ctx, MIME_PREVIEW_SCAN,
				  &text);
	mime_preview_from_text(text.data, text.len,
			       mime_part_is(part, "text", "html"), out);
	buf_deinit(&text);
}
