/* SPDX-License-Identifier: MIT */
/*
 * Numbered schema migrations, applied in order at open, each in its own
 * transaction; PRAGMA user_version holds the number of the last one. Never
 * edit a migration that has shipped: add the next one. docs/store.md
 * describes the tables.
 */
#include "store/store-sqlite-private.h"

static const char migration_1[] =
	/* Small counters shared by every process (uidvalidity). */
	"CREATE TABLE meta ("
	" key TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL);"
	"INSERT INTO meta (key, value) VALUES ('uidvalidity', 0);"

	"CREATE TABLE domains ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	" created INTEGER NOT NULL);"

	/* localpart is stored as given, unique case-insensitively (ASCII). */
	"CREATE TABLE accounts ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,"
	" localpart TEXT NOT NULL COLLATE NOCASE,"
	" password_hash TEXT NOT NULL,"
	" scram_sha256 TEXT,"
	" quota_bytes INTEGER NOT NULL DEFAULT 0,"
	" used_bytes INTEGER NOT NULL DEFAULT 0,"
	" used_messages INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" UNIQUE (domain_id, localpart));"

	/* localpart '' is the domain's catch-all; one row per target. */
	"CREATE TABLE aliases ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,"
	" localpart TEXT NOT NULL COLLATE NOCASE,"
	" target TEXT NOT NULL COLLATE NOCASE,"
	" created INTEGER NOT NULL,"
	" UNIQUE (domain_id, localpart, target));"

	"CREATE TABLE mailboxes ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" role TEXT,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL DEFAULT 1,"
	" highestmodseq INTEGER NOT NULL DEFAULT 1,"
	" subscribed INTEGER NOT NULL DEFAULT 0,"
	" jmap_id TEXT NOT NULL UNIQUE,"
	" created INTEGER NOT NULL,"
	" UNIQUE (account_id, name));"
	"CREATE UNIQUE INDEX mailboxes_role ON mailboxes (account_id, role)"
	" WHERE role IS NOT NULL;"

	/* Subscriptions to names that have no mailbox (RFC 9051 6.3.9);
	 * existing mailboxes use mailboxes.subscribed. */
	"CREATE TABLE subscriptions ("
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" PRIMARY KEY (account_id, name)) WITHOUT ROWID;"

	"CREATE TABLE threads ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" jmap_id TEXT NOT NULL UNIQUE,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX threads_account ON threads (account_id);"

	/* flags: bit 0 \\Seen, 1 \\Answered, 2 \\Flagged, 3 \\Deleted,
	 * 4 \\Draft. email_id is shared by the copies one delivery puts in
	 * several mailboxes of one account (JMAP mailboxIds). */
	"CREATE TABLE messages ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" internal_date INTEGER NOT NULL,"
	" saved_date INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" blob_id TEXT NOT NULL,"
	" thread_id INTEGER REFERENCES threads(id) ON DELETE SET NULL,"
	" email_id TEXT NOT NULL,"
	" UNIQUE (mailbox_id, uid));"
	"CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);"
	"CREATE INDEX messages_email ON messages (account_id, email_id);"
	"CREATE INDEX messages_blob ON messages (blob_id);"
	"CREATE INDEX messages_thread ON messages (thread_id);"

	"CREATE TABLE keywords ("
	" message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
	" keyword TEXT NOT NULL,"
	" PRIMARY KEY (message_id, keyword)) WITHOUT ROWID;"

	/* Change log for CONDSTORE/QRESYNC (VANISHED needs expunged UIDs
	 * with their modseq) and JMAP /changes (state = last change id). */
	"CREATE TABLE changes ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,"
	" modseq INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"		/* 'email' or 'mailbox' */
	" object_id INTEGER NOT NULL,"	/* messages.id or mailboxes.id */
	" uid INTEGER,"
	" change TEXT NOT NULL,"	/* 'created' 'updated' 'destroyed' */
	" at INTEGER NOT NULL);"
	"CREATE INDEX changes_mailbox ON changes (mailbox_id, modseq);"
	"CREATE INDEX changes_account ON changes (account_id, id);"

	/* Outbound queue: one row per message, one per recipient. */
	"CREATE TABLE queue ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" blob_id TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" env_from TEXT NOT NULL,"
	" dsn_ret TEXT,"
	" dsn_envid TEXT,"
	" created INTEGER NOT NULL,"
	" next_attempt INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" status TEXT NOT NULL DEFAULT 'queued');"
	"CREATE INDEX queue_due ON queue (next_attempt);"
	"CREATE INDEX queue_blob ON queue (blob_id);"
	"CREATE TABLE queue_rcpts ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,"
	" address TEXT NOT NULL,"
	" dsn_notify TEXT,"
	" dsn_orcpt TEXT,"
	" status TEXT NOT NULL DEFAULT 'pending',"
	" last_error TEXT,"
	" last_attempt INTEGER);"
	"CREATE INDEX queue_rcpts_queue ON queue_rcpts (queue_id);";

