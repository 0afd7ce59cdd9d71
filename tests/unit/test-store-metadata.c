/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the store's metadata entries (store-metadata.c,
 * store-sqlite-metadata.c): scopes (mailbox, server, private per account),
 * binary values, DEPTH 0 / 1 / infinity, MAXSIZE, the limits with all or
 * nothing, and entries going with a deleted mailbox or account and
 * staying with a renamed one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/mem.h"
#include "store/store.h"
#include "store-fixture.h"

struct fx {
	struct test_store ts;
	int64_t u, v, w;	/* three accounts */
	int64_t box;		/* a mailbox of u */
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	static const char *const rows[] = {
		"user u@example.test", "user v@example.test",
		"user w@example.test", NULL };
	const char *error = NULL;

	test_store_open(&f->ts, "store-metadata");
	test_store_fill(&f->ts, rows);
	f->u = test_store_user_id(&f->ts, "u@example.test");
	f->v = test_store_user_id(&f->ts, "v@example.test");
	f->w = test_store_user_id(&f->ts, "w@example.test");
	assert_int_equal(store_mailbox_create(f->ts.store, f->u, "Proj",
					      STORE_ROLE_NONE, NULL, &f->box,
					      &error), STORE_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	test_store_close(&f->ts);
	free(f);
	return 0;
}

static enum store_result
set1(struct fx *f, int64_t acct, int64_t box, const char *name,
     const char *value, const struct store_metadata_limits *l)
{
	struct store_metadata_change c = {
		name, value, value != NULL ? strlen(value) : 0 };
	const char *error = NULL;

	return store_metadata_set(f->ts.store, acct, box, &c, 1, l, &error);
}

/* The names and values found, "name=value" joined by ",". */
static char *
get(struct fx *f, int64_t acct, int64_t box, const char *names,
    uint32_t depth, uint64_t maxsize)
{
	char *copy = xstrdup(names), *save = NULL, *tok;
	const char *list[8];
	struct store_metadata_value *v;
	size_t n = 0, count;
	const char *error = NULL;
	struct buf_s { char s[1024]; size_t len; } out = { "", 0 };

	for (tok = strtok_r(copy, " ", &save); tok != NULL && n < 8;
	     tok = strtok_r(NULL, " ", &save))
		list[n++] = tok;
	assert_int_equal(store_metadata_get(f->ts.store, acct, box, list, n,
					    depth, maxsize, &v, &count,
					    &error), STORE_OK);
	for (size_t i = 0; i < count; i++)
		out.len += (size_t)snprintf(out.s + out.len,
					    sizeof(out.s) - out.len, "%s%s=%s",
					    i > 0 ? "," : "", v[i].name,
					    v[i].value != NULL ?
					    (char *)v[i].value : "(long)");
	store_metadata_values_free(&v, count);
	free(copy);
	return xstrdup(out.s);
}

#define ASSERT_GET(want, ...) do { \
		char *got_ = get(__VA_ARGS__); \
		assert_string_equal(got_, want); \
		free(got_); \
	} while (0)

static void
test_scopes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(set1(f, f->u, f->box, "/shared/comment", "s", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->u, f->box, "/private/comment", "p", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->u, 0, "/private/comment", "srv", NULL),
			 STORE_OK);
	ASSERT_GET("/private/comment=p,/shared/comment=s", f, f->u, f->box,
		   "/private/comment /shared/comment", 0, UINT64_MAX);
	ASSERT_GET("/private/comment=srv", f, f->u, 0, "/private/comment", 0,
		   UINT64_MAX);
	/* another account: the shared entry, not u's private ones */
	ASSERT_GET("/shared/comment=s", f, f->v, f->box,
		   "/private/comment /shared/comment", 0, UINT64_MAX);
	ASSERT_GET("", f, f->v, 0, "/private", STORE_METADATA_DEPTH_INFINITY,
		   UINT64_MAX);
	/* replace, remove */
	assert_int_equal(set1(f, f->u, f->box, "/shared/comment", "t", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->u, f->box, "/private/comment", NULL,
			      NULL), STORE_OK);
	ASSERT_GET("/shared/comment=t", f, f->u, f->box,
		   "/private/comment /shared/comment", 0, UINT64_MAX);
	/* bad names never reach the backend; a mailbox that is gone */
	assert_int_equal(set1(f, f->u, f->box, "/other/x", "v", NULL),
			 STORE_E_INVALID);
	assert_int_equal(set1(f, f->u, f->box, "/shared", "v", NULL),
			 STORE_E_INVALID);
	assert_int_equal(set1(f, f->u, 999999, "/shared/x", "v", NULL),
			 STORE_E_NOT_FOUND);
}

