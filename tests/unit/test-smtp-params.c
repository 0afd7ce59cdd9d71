/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for MAIL FROM / RCPT TO arguments and ESMTP parameters, and
 * for xtext (RFC 3461 section 4) decoding and encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/xtext.h"
#include "smtp/smtp-params.h"

struct mail_case {
	const char *arg;
	enum smtp_arg_error error;
	const char *param;	/* param_name on error, or NULL */
	const char *from;	/* canonical; "" for <> */
	unsigned present;
	uint64_t size;
	enum smtp_body body;
	enum smtp_ret ret;
	const char *envid;
	const char *auth;
};

static const struct mail_case mail_cases[] = {
	{ "FROM:<a@b.example>", SMTP_ARG_OK, NULL, "a@b.example", 0, 0, 0, 0,
	  NULL, NULL },
	{ "from:<a@b>", SMTP_ARG_OK, NULL, "a@b", 0, 0, 0, 0, NULL, NULL },
	{ "FROM: <a@b>", SMTP_ARG_OK, NULL, "a@b", 0, 0, 0, 0, NULL, NULL },
	{ "FROM:  <a@b>", SMTP_ARG_OK, NULL, "a@b", 0, 0, 0, 0, NULL, NULL },
	{ "FROM:<>", SMTP_ARG_OK, NULL, "", 0, 0, 0, 0, NULL, NULL },
	{ "FROM:<> SIZE=0", SMTP_ARG_OK, NULL, "", SMTP_PARAM_SIZE, 0, 0, 0,
	  NULL, NULL },
	{ "FROM:<a@b> SIZE=12345 BODY=8BITMIME", SMTP_ARG_OK, NULL, "a@b",
	  SMTP_PARAM_SIZE | SMTP_PARAM_BODY, 12345, SMTP_BODY_8BITMIME, 0,
	  NULL, NULL },
	{ "FROM:<a@b>  size=18446744073709551615  body=binarymime",
	  SMTP_ARG_OK, NULL, "a@b", SMTP_PARAM_SIZE | SMTP_PARAM_BODY,
	  UINT64_MAX, SMTP_BODY_BINARYMIME, 0, NULL, NULL },
	{ "FROM:<a@b> BODY=7BIT RET=HDRS ENVID=QQ+2B1+3D", SMTP_ARG_OK, NULL,
	  "a@b", SMTP_PARAM_BODY | SMTP_PARAM_RET | SMTP_PARAM_ENVID, 0,
	  SMTP_BODY_7BIT, SMTP_RET_HDRS, "QQ+1=", NULL },
	{ "FROM:<a@b> RET=full", SMTP_ARG_OK, NULL, "a@b", SMTP_PARAM_RET, 0,
	  0, SMTP_RET_FULL, NULL, NULL },
	{ "FROM:<a@b> AUTH=<>", SMTP_ARG_OK, NULL, "a@b", SMTP_PARAM_AUTH, 0,
	  0, 0, NULL, "<>" },
	{ "FROM:<a@b> AUTH=e+3Dmc2@example.com", SMTP_ARG_OK, NULL, "a@b",
	  SMTP_PARAM_AUTH, 0, 0, 0, NULL, "e=mc2@example.com" },
	{ "FROM:<a@b> AUTH=j+C3+B6rg@example.com", SMTP_ARG_OK, NULL, "a@b",
	  SMTP_PARAM_AUTH, 0, 0, 0, NULL, "j\xc3\xb6rg@example.com" },
	{ "FROM:<a@b> ENVID=a+20b", SMTP_ARG_OK, NULL, "a@b",
	  SMTP_PARAM_ENVID, 0, 0, 0, "a b", NULL },
	{ "FROM:<j\xc3\xb6rg@x> SMTPUTF8", SMTP_ARG_OK, NULL, "j\xc3\xb6rg@x",
	  SMTP_PARAM_SMTPUTF8, 0, 0, 0, NULL, NULL },
	{ "FROM:<a@b> SMTPUTF8 ENVID=\xc3\xb6", SMTP_ARG_BAD_PARAM, "ENVID",
	  NULL, 0, 0, 0, 0, NULL, NULL },
	/* errors */
	{ "FROM:<j\xc3\xb6rg@x>", SMTP_ARG_ADDRESS, NULL, NULL, 0, 0, 0, 0,
	  NULL, NULL },
	{ "FROM:<a@b> X=\xc3\xb6", SMTP_ARG_UNKNOWN_PARAM, "X", NULL, 0, 0, 0,
	  0, NULL, NULL },
	{ "FROM:<a@b> SIZE=1 X-FOO=\xc3", SMTP_ARG_SYNTAX, NULL, NULL, 0, 0,
	  0, 0, NULL, NULL },
	{ "TO:<a@b>", SMTP_ARG_SYNTAX, NULL, NULL, 0, 0, 0, 0, NULL, NULL },
	{ "FROM <a@b>", SMTP_ARG_SYNTAX, NULL, NULL, 0, 0, 0, 0, NULL, NULL },
	{ "FROM:a@b", SMTP_ARG_ADDRESS, NULL, NULL, 0, 0, 0, 0, NULL, NULL },
	{ "FROM:", SMTP_ARG_ADDRESS, NULL, NULL, 0, 0, 0, 0, NULL, NULL },
	{ "FROM:<a@b>SIZE=1", SMTP_ARG_SYNTAX, NULL, NULL, 0, 0, 0, 0, NULL,
	  NULL },
	{ "FROM:<a@b> SIZE=", SMTP_ARG_SYNTAX, NULL, NULL, 0, 0, 0, 0, NULL,
	  NULL },
	{ "FROM:<a@b> =1", SMTP_ARG_SYNTAX, NULL, NULL, 0, 0, 0, 0, NULL,
	  NULL },
	{ "FROM:<a@b> SIZE=1=2", SMTP_ARG_SYNTAX, NULL, NULL, 0, 0, 0, 0,
	  NULL, NULL },
	{ "FROM:<a@b> SIZE=x", SMTP_ARG_BAD_PARAM, "SIZE", NULL, 0, 0, 0, 0,
	  NULL, NULL },
	{ "FROM:<a@b> SIZE", SMTP_ARG_BAD_PARAM, "SIZE", NULL, 0, 0, 0, 0,
	  NULL, NULL },
	{ "FROM:<a@b> SIZE=18446744073709551616", SMTP_ARG_BAD_PARAM, "SIZE",
	  NULL, 0, 0, 0, 0, NULL, NULL },
	{ "FROM:<a@b> SIZE=-1", SMTP_ARG_BAD_PARAM, "SIZE", NULL, 0, 0, 0, 0,
	  NULL, NULL },
	{ "FROM:<a@b> size=1 SIZE=2", SMTP_ARG_DUP_PARAM, "SIZE", NULL, 0, 0,
	  0, 0, NULL, NULL },
	{ "FROM:<a@b> BODY=9BIT", SMTP_ARG_BAD_PARAM, "BODY", NULL, 0, 0, 0,
	  0, NULL, NULL },
	{ "FROM:<a@b> SMTPUTF8=yes", SMTP_ARG_BAD_PARAM, "SMTPUTF8", NULL, 0,
	  0, 0, 0, NULL, NULL },
	{ "FROM:<a@b> RET=ALL", SMTP_ARG_BAD_PARAM, "RET", NULL, 0, 0, 0, 0,
	  NULL, NULL },
	{ "FROM:<a@b> ENVID=a+2", SMTP_ARG_BAD_PARAM, "ENVID", NULL, 0, 0, 0,
	  0, NULL, NULL },
	{ "FROM:<a@b> ENVID=a+0A", SMTP_ARG_BAD_PARAM, "ENVID", NULL, 0, 0, 0,
	  0, NULL, NULL },
	{ "FROM:<a@b> ENVID=a+2b", SMTP_ARG_BAD_PARAM, "ENVID", NULL, 0, 0, 0,
	  0, NULL, NULL },
	{ "FROM:<a@b> AUTH=a+00", SMTP_ARG_BAD_PARAM, "AUTH", NULL, 0, 0, 0,
	  0, NULL, NULL },
	/* issue 10 2.11: every decoded xtext value is text: no CR/LF or
	 * other control, UTF-8 only where it may be and only valid */
	{ "FROM:<a@b> AUTH=a+0D+0Ab@c", SMTP_ARG_BAD_PARAM, "AUTH", NULL, 0,
	  0, 0, 0, NULL, NULL },
	{ "FROM:<a@b> AUTH=a+7F@c", SMTP_ARG_BAD_PARAM, "AUTH", NULL, 0, 0, 0,
	  0, NULL, NULL },
	{ "FROM:<a@b> AUTH=a+FF@c", SMTP_ARG_BAD_PARAM, "AUTH", NULL, 0, 0, 0,
	  0, NULL, NULL },
	{ "FROM:<a@b> AUTH=a+C2+85@c", SMTP_ARG_BAD_PARAM, "AUTH", NULL, 0, 0,
	  0, 0, NULL, NULL },
	{ "FROM:<a@b> ENVID=a+7F", SMTP_ARG_BAD_PARAM, "ENVID", NULL, 0, 0, 0,
	  0, NULL, NULL },
	{ "FROM:<a@b> ENVID=a+C3+A9", SMTP_ARG_BAD_PARAM, "ENVID", NULL, 0, 0,
	  0, 0, NULL, NULL },
	{ "FROM:<a@b> NOTIFY=NEVER", SMTP_ARG_UNKNOWN_PARAM, "NOTIFY", NULL,
	  0, 0, 0, 0, NULL, NULL },
	{ "FROM:<a@b> X-Custom=1", SMTP_ARG_UNKNOWN_PARAM, "X-Custom", NULL,
	  0, 0, 0, 0, NULL, NULL },
	{ "FROM:<a@b> REQUIRETLS", SMTP_ARG_UNKNOWN_PARAM, "REQUIRETLS", NULL,
	  0, 0, 0, 0, NULL, NULL },
};

