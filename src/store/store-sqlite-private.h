/* SPDX-License-Identifier: MIT */
/*
 * Shared by the SQLite backend's files: connections (one writer connection
 * owned by the writer thread, a mutex-protected pool of reader connections)
 * and small prepare/bind/step helpers.
 */
#ifndef HERALD_STORE_SQLITE_PRIVATE_H
#define HERALD_STORE_SQLITE_PRIVATE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store-private.h"

/* Prepared statements of the writer connection, reused across ops: the
 * writer is CPU-bound once fsyncs are shared, and preparing costs more
 * than running these one-row statements. */
#define SQLITE_STMT_CACHE 48
/* The same for each reader connection (a POP3 download runs one blob
 * SELECT per message; parsing it each time cost more than the lookup). */
#define SQLITE_READER_STMT_CACHE 16

/* A connection's prepared statements, most recently added first; key[i]
 * is the SQL text pointer it was last asked with (a string literal,
 * normally), so a lookup is a pointer compare and one strcmp instead of a
 * strcmp per entry. */
struct sqlite_stmt_cache {
	sqlite3_stmt **stmt;
	const char **key;
	size_t n, max;
};

/* A reader connection and its statements (in the pool or borrowed). */
struct sqlite_reader {
	sqlite3 *db;
	struct sqlite_stmt_cache cache;
	sqlite3_stmt *stmt[SQLITE_READER_STMT_CACHE];
	const char *key[SQLITE_READER_STMT_CACHE];
};

struct sqlite_backend {
	char *path;
	sqlite3 *wdb;			/* writer thread (and open) only */
	struct sqlite_stmt_cache wcache;	/* the writer's statements */
	sqlite3_stmt *wstmt[SQLITE_STMT_CACHE];
	const char *wkey[SQLITE_STMT_CACHE];
	pthread_mutex_t pool_lock;
	/* every reader connection opened; those not in use */
	struct sqlite_reader **readers, **idle;
	size_t n_readers, n_idle, cap_readers;
	struct store_wlock *wlock;	/* writer lock shared by processes */
	bool wlock_held;		/* writer thread only */
	/* Writer thread only: synchronous=NORMAL is set (a lazy batch's),
	 * and the last commit's number and whether it synced the WAL. */
	bool sync_lazy;
	uint64_t commit_seq;
	bool commit_synced;
	uint64_t wlock_timeout_ms;
	/* The search index's file (<herald.db>-search), attached to every
	 * reader as "ix", and the connection the indexer writes it on
	 * (under ix_lock; docs/store.md "Search index"). */
	char *ix_path;
	sqlite3 *ixdb;
	pthread_mutex_t ix_lock;
	/* the file ixdb has open; found damaged or gone (under ix_lock) */
	dev_t ix_dev;
	ino_t ix_ino;
	bool ix_bad;
};

/* PRAGMA application_id of a Herald database ("HRLD"), set by migration
 * 5: what tells Herald's store apart from another program's SQLite file
 * at open (docs/store.md "Opening"). */
#define SQLITE_HERALD_APP_ID 1213353028
#define SQLITE_XSTR(x) SQLITE_STR(x)
#define SQLITE_STR(x) #x
/* The last migration without application_id: a database at or below it
 * with the id unset is Herald's if it has Herald's tables. */
#define SQLITE_LEGACY_SCHEMA_MAX 4

/* The migrations, in order; migration N is sqlite_migrations[N - 1]. */
extern const char *const sqlite_migrations[];
extern const size_t sqlite_migrations_count;

/* The writer connection; only valid inside a store_op_run_cb_t. */
sqlite3 *sqlite_wdb(struct store *store);
/* The name of Herald's VFS (the default one, with writes to the WAL
 * gathered into one pwrite per commit: store-sqlite-vfs.c), registered on
 * first use; NULL if it could not be registered (use the default). */
const char *sqlite_vfs_name(void);
/* Completed syncs of WAL files through Herald's VFS on this thread: a
 * commit that moved it synced the WAL after writing its frames. */
uint64_t sqlite_vfs_wal_syncs(void);
/* Reads of WAL files served from their mapping on this thread (tests). */
uint64_t sqlite_vfs_wal_map_reads(void);
/* Syncs the WAL of db's main database now (a lazy commit made durable,
 * docs/store.md "Lazy commits"). SQLITE_OK when done. */
