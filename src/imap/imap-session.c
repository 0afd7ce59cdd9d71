/* SPDX-License-Identifier: MIT */
/*
 * IMAP session: connection callbacks, reading one command at a time with
 * the parser (literals answered "+ " or refused), dispatch through the
 * command table (state, UID prefix, read-only checks in one place), tagged
 * replies preceded by the changes made elsewhere (imap-sync.c), error
 * counting, the autologout and the sequence-set resolution every
 * message command uses. Commands run one after the other in the order they
 * arrive; a command that waits (pool job, literal, output) pauses input.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf/worker.h"
#include "imap/imap-private.h"
#include "imap/imap.h"
#include "lib/array.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "sasl/login.h"

/* Before login the parser takes little (RFC 9051 is silent; Dovecot caps
 * pre-login input too): enough for LOGIN with long names and AUTHENTICATE
 * with an initial response. */
#define PRELOGIN_LINE_MAX 8192
#define PRELOGIN_LITERAL_MAX 8192
#define PRELOGIN_ARGS_MAX 16
#define PRELOGIN_DEPTH_MAX 4

static unsigned session_count;

/* Logged-in sessions per account in this process ([imap]
 * max_sessions_per_user). A short array: a worker serves few distinct
 * accounts compared with its connections, and a login is rare. */
struct user_count {
	int64_t account_id;
	unsigned n;
};
static ARRAY(struct user_count) user_counts;

static const char *const state_names[] = {
	[IMAP_STATE_NOT_AUTH] = "not-authenticated",
	[IMAP_STATE_AUTH] = "authenticated",
	[IMAP_STATE_SELECTED] = "selected",
	[IMAP_STATE_LOGOUT] = "logout",
};

static void process_input(struct imap_session *s);
static void process_line(struct imap_session *s);

/* Every byte to and from the client passes here, so that COMPRESS
 * (imap-compress.c) sits under the whole protocol. */
static void
send_raw(struct imap_session *s, const void *data, size_t len)
{
	if (s->compress != NULL)
		imap_compress_write(s, data, len);
	else
		(void)ioev_conn_write(s->conn, data, len);
}

static size_t
input_len(struct imap_session *s)
{
	if (s->compress != NULL)
		return imap_compress_input_len(s);
	return ioev_conn_input_len(s->conn);
}

static const uint8_t *
input_peek(struct imap_session *s, size_t want, size_t *len_r)
{
	if (s->compress != NULL)
		return imap_compress_peek(s, want, len_r);
	return ioev_conn_peek(s->conn, want, len_r);
}

static void
input_consume(struct imap_session *s, size_t n)
{
	if (s->compress != NULL)
		imap_compress_consume(s, n);
	else
		ioev_conn_consume_wipe(s->conn, n);
}

/* Input is paused while a command runs (and resumed when it ends or
 * wants a raw line); ioev insists on pairs, the flag keeps them. */
void
imap_session_pause(struct imap_session *s, bool pause)
{
	if (s->paused == pause)
		return;
	s->paused = pause;
	if (pause)
		ioev_conn_pause(s->conn);
	else
		ioev_conn_resume(s->conn);
}

unsigned
imap_session_count(void)
{
	return session_count;
}

static struct user_count *
user_count_find(int64_t account_id)
{
	for (size_t i = 0; i < array_len(&user_counts); i++) {
		struct user_count *u = array_idx(&user_counts, i);

		if (u->account_id == account_id)
			return u;
	}
	return NULL;
}

bool
imap_session_user_add(struct imap_session *s, int64_t account_id)
{
	struct user_count *u = user_count_find(account_id);
	unsigned max = s->set->max_sessions_per_user;

	if (u != NULL && max > 0 && u->n >= max)
		return false;
	if (u == NULL) {
		u = array_push(&user_counts);
		u->account_id = account_id;
		u->n = 0;
	}
	u->n++;
	s->counted = true;
	return true;
}

