/* SPDX-License-Identifier: MIT */
/*
 * The one storage interface every protocol uses: directory (domains,
 * accounts, aliases), mailboxes, messages, flags, the outbound queue and
 * content-addressed message blobs. The backend (SQLite now, MariaDB later)
 * hides behind an ops table in store-private.h; see docs/store.md.
 *
 * Threads: every function here blocks (disk I/O, fsync, waiting for a group
 * commit) and is safe to call from any number of threads at once, never from
 * an event-loop thread. Writes are queued to one writer thread per store and
 * committed in batches (group commit); a write returns only once its batch
 * is durable, together with every small blob queued before it.
 * Reads use a connection from a mutex-protected pool.
 *
 * Processes: open the store after fork(), once per process; several
 * processes may open the same database and data_dir concurrently.
 *
 * Errors: every fallible function returns enum store_result (STORE_OK == 0)
 * and, when error_r is not NULL, sets *error_r to a message that stays valid
 * until the next store call in the same thread (thread-local storage).
 */
#ifndef HERALD_STORE_STORE_H
#define HERALD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct mime_cache;
struct setting_section;
struct store;

/* The [store] section of the configuration (store-settings.c). */
extern const struct setting_section store_settings_section;

enum store_result {
	STORE_OK = 0,
	/* The named domain, account, alias, mailbox or message does not exist. */
	STORE_E_NOT_FOUND,
	/* Creating something that already exists (duplicate user, alias...). */
	STORE_E_EXISTS,
	/* A delivery would push an account over its quota (SMTP 552 5.2.2). */
	STORE_E_OVER_QUOTA,
	/* Refused because dependants exist (domain del without force). */
	STORE_E_IN_USE,
	/* Bad argument (malformed address, empty name, unknown role). */
	STORE_E_INVALID,
	/* Transient: database busy or gone, disk full, I/O error. Nothing was
	 * changed; retry later (SMTP 451 4.3.0). */
	STORE_E_TEMP,
};

/* "ok", "not found", ... for logs. */
const char *store_result_str(enum store_result r);

/* IMAP system flags as a bitmask (RFC 9051 2.3.2). */
enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
};
#define STORE_FLAGS_ALL 0x1fu

/* SPECIAL-USE roles (RFC 6154) and JMAP roles (RFC 8621 2). */
enum store_role {
	STORE_ROLE_NONE = 0,
	STORE_ROLE_INBOX,
	STORE_ROLE_DRAFTS,
	STORE_ROLE_SENT,
	STORE_ROLE_JUNK,
	STORE_ROLE_TRASH,
	STORE_ROLE_ARCHIVE,
	STORE_ROLE_COUNT
};

/* "inbox", "drafts", ... (JMAP spelling); "" for NONE. */
const char *store_role_name(enum store_role role);
/* "\\Drafts", "\\Sent", ... (IMAP SPECIAL-USE); NULL for NONE and INBOX. */
const char *store_role_imap(enum store_role role);

/* Hex SHA-256 of a blob plus NUL. */
#define STORE_BLOB_ID_LEN 64
/* Longest stable id string (mailbox, email, thread) plus NUL. */
#define STORE_ID_SIZE 32

/* ---- lifecycle ---- */

/* Opens (creating if needed) the database at cfg->store.sqlite_path or
 * <cfg->data_dir>/herald.db and the blob directory <cfg->data_dir>/blobs/,
 * applies pending schema migrations (each in its own transaction) and
 * starts the writer thread. cfg must outlive the store. Only backend
 * "sqlite" (or NULL) is implemented now. */
enum store_result store_open(const struct config *cfg, struct store **store_r,
			     const char **error_r);
struct mail_thread_limits;
/* What callers parse a message's thread keys with before they deliver
 * or APPEND it (mail_thread_keys_parse(); the [store] thread_* settings,
 * docs/store.md "Threads"). Lives as long as the store; lock-free. */
const struct mail_thread_limits *store_thread_limits(const struct store *store);
/* Stops the writer after it has committed every queued write, closes all
 * connections and frees the store; NULLs *store. No call may be in
 * progress on another thread. */
void store_close(struct store **store);

/* Schema version after open (the number of the last migration applied). */
int store_schema_version(struct store *store);

struct store_stats {
	uint64_t commits;	/* write transactions committed */
	uint64_t ops;		/* write operations executed in them */
	uint64_t max_batch;	/* most operations in one transaction */
	uint64_t search_rounds;	/* search indexer rounds applied */
	/* lazy commits (docs/store.md "Lazy commits"), and how many of them
	 * synced the WAL themselves (no other writer's sync came in time) */
	uint64_t lazy_commits;
	uint64_t lazy_syncs;
	/* batches held open for announced writes (store_write_expect) */
	uint64_t lingers;
};
/* Counters since open (this process only). */
void store_get_stats(struct store *store, struct store_stats *stats_r);

/* ---- deleting blobs (docs/store.md "Deleting blobs") ----
 *
 * Deleting a message or queue row queues its blob id for collection, in
 * the same transaction. The collector takes up to max queued ids in one
 * transaction of its own and removes each blob (row or file) that no
 * message and no queue entry names. A delivery that names a removed blob
 * later fails its in-transaction check with STORE_E_TEMP (and is retried),
 * so nothing committed ever names a missing blob. Each store's writer runs
 * it every [store] blob_gc_interval; store_blob_gc() runs it now. */
struct store_blob_gc_result {
	size_t max;		/* in: most ids to take (0: 500) */
	size_t checked;		/* ids taken off the queue */
	size_t freed;		/* blobs removed (rows and files) */
	uint64_t bytes;		/* their size */
	bool more;		/* ids are still queued */
};
enum store_result store_blob_gc(struct store *store,
				struct store_blob_gc_result *res,
				const char **error_r);
/* Queues blob id for the collector because a write that was to name it
 * failed (a refused or failed delivery): without this a body stored for
 * a message that was never kept would stay forever. Asynchronous, rides
 * with the next commit; harmless when something does name the blob (the
 * collector checks). */
void store_blob_forget(struct store *store, const char *id);

/* Runs PRAGMA integrity_check; STORE_OK when it answers "ok". */
enum store_result store_check_integrity(struct store *store,
					const char **error_r);

/* ---- blobs: content-addressed (SHA-256), written once ----
 *
 * Durability contract (changed: blobs used to be durable on return; see
 * docs/store.md "Durability" and docs/ARCHITECTURE.md). A blob of at most
 * STORE_BLOB_INLINE_MAX bytes is kept in the database: store_blob_put()
 * and store_blob_writer_finish() queue its insert into the group commit
 * and return without waiting, so it is readable at once through this
 * store handle but durable only once a write queued after that return is
 * committed (store_deliver(), store_queue_insert() or any other write
 * returning STORE_OK: inserts commit in queue order). Larger blobs are
 * files <data_dir>/blobs/<2 hex>/<64 hex>, fsynced with their directory
 * before the call returns. Either way "250 after store_deliver() returned
 * STORE_OK" means body and index are on disk. A blob id handed to another
 * process or store handle before such a commit needs store_blob_sync(). */
#define STORE_BLOB_INLINE_MAX (128u * 1024u)

/* Stores data as a blob and gives its id (id_r receives
 * STORE_BLOB_ID_LEN + 1 bytes); the same content twice gives the same id
 * and is stored once. Readable on return, durable as described above. */
enum store_result store_blob_put(struct store *store, const void *data,
				 size_t len, char id_r[STORE_BLOB_ID_LEN + 1],
				 const char **error_r);
/* store_blob_put() for a body only the queue runner reads (sent whole,
 * never FETCHed): a small one gets no MIME structure record, which
 * saves parsing it and a second insert per relayed message. IMAP would
 * still fill one lazily (store_mime_get) if it ever read the blob. */
enum store_result store_blob_put_queued(struct store *store, const void *data,
					size_t len,
					char id_r[STORE_BLOB_ID_LEN + 1],
					const char **error_r);

/* Streaming variant for messages that arrive in pieces: new, write any
 * number of times, then finish (gives the id; durable as described above)
 * or abort. Content is held in memory up to STORE_BLOB_INLINE_MAX, then
 * spilled to a temp file in blobs/tmp. Each writer belongs to one thread at
 * a time. finish and abort free *w. */
struct store_blob_writer;
enum store_result store_blob_writer_new(struct store *store,
					struct store_blob_writer **w_r,
					const char **error_r);
enum store_result store_blob_writer_write(struct store_blob_writer *w,
					  const void *data, size_t len,
					  const char **error_r);
enum store_result store_blob_writer_finish(struct store_blob_writer **w,
					   char id_r[STORE_BLOB_ID_LEN + 1],
					   uint64_t *size_r,
					   const char **error_r);
void store_blob_writer_abort(struct store_blob_writer **w);

/* Waits until every blob finished through this store handle before the
 * call is committed (returns at once when none is pending). Needed only
 * when a blob id leaves this handle before a write that references it is
 * committed here. */
enum store_result store_blob_sync(struct store *store, const char **error_r);

/* A directory on the blobs' filesystem for a message in transit (the
 * SMTP server's spool, lib/spool.h): <data_dir>/blobs/tmp. Files in it a
 * day old are removed at open. Valid while the store is open. */
const char *store_tmp_dir(const struct store *store);

