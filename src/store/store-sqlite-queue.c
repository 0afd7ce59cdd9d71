/* SPDX-License-Identifier: MIT */
/*
 * The outbound queue on SQLite: one row per queued message (blob, envelope
 * sender, DSN RET/ENVID, schedule) and one per recipient (DSN NOTIFY/ORCPT,
 * state, schedule, last reply). Inserts are group-committed like
 * deliveries; every write a runner must act on moves the queue counter.
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
			" dsn_ret, dsn_envid, created, next_attempt, msg_id,"
			" need_8bitmime, need_smtputf8)"
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "titttiitii",
			q->blob_id, (int64_t)q->size, q->env_from, q->dsn_ret,
			q->dsn_envid, now, now, q->msg_id,
			(int64_t)q->need_8bitmime,
			(int64_t)q->need_smtputf8) != SQLITE_OK)
		return sqlite_fail(db, "queue insert", error_r);
	q->id = sqlite3_last_insert_rowid(db);
	for (size_t i = 0; i < q->count; i++) {
		if (sqlite_exec(db, "INSERT INTO queue_rcpts (queue_id,"
				" address, dsn_notify, dsn_orcpt, next_attempt)"
				" VALUES (?, ?, ?, ?, ?)", "ittti", q->id,
				q->rcpts[i].address, q->rcpts[i].dsn_notify,
				q->rcpts[i].dsn_orcpt, now) != SQLITE_OK)
			return sqlite_fail(db, "queue recipient insert",
					   error_r);
	}
	/* new mail is tried at once: the runner wakes on this */
	store_changed(store, STORE_WATCH_QUEUE, 0);
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
	bool cached;
	int rc;

	if (sqlite_prep_cached(db, &stmt, &cached, "SELECT id, address,"
			       " dsn_notify, dsn_orcpt, status, last_error,"
			       " next_attempt, last_attempt, attempts,"
			       " dsn_status, relay, tls, notify"
			       " FROM queue_rcpts WHERE queue_id = ?"
			       " ORDER BY id", "i", e->id) != SQLITE_OK)
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
		r->next_attempt = sqlite3_column_int64(stmt, 6);
		r->last_attempt = sqlite3_column_int64(stmt, 7);
		r->attempts = (uint32_t)sqlite3_column_int64(stmt, 8);
		r->dsn_status = sqlite_col_strdup(stmt, 9);
		r->relay = sqlite_col_strdup(stmt, 10);
		r->tls = sqlite_col_strdup(stmt, 11);
		r->notify = (enum store_queue_notify)
			sqlite3_column_int64(stmt, 12);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "queue recipients", error_r);
	return STORE_OK;
}

#define QUEUE_COLUMNS "id, blob_id, size, env_from, dsn_ret, dsn_envid," \
	" created, next_attempt, attempts, status, msg_id, warned," \
	" need_8bitmime, need_smtputf8"

static void
entry_from_row(sqlite3_stmt *stmt, struct store_queue_entry *e)
{
	const unsigned char *s;

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
	e->msg_id = sqlite_col_strdup(stmt, 10);
	e->warned = sqlite3_column_int64(stmt, 11) != 0;
	e->need_8bitmime = sqlite3_column_int64(stmt, 12) != 0;
	e->need_smtputf8 = sqlite3_column_int64(stmt, 13) != 0;
}

/* Entries of a query over QUEUE_COLUMNS (one bound integer), with their
 * recipients, read in one transaction. */
static enum store_result
read_entries(struct store *store, const char *sql, int64_t arg,
	     struct store_queue_entry **entries_r, size_t *count_r,
	     const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct store_queue_entry *v = NULL;
	size_t n = 0, cap = 0;
	enum store_result r;
	bool cached;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	/* cached statements: the runner reads every message it takes */
	if (sqlite_exec(db, "BEGIN", NULL) != SQLITE_OK ||
	    sqlite_prep_cached(db, &stmt, &cached, sql, "i", arg) !=
	    SQLITE_OK) {
		r = sqlite_fail(db, "queue list", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		entry_from_row(stmt, &v[n]);
		r = load_rcpts(db, &v[n++], error_r);
		if (r != STORE_OK)
			break;
	}
	if (r == STORE_OK && rc != SQLITE_DONE)
		r = sqlite_fail(db, "queue list", error_r);
	sqlite_stmt_done(stmt, cached);
	sqlite_reader_put(store, db);
	if (r != STORE_OK) {
		store_queue_entries_free(&v, n);
		n = 0;
	}
	*entries_r = v;
	*count_r = n;
	return r;
}

enum store_result
sqlite_queue_list(struct store *store, int64_t due,
		  struct store_queue_entry **entries_r, size_t *count_r,
		  const char **error_r)
{
	return read_entries(store, "SELECT " QUEUE_COLUMNS " FROM queue"
			    " WHERE ?1 = 0 OR (next_attempt <= ?1 AND"
			    " status = 'queued') ORDER BY id", due, entries_r,
			    count_r, error_r);
}

enum store_result
sqlite_queue_get(struct store *store, int64_t id,
		 struct store_queue_entry **entry_r, const char **error_r)
{
	size_t n = 0;
	enum store_result r = read_entries(store, "SELECT " QUEUE_COLUMNS
					   " FROM queue WHERE id = ?", id,
					   entry_r, &n, error_r);

	if (r == STORE_OK && n == 0)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "queue entry %lld does not exist",
				   (long long)id);
	return r;
}

