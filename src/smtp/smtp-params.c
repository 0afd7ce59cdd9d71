/* SPDX-License-Identifier: MIT */
/*
 * MAIL FROM / RCPT TO argument parsing; see smtp-params.h. Parameters are
 * checked strictly (RFC 5321 4.1.2 esmtp-keyword / esmtp-value) because
 * they travel on in DSNs and queue files; the only leniency is spaces
 * after the colon, which many clients send.
 */
#include "smtp/smtp-params.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/hex.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "lib/xtext.h"

struct smtp_param {
	const char *key;
	size_t key_len;
	const char *value;	/* NULL when there was no '=' */
	size_t value_len;
};

void
smtp_params_limits_default(struct smtp_params_limits *limits_r)
{
	memset(limits_r, 0, sizeof(*limits_r));
	address_limits_default(&limits_r->address);
	limits_r->allow_utf8_without_param = false;
}

void
smtp_arg_result_deinit(struct smtp_arg_result *res)
{
	free(res->param_name);
	memset(res, 0, sizeof(*res));
}

void
smtp_mail_args_deinit(struct smtp_mail_args *args)
{
	address_deinit(&args->from);
	free(args->envid);
	free(args->auth);
	memset(args, 0, sizeof(*args));
}

void
smtp_rcpt_args_deinit(struct smtp_rcpt_args *args)
{
	address_deinit(&args->to);
	free(args->orcpt_type);
	free(args->orcpt_addr);
	memset(args, 0, sizeof(*args));
}

static int
smtp_arg_fail(struct smtp_arg_result *res, enum smtp_arg_error error,
	      const char *message, const struct smtp_param *param)
{
	res->error = error;
	res->message = message;
	free(res->param_name);
	res->param_name = param == NULL ? NULL :
		xstrndup(param->key, param->key_len);
	return -1;
}

static bool
smtp_param_is(const struct smtp_param *param, const char *name)
{
	return strlen(name) == param->key_len &&
		strncasecmp(param->key, name, param->key_len) == 0;
}

static bool
smtp_value_is(const struct smtp_param *param, const char *name)
{
	return param->value != NULL && strlen(name) == param->value_len &&
		strncasecmp(param->value, name, param->value_len) == 0;
}

static bool
smtp_is_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9');
}

/* "FROM:" / "TO:" then optional spaces. Returns the position or -1. */
static int
smtp_skip_prefix(const char *arg, size_t len, const char *prefix,
		 size_t *pos_r)
{
	size_t n = strlen(prefix), pos;

	if (len < n || strncasecmp(arg, prefix, n) != 0)
		return -1;
	pos = n;
	while (pos < len && arg[pos] == ' ')
		pos++;
	*pos_r = pos;
	return 0;
}

/* Splits the next "keyword[=value]" at *pos. esmtp-keyword = (ALPHA /
 * DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126),
 * plus UTF-8 (RFC 6531 3.3), whose acceptance the caller decides.
 * Returns 1 with a param, 0 at the end, -1 on a syntax error. */
static int
smtp_next_param(const char *arg, size_t len, size_t *pos,
		struct smtp_param *param_r, bool *non_ascii)
{
	size_t p = *pos, start;

	if (p >= len)
		return 0;
	if (arg[p] != ' ')
		return -1;
	while (p < len && arg[p] == ' ')
		p++;
	if (p >= len)
		return 0;
	start = p;
	if (!smtp_is_alnum((uint8_t)arg[p]))
		return -1;
	while (p < len && (smtp_is_alnum((uint8_t)arg[p]) || arg[p] == '-'))
		p++;
	param_r->key = arg + start;
	param_r->key_len = p - start;
	param_r->value = NULL;
	param_r->value_len = 0;
	if (p < len && arg[p] == '=') {
		p++;
		start = p;
		while (p < len && arg[p] != ' ') {
			uint8_t c = (uint8_t)arg[p];

			if (c >= 0x80)
				*non_ascii = true;
			else if (c < 33 || c == '=' || c == 127)
				return -1;
			p++;
		}
		if (p == start)
			return -1;
		if (*non_ascii &&
		    !utf8_is_valid((const uint8_t *)arg + start, p - start))
			return -1;
		param_r->value = arg + start;
		param_r->value_len = p - start;
	} else if (p < len && arg[p] != ' ') {
		return -1;
	}
	*pos = p;
	return 1;
}

static int
smtp_parse_size(const struct smtp_param *param, uint64_t *size_r)
{
	uint64_t v = 0;
	size_t i;

	if (param->value == NULL || param->value_len > 20)
		return -1;
	for (i = 0; i < param->value_len; i++) {
		uint8_t c = (uint8_t)param->value[i];

		if (c < '0' || c > '9')
			return -1;
		if (v > (UINT64_MAX - (c - '0')) / 10)
			return -1;
		v = v * 10 + (c - '0');
	}
	*size_r = v;
	return 0;
}

