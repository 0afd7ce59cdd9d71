/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 header text for sessions without UTF8=ACCEPT: encoded words for
 * display text, empty groups for addresses with no ASCII form (RFC 6858
 * 3), field by field over a stored header section. See imap-downgrade.h.
 */
#include "imap/imap-downgrade.h"

#include <string.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/utf8.h"
#include "mail/header-address.h"
#include "mail/header-field.h"

/* "=?UTF-8?B?" + base64 + "?=" stays within RFC 2047 2's 75 characters
 * with 45 octets (60 characters of base64) per word. */
#define EW_OCTETS_MAX 45

bool
imap_downgrade_wanted(const char *s, size_t len)
{
	return utf8_has_non_ascii((const uint8_t *)s, len) &&
	       utf8_is_valid((const uint8_t *)s, len);
}

void
imap_downgrade_encode(struct buf *out, const char *s, size_t len,
		      const char *sep)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t pos = 0;

	while (pos < len) {
		size_t end = pos;

		/* whole characters only: a decoder converts each word on
		 * its own */
		while (end < len) {
			uint32_t cp;
			size_t n = utf8_decode(p + end, len - end, &cp);

			if (n == 0)
				n = 1;
			if (end + n - pos > EW_OCTETS_MAX)
				break;
			end += n;
		}
		if (pos > 0)
			buf_puts(out, sep);
		buf_puts(out, "=?UTF-8?B?");
		base64_encode(p + pos, end - pos, out);
		buf_puts(out, "?=");
		pos = end;
	}
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Ends a word besides white space: the specials around a quoted value, a
 * comment or an angle address, so that they stay outside the encoding. */
static bool
is_word_end(char c)
{
	return is_space(c) || c == '\r' || c == '\n' ||
	       strchr("\"()<>,;=", c) != NULL;
}

void
imap_downgrade_text(struct buf *out, const char *s, size_t len,
		    const char *sep)
{
	size_t pos = 0;

	if (!imap_downgrade_wanted(s, len)) {
		buf_append(out, s, len);
		return;
	}
	while (pos < len) {
		size_t start, end, next;
		bool high = false;

		if (is_word_end(s[pos])) {
			buf_putc(out, s[pos++]);
			continue;
		}
		start = pos;
		while (pos < len && !is_word_end(s[pos])) {
			high = high || (unsigned char)s[pos] >= 0x80;
			pos++;
		}
		if (!high) {
			buf_append(out, s + start, pos - start);
			continue;
		}
		/* take in the words with 8-bit octets that follow after
		 * white space alone: one encoding keeps the spaces */
		end = pos;
		for (;;) {
			bool more = false;

			next = end;
			while (next < len && is_space(s[next]))
				next++;
			if (next == end || next >= len ||
			    is_word_end(s[next]))
				break;
			while (next < len && !is_word_end(s[next])) {
				more = more || (unsigned char)s[next] >= 0x80;
				next++;
			}
			if (!more)
				break;
			end = next;
		}
		imap_downgrade_encode(out, s + start, end - start, sep);
		pos = end;
	}
}

/* Return-Path is not here: its angle-addr has no group form, so it gets
 * the text treatment like any other field. */
static const char *const address_fields[] = {
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc",
	"Resent-Bcc", "Disposition-Notification-To",
};

static bool
is_address_field(const struct header_field *f)
{
	for (size_t i = 0; i < sizeof(address_fields) /
	     sizeof(address_fields[0]); i++) {
		if (header_field_is(f, address_fields[i]))
			return true;
	}
	return false;
}

/* RFC 5322 atext */
static bool
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c);
}

/* A phrase or local part as written: as it is when it is atoms (dot-atom
 * for a local part, words and spaces for a phrase), else quoted. */