enum store_result
sqlite_queue_get_many(struct store *store, const int64_t *ids, size_t n,
		      struct store_queue_entry **entries, const char **error_r)
{
	sqlite3 *db;
	enum store_result r;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite_exec(db, "BEGIN", NULL) != SQLITE_OK)
		r = sqlite_fail(db, "queue entries", error_r);
	for (size_t i = 0; i < n && r == STORE_OK; i++) {
		sqlite3_stmt *stmt;
		bool cached;
		int rc;

		/* the text of sqlite_queue_get's: one cached statement */
		if (sqlite_prep_cached(db, &stmt, &cached, "SELECT "
				       QUEUE_COLUMNS " FROM queue WHERE id = ?",
				       "i", ids[i]) != SQLITE_OK) {
			r = sqlite_fail(db, "queue entries", error_r);
			break;
		}
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			entries[i] = xmalloc(sizeof(*entries[i]));
			entry_from_row(stmt, entries[i]);
		} else if (rc != SQLITE_DONE) {
			r = sqlite_fail(db, "queue entries", error_r);
		}
		sqlite_stmt_done(stmt, cached);
		if (r == STORE_OK && entries[i] != NULL)
			r = load_rcpts(db, entries[i], error_r);
	}
	sqlite_reader_put(store, db);
	return r;
}

enum store_result
sqlite_queue_due(struct store *store, int64_t now, size_t max,
		 int64_t **ids_r, size_t *count_r, int64_t *next_r,
		 const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int64_t *v = NULL, next = 0;
	size_t n = 0, cap = 0;
	enum store_result r;
	bool cached;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite_exec(db, "BEGIN", NULL) != SQLITE_OK ||
	    sqlite_prep_cached(db, &stmt, &cached, "SELECT id FROM queue"
			       " WHERE status = 'queued' AND next_attempt <= ?"
			       " ORDER BY next_attempt, id LIMIT ?", "ii", now,
			       (int64_t)max) != SQLITE_OK) {
		r = sqlite_fail(db, "queue due", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = sqlite3_column_int64(stmt, 0);
	}
	sqlite_stmt_done(stmt, cached);
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, "queue due", error_r);
	} else if (n == max) {
		next = now;	/* more are due */
	} else {
		rc = sqlite_int(db, &next, "SELECT MIN(next_attempt) FROM"
				" queue WHERE status = 'queued' AND"
				" next_attempt > ?", "i", now);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			r = sqlite_fail(db, "queue due", error_r);
	}
	sqlite_reader_put(store, db);
	if (r != STORE_OK) {
		free(v);
		return r;
	}
	*ids_r = v;
	*count_r = n;
	*next_r = next;
	return STORE_OK;
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

/* After a change of entry id's recipients: removes the entry when none
 * is open and no DSN is owed, else brings its schedule up to date. */
static enum store_result
settle(sqlite3 *db, int64_t id, int64_t now, bool *finished_r,
       const char **error_r)
{
	int64_t open = 0;
	int rc = sqlite_int(db, &open, "SELECT COUNT(*) FROM queue_rcpts"
			    " WHERE queue_id = ? AND (status IN ('pending',"
			    " 'deferred') OR notify != 0)", "i", id);

	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "queue settle", error_r);
	*finished_r = open == 0;
	if (open == 0)
		rc = sqlite_exec(db, "DELETE FROM queue WHERE id = ?", "i", id);
	else
		/* only DSNs owed: due now, the runner makes them */
		rc = sqlite_exec(db, "UPDATE queue SET next_attempt ="
				 " COALESCE((SELECT MIN(next_attempt) FROM"
				 " queue_rcpts WHERE queue_id = ?1 AND status"
				 " IN ('pending', 'deferred')), ?2),"
				 " attempts = (SELECT MAX(attempts) FROM"
				 " queue_rcpts WHERE queue_id = ?1)"
				 " WHERE id = ?1", "ii", id, now);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "queue settle", error_r);
	return STORE_OK;
}

