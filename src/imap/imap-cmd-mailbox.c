/* SPDX-License-Identifier: MIT */
/*
 * CREATE (with RFC 6154's USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE
 * (RFC 9051 6.3.4-6.3.10) and NAMESPACE (RFC 2342). The rules on names,
 * parents, children and INBOX live in the store (store.h "mailboxes:
 * names, hierarchy, subscriptions"); this file speaks the protocol.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/mem.h"

enum mbox_op { OP_CREATE, OP_DELETE, OP_RENAME, OP_SUBSCRIBE,
	       OP_UNSUBSCRIBE };

struct mbox_job {
	struct store *store;
	int64_t account_id;
	enum mbox_op op;
	char *name;
	char *to;		/* RENAME */
	char *asked;		/* CREATE: the name as the client sent it */
	enum store_role role;
	struct store_mailbox_limits limits;
	int64_t id;		/* DELETE: the mailbox deleted */
	char mailbox_id[STORE_ID_SIZE];	/* CREATE: MAILBOXID, or "" */
	/* whose mailboxes these are and their names there: the user's
	 * own, or a sharer's under "Other Users" (imap-acl.h) */
	int64_t owner_id;
	char *store_name, *store_to;
	int64_t parent_id;	/* CREATE in a shared mailbox: the ACL's */
	/* CREATE: how many levels above the name parent_id is; the ones
	 * between are the mailboxes CREATE makes on the way */
	unsigned parent_up;
	/* DELETE, RENAME of a shared name: the mailbox whose rights were
	 * checked, which the store acts on only if the name still is it */
	int64_t checked_id;
	/* RFC 4314 4: refused for want of need (DENIED), or with the same
	 * answer whether or not the mailbox is there (NONEXISTENT) */
	enum imap_acl_verdict verdict;
	unsigned need;
	bool cross;		/* RENAME from a shared mailbox to one's own */
	/* CREATE with USE in another account's mailboxes: a special use
	 * is the owner's to give (its client would file its drafts or
	 * sent mail where the grantees read them) */
	bool foreign_role;
	enum store_result result;
	char error[200];
};

static void
mbox_job_free(void *ctx)
{
	struct mbox_job *job = ctx;

	free(job->name);
	free(job->to);
	free(job->asked);
	free(job->store_name);
	free(job->store_to);
	free(job);
}

/* RFC 4314 4: creating needs "k" on the nearest existing mailbox above
 * the name (CREATE, RENAME's new name). Only shared names get here (the
 * owner has every right); no such mailbox, or one the user may not see,
 * is refused with the same generic answer (NONEXISTENT). Sets owner_id
 * and parent_id when found. */
static enum store_result
check_create(struct mbox_job *job, const char *name, const char **error_r)
{
	char *parent = xstrdup(name), *slash;
	enum store_result r = STORE_OK;
	unsigned up = 0;

	job->verdict = IMAP_ACL_NONEXISTENT;
	job->need = STORE_ACL_CREATE;
	while ((slash = strrchr(parent, '/')) != NULL) {
		struct imap_acl_box acl;
		enum imap_acl_verdict v;

		*slash = '\0';
		up++;
		r = imap_acl_open(job->store, job->account_id, parent,
				  STORE_ACL_CREATE, &acl, &v, error_r);
		if (r != STORE_OK || acl.mb != NULL || acl.owner_id == 0) {
			if (r == STORE_OK && acl.mb != NULL) {
				job->verdict = v;
				job->owner_id = acl.owner_id;
				job->parent_id = acl.mb->id;
				job->parent_up = up;
			}
			imap_acl_box_deinit(&acl);
			break;
		}
		imap_acl_box_deinit(&acl);
	}
	free(parent);
	return r;
}

/* Whose mailbox the job's names are, and whether the rights allow the
 * operation: job->verdict. */
