/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend: opening connections (WAL, synchronous=FULL, foreign
 * keys, busy timeout), numbered migrations, the reader pool, the writer's
 * transaction steps for group commit, and the ops table.
 */
#include "store/store-sqlite-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/store-wlock.h"

static struct sqlite_backend *
backend(struct store *store)
{
	return store->backend;
}

sqlite3 *
sqlite_wdb(struct store *store)
{
	return backend(store)->wdb;
}

enum store_result
sqlite_fail(sqlite3 *db, const char *what, const char **error_r)
{
	int code = sqlite3_extended_errcode(db);

	/* Every failure here is treated as transient (busy, I/O, full disk,
	 * corrupt page): the caller answers 4xx and the sender retries,
	 * which is the safe side for mail. */
	return store_error(error_r, STORE_E_TEMP, "%s: %s (%d)", what,
			   sqlite3_errmsg(db), code);
}

static int
bind_args(sqlite3_stmt *stmt, const char *types, va_list ap)
{
	int rc = SQLITE_OK;

	for (int i = 0; types != NULL && types[i] != '\0' && rc == SQLITE_OK;
	     i++) {
		if (types[i] == 't') {
			const char *s = va_arg(ap, const char *);
			rc = s == NULL ? sqlite3_bind_null(stmt, i + 1) :
				sqlite3_bind_text(stmt, i + 1, s, -1,
						  SQLITE_TRANSIENT);
		} else if (types[i] == 'i') {
			rc = sqlite3_bind_int64(stmt, i + 1,
						va_arg(ap, int64_t));
		} else if (types[i] == 'X') {
			const void *p = va_arg(ap, const void *);
			size_t len = va_arg(ap, size_t);
			/* Static: callers keep the bytes until the step. */
			rc = sqlite3_bind_blob64(stmt, i + 1, p,
						 (sqlite3_uint64)len,
						 SQLITE_STATIC);
		} else {
			panic("store: bad bind type %c", types[i]);
		}
	}
	return rc;
}

static int
prep_va(sqlite3 *db, sqlite3_stmt **stmt_r, const char *sql,
	const char *types, va_list ap)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, stmt_r, NULL);

	if (rc != SQLITE_OK) {
		*stmt_r = NULL;
		return rc;
	}
	rc = bind_args(*stmt_r, types, ap);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*stmt_r);
		*stmt_r = NULL;
	}
	return rc;
}

int
sqlite_prep(sqlite3 *db, sqlite3_stmt **stmt_r, const char *sql,
	    const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = prep_va(db, stmt_r, sql, types, ap);
	va_end(ap);
	return rc;
}

enum store_result
sqlite_query_strv(struct store *store, char ***v_r, size_t *count_r,
		  const char **error_r, const char *what, const char *sql,
		  const char *types, ...)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	char **v = NULL;
	size_t n = 0, cap = 0;
	enum store_result r;
	va_list ap;
	int rc;

	*v_r = NULL;
	*count_r = 0;
	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	va_start(ap, types);
	rc = prep_va(db, &stmt, sql, types, ap);
	va_end(ap);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, what, error_r);
		sqlite_reader_put(store, db);
		return r;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = sqlite_col_strdup(stmt, 0);
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_fail(db, what, error_r);
		store_strv_free(&v, n);
		n = 0;
	}
	sqlite3_finalize(stmt);
	sqlite_reader_put(store, db);
	*v_r = v;
	*count_r = n;
	return r;
}

/* The backend whose writer runs on this thread (set by batch_begin), so
 * the helpers below know when db is a writer connection. */
static _Thread_local struct sqlite_backend *tls_writer;
/* The reader connection this thread borrowed last (sqlite_reader_get). */
static _Thread_local struct sqlite_reader *tls_reader;

static void
stmt_cache_init(struct sqlite_stmt_cache *c, sqlite3_stmt **stmt,
		const char **key, size_t max)
{
	c->stmt = stmt;
	c->key = key;
	c->n = 0;
	c->max = max;
}

static void
stmt_cache_clear(struct sqlite_stmt_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		sqlite3_finalize(c->stmt[i]);
	c->n = 0;
}

/* The cache of db if it is this thread's writer or borrowed reader. */
static struct sqlite_stmt_cache *
stmt_cache_of(sqlite3 *db)
{
	if (tls_writer != NULL && tls_writer->wdb == db)
		return &tls_writer->wcache;
	if (tls_reader != NULL && tls_reader->db == db)
		return &tls_reader->cache;
	return NULL;
}

/* A reset statement for sql with the arguments bound: from db's cache
 * when it has one (*cached_r true: reset, do not finalize), else freshly
 * prepared. */
