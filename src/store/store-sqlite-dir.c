/* SPDX-License-Identifier: MIT */
/*
 * The directory on SQLite: domains, accounts and aliases. Writes run as
 * group-committed operations on the writer connection; reads borrow a
 * reader connection.
 */
#include "store/store-sqlite-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"

/* The mailboxes every new account gets (RFC 6154 roles). */
static const struct {
	const char *name;
	enum store_role role;
} default_mailboxes[] = {
	{ "INBOX", STORE_ROLE_INBOX },
	{ "Drafts", STORE_ROLE_DRAFTS },
	{ "Sent", STORE_ROLE_SENT },
	{ "Junk", STORE_ROLE_JUNK },
	{ "Trash", STORE_ROLE_TRASH },
	{ "Archive", STORE_ROLE_ARCHIVE },
};

struct dir_ctx {
	const char *local;
	const char *domain;
	const char *hash;
	const char *scram;
	const char *target;
	uint64_t quota;
	bool messages;	/* quota is quota_messages, not quota_bytes */
	bool force;
	int64_t id;
};

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

/* Domain id by name: STORE_OK, STORE_E_NOT_FOUND or a failure. */
static enum store_result
domain_id(sqlite3 *db, const char *domain, int64_t *id_r,
	  const char **error_r)
{
	int rc = sqlite_int(db, id_r, "SELECT id FROM domains WHERE name = ?",
			    "t", domain);

	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "domain %s does not exist", domain);
	return sqlite_fail(db, "domain lookup", error_r);
}

static enum store_result
account_id(sqlite3 *db, const char *local, const char *domain, int64_t *id_r,
	   const char **error_r)
{
	int rc = sqlite_int(db, id_r,
			    "SELECT a.id FROM accounts a JOIN domains d"
			    " ON d.id = a.domain_id"
			    " WHERE d.name = ? AND a.localpart = ?",
			    "tt", domain, local);

	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "user %s@%s does not exist", local, domain);
	return sqlite_fail(db, "user lookup", error_r);
}

/* ---- domains ---- */

static enum store_result
run_domain_add(struct store *store, void *ctx, const char **error_r)
{
	struct dir_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t id;
	enum store_result r = domain_id(db, c->domain, &id, NULL);

	if (r == STORE_OK)
		return store_error(error_r, STORE_E_EXISTS,
				   "domain %s already exists", c->domain);
	if (r != STORE_E_NOT_FOUND)
		return domain_id(db, c->domain, &id, error_r);
	if (sqlite_exec(db, "INSERT INTO domains (name, created)"
			" VALUES (?, ?)", "ti", c->domain, now()) != SQLITE_OK)
		return sqlite_fail(db, "domain insert", error_r);
	return STORE_OK;
}

enum store_result
sqlite_domain_add(struct store *store, const char *domain,
		  const char **error_r)
{
	struct dir_ctx c = { .domain = domain };

	return store_commit_run(store, run_domain_add, &c, error_r);
}

static enum store_result
run_domain_del(struct store *store, void *ctx, const char **error_r)
{
	struct dir_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t id, users = 0, aliases = 0;
	enum store_result r = domain_id(db, c->domain, &id, error_r);

	if (r != STORE_OK)
		return r;
	if (sqlite_int(db, &users, "SELECT count(*) FROM accounts"
		       " WHERE domain_id = ?", "i", id) != SQLITE_ROW ||
	    sqlite_int(db, &aliases, "SELECT count(*) FROM aliases"
		       " WHERE domain_id = ?", "i", id) != SQLITE_ROW)
		return sqlite_fail(db, "domain usage", error_r);
	if ((users > 0 || aliases > 0) && !c->force)
		return store_error(error_r, STORE_E_IN_USE,
				   "domain %s has %lld users and %lld aliases;"
				   " delete them first or force",
				   c->domain, (long long)users,
				   (long long)aliases);
	/* Accounts, their mailboxes, messages, and aliases go by cascade. */
	if (sqlite_exec(db, "DELETE FROM domains WHERE id = ?", "i", id) !=
	    SQLITE_OK)
		return sqlite_fail(db, "domain delete", error_r);
	return STORE_OK;
}

enum store_result
sqlite_domain_del(struct store *store, const char *domain, bool force,
		  const char **error_r)
{
	struct dir_ctx c = { .domain = domain, .force = force };

	return store_commit_run(store, run_domain_del, &c, error_r);
}

