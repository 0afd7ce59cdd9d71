/* SPDX-License-Identifier: MIT */
/*
 * Metadata entries (RFC 5464 annotations) on SQLite: a SETMETADATA's
 * changes applied in one write op and checked against the count and size
 * limits afterwards (a refusal rolls the op's savepoint back), and the
 * entries of a scope read by name, children or subtree.
 */
#include "store/store-sqlite-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"

/* Whether name is under "/private" (the root included). */
static bool
name_is_private(const char *name)
{
	return strncmp(name, "/private", 8) == 0 &&
		(name[8] == '/' || name[8] == '\0');
}

struct metadata_set_ctx {
	int64_t account_id;
	int64_t mailbox_id;
	const struct store_metadata_change *changes;
	size_t n;
	const struct store_metadata_limits *limits;
};

/* Entries and octets (names and values) owner_id owns. */
static int
owner_usage(sqlite3 *db, int64_t owner_id, int64_t *count_r, int64_t *bytes_r)
{
	sqlite3_stmt *stmt;
	bool cached;
	int rc;

	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT count(*),"
				" coalesce(sum(length(name) +"
				" length(value)), 0) FROM metadata"
				" WHERE owner_id = ?", "i", owner_id);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*count_r = sqlite3_column_int64(stmt, 0);
		*bytes_r = sqlite3_column_int64(stmt, 1);
		rc = SQLITE_OK;
	}
	sqlite_stmt_done(stmt, cached);
	return rc;
}

/* Whether a count went over max (0: none) and up. */
static bool
grew_over(int64_t before, int64_t after, uint64_t max)
{
	return max != 0 && after > before && (uint64_t)after > max;
}

/* Wakes, in every process, the sessions that may hear of a change to a
 * mailbox's (or the server's) entry: those of account (the setter of a
 * private entry, else the mailbox's account, 0: everyone), and for a
 * shared mailbox entry those of each grantee of the mailbox (0 for
 * "anyone"), whatever their rights: the reader's rights filter, so a
 * grantee without them only wakes for nothing. */