static void
test_mail_table(void **state)
{
	struct smtp_params_limits limits;
	size_t i;

	smtp_params_limits_default(&limits);
	for (i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
		const struct mail_case *tc = &mail_cases[i];
		struct smtp_mail_args args;
		struct smtp_arg_result res;
		int ret;

		ret = smtp_mail_args_parse(tc->arg, strlen(tc->arg), &limits,
					   &args, &res);
		if (res.error != tc->error)
			fail_msg("case %zu [%s]: error %d want %d (%s)", i,
				 tc->arg, res.error, tc->error, res.message);
		assert_int_equal(ret, tc->error == SMTP_ARG_OK ? 0 : -1);
		if (tc->param != NULL)
			assert_string_equal(res.param_name, tc->param);
		else
			assert_null(res.param_name);
		if (tc->error == SMTP_ARG_OK) {
			char *from = address_to_string(&args.from);

			assert_string_equal(from, tc->from);
			assert_int_equal(args.from.is_null, tc->from[0] == '\0');
			free(from);
			assert_int_equal(args.present, tc->present);
			assert_int_equal(args.size, tc->size);
			assert_int_equal(args.body, tc->body);
			assert_int_equal(args.ret, tc->ret);
			if (tc->envid == NULL)
				assert_null(args.envid);
			else
				assert_string_equal(args.envid, tc->envid);
			if (tc->auth == NULL)
				assert_null(args.auth);
			else
				assert_string_equal(args.auth, tc->auth);
		} else {
			assert_non_null(res.message);
		}
		smtp_mail_args_deinit(&args);
		smtp_arg_result_deinit(&res);
	}
}

