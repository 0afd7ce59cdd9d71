/* SPDX-License-Identifier: MIT */
/*
 * The [smtp] settings table: every limit and policy of the SMTP,
 * submission and LMTP server. The table drives parsing, `herald config
 * show` and docs/config.md; docs/limits.md explains the limits.
 */
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "smtp/smtp-server.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OFF(field) offsetof(struct config, field)

/* config_set() stores an enum setting through an unsigned *. */
_Static_assert(sizeof(enum config_sender_check) == sizeof(unsigned),
	       "enum size");

static const struct setting smtp_settings[] = {
	{ .key = "greeting_delay", .type = SETTING_DURATION,
	  .offset = OFF(smtp.greeting_delay_ms), .def = "0ms", .min = 0,
	  .max = 60000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "How long port 25 waits before sending the 220 greeting. A "
		 "client that talks before the greeting (an early talker) gets "
		 "554 and is disconnected; input before the greeting is "
		 "refused even when this is 0." },
	{ .key = "command_timeout", .type = SETTING_DURATION,
	  .offset = OFF(smtp.command_timeout_ms), .def = "5m", .min = 1000,
	  .max = 3600000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "How long the server waits for the next command (RFC 5321 "
		 "4.5.3.2.7 asks for at least 5 minutes)." },
	{ .key = "data_timeout", .type = SETTING_DURATION,
	  .offset = OFF(smtp.data_timeout_ms), .def = "5m", .min = 1000,
	  .max = 3600000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "How long the server waits for more message data after DATA "
		 "or between BDAT chunks (RFC 5321 4.5.3.2.5-6: 3 minutes on "
		 "the client side)." },
	{ .key = "message_size_limit", .type = SETTING_SIZE,
	  .offset = OFF(smtp.message_size_limit), .def = "50M", .min = 65536,
	  .max = (uint64_t)2 << 30, .reloadable = true,
	  .doc = "Largest message accepted, in octets; advertised with SIZE "
		 "(RFC 1870). Larger messages get 552 5.3.4." },
	{ .key = "message_memory_limit", .type = SETTING_SIZE,
	  .offset = OFF(smtp.message_memory_limit), .def = "256k",
	  .min = 4096, .max = 64 << 20, .reloadable = true,
	  .doc = "How much of a message being received (DATA, BDAT) a session "
		 "keeps in memory. A larger message goes, whole, to an "
		 "unnamed temp file in data_dir/blobs/tmp, and delivery "
		 "reads it from there in blocks; so memory per session stays "
		 "near this, not near the message's size (docs/limits.md)." },
	{ .key = "message_memory_total", .type = SETTING_SIZE,
	  .offset = OFF(smtp.message_memory_total), .def = "64M",
	  .min = 0, .max = (uint64_t)64 << 30, .reloadable = true,
	  .doc = "How much memory the messages being received hold in one "
		 "worker, all sessions together (each up to "
		 "message_memory_limit). Past it a message goes to its temp "
		 "file at once, however small, and is written through "
		 "without staging, so a flood of sessions in DATA costs disk, "
		 "not memory (docs/limits.md). 0: every message is spooled." },
	{ .key = "max_recipients", .type = SETTING_UINT,
	  .offset = OFF(smtp.max_recipients), .def = "100", .min = 1,
	  .max = 100000, .reloadable = true,
	  .doc = "Recipients per message; more get 452 4.5.3 (RFC 5321 "
		 "4.5.3.1.8: at least 100)." },
	{ .key = "recipient_overshoot_limit", .type = SETTING_UINT,
	  .offset = OFF(smtp.recipient_overshoot_limit), .def = "1000",
	  .min = 0, .max = 100000, .reloadable = true,
	  .doc = "Recipients past max_recipients in one transaction that are "
		 "answered 452 4.5.3 without counting as errors (RFC 5321 "
		 "4.5.3.1.10: the client sends them again later). Each one "
		 "beyond this counts towards max_errors." },
	{ .key = "max_errors", .type = SETTING_UINT,
	  .offset = OFF(smtp.max_errors), .def = "10", .min = 1,
	  .max = 1000, .reloadable = true,
	  .doc = "Protocol errors (bad commands, refused recipients) in one "
		 "session before the server answers 421 and disconnects." },
	{ .key = "max_line_length", .type = SETTING_UINT,
	  .offset = OFF(smtp.max_line_length), .def = "1000", .min = 1000,
	  .max = 1048576, .reloadable = true,
	  .doc = "Longest message text line in octets including CRLF (RFC "
		 "5321 4.5.3.1.6: 1000). A longer line gets 500 5.5.2." },
	{ .key = "normalize_line_endings", .type = SETTING_BOOL,
	  .offset = OFF(smtp.normalize_line_endings), .def = "no",
	  .reloadable = true,
	  .doc = "Turn a bare LF or bare CR inside message data into CRLF "
		 "instead of refusing the message with 550 5.6.0. The end of "
		 "data is CRLF.CRLF either way." },
	{ .key = "relay_networks", .type = SETTING_NETWORKS,
	  .offset = OFF(smtp.relay_networks), .reloadable = true,
	  .doc = "Comma-separated networks (`192.0.2.0/24`, `2001:db8::/32`, "
		 "`127.0.0.1`) whose clients may relay to other domains without "
		 "authenticating. Their mail is DKIM-signed like a user's "
		 "when its From domain has keys, and not SPF-, DKIM-, ARC- "
		 "or DMARC-checked (docs/mailauth.md). Empty: "
		 "only authenticated users relay." },
	{ .key = "sender_check", .type = SETTING_ENUM,
	  .offset = OFF(smtp.sender_check), .def = "aliases",
	  .enum_values = "aliases|own|off", .reloadable = true,
	  .doc = "Which envelope senders an authenticated user may use: "
		 "`aliases` (own address, with +tag, or an alias that resolves "
		 "to the account), `own` (own address only) or `off`. Others "
		 "get 553 5.7.1." },
	{ .key = "check_from_header", .type = SETTING_BOOL,
	  .offset = OFF(smtp.check_from_header), .def = "yes",
	  .reloadable = true,
	  .doc = "Apply sender_check to the From: and Sender: fields of "
		 "submitted messages as well, read as a mail client shows "
		 "them: display names and comments that read as an address "
		 "count, and a field that cannot be read unambiguously is "
		 "refused (docs/smtp.md)." },
};

const struct setting_section smtp_setting_section = {
	.name = "smtp",
	.settings = smtp_settings,
	.n_settings = N(smtp_settings),
	.doc = "The SMTP server on ports 25, 587 and 465, and LMTP.",
};