/* Reads a whole blob (file, database, or pending through this handle)
 * into a new buffer (*data_r, caller frees with free(); NUL-terminated for
 * convenience, *len_r excludes the NUL). */
enum store_result store_blob_read(struct store *store, const char *id,
				  uint8_t **data_r, size_t *len_r,
				  const char **error_r);
/* Opens a blob read-only; the caller owns and closes *fd_r (for a blob
 * kept in the database, an anonymous memfd holding a copy). */
enum store_result store_blob_open(struct store *store, const char *id,
				  int *fd_r, const char **error_r);
/* Whether the blob exists (file, database, or pending). */
bool store_blob_exists(struct store *store, const char *id);

/* A run of blob reads (POP3 downloading many messages) on one borrowed
 * database connection and read transaction, with its statement prepared
 * once, and no copy of a small blob: the cost per blob of
 * store_blob_open() / store_blob_read() was mostly setup. One thread at a
 * time; it pins a database snapshot while it holds a blob, so free it
 * when the batch is done (do not keep it across waits for a client). */
struct store_blob_reader;
/* Never fails: the connection is borrowed at the first get. */
struct store_blob_reader *store_blob_reader_new(struct store *store);
/*
 * Looks blob id up. A blob in the database (or pending through this
 * handle) comes back as *data_r and *len_r, owned by the reader, valid
 * until its next get or free; *fd_r is -1. A blob file comes back as
 * *fd_r, which the caller owns and closes; *data_r is NULL. size is the
 * size the caller expects (a message's), so a large blob is looked for
 * as a file first; 0 if unknown. Errors as store_blob_open().
 */
enum store_result store_blob_reader_get(struct store_blob_reader *r,
					const char *id, uint64_t size,
					const uint8_t **data_r, size_t *len_r,
					int *fd_r, const char **error_r);
/* As store_blob_open() (a blob kept in the database comes back as a
 * memfd with a copy), through the reader's connection and snapshot: the
 * queue runner opens all the messages of a scan with one. */
enum store_result store_blob_reader_open(struct store_blob_reader *r,
					 const char *id, uint64_t size,
					 int *fd_r, const char **error_r);
/* Ends the read transaction, returns the connection; NULLs *r. */
void store_blob_reader_free(struct store_blob_reader **r);

/* ---- the MIME structure cache (docs/store.md) ----
 *
 * Every blob stored through store_blob_put() or a store_blob_writer gets
 * its MIME structure record (mail/mime-cache.h) computed as its octets
 * pass and saved with it, so that IMAP FETCH (BODYSTRUCTURE, ENVELOPE,
 * BODY[section]) never parses a message again. */

/*
 * The MIME structure of blob id, size octets: the saved record, checked
 * as it is read; when there is none, or it does not read (another
 * version, damage), the blob is parsed now (streamed, memory bounded by
 * its number of parts, not its size) and the record saved for next time
 * (without waiting for the commit). *cache_r is freed with
 * mime_cache_free(). STORE_E_NOT_FOUND when the blob does not exist.
 */
enum store_result store_mime_get(struct store *store, const char *id,
				 uint64_t size, struct mime_cache **cache_r,
				 const char **error_r);
/* store_mime_get() through a blob reader: the saved record is read on the
 * reader's connection and snapshot (IMAP FETCH reads a record and a blob
 * per message), the rest as store_mime_get(). */
enum store_result store_blob_reader_mime(struct store_blob_reader *r,
					 const char *id, uint64_t size,
					 struct mime_cache **cache_r,
					 const char **error_r);

/* ---- directory: domains ---- */

enum store_result store_domain_add(struct store *store, const char *domain,
				   const char **error_r);
/* Without force, refuses (STORE_E_IN_USE) when the domain has accounts or
 * aliases; with force, deletes them too (with their mailboxes and
 * messages; blobs are left for a later garbage collection). */
enum store_result store_domain_del(struct store *store, const char *domain,
				   bool force, const char **error_r);
/* A number that changes whenever a domain, user or alias is added or
 * removed by any process sharing this store; a cache of lookups stays
 * valid while it is unchanged. Read it before the lookup whose result is
 * cached. Lock-free, no system call, safe on an event-loop thread. False:
 * the backend cannot tell (do not cache). */
bool store_directory_generation(struct store *store, uint64_t *gen_r);
/* Domain names sorted; *names_r is freed with store_strv_free(). */
enum store_result store_domain_list(struct store *store, char ***names_r,
				    size_t *count_r, const char **error_r);
/* Whether domain is one of ours (case-insensitive): STORE_OK when it is,
 * STORE_E_NOT_FOUND when it is not (also for a malformed name, which
 * cannot be ours), STORE_E_TEMP when the database cannot be read. A
 * failure is never "not ours": callers answer it with a temporary error
 * (SMTP 451 4.3.0), never with a relay refusal. (This replaces the old
 * bool store_domain_exists(), which turned a failure into "no".) */
enum store_result store_domain_lookup(struct store *store, const char *domain,
				      const char **error_r);

/* Frees an array of n strings and NULLs *v. */
void store_strv_free(char ***v, size_t n);

/* ---- directory: accounts ---- */

struct store_user {
	int64_t id;
	char *address;		/* canonical: localpart as created @ domain */
	char *password_hash;	/* "{SCHEME}..." text */
	char *scram_sha256;	/* NULL when none stored */
	uint64_t quota_bytes;	/* 0: unlimited */
	uint64_t used_bytes;
	uint64_t used_messages;
	int64_t created;	/* unix seconds */
	uint64_t quota_messages;	/* message-count limit, 0: unlimited */
};

/* Creates an account and its mailboxes INBOX, Drafts, Sent, Junk, Trash,
 * Archive (with their roles, all subscribed). The domain must exist
 * (STORE_E_NOT_FOUND, "domain ... does not exist"); a duplicate local part
 * (compared case-insensitively) gives STORE_E_EXISTS. scram may be NULL.
 * id_r may be NULL. */
enum store_result store_user_add(struct store *store, const char *address,
				 const char *password_hash, const char *scram,
				 uint64_t quota_bytes, int64_t *id_r,
				 const char **error_r);
/* Deletes the account with its mailboxes and messages. */
enum store_result store_user_del(struct store *store, const char *address,
				 const char **error_r);
/* Replaces the password hash and the SCRAM credential (NULL clears it). */
enum store_result store_user_set_password(struct store *store,
					  const char *address,
					  const char *password_hash,
					  const char *scram,
					  const char **error_r);
enum store_result store_user_set_quota(struct store *store,
				       const char *address,
				       uint64_t quota_bytes,
				       const char **error_r);
/* Sets the account's message-count limit (0: unlimited), enforced with the
 * byte quota (STORE_E_OVER_QUOTA from delivery and copy) against
 * used_messages. Lowering it below the count stores nothing new until
 * enough messages are expunged; nothing is removed. */
enum store_result store_user_set_message_quota(struct store *store,
					       const char *address,
					       uint64_t quota_messages,
					       const char **error_r);
/* Looks an account up by address (local part case-insensitive, domain
 * case-insensitive). *user_r is freed with store_user_free(). */
enum store_result store_user_lookup(struct store *store, const char *address,
				    struct store_user **user_r,
				    const char **error_r);
/* The same by id. */
enum store_result store_user_get(struct store *store, int64_t id,
				 struct store_user **user_r,
				 const char **error_r);
/* All accounts (domain NULL) or those of one domain, sorted by address.
 * Freed with store_users_free(). An unknown domain is STORE_E_NOT_FOUND. */
enum store_result store_user_list(struct store *store, const char *domain,
				  struct store_user **users_r, size_t *count_r,
				  const char **error_r);
void store_user_free(struct store_user **user);
void store_users_free(struct store_user **users, size_t count);

/* ---- directory: aliases ---- */

/* source is "local@domain" or "@domain" (catch-all); the domain must be a
 * local domain. One row per target; the same pair twice is STORE_E_EXISTS. */
enum store_result store_alias_add(struct store *store, const char *source,
				  const char *target, const char **error_r);
/* target NULL deletes every target of source. STORE_E_NOT_FOUND when
 * nothing matched. */
enum store_result store_alias_del(struct store *store, const char *source,
				  const char *target, const char **error_r);

struct store_alias {
	char *source;
	char *target;
};
/* All aliases (domain NULL) or one domain's, sorted by source then target.
 * Freed with store_aliases_free(). */
enum store_result store_alias_list(struct store *store, const char *domain,
				   struct store_alias **aliases_r,
				   size_t *count_r, const char **error_r);
void store_aliases_free(struct store_alias **aliases, size_t count);
/* Targets of an address: its own alias rows, else the catch-all rows of its
 * domain, else STORE_E_NOT_FOUND. Sub-addressing (user+tag) is the caller's
 * business. Freed with store_strv_free(). */
enum store_result store_alias_resolve(struct store *store, const char *address,
				      char ***targets_r, size_t *count_r,
				      const char **error_r);

/* ---- mailboxes ---- */

struct store_mailbox {
	int64_t id;
	int64_t account_id;
	char *name;
	enum store_role role;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	bool subscribed;
	char jmap_id[STORE_ID_SIZE];
	int64_t created;
};

/* Every mailbox of an account, sorted by name; freed with
 * store_mailboxes_free(). */
enum store_result store_mailbox_list(struct store *store, int64_t account_id,
				     struct store_mailbox **boxes_r,
				     size_t *count_r, const char **error_r);
