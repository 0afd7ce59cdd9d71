/* SPDX-License-Identifier: MIT */
/*
 * Mailbox management on SQLite: create (with missing parents), delete,
 * rename (children along, RFC 9051's INBOX rule), subscriptions and the
 * name lookup COPY, MOVE and APPEND use. Names arrive checked and in
 * canonical form from store-mailbox.c; each change goes to the change log.
 */
#include "store/store-sqlite-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

/* One 'mailbox' row of the change log (JMAP Mailbox/changes). A
 * destroyed mailbox's row has no mailbox_id: the cascade of its delete
 * would take the row with it. */
static int
mailbox_change_log(sqlite3 *db, int64_t account_id, int64_t mailbox_id,
		   int64_t modseq, const char *change)
{
	bool gone = strcmp(change, "destroyed") == 0;

	return sqlite_exec(db, "INSERT INTO changes (account_id, mailbox_id,"
			   " modseq, kind, object_id, change, at)"
			   " VALUES (?, NULLIF(?, 0), ?, 'mailbox', ?, ?, ?)",
			   "iiiiti", account_id, gone ? 0 : mailbox_id, modseq,
			   mailbox_id, change, now());
}

/* A subscription to name made while it had no mailbox moves to the
 * mailbox mailbox_id now named so: the subscriptions table only ever
 * holds names without a mailbox. */
static enum store_result
adopt_subscription(sqlite3 *db, int64_t account_id, const char *name,
		   int64_t mailbox_id, const char **error_r)
{
	if (sqlite_exec(db, "DELETE FROM subscriptions WHERE account_id = ?"
			" AND name = ?", "it", account_id, name) != SQLITE_OK)
		return sqlite_fail(db, "subscription", error_r);
	if (sqlite3_changes(db) > 0 &&
	    sqlite_exec(db, "UPDATE mailboxes SET subscribed = 1"
			" WHERE id = ?", "i", mailbox_id) != SQLITE_OK)
		return sqlite_fail(db, "subscription", error_r);
	return STORE_OK;
}

enum store_result
sqlite_mailbox_create(sqlite3 *db, int64_t account_id, const char *name,
		      enum store_role role, bool subscribed, int64_t *id_r,
		      const char **error_r)
{
	char jmap_id[STORE_ID_SIZE];
	int64_t uidvalidity, id;
	enum store_result r;

	/* UIDVALIDITY must never repeat for a name (RFC 9051 2.3.1.1): one
	 * counter for the whole database, at least the current time so a
	 * restored backup does not reuse old values. */
	if (sqlite_exec(db, "UPDATE meta SET value = max(value + 1, ?)"
			" WHERE key = 'uidvalidity'", "i", now()) != SQLITE_OK ||
	    sqlite_int(db, &uidvalidity, "SELECT value FROM meta"
		       " WHERE key = 'uidvalidity'", NULL) != SQLITE_ROW)
		return sqlite_fail(db, "uidvalidity", error_r);
	store_new_stable_id('m', jmap_id);
	if (sqlite_exec(db, "INSERT INTO mailboxes (account_id, name, role,"
			" uidvalidity, subscribed, jmap_id, created)"
			" VALUES (?, ?, ?, ?, ?, ?, ?)", "ittiiti",
			account_id, name,
			role == STORE_ROLE_NONE ? NULL : store_role_name(role),
			(int64_t)(uint32_t)uidvalidity, (int64_t)subscribed,
			jmap_id, now()) != SQLITE_OK)
		return sqlite_fail(db, "mailbox insert", error_r);
	id = sqlite3_last_insert_rowid(db);
	r = adopt_subscription(db, account_id, name, id, error_r);
	if (r != STORE_OK)
		return r;
	if (mailbox_change_log(db, account_id, id, 1, "created") != SQLITE_OK)
		return sqlite_fail(db, "change log", error_r);
	if (id_r != NULL)
		*id_r = id;
	return STORE_OK;
}

