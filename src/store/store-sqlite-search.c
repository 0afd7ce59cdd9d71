/* SPDX-License-Identifier: MIT */
/*
 * The full-text search index on SQLite (docs/store.md "Search index"):
 * the work list the message triggers fill, the write op that applies it
 * (entries in search_docs, their trigrams in the FTS5 table search_text)
 * and the reads of one search, restricted to one account's rowid range.
 */
#include "store/store-sqlite-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"

/* An account's entries are ids (account << 32) + 1 ... + 0xffffffff. */
#define DOC_SHIFT 32
#define DOC_FIRST(a) ((int64_t)(a) << DOC_SHIFT)
#define DOC_LAST(a) (DOC_FIRST(a) + 0xffffffffLL)

enum store_result
sqlite_search_queue_read(struct store *store, size_t max,
			 struct store_search_item **items_r, size_t *count_r,
			 const char **error_r)
{
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
	if (sqlite_prep(db, &stmt, "SELECT q.id, q.account_id, q.blob_id,"
			" q.op, EXISTS (SELECT 1 FROM search_docs d WHERE"
			" d.account_id = q.account_id AND"
			" d.blob_id = q.blob_id)"
			" FROM search_queue q ORDER BY q.id LIMIT ?", "i",
			(int64_t)max) != SQLITE_OK) {
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
		it->indexed = sqlite3_column_int(stmt, 4) != 0;
	}
	if (n < max && rc != SQLITE_DONE) {
		r = sqlite_fail(db, "search queue", error_r);
		free(v);
		v = NULL;
		n = 0;
	}
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*items_r = v;
	*count_r = n;
	return r;
}

/* Whether a message of the account still names the body: by the body's
 * row id when it is in the database, else by name (the two partial
 * indexes of migration 4). */
static int
named_by_message(sqlite3 *db, int64_t account_id, const char *blob_id,
		 int64_t *named_r)
{
	return sqlite_int(db, named_r, "SELECT EXISTS (SELECT 1 FROM messages"
			  " WHERE blob_id = ?2 AND blob_rid IS NULL AND"
			  " account_id = ?1) OR EXISTS (SELECT 1 FROM"
			  " messages m JOIN blobs b ON m.blob_rid = b.rid"
			  " WHERE b.id = ?2 AND m.account_id = ?1)", "it",
			  account_id, blob_id);
}

static enum store_result
apply_add(sqlite3 *db, const struct store_search_item *it,
	  const char **error_r)
{
	int64_t named = 0, exists = 0, doc = 0;

	if (named_by_message(db, it->account_id, it->blob_id, &named) !=
	    SQLITE_ROW ||
	    sqlite_int(db, &exists, "SELECT count(*) FROM search_docs WHERE"
		       " account_id = ? AND blob_id = ?", "it",
		       it->account_id, it->blob_id) != SQLITE_ROW)
		return sqlite_fail(db, "search index", error_r);
	/* expunged meanwhile (its DROP is later in the queue, or was
	 * applied by another process before this), or done already */
	if (named == 0 || exists != 0)
		return STORE_OK;
	if (sqlite_int(db, &doc, "SELECT coalesce(max(id), ?1) + 1 FROM"
		       " search_docs WHERE id BETWEEN ?1 AND ?2", "ii",
		       DOC_FIRST(it->account_id),
		       DOC_LAST(it->account_id)) != SQLITE_ROW)
		return sqlite_fail(db, "search index", error_r);
	if (doc > DOC_LAST(it->account_id))
		return store_error(error_r, STORE_E_TEMP,
				   "search index of account %lld is full",
				   (long long)it->account_id);
	if (sqlite_exec(db, "INSERT INTO search_docs (id, account_id,"
			" blob_id, flags, hdr, body) VALUES (?, ?, ?, ?, ?, ?)",
			"iititt", doc, it->account_id, it->blob_id,
			(int64_t)(it->complete ? 0 : 1),
			it->hdr->data, it->body->data) != SQLITE_OK ||
	    sqlite_exec(db, "INSERT INTO search_text (rowid, hdr, body)"
			" VALUES (?, ?, ?)", "itt", doc, it->hdr->data,
			it->body->data) != SQLITE_OK)
		return sqlite_fail(db, "search index", error_r);
	return STORE_OK;
}

static enum store_result
apply_drop(sqlite3 *db, const struct store_search_item *it,
	   const char **error_r)
{
	int64_t named = 0;
	sqlite3_stmt *stmt;
	int rc;

	if (named_by_message(db, it->account_id, it->blob_id, &named) !=
	    SQLITE_ROW)
		return sqlite_fail(db, "search index", error_r);
	if (named != 0)
		return STORE_OK;
	/* an external-content FTS5 table forgets a row only when told its
	 * old values */
	if (sqlite_prep(db, &stmt, "SELECT id, hdr, body FROM search_docs"
			" WHERE account_id = ? AND blob_id = ?", "it",
			it->account_id, it->blob_id) != SQLITE_OK)
		return sqlite_fail(db, "search index", error_r);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t doc = sqlite3_column_int64(stmt, 0);

		rc = sqlite_exec(db, "INSERT INTO search_text (search_text,"
				 " rowid, hdr, body) VALUES ('delete', ?, ?,"
				 " ?)", "itt", doc,
				 (const char *)sqlite3_column_text(stmt, 1),
				 (const char *)sqlite3_column_text(stmt, 2));
		if (rc == SQLITE_OK)
			rc = sqlite_exec(db, "DELETE FROM search_docs"
					 " WHERE id = ?", "i", doc);
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_OK)
		return sqlite_fail(db, "search index", error_r);
	return STORE_OK;
}