static void
test_binary_and_maxsize(void **state)
{
	struct fx *f = *state;
	static const uint8_t bin[] = { 'a', 0, 'b', 0xff, 0 };
	struct store_metadata_change c[] = {
		{ "/shared/bin", bin, sizeof(bin) },
		{ "/shared/empty", "", 0 },
	};
	struct store_metadata_value *v;
	const char *name = "/shared", *error = NULL;
	size_t n;

	assert_int_equal(store_metadata_set(f->ts.store, f->u, f->box, c, 2,
					    NULL, &error), STORE_OK);
	assert_int_equal(store_metadata_get(f->ts.store, f->u, f->box, &name,
					    1, 1, UINT64_MAX, &v, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "/shared/bin");
	assert_int_equal(v[0].len, sizeof(bin));
	assert_memory_equal(v[0].value, bin, sizeof(bin));
	assert_string_equal(v[1].name, "/shared/empty");
	assert_non_null(v[1].value);
	assert_int_equal(v[1].len, 0);
	store_metadata_values_free(&v, n);
	/* over MAXSIZE: the length, no value */
	assert_int_equal(store_metadata_get(f->ts.store, f->u, f->box, &name,
					    1, 1, 4, &v, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 2);
	assert_null(v[0].value);
	assert_int_equal(v[0].len, sizeof(bin));
	assert_non_null(v[1].value);
	store_metadata_values_free(&v, n);
}

static void
test_depth(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {
		"/shared/a", "/shared/a/b", "/shared/a/b/c", "/shared/a/d",
		"/shared/ab", "/shared/a.x", "/private/a/p",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(set1(f, f->u, f->box, names[i], "1", NULL),
				 STORE_OK);
	ASSERT_GET("/shared/a=1", f, f->u, f->box, "/shared/a", 0,
		   UINT64_MAX);
	ASSERT_GET("/shared/a=1,/shared/a/b=1,/shared/a/d=1", f, f->u,
		   f->box, "/shared/a", 1, UINT64_MAX);
	ASSERT_GET("/shared/a=1,/shared/a/b=1,/shared/a/b/c=1,/shared/a/d=1",
		   f, f->u, f->box, "/shared/a", STORE_METADATA_DEPTH_INFINITY,
		   UINT64_MAX);
	/* overlapping requests: each entry once; /private/a/p is a
	 * grandchild of /private */
	ASSERT_GET("/shared/a=1,/shared/a.x=1,/shared/a/b=1,/shared/a/d=1,"
		   "/shared/ab=1", f, f->u, f->box,
		   "/shared /shared/a /private", 1, UINT64_MAX);
	ASSERT_GET("/private/a/p=1", f, f->u, f->box, "/private",
		   STORE_METADATA_DEPTH_INFINITY, UINT64_MAX);
}

static void
test_limits(void **state)
{
	struct fx *f = *state;
	struct store_metadata_limits l = {
		.mailbox_entries_max = 3, .account_entries_max = 5,
		.account_bytes_max = 200 };
	struct store_metadata_change two[] = {
		{ "/shared/x", "1", 1 }, { "/shared/y", "1", 1 } };
	const char *error = NULL;
	char big[120];

	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "/shared/e%d", i);
		assert_int_equal(set1(f, f->u, f->box, name, "v", &l),
				 STORE_OK);
	}
	assert_int_equal(set1(f, f->u, f->box, "/private/e9", "v", &l),
			 STORE_E_OVER_QUOTA);
	/* all or nothing */
	assert_int_equal(set1(f, f->u, f->box, "/shared/e0", NULL, &l),
			 STORE_OK);
	assert_int_equal(store_metadata_set(f->ts.store, f->u, f->box, two, 2,
					    &l, &error), STORE_E_OVER_QUOTA);
	ASSERT_GET("", f, f->u, f->box, "/shared/x /shared/y", 0, UINT64_MAX);
	/* the account: 2 in Proj + 3 on the server = 5 */
	assert_int_equal(set1(f, f->u, 0, "/private/s1", "v", &l), STORE_OK);
	assert_int_equal(set1(f, f->u, 0, "/private/s2", "v", &l), STORE_OK);
	assert_int_equal(set1(f, f->u, 0, "/private/s3", "v", &l), STORE_OK);
	assert_int_equal(set1(f, f->u, 0, "/private/s4", "v", &l),
			 STORE_E_OVER_QUOTA);
	/* v has a count of its own */
	assert_int_equal(set1(f, f->v, 0, "/private/s4", "v", &l), STORE_OK);
	/* octets: names and values */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(set1(f, f->v, 0, "/private/s4", big, &l), STORE_OK);
	assert_int_equal(set1(f, f->v, 0, "/private/s5", big, &l),
			 STORE_E_OVER_QUOTA);
	/* a limit lowered under what is there: shrinking still works */
	l.account_bytes_max = 10;
	assert_int_equal(set1(f, f->v, 0, "/private/s4", "x", &l), STORE_OK);
	assert_int_equal(set1(f, f->v, 0, "/private/s4", "xx", &l),
			 STORE_E_OVER_QUOTA);
}


/* The changes an account lists after a number, "mailbox_id:name" joined
 * by ","; *last_r the next number. */
static char *
changes(struct fx *f, int64_t acct, int64_t since, int64_t *last_r)
{
	struct store_metadata_changed *v = NULL;
	size_t n = 0, len = 0;
	const char *error = NULL;
	char out[1024] = "";

	assert_int_equal(store_metadata_changes(f->ts.store, acct, since, &v,
						&n, last_r, &error),
			 STORE_OK);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len,
					"%s%lld:%s", i > 0 ? "," : "",
					(long long)v[i].mailbox_id,
					v[i].name);
	store_metadata_changed_free(&v, n);
	return xstrdup(out);
}

