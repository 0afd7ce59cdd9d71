/* SPDX-License-Identifier: MIT */
/*
 * Content-addressed message blobs, named by SHA-256. Up to
 * STORE_BLOB_INLINE_MAX bytes they go into the database, inserted by an
 * asynchronous op of the group commit (durable with the commit of the
 * write that references them: one WAL fsync per batch); larger ones are
 * files <data_dir>/blobs/<2 hex>/<sha256 hex>, written through a temp file
 * in blobs/tmp: write, fsync, link into place (never replacing), fsync the
 * directory. See docs/store.md "Durability" and docs/ARCHITECTURE.md.
 */
#include "store/store-private.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sha256.h"
#include "mail/mime-cache.h"
#include "mail/mime.h"

struct store_blob_writer {
	struct store *store;
	int fd;			/* -1 while the content fits in mem */
	char *tmp_path;
	EVP_MD_CTX *md;
	uint64_t size;
	uint8_t *mem;		/* content so far, while fd is -1 */
	size_t mem_cap;
	/* the MIME structure, parsed as the octets pass */
	struct mime_parser *mime;
};

static enum store_result
errno_result(int err)
{
	/* A missing file is a broken reference, not something to retry; all
	 * other I/O errors (ENOSPC, EIO, EMFILE...) may go away. */
	return err == ENOENT ? STORE_E_NOT_FOUND : STORE_E_TEMP;
}

enum store_result
store_open_result(int err)
{
	/* Only the admin can cure these: a restart would fail alike. */
	return err == EACCES || err == EPERM || err == EROFS ?
		STORE_E_INVALID : STORE_E_TEMP;
}

static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	if (ret < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	return 0;
}

/* Creates dir if missing; when it was created, fsyncs its parent so the
 * new entry survives a crash. */
static int
mkdir_durable(const char *dir, const char *parent)
{
	if (mkdir(dir, 0750) == 0)
		return fsync_dir(parent);
	return errno == EEXIST ? 0 : -1;
}

bool
store_blob_id_is_valid(const char *id)
{
	size_t i;

	if (id == NULL)
		return false;
	for (i = 0; id[i] != '\0'; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	return i == STORE_BLOB_ID_LEN;
}

/* A temp file this old belongs to a writer that died (kill -9, crash):
 * writers live for one message, so a day leaves a wide margin for other
 * processes that share data_dir and are still writing. */
#define BLOB_TMP_MAX_AGE_S (24 * 3600)

static void
tmp_cleanup(const char *tmp_dir)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *de;
	time_t limit = time(NULL) - BLOB_TMP_MAX_AGE_S;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_mtime < limit)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

enum store_result
store_blob_init(struct store *store, const char *data_dir,
		const char **error_r)
{
	char *parent, *slash;

	pthread_mutex_init(&store->blob_lock, NULL);
	parent = xstrdup(data_dir);
	slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent)
		*slash = '\0';
	else if (slash == parent)
		parent[1] = '\0';
	else {
		free(parent);
		parent = xstrdup(".");
	}
	if (mkdir_durable(data_dir, parent) < 0) {
		int err = errno;
		free(parent);
		return store_error(error_r, store_open_result(err),
				   "cannot create %s: %s", data_dir,
				   strerror(err));
	}
	free(parent);
	store->blob_dir = xasprintf("%s/blobs", data_dir);
	store->blob_tmp_dir = xasprintf("%s/blobs/tmp", data_dir);
	if (mkdir_durable(store->blob_dir, data_dir) < 0 ||
	    mkdir_durable(store->blob_tmp_dir, store->blob_dir) < 0)
		return store_error(error_r, store_open_result(errno),
				   "cannot create %s: %s", store->blob_dir,
				   strerror(errno));
	/* Existing but someone else's (made by hand as root): every large
	 * message would fail with 451 until it is fixed. */
	if (access(store->blob_tmp_dir, W_OK) < 0)
		return store_error(error_r, store_open_result(errno),
				   "%s is not writable by uid %u: %s; give "
				   "data_dir to Herald's user (chown -R)",
				   store->blob_tmp_dir, (unsigned)geteuid(),
				   strerror(errno));
	tmp_cleanup(store->blob_tmp_dir);
	return STORE_OK;
}

const char *
store_tmp_dir(const struct store *store)
{
	return store->blob_tmp_dir;
}

