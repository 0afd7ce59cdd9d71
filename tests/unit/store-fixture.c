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
