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
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* value as a dot-atom when it is one, else a quoted-string; controls and
 * octets over 0x7e become '?' */
static void
put_value(struct buf *b, const char *value)
{
	bool atom = value[0] != '\0' && value[0] != '.' &&
		    value[strlen(value) - 1] != '.' &&
		    strstr(value, "..") == NULL;

	for (const char *p = value; atom && *p != '\0'; p++)
		atom = is_atext((unsigned char)*p);
	if (atom) {
		buf_puts(b, value);
		return;
	}
	buf_putc(b, '"');
	for (const unsigned char *p = (const void *)value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)*p);
		} else if (*p < ' ' || *p > 0x7e) {
			buf_putc(b, '?');
		} else {
			buf_putc(b, (char)*p);
		}
	}
	buf_putc(b, '"');
}

/* text for a comment: no parentheses, backslashes or controls */
static void
put_comment_text(struct buf *b, const char *s)
{
	for (const unsigned char *p = (const void *)s; *p != '\0'; p++)
		buf_putc(b, *p < ' ' || *p > 0x7e || *p == '(' || *p == ')' ||
			 *p == '\\' ? '?' : (char)*p);
}

char *
spf_received_spf(const struct spf_verdict *v, const char *client_ip,
		 const char *mail_from, const char *helo,
		 const char *receiver)
{
	struct buf b;
	const char *who = v->identity == SPF_ID_HELO ? "helo" : "domain of";

	buf_init(&b);
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