static void
test_mail_utf8_flag(void **state)
{
	struct smtp_params_limits limits;
	struct smtp_mail_args args;
	struct smtp_arg_result res;
	const char *arg = "FROM:<j\xc3\xb6rg@d\xc3\xb6m.example>";

	smtp_params_limits_default(&limits);
	assert_int_equal(smtp_mail_args_parse(arg, strlen(arg), &limits,
					      &args, &res), -1);
	assert_int_equal(res.error, SMTP_ARG_ADDRESS);
	assert_int_equal(res.address_err, ADDRESS_ERR_UTF8);
	smtp_mail_args_deinit(&args);
	smtp_arg_result_deinit(&res);
	limits.allow_utf8_without_param = true;
	assert_int_equal(smtp_mail_args_parse(arg, strlen(arg), &limits,
					      &args, &res), 0);
	assert_true(args.from.has_utf8);
	assert_false(args.smtputf8);
	smtp_mail_args_deinit(&args);
	smtp_arg_result_deinit(&res);
}

static void
test_mail_too_long(void **state)
{
	struct smtp_params_limits limits;
	struct smtp_mail_args args;
	struct smtp_arg_result res;
	struct buf arg;
	int i;

	smtp_params_limits_default(&limits);
	buf_init(&arg);
	buf_puts(&arg, "FROM:<");
	for (i = 0; i < 65; i++)
		buf_putc(&arg, 'l');
	buf_puts(&arg, "@x>");
	assert_int_equal(smtp_mail_args_parse(arg.data, arg.len, &limits,
					      &args, &res), -1);
	assert_int_equal(res.error, SMTP_ARG_ADDRESS);
	assert_int_equal(res.address_err, ADDRESS_ERR_LOCAL_TOO_LONG);
	smtp_mail_args_deinit(&args);
	smtp_arg_result_deinit(&res);

	/* ENVID longer than 100 */
	buf_reset(&arg);
	buf_puts(&arg, "FROM:<a@b> ENVID=");
	for (i = 0; i < 101; i++)
		buf_putc(&arg, 'e');
	assert_int_equal(smtp_mail_args_parse(arg.data, arg.len, &limits,
					      &args, &res), -1);
	assert_int_equal(res.error, SMTP_ARG_BAD_PARAM);
	smtp_mail_args_deinit(&args);
	smtp_arg_result_deinit(&res);
	buf_deinit(&arg);
}

