/* SPDX-License-Identifier: MIT */
/*
 * APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502): each message with
 * its flags, keywords and internal date, all of them stored in one
 * group-committed delivery (all or none) and durable before the OK, which
 * carries APPENDUID (RFC 4315). The literals were read by the parser, up
 * to [imap] literal_max for the whole command (APPENDLIMIT, RFC 7889).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-date.h"
#include "imap/imap-private.h"
#include "lib/mem.h"

struct append_msg {
	const char *data;	/* the literal, owned by the parser */
	size_t len;
	struct imap_flag_args flags;
	int64_t internal_date;	/* 0: now */
};

struct append_job {
	struct store *store;
	int64_t account_id;
	char *name;
	size_t keywords_max;
	struct append_msg *msgs;
	size_t count;
	/* out */
	uint32_t uidvalidity;
	uint32_t *uids;
	bool target_missing;
	enum store_result result;
	char error[200];
};

static void
append_job_free(void *ctx)
{
	struct append_job *job = ctx;

	for (size_t i = 0; i < job->count; i++)
		imap_flag_args_deinit(&job->msgs[i].flags);
	free(job->msgs);
	free(job->uids);
	free(job->name);
	free(job);
}

/* Octets the message takes with every bare LF made CRLF. */
static size_t
crlf_len(const char *p, size_t len)
{
	size_t n = len;

	for (size_t i = 0; i < len; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			n++;
	return n;
}

/*
 * A bare LF becomes CRLF before the message is stored (CLIENT-QUIRKS: mox
 * stored them and its RFC822.SIZE and BODY[] disagreed): what FETCH
 * serves, counts and sizes is then the one stored form, the same as mail
 * received over SMTP. A lone CR is left alone.
 */
static char *
crlf_copy(const char *p, size_t len, size_t out_len)
{
	char *q = xmalloc(out_len + 1);
	size_t k = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			q[k++] = '\r';
		q[k++] = p[i];
	}
	q[k] = '\0';
	return q;
}

static enum store_result
append_blob(struct store *store, const struct append_msg *m,
	    char id[STORE_BLOB_ID_LEN + 1], uint64_t *size_r,
	    const char **error_r)
{
	size_t len = crlf_len(m->data, m->len);
	enum store_result r;
	char *copy;

	*size_r = len;
	if (len == m->len)
		return store_blob_put(store, m->data, m->len, id, error_r);
	copy = crlf_copy(m->data, m->len, len);
	r = store_blob_put(store, copy, len, id, error_r);
	free(copy);
	return r;
}

static void
append_work(void *ctx)
{
	struct append_job *job = ctx;
	struct store_mailbox *mb = NULL;
	struct store_target *targets;
	char (*ids)[STORE_BLOB_ID_LEN + 1];
	const char *error = NULL;
	size_t failed = 0;

	job->result = store_mailbox_lookup(job->store, job->account_id,
					   job->name, &mb, &error);
	if (job->result == STORE_E_NOT_FOUND) {
		job->target_missing = true;
		return;
	}
	if (job->result != STORE_OK) {
		imap_copy_error(job->error, sizeof(job->error), error);
		return;
	}
	job->uidvalidity = mb->uidvalidity;
	targets = xcalloc(job->count, sizeof(*targets));
	ids = xcalloc(job->count, sizeof(*ids));
	for (size_t i = 0; i < job->count && job->result == STORE_OK; i++) {
		const struct append_msg *m = &job->msgs[i];
		struct store_target *t = &targets[i];

		job->result = append_blob(job->store, m, ids[i], &t->size,
					  &error);
		t->account_id = job->account_id;
		t->mailbox_id = mb->id;
		t->blob_id = ids[i];
		t->flags = m->flags.flags;
		t->keywords = m->flags.keywords;
		t->n_keywords = m->flags.n_keywords;
		t->keywords_max = job->keywords_max;
		t->internal_date = m->internal_date;
	}
	/* One operation: MULTIAPPEND is all or nothing (RFC 3502 3), and
	 * STORE_OK means the messages are on disk. */
	if (job->result == STORE_OK)
		job->result = store_deliver_queue(job->store, 0, targets,
						  job->count, NULL, &failed,
						  &error);
	if (job->result == STORE_OK) {
		job->uids = xcalloc(job->count, sizeof(*job->uids));
		for (size_t i = 0; i < job->count; i++)
			job->uids[i] = targets[i].uid;
	} else {
		if (job->result == STORE_E_NOT_FOUND)
			job->target_missing = true;
		imap_copy_error(job->error, sizeof(job->error), error);
		/* bodies put for messages that were not kept */
		for (size_t i = 0; i < job->count; i++)
			if (ids[i][0] != '\0')
				store_blob_forget(job->store, ids[i]);
	}
	free(ids);
	free(targets);
	store_mailbox_free(&mb);
}