static int
wake_audience(struct store *store, sqlite3 *db, int64_t mailbox_id,
	      int64_t account, bool priv)
{
	sqlite3_stmt *stmt;
	bool cached;
	int rc;

	store_changed(store, STORE_WATCH_ACCOUNT, account);
	if (priv || mailbox_id == STORE_METADATA_SERVER)
		return SQLITE_OK;
	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT grantee_id FROM"
				" mailbox_acl WHERE mailbox_id = ?", "i",
				mailbox_id);
	if (rc != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		store_changed(store, STORE_WATCH_ACCOUNT,
			      sqlite3_column_int64(stmt, 0));
	sqlite_stmt_done(stmt, cached);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static enum store_result check_limits(sqlite3 *db,
				      const struct metadata_set_ctx *c,
				      const int64_t owners[2],
				      const int64_t count0[2],
				      const int64_t bytes0[2], int64_t box0,
				      const char **error_r);

static enum store_result
run_metadata_set(struct store *store, void *ctx, const char **error_r)
{
	struct metadata_set_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	/* the owners whose usage may change: the setter (private
	 * entries) and the mailbox's account (shared ones) */
	int64_t owners[2] = { c->account_id, 0 };
	int64_t count0[2] = { 0, 0 }, bytes0[2] = { 0, 0 };
	int64_t box0 = 0;
	int rc;

	if (c->mailbox_id != STORE_METADATA_SERVER) {
		rc = sqlite_int(db, &owners[1], "SELECT account_id FROM"
				" mailboxes WHERE id = ?", "i", c->mailbox_id);
		if (rc == SQLITE_DONE)
			return store_error(error_r, STORE_E_NOT_FOUND,
					   "mailbox does not exist");
		if (rc != SQLITE_ROW)
			return sqlite_fail(db, "metadata mailbox", error_r);
		if (sqlite_int(db, &box0, "SELECT count(*) FROM metadata"
			       " WHERE mailbox_id = ?", "i",
			       c->mailbox_id) != SQLITE_ROW)
			return sqlite_fail(db, "metadata count", error_r);
	}
	for (size_t i = 0; i < 2; i++)
		if (owners[i] != 0 &&
		    owner_usage(db, owners[i], &count0[i], &bytes0[i]) !=
		    SQLITE_OK)
			return sqlite_fail(db, "metadata usage", error_r);

	for (size_t i = 0; i < c->n; i++) {
		const struct store_metadata_change *ch = &c->changes[i];
		bool priv = name_is_private(ch->name);
		int64_t user = priv ? c->account_id : 0;
		int64_t owner = priv ? c->account_id : owners[1];
		int64_t audience;

		if (ch->value == NULL)
			rc = sqlite_exec(db, "DELETE FROM metadata WHERE"
					 " mailbox_id = ? AND user_id = ? AND"
					 " name = ?", "iit", c->mailbox_id,
					 user, ch->name);
		else
			/* "" for an empty value: a NULL pointer would bind
			 * SQL NULL */
			rc = sqlite_exec(db, "INSERT INTO metadata"
					 " (mailbox_id, user_id, owner_id,"
					 " name, value) VALUES (?, ?, ?, ?, ?)"
					 " ON CONFLICT (mailbox_id, user_id,"
					 " name) DO UPDATE SET"
					 " value = excluded.value,"
					 " owner_id = excluded.owner_id", "iiitX",
					 c->mailbox_id, user, owner, ch->name,
					 ch->len > 0 ? ch->value : "", ch->len);
		if (rc != SQLITE_OK)
			return sqlite_fail(db, "metadata set", error_r);
		/* for NOTIFY: the row names the mailbox's account (for
		 * the server the setter of a private entry, everyone (0)
		 * for a shared one) and the one user of a private entry;
		 * the readers' rights decide at read time who hears of it
		 * (sqlite_metadata_changes); a refusal below rolls the row
		 * back (the wakes are then spurious ones) */
		audience = c->mailbox_id != STORE_METADATA_SERVER ?
			owners[1] : user;
		rc = sqlite_exec(db, "INSERT INTO metadata_changes"
				 " (account_id, user_id, mailbox_id, name, at)"
				 " VALUES (?, ?, ?, ?, ?)", "iiiti", audience,
				 user, c->mailbox_id, ch->name,
				 (int64_t)time(NULL));
		if (rc != SQLITE_OK)
			return sqlite_fail(db, "metadata change", error_r);
		if (wake_audience(store, db, c->mailbox_id, priv ? user :
				  audience, priv) != SQLITE_OK)
			return sqlite_fail(db, "metadata change", error_r);
	}
	if (c->limits == NULL)
		return STORE_OK;
	return check_limits(db, c, owners, count0, bytes0, box0, error_r);
}

/* The limits after the changes (refused: the caller's savepoint rolls
 * them back). */
static enum store_result
check_limits(sqlite3 *db, const struct metadata_set_ctx *c,
	     const int64_t owners[2], const int64_t count0[2],
	     const int64_t bytes0[2], int64_t box0, const char **error_r)
{
	const struct store_metadata_limits *l = c->limits;
	int64_t count1, bytes1, box1 = 0;

	if (c->mailbox_id != STORE_METADATA_SERVER) {
		if (sqlite_int(db, &box1, "SELECT count(*) FROM metadata"
			       " WHERE mailbox_id = ?", "i",
			       c->mailbox_id) != SQLITE_ROW)
			return sqlite_fail(db, "metadata count", error_r);
		if (grew_over(box0, box1, l->mailbox_entries_max))
			return store_error(error_r, STORE_E_OVER_QUOTA,
					   "a mailbox has at most %zu"
					   " metadata entries",
					   l->mailbox_entries_max);
	}
	for (size_t i = 0; i < 2; i++) {
		if (owners[i] == 0 || (i == 1 && owners[1] == owners[0]))
			continue;
		if (owner_usage(db, owners[i], &count1, &bytes1) != SQLITE_OK)
			return sqlite_fail(db, "metadata usage", error_r);
		if (grew_over(count0[i], count1, l->account_entries_max))
			return store_error(error_r, STORE_E_OVER_QUOTA,
					   "an account has at most %zu"
					   " metadata entries",
					   l->account_entries_max);
		if (grew_over(bytes0[i], bytes1, l->account_bytes_max))
			return store_error(error_r, STORE_E_OVER_QUOTA,
					   "an account's metadata names and"
					   " values hold at most %llu octets",
					   (unsigned long long)
					   l->account_bytes_max);
	}
	return STORE_OK;
}

enum store_result
sqlite_metadata_set(struct store *store, int64_t account_id,
		    int64_t mailbox_id,
		    const struct store_metadata_change *changes, size_t n,
		    const struct store_metadata_limits *limits,
		    const char **error_r)
{
	struct metadata_set_ctx c = { account_id, mailbox_id, changes, n,
				      limits };

	return store_commit_run(store, run_metadata_set, &c, error_r);
}

static int
cmp_value(const void *a, const void *b)
{
	const struct store_metadata_value *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Appends the rows of one statement to v (name, length, value or
 * NULL); SQLITE_DONE or an error code. */
static int
read_rows(sqlite3_stmt *stmt, const char *prefix, uint32_t depth,
	  struct store_metadata_value **v, size_t *n, size_t *cap)
{
	size_t plen = prefix != NULL ? strlen(prefix) : 0;
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);
		struct store_metadata_value *e;

		if (name == NULL)
			continue;
		/* DEPTH 1: children only, not grandchildren */
		if (prefix != NULL && depth == 1 &&
		    strchr(name + plen, '/') != NULL)
			continue;
		if (*n == *cap) {
			*cap = *cap == 0 ? 8 : *cap * 2;
			*v = xreallocarray(*v, *cap, sizeof(**v));
		}
		e = &(*v)[(*n)++];
		e->name = xstrdup(name);
		e->len = (size_t)sqlite3_column_int64(stmt, 1);
		e->value = NULL;
		if (sqlite3_column_type(stmt, 2) != SQLITE_NULL) {
			const void *p = sqlite3_column_blob(stmt, 2);

			e->len = (size_t)sqlite3_column_bytes(stmt, 2);
			/* one more octet: a NUL for callers that print it */
			e->value = xmalloc(e->len + 1);
			if (e->len > 0)
				memcpy(e->value, p, e->len);
			e->value[e->len] = '\0';
		}
	}
	return rc;
}

