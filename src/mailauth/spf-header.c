/* SPDX-License-Identifier: MIT */
/*
 * An SPF verdict as header text: the Received-SPF field (RFC 7208 9.1)
 * and the spf method of Authentication-Results (RFC 8601 2.7.2). Values
 * from the peer (sender, HELO) are quoted and stripped of controls so a
 * client cannot add fields or lines.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mailauth/spf.h"

/* RFC 5322 atext, and '.' for a dot-atom */
static bool
is_atext(unsigned char c)
{
	static const bool special[128] = {
		['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true,
		['&'] = true, ['\''] = true, ['*'] = true, ['+'] = true,
		['-'] = true, ['/'] = true, ['='] = true, ['?'] = true,
		['^'] = true, ['_'] = true, ['`'] = true, ['{'] = true,
		['|'] = true, ['}'] = true, ['~'] = true, ['.'] = true,
	};

	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c < 128 && special[c]);
}

/* Octets that go into a quoted-string as they are. */
static bool
is_qtext(unsigned char c)
{
	return c >= ' ' && c <= 0x7e && c != '"' && c != '\\';
}

/* value as a dot-atom when it is one, else a quoted-string; controls and
 * octets over 0x7e become '?'. Runs of plain octets go out in one copy:
 * this is built for every checked message. */
static void
put_value(struct buf *b, const char *value)
{
	size_t len = strlen(value);
	bool atom = len > 0 && value[0] != '.' && value[len - 1] != '.';

	for (size_t i = 0; atom && i < len; i++) {
		atom = is_atext((unsigned char)value[i]) &&
		       (value[i] != '.' || value[i + 1] != '.');
	}
	if (atom) {
		buf_append(b, value, len);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < len;) {
		size_t run = i;
		unsigned char c;

		while (run < len && is_qtext((unsigned char)value[run]))
			run++;
		buf_append(b, value + i, run - i);
		if (run == len)
			break;
		c = (unsigned char)value[run];
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else {
			buf_putc(b, '?');
		}
		i = run + 1;
	}
	buf_putc(b, '"');
}

/* text for a comment: no parentheses, backslashes or controls */
static void
put_comment_text(struct buf *b, const char *s)
{
	for (;;) {
		const char *run = s;

		while ((unsigned char)*run >= ' ' && (unsigned char)*run <= 0x7e &&
		       *run != '(' && *run != ')' && *run != '\\')
			run++;
		buf_append(b, s, (size_t)(run - s));
		if (*run == '\0')
			return;
		buf_putc(b, '?');
		s = run + 1;
	}
}

char *
spf_received_spf(const struct spf_verdict *v, const char *client_ip,
		 const char *mail_from, const char *helo,
		 const char *receiver)
{
	struct buf b;
	const char *who = v->identity == SPF_ID_HELO ? "helo" : "domain of";

	/* the usual field in one allocation */
	buf_init_size(&b, 320);
	buf_puts(&b, spf_result_name(v->result));
	buf_puts(&b, " (");
	put_comment_text(&b, receiver);
	buf_puts(&b, ": ");
	switch (v->result) {
	case SPF_PASS:
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		buf_puts(&b, who);
		buf_putc(&b, ' ');
		put_comment_text(&b, v->identity == SPF_ID_HELO ||
				 mail_from == NULL || mail_from[0] == '\0' ?
				 v->domain : mail_from);
		buf_puts(&b, v->result == SPF_PASS ? " designates " :
			 v->result == SPF_NEUTRAL ? " neither permits nor "
			 "denies " : " does not designate ");
		put_comment_text(&b, client_ip);
		buf_puts(&b, v->result == SPF_NEUTRAL ? "" :
			 " as permitted sender");
		break;
	default:
		put_comment_text(&b, v->problem != NULL ? v->problem :
				 spf_result_name(v->result));
		break;
	}
	buf_puts(&b, ") client-ip=");
	put_value(&b, client_ip);
	buf_puts(&b, "; envelope-from=");
	put_value(&b, mail_from != NULL ? mail_from : "");
	buf_puts(&b, "; helo=");
	put_value(&b, helo != NULL ? helo : "");
	buf_puts(&b, "; receiver=");
	put_value(&b, receiver);
	buf_puts(&b, "; identity=");
	buf_puts(&b, v->identity == SPF_ID_HELO ? "helo" : "mailfrom");
	if (v->mechanism != NULL) {
		buf_puts(&b, "; mechanism=");
		put_value(&b, v->mechanism);
	}
	if (v->problem != NULL && (v->result == SPF_TEMPERROR ||
				   v->result == SPF_PERMERROR)) {
		buf_puts(&b, "; problem=");
		put_value(&b, v->problem);
	}
	return buf_steal(&b);
}

char *
spf_auth_results(const struct spf_verdict *v)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "spf=");
	buf_puts(&b, spf_result_name(v->result));
	buf_puts(&b, v->identity == SPF_ID_HELO ? " smtp.helo=" :
		 " smtp.mailfrom=");
	put_value(&b, v->domain != NULL ? v->domain : "");
	return buf_steal(&b);
}