/* By name ("INBOX" matches case-insensitively, also as the first level
 * of a child, "inbox/x"; other names exactly). */
enum store_result store_mailbox_lookup(struct store *store, int64_t account_id,
				       const char *name,
				       struct store_mailbox **box_r,
				       const char **error_r);
enum store_result store_mailbox_lookup_role(struct store *store,
					    int64_t account_id,
					    enum store_role role,
					    struct store_mailbox **box_r,
					    const char **error_r);
void store_mailbox_free(struct store_mailbox **box);
void store_mailboxes_free(struct store_mailbox **boxes, size_t count);

/* Counted from the messages when asked (CLIENT-QUIRKS "counters derived,
 * not kept"), in one read transaction. */
struct store_mailbox_status {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;	/* messages without \Seen */
	uint32_t deleted;	/* messages with \Deleted */
	uint64_t size;		/* sum of message sizes */
	uint64_t deleted_size;	/* sum of the sizes of those with \Deleted */
	char mailbox_id[STORE_ID_SIZE];	/* its jmap_id (RFC 8474 MAILBOXID) */
};
enum store_result store_mailbox_status(struct store *store, int64_t mailbox_id,
				       struct store_mailbox_status *status_r,
				       const char **error_r);

/* ---- mailboxes: names, hierarchy, subscriptions (docs/store.md) ----
 *
 * Names are UTF-8 with "/" as the hierarchy delimiter: "a/b" is a child
 * of "a". A first level "INBOX" in any case is INBOX ("inbox/x" is
 * "INBOX/x"); other names are compared octet for octet. Every change
 * below is written to the change log (kind 'mailbox'; the messages a
 * delete or an INBOX rename takes away as kind 'email' 'destroyed'). */
#define STORE_MAILBOX_DELIM '/'

/* Limits on what a client may create (the [imap] settings pass them). */
struct store_mailbox_limits {
	/* Octets of a whole name (all levels); 0: no limit. */
	size_t name_max;
	/* Mailboxes of one account; subscriptions to names that have no
	 * mailbox are counted apart against the same number; 0: no
	 * limit. */
	size_t mailboxes_max;
};

/* Whether name is a valid mailbox name: not empty, valid UTF-8 without
 * control characters (C0, DEL, C1) or U+2028 and U+2029 (RFC 9755 3),
 * no empty level (no "/" at the start
 * or end, no "//"), at most name_max octets (0: no limit). STORE_OK or
 * STORE_E_INVALID with the reason. */
enum store_result store_mailbox_name_check(const char *name, size_t name_max,
					   const char **error_r);
/* A new copy of name with a first level "INBOX" in any case spelled
 * "INBOX"; free() it. */
char *store_mailbox_name_canonical(const char *name);

/* The id of mailbox name: STORE_OK, STORE_E_NOT_FOUND (for IMAP's
 * [TRYCREATE] on COPY, MOVE and APPEND), STORE_E_INVALID for a name that
 * cannot exist, or STORE_E_TEMP. id_r may be NULL. */
enum store_result store_mailbox_find(struct store *store, int64_t account_id,
				     const char *name, int64_t *id_r,
				     const char **error_r);

/* Creates mailbox name with role (NONE, or one no other mailbox of the
 * account has) and a new UIDVALIDITY, and every missing parent ("a" and
 * "a/b" for "a/b/c"; RFC 9051 6.3.4) with no role. A mailbox is created
 * subscribed when its name was subscribed before it existed. Results:
 * STORE_E_EXISTS when name exists (INBOX always does), STORE_E_IN_USE
 * when another mailbox has role, STORE_E_INVALID for a bad name or the
 * role INBOX, STORE_E_OVER_QUOTA when the account would hold more than
 * limits->mailboxes_max. limits may be NULL (none). *id_r (may be NULL)
 * is the new mailbox's id. */
enum store_result store_mailbox_create(struct store *store, int64_t account_id,
				       const char *name, enum store_role role,
				       const struct store_mailbox_limits *limits,
				       int64_t *id_r, const char **error_r);

/* Deletes mailbox name with its messages (their blobs go to the
 * collector, the account's usage drops). A subscription stays, as a
 * subscription to a name that no longer exists (RFC 9051 6.3.9).
 * Results: STORE_E_NOT_FOUND; STORE_E_INVALID for INBOX, which cannot be
 * deleted; STORE_E_IN_USE when the mailbox has children (RFC 9051 6.3.5
 * allows refusing; Herald never keeps a \Noselect mailbox, docs/imap.md).
 * *id_r (may be NULL) is the deleted mailbox's id. */
enum store_result store_mailbox_delete(struct store *store, int64_t account_id,
				       const char *name, int64_t *id_r,
				       const char **error_r);
/* As store_mailbox_delete(), but only when name is still mailbox id
 * (0: any), checked in the same transaction: a caller that checked
 * rights on that mailbox (IMAP ACL) acts on it and not on another that a
 * rename in between put under the name. Otherwise STORE_E_NOT_FOUND, as
 * for a missing mailbox. */
enum store_result store_mailbox_delete_id(struct store *store,
					  int64_t account_id,
					  const char *name, int64_t id,
					  int64_t *id_r, const char **error_r);

/* Renames mailbox from to to, with its children ("from/x" becomes
 * "to/x"), creating missing parents of to; each keeps its id, role,
 * subscription, UIDVALIDITY (UIDVALIDITY values are never reused by any
 * mailbox of the store, so the name keeps pointing at the right
 * messages: RFC 9051 2.3.1.1) and messages. Renaming INBOX (RFC 9051
 * 6.3.6) creates mailbox to with a new UIDVALIDITY and moves every INBOX
 * message into it, keeping their UIDs (to's UIDNEXT is INBOX's); INBOX
 * stays, empty, with its UIDVALIDITY and UIDNEXT, and its children stay
 * where they are. Results: STORE_E_NOT_FOUND for from; STORE_E_EXISTS
 * for to (also INBOX); STORE_E_INVALID for a bad name or to under from;
 * STORE_E_OVER_QUOTA past limits (name_max applies to every renamed
 * child too). */
enum store_result store_mailbox_rename(struct store *store, int64_t account_id,
				       const char *from, const char *to,
				       const struct store_mailbox_limits *limits,
				       const char **error_r);
/* As store_mailbox_rename(), but only when from is still mailbox id
 * (0: any), as store_mailbox_delete_id() checks it. */
enum store_result store_mailbox_rename_id(struct store *store,
					  int64_t account_id, const char *from,
					  int64_t id, const char *to,
					  const struct store_mailbox_limits *limits,
					  const char **error_r);

/* Subscribes (or unsubscribes) name: an existing mailbox's subscribed
 * flag, otherwise the account's list of subscriptions to names that have
 * no mailbox (RFC 9051 6.3.9 allows those). Unsubscribing a name that is
 * not subscribed is STORE_OK. STORE_E_INVALID for a bad name;
 * STORE_E_OVER_QUOTA when a new subscription to a name without mailbox
 * would pass limits->mailboxes_max. */
enum store_result store_mailbox_subscribe(struct store *store,
					  int64_t account_id, const char *name,
					  bool subscribe,
					  const struct store_mailbox_limits *limits,
					  const char **error_r);

/* The subscribed names that have no mailbox, sorted; the subscribed
 * mailboxes have store_mailbox.subscribed. Freed with store_strv_free(). */
enum store_result store_subscription_list(struct store *store,
					  int64_t account_id, char ***names_r,
					  size_t *count_r,
					  const char **error_r);

/* ---- access control lists (RFC 4314; docs/store.md "Access control") ----
 *
 * An account may grant other accounts of the server (or "anyone", every
 * account) rights on one of its mailboxes. The owner always has every
 * right and has no entry of its own: it can never be locked out. An
 * account's rights on another's mailbox are its own entry's rights plus
 * the "anyone" entry's. Deleting a mailbox or an account deletes its
 * entries (as owner and as grantee). */

/* The rights of RFC 4314 2.1 as bits, in the order of STORE_ACL_LETTERS. */
enum store_acl_right {
	STORE_ACL_LOOKUP = 1 << 0,	/* l: LIST, SUBSCRIBE */
	STORE_ACL_READ = 1 << 1,	/* r: SELECT, EXAMINE, STATUS */
	STORE_ACL_SEEN = 1 << 2,	/* s: keep \Seen */
	STORE_ACL_WRITE = 1 << 3,	/* w: flags other than \Seen, \Deleted */
	STORE_ACL_INSERT = 1 << 4,	/* i: APPEND, COPY into */
	STORE_ACL_POST = 1 << 5,	/* p: post (not used by IMAP) */
	STORE_ACL_CREATE = 1 << 6,	/* k: CREATE below, RENAME to below */
	STORE_ACL_DELETE_MAILBOX = 1 << 7,	/* x: DELETE, RENAME from */
	STORE_ACL_DELETE_MSG = 1 << 8,	/* t: \Deleted */
	STORE_ACL_EXPUNGE = 1 << 9,	/* e: EXPUNGE */
	STORE_ACL_ADMIN = 1 << 10,	/* a: SETACL, GETACL, ... */
};
#define STORE_ACL_LETTERS "lrswipkxtea"
#define STORE_ACL_ALL 0x7ffu
/* Longest rights string: every letter plus the virtual "c" and "d". */
#define STORE_ACL_RIGHTS_SIZE 16
/* The grantee id of the identifier "anyone". */
#define STORE_ACL_ANYONE 0

