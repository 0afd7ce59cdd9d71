/* SPDX-License-Identifier: MIT */
/*
 * FETCH items into a plan: each fetch-att atom is split into its name,
 * its [section] and its <partial>; sections are checked against the
 * grammar by resolving them in an empty message (imap_section_resolve
 * reports BAD before it reports a missing part), header lists parsed.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-fetch.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime.h"

/* More items than any client asks for; bounds the plan. */
#define IMAP_FETCH_ITEMS_MAX 256

static const struct {
	const char *name;
	enum imap_fetch_kind kind;
} simple_items[] = {
	{ "UID", IMAP_FETCH_UID },
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "SAVEDATE", IMAP_FETCH_SAVEDATE },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "MODSEQ", IMAP_FETCH_MODSEQ },
	{ "EMAILID", IMAP_FETCH_EMAILID },
	{ "THREADID", IMAP_FETCH_THREADID },
};

struct plan_builder {
	struct imap_fetch_plan *plan;
	struct mime_part *empty;	/* a message with nothing in it */
	const char *error;
};

static struct imap_fetch_item *
plan_add(struct plan_builder *b, enum imap_fetch_kind kind)
{
	struct imap_fetch_plan *p = b->plan;
	struct imap_fetch_item *it;

	if (p->count >= IMAP_FETCH_ITEMS_MAX) {
		b->error = "Too many FETCH items";
		return NULL;
	}
	p->items = xreallocarray(p->items, p->count + 1, sizeof(*p->items));
	it = &p->items[p->count++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	return it;
}

static bool
plan_has(const struct imap_fetch_plan *p, enum imap_fetch_kind kind)
{
	for (size_t i = 0; i < p->count; i++)
		if (p->items[i].kind == kind)
			return true;
	return false;
}

static bool
add_simple(struct plan_builder *b, enum imap_fetch_kind kind)
{
	if (plan_has(b->plan, kind))
		return true;
	return plan_add(b, kind) != NULL;
}

/* The end of a [section] that starts at s (after "["): the "]" outside
 * quoted strings, or NULL. */
static const char *
section_end(const char *s)
{
	bool quoted = false;

	for (; *s != '\0'; s++) {
		if (quoted) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '"')
				quoted = false;
		} else if (*s == '"') {
			quoted = true;
		} else if (*s == ']') {
			return s;
		}
	}
	return NULL;
}

/* number64 at *sp (RFC 9051 9: no sign, no overflow), advancing *sp. */
static bool
get_number64(const char **sp, uint64_t *n_r)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*sp = s;
	*n_r = n;
	return true;
}

/* "<" number64 "." nz-number64 ">" and nothing after it. */
static bool
parse_partial(const char *s, struct imap_fetch_item *it)
{
	if (*s++ != '<' || !get_number64(&s, &it->partial_offset) ||
	    *s++ != '.' || !get_number64(&s, &it->partial_count) ||
	    it->partial_count == 0 || *s++ != '>' || *s != '\0')
		return false;
	it->partial = true;
	return true;
}

/* The response name: prefix "[" section "]", keywords upper-cased,
 * quoted strings (header names) as sent. */
static char *
section_name(const char *prefix, const char *section, size_t len)
{
	struct buf b;
	bool quoted = false;
	char *name;

	buf_init(&b);
	buf_puts(&b, prefix);
	buf_putc(&b, '[');
	for (size_t i = 0; i < len; i++) {
		char c = section[i];

		if (quoted) {
			if (c == '\\' && i + 1 < len) {
				buf_putc(&b, c);
				c = section[++i];
			} else if (c == '"') {
				quoted = false;
			}
		} else if (c == '"') {
			quoted = true;
		} else {
			c = (char)toupper((unsigned char)c);
		}
		buf_putc(&b, c);
	}
	buf_putc(&b, ']');
	name = buf_steal(&b);
	buf_deinit(&b);
	return name;
}

/* BINARY's section-binary: part numbers only, possibly none. */
static bool
binary_section_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
	return true;
}