#define ASSERT_CHANGES(want, f, acct, since, last_r) do { \
		char *got_ = changes(f, acct, since, last_r); \
		assert_string_equal(got_, want); \
		free(got_); \
	} while (0)

/* NOTIFY's view (RFC 5465 5.9, 5.10): each entry set or removed once,
 * sorted by mailbox then name, only to who may hear of it; a refused
 * set leaves no trace. (The wake through the account's counter:
 * test_imap_notify.py, the unit store has no notification.) */
static void
test_changes(void **state)
{
	struct fx *f = *state;
	struct store_metadata_limits l = { .mailbox_entries_max = 2 };
	const char *error = NULL;
	int64_t start, last, last2;
	size_t n;
	char want[256];

	assert_int_equal(store_metadata_changes(f->ts.store, f->u, 0, NULL,
						&n, &start, &error),
			 STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(set1(f, f->u, f->box, "/shared/a", "1", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->u, f->box, "/shared/a", "2", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->u, f->box, "/private/p", "1", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->u, 0, "/private/s", "1", NULL), STORE_OK);
	assert_int_equal(set1(f, f->v, 0, "/private/t", "1", NULL), STORE_OK);
	snprintf(want, sizeof(want), "0:/private/s,%lld:/private/p,"
		 "%lld:/shared/a", (long long)f->box, (long long)f->box);
	ASSERT_CHANGES(want, f, f->u, start, &last);
	assert_true(last > start);
	/* v hears only of his own private server entry */
	ASSERT_CHANGES("0:/private/t", f, f->v, start, &last2);
	assert_int_equal(last2, last);
	ASSERT_CHANGES("", f, f->u, last, &last2);
	assert_int_equal(last2, last);
	/* over the limit: rolled back, nothing to tell */
	assert_int_equal(set1(f, f->u, f->box, "/shared/z", "1", &l),
			 STORE_E_OVER_QUOTA);
	ASSERT_CHANGES("", f, f->u, last, &last2);
	assert_int_equal(last2, last);
	/* a removal is a change */
	assert_int_equal(set1(f, f->u, f->box, "/shared/a", NULL, NULL),
			 STORE_OK);
	snprintf(want, sizeof(want), "%lld:/shared/a", (long long)f->box);
	ASSERT_CHANGES(want, f, f->u, last, &last2);
	assert_true(last2 > last);
}

/* A mailbox shared with v (RFC 5465 5.9 with RFC 5464 3.3): v hears of
 * its "/shared" entries whoever sets them and of its own "/private"
 * ones, u does not hear of v's private ones nor v of u's, and w, without
 * an ACL entry, hears of nothing until the mailbox is shared with
 * anyone. (Rights are the caller's to check: any entry is listed.) */
static void
test_changes_shared(void **state)
{
	struct fx *f = *state;
	const char *error = NULL;
	int64_t start, last, last2;
	size_t n;
	char want[256];

	assert_int_equal(store_acl_set(f->ts.store, f->box, f->v,
				       STORE_ACL_LOOKUP | STORE_ACL_READ |
				       STORE_ACL_WRITE, &error), STORE_OK);
	assert_int_equal(store_metadata_changes(f->ts.store, f->v, 0, NULL,
						&n, &start, &error),
			 STORE_OK);
	assert_int_equal(set1(f, f->u, f->box, "/shared/comment", "1", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->u, f->box, "/private/up", "1", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->v, f->box, "/shared/bycv", "1", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->v, f->box, "/private/vp", "1", NULL),
			 STORE_OK);
	snprintf(want, sizeof(want), "%lld:/private/vp,%lld:/shared/bycv,"
		 "%lld:/shared/comment", (long long)f->box, (long long)f->box,
		 (long long)f->box);
	ASSERT_CHANGES(want, f, f->v, start, &last);
	snprintf(want, sizeof(want), "%lld:/private/up,%lld:/shared/bycv,"
		 "%lld:/shared/comment", (long long)f->box, (long long)f->box,
		 (long long)f->box);
	ASSERT_CHANGES(want, f, f->u, start, &last2);
	assert_int_equal(last2, last);
	ASSERT_CHANGES("", f, f->w, start, &last2);
	/* shared with anyone: w hears of the shared entries too */
	assert_int_equal(store_acl_set(f->ts.store, f->box, 0,
				       STORE_ACL_LOOKUP | STORE_ACL_READ,
				       &error), STORE_OK);
	snprintf(want, sizeof(want), "%lld:/shared/bycv,%lld:/shared/comment",
		 (long long)f->box, (long long)f->box);
	ASSERT_CHANGES(want, f, f->w, start, &last2);
	/* the ACL entry gone: v no longer hears of the shared ones, still
	 * of its own private one (the caller drops it with the mailbox) */
	assert_int_equal(store_acl_set(f->ts.store, f->box, 0, 0, &error),
			 STORE_OK);
	assert_int_equal(store_acl_delete(f->ts.store, f->box, f->v, &error),
			 STORE_OK);
	snprintf(want, sizeof(want), "%lld:/private/vp", (long long)f->box);
	ASSERT_CHANGES(want, f, f->v, start, &last2);
}

static void
test_delete_rename_account(void **state)
{
	struct fx *f = *state;
	const char *error = NULL;
	int64_t id = 0;

	assert_int_equal(set1(f, f->u, f->box, "/shared/comment", "c", NULL),
			 STORE_OK);
	assert_int_equal(set1(f, f->v, 0, "/private/vv", "c", NULL), STORE_OK);
	assert_int_equal(set1(f, f->u, 0, "/private/uu", "c", NULL), STORE_OK);
	assert_int_equal(store_mailbox_rename(f->ts.store, f->u, "Proj",
					      "Work", NULL, &error), STORE_OK);
	ASSERT_GET("/shared/comment=c", f, f->u, f->box, "/shared/comment", 0,
		   UINT64_MAX);
	assert_int_equal(store_mailbox_delete(f->ts.store, f->u, "Work", &id,
					      &error), STORE_OK);
	assert_true(id == f->box);
	ASSERT_GET("", f, f->u, f->box, "/shared/comment", 0, UINT64_MAX);
	assert_int_equal(store_user_del(f->ts.store, "u@example.test",
					&error), STORE_OK);
	ASSERT_GET("", f, f->u, 0, "/private/uu", 0, UINT64_MAX);
	ASSERT_GET("/private/vv=c", f, f->v, 0, "/private/vv", 0, UINT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_and_maxsize, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_rename_account,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_changes_shared, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
