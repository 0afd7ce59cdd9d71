/* SPDX-License-Identifier: MIT */
/*
 * SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4) with ESEARCH
 * results (RFC 4731) and SAVE / "$" (SEARCHRES, RFC 5182). The view
 * decides what it can on the loop thread; messages whose verdict needs
 * their text go to one pool job that reads it through the store's search
 * index. IMAP4rev1 sessions get "* SEARCH", IMAP4rev2 ones and any RETURN
 * "* ESEARCH" (CLIENT-QUIRKS). The evaluation (view, then pool job) is
 * imap_search_eval, which SORT and THREAD use too (imap-cmd-sort.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "imap/imap-write.h"
#include "lib/buf.h"
#include "lib/mem.h"

/* A message the view could not decide, with what the pool job needs. */
struct search_pending {
	size_t idx;			/* in the view */
	struct imap_search_msg msg;
	char blob_id[STORE_BLOB_ID_LEN + 1];
};

/* Messages whose store keys one pool job evaluates: a slice takes well
 * under a second, so a long SEARCH returns to the loop between slices to
 * report INPROGRESS (RFC 9585) and let the session's other work in. */
#define SEARCH_SLICE 2000

struct imap_search_eval {
	struct imap_search_program prog;
	struct imap_search_view view;
	uint32_t *saved;		/* the view's copy of "$", sorted */
	bool *match;			/* per message of the view */
	size_t count;
	/* RFC 9738: SEARCH looks at the view from first on, where the
	 * last limit messages in its scope (imap_search_in_scope) begin;
	 * limit 0 is none; limited when it left some out, limit_uid the
	 * UID at first */
	size_t first;
	size_t limit;
	bool limited;
	uint32_t limit_uid;
	struct search_pending *pending;
	size_t n_pending;
	struct store *store;
	int64_t account_id;
	int64_t mailbox_id;
	/* EMAILID, THREADID keys: the pending messages' ids */
	struct store_message_ids *ids;
	size_t n_ids;
	bool failed;
	char error[200];
	/* pending messages evaluated so far (SEARCH runs in slices of
	 * SEARCH_SLICE, reporting INPROGRESS between them) */
	size_t done;
	int64_t progress_at;	/* ms: the command's start, the last report */
	/* the ESEARCH command (RFC 7377) over the selected mailbox only:
	 * UIDs, the MAILBOX and UIDVALIDITY correlator, nothing when
	 * nothing matched */
	bool esearch;
};

void
imap_search_eval_free(struct imap_search_eval **e)
{
	struct imap_search_eval *job = *e;

	if (job == NULL)
		return;
	*e = NULL;
	imap_search_program_deinit(&job->prog);
	free(job->saved);
	free(job->match);
	free(job->pending);
	free(job->ids);
	free(job);
}

static void
search_job_free(void *ctx)
{
	struct imap_search_eval *job = ctx;

	imap_search_eval_free(&job);
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The program's keyword number -> the view's bit in msg keywords. */
static uint64_t
msg_keywords(const struct imap_mailbox *box, const struct imap_msg *msg,
	     const int *kwmap, size_t n_kw)
{
	uint64_t bits = 0;

	for (size_t k = 0; k < n_kw; k++) {
		if (kwmap[k] < 0)
			continue;
		for (uint16_t j = 0; j < msg->n_keywords; j++)
			if (msg->keywords[j] == (uint32_t)kwmap[k])
				bits |= (uint64_t)1 << k;
	}
	(void)box;
	return bits;
}

static void
write_numbers(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(out, " %u", v[i]);
}

/* sequence-set of ascending numbers: runs as "a:b" */
static void
write_set(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			buf_putc(out, ',');
		if (j > i)
			buf_printf(out, "%u:%u", v[i], v[j]);
		else
			buf_printf(out, "%u", v[i]);
		i = j + 1;
	}
}

/* RFC 5182 2.4: with MIN and/or MAX but neither ALL nor COUNT, SAVE
 * keeps only those. */