/* Message bodies up to STORE_BLOB_INLINE_MAX bytes: one WAL fsync makes
 * body and index durable together (docs/ARCHITECTURE.md). */
static const char migration_2[] =
	"CREATE TABLE blobs ("
	" id TEXT PRIMARY KEY,"
	" size INTEGER NOT NULL,"
	" data BLOB NOT NULL,"
	" created INTEGER NOT NULL);";

/* Blob garbage collection (docs/store.md "Deleting blobs"): every delete
 * of a row that names a blob (an expunged message, a message of a removed
 * account or domain, a finished queue entry) leaves the blob's id here,
 * in the same transaction; the collector checks and removes them later.
 * Inline blobs orphaned before this migration are queued at once. */
static const char migration_3[] =
	"CREATE TABLE blob_gc ("
	" id TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TRIGGER messages_blob_gc AFTER DELETE ON messages BEGIN"
	" INSERT OR IGNORE INTO blob_gc (id) VALUES (old.blob_id); END;"
	"CREATE TRIGGER queue_blob_gc AFTER DELETE ON queue BEGIN"
	" INSERT OR IGNORE INTO blob_gc (id) VALUES (old.blob_id); END;"
	"INSERT OR IGNORE INTO blob_gc (id) SELECT id FROM blobs b"
	" WHERE NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = b.id)"
	" AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = b.id);";

/* Messages name an inline body by its row id too (blob_rid), so the
 * index the blob collector needs grows at its right edge like the others
 * instead of taking a random leaf (the SHA-256 name) per delivery: the
 * body table gets an explicit INTEGER PRIMARY KEY (VACUUM may renumber an
 * implicit rowid), keeping every row's id; bodies kept as files have no
 * row, so their messages are indexed by name, and they alone. */
static const char migration_4[] =
	"CREATE TABLE blobs_new ("
	" rid INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"
	" size INTEGER NOT NULL,"
	" data BLOB NOT NULL,"
	" created INTEGER NOT NULL);"
	"INSERT INTO blobs_new (rid, id, size, data, created)"
	" SELECT rowid, id, size, data, created FROM blobs;"
	"DROP TABLE blobs;"
	"ALTER TABLE blobs_new RENAME TO blobs;"
	"ALTER TABLE messages ADD COLUMN blob_rid INTEGER;"
	"UPDATE messages SET blob_rid ="
	" (SELECT rid FROM blobs WHERE blobs.id = messages.blob_id);"
	"DROP INDEX messages_blob;"
	"CREATE INDEX messages_blob_rid ON messages (blob_rid)"
	" WHERE blob_rid IS NOT NULL;"
	"CREATE INDEX messages_blob_file ON messages (blob_id)"
	" WHERE blob_rid IS NULL;";

/* The database says it is Herald's: an empty file or another program's
 * SQLite database at data_dir/herald.db is refused at open instead of
 * being taken for a new, empty store (issue 10). Databases made before
 * this migration are recognised by their tables (store-sqlite.c). */
static const char migration_5[] =
	"PRAGMA application_id = " SQLITE_XSTR(SQLITE_HERALD_APP_ID) ";";

/* Keywords (RFC 9051 2.3.2) as each mailbox knows them, in the order
 * they were first set there (id), each in its first spelling: a keyword
 * is compared case-insensitively, so "$label1" set where "$Label1" is
 * known is stored as "$Label1" in keywords. IMAP's FLAGS response lists
 * a mailbox's rows; [imap] keywords_max bounds their number. */
