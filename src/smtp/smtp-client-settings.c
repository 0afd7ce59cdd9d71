/* SPDX-License-Identifier: MIT */
/*
 * The [smtp_client] settings table: the outbound client's RFC 5321
 * 4.5.3.2 timeouts, its limits on what a remote server sends, the HELO
 * name and the CA file for verified TLS. docs/config.md is generated from
 * it; docs/limits.md explains the limits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/mem.h"

#include "conf/config.h"
#include "smtp/smtp-client.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OFF(field) offsetof(struct config, field)

#define TIMEOUT(k, f, d, text) \
	{ .key = k, .type = SETTING_DURATION, \
	  .offset = OFF(smtp_client.f), .def = d, .min = 1000, \
	  .max = 3600000, .unit = DURATION_MS, .reloadable = true, \
	  .doc = text }

static int
bind_check(const char *value, int family, char **error_r)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	if (inet_pton(family, value, tmp) == 1)
		return 0;
	*error_r = xasprintf("'%s' is not an %s address", value,
			     family == AF_INET ? "IPv4" : "IPv6");
	return -1;
}

static int
bind4_check(const char *value, char **error_r)
{
	return bind_check(value, AF_INET, error_r);
}

static int
bind6_check(const char *value, char **error_r)
{
	return bind_check(value, AF_INET6, error_r);
}

static const struct setting smtp_client_settings[] = {
	{ .key = "helo_name", .type = SETTING_STRING,
	  .offset = OFF(smtp_client.helo_name), .reloadable = true,
	  .doc = "Name sent in EHLO, LHLO and HELO. Unset: `hostname`. It "
		 "should resolve to the sending address and match its PTR "
		 "record, or large receivers refuse the mail." },
	{ .key = "ca_file", .type = SETTING_STRING,
	  .offset = OFF(smtp_client.ca_file), .reloadable = false,
	  .doc = "PEM file of the certificate authorities trusted when a "
		 "destination's TLS policy requires a verified certificate "
		 "(`encrypt`, implicit TLS). Unset: the system's trust "
		 "store." },
	{ .key = "bind_address", .type = SETTING_STRING,
	  .offset = OFF(smtp_client.bind_address), .reloadable = true,
	  .check = bind4_check,
	  .doc = "Source IPv4 address of outgoing connections (Postfix's "
		 "smtp_bind_address): the address whose PTR record matches "
		 "helo_name on a host with several. Unset: the system "
		 "chooses." },
	{ .key = "bind_address6", .type = SETTING_STRING,
	  .offset = OFF(smtp_client.bind_address6), .reloadable = true,
	  .check = bind6_check,
	  .doc = "Source IPv6 address of outgoing connections. Unset: the "
		 "system chooses." },
	TIMEOUT("connect_timeout", connect_timeout_ms, "30s",
		"How long a TCP connect to a remote server may take."),
	TIMEOUT("greeting_timeout", greeting_timeout_ms, "5m",
		"Wait for the 220 greeting (RFC 5321 4.5.3.2.1: 5 minutes)."),
	TIMEOUT("helo_timeout", helo_timeout_ms, "5m",
		"Wait for the reply to EHLO, LHLO, HELO, STARTTLS and AUTH."),
	TIMEOUT("mail_timeout", mail_timeout_ms, "5m",
		"Wait for the reply to MAIL FROM (RFC 5321 4.5.3.2.2: 5 "
		"minutes)."),
	TIMEOUT("rcpt_timeout", rcpt_timeout_ms, "5m",
		"Wait for the reply to each RCPT TO (RFC 5321 4.5.3.2.3: 5 "
		"minutes)."),
	TIMEOUT("data_init_timeout", data_init_timeout_ms, "2m",
		"Wait for the 354 reply to DATA (RFC 5321 4.5.3.2.4: 2 "
		"minutes)."),
	TIMEOUT("data_block_timeout", data_block_timeout_ms, "3m",
		"How long the remote may take to accept each block of message "
		"data, or a BDAT chunk's reply (RFC 5321 4.5.3.2.5: 3 "
		"minutes)."),
	TIMEOUT("data_end_timeout", data_end_timeout_ms, "10m",
		"Wait for the reply after the final dot (RFC 5321 "
		"4.5.3.2.6: 10 minutes)."),
	TIMEOUT("tls_timeout", tls_timeout_ms, "1m",
		"How long a TLS handshake with a remote server may take."),
	TIMEOUT("quit_timeout", quit_timeout_ms, "1m",
		"Wait for the reply to RSET and QUIT."),
	{ .key = "reply_line_max", .type = SETTING_UINT,
	  .offset = OFF(smtp_client.reply_line_max), .def = "2048",
	  .min = 512, .max = 65536, .reloadable = true,
	  .doc = "Longest reply line accepted from a remote server, in octets "
		 "with CRLF (RFC 5321 4.5.3.1.5: 512). A longer one ends the "
		 "session as a protocol error (a temporary failure)." },
	{ .key = "reply_lines_max", .type = SETTING_UINT,
	  .offset = OFF(smtp_client.reply_lines_max), .def = "100",
	  .min = 1, .max = 10000, .reloadable = true,
	  .doc = "Most lines in one multi-line reply from a remote server; "
		 "more end the session as a protocol error." },
};

const struct setting_section smtp_client_settings_section = {
	.name = "smtp_client",
	.settings = smtp_client_settings,
	.n_settings = N(smtp_client_settings),
	.doc = "The outbound SMTP and LMTP client that the queue runner uses "
	       "(docs/outbound.md).",
};
