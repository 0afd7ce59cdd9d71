/* SPDX-License-Identifier: MIT */
/* Dropping root for the configured user; see privdrop.h. */
#include "lib/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/mem.h"

static bool
stays_root(const struct config *cfg)
{
	return geteuid() != 0 || cfg->user == NULL ||
	       strcmp(cfg->user, "root") == 0;
}

int
privdrop_lookup(const struct config *cfg, uid_t *uid_r, gid_t *gid_r,
		char **error_r)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(cfg->user);
	if (pw == NULL) {
		*error_r = xasprintf("user '%s' does not exist: create it "
				     "(scripts/install-build-deps.sh does) or "
				     "set user = in the config", cfg->user);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	if (cfg->group != NULL) {
		struct group *gr = getgrnam(cfg->group);

		if (gr == NULL) {
			*error_r = xasprintf("group '%s' does not exist",
					     cfg->group);
			return -1;
		}
		*gid_r = gr->gr_gid;
	}
	return 0;
}

int
privdrop_prepare_data_dir(const struct config *cfg, char **error_r)
{
	uid_t uid;
	gid_t gid;
	struct stat st;

	if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
		*error_r = xasprintf("cannot create %s: %s", cfg->data_dir,
				     strerror(errno));
		return -1;
	}
	if (stays_root(cfg))
		return 0;
	if (privdrop_lookup(cfg, &uid, &gid, error_r) < 0)
		return -1;
	if (stat(cfg->data_dir, &st) < 0) {
		*error_r = xasprintf("cannot stat %s: %s", cfg->data_dir,
				     strerror(errno));
		return -1;
	}
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    chown(cfg->data_dir, uid, gid) < 0) {
		*error_r = xasprintf("cannot give %s to %s: %s", cfg->data_dir,
				     cfg->user, strerror(errno));
		return -1;
	}
	return 0;
}

bool
privdrop_can_regain_root(void)
{
	return setuid(0) == 0 || seteuid(0) == 0;
}

int
privdrop_drop(const struct config *cfg, char **error_r)
{
	uid_t uid;
	gid_t gid;

	if (stays_root(cfg))
		return 0;
	if (privdrop_lookup(cfg, &uid, &gid, error_r) < 0)
		return -1;
	if (initgroups(cfg->user, gid) < 0 || setgid(gid) < 0 ||
	    setuid(uid) < 0) {
		*error_r = xasprintf("cannot drop privileges to %s: %s",
				     cfg->user, strerror(errno));
		return -1;
	}
	if (uid != 0 && privdrop_can_regain_root()) {
		*error_r = xstrdup("dropped privileges but root can be regained");
		return -1;
	}
	return 0;
}
