/* SPDX-License-Identifier: MIT */
/*
 * The SMTP/LMTP client session: connect, opening (greeting, EHLO,
 * STARTTLS, AUTH), transactions and QUIT; see smtp-client.h.
 * First cut: the API compiles, every connect fails; filled in next.
 */
#include "smtp/smtp-client.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf/config.h"
#include "lib/mem.h"

struct smtp_client {
	struct ioev_loop *loop;
	struct ioev_timer *timer;
	smtp_client_ready_cb_t *ready_cb;
	void *ctx;
	struct smtp_client_info info;
};

static const char *const error_names[] = {
	[SMTP_CLIENT_OK] = "ok",
	[SMTP_CLIENT_ERR_CONNECT] = "connect",
	[SMTP_CLIENT_ERR_CONNECT_TIMEOUT] = "connect-timeout",
	[SMTP_CLIENT_ERR_GREETING] = "greeting",
	[SMTP_CLIENT_ERR_HELO] = "helo",
	[SMTP_CLIENT_ERR_TLS_UNAVAILABLE] = "tls-unavailable",
	[SMTP_CLIENT_ERR_STARTTLS] = "starttls",
	[SMTP_CLIENT_ERR_TLS_HANDSHAKE] = "tls-handshake",
	[SMTP_CLIENT_ERR_TLS_CERT] = "tls-cert",
	[SMTP_CLIENT_ERR_AUTH_UNAVAILABLE] = "auth-unavailable",
	[SMTP_CLIENT_ERR_AUTH] = "auth",
	[SMTP_CLIENT_ERR_PROTOCOL] = "protocol",
	[SMTP_CLIENT_ERR_TIMEOUT] = "timeout",
	[SMTP_CLIENT_ERR_LOST] = "lost",
};

const char *
smtp_client_error_name(enum smtp_client_error err)
{
	return (size_t)err < sizeof(error_names) / sizeof(error_names[0]) ?
		error_names[err] : "unknown";
}

static const char *const send_error_names[] = {
	[SMTP_CLIENT_SEND_OK] = "ok",
	[SMTP_CLIENT_SEND_TOO_BIG] = "too-big",
	[SMTP_CLIENT_SEND_NEED_8BITMIME] = "need-8bitmime",
	[SMTP_CLIENT_SEND_NEED_SMTPUTF8] = "need-smtputf8",
	[SMTP_CLIENT_SEND_MAIL_REFUSED] = "mail-refused",
	[SMTP_CLIENT_SEND_NO_RCPT] = "no-rcpt",
	[SMTP_CLIENT_SEND_DATA_REFUSED] = "data-refused",
	[SMTP_CLIENT_SEND_LOST] = "lost",
	[SMTP_CLIENT_SEND_TIMEOUT] = "timeout",
	[SMTP_CLIENT_SEND_PROTOCOL] = "protocol",
	[SMTP_CLIENT_SEND_LOCAL] = "local",
};

const char *
smtp_client_send_error_name(enum smtp_client_send_error err)
{
	return (size_t)err < sizeof(send_error_names) /
		sizeof(send_error_names[0]) ? send_error_names[err] : "unknown";
}

const char *
smtp_client_stage_name(enum smtp_client_stage stage)
{
	switch (stage) {
	case SMTP_CLIENT_STAGE_MAIL: return "MAIL FROM";
	case SMTP_CLIENT_STAGE_RCPT: return "RCPT TO";
	case SMTP_CLIENT_STAGE_DATA: return "DATA";
	case SMTP_CLIENT_STAGE_END: return "end of DATA";
	case SMTP_CLIENT_STAGE_NONE: break;
	}
	return "";
}

void
smtp_client_opts_default(struct smtp_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->protocol = SMTP_CLIENT_SMTP;
	o->tls_policy = SMTP_CLIENT_TLS_MAY;
	o->timeouts.connect_ms = 30000;
	o->timeouts.greeting_ms = 300000;
	o->timeouts.helo_ms = 300000;
	o->timeouts.mail_ms = 300000;
	o->timeouts.rcpt_ms = 300000;
	o->timeouts.data_init_ms = 120000;
	o->timeouts.data_block_ms = 180000;
	o->timeouts.data_end_ms = 600000;
	o->timeouts.tls_ms = 60000;
	o->timeouts.quit_ms = 60000;
	o->limits.reply_line_max = SMTP_REPLY_DEFAULT_LINE_MAX;
	o->limits.reply_lines_max = SMTP_REPLY_DEFAULT_LINES_MAX;
}

void
smtp_client_opts_from_config(const struct config *cfg,
			     struct smtp_client_opts *o)
{
	const struct config_smtp_client *c = &cfg->smtp_client;

	smtp_client_opts_default(o);
	o->helo_name = c->helo_name != NULL ? c->helo_name : cfg->hostname;
	o->timeouts.connect_ms = c->connect_timeout_ms;
	o->timeouts.greeting_ms = c->greeting_timeout_ms;
	o->timeouts.helo_ms = c->helo_timeout_ms;
	o->timeouts.mail_ms = c->mail_timeout_ms;
	o->timeouts.rcpt_ms = c->rcpt_timeout_ms;
	o->timeouts.data_init_ms = c->data_init_timeout_ms;
	o->timeouts.data_block_ms = c->data_block_timeout_ms;
	o->timeouts.data_end_ms = c->data_end_timeout_ms;
	o->timeouts.tls_ms = c->tls_timeout_ms;
	o->timeouts.quit_ms = c->quit_timeout_ms;
	o->limits.reply_line_max = c->reply_line_max;
	o->limits.reply_lines_max = c->reply_lines_max;
}

socklen_t
smtp_client_unix_addr(const char *path, struct sockaddr_storage *addr_r)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)addr_r;
	size_t len = strlen(path);

	memset(addr_r, 0, sizeof(*addr_r));
	if (len == 0 || len >= sizeof(sun->sun_path))
		return 0;
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

static void
stub_fail(void *ctx)
{
	struct smtp_client *c = ctx;
	struct smtp_client_failure f = {
		.error = SMTP_CLIENT_ERR_CONNECT,
		.message = "smtp client not implemented yet",
	};

	c->ready_cb(c, &f, c->ctx);
}

struct smtp_client *
smtp_client_connect(struct ioev_loop *loop, const struct sockaddr *addr,
		    socklen_t addrlen, const struct smtp_client_opts *opts,
		    smtp_client_ready_cb_t *ready_cb, void *ctx)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	(void)addr;
	(void)addrlen;
	(void)opts;
	c->loop = loop;
	c->ready_cb = ready_cb;
	c->ctx = ctx;
	c->timer = ioev_timer_new(loop, stub_fail, c);
	ioev_timer_start(c->timer, 0, false);
	return c;
}

const struct smtp_client_info *
smtp_client_info(const struct smtp_client *client)
{
	return &client->info;
}

void
smtp_client_send(struct smtp_client *client,
		 const struct smtp_client_envelope *env,
		 const struct smtp_client_message *msg,
		 smtp_client_sent_cb_t *sent_cb, void *ctx)
{
	panic("smtp_client_send: not implemented yet");
}

bool
smtp_client_is_reusable(const struct smtp_client *client)
{
	return false;
}

void
smtp_client_quit(struct smtp_client **client)
{
	smtp_client_free(client);
}

void
smtp_client_free(struct smtp_client **cp)
{
	if (*cp == NULL)
		return;
	ioev_timer_free(&(*cp)->timer);
	xfree(cp);
}