enum store_result
sqlite_metadata_get(struct store *store, int64_t account_id,
		    int64_t mailbox_id, const char *const *names, size_t n,
		    uint32_t depth, uint64_t maxsize,
		    struct store_metadata_value **v_r, size_t *count_r,
		    const char **error_r)
{
	struct store_metadata_value *v = NULL;
	size_t count = 0, cap = 0;
	enum store_result r;
	int64_t max = maxsize > INT64_MAX ? INT64_MAX : (int64_t)maxsize;
	sqlite3 *db;
	int rc = SQLITE_DONE;

	*v_r = NULL;
	*count_r = 0;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	/* one read transaction: the entries of one answer agree */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		r = sqlite_fail(db, "metadata get", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
		int64_t user = name_is_private(names[i]) ? account_id : 0;
		sqlite3_stmt *stmt;
		char *prefix, *end;

		/* the entry itself ("/private" alone is no entry) */
		if (strchr(names[i] + 1, '/') != NULL) {
			rc = sqlite_prep(db, &stmt, "SELECT name,"
					 " length(value), CASE WHEN"
					 " length(value) <= ? THEN"
					 " value END FROM metadata WHERE"
					 " mailbox_id = ? AND user_id = ? AND"
					 " name = ?", "iiit", max, mailbox_id,
					 user, names[i]);
			if (rc != SQLITE_OK)
				break;
			rc = read_rows(stmt, NULL, 0, &v, &count, &cap);
			sqlite3_finalize(stmt);
		}
		if (depth == 0 || rc != SQLITE_DONE)
			continue;
		/* its descendants: names from "<entry>/" up to, not
		 * including, "<entry>0" ('0' follows '/') */
		prefix = xasprintf("%s/", names[i]);
		end = xasprintf("%s0", names[i]);
		rc = sqlite_prep(db, &stmt, "SELECT name, length(value),"
				 " CASE WHEN length(value) <= ? THEN value END"
				 " FROM metadata WHERE mailbox_id = ? AND"
				 " user_id = ? AND name >= ? AND name < ?"
				 " ORDER BY name", "iiitt", max, mailbox_id,
				 user, prefix, end);
		if (rc == SQLITE_OK) {
			rc = read_rows(stmt, prefix, depth, &v, &count, &cap);
			sqlite3_finalize(stmt);
		}
		free(end);
		free(prefix);
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "metadata get", error_r);
		store_metadata_values_free(&v, count);
		count = 0;
	}
	(void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite_reader_put(store, db);
	if (count > 1) {
		size_t out = 1;

		/* overlapping requests ("/shared" and "/shared/a") name an
		 * entry twice: keep it once */
		qsort(v, count, sizeof(*v), cmp_value);
		for (size_t i = 1; i < count; i++) {
			if (strcmp(v[i].name, v[out - 1].name) == 0) {
				free(v[i].name);
				free(v[i].value);
				continue;
			}
			v[out++] = v[i];
		}
		count = out;
	}
	*v_r = v;
	*count_r = count;
	return r;
}

