/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the store's full-text search index: entries per account
 * and body, what the work list does on delivery, copy, expunge and account
 * removal, the FTS5 trigram lookup, the text of bodies not yet indexed,
 * a rebuild, an index file lost or damaged while stopped, and the text a
 * round may hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

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
	if (store_search_doc(s, blob, &doc, &error) != STORE_OK)
		fail_msg("search doc: %s", error);
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
	/* only in a header field: detail=none has no column filter, so a
	 * body-only lookup gives it too (SEARCH confirms it away) */
	assert_int_equal(matches(f, f->alice, "Jörg", true, d1), 1);
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

static void
reopen(struct fx *f)
{
	const char *error = NULL;

	store_close(&f->ts.store);
	assert_int_equal(store_open(f->ts.cfg, &f->ts.store, &error),
			 STORE_OK);
}

static char *
index_path(struct fx *f)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/data/herald.db-search", f->ts.dir) > 0);
	return p;
}

/* The index file deleted, or overwritten with garbage, while the store
 * is closed: the next open makes it anew and queues every message; the
 * answers are the same once it is rebuilt (and right meanwhile: no entry
 * means the text comes from the body). */
static void
test_index_file_recreated(void **state)
{
	static const char garbage[4096] = "this is not an SQLite database";
	struct fx *f = *state;
	char *path = index_path(f);
	int64_t d1;
	int fd;

	deliver(f, f->blob1, strlen(msg_latin1), f->alice, f->inbox_a);
	deliver(f, f->blob2, strlen(msg_plain), f->alice, f->inbox_a);
	assert_int_equal(index_pending(f), 2);
	d1 = doc_of(f, f->alice, f->blob1);
	assert_true(d1 > 0);

	for (int round = 0; round < 3; round++) {
		store_close(&f->ts.store);
		if (round == 0) {
			assert_int_equal(unlink(path), 0);
		} else {
			/* garbage at the start, or a valid SQLite file of
			 * another program */
			fd = open(path, O_WRONLY | O_TRUNC);
			assert_true(fd >= 0);
			if (round == 1) {
				assert_int_equal(write(fd, garbage,
						       sizeof(garbage)),
						 (ssize_t)sizeof(garbage));
			}
			close(fd);
			if (round == 2) {
				sqlite3 *db = NULL;

				assert_int_equal(sqlite3_open(path, &db),
						 SQLITE_OK);
				assert_int_equal(sqlite3_exec(db, "CREATE TABLE"
							      " t (x)", NULL,
							      NULL, NULL),
						 SQLITE_OK);
				sqlite3_close(db);
			}
		}
		reopen(f);
		/* empty, every message queued */
		assert_int_equal(doc_of(f, f->alice, f->blob1), 0);
		assert_int_equal(matches(f, f->alice, "münchen", true, 0), 0);
		assert_int_equal(index_pending(f), 2);
		d1 = doc_of(f, f->alice, f->blob1);
		assert_true(d1 > 0);
		assert_int_equal(matches(f, f->alice, "münchen", true, d1), 1);
		assert_int_equal(matches(f, f->alice, "special", false, 0), 1);
	}
	free(path);
}

