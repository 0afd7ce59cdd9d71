/* SPDX-License-Identifier: MIT */
/*
 * IDLE (RFC 2177, RFC 9051 6.3.13): "+ idling", then the changes made
 * elsewhere as they happen, until the client's DONE. The worker's one
 * store watch (imap-watch.c) wakes the sessions in IDLE whose mailbox's
 * change counter moved; a keepalive "* OK Still here" goes out every [imap]
 * idle_keepalive for mobile carriers' NATs (CLIENT-QUIRKS).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/worker.h"
#include "imap/imap-private.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"

struct idle_ctx {
	struct imap_cmd *cmd;
	struct ioev_timer *keepalive;
	struct imap_watcher watcher;	/* in the worker's hub */
	bool syncing;		/* an imap_sync_start() is under way */
	bool again;		/* woken during it: look once more */
	/* DONE (or a wrong line) came during a sync: the tagged reply
	 * waits for it */
	enum { IDLE_ON, IDLE_DONE, IDLE_BAD } end;
};

static void idle_sync(struct idle_ctx *ctx);

/* a load per session: cheap next to the wake-up itself */
static void
idle_wake(struct imap_watcher *w)
{
	struct idle_ctx *ctx = (struct idle_ctx *)((char *)w -
		offsetof(struct idle_ctx, watcher));

	if (imap_sync_pending(ctx->cmd->s))
		idle_sync(ctx);
}

static void
idle_ctx_free(void *arg)
{
	struct idle_ctx *ctx = arg;

	imap_watch_remove(&ctx->watcher);
	ioev_timer_free(&ctx->keepalive);
	free(ctx);
}

/* Leaves IDLE: no more wake-ups or keepalives; the tagged reply now, or
 * after the sync under way. */
static enum imap_cmd_result
idle_finish(struct idle_ctx *ctx)
{
	struct imap_cmd *cmd = ctx->cmd;

	imap_watch_remove(&ctx->watcher);
	ioev_timer_stop(ctx->keepalive);
	if (ctx->syncing)
		return IMAP_CMD_PENDING;
	if (ctx->end == IDLE_BAD)
		return imap_cmd_bad(cmd, "Expected DONE");
	return imap_cmd_ok(cmd, "IDLE terminated");
}

static void
idle_synced(struct imap_session *s)
{
	struct idle_ctx *ctx = s->cmd->ctx;

	ctx->syncing = false;
	if (ctx->end != IDLE_ON) {
		(void)idle_finish(ctx);
		return;
	}
	if (ctx->again) {
		ctx->again = false;
		if (imap_sync_pending(s))
			idle_sync(ctx);
	}
}

static void
idle_sync(struct idle_ctx *ctx)
{
	struct imap_session *s = ctx->cmd->s;

	/* RFC 5465 4: with NOTIFY, what it asked for (imap-cmd-notify.c
	 * sends the rest) */
	if (ctx->end != IDLE_ON || s->box == NULL ||
	    !imap_notify_idle_selected(s))
		return;
	if (ctx->syncing) {
		ctx->again = true;
		return;
	}
	ctx->syncing = true;
	/* IDLE is a command in progress that uses no sequence numbers:
	 * EXPUNGE may go out (RFC 9051 7.5.1) */
	imap_sync_start(s, true, idle_synced);
}

static void
idle_keepalive(void *arg)
{
	struct idle_ctx *ctx = arg;
	struct imap_session *s = ctx->cmd->s;

	/* After a reload this worker drains: a client that re-IDLEs every
	 * 29 minutes would keep it (and the old configuration) forever.
	 * BYE sends it to the new workers (RFC 9051 7.1.5). */
	if (s->w->draining) {
		log_info(s->id, "imap", "idle-bye", "reason=draining");
		imap_session_bye(s, "Server restarting, please reconnect");
		return;
	}
	imap_session_untagged(s, "OK Still here");
	/* the safety net of docs/ARCHITECTURE.md "Change notification": a
	 * writer killed between its commit and its wake-up leaves a change
	 * no counter shows; look anyway, once per interval */
	if (s->box != NULL && !ctx->syncing) {
		s->box->sync_counter = 0;
		idle_sync(ctx);
	}
}

static enum imap_cmd_result
idle_line(struct imap_cmd *cmd, const char *line, size_t len)
{
	struct idle_ctx *ctx = cmd->ctx;

	/* what follows DONE in the same packet stays for the command
	 * parser (iOS Mail: CLIENT-QUIRKS) */
	cmd->s->line_cb = NULL;
	ctx->end = line != NULL && len == 4 && strncasecmp(line, "DONE", 4) == 0 ?
		IDLE_DONE : IDLE_BAD;
	return idle_finish(ctx);
}

enum imap_cmd_result
imap_cmd_idle(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct idle_ctx *ctx;

	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "IDLE takes no arguments");
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->cmd = cmd;
	cmd->ctx = ctx;
	cmd->ctx_free = idle_ctx_free;
	ctx->watcher.wake = idle_wake;
	if (!imap_watch_add(s, &ctx->watcher))
		return imap_cmd_no(cmd, "[UNAVAILABLE] IDLE is not available "
				   "now, use NOOP");
	/* mobile NATs drop silent TCP: probes below the keepalive too */
	(void)ioev_conn_set_keepalive(s->conn, 300);
	ctx->keepalive = ioev_timer_new(s->w->loop, idle_keepalive, ctx);
	ioev_timer_start(ctx->keepalive, s->set->idle_keepalive_ms, true);
	buf_puts(imap_session_out(s), "+ idling\r\n");
	imap_session_flush(s);
	/* changes already waiting go out at once */
	if (imap_sync_pending(s))
		idle_sync(ctx);
	/* may read a DONE already here and end the command: ctx is not
	 * ours to touch after this */
	imap_session_want_line(cmd, idle_line);
	return IMAP_CMD_PENDING;
}
