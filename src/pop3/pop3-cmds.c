/* SPDX-License-Identifier: MIT */
/*
 * CAPA (RFC 2449 5) and the TRANSACTION commands that need no I/O: STAT,
 * LIST, UIDL, DELE, RSET, NOOP (RFC 1939 5), and QUIT, whose UPDATE state
 * expunges the deleted messages on the thread pool (RFC 1939 6).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/worker.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "pop3/pop3-private.h"
#include "pop3/pop3-stuff.h"
#include "sasl/sasl.h"

void
pop3_cmd_capa(struct pop3_session *s, struct pop3_command *cmd)
{
	bool auth = s->state == POP3_STATE_AUTHORIZATION;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "+OK Capability list follows\r\n"
		     "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
		     "PIPELINING\r\n");
	if (auth) {
		bool plain = pop3_session_plaintext_ok(s);

		/* RFC 2595 6: no USER or PLAIN/LOGIN before TLS */
		if (plain)
			buf_puts(&b, "USER\r\n");
		buf_printf(&b, "SASL %s\r\n", plain ? "PLAIN LOGIN SCRAM-SHA-256" :
			   "SCRAM-SHA-256");
		if (pop3_session_can_stls(s))
			buf_puts(&b, "STLS\r\n");
	}
	if (s->set->expire != NULL && s->set->expire[0] != '\0')
		buf_printf(&b, "EXPIRE %s\r\n", s->set->expire);
	if (s->set->login_delay_s > 0)
		buf_printf(&b, "LOGIN-DELAY %llu\r\n",
			   (unsigned long long)s->set->login_delay_s);
	if (s->apop_stamp != NULL && auth)
		buf_puts(&b, "APOP\r\n");
	buf_puts(&b, "IMPLEMENTATION Herald\r\n.\r\n");
	(void)ioev_conn_write(s->conn, b.data, b.len);
	buf_deinit(&b);
}

struct pop3_msg *
pop3_msg_arg(struct pop3_session *s, const char *arg, uint32_t *num_r)
{
	uint32_t n;

	if (!pop3_parse_number(arg, &n) || n == 0) {
		pop3_reply_err(s, "Invalid message number");
		(void)pop3_session_error(s);
		return NULL;
	}
	if (n > s->drop.n_msgs) {
		pop3_reply_err(s, "No such message");
		return NULL;
	}
	if (s->drop.msgs[n - 1].deleted) {
		pop3_reply_err(s, "Message %u already deleted", n);
		return NULL;
	}
	*num_r = n;
	return &s->drop.msgs[n - 1];
}

void
pop3_cmd_stat(struct pop3_session *s, struct pop3_command *cmd)
{
	pop3_reply_ok(s, "%zu %llu", s->drop.n_msgs - s->n_deleted,
		      (unsigned long long)(s->drop.total_size - s->deleted_size));
}

/* LIST and UIDL share their shape: one message or a multi-line list of
 * the messages not deleted. */
static void
list_or_uidl(struct pop3_session *s, struct pop3_command *cmd, bool uidl)
{
	char uid[POP3_UIDL_SIZE];
	struct pop3_msg *m;
	uint32_t n;
	struct buf b;
	size_t i;

	if (cmd->n_args == 1) {
		if ((m = pop3_msg_arg(s, cmd->args[0], &n)) == NULL)
			return;
		if (uidl) {
			pop3_uidl_format(s->drop.uidvalidity, m->uid, uid);
			pop3_reply_ok(s, "%u %s", n, uid);
		} else {
			pop3_reply_ok(s, "%u %llu", n,
				      (unsigned long long)m->size);
		}
		return;
	}
	buf_init(&b);
	if (uidl)
		buf_puts(&b, "+OK Unique-ID listing follows\r\n");
	else
		buf_printf(&b, "+OK %zu messages (%llu octets)\r\n",
			   s->drop.n_msgs - s->n_deleted,
			   (unsigned long long)(s->drop.total_size -
						s->deleted_size));
	for (i = 0; i < s->drop.n_msgs; i++) {
		m = &s->drop.msgs[i];
		if (m->deleted)
			continue;
		if (uidl) {
			pop3_uidl_format(s->drop.uidvalidity, m->uid, uid);
			buf_printf(&b, "%zu %s\r\n", i + 1, uid);
		} else {
			buf_printf(&b, "%zu %llu\r\n", i + 1,
				   (unsigned long long)m->size);
		}
	}
	buf_puts(&b, ".\r\n");
	(void)ioev_conn_write(s->conn, b.data, b.len);
	buf_deinit(&b);
}