/* A decoded xtext value, or NULL when it is not text (see
 * xtext_decode_text(): no controls, valid UTF-8 only with utf8). */
static char *
smtp_decode_xtext(const struct smtp_param *param, bool utf8)
{
	struct buf out;
	const char *error;
	char *s;

	buf_init(&out);
	if (xtext_decode_text(param->value, param->value_len, utf8, &out,
			      &error) < 0) {
		buf_deinit(&out);
		return NULL;
	}
	s = buf_steal(&out);
	buf_deinit(&out);
	return s;
}

static int
smtp_mail_param(struct smtp_mail_args *args, const struct smtp_param *param,
		struct smtp_arg_result *res)
{
	unsigned bit;

	if (smtp_param_is(param, "SIZE"))
		bit = SMTP_PARAM_SIZE;
	else if (smtp_param_is(param, "BODY"))
		bit = SMTP_PARAM_BODY;
	else if (smtp_param_is(param, "SMTPUTF8"))
		bit = SMTP_PARAM_SMTPUTF8;
	else if (smtp_param_is(param, "RET"))
		bit = SMTP_PARAM_RET;
	else if (smtp_param_is(param, "ENVID"))
		bit = SMTP_PARAM_ENVID;
	else if (smtp_param_is(param, "AUTH"))
		bit = SMTP_PARAM_AUTH;
	else
		return smtp_arg_fail(res, SMTP_ARG_UNKNOWN_PARAM,
				     "unrecognized parameter", param);
	if ((args->present & bit) != 0)
		return smtp_arg_fail(res, SMTP_ARG_DUP_PARAM,
				     "duplicate parameter", param);
	args->present |= bit;

	switch (bit) {
	case SMTP_PARAM_SIZE:
		if (smtp_parse_size(param, &args->size) < 0)
			return smtp_arg_fail(res, SMTP_ARG_BAD_PARAM,
					     "invalid SIZE", param);
		break;
	case SMTP_PARAM_BODY:
		if (smtp_value_is(param, "7BIT"))
			args->body = SMTP_BODY_7BIT;
		else if (smtp_value_is(param, "8BITMIME"))
			args->body = SMTP_BODY_8BITMIME;
		else if (smtp_value_is(param, "BINARYMIME"))
			args->body = SMTP_BODY_BINARYMIME;
		else
			return smtp_arg_fail(res, SMTP_ARG_BAD_PARAM,
					     "invalid BODY", param);
		break;
	case SMTP_PARAM_SMTPUTF8:
		if (param->value != NULL)
			return smtp_arg_fail(res, SMTP_ARG_BAD_PARAM,
					     "SMTPUTF8 takes no value", param);
		args->smtputf8 = true;
		break;
	case SMTP_PARAM_RET:
		if (smtp_value_is(param, "FULL"))
			args->ret = SMTP_RET_FULL;
		else if (smtp_value_is(param, "HDRS"))
			args->ret = SMTP_RET_HDRS;
		else
			return smtp_arg_fail(res, SMTP_ARG_BAD_PARAM,
					     "invalid RET", param);
		break;
	case SMTP_PARAM_ENVID:
		if (param->value == NULL ||
		    param->value_len > SMTP_PARAMS_MAX_ENVID ||
		    (args->envid = smtp_decode_xtext(param, false)) == NULL)
			return smtp_arg_fail(res, SMTP_ARG_BAD_PARAM,
					     "invalid ENVID", param);
		break;
	case SMTP_PARAM_AUTH:
		if (param->value == NULL ||
		    (args->auth = smtp_decode_xtext(param, true)) == NULL)
			return smtp_arg_fail(res, SMTP_ARG_BAD_PARAM,
					     "invalid AUTH", param);
		break;
	}
	return 0;
}

static int
smtp_parse_notify(const struct smtp_param *param, unsigned *notify_r)
{
	const char *p, *end, *comma;
	unsigned notify = 0, bit;
	size_t n;

	if (param->value == NULL)
		return -1;
	p = param->value;
	end = p + param->value_len;
	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		n = (size_t)(comma - p);
		if (n == 5 && strncasecmp(p, "NEVER", n) == 0)
			bit = SMTP_NOTIFY_NEVER;
		else if (n == 7 && strncasecmp(p, "SUCCESS", n) == 0)
			bit = SMTP_NOTIFY_SUCCESS;
		else if (n == 7 && strncasecmp(p, "FAILURE", n) == 0)
			bit = SMTP_NOTIFY_FAILURE;
		else if (n == 5 && strncasecmp(p, "DELAY", n) == 0)
			bit = SMTP_NOTIFY_DELAY;
		else
			return -1;
		if ((notify & bit) != 0)
			return -1;
		notify |= bit;
		if (comma == end)
			break;
		p = comma + 1;
		if (p == end)
			return -1;	/* trailing comma */
	}
	/* RFC 3461 4.1: NEVER must appear alone. */
	if ((notify & SMTP_NOTIFY_NEVER) != 0 && notify != SMTP_NOTIFY_NEVER)
		return -1;
	*notify_r = notify;
	return 0;
}