enum store_result
sqlite_metadata_changes(struct store *store, int64_t account_id,
			int64_t since, struct store_metadata_changed **v_r,
			size_t *count_r, int64_t *last_r,
			const char **error_r)
{
	struct store_metadata_changed *v = NULL;
	size_t count = 0, cap = 0;
	enum store_result r;
	sqlite3_stmt *stmt;
	int64_t last = since;
	sqlite3 *db;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	/* one read transaction: the rows listed are those up to last */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		r = sqlite_fail(db, "metadata changes", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	rc = sqlite_int(db, &last, "SELECT coalesce(max(id), ?) FROM"
			" metadata_changes", "i", since);
	if (rc == SQLITE_ROW && v_r != NULL && last > since) {
		/* its own private entries (of any mailbox it may see, the
		 * caller checks), the shared ones of its mailboxes, of the
		 * server and of the mailboxes shared with it or with
		 * anyone (the caller checks its rights on them) */
		rc = sqlite_prep(db, &stmt, "SELECT DISTINCT mailbox_id, name"
				 " FROM metadata_changes WHERE id > ? AND"
				 " id <= ? AND (user_id = ? OR (user_id = 0"
				 " AND (account_id IN (0, ?) OR mailbox_id IN"
				 " (SELECT mailbox_id FROM mailbox_acl WHERE"
				 " grantee_id IN (0, ?))))) ORDER BY"
				 " mailbox_id, name", "iiiii", since, last,
				 account_id, account_id, account_id);
		if (rc == SQLITE_OK) {
			while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
				const char *name = (const char *)
					sqlite3_column_text(stmt, 1);

				if (name == NULL)
					continue;
				if (count == cap) {
					cap = cap == 0 ? 8 : cap * 2;
					v = xreallocarray(v, cap, sizeof(*v));
				}
				v[count].mailbox_id =
					sqlite3_column_int64(stmt, 0);
				v[count++].name = xstrdup(name);
			}
			sqlite3_finalize(stmt);
		}
		if (rc == SQLITE_DONE)
			rc = SQLITE_ROW;
	}
	if (rc != SQLITE_ROW) {
		r = sqlite_fail(db, "metadata changes", error_r);
		store_metadata_changed_free(&v, count);
		count = 0;
		last = since;
	}
	(void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite_reader_put(store, db);
	if (v_r != NULL)
		*v_r = v;
	*count_r = count;
	*last_r = last;
	return r;
}
