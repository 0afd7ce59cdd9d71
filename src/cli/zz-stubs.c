/* SPDX-License-Identifier: MIT */
/* Commands whose modules are being merged; each prints that it is not
 * available yet. Removed as the modules land. */
#include "cli/cli.h"

static int
not_yet(const char *what)
{
	cli_error("'%s' is not available in this build yet", what);
	return CLI_ERROR;
}

int cli_serve(int argc, char **argv) { return not_yet("serve"); }
