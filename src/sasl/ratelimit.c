/* SPDX-License-Identifier: MIT */
/*
 * Keyed failure counters in a hash table with an LRU list for eviction.
 * Hashing is SipHash with a per-table random key, so a client choosing
 * keys (user names) cannot force every entry into one chain.
 */
#include "sasl/ratelimit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"

struct rl_entry {
	struct rl_entry *chain;		/* next in the bucket */
	struct rl_entry *lru_prev;	/* towards most recent */
	struct rl_entry *lru_next;	/* towards least recent */
	uint64_t hash;
	time_t window_start;
	unsigned failures;
	size_t key_len;
	char key[];			/* NUL-terminated */
};

struct ratelimit {
	pthread_mutex_t lock;
	size_t max_entries, count;
	unsigned limit;
	time_t window_s;
	struct rl_entry **buckets;
	size_t nbuckets;		/* power of two */
	struct rl_entry *lru_head, *lru_tail;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

struct ratelimit *
ratelimit_new(size_t max_entries, unsigned limit, time_t window_s)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	if (max_entries == 0)
		panic("ratelimit_new: max_entries 0");
	if (sodium_init() < 0)
		panic("sodium_init failed");
	pthread_mutex_init(&rl->lock, NULL);
	rl->max_entries = max_entries;
	rl->limit = limit;
	rl->window_s = window_s > 0 ? window_s : 1;
	rl->nbuckets = 16;
	while (rl->nbuckets < max_entries && rl->nbuckets < ((size_t)1 << 30))
		rl->nbuckets *= 2;
	rl->buckets = xcalloc(rl->nbuckets, sizeof(*rl->buckets));
	randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
	return rl;
}

void
ratelimit_free(struct ratelimit **rlp)
{
	struct ratelimit *rl = *rlp;
	struct rl_entry *e, *next;

	if (rl == NULL)
		return;
	for (e = rl->lru_head; e != NULL; e = next) {
		next = e->lru_next;
		free(e);
	}
	free(rl->buckets);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
	*rlp = NULL;
}

static size_t
rl_key_len(const char *key)
{
	return strnlen(key, RATELIMIT_MAX_KEY);
}

static uint64_t
rl_hash(const struct ratelimit *rl, const char *key, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const uint8_t *)key, len, rl->hash_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

static struct rl_entry *
rl_find(struct ratelimit *rl, const char *key, size_t len, uint64_t h)
{
	struct rl_entry *e;

	for (e = rl->buckets[h & (rl->nbuckets - 1)]; e != NULL; e = e->chain)
		if (e->hash == h && e->key_len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

static void
rl_lru_unlink(struct ratelimit *rl, struct rl_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		rl->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		rl->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void
rl_lru_push(struct ratelimit *rl, struct rl_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = rl->lru_head;
	if (rl->lru_head != NULL)
		rl->lru_head->lru_prev = e;
	rl->lru_head = e;
	if (rl->lru_tail == NULL)
		rl->lru_tail = e;
}

static void
rl_remove(struct ratelimit *rl, struct rl_entry *e)
{
	struct rl_entry **pp = &rl->buckets[e->hash & (rl->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	rl_lru_unlink(rl, e);
	rl->count--;
	free(e);
}

/* A window that has ended counts as no entry. */
static bool
rl_is_expired(const struct ratelimit *rl, const struct rl_entry *e,
	      time_t now)
{
	return now >= e->window_start + rl->window_s || now < e->window_start;
}

bool
ratelimit_is_blocked(struct ratelimit *rl, const char *key, time_t now)
{
	size_t len = rl_key_len(key);
	uint64_t h = rl_hash(rl, key, len);
	struct rl_entry *e;
	bool blocked = false;

	pthread_mutex_lock(&rl->lock);
	e = rl_find(rl, key, len, h);
	if (e != NULL && rl_is_expired(rl, e, now))
		rl_remove(rl, e);
	else if (e != NULL)
		blocked = rl->limit > 0 && e->failures >= rl->limit;
	pthread_mutex_unlock(&rl->lock);
	return blocked;
}

/* The entry of key, made (evicting the least recently used one when the
 * table is full) if there is none; moved to the front of the LRU list.
 * Called with the lock held. */
static struct rl_entry *
rl_get(struct ratelimit *rl, const char *key, time_t now)
{
	size_t len = rl_key_len(key);
	uint64_t h = rl_hash(rl, key, len);
	struct rl_entry *e = rl_find(rl, key, len, h);

	if (e != NULL) {
		rl_lru_unlink(rl, e);
		if (rl_is_expired(rl, e, now)) {
			e->window_start = now;
			e->failures = 0;
		}
	} else {
		if (rl->count >= rl->max_entries)
			rl_remove(rl, rl->lru_tail);
		/* UNSAFE: len <= RATELIMIT_MAX_KEY, no overflow. */
		e = xcalloc(1, sizeof(*e) + len + 1);
		memcpy(e->key, key, len);
		e->key_len = len;
		e->hash = h;
		e->window_start = now;
		e->chain = rl->buckets[h & (rl->nbuckets - 1)];
		rl->buckets[h & (rl->nbuckets - 1)] = e;
		rl->count++;
	}
	rl_lru_push(rl, e);
	return e;
}

bool
ratelimit_fail(struct ratelimit *rl, const char *key, time_t now)
{
	struct rl_entry *e;
	bool blocked;

	pthread_mutex_lock(&rl->lock);
	e = rl_get(rl, key, now);
	if (e->failures < UINT32_MAX)
		e->failures++;
	blocked = rl->limit > 0 && e->failures >= rl->limit;
	pthread_mutex_unlock(&rl->lock);
	return blocked;
}

void
ratelimit_mark(struct ratelimit *rl, const char *key, time_t now)
{
	struct rl_entry *e;

	pthread_mutex_lock(&rl->lock);
	e = rl_get(rl, key, now);
	e->window_start = now;
	e->failures = 1;
	pthread_mutex_unlock(&rl->lock);
}

unsigned
ratelimit_failures(struct ratelimit *rl, const char *key, time_t now)
{
	size_t len = rl_key_len(key);
	uint64_t h = rl_hash(rl, key, len);
	struct rl_entry *e;
	unsigned n = 0;

	pthread_mutex_lock(&rl->lock);
	e = rl_find(rl, key, len, h);
	if (e != NULL && !rl_is_expired(rl, e, now))
		n = e->failures;
	pthread_mutex_unlock(&rl->lock);
	return n;
}

size_t
ratelimit_count(struct ratelimit *rl)
{
	size_t n;

	pthread_mutex_lock(&rl->lock);
	n = rl->count;
	pthread_mutex_unlock(&rl->lock);
	return n;
}
