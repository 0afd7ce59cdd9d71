/* SPDX-License-Identifier: MIT */
/*
 * STORE and UID STORE (RFC 9051 6.4.6): FLAGS, +FLAGS and -FLAGS with
 * .SILENT, system flags and keywords changed in one store operation; the
 * new flags of every message go out as untagged FETCH (with UID for UID
 * STORE), after a FLAGS response for any keyword the client was not told
 * about yet. (UNCHANGEDSINCE n) (RFC 7162 3.1.3) is checked by the store
 * in the write itself; the messages that failed it go in [MODIFIED set].
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "lib/mem.h"

struct store_job {
	/* the selected mailbox's keywords a FLAGS replace removes, when
	 * the rights turned it into add and remove (store_rights) */
	char **kw_rm;
	size_t n_kw_rm;
	struct store *store;
	int64_t mailbox_id;
	uint32_t *uids;
	size_t count;
	struct imap_flag_args flags;
	struct store_flags_change change;
	bool silent;
	struct store_flags_result res;
	enum store_result result;
	char error[200];
};

static void
store_job_free(void *ctx)
{
	struct store_job *job = ctx;

	store_flags_result_deinit(&job->res);
	imap_flag_args_deinit(&job->flags);
	store_strv_free(&job->kw_rm, job->n_kw_rm);
	free(job->uids);
	free(job);
}

static void
store_work(void *ctx)
{
	struct store_job *job = ctx;
	const char *error = NULL;

	job->result = store_flags_store(job->store, job->mailbox_id, job->uids,
					job->count, &job->change, &job->res,
					&error);
	if (job->result != STORE_OK)
		imap_copy_error(job->error, sizeof(job->error), error);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* RFC 7162 3.1.3: the tagged OK names the messages that failed the
 * UNCHANGEDSINCE test, by number for STORE, by UID for UID STORE. */
static enum imap_cmd_result
store_ok_modified(struct imap_cmd *cmd,
		     const struct store_flags_result *res)
{
	struct imap_mailbox *box = cmd->s->box;
	uint32_t *set = xcalloc(res->n_modified, sizeof(*set));
	enum imap_cmd_result r;
	struct buf b;
	size_t n = 0;

	for (size_t i = 0; i < res->n_modified; i++) {
		ssize_t idx;

		if (cmd->uid) {
			set[n++] = res->modified[i];
			continue;
		}
		idx = imap_mailbox_find_uid(box, res->modified[i]);
		if (idx >= 0)
			set[n++] = (uint32_t)idx + 1;
	}
	qsort(set, n, sizeof(*set), cmp_u32);
	buf_init(&b);
	imap_write_uid_set(&b, set, n);
	r = imap_cmd_ok(cmd, "[MODIFIED %s] Conditional %s failed for some "
			"messages", b.data, cmd->uid ? "UID STORE" : "STORE");
	buf_deinit(&b);
	free(set);
	return r;
}

static void
store_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct store_job *job = cmd->ctx;
	struct imap_mailbox *box = s->box;
	struct buf *out = imap_session_out(s);
	const struct store_keywords *kw = &job->res.kw;
	bool added = false;
	size_t mark;

	if (job->result == STORE_E_INVALID)
		/* the keywords were checked: only the limit is left */
		return (void)imap_cmd_no(cmd, "[LIMIT] %s", job->error);
	if (job->result == STORE_E_NOT_FOUND)
		return (void)imap_cmd_no(cmd, "[NONEXISTENT] The mailbox no "
					 "longer exists");
	if (job->result != STORE_OK)
		return (void)imap_cmd_store_error(cmd, job->result,
						  job->error);
	imap_mailbox_own(box);
	/* The FLAGS response, if one is needed, goes before the FETCHes:
	 * write those after a mark and move them behind it. */
	mark = out->len;
	for (size_t i = 0; i < job->res.count; i++) {
		const struct store_flags_msg *m = &job->res.msgs[i];
		ssize_t idx = imap_mailbox_find_uid(box, m->uid);
		const char **names;
		struct imap_msg *msg;

		if (idx < 0)
			continue;
		msg = &box->msgs[idx];
		msg->flags = m->flags;
		msg->modseq = m->modseq;
		names = xcalloc(m->n_kw + 1, sizeof(*names));
		for (uint32_t k = 0; k < m->n_kw; k++)
			names[k] = kw->names[kw->refs[m->kw_first + k]];
		imap_msg_set_keywords(box, msg, names, m->n_kw, &added);
		free(names);
		/* RFC 9051 6.4.6: .SILENT asks for no FETCH of the flags set;
		 * RFC 7162 3.2: a CONDSTORE session still gets the new
		 * MODSEQ of what changed */
		if (job->silent && s->condstore && m->changed) {
			imap_write_fetch_start(s, out, (size_t)idx + 1,
					       m->uid);
			if (cmd->uid)
				buf_printf(out, "UID %u ", m->uid);
			buf_printf(out, "MODSEQ (%llu))\r\n",
				   (unsigned long long)msg->modseq);
			continue;
		}
		if (job->silent)
			continue;
		imap_write_fetch_start(s, out, (size_t)idx + 1, m->uid);
		if (cmd->uid)
			buf_printf(out, "UID %u ", m->uid);
		buf_puts(out, "FLAGS ");
		imap_msg_write_flags(s, box, msg, out);
		/* RFC 7162 3.2 */
		if (s->condstore)
			buf_printf(out, " MODSEQ (%llu)",
				   (unsigned long long)msg->modseq);
		buf_puts(out, ")\r\n");
	}
	if (job->res.count > 0 && s->condstore) {
		s->modseq_sent = true;
		imap_sync_write_held_modseq(s);
	}
	if (added) {
		char *fetches = xstrndup(out->data + mark, out->len - mark);
		size_t len = out->len - mark;

		buf_truncate(out, mark);
		imap_mailbox_write_flags_update(s);
		buf_append(out, fetches, len);
		free(fetches);
	}
	if (job->res.n_modified > 0) {
		(void)store_ok_modified(cmd, &job->res);
		return;
	}
	(void)imap_cmd_ok(cmd, "%s completed", cmd->uid ? "UID STORE" :
			  "STORE");
}

