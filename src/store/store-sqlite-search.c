/* SPDX-License-Identifier: MIT */
/*
 * The full-text search index on SQLite (docs/store.md "Search index"):
 * the work list the message triggers fill in herald.db, the index itself
 * (entries in search_docs, their trigrams in the FTS5 table search_text)
 * in a file of its own beside it, written by the indexer on its own
 * connection, and the reads of one search, restricted to one account's
 * rowid range.
 */
#include "store/store-sqlite-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"

/* An account's entries are ids (account << 32) + 1 ... + 0xffffffff. */
#define DOC_SHIFT 32
#define DOC_FIRST(a) ((int64_t)(a) << DOC_SHIFT)
#define DOC_LAST(a) (DOC_FIRST(a) + 0xffffffffLL)

/* PRAGMA application_id of the index file ("HRLS") and its schema
 * version: anything else at its path is not ours and is replaced. */
#define IX_APP_ID 1213353043
#define IX_VERSION 1

/* detail=none: FTS5 keeps only which entries hold a trigram, not where
 * (measured on 5 KB messages: half the insert CPU of detail=full, a third
 * of the size, and a 1 MB text's pending terms take ~5 MB, not ~10). A
 * lookup is then an AND of the needle's trigrams instead of a phrase, a
 * superset that SEARCH confirms on the text anyway. */
static const char ix_schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA application_id=" SQLITE_XSTR(IX_APP_ID) ";"
	"BEGIN;"
	"CREATE TABLE search_docs ("
	" id INTEGER PRIMARY KEY,"
	" account_id INTEGER NOT NULL,"
	" blob_id TEXT NOT NULL,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" hdr TEXT NOT NULL,"
	" body TEXT NOT NULL,"
	" UNIQUE (account_id, blob_id));"
	"CREATE VIRTUAL TABLE search_text USING fts5(hdr, body,"
	" content='search_docs', content_rowid='id', tokenize='trigram',"
	" detail=none);"
	"PRAGMA user_version=" SQLITE_XSTR(IX_VERSION) ";"
	"COMMIT;";

static const char requeue_sql[] =
	"INSERT INTO search_queue (account_id, blob_id, op)"
	" SELECT DISTINCT account_id, blob_id, 0 FROM messages";

/* ---- the index file ---- */

/* Opens the index file (never creates it) with the indexer's settings:
 * synchronous=NORMAL, because the index is derived data. After an OS
 * crash WAL keeps the file consistent (whole transactions or none); the
 * last rounds may be gone, which costs a search speed (it reads those
 * bodies), never a wrong answer. */
static int
ix_conn_open(const char *path, int busy_ms, sqlite3 **db_r)
{
	sqlite3 *db = NULL;
	int rc;

	*db_r = NULL;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_NOMUTEX, sqlite_vfs_name());
	if (rc == SQLITE_OK) {
		sqlite3_extended_result_codes(db, 1);
		sqlite3_busy_timeout(db, busy_ms);
		rc = sqlite3_exec(db, "PRAGMA synchronous=NORMAL;"
				  "PRAGMA temp_store=MEMORY;", NULL, NULL,
				  NULL);
	}
	if (rc != SQLITE_OK) {
		sqlite3_close(db);
		return rc;
	}
	*db_r = db;
	return SQLITE_OK;
}

/* Why the file at path cannot serve as the index (into why), or "" when
 * it can. */
