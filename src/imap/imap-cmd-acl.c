/* SPDX-License-Identifier: MIT */
/*
 * The ACL commands (RFC 4314 3): SETACL, DELETEACL, GETACL, LISTRIGHTS
 * and MYRIGHTS, on one's own mailboxes and on shared ones. Identifiers
 * are account addresses and "anyone"; the owner always has every right
 * and cannot be given or refused any. Rights are checked by imap-acl.c
 * like every other command's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/mem.h"

enum acl_op { ACL_SET, ACL_DELETE, ACL_GET, ACL_LISTRIGHTS, ACL_MYRIGHTS };

struct acl_job {
	struct store *store;
	int64_t account_id;
	enum acl_op op;
	char *name;		/* as the client named it */
	char *ident;		/* SETACL, DELETEACL, LISTRIGHTS */
	char mod;		/* SETACL: '+', '-' or 0 (replace) */
	unsigned mod_rights;
	/* out */
	enum imap_acl_verdict verdict;
	unsigned need;
	bool unknown_ident;	/* no account has that address */
	bool ident_owner;	/* the identifier is the mailbox's owner */
	char *owner;		/* the owner's address */
	unsigned rights;	/* MYRIGHTS: the user's */
	struct store_acl_entry *entries;	/* GETACL */
	size_t n_entries;
	enum store_result result;
	char error[200];
};

static void
acl_job_free(void *ctx)
{
	struct acl_job *job = ctx;

	store_acl_entries_free(&job->entries, job->n_entries);
	free(job->name);
	free(job->ident);
	free(job->owner);
	free(job);
}

/* The grantee id of the identifier (RFC 4314 3: "anyone" or, here, an
 * account's address, compared as logins are). */
static enum store_result
ident_lookup(struct acl_job *job, int64_t owner_id, int64_t *id_r,
	     const char **error_r)
{
	struct store_user *u = NULL;
	enum store_result r;

	*id_r = STORE_ACL_ANYONE;
	if (strcasecmp(job->ident, "anyone") == 0)
		return STORE_OK;
	r = store_user_lookup(job->store, job->ident, &u, error_r);
	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID) {
		job->unknown_ident = true;
		return STORE_OK;
	}
	if (r != STORE_OK)
		return r;
	*id_r = u->id;
	job->ident_owner = u->id == owner_id;
	store_user_free(&u);
	return STORE_OK;
}

static enum store_result
acl_set(struct acl_job *job, const struct imap_acl_box *box,
	const char **error_r)
{
	struct store_acl_entry *e = NULL;
	unsigned rights = job->mod_rights;
	enum store_result r;
	int64_t id;
	size_t n = 0;

	r = ident_lookup(job, box->owner_id, &id, error_r);
	if (r != STORE_OK || job->unknown_ident || job->ident_owner)
		return r;
	if (job->op == ACL_DELETE)
		return store_acl_delete(job->store, box->mb->id, id, error_r);
	if (job->mod != 0) {
		unsigned old = 0;

		r = store_acl_get(job->store, box->mb->id, &e, &n, error_r);
		if (r != STORE_OK)
			return r;
		for (size_t i = 0; i < n; i++)
			if (e[i].grantee_id == id)
				old = e[i].rights;
		store_acl_entries_free(&e, n);
		rights = job->mod == '+' ? old | rights : old & ~rights;
	}
	return store_acl_set(job->store, box->mb->id, id, rights, error_r);
}

static void
acl_work(void *ctx)
{
	struct acl_job *job = ctx;
	struct imap_acl_box box;
	const char *error = NULL;
	int64_t id;

	/* RFC 4314 4: "a" for all but MYRIGHTS, which takes any of
	 * "lrikxa" */
	job->need = job->op == ACL_MYRIGHTS ? IMAP_ACL_NEED_ANY :
		    STORE_ACL_ADMIN;
	job->result = imap_acl_open(job->store, job->account_id, job->name,
				    job->need, &box, &job->verdict, &error);
	if (job->result != STORE_OK || job->verdict != IMAP_ACL_OK)
		goto out;
	job->rights = box.rights;
	if (box.shared) {
		free(job->owner);
		job->owner = xstrdup(box.owner);
	}
	switch (job->op) {
	case ACL_SET:
	case ACL_DELETE:
		job->result = acl_set(job, &box, &error);
		break;
	case ACL_GET:
		job->result = store_acl_get(job->store, box.mb->id,
					    &job->entries, &job->n_entries,
					    &error);
		break;
	case ACL_LISTRIGHTS:
		job->result = ident_lookup(job, box.owner_id, &id, &error);
		break;
	case ACL_MYRIGHTS:
		break;
	}
out:
	imap_acl_box_deinit(&box);
	if (job->result != STORE_OK)
		imap_copy_error(job->error, sizeof(job->error), error);
}

static void
write_rights(struct buf *out, unsigned rights)
{
	char letters[STORE_ACL_RIGHTS_SIZE];

	/* RFC 4314 2.1.1: "c" and "d" along with their members */
	store_acl_rights_format(rights, true, letters);
	imap_write_astring(out, letters, strlen(letters), 0);
}

