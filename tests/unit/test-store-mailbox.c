/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the store's mailbox management (store-mailbox.c,
 * store-sqlite-mailbox.c): name rules, create with parents, delete,
 * rename with children and RFC 9051's INBOX rule, subscriptions, limits,
 * STATUS counts and the change log rows each change leaves.
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
#include <sqlite3.h>

#include "conf/config.h"
#include "lib/mem.h"
#include "store/store.h"
#include "store-fixture.h"

struct fx {
	struct test_store ts;
	int64_t acct;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	static const char *const rows[] = { "user u@example.test", NULL };

	test_store_open(&f->ts, "store-mailbox");
	test_store_fill(&f->ts, rows);
	f->acct = test_store_user_id(&f->ts, "u@example.test");
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

static struct store_mailbox *
lookup(struct fx *f, const char *name)
{
	struct store_mailbox *b = NULL;
	const char *error = NULL;

	assert_int_equal(store_mailbox_lookup(f->ts.store, f->acct, name, &b,
					      &error), STORE_OK);
	return b;
}

static bool
exists(struct fx *f, const char *name)
{
	const char *error = NULL;
	enum store_result r = store_mailbox_find(f->ts.store, f->acct, name,
						 NULL, &error);

	assert_true(r == STORE_OK || r == STORE_E_NOT_FOUND);
	return r == STORE_OK;
}

static int64_t
lookup_id(struct fx *f, const char *name)
{
	const char *error = NULL;
	int64_t id = 0;

	assert_int_equal(store_mailbox_find(f->ts.store, f->acct, name, &id,
					    &error), STORE_OK);
	return id;
}

/* Delivers n small messages into mailbox id; the last one is \Seen. */
static void
deliver(struct fx *f, int64_t mailbox_id, int n, uint32_t flags)
{
	for (int i = 0; i < n; i++) {
		char text[64], blob[STORE_BLOB_ID_LEN + 1];
		const char *error = NULL;
		struct store_target t = { .account_id = f->acct,
					  .mailbox_id = mailbox_id,
					  .flags = flags };
		int len = snprintf(text, sizeof(text),
				   "Subject: %d\r\n\r\nbody %lld\r\n", i,
				   (long long)mailbox_id);

		assert_int_equal(store_blob_put(f->ts.store, text, (size_t)len,
						blob, &error), STORE_OK);
		assert_int_equal(store_deliver(f->ts.store, blob, (size_t)len,
					       0, &t, 1, NULL, &error),
				 STORE_OK);
	}
}

/* One integer from the database file, read on a connection of our own. */
static int64_t
db_int(struct fx *f, const char *sql, int64_t arg)
{
	char *path = xasprintf("%s/herald.db", f->ts.cfg->data_dir);
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, arg);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
	return v;
}

static int64_t
mailbox_changes(struct fx *f, int64_t id, const char *change)
{
	char *sql = xasprintf("SELECT count(*) FROM changes WHERE"
			      " kind = 'mailbox' AND object_id = ?1 AND"
			      " change = '%s'", change);
	int64_t n = db_int(f, sql, id);

	free(sql);
	return n;
}

static void
test_names(void **state)
{
	const char *error = NULL;
	static const struct {
		const char *name;
		enum store_result r;
	} cases[] = {
		{ "a", STORE_OK },
		{ "a/b/c", STORE_OK },
		{ "caf\xc3\xa9 & \"q\" \xf0\x9f\x93\xa7", STORE_OK },
		{ "[Gmail]/Sent Mail", STORE_OK },
		{ "", STORE_E_INVALID },
		{ "/a", STORE_E_INVALID },
		{ "a/", STORE_E_INVALID },
		{ "a//b", STORE_E_INVALID },
		{ "/", STORE_E_INVALID },
		{ "a\tb", STORE_E_INVALID },
		{ "a\x7f", STORE_E_INVALID },
		{ "a\xc2\x85", STORE_E_INVALID },	/* U+0085, C1 */
		{ "a\xe2\x80\xa8" "b", STORE_E_INVALID },	/* U+2028 */
		{ "a\xe2\x80\xa9", STORE_E_INVALID },	/* U+2029 */
		{ "a\xe2\x80\xa7", STORE_OK },	/* U+2027 */
		{ "\xff", STORE_E_INVALID },
		{ "\xc3", STORE_E_INVALID },
		{ "\xed\xa0\x80", STORE_E_INVALID },	/* surrogate */
		{ "0123456789", STORE_OK },
		{ "01234567890", STORE_E_INVALID },	/* over 10 */
	};
	char *c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum store_result r = store_mailbox_name_check(cases[i].name,
							       10, &error);

		if (strlen(cases[i].name) <= 10 ||
		    cases[i].r == STORE_E_INVALID)
			assert_int_equal(r, cases[i].r);
		else
			assert_int_equal(store_mailbox_name_check(
						 cases[i].name, 0, &error),
					 cases[i].r);
	}
	c = store_mailbox_name_canonical("iNbOx/Sub");
	assert_string_equal(c, "INBOX/Sub");
	free(c);
	c = store_mailbox_name_canonical("inboxes");
	assert_string_equal(c, "inboxes");
	free(c);
	c = store_mailbox_name_canonical("inbox");
	assert_string_equal(c, "INBOX");
	free(c);
}