static int
prep_cached(sqlite3 *db, sqlite3_stmt **stmt_r, bool *cached_r,
	    const char *sql, const char *types, va_list ap)
{
	struct sqlite_stmt_cache *c = stmt_cache_of(db);
	sqlite3_stmt *stmt = NULL;
	size_t hit;
	int rc;

	*cached_r = false;
	if (c == NULL)
		return prep_va(db, stmt_r, sql, types, ap);
	hit = c->n;
	for (size_t i = 0; i < c->n; i++) {
		/* The text is compared too: a built string may have been
		 * freed and its address reused for another. */
		if (c->key[i] == sql &&
		    strcmp(sqlite3_sql(c->stmt[i]), sql) == 0) {
			hit = i;
			break;
		}
	}
	for (size_t i = 0; hit == c->n && i < c->n; i++) {
		/* By text too: callers may pass built strings. */
		if (strcmp(sqlite3_sql(c->stmt[i]), sql) == 0)
			hit = i;
	}
	if (hit < c->n) {
		/* Most recently used first: the one evicted by the next
		 * miss is never one just handed out, so a caller may hold
		 * two cached statements at once (a row loop and the
		 * lookup it runs per row). */
		stmt = c->stmt[hit];
		memmove(c->stmt + 1, c->stmt, hit * sizeof(c->stmt[0]));
		memmove(c->key + 1, c->key, hit * sizeof(c->key[0]));
		c->stmt[0] = stmt;
		c->key[0] = sql;
	} else {
		rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT,
					&stmt, NULL);
		if (rc != SQLITE_OK)
			return rc;
		if (c->n == c->max)
			sqlite3_finalize(c->stmt[--c->n]);
		memmove(c->stmt + 1, c->stmt, c->n * sizeof(c->stmt[0]));
		memmove(c->key + 1, c->key, c->n * sizeof(c->key[0]));
		c->stmt[0] = stmt;
		c->key[0] = sql;
		c->n++;
	}
	/* sqlite_stmt_done() cleared the bindings */
	rc = bind_args(stmt, types, ap);
	if (rc != SQLITE_OK) {
		sqlite3_reset(stmt);
		return rc;
	}
	*cached_r = true;
	*stmt_r = stmt;
	return SQLITE_OK;
}

int
sqlite_prep_cached(sqlite3 *db, sqlite3_stmt **stmt_r, bool *cached_r,
		   const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = prep_cached(db, stmt_r, cached_r, sql, types, ap);
	va_end(ap);
	return rc;
}

void
sqlite_stmt_done(sqlite3_stmt *stmt, bool cached)
{
	if (cached) {
		sqlite3_reset(stmt);
		/* Drop pointers to the caller's blob bytes now. */
		sqlite3_clear_bindings(stmt);
	} else {
		sqlite3_finalize(stmt);
	}
}