static void
acl_done(struct imap_cmd *cmd)
{
	struct acl_job *job = cmd->ctx;
	struct imap_session *s = cmd->s;
	struct buf *out = imap_session_out(s);
	unsigned wflags = s->utf8 ? IMAP_WRITE_UTF8 : 0;
	size_t start = out->len;
	const char *error;

	if (job->result == STORE_OK && job->verdict == IMAP_ACL_NONEXISTENT)
		return (void)imap_cmd_no(cmd, "[NONEXISTENT] No such "
					 "mailbox");
	if (job->result == STORE_OK && job->verdict == IMAP_ACL_DENIED)
		return (void)imap_acl_no(cmd, job->need);
	if (job->result == STORE_E_NOT_FOUND)
		return (void)imap_cmd_no(cmd, "[NONEXISTENT] No such "
					 "mailbox");
	if (job->result != STORE_OK)
		return (void)imap_cmd_store_error(cmd, job->result,
						  job->error);
	if ((job->op == ACL_SET || job->op == ACL_DELETE) &&
	    job->unknown_ident)
		return (void)imap_cmd_no(cmd, "[CANNOT] Unknown identifier "
					 "(an address of this server, or "
					 "anyone)");
	if ((job->op == ACL_SET || job->op == ACL_DELETE) && job->ident_owner)
		return (void)imap_cmd_no(cmd, "[CANNOT] The owner always has "
					 "every right");
	switch (job->op) {
	case ACL_SET:
		return (void)imap_cmd_ok(cmd, "SETACL completed");
	case ACL_DELETE:
		return (void)imap_cmd_ok(cmd, "DELETEACL completed");
	case ACL_GET:
		buf_puts(out, "* ACL ");
		if (imap_write_mailbox(out, job->name, strlen(job->name),
				       wflags, &error) < 0)
			break;
		/* the owner first, with every right it always has */
		buf_putc(out, ' ');
		imap_write_astring(out, job->owner, strlen(job->owner), 0);
		buf_putc(out, ' ');
		write_rights(out, STORE_ACL_ALL);
		for (size_t i = 0; i < job->n_entries; i++) {
			const struct store_acl_entry *e = &job->entries[i];

			buf_putc(out, ' ');
			imap_write_astring(out, e->grantee, strlen(e->grantee),
					   0);
			buf_putc(out, ' ');
			write_rights(out, e->rights);
		}
		buf_puts(out, "\r\n");
		return (void)imap_cmd_ok(cmd, "GETACL completed");
	case ACL_LISTRIGHTS:
		buf_puts(out, "* LISTRIGHTS ");
		if (imap_write_mailbox(out, job->name, strlen(job->name),
				       wflags, &error) < 0)
			break;
		buf_putc(out, ' ');
		/* RFC 4314 3.4: the identifier as the client gave it */
		imap_write_astring(out, job->ident, strlen(job->ident), 0);
		if (job->ident_owner)
			/* always granted, nothing else to grant; with "c"
			 * and "d", as 2.1.1 asks of rights that hold their
			 * members */
			buf_puts(out, " lrswipkxteacd");
		else
			/* none always granted; each right on its own, "c"
			 * with "k" and "d" with "xte" as 2.1.1 asks */
			buf_puts(out, " \"\" l r s w i p k x t e a c d");
		buf_puts(out, "\r\n");
		return (void)imap_cmd_ok(cmd, "LISTRIGHTS completed");
	case ACL_MYRIGHTS:
		buf_puts(out, "* MYRIGHTS ");
		if (imap_write_mailbox(out, job->name, strlen(job->name),
				       wflags, &error) < 0)
			break;
		buf_putc(out, ' ');
		write_rights(out, job->rights);
		buf_puts(out, "\r\n");
		return (void)imap_cmd_ok(cmd, "MYRIGHTS completed");
	}
	buf_truncate(out, start);
	(void)imap_cmd_no(cmd, "[CANNOT] %s", error);
}

static enum imap_cmd_result
acl_start(struct imap_cmd *cmd, enum acl_op op, size_t n_args)
{
	struct imap_session *s = cmd->s;
	struct acl_job *job;
	const char *error, *str;
	size_t len;

	if (cmd->n_args != n_args)
		return imap_cmd_bad(cmd, "%s takes %s", cmd->name,
				    n_args == 1 ? "a mailbox" :
				    n_args == 2 ? "a mailbox and an identifier" :
				    "a mailbox, an identifier and rights");
	job = xcalloc(1, sizeof(*job));
	job->op = op;
	if (imap_mailbox_arg(s, &cmd->args[0], &job->name, &error) < 0) {
		acl_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	if (n_args >= 2) {
		/* RFC 4314 3: an empty identifier is BAD */
		if (!imap_arg_get_astring(&cmd->args[1], &str, &len) ||
		    len == 0 || memchr(str, '\0', len) != NULL) {
			acl_job_free(job);
			return imap_cmd_bad(cmd, "Invalid identifier");
		}
		job->ident = xstrndup(str, len);
	}
	if (n_args == 3) {
		if (!imap_arg_get_astring(&cmd->args[2], &str, &len)) {
			acl_job_free(job);
			return imap_cmd_bad(cmd, "Invalid rights");
		}
		if (len > 0 && (str[0] == '+' || str[0] == '-')) {
			job->mod = str[0];
			str++;
			len--;
		}
		/* RFC 4314 3.1: an unknown right is BAD, never dropped */
		if (store_acl_rights_parse(str, len, &job->mod_rights,
					   &error) < 0) {
			acl_job_free(job);
			return imap_cmd_bad(cmd, "%s", error);
		}
	}
	job->store = s->store;
	job->account_id = s->account_id;
	job->owner = xstrdup(s->user);
	return imap_cmd_run_blocking(cmd, acl_work, acl_done, job,
				     acl_job_free);
}

enum imap_cmd_result
imap_cmd_setacl(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_SET, 3);
}

enum imap_cmd_result
imap_cmd_deleteacl(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_DELETE, 2);
}

enum imap_cmd_result
imap_cmd_getacl(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_GET, 1);
}

enum imap_cmd_result
imap_cmd_listrights(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_LISTRIGHTS, 2);
}

enum imap_cmd_result
imap_cmd_myrights(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_MYRIGHTS, 1);
}
