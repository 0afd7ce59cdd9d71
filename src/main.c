/* SPDX-License-Identifier: MIT */
/* herald: subcommand dispatch only. */
#include <stdio.h>
#include <string.h>

#include "version.h"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "version") == 0) {
		printf("herald %s\n", HERALD_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: herald COMMAND\n");
	return 2;
}