static const char migration_6[] =
	"CREATE TABLE mailbox_keywords ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id)"
	" ON DELETE CASCADE,"
	" keyword TEXT NOT NULL COLLATE NOCASE,"
	" UNIQUE (mailbox_id, keyword));"
	"INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword)"
	" SELECT m.mailbox_id, k.keyword FROM keywords k"
	" JOIN messages m ON m.id = k.message_id ORDER BY k.message_id;";

/* The MIME structure of each message body (mail/mime-cache.h), computed
 * when the body is stored so that IMAP FETCH never parses a message
 * again (docs/store.md "MIME structure cache"). Keyed by the blob's id:
 * copies share a body, so they share its structure. Bodies stored
 * before this migration get theirs at their first FETCH. */
static const char migration_7[] =
	"CREATE TABLE IF NOT EXISTS mime_cache ("
	" blob_id TEXT PRIMARY KEY,"
	" data BLOB NOT NULL);";

/* The full-text search index (docs/store.md "Search index", migration 8): one entry
 * per account and body, id (account_id << 32) + n so that one account's
 * entries form one rowid range of the FTS5 table (a search reads only
 * that range of each trigram's doclist). search_docs holds the text
 * (header fields, body text) and is the external content of search_text.
 * search_queue is the work list the indexer applies: op 0 index the body
 * for the account, op 1 drop its entry if no message of the account
 * names the body any more; the triggers fill it in the transaction that
 * adds or removes the message, so nothing is missed across a crash.
 * Messages stored before this migration are queued at once (IF NOT
 * EXISTS: the tests replay migrations on a database rewound to an older
 * user_version). */
static const char migration_8[] =
	"CREATE TABLE IF NOT EXISTS search_docs ("
	" id INTEGER PRIMARY KEY,"
	" account_id INTEGER NOT NULL,"
	" blob_id TEXT NOT NULL,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" hdr TEXT NOT NULL,"
	" body TEXT NOT NULL,"
	" UNIQUE (account_id, blob_id));"
	"CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(hdr, body,"
	" content='search_docs', content_rowid='id', tokenize='trigram');"
	"CREATE TABLE IF NOT EXISTS search_queue ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account_id INTEGER NOT NULL,"
	" blob_id TEXT NOT NULL,"
	" op INTEGER NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS messages_search_add AFTER INSERT ON messages BEGIN"
	" INSERT INTO search_queue (account_id, blob_id, op)"
	" VALUES (new.account_id, new.blob_id, 0); END;"
	"CREATE TRIGGER IF NOT EXISTS messages_search_del AFTER DELETE ON messages BEGIN"
	" INSERT INTO search_queue (account_id, blob_id, op)"
	" VALUES (old.account_id, old.blob_id, 1); END;"
	"INSERT INTO search_queue (account_id, blob_id, op)"
	" SELECT DISTINCT account_id, blob_id, 0 FROM messages;";

/* The search index moves to a file of its own beside herald.db (written
 * by the indexer on its own connection, so a delivery's commit never
 * waits behind index writes: docs/store.md "Search index"). Its tables
 * leave herald.db; search_queue and its triggers stay. The new file
 * starts empty at the first open after this, which queues every message
 * again. */
static const char migration_9[] =
	"DROP TABLE IF EXISTS search_text;"
	"DROP TABLE IF EXISTS search_docs;";

/* The queue runner (docs/outbound.md "Durable states"): each recipient
 * has its own schedule and the outcome of its last attempt, so a restart
 * resumes where the last one stopped and never resends to a recipient the
 * remote acknowledged. notify is the DSN still owed for a recipient
 * (1 failure, 2 success, 3 delay), cleared once the DSN is injected; a
 * queue row goes only when no recipient is pending, deferred or owed a
 * DSN. msg_id is the log id the message was accepted under, so that the
 * runner's log lines carry it. "failed" was the earlier name of
 * "bounced". */
static const char migration_10[] =
	"ALTER TABLE queue ADD COLUMN msg_id TEXT;"
	"ALTER TABLE queue ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE queue_rcpts ADD COLUMN next_attempt INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE queue_rcpts ADD COLUMN attempts INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE queue_rcpts ADD COLUMN dsn_status TEXT;"
	"ALTER TABLE queue_rcpts ADD COLUMN relay TEXT;"
	"ALTER TABLE queue_rcpts ADD COLUMN tls TEXT;"
	"ALTER TABLE queue_rcpts ADD COLUMN notify INTEGER NOT NULL"
	" DEFAULT 0;"
	"UPDATE queue_rcpts SET status = 'bounced' WHERE status = 'failed';"
	"UPDATE queue_rcpts SET next_attempt = (SELECT q.next_attempt"
	" FROM queue q WHERE q.id = queue_rcpts.queue_id);"
	"CREATE INDEX IF NOT EXISTS queue_status_due ON queue (status,"
	" next_attempt);";

