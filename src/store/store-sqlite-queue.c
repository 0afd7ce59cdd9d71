/* SPDX-License-Identifier: MIT */
/*
 * The outbound queue on SQLite: one row per queued message (blob, envelope
 * sender, DSN RET/ENVID, schedule) and one per recipient (DSN NOTIFY/ORCPT,
 * status, last error). Inserts are group-committed like deliveries.
 */
#include "store/store-sqlite-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"

/* Updates of one queue row or recipient row. */
struct queue_ctx {
	int64_t id;
	int64_t next_attempt;
	const char *status;
	const char *last_error;
};

enum store_result
sqlite_queue_insert_in(struct store *store, sqlite3 *db,
		       struct store_queue_msg *q, const char **error_r)
{
	int64_t now = (int64_t)time(NULL);
	enum store_result r = sqlite_blob_check_ref(store, db, q->blob_id,
						    error_r);

	if (r != STORE_OK)
		return r;
	if (sqlite_exec(db, "INSERT INTO queue (blob_id, size, env_from,"
			" dsn_ret, dsn_envid, created, next_attempt)"
			" VALUES (?, ?, ?, ?, ?, ?, ?)", "titttii", q->blob_id,
			(int64_t)q->size, q->env_from, q->dsn_ret,
			q->dsn_envid, now, now) != SQLITE_OK)
		return sqlite_fail(db, "queue insert", error_r);
	q->id = sqlite3_last_insert_rowid(db);
	for (size_t i = 0; i < q->count; i++) {
		if (sqlite_exec(db, "INSERT INTO queue_rcpts (queue_id,"
				" address, dsn_notify, dsn_orcpt)"
				" VALUES (?, ?, ?, ?)", "ittt", q->id,
				q->rcpts[i].address, q->rcpts[i].dsn_notify,
				q->rcpts[i].dsn_orcpt) != SQLITE_OK)
			return sqlite_fail(db, "queue recipient insert",
					   error_r);
	}
	return STORE_OK;
}

static enum store_result
run_queue_insert(struct store *store, void *ctx, const char **error_r)
{
	return sqlite_queue_insert_in(store, sqlite_wdb(store), ctx, error_r);
}

enum store_result
sqlite_queue_insert(struct store *store, const char *blob_id, uint64_t size,
		    const char *env_from, const char *dsn_ret,
		    const char *dsn_envid, const struct store_queue_rcpt *rcpts,
		    size_t count, int64_t *id_r, const char **error_r)
{
	struct store_queue_msg q = { .blob_id = blob_id, .size = size,
				     .env_from = env_from, .dsn_ret = dsn_ret,
				     .dsn_envid = dsn_envid, .rcpts = rcpts,
				     .count = count };
	enum store_result r = store_commit_run(store, run_queue_insert, &q,
					       error_r);

	if (r == STORE_OK && id_r != NULL)
		*id_r = q.id;
	return r;
}

static enum store_result
load_rcpts(sqlite3 *db, struct store_queue_entry *e, const char **error_r)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if (sqlite_prep(db, &stmt, "SELECT id, address, dsn_notify, dsn_orcpt,"
			" status, last_error FROM queue_rcpts"
			" WHERE queue_id = ? ORDER BY id", "i", e->id) !=
	    SQLITE_OK)
		return sqlite_fail(db, "queue recipients", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_queue_entry_rcpt *r;

		if (e->n_rcpts == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			e->rcpts = xreallocarray(e->rcpts, cap,
						 sizeof(*e->rcpts));
		}
		r = &e->rcpts[e->n_rcpts++];
		r->id = sqlite3_column_int64(stmt, 0);
		r->address = sqlite_col_strdup(stmt, 1);
		r->dsn_notify = sqlite_col_strdup(stmt, 2);
		r->dsn_orcpt = sqlite_col_strdup(stmt, 3);
		r->status = sqlite_col_strdup(stmt, 4);
		r->last_error = sqlite_col_strdup(stmt, 5);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "queue recipients", error_r);
	return STORE_OK;
}

