/* SPDX-License-Identifier: MIT */
/*
 * The ESEARCH command of MULTISEARCH (RFC 7377): a SEARCH program over
 * several of the account's mailboxes and those shared with it that it may
 * list and read ("l" and "r", RFC 4314) (IN (selected inboxes personal
 * subscribed subtree subtree-one mailboxes ...)), answered with one
 * ESEARCH per mailbox that has matches, by UID, carrying MAILBOX and
 * UIDVALIDITY. At most [imap] multisearch_mailboxes_max mailboxes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "imap/imap-write.h"
#include "lib/buf.h"
#include "lib/mem.h"

/* The source filters of RFC 7377 2 (RFC 5465 6's mailbox filters). */
enum esearch_filter {
	ES_SELECTED = 1 << 0,
	ES_INBOXES = 1 << 1,
	ES_PERSONAL = 1 << 2,
	ES_SUBSCRIBED = 1 << 3,
};

struct esearch_name {
	char *name;
	enum { ES_N_MAILBOX, ES_N_SUBTREE, ES_N_SUBTREE_ONE } kind;
};

struct esearch_job {
	struct store *store;
	int64_t account_id;
	int64_t selected_id;		/* 0: none selected */
	unsigned filters;
	struct esearch_name *names;
	size_t n_names;
	unsigned max;			/* multisearch_mailboxes_max */
	size_t cache_max;
	struct imap_search_program prog;
	/* the account whose search index prog's look-ups came from */
	int64_t index_account;
	/* results, on the pool: the output text and counts */
	struct buf out;
	char *tag;
	unsigned write_flags;
	size_t n_boxes;
	bool too_many;
	enum store_result result;
	char error[200];
};

static void
esearch_job_free(void *ctx)
{
	struct esearch_job *job = ctx;

	for (size_t i = 0; i < job->n_names; i++)
		free(job->names[i].name);
	free(job->names);
	imap_search_program_deinit(&job->prog);
	buf_deinit(&job->out);
	free(job->tag);
	free(job);
}

static bool
name_matches(const struct esearch_name *n, const char *name)
{
	size_t len = strlen(n->name);

	if (strcmp(name, n->name) == 0)
		return true;
	if (n->kind == ES_N_MAILBOX || strncmp(name, n->name, len) != 0 ||
	    name[len] != '/')
		return false;
	/* RFC 5465 6: subtree-one is the mailbox and its children */
	return n->kind == ES_N_SUBTREE || strchr(name + len + 1, '/') == NULL;
}

static bool
wanted(const struct esearch_job *job, const struct store_mailbox *mb)
{
	if ((job->filters & ES_PERSONAL) ||
	    ((job->filters & ES_SELECTED) && mb->id == job->selected_id) ||
	    ((job->filters & ES_SUBSCRIBED) && mb->subscribed) ||
	    /* new mail goes to INBOX only (Sieve fileinto aside) */
	    ((job->filters & ES_INBOXES) && strcmp(mb->name, "INBOX") == 0))
		return true;
	for (size_t i = 0; i < job->n_names; i++)
		if (name_matches(&job->names[i], mb->name))
			return true;
	return false;
}

/* One mailbox, name as the client knows it, of account owner_id: its
 * view (through the worker's cache), the program over it, an ESEARCH
 * when something matched. */
static enum store_result
search_one(struct esearch_job *job, const struct store_mailbox *mb,
	   const char *name, int64_t owner_id, const char **error_r)
{
	struct imap_mailbox box;
	uint64_t counter = store_change_counter(job->store,
						STORE_WATCH_MAILBOX, mb->id);
	enum store_result r;
	bool *match = NULL;
	uint32_t *uids;
	size_t n = 0;
	uint64_t top = 0;

	memset(&box, 0, sizeof(box));
	r = imap_view_load(job->store, mb, counter, job->cache_max, &box,
			   error_r);
	if (r != STORE_OK)
		return r;
	box.id = mb->id;
	/* the search index is the owner's (a shared mailbox's messages are
	 * its owner's) */
	if (owner_id != job->index_account) {
		imap_search_program_forget_lookups(&job->prog);
		job->index_account = owner_id;
	}
	if (imap_search_eval_box(job->store, owner_id, &job->prog,
				 &box, &match, job->error,
				 sizeof(job->error)) < 0) {
		imap_view_release(&box);
		free(match);
		*error_r = job->error;
		return STORE_E_TEMP;
	}
	uids = xcalloc(box.count + 1, sizeof(*uids));
	for (size_t i = 0; i < box.count; i++) {
		if (!match[i])
			continue;
		uids[n++] = box.msgs[i].uid;
		if (box.msgs[i].modseq > top)
			top = box.msgs[i].modseq;
	}
	/* RFC 7377 2: no ESEARCH for a mailbox without matches */
	if (n > 0)
		imap_esearch_write(&job->out, job->tag, name,
				   job->write_flags, mb->uidvalidity, true,
				   &job->prog, job->prog.ret, uids, n, top);
	free(uids);
	free(match);
	imap_view_release(&box);
	return STORE_OK;
}

