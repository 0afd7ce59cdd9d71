/* SPDX-License-Identifier: MIT */
/*
 * Change notification (store.h "change notification", store-notify.h): the
 * counters move after every committed write of a mailbox, from any write
 * path and any process, and only then; a watch wakes for a change made by
 * another process; store_mailbox_delta reads what changed since a modseq;
 * a shared mailbox's grantees' counters move with it.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "conf/config.h"
#include "lib/mem.h"
#include "store/store-notify.h"
#include "store/store.h"
#include "store-fixture.h"

static int
setup(void **state)
{
	struct test_store *ts = xcalloc(1, sizeof(*ts));

	test_store_open(ts, "notify");
	test_store_fill(ts, (const char *const[]){
		"user a@example.test", "user b@example.test", NULL });
	*state = ts;
	return 0;
}

static int
teardown(void **state)
{
	struct test_store *ts = *state;

	test_store_close(ts);
	free(ts);
	return 0;
}

static int64_t
mailbox_id(struct test_store *ts, const char *user, const char *name)
{
	struct store_mailbox *box = NULL;
	const char *error = NULL;
	int64_t id;

	assert_int_equal(store_mailbox_lookup(ts->store,
					      test_store_user_id(ts, user),
					      name, &box, &error), STORE_OK);
	id = box->id;
	store_mailbox_free(&box);
	return id;
}

static uint32_t
deliver(struct store *store, int64_t account, int64_t mailbox)
{
	static int n;
	char body[128], id[STORE_BLOB_ID_LEN + 1];
	struct store_target t = { .account_id = account,
				  .mailbox_id = mailbox };
	const char *error = NULL;
	int len = snprintf(body, sizeof(body),
			   "Subject: %d\r\n\r\nbody %d %d\r\n", n, n,
			   (int)getpid());

	n++;
	assert_int_equal(store_blob_put(store, body, (size_t)len, id, &error),
			 STORE_OK);
	assert_int_equal(store_deliver(store, id, (uint64_t)len, 0, &t, 1, NULL,
				       &error), STORE_OK);
	return t.uid;
}

static uint64_t
counter(struct test_store *ts, int64_t mailbox)
{
	return store_change_counter(ts->store, STORE_WATCH_MAILBOX, mailbox);
}

/* Every write path moves the mailbox's counter (and its account's) by the
 * time the call returns; writes that change nothing, and other accounts'
 * writes, leave it. */