enum store_result
sqlite_domain_list(struct store *store, char ***names_r, size_t *count_r,
		   const char **error_r)
{
	return sqlite_query_strv(store, names_r, count_r, error_r, "query",
				 "SELECT name FROM domains ORDER BY name", "");
}

enum store_result
sqlite_domain_exists(struct store *store, const char *domain, bool *exists_r,
		     const char **error_r)
{
	sqlite3 *db;
	int64_t id;
	enum store_result r = sqlite_reader_get(store, &db, error_r);

	if (r != STORE_OK)
		return r;
	r = domain_id(db, domain, &id, error_r);
	sqlite_reader_put(store, db);
	*exists_r = r == STORE_OK;
	return r == STORE_E_NOT_FOUND ? STORE_OK : r;
}

/* ---- accounts ---- */

static enum store_result
run_user_add(struct store *store, void *ctx, const char **error_r)
{
	struct dir_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t did, id;
	enum store_result r;

	r = domain_id(db, c->domain, &did, error_r);
	if (r == STORE_E_NOT_FOUND)
		return store_error(error_r, r, "domain %s does not exist;"
				   " add the domain first", c->domain);
	if (r != STORE_OK)
		return r;
	r = account_id(db, c->local, c->domain, &id, NULL);
	if (r == STORE_OK)
		return store_error(error_r, STORE_E_EXISTS,
				   "user %s@%s already exists", c->local,
				   c->domain);
	if (r != STORE_E_NOT_FOUND)
		return account_id(db, c->local, c->domain, &id, error_r);
	if (c->quota > INT64_MAX)
		return store_error(error_r, STORE_E_INVALID, "bad quota");
	if (sqlite_exec(db, "INSERT INTO accounts (domain_id, localpart,"
			" password_hash, scram_sha256, quota_bytes, created)"
			" VALUES (?, ?, ?, ?, ?, ?)", "itttii", did, c->local,
			c->hash, c->scram, (int64_t)c->quota, now()) !=
	    SQLITE_OK)
		return sqlite_fail(db, "user insert", error_r);
	c->id = sqlite3_last_insert_rowid(db);
	for (size_t i = 0; i < sizeof(default_mailboxes) /
	     sizeof(default_mailboxes[0]); i++) {
		r = sqlite_mailbox_create(db, c->id, default_mailboxes[i].name,
					  default_mailboxes[i].role, true,
					  NULL, error_r);
		if (r != STORE_OK)
			return r;
	}
	return STORE_OK;
}

enum store_result
sqlite_user_add(struct store *store, const char *local, const char *domain,
		const char *hash, const char *scram, uint64_t quota,
		int64_t *id_r, const char **error_r)
{
	struct dir_ctx c = { .local = local, .domain = domain, .hash = hash,
			     .scram = scram, .quota = quota };
	enum store_result r = store_commit_run(store, run_user_add, &c,
					       error_r);

	*id_r = c.id;
	return r;
}

static enum store_result
run_user_del(struct store *store, void *ctx, const char **error_r)
{
	struct dir_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t id;
	enum store_result r = account_id(db, c->local, c->domain, &id,
					 error_r);

	if (r != STORE_OK)
		return r;
	/* Mailboxes, messages, keywords, threads, thread_msgids, changes: by
	 * cascade. Blobs stay until a garbage collection finds them
	 * unreferenced. */
	if (sqlite_exec(db, "DELETE FROM accounts WHERE id = ?", "i", id) !=
	    SQLITE_OK)
		return sqlite_fail(db, "user delete", error_r);
	return STORE_OK;
}

enum store_result
sqlite_user_del(struct store *store, const char *local, const char *domain,
		const char **error_r)
{
	struct dir_ctx c = { .local = local, .domain = domain };

	return store_commit_run(store, run_user_del, &c, error_r);
}

static enum store_result
run_user_set_password(struct store *store, void *ctx, const char **error_r)
{
	struct dir_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t id;
	enum store_result r = account_id(db, c->local, c->domain, &id,
					 error_r);

	if (r != STORE_OK)
		return r;
	if (sqlite_exec(db, "UPDATE accounts SET password_hash = ?,"
			" scram_sha256 = ? WHERE id = ?", "tti", c->hash,
			c->scram, id) != SQLITE_OK)
		return sqlite_fail(db, "password update", error_r);
	return STORE_OK;
}

enum store_result
sqlite_user_set_password(struct store *store, const char *local,
			 const char *domain, const char *hash,
			 const char *scram, const char **error_r)
{
	struct dir_ctx c = { .local = local, .domain = domain, .hash = hash,
			     .scram = scram };

	return store_commit_run(store, run_user_set_password, &c, error_r);
}

