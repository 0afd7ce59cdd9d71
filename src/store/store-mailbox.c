/* SPDX-License-Identifier: MIT */
/*
 * Mailbox management in front of the backend: the name rules (UTF-8, "/"
 * levels, INBOX in any case), canonical names, argument checks, then the
 * backend's create, delete, rename, subscribe and lookups.
 */
#include "store/store-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "lib/utf8.h"

enum store_result
store_mailbox_name_check(const char *name, size_t name_max,
			 const char **error_r)
{
	size_t len = name != NULL ? strlen(name) : 0;
	const uint8_t *p = (const uint8_t *)name;

	if (len == 0)
		return store_error(error_r, STORE_E_INVALID,
				   "empty mailbox name");
	if (name_max != 0 && len > name_max)
		return store_error(error_r, STORE_E_INVALID,
				   "mailbox name longer than %zu octets",
				   name_max);
	if (name[0] == STORE_MAILBOX_DELIM ||
	    name[len - 1] == STORE_MAILBOX_DELIM ||
	    strstr(name, "//") != NULL)
		return store_error(error_r, STORE_E_INVALID,
				   "mailbox name with an empty level");
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);

		if (n == 0)
			return store_error(error_r, STORE_E_INVALID,
					   "mailbox name is not UTF-8");
		/* Controls have no place in a name a client shows, and
		 * modified UTF-7 cannot carry them (imap-utf7.h). */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return store_error(error_r, STORE_E_INVALID,
					   "control character in mailbox"
					   " name");
		/* RFC 9755 3 (Net-Unicode, RFC 5198 2): no line or
		 * paragraph separator either */
		if (cp == 0x2028 || cp == 0x2029)
			return store_error(error_r, STORE_E_INVALID,
					   "line or paragraph separator in"
					   " mailbox name");
		i += n;
	}
	return STORE_OK;
}

char *
store_mailbox_name_canonical(const char *name)
{
	char *copy = xstrdup(name);

	/* RFC 9051 5.1: INBOX is case-insensitive; its children follow it
	 * ("inbox/x" is "INBOX/x"), as in Dovecot, so one mailbox never has
	 * two spellings. */
	if (strncasecmp(copy, "INBOX", 5) == 0 &&
	    (copy[5] == '\0' || copy[5] == STORE_MAILBOX_DELIM))
		memcpy(copy, "INBOX", 5);
	return copy;
}

/* Checks name and gives its canonical form (NULL on error). */
static char *
name_prepare(const char *name, size_t name_max, enum store_result *r_r,
	     const char **error_r)
{
	*r_r = store_mailbox_name_check(name, name_max, error_r);
	return *r_r == STORE_OK ? store_mailbox_name_canonical(name) : NULL;
}

static const struct store_mailbox_limits no_limits;

enum store_result
store_mailbox_find(struct store *store, int64_t account_id, const char *name,
		   int64_t *id_r, const char **error_r)
{
	enum store_result r;
	char *canon = name_prepare(name, 0, &r, error_r);
	int64_t id = 0;

	if (canon != NULL) {
		r = store->ops->mailbox_find(store, account_id, canon, &id,
					     error_r);
		free(canon);
	}
	if (id_r != NULL)
		*id_r = r == STORE_OK ? id : 0;
	return r;
}

enum store_result
store_mailbox_create(struct store *store, int64_t account_id, const char *name,
		     enum store_role role,
		     const struct store_mailbox_limits *limits, int64_t *id_r,
		     const char **error_r)
{
	enum store_result r;
	char *canon;
	int64_t id = 0;

	if (limits == NULL)
		limits = &no_limits;
	if (id_r != NULL)
		*id_r = 0;
	if (role < STORE_ROLE_NONE || role >= STORE_ROLE_COUNT ||
	    role == STORE_ROLE_INBOX)
		return store_error(error_r, STORE_E_INVALID,
				   "a new mailbox cannot have that role");
	canon = name_prepare(name, limits->name_max, &r, error_r);
	if (canon == NULL)
		return r;
	if (strcmp(canon, "INBOX") == 0)
		r = store_error(error_r, STORE_E_EXISTS,
				"INBOX always exists");
	else
		r = store->ops->mailbox_create(store, account_id, canon, role,
					       limits, &id, error_r);
	free(canon);
	if (id_r != NULL)
		*id_r = id;
	return r;
}

