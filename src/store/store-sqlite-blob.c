/* SPDX-License-Identifier: MIT */
/*
 * Small message blobs in the SQLite database (table blobs): the insert
 * that store-blob.c queues into the group commit, reads, and the check
 * every delivery and queue insert makes that its blob is really stored.
 */
#include "store/store-sqlite-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"

/* A record is a pure function of the blob's octets and the record
 * version: replacing one changes it only when the version moved on. */
static const char mime_put_sql[] =
	"INSERT OR REPLACE INTO mime_cache (blob_id, data) VALUES (?, ?)";

enum store_result
sqlite_blob_insert(struct store *store, void *ctx, const char **error_r)
{
	struct store_pending_blob *pb = ctx;
	sqlite3 *db = sqlite_wdb(store);

	/* Same content, same id: a second insert changes nothing. */
	if (sqlite_exec(db, "INSERT OR IGNORE INTO blobs (id, size, data,"
			" created) VALUES (?, ?, ?, ?)", "tiXi", pb->id,
			(int64_t)pb->len, (const void *)pb->data, pb->len,
			(int64_t)time(NULL)) != SQLITE_OK)
		return sqlite_fail(db, "blob insert", error_r);
	if (pb->mime != NULL &&
	    sqlite_exec(db, mime_put_sql, "tX", pb->id,
			(const void *)pb->mime, pb->mime_len) != SQLITE_OK)
		return sqlite_fail(db, "MIME structure insert", error_r);
	return STORE_OK;
}

enum store_result
sqlite_mime_put(struct store *store, void *ctx, const char **error_r)
{
	struct store_mime_put *mp = ctx;
	sqlite3 *db = sqlite_wdb(store);

	if (sqlite_exec(db, mime_put_sql, "tX", mp->id, (const void *)mp->data,
			mp->len) != SQLITE_OK)
		return sqlite_fail(db, "MIME structure insert", error_r);
	return STORE_OK;
}

static const char mime_select_sql[] =
	"SELECT data FROM mime_cache WHERE blob_id = ?";

/* The record of blob id on db (a reader this thread borrowed). */
static enum store_result
mime_select(sqlite3 *db, const char *id, uint8_t **data_r, size_t *len_r,
	    const char **error_r)
{
	sqlite3_stmt *stmt;
	enum store_result r = STORE_OK;
	bool cached;
	int rc;

	*data_r = NULL;
	*len_r = 0;
	rc = sqlite_prep_cached(db, &stmt, &cached, mime_select_sql, "t", id);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "MIME structure read", error_r);
	} else {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
			const void *p = sqlite3_column_blob(stmt, 0);

			*data_r = xmalloc(len + 1);
			if (len > 0)
				memcpy(*data_r, p, len);
			*len_r = len;
		} else if (rc == SQLITE_DONE) {
			r = store_error(error_r, STORE_E_NOT_FOUND,
					"no MIME structure for blob %s", id);
		} else {
			r = sqlite_fail(db, "MIME structure read", error_r);
		}
		sqlite_stmt_done(stmt, cached);
	}
	return r;
}

enum store_result
sqlite_mime_get(struct store *store, const char *id, uint8_t **data_r,
		size_t *len_r, const char **error_r)
{
	sqlite3 *db;
	enum store_result r;

	*data_r = NULL;
	*len_r = 0;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	r = mime_select(db, id, data_r, len_r, error_r);
	sqlite_reader_put(store, db);
	return r;
}

static const char blob_select_sql[] = "SELECT data FROM blobs WHERE id = ?";
static const char blob_rid_sql[] = "SELECT rid FROM blobs WHERE id = ?";

enum store_result
sqlite_blob_read(struct store *store, const char *id, uint8_t **data_r,
		 size_t *len_r, const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	enum store_result r;
	bool cached;
	int rc;

	*data_r = NULL;
	*len_r = 0;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	rc = sqlite_prep_cached(db, &stmt, &cached, blob_select_sql, "t", id);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "blob read", error_r);
	} else {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			const void *p = sqlite3_column_blob(stmt, 0);
			size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
			/* UNSAFE: len + 1 cannot wrap, SQLite caps a value
			 * at 1 GB by default. */
			uint8_t *data = xmalloc(len + 1);

			if (len > 0)
				memcpy(data, p, len);
			data[len] = '\0';
			*data_r = data;
			*len_r = len;
		} else if (rc == SQLITE_DONE) {
			r = store_error(error_r, STORE_E_NOT_FOUND,
					"blob %s does not exist", id);
		} else {
			r = sqlite_fail(db, "blob read", error_r);
		}
		sqlite_stmt_done(stmt, cached);
	}
	sqlite_reader_put(store, db);
	return r;
}

