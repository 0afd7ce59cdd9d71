/* SPDX-License-Identifier: MIT */
/*
 * COPY and MOVE on SQLite: new rows with new UIDs in the target mailbox for
 * the source's messages (flags, keywords, dates, the shared blob), the
 * quota check for a copy, and for a move the source rows removed, all in
 * one group-committed operation.
 */
#include "store/store-sqlite-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"

/* A source row, read before anything is written. */
struct copy_row {
	int64_t id;
	uint32_t uid;
	int64_t flags;
	int64_t internal_date;
	int64_t size;
	int64_t blob_rid;
	int64_t thread_id;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	char email_id[STORE_ID_SIZE];
};

struct copy_mailbox {
	int64_t account_id;
	int64_t uidvalidity;
	int64_t uidnext;
	int64_t hms;
};

static enum store_result
copy_mailbox(sqlite3 *db, int64_t id, const char *which,
	     struct copy_mailbox *m, const char **error_r)
{
	sqlite3_stmt *stmt;
	bool cached;
	int rc;

	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT account_id,"
				" uidvalidity, uidnext, highestmodseq"
				" FROM mailboxes WHERE id = ?", "i", id);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "mailbox lookup", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		m->account_id = sqlite3_column_int64(stmt, 0);
		m->uidvalidity = sqlite3_column_int64(stmt, 1);
		m->uidnext = sqlite3_column_int64(stmt, 2);
		m->hms = sqlite3_column_int64(stmt, 3);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "%s mailbox %lld does not exist", which,
				   (long long)id);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "mailbox lookup", error_r);
	return STORE_OK;
}

/* The source rows of the UIDs that exist, in UID order. */
static enum store_result
copy_rows(sqlite3 *db, const struct store_copy *c, struct copy_row *rows,
	  size_t *n_r, const char **error_r)
{
	size_t n = 0;

	for (size_t i = 0; i < c->count; i++) {
		struct copy_row *row = &rows[n];
		const unsigned char *t;
		sqlite3_stmt *stmt;
		bool cached;
		int rc;

		rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT id, flags,"
					" internal_date, size, blob_rid,"
					" thread_id, blob_id, email_id"
					" FROM messages WHERE mailbox_id = ?"
					" AND uid = ?", "ii", c->src_mailbox_id,
					(int64_t)c->uids[i]);
		if (rc != SQLITE_OK)
			return sqlite_fail(db, "copy", error_r);
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			row->id = sqlite3_column_int64(stmt, 0);
			row->uid = c->uids[i];
			row->flags = sqlite3_column_int64(stmt, 1);
			row->internal_date = sqlite3_column_int64(stmt, 2);
			row->size = sqlite3_column_int64(stmt, 3);
			row->blob_rid = sqlite3_column_int64(stmt, 4);
			row->thread_id = sqlite3_column_int64(stmt, 5);
			t = sqlite3_column_text(stmt, 6);
			snprintf(row->blob_id, sizeof(row->blob_id), "%s",
				 t != NULL ? (const char *)t : "");
			t = sqlite3_column_text(stmt, 7);
			snprintf(row->email_id, sizeof(row->email_id), "%s",
				 t != NULL ? (const char *)t : "");
			n++;
		}
		sqlite_stmt_done(stmt, cached);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sqlite_fail(db, "copy", error_r);
	}
	*n_r = n;
	return STORE_OK;
}

static enum store_result
copy_quota(sqlite3 *db, int64_t account_id, int64_t add, int64_t add_msgs,
	   const char **error_r)
{
	sqlite3_stmt *stmt;
	int64_t quota = 0, used = 0, quota_msgs = 0, used_msgs = 0;
	bool cached;
	int rc;

	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT quota_bytes,"
				" used_bytes, quota_messages, used_messages"
				" FROM accounts WHERE id = ?", "i",
				account_id);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "account lookup", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		quota = sqlite3_column_int64(stmt, 0);
		used = sqlite3_column_int64(stmt, 1);
		quota_msgs = sqlite3_column_int64(stmt, 2);
		used_msgs = sqlite3_column_int64(stmt, 3);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "account lookup", error_r);
	if (quota > 0 && used + add > quota)
		return store_error(error_r, STORE_E_OVER_QUOTA,
				   "account %lld is over quota (%lld of %lld"
				   " bytes)", (long long)account_id,
				   (long long)(used + add), (long long)quota);
	if (quota_msgs > 0 && used_msgs + add_msgs > quota_msgs)
		return store_error(error_r, STORE_E_OVER_QUOTA,
				   "account %lld is over quota (%lld of %lld"
				   " messages)", (long long)account_id,
				   (long long)(used_msgs + add_msgs),
				   (long long)quota_msgs);
	return STORE_OK;
}

