/* SPDX-License-Identifier: MIT */
/*
 * Where IMAP enforces RFC 4314: a client's mailbox name resolved to the
 * owner's mailbox and the user's rights (the "Other Users" namespace for
 * other accounts' mailboxes), and the one check every command makes
 * before it acts. A user who may not see a mailbox ("l") gets the same
 * answer as for one that does not exist (RFC 4314 4, 6).
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-acl.h"
#include "lib/mem.h"

enum imap_acl_verdict
imap_acl_check(bool exists, unsigned rights, unsigned need)
{
	const unsigned any = STORE_ACL_LOOKUP | STORE_ACL_READ |
			     STORE_ACL_INSERT | STORE_ACL_CREATE |
			     STORE_ACL_DELETE_MAILBOX | STORE_ACL_ADMIN;
	bool ok;

	if (!exists)
		return IMAP_ACL_NONEXISTENT;
	if (need & IMAP_ACL_NEED_ANY)
		ok = (rights & any) != 0;
	else
		ok = (rights & need) == need;
	if (ok)
		return IMAP_ACL_OK;
	/* RFC 4314 6: without "l" nothing may tell the mailbox exists */
	if (!(rights & STORE_ACL_LOOKUP))
		return IMAP_ACL_NONEXISTENT;
	return IMAP_ACL_DENIED;
}

enum imap_acl_verdict
imap_acl_check_selected(const struct imap_mailbox *box, unsigned need)
{
	return imap_acl_check(true, box->rights | STORE_ACL_LOOKUP, need);
}

enum imap_cmd_result
imap_acl_no(struct imap_cmd *cmd, unsigned need)
{
	char letters[STORE_ACL_RIGHTS_SIZE];

	if (need & IMAP_ACL_NEED_ANY)
		return imap_cmd_no(cmd, "[NOPERM] Permission denied");
	store_acl_rights_format(need, false, letters);
	/* RFC 5530 NOPERM: the ACL does not allow it */
	return imap_cmd_no(cmd, "[NOPERM] Permission denied (needs the %s "
			   "right%s)", letters, letters[1] != '\0' ? "s" : "");
}

void
imap_acl_box_deinit(struct imap_acl_box *box)
{
	store_mailbox_free(&box->mb);
	free(box->owner);
	free(box->name);
	memset(box, 0, sizeof(*box));
}

bool
imap_acl_name_is_shared(const char *name)
{
	size_t n = strlen(IMAP_ACL_PREFIX);

	return strncmp(name, IMAP_ACL_PREFIX, n) == 0 &&
	       (name[n] == '\0' || name[n] == '/');
}

char *
imap_acl_client_name(bool shared, const char *owner, const char *name)
{
	if (!shared)
		return xstrdup(name);
	return xasprintf("%s/%s/%s", IMAP_ACL_PREFIX, owner, name);
}

/* "Other Users/owner/name": the owner's account and name; box->owner_id
 * stays 0 when the name names no owner (the root, a level, no such
 * account). */
static enum store_result
resolve_shared(struct store *store, const char *name,
	       struct imap_acl_box *box, const char **error_r)
{
	const char *owner = name + strlen(IMAP_ACL_PREFIX), *slash;
	struct store_user *u = NULL;
	enum store_result r;

	if (*owner != '/')
		return STORE_OK;
	owner++;
	/* an address may hold "/" before its "@", never in its domain:
	 * the owner ends at the first "/" after the "@" (LIST writes the
	 * address as it is) */
	slash = strchr(owner, '@');
	slash = strchr(slash != NULL ? slash : owner, '/');
	if (slash == NULL || slash == owner || slash[1] == '\0')
		return STORE_OK;
	box->owner = xstrndup(owner, (size_t)(slash - owner));
	box->name = xstrdup(slash + 1);
	r = store_user_lookup(store, box->owner, &u, error_r);
	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		return STORE_OK;
	if (r != STORE_OK)
		return r;
	box->owner_id = u->id;
	/* the canonical spelling, as LIST shows it */
	free(box->owner);
	box->owner = xstrdup(u->address);
	store_user_free(&u);
	return STORE_OK;
}

enum store_result
imap_acl_open(struct store *store, int64_t account_id, const char *name,
	      unsigned need, struct imap_acl_box *box_r,
	      enum imap_acl_verdict *verdict_r, const char **error_r)
{
	enum store_result r = STORE_OK;

	memset(box_r, 0, sizeof(*box_r));
	*verdict_r = IMAP_ACL_NONEXISTENT;
	if (imap_acl_name_is_shared(name)) {
		box_r->shared = true;
		r = resolve_shared(store, name, box_r, error_r);
		if (r != STORE_OK || box_r->owner_id == 0)
			return r;
		/* one's own mailboxes are not reached this way */
		if (box_r->owner_id == account_id)
			return STORE_OK;
	} else {
		box_r->owner_id = account_id;
		box_r->name = xstrdup(name);
	}
	r = store_mailbox_lookup(store, box_r->owner_id, box_r->name,
				 &box_r->mb, error_r);
	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		return STORE_OK;
	if (r != STORE_OK)
		return r;
	if (!box_r->shared)
		box_r->rights = STORE_ACL_ALL;
	else {
		r = store_acl_rights(store, box_r->mb->id, account_id,
				     &box_r->rights, error_r);
		if (r == STORE_E_NOT_FOUND) {
			/* deleted meanwhile */
			store_mailbox_free(&box_r->mb);
			return STORE_OK;
		}
		if (r != STORE_OK)
			return r;
	}
	*verdict_r = imap_acl_check(true, box_r->rights, need);
	return STORE_OK;
}

uint32_t
imap_acl_flags_allowed(unsigned rights)
{
	uint32_t flags = 0;

	if (rights & STORE_ACL_SEEN)
		flags |= STORE_FLAG_SEEN;
	if (rights & STORE_ACL_DELETE_MSG)
		flags |= STORE_FLAG_DELETED;
	if (rights & STORE_ACL_WRITE)
		flags |= STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED |
			 STORE_FLAG_DRAFT;
	return flags;
}

bool
imap_acl_keywords_allowed(unsigned rights)
{
	return (rights & STORE_ACL_WRITE) != 0;
}

bool
imap_acl_read_write(unsigned rights)
{
	return (rights & (STORE_ACL_INSERT | STORE_ACL_EXPUNGE |
			  STORE_ACL_SEEN | STORE_ACL_WRITE |
			  STORE_ACL_DELETE_MSG)) != 0;
}
