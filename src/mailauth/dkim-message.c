/* SPDX-License-Identifier: MIT */
/*
 * The message as DKIM reads it: the header kept (up to a limit) and split
 * into fields, the body passed through in pieces. A bare LF is read as
 * CRLF everywhere, as other verifiers do with messages from files.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "mailauth/dkim-private.h"
#include "mailauth/dkim.h"

void
dkim_msg_init(struct dkim_msg *m, size_t header_max,
	      dkim_msg_header_cb_t *on_header, dkim_msg_body_cb_t *on_body,
	      void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->header_max = header_max;
	buf_init(&m->header);
	m->line_empty = true;
	m->on_header = on_header;
	m->on_body = on_body;
	m->ctx = ctx;
}

/* Buffers a reset keeps for the next message: a usual header's, not
 * the rare big one's (a session would hold it until it ends). */
#define KEEP_HEADER_CAP (64 * 1024)
#define KEEP_FIELDS_CAP 256

void
dkim_msg_reset(struct dkim_msg *m, size_t header_max)
{
	struct buf header = m->header;
	struct dkim_field *fields = m->fields;
	size_t cap_fields = m->cap_fields;
	dkim_msg_header_cb_t *on_header = m->on_header;
	dkim_msg_body_cb_t *on_body = m->on_body;
	void *ctx = m->ctx;

	if (header.cap > KEEP_HEADER_CAP) {
		buf_deinit(&header);
		buf_init(&header);
	}
	buf_reset(&header);
	if (cap_fields > KEEP_FIELDS_CAP) {
		free(fields);
		fields = NULL;
		cap_fields = 0;
	}
	/* as dkim_msg_init(), but with the kept buffers */
	memset(m, 0, sizeof(*m));
	m->header_max = header_max;
	m->header = header;
	m->fields = fields;
	m->cap_fields = cap_fields;
	m->line_empty = true;
	m->on_header = on_header;
	m->on_body = on_body;
	m->ctx = ctx;
}

void
dkim_msg_deinit(struct dkim_msg *m)
{
	buf_deinit(&m->header);
	free(m->fields);
	m->fields = NULL;
	m->n_fields = 0;
	m->cap_fields = 0;
}

static void
split_fields(struct dkim_msg *m)
{
	const char *h = m->header.data;
	size_t len = m->header.len, pos = 0;

	while (pos < len) {
		size_t start = pos, end;
		const char *colon;
		struct dkim_field *f;

		/* a field runs to a CRLF not followed by WSP */
		for (;;) {
			const char *lf = memchr(h + pos, '\n', len - pos);

			end = lf != NULL ? (size_t)(lf - h) + 1 : len;
			pos = end;
			if (pos >= len || (h[pos] != ' ' && h[pos] != '\t'))
				break;
		}
		if (end >= 2 && h[end - 1] == '\n' && h[end - 2] == '\r')
			end -= 2;
		/* doubling: one allocation per field was a measurable
		 * part of the per-message cost of the inbound checks */
		if (m->n_fields == m->cap_fields) {
			m->cap_fields = m->cap_fields == 0
					? 32 : m->cap_fields * 2;
			m->fields = xreallocarray(m->fields, m->cap_fields,
						  sizeof(*m->fields));
		}
		f = &m->fields[m->n_fields++];
		f->start = start;
		f->len = end - start;
		f->used = false;
		colon = memchr(h + start, ':', end - start);
		f->name_len = colon != NULL ? (size_t)(colon - (h + start)) : 0;
		/* "Subject :" (obsolete syntax): the name without the WSP */
		while (f->name_len > 0 && (h[start + f->name_len - 1] == ' ' ||
					   h[start + f->name_len - 1] == '\t'))
			f->name_len--;
	}
}

static void
header_end(struct dkim_msg *m)
{
	m->header_done = true;
	if (!m->header_too_big && !m->no_copy)
		split_fields(m);
	if (m->on_header != NULL)
		m->on_header(m->ctx);
}

/* The body with bare LFs turned into CRLF. */
static void
body_feed(struct dkim_msg *m, const uint8_t *data, size_t len)
{
	static const uint8_t crlf[2] = { '\r', '\n' };
	const uint8_t *nl;
	size_t start = 0, i = 0;

	while (i < len && (nl = memchr(data + i, '\n', len - i)) != NULL) {
		i = (size_t)(nl - data);
		if (!(i > 0 ? data[i - 1] == '\r' : m->cr)) {
			if (i > start)
				m->on_body(data + start, i - start, m->ctx);
			m->on_body(crlf, 2, m->ctx);
			start = i + 1;
		}
		i++;
	}
	if (len > start)
		m->on_body(data + start, len - start, m->ctx);
	if (len > 0)
		m->cr = data[len - 1] == '\r';
}