static void
sql_on(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

/* The two crash orders of a round (docs/store.md "Search index"): the
 * index written but its queue rows left (the round runs again: nothing
 * changes), and the queue rows removed but the index's last rounds lost
 * (an OS crash with synchronous=NORMAL: no entry, the text comes from
 * the body, the answers stay; a stale entry is never an answer). */
static void
test_crash_orders(void **state)
{
	struct fx *f = *state;
	char *ixp = index_path(f), *dbp = NULL;
	struct store_search *s = NULL;
	const char *error = NULL;
	struct buf hdr, body;
	int64_t d1, d2;
	uint32_t uid2 = 2;

	assert_true(asprintf(&dbp, "%s/data/herald.db", f->ts.dir) > 0);
	deliver(f, f->blob1, strlen(msg_latin1), f->alice, f->inbox_a);
	deliver(f, f->blob2, strlen(msg_plain), f->alice, f->inbox_a);
	assert_int_equal(index_pending(f), 2);
	d1 = doc_of(f, f->alice, f->blob1);
	d2 = doc_of(f, f->alice, f->blob2);
	assert_true(d1 > 0 && d2 > 0);

	/* (1) the same work again, adds and a drop of a body still named */
	sql_on(dbp, "INSERT INTO search_queue (account_id, blob_id, op)"
	       " SELECT account_id, blob_id, 0 FROM messages;"
	       "INSERT INTO search_queue (account_id, blob_id, op)"
	       " SELECT account_id, blob_id, 1 FROM messages;");
	assert_int_equal(index_pending(f), 4);
	assert_int_equal(doc_of(f, f->alice, f->blob1), d1);
	assert_int_equal(doc_of(f, f->alice, f->blob2), d2);
	assert_int_equal(matches(f, f->alice, "münchen", false, d1), 1);
	/* the drop of blob2 applied, then its queue row again */
	assert_int_equal(store_expunge(f->ts.store, f->inbox_a, &uid2, 1,
				       NULL, &error), STORE_OK);
	assert_int_equal(index_pending(f), 1);
	assert_int_equal(doc_of(f, f->alice, f->blob2), 0);
	{
		char *sql = NULL;

		assert_true(asprintf(&sql, "INSERT INTO search_queue"
				     " (account_id, blob_id, op) VALUES"
				     " (%lld, '%s', 1), (%lld, '%s', 0)",
				     (long long)f->alice, f->blob2,
				     (long long)f->alice, f->blob2) > 0);
		sql_on(dbp, sql);
		free(sql);
	}
	assert_int_equal(index_pending(f), 2);
	assert_int_equal(doc_of(f, f->alice, f->blob2), 0);
	assert_int_equal(matches(f, f->alice, "special", false, 0), 0);

	/* (2) the index lost its rounds, the queue is empty: no entry, the
	 * text comes from the body */
	sql_on(ixp, "INSERT INTO search_text (search_text)"
	       " VALUES ('delete-all'); DELETE FROM search_docs;");
	assert_int_equal(doc_of(f, f->alice, f->blob1), 0);
	buf_init(&hdr);
	buf_init(&body);
	assert_int_equal(store_search_begin(f->ts.store, f->alice, &s,
					    &error), STORE_OK);
	assert_int_equal(store_search_text(s, 0, f->blob1, &hdr, &body,
					   &error), STORE_OK);
	assert_non_null(strstr(body.data, "München"));
	store_search_end(&s);
	buf_deinit(&hdr);
	buf_deinit(&body);
	/* a rebuild brings the entry back */
	assert_int_equal(store_search_reindex(f->ts.store, &error), STORE_OK);
	assert_int_equal(index_pending(f), 1);
	assert_true(doc_of(f, f->alice, f->blob1) > 0);
	free(dbp);
	free(ixp);
}

/* The index file deleted, or its pages overwritten, while the store is
 * open: the indexer's next round replaces it by an empty one and queues
 * every message; searches stay right meanwhile. */
static void
test_index_damaged_while_open(void **state)
{
	static char garbage[65536];
	struct fx *f = *state;
	char *ixp = index_path(f), *p = NULL;
	const char *error = NULL;
	size_t done = 0;
	enum store_result r;
	int fd;

	deliver(f, f->blob1, strlen(msg_latin1), f->alice, f->inbox_a);
	deliver(f, f->blob2, strlen(msg_plain), f->alice, f->inbox_a);
	assert_int_equal(index_pending(f), 2);
	assert_true(doc_of(f, f->alice, f->blob1) > 0);

	/* deleted */
	assert_int_equal(unlink(ixp), 0);
	assert_true(asprintf(&p, "%s-wal", ixp) > 0);
	(void)unlink(p);
	free(p);
	assert_int_equal(index_pending(f), 2);
	assert_true(doc_of(f, f->alice, f->blob1) > 0);
	assert_int_equal(matches(f, f->alice, "special", true,
				 doc_of(f, f->alice, f->blob2)), 1);

	/* every page but the first (the schema) overwritten, once they
	 * are all in the file: a round that reads the entries fails, the
	 * next after the repair succeeds */
	sql_on(ixp, "PRAGMA wal_checkpoint(TRUNCATE)");
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)(i * 131 + 7);
	fd = open(ixp, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, garbage, sizeof(garbage), 4096),
			 (ssize_t)sizeof(garbage));
	close(fd);
	deliver(f, f->blob2, strlen(msg_plain), f->alice, f->archive_a);
	/* a search that reads the damage fails (a NO, never a wrong
	 * answer) and marks the file; the indexer's next round, or the one
	 * after the round that reads it, replaces it */
	{
		struct store_search *s = NULL;
		int64_t *docs = NULL;
		size_t n = 0;

		assert_int_equal(store_search_begin(f->ts.store, f->alice, &s,
						    &error), STORE_OK);
		(void)store_search_match(s, "münchen", false, &docs, &n,
					 &error);
		free(docs);
		store_search_end(&s);
	}
	r = store_search_index_pending(f->ts.store, 0, &done, &error);
	if (r != STORE_OK)
		assert_int_equal(store_search_index_pending(f->ts.store, 0,
							    &done, &error),
				 STORE_OK);
	assert_true(doc_of(f, f->alice, f->blob1) > 0);
	assert_true(doc_of(f, f->alice, f->blob2) > 0);
	assert_int_equal(matches(f, f->alice, "münchen", true,
				 doc_of(f, f->alice, f->blob1)), 1);
	free(ixp);
}

/* [store] search_round_bytes: a round stops taking messages once their
 * text reaches it (at least one per round). */
static void
test_round_bytes(void **state)
{
	struct fx *f = *state;
	struct store_stats st0, st1;
	const char *error = NULL;
	char blob[3][STORE_BLOB_ID_LEN + 1];
	struct buf m;

	buf_init(&m);
	buf_puts(&m, "Subject: big\r\n\r\n");
	for (int i = 0; i < 100; i++)
		buf_puts(&m, "a line of text in a message of 3 KB or so\r\n");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_blob_put(f->ts.store, m.data, m.len,
						blob[i], &error), STORE_OK);
		/* different bodies: one more octet each */
		buf_putc(&m, 'x');
	}
	f->ts.cfg->store.search_round_bytes = 1024;
	for (int i = 0; i < 3; i++)
		deliver(f, blob[i], m.len - 3 + (size_t)i, f->alice,
			f->inbox_a);
	store_get_stats(f->ts.store, &st0);
	assert_int_equal(index_pending(f), 3);
	store_get_stats(f->ts.store, &st1);
	assert_int_equal(st1.search_rounds - st0.search_rounds, 3);
	for (int i = 0; i < 3; i++)
		assert_true(doc_of(f, f->alice, blob[i]) > 0);

	/* with room for all three: one round */
	f->ts.cfg->store.search_round_bytes = 1024 * 1024;
	assert_int_equal(store_search_reindex(f->ts.store, &error), STORE_OK);
	store_get_stats(f->ts.store, &st0);
	assert_int_equal(index_pending(f), 3);
	store_get_stats(f->ts.store, &st1);
	assert_int_equal(st1.search_rounds - st0.search_rounds, 1);
	buf_deinit(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_index_lifecycle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_indexer_thread, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_index_file_recreated,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_bytes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_crash_orders, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_index_damaged_while_open,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
