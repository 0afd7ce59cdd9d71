/* SPDX-License-Identifier: MIT */
/*
 * The maildrop: an exclusive lock per account that holds across worker
 * processes (RFC 1939 8: one session per maildrop) and the snapshot of the
 * INBOX taken at login. The lock is flock() on data_dir/locks/<id>.pop3,
 * so the kernel drops it when the session's descriptor closes, whether the
 * session ends, the connection drops or the worker crashes. The file also
 * records the last login time for LOGIN-DELAY.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/mem.h"
#include "pop3/pop3-private.h"

static int
lock_open(const struct config *cfg, int64_t account_id, const char **error_r)
{
	char *dir = config_data_path(cfg, "locks");
	char *path;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(dir);
		*error_r = "cannot create data_dir/locks";
		return -1;
	}
	path = xasprintf("%s/%" PRId64 ".pop3", dir, account_id);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	free(dir);
	if (fd < 0)
		*error_r = "cannot open the maildrop lock file";
	return fd;
}

/* LOGIN-DELAY (RFC 2449 6.8): the file holds the time of the last
 * login; refuse if it is too recent, else write now. */
static bool
login_delay_passed(int fd, uint64_t delay_s)
{
	char text[32];
	ssize_t n;
	long long last = 0;
	time_t now = time(NULL);
	int len;

	if (delay_s > 0) {
		n = pread(fd, text, sizeof(text) - 1, 0);
		if (n > 0) {
			text[n] = '\0';
			if (sscanf(text, "%lld", &last) != 1)
				last = 0;
		}
		if (last > 0 && now >= last && (uint64_t)(now - last) < delay_s)
			return false;
	}
	len = snprintf(text, sizeof(text), "%lld\n", (long long)now);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len) {
		/* best effort: a lost timestamp only weakens LOGIN-DELAY once */
	}
	return true;
}

enum pop3_drop_result
pop3_maildrop_open(struct store *store, const struct config *cfg,
		   int64_t account_id, struct pop3_maildrop *drop,
		   const char **error_r)
{
	struct store_mailbox *box = NULL;
	struct store_message *msgs = NULL;
	size_t count = 0, i;
	enum store_result r;
	int fd;

	memset(drop, 0, sizeof(*drop));
	drop->lock_fd = -1;
	fd = lock_open(cfg, account_id, error_r);
	if (fd < 0)
		return POP3_DROP_TEMP;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		if (errno == EWOULDBLOCK)
			return POP3_DROP_IN_USE;
		*error_r = "cannot lock the maildrop";
		return POP3_DROP_TEMP;
	}
	if (!login_delay_passed(fd, cfg->pop3.login_delay_s)) {
		close(fd);
		return POP3_DROP_LOGIN_DELAY;
	}
	r = store_mailbox_lookup_role(store, account_id, STORE_ROLE_INBOX, &box,
				      error_r);
	if (r == STORE_OK)
		r = store_message_list(store, box->id, &msgs, &count, error_r);
	if (r != STORE_OK) {
		store_mailbox_free(&box);
		close(fd);
		return POP3_DROP_TEMP;
	}
	drop->account_id = account_id;
	drop->lock_fd = fd;
	drop->mailbox_id = box->id;
	drop->uidvalidity = box->uidvalidity;
	drop->n_msgs = count;
	drop->msgs = xcalloc(count > 0 ? count : 1, sizeof(*drop->msgs));
	for (i = 0; i < count; i++) {
		drop->msgs[i].uid = msgs[i].uid;
		drop->msgs[i].size = msgs[i].size;
		drop->msgs[i].seen = (msgs[i].flags & STORE_FLAG_SEEN) != 0;
		memcpy(drop->msgs[i].blob_id, msgs[i].blob_id,
		       sizeof(drop->msgs[i].blob_id));
		drop->total_size += msgs[i].size;
	}
	free(msgs);
	store_mailbox_free(&box);
	return POP3_DROP_OK;
}

void
pop3_maildrop_close(struct pop3_maildrop *drop)
{
	if (drop->lock_fd >= 0)
		close(drop->lock_fd);
	drop->lock_fd = -1;
	xfree(&drop->msgs);
	xfree(&drop->address);
	drop->n_msgs = 0;
}