struct record_ctx {
	int64_t id;
	const struct store_queue_result *res;
	size_t count;
	const int64_t *rcpt_ids;
	bool delay_warned;
	bool *finished_r;
};

enum store_result
sqlite_queue_entry_exists(sqlite3 *db, int64_t id, const char **error_r)
{
	int64_t one;
	int rc = sqlite_int(db, &one, "SELECT 1 FROM queue WHERE id = ?", "i",
			    id);

	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "queue entry %lld does not exist",
				   (long long)id);
	if (rc != SQLITE_ROW)
		return sqlite_fail(db, "queue entry", error_r);
	return STORE_OK;
}

static bool
status_is_open(const char *status)
{
	return strcmp(status, STORE_QUEUE_PENDING) == 0 ||
	       strcmp(status, STORE_QUEUE_DEFERRED) == 0;
}

/* The entry's recipients are read first, so that an outcome that cannot
 * be recorded (the entry deleted meanwhile, a recipient not the entry's)
 * is refused before anything is written: a batch of outcomes then needs
 * no savepoint per entry. An entry these outcomes finish is deleted at
 * once (its recipients go with it, ON DELETE CASCADE) without updating
 * the recipients first: the rows would go in the same transaction. */
static enum store_result
run_record(struct store *store, void *ctx, const char **error_r)
{
	struct record_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t now = (int64_t)time(NULL);
	sqlite3_stmt *stmt;
	bool cached, open = false;
	size_t n_rows = 0, n_found = 0;
	int rc;

	if (sqlite_prep_cached(db, &stmt, &cached, "SELECT id, status, notify"
			       " FROM queue_rcpts WHERE queue_id = ?", "i",
			       c->id) != SQLITE_OK)
		return sqlite_fail(db, "queue record", error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(stmt, 0);
		const char *status = (const char *)sqlite3_column_text(stmt,
									 1);
		int64_t notify = sqlite3_column_int64(stmt, 2);
		const struct store_queue_result *x = NULL;

		n_rows++;
		for (size_t i = 0; i < c->count; i++) {
			if (c->res[i].rcpt_id == id) {
				x = &c->res[i];
				break;
			}
		}
		if (x != NULL) {
			/* as the UPDATE below leaves the row */
			n_found++;
			open |= status_is_open(x->status) || x->notify != 0 ||
				notify != 0;
		} else {
			open |= (status != NULL && status_is_open(status)) ||
				notify != 0;
		}
	}
	sqlite_stmt_done(stmt, cached);
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "queue record", error_r);
	if (n_rows == 0) {
		enum store_result r = sqlite_queue_entry_exists(db, c->id,
								error_r);

		if (r != STORE_OK)
			return r;
	}
	if (n_found < c->count) {
		/* a result names a row not of this entry (or one row
		 * twice, which is allowed): which one */
		for (size_t i = 0; i < c->count; i++) {
			int64_t one;

			rc = sqlite_int(db, &one, "SELECT 1 FROM queue_rcpts"
					" WHERE id = ? AND queue_id = ?", "ii",
					c->res[i].rcpt_id, c->id);
			if (rc == SQLITE_DONE)
				return store_error(error_r, STORE_E_NOT_FOUND,
						   "queue recipient: %lld does "
						   "not exist",
						   (long long)c->res[i].rcpt_id);
			if (rc != SQLITE_ROW)
				return sqlite_fail(db, "queue record",
						   error_r);
		}
	}
	if (!open && n_rows > 0) {
		*c->finished_r = true;
		rc = sqlite_exec(db, "DELETE FROM queue WHERE id = ?", "i",
				 c->id);
		return changed_or_missing(db, rc, "queue entry", c->id,
					  error_r);
	}
	for (size_t i = 0; i < c->count; i++) {
		const struct store_queue_result *x = &c->res[i];
		enum store_result r;

		rc = sqlite_exec(db, "UPDATE queue_rcpts SET status = ?1,"
				 " last_error = COALESCE(?2, last_error),"
				 " dsn_status = COALESCE(?3, dsn_status),"
				 " relay = COALESCE(?4, relay),"
				 " tls = COALESCE(?5, tls),"
				 " next_attempt = ?6,"
				 " attempts = attempts + ?7,"
				 " last_attempt = CASE WHEN ?7 THEN ?8"
				 " ELSE last_attempt END,"
				 " notify = CASE WHEN ?9 != 0 THEN ?9"
				 " ELSE notify END"
				 " WHERE id = ?10 AND queue_id = ?11",
				 "tttttiiiiii", x->status, x->last_error,
				 x->dsn_status, x->relay, x->tls,
				 x->next_attempt,
				 (int64_t)(x->attempted ? 1 : 0), now,
				 (int64_t)x->notify, x->rcpt_id, c->id);
		r = changed_or_missing(db, rc, "queue recipient", x->rcpt_id,
				       error_r);
		if (r != STORE_OK)
			return r;
	}
	return settle(db, c->id, now, c->finished_r, error_r);
}