enum store_result
sqlite_search_apply(struct store *store, void *ctx, const char **error_r)
{
	struct store_search_batch *b = ctx;
	sqlite3 *db = sqlite_wdb(store);
	enum store_result r;

	for (size_t i = 0; i < b->count; i++) {
		const struct store_search_item *it = &b->items[i];

		if (!it->skip) {
			r = it->op == STORE_SEARCH_ADD ?
			    apply_add(db, it, error_r) :
			    apply_drop(db, it, error_r);
			if (r != STORE_OK)
				return r;
		}
		if (sqlite_exec(db, "DELETE FROM search_queue WHERE id = ?",
				"i", it->queue_id) != SQLITE_OK)
			return sqlite_fail(db, "search queue", error_r);
	}
	return STORE_OK;
}

enum store_result
sqlite_search_reset(struct store *store, void *ctx, const char **error_r)
{
	sqlite3 *db = sqlite_wdb(store);

	(void)ctx;
	if (sqlite_exec(db, "INSERT INTO search_text (search_text)"
			" VALUES ('delete-all')", "") != SQLITE_OK ||
	    sqlite_exec(db, "DELETE FROM search_docs", "") != SQLITE_OK ||
	    sqlite_exec(db, "DELETE FROM search_queue", "") != SQLITE_OK ||
	    sqlite_exec(db, "INSERT INTO search_queue (account_id, blob_id,"
			" op) SELECT DISTINCT account_id, blob_id, 0"
			" FROM messages", "") != SQLITE_OK)
		return sqlite_fail(db, "search reindex", error_r);
	return STORE_OK;
}

/* ---- one search ---- */

struct sqlite_search {
	struct store *store;
	sqlite3 *db;
	int64_t account_id;
};

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
	/* one snapshot for the whole search */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		r = sqlite_fail(db, "search", error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	h = xcalloc(1, sizeof(*h));
	h->store = store;
	h->db = db;
	h->account_id = account_id;
	*handle_r = h;
	return STORE_OK;
}

void
sqlite_search_end(void *handle)
{
	struct sqlite_search *h = handle;

	if (h == NULL)
		return;
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
	rc = sqlite_int(h->db, doc_r, "SELECT id FROM search_docs WHERE"
			" account_id = ? AND blob_id = ?", "it",
			h->account_id, blob_id);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sqlite_fail(h->db, "search", error_r);
	if (rc == SQLITE_DONE)
		*doc_r = 0;
	return STORE_OK;
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
	/* the mailbox's rows in UID order, each entry by the unique index
	 * on (account_id, blob_id) */
	if (sqlite_prep(h->db, &stmt, "SELECT m.uid, d.id FROM messages m"
			" JOIN search_docs d ON d.account_id = m.account_id"
			" AND d.blob_id = m.blob_id WHERE m.mailbox_id = ?"
			" AND m.account_id = ? ORDER BY m.uid", "ii",
			mailbox_id, h->account_id) != SQLITE_OK)
		return sqlite_fail(h->db, "search", error_r);
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
		r = sqlite_fail(h->db, "search", error_r);
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
	/* one FTS5 phrase: a string in double quotes, quotes doubled */
	buf_init(&q);
	if (body_only)
		buf_puts(&q, "body : ");
	buf_putc(&q, '"');
	for (const char *p = needle; *p != '\0'; p++) {
		if (*p == '"')
			buf_putc(&q, '"');
		buf_putc(&q, *p);
	}
	buf_putc(&q, '"');
	rc = sqlite_prep(h->db, &stmt, "SELECT rowid FROM search_text WHERE"
			 " search_text MATCH ? AND rowid BETWEEN ? AND ?"
			 " ORDER BY rowid", "tii", q.data,
			 DOC_FIRST(h->account_id), DOC_LAST(h->account_id));
	if (rc != SQLITE_OK) {
		buf_deinit(&q);
		return sqlite_fail(h->db, "search", error_r);
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = sqlite3_column_int64(stmt, 0);
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(h->db, "search", error_r);
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
				" search_docs WHERE id = ?", "i", doc) :
	     sqlite_prep_cached(h->db, &stmt, &cached, "SELECT hdr FROM"
				" search_docs WHERE id = ?", "i", doc);
	if (rc != SQLITE_OK)
		return sqlite_fail(h->db, "search", error_r);
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
		r = sqlite_fail(h->db, "search", error_r);
	}
	sqlite_stmt_done(stmt, cached);
	return r;
}
