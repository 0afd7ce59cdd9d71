/* SPDX-License-Identifier: MIT */
/* The temporary store of store-fixture.h: a config with only what
 * store_open reads, the directory made and removed around it. */
#include "store-fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/config.h"
#include "lib/mem.h"
#include "store/store.h"

void
test_store_open(struct test_store *ts, const char *name)
{
	const char *error = NULL;

	snprintf(ts->dir, sizeof(ts->dir), "/tmp/herald-%s-XXXXXX", name);
	if (mkdtemp(ts->dir) == NULL)
		fail_msg("mkdtemp %s failed", ts->dir);
	ts->cfg = xcalloc(1, sizeof(*ts->cfg));
	ts->cfg->data_dir = xasprintf("%s/data", ts->dir);
	if (mkdir(ts->cfg->data_dir, 0700) < 0)
		fail_msg("mkdir %s failed", ts->cfg->data_dir);
	ts->cfg->store.group_commit_max = 64;
	ts->cfg->store.busy_timeout_ms = 10000;
	if (store_open(ts->cfg, &ts->store, &error) != STORE_OK)
		fail_msg("store_open: %s", error);
	if (store_domain_add(ts->store, "example.test", &error) != STORE_OK)
		fail_msg("store_domain_add: %s", error);
}

void
test_store_fill(struct test_store *ts, const char *const *rows)
{
	for (; *rows != NULL; rows++) {
		const char *row = *rows, *error = NULL, *sp;
		enum store_result r;
		char *a;

		if (strncmp(row, "domain ", 7) == 0) {
			r = store_domain_add(ts->store, row + 7, &error);
		} else if (strncmp(row, "user ", 5) == 0) {
			r = store_user_add(ts->store, row + 5, "{PLAIN}x", NULL,
					   0, NULL, &error);
		} else if (strncmp(row, "alias ", 6) == 0 &&
			   (sp = strchr(row + 6, ' ')) != NULL) {
			a = xstrndup(row + 6, (size_t)(sp - (row + 6)));
			r = store_alias_add(ts->store, a, sp + 1, &error);
			free(a);
		} else {
			fail_msg("test_store_fill: bad row '%s'", row);
			return;
		}
		if (r != STORE_OK)
			fail_msg("%s: %s", row, error != NULL ? error : "?");
	}
}

int64_t
test_store_user_id(struct test_store *ts, const char *address)
{
	struct store_user *u = NULL;
	const char *error = NULL;
	int64_t id;

	if (store_user_lookup(ts->store, address, &u, &error) != STORE_OK)
		fail_msg("%s: %s", address, error != NULL ? error : "?");
	id = u->id;
	store_user_free(&u);
	return id;
}

void
test_store_close(struct test_store *ts)
{
	char *cmd = xasprintf("rm -rf '%s'", ts->dir);

	store_close(&ts->store);
	free(ts->cfg->data_dir);
	xfree(&ts->cfg);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
	free(cmd);
}