void
store_blob_deinit(struct store *store)
{
	/* The writer has drained its queue, so every pending blob's done
	 * callback has run and the list is empty. */
	assert(store->pending_blobs == NULL);
	free(store->blob_dir);
	free(store->blob_tmp_dir);
	store->blob_dir = store->blob_tmp_dir = NULL;
	pthread_mutex_destroy(&store->blob_lock);
}

/* ---- pending small blobs ---- */

static void
pending_done(struct store *store, void *ctx, enum store_result result,
	     const char *error)
{
	struct store_pending_blob *pb = ctx, **pp;

	if (result != STORE_OK)
		log_warn(NULL, "store", "blob-insert-failed",
			 "blob=%s result=%s error=\"%s\"", pb->id,
			 store_result_str(result), error != NULL ? error : "");
	pthread_mutex_lock(&store->blob_lock);
	for (pp = &store->pending_blobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == pb) {
			*pp = pb->next;
			break;
		}
	}
	pthread_mutex_unlock(&store->blob_lock);
	free(pb->data);
	free(pb->mime);
	free(pb);
}

/* Takes ownership of data and of mime's octets (its MIME structure
 * record, inserted in the same operation). The insert is queued before
 * our caller can queue anything that references the id, so it commits
 * first or in the same transaction (store-commit.c keeps queue order). */
static enum store_result
pending_add(struct store *store, const char *id, uint8_t *data, size_t len,
	    struct buf *mime, const char **error_r)
{
	struct store_pending_blob *pb = xcalloc(1, sizeof(*pb));
	enum store_result r;

	memcpy(pb->id, id, sizeof(pb->id));
	pb->data = data;
	pb->len = len;
	pb->mime_len = mime->len;
	/* none (a queued body): no record row either */
	pb->mime = mime->len > 0 ? (uint8_t *)buf_steal(mime) : NULL;
	pthread_mutex_lock(&store->blob_lock);
	pb->next = store->pending_blobs;
	store->pending_blobs = pb;
	pthread_mutex_unlock(&store->blob_lock);
	r = store_commit_queue(store, store->ops->blob_insert, pb,
			       pending_done, error_r);
	if (r != STORE_OK)
		pending_done(store, pb, r, "store is closing");
	return r;
}

/* A copy of a pending blob's content (NUL-terminated), or NULL. */
static uint8_t *
pending_copy(struct store *store, const char *id, size_t *len_r)
{
	struct store_pending_blob *pb;
	uint8_t *copy = NULL;

	pthread_mutex_lock(&store->blob_lock);
	for (pb = store->pending_blobs; pb != NULL; pb = pb->next) {
		if (strcmp(pb->id, id) == 0) {
			/* UNSAFE: len + 1 cannot wrap, len is at most
			 * STORE_BLOB_INLINE_MAX. */
			copy = xmalloc(pb->len + 1);
			memcpy(copy, pb->data, pb->len);
			copy[pb->len] = '\0';
			*len_r = pb->len;
			break;
		}
	}
	pthread_mutex_unlock(&store->blob_lock);
	return copy;
}

static bool
blob_pending_exists(struct store *store, const char *id)
{
	struct store_pending_blob *pb;
	bool found = false;

	pthread_mutex_lock(&store->blob_lock);
	for (pb = store->pending_blobs; pb != NULL && !found; pb = pb->next)
		found = strcmp(pb->id, id) == 0;
	pthread_mutex_unlock(&store->blob_lock);
	return found;
}

static enum store_result
run_noop(struct store *store, void *ctx, const char **error_r)
{
	(void)store; (void)ctx; (void)error_r;
	return STORE_OK;
}

enum store_result
store_blob_sync(struct store *store, const char **error_r)
{
	bool pending;

	pthread_mutex_lock(&store->blob_lock);
	pending = store->pending_blobs != NULL;
	pthread_mutex_unlock(&store->blob_lock);
	/* Queued behind every pending insert: when it returns they are
	 * committed (or failed, and then gone). */
	return pending ? store_commit_run(store, run_noop, NULL, error_r) :
		STORE_OK;
}

static enum store_result
writer_open_file(struct store_blob_writer *w, const char **error_r)
{
	w->tmp_path = xasprintf("%s/XXXXXX", w->store->blob_tmp_dir);
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		int err = errno;
		free(w->tmp_path);
		w->tmp_path = NULL;
		return store_error(error_r, STORE_E_TEMP,
				   "cannot create a blob temp file: %s",
				   strerror(err));
	}
	return STORE_OK;
}

static enum store_result
write_all(int fd, const uint8_t *p, size_t left, const char **error_r)
{
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return store_error(error_r, STORE_E_TEMP,
					   "blob write failed: %s",
					   strerror(errno));
		}
		p += n;
		left -= (size_t)n;
	}
	return STORE_OK;
}

