/* SPDX-License-Identifier: MIT */
/*
 * CATENATE (RFC 4469): an APPEND message put together from TEXT literals
 * and URL parts, each URL (RFC 5092, imap-url.c) naming a message or a
 * section of one in the user's mailboxes or in one shared with it ("r").
 * The parts are checked on the loop thread; the message is built on the
 * pool, before APPEND stores it as any other (imap-cmd-append.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-acl.h"
#include "imap/imap-bodystructure.h"
#include "imap/imap-header-fields.h"
#include "imap/imap-private.h"
#include "imap/imap-url.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mail/mime-cache.h"

int
imap_catenate_parse(const struct imap_arg *list,
		    struct imap_cat_part **parts_r, size_t *n_r,
		    const char **error_r)
{
	struct imap_cat_part *parts;
	size_t n = 0;

	*parts_r = NULL;
	*n_r = 0;
	if (list->type != IMAP_ARG_LIST || list->list_count == 0 ||
	    list->list_count % 2 != 0) {
		*error_r = "CATENATE takes a list of TEXT and URL parts";
		return -1;
	}
	parts = xcalloc(list->list_count / 2, sizeof(*parts));
	for (size_t i = 0; i < list->list_count; i += 2) {
		const struct imap_arg *k = &list->list[i];
		const struct imap_arg *v = &list->list[i + 1];
		struct imap_cat_part *p = &parts[n++];

		if (imap_arg_atom_equals(k, "TEXT") &&
		    (v->type == IMAP_ARG_LITERAL ||
		     v->type == IMAP_ARG_LITERAL8)) {
			p->data = v->str;
			p->len = v->len;
		} else if (imap_arg_atom_equals(k, "URL") &&
			   imap_arg_get_astring(v, &p->data, &p->len)) {
			p->url = true;
		} else {
			free(parts);
			*error_r = "CATENATE parts are TEXT literal or URL "
				   "url";
			return -1;
		}
	}
	*parts_r = parts;
	*n_r = n;
	return 0;
}

/* The octets the URL names, appended to out; false (BADURL) when it
 * names nothing this account may read, or -1 through *failed for a store
 * failure (*error_r set). */
static bool
url_fetch(const struct imap_cat_ctx *ctx, const struct imap_url *url,
	  struct buf *out, enum store_result *failed, const char **error_r)
{
	struct store_mailbox *mb = NULL;
	struct imap_acl_box acl;
	enum imap_acl_verdict verdict;
	struct imap_mailbox box;
	struct mime_cache *cache = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	const uint8_t *p;
	uint64_t size;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	char *name;
	bool ok = false;
	ssize_t at;
	enum store_result r;