static void
test_defaults(void **state)
{
	struct fx *f = *state;
	struct store_mailbox *b;
	static const char *const names[] = {
		"INBOX", "Drafts", "Sent", "Junk", "Trash", "Archive",
	};
	char **subs;
	size_t n;
	const char *error = NULL;

	for (size_t i = 0; i < 6; i++) {
		b = lookup(f, names[i]);
		assert_true(b->subscribed);
		assert_int_equal(b->role, (enum store_role)(STORE_ROLE_INBOX +
							    (int)i));
		/* user add logs them like any other creation */
		assert_int_equal(mailbox_changes(f, b->id, "created"), 1);
		store_mailbox_free(&b);
	}
	assert_int_equal(store_subscription_list(f->ts.store, f->acct, &subs,
						 &n, &error), STORE_OK);
	assert_int_equal(n, 0);
	assert_null(subs);
}

static void
test_create(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_mailbox *b, *trash;
	int64_t id, id2;

	assert_int_equal(store_mailbox_create(s, f->acct, "Work", 0, NULL, &id,
					      &error), STORE_OK);
	assert_true(id > 0);
	b = lookup(f, "Work");
	assert_int_equal(b->id, id);
	assert_false(b->subscribed);
	assert_int_equal(b->role, STORE_ROLE_NONE);
	assert_int_equal(b->uidnext, 1);
	trash = lookup(f, "Trash");
	assert_true(b->uidvalidity > trash->uidvalidity);
	store_mailbox_free(&trash);
	store_mailbox_free(&b);
	assert_int_equal(mailbox_changes(f, id, "created"), 1);

	/* duplicates: exact name, INBOX in any case; names are case
	 * sensitive otherwise */
	assert_int_equal(store_mailbox_create(s, f->acct, "Work", 0, NULL,
					      NULL, &error), STORE_E_EXISTS);
	assert_int_equal(store_mailbox_create(s, f->acct, "inbox", 0, NULL,
					      NULL, &error), STORE_E_EXISTS);
	assert_int_equal(store_mailbox_create(s, f->acct, "work", 0, NULL,
					      NULL, &error), STORE_OK);

	/* missing parents become real mailboxes (RFC 9051 6.3.4) */
	assert_int_equal(store_mailbox_create(s, f->acct, "p/q/r", 0, NULL,
					      &id, &error), STORE_OK);
	assert_true(exists(f, "p"));
	assert_true(exists(f, "p/q"));
	assert_true(exists(f, "p/q/r"));
	assert_int_equal(store_mailbox_find(s, f->acct, "p/q/r", &id2, &error),
			 STORE_OK);
	assert_int_equal(id2, id);
	/* children of INBOX, spelled in any case, are INBOX's */
	assert_int_equal(store_mailbox_create(s, f->acct, "inbox/Sub", 0, NULL,
					      NULL, &error), STORE_OK);
	assert_true(exists(f, "INBOX/Sub"));
	assert_true(exists(f, "Inbox/Sub"));
	b = lookup(f, "iNBOX/Sub");
	assert_string_equal(b->name, "INBOX/Sub");
	store_mailbox_free(&b);

	/* bad names and roles */
	assert_int_equal(store_mailbox_create(s, f->acct, "a//b", 0, NULL,
					      NULL, &error), STORE_E_INVALID);
	assert_int_equal(store_mailbox_create(s, f->acct, "x",
					      STORE_ROLE_INBOX, NULL, NULL,
					      &error), STORE_E_INVALID);
	assert_int_equal(store_mailbox_create(s, f->acct, "x",
					      STORE_ROLE_TRASH, NULL, NULL,
					      &error), STORE_E_IN_USE);
	assert_false(exists(f, "x"));
	assert_int_equal(store_mailbox_find(s, f->acct, "", NULL, &error),
			 STORE_E_INVALID);
	assert_int_equal(store_mailbox_find(s, f->acct, "nope", &id, &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(id, 0);
}

static void
test_create_role(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_mailbox *b;

	assert_int_equal(store_mailbox_delete(s, f->acct, "Archive", NULL,
					      &error), STORE_OK);
	assert_int_equal(store_mailbox_create(s, f->acct, "Old/Stuff",
					      STORE_ROLE_ARCHIVE, NULL, NULL,
					      &error), STORE_OK);
	b = lookup(f, "Old/Stuff");
	assert_int_equal(b->role, STORE_ROLE_ARCHIVE);
	store_mailbox_free(&b);
	b = lookup(f, "Old");
	assert_int_equal(b->role, STORE_ROLE_NONE);
	store_mailbox_free(&b);
	assert_int_equal(store_mailbox_lookup_role(s, f->acct,
						   STORE_ROLE_ARCHIVE, &b,
						   &error), STORE_OK);
	assert_string_equal(b->name, "Old/Stuff");
	store_mailbox_free(&b);
}

static void
test_limits(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_mailbox_limits lim = { .name_max = 12,
					    .mailboxes_max = 9 };

	/* 6 defaults; "a/b/c" needs 3 more: 9 is just allowed */
	assert_int_equal(store_mailbox_create(s, f->acct, "a/b/c/d", 0, &lim,
					      NULL, &error),
			 STORE_E_OVER_QUOTA);
	assert_false(exists(f, "a"));
	assert_int_equal(store_mailbox_create(s, f->acct, "a/b/c", 0, &lim,
					      NULL, &error), STORE_OK);
	assert_int_equal(store_mailbox_create(s, f->acct, "z", 0, &lim,
					      NULL, &error),
			 STORE_E_OVER_QUOTA);
	lim.mailboxes_max = 0;
	assert_int_equal(store_mailbox_create(s, f->acct, "abcdefghijklm", 0,
					      &lim, NULL, &error),
			 STORE_E_INVALID);
	assert_int_equal(store_mailbox_create(s, f->acct, "abcdefghijkl", 0,
					      &lim, NULL, &error), STORE_OK);
	/* a rename may not make a child's name too long */
	assert_int_equal(store_mailbox_rename(s, f->acct, "a", "abcdefghij",
					      &lim, &error), STORE_E_INVALID);
	assert_true(exists(f, "a/b/c"));
	assert_int_equal(store_mailbox_rename(s, f->acct, "a", "abcdefg",
					      &lim, &error), STORE_OK);
	assert_true(exists(f, "abcdefg/b/c"));
	/* subscriptions to names without a mailbox are bounded too */
	lim.mailboxes_max = 2;
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "n1", true, &lim,
						 &error), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "n2", true, &lim,
						 &error), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "n3", true, &lim,
						 &error), STORE_E_OVER_QUOTA);
	/* an existing mailbox is not a new row */
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "Junk", true,
						 &lim, &error), STORE_OK);
}

