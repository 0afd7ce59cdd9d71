/* SPDX-License-Identifier: MIT */
/*
 * APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502): each message with
 * its flags, keywords and internal date, all of them stored in one
 * group-committed delivery (all or none) and durable before the OK, which
 * carries APPENDUID (RFC 4315). The literals were read by the parser, up
 * to [imap] literal_max for the whole command (APPENDLIMIT, RFC 7889).
 * REPLACE and UID REPLACE (RFC 8508) are an APPEND whose store operation
 * also expunges one message of the selected mailbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/worker.h"
#include "imap/imap-acl.h"
#include "imap/imap-date.h"
#include "imap/imap-private.h"
#include "lib/ioev.h"
#include "lib/mem.h"
#include "mail/thread-keys.h"

struct append_msg {
	const char *data;	/* the literal, owned by the parser */
	size_t len;
	size_t crlf_len;	/* with every bare LF made CRLF */
	struct imap_flag_args flags;
	int64_t internal_date;	/* 0: now */
	/* CATENATE (RFC 4469): the parts, then (pool) the message built
	 * from them, which data then points to */
	struct imap_cat_part *cat;
	size_t n_cat;
	char *built;
};

/* The loop's, then a pool thread's until it hands the job to the store,
 * then the writer's until append_stored, then the loop's again. */
struct append_job {
	struct store *store;
	int64_t account_id;
	char *name;
	/* a shared mailbox (imap-acl.h): its id, owner and the user's
	 * rights; a personal one is found by name inside the commit */
	int64_t mailbox_id;
	unsigned rights;
	enum imap_acl_verdict verdict;
	size_t keywords_max;
	struct append_msg *msgs;
	size_t count;
	struct imap_cmd *cmd;
	struct ioev_external *ext;
	/* REPLACE: the selected mailbox and the UID to expunge (0: APPEND) */
	int64_t replace_mailbox_id;
	uint32_t replace_uid;
	struct store_target *targets;
	struct mail_thread_keys *keys;	/* count of them, or NULL */
	char (*ids)[STORE_BLOB_ID_LEN + 1];
	/* CATENATE: what building needs, and what went wrong (the URL
	 * of [BADURL], sanitised) */
	struct imap_cat_ctx cat;
	char *user;
	enum imap_cat_result cat_result;
	char *badurl;
	bool cat_empty;
	/* out */
	enum store_result result;
	char error[200];
};

static void
append_job_free(void *ctx)
{
	struct append_job *job = ctx;

	/* bodies put for messages that were not kept (the session may have
	 * closed meanwhile: this runs either way, on the loop thread) */
	if (job->result != STORE_OK && job->ids != NULL) {
		for (size_t i = 0; i < job->count; i++)
			if (job->ids[i][0] != '\0')
				store_blob_forget(job->store, job->ids[i]);
	}
	for (size_t i = 0; i < job->count; i++) {
		imap_flag_args_deinit(&job->msgs[i].flags);
		free(job->msgs[i].cat);
		free(job->msgs[i].built);
	}
	free(job->user);
	free(job->badurl);
	free(job->msgs);
	for (size_t i = 0; job->keys != NULL && i < job->count; i++)
		mail_thread_keys_deinit(&job->keys[i]);
	free(job->keys);
	free(job->targets);
	free(job->ids);
	free(job->name);
	free(job);
}

/* Octets the message takes with every bare LF made CRLF (memchr: this
 * runs over every APPENDed octet). */