enum store_result
sqlite_queue_list(struct store *store, int64_t due,
		  struct store_queue_entry **entries_r, size_t *count_r,
		  const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct store_queue_entry *v = NULL;
	size_t n = 0, cap = 0;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite_prep(db, &stmt, "SELECT id, blob_id, size, env_from,"
			" dsn_ret, dsn_envid, created, next_attempt, attempts,"
			" status FROM queue WHERE ?1 = 0 OR"
			" (next_attempt <= ?1 AND status = 'queued')"
			" ORDER BY id", "i", due) != SQLITE_OK) {
		r = sqlite_fail(db, "queue list", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_queue_entry *e;
		const unsigned char *s;

		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		e = &v[n++];
		memset(e, 0, sizeof(*e));
		e->id = sqlite3_column_int64(stmt, 0);
		s = sqlite3_column_text(stmt, 1);
		snprintf(e->blob_id, sizeof(e->blob_id), "%s",
			 s != NULL ? (const char *)s : "");
		e->size = (uint64_t)sqlite3_column_int64(stmt, 2);
		e->env_from = sqlite_col_strdup(stmt, 3);
		e->dsn_ret = sqlite_col_strdup(stmt, 4);
		e->dsn_envid = sqlite_col_strdup(stmt, 5);
		e->created = sqlite3_column_int64(stmt, 6);
		e->next_attempt = sqlite3_column_int64(stmt, 7);
		e->attempts = (uint32_t)sqlite3_column_int64(stmt, 8);
		e->status = sqlite_col_strdup(stmt, 9);
		r = load_rcpts(db, e, error_r);
		if (r != STORE_OK)
			break;
	}
	if (r == STORE_OK && rc != SQLITE_DONE)
		r = sqlite_fail(db, "queue list", error_r);
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	if (r != STORE_OK) {
		store_queue_entries_free(&v, n);
		n = 0;
	}
	*entries_r = v;
	*count_r = n;
	return r;
}

static enum store_result
changed_or_missing(sqlite3 *db, int rc, const char *what, int64_t id,
		   const char **error_r)
{
	if (rc != SQLITE_OK)
		return sqlite_fail(db, what, error_r);
	if (sqlite3_changes(db) == 0)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "%s: %lld does not exist", what,
				   (long long)id);
	return STORE_OK;
}

static enum store_result
run_rcpt_update(struct store *store, void *ctx, const char **error_r)
{
	struct queue_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int rc = sqlite_exec(db, "UPDATE queue_rcpts SET status = ?,"
			     " last_error = ?, last_attempt = ? WHERE id = ?",
			     "ttii", c->status, c->last_error,
			     (int64_t)time(NULL), c->id);

	return changed_or_missing(db, rc, "queue recipient", c->id, error_r);
}

enum store_result
sqlite_queue_rcpt_update(struct store *store, int64_t rcpt_id,
			 const char *status, const char *last_error,
			 const char **error_r)
{
	struct queue_ctx c = { .id = rcpt_id, .status = status,
			       .last_error = last_error };

	return store_commit_run(store, run_rcpt_update, &c, error_r);
}

static enum store_result
run_reschedule(struct store *store, void *ctx, const char **error_r)
{
	struct queue_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int rc = sqlite_exec(db, "UPDATE queue SET next_attempt = ?,"
			     " attempts = attempts + 1, status = ?"
			     " WHERE id = ?", "iti", c->next_attempt,
			     c->status, c->id);

	return changed_or_missing(db, rc, "queue entry", c->id, error_r);
}

enum store_result
sqlite_queue_reschedule(struct store *store, int64_t id, int64_t next_attempt,
			const char *status, const char **error_r)
{
	struct queue_ctx c = { .id = id, .next_attempt = next_attempt,
			       .status = status };

	return store_commit_run(store, run_reschedule, &c, error_r);
}

static enum store_result
run_queue_delete(struct store *store, void *ctx, const char **error_r)
{
	struct queue_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int rc = sqlite_exec(db, "DELETE FROM queue WHERE id = ?", "i", c->id);

	return changed_or_missing(db, rc, "queue entry", c->id, error_r);
}

enum store_result
sqlite_queue_delete(struct store *store, int64_t id, const char **error_r)
{
	struct queue_ctx c = { .id = id };

	return store_commit_run(store, run_queue_delete, &c, error_r);
}