/* Whether the sources name a mailbox shared with the user (RFC 4314),
 * name its "Other Users" name: never through "personal" or "inboxes",
 * which are the personal namespace's (RFC 5465 6). */
static bool
wanted_shared(const struct esearch_job *job,
	      const struct store_acl_shared *sh, const char *name,
	      char *const *subs, size_t n_subs)
{
	if ((job->filters & ES_SELECTED) && sh->mailbox_id == job->selected_id)
		return true;
	/* RFC 4314 4: enumerating needs "l" as LIST, searching "r" as
	 * SELECT; the others are skipped as if they did not exist */
	if (imap_acl_check(true, sh->rights, STORE_ACL_LOOKUP |
			   STORE_ACL_READ) != IMAP_ACL_OK)
		return false;
	for (size_t i = 0; (job->filters & ES_SUBSCRIBED) && i < n_subs; i++)
		if (strcmp(subs[i], name) == 0)
			return true;
	for (size_t i = 0; i < job->n_names; i++)
		if (name_matches(&job->names[i], name))
			return true;
	return false;
}

/* The shared mailboxes the sources name, with their client names
 * (names_r[i] for shared_r[i]; the others' entries are NULL). */
static enum store_result
shared_load(struct esearch_job *job, struct store_acl_shared **shared_r,
	    size_t *count_r, char ***names_r, const char **error_r)
{
	char **subs = NULL, **names;
	size_t n_subs = 0;
	enum store_result r;

	*names_r = NULL;
	r = store_acl_shared_list(job->store, job->account_id, shared_r,
				  count_r, error_r);
	if (r != STORE_OK)
		return r;
	/* a grantee's subscription to a shared name is one to a name
	 * without a mailbox of its own */
	if (job->filters & ES_SUBSCRIBED) {
		r = store_subscription_list(job->store, job->account_id,
					    &subs, &n_subs, error_r);
		if (r != STORE_OK)
			return r;
	}
	names = xcalloc(*count_r + 1, sizeof(*names));
	for (size_t i = 0; i < *count_r; i++) {
		const struct store_acl_shared *sh = &(*shared_r)[i];
		char *name = imap_acl_client_name(true, sh->owner, sh->name);

		if (wanted_shared(job, sh, name, subs, n_subs)) {
			names[i] = name;
			job->n_boxes++;
		} else {
			free(name);
		}
	}
	store_strv_free(&subs, n_subs);
	*names_r = names;
	return STORE_OK;
}

/* Searches the shared mailboxes shared_load() picked. */
static enum store_result
shared_search(struct esearch_job *job, const struct store_acl_shared *sh,
	      size_t count, char *const *names, const char **error_r)
{
	enum store_result r = STORE_OK;

	for (size_t i = 0; i < count && r == STORE_OK; i++) {
		struct store_mailbox *mb = NULL;

		if (names[i] == NULL)
			continue;
		r = store_mailbox_lookup(job->store, sh[i].owner_id,
					 sh[i].name, &mb, error_r);
		if (r == STORE_E_NOT_FOUND) {
			/* deleted or renamed meanwhile */
			r = STORE_OK;
			continue;
		}
		if (r == STORE_OK)
			r = search_one(job, mb, names[i], sh[i].owner_id,
				       error_r);
		store_mailbox_free(&mb);
	}
	return r;
}