static void
user_count_drop(struct imap_session *s)
{
	struct user_count *u;

	if (!s->counted)
		return;
	s->counted = false;
	u = user_count_find(s->account_id);
	if (u == NULL)
		panic("imap: session of account %lld not counted",
		      (long long)s->account_id);
	if (--u->n == 0) {
		*u = *(struct user_count *)array_idx(&user_counts,
						     array_len(&user_counts) -
						     1);
		array_delete(&user_counts, array_len(&user_counts) - 1);
	}
	if (array_is_empty(&user_counts))
		array_free(&user_counts);
}

struct buf *
imap_session_out(struct imap_session *s)
{
	return &s->out;
}

void
imap_session_flush(struct imap_session *s)
{
	if (s->out.len == 0)
		return;
	send_raw(s, s->out.data, s->out.len);
	buf_reset(&s->out);
}

void
imap_session_write(struct imap_session *s, const void *data, size_t len)
{
	imap_session_flush(s);
	if (len > 0)
		send_raw(s, data, len);
}

void
imap_session_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	buf_puts(&s->out, "* ");
	va_start(ap, fmt);
	buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	buf_append(&s->out, "\r\n", 2);
	imap_session_flush(s);
}

bool
imap_session_output_full(const struct imap_session *s)
{
	return ioev_conn_output_is_full(s->conn);
}

void
imap_session_set_output_high(struct imap_session *s, size_t high)
{
	ioev_conn_set_output_high(s->conn, high);
}

bool
imap_session_plaintext_ok(const struct imap_session *s)
{
	if (ioev_conn_is_tls(s->conn))
		return true;
	return s->cfg->auth.plaintext_on_loopback &&
	       ioev_conn_peer_is_local(s->conn);
}

static void
apply_limits(struct imap_session *s)
{
	struct ioev_conn_limits limits = { 0 };
	bool in = s->state != IMAP_STATE_NOT_AUTH;

	imap_parser_limits_default(&s->limits);
	s->limits.line_max = in ? s->set->line_max : PRELOGIN_LINE_MAX;
	s->limits.literal_max = in ? s->set->literal_max :
				PRELOGIN_LITERAL_MAX;
	/* LITERAL+ after login, LITERAL- before (imap-commands.c) */
	s->limits.literal_nonsync_max = in ? s->limits.literal_max : 4096;
	s->limits.depth_max = in ? s->set->depth_max : PRELOGIN_DEPTH_MAX;
	s->limits.args_max = in ? s->set->args_max : PRELOGIN_ARGS_MAX;
	imap_parser_set_limits(s->parser, &s->limits);
	limits.idle_timeout_ms = in ? s->set->idle_timeout_ms :
				 s->set->login_timeout_ms;
	ioev_conn_set_limits(s->conn, &limits);
}

void
imap_session_set_state(struct imap_session *s, enum imap_state state)
{
	enum imap_state old = s->state;

	log_debug(s->id, "imap", "state", "from=%s to=%s", state_names[old],
		  state_names[state]);
	s->state = state;
	if ((old == IMAP_STATE_NOT_AUTH) != (state == IMAP_STATE_NOT_AUTH))
		apply_limits(s);
}

void
imap_session_unselect(struct imap_session *s)
{
	imap_mailbox_free(&s->box);
	xfree(&s->saved);
	s->n_saved = 0;
	if (s->state == IMAP_STATE_SELECTED)
		imap_session_set_state(s, IMAP_STATE_AUTH);
}

void
imap_session_unauthenticate(struct imap_session *s)
{
	imap_session_unselect(s);
	imap_notify_free(s);
	user_count_drop(s);
	xfree(&s->user);
	s->account_id = 0;
	/* RFC 8437 3: as if the client had just connected, so what it
	 * ENABLEd goes too (it may ENABLE again after the next login) */
	s->rev2 = false;
	s->utf8 = false;
	s->utf8_accept = false;
	s->condstore = false;
	s->qresync = false;
	s->modseq_sent = false;
	s->uidonly = false;
	imap_session_set_state(s, IMAP_STATE_NOT_AUTH);
}

void
imap_session_bye(struct imap_session *s, const char *text)
{
	imap_session_untagged(s, "BYE %s", text);
	imap_session_set_state(s, IMAP_STATE_LOGOUT);
	ioev_conn_close_after_write(s->conn);
}

/* ---- the running command ---- */

