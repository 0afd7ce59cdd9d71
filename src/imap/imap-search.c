/* SPDX-License-Identifier: MIT */
/*
 * Evaluating a SEARCH program for one message: first on the view alone
 * (flags, keywords, UID, sequence number, size, internal date), which
 * decides most keys on the loop thread; then, on a pool thread, the keys
 * that need the message's text: header fields from the stored header
 * text, BODY and TEXT through the store's full-text index, each hit
 * confirmed on the text with the same folding (lib/unifold).
 */
#include "imap/imap-search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/unifold.h"
#include "store/store.h"

#define DAY_SECONDS 86400

static int64_t
day_of(int64_t t)
{
	/* floor division: dates before 1970 stay on their day */
	return t >= 0 ? t / DAY_SECONDS : -((-t + DAY_SECONDS - 1) /
					    DAY_SECONDS);
}

static bool
set_has(const struct imap_seqset *set, uint32_t n, uint32_t star,
	const struct imap_search_view *view, bool uid)
{
	if (set->saved) {
		/* "$" holds UIDs (RFC 5182); as a sequence set key it
		 * names the messages with those UIDs */
		size_t lo = 0, hi = view->n_saved;

		(void)uid;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (view->saved[mid] < n)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo < view->n_saved && view->saved[lo] == n;
	}
	for (size_t i = 0; i < set->count; i++) {
		uint32_t lo, hi;

		imap_seq_range_bounds(&set->ranges[i], star, &lo, &hi);
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}

/* The keys the view decides; MAYBE for the others. */
static enum imap_search_match
match_view(const struct imap_search_key *k,
	   const struct imap_search_view *view,
	   const struct imap_search_msg *m)
{
	enum imap_search_match r, c;

	switch (k->type) {
	case IMAP_SK_ALL:
		return IMAP_SEARCH_YES;
	case IMAP_SK_AND:
		r = IMAP_SEARCH_YES;
		for (size_t i = 0; i < k->n_children; i++) {
			c = match_view(&k->children[i], view, m);
			if (c == IMAP_SEARCH_NO)
				return IMAP_SEARCH_NO;
			if (c == IMAP_SEARCH_MAYBE)
				r = IMAP_SEARCH_MAYBE;
		}
		return r;
	case IMAP_SK_OR:
		r = IMAP_SEARCH_NO;
		for (size_t i = 0; i < k->n_children; i++) {
			c = match_view(&k->children[i], view, m);
			if (c == IMAP_SEARCH_YES)
				return IMAP_SEARCH_YES;
			if (c == IMAP_SEARCH_MAYBE)
				r = IMAP_SEARCH_MAYBE;
		}
		return r;
	case IMAP_SK_NOT:
		c = match_view(&k->children[0], view, m);
		return c == IMAP_SEARCH_MAYBE ? c :
		       c == IMAP_SEARCH_YES ? IMAP_SEARCH_NO : IMAP_SEARCH_YES;
	case IMAP_SK_FLAGS:
		return (m->flags & k->flags) == k->flags;
	case IMAP_SK_UNFLAGS:
		return (m->flags & k->flags) == 0;
	case IMAP_SK_KEYWORD:
		return (m->keywords >> k->kw) & 1;
	case IMAP_SK_UNKEYWORD:
		return !((m->keywords >> k->kw) & 1);
	case IMAP_SK_RECENT:
		return m->recent;
	case IMAP_SK_NEW:
		return m->recent && (m->flags & STORE_FLAG_SEEN) == 0;
	case IMAP_SK_OLD:
		return !m->recent;
	case IMAP_SK_BEFORE:
		return day_of(m->internal_date) < k->day;
	case IMAP_SK_ON:
		return day_of(m->internal_date) == k->day;
	case IMAP_SK_SINCE:
		return day_of(m->internal_date) >= k->day;
	case IMAP_SK_SAVEDBEFORE:
		return day_of(m->saved_date) < k->day;
	case IMAP_SK_SAVEDON:
		return day_of(m->saved_date) == k->day;
	case IMAP_SK_SAVEDSINCE:
		return day_of(m->saved_date) >= k->day;
	case IMAP_SK_OLDER:
		return m->internal_date < k->since;
	case IMAP_SK_YOUNGER:
		return m->internal_date >= k->since;
	case IMAP_SK_MODSEQ:
		return m->modseq >= k->size;
	case IMAP_SK_LARGER:
		return m->size > k->size;
	case IMAP_SK_SMALLER:
		return m->size < k->size;
	case IMAP_SK_SEQ:
		return set_has(&k->set, k->set.saved ? m->uid : m->seq,
			       view->last_seq, view, false);
	case IMAP_SK_UID:
		return set_has(&k->set, m->uid, view->last_uid, view, true);
	case IMAP_SK_UIDAFTER:
		return m->uid > k->size;
	case IMAP_SK_UIDBEFORE:
		return m->uid < k->size;
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
	case IMAP_SK_HEADER:
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
	case IMAP_SK_EMAILID:
	case IMAP_SK_THREADID:
		return IMAP_SEARCH_MAYBE;
	}
	return IMAP_SEARCH_NO;
}

static bool
in_scope(const struct imap_search_key *k, const struct imap_search_view *view,
	 const struct imap_search_msg *m)
{
	for (size_t i = 0; i < k->n_children; i++) {
		const struct imap_search_key *c = &k->children[i];

		if ((c->type == IMAP_SK_AND && !in_scope(c, view, m)) ||
		    ((c->type == IMAP_SK_SEQ || c->type == IMAP_SK_UID ||
		      c->type == IMAP_SK_UIDAFTER ||
		      c->type == IMAP_SK_UIDBEFORE) &&
		     match_view(c, view, m) != IMAP_SEARCH_YES))
			return false;
	}
	return true;
}

bool
imap_search_in_scope(const struct imap_search_program *prog,
		     const struct imap_search_view *view,
		     const struct imap_search_msg *msg)
{
	return in_scope(&prog->root, view, msg);
}

enum imap_search_match
imap_search_match_view(const struct imap_search_program *prog,
		       const struct imap_search_view *view,
		       const struct imap_search_msg *msg)
{
	return match_view(&prog->root, view, msg);
}

/* ---- with the store ---- */

/* One message's text, read when a key first needs it. */
struct msg_text {
	struct store_search *search;
	const struct imap_search_msg *msg;
	int64_t doc;
	bool doc_known;
	bool hdr_read, body_read;
	struct buf hdr, body;
	int64_t sent_day;	/* -2: not computed */
	const char *error;
	bool failed;
};

static bool
mt_doc(struct msg_text *t)
{
	if (!t->doc_known) {
		if (store_search_doc(t->search, t->msg->blob_id, &t->doc,
				     &t->error) != STORE_OK) {
			t->failed = true;
			return false;
		}
		t->doc_known = true;
	}
	return true;
}

static bool
mt_read(struct msg_text *t, bool body)
{
	if (t->hdr_read && (!body || t->body_read))
		return true;
	if (!mt_doc(t))
		return false;
	buf_reset(&t->hdr);
	buf_reset(&t->body);
	if (store_search_text(t->search, t->doc, t->msg->blob_id, &t->hdr,
			      body ? &t->body : NULL, &t->error) != STORE_OK) {
		t->failed = true;
		return false;
	}
	t->hdr_read = true;
	t->body_read = body;
	return true;
}

/* Whether a field named name (ASCII case-insensitive) holds needle;
 * an empty needle matches a field that is there (RFC 9051 HEADER). */
static bool
hdr_has(const struct buf *hdr, const char *name, const char *needle,
	size_t nlen)
{
	size_t namelen = strlen(name);
	const char *p = hdr->data, *end = hdr->data + hdr->len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) >= namelen + 1 && p[namelen] == ':' &&
		    strncasecmp(p, name, namelen) == 0) {
			const char *v = p + namelen + 1;

			if (v < eol && *v == ' ')
				v++;
			if (unifold_contains(v, (size_t)(eol - v), needle,
					     nlen))
				return true;
		}
		p = eol + 1;
	}
	return false;
}

