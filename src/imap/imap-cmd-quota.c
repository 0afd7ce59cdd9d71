/* SPDX-License-Identifier: MIT */
/*
 * QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA and a refusing SETQUOTA. One
 * quota root per account, IMAP_QUOTA_ROOT, holding the STORAGE resource
 * of the account's byte quota and the MESSAGE resource of its message
 * limit (`herald user quota`), each only when set; an account with
 * neither has no root at all, never a limit of 0 (CLIENT-QUIRKS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/mem.h"

struct quota_job {
	struct store *store;
	int64_t account_id;
	char *mailbox;		/* GETQUOTAROOT, or NULL */
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
	free(job);
}

static void
quota_work(void *ctx)
{
	struct quota_job *job = ctx;
	struct store_user *user = NULL;
	const char *error = NULL;

	job->result = STORE_OK;
	if (job->mailbox != NULL)
		job->result = store_mailbox_find(job->store, job->account_id,
						 job->mailbox, NULL, &error);
	if (job->result == STORE_OK)
		job->result = store_user_get(job->store, job->account_id,
					     &user, &error);
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
	imap_write_astring(out, IMAP_QUOTA_ROOT, strlen(IMAP_QUOTA_ROOT), 0);
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

	if (job->result == STORE_E_NOT_FOUND ||
	    job->result == STORE_E_INVALID) {
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such mailbox");
		return;
	}
	if (job->result != STORE_OK) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
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
		imap_write_astring(out, IMAP_QUOTA_ROOT,
				   strlen(IMAP_QUOTA_ROOT), 0);
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
	/* the root exists only while the account has a quota */
	if (!has_root(job)) {
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such quota root");
		return;
	}
	write_quota(imap_session_out(cmd->s), job);
	(void)imap_cmd_ok(cmd, "GETQUOTA completed");
}

static enum imap_cmd_result
run(struct imap_cmd *cmd, char *mailbox, void (*done)(struct imap_cmd *cmd))
{
	struct quota_job *job = xcalloc(1, sizeof(*job));

	job->store = cmd->s->store;
	job->account_id = cmd->s->account_id;
	job->mailbox = mailbox;
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
	return run(cmd, name, getquotaroot_done);
}

/* The quota root argument: an astring equal to IMAP_QUOTA_ROOT. Returns
 * -1 for bad syntax, else whether it names the root. */
static int
root_arg(const struct imap_arg *arg, bool *ours_r)
{
	const char *str;
	size_t len;

	if (!imap_arg_get_astring(arg, &str, &len))
		return -1;
	*ours_r = len == strlen(IMAP_QUOTA_ROOT) &&
		memcmp(str, IMAP_QUOTA_ROOT, len) == 0;
	return 0;
}

/* GETQUOTA root (RFC 9208 4.1.1) */
enum imap_cmd_result
imap_cmd_getquota(struct imap_cmd *cmd)
{
	bool ours;

	if (cmd->n_args != 1 || root_arg(&cmd->args[0], &ours) < 0)
		return imap_cmd_bad(cmd, "GETQUOTA takes a quota root");
	if (!ours)
		return imap_cmd_no(cmd, "[NONEXISTENT] No such quota root");
	return run(cmd, NULL, getquota_done);
}

/* SETQUOTA root (resource limit ...) (RFC 9208 4.1.3): checked, then
 * refused. Quotas are the admin's (`herald user quota`); QUOTASET is not
 * advertised. */
enum imap_cmd_result
imap_cmd_setquota(struct imap_cmd *cmd)
{
	const struct imap_arg *list;
	bool ours;

	if (cmd->n_args != 2 || root_arg(&cmd->args[0], &ours) < 0 ||
	    cmd->args[1].type != IMAP_ARG_LIST)
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