int sqlite_vfs_sync_wal(sqlite3 *db);
/* Borrows a reader connection (opened on demand) / gives it back. While
 * borrowed, sqlite_prep_cached() and the helpers below reuse the
 * connection's own prepared statements (on the borrowing thread). */
enum store_result sqlite_reader_get(struct store *store, sqlite3 **db_r,
				    const char **error_r);
void sqlite_reader_put(struct store *store, sqlite3 *db);

/* Maps a failed SQLite call to a result and message ("what: errmsg"). */
enum store_result sqlite_fail(sqlite3 *db, const char *what,
			      const char **error_r);

/* Prepares sql and binds the variadic arguments described by types, one
 * character each: 't' const char * (NULL binds NULL), 'i' int64_t, 'X' a
 * blob as two arguments (const void *, size_t), not copied: it must stay
 * valid until the statement is finalized.
 * Returns an SQLite result code. */
int sqlite_prep(sqlite3 *db, sqlite3_stmt **stmt_r, const char *sql,
		const char *types, ...);
/* The columns of a struct store_message, in the order
 * sqlite_message_from_row() reads them from col on; prefix is a table
 * alias with its dot, or "". */
#define SQLITE_MESSAGE_COLUMNS(prefix) \
	prefix "id, " prefix "uid, " prefix "modseq, " prefix "flags, " \
	prefix "internal_date, " prefix "saved_date, " prefix "size, " \
	prefix "thread_id, " prefix "blob_id, " prefix "email_id"
void sqlite_message_from_row(sqlite3_stmt *stmt, int col,
			     struct store_message *m);
/* Runs a one-column text query (sql with sqlite_prep's types and
 * arguments) on a reader into a string vector (*v_r freed with
 * store_strv_free, NULL when empty); what names the query in errors. */
enum store_result sqlite_query_strv(struct store *store, char ***v_r,
				    size_t *count_r, const char **error_r,
				    const char *what, const char *sql,
				    const char *types, ...);
/* As sqlite_prep, but on the writer thread's connection, or on a reader
 * connection borrowed by this thread, the statement comes from (and stays
 * in) that connection's cache, *cached_r true; elsewhere it is freshly
 * prepared. Give it back with sqlite_stmt_done(), never
 * sqlite3_finalize(), and do not run the same SQL text again while it is
 * out. Returns an SQLite result code. */
int sqlite_prep_cached(sqlite3 *db, sqlite3_stmt **stmt_r, bool *cached_r,
		       const char *sql, const char *types, ...);
/* Resets and unbinds a cached statement, finalizes any other. */
void sqlite_stmt_done(sqlite3_stmt *stmt, bool cached);
/* Prepares, binds, steps to the end and finalizes (on the writer's or a
 * borrowed reader connection: reuses a cached statement). SQLITE_OK or the code. */
int sqlite_exec(sqlite3 *db, const char *sql, const char *types, ...);
/* Runs a query giving one integer: SQLITE_ROW with *val_r set, SQLITE_DONE
 * when there was no row, or an error code. */
int sqlite_int(sqlite3 *db, int64_t *val_r, const char *sql,
	       const char *types, ...);

/* Text column copied (NULL stays NULL). */
char *sqlite_col_strdup(sqlite3_stmt *stmt, int col);

/* Directory ops (store-sqlite-dir.c), mail ops (store-sqlite-mail.c) and
 * queue ops (store-sqlite-queue.c), wired into store_sqlite_ops. */
enum store_result sqlite_domain_add(struct store *, const char *,
				    const char **);
enum store_result sqlite_domain_del(struct store *, const char *, bool,
				    const char **);
enum store_result sqlite_domain_list(struct store *, char ***, size_t *,
				     const char **);
enum store_result sqlite_domain_exists(struct store *, const char *, bool *,
				       const char **);
enum store_result sqlite_user_add(struct store *, const char *, const char *,
				  const char *, const char *, uint64_t,
				  int64_t *, const char **);
enum store_result sqlite_user_del(struct store *, const char *, const char *,
				  const char **);
enum store_result sqlite_user_set_password(struct store *, const char *,
					   const char *, const char *,
					   const char *, const char **);
enum store_result sqlite_user_set_quota(struct store *, const char *,
					const char *, uint64_t, const char **);
enum store_result sqlite_user_set_message_quota(struct store *, const char *,
						const char *, uint64_t,
						const char **);
