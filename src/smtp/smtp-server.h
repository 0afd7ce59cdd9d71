/* SPDX-License-Identifier: MIT */
/*
 * The SMTP server: inbound MTA (port 25), submission (587 with STARTTLS,
 * 465 with implicit TLS) and LMTP (RFC 2033), one session per connection
 * on a worker's event loop. Blocking work (recipient lookups, AUTH,
 * delivery) runs on the worker's thread pool. See docs/smtp.md.
 */
#ifndef HERALD_SMTP_SMTP_SERVER_H
#define HERALD_SMTP_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"
#include "conf/worker.h"

struct ioev_conn;
struct worker;

/* The [smtp] section of the configuration (smtp-settings.c). */
extern const struct setting_section smtp_setting_section;

/* The daemon's start handler for PROTO_SMTP, PROTO_SUBMISSION,
 * PROTO_SUBMISSIONS and PROTO_LMTP (daemon_protocol_start_cb_t): takes the
 * connection over, sends the greeting (after [smtp] greeting_delay on
 * port 25) and runs the session until the close callback, which frees it.
 * Uses w->cfg, w->tls, w->loop and the store in w->store (opened on first
 * use if the worker has none). */
void smtp_server_start(struct ioev_conn *conn, struct worker *w,
		       enum listen_proto proto);
/* The daemon's refusal handler for the same listeners
 * (daemon_protocol_refuse_cb_t): "421" instead of the greeting, then
 * close. */
void smtp_server_refuse(struct ioev_conn *conn, struct worker *w,
			enum worker_refusal why);

#endif
