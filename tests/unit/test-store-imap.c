/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the store operations IMAP's writing commands use:
 * keywords with flags (STORE), the keyword list read with the message
 * list, EXPUNGE of \Deleted only, COPY and MOVE with their UID pairs,
 * quota and atomicity, and APPEND-style deliveries with keywords and
 * their own internal dates.
 */
#include <setjmp.h>
#include <stdarg.h>
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
	int64_t account;
	int64_t inbox;
	int64_t archive;
	char blob[STORE_BLOB_ID_LEN + 1];
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	const char *error = NULL;
	struct store_mailbox *box;

	test_store_open(&f->ts, "store-imap");
	f->account = 0;
	assert_int_equal(store_user_add(f->ts.store, "u@example.test",
					"{PLAIN}x", NULL, 0, &f->account,
					&error), STORE_OK);
	assert_int_equal(store_mailbox_lookup(f->ts.store, f->account, "INBOX",
					      &box, &error), STORE_OK);
	f->inbox = box->id;
	store_mailbox_free(&box);
	assert_int_equal(store_mailbox_lookup(f->ts.store, f->account,
					      "Archive", &box, &error),
			 STORE_OK);
	f->archive = box->id;
	store_mailbox_free(&box);
	assert_int_equal(store_blob_put(f->ts.store, "Subject: x\r\n\r\nhi\r\n",
					18, f->blob, &error), STORE_OK);
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

/* Delivers n messages of 100 bytes to mailbox; returns the first UID. */
static uint32_t
deliver(struct fx *f, int64_t mailbox, int n)
{
	const char *error = NULL;
	uint32_t first = 0;

	for (int i = 0; i < n; i++) {
		struct store_target t = { .account_id = f->account,
					  .mailbox_id = mailbox };

		assert_int_equal(store_deliver(f->ts.store, f->blob, 100, 0,
					       &t, 1, NULL, &error), STORE_OK);
		if (i == 0)
			first = t.uid;
	}
	return first;
}

static uint64_t
hms(struct fx *f, int64_t mailbox)
{
	struct store_mailbox_status st;
	const char *error = NULL;

	assert_int_equal(store_mailbox_status(f->ts.store, mailbox, &st,
					      &error), STORE_OK);
	return st.highestmodseq;
}

/* The keywords of message m of a result, as "a b c" in refs order. */
static char *
kw_text(const struct store_keywords *kw, uint32_t first, uint32_t n)
{
	char *s = xstrdup("");

	for (uint32_t i = 0; i < n; i++) {
		char *t;

		assert_true(kw->refs[first + i] < kw->n_names);
		t = xasprintf("%s%s%s", s, i > 0 ? " " : "",
			      kw->names[kw->refs[first + i]]);
		free(s);
		s = t;
	}
	return s;
}

static void
assert_kw(const struct store_keywords *kw, uint32_t first, uint32_t n,
	  const char *want)
{
	char *got = kw_text(kw, first, n);

	assert_string_equal(got, want);
	free(got);
}

static void
test_keyword_valid(void **state)
{
	char longest[STORE_KEYWORD_MAX + 2];

	(void)state;
	assert_true(store_keyword_is_valid("$Forwarded"));
	assert_true(store_keyword_is_valid("Work"));
	assert_true(store_keyword_is_valid("a.b-c_d!#&'+,/:;<=>?@[^`|}~"));
	assert_false(store_keyword_is_valid(""));
	assert_false(store_keyword_is_valid("\\Seen"));
	assert_false(store_keyword_is_valid("a b"));
	assert_false(store_keyword_is_valid("a]"));
	assert_false(store_keyword_is_valid("a("));
	assert_false(store_keyword_is_valid("a*"));
	assert_false(store_keyword_is_valid("a%"));
	assert_false(store_keyword_is_valid("a\""));
	assert_false(store_keyword_is_valid("a{"));
	assert_false(store_keyword_is_valid("caf\xc3\xa9"));
	assert_false(store_keyword_is_valid("a\x7f"));
	memset(longest, 'k', sizeof(longest));
	longest[STORE_KEYWORD_MAX] = '\0';
	assert_true(store_keyword_is_valid(longest));
	longest[STORE_KEYWORD_MAX] = 'k';
	longest[STORE_KEYWORD_MAX + 1] = '\0';
	assert_false(store_keyword_is_valid(longest));
}

