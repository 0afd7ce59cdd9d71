/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the store's files: struct store, the backend ops
 * table (one row per public operation, so a MariaDB backend can sit next to
 * SQLite with the same schema), the group-commit queue and error helpers.
 */
#ifndef HERALD_STORE_STORE_PRIVATE_H
#define HERALD_STORE_STORE_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "mail/thread-keys.h"
#include "store/store.h"
#include "store/store-notify.h"

#define STORE_ERROR_SIZE 256

struct buf;
struct store_search_item;
struct store_search_batch;

/* A write executed by the writer thread inside a SAVEPOINT of the batch
 * transaction. run() returns STORE_OK to keep its changes or an error to
 * have them rolled back (the other operations of the batch are kept). */
typedef enum store_result store_op_run_cb_t(struct store *store, void *ctx,
					    const char **error_r);

/* Called by the writer thread once the batch of an asynchronous op has
 * been committed or rolled back; result is the op's own result, which is
 * STORE_E_TEMP when the transaction as a whole failed; error explains a
 * failure (valid during the call only). */
typedef void store_op_done_cb_t(struct store *store, void *ctx,
				enum store_result result, const char *error);

struct store_op {
	store_op_run_cb_t *run;
	void *ctx;
	store_op_done_cb_t *async_done;	/* non-NULL: no thread waits, on heap */
	/* Somebody wants the result soon: a sync op, or an async op whose
	 * callback answers a client. Only these start a commit. */
	bool waited;
	/* Runs in a transaction of its own (the blob collector: its file
	 * removals must not share a fate with other ops' writes). */
	bool alone;
	/* Runs without a SAVEPOINT: the op checks everything that can
	 * refuse it before its first write, so a refusal leaves nothing to
	 * undo; a failure after a write (a database error) fails the whole
	 * batch, as a failed commit does. Saves the savepoint's statements
	 * and the copies of every page it would journal. */
	bool no_savepoint;
	/* May run again in a new transaction after its batch was rolled
	 * back: its run sets every output afresh (a delivery, a blob
	 * insert). When one op of a batch fails after writing, the others
	 * are run again without it if all of them are rerunnable. */
	bool rerun;
	/* Its caller may learn of its result a little later in exchange for
	 * a sync shared with other writers: a batch of only such ops commits
	 * without syncing the WAL inside the commit and is made durable
	 * after it, outside the writer lock, by another process's sync or
	 * its own (docs/store.md "Lazy commits"). Readers may see its writes
	 * a few milliseconds before they are durable; its callback still
	 * comes only once they are. */
	bool lazy_sync;
	/* Its batch was rolled back while this op had succeeded or not yet
	 * run: only such ops run again (one refused in its own right keeps
	 * that answer). */
	bool aborted;
	enum store_result result;
	char error[STORE_ERROR_SIZE];
	bool done;
	pthread_cond_t done_cond;	/* with store->lock */
	struct store_op *next;
};

struct store_backend_ops {
	const char *name;
	/* Connects, applies migrations; sets store->schema_version. */
	enum store_result (*open)(struct store *store, const char **error_r);
	void (*close)(struct store *store);

	/* Writer-thread transaction steps for group commit. */
	enum store_result (*batch_begin)(struct store *store,
					 const char **error_r);
	enum store_result (*op_begin)(struct store *store,
				      const char **error_r);
	/* keep: release the savepoint; else roll back to it and release. */
	enum store_result (*op_end)(struct store *store, bool keep,
				    const char **error_r);
	enum store_result (*batch_commit)(struct store *store,
					  const char **error_r);
	/* After a commit of a lazy batch (store->batch_lazy): returns once
	 * it is durable. NULL: lazy batches commit like the others. */
	enum store_result (*batch_durable)(struct store *store,
					   const char **error_r);
	void (*batch_rollback)(struct store *store);
	/* For ops run without a savepoint (no_savepoint): a mark taken
	 * before the op, and whether, after it failed, the transaction is
	 * still open and nothing was written since the mark (a failure
	 * that needs no rollback). NULL: every op gets a savepoint. */
	uint64_t (*op_mark)(struct store *store);
	bool (*op_untouched)(struct store *store, uint64_t mark);