/* The mailbox's id (0 when there is none). */
static enum store_result
mailbox_id(sqlite3 *db, int64_t account_id, const char *name, int64_t *id_r,
	   const char **error_r)
{
	int rc = sqlite_int(db, id_r, "SELECT id FROM mailboxes"
			    " WHERE account_id = ? AND name = ?", "it",
			    account_id, name);

	if (rc == SQLITE_DONE)
		*id_r = 0;
	else if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox lookup", error_r);
	return STORE_OK;
}

/* How many mailboxes name's children ("name/...") are: the names from
 * "name/" up to "name0" ('0' follows '/' in ASCII, and names compare as
 * bytes), a range of the (account_id, name) index. */
static enum store_result
children_count(sqlite3 *db, int64_t account_id, const char *name,
	       int64_t *count_r, const char **error_r)
{
	char *lo = xasprintf("%s/", name), *hi = xasprintf("%s0", name);
	int rc = sqlite_int(db, count_r, "SELECT count(*) FROM mailboxes"
			    " WHERE account_id = ? AND name >= ? AND name < ?",
			    "itt", account_id, lo, hi);

	free(lo);
	free(hi);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox children", error_r);
	return STORE_OK;
}

/* How many parents of name ("a", "a/b" for "a/b/c") have no mailbox. */
static enum store_result
parents_missing(sqlite3 *db, int64_t account_id, const char *name,
		size_t *count_r, const char **error_r)
{
	char *prefix = xstrdup(name);
	enum store_result r = STORE_OK;

	*count_r = 0;
	for (char *p = prefix; (p = strchr(p, STORE_MAILBOX_DELIM)) != NULL;
	     p++) {
		int64_t id;

		*p = '\0';
		r = mailbox_id(db, account_id, prefix, &id, error_r);
		*p = STORE_MAILBOX_DELIM;
		if (r != STORE_OK)
			break;
		if (id == 0)
			(*count_r)++;
	}
	free(prefix);
	return r;
}

static enum store_result
parents_create(sqlite3 *db, int64_t account_id, const char *name,
	       const char **error_r)
{
	char *prefix = xstrdup(name);
	enum store_result r = STORE_OK;

	for (char *p = prefix; (p = strchr(p, STORE_MAILBOX_DELIM)) != NULL;
	     p++) {
		int64_t id;

		*p = '\0';
		r = mailbox_id(db, account_id, prefix, &id, error_r);
		if (r == STORE_OK && id == 0)
			r = sqlite_mailbox_create(db, account_id, prefix,
						  STORE_ROLE_NONE, false, NULL,
						  error_r);
		*p = STORE_MAILBOX_DELIM;
		if (r != STORE_OK)
			break;
	}
	free(prefix);
	return r;
}

/* Refuses (STORE_E_OVER_QUOTA) adding n mailboxes to the account. */
static enum store_result
mailbox_room(sqlite3 *db, int64_t account_id, size_t max, size_t n,
	     const char **error_r)
{
	int64_t have;

	if (max == 0 || n == 0)
		return STORE_OK;
	if (sqlite_int(db, &have, "SELECT count(*) FROM mailboxes"
		       " WHERE account_id = ?", "i", account_id) != SQLITE_ROW)
		return sqlite_fail(db, "mailbox count", error_r);
	if ((uint64_t)have + n > max)
		return store_error(error_r, STORE_E_OVER_QUOTA,
				   "too many mailboxes (at most %zu)", max);
	return STORE_OK;
}

/* ---- create ---- */

struct mbox_ctx {
	int64_t account_id;
	const char *name;
	const char *to;
	enum store_role role;
	bool subscribe;
	struct store_mailbox_limits limits;
	int64_t id;
	int64_t expect_id;	/* delete, rename: 0, or what name must be */
};

/* A name that no longer names the mailbox the caller checked is, for
 * it, a missing mailbox (store.h store_mailbox_delete_id()). */
static enum store_result
expect_check(const struct mbox_ctx *c, int64_t id, const char **error_r)
{
	if (c->expect_id != 0 && id != c->expect_id)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "mailbox %s does not exist", c->name);
	return STORE_OK;
}

