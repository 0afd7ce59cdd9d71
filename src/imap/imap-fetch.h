/* SPDX-License-Identifier: MIT */
/*
 * FETCH's data items (RFC 9051 6.4.5, RFC 3501 6.4.5, RFC 3516) parsed
 * from the command's arguments into a plan: which items, in which order,
 * with their sections checked and partial ranges read, before any message
 * is looked at, so that a malformed request is BAD as a whole.
 */
#ifndef HERALD_IMAP_FETCH_H
#define HERALD_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-header-fields.h"
#include "imap/imap-parser.h"

enum imap_fetch_kind {
	IMAP_FETCH_UID,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_SAVEDATE,		/* RFC 8514 */
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,		/* BODY alone: no extension data */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_MODSEQ,		/* RFC 7162 3.1.4 */
	IMAP_FETCH_EMAILID,		/* RFC 8474 */
	IMAP_FETCH_THREADID,
	IMAP_FETCH_PREVIEW,		/* RFC 8970 */
	/* BODY[section], BODY.PEEK[section], RFC822 (BODY[]),
	 * RFC822.HEADER (BODY.PEEK[HEADER]), RFC822.TEXT (BODY[TEXT]) */
	IMAP_FETCH_SECTION,
	IMAP_FETCH_BINARY,		/* BINARY[part], BINARY.PEEK[part] */
	IMAP_FETCH_BINARY_SIZE,		/* BINARY.SIZE[part] */
};

struct imap_fetch_item {
	enum imap_fetch_kind kind;
	/* SECTION and the BINARY kinds: the text between "[" and "]" as
	 * sent (keywords in any case), for imap_section_resolve(). */
	char *section;
	/* The item's name in the response, before any "<origin>":
	 * "BODY[HEADER.FIELDS (FROM TO)]" (keywords upper-cased, quoted
	 * strings as sent), "RFC822.TEXT", "BINARY[1.2]"... NULL for the
	 * kinds whose name is fixed. */
	char *name;
	/* Not PEEK: fetching it sets \Seen (BODY[], BINARY[], RFC822,
	 * RFC822.TEXT). */
	bool sets_seen;
	/* "<offset.count>" was given: the response holds at most count
	 * octets from offset (none when offset is past the end), and is
	 * named with "<offset>". */
	bool partial;
	uint64_t partial_offset;
	uint64_t partial_count;
	/* HEADER.FIELDS (not false) or HEADER.FIELDS.NOT (not true): the
	 * names, parsed. */
	bool has_fields;
	bool fields_not;
	struct imap_header_fields fields;
};

struct imap_fetch_plan {
	struct imap_fetch_item *items;
	size_t count;
	/* some item sets \Seen */
	bool sets_seen;
	/* some item needs the MIME structure (ENVELOPE, BODY,
	 * BODYSTRUCTURE, any section) */
	bool needs_structure;
	/* some item needs the message's octets (a section, BINARY) */
	bool needs_octets;
	/* EMAILID or THREADID: the store's ids are read */
	bool needs_ids;
	/* MODSEQ is asked for (CONDSTORE on) */
	bool has_modseq;
	/* PREVIEW is asked for; preview_lazy: only as PREVIEW (LAZY), so
	 * a preview not in the worker's cache is NIL (RFC 8970 4) */
	bool has_preview;
	bool preview_lazy;
	/* FLAGS or UID are asked for */
	bool has_flags;
	bool has_uid;
};

/*
 * Parses FETCH's items: args[0..n_args) are the arguments after the
 * sequence set, which must be exactly one: the macro ALL, FAST or FULL,
 * one fetch-att, or a parenthesised list of fetch-atts (no macro inside
 * it); or two, PREVIEW and its modifier list. PREVIEW takes an optional
 * list of preview-mods (RFC 8970 7: only LAZY) as the next element. uid (UID FETCH) puts UID first when not asked for (RFC 9051
 * 6.4.9). Unknown items, a malformed section (imap_section_resolve's
 * grammar; BINARY takes part numbers only), a bad header list, a partial
 * that is not "<number.nz-number>" (so <0.0> is BAD), text after the
 * section or partial, and FETCH modifiers (imap-cmd-fetch.c takes a list
 * of them off first)
 * are errors. Simple items asked for twice are answered once. Returns
 * 0 with *plan_r filled (imap_fetch_plan_deinit), or -1 with a static
 * *error_r for the BAD response.
 */
int imap_fetch_plan_parse(const struct imap_arg *args, size_t n_args,
			  bool uid, struct imap_fetch_plan *plan_r,
			  const char **error_r);
void imap_fetch_plan_deinit(struct imap_fetch_plan *plan);

/* Whether list is a list of preview-mods (LAZY): after "FETCH set
 * PREVIEW" such a list belongs to PREVIEW, not a FETCH modifier list. */
bool imap_fetch_is_preview_mods(const struct imap_arg *list);

#endif
