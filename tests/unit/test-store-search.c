/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the store's full-text search index: entries per account
 * and body, what the work list does on delivery, copy, expunge and account
 * removal, the FTS5 trigram lookup, the text of bodies not yet indexed,
 * and a rebuild.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "store-fixture.h"
#include "store/store.h"

static const char msg_latin1[] =
	"From: =?iso-8859-1?q?J=F6rg?= <j@example.test>\r\n"
	"Subject: Gr=?iso-8859-1?q?=FC=DFe?=\r\n"
	"Content-Type: text/plain; charset=ISO-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Sch=F6ne Gr=FC=DFe aus M=FCnchen\r\n";

static const char msg_plain[] =
	"Subject: plain\r\n"
	"\r\n"
	"nothing special here, ab\r\n";

struct fx {
	struct test_store ts;
	int64_t alice, bob;
	int64_t inbox_a, archive_a;
	char blob1[STORE_BLOB_ID_LEN + 1];
	char blob2[STORE_BLOB_ID_LEN + 1];
};

static int64_t
mailbox_id(struct fx *f, int64_t account, const char *name)
{
	struct store_mailbox *b = NULL;
	const char *error = NULL;
	int64_t id;

	assert_int_equal(store_mailbox_lookup(f->ts.store, account, name, &b,
					      &error), STORE_OK);
	id = b->id;
	store_mailbox_free(&b);
	return id;
}

static void
deliver(struct fx *f, const char *blob, size_t size, int64_t account,
	int64_t mailbox)
{
	struct store_target t = { .account_id = account,
				  .mailbox_id = mailbox };
	const char *error = NULL;

	assert_int_equal(store_deliver(f->ts.store, blob, size, 0, &t, 1,
				       NULL, &error), STORE_OK);
}

