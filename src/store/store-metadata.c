/* SPDX-License-Identifier: MIT */
/*
 * The backend-independent half of the metadata calls (RFC 5464
 * annotations): arguments checked before they reach the backend, and the
 * values freed.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "store/store-private.h"

/* "/private/x" or "/shared/x" (root true: "/private" and "/shared"
 * alone too); the rest of the syntax is the caller's (imap-metadata.c). */
static bool
name_is_valid(const char *name, bool root)
{
	size_t n;

	if (name == NULL)
		return false;
	if (strncmp(name, "/private", 8) == 0)
		n = 8;
	else if (strncmp(name, "/shared", 7) == 0)
		n = 7;
	else
		return false;
	if (name[n] == '\0')
		return root;
	return name[n] == '/' && name[n + 1] != '\0';
}

enum store_result
store_metadata_set(struct store *store, int64_t account_id,
		   int64_t mailbox_id,
		   const struct store_metadata_change *changes, size_t n,
		   const struct store_metadata_limits *limits,
		   const char **error_r)
{
	if (account_id <= 0 || mailbox_id < 0)
		return store_error(error_r, STORE_E_INVALID,
				   "metadata without account");
	for (size_t i = 0; i < n; i++)
		if (!name_is_valid(changes[i].name, false))
			return store_error(error_r, STORE_E_INVALID,
					   "bad metadata entry name");
	if (n == 0)
		return STORE_OK;
	return store->ops->metadata_set(store, account_id, mailbox_id,
					changes, n, limits, error_r);
}

enum store_result
store_metadata_get(struct store *store, int64_t account_id,
		   int64_t mailbox_id, const char *const *names, size_t n,
		   uint32_t depth, uint64_t maxsize,
		   struct store_metadata_value **v_r, size_t *count_r,
		   const char **error_r)
{
	*v_r = NULL;
	*count_r = 0;
	if (account_id <= 0 || mailbox_id < 0)
		return store_error(error_r, STORE_E_INVALID,
				   "metadata without account");
	for (size_t i = 0; i < n; i++)
		if (!name_is_valid(names[i], true))
			return store_error(error_r, STORE_E_INVALID,
					   "bad metadata entry name");
	if (n == 0)
		return STORE_OK;
	return store->ops->metadata_get(store, account_id, mailbox_id, names,
					n, depth, maxsize, v_r, count_r,
					error_r);
}

void
store_metadata_values_free(struct store_metadata_value **v, size_t n)
{
	if (*v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*v)[i].name);
		free((*v)[i].value);
	}
	xfree(v);
}

enum store_result
store_metadata_changes(struct store *store, int64_t account_id,
		       int64_t since, struct store_metadata_changed **v_r,
		       size_t *count_r, int64_t *last_r,
		       const char **error_r)
{
	if (v_r != NULL)
		*v_r = NULL;
	*count_r = 0;
	*last_r = since;
	if (account_id <= 0)
		return store_error(error_r, STORE_E_INVALID,
				   "metadata without account");
	if (store->ops->metadata_changes == NULL)
		return STORE_OK;
	return store->ops->metadata_changes(store, account_id, since, v_r,
					    count_r, last_r, error_r);
}

void
store_metadata_changed_free(struct store_metadata_changed **v, size_t n)
{
	if (*v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*v)[i].name);
	xfree(v);
}
