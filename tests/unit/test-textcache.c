/* SPDX-License-Identifier: MIT */
/* lib/textcache: hits, misses, ring eviction, changed texts, one free per
 * value kept, clear, capacity 1, long keys, and threads sharing values
 * that eviction must not free under them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/textcache.h"

/* Values are ids; per id, how many shares the cache made and freed. */
#define N_IDS 2000
static int shares[N_IDS], frees[N_IDS];

static void
id_share(void *dst, void *src)
{
	*(int *)dst = *(int *)src;
	shares[*(int *)src]++;
}

static void
id_free(void *value)
{
	frees[*(int *)value]++;
}

static int
setup(void **state)
{
	memset(shares, 0, sizeof(shares));
	memset(frees, 0, sizeof(frees));
	return 0;
}

static void
put_id(struct textcache *c, const char *text, int id)
{
	textcache_put(c, text, strlen(text), &id);
}

/* The id cached for text, or -1. */
static int
get_id(struct textcache *c, const char *text)
{
	int id = -1;

	return textcache_get(c, text, strlen(text), &id) ? id : -1;
}

static void
test_hit_and_miss(void **state)
{
	struct textcache c = TEXTCACHE_INIT(4, 64, sizeof(int), id_share,
					    id_free);
	int out = 42;

	assert_false(textcache_get(&c, "a", 1, &out));
	assert_int_equal(out, 42);	/* a miss leaves out alone */
	put_id(&c, "v=spf1 -all", 1);
	assert_int_equal(shares[1], 1);
	assert_int_equal(get_id(&c, "v=spf1 -all"), 1);
	assert_int_equal(get_id(&c, "v=spf1 -all"), 1);
	assert_int_equal(shares[1], 3);	/* one kept, two handed out */
	/* the whole text, length included */
	assert_int_equal(get_id(&c, "v=spf1 -al"), -1);
	assert_int_equal(get_id(&c, "v=spf1 -all "), -1);
	assert_int_equal(get_id(&c, "V=spf1 -all"), -1);
	assert_false(textcache_get(&c, "v=spf1 -all", 0, &out));
	put_id(&c, "", 2);		/* the empty text is a key too */
	assert_int_equal(get_id(&c, ""), 2);
	assert_int_equal(frees[1] + frees[2], 0);
	textcache_clear(&c);
	assert_int_equal(frees[1], 1);
	assert_int_equal(frees[2], 1);
}

static void
test_eviction_order(void **state)
{
	struct textcache c = TEXTCACHE_INIT(3, 64, sizeof(int), id_share,
					    id_free);
	char t[16];

	for (int i = 0; i < 3; i++) {
		snprintf(t, sizeof(t), "t%d", i);
		put_id(&c, t, i);
	}
	/* a hit does not save t0: the oldest insertion goes first */
	assert_int_equal(get_id(&c, "t0"), 0);
	put_id(&c, "t3", 3);
	assert_int_equal(frees[0], 1);
	assert_int_equal(get_id(&c, "t0"), -1);
	for (int i = 1; i <= 3; i++) {
		snprintf(t, sizeof(t), "t%d", i);
		assert_int_equal(get_id(&c, t), i);
		assert_int_equal(frees[i], 0);
	}
	put_id(&c, "t4", 4);
	put_id(&c, "t5", 5);
	assert_int_equal(frees[1], 1);
	assert_int_equal(frees[2], 1);
	assert_int_equal(frees[3], 0);
	assert_int_equal(get_id(&c, "t3"), 3);
	assert_int_equal(get_id(&c, "t4"), 4);
	assert_int_equal(get_id(&c, "t5"), 5);
	textcache_clear(&c);
}

static void
test_changed_text(void **state)
{
	struct textcache c = TEXTCACHE_INIT(4, 64, sizeof(int), id_share,
					    id_free);

	put_id(&c, "v=DMARC1; p=none", 1);
	/* the record changed: a miss, parsed afresh and kept beside the old */
	assert_int_equal(get_id(&c, "v=DMARC1; p=reject"), -1);
	put_id(&c, "v=DMARC1; p=reject", 2);
	assert_int_equal(get_id(&c, "v=DMARC1; p=reject"), 2);
	assert_int_equal(get_id(&c, "v=DMARC1; p=none"), 1);
	/* the same text again (two threads parsed it): the first is kept,
	 * the second's share freed at once */
	put_id(&c, "v=DMARC1; p=none", 3);
	assert_int_equal(get_id(&c, "v=DMARC1; p=none"), 1);
	assert_int_equal(shares[3], 1);
	assert_int_equal(frees[3], 1);
	put_id(&c, "x", 4);
	put_id(&c, "y", 5);
	/* the duplicate took no slot: "p=none" is still the oldest */
	assert_int_equal(get_id(&c, "v=DMARC1; p=none"), 1);
	put_id(&c, "z", 6);
	assert_int_equal(get_id(&c, "v=DMARC1; p=none"), -1);
	assert_int_equal(frees[1], 1);
	textcache_clear(&c);
}

static void
test_free_once(void **state)
{
	struct textcache c = TEXTCACHE_INIT(8, 64, sizeof(int), id_share,
					    id_free);
	char t[16];

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 1000; i++) {
			snprintf(t, sizeof(t), "r%d", i % 700);
			put_id(&c, t, round * 1000 + i);
			assert_int_equal(get_id(&c, t), round * 1000 + i);
		}
		textcache_clear(&c);
	}
	/* each value kept was freed exactly once; the gets' shares are the
	 * caller's */
	for (int id = 0; id < N_IDS; id++) {
		assert_int_equal(shares[id], 2);
		assert_int_equal(frees[id], 1);
	}
}

