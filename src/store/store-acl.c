/* SPDX-License-Identifier: MIT */
/*
 * Access control lists (RFC 4314) in the store: the rights letters as
 * bits, both ways, and the checks in front of the backend's ACL
 * operations. The IMAP commands and `herald share` both go through here;
 * docs/store.md "Access control" describes the table.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "store/store-private.h"

int
store_acl_rights_parse(const char *s, size_t len, unsigned *rights_r,
		       const char **error_r)
{
	static const char letters[] = STORE_ACL_LETTERS;
	unsigned rights = 0;

	for (size_t i = 0; i < len; i++) {
		const char *p;

		/* RFC 4314 2.1.1: the virtual rights stand for their
		 * members; Herald's "create" is "k" alone and its "delete"
		 * is "xte" (the mailbox and its messages) */
		if (s[i] == 'c') {
			rights |= STORE_ACL_CREATE;
			continue;
		}
		if (s[i] == 'd') {
			rights |= STORE_ACL_DELETE_MAILBOX |
				  STORE_ACL_DELETE_MSG | STORE_ACL_EXPUNGE;
			continue;
		}
		p = s[i] == '\0' ? NULL : strchr(letters, s[i]);
		if (p == NULL) {
			/* RFC 4314 3.1: an unknown right is an error, never
			 * silently dropped */
			*error_r = s[i] >= 'A' && s[i] <= 'Z' ?
				"Upper-case rights are not allowed" :
				"Unknown right (Herald knows lrswipkxtea, "
				"c and d)";
			return -1;
		}
		rights |= 1u << (p - letters);
	}
	*rights_r = rights;
	return 0;
}

void
store_acl_rights_format(unsigned rights, bool virtual,
			char out[STORE_ACL_RIGHTS_SIZE])
{
	static const char letters[] = STORE_ACL_LETTERS;
	size_t n = 0;

	for (size_t i = 0; letters[i] != '\0'; i++)
		if (rights & (1u << i))
			out[n++] = letters[i];
	if (virtual && (rights & STORE_ACL_CREATE))
		out[n++] = 'c';
	if (virtual && (rights & (STORE_ACL_DELETE_MAILBOX |
				  STORE_ACL_DELETE_MSG | STORE_ACL_EXPUNGE)))
		out[n++] = 'd';
	out[n] = '\0';
}

enum store_result
store_acl_get(struct store *store, int64_t mailbox_id,
	      struct store_acl_entry **entries_r, size_t *count_r,
	      const char **error_r)
{
	*entries_r = NULL;
	*count_r = 0;
	return store->ops->acl_get(store, mailbox_id, entries_r, count_r,
				   error_r);
}

void
store_acl_entries_free(struct store_acl_entry **entries, size_t count)
{
	if (*entries == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free((*entries)[i].grantee);
	xfree(entries);
}

enum store_result
store_acl_set(struct store *store, int64_t mailbox_id, int64_t grantee_id,
	      unsigned rights, const char **error_r)
{
	if ((rights & ~STORE_ACL_ALL) != 0 || grantee_id < 0)
		return store_error(error_r, STORE_E_INVALID, "bad rights");
	return store->ops->acl_set(store, mailbox_id, grantee_id, rights,
				   error_r);
}

enum store_result
store_acl_delete(struct store *store, int64_t mailbox_id, int64_t grantee_id,
		 const char **error_r)
{
	return store_acl_set(store, mailbox_id, grantee_id, 0, error_r);
}

enum store_result
store_acl_rights(struct store *store, int64_t mailbox_id, int64_t account_id,
		 unsigned *rights_r, const char **error_r)
{
	*rights_r = 0;
	return store->ops->acl_rights(store, mailbox_id, account_id, rights_r,
				      error_r);
}

enum store_result
store_acl_shared_list(struct store *store, int64_t account_id,
		      struct store_acl_shared **shared_r, size_t *count_r,
		      const char **error_r)
{
	*shared_r = NULL;
	*count_r = 0;
	return store->ops->acl_shared_list(store, account_id, shared_r,
					   count_r, error_r);
}

void
store_acl_shared_free(struct store_acl_shared **shared, size_t count)
{
	if (*shared == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*shared)[i].owner);
		free((*shared)[i].name);
	}
	xfree(shared);
}

enum store_result
store_acl_share_list(struct store *store, int64_t owner_id,
		     struct store_acl_share **shares_r, size_t *count_r,
		     const char **error_r)
{
	*shares_r = NULL;
	*count_r = 0;
	return store->ops->acl_share_list(store, owner_id, shares_r, count_r,
					  error_r);
}

void
store_acl_shares_free(struct store_acl_share **shares, size_t count)
{
	if (*shares == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*shares)[i].owner);
		free((*shares)[i].mailbox);
		free((*shares)[i].grantee);
	}
	xfree(shares);
}
