/* SPDX-License-Identifier: MIT */
/*
 * METADATA and METADATA-SERVER (RFC 5464): GETMETADATA and SETMETADATA on
 * a mailbox of the account, one shared with it (RFC 4314: the rights of
 * imap_metadata_acl()) or the server (mailbox ""), kept in the
 * store. /private/specialuse reads the mailbox's SPECIAL-USE (RFC 6154 4,
 * read-only here); the server's /shared entries are the administrator's,
 * read-only over IMAP. Limits: [imap] metadata_* (docs/limits.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-acl.h"
#include "imap/imap-metadata.h"
#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/mem.h"

/* The one mailbox entry Herald makes itself (RFC 6154 4). */
#define ENTRY_SPECIALUSE "/private/specialuse"

struct metadata_job {
	struct store *store;
	int64_t account_id;
	char *mailbox;		/* UTF-8; NULL: the server */
	struct imap_metadata_get get;
	struct imap_metadata_set set;
	struct store_metadata_limits limits;
	enum store_role role;
	/* the rights check refused (NOPERM); set_shared: for a "/shared"
	 * entry (needs "w" too) */
	bool denied;
	bool set_shared;
	struct store_metadata_value *v;
	size_t n_v;
	enum store_result result;
	char error[200];
};

static void
metadata_job_free(void *ctx)
{
	struct metadata_job *job = ctx;

	free(job->mailbox);
	imap_metadata_get_deinit(&job->get);
	imap_metadata_set_deinit(&job->set);
	store_metadata_values_free(&job->v, job->n_v);
	free(job);
}

/* The mailbox argument: "" is the server (*name_r NULL), else a
 * mailbox name as the store has it. */
static int
mailbox_arg(const struct imap_session *s, const struct imap_arg *arg,
	    char **name_r, const char **error_r)
{
	const char *str;
	size_t len;

	*name_r = NULL;
	if (imap_arg_get_astring(arg, &str, &len) && len == 0)
		return 0;
	return imap_mailbox_arg(s, arg, name_r, error_r);
}

/* The mailbox's id (and role) for the job, or the server's 0: one of
 * the account's, or another account's it has the rights for (a mailbox
 * it may not see is STORE_E_NOT_FOUND, as one that does not exist; one it
 * sees without the right sets job->denied). */
static enum store_result
job_mailbox(struct metadata_job *job, int64_t *id_r, const char **error_r)
{
	struct imap_acl_box box;
	enum imap_acl_verdict verdict;
	enum store_result r;

	*id_r = STORE_METADATA_SERVER;
	if (job->mailbox == NULL)
		return STORE_OK;
	r = imap_acl_open(job->store, job->account_id, job->mailbox, 0, &box,
			  &verdict, error_r);
	if (r != STORE_OK) {
		imap_acl_box_deinit(&box);
		return r;
	}
	verdict = imap_metadata_acl(box.mb != NULL, box.rights,
				    job->set_shared);
	if (verdict == IMAP_ACL_OK) {
		*id_r = box.mb->id;
		job->role = box.mb->role;
	} else if (verdict == IMAP_ACL_DENIED) {
		job->denied = true;
	} else {
		*error_r = "no such mailbox";
		r = STORE_E_NOT_FOUND;
	}
	imap_acl_box_deinit(&box);
	return r;
}

static void
job_fail(struct metadata_job *job, enum store_result r, const char *error)
{
	job->result = r;
	imap_copy_error(job->error, sizeof(job->error), error);
}

/* Answers a job that failed in the store. */
static void
store_failed(struct imap_cmd *cmd, const struct metadata_job *job)
{
	if (job->denied) {
		if (job->set_shared)
			(void)imap_acl_no(cmd, STORE_ACL_LOOKUP |
					  STORE_ACL_WRITE);
		else
			(void)imap_cmd_no(cmd, "[NOPERM] Permission denied"
					  " (needs the l right and one of"
					  " r s w i p)");
		return;
	}
	switch (job->result) {
	case STORE_E_NOT_FOUND:
	case STORE_E_INVALID:
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such mailbox");
		break;
	case STORE_E_OVER_QUOTA:
		/* RFC 5464 4.3: too many entries (or octets, docs) */
		(void)imap_cmd_no(cmd, "[METADATA TOOMANY] %s", job->error);
		break;
	default:
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		break;
	}
}

/* ---- GETMETADATA ---- */

static void
get_work(void *ctx)
{
	struct metadata_job *job = ctx;
	const char *error = NULL;
	enum store_result r;
	int64_t id;

	r = job_mailbox(job, &id, &error);
	if (r == STORE_OK && job->denied)
		return;
	if (r == STORE_OK)
		r = store_metadata_get(job->store, job->account_id, id,
				       (const char *const *)job->get.entries,
				       job->get.n_entries, job->get.depth,
				       job->get.maxsize, &job->v, &job->n_v,
				       &error);
	if (r != STORE_OK)
		job_fail(job, r, error);
	else
		job->result = STORE_OK;
}