static int
setup(void **state)
{
	static const char *const rows[] = {
		"user alice@example.test", "user bob@example.test", NULL
	};
	struct fx *f = calloc(1, sizeof(*f));
	const char *error = NULL;

	test_store_open(&f->ts, "search");
	test_store_fill(&f->ts, rows);
	f->alice = test_store_user_id(&f->ts, "alice@example.test");
	f->bob = test_store_user_id(&f->ts, "bob@example.test");
	f->inbox_a = mailbox_id(f, f->alice, "INBOX");
	f->archive_a = mailbox_id(f, f->alice, "Archive");
	assert_int_equal(store_blob_put(f->ts.store, msg_latin1,
					strlen(msg_latin1), f->blob1, &error),
			 STORE_OK);
	assert_int_equal(store_blob_put(f->ts.store, msg_plain,
					strlen(msg_plain), f->blob2, &error),
			 STORE_OK);
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

static size_t
index_pending(struct fx *f)
{
	const char *error = NULL;
	size_t done = 0;

	assert_int_equal(store_search_index_pending(f->ts.store, 0, &done,
						    &error), STORE_OK);
	return done;
}

static int64_t
doc_of(struct fx *f, int64_t account, const char *blob)
{
	struct store_search *s = NULL;
	const char *error = NULL;
	int64_t doc = -1;

	assert_int_equal(store_search_begin(f->ts.store, account, &s, &error),
			 STORE_OK);
	assert_int_equal(store_search_doc(s, blob, &doc, &error), STORE_OK);
	store_search_end(&s);
	return doc;
}

static size_t
matches(struct fx *f, int64_t account, const char *needle, bool body_only,
	int64_t want)
{
	struct store_search *s = NULL;
	const char *error = NULL;
	int64_t *docs = NULL;
	size_t n = 0;

	assert_int_equal(store_search_begin(f->ts.store, account, &s, &error),
			 STORE_OK);
	assert_int_equal(store_search_match(s, needle, body_only, &docs, &n,
					    &error), STORE_OK);
	if (want != 0) {
		assert_int_equal(n, 1);
		assert_int_equal(docs[0], want);
	}
	free(docs);
	store_search_end(&s);
	return n;
}

static void
test_index_lifecycle(void **state)
{
	struct fx *f = *state;
	struct store_search *s = NULL;
	const char *error = NULL;
	struct buf hdr, body;
	int64_t d1, d1b;
	uint32_t uid1 = 1;

	deliver(f, f->blob1, strlen(msg_latin1), f->alice, f->inbox_a);
	deliver(f, f->blob1, strlen(msg_latin1), f->alice, f->archive_a);
	deliver(f, f->blob2, strlen(msg_plain), f->alice, f->inbox_a);
	deliver(f, f->blob1, strlen(msg_latin1), f->bob, 0);

	/* not indexed yet: the text comes from the body */
	assert_int_equal(doc_of(f, f->alice, f->blob1), 0);
	buf_init(&hdr);
	buf_init(&body);
	assert_int_equal(store_search_begin(f->ts.store, f->alice, &s,
					    &error), STORE_OK);
	assert_int_equal(store_search_text(s, 0, f->blob1, &hdr, &body,
					   &error), STORE_OK);
	assert_non_null(strstr(hdr.data, "Subject: Grüße\n"));
	assert_string_equal(body.data, "Schöne Grüße aus München\r\n\n");
	store_search_end(&s);

	/* four queued entries: two bodies for alice (one twice), one for
	 * bob */
	assert_int_equal(index_pending(f), 4);
	assert_int_equal(index_pending(f), 0);
	d1 = doc_of(f, f->alice, f->blob1);
	d1b = doc_of(f, f->bob, f->blob1);
	assert_true(d1 > 0 && d1b > 0 && d1 != d1b);
	assert_true(doc_of(f, f->alice, f->blob2) > 0);
	assert_int_equal(doc_of(f, f->bob, f->blob2), 0);

	/* the mailbox's entries in one statement, by UID */
	{
		uint32_t *uids = NULL;
		int64_t *docs = NULL;
		size_t n = 0;

		assert_int_equal(store_search_begin(f->ts.store, f->alice, &s,
						    &error), STORE_OK);
		assert_int_equal(store_search_mailbox_docs(s, f->inbox_a,
							   &uids, &docs, &n,
							   &error), STORE_OK);
		assert_int_equal(n, 2);
		assert_int_equal(uids[0], 1);
		assert_int_equal(docs[0], d1);
		assert_int_equal(uids[1], 2);
		assert_int_equal(docs[1], doc_of(f, f->alice, f->blob2));
		free(uids);
		free(docs);
		store_search_end(&s);
	}

	/* each account sees its own entries only; case folded */
	assert_int_equal(matches(f, f->alice, "MÜNCHEN", true, d1), 1);
	assert_int_equal(matches(f, f->bob, "münchen", true, d1b), 1);
	assert_int_equal(matches(f, f->alice, "grüße", false, d1), 1);
	assert_int_equal(matches(f, f->alice, "Jörg", true, 0), 0);
	assert_int_equal(matches(f, f->alice, "Jörg", false, d1), 1);
	assert_int_equal(matches(f, f->alice, "a\"b", false, 0), 0);
	assert_int_equal(matches(f, f->alice, "nothing", false, 0), 1);

	/* too short for the index */
	{
		int64_t *docs = NULL;
		size_t n = 9;

		assert_int_equal(store_search_begin(f->ts.store, f->alice, &s,
						    &error), STORE_OK);
		assert_int_equal(store_search_match(s, "ab", false, &docs, &n,
						    &error), STORE_E_INVALID);
		assert_int_equal(n, 0);
		/* the index's text */
		buf_reset(&hdr);
		buf_reset(&body);
		assert_int_equal(store_search_text(s, d1, f->blob1, &hdr,
						   NULL, &error), STORE_OK);
		assert_non_null(strstr(hdr.data, "From: Jörg"));
		store_search_end(&s);
	}

	/* expunged from INBOX, still in Archive: the entry stays */
	assert_int_equal(store_expunge(f->ts.store, f->inbox_a, &uid1, 1,
				       NULL, &error), STORE_OK);
	assert_int_equal(index_pending(f), 1);
	assert_int_equal(doc_of(f, f->alice, f->blob1), d1);
	/* gone from Archive too: so is the entry, and its trigrams */
	assert_int_equal(store_expunge(f->ts.store, f->archive_a, &uid1, 1,
				       NULL, &error), STORE_OK);
	assert_int_equal(index_pending(f), 1);
	assert_int_equal(doc_of(f, f->alice, f->blob1), 0);
	assert_int_equal(matches(f, f->alice, "münchen", false, 0), 0);
	assert_int_equal(matches(f, f->bob, "münchen", false, d1b), 1);

	/* an account removed: its entries go */
	assert_int_equal(store_user_del(f->ts.store, "bob@example.test",
					&error), STORE_OK);
	assert_true(index_pending(f) >= 1);
	assert_int_equal(doc_of(f, f->bob, f->blob1), 0);
	assert_int_equal(matches(f, f->bob, "münchen", false, 0), 0);

	/* a rebuild queues every message again */
	assert_int_equal(store_search_reindex(f->ts.store, &error), STORE_OK);
	assert_int_equal(doc_of(f, f->alice, f->blob2), 0);
	assert_int_equal(index_pending(f), 1);
	assert_true(doc_of(f, f->alice, f->blob2) > 0);
	assert_int_equal(matches(f, f->alice, "special", true, 0), 1);
	assert_int_equal(store_check_integrity(f->ts.store, &error),
			 STORE_OK);
	buf_deinit(&hdr);
	buf_deinit(&body);
}

static void
test_indexer_thread(void **state)
{
	struct fx *f = *state;
	const char *error = NULL;
	int64_t doc = 0;

	f->ts.cfg->store.search_index = true;
	assert_int_equal(store_search_indexer_start(f->ts.store, &error),
			 STORE_OK);
	deliver(f, f->blob2, strlen(msg_plain), f->alice, f->inbox_a);
	for (int i = 0; i < 500 && doc == 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		doc = doc_of(f, f->alice, f->blob2);
	}
	assert_true(doc > 0);
	/* store_close (teardown) stops the thread */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_index_lifecycle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_indexer_thread, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