static void
cmd_free(struct imap_cmd **cmdp)
{
	struct imap_cmd *cmd = *cmdp;

	if (cmd == NULL)
		return;
	if (cmd->ctx_free != NULL && cmd->ctx != NULL)
		cmd->ctx_free(cmd->ctx);
	free(cmd->tag);
	free(cmd->reply);
	xfree(cmdp);
}

/* The command is over: its tagged reply goes out, input is read again. */
static void
cmd_end(struct imap_session *s)
{
	struct imap_cmd *cmd = s->cmd;

	if (cmd->reply != NULL)
		buf_puts(&s->out, cmd->reply);
	imap_session_flush(s);
	if (s->compress_pending) {
		s->compress_pending = false;
		imap_compress_start(s);
	}
	if ((cmd->def != NULL && (cmd->def->flags & IMAP_CMD_FLAG_SECRET)) ||
	    s->line_cb != NULL)
		imap_parser_wipe(s->parser);
	s->line_cb = NULL;
	s->cmd = NULL;
	s->modseq_sent = false;
	cmd_free(&cmd);
	if (s->state == IMAP_STATE_LOGOUT)
		return;
	/* RFC 5465: what NOTIFY owes goes out while no command runs; it
	 * resumes input when done */
	if (imap_notify_kick(s))
		return;
	imap_session_resume(s);
}

void
imap_session_resume(struct imap_session *s)
{
	imap_session_pause(s, false);
	/* from a job's done or a timer: read what the client pipelined;
	 * from inside process_input, its loop goes on */
	if (!s->in_input)
		process_input(s);
}

static void
after_sync(struct imap_session *s)
{
	cmd_end(s);
}

/* Counts a BAD; true (logged) when it reaches max_errors and the session
 * is to say BYE. */
static bool
count_error(struct imap_session *s)
{
	if (++s->errors < s->set->max_errors)
		return false;
	log_info(s->id, "imap", "too-many-errors", "rip=%s errors=%u",
		 ioev_conn_peer_ip(s->conn), s->errors);
	return true;
}

/* RFC 9738: the OK of a command whose set was cut says so, with the
 * lowest UID it worked on, in the tagged reply b (its text from at) or,
 * when that has a code already (MODIFIED, COPYUID), in an untagged NO
 * before it (a warning: the command did not do all it was asked). */
static void
limit_code(struct imap_session *s, const struct imap_cmd *cmd, struct buf *b,
	   size_t at)
{
	struct buf t;

	if (b->data[at] == '[') {
		buf_printf(&s->out, "* NO [MESSAGELIMIT %u %u] Only the last "
			   "%u messages were processed\r\n",
			   s->set->message_limit, cmd->limit_uid,
			   s->set->message_limit);
		return;
	}
	buf_init(&t);
	buf_append(&t, b->data, at);
	buf_printf(&t, "[MESSAGELIMIT %u %u] ", s->set->message_limit,
		   cmd->limit_uid);
	buf_append(&t, b->data + at, b->len - at);
	buf_reset(b);
	buf_append(b, t.data, t.len);
	buf_deinit(&t);
}

static enum imap_cmd_result
tagged(struct imap_cmd *cmd, const char *status, const char *fmt,
       va_list ap)
{
	struct imap_session *s = cmd->s;
	struct buf b;

	if (cmd != s->cmd || cmd->reply != NULL)
		panic("imap: %s answered twice", cmd->name);
	if (cmd->internal_done != NULL) {
		void (*done)(struct imap_session *) = cmd->internal_done;

		s->cmd = NULL;
		cmd_free(&cmd);
		imap_session_flush(s);
		done(s);
		return IMAP_CMD_FINISHED;
	}
	buf_init(&b);
	buf_printf(&b, "%s %s ", cmd->tag, status);
	buf_vprintf(&b, fmt, ap);
	if (cmd->limited && strcmp(status, "OK") == 0)
		limit_code(s, cmd, &b, strlen(cmd->tag) + 4);
	buf_append(&b, "\r\n", 2);
	cmd->reply = buf_steal(&b);
	if (status[0] == 'B' && count_error(s)) {
		buf_puts(&s->out, cmd->reply);
		imap_session_bye(s, "Too many invalid commands");
		s->cmd = NULL;
		cmd_free(&cmd);
		return IMAP_CMD_FINISHED;
	}
	/* changes made elsewhere come before the tagged reply (RFC 9051
	 * 7.5.1: no EXPUNGE after a command that used sequence numbers) */
	if (s->box != NULL && imap_sync_pending(s))
		imap_sync_start(s, (cmd->def == NULL ||
				    !(cmd->def->flags &
				      IMAP_CMD_FLAG_USES_SEQ) || cmd->uid),
				after_sync);
	else
		cmd_end(s);
	return IMAP_CMD_FINISHED;
}