enum store_result sqlite_user_lookup(struct store *, const char *,
				     const char *, int64_t,
				     struct store_user **, const char **);
enum store_result sqlite_user_list(struct store *, const char *,
				   struct store_user **, size_t *,
				   const char **);
enum store_result sqlite_alias_add(struct store *, const char *, const char *,
				   const char *, const char **);
enum store_result sqlite_alias_del(struct store *, const char *, const char *,
				   const char *, const char **);
enum store_result sqlite_alias_list(struct store *, const char *,
				    struct store_alias **, size_t *,
				    const char **);
enum store_result sqlite_alias_resolve(struct store *, const char *,
				       const char *, char ***, size_t *,
				       const char **);

enum store_result sqlite_mailbox_list(struct store *, int64_t,
				      struct store_mailbox **, size_t *,
				      const char **);
enum store_result sqlite_mailbox_lookup(struct store *, int64_t, const char *,
					enum store_role,
					struct store_mailbox **,
					const char **);
enum store_result sqlite_mailbox_status(struct store *, int64_t,
					struct store_mailbox_status *,
					const char **);
enum store_result sqlite_deliver(struct store *, const char *, uint64_t,
				 int64_t, struct store_target *, size_t,
				 struct store_queue_msg *,
				 struct store_queue_notified *, size_t *,
				 const char **);
enum store_result sqlite_deliver_async(struct store *, int64_t,
				       struct store_target *, size_t,
				       struct store_queue_msg *,
				       store_deliver_cb_t *, void *,
				       const char **);
enum store_result sqlite_message_list(struct store *, int64_t,
				      struct store_message **, size_t *,
				      struct store_keywords *, const char **);
enum store_result sqlite_message_ids(struct store *, int64_t,
				     const uint32_t *, size_t,
				     struct store_message_ids **, size_t *,
				     const char **);
enum store_result sqlite_expunge(struct store *, int64_t, const uint32_t *,
				 size_t, bool, uint32_t **, size_t *,
				 const char **);

/* Inside a write op: the account of a mailbox and its highestmodseq;
 * STORE_E_NOT_FOUND when there is no such mailbox. */
enum store_result sqlite_mailbox_modseq(sqlite3 *db, int64_t mailbox_id,
					int64_t *account_r, int64_t *hms_r,
					const char **error_r);
/* One row of the change log (CONDSTORE/QRESYNC, JMAP state) for an email
 * in a mailbox: change is "created", "updated" or "destroyed". Returns
 * sqlite_exec's code. */
int sqlite_email_change_log(sqlite3 *db, int64_t account_id,
			    int64_t mailbox_id, int64_t modseq,
			    int64_t message_id, int64_t uid,
			    const char *change, int64_t now);

/* Keywords (store-sqlite-flags.c). */
/* Inside a write op: the mailbox's spelling of keyword name in *canon_r
 * (heap). An unknown name is added to the mailbox's list when create
 * (STORE_E_INVALID when the list already has max, 0: no limit), else
 * *canon_r is NULL. */
enum store_result sqlite_keyword_canon(sqlite3 *db, int64_t mailbox_id,
				       const char *name, bool create,
				       size_t max, char **canon_r,
				       const char **error_r);
/* Inside a write op: gives a message the keywords (canonicalised and
 * created as sqlite_keyword_canon does). */
enum store_result sqlite_keywords_add(sqlite3 *db, int64_t mailbox_id,
				      int64_t message_id,
				      const char *const *names, size_t n,
				      size_t max, const char **error_r);
/* In a read transaction: the mailbox's keywords into kw and each
 * message's kw_first / n_kw (msgs in UID order). */
enum store_result sqlite_message_keywords_read(sqlite3 *db,
					       int64_t mailbox_id,
					       struct store_message *msgs,
					       size_t count,
					       struct store_keywords *kw,
					       const char **error_r);
enum store_result sqlite_flags_store(struct store *, int64_t,
				     const uint32_t *, size_t,
				     const struct store_flags_change *,
				     struct store_flags_result *, bool,
				     const char **);
/* COPY and MOVE (store-sqlite-copy.c). */
enum store_result sqlite_copy(struct store *, struct store_copy *,
			      const char **);
enum store_result sqlite_mailbox_delta(struct store *, int64_t, uint64_t,
				       uint32_t, struct store_mailbox_delta *,
				       const char **);