	/* The directory generation (see store_directory_generation);
	 * NULL: the backend cannot tell, lookups are never cached. */
	bool (*dir_generation)(struct store *store, uint64_t *gen_r);
	void (*dir_changed)(struct store *store);

	enum store_result (*check_integrity)(struct store *store,
					     const char **error_r);

	/* Small blobs kept in the database. blob_insert runs in the writer
	 * with a struct store_pending_blob as ctx (INSERT OR IGNORE);
	 * blob_read gives STORE_E_NOT_FOUND when the id has no row. */
	store_op_run_cb_t *blob_insert;
	/* The blob collector, in a transaction of its own, with a struct
	 * store_blob_gc_result as ctx (max set by the caller). */
	store_op_run_cb_t *blob_gc;
	/* One round of change log pruning, in a transaction of its own,
	 * with a struct store_changes_prune_result as ctx. */
	store_op_run_cb_t *changes_prune;
	/* Queues one blob id for collection; ctx is the id (a heap
	 * string). */
	store_op_run_cb_t *blob_forget;
	enum store_result (*blob_read)(struct store *store, const char *id,
				       uint8_t **data_r, size_t *len_r,
				       const char **error_r);
	/* store_blob_reader's database side: one connection and read
	 * transaction for many reads. batch_get's *data_r stays valid until
	 * the next call on the handle (STORE_E_NOT_FOUND: no row);
	 * batch_refresh ends the transaction, so the next get sees every
	 * commit made so far. */
	enum store_result (*blob_batch_begin)(struct store *store,
					      void **handle_r,
					      const char **error_r);
	enum store_result (*blob_batch_get)(void *handle, const char *id,
					    const uint8_t **data_r,
					    size_t *len_r,
					    const char **error_r);
	void (*blob_batch_refresh)(void *handle);
	void (*blob_batch_end)(void *handle);
	/* mime_get (below) on the batch's connection and transaction:
	 * *data_r is a copy (free()); NULL: use mime_get. */
	enum store_result (*blob_batch_mime_get)(void *handle, const char *id,
						 uint8_t **data_r,
						 size_t *len_r,
						 const char **error_r);
	/* The MIME structure cache (docs/store.md): mime_get reads blob
	 * id's record (STORE_E_NOT_FOUND: none); mime_put runs in the
	 * writer with a struct store_mime_put as ctx and replaces it. */
	enum store_result (*mime_get)(struct store *store, const char *id,
				      uint8_t **data_r, size_t *len_r,
				      const char **error_r);
	store_op_run_cb_t *mime_put;

	/* Directory. Addresses arrive split and validated by store.c. */
	enum store_result (*domain_add)(struct store *store, const char *domain,
					const char **error_r);
	enum store_result (*domain_del)(struct store *store, const char *domain,
					bool force, const char **error_r);
	enum store_result (*domain_list)(struct store *store, char ***names_r,
					 size_t *count_r, const char **error_r);
	enum store_result (*domain_exists)(struct store *store,
					   const char *domain, bool *exists_r,
					   const char **error_r);
	enum store_result (*user_add)(struct store *store, const char *local,
				      const char *domain, const char *hash,
				      const char *scram, uint64_t quota,
				      int64_t *id_r, const char **error_r);
	enum store_result (*user_del)(struct store *store, const char *local,
				      const char *domain, const char **error_r);
	enum store_result (*user_set_password)(struct store *store,
					       const char *local,
					       const char *domain,
					       const char *hash,
					       const char *scram,
					       const char **error_r);
	enum store_result (*user_set_quota)(struct store *store,
					    const char *local,
					    const char *domain, uint64_t quota,
					    const char **error_r);
	enum store_result (*user_set_message_quota)(struct store *store,
						    const char *local,
						    const char *domain,
						    uint64_t quota,
						    const char **error_r);
	enum store_result (*user_lookup)(struct store *store, const char *local,
					 const char *domain, int64_t id,
					 struct store_user **user_r,
					 const char **error_r);
	enum store_result (*user_list)(struct store *store, const char *domain,
				       struct store_user **users_r,
				       size_t *count_r, const char **error_r);
	enum store_result (*alias_add)(struct store *store, const char *local,
				       const char *domain, const char *target,
				       const char **error_r);
	enum store_result (*alias_del)(struct store *store, const char *local,
				       const char *domain, const char *target,
				       const char **error_r);
	enum store_result (*alias_list)(struct store *store, const char *domain,
					struct store_alias **aliases_r,
					size_t *count_r, const char **error_r);
	enum store_result (*alias_resolve)(struct store *store,
					   const char *local,
					   const char *domain,
					   char ***targets_r, size_t *count_r,
					   const char **error_r);