static enum store_result
run_mailbox_create(struct store *store, void *ctx, const char **error_r)
{
	struct mbox_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	enum store_result r;
	int64_t id, other;
	size_t parents;

	r = mailbox_id(db, c->account_id, c->name, &id, error_r);
	if (r != STORE_OK)
		return r;
	if (id != 0)
		return store_error(error_r, STORE_E_EXISTS,
				   "mailbox %s already exists", c->name);
	if (c->role != STORE_ROLE_NONE) {
		int rc = sqlite_int(db, &other, "SELECT id FROM mailboxes"
				    " WHERE account_id = ? AND role = ?", "it",
				    c->account_id, store_role_name(c->role));

		if (rc == SQLITE_ROW)
			return store_error(error_r, STORE_E_IN_USE,
					   "another mailbox has the role %s",
					   store_role_name(c->role));
		if (rc != SQLITE_DONE)
			return sqlite_fail(db, "role lookup", error_r);
	}
	r = parents_missing(db, c->account_id, c->name, &parents, error_r);
	if (r == STORE_OK)
		r = mailbox_room(db, c->account_id, c->limits.mailboxes_max,
				 parents + 1, error_r);
	if (r == STORE_OK)
		r = parents_create(db, c->account_id, c->name, error_r);
	if (r == STORE_OK)
		r = sqlite_mailbox_create(db, c->account_id, c->name, c->role,
					  false, &c->id, error_r);
	return r;
}

enum store_result
sqlite_mailbox_create_op(struct store *store, int64_t account_id,
			 const char *name, enum store_role role,
			 const struct store_mailbox_limits *limits,
			 int64_t *id_r, const char **error_r)
{
	struct mbox_ctx c = { .account_id = account_id, .name = name,
			      .role = role, .limits = *limits };
	enum store_result r = store_commit_run(store, run_mailbox_create, &c,
					       error_r);

	*id_r = r == STORE_OK ? c.id : 0;
	return r;
}

/* ---- delete ---- */

