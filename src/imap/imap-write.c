/* SPDX-License-Identifier: MIT */
/*
 * Response string primitives: each value takes the lightest form the
 * RFC 9051 grammar allows for it (atom, quoted, literal, literal8), so a
 * client's parser never meets a quoted string it must reject.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-downgrade.h"
#include "imap/imap-utf7.h"
#include "imap/imap-write.h"
#include "lib/buf.h"
#include "lib/utf8.h"

/* ASTRING-CHAR: ATOM-CHAR or resp-specials; CHAR minus atom-specials
 * ("(" ")" "{" SP CTL "%" "*" '"' "\" "]"), with "]" let back in. */
static bool
is_astring_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\", c) == NULL;
}

bool
imap_write_is_astring_atom(const char *s, size_t len)
{
	if (len == 0)
		return false;
	/* "NIL" matches astring's grammar, but a reader of nstring-like
	 * positions would see nil; quoting costs two octets. */
	if (len == 3 && strncasecmp(s, "NIL", 3) == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_astring_char((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool
can_quote(const char *s, size_t len, unsigned int flags)
{
	bool high = false;

	if (len > IMAP_WRITE_QUOTED_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n')
			return false;
		if (c >= 0x80)
			high = true;
	}
	if (!high)
		return true;
	/* RFC 9051 QUOTED-CHAR allows UTF8-2/3/4 only; RFC 6855 3 lets the
	 * server send them only once the client enabled UTF8=ACCEPT. */
	return (flags & IMAP_WRITE_UTF8) != 0 &&
	       utf8_is_valid((const uint8_t *)s, len);
}

static void
write_quoted(struct buf *out, const char *s, size_t len)
{
	size_t start = 0;

	buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			buf_append(out, s + start, i - start);
			buf_putc(out, '\\');
			start = i;
		}
	}
	buf_append(out, s + start, len - start);
	buf_putc(out, '"');
}

static void
write_literal(struct buf *out, const char *s, size_t len, unsigned int flags)
{
	const char *nul = len > 0 ? memchr(s, '\0', len) : NULL;
	size_t start;

	if (nul != NULL && (flags & IMAP_WRITE_BINARY) != 0) {
		buf_printf(out, "~{%zu}\r\n", len);
		buf_append(out, s, len);
		return;
	}
	buf_printf(out, "{%zu}\r\n", len);
	if (nul == NULL) {
		buf_append(out, s, len);
		return;
	}
	/* literal is CHAR8 (%x01-ff): a NUL would break the grammar, so it
	 * becomes 0x80, keeping the announced length. */
	buf_reserve(out, len);
	start = out->len;
	buf_append(out, s, len);
	for (size_t i = start; i < out->len; i++) {
		if (out->data[i] == '\0')
			out->data[i] = (char)0x80;
	}
}

void
imap_write_string(struct buf *out, const char *s, size_t len,
		  unsigned int flags)
{
	if ((flags & (IMAP_WRITE_DOWNGRADE | IMAP_WRITE_UTF8)) ==
	    IMAP_WRITE_DOWNGRADE && imap_downgrade_wanted(s, len)) {
		struct buf ew;

		buf_init(&ew);
		imap_downgrade_text(&ew, s, len, " ");
		imap_write_string(out, ew.data, ew.len,
				  flags & ~IMAP_WRITE_DOWNGRADE);
		buf_deinit(&ew);
		return;
	}
	if (can_quote(s, len, flags))
		write_quoted(out, s, len);
	else
		write_literal(out, s, len, flags);
}

void
imap_write_nstring(struct buf *out, const char *s, size_t len,
		   unsigned int flags)
{
	if (s == NULL)
		buf_puts(out, "NIL");
	else
		imap_write_string(out, s, len, flags);
}

void
imap_write_astring(struct buf *out, const char *s, size_t len,
		   unsigned int flags)
{
	if (imap_write_is_astring_atom(s, len))
		buf_append(out, s, len);
	else
		imap_write_string(out, s, len, flags);
}

int
imap_write_mailbox(struct buf *out, const char *name, size_t len,
		   unsigned int flags, const char **error_r)
{
	struct buf utf7;

	if (len == 5 && strncasecmp(name, "INBOX", 5) == 0) {
		buf_puts(out, "INBOX");
		return 0;
	}
	if (imap_utf7_is_plain(name, len)) {
		imap_write_astring(out, name, len, flags);
		return 0;
	}
	/* The encoder also refuses invalid UTF-8 and control characters,
	 * which a UTF8=ACCEPT name may not hold either. */
	buf_init(&utf7);
	if (imap_utf8_to_utf7(name, len, &utf7, error_r) < 0) {
		buf_deinit(&utf7);
		return -1;
	}
	if ((flags & IMAP_WRITE_UTF8) != 0)
		imap_write_astring(out, name, len, flags);
	else
		imap_write_astring(out, utf7.data, utf7.len, flags);
	buf_deinit(&utf7);
	return 0;
}

void
imap_write_number(struct buf *out, uint64_t n)
{
	buf_printf(out, "%llu", (unsigned long long)n);
}

void
imap_write_list_begin(struct imap_write_list *list, struct buf *out)
{
	list->out = out;
	list->first = true;
	buf_putc(out, '(');
}

struct buf *
imap_write_list_item(struct imap_write_list *list)
{
	if (!list->first)
		buf_putc(list->out, ' ');
	list->first = false;
	return list->out;
}

void
imap_write_list_end(struct imap_write_list *list)
{
	buf_putc(list->out, ')');
}