	/* Mailboxes and messages. */
	enum store_result (*mailbox_list)(struct store *store,
					  int64_t account_id,
					  struct store_mailbox **boxes_r,
					  size_t *count_r,
					  const char **error_r);
	/* name NULL: by role. */
	enum store_result (*mailbox_lookup)(struct store *store,
					    int64_t account_id,
					    const char *name,
					    enum store_role role,
					    struct store_mailbox **box_r,
					    const char **error_r);
	enum store_result (*mailbox_status)(struct store *store,
					    int64_t mailbox_id,
					    struct store_mailbox_status *st_r,
					    const char **error_r);
	/* Mailbox management: names arrive checked and canonical
	 * (store-mailbox.c), limits never NULL, id_r never NULL;
	 * expect_id: 0, or the id the name must still have
	 * (STORE_E_NOT_FOUND otherwise). */
	enum store_result (*mailbox_find)(struct store *store,
					  int64_t account_id,
					  const char *name, int64_t *id_r,
					  const char **error_r);
	enum store_result (*mailbox_create)(struct store *store,
					    int64_t account_id,
					    const char *name,
					    enum store_role role,
					    const struct store_mailbox_limits *limits,
					    int64_t *id_r,
					    const char **error_r);
	enum store_result (*mailbox_delete)(struct store *store,
					    int64_t account_id,
					    const char *name, int64_t expect_id,
					    int64_t *id_r,
					    const char **error_r);
	enum store_result (*mailbox_rename)(struct store *store,
					    int64_t account_id,
					    const char *from, int64_t expect_id,
					    const char *to,
					    const struct store_mailbox_limits *limits,
					    const char **error_r);
	enum store_result (*mailbox_subscribe)(struct store *store,
					       int64_t account_id,
					       const char *name,
					       bool subscribe,
					       const struct store_mailbox_limits *limits,
					       const char **error_r);
	enum store_result (*subscription_list)(struct store *store,
					       int64_t account_id,
					       char ***names_r,
					       size_t *count_r,
					       const char **error_r);
	/* Access control lists (store-acl.c checks the arguments). */
	enum store_result (*acl_get)(struct store *store, int64_t mailbox_id,
				     struct store_acl_entry **entries_r,
				     size_t *count_r, const char **error_r);
	enum store_result (*acl_set)(struct store *store, int64_t mailbox_id,
				     int64_t grantee_id, unsigned rights,
				     const char **error_r);
	enum store_result (*acl_rights)(struct store *store,
					int64_t mailbox_id,
					int64_t account_id,
					unsigned *rights_r,
					const char **error_r);
	enum store_result (*acl_shared_list)(struct store *store,
					     int64_t account_id,
					     struct store_acl_shared **shared_r,
					     size_t *count_r,
					     const char **error_r);
	enum store_result (*acl_share_list)(struct store *store,
					    int64_t owner_id,
					    struct store_acl_share **shares_r,
					    size_t *count_r,
					    const char **error_r);
	/* blob_id NULL: every target has its own. queue NULL: none; else
	 * inserted in the same operation (store_deliver_queue). notified
	 * NULL: none; else cleared in it (store_deliver_report). */
	enum store_result (*deliver)(struct store *store, const char *blob_id,
				     uint64_t size, int64_t internal_date,
				     struct store_target *targets, size_t count,
				     struct store_queue_msg *queue,
				     struct store_queue_notified *notified,
				     size_t *failed_r, const char **error_r);
	/* store_deliver_queue_async(), arguments checked. */
	enum store_result (*deliver_async)(struct store *store,
					   int64_t internal_date,
					   struct store_target *targets,
					   size_t count,
					   struct store_queue_msg *queue,
					   store_deliver_cb_t *cb, void *ctx,
					   const char **error_r);
	/* kw_r NULL: keywords not read. */
	enum store_result (*message_list)(struct store *store,
					  int64_t mailbox_id,
					  struct store_message **msgs_r,
					  size_t *count_r,
					  struct store_keywords *kw_r,
					  const char **error_r);
	/* uids NULL: all; *ids_r and *count_r zeroed. */
	enum store_result (*message_ids)(struct store *store,
					 int64_t mailbox_id,
					 const uint32_t *uids, size_t count,
					 struct store_message_ids **ids_r,
					 size_t *count_r,
					 const char **error_r);
	/* Keywords checked, *res zeroed; states false: only changed and
	 * modseq are wanted (no msgs, no kw). */
	enum store_result (*flags_store)(struct store *store,
					 int64_t mailbox_id,
					 const uint32_t *uids, size_t count,
					 const struct store_flags_change *ch,
					 struct store_flags_result *res,
					 bool states, const char **error_r);
	/* only_deleted: those with \Deleted; *expunged_r (when not NULL)
	 * the UIDs removed. */
	enum store_result (*expunge)(struct store *store, int64_t mailbox_id,
				     const uint32_t *uids, size_t count,
				     bool only_deleted, uint32_t **expunged_r,
				     size_t *expunged_count_r,
				     const char **error_r);
	enum store_result (*copy)(struct store *store, struct store_copy *c,
				  const char **error_r);
	enum store_result (*mailbox_delta)(struct store *store,
					   int64_t mailbox_id, uint64_t since,
					   uint32_t uid_from,
					   struct store_mailbox_delta *d,
					   const char **error_r);

