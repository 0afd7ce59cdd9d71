/* SPDX-License-Identifier: MIT */
/*
 * The selected mailbox's view (struct imap_mailbox) and mailbox-name
 * arguments: modified UTF-7 or UTF-8 (after ENABLE UTF8=ACCEPT or
 * IMAP4rev2) into the UTF-8 names the store keeps, INBOX in any case.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "imap/imap-utf7.h"
#include "lib/mem.h"
#include "lib/utf8.h"

ssize_t
imap_mailbox_find_uid(const struct imap_mailbox *box, uint32_t uid)
{
	size_t lo = 0, hi = box->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (box->msgs[mid].uid == uid)
			return (ssize_t)mid;
		if (box->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void
imap_mailbox_free(struct imap_mailbox **boxp)
{
	struct imap_mailbox *box = *boxp;

	if (box == NULL)
		return;
	if (box->snap != NULL)
		imap_view_release(box);
	for (size_t i = 0; i < box->count; i++)
		free(box->msgs[i].keywords);
	for (size_t i = 0; i < box->n_keywords; i++)
		free(box->keywords[i]);
	free(box->keywords);
	free(box->msgs);
	free(box->name);
	xfree(boxp);
}

int
imap_mailbox_arg(const struct imap_session *s, const struct imap_arg *arg,
		 char **name_r, const char **error_r)
{
	const char *str;
	size_t len;
	struct buf b;

	*name_r = NULL;
	if (!imap_arg_get_astring(arg, &str, &len)) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	if (len == 5 && strncasecmp(str, "INBOX", 5) == 0) {
		*name_r = xstrdup("INBOX");
		return 0;
	}
	buf_init(&b);
	if (s->utf8) {
		/* RFC 6855 3: names are UTF-8; the parser checked quoted
		 * strings, literals are checked here */
		if (!utf8_is_valid((const uint8_t *)str, len)) {
			buf_deinit(&b);
			*error_r = "Mailbox name is not valid UTF-8";
			return -1;
		}
		buf_append(&b, str, len);
	} else if (imap_utf7_to_utf8(str, len, &b, error_r) < 0) {
		buf_deinit(&b);
		return -1;
	}
	if (strlen(b.data) != b.len) {
		buf_deinit(&b);
		*error_r = "Mailbox name contains NUL";
		return -1;
	}
	/* "INBOX/x" names a child of INBOX whatever the case (RFC 9051
	 * 5.1: INBOX is case-insensitive, and so is it as a prefix) */
	if (b.len > 6 && strncasecmp(b.data, "INBOX/", 6) == 0)
		memcpy(b.data, "INBOX", 5);
	*name_r = buf_steal(&b);
	return 0;
}

static const struct {
	uint32_t bit;
	const char *name;
} system_flags[] = {
	{ STORE_FLAG_ANSWERED, "\\Answered" },
	{ STORE_FLAG_FLAGGED, "\\Flagged" },
	{ STORE_FLAG_DELETED, "\\Deleted" },
	{ STORE_FLAG_SEEN, "\\Seen" },
	{ STORE_FLAG_DRAFT, "\\Draft" },
};

void
imap_mailbox_write_flags(const struct imap_mailbox *box, struct buf *out)
{
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]);
	     i++) {
		if (i > 0)
			buf_putc(out, ' ');
		buf_puts(out, system_flags[i].name);
	}
	for (size_t i = 0; i < box->n_keywords; i++) {
		buf_putc(out, ' ');
		buf_puts(out, box->keywords[i]);
	}
}

void
imap_msg_write_flags(const struct imap_session *s,
		     const struct imap_mailbox *box,
		     const struct imap_msg *msg, struct buf *out)
{
	bool first = true;

	buf_putc(out, '(');
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]);
	     i++) {
		if (!(msg->flags & system_flags[i].bit))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, system_flags[i].name);
		first = false;
	}
	for (size_t i = 0; i < msg->n_keywords; i++) {
		if (msg->keywords[i] >= box->n_keywords)
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, box->keywords[msg->keywords[i]]);
		first = false;
	}
	if (msg->recent && !s->rev2) {
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, "\\Recent");
	}
	buf_putc(out, ')');
}

void
imap_mailbox_write_permanent_flags(const struct imap_session *s,
				   const struct imap_mailbox *box,
				   struct buf *out)
{
	uint32_t allowed = imap_acl_flags_allowed(box->rights);
	bool first = true;

	/* RFC 4314 5.1.1: only the flags the user's rights let it change */
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]);
	     i++) {
		if (!(allowed & system_flags[i].bit))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, system_flags[i].name);
		first = false;
	}
	if (!imap_acl_keywords_allowed(box->rights))
		return;
	for (size_t i = 0; i < box->n_keywords; i++) {
		buf_putc(out, ' ');
		buf_puts(out, box->keywords[i]);
	}
	/* \* only while the mailbox may take another keyword */
	if (s->set->keywords_max == 0 || box->n_keywords < s->set->keywords_max)
		buf_puts(out, first && box->n_keywords == 0 ? "\\*" : " \\*");
}