static void
test_store_keywords(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_flags_result res;
	struct store_message *msgs;
	struct store_keywords kw;
	uint64_t h0;
	size_t n;

	deliver(f, f->inbox, 3);
	h0 = hms(f, f->inbox);
	{
		const char *add[] = { "$Label1", "Work" };
		struct store_flags_change ch = {
			.add = STORE_FLAG_SEEN, .kw_add = add, .n_kw_add = 2,
		};
		uint32_t uids[] = { 1, 2, 99 };

		assert_int_equal(store_flags_store(s, f->inbox, uids, 3, &ch,
						   &res, &error), STORE_OK);
		assert_int_equal(res.count, 2);
		assert_int_equal(res.changed, 2);
		assert_int_equal(res.modseq, h0 + 1);
		assert_int_equal(res.kw.n_names, 2);
		assert_string_equal(res.kw.names[0], "$Label1");
		assert_string_equal(res.kw.names[1], "Work");
		assert_int_equal(res.msgs[0].uid, 1);
		assert_int_equal(res.msgs[0].flags, STORE_FLAG_SEEN);
		assert_int_equal(res.msgs[0].modseq, h0 + 1);
		assert_true(res.msgs[0].changed);
		assert_kw(&res.kw, res.msgs[0].kw_first, res.msgs[0].n_kw,
			  "$Label1 Work");
		assert_int_equal(res.msgs[1].uid, 2);
		assert_kw(&res.kw, res.msgs[1].kw_first, res.msgs[1].n_kw,
			  "$Label1 Work");
		store_flags_result_deinit(&res);
	}
	assert_int_equal(hms(f, f->inbox), h0 + 1);
	{
		/* Case-insensitive: the mailbox's spelling is kept, no new
		 * name; the same change again changes nothing. */
		const char *add[] = { "$LABEL1" };
		struct store_flags_change ch = { .kw_add = add, .n_kw_add = 1 };
		uint32_t uids[] = { 3 };

		assert_int_equal(store_flags_store(s, f->inbox, uids, 1, &ch,
						   &res, &error), STORE_OK);
		assert_int_equal(res.changed, 1);
		assert_int_equal(res.kw.n_names, 2);
		assert_kw(&res.kw, res.msgs[0].kw_first, res.msgs[0].n_kw,
			  "$Label1");
		store_flags_result_deinit(&res);
		assert_int_equal(store_flags_store(s, f->inbox, uids, 1, &ch,
						   &res, &error), STORE_OK);
		assert_int_equal(res.changed, 0);
		assert_false(res.msgs[0].changed);
		assert_int_equal(res.modseq, h0 + 2);
		assert_int_equal(res.msgs[0].modseq, h0 + 2);
		store_flags_result_deinit(&res);
	}
	{
		/* -FLAGS with another spelling, and one never set. */
		const char *rm[] = { "work", "Never" };
		struct store_flags_change ch = { .kw_remove = rm,
						 .n_kw_remove = 2 };
		uint32_t uids[] = { 1 };

		assert_int_equal(store_flags_store(s, f->inbox, uids, 1, &ch,
						   &res, &error), STORE_OK);
		assert_int_equal(res.changed, 1);
		assert_int_equal(res.msgs[0].flags, STORE_FLAG_SEEN);
		assert_kw(&res.kw, res.msgs[0].kw_first, res.msgs[0].n_kw,
			  "$Label1");
		/* the list keeps Work; Never was not added */
		assert_int_equal(res.kw.n_names, 2);
		store_flags_result_deinit(&res);
	}
	{
		/* FLAGS replaces both. */
		const char *add[] = { "New", "Work" };
		struct store_flags_change ch = {
			.replace = true, .add = STORE_FLAG_FLAGGED,
			.kw_add = add, .n_kw_add = 2,
		};
		uint32_t uids[] = { 2 };

		assert_int_equal(store_flags_store(s, f->inbox, uids, 1, &ch,
						   &res, &error), STORE_OK);
		assert_int_equal(res.msgs[0].flags, STORE_FLAG_FLAGGED);
		assert_int_equal(res.kw.n_names, 3);
		assert_string_equal(res.kw.names[2], "New");
		assert_kw(&res.kw, res.msgs[0].kw_first, res.msgs[0].n_kw,
			  "Work New");
		store_flags_result_deinit(&res);
	}
	/* The message list reads the same state. */
	assert_int_equal(store_message_list_keywords(s, f->inbox, &msgs, &n,
						     &kw, &error), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(kw.n_names, 3);
	assert_kw(&kw, msgs[0].kw_first, msgs[0].n_kw, "$Label1");
	assert_int_equal(msgs[0].flags, STORE_FLAG_SEEN);
	assert_kw(&kw, msgs[1].kw_first, msgs[1].n_kw, "Work New");
	assert_int_equal(msgs[1].flags, STORE_FLAG_FLAGGED);
	assert_kw(&kw, msgs[2].kw_first, msgs[2].n_kw, "$Label1");
	free(msgs);
	store_keywords_deinit(&kw);
	/* The plain list leaves the keyword fields 0. */
	assert_int_equal(store_message_list(s, f->inbox, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(msgs[1].n_kw, 0);
	free(msgs);
	/* Without a result, and with system flags only (the old call). */
	{
		uint32_t uids[] = { 3 };
		struct store_flags_change ch = { .add = STORE_FLAG_ANSWERED };
		size_t changed;
		uint64_t modseq;

		assert_int_equal(store_flags_store(s, f->inbox, uids, 1, &ch,
						   NULL, &error), STORE_OK);
		assert_int_equal(store_flags_update(s, f->inbox, uids, 1, 0,
						    STORE_FLAG_ANSWERED,
						    &changed, &modseq, &error),
				 STORE_OK);
		assert_int_equal(changed, 1);
		assert_int_equal(modseq, hms(f, f->inbox));
	}
	/* Unknown mailbox. */
	{
		uint32_t uids[] = { 1 };
		struct store_flags_change ch = { .add = STORE_FLAG_SEEN };

		assert_int_equal(store_flags_store(s, 999999, uids, 1, &ch,
						   &res, &error),
				 STORE_E_NOT_FOUND);
		assert_null(res.msgs);
	}
}

static void
test_store_keywords_refused(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_flags_result res;
	struct store_message *msgs;
	struct store_keywords kw;
	uint32_t uids[] = { 1, 2 };
	uint64_t h0;
	size_t n;

	deliver(f, f->inbox, 2);
	{
		const char *bad[][1] = { { "\\Seen" }, { "a b" }, { "" },
					 { "x]" } };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct store_flags_change ch = { .kw_add = bad[i],
							 .n_kw_add = 1 };

			assert_int_equal(store_flags_store(s, f->inbox, uids,
							   2, &ch, &res,
							   &error),
					 STORE_E_INVALID);
			ch = (struct store_flags_change){ .kw_remove = bad[i],
							  .n_kw_remove = 1 };
			assert_int_equal(store_flags_store(s, f->inbox, uids,
							   2, &ch, &res,
							   &error),
					 STORE_E_INVALID);
		}
	}
	{
		const char *two[] = { "a", "b" };
		struct store_flags_change ch = { .kw_add = two, .n_kw_add = 2,
						 .keywords_max = 3 };

		assert_int_equal(store_flags_store(s, f->inbox, uids, 2, &ch,
						   NULL, &error), STORE_OK);
	}
	h0 = hms(f, f->inbox);
	{
		/* c fits, d is past the limit: nothing at all changes, not
		 * even the flag. */
		const char *two[] = { "c", "d" };
		struct store_flags_change ch = {
			.add = STORE_FLAG_FLAGGED, .kw_add = two,
			.n_kw_add = 2, .keywords_max = 3,
		};

		assert_int_equal(store_flags_store(s, f->inbox, uids, 2, &ch,
						   &res, &error),
				 STORE_E_INVALID);
		assert_non_null(strstr(error, "too many keywords"));
		assert_null(res.msgs);
	}
	assert_int_equal(hms(f, f->inbox), h0);
	{
		/* Known ones, in any case, are fine at the limit. */
		const char *known[] = { "A", "B" };
		struct store_flags_change ch = { .replace = true,
						 .kw_add = known,
						 .n_kw_add = 2,
						 .keywords_max = 2 };

		assert_int_equal(store_flags_store(s, f->inbox, uids, 1, &ch,
						   NULL, &error), STORE_OK);
	}
	assert_int_equal(store_message_list_keywords(s, f->inbox, &msgs, &n,
						     &kw, &error), STORE_OK);
	assert_int_equal(kw.n_names, 2);
	assert_int_equal(msgs[0].flags, 0);
	assert_kw(&kw, msgs[0].kw_first, msgs[0].n_kw, "a b");
	free(msgs);
	store_keywords_deinit(&kw);
}

static void
test_expunge_deleted(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	uint32_t *gone;
	size_t n;

	deliver(f, f->inbox, 4);
	{
		uint32_t del[] = { 1, 3 };

		assert_int_equal(store_flags_update(s, f->inbox, del, 2,
						    STORE_FLAG_DELETED, 0,
						    NULL, NULL, &error),
				 STORE_OK);
	}
	{
		uint32_t uids[] = { 1, 2, 3, 4, 77 };

		assert_int_equal(store_expunge_deleted(s, f->inbox, uids, 5,
						       &gone, &n, &error),
				 STORE_OK);
		assert_int_equal(n, 2);
		assert_int_equal(gone[0], 1);
		assert_int_equal(gone[1], 3);
		free(gone);
		/* Nothing left with \Deleted. */
		assert_int_equal(store_expunge_deleted(s, f->inbox, uids, 5,
						       &gone, &n, &error),
				 STORE_OK);
		assert_int_equal(n, 0);
		assert_null(gone);
	}
	{
		struct store_user *u;

		assert_int_equal(store_user_get(s, f->account, &u, &error),
				 STORE_OK);
		assert_int_equal(u->used_messages, 2);
		assert_int_equal(u->used_bytes, 200);
		store_user_free(&u);
	}
	assert_int_equal(store_expunge_deleted(s, 999999, NULL, 0, &gone, &n,
					       &error), STORE_E_NOT_FOUND);
}

static void
test_copy(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_message *msgs;
	struct store_keywords kw;
	struct store_mailbox *arch;
	struct store_user *u;
	uint64_t h_arch;
	size_t n;

	deliver(f, f->inbox, 3);
	deliver(f, f->archive, 1);
	{
		const char *add[] = { "$Forwarded" };
		struct store_flags_change ch = { .add = STORE_FLAG_FLAGGED,
						 .kw_add = add,
						 .n_kw_add = 1 };
		uint32_t uids[] = { 2 };

		assert_int_equal(store_flags_store(s, f->inbox, uids, 1, &ch,
						   NULL, &error), STORE_OK);
		/* The target knows the keyword spelled otherwise. */
		add[0] = "$forwarded";
		uids[0] = 1;
		assert_int_equal(store_flags_store(s, f->archive, uids, 1, &ch,
						   NULL, &error), STORE_OK);
	}
	h_arch = hms(f, f->archive);
	assert_int_equal(store_mailbox_lookup(s, f->account, "Archive", &arch,
					      &error), STORE_OK);
	{
		uint32_t uids[] = { 1, 2, 50 };
		struct store_copy c = { .src_mailbox_id = f->inbox,
					.uids = uids, .count = 3,
					.dst_mailbox_id = f->archive };

		assert_int_equal(store_copy(s, &c, &error), STORE_OK);
		assert_int_equal(c.dst_uidvalidity, arch->uidvalidity);
		assert_int_equal(c.n, 2);
		assert_int_equal(c.src_uids[0], 1);
		assert_int_equal(c.dst_uids[0], 2);
		assert_int_equal(c.src_uids[1], 2);
		assert_int_equal(c.dst_uids[1], 3);
		store_copy_deinit(&c);
		/* The same messages again: new rows, new UIDs. */
		assert_int_equal(store_copy(s, &c, &error), STORE_OK);
		assert_int_equal(c.n, 2);
		assert_int_equal(c.dst_uids[0], 4);
		assert_int_equal(c.dst_uids[1], 5);
		store_copy_deinit(&c);
	}
	assert_int_equal(hms(f, f->archive), h_arch + 2);
	assert_int_equal(store_message_list_keywords(s, f->archive, &msgs, &n,
						     &kw, &error), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(kw.n_names, 1);
	assert_string_equal(kw.names[0], "$forwarded");
	assert_int_equal(msgs[1].uid, 2);
	assert_int_equal(msgs[1].flags, 0);
	assert_int_equal(msgs[1].n_kw, 0);
	assert_int_equal(msgs[2].uid, 3);
	assert_int_equal(msgs[2].flags, STORE_FLAG_FLAGGED);
	assert_kw(&kw, msgs[2].kw_first, msgs[2].n_kw, "$forwarded");
	assert_string_equal(msgs[2].blob_id, f->blob);
	assert_int_equal(msgs[2].size, 100);
	assert_int_equal(msgs[4].flags, STORE_FLAG_FLAGGED);
	free(msgs);
	store_keywords_deinit(&kw);
	assert_int_equal(store_user_get(s, f->account, &u, &error), STORE_OK);
	assert_int_equal(u->used_messages, 8);
	assert_int_equal(u->used_bytes, 800);
	store_user_free(&u);
	/* Internal dates kept. */
	{
		struct store_message *src;
		size_t ns;

		assert_int_equal(store_message_list(s, f->inbox, &src, &ns,
						    &error), STORE_OK);
		assert_int_equal(store_message_list(s, f->archive, &msgs, &n,
						    &error), STORE_OK);
		assert_int_equal(msgs[2].internal_date, src[1].internal_date);
		assert_string_equal(msgs[2].email_id, src[1].email_id);
		free(src);
		free(msgs);
	}
	store_mailbox_free(&arch);
}

static void
test_copy_refused(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_mailbox_status st;
	int64_t other = 0;
	struct store_mailbox *obox;
	uint32_t uids[] = { 1, 2 };
	struct store_copy c = { .src_mailbox_id = f->inbox, .uids = uids,
				.count = 2, .dst_mailbox_id = f->archive };

	deliver(f, f->inbox, 2);
	/* Over quota: 200 used, two more would make 400. */
	assert_int_equal(store_user_set_quota(s, "u@example.test", 300,
					      &error), STORE_OK);
	assert_int_equal(store_copy(s, &c, &error), STORE_E_OVER_QUOTA);
	assert_int_equal(c.n, 0);
	assert_null(c.dst_uids);
	assert_int_equal(store_mailbox_status(s, f->archive, &st, &error),
			 STORE_OK);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.uidnext, 1);
	/* A move needs no room. */
	c.move = true;
	assert_int_equal(store_copy(s, &c, &error), STORE_OK);
	assert_int_equal(c.n, 2);
	store_copy_deinit(&c);
	c.move = false;
	/* A target that is not there. */
	c.src_mailbox_id = f->archive;
	c.dst_mailbox_id = 999999;
	assert_int_equal(store_copy(s, &c, &error), STORE_E_NOT_FOUND);
	assert_non_null(strstr(error, "target"));
	/* Another account's mailbox (a shared one): allowed since ACL,
	 * test-store-acl.c checks the ids and usage. */
	assert_int_equal(store_user_add(s, "v@example.test", "{PLAIN}x", NULL,
					0, &other, &error), STORE_OK);
	assert_int_equal(store_mailbox_lookup(s, other, "INBOX", &obox,
					      &error), STORE_OK);
	c.dst_mailbox_id = obox->id;
	assert_int_equal(store_copy(s, &c, &error), STORE_OK);
	store_copy_deinit(&c);
	store_mailbox_free(&obox);
	/* UIDs out of order. */
	{
		uint32_t rev[] = { 2, 1 };
		struct store_copy r = { .src_mailbox_id = f->archive,
					.uids = rev, .count = 2,
					.dst_mailbox_id = f->inbox };

		assert_int_equal(store_copy(s, &r, &error), STORE_E_INVALID);
	}
	/* No UID exists: OK, no pairs, the UIDVALIDITY still given. */
	{
		uint32_t none[] = { 40 };
		struct store_copy r = { .src_mailbox_id = f->archive,
					.uids = none, .count = 1,
					.dst_mailbox_id = f->inbox };

		assert_int_equal(store_copy(s, &r, &error), STORE_OK);
		assert_int_equal(r.n, 0);
		assert_true(r.dst_uidvalidity > 0);
	}
}

static void
test_move(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_message *msgs;
	struct store_keywords kw;
	struct store_user *u;
	uint64_t h_in;
	size_t n;

	deliver(f, f->inbox, 3);
	{
		const char *add[] = { "Todo" };
		struct store_flags_change ch = { .add = STORE_FLAG_SEEN,
						 .kw_add = add,
						 .n_kw_add = 1 };
		uint32_t uids[] = { 3 };

		assert_int_equal(store_flags_store(s, f->inbox, uids, 1, &ch,
						   NULL, &error), STORE_OK);
	}
	h_in = hms(f, f->inbox);
	{
		uint32_t uids[] = { 1, 3 };
		struct store_copy c = { .src_mailbox_id = f->inbox,
					.uids = uids, .count = 2,
					.dst_mailbox_id = f->archive,
					.move = true };

		assert_int_equal(store_copy(s, &c, &error), STORE_OK);
		assert_int_equal(c.n, 2);
		assert_int_equal(c.dst_uids[0], 1);
		assert_int_equal(c.dst_uids[1], 2);
		store_copy_deinit(&c);
	}
	assert_int_equal(hms(f, f->inbox), h_in + 1);
	assert_int_equal(store_message_list(s, f->inbox, &msgs, &n, &error),
			 STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].uid, 2);
	free(msgs);
	assert_int_equal(store_message_list_keywords(s, f->archive, &msgs, &n,
						     &kw, &error), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[1].flags, STORE_FLAG_SEEN);
	assert_kw(&kw, msgs[1].kw_first, msgs[1].n_kw, "Todo");
	free(msgs);
	store_keywords_deinit(&kw);
	assert_int_equal(store_user_get(s, f->account, &u, &error), STORE_OK);
	assert_int_equal(u->used_messages, 3);
	assert_int_equal(u->used_bytes, 300);
	store_user_free(&u);
	/* A move within one mailbox gives new UIDs too. */
	{
		uint32_t uids[] = { 2 };
		struct store_copy c = { .src_mailbox_id = f->archive,
					.uids = uids, .count = 1,
					.dst_mailbox_id = f->archive,
					.move = true };

		assert_int_equal(store_copy(s, &c, &error), STORE_OK);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.dst_uids[0], 3);
		store_copy_deinit(&c);
	}
	assert_int_equal(store_message_list_keywords(s, f->archive, &msgs, &n,
						     &kw, &error), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[1].uid, 3);
	assert_kw(&kw, msgs[1].kw_first, msgs[1].n_kw, "Todo");
	free(msgs);
	store_keywords_deinit(&kw);
}