enum imap_cmd_result
imap_cmd_ok(struct imap_cmd *cmd, const char *fmt, ...)
{
	enum imap_cmd_result r;
	va_list ap;

	va_start(ap, fmt);
	r = tagged(cmd, "OK", fmt, ap);
	va_end(ap);
	return r;
}

enum imap_cmd_result
imap_cmd_no(struct imap_cmd *cmd, const char *fmt, ...)
{
	enum imap_cmd_result r;
	va_list ap;

	va_start(ap, fmt);
	r = tagged(cmd, "NO", fmt, ap);
	va_end(ap);
	return r;
}

enum imap_cmd_result
imap_cmd_bad(struct imap_cmd *cmd, const char *fmt, ...)
{
	enum imap_cmd_result r;
	va_list ap;

	va_start(ap, fmt);
	r = tagged(cmd, "BAD", fmt, ap);
	va_end(ap);
	return r;
}

enum imap_cmd_result
imap_cmd_store_error(struct imap_cmd *cmd, enum store_result r,
		     const char *error)
{
	char ebuf[200];

	log_warn(cmd->s->id, "imap", "store-failed",
		 "user=<%s> command=%s result=%s error=\"%s\"",
		 cmd->s->user != NULL ? cmd->s->user : "", cmd->name,
		 store_result_str(r),
		 log_str(ebuf, sizeof(ebuf), error != NULL ? error : ""));
	if (r == STORE_E_TEMP)
		return imap_cmd_no(cmd, "[UNAVAILABLE] Temporary failure, "
				   "try again later");
	return imap_cmd_no(cmd, "[SERVERBUG] Internal error");
}

struct blocking {
	struct imap_cmd *cmd;
	threadpool_work_cb_t *work;
	void (*start)(void *ctx, struct ioev_external *h);
	void (*done)(struct imap_cmd *cmd);
	void *ctx;
};

static void
blocking_work(void *ctx)
{
	struct blocking *b = ctx;

	b->work(b->ctx);
}

static void
blocking_done(void *ctx)
{
	struct blocking *b = ctx;
	struct imap_cmd *cmd = b->cmd;

	free(b);
	/* closed meanwhile: on_close frees the command and its ctx */
	if (ioev_conn_is_closed(cmd->s->conn))
		return;
	cmd->s->job_pending = false;
	b = NULL;
	cmd->s->job_done(cmd);
}

enum imap_cmd_result
imap_cmd_run_blocking(struct imap_cmd *cmd, threadpool_work_cb_t *work,
		      void (*done)(struct imap_cmd *cmd), void *ctx,
		      void (*ctx_free)(void *))
{
	struct blocking *b = xcalloc(1, sizeof(*b));

	if (cmd->ctx != NULL && cmd->ctx != ctx && cmd->ctx_free != NULL)
		cmd->ctx_free(cmd->ctx);
	cmd->ctx = ctx;
	cmd->ctx_free = ctx_free;
	b->cmd = cmd;
	b->work = work;
	b->ctx = ctx;
	cmd->s->job_done = done;
	cmd->s->job_pending = true;
	ioev_conn_run_blocking(cmd->s->conn, blocking_work, blocking_done, b);
	return IMAP_CMD_PENDING;
}

static void
external_start(void *ctx, struct ioev_external *h)
{
	struct blocking *b = ctx;

	b->start(b->ctx, h);
}