struct rcpt_case {
	const char *arg;
	bool smtputf8;
	enum smtp_arg_error error;
	const char *param;
	const char *to;
	unsigned notify;
	const char *orcpt_type;
	const char *orcpt_addr;
};

static const struct rcpt_case rcpt_cases[] = {
	{ "TO:<a@b>", false, SMTP_ARG_OK, NULL, "a@b", 0, NULL, NULL },
	{ "to: <a@b>", false, SMTP_ARG_OK, NULL, "a@b", 0, NULL, NULL },
	{ "TO:<postmaster>", false, SMTP_ARG_OK, NULL, "postmaster", 0, NULL,
	  NULL },
	{ "TO:<Postmaster> NOTIFY=NEVER", false, SMTP_ARG_OK, NULL,
	  "Postmaster", SMTP_NOTIFY_NEVER, NULL, NULL },
	{ "TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", false, SMTP_ARG_OK, NULL,
	  "a@b", SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
	  SMTP_NOTIFY_DELAY, NULL, NULL },
	{ "TO:<a@b> notify=delay ORCPT=rfc822;a+2Bb@c", false, SMTP_ARG_OK,
	  NULL, "a@b", SMTP_NOTIFY_DELAY, "rfc822", "a+b@c" },
	{ "TO:<\xc3\xa9@b> ORCPT=utf-8;\xc3\xa9@b", true, SMTP_ARG_OK, NULL,
	  "\xc3\xa9@b", 0, "utf-8", "\xc3\xa9@b" },
	{ "TO:<@r1,@r2:a@b>", false, SMTP_ARG_OK, NULL, "a@b", 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+C3+A9@b", false, SMTP_ARG_OK, NULL, "a@b",
	  0, "rfc822", "a\xc3\xa9@b" },
	{ "TO:<a@b> ORCPT=rfc822;a+20b@c", false, SMTP_ARG_OK, NULL, "a@b", 0,
	  "rfc822", "a b@c" },
	{ "TO:<a@b> ORCPT=UTF-8;\\x{E9}+@b", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;\\x{E9}\\x{2B}x@b", false, SMTP_ARG_OK, NULL,
	  "a@b", 0, "utf-8", "\\x{E9}\\x{2B}x@b" },
	{ "TO:<a@b> ORCPT=x400;c+3Dus+3Ba+3D", false, SMTP_ARG_OK, NULL, "a@b",
	  0, "x400", "c=us;a=" },
	/* errors */
	{ "TO:<>", false, SMTP_ARG_ADDRESS, NULL, NULL, 0, NULL, NULL },
	{ "TO:<\xc3\xa9@b>", false, SMTP_ARG_ADDRESS, NULL, NULL, 0, NULL,
	  NULL },
	{ "TO:<a@b> ORCPT=utf-8;\xc3\xa9@b", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "FROM:<a@b>", false, SMTP_ARG_SYNTAX, NULL, NULL, 0, NULL, NULL },
	{ "TO:<a@b> NOTIFY=NEVER,SUCCESS", false, SMTP_ARG_BAD_PARAM,
	  "NOTIFY", NULL, 0, NULL, NULL },
	{ "TO:<a@b> NOTIFY=SUCCESS,SUCCESS", false, SMTP_ARG_BAD_PARAM,
	  "NOTIFY", NULL, 0, NULL, NULL },
	{ "TO:<a@b> NOTIFY=SUCCESS,", false, SMTP_ARG_BAD_PARAM, "NOTIFY",
	  NULL, 0, NULL, NULL },
	{ "TO:<a@b> NOTIFY=,SUCCESS", false, SMTP_ARG_BAD_PARAM, "NOTIFY",
	  NULL, 0, NULL, NULL },
	{ "TO:<a@b> NOTIFY=ALWAYS", false, SMTP_ARG_BAD_PARAM, "NOTIFY", NULL,
	  0, NULL, NULL },
	{ "TO:<a@b> NOTIFY", false, SMTP_ARG_BAD_PARAM, "NOTIFY", NULL, 0,
	  NULL, NULL },
	{ "TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", false, SMTP_ARG_DUP_PARAM,
	  "NOTIFY", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822", false, SMTP_ARG_BAD_PARAM, "ORCPT", NULL,
	  0, NULL, NULL },
	{ "TO:<a@b> ORCPT=;a@b", false, SMTP_ARG_BAD_PARAM, "ORCPT", NULL, 0,
	  NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;", false, SMTP_ARG_BAD_PARAM, "ORCPT", NULL,
	  0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+zz", false, SMTP_ARG_BAD_PARAM, "ORCPT",
	  NULL, 0, NULL, NULL },
	/* issue 10 2.11: ORCPT decoded to CR/LF (or any control) went
	 * into the queue record */
	{ "TO:<a@b> ORCPT=rfc822;a+0D+0AX-Injected:+20y@c", false,
	  SMTP_ARG_BAD_PARAM, "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+0Ab@c", false, SMTP_ARG_BAD_PARAM, "ORCPT",
	  NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+09b@c", false, SMTP_ARG_BAD_PARAM, "ORCPT",
	  NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+00b@c", false, SMTP_ARG_BAD_PARAM, "ORCPT",
	  NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+7Fb@c", false, SMTP_ARG_BAD_PARAM, "ORCPT",
	  NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+C2+85b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+C3b@c", false, SMTP_ARG_BAD_PARAM, "ORCPT",
	  NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+ED+A0+80b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<\xc3\xa9@b> ORCPT=rfc822;\xc3\xa9@b", true,
	  SMTP_ARG_BAD_PARAM, "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc_822;a@b", false, SMTP_ARG_BAD_PARAM, "ORCPT",
	  NULL, 0, NULL, NULL },
	/* utf-8 (RFC 6533): no xtext hexchar, and what an escape stands
	 * for is checked */
	{ "TO:<a@b> ORCPT=utf-8;a+0Db@c", false, SMTP_ARG_BAD_PARAM, "ORCPT",
	  NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;a\\x{0D}\\x{0A}b@c", false,
	  SMTP_ARG_BAD_PARAM, "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;a\\x{85}b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;a\\x{D800}b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;a\\x{110000}b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;a\\x{0000041}b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;a\\x{E9b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;a\\xE9b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=utf-8;a\\x{}b@c", false, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<\xc3\xa9@b> ORCPT=utf-8;\xc2\x85@b", true, SMTP_ARG_BAD_PARAM,
	  "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", false,
	  SMTP_ARG_DUP_PARAM, "ORCPT", NULL, 0, NULL, NULL },
	{ "TO:<a@b> SIZE=10", false, SMTP_ARG_UNKNOWN_PARAM, "SIZE", NULL, 0,
	  NULL, NULL },
	{ "TO:<a@b> FOO", false, SMTP_ARG_UNKNOWN_PARAM, "FOO", NULL, 0, NULL,
	  NULL },
	{ "TO:<a@b> x", false, SMTP_ARG_UNKNOWN_PARAM, "x", NULL, 0, NULL,
	  NULL },
	{ "TO:<a@b> !", false, SMTP_ARG_SYNTAX, NULL, NULL, 0, NULL, NULL },
};

