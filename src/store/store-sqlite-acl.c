/* SPDX-License-Identifier: MIT */
/*
 * Access control lists on SQLite (table mailbox_acl, migration 13): an
 * entry per mailbox and grantee, the rights a grantee has on a mailbox,
 * the mailboxes shared with an account and the list for administrators.
 */
#include "store/store-sqlite-private.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

#define ADDRESS(a, d) a ".localpart || '@' || " d ".name"

/* Rights text as stored (the letters, written by this file), or several
 * entries' texts run together: their union. */
static unsigned
rights_col(sqlite3_stmt *stmt, int col)
{
	const char *t = (const char *)sqlite3_column_text(stmt, col);
	const char *error;
	unsigned rights = 0;

	if (t != NULL &&
	    store_acl_rights_parse(t, strlen(t), &rights, &error) < 0)
		/* a hand-edited row: the letters that parse would be a
		 * guess, none is the safe side */
		rights = 0;
	return rights;
}

static enum store_result
mailbox_owner(sqlite3 *db, int64_t mailbox_id, int64_t *owner_r,
	      const char **error_r)
{
	int rc = sqlite_int(db, owner_r, "SELECT account_id FROM mailboxes"
			    " WHERE id = ?", "i", mailbox_id);

	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "mailbox %lld does not exist",
				   (long long)mailbox_id);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox lookup", error_r);
	return STORE_OK;
}

enum store_result
sqlite_acl_get(struct store *store, int64_t mailbox_id,
	       struct store_acl_entry **entries_r, size_t *count_r,
	       const char **error_r)
{
	struct store_acl_entry *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int64_t owner;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	r = mailbox_owner(db, mailbox_id, &owner, error_r);
	if (r != STORE_OK)
		goto out;
	rc = sqlite_prep(db, &stmt, "SELECT acl.grantee_id, CASE"
			 " WHEN acl.grantee_id = 0 THEN 'anyone' ELSE "
			 ADDRESS("a", "d") " END, acl.rights"
			 " FROM mailbox_acl acl"
			 " LEFT JOIN accounts a ON a.id = acl.grantee_id"
			 " LEFT JOIN domains d ON d.id = a.domain_id"
			 " WHERE acl.mailbox_id = ?"
			 " AND (acl.grantee_id = 0 OR a.id IS NOT NULL)"
			 " ORDER BY acl.grantee_id != 0, 2", "i", mailbox_id);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "acl read", error_r);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].grantee_id = sqlite3_column_int64(stmt, 0);
		v[n].grantee = sqlite_col_strdup(stmt, 1);
		v[n].rights = rights_col(stmt, 2);
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "acl read", error_r);
		store_acl_entries_free(&v, n);
		goto out;
	}
	*entries_r = v;
	*count_r = n;
out:
	sqlite_reader_put(store, db);
	return r;
}

struct acl_set_ctx {
	int64_t mailbox_id;
	int64_t grantee_id;
	unsigned rights;
};

static enum store_result
run_acl_set(struct store *store, void *ctx, const char **error_r)
{
	struct acl_set_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	char text[STORE_ACL_RIGHTS_SIZE];
	int64_t owner, v;
	enum store_result r;
	int rc;

	r = mailbox_owner(db, c->mailbox_id, &owner, error_r);
	if (r != STORE_OK)
		return r;
	if (c->grantee_id == owner)
		return store_error(error_r, STORE_E_INVALID,
				   "the owner always has every right");
	if (c->grantee_id != STORE_ACL_ANYONE && c->rights != 0) {
		rc = sqlite_int(db, &v, "SELECT id FROM accounts WHERE id = ?",
				"i", c->grantee_id);
		if (rc == SQLITE_DONE)
			return store_error(error_r, STORE_E_NOT_FOUND,
					   "account %lld does not exist",
					   (long long)c->grantee_id);
		if (rc != SQLITE_ROW)
			return sqlite_fail(db, "account lookup", error_r);
	}
	if (c->rights == 0) {
		if (sqlite_exec(db, "DELETE FROM mailbox_acl WHERE"
				" mailbox_id = ? AND grantee_id = ?", "ii",
				c->mailbox_id, c->grantee_id) != SQLITE_OK)
			return sqlite_fail(db, "acl delete", error_r);
		return STORE_OK;
	}
	store_acl_rights_format(c->rights, false, text);
	if (sqlite_exec(db, "INSERT INTO mailbox_acl (mailbox_id, grantee_id,"
			" rights) VALUES (?, ?, ?) ON CONFLICT (mailbox_id,"
			" grantee_id) DO UPDATE SET rights = excluded.rights",
			"iit", c->mailbox_id, c->grantee_id, text) !=
	    SQLITE_OK)
		return sqlite_fail(db, "acl set", error_r);
	return STORE_OK;
}