static void
test_counters(void **state)
{
	struct test_store *ts = *state;
	int64_t a = test_store_user_id(ts, "a@example.test");
	int64_t b = test_store_user_id(ts, "b@example.test");
	int64_t inbox = mailbox_id(ts, "a@example.test", "INBOX");
	int64_t other = mailbox_id(ts, "b@example.test", "INBOX");
	const char *error = NULL;
	uint64_t c, acc, o;
	uint32_t uid, missing = 999;
	size_t changed;

	c = counter(ts, inbox);
	acc = store_change_counter(ts->store, STORE_WATCH_ACCOUNT, a);
	o = counter(ts, other);
	assert_int_not_equal(c, 0);

	uid = deliver(ts->store, a, inbox);
	assert_true(counter(ts, inbox) > c);
	assert_true(store_change_counter(ts->store, STORE_WATCH_ACCOUNT, a) >
		    acc);
	assert_int_equal(counter(ts, other), o);

	c = counter(ts, inbox);
	assert_int_equal(store_flags_update(ts->store, inbox, &uid, 1,
					    STORE_FLAG_SEEN, 0, &changed, NULL,
					    &error), STORE_OK);
	assert_int_equal(changed, 1);
	assert_true(counter(ts, inbox) > c);

	/* nothing changed: no modseq, no wake-up */
	c = counter(ts, inbox);
	assert_int_equal(store_flags_update(ts->store, inbox, &uid, 1,
					    STORE_FLAG_SEEN, 0, &changed, NULL,
					    &error), STORE_OK);
	assert_int_equal(changed, 0);
	assert_int_equal(store_flags_update(ts->store, inbox, &missing, 1,
					    STORE_FLAG_SEEN, 0, &changed, NULL,
					    &error), STORE_OK);
	assert_int_equal(counter(ts, inbox), c);

	assert_int_equal(store_expunge(ts->store, inbox, &uid, 1, &changed,
				       &error), STORE_OK);
	assert_int_equal(changed, 1);
	assert_true(counter(ts, inbox) > c);
	assert_int_equal(counter(ts, other), o);

	/* a refused delivery (quota) commits nothing and wakes nobody */
	assert_int_equal(store_user_set_quota(ts->store, "b@example.test", 1,
					      &error), STORE_OK);
	{
		char id[STORE_BLOB_ID_LEN + 1];
		struct store_target t = { .account_id = b,
					  .mailbox_id = other };

		assert_int_equal(store_blob_put(ts->store, "x\r\n", 3, id,
						&error), STORE_OK);
		assert_int_equal(store_deliver(ts->store, id, 3, 0, &t, 1,
					       NULL, &error),
				 STORE_E_OVER_QUOTA);
	}
	assert_int_equal(counter(ts, other), o);

	/* a mailbox renamed or deleted under a session that has it
	 * selected */
	{
		int64_t id;

		assert_int_equal(store_mailbox_create(ts->store, a, "Lists",
						      STORE_ROLE_NONE, NULL,
						      &id, &error), STORE_OK);
		c = counter(ts, id);
		assert_int_equal(store_mailbox_rename(ts->store, a, "Lists",
						      "Lists2", NULL, &error),
				 STORE_OK);
		assert_true(counter(ts, id) > c);
		c = counter(ts, id);
		assert_int_equal(store_mailbox_delete(ts->store, a, "Lists2",
						      NULL, &error), STORE_OK);
		assert_true(counter(ts, id) > c);
	}

	/* deleting the account deletes its mailboxes (by cascade): a
	 * session that has one selected must hear of it */
	c = counter(ts, inbox);
	assert_int_equal(store_user_del(ts->store, "a@example.test", &error),
			 STORE_OK);
	assert_true(counter(ts, inbox) > c);
}

static bool
readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN) != 0;
}

/* A watch wakes for a delivery made by another process (as a worker's
 * sessions do for SMTP on the other worker), and sees the counter moved;
 * no change, no wake-up. */