enum imap_cmd_result
imap_cmd_run_external(struct imap_cmd *cmd,
		      void (*start)(void *ctx, struct ioev_external *h),
		      void (*done)(struct imap_cmd *cmd), void *ctx,
		      void (*ctx_free)(void *))
{
	struct blocking *b = xcalloc(1, sizeof(*b));

	if (cmd->ctx != NULL && cmd->ctx != ctx && cmd->ctx_free != NULL)
		cmd->ctx_free(cmd->ctx);
	cmd->ctx = ctx;
	cmd->ctx_free = ctx_free;
	b->cmd = cmd;
	b->start = start;
	b->ctx = ctx;
	cmd->s->job_done = done;
	cmd->s->job_pending = true;
	/* the conn defers its close callback (which frees the session and
	 * the command) until blocking_done has run */
	ioev_conn_run_external(cmd->s->conn, external_start, blocking_done,
			       b);
	return IMAP_CMD_PENDING;
}

/* ---- sequence sets ---- */

static void
mark_range(const struct imap_mailbox *box, bool uid, uint32_t lo,
	   uint32_t hi, uint8_t *marks)
{
	size_t a, b;

	if (!uid) {
		/* checked against count by the caller */
		for (size_t i = lo - 1; i < hi; i++)
			marks[i] = 1;
		return;
	}
	/* first message with uid >= lo, first with uid > hi */
	a = 0, b = box->count;
	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (box->msgs[m].uid < lo)
			a = m + 1;
		else
			b = m;
	}
	for (size_t i = a; i < box->count && box->msgs[i].uid <= hi; i++)
		marks[i] = 1;
}

int
imap_session_seqset(struct imap_session *s, const struct imap_arg *arg,
		    bool uid, size_t **idx_r, size_t *count_r,
		    const char **error_r)
{
	const struct imap_mailbox *box = s->box;
	struct imap_seqset set;
	uint8_t *marks;
	size_t n = 0, k = 0;
	uint32_t star;

	*idx_r = NULL;
	*count_r = 0;
	if (box == NULL) {
		*error_r = "No mailbox selected";
		return -1;
	}
	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (imap_seqset_parse(arg->str, arg->len, IMAP_SEQSET_RANGES_DEFAULT,
			      &set, error_r) < 0)
		return -1;
	marks = xcalloc(box->count + 1, 1);
	if (set.saved) {
		/* RFC 5182: "$" is the saved UIDs, whatever the prefix */
		for (size_t i = 0; i < s->n_saved; i++)
			mark_range(box, true, s->saved[i], s->saved[i], marks);
	}
	star = uid ? (box->count > 0 ? box->msgs[box->count - 1].uid : 0) :
		(uint32_t)box->count;
	for (size_t i = 0; i < set.count; i++) {
		uint32_t lo, hi;

		if (!uid && box->count == 0) {
			*error_r = "No messages in the mailbox";
			goto fail;
		}
		imap_seq_range_bounds(&set.ranges[i], star, &lo, &hi);
		if (!uid && (lo > box->count || hi > box->count)) {
			/* RFC 9051 9: a number above the highest is an
			 * error; "*" never is */
			*error_r = "Invalid message sequence number";
			goto fail;
		}
		if (uid && star == 0)
			continue;
		mark_range(box, uid, lo, hi, marks);
	}
	for (size_t i = 0; i < box->count; i++)
		n += marks[i];
	if (n > 0) {
		*idx_r = xcalloc(n, sizeof(**idx_r));
		for (size_t i = 0; i < box->count; i++)
			if (marks[i])
				(*idx_r)[k++] = i;
	}
	/* RFC 9738: at most message_limit messages, the highest ones (the
	 * newest: what a client paging back from the end wants first); it
	 * goes on with the numbers below the lowest it was answered for */
	if (s->cmd != NULL && !s->cmd->no_limit &&
	    n > s->set->message_limit) {
		size_t keep = s->set->message_limit;

		memmove(*idx_r, *idx_r + (n - keep), keep * sizeof(**idx_r));
		n = keep;
		s->cmd->limited = true;
		s->cmd->limit_uid = box->msgs[(*idx_r)[0]].uid;
	}
	*count_r = n;
	free(marks);
	imap_seqset_deinit(&set);
	return 0;
fail:
	free(marks);
	imap_seqset_deinit(&set);
	return -1;
}