static enum store_result
mbox_rights(struct mbox_job *job, const char **error_r)
{
	bool from_shared = imap_acl_name_is_shared(job->name);
	bool to_shared = job->to != NULL && imap_acl_name_is_shared(job->to);
	struct imap_acl_box acl;
	enum store_result r;

	job->verdict = IMAP_ACL_OK;
	job->owner_id = job->account_id;
	job->store_name = xstrdup(job->name);
	if (job->to != NULL)
		job->store_to = xstrdup(job->to);
	/* UNSUBSCRIBE needs no right (RFC 4314 4); SUBSCRIBE takes any
	 * name as for one's own (RFC 9051 6.3.7), so it tells nothing:
	 * both keep the name as the client wrote it */
	if (job->op == OP_SUBSCRIBE || job->op == OP_UNSUBSCRIBE ||
	    (!from_shared && !to_shared))
		return STORE_OK;
	if (job->op == OP_CREATE) {
		/* an existing mailbox the user may not see is no answer
		 * either */
		r = imap_acl_open(job->store, job->account_id, job->name,
				  STORE_ACL_LOOKUP, &acl, &job->verdict,
				  error_r);
		if (r == STORE_OK && acl.mb != NULL &&
		    job->verdict != IMAP_ACL_OK)
			job->need = STORE_ACL_CREATE;
		else if (r == STORE_OK && acl.mb != NULL)
			job->verdict = IMAP_ACL_OK;	/* ALREADYEXISTS */
		else if (r == STORE_OK)
			r = check_create(job, job->name, error_r);
		if (r == STORE_OK && acl.name != NULL) {
			free(job->store_name);
			job->store_name = xstrdup(acl.name);
		}
		if (r == STORE_OK && acl.mb != NULL)
			job->owner_id = acl.owner_id;
		imap_acl_box_deinit(&acl);
		return r;
	}
	/* DELETE and RENAME need "x" on the mailbox */
	job->need = STORE_ACL_DELETE_MAILBOX;
	r = imap_acl_open(job->store, job->account_id, job->name,
			  STORE_ACL_DELETE_MAILBOX, &acl, &job->verdict,
			  error_r);
	if (r == STORE_OK && job->verdict == IMAP_ACL_OK) {
		job->owner_id = acl.owner_id;
		free(job->store_name);
		job->store_name = xstrdup(acl.name);
		if (acl.mb != NULL)
			job->checked_id = acl.mb->id;
	}
	imap_acl_box_deinit(&acl);
	if (r != STORE_OK || job->verdict != IMAP_ACL_OK ||
	    job->op != OP_RENAME)
		return r;
	/* RENAME: and "k" above the new name, of the same owner */
	if (to_shared) {
		int64_t owner = job->owner_id;

		r = imap_acl_open(job->store, job->account_id, job->to, 0,
				  &acl, &job->verdict, error_r);
		if (r == STORE_OK && acl.owner_id == owner && acl.name != NULL) {
			free(job->store_to);
			job->store_to = xstrdup(acl.name);
		}
		if (r == STORE_OK && acl.mb != NULL) {
			/* one it may not see is a place it may not create
			 * in, as CREATE answers (RFC 4314 6); one of another
			 * account cannot be reached from this one; else the
			 * store says ALREADYEXISTS */
			job->verdict = imap_acl_check(true, acl.rights,
						      STORE_ACL_LOOKUP);
			if (job->verdict != IMAP_ACL_OK)
				job->need = STORE_ACL_CREATE;
			else if (acl.owner_id != owner)
				job->cross = true;
			imap_acl_box_deinit(&acl);
			return r;
		}
		imap_acl_box_deinit(&acl);
		if (r == STORE_OK)
			r = check_create(job, job->to, error_r);
		if (r == STORE_OK && job->verdict == IMAP_ACL_OK &&
		    job->owner_id != owner)
			job->verdict = IMAP_ACL_NONEXISTENT;
		job->owner_id = owner;
		return r;
	}
	/* from another account's mailboxes into one's own */
	if (job->owner_id != job->account_id)
		job->cross = true;
	return r;
}

/* RFC 4314 4: a mailbox made in a shared one gets its ACL: the new one
 * (leaf_id; 0 for a mailbox RENAME moved, which keeps its own), and each
 * that CREATE or RENAME made on the way to it ("Team/2026" for
 * "Team/2026/Q1" in "Team"), or the grantees would see the leaf under a
 * folder they cannot open. A level that someone else made between the
 * look-up and the create gets the same ACL it would have got itself. */
