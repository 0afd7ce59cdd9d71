/* SPDX-License-Identifier: MIT */
/*
 * METADATA's arguments (RFC 5464 3.2, 4.2, 4.3, 5): entry-name syntax,
 * GETMETADATA's MAXSIZE and DEPTH options and entry lists, SETMETADATA's
 * entry-value pairs, and the rights (3.3) on another account's mailbox.
 * Everything a client sends here is checked before the store sees it; a
 * mistake is a BAD (3.2: "Invalid entry names result in a BAD response").
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-metadata.h"
#include "lib/mem.h"

int
imap_metadata_entry_parse(const char *s, size_t len, bool root_ok,
			  char **name_r, const char **error_r)
{
	size_t root;
	char *name;

	*name_r = NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* 3.2: no "*" or "%" (they would read as LIST wildcards),
		 * nothing outside printable US-ASCII */
		if (c < 0x20 || c >= 0x7f || c == '*' || c == '%') {
			*error_r = "Entry names are printable US-ASCII"
				" without * and %";
			return -1;
		}
		if (c == '/' && i + 1 < len && s[i + 1] == '/') {
			*error_r = "Entry names have no //";
			return -1;
		}
	}
	if (len >= 8 && strncasecmp(s, "/private", 8) == 0)
		root = 8;
	else if (len >= 7 && strncasecmp(s, "/shared", 7) == 0)
		root = 7;
	else
		root = 0;
	if (root == 0 || (len > root && s[root] != '/')) {
		*error_r = "Entry names start with /private/ or /shared/";
		return -1;
	}
	if (len == root && !root_ok) {
		*error_r = "/private and /shared are no entries";
		return -1;
	}
	if (s[len - 1] == '/') {
		*error_r = "Entry names do not end with /";
		return -1;
	}
	name = xstrndup(s, len);
	for (size_t i = 0; i < len; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	*name_r = name;
	return 0;
}

void
imap_metadata_get_deinit(struct imap_metadata_get *g)
{
	for (size_t i = 0; i < g->n_entries; i++)
		free(g->entries[i]);
	free(g->entries);
	g->entries = NULL;
	g->n_entries = 0;
}

/* MAXSIZE n and DEPTH d (4.2.1, 4.2.2), each once. */
static int
options_parse(const struct imap_arg *list, struct imap_metadata_get *g,
	      const char **error_r)
{
	bool maxsize = false, depth = false;

	if (list->list_count == 0) {
		*error_r = "GETMETADATA options list is empty";
		return -1;
	}
	for (size_t i = 0; i < list->list_count; i += 2) {
		const struct imap_arg *label = &list->list[i];
		const struct imap_arg *val = i + 1 < list->list_count ?
			&list->list[i + 1] : NULL;

		if (imap_arg_atom_equals(label, "MAXSIZE") && !maxsize &&
		    val != NULL) {
			if (!imap_arg_get_number64(val, &g->maxsize)) {
				*error_r = "MAXSIZE takes a number";
				return -1;
			}
			maxsize = true;
		} else if (imap_arg_atom_equals(label, "DEPTH") && !depth &&
			   val != NULL) {
			if (imap_arg_atom_equals(val, "0"))
				g->depth = 0;
			else if (imap_arg_atom_equals(val, "1"))
				g->depth = 1;
			else if (imap_arg_atom_equals(val, "infinity"))
				g->depth = IMAP_METADATA_DEPTH_INFINITY;
			else {
				*error_r = "DEPTH is 0, 1 or infinity";
				return -1;
			}
			depth = true;
		} else {
			*error_r = "GETMETADATA options are MAXSIZE n and"
				" DEPTH d, each once";
			return -1;
		}
	}
	return 0;
}

static int
entry_arg(const struct imap_arg *arg, bool root_ok, char **name_r,
	  const char **error_r)
{
	const char *s;
	size_t len;

	if (!imap_arg_get_astring(arg, &s, &len)) {
		*name_r = NULL;
		*error_r = "An entry name is an astring";
		return -1;
	}
	return imap_metadata_entry_parse(s, len, root_ok, name_r, error_r);
}

int
imap_metadata_get_parse(const struct imap_arg *args, size_t n,
			struct imap_metadata_get *g, const char **error_r)
{
	const struct imap_arg *options = NULL, *entries;
	const struct imap_arg *list;
	size_t count;