static size_t
crlf_len(const char *p, size_t len)
{
	const char *end = p + len, *q = p, *lf;
	size_t n = len;

	while ((lf = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (lf == p || lf[-1] != '\r')
			n++;
		q = lf + 1;
	}
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
	size_t len = m->crlf_len;
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

/* The writer thread: the messages are durable, or nothing was kept. */
static void
append_stored(void *ctx, enum store_result result, size_t failed,
	      const char *error)
{
	struct append_job *job = ctx;

	(void)failed;
	job->result = result;
	if (result != STORE_OK)
		imap_copy_error(job->error, sizeof(job->error), error);
	/* the loop may free job from here on */
	ioev_external_done(job->ext);
}

/* RFC 4469 5: [BADURL url]; url-resp-text has no "]" and no CTL. */
static char *
badurl_text(const struct imap_cat_part *p)
{
	size_t n = p->len < 1024 ? p->len : 1024;
	char *s = xstrndup(p->data, n);

	for (size_t i = 0; i < n; i++)
		if (s[i] == ']' || (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			s[i] = '?';
	return s;
}

/* Builds the CATENATE messages (pool): 0, or -1 with job->result set
 * and the reason in cat_result / cat_empty. */
static int
catenate_build_all(struct append_job *job, const char **error_r)
{
	uint64_t used = 0;

	/* the messages of one APPEND count together against literal_max,
	 * as its literals do: all are held until the group commit, and a
	 * URL part is a few octets on the wire however much it names */
	for (size_t i = 0; i < job->count; i++)
		if (job->msgs[i].cat == NULL)
			used += job->msgs[i].len;
	for (size_t i = 0; i < job->count; i++) {
		struct append_msg *m = &job->msgs[i];
		struct imap_cat_ctx ctx = job->cat;
		enum store_result sr;
		size_t bad = 0;
		struct buf b;

		if (m->cat == NULL)
			continue;
		ctx.max = used < job->cat.max ? job->cat.max - used : 0;
		buf_init(&b);
		job->cat_result = imap_catenate_build(&ctx, m->cat,
						      m->n_cat, &b, &bad,
						      &sr, error_r);
		used += b.len;
		if (job->cat_result == IMAP_CAT_OK && b.len == 0)
			job->cat_empty = true;
		if (job->cat_result != IMAP_CAT_OK || job->cat_empty) {
			buf_deinit(&b);
			if (job->cat_result == IMAP_CAT_BADURL)
				job->badurl = badurl_text(&m->cat[bad]);
			job->result = job->cat_result ==
				IMAP_CAT_STORE_ERROR ? sr : STORE_E_INVALID;
			return -1;
		}
		m->len = b.len;
		m->built = buf_steal(&b);
		m->data = m->built;
	}
	return 0;
}

/*
 * Puts the bodies and hands the whole APPEND to the group commit as one
 * operation (MULTIAPPEND is all or nothing, RFC 3502 3), which finds the
 * mailbox by name and says TRYCREATE by STORE_E_NOT_FOUND. The OK waits
 * for append_stored, called once the batch is durable: from there the
 * loop answers, with no thread waiting on the commit in between. Runs on
 * the pool: done on the loop thread (store_blob_put does not block for a
 * small body), the hashing and parsing of every APPEND's bodies would
 * all fall on that one thread, which on two busy cores got less CPU than
 * the pool's several (measured: 943-996 against 1,149-1,450 msg/s, 10
 * clients, load average 10-14); the pool thread is free again as soon as
 * the commit is queued.
 */
static void
append_submit(void *ctx)
{
	struct append_job *job = ctx;
	const char *error = NULL;
	uint32_t allowed;

	/* RFC 4314 4: APPEND needs "i"; only another account's mailbox
	 * needs a look first (the owner has every right) */
	if (imap_acl_name_is_shared(job->name)) {
		struct imap_acl_box acl;

		job->result = imap_acl_open(job->store, job->account_id,
					    job->name, STORE_ACL_INSERT, &acl,
					    &job->verdict, &error);
		if (job->result == STORE_OK && job->verdict == IMAP_ACL_OK) {
			job->account_id = acl.owner_id;
			job->mailbox_id = acl.mb->id;
			job->rights = acl.rights;
		}
		imap_acl_box_deinit(&acl);
		if (job->result != STORE_OK || job->verdict != IMAP_ACL_OK) {
			imap_copy_error(job->error, sizeof(job->error),
					error);
			ioev_external_done(job->ext);
			return;
		}
	}
	/* and the flags the rights do not allow are not stored */
	allowed = imap_acl_flags_allowed(job->rights);
	job->targets = xcalloc(job->count, sizeof(*job->targets));
	job->ids = xcalloc(job->count, sizeof(*job->ids));
	job->keys = xcalloc(job->count, sizeof(*job->keys));
	/* RFC 4469: every message built (and every URL checked) before any
	 * is stored: MULTIAPPEND stays all or nothing */
	if (catenate_build_all(job, &error) < 0) {
		if (job->cat_result != IMAP_CAT_STORE_ERROR)
			error = "CATENATE";
		imap_copy_error(job->error, sizeof(job->error), error);
		ioev_external_done(job->ext);
		return;
	}
	for (size_t i = 0; i < job->count && job->result == STORE_OK; i++) {
		struct append_msg *m = &job->msgs[i];
		struct store_target *t = &job->targets[i];

		m->crlf_len = crlf_len(m->data, m->len);
		job->result = append_blob(job->store, m, job->ids[i],
					  &t->size, &error);
		t->account_id = job->account_id;
		t->mailbox_id = job->mailbox_id;
		t->mailbox_name = job->mailbox_id != 0 ? NULL : job->name;
		t->blob_id = job->ids[i];
		t->flags = m->flags.flags & allowed;
		if (imap_acl_keywords_allowed(job->rights)) {
			t->keywords = m->flags.keywords;
			t->n_keywords = m->flags.n_keywords;
		}
		t->keywords_max = job->keywords_max;
		t->internal_date = m->internal_date;
		t->replace_mailbox_id = job->replace_mailbox_id;
		t->replace_uid = job->replace_uid;
		mail_thread_keys_parse(m->data, m->len,
				       store_thread_limits(job->store),
				       &job->keys[i]);
		t->thread_subject = job->keys[i].base_subject;
		t->thread_msgid = job->keys[i].message_id;
		t->thread_refs = (const char *const *)job->keys[i].refs;
		t->n_thread_refs = job->keys[i].n_refs;
	}
	if (job->result == STORE_OK) {
		/* not into job->result: once queued, the writer may have
		 * called append_stored and the loop freed job already */
		enum store_result sr;

		sr = store_deliver_queue_async(job->store, 0, job->targets,
					       job->count, NULL, append_stored,
					       job, &error);
		if (sr == STORE_OK)
			return;
		job->result = sr;
	}
	/* nothing queued: it ends here */
	imap_copy_error(job->error, sizeof(job->error), error);
	ioev_external_done(job->ext);
}

/* The loop thread, at once. */
static void
append_start(void *ctx, struct ioev_external *h)
{
	struct append_job *job = ctx;

	job->ext = h;
	ioev_run_blocking(job->cmd->s->w->loop, append_submit, NULL, job);
}

/* RFC 8508 3.3: APPENDUID goes in an untagged OK, then the old message's
 * EXPUNGE (VANISHED in a QRESYNC session), then the tagged OK. */
static void
replace_done(struct imap_cmd *cmd, struct append_job *job)
{
	const struct store_target *t = &job->targets[0];

	buf_printf(imap_session_out(cmd->s), "* OK [APPENDUID %u %u] "
		   "Replacement message stored\r\n", t->uidvalidity, t->uid);
	if (t->replaced)
		imap_mailbox_expunge_uids(cmd->s, &job->replace_uid, 1,
					  false);
	(void)imap_cmd_ok(cmd, "%s completed", cmd->uid ? "UID REPLACE" :
			  "REPLACE");
}

static void
append_done(struct imap_cmd *cmd)
{
	struct append_job *job = cmd->ctx;
	struct buf code;

	/* RFC 4469 5, 6 */
	if (job->badurl != NULL)
		return (void)imap_cmd_no(cmd, "[BADURL %s] CATENATE URL names "
					 "no message of yours", job->badurl);
	if (job->cat_result == IMAP_CAT_TOOBIG)
		return (void)imap_cmd_no(cmd, "[TOOBIG] CATENATE message "
					 "(with the command's others) "
					 "larger than %llu octets",
					 (unsigned long long)job->cat.max);
	if (job->cat_empty)
		return (void)imap_cmd_no(cmd, "CATENATE made an empty "
					 "message");
	if (job->result == STORE_E_NOT_FOUND ||
	    (job->result == STORE_OK && job->verdict == IMAP_ACL_NONEXISTENT))
		return (void)imap_cmd_no(cmd, "[TRYCREATE] No such mailbox");
	if (job->result == STORE_OK && job->verdict == IMAP_ACL_DENIED)
		return (void)imap_acl_no(cmd, STORE_ACL_INSERT);
	if (job->result == STORE_E_OVER_QUOTA)
		return (void)imap_cmd_no(cmd, "[OVERQUOTA] Over quota");
	if (job->result == STORE_E_INVALID)
		/* the flags were checked: the keyword limit is left */
		return (void)imap_cmd_no(cmd, "[LIMIT] %s", job->error);
	if (job->result != STORE_OK)
		return (void)imap_cmd_store_error(cmd, job->result,
						  job->error);
	if (job->replace_uid != 0)
		return replace_done(cmd, job);
	buf_init(&code);
	{
		uint32_t *uids = xcalloc(job->count, sizeof(*uids));

		for (size_t i = 0; i < job->count; i++)
			uids[i] = job->targets[i].uid;
		imap_write_uid_set(&code, uids, job->count);
		free(uids);
	}
	(void)imap_cmd_ok(cmd, "[APPENDUID %u %s] APPEND completed",
			  job->targets[0].uidvalidity, code.data);
	buf_deinit(&code);
}

/* What CATENATE's build needs (APPEND and REPLACE, RFC 8508 4). */
static void
cat_setup(struct append_job *job, const struct imap_session *s)
{
	job->user = xstrdup(s->user);
	job->cat = (struct imap_cat_ctx){
		.store = s->store, .account_id = s->account_id,
		.user = job->user,
		.cache_max = (size_t)s->set->view_cache_messages,
		.max = s->set->literal_max,
	};
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
	} else if (a->type == IMAP_ARG_ATOM &&
		   imap_arg_atom_equals(a, "CATENATE") && *i + 1 < n) {
		/* RFC 4469 4: CATENATE (parts) instead of the literal */
		if (imap_catenate_parse(&args[*i + 1], &m->cat, &m->n_cat,
					error_r) < 0)
			return -1;
		*i += 2;
		return 0;
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
	/* RFC 9738: more messages than the limit in one APPEND: none */
	if (job->count > s->set->message_limit) {
		append_job_free(job);
		return imap_cmd_no(cmd, "[MESSAGELIMIT %u] At most %u messages "
				   "in one APPEND", s->set->message_limit,
				   s->set->message_limit);
	}
	job->store = s->store;
	job->account_id = s->account_id;
	job->rights = STORE_ACL_ALL;
	job->keywords_max = s->set->keywords_max;
	cat_setup(job, s);
	job->cmd = cmd;
	return imap_cmd_run_external(cmd, append_start, append_done, job,
				     append_job_free);
}

/*
 * REPLACE seq-number mailbox append-message, UID REPLACE uid mailbox
 * append-message (RFC 8508 3.1, 3.2): one message only (no MULTIAPPEND).
 * A sequence number outside the mailbox is BAD like any other; a UID
 * that names no message is NO, since the client may hold an old view
 * (RFC 8508 3.3: nothing is stored then). The old message goes whatever
 * its flags.
 */
enum imap_cmd_result
imap_cmd_replace(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_mailbox *box = s->box;
	const struct imap_arg *a = &cmd->args[0];
	struct append_job *job;
	const char *error;
	uint32_t num = 0;
	ssize_t at;
	size_t i = 2;

	if (cmd->n_args < 3)
		return imap_cmd_bad(cmd, "%s takes a message, a mailbox and "
				    "a message literal", cmd->uid ?
				    "UID REPLACE" : "REPLACE");
	/* REPLACE expunges the old message as MOVE does (RFC 8508): "t"
	 * and "e" on the selected mailbox (the target's "i" is APPEND's) */
	if (imap_acl_check_selected(box, STORE_ACL_DELETE_MSG |
				    STORE_ACL_EXPUNGE) != IMAP_ACL_OK)
		return imap_acl_no(cmd, STORE_ACL_DELETE_MSG |
					STORE_ACL_EXPUNGE);
	if (!cmd->uid && a->type == IMAP_ARG_ATOM && strcmp(a->str, "*") == 0)
		num = (uint32_t)box->count;
	else if (!imap_arg_get_number(a, &num) || num == 0)
		return imap_cmd_bad(cmd, "Invalid %s", cmd->uid ? "UID" :
				    "message sequence number");
	if (cmd->uid) {
		at = imap_mailbox_find_uid(box, num);
		if (at < 0 || box->msgs[at].expunged)
			return imap_cmd_no(cmd, "No message with UID %u", num);
	} else {
		if (num == 0 || num > box->count)
			return imap_cmd_bad(cmd, "No message %u", num);
		at = (ssize_t)num - 1;
		if (box->msgs[at].expunged)
			return imap_cmd_no(cmd, "[EXPUNGEISSUED] Message %u "
					   "was expunged by another session",
					   num);
	}
	job = xcalloc(1, sizeof(*job));
	job->replace_mailbox_id = box->id;
	job->replace_uid = box->msgs[at].uid;
	if (imap_mailbox_arg(s, &cmd->args[1], &job->name, &error) < 0) {
		append_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	job->msgs = xcalloc(1, sizeof(*job->msgs));
	job->count = 1;
	if (append_parse_msg(cmd->args, cmd->n_args, &i, &job->msgs[0],
			     &error) < 0 || i != cmd->n_args) {
		append_job_free(job);
		return imap_cmd_bad(cmd, "%s", i != cmd->n_args ?
				    "REPLACE takes one message" : error);
	}
	job->store = s->store;
	job->account_id = s->account_id;
	job->rights = STORE_ACL_ALL;
	job->keywords_max = s->set->keywords_max;
	cat_setup(job, s);
	job->cmd = cmd;
	return imap_cmd_run_external(cmd, append_start, append_done, job,
				     append_job_free);
}