static int64_t
mt_sent_day(struct msg_text *t)
{
	static const char date[] = "date:";

	if (t->sent_day != -2)
		return t->sent_day;
	t->sent_day = -1;
	for (const char *p = t->hdr.data, *end = p + t->hdr.len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > 5 && strncasecmp(p, date, 5) == 0) {
			t->sent_day = imap_search_date_day(p + 5,
							   (size_t)(eol - p -
								    5));
			break;
		}
		p = eol + 1;
	}
	/* no usable Date field: the internal date stands in, as the
	 * date the message was sent is unknown (Dovecot does the same) */
	if (t->sent_day < 0)
		t->sent_day = day_of(t->msg->internal_date);
	return t->sent_day;
}

static bool
docs_have(const int64_t *docs, size_t n, int64_t doc)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (docs[mid] < doc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && docs[lo] == doc;
}

/* BODY / TEXT: the index rules a message out when it holds the
 * message's text and could look the needle up; the text decides the
 * rest. */
static bool
match_text(struct imap_search_key *k, struct msg_text *t)
{
	bool body_only = k->type == IMAP_SK_BODY;

	if (!k->lookup_done) {
		size_t chars = 0;

		for (size_t i = 0; i < k->str_len; i++)
			if (((unsigned char)k->str[i] & 0xc0) != 0x80)
				chars++;
		k->lookup_done = true;
		if (chars >= STORE_SEARCH_NEEDLE_MIN &&
		    memchr(k->str, '\0', k->str_len) == NULL) {
			if (store_search_match(t->search, k->str, body_only,
					       &k->docs, &k->n_docs,
					       &t->error) != STORE_OK) {
				t->failed = true;
				return false;
			}
			k->lookup_usable = true;
		}
	}
	if (k->str_len == 0)
		return true;
	if (k->lookup_usable) {
		if (!mt_doc(t))
			return false;
		if (t->doc != 0 && !docs_have(k->docs, k->n_docs, t->doc))
			return false;
	}
	if (!mt_read(t, true))
		return false;
	if (unifold_contains(t->body.data, t->body.len, k->str, k->str_len))
		return true;
	return !body_only && unifold_contains(t->hdr.data, t->hdr.len,
					      k->str, k->str_len);
}