	/* Full-text search index (store-search.c drives it). */
	/* Up to max queue entries, oldest first, with indexed set. */
	enum store_result (*search_queue_read)(struct store *store, size_t max,
					       struct store_search_item **items_r,
					       size_t *count_r,
					       const char **error_r);
	/* The newest work list entry's id (0: the list is empty): it moves
	 * whenever any process queues work. */
	enum store_result (*search_queue_mark)(struct store *store,
					       int64_t *mark_r,
					       const char **error_r);
	/* Applies a round to the index (not a write op: the index has its
	 * own file and connection). */
	enum store_result (*search_apply)(struct store *store,
					  struct store_search_batch *b,
					  const char **error_r);
	/* Write op, ctx a struct store_search_batch: takes its entries off
	 * the work list. */
	store_op_run_cb_t *search_dequeue;
	/* Empties the index. */
	enum store_result (*search_clear)(struct store *store,
					  const char **error_r);
	/* Write op: queues every message. */
	store_op_run_cb_t *search_requeue;
	/* The index file was found damaged or gone while open... */
	bool (*search_damaged)(struct store *store);
	/* ... write op: replaces it by an empty one, queues every message
	 * (unless another process did already). */
	store_op_run_cb_t *search_repair;
	/* A read snapshot for one search (struct store_search's handle). */
	enum store_result (*search_begin)(struct store *store,
					  int64_t account_id, void **handle_r,
					  const char **error_r);
	void (*search_end)(void *handle);
	enum store_result (*search_doc)(void *handle, const char *blob_id,
					int64_t *doc_r, const char **error_r);
	enum store_result (*search_mailbox_docs)(void *handle,
						 int64_t mailbox_id,
						 uint32_t **uids_r,
						 int64_t **docs_r,
						 size_t *count_r,
						 const char **error_r);
	enum store_result (*search_match)(void *handle, const char *needle,
					  bool body_only, int64_t **docs_r,
					  size_t *count_r,
					  const char **error_r);
	/* STORE_E_NOT_FOUND when doc is gone. body NULL: hdr only. */
	enum store_result (*search_text)(void *handle, int64_t doc,
					 struct buf *hdr, struct buf *body,
					 const char **error_r);

