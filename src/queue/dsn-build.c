/* SPDX-License-Identifier: MIT */
/*
 * Builds a delivery status notification as a message: RFC 6522's
 * multipart/report with a text part for people, RFC 3464's
 * message/delivery-status (RFC 6533's global variant when an address is
 * UTF-8) and the returned message or its header. Pure: no I/O.
 */
#include "queue/dsn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/delivery.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/utf8.h"

/* Lines are wrapped (text) or folded (report fields) past this width
 * (RFC 5322 2.1.1 asks for 78), and a run without white space is cut
 * well before the hard limit of 998 octets (RFC 5322 2.1.1). */
#define LINE_SOFT 76
#define LINE_HARD 900

static bool
has_non_ascii(const char *s)
{
	return s != NULL &&
	       utf8_has_non_ascii((const uint8_t *)s, strlen(s));
}

static bool
bytes_have_8bit(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] >= 0x80)
			return true;
	}
	return false;
}

/* Appends s[0..len) as one line of text: controls become spaces (a CR
 * or LF in peer text must not start a field of its own), and non-ASCII
 * stays only when utf8 and valid, else each octet becomes '?'. Runs of
 * white space collapse. */
static void
put_clean(struct buf *out, const char *s, size_t len, bool utf8)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;

		if (p[i] < 0x20 || p[i] == 0x7f) {
			if (out->len > 0 && out->data[out->len - 1] != ' ')
				buf_putc(out, ' ');
			i++;
			continue;
		}
		if (p[i] < 0x80) {
			if (p[i] != ' ' || (out->len > 0 &&
					    out->data[out->len - 1] != ' '))
				buf_putc(out, (char)p[i]);
			i++;
			continue;
		}
		n = utf8_decode(p + i, len - i, &cp);
		/* C1 controls and U+2028/9 break lines in some readers */
		if (utf8 && n > 0 && !(cp >= 0x80 && cp < 0xa0) &&
		    cp != 0x2028 && cp != 0x2029) {
			buf_append(out, p + i, n);
			i += n;
		} else {
			buf_putc(out, '?');
			i++;
		}
	}
}

/* A clean copy of s with leading and trailing white space removed. */
static char *
clean_str(const char *s, bool utf8)
{
	struct buf b;
	char *ret;

	buf_init(&b);
	put_clean(&b, s, strlen(s), utf8);

	while (b.len > 0 && b.data[b.len - 1] == ' ')
		buf_truncate(&b, b.len - 1);
	ret = buf_steal(&b);
	buf_deinit(&b);
	return ret;
}

/* Writes text after first, wrapped at LINE_SOFT where there is a space
 * and cut at LINE_HARD where there is none, ending in CRLF. fold: a
 * header field, continued with the white space kept (RFC 5322 2.2.3)
 * and a cut continued with one space; otherwise text lines, continued
 * after cont with the break's spaces dropped. */
static void
put_wrapped(struct buf *out, const char *first, const char *cont, bool fold,
	    const char *text)
{
	size_t line = strlen(first);
	const char *p = text;
	bool at_start = true;

	buf_puts(out, first);
	while (*p != '\0') {
		size_t ws = strspn(p, " ");
		size_t word = strcspn(p + ws, " ");

		if (!at_start && ws > 0 && word > 0 &&
		    line + ws + word > LINE_SOFT) {
			buf_puts(out, "\r\n");
			if (fold) {
				buf_append(out, p, ws);
				line = ws;
			} else {
				buf_puts(out, cont);
				line = strlen(cont);
			}
		} else {
			buf_append(out, p, ws);
			line += ws;
		}
		p += ws;
		while (word > 0) {
			size_t room = LINE_HARD > line ? LINE_HARD - line : 0;
			size_t n = word;

			if (n > room) {
				n = room;
				/* never inside a UTF-8 sequence */
				while (n > 0 && ((uint8_t)p[n] & 0xc0) == 0x80)
					n--;
				buf_append(out, p, n);
				buf_puts(out, "\r\n");
				buf_puts(out, fold ? " " : cont);
				line = fold ? 1 : strlen(cont);
			} else {
				buf_append(out, p, n);
				line += n;
			}
			p += n;
			word -= n;
		}
		at_start = false;
	}
	buf_puts(out, "\r\n");
}

/* "550-5.1.1 a\r\n550 5.1.1 b" -> "550 5.1.1 a b": the first line's
 * code and enhanced status once, the other lines' repeats dropped (the
 * Diagnostic-Code is one field; Postfix keeps every "550-", which reads
 * badly). */