/* "FLAGS", "+FLAGS.SILENT", ... */
static int
store_item(const struct imap_arg *arg, struct store_job *job)
{
	const char *s;
	size_t len;

	if (arg->type != IMAP_ARG_ATOM)
		return -1;
	s = arg->str;
	len = arg->len;
	if (len > 7 && strcasecmp(s + len - 7, ".SILENT") == 0) {
		job->silent = true;
		len -= 7;
	}
	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		s++;
		len--;
	} else {
		job->change.replace = true;
	}
	if (len != 5 || strncasecmp(s, "FLAGS", 5) != 0)
		return -1;
	return 0;
}

/* STORE's modifier list (RFC 4466 2.5): (UNCHANGEDSINCE n), RFC 7162
 * 3.1.3, n a mod-sequence-value (0 allowed: it fails for every
 * message). Returns 0, or -1 with a static *error_r. */
static int
store_modifiers(const struct imap_arg *list, struct store_job *job,
		const char **error_r)
{
	if (list->list_count == 0) {
		*error_r = "Empty STORE modifier list";
		return -1;
	}
	for (size_t i = 0; i < list->list_count; i++) {
		const struct imap_arg *a = &list->list[i];

		if (!imap_arg_atom_equals(a, "UNCHANGEDSINCE") ||
		    job->change.if_unchanged) {
			*error_r = "Unknown STORE modifier";
			return -1;
		}
		if (i + 1 >= list->list_count ||
		    !imap_arg_get_number64(&list->list[i + 1],
					   &job->change.unchanged_since) ||
		    job->change.unchanged_since > INT64_MAX) {
			*error_r = "UNCHANGEDSINCE needs a mod-sequence";
			return -1;
		}
		job->change.if_unchanged = true;
		i++;
	}
	return 0;
}

/* RFC 4314 4: \Seen needs "s", \Deleted "t", other flags and keywords
 * "w". A STORE that may change at least one of its flags changes those
 * and leaves the others (the RFC's SHOULD: clients handle a NO to STORE
 * badly); one that may change none is refused. A FLAGS replace becomes
 * an add and a remove of what the rights allow, so a flag the user may
 * not touch stays as it is. Returns 0, or -1 with the rights needed. */
