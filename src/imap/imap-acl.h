/* SPDX-License-Identifier: MIT */
/*
 * Shared mailboxes and their rights (RFC 4314) for the IMAP commands: a
 * client's mailbox name is either personal or, under the "Other Users"
 * namespace (RFC 2342), another account's mailbox; every command that
 * names a mailbox or works on the selected one asks imap_acl_check()
 * whether the user's rights allow it. docs/imap.md "ACL".
 */
#ifndef HERALD_IMAP_ACL_H
#define HERALD_IMAP_ACL_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap-private.h"
#include "store/store.h"

/* The namespace of other users' mailboxes (RFC 2342 5): names are
 * IMAP_ACL_PREFIX "/" owner-address "/" the owner's name, so NAMESPACE
 * answers (("Other Users/" "/")). */
#define IMAP_ACL_PREFIX "Other Users"

/* need for MYRIGHTS (RFC 4314 4): any one of l r i k x a. */
#define IMAP_ACL_NEED_ANY (1u << 31)

enum imap_acl_verdict {
	IMAP_ACL_OK,
	/* answer exactly as for a mailbox that does not exist: there is
	 * none, or the user lacks the right and may not even see it (no
	 * "l", RFC 4314 4 and 6) */
	IMAP_ACL_NONEXISTENT,
	/* the user sees the mailbox but lacks the right: NO [NOPERM] */
	IMAP_ACL_DENIED,
};

/*
 * The one rights check every command makes: whether rights (the user's
 * on a mailbox, STORE_ACL_ALL for its owner) hold every bit of need (a
 * mask of enum store_acl_right, or IMAP_ACL_NEED_ANY). A mailbox that
 * does not exist is rights 0 with exists false.
 */
enum imap_acl_verdict imap_acl_check(bool exists, unsigned rights,
				     unsigned need);

/* imap_acl_check() for the selected mailbox, with the rights it was
 * selected with (RFC 4314 5.1.1 allows keeping them): being selected, it
 * is never hidden, so the verdict is OK or DENIED. */
enum imap_acl_verdict imap_acl_check_selected(const struct imap_mailbox *box,
					      unsigned need);

/* Writes the tagged NO for a DENIED verdict on need. */
enum imap_cmd_result imap_acl_no(struct imap_cmd *cmd, unsigned need);

/* A client's mailbox name resolved (pool thread). */
struct imap_acl_box {
	struct store_mailbox *mb;	/* NULL: no such mailbox */
	int64_t owner_id;		/* 0: no such owner */
	char *owner;			/* shared: the owner's address */
	char *name;			/* the owner's name for it */
	unsigned rights;		/* the user's; 0 when no mailbox */
	bool shared;			/* under IMAP_ACL_PREFIX */
};
void imap_acl_box_deinit(struct imap_acl_box *box);

/*
 * Resolves name (as imap_mailbox_arg() gives it) for account_id: its own
 * mailbox, or another account's under IMAP_ACL_PREFIX, with the user's
 * rights; then checks need as imap_acl_check(). Returns the store's
 * result (STORE_OK also when the verdict is not OK: see *verdict_r, and
 * box->mb NULL when there is no such mailbox); *box_r is always set,
 * free it with imap_acl_box_deinit().
 */
enum store_result imap_acl_open(struct store *store, int64_t account_id,
				const char *name, unsigned need,
				struct imap_acl_box *box_r,
				enum imap_acl_verdict *verdict_r,
				const char **error_r);

/* The commands (imap-cmd-acl.c). */
imap_cmd_fn_t imap_cmd_setacl, imap_cmd_deleteacl, imap_cmd_getacl,
	imap_cmd_listrights, imap_cmd_myrights;

/* Whether name is IMAP_ACL_PREFIX or below it. */
bool imap_acl_name_is_shared(const char *name);
/* The name a client sees for an owner's mailbox: the owner's own name,
 * or IMAP_ACL_PREFIX "/" owner "/" name when shared. free() it. */
char *imap_acl_client_name(bool shared, const char *owner, const char *name);

/* RFC 4314 4: the system flags (enum store_flag) rights let the user set
 * or clear (\Seen s, \Deleted t, the others w), and whether keywords
 * (w). */
uint32_t imap_acl_flags_allowed(unsigned rights);
bool imap_acl_keywords_allowed(unsigned rights);
/* RFC 4314 5.2: a SELECT is READ-WRITE when any of i e s w t is granted. */
bool imap_acl_read_write(unsigned rights);

#endif