void
imap_write_fetch_start(const struct imap_session *s, struct buf *out,
			size_t seq, uint32_t uid)
{
	if (s->uidonly)
		buf_printf(out, "* %u UIDFETCH (", uid);
	else
		buf_printf(out, "* %zu FETCH (", seq);
}

bool
imap_session_vanished(const struct imap_session *s)
{
	return s->qresync || s->uidonly;
}

/* ---- dispatch ---- */

static void
dispatch(struct imap_session *s, const struct imap_command *c)
{
	const struct imap_cmd_def *def = imap_command_find(c->name);
	struct imap_cmd *cmd = xcalloc(1, sizeof(*cmd));
	char lbuf[64];

	cmd->s = s;
	cmd->tag = xstrdup(c->tag);
	cmd->name = c->name;
	cmd->args = c->args;
	cmd->n_args = c->n_args;
	s->cmd = cmd;
	imap_session_pause(s, true);
	if (def != NULL && strcmp(def->name, "UID") == 0)
		def = NULL;
	if (def == NULL && strcmp(c->name, "UID") == 0 && c->n_args > 0 &&
	    c->args[0].type == IMAP_ARG_ATOM) {
		char name[32];
		size_t len = c->args[0].len;

		if (len < sizeof(name)) {
			for (size_t i = 0; i < len; i++)
				name[i] = (char)(c->args[0].str[i] >= 'a' &&
						 c->args[0].str[i] <= 'z' ?
						 c->args[0].str[i] - 32 :
						 c->args[0].str[i]);
			name[len] = '\0';
			def = imap_command_find(name);
		}
		if (def == NULL || !(def->flags & IMAP_CMD_FLAG_UID)) {
			(void)imap_cmd_bad(cmd, "Unknown UID command");
			return;
		}
		cmd->uid = true;
		cmd->name = def->name;
		cmd->args++;
		cmd->n_args--;
	}
	if (def == NULL) {
		log_debug(s->id, "imap", "unknown-command", "command=%s",
			  log_str(lbuf, sizeof(lbuf), c->name));
		(void)imap_cmd_bad(cmd, "Unknown command");
		return;
	}
	cmd->def = def;
	if ((def->states & (1u << s->state)) == 0) {
		(void)imap_cmd_bad(cmd, s->state == IMAP_STATE_NOT_AUTH ?
				   "Log in first" :
				   s->state == IMAP_STATE_AUTH &&
				   (def->states & IMAP_STATES_SELECTED) ?
				   "Select a mailbox first" :
				   "Command not valid in this state");
		return;
	}
	if (s->uidonly && (def->flags & IMAP_CMD_FLAG_USES_SEQ) &&
	    !cmd->uid) {
		/* RFC 9586 3: no message numbers once UIDONLY is on, also
		 * for a client that enabled it and sends them anyway
		 * (CLIENT-QUIRKS: Office 365) */
		(void)imap_cmd_bad(cmd, "[UIDREQUIRED] %s needs the UID "
				   "prefix after ENABLE UIDONLY", def->name);
		return;
	}
	if ((def->flags & IMAP_CMD_FLAG_WRITES) && s->box != NULL &&
	    s->box->readonly) {
		(void)imap_cmd_no(cmd, "[READ-ONLY] The mailbox is read-only "
				  "(EXAMINE)");
		return;
	}
	(void)def->run(cmd);
}

void
imap_session_run_internal(struct imap_session *s, const char *name,
			  bool uid, const struct imap_arg *args,
			  size_t n_args, void (*done)(struct imap_session *s))
{
	const struct imap_cmd_def *def = imap_command_find(name);
	struct imap_cmd *cmd;

	if (def == NULL || s->cmd != NULL)
		panic("imap: internal %s while a command runs", name);
	cmd = xcalloc(1, sizeof(*cmd));
	cmd->s = s;
	cmd->tag = xstrdup("*");
	cmd->def = def;
	cmd->name = def->name;
	cmd->uid = uid;
	cmd->args = args;
	cmd->n_args = n_args;
	cmd->internal_done = done;
	s->cmd = cmd;
	(void)def->run(cmd);
}

