/* SPDX-License-Identifier: MIT */
/*
 * RCPT TO (RFC 5321 4.1.1.3) with NOTIFY and ORCPT (RFC 3461). The
 * recipient is resolved at once, on the thread pool (550 5.1.1 now rather
 * than a bounce later); a recipient in another domain is relayed only for
 * authenticated sessions and relay_networks (550 5.7.1 otherwise).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "smtp/smtp-server-private.h"

struct rcpt_job {
	struct smtp_session *s;
	char *address;		/* what is looked up */
	char *shown;		/* as the client wrote it, for replies */
	char *notify;
	char *orcpt;
	enum delivery_lookup result;
	struct delivery_dest *dests;
	size_t n_dests;
	char *error;
	bool postmaster;	/* a bare <postmaster> */
};

static void
rcpt_work(void *ctx)
{
	struct rcpt_job *j = ctx;
	const char *error = NULL;

	if (!j->postmaster)
		j->result = delivery_resolve(j->s->srv->store, j->address,
					     &j->dests, &j->n_dests, &error);
	else
		j->result = DELIVERY_UNKNOWN;
	if (j->postmaster) {
		/* <postmaster> (RFC 5321 4.5.1): of the host name, else of
		 * its parent domains */
		const char *dom = j->s->srv->cfg->hostname;

		while (j->result != DELIVERY_FOUND && j->result !=
		       DELIVERY_TEMP && dom != NULL && strchr(dom, '.') != NULL) {
			char *a = xasprintf("postmaster@%s", dom);

			delivery_dests_free(&j->dests, j->n_dests);
			j->result = delivery_resolve(j->s->srv->store, a,
						     &j->dests, &j->n_dests,
						     &error);
			free(a);
			dom = strchr(dom, '.') + 1;
		}
		if (j->result == DELIVERY_NOT_LOCAL) {
			delivery_dests_free(&j->dests, j->n_dests);
			j->result = DELIVERY_UNKNOWN;
		}
	}
	if (error != NULL)
		j->error = xstrdup(error);
}

static void
rcpt_reject(struct smtp_session *s, const char *addr, const char *code,
	    const char *dsn, const char *reason)
{
	char fbuf[300], tbuf[300];

	log_info(s->id, "smtp", "reject", "rip=%s cmd=RCPT code=%s dsn=%s "
		 "from=<%s> to=<%s> reason=\"%s\"", s->rip, code, dsn,
		 smtp_log_addr(fbuf, sizeof(fbuf), s->from),
		 log_str(tbuf, sizeof(tbuf), addr), reason);
}

static void
rcpt_job_free(struct rcpt_job *j)
{
	delivery_dests_free(&j->dests, j->n_dests);
	free(j->address);
	free(j->shown);
	free(j->notify);
	free(j->orcpt);
	free(j->error);
	free(j);
}