static void
inherit_acl(struct mbox_job *job, const char *leaf, int64_t leaf_id)
{
	struct store_acl_entry *e = NULL;
	const char *error;
	char *name;
	size_t n = 0;

	if (job->parent_id == 0 ||
	    store_acl_get(job->store, job->parent_id, &e, &n, &error) !=
		    STORE_OK)
		return;
	for (size_t i = 0; leaf_id != 0 && i < n; i++)
		(void)store_acl_set(job->store, leaf_id, e[i].grantee_id,
				    e[i].rights, &error);
	name = xstrdup(leaf);
	for (unsigned up = 1; up < job->parent_up; up++) {
		char *slash = strrchr(name, STORE_MAILBOX_DELIM);
		int64_t id;

		if (slash == NULL)
			break;
		*slash = '\0';
		if (store_mailbox_find(job->store, job->owner_id, name, &id,
				       &error) != STORE_OK)
			continue;
		for (size_t i = 0; i < n; i++)
			(void)store_acl_set(job->store, id, e[i].grantee_id,
					    e[i].rights, &error);
	}
	free(name);
	store_acl_entries_free(&e, n);
}

/* The nearest existing mailbox above the owner's own new name (CREATE's,
 * RENAME's target), whose ACL it and the levels made on the way get (RFC
 * 4314 4 SHOULD): a folder made in a shared one is shared as it is.
 * check_create() found it already for a grantee. */
static void
own_parent(struct mbox_job *job, const char *name)
{
	char *parent = xstrdup(name), *slash;
	const char *error;
	unsigned up = 0;

	while (job->parent_id == 0 &&
	       (slash = strrchr(parent, STORE_MAILBOX_DELIM)) != NULL) {
		struct store_mailbox *mb = NULL;

		*slash = '\0';
		up++;
		if (store_mailbox_lookup(job->store, job->owner_id, parent, &mb,
					 &error) == STORE_OK) {
			job->parent_id = mb->id;
			job->parent_up = up;
		}
		store_mailbox_free(&mb);
	}
	free(parent);
}

/* The parents RENAME made for the new name get the ACL CREATE would
 * have given them, as does the new mailbox that renaming INBOX makes
 * (RFC 9051 6.3.6); a mailbox moved keeps its own ACL, and so do its
 * children. */
static void
rename_inherit_acl(struct mbox_job *job)
{
	const char *error;
	int64_t id = 0;

	if (strcasecmp(job->store_name, "INBOX") == 0 &&
	    store_mailbox_find(job->store, job->owner_id, job->store_to, &id,
			       &error) != STORE_OK)
		id = 0;
	inherit_acl(job, job->store_to, id);
}

static void
mbox_work(void *ctx)
{
	struct mbox_job *job = ctx;
	const char *error = NULL;

	job->result = mbox_rights(job, &error);
	if (job->result != STORE_OK || job->verdict != IMAP_ACL_OK ||
	    job->cross)
		goto out;
	if (job->op == OP_CREATE && job->role != STORE_ROLE_NONE &&
	    job->owner_id != job->account_id) {
		job->foreign_role = true;
		goto out;
	}
	switch (job->op) {
	case OP_CREATE:
		own_parent(job, job->store_name);
		job->result = store_mailbox_create(job->store, job->owner_id,
						   job->store_name, job->role,
						   &job->limits, &job->id,
						   &error);
		if (job->result == STORE_OK) {
			/* RFC 8474 4.1: the new mailbox's id; a rename
			 * racing this leaves it out, nothing worse */
			struct store_mailbox *mb = NULL;

			if (job->id != 0)
				inherit_acl(job, job->store_name, job->id);
			if (store_mailbox_lookup(job->store, job->owner_id,
						 job->store_name, &mb,
						 &error) == STORE_OK)
				memcpy(job->mailbox_id, mb->jmap_id,
				       sizeof(job->mailbox_id));
			store_mailbox_free(&mb);
		}
		break;
	case OP_DELETE:
		job->result = store_mailbox_delete_id(job->store,
						      job->owner_id,
						      job->store_name,
						      job->checked_id,
						      &job->id, &error);
		break;
	case OP_RENAME:
		own_parent(job, job->store_to);
		job->result = store_mailbox_rename_id(job->store,
						      job->owner_id,
						      job->store_name,
						      job->checked_id,
						      job->store_to,
						      &job->limits, &error);
		if (job->result == STORE_OK)
			rename_inherit_acl(job);
		break;
	case OP_SUBSCRIBE:
	case OP_UNSUBSCRIBE:
		job->result = store_mailbox_subscribe(job->store,
						      job->account_id,
						      job->name,
						      job->op == OP_SUBSCRIBE,
						      &job->limits, &error);
		break;
	}
out:
	if (job->result != STORE_OK)
		snprintf(job->error, sizeof(job->error), "%s",
			 error != NULL ? error : "?");
}

