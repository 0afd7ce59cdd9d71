/* SPDX-License-Identifier: MIT */
/*
 * QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA and a refusing SETQUOTA. One
 * quota root per account, IMAP_QUOTA_ROOT, holding the STORAGE resource
 * of the account's byte quota and the MESSAGE resource of its message
 * limit (`herald user quota`), each only when set; an account with
 * neither has no root at all, never a limit of 0 (CLIENT-QUIRKS). Another
 * account's mailbox shared with the user (RFC 4314) is under its owner's
 * root, IMAP_ACL_PREFIX "/" owner address, seen only with some right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/mem.h"

struct quota_job {
	struct store *store;
	int64_t account_id;
	char *mailbox;		/* GETQUOTAROOT, or NULL */
	/* GETQUOTA of another account's root: its owner's address (the
	 * root's name less IMAP_ACL_PREFIX "/"); NULL: the user's own */
	char *owner_arg;
	/* the root's name: IMAP_QUOTA_ROOT, or the owner's for a shared
	 * mailbox; NULL when there is none (no such mailbox or root) */
	char *root;
	uint64_t quota_bytes;	/* 0: none */
	uint64_t used_bytes;
	uint64_t quota_messages;	/* 0: none */
	uint64_t used_messages;
	enum store_result result;
	char error[200];
};

uint64_t
imap_quota_kib(uint64_t octets)
{
	/* RFC 9208 5.1: units of 1024 octets; rounding up keeps a small
	 * usage from reading as none. */
	return octets / 1024 + (octets % 1024 != 0 ? 1 : 0);
}

static void
quota_job_free(void *ctx)
{
	struct quota_job *job = ctx;

	free(job->mailbox);
	free(job->owner_arg);
	free(job->root);
	free(job);
}

/* Some right on the mailbox (any of l r i k x a, as MYRIGHTS): who may
 * see nothing of it may not see its owner's quota either. */
static bool
may_see(unsigned rights)
{
	return imap_acl_check(true, rights, IMAP_ACL_NEED_ANY) == IMAP_ACL_OK;
}

/* GETQUOTAROOT: the mailbox's owner (*owner_id_r 0 when the user may not
 * see it) and the root's name. */
static enum store_result
mailbox_owner(struct quota_job *job, int64_t *owner_id_r,
	      const char **error_r)
{
	struct imap_acl_box box;
	enum imap_acl_verdict verdict;
	enum store_result r;

	*owner_id_r = 0;
	r = imap_acl_open(job->store, job->account_id, job->mailbox,
			  IMAP_ACL_NEED_ANY, &box, &verdict, error_r);
	if (r == STORE_OK && verdict == IMAP_ACL_OK) {
		*owner_id_r = box.owner_id;
		job->root = box.shared ?
			xasprintf("%s/%s", IMAP_ACL_PREFIX, box.owner) :
			xstrdup(IMAP_QUOTA_ROOT);
	}
	imap_acl_box_deinit(&box);
	return r;
}

/* GETQUOTA of IMAP_ACL_PREFIX "/" owner: the owner's id when the user has
 * some right on one of its mailboxes, else 0 (no such root for it). */
static enum store_result
root_owner(struct quota_job *job, int64_t *owner_id_r, const char **error_r)
{
	struct store_acl_shared *sh = NULL;
	size_t n = 0;
	enum store_result r;

	*owner_id_r = 0;
	r = store_acl_shared_list(job->store, job->account_id, &sh, &n,
				  error_r);
	if (r != STORE_OK)
		return r;
	for (size_t i = 0; i < n && *owner_id_r == 0; i++) {
		if (strcasecmp(sh[i].owner, job->owner_arg) == 0 &&
		    may_see(sh[i].rights)) {
			*owner_id_r = sh[i].owner_id;
			job->root = xasprintf("%s/%s", IMAP_ACL_PREFIX,
					      sh[i].owner);
		}
	}
	store_acl_shared_free(&sh, n);
	return STORE_OK;
}

