/* SPDX-License-Identifier: MIT */
/*
 * The reply reader, enhanced status codes and ESMTP keywords; see
 * smtp-reply.h. Every byte a remote server sends passes through
 * smtp_reply_parser_feed(), so it keeps one line buffer bounded by
 * limits.line_max and at most limits.lines_max lines.
 */
#include "smtp/smtp-reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/mem.h"

void
smtp_reply_init(struct smtp_reply *reply)
{
	memset(reply, 0, sizeof(*reply));
}

void
smtp_reply_deinit(struct smtp_reply *reply)
{
	free(reply->text);
	memset(reply, 0, sizeof(*reply));
}

void
smtp_reply_copy(struct smtp_reply *dst, const struct smtp_reply *src)
{
	if (dst == src)
		return;
	free(dst->text);
	*dst = *src;
	dst->text = src->text != NULL ? xstrdup(src->text) : NULL;
}

void
smtp_reply_set(struct smtp_reply *reply, unsigned code, const char *enhanced,
	       const char *fmt, ...)
{
	va_list ap;

	free(reply->text);
	memset(reply, 0, sizeof(*reply));
	reply->code = code;
	if (enhanced != NULL)
		snprintf(reply->enhanced, sizeof(reply->enhanced), "%s",
			 enhanced);
	va_start(ap, fmt);
	reply->text = xvasprintf(fmt, ap);
	va_end(ap);
	reply->n_lines = 1;
}

void
smtp_reply_append_line(const struct smtp_reply *reply, struct buf *out)
{
	const char *t = reply->text != NULL ? reply->text : "";

	buf_printf(out, "%03u", reply->code);
	if (reply->enhanced[0] != '\0')
		buf_printf(out, " %s", reply->enhanced);
	if (*t != '\0')
		buf_putc(out, ' ');
	for (; *t != '\0'; t++)
		buf_putc(out, *t == '\n' ? ' ' : *t);
}