/* The store's refusals as tagged NOs with RFC 5530 codes. The store's
 * text is not echoed: it may hold the name in UTF-8, which a rev1 reply
 * may not carry. */
static void
mbox_refused(struct imap_cmd *cmd, struct mbox_job *job)
{
	switch (job->result) {
	case STORE_E_NOT_FOUND:
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such mailbox");
		return;
	case STORE_E_EXISTS:
		(void)imap_cmd_no(cmd, "[ALREADYEXISTS] Mailbox already"
				  " exists");
		return;
	case STORE_E_IN_USE:
		if (job->op == OP_CREATE)
			(void)imap_cmd_no(cmd, "[USEATTR] Another mailbox"
					  " already has that special use");
		else
			/* RFC 9051 6.3.5 allows refusing; the store keeps
			 * no \Noselect mailboxes (docs/imap.md) */
			(void)imap_cmd_no(cmd, "[HASCHILDREN] Mailbox has"
					  " children, delete them first");
		return;
	case STORE_E_OVER_QUOTA:
		(void)imap_cmd_no(cmd, "[LIMIT] Too many mailboxes");
		return;
	case STORE_E_INVALID:
		if (job->op == OP_DELETE && job->store_name != NULL &&
		    strcmp(job->store_name, "INBOX") == 0)
			(void)imap_cmd_no(cmd, "[CANNOT] INBOX cannot be"
					  " deleted");
		else if (job->op == OP_RENAME &&
			 strstr(job->error, "under itself") != NULL)
			(void)imap_cmd_no(cmd, "[CANNOT] A mailbox cannot move"
					  " under itself");
		else if (strstr(job->error, "longer than") != NULL)
			(void)imap_cmd_no(cmd, "[LIMIT] Mailbox name too"
					  " long");
		else
			(void)imap_cmd_no(cmd, "[CANNOT] Invalid mailbox name"
					  " (empty level or control"
					  " character)");
		return;
	default:
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
}

/* RFC 9051 7.3.1: a rev2 client learns the name the mailbox got when it
 * differs from the one it asked for ("inbox/x" is "INBOX/x"). */
static void
write_oldname(struct imap_session *s, const char *name, const char *asked)
{
	struct buf *out = imap_session_out(s);
	size_t start = out->len;
	const char *error;

	buf_puts(out, "* LIST () \"/\" ");
	if (imap_write_mailbox(out, name, strlen(name), IMAP_WRITE_UTF8,
			       &error) < 0)
		goto fail;
	buf_puts(out, " (\"OLDNAME\" (");
	/* the old name is written as sent, not as INBOX */
	imap_write_astring(out, asked, strlen(asked), IMAP_WRITE_UTF8);
	buf_puts(out, "))\r\n");
	return;
fail:
	buf_truncate(out, start);
}

static void
mbox_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mbox_job *job = cmd->ctx;
	static const char *const what[] = {
		"CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE",
	};

	if (job->result != STORE_OK) {
		mbox_refused(cmd, job);
		return;
	}
	if (job->verdict == IMAP_ACL_DENIED) {
		(void)imap_acl_no(cmd, job->need);
		return;
	}
	if (job->cross) {
		(void)imap_cmd_no(cmd, "[CANNOT] A mailbox cannot move to"
				  " another account");
		return;
	}
	if (job->foreign_role) {
		(void)imap_cmd_no(cmd, "[CANNOT] Only the owner gives its "
				  "mailboxes a special use");
		return;
	}
	if (job->verdict == IMAP_ACL_NONEXISTENT) {
		/* DELETE and RENAME of what the user may not see say what
		 * they say of a mailbox that is not there; CREATE under
		 * one says what it says of any place it may not create */
		if (job->op == OP_CREATE || (job->op == OP_RENAME &&
					     job->need == STORE_ACL_CREATE))
			(void)imap_cmd_no(cmd, "[NOPERM] Permission denied");
		else
			(void)imap_cmd_no(cmd, "[NONEXISTENT] No such "
					  "mailbox");
		return;
	}
	if (job->op == OP_CREATE && s->rev2 && job->asked != NULL &&
	    strcmp(job->asked, job->name) != 0)
		write_oldname(s, job->name, job->asked);
	if (job->op == OP_DELETE && s->box != NULL && s->box->id == job->id) {
		/* The selected mailbox is gone: leave it as SELECT of
		 * another would (RFC 9051 7.1, CLOSED). */
		imap_session_unselect(s);
		buf_puts(imap_session_out(s), "* OK [CLOSED] Selected mailbox"
			 " deleted\r\n");
	}
	if (job->op == OP_RENAME && s->box != NULL &&
	    strcmp(job->name, "INBOX") != 0) {
		size_t n = strlen(job->name);

		if (strncmp(s->box->name, job->name, n) == 0 &&
		    (s->box->name[n] == '\0' || s->box->name[n] == '/')) {
			char *renamed = xasprintf("%s%s", job->to,
						  s->box->name + n);

			free(s->box->name);
			s->box->name = renamed;
		}
	}
	if (job->op == OP_CREATE && job->mailbox_id[0] != '\0') {
		(void)imap_cmd_ok(cmd, "[MAILBOXID (%s)] CREATE completed",
				  job->mailbox_id);
		return;
	}
	(void)imap_cmd_ok(cmd, "%s completed", what[job->op]);
}