/* A literal was announced: "+ " (RFC 9051 7.5, with a text: some
 * Android apps fail on a bare "+") or refuse it. The parser has checked
 * the size against the limits already. */
static void
literal_announced(struct imap_session *s)
{
	imap_parser_literal_accept(s->parser);
	send_raw(s, "+ Ready for literal data\r\n", 26);
}

static void
parse_error(struct imap_session *s)
{
	const struct imap_parser_error *e = imap_parser_error(s->parser);
	struct imap_cmd *cmd;

	if (e->tag == NULL) {
		buf_printf(&s->out, "* BAD %s\r\n", e->text);
		imap_session_flush(s);
		if (count_error(s))
			imap_session_bye(s, "Too many invalid commands");
		return;
	}
	cmd = xcalloc(1, sizeof(*cmd));
	cmd->s = s;
	cmd->tag = xstrdup(e->tag);
	cmd->name = "?";
	s->cmd = cmd;
	imap_session_pause(s, true);
	if (e->code == IMAP_PARSE_ERR_LITERAL_TOO_BIG &&
	    s->state != IMAP_STATE_NOT_AUTH)
		/* RFC 7889 / RFC 9051 7.1: the literal is over APPENDLIMIT */
		(void)imap_cmd_no(cmd, "[TOOBIG] %s", e->text);
	else
		(void)imap_cmd_bad(cmd, "%s", e->text);
}

static void
process_input(struct imap_session *s)
{
	s->in_input = true;
	while (s->cmd == NULL && s->state != IMAP_STATE_LOGOUT &&
	       !imap_notify_busy(s) && !ioev_conn_is_closed(s->conn)) {
		size_t avail = input_len(s), len, consumed;
		const uint8_t *data;
		enum imap_parse_result r;

		/* a client that does not read: stop until output drains */
		if (avail == 0 || ioev_conn_output_is_full(s->conn))
			break;
		data = input_peek(s, avail < 65536 ? avail : 65536, &len);
		r = imap_parser_feed(s->parser, data, len, &consumed);
		/* the parser copies what it keeps; LOGIN and AUTHENTICATE
		 * text is not left in the input buffer */
		input_consume(s, consumed);
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			break;
		case IMAP_PARSE_LITERAL:
			literal_announced(s);
			break;
		case IMAP_PARSE_DONE:
			dispatch(s, imap_parser_command(s->parser));
			break;
		case IMAP_PARSE_ERROR:
			parse_error(s);
			break;
		}
	}
	s->in_input = false;
	/* a command that now reads raw lines (IDLE's DONE) may find them
	 * buffered already: "IDLE\r\nDONE\r\n" in one packet */
	if (s->cmd != NULL && s->line_cb != NULL && !s->job_pending &&
	    input_len(s) > 0)
		process_line(s);
}

/* A command waiting for a raw line (AUTHENTICATE's responses, IDLE's
 * DONE) gets it here. */
static void
process_line(struct imap_session *s)
{
	s->in_input = true;
	while (s->cmd != NULL && s->line_cb != NULL && !s->job_pending &&
	       !ioev_conn_is_closed(s->conn)) {
		size_t avail = input_len(s), len, consumed;
		const uint8_t *data;
		const char *line;
		enum imap_parse_result r;

		if (avail == 0)
			break;
		data = input_peek(s, avail < 65536 ? avail : 65536, &len);
		r = imap_parser_feed_line(s->parser, data, len, &consumed,
					  &line, &len);
		input_consume(s, consumed);
		if (r == IMAP_PARSE_NEED_MORE)
			continue;
		if (r == IMAP_PARSE_ERROR) {
			line = NULL;
			len = 0;
		}
		(void)s->line_cb(s->cmd, line, len);
	}
	s->in_input = false;
	/* the command ended inside: what follows are commands */
	if (s->cmd == NULL)
		process_input(s);
}

void
imap_session_want_line(struct imap_cmd *cmd,
		       enum imap_cmd_result (*cb)(struct imap_cmd *cmd,
						  const char *line,
						  size_t len))
{
	struct imap_session *s = cmd->s;

	s->line_cb = cb;
	imap_session_pause(s, false);
	if (!s->in_input && input_len(s) > 0)
		process_line(s);
}

