/* SPDX-License-Identifier: MIT */
/*
 * A small thread-safe cache of values parsed from a text (a DNS record),
 * keyed on the whole text (a hash, then a full compare) so that a changed
 * text misses. Fixed capacity; full, it drops the oldest insertion (a
 * ring: hits do not refresh). Values are handed out under the lock as the
 * caller's own reference or copy, so an eviction never frees one in use.
 */
#ifndef HERALD_LIB_TEXTCACHE_H
#define HERALD_LIB_TEXTCACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Gives dst (value_size octets) its own use of the value at src: a copy,
 * a reference taken. Under the cache's lock on a hit: it must not call
 * back into the cache. */
typedef void textcache_share_cb_t(void *dst, void *src);
/* Releases a value share() made (not the value_size octets holding it). */
typedef void textcache_free_cb_t(void *value);

/* Define with TEXTCACHE_INIT; the fields are the cache's. */
struct textcache {
	pthread_mutex_t lock;
	size_t capacity, text_max, value_size;
	textcache_share_cb_t *share;
	textcache_free_cb_t *free_value;
	struct textcache_entry *entries;	/* made by the first put */
	size_t next;
};

/* capacity >= 1; texts longer than text_max are never kept. */
#define TEXTCACHE_INIT(capacity, text_max, value_size, share, free_value) \
	{ PTHREAD_MUTEX_INITIALIZER, (capacity), (text_max), (value_size), \
	  (share), (free_value), NULL, 0 }

/* On a hit, share(out, the value) and true; false on a miss. */
bool textcache_get(struct textcache *c, const char *text, size_t len,
		   void *out);
/* Keeps a share of value (value_size octets; the caller keeps its own)
 * for text, evicting the oldest entry when full; nothing when text is too
 * long or already kept (another thread was first). */
void textcache_put(struct textcache *c, const char *text, size_t len,
		   void *value);
/* Drops every entry, freeing each value once; the cache stays usable. */
void textcache_clear(struct textcache *c);

#endif
