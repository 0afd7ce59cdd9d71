/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the store's access control lists (store-acl.c,
 * store-sqlite-acl.c): the rights parser and formatter (RFC 4314 2.1,
 * 2.1.1), entries set, read and removed, the owner's rights, the
 * mailboxes shared with an account, the rows a deleted mailbox or
 * account takes along, and COPY/MOVE into another account's mailbox.
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
	int64_t alice, bob, carol;
	int64_t team;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	static const char *const rows[] = { "user alice@example.test",
					    "user bob@example.test",
					    "user carol@example.test", NULL };
	const char *error = NULL;

	test_store_open(&f->ts, "store-acl");
	test_store_fill(&f->ts, rows);
	f->alice = test_store_user_id(&f->ts, "alice@example.test");
	f->bob = test_store_user_id(&f->ts, "bob@example.test");
	f->carol = test_store_user_id(&f->ts, "carol@example.test");
	assert_int_equal(store_mailbox_create(f->ts.store, f->alice, "Team",
					      STORE_ROLE_NONE, NULL, &f->team,
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

static unsigned
parse(const char *s)
{
	const char *error = NULL;
	unsigned r = 0;

	assert_int_equal(store_acl_rights_parse(s, strlen(s), &r, &error), 0);
	return r;
}

static void
test_rights_parse(void **state)
{
	char out[STORE_ACL_RIGHTS_SIZE];
	const char *error = NULL;
	unsigned r;
	static const char *const bad[] = { "lrQ", "q", "L", "lr ", "0",
					   "lr-", "+l" };

	(void)state;
	assert_int_equal(parse(""), 0);
	assert_int_equal(parse("lrswipkxtea"), STORE_ACL_ALL);
	assert_int_equal(parse("l"), STORE_ACL_LOOKUP);
	assert_int_equal(parse("rl"), STORE_ACL_LOOKUP | STORE_ACL_READ);
	/* RFC 4314 2.1.1: c is k, d is x t e here */
	assert_int_equal(parse("c"), STORE_ACL_CREATE);
	assert_int_equal(parse("d"), STORE_ACL_DELETE_MAILBOX |
					     STORE_ACL_DELETE_MSG |
					     STORE_ACL_EXPUNGE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(store_acl_rights_parse(bad[i],
							strlen(bad[i]), &r,
							&error), -1);
	/* a NUL inside is not a right */
	assert_int_equal(store_acl_rights_parse("l\0r", 3, &r, &error), -1);

	store_acl_rights_format(parse("ail"), false, out);
	assert_string_equal(out, "lia");
	store_acl_rights_format(STORE_ACL_ALL, false, out);
	assert_string_equal(out, "lrswipkxtea");
	store_acl_rights_format(STORE_ACL_ALL, true, out);
	assert_string_equal(out, "lrswipkxteacd");
	store_acl_rights_format(parse("lrt"), true, out);
	assert_string_equal(out, "lrtd");
	store_acl_rights_format(parse("k"), true, out);
	assert_string_equal(out, "kc");
	store_acl_rights_format(0, true, out);
	assert_string_equal(out, "");
}

static void
test_set_get(void **state)
{
	struct fx *f = *state;
	struct store *st = f->ts.store;
	struct store_acl_entry *e = NULL;
	const char *error = NULL;
	size_t n = 0;
	unsigned r;

	assert_int_equal(store_acl_get(st, f->team, &e, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_acl_rights(st, f->team, f->alice, &r, &error),
			 STORE_OK);
	assert_int_equal(r, STORE_ACL_ALL);
	assert_int_equal(store_acl_rights(st, f->team, f->bob, &r, &error),
			 STORE_OK);
	assert_int_equal(r, 0);

	assert_int_equal(store_acl_set(st, f->team, f->bob, parse("lrswi"),
				       &error), STORE_OK);
	assert_int_equal(store_acl_set(st, f->team, STORE_ACL_ANYONE,
				       parse("lp"), &error), STORE_OK);
	/* the owner always has every right: no entry of its own */
	assert_int_equal(store_acl_set(st, f->team, f->alice, parse("l"),
				       &error), STORE_E_INVALID);
	assert_int_equal(store_acl_set(st, f->team, 999999, parse("l"),
				       &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_acl_set(st, 999999, f->bob, parse("l"),
				       &error), STORE_E_NOT_FOUND);
	assert_int_equal(store_acl_get(st, f->team, &e, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].grantee, "anyone");
	assert_int_equal(e[0].grantee_id, STORE_ACL_ANYONE);
	assert_int_equal(e[0].rights, parse("lp"));
	assert_string_equal(e[1].grantee, "bob@example.test");
	assert_int_equal(e[1].rights, parse("lrswi"));
	store_acl_entries_free(&e, n);
	assert_null(e);

	/* bob's own entry and anyone's, together; carol only anyone's */
	assert_int_equal(store_acl_rights(st, f->team, f->bob, &r, &error),
			 STORE_OK);
	assert_int_equal(r, parse("lrswip"));
	assert_int_equal(store_acl_rights(st, f->team, f->carol, &r, &error),
			 STORE_OK);
	assert_int_equal(r, parse("lp"));

	/* replace, then delete */
	assert_int_equal(store_acl_set(st, f->team, f->bob, parse("r"),
				       &error), STORE_OK);
	assert_int_equal(store_acl_delete(st, f->team, STORE_ACL_ANYONE,
					  &error), STORE_OK);
	assert_int_equal(store_acl_delete(st, f->team, f->carol, &error),
			 STORE_OK);
	assert_int_equal(store_acl_rights(st, f->team, f->bob, &r, &error),
			 STORE_OK);
	assert_int_equal(r, STORE_ACL_READ);
	assert_int_equal(store_acl_rights(st, f->team, f->carol, &r, &error),
			 STORE_OK);
	assert_int_equal(r, 0);
	assert_int_equal(store_acl_rights(st, 999999, f->carol, &r, &error),
			 STORE_E_NOT_FOUND);
}

static void
test_shared_list(void **state)
{
	struct fx *f = *state;
	struct store *st = f->ts.store;
	struct store_acl_shared *sh = NULL;
	struct store_acl_share *all = NULL;
	const char *error = NULL;
	int64_t bobs;
	size_t n = 0;

	assert_int_equal(store_mailbox_create(st, f->bob, "Projects",
					      STORE_ROLE_NONE, NULL, &bobs,
					      &error), STORE_OK);
	assert_int_equal(store_acl_set(st, f->team, f->bob, parse("lr"),
				       &error), STORE_OK);
	assert_int_equal(store_acl_set(st, f->team, STORE_ACL_ANYONE,
				       parse("w"), &error), STORE_OK);
	assert_int_equal(store_acl_set(st, bobs, STORE_ACL_ANYONE,
				       parse("l"), &error), STORE_OK);

	assert_int_equal(store_acl_shared_list(st, f->bob, &sh, &n, &error),
			 STORE_OK);
	/* bob's own mailbox is not shared with bob */
	assert_int_equal(n, 1);
	assert_string_equal(sh[0].owner, "alice@example.test");
	assert_string_equal(sh[0].name, "Team");
	assert_int_equal(sh[0].owner_id, f->alice);
	assert_int_equal(sh[0].mailbox_id, f->team);
	assert_int_equal(sh[0].rights, parse("lrw"));
	store_acl_shared_free(&sh, n);

	assert_int_equal(store_acl_shared_list(st, f->carol, &sh, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(sh[0].owner, "alice@example.test");
	assert_int_equal(sh[0].rights, parse("w"));
	assert_string_equal(sh[1].owner, "bob@example.test");
	assert_string_equal(sh[1].name, "Projects");
	store_acl_shared_free(&sh, n);

	assert_int_equal(store_acl_share_list(st, 0, &all, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(all[0].owner, "alice@example.test");
	assert_string_equal(all[0].grantee, "anyone");
	assert_string_equal(all[1].grantee, "bob@example.test");
	assert_string_equal(all[2].owner, "bob@example.test");
	assert_string_equal(all[2].mailbox, "Projects");
	store_acl_shares_free(&all, n);
	assert_int_equal(store_acl_share_list(st, f->bob, &all, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	store_acl_shares_free(&all, n);

	/* a deleted grantee takes its entries along, a deleted mailbox
	 * all of its own */
	assert_int_equal(store_user_del(st, "bob@example.test", &error),
			 STORE_OK);
	assert_int_equal(store_acl_share_list(st, 0, &all, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(all[0].grantee, "anyone");
	store_acl_shares_free(&all, n);
	assert_int_equal(store_mailbox_delete(st, f->alice, "Team", NULL,
					      &error), STORE_OK);
	assert_int_equal(store_acl_share_list(st, 0, &all, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_mailbox_create(st, f->alice, "Team",
					      STORE_ROLE_NONE, NULL, &f->team,
					      &error), STORE_OK);
	assert_int_equal(store_acl_shared_list(st, f->carol, &sh, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 0);
}

static void
test_copy_across(void **state)
{
	struct fx *f = *state;
	struct store *st = f->ts.store;
	const char *msg = "Subject: x\r\n\r\nhello\r\n";
	char blob[STORE_BLOB_ID_LEN + 1];
	struct store_target t = { 0 };
	struct store_copy c = { 0 };
	struct store_message *msgs = NULL;
	struct store_user *u = NULL;
	const char *error = NULL;
	int64_t inbox;
	uint32_t uid;
	size_t n = 0;

	assert_int_equal(store_blob_put(st, msg, strlen(msg), blob, &error),
			 STORE_OK);
	assert_int_equal(store_mailbox_find(st, f->bob, "INBOX", &inbox,
					    &error), STORE_OK);
	t.account_id = f->bob;
	t.mailbox_id = inbox;
	t.flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
	assert_int_equal(store_deliver(st, blob, strlen(msg), 0, &t, 1, NULL,
				       &error), STORE_OK);
	uid = t.uid;

	/* bob copies into alice's Team without the right to keep \Seen */
	c.src_mailbox_id = inbox;
	c.uids = &uid;
	c.count = 1;
	c.dst_mailbox_id = f->team;
	c.drop_flags = STORE_FLAG_SEEN;
	assert_int_equal(store_copy(st, &c, &error), STORE_OK);
	assert_int_equal(c.n, 1);
	store_copy_deinit(&c);
	assert_int_equal(store_message_list(st, f->team, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].flags, STORE_FLAG_FLAGGED);
	assert_string_not_equal(msgs[0].email_id, t.email_id);
	free(msgs);
	assert_int_equal(store_user_lookup(st, "alice@example.test", &u,
					   &error), STORE_OK);
	assert_int_equal(u->used_messages, 1);
	assert_int_equal(u->used_bytes, strlen(msg));
	store_user_free(&u);

	/* a move charges alice and frees bob */
	c = (struct store_copy){ .src_mailbox_id = inbox, .uids = &uid,
				 .count = 1, .dst_mailbox_id = f->team,
				 .move = true };
	assert_int_equal(store_copy(st, &c, &error), STORE_OK);
	store_copy_deinit(&c);
	assert_int_equal(store_user_lookup(st, "alice@example.test", &u,
					   &error), STORE_OK);
	assert_int_equal(u->used_messages, 2);
	store_user_free(&u);
	assert_int_equal(store_user_lookup(st, "bob@example.test", &u,
					   &error), STORE_OK);
	assert_int_equal(u->used_messages, 0);
	assert_int_equal(u->used_bytes, 0);
	store_user_free(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rights_parse),
		cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_copy_across, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
