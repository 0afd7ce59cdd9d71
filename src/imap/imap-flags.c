/* SPDX-License-Identifier: MIT */
/*
 * Flags as the writing commands take and give them: flag lists of STORE
 * and APPEND (system flags and keywords, RFC 9051 2.3.2), the session's
 * keyword list grown and announced with FLAGS before a new keyword is used
 * (CLIENT-QUIRKS), and uid-sets for UIDPLUS response codes (RFC 4315).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/mem.h"

static const struct {
	const char *name;
	uint32_t bit;
} system_flags[] = {
	{ "\\Seen", STORE_FLAG_SEEN },
	{ "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED },
	{ "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

void
imap_flag_args_deinit(struct imap_flag_args *f)
{
	free(f->keywords);
	memset(f, 0, sizeof(*f));
}

static int
flag_one(const struct imap_arg *arg, bool append, struct imap_flag_args *f,
	 size_t *cap, const char **error_r)
{
	const char *s = arg->str;

	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid flag";
		return -1;
	}
	if (s[0] == '\\') {
		for (size_t i = 0;
		     i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
			if (strcasecmp(s, system_flags[i].name) == 0) {
				f->flags |= system_flags[i].bit;
				return 0;
			}
		}
		/* RFC 3501 2.3.2: \Recent is the server's; a client copying
		 * a message with all its flags may still name it in APPEND
		 * (imapsync-style migrations), which loses nothing */
		if (append && strcasecmp(s, "\\Recent") == 0)
			return 0;
		*error_r = "Invalid system flag";
		return -1;
	}
	if (!store_keyword_is_valid(s)) {
		*error_r = "Invalid keyword";
		return -1;
	}
	for (size_t i = 0; i < f->n_keywords; i++)
		if (strcasecmp(f->keywords[i], s) == 0)
			return 0;
	if (f->n_keywords == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		f->keywords = xreallocarray(f->keywords, *cap,
					    sizeof(*f->keywords));
	}
	f->keywords[f->n_keywords++] = s;
	return 0;
}

int
imap_flag_args_parse(const struct imap_arg *args, size_t n, bool append,
		     struct imap_flag_args *f, const char **error_r)
{
	size_t cap = 0;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n; i++) {
		if (flag_one(&args[i], append, f, &cap, error_r) < 0) {
			imap_flag_args_deinit(f);
			return -1;
		}
	}
	return 0;
}

ssize_t
imap_mailbox_keyword_index(const struct imap_mailbox *box, const char *name)
{
	for (size_t i = 0; i < box->n_keywords; i++)
		if (strcasecmp(box->keywords[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

size_t
imap_mailbox_keywords_new(const struct imap_mailbox *box,
			  const char *const *names, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (imap_mailbox_keyword_index(box, names[i]) < 0)
			k++;
	return k;
}

uint32_t
imap_mailbox_keyword_add(struct imap_mailbox *box, const char *name,
			 bool *added_r)
{
	ssize_t i = imap_mailbox_keyword_index(box, name);

	if (i >= 0)
		return (uint32_t)i;
	/* the caller owns the view: its msg pointers are into it */
	assert(box->snap == NULL);
	box->keywords = xreallocarray(box->keywords, box->n_keywords + 1,
				      sizeof(*box->keywords));
	box->keywords[box->n_keywords] = xstrdup(name);
	*added_r = true;
	return (uint32_t)box->n_keywords++;
}

void
imap_mailbox_write_flags_update(struct imap_session *s)
{
	const struct imap_mailbox *box = s->box;
	struct buf *out = imap_session_out(s);

	/* RFC 9051 7.3.5: FLAGS before any FETCH that uses a new keyword
	 * (CLIENT-QUIRKS: clients drop or mangle unannounced ones) */
	buf_puts(out, "* FLAGS (");
	imap_mailbox_write_flags(box, out);
	buf_puts(out, ")\r\n");
	if (box->readonly)
		return;
	buf_puts(out, "* OK [PERMANENTFLAGS (");
	imap_mailbox_write_permanent_flags(s, box, out);
	buf_puts(out, ")] Flags permitted\r\n");
}

static int
idx_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
imap_msg_set_keywords(struct imap_mailbox *box, struct imap_msg *msg,
		      const char *const *names, size_t n, bool *added_r)
{
	assert(box->snap == NULL);
	free(msg->keywords);
	msg->keywords = NULL;
	msg->n_keywords = 0;
	if (n == 0)
		return;
	msg->keywords = xcalloc(n, sizeof(*msg->keywords));
	for (size_t i = 0; i < n; i++)
		msg->keywords[i] = imap_mailbox_keyword_add(box, names[i],
							    added_r);
	qsort(msg->keywords, n, sizeof(*msg->keywords), idx_cmp);
	msg->n_keywords = (uint16_t)n;
}

void
imap_write_uid_set(struct buf *out, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			buf_putc(out, ',');
		if (j > i)
			buf_printf(out, "%u:%u", uids[i], uids[j]);
		else
			buf_printf(out, "%u", uids[i]);
		i = j + 1;
	}
}

void
imap_copy_error(char *dst, size_t size, const char *error)
{
	snprintf(dst, size, "%s", error != NULL ? error : "?");
}