enum store_result
sqlite_queue_record(struct store *store, int64_t id,
		    const struct store_queue_result *res, size_t count,
		    bool *finished_r, const char **error_r)
{
	struct record_ctx c = { .id = id, .res = res, .count = count,
				.finished_r = finished_r };

	*finished_r = false;
	return store_commit_run(store, run_record, &c, error_r);
}

enum store_result
sqlite_queue_notified_in(sqlite3 *db, struct store_queue_notified *n,
			 const char **error_r)
{
	int rc = SQLITE_OK;

	if (n->count == 0 && n->rcpt_ids == NULL)
		rc = sqlite_exec(db, "UPDATE queue_rcpts SET notify = 0"
				 " WHERE queue_id = ?", "i", n->id);
	for (size_t i = 0; i < n->count && rc == SQLITE_OK; i++)
		rc = sqlite_exec(db, "UPDATE queue_rcpts SET notify = 0"
				 " WHERE queue_id = ? AND id = ?", "ii", n->id,
				 n->rcpt_ids[i]);
	if (rc == SQLITE_OK && n->delay_warned)
		rc = sqlite_exec(db, "UPDATE queue SET warned = 1 WHERE"
				 " id = ?", "i", n->id);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "queue notified", error_r);
	return settle(db, n->id, (int64_t)time(NULL), &n->finished, error_r);
}

struct record_many {
	struct store_queue_record *recs;
	size_t n;
	store_queue_recorded_cb_t *cb;
	void *ctx;
};

/* No savepoint, neither the op's nor one per entry (each costs a copy
 * of every page the entry's statements touch into the sub-journal):
 * run_record refuses an entry that cannot be recorded before writing
 * anything, so the others stay. An error after writing (the database
 * itself failing) fails the op, and the batch it is in is rolled back
 * (STORE_OP_NO_SAVEPOINT): its outcomes are lost and tried again, which
 * may send a message twice, as RFC 5321 6.3 allows, never loses one. */
static enum store_result
run_record_many(struct store *store, void *ctx, const char **error_r)
{
	struct record_many *m = ctx;

	for (size_t k = 0; k < m->n; k++) {
		struct store_queue_record *x = &m->recs[k];
		struct record_ctx c = { .id = x->id, .res = x->results,
					.count = x->count,
					.finished_r = &x->finished };
		uint64_t mark = store->ops->op_mark(store);
		const char *err = NULL;

		x->finished = false;
		x->result = run_record(store, &c, &err);
		if (x->result != STORE_OK) {
			x->finished = false;
			if (!store->ops->op_untouched(store, mark)) {
				*error_r = err;
				return x->result;
			}
		}
	}
	return STORE_OK;
}

static void
record_many_done(struct store *store, void *ctx, enum store_result result,
		 const char *error)
{
	struct record_many *m = ctx;

	(void)store;
	m->cb(m->ctx, result, error);
	free(m);
}

enum store_result
sqlite_queue_record_async(struct store *store, struct store_queue_record *recs,
			  size_t n, store_queue_recorded_cb_t *cb, void *ctx,
			  const char **error_r)
{
	struct record_many *m = xcalloc(1, sizeof(*m));
	enum store_result r;

	m->recs = recs;
	m->n = n;
	m->cb = cb;
	m->ctx = ctx;
	r = store_commit_submit_flags(store, run_record_many, m,
				      record_many_done, STORE_OP_LAZY_SYNC |
				      STORE_OP_NO_SAVEPOINT | STORE_OP_RERUN,
				      error_r);
	if (r != STORE_OK)
		free(m);
	return r;
}