static void
save_result(struct imap_session *s, unsigned int ret, const uint32_t *uids,
	    size_t n)
{
	free(s->saved);
	s->saved = NULL;
	s->n_saved = 0;
	if (n == 0)
		return;
	if ((ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) != 0 ||
	    (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) == 0) {
		s->saved = xmemdup(uids, n * sizeof(*uids));
		s->n_saved = n;
		return;
	}
	s->saved = xcalloc(2, sizeof(*s->saved));
	if (ret & IMAP_SEARCH_RET_MIN)
		s->saved[s->n_saved++] = uids[0];
	if ((ret & IMAP_SEARCH_RET_MAX) && (s->n_saved == 0 || n > 1))
		s->saved[s->n_saved++] = uids[n - 1];
}

/* Whether the arguments start with RETURN (... SAVE ...). */
static bool
asks_save(const struct imap_arg *args, size_t n)
{
	if (n < 2 || !imap_arg_atom_equals(&args[0], "RETURN") ||
	    args[1].type != IMAP_ARG_LIST)
		return false;
	for (size_t i = 0; i < args[1].list_count; i++)
		if (imap_arg_atom_equals(&args[1].list[i], "SAVE"))
			return true;
	return false;
}

void
imap_esearch_write(struct buf *out, const char *tag, const char *mailbox,
		   unsigned int write_flags, uint32_t uidvalidity, bool uid,
		   const struct imap_search_program *prog, unsigned int ret,
		   const uint32_t *nums, size_t n, uint64_t top)
{
	const char *error;
	size_t from = 0, to = 0;

	/* a tag has no quoted-specials (RFC 9051 9) */
	buf_printf(out, "* ESEARCH (TAG \"%s\"", tag);
	if (mailbox != NULL) {
		/* RFC 7377 2: the correlator names the mailbox */
		buf_puts(out, " MAILBOX ");
		if (imap_write_mailbox(out, mailbox, strlen(mailbox),
				       write_flags, &error) < 0)
			buf_puts(out, "INBOX");
		buf_printf(out, " UIDVALIDITY %u", uidvalidity);
	}
	buf_printf(out, ")%s", uid ? " UID" : "");
	if ((ret & IMAP_SEARCH_RET_MIN) && n > 0)
		buf_printf(out, " MIN %u", nums[0]);
	if ((ret & IMAP_SEARCH_RET_MAX) && n > 0)
		buf_printf(out, " MAX %u", nums[n - 1]);
	if ((ret & IMAP_SEARCH_RET_ALL) && n > 0) {
		buf_puts(out, " ALL ");
		write_set(out, nums, n);
	}
	if (ret & IMAP_SEARCH_RET_COUNT)
		buf_printf(out, " COUNT %zu", n);
	if (ret & IMAP_SEARCH_RET_PARTIAL) {
		/* RFC 9394 3.1: the range as asked, then the numbers in
		 * it or NIL */
		imap_partial_range_window(&prog->partial, n, &from, &to);
		buf_printf(out, " PARTIAL (%lld:%lld ",
			   (long long)prog->partial.lo,
			   (long long)prog->partial.hi);
		if (to > from)
			write_set(out, nums + from, to - from);
		else
			buf_puts(out, "NIL");
		buf_putc(out, ')');
	}
	/* RFC 7162 3.1.5, RFC 4731 */
	if (prog->has_modseq && n > 0)
		buf_printf(out, " MODSEQ %llu", (unsigned long long)top);
	buf_puts(out, "\r\n");
}

