/* SPDX-License-Identifier: MIT */
/*
 * SORT, UID SORT, THREAD and UID THREAD (RFC 5256), with SORT=DISPLAY
 * (RFC 5957) keys and ESORT's RETURN options (RFC 5267). The search
 * criteria are SEARCH's (imap-search-parse.c) and are decided the same
 * way (imap_search_eval); one pool job then reads the keys of the
 * matching messages (the worker's cache of sort records, else the
 * envelope header of the MIME structure record, never the body), orders
 * them and builds the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "imap/imap-sort.h"
#include "imap/imap-thread.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime-cache.h"

/* A candidate message: what the pool needs of the view. */
struct sort_cand {
	uint32_t seq, uid;
	int64_t internal_date;
	uint64_t size;
	char blob_id[STORE_BLOB_ID_LEN + 1];
};

struct sort_job {
	bool thread;
	enum imap_thread_algorithm algo;
	struct imap_sort_program prog;
	unsigned ret;			/* enum imap_search_return bits */
	bool has_return;
	bool uid;
	bool has_modseq;		/* SEARCH MODSEQ in the criteria */
	struct imap_search_eval *eval;
	struct sort_cand *cands;	/* one per message of the view */
	size_t count;
	struct store *store;
	size_t max_messages;		/* [imap] sort_max_messages */
	size_t cache_max;		/* [imap] fetch_cache_size */
	/* results */
	struct imap_sort_msg *msgs;	/* matching, in sort order */
	size_t n_msgs;
	struct buf records;		/* their records, one after another */
	struct buf threads;		/* THREAD's thread-lists */
	bool too_many;
	bool failed;
	char error[200];
};

static void
sort_job_free(void *ctx)
{
	struct sort_job *job = ctx;

	imap_search_eval_free(&job->eval);
	free(job->cands);
	free(job->msgs);
	buf_deinit(&job->records);
	buf_deinit(&job->threads);
	free(job);
}

static void
job_fail(struct sort_job *job, const char *error)
{
	snprintf(job->error, sizeof(job->error), "%s",
		 error != NULL ? error : "?");
	job->failed = true;
}

/* The record of c appended to job->records: from the worker's cache, or
 * made from the envelope header of the MIME structure record. */
static int
load_record(struct sort_job *job, struct store_blob_reader **reader,
	    const struct sort_cand *c, const char **error_r)
{
	struct mime_cache *cache = NULL;
	const char *env = NULL;
	size_t env_len = 0, start = job->records.len;
	enum store_result r;

	if (imap_fetch_cache_get(c->blob_id, IMAP_SORT_CACHE_KEY,
				 &job->records))
		return 0;
	if (*reader == NULL)
		*reader = store_blob_reader_new(job->store);
	r = store_blob_reader_mime(*reader, c->blob_id, c->size, &cache,
				   error_r);
	if (r == STORE_OK)
		env = mime_cache_envelope(cache, cache->root, &env_len);
	else if (r != STORE_E_NOT_FOUND)
		return -1;
	/* a body collected since (expunged elsewhere): no fields */
	imap_sort_record_build(env != NULL ? env : "", env_len,
			       &job->records);
	mime_cache_free(&cache);
	if (r == STORE_OK)
		imap_fetch_cache_put(c->blob_id, IMAP_SORT_CACHE_KEY,
				     job->records.data + start,
				     job->records.len - start,
				     job->cache_max);
	return 0;
}