static void
test_rcpt_table(void **state)
{
	struct smtp_params_limits limits;
	size_t i;

	smtp_params_limits_default(&limits);
	for (i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++) {
		const struct rcpt_case *tc = &rcpt_cases[i];
		struct smtp_rcpt_args args;
		struct smtp_arg_result res;
		int ret;

		ret = smtp_rcpt_args_parse(tc->arg, strlen(tc->arg), &limits,
					   tc->smtputf8, &args, &res);
		if (res.error != tc->error)
			fail_msg("case %zu [%s]: error %d want %d (%s)", i,
				 tc->arg, res.error, tc->error, res.message);
		assert_int_equal(ret, tc->error == SMTP_ARG_OK ? 0 : -1);
		if (tc->param != NULL)
			assert_string_equal(res.param_name, tc->param);
		else
			assert_null(res.param_name);
		if (tc->error == SMTP_ARG_OK) {
			char *to = address_to_string(&args.to);

			assert_string_equal(to, tc->to);
			free(to);
			assert_int_equal(args.notify, tc->notify);
			if (tc->orcpt_type == NULL) {
				assert_null(args.orcpt_type);
				assert_null(args.orcpt_addr);
			} else {
				assert_string_equal(args.orcpt_type,
						    tc->orcpt_type);
				assert_string_equal(args.orcpt_addr,
						    tc->orcpt_addr);
			}
		}
		smtp_rcpt_args_deinit(&args);
		smtp_arg_result_deinit(&res);
	}
}

