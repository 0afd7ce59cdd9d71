/* SPDX-License-Identifier: MIT */
/*
 * Opening the store from a command-line tool. As root, the data directory
 * is prepared for the configured user and the tool drops to that user
 * before it touches the database, so every file (the SQLite WAL and shm
 * files included) belongs to the user the workers run as.
 */
#include <stdlib.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "daemon/privdrop.h"
#include "store/store.h"

struct store *
cli_open_store(const struct config *cfg)
{
	struct daemon_creds creds;
	struct store *store = NULL;
	const char *err = NULL;
	char *perr = NULL;

	if (daemon_creds_resolve(cfg, &creds, &perr) < 0) {
		cli_error("%s", perr);
		free(perr);
		return NULL;
	}
	if (daemon_data_dir_ensure(cfg, &creds, &perr) < 0 ||
	    daemon_privdrop(&creds, &perr) < 0) {
		cli_error("%s", perr);
		free(perr);
		daemon_creds_deinit(&creds);
		return NULL;
	}
	daemon_creds_deinit(&creds);
	if (store_open(cfg, &store, &err) != STORE_OK) {
		cli_error("cannot open the store in %s: %s", cfg->data_dir,
			  err != NULL ? err : "unknown error");
		return NULL;
	}
	return store;
}
