/* SPDX-License-Identifier: MIT */
/*
 * Dot-stuffing and TOP's line counting over chunks. RETR copies the
 * input in runs between the places that need a change (a line starting
 * with '.', a bare LF), so a 10 KB message costs a handful of copies; TOP
 * goes line by line, as it counts them.
 */
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "pop3/pop3-stuff.h"

void
pop3_stuffer_init(struct pop3_stuffer *s, bool top, uint32_t body_lines)
{
	memset(s, 0, sizeof(*s));
	s->bol = true;
	s->line_empty = true;
	s->top = top;
	s->lines_left = body_lines;
}

bool
pop3_stuffer_is_done(const struct pop3_stuffer *s)
{
	return s->done;
}

/* A line has ended (its LF was just written); advance TOP's state. */
static void
end_of_line(struct pop3_stuffer *s)
{
	if (s->top) {
		if (!s->in_body) {
			if (s->line_empty) {
				s->in_body = true;
				if (s->lines_left == 0)
					s->done = true;
			}
		} else if (--s->lines_left == 0) {
			s->done = true;
		}
	}
	s->bol = true;
	s->line_empty = true;
}

/* RETR: all of in, stuffed, appended in runs. */
static void
feed_retr(struct pop3_stuffer *s, const uint8_t *in, size_t len,
	  struct buf *out)
{
	size_t run = 0, i = 0;
	const uint8_t *lf;

	if (s->bol && in[0] == '.')
		buf_putc(out, '.');
	while ((lf = memchr(in + i, '\n', len - i)) != NULL) {
		size_t p = (size_t)(lf - in);
		bool cr = p > 0 ? in[p - 1] == '\r' : s->prev_cr;

		if (!cr) {
			/* a bare LF (a damaged blob): CRLF on the wire */
			buf_append(out, in + run, p - run);
			buf_putc(out, '\r');
			run = p;
		}
		i = p + 1;
		if (i < len && in[i] == '.') {
			buf_append(out, in + run, i - run);
			buf_putc(out, '.');
			run = i;
		}
	}
	buf_append(out, in + run, len - run);
	s->bol = in[len - 1] == '\n';
	s->prev_cr = in[len - 1] == '\r';
}

size_t
pop3_stuffer_feed(struct pop3_stuffer *s, const uint8_t *in, size_t len,
		  struct buf *out)
{
	size_t i = 0;

	if (s->done)
		return 0;
	buf_reserve(out, len + len / 64 + 8);
	if (!s->top) {
		if (len > 0)
			feed_retr(s, in, len, out);
		return len;
	}
	while (i < len) {
		const uint8_t *lf = memchr(in + i, '\n', len - i);
		size_t end = lf != NULL ? (size_t)(lf - in) : len;
		size_t j;

		if (s->bol && end > i && in[i] == '.')
			buf_putc(out, '.');
		if (end > i) {
			buf_append(out, in + i, end - i);
			s->bol = false;
			for (j = i; j < end && s->line_empty; j++)
				if (in[j] != '\r')
					s->line_empty = false;
			s->prev_cr = in[end - 1] == '\r';
		}
		if (lf == NULL)
			return len;
		if (!s->prev_cr)
			buf_putc(out, '\r');
		buf_putc(out, '\n');
		s->prev_cr = false;
		i = end + 1;
		end_of_line(s);
		if (s->done)
			return i;
	}
	return len;
}

void
pop3_stuffer_finish(struct pop3_stuffer *s, struct buf *out)
{
	if (!s->bol) {
		/* the message did not end with CRLF: end the line for it */
		if (!s->prev_cr)
			buf_putc(out, '\r');
		buf_putc(out, '\n');
		s->bol = true;
	}
	buf_append(out, ".\r\n", 3);
}

void
pop3_uidl_format(uint32_t uidvalidity, uint32_t uid, char out[POP3_UIDL_SIZE])
{
	snprintf(out, POP3_UIDL_SIZE, "%08X%08X", (unsigned)uid,
		 (unsigned)uidvalidity);
}