/*
 * Parses rights letters (RFC 4314 2.1, lower case only) into bits; the
 * obsolete virtual rights of 2.1.1 are accepted: "c" as "k", "d" as "xte".
 * An empty string is no rights. Returns 0, or -1 with a static *error_r
 * naming the first letter that is not a right (untrusted input: IMAP
 * SETACL, `herald share`).
 */
int store_acl_rights_parse(const char *s, size_t len, unsigned *rights_r,
			   const char **error_r);
/* Writes rights as letters in STORE_ACL_LETTERS order into out (NUL
 * terminated); with virtual, "c" follows when "k" is there and "d" when
 * any of "xte" is (RFC 4314 2.1.1, for MYRIGHTS and ACL responses). */
void store_acl_rights_format(unsigned rights, bool virtual,
			     char out[STORE_ACL_RIGHTS_SIZE]);

/* One entry of a mailbox's list. */
struct store_acl_entry {
	int64_t grantee_id;	/* STORE_ACL_ANYONE or an account id */
	char *grantee;		/* "anyone" or the account's address */
	unsigned rights;
};
/* The entries of mailbox_id, "anyone" first, then by address (the owner
 * has none); freed with store_acl_entries_free(). STORE_E_NOT_FOUND: no
 * such mailbox. */
enum store_result store_acl_get(struct store *store, int64_t mailbox_id,
				struct store_acl_entry **entries_r,
				size_t *count_r, const char **error_r);
void store_acl_entries_free(struct store_acl_entry **entries, size_t count);

/* Sets grantee_id's rights on mailbox_id (replacing them; 0 removes the
 * entry), in one durable write. STORE_E_NOT_FOUND: no such mailbox or
 * grantee account; STORE_E_INVALID: the grantee is the owner (who always
 * has every right) or rights has bits outside STORE_ACL_ALL. */
enum store_result store_acl_set(struct store *store, int64_t mailbox_id,
				int64_t grantee_id, unsigned rights,
				const char **error_r);
/* Removes grantee_id's entry (STORE_OK when it had none). */
enum store_result store_acl_delete(struct store *store, int64_t mailbox_id,
				   int64_t grantee_id, const char **error_r);
/* The rights account_id has on mailbox_id: STORE_ACL_ALL for the owner,
 * else its entry's and anyone's; 0 when none. STORE_E_NOT_FOUND: no such
 * mailbox. */
enum store_result store_acl_rights(struct store *store, int64_t mailbox_id,
				   int64_t account_id, unsigned *rights_r,
				   const char **error_r);

/* A mailbox of another account that an account has rights on. */
struct store_acl_shared {
	int64_t mailbox_id;
	int64_t owner_id;
	char *owner;		/* the owner's address */
	char *name;		/* the owner's name for it */
	bool subscribed;	/* by its owner (not used for the grantee) */
	unsigned rights;	/* the account's, as store_acl_rights() */
};
/* Every mailbox of other accounts on which account_id (or anyone) has a
 * right, by owner address then name; freed with
 * store_acl_shared_free(). */
enum store_result store_acl_shared_list(struct store *store,
					int64_t account_id,
					struct store_acl_shared **shared_r,
					size_t *count_r, const char **error_r);
void store_acl_shared_free(struct store_acl_shared **shared, size_t count);

/* One entry for an administrator (`herald share list`). */
struct store_acl_share {
	char *owner;
	char *mailbox;
	char *grantee;		/* "anyone" or an address */
	unsigned rights;
};
/* Every entry of every mailbox of owner_id (0: of every account), by
 * owner, mailbox, then grantee; freed with store_acl_shares_free(). */
enum store_result store_acl_share_list(struct store *store, int64_t owner_id,
				       struct store_acl_share **shares_r,
				       size_t *count_r, const char **error_r);
void store_acl_shares_free(struct store_acl_share **shares, size_t count);

/* ---- messages ---- */

/* One destination of a delivery. In: account_id and either mailbox_id or
 * (mailbox_id 0) mailbox_name (NULL: INBOX), flags, and optionally the
 * target's own blob. Out: the rest. */
struct store_target {
	int64_t account_id;
	int64_t mailbox_id;
	const char *mailbox_name;
	uint32_t flags;		/* initial system flags, e.g. 0 */
	/* This target's own blob (already stored with store_blob_put) and
	 * its size, e.g. a copy with the account's Delivered-To; NULL: the
	 * blob_id and size given to store_deliver(). */
	const char *blob_id;
	uint64_t size;
	/* Keywords (RFC 9051 2.3.2) to set, compared case-insensitively;
	 * one new to the mailbox takes the spelling given, one it knows
	 * takes the mailbox's (see store_flags_store). keywords_max: most
	 * keywords the mailbox may then know (0: no limit), else
	 * STORE_E_INVALID. */
	const char *const *keywords;
	size_t n_keywords;
	size_t keywords_max;
	/* This target's internal date (unix seconds); 0: the call's. */
	int64_t internal_date;
	/* IMAP REPLACE (RFC 8508): in the same operation, once the message
	 * is stored, expunge message replace_uid of mailbox
	 * replace_mailbox_id (the same account's; 0: nothing), whatever its
	 * flags, so that both happen or neither. A UID no longer there is
	 * no error (replaced stays false); a mailbox that no longer exists
	 * is STORE_E_NOT_FOUND for the whole operation. */
	int64_t replace_mailbox_id;
	uint32_t replace_uid;
	/* Threading (docs/store.md "Threads"; mail/thread-keys.h reads
	 * them): the message's RFC 5256 base subject (NULL: a thread of
	 * its own, as for COPY), its Message-ID and the ids it names
	 * (In-Reply-To, References), without brackets. The message joins
	 * the thread of the account that already has one of these ids
	 * when that thread's base subject is the same; when they lead to
	 * several, the oldest, and the others are continued in it (no
	 * stored message changes thread: RFC 8474 5.2). */
	const char *thread_subject;
	const char *thread_msgid;	/* or NULL */
	const char *const *thread_refs;
	size_t n_thread_refs;
	/* filled on success */
	bool replaced;
	int64_t message_id;
	uint32_t uidvalidity;	/* the mailbox's (APPENDUID) */
	uint32_t uid;
	uint64_t modseq;
	char email_id[STORE_ID_SIZE];
};

/* Stores one blob (already stored with store_blob_put) of `size` bytes
 * (or, for a target with its own blob_id, that blob and its size; blob_id
 * may be NULL when every target has its own)
 * into every target in one atomic, group-committed operation: each target
 * gets uid = uidnext++, modseq = highestmodseq + 1 of its mailbox, new
 * stable ids, and its account's used_bytes/used_messages grow. Targets of
 * one account with one blob share an email id and thread id; the thread
 * is found by the target's thread_* keys (docs/store.md "Threads"). If any target's account
 * would exceed its quota (bytes or message count) nothing is stored: STORE_E_OVER_QUOTA and
 * *failed_r (may be NULL) is that target's index. STORE_E_NOT_FOUND for an
 * unknown account or mailbox (also with *failed_r). internal_date is unix
 * seconds (0: now). Durable when STORE_OK is returned, and so is the blob
 * (see "blobs" above). A blob that does not exist (or whose own insert
 * failed) gives STORE_E_TEMP and nothing is stored. */
enum store_result store_deliver(struct store *store, const char *blob_id,
				uint64_t size, int64_t internal_date,
				struct store_target *targets, size_t count,
				size_t *failed_r, const char **error_r);

struct store_message {
	int64_t id;		/* row id, internal */
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;		/* enum store_flag bits */
	int64_t internal_date;
	int64_t saved_date;
	uint64_t size;
	int64_t thread_id;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	char email_id[STORE_ID_SIZE];
	/* Its keywords in a struct store_keywords's refs (see
	 * store_message_list_keywords). */
	uint32_t kw_first;
	uint32_t n_kw;
};

/* Messages of a mailbox in UID order; *msgs_r is one array freed with
 * free() (NULL when empty). kw_first and n_kw are 0. */
enum store_result store_message_list(struct store *store, int64_t mailbox_id,
				     struct store_message **msgs_r,
				     size_t *count_r, const char **error_r);

/* A message's object ids (RFC 8474, the same as JMAP's): its email id
 * and its thread's id ("" when it has no thread). */
struct store_message_ids {
	uint32_t uid;
	char email_id[STORE_ID_SIZE];
	char thread_id[STORE_ID_SIZE];
};

/* The ids of the given UIDs of a mailbox (ascending; uids NULL: every
 * message), those that exist, in UID order; *ids_r freed with free()
 * (NULL when none). STORE_E_NOT_FOUND: no such mailbox. */
enum store_result store_message_ids(struct store *store, int64_t mailbox_id,
				    const uint32_t *uids, size_t count,
				    struct store_message_ids **ids_r,
				    size_t *count_r, const char **error_r);

/* ---- keywords (RFC 9051 2.3.2) ----
 *
 * A keyword is an atom that does not start with a backslash, compared
 * case-insensitively (ASCII). Each mailbox keeps the list of keywords it
 * knows, in the order they were first set there, each in the spelling
 * first used: setting "$label1" where "$Label1" is known sets "$Label1".
 * A mailbox's list only grows (IMAP's FLAGS response lists it; RFC 9051
 * 7.3.5 lets it keep keywords no message has). */