	*failed = STORE_OK;
	/* RFC 4469 5: a URL of this server; one naming another user is
	 * refused (no URLAUTH here), the host is not checked (the server's
	 * own names are not all known to it) */
	if (url->urlauth || (url->user != NULL &&
			     strcasecmp(url->user, ctx->user) != 0))
		return false;
	if (!utf8_is_valid((const uint8_t *)url->mailbox,
			   strlen(url->mailbox)))
		return false;
	name = xstrdup(url->mailbox);
	/* INBOX in any case, also as the first level (imap_mailbox_arg) */
	if (strncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == '/'))
		memcpy(name, "INBOX", 5);
	/* a shared mailbox needs "r" (RFC 4314 4, as FETCH); without it
	 * the URL is as bad as one naming no mailbox (RFC 4314 6) */
	r = imap_acl_open(ctx->store, ctx->account_id, name, STORE_ACL_READ,
			  &acl, &verdict, error_r);
	free(name);
	if (r != STORE_OK) {
		imap_acl_box_deinit(&acl);
		*failed = r;
		return false;
	}
	if (verdict != IMAP_ACL_OK) {
		imap_acl_box_deinit(&acl);
		return false;
	}
	mb = acl.mb;
	acl.mb = NULL;
	imap_acl_box_deinit(&acl);
	if (url->uidvalidity != 0 && url->uidvalidity != mb->uidvalidity) {
		store_mailbox_free(&mb);
		return false;
	}
	memset(&box, 0, sizeof(box));
	r = imap_view_load(ctx->store, mb,
			   store_change_counter(ctx->store,
						STORE_WATCH_MAILBOX, mb->id),
			   ctx->cache_max, &box, error_r);
	store_mailbox_free(&mb);
	if (r != STORE_OK) {
		*failed = r;
		return false;
	}
	at = imap_mailbox_find_uid(&box, url->uid);
	if (at < 0) {
		imap_view_release(&box);
		return false;
	}
	memcpy(blob_id, box.msgs[at].blob_id, sizeof(blob_id));
	size = box.msgs[at].size;
	imap_view_release(&box);
	r = store_blob_read(ctx->store, blob_id, &data, &len, error_r);
	if (r != STORE_OK) {
		*failed = r == STORE_E_NOT_FOUND ? STORE_OK : r;
		return false;
	}
	p = data;
	size = len;
	if (url->section != NULL) {
		struct imap_section sec;
		const char *why;

		r = store_mime_get(ctx->store, blob_id, len, &cache, error_r);
		if (r != STORE_OK) {
			*failed = r;
			goto out;
		}
		if (imap_section_resolve(cache->root, url->section, &sec,
					 &why) != IMAP_SECTION_OK ||
		    sec.offset > len || sec.size > len - sec.offset)
			goto out;
		p = data + sec.offset;
		size = sec.size;
		if (sec.kind == IMAP_SECTION_HEADER_FIELDS ||
		    sec.kind == IMAP_SECTION_HEADER_FIELDS_NOT) {
			struct imap_header_fields fields;
			struct buf tmp;

			if (imap_header_fields_parse(
				    sec.fields, IMAP_HEADER_FIELDS_NAMES_DEFAULT,
				    &fields, &why) < 0)
				goto out;
			buf_init(&tmp);
			imap_header_fields_write(&tmp, p, (size_t)size,
						 &fields, sec.kind ==
						 IMAP_SECTION_HEADER_FIELDS_NOT);
			imap_header_fields_deinit(&fields);
			free(data);
			size = tmp.len;
			data = (uint8_t *)buf_steal(&tmp);
			p = data;
		}
	}
	if (url->partial) {
		/* RFC 5092 3: octets offset.. of what the section is */
		uint64_t off = url->partial_offset < size ?
			url->partial_offset : size;
		uint64_t n = size - off;

		if (url->partial_length > 0 && url->partial_length < n)
			n = url->partial_length;
		p += off;
		size = n;
	}
	buf_append(out, p, (size_t)size);
	ok = true;
out:
	if (cache != NULL)
		mime_cache_free(&cache);
	free(data);
	return ok;
}

enum imap_cat_result
imap_catenate_build(const struct imap_cat_ctx *ctx,
		    const struct imap_cat_part *parts, size_t n,
		    struct buf *out, size_t *bad_part_r,
		    enum store_result *store_r, const char **error_r)
{
	*store_r = STORE_OK;
	for (size_t i = 0; i < n; i++) {
		const struct imap_cat_part *p = &parts[i];

		*bad_part_r = i;
		if (p->url) {
			struct imap_url url;
			const char *why;
			bool ok;

			if (imap_url_parse(p->data, p->len, &url, &why) < 0)
				return IMAP_CAT_BADURL;
			ok = url_fetch(ctx, &url, out, store_r, error_r);
			imap_url_deinit(&url);
			if (*store_r != STORE_OK)
				return IMAP_CAT_STORE_ERROR;
			if (!ok)
				return IMAP_CAT_BADURL;
		} else {
			buf_append(out, p->data, p->len);
		}
		/* RFC 4469 6: over APPENDLIMIT is [TOOBIG] */
		if (out->len > ctx->max)
			return IMAP_CAT_TOOBIG;
	}
	return IMAP_CAT_OK;
}
