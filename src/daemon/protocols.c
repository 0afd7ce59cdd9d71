/* SPDX-License-Identifier: MIT */
/*
 * Protocol dispatch: which start handler takes a connection accepted on a
 * listener of each enum listen_proto. The daemon knows no protocol: cli/
 * registers the built-in handlers (cli-modules.c), tests their own.
 */
#include <signal.h>

#include "daemon/daemon-private.h"
#include "lib/mem.h"

/* NULL: not available; daemon_serve() refuses a config that listens on it
 * rather than accept and drop connections. */
static daemon_protocol_start_cb_t *handlers[PROTO_COUNT];
static daemon_protocol_refuse_cb_t *refusers[PROTO_COUNT];

void
daemon_set_protocol_handler(enum listen_proto proto,
			    daemon_protocol_start_cb_t *start)
{
	if ((unsigned)proto >= PROTO_COUNT)
		panic("daemon: protocol %d out of range", (int)proto);
	handlers[proto] = start;
}

daemon_protocol_start_cb_t *
daemon_protocol_handler(enum listen_proto proto)
{
	if ((unsigned)proto >= PROTO_COUNT)
		return NULL;
	return handlers[proto];
}

void
daemon_set_protocol_refuse_handler(enum listen_proto proto,
				   daemon_protocol_refuse_cb_t *refuse)
{
	if ((unsigned)proto >= PROTO_COUNT)
		panic("daemon: protocol %d out of range", (int)proto);
	refusers[proto] = refuse;
}

daemon_protocol_refuse_cb_t *
daemon_protocol_refuse_handler(enum listen_proto proto)
{
	if ((unsigned)proto >= PROTO_COUNT)
		return NULL;
	return refusers[proto];
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