/* What the next hop must offer for a queued message (8BITMIME,
 * SMTPUTF8), decided while it was received. Rows queued before this were
 * never scanned and count as needing neither. */
static const char migration_11[] =
	"ALTER TABLE queue ADD COLUMN need_8bitmime INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE queue ADD COLUMN need_smtputf8 INTEGER NOT NULL"
	" DEFAULT 0;";

/* DMARC aggregate reports (docs/store.md "DMARC reports"): the counts of
 * the messages received per policy domain and report row (key: the row's
 * fields as mailauth/dmarc-report.c encodes them), and the last policy
 * seen per domain. taken is 1 for the rows a report run has set apart:
 * counts flushed meanwhile go to new rows (taken 0), so none is lost when
 * the run deletes what it reported. */
static const char migration_12[] =
	"CREATE TABLE IF NOT EXISTS dmarc_rows ("
	" id INTEGER PRIMARY KEY,"
	" domain TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" passed INTEGER NOT NULL,"
	" count INTEGER NOT NULL,"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" taken INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX IF NOT EXISTS dmarc_rows_key ON dmarc_rows"
	" (domain, key, taken);"
	"CREATE TABLE IF NOT EXISTS dmarc_domains ("
	" domain TEXT PRIMARY KEY,"
	" policy TEXT NOT NULL,"
	" rua TEXT NOT NULL,"
	" seen INTEGER NOT NULL,"
	" last_end INTEGER NOT NULL DEFAULT 0);";

/* Access control lists (RFC 4314, docs/store.md "Access control"): one
 * row per mailbox and grantee, grantee_id an account id or 0 for
 * "anyone", rights the letters of RFC 4314 2.1 in "lrswipkxtea" order.
 * The owner has no row (it always has every right). Rows go with their
 * mailbox (foreign key) and with a grantee account (trigger: 0 is no
 * account, so no foreign key). */
static const char migration_13[] =
	"CREATE TABLE IF NOT EXISTS mailbox_acl ("
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id)"
	" ON DELETE CASCADE,"
	" grantee_id INTEGER NOT NULL,"
	" rights TEXT NOT NULL,"
	" PRIMARY KEY (mailbox_id, grantee_id)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS mailbox_acl_grantee ON mailbox_acl"
	" (grantee_id);"
	"CREATE TRIGGER IF NOT EXISTS mailbox_acl_account_del AFTER DELETE"
	" ON accounts BEGIN DELETE FROM mailbox_acl"
	" WHERE grantee_id = old.id; END;";

/* Pruning the change log (docs/store.md "Change log"): per mailbox, the
 * highest modseq of its expunge records ('email' 'destroyed') that were
 * pruned. A client asking what vanished since an older modseq gets the
 * fallback of RFC 7162 3.2.5.2 instead of the log. No row: nothing
 * pruned. A table of its own (not a column of mailboxes): IF NOT EXISTS
 * lets the tests replay it. */
static const char migration_14[] =
	"CREATE TABLE IF NOT EXISTS expunge_horizons ("
	" mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id)"
	" ON DELETE CASCADE,"
	" modseq INTEGER NOT NULL);";

/* Metadata entries (RFC 5464 annotations, docs/store.md "Metadata"):
 * mailbox_id 0 is the server; user_id is the account of a "/private"
 * entry and 0 for a "/shared" one; owner_id is the account the entry
 * counts against (the setter of a private entry, the mailbox's account
 * for a shared one, 0 for a shared server entry). No foreign keys, as 0
 * is no row:
 * triggers remove a mailbox's entries with it and an account's with it
 * (the account's mailboxes go by cascade, which fires the first). */
