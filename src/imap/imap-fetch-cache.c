/* SPDX-License-Identifier: MIT */
/*
 * The worker's cache of rendered FETCH items: ENVELOPE, BODY and
 * BODYSTRUCTURE as sent, keyed by the message's blob id (its content's
 * hash, so an entry is never stale) and how it was written. A client that
 * lists a mailbox again gets them without the MIME record read and the
 * address parsing (docs/ARCHITECTURE.md "The mailbox view cache").
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "lib/mem.h"

/* Hash buckets (a power of two); chains stay short up to a few hundred
 * thousand entries. */
#define FETCH_CACHE_BUCKETS 65536u
/* What an entry costs besides its text (struct, malloc overhead). */
#define FETCH_CACHE_OVERHEAD 128u

struct fetch_cache_entry {
	struct fetch_cache_entry *next;		/* in its bucket */
	struct fetch_cache_entry *newer, *older;	/* LRU list */
	uint64_t hash;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	unsigned key;
	size_t len;
	char text[];
};

static struct {
	pthread_mutex_t lock;
	struct fetch_cache_entry **buckets;
	struct fetch_cache_entry *newest, *oldest;
	size_t bytes;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
id_hash(const char *blob_id, unsigned key)
{
	/* FNV-1a: the id is a hash already, but not necessarily hex */
	uint64_t h = 1469598103934665603ull ^ key;

	for (const char *p = blob_id; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ull;
	}
	return h;
}

static struct fetch_cache_entry **
find_slot(uint64_t h, const char *blob_id, unsigned key)
{
	struct fetch_cache_entry **pp =
		&cache.buckets[h & (FETCH_CACHE_BUCKETS - 1)];

	while (*pp != NULL && ((*pp)->hash != h || (*pp)->key != key ||
			       strcmp((*pp)->blob_id, blob_id) != 0))
		pp = &(*pp)->next;
	return pp;
}

static void
lru_unlink(struct fetch_cache_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		cache.newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		cache.oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
lru_push(struct fetch_cache_entry *e)
{
	e->older = cache.newest;
	e->newer = NULL;
	if (cache.newest != NULL)
		cache.newest->newer = e;
	cache.newest = e;
	if (cache.oldest == NULL)
		cache.oldest = e;
}

static void
entry_drop(struct fetch_cache_entry *e)
{
	struct fetch_cache_entry **pp = find_slot(e->hash, e->blob_id, e->key);

	*pp = e->next;
	lru_unlink(e);
	cache.bytes -= e->len + FETCH_CACHE_OVERHEAD;
	free(e);
}

bool
imap_fetch_cache_get(const char *blob_id, unsigned key, struct buf *out)
{
	uint64_t h = id_hash(blob_id, key);
	struct fetch_cache_entry *e;
	bool found = false;

	pthread_mutex_lock(&cache.lock);
	if (cache.buckets != NULL) {
		e = *find_slot(h, blob_id, key);
		if (e != NULL) {
			buf_append(out, e->text, e->len);
			lru_unlink(e);
			lru_push(e);
			found = true;
		}
	}
	pthread_mutex_unlock(&cache.lock);
	return found;
}

void
imap_fetch_cache_put(const char *blob_id, unsigned key, const char *text,
		     size_t len, size_t max_bytes)
{
	uint64_t h = id_hash(blob_id, key);
	struct fetch_cache_entry *e, **pp;

	if (len + FETCH_CACHE_OVERHEAD > max_bytes / 16 ||
	    strlen(blob_id) > STORE_BLOB_ID_LEN)
		return;
	pthread_mutex_lock(&cache.lock);
	if (cache.buckets == NULL)
		cache.buckets = xcalloc(FETCH_CACHE_BUCKETS,
					sizeof(*cache.buckets));
	pp = find_slot(h, blob_id, key);
	if (*pp == NULL) {
		e = xmalloc(sizeof(*e) + len);
		memset(e, 0, sizeof(*e));
		e->hash = h;
		e->key = key;
		memcpy(e->blob_id, blob_id, strlen(blob_id) + 1);
		e->len = len;
		memcpy(e->text, text, len);
		*pp = e;
		lru_push(e);
		cache.bytes += len + FETCH_CACHE_OVERHEAD;
	}
	while (cache.bytes > max_bytes && cache.oldest != NULL)
		entry_drop(cache.oldest);
	pthread_mutex_unlock(&cache.lock);
}