static bool
match_store(struct imap_search_key *k, const struct imap_search_view *view,
	    struct msg_text *t)
{
	switch (k->type) {
	case IMAP_SK_AND:
		for (size_t i = 0; i < k->n_children && !t->failed; i++)
			if (!match_store(&k->children[i], view, t))
				return false;
		return !t->failed;
	case IMAP_SK_OR:
		for (size_t i = 0; i < k->n_children && !t->failed; i++)
			if (match_store(&k->children[i], view, t))
				return true;
		return false;
	case IMAP_SK_NOT:
		return !match_store(&k->children[0], view, t);
	case IMAP_SK_HEADER:
		if (!mt_read(t, false))
			return false;
		return hdr_has(&t->hdr, k->field, k->str, k->str_len);
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		if (!mt_read(t, false))
			return false;
		if (k->type == IMAP_SK_SENTBEFORE)
			return mt_sent_day(t) < k->day;
		if (k->type == IMAP_SK_SENTON)
			return mt_sent_day(t) == k->day;
		return mt_sent_day(t) >= k->day;
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return match_text(k, t);
	case IMAP_SK_EMAILID:
		/* objectids are case-sensitive (RFC 8474 4) */
		return t->msg->email_id != NULL &&
		       strcmp(t->msg->email_id, k->str) == 0;
	case IMAP_SK_THREADID:
		return t->msg->thread_id != NULL &&
		       strcmp(t->msg->thread_id, k->str) == 0;
	default:
		return match_view(k, view, t->msg) == IMAP_SEARCH_YES;
	}
}

int
imap_search_match_store(struct imap_search_program *prog,
			const struct imap_search_view *view,
			const struct imap_search_msg *msg,
			struct store_search *search, bool *match_r,
			const char **error_r)
{
	struct msg_text t = { .search = search, .msg = msg, .sent_day = -2,
			      .doc = msg->doc, .doc_known = msg->doc_known };
	bool match;

	buf_init(&t.hdr);
	buf_init(&t.body);
	match = match_store(&prog->root, view, &t);
	buf_deinit(&t.hdr);
	buf_deinit(&t.body);
	if (t.failed) {
		*error_r = t.error != NULL ? t.error : "search failed";
		return -1;
	}
	*match_r = match;
	return 0;
}