/* Longest keyword in octets. */
#define STORE_KEYWORD_MAX 255

/* Whether s (NUL-terminated) is a keyword: 1 to STORE_KEYWORD_MAX
 * ATOM-CHARs (RFC 9051 9), the first not '\'. */
bool store_keyword_is_valid(const char *s);

/* A mailbox's keywords and which of them each message has: names in the
 * mailbox's order; message i of a list has the n_kw indexes into names at
 * refs[kw_first]... (in names' order). */
struct store_keywords {
	char **names;
	size_t n_names;
	uint32_t *refs;
	size_t n_refs;
};
/* Frees what kw holds and zeroes it. */
void store_keywords_deinit(struct store_keywords *kw);

/* store_message_list() and, from the same snapshot, the mailbox's
 * keywords (kw_r, freed with store_keywords_deinit) with each message's
 * kw_first and n_kw set. */
enum store_result store_message_list_keywords(struct store *store,
					      int64_t mailbox_id,
					      struct store_message **msgs_r,
					      size_t *count_r,
					      struct store_keywords *kw_r,
					      const char **error_r);

/* A change of flags and keywords (IMAP STORE, JMAP keyword patches). */
struct store_flags_change {
	/* false: set add and kw_add, clear remove and kw_remove (a flag in
	 * both ends up cleared). true: the message gets exactly the system
	 * flags add and the keywords kw_add (IMAP "FLAGS"). */
	bool replace;
	uint32_t add, remove;		/* enum store_flag bits */
	const char *const *kw_add;
	size_t n_kw_add;
	const char *const *kw_remove;
	size_t n_kw_remove;
	/* Most keywords the mailbox may know after the change (0: no
	 * limit): a change that would add one past it is refused. */
	size_t keywords_max;
	/* IMAP STORE (UNCHANGEDSINCE n), RFC 7162 3.1.3: a message whose
	 * modseq is above unchanged_since when the write runs (in the same
	 * transaction, so no other session slips in between) is left as it
	 * is and its UID goes to the result's modified list. */
	bool if_unchanged;
	uint64_t unchanged_since;
};

/* The state of one message after a change. */
struct store_flags_msg {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	bool changed;		/* by this call */
	uint32_t kw_first, n_kw;	/* into the result's kw.refs */
};

struct store_flags_result {
	/* Every given UID that exists, in the order given, but for those
	 * in modified. */
	struct store_flags_msg *msgs;
	size_t count;
	/* The UIDs that failed the change's if_unchanged test, in the
	 * order given (NULL when none). */
	uint32_t *modified;
	size_t n_modified;
	/* The mailbox's keywords after the change and msgs' indexes. */
	struct store_keywords kw;
	size_t changed;		/* messages changed */
	uint64_t modseq;	/* theirs, or highestmodseq when none */
};
void store_flags_result_deinit(struct store_flags_result *res);

/* Applies change to the given UIDs of a mailbox in one atomic,
 * group-committed operation; UIDs that do not exist are skipped. Messages
 * whose flags or keywords change get one new modseq (highestmodseq + 1)
 * and a change-log row. res (may be NULL) gets every message's new state.
 * STORE_E_INVALID: an unknown flag, an invalid keyword, or a keyword new
 * to the mailbox past change->keywords_max (nothing is changed then).
 * STORE_E_NOT_FOUND: no such mailbox. */
enum store_result store_flags_store(struct store *store, int64_t mailbox_id,
				    const uint32_t *uids, size_t count,
				    const struct store_flags_change *change,
				    struct store_flags_result *res,
				    const char **error_r);

/* Sets (add) and clears (remove) system flags on the given UIDs of a
 * mailbox: store_flags_store() without keywords. Messages whose flags
 * change get one new modseq (highestmodseq + 1, returned in *modseq_r,
 * may be NULL); UIDs that do not exist are skipped. *changed_r (may be
 * NULL) counts changed messages. */
enum store_result store_flags_update(struct store *store, int64_t mailbox_id,
				     const uint32_t *uids, size_t count,
				     uint32_t add, uint32_t remove,
				     size_t *changed_r, uint64_t *modseq_r,
				     const char **error_r);

/* Like store_expunge(), but removes only those of the given UIDs that
 * have \Deleted when the operation runs (IMAP EXPUNGE, UID EXPUNGE, CLOSE:
 * another session may have cleared it meanwhile). *expunged_r gets the
 * removed UIDs in the order given (freed with free(), NULL when none) and
 * *count_r their number. */
enum store_result store_expunge_deleted(struct store *store,
					int64_t mailbox_id,
					const uint32_t *uids, size_t count,
					uint32_t **expunged_r, size_t *count_r,
					const char **error_r);

/* COPY and MOVE (RFC 9051 6.4.7, RFC 6851) between two mailboxes, of one
 * account or (a shared mailbox, RFC 4314) of two: then the copies get
 * new email ids and threads of the target's account, which is charged
 * for them (quota checked, for a move too) while a move frees the
 * source's. */
struct store_copy {
	int64_t src_mailbox_id;
	const uint32_t *uids;	/* source UIDs, ascending */
	size_t count;
	int64_t dst_mailbox_id;
	/* Expunge the copied messages from the source in the same
	 * operation (their usage moves, so no quota check within one
	 * account). */
	bool move;
	/* System flags the copies do not get, and whether they get no
	 * keywords (RFC 4314 4: flags the user has no right to set on
	 * the target are not stored). */
	uint32_t drop_flags;
	bool drop_keywords;
	/* out: the pairs for the UIDs that existed, in order (COPYUID) */
	uint32_t dst_uidvalidity;
	uint32_t *src_uids;
	uint32_t *dst_uids;
	size_t n;
};

/* Copies (or moves) the messages in one atomic, group-committed
 * operation: each gets a new row and a new UID in the target mailbox,
 * always, even where the target already holds the same message
 * (CLIENT-QUIRKS), with its flags, keywords (even past a keywords limit,
 * so a copy never fails for them), internal date, blob (shared, not
 * copied), email and thread ids; saved date and modseq are new. UIDs that
 * do not exist are skipped (c->n may be 0). STORE_E_NOT_FOUND: a mailbox
 * does not exist (message "target ..." for the target, for TRYCREATE);
 * STORE_E_OVER_QUOTA: a copy would exceed the account's quota, bytes or
 * message count (nothing is copied); STORE_E_TEMP: the target has run out of UIDs, or a database failure.
 * Free the out arrays with store_copy_deinit(). */
enum store_result store_copy(struct store *store, struct store_copy *c,
			     const char **error_r);
void store_copy_deinit(struct store_copy *c);

/* Removes the given UIDs from a mailbox (missing UIDs are skipped), lowers
 * the account's usage, records the expunges in the change log and bumps
 * highestmodseq. *expunged_r (may be NULL) counts removed messages. */
enum store_result store_expunge(struct store *store, int64_t mailbox_id,
				const uint32_t *uids, size_t count,
				size_t *expunged_r, const char **error_r);

/* ---- what changed since a modseq (IMAP unsolicited updates) ---- */

/* One message that is new or changed, with its keywords. */
struct store_message_change {
	struct store_message msg;
	char **keywords;	/* sorted; NULL when none */
	size_t n_keywords;
};

struct store_mailbox_delta {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	/* The mailbox's keywords in its order (see "keywords" below): what
	 * IMAP's FLAGS response lists. */
	char **keywords;
	size_t n_keywords;
	/* Messages with modseq > since or uid >= uid_from, in UID order;
	 * their keywords in the mailbox's spelling. */
	struct store_message_change *changed;
	size_t n_changed;
	/* UIDs expunged with modseq > since (the change log), ascending,
	 * no duplicates; may name UIDs the caller never knew. */
	uint32_t *expunged;
	size_t n_expunged;
	/* The log was pruned past since (store_changes_prune): expunged
	 * holds only what it still remembers, and present every UID the
	 * mailbox holds (ascending, same snapshot), so that a caller counts
	 * as expunged each UID below uidnext it knew of and present lacks
	 * (RFC 7162 3.2.5.2). present is NULL when not partial. */
	bool expunged_partial;
	uint32_t *present;
	size_t n_present;
};

/* What changed in a mailbox after modseq since, read in one snapshot: its
 * counters and keywords, the messages changed or added (modseq > since)
 * or at least uid_from, and the UIDs expunged. STORE_E_NOT_FOUND when the mailbox is
 * gone. Free with store_mailbox_delta_free(). */
enum store_result store_mailbox_delta(struct store *store, int64_t mailbox_id,
				      uint64_t since, uint32_t uid_from,
				      struct store_mailbox_delta *delta_r,
				      const char **error_r);
void store_mailbox_delta_free(struct store_mailbox_delta *delta);

/* ---- pruning the change log (docs/store.md "Change log") ----
 *
 * Takes the oldest rows of the change log, up to max of them in one
 * transaction, while their time is more than max_age_s seconds ago, and
 * deletes them; for each mailbox whose expunge records go, its expunge
 * horizon moves up to their highest modseq, so store_mailbox_delta
 * reports a since below it as expunged_partial. Each store's writer runs
 * a round with its blob collection ([store] change_log_retention);
 * store_changes_prune() runs one now. */
