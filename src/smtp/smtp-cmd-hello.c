/* SPDX-License-Identifier: MIT */
/*
 * HELO, EHLO (RFC 5321 4.1.1.1) and LHLO (RFC 2033 4.1): the greeting
 * exchange and the list of ESMTP extensions offered, which depends on the
 * mode, on TLS and on whether AUTH is allowed yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/worker.h"
#include "lib/mem.h"
#include "sasl/sasl.h"
#include "smtp/smtp-reply.h"
#include "smtp/smtp-server-private.h"

/* Longest HELO argument kept (a domain is at most 255 octets). */
#define SMTP_HELO_MAX 255

/* The keywords come from smtp-reply.c's table, the one the client reads
 * EHLO replies with, so both sides spell an extension the same way. */
static void
ehlo_keyword(struct buf *b, unsigned bit, const char *param)
{
	buf_printf(b, "250-%s%s%s\r\n", smtp_ext_name(bit),
		   param != NULL ? " " : "", param != NULL ? param : "");
}

static void
ehlo_reply(struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	struct buf b;
	char size[32];

	buf_init(&b);
	buf_printf(&b, "250-%s\r\n", cfg->hostname);
	ehlo_keyword(&b, SMTP_EXT_PIPELINING, NULL);
	snprintf(size, sizeof(size), "%llu",
		 (unsigned long long)cfg->smtp.message_size_limit);
	ehlo_keyword(&b, SMTP_EXT_SIZE, size);
	ehlo_keyword(&b, SMTP_EXT_8BITMIME, NULL);
	ehlo_keyword(&b, SMTP_EXT_SMTPUTF8, NULL);
	ehlo_keyword(&b, SMTP_EXT_ENHANCEDSTATUSCODES, NULL);
	ehlo_keyword(&b, SMTP_EXT_CHUNKING, NULL);
	if (!s->tls && smtp_session_starttls_available(s))
		ehlo_keyword(&b, SMTP_EXT_STARTTLS, NULL);
	if (s->auth_user == NULL && smtp_session_auth_allowed(s))
		ehlo_keyword(&b, SMTP_EXT_AUTH, sasl_mech_list());
	/* the last line: "250 " */
	buf_printf(&b, "250 %s\r\n", smtp_ext_name(SMTP_EXT_DSN));
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
