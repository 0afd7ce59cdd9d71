/* SPDX-License-Identifier: MIT */
/*
 * Herald's answer cache in front of libunbound: parsed results keyed by
 * type and name, kept for their TTL (capped by [dns] cache_max_ttl and
 * cache_negative_ttl), at most [dns] cache_size of them, the least
 * recently used dropped first. A hit costs no trip through libunbound's
 * thread and no parsing; the queue asks for the same MX many times.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/dns-private.h"
#include "lib/mem.h"

struct cache_entry {
	struct cache_entry *hnext;		/* hash chain */
	struct cache_entry *lru_prev, *lru_next;	/* head: most recent */
	uint32_t hash;
	enum dns_type type;
	uint64_t stored;	/* monotonic seconds */
	uint64_t expires;
	size_t bytes;
	struct dns_result *result;
};

struct dns_cache {
	unsigned size;
	uint64_t max_bytes, bytes;
	uint32_t max_ttl, negative_ttl;
	size_t count;
	size_t n_buckets;	/* a power of two */
	struct cache_entry **buckets;
	struct cache_entry *lru_head, *lru_tail;
};

static uint64_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static uint32_t
key_hash(const char *name, enum dns_type type)
{
	/* FNV-1a; names are short and the table only holds what we asked */
	uint32_t h = 2166136261u ^ (uint32_t)type;

	for (const char *p = name; *p != '\0'; p++) {
		h ^= (uint8_t)*p;
		h *= 16777619u;
	}
	return h;
}

struct dns_cache *
dns_cache_new(unsigned size, uint64_t max_bytes, uint32_t max_ttl_s,
	      uint32_t negative_ttl_s)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));

	c->size = size;
	c->max_bytes = max_bytes;
	c->max_ttl = max_ttl_s;
	c->negative_ttl = negative_ttl_s;
	c->n_buckets = 64;
	while (c->n_buckets < size && c->n_buckets < (1u << 24))
		c->n_buckets <<= 1;
	c->buckets = xcalloc(c->n_buckets, sizeof(*c->buckets));
	return c;
}

static void
lru_unlink(struct dns_cache *c, struct cache_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void
lru_push(struct dns_cache *c, struct cache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head != NULL)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (c->lru_tail == NULL)
		c->lru_tail = e;
}

static void
entry_remove(struct dns_cache *c, struct cache_entry *e)
{
	struct cache_entry **pp = &c->buckets[e->hash & (c->n_buckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	dns_result_free(&e->result);
	c->bytes -= e->bytes;
	free(e);
	c->count--;
}

void
dns_cache_free(struct dns_cache **cache)
{
	struct dns_cache *c = *cache;

	if (c == NULL)
		return;
	while (c->lru_head != NULL)
		entry_remove(c, c->lru_head);
	free(c->buckets);
	free(c);
	*cache = NULL;
}

static struct cache_entry *
find(struct dns_cache *c, const char *name, enum dns_type type, uint32_t h)
{
	for (struct cache_entry *e = c->buckets[h & (c->n_buckets - 1)];
	     e != NULL; e = e->hnext) {
		if (e->hash == h && e->type == type &&
		    strcmp(e->result->name, name) == 0)
			return e;
	}
	return NULL;
}

struct dns_result *
dns_cache_get(struct dns_cache *c, const char *name, enum dns_type type)
{
	uint32_t h = key_hash(name, type);
	struct cache_entry *e;
	struct dns_result *r;
	uint64_t now = now_s(), age;

	if (c == NULL || c->size == 0)
		return NULL;
	e = find(c, name, type, h);
	if (e == NULL)
		return NULL;
	if (now >= e->expires) {
		entry_remove(c, e);
		return NULL;
	}
	lru_unlink(c, e);
	lru_push(c, e);
	r = dns_result_dup(e->result);
	r->from_cache = true;
	age = now - e->stored;
	r->ttl = r->ttl > age ? r->ttl - (uint32_t)age : 0;
	for (size_t i = 0; i < r->count; i++) {
		r->rrs[i].ttl = r->rrs[i].ttl > age ?
			r->rrs[i].ttl - (uint32_t)age : 0;
	}
	return r;
}

void
dns_cache_put(struct dns_cache *c, const struct dns_result *result)
{
	uint32_t ttl = result->ttl, h;
	struct cache_entry *e;
	uint64_t now = now_s();
	size_t bytes;

	if (c == NULL || c->size == 0 || result->sec == DNS_SEC_BOGUS)
		return;
	switch (result->status) {
	case DNS_OK:
		if (ttl > c->max_ttl)
			ttl = c->max_ttl;
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		if (ttl > c->negative_ttl)
			ttl = c->negative_ttl;
		break;
	case DNS_SERVFAIL:
	case DNS_TIMEOUT:
	case DNS_ERROR:
		return;
	}
	if (ttl == 0)
		return;
	bytes = sizeof(*e) + dns_result_size(result);
	h = key_hash(result->name, result->type);
	e = find(c, result->name, result->type, h);
	if (e != NULL)
		entry_remove(c, e);
	/* one answer bigger than an eighth of the budget would push out
	 * many others: it is not kept */
	if (c->max_bytes > 0 && bytes > c->max_bytes / 8)
		return;
	while (c->count >= c->size ||
	       (c->max_bytes > 0 && c->bytes + bytes > c->max_bytes))
		entry_remove(c, c->lru_tail);
	e = xcalloc(1, sizeof(*e));
	e->hash = h;
	e->type = result->type;
	e->stored = now;
	e->expires = now + ttl;
	e->result = dns_result_dup(result);
	e->result->from_cache = false;
	e->bytes = bytes;
	c->bytes += bytes;
	e->hnext = c->buckets[h & (c->n_buckets - 1)];
	c->buckets[h & (c->n_buckets - 1)] = e;
	lru_push(c, e);
	c->count++;
}

size_t
dns_cache_count(const struct dns_cache *c)
{
	return c != NULL ? c->count : 0;
}

uint64_t
dns_cache_bytes(const struct dns_cache *c)
{
	return c != NULL ? c->bytes : 0;
}
