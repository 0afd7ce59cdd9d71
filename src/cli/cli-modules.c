/* SPDX-License-Identifier: MIT */
/*
 * The wiring of the modules this binary is built with: each protocol's
 * start handler and each module's settings section. It lives in cli/, the
 * top layer, so that daemon/ and conf/ need not include the protocols
 * (DESIGN.md "Layers"). A new protocol (imap/) adds its row here.
 */
#include "cli/cli.h"

#include <stddef.h>

#include "conf/config.h"
#include "daemon/daemon.h"
#include "imap/imap-settings.h"
#include "imap/imap.h"
#include "mailauth/mailauth-settings.h"
#include "pop3/pop3-settings.h"
#include "pop3/pop3.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "sasl/login.h"
#include "smtp/smtp-client.h"
#include "smtp/smtp-server.h"
#include "store/store.h"
#include "tls/tls.h"

static const struct {
	enum listen_proto proto;
	daemon_protocol_start_cb_t *start;
	daemon_protocol_refuse_cb_t *refuse;
} protocols[] = {
	{ PROTO_SMTP, smtp_server_start, smtp_server_refuse },
	{ PROTO_SUBMISSION, smtp_server_start, smtp_server_refuse },
	{ PROTO_SUBMISSIONS, smtp_server_start, NULL },
	{ PROTO_LMTP, smtp_server_start, smtp_server_refuse },
	{ PROTO_SENDMAIL, smtp_server_start, smtp_server_refuse },
	{ PROTO_POP3, pop3_session_start, pop3_session_refuse },
	{ PROTO_POP3S, pop3_session_start, NULL },
	{ PROTO_IMAP, imap_session_start, imap_session_refuse },
	{ PROTO_IMAPS, imap_session_start, NULL },
};

/* In documentation order, after conf/'s own sections. */
static const struct setting_section *const sections[] = {
	&store_settings_section,
	&auth_settings_section,
	&tls_settings_section,
	&smtp_setting_section,
	&smtp_client_settings_section,
	&pop3_settings_section,
	&imap_settings_section,
	&dsn_settings_section,
	&queue_settings_section,
	&queue_transport_section,
	&queue_tls_policy_section,
	&mailauth_settings_section,
};

void
cli_modules_register(void)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		config_register_section(sections[i]);
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		config_register_protocol(protocols[i].proto);
		daemon_set_protocol_handler(protocols[i].proto,
					    protocols[i].start);
		daemon_set_protocol_refuse_handler(protocols[i].proto,
						   protocols[i].refuse);
	}
}