static char *
join_reply(const char *reply, bool utf8)
{
	struct buf raw;
	char code[4] = "", enh[16] = "";
	const char *p = reply;
	bool first = true;
	char *ret;

	buf_init(&raw);
	while (*p != '\0') {
		size_t len = strcspn(p, "\n");
		const char *l = p;
		size_t ll = len;

		p += len;
		if (*p == '\n')
			p++;
		if (ll > 0 && l[ll - 1] == '\r')
			ll--;
		if (first) {
			if (ll >= 4 && (l[3] == '-' || l[3] == ' ') &&
			    l[0] >= '2' && l[0] <= '5' && l[1] >= '0' &&
			    l[1] <= '9' && l[2] >= '0' && l[2] <= '9') {
				size_t e = 4;

				memcpy(code, l, 3);
				while (e < ll && l[e] != ' ')
					e++;
				if (e - 4 < sizeof(enh) && e > 4 &&
				    l[4] >= '2' && l[4] <= '5' && l[5] == '.') {
					memcpy(enh, l + 4, e - 4);
					enh[e - 4] = '\0';
				}
				buf_append(&raw, l, 3);
				buf_putc(&raw, ' ');
				buf_append(&raw, l + 4, ll - 4);
			} else {
				buf_append(&raw, l, ll);
			}
			first = false;
			continue;
		}
		if (code[0] != '\0' && ll >= 4 && memcmp(l, code, 3) == 0 &&
		    (l[3] == '-' || l[3] == ' ')) {
			size_t el = strlen(enh);

			l += 4;
			ll -= 4;
			if (el > 0 && ll >= el && memcmp(l, enh, el) == 0 &&
			    (ll == el || l[el] == ' ')) {
				l += el;
				ll -= el;
			}
		}
		buf_putc(&raw, ' ');
		buf_append(&raw, l, ll);
	}
	ret = clean_str(raw.data, utf8);
	buf_deinit(&raw);
	return ret;
}

/* "type; address" for Final-Recipient and Original-Recipient. */
static void
put_addr_field(struct buf *out, const char *name, const char *type,
	       const char *addr, bool utf8)
{
	char *clean = clean_str(addr, utf8);
	char *first = xasprintf("%s: %s; ", name, type);

	put_wrapped(out, first, "", true, clean);
	free(first);
	free(clean);
}

static void
put_date_field(struct buf *out, const char *name, time_t t)
{
	buf_printf(out, "%s: ", name);
	delivery_date_format(t, out);
	buf_puts(out, "\r\n");
}

/* ENVID after xtext decoding may hold any printable ASCII; anything
 * else (never allowed by smtp-params, but the queue row is input too)
 * is xtext-encoded so the field stays one 7-bit line. */
static void
put_envid(struct buf *out, const char *envid)
{
	struct buf v;

	buf_init(&v);
	for (const char *p = envid; *p != '\0'; p++) {
		uint8_t c = (uint8_t)*p;

		if (c > 0x20 && c < 0x7f && c != '+')
			buf_putc(&v, (char)c);
		else
			buf_printf(&v, "+%02X", c);
	}
	put_wrapped(out, "Original-Envelope-Id: ", "", true, v.data);
	buf_deinit(&v);
}

static const char *
default_status(enum dsn_action action)
{
	switch (action) {
	case DSN_ACTION_FAILED:
		return "5.0.0";
	case DSN_ACTION_DELAYED:
		return "4.0.0";
	default:
		return "2.0.0";
	}
}

/* RFC 3463: class.subject.detail, each 1-3 digits, class 2, 4 or 5. */
static bool
status_is_valid(const char *s)
{
	size_t parts = 0;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5'))
		return false;
	while (*s != '\0') {
		size_t n = strspn(s, "0123456789");

		if (n == 0 || n > 3)
			return false;
		parts++;
		s += n;
		if (*s == '.' && parts < 3)
			s++;
		else if (*s != '\0')
			return false;
	}
	return parts == 3;
}

static const char *
rcpt_status(const struct dsn_rcpt *r)
{
	return status_is_valid(r->status) ? r->status
					  : default_status(r->action);
}

/* The most serious action among the reported ones decides the subject
 * and the text: failed, delayed, then the kinds of success. */
