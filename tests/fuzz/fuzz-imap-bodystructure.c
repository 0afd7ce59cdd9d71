/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: BODYSTRUCTURE and BODY[section] (imap-bodystructure)
 * over any MIME tree. The first octet picks flags and limits; the data up
 * to the first LF is a section, the rest the message. The written body must
 * be well formed (balanced lists, closed quoted strings, exact literals)
 * and a resolved section must lie inside the message. A HEADER.FIELDS(.NOT)
 * list that parses filters the header: the two subsets share no field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-header-fields.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The tokens BODYSTRUCTURE may hold: lists, NIL, numbers, quoted
 * strings and literals, separated by single spaces. */
static void
fz_check_syntax(const char *s, size_t len)
{
	size_t i = 0;
	int depth = 0;

	if (len == 0 || s[0] != '(')
		abort();
	while (i < len) {
		char c = s[i];

		if (c == '(') {
			depth++;
			i++;
		} else if (c == ')') {
			if (--depth < 0)
				abort();
			i++;
		} else if (c == ' ') {
			if (i + 1 >= len || s[i + 1] == ' ' || s[i + 1] == ')')
				abort();
			i++;
		} else if (c == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
					abort();
				if (s[i] == '\\')
					i++;
			}
			if (i >= len)
				abort();
			i++;
		} else if (c == '{') {
			char *end;
			unsigned long n = strtoul(s + i + 1, &end, 10);

			if (end[0] != '}' || end[1] != '\r' || end[2] != '\n')
				abort();
			i = (size_t)(end + 3 - s) + n;
			if (i > len)
				abort();
		} else if (c >= '0' && c <= '9') {
			while (i < len && s[i] >= '0' && s[i] <= '9')
				i++;
		} else if (strncmp(s + i, "NIL", 3) == 0) {
			i += 3;
		} else {
			abort();
		}
		if (depth == 0 && i != len)
			abort();
	}
	if (depth != 0)
		abort();
}

/* HEADER.FIELDS and HEADER.FIELDS.NOT of one list split the header: each
 * field goes to one of them, the empty line (at most CRLF) to both. */
static void
fz_check_fields(const struct imap_section *sec, const uint8_t *msg)
{
	struct imap_header_fields fields;
	const char *error = NULL;
	struct buf in, out;

	if (imap_header_fields_parse(sec->fields, 4, &fields, &error) != 0) {
		if (error == NULL)
			abort();
		return;
	}
	buf_init(&in);
	buf_init(&out);
	imap_header_fields_write(&in, msg + sec->offset, sec->size, &fields,
				 false);
	imap_header_fields_write(&out, msg + sec->offset, sec->size, &fields,
				 true);
	if (in.len > sec->size || out.len > sec->size ||
	    in.len + out.len > sec->size + 2)
		abort();
	buf_deinit(&in);
	buf_deinit(&out);
	imap_header_fields_deinit(&fields);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits limits;
	struct imap_bodystructure_params params = { 0 };

	if (size < 1)
		return 0;
	mime_limits_default(&limits);
	if ((data[0] & 1) != 0) {
		limits.max_depth = 3;
		limits.max_parts = 8;
		limits.max_header_size = 256;
	}
	params.extended = (data[0] & 2) != 0;
	params.utf8 = (data[0] & 4) != 0;
	data++;
	size--;

	const uint8_t *lf = memchr(data, '\n', size);
	size_t sec_len = lf != NULL ? (size_t)(lf - data) : size;
	char *section = xstrndup((const char *)data, sec_len);
	const uint8_t *msg = lf != NULL ? lf + 1 : data + size;
	size_t msg_len = size - (size_t)(msg - data);
	struct mime_part *root = mime_parse(msg, msg_len, &limits);
	struct buf out;

	buf_init(&out);
	imap_bodystructure_write(&out, root, msg, msg_len, &params);
	fz_check_syntax(out.data, out.len);
	buf_deinit(&out);

	struct imap_section sec;
	const char *error = NULL;

	/* strlen: a NUL in the section ends it, as it would the command */
	if (imap_section_resolve(root, section, &sec, &error) ==
	    IMAP_SECTION_OK) {
		if (sec.offset + sec.size > msg_len || sec.part == NULL)
			abort();
		if (sec.kind == IMAP_SECTION_HEADER_FIELDS ||
		    sec.kind == IMAP_SECTION_HEADER_FIELDS_NOT)
			fz_check_fields(&sec, msg);
	} else if (error == NULL) {
		abort();
	}
	free(section);
	mime_part_free(&root);
	return 0;
}
