/* SPDX-License-Identifier: MIT */
/*
 * Thread keys of a message: Message-ID, In-Reply-To, the last References
 * and the base subject, from one pass over the header fields. The store
 * joins a message to a thread of its account through them.
 */
#include "mail/thread-keys.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/unicasemap.h"
#include "mail/basesubject.h"
#include "mail/header-field.h"

const struct mail_thread_limits mail_thread_limits_default = {
	.refs_max = MAIL_THREAD_REFS_MAX_DEFAULT,
	.msgid_max = MAIL_THREAD_MSGID_MAX_DEFAULT,
	.subject_max = MAIL_THREAD_SUBJECT_MAX_DEFAULT,
	.header_max = MAIL_THREAD_HEADER_MAX_DEFAULT,
};

void
mail_skip_cfws(const char *v, size_t len, size_t *i)
{
	while (*i < len) {
		if (v[*i] == ' ' || v[*i] == '\t' || v[*i] == '\r' ||
		    v[*i] == '\n') {
			(*i)++;
		} else if (v[*i] == '(') {
			unsigned depth = 0;

			for (; *i < len; (*i)++) {
				if (v[*i] == '\\' && *i + 1 < len)
					(*i)++;
				else if (v[*i] == '(')
					depth++;
				else if (v[*i] == ')' && --depth == 0)
					break;
			}
			if (*i < len)
				(*i)++;
		} else {
			return;
		}
	}
}

bool
mail_msgid_next(const char *v, size_t len, size_t *pos, const char **id_r,
		size_t *id_len_r)
{
	size_t i = *pos;

	while (i < len) {
		size_t start, at = 0;

		if (v[i] == '(') {
			mail_skip_cfws(v, len, &i);
			continue;
		}
		if (v[i] != '<') {
			i++;
			continue;
		}
		start = ++i;
		/* id-left "@" id-right, no white space, brackets or
		 * controls inside */
		while (i < len && v[i] != '>' && v[i] != '<' &&
		       (unsigned char)v[i] > ' ' && v[i] != 0x7f) {
			if (v[i] == '@')
				at = i;
			i++;
		}
		if (i < len && v[i] == '>' && at > start && at + 1 < i) {
			*id_r = v + start;
			*id_len_r = i - start;
			*pos = i + 1;
			return true;
		}
	}
	*pos = len;
	return false;
}

static bool
known(const struct mail_thread_keys *k, const char *id, size_t len)
{
	if (k->message_id != NULL && strlen(k->message_id) == len &&
	    memcmp(k->message_id, id, len) == 0)
		return true;
	for (size_t i = 0; i < k->n_refs; i++)
		if (strlen(k->refs[i]) == len &&
		    memcmp(k->refs[i], id, len) == 0)
			return true;
	return false;
}

static void
add_ref(struct mail_thread_keys *k, const struct mail_thread_limits *lim,
	const char *id, size_t len)
{
	if (len > lim->msgid_max || known(k, id, len) ||
	    k->n_refs >= lim->refs_max)
		return;
	if (k->refs == NULL)
		k->refs = xcalloc(lim->refs_max, sizeof(*k->refs));
	k->refs[k->n_refs++] = xstrndup(id, len);
}

void
mail_thread_keys_parse(const char *msg, size_t len,
		       const struct mail_thread_limits *lim,
		       struct mail_thread_keys *keys_r)
{
	struct header_field_iter it;
	struct header_field f;
	struct header_field irt = { 0 }, refs = { 0 }, subj = { 0 };
	bool have_irt = false, have_refs = false, have_subj = false;
	const char *id;
	size_t pos, idlen, total = 0, skip, room;
	struct buf bs, cm;

	memset(keys_r, 0, sizeof(*keys_r));
	if (len > lim->header_max)
		len = lim->header_max;
	header_field_iter_init(&it, msg, len);
	while (header_field_next(&it, &f)) {
		/* the first of each, as readers show it */
		if (header_field_is(&f, "message-id") &&
		    keys_r->message_id == NULL) {
			pos = 0;
			if (mail_msgid_next(f.value, f.value_len, &pos, &id,
					    &idlen) &&
			    idlen <= lim->msgid_max)
				keys_r->message_id = xstrndup(id, idlen);
		} else if (header_field_is(&f, "in-reply-to") && !have_irt) {
			irt = f;
			have_irt = true;
		} else if (header_field_is(&f, "references") && !have_refs) {
			refs = f;
			have_refs = true;
		} else if (header_field_is(&f, "subject") && !have_subj) {
			subj = f;
			have_subj = true;
		}
	}
	/* In-Reply-To's first id: the parent, most likely to be here */
	pos = 0;
	if (have_irt && mail_msgid_next(irt.value, irt.value_len, &pos, &id,
					&idlen))
		add_ref(keys_r, lim, id, idlen);
	/* then the last References, nearest the message first */
	pos = 0;
	while (have_refs && mail_msgid_next(refs.value, refs.value_len, &pos,
					    &id, &idlen))
		total++;
	room = lim->refs_max > keys_r->n_refs ?
	       lim->refs_max - keys_r->n_refs : 0;
	skip = total > room ? total - room : 0;
	pos = 0;
	for (size_t k = 0; have_refs && mail_msgid_next(refs.value,
				refs.value_len, &pos, &id, &idlen); k++)
		if (k >= skip)
			add_ref(keys_r, lim, id, idlen);
	/* compared as THREAD=REFERENCES does: i;unicode-casemap */
	buf_init(&bs);
	buf_init(&cm);
	if (have_subj)
		mail_base_subject(subj.value, subj.value_len, &bs);
	unicasemap_append(bs.data != NULL ? bs.data : "", bs.len, &cm);
	keys_r->base_subject = xstrndup(cm.data != NULL ? cm.data : "",
					cm.len < lim->subject_max ?
					cm.len : lim->subject_max);
	buf_deinit(&cm);
	buf_deinit(&bs);
}

void
mail_thread_keys_deinit(struct mail_thread_keys *keys)
{
	free(keys->message_id);
	for (size_t i = 0; i < keys->n_refs; i++)
		free(keys->refs[i]);
	free(keys->refs);
	free(keys->base_subject);
	memset(keys, 0, sizeof(*keys));
}
