/* SPDX-License-Identifier: MIT */
/*
 * DMARC aggregate reports on the queue's side (docs/mailauth.md
 * "Aggregate reports"): a report run's messages handed on like a DSN
 * (a local account, or the outbound queue), and the runner's timer that
 * starts a run at every [mailauth] dmarc_report_interval (UTC midnight).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/delivery.h"
#include "dns/dns.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mailauth/dmarc-report.h"
#include "queue/queue-private.h"

struct deliver_ctx {
	struct store *store;
	const struct config *cfg;
};

/* One report to one address, in one durable step, as dsn_send() does:
 * the report's own Received field on top; NOTIFY=NEVER (a report about
 * an undeliverable report would only add noise). */
static int
deliver_report(void *ctx, const char *from, const char *to,
	       const uint8_t *data, size_t len, const char **error_r)
{
	struct deliver_ctx *dc = ctx;
	struct delivery_dest *dests = NULL;
	struct delivery_rcpt rcpt;
	struct delivery_msg msg;
	enum delivery_lookup lookup;
	const char *error = NULL;
	char id[LOG_ID_LEN + 1];
	struct buf received;
	size_t n_dests = 0;
	time_t now = time(NULL);
	int ret = 0;

	log_new_id(id);
	lookup = delivery_resolve(dc->store, to, &dests, &n_dests, &error);
	if (lookup == DELIVERY_UNKNOWN) {
		*error_r = "no such local address";
		return 1;
	}
	if (lookup == DELIVERY_TEMP) {
		*error_r = error != NULL ? error : "store failure";
		return -1;
	}
	buf_init(&received);
	buf_printf(&received, "Received: by %s (Herald)\r\n\tid %s; ",
		   dc->cfg->hostname, id);
	delivery_date_format(now, &received);
	buf_puts(&received, "\r\n");
	rcpt = (struct delivery_rcpt){
		.address = to,
		.dsn_notify = "NEVER",
		.dests = dests,
		.n_dests = n_dests,
	};
	msg = (struct delivery_msg){
		.id = id,
		.mode = DELIVERY_ALL_OR_NOTHING,
		.env_from = from,
		.received = received.data,
		.data = data,
		.len = len,
		.internal_date = (int64_t)now,
		.rcpts = &rcpt,
		.n_rcpts = 1,
	};
	delivery_msg_set_needs(&msg, false, false,
			       utf8_has_non_ascii(data, len), false);
	if (delivery_run(dc->store, &msg) != 1) {
		/* a full mailbox would refuse the retries too */
		ret = rcpt.result == STORE_E_OVER_QUOTA ? 1 : -1;
		*error_r = ret == 1 ? "the mailbox is over quota" :
			   rcpt.error != NULL ? rcpt.error : "store failure";
	}
	buf_deinit(&received);
	delivery_dests_free(&dests, n_dests);
	return ret;
}

int
queue_dmarc_report(struct store *store, const struct config *cfg,
		   const struct dmarc_psl *psl, bool dry_run, FILE *out,
		   struct dmarc_report_run_stats *stats_r,
		   const char **error_r)
{
	struct deliver_ctx dc = { store, cfg };
	const char *err = NULL;
	struct dmarc_report_run_opts o = {
		.dry_run = dry_run,
		.out = out,
		.deliver = deliver_report,
		.deliver_ctx = &dc,
		.psl = psl,
	};
	int ret;

	/* a resolver of its own for the 7.1 lookups: a run is once a day,
	 * on a pool thread or in a command, never on the loop */
	if (!dry_run) {
		o.dns = dns_resolver_new(NULL, &cfg->dns, &err);
		if (o.dns == NULL)
			log_warn(NULL, "dmarc", "resolver-failed",
				 "error=\"%s\"", err != NULL ? err : "?");
	}
	ret = dmarc_report_run(store, cfg, &o, stats_r, error_r);
	dns_resolver_free(&o.dns);
	return ret;
}

/* ---- in the runner ---- */

struct dmarc_job {
	struct queue_runner *rn;
	struct dmarc_report_run_stats st;
	const char *error;
	int ret;
};

static void
dmarc_work(void *ctx)
{
	struct dmarc_job *j = ctx;

	j->ret = queue_dmarc_report(j->rn->store, j->rn->cfg, j->rn->w->psl,
				    false, NULL, &j->st, &j->error);
	if (j->ret < 0)
		log_warn(NULL, "dmarc", "run-failed", "error=\"%s\"",
			 j->error != NULL ? j->error : "?");
}

static void
dmarc_done(void *ctx)
{
	struct dmarc_job *j = ctx;
	struct queue_runner *rn = j->rn;

	rn->pool_jobs--;
	log_info(NULL, "dmarc", "run-done", "reports=%zu sent=%zu "
		 "dropped=%zu skipped=%zu", j->st.reports, j->st.sent,
		 j->st.dropped, j->st.skipped);
	free(j);
	if (rn->stopping) {
		queue_runner_maybe_stopped(rn);
		return;
	}
	queue_dmarc_arm(rn);
}

static void
dmarc_timer_cb(void *ctx)
{
	struct queue_runner *rn = ctx;
	struct dmarc_job *j;

	if (rn->stopping)
		return;
	/* the loop's timers count from its cached clock, which a busy
	 * iteration leaves behind the wall clock: a run due at midnight
	 * must not start a moment before it */
	time_t now = time(NULL);
	if (now < rn->dmarc_due) {
		ioev_timer_start(rn->dmarc_timer,
				 (uint64_t)(rn->dmarc_due - now) * 1000 + 50,
				 false);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->rn = rn;
	rn->pool_jobs++;
	ioev_run_blocking(rn->loop, dmarc_work, dmarc_done, j);
}

void
queue_dmarc_arm(struct queue_runner *rn)
{
	const struct config_mailauth *m = &rn->cfg->mailauth;
	time_t now = time(NULL), next;

	if (!m->dmarc_reports || rn->stopping)
		return;
	if (rn->dmarc_timer == NULL)
		rn->dmarc_timer = ioev_timer_new(rn->loop, dmarc_timer_cb, rn);
	next = dmarc_report_next_run(now, m->dmarc_report_interval_s);
	rn->dmarc_due = next;
	ioev_timer_start(rn->dmarc_timer, (uint64_t)(next - now) * 1000 + 50,
			 false);
}