static struct mbox_job *
mbox_job_new(struct imap_session *s, enum mbox_op op, char *name)
{
	struct mbox_job *job = xcalloc(1, sizeof(*job));

	job->store = s->store;
	job->account_id = s->account_id;
	job->op = op;
	job->name = name;
	job->limits.name_max = s->set->mailbox_name_max;
	job->limits.mailboxes_max = s->set->mailboxes_max;
	return job;
}

/* RFC 9051 6.3.4: a trailing delimiter declares that children will
 * follow; Herald needs no such declaration and ignores it. */
static void
strip_trailing_delim(char *name)
{
	size_t n = strlen(name);

	if (n > 1 && name[n - 1] == STORE_MAILBOX_DELIM)
		name[n - 1] = '\0';
}

/* The wildcards of LIST could never list a name that holds them. */
static bool
has_wildcard(const char *name)
{
	return strpbrk(name, "*%") != NULL;
}

/* RFC 6154 5.3: CREATE name (USE (\Drafts)). One role per mailbox here,
 * and only the roles JMAP knows too. Returns 0, -1 with *bad_r (BAD) or
 * with *no_r (NO [USEATTR]). */
static int
create_params(const struct imap_arg *params, enum store_role *role_r,
	      const char **bad_r, const char **no_r)
{
	*role_r = STORE_ROLE_NONE;
	*bad_r = *no_r = NULL;
	if (params->type != IMAP_ARG_LIST || params->list_count == 0) {
		*bad_r = "CREATE parameters must be a non-empty list";
		return -1;
	}
	for (size_t i = 0; i < params->list_count; i++) {
		const struct imap_arg *use;

		if (!imap_arg_atom_equals(&params->list[i], "USE") ||
		    i + 1 == params->list_count ||
		    params->list[i + 1].type != IMAP_ARG_LIST) {
			*bad_r = "Unknown CREATE parameter";
			return -1;
		}
		use = &params->list[++i];
		for (size_t k = 0; k < use->list_count; k++) {
			enum store_role r;

			for (r = STORE_ROLE_DRAFTS; r < STORE_ROLE_COUNT; r++)
				if (imap_arg_atom_equals(&use->list[k],
							 store_role_imap(r)))
					break;
			if (use->list[k].type != IMAP_ARG_ATOM ||
			    use->list[k].str[0] != '\\') {
				*bad_r = "USE takes special-use attributes";
				return -1;
			}
			if (r == STORE_ROLE_COUNT) {
				*no_r = "[USEATTR] Special use not supported";
				return -1;
			}
			if (*role_r != STORE_ROLE_NONE && *role_r != r) {
				*no_r = "[USEATTR] One special use per"
					" mailbox";
				return -1;
			}
			*role_r = r;
		}
	}
	return 0;
}