static void
test_clear(void **state)
{
	struct textcache c = TEXTCACHE_INIT(4, 64, sizeof(int), id_share,
					    id_free);

	textcache_clear(&c);		/* never used */
	put_id(&c, "a", 1);
	put_id(&c, "b", 2);
	textcache_clear(&c);
	assert_int_equal(frees[1], 1);
	assert_int_equal(frees[2], 1);
	assert_int_equal(get_id(&c, "a"), -1);
	textcache_clear(&c);
	assert_int_equal(frees[1], 1);	/* not twice */
	/* usable again, the ring from its start */
	for (int i = 3; i < 8; i++) {
		char t[16];

		snprintf(t, sizeof(t), "k%d", i);
		put_id(&c, t, i);
	}
	assert_int_equal(frees[3], 1);
	assert_int_equal(get_id(&c, "k3"), -1);
	assert_int_equal(get_id(&c, "k4"), 4);
	assert_int_equal(get_id(&c, "k7"), 7);
	textcache_clear(&c);
	for (int i = 3; i < 8; i++)
		assert_int_equal(frees[i], 1);
}

static void
test_capacity_one(void **state)
{
	struct textcache c = TEXTCACHE_INIT(1, 64, sizeof(int), id_share,
					    id_free);

	put_id(&c, "a", 1);
	assert_int_equal(get_id(&c, "a"), 1);
	put_id(&c, "a", 2);		/* already kept */
	assert_int_equal(get_id(&c, "a"), 1);
	put_id(&c, "b", 3);
	assert_int_equal(frees[1], 1);
	assert_int_equal(get_id(&c, "a"), -1);
	assert_int_equal(get_id(&c, "b"), 3);
	put_id(&c, "a", 4);
	assert_int_equal(frees[3], 1);
	assert_int_equal(get_id(&c, "a"), 4);
	textcache_clear(&c);
	assert_int_equal(frees[4], 1);
}

static void
test_long_keys(void **state)
{
	enum { MAX = 4096 };
	struct textcache c = TEXTCACHE_INIT(64, MAX, sizeof(int), id_share,
					    id_free);
	char *a = xmalloc(MAX + 1), *b = xmalloc(MAX + 1);
	int out = -1;

	memset(a, 'k', MAX + 1);
	memcpy(b, a, MAX + 1);
	/* texts that differ in their last octet only, at every length up to
	 * 40 (the hash's tail) and at the longest */
	for (size_t len = 1; len <= 40; len++) {
		a[len - 1] = 'a';
		textcache_put(&c, a, len, &(int){ (int)len });
		a[len - 1] = 'k';
	}
	for (size_t len = 1; len <= 40; len++) {
		assert_false(textcache_get(&c, a, len, &out));	/* "kk..." */
		a[len - 1] = 'a';
		assert_false(len > 1 && textcache_get(&c, a, len - 1, &out));
		assert_true(textcache_get(&c, a, len, &out));
		assert_int_equal(out, (int)len);
		a[len - 1] = 'k';
	}
	textcache_clear(&c);
	b[MAX - 1] = 'b';
	b[MAX / 2] = 'b';
	textcache_put(&c, a, MAX, &(int){ 100 });
	textcache_put(&c, b, MAX, &(int){ 101 });
	assert_true(textcache_get(&c, a, MAX, &out));
	assert_int_equal(out, 100);
	assert_true(textcache_get(&c, b, MAX, &out));
	assert_int_equal(out, 101);
	b[MAX - 1] = 'k';		/* differs in the middle only */
	assert_false(textcache_get(&c, b, MAX, &out));
	/* longer than text_max: never kept, no share made */
	textcache_put(&c, a, MAX + 1, &(int){ 102 });
	assert_int_equal(shares[102], 0);
	assert_false(textcache_get(&c, a, MAX + 1, &out));
	textcache_clear(&c);
	assert_int_equal(frees[100] + frees[101], 2);
	free(a);
	free(b);
}

/* Threads: values are counted references, freed at the last; a caller
 * keeps its share while others evict (ASan sees a use after free). */
struct obj {
	int refs;
	char text[16];
};

static void
obj_share(void *dst, void *src)
{
	struct obj *o = *(struct obj **)src;

	__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
	*(struct obj **)dst = o;
}

static void
obj_unref(struct obj *o)
{
	if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(o);
}

static void
obj_free(void *value)
{
	obj_unref(*(struct obj **)value);
}

static struct textcache obj_cache = TEXTCACHE_INIT(4, 64,
	sizeof(struct obj *), obj_share, obj_free);

static void *
worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	struct obj *o;
	char t[16];

	for (int i = 0; i < 20000; i++) {
		snprintf(t, sizeof(t), "key%u", (unsigned)rand_r(&seed) % 10);
		if (!textcache_get(&obj_cache, t, strlen(t), &o)) {
			o = xcalloc(1, sizeof(*o));
			o->refs = 1;
			memcpy(o->text, t, sizeof(t));
			textcache_put(&obj_cache, t, strlen(t), &o);
		}
		if (i % 3 == 0)
			textcache_clear(&obj_cache);
		if (strcmp(o->text, t) != 0)
			abort();
		obj_unref(o);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t th[4];

	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker,
						(void *)(i + 1)), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	textcache_clear(&obj_cache);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_hit_and_miss, setup),
		cmocka_unit_test_setup(test_eviction_order, setup),
		cmocka_unit_test_setup(test_changed_text, setup),
		cmocka_unit_test_setup(test_free_once, setup),
		cmocka_unit_test_setup(test_clear, setup),
		cmocka_unit_test_setup(test_capacity_one, setup),
		cmocka_unit_test_setup(test_long_keys, setup),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