static enum dsn_action
main_action(const struct dsn_rcpt *const *rcpts, size_t n)
{
	enum dsn_action a = DSN_ACTION_DELIVERED;

	for (size_t i = 0; i < n; i++) {
		if (rcpts[i]->action == DSN_ACTION_FAILED)
			return DSN_ACTION_FAILED;
		if (rcpts[i]->action == DSN_ACTION_DELAYED)
			a = DSN_ACTION_DELAYED;
	}
	return a;
}

static const char *
subject_for(enum dsn_action a)
{
	switch (a) {
	case DSN_ACTION_FAILED:
		return "Undelivered Mail Returned to Sender";
	case DSN_ACTION_DELAYED:
		return "Delayed Mail (still being retried)";
	default:
		return "Successful Mail Delivery Report";
	}
}

/* End of the header section in msg[0..len): the offset just after the
 * last field's line break (the empty line is not included). A message
 * cut before its empty line ends at its last complete line. */
static size_t
header_end(const uint8_t *msg, size_t len)
{
	size_t last = 0;

	for (size_t i = 0; i < len; i++) {
		if (msg[i] != '\n')
			continue;
		/* an empty line: LF alone, or CRLF right after a line */
		if (i == last || (i == last + 1 && msg[last] == '\r'))
			return last;
		last = i + 1;
	}
	return last;
}

/* Cuts a header section to at most max octets at a field boundary (a
 * line break not followed by white space), or at a line break when one
 * field alone is longer. */
static size_t
header_cut(const uint8_t *h, size_t len, uint64_t max)
{
	size_t line_cut = 0;

	if (len <= max)
		return len;
	for (size_t i = (size_t)max; i > 0; i--) {
		if (h[i - 1] != '\n')
			continue;
		if (line_cut == 0)
			line_cut = i;
		if (h[i] != ' ' && h[i] != '\t')
			return i;
	}
	return line_cut;
}

/* Whether p[0..len) can go into the report as it is: CRLF line ends
 * only, lines of at most 998 octets (RFC 5322 2.1.1), no NUL. A last
 * line without its CRLF is allowed (one is added). Stored mail passed
 * the SMTP reader's checks; this guards against what did not. */
static bool
is_clean(const uint8_t *p, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\0')
			return false;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return false;
		if (p[i] == '\r' && i + 1 < len && p[i + 1] != '\n')
			return false;
		if (p[i] == '\n') {
			if (i - 1 - start > 998)
				return false;
			start = i + 1;
		}
	}
	/* a lone CR at the very end would become CR CRLF */
	if (len > 0 && p[len - 1] == '\r')
		return false;
	return len - start <= 998;
}

static bool
contains(const uint8_t *hay, size_t len, const char *needle)
{
	return len > 0 && memmem(hay, len, needle, strlen(needle)) != NULL;
}

struct text_ctx {
	const struct dsn_report *rep;
	const struct dsn_build_settings *set;
	const struct dsn_rcpt *const *rcpts;
	size_t n;
	bool global;		/* RFC 6533: UTF-8 allowed in the report */
	bool whole;		/* the whole message is returned */
	bool returned;		/* the message or its header is */
};

static void
put_para(struct buf *out, const char *text)
{
	put_wrapped(out, "", "", false, text);
	buf_puts(out, "\r\n");
}

/* The part for people: what happened, to whom, what the remote said,
 * what to do. */