static void
sort_work(void *ctx)
{
	struct sort_job *job = ctx;
	const bool *match;
	struct store_blob_reader *reader = NULL;
	size_t *offs = NULL, n = 0;
	const char *error = NULL;
	bool records = job->thread || job->prog.needs_records;

	if (imap_search_eval_work(job->eval, &error) < 0) {
		job_fail(job, error);
		return;
	}
	match = imap_search_eval_matches(job->eval);
	for (size_t i = 0; i < job->count; i++)
		n += match[i];
	if (records && n > job->max_messages) {
		job->too_many = true;
		return;
	}
	job->msgs = xcalloc(n + 1, sizeof(*job->msgs));
	offs = xcalloc(n + 1, sizeof(*offs));
	for (size_t i = 0; i < job->count; i++) {
		const struct sort_cand *c = &job->cands[i];
		struct imap_sort_msg *m;

		if (!match[i])
			continue;
		m = &job->msgs[job->n_msgs];
		m->seq = c->seq;
		m->uid = c->uid;
		m->internal_date = c->internal_date;
		m->size = c->size;
		if (records) {
			offs[job->n_msgs] = job->records.len;
			if (load_record(job, &reader, c, &error) < 0) {
				job_fail(job, error);
				break;
			}
		}
		job->n_msgs++;
	}
	store_blob_reader_free(&reader);
	if (job->failed) {
		free(offs);
		return;
	}
	/* the records stay where they are from here on */
	for (size_t k = 0; records && k < job->n_msgs; k++) {
		size_t end = k + 1 < job->n_msgs ? offs[k + 1] :
			     job->records.len;

		if (!imap_sort_record_parse(job->records.data + offs[k],
					    end - offs[k],
					    &job->msgs[k].rec))
			memset(&job->msgs[k].rec, 0,
			       sizeof(job->msgs[k].rec));
	}
	free(offs);
	if (!job->thread) {
		imap_sort_messages(job->msgs, job->n_msgs, &job->prog);
	} else {
		struct imap_thread_msg *t = xcalloc(job->n_msgs + 1,
						    sizeof(*t));

		for (size_t k = 0; k < job->n_msgs; k++) {
			const struct imap_sort_msg *m = &job->msgs[k];

			t[k] = (struct imap_thread_msg){
				.num = job->uid ? m->uid : m->seq,
				.seq = m->seq,
				.sent = imap_sort_sent_date(m),
				.subject = m->rec.subject,
				.reply = m->rec.reply,
				.msgid = m->rec.msgid,
				.refs = m->rec.refs,
				.n_refs = m->rec.n_refs,
			};
		}
		imap_thread_write(job->algo, t, job->n_msgs, &job->threads);
		free(t);
	}
}

/* ESORT ALL (RFC 5267 3.2): the numbers in sort order as a sequence-set,
 * ascending runs as "a:b". */
static void
write_sorted_set(struct buf *out, const uint32_t *v, size_t n)
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

/* The highest modseq of the messages found, from the view. */
static uint64_t
sort_top_modseq(const struct imap_session *s, const struct sort_job *job)
{
	uint64_t top = 0;

	for (size_t k = 0; k < job->n_msgs; k++) {
		ssize_t at = imap_mailbox_find_uid(s->box, job->msgs[k].uid);

		if (at >= 0 && s->box->msgs[at].modseq > top)
			top = s->box->msgs[at].modseq;
	}
	return top;
}

static void
sort_done(struct imap_cmd *cmd)
{
	struct sort_job *job = cmd->ctx;
	struct imap_session *s = cmd->s;
	const char *name = job->thread ? "THREAD" : "SORT";
	struct buf *out;

	if (job->failed) {
		imap_cmd_no(cmd, "[UNAVAILABLE] %s failed: %s", name,
			    job->error);
		return;
	}
	if (job->too_many) {
		imap_cmd_no(cmd, "[LIMIT] %s of more than %zu messages "
			    "(sort_max_messages)", name, job->max_messages);
		return;
	}
	out = imap_session_out(s);
	if (job->thread) {
		buf_puts(out, "* THREAD");
		if (job->threads.len > 0) {
			buf_putc(out, ' ');
			buf_append(out, job->threads.data, job->threads.len);
		}
		buf_puts(out, "\r\n");
	} else if (!job->has_return) {
		buf_puts(out, "* SORT");
		for (size_t k = 0; k < job->n_msgs; k++)
			buf_printf(out, " %u", cmd->uid ? job->msgs[k].uid :
				   job->msgs[k].seq);
		if (job->has_modseq && job->n_msgs > 0)
			buf_printf(out, " (MODSEQ %llu)",
				   (unsigned long long)sort_top_modseq(s, job));
		buf_puts(out, "\r\n");
	} else {
		uint32_t *nums = xcalloc(job->n_msgs + 1, sizeof(*nums));
		size_t n = job->n_msgs;

		for (size_t k = 0; k < n; k++)
			nums[k] = cmd->uid ? job->msgs[k].uid :
				  job->msgs[k].seq;
		buf_printf(out, "* ESEARCH (TAG \"%s\")%s", cmd->tag,
			   cmd->uid ? " UID" : "");
		if ((job->ret & IMAP_SEARCH_RET_MIN) && n > 0)
			buf_printf(out, " MIN %u", nums[0]);
		if ((job->ret & IMAP_SEARCH_RET_MAX) && n > 0)
			buf_printf(out, " MAX %u", nums[n - 1]);
		if ((job->ret & IMAP_SEARCH_RET_ALL) && n > 0) {
			buf_puts(out, " ALL ");
			write_sorted_set(out, nums, n);
		}
		if (job->ret & IMAP_SEARCH_RET_COUNT)
			buf_printf(out, " COUNT %zu", n);
		if (job->has_modseq && n > 0)
			buf_printf(out, " MODSEQ %llu",
				   (unsigned long long)sort_top_modseq(s, job));
		buf_puts(out, "\r\n");
		free(nums);
	}
	imap_session_flush(s);
	imap_cmd_ok(cmd, "%s%s completed", cmd->uid ? "UID " : "", name);
}