enum store_result
store_blob_writer_new(struct store *store, struct store_blob_writer **w_r,
		      const char **error_r)
{
	struct store_blob_writer *w;

	(void)error_r;
	w = xcalloc(1, sizeof(*w));
	w->store = store;
	w->fd = -1;
	w->md = EVP_MD_CTX_new();
	if (w->md == NULL || EVP_DigestInit_ex(w->md, sha256_md(), NULL) != 1)
		panic("store: SHA-256 unavailable");
	w->mime = mime_parser_new(NULL);
	*w_r = w;
	return STORE_OK;
}

enum store_result
store_blob_writer_write(struct store_blob_writer *w, const void *data,
			size_t len, const char **error_r)
{
	enum store_result r;

	if (w->fd < 0 && len <= STORE_BLOB_INLINE_MAX - w->size) {
		/* Still small: keep it in memory for the database. */
		if (w->size + len > w->mem_cap) {
			size_t cap = w->mem_cap == 0 ? 8192 : w->mem_cap;

			while (cap < w->size + len)
				cap *= 2;
			w->mem = xrealloc(w->mem, cap);
			w->mem_cap = cap;
		}
		if (len > 0)
			memcpy(w->mem + w->size, data, len);
	} else {
		if (w->fd < 0) {
			/* Too big for the database: spill to a file. */
			r = writer_open_file(w, error_r);
			if (r == STORE_OK)
				r = write_all(w->fd, w->mem, w->size, error_r);
			if (r != STORE_OK)
				return r;
			free(w->mem);
			w->mem = NULL;
			w->mem_cap = 0;
		}
		r = write_all(w->fd, data, len, error_r);
		if (r != STORE_OK)
			return r;
	}
	if (EVP_DigestUpdate(w->md, data, len) != 1)
		panic("store: SHA-256 update failed");
	mime_parser_feed(w->mime, data, len);
	w->size += len;
	return STORE_OK;
}

void
store_blob_writer_abort(struct store_blob_writer **wp)
{
	struct store_blob_writer *w = *wp;

	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path != NULL) {
		unlink(w->tmp_path);
		free(w->tmp_path);
	}
	EVP_MD_CTX_free(w->md);
	if (w->mime != NULL) {
		struct mime_part *root = mime_parser_finish(&w->mime);

		mime_part_free(&root);
	}
	free(w->mem);
	free(w);
	*wp = NULL;
}

static void
blob_paths(struct store *store, const char *id, char **dir_r, char **path_r)
{
	*dir_r = xasprintf("%s/%.2s", store->blob_dir, id);
	*path_r = xasprintf("%s/%.2s/%s", store->blob_dir, id, id);
}

static void
hex_id(const uint8_t digest[32], char id_r[STORE_BLOB_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < 32; i++) {
		id_r[2 * i] = hex[digest[i] >> 4];
		id_r[2 * i + 1] = hex[digest[i] & 15];
	}
	id_r[STORE_BLOB_ID_LEN] = '\0';
}

