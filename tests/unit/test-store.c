/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/store: migrations, directory, mailboxes, delivery,
 * quota, flags, expunge, blobs, queue, group commit under 8 threads, and a
 * kill -9 crash test. Each test gets its own temp dir under /tmp.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "conf/config.h"
#include "lib/mem.h"
#include "mail/mime-cache.h"
#include "mail/thread-keys.h"
#include "store/store.h"
#include "store/store-sqlite-private.h"
#include "store/store-wlock.h"

struct fixture {
	char dir[64];
	struct config *cfg;
	struct store *store;
};

/* A database from before migration 10 has none of its columns. */
/* What migrations 17 and 19 added, for a database taken back before
 * them. */
#define ACCOUNTS_BEFORE_17 \
	"ALTER TABLE accounts DROP COLUMN quota_messages;" \
	"DROP INDEX threads_continued;" \
	"ALTER TABLE threads DROP COLUMN continued_in;"
/* What migration 11 added, for a database taken back before it. */
#define QUEUE_BEFORE_11 \
	"ALTER TABLE queue DROP COLUMN need_8bitmime;" \
	"ALTER TABLE queue DROP COLUMN need_smtputf8;"
#define QUEUE_BEFORE_10 \
	"DROP INDEX IF EXISTS queue_status_due;" \
	"ALTER TABLE queue DROP COLUMN msg_id;" \
	"ALTER TABLE queue DROP COLUMN warned;" \
	"ALTER TABLE queue_rcpts DROP COLUMN next_attempt;" \
	"ALTER TABLE queue_rcpts DROP COLUMN attempts;" \
	"ALTER TABLE queue_rcpts DROP COLUMN dsn_status;" \
	"ALTER TABLE queue_rcpts DROP COLUMN relay;" \
	"ALTER TABLE queue_rcpts DROP COLUMN tls;" \
	"ALTER TABLE queue_rcpts DROP COLUMN notify;"

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static struct config *
make_config(const char *dir)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	cfg->data_dir = xasprintf("%s/data", dir);
	cfg->store.group_commit_max = 64;
	cfg->store.group_commit_wait_us = 200;
	cfg->store.busy_timeout_ms = 10000;
	return cfg;
}