/* ESORT's RETURN (RFC 5267 3): MIN, MAX, ALL, COUNT; () is ALL. */
static int
parse_return(const struct imap_arg *list, unsigned *ret_r,
	     const char **error_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
		{ "MIN", IMAP_SEARCH_RET_MIN }, { "MAX", IMAP_SEARCH_RET_MAX },
		{ "ALL", IMAP_SEARCH_RET_ALL },
		{ "COUNT", IMAP_SEARCH_RET_COUNT },
	};

	*ret_r = 0;
	if (list->type != IMAP_ARG_LIST) {
		*error_r = "RETURN needs a list";
		return -1;
	}
	for (size_t i = 0; i < list->list_count; i++) {
		size_t k;

		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (imap_arg_atom_equals(&list->list[i],
						 opts[k].name))
				break;
		if (k == sizeof(opts) / sizeof(opts[0])) {
			*error_r = "unknown RETURN option for SORT";
			return -1;
		}
		*ret_r |= opts[k].bit;
	}
	if (*ret_r == 0)
		*ret_r = IMAP_SEARCH_RET_ALL;
	return 0;
}

/* The charset argument (RFC 5256 4: required): 1 when known, 0 for
 * BADCHARSET, -1 when it is not an astring. */
static int
charset_ok(const struct imap_arg *arg)
{
	const char *cs;
	size_t len;

	if (!imap_arg_get_astring(arg, &cs, &len))
		return -1;
	return strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "US-ASCII") == 0;
}