struct store_changes_prune_result {
	uint64_t max_age_s;	/* in: rows older than this go (0: none) */
	size_t max;		/* in: most rows per round (0: 1000) */
	size_t pruned;		/* rows deleted */
	bool more;		/* more rows are old enough */
};
enum store_result store_changes_prune(struct store *store,
				      struct store_changes_prune_result *res,
				      const char **error_r);

/* ---- change notification (docs/ARCHITECTURE.md "Change notification") ----
 *
 * Every committed change of a mailbox (a delivery, flags, an expunge, any
 * write that moves its UIDNEXT or HIGHESTMODSEQ, a rename or delete) moves
 * a counter that every process sharing the store sees, right after the
 * commit and before the writing call returns. Read the counter before
 * reading the mailbox: when it has moved since, look again. */
enum store_watch_kind {
	STORE_WATCH_MAILBOX,
	STORE_WATCH_ACCOUNT,	/* any mailbox of the account */
	STORE_WATCH_QUEUE,	/* the outbound queue (id 0) */
};
/* Lock-free, no system call, safe on an event-loop thread. A counter may
 * also move for another object that shares its slot (rarely): a look
 * that finds nothing new is normal. 0 when the backend cannot tell. */
uint64_t store_change_counter(struct store *store, enum store_watch_kind kind,
			      int64_t id);

/* A descriptor that becomes readable after changes committed by any
 * process after store_watch_new() returned (several changes may make one
 * wake-up); for an event loop, which then compares the counters it cares
 * for and calls store_watch_ack(). A thread per watch sleeps until then:
 * one watch per process is enough. It may outlive the store. */
struct store_watch;
enum store_result store_watch_new(struct store *store,
				  struct store_watch **watch_r,
				  const char **error_r);
/* The same for changes of some kinds only: kinds is a mask of
 * STORE_WATCH_KIND(kind) (a commit that changed only mailboxes does not
 * wake the queue runner's watch, whose thread and loop would wake for
 * nothing once per commit). store_watch_new() watches every kind. */
#define STORE_WATCH_KIND(kind) (1u << (kind))
#define STORE_WATCH_KINDS_ALL (STORE_WATCH_KIND(STORE_WATCH_MAILBOX) | \
			       STORE_WATCH_KIND(STORE_WATCH_ACCOUNT) | \
			       STORE_WATCH_KIND(STORE_WATCH_QUEUE))
enum store_result store_watch_new_kinds(struct store *store, unsigned kinds,
					struct store_watch **watch_r,
					const char **error_r);
int store_watch_fd(const struct store_watch *watch);
void store_watch_ack(struct store_watch *watch);
void store_watch_free(struct store_watch **watch);

/* ---- outbound queue (docs/outbound.md, docs/store.md "Outbound queue") ----
 *
 * One row per queued message, one per recipient. A recipient is pending
 * (not tried yet), deferred (a temporary failure: last_error and
 * next_attempt say why and when), sent (the remote acknowledged it) or
 * bounced (a permanent failure, or the message expired). The message row
 * goes when no recipient is pending or deferred and no DSN is still owed
 * (store_queue_record, store_queue_notified). Every insert and every
 * change a runner must act on moves the queue's change counter
 * (store_queue_counter), so a runner in another process wakes at once. */

#define STORE_QUEUE_PENDING "pending"
#define STORE_QUEUE_DEFERRED "deferred"
#define STORE_QUEUE_SENT "sent"
#define STORE_QUEUE_BOUNCED "bounced"
/* Message status: "queued" (the runner takes it when due) or "held". */
#define STORE_QUEUE_QUEUED "queued"
#define STORE_QUEUE_HELD "held"

/* The DSN still owed for a recipient (its notify column). */
enum store_queue_notify {
	STORE_QUEUE_NOTIFY_NONE = 0,
	STORE_QUEUE_NOTIFY_FAILURE = 1,
	STORE_QUEUE_NOTIFY_SUCCESS = 2,
	STORE_QUEUE_NOTIFY_DELAY = 3,
};

struct store_queue_rcpt {
	const char *address;
	const char *dsn_notify;	/* "SUCCESS,FAILURE" / "NEVER" / NULL */
	const char *dsn_orcpt;	/* "rfc822;addr" or NULL */
};

/* A new outbound queue entry, for store_deliver_queue(). */
struct store_queue_msg {
	const char *blob_id;	/* already stored with store_blob_put */
	uint64_t size;
	const char *env_from;	/* "" for the null sender */
	const char *dsn_ret;	/* "FULL", "HDRS" or NULL */
	const char *dsn_envid;	/* or NULL */
	const char *msg_id;	/* the log id it was accepted under, or NULL */
	/* What the next hop must offer (RFC 6152, RFC 6531), decided at
	 * acceptance: BODY=8BITMIME/BINARYMIME or an octet above 127;
	 * a UTF-8 envelope address, or SMTPUTF8 with a UTF-8 header. */
	bool need_8bitmime;
	bool need_smtputf8;
	const struct store_queue_rcpt *rcpts;
	size_t count;		/* at least 1 */
	int64_t id;		/* out: the queue row id */
};

/* One message for local accounts and remote recipients as one atomic,
 * group-committed operation: every target (each with its own blob_id and
 * size set) as in store_deliver() and, when queue is not NULL, the queue
 * entry as in store_queue_insert(). Either all of it is stored or none:
 * a failure of any part (quota, unknown account, missing blob, a failed
 * commit) rolls every part back. count may be 0 when queue is given.
 * On failure *failed_r (may be NULL) is the index of the target that
 * failed, or count when the queue insert failed (or the failure was not
 * one part's, e.g. the commit). Durable when STORE_OK is returned. */
enum store_result store_deliver_queue(struct store *store,
				      int64_t internal_date,
				      struct store_target *targets,
				      size_t count,
				      struct store_queue_msg *queue,
				      size_t *failed_r, const char **error_r);

/* A queue entry's owed DSNs (store_queue_notified) that a report being
 * stored now carries: cleared in the same operation that stores the
 * report (store_deliver_report), so a crash can neither lose the
 * report nor have it made twice. */
struct store_queue_notified {
	int64_t id;			/* the entry reported on */
	const int64_t *rcpt_ids;	/* its recipients; NULL: all */
	size_t count;
	bool delay_warned;		/* also sets the entry's warned flag */
	bool finished;			/* out: the entry was removed */
};

/* store_deliver_queue() that also clears notified's marks (NULL: none)
 * in the same operation, and so in the same commit: both or neither are
 * durable. An entry gone meanwhile (`herald queue delete`) only leaves
 * the marks part out; the report is stored all the same. */
enum store_result store_deliver_report(struct store *store,
				       int64_t internal_date,
				       struct store_target *targets,
				       size_t count,
				       struct store_queue_msg *queue,
				       struct store_queue_notified *notified,
				       size_t *failed_r, const char **error_r);

/* store_deliver_queue() without blocking: checks the arguments, queues
 * the operation to the group commit and returns STORE_OK; cb(ctx, result,
 * failed, error) is called later from the store's writer thread once the
 * batch is durable or has failed (targets[].uid and queue->id are set
 * then; error is valid during the call only). targets, queue and all they
 * point to must stay valid until cb. Any other return: nothing was
 * queued and cb is never called. The blobs must already be put (small
 * blobs: store_blob_put() does not block either), so a whole delivery
 * can be started from an event-loop thread. */
typedef void store_deliver_cb_t(void *ctx, enum store_result result,
				size_t failed, const char *error);

/* Announces (on) a write on its way to this store, or withdraws the
 * announcement (off), once per on: a session that is receiving a message
 * it will store says so from the start of DATA until it hands the message
 * over (or drops it). While any is announced, the writer holds a batch
 * open up to [store] group_commit_linger for them, so one commit and one
 * fsync cover several messages (docs/store.md "Group commit"). Never
 * blocks (the store's mutex only); any thread. */
void store_write_expect(struct store *store, bool on);
enum store_result store_deliver_queue_async(struct store *store,
					    int64_t internal_date,
					    struct store_target *targets,
					    size_t count,
					    struct store_queue_msg *queue,
					    store_deliver_cb_t *cb, void *ctx,
					    const char **error_r);

/* Queues a message (blob already written) for relay, with its recipients,
 * in one group-committed operation. env_from "" is the null sender.
 * dsn_ret ("FULL"/"HDRS") and dsn_envid may be NULL. *id_r gets the
 * queue row id. Durable when STORE_OK is returned, with the blob (as for
 * store_deliver()). */
enum store_result store_queue_insert(struct store *store, const char *blob_id,
				     uint64_t size, const char *env_from,
				     const char *dsn_ret, const char *dsn_envid,
				     const struct store_queue_rcpt *rcpts,
				     size_t count, int64_t *id_r,
				     const char **error_r);

struct store_queue_entry {
	int64_t id;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	uint64_t size;
	char *env_from;
	char *dsn_ret;		/* NULL when not given */
	char *dsn_envid;
	char *msg_id;		/* NULL for rows queued before migration 10 */
	/* as in store_queue_msg; false for rows queued before migration 11 */
	bool need_8bitmime;
	bool need_smtputf8;
	int64_t created;
	int64_t next_attempt;	/* the earliest of its open recipients' */
	uint32_t attempts;
	char *status;		/* STORE_QUEUE_QUEUED or _HELD */
	bool warned;		/* the delay warning was sent */
	size_t n_rcpts;
	struct store_queue_entry_rcpt {
		int64_t id;
		char *address;
		char *dsn_notify;
		char *dsn_orcpt;
		char *status;	/* STORE_QUEUE_PENDING ... _BOUNCED */
		char *last_error;	/* the remote's reply or the reason */
		int64_t next_attempt;
		int64_t last_attempt;	/* 0: never tried */
		uint32_t attempts;
		char *dsn_status;	/* "4.4.1", NULL before any attempt */
		char *relay;		/* "host[addr]:port" of the last try */
		char *tls;		/* "TLSv1.3/cipher" or NULL */
		enum store_queue_notify notify;
	} *rcpts;
};

