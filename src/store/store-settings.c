/* SPDX-License-Identifier: MIT */
/*
 * The [store] settings table: the backend, its database, the writer's
 * thread pool and group commit, blob collection (docs/store.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "store/store.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OFF(field) offsetof(struct config, field)

/* config_set() stores an enum setting through an unsigned *. */
_Static_assert(sizeof(enum config_store_backend) == sizeof(unsigned),
	       "enum size");

static const struct setting store_settings[] = {
	{ .key = "backend", .type = SETTING_ENUM, .offset = OFF(store.backend),
	  .def = "sqlite", .enum_values = "sqlite|mariadb",
	  .doc = "Where domains, users, mailboxes and the queue live." },
	{ .key = "sqlite_path", .type = SETTING_STRING,
	  .offset = OFF(store.sqlite_path),
	  .doc = "SQLite database file. Absent: `data_dir/herald.db`." },
	{ .key = "mariadb_host", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_host), .def = "127.0.0.1",
	  .doc = "MariaDB server host." },
	{ .key = "mariadb_port", .type = SETTING_UINT,
	  .offset = OFF(store.mariadb_port), .def = "3306", .min = 1,
	  .max = 65535, .doc = "MariaDB server port." },
	{ .key = "mariadb_socket", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_socket),
	  .doc = "MariaDB unix socket; used instead of host and port." },
	{ .key = "mariadb_user", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_user), .def = "herald",
	  .doc = "MariaDB user." },
	{ .key = "mariadb_password", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_password), .secret = true,
	  .doc = "MariaDB password." },
	{ .key = "mariadb_database", .type = SETTING_STRING,
	  .offset = OFF(store.mariadb_database), .def = "herald",
	  .doc = "MariaDB database name." },
	{ .key = "threads", .type = SETTING_UINT, .offset = OFF(store.threads),
	  .def = "16", .min = 1, .max = 256,
	  .doc = "Threads per worker that run blocking store work and "
		 "password hashing. Writes waiting in these threads are "
		 "committed together, so more threads mean bigger group "
		 "commits under load." },
	{ .key = "group_commit_max", .type = SETTING_UINT,
	  .offset = OFF(store.group_commit_max), .def = "256", .min = 1,
	  .max = 10000,
	  .doc = "Most writes committed together in one transaction." },
	{ .key = "group_commit_wait", .type = SETTING_DURATION,
	  .offset = OFF(store.group_commit_wait_us), .def = "0ms", .min = 0,
	  .max = 100000, .unit = DURATION_US,
	  .doc = "How long the writer waits for more writes before it "
		 "commits a batch. 0: commit whatever is waiting at once "
		 "(writes that arrive during a commit join the next one)." },
	{ .key = "group_commit_linger", .type = SETTING_DURATION,
	  .offset = OFF(store.group_commit_linger_us), .def = "0ms",
	  .min = 0, .max = 100000, .unit = DURATION_US,
	  .doc = "How long the writer holds a batch open, at most, while "
		 "other sessions of the worker are still receiving a message "
		 "they will store (SMTP DATA or BDAT), so that one commit "
		 "and one fsync cover them too. It never waits when no "
		 "other message is on its way, and stops waiting once the "
		 "last one is handed over. 0 (the default): never wait; "
		 "it saves CPU per message but costs busy servers "
		 "throughput (docs/store.md \"Group commit\")." },
	{ .key = "busy_timeout", .type = SETTING_DURATION,
	  .offset = OFF(store.busy_timeout_ms), .def = "10s", .min = 0,
	  .max = 600000, .unit = DURATION_MS,
	  .doc = "How long a store call waits for a lock held by another "
		 "process before it fails with a temporary error." },
	{ .key = "blob_gc_interval", .type = SETTING_DURATION,
	  .offset = OFF(store.blob_gc_interval_ms), .def = "1m", .min = 0,
	  .max = 86400000, .unit = DURATION_MS,
	  .doc = "How often the store writer of each worker removes message "
		 "bodies no message or queue entry uses any more (expunged, "
		 "POP3-deleted, removed with their account), at most 500 per "
		 "transaction. 0: never (docs/store.md \"Deleting blobs\")." },
	{ .key = "change_log_retention", .type = SETTING_DURATION,
	  .offset = OFF(store.change_log_retention_s), .def = "30d",
	  .min = 0, .max = 3650 * 86400, .unit = DURATION_S,
	  .doc = "How long the change log keeps a record (an expunged UID "
		 "for IMAP QRESYNC and CONDSTORE, a created or changed "
		 "message or mailbox). Older records are deleted in the "
		 "blob collector's rounds (blob_gc_interval), at most 1000 "
		 "per transaction. A client that resynchronises from "
		 "before it still gets a correct answer, only a longer "
		 "one: every UID it may know that is gone (docs/imap.md "
		 "\"Retention\"). 0: keep every record." },
	{ .key = "search_index", .type = SETTING_BOOL,
	  .offset = OFF(store.search_index), .def = "yes",
	  .doc = "Keep the full-text index IMAP SEARCH BODY and TEXT use up "
		 "to date in each worker. Off: searches read every "
		 "message's text (docs/store.md \"Search index\")." },
	{ .key = "search_text_max", .type = SETTING_SIZE,
	  .offset = OFF(store.search_text_max), .def = "1M", .min = 1024,
	  .max = 64 * 1024 * 1024,
	  .doc = "Searchable text kept per message (decoded header fields "
		 "and body text, UTF-8). Text past it is not found by "
		 "SEARCH. A change applies to messages indexed after it; "
		 "`herald index rebuild` reindexes the others." },
	{ .key = "search_round_bytes", .type = SETTING_SIZE,
	  .offset = OFF(store.search_round_bytes), .def = "2M",
	  .min = 1024, .max = 256 * 1024 * 1024,
	  .doc = "Text the search indexer of a worker extracts and holds in "
		 "one round (at most 64 messages, at least one): its memory "
		 "is about this plus one message's extraction "
		 "(docs/store.md \"Search index\")." },
	{ .key = "thread_references_max", .type = SETTING_UINT,
	  .offset = OFF(store.thread_references_max), .def = "20", .min = 1,
	  .max = 1000,
	  .doc = "Message ids a delivered or APPENDed message is threaded "
		 "by besides its own Message-ID: In-Reply-To's first, then "
		 "the last References. Each is one indexed lookup and at "
		 "most one insert in the delivery's write. Applies to "
		 "messages stored after a change (docs/store.md "
		 "\"Threads\")." },
	{ .key = "thread_msgid_max", .type = SETTING_UINT,
	  .offset = OFF(store.thread_msgid_max), .def = "250", .min = 1,
	  .max = 998,
	  .doc = "Longest msg-id (octets, without brackets) used for "
		 "threading; a longer one is ignored. Applies to messages "
		 "stored after a change." },
	{ .key = "thread_subject_max", .type = SETTING_UINT,
	  .offset = OFF(store.thread_subject_max), .def = "256", .min = 1,
	  .max = 65536,
	  .doc = "Octets of the base subject that threading compares (a "
		 "reply joins a thread only with the same base subject). "
		 "Applies to messages stored after a change: a reply to an "
		 "older message with a longer subject may then start a "
		 "thread of its own." },
	{ .key = "thread_header_max", .type = SETTING_SIZE,
	  .offset = OFF(store.thread_header_max), .def = "64k", .min = 1024,
	  .max = 16 * 1024 * 1024,
	  .doc = "Octets at the start of a message read (into memory, per "
		 "delivery or APPEND) for the fields it is threaded by; "
		 "fields past it are not seen. Applies to messages stored "
		 "after a change." },
};

const struct setting_section store_settings_section = {
	.name = "store",
	.settings = store_settings,
	.n_settings = N(store_settings),
	.doc = "The store: directory, mailboxes, queue.",
};