enum store_result
store_blob_writer_finish(struct store_blob_writer **wp,
			 char id_r[STORE_BLOB_ID_LEN + 1], uint64_t *size_r,
			 const char **error_r)
{
	struct store_blob_writer *w = *wp;
	struct store *store = w->store;
	uint8_t digest[32];
	unsigned int dlen = 0;
	char *dir, *path;
	enum store_result r = STORE_OK;
	struct mime_part *root;
	struct buf mime;
	int err;

	if (EVP_DigestFinal_ex(w->md, digest, &dlen) != 1 || dlen != 32)
		panic("store: SHA-256 final failed");
	hex_id(digest, id_r);
	if (size_r != NULL)
		*size_r = w->size;
	root = mime_parser_finish(&w->mime);
	buf_init(&mime);

	if (w->fd < 0) {
		/* Small: into the database with the next group commit. */
		uint8_t *mem = w->mem;

		if (mem == NULL)
			mem = xmalloc(1);
		w->mem = NULL;
		mime_cache_write_mem(&mime, root, mem, (size_t)w->size);
		mime_part_free(&root);
		r = pending_add(store, id_r, mem, (size_t)w->size, &mime,
				error_r);
		buf_deinit(&mime);
		store_blob_writer_abort(wp);
		return r;
	}
	/* the envelope headers are read back from the file; a failure
	 * leaves the record to the first FETCH */
	if (store_mime_record_fd(w->fd, root, w->size, &mime) < 0)
		buf_reset(&mime);
	mime_part_free(&root);
	if (fsync(w->fd) < 0) {
		err = errno;
		buf_deinit(&mime);
		store_blob_writer_abort(wp);
		return store_error(error_r, STORE_E_TEMP,
				   "blob fsync failed: %s", strerror(err));
	}
	if (close(w->fd) < 0) {
		err = errno;
		w->fd = -1;
		buf_deinit(&mime);
		store_blob_writer_abort(wp);
		return store_error(error_r, STORE_E_TEMP,
				   "blob close failed: %s", strerror(err));
	}
	w->fd = -1;

	blob_paths(store, id_r, &dir, &path);
	if (mkdir_durable(dir, store->blob_dir) < 0) {
		r = store_error(error_r, STORE_E_TEMP, "cannot create %s: %s",
				dir, strerror(errno));
	} else if (link(w->tmp_path, path) < 0 && errno != EEXIST) {
		/* link() refuses to replace, so existing content (same
		 * hash) is never rewritten; rename() is the fallback for
		 * filesystems without hard links. */
		if (rename(w->tmp_path, path) < 0)
			r = store_error(error_r, STORE_E_TEMP,
					"cannot store blob %s: %s", id_r,
					strerror(errno));
	}
	/* Also after EEXIST: another process may have linked the file but
	 * not yet synced the directory, and our caller is about to commit a
	 * reference to it. */
	if (r == STORE_OK && fsync_dir(dir) < 0)
		r = store_error(error_r, STORE_E_TEMP,
				"cannot sync %s: %s", dir, strerror(errno));
	free(dir);
	free(path);
	/* after the file is durable, so a record never names a blob that
	 * a crash lost (content-addressed: same octets, same record) */
	if (r == STORE_OK && mime.len > 0)
		store_mime_queue(store, id_r, mime.data, mime.len);
	buf_deinit(&mime);
	store_blob_writer_abort(wp);
	return r;
}

/* A small blob goes to the pending list (and its MIME record with it
 * when mime is set); a larger one through a writer, whose file always
 * gets its record. */
static enum store_result
blob_put(struct store *store, const void *data, size_t len, bool mime_record,
	 char id_r[STORE_BLOB_ID_LEN + 1], const char **error_r)
{
	struct store_blob_writer *w;
	struct mime_part *root;
	struct buf mime;
	enum store_result r;

	if (len <= STORE_BLOB_INLINE_MAX) {
		uint8_t digest[32];
		unsigned int dlen = 0;
		uint8_t *copy = xmalloc(len + 1);

		if (EVP_Digest(data, len, digest, &dlen, sha256_md(),
			       NULL) != 1 || dlen != 32)
			panic("store: SHA-256 failed");
		hex_id(digest, id_r);
		if (len > 0)
			memcpy(copy, data, len);
		buf_init(&mime);
		if (mime_record) {
			root = mime_parse(data, len, NULL);
			mime_cache_write_mem(&mime, root, data, len);
			mime_part_free(&root);
		}
		r = pending_add(store, id_r, copy, len, &mime, error_r);
		buf_deinit(&mime);
		return r;
	}
	r = store_blob_writer_new(store, &w, error_r);
	if (r != STORE_OK)
		return r;
	r = store_blob_writer_write(w, data, len, error_r);
	if (r != STORE_OK) {
		store_blob_writer_abort(&w);
		return r;
	}
	return store_blob_writer_finish(&w, id_r, NULL, error_r);
}

enum store_result
store_blob_put(struct store *store, const void *data, size_t len,
	       char id_r[STORE_BLOB_ID_LEN + 1], const char **error_r)
{
	return blob_put(store, data, len, true, id_r, error_r);
}

enum store_result
store_blob_put_queued(struct store *store, const void *data, size_t len,
		      char id_r[STORE_BLOB_ID_LEN + 1], const char **error_r)
{
	return blob_put(store, data, len, false, id_r, error_r);
}

/* The blob's file, opened into *fd_r (-1 when it fails). STORE_E_NOT_FOUND
 * (no message: the callers look elsewhere next) when there is none. */
