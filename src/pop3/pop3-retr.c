/* SPDX-License-Identifier: MIT */
/*
 * RETR and TOP (RFC 1939 5, 7). Blobs are read and dot-stuffed on the
 * thread pool. Two things keep that fast and bounded:
 *  - a batch: consecutive RETRs already pipelined behind the first one are
 *    taken into the same job (in order, up to RETR_BATCH messages), so a
 *    client downloading thousands of small messages pays one thread hand-off
 *    per batch, not per message;
 *  - streaming: a job stops after about RETR_CHUNK bytes of output and the
 *    next one starts only once the connection's output has drained, so a
 *    big message never sits in memory whole and a slow reader costs at most
 *    one chunk plus the output buffer.
 * A message RETR has sent whole gets \Seen in the store (IMAP shows it
 * read), one flag update per job for the messages it finished; TOP does
 * not (RFC 9051 6.4.5's rule for BODY.PEEK).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/worker.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "pop3/pop3-private.h"
#include "pop3/pop3-stuff.h"

/* Output produced per job. */
#define RETR_CHUNK (128 * 1024)
#define READ_SIZE (64 * 1024)
/* Most pipelined RETRs taken into one batch. */
#define RETR_BATCH 64

struct retr_item {
	char blob_id[STORE_BLOB_ID_LEN + 1];
	uint64_t size;
	bool top;
	uint32_t lines;
	uint32_t uid;
	bool mark_seen;		/* RETR of a message without \Seen */
	bool sent;		/* written out whole */
};

struct pop3_retr {
	struct pop3_session *s;
	struct store *store;
	int64_t mailbox_id;
	struct retr_item items[RETR_BATCH];
	size_t n_items;
	size_t cur;		/* item being sent */
	int fd;			/* of items[cur], -1 before it is opened */
	struct pop3_stuffer st;
	struct buf out;
	uint8_t *readbuf;
	bool running;		/* a job holds this struct */
	bool fatal;		/* failed in the middle of a message */
	/* for the log line of a failure (pool thread writes, loop reads) */
	char failed_blob[STORE_BLOB_ID_LEN + 1];
	char error[160];
	/* the flag update of the last job failed (pool writes, loop logs) */
	char seen_error[160];
};

static void retr_submit(struct pop3_retr *r);

/* Pool thread: starts items[cur]: writes its status line and either
 * gives its body (*data_r, a blob kept in the database: valid until the
 * next get on br) or opens r->fd (a blob file, streamed). Returns false
 * (after writing -ERR for it) if its blob cannot be read. */
static bool
item_open(struct pop3_retr *r, struct store_blob_reader *br,
	  const uint8_t **data_r, size_t *len_r)
{
	struct retr_item *it = &r->items[r->cur];
	const char *error = NULL;
	enum store_result res;

	res = store_blob_reader_get(br, it->blob_id, it->size, data_r, len_r,
				    &r->fd, &error);
	if (res != STORE_OK) {
		snprintf(r->failed_blob, sizeof(r->failed_blob), "%s",
			 it->blob_id);
		snprintf(r->error, sizeof(r->error), "%s",
			 error != NULL ? error : store_result_str(res));
		buf_puts(&r->out, "-ERR [SYS/TEMP] Cannot read the message, "
				  "try again later\r\n");
		r->fd = -1;
		return false;
	}
	pop3_stuffer_init(&r->st, it->top, it->lines);
	if (it->top)
		buf_puts(&r->out, "+OK Top of message follows\r\n");
	else
		buf_printf(&r->out, "+OK %llu octets\r\n",
			   (unsigned long long)it->size);
	return true;
}

static void
item_end(struct pop3_retr *r)
{
	pop3_stuffer_finish(&r->st, &r->out);
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	r->items[r->cur].sent = true;
	r->cur++;
}

/* Pool thread: \Seen for the RETRs this job finished, items
 * [from, r->cur), in one write. A failure costs the flag, never the
 * download: it is logged by retr_done. */