static enum store_result
run_user_set_quota(struct store *store, void *ctx, const char **error_r)
{
	struct dir_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t id;
	enum store_result r = account_id(db, c->local, c->domain, &id,
					 error_r);

	if (r != STORE_OK)
		return r;
	if (c->quota > INT64_MAX)
		return store_error(error_r, STORE_E_INVALID, "bad quota");
	if (sqlite_exec(db, c->messages ?
			"UPDATE accounts SET quota_messages = ? WHERE id = ?" :
			"UPDATE accounts SET quota_bytes = ? WHERE id = ?",
			"ii", (int64_t)c->quota, id) != SQLITE_OK)
		return sqlite_fail(db, "quota update", error_r);
	return STORE_OK;
}

enum store_result
sqlite_user_set_quota(struct store *store, const char *local,
		      const char *domain, uint64_t quota, const char **error_r)
{
	struct dir_ctx c = { .local = local, .domain = domain,
			     .quota = quota };

	return store_commit_run(store, run_user_set_quota, &c, error_r);
}

enum store_result
sqlite_user_set_message_quota(struct store *store, const char *local,
			      const char *domain, uint64_t quota,
			      const char **error_r)
{
	struct dir_ctx c = { .local = local, .domain = domain,
			     .quota = quota, .messages = true };

	return store_commit_run(store, run_user_set_quota, &c, error_r);
}

#define USER_COLUMNS \
	"SELECT a.id, a.localpart || '@' || d.name, a.password_hash," \
	" a.scram_sha256, a.quota_bytes, a.used_bytes, a.used_messages," \
	" a.created, a.quota_messages" \
	" FROM accounts a JOIN domains d ON d.id = a.domain_id "

static void
user_from_row(sqlite3_stmt *stmt, struct store_user *u)
{
	u->id = sqlite3_column_int64(stmt, 0);
	u->address = sqlite_col_strdup(stmt, 1);
	u->password_hash = sqlite_col_strdup(stmt, 2);
	u->scram_sha256 = sqlite_col_strdup(stmt, 3);
	u->quota_bytes = (uint64_t)sqlite3_column_int64(stmt, 4);
	u->used_bytes = (uint64_t)sqlite3_column_int64(stmt, 5);
	u->used_messages = (uint64_t)sqlite3_column_int64(stmt, 6);
	u->created = sqlite3_column_int64(stmt, 7);
	u->quota_messages = (uint64_t)sqlite3_column_int64(stmt, 8);
}

enum store_result
sqlite_user_lookup(struct store *store, const char *local, const char *domain,
		   int64_t id, struct store_user **user_r,
		   const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (local != NULL)
		rc = sqlite_prep(db, &stmt, USER_COLUMNS
				 "WHERE d.name = ? AND a.localpart = ?", "tt",
				 domain, local);
	else
		rc = sqlite_prep(db, &stmt, USER_COLUMNS "WHERE a.id = ?",
				 "i", id);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "user lookup", error_r);
	} else {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			*user_r = xcalloc(1, sizeof(**user_r));
			user_from_row(stmt, *user_r);
		} else if (rc == SQLITE_DONE && local != NULL) {
			r = store_error(error_r, STORE_E_NOT_FOUND,
					"user %s@%s does not exist", local,
					domain);
		} else if (rc == SQLITE_DONE) {
			r = store_error(error_r, STORE_E_NOT_FOUND,
					"user %lld does not exist",
					(long long)id);
		} else {
			r = sqlite_fail(db, "user lookup", error_r);
		}
		sqlite3_finalize(stmt);
	}
	sqlite_reader_put(store, db);
	return r;
}

enum store_result
sqlite_user_list(struct store *store, const char *domain,
		 struct store_user **users_r, size_t *count_r,
		 const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct store_user *v = NULL;
	size_t n = 0, cap = 0;
	int64_t did;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (domain != NULL) {
		r = domain_id(db, domain, &did, error_r);
		if (r != STORE_OK) {
			sqlite_reader_put(store, db);
			return r;
		}
		rc = sqlite_prep(db, &stmt, USER_COLUMNS "WHERE d.id = ?"
				 " ORDER BY d.name, a.localpart", "i", did);
	} else {
		rc = sqlite_prep(db, &stmt, USER_COLUMNS
				 "ORDER BY d.name, a.localpart", NULL);
	}
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "user list", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		user_from_row(stmt, &v[n++]);
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "user list", error_r);
		store_users_free(&v, n);
		n = 0;
	}
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*users_r = v;
	*count_r = n;
	return r;
}