/* One entry of the answer. */
struct answer_item {
	const char *name;
	const uint8_t *value;	/* NULL: NIL */
	size_t len;
};

static int
cmp_item(const void *a, const void *b)
{
	const struct answer_item *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Whether request (with depth) asks for entry name. */
static bool
request_covers(const char *request, uint32_t depth, const char *name)
{
	size_t n = strlen(request);

	if (strcmp(request, name) == 0)
		return true;
	if (depth == 0 || strncmp(request, name, n) != 0 || name[n] != '/')
		return false;
	return depth == IMAP_METADATA_DEPTH_INFINITY ||
		strchr(name + n + 1, '/') == NULL;
}

static bool
items_have(const struct answer_item *items, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(items[i].name, name) == 0)
			return true;
	return false;
}

/* Whether the store has entry name (perhaps over MAXSIZE). */
static bool
value_exists(const struct metadata_job *job, const char *name)
{
	for (size_t i = 0; i < job->n_v; i++)
		if (strcmp(job->v[i].name, name) == 0)
			return true;
	return false;
}

static void
get_done(struct imap_cmd *cmd)
{
	struct metadata_job *job = cmd->ctx;
	const struct imap_metadata_get *g = &job->get;
	struct imap_session *s = cmd->s;
	struct buf *out = imap_session_out(s);
	unsigned wflags = s->utf8 ? IMAP_WRITE_UTF8 : 0;
	struct answer_item *items;
	const char *special = NULL, *error;
	uint64_t longest = 0;
	size_t n = 0, start = out->len;

	if (job->result != STORE_OK || job->denied) {
		store_failed(cmd, job);
		return;
	}
	/* the store's entries, the special-use one, and with DEPTH 0 a
	 * NIL for each entry asked for that has no value (the client
	 * learns it is not set; RFC 5464 4.2.2's example lists no NIL for
	 * the entry whose children it asked for) */
	items = xcalloc(job->n_v + 1 + g->n_entries, sizeof(*items));
	for (size_t i = 0; i < job->n_v; i++) {
		if (job->v[i].value == NULL) {
			/* 4.2.1: over MAXSIZE, left out but counted */
			if (job->v[i].len > longest)
				longest = job->v[i].len;
			continue;
		}
		items[n++] = (struct answer_item){ job->v[i].name,
						   job->v[i].value,
						   job->v[i].len };
	}
	if (job->mailbox != NULL)
		special = store_role_imap(job->role);
	for (size_t i = 0; special != NULL && i < g->n_entries; i++) {
		if (!request_covers(g->entries[i], g->depth,
				    ENTRY_SPECIALUSE))
			continue;
		if (strlen(special) > g->maxsize) {
			if (strlen(special) > longest)
				longest = strlen(special);
		} else {
			items[n++] = (struct answer_item){
				ENTRY_SPECIALUSE, (const uint8_t *)special,
				strlen(special) };
		}
		break;
	}
	for (size_t i = 0; g->depth == 0 && i < g->n_entries; i++) {
		const char *e = g->entries[i];

		/* a root is no entry; one over MAXSIZE is not NIL */
		if (strchr(e + 1, '/') == NULL || items_have(items, n, e))
			continue;
		if ((special != NULL && strcmp(e, ENTRY_SPECIALUSE) == 0) ||
		    value_exists(job, e))
			continue;
		items[n++] = (struct answer_item){ e, NULL, 0 };
	}
	qsort(items, n, sizeof(*items), cmp_item);

	if (n > 0) {
		struct imap_write_list list;

		buf_puts(out, "* METADATA ");
		if (job->mailbox == NULL) {
			buf_puts(out, "\"\"");
		} else if (imap_write_mailbox(out, job->mailbox,
					      strlen(job->mailbox), wflags,
					      &error) < 0) {
			buf_truncate(out, start);
			free(items);
			(void)imap_cmd_no(cmd, "[CANNOT] %s", error);
			return;
		}
		buf_putc(out, ' ');
		imap_write_list_begin(&list, out);
		for (size_t i = 0; i < n; i++) {
			imap_write_astring(imap_write_list_item(&list),
					   items[i].name,
					   strlen(items[i].name), 0);
			buf_putc(out, ' ');
			/* values are octets (RFC 5464 5: nstring /
			 * literal8): a NUL makes a literal8 */
			imap_write_nstring(out, (const char *)items[i].value,
					   items[i].len,
					   wflags | IMAP_WRITE_BINARY);
		}
		imap_write_list_end(&list);
		buf_puts(out, "\r\n");
	}
	free(items);
	if (longest > 0)
		(void)imap_cmd_ok(cmd, "[METADATA LONGENTRIES %llu]"
				  " GETMETADATA completed",
				  (unsigned long long)longest);
	else
		(void)imap_cmd_ok(cmd, "GETMETADATA completed");
}