	/* Outbound queue. */
	enum store_result (*queue_insert)(struct store *store,
					  const char *blob_id, uint64_t size,
					  const char *env_from,
					  const char *dsn_ret,
					  const char *dsn_envid,
					  const struct store_queue_rcpt *rcpts,
					  size_t count, int64_t *id_r,
					  const char **error_r);
	enum store_result (*queue_list)(struct store *store, int64_t due,
					struct store_queue_entry **entries_r,
					size_t *count_r, const char **error_r);
	enum store_result (*queue_rcpt_update)(struct store *store,
					       int64_t rcpt_id,
					       const char *status,
					       const char *last_error,
					       const char **error_r);
	enum store_result (*queue_reschedule)(struct store *store, int64_t id,
					      int64_t next_attempt,
					      const char *status,
					      const char **error_r);
	enum store_result (*queue_delete)(struct store *store, int64_t id,
					  const char **error_r);
	enum store_result (*queue_get)(struct store *store, int64_t id,
				       struct store_queue_entry **entry_r,
				       const char **error_r);
	/* entries[i] (NULL on entry) for ids[i], NULL when it is gone */
	enum store_result (*queue_get_many)(struct store *store,
					    const int64_t *ids, size_t n,
					    struct store_queue_entry **entries,
					    const char **error_r);
	enum store_result (*queue_due)(struct store *store, int64_t now,
				       size_t max, int64_t **ids_r,
				       size_t *count_r, int64_t *next_r,
				       const char **error_r);
	enum store_result (*queue_record)(struct store *store, int64_t id,
					  const struct store_queue_result *res,
					  size_t count, bool *finished_r,
					  const char **error_r);
	/* store_queue_record_async(), arguments checked; may be NULL */
	enum store_result (*queue_record_async)(struct store *store,
						struct store_queue_record *recs,
						size_t n,
						store_queue_recorded_cb_t *cb,
						void *ctx,
						const char **error_r);
	enum store_result (*queue_notified)(struct store *store, int64_t id,
					    const int64_t *rcpt_ids,
					    size_t count, bool delay_warned,
					    bool *finished_r,
					    const char **error_r);
	enum store_result (*queue_admin)(struct store *store, int64_t id,
					 enum store_queue_admin op,
					 const char *reason, size_t *changed_r,
					 const char **error_r);
	enum store_result (*dmarc_add)(struct store *store,
				       const struct store_dmarc_count *counts,
				       size_t n,
				       const struct store_dmarc_policy *pols,
				       size_t n_pols, const char **error_r);
	enum store_result (*dmarc_take)(struct store *store,
					int64_t forget_before,
					const char **error_r);
	enum store_result (*dmarc_domains)(struct store *store,
					   bool taken_only,
					   struct store_dmarc_domain **d_r,
					   size_t *count_r,
					   const char **error_r);
	enum store_result (*dmarc_rows)(struct store *store,
					const char *domain, bool taken_only,
					size_t max,
					struct store_dmarc_row **rows_r,
					size_t *count_r, const char **error_r);
	enum store_result (*dmarc_done)(struct store *store,
					const char *domain, int64_t end,
					const char **error_r);
	enum store_result (*metadata_set)(struct store *store,
					  int64_t account_id,
					  int64_t mailbox_id,
					  const struct store_metadata_change *c,
					  size_t n,
					  const struct store_metadata_limits *l,
					  const char **error_r);
	enum store_result (*metadata_changes)(
		struct store *store, int64_t account_id, int64_t since,
		struct store_metadata_changed **v_r, size_t *count_r,
		int64_t *last_r, const char **error_r);
	enum store_result (*metadata_get)(struct store *store,
					  int64_t account_id,
					  int64_t mailbox_id,
					  const char *const *names, size_t n,
					  uint32_t depth, uint64_t maxsize,
					  struct store_metadata_value **v_r,
					  size_t *count_r,
					  const char **error_r);
};