/* ---- aliases ---- */

static enum store_result
run_alias_add(struct store *store, void *ctx, const char **error_r)
{
	struct dir_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t did, n = 0;
	enum store_result r = domain_id(db, c->domain, &did, error_r);

	if (r != STORE_OK)
		return r;
	if (sqlite_int(db, &n, "SELECT count(*) FROM aliases WHERE"
		       " domain_id = ? AND localpart = ? AND target = ?",
		       "itt", did, c->local, c->target) != SQLITE_ROW)
		return sqlite_fail(db, "alias lookup", error_r);
	if (n > 0)
		return store_error(error_r, STORE_E_EXISTS,
				   "alias %s@%s -> %s already exists",
				   c->local, c->domain, c->target);
	if (sqlite_exec(db, "INSERT INTO aliases (domain_id, localpart,"
			" target, created) VALUES (?, ?, ?, ?)", "itti", did,
			c->local, c->target, now()) != SQLITE_OK)
		return sqlite_fail(db, "alias insert", error_r);
	return STORE_OK;
}

enum store_result
sqlite_alias_add(struct store *store, const char *local, const char *domain,
		 const char *target, const char **error_r)
{
	struct dir_ctx c = { .local = local, .domain = domain,
			     .target = target };

	return store_commit_run(store, run_alias_add, &c, error_r);
}

static enum store_result
run_alias_del(struct store *store, void *ctx, const char **error_r)
{
	struct dir_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t did;
	enum store_result r = domain_id(db, c->domain, &did, error_r);
	int rc;

	if (r != STORE_OK)
		return r;
	if (c->target != NULL)
		rc = sqlite_exec(db, "DELETE FROM aliases WHERE domain_id = ?"
				 " AND localpart = ? AND target = ?", "itt",
				 did, c->local, c->target);
	else
		rc = sqlite_exec(db, "DELETE FROM aliases WHERE domain_id = ?"
				 " AND localpart = ?", "it", did, c->local);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "alias delete", error_r);
	if (sqlite3_changes(db) == 0)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "no such alias %s@%s", c->local,
				   c->domain);
	return STORE_OK;
}

enum store_result
sqlite_alias_del(struct store *store, const char *local, const char *domain,
		 const char *target, const char **error_r)
{
	struct dir_ctx c = { .local = local, .domain = domain,
			     .target = target };

	return store_commit_run(store, run_alias_del, &c, error_r);
}

enum store_result
sqlite_alias_list(struct store *store, const char *domain,
		  struct store_alias **aliases_r, size_t *count_r,
		  const char **error_r)
{
	static const char sql[] =
		"SELECT a.localpart || '@' || d.name, a.target"
		" FROM aliases a JOIN domains d ON d.id = a.domain_id"
		" WHERE ?1 IS NULL OR d.name = ?1"
		" ORDER BY d.name, a.localpart, a.target";
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct store_alias *v = NULL;
	size_t n = 0, cap = 0;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite_prep(db, &stmt, sql, "t", domain) != SQLITE_OK) {
		r = sqlite_fail(db, "alias list", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].source = sqlite_col_strdup(stmt, 0);
		v[n].target = sqlite_col_strdup(stmt, 1);
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "alias list", error_r);
		store_aliases_free(&v, n);
		n = 0;
	}
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*aliases_r = v;
	*count_r = n;
	return r;
}

enum store_result
sqlite_alias_resolve(struct store *store, const char *local,
		     const char *domain, char ***targets_r, size_t *count_r,
		     const char **error_r)
{
	static const char sql[] =
		"SELECT a.target FROM aliases a JOIN domains d"
		" ON d.id = a.domain_id WHERE d.name = ? AND a.localpart = ?"
		" ORDER BY a.id";
	enum store_result r;

	r = sqlite_query_strv(store, targets_r, count_r, error_r, "query",
			      sql, "tt", domain, local);
	if (r == STORE_OK && *count_r == 0)
		r = sqlite_query_strv(store, targets_r, count_r, error_r,
				      "query", sql, "tt", domain, "");
	if (r == STORE_OK && *count_r == 0)
		r = store_error(error_r, STORE_E_NOT_FOUND,
				"no alias for %s@%s", local, domain);
	return r;
}