int
sqlite_exec(sqlite3 *db, const char *sql, const char *types, ...)
{
	sqlite3_stmt *stmt;
	va_list ap;
	bool cached;
	int rc;

	va_start(ap, types);
	rc = prep_cached(db, &stmt, &cached, sql, types, ap);
	va_end(ap);
	if (rc != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	sqlite_stmt_done(stmt, cached);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
sqlite_int(sqlite3 *db, int64_t *val_r, const char *sql, const char *types,
	   ...)
{
	sqlite3_stmt *stmt;
	va_list ap;
	bool cached;
	int rc;

	va_start(ap, types);
	rc = prep_cached(db, &stmt, &cached, sql, types, ap);
	va_end(ap);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*val_r = sqlite3_column_int64(stmt, 0);
	sqlite_stmt_done(stmt, cached);
	return rc;
}

char *
sqlite_col_strdup(sqlite3_stmt *stmt, int col)
{
	const unsigned char *s = sqlite3_column_text(stmt, col);

	return s == NULL ? NULL : xstrdup((const char *)s);
}

/* ---- connections ---- */

/* Opens path, which must exist unless create: a database that vanished
 * is not silently replaced by an empty one. */
static enum store_result
conn_open_path(struct store *store, const char *path, bool create,
	       sqlite3 **db_r, const char **error_r)
{
	const struct config *cfg = store->cfg;
	sqlite3 *db = NULL;
	int rc;

	*db_r = NULL;
	/* FULLMUTEX is not needed: a connection is used by one thread at a
	 * time (the writer, or a reader borrowed from the pool). */
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			     (create ? SQLITE_OPEN_CREATE : 0) |
			     SQLITE_OPEN_NOMUTEX, sqlite_vfs_name());
	if (rc != SQLITE_OK) {
		enum store_result r = store_error(error_r, STORE_E_TEMP,
			"cannot open %s: %s", path,
			db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return r;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, cfg->store.busy_timeout_ms > 0 ?
			     (int)(cfg->store.busy_timeout_ms > 600000 ?
				   600000 : cfg->store.busy_timeout_ms) :
			     5000);
	/* WAL lets readers run beside the writer and other processes;
	 * synchronous=FULL syncs the WAL at every commit so a commit is
	 * durable (DESIGN.md 5). */
	rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
			  "PRAGMA synchronous=FULL;"
			  /* Savepoints' statement journals in memory, not
			   * in a temporary file created per batch. */
			  "PRAGMA temp_store=MEMORY;"
			  "PRAGMA foreign_keys=ON;", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		enum store_result r = sqlite_fail(db, "setting pragmas",
						  error_r);
		sqlite3_close(db);
		return r;
	}
	*db_r = db;
	return STORE_OK;
}

static enum store_result
conn_open(struct store *store, sqlite3 **db_r, const char **error_r)
{
	return conn_open_path(store, backend(store)->path, false, db_r,
			      error_r);
}

enum store_result
sqlite_reader_get(struct store *store, sqlite3 **db_r, const char **error_r)
{
	struct sqlite_backend *be = backend(store);
	struct sqlite_reader *rd = NULL;
	enum store_result r;
	sqlite3 *db;

	if (atomic_load(&store->test_fail_reads))
		return store_error(error_r, STORE_E_TEMP,
				   "database unreadable (test fault)");
	pthread_mutex_lock(&be->pool_lock);
	if (be->n_idle > 0)
		rd = be->idle[--be->n_idle];
	pthread_mutex_unlock(&be->pool_lock);
	if (rd == NULL) {
		r = conn_open(store, &db, error_r);
		if (r != STORE_OK)
			return r;
		rd = xcalloc(1, sizeof(*rd));
		rd->db = db;
		stmt_cache_init(&rd->cache, rd->stmt, rd->key,
				SQLITE_READER_STMT_CACHE);
		pthread_mutex_lock(&be->pool_lock);
		if (be->n_readers == be->cap_readers) {
			be->cap_readers = be->cap_readers == 0 ? 8 :
				be->cap_readers * 2;
			be->readers = xreallocarray(be->readers,
						    be->cap_readers,
						    sizeof(*be->readers));
			/* the idle list never holds more than all readers */
			be->idle = xreallocarray(be->idle, be->cap_readers,
						 sizeof(*be->idle));
		}
		be->readers[be->n_readers++] = rd;
		pthread_mutex_unlock(&be->pool_lock);
	}
	/* a second borrow on one thread goes without a statement cache */
	if (tls_reader == NULL)
		tls_reader = rd;
	*db_r = rd->db;
	return STORE_OK;
}

void
sqlite_reader_put(struct store *store, sqlite3 *db)
{
	struct sqlite_backend *be = backend(store);
	struct sqlite_reader *rd = NULL;

	/* A statement left open would pin an old snapshot of the WAL. */
	if (!sqlite3_get_autocommit(db))
		sqlite_exec(db, "ROLLBACK", NULL);	/* cached */
	if (tls_reader != NULL && tls_reader->db == db) {
		rd = tls_reader;
		tls_reader = NULL;
	}
	pthread_mutex_lock(&be->pool_lock);
	for (size_t i = 0; rd == NULL && i < be->n_readers; i++) {
		if (be->readers[i]->db == db)
			rd = be->readers[i];
	}
	if (rd == NULL)
		panic("store: returning a connection that is not a reader");
	be->idle[be->n_idle++] = rd;
	pthread_mutex_unlock(&be->pool_lock);
}

/* ---- migrations ---- */

static enum store_result
migrate(struct store *store, const char **error_r)
{
	sqlite3 *db = backend(store)->wdb;
	int64_t version = 0;
	enum store_result r = STORE_OK;

	for (size_t n = 1; n <= sqlite_migrations_count; n++) {
		char *sql;

		/* BEGIN IMMEDIATE takes the write lock, so of several
		 * processes starting at once exactly one applies each
		 * migration; the others see the new user_version. */
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			return sqlite_fail(db, "migration begin", error_r);
		if (sqlite_int(db, &version, "PRAGMA user_version", NULL) !=
		    SQLITE_ROW) {
			r = sqlite_fail(db, "reading user_version", error_r);
			goto rollback;
		}
		if (version >= (int64_t)n) {
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			continue;
		}
		if (sqlite3_exec(db, sqlite_migrations[n - 1], NULL, NULL,
				 NULL) != SQLITE_OK) {
			r = sqlite_fail(db, "migration", error_r);
			goto rollback;
		}
		sql = xasprintf("PRAGMA user_version=%zu", n);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			free(sql);
			r = sqlite_fail(db, "setting user_version", error_r);
			goto rollback;
		}
		free(sql);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			r = sqlite_fail(db, "migration commit", error_r);
			goto rollback;
		}
		log_info(NULL, "store", "migrated", "version=%zu", n);
	}
	if (sqlite_int(db, &version, "PRAGMA user_version", NULL) !=
	    SQLITE_ROW)
		return sqlite_fail(db, "reading user_version", error_r);
	if (version > (int64_t)sqlite_migrations_count)
		return store_error(error_r, STORE_E_INVALID,
				   "%s: database schema version %lld is newer "
				   "than this program's (%zu); run the newer "
				   "Herald", backend(store)->path,
				   (long long)version,
				   sqlite_migrations_count);
	store->schema_version = (int)version;
	return STORE_OK;

rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* ---- change notification ---- */

/* herald_changed(account_id, mailbox_id), called by the triggers below
 * on the writer connection, inside the op that changed the mailbox. */
static void
fn_changed(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct store *store = sqlite3_user_data(ctx);

	(void)argc;
	store_changed(store, STORE_WATCH_ACCOUNT,
		      sqlite3_value_int64(argv[0]));
	store_changed(store, STORE_WATCH_MAILBOX,
		      sqlite3_value_int64(argv[1]));
	sqlite3_result_null(ctx);
}

/* Every write that changes a mailbox's messages moves its UIDNEXT or
 * HIGHESTMODSEQ (RFC 7162: each change gets a new modseq), so a trigger
 * on the mailboxes row sees every write path, present and future,
 * without each remembering to notify. TEMP triggers live in this
 * connection only: the database file holds nothing that names a
 * function another program (the sqlite3 shell) would lack. */
