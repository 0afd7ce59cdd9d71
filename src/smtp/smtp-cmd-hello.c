/* SPDX-License-Identifier: MIT */
/*
 * HELO, EHLO (RFC 5321 4.1.1.1) and LHLO (RFC 2033 4.1): the greeting
 * exchange and the list of ESMTP extensions offered, which depends on the
 * mode, on TLS and on whether AUTH is allowed yet.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/worker.h"
#include "lib/mem.h"
#include "sasl/sasl.h"
#include "smtp/smtp-server-private.h"

/* Longest HELO argument kept (a domain is at most 255 octets). */
#define SMTP_HELO_MAX 255

static void
ehlo_reply(struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "250-%s\r\n", cfg->hostname);
	buf_puts(&b, "250-PIPELINING\r\n");
	buf_printf(&b, "250-SIZE %llu\r\n",
		   (unsigned long long)cfg->smtp.message_size_limit);
	buf_puts(&b, "250-8BITMIME\r\n");
	buf_puts(&b, "250-SMTPUTF8\r\n");
	buf_puts(&b, "250-ENHANCEDSTATUSCODES\r\n");
	buf_puts(&b, "250-CHUNKING\r\n");
	if (!s->tls && smtp_session_starttls_available(s))
		buf_puts(&b, "250-STARTTLS\r\n");
	if (s->auth_user == NULL && smtp_session_auth_allowed(s))
		buf_printf(&b, "250-AUTH %s\r\n", sasl_mech_list());
	buf_puts(&b, "250 DSN\r\n");
	(void)ioev_conn_write(s->conn, b.data, b.len);
	buf_deinit(&b);
}

void
smtp_cmd_helo(struct smtp_session *s, enum smtp_cmd cmd, const char *arg,
	      size_t len)
{
	bool lmtp = smtp_session_is_lmtp(s);

	if (lmtp && cmd != SMTP_CMD_LHLO) {
		smtp_reply(s, "500 5.5.1 Error: this is LMTP, use LHLO");
		smtp_session_error(s);
		return;
	}
	if (!lmtp && cmd == SMTP_CMD_LHLO) {
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		smtp_session_error(s);
		return;
	}
	if (len == 0 || len > SMTP_HELO_MAX || memchr(arg, ' ', len) != NULL) {
		smtp_reply(s, "501 5.5.4 Syntax: %s hostname",
			   smtp_cmd_name(cmd));
		smtp_session_error(s);
		return;
	}
	/* RFC 5321 4.1.4: a new greeting resets the transaction. */
	smtp_session_reset_tx(s);
	free(s->helo);
	s->helo = xstrndup(arg, len);
	s->esmtp = cmd != SMTP_CMD_HELO;
	if (cmd == SMTP_CMD_HELO) {
		smtp_reply(s, "250 %s", s->srv->cfg->hostname);
		return;
	}
	ehlo_reply(s);
}