/* The source message's keywords, given to the new row in the target's
 * spelling (created there if needed, past any limit: a copy never fails
 * for its keywords). */
static enum store_result
copy_keywords(sqlite3 *db, int64_t dst_mailbox, int64_t src_id,
	      int64_t new_id, const char **error_r)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	enum store_result r;
	sqlite3_stmt *stmt;
	bool cached;
	int rc;

	rc = sqlite_prep_cached(db, &stmt, &cached, "SELECT keyword FROM"
				" keywords WHERE message_id = ?", "i", src_id);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "keyword read", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = sqlite_col_strdup(stmt, 0);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc != SQLITE_DONE)
		r = sqlite_fail(db, "keyword read", error_r);
	else
		r = sqlite_keywords_add(db, dst_mailbox, new_id,
					(const char *const *)names, n, 0,
					error_r);
	store_strv_free(&names, n);
	return r;
}

static enum store_result
copy_one(sqlite3 *db, struct store_copy *c, const struct copy_row *row,
	 const struct copy_mailbox *src, const struct copy_mailbox *dst,
	 uint32_t uid, int64_t now, const char **error_r)
{
	int64_t new_id, thread_id = row->thread_id;
	const char *email_id = row->email_id;
	char eid[STORE_ID_SIZE];
	enum store_result r;

	/* Into another account's mailbox (a shared one): email and thread
	 * ids are per account (JMAP), so the copy starts its own. */
	if (src->account_id != dst->account_id) {
		char tid[STORE_ID_SIZE];

		store_new_stable_id('e', eid);
		store_new_stable_id('t', tid);
		if (sqlite_exec(db, "INSERT INTO threads (account_id, jmap_id,"
				" created) VALUES (?, ?, ?)", "iti",
				dst->account_id, tid, now) != SQLITE_OK)
			return sqlite_fail(db, "thread insert", error_r);
		thread_id = sqlite3_last_insert_rowid(db);
		email_id = eid;
	}
	if (sqlite_exec(db, "INSERT INTO messages (mailbox_id, account_id,"
			" uid, modseq, flags, internal_date, saved_date, size,"
			" blob_id, blob_rid, thread_id, email_id)"
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0),"
			" NULLIF(?, 0), ?)", "iiiiiiiitiit", c->dst_mailbox_id,
			dst->account_id, (int64_t)uid, dst->hms + 1,
			row->flags & ~(int64_t)c->drop_flags,
			row->internal_date, now, row->size, row->blob_id,
			row->blob_rid, thread_id, email_id) !=
	    SQLITE_OK)
		return sqlite_fail(db, "copy insert", error_r);
	new_id = sqlite3_last_insert_rowid(db);
	if (!c->drop_keywords) {
		r = copy_keywords(db, c->dst_mailbox_id, row->id, new_id,
				  error_r);
		if (r != STORE_OK)
			return r;
	}
	if (sqlite_email_change_log(db, dst->account_id, c->dst_mailbox_id,
				    dst->hms + 1, new_id, (int64_t)uid,
				    "created", now) != SQLITE_OK)
		return sqlite_fail(db, "change log", error_r);
	if (!c->move)
		return STORE_OK;
	/* The same modseq as the target's when both are one mailbox. */
	if (sqlite_exec(db, "DELETE FROM messages WHERE id = ?", "i",
			row->id) != SQLITE_OK ||
	    sqlite_email_change_log(db, src->account_id, c->src_mailbox_id,
				    src->hms + 1, row->id, (int64_t)row->uid,
				    "destroyed", now) != SQLITE_OK)
		return sqlite_fail(db, "move expunge", error_r);
	return STORE_OK;
}

