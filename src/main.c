/* SPDX-License-Identifier: MIT */
/* herald: subcommand dispatch only. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "lib/log.h"

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

int
main(int argc, char **argv)
{
	const char *self = argc > 0 ? base_name(argv[0]) : "herald";

	cli_modules_register();
	/* Nothing Herald writes (database, blobs, keys) is for other users. */
	umask(027);
	/* Tools print their own messages; `serve` sets the configured level. */
	log_set_level(LOG_LEVEL_WARN);
	/* Installed as sendmail and mailq (links to herald): every argument
	 * is theirs. */
	if (strcmp(self, "sendmail") == 0)
		return cli_sendmail(argc, argv);
	if (strcmp(self, "mailq") == 0)
		return cli_mailq(argc, argv);
	if (argc < 2) {
		cli_help(0, NULL);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0)
		return cli_version(argc - 1, argv + 1);
	for (const struct cli_command *c = cli_commands; c->name != NULL; c++) {
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown command '%s'; try 'herald help'\n", self,
		argv[1]);
	return CLI_USAGE;
}