/* store_blob_reader's connection: the SELECT stays stepped on its row
 * (the blob's bytes are SQLite's, not copied) until the next get. */
struct sqlite_blob_batch {
	struct store *store;
	sqlite3 *db;
	sqlite3_stmt *stmt;	/* on a row, or NULL */
	bool cached;
	bool in_txn;
};

static void
batch_release_row(struct sqlite_blob_batch *b)
{
	if (b->stmt != NULL) {
		sqlite_stmt_done(b->stmt, b->cached);
		b->stmt = NULL;
	}
}

enum store_result
sqlite_blob_batch_begin(struct store *store, void **handle_r,
			const char **error_r)
{
	struct sqlite_blob_batch *b;
	sqlite3 *db;
	enum store_result r;

	*handle_r = NULL;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	b = xcalloc(1, sizeof(*b));
	b->store = store;
	b->db = db;
	*handle_r = b;
	return STORE_OK;
}

enum store_result
sqlite_blob_batch_get(void *handle, const char *id, const uint8_t **data_r,
		      size_t *len_r, const char **error_r)
{
	struct sqlite_blob_batch *b = handle;
	int rc;

	*data_r = NULL;
	*len_r = 0;
	batch_release_row(b);
	/* One snapshot for the whole run: without it every SELECT is a
	 * read transaction of its own (two fcntl locks and an fstat). */
	if (!b->in_txn) {
		if (sqlite_exec(b->db, "BEGIN", NULL) != SQLITE_OK)
			return sqlite_fail(b->db, "blob read", error_r);
		b->in_txn = true;
	}
	rc = sqlite_prep_cached(b->db, &b->stmt, &b->cached, blob_select_sql,
				"t", id);
	if (rc != SQLITE_OK) {
		b->stmt = NULL;
		return sqlite_fail(b->db, "blob read", error_r);
	}
	rc = sqlite3_step(b->stmt);
	if (rc == SQLITE_ROW) {
		static const uint8_t empty[1];
		const void *p = sqlite3_column_blob(b->stmt, 0);

		*len_r = (size_t)sqlite3_column_bytes(b->stmt, 0);
		*data_r = p != NULL ? p : empty;
		return STORE_OK;
	}
	batch_release_row(b);
	if (rc == SQLITE_DONE)
		return store_error(error_r, STORE_E_NOT_FOUND,
				   "blob %s does not exist", id);
	return sqlite_fail(b->db, "blob read", error_r);
}

enum store_result
sqlite_blob_batch_mime_get(void *handle, const char *id, uint8_t **data_r,
			   size_t *len_r, const char **error_r)
{
	struct sqlite_blob_batch *b = handle;

	*data_r = NULL;
	*len_r = 0;
	/* the same snapshot as the blob reads: a FETCH reads both per
	 * message, and a second borrow per message would be a read
	 * transaction of its own with its statement parsed each time */
	if (!b->in_txn) {
		if (sqlite_exec(b->db, "BEGIN", NULL) != SQLITE_OK)
			return sqlite_fail(b->db, "MIME structure read",
					   error_r);
		b->in_txn = true;
	}
	return mime_select(b->db, id, data_r, len_r, error_r);
}

void
sqlite_blob_batch_refresh(void *handle)
{
	struct sqlite_blob_batch *b = handle;

	batch_release_row(b);
	if (b->in_txn) {
		/* read-only: COMMIT cannot lose anything; if it fails,
		 * reader_put rolls back */
		(void)sqlite_exec(b->db, "COMMIT", NULL);
		b->in_txn = false;
	}
}

void
sqlite_blob_batch_end(void *handle)
{
	struct sqlite_blob_batch *b = handle;

	sqlite_blob_batch_refresh(b);
	sqlite_reader_put(b->store, b->db);
	free(b);
}

enum store_result
sqlite_blob_check_ref(struct store *store, sqlite3 *db, const char *id,
		      const char **error_r)
{
	int64_t rid;

	return sqlite_blob_ref(store, db, id, &rid, error_r);
}

enum store_result
sqlite_blob_ref(struct store *store, sqlite3 *db, const char *id,
		int64_t *rid_r, const char **error_r)
{
	int rc;

	*rid_r = 0;
	rc = sqlite_int(db, rid_r, blob_rid_sql, "t", id);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc != SQLITE_DONE)
		return sqlite_fail(db, "blob lookup", error_r);
	if (store_blob_file_exists(store, id))
		return STORE_OK;
	return store_error(error_r, STORE_E_TEMP,
			   "blob %s is not stored (write it again)", id);
}