	memset(g, 0, sizeof(*g));
	g->maxsize = UINT64_MAX;
	if (n == 2) {
		g->mailbox = &args[0];
	} else if (n == 3 && args[0].type == IMAP_ARG_LIST) {
		options = &args[0];
		g->mailbox = &args[1];
	} else if (n == 3 && args[1].type == IMAP_ARG_LIST) {
		g->mailbox = &args[0];
		options = &args[1];
	} else {
		*error_r = "GETMETADATA takes [options] mailbox entries";
		return -1;
	}
	entries = &args[n - 1];
	if (g->mailbox->type == IMAP_ARG_LIST ||
	    g->mailbox->type == IMAP_ARG_NIL ||
	    g->mailbox->type == IMAP_ARG_LITERAL8) {
		*error_r = "GETMETADATA takes [options] mailbox entries";
		return -1;
	}
	if (options != NULL && options_parse(options, g, error_r) < 0)
		return -1;
	if (entries->type == IMAP_ARG_LIST) {
		list = entries->list;
		count = entries->list_count;
		if (count == 0) {
			*error_r = "GETMETADATA entry list is empty";
			return -1;
		}
	} else {
		list = entries;
		count = 1;
	}
	g->entries = xcalloc(count, sizeof(*g->entries));
	for (size_t i = 0; i < count; i++) {
		if (entry_arg(&list[i], true, &g->entries[i], error_r) < 0) {
			g->n_entries = i;
			imap_metadata_get_deinit(g);
			return -1;
		}
	}
	g->n_entries = count;
	return 0;
}

void
imap_metadata_set_deinit(struct imap_metadata_set *st)
{
	for (size_t i = 0; i < st->n_pairs; i++)
		free(st->pairs[i].name);
	free(st->pairs);
	st->pairs = NULL;
	st->n_pairs = 0;
}

int
imap_metadata_set_parse(const struct imap_arg *args, size_t n,
			struct imap_metadata_set *st, const char **error_r)
{
	const struct imap_arg *list;
	size_t count;

	memset(st, 0, sizeof(*st));
	if (n != 2 || args[0].type == IMAP_ARG_LIST ||
	    args[0].type == IMAP_ARG_NIL ||
	    args[0].type == IMAP_ARG_LITERAL8 ||
	    args[1].type != IMAP_ARG_LIST) {
		*error_r = "SETMETADATA takes a mailbox and a list of entries"
			" and values";
		return -1;
	}
	st->mailbox = &args[0];
	list = &args[1];
	if (list->list_count == 0 || list->list_count % 2 != 0) {
		*error_r = "SETMETADATA takes pairs of entry and value";
		return -1;
	}
	count = list->list_count / 2;
	st->pairs = xcalloc(count, sizeof(*st->pairs));
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *val = &list->list[2 * i + 1];
		struct imap_metadata_pair *p = &st->pairs[i];

		if (entry_arg(&list->list[2 * i], false, &p->name,
			      error_r) < 0) {
			st->n_pairs = i;
			imap_metadata_set_deinit(st);
			return -1;
		}
		st->n_pairs = i + 1;
		switch (val->type) {
		case IMAP_ARG_NIL:
			p->value = NULL;
			p->len = 0;
			break;
		case IMAP_ARG_STRING:
		case IMAP_ARG_LITERAL:
		case IMAP_ARG_LITERAL8:
			p->value = val->str;
			p->len = val->len;
			break;
		default:
			*error_r = "A value is a string, a literal, a literal8"
				" or NIL";
			imap_metadata_set_deinit(st);
			return -1;
		}
	}
	return 0;
}

enum imap_acl_verdict
imap_metadata_acl(bool exists, unsigned rights, bool set_shared)
{
	enum imap_acl_verdict v;

	v = imap_acl_check(exists, rights, STORE_ACL_LOOKUP);
	if (v != IMAP_ACL_OK)
		return v;
	if ((rights & IMAP_METADATA_RIGHTS_ANY) == 0)
		return IMAP_ACL_DENIED;
	if (set_shared)
		return imap_acl_check(exists, rights, STORE_ACL_WRITE);
	return IMAP_ACL_OK;
}