/* Queue entries (all, or only those with next_attempt <= due when due is
 * not 0), oldest first; freed with store_queue_entries_free(). */
enum store_result store_queue_list(struct store *store, int64_t due,
				   struct store_queue_entry **entries_r,
				   size_t *count_r, const char **error_r);
void store_queue_entries_free(struct store_queue_entry **entries,
			      size_t count);
/* One entry with its recipients; STORE_E_NOT_FOUND when there is none.
 * Free with store_queue_entries_free(entry_r, 1). */
enum store_result store_queue_get(struct store *store, int64_t id,
				  struct store_queue_entry **entry_r,
				  const char **error_r);
/* The entries of ids[0..n) read in one transaction (the runner reads a
 * scan's due messages at once: a read transaction after another
 * process's commit starts with an empty page cache, so one per entry
 * re-read the same pages each time). *entries_r is an array of n (free
 * it with free()), element i the entry of ids[i] or NULL when it no
 * longer exists; free each with store_queue_entries_free(&e, 1). */
enum store_result store_queue_get_many(struct store *store,
				       const int64_t *ids, size_t n,
				       struct store_queue_entry ***entries_r,
				       const char **error_r);
/* The ids of at most max "queued" entries due at now (next_attempt <=
 * now), earliest first (*ids_r freed by the caller, NULL when none), and
 * in *next_r the next_attempt of the earliest queued entry not returned
 * (0 when there is none). For the runner: it never holds the whole queue
 * in memory. */
enum store_result store_queue_due(struct store *store, int64_t now,
				  size_t max, int64_t **ids_r, size_t *count_r,
				  int64_t *next_r, const char **error_r);

/* The outcome of an attempt for one recipient, for store_queue_record. */
struct store_queue_result {
	int64_t rcpt_id;
	const char *status;	/* STORE_QUEUE_PENDING ... _BOUNCED */
	const char *last_error;	/* reply or reason; NULL keeps the old */
	const char *dsn_status;	/* NULL keeps the old */
	const char *relay;	/* NULL keeps the old */
	const char *tls;	/* NULL keeps the old */
	int64_t next_attempt;	/* deferred: when to try again */
	bool attempted;		/* counts as an attempt */
	enum store_queue_notify notify;	/* a DSN owed from now on */
};
/* Records outcomes of recipients of entry id in one durable write, then
 * sets the entry's next_attempt to the earliest of its pending and
 * deferred recipients' (attempts to their largest) and removes the entry
 * when none is left open and no DSN is owed (*finished_r true; may be
 * NULL). A recipient id that is not the entry's, or an entry that is
 * gone (deleted meanwhile), is STORE_E_NOT_FOUND. */
enum store_result store_queue_record(struct store *store, int64_t id,
				     const struct store_queue_result *results,
				     size_t count, bool *finished_r,
				     const char **error_r);
/* One entry's outcomes, for store_queue_record_async(). */
struct store_queue_record {
	int64_t id;
	const struct store_queue_result *results;
	size_t count;
	enum store_result result;	/* out: as store_queue_record()'s */
	bool finished;			/* out: the entry was removed */
};
/* Called on the store's writer thread once the operation is durable
 * (result STORE_OK: each record's own result is set) or has failed as a
 * whole (result says why; no record was written). error explains it,
 * valid during the call only. */
typedef void store_queue_recorded_cb_t(void *ctx, enum store_result result,
				       const char *error);
/* store_queue_record() for n entries in one group-committed operation
 * (one commit for all: the runner puts the outcomes of many transactions
 * away at once). An entry that cannot be recorded (gone meanwhile, or a
 * recipient not its own: STORE_E_NOT_FOUND) is found before anything of
 * it is written and refused alone; a database error after writing fails
 * the whole operation (cb's result). Does not
 * block: callable from an event-loop thread. recs and all they point to
 * must stay valid until cb. Returns STORE_OK (cb will be called once),
 * or an error and cb is never called. */
enum store_result store_queue_record_async(struct store *store,
					   struct store_queue_record *recs,
					   size_t n,
					   store_queue_recorded_cb_t *cb,
					   void *ctx, const char **error_r);
/* The DSNs owed for these recipients of entry id were injected (rcpt_ids
 * NULL: all of them); delay_warned also sets the entry's warned flag. Removes
 * the entry when it is then finished, as store_queue_record does. */
enum store_result store_queue_notified(struct store *store, int64_t id,
				       const int64_t *rcpt_ids, size_t count,
				       bool delay_warned, bool *finished_r,
				       const char **error_r);

/* What an administrator does with an entry (`herald queue`), id 0 for
 * every entry where that makes sense; each one wakes the runner. */
enum store_queue_admin {
	/* pending and deferred recipients due now (entry not held) */
	STORE_QUEUE_FLUSH,
	STORE_QUEUE_HOLD,	/* status held: the runner leaves it */
	STORE_QUEUE_RELEASE,	/* queued again and due now */
	/* every open recipient bounced with reason, a failure DSN owed
	 * (the runner makes it and removes the entry) */
	STORE_QUEUE_BOUNCE,
};
/* Applies op to entry id (0: every entry; not for BOUNCE); *changed_r
 * (may be NULL) is the number of entries changed. STORE_E_NOT_FOUND when
 * id names no entry. reason is for BOUNCE (NULL: a default text). */
enum store_result store_queue_admin(struct store *store, int64_t id,
				    enum store_queue_admin op,
				    const char *reason, size_t *changed_r,
				    const char **error_r);
/* The queue's change counter: it moves after every insert and every
 * store_queue_admin() change, in any process sharing the store (as
 * store_change_counter(); 0 when the backend cannot tell). A runner
 * watches it with store_watch_new(). */
uint64_t store_queue_counter(struct store *store);

/* Records the outcome of an attempt for one recipient row. */
enum store_result store_queue_rcpt_update(struct store *store, int64_t rcpt_id,
					  const char *status,
					  const char *last_error,
					  const char **error_r);
/* Sets the next attempt time, increments attempts and sets status
 * ("queued" or "held"). */
enum store_result store_queue_reschedule(struct store *store, int64_t id,
					 int64_t next_attempt,
					 const char *status,
					 const char **error_r);
/* Removes a queue entry and its recipients. */
enum store_result store_queue_delete(struct store *store, int64_t id,
				    const char **error_r);

/* ---- DMARC aggregate reports (docs/store.md "DMARC reports") ----
 *
 * Counts of received messages per policy domain and report row (the key
 * is mailauth's encoding of the row), written in batches by the
 * collectors of the SMTP workers, and the last policy seen per domain. A
 * report run takes the rows written so far (store_dmarc_take), reads them
 * per domain and deletes them once reported (store_dmarc_done); counts
 * written meanwhile stay for the next run. */

struct store_dmarc_count {
	const char *domain;	/* the policy domain */
	const char *key;
	bool passed;		/* the row's messages passed DMARC */
	uint64_t count;
	int64_t first_seen, last_seen;
};

struct store_dmarc_policy {
	const char *domain;
	const char *policy;	/* the published policy, as text */
	const char *rua;
	int64_t seen;
};

/* Adds the counts (to the untaken row of the same domain and key, or a
 * new one) and sets the policies, in one durable write. */
enum store_result store_dmarc_add(struct store *store,
				  const struct store_dmarc_count *counts,
				  size_t n, const struct store_dmarc_policy *pols,
				  size_t n_pols, const char **error_r);
/* Sets apart every row not yet taken (merged into the taken row of the
 * same key, left by an earlier run that did not finish), and forgets the
 * domains with no rows not seen since forget_before. */
enum store_result store_dmarc_take(struct store *store, int64_t forget_before,
				   const char **error_r);

struct store_dmarc_domain {
	char *domain, *policy, *rua;
	int64_t last_end;	/* the end of its last report, or 0 */
	int64_t first_seen, last_seen;	/* of its rows */
	uint64_t messages;	/* the counts summed */
	uint64_t passed;	/* of those that passed */
	size_t rows;
};

/* The domains with rows (taken ones only, or all), sorted by name; free
 * with store_dmarc_domains_free(). */
enum store_result store_dmarc_domains(struct store *store, bool taken_only,
				      struct store_dmarc_domain **domains_r,
				      size_t *count_r, const char **error_r);
void store_dmarc_domains_free(struct store_dmarc_domain **domains, size_t n);

struct store_dmarc_row {
	char *key;
	uint64_t count;
};

/* The rows of domain (taken ones only, or all, a key's taken and untaken
 * counts summed), largest count first, at most max (0: all); free with
 * store_dmarc_rows_free(). */
enum store_result store_dmarc_rows(struct store *store, const char *domain,
				   bool taken_only, size_t max,
				   struct store_dmarc_row **rows_r,
				   size_t *count_r, const char **error_r);