static void
mark_seen(struct pop3_retr *r, size_t from)
{
	uint32_t uids[RETR_BATCH];
	size_t n = 0;
	const char *error = NULL;
	enum store_result res;

	for (size_t i = from; i < r->cur && i < r->n_items; i++)
		if (r->items[i].mark_seen && r->items[i].sent)
			uids[n++] = r->items[i].uid;
	if (n == 0)
		return;
	res = store_flags_update(r->store, r->mailbox_id, uids, n,
				 STORE_FLAG_SEEN, 0, NULL, NULL, &error);
	if (res != STORE_OK)
		snprintf(r->seen_error, sizeof(r->seen_error), "%s",
			 error != NULL ? error : store_result_str(res));
}

/* Pool thread: fills r->out with the next piece of the batch: about
 * RETR_CHUNK bytes, plus at most one whole blob from the database (at most
 * STORE_BLOB_INLINE_MAX, before stuffing). */
static void
retr_work(void *ctx)
{
	struct pop3_retr *r = ctx;
	struct store_blob_reader *br = NULL;
	size_t first = r->cur;

	while (r->cur < r->n_items && r->out.len < RETR_CHUNK) {
		ssize_t n;

		if (r->fd < 0) {
			const uint8_t *data;
			size_t len;

			if (br == NULL)
				br = store_blob_reader_new(r->store);
			if (!item_open(r, br, &data, &len)) {
				r->cur++;
				continue;
			}
			if (r->fd < 0) {
				(void)pop3_stuffer_feed(&r->st, data, len,
							&r->out);
				item_end(r);
				continue;
			}
		}
		if (r->readbuf == NULL)
			r->readbuf = xmalloc(READ_SIZE);
		n = read(r->fd, r->readbuf, READ_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(r->failed_blob, sizeof(r->failed_blob), "%s",
				 r->items[r->cur].blob_id);
			snprintf(r->error, sizeof(r->error), "read: %s",
				 strerror(errno));
			r->fatal = true;
			break;
		}
		if (n > 0)
			(void)pop3_stuffer_feed(&r->st, r->readbuf, (size_t)n,
						&r->out);
		if (n == 0 || pop3_stuffer_is_done(&r->st))
			item_end(r);
	}
	/* the connection and its snapshot go back before the loop waits */
	store_blob_reader_free(&br);
	if (!r->fatal)
		mark_seen(r, first);
}

static void
retr_end(struct pop3_session *s)
{
	pop3_retr_free(s);
	pop3_session_unbusy(s);
}

static void
retr_done(void *ctx)
{
	struct pop3_retr *r = ctx;
	struct pop3_session *s = r->s;

	r->running = false;
	if (ioev_conn_is_closed(s->conn))
		return;		/* on_close frees r */
	if (r->failed_blob[0] != '\0') {
		log_warn(s->id, "pop3", "retr-failed",
			 "user=<%s> blob=%s error=\"%s\"", s->drop.address,
			 r->failed_blob, r->error);
		r->failed_blob[0] = '\0';
	}
	if (r->seen_error[0] != '\0') {
		log_warn(s->id, "pop3", "seen-failed", "user=<%s> error=\"%s\"",
			 s->drop.address, r->seen_error);
		r->seen_error[0] = '\0';
	}
	(void)ioev_conn_write(s->conn, r->out.data, r->out.len);
	buf_reset(&r->out);
	if (r->fatal) {
		/* half a message was sent: no way to say -ERR now */
		ioev_conn_close(s->conn);
		return;
	}
	if (r->cur == r->n_items) {
		retr_end(s);
		return;
	}
	/* wait for the drain callback when the client reads slowly */
	if (!ioev_conn_output_is_full(s->conn))
		retr_submit(r);
}

static void
retr_submit(struct pop3_retr *r)
{
	r->running = true;
	ioev_conn_run_blocking(r->s->conn, retr_work, retr_done, r);
}

bool
pop3_retr_drain(struct pop3_session *s)
{
	struct pop3_retr *r = s->retr;

	if (r == NULL)
		return false;
	if (!r->running)
		retr_submit(r);
	return true;
}