static enum imap_cmd_result
search_reply(struct imap_cmd *cmd, struct imap_search_eval *job)
{
	struct imap_session *s = cmd->s;
	const struct imap_mailbox *box = s->box;
	const struct imap_search_program *prog = &job->prog;
	unsigned int ret = prog->ret;
	bool uid = cmd->uid || job->esearch;
	uint32_t *nums, *uids;
	size_t n = 0, from = 0, to = 0;
	uint64_t top = 0;	/* the highest modseq found */
	struct buf *out;

	nums = xcalloc(job->count + 1, sizeof(*nums));
	uids = xcalloc(job->count + 1, sizeof(*uids));
	for (size_t i = 0; i < job->count; i++) {
		if (!job->match[i])
			continue;
		if (box->msgs[i].modseq > top)
			top = box->msgs[i].modseq;
		uids[n] = box->msgs[i].uid;
		nums[n++] = uid ? box->msgs[i].uid : (uint32_t)(i + 1);
	}
	if (ret & IMAP_SEARCH_RET_PARTIAL)
		imap_partial_range_window(&prog->partial, n, &from, &to);
	/* RFC 9394 3.1: SAVE with PARTIAL keeps the page returned, not
	 * the whole result (a client saves the page it shows) */
	if ((ret & IMAP_SEARCH_RET_SAVE) && (ret & IMAP_SEARCH_RET_PARTIAL))
		save_result(s, 0, uids + from, to - from);
	else if (ret & IMAP_SEARCH_RET_SAVE)
		save_result(s, ret, uids, n);
	out = imap_session_out(s);
	if (job->esearch) {
		if (ret != IMAP_SEARCH_RET_SAVE && n > 0)
			imap_esearch_write(out, cmd->tag, box->name,
					   s->utf8 ? IMAP_WRITE_UTF8 : 0,
					   box->uidvalidity, true, prog, ret,
					   nums, n, top);
	} else if (!prog->has_return && !s->rev2) {
		buf_puts(out, "* SEARCH");
		write_numbers(out, nums, n);
		/* RFC 7162 3.1.5: only when something was found */
		if (prog->has_modseq && n > 0)
			buf_printf(out, " (MODSEQ %llu)",
				   (unsigned long long)top);
		buf_puts(out, "\r\n");
	} else if (ret != IMAP_SEARCH_RET_SAVE) {
		/* RFC 9051 6.4.4: no RETURN is RETURN (ALL); SAVE alone
		 * gives no ESEARCH (RFC 5182 2.1) */
		if (!prog->has_return)
			ret = IMAP_SEARCH_RET_ALL;
		imap_esearch_write(out, cmd->tag, NULL, 0, 0, cmd->uid, prog,
				   ret, nums, n, top);
	}
	free(nums);
	free(uids);
	imap_session_flush(s);
	if (job->esearch)
		return imap_cmd_ok(cmd, "ESEARCH completed");
	return imap_cmd_ok(cmd, "%sSEARCH completed", cmd->uid ? "UID " : "");
}

/* Sets msg.doc of each pending message whose body the mailbox's rows
 * say is indexed; the others look theirs up one by one if a key needs
 * it (a message expunged by another session is still in the view). */
static int
docs_known(struct imap_search_eval *job, struct store_search *search,
	   const char **error_r)
{
	uint32_t *uids = NULL;
	int64_t *docs = NULL;
	size_t n = 0, k = 0;

	if (store_search_mailbox_docs(search, job->mailbox_id, &uids, &docs,
				      &n, error_r) != STORE_OK)
		return -1;
	/* both in UID order */
	for (size_t i = 0; i < job->n_pending && k < n; i++) {
		struct imap_search_msg *m = &job->pending[i].msg;

		while (k < n && uids[k] < m->uid)
			k++;
		if (k < n && uids[k] == m->uid) {
			m->doc = docs[k];
			m->doc_known = true;
		}
	}
	free(uids);
	free(docs);
	return 0;
}

/* The object ids (RFC 8474) of the pending messages, in one read. */
static int
ids_known(struct imap_search_eval *job, const char **error_r)
{
	uint32_t *uids = xcalloc(job->n_pending, sizeof(*uids));
	size_t k = 0;
	enum store_result r;

	for (size_t i = 0; i < job->n_pending; i++)
		uids[i] = job->pending[i].msg.uid;
	r = store_message_ids(job->store, job->mailbox_id, uids,
			      job->n_pending, &job->ids, &job->n_ids, error_r);
	free(uids);
	if (r != STORE_OK)
		return -1;
	/* both in UID order */
	for (size_t i = 0; i < job->n_pending && k < job->n_ids; i++) {
		struct imap_search_msg *m = &job->pending[i].msg;

		while (k < job->n_ids && job->ids[k].uid < m->uid)
			k++;
		if (k < job->n_ids && job->ids[k].uid == m->uid) {
			m->email_id = job->ids[k].email_id;
			m->thread_id = job->ids[k].thread_id[0] != '\0' ?
				job->ids[k].thread_id : NULL;
		}
	}
	return 0;
}

