/* SPDX-License-Identifier: MIT */
/* A fresh SQLite store in a temporary directory for unit tests that need
 * real accounts (the login service, the POP3 maildrop): made in a setup,
 * removed with its directory in the teardown. Linked into every unit test
 * (tests/unit helper, Makefile UNIT_HELPERS). */
#ifndef HERALD_TEST_STORE_FIXTURE_H
#define HERALD_TEST_STORE_FIXTURE_H

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
/* Closes the store and removes the directory. */
void test_store_close(struct test_store *ts);

#endif
