/* SPDX-License-Identifier: MIT */
/*
 * The arguments of METADATA's commands (RFC 5464): entry names checked
 * and lower-cased (3.2), GETMETADATA's options and entries (4.2) and
 * SETMETADATA's entry-value pairs (4.3), read from the command parser's
 * argument tree. No I/O and no store: imap-cmd-metadata.c runs them.
 */
#ifndef HERALD_IMAP_METADATA_H
#define HERALD_IMAP_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-acl.h"
#include "imap/imap-parser.h"

/* DEPTH infinity (RFC 5464 4.2.2); the store's
 * STORE_METADATA_DEPTH_INFINITY. */
#define IMAP_METADATA_DEPTH_INFINITY UINT32_MAX

/*
 * Checks the entry name s[0..len) (RFC 5464 3.2): it starts with
 * "/private/" or "/shared/" in any case (root_ok: "/private" and
 * "/shared" alone too, which GETMETADATA may ask for with DEPTH), has no
 * "*", "%", octet below 0x20, DEL or non-ASCII octet, no "//" and no "/"
 * at the end. Entry names are case-insensitive: *name_r is a lower-cased
 * copy (free()). Returns 0, or -1 with a static *error_r (answer BAD).
 */
int imap_metadata_entry_parse(const char *s, size_t len, bool root_ok,
			      char **name_r, const char **error_r);

/* GETMETADATA [options] mailbox entries. */
struct imap_metadata_get {
	const struct imap_arg *mailbox;	/* astring; "" is the server */
	char **entries;			/* lower-cased, in given order */
	size_t n_entries;
	uint64_t maxsize;		/* MAXSIZE; UINT64_MAX when absent */
	uint32_t depth;			/* 0, 1 or _DEPTH_INFINITY */
};

/*
 * Reads GETMETADATA's arguments: the options list before the mailbox
 * (RFC 5464 5) or, as the examples of 4.2 and several clients have it,
 * after it; options MAXSIZE number and DEPTH 0 / 1 / infinity, each at
 * most once; one entry or a non-empty list of them. Returns 0 with g
 * filled (imap_metadata_get_deinit), or -1 with a static *error_r and g
 * empty.
 */
int imap_metadata_get_parse(const struct imap_arg *args, size_t n,
			    struct imap_metadata_get *g, const char **error_r);
void imap_metadata_get_deinit(struct imap_metadata_get *g);

/* SETMETADATA mailbox (entry value ...). */
struct imap_metadata_set {
	const struct imap_arg *mailbox;
	struct imap_metadata_pair {
		char *name;		/* lower-cased */
		/* NULL for NIL (remove); else len octets pointing into
		 * the arguments, NUL allowed (literal8) */
		const char *value;
		size_t len;
	} *pairs;
	size_t n_pairs;
};

/*
 * Reads SETMETADATA's arguments: a mailbox and a non-empty list of entry
 * and value pairs, each value a string, literal, literal8 or NIL (RFC
 * 5464 5: value = nstring / literal8). Returns 0 with st filled
 * (imap_metadata_set_deinit), or -1 with a static *error_r and st empty.
 */
int imap_metadata_set_parse(const struct imap_arg *args, size_t n,
			    struct imap_metadata_set *st,
			    const char **error_r);
void imap_metadata_set_deinit(struct imap_metadata_set *st);

/* RFC 5464 3.3: with ACL a user sets and reads a mailbox's entries,
 * private or shared, only with "l" and one of these rights. */
#define IMAP_METADATA_RIGHTS_ANY \
	(STORE_ACL_READ | STORE_ACL_SEEN | STORE_ACL_WRITE | \
	 STORE_ACL_INSERT | STORE_ACL_POST)

/*
 * Whether a user with rights (STORE_ACL_ALL for the owner) on a mailbox
 * (exists false: none) may read its entries, or with set_shared change
 * its "/shared" ones: "l" and one of IMAP_METADATA_RIGHTS_ANY (RFC 5464
 * 3.3), and to change a "/shared" entry, which every reader sees, also
 * "w" (Herald's rule, docs/imap.md "METADATA"). Without "l" the answer is
 * IMAP_ACL_NONEXISTENT, as imap_acl_check() gives.
 */
enum imap_acl_verdict imap_metadata_acl(bool exists, unsigned rights,
					bool set_shared);

#endif