void
pop3_retr_free(struct pop3_session *s)
{
	struct pop3_retr *r = s->retr;

	if (r == NULL)
		return;
	if (r->running)
		panic("pop3: freeing a RETR with a job running");
	if (r->fd >= 0)
		close(r->fd);
	buf_deinit(&r->out);
	free(r->readbuf);
	xfree(&s->retr);
}

static void
item_add(struct pop3_retr *r, struct pop3_msg *m, bool top, uint32_t lines)
{
	struct retr_item *it = &r->items[r->n_items++];

	memcpy(it->blob_id, m->blob_id, sizeof(it->blob_id));
	it->size = m->size;
	it->top = top;
	it->lines = lines;
	it->uid = m->uid;
	it->mark_seen = !top && !m->seen;
	if (it->mark_seen)
		m->seen = true;		/* one update per message */
}

/* Takes further "RETR n" lines that are already buffered into the batch,
 * as long as each is valid (so its reply is a message, answered in order
 * by this batch). Anything else stays in the input for the normal path. */
static void
batch_pipelined(struct pop3_session *s, struct pop3_retr *r)
{
	while (r->n_items < RETR_BATCH) {
		size_t avail = ioev_conn_input_len(s->conn), len, i;
		const uint8_t *data, *lf;
		struct pop3_command cmd;
		const char *error;
		char line[64];
		uint32_t n;

		if (avail == 0)
			return;
		data = ioev_conn_peek(s->conn, avail < sizeof(line) ?
				      avail : sizeof(line), &len);
		lf = memchr(data, '\n', len);
		if (lf == NULL)
			return;
		i = (size_t)(lf - data);
		if (i > 0 && data[i - 1] == '\r')
			i--;
		memcpy(line, data, i);
		line[i] = '\0';
		if (memchr(line, '\0', i) != NULL ||
		    pop3_command_parse(line, i, &cmd, &error) < 0 ||
		    cmd.cmd != POP3_CMD_RETR || cmd.n_args != 1 ||
		    !pop3_parse_number(cmd.args[0], &n) || n == 0 ||
		    n > s->drop.n_msgs || s->drop.msgs[n - 1].deleted)
			return;
		ioev_conn_consume(s->conn, (size_t)(lf - data) + 1);
		item_add(r, &s->drop.msgs[n - 1], false, 0);
	}
}

static void
retr_start(struct pop3_session *s, struct pop3_msg *m, bool top,
	   uint32_t lines)
{
	struct pop3_retr *r = xcalloc(1, sizeof(*r));

	r->s = s;
	r->store = s->store;
	r->mailbox_id = s->drop.mailbox_id;
	r->fd = -1;
	buf_init(&r->out);
	/* Grown here, on the loop thread, not by whichever pool thread runs
	 * the first job: a block of this size freed on a pool thread stays
	 * in that thread's malloc arena (one per pool thread, over time). */
	buf_reserve(&r->out, RETR_CHUNK + RETR_CHUNK / 4);
	item_add(r, m, top, lines);
	if (!top)
		batch_pipelined(s, r);
	s->retr = r;
	pop3_session_busy(s);
	retr_submit(r);
}

void
pop3_cmd_retr(struct pop3_session *s, struct pop3_command *cmd)
{
	struct pop3_msg *m;
	uint32_t n;

	if ((m = pop3_msg_arg(s, cmd->args[0], &n)) != NULL)
		retr_start(s, m, false, 0);
}

void
pop3_cmd_top(struct pop3_session *s, struct pop3_command *cmd)
{
	struct pop3_msg *m;
	uint32_t n, lines;

	/* RFC 1939 7: the line count must be non-negative */
	if (!pop3_parse_number(cmd->args[1], &lines)) {
		pop3_reply_err(s, "Invalid line count");
		(void)pop3_session_error(s);
		return;
	}
	if ((m = pop3_msg_arg(s, cmd->args[0], &n)) != NULL)
		retr_start(s, m, true, lines);
}