static enum store_result
run_notified(struct store *store, void *ctx, const char **error_r)
{
	struct record_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	enum store_result r = sqlite_queue_entry_exists(db, c->id, error_r);
	struct store_queue_notified n = {
		.id = c->id, .rcpt_ids = c->rcpt_ids, .count = c->count,
		.delay_warned = c->delay_warned,
	};

	if (r != STORE_OK)
		return r;
	r = sqlite_queue_notified_in(db, &n, error_r);
	*c->finished_r = n.finished;
	return r;
}

enum store_result
sqlite_queue_notified(struct store *store, int64_t id, const int64_t *rcpt_ids,
		      size_t count, bool delay_warned, bool *finished_r,
		      const char **error_r)
{
	struct record_ctx c = { .id = id, .rcpt_ids = rcpt_ids, .count = count,
				.delay_warned = delay_warned,
				.finished_r = finished_r };

	*finished_r = false;
	return store_commit_run(store, run_notified, &c, error_r);
}

struct admin_ctx {
	int64_t id;
	enum store_queue_admin op;
	const char *reason;
	size_t *changed_r;
};

static enum store_result
run_admin(struct store *store, void *ctx, const char **error_r)
{
	struct admin_ctx *c = ctx;
	sqlite3 *db = sqlite_wdb(store);
	int64_t now = (int64_t)time(NULL);
	enum store_result r = STORE_OK;
	int rc = SQLITE_OK;

	if (c->id != 0 &&
	    (r = sqlite_queue_entry_exists(db, c->id, error_r)) != STORE_OK)
		return r;
	switch (c->op) {
	case STORE_QUEUE_FLUSH:
		rc = sqlite_exec(db, "UPDATE queue_rcpts SET next_attempt = ?2"
				 " WHERE status IN ('pending', 'deferred') AND"
				 " queue_id IN (SELECT id FROM queue WHERE"
				 " status = 'queued' AND (?1 = 0 OR id = ?1))",
				 "ii", c->id, now);
		if (rc == SQLITE_OK)
			rc = sqlite_exec(db, "UPDATE queue SET next_attempt ="
					 " ?2 WHERE status = 'queued' AND"
					 " (?1 = 0 OR id = ?1)", "ii", c->id,
					 now);
		break;
	case STORE_QUEUE_HOLD:
		rc = sqlite_exec(db, "UPDATE queue SET status = 'held' WHERE"
				 " status = 'queued' AND (?1 = 0 OR id = ?1)",
				 "i", c->id);
		break;
	case STORE_QUEUE_RELEASE:
		rc = sqlite_exec(db, "UPDATE queue_rcpts SET next_attempt = ?2"
				 " WHERE status IN ('pending', 'deferred') AND"
				 " queue_id IN (SELECT id FROM queue WHERE"
				 " status = 'held' AND (?1 = 0 OR id = ?1))",
				 "ii", c->id, now);
		if (rc == SQLITE_OK)
			rc = sqlite_exec(db, "UPDATE queue SET status ="
					 " 'queued', next_attempt = ?2 WHERE"
					 " status = 'held' AND (?1 = 0 OR"
					 " id = ?1)", "ii", c->id, now);
		break;
	case STORE_QUEUE_BOUNCE:
		rc = sqlite_exec(db, "UPDATE queue_rcpts SET status ="
				 " 'bounced', last_error = ?2, dsn_status ="
				 " '5.0.0', notify = 1, next_attempt = ?3"
				 " WHERE queue_id = ?1 AND status IN"
				 " ('pending', 'deferred')", "iti", c->id,
				 c->reason != NULL ? c->reason :
				 "bounced by the administrator", now);
		if (rc == SQLITE_OK)
			rc = sqlite_exec(db, "UPDATE queue SET status ="
					 " 'queued', next_attempt = ?2 WHERE"
					 " id = ?1", "ii", c->id, now);
		break;
	}
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "queue change", error_r);
	*c->changed_r = (size_t)sqlite3_changes(db);
	store_changed(store, STORE_WATCH_QUEUE, 0);
	return STORE_OK;
}

enum store_result
sqlite_queue_admin(struct store *store, int64_t id, enum store_queue_admin op,
		   const char *reason, size_t *changed_r, const char **error_r)
{
	struct admin_ctx c = { .id = id, .op = op, .reason = reason,
			       .changed_r = changed_r };

	*changed_r = 0;
	return store_commit_run(store, run_admin, &c, error_r);
}