/* Evaluates pending messages from job->done, at most max of them. */
static int
eval_slice(struct imap_search_eval *job, size_t max, const char **error_r)
{
	struct store_search *search = NULL;
	const char *error = NULL;
	size_t end = job->n_pending - job->done > max ? job->done + max :
		job->n_pending;

	if (job->done >= job->n_pending)
		return 0;
	if (store_search_begin(job->store, job->account_id, &search,
			       &error) != STORE_OK)
		goto fail;
	/* many messages: their index entries in one statement (once: it
	 * fills every pending message's) */
	if (job->done == 0 && job->n_pending > 1 &&
	    docs_known(job, search, &error) < 0)
		goto fail;
	if (job->done == 0 && job->prog.needs_ids &&
	    ids_known(job, &error) < 0)
		goto fail;
	for (size_t i = job->done; i < end; i++) {
		struct search_pending *p = &job->pending[i];
		bool match = false;

		p->msg.blob_id = p->blob_id;
		if (imap_search_match_store(&job->prog, &job->view, &p->msg,
					    search, &match, &error) < 0)
			goto fail;
		job->match[p->idx] = match;
	}
	job->done = end;
	store_search_end(&search);
	return 0;
fail:
	/* the error lives in this thread's buffer */
	snprintf(job->error, sizeof(job->error), "%s",
		 error != NULL ? error : "?");
	job->failed = true;
	store_search_end(&search);
	*error_r = job->error;
	return -1;
}

int
imap_search_eval_work(struct imap_search_eval *job, const char **error_r)
{
	return eval_slice(job, SIZE_MAX, error_r);
}

bool
imap_search_eval_needs_store(const struct imap_search_eval *e)
{
	return e->n_pending > 0;
}