static void
append_done(struct imap_cmd *cmd)
{
	struct append_job *job = cmd->ctx;
	struct buf code;

	if (job->target_missing)
		return (void)imap_cmd_no(cmd, "[TRYCREATE] No such mailbox");
	if (job->result == STORE_E_OVER_QUOTA)
		return (void)imap_cmd_no(cmd, "[OVERQUOTA] Over quota");
	if (job->result == STORE_E_INVALID)
		/* the flags were checked: the keyword limit is left */
		return (void)imap_cmd_no(cmd, "[LIMIT] %s", job->error);
	if (job->result != STORE_OK)
		return (void)imap_cmd_store_error(cmd, job->result,
						  job->error);
	buf_init(&code);
	imap_write_uid_set(&code, job->uids, job->count);
	(void)imap_cmd_ok(cmd, "[APPENDUID %u %s] APPEND completed",
			  job->uidvalidity, code.data);
	buf_deinit(&code);
}

/* One append-message (RFC 9051 9 append, RFC 3502 2): [flag-list]
 * [date-time] and the message, as a literal, a literal8 (RFC 3516) or
 * UTF8 (literal8) (RFC 6855 4). */
static int
append_parse_msg(const struct imap_arg *args, size_t n, size_t *i,
		 struct append_msg *m, const char **error_r)
{
	const struct imap_arg *a = &args[*i];

	if (a->type == IMAP_ARG_LIST) {
		if (imap_flag_args_parse(a->list, a->list_count, true,
					 &m->flags, error_r) < 0)
			return -1;
		if (++*i >= n)
			goto missing;
		a = &args[*i];
	}
	if (a->type == IMAP_ARG_STRING) {
		if (imap_date_time_parse(a->str, a->len,
					 &m->internal_date) < 0) {
			*error_r = "Invalid date-time";
			return -1;
		}
		if (++*i >= n)
			goto missing;
		a = &args[*i];
	}
	if (a->type == IMAP_ARG_ATOM && imap_arg_atom_equals(a, "UTF8") &&
	    *i + 1 < n && args[*i + 1].type == IMAP_ARG_LIST &&
	    args[*i + 1].list_count == 1 &&
	    (args[*i + 1].list[0].type == IMAP_ARG_LITERAL8 ||
	     args[*i + 1].list[0].type == IMAP_ARG_LITERAL)) {
		++*i;
		a = &args[*i].list[0];
	} else if (a->type != IMAP_ARG_LITERAL &&
		   a->type != IMAP_ARG_LITERAL8) {
		*error_r = "APPEND needs the message as a literal";
		return -1;
	}
	if (a->len == 0) {
		*error_r = "Empty message";
		return -1;
	}
	m->data = a->str;
	m->len = a->len;
	++*i;
	return 0;
missing:
	*error_r = "APPEND needs the message as a literal";
	return -1;
}

enum imap_cmd_result
imap_cmd_append(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct append_job *job;
	const char *error;
	size_t i = 1;

	if (cmd->n_args < 2)
		return imap_cmd_bad(cmd, "APPEND takes a mailbox and a "
				    "message");
	job = xcalloc(1, sizeof(*job));
	if (imap_mailbox_arg(s, &cmd->args[0], &job->name, &error) < 0) {
		append_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	/* at most one message per remaining argument */
	job->msgs = xcalloc(cmd->n_args, sizeof(*job->msgs));
	while (i < cmd->n_args) {
		struct append_msg *m = &job->msgs[job->count++];

		if (append_parse_msg(cmd->args, cmd->n_args, &i, m,
				     &error) < 0) {
			append_job_free(job);
			return imap_cmd_bad(cmd, "%s", error);
		}
	}
	job->store = s->store;
	job->account_id = s->account_id;
	job->keywords_max = s->set->keywords_max;
	return imap_cmd_run_blocking(cmd, append_work, append_done, job,
				     append_job_free);
}