/* RFC 6533 3: utf-8-addr-xtext (QCHAR and "\x{HEXPOINT}") or, with
 * SMTPUTF8, utf-8-addr-unitext (raw UTF-8 as well). Kept as sent, so
 * what an escape stands for is checked here: a control character, a
 * surrogate or a value past U+10FFFF must not reach a DSN through it. */
static bool
smtp_orcpt_utf8_is_valid(const char *v, size_t len, bool smtputf8)
{
	const uint8_t *p = (const uint8_t *)v;
	size_t i = 0;

	while (i < len) {
		uint32_t cp = 0;
		size_t n, digits = 0;

		if (p[i] >= 0x80) {
			n = smtputf8 ? utf8_decode(p + i, len - i, &cp) : 0;
			if (n == 0 || cp <= 0x9f)
				return false;
			i += n;
			continue;
		}
		if (p[i] == '\\') {
			if (len - i < 5 || p[i + 1] != 'x' || p[i + 2] != '{')
				return false;
			for (i += 3; i < len && p[i] != '}'; i++) {
				int h = hex_digit_value(p[i]);

				if (h < 0 || ++digits > 6)
					return false;
				cp = cp * 16 + (uint32_t)h;
			}
			if (i >= len || digits < 2 || cp < 0x20 ||
			    (cp >= 0x7f && cp <= 0x9f) ||
			    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
				return false;
			i++;
			continue;
		}
		/* QCHAR: printable ASCII but for '+', '=' and the backslash */
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '+' || p[i] == '=')
			return false;
		i++;
	}
	return true;
}

/* ORCPT=addr-type ";" xtext; addr-type is an atom (RFC 3461 4.2), and
 * "utf-8" has its own encoding (RFC 6533). Every form is checked for
 * what it decodes to: the value goes into the queue and into DSNs. */
static int
smtp_parse_orcpt(const struct smtp_param *param, bool smtputf8,
		 struct smtp_rcpt_args *args)
{
	const char *semi;
	struct smtp_param xparam;
	size_t tlen, i;

	if (param->value == NULL || param->value_len > SMTP_PARAMS_MAX_ORCPT)
		return -1;
	semi = memchr(param->value, ';', param->value_len);
	if (semi == NULL || semi == param->value)
		return -1;
	tlen = (size_t)(semi - param->value);
	for (i = 0; i < tlen; i++) {
		uint8_t c = (uint8_t)param->value[i];

		if (!smtp_is_alnum(c) && c != '-')
			return -1;
	}
	xparam = *param;
	xparam.value = semi + 1;
	xparam.value_len = param->value_len - tlen - 1;
	if (xparam.value_len == 0)
		return -1;
	if (tlen == 5 && strncasecmp(param->value, "utf-8", 5) == 0) {
		if (!smtp_orcpt_utf8_is_valid(xparam.value, xparam.value_len,
					      smtputf8))
			return -1;
		args->orcpt_addr = xstrndup(xparam.value, xparam.value_len);
	} else {
		/* RFC 3461 4.2: plain xtext, ASCII on the wire; what it
		 * encodes may be UTF-8 (an SMTPUTF8 address sent as
		 * rfc822 by an older client) but never a control */
		args->orcpt_addr = smtp_decode_xtext(&xparam, true);
		if (args->orcpt_addr == NULL)
			return -1;
	}
	args->orcpt_type = xstrndup(param->value, tlen);
	return 0;
}

static int
smtp_rcpt_param(struct smtp_rcpt_args *args, const struct smtp_param *param,
		bool smtputf8, struct smtp_arg_result *res)
{
	if (smtp_param_is(param, "NOTIFY")) {
		if ((args->present & SMTP_PARAM_NOTIFY) != 0)
			return smtp_arg_fail(res, SMTP_ARG_DUP_PARAM,
					     "duplicate parameter", param);
		args->present |= SMTP_PARAM_NOTIFY;
		if (smtp_parse_notify(param, &args->notify) < 0)
			return smtp_arg_fail(res, SMTP_ARG_BAD_PARAM,
					     "invalid NOTIFY", param);
		return 0;
	}
	if (smtp_param_is(param, "ORCPT")) {
		if ((args->present & SMTP_PARAM_ORCPT) != 0)
			return smtp_arg_fail(res, SMTP_ARG_DUP_PARAM,
					     "duplicate parameter", param);
		args->present |= SMTP_PARAM_ORCPT;
		if (smtp_parse_orcpt(param, smtputf8, args) < 0)
			return smtp_arg_fail(res, SMTP_ARG_BAD_PARAM,
					     "invalid ORCPT", param);
		return 0;
	}
	return smtp_arg_fail(res, SMTP_ARG_UNKNOWN_PARAM,
			     "unrecognized parameter", param);
}