/* One entry of the search index's work list (store-search.c). */
enum store_search_op { STORE_SEARCH_ADD = 0, STORE_SEARCH_DROP = 1 };
struct store_search_item {
	int64_t queue_id;
	int64_t account_id;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	enum store_search_op op;
	bool indexed;		/* ADD: the account has an entry for it */
	bool skip;		/* only take it off the queue */
	struct buf *hdr;	/* ADD: the text to index */
	struct buf *body;
	bool complete;		/* the text was not cut at the cap */
};
struct store_search_batch {
	struct store_search_item *items;
	size_t count;
};
struct store_indexer;

struct store {
	const struct config *cfg;
	/* from cfg's [store] thread_* settings (store_thread_limits()) */
	struct mail_thread_limits thread_limits;
	const struct store_backend_ops *ops;
	void *backend;			/* the backend's own state */
	int schema_version;

	char *blob_dir;			/* <data_dir>/blobs */
	char *blob_tmp_dir;		/* <data_dir>/blobs/tmp */

	/* Small blobs queued for insertion into the database but not yet
	 * committed (store-blob.c), so reads see them at once. */
	pthread_mutex_t blob_lock;
	struct store_pending_blob *pending_blobs;

	/* Group commit: callers append ops, one writer thread drains them. */
	pthread_mutex_t lock;
	pthread_cond_t queue_cond;
	struct store_op *queue_head, *queue_tail;
	size_t queue_len;
	size_t queue_waited;		/* queued ops somebody waits for */
	bool stopping;
	bool writer_running;
	pthread_t writer;
	unsigned batch_max;
	uint64_t batch_wait_us;
	/* store_write_expect(): writes on their way (sessions receiving a
	 * message), and whether the writer holds a batch open for them, up
	 * to linger_us */
	size_t expected;
	bool lingering;
	uint64_t linger_us;
	/* The batch being run has only lazy_sync ops (writer thread). */
	bool batch_lazy;
	uint64_t gc_interval_us;	/* writer's blob collection; 0: off */
	struct timespec gc_next;	/* when it runs next (monotonic) */
	bool gc_more;			/* the last round left ids queued */
	size_t gc_round_max;		/* 0: the collector's default */
	/* [store] change_log_retention: the writer prunes the change log
	 * in its collection rounds; 0: never */
	uint64_t change_log_max_age_s;
	struct store_stats stats;
	/* Change notification (store-notify.h), opened by the backend;
	 * NULL: none. changed holds what the batch being written changed
	 * (writer thread only), published once it is committed. */
	struct store_notify *notify;
	struct store_notify_key *changed;
	size_t n_changed, cap_changed;
	/* The search indexer thread (store-search.c), or NULL. */
	struct store_indexer *indexer;
	/* store_test_fail_reads(): the backend's reader connections fail. */
	atomic_bool test_fail_reads;
};

extern const struct store_backend_ops store_sqlite_ops;

/* Writer thread, inside an op: the object changed; watchers learn it once
 * the batch is committed (store_changes_publish()), never when it is
 * rolled back. */
void store_changed(struct store *store, enum store_watch_kind kind,
		   int64_t id);
/* After a commit: bumps the counters of what the batch changed. After a
 * rollback: forgets them. */
void store_changes_publish(struct store *store);
void store_changes_discard(struct store *store);

/* The result for a failed open, mkdir or access (errno err): INVALID for
 * what only the admin can cure (permissions, a read-only filesystem), so
 * `herald serve` stops with the reason instead of retrying; else TEMP. */
enum store_result store_open_result(int err);

/* Sets *error_r (when error_r is not NULL) to a formatted message in this
 * thread's error buffer and returns r. */