static void
quota_work(void *ctx)
{
	struct quota_job *job = ctx;
	struct store_user *user = NULL;
	const char *error = NULL;
	int64_t owner_id = job->account_id;

	if (job->mailbox != NULL)
		job->result = mailbox_owner(job, &owner_id, &error);
	else if (job->owner_arg != NULL)
		job->result = root_owner(job, &owner_id, &error);
	else {
		job->root = xstrdup(IMAP_QUOTA_ROOT);
		job->result = STORE_OK;
	}
	if (job->result == STORE_OK && owner_id == 0)
		return;
	if (job->result == STORE_OK)
		job->result = store_user_get(job->store, owner_id, &user,
					     &error);
	if (job->result == STORE_OK) {
		job->quota_bytes = user->quota_bytes;
		job->used_bytes = user->used_bytes;
		job->quota_messages = user->quota_messages;
		job->used_messages = user->used_messages;
		store_user_free(&user);
	} else {
		snprintf(job->error, sizeof(job->error), "%s",
			 error != NULL ? error : "?");
	}
}

/* The root exists while the account has either limit. */
static bool
has_root(const struct quota_job *job)
{
	return job->quota_bytes != 0 || job->quota_messages != 0;
}

/* "* QUOTA root (STORAGE used limit MESSAGE used limit)", each resource
 * only with its limit set (RFC 9208 4.1.1: the resources the root has). */
static void
write_quota(struct buf *out, const struct quota_job *job)
{
	const char *sep = "";

	buf_puts(out, "* QUOTA ");
	imap_write_astring(out, job->root, strlen(job->root), 0);
	buf_puts(out, " (");
	if (job->quota_bytes != 0) {
		buf_puts(out, "STORAGE ");
		imap_write_number(out, imap_quota_kib(job->used_bytes));
		buf_putc(out, ' ');
		/* rounded up too: a quota under 1 KiB must not read as
		 * limit 0 */
		imap_write_number(out, imap_quota_kib(job->quota_bytes));
		sep = " ";
	}
	if (job->quota_messages != 0) {
		buf_puts(out, sep);
		buf_puts(out, "MESSAGE ");
		imap_write_number(out, job->used_messages);
		buf_putc(out, ' ');
		imap_write_number(out, job->quota_messages);
	}
	buf_puts(out, ")\r\n");
}

static void
getquotaroot_done(struct imap_cmd *cmd)
{
	struct quota_job *job = cmd->ctx;
	struct buf *out = imap_session_out(cmd->s);
	size_t start = out->len;
	const char *error;

	if (job->result != STORE_OK) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
	/* RFC 4314 6: one the user may not see is no mailbox */
	if (job->root == NULL) {
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such mailbox");
		return;
	}
	buf_puts(out, "* QUOTAROOT ");
	if (imap_write_mailbox(out, job->mailbox, strlen(job->mailbox),
			       cmd->s->utf8 ? IMAP_WRITE_UTF8 : 0,
			       &error) < 0) {
		buf_truncate(out, start);
		(void)imap_cmd_no(cmd, "[CANNOT] %s", error);
		return;
	}
	/* RFC 9208 4.1.2: a mailbox without quota root gets a QUOTAROOT
	 * response that lists none, and no QUOTA response. */
	if (has_root(job)) {
		buf_putc(out, ' ');
		imap_write_astring(out, job->root, strlen(job->root), 0);
	}
	buf_puts(out, "\r\n");
	if (has_root(job))
		write_quota(out, job);
	(void)imap_cmd_ok(cmd, "GETQUOTAROOT completed");
}

static void
getquota_done(struct imap_cmd *cmd)
{
	struct quota_job *job = cmd->ctx;

	if (job->result != STORE_OK) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
	/* the root exists only while the account has a quota (and, for
	 * another account's, while the user may see it) */
	if (job->root == NULL || !has_root(job)) {
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such quota root");
		return;
	}
	write_quota(imap_session_out(cmd->s), job);
	(void)imap_cmd_ok(cmd, "GETQUOTA completed");
}