/* GETMETADATA [options] mailbox entries (RFC 5464 4.2) */
enum imap_cmd_result
imap_cmd_getmetadata(struct imap_cmd *cmd)
{
	struct metadata_job *job = xcalloc(1, sizeof(*job));
	const char *error;

	if (imap_metadata_get_parse(cmd->args, cmd->n_args, &job->get,
				    &error) < 0 ||
	    mailbox_arg(cmd->s, job->get.mailbox, &job->mailbox,
			&error) < 0) {
		metadata_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	job->store = cmd->s->store;
	job->account_id = cmd->s->account_id;
	return imap_cmd_run_blocking(cmd, get_work, get_done, job,
				     metadata_job_free);
}

/* ---- SETMETADATA ---- */

static void
set_work(void *ctx)
{
	struct metadata_job *job = ctx;
	struct store_metadata_change *changes;
	const char *error = NULL;
	enum store_result r;
	int64_t id;

	r = job_mailbox(job, &id, &error);
	if (r != STORE_OK) {
		job_fail(job, r, error);
		return;
	}
	if (job->denied)
		return;
	changes = xcalloc(job->set.n_pairs, sizeof(*changes));
	for (size_t i = 0; i < job->set.n_pairs; i++)
		changes[i] = (struct store_metadata_change){
			job->set.pairs[i].name, job->set.pairs[i].value,
			job->set.pairs[i].len };
	r = store_metadata_set(job->store, job->account_id, id, changes,
			       job->set.n_pairs, &job->limits, &error);
	free(changes);
	if (r != STORE_OK)
		job_fail(job, r, error);
	else
		job->result = STORE_OK;
}

static void
set_done(struct imap_cmd *cmd)
{
	struct metadata_job *job = cmd->ctx;

	if (job->result != STORE_OK || job->denied) {
		store_failed(cmd, job);
		return;
	}
	(void)imap_cmd_ok(cmd, "SETMETADATA completed");
}

/* SETMETADATA mailbox (entry value ...) (RFC 5464 4.3) */
enum imap_cmd_result
imap_cmd_setmetadata(struct imap_cmd *cmd)
{
	const struct config_imap *set = cmd->s->set;
	struct metadata_job *job = xcalloc(1, sizeof(*job));
	enum imap_cmd_result res;
	const char *error;

	if (imap_metadata_set_parse(cmd->args, cmd->n_args, &job->set,
				    &error) < 0 ||
	    mailbox_arg(cmd->s, job->set.mailbox, &job->mailbox,
			&error) < 0) {
		metadata_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	for (size_t i = 0; i < job->set.n_pairs; i++) {
		const struct imap_metadata_pair *p = &job->set.pairs[i];

		if (p->value != NULL && p->len > set->metadata_value_max) {
			res = imap_cmd_no(cmd, "[METADATA MAXSIZE %llu] Value"
					  " too long",
					  (unsigned long long)
					  set->metadata_value_max);
			metadata_job_free(job);
			return res;
		}
		if (job->mailbox == NULL &&
		    strncmp(p->name, "/shared", 7) == 0) {
			metadata_job_free(job);
			return imap_cmd_no(cmd, "[NOPERM] The server's shared"
					   " entries are the"
					   " administrator's");
		}
		/* every reader of the mailbox sees a "/shared" entry:
		 * on another account's mailbox changing one needs "w"
		 * too (imap_metadata_acl) */
		if (strncmp(p->name, "/shared", 7) == 0)
			job->set_shared = true;
		if (job->mailbox != NULL &&
		    strcmp(p->name, ENTRY_SPECIALUSE) == 0) {
			metadata_job_free(job);
			return imap_cmd_no(cmd, "[CANNOT] " ENTRY_SPECIALUSE
					   " is the mailbox's SPECIAL-USE,"
					   " set with CREATE (USE (...))");
		}
	}
	job->store = cmd->s->store;
	job->account_id = cmd->s->account_id;
	job->limits = (struct store_metadata_limits){
		.mailbox_entries_max = set->metadata_mailbox_entries_max,
		.account_entries_max = set->metadata_account_entries_max,
		.account_bytes_max = set->metadata_account_size_max,
	};
	return imap_cmd_run_blocking(cmd, set_work, set_done, job,
				     metadata_job_free);
}
