/* SPDX-License-Identifier: MIT */
/* A fresh SQLite store in a temporary directory for unit tests that need
 * real accounts (the login service, the POP3 maildrop): made in a setup,
 * removed with its directory in the teardown. Linked into every unit test
 * (tests/unit helper, Makefile UNIT_HELPERS). */
#ifndef HERALD_TEST_STORE_FIXTURE_H
#define HERALD_TEST_STORE_FIXTURE_H

#include <stdint.h>

struct config;
struct store;

struct test_store {
	char dir[64];
	struct config *cfg;	/* data_dir and store settings only */
	struct store *store;
};

/* Opens a store under /tmp/herald-<name>-XXXXXX/data with the domain
 * example.test; fails the running test on any error. */
void test_store_open(struct test_store *ts, const char *name);
/* Adds what rows say, in order, failing the running test on any error:
 * "domain NAME", "user ADDRESS" (password {PLAIN}x), "alias FROM TO".
 * rows ends with NULL. */
void test_store_fill(struct test_store *ts, const char *const *rows);
/* The id of the account at address; fails the test if there is none. */
int64_t test_store_user_id(struct test_store *ts, const char *address);
/* Closes the store and removes the directory. */
void test_store_close(struct test_store *ts);

#endif
