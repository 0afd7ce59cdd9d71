/* SPDX-License-Identifier: MIT */
/*
 * Who Herald's processes run as. A process started as root resolves the
 * configured user, prepares the data directory for it and drops to it for
 * good: the workers after fork, the command-line tools before they open
 * the store (so the database and its WAL files stay the workers').
 */
#ifndef HERALD_DAEMON_PRIVDROP_H
#define HERALD_DAEMON_PRIVDROP_H

#include <sys/types.h>

struct config;

/* Who workers run as; uid (uid_t)-1 means "no drop". */
struct daemon_creds {
	char *user;
	uid_t uid;
	gid_t gid;
};

/* Resolves cfg->user/cfg->group when running as root. Returns 0 (with
 * uid -1 when not root or cfg->user is NULL) or -1 with *error_r. */
int daemon_creds_resolve(const struct config *cfg, struct daemon_creds *creds,
			 char **error_r);
void daemon_creds_deinit(struct daemon_creds *creds);
/* In a worker: drops to creds for good and verifies root cannot be
 * regained. Returns 0 or -1 with *error_r. */
int daemon_privdrop(const struct daemon_creds *creds, char **error_r);
/* Creates data_dir (0750, owned by creds when root) if missing; an existing
 * one is given to creds when it belongs to someone else. */
int daemon_data_dir_ensure(const struct config *cfg,
			   const struct daemon_creds *creds, char **error_r);

#endif