static enum store_result
blob_open_file(struct store *store, const char *id, int *fd_r,
	       const char **error_r)
{
	char *dir, *path;
	int fd, err;
	enum store_result r;

	blob_paths(store, id, &dir, &path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	err = errno;
	free(dir);
	free(path);
	*fd_r = fd;
	if (fd >= 0)
		return STORE_OK;
	r = errno_result(err);
	if (r == STORE_E_NOT_FOUND)
		return r;
	return store_error(error_r, r, "cannot open blob %s: %s", id,
			   strerror(err));
}

/* A small blob: pending (not yet committed) or in the database. */
static enum store_result
blob_read_small(struct store *store, const char *id, uint8_t **data_r,
		size_t *len_r, const char **error_r)
{
	/* Pending first: an entry leaves the list only after its commit, so
	 * a blob missed here is in the database by the time we look. */
	*data_r = pending_copy(store, id, len_r);
	if (*data_r != NULL)
		return STORE_OK;
	return store->ops->blob_read(store, id, data_r, len_r, error_r);
}

/* Callers want a file descriptor (sendfile, mmap-free streaming): an
 * anonymous memory file with the content of a blob kept in memory. */
static enum store_result
blob_memfd(const char *id, const uint8_t *data, size_t len, int *fd_r,
	   const char **error_r)
{
	int fd = memfd_create("herald-blob", MFD_CLOEXEC), err;

	if (fd < 0 || write_all(fd, data, len, error_r) != STORE_OK ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		return store_error(error_r, STORE_E_TEMP,
				   "cannot open blob %s: %s", id,
				   strerror(err));
	}
	*fd_r = fd;
	return STORE_OK;
}

enum store_result
store_blob_open(struct store *store, const char *id, int *fd_r,
		const char **error_r)
{
	uint8_t *data;
	size_t len;
	enum store_result r;

	*fd_r = -1;
	if (!store_blob_id_is_valid(id))
		return store_error(error_r, STORE_E_INVALID, "bad blob id");
	r = blob_open_file(store, id, fd_r, error_r);
	if (r != STORE_E_NOT_FOUND)
		return r;
	r = blob_read_small(store, id, &data, &len, error_r);
	if (r != STORE_OK)
		return r;
	r = blob_memfd(id, data, len, fd_r, error_r);
	free(data);
	return r;
}

/* ---- a run of reads ---- */

struct store_blob_reader {
	struct store *store;
	void *batch;		/* the backend's, from the first get on */
	uint8_t *copy;		/* a pending blob, until the next get */
};

struct store_blob_reader *
store_blob_reader_new(struct store *store)
{
	struct store_blob_reader *r = xcalloc(1, sizeof(*r));

	r->store = store;
	return r;
}

static enum store_result
reader_db_get(struct store_blob_reader *r, const char *id,
	      const uint8_t **data_r, size_t *len_r, const char **error_r)
{
	enum store_result res;

	if (r->batch == NULL) {
		res = r->store->ops->blob_batch_begin(r->store, &r->batch,
						      error_r);
		if (res != STORE_OK)
			return res;
	}
	return r->store->ops->blob_batch_get(r->batch, id, data_r, len_r,
					     error_r);
}

enum store_result
store_blob_reader_get(struct store_blob_reader *r, const char *id,
		      uint64_t size, const uint8_t **data_r, size_t *len_r,
		      int *fd_r, const char **error_r)
{
	struct store *store = r->store;
	enum store_result res;

	*data_r = NULL;
	*len_r = 0;
	*fd_r = -1;
	xfree(&r->copy);
	if (!store_blob_id_is_valid(id))
		return store_error(error_r, STORE_E_INVALID, "bad blob id");
	/* A large blob is a file: look there first. */
	if (size > STORE_BLOB_INLINE_MAX) {
		res = blob_open_file(store, id, fd_r, error_r);
		if (res != STORE_E_NOT_FOUND)
			return res;
	}
	res = reader_db_get(r, id, data_r, len_r, error_r);
	if (res != STORE_E_NOT_FOUND)
		return res;
	/* Not in our snapshot: pending through this handle, or committed
	 * since the snapshot was taken (a pending entry leaves the list only
	 * after its commit, so looking again after it finds it). */
	r->copy = pending_copy(store, id, len_r);
	if (r->copy != NULL) {
		*data_r = r->copy;
		return STORE_OK;
	}
	store->ops->blob_batch_refresh(r->batch);
	res = reader_db_get(r, id, data_r, len_r, error_r);
	if (res != STORE_E_NOT_FOUND || size > STORE_BLOB_INLINE_MAX)
		return res;
	/* A small blob written as a file (before bodies moved into the
	 * database) */
	res = blob_open_file(store, id, fd_r, error_r);
	if (res != STORE_E_NOT_FOUND)
		return res;
	return store_error(error_r, STORE_E_NOT_FOUND,
			   "blob %s does not exist", id);
}

enum store_result
store_blob_reader_open(struct store_blob_reader *r, const char *id,
		       uint64_t size, int *fd_r, const char **error_r)
{
	const uint8_t *data;
	size_t len;
	enum store_result res = store_blob_reader_get(r, id, size, &data,
						      &len, fd_r, error_r);

	if (res != STORE_OK || *fd_r >= 0)
		return res;
	return blob_memfd(id, data, len, fd_r, error_r);
}

enum store_result
store_blob_reader_mime(struct store_blob_reader *r, const char *id,
		       uint64_t size, struct mime_cache **cache_r,
		       const char **error_r)
{
	const struct store_backend_ops *ops = r->store->ops;
	uint8_t *data = NULL;
	size_t len = 0;
	const char *why;
	enum store_result res;

	*cache_r = NULL;
	if (!store_blob_id_is_valid(id))
		return store_error(error_r, STORE_E_INVALID, "not a blob id");
	if (ops->blob_batch_mime_get != NULL) {
		if (r->batch == NULL) {
			res = ops->blob_batch_begin(r->store, &r->batch,
						    error_r);
			if (res != STORE_OK)
				return res;
		}
		res = ops->blob_batch_mime_get(r->batch, id, &data, &len,
					       error_r);
		if (res == STORE_OK &&
		    mime_cache_read(data, len, size, cache_r, &why) == 0) {
			free(data);
			return STORE_OK;
		}
		free(data);
		if (res != STORE_OK && res != STORE_E_NOT_FOUND)
			return res;
	}
	/* none in this snapshot, or one that does not read: made again
	 * (and the damage logged) there */
	return store_mime_get(r->store, id, size, cache_r, error_r);
}

void
store_blob_reader_free(struct store_blob_reader **rp)
{
	struct store_blob_reader *r = *rp;

	if (r == NULL)
		return;
	if (r->batch != NULL)
		r->store->ops->blob_batch_end(r->batch);
	free(r->copy);
	free(r);
	*rp = NULL;
}

bool
store_blob_file_remove(struct store *store, const char *id, uint64_t *size_r)
{
	char *dir, *path;
	struct stat st;
	bool removed = false;

	blob_paths(store, id, &dir, &path);
	/* No directory fsync: a removal lost in a crash leaves a file
	 * nothing names, which is space, not a missing message. */
	if (stat(path, &st) == 0 && unlink(path) == 0) {
		*size_r = (uint64_t)st.st_size;
		removed = true;
	}
	free(dir);
	free(path);
	return removed;
}

bool
store_blob_file_exists(struct store *store, const char *id)
{
	char *dir, *path;
	bool exists;

	blob_paths(store, id, &dir, &path);
	exists = access(path, F_OK) == 0;
	free(dir);
	free(path);
	return exists;
}

bool
store_blob_exists(struct store *store, const char *id)
{
	uint8_t *data = NULL;
	size_t len;

	if (!store_blob_id_is_valid(id))
		return false;
	if (store_blob_file_exists(store, id) ||
	    blob_pending_exists(store, id))
		return true;
	if (store->ops->blob_read(store, id, &data, &len, NULL) != STORE_OK)
		return false;
	free(data);
	return true;
}

enum store_result
store_blob_read(struct store *store, const char *id, uint8_t **data_r,
		size_t *len_r, const char **error_r)
{
	struct stat st;
	uint8_t *data;
	size_t got = 0, size;
	int fd, err;
	enum store_result r;

	*data_r = NULL;
	*len_r = 0;
	if (!store_blob_id_is_valid(id))
		return store_error(error_r, STORE_E_INVALID, "bad blob id");
	r = blob_open_file(store, id, &fd, error_r);
	if (r == STORE_E_NOT_FOUND)
		return blob_read_small(store, id, data_r, len_r, error_r);
	if (r != STORE_OK)
		return r;
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		return store_error(error_r, STORE_E_TEMP, "cannot stat blob: %s",
				   strerror(err));
	}
	size = (size_t)st.st_size;
	/* UNSAFE: size + 1 cannot wrap, st_size is far below SIZE_MAX. */
	data = xmalloc(size + 1);
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			close(fd);
			free(data);
			return store_error(error_r, STORE_E_TEMP,
					   "cannot read blob %s: %s", id,
					   strerror(err));
		}
		got += (size_t)n;
	}
	close(fd);
	data[size] = '\0';
	*data_r = data;
	*len_r = size;
	return STORE_OK;
}