static void
ix_check(const char *path, int busy_ms, char *why, size_t why_size)
{
	sqlite3 *db = NULL;
	int64_t app = 0, version = 0, tables = 0;
	struct stat st;
	int rc;

	why[0] = '\0';
	if (stat(path, &st) < 0) {
		snprintf(why, why_size, errno == ENOENT ? "missing" :
			 "cannot stat: %s", strerror(errno));
		return;
	}
	rc = ix_conn_open(path, busy_ms, &db);
	if (rc == SQLITE_OK &&
	    ((rc = sqlite_int(db, &app, "PRAGMA application_id", NULL)) !=
	     SQLITE_ROW ||
	     (rc = sqlite_int(db, &version, "PRAGMA user_version", NULL)) !=
	     SQLITE_ROW ||
	     (rc = sqlite_int(db, &tables, "SELECT count(*) FROM"
			      " sqlite_master WHERE name IN ('search_docs',"
			      " 'search_text')", NULL)) != SQLITE_ROW))
		snprintf(why, why_size, "unreadable: %s", sqlite3_errmsg(db));
	else if (rc != SQLITE_OK && rc != SQLITE_ROW)
		snprintf(why, why_size, "unreadable: %s", sqlite3_errstr(rc));
	else if (app != IX_APP_ID)
		snprintf(why, why_size, "foreign (application_id 0x%08llx)",
			 (unsigned long long)(uint32_t)app);
	else if (version != IX_VERSION || tables != 2)
		snprintf(why, why_size, "schema version %lld, %lld tables",
			 (long long)version, (long long)tables);
	sqlite3_close(db);
}

static void
ix_unlink(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char *p = xasprintf("%s%s", path, sfx[i]);

		(void)unlink(p);
		free(p);
	}
}

/* Replaces whatever is at path by an empty index. */
static enum store_result
ix_create(const char *path, int busy_ms, const char **error_r)
{
	sqlite3 *db = NULL;
	int rc;

	ix_unlink(path);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     sqlite_vfs_name());
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, busy_ms);
		rc = sqlite3_exec(db, ix_schema, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		enum store_result r = store_error(error_r, STORE_E_TEMP,
			"cannot create the search index %s: %s", path,
			db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));

		sqlite3_close(db);
		return r;
	}
	sqlite3_close(db);
	return STORE_OK;
}

/* (Re)opens the indexer's connection on the file now at ix_path, and
 * remembers which file that is. Under ix_lock, or at open. */
static int
ix_reopen(struct sqlite_backend *be)
{
	struct stat st;

	if (be->ixdb != NULL)
		sqlite3_close(be->ixdb);
	be->ixdb = NULL;
	if (stat(be->ix_path, &st) < 0)
		return SQLITE_CANTOPEN;
	be->ix_dev = st.st_dev;
	be->ix_ino = st.st_ino;
	return ix_conn_open(be->ix_path, (int)be->wlock_timeout_ms,
			    &be->ixdb);
}

/* Under ix_lock, before each use of ixdb: another process may have
 * replaced the file (a damaged one); follow it. false: no usable index
 * (gone: marked for repair). */
static bool
ix_current(struct sqlite_backend *be)
{
	struct stat st;

	if (stat(be->ix_path, &st) < 0) {
		be->ix_bad = true;
		return false;
	}
	if (be->ixdb == NULL || st.st_dev != be->ix_dev ||
	    st.st_ino != be->ix_ino)
		(void)ix_reopen(be);
	return be->ixdb != NULL;
}

/* Whether the last error of db says its file is damaged. */
static bool
damage(sqlite3 *db)
{
	int ec = sqlite3_extended_errcode(db);

	return (ec & 0xff) == SQLITE_CORRUPT || (ec & 0xff) == SQLITE_NOTADB ||
	       ec == SQLITE_IOERR_SHORT_READ;
}

/* A failure of ixdb: damage marks the file for repair. */
static enum store_result
ix_fail(struct sqlite_backend *be, const char *what, const char **error_r)
{
	if (damage(be->ixdb))
		be->ix_bad = true;
	return sqlite_fail(be->ixdb, what, error_r);
}

bool
sqlite_search_damaged(struct store *store)
{
	struct sqlite_backend *be = store->backend;
	struct stat st;
	bool bad;

	pthread_mutex_lock(&be->ix_lock);
	/* (one stat a round: a file deleted while we run) */
	if (!be->ix_bad && stat(be->ix_path, &st) < 0 && errno == ENOENT)
		be->ix_bad = true;
	bad = be->ix_bad;
	pthread_mutex_unlock(&be->ix_lock);
	return bad;
}

/* A write op, so that herald.db's write lock orders the processes that
 * found the file damaged: the first replaces it, the others find a new
 * file that checks good and leave it (their indexers follow it at their
 * next round, ix_current). If the batch rolls back after the file was
 * made, the index is empty without queued work: searches read bodies
 * (slower, right) until a rebuild. */
