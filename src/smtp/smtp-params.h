/* SPDX-License-Identifier: MIT */
/*
 * Arguments of MAIL FROM and RCPT TO (RFC 5321 4.1.1.2-3): the path and
 * the ESMTP parameters, typed for the extensions Herald knows: SIZE
 * (RFC 1870), BODY (RFC 6152, 3030), SMTPUTF8 (RFC 6531), RET/ENVID/
 * NOTIFY/ORCPT (RFC 3461), AUTH (RFC 4954). Pure parsing: whether an
 * extension was advertised, and what to answer, is the server's call.
 */
#ifndef HERALD_SMTP_SMTP_PARAMS_H
#define HERALD_SMTP_SMTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/address.h"

/* RFC 3461 4.4 and 4.2: lengths of ENVID and ORCPT values (as sent). */
#define SMTP_PARAMS_MAX_ENVID 100
#define SMTP_PARAMS_MAX_ORCPT 500

struct smtp_params_limits {
	struct address_limits address;
	/* Accept UTF-8 addresses even without the SMTPUTF8 parameter
	 * (lenient submission). Default false. */
	bool allow_utf8_without_param;
};

/* Address limits 64/255/256, UTF-8 only with SMTPUTF8. */
void smtp_params_limits_default(struct smtp_params_limits *limits_r);

enum smtp_body {
	SMTP_BODY_UNSPECIFIED,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_UNSPECIFIED,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY bits; SMTP_NOTIFY_NEVER never combines with the others. */
#define SMTP_NOTIFY_NEVER	0x01u
#define SMTP_NOTIFY_SUCCESS	0x02u
#define SMTP_NOTIFY_FAILURE	0x04u
#define SMTP_NOTIFY_DELAY	0x08u

/* Bits of smtp_mail_args.present / smtp_rcpt_args.present: which
 * parameters were given, so the server can refuse those of extensions it
 * did not advertise. */
#define SMTP_PARAM_SIZE		0x001u
#define SMTP_PARAM_BODY		0x002u
#define SMTP_PARAM_SMTPUTF8	0x004u
#define SMTP_PARAM_RET		0x008u
#define SMTP_PARAM_ENVID	0x010u
#define SMTP_PARAM_AUTH		0x020u
#define SMTP_PARAM_NOTIFY	0x040u
#define SMTP_PARAM_ORCPT	0x080u

struct smtp_mail_args {
	struct address from;	/* from.is_null for "<>" */
	unsigned present;	/* SMTP_PARAM_* */
	uint64_t size;		/* SIZE=, 0 when absent */
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	char *envid;		/* decoded xtext, or NULL */
	/* AUTH=: decoded xtext; "<>" is kept as "<>". NULL when absent. */
	char *auth;
};

struct smtp_rcpt_args {
	struct address to;	/* "<postmaster>" gives domain == NULL */
	unsigned present;
	unsigned notify;	/* SMTP_NOTIFY_*, 0 when absent */
	char *orcpt_type;	/* "rfc822", "utf-8", as sent, or NULL */
	char *orcpt_addr;	/* decoded xtext, or NULL */
};

enum smtp_arg_error {
	SMTP_ARG_OK,
	SMTP_ARG_SYNTAX,	/* 501 5.5.4: "FROM:" missing, junk */
	SMTP_ARG_ADDRESS,	/* bad path: see address_err */
	SMTP_ARG_UNKNOWN_PARAM,	/* 555 5.5.4 with param_name */
	SMTP_ARG_BAD_PARAM,	/* 501 5.5.4: bad value of param_name */
	SMTP_ARG_DUP_PARAM,	/* 501 5.5.4: param_name given twice */
};

/* Detail of a failure; release with smtp_arg_result_deinit(). */
struct smtp_arg_result {
	enum smtp_arg_error error;
	enum address_error address_err;	/* with SMTP_ARG_ADDRESS */
	const char *message;	/* static text for the reply */
	char *param_name;	/* the keyword at fault, as sent, or NULL */
};

void smtp_arg_result_deinit(struct smtp_arg_result *res);

/* Parses the argument of MAIL (after the verb): "FROM:" (any case), an
 * optional space (common client behaviour), a reverse-path ("<>"
 * allowed) and parameters separated by spaces. A non-ASCII address is
 * accepted only with the SMTPUTF8 parameter or
 * limits->allow_utf8_without_param. Returns 0 and fills *args_r, or -1
 * with *res_r set; in both cases the caller calls smtp_mail_args_deinit()
 * and smtp_arg_result_deinit(). */
int smtp_mail_args_parse(const char *arg, size_t len,
			 const struct smtp_params_limits *limits,
			 struct smtp_mail_args *args_r,
			 struct smtp_arg_result *res_r);
void smtp_mail_args_deinit(struct smtp_mail_args *args);

/* Parses the argument of RCPT: "TO:", optional space, forward-path
 * ("<postmaster>" allowed, "<>" not) and parameters. smtputf8 says
 * whether the transaction's MAIL carried SMTPUTF8. Same conventions as
 * smtp_mail_args_parse(). */
int smtp_rcpt_args_parse(const char *arg, size_t len,
			 const struct smtp_params_limits *limits,
			 bool smtputf8, struct smtp_rcpt_args *args_r,
			 struct smtp_arg_result *res_r);
void smtp_rcpt_args_deinit(struct smtp_rcpt_args *args);

/* Appends NOTIFY bits as the parameter value ("SUCCESS,FAILURE");
 * nothing for 0. */
void smtp_notify_append(unsigned notify, struct buf *out);

#endif