static void
header_put(struct dkim_msg *m, char c)
{
	if (m->header_too_big || m->no_copy)
		return;
	if (m->header.len + 2 > m->header_max) {
		m->header_too_big = true;
		return;
	}
	buf_putc(&m->header, c);
}

/* header_put() for n octets at once: the same octets kept and the same
 * point where the header is found too big. */
static void
header_put_n(struct dkim_msg *m, const uint8_t *data, size_t n)
{
	size_t room;

	if (m->header_too_big || m->no_copy)
		return;
	room = m->header_max > m->header.len + 1
	       ? m->header_max - m->header.len - 1 : 0;
	if (n > room) {
		buf_append(&m->header, data, room);
		m->header_too_big = true;
		return;
	}
	buf_append(&m->header, data, n);
}

void
dkim_msg_feed(struct dkim_msg *m, const uint8_t *data, size_t len)
{
	size_t i = 0;

	if (m->header_done) {
		if (!m->skip_body)
			body_feed(m, data, len);
		return;
	}
	for (; i < len && !m->header_done; i++) {
		uint8_t c = data[i];

		if (!m->line_empty && c != '\n') {
			/* inside a line with content: the octets up to the
			 * LF are kept as they are, in one copy (octet by
			 * octet this loop was the checks' costliest part of
			 * header handling) */
			const uint8_t *lf = memchr(data + i, '\n', len - i);
			size_t n = (lf != NULL ? (size_t)(lf - data) : len) - i;

			header_put_n(m, data + i, n);
			m->cr = data[i + n - 1] == '\r';
			i += n - 1;
			continue;
		}

		if (c == '\n') {
			bool empty = m->line_empty;

			if (!m->cr)
				header_put(m, '\r');
			header_put(m, '\n');
			m->cr = false;
			m->line_empty = true;
			if (empty) {
				/* the blank line is not part of the header */
				if (!m->header_too_big && !m->no_copy)
					buf_truncate(&m->header,
						     m->header.len - 2);
				header_end(m);
			}
			continue;
		}
		if (m->cr) {
			/* a bare CR in the header: kept as it is */
			m->line_empty = false;
		}
		m->cr = c == '\r';
		if (c != '\r')
			m->line_empty = false;
		header_put(m, (char)c);
	}
	if (i < len && !m->skip_body) {
		m->cr = false;
		body_feed(m, data + i, len - i);
	}
}

void
dkim_msg_finish(struct dkim_msg *m)
{
	if (!m->header_done) {
		/* no empty line: all header, no body; a last line without
		 * its CRLF still ends a field */
		if (m->cr && !m->header_too_big && !m->no_copy)
			buf_putc(&m->header, '\n');
		header_end(m);
	}
}

bool
dkim_msg_field_is(const struct dkim_msg *m, const struct dkim_field *f,
		  const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n &&
	       strncasecmp(m->header.data + f->start, name, n) == 0;
}

const char *
dkim_msg_field_value(const struct dkim_msg *m, const struct dkim_field *f,
		     size_t *len_r)
{
	const char *s = m->header.data + f->start;
	const char *colon = memchr(s, ':', f->len);

	if (colon == NULL) {
		*len_r = 0;
		return s + f->len;
	}
	*len_r = f->len - (size_t)(colon + 1 - s);
	return colon + 1;
}

void
dkim_msg_hash_headers(struct dkim_msg *m, char *const *names, size_t n_names,
		      int canon, struct buf *out)
{
	for (size_t i = 0; i < m->n_fields; i++)
		m->fields[i].used = false;
	for (size_t i = 0; i < n_names; i++) {
		for (size_t j = m->n_fields; j > 0; j--) {
			struct dkim_field *f = &m->fields[j - 1];

			if (f->used || !dkim_msg_field_is(m, f, names[i]))
				continue;
			f->used = true;
			dkim_header_canon((enum dkim_canon)canon,
					  m->header.data + f->start, f->len,
					  out);
			buf_puts(out, "\r\n");
			break;
		}
	}
}