static void
on_input(struct ioev_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;

	(void)conn;
	if (s->cmd != NULL && s->line_cb != NULL)
		process_line(s);
	else
		process_input(s);
}

static void
on_drain(struct ioev_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;

	(void)conn;
	if (s->cmd != NULL && s->cmd->drain != NULL && !s->job_pending) {
		enum imap_cmd_result (*drain)(struct imap_cmd *) =
			s->cmd->drain;

		s->cmd->drain = NULL;
		(void)drain(s->cmd);
		return;
	}
	if (s->cmd == NULL)
		process_input(s);
}

static void
on_timeout(struct ioev_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;

	log_info(s->id, "imap", "timeout", "rip=%s state=%s",
		 ioev_conn_peer_ip(conn), state_names[s->state]);
	imap_session_bye(s, "Autologout; idle for too long");
}

static void
on_close(struct ioev_conn *conn, void *ctx, enum ioev_close_reason reason)
{
	struct imap_session *s = ctx;
	char ubuf[300];

	log_info(s->id, "imap", "disconnect", "user=<%s> rip=%s reason=%s "
		 "state=%s", s->user != NULL ?
		 log_str(ubuf, sizeof(ubuf), s->user) : "",
		 ioev_conn_peer_ip(conn), ioev_close_reason_name(reason),
		 state_names[s->state]);
	cmd_free(&s->cmd);
	imap_notify_free(s);
	user_count_drop(s);
	login_attempt_free(&s->login);
	ioev_timer_free(&s->delay_timer);
	imap_mailbox_free(&s->box);
	imap_parser_free(&s->parser);
	imap_compress_free(&s->compress);
	buf_deinit(&s->out);
	free(s->saved);
	free(s->user);
	free(s);
	session_count--;
}

static void
greet(struct imap_session *s)
{
	buf_puts(&s->out, "* OK [CAPABILITY ");
	imap_session_capabilities(s, &s->out);
	buf_puts(&s->out, "] Herald IMAP server ready\r\n");
	imap_session_flush(s);
}

static void
on_tls_ready(struct ioev_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;
	struct ioev_tls_info info;

	ioev_conn_tls_info(conn, &info);
	log_info(s->id, "imap", s->proto == PROTO_IMAPS ? "tls" : "starttls",
		 "rip=%s version=%s cipher=%s bits=%d",
		 ioev_conn_peer_ip(conn), info.protocol, info.cipher,
		 info.bits);
}

static const struct ioev_conn_callbacks imap_callbacks = {
	.input = on_input,
	.close = on_close,
	.drain = on_drain,
	.timeout = on_timeout,
	.tls_ready = on_tls_ready,
};

void
imap_session_refuse(struct ioev_conn *conn, struct worker *w,
		    enum worker_refusal why)
{
	(void)w;
	/* RFC 9051 7.1.5: BYE instead of the greeting */
	ioev_conn_puts(conn, why == WORKER_REFUSE_PER_IP ?
		       "* BYE [UNAVAILABLE] Too many connections from your "
		       "address\r\n" :
		       "* BYE [UNAVAILABLE] Too many connections, try again "
		       "later\r\n");
	ioev_conn_close_after_write(conn);
}

void
imap_session_start(struct ioev_conn *conn, struct worker *w,
		   enum listen_proto proto)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));

	s->conn = conn;
	s->w = w;
	s->cfg = w->cfg;
	s->set = &w->cfg->imap;
	s->store = w->store;
	s->id = ioev_conn_id(conn);
	s->proto = proto;
	s->state = IMAP_STATE_NOT_AUTH;
	buf_init(&s->out);
	s->parser = imap_parser_new(NULL);
	apply_limits(s);
	session_count++;
	log_info(s->id, "imap", "connect", "rip=%s rport=%u lport=%u tls=%s",
		 ioev_conn_peer_ip(conn), ioev_conn_peer_port(conn),
		 ioev_conn_local_port(conn),
		 proto == PROTO_IMAPS ? "yes" : "no");
	/* on imaps this goes out once the handshake is done */
	greet(s);
	ioev_conn_set_callbacks(conn, &imap_callbacks, s);
}
