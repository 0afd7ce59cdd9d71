/* SPDX-License-Identifier: MIT */
/*
 * The parsed-record cache of DKIM keys, SPF records and DMARC policies
 * (textcache.h). Tens of entries: a scan of hashes under one lock costs
 * less than an index would save.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/textcache.h"

struct textcache_entry {
	char *text;		/* NULL: a free slot */
	size_t len;
	uint64_t hash;
	void *value;		/* value_size octets */
};

/* Eight octets a step (a DKIM key record of up to 2 KB is hashed for
 * every message); only a filter before the full compare. */
static uint64_t
text_hash(const char *text, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ len, w;

	for (; len >= 8; text += 8, len -= 8) {
		memcpy(&w, text, 8);
		h = ((h ^ w) * UINT64_C(0x100000001b3)) ^ (h >> 29);
	}
	w = 0;
	memcpy(&w, text, len);
	h = (h ^ w) * UINT64_C(0x100000001b3);
	return h ^ (h >> 32);
}

static struct textcache_entry *
find_locked(struct textcache *c, const char *text, size_t len, uint64_t hash)
{
	for (size_t i = 0; c->entries != NULL && i < c->capacity; i++) {
		struct textcache_entry *e = &c->entries[i];

		if (e->text != NULL && e->hash == hash && e->len == len &&
		    memcmp(e->text, text, len) == 0)
			return e;
	}
	return NULL;
}

static void
entry_free(struct textcache *c, struct textcache_entry *e)
{
	if (e->text == NULL)
		return;
	c->free_value(e->value);
	free(e->value);
	free(e->text);
}

bool
textcache_get(struct textcache *c, const char *text, size_t len, void *out)
{
	struct textcache_entry *e;
	uint64_t hash;

	if (len > c->text_max)
		return false;
	hash = text_hash(text, len);
	pthread_mutex_lock(&c->lock);
	if ((e = find_locked(c, text, len, hash)) != NULL)
		c->share(out, e->value);
	pthread_mutex_unlock(&c->lock);
	return e != NULL;
}

void
textcache_put(struct textcache *c, const char *text, size_t len, void *value)
{
	struct textcache_entry add, old = { 0 };

	if (len > c->text_max)
		return;
	add = (struct textcache_entry){ xmemdup(text, len), len,
		text_hash(text, len), xmalloc(c->value_size) };
	c->share(add.value, value);
	pthread_mutex_lock(&c->lock);
	if (find_locked(c, text, len, add.hash) != NULL) {
		old = add;
	} else {
		if (c->entries == NULL)
			c->entries = xcalloc(c->capacity, sizeof(*c->entries));
		old = c->entries[c->next];
		c->entries[c->next] = add;
		c->next = (c->next + 1) % c->capacity;
	}
	pthread_mutex_unlock(&c->lock);
	entry_free(c, &old);
}

void
textcache_clear(struct textcache *c)
{
	struct textcache_entry *entries;

	pthread_mutex_lock(&c->lock);
	entries = c->entries;
	c->entries = NULL;
	c->next = 0;
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; entries != NULL && i < c->capacity; i++)
		entry_free(c, &entries[i]);
	free(entries);
}
