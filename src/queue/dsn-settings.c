/* SPDX-License-Identifier: MIT */
/*
 * [bounce] settings table: how much of a message a delivery status
 * notification returns. Limits also listed in docs/limits.md ("DSNs");
 * when the queue sends a DSN is the queue's [queue] section.
 */
#include <stddef.h>
#include <stdint.h>

#include "queue/dsn.h"

#define OFF(field) offsetof(struct config, field)

static const struct setting bounce_settings[] = {
	{ .key = "return_size_max", .type = SETTING_SIZE,
	  .offset = OFF(bounce.return_size_max), .def = "50k", .min = 0,
	  .max = 104857600, .reloadable = true,
	  .doc = "A failure report (bounce) returns the whole message when "
		 "it is at most this large and the sender did not ask for "
		 "headers only (RET=HDRS); a larger one is returned as its "
		 "header. Delay and success reports always return the "
		 "header only. 0: always the header." },
	{ .key = "headers_max", .type = SETTING_SIZE,
	  .offset = OFF(bounce.headers_max), .def = "64k", .min = 1024,
	  .max = 16777216, .reloadable = true,
	  .doc = "The returned header is cut, at a field boundary, beyond "
		 "this many octets (a message's header is a few KiB; a "
		 "longer one is malformed or hostile)." },
};

const struct setting_section dsn_settings_section = {
	.name = "bounce",
	.settings = bounce_settings,
	.n_settings = sizeof(bounce_settings) / sizeof(bounce_settings[0]),
	.doc = "Delivery status notifications (bounces, delay warnings, "
	       "success reports; docs/outbound.md \"Bounces and DSNs\").",
};