static enum store_result
notify_open(struct store *store, const char **error_r)
{
	struct sqlite_backend *be = backend(store);
	char *real = realpath(be->path, NULL);
	char *path = xasprintf("%s-notify", real != NULL ? real : be->path);
	char err[256];

	free(real);
	store->notify = store_notify_open(path, err, sizeof(err));
	free(path);
	if (store->notify == NULL)
		return store_error(error_r, STORE_E_TEMP, "%s", err);
	if (sqlite3_create_function(be->wdb, "herald_changed", 2, SQLITE_UTF8,
				    store, fn_changed, NULL, NULL) !=
	    SQLITE_OK ||
	    sqlite3_exec(be->wdb,
			 "CREATE TEMP TRIGGER herald_mailbox_insert"
			 " AFTER INSERT ON main.mailboxes BEGIN"
			 " SELECT herald_changed(NEW.account_id, NEW.id); END;"
			 "CREATE TEMP TRIGGER herald_mailbox_update"
			 " AFTER UPDATE ON main.mailboxes BEGIN"
			 " SELECT herald_changed(NEW.account_id, NEW.id); END;"
			 "CREATE TEMP TRIGGER herald_mailbox_delete"
			 " AFTER DELETE ON main.mailboxes BEGIN"
			 " SELECT herald_changed(OLD.account_id, OLD.id); END;"
			 /* a subscription to a name without mailbox moves
			  * the account's counter only (NOTIFY's
			  * SubscriptionChange, RFC 5465 5.5) */
			 "CREATE TEMP TRIGGER herald_subscription_insert"
			 " AFTER INSERT ON main.subscriptions BEGIN"
			 " SELECT herald_changed(NEW.account_id, 0); END;"
			 "CREATE TEMP TRIGGER herald_subscription_delete"
			 " AFTER DELETE ON main.subscriptions BEGIN"
			 " SELECT herald_changed(OLD.account_id, 0); END;"
			 /* a shared mailbox's change, and a change of the
			  * rights on it, move each grantee's counter too
			  * ("anyone": account 0), so a grantee's NOTIFY
			  * hears of the owner's changes (RFC 5465 5.9) */
			 "CREATE TEMP TRIGGER herald_mailbox_update_acl"
			 " AFTER UPDATE ON main.mailboxes BEGIN"
			 " SELECT herald_changed(grantee_id, NEW.id)"
			 " FROM main.mailbox_acl WHERE mailbox_id = NEW.id;"
			 " END;"
			 "CREATE TEMP TRIGGER herald_mailbox_delete_acl"
			 " BEFORE DELETE ON main.mailboxes BEGIN"
			 " SELECT herald_changed(grantee_id, OLD.id)"
			 " FROM main.mailbox_acl WHERE mailbox_id = OLD.id;"
			 " END;"
			 "CREATE TEMP TRIGGER herald_acl_insert"
			 " AFTER INSERT ON main.mailbox_acl BEGIN"
			 " SELECT herald_changed(NEW.grantee_id,"
			 " NEW.mailbox_id); END;"
			 "CREATE TEMP TRIGGER herald_acl_update"
			 " AFTER UPDATE ON main.mailbox_acl BEGIN"
			 " SELECT herald_changed(NEW.grantee_id,"
			 " NEW.mailbox_id); END;"
			 "CREATE TEMP TRIGGER herald_acl_delete"
			 " AFTER DELETE ON main.mailbox_acl BEGIN"
			 " SELECT herald_changed(OLD.grantee_id,"
			 " OLD.mailbox_id); END;",
			 NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_fail(be->wdb, "change triggers", error_r);
	return STORE_OK;
}

/* ---- lifecycle ---- */

static void
sqlite_close(struct store *store)
{
	struct sqlite_backend *be = backend(store);

	if (be == NULL)
		return;
	stmt_cache_clear(&be->wcache);
	/* (sqlite3_close refuses a connection with statements left) */
	for (size_t i = 0; i < be->n_idle; i++) {
		stmt_cache_clear(&be->idle[i]->cache);
		sqlite3_close(be->idle[i]->db);
		free(be->idle[i]);
	}
	free(be->readers);
	free(be->idle);
	if (be->wdb != NULL)
		sqlite3_close(be->wdb);
	sqlite_search_close(be);
	store_wlock_close(&be->wlock);
	pthread_mutex_destroy(&be->ix_lock);
	pthread_mutex_destroy(&be->pool_lock);
	free(be->path);
	free(be);
	store->backend = NULL;
}

/* ---- opening: whose database is it? (docs/store.md "Opening") ---- */

/* A refusal that a restart cannot cure: it names the file and says what
 * to do, and `herald serve` stops on it instead of retrying. */
#define NOT_HERALDS "; move it away (a brand-new data_dir starts a new " \
	"store) or restore Herald's database from a backup"

/* What is at path before SQLite touches it. *exists_r is false when
 * there is nothing (a new store); an empty file, a directory or a file
 * that is not SQLite is refused. */
static enum store_result
db_file_check(const char *path, bool *exists_r, const char **error_r)
{
	static const char magic[16] = "SQLite format 3";
	char head[sizeof(magic)];
	struct stat st;
	ssize_t n;
	int fd, err;

	*exists_r = false;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return STORE_OK;
		return store_error(error_r, store_open_result(errno),
				   "cannot stat %s: %s", path,
				   strerror(errno));
	}
	*exists_r = true;
	if (!S_ISREG(st.st_mode))
		return store_error(error_r, STORE_E_INVALID, "%s is not a "
				   "regular file" NOT_HERALDS, path);
	if (st.st_size == 0)
		return store_error(error_r, STORE_E_INVALID, "%s is empty (0 "
				   "bytes), not a Herald database" NOT_HERALDS,
				   path);
	/* Someone else's file (copied in as root): every write would fail
	 * until it is fixed. */
	if (access(path, R_OK | W_OK) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return store_error(error_r, store_open_result(errno),
				   "cannot open %s as uid %u: %s", path,
				   (unsigned)geteuid(), strerror(errno));
	n = pread(fd, head, sizeof(head), 0);
	err = errno;
	close(fd);
	if (n < 0)
		return store_error(error_r, STORE_E_TEMP, "cannot read %s: %s",
				   path, strerror(err));
	if ((size_t)n < sizeof(head) || memcmp(head, magic, sizeof(head)) != 0)
		return store_error(error_r, STORE_E_INVALID, "%s is not an "
				   "SQLite database, so not Herald's"
				   NOT_HERALDS, path);
	return STORE_OK;
}

/* An existing SQLite file: Herald's if it carries Herald's application_id,
 * or (made before migration 5 set it) no id, a schema version Herald
 * had then and Herald's tables. Read on a plain connection, before the
 * writer's pragmas could change another program's file (WAL mode). */
static enum store_result
db_owner_check(struct store *store, const char **error_r)
{
	const char *path = backend(store)->path;
	sqlite3 *db = NULL;
	int64_t app_id = 0, version = 0, tables = 0;
	enum store_result r = STORE_OK;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_NOMUTEX, sqlite_vfs_name());
	if (rc != SQLITE_OK) {
		r = store_error(error_r, STORE_E_TEMP, "cannot open %s: %s",
				path, db != NULL ? sqlite3_errmsg(db) :
				sqlite3_errstr(rc));
		sqlite3_close(db);
		return r;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite_int(db, &app_id, "PRAGMA application_id", NULL) !=
	    SQLITE_ROW ||
	    sqlite_int(db, &version, "PRAGMA user_version", NULL) !=
	    SQLITE_ROW ||
	    sqlite_int(db, &tables, "SELECT count(*) FROM sqlite_master "
		       "WHERE type = 'table' AND name IN ('meta', 'domains', "
		       "'accounts', 'mailboxes', 'messages')", NULL) !=
	    SQLITE_ROW) {
		rc = sqlite3_errcode(db);
		if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
			r = store_error(error_r, STORE_E_INVALID, "%s is not "
					"a readable SQLite database (%s)"
					NOT_HERALDS, path,
					sqlite3_errmsg(db));
		else
			r = store_error(error_r, STORE_E_TEMP, "cannot read "
					"%s: %s", path, sqlite3_errmsg(db));
	} else if (app_id != 0 && app_id != SQLITE_HERALD_APP_ID) {
		r = store_error(error_r, STORE_E_INVALID, "%s belongs to "
				"another program (SQLite application_id "
				"0x%08llx, Herald's is 0x%08x)" NOT_HERALDS,
				path, (unsigned long long)(uint32_t)app_id,
				SQLITE_HERALD_APP_ID);
	} else if (app_id == 0 &&
		   (version < 1 || version > SQLITE_LEGACY_SCHEMA_MAX ||
		    tables != 5)) {
		r = store_error(error_r, STORE_E_INVALID, "%s is an SQLite "
				"database without Herald's schema "
				"(application_id 0, user_version %lld)"
				NOT_HERALDS, path, (long long)version);
	}
	sqlite3_close(db);
	return r;
}

static int
fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* A new store: the schema is built in a file of its own, which is then
 * linked into place whole. So there is never a herald.db that is empty
 * or half made (a crash during the first start, or a second process
 * starting at the same time, would otherwise find one and, now, refuse
 * it). Losing the race to another process is fine: its file is used. */
static enum store_result
db_create(struct store *store, const char **error_r)
{
	struct sqlite_backend *be = backend(store);
	char *tmp = xasprintf("%s.new-%ld", be->path, (long)getpid());
	char *wal = xasprintf("%s-wal", tmp), *shm = xasprintf("%s-shm", tmp);
	char *dir = xstrdup(be->path), *slash = strrchr(dir, '/');
	enum store_result r;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	if (access(slash != NULL ? dir : ".", W_OK) < 0) {
		/* a missing directory is a wrong store.sqlite_path */
		r = store_error(error_r, errno == ENOENT || errno == ENOTDIR ?
				STORE_E_INVALID : store_open_result(errno),
				"cannot create %s as uid %u: %s", be->path,
				(unsigned)geteuid(), strerror(errno));
		goto out;
	}
	/* left by a process of the same pid that died here */
	unlink(tmp);
	unlink(wal);
	unlink(shm);
	r = conn_open_path(store, tmp, true, &be->wdb, error_r);
	if (r == STORE_OK)
		r = migrate(store, error_r);
	if (be->wdb != NULL) {
		/* The last connection's close checkpoints the WAL into
		 * the file and removes it. */
		stmt_cache_clear(&be->wcache);
		if (sqlite3_close(be->wdb) != SQLITE_OK && r == STORE_OK)
			r = store_error(error_r, STORE_E_TEMP, "cannot close "
					"%s", tmp);
		be->wdb = NULL;
	}
	if (r == STORE_OK && access(wal, F_OK) == 0)
		r = store_error(error_r, STORE_E_TEMP, "the new database %s "
				"kept its WAL", tmp);
	if (r == STORE_OK && fsync_path(tmp, O_RDWR) < 0)
		r = store_error(error_r, STORE_E_TEMP, "cannot sync %s: %s",
				tmp, strerror(errno));
	if (r == STORE_OK && link(tmp, be->path) < 0 && errno != EEXIST)
		r = store_error(error_r, STORE_E_TEMP, "cannot create %s: %s",
				be->path, strerror(errno));
	if (r == STORE_OK &&
	    fsync_path(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY) < 0)
		r = store_error(error_r, STORE_E_TEMP, "cannot sync %s: %s",
				dir, strerror(errno));
	if (r == STORE_OK)
		log_info(NULL, "store", "created", "path=%s", be->path);
	unlink(tmp);
	unlink(wal);
	unlink(shm);
out:
	free(dir);
	free(shm);
	free(wal);
	free(tmp);
	return r;
}

static enum store_result
sqlite_open(struct store *store, const char **error_r)
{
	const struct config *cfg = store->cfg;
	struct sqlite_backend *be;
	enum store_result r;
	bool exists = false;

	if (!sqlite3_threadsafe())
		return store_error(error_r, STORE_E_INVALID,
				   "SQLite was built without thread support");
	be = xcalloc(1, sizeof(*be));
	stmt_cache_init(&be->wcache, be->wstmt, be->wkey, SQLITE_STMT_CACHE);
	pthread_mutex_init(&be->pool_lock, NULL);
	pthread_mutex_init(&be->ix_lock, NULL);
	be->path = cfg->store.sqlite_path != NULL ?
		xstrdup(cfg->store.sqlite_path) :
		xasprintf("%s/herald.db", cfg->data_dir);
	store->backend = be;
	be->wlock_timeout_ms = cfg->store.busy_timeout_ms > 0 ?
		cfg->store.busy_timeout_ms : 5000;
	r = db_file_check(be->path, &exists, error_r);
	if (r == STORE_OK)
		r = exists ? db_owner_check(store, error_r) :
			db_create(store, error_r);
	if (r == STORE_OK)
		r = conn_open(store, &be->wdb, error_r);
	if (r == STORE_OK) {
		/* Named after the database's real path (it exists now), so
		 * processes that spell the path differently (a symlink, a
		 * relative path) still share one lock and one directory
		 * generation. */
		char *real = realpath(be->path, NULL);
		char *lock_path = xasprintf("%s-wlock",
					    real != NULL ? real : be->path);
		char err[256];

		free(real);
		be->wlock = store_wlock_open(lock_path, err, sizeof(err));
		free(lock_path);
		if (be->wlock == NULL)
			r = store_error(error_r, STORE_E_TEMP, "%s", err);
	}
	if (r == STORE_OK)
		r = migrate(store, error_r);
	if (r == STORE_OK)
		r = sqlite_search_open(store, error_r);
	if (r == STORE_OK)
		r = notify_open(store, error_r);
	/* Checkpoint every 4,000 WAL pages (16 MiB) rather than SQLite's
	 * 1,000: the automatic checkpoint runs inside the commit on the one
	 * writer thread and stalls every delivery behind it; fewer, larger
	 * checkpoints copy each hot index page once instead of four times.
	 * Measured (bench/smtp, workers=1): 3,540-3,650 -> 4,480-4,590
	 * msg/s. A checkpoint thread of its own was tried and gained nothing
	 * over this: under steady load its passive checkpoints never catch
	 * the writer, so the writer had to finish them anyway. */
	if (r == STORE_OK &&
	    sqlite3_exec(be->wdb, "PRAGMA wal_autocheckpoint=4000", NULL, NULL,
			 NULL) != SQLITE_OK)
		r = sqlite_fail(be->wdb, "setting wal_autocheckpoint", error_r);
	if (r != STORE_OK)
		sqlite_close(store);
	return r;
}

/* ---- group commit steps (writer thread) ---- */

static enum store_result
step(struct store *store, const char *sql, const char **error_r)
{
	sqlite3 *db = backend(store)->wdb;

	if (sqlite_exec(db, sql, NULL) != SQLITE_OK)
		return sqlite_fail(db, sql, error_r);
	return STORE_OK;
}

static void
wlock_drop(struct sqlite_backend *be)
{
	if (be->wlock_held) {
		be->wlock_held = false;
		store_wlock_release(be->wlock);
	}
}

static enum store_result
sqlite_batch_begin(struct store *store, const char **error_r)
{
	struct sqlite_backend *be = backend(store);
	enum store_result r;
	int rc;

	/* Only the writer thread gets here. */
	tls_writer = be;
	/* A lazy batch commits without the WAL sync (synchronous=NORMAL:
	 * the setting cannot change inside a transaction); the sync comes
	 * after, in sqlite_batch_durable. */
	if (store->batch_lazy != be->sync_lazy) {
		r = step(store, store->batch_lazy ? "PRAGMA synchronous=NORMAL"
			 : "PRAGMA synchronous=FULL", error_r);
		if (r != STORE_OK)
			return r;
		be->sync_lazy = store->batch_lazy;
	}
	rc = store_wlock_acquire(be->wlock, be->wlock_timeout_ms);
	if (rc != 0)
		return store_error(error_r, STORE_E_TEMP,
				   "waiting for the writer lock: %s",
				   strerror(rc));
	be->wlock_held = true;
	r = step(store, "BEGIN IMMEDIATE", error_r);
	if (r != STORE_OK)
		wlock_drop(be);
	return r;
}

static enum store_result
sqlite_op_begin(struct store *store, const char **error_r)
{
	return step(store, "SAVEPOINT op", error_r);
}

static enum store_result
sqlite_op_end(struct store *store, bool keep, const char **error_r)
{
	if (!keep) {
		enum store_result r = step(store, "ROLLBACK TO op", error_r);
		if (r != STORE_OK)
			return r;
	}
	return step(store, "RELEASE op", error_r);
}

static enum store_result
sqlite_batch_commit(struct store *store, const char **error_r)
{
	struct sqlite_backend *be = backend(store);
	uint64_t syncs = sqlite_vfs_wal_syncs();
	enum store_result r = step(store, "COMMIT", error_r);

	/* A failed COMMIT is followed by batch_rollback, which drops it. */
	if (r == STORE_OK) {
		/* A commit that synced the WAL (a full one, or a lazy one
		 * whose automatic checkpoint did) covers every commit
		 * numbered before it too: their frames were written before
		 * ours, under the same lock. */
		be->commit_synced = sqlite_vfs_wal_syncs() != syncs;
		be->commit_seq = store_wlock_commit(be->wlock,
						    be->commit_synced);
		wlock_drop(be);
	}
	return r;
}

/* A lazy commit waits for another writer's sync only while one is on its
 * way (a writer holds the lock or waits for it, and writers have synced
 * lately), and for at most LAZY_WAIT_US; else it syncs at once, outside
 * the lock. Waiting whenever another writer had synced lately (it commits
 * every millisecond or two under load) saved more syncs but made the
 * queue runner's connections, which wait for their outcome, fall behind
 * the SMTP worker in bench/outbound. */
#define LAZY_WAIT_US 2500
#define LAZY_PEER_RECENT_US 5000

static enum store_result
sqlite_batch_durable(struct store *store, const char **error_r)
{
	struct sqlite_backend *be = backend(store);
	uint64_t upto;
	int rc;

	if (be->commit_synced)
		return STORE_OK;
	if (store_wlock_others_writing(be->wlock) &&
	    store_wlock_sync_age_us(be->wlock) < LAZY_PEER_RECENT_US &&
	    store_wlock_wait_synced(be->wlock, be->commit_seq, LAZY_WAIT_US))
		return STORE_OK;
	/* Every commit numbered up to now has its frames in the file: a
	 * sync from here covers them all. */
	upto = store_wlock_committed(be->wlock);
	rc = sqlite_vfs_sync_wal(be->wdb);
	if (rc != SQLITE_OK)
		return store_error(error_r, STORE_E_TEMP, "syncing the WAL: "
				   "%s (%d)", sqlite3_errstr(rc), rc);
	store_wlock_synced(be->wlock, upto);
	pthread_mutex_lock(&store->lock);
	store->stats.lazy_syncs++;
	pthread_mutex_unlock(&store->lock);
	return STORE_OK;
}

static uint64_t
sqlite_op_mark(struct store *store)
{
	return (uint64_t)sqlite3_total_changes64(backend(store)->wdb);
}

static bool
sqlite_op_untouched(struct store *store, uint64_t mark)
{
	sqlite3 *db = backend(store)->wdb;

	/* an I/O error or a full disk may have rolled the transaction
	 * back behind our back: then nothing may carry on in it */
	return !sqlite3_get_autocommit(db) &&
	       (uint64_t)sqlite3_total_changes64(db) == mark;
}

static void
sqlite_batch_rollback(struct store *store)
{
	sqlite3 *db = backend(store)->wdb;

	if (!sqlite3_get_autocommit(db))
		sqlite_exec(db, "ROLLBACK", NULL);	/* cached */
	wlock_drop(backend(store));
}

static bool
sqlite_dir_generation(struct store *store, uint64_t *gen_r)
{
	*gen_r = store_wlock_generation(backend(store)->wlock);
	return true;
}

static void
sqlite_dir_changed(struct store *store)
{
	store_wlock_bump(backend(store)->wlock);
}

static enum store_result
sqlite_check_integrity(struct store *store, const char **error_r)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	enum store_result r;
	int rc;

	r = sqlite_reader_get(store, &db, error_r);
	if (r != STORE_OK)
		return r;
	rc = sqlite_prep(db, &stmt, "PRAGMA integrity_check", NULL);
	if (rc != SQLITE_OK) {
		r = sqlite_fail(db, "integrity_check", error_r);
	} else {
		rc = sqlite3_step(stmt);
		if (rc != SQLITE_ROW)
			r = sqlite_fail(db, "integrity_check", error_r);
		else if (strcmp((const char *)sqlite3_column_text(stmt, 0),
				"ok") != 0)
			r = store_error(error_r, STORE_E_TEMP,
					"integrity_check: %s",
					sqlite3_column_text(stmt, 0));
		sqlite3_finalize(stmt);
	}
	sqlite_reader_put(store, db);
	return r;
}

