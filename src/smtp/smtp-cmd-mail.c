/* SPDX-License-Identifier: MIT */
/*
 * MAIL FROM (RFC 5321 4.1.1.2) with SIZE, BODY, SMTPUTF8, RET, ENVID and
 * AUTH parameters. On submission the sender must belong to the
 * authenticated account ([smtp] sender_check); that check may look up
 * aliases, so it runs on the thread pool.
 */
#include <stdlib.h>
#include <string.h>

#include "delivery/sender-policy.h"
#include "lib/mem.h"
#include "smtp/smtp-server-private.h"

struct mail_job {
	struct smtp_session *s;
	struct smtp_mail_args args;
	char *from;
	enum sender_policy_verdict allowed;
};

void
smtp_arg_error_reply(struct smtp_session *s, const struct smtp_arg_result *res,
		     bool sender)
{
	const char *what = res->message != NULL ? res->message : "bad syntax";

	switch (res->error) {
	case SMTP_ARG_ADDRESS:
		switch (res->address_err) {
		case ADDRESS_ERR_UTF8:
			smtp_reply(s, "553 5.6.7 Error: %s", what);
			break;
		case ADDRESS_ERR_BAD_UTF8:
			smtp_reply(s, "501 5.6.7 Error: %s", what);
			break;
		case ADDRESS_ERR_SYNTAX:
			smtp_reply(s, "501 %s Error: %s",
				   sender ? "5.1.7" : "5.1.3", what);
			break;
		default:
			smtp_reply(s, "553 %s Error: %s",
				   sender ? "5.1.7" : "5.1.3", what);
			break;
		}
		break;
	case SMTP_ARG_UNKNOWN_PARAM:
		smtp_reply(s, "555 5.5.4 Error: unsupported parameter %s",
			   res->param_name != NULL ? res->param_name : "");
		break;
	default:
		smtp_reply(s, "501 5.5.4 Error: %s", what);
		break;
	}
	smtp_session_error(s);
}

static void
mail_accept(struct smtp_session *s, struct smtp_mail_args *args, char *from)
{
	s->in_tx = true;
	s->from = from;
	s->smtputf8 = args->smtputf8;
	s->body = args->body;
	s->size_decl = args->size;
	if (args->ret == SMTP_RET_FULL)
		s->dsn_ret = xstrdup("FULL");
	else if (args->ret == SMTP_RET_HDRS)
		s->dsn_ret = xstrdup("HDRS");
	if (args->envid != NULL)
		s->dsn_envid = xstrdup(args->envid);
	smtp_authin_mail(s);
	smtp_reply(s, "250 2.1.0 Ok");
}

static void
mail_refuse_sender(struct smtp_session *s, const char *from)
{
	char fbuf[300], ubuf[300];

	log_info(s->id, "smtp", "reject", "rip=%s cmd=MAIL code=553 dsn=5.7.1 "
		 "from=<%s> user=<%s> reason=\"sender not owned\"", s->rip,
		 smtp_log_addr(fbuf, sizeof(fbuf), from),
		 log_str(ubuf, sizeof(ubuf), s->auth_user));
	smtp_reply(s, "553 5.7.1 <%s>: Sender address rejected: not owned by "
		      "user %s", from, s->auth_user);
	smtp_session_error(s);
}

static void
mail_work(void *ctx)
{
	struct mail_job *j = ctx;
	struct smtp_session *s = j->s;

	j->allowed = sender_policy_allowed(s->srv->store,
					   s->srv->cfg->smtp.sender_check,
					   s->auth_user, s->auth_account_id,
					   j->from);
}

static void
mail_done(void *ctx)
{
	struct mail_job *j = ctx;
	struct smtp_session *s = j->s;

	if (smtp_session_job_end(s)) {
		switch (j->allowed) {
		case SENDER_POLICY_OK:
			mail_accept(s, &j->args, j->from);
			j->from = NULL;
			break;
		case SENDER_POLICY_TEMP:
			log_warn(s->id, "smtp", "lookup-failed", "rip=%s "
				 "cmd=MAIL check=sender", s->rip);
			smtp_reply(s, "451 4.3.0 Temporary lookup failure, "
				      "try again later");
			break;
		default:
			mail_refuse_sender(s, j->from);
			break;
		}
	}
	smtp_mail_args_deinit(&j->args);
	free(j->from);
	free(j);
}

void
smtp_cmd_mail(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_mail_args args;
	struct smtp_arg_result res;
	const struct config *cfg = s->srv->cfg;

	if (s->helo == NULL) {
		smtp_reply(s, "503 5.5.1 Error: send %s first",
			   smtp_session_is_lmtp(s) ? "LHLO" : "HELO/EHLO");
		smtp_session_error(s);
		return;
	}
	if (s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
		smtp_session_error(s);
		return;
	}
	if ((s->mode == SMTP_MODE_SUBMISSION ||
	     s->mode == SMTP_MODE_SUBMISSIONS) && s->auth_user == NULL) {
		smtp_reply(s, "530 5.7.0 Error: authentication required");
		smtp_session_error(s);
		return;
	}
	memset(&args, 0, sizeof(args));
	memset(&res, 0, sizeof(res));
	if (smtp_mail_args_parse(arg, len, &s->plimits, &args, &res) < 0) {
		smtp_arg_error_reply(s, &res, true);
		goto out;
	}
	if (!s->esmtp && args.present != 0) {
		smtp_reply(s, "555 5.5.4 Error: parameters need EHLO");
		smtp_session_error(s);
		goto out;
	}
	if (args.body == SMTP_BODY_BINARYMIME) {
		smtp_reply(s, "555 5.5.4 Error: BINARYMIME is not supported");
		smtp_session_error(s);
		goto out;
	}
	if (args.size > cfg->smtp.message_size_limit) {
		smtp_reply(s, "552 5.3.4 Error: message size exceeds fixed "
			      "limit");
		smtp_session_error(s);
		goto out;
	}
	char *from = address_to_string(&args.from);

	if (s->auth_user != NULL &&
	    cfg->smtp.sender_check != CONFIG_SENDER_CHECK_OFF) {
		struct mail_job *j = xcalloc(1, sizeof(*j));

		j->s = s;
		j->args = args;
		j->from = from;
		memset(&args, 0, sizeof(args));
		smtp_session_run(s, mail_work, mail_done, j);
		goto out;
	}
	mail_accept(s, &args, from);
out:
	smtp_mail_args_deinit(&args);
	smtp_arg_result_deinit(&res);
}