static void
test_watch_other_process(void **state)
{
	struct test_store *ts = *state;
	int64_t a = test_store_user_id(ts, "a@example.test");
	int64_t inbox = mailbox_id(ts, "a@example.test", "INBOX");
	struct store_watch *w = NULL;
	const char *error = NULL;
	struct timespec t0, t1;
	uint64_t c;
	pid_t pid;
	int status;

	assert_int_equal(store_watch_new(ts->store, &w, &error), STORE_OK);
	assert_false(readable(store_watch_fd(w), 50));
	c = counter(ts, inbox);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a store of its own, as a worker opens after fork (the
		 * parent's writer thread is not in the child) */
		struct store *s = NULL;

		if (store_open(ts->cfg, &s, &error) != STORE_OK)
			_exit(2);
		deliver(s, a, inbox);
		store_close(&s);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(readable(store_watch_fd(w), 5000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(counter(ts, inbox) > c);
	store_watch_ack(w);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* acknowledged, and nothing since */
	assert_false(readable(store_watch_fd(w), 50));

	/* and for this process's own writes */
	deliver(ts->store, a, inbox);
	assert_true(readable(store_watch_fd(w), 1000));

	/* freeing does not wait for a change, and works after the store
	 * is closed (a worker's sessions may go after its store) */
	store_close(&ts->store);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	store_watch_free(&w);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_null(w);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
}

/* Several watches in one process all wake, and each frees alone. */
static void
test_watch_many(void **state)
{
	struct test_store *ts = *state;
	int64_t a = test_store_user_id(ts, "a@example.test");
	int64_t inbox = mailbox_id(ts, "a@example.test", "INBOX");
	struct store_watch *w[4] = { 0 };
	const char *error = NULL;

	for (int i = 0; i < 4; i++)
		assert_int_equal(store_watch_new(ts->store, &w[i], &error),
				 STORE_OK);
	store_watch_free(&w[1]);
	deliver(ts->store, a, inbox);
	for (int i = 0; i < 4; i++) {
		if (i != 1)
			assert_true(readable(store_watch_fd(w[i]), 1000));
	}
	for (int i = 0; i < 4; i++)
		store_watch_free(&w[i]);
}

/* A publish right after the watch is made (before its thread has run)
 * still wakes it: the thread's starting point is taken at creation. */
static void
test_watch_publish_at_once(void **state)
{
	struct test_store *ts = *state;
	char *path = xasprintf("%s/test-notify", ts->cfg->data_dir);
	char err[256];
	struct store_notify *n = store_notify_open(path, err, sizeof(err));
	struct store_notify_key key = { .kind = STORE_WATCH_MAILBOX,
					.id = 7 };

	assert_non_null(n);
	for (int i = 0; i < 200; i++) {
		struct store_notify_watch *w =
			store_notify_watch_new(n, STORE_WATCH_KINDS_ALL, err,
					       sizeof(err));
		struct pollfd p;

		assert_non_null(w);
		store_notify_publish(n, &key, 1);
		p = (struct pollfd){ .fd = store_notify_watch_fd(w),
				     .events = POLLIN };
		assert_int_equal(poll(&p, 1, 2000), 1);
		store_notify_watch_free(&w);
	}
	/* the watch held a reference: the mapping goes with the last */
	store_notify_close(&n);
	assert_null(n);
	free(path);
}

/* A watch of some kinds wakes for a publish of those only: the queue
 * runner's (queue) sleeps through mailbox changes, an IDLE hub's
 * (mailboxes, accounts) through queue changes; a publish of both kinds
 * wakes both, and every watch still stops at once. */
static void
test_watch_kinds(void **state)
{
	struct test_store *ts = *state;
	char *path = xasprintf("%s/test-notify", ts->cfg->data_dir);
	char err[256];
	struct store_notify *n = store_notify_open(path, err, sizeof(err));
	struct store_notify_key box = { .kind = STORE_WATCH_MAILBOX, .id = 7 };
	struct store_notify_key acct = { .kind = STORE_WATCH_ACCOUNT,
					 .id = 3 };
	struct store_notify_key queue = { .kind = STORE_WATCH_QUEUE };
	struct store_notify_key both[2] = { box, queue };
	struct store_notify_watch *wq, *wm;
	struct pollfd p[2];

	assert_non_null(n);
	wq = store_notify_watch_new(n, STORE_WATCH_KIND(STORE_WATCH_QUEUE),
				    err, sizeof(err));
	wm = store_notify_watch_new(n, STORE_WATCH_KIND(STORE_WATCH_MAILBOX) |
				    STORE_WATCH_KIND(STORE_WATCH_ACCOUNT), err,
				    sizeof(err));
	assert_non_null(wq);
	assert_non_null(wm);
	p[0] = (struct pollfd){ .fd = store_notify_watch_fd(wq),
				.events = POLLIN };
	p[1] = (struct pollfd){ .fd = store_notify_watch_fd(wm),
				.events = POLLIN };
	usleep(50000);	/* both threads asleep */
	store_notify_publish(n, &box, 1);
	store_notify_publish(n, &acct, 1);
	assert_int_equal(poll(&p[1], 1, 2000), 1);
	assert_int_equal(poll(&p[0], 1, 200), 0);
	store_notify_watch_ack(wm);
	usleep(50000);
	store_notify_publish(n, &queue, 1);
	assert_int_equal(poll(&p[0], 1, 2000), 1);
	assert_int_equal(poll(&p[1], 1, 200), 0);
	store_notify_watch_ack(wq);
	usleep(50000);
	store_notify_publish(n, both, 2);
	assert_int_equal(poll(&p[0], 1, 2000), 1);
	assert_int_equal(poll(&p[1], 1, 2000), 1);
	store_notify_watch_free(&wq);
	store_notify_watch_free(&wm);
	store_notify_close(&n);
	free(path);
}

static void
add_keyword(struct test_store *ts, int64_t mailbox, uint32_t uid,
	    const char *kw)
{
	struct store_flags_change ch = { .kw_add = &kw, .n_kw_add = 1 };
	const char *error = NULL;

	assert_int_equal(store_flags_store(ts->store, mailbox, &uid, 1, &ch,
					   NULL, &error), STORE_OK);
}

/* store_mailbox_delta: new messages by UID, changed ones by modseq (with
 * keywords), expunged UIDs from the change log. */
static void
test_delta(void **state)
{
	struct test_store *ts = *state;
	int64_t a = test_store_user_id(ts, "a@example.test");
	int64_t inbox = mailbox_id(ts, "a@example.test", "INBOX");
	struct store_mailbox_delta d;
	const char *error = NULL;
	uint32_t uids[4];
	uint64_t since;
	size_t n;

	for (int i = 0; i < 4; i++)
		uids[i] = deliver(ts->store, a, inbox);
	assert_int_equal(store_mailbox_delta(ts->store, inbox, 0, 1, &d,
					     &error), STORE_OK);
	assert_int_equal(d.n_changed, 4);
	assert_int_equal(d.uidnext, uids[3] + 1);
	assert_int_equal(d.n_expunged, 0);
	since = d.highestmodseq;
	store_mailbox_delta_free(&d);

	/* nothing since */
	assert_int_equal(store_mailbox_delta(ts->store, inbox, since,
					     uids[3] + 1, &d, &error),
			 STORE_OK);
	assert_int_equal(d.n_changed, 0);
	assert_int_equal(d.n_expunged, 0);
	assert_int_equal(d.highestmodseq, since);
	store_mailbox_delta_free(&d);

	/* a flag change, an expunge, a delivery, a keyword */
	assert_int_equal(store_flags_update(ts->store, inbox, &uids[1], 1,
					    STORE_FLAG_FLAGGED, 0, &n, NULL,
					    &error), STORE_OK);
	assert_int_equal(store_expunge(ts->store, inbox, &uids[2], 1, &n,
				       &error), STORE_OK);
	uids[2] = deliver(ts->store, a, inbox);
	add_keyword(ts, inbox, uids[0], "$Forwarded");
	add_keyword(ts, inbox, uids[0], "$Label1");

	/* the same UID asked twice (modseq and uid_from) comes once */
	assert_int_equal(store_mailbox_delta(ts->store, inbox, since,
					     uids[2], &d, &error), STORE_OK);
	assert_int_equal(d.n_changed, 3);
	assert_int_equal(d.changed[0].msg.uid, uids[0]);
	assert_int_equal(d.changed[0].n_keywords, 2);
	assert_string_equal(d.changed[0].keywords[0], "$Forwarded");
	assert_string_equal(d.changed[0].keywords[1], "$Label1");
	assert_int_equal(d.changed[1].msg.uid, uids[1]);
	assert_int_equal(d.changed[1].msg.flags, STORE_FLAG_FLAGGED);
	assert_int_equal(d.changed[1].n_keywords, 0);
	assert_int_equal(d.changed[2].msg.uid, uids[2]);
	assert_int_equal(d.n_expunged, 1);
	assert_int_equal(d.expunged[0], 3);
	assert_true(d.highestmodseq > since);
	assert_int_equal(d.n_keywords, 2);
	assert_string_equal(d.keywords[0], "$Forwarded");
	assert_string_equal(d.keywords[1], "$Label1");
	store_mailbox_delta_free(&d);

	assert_int_equal(store_mailbox_delta(ts->store, 99999, 0, 1, &d,
					     &error), STORE_E_NOT_FOUND);
}

/* Makes the change log rows up to and including the first expunge
 * record of mailbox an hour old (as if written then). */
static void
age_log_through_expunge(struct test_store *ts, int64_t mailbox)
{
	char *path = xasprintf("%s/herald.db", ts->cfg->data_dir);
	char *sql = xasprintf("UPDATE changes SET at = at - 3600 WHERE id <="
			      " (SELECT min(id) FROM changes WHERE"
			      " mailbox_id = %lld AND change = 'destroyed')",
			      (long long)mailbox);
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(sql);
	free(path);
}

/* store_changes_prune: only rows old enough, oldest first, in rounds of
 * max; a delta from before a pruned expunge is partial and lists every
 * UID present, one from its modseq on is exact again. */
static void
test_changes_prune(void **state)
{
	struct test_store *ts = *state;
	int64_t a = test_store_user_id(ts, "a@example.test");
	int64_t inbox = mailbox_id(ts, "a@example.test", "INBOX");
	struct store_changes_prune_result res = { .max_age_s = 600 };
	struct store_mailbox_delta d;
	const char *error = NULL;
	uint64_t before, after_first;
	uint32_t uids[4];
	size_t n, total = 0;

	for (int i = 0; i < 4; i++)
		uids[i] = deliver(ts->store, a, inbox);
	assert_int_equal(store_mailbox_delta(ts->store, inbox, 0, 1, &d,
					     &error), STORE_OK);
	before = d.highestmodseq;
	assert_false(d.expunged_partial);
	assert_null(d.present);
	store_mailbox_delta_free(&d);
	assert_int_equal(store_expunge(ts->store, inbox, &uids[1], 1, &n,
				       &error), STORE_OK);
	assert_int_equal(store_mailbox_delta(ts->store, inbox, 0, 1, &d,
					     &error), STORE_OK);
	after_first = d.highestmodseq;
	store_mailbox_delta_free(&d);
	assert_int_equal(store_expunge(ts->store, inbox, &uids[2], 1, &n,
				       &error), STORE_OK);

	/* nothing old enough yet */
	assert_int_equal(store_changes_prune(ts->store, &res, &error),
			 STORE_OK);
	assert_int_equal(res.pruned, 0);
	assert_false(res.more);

	/* rounds of 3 until done; the second expunge stays */
	age_log_through_expunge(ts, inbox);
	res.max = 3;
	do {
		assert_int_equal(store_changes_prune(ts->store, &res,
						     &error), STORE_OK);
		assert_true(res.pruned <= 3);
		total += res.pruned;
	} while (res.more);
	assert_true(total >= 5);	/* 4 deliveries and the expunge */
	assert_int_equal(store_changes_prune(ts->store, &res, &error),
			 STORE_OK);
	assert_int_equal(res.pruned, 0);

	/* from before the pruned expunge: partial, every present UID */
	assert_int_equal(store_mailbox_delta(ts->store, inbox, before,
					     uids[3] + 1, &d, &error),
			 STORE_OK);
	assert_true(d.expunged_partial);
	assert_int_equal(d.n_expunged, 1);
	assert_int_equal(d.expunged[0], uids[2]);
	assert_int_equal(d.n_present, 2);
	assert_int_equal(d.present[0], uids[0]);
	assert_int_equal(d.present[1], uids[3]);
	store_mailbox_delta_free(&d);

	/* from its modseq on: exact */
	assert_int_equal(store_mailbox_delta(ts->store, inbox, after_first,
					     uids[3] + 1, &d, &error),
			 STORE_OK);
	assert_false(d.expunged_partial);
	assert_null(d.present);
	assert_int_equal(d.n_expunged, 1);
	assert_int_equal(d.expunged[0], uids[2]);
	store_mailbox_delta_free(&d);

	/* another mailbox has no horizon */
	assert_int_equal(store_mailbox_delta(ts->store,
					     mailbox_id(ts, "b@example.test",
							"INBOX"), 0, 1, &d,
					     &error), STORE_OK);
	assert_false(d.expunged_partial);
	store_mailbox_delta_free(&d);
}

/* The counters live in the shared file: another store handle on the same
 * database (a second process, here a second open) reads the same values. */
static void
test_shared_between_handles(void **state)
{
	struct test_store *ts = *state;
	int64_t a = test_store_user_id(ts, "a@example.test");
	int64_t inbox = mailbox_id(ts, "a@example.test", "INBOX");
	struct store *s2 = NULL;
	const char *error = NULL;

	assert_int_equal(store_open(ts->cfg, &s2, &error), STORE_OK);
	assert_int_equal(store_change_counter(s2, STORE_WATCH_MAILBOX, inbox),
			 counter(ts, inbox));
	deliver(s2, a, inbox);
	assert_int_equal(store_change_counter(s2, STORE_WATCH_MAILBOX, inbox),
			 counter(ts, inbox));
	store_close(&s2);
}

static uint64_t
account_counter(struct test_store *ts, int64_t account)
{
	return store_change_counter(ts->store, STORE_WATCH_ACCOUNT, account);
}

/* A mailbox shared with an account moves that account's counter when it
 * changes, when the account's rights on it change and when it goes
 * (IMAP NOTIFY of a grantee); "anyone" moves account 0's; an account
 * without an entry is not woken. */
static void
test_counters_grantees(void **state)
{
	struct test_store *ts = *state;
	int64_t a = test_store_user_id(ts, "a@example.test");
	int64_t b = test_store_user_id(ts, "b@example.test");
	int64_t c, team, id;
	const char *error = NULL;
	uint64_t cb, cc, c0;
	uint32_t uid;
	size_t changed;

	test_store_fill(ts, (const char *const[]){
		"user c@example.test", NULL });
	c = test_store_user_id(ts, "c@example.test");
	assert_int_equal(store_mailbox_create(ts->store, a, "Team",
					      STORE_ROLE_NONE, NULL, &team,
					      &error), STORE_OK);

	cb = account_counter(ts, b);
	cc = account_counter(ts, c);
	assert_int_equal(store_acl_set(ts->store, team, b,
				       STORE_ACL_LOOKUP | STORE_ACL_READ,
				       &error), STORE_OK);
	assert_true(account_counter(ts, b) > cb);
	assert_int_equal(account_counter(ts, c), cc);

	cb = account_counter(ts, b);
	uid = deliver(ts->store, a, team);
	assert_true(account_counter(ts, b) > cb);
	cb = account_counter(ts, b);
	assert_int_equal(store_flags_update(ts->store, team, &uid, 1,
					    STORE_FLAG_SEEN, 0, &changed, NULL,
					    &error), STORE_OK);
	assert_true(account_counter(ts, b) > cb);
	assert_int_equal(account_counter(ts, c), cc);

	cb = account_counter(ts, b);
	assert_int_equal(store_acl_set(ts->store, team, b, STORE_ACL_LOOKUP,
				       &error), STORE_OK);
	assert_true(account_counter(ts, b) > cb);

	c0 = account_counter(ts, 0);
	assert_int_equal(store_acl_set(ts->store, team, STORE_ACL_ANYONE,
				       STORE_ACL_LOOKUP, &error), STORE_OK);
	assert_true(account_counter(ts, 0) > c0);
	c0 = account_counter(ts, 0);
	(void)deliver(ts->store, a, team);
	assert_true(account_counter(ts, 0) > c0);

	cb = account_counter(ts, b);
	assert_int_equal(store_acl_delete(ts->store, team, b, &error),
			 STORE_OK);
	assert_true(account_counter(ts, b) > cb);
	/* no entry now: the owner's changes leave bob's counter */
	cb = account_counter(ts, b);
	(void)deliver(ts->store, a, team);
	assert_int_equal(account_counter(ts, b), cb);

	assert_int_equal(store_acl_set(ts->store, team, b, STORE_ACL_LOOKUP,
				       &error), STORE_OK);
	cb = account_counter(ts, b);
	assert_int_equal(store_mailbox_delete(ts->store, a, "Team", &id,
					      &error), STORE_OK);
	assert_true(account_counter(ts, b) > cb);
	assert_int_equal(account_counter(ts, c), cc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_counters_grantees, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_watch_other_process,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_many, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_watch_publish_at_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_kinds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_prune, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_shared_between_handles,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