static void
test_notify_append(void **state)
{
	struct buf b;

	buf_init(&b);
	smtp_notify_append(SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY, &b);
	assert_string_equal(b.data, "SUCCESS,DELAY");
	buf_reset(&b);
	smtp_notify_append(SMTP_NOTIFY_NEVER, &b);
	assert_string_equal(b.data, "NEVER");
	buf_reset(&b);
	smtp_notify_append(0, &b);
	assert_string_equal(b.data, "");
	buf_deinit(&b);
}

/* ---- xtext ---- */

struct xtext_case {
	const char *enc;
	bool valid;
	const char *dec;
};

static const struct xtext_case xtext_cases[] = {
	{ "", true, "" },
	{ "abc", true, "abc" },
	{ "a+2Bb", true, "a+b" },
	{ "a+3Db", true, "a=b" },
	{ "+20~", true, " ~" },
	{ "+C3+A9", true, "\xc3\xa9" },
	{ "<>", true, "<>" },
	{ "a+2b", false, NULL },
	{ "a+2", false, NULL },
	{ "a+", false, NULL },
	{ "a+G0", false, NULL },
	{ "a=b", false, NULL },
	{ "a b", false, NULL },
	{ "a\x7f", false, NULL },
	{ "\xc3\xa9", false, NULL },
};

static void
test_xtext_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(xtext_cases) / sizeof(xtext_cases[0]); i++) {
		const struct xtext_case *tc = &xtext_cases[i];
		const char *error = NULL;
		struct buf out;
		int ret;

		buf_init(&out);
		ret = xtext_decode(tc->enc, strlen(tc->enc), &out, &error);
		assert_int_equal(xtext_is_valid(tc->enc, strlen(tc->enc)),
				 tc->valid);
		if (tc->valid) {
			assert_int_equal(ret, 0);
			assert_string_equal(out.data, tc->dec);
			/* canonical input round-trips */
			buf_reset(&out);
			xtext_encode((const uint8_t *)tc->dec,
				     strlen(tc->dec), &out);
			assert_string_equal(out.data, tc->enc);
		} else {
			assert_int_equal(ret, -1);
			assert_non_null(error);
		}
		buf_deinit(&out);
	}
}

/* Every octet value survives encode + decode. */
static void
test_xtext_roundtrip_all(void **state)
{
	uint8_t all[256];
	struct buf enc, dec;
	const char *error;
	int i;

	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	buf_init(&enc);
	buf_init(&dec);
	xtext_encode(all, sizeof(all), &enc);
	assert_true(xtext_is_valid(enc.data, enc.len));
	for (i = 0; i < (int)enc.len; i++) {
		assert_true(enc.data[i] > 32 && enc.data[i] < 127);
		assert_true(enc.data[i] != '=');
	}
	assert_int_equal(xtext_decode(enc.data, enc.len, &dec, &error), 0);
	assert_int_equal(dec.len, sizeof(all));
	assert_memory_equal(dec.data, all, sizeof(all));
	buf_deinit(&enc);
	buf_deinit(&dec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_table),
		cmocka_unit_test(test_mail_utf8_flag),
		cmocka_unit_test(test_mail_too_long),
		cmocka_unit_test(test_rcpt_table),
		cmocka_unit_test(test_notify_append),
		cmocka_unit_test(test_xtext_table),
		cmocka_unit_test(test_xtext_roundtrip_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