static void
write_word(struct buf *out, const char *s, bool phrase)
{
	bool plain = *s != '\0';

	for (const char *p = s; *p != '\0' && plain; p++) {
		unsigned char c = (unsigned char)*p;

		plain = is_atext(c) || c >= 0x80 ||
			(phrase ? c == ' ' : c == '.');
	}
	if (plain) {
		buf_puts(out, s);
		return;
	}
	buf_putc(out, '"');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

static void
write_addr_spec(struct buf *out, const struct header_address_entry *e)
{
	if (e->route != NULL) {
		buf_puts(out, e->route);
		buf_putc(out, ':');
	}
	write_word(out, e->local, false);
	if (e->domain != NULL) {
		buf_putc(out, '@');
		buf_puts(out, e->domain);
	}
}

static bool
entry_wanted(const struct header_address_entry *e)
{
	return (e->local != NULL &&
		imap_downgrade_wanted(e->local, strlen(e->local))) ||
	       (e->domain != NULL &&
		imap_downgrade_wanted(e->domain, strlen(e->domain))) ||
	       (e->route != NULL &&
		imap_downgrade_wanted(e->route, strlen(e->route)));
}

static void
write_phrase(struct buf *out, const char *name)
{
	if (imap_downgrade_wanted(name, strlen(name)))
		imap_downgrade_encode(out, name, strlen(name), " ");
	else
		write_word(out, name, true);
}

/* The value of an address field rebuilt entry by entry; false when it
 * does not parse (the caller falls back to imap_downgrade_text). */
static bool
downgrade_addresses(struct buf *out, const char *value, size_t len)
{
	struct header_address_limits lim;
	struct header_address_entry *entries;
	size_t count;
	bool sep = false, opened = false;

	header_address_limits_default(&lim);
	lim.allow_no_domain = true;
	if (header_address_list_parse_entries(value, len, &lim, &entries,
					      &count, NULL, NULL) < 0)
		return false;
	buf_putc(out, ' ');
	for (size_t i = 0; i < count; i++) {
		const struct header_address_entry *e = &entries[i];

		switch (e->type) {
		case HEADER_ADDRESS_ENTRY_GROUP_START:
			if (sep)
				buf_puts(out, ", ");
			write_phrase(out, e->name != NULL ? e->name : "");
			buf_putc(out, ':');
			sep = false;
			opened = true;
			continue;
		case HEADER_ADDRESS_ENTRY_GROUP_END:
			buf_putc(out, ';');
			sep = true;
			continue;
		case HEADER_ADDRESS_ENTRY_MAILBOX:
			break;
		}
		if (sep)
			buf_puts(out, ", ");
		else if (opened)
			buf_putc(out, ' ');
		sep = true;
		opened = false;
		if (entry_wanted(e)) {
			/* RFC 6858 3: no ASCII form; an empty group named
			 * after the address shows it */
			struct buf orig;

			buf_init(&orig);
			if (e->name != NULL) {
				buf_puts(&orig, e->name);
				buf_puts(&orig, " <");
			}
			write_addr_spec(&orig, e);
			if (e->name != NULL)
				buf_putc(&orig, '>');
			imap_downgrade_encode(out, orig.data, orig.len, " ");
			buf_puts(out, ":;");
			buf_deinit(&orig);
			continue;
		}
		if (e->name != NULL) {
			write_phrase(out, e->name);
			buf_puts(out, " <");
			write_addr_spec(out, e);
			buf_putc(out, '>');
		} else {
			write_addr_spec(out, e);
		}
	}
	header_address_entries_free(&entries, count);
	return true;
}

void
imap_downgrade_header(struct buf *out, const uint8_t *hdr, size_t len)
{
	const char *msg = (const char *)hdr;
	struct header_field_iter it;
	struct header_field f;
	size_t pos = 0;

	header_field_iter_init(&it, msg, len);
	while (header_field_next(&it, &f)) {
		size_t vstart;

		if (f.malformed || f.value_len == 0 ||
		    !imap_downgrade_wanted(f.value, f.value_len))
			continue;
		vstart = (size_t)(f.value - msg);
		/* the field up to its value as stored, then the value */
		buf_append(out, msg + pos, vstart - pos);
		pos = vstart + f.value_len;
		if (is_address_field(&f) &&
		    downgrade_addresses(out, f.value, f.value_len))
			continue;
		imap_downgrade_text(out, f.value, f.value_len, "\r\n ");
	}
	buf_append(out, msg + pos, len - pos);
}
