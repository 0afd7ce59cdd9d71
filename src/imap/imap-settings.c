/* SPDX-License-Identifier: MIT */
/*
 * [imap] settings table. Every limit here is also listed in docs/limits.md
 * ("IMAP"); the session applies them to the parser (imap-parser.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap/imap-settings.h"
#include "lib/mem.h"

#define OFF(field) offsetof(struct config, field)

/* Words separated by spaces or commas, each one Herald announces and an
 * admin may hide (a misbehaving client, CLIENT-QUIRKS). */
static int
capabilities_hide_check(const char *value, char **error_r)
{
	const char *p = value;

	while (*p != '\0') {
		size_t n;

		p += strspn(p, " ,");
		n = strcspn(p, " ,");
		if (n > 0 && !imap_capability_hideable(p, n)) {
			*error_r = xasprintf("'%.*s' is not a capability Herald "
					     "announces, or one that may not "
					     "be hidden (IMAP4rev1, STARTTLS, "
					     "LOGINDISABLED, AUTH=)", (int)n,
					     p);
			return -1;
		}
		p += n;
	}
	return 0;
}

static const struct setting imap_settings[] = {
	{ .key = "idle_timeout", .type = SETTING_DURATION,
	  .offset = OFF(imap.idle_timeout_ms), .def = "30m", .min = 60000,
	  .max = 86400000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "Autologout of a logged-in session that sends nothing for "
		 "this long (RFC 9051 5.4 asks for at least 30 minutes); "
		 "IDLE keeps a session alive for as long." },
	{ .key = "login_timeout", .type = SETTING_DURATION,
	  .offset = OFF(imap.login_timeout_ms), .def = "1m", .min = 1000,
	  .max = 3600000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "Autologout of a session that has not logged in and sends "
		 "nothing for this long." },
	{ .key = "line_max", .type = SETTING_UINT,
	  .offset = OFF(imap.line_max), .def = "65536", .min = 8192,
	  .max = 16777216, .reloadable = true,
	  .doc = "Longest command in bytes, literal data not counted, CRLFs "
		 "counted (RFC 9051 4 asks servers to take at least 8000)." },
	{ .key = "literal_max", .type = SETTING_SIZE,
	  .offset = OFF(imap.literal_max), .def = "64M", .min = 1024,
	  .max = 1073741824, .reloadable = true,
	  .doc = "Literal data of one command, all its literals together "
		 "(the largest APPEND). Before login literals are capped at "
		 "8K whatever this says." },
	{ .key = "depth_max", .type = SETTING_UINT,
	  .offset = OFF(imap.depth_max), .def = "32", .min = 4, .max = 256,
	  .reloadable = true,
	  .doc = "Parenthesised lists open at once in one command." },
	{ .key = "args_max", .type = SETTING_UINT,
	  .offset = OFF(imap.args_max), .def = "4096", .min = 64,
	  .max = 1000000, .reloadable = true,
	  .doc = "Arguments of one command (a list counts as one, plus its "
		 "members)." },
	{ .key = "max_errors", .type = SETTING_UINT,
	  .offset = OFF(imap.max_errors), .def = "20", .min = 1,
	  .max = 1000, .reloadable = true,
	  .doc = "Commands answered BAD in one session (a good command "
		 "resets nothing) before the session is closed with BYE." },
	{ .key = "auth_line_max", .type = SETTING_UINT,
	  .offset = OFF(imap.auth_line_max), .def = "16384", .min = 1024,
	  .max = 65536, .reloadable = true,
	  .doc = "Longest AUTHENTICATE response line in bytes." },
	{ .key = "mailbox_name_max", .type = SETTING_UINT,
	  .offset = OFF(imap.mailbox_name_max), .def = "512", .min = 16,
	  .max = 4096, .reloadable = true,
	  .doc = "Longest mailbox name in bytes of UTF-8, all levels with "
		 "their / (CREATE and RENAME answer NO [LIMIT] beyond)." },
	{ .key = "mailboxes_max", .type = SETTING_UINT,
	  .offset = OFF(imap.mailboxes_max), .def = "10000", .min = 8,
	  .max = 1000000, .reloadable = true,
	  .doc = "Mailboxes of one account, the parents CREATE and RENAME "
		 "make included, and as many subscriptions to names without "
		 "a mailbox (NO [LIMIT] beyond)." },
	{ .key = "max_sessions_per_user", .type = SETTING_UINT,
	  .offset = OFF(imap.max_sessions_per_user), .def = "100", .min = 0,
	  .max = 100000, .reloadable = true,
	  .doc = "Logged-in IMAP sessions one account may have open in one "
		 "worker process; a login beyond them gets NO [LIMIT]. 0: no "
		 "limit." },
	{ .key = "keywords_max", .type = SETTING_UINT,
	  .offset = OFF(imap.keywords_max), .def = "256", .min = 1,
	  .max = 4096, .reloadable = true,
	  .doc = "Keywords (flags such as $Forwarded or Work) one mailbox "
		 "may know; a STORE or APPEND that would add one more is "
		 "refused with NO [LIMIT] (COPY and MOVE bring a message's "
		 "keywords along regardless)." },
	{ .key = "metadata_value_max", .type = SETTING_SIZE,
	  .offset = OFF(imap.metadata_value_max), .def = "64K", .min = 1024,
	  .max = 16777216, .reloadable = true,
	  .doc = "Octets of one METADATA entry value (RFC 5464 asks for at "
		 "least 1024); SETMETADATA of a longer one is NO [METADATA "
		 "MAXSIZE n]." },
	{ .key = "metadata_mailbox_entries_max", .type = SETTING_UINT,
	  .offset = OFF(imap.metadata_mailbox_entries_max), .def = "100",
	  .min = 10, .max = 1000000, .reloadable = true,
	  .doc = "METADATA entries of one mailbox, shared and private "
		 "together (RFC 5464 asks for at least 10); a SETMETADATA "
		 "that would add one more is NO [METADATA TOOMANY]." },
	{ .key = "metadata_account_entries_max", .type = SETTING_UINT,
	  .offset = OFF(imap.metadata_account_entries_max), .def = "1000",
	  .min = 10, .max = 10000000, .reloadable = true,
	  .doc = "METADATA entries of one account: its mailboxes' shared "
		 "entries and every private entry it set; beyond, NO "
		 "[METADATA TOOMANY]." },
	{ .key = "metadata_account_size_max", .type = SETTING_SIZE,
	  .offset = OFF(imap.metadata_account_size_max), .def = "1M",
	  .min = 1024, .max = 1073741824, .reloadable = true,
	  .doc = "Octets of METADATA entry names and values of one account, "
		 "counted as metadata_account_entries_max counts entries; "
		 "beyond, NO [METADATA TOOMANY]. Also bounds what one "
		 "GETMETADATA answer holds." },
	{ .key = "search_keys_max", .type = SETTING_UINT,
	  .offset = OFF(imap.search_keys_max), .def = "1000", .min = 1,
	  .max = 1000000, .reloadable = true,
	  .doc = "Keys in one SEARCH program, each NOT, OR and parenthesised "
		 "list counting as one; more is BAD (docs/imap.md "
		 "\"SEARCH\")." },
	{ .key = "search_depth_max", .type = SETTING_UINT,
	  .offset = OFF(imap.search_depth_max), .def = "64", .min = 1,
	  .max = 1000, .reloadable = true,
	  .doc = "NOT, OR and parentheses nested at once in one SEARCH "
		 "program; deeper is BAD." },
	{ .key = "sort_max_messages", .type = SETTING_UINT,
	  .offset = OFF(imap.sort_max_messages), .def = "100000", .min = 1,
	  .max = 10000000, .reloadable = true,
	  .doc = "Messages one SORT or THREAD may order by their header "
		 "fields (every key but ARRIVAL and SIZE; about 300 octets "
		 "each while the command runs); more matching messages is "
		 "NO [LIMIT]." },
	{ .key = "message_limit", .type = SETTING_UINT,
	  .offset = OFF(imap.message_limit), .def = "1000000", .min = 10,
	  .max = 100000000, .reloadable = true,
	  .doc = "Messages one FETCH, STORE, COPY, MOVE, UID EXPUNGE or "
		 "SEARCH works on, and messages in one APPEND (MESSAGELIMIT, "
		 "RFC 9738): a larger set is cut to the messages with the "
		 "highest numbers and answered OK [MESSAGELIMIT n uid], uid "
		 "the lowest processed; a COPY, an APPEND, a SORT or a THREAD "
		 "of more is NO [MESSAGELIMIT n] (docs/imap.md "
		 "\"MESSAGELIMIT\"). "
		 "Generous by default so that no client that asks for 1:* "
		 "meets it in practice." },
	{ .key = "inprogress_interval", .type = SETTING_DURATION,
	  .offset = OFF(imap.inprogress_interval_ms), .def = "10s", .min = 0,
	  .max = 3600000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "How often a SEARCH that runs long reports how far it is "
		 "(* OK [INPROGRESS (tag done total)], RFC 9585): at most "
		 "once per interval, between its slices of 2000 messages; "
		 "0: after every slice." },
	{ .key = "idle_keepalive", .type = SETTING_DURATION,
	  .offset = OFF(imap.idle_keepalive_ms), .def = "2m", .min = 1000,
	  .max = 1800000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "Interval of the untagged \"* OK Still here\" sent to a "
		 "session in IDLE: mobile carriers' NATs drop TCP connections "
		 "silent for 5 to 15 minutes. Each one also looks for changes "
		 "the notification may have missed." },
	{ .key = "notify_events_max", .type = SETTING_UINT,
	  .offset = OFF(imap.notify_events_max), .def = "1000", .min = 1,
	  .max = 1000000, .reloadable = true,
	  .doc = "STATUS and LIST responses NOTIFY (RFC 5465) may owe a "
		 "session at once, for changes made while it ran a command "
		 "or did not read; more, or output the client has not read "
		 "past the connection's buffer, and the session gets * OK "
		 "[NOTIFICATIONOVERFLOW] and no more notifications until its "
		 "next NOTIFY SET." },
	{ .key = "fetch_header_max", .type = SETTING_SIZE,
	  .offset = OFF(imap.fetch_header_max), .def = "1M", .min = 65536,
	  .max = 67108864, .reloadable = true,
	  .doc = "Octets of a message header that FETCH BODY[HEADER.FIELDS "
		 "(...)] and HEADER.FIELDS.NOT read and filter (the filter "
		 "needs the header in one piece); fields past it are not "
		 "seen. Real headers are a few KiB; a longer one is "
		 "malformed or hostile." },
	{ .key = "capabilities_hide", .type = SETTING_STRING,
	  .offset = OFF(imap.capabilities_hide), .reloadable = true,
	  .check = capabilities_hide_check,
	  .doc = "Capabilities left out of CAPABILITY (in the greeting and "
		 "after login), separated by spaces or commas, e.g. "
		 "\"UTF8=ACCEPT IMAP4rev2\" for a client that misbehaves "
		 "once it sees one. Their commands keep working for a client "
		 "that uses them anyway. IMAP4rev1, STARTTLS, LOGINDISABLED "
		 "and AUTH= may not be hidden. Unset: all are announced." },
	{ .key = "view_cache_messages", .type = SETTING_UINT,
	  .offset = OFF(imap.view_cache_messages), .def = "100000",
	  .min = 0, .max = 10000000, .reloadable = true,
	  .doc = "Messages of the mailbox views a worker keeps for the next "
		 "SELECT of the same mailbox (about 130 octets each, shared "
		 "by every session that has the mailbox selected and has not "
		 "changed it); the least recently selected go beyond. 0: "
		 "every SELECT reads the mailbox in full." },
	{ .key = "fetch_cache_size", .type = SETTING_SIZE,
	  .offset = OFF(imap.fetch_cache_size), .def = "32M", .min = 0,
	  .max = 1073741824, .reloadable = true,
	  .doc = "Memory a worker gives to the ENVELOPE, BODY, "
		 "BODYSTRUCTURE and PREVIEW texts it has sent (about 500 "
		 "octets a message), so that listing a mailbox again reads neither "
		 "the MIME structure nor the address headers; the least "
		 "recently used go beyond. 0: none kept." },
	{ .key = "compress_level", .type = SETTING_UINT,
	  .offset = OFF(imap.compress_level), .def = "6", .min = 1,
	  .max = 9, .reloadable = true,
	  .doc = "zlib level of COMPRESS=DEFLATE (RFC 4978) responses: 1 "
		 "spends the least CPU, 9 saves the most bytes." },
	{ .key = "compress_window_bits", .type = SETTING_UINT,
	  .offset = OFF(imap.compress_window_bits), .def = "14", .min = 9,
	  .max = 15, .reloadable = true,
	  .doc = "Deflate window of COMPRESS=DEFLATE responses as a power "
		 "of two; the compressor's state is 2^(bits+3) octets a "
		 "session (128 KiB at 14, 256 KiB at 15), plus about 40 KiB "
		 "to inflate commands and 64 KiB of inflated input." },
	{ .key = "multisearch_mailboxes_max", .type = SETTING_UINT,
	  .offset = OFF(imap.multisearch_mailboxes_max), .def = "100",
	  .min = 1, .max = 100000, .reloadable = true,
	  .doc = "Mailboxes one ESEARCH command (MULTISEARCH, RFC 7377) may "
		 "search; one whose IN (...) names more is refused with NO "
		 "[LIMIT] before any is searched. Each mailbox is read and "
		 "searched in turn, so memory is that of the largest." },
};

const struct setting_section imap_settings_section = {
	.name = "imap",
	.settings = imap_settings,
	.n_settings = sizeof(imap_settings) / sizeof(imap_settings[0]),
	.doc = "The IMAP server (RFC 9051, RFC 3501) on the imap and imaps "
	       "listeners.",
};