static void
build_text(const struct text_ctx *c, enum dsn_action main, struct buf *out)
{
	const char *host = c->rep->reporting_mta != NULL
				   ? c->rep->reporting_mta
				   : c->set->hostname;
	char *line;

	line = xasprintf("This is the mail system at %s.", host);
	put_para(out, line);
	free(line);
	switch (main) {
	case DSN_ACTION_FAILED:
		put_para(out, c->whole
			 ? "Your message could not be delivered to one or more "
			   "of its recipients. The reasons are below; your "
			   "message is attached."
			 : c->returned
			 ? "Your message could not be delivered to one or more "
			   "of its recipients. The reasons are below; the "
			   "header of your message is attached."
			 : "Your message could not be delivered to one or more "
			   "of its recipients. The reasons are below.");
		break;
	case DSN_ACTION_DELAYED:
		put_para(out, c->returned
			 ? "Your message has not been delivered yet to one or "
			   "more of its recipients. The mail system keeps "
			   "trying; you do not need to send it again. The "
			   "header of your message is attached."
			 : "Your message has not been delivered yet to one or "
			   "more of its recipients. The mail system keeps "
			   "trying; you do not need to send it again.");
		break;
	default:
		put_para(out, c->returned
			 ? "Your message was delivered to the recipients below, "
			   "as you asked when you sent it. The header of your "
			   "message is attached."
			 : "Your message was delivered to the recipients below, "
			   "as you asked when you sent it.");
		break;
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct dsn_rcpt *r = c->rcpts[i];
		char *addr = clean_str(r->address, c->global);
		const char *what;

		switch (r->action) {
		case DSN_ACTION_FAILED:
			what = "delivery failed";
			break;
		case DSN_ACTION_DELAYED:
			what = "delivery delayed, still trying";
			break;
		case DSN_ACTION_RELAYED:
			what = "passed on to a server that sends no delivery "
			       "reports";
			break;
		case DSN_ACTION_EXPANDED:
			what = "delivered to the addresses it forwards to";
			break;
		default:
			what = "delivered";
			break;
		}
		line = xasprintf("<%s>: %s (%s)", addr, what, rcpt_status(r));
		put_wrapped(out, "", "    ", false, line);
		free(line);
		free(addr);
		if (r->remote_mta != NULL && r->diagnostic != NULL &&
		    r->diagnostic_smtp) {
			char *host_clean = clean_str(r->remote_mta, false);
			const char *p = r->diagnostic;

			line = xasprintf("The mail server %s answered:",
					 host_clean);
			put_wrapped(out, "    ", "    ", false, line);
			free(line);
			free(host_clean);
			/* the reply line by line, as the remote wrote it */
			while (*p != '\0') {
				size_t len = strcspn(p, "\n");
				struct buf l;

				buf_init(&l);
				put_clean(&l, p, len, c->global);
				while (l.len > 0 && l.data[l.len - 1] == ' ')
					buf_truncate(&l, l.len - 1);
				if (l.len > 0)
					put_wrapped(out, "    ", "        ",
						    false, l.data);
				buf_deinit(&l);
				p += len;
				if (*p == '\n')
					p++;
			}
		} else if (r->diagnostic != NULL) {
			char *why = r->diagnostic_smtp
					    ? join_reply(r->diagnostic,
							 c->global)
					    : clean_str(r->diagnostic,
							c->global);

			line = xasprintf("Reason: %s", why);
			put_wrapped(out, "    ", "    ", false, line);
			free(line);
			free(why);
		} else if (r->remote_mta != NULL) {
			char *host_clean = clean_str(r->remote_mta, false);

			line = xasprintf("Handled by %s.", host_clean);
			put_wrapped(out, "    ", "    ", false, line);
			free(line);
			free(host_clean);
		}
		if (r->action == DSN_ACTION_DELAYED && r->retry_until != 0) {
			struct buf d;

			buf_init(&d);
			buf_puts(&d, "Still trying until ");
			delivery_date_format(r->retry_until, &d);
			buf_putc(&d, '.');
			put_wrapped(out, "    ", "    ", false, d.data);
			buf_deinit(&d);
		}
		buf_puts(out, "\r\n");
	}
	switch (main) {
	case DSN_ACTION_FAILED:
		put_para(out, "What you can do: check the addresses above for "
			      "typing mistakes. The server's answer usually "
			      "says why the message was refused (an unknown "
			      "address, a full mailbox, a message too "
			      "large). Sending the same message again to the "
			      "same address will most likely fail the same "
			      "way. If you need help, forward this report to "
			      "your mail administrator.");
		break;
	case DSN_ACTION_DELAYED:
		put_para(out, "Nothing needs to be done now. If the message "
			      "still cannot be delivered when the mail system "
			      "gives up, you will get a final report.");
		break;
	default:
		break;
	}
}