static enum store_result
run_copy(struct store *store, void *ctx, const char **error_r)
{
	struct store_copy *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	struct copy_mailbox src, dst;
	struct copy_row *rows = NULL;
	int64_t total = 0, now = (int64_t)time(NULL);
	size_t n = 0;
	enum store_result r;
	bool cross;

	store_copy_deinit(c);
	r = copy_mailbox(db, c->src_mailbox_id, "source", &src, error_r);
	if (r != STORE_OK)
		return r;
	r = copy_mailbox(db, c->dst_mailbox_id, "target", &dst, error_r);
	if (r != STORE_OK)
		return r;
	cross = src.account_id != dst.account_id;
	c->dst_uidvalidity = (uint32_t)dst.uidvalidity;
	if (c->count == 0)
		return STORE_OK;
	rows = xcalloc(c->count, sizeof(*rows));
	r = copy_rows(db, c, rows, &n, error_r);
	if (r != STORE_OK || n == 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		total += rows[i].size;
	/* A move within one account changes no usage. */
	if (!c->move || cross) {
		r = copy_quota(db, dst.account_id, total, (int64_t)n,
			       error_r);
		if (r != STORE_OK)
			goto out;
	}
	/* RFC 9051 2.3.1.1: UIDs are 32-bit (see deliver_check). */
	if (dst.uidnext + (int64_t)n >= (int64_t)UINT32_MAX) {
		r = store_error(error_r, STORE_E_TEMP,
				"mailbox %lld has run out of UIDs",
				(long long)c->dst_mailbox_id);
		goto out;
	}
	c->src_uids = xcalloc(n, sizeof(*c->src_uids));
	c->dst_uids = xcalloc(n, sizeof(*c->dst_uids));
	for (size_t i = 0; i < n && r == STORE_OK; i++) {
		uint32_t uid = (uint32_t)(dst.uidnext + (int64_t)i);

		r = copy_one(db, c, &rows[i], &src, &dst, uid, now, error_r);
		c->src_uids[i] = rows[i].uid;
		c->dst_uids[i] = uid;
	}
	if (r != STORE_OK)
		goto out;
	c->n = n;
	if (sqlite_exec(db, "UPDATE mailboxes SET uidnext = ?,"
			" highestmodseq = ? WHERE id = ?", "iii",
			dst.uidnext + (int64_t)n, dst.hms + 1,
			c->dst_mailbox_id) != SQLITE_OK) {
		r = sqlite_fail(db, "copy update", error_r);
		goto out;
	}
	if (c->move && c->src_mailbox_id != c->dst_mailbox_id) {
		if (sqlite_exec(db, "UPDATE mailboxes SET highestmodseq = ?"
				" WHERE id = ?", "ii", src.hms + 1,
				c->src_mailbox_id) != SQLITE_OK)
			r = sqlite_fail(db, "move update", error_r);
	}
	if (r == STORE_OK && (!c->move || cross)) {
		if (sqlite_exec(db, "UPDATE accounts SET"
				" used_bytes = used_bytes + ?,"
				" used_messages = used_messages + ?"
				" WHERE id = ?", "iii", total, (int64_t)n,
				dst.account_id) != SQLITE_OK)
			r = sqlite_fail(db, "usage update", error_r);
	}
	if (r == STORE_OK && c->move && cross) {
		if (sqlite_exec(db, "UPDATE accounts SET"
				" used_bytes = max(used_bytes - ?, 0),"
				" used_messages = max(used_messages - ?, 0)"
				" WHERE id = ?", "iii", total, (int64_t)n,
				src.account_id) != SQLITE_OK)
			r = sqlite_fail(db, "usage update", error_r);
	}
out:
	free(rows);
	if (r != STORE_OK)
		store_copy_deinit(c);
	return r;
}

enum store_result
sqlite_copy(struct store *store, struct store_copy *c, const char **error_r)
{
	enum store_result r = store_commit_run_flags(store, run_copy, c,
						     STORE_OP_RERUN, error_r);

	if (r != STORE_OK)
		store_copy_deinit(c);
	return r;
}