static enum store_result
run_mailbox_delete(struct store *store, void *ctx, const char **error_r)
{
	struct mbox_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t id = 0, hms = 0, subscribed = 0, children, count = 0,
		bytes = 0, t = now();
	const unsigned char *role;
	enum store_result r;
	sqlite3_stmt *stmt;
	bool inbox = false;
	int rc;

	if (sqlite_prep(db, &stmt, "SELECT id, highestmodseq, subscribed, role"
			" FROM mailboxes WHERE account_id = ? AND name = ?",
			"it", c->account_id, c->name) != SQLITE_OK)
		return sqlite_fail(db, "mailbox lookup", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(stmt, 0);
		hms = sqlite3_column_int64(stmt, 1);
		subscribed = sqlite3_column_int64(stmt, 2);
		role = sqlite3_column_text(stmt, 3);
		inbox = role != NULL && strcmp((const char *)role,
					       "inbox") == 0;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "mailbox %s does not exist", c->name);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox lookup", error_r);
	r = expect_check(c, id, error_r);
	if (r != STORE_OK)
		return r;
	if (inbox)
		return store_error(error_r, STORE_E_INVALID,
				   "INBOX cannot be deleted");
	r = children_count(db, c->account_id, c->name, &children, error_r);
	if (r != STORE_OK)
		return r;
	if (children > 0)
		return store_error(error_r, STORE_E_IN_USE,
				   "mailbox %s has children; delete them first",
				   c->name);
	if (sqlite_prep(db, &stmt, "SELECT count(*), coalesce(sum(size), 0)"
			" FROM messages WHERE mailbox_id = ?", "i", id) !=
	    SQLITE_OK)
		return sqlite_fail(db, "mailbox usage", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		count = sqlite3_column_int64(stmt, 0);
		bytes = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox usage", error_r);
	/* The messages' 'destroyed' rows carry no mailbox_id, for the
	 * same reason as mailbox_change_log's. */
	if (sqlite_exec(db, "INSERT INTO changes (account_id, mailbox_id,"
			" modseq, kind, object_id, uid, change, at)"
			" SELECT account_id, NULL, ?, 'email', id, uid,"
			" 'destroyed', ? FROM messages WHERE mailbox_id = ?",
			"iii", hms + 1, t, id) != SQLITE_OK ||
	    (subscribed != 0 &&
	     sqlite_exec(db, "INSERT OR IGNORE INTO subscriptions"
			 " (account_id, name) VALUES (?, ?)", "it",
			 c->account_id, c->name) != SQLITE_OK) ||
	    sqlite_exec(db, "DELETE FROM mailboxes WHERE id = ?", "i", id) !=
	    SQLITE_OK ||
	    sqlite_exec(db, "UPDATE accounts SET"
			" used_bytes = max(0, used_bytes - ?),"
			" used_messages = max(0, used_messages - ?)"
			" WHERE id = ?", "iii", bytes, count, c->account_id) !=
	    SQLITE_OK ||
	    mailbox_change_log(db, c->account_id, id, hms + 1,
			       "destroyed") != SQLITE_OK)
		return sqlite_fail(db, "mailbox delete", error_r);
	c->id = id;
	return STORE_OK;
}

enum store_result
sqlite_mailbox_delete(struct store *store, int64_t account_id,
		      const char *name, int64_t expect_id, int64_t *id_r,
		      const char **error_r)
{
	struct mbox_ctx c = { .account_id = account_id, .name = name,
			      .expect_id = expect_id };
	enum store_result r = store_commit_run(store, run_mailbox_delete, &c,
					       error_r);

	*id_r = r == STORE_OK ? c.id : 0;
	return r;
}

/* ---- rename ---- */

struct rename_entry {
	int64_t id;
	char *name;
};

static void
rename_entries_free(struct rename_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* from and its children, from first. */
static enum store_result
rename_entries(sqlite3 *db, int64_t account_id, const char *from,
	       int64_t from_id, struct rename_entry **v_r, size_t *n_r,
	       const char **error_r)
{
	char *lo = xasprintf("%s/", from), *hi = xasprintf("%s0", from);
	struct rename_entry *v = xcalloc(1, sizeof(*v));
	size_t n = 1, cap = 1;
	sqlite3_stmt *stmt;
	int rc;

	v[0].id = from_id;
	v[0].name = xstrdup(from);
	rc = sqlite_prep(db, &stmt, "SELECT id, name FROM mailboxes"
			 " WHERE account_id = ? AND name >= ? AND name < ?",
			 "itt", account_id, lo, hi);
	free(lo);
	free(hi);
	if (rc != SQLITE_OK) {
		rename_entries_free(v, n);
		return sqlite_fail(db, "mailbox children", error_r);
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap *= 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].id = sqlite3_column_int64(stmt, 0);
		v[n].name = sqlite_col_strdup(stmt, 1);
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		rename_entries_free(v, n);
		return sqlite_fail(db, "mailbox children", error_r);
	}
	*v_r = v;
	*n_r = n;
	return STORE_OK;
}

/* RFC 9051 6.3.6: INBOX's messages move to a new mailbox, INBOX stays.
 * The moved rows keep their ids (JMAP sees the same emails in another
 * mailbox) and UIDs (the new mailbox has its own UIDVALIDITY); INBOX
 * keeps UIDNEXT, so none of its UIDs is ever used twice. */
static enum store_result
rename_inbox(sqlite3 *db, struct mbox_ctx *c, int64_t inbox_id,
	     const char **error_r)
{
	int64_t uidnext, hms, to_id, t = now();
	enum store_result r;
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite_prep(db, &stmt, "SELECT uidnext, highestmodseq"
			" FROM mailboxes WHERE id = ?", "i", inbox_id) !=
	    SQLITE_OK)
		return sqlite_fail(db, "mailbox lookup", error_r);
	rc = sqlite3_step(stmt);
	uidnext = sqlite3_column_int64(stmt, 0);
	hms = sqlite3_column_int64(stmt, 1);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox lookup", error_r);
	r = parents_create(db, c->account_id, c->to, error_r);
	if (r == STORE_OK)
		r = sqlite_mailbox_create(db, c->account_id, c->to,
					  STORE_ROLE_NONE, false, &to_id,
					  error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite_exec(db, "UPDATE mailboxes SET uidnext = ?,"
			" highestmodseq = ? WHERE id = ?", "iii", uidnext,
			hms + 1, to_id) != SQLITE_OK ||
	    sqlite_exec(db, "INSERT INTO changes (account_id, mailbox_id,"
			" modseq, kind, object_id, uid, change, at)"
			" SELECT account_id, mailbox_id, ?, 'email', id, uid,"
			" 'destroyed', ? FROM messages WHERE mailbox_id = ?",
			"iii", hms + 1, t, inbox_id) != SQLITE_OK ||
	    sqlite_exec(db, "UPDATE messages SET mailbox_id = ?, modseq = ?"
			" WHERE mailbox_id = ?", "iii", to_id, hms + 1,
			inbox_id) != SQLITE_OK ||
	    sqlite_exec(db, "INSERT INTO changes (account_id, mailbox_id,"
			" modseq, kind, object_id, uid, change, at)"
			" SELECT account_id, mailbox_id, modseq, 'email', id,"
			" uid, 'created', ? FROM messages WHERE mailbox_id = ?",
			"ii", t, to_id) != SQLITE_OK ||
	    sqlite_exec(db, "UPDATE mailboxes SET highestmodseq = ?"
			" WHERE id = ?", "ii", hms + 1, inbox_id) != SQLITE_OK)
		return sqlite_fail(db, "inbox rename", error_r);
	c->id = to_id;
	return STORE_OK;
}

