/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for delivery/sender-policy against a real store in a temp
 * dir: whose addresses an account may send as (own, +tag, aliases,
 * catch-all, another user's), a directory that cannot be read (TEMP, not
 * REFUSED), and the header check with aliases. The table of From:
 * forgeries is in test-header-address.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/config.h"
#include "delivery/delivery.h"
#include "delivery/sender-policy.h"
#include "lib/mem.h"
#include "store/store.h"
#include "store-fixture.h"

/* [smtp] sender_check modes, short for the checks below */
#define ALIASES CONFIG_SENDER_CHECK_ALIASES
#define OWN CONFIG_SENDER_CHECK_OWN
#define OFF CONFIG_SENDER_CHECK_OFF

struct fixture {
	struct test_store ts;
	struct config *cfg;	/* == ts.cfg */
	struct store *store;	/* == ts.store */
	int64_t bob, alice, carol;
};

static const char *const people[] = {
	"domain catch.test",
	"user Bob@example.test",
	"user alice@example.test",
	"user carol@catch.test",
	"alias team@example.test bob@example.test",
	"alias team@example.test alice@example.test",
	"alias sales@example.test alice@example.test",
	"alias @catch.test carol@catch.test",
	NULL,
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	test_store_open(&f->ts, "sender");
	f->cfg = f->ts.cfg;
	f->store = f->ts.store;
	test_store_fill(&f->ts, people);
	f->bob = test_store_user_id(&f->ts, "bob@example.test");
	f->alice = test_store_user_id(&f->ts, "alice@example.test");
	f->carol = test_store_user_id(&f->ts, "carol@catch.test");
	delivery_cache_flush();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	delivery_cache_flush();
	test_store_close(&f->ts);
	free(f);
	return 0;
}

/* An alias of the user is allowed, another user's address is refused
 * (553), an unreadable directory is neither (451 4.3.0, the client
 * retries). */
static void
test_allowed_verdicts(void **state)
{
	struct fixture *f = *state;
	const char *user = "bob@example.test";

	assert_int_equal(sender_policy_allowed(f->store, ALIASES, user,
					       f->bob, "BOB+x@example.test"),
			 SENDER_POLICY_OK);
	assert_int_equal(sender_policy_allowed(f->store, ALIASES, user,
					       f->bob, "team@example.test"),
			 SENDER_POLICY_OK);
	assert_int_equal(sender_policy_allowed(f->store, ALIASES, user,
					       f->bob, "alice@example.test"),
			 SENDER_POLICY_REFUSED);
	assert_int_equal(sender_policy_allowed(f->store, ALIASES, user,
					       f->bob, "nobody@example.test"),
			 SENDER_POLICY_REFUSED);
	assert_int_equal(sender_policy_allowed(f->store, ALIASES, user,
					       f->bob, "x@remote.test"),
			 SENDER_POLICY_REFUSED);
	assert_int_equal(sender_policy_allowed(f->store, OWN, user, f->bob,
					       "team@example.test"),
			 SENDER_POLICY_REFUSED);
	assert_int_equal(sender_policy_allowed(f->store, OFF, user, f->bob,
					       "x@remote.test"),
			 SENDER_POLICY_OK);
	assert_int_equal(sender_policy_allowed(f->store, OWN, user, f->bob,
					       ""),
			 SENDER_POLICY_REFUSED);
	assert_int_equal(sender_policy_allowed(f->store, OWN, NULL, f->bob,
					       "bob@example.test"),
			 SENDER_POLICY_REFUSED);
	/* a tag on someone else's name is not the user's */
	assert_int_equal(sender_policy_allowed(f->store, OWN, user, f->bob,
					       "bobby+x@example.test"),
			 SENDER_POLICY_REFUSED);
	/* a catch-all makes the whole domain its target's */
	assert_int_equal(sender_policy_allowed(f->store, ALIASES,
					       "carol@catch.test", f->carol,
					       "anything@catch.test"),
			 SENDER_POLICY_OK);
	store_test_fail_reads(f->store, true);
	assert_int_equal(sender_policy_allowed(f->store, ALIASES, user,
					       f->bob, "team@example.test"),
			 SENDER_POLICY_TEMP);
	/* no lookup needed for the user's own address */
	assert_int_equal(sender_policy_allowed(f->store, ALIASES, user,
					       f->bob, "bob@example.test"),
			 SENDER_POLICY_OK);
	store_test_fail_reads(f->store, false);
}

static enum sender_policy_verdict
check(struct fixture *f, enum config_sender_check mode, const char *header,
      struct sender_policy_result *r)
{
	struct buf msg;

	buf_init(&msg);
	buf_printf(&msg, "%s\r\nSubject: x\r\n\r\nbody\r\n", header);
	sender_policy_check_header(f->store, mode, "alice@example.test",
				   f->alice, msg.data, msg.len, r);
	buf_deinit(&msg);
	return r->verdict;
}

/* The header check uses the same aliases; its refusal names the field
 * and the address; a directory that cannot be read is TEMP unless
 * something else is refused anyway. */
static void
test_header_with_aliases(void **state)
{
	struct fixture *f = *state;
	struct sender_policy_result r;

	assert_int_equal(check(f, ALIASES, "From: Sales <sales@example.test>,"
			       " alice+x@example.test", &r), SENDER_POLICY_OK);
	sender_policy_result_deinit(&r);
	assert_int_equal(check(f, OWN, "From: Sales <sales@example.test>",
			       &r), SENDER_POLICY_REFUSED);
	assert_string_equal(r.field, "From");
	assert_string_equal(r.address, "sales@example.test");
	sender_policy_result_deinit(&r);
	assert_int_equal(check(f, ALIASES, "From: alice@example.test\r\n"
			       "Sender: \"team@example.test\" "
			       "<bob@example.test>", &r),
			 SENDER_POLICY_REFUSED);
	assert_string_equal(r.field, "Sender");
	assert_string_equal(r.address, "bob@example.test");
	assert_non_null(strstr(r.reason, "not owned"));
	sender_policy_result_deinit(&r);
	/* OFF looks at nothing */
	assert_int_equal(check(f, OFF, "From: <bob@example.test", &r),
			 SENDER_POLICY_OK);
	sender_policy_result_deinit(&r);

	store_test_fail_reads(f->store, true);
	delivery_cache_flush();
	assert_int_equal(check(f, ALIASES, "From: sales@example.test", &r),
			 SENDER_POLICY_TEMP);
	sender_policy_result_deinit(&r);
	assert_int_equal(check(f, ALIASES, "From: sales@example.test, "
			       "<bob@example.test", &r),
			 SENDER_POLICY_REFUSED);
	assert_null(r.address);
	sender_policy_result_deinit(&r);
	store_test_fail_reads(f->store, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_allowed_verdicts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_header_with_aliases,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