enum store_result
store_mailbox_delete(struct store *store, int64_t account_id, const char *name,
		     int64_t *id_r, const char **error_r)
{
	return store_mailbox_delete_id(store, account_id, name, 0, id_r,
				       error_r);
}

enum store_result
store_mailbox_delete_id(struct store *store, int64_t account_id,
			const char *name, int64_t expect_id, int64_t *id_r,
			const char **error_r)
{
	enum store_result r;
	char *canon = name_prepare(name, 0, &r, error_r);
	int64_t id = 0;

	if (canon != NULL) {
		if (strcmp(canon, "INBOX") == 0)
			r = store_error(error_r, STORE_E_INVALID,
					"INBOX cannot be deleted");
		else
			r = store->ops->mailbox_delete(store, account_id,
						       canon, expect_id, &id,
						       error_r);
		free(canon);
	}
	if (id_r != NULL)
		*id_r = id;
	return r;
}

enum store_result
store_mailbox_rename(struct store *store, int64_t account_id, const char *from,
		     const char *to, const struct store_mailbox_limits *limits,
		     const char **error_r)
{
	return store_mailbox_rename_id(store, account_id, from, 0, to, limits,
				       error_r);
}

enum store_result
store_mailbox_rename_id(struct store *store, int64_t account_id,
			const char *from, int64_t expect_id, const char *to,
			const struct store_mailbox_limits *limits,
			const char **error_r)
{
	enum store_result r;
	char *cfrom, *cto;
	size_t flen;

	if (limits == NULL)
		limits = &no_limits;
	cfrom = name_prepare(from, 0, &r, error_r);
	if (cfrom == NULL)
		return r;
	cto = name_prepare(to, limits->name_max, &r, error_r);
	if (cto == NULL) {
		free(cfrom);
		return r;
	}
	flen = strlen(cfrom);
	if (strcmp(cto, "INBOX") == 0 || strcmp(cto, cfrom) == 0)
		r = store_error(error_r, STORE_E_EXISTS,
				"mailbox %s already exists", cto);
	else if (strcmp(cfrom, "INBOX") != 0 &&
		 strncmp(cto, cfrom, flen) == 0 &&
		 cto[flen] == STORE_MAILBOX_DELIM)
		r = store_error(error_r, STORE_E_INVALID,
				"cannot move mailbox %s under itself", cfrom);
	else
		r = store->ops->mailbox_rename(store, account_id, cfrom,
					       expect_id, cto, limits,
					       error_r);
	free(cfrom);
	free(cto);
	return r;
}

enum store_result
store_mailbox_subscribe(struct store *store, int64_t account_id,
			const char *name, bool subscribe,
			const struct store_mailbox_limits *limits,
			const char **error_r)
{
	enum store_result r;
	char *canon;

	if (limits == NULL)
		limits = &no_limits;
	/* Unsubscribing must work for any name that was ever stored,
	 * whatever the limits are now. */
	canon = name_prepare(name, subscribe ? limits->name_max : 0, &r,
			     error_r);
	if (canon == NULL)
		return r;
	r = store->ops->mailbox_subscribe(store, account_id, canon, subscribe,
					  limits, error_r);
	free(canon);
	return r;
}

enum store_result
store_subscription_list(struct store *store, int64_t account_id,
			char ***names_r, size_t *count_r, const char **error_r)
{
	*names_r = NULL;
	*count_r = 0;
	return store->ops->subscription_list(store, account_id, names_r,
					     count_r, error_r);
}