static enum store_result
run_mailbox_rename(struct store *store, void *ctx, const char **error_r)
{
	struct mbox_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	size_t from_len = strlen(c->name), to_len = strlen(c->to), n = 0;
	size_t parents = 0;
	struct rename_entry *v = NULL;
	int64_t from_id, to_id, to_children;
	enum store_result r;
	bool inbox = strcmp(c->name, "INBOX") == 0;

	r = mailbox_id(db, c->account_id, c->name, &from_id, error_r);
	if (r != STORE_OK)
		return r;
	if (from_id == 0)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "mailbox %s does not exist", c->name);
	r = expect_check(c, from_id, error_r);
	if (r != STORE_OK)
		return r;
	r = mailbox_id(db, c->account_id, c->to, &to_id, error_r);
	if (r != STORE_OK)
		return r;
	if (to_id != 0)
		return store_error(error_r, STORE_E_EXISTS,
				   "mailbox %s already exists", c->to);
	/* Names left under to by an old layout would collide with the
	 * renamed children. */
	r = children_count(db, c->account_id, c->to, &to_children, error_r);
	if (r != STORE_OK)
		return r;
	if (to_children > 0 && !inbox)
		return store_error(error_r, STORE_E_EXISTS,
				   "mailboxes under %s already exist", c->to);
	r = parents_missing(db, c->account_id, c->to, &parents, error_r);
	if (r == STORE_OK)
		r = mailbox_room(db, c->account_id, c->limits.mailboxes_max,
				 parents + (inbox ? 1 : 0), error_r);
	if (r != STORE_OK)
		return r;
	if (inbox)
		return rename_inbox(db, c, from_id, error_r);

	r = rename_entries(db, c->account_id, c->name, from_id, &v, &n,
			   error_r);
	if (r != STORE_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i].name) - from_len + to_len;

		if (c->limits.name_max != 0 && len > c->limits.name_max) {
			r = store_error(error_r, STORE_E_INVALID,
					"the new name of %s would be longer"
					" than %zu octets", v[i].name,
					c->limits.name_max);
			goto out;
		}
	}
	r = parents_create(db, c->account_id, c->to, error_r);
	for (size_t i = 0; i < n && r == STORE_OK; i++) {
		char *name = xasprintf("%s%s", c->to, v[i].name + from_len);
		int64_t hms;

		if (sqlite_exec(db, "UPDATE mailboxes SET name = ?"
				" WHERE id = ?", "ti", name, v[i].id) !=
		    SQLITE_OK ||
		    sqlite_int(db, &hms, "SELECT highestmodseq FROM mailboxes"
			       " WHERE id = ?", "i", v[i].id) != SQLITE_ROW ||
		    mailbox_change_log(db, c->account_id, v[i].id, hms,
				       "updated") != SQLITE_OK)
			r = sqlite_fail(db, "mailbox rename", error_r);
		else
			r = adopt_subscription(db, c->account_id, name,
					       v[i].id, error_r);
		free(name);
	}
	c->id = from_id;
out:
	rename_entries_free(v, n);
	return r;
}