const bool *
imap_search_eval_matches(const struct imap_search_eval *e)
{
	return e->match;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
search_work(void *ctx)
{
	const char *error;

	(void)eval_slice(ctx, SEARCH_SLICE, &error);
}

static void
search_done(struct imap_cmd *cmd)
{
	struct imap_search_eval *job = cmd->ctx;

	if (job->failed) {
		if (job->prog.ret & IMAP_SEARCH_RET_SAVE)
			save_result(cmd->s, 0, NULL, 0);
		imap_cmd_no(cmd, "[UNAVAILABLE] SEARCH failed: %s",
			    job->error);
		return;
	}
	if (job->done < job->n_pending) {
		struct imap_session *s = cmd->s;
		int64_t now = now_ms();

		/* RFC 9585: how far it is, at most every
		 * inprogress_interval; the tag needs no escaping (no '"'
		 * or '\' in a tag) */
		if (now - job->progress_at >=
		    (int64_t)s->set->inprogress_interval_ms) {
			buf_printf(imap_session_out(s), "* OK [INPROGRESS "
				   "(\"%s\" %zu %zu)] Searching\r\n", cmd->tag,
				   job->done, job->n_pending);
			imap_session_flush(s);
			job->progress_at = now;
		}
		(void)imap_cmd_run_blocking(cmd, search_work, search_done,
					    job, search_job_free);
		return;
	}
	search_reply(cmd, job);
}

/* RFC 9738: counts the messages the program's UID and sequence-set keys
 * leave from the end, so that a client going on below the lowest UID it
 * was answered for ("UID 1:n") gets the next ones. */
static void
limit_scope(struct imap_search_eval *job, const struct imap_mailbox *box)
{
	size_t n = 0;

	for (size_t i = box->count; i-- > 0;) {
		struct imap_search_msg sm = {
			.seq = (uint32_t)(i + 1), .uid = box->msgs[i].uid,
		};

		if (!imap_search_in_scope(&job->prog, &job->view, &sm))
			continue;
		if (++n > job->limit) {
			job->limited = true;
			return;
		}
		job->first = i;
		job->limit_uid = sm.uid;
	}
}

/* The verdicts box's data alone gives (loop thread for the session's
 * view, or the pool for one loaded there); the messages that need the
 * store are kept for imap_search_eval_work(). recent: IMAP4rev1's
 * \Recent counts; saved: "$" (UIDs, any order). */
static void
eval_prepare_box(struct imap_search_eval *job, const struct imap_mailbox *box,
		 bool recent, const uint32_t *saved, size_t n_saved)
{
	int kwmap[IMAP_SEARCH_KEYWORDS_MAX];

	for (size_t k = 0; k < job->prog.n_keywords; k++) {
		kwmap[k] = -1;
		for (size_t j = 0; j < box->n_keywords; j++)
			if (strcasecmp(box->keywords[j],
				       job->prog.keywords[k]) == 0)
				kwmap[k] = (int)j;
	}
	if (n_saved > 0) {
		job->saved = xmemdup(saved, n_saved * sizeof(*saved));
		qsort(job->saved, n_saved, sizeof(*job->saved), uid_cmp);
	}
	job->view = (struct imap_search_view){
		.last_seq = (uint32_t)box->count,
		.last_uid = box->count > 0 ? box->msgs[box->count - 1].uid : 0,
		.saved = job->saved, .n_saved = n_saved,
	};
	job->count = box->count;
	job->match = xcalloc(box->count + 1, sizeof(*job->match));
	if (job->limit > 0 && box->count > job->limit)
		limit_scope(job, box);
	for (size_t i = job->first; i < box->count; i++) {
		const struct imap_msg *m = &box->msgs[i];
		struct imap_search_msg sm = {
			.seq = (uint32_t)(i + 1), .uid = m->uid,
			.flags = m->flags, .recent = recent && m->recent,
			.internal_date = m->internal_date,
			.saved_date = m->saved_date, .size = m->size,
			.modseq = m->modseq,
			.keywords = msg_keywords(box, m, kwmap,
						 job->prog.n_keywords),
		};
		struct search_pending *p;

		switch (imap_search_match_view(&job->prog, &job->view, &sm)) {
		case IMAP_SEARCH_YES:
			job->match[i] = true;
			break;
		case IMAP_SEARCH_NO:
			break;
		case IMAP_SEARCH_MAYBE:
			if (job->pending == NULL)
				job->pending = xcalloc(box->count,
						       sizeof(*job->pending));
			p = &job->pending[job->n_pending++];
			p->idx = i;
			p->msg = sm;
			memcpy(p->blob_id, m->blob_id, sizeof(p->blob_id));
			break;
		}
	}
	job->mailbox_id = box->id;
}

static void
eval_prepare(struct imap_session *s, struct imap_search_eval *job)
{
	eval_prepare_box(job, s->box, !s->rev2, s->saved, s->n_saved);
	job->store = s->store;
	/* the owner's: the search index is per account (a shared
	 * mailbox's messages are its owner's) */
	job->account_id = s->box->account_id;
}

int
imap_search_eval_box(struct store *store, int64_t account_id,
		     struct imap_search_program *prog,
		     const struct imap_mailbox *box, bool **match_r,
		     char *error, size_t error_size)
{
	struct imap_search_eval *job = xcalloc(1, sizeof(*job));
	const char *err = NULL;
	int ret = 0;

	/* borrowed: the keys keep their index look-ups for the next
	 * mailbox (the index is the account's) */
	job->prog = *prog;
	eval_prepare_box(job, box, false, NULL, 0);
	job->store = store;
	job->account_id = account_id;
	if (imap_search_eval_work(job, &err) < 0) {
		snprintf(error, error_size, "%s", err != NULL ? err : "?");
		ret = -1;
	}
	*prog = job->prog;
	memset(&job->prog, 0, sizeof(job->prog));
	*match_r = job->match;
	job->match = NULL;
	imap_search_eval_free(&job);
	return ret;
}

struct imap_search_eval *
imap_search_eval_new(struct imap_session *s, struct imap_search_program *prog)
{
	struct imap_search_eval *job = xcalloc(1, sizeof(*job));

	job->prog = *prog;
	memset(prog, 0, sizeof(*prog));
	/* RFC 7162 3.1: SEARCH MODSEQ turns CONDSTORE on */
	if (job->prog.has_modseq)
		s->condstore = true;
	eval_prepare(s, job);
	return job;
}

bool
imap_search_eval_over_limit(const struct imap_search_eval *e,
			    const struct imap_mailbox *box, size_t limit)
{
	size_t n = 0;

	if (limit == 0 || box->count <= limit)
		return false;
	for (size_t i = box->count; i-- > 0;) {
		struct imap_search_msg sm = {
			.seq = (uint32_t)(i + 1), .uid = box->msgs[i].uid,
		};

		if (imap_search_in_scope(&e->prog, &e->view, &sm) &&
		    ++n > limit)
			return true;
	}
	return false;
}

static enum imap_cmd_result
search_run(struct imap_cmd *cmd, struct imap_search_eval *job)
{
	struct imap_session *s = cmd->s;

	/* RFC 9738: the last message_limit messages it looks at only */
	job->limit = s->set->message_limit;
	eval_prepare(s, job);
	if (job->limited) {
		cmd->limited = true;
		cmd->limit_uid = job->limit_uid;
	}
	if (job->n_pending == 0) {
		enum imap_cmd_result r = search_reply(cmd, job);

		search_job_free(job);
		return r;
	}
	job->progress_at = now_ms();
	return imap_cmd_run_blocking(cmd, search_work, search_done, job,
				     search_job_free);
}

/* Whether the arguments name a CHARSET: "[RETURN (...)] CHARSET x". */
static bool
names_charset(const struct imap_cmd *cmd)
{
	size_t i = 0;

	if (cmd->n_args > 1 && imap_arg_atom_equals(&cmd->args[0], "RETURN"))
		i = 2;
	return i < cmd->n_args &&
	       imap_arg_atom_equals(&cmd->args[i], "CHARSET");
}

enum imap_cmd_result
imap_cmd_search(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_search_limits lim = {
		.keys_max = s->set->search_keys_max,
		.depth_max = s->set->search_depth_max,
	};
	struct imap_search_eval *job = xcalloc(1, sizeof(*job));
	const char *error = NULL;

	if (s->utf8_accept && !s->rev2 && names_charset(cmd)) {
		/* RFC 9755 3 (RFC 6855 erratum 4029): after ENABLE
		 * UTF8=ACCEPT strings are UTF-8, and a CHARSET label is a
		 * conflicting one. IMAP4rev2's grammar keeps CHARSET, so a
		 * rev2 session may still send it. */
		search_job_free(job);
		return imap_cmd_bad(cmd, "CHARSET is not allowed after ENABLE "
				    "UTF8=ACCEPT (RFC 9755 3)");
	}
	switch (imap_search_parse(cmd->args, cmd->n_args, &lim, &job->prog,
				  &error)) {
	case IMAP_SEARCH_PARSE_OK:
		break;
	case IMAP_SEARCH_PARSE_BADCHARSET:
		search_job_free(job);
		/* RFC 5182 2.1: a SAVE answered NO empties the result (a
		 * BAD leaves it) */
		if (asks_save(cmd->args, cmd->n_args))
			save_result(s, 0, NULL, 0);
		return imap_cmd_no(cmd, "[BADCHARSET (UTF-8 US-ASCII)] %s",
				   error);
	default:
		search_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	if (s->uidonly && imap_search_program_uses_seq(&job->prog)) {
		search_job_free(job);
		return imap_cmd_bad(cmd, "[UIDREQUIRED] No message numbers "
				    "after ENABLE UIDONLY");
	}
	return search_run(cmd, job);
}

enum imap_cmd_result
imap_search_esearch_selected(struct imap_cmd *cmd,
			     struct imap_search_program *prog)
{
	struct imap_search_eval *job = xcalloc(1, sizeof(*job));

	job->prog = *prog;
	memset(prog, 0, sizeof(*prog));
	job->esearch = true;
	return search_run(cmd, job);
}
