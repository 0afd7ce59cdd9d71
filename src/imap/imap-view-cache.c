/* SPDX-License-Identifier: MIT */
/*
 * The worker's cache of mailbox views: SELECT shares an immutable
 * snapshot of the mailbox's messages (UID, flags, modseq, keywords and
 * what FETCH needs) instead of reading every row again, brings a stale
 * one up to date with a delta, and a session copies its view only when it
 * first changes it. Why it stays right across processes:
 * docs/ARCHITECTURE.md "The mailbox view cache".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/mem.h"

/* Mailboxes the cache names at most (a linear scan under the lock). */
#define VIEW_CACHE_ENTRIES 1024

struct imap_view_snap {
	atomic_size_t refs;
	int64_t mailbox_id;
	/* the mailbox row the messages are current with (read before
	 * them, or in the same read transaction) and the change counter
	 * read before both */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t modseq;
	uint64_t counter;
	struct imap_msg *msgs;	/* never expunged, never \Recent */
	size_t count;
	char **keywords;
	size_t n_keywords;
	uint64_t used;		/* LRU tick, under the cache's lock */
};

static struct {
	pthread_mutex_t lock;
	struct imap_view_snap *v[VIEW_CACHE_ENTRIES];
	size_t n;
	size_t msgs;		/* messages of the snapshots in v */
	uint64_t tick;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
snap_free(struct imap_view_snap *snap)
{
	for (size_t i = 0; i < snap->count; i++)
		free(snap->msgs[i].keywords);
	free(snap->msgs);
	for (size_t i = 0; i < snap->n_keywords; i++)
		free(snap->keywords[i]);
	free(snap->keywords);
	free(snap);
}

static void
snap_unref(struct imap_view_snap *snap)
{
	if (snap != NULL && atomic_fetch_sub(&snap->refs, 1) == 1)
		snap_free(snap);
}

static void
snap_ref(struct imap_view_snap *snap)
{
	atomic_fetch_add(&snap->refs, 1);
}

/* ---- the table (any thread) ---- */

static ssize_t
cache_find(int64_t mailbox_id)
{
	for (size_t i = 0; i < cache.n; i++)
		if (cache.v[i]->mailbox_id == mailbox_id)
			return (ssize_t)i;
	return -1;
}

static void
cache_drop(size_t i)
{
	struct imap_view_snap *snap = cache.v[i];

	cache.msgs -= snap->count;
	cache.v[i] = cache.v[--cache.n];
	snap_unref(snap);
}

/* The cached snapshot of the mailbox, referenced, or NULL. */
static struct imap_view_snap *
cache_get(int64_t mailbox_id)
{
	struct imap_view_snap *snap = NULL;
	ssize_t i;

	pthread_mutex_lock(&cache.lock);
	i = cache_find(mailbox_id);
	if (i >= 0) {
		snap = cache.v[i];
		snap->used = ++cache.tick;
		snap_ref(snap);
	}
	pthread_mutex_unlock(&cache.lock);
	return snap;
}

/* Keeps snap (a reference of the cache's own) in place of the mailbox's
 * older one, then drops the least recently used beyond max messages. */
static void
cache_put(struct imap_view_snap *snap, size_t max)
{
	ssize_t i;

	if (snap->count > max)
		return;
	pthread_mutex_lock(&cache.lock);
	i = cache_find(snap->mailbox_id);
	if (i >= 0)
		cache_drop((size_t)i);
	if (cache.n == VIEW_CACHE_ENTRIES) {
		size_t lru = 0;

		for (size_t k = 1; k < cache.n; k++)
			if (cache.v[k]->used < cache.v[lru]->used)
				lru = k;
		cache_drop(lru);
	}
	snap_ref(snap);
	snap->used = ++cache.tick;
	cache.v[cache.n++] = snap;
	cache.msgs += snap->count;
	while (cache.msgs > max && cache.n > 1) {
		size_t lru = SIZE_MAX;

		for (size_t k = 0; k < cache.n; k++)
			if (cache.v[k] != snap &&
			    (lru == SIZE_MAX ||
			     cache.v[k]->used < cache.v[lru]->used))
				lru = k;
		cache_drop(lru);
	}
	pthread_mutex_unlock(&cache.lock);
}

/* ---- building snapshots (pool threads) ---- */

static struct imap_view_snap *
snap_new(int64_t mailbox_id, uint64_t counter)
{
	struct imap_view_snap *snap = xcalloc(1, sizeof(*snap));

	atomic_init(&snap->refs, 1);
	snap->mailbox_id = mailbox_id;
	snap->counter = counter;
	return snap;
}

static void
msg_from_store(struct imap_msg *m, const struct store_message *sm)
{
	memset(m, 0, sizeof(*m));
	m->uid = sm->uid;
	m->flags = sm->flags;
	m->modseq = sm->modseq;
	m->internal_date = sm->internal_date;
	m->saved_date = sm->saved_date;
	m->size = sm->size;
	m->row_id = sm->id;
	memcpy(m->blob_id, sm->blob_id, sizeof(m->blob_id));
}

/* Every message of the mailbox, read after mb and counter. */
static enum store_result
snap_load(struct store *store, const struct store_mailbox *mb,
	  uint64_t counter, struct imap_view_snap **snap_r,
	  const char **error_r)
{
	struct store_message *msgs = NULL;
	struct store_keywords kw = { 0 };
	struct imap_view_snap *snap;
	size_t count = 0;
	enum store_result r;

	r = store_message_list_keywords(store, mb->id, &msgs, &count, &kw,
					error_r);
	if (r != STORE_OK)
		return r;
	snap = snap_new(mb->id, counter);
	snap->uidvalidity = mb->uidvalidity;
	snap->uidnext = mb->uidnext;
	snap->modseq = mb->highestmodseq;
	snap->count = count;
	snap->msgs = count > 0 ? xcalloc(count, sizeof(*snap->msgs)) : NULL;
	for (size_t i = 0; i < count; i++) {
		struct imap_msg *m = &snap->msgs[i];

		msg_from_store(m, &msgs[i]);
		/* the store's indexes are the view's: snap->keywords is
		 * its name list as it is */
		if (msgs[i].n_kw > 0) {
			m->keywords = xcalloc(msgs[i].n_kw,
					      sizeof(*m->keywords));
			memcpy(m->keywords, kw.refs + msgs[i].kw_first,
			       msgs[i].n_kw * sizeof(*m->keywords));
			m->n_keywords = (uint16_t)msgs[i].n_kw;
		}
	}
	snap->keywords = kw.names;
	snap->n_keywords = kw.n_names;
	kw.names = NULL;
	kw.n_names = 0;
	store_keywords_deinit(&kw);
	free(msgs);
	*snap_r = snap;
	return STORE_OK;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static ssize_t
snap_find_uid(const struct imap_view_snap *snap, uint32_t uid)
{
	size_t lo = 0, hi = snap->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (snap->msgs[mid].uid == uid)
			return (ssize_t)mid;
		if (snap->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* A change's keywords as sorted indexes into snap->keywords; false when
 * one is not in the list (cannot happen: the list is from the same read
 * transaction). */
static bool
keywords_set(const struct imap_view_snap *snap, struct imap_msg *m,
	     const struct store_message_change *c)
{
	free(m->keywords);
	m->keywords = NULL;
	m->n_keywords = 0;
	if (c->n_keywords == 0)
		return true;
	m->keywords = xcalloc(c->n_keywords, sizeof(*m->keywords));
	for (size_t i = 0; i < c->n_keywords; i++) {
		size_t k = 0;

		while (k < snap->n_keywords &&
		       strcasecmp(snap->keywords[k], c->keywords[i]) != 0)
			k++;
		if (k == snap->n_keywords)
			return false;
		m->keywords[m->n_keywords++] = (uint32_t)k;
	}
	qsort(m->keywords, m->n_keywords, sizeof(*m->keywords), cmp_u32);
	return true;
}

/* base brought up to date with d (read after counter): a new snapshot, or
 * NULL when d does not fit base (then the mailbox is read in full). */
static struct imap_view_snap *
snap_apply(const struct imap_view_snap *base, struct store_mailbox_delta *d,
	   uint64_t counter)
{
	struct imap_view_snap *snap;
	size_t cap, e = 0;

	/* a mailbox's keyword list only grows: base's indexes stay */
	/* a log pruned past base: what base holds and is gone cannot be
	 * told from the log, the full read can */
	if (d->uidvalidity != base->uidvalidity ||
	    d->n_keywords < base->n_keywords || d->expunged_partial)
		return NULL;
	for (size_t i = 0; i < base->n_keywords; i++)
		if (strcmp(base->keywords[i], d->keywords[i]) != 0)
			return NULL;
	snap = snap_new(base->mailbox_id, counter);
	snap->uidvalidity = d->uidvalidity;
	snap->uidnext = d->uidnext;
	snap->modseq = d->highestmodseq;
	snap->keywords = d->keywords;
	snap->n_keywords = d->n_keywords;
	d->keywords = NULL;
	d->n_keywords = 0;
	cap = base->count + d->n_changed;
	snap->msgs = cap > 0 ? xcalloc(cap, sizeof(*snap->msgs)) : NULL;
	/* both in UID order: the expunged ones are left out on the way */
	for (size_t i = 0; i < base->count; i++) {
		const struct imap_msg *m = &base->msgs[i];
		struct imap_msg *n;

		while (e < d->n_expunged && d->expunged[e] < m->uid)
			e++;
		if (e < d->n_expunged && d->expunged[e] == m->uid)
			continue;
		n = &snap->msgs[snap->count++];
		*n = *m;
		if (m->n_keywords > 0)
			n->keywords = xmemdup(m->keywords, m->n_keywords *
					      sizeof(*m->keywords));
	}
	for (size_t i = 0; i < d->n_changed; i++) {
		const struct store_message_change *c = &d->changed[i];
		ssize_t k = snap_find_uid(snap, c->msg.uid);
		struct imap_msg *m;

		if (k < 0) {
			/* UIDs only grow: an older one missing here was
			 * expunged (its row read before its log entry
			 * was, in no snapshot of ours) */
			if (snap->count > 0 &&
			    c->msg.uid <= snap->msgs[snap->count - 1].uid)
				continue;
			m = &snap->msgs[snap->count++];
			msg_from_store(m, &c->msg);
		} else {
			m = &snap->msgs[k];
			m->flags = c->msg.flags;
			m->modseq = c->msg.modseq;
		}
		if (!keywords_set(snap, m, c)) {
			snap_free(snap);
			return NULL;
		}
	}
	return snap;
}

enum store_result
imap_view_load(struct store *store, const struct store_mailbox *mb,
	       uint64_t counter, size_t cache_max, struct imap_mailbox *box,
	       const char **error_r)
{
	struct imap_view_snap *snap = NULL, *base = NULL;
	enum store_result r;

	if (cache_max > 0)
		base = cache_get(mb->id);
	if (base != NULL && base->uidvalidity == mb->uidvalidity &&
	    base->counter == counter && base->uidnext == mb->uidnext &&
	    base->modseq == mb->highestmodseq) {
		/* nothing committed since it was read: no counter move
		 * (published after each commit) and the same row (a
		 * commit not yet published, or never: a writer killed
		 * between its commit and its publish, moves UIDNEXT or
		 * HIGHESTMODSEQ) */
		snap = base;
		base = NULL;
	} else if (base != NULL && base->uidvalidity == mb->uidvalidity) {
		struct store_mailbox_delta d = { 0 };
		uint32_t uid_from = base->count > 0 ?
			base->msgs[base->count - 1].uid + 1 : 1;

		if (store_mailbox_delta(store, mb->id, base->modseq, uid_from,
					&d, error_r) == STORE_OK) {
			snap = snap_apply(base, &d, counter);
			store_mailbox_delta_free(&d);
		}
		if (snap != NULL)
			cache_put(snap, cache_max);
	}
	snap_unref(base);
	if (snap == NULL) {
		r = snap_load(store, mb, counter, &snap, error_r);
		if (r != STORE_OK)
			return r;
		if (cache_max > 0)
			cache_put(snap, cache_max);
	}
	box->snap = snap;
	box->msgs = snap->msgs;
	box->count = snap->count;
	box->alloc = 0;
	box->keywords = snap->keywords;
	box->n_keywords = snap->n_keywords;
	box->uidvalidity = snap->uidvalidity;
	box->uidnext = snap->uidnext;
	box->highestmodseq = snap->modseq;
	box->sync_modseq = snap->modseq;
	box->sync_counter = counter;
	return STORE_OK;
}

void
imap_mailbox_own(struct imap_mailbox *box)
{
	struct imap_view_snap *snap = box->snap;
	struct imap_msg *msgs = NULL;
	char **names = NULL;

	if (snap == NULL)
		return;
	if (box->count > 0) {
		msgs = xmemdup(box->msgs, box->count * sizeof(*msgs));
		for (size_t i = 0; i < box->count; i++)
			if (msgs[i].n_keywords > 0)
				msgs[i].keywords =
					xmemdup(msgs[i].keywords,
						msgs[i].n_keywords *
						sizeof(*msgs[i].keywords));
	}
	if (box->n_keywords > 0) {
		names = xcalloc(box->n_keywords, sizeof(*names));
		for (size_t i = 0; i < box->n_keywords; i++)
			names[i] = xstrdup(box->keywords[i]);
	}
	box->msgs = msgs;
	box->alloc = box->count;
	box->keywords = names;
	box->snap = NULL;
	snap_unref(snap);
}

void
imap_view_release(struct imap_mailbox *box)
{
	snap_unref(box->snap);
	box->snap = NULL;
	box->msgs = NULL;
	box->count = 0;
	box->keywords = NULL;
	box->n_keywords = 0;
}