/* ---- collection (docs/store.md "Deleting blobs") ---- */

#define BLOB_GC_DEFAULT_MAX 500

/* Whether a message or a queue entry names the blob. Returns 1, 0, or -1
 * on a database error. */
static int
blob_referenced(sqlite3 *db, const char *id)
{
	int64_t n = 0, rid = 0;
	int rc = sqlite_int(db, &rid, blob_rid_sql, "t", id);

	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	/* by row id for an inline body (messages_blob_rid), by name for a
	 * file or a message that has no row id (messages_blob_file) */
	rc = sqlite_int(db, &n, "SELECT EXISTS (SELECT 1 FROM messages"
			" WHERE blob_rid = ?1) OR EXISTS (SELECT 1 FROM"
			" messages WHERE blob_id = ?2 AND blob_rid IS NULL)"
			" OR EXISTS (SELECT 1 FROM queue WHERE blob_id = ?2)",
			"it", rid, id);
	if (rc != SQLITE_ROW)
		return -1;
	return n != 0;
}

/* Runs alone in its transaction (store_commit_run_alone, or the writer's
 * own round): the ids it takes were queued by committed deletes, and no
 * other op's write shares this transaction, so a file removed here is one
 * that nothing committed names, and no rollback can bring a reference
 * back. A delivery later in the queue that names a removed blob fails its
 * own check (sqlite_blob_check_ref) and is retried. */
enum store_result
sqlite_blob_gc(struct store *store, void *ctx, const char **error_r)
{
	struct store_blob_gc_result *res = ctx;
	sqlite3 *db = sqlite_wdb(store);
	size_t max = res->max > 0 ? res->max : BLOB_GC_DEFAULT_MAX;
	sqlite3_stmt *stmt;
	char **ids = xcalloc(max + 1, sizeof(*ids));
	size_t n = 0;
	enum store_result r = STORE_OK;
	int rc;

	res->checked = res->freed = 0;
	res->bytes = 0;
	res->more = false;
	rc = sqlite_prep(db, &stmt, "SELECT id FROM blob_gc LIMIT ?", "i",
			 (int64_t)max + 1);
	if (rc != SQLITE_OK) {
		free(ids);
		return sqlite_fail(db, "blob collection", error_r);
	}
	while (n <= max && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		ids[n++] = sqlite_col_strdup(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = sqlite_fail(db, "blob collection", error_r);
		goto out;
	}
	if (n > max) {
		res->more = true;
		n = max;
	}
	for (size_t i = 0; i < n; i++) {
		int used = blob_referenced(db, ids[i]);
		int64_t size = 0;
		uint64_t fsize = 0;

		if (used < 0) {
			r = sqlite_fail(db, "blob collection", error_r);
			goto out;
		}
		if (!used) {
			rc = sqlite_int(db, &size, "SELECT size FROM blobs"
					" WHERE id = ?", "t", ids[i]);
			if (rc == SQLITE_ROW) {
				rc = sqlite_exec(db, "DELETE FROM blobs WHERE"
						 " id = ?", "t", ids[i]);
				if (rc != SQLITE_OK) {
					r = sqlite_fail(db, "blob collection",
							error_r);
					goto out;
				}
				res->freed++;
				res->bytes += (uint64_t)size;
			} else if (rc != SQLITE_DONE) {
				r = sqlite_fail(db, "blob collection", error_r);
				goto out;
			}
			if (sqlite_exec(db, "DELETE FROM mime_cache WHERE"
					" blob_id = ?", "t", ids[i]) !=
			    SQLITE_OK) {
				r = sqlite_fail(db, "blob collection",
						error_r);
				goto out;
			}
			if (store_blob_id_is_valid(ids[i]) &&
			    store_blob_file_remove(store, ids[i], &fsize)) {
				res->freed++;
				res->bytes += fsize;
			}
		}
		if (sqlite_exec(db, "DELETE FROM blob_gc WHERE id = ?", "t",
				ids[i]) != SQLITE_OK) {
			r = sqlite_fail(db, "blob collection", error_r);
			goto out;
		}
		res->checked++;
	}
out:
	for (size_t i = 0; i < n + (res->more ? 1 : 0); i++)
		free(ids[i]);
	free(ids);
	return r;
}

enum store_result
sqlite_blob_forget(struct store *store, void *ctx, const char **error_r)
{
	sqlite3 *db = sqlite_wdb(store);

	if (sqlite_exec(db, "INSERT OR IGNORE INTO blob_gc (id) VALUES (?)",
			"t", (const char *)ctx) != SQLITE_OK)
		return sqlite_fail(db, "blob collection queue", error_r);
	return STORE_OK;
}
