/* SPDX-License-Identifier: MIT */
/*
 * Opening the store from a command-line tool. As root, the data directory
 * is created for the configured user and the tool drops to that user before
 * it touches the database, so every file (the SQLite WAL and shm files
 * included) belongs to the user the workers run as.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "lib/privdrop.h"
#include "store/store.h"

struct store *
cli_open_store(const struct config *cfg)
{
	struct store *store = NULL;
	const char *err = NULL;
	char *perr = NULL;

	if (privdrop_prepare_data_dir(cfg, &perr) < 0 ||
	    privdrop_drop(cfg, &perr) < 0) {
		cli_error("%s", perr);
		free(perr);
		return NULL;
	}
	if (store_open(cfg, &store, &err) != STORE_OK) {
		cli_error("cannot open the store in %s: %s", cfg->data_dir,
			  err != NULL ? err : "unknown error");
		return NULL;
	}
	return store;
}
