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
int cli_domain(int argc, char **argv) { return not_yet("domain"); }
int cli_user(int argc, char **argv) { return not_yet("user"); }
int cli_alias(int argc, char **argv) { return not_yet("alias"); }