/* Parses the charset and search keys at args[i..], starts the job. */
static enum imap_cmd_result
sort_start(struct imap_cmd *cmd, struct sort_job *job, size_t i)
{
	struct imap_session *s = cmd->s;
	const struct imap_mailbox *box = s->box;
	struct imap_search_limits lim = {
		.keys_max = s->set->search_keys_max,
		.depth_max = s->set->search_depth_max,
	};
	struct imap_search_program prog;
	const char *name = job->thread ? "THREAD" : "SORT";
	const char *error = NULL;
	int cs;

	if (i >= cmd->n_args) {
		sort_job_free(job);
		return imap_cmd_bad(cmd, "%s needs a charset and search "
				    "criteria", name);
	}
	cs = charset_ok(&cmd->args[i]);
	if (cs < 0) {
		sort_job_free(job);
		return imap_cmd_bad(cmd, "%s needs a charset", name);
	}
	if (cs == 0) {
		sort_job_free(job);
		return imap_cmd_no(cmd, "[BADCHARSET (UTF-8 US-ASCII)] "
				   "charset not supported");
	}
	i++;
	if (i >= cmd->n_args) {
		sort_job_free(job);
		return imap_cmd_bad(cmd, "%s needs search criteria", name);
	}
	switch (imap_search_parse(cmd->args + i, cmd->n_args - i, &lim, &prog,
				  &error)) {
	case IMAP_SEARCH_PARSE_OK:
		break;
	case IMAP_SEARCH_PARSE_BADCHARSET:
		sort_job_free(job);
		return imap_cmd_no(cmd, "[BADCHARSET (UTF-8 US-ASCII)] %s",
				   error);
	default:
		sort_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	if (s->uidonly && imap_search_program_uses_seq(&prog)) {
		imap_search_program_deinit(&prog);
		sort_job_free(job);
		return imap_cmd_bad(cmd, "[UIDREQUIRED] No message numbers "
				    "after ENABLE UIDONLY");
	}
	if (prog.has_return) {
		imap_search_program_deinit(&prog);
		sort_job_free(job);
		return imap_cmd_bad(cmd, "RETURN goes before the sort "
				    "criteria");
	}
	job->uid = cmd->uid;
	/* RFC 7162 3.1.5: SORT's answer gets (MODSEQ n) as SEARCH's does,
	 * and the criterion turns CONDSTORE on */
	job->has_modseq = prog.has_modseq;
	if (prog.has_modseq)
		s->condstore = true;
	job->eval = imap_search_eval_new(s, &prog);
	/* RFC 9738: a SORT or THREAD over more than message_limit messages
	 * (counted as SEARCH counts them) is refused whole: the order or
	 * threads of a part would read as those of the whole; the client
	 * narrows with UID, UIDAFTER or UIDBEFORE */
	if (imap_search_eval_over_limit(job->eval, box,
					s->set->message_limit)) {
		unsigned limit = s->set->message_limit;

		sort_job_free(job);
		return imap_cmd_no(cmd, "[MESSAGELIMIT %u] %s of more than %u "
				   "messages", limit, name, limit);
	}
	job->count = box->count;
	job->cands = xcalloc(box->count + 1, sizeof(*job->cands));
	for (size_t k = 0; k < box->count; k++) {
		const struct imap_msg *m = &box->msgs[k];
		struct sort_cand *c = &job->cands[k];

		c->seq = (uint32_t)(k + 1);
		c->uid = m->uid;
		c->internal_date = m->internal_date;
		c->size = m->size;
		memcpy(c->blob_id, m->blob_id, sizeof(c->blob_id));
	}
	job->store = s->store;
	job->max_messages = s->set->sort_max_messages;
	job->cache_max = (size_t)s->set->fetch_cache_size;
	return imap_cmd_run_blocking(cmd, sort_work, sort_done, job,
				     sort_job_free);
}

enum imap_cmd_result
imap_cmd_sort(struct imap_cmd *cmd)
{
	struct sort_job *job = xcalloc(1, sizeof(*job));
	const char *error = NULL;
	size_t i = 0;

	buf_init(&job->records);
	buf_init(&job->threads);
	if (cmd->n_args > 0 && imap_arg_atom_equals(&cmd->args[0], "RETURN")) {
		if (cmd->n_args < 2 ||
		    parse_return(&cmd->args[1], &job->ret, &error) < 0) {
			sort_job_free(job);
			return imap_cmd_bad(cmd, "%s", error != NULL ? error :
					    "RETURN needs a list");
		}
		job->has_return = true;
		i = 2;
	}
	if (i >= cmd->n_args ||
	    imap_sort_criteria_parse(&cmd->args[i], &job->prog, &error) < 0) {
		sort_job_free(job);
		return imap_cmd_bad(cmd, "%s", error != NULL ? error :
				    "SORT needs a list of sort criteria");
	}
	return sort_start(cmd, job, i + 1);
}

enum imap_cmd_result
imap_cmd_thread(struct imap_cmd *cmd)
{
	struct sort_job *job = xcalloc(1, sizeof(*job));

	buf_init(&job->records);
	buf_init(&job->threads);
	job->thread = true;
	if (cmd->n_args == 0 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    !imap_thread_algorithm_parse(cmd->args[0].str, &job->algo)) {
		sort_job_free(job);
		return imap_cmd_bad(cmd, "THREAD needs ORDEREDSUBJECT or "
				    "REFERENCES");
	}
	return sort_start(cmd, job, 1);
}