const struct store_backend_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.batch_begin = sqlite_batch_begin,
	.op_begin = sqlite_op_begin,
	.op_end = sqlite_op_end,
	.batch_commit = sqlite_batch_commit,
	.batch_durable = sqlite_batch_durable,
	.batch_rollback = sqlite_batch_rollback,
	.op_mark = sqlite_op_mark,
	.op_untouched = sqlite_op_untouched,
	.dir_generation = sqlite_dir_generation,
	.dir_changed = sqlite_dir_changed,
	.check_integrity = sqlite_check_integrity,
	.blob_insert = sqlite_blob_insert,
	.blob_gc = sqlite_blob_gc,
	.changes_prune = sqlite_changes_prune,
	.blob_forget = sqlite_blob_forget,
	.blob_read = sqlite_blob_read,
	.blob_batch_begin = sqlite_blob_batch_begin,
	.blob_batch_get = sqlite_blob_batch_get,
	.blob_batch_refresh = sqlite_blob_batch_refresh,
	.blob_batch_end = sqlite_blob_batch_end,
	.blob_batch_mime_get = sqlite_blob_batch_mime_get,
	.mime_get = sqlite_mime_get,
	.mime_put = sqlite_mime_put,
	.search_queue_read = sqlite_search_queue_read,
	.search_queue_mark = sqlite_search_queue_mark,
	.search_apply = sqlite_search_apply,
	.search_dequeue = sqlite_search_dequeue,
	.search_clear = sqlite_search_clear,
	.search_requeue = sqlite_search_requeue,
	.search_damaged = sqlite_search_damaged,
	.search_repair = sqlite_search_repair,
	.search_begin = sqlite_search_begin,
	.search_end = sqlite_search_end,
	.search_doc = sqlite_search_doc,
	.search_mailbox_docs = sqlite_search_mailbox_docs,
	.search_match = sqlite_search_match,
	.search_text = sqlite_search_text,
	.domain_add = sqlite_domain_add,
	.domain_del = sqlite_domain_del,
	.domain_list = sqlite_domain_list,
	.domain_exists = sqlite_domain_exists,
	.user_add = sqlite_user_add,
	.user_del = sqlite_user_del,
	.user_set_password = sqlite_user_set_password,
	.user_set_quota = sqlite_user_set_quota,
	.user_set_message_quota = sqlite_user_set_message_quota,
	.user_lookup = sqlite_user_lookup,
	.user_list = sqlite_user_list,
	.alias_add = sqlite_alias_add,
	.alias_del = sqlite_alias_del,
	.alias_list = sqlite_alias_list,
	.alias_resolve = sqlite_alias_resolve,
	.mailbox_list = sqlite_mailbox_list,
	.mailbox_lookup = sqlite_mailbox_lookup,
	.mailbox_status = sqlite_mailbox_status,
	.mailbox_find = sqlite_mailbox_find,
	.mailbox_create = sqlite_mailbox_create_op,
	.mailbox_delete = sqlite_mailbox_delete,
	.mailbox_rename = sqlite_mailbox_rename,
	.mailbox_subscribe = sqlite_mailbox_subscribe,
	.subscription_list = sqlite_subscription_list,
	.acl_get = sqlite_acl_get,
	.acl_set = sqlite_acl_set,
	.acl_rights = sqlite_acl_rights,
	.acl_shared_list = sqlite_acl_shared_list,
	.acl_share_list = sqlite_acl_share_list,
	.deliver = sqlite_deliver,
	.deliver_async = sqlite_deliver_async,
	.message_list = sqlite_message_list,
	.message_ids = sqlite_message_ids,
	.flags_store = sqlite_flags_store,
	.expunge = sqlite_expunge,
	.mailbox_delta = sqlite_mailbox_delta,
	.copy = sqlite_copy,
	.queue_insert = sqlite_queue_insert,
	.queue_list = sqlite_queue_list,
	.queue_rcpt_update = sqlite_queue_rcpt_update,
	.queue_reschedule = sqlite_queue_reschedule,
	.queue_delete = sqlite_queue_delete,
	.queue_get = sqlite_queue_get,
	.queue_get_many = sqlite_queue_get_many,
	.queue_due = sqlite_queue_due,
	.queue_record = sqlite_queue_record,
	.queue_record_async = sqlite_queue_record_async,
	.queue_notified = sqlite_queue_notified,
	.queue_admin = sqlite_queue_admin,
	.dmarc_add = sqlite_dmarc_add,
	.dmarc_take = sqlite_dmarc_take,
	.dmarc_domains = sqlite_dmarc_domains,
	.dmarc_rows = sqlite_dmarc_rows,
	.dmarc_done = sqlite_dmarc_done,
	.metadata_set = sqlite_metadata_set,
	.metadata_get = sqlite_metadata_get,
	.metadata_changes = sqlite_metadata_changes,
};
