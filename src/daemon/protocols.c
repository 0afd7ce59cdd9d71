/* SPDX-License-Identifier: MIT */
/*
 * Protocol dispatch: which start handler takes a connection accepted on a
 * listener of each enum listen_proto. A protocol module adds its entry to
 * builtin_handlers when it lands; tests override entries at run time.
 */
#include <signal.h>

#include "daemon/daemon-private.h"
#include "lib/mem.h"
#include "pop3/pop3.h"
#include "smtp/smtp-server.h"

/* Built into this binary. NULL: not available yet; daemon_serve() refuses
 * a config that listens on it rather than accept and drop connections.
 *   [PROTO_SMTP] = smtp_server_start, [PROTO_IMAP] = imap_session_start,
 * and so on, as the protocol modules arrive. */
static daemon_protocol_start_cb_t *const builtin_handlers[PROTO_COUNT] = {
	[PROTO_SMTP] = smtp_server_start,
	[PROTO_SUBMISSION] = smtp_server_start,
	[PROTO_SUBMISSIONS] = smtp_server_start,
	[PROTO_LMTP] = smtp_server_start,
	[PROTO_SENDMAIL] = smtp_server_start,
	[PROTO_POP3] = pop3_session_start,
	[PROTO_POP3S] = pop3_session_start,
};

static daemon_protocol_start_cb_t *override_handlers[PROTO_COUNT];
static bool override_set[PROTO_COUNT];

void
daemon_set_protocol_handler(enum listen_proto proto,
			    daemon_protocol_start_cb_t *start)
{
	if ((unsigned)proto >= PROTO_COUNT)
		panic("daemon: protocol %d out of range", (int)proto);
	override_handlers[proto] = start;
	override_set[proto] = true;
}

daemon_protocol_start_cb_t *
daemon_protocol_handler(enum listen_proto proto)
{
	if ((unsigned)proto >= PROTO_COUNT)
		return NULL;
	if (override_set[proto])
		return override_handlers[proto];
	return builtin_handlers[proto];
}

int
daemon_check_protocols(const struct config *cfg, char **error_r)
{
	for (unsigned p = 0; p < PROTO_COUNT; p++) {
		if (cfg->listen.proto[p].n == 0 ||
		    daemon_protocol_handler((enum listen_proto)p) != NULL)
			continue;
		*error_r = xasprintf("listen.%s: the %s protocol is not available "
				     "in this build",
				     listen_proto_name((enum listen_proto)p),
				     listen_proto_name((enum listen_proto)p));
		return -1;
	}
	return 0;
}