static void
test_append_keywords(void **state)
{
	struct fx *f = *state;
	struct store *s = f->ts.store;
	const char *error = NULL;
	struct store_message *msgs;
	struct store_keywords kw;
	char b2[STORE_BLOB_ID_LEN + 1];
	size_t n, failed = 99;

	assert_int_equal(store_blob_put(s, "Subject: y\r\n\r\nyo\r\n", 18, b2,
					&error), STORE_OK);
	{
		/* MULTIAPPEND: one operation, each its own date, flags and
		 * keywords. */
		const char *k1[] = { "Work", "$MDNSent" };
		const char *k2[] = { "work" };
		struct store_target t[2] = {
			{ .account_id = f->account, .mailbox_id = f->inbox,
			  .blob_id = f->blob, .size = 18,
			  .flags = STORE_FLAG_SEEN, .keywords = k1,
			  .n_keywords = 2, .internal_date = 1000000000 },
			{ .account_id = f->account, .mailbox_id = f->inbox,
			  .blob_id = b2, .size = 18, .keywords = k2,
			  .n_keywords = 1, .internal_date = 1100000000 },
		};

		assert_int_equal(store_deliver_queue(s, 0, t, 2, NULL, &failed,
						     &error), STORE_OK);
		assert_int_equal(t[0].uid, 1);
		assert_int_equal(t[1].uid, 2);
	}
	assert_int_equal(store_message_list_keywords(s, f->inbox, &msgs, &n,
						     &kw, &error), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[0].internal_date, 1000000000);
	assert_int_equal(msgs[1].internal_date, 1100000000);
	assert_int_equal(msgs[0].flags, STORE_FLAG_SEEN);
	assert_kw(&kw, msgs[0].kw_first, msgs[0].n_kw, "Work $MDNSent");
	assert_kw(&kw, msgs[1].kw_first, msgs[1].n_kw, "Work");
	free(msgs);
	store_keywords_deinit(&kw);
	{
		/* Past the limit: none of the messages is stored. */
		const char *k[] = { "x1", "x2" };
		struct store_target t[2] = {
			{ .account_id = f->account, .mailbox_id = f->inbox,
			  .blob_id = f->blob, .size = 18 },
			{ .account_id = f->account, .mailbox_id = f->inbox,
			  .blob_id = b2, .size = 18, .keywords = k,
			  .n_keywords = 2, .keywords_max = 3 },
		};
		struct store_mailbox_status st;

		assert_int_equal(store_deliver_queue(s, 0, t, 2, NULL, &failed,
						     &error),
				 STORE_E_INVALID);
		assert_int_equal(failed, 1);
		assert_int_equal(store_mailbox_status(s, f->inbox, &st,
						      &error), STORE_OK);
		assert_int_equal(st.messages, 2);
		assert_int_equal(st.uidnext, 3);
	}
	{
		const char *bad[] = { "\\Flagged" };
		struct store_target t = { .account_id = f->account,
					  .blob_id = f->blob, .size = 18,
					  .keywords = bad, .n_keywords = 1 };

		assert_int_equal(store_deliver_queue(s, 0, &t, 1, NULL, NULL,
						     &error),
				 STORE_E_INVALID);
	}
}