static const char migration_15[] =
	"CREATE TABLE IF NOT EXISTS metadata ("
	" mailbox_id INTEGER NOT NULL,"
	" user_id INTEGER NOT NULL,"
	" owner_id INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" value BLOB NOT NULL,"
	" PRIMARY KEY (mailbox_id, user_id, name)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS metadata_owner ON metadata (owner_id);"
	"CREATE TRIGGER IF NOT EXISTS mailboxes_metadata AFTER DELETE ON"
	" mailboxes BEGIN"
	" DELETE FROM metadata WHERE mailbox_id = old.id; END;"
	"CREATE TRIGGER IF NOT EXISTS accounts_metadata AFTER DELETE ON"
	" accounts BEGIN"
	" DELETE FROM metadata WHERE owner_id = old.id OR"
	" (mailbox_id = 0 AND user_id = old.id); END;";

/* Metadata changes for NOTIFY's MailboxMetadataChange and
 * ServerMetadataChange (docs/store.md "Metadata"): one row per entry a
 * SETMETADATA set or removed, in write order. account_id is the mailbox's
 * account (its grantees hear of its shared entries too, by mailbox_acl
 * when read), for the server the setter of a private entry or 0 for a
 * shared one (everyone); user_id the one account a "/private" entry is
 * told to (0: "/shared"). Rows go with the change log's age
 * (sqlite_changes_prune). */
static const char migration_16[] =
	"CREATE TABLE IF NOT EXISTS metadata_changes ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account_id INTEGER NOT NULL,"
	" user_id INTEGER NOT NULL,"
	" mailbox_id INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" at INTEGER NOT NULL);";

/* The per-account message-count limit beside quota_bytes (IMAP QUOTA's
 * MESSAGE resource, `herald user quota --messages`): 0 is unlimited, so
 * every account that existed before keeps no limit. Checked with the byte
 * quota, against used_messages, wherever a message is added. */
static const char migration_17[] =
	"ALTER TABLE accounts ADD COLUMN"
	" quota_messages INTEGER NOT NULL DEFAULT 0;";

/* Threads (docs/store.md "Threads"): every msg-id a message of the
 * account has (its Message-ID) or names (In-Reply-To, the last
 * References) maps to the first thread it was seen in, with that
 * thread's base subject, so a reply finds its parent's thread (and a
 * parent its early reply's) in one indexed lookup per id. Both are
 * 64-bit hashes (store-sqlite-mail.c thread_hash): small integer keys.
 * Rows go with the account (cascade); expunge leaves them, so a late
 * reply still finds the thread of an expunged parent. */
static const char migration_18[] =
	"CREATE TABLE IF NOT EXISTS thread_msgids ("
	" account_id INTEGER NOT NULL REFERENCES accounts(id)"
	" ON DELETE CASCADE,"
	" msgid_hash INTEGER NOT NULL,"
	" subject_hash INTEGER NOT NULL,"
	" thread_id INTEGER NOT NULL,"
	" PRIMARY KEY (account_id, msgid_hash)) WITHOUT ROWID;";

/* Linked threads (docs/store.md "Threads"): a message that names
 * messages of two threads of its account cannot move either's messages
 * (RFC 8474 5.2: a THREADID once reported never changes; RFC 8621: an
 * Email's threadId is immutable), so the newer thread is continued in the
 * older one: later messages that find it join the older. continued_in
 * always names a thread that is not continued itself (one hop); the
 * partial index finds the threads to re-point when that one is continued
 * in turn, and costs nothing for the others. */
static const char migration_19[] =
	"ALTER TABLE threads ADD COLUMN continued_in INTEGER;"
	"CREATE INDEX threads_continued ON threads (continued_in)"
	" WHERE continued_in IS NOT NULL;";

/* The queue's index on next_attempt alone: every due query and the
 * next retry's look-up use queue_status_due (status, next_attempt) since
 * migration 10, so it was only kept up to date, an index entry and a
 * dirty page more in each commit that queues a message and in each that
 * reschedules or removes one (bench/outbound). */
static const char migration_20[] =
	"DROP INDEX IF EXISTS queue_due;";

const char *const sqlite_migrations[] = {
	migration_1,
	migration_2,
	migration_3,
	migration_4,
	migration_5,
	migration_6,
	migration_7,
	migration_8,
	migration_9,
	migration_10,
	migration_11,
	migration_12,
	migration_13,
	migration_14,
	migration_15,
	migration_16,
	migration_17,
	migration_18,
	migration_19,
	migration_20,
};
const size_t sqlite_migrations_count =
	sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