static void
esearch_work(void *ctx)
{
	struct esearch_job *job = ctx;
	struct store_mailbox *boxes = NULL;
	struct store_acl_shared *shared = NULL;
	char **names = NULL;
	size_t count = 0, n_shared = 0;
	const char *error = NULL;

	job->index_account = job->account_id;
	job->result = store_mailbox_list(job->store, job->account_id, &boxes,
					 &count, &error);
	if (job->result != STORE_OK)
		goto fail;
	for (size_t i = 0; i < count; i++)
		if (wanted(job, &boxes[i]))
			job->n_boxes++;
	job->result = shared_load(job, &shared, &n_shared, &names, &error);
	if (job->result != STORE_OK)
		goto fail;
	/* counted before any is searched: a refused command does no work */
	if (job->n_boxes > job->max) {
		job->too_many = true;
		goto out;
	}
	for (size_t i = 0; i < count && job->result == STORE_OK; i++)
		if (wanted(job, &boxes[i]))
			job->result = search_one(job, &boxes[i],
						 boxes[i].name,
						 job->account_id, &error);
	if (job->result == STORE_OK)
		job->result = shared_search(job, shared, n_shared, names,
					    &error);
	if (job->result != STORE_OK)
		goto fail;
out:
	store_mailboxes_free(&boxes, count);
	store_strv_free(&names, n_shared);
	store_acl_shared_free(&shared, n_shared);
	return;
fail:
	imap_copy_error(job->error, sizeof(job->error), error);
	store_mailboxes_free(&boxes, count);
	store_strv_free(&names, n_shared);
	store_acl_shared_free(&shared, n_shared);
}

static void
esearch_done(struct imap_cmd *cmd)
{
	struct esearch_job *job = cmd->ctx;
	struct imap_session *s = cmd->s;

	if (job->too_many) {
		(void)imap_cmd_no(cmd, "[LIMIT] ESEARCH would search %zu "
				  "mailboxes, more than %u", job->n_boxes,
				  job->max);
		return;
	}
	if (job->result != STORE_OK) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
	buf_append(imap_session_out(s), job->out.data, job->out.len);
	imap_session_flush(s);
	(void)imap_cmd_ok(cmd, "ESEARCH completed");
}

static void
add_name(struct esearch_job *job, char *name, int kind)
{
	job->names = xreallocarray(job->names, job->n_names + 1,
				   sizeof(*job->names));
	job->names[job->n_names].name = name;
	job->names[job->n_names++].kind = kind;
}

/* IN (filter ...) of RFC 7377 2: returns 0, or -1 with a static
 * *error_r (BAD). */
static int
parse_sources(struct imap_session *s, const struct imap_arg *list,
	      struct esearch_job *job, const char **error_r)
{
	*error_r = "IN takes a list of mailbox filters";
	if (list->type != IMAP_ARG_LIST || list->list_count == 0)
		return -1;
	for (size_t i = 0; i < list->list_count; i++) {
		const struct imap_arg *a = &list->list[i];
		int kind;

		if (a->type == IMAP_ARG_LIST) {
			/* scope options: RFC 7377 defines none */
			*error_r = "Unknown ESEARCH scope option";
			return -1;
		}
		if (imap_arg_atom_equals(a, "SELECTED")) {
			job->filters |= ES_SELECTED;
			continue;
		}
		if (imap_arg_atom_equals(a, "SELECTED-DELAYED")) {
			/* RFC 7377 2.2: NOTIFY's filter, not valid here */
			*error_r = "selected-delayed is not an ESEARCH source";
			return -1;
		}
		if (imap_arg_atom_equals(a, "INBOXES")) {
			job->filters |= ES_INBOXES;
			continue;
		}
		if (imap_arg_atom_equals(a, "PERSONAL")) {
			job->filters |= ES_PERSONAL;
			continue;
		}
		if (imap_arg_atom_equals(a, "SUBSCRIBED")) {
			job->filters |= ES_SUBSCRIBED;
			continue;
		}
		if (imap_arg_atom_equals(a, "MAILBOXES"))
			kind = ES_N_MAILBOX;
		else if (imap_arg_atom_equals(a, "SUBTREE"))
			kind = ES_N_SUBTREE;
		else if (imap_arg_atom_equals(a, "SUBTREE-ONE"))
			kind = ES_N_SUBTREE_ONE;
		else {
			*error_r = "Unknown ESEARCH mailbox filter";
			return -1;
		}
		if (++i >= list->list_count) {
			*error_r = "The mailbox filter needs mailbox names";
			return -1;
		}
		a = &list->list[i];
		/* one-or-more-mailbox: a name or a list of them */
		if (a->type == IMAP_ARG_LIST) {
			if (a->list_count == 0) {
				*error_r = "Empty mailbox list";
				return -1;
			}
			for (size_t k = 0; k < a->list_count; k++) {
				char *name;

				if (imap_mailbox_arg(s, &a->list[k], &name,
						     error_r) < 0)
					return -1;
				add_name(job, name, kind);
			}
		} else {
			char *name;

			if (imap_mailbox_arg(s, a, &name, error_r) < 0)
				return -1;
			add_name(job, name, kind);
		}
	}
	return 0;
}