/* The search index (store-sqlite-search.c). */
enum store_result sqlite_search_queue_mark(struct store *, int64_t *,
					   const char **);
enum store_result sqlite_search_queue_read(struct store *, size_t,
					   struct store_search_item **,
					   size_t *, const char **);
enum store_result sqlite_search_apply(struct store *,
				      struct store_search_batch *,
				      const char **);
enum store_result sqlite_search_dequeue(struct store *, void *, const char **);
enum store_result sqlite_search_clear(struct store *, const char **);
enum store_result sqlite_search_requeue(struct store *, void *, const char **);
/* At open, after the migrations: checks the index file, replaces a
 * missing, foreign or unreadable one by an empty index (and queues every
 * message), opens the indexer's connection. */
enum store_result sqlite_search_open(struct store *, const char **);
void sqlite_search_close(struct sqlite_backend *);
bool sqlite_search_damaged(struct store *);
enum store_result sqlite_search_repair(struct store *, void *, const char **);
enum store_result sqlite_search_begin(struct store *, int64_t, void **,
				      const char **);
void sqlite_search_end(void *);
enum store_result sqlite_search_doc(void *, const char *, int64_t *,
				    const char **);
enum store_result sqlite_search_mailbox_docs(void *, int64_t, uint32_t **,
					     int64_t **, size_t *,
					     const char **);
enum store_result sqlite_search_match(void *, const char *, bool, int64_t **,
				      size_t *, const char **);
enum store_result sqlite_search_text(void *, int64_t, struct buf *,
				     struct buf *, const char **);

/* Small blobs (store-sqlite-blob.c). */
enum store_result sqlite_blob_insert(struct store *, void *, const char **);
enum store_result sqlite_blob_gc(struct store *, void *, const char **);
enum store_result sqlite_changes_prune(struct store *, void *,
				       const char **);
enum store_result sqlite_blob_forget(struct store *, void *, const char **);
enum store_result sqlite_blob_read(struct store *, const char *, uint8_t **,
				   size_t *, const char **);
enum store_result sqlite_blob_batch_begin(struct store *, void **,
					  const char **);
enum store_result sqlite_blob_batch_get(void *, const char *,
					const uint8_t **, size_t *,
					const char **);
void sqlite_blob_batch_refresh(void *);
void sqlite_blob_batch_end(void *);
enum store_result sqlite_blob_batch_mime_get(void *, const char *,
					     uint8_t **, size_t *,
					     const char **);
enum store_result sqlite_mime_get(struct store *, const char *, uint8_t **,
				  size_t *, const char **);
enum store_result sqlite_mime_put(struct store *, void *, const char **);
/* Inside a write op: STORE_OK when blob id is in the blobs table (as seen
 * by this transaction) or a file; else STORE_E_TEMP, so nothing ever
 * references a blob that is not stored. */
enum store_result sqlite_blob_check_ref(struct store *store, sqlite3 *db,
					const char *id, const char **error_r);
/* The same, with the body's row id in *rid_r (0 for a body kept as a
 * file). */
enum store_result sqlite_blob_ref(struct store *store, sqlite3 *db,
				  const char *id, int64_t *rid_r,
				  const char **error_r);

/* Mailbox management (store-sqlite-mailbox.c). */
enum store_result sqlite_mailbox_find(struct store *, int64_t, const char *,
				      int64_t *, const char **);
enum store_result sqlite_mailbox_create_op(struct store *, int64_t,
					   const char *, enum store_role,
					   const struct store_mailbox_limits *,
					   int64_t *, const char **);
enum store_result sqlite_mailbox_delete(struct store *, int64_t, const char *,
					int64_t, int64_t *, const char **);
enum store_result sqlite_mailbox_rename(struct store *, int64_t, const char *,
					int64_t, const char *,
					const struct store_mailbox_limits *,
					const char **);
enum store_result sqlite_mailbox_subscribe(struct store *, int64_t,
					   const char *, bool,
					   const struct store_mailbox_limits *,
					   const char **);
/* store-sqlite-acl.c */
enum store_result sqlite_acl_get(struct store *, int64_t,
				 struct store_acl_entry **, size_t *,
				 const char **);
enum store_result sqlite_acl_set(struct store *, int64_t, int64_t, unsigned,
				 const char **);
enum store_result sqlite_acl_rights(struct store *, int64_t, int64_t,
				    unsigned *, const char **);
