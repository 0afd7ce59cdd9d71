/* SPDX-License-Identifier: MIT */
/*
 * BODY and BODYSTRUCTURE from the MIME tree, following the formal syntax
 * of RFC 9051 section 9 (body, body-type-1part, body-type-mpart,
 * body-fields, body-ext-*), and BODY[section] numbering (RFC 9051 6.4.5)
 * resolved to offsets into the stored message.
 */
#include "imap/imap-bodystructure.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "imap/imap-write.h"
#include "lib/mem.h"

/* nstring per imap-write's rules (quoted, or a literal for CR, LF,
 * long values, or 8-bit text without UTF8=ACCEPT that is not UTF-8;
 * UTF-8 is encoded words then, see write_flags()). */
static void
write_nstring(struct buf *out, const char *s, unsigned int flags)
{
	imap_write_nstring(out, s, s != NULL ? strlen(s) : 0, flags);
}

/* A quoted string in upper case; the callers pass tokens (types,
 * encodings, parameter names), which mail/mime keeps in ASCII lower
 * case, but anything else still goes out valid. */
static void
write_upper(struct buf *out, const char *s, unsigned int wf)
{
	char *up = xstrdup(s);

	for (char *p = up; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
	write_nstring(out, up, wf);
	free(up);
}

static void
write_params(struct buf *out, const struct mime_param *params,
	     unsigned int count, unsigned int wf)
{
	if (count == 0) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (unsigned int i = 0; i < count; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		write_upper(out, params[i].name, wf);
		buf_putc(out, ' ');
		/* body-fld-param values are strings, never NIL */
		write_nstring(out, params[i].value != NULL ?
						 params[i].value : "", wf);
	}
	buf_putc(out, ')');
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc: written in full, since
 * the Gmail apps misrender attachments without them (CLIENT-QUIRKS). */
static void
write_dsp_lang_loc(struct buf *out, const struct mime_part *part,
		   unsigned int wf)
{
	if (part->disposition == NULL) {
		buf_puts(out, "NIL");
	} else {
		buf_putc(out, '(');
		write_upper(out, part->disposition, wf);
		buf_putc(out, ' ');
		write_params(out, part->disposition_params,
			     part->disposition_param_count, wf);
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	if (part->language_count == 0) {
		buf_puts(out, "NIL");
	} else if (part->language_count == 1) {
		write_nstring(out, part->languages[0], wf);
	} else {
		buf_putc(out, '(');
		for (unsigned int i = 0; i < part->language_count; i++) {
			if (i > 0)
				buf_putc(out, ' ');
			write_nstring(out,
							 part->languages[i],
							 wf);
		}
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	write_nstring(out, part->location, wf);
}

static bool
part_is_multipart(const struct mime_part *part)
{
	return strcmp(part->type, "multipart") == 0;
}

static bool
part_is_message(const struct mime_part *part)
{
	return strcmp(part->type, "message") == 0 &&
		(strcmp(part->subtype, "rfc822") == 0 ||
		 strcmp(part->subtype, "global") == 0);
}

/* The imap_write_flags of the strings. */
static unsigned int
write_flags(const struct imap_bodystructure_params *params)
{
	if (params->utf8)
		return IMAP_WRITE_UTF8;
	return params->downgrade ? IMAP_WRITE_DOWNGRADE : 0;
}

static void
write_empty_envelope(struct buf *out)
{
	buf_puts(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void write_body(struct buf *out, const struct mime_part *part,
		       const uint8_t *msg_data, size_t msg_size,
		       const struct imap_bodystructure_params *params);

static void
write_1part(struct buf *out, const struct mime_part *part,
	    const uint8_t *msg_data, size_t msg_size,
	    const struct imap_bodystructure_params *params)
{
	unsigned int wf = write_flags(params);
	bool message = part_is_message(part) && part->children != NULL;
	bool text = strcmp(part->type, "text") == 0;
	/* a legacy session's grammar has message/rfc822 only */
	bool basic_global = params->downgrade && !params->utf8 &&
		strcmp(part->type, "message") == 0 &&
		strcmp(part->subtype, "global") == 0;

	if (basic_global)
		message = false;
	buf_putc(out, '(');
	if (message || basic_global ||
	    (!part_is_multipart(part) && !part_is_message(part))) {
		write_upper(out, part->type, wf);
		buf_putc(out, ' ');
		write_upper(out, part->subtype, wf);
	} else {
		/* a multipart without parts or a message without its
		 * message: the grammar has no form for either */
		buf_puts(out, "\"APPLICATION\" \"OCTET-STREAM\"");
	}
	/* body-fields */
	buf_putc(out, ' ');
	write_params(out, part->params, part->param_count, wf);
	buf_putc(out, ' ');
	write_nstring(out, part->id, wf);
	buf_putc(out, ' ');
	write_nstring(out, part->description, wf);
	buf_putc(out, ' ');
	write_upper(out, part->encoding != NULL ? part->encoding : "7bit",
		    wf);
	buf_printf(out, " %llu", (unsigned long long)part->body_size);

	if (message) {
		const struct mime_part *inner = part->children;

		buf_putc(out, ' ');
		if (params->envelope != NULL)
			params->envelope(out, inner, msg_data, msg_size,
					 params->envelope_context);
		else
			write_empty_envelope(out);
		buf_putc(out, ' ');
		write_body(out, inner, msg_data, msg_size, params);
	}
	if (message || text)
		buf_printf(out, " %llu", (unsigned long long)part->body_lines);

	if (params->extended) {
		/* body-ext-1part */
		buf_putc(out, ' ');
		write_nstring(out, part->md5, wf);
		buf_putc(out, ' ');
		write_dsp_lang_loc(out, part, wf);
	}
	buf_putc(out, ')');
}

static void
write_body(struct buf *out, const struct mime_part *part,
	   const uint8_t *msg_data, size_t msg_size,
	   const struct imap_bodystructure_params *params)
{
	if (!part_is_multipart(part) || part->children == NULL) {
		write_1part(out, part, msg_data, msg_size, params);
		return;
	}
	/* body-type-mpart: 1*body SP media-subtype [SP body-ext-mpart] */
	buf_putc(out, '(');
	for (const struct mime_part *c = part->children; c != NULL;
	     c = c->next)
		write_body(out, c, msg_data, msg_size, params);
	buf_putc(out, ' ');
	write_upper(out, part->subtype, write_flags(params));
	if (params->extended) {
		buf_putc(out, ' ');
		write_params(out, part->params, part->param_count,
			     write_flags(params));
		buf_putc(out, ' ');
		write_dsp_lang_loc(out, part, write_flags(params));
	}
	buf_putc(out, ')');
}

void
imap_bodystructure_write(struct buf *out, const struct mime_part *root,
			 const uint8_t *msg_data, size_t msg_size,
			 const struct imap_bodystructure_params *params)
{
	write_body(out, root, msg_data, msg_size, params);
}

/* nz-number (RFC 9051 9): no leading zero, at most 4294967295. Returns
 * the characters read, 0 if none form one. */
static size_t
parse_nz_number(const char *s, uint32_t *num_r)
{
	uint64_t n = 0;
	size_t i = 0;

	if (s[0] < '1' || s[0] > '9')
		return 0;
	while (s[i] >= '0' && s[i] <= '9') {
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > UINT32_MAX)
			return 0;
		i++;
	}
	*num_r = (uint32_t)n;
	return i;
}

/* The parts a number counts after part (RFC 9051 6.4.5): a multipart's
 * children; the message inside a message/rfc822 part, which, when it is
 * not multipart, has only part 1, itself. */
static const struct mime_part *
select_number(const struct mime_part *container, bool is_message,
	      uint32_t num)
{
	if (part_is_multipart(container) && container->children != NULL) {
		const struct mime_part *c = container->children;

		for (uint32_t i = 1; c != NULL && i < num; i++)
			c = c->next;
		return c;
	}
	if (is_message && num == 1)
		return container;
	return NULL;
}

static void
set_range(struct imap_section *section_r, bool header,
	  const struct mime_part *p)
{
	if (header) {
		section_r->offset = p->header_offset;
		section_r->size = p->header_size;
	} else {
		section_r->offset = p->body_offset;
		section_r->size = p->body_size;
	}
}

enum imap_section_result
imap_section_resolve(const struct mime_part *root, const char *section,
		     struct imap_section *section_r, const char **error_r)
{
	const struct mime_part *container = root, *part = root;
	bool is_message = true, numbered = false;
	bool missing = false;
	const char *s = section;

	memset(section_r, 0, sizeof(*section_r));
	/* numbers first; a missing part is only reported once the whole
	 * section is known to be well formed (BAD wins over NIL) */
	while (*s >= '0' && *s <= '9') {
		uint32_t num;
		size_t n = parse_nz_number(s, &num);

		if (n == 0) {
			*error_r = "Invalid part number in section";
			return IMAP_SECTION_BAD;
		}
		s += n;
		numbered = true;
		if (!missing) {
			part = select_number(container, is_message, num);
			if (part == NULL) {
				missing = true;
			} else if (part_is_message(part) &&
				   part->children != NULL) {
				container = part->children;
				is_message = true;
			} else {
				container = part;
				is_message = false;
			}
		}
		if (*s == '\0')
			break;
		if (*s != '.') {
			*error_r = "Invalid section";
			return IMAP_SECTION_BAD;
		}
		s++;
		if (*s == '\0') {
			*error_r = "Section ends with a dot";
			return IMAP_SECTION_BAD;
		}
	}

	enum imap_section_kind kind;
	const char *fields = NULL;

	if (*s == '\0' && (numbered || s == section)) {
		kind = IMAP_SECTION_FULL;
	} else if (strcasecmp(s, "HEADER") == 0) {
		kind = IMAP_SECTION_HEADER;
	} else if (strcasecmp(s, "TEXT") == 0) {
		kind = IMAP_SECTION_TEXT;
	} else if (strcasecmp(s, "MIME") == 0 && numbered) {
		kind = IMAP_SECTION_MIME;
	} else if (strncasecmp(s, "HEADER.FIELDS.NOT ", 18) == 0) {
		kind = IMAP_SECTION_HEADER_FIELDS_NOT;
		fields = s + 18;
	} else if (strncasecmp(s, "HEADER.FIELDS ", 14) == 0) {
		kind = IMAP_SECTION_HEADER_FIELDS;
		fields = s + 14;
	} else if (strcasecmp(s, "HEADER.FIELDS.NOT") == 0) {
		kind = IMAP_SECTION_HEADER_FIELDS_NOT;
	} else if (strcasecmp(s, "HEADER.FIELDS") == 0) {
		kind = IMAP_SECTION_HEADER_FIELDS;
	} else {
		*error_r = "Invalid section";
		return IMAP_SECTION_BAD;
	}
	if (missing) {
		*error_r = "No such part";
		return IMAP_SECTION_MISSING;
	}

	section_r->kind = kind;
	section_r->part = part;
	section_r->fields = fields;
	switch (kind) {
	case IMAP_SECTION_FULL:
		if (!numbered) {
			section_r->offset = 0;
			section_r->size = root->header_size + root->body_size;
		} else {
			set_range(section_r, false, part);
		}
		break;
	case IMAP_SECTION_MIME:
		set_range(section_r, true, part);
		break;
	default: {
		/* HEADER, HEADER.FIELDS(.NOT), TEXT: of the message itself,
		 * or after numbers of the message in a message/rfc822
		 * part (RFC 9051 6.4.5) */
		const struct mime_part *msg = root;
		bool header = kind != IMAP_SECTION_TEXT;

		if (numbered) {
			if (!part_is_message(part) || part->children == NULL) {
				*error_r = "Section part is not a message";
				return IMAP_SECTION_MISSING;
			}
			msg = part->children;
		}
		set_range(section_r, header, msg);
		break;
	}
	}
	*error_r = NULL;
	return IMAP_SECTION_OK;
}