/* The machine-readable part (RFC 3464 2.2 and 2.3; RFC 6533 3). */
static void
build_status(const struct text_ctx *c, struct buf *out)
{
	const struct dsn_report *rep = c->rep;
	char *host = clean_str(rep->reporting_mta != NULL ? rep->reporting_mta
							  : c->set->hostname,
			       false);

	put_wrapped(out, "Reporting-MTA: dns; ", "", true, host);
	free(host);
	if (rep->queue_id != NULL && rep->queue_id[0] != '\0') {
		char *id = clean_str(rep->queue_id, false);

		put_wrapped(out, "X-Herald-Queue-ID: ", "", true, id);
		free(id);
	}
	if (rep->dsn_envid != NULL && rep->dsn_envid[0] != '\0')
		put_envid(out, rep->dsn_envid);
	if (rep->arrival != 0)
		put_date_field(out, "Arrival-Date", rep->arrival);
	for (size_t i = 0; i < c->n; i++) {
		const struct dsn_rcpt *r = c->rcpts[i];

		buf_puts(out, "\r\n");
		if (r->orcpt != NULL && strchr(r->orcpt, ';') != NULL) {
			const char *semi = strchr(r->orcpt, ';');
			char *type = xstrndup(r->orcpt,
					      (size_t)(semi - r->orcpt));
			char *ctype = clean_str(type, false);

			if (ctype[0] == '\0' || strchr(ctype, ' ') != NULL) {
				free(ctype);
				ctype = xstrdup("rfc822");
			}
			put_addr_field(out, "Original-Recipient", ctype,
				       semi + 1, c->global);
			free(ctype);
			free(type);
		}
		put_addr_field(out, "Final-Recipient",
			       has_non_ascii(r->address) ? "utf-8" : "rfc822",
			       r->address, c->global);
		buf_printf(out, "Action: %s\r\n", dsn_action_name(r->action));
		buf_printf(out, "Status: %s\r\n", rcpt_status(r));
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0') {
			char *h = clean_str(r->remote_mta, false);

			put_wrapped(out, "Remote-MTA: dns; ", "", true, h);
			free(h);
		}
		if (r->diagnostic != NULL && r->diagnostic[0] != '\0') {
			char *d = r->diagnostic_smtp
					  ? join_reply(r->diagnostic, c->global)
					  : clean_str(r->diagnostic, c->global);

			put_wrapped(out,
				    r->diagnostic_smtp
					    ? "Diagnostic-Code: smtp; "
					    : "Diagnostic-Code: X-Herald; ",
				    "", true, d);
			free(d);
		}
		if (r->last_attempt != 0)
			put_date_field(out, "Last-Attempt-Date",
				       r->last_attempt);
		if (r->action == DSN_ACTION_DELAYED && r->retry_until != 0)
			put_date_field(out, "Will-Retry-Until", r->retry_until);
	}
}

