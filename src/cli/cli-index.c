/* SPDX-License-Identifier: MIT */
/*
 * herald index: maintenance of the full-text search index (docs/store.md
 * "Search index"): apply what is queued now, or rebuild it from every
 * stored message.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "store/store.h"

static void
index_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald index run [-c FILE]\n"
		"       herald index rebuild [-c FILE]\n\n"
		"run      index every message queued for the search index now\n"
		"         (the workers of herald serve do it in the background)\n"
		"rebuild  empty the search index and index every message again,\n"
		"         after a change of [store] search_text_max; searches stay\n"
		"         correct meanwhile, only slower\n");
}

int
cli_index(int argc, char **argv)
{
	const char *path = NULL, *sub, *err = NULL;
	struct config *cfg;
	struct store *store;
	enum store_result r = STORE_OK;
	size_t done = 0;
	int c;

	if ((c = cli_config_options(argc, argv, false, index_usage, &path)) >= 0)
		return c;
	if (optind + 1 != argc || (strcmp(argv[optind], "run") != 0 &&
				   strcmp(argv[optind], "rebuild") != 0)) {
		index_usage(stderr);
		return CLI_USAGE;
	}
	sub = argv[optind];
	if ((store = cli_open_config_store(path, &cfg)) == NULL)
		return CLI_ERROR;
	if (strcmp(sub, "rebuild") == 0)
		r = store_search_reindex(store, &err);
	if (r == STORE_OK)
		r = store_search_index_pending(store, 0, &done, &err);
	if (r != STORE_OK)
		cli_error("search index: %s", err != NULL ? err :
			  store_result_str(r));
	else
		printf("%zu entries applied\n", done);
	store_close(&store);
	config_free(&cfg);
	return r == STORE_OK ? CLI_OK : CLI_ERROR;
}