enum store_result sqlite_acl_shared_list(struct store *, int64_t,
					 struct store_acl_shared **, size_t *,
					 const char **);
enum store_result sqlite_acl_share_list(struct store *, int64_t,
					struct store_acl_share **, size_t *,
					const char **);
enum store_result sqlite_subscription_list(struct store *, int64_t, char ***,
					   size_t *, const char **);

/* Creates a mailbox inside a write op (user add, CREATE and its parents,
 * RENAME of INBOX): a new UIDVALIDITY, a subscription made to the name
 * before it existed, a 'created' row in the change log. */
enum store_result sqlite_mailbox_create(sqlite3 *db, int64_t account_id,
					const char *name, enum store_role role,
					bool subscribed, int64_t *id_r,
					const char **error_r);

/* Inside a write op: inserts q (blob checked) and sets q->id. */
enum store_result sqlite_queue_insert_in(struct store *store, sqlite3 *db,
					 struct store_queue_msg *q,
					 const char **error_r);
/* Inside a write op: whether entry id exists (STORE_E_NOT_FOUND when
 * not), then clearing n's marks as store_queue_notified() does. */
enum store_result sqlite_queue_entry_exists(sqlite3 *db, int64_t id,
					    const char **error_r);
enum store_result sqlite_queue_notified_in(sqlite3 *db,
					   struct store_queue_notified *n,
					   const char **error_r);
enum store_result sqlite_queue_insert(struct store *, const char *, uint64_t,
				      const char *, const char *,
				      const char *,
				      const struct store_queue_rcpt *, size_t,
				      int64_t *, const char **);
enum store_result sqlite_queue_list(struct store *, int64_t,
				    struct store_queue_entry **, size_t *,
				    const char **);
enum store_result sqlite_queue_rcpt_update(struct store *, int64_t,
					   const char *, const char *,
					   const char **);
enum store_result sqlite_queue_reschedule(struct store *, int64_t, int64_t,
					  const char *, const char **);
enum store_result sqlite_queue_delete(struct store *, int64_t,
				      const char **);
enum store_result sqlite_queue_get(struct store *, int64_t,
				   struct store_queue_entry **, const char **);
enum store_result sqlite_queue_get_many(struct store *, const int64_t *,
					size_t, struct store_queue_entry **,
					const char **);
enum store_result sqlite_queue_due(struct store *, int64_t, size_t,
				   int64_t **, size_t *, int64_t *,
				   const char **);
enum store_result sqlite_queue_record(struct store *, int64_t,
				      const struct store_queue_result *,
				      size_t, bool *, const char **);
enum store_result sqlite_queue_record_async(struct store *,
					    struct store_queue_record *,
					    size_t, store_queue_recorded_cb_t *,
					    void *, const char **);
enum store_result sqlite_queue_notified(struct store *, int64_t,
					const int64_t *, size_t, bool, bool *,
					const char **);
enum store_result sqlite_queue_admin(struct store *, int64_t,
				     enum store_queue_admin, const char *,
				     size_t *, const char **);

/* Metadata entries (store-sqlite-metadata.c). */
enum store_result sqlite_metadata_set(struct store *, int64_t, int64_t,
				      const struct store_metadata_change *,
				      size_t,
				      const struct store_metadata_limits *,
				      const char **);
enum store_result sqlite_metadata_get(struct store *, int64_t, int64_t,
				      const char *const *, size_t, uint32_t,
				      uint64_t, struct store_metadata_value **,
				      size_t *, const char **);
enum store_result sqlite_metadata_changes(struct store *, int64_t, int64_t,
					  struct store_metadata_changed **,
					  size_t *, int64_t *, const char **);
/* DMARC report rows (store-sqlite-dmarc.c). */
enum store_result sqlite_dmarc_add(struct store *,
				   const struct store_dmarc_count *, size_t,
				   const struct store_dmarc_policy *, size_t,
				   const char **);
enum store_result sqlite_dmarc_take(struct store *, int64_t, const char **);
enum store_result sqlite_dmarc_domains(struct store *, bool,
				       struct store_dmarc_domain **, size_t *,
				       const char **);
enum store_result sqlite_dmarc_rows(struct store *, const char *, bool,
				    size_t, struct store_dmarc_row **,
				    size_t *, const char **);
enum store_result sqlite_dmarc_done(struct store *, const char *, int64_t,
				    const char **);

#endif