static int
store_rights(const struct imap_mailbox *box, struct store_job *job,
	     unsigned *need_r)
{
	struct store_flags_change *ch = &job->change;
	uint32_t allowed = imap_acl_flags_allowed(box->rights);
	bool kw_ok = imap_acl_keywords_allowed(box->rights);
	uint32_t flags = job->flags.flags;
	unsigned need = 0;

	if (box->rights == STORE_ACL_ALL)
		return 0;
	if (flags & STORE_FLAG_SEEN)
		need |= STORE_ACL_SEEN;
	if (flags & STORE_FLAG_DELETED)
		need |= STORE_ACL_DELETE_MSG;
	if ((flags & ~(uint32_t)(STORE_FLAG_SEEN | STORE_FLAG_DELETED)) ||
	    job->flags.n_keywords > 0)
		need |= STORE_ACL_WRITE;
	if (ch->replace && need == 0)
		/* FLAGS () clears whatever the rights let it clear */
		need = box->rights & (STORE_ACL_SEEN | STORE_ACL_WRITE |
				      STORE_ACL_DELETE_MSG);
	*need_r = need != 0 ? need : STORE_ACL_WRITE;
	/* the selected mailbox exists: "l" does not hide it here */
	if ((need & box->rights) == 0 &&
	    imap_acl_check_selected(box, need) != IMAP_ACL_OK)
		return -1;
	if (ch->replace) {
		ch->replace = false;
		ch->add = flags & allowed;
		ch->remove = allowed & ~flags;
		if (kw_ok) {
			job->kw_rm = xcalloc(box->n_keywords + 1,
					     sizeof(*job->kw_rm));
			for (size_t i = 0; i < box->n_keywords; i++) {
				bool keep = false;

				for (size_t j = 0; j < job->flags.n_keywords;
				     j++)
					if (strcasecmp(box->keywords[i],
						       job->flags.keywords[j])
					    == 0)
						keep = true;
				if (!keep)
					job->kw_rm[job->n_kw_rm++] =
						xstrdup(box->keywords[i]);
			}
			ch->kw_remove = (const char *const *)job->kw_rm;
			ch->n_kw_remove = job->n_kw_rm;
		}
	} else {
		ch->add &= allowed;
		ch->remove &= allowed;
	}
	if (!kw_ok) {
		ch->kw_add = NULL;
		ch->n_kw_add = 0;
		ch->kw_remove = NULL;
		ch->n_kw_remove = 0;
	}
	return 0;
}

enum imap_cmd_result
imap_cmd_store(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *args = cmd->args;
	struct store_job *job;
	const struct imap_arg *flags;
	size_t *idx = NULL, n = 0, n_flags;
	const char *error;
	unsigned need = 0;
	bool remove;

	if (cmd->n_args < 3)
		return imap_cmd_bad(cmd, "%s takes a sequence set, an item "
				    "and flags", cmd->name);
	job = xcalloc(1, sizeof(*job));
	if (args[1].type == IMAP_ARG_LIST) {
		if (store_modifiers(&args[1], job, &error) < 0) {
			store_job_free(job);
			return imap_cmd_bad(cmd, "%s", error);
		}
		/* RFC 7162 3.1: UNCHANGEDSINCE turns CONDSTORE on, so the
		 * FETCHes from here on carry MODSEQ */
		s->condstore = true;
		/* the rest as if the modifiers were not there */
		args++;
		if (cmd->n_args < 4) {
			store_job_free(job);
			return imap_cmd_bad(cmd, "%s takes a sequence set, an "
					    "item and flags", cmd->name);
		}
	}
	if (store_item(&args[1], job) < 0) {
		store_job_free(job);
		return imap_cmd_bad(cmd, "Invalid STORE item: FLAGS, +FLAGS "
				    "or -FLAGS, optionally .SILENT");
	}
	remove = args[1].str[0] == '-';
	/* RFC 9051 9: store-att-flags takes a flag-list or flags with no
	 * parentheses */
	n_flags = cmd->n_args - 2 - (size_t)(args - cmd->args);
	if (n_flags == 1 && args[2].type == IMAP_ARG_LIST) {
		flags = args[2].list;
		n_flags = args[2].list_count;
	} else {
		flags = &args[2];
	}
	if (imap_flag_args_parse(flags, n_flags, false, &job->flags,
				 &error) < 0) {
		store_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	if (remove) {
		job->change.remove = job->flags.flags;
		job->change.kw_remove = job->flags.keywords;
		job->change.n_kw_remove = job->flags.n_keywords;
	} else {
		job->change.add = job->flags.flags;
		job->change.kw_add = job->flags.keywords;
		job->change.n_kw_add = job->flags.n_keywords;
		job->change.keywords_max = s->set->keywords_max;
		if (s->set->keywords_max > 0 &&
		    s->box->n_keywords +
		    imap_mailbox_keywords_new(s->box, job->flags.keywords,
					      job->flags.n_keywords) >
		    s->set->keywords_max) {
			store_job_free(job);
			return imap_cmd_no(cmd, "[LIMIT] A mailbox takes at "
					   "most %u keywords",
					   s->set->keywords_max);
		}
	}
	if (store_rights(s->box, job, &need) < 0) {
		store_job_free(job);
		return imap_acl_no(cmd, need);
	}
	if (imap_session_seqset(s, &cmd->args[0], cmd->uid, &idx, &n,
				&error) < 0) {
		store_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	if (n == 0) {
		store_job_free(job);
		return imap_cmd_ok(cmd, "%s completed (no messages)",
				   cmd->uid ? "UID STORE" : "STORE");
	}
	job->uids = xcalloc(n, sizeof(*job->uids));
	for (size_t i = 0; i < n; i++)
		job->uids[i] = s->box->msgs[idx[i]].uid;
	free(idx);
	job->count = n;
	job->store = s->store;
	job->mailbox_id = s->box->id;
	return imap_cmd_run_blocking(cmd, store_work, store_done, job,
				     store_job_free);
}
