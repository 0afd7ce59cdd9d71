/* SPDX-License-Identifier: MIT */
/*
 * Commands of the table not written yet: each answers BAD until its own
 * imap-cmd-*.c replaces the stub here (and deletes it from this file).
 */
#include "imap/imap-private.h"

#define TODO(fn) \
	enum imap_cmd_result fn(struct imap_cmd *cmd) \
	{ \
		return imap_cmd_bad(cmd, "%s is not implemented yet", \
				    cmd->name); \
	}