static void
free_config(struct config **cfgp)
{
	struct config *cfg = *cfgp;

	free(cfg->data_dir);
	free(cfg->store.sqlite_path);
	free(cfg);
	*cfgp = NULL;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *error = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/herald-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->cfg = make_config(f->dir);
	if (store_open(f->cfg, &f->store, &error) != STORE_OK) {
		fprintf(stderr, "store_open: %s\n", error);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(&f->store);
	free_config(&f->cfg);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A domain and one user; returns the account id. */
static int64_t
add_user(struct store *store, const char *address, uint64_t quota)
{
	const char *error = NULL;
	const char *at = strchr(address, '@');
	int64_t id = 0;

	assert_non_null(at);
	if (store_domain_lookup(store, at + 1, &error) == STORE_E_NOT_FOUND)
		assert_int_equal(store_domain_add(store, at + 1, &error),
				 STORE_OK);
	assert_int_equal(store_user_add(store, address, "{PLAIN}x", NULL,
					quota, &id, &error), STORE_OK);
	assert_true(id > 0);
	return id;
}

static void
put_text(struct store *store, const char *text, char id[STORE_BLOB_ID_LEN + 1])
{
	const char *error = NULL;

	assert_int_equal(store_blob_put(store, text, strlen(text), id, &error),
			 STORE_OK);
}

/* ---- tests ---- */

static void
test_migrations_reopen(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char **names;
	size_t n;
	int version = store_schema_version(f->store);

	assert_true(version >= 1);
	assert_int_equal(store_check_integrity(f->store, &error), STORE_OK);
	assert_int_equal(store_domain_add(f->store, "Example.ORG", &error),
			 STORE_OK);
	store_close(&f->store);
	assert_null(f->store);
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	assert_int_equal(store_schema_version(f->store), version);
	assert_int_equal(store_domain_list(f->store, &names, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "example.org");
	store_strv_free(&names, n);
	assert_null(names);

	/* A backend not built yet is refused cleanly. */
	{
		struct config *cfg = make_config(f->dir);
		struct store *s2 = NULL;

		cfg->store.backend = CONFIG_STORE_MARIADB;
		assert_int_equal(store_open(cfg, &s2, &error),
				 STORE_E_INVALID);
		assert_null(s2);
		free_config(&cfg);
	}
}

static void
test_domains(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	char **names;
	size_t n;

	assert_int_equal(store_domain_add(s, "b.example", &error), STORE_OK);
	assert_int_equal(store_domain_add(s, "a.example", &error), STORE_OK);
	assert_int_equal(store_domain_add(s, "A.Example", &error),
			 STORE_E_EXISTS);
	assert_non_null(strstr(error, "already exists"));
	assert_int_equal(store_domain_add(s, "bad domain", &error),
			 STORE_E_INVALID);
	assert_int_equal(store_domain_add(s, "", &error), STORE_E_INVALID);
	/* the domain syntax is mail/address.h's: LDH labels, U-labels as
	 * valid UTF-8 */
	assert_int_equal(store_domain_add(s, "a..example", &error),
			 STORE_E_INVALID);
	assert_int_equal(store_domain_add(s, "-a.example", &error),
			 STORE_E_INVALID);
	assert_int_equal(store_domain_add(s, "a_b.example", &error),
			 STORE_E_INVALID);
	assert_int_equal(store_domain_add(s, "[192.0.2.1]", &error),
			 STORE_E_INVALID);
	assert_int_equal(store_domain_add(s, "b\xff.example", &error),
			 STORE_E_INVALID);
	assert_int_equal(store_domain_lookup(s, "B.EXAMPLE", &error),
			 STORE_OK);
	assert_int_equal(store_domain_lookup(s, "c.example", &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_domain_lookup(s, "bad domain", &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_domain_lookup(s, NULL, &error),
			 STORE_E_NOT_FOUND);
	/* A database that cannot be read is a temporary failure, never
	 * "not ours" (which would mean 550 relay denied). */
	store_test_fail_reads(s, true);
	assert_int_equal(store_domain_lookup(s, "b.example", &error),
			 STORE_E_TEMP);
	assert_non_null(strstr(error, "test fault"));
	assert_int_equal(store_domain_lookup(s, "c.example", NULL),
			 STORE_E_TEMP);
	store_test_fail_reads(s, false);
	assert_int_equal(store_domain_lookup(s, "b.example", NULL), STORE_OK);
	assert_int_equal(store_domain_list(s, &names, &n, &error), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "a.example");
	assert_string_equal(names[1], "b.example");
	store_strv_free(&names, n);

	assert_int_equal(store_domain_del(s, "c.example", false, &error),
			 STORE_E_NOT_FOUND);
	add_user(s, "joe@a.example", 0);
	assert_int_equal(store_alias_add(s, "info@b.example", "joe@a.example",
					 &error), STORE_OK);
	assert_int_equal(store_domain_del(s, "a.example", false, &error),
			 STORE_E_IN_USE);
	assert_int_equal(store_domain_del(s, "b.example", false, &error),
			 STORE_E_IN_USE);
	assert_int_equal(store_domain_del(s, "a.example", true, &error),
			 STORE_OK);
	assert_int_equal(store_domain_del(s, "b.example", true, &error),
			 STORE_OK);
	{
		struct store_user *u;
		assert_int_equal(store_user_lookup(s, "joe@a.example", &u,
						   &error), STORE_E_NOT_FOUND);
		assert_null(u);
	}
	assert_int_equal(store_domain_list(s, &names, &n, &error), STORE_OK);
	assert_int_equal(n, 0);
	store_strv_free(&names, n);
	assert_int_equal(store_check_integrity(s, &error), STORE_OK);
	/* a U-label domain, and local parts that must be valid UTF-8 */
	assert_int_equal(store_domain_add(s, "b\xc3\xbcro.example", &error),
			 STORE_OK);
	assert_int_equal(store_user_add(s, "x\xc3@b\xc3\xbcro.example", "{X}h",
					NULL, 0, NULL, &error),
			 STORE_E_INVALID);
	assert_int_equal(store_user_add(s, "j\xc3\xb6rg@b\xc3\xbcro.example",
					"{X}h", NULL, 0, NULL, &error),
			 STORE_OK);
}

static void
test_users(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	struct store_user *u, *users;
	int64_t id;
	size_t n;

	assert_int_equal(store_user_add(s, "Alice@nodomain.example", "{X}h",
					NULL, 0, &id, &error),
			 STORE_E_NOT_FOUND);
	assert_non_null(strstr(error, "domain nodomain.example does not"));
	assert_int_equal(store_domain_add(s, "example.com", &error), STORE_OK);
	assert_int_equal(store_domain_add(s, "example.net", &error), STORE_OK);
	assert_int_equal(store_user_add(s, "Alice@Example.com", "{X}h1",
					"scram-cred", 1000, &id, &error),
			 STORE_OK);
	assert_int_equal(store_user_add(s, "ALICE@example.com", "{X}h",
					NULL, 0, NULL, &error),
			 STORE_E_EXISTS);
	assert_int_equal(store_user_add(s, "noat", "{X}h", NULL, 0, NULL,
					&error), STORE_E_INVALID);
	assert_int_equal(store_user_add(s, "@example.com", "{X}h", NULL, 0,
					NULL, &error), STORE_E_INVALID);
	assert_int_equal(store_user_add(s, "bob@example.com", "", NULL, 0,
					NULL, &error), STORE_E_INVALID);
	assert_int_equal(store_user_add(s, "bob@example.com", "{X}b", NULL, 0,
					NULL, &error), STORE_OK);
	assert_int_equal(store_user_add(s, "carol@example.net", "{X}c", NULL,
					0, NULL, &error), STORE_OK);

	assert_int_equal(store_user_lookup(s, "aLiCe@EXAMPLE.COM", &u, &error),
			 STORE_OK);
	assert_int_equal(u->id, id);
	assert_string_equal(u->address, "Alice@example.com");
	assert_string_equal(u->password_hash, "{X}h1");
	assert_string_equal(u->scram_sha256, "scram-cred");
	assert_int_equal(u->quota_bytes, 1000);
	assert_int_equal(u->used_bytes, 0);
	store_user_free(&u);
	assert_null(u);

	assert_int_equal(store_user_set_password(s, "alice@example.com",
						 "{X}h2", NULL, &error),
			 STORE_OK);
	assert_int_equal(store_user_get(s, id, &u, &error), STORE_OK);
	assert_string_equal(u->password_hash, "{X}h2");
	assert_null(u->scram_sha256);
	store_user_free(&u);
	assert_int_equal(store_user_set_password(s, "zed@example.com", "{X}",
						 NULL, &error),
			 STORE_E_NOT_FOUND);

	assert_int_equal(store_user_list(s, NULL, &users, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(users[0].address, "Alice@example.com");
	assert_string_equal(users[1].address, "bob@example.com");
	assert_string_equal(users[2].address, "carol@example.net");
	store_users_free(&users, n);
	assert_int_equal(store_user_list(s, "example.net", &users, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	store_users_free(&users, n);
	assert_int_equal(store_user_list(s, "nosuch.example", &users, &n,
					 &error), STORE_E_NOT_FOUND);

	assert_int_equal(store_user_del(s, "BOB@example.com", &error),
			 STORE_OK);
	assert_int_equal(store_user_del(s, "bob@example.com", &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_user_lookup(s, "bob@example.com", &u, &error),
			 STORE_E_NOT_FOUND);
}

static void
test_aliases(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	struct store_alias *al;
	char **t;
	size_t n;

	assert_int_equal(store_alias_add(s, "x@nodomain.example", "a@b.c",
					 &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_domain_add(s, "example.com", &error), STORE_OK);
	assert_int_equal(store_alias_add(s, "team@example.com", "a@x.org",
					 &error), STORE_OK);
	assert_int_equal(store_alias_add(s, "team@example.com", "b@x.org",
					 &error), STORE_OK);
	assert_int_equal(store_alias_add(s, "Team@example.com", "a@x.org",
					 &error), STORE_E_EXISTS);
	assert_int_equal(store_alias_add(s, "team@example.com", "notanaddr",
					 &error), STORE_E_INVALID);

	assert_int_equal(store_alias_resolve(s, "TEAM@Example.com", &t, &n,
					     &error), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(t[0], "a@x.org");
	assert_string_equal(t[1], "b@x.org");
	store_strv_free(&t, n);

	assert_int_equal(store_alias_resolve(s, "other@example.com", &t, &n,
					     &error), STORE_E_NOT_FOUND);
	assert_null(t);
	assert_int_equal(store_alias_add(s, "@example.com", "catch@x.org",
					 &error), STORE_OK);
	assert_int_equal(store_alias_resolve(s, "other@example.com", &t, &n,
					     &error), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(t[0], "catch@x.org");
	store_strv_free(&t, n);
	/* An address with its own rows does not fall back. */
	assert_int_equal(store_alias_resolve(s, "team@example.com", &t, &n,
					     &error), STORE_OK);
	assert_int_equal(n, 2);
	store_strv_free(&t, n);

	assert_int_equal(store_alias_list(s, NULL, &al, &n, &error), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(al[0].source, "@example.com");
	assert_string_equal(al[1].source, "team@example.com");
	assert_string_equal(al[1].target, "a@x.org");
	store_aliases_free(&al, n);

	assert_int_equal(store_alias_del(s, "team@example.com", "a@x.org",
					 &error), STORE_OK);
	assert_int_equal(store_alias_del(s, "team@example.com", "a@x.org",
					 &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_alias_del(s, "team@example.com", NULL, &error),
			 STORE_OK);
	assert_int_equal(store_alias_list(s, "example.com", &al, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	store_aliases_free(&al, n);
}

static void
test_mailboxes(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	struct store_mailbox *boxes, *b;
	struct store_mailbox_status st;
	int64_t acct = add_user(s, "u@example.com", 0);
	size_t n;
	static const struct {
		const char *name;
		enum store_role role;
	} want[] = {
		{ "Archive", STORE_ROLE_ARCHIVE }, { "Drafts", STORE_ROLE_DRAFTS },
		{ "INBOX", STORE_ROLE_INBOX }, { "Junk", STORE_ROLE_JUNK },
		{ "Sent", STORE_ROLE_SENT }, { "Trash", STORE_ROLE_TRASH },
	};

	assert_int_equal(store_mailbox_list(s, acct, &boxes, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(boxes[i].name, want[i].name);
		assert_int_equal(boxes[i].role, want[i].role);
		assert_true(boxes[i].subscribed);
		assert_int_equal(boxes[i].uidnext, 1);
		assert_true(boxes[i].uidvalidity > 0);
		assert_true(strlen(boxes[i].jmap_id) > 10);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(boxes[i].jmap_id,
						boxes[j].jmap_id);
			assert_int_not_equal(boxes[i].uidvalidity,
					     boxes[j].uidvalidity);
		}
	}
	store_mailboxes_free(&boxes, n);
	assert_string_equal(store_role_imap(STORE_ROLE_JUNK), "\\Junk");
	assert_null(store_role_imap(STORE_ROLE_INBOX));

	assert_int_equal(store_mailbox_lookup(s, acct, "inbox", &b, &error),
			 STORE_OK);
	assert_string_equal(b->name, "INBOX");
	store_mailbox_free(&b);
	assert_int_equal(store_mailbox_lookup(s, acct, "sent", &b, &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_mailbox_lookup(s, acct, "Sent", &b, &error),
			 STORE_OK);
	assert_int_equal(b->role, STORE_ROLE_SENT);
	store_mailbox_free(&b);
	assert_int_equal(store_mailbox_lookup_role(s, acct, STORE_ROLE_TRASH,
						   &b, &error), STORE_OK);
	assert_string_equal(b->name, "Trash");
	assert_int_equal(store_mailbox_status(s, b->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.uidnext, 1);
	assert_int_equal(st.uidvalidity, b->uidvalidity);
	store_mailbox_free(&b);
	assert_int_equal(store_mailbox_status(s, 999999, &st, &error),
			 STORE_E_NOT_FOUND);
}

/* Delivers header text (plus a body) to account's mailbox (NULL:
 * INBOX) threaded by its keys, as delivery and APPEND do; returns the
 * new message's thread id. */
static int64_t
deliver_threaded(struct store *s, int64_t account, const char *mailbox,
		 const char *header)
{
	const char *error = NULL;
	char *text = xasprintf("%s\r\nbody\r\n", header);
	char blob[STORE_BLOB_ID_LEN + 1];
	struct mail_thread_keys k;
	struct store_mailbox *box;
	struct store_message *msgs;
	struct store_target t = { .account_id = account,
				  .mailbox_name = mailbox };
	int64_t thread = 0;
	size_t n;

	mail_thread_keys_parse(text, strlen(text),
				       store_thread_limits(s), &k);
	t.thread_subject = k.base_subject;
	t.thread_msgid = k.message_id;
	t.thread_refs = (const char *const *)k.refs;
	t.n_thread_refs = k.n_refs;
	put_text(s, text, blob);
	assert_int_equal(store_deliver(s, blob, strlen(text), 0, &t, 1, NULL,
				       &error), STORE_OK);
	assert_int_equal(store_mailbox_lookup(s, account, mailbox != NULL ?
					      mailbox : "INBOX", &box, &error),
			 STORE_OK);
	assert_int_equal(store_message_list(s, box->id, &msgs, &n, &error),
			 STORE_OK);
	for (size_t i = 0; i < n; i++)
		if (msgs[i].uid == t.uid)
			thread = msgs[i].thread_id;
	assert_true(thread > 0);
	free(msgs);
	store_mailbox_free(&box);
	mail_thread_keys_deinit(&k);
	free(text);
	return thread;
}

/* docs/store.md "Threads": a reply joins its parent's thread (and a
 * parent its early reply's) in the same account when the base subjects
 * match; copies of one delivery share one thread. */
static void
test_deliver_threads(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t b = add_user(s, "b@example.com", 0);
	int64_t p, r, other, early, late, lone, pb, rb;
	char blob[STORE_BLOB_ID_LEN + 1];
	struct store_message *msgs;
	struct store_mailbox *box;
	size_t n;

	p = deliver_threaded(s, a, NULL, "Message-ID: <p@x>\r\n"
			     "Subject: Plan for Q3\r\n");
	/* "Re:" and case do not matter; the parent is found by
	 * In-Reply-To, a grandchild by References */
	r = deliver_threaded(s, a, NULL, "Message-ID: <r@x>\r\n"
			     "In-Reply-To: <p@x>\r\nReferences: <p@x>\r\n"
			     "Subject: RE: plan for q3\r\n");
	assert_int_equal(r, p);
	assert_int_equal(deliver_threaded(s, a, "Archive",
					  "Message-ID: <g@x>\r\n"
					  "References: <p@x> (c) <r@x>\r\n"
					  "Subject: Re: [list] Re: Plan for Q3"
					  "\r\n"), p);
	/* a reply whose subject changed starts a thread */
	other = deliver_threaded(s, a, NULL, "Message-ID: <o@x>\r\n"
				 "In-Reply-To: <p@x>\r\n"
				 "Subject: Re: something else\r\n");
	assert_true(other != p);
	/* neither ids nor subject: alone, even with the same subject */
	lone = deliver_threaded(s, a, NULL, "Subject: Plan for Q3\r\n");
	assert_true(lone != p && lone != other);
	/* a reply that arrives before its parent */
	early = deliver_threaded(s, a, NULL, "Message-ID: <e@x>\r\n"
				 "In-Reply-To: <q@x>\r\n"
				 "Subject: Re: Budget\r\n");
	late = deliver_threaded(s, a, NULL, "Message-ID: <q@x>\r\n"
				"Subject: Budget\r\n");
	assert_int_equal(late, early);
	assert_true(late != p);
	/* another account's messages never join a's threads */
	pb = deliver_threaded(s, b, NULL, "Message-ID: <p@x>\r\n"
			      "Subject: Plan for Q3\r\n");
	rb = deliver_threaded(s, b, NULL, "Message-ID: <r@x>\r\n"
			      "In-Reply-To: <p@x>\r\n"
			      "Subject: Re: Plan for Q3\r\n");
	assert_true(pb != p && pb != r);
	assert_int_equal(rb, pb);
	/* copies of one delivery share the thread, which a reply joins */
	{
		static const char text[] = "Message-ID: <c@x>\r\n"
					   "Subject: Copies\r\n\r\nbody\r\n";
		struct mail_thread_keys k;
		struct store_target t[2] = {
			{ .account_id = a },
			{ .account_id = a, .mailbox_name = "Archive" },
		};
		int64_t t0 = 0, t1 = 0;

		mail_thread_keys_parse(text, strlen(text),
				       store_thread_limits(s), &k);
		for (int i = 0; i < 2; i++) {
			t[i].thread_subject = k.base_subject;
			t[i].thread_msgid = k.message_id;
		}
		put_text(s, text, blob);
		assert_int_equal(store_deliver(s, blob, strlen(text), 0, t, 2,
					       NULL, &error), STORE_OK);
		assert_int_equal(store_mailbox_lookup(s, a, "INBOX", &box,
						      &error), STORE_OK);
		assert_int_equal(store_message_list(s, box->id, &msgs, &n,
						    &error), STORE_OK);
		for (size_t i = 0; i < n; i++)
			if (msgs[i].uid == t[0].uid)
				t0 = msgs[i].thread_id;
		free(msgs);
		store_mailbox_free(&box);
		assert_int_equal(store_mailbox_lookup(s, a, "Archive", &box,
						      &error), STORE_OK);
		assert_int_equal(store_message_list(s, box->id, &msgs, &n,
						    &error), STORE_OK);
		for (size_t i = 0; i < n; i++)
			if (msgs[i].uid == t[1].uid)
				t1 = msgs[i].thread_id;
		free(msgs);
		store_mailbox_free(&box);
		assert_true(t0 > 0);
		assert_int_equal(t0, t1);
		assert_int_equal(deliver_threaded(s, a, "Archive",
						  "In-Reply-To: <c@x>\r\n"
						  "Subject: Re: Copies\r\n"),
				 t0);
		mail_thread_keys_deinit(&k);
	}
}

/* The thread of the message of account's INBOX with this Message-ID
 * header line (the first that has it). */
static int64_t
thread_of(struct store *s, int64_t account, int64_t uid)
{
	const char *error = NULL;
	struct store_mailbox *box;
	struct store_message *msgs;
	int64_t thread = 0;
	size_t n;

	assert_int_equal(store_mailbox_lookup(s, account, "INBOX", &box,
					      &error), STORE_OK);
	assert_int_equal(store_message_list(s, box->id, &msgs, &n, &error),
			 STORE_OK);
	for (size_t i = 0; i < n; i++)
		if ((int64_t)msgs[i].uid == uid)
			thread = msgs[i].thread_id;
	free(msgs);
	store_mailbox_free(&box);
	assert_true(thread > 0);
	return thread;
}

/* docs/store.md "Threads", linked threads: a message that names messages
 * of two threads joins the older, whatever the order of its ids, and the
 * newer is continued in it, so later messages that find either join the
 * older; no message already stored changes thread (RFC 8474 5.2). */
static void
test_deliver_threads_link(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t b = add_user(s, "b@example.com", 0);
	int64_t c, p, x, q, y, z, u, v, w, m, other, pb, xb;

	/* replies before their parents: each finds the thread the first
	 * one made through the ids it named */
	c = deliver_threaded(s, a, NULL, "Message-ID: <c@l>\r\n"
			     "In-Reply-To: <b@l>\r\n"
			     "References: <a@l> <b@l>\r\n"
			     "Subject: Re: Link\r\n");
	assert_int_equal(deliver_threaded(s, a, NULL, "Message-ID: <a@l>\r\n"
					  "Subject: Link\r\n"), c);
	assert_int_equal(deliver_threaded(s, a, NULL, "Message-ID: <b@l>\r\n"
					  "In-Reply-To: <a@l>\r\n"
					  "References: <a@l>\r\n"
					  "Subject: Re: Link\r\n"), c);

	/* p's thread is older than x's (x replied to q, not here yet);
	 * q names p and is named by x: it links them and joins p's */
	p = deliver_threaded(s, a, NULL, "Message-ID: <p@m>\r\n"
			     "Subject: Merge\r\n");
	x = deliver_threaded(s, a, NULL, "Message-ID: <x@m>\r\n"
			     "In-Reply-To: <q@m>\r\nReferences: <q@m>\r\n"
			     "Subject: Re: Merge\r\n");
	assert_true(x != p && x > p);
	q = deliver_threaded(s, a, NULL, "Message-ID: <q@m>\r\n"
			     "In-Reply-To: <p@m>\r\nReferences: <p@m>\r\n"
			     "Subject: Re: Merge\r\n");
	assert_int_equal(q, p);
	/* x keeps its thread (uid 5 of INBOX: c, a, b, p, x) */
	assert_int_equal(thread_of(s, a, 5), x);
	/* a reply to x alone now joins p's thread */
	y = deliver_threaded(s, a, NULL, "Message-ID: <y@m>\r\n"
			     "In-Reply-To: <x@m>\r\nReferences: <x@m>\r\n"
			     "Subject: Re: Merge\r\n");
	assert_int_equal(y, p);
	/* and so does one that names x's ids first */
	z = deliver_threaded(s, a, NULL, "Message-ID: <z@m>\r\n"
			     "In-Reply-To: <x@m>\r\n"
			     "References: <p@m> <q@m> <x@m>\r\n"
			     "Subject: Re: Merge\r\n");
	assert_int_equal(z, p);
	assert_int_equal(thread_of(s, a, 5), x);

	/* a thread continued in one that is continued in turn leads to
	 * the last (one hop: continued_in is re-pointed) */
	u = deliver_threaded(s, a, NULL, "Message-ID: <u@n>\r\n"
			     "Subject: Chain\r\n");
	v = deliver_threaded(s, a, NULL, "Message-ID: <v@n>\r\n"
			     "In-Reply-To: <v0@n>\r\nSubject: Chain\r\n");
	w = deliver_threaded(s, a, NULL, "Message-ID: <w@n>\r\n"
			     "In-Reply-To: <w0@n>\r\nSubject: Chain\r\n");
	assert_true(u < v && v < w);
	/* w's thread continued in v's */
	m = deliver_threaded(s, a, NULL, "Message-ID: <w0@n>\r\n"
			     "In-Reply-To: <v0@n>\r\nSubject: Chain\r\n");
	assert_int_equal(m, v);
	assert_int_equal(deliver_threaded(s, a, NULL, "In-Reply-To: <w@n>\r\n"
					  "Subject: Chain\r\n"), v);
	/* v's (and so w's) continued in u's */
	m = deliver_threaded(s, a, NULL, "Message-ID: <m2@n>\r\n"
			     "References: <v@n> <u@n>\r\n"
			     "Subject: Chain\r\n");
	assert_int_equal(m, u);
	assert_int_equal(deliver_threaded(s, a, NULL, "In-Reply-To: <w@n>\r\n"
					  "Subject: Chain\r\n"), u);
	/* a message with another subject that names them links nothing */
	other = deliver_threaded(s, a, NULL, "Message-ID: <o@n>\r\n"
				 "References: <u@n> <p@m>\r\n"
				 "Subject: Something else\r\n");
	assert_true(other != u && other != p);
	assert_int_equal(deliver_threaded(s, a, NULL, "In-Reply-To: <p@m>\r\n"
					  "Subject: Merge\r\n"), p);

	/* another account: its own threads, linked on their own */
	xb = deliver_threaded(s, b, NULL, "Message-ID: <x@m>\r\n"
			      "In-Reply-To: <q@m>\r\n"
			      "Subject: Re: Merge\r\n");
	pb = deliver_threaded(s, b, NULL, "Message-ID: <p@m>\r\n"
			      "Subject: Merge\r\n");
	assert_true(xb != p && xb != x && pb != p && pb != xb);
	/* here the reply's thread is the older: the link keeps it */
	assert_int_equal(deliver_threaded(s, b, NULL, "Message-ID: <q@m>\r\n"
					  "In-Reply-To: <p@m>\r\n"
					  "Subject: Re: Merge\r\n"), xb);
	assert_int_equal(deliver_threaded(s, b, NULL, "In-Reply-To: <p@m>\r\n"
					  "Subject: Re: Merge\r\n"), xb);
}

/* The [store] thread_* settings reach the keys callers parse with
 * (store_thread_limits()); a change applies to messages stored after
 * it. */
static void
test_deliver_threads_limits(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	const struct mail_thread_limits *lim;
	int64_t a, p;
	static const char reply[] = "In-Reply-To: <gone@x>\r\n"
				    "References: <lp@x> <gone@x>\r\n"
				    "Subject: Re: Limits\r\n";

	/* a config built in code with none set: the defaults */
	lim = store_thread_limits(f->store);
	assert_int_equal(lim->refs_max, MAIL_THREAD_REFS_MAX_DEFAULT);
	assert_int_equal(lim->msgid_max, MAIL_THREAD_MSGID_MAX_DEFAULT);
	assert_int_equal(lim->subject_max, MAIL_THREAD_SUBJECT_MAX_DEFAULT);
	assert_int_equal(lim->header_max, MAIL_THREAD_HEADER_MAX_DEFAULT);
	a = add_user(f->store, "a@example.com", 0);
	p = deliver_threaded(f->store, a, NULL, "Message-ID: <lp@x>\r\n"
			     "Subject: Limits\r\n");
	/* In-Reply-To names a message not here; References the parent */
	assert_int_equal(deliver_threaded(f->store, a, NULL, reply), p);

	store_close(&f->store);
	f->cfg->store.thread_references_max = 1;
	f->cfg->store.thread_msgid_max = 100;
	f->cfg->store.thread_subject_max = 3;
	f->cfg->store.thread_header_max = 4096;
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	lim = store_thread_limits(f->store);
	assert_int_equal(lim->refs_max, 1);
	assert_int_equal(lim->msgid_max, 100);
	assert_int_equal(lim->subject_max, 3);
	assert_int_equal(lim->header_max, 4096);
	/* one reference: In-Reply-To's, which finds nothing */
	assert_true(deliver_threaded(f->store, a, NULL, reply) != p);
	/* subjects compared on 3 octets: "lim" against the parent's full
	 * one, mapped before the change: no match */
	assert_true(deliver_threaded(f->store, a, NULL,
				     "In-Reply-To: <lp@x>\r\n"
				     "Subject: Re: Limits\r\n") != p);
}

static void
test_deliver_list(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t b = add_user(s, "b@example.com", 0);
	struct store_mailbox *inbox;
	struct store_mailbox_status st;
	struct store_message *msgs;
	struct store_user *u;
	char blob[STORE_BLOB_ID_LEN + 1];
	uint64_t last_modseq = 0;
	size_t n, failed = 99;

	for (int i = 0; i < 5; i++) {
		char text[64];
		struct store_target t[3] = {
			{ .account_id = a },
			{ .account_id = a, .mailbox_name = "Archive",
			  .flags = STORE_FLAG_SEEN },
			{ .account_id = b, .mailbox_name = "InBoX" },
		};

		snprintf(text, sizeof(text), "Subject: %d\r\n\r\nbody\r\n", i);
		put_text(s, text, blob);
		assert_int_equal(store_deliver(s, blob, strlen(text), 0, t, 3,
					       &failed, &error), STORE_OK);
		assert_int_equal(t[0].uid, (uint32_t)i + 1);
		assert_int_equal(t[1].uid, (uint32_t)i + 1);
		assert_int_equal(t[2].uid, (uint32_t)i + 1);
		assert_true(t[0].modseq > last_modseq);
		last_modseq = t[0].modseq;
		assert_string_equal(t[0].email_id, t[1].email_id);
		assert_string_not_equal(t[0].email_id, t[2].email_id);
		/* each target's mailbox's UIDVALIDITY, for APPENDUID */
		for (int k = 0; k < 3; k++) {
			struct store_mailbox *mb;

			assert_int_equal(store_mailbox_lookup(s,
					t[k].account_id, t[k].mailbox_name != NULL
					? t[k].mailbox_name : "INBOX", &mb,
					&error), STORE_OK);
			assert_int_equal(t[k].mailbox_id, mb->id);
			assert_int_equal(t[k].uidvalidity, mb->uidvalidity);
			store_mailbox_free(&mb);
		}
	}
	/* Unknown mailbox: the whole op fails, nothing is stored. */
	{
		struct store_target t[2] = {
			{ .account_id = a },
			{ .account_id = b, .mailbox_name = "Nope" },
		};
		assert_int_equal(store_deliver(s, blob, 10, 0, t, 2, &failed,
					       &error), STORE_E_NOT_FOUND);
		assert_int_equal(failed, 1);
		t[1].mailbox_name = NULL;
		t[1].account_id = 424242;
		assert_int_equal(store_deliver(s, blob, 10, 0, t, 2, &failed,
					       &error), STORE_E_NOT_FOUND);
	}
	assert_int_equal(store_deliver(s, "zz", 10, 0, NULL, 0, NULL, &error),
			 STORE_E_INVALID);
	/* A well-formed id that was never stored is refused (temporary, so
	 * a sender would retry), and nothing is stored. */
	{
		struct store_target t = { .account_id = a };
		char missing[STORE_BLOB_ID_LEN + 1];

		memset(missing, 'e', STORE_BLOB_ID_LEN);
		missing[STORE_BLOB_ID_LEN] = '\0';
		assert_int_equal(store_deliver(s, missing, 10, 0, &t, 1, NULL,
					       &error), STORE_E_TEMP);
		assert_int_equal(store_mailbox_lookup(s, a, "INBOX", &inbox,
						      &error), STORE_OK);
		assert_int_equal(store_mailbox_status(s, inbox->id, &st,
						      &error), STORE_OK);
		assert_int_equal(st.messages, 5);
		store_mailbox_free(&inbox);
	}

	assert_int_equal(store_mailbox_lookup(s, a, "INBOX", &inbox, &error),
			 STORE_OK);
	assert_int_equal(inbox->uidnext, 6);
	assert_int_equal(store_message_list(s, inbox->id, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		uint8_t *data;
		size_t len;

		assert_int_equal(msgs[i].uid, i + 1);
		assert_int_equal(msgs[i].flags, 0);
		assert_true(msgs[i].internal_date > 0);
		assert_true(msgs[i].thread_id > 0);
		if (i > 0)
			assert_true(msgs[i].modseq > msgs[i - 1].modseq);
		assert_int_equal(store_blob_read(s, msgs[i].blob_id, &data,
						 &len, &error), STORE_OK);
		assert_int_equal(len, msgs[i].size);
		assert_int_equal(data[9], '0' + (int)i);
		free(data);
	}
	free(msgs);
	assert_int_equal(store_mailbox_status(s, inbox->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 5);
	assert_int_equal(st.unseen, 5);
	assert_int_equal(st.uidnext, 6);
	assert_int_equal(st.highestmodseq, last_modseq);
	store_mailbox_free(&inbox);

	assert_int_equal(store_mailbox_lookup(s, a, "Archive", &inbox, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_status(s, inbox->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.unseen, 0);
	store_mailbox_free(&inbox);

	assert_int_equal(store_user_get(s, a, &u, &error), STORE_OK);
	assert_int_equal(u->used_messages, 10);
	store_user_free(&u);
}

static void
test_quota(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t big = add_user(s, "big@example.com", 0);
	int64_t small = add_user(s, "small@example.com", 100);
	struct store_target t[2];
	struct store_mailbox *inbox;
	struct store_message *msgs;
	struct store_user *u;
	char blob[STORE_BLOB_ID_LEN + 1];
	size_t n, failed = 99;

	put_text(s, "sixty bytes", blob);
	memset(t, 0, sizeof(t));
	t[0].account_id = small;
	assert_int_equal(store_deliver(s, blob, 60, 0, t, 1, &failed, &error),
			 STORE_OK);
	memset(t, 0, sizeof(t));
	t[0].account_id = big;
	t[1].account_id = small;
	assert_int_equal(store_deliver(s, blob, 60, 0, t, 2, &failed, &error),
			 STORE_E_OVER_QUOTA);
	assert_int_equal(failed, 1);
	assert_non_null(strstr(error, "quota"));
	/* Atomic: big's copy was rolled back too. */
	assert_int_equal(store_user_get(s, big, &u, &error), STORE_OK);
	assert_int_equal(u->used_bytes, 0);
	assert_int_equal(u->used_messages, 0);
	store_user_free(&u);
	assert_int_equal(store_mailbox_lookup(s, big, "INBOX", &inbox, &error),
			 STORE_OK);
	assert_int_equal(store_message_list(s, inbox->id, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(inbox->uidnext, 1);
	store_mailbox_free(&inbox);

	/* Exactly at the limit is allowed. */
	memset(t, 0, sizeof(t));
	t[0].account_id = small;
	assert_int_equal(store_deliver(s, blob, 40, 0, t, 1, &failed, &error),
			 STORE_OK);
	assert_int_equal(store_user_get(s, small, &u, &error), STORE_OK);
	assert_int_equal(u->used_bytes, 100);
	store_user_free(&u);
	assert_int_equal(store_user_set_quota(s, "small@example.com", 0,
					      &error), STORE_OK);
	assert_int_equal(store_deliver(s, blob, 40, 0, t, 1, &failed, &error),
			 STORE_OK);
}

/* The message-count limit (quota_messages): checked with the byte quota
 * in delivery (the op's own earlier targets counted, all or nothing) and
 * in copy (a move within the account needs no room); an expunge frees a
 * slot; 0 lifts it. */
static void
test_message_quota(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t b = add_user(s, "b@example.com", 0);
	struct store_target t[2];
	struct store_mailbox *inbox, *archive;
	struct store_mailbox_status st;
	struct store_user *u;
	char blob[STORE_BLOB_ID_LEN + 1];
	uint32_t uid1 = 1, uids[] = { 1, 2 };
	size_t failed = 99, expunged = 0;

	assert_int_equal(store_user_set_message_quota(s, "a@example.com", 2,
						      &error), STORE_OK);
	assert_int_equal(store_user_get(s, a, &u, &error), STORE_OK);
	assert_int_equal(u->quota_messages, 2);
	assert_int_equal(u->quota_bytes, 0);
	store_user_free(&u);
	assert_int_equal(store_user_set_message_quota(s, "nobody@example.com",
						      2, &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_mailbox_lookup(s, a, "INBOX", &inbox, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_lookup(s, a, "Archive", &archive,
					      &error), STORE_OK);
	put_text(s, "ten bytes.", blob);
	memset(t, 0, sizeof(t));
	t[0].account_id = a;
	assert_int_equal(store_deliver(s, blob, 10, 0, t, 1, &failed, &error),
			 STORE_OK);
	/* b and two for a, one op: a's second is the third message, and
	 * nothing is stored, not even b's */
	memset(t, 0, sizeof(t));
	t[0].account_id = b;
	t[1].account_id = a;
	assert_int_equal(store_deliver(s, blob, 10, 0, t, 2, &failed, &error),
			 STORE_OK);
	memset(t, 0, sizeof(t));
	t[0].account_id = b;
	t[1].account_id = a;
	assert_int_equal(store_deliver(s, blob, 10, 0, t, 2, &failed, &error),
			 STORE_E_OVER_QUOTA);
	assert_int_equal(failed, 1);
	assert_non_null(strstr(error, "messages"));
	assert_int_equal(store_user_get(s, b, &u, &error), STORE_OK);
	assert_int_equal(u->used_messages, 1);
	store_user_free(&u);
	assert_int_equal(store_user_get(s, a, &u, &error), STORE_OK);
	assert_int_equal(u->used_messages, 2);
	assert_int_equal(u->used_bytes, 20);
	store_user_free(&u);

	/* a copy would make three; a move within the account makes none */
	{
		struct store_copy c = { .src_mailbox_id = inbox->id,
					.uids = &uid1, .count = 1,
					.dst_mailbox_id = archive->id };

		assert_int_equal(store_copy(s, &c, &error),
				 STORE_E_OVER_QUOTA);
		assert_non_null(strstr(error, "messages"));
		assert_int_equal(c.n, 0);
		assert_int_equal(store_mailbox_status(s, archive->id, &st,
						      &error), STORE_OK);
		assert_int_equal(st.messages, 0);
		c.move = true;
		assert_int_equal(store_copy(s, &c, &error), STORE_OK);
		assert_int_equal(c.n, 1);
		store_copy_deinit(&c);
	}
	/* an expunge frees a slot, for a delivery and for a copy */
	assert_int_equal(store_expunge(s, archive->id, &uid1, 1, &expunged,
				       &error), STORE_OK);
	assert_int_equal(expunged, 1);
	memset(t, 0, sizeof(t));
	t[0].account_id = a;
	assert_int_equal(store_deliver(s, blob, 10, 0, t, 1, &failed, &error),
			 STORE_OK);
	assert_int_equal(store_expunge(s, inbox->id, &t[0].uid, 1, &expunged,
				       &error), STORE_OK);
	{
		struct store_copy c = { .src_mailbox_id = inbox->id,
					.uids = uids, .count = 2,
					.dst_mailbox_id = archive->id };

		/* INBOX holds UID 2 only now: one copy, at the limit */
		assert_int_equal(store_copy(s, &c, &error), STORE_OK);
		assert_int_equal(c.n, 1);
		store_copy_deinit(&c);
	}
	assert_int_equal(store_user_get(s, a, &u, &error), STORE_OK);
	assert_int_equal(u->used_messages, 2);
	store_user_free(&u);
	/* 0 lifts the limit */
	assert_int_equal(store_user_set_message_quota(s, "a@example.com", 0,
						      &error), STORE_OK);
	memset(t, 0, sizeof(t));
	t[0].account_id = a;
	assert_int_equal(store_deliver(s, blob, 10, 0, t, 1, &failed, &error),
			 STORE_OK);
	store_mailbox_free(&inbox);
	store_mailbox_free(&archive);
}

static void
test_flags_expunge(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	struct store_mailbox *inbox;
	struct store_mailbox_status st;
	struct store_message *msgs;
	struct store_user *u;
	char blob[STORE_BLOB_ID_LEN + 1];
	uint64_t modseq, hms;
	size_t n, changed;

	put_text(s, "hello", blob);
	for (int i = 0; i < 4; i++) {
		struct store_target t = { .account_id = a };
		assert_int_equal(store_deliver(s, blob, 100, 0, &t, 1, NULL,
					       &error), STORE_OK);
	}
	assert_int_equal(store_mailbox_lookup(s, a, "INBOX", &inbox, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_status(s, inbox->id, &st, &error),
			 STORE_OK);
	hms = st.highestmodseq;

	{
		uint32_t uids[] = { 1, 3, 77 };
		assert_int_equal(store_flags_update(s, inbox->id, uids, 3,
						    STORE_FLAG_SEEN |
						    STORE_FLAG_DELETED, 0,
						    &changed, &modseq, &error),
				 STORE_OK);
		assert_int_equal(changed, 2);
		assert_int_equal(modseq, hms + 1);
		/* No change, no new modseq. */
		assert_int_equal(store_flags_update(s, inbox->id, uids, 3,
						    STORE_FLAG_SEEN, 0,
						    &changed, &modseq, &error),
				 STORE_OK);
		assert_int_equal(changed, 0);
		assert_int_equal(modseq, hms + 1);
		assert_int_equal(store_flags_update(s, inbox->id, uids, 1, 0,
						    STORE_FLAG_SEEN, &changed,
						    &modseq, &error),
				 STORE_OK);
		assert_int_equal(changed, 1);
		assert_int_equal(modseq, hms + 2);
		assert_int_equal(store_flags_update(s, inbox->id, uids, 1,
						    1u << 7, 0, NULL, NULL,
						    &error), STORE_E_INVALID);
	}
	assert_int_equal(store_message_list(s, inbox->id, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(msgs[0].flags, STORE_FLAG_DELETED);
	assert_int_equal(msgs[0].modseq, hms + 2);
	assert_int_equal(msgs[2].flags, STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	assert_int_equal(msgs[1].flags, 0);
	free(msgs);

	{
		uint32_t uids[] = { 1, 3, 99 };
		size_t expunged;
		assert_int_equal(store_expunge(s, inbox->id, uids, 3,
					       &expunged, &error), STORE_OK);
		assert_int_equal(expunged, 2);
	}
	assert_int_equal(store_mailbox_status(s, inbox->id, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.uidnext, 5);
	assert_int_equal(st.highestmodseq, hms + 3);
	assert_int_equal(store_message_list(s, inbox->id, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[0].uid, 2);
	assert_int_equal(msgs[1].uid, 4);
	free(msgs);
	assert_int_equal(store_user_get(s, a, &u, &error), STORE_OK);
	assert_int_equal(u->used_bytes, 200);
	assert_int_equal(u->used_messages, 2);
	store_user_free(&u);
	assert_int_equal(store_expunge(s, 123456, NULL, 0, NULL, &error),
			 STORE_E_NOT_FOUND);
	/* UIDs are never reused after an expunge. */
	{
		struct store_target t = { .account_id = a };
		assert_int_equal(store_deliver(s, blob, 100, 0, &t, 1, NULL,
					       &error), STORE_OK);
		assert_int_equal(t.uid, 5);
		assert_true(t.modseq > hms + 3);
	}
	store_mailbox_free(&inbox);
}

/* REPLACE (RFC 8508): the delivery and the old message's expunge are one
 * operation; a mailbox that is gone refuses both. */
static void
test_deliver_replace(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0), drafts = 0;
	struct store_mailbox *inbox;
	struct store_message *msgs;
	char blob[STORE_BLOB_ID_LEN + 1];
	size_t n;

	put_text(s, "hello", blob);
	for (int i = 0; i < 2; i++) {
		struct store_target t = { .account_id = a };
		assert_int_equal(store_deliver(s, blob, 100, 0, &t, 1, NULL,
					       &error), STORE_OK);
	}
	assert_int_equal(store_mailbox_lookup(s, a, "INBOX", &inbox, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_create(s, a, "Notes", STORE_ROLE_NONE,
					      NULL, &drafts, &error),
			 STORE_OK);
	{
		/* into another mailbox, without \Deleted on the old one */
		struct store_target t = {
			.account_id = a, .mailbox_id = drafts,
			.replace_mailbox_id = inbox->id, .replace_uid = 1,
		};
		assert_int_equal(store_deliver(s, blob, 100, 0, &t, 1, NULL,
					       &error), STORE_OK);
		assert_true(t.replaced);
		assert_int_equal(t.uid, 1);
	}
	{
		/* into the same mailbox: the new UID, the old one gone; a UID
		 * already gone is no error */
		struct store_target t = {
			.account_id = a, .mailbox_id = inbox->id,
			.replace_mailbox_id = inbox->id, .replace_uid = 2,
		};
		assert_int_equal(store_deliver(s, blob, 100, 0, &t, 1, NULL,
					       &error), STORE_OK);
		assert_true(t.replaced);
		assert_int_equal(t.uid, 3);
		t.replace_uid = 2;
		assert_int_equal(store_deliver(s, blob, 100, 0, &t, 1, NULL,
					       &error), STORE_OK);
		assert_false(t.replaced);
		assert_int_equal(t.uid, 4);
	}
	{
		/* the old message's mailbox is gone: nothing is stored */
		struct store_target t = {
			.account_id = a, .mailbox_id = drafts,
			.replace_mailbox_id = 999999, .replace_uid = 3,
		};
		assert_int_equal(store_deliver(s, blob, 100, 0, &t, 1, NULL,
					       &error), STORE_E_NOT_FOUND);
	}
	assert_int_equal(store_message_list(s, inbox->id, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[0].uid, 3);
	assert_int_equal(msgs[1].uid, 4);
	free(msgs);
	assert_int_equal(store_message_list(s, drafts, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	free(msgs);
	store_mailbox_free(&inbox);
}

static size_t
count_files(const char *dir)
{
	char *cmd = xasprintf("find %s -type f | wc -l", dir);
	FILE *p = popen(cmd, "r");
	unsigned long n = 0;

	free(cmd);
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%lu", &n), 1);
	pclose(p);
	return n;
}

static void
test_blobs(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	char id1[STORE_BLOB_ID_LEN + 1], id2[STORE_BLOB_ID_LEN + 1];
	char id3[STORE_BLOB_ID_LEN + 1];
	char *blobdir = xasprintf("%s/blobs", f->cfg->data_dir);
	struct store_blob_writer *w;
	uint8_t *data;
	size_t len;
	uint64_t size;
	int fd;

	put_text(s, "abc", id1);
	/* SHA-256("abc") */
	assert_string_equal(id1, "ba7816bf8f01cfea414140de5dae2223"
			    "b00361a396177a9cb410ff61f20015ad");
	put_text(s, "abc", id2);
	assert_string_equal(id1, id2);
	put_text(s, "abd", id2);
	assert_string_not_equal(id1, id2);
	/* Small blobs live in the database: no files (tmp/ is empty). */
	assert_int_equal(count_files(blobdir), 0);
	assert_true(store_blob_exists(s, id1));
	/* Readable at once (pending), and after their commit. */
	assert_int_equal(store_blob_read(s, id1, &data, &len, &error),
			 STORE_OK);
	assert_int_equal(len, 3);
	free(data);
	assert_int_equal(store_blob_sync(s, &error), STORE_OK);
	assert_true(store_blob_exists(s, id1));

	assert_int_equal(store_blob_writer_new(s, &w, &error), STORE_OK);
	assert_int_equal(store_blob_writer_write(w, "a", 1, &error), STORE_OK);
	assert_int_equal(store_blob_writer_write(w, "bc", 2, &error),
			 STORE_OK);
	assert_int_equal(store_blob_writer_finish(&w, id3, &size, &error),
			 STORE_OK);
	assert_null(w);
	assert_int_equal(size, 3);
	assert_string_equal(id1, id3);
	assert_int_equal(count_files(blobdir), 0);

	assert_int_equal(store_blob_writer_new(s, &w, &error), STORE_OK);
	assert_int_equal(store_blob_writer_write(w, "zz", 2, &error),
			 STORE_OK);
	store_blob_writer_abort(&w);
	assert_int_equal(count_files(blobdir), 0);

	assert_int_equal(store_blob_read(s, id2, &data, &len, &error),
			 STORE_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "abd", 3);
	free(data);
	assert_int_equal(store_blob_open(s, id1, &fd, &error), STORE_OK);
	assert_true(fd >= 0);
	{
		char buf[8];
		assert_int_equal(read(fd, buf, sizeof(buf)), 3);
		assert_memory_equal(buf, "abc", 3);
	}
	close(fd);
	/* Past STORE_BLOB_INLINE_MAX: a file, streamed and spilled. */
	{
		size_t big = STORE_BLOB_INLINE_MAX + 1000;
		char *content = xmalloc(big);
		char idb[STORE_BLOB_ID_LEN + 1], idw[STORE_BLOB_ID_LEN + 1];
		char *path;

		for (size_t i = 0; i < big; i++)
			content[i] = (char)('a' + i % 23);
		assert_int_equal(store_blob_put(s, content, big, idb, &error),
				 STORE_OK);
		path = xasprintf("%s/%.2s/%s", blobdir, idb, idb);
		assert_int_equal(access(path, R_OK), 0);
		free(path);
		assert_int_equal(count_files(blobdir), 1);
		assert_int_equal(store_blob_writer_new(s, &w, &error),
				 STORE_OK);
		for (size_t off = 0; off < big; off += 10000) {
			size_t n = big - off < 10000 ? big - off : 10000;
			assert_int_equal(store_blob_writer_write(w,
				content + off, n, &error), STORE_OK);
		}
		assert_int_equal(store_blob_writer_finish(&w, idw, &size,
							  &error), STORE_OK);
		assert_string_equal(idb, idw);
		assert_int_equal(size, big);
		assert_int_equal(count_files(blobdir), 1);
		assert_int_equal(store_blob_read(s, idb, &data, &len, &error),
				 STORE_OK);
		assert_int_equal(len, big);
		assert_memory_equal(data, content, big);
		free(data);
		free(content);
	}
	assert_int_equal(store_blob_read(s, "0000000000000000000000000000000"
					 "000000000000000000000000000000000",
					 &data, &len, &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_blob_read(s, "../etc/passwd", &data, &len,
					 &error), STORE_E_INVALID);
	/* Empty content is a valid blob. */
	assert_int_equal(store_blob_put(s, "", 0, id3, &error), STORE_OK);
	assert_int_equal(store_blob_read(s, id3, &data, &len, &error),
			 STORE_OK);
	assert_int_equal(len, 0);
	free(data);
	free(blobdir);
}

/* Gets id through r and checks it is want (a file when is_file). */
static void
reader_expect(struct store_blob_reader *r, const char *id, uint64_t size,
	      const char *want, size_t want_len, bool is_file)
{
	const char *error = NULL;
	const uint8_t *data;
	size_t len;
	int fd;

	assert_int_equal(store_blob_reader_get(r, id, size, &data, &len, &fd,
					       &error), STORE_OK);
	if (is_file) {
		char *got = xmalloc(want_len + 1);
		size_t n = 0;
		ssize_t k;

		assert_null(data);
		assert_true(fd >= 0);
		while ((k = read(fd, got + n, want_len + 1 - n)) > 0)
			n += (size_t)k;
		assert_int_equal(n, want_len);
		assert_memory_equal(got, want, want_len);
		free(got);
		close(fd);
	} else {
		assert_int_equal(fd, -1);
		assert_non_null(data);
		assert_int_equal(len, want_len);
		if (want_len > 0)
			assert_memory_equal(data, want, want_len);
	}
}

/* store_blob_reader: database blobs without a copy, pending ones, ones
 * committed after its snapshot was taken, files (large, and small ones
 * written as files before bodies moved into the database), errors. */
static void
test_blob_reader(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	char id1[STORE_BLOB_ID_LEN + 1], id2[STORE_BLOB_ID_LEN + 1];
	char idp[STORE_BLOB_ID_LEN + 1], idb[STORE_BLOB_ID_LEN + 1];
	char ide[STORE_BLOB_ID_LEN + 1];
	const char *legacy = "1111111111111111111111111111111111111111111111"
			     "111111111111111111";
	size_t big = STORE_BLOB_INLINE_MAX + 1;
	char *content = xmalloc(big), *path;
	struct store_blob_reader *r;
	const uint8_t *data;
	size_t len;
	int fd;

	memset(content, 'b', big);
	put_text(s, "first", id1);
	put_text(s, "", ide);
	assert_int_equal(store_blob_put(s, content, big, idb, &error),
			 STORE_OK);
	assert_int_equal(store_blob_sync(s, &error), STORE_OK);
	/* a small blob left as a file by an older version */
	path = xasprintf("%s/blobs/11", f->cfg->data_dir);
	assert_int_equal(mkdir(path, 0750), 0);
	free(path);
	path = xasprintf("%s/blobs/11/%s", f->cfg->data_dir, legacy);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old", 3), 3);
	close(fd);
	free(path);

	r = store_blob_reader_new(s);
	reader_expect(r, id1, 5, "first", 5, false);
	reader_expect(r, ide, 0, "", 0, false);
	/* committed after r's snapshot began: found all the same */
	put_text(s, "second", id2);
	assert_int_equal(store_blob_sync(s, &error), STORE_OK);
	reader_expect(r, id2, 6, "second", 6, false);
	/* pending (not committed yet) */
	put_text(s, "pending", idp);
	reader_expect(r, idp, 7, "pending", 7, false);
	reader_expect(r, idb, big, content, big, true);
	/* the size is a hint only */
	reader_expect(r, idb, 0, content, big, true);
	reader_expect(r, legacy, 3, "old", 3, true);
	assert_int_equal(store_blob_reader_get(r, "00000000000000000000000000"
		"00000000000000000000000000000000000000", 10, &data, &len,
		&fd, &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_blob_reader_get(r, "../etc/passwd", 10, &data,
					       &len, &fd, &error),
			 STORE_E_INVALID);
	store_blob_reader_free(&r);
	assert_null(r);
	/* an unreadable database is a temporary failure */
	r = store_blob_reader_new(s);
	store_test_fail_reads(s, true);
	assert_int_equal(store_blob_reader_get(r, id1, 5, &data, &len, &fd,
					       &error), STORE_E_TEMP);
	store_test_fail_reads(s, false);
	reader_expect(r, id1, 5, "first", 5, false);
	store_blob_reader_free(&r);
	free(content);
}

/* Reader connections keep their statements prepared: the blob SELECT a
 * POP3 download runs per message is parsed once per connection. */
static void
test_reader_stmt_cache(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	char id[STORE_BLOB_ID_LEN + 1];
	sqlite3_stmt *stmt;
	uint8_t *data;
	size_t len;
	sqlite3 *db;
	int n = 0;

	put_text(s, "cached", id);
	assert_int_equal(store_blob_sync(s, &error), STORE_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_blob_read(s, id, &data, &len, &error),
				 STORE_OK);
		assert_int_equal(len, 6);
		free(data);
	}
	/* the one idle reader is the one those reads used */
	assert_int_equal(sqlite_reader_get(s, &db, &error), STORE_OK);
	for (stmt = sqlite3_next_stmt(db, NULL); stmt != NULL;
	     stmt = sqlite3_next_stmt(db, stmt)) {
		assert_false(sqlite3_stmt_busy(stmt));
		if (strcmp(sqlite3_sql(stmt),
			   "SELECT data FROM blobs WHERE id = ?") == 0)
			n++;
	}
	assert_int_equal(n, 1);
	sqlite_reader_put(s, db);
}

static void
deliver_to(struct store *s, const char *blob, uint64_t size, int64_t account)
{
	struct store_target t = { .account_id = account };
	const char *error = NULL;

	assert_int_equal(store_deliver(s, blob, size, 0, &t, 1, NULL, &error),
			 STORE_OK);
}

static void
expunge_uids(struct store *s, int64_t account, const uint32_t *uids,
	     size_t n)
{
	struct store_mailbox *box;
	const char *error = NULL;
	size_t done = 0;

	assert_int_equal(store_mailbox_lookup(s, account, "INBOX", &box,
					      &error), STORE_OK);
	assert_int_equal(store_expunge(s, box->id, uids, n, &done, &error),
			 STORE_OK);
	assert_int_equal(done, n);
	store_mailbox_free(&box);
}

/* A second connection to the store's database, as another program would
 * open it. */
static sqlite3 *
db_open(struct fixture *f)
{
	char *path = xasprintf("%s/herald.db", f->cfg->data_dir);
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	free(path);
	return db;
}

/* One collection round of at most max ids (0: the default). */
static struct store_blob_gc_result
gc_round(struct store *s, size_t max)
{
	struct store_blob_gc_result res;
	const char *error = NULL;

	memset(&res, 0, sizeof(res));
	res.max = max;
	assert_int_equal(store_blob_gc(s, &res, &error), STORE_OK);
	return res;
}

static void
test_blob_gc(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t b = add_user(s, "b@example.com", 0);
	char small[STORE_BLOB_ID_LEN + 1], shared[STORE_BLOB_ID_LEN + 1];
	char big[STORE_BLOB_ID_LEN + 1], q[STORE_BLOB_ID_LEN + 1];
	struct store_queue_rcpt rcpt = { "x@remote.example", NULL, NULL };
	struct store_blob_gc_result res;
	size_t big_len = 300 * 1024;
	char *data = xmalloc(big_len);
	int64_t qid;

	memset(data, 'g', big_len);
	put_text(s, "gc small", small);
	put_text(s, "gc shared", shared);
	assert_int_equal(store_blob_put(s, data, big_len, big, &error),
			 STORE_OK);
	deliver_to(s, small, 8, a);		/* a: uid 1 */
	deliver_to(s, shared, 9, a);		/* a: uid 2 */
	deliver_to(s, big, big_len, a);		/* a: uid 3 */
	deliver_to(s, shared, 9, b);		/* b: uid 1 */
	res = gc_round(s, 0);
	assert_int_equal(res.checked, 0);
	assert_int_equal(res.freed, 0);

	/* the expunge queues all three; the shared one is still b's */
	expunge_uids(s, a, (const uint32_t[]){ 1, 2, 3 }, 3);
	res = gc_round(s, 0);
	assert_int_equal(res.checked, 3);
	assert_int_equal(res.freed, 2);
	assert_int_equal(res.bytes, 8 + big_len);
	assert_false(res.more);
	assert_false(store_blob_exists(s, small));
	assert_false(store_blob_exists(s, big));	/* the file is gone */
	assert_true(store_blob_exists(s, shared));
	expunge_uids(s, b, (const uint32_t[]){ 1 }, 1);
	res = gc_round(s, 0);
	assert_int_equal(res.freed, 1);
	assert_false(store_blob_exists(s, shared));

	/* a delivery naming a collected blob fails temporarily instead of
	 * committing a reference to nothing; written again, it works */
	{
		struct store_target t = { .account_id = a };

		assert_int_equal(store_deliver(s, small, 8, 0, &t, 1, NULL,
					       &error), STORE_E_TEMP);
	}
	put_text(s, "gc small", small);
	deliver_to(s, small, 8, a);
	assert_true(store_blob_exists(s, small));

	/* a finished queue entry frees its blob too */
	put_text(s, "gc queued", q);
	assert_int_equal(store_queue_insert(s, q, 9, "", NULL, NULL, &rcpt, 1,
					    &qid, &error), STORE_OK);
	assert_int_equal(store_queue_delete(s, qid, &error), STORE_OK);

	/* at most max per transaction; more says so */
	for (int i = 0; i < 3; i++) {
		char text[32], id[STORE_BLOB_ID_LEN + 1];

		snprintf(text, sizeof(text), "gc batch %d", i);
		put_text(s, text, id);
		deliver_to(s, id, strlen(text), b);
	}
	expunge_uids(s, b, (const uint32_t[]){ 2, 3, 4 }, 3);
	res = gc_round(s, 2);
	assert_int_equal(res.checked, 2);
	assert_true(res.more);
	res = gc_round(s, 0);
	assert_int_equal(res.checked, 2);	/* the queue's and the last */
	assert_int_equal(res.freed, 2);
	assert_false(res.more);
	assert_false(store_blob_exists(s, q));
	assert_true(store_blob_exists(s, small));	/* a's, delivered again */

	/* removing an account removes its messages (the cascade fires the
	 * trigger) and so, collected, their bodies */
	{
		char gone[STORE_BLOB_ID_LEN + 1];
		int64_t d = add_user(s, "d@example.com", 0);

		put_text(s, "d's only message", gone);
		deliver_to(s, gone, 16, d);
		assert_int_equal(store_user_del(s, "d@example.com", &error),
				 STORE_OK);
		res = gc_round(s, 0);
		assert_int_equal(res.freed, 1);
		assert_false(store_blob_exists(s, gone));
	}
	assert_int_equal(store_check_integrity(s, &error), STORE_OK);
	free(data);
}

/* A backlog of many rounds does not hold deliveries up: a further round
 * runs only while no waited write is queued. With rounds of one id, 300
 * rounds are 300 commits; a delivery made while they run returns long
 * before the last (back-to-back rounds made it wait for all of them). */
static void
test_blob_gc_backlog(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char blob[STORE_BLOB_ID_LEN + 1];
	char *sql;
	int64_t left = 0, a;
	sqlite3 *db;
	int i;

	store_close(&f->store);
	f->cfg->store.blob_gc_interval_ms = 50;
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	store_test_gc_round(f->store, 1);
	a = add_user(f->store, "a@example.com", 0);
	put_text(f->store, "delivered during the backlog", blob);
	db = db_open(f);
	sqlite3_busy_timeout(db, 10000);
	sql = xstrdup("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		      " FROM n WHERE i < 300) INSERT INTO blob_gc (id) SELECT"
		      " printf('%064x', i) FROM n");
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	/* wait for the first rounds, then deliver in the middle of them */
	for (i = 0; i < 500; i++) {
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM"
						    " blob_gc", -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		left = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (left < 300)
			break;
		usleep(5000);
	}
	assert_true(left < 300);
	deliver_to(f->store, blob, 28, a);
	{
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM"
						    " blob_gc", -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		left = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	/* the delivery came back with most of the backlog still queued */
	assert_true(left > 100);
	sqlite3_close(db);
	free(sql);
}

static int64_t
db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Migration 4 (messages name inline bodies by row id) on a database of
 * schema 3 with mail in it: made by this code, then taken back to
 * schema 3 by hand, then opened again. */
static void
test_migration_blob_rid(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t b = add_user(s, "b@example.com", 0);
	char shared[STORE_BLOB_ID_LEN + 1], big[STORE_BLOB_ID_LEN + 1];
	struct store_blob_gc_result res;
	size_t big_len = 200 * 1024;
	char *data = xmalloc(big_len);
	sqlite3 *db;

	memset(data, 'm', big_len);
	put_text(s, "shared by a and b", shared);
	assert_int_equal(store_blob_put(s, data, big_len, big, &error),
			 STORE_OK);
	deliver_to(s, shared, 17, a);		/* a uid 1 */
	deliver_to(s, big, big_len, a);		/* a uid 2 */
	deliver_to(s, shared, 17, b);		/* b uid 1 */
	store_close(&f->store);

	db = db_open(f);
	assert_int_equal(sqlite3_exec(db,
		"BEGIN;"
		"DROP INDEX messages_blob_rid; DROP INDEX messages_blob_file;"
		"ALTER TABLE messages DROP COLUMN blob_rid;"
		"CREATE INDEX messages_blob ON messages (blob_id);"
		"CREATE TABLE blobs_old (id TEXT PRIMARY KEY,"
		" size INTEGER NOT NULL, data BLOB NOT NULL,"
		" created INTEGER NOT NULL);"
		/* rowids out of step with the old rid, as after a VACUUM */
		"INSERT INTO blobs_old (rowid, id, size, data, created)"
		" SELECT rid + 100, id, size, data, created FROM blobs;"
		"DROP TABLE blobs; ALTER TABLE blobs_old RENAME TO blobs;"
		/* and what later migrations made */
		"DROP TABLE mailbox_keywords;"
		ACCOUNTS_BEFORE_17 QUEUE_BEFORE_11 QUEUE_BEFORE_10
		"PRAGMA user_version = 3; COMMIT;", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	s = f->store;
	assert_int_equal(store_schema_version(s),
			 (int)sqlite_migrations_count);
	db = db_open(f);
	/* every inline body's messages name its row; the file's none */
	assert_int_equal(db_int(db, "SELECT count(*) FROM messages m JOIN"
				" blobs b ON b.rid = m.blob_rid AND"
				" b.id = m.blob_id"), 2);
	assert_int_equal(db_int(db, "SELECT count(*) FROM messages WHERE"
				" blob_rid IS NULL"), 1);
	sqlite3_close(db);

	/* and the collector still tells used from unused */
	expunge_uids(s, a, (const uint32_t[]){ 1, 2 }, 2);
	res = gc_round(s, 0);
	assert_int_equal(res.checked, 2);
	assert_int_equal(res.freed, 1);		/* the file, a's only */
	assert_true(store_blob_exists(s, shared));	/* still b's */
	assert_false(store_blob_exists(s, big));
	expunge_uids(s, b, (const uint32_t[]){ 1 }, 1);
	res = gc_round(s, 0);
	assert_int_equal(res.freed, 1);
	assert_false(store_blob_exists(s, shared));
	assert_int_equal(store_check_integrity(s, &error), STORE_OK);
	free(data);
}

/* ---- opening: only Herald's own database (issue 10, 2.10) ---- */

/* store_open() on data_dir <f->dir>/<name> whose herald.db holds len
 * bytes of content (len 0: an empty file; content NULL: no file). The
 * error text is copied to *error_r (free it). */
static enum store_result
open_with_db(struct fixture *f, const char *name, const void *content,
	     size_t len, char **error_r)
{
	struct config *cfg = make_config(f->dir);
	struct store *s = NULL;
	const char *error = NULL;
	char *path;
	enum store_result r;

	free(cfg->data_dir);
	cfg->data_dir = xasprintf("%s/%s", f->dir, name);
	assert_int_equal(mkdir(cfg->data_dir, 0700), 0);
	path = xasprintf("%s/herald.db", cfg->data_dir);
	if (content != NULL) {
		FILE *fp = fopen(path, "wb");

		assert_non_null(fp);
		assert_int_equal(fwrite(content, 1, len, fp), len);
		assert_int_equal(fclose(fp), 0);
	}
	r = store_open(cfg, &s, &error);
	*error_r = xstrdup(error != NULL ? error : "");
	if (r == STORE_OK)
		store_close(&s);
	assert_null(s);
	free(path);
	free_config(&cfg);
	return r;
}

/* The bytes of a file (NUL-terminated; *len_r its length). */
static char *
slurp(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	char *data = xmalloc(1 << 20);

	assert_non_null(fp);
	*len_r = fread(data, 1, (1 << 20) - 1, fp);
	data[*len_r] = '\0';
	fclose(fp);
	return data;
}

/* A SQLite file made by sql in <f->dir>/<name>.db; returns its path. */
static char *
make_sqlite(struct fixture *f, const char *name, const char *sql)
{
	char *path = xasprintf("%s/%s.db", f->dir, name);
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	return path;
}

static void
assert_refused(struct fixture *f, const char *name, const void *content,
	       size_t len, const char *why)
{
	char *error = NULL, *path = xasprintf("%s/%s/herald.db", f->dir, name);
	char *after;
	size_t after_len;

	assert_int_equal(open_with_db(f, name, content, len, &error),
			 STORE_E_INVALID);
	if (strstr(error, path) == NULL || strstr(error, why) == NULL)
		fail_msg("%s: \"%s\" lacks the path or \"%s\"", name, error,
			 why);
	/* nothing was written to it, and nothing beside it */
	after = slurp(path, &after_len);
	assert_int_equal(after_len, len);
	assert_memory_equal(after, content, len);
	free(after);
	free(path);
	path = xasprintf("%s/%s/herald.db-wal", f->dir, name);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	free(error);
}

static void
test_open_refuses_foreign(void **state)
{
	struct fixture *f = *state;
	char garbage[8192], *error = NULL, *path, *data;
	size_t len;

	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)(i * 7 + 3);
	assert_refused(f, "empty", "", 0, "is empty (0 bytes)");
	assert_refused(f, "garbage", garbage, sizeof(garbage),
		       "is not an SQLite database");
	/* SQLite's magic, then garbage */
	memcpy(garbage, "SQLite format 3", 16);
	assert_refused(f, "corrupt", garbage, sizeof(garbage),
		       "not a readable SQLite database");

	/* another program's database, with and without an application_id */
	path = make_sqlite(f, "foreign", "CREATE TABLE notes (t TEXT);"
			   "INSERT INTO notes VALUES ('mine');");
	data = slurp(path, &len);
	assert_refused(f, "foreign", data, len, "without Herald's schema");
	free(data);
	free(path);
	path = make_sqlite(f, "appid", "PRAGMA application_id = 1234;"
			   "CREATE TABLE notes (t TEXT);");
	data = slurp(path, &len);
	assert_refused(f, "appid", data, len, "another program");
	free(data);
	free(path);
	/* an empty SQLite database (no schema) is not Herald's either */
	path = make_sqlite(f, "blank", "PRAGMA user_version = 0; VACUUM;");
	data = slurp(path, &len);
	assert_refused(f, "blank", data, len, "without Herald's schema");
	free(data);
	free(path);

	/* Herald's database from a newer Herald */
	store_close(&f->store);
	{
		sqlite3 *db = db_open(f);

		assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99",
					      NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	{
		const char *err = NULL;

		assert_int_equal(store_open(f->cfg, &f->store, &err),
				 STORE_E_INVALID);
		assert_non_null(strstr(err, "schema version 99 is newer"));
		assert_non_null(strstr(err, f->cfg->data_dir));
	}

	/* a database path in a directory that does not exist */
	{
		struct config *cfg = make_config(f->dir);
		struct store *s2 = NULL;
		const char *err = NULL;

		cfg->store.sqlite_path = xasprintf("%s/nodir/herald.db",
						   f->dir);
		assert_int_equal(store_open(cfg, &s2, &err), STORE_E_INVALID);
		assert_non_null(strstr(err, "nodir/herald.db"));
		assert_null(s2);
		free_config(&cfg);
	}

	/* A brand-new data_dir still makes a store, with Herald's id and
	 * nothing left of the file it was built in. */
	assert_int_equal(open_with_db(f, "new", NULL, 0, &error), STORE_OK);
	free(error);
	path = xasprintf("%s/new/herald.db", f->dir);
	{
		sqlite3 *db;
		int64_t id = 0;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite_int(db, &id, "PRAGMA application_id",
					    NULL), SQLITE_ROW);
		assert_int_equal(id, SQLITE_HERALD_APP_ID);
		sqlite3_close(db);
	}
	free(path);
	path = xasprintf("%s/new/herald.db.new-%ld", f->dir, (long)getpid());
	assert_int_equal(access(path, F_OK), -1);
	free(path);
}

/* A database made before migration 5 (no application_id) is recognised
 * by its tables, opened, and gets the id. */
static void
test_open_legacy(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	sqlite3 *db;
	int64_t id = -1;

	add_user(f->store, "old@example.com", 0);
	store_close(&f->store);
	db = db_open(f);
	/* a database as migration 4 left it */
	assert_int_equal(sqlite3_exec(db, "PRAGMA application_id = 0;"
				      "DROP TABLE mailbox_keywords;"
				      ACCOUNTS_BEFORE_17 QUEUE_BEFORE_11 QUEUE_BEFORE_10
				      "PRAGMA user_version = 4;", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	assert_int_equal(store_schema_version(f->store),
			 (int)sqlite_migrations_count);
	db = db_open(f);
	assert_int_equal(sqlite_int(db, &id, "PRAGMA application_id", NULL),
			 SQLITE_ROW);
	assert_int_equal(id, SQLITE_HERALD_APP_ID);
	sqlite3_close(db);
	{
		struct store_user *u = NULL;

		assert_int_equal(store_user_lookup(f->store, "old@example.com",
						   &u, &error), STORE_OK);
		store_user_free(&u);
	}
}

/* Each store's writer collects on its own every blob_gc_interval. */
static void
test_blob_gc_periodic(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char blob[STORE_BLOB_ID_LEN + 1];
	int64_t a;
	int i;

	store_close(&f->store);
	f->cfg->store.blob_gc_interval_ms = 50;
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	a = add_user(f->store, "a@example.com", 0);
	put_text(f->store, "collected by the writer", blob);
	deliver_to(f->store, blob, 23, a);
	expunge_uids(f->store, a, (const uint32_t[]){ 1 }, 1);
	for (i = 0; i < 200 && store_blob_exists(f->store, blob); i++)
		usleep(10000);
	assert_true(i < 200);
}

struct async_result {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	enum store_result r[4];
};

struct async_one {
	struct async_result *ar;
	int index;
};

static void
async_cb(void *ctx, enum store_result result, size_t failed, const char *error)
{
	struct async_one *o = ctx;

	(void)failed;
	(void)error;
	pthread_mutex_lock(&o->ar->lock);
	o->ar->r[o->index] = result;
	o->ar->done++;
	pthread_cond_broadcast(&o->ar->cond);
	pthread_mutex_unlock(&o->ar->lock);
}

static void
async_wait(struct async_result *ar, int n)
{
	pthread_mutex_lock(&ar->lock);
	while (ar->done < n)
		pthread_cond_wait(&ar->cond, &ar->lock);
	pthread_mutex_unlock(&ar->lock);
}

/* A second connection to the store's database, with a trigger that makes
 * every message insert for account fail ("refused by test"): a database
 * error in the middle of a delivery's writes. */
static sqlite3 *
refuse_messages_for(struct fixture *f, int64_t account)
{
	char *sql = xasprintf("CREATE TRIGGER test_refuse BEFORE INSERT ON"
			      " messages WHEN NEW.account_id = %lld BEGIN"
			      " SELECT RAISE(ABORT, 'refused by test'); END",
			      (long long)account);
	sqlite3 *db = db_open(f);

	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	return db;
}

static size_t inbox_count(struct store *s, int64_t account);

/* Deliveries run without savepoints (STORE_OP_NO_SAVEPOINT): a refused
 * one (quota) in the middle of a batch leaves the others alone; a failure
 * after a write rolls the whole batch back and leaves nothing of it (the
 * others then run again: test_batch_rerun). */
static void
test_deliver_no_savepoint(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t full = add_user(s, "full@example.com", 10);
	int64_t bad = add_user(s, "bad@example.com", 0);
	struct async_result ar = { .done = 0 };
	struct async_one ones[4];
	struct store_target t[4][2];
	char blob[STORE_BLOB_ID_LEN + 1];
	struct store_stats st;

	pthread_mutex_init(&ar.lock, NULL);
	pthread_cond_init(&ar.cond, NULL);
	put_text(s, "twenty bytes of mail", blob);
	/* a, full (over quota: refused before writing), a, and a + full in
	 * one op: submitted back to back, so they share batches */
	memset(t, 0, sizeof(t));
	t[0][0] = (struct store_target){ .account_id = a, .blob_id = blob,
					 .size = 20 };
	t[1][0] = (struct store_target){ .account_id = full, .blob_id = blob,
					 .size = 20 };
	t[2][0] = t[0][0];
	t[3][0] = t[0][0];
	t[3][1] = t[1][0];
	for (int i = 0; i < 4; i++) {
		ones[i] = (struct async_one){ .ar = &ar, .index = i };
		assert_int_equal(store_deliver_queue_async(s, 0, t[i],
							   i == 3 ? 2 : 1,
							   NULL, async_cb,
							   &ones[i], &error),
				 STORE_OK);
	}
	async_wait(&ar, 4);
	assert_int_equal(ar.r[0], STORE_OK);
	assert_int_equal(ar.r[1], STORE_E_OVER_QUOTA);
	assert_int_equal(ar.r[2], STORE_OK);
	assert_int_equal(ar.r[3], STORE_E_OVER_QUOTA);
	assert_int_equal(inbox_count(s, a), 2);
	assert_int_equal(inbox_count(s, full), 0);
	store_get_stats(s, &st);
	assert_true(st.max_batch >= 2);

	/* a database error after the op wrote (a trigger refuses messages
	 * for bad@): the op's first copy (a) is not kept */
	sqlite3_close(refuse_messages_for(f, bad));
	{
		struct store_target two[2] = {
			{ .account_id = a, .blob_id = blob, .size = 20 },
			{ .account_id = bad, .blob_id = blob, .size = 20 },
		};
		size_t failed = 0;

		assert_int_equal(store_deliver_queue(s, 0, two, 2, NULL,
						     &failed, &error),
				 STORE_E_TEMP);
		assert_non_null(strstr(error, "refused by test"));
		assert_int_equal(failed, 1);
	}
	assert_int_equal(inbox_count(s, a), 2);
	assert_int_equal(inbox_count(s, bad), 0);
	deliver_to(s, blob, 20, a);	/* the writer carries on */
	assert_int_equal(inbox_count(s, a), 3);
	assert_int_equal(store_check_integrity(s, &error), STORE_OK);
	pthread_cond_destroy(&ar.cond);
	pthread_mutex_destroy(&ar.lock);
}

static int
async_done_count(struct async_result *ar)
{
	int n;

	pthread_mutex_lock(&ar->lock);
	n = ar->done;
	pthread_mutex_unlock(&ar->lock);
	return n;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* group_commit_linger: no announced write, no wait; while writes are
 * announced (store_write_expect) a batch stays open, the writes that come
 * meanwhile join it, and the last withdrawal commits it; at most the
 * linger time. */
static void
test_write_linger(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct async_result ar = { .done = 0 };
	struct async_one ones[4];
	struct store_target t = { 0 };
	char blob[STORE_BLOB_ID_LEN + 1];
	struct store_stats st0, st1;
	struct store *s;
	int64_t a;
	double t0;

	store_close(&f->store);
	f->cfg->store.group_commit_wait_us = 0;
	f->cfg->store.group_commit_linger_us = 3000000;
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	s = f->store;
	a = add_user(s, "a@example.com", 0);
	put_text(s, "twenty bytes of mail", blob);
	t = (struct store_target){ .account_id = a, .blob_id = blob,
				   .size = 20 };
	pthread_mutex_init(&ar.lock, NULL);
	pthread_cond_init(&ar.cond, NULL);
	for (int i = 0; i < 4; i++)
		ones[i] = (struct async_one){ .ar = &ar, .index = i };

	/* nothing announced: committed at once */
	t0 = mono_s();
	assert_int_equal(store_deliver_queue_async(s, 0, &t, 1, NULL,
						   async_cb, &ones[0], &error),
			 STORE_OK);
	async_wait(&ar, 1);
	assert_true(mono_s() - t0 < 2.5);

	/* two sessions announce; one's message comes, then the other
	 * withdraws and another message comes: both wait, in one batch,
	 * until the last announcement is gone */
	store_get_stats(s, &st0);
	store_write_expect(s, true);
	store_write_expect(s, true);
	t0 = mono_s();
	assert_int_equal(store_deliver_queue_async(s, 0, &t, 1, NULL,
						   async_cb, &ones[1], &error),
			 STORE_OK);
	usleep(200000);
	assert_int_equal(async_done_count(&ar), 1);
	store_write_expect(s, false);
	assert_int_equal(store_deliver_queue_async(s, 0, &t, 1, NULL,
						   async_cb, &ones[2], &error),
			 STORE_OK);
	usleep(100000);
	assert_int_equal(async_done_count(&ar), 1);
	store_write_expect(s, false);
	async_wait(&ar, 3);
	assert_true(mono_s() - t0 < 2.5);
	store_get_stats(s, &st1);
	assert_int_equal(st1.commits - st0.commits, 1);
	assert_true(st1.lingers > st0.lingers);
	assert_int_equal(ar.r[1], STORE_OK);
	assert_int_equal(ar.r[2], STORE_OK);

	/* an announcement nobody makes good: committed at the deadline */
	store_write_expect(s, true);
	t0 = mono_s();
	assert_int_equal(store_deliver_queue_async(s, 0, &t, 1, NULL,
						   async_cb, &ones[3], &error),
			 STORE_OK);
	async_wait(&ar, 4);
	assert_true(mono_s() - t0 >= 2.9);
	assert_int_equal(ar.r[3], STORE_OK);
	store_write_expect(s, false);
	assert_int_equal(inbox_count(s, a), 4);
	pthread_cond_destroy(&ar.cond);
	pthread_mutex_destroy(&ar.lock);
}

/* A delivery that fails after writing (a database error of its own)
 * rolls its batch back; the other deliveries of the batch run again
 * without it and are stored, instead of failing with it; one refused in
 * its own right (over quota) keeps that answer. */
static void
test_batch_rerun(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t full = add_user(s, "full@example.com", 10);
	int64_t bad = add_user(s, "bad@example.com", 0);
	struct async_result ar = { .done = 0 };
	struct async_one ones[4];
	struct store_target t[4][2];
	char blob[STORE_BLOB_ID_LEN + 1];
	struct store_stats st;
	sqlite3 *db;

	pthread_mutex_init(&ar.lock, NULL);
	pthread_cond_init(&ar.cond, NULL);
	put_text(s, "twenty bytes of mail", blob);
	deliver_to(s, blob, 20, a);	/* the blob is committed */
	db = refuse_messages_for(f, bad);
	/* hold the write lock so the writer waits on its first batch while
	 * the other three queue up behind it and share the next batch */
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			 SQLITE_OK);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 4; i++)
		t[i][0] = (struct store_target){ .account_id = a,
						 .blob_id = blob, .size = 20 };
	/* the second is over quota; the third writes a's copy, then bad's
	 * fails */
	t[1][0].account_id = full;
	t[2][1] = (struct store_target){ .account_id = bad, .blob_id = blob,
					 .size = 20 };
	for (int i = 0; i < 4; i++) {
		ones[i] = (struct async_one){ .ar = &ar, .index = i };
		assert_int_equal(store_deliver_queue_async(s, 0, t[i],
							   i == 2 ? 2 : 1,
							   NULL, async_cb,
							   &ones[i], &error),
				 STORE_OK);
		if (i == 0)
			usleep(100 * 1000);	/* the writer takes it */
	}
	usleep(100 * 1000);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	async_wait(&ar, 4);
	assert_int_equal(ar.r[0], STORE_OK);
	assert_int_equal(ar.r[1], STORE_E_OVER_QUOTA);
	assert_int_equal(ar.r[2], STORE_E_TEMP);
	assert_int_equal(ar.r[3], STORE_OK);
	store_get_stats(s, &st);
	assert_true(st.max_batch >= 2);
	/* 1 + ops 0 and 3; nothing of ops 1 and 2 */
	assert_int_equal(inbox_count(s, a), 3);
	assert_int_equal(inbox_count(s, full), 0);
	assert_int_equal(inbox_count(s, bad), 0);
	assert_int_equal(store_check_integrity(s, &error), STORE_OK);
	sqlite3_close(db);
	pthread_mutex_destroy(&ar.lock);
	pthread_cond_destroy(&ar.cond);
}

static void
test_queue_runner_state(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	struct store_queue_entry *e;
	struct store_queue_rcpt rcpts[3] = {
		{ "a@one.example", NULL, NULL },
		{ "b@two.example", "SUCCESS", NULL },
		{ "c@two.example", NULL, NULL },
	};
	struct store_queue_msg q = { .size = 14, .env_from = "s@here.example",
				     .msg_id = "MSGID0000001", .rcpts = rcpts,
				     .count = 3 };
	char blob[STORE_BLOB_ID_LEN + 1];
	uint64_t c0 = store_queue_counter(s);
	int64_t *ids, next, now = time(NULL);
	size_t n, changed;
	bool finished;

	put_text(s, "queued message", blob);
	q.blob_id = blob;
	assert_int_equal(store_deliver_queue(s, now, NULL, 0, &q, NULL,
					     &error), STORE_OK);
	/* an insert wakes the runner */
	assert_true(store_queue_counter(s) != c0);
	assert_int_equal(store_queue_due(s, now + 1, 10, &ids, &n, &next,
					 &error), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], q.id);
	assert_int_equal(next, 0);
	free(ids);
	assert_int_equal(store_queue_get(s, q.id, &e, &error), STORE_OK);
	assert_string_equal(e->msg_id, "MSGID0000001");
	assert_string_equal(e->rcpts[0].status, STORE_QUEUE_PENDING);

	/* one sent (success DSN owed), one deferred, one bounced */
	struct store_queue_result res[3] = {
		{ .rcpt_id = e->rcpts[0].id, .status = STORE_QUEUE_DEFERRED,
		  .last_error = "451 4.7.1 later", .dsn_status = "4.7.1",
		  .relay = "mx.one.example[192.0.2.1]:25",
		  .next_attempt = now + 600, .attempted = true },
		{ .rcpt_id = e->rcpts[1].id, .status = STORE_QUEUE_SENT,
		  .last_error = "250 2.0.0 ok", .dsn_status = "2.0.0",
		  .tls = "TLSv1.3/TLS_AES_256_GCM_SHA384", .attempted = true,
		  .notify = STORE_QUEUE_NOTIFY_SUCCESS },
		{ .rcpt_id = e->rcpts[2].id, .status = STORE_QUEUE_BOUNCED,
		  .last_error = "550 5.1.1 no such user",
		  .dsn_status = "5.1.1", .attempted = true,
		  .notify = STORE_QUEUE_NOTIFY_FAILURE },
	};
	assert_int_equal(store_queue_record(s, q.id, res, 3, &finished,
					    &error), STORE_OK);
	assert_false(finished);
	store_queue_entries_free(&e, 1);
	assert_int_equal(store_queue_get(s, q.id, &e, &error), STORE_OK);
	assert_string_equal(e->rcpts[0].status, STORE_QUEUE_DEFERRED);
	assert_string_equal(e->rcpts[0].relay, "mx.one.example[192.0.2.1]:25");
	assert_int_equal(e->rcpts[0].attempts, 1);
	assert_int_equal(e->rcpts[0].next_attempt, now + 600);
	assert_int_equal(e->rcpts[1].notify, STORE_QUEUE_NOTIFY_SUCCESS);
	assert_string_equal(e->rcpts[1].tls, "TLSv1.3/TLS_AES_256_GCM_SHA384");
	assert_int_equal(e->rcpts[2].notify, STORE_QUEUE_NOTIFY_FAILURE);
	/* the entry's schedule is its open recipient's */
	assert_int_equal(e->next_attempt, now + 600);
	assert_int_equal(e->attempts, 1);
	/* not due before then; due at it */
	assert_int_equal(store_queue_due(s, now + 1, 10, &ids, &n, &next,
					 &error), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(next, now + 600);
	free(ids);
	/* the DSNs are made: still open for the deferred one */
	assert_int_equal(store_queue_notified(s, q.id, NULL, 0, false,
					      &finished, &error), STORE_OK);
	assert_false(finished);
	/* flush makes it due now, and wakes the runner */
	c0 = store_queue_counter(s);
	assert_int_equal(store_queue_admin(s, 0, STORE_QUEUE_FLUSH, NULL,
					   &changed, &error), STORE_OK);
	assert_int_equal(changed, 1);
	assert_true(store_queue_counter(s) != c0);
	assert_int_equal(store_queue_due(s, time(NULL), 10, &ids, &n, &next,
					 &error), STORE_OK);
	assert_int_equal(n, 1);
	free(ids);
	/* held: never due; released: due */
	assert_int_equal(store_queue_admin(s, q.id, STORE_QUEUE_HOLD, NULL,
					   &changed, &error), STORE_OK);
	assert_int_equal(store_queue_due(s, time(NULL) + 10000, 10, &ids, &n,
					 &next, &error), STORE_OK);
	assert_int_equal(n, 0);
	free(ids);
	assert_int_equal(store_queue_admin(s, q.id, STORE_QUEUE_RELEASE, NULL,
					   &changed, &error), STORE_OK);
	assert_int_equal(changed, 1);
	/* bounce: the open one bounces with a failure DSN owed */
	assert_int_equal(store_queue_admin(s, q.id, STORE_QUEUE_BOUNCE, NULL,
					   &changed, &error), STORE_OK);
	store_queue_entries_free(&e, 1);
	assert_int_equal(store_queue_get(s, q.id, &e, &error), STORE_OK);
	assert_string_equal(e->rcpts[0].status, STORE_QUEUE_BOUNCED);
	assert_int_equal(e->rcpts[0].notify, STORE_QUEUE_NOTIFY_FAILURE);
	int64_t rid = e->rcpts[0].id;

	store_queue_entries_free(&e, 1);
	/* the last DSN made: the entry goes */
	assert_int_equal(store_queue_notified(s, q.id, &rid, 1, false,
					      &finished, &error), STORE_OK);
	assert_true(finished);
	assert_int_equal(store_queue_get(s, q.id, &e, &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_queue_record(s, q.id, res, 1, &finished,
					    &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_queue_admin(s, q.id, STORE_QUEUE_FLUSH, NULL,
					   &changed, &error),
			 STORE_E_NOT_FOUND);
}

static void
test_queue(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	struct store_queue_entry *e;
	struct store_queue_rcpt rcpts[2] = {
		{ "x@remote.example", "SUCCESS,FAILURE", "rfc822;x@remote.example" },
		{ "y@remote.example", NULL, NULL },
	};
	char blob[STORE_BLOB_ID_LEN + 1];
	int64_t id;
	size_t n;

	put_text(s, "queued message", blob);
	assert_int_equal(store_queue_insert(s, blob, 14, "", "HDRS", "env1",
					    rcpts, 2, &id, &error), STORE_OK);
	assert_int_equal(store_queue_list(s, 0, &e, &n, &error), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].id, id);
	assert_string_equal(e[0].env_from, "");
	assert_string_equal(e[0].dsn_ret, "HDRS");
	assert_string_equal(e[0].status, "queued");
	assert_int_equal(e[0].n_rcpts, 2);
	assert_string_equal(e[0].rcpts[0].dsn_notify, "SUCCESS,FAILURE");
	assert_null(e[0].rcpts[1].dsn_notify);
	assert_string_equal(e[0].rcpts[1].status, "pending");
	assert_int_equal(store_queue_rcpt_update(s, e[0].rcpts[0].id, "sent",
						 NULL, &error), STORE_OK);
	assert_int_equal(store_queue_rcpt_update(s, e[0].rcpts[1].id,
						 "deferred", "451 try later",
						 &error), STORE_OK);
	store_queue_entries_free(&e, n);
	assert_int_equal(store_queue_reschedule(s, id, time(NULL) + 3600,
						"queued", &error), STORE_OK);
	assert_int_equal(store_queue_list(s, time(NULL), &e, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 0);
	store_queue_entries_free(&e, n);
	assert_int_equal(store_queue_list(s, 0, &e, &n, &error), STORE_OK);
	assert_int_equal(e[0].attempts, 1);
	assert_string_equal(e[0].rcpts[1].last_error, "451 try later");
	store_queue_entries_free(&e, n);
	/* several in one read: a missing one comes back NULL, in place */
	{
		int64_t ids[3] = { id, id + 1000, id };
		struct store_queue_entry **v = NULL;
		struct store_blob_reader *br = store_blob_reader_new(s);
		char buf[32];
		int fd = -1;

		assert_int_equal(store_queue_get_many(s, ids, 3, &v, &error),
				 STORE_OK);
		assert_non_null(v[0]);
		assert_null(v[1]);
		assert_non_null(v[2]);
		assert_int_equal(v[0]->id, id);
		assert_int_equal(v[2]->n_rcpts, 2);
		assert_string_equal(v[2]->rcpts[1].last_error,
				    "451 try later");
		assert_int_equal(store_blob_reader_open(br, v[0]->blob_id,
							v[0]->size, &fd,
							&error), STORE_OK);
		assert_true(fd >= 0);
		assert_int_equal(read(fd, buf, sizeof(buf)), 14);
		assert_memory_equal(buf, "queued message", 14);
		close(fd);
		store_blob_reader_free(&br);
		for (size_t i = 0; i < 3; i++)
			store_queue_entries_free(&v[i], 1);
		free(v);
	}
	assert_int_equal(store_queue_delete(s, id, &error), STORE_OK);
	assert_int_equal(store_queue_delete(s, id, &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_queue_insert(s, blob, 14, "a@b", NULL, NULL,
					    rcpts, 0, &id, &error),
			 STORE_E_INVALID);
}

static size_t
inbox_count(struct store *s, int64_t account)
{
	struct store_mailbox *inbox = NULL;
	struct store_mailbox_status st;
	const char *error = NULL;

	assert_int_equal(store_mailbox_lookup(s, account, "INBOX", &inbox,
					      &error), STORE_OK);
	assert_int_equal(store_mailbox_status(s, inbox->id, &st, &error),
			 STORE_OK);
	store_mailbox_free(&inbox);
	return st.messages;
}

static size_t
queue_count(struct store *s)
{
	struct store_queue_entry *e = NULL;
	size_t n = 0;
	const char *error = NULL;

	assert_int_equal(store_queue_list(s, 0, &e, &n, &error), STORE_OK);
	store_queue_entries_free(&e, n);
	return n;
}

/* Many entries' outcomes in one operation and one commit, without
 * blocking: an entry gone meanwhile fails alone, the others are
 * recorded (and removed when finished). */
struct recorded {
	pthread_mutex_t lock;
	bool done;
	enum store_result result;
};

static void
recorded_cb(void *ctx, enum store_result result, const char *error)
{
	struct recorded *r = ctx;

	(void)error;
	pthread_mutex_lock(&r->lock);
	r->result = result;
	r->done = true;
	pthread_mutex_unlock(&r->lock);
}

static void
test_queue_record_async(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	struct store_queue_rcpt rc = { "x@remote.example", NULL, NULL };
	struct store_queue_msg q = { .size = 14, .env_from = "s@here.example",
				     .rcpts = &rc, .count = 1 };
	struct store_queue_entry *e[3];
	struct store_queue_result res[3];
	struct store_queue_record recs[3];
	struct recorded r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct store_stats before, after;
	char blob[STORE_BLOB_ID_LEN + 1];
	bool done = false;

	put_text(s, "queued message", blob);
	q.blob_id = blob;
	for (int k = 0; k < 3; k++) {
		assert_int_equal(store_deliver_queue(s, 0, NULL, 0, &q, NULL,
						     &error), STORE_OK);
		assert_int_equal(store_queue_get(s, q.id, &e[k], &error),
				 STORE_OK);
		res[k] = (struct store_queue_result){
			.rcpt_id = e[k]->rcpts[0].id,
			.status = k == 0 ? STORE_QUEUE_SENT :
				  STORE_QUEUE_DEFERRED,
			.last_error = "reply", .attempted = true,
			.next_attempt = time(NULL) + 60,
		};
		recs[k] = (struct store_queue_record){
			.id = e[k]->id, .results = &res[k], .count = 1,
		};
	}
	assert_int_equal(store_queue_delete(s, e[2]->id, &error), STORE_OK);
	store_get_stats(s, &before);
	assert_int_equal(store_queue_record_async(s, recs, 3, recorded_cb, &r,
						  &error), STORE_OK);
	while (!done) {
		usleep(1000);
		pthread_mutex_lock(&r.lock);
		done = r.done;
		pthread_mutex_unlock(&r.lock);
	}
	store_get_stats(s, &after);
	assert_int_equal(r.result, STORE_OK);
	assert_int_equal(after.commits - before.commits, 1);
	/* a lazy commit, and with no other writer about it synced the WAL
	 * itself (a commit counted as synced would have skipped that) */
	assert_int_equal(after.lazy_commits - before.lazy_commits, 1);
	assert_int_equal(after.lazy_syncs - before.lazy_syncs, 1);
	assert_int_equal(recs[0].result, STORE_OK);
	assert_true(recs[0].finished);
	assert_int_equal(recs[1].result, STORE_OK);
	assert_false(recs[1].finished);
	assert_int_equal(recs[2].result, STORE_E_NOT_FOUND);
	store_queue_entries_free(&e[1], 1);
	assert_int_equal(store_queue_get(s, recs[0].id, &e[1], &error),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_queue_get(s, recs[1].id, &e[1], &error),
			 STORE_OK);
	assert_string_equal(e[1]->rcpts[0].status, STORE_QUEUE_DEFERRED);
	assert_int_equal(e[1]->rcpts[0].attempts, 1);
	store_queue_entries_free(&e[0], 1);
	store_queue_entries_free(&e[1], 1);
	store_queue_entries_free(&e[2], 1);
	/* a bad status is refused before anything is queued */
	res[0].status = "nonsense";
	assert_int_equal(store_queue_record_async(s, recs, 1, recorded_cb, &r,
						  &error), STORE_E_INVALID);
}

/* Outcomes in one batch without a savepoint per entry: an entry with a
 * result for a recipient that is not its own is refused before anything
 * of it is written, the others are recorded; an entry the batch finishes
 * goes with its recipients, one with a DSN owed stays. */
static void
test_queue_record_async_refused(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	struct store_queue_rcpt rc[2] = { { "x@remote.example", NULL, NULL },
					  { "y@remote.example", NULL, NULL } };
	struct store_queue_msg q = { .size = 14, .env_from = "s@here.example",
				     .rcpts = rc, .count = 2 };
	struct store_queue_entry *e[3], *got;
	struct store_queue_result res[3][2];
	struct store_queue_record recs[3];
	struct recorded r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	char blob[STORE_BLOB_ID_LEN + 1];
	int64_t count = -1;
	bool done = false;
	sqlite3 *db;

	put_text(s, "queued message", blob);
	q.blob_id = blob;
	for (int k = 0; k < 3; k++) {
		assert_int_equal(store_deliver_queue(s, 0, NULL, 0, &q, NULL,
						     &error), STORE_OK);
		assert_int_equal(store_queue_get(s, q.id, &e[k], &error),
				 STORE_OK);
		for (int i = 0; i < 2; i++)
			res[k][i] = (struct store_queue_result){
				.rcpt_id = e[k]->rcpts[i].id,
				.status = STORE_QUEUE_SENT,
				.last_error = "250 ok", .attempted = true,
			};
		recs[k] = (struct store_queue_record){
			.id = e[k]->id, .results = res[k], .count = 2,
		};
	}
	/* entry 0: its second result names entry 1's recipient */
	res[0][1].rcpt_id = e[1]->rcpts[0].id;
	/* entry 2: a success DSN owed keeps it */
	res[2][0].notify = STORE_QUEUE_NOTIFY_SUCCESS;
	assert_int_equal(store_queue_record_async(s, recs, 3, recorded_cb, &r,
						  &error), STORE_OK);
	while (!done) {
		usleep(1000);
		pthread_mutex_lock(&r.lock);
		done = r.done;
		pthread_mutex_unlock(&r.lock);
	}
	assert_int_equal(r.result, STORE_OK);
	assert_int_equal(recs[0].result, STORE_E_NOT_FOUND);
	assert_false(recs[0].finished);
	assert_int_equal(recs[1].result, STORE_OK);
	assert_true(recs[1].finished);
	assert_int_equal(recs[2].result, STORE_OK);
	assert_false(recs[2].finished);
	/* entry 0 untouched */
	assert_int_equal(store_queue_get(s, e[0]->id, &got, &error), STORE_OK);
	assert_string_equal(got->rcpts[0].status, STORE_QUEUE_PENDING);
	assert_int_equal(got->rcpts[0].attempts, 0);
	assert_string_equal(got->rcpts[1].status, STORE_QUEUE_PENDING);
	store_queue_entries_free(&got, 1);
	/* entry 1 gone with its recipients */
	assert_int_equal(store_queue_get(s, e[1]->id, &got, &error),
			 STORE_E_NOT_FOUND);
	db = db_open(f);
	assert_int_equal(sqlite_int(db, &count, "SELECT COUNT(*) FROM"
				    " queue_rcpts WHERE queue_id = ?", "i",
				    e[1]->id), SQLITE_ROW);
	assert_int_equal(count, 0);
	sqlite3_close(db);
	/* entry 2 kept for its DSN, both recipients recorded */
	assert_int_equal(store_queue_get(s, e[2]->id, &got, &error), STORE_OK);
	assert_string_equal(got->rcpts[0].status, STORE_QUEUE_SENT);
	assert_int_equal(got->rcpts[0].notify, STORE_QUEUE_NOTIFY_SUCCESS);
	assert_string_equal(got->rcpts[1].status, STORE_QUEUE_SENT);
	assert_int_equal(got->rcpts[1].attempts, 1);
	store_queue_entries_free(&got, 1);
	for (int k = 0; k < 3; k++)
		store_queue_entries_free(&e[k], 1);
}

/* What the next hop must offer (8BITMIME, SMTPUTF8) is kept with the
 * entry; rows from before migration 11 read as needing neither. */
static void
test_queue_needs(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	struct store_queue_entry *e;
	struct store_queue_rcpt qr[1] = { { "x@remote.example", NULL, NULL } };
	struct store_queue_msg q = {
		.size = 5, .env_from = "s@example.com", .rcpts = qr,
		.count = 1, .need_8bitmime = true,
	};
	char blob[STORE_BLOB_ID_LEN + 1];
	int64_t id;
	size_t n;
	sqlite3 *db;

	put_text(s, "caf\xc3\xa9", blob);
	q.blob_id = blob;
	assert_int_equal(store_deliver_queue(s, 0, NULL, 0, &q, NULL, &error),
			 STORE_OK);
	q.need_8bitmime = false;
	q.need_smtputf8 = true;
	assert_int_equal(store_deliver_queue(s, 0, NULL, 0, &q, NULL, &error),
			 STORE_OK);
	assert_int_equal(store_queue_insert(s, blob, 5, "", NULL, NULL, qr, 1,
					    &id, &error), STORE_OK);
	assert_int_equal(store_queue_list(s, 0, &e, &n, &error), STORE_OK);
	assert_int_equal(n, 3);
	assert_true(e[0].need_8bitmime && !e[0].need_smtputf8);
	assert_true(!e[1].need_8bitmime && e[1].need_smtputf8);
	assert_true(!e[2].need_8bitmime && !e[2].need_smtputf8);
	store_queue_entries_free(&e, n);

	/* back to schema 10 (its rows lose the columns) and forward again */
	store_close(&f->store);
	db = db_open(f);
	assert_int_equal(sqlite3_exec(db, "BEGIN;" ACCOUNTS_BEFORE_17 QUEUE_BEFORE_11
		"PRAGMA user_version = 10; COMMIT;", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	s = f->store;
	assert_int_equal(store_schema_version(s),
			 (int)sqlite_migrations_count);
	assert_int_equal(store_queue_list(s, 0, &e, &n, &error), STORE_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_false(e[i].need_8bitmime || e[i].need_smtputf8);
	store_queue_entries_free(&e, n);
}

/* One message for several accounts, each with its own copy, plus the
 * outbound queue: stored together or not at all. */
static void
test_deliver_queue_atomic(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "a@example.com", 0);
	int64_t b = add_user(s, "b@example.com", 0);
	int64_t c = add_user(s, "c@example.com", 30);
	char ba[STORE_BLOB_ID_LEN + 1], bb[STORE_BLOB_ID_LEN + 1];
	char bq[STORE_BLOB_ID_LEN + 1], missing[STORE_BLOB_ID_LEN + 1];
	struct store_queue_rcpt qr[1] = {
		{ "x@remote.example", "NEVER", NULL },
	};
	struct store_queue_msg q = {
		.blob_id = bq, .size = 5, .env_from = "s@example.com",
		.rcpts = qr, .count = 1,
	};
	size_t failed = 99;

	put_text(s, "Delivered-To: a\r\n\r\nhi\r\n", ba);
	put_text(s, "Delivered-To: b\r\n\r\nhi\r\n", bb);
	put_text(s, "hi\r\n", bq);
	memset(missing, 'e', STORE_BLOB_ID_LEN);
	missing[STORE_BLOB_ID_LEN] = '\0';

	/* all parts fine: every account has its own blob, and the queue */
	{
		struct store_target t[2] = {
			{ .account_id = a, .blob_id = ba, .size = 25 },
			{ .account_id = b, .blob_id = bb, .size = 26 },
		};
		struct store_message *msgs;
		size_t n;
		struct store_mailbox *inbox;

		assert_int_equal(store_deliver_queue(s, 0, t, 2, &q, &failed,
						     &error), STORE_OK);
		assert_true(q.id > 0);
		assert_int_equal(t[0].uid, 1);
		assert_int_equal(t[1].uid, 1);
		assert_int_equal(store_mailbox_lookup(s, b, "INBOX", &inbox,
						      &error), STORE_OK);
		assert_int_equal(store_message_list(s, inbox->id, &msgs, &n,
						    &error), STORE_OK);
		assert_int_equal(n, 1);
		assert_string_equal(msgs[0].blob_id, bb);
		assert_int_equal(msgs[0].size, 26);
		free(msgs);
		store_mailbox_free(&inbox);
	}
	assert_int_equal(queue_count(s), 1);

	/* a later target over quota: nothing anywhere, not even the queue */
	{
		struct store_target t[3] = {
			{ .account_id = a, .blob_id = ba, .size = 25 },
			{ .account_id = b, .blob_id = bb, .size = 26 },
			{ .account_id = c, .blob_id = bb, .size = 31 },
		};
		assert_int_equal(store_deliver_queue(s, 0, t, 3, &q, &failed,
						     &error),
				 STORE_E_OVER_QUOTA);
		assert_int_equal(failed, 2);
	}
	/* a later target whose account is gone */
	{
		struct store_target t[2] = {
			{ .account_id = a, .blob_id = ba, .size = 25 },
			{ .account_id = 424242, .blob_id = bb, .size = 26 },
		};
		assert_int_equal(store_deliver_queue(s, 0, t, 2, &q, &failed,
						     &error),
				 STORE_E_NOT_FOUND);
		assert_int_equal(failed, 1);
	}
	/* a later target's blob is not stored (temporary) */
	{
		struct store_target t[2] = {
			{ .account_id = a, .blob_id = ba, .size = 25 },
			{ .account_id = b, .blob_id = missing, .size = 26 },
		};
		assert_int_equal(store_deliver_queue(s, 0, t, 2, &q, &failed,
						     &error), STORE_E_TEMP);
		assert_int_equal(failed, 1);
	}
	/* the queue part fails (its blob is missing): no account copy */
	{
		struct store_target t[2] = {
			{ .account_id = a, .blob_id = ba, .size = 25 },
			{ .account_id = b, .blob_id = bb, .size = 26 },
		};
		struct store_queue_msg bad = q;

		bad.blob_id = missing;
		assert_int_equal(store_deliver_queue(s, 0, t, 2, &bad, &failed,
						     &error), STORE_E_TEMP);
		assert_int_equal(failed, 2);
	}
	assert_int_equal(inbox_count(s, a), 1);
	assert_int_equal(inbox_count(s, b), 1);
	assert_int_equal(inbox_count(s, c), 0);
	assert_int_equal(queue_count(s), 1);
	{
		struct store_user *u;

		assert_int_equal(store_user_get(s, a, &u, &error), STORE_OK);
		assert_int_equal(u->used_bytes, 25);
		assert_int_equal(u->used_messages, 1);
		store_user_free(&u);
	}

	/* queue only; bad arguments */
	assert_int_equal(store_deliver_queue(s, 0, NULL, 0, &q, NULL, &error),
			 STORE_OK);
	assert_int_equal(queue_count(s), 2);
	assert_int_equal(store_deliver_queue(s, 0, NULL, 0, NULL, NULL,
					     &error), STORE_E_INVALID);
	{
		struct store_target t = { .account_id = a };

		/* store_deliver_queue needs every target's own blob */
		assert_int_equal(store_deliver_queue(s, 0, &t, 1, NULL, NULL,
						     &error), STORE_E_INVALID);
		/* store_deliver: a NULL default needs the same */
		assert_int_equal(store_deliver(s, NULL, 0, 0, &t, 1, NULL,
					       &error), STORE_E_INVALID);
		/* a per-target blob overrides store_deliver's default */
		t.blob_id = bb;
		t.size = 26;
		assert_int_equal(store_deliver(s, ba, 25, 0, &t, 1, NULL,
					       &error), STORE_OK);
		assert_int_equal(inbox_count(s, a), 2);
	}
}

/* ---- concurrency and group commit ---- */

#define THREADS 8
#define PER_THREAD 200

struct worker {
	struct store *store;
	int64_t account;
	int64_t bogus_mailbox;
	int index;
	int per_thread;
	int failures;
	int expected_failures;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const char *error = NULL;

	for (int i = 0; i < w->per_thread; i++) {
		char text[96], blob[STORE_BLOB_ID_LEN + 1];
		struct store_target t = { .account_id = w->account };

		snprintf(text, sizeof(text), "From: t%d\r\n\r\nmessage %d\r\n",
			 w->index, i);
		if (store_blob_put(w->store, text, strlen(text), blob,
				   &error) != STORE_OK ||
		    store_deliver(w->store, blob, strlen(text), 0, &t, 1,
				  NULL, &error) != STORE_OK) {
			fprintf(stderr, "deliver: %s\n", error);
			w->failures++;
		}
		if (i % 25 == 0 && w->bogus_mailbox != 0) {
			/* A failing op in the same batches as the others. */
			struct store_target bad = {
				.account_id = w->account,
				.mailbox_id = w->bogus_mailbox,
			};
			if (store_deliver(w->store, blob, 1, 0, &bad, 1, NULL,
					  &error) == STORE_E_NOT_FOUND)
				w->expected_failures++;
		}
	}
	return NULL;
}

static double
run_workers(struct store *s, int64_t account, int nthreads, int per_thread,
	    int64_t bogus)
{
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .store = s, .account = account,
					.index = i, .per_thread = per_thread,
					.bogus_mailbox = bogus };
		assert_int_equal(pthread_create(&tid[i], NULL, worker_main,
						&w[i]), 0);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(w[i].failures, 0);
		if (bogus != 0)
			assert_int_equal(w[i].expected_failures,
					 (per_thread + 24) / 25);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
test_concurrency(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	const char *error = NULL;
	int64_t a = add_user(s, "busy@example.com", 0);
	int64_t solo = add_user(s, "solo@example.com", 0);
	struct store_mailbox *inbox;
	struct store_message *msgs;
	struct store_stats before, after;
	double secs1, secs8;
	size_t n;

	store_get_stats(s, &before);
	secs8 = run_workers(s, a, THREADS, PER_THREAD, 999999);
	store_get_stats(s, &after);

	assert_int_equal(store_mailbox_lookup(s, a, "INBOX", &inbox, &error),
			 STORE_OK);
	assert_int_equal(store_message_list(s, inbox->id, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, THREADS * PER_THREAD);
	for (size_t i = 0; i < n; i++) {
		/* Sorted by UID and dense: unique, 1..n, none lost. */
		assert_int_equal(msgs[i].uid, i + 1);
		assert_true(store_blob_exists(s, msgs[i].blob_id));
	}
	free(msgs);
	store_mailbox_free(&inbox);
	{
		uint64_t ops = after.ops - before.ops;
		uint64_t commits = after.commits - before.commits;

		print_message("group commit: %llu ops in %llu commits "
			      "(max batch %llu)\n", (unsigned long long)ops,
			      (unsigned long long)commits,
			      (unsigned long long)after.max_batch);
		assert_true(ops >= THREADS * PER_THREAD);
		assert_true(commits < ops);
	}

	secs1 = run_workers(s, solo, 1, PER_THREAD, 0);
	print_message("bench: 1 thread %.0f deliveries/s, %d threads %.0f "
		      "deliveries/s\n", PER_THREAD / secs1, THREADS,
		      THREADS * PER_THREAD / secs8);
	assert_int_equal(store_check_integrity(s, &error), STORE_OK);
}

/* ---- crash: kill -9 a delivering child, everything acknowledged stays ---- */

struct ack {
	uint32_t uid;
	char blob_id[STORE_BLOB_ID_LEN + 1];
};

#define CRASH_THREADS 4

struct crash_thread {
	struct store *store;
	int64_t account;
	int fd;
	int index;
};

static void *
crash_thread_main(void *arg)
{
	struct crash_thread *ct = arg;
	const char *error = NULL;
	/* Every 7th message is past STORE_BLOB_INLINE_MAX: a file blob. */
	size_t cap = STORE_BLOB_INLINE_MAX + 4096;
	char *text = xmalloc(cap);

	for (int i = 0; i < 1000000; i++) {
		struct ack ack;
		struct store_target t = { .account_id = ct->account };
		size_t len;

		memset(&ack, 0, sizeof(ack));
		len = (size_t)snprintf(text, cap, "Subject: crash %d.%d\r\n"
				       "\r\n%d\r\n", ct->index, i, i * 7);
		if (i % 7 == 3) {
			memset(text + len, 'x', cap - len);
			len = cap;
		}
		if (store_blob_put(ct->store, text, len, ack.blob_id,
				   &error) != STORE_OK ||
		    store_deliver(ct->store, ack.blob_id, len, 0, &t, 1,
				  NULL, &error) != STORE_OK)
			_exit(3);
		ack.uid = t.uid;
		/* The acknowledgement: written only after the commit; one
		 * write below PIPE_BUF is atomic between threads. */
		if (write(ct->fd, &ack, sizeof(ack)) != (ssize_t)sizeof(ack))
			_exit(4);
	}
	_exit(0);
}

static void
crash_child(struct config *cfg, int64_t account, int fd)
{
	struct store *s = NULL;
	const char *error = NULL;
	struct crash_thread ct[CRASH_THREADS];
	pthread_t tid[CRASH_THREADS];

	if (store_open(cfg, &s, &error) != STORE_OK)
		_exit(2);
	for (int i = 0; i < CRASH_THREADS; i++) {
		ct[i] = (struct crash_thread){ .store = s, .account = account,
					       .fd = fd, .index = i };
		if (pthread_create(&tid[i], NULL, crash_thread_main,
				   &ct[i]) != 0)
			_exit(5);
	}
	for (int i = 0; i < CRASH_THREADS; i++)
		pthread_join(tid[i], NULL);
	_exit(0);
}

static int
ack_cmp(const void *a, const void *b)
{
	const struct ack *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Whether data hashes to the blob id (the name is the content's SHA-256). */
static bool
blob_matches_id(const uint8_t *data, size_t len, const char *id)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char got[STORE_BLOB_ID_LEN + 1];

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return false;
	for (unsigned i = 0; i < 32; i++) {
		got[2 * i] = hex[md[i] >> 4];
		got[2 * i + 1] = hex[md[i] & 15];
	}
	got[STORE_BLOB_ID_LEN] = '\0';
	return strcmp(got, id) == 0;
}

/* One round: fork a delivering child, kill -9 it after `after` acks, then
 * check every acknowledged message. The store must be closed on entry. */
static void
crash_round(struct fixture *f, int64_t account, size_t after)
{
	const char *error = NULL;
	struct ack *acks = NULL;
	size_t n_acks = 0, cap = 0;
	int fds[2], status;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(f->cfg, account, fds[1]);
	}
	close(fds[1]);
	for (;;) {
		struct ack ack;
		ssize_t got = read(fds[0], &ack, sizeof(ack));

		if (got == 0)
			break;
		assert_int_equal(got, sizeof(ack));
		if (n_acks == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			acks = xreallocarray(acks, cap, sizeof(*acks));
		}
		acks[n_acks++] = ack;
		if (n_acks == after) {
			/* Let it run into the middle of a delivery. */
			struct timespec ts = { 0, (rand() % 8000) * 1000L };
			nanosleep(&ts, NULL);
			kill(pid, SIGKILL);
		}
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_true(n_acks >= after);

	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	assert_int_equal(store_check_integrity(f->store, &error), STORE_OK);
	if (n_acks > 0)
		qsort(acks, n_acks, sizeof(*acks), ack_cmp);
	{
		struct store_mailbox *inbox;
		struct store_message *msgs;
		size_t n, j = 0;

		assert_int_equal(store_mailbox_lookup(f->store, account,
						      "INBOX", &inbox, &error),
				 STORE_OK);
		assert_int_equal(store_message_list(f->store, inbox->id, &msgs,
						    &n, &error), STORE_OK);
		for (size_t i = 0; i < n_acks; i++) {
			uint8_t *data;
			size_t len;

			while (j < n && msgs[j].uid < acks[i].uid)
				j++;
			assert_true(j < n);
			assert_int_equal(msgs[j].uid, acks[i].uid);
			assert_string_equal(msgs[j].blob_id, acks[i].blob_id);
			assert_int_equal(store_blob_read(f->store,
							 acks[i].blob_id,
							 &data, &len, &error),
					 STORE_OK);
			assert_int_equal(len, msgs[j].size);
			assert_true(blob_matches_id(data, len, acks[i].blob_id));
			free(data);
		}
		/* Every stored message, acknowledged or not, is whole. */
		for (size_t i = 0; i < n; i++) {
			uint8_t *data;
			size_t len;

			assert_int_equal(store_blob_read(f->store,
							 msgs[i].blob_id,
							 &data, &len, &error),
					 STORE_OK);
			assert_int_equal(len, msgs[i].size);
			assert_true(blob_matches_id(data, len,
						    msgs[i].blob_id));
			free(data);
		}
		print_message("crash: %zu acknowledged, %zu stored\n", n_acks,
			      n);
		free(msgs);
		store_mailbox_free(&inbox);
	}
	free(acks);
	/* The store keeps working after the crash. */
	{
		char blob[STORE_BLOB_ID_LEN + 1];
		struct store_target t = { .account_id = account };

		put_text(f->store, "after crash", blob);
		assert_int_equal(store_deliver(f->store, blob, 11, 0, &t, 1,
					       NULL, &error), STORE_OK);
	}
	store_close(&f->store);
}

static void
test_crash(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	int64_t account = add_user(f->store, "crash@example.com", 0);

	/* No store (and no writer thread) may be open across fork. */
	store_close(&f->store);
	for (int round = 0; round < 3; round++)
		crash_round(f, account, 10 + (size_t)(rand() % 40));
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
}

/* Several processes share one database: UIDs stay unique and dense. */
static void
test_multiprocess(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	int64_t account = add_user(f->store, "shared@example.com", 0);
	enum { PROCS = 3, EACH = 40 };
	pid_t pids[PROCS];

	store_close(&f->store);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct store *s = NULL;
			struct worker w = { .account = account, .index = p,
					    .per_thread = EACH };

			if (store_open(f->cfg, &s, &error) != STORE_OK)
				_exit(2);
			w.store = s;
			worker_main(&w);
			store_close(&s);
			_exit(w.failures == 0 ? 0 : 3);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status;
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	{
		struct store_mailbox *inbox;
		struct store_message *msgs;
		struct store_user *u;
		size_t n;

		assert_int_equal(store_mailbox_lookup(f->store, account,
						      "INBOX", &inbox, &error),
				 STORE_OK);
		assert_int_equal(store_message_list(f->store, inbox->id, &msgs,
						    &n, &error), STORE_OK);
		assert_int_equal(n, PROCS * EACH);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(msgs[i].uid, i + 1);
		free(msgs);
		store_mailbox_free(&inbox);
		assert_int_equal(store_user_get(f->store, account, &u, &error),
				 STORE_OK);
		assert_int_equal(u->used_messages, PROCS * EACH);
		store_user_free(&u);
	}
}

/* Many large inline bodies in the same batches: one commit's WAL writes
 * are far past 128 KiB, which the WAL write buffer must split (the unix
 * VFS refuses longer writes); every body reads back intact after reopen. */
struct big_writer {
	struct store *store;
	int64_t account;
	int index;
	char ids[6][STORE_BLOB_ID_LEN + 1];
	int failures;
};

#define BIG_BODY (100 * 1024)

static void
big_body(char *buf, int writer, int n)
{
	for (size_t i = 0; i < BIG_BODY; i++)
		buf[i] = (char)('a' + (i * 7 + (size_t)writer * 13 +
				       (size_t)n) % 26);
}

static void *
big_writer_main(void *arg)
{
	struct big_writer *w = arg;
	char *body = xmalloc(BIG_BODY);
	const char *error = NULL;

	for (int i = 0; i < 6; i++) {
		struct store_target t = { .account_id = w->account };

		big_body(body, w->index, i);
		if (store_blob_put(w->store, body, BIG_BODY, w->ids[i],
				   &error) != STORE_OK ||
		    store_deliver(w->store, w->ids[i], BIG_BODY, 0, &t, 1,
				  NULL, &error) != STORE_OK)
			w->failures++;
	}
	free(body);
	return NULL;
}

static void
test_big_batches(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	int64_t a = add_user(f->store, "big@example.com", 0);
	struct big_writer w[THREADS];
	pthread_t tid[THREADS];
	char *want = xmalloc(BIG_BODY);

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct big_writer){ .store = f->store, .account = a,
					    .index = i };
		assert_int_equal(pthread_create(&tid[i], NULL, big_writer_main,
						&w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	store_close(&f->store);
	assert_int_equal(store_open(f->cfg, &f->store, &error), STORE_OK);
	for (int i = 0; i < THREADS; i++) {
		for (int n = 0; n < 6; n++) {
			uint8_t *data = NULL;
			size_t len = 0;

			assert_int_equal(store_blob_read(f->store, w[i].ids[n],
							 &data, &len, &error),
					 STORE_OK);
			big_body(want, i, n);
			assert_int_equal(len, BIG_BODY);
			assert_memory_equal(data, want, BIG_BODY);
			free(data);
		}
	}
	free(want);
	assert_int_equal(store_check_integrity(f->store, &error), STORE_OK);
}

/* The writer lock shared by processes: a holder that dies leaves it to
 * the next taker; a live holder makes others wait until their timeout. */
static void
test_writer_lock(void **state)
{
	struct fixture *f = *state;
	char path[128], err[256];
	struct store_wlock *wl;
	int ready[2], hold[2], status;
	pid_t pid;
	char c;

	snprintf(path, sizeof(path), "%s/data/test-wlock", f->dir);
	wl = store_wlock_open(path, err, sizeof(err));
	assert_non_null(wl);

	/* A live holder: we time out. ready: child -> parent, hold:
	 * parent -> child (closed by the parent to let it die). */
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_wlock *cw = store_wlock_open(path, err,
							  sizeof(err));

		close(ready[0]);
		close(hold[1]);
		if (cw == NULL || store_wlock_acquire(cw, 1000) != 0)
			_exit(2);
		if (write(ready[1], "x", 1) != 1)
			_exit(3);
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);	/* dies holding the lock */
	}
	close(ready[1]);
	close(hold[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(store_wlock_acquire(wl, 150), ETIMEDOUT);
	close(hold[1]);
	close(ready[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The holder died with the lock: it is ours at once, and usable. */
	assert_int_equal(store_wlock_acquire(wl, 1000), 0);
	store_wlock_release(wl);
	assert_int_equal(store_wlock_acquire(wl, 1000), 0);
	store_wlock_release(wl);
	/* the dead holder no longer counts as a writer */
	assert_false(store_wlock_others_writing(wl));
	store_wlock_close(&wl);
	assert_null(wl);
}

/* The durability marks in the writer lock's page (lazy commits): a
 * commit is covered only by a sync that another process reports after
 * it, the waiter is woken across processes, and the writers count goes
 * back to zero. */
static void
test_writer_lock_sync_marks(void **state)
{
	struct fixture *f = *state;
	char path[128], err[256];
	struct store_wlock *wl, *other;
	uint64_t seq;
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/data/test-wlock-marks", f->dir);
	wl = store_wlock_open(path, err, sizeof(err));
	assert_non_null(wl);
	other = store_wlock_open(path, err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(store_wlock_sync_age_us(wl), UINT64_MAX);
	assert_false(store_wlock_others_writing(wl));

	/* a commit that did not sync is not covered, however long */
	assert_int_equal(store_wlock_acquire(wl, 1000), 0);
	seq = store_wlock_commit(wl, false);
	store_wlock_release(wl);
	assert_int_equal(store_wlock_committed(other), seq);
	assert_false(store_wlock_wait_synced(wl, seq, 20000));
	/* a sync begun after it covers it (and not the next one) */
	store_wlock_synced(other, store_wlock_committed(other));
	assert_true(store_wlock_wait_synced(wl, seq, 0));
	assert_false(store_wlock_wait_synced(wl, seq + 1, 0));
	assert_true(store_wlock_sync_age_us(wl) < 10000000);

	/* a holder is counted; the count goes when it lets go */
	assert_int_equal(store_wlock_acquire(other, 1000), 0);
	assert_true(store_wlock_others_writing(wl));
	store_wlock_release(other);
	assert_false(store_wlock_others_writing(wl));

	/* another process's synced commit wakes the waiter */
	assert_int_equal(store_wlock_acquire(wl, 1000), 0);
	seq = store_wlock_commit(wl, false);
	store_wlock_release(wl);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_wlock *cw = store_wlock_open(path, err,
							  sizeof(err));

		usleep(50000);
		if (cw == NULL || store_wlock_acquire(cw, 1000) != 0)
			_exit(2);
		(void)store_wlock_commit(cw, true);
		store_wlock_release(cw);
		_exit(0);
	}
	assert_true(store_wlock_wait_synced(wl, seq, 10000000));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(store_wlock_committed(wl), seq + 1);
	assert_false(store_wlock_others_writing(wl));
	store_wlock_close(&other);
	store_wlock_close(&wl);
}

/* The WAL write buffer and a rollback (found in review): a transaction
 * big enough to spill pages into the WAL before its commit is rolled
 * back; another connection (another process, in life) commits at the
 * same WAL offsets; the first connection's buffered, uncommitted frames
 * must never be written over them. */
static void
vfs_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err != NULL ? err : "?");
	sqlite3_free(err);
}

static int64_t
vfs_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
test_vfs_rollback(void **state)
{
	struct fixture *f = *state;
	const char *vfs = sqlite_vfs_name();
	char path[128];
	sqlite3 *a = NULL, *b = NULL, *c = NULL;
	sqlite3_stmt *st = NULL;

	assert_non_null(vfs);
	snprintf(path, sizeof(path), "%s/vfs.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &a, SQLITE_OPEN_READWRITE |
					 SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
	assert_int_equal(sqlite3_open_v2(path, &b, SQLITE_OPEN_READWRITE, vfs),
			 SQLITE_OK);
	vfs_exec(a, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		 "PRAGMA wal_autocheckpoint=0;"
		 "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);"
		 "CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT);"
		 "INSERT INTO u (v) VALUES ('before');");
	vfs_exec(b, "PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;");
	vfs_exec(a, "PRAGMA cache_size=10; PRAGMA wal_checkpoint(TRUNCATE);");
	/* 60 x 3 KB: the 10-page cache spills into the WAL */
	vfs_exec(a, "BEGIN IMMEDIATE;"
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		 " FROM n WHERE i < 60) INSERT INTO t (v)"
		 " SELECT randomblob(3000) FROM n;"
		 "ROLLBACK;");
	vfs_exec(b, "BEGIN IMMEDIATE;"
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		 " FROM n WHERE i < 5) INSERT INTO u (v)"
		 " SELECT 'committed-' || i FROM n;"
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		 " FROM n WHERE i < 80) INSERT INTO t (v)"
		 " SELECT zeroblob(3000) FROM n;"
		 "COMMIT;");
	/* a's next transaction, then both close */
	vfs_exec(a, "BEGIN IMMEDIATE;");
	assert_int_equal(vfs_int(a, "SELECT count(*) FROM u"), 6);
	vfs_exec(a, "COMMIT;");
	sqlite3_close(a);
	sqlite3_close(b);

	assert_int_equal(sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(vfs_int(c, "SELECT count(*) FROM u"), 6);
	assert_int_equal(vfs_int(c, "SELECT count(*) FROM t"), 80);
	assert_int_equal(vfs_int(c, "SELECT sum(length(v)) FROM t"), 240000);
	sqlite3_close(c);
}

/* WAL reads come from the mapping, also of frames another connection
 * (here the default VFS, as another process would be: it does not tell
 * ours the file grew) appended after ours last looked, and after the WAL
 * was cut back to nothing and written again. */
static void
test_vfs_wal_map(void **state)
{
	struct fixture *f = *state;
	const char *vfs = sqlite_vfs_name();
	char path[128];
	sqlite3 *a = NULL, *b = NULL;
	uint64_t reads;

	assert_non_null(vfs);
	snprintf(path, sizeof(path), "%s/vfsmap.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &a, SQLITE_OPEN_READWRITE |
					 SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
	vfs_exec(a, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
		 "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);");
	assert_int_equal(sqlite3_open_v2(path, &b, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	vfs_exec(b, "PRAGMA wal_autocheckpoint=0;");
	for (int round = 0; round < 3; round++) {
		/* b appends; a's cache is dropped and its pages come from
		 * b's new frames, past the size a knew */
		vfs_exec(b, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
			 " SELECT i + 1 FROM n WHERE i < 40) INSERT INTO t (v)"
			 " SELECT randomblob(2010) FROM n;");
		reads = sqlite_vfs_wal_map_reads();
		assert_int_equal(vfs_int(a, "SELECT count(*) FROM t"),
				 40 * (round + 1));
		assert_int_equal(vfs_int(a, "SELECT sum(length(v)) FROM t"),
				 2010 * 40 * (round + 1));
		assert_int_equal(vfs_int(a, "SELECT count(*) FROM t, (SELECT"
				 " v AS w FROM t ORDER BY id LIMIT 1 OFFSET 3)"
				 " WHERE v = w"), 1);
		assert_true(sqlite_vfs_wal_map_reads() > reads);
	}
	/* the WAL cut to nothing by the other side, then shorter frames
	 * than before at the same offsets */
	vfs_exec(b, "PRAGMA wal_checkpoint(TRUNCATE);");
	vfs_exec(b, "UPDATE t SET v = x'0102' WHERE id = 7;");
	assert_int_equal(vfs_int(a, "SELECT length(v) FROM t WHERE id = 7"),
			 2);
	assert_int_equal(vfs_int(a, "SELECT count(*) FROM t"), 120);
	/* and cut by this side, then written again by it */
	vfs_exec(a, "PRAGMA wal_checkpoint(TRUNCATE);");
	vfs_exec(a, "UPDATE t SET v = x'03' WHERE id = 8;");
	assert_int_equal(vfs_int(b, "SELECT length(v) FROM t WHERE id = 8"),
			 1);
	vfs_exec(b, "UPDATE t SET v = x'040506' WHERE id = 9;");
	assert_int_equal(vfs_int(a, "SELECT length(v) FROM t WHERE id = 9"),
			 3);
	assert_int_equal(vfs_int(a, "SELECT sum(length(v)) FROM t"),
			 2010 * 117 + 2 + 1 + 3);
	sqlite3_close(a);
	sqlite3_close(b);
}

/* ---- the MIME structure cache ---- */

static const char mime_msg[] =
	"From: a@example.org\r\n"
	"Subject: cached\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n"
	"\r\n"
	"--b\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"hello\r\n"
	"--b\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"QUJD\r\n"
	"--b--\r\n";

static void
assert_mime_ok(struct store *s, const char *id, uint64_t size,
	       unsigned int parts)
{
	struct mime_cache *c = NULL;
	const char *error = NULL;

	assert_int_equal(store_mime_get(s, id, size, &c, &error), STORE_OK);
	assert_non_null(c);
	assert_int_equal(c->part_count, parts);
	assert_int_equal(c->msg_size, size);
	assert_string_equal(c->root->type, "multipart");
	mime_cache_free(&c);
}

static int64_t
mime_rows(struct fixture *f, const char *id)
{
	sqlite3 *db = db_open(f);
	char *sql = xasprintf("SELECT count(*) FROM mime_cache"
			      " WHERE blob_id = '%s'", id);
	int64_t n = db_int(db, sql);

	free(sql);
	sqlite3_close(db);
	return n;
}

static void
mime_sql(struct fixture *f, const char *sql)
{
	sqlite3 *db = db_open(f);

	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_mime_cache(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->store;
	char small[STORE_BLOB_ID_LEN + 1], big[STORE_BLOB_ID_LEN + 1];
	char queued[STORE_BLOB_ID_LEN + 1];
	int64_t acct = add_user(s, "mime@example.com", 0);
	struct buf msg;
	struct mime_cache *c = NULL;
	const char *error = NULL;
	uint64_t wsize = 0;
	struct store_blob_writer *w;
	uint32_t uid1 = 1, uid2 = 2;

	/* a small body: its record is inserted with it */
	put_text(s, mime_msg, small);
	deliver_to(s, small, strlen(mime_msg), acct);
	assert_int_equal(mime_rows(f, small), 1);
	assert_mime_ok(s, small, strlen(mime_msg), 3);

	/* a body kept as a file, written in pieces: the record follows it
	 * into the next commit */
	buf_init(&msg);
	buf_append(&msg, mime_msg, strlen(mime_msg) - strlen("--b--\r\n"));
	buf_puts(&msg, "--b\r\nContent-Type: text/plain\r\n\r\n");
	while (msg.len < STORE_BLOB_INLINE_MAX + 1000)
		buf_puts(&msg, "0123456789012345678901234567890123456789\r\n");
	buf_puts(&msg, "--b--\r\n");
	assert_int_equal(store_blob_writer_new(s, &w, &error), STORE_OK);
	for (size_t off = 0; off < msg.len; off += 1000)
		assert_int_equal(store_blob_writer_write(w, msg.data + off,
			msg.len - off < 1000 ? msg.len - off : 1000, &error),
			STORE_OK);
	assert_int_equal(store_blob_writer_finish(&w, big, &wsize, &error),
			 STORE_OK);
	assert_int_equal(wsize, msg.len);
	deliver_to(s, big, msg.len, acct);
	assert_int_equal(mime_rows(f, big), 1);
	assert_mime_ok(s, big, msg.len, 4);

	/* a body stored before the cache: parsed at the first get, saved */
	mime_sql(f, "DELETE FROM mime_cache");
	assert_mime_ok(s, small, strlen(mime_msg), 3);
	assert_mime_ok(s, big, msg.len, 4);
	deliver_to(s, small, strlen(mime_msg), acct);	/* a commit */
	assert_int_equal(mime_rows(f, small), 1);
	assert_int_equal(mime_rows(f, big), 1);

	/* a damaged record or one of another version is made again */
	mime_sql(f, "UPDATE mime_cache SET data = x'484d4301ff'");
	assert_mime_ok(s, small, strlen(mime_msg), 3);
	mime_sql(f, "UPDATE mime_cache SET data = x'484d4363'");
	assert_mime_ok(s, big, msg.len, 4);

	/* a wrong size is refused, a missing blob is not found */
	assert_int_equal(store_mime_get(s, small, strlen(mime_msg) + 1, &c,
					&error), STORE_E_TEMP);
	assert_null(c);
	assert_int_equal(store_mime_get(s, "0000000000000000000000000000000"
					"000000000000000000000000000000000", 5,
					&c, &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_mime_get(s, "../x", 5, &c, &error),
			 STORE_E_INVALID);

	/* collected with the blob */
	expunge_uids(s, acct, (uint32_t[]){ uid1, 3 }, 2);
	expunge_uids(s, acct, &uid2, 1);
	gc_round(s, 0);
	assert_int_equal(mime_rows(f, small), 0);
	assert_int_equal(mime_rows(f, big), 0);
	buf_deinit(&msg);

	/* a queue-only body gets no record; one is made if it is read */
	buf_init(&msg);
	buf_puts(&msg, "X-Queued: yes\r\n");
	buf_puts(&msg, mime_msg);
	assert_int_equal(store_blob_put_queued(s, msg.data, msg.len, queued,
					       &error), STORE_OK);
	deliver_to(s, queued, msg.len, acct);	/* the commit it rides */
	assert_int_equal(mime_rows(f, queued), 0);
	assert_mime_ok(s, queued, msg.len, 3);
	deliver_to(s, queued, msg.len, acct);
	assert_int_equal(mime_rows(f, queued), 1);
	buf_deinit(&msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrations_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailboxes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deliver_threads_link,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_threads_limits,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_threads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deliver_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_quota, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deliver_replace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flags_expunge, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_reader, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reader_stmt_cache, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_runner_state, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_no_savepoint,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_linger, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batch_rerun, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blob_gc_periodic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blob_gc_backlog, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_foreign,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_legacy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_migration_blob_rid,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_record_async, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_record_async_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_needs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deliver_queue_atomic,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiprocess, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_big_batches, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_lock_sync_marks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mime_cache, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_vfs_rollback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_vfs_wal_map, setup,
						teardown),
	};

	srand((unsigned)time(NULL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
