/* SPDX-License-Identifier: MIT */
/*
 * ENVELOPE from header bytes: one linear pass picks the first of each of
 * the ten fields, then each is written as an nstring or an address list.
 * Address parsing is mail/header-address's, under its limits.
 */
#include <string.h>

#include "imap/imap-envelope.h"
#include "imap/imap-downgrade.h"
#include "imap/imap-write.h"
#include "lib/buf.h"
#include "mail/header-address.h"
#include "mail/header-field.h"
#include "mail/mime.h"

enum env_field {
	ENV_DATE,
	ENV_SUBJECT,
	ENV_FROM,
	ENV_SENDER,
	ENV_REPLY_TO,
	ENV_TO,
	ENV_CC,
	ENV_BCC,
	ENV_IN_REPLY_TO,
	ENV_MESSAGE_ID,
	ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
	"Date", "Subject", "From", "Sender", "Reply-To",
	"To", "Cc", "Bcc", "In-Reply-To", "Message-ID",
};

struct env_value {
	const char *value;	/* NULL: absent */
	size_t len;
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Unfolds (RFC 5322 2.2.3: the line breaks go, the white space stays)
 * and trims; lone CR and LF go too, as header-field.h reads them as
 * line breaks. */
static void
write_unstructured(struct buf *out, const struct env_value *v,
		   unsigned int flags)
{
	struct buf text;
	size_t from = 0, to = v->len;

	if (v->value == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	while (from < to && is_wsp(v->value[from]))
		from++;
	while (to > from && is_wsp(v->value[to - 1]))
		to--;
	buf_init(&text);
	for (size_t i = from; i < to; i++) {
		if (v->value[i] != '\r' && v->value[i] != '\n')
			buf_putc(&text, v->value[i]);
	}
	imap_write_string(out, text.data, text.len, flags);
	buf_deinit(&text);
}

static void
write_cstr(struct buf *out, const char *s, unsigned int flags)
{
	imap_write_nstring(out, s, s == NULL ? 0 : strlen(s), flags);
}

static bool
wanted(const char *s)
{
	return s != NULL && imap_downgrade_wanted(s, strlen(s));
}

/* For a session without UTF8=ACCEPT, an address whose local part or
 * domain is UTF-8 has no form it can read: RFC 6858 3 makes it an empty
 * group named after the address, which is shown but not replied to. */
static bool
downgrade_group(struct buf *out, const struct header_address_entry *e,
		unsigned int flags)
{
	struct buf orig, ew;

	if ((flags & (IMAP_WRITE_DOWNGRADE | IMAP_WRITE_UTF8)) !=
	    IMAP_WRITE_DOWNGRADE ||
	    !(wanted(e->local) || wanted(e->domain) || wanted(e->route)))
		return false;
	buf_init(&orig);
	if (e->name != NULL)
		buf_printf(&orig, "%s <", e->name);
	buf_printf(&orig, "%s@%s", e->local != NULL ? e->local : "",
		   e->domain != NULL ? e->domain : "");
	if (e->name != NULL)
		buf_putc(&orig, '>');
	buf_init(&ew);
	imap_downgrade_encode(&ew, orig.data, orig.len, " ");
	buf_puts(out, "(NIL NIL ");
	imap_write_string(out, ew.data, ew.len, 0);
	buf_puts(out, " NIL)(NIL NIL NIL NIL)");
	buf_deinit(&ew);
	buf_deinit(&orig);
	return true;
}

/* Writes the address list of v, or nothing and returns false when it has
 * no entries or does not parse. */
static bool
write_addresses(struct buf *out, const struct env_value *v,
		const struct header_address_limits *limits,
		unsigned int flags)
{
	struct header_address_entry *entries;
	size_t count;

	if (v->value == NULL ||
	    header_address_list_parse_entries(v->value, v->len, limits,
					      &entries, &count, NULL,
					      NULL) < 0)
		return false;
	if (count == 0)
		return false;
	buf_putc(out, '(');
	for (size_t i = 0; i < count; i++) {
		const struct header_address_entry *e = &entries[i];

		if (e->type == HEADER_ADDRESS_ENTRY_MAILBOX &&
		    downgrade_group(out, e, flags))
			continue;
		buf_putc(out, '(');
		switch (e->type) {
		case HEADER_ADDRESS_ENTRY_MAILBOX:
			write_cstr(out, e->name, flags);
			buf_putc(out, ' ');
			write_cstr(out, e->route, flags);
			buf_putc(out, ' ');
			write_cstr(out, e->local, flags);
			buf_putc(out, ' ');
			write_cstr(out, e->domain != NULL ? e->domain :
				   "MISSING_DOMAIN", flags);
			break;
		case HEADER_ADDRESS_ENTRY_GROUP_START:
			/* RFC 3501 7.4.2: mailbox holds the group name */
			buf_puts(out, "NIL NIL ");
			write_cstr(out, e->name != NULL ? e->name : "", flags);
			buf_puts(out, " NIL");
			break;
		case HEADER_ADDRESS_ENTRY_GROUP_END:
			buf_puts(out, "NIL NIL NIL NIL");
			break;
		}
		buf_putc(out, ')');
	}
	buf_putc(out, ')');
	header_address_entries_free(&entries, count);
	return true;
}

static void
write_address_field(struct buf *out, const struct env_value *v,
		    const struct env_value *fallback,
		    const struct header_address_limits *limits,
		    unsigned int flags)
{
	if (write_addresses(out, v, limits, flags))
		return;
	if (fallback == NULL || !write_addresses(out, fallback, limits, flags))
		buf_puts(out, "NIL");
}

void
imap_envelope_write(struct buf *out, const char *msg, size_t len,
		    const struct header_address_limits *limits,
		    unsigned int flags)
{
	struct env_value v[ENV_COUNT];
	struct header_address_limits def;
	struct header_field_iter it;
	struct header_field f;

	if (limits == NULL) {
		header_address_limits_default(&def);
		def.allow_no_domain = true;
		limits = &def;
	}
	memset(v, 0, sizeof(v));
	header_field_iter_init(&it, msg, len);
	while (header_field_next(&it, &f)) {
		/* a line without a colon is no field, whatever its text */
		if (f.malformed)
			continue;
		for (size_t i = 0; i < ENV_COUNT; i++) {
			if (v[i].value == NULL &&
			    header_field_is(&f, env_names[i])) {
				v[i].value = f.value;
				v[i].len = f.value_len;
				break;
			}
		}
	}

	buf_putc(out, '(');
	write_unstructured(out, &v[ENV_DATE], flags);
	buf_putc(out, ' ');
	write_unstructured(out, &v[ENV_SUBJECT], flags);
	buf_putc(out, ' ');
	write_address_field(out, &v[ENV_FROM], NULL, limits, flags);
	buf_putc(out, ' ');
	write_address_field(out, &v[ENV_SENDER], &v[ENV_FROM], limits, flags);
	buf_putc(out, ' ');
	write_address_field(out, &v[ENV_REPLY_TO], &v[ENV_FROM], limits,
			    flags);
	for (size_t i = ENV_TO; i <= ENV_BCC; i++) {
		buf_putc(out, ' ');
		write_address_field(out, &v[i], NULL, limits, flags);
	}
	buf_putc(out, ' ');
	write_unstructured(out, &v[ENV_IN_REPLY_TO], flags);
	buf_putc(out, ' ');
	write_unstructured(out, &v[ENV_MESSAGE_ID], flags);
	buf_putc(out, ')');
}

void
imap_envelope_part_write(struct buf *out, const struct mime_part *msg,
			 const uint8_t *msg_data, size_t msg_size,
			 void *context)
{
	const unsigned int *flags = context;

	if (msg->header_offset > msg_size ||
	    msg->header_size > msg_size - msg->header_offset) {
		imap_envelope_write(out, "", 0, NULL, 0);
		return;
	}
	imap_envelope_write(out, (const char *)msg_data + msg->header_offset,
			    (size_t)msg->header_size, NULL,
			    flags != NULL ? *flags : 0);
}
