/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the SMTP client's reply reader and EHLO keyword
 * reader on arbitrary bytes, as a remote server might send them. The
 * first byte picks the limits; the stream is fed whole and octet by octet
 * and must give the same replies. Every reply has a code of 200..599, at
 * most lines_max lines, an enhanced code of its own class or none, and a
 * text without control characters other than TAB and the line breaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp-data.h"
#include "smtp/smtp-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(const struct smtp_reply *r, unsigned lines_max)
{
	if (r->code < 200 || r->code > 599 || r->n_lines == 0 ||
	    r->n_lines > lines_max || r->text == NULL)
		abort();
	if (r->enhanced[0] != '\0' && r->enhanced[0] != (char)('0' + r->code / 100))
		abort();
	for (const char *p = r->text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n')
			abort();
}

static void
run(const uint8_t *data, size_t size, const struct smtp_reply_limits *l,
    size_t step, struct buf *events)
{
	struct smtp_reply_parser *p = smtp_reply_parser_new(l);
	size_t pos = 0, avail = 0;

	while (pos < size) {
		size_t used;
		enum smtp_reply_result r;

		/* offer what has "arrived" so far: step octets more each turn */
		if (avail < size)
			avail = size - avail < step ? size : avail + step;
		r = smtp_reply_parser_feed(p, data + pos, avail - pos, &used);
		if (used > avail - pos)
			abort();
		pos += used;
		if (r == SMTP_REPLY_ERROR) {
			buf_puts(events, "E|");
			break;
		}
		if (r == SMTP_REPLY_DONE) {
			struct smtp_reply reply;
			struct smtp_ehlo ehlo;

			memset(&ehlo, 0, sizeof(ehlo));
			for (unsigned i = 1;
			     i < smtp_reply_parser_line_count(p); i++)
				smtp_ehlo_parse_line(
					smtp_reply_parser_line(p, i), &ehlo);
			smtp_reply_init(&reply);
			smtp_reply_parser_take(p, &reply);
			check_reply(&reply, l->lines_max);
			buf_printf(events, "%u %s %s %x|", reply.code,
				   reply.enhanced, reply.text, ehlo.ext);
			smtp_reply_deinit(&reply);
		} else if (avail == size) {
			break;
		}
	}
	smtp_reply_parser_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply_limits l;
	struct buf whole, octets;
	struct smtp_data_encoder enc;
	struct buf enc_out;

	if (size == 0)
		return 0;
	l.line_max = 8 + (size_t)(data[0] & 0x3f) * 8;
	l.lines_max = 1 + (unsigned)(data[0] >> 6) * 3;
	data++;
	size--;
	buf_init(&whole);
	buf_init(&octets);
	run(data, size, &l, size, &whole);
	run(data, size, &l, 1, &octets);
	if (whole.len != octets.len ||
	    memcmp(whole.data, octets.data, whole.len) != 0)
		abort();
	buf_deinit(&whole);
	buf_deinit(&octets);

	/* the same bytes as a message to send: CR and LF only as CRLF */
	smtp_data_encoder_init(&enc, true);
	buf_init(&enc_out);
	smtp_data_encode(&enc, data, size, &enc_out);
	smtp_data_encode_finish(&enc, &enc_out);
	for (size_t i = 0; i < enc_out.len; i++) {
		if (enc_out.data[i] == '\r' &&
		    (i + 1 == enc_out.len || enc_out.data[i + 1] != '\n'))
			abort();
		if (enc_out.data[i] == '\n' && (i == 0 ||
						enc_out.data[i - 1] != '\r'))
			abort();
	}
	buf_deinit(&enc_out);
	return 0;
}
