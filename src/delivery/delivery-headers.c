/* SPDX-License-Identifier: MIT */
/*
 * Trace headers added on acceptance and delivery: Received (RFC 5321 4.4,
 * "with" keywords of RFC 3848 and RFC 6531), Return-Path and Delivered-To.
 * Pure functions, pinned by golden tests in tests/unit/test-delivery.c.
 */
#include <string.h>
#include <time.h>

#include "delivery/delivery.h"

const char *
delivery_protocol_name(bool lmtp, bool helo, bool tls, bool auth, bool utf8)
{
	static const char *const smtp[] = { "ESMTP", "ESMTPA", "ESMTPS",
					    "ESMTPSA" };
	static const char *const lmtpn[] = { "LMTP", "LMTPA", "LMTPS",
					     "LMTPSA" };
	static const char *const usmtp[] = { "UTF8SMTP", "UTF8SMTPA",
					     "UTF8SMTPS", "UTF8SMTPSA" };
	static const char *const ulmtp[] = { "UTF8LMTP", "UTF8LMTPA",
					     "UTF8LMTPS", "UTF8LMTPSA" };
	unsigned i = (tls ? 2u : 0u) + (auth ? 1u : 0u);

	if (helo && !lmtp)
		return "SMTP";
	if (lmtp)
		return utf8 ? ulmtp[i] : lmtpn[i];
	return utf8 ? usmtp[i] : smtp[i];
}

/* Keeps what may appear in a domain or address literal; anything else from
 * the peer becomes '_' so it cannot end a comment or the header. */
static void
append_safe_host(struct buf *out, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n < 255; s++, n++) {
		unsigned char c = (unsigned char)*s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			  c == '[' || c == ']' || c == ':' || c == '_';

		buf_putc(out, ok ? (char)c : '_');
	}
}

/* Addresses inside the header: printable ASCII and UTF-8 kept, controls
 * and parentheses replaced. */
static void
append_safe_addr(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '(' || c == ')' ||
		    c == '\\' || c == '<' || c == '>')
			buf_putc(out, '_');
		else
			buf_putc(out, (char)c);
	}
}

void
delivery_date_format(time_t t, struct buf *out)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
					    "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
					      "May", "Jun", "Jul", "Aug",
					      "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_printf(out, "%s, %d %s %04d %02d:%02d:%02d +0000",
		   days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		   tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
delivery_received_format(const struct delivery_received *r, struct buf *out)
{
	if (r->local) {
		buf_puts(out, "Received: by ");
		append_safe_host(out, r->by_host != NULL ? r->by_host
							 : "localhost");
		buf_printf(out, " (Herald sendmail, from userid %u)",
			   r->local_uid);
		if (r->id != NULL)
			buf_printf(out, "\r\n\tid %s", r->id);
		buf_puts(out, "; ");
		delivery_date_format(r->when, out);
		buf_puts(out, "\r\n");
		return;
	}
	buf_puts(out, "Received: from ");
	if (r->helo != NULL && r->helo[0] != '\0')
		append_safe_host(out, r->helo);
	else
		buf_puts(out, "unknown");
	if (r->peer_ip != NULL && strcmp(r->peer_ip, "unix") != 0) {
		buf_puts(out, " ([");
		append_safe_host(out, r->peer_ip);
		buf_puts(out, "])");
	} else {
		buf_puts(out, " (local socket)");
	}
	buf_puts(out, "\r\n\tby ");
	append_safe_host(out, r->by_host != NULL ? r->by_host : "localhost");
	buf_printf(out, " (Herald) with %s", r->protocol);
	if (r->id != NULL)
		buf_printf(out, " id %s", r->id);
	if (r->tls_version != NULL && r->tls_version[0] != '\0') {
		buf_puts(out, "\r\n\t(using ");
		append_safe_host(out, r->tls_version);
		buf_puts(out, " with cipher ");
		append_safe_host(out, r->tls_cipher != NULL ? r->tls_cipher
							     : "unknown");
		buf_printf(out, " (%d/%d bits))", r->tls_bits, r->tls_bits);
	}
	if (r->auth_user != NULL) {
		buf_puts(out, "\r\n\t(authenticated as ");
		append_safe_addr(out, r->auth_user);
		buf_putc(out, ')');
	}
	if (r->for_rcpt != NULL) {
		buf_puts(out, "\r\n\tfor <");
		append_safe_addr(out, r->for_rcpt);
		buf_puts(out, ">;");
	} else {
		buf_putc(out, ';');
	}
	buf_puts(out, "\r\n\t");
	delivery_date_format(r->when, out);
	buf_puts(out, "\r\n");
}

void
delivery_return_path_format(const char *env_from, struct buf *out)
{
	buf_puts(out, "Return-Path: <");
	append_safe_addr(out, env_from != NULL ? env_from : "");
	buf_puts(out, ">\r\n");
}

void
delivery_delivered_to_format(const char *address, struct buf *out)
{
	buf_puts(out, "Delivered-To: ");
	append_safe_addr(out, address);
	buf_puts(out, "\r\n");
}