/* Migration 6 builds each mailbox's keyword list from the keywords
 * messages already have. */
static void
test_migration_keywords(void **state)
{
	struct fx *f = *state;
	const char *error = NULL;
	struct store_message *msgs;
	struct store_keywords kw;
	char *path = xasprintf("%s/herald.db", f->ts.cfg->data_dir);
	sqlite3 *db;
	size_t n;

	deliver(f, f->inbox, 2);
	store_close(&f->ts.store);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN;"
		"DROP TABLE mailbox_keywords;"
		"INSERT INTO keywords (message_id, keyword)"
		" SELECT id, 'Old' FROM messages;"
		"INSERT INTO keywords (message_id, keyword)"
		" SELECT id, '$Junk' FROM messages WHERE uid = 2;"
		/* and what later migrations made (11, then 10) */
		"ALTER TABLE queue DROP COLUMN need_8bitmime;"
		"ALTER TABLE queue DROP COLUMN need_smtputf8;"
		"DROP INDEX IF EXISTS queue_status_due;"
		"ALTER TABLE queue DROP COLUMN msg_id;"
		"ALTER TABLE queue DROP COLUMN warned;"
		"ALTER TABLE queue_rcpts DROP COLUMN next_attempt;"
		"ALTER TABLE queue_rcpts DROP COLUMN attempts;"
		"ALTER TABLE queue_rcpts DROP COLUMN dsn_status;"
		"ALTER TABLE queue_rcpts DROP COLUMN relay;"
		"ALTER TABLE queue_rcpts DROP COLUMN tls;"
		"ALTER TABLE queue_rcpts DROP COLUMN notify;"
		"ALTER TABLE accounts DROP COLUMN quota_messages;"
		"DROP INDEX threads_continued;"
		"ALTER TABLE threads DROP COLUMN continued_in;"
		"PRAGMA user_version = 5; COMMIT;", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	free(path);
	assert_int_equal(store_open(f->ts.cfg, &f->ts.store, &error),
			 STORE_OK);
	assert_int_equal(store_message_list_keywords(f->ts.store, f->inbox,
						     &msgs, &n, &kw, &error),
			 STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(kw.n_names, 2);
	assert_kw(&kw, msgs[0].kw_first, msgs[0].n_kw, "Old");
	assert_int_equal(msgs[1].n_kw, 2);
	free(msgs);
	store_keywords_deinit(&kw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyword_valid),
		cmocka_unit_test_setup_teardown(test_store_keywords, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_keywords_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_deleted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_keywords, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_migration_keywords, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
