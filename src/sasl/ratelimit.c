/* SPDX-License-Identifier: MIT */
/*
 * Keyed failure counters in a fixed table inside one shared anonymous
 * mapping: a hash table and an LRU list linked by entry index, guarded by
 * a process-shared robust mutex, so a table made before fork() is one
 * table for every worker. Keys are kept as a SipHash of the key under a
 * per-table random secret (a client choosing user names cannot aim them
 * at one chain, and 64-bit collisions are out of reach at these sizes).
 */
#include "sasl/ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/log.h"
#include "lib/mem.h"

#define RL_NIL UINT32_MAX
/* How many of the least recently used entries eviction looks at for
 * one that blocks nothing. */
#define RL_EVICT_SCAN 64

struct rl_entry {
	uint64_t hash;
	int64_t window_start;
	uint32_t failures;
	uint32_t chain;		/* next in the bucket */
	uint32_t lru_prev;	/* towards most recent */
	uint32_t lru_next;	/* towards least recent; free list link */
};

/* The shared part; the buckets and entries follow it in the mapping. */
struct rl_table {
	pthread_mutex_t lock;
	uint32_t max_entries, count, nbuckets;	/* nbuckets: power of two */
	uint32_t lru_head, lru_tail, free_head;
	unsigned limit;
	int64_t window_s;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

/* The process's handle: after fork() a child's copy points at the same
 * mapping. */
struct ratelimit {
	struct rl_table *t;
	uint32_t *buckets;
	struct rl_entry *entries;
	size_t map_len;
};

/* Empties the table (also after a holder of the lock died mid-update:
 * forgetting every counter is better than following a torn list). */
static void
rl_clear(struct ratelimit *rl)
{
	struct rl_table *t = rl->t;
	uint32_t i;

	for (i = 0; i < t->nbuckets; i++)
		rl->buckets[i] = RL_NIL;
	for (i = 0; i < t->max_entries; i++)
		rl->entries[i].lru_next = i + 1 < t->max_entries ? i + 1 : RL_NIL;
	t->free_head = 0;
	t->lru_head = t->lru_tail = RL_NIL;
	t->count = 0;
}

static void
rl_lock(struct ratelimit *rl)
{
	int err = pthread_mutex_lock(&rl->t->lock);

	if (err == EOWNERDEAD) {
		log_warn(NULL, "sasl", "ratelimit-reset",
			 "reason=\"a process died holding the lock\"");
		rl_clear(rl);
		pthread_mutex_consistent(&rl->t->lock);
	} else if (err != 0) {
		panic("ratelimit: lock failed: %s", strerror(err));
	}
}

static void
rl_unlock(struct ratelimit *rl)
{
	pthread_mutex_unlock(&rl->t->lock);
}

struct ratelimit *
ratelimit_new(size_t max_entries, unsigned limit, time_t window_s)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));
	pthread_mutexattr_t attr;
	uint32_t nbuckets = 16;
	size_t off_buckets, off_entries;
	void *map;

	if (max_entries == 0 || max_entries >= RL_NIL / 2)
		panic("ratelimit_new: max_entries %zu", max_entries);
	if (sodium_init() < 0)
		panic("sodium_init failed");
	while (nbuckets < max_entries && nbuckets < ((uint32_t)1 << 30))
		nbuckets *= 2;
	/* UNSAFE: max_entries < 2^31 and nbuckets <= 2^30, so the sizes of
	 * a few dozen bytes each stay far below SIZE_MAX. */
	off_buckets = (sizeof(struct rl_table) + 15) & ~(size_t)15;
	off_entries = off_buckets + (((size_t)nbuckets * sizeof(uint32_t) + 15) &
				     ~(size_t)15);
	rl->map_len = off_entries + max_entries * sizeof(struct rl_entry);
	/* Shared, not from lib/mem: workers forked after this see and
	 * update the same counters. */
	map = mmap(NULL, rl->map_len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		panic("ratelimit: mmap of %zu bytes failed: %s", rl->map_len,
		      strerror(errno));
	rl->t = map;
	rl->buckets = (uint32_t *)((char *)map + off_buckets);
	rl->entries = (struct rl_entry *)((char *)map + off_entries);
	rl->t->max_entries = (uint32_t)max_entries;
	rl->t->nbuckets = nbuckets;
	rl->t->limit = limit;
	rl->t->window_s = window_s > 0 ? window_s : 1;
	randombytes_buf(rl->t->hash_key, sizeof(rl->t->hash_key));
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (pthread_mutex_init(&rl->t->lock, &attr) != 0)
		panic("ratelimit: pthread_mutex_init failed");
	pthread_mutexattr_destroy(&attr);
	rl_clear(rl);
	return rl;
}

void
ratelimit_set_limits(struct ratelimit *rl, unsigned limit, time_t window_s)
{
	rl_lock(rl);
	rl->t->limit = limit;
	rl->t->window_s = window_s > 0 ? window_s : 1;
	rl_unlock(rl);
}

void
ratelimit_free(struct ratelimit **rlp)
{
	struct ratelimit *rl = *rlp;

	if (rl == NULL)
		return;
	/* Only this process's view goes: forked workers keep theirs. */
	munmap(rl->t, rl->map_len);
	free(rl);
	*rlp = NULL;
}

static uint64_t
rl_hash(const struct ratelimit *rl, const char *key)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const uint8_t *)key, strlen(key),
			 rl->t->hash_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

static uint32_t
rl_find(struct ratelimit *rl, uint64_t h)
{
	uint32_t i;

	for (i = rl->buckets[h & (rl->t->nbuckets - 1)]; i != RL_NIL;
	     i = rl->entries[i].chain)
		if (rl->entries[i].hash == h)
			return i;
	return RL_NIL;
}