static bool
add_section(struct plan_builder *b, const char *att)
{
	const char *open = strchr(att, '['), *close;
	size_t plen = (size_t)(open - att);
	enum imap_fetch_kind kind;
	bool peek = false;
	const char *prefix;
	struct imap_fetch_item *it;
	struct imap_section sec;
	const char *why = NULL;

	if (plen == 4 && strncasecmp(att, "BODY", 4) == 0) {
		kind = IMAP_FETCH_SECTION;
		prefix = "BODY";
	} else if (plen == 9 && strncasecmp(att, "BODY.PEEK", 9) == 0) {
		kind = IMAP_FETCH_SECTION;
		prefix = "BODY";
		peek = true;
	} else if (plen == 6 && strncasecmp(att, "BINARY", 6) == 0) {
		kind = IMAP_FETCH_BINARY;
		prefix = "BINARY";
	} else if (plen == 11 && strncasecmp(att, "BINARY.PEEK", 11) == 0) {
		kind = IMAP_FETCH_BINARY;
		prefix = "BINARY";
		peek = true;
	} else if (plen == 11 && strncasecmp(att, "BINARY.SIZE", 11) == 0) {
		kind = IMAP_FETCH_BINARY_SIZE;
		prefix = "BINARY.SIZE";
		peek = true;
	} else {
		b->error = "Unknown FETCH item";
		return false;
	}
	close = section_end(open + 1);
	if (close == NULL) {
		b->error = "Section without ]";
		return false;
	}
	it = plan_add(b, kind);
	if (it == NULL)
		return false;
	it->sets_seen = !peek;
	it->section = xstrndup(open + 1, (size_t)(close - open - 1));
	it->name = section_name(prefix, it->section, strlen(it->section));
	if (close[1] != '\0' &&
	    (kind == IMAP_FETCH_BINARY_SIZE || !parse_partial(close + 1, it))) {
		b->error = kind == IMAP_FETCH_BINARY_SIZE ?
			"BINARY.SIZE takes no partial" :
			"Invalid partial: <offset.count>, count above 0";
		return false;
	}
	if (kind != IMAP_FETCH_SECTION && !binary_section_ok(it->section)) {
		b->error = "BINARY takes part numbers only";
		return false;
	}
	if (imap_section_resolve(b->empty, it->section, &sec, &why) ==
	    IMAP_SECTION_BAD) {
		b->error = why;
		return false;
	}
	/* the part may be missing in the empty message, so the keyword is
	 * found here: after the part numbers */
	const char *kw = it->section + strspn(it->section, "0123456789.");

	if (strncasecmp(kw, "HEADER.FIELDS", 13) == 0) {
		const char *list = NULL;

		it->fields_not = strncasecmp(kw, "HEADER.FIELDS.NOT", 17) == 0;
		kw += it->fields_not ? 17 : 13;
		if (*kw == ' ')
			list = kw + 1;
		if (imap_header_fields_parse(list,
					     IMAP_HEADER_FIELDS_NAMES_DEFAULT,
					     &it->fields, &b->error) < 0)
			return false;
		it->has_fields = true;
	}
	return true;
}

/* RFC822, RFC822.HEADER, RFC822.TEXT: their BODY equivalents under
 * their own names (RFC 3501 6.4.5; IMAP4rev2 dropped them, clients of
 * either revision still send them). */
static bool
add_rfc822(struct plan_builder *b, const char *name, const char *section,
	   bool sets_seen)
{
	struct imap_fetch_item *it = plan_add(b, IMAP_FETCH_SECTION);

	if (it == NULL)
		return false;
	it->section = xstrdup(section);
	it->name = xstrdup(name);
	it->sets_seen = sets_seen;
	return true;
}

static bool add_preview(struct plan_builder *b, const struct imap_arg *mods);

static bool
add_att(struct plan_builder *b, const struct imap_arg *arg)
{
	const char *s;

	if (arg->type != IMAP_ARG_ATOM) {
		b->error = "Invalid FETCH item";
		return false;
	}
	s = arg->str;
	if (strchr(s, '[') != NULL)
		return add_section(b, s);
	for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]);
	     i++)
		if (strcasecmp(s, simple_items[i].name) == 0)
			return add_simple(b, simple_items[i].kind);
	if (strcasecmp(s, "PREVIEW") == 0)
		return add_preview(b, NULL);
	if (strcasecmp(s, "RFC822") == 0)
		return add_rfc822(b, "RFC822", "", true);
	if (strcasecmp(s, "RFC822.HEADER") == 0)
		return add_rfc822(b, "RFC822.HEADER", "HEADER", false);
	if (strcasecmp(s, "RFC822.TEXT") == 0)
		return add_rfc822(b, "RFC822.TEXT", "TEXT", true);
	if (strcasecmp(s, "BINARY") == 0 || strcasecmp(s, "BINARY.PEEK") == 0 ||
	    strcasecmp(s, "BINARY.SIZE") == 0 ||
	    strcasecmp(s, "BODY.PEEK") == 0)
		b->error = "Section required";
	else
		b->error = "Unknown FETCH item";
	return false;
}

/* PREVIEW, with mods the list that follows it or NULL (RFC 8970 7:
 * "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]). */
static bool
add_preview(struct plan_builder *b, const struct imap_arg *mods)
{
	struct imap_fetch_plan *p = b->plan;
	bool lazy = false;

	if (mods != NULL) {
		if (mods->list_count == 0) {
			b->error = "Empty PREVIEW modifier list";
			return false;
		}
		for (size_t i = 0; i < mods->list_count; i++) {
			if (!imap_arg_atom_equals(&mods->list[i], "LAZY")) {
				b->error = "Unknown PREVIEW modifier";
				return false;
			}
			lazy = true;
		}
	}
	/* asked for twice: LAZY only when every request is lazy */
	if (plan_has(p, IMAP_FETCH_PREVIEW)) {
		p->preview_lazy = p->preview_lazy && lazy;
		return true;
	}
	if (plan_add(b, IMAP_FETCH_PREVIEW) == NULL)
		return false;
	p->preview_lazy = lazy;
	return true;
}

