/* SPDX-License-Identifier: MIT */
/*
 * Who workers run as, and the one-way drop to that user: no code that
 * parses network input runs as root (DESIGN.md section 4). Also the data
 * directory, created by the supervisor for the unprivileged user.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/privdrop.h"
#include "conf/config.h"
#include "lib/log.h"
#include "lib/mem.h"

int
daemon_creds_resolve(const struct config *cfg, struct daemon_creds *creds,
		     char **error_r)
{
	struct passwd *pw;

	memset(creds, 0, sizeof(*creds));
	creds->uid = (uid_t)-1;
	creds->gid = (gid_t)-1;
	if (geteuid() != 0)
		return 0;
	if (cfg->user == NULL) {
		log_warn(NULL, "daemon", "no-privdrop",
			 "reason=\"user is not set\" workers run as root");
		return 0;
	}
	pw = getpwnam(cfg->user);
	if (pw == NULL) {
		*error_r = xasprintf("user: no such user %s (create it with "
				     "useradd --system %s, or set user =)",
				     cfg->user, cfg->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		*error_r = xasprintf("user: %s is root; workers must run as an "
				     "unprivileged user", cfg->user);
		return -1;
	}
	creds->user = xstrdup(cfg->user);
	creds->uid = pw->pw_uid;
	creds->gid = pw->pw_gid;
	if (cfg->group != NULL) {
		struct group *gr = getgrnam(cfg->group);

		if (gr == NULL) {
			*error_r = xasprintf("group: no such group %s", cfg->group);
			daemon_creds_deinit(creds);
			return -1;
		}
		creds->gid = gr->gr_gid;
	}
	return 0;
}

void
daemon_creds_deinit(struct daemon_creds *creds)
{
	free(creds->user);
	creds->user = NULL;
}

int
daemon_privdrop(const struct daemon_creds *creds, char **error_r)
{
	if (creds->uid != (uid_t)-1) {
		if (initgroups(creds->user, creds->gid) < 0 ||
		    setresgid(creds->gid, creds->gid, creds->gid) < 0 ||
		    setresuid(creds->uid, creds->uid, creds->uid) < 0) {
			*error_r = xasprintf("cannot drop privileges to %s: %s",
					     creds->user, strerror(errno));
			return -1;
		}
		/* all three ids changed, so this must fail; if it does not,
		 * something (a capability, a seccomp filter) is off */
		if (setuid(0) == 0 || seteuid(0) == 0 || getuid() != creds->uid ||
		    geteuid() != creds->uid || getegid() != creds->gid)
			panic("daemon: privileges could be regained after the drop");
		/* a worker holds the TLS key in memory: no core dumps, no
		 * ptrace by other processes of the same user */
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	/* execve() can never give a worker more privileges (setuid helpers) */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		*error_r = xasprintf("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
daemon_data_dir_ensure(const struct config *cfg,
		       const struct daemon_creds *creds, char **error_r)
{
	struct stat st;

	if (cfg->data_dir == NULL) {
		*error_r = xstrdup("data_dir is not set");
		return -1;
	}
	if (stat(cfg->data_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			*error_r = xasprintf("data_dir: %s is not a directory",
					     cfg->data_dir);
			return -1;
		}
		/* a directory made by hand (or by a tool run as root before
		 * the user existed) is handed to the workers' user */
		if (creds->uid != (uid_t)-1 &&
		    (st.st_uid != creds->uid || st.st_gid != creds->gid)) {
			if (chown(cfg->data_dir, creds->uid, creds->gid) < 0) {
				*error_r = xasprintf("data_dir: cannot chown %s: %s",
						     cfg->data_dir, strerror(errno));
				return -1;
			}
			log_info(NULL, "daemon", "data-dir-chown", "path=%s user=%s",
				 cfg->data_dir, creds->user);
		}
		return 0;
	}
	if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
		*error_r = xasprintf("data_dir: cannot create %s: %s",
				     cfg->data_dir, strerror(errno));
		return -1;
	}
	if (creds->uid != (uid_t)-1 &&
	    chown(cfg->data_dir, creds->uid, creds->gid) < 0) {
		*error_r = xasprintf("data_dir: cannot chown %s: %s",
				     cfg->data_dir, strerror(errno));
		return -1;
	}
	log_info(NULL, "daemon", "data-dir-created", "path=%s", cfg->data_dir);
	return 0;
}