enum store_result
sqlite_acl_set(struct store *store, int64_t mailbox_id, int64_t grantee_id,
	       unsigned rights, const char **error_r)
{
	struct acl_set_ctx c = { .mailbox_id = mailbox_id,
				 .grantee_id = grantee_id, .rights = rights };

	return store_commit_run(store, run_acl_set, &c, error_r);
}

enum store_result
sqlite_acl_rights(struct store *store, int64_t mailbox_id, int64_t account_id,
		  unsigned *rights_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int64_t owner;
	enum store_result r;
	bool cached;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	r = mailbox_owner(db, mailbox_id, &owner, error_r);
	if (r != STORE_OK || owner == account_id) {
		*rights_r = r == STORE_OK ? STORE_ACL_ALL : 0;
		sqlite_reader_put(store, db);
		return r;
	}
	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT group_concat("
				"rights, '') FROM mailbox_acl WHERE"
				" mailbox_id = ? AND grantee_id IN (?, 0)",
				"ii", mailbox_id, account_id);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			*rights_r = rights_col(stmt, 0);
		sqlite_stmt_done(stmt, cached);
	}
	if (rc != SQLITE_ROW)
		r = sqlite_fail(db, "acl read", error_r);
	sqlite_reader_put(store, db);
	return r;
}

enum store_result
sqlite_acl_shared_list(struct store *store, int64_t account_id,
		       struct store_acl_shared **shared_r, size_t *count_r,
		       const char **error_r)
{
	struct store_acl_shared *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *stmt;
	sqlite3 *db;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	rc = sqlite_prep(db, &stmt, "SELECT m.id, m.account_id, "
			 ADDRESS("a", "d") ", m.name, m.subscribed,"
			 " group_concat(acl.rights, '')"
			 " FROM mailbox_acl acl"
			 " JOIN mailboxes m ON m.id = acl.mailbox_id"
			 " JOIN accounts a ON a.id = m.account_id"
			 " JOIN domains d ON d.id = a.domain_id"
			 " WHERE acl.grantee_id IN (?, 0)"
			 " AND m.account_id != ?"
			 " GROUP BY m.id ORDER BY 3, m.name", "ii",
			 account_id, account_id);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "shared list", error_r);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].mailbox_id = sqlite3_column_int64(stmt, 0);
		v[n].owner_id = sqlite3_column_int64(stmt, 1);
		v[n].owner = sqlite_col_strdup(stmt, 2);
		v[n].name = sqlite_col_strdup(stmt, 3);
		v[n].subscribed = sqlite3_column_int64(stmt, 4) != 0;
		v[n].rights = rights_col(stmt, 5);
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "shared list", error_r);
		store_acl_shared_free(&v, n);
		goto out;
	}
	*shared_r = v;
	*count_r = n;
out:
	sqlite_reader_put(store, db);
	return r;
}

enum store_result
sqlite_acl_share_list(struct store *store, int64_t owner_id,
		      struct store_acl_share **shares_r, size_t *count_r,
		      const char **error_r)
{
	struct store_acl_share *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *stmt;
	sqlite3 *db;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	rc = sqlite_prep(db, &stmt, "SELECT " ADDRESS("oa", "od") ", m.name,"
			 " CASE WHEN acl.grantee_id = 0 THEN 'anyone' ELSE "
			 ADDRESS("ga", "gd") " END, acl.rights"
			 " FROM mailbox_acl acl"
			 " JOIN mailboxes m ON m.id = acl.mailbox_id"
			 " JOIN accounts oa ON oa.id = m.account_id"
			 " JOIN domains od ON od.id = oa.domain_id"
			 " LEFT JOIN accounts ga ON ga.id = acl.grantee_id"
			 " LEFT JOIN domains gd ON gd.id = ga.domain_id"
			 " WHERE (? = 0 OR m.account_id = ?)"
			 " AND (acl.grantee_id = 0 OR ga.id IS NOT NULL)"
			 " ORDER BY 1, 2, acl.grantee_id != 0, 3", "ii",
			 owner_id, owner_id);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "share list", error_r);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].owner = sqlite_col_strdup(stmt, 0);
		v[n].mailbox = sqlite_col_strdup(stmt, 1);
		v[n].grantee = sqlite_col_strdup(stmt, 2);
		v[n].rights = rights_col(stmt, 3);
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "share list", error_r);
		store_acl_shares_free(&v, n);
		goto out;
	}
	*shares_r = v;
	*count_r = n;
out:
	sqlite_reader_put(store, db);
	return r;
}