bool
smtp_enhanced_code_scan(const char *s, size_t len, size_t *code_len_r)
{
	size_t i = 0, n;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return false;
	i = 2;
	for (int part = 0; part < 2; part++) {
		for (n = 0; i < len && n < 4 && s[i] >= '0' && s[i] <= '9';
		     i++, n++)
			;
		if (n == 0 || n > 3)
			return false;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return false;
	*code_len_r = i;
	return true;
}

/* ---- the reader ------------------------------------------------------- */

struct smtp_reply_parser {
	struct smtp_reply_limits limits;
	struct buf line;	/* the line being read, without LF */
	char **lines;		/* text of each completed line */
	unsigned n_lines;
	unsigned code;
	bool done;
	bool failed;
	bool overlong;		/* line passed line_max: refuse at its LF */
	const char *error;
};

struct smtp_reply_parser *
smtp_reply_parser_new(const struct smtp_reply_limits *limits)
{
	struct smtp_reply_parser *p = xcalloc(1, sizeof(*p));

	if (limits != NULL)
		p->limits = *limits;
	if (p->limits.line_max < 8)
		p->limits.line_max = p->limits.line_max == 0 ?
			SMTP_REPLY_DEFAULT_LINE_MAX : 8;
	if (p->limits.lines_max == 0)
		p->limits.lines_max = SMTP_REPLY_DEFAULT_LINES_MAX;
	buf_init(&p->line);
	p->lines = xcalloc(p->limits.lines_max, sizeof(*p->lines));
	return p;
}

static void
parser_clear_lines(struct smtp_reply_parser *p)
{
	for (unsigned i = 0; i < p->n_lines; i++)
		free(p->lines[i]);
	p->n_lines = 0;
	p->code = 0;
	p->done = false;
}

void
smtp_reply_parser_free(struct smtp_reply_parser **pp)
{
	struct smtp_reply_parser *p = *pp;

	if (p == NULL)
		return;
	parser_clear_lines(p);
	free(p->lines);
	buf_deinit(&p->line);
	xfree(pp);
}

static enum smtp_reply_result
parser_fail(struct smtp_reply_parser *p, const char *error)
{
	p->failed = true;
	p->error = error;
	return SMTP_REPLY_ERROR;
}

/* A complete line (without its LF, a CR before it dropped). */
static enum smtp_reply_result
parser_line(struct smtp_reply_parser *p, const char *s, size_t len)
{
	unsigned code;
	char *text;
	bool last;

	if (len < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9')
		return parser_fail(p, "reply without a valid code");
	code = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 +
		(unsigned)(s[2] - '0');
	if (len > 3 && s[3] != ' ' && s[3] != '-')
		return parser_fail(p, "reply code not followed by space or '-'");
	if (p->n_lines > 0 && code != p->code)
		return parser_fail(p, "reply lines with different codes");
	if (p->n_lines == p->limits.lines_max)
		return parser_fail(p, "too many reply lines");
	last = len == 3 || s[3] == ' ';
	p->code = code;
	text = len > 4 ? xstrndup(s + 4, len - 4) : xstrdup("");
	for (char *c = text; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 && *c != '\t')
			*c = '?';
		else if (*c == 0x7f)
			*c = '?';
	}
	p->lines[p->n_lines++] = text;
	if (last)
		p->done = true;
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_NEED_MORE;
}

enum smtp_reply_result
smtp_reply_parser_feed(struct smtp_reply_parser *p, const uint8_t *data,
		       size_t len, size_t *consumed_r)
{
	size_t i = 0;

	*consumed_r = 0;
	if (p->failed)
		return SMTP_REPLY_ERROR;
	if (p->done)
		return SMTP_REPLY_DONE;
	while (i < len) {
		const uint8_t *lf = memchr(data + i, '\n', len - i);
		size_t take = lf != NULL ? (size_t)(lf - (data + i)) : len - i;
		enum smtp_reply_result r;

		if (memchr(data + i, '\0', take) != NULL) {
			*consumed_r = i + take;
			return parser_fail(p, "NUL in reply");
		}
		if (!p->overlong) {
			if (p->line.len + take + 1 > p->limits.line_max)
				p->overlong = true;
			else
				buf_append(&p->line, data + i, take);
		}
		i += take;
		if (lf == NULL)
			break;
		i++;		/* the LF */
		if (p->overlong) {
			*consumed_r = i;
			return parser_fail(p, "reply line too long");
		}
		if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
			p->line.len--;
		r = parser_line(p, p->line.data, p->line.len);
		buf_truncate(&p->line, 0);
		if (r != SMTP_REPLY_NEED_MORE) {
			*consumed_r = i;
			return r;
		}
	}
	/* a partial line that already passed the cap is refused now, not
	 * when (if ever) its LF arrives: nothing more is stored anyway */
	*consumed_r = i;
	if (p->overlong)
		return parser_fail(p, "reply line too long");
	return SMTP_REPLY_NEED_MORE;
}

void
smtp_reply_parser_take(struct smtp_reply_parser *p, struct smtp_reply *reply_r)
{
	struct buf t;

	if (!p->done)
		panic("smtp_reply_parser_take without a complete reply");
	smtp_reply_deinit(reply_r);
	reply_r->code = p->code;
	reply_r->n_lines = p->n_lines;
	buf_init(&t);
	for (unsigned i = 0; i < p->n_lines; i++) {
		const char *s = p->lines[i];
		size_t n;

		/* RFC 2034: the code starts each line; keep the first one
		 * when its class matches the reply's, strip the repeats */
		if (smtp_enhanced_code_scan(s, strlen(s), &n) &&
		    s[0] == (char)('0' + p->code / 100)) {
			if (i == 0 && n < sizeof(reply_r->enhanced))
				memcpy(reply_r->enhanced, s, n);
			s += n;
			while (*s == ' ')
				s++;
		}
		if (i > 0)
			buf_putc(&t, '\n');
		buf_puts(&t, s);
	}
	reply_r->text = buf_steal(&t);
	buf_deinit(&t);
	parser_clear_lines(p);
}

const char *
smtp_reply_parser_error(const struct smtp_reply_parser *p)
{
	return p->error != NULL ? p->error : "";
}

unsigned
smtp_reply_parser_line_count(const struct smtp_reply_parser *p)
{
	return p->n_lines;
}

const char *
smtp_reply_parser_line(const struct smtp_reply_parser *p, unsigned i)
{
	return i < p->n_lines ? p->lines[i] : "";
}

/* ---- ESMTP keywords ---------------------------------------------------- */

static const struct {
	unsigned bit;
	const char *name;
} smtp_exts[] = {
	{ SMTP_EXT_PIPELINING, "PIPELINING" },
	{ SMTP_EXT_SIZE, "SIZE" },
	{ SMTP_EXT_8BITMIME, "8BITMIME" },
	{ SMTP_EXT_SMTPUTF8, "SMTPUTF8" },
	{ SMTP_EXT_ENHANCEDSTATUSCODES, "ENHANCEDSTATUSCODES" },
	{ SMTP_EXT_CHUNKING, "CHUNKING" },
	{ SMTP_EXT_BINARYMIME, "BINARYMIME" },
	{ SMTP_EXT_STARTTLS, "STARTTLS" },
	{ SMTP_EXT_AUTH, "AUTH" },
	{ SMTP_EXT_DSN, "DSN" },
};

const char *
smtp_ext_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof(smtp_exts) / sizeof(smtp_exts[0]); i++)
		if (smtp_exts[i].bit == bit)
			return smtp_exts[i].name;
	return "";
}

static void
ehlo_auth_mechs(const char *s, struct smtp_ehlo *ehlo)
{
	while (*s != '\0') {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		if (n == 5 && strncasecmp(s, "PLAIN", 5) == 0)
			ehlo->auth_plain = true;
		else if (n == 5 && strncasecmp(s, "LOGIN", 5) == 0)
			ehlo->auth_login = true;
		s += n;
	}
}

void
smtp_ehlo_parse_line(const char *line, struct smtp_ehlo *ehlo)
{
	size_t kw = strcspn(line, " =");
	const char *param = line + kw;

	while (*param == ' ' || *param == '=')
		param++;
	for (size_t i = 0; i < sizeof(smtp_exts) / sizeof(smtp_exts[0]); i++) {
		if (strlen(smtp_exts[i].name) != kw ||
		    strncasecmp(line, smtp_exts[i].name, kw) != 0)
			continue;
		ehlo->ext |= smtp_exts[i].bit;
		if (smtp_exts[i].bit == SMTP_EXT_SIZE) {
			uint64_t v = 0;
			const char *p = param;

			/* a value past 2^63 is as good as no limit */
			for (; *p >= '0' && *p <= '9' && v < (UINT64_MAX / 20);
			     p++)
				v = v * 10 + (uint64_t)(*p - '0');
			ehlo->size_max = v;
		} else if (smtp_exts[i].bit == SMTP_EXT_AUTH) {
			ehlo_auth_mechs(param, ehlo);
		}
		return;
	}
}
