/* SPDX-License-Identifier: MIT */
/*
 * Running as the unprivileged user. A process started as root prepares
 * what needs root (the data directory) and then drops to cfg->user for
 * good, so no code that parses input or touches the store runs as root.
 * When not started as root these are no-ops.
 */
#ifndef HERALD_LIB_PRIVDROP_H
#define HERALD_LIB_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

struct config;

/* Resolves cfg->user (and cfg->group, else the user's primary group).
 * Returns 0, or -1 with an allocated *error_r naming the missing user. */
int privdrop_lookup(const struct config *cfg, uid_t *uid_r, gid_t *gid_r,
		    char **error_r);

/* As root: creates data_dir (mode 0750) if missing and gives it to the
 * configured user. Not root: creates it if missing. Returns 0 or -1 with
 * an allocated *error_r. */
int privdrop_prepare_data_dir(const struct config *cfg, char **error_r);

/* As root: sets supplementary groups, gid and uid to the configured user
 * (cfg->user "root" means stay root), and checks that root cannot be
 * regained. Not root: nothing. Returns 0 or -1 with an allocated *error_r. */
int privdrop_drop(const struct config *cfg, char **error_r);

/* True when the process may still regain root. */
bool privdrop_can_regain_root(void);

#endif