void
pop3_cmd_list(struct pop3_session *s, struct pop3_command *cmd)
{
	list_or_uidl(s, cmd, false);
}

void
pop3_cmd_uidl(struct pop3_session *s, struct pop3_command *cmd)
{
	list_or_uidl(s, cmd, true);
}

void
pop3_cmd_dele(struct pop3_session *s, struct pop3_command *cmd)
{
	struct pop3_msg *m;
	uint32_t n;

	if ((m = pop3_msg_arg(s, cmd->args[0], &n)) == NULL)
		return;
	m->deleted = true;
	s->n_deleted++;
	s->deleted_size += m->size;
	pop3_reply_ok(s, "Message %u deleted", n);
}

void
pop3_cmd_rset(struct pop3_session *s, struct pop3_command *cmd)
{
	for (size_t i = 0; i < s->drop.n_msgs; i++)
		s->drop.msgs[i].deleted = false;
	s->n_deleted = 0;
	s->deleted_size = 0;
	pop3_reply_ok(s, "%zu messages (%llu octets)", s->drop.n_msgs,
		      (unsigned long long)s->drop.total_size);
}

void
pop3_cmd_noop(struct pop3_session *s, struct pop3_command *cmd)
{
	(void)ioev_conn_puts(s->conn, "+OK\r\n");
}

struct expunge_job {
	struct pop3_session *s;
	struct store *store;
	int64_t mailbox_id;
	uint32_t *uids;
	size_t count;
	size_t expunged;
	enum store_result result;
	const char *error;
	char error_copy[200];
};

static void
expunge_work(void *ctx)
{
	struct expunge_job *job = ctx;

	job->result = store_expunge(job->store, job->mailbox_id, job->uids,
				    job->count, &job->expunged, &job->error);
	if (job->result != STORE_OK)
		snprintf(job->error_copy, sizeof(job->error_copy), "%s",
			 job->error != NULL ? job->error :
			 store_result_str(job->result));
}

static void
expunge_done(void *ctx)
{
	struct expunge_job *job = ctx;
	struct pop3_session *s = job->s;

	if (!ioev_conn_is_closed(s->conn)) {
		if (job->result == STORE_OK) {
			log_info(s->id, "pop3", "update",
				 "user=<%s> deleted=%zu expunged=%zu",
				 s->drop.address, job->count, job->expunged);
			pop3_reply_ok(s, "Logging out, %zu messages deleted",
				      job->count);
		} else {
			log_warn(s->id, "pop3", "update-failed",
				 "user=<%s> error=\"%s\"", s->drop.address,
				 job->error_copy);
			/* RFC 1939 6: -ERR when some deletions failed */
			pop3_reply_err(s, "[SYS/TEMP] Some deleted messages "
				       "were not removed");
		}
		pop3_session_unbusy(s);
		pop3_session_finish(s);
	}
	free(job->uids);
	free(job);
}

void
pop3_cmd_quit(struct pop3_session *s, struct pop3_command *cmd)
{
	struct expunge_job *job;
	size_t i, k = 0;

	if (s->state != POP3_STATE_TRANSACTION || s->n_deleted == 0) {
		/* nothing to update (or not logged in) */
		pop3_reply_ok(s, "Logging out");
		pop3_session_finish(s);
		return;
	}
	pop3_session_set_state(s, POP3_STATE_UPDATE);
	job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->store = s->store;
	job->mailbox_id = s->drop.mailbox_id;
	job->uids = xcalloc(s->n_deleted, sizeof(*job->uids));
	for (i = 0; i < s->drop.n_msgs; i++)
		if (s->drop.msgs[i].deleted)
			job->uids[k++] = s->drop.msgs[i].uid;
	job->count = k;
	pop3_session_busy(s);
	ioev_conn_run_blocking(s->conn, expunge_work, expunge_done, job);
}