enum store_result store_error(const char **error_r, enum store_result r,
			      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Queues op, waits until its batch is committed (or rolled back) and
 * returns its result; copies its message into this thread's buffer. */
enum store_result store_commit_run(struct store *store, store_op_run_cb_t *run,
				   void *ctx, const char **error_r);
/* Queues op without waiting: done(store, ctx, result) runs on the writer
 * thread after its batch. Ops run in the order they were queued, so a
 * write queued later by anyone who saw this call return runs after it, in
 * the same transaction or a later one. STORE_E_TEMP when closing. */
enum store_result store_commit_queue(struct store *store,
				     store_op_run_cb_t *run, void *ctx,
				     store_op_done_cb_t *done,
				     const char **error_r);
/* Like store_commit_queue(), but the op starts a commit as a waited op
 * does: for callers that answer a client from done. */
enum store_result store_commit_submit(struct store *store,
				      store_op_run_cb_t *run, void *ctx,
				      store_op_done_cb_t *done,
				      const char **error_r);
/* Flags for store_commit_run_flags() and store_commit_submit_flags(). */
#define STORE_OP_ALONE		0x1	/* a transaction of its own */
#define STORE_OP_NO_SAVEPOINT	0x2	/* see struct store_op */
#define STORE_OP_RERUN		0x4	/* see struct store_op */
#define STORE_OP_LAZY_SYNC	0x8	/* see struct store_op */
/* Like store_commit_run(), with STORE_OP_* flags. */
enum store_result store_commit_run_flags(struct store *store,
					 store_op_run_cb_t *run, void *ctx,
					 unsigned flags, const char **error_r);
/* Like store_commit_submit(), with STORE_OP_* flags. */
enum store_result store_commit_submit_flags(struct store *store,
					    store_op_run_cb_t *run, void *ctx,
					    store_op_done_cb_t *done,
					    unsigned flags,
					    const char **error_r);
/* Removes a blob's file if it has one; true when a file was removed,
 * *size_r its size. */
bool store_blob_file_remove(struct store *store, const char *id,
			    uint64_t *size_r);
/* *ts = now + us on CLOCK_MONOTONIC, for timed waits. */
void store_deadline_after(struct timespec *ts, uint64_t us);

/* store-shared.c: maps the file at path (created 0600, grown to size) shared
 * for the process's life and calls init(mem, ctx) under the file's flock,
 * which checks its magic and initialises what it finds unset; init returns
 * 0 or an errno. Returns the mapping, or NULL with err filled. */
void *store_shared_map(const char *path, size_t size,
		       int (*init)(void *mem, void *ctx), void *ctx, char *err,
		       size_t err_size);
/* Starts / stops (after draining) the writer thread. */
int store_commit_start(struct store *store, const char **error_r);
void store_commit_stop(struct store *store);

/* Stops and frees the search indexer thread, if any (store-search.c). */
void store_search_indexer_stop(struct store *store);

/* Blob directory set-up (store-blob.c). */
enum store_result store_blob_init(struct store *store, const char *data_dir,
				  const char **error_r);
/* Releases what store_blob_init() set up. */
void store_blob_deinit(struct store *store);

/* A small blob between store_blob_put() and its commit. */
struct store_pending_blob {
	char id[STORE_BLOB_ID_LEN + 1];
	uint8_t *data;
	size_t len;
	/* its MIME structure record (mail/mime-cache.h), inserted with it */
	uint8_t *mime;
	size_t mime_len;
	struct store_pending_blob *next;
};

/* A MIME structure record on its way to the database (mime_put). */
struct store_mime_put {
	char id[STORE_BLOB_ID_LEN + 1];
	uint8_t *data;
	size_t len;
};

/* Queues the record of blob id (copied) into the group commit without
 * waiting: a cache, so a failure is only logged (store-mime.c). */
void store_mime_queue(struct store *store, const char *id,
		      const void *data, size_t len);

/* Appends the MIME structure record of the message in file fd (size
 * octets, parsed into root) to out, reading the envelope headers with
 * pread. Returns 0, or -1 when a read failed. */
struct buf;
struct mime_part;
int store_mime_record_fd(int fd, struct mime_part *root, uint64_t size,
			 struct buf *out);

/* Whether blob id exists as a file under blobs/ (not the database). */
bool store_blob_file_exists(struct store *store, const char *id);
/* Whether id is 64 lowercase hex digits. */
bool store_blob_id_is_valid(const char *id);

/* Fills out with a new random stable id: prefix letter + 20 base32 chars. */
void store_new_stable_id(char prefix, char out[STORE_ID_SIZE]);

#endif