/* Answers the RCPT from j's result and frees j. */
static void
rcpt_finish(struct rcpt_job *j)
{
	struct smtp_session *s = j->s;
	bool accept = false;

	switch (j->result) {
	case DELIVERY_FOUND:
		accept = true;
		break;
	case DELIVERY_NOT_LOCAL:
		if (smtp_session_is_lmtp(s)) {
			rcpt_reject(s, j->shown, "550", "5.1.1", "not local");
			smtp_reply(s, "550 5.1.1 <%s>: Recipient address "
				      "rejected: not a local domain", j->shown);
			smtp_session_error(s);
		} else if (s->auth_user != NULL || s->relay_ok) {
			accept = true;
		} else {
			rcpt_reject(s, j->shown, "550", "5.7.1",
				    "relay access denied");
			smtp_reply(s, "550 5.7.1 <%s>: Relay access denied",
				   j->shown);
			smtp_session_error(s);
		}
		break;
	case DELIVERY_UNKNOWN:
		rcpt_reject(s, j->shown, "550", "5.1.1", "user unknown");
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
			      "User unknown", j->shown);
		smtp_session_error(s);
		break;
	case DELIVERY_TEMP: {
		char ebuf[200], tbuf[300];

		/* a quoted local part may hold a space or a quote */
		log_warn(s->id, "smtp", "lookup-failed", "rip=%s to=<%s> "
			 "error=%s", s->rip,
			 log_str(tbuf, sizeof(tbuf), j->shown),
			 log_str(ebuf, sizeof(ebuf),
				 j->error != NULL ? j->error : "?"));
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure, try "
			      "again later", j->shown);
		break;
	}
	}
	if (accept) {
		if (s->n_rcpts == s->cap_rcpts) {
			s->cap_rcpts = s->cap_rcpts == 0 ? 4 : s->cap_rcpts * 2;
			s->rcpts = xreallocarray(s->rcpts, s->cap_rcpts,
						 sizeof(*s->rcpts));
		}
		s->rcpts[s->n_rcpts++] = (struct smtp_rcpt){
			.address = j->shown,
			.dsn_notify = j->notify,
			.dsn_orcpt = j->orcpt,
			.dests = j->dests,
			.n_dests = j->n_dests,
		};
		j->shown = j->notify = j->orcpt = NULL;
		j->dests = NULL;
		smtp_session_expect_write(s, true);
		smtp_reply(s, "250 2.1.5 Ok");
	}
	rcpt_job_free(j);
}

static void
rcpt_done(void *ctx)
{
	struct rcpt_job *j = ctx;

	if (!smtp_session_job_end(j->s))
		rcpt_job_free(j);	/* closing: nothing is answered */
	else
		rcpt_finish(j);
}

void
smtp_cmd_rcpt(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_rcpt_args args;
	struct smtp_arg_result res;

	memset(&args, 0, sizeof(args));
	memset(&res, 0, sizeof(res));
	if (!s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		smtp_session_error(s);
		return;
	}
	if (s->n_rcpts >= s->srv->cfg->smtp.max_recipients) {
		/* RFC 5321 4.5.3.1.10: 452 is how a client learns the limit;
		 * it sends the rest in another transaction. Counting these as
		 * errors closed the session of a client that pipelined more
		 * than max_errors of them, and lost the accepted ones too.
		 * Only far past the limit (Postfix's overshoot) is it abuse. */
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		if (++s->rcpt_overshoot >
		    s->srv->cfg->smtp.recipient_overshoot_limit)
			smtp_session_error(s);
		return;
	}
	if (smtp_rcpt_args_parse(arg, len, &s->plimits, s->smtputf8, &args,
				 &res) < 0) {
		smtp_arg_error_reply(s, &res, false);
		goto out;
	}
	if (!s->esmtp && args.present != 0) {
		smtp_reply(s, "555 5.5.4 Error: parameters need EHLO");
		smtp_session_error(s);
		goto out;
	}
	struct rcpt_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->shown = address_to_string(&args.to);
	j->postmaster = args.to.domain == NULL;
	j->address = xstrdup(j->shown);
	if (args.notify != 0) {
		struct buf b;

		buf_init(&b);
		smtp_notify_append(args.notify, &b);
		j->notify = buf_steal(&b);
		buf_deinit(&b);
	}
	if (args.orcpt_type != NULL && args.orcpt_addr != NULL)
		j->orcpt = xasprintf("%s;%s", args.orcpt_type, args.orcpt_addr);
	/* A known answer (the directory unchanged since) needs no trip
	 * through the thread pool. */
	if (!j->postmaster &&
	    delivery_resolve_cached(s->srv->store, j->address, &j->result,
				    &j->dests, &j->n_dests)) {
		rcpt_finish(j);
		goto out;
	}
	smtp_session_run(s, rcpt_work, rcpt_done, j);
out:
	smtp_rcpt_args_deinit(&args);
	smtp_arg_result_deinit(&res);
}