enum store_result
sqlite_search_repair(struct store *store, void *ctx, const char **error_r)
{
	struct sqlite_backend *be = store->backend;
	int busy_ms = (int)be->wlock_timeout_ms;
	enum store_result r;
	struct stat st;
	char why[256];
	dev_t dev;
	ino_t ino;
	bool bad;

	(void)ctx;
	pthread_mutex_lock(&be->ix_lock);
	bad = be->ix_bad;
	dev = be->ix_dev;
	ino = be->ix_ino;
	be->ix_bad = false;
	pthread_mutex_unlock(&be->ix_lock);
	if (!bad)
		return STORE_OK;
	ix_check(be->ix_path, busy_ms, why, sizeof(why));
	if (why[0] == '\0' && stat(be->ix_path, &st) == 0 &&
	    (st.st_dev != dev || st.st_ino != ino))
		return STORE_OK;
	if (why[0] == '\0')
		snprintf(why, sizeof(why), "damaged");
	r = ix_create(be->ix_path, busy_ms, error_r);
	if (r != STORE_OK)
		return r;
	if (sqlite_exec(sqlite_wdb(store), requeue_sql, "") != SQLITE_OK)
		return sqlite_fail(sqlite_wdb(store), "search requeue",
				   error_r);
	log_warn(NULL, "store", "search-index-created", "path=%s "
		 "reason=\"%s\"", be->ix_path, why);
	return STORE_OK;
}