static void
test_delete(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_user *u;
	struct store_mailbox *b;
	int64_t id, del_id;
	uint32_t old_validity;
	char **subs;
	size_t n;

	assert_int_equal(store_mailbox_delete(s, f->acct, "INBOX", NULL,
					      &error), STORE_E_INVALID);
	assert_int_equal(store_mailbox_delete(s, f->acct, "inbox", NULL,
					      &error), STORE_E_INVALID);
	assert_int_equal(store_mailbox_delete(s, f->acct, "nope", NULL,
					      &error), STORE_E_NOT_FOUND);

	assert_int_equal(store_mailbox_create(s, f->acct, "P/C", 0, NULL, &id,
					      &error), STORE_OK);
	/* a parent with children is refused (NO [HASCHILDREN]) */
	assert_int_equal(store_mailbox_delete(s, f->acct, "P", NULL, &error),
			 STORE_E_IN_USE);
	/* "Q0" sorts right after "Q/..." and is no child of "Q" */
	assert_int_equal(store_mailbox_create(s, f->acct, "Q0", 0, NULL, NULL,
					      &error), STORE_OK);
	assert_int_equal(store_mailbox_create(s, f->acct, "Q", 0, NULL, NULL,
					      &error), STORE_OK);
	assert_int_equal(store_mailbox_delete(s, f->acct, "Q", NULL, &error),
			 STORE_OK);

	deliver(f, id, 3, STORE_FLAG_SEEN);
	assert_int_equal(store_user_lookup(s, "u@example.test", &u, &error),
			 STORE_OK);
	assert_int_equal(u->used_messages, 3);
	store_user_free(&u);
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "P/C", true, NULL,
						 &error), STORE_OK);
	b = lookup(f, "P/C");
	old_validity = b->uidvalidity;
	assert_true(b->subscribed);
	store_mailbox_free(&b);

	assert_int_equal(store_mailbox_delete(s, f->acct, "P/C", &del_id,
					      &error), STORE_OK);
	assert_int_equal(del_id, id);
	assert_false(exists(f, "P/C"));
	assert_int_equal(store_user_lookup(s, "u@example.test", &u, &error),
			 STORE_OK);
	assert_int_equal(u->used_messages, 0);
	assert_int_equal(u->used_bytes, 0);
	store_user_free(&u);
	assert_int_equal(db_int(f, "SELECT count(*) FROM messages WHERE"
				" mailbox_id = ?1", id), 0);
	/* the log keeps what went: the mailbox and its three emails */
	assert_int_equal(mailbox_changes(f, id, "destroyed"), 1);
	assert_int_equal(db_int(f, "SELECT count(*) FROM changes WHERE"
				" kind = 'email' AND change = 'destroyed' AND"
				" account_id = ?1", f->acct), 3);
	/* the subscription stays, to a name without a mailbox */
	assert_int_equal(store_subscription_list(s, f->acct, &subs, &n,
						 &error), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(subs[0], "P/C");
	store_strv_free(&subs, n);

	/* now the parent can go; a new "P/C" gets a new UIDVALIDITY and
	 * takes the subscription back */
	assert_int_equal(store_mailbox_delete(s, f->acct, "P", NULL, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_create(s, f->acct, "P/C", 0, NULL, NULL,
					      &error), STORE_OK);
	b = lookup(f, "P/C");
	assert_true(b->uidvalidity > old_validity);
	assert_true(b->subscribed);
	store_mailbox_free(&b);
	b = lookup(f, "P");
	assert_false(b->subscribed);
	store_mailbox_free(&b);
	assert_int_equal(store_subscription_list(s, f->acct, &subs, &n,
						 &error), STORE_OK);
	assert_int_equal(n, 0);
}

static void
test_rename(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_mailbox *b;
	struct store_mailbox_status st;
	int64_t a, ab;
	uint32_t va;

	assert_int_equal(store_mailbox_create(s, f->acct, "A/B", 0, NULL, &ab,
					      &error), STORE_OK);
	assert_int_equal(store_mailbox_find(s, f->acct, "A", &a, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_create(s, f->acct, "A0", 0, NULL, NULL,
					      &error), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "A/B", true, NULL,
						 &error), STORE_OK);
	deliver(f, ab, 2, 0);
	b = lookup(f, "A");
	va = b->uidvalidity;
	store_mailbox_free(&b);

	assert_int_equal(store_mailbox_rename(s, f->acct, "nope", "x", NULL,
					      &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_mailbox_rename(s, f->acct, "A", "Sent", NULL,
					      &error), STORE_E_EXISTS);
	assert_int_equal(store_mailbox_rename(s, f->acct, "A", "inbox", NULL,
					      &error), STORE_E_EXISTS);
	assert_int_equal(store_mailbox_rename(s, f->acct, "A", "A/B/C", NULL,
					      &error), STORE_E_INVALID);
	assert_int_equal(store_mailbox_rename(s, f->acct, "A", "x//y", NULL,
					      &error), STORE_E_INVALID);

	assert_int_equal(store_mailbox_rename(s, f->acct, "A", "X/Y", NULL,
					      &error), STORE_OK);
	assert_false(exists(f, "A"));
	assert_false(exists(f, "A/B"));
	assert_true(exists(f, "A0"));	/* not a child */
	assert_true(exists(f, "X"));	/* the new parent */
	b = lookup(f, "X/Y");
	assert_int_equal(b->id, a);
	assert_int_equal(b->uidvalidity, va);
	store_mailbox_free(&b);
	b = lookup(f, "X/Y/B");
	assert_int_equal(b->id, ab);
	assert_true(b->subscribed);
	assert_int_equal(b->uidnext, 3);
	store_mailbox_free(&b);
	assert_int_equal(store_mailbox_status(s, ab, &st, &error), STORE_OK);
	assert_int_equal(st.messages, 2);
	assert_int_equal(mailbox_changes(f, ab, "updated"), 2);

	/* a role goes with its mailbox */
	assert_int_equal(store_mailbox_rename(s, f->acct, "Sent",
					      "Sent Items", NULL, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_lookup_role(s, f->acct, STORE_ROLE_SENT,
						   &b, &error), STORE_OK);
	assert_string_equal(b->name, "Sent Items");
	store_mailbox_free(&b);
}

static void
test_rename_inbox(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_mailbox *inbox, *old, *b;
	struct store_message *msgs;
	struct store_mailbox_status st;
	size_t n;

	inbox = lookup(f, "INBOX");
	deliver(f, inbox->id, 3, 0);
	assert_int_equal(store_mailbox_create(s, f->acct, "INBOX/Kid", 0, NULL,
					      NULL, &error), STORE_OK);

	assert_int_equal(store_mailbox_rename(s, f->acct, "inbox", "Old/Mail",
					      NULL, &error), STORE_OK);
	/* INBOX stays, empty, same UIDVALIDITY and UIDNEXT */
	b = lookup(f, "INBOX");
	assert_int_equal(b->id, inbox->id);
	assert_int_equal(b->uidvalidity, inbox->uidvalidity);
	assert_int_equal(b->uidnext, 4);
	assert_int_equal(b->role, STORE_ROLE_INBOX);
	assert_true(b->highestmodseq > inbox->highestmodseq);
	store_mailbox_free(&b);
	assert_int_equal(store_mailbox_status(s, inbox->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 0);
	/* its children do not move */
	assert_true(exists(f, "INBOX/Kid"));
	assert_false(exists(f, "Old/Mail/Kid"));
	assert_true(exists(f, "Old"));

	old = lookup(f, "Old/Mail");
	assert_int_not_equal(old->uidvalidity, inbox->uidvalidity);
	assert_true(old->uidvalidity > inbox->uidvalidity);
	assert_int_equal(old->uidnext, 4);
	assert_int_equal(old->role, STORE_ROLE_NONE);
	assert_int_equal(store_message_list(s, old->id, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(msgs[i].uid, i + 1);
		assert_true(msgs[i].modseq <= old->highestmodseq);
	}
	free(msgs);
	/* the log: expunged from INBOX (QRESYNC VANISHED), created in the
	 * new mailbox */
	assert_int_equal(db_int(f, "SELECT count(*) FROM changes WHERE"
				" kind = 'email' AND change = 'destroyed' AND"
				" mailbox_id = ?1", inbox->id), 3);
	assert_int_equal(db_int(f, "SELECT count(*) FROM changes WHERE"
				" kind = 'email' AND change = 'created' AND"
				" mailbox_id = ?1", old->id), 3);
	/* new mail still goes to INBOX, with the next UID */
	deliver(f, inbox->id, 1, 0);
	assert_int_equal(store_message_list(s, inbox->id, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].uid, 4);
	free(msgs);
	/* again, to a name under INBOX: allowed, nothing moves under
	 * itself */
	assert_int_equal(store_mailbox_rename(s, f->acct, "INBOX",
					      "INBOX/Again", NULL, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_status(s, inbox->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 0);
	b = lookup(f, "INBOX/Again");
	assert_int_equal(store_mailbox_status(s, b->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 1);
	store_mailbox_free(&b);
	store_mailbox_free(&old);
	store_mailbox_free(&inbox);
}

/* The id-checked delete and rename (IMAP ACL): a name that a rename in
 * between gave to another mailbox is, for the caller, a missing one, and
 * that other mailbox is left as it is. */
static void
test_by_checked_id(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	int64_t a, b, del_id = -1;

	assert_int_equal(store_mailbox_create(s, f->acct, "Team", 0, NULL, &a,
					      &error), STORE_OK);
	assert_int_equal(store_mailbox_create(s, f->acct, "Other", 0, NULL,
					      &b, &error), STORE_OK);
	/* checked "Team" (a); then Team went away and Other took its name */
	assert_int_equal(store_mailbox_rename(s, f->acct, "Team", "Old", NULL,
					      &error), STORE_OK);
	assert_int_equal(store_mailbox_rename(s, f->acct, "Other", "Team",
					      NULL, &error), STORE_OK);
	assert_int_equal(store_mailbox_delete_id(s, f->acct, "Team", a,
						 &del_id, &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(del_id, 0);
	assert_int_equal(store_mailbox_rename_id(s, f->acct, "Team", a, "New",
						 NULL, &error),
			 STORE_E_NOT_FOUND);
	assert_true(exists(f, "Team"));
	assert_false(exists(f, "New"));
	assert_int_equal(lookup_id(f, "Team"), b);
	/* the name that still maps to the id checked is acted on */
	assert_int_equal(store_mailbox_rename_id(s, f->acct, "Team", b, "New",
						 NULL, &error), STORE_OK);
	assert_int_equal(lookup_id(f, "New"), b);
	assert_int_equal(store_mailbox_delete_id(s, f->acct, "Old", a,
						 &del_id, &error), STORE_OK);
	assert_int_equal(del_id, a);
	assert_false(exists(f, "Old"));
	/* 0 checks nothing */
	assert_int_equal(store_mailbox_delete_id(s, f->acct, "New", 0,
						 &del_id, &error), STORE_OK);
	assert_int_equal(del_id, b);
}

static void
test_subscribe(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_mailbox *b;
	char **subs;
	size_t n;

	assert_int_equal(store_mailbox_subscribe(s, f->acct, "Junk", false,
						 NULL, &error), STORE_OK);
	b = lookup(f, "Junk");
	assert_false(b->subscribed);
	assert_int_equal(mailbox_changes(f, b->id, "updated"), 1);
	store_mailbox_free(&b);
	/* again: no change, no log row */
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "Junk", false,
						 NULL, &error), STORE_OK);
	b = lookup(f, "Junk");
	assert_int_equal(mailbox_changes(f, b->id, "updated"), 1);
	store_mailbox_free(&b);

	assert_int_equal(store_mailbox_subscribe(s, f->acct, "Later/On", true,
						 NULL, &error), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "Later/On", true,
						 NULL, &error), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "inbox/x", true,
						 NULL, &error), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "a//b", true,
						 NULL, &error),
			 STORE_E_INVALID);
	assert_int_equal(store_subscription_list(s, f->acct, &subs, &n,
						 &error), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(subs[0], "INBOX/x");
	assert_string_equal(subs[1], "Later/On");
	store_strv_free(&subs, n);
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "INBOX/x", false,
						 NULL, &error), STORE_OK);
	/* not subscribed: still OK */
	assert_int_equal(store_mailbox_subscribe(s, f->acct, "never", false,
						 NULL, &error), STORE_OK);
	/* a rename onto a subscribed name takes the subscription */
	assert_int_equal(store_mailbox_create(s, f->acct, "Tmp", 0, NULL,
					      NULL, &error), STORE_OK);
	assert_int_equal(store_mailbox_rename(s, f->acct, "Tmp", "Later/On",
					      NULL, &error), STORE_OK);
	b = lookup(f, "Later/On");
	assert_true(b->subscribed);
	store_mailbox_free(&b);
	b = lookup(f, "Later");
	assert_false(b->subscribed);
	store_mailbox_free(&b);
	assert_int_equal(store_subscription_list(s, f->acct, &subs, &n,
						 &error), STORE_OK);
	assert_int_equal(n, 0);
}

static void
test_status(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_mailbox_status st;
	struct store_mailbox *b = lookup(f, "INBOX");
	uint32_t uids[] = { 1, 2 };
	size_t changed;

	deliver(f, b->id, 3, 0);
	deliver(f, b->id, 1, STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	assert_int_equal(store_mailbox_status(s, b->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 4);
	assert_int_equal(st.unseen, 3);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.uidnext, 5);
	assert_true(st.size > 0);
	assert_int_equal(store_flags_update(s, b->id, uids, 2,
					    STORE_FLAG_DELETED, 0, &changed,
					    NULL, &error), STORE_OK);
	assert_int_equal(store_mailbox_status(s, b->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.deleted, 3);
	/* derived, not kept: an expunge shows at once */
	assert_int_equal(store_expunge(s, b->id, uids, 2, NULL, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_status(s, b->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.unseen, 1);
	store_mailbox_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_defaults, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_role, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_by_checked_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_subscribe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