static enum imap_cmd_result
run(struct imap_cmd *cmd, char *mailbox, char *owner,
    void (*done)(struct imap_cmd *cmd))
{
	struct quota_job *job = xcalloc(1, sizeof(*job));

	job->store = cmd->s->store;
	job->account_id = cmd->s->account_id;
	job->mailbox = mailbox;
	job->owner_arg = owner;
	return imap_cmd_run_blocking(cmd, quota_work, done, job,
				     quota_job_free);
}

/* GETQUOTAROOT mailbox (RFC 9208 4.1.2) */
enum imap_cmd_result
imap_cmd_getquotaroot(struct imap_cmd *cmd)
{
	const char *error;
	char *name;

	if (cmd->n_args != 1)
		return imap_cmd_bad(cmd, "GETQUOTAROOT takes a mailbox");
	if (imap_mailbox_arg(cmd->s, &cmd->args[0], &name, &error) < 0)
		return imap_cmd_bad(cmd, "%s", error);
	return run(cmd, name, NULL, getquotaroot_done);
}

/* The quota root argument: an astring, IMAP_QUOTA_ROOT (*ours_r) or
 * another account's root, IMAP_ACL_PREFIX "/" owner (*owner_r, free()).
 * Returns -1 for bad syntax, else 0. */
static int
root_arg(const struct imap_arg *arg, bool *ours_r, char **owner_r)
{
	size_t n = strlen(IMAP_ACL_PREFIX);
	const char *str;
	size_t len;

	*owner_r = NULL;
	if (!imap_arg_get_astring(arg, &str, &len))
		return -1;
	*ours_r = len == strlen(IMAP_QUOTA_ROOT) &&
		memcmp(str, IMAP_QUOTA_ROOT, len) == 0;
	/* the rest is the whole address (one may hold "/") */
	if (!*ours_r && len > n + 1 && memcmp(str, IMAP_ACL_PREFIX, n) == 0 &&
	    str[n] == '/' && memchr(str, '\0', len) == NULL)
		*owner_r = xstrndup(str + n + 1, len - n - 1);
	return 0;
}

/* GETQUOTA root (RFC 9208 4.1.1) */
enum imap_cmd_result
imap_cmd_getquota(struct imap_cmd *cmd)
{
	bool ours;
	char *owner;

	if (cmd->n_args != 1 || root_arg(&cmd->args[0], &ours, &owner) < 0)
		return imap_cmd_bad(cmd, "GETQUOTA takes a quota root");
	if (!ours && owner == NULL)
		return imap_cmd_no(cmd, "[NONEXISTENT] No such quota root");
	return run(cmd, NULL, owner, getquota_done);
}

/* SETQUOTA root (resource limit ...) (RFC 9208 4.1.3): checked, then
 * refused. Quotas are the admin's (`herald user quota`); QUOTASET is not
 * advertised. */
enum imap_cmd_result
imap_cmd_setquota(struct imap_cmd *cmd)
{
	const struct imap_arg *list;
	char *owner = NULL;
	bool ours;
	int r = -1;

	if (cmd->n_args == 2) {
		r = root_arg(&cmd->args[0], &ours, &owner);
		free(owner);
	}
	if (r < 0 || cmd->args[1].type != IMAP_ARG_LIST)
		return imap_cmd_bad(cmd, "SETQUOTA takes a quota root and a"
				    " list of resource limits");
	list = &cmd->args[1];
	if (list->list_count % 2 != 0)
		return imap_cmd_bad(cmd, "SETQUOTA resource without limit");
	for (size_t i = 0; i < list->list_count; i += 2) {
		uint64_t limit;

		if (list->list[i].type != IMAP_ARG_ATOM ||
		    !imap_arg_get_number64(&list->list[i + 1], &limit))
			return imap_cmd_bad(cmd, "SETQUOTA takes resource"
					    " names and numbers");
	}
	return imap_cmd_no(cmd, "[NOPERM] Quotas are set by the"
			   " administrator");
}