size_t
dsn_build(const struct dsn_report *rep, const struct dsn_build_settings *set,
	  const uint8_t *orig, size_t orig_len, struct buf *out)
{
	const struct dsn_rcpt **rcpts;
	struct text_ctx c = { .rep = rep, .set = set };
	struct buf text, status, boundary, msgid;
	enum dsn_action main;
	size_t hend, ret_len;
	bool text8, status8, orig8, orig_hdr8;
	const char *ret_type;
	char id[LOG_ID_LEN + 1];
	size_t n = 0;

	if (orig == NULL)
		orig_len = 0;
	rcpts = xcalloc(rep->n_rcpts + 1, sizeof(*rcpts));
	for (size_t i = 0; i < rep->n_rcpts; i++) {
		if (dsn_notify_wants(rep->rcpts[i].notify,
				     rep->rcpts[i].action))
			rcpts[n++] = &rep->rcpts[i];
	}
	if (n == 0) {
		free(rcpts);
		return 0;
	}
	c.rcpts = rcpts;
	c.n = n;
	/* A UTF-8 address can only be written in the global report (RFC
	 * 6533); the report goes to its sender over SMTPUTF8 then. */
	c.global = has_non_ascii(rep->env_from);
	for (size_t i = 0; i < n; i++)
		c.global |= has_non_ascii(rcpts[i]->address) ||
			    has_non_ascii(rcpts[i]->orcpt);
	main = main_action(rcpts, n);

	/* What is returned (RFC 3461 4.3): the whole message for a failure
	 * unless RET=HDRS or it is larger than the limit; only the header
	 * with a delay or success report. */
	hend = header_end(orig, orig_len);
	if (main == DSN_ACTION_FAILED &&
	    (rep->dsn_ret == NULL || strcasecmp(rep->dsn_ret, "HDRS") != 0) &&
	    orig_len == rep->size && rep->size <= set->return_size_max &&
	    orig_len > 0)
		c.whole = true;
	ret_len = c.whole ? orig_len : header_cut(orig, hend, set->headers_max);
	/* the report must stay a valid message whatever was queued */
	if (c.whole && !is_clean(orig, ret_len)) {
		c.whole = false;
		ret_len = header_cut(orig, hend, set->headers_max);
	}
	if (!is_clean(orig, ret_len))
		ret_len = 0;
	c.returned = ret_len > 0;
	orig_hdr8 = bytes_have_8bit(orig, header_cut(orig, hend,
						    set->headers_max));
	orig8 = bytes_have_8bit(orig, ret_len);

	buf_init(&text);
	buf_init(&status);
	build_text(&c, main, &text);
	build_status(&c, &status);
	text8 = bytes_have_8bit((const uint8_t *)text.data, text.len);
	status8 = bytes_have_8bit((const uint8_t *)status.data, status.len);

	buf_init(&msgid);
	log_new_id(id);
	if (set->message_id != NULL)
		buf_puts(&msgid, set->message_id);
	else
		buf_printf(&msgid, "%s.%lld.dsn@%s", id, (long long)set->now,
			   set->hostname);
	/* The returned message must not hold the boundary line; an id
	 * made now makes that unlikely, the check makes it impossible. */
	buf_init(&boundary);
	buf_printf(&boundary, "=_herald_dsn_%s_%lld", id, (long long)set->now);
	while (contains(orig, ret_len, boundary.data) ||
	       contains((const uint8_t *)text.data, text.len, boundary.data) ||
	       contains((const uint8_t *)status.data, status.len,
			boundary.data))
		buf_putc(&boundary, '=');

	buf_puts(out, "From: \"Mail Delivery System\" <MAILER-DAEMON@");
	buf_puts(out, set->hostname);
	buf_puts(out, ">\r\n");
	{
		char *to = clean_str(rep->env_from, c.global);

		buf_printf(out, "To: <%s>\r\n", to);
		free(to);
	}
	buf_printf(out, "Subject: %s\r\n", subject_for(main));
	put_date_field(out, "Date", set->now);
	buf_printf(out, "Message-ID: <%s>\r\n", msgid.data);
	/* RFC 3834 5: an automatic response; RFC 3464 has no header of its
	 * own to stop loops, the null sender does that */
	buf_puts(out, "Auto-Submitted: auto-replied\r\n");
	buf_puts(out, "MIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/report; report-type=%s;\r\n"
			"\tboundary=\"%s\"\r\n",
		   c.global ? "global-delivery-status" : "delivery-status",
		   boundary.data);
	buf_printf(out, "Content-Transfer-Encoding: %s\r\n",
		   text8 || status8 || orig8 ? "8bit" : "7bit");
	buf_puts(out, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	buf_printf(out, "--%s\r\n", boundary.data);
	buf_puts(out, "Content-Description: Notification\r\n");
	buf_printf(out, "Content-Type: text/plain; charset=%s\r\n",
		   text8 ? "utf-8" : "us-ascii");
	buf_printf(out, "Content-Transfer-Encoding: %s\r\n\r\n",
		   text8 ? "8bit" : "7bit");
	buf_append(out, text.data, text.len);

	buf_printf(out, "--%s\r\n", boundary.data);
	buf_puts(out, "Content-Description: Delivery report\r\n");
	buf_printf(out, "Content-Type: message/%s\r\n",
		   c.global ? "global-delivery-status" : "delivery-status");
	if (status8)
		buf_puts(out, "Content-Transfer-Encoding: 8bit\r\n");
	buf_puts(out, "\r\n");
	buf_append(out, status.data, status.len);

	if (ret_len > 0) {
		/* RFC 6532 3.7, RFC 6533 6.3: a header with UTF-8 goes as
		 * message/global(-headers) when the message came with
		 * SMTPUTF8 or the report is global anyway */
		bool g = orig_hdr8 && (c.global || rep->smtputf8);

		if (c.whole)
			ret_type = g ? "message/global" : "message/rfc822";
		else
			ret_type = g ? "message/global-headers"
				     : "text/rfc822-headers";
		buf_printf(out, "\r\n--%s\r\n", boundary.data);
		buf_printf(out, "Content-Description: %s\r\n",
			   c.whole ? "Undelivered Message"
			   : main == DSN_ACTION_FAILED
				   ? "Undelivered Message Headers"
				   : "Message Headers");
		buf_printf(out, "Content-Type: %s\r\n", ret_type);
		if (orig8)
			buf_puts(out, "Content-Transfer-Encoding: 8bit\r\n");
		buf_puts(out, "\r\n");
		buf_append(out, orig, ret_len);
		if (orig[ret_len - 1] != '\n')
			buf_puts(out, "\r\n");
	}
	buf_printf(out, "\r\n--%s--\r\n", boundary.data);

	buf_deinit(&boundary);
	buf_deinit(&msgid);
	buf_deinit(&status);
	buf_deinit(&text);
	free(rcpts);
	return n;
}
