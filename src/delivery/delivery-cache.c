/* SPDX-License-Identifier: MIT */
/*
 * A per-process cache of recipient resolutions (address -> result and
 * dests), so RCPT for a known address is answered on the event loop
 * without a trip through the thread pool and the database.
 *
 * Correctness rests on the store's directory generation: every domain,
 * user or alias change in any process moves it (before and after the
 * commit), and an entry is only used while the generation it was read
 * under is still current. Entries also expire after DELIVERY_CACHE_TTL_S
 * seconds, a bound on staleness should a changing process die between its
 * commit and its second bump. Temporary failures are never cached.
 * The table is bounded (DELIVERY_CACHE_MAX entries; full: emptied).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/delivery.h"
#include "lib/mem.h"

#define DELIVERY_CACHE_MAX 4096
#define DELIVERY_CACHE_BUCKETS 1024	/* power of two */
#define DELIVERY_CACHE_TTL_S 60

struct centry {
	struct centry *next;
	char *address;
	uint64_t generation;
	time_t expires;
	enum delivery_lookup result;
	struct delivery_dest *dests;
	size_t n_dests;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct centry *buckets[DELIVERY_CACHE_BUCKETS];
static size_t cache_count;
static const struct store *cache_store;	/* the store the entries came from */

static time_t
now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static size_t
hash(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return (size_t)(h & (DELIVERY_CACHE_BUCKETS - 1));
}

static struct delivery_dest *
dests_copy(const struct delivery_dest *d, size_t n)
{
	struct delivery_dest *c;

	if (n == 0)
		return NULL;
	c = xcalloc(n, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		c[i] = d[i];
		c[i].address = xstrdup(d[i].address);
		c[i].delivered_to = d[i].delivered_to != NULL ?
			xstrdup(d[i].delivered_to) : NULL;
		c[i].tag = d[i].tag != NULL ? xstrdup(d[i].tag) : NULL;
		c[i].via_alias = d[i].via_alias != NULL ?
			xstrdup(d[i].via_alias) : NULL;
	}
	return c;
}

static void
centry_free(struct centry *e)
{
	delivery_dests_free(&e->dests, e->n_dests);
	free(e->address);
	free(e);
}

/* With cache_lock held. */
static void
cache_clear(void)
{
	for (size_t b = 0; b < DELIVERY_CACHE_BUCKETS; b++) {
		while (buckets[b] != NULL) {
			struct centry *e = buckets[b];

			buckets[b] = e->next;
			centry_free(e);
		}
	}
	cache_count = 0;
}

bool
delivery_resolve_cached(struct store *store, const char *address,
			enum delivery_lookup *result_r,
			struct delivery_dest **dests_r, size_t *count_r)
{
	uint64_t gen;
	bool hit = false;
	time_t now;

	if (!store_directory_generation(store, &gen))
		return false;
	now = now_coarse();
	pthread_mutex_lock(&cache_lock);
	if (cache_store == store) {
		for (struct centry *e = buckets[hash(address)]; e != NULL;
		     e = e->next) {
			if (strcmp(e->address, address) != 0)
				continue;
			if (e->generation == gen && now < e->expires) {
				*result_r = e->result;
				*dests_r = dests_copy(e->dests, e->n_dests);
				*count_r = e->n_dests;
				hit = true;
			}
			break;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

void
delivery_cache_put(struct store *store, uint64_t generation,
		   const char *address, enum delivery_lookup result,
		   const struct delivery_dest *dests, size_t n)
{
	struct centry *e, **pp;
	size_t b = hash(address);

	if (result == DELIVERY_TEMP)
		return;
	e = xcalloc(1, sizeof(*e));
	e->address = xstrdup(address);
	e->generation = generation;
	e->expires = now_coarse() + DELIVERY_CACHE_TTL_S;
	e->result = result;
	e->dests = dests_copy(dests, n);
	e->n_dests = n;
	pthread_mutex_lock(&cache_lock);
	if (cache_store != store) {
		cache_clear();
		cache_store = store;
	}
	for (pp = &buckets[b]; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->address, address) == 0) {
			struct centry *old = *pp;

			*pp = old->next;
			centry_free(old);
			cache_count--;
			break;
		}
	}
	if (cache_count >= DELIVERY_CACHE_MAX)
		cache_clear();
	e->next = buckets[b];
	buckets[b] = e;
	cache_count++;
	pthread_mutex_unlock(&cache_lock);
}

void
delivery_cache_flush(void)
{
	pthread_mutex_lock(&cache_lock);
	cache_clear();
	cache_store = NULL;
	pthread_mutex_unlock(&cache_lock);
}