enum imap_cmd_result
imap_cmd_create(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mbox_job *job;
	enum store_role role = STORE_ROLE_NONE;
	const char *error, *no;
	const char *asked = NULL;
	size_t asked_len = 0;
	char *name;

	if (cmd->n_args != 1 && cmd->n_args != 2)
		return imap_cmd_bad(cmd, "CREATE takes a mailbox name and"
				    " optional parameters");
	if (cmd->n_args == 2 &&
	    create_params(&cmd->args[1], &role, &error, &no) < 0)
		return error != NULL ? imap_cmd_bad(cmd, "%s", error) :
		       imap_cmd_no(cmd, "%s", no);
	if (imap_mailbox_arg(s, &cmd->args[0], &name, &error) < 0)
		return imap_cmd_bad(cmd, "%s", error);
	(void)imap_arg_get_astring(&cmd->args[0], &asked, &asked_len);
	strip_trailing_delim(name);
	if (has_wildcard(name)) {
		free(name);
		return imap_cmd_no(cmd, "[CANNOT] Mailbox names cannot hold"
				   " * or %%");
	}
	job = mbox_job_new(s, OP_CREATE, name);
	job->role = role;
	if (s->rev2 && asked != NULL)
		job->asked = xstrndup(asked, asked_len);
	return imap_cmd_run_blocking(cmd, mbox_work, mbox_done, job,
				     mbox_job_free);
}

static enum imap_cmd_result
one_name(struct imap_cmd *cmd, enum mbox_op op)
{
	struct imap_session *s = cmd->s;
	const char *error;
	char *name;

	if (cmd->n_args != 1)
		return imap_cmd_bad(cmd, "%s takes one mailbox name",
				    cmd->name);
	if (imap_mailbox_arg(s, &cmd->args[0], &name, &error) < 0)
		return imap_cmd_bad(cmd, "%s", error);
	return imap_cmd_run_blocking(cmd, mbox_work, mbox_done,
				     mbox_job_new(s, op, name), mbox_job_free);
}

enum imap_cmd_result
imap_cmd_delete(struct imap_cmd *cmd)
{
	return one_name(cmd, OP_DELETE);
}

enum imap_cmd_result
imap_cmd_subscribe(struct imap_cmd *cmd)
{
	return one_name(cmd, OP_SUBSCRIBE);
}

enum imap_cmd_result
imap_cmd_unsubscribe(struct imap_cmd *cmd)
{
	return one_name(cmd, OP_UNSUBSCRIBE);
}

enum imap_cmd_result
imap_cmd_rename(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mbox_job *job;
	const char *error;
	char *from, *to;

	if (cmd->n_args != 2)
		return imap_cmd_bad(cmd, "RENAME takes two mailbox names");
	if (imap_mailbox_arg(s, &cmd->args[0], &from, &error) < 0)
		return imap_cmd_bad(cmd, "%s", error);
	if (imap_mailbox_arg(s, &cmd->args[1], &to, &error) < 0) {
		free(from);
		return imap_cmd_bad(cmd, "%s", error);
	}
	strip_trailing_delim(to);
	if (has_wildcard(to)) {
		free(from);
		free(to);
		return imap_cmd_no(cmd, "[CANNOT] Mailbox names cannot hold"
				   " * or %%");
	}
	job = mbox_job_new(s, OP_RENAME, from);
	job->to = to;
	return imap_cmd_run_blocking(cmd, mbox_work, mbox_done, job,
				     mbox_job_free);
}

/* RFC 2342: one personal namespace, no prefix, "/" between levels; the
 * other users' namespace for the mailboxes shared with the user
 * (imap-acl.h, RFC 4314); no shared namespace. */
enum imap_cmd_result
imap_cmd_namespace(struct imap_cmd *cmd)
{
	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "NAMESPACE takes no arguments");
	buf_puts(imap_session_out(cmd->s),
		 "* NAMESPACE ((\"\" \"/\")) ((\"" IMAP_ACL_PREFIX
		 "/\" \"/\")) NIL\r\n");
	return imap_cmd_ok(cmd, "NAMESPACE completed");
}