static int
smtp_address_fail(struct smtp_arg_result *res, enum address_error err,
		  const char *error)
{
	res->address_err = err;
	return smtp_arg_fail(res, SMTP_ARG_ADDRESS, error, NULL);
}

int
smtp_mail_args_parse(const char *arg, size_t len,
		     const struct smtp_params_limits *limits,
		     struct smtp_mail_args *args_r,
		     struct smtp_arg_result *res_r)
{
	struct smtp_param param;
	enum address_error aerr;
	const char *error;
	size_t pos, used;
	bool non_ascii = false;
	int ret;

	memset(args_r, 0, sizeof(*args_r));
	memset(res_r, 0, sizeof(*res_r));
	if (smtp_skip_prefix(arg, len, "FROM:", &pos) < 0)
		return smtp_arg_fail(res_r, SMTP_ARG_SYNTAX,
				     "syntax: MAIL FROM:<address>", NULL);
	if (address_parse_path(arg + pos, len - pos, &limits->address,
			       ADDRESS_PARSE_NULL_PATH | ADDRESS_PARSE_UTF8,
			       &args_r->from, &used, &aerr, &error) < 0)
		return smtp_address_fail(res_r, aerr, error);
	pos += used;
	while ((ret = smtp_next_param(arg, len, &pos, &param,
				      &non_ascii)) > 0) {
		if (smtp_mail_param(args_r, &param, res_r) < 0)
			return -1;
	}
	if (ret < 0)
		return smtp_arg_fail(res_r, SMTP_ARG_SYNTAX,
				     "syntax error in parameters", NULL);
	if (!args_r->smtputf8 && !limits->allow_utf8_without_param) {
		if (args_r->from.has_utf8)
			return smtp_address_fail(res_r, ADDRESS_ERR_UTF8,
				"non-ASCII address without SMTPUTF8");
		if (non_ascii)
			return smtp_arg_fail(res_r, SMTP_ARG_SYNTAX,
				"non-ASCII parameter without SMTPUTF8", NULL);
	}
	return 0;
}

int
smtp_rcpt_args_parse(const char *arg, size_t len,
		     const struct smtp_params_limits *limits, bool smtputf8,
		     struct smtp_rcpt_args *args_r,
		     struct smtp_arg_result *res_r)
{
	struct smtp_param param;
	enum address_error aerr;
	const char *error;
	size_t pos, used;
	bool non_ascii = false;
	unsigned flags = ADDRESS_PARSE_POSTMASTER;
	int ret;

	memset(args_r, 0, sizeof(*args_r));
	memset(res_r, 0, sizeof(*res_r));
	if (smtputf8 || limits->allow_utf8_without_param)
		flags |= ADDRESS_PARSE_UTF8;
	if (smtp_skip_prefix(arg, len, "TO:", &pos) < 0)
		return smtp_arg_fail(res_r, SMTP_ARG_SYNTAX,
				     "syntax: RCPT TO:<address>", NULL);
	if (address_parse_path(arg + pos, len - pos, &limits->address, flags,
			       &args_r->to, &used, &aerr, &error) < 0)
		return smtp_address_fail(res_r, aerr, error);
	pos += used;
	while ((ret = smtp_next_param(arg, len, &pos, &param,
				      &non_ascii)) > 0) {
		if (smtp_rcpt_param(args_r, &param, smtputf8, res_r) < 0)
			return -1;
	}
	if (ret < 0)
		return smtp_arg_fail(res_r, SMTP_ARG_SYNTAX,
				     "syntax error in parameters", NULL);
	if (non_ascii && !smtputf8 && !limits->allow_utf8_without_param)
		return smtp_arg_fail(res_r, SMTP_ARG_SYNTAX,
				     "non-ASCII parameter without SMTPUTF8",
				     NULL);
	return 0;
}

void
smtp_notify_append(unsigned notify, struct buf *out)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ SMTP_NOTIFY_NEVER, "NEVER" },
		{ SMTP_NOTIFY_SUCCESS, "SUCCESS" },
		{ SMTP_NOTIFY_FAILURE, "FAILURE" },
		{ SMTP_NOTIFY_DELAY, "DELAY" },
	};
	bool first = true;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((notify & names[i].bit) == 0)
			continue;
		if (!first)
			buf_putc(out, ',');
		buf_puts(out, names[i].name);
		first = false;
	}
}