enum store_result
sqlite_search_open(struct store *store, const char **error_r)
{
	struct sqlite_backend *be = store->backend;
	int busy_ms = (int)be->wlock_timeout_ms;
	char *real = realpath(be->path, NULL);
	enum store_result r = STORE_OK;
	char why[256];
	int rc;

	be->ix_path = xasprintf("%s-search", real != NULL ? real : be->path);
	free(real);
	ix_check(be->ix_path, busy_ms, why, sizeof(why));
	if (why[0] != '\0') {
		/* Under herald.db's write lock: of several processes
		 * starting at once one replaces the file, the others find
		 * it good when they look again. */
		if (sqlite3_exec(be->wdb, "BEGIN IMMEDIATE", NULL, NULL,
				 NULL) != SQLITE_OK)
			return sqlite_fail(be->wdb, "search index", error_r);
		ix_check(be->ix_path, busy_ms, why, sizeof(why));
		if (why[0] != '\0') {
			r = ix_create(be->ix_path, busy_ms, error_r);
			/* the new index is empty: every message again (a
			 * message queued twice costs a lookup) */
			if (r == STORE_OK &&
			    sqlite3_exec(be->wdb, requeue_sql, NULL, NULL,
					 NULL) != SQLITE_OK)
				r = sqlite_fail(be->wdb, "search requeue",
						error_r);
		}
		if (r == STORE_OK &&
		    sqlite3_exec(be->wdb, "COMMIT", NULL, NULL, NULL) !=
		    SQLITE_OK)
			r = sqlite_fail(be->wdb, "search requeue", error_r);
		if (r != STORE_OK) {
			sqlite3_exec(be->wdb, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
		if (why[0] != '\0') {
			if (strcmp(why, "missing") == 0)
				log_info(NULL, "store", "search-index-created",
					 "path=%s reason=missing",
					 be->ix_path);
			else
				log_warn(NULL, "store", "search-index-created",
					 "path=%s reason=\"%s\"", be->ix_path,
					 why);
		}
	}
	rc = ix_reopen(be);
	if (rc != SQLITE_OK)
		return store_error(error_r, STORE_E_TEMP, "cannot open the "
				   "search index %s: %s", be->ix_path,
				   sqlite3_errstr(rc));
	return STORE_OK;
}

void
sqlite_search_close(struct sqlite_backend *be)
{
	if (be->ixdb != NULL)
		sqlite3_close(be->ixdb);
	be->ixdb = NULL;
	free(be->ix_path);
	be->ix_path = NULL;
}

/* Attached for one search only: a reader holds two more files while the
 * index is attached, and the workers' file budget counts on few. */
static void
ix_attach(struct sqlite_backend *be, sqlite3 *db)
{
	sqlite3_stmt *stmt;

	/* Without it (the file went away while we run) a search reads
	 * every body: slower, still right. */
	if (be->ix_path == NULL ||
	    sqlite_prep(db, &stmt, "ATTACH DATABASE ? AS ix", "t",
			be->ix_path) != SQLITE_OK)
		return;
	(void)sqlite3_step(stmt);
	sqlite3_finalize(stmt);
}

static bool
has_index(sqlite3 *db)
{
	return sqlite3_db_filename(db, "ix") != NULL;
}

/* ---- the work list and the indexer's rounds ---- */

enum store_result
sqlite_search_queue_mark(struct store *store, int64_t *mark_r,
			 const char **error_r)
{
	enum store_result r;
	sqlite3 *db;

	*mark_r = 0;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	/* the rowid B-tree's right edge: one page */
	if (sqlite_int(db, mark_r, "SELECT coalesce(max(id), 0) FROM"
		       " search_queue", NULL) != SQLITE_ROW)
		r = sqlite_fail(db, "search queue", error_r);
	sqlite_reader_put(store, db);
	return r;
}

enum store_result
sqlite_search_queue_read(struct store *store, size_t max,
			 struct store_search_item **items_r, size_t *count_r,
			 const char **error_r)
{
	struct sqlite_backend *be = store->backend;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct store_search_item *v = NULL;
	size_t n = 0;
	enum store_result r;
	int rc;

	*items_r = NULL;
	*count_r = 0;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	rc = sqlite_prep(db, &stmt, "SELECT id, account_id, blob_id, op"
			 " FROM search_queue ORDER BY id LIMIT ?", "i",
			 (int64_t)max);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "search queue", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	v = xcalloc(max > 0 ? max : 1, sizeof(*v));
	while (n < max && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_search_item *it = &v[n++];
		const unsigned char *b = sqlite3_column_text(stmt, 2);

		it->queue_id = sqlite3_column_int64(stmt, 0);
		it->account_id = sqlite3_column_int64(stmt, 1);
		snprintf(it->blob_id, sizeof(it->blob_id), "%s",
			 b != NULL ? (const char *)b : "");
		it->op = sqlite3_column_int(stmt, 3) == 0 ?
			 STORE_SEARCH_ADD : STORE_SEARCH_DROP;
	}
	if (n < max && rc != SQLITE_DONE) {
		r = sqlite_fail(db, "search queue", error_r);
		free(v);
		v = NULL;
		n = 0;
	}
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	/* which ADDs the index has already (a copy, a move): no text to
	 * extract for those; the round checks again under its lock */
	if (n > 0) {
		pthread_mutex_lock(&be->ix_lock);
		for (size_t i = 0; ix_current(be) && i < n; i++) {
			int64_t has = 0;

			if (v[i].op == STORE_SEARCH_ADD &&
			    sqlite_int(be->ixdb, &has, "SELECT count(*) FROM"
				       " search_docs WHERE account_id = ? AND"
				       " blob_id = ?", "it", v[i].account_id,
				       v[i].blob_id) == SQLITE_ROW)
				v[i].indexed = has != 0;
		}
		pthread_mutex_unlock(&be->ix_lock);
	}
	*items_r = v;
	*count_r = n;
	return r;
}

/* Whether a message of the account still names the body (on a reader
 * of herald.db): by the body's row id when it is in the database, else
 * by name (the two partial indexes of migration 4). */
static int
named_by_message(sqlite3 *db, int64_t account_id, const char *blob_id,
		 int64_t *named_r)
{
	return sqlite_int(db, named_r, "SELECT EXISTS (SELECT 1 FROM"
			  " main.messages WHERE blob_id = ?2 AND blob_rid IS"
			  " NULL AND account_id = ?1) OR EXISTS (SELECT 1"
			  " FROM main.messages m JOIN main.blobs b ON"
			  " m.blob_rid = b.rid WHERE b.id = ?2 AND"
			  " m.account_id = ?1)", "it", account_id, blob_id);
}

static int
bind_buf(sqlite3_stmt *stmt, int col, const struct buf *b)
{
	return sqlite3_bind_text64(stmt, col, b->len > 0 ? b->data : "",
				   (sqlite3_uint64)b->len, SQLITE_STATIC,
				   SQLITE_UTF8);
}

/* The index connection ix; named: the queue entry's answer in herald.db
 * now. */
static int
apply_add(sqlite3 *ix, const struct store_search_item *it)
{
	int64_t exists = 0, doc = 0;
	sqlite3_stmt *stmt;
	int rc;

	rc = sqlite_int(ix, &exists, "SELECT count(*) FROM search_docs"
			" WHERE account_id = ? AND blob_id = ?", "it",
			it->account_id, it->blob_id);
	if (rc != SQLITE_ROW || exists != 0)
		return rc == SQLITE_ROW ? SQLITE_OK : rc;
	rc = sqlite_int(ix, &doc, "SELECT coalesce(max(id), ?1) + 1 FROM"
			" search_docs WHERE id BETWEEN ?1 AND ?2", "ii",
			DOC_FIRST(it->account_id), DOC_LAST(it->account_id));
	if (rc != SQLITE_ROW)
		return rc;
	if (doc > DOC_LAST(it->account_id))
		return SQLITE_FULL;
	/* the text bound in place (it may be a megabyte): no copies */
	rc = sqlite_prep(ix, &stmt, "INSERT INTO search_docs (id,"
			 " account_id, blob_id, flags, hdr, body) VALUES"
			 " (?, ?, ?, ?, ?, ?)", "iiti", doc, it->account_id,
			 it->blob_id, (int64_t)(it->complete ? 0 : 1));
	if (rc == SQLITE_OK &&
	    (rc = bind_buf(stmt, 5, it->hdr)) == SQLITE_OK &&
	    (rc = bind_buf(stmt, 6, it->body)) == SQLITE_OK)
		rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK :
		     sqlite3_errcode(ix);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite_prep(ix, &stmt, "INSERT INTO search_text (rowid, hdr,"
			 " body) VALUES (?, ?, ?)", "i", doc);
	if (rc == SQLITE_OK &&
	    (rc = bind_buf(stmt, 2, it->hdr)) == SQLITE_OK &&
	    (rc = bind_buf(stmt, 3, it->body)) == SQLITE_OK)
		rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK :
		     sqlite3_errcode(ix);
	sqlite3_finalize(stmt);
	return rc;
}

static int
apply_drop(sqlite3 *ix, const struct store_search_item *it)
{
	sqlite3_stmt *stmt;
	int rc;

	/* an external-content FTS5 table forgets a row only when told its
	 * old values */
	rc = sqlite_prep(ix, &stmt, "SELECT id, hdr, body FROM search_docs"
			 " WHERE account_id = ? AND blob_id = ?", "it",
			 it->account_id, it->blob_id);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t doc = sqlite3_column_int64(stmt, 0);

		rc = sqlite_exec(ix, "INSERT INTO search_text (search_text,"
				 " rowid, hdr, body) VALUES ('delete', ?, ?,"
				 " ?)", "itt", doc,
				 (const char *)sqlite3_column_text(stmt, 1),
				 (const char *)sqlite3_column_text(stmt, 2));
		if (rc == SQLITE_OK)
			rc = sqlite_exec(ix, "DELETE FROM search_docs"
					 " WHERE id = ?", "i", doc);
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* One round into the index file. The index's write lock comes first and
 * herald.db's snapshot after it, so rounds of all processes see
 * herald.db in the order they write the index: the last round to touch
 * an (account, body) decides from the newest state, whatever order the
 * queue entries were taken in. An entry is added only when a message of
 * the account names the body and dropped only when none does, so a
 * round applied twice (its queue rows not yet removed, another indexer
 * on the same rows) changes nothing the second time. */
enum store_result
sqlite_search_apply(struct store *store, struct store_search_batch *b,
		    const char **error_r)
{
	struct sqlite_backend *be = store->backend;
	sqlite3 *ix, *db = NULL;
	enum store_result r = STORE_OK;
	int rc;

	pthread_mutex_lock(&be->ix_lock);
	if (!ix_current(be)) {
		pthread_mutex_unlock(&be->ix_lock);
		return store_error(error_r, STORE_E_TEMP, "the search index "
				   "%s is gone", be->ix_path);
	}
	ix = be->ixdb;
	if (sqlite3_exec(ix, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		r = ix_fail(be, "search index", error_r);
		pthread_mutex_unlock(&be->ix_lock);
		return r;
	}
	r = sqlite_reader_get(store, &db, error_r);
	if (r == STORE_OK && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) !=
	    SQLITE_OK)
		r = sqlite_fail(db, "search index", error_r);
	for (size_t i = 0; r == STORE_OK && i < b->count; i++) {
		const struct store_search_item *it = &b->items[i];
		int64_t named = 0;

		if (it->skip)
			continue;
		if (named_by_message(db, it->account_id, it->blob_id,
				     &named) != SQLITE_ROW) {
			r = sqlite_fail(db, "search index", error_r);
			break;
		}
		/* ADD of a body expunged meanwhile (its DROP is later in
		 * the queue or was applied already); DROP of a body a
		 * message still names (a copy) */
		if ((it->op == STORE_SEARCH_ADD) != (named != 0))
			continue;
		rc = it->op == STORE_SEARCH_ADD ? apply_add(ix, it) :
		     apply_drop(ix, it);
		if (rc == SQLITE_FULL)
			r = store_error(error_r, STORE_E_TEMP, "search index "
					"of account %lld is full",
					(long long)it->account_id);
		else if (rc != SQLITE_OK)
			r = ix_fail(be, "search index", error_r);
	}
	if (db != NULL)
		sqlite_reader_put(store, db);
	if (r == STORE_OK &&
	    sqlite3_exec(ix, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = ix_fail(be, "search index commit", error_r);
	if (r != STORE_OK)
		sqlite3_exec(ix, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&be->ix_lock);
	return r;
}

enum store_result
sqlite_search_dequeue(struct store *store, void *ctx, const char **error_r)
{
	struct store_search_batch *b = ctx;
	sqlite3 *db = sqlite_wdb(store);

	for (size_t i = 0; i < b->count; i++)
		if (sqlite_exec(db, "DELETE FROM search_queue WHERE id = ?",
				"i", b->items[i].queue_id) != SQLITE_OK)
			return sqlite_fail(db, "search queue", error_r);
	return STORE_OK;
}

enum store_result
sqlite_search_clear(struct store *store, const char **error_r)
{
	struct sqlite_backend *be = store->backend;
	enum store_result r = STORE_OK;

	pthread_mutex_lock(&be->ix_lock);
	if (!ix_current(be)) {
		/* gone: the repair makes it empty anyway */
		pthread_mutex_unlock(&be->ix_lock);
		return STORE_OK;
	}
	if (sqlite3_exec(be->ixdb, "BEGIN IMMEDIATE;"
			 "INSERT INTO search_text (search_text)"
			 " VALUES ('delete-all');"
			 "DELETE FROM search_docs;"
			 "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
		r = ix_fail(be, "search reindex", error_r);
		sqlite3_exec(be->ixdb, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&be->ix_lock);
	return r;
}

enum store_result
sqlite_search_requeue(struct store *store, void *ctx, const char **error_r)
{
	sqlite3 *db = sqlite_wdb(store);

	(void)ctx;
	if (sqlite_exec(db, requeue_sql, "") != SQLITE_OK)
		return sqlite_fail(db, "search reindex", error_r);
	return STORE_OK;
}

/* ---- one search ---- */

struct sqlite_search {
	struct store *store;
	sqlite3 *db;
	int64_t account_id;
	bool indexed;		/* the index file is attached */
};

/* A failed read of a search. A damaged index file fails the search (a
 * NO, never a wrong answer: its entries may be readable and its trigrams
 * not) and is marked for the indexer to replace. */
static enum store_result
search_fail(struct sqlite_search *h, const char **error_r)
{
	struct sqlite_backend *be = h->store->backend;

	if (h->indexed && damage(h->db)) {
		pthread_mutex_lock(&be->ix_lock);
		be->ix_bad = true;
		pthread_mutex_unlock(&be->ix_lock);
	}
	return sqlite_fail(h->db, "search", error_r);
}

enum store_result
sqlite_search_begin(struct store *store, int64_t account_id,
		    void **handle_r, const char **error_r)
{
	struct sqlite_search *h;
	enum store_result r;
	sqlite3 *db;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	ix_attach(store->backend, db);
	/* one snapshot for the whole search */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		r = sqlite_fail(db, "search", error_r);
		sqlite3_exec(db, "DETACH DATABASE ix", NULL, NULL, NULL);
		sqlite_reader_put(store, db);
		return r;
	}
	h = xcalloc(1, sizeof(*h));
	h->store = store;
	h->db = db;
	h->account_id = account_id;
	h->indexed = has_index(db);
	*handle_r = h;
	return STORE_OK;
}

void
sqlite_search_end(void *handle)
{
	struct sqlite_search *h = handle;

	if (h == NULL)
		return;
	if (!sqlite3_get_autocommit(h->db))
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	if (h->indexed)
		sqlite3_exec(h->db, "DETACH DATABASE ix", NULL, NULL, NULL);
	sqlite_reader_put(h->store, h->db);
	free(h);
}

enum store_result
sqlite_search_doc(void *handle, const char *blob_id, int64_t *doc_r,
		  const char **error_r)
{
	struct sqlite_search *h = handle;
	int rc;

	*doc_r = 0;
	if (!h->indexed)
		return STORE_OK;
	rc = sqlite_int(h->db, doc_r, "SELECT id FROM ix.search_docs WHERE"
			" account_id = ? AND blob_id = ?", "it",
			h->account_id, blob_id);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return search_fail(h, error_r);
	if (rc == SQLITE_DONE)
		*doc_r = 0;
	return STORE_OK;
}

/* Trigrams of a needle ANDed into one FTS5 query (detail=none answers no
 * phrase): at most NEEDLE_TERMS of them, spread over the needle, the
 * first and the last always. Each is a string of 3 characters, which the
 * trigram tokenizer takes as exactly one token. */
#define NEEDLE_TERMS 16

/* The start of the character after the one at p (UTF-8). */
static const char *
next_char(const char *p)
{
	if (*p != '\0')
		p++;
	while (((unsigned char)*p & 0xc0) == 0x80)
		p++;
	return p;
}

static void
needle_query(const char *needle, struct buf *q)
{
	size_t n = 0, terms;

	/* the trigram tokenizer counts characters, not octets */
	for (const char *p = needle; *p != '\0'; p = next_char(p))
		n++;
	buf_init(q);
	if (n < 3)
		return;
	terms = n - 2 < NEEDLE_TERMS ? n - 2 : NEEDLE_TERMS;
	for (size_t t = 0; t < terms; t++) {
		size_t at = terms == 1 ? 0 : t * (n - 3) / (terms - 1);
		const char *p = needle, *e;

		for (size_t i = 0; i < at; i++)
			p = next_char(p);
		e = next_char(next_char(next_char(p)));
		if (t > 0)
			buf_puts(q, " AND ");
		buf_putc(q, '"');
		for (; p < e; p++) {
			if (*p == '"')
				buf_putc(q, '"');
			buf_putc(q, *p);
		}
		buf_putc(q, '"');
	}
}

enum store_result
sqlite_search_mailbox_docs(void *handle, int64_t mailbox_id, uint32_t **uids_r,
			   int64_t **docs_r, size_t *count_r,
			   const char **error_r)
{
	struct sqlite_search *h = handle;
	sqlite3_stmt *stmt;
	uint32_t *uids = NULL;
	int64_t *docs = NULL;
	size_t n = 0, cap = 0;
	enum store_result r = STORE_OK;
	int rc;

	*uids_r = NULL;
	*docs_r = NULL;
	*count_r = 0;
	if (!h->indexed)
		return STORE_OK;
	/* the mailbox's rows in UID order, each entry by the unique index
	 * on (account_id, blob_id) of the attached index */
	if (sqlite_prep(h->db, &stmt, "SELECT m.uid, d.id FROM main.messages m"
			" JOIN ix.search_docs d ON d.account_id = m.account_id"
			" AND d.blob_id = m.blob_id WHERE m.mailbox_id = ?"
			" AND m.account_id = ? ORDER BY m.uid", "ii",
			mailbox_id, h->account_id) != SQLITE_OK)
		return search_fail(h, error_r);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			uids = xreallocarray(uids, cap, sizeof(*uids));
			docs = xreallocarray(docs, cap, sizeof(*docs));
		}
		uids[n] = (uint32_t)sqlite3_column_int64(stmt, 0);
		docs[n++] = sqlite3_column_int64(stmt, 1);
	}
	if (rc != SQLITE_DONE) {
		r = search_fail(h, error_r);
		free(uids);
		free(docs);
		uids = NULL;
		docs = NULL;
		n = 0;
	}
	sqlite3_finalize(stmt);
	*uids_r = uids;
	*docs_r = docs;
	*count_r = n;
	return r;
}

enum store_result
sqlite_search_match(void *handle, const char *needle, bool body_only,
		    int64_t **docs_r, size_t *count_r, const char **error_r)
{
	struct sqlite_search *h = handle;
	struct buf q;
	sqlite3_stmt *stmt;
	int64_t *v = NULL;
	size_t n = 0, cap = 0;
	enum store_result r = STORE_OK;
	int rc;

	*docs_r = NULL;
	*count_r = 0;
	/* body_only: detail=none has no column filter; the hits that are in
	 * the header fields only are a superset SEARCH confirms away */
	(void)body_only;
	if (!h->indexed)
		return STORE_OK;
	needle_query(needle, &q);
	rc = sqlite_prep(h->db, &stmt, "SELECT rowid FROM ix.search_text WHERE"
			 " search_text MATCH ? AND rowid BETWEEN ? AND ?"
			 " ORDER BY rowid", "tii", q.data,
			 DOC_FIRST(h->account_id), DOC_LAST(h->account_id));
	if (rc != SQLITE_OK) {
		buf_deinit(&q);
		return search_fail(h, error_r);
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = sqlite3_column_int64(stmt, 0);
	}
	if (rc != SQLITE_DONE) {
		r = search_fail(h, error_r);
		free(v);
		v = NULL;
		n = 0;
	}
	sqlite3_finalize(stmt);
	buf_deinit(&q);
	*docs_r = v;
	*count_r = n;
	return r;
}

enum store_result
sqlite_search_text(void *handle, int64_t doc, struct buf *hdr,
		   struct buf *body, const char **error_r)
{
	struct sqlite_search *h = handle;
	sqlite3_stmt *stmt;
	enum store_result r = STORE_OK;
	bool cached;
	int rc;

	/* once per message of a search: the statements stay prepared on
	 * the borrowed connection */
	rc = body != NULL ?
	     sqlite_prep_cached(h->db, &stmt, &cached, "SELECT hdr, body FROM"
				" ix.search_docs WHERE id = ?", "i", doc) :
	     sqlite_prep_cached(h->db, &stmt, &cached, "SELECT hdr FROM"
				" ix.search_docs WHERE id = ?", "i", doc);
	if (rc != SQLITE_OK)
		return search_fail(h, error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		buf_append(hdr, sqlite3_column_text(stmt, 0),
			   (size_t)sqlite3_column_bytes(stmt, 0));
		if (body != NULL)
			buf_append(body, sqlite3_column_text(stmt, 1),
				   (size_t)sqlite3_column_bytes(stmt, 1));
	} else if (rc == SQLITE_DONE) {
		r = store_error(error_r, STORE_E_NOT_FOUND,
				"search entry %lld is gone", (long long)doc);
	} else {
		r = search_fail(h, error_r);
	}
	sqlite_stmt_done(stmt, cached);
	return r;
}
