/* SPDX-License-Identifier: MIT */
/*
 * [pop3] settings table. Every limit here is also listed in docs/limits.md.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/mem.h"
#include "pop3/pop3-settings.h"

#define OFF(field) offsetof(struct config, field)

/* RFC 2449 6.7: expire-policy = ( 1*DIGIT / "NEVER" ) [ SP "USER" ]; the
 * value goes into CAPA as it is, so nothing else may pass. */
static int
expire_check(const char *value, char **error_r)
{
	size_t n = strspn(value, "0123456789");

	if (n == 0 && strncmp(value, "NEVER", 5) == 0)
		n = 5;
	if (n > 0 && n <= 5 &&
	    (value[n] == '\0' || strcmp(value + n, " USER") == 0))
		return 0;
	*error_r = xasprintf("'%s' is not NEVER or a number of days, "
			     "optionally followed by USER (RFC 2449)", value);
	return -1;
}

static const struct setting pop3_settings[] = {
	{ .key = "idle_timeout", .type = SETTING_DURATION,
	  .offset = OFF(pop3.idle_timeout_ms), .def = "10m", .min = 1000,
	  .max = 86400000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "A session that sends nothing for this long is closed "
		 "(RFC 1939 asks for at least 10 minutes)." },
	{ .key = "line_max", .type = SETTING_UINT,
	  .offset = OFF(pop3.line_max), .def = "512", .min = 64,
	  .max = 65536, .reloadable = true,
	  .doc = "Longest command line in bytes, CRLF included (RFC 2449 "
		 "asks for at least 255)." },
	{ .key = "auth_line_max", .type = SETTING_UINT,
	  .offset = OFF(pop3.auth_line_max), .def = "8192", .min = 256,
	  .max = 65536, .reloadable = true,
	  .doc = "Longest line of a SASL exchange (AUTH and its responses)." },
	{ .key = "max_errors", .type = SETTING_UINT,
	  .offset = OFF(pop3.max_errors), .def = "10", .min = 1,
	  .max = 1000, .reloadable = true,
	  .doc = "Bad, unknown or misplaced commands before the session is "
		 "closed." },
	{ .key = "apop", .type = SETTING_BOOL, .offset = OFF(pop3.apop),
	  .def = "no", .reloadable = true,
	  .doc = "Offer APOP. It needs the password in clear on the server, "
		 "so it only works for accounts whose password is stored with "
		 "the {PLAIN} scheme." },
	{ .key = "login_delay", .type = SETTING_DURATION,
	  .offset = OFF(pop3.login_delay_s), .def = "0s", .min = 0,
	  .max = 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "Least time between two POP3 logins of one account, "
		 "announced as LOGIN-DELAY (RFC 2449); 0: no limit." },
	{ .key = "expire", .type = SETTING_STRING, .offset = OFF(pop3.expire),
	  .def = "NEVER", .reloadable = true, .check = expire_check,
	  .doc = "Value of the EXPIRE capability (RFC 2449): NEVER, or the "
		 "days after which retrieved mail may be removed by policy. "
		 "Empty: not announced. Herald itself never expires mail." },
};

const struct setting_section pop3_settings_section = {
	.name = "pop3",
	.settings = pop3_settings,
	.n_settings = sizeof(pop3_settings) / sizeof(pop3_settings[0]),
	.doc = "The POP3 server (RFC 1939) on the pop3 and pop3s listeners.",
};
