/* SPDX-License-Identifier: MIT */
/*
 * Address lists in header field values (RFC 5322 3.4: To, Cc, Bcc, From,
 * Reply-To...): display names, quoted strings, comments (nested), angle
 * addresses, groups ("name: a, b;") and the obsolete forms of section 4.4
 * (routes, CFWS around dots, empty list elements). The result is the list
 * of addr-specs; display names, comments and group names are dropped.
 */
#ifndef HERALD_MAIL_HEADER_ADDRESS_H
#define HERALD_MAIL_HEADER_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* Defaults of struct header_address_limits. */
#define HEADER_ADDRESS_DEFAULT_MAX_ADDRESSES 1000
#define HEADER_ADDRESS_DEFAULT_MAX_VALUE (256u * 1024)
#define HEADER_ADDRESS_DEFAULT_MAX_ADDRESS_LEN 256

struct header_address_limits {
	/* Most addr-specs in one value; more is HEADER_ADDRESS_ERR_TOO_MANY. */
	size_t max_addresses;
	/* Longest value accepted, in octets (folding included). */
	size_t max_value_len;
	/* Longest addr-spec as returned (RFC 5321 4.5.3.1.3: 256 with the
	 * brackets of a path, so 254 fits any deliverable address). */
	size_t max_address_len;
	/* Accept a bare local part without "@domain" ("To: root"), as
	 * sendmail does for command-line recipients; it is returned as it
	 * is, without "@". Default false (a syntax error). */
	bool allow_no_domain;
};

/* 1000 addresses, 256 KiB, 256 octets, domain required. */
void header_address_limits_default(struct header_address_limits *limits_r);

enum header_address_error {
	HEADER_ADDRESS_OK,
	HEADER_ADDRESS_ERR_SYNTAX,	/* not an address list */
	HEADER_ADDRESS_ERR_TOO_MANY,	/* over max_addresses */
	HEADER_ADDRESS_ERR_TOO_LONG,	/* value or one address over its limit */
};

/* Parses value[0..len) (the text after "Name:", folded lines allowed, CR
 * and LF count as white space) as an address-list. On success returns 0
 * and sets *addrs_r to a new array of *count_r NUL-terminated addr-specs
 * ("local@domain"; NULL and 0 for an empty list or "group:;"). Each local
 * part is unquoted and requoted only when it needs quoting, and CFWS is
 * removed from domains; the domain is kept as written (case, "[literal]").
 * Free with header_address_list_free(). On failure returns -1, sets *err_r
 * (may be NULL) and *error_r (static text, may be NULL), and *addrs_r is
 * NULL. Octets >= 0x80 are accepted in atoms and quoted strings (RFC
 * 6532); NUL and other controls are syntax errors. */
int header_address_list_parse(const char *value, size_t len,
			      const struct header_address_limits *limits,
			      char ***addrs_r, size_t *count_r,
			      enum header_address_error *err_r,
			      const char **error_r);

/* An address list with what a mail client shows beside the addresses. */
struct header_address_list {
	char **addrs;		/* as header_address_list_parse() gives them */
	size_t n_addrs;
	/* With want_texts: each display name, group name and comment, in
	 * order, quoted strings and quoted-pairs resolved, folding removed,
	 * words of a name joined by one space. RFC 2047 encoded words are
	 * left as they are (decoding them is the caller's choice). */
	char **texts;
	size_t n_texts;
	/* An obsolete source route ("<@relay.example:a@b.example>") was
	 * dropped from an address. */
	bool has_route;
};

/* header_address_list_parse() that fills *list_r (zeroed on failure;
 * release with header_address_list_deinit()) and, with want_texts, also
 * keeps the display texts. Same errors. */
int header_address_list_parse_full(const char *value, size_t len,
				   const struct header_address_limits *limits,
				   bool want_texts,
				   struct header_address_list *list_r,
				   enum header_address_error *err_r,
				   const char **error_r);
void header_address_list_deinit(struct header_address_list *list);

/* One element of an address list in order, with the parts IMAP's
 * ENVELOPE (RFC 9051 7.5.2) shows: mailboxes, and the start and end of
 * each group around its members. */
enum header_address_entry_type {
	HEADER_ADDRESS_ENTRY_MAILBOX,
	HEADER_ADDRESS_ENTRY_GROUP_START,	/* name: the group's name */
	HEADER_ADDRESS_ENTRY_GROUP_END,		/* no fields set */
};

struct header_address_entry {
	enum header_address_entry_type type;
	/* Display name or group name as ha_phrase joins it (quoted strings
	 * unquoted, gaps one space, encoded words left as they are);
	 * NULL when there is none. */
	char *name;
	/* Obsolete source route without its ":" ("@a.example,@b.example"),
	 * or NULL. */
	char *route;
	/* Local part with RFC 5322 quoting removed. */
	char *local;
	/* Domain as header_address_list_parse() gives it, or NULL for an
	 * address without one (limits->allow_no_domain). */
	char *domain;
};

/* Parses like header_address_list_parse() (same limits, same errors) and
 * sets *entries_r to a new array of *count_r entries (NULL and 0 for an
 * empty list); "<>" yields no entry, a group always a start and an end,
 * even without its final ";". Free with header_address_entries_free(). */
int header_address_list_parse_entries(const char *value, size_t len,
				      const struct header_address_limits *limits,
				      struct header_address_entry **entries_r,
				      size_t *count_r,
				      enum header_address_error *err_r,
				      const char **error_r);
void header_address_entries_free(struct header_address_entry **entries,
				 size_t count);

/* Frees an array from header_address_list_parse() and NULLs *addrs. */
void header_address_list_free(char ***addrs, size_t count);

/* "syntax error", ... */
const char *header_address_error_str(enum header_address_error err);

#endif