static void
rl_lru_unlink(struct ratelimit *rl, uint32_t i)
{
	struct rl_table *t = rl->t;
	struct rl_entry *e = &rl->entries[i];

	if (e->lru_prev != RL_NIL)
		rl->entries[e->lru_prev].lru_next = e->lru_next;
	else
		t->lru_head = e->lru_next;
	if (e->lru_next != RL_NIL)
		rl->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		t->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = RL_NIL;
}

static void
rl_lru_push(struct ratelimit *rl, uint32_t i)
{
	struct rl_table *t = rl->t;
	struct rl_entry *e = &rl->entries[i];

	e->lru_prev = RL_NIL;
	e->lru_next = t->lru_head;
	if (t->lru_head != RL_NIL)
		rl->entries[t->lru_head].lru_prev = i;
	t->lru_head = i;
	if (t->lru_tail == RL_NIL)
		t->lru_tail = i;
}

static void
rl_remove(struct ratelimit *rl, uint32_t i)
{
	struct rl_table *t = rl->t;
	struct rl_entry *e = &rl->entries[i];
	uint32_t *pp = &rl->buckets[e->hash & (t->nbuckets - 1)];

	while (*pp != i)
		pp = &rl->entries[*pp].chain;
	*pp = e->chain;
	rl_lru_unlink(rl, i);
	e->lru_next = t->free_head;
	t->free_head = i;
	t->count--;
}

/* A window that has ended counts as no entry. */
static bool
rl_is_expired(const struct ratelimit *rl, const struct rl_entry *e,
	      time_t now)
{
	return now >= e->window_start + rl->t->window_s ||
	       now < e->window_start;
}

bool
ratelimit_is_blocked(struct ratelimit *rl, const char *key, time_t now)
{
	uint64_t h = rl_hash(rl, key);
	bool blocked = false;
	uint32_t i;

	rl_lock(rl);
	i = rl_find(rl, h);
	if (i != RL_NIL && rl_is_expired(rl, &rl->entries[i], now))
		rl_remove(rl, i);
	else if (i != RL_NIL)
		blocked = rl->t->limit > 0 &&
			  rl->entries[i].failures >= rl->t->limit;
	rl_unlock(rl);
	return blocked;
}

/* The entry to forget for a new one: among the RL_EVICT_SCAN least
 * recently used, the oldest that blocks nothing (under the limit, or its
 * window over); else the least recently used. Forgetting a blocked key
 * hands its budget back: junk keys of one failure each (user names
 * anyone may try) would otherwise push out the account being guessed
 * at, and with it the limit. Called with the lock held. */
static uint32_t
rl_victim(struct ratelimit *rl, time_t now)
{
	uint32_t i = rl->t->lru_tail;

	for (unsigned n = 0; i != RL_NIL && n < RL_EVICT_SCAN; n++) {
		const struct rl_entry *e = &rl->entries[i];

		if (rl->t->limit == 0 || e->failures < rl->t->limit ||
		    rl_is_expired(rl, e, now))
			return i;
		i = e->lru_prev;
	}
	return rl->t->lru_tail;
}

/* The entry of key, made (evicting one, rl_victim(), when the table is
 * full) if there is none; moved to the front of the LRU list. Called
 * with the lock held. */
static struct rl_entry *
rl_get(struct ratelimit *rl, const char *key, time_t now)
{
	struct rl_table *t = rl->t;
	uint64_t h = rl_hash(rl, key);
	uint32_t i = rl_find(rl, h), b;
	struct rl_entry *e;

	if (i != RL_NIL) {
		e = &rl->entries[i];
		rl_lru_unlink(rl, i);
		if (rl_is_expired(rl, e, now)) {
			e->window_start = now;
			e->failures = 0;
		}
	} else {
		if (t->count >= t->max_entries)
			rl_remove(rl, rl_victim(rl, now));
		i = t->free_head;
		e = &rl->entries[i];
		t->free_head = e->lru_next;
		b = (uint32_t)(h & (t->nbuckets - 1));
		*e = (struct rl_entry){
			.hash = h, .window_start = now, .failures = 0,
			.chain = rl->buckets[b],
		};
		rl->buckets[b] = i;
		t->count++;
	}
	rl_lru_push(rl, i);
	return e;
}

bool
ratelimit_fail(struct ratelimit *rl, const char *key, time_t now)
{
	struct rl_entry *e;
	bool blocked;

	rl_lock(rl);
	e = rl_get(rl, key, now);
	if (e->failures < UINT32_MAX)
		e->failures++;
	blocked = rl->t->limit > 0 && e->failures >= rl->t->limit;
	rl_unlock(rl);
	return blocked;
}

void
ratelimit_mark(struct ratelimit *rl, const char *key, time_t now)
{
	struct rl_entry *e;

	rl_lock(rl);
	e = rl_get(rl, key, now);
	e->window_start = now;
	e->failures = 1;
	rl_unlock(rl);
}

unsigned
ratelimit_failures(struct ratelimit *rl, const char *key, time_t now)
{
	uint64_t h = rl_hash(rl, key);
	unsigned n = 0;
	uint32_t i;

	rl_lock(rl);
	i = rl_find(rl, h);
	if (i != RL_NIL && !rl_is_expired(rl, &rl->entries[i], now))
		n = rl->entries[i].failures;
	rl_unlock(rl);
	return n;
}

size_t
ratelimit_count(struct ratelimit *rl)
{
	size_t n;

	rl_lock(rl);
	n = rl->t->count;
	rl_unlock(rl);
	return n;
}