/* Whether args[i] is the atom PREVIEW followed by a list (its mods). */
static bool
is_preview_with_mods(const struct imap_arg *args, size_t n, size_t i)
{
	return i + 1 < n && args[i].type == IMAP_ARG_ATOM &&
	       strcasecmp(args[i].str, "PREVIEW") == 0 &&
	       args[i + 1].type == IMAP_ARG_LIST;
}

bool
imap_fetch_is_preview_mods(const struct imap_arg *list)
{
	if (list->type != IMAP_ARG_LIST || list->list_count == 0)
		return false;
	for (size_t i = 0; i < list->list_count; i++)
		if (!imap_arg_atom_equals(&list->list[i], "LAZY"))
			return false;
	return true;
}

static bool
add_macro(struct plan_builder *b, const char *s, bool *is_macro_r)
{
	static const enum imap_fetch_kind fast[] = {
		IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
		IMAP_FETCH_RFC822_SIZE,
	};
	size_t n;
	bool ok = true;

	*is_macro_r = true;
	if (strcasecmp(s, "FAST") == 0)
		n = 3;
	else if (strcasecmp(s, "ALL") == 0)
		n = 4;
	else if (strcasecmp(s, "FULL") == 0)
		n = 5;
	else {
		*is_macro_r = false;
		return true;
	}
	for (size_t i = 0; i < 3; i++)
		ok = ok && add_simple(b, fast[i]);
	if (n >= 4)
		ok = ok && add_simple(b, IMAP_FETCH_ENVELOPE);
	if (n >= 5)
		ok = ok && add_simple(b, IMAP_FETCH_BODY);
	return ok;
}

static void
plan_summarise(struct imap_fetch_plan *p)
{
	for (size_t i = 0; i < p->count; i++) {
		const struct imap_fetch_item *it = &p->items[i];

		switch (it->kind) {
		case IMAP_FETCH_UID:
			p->has_uid = true;
			break;
		case IMAP_FETCH_FLAGS:
			p->has_flags = true;
			break;
		case IMAP_FETCH_INTERNALDATE:
		case IMAP_FETCH_SAVEDATE:
		case IMAP_FETCH_RFC822_SIZE:
			break;
		case IMAP_FETCH_EMAILID:
		case IMAP_FETCH_THREADID:
			p->needs_ids = true;
			break;
		case IMAP_FETCH_MODSEQ:
			p->has_modseq = true;
			break;
		case IMAP_FETCH_PREVIEW:
			/* structure and octets are read per message, only
			 * when the preview is not in the worker's cache */
			p->has_preview = true;
			break;
		case IMAP_FETCH_ENVELOPE:
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
			p->needs_structure = true;
			break;
		case IMAP_FETCH_SECTION:
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			p->needs_structure = true;
			p->needs_octets = true;
			break;
		}
		if (it->sets_seen)
			p->sets_seen = true;
	}
}

int
imap_fetch_plan_parse(const struct imap_arg *args, size_t n_args, bool uid,
		      struct imap_fetch_plan *plan_r, const char **error_r)
{
	struct plan_builder b = { .plan = plan_r };
	bool ok = true, macro = false;

	memset(plan_r, 0, sizeof(*plan_r));
	if (n_args == 0) {
		*error_r = "FETCH items missing";
		return -1;
	}
	if (n_args > 2 || (n_args == 2 &&
			   !is_preview_with_mods(args, n_args, 0))) {
		*error_r = "FETCH modifiers are not supported";
		return -1;
	}
	b.empty = mime_parse("", 0, NULL);
	if (uid)
		ok = add_simple(&b, IMAP_FETCH_UID);
	if (ok && args[0].type == IMAP_ARG_LIST) {
		if (args[0].list_count == 0) {
			b.error = "Empty FETCH item list";
			ok = false;
		}
		for (size_t i = 0; ok && i < args[0].list_count; i++) {
			if (is_preview_with_mods(args[0].list,
						 args[0].list_count, i)) {
				ok = add_preview(&b, &args[0].list[i + 1]);
				i++;
				continue;
			}
			ok = add_att(&b, &args[0].list[i]);
		}
	} else if (ok && n_args == 2) {
		ok = add_preview(&b, &args[1]);
	} else if (ok && args[0].type == IMAP_ARG_ATOM) {
		ok = add_macro(&b, args[0].str, &macro);
		if (ok && !macro)
			ok = add_att(&b, &args[0]);
	} else if (ok) {
		b.error = "Invalid FETCH item";
		ok = false;
	}
	mime_part_free(&b.empty);
	if (!ok) {
		*error_r = b.error != NULL ? b.error : "Invalid FETCH item";
		imap_fetch_plan_deinit(plan_r);
		return -1;
	}
	plan_summarise(plan_r);
	return 0;
}

void
imap_fetch_plan_deinit(struct imap_fetch_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		struct imap_fetch_item *it = &plan->items[i];

		free(it->section);
		free(it->name);
		if (it->has_fields)
			imap_header_fields_deinit(&it->fields);
	}
	free(plan->items);
	memset(plan, 0, sizeof(*plan));
}