void store_dmarc_rows_free(struct store_dmarc_row **rows, size_t n);
/* Deletes the taken rows of domain; end (0: keep) becomes its last
 * report's end. */
enum store_result store_dmarc_done(struct store *store, const char *domain,
				   int64_t end, const char **error_r);

/* ---- full-text search index (docs/store.md "Search index") ----
 *
 * The searchable text of every message (mail/mime-text: decoded header
 * fields and body text, at most [store] search_text_max octets) is kept
 * per account and body in an SQLite FTS5 table with the trigram
 * tokenizer, which finds any substring of 3 or more characters, case
 * folded, in a database file of its own beside the store's (<db>-search)
 * that only the indexer writes. Delivering, appending, copying or expunging a message, or
 * removing its account, queues the change in the same transaction; an
 * indexer thread extracts the text outside the writer and applies the
 * queue in its own transactions. So the index may lag (a crash loses no
 * queued work) but never holds a message back: a search reads the text
 * of a message not yet indexed from its body. */

/* Starts this handle's indexer thread (a process that serves mail calls
 * it once after store_open; [store] search_index off: does nothing).
 * store_close() stops it. */
enum store_result store_search_indexer_start(struct store *store,
					     const char **error_r);
/* Wakes the indexer: changes are queued (called by the store itself after
 * deliveries and expunges; harmless at any time). */
void store_search_kick(struct store *store);
/* Applies queued index changes in the calling thread until the queue is
 * empty or max entries are done (0: no limit); *done_r (may be NULL)
 * counts them. For tests and `herald index`. */
enum store_result store_search_index_pending(struct store *store, size_t max,
					     size_t *done_r,
					     const char **error_r);
/* Empties the index and queues every message again (a rebuild after a
 * change of the extraction or the cap). */
enum store_result store_search_reindex(struct store *store,
				       const char **error_r);

/* Shortest needle, in characters, the index can look up; a shorter one
 * needs every message's text (store_search_text). */
#define STORE_SEARCH_NEEDLE_MIN 3

/* One search over one account's messages: a read snapshot on one
 * borrowed connection. One thread at a time; end it before waiting for a
 * client. */
struct store_search;
enum store_result store_search_begin(struct store *store, int64_t account_id,
				     struct store_search **search_r,
				     const char **error_r);
void store_search_end(struct store_search **search);
/* The index entry of the body blob_id for this account: *doc_r, or 0
 * when it is not (yet) indexed. */
enum store_result store_search_doc(struct store_search *search,
				   const char *blob_id, int64_t *doc_r,
				   const char **error_r);
/* The index entries of a mailbox's messages in one statement (a SEARCH
 * over many messages, instead of store_search_doc() for each): for each
 * message whose body is indexed, its UID in (*uids_r)[i] and its entry in
 * (*docs_r)[i], sorted by UID; both arrays freed with free(). */
enum store_result store_search_mailbox_docs(struct store_search *search,
					    int64_t mailbox_id,
					    uint32_t **uids_r,
					    int64_t **docs_r, size_t *count_r,
					    const char **error_r);
/* The entries of the account whose text (body_only: body text only;
 * else header or body) contains needle, case folded, as a sorted array
 * freed with free(). needle has at least STORE_SEARCH_NEEDLE_MIN
 * characters (else STORE_E_INVALID). Entries may be a superset of what
 * unifold_contains() finds in store_search_text() (body_only too may
 * give entries with the needle in the header fields only): confirm with
 * it. */
enum store_result store_search_match(struct store_search *search,
				     const char *needle, bool body_only,
				     int64_t **docs_r, size_t *count_r,
				     const char **error_r);
/* The searchable text of a message (mime_text_extract's hdr and, when
 * body is not NULL, body), appended to the buffers: from the index entry
 * doc, or, when doc is 0, extracted now from blob_id (a body that is not
 * stored gives no text, not an error). */
struct buf;
enum store_result store_search_text(struct store_search *search, int64_t doc,
				    const char *blob_id, struct buf *hdr,
				    struct buf *body, const char **error_r);

/* ---- metadata: annotations (RFC 5464; docs/store.md "Metadata") ----
 *
 * Entries are named like "/private/comment" or "/shared/vendor/x/y"
 * (checked and lower-cased by the caller: the store compares names octet
 * for octet) with binary values. Each belongs to a scope: a mailbox
 * (mailbox_id) or the server (STORE_METADATA_SERVER), and for names under
 * "/private" also to the account that set it (a "/shared" entry is the
 * same for every reader). A mailbox's entries go with it when it is
 * deleted and stay with it (its id) when it is renamed; an account's go
 * when it is removed. A "/private" entry counts against the account that
 * set it, a "/shared" mailbox entry against the mailbox's account, as
 * limited by struct store_metadata_limits. */
#define STORE_METADATA_SERVER 0
/* DEPTH infinity of GETMETADATA (RFC 5464 4.2.2). */
#define STORE_METADATA_DEPTH_INFINITY UINT32_MAX

struct store_metadata_limits {
	/* Entries of one mailbox, shared and private together; 0: none. */
	size_t mailbox_entries_max;
	/* Entries an account owns (all its mailboxes' and its private
	 * server entries); 0: no limit. */
	size_t account_entries_max;
	/* Octets of names and values an account owns in all; 0: no
	 * limit. */
	uint64_t account_bytes_max;
};

/* One change of store_metadata_set(): value NULL removes the entry
 * (RFC 5464 4.3 NIL). */
struct store_metadata_change {
	const char *name;
	const void *value;
	size_t len;
};

/* Applies every change in order, all or none, as account_id, to mailbox
 * mailbox_id or to the server; the caller has checked that account_id may
 * (its own mailbox, or another's shared with it: imap_metadata_acl()). A server entry under "/shared" belongs to nobody
 * (the caller decides who may set one). Results: STORE_E_NOT_FOUND when the mailbox does not exist (any
 * more); STORE_E_OVER_QUOTA (nothing changed) when the changes would
 * leave more than a limit allows and more than there was before them
 * (removing entries always works); STORE_E_INVALID for a name not under
 * "/private/" or "/shared/". limits may be NULL (none). */
enum store_result store_metadata_set(struct store *store, int64_t account_id,
				     int64_t mailbox_id,
				     const struct store_metadata_change *changes,
				     size_t n,
				     const struct store_metadata_limits *limits,
				     const char **error_r);

/* One entry read back: value NULL when it is longer than the reader's
 * maxsize (len is its length then). */
struct store_metadata_value {
	char *name;
	uint8_t *value;
	size_t len;
};

/* The entries account_id may see in scope mailbox_id for each of
 * names[0..n) (the entry itself, and with depth 1 its children, with
 * STORE_METADATA_DEPTH_INFINITY every descendant; "/private" and
 * "/shared" alone name the roots), each once, sorted by name. A value
 * over maxsize octets comes back as NULL with its length (maxsize
 * UINT64_MAX: every value). Only entries that exist are listed. *v_r
 * freed with store_metadata_values_free(). */
enum store_result store_metadata_get(struct store *store, int64_t account_id,
				     int64_t mailbox_id,
				     const char *const *names, size_t n,
				     uint32_t depth, uint64_t maxsize,
				     struct store_metadata_value **v_r,
				     size_t *count_r, const char **error_r);
void store_metadata_values_free(struct store_metadata_value **v, size_t n);

/* One entry set or removed, for NOTIFY (RFC 5465 5.9, 5.10). */
struct store_metadata_changed {
	int64_t mailbox_id;	/* STORE_METADATA_SERVER: the server */
	char *name;
};

/* The entries changed after change number since that account_id may hear
 * of: the "/shared" entries of its mailboxes and of the mailboxes with an
 * ACL entry for it or for anyone (whatever the rights: the caller checks
 * them, RFC 5464 3.3), its own "/private" entries of any mailbox (the
 * caller checks that it may still see the mailbox), its private server
 * entries and the shared server ones, each (mailbox_id, name) once,
 * sorted by mailbox_id then name. *last_r is the newest change's number
 * (since when there is none), the since of the next call. v_r NULL: only
 * *last_r, where a new watcher starts. A store_metadata_set() wakes the
 * watchers through STORE_WATCH_ACCOUNT counters: the setter's for a
 * private entry, for a shared one the mailbox's account's and each
 * grantee's of the mailbox (0: anyone; 0 too for a shared server entry).
 * Changes are kept as long as
 * the change log (store_changes_prune()). *v_r freed with
 * store_metadata_changed_free(). */
enum store_result store_metadata_changes(struct store *store,
					 int64_t account_id, int64_t since,
					 struct store_metadata_changed **v_r,
					 size_t *count_r, int64_t *last_r,
					 const char **error_r);
void store_metadata_changed_free(struct store_metadata_changed **v,
				 size_t n);

/* ---- testing ---- */

/* Test-only fault hook: while on, every read that borrows a reader
 * connection (directory lookups, lists, database blob reads) fails with
 * STORE_E_TEMP, as when the database cannot be read; writes are not
 * affected. Unit tests use it to check that a store failure is answered
 * as temporary. Never called outside tests/. */
void store_test_fail_reads(struct store *store, bool on);
/* Test-only: the writer's periodic collection rounds take at most n ids
 * (0: the default, 500), so a test can make a backlog of many rounds. */
void store_test_gc_round(struct store *store, size_t n);

#endif