enum store_result
sqlite_mailbox_rename(struct store *store, int64_t account_id,
		      const char *from, int64_t expect_id, const char *to,
		      const struct store_mailbox_limits *limits,
		      const char **error_r)
{
	struct mbox_ctx c = { .account_id = account_id, .name = from,
			      .to = to, .limits = *limits,
			      .expect_id = expect_id };

	return store_commit_run(store, run_mailbox_rename, &c, error_r);
}

/* ---- subscriptions ---- */

static enum store_result
run_mailbox_subscribe(struct store *store, void *ctx, const char **error_r)
{
	struct mbox_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t id, count, hms;
	enum store_result r;

	r = mailbox_id(db, c->account_id, c->name, &id, error_r);
	if (r != STORE_OK)
		return r;
	if (id != 0) {
		if (sqlite_exec(db, "UPDATE mailboxes SET subscribed = ?"
				" WHERE id = ? AND subscribed != ?", "iii",
				(int64_t)c->subscribe, id,
				(int64_t)c->subscribe) != SQLITE_OK)
			return sqlite_fail(db, "subscribe", error_r);
		if (sqlite3_changes(db) == 0)
			return STORE_OK;
		/* JMAP's isSubscribed is a property of the mailbox. */
		if (sqlite_int(db, &hms, "SELECT highestmodseq FROM mailboxes"
			       " WHERE id = ?", "i", id) != SQLITE_ROW ||
		    mailbox_change_log(db, c->account_id, id, hms,
				       "updated") != SQLITE_OK)
			return sqlite_fail(db, "change log", error_r);
		return STORE_OK;
	}
	if (!c->subscribe) {
		if (sqlite_exec(db, "DELETE FROM subscriptions"
				" WHERE account_id = ? AND name = ?", "it",
				c->account_id, c->name) != SQLITE_OK)
			return sqlite_fail(db, "unsubscribe", error_r);
		return STORE_OK;
	}
	if (c->limits.mailboxes_max != 0) {
		if (sqlite_int(db, &count, "SELECT count(*) FROM subscriptions"
			       " WHERE account_id = ?", "i", c->account_id) !=
		    SQLITE_ROW)
			return sqlite_fail(db, "subscribe", error_r);
		if ((uint64_t)count >= c->limits.mailboxes_max)
			return store_error(error_r, STORE_E_OVER_QUOTA,
					   "too many subscriptions to names"
					   " without a mailbox (at most %zu)",
					   c->limits.mailboxes_max);
	}
	if (sqlite_exec(db, "INSERT OR IGNORE INTO subscriptions"
			" (account_id, name) VALUES (?, ?)", "it",
			c->account_id, c->name) != SQLITE_OK)
		return sqlite_fail(db, "subscribe", error_r);
	return STORE_OK;
}

enum store_result
sqlite_mailbox_subscribe(struct store *store, int64_t account_id,
			 const char *name, bool subscribe,
			 const struct store_mailbox_limits *limits,
			 const char **error_r)
{
	struct mbox_ctx c = { .account_id = account_id, .name = name,
			      .subscribe = subscribe, .limits = *limits };

	return store_commit_run(store, run_mailbox_subscribe, &c, error_r);
}

enum store_result
sqlite_subscription_list(struct store *store, int64_t account_id,
			 char ***names_r, size_t *count_r,
			 const char **error_r)
{
	return sqlite_query_strv(store, names_r, count_r, error_r,
				 "subscription list",
				 "SELECT name FROM subscriptions"
				 " WHERE account_id = ? ORDER BY name", "i",
				 account_id);
}

enum store_result
sqlite_mailbox_find(struct store *store, int64_t account_id, const char *name,
		    int64_t *id_r, const char **error_r)
{
	sqlite3 *db;
	enum store_result r = sqlite_reader_get(store, &db, error_r);

	if (r != STORE_OK)
		return r;
	r = mailbox_id(db, account_id, name, id_r, error_r);
	sqlite_reader_put(store, db);
	if (r == STORE_OK && *id_r == 0)
		r = store_error(error_r, STORE_E_NOT_FOUND,
				"mailbox %s does not exist", name);
	return r;
}