enum imap_cmd_result
imap_cmd_esearch(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_search_limits lim = {
		.keys_max = s->set->search_keys_max,
		.depth_max = s->set->search_depth_max,
	};
	struct esearch_job *job = xcalloc(1, sizeof(*job));
	const struct imap_arg *args = cmd->args;
	size_t n_args = cmd->n_args;
	const char *error = NULL;
	bool selected_only;

	buf_init(&job->out);
	if (n_args > 0 && imap_arg_atom_equals(&args[0], "IN")) {
		if (n_args < 2 || parse_sources(s, &args[1], job, &error) < 0) {
			esearch_job_free(job);
			return imap_cmd_bad(cmd, "%s", error != NULL ? error :
					    "IN takes a list");
		}
		args += 2;
		n_args -= 2;
	} else {
		/* RFC 7377 2: no source options is "selected" */
		job->filters = ES_SELECTED;
	}
	if ((job->filters & ES_SELECTED) && s->box == NULL) {
		esearch_job_free(job);
		return imap_cmd_bad(cmd, "No mailbox is selected");
	}
	switch (imap_search_parse(args, n_args, &lim, &job->prog, &error)) {
	case IMAP_SEARCH_PARSE_OK:
		break;
	case IMAP_SEARCH_PARSE_BADCHARSET:
		esearch_job_free(job);
		return imap_cmd_no(cmd, "[BADCHARSET (UTF-8 US-ASCII)] %s",
				   error);
	default:
		esearch_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	/* ESEARCH always answers in ESEARCH form: no RETURN is ALL */
	if (!job->prog.has_return)
		job->prog.ret = IMAP_SEARCH_RET_ALL;
	if (s->uidonly && imap_search_program_uses_seq(&job->prog)) {
		esearch_job_free(job);
		return imap_cmd_bad(cmd, "[UIDREQUIRED] No message numbers "
				    "after ENABLE UIDONLY");
	}
	if (job->prog.has_modseq)
		s->condstore = true;
	selected_only = job->filters == ES_SELECTED && job->n_names == 0;
	if (selected_only) {
		/* the session's own view: sequence sets, "$" and SAVE mean
		 * what they mean in SEARCH */
		enum imap_cmd_result r =
			imap_search_esearch_selected(cmd, &job->prog);

		esearch_job_free(job);
		return r;
	}
	/* RFC 7377 2.2: SAVE only over the selected mailbox alone; message
	 * numbers and "$" belong to it too */
	if ((job->prog.ret & IMAP_SEARCH_RET_SAVE) ||
	    imap_search_program_uses_seq(&job->prog) ||
	    job->prog.uses_saved) {
		esearch_job_free(job);
		return imap_cmd_bad(cmd, "SAVE, message numbers and $ need IN "
				    "(selected) alone");
	}
	job->store = s->store;
	job->account_id = s->account_id;
	job->selected_id = s->box != NULL ? s->box->id : 0;
	job->max = s->set->multisearch_mailboxes_max;
	job->cache_max = (size_t)s->set->view_cache_messages;
	job->tag = xstrdup(cmd->tag);
	job->write_flags = s->utf8 ? IMAP_WRITE_UTF8 : 0;
	return imap_cmd_run_blocking(cmd, esearch_work, esearch_done, job,
				     esearch_job_free);
}
